//! `examples/custom_cost_model.rs`, run as a test: a custom `CostModel` plugs into the search
//! through the public API and changes its answer.

#[path = "../../../examples/custom_cost_model.rs"]
mod example;

#[test]
fn custom_cost_model_example_runs_and_changes_the_search() {
    example::main().unwrap();
    let (fast, slow) = example::run().unwrap();
    assert!(
        fast.cost_model.starts_with("roofline"),
        "{}",
        fast.cost_model
    );
    assert_eq!(slow.cost_model, "roofline-collectives-x20");
    // The same plan space; the DP-split variants follow each cost model's stage times.
    assert_eq!(fast.plans_feasible, slow.plans_feasible);
    for r in [&fast, &slow] {
        // Bound pruning skips plans that cannot reach the top ten.
        let bound = r.plans_pruned.get("bound").copied().unwrap_or(0);
        assert_eq!(r.plans_simulated + bound, r.plans_feasible + r.plans_uneven);
    }
    // The same plan costs more with slow collectives, by its communication time per
    // iteration (the batches themselves differ once iterations get slower, so compare per
    // iteration; the factor is 20 per collective).
    let plan = &fast.best.as_ref().unwrap().plan;
    let same = slow.ranked.iter().find(|r| &r.plan == plan).unwrap();
    let comm = |m: &parallax::sim::Metrics| {
        m.breakdown_s.get("communication").copied().unwrap() / m.iterations as f64
    };
    let fast_best = fast.best.as_ref().unwrap();
    let (slow_comm, fast_comm) = (comm(&same.metrics), comm(&fast_best.metrics));
    assert!(
        slow_comm > 10.0 * fast_comm,
        "{slow_comm} vs {fast_comm} s per iteration"
    );
    assert!(same.metrics.e2e_s.mean > fast_best.metrics.e2e_s.mean);
    // With slow collectives the best plan uses less tensor parallelism.
    let slow_best = slow.best.as_ref().unwrap();
    let tp = |p: &parallax::plan::Plan| p.attn.tp.max(p.mlp.tp);
    assert!(
        tp(&slow_best.plan) < tp(plan),
        "{} vs {}",
        slow_best.plan,
        plan
    );
}
