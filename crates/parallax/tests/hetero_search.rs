//! Search and simulation on a heterogeneous cluster (1×8 H100 + 1×8 A100-80GB).

use parallax::hw::Cluster;
use parallax::plan::hetero::stage_groups;
use parallax::{Plan, Search, Simulation};
use std::collections::BTreeSet;

fn kinds(p: &Plan, c: &Cluster) -> BTreeSet<usize> {
    stage_groups(p, c).unwrap().into_iter().flatten().collect()
}

#[test]
fn search_on_a_mixed_cluster_uses_both_kinds_when_better() {
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100+1x8xA100-80GB").unwrap();
    // At 20 req/s one 8×H100 node queues; adding the A100 node helps. (At the trace's own
    // 0.2 req/s the H100 node alone is best: the search then returns it.)
    let workload = parallax::load_workload("chat", Some(20.0), Some(300)).unwrap();
    let report = Search::new(model.clone(), cluster.clone(), workload.clone())
        .run()
        .unwrap();
    let best = report.best.as_ref().expect("a feasible plan");
    assert_eq!(kinds(&best.plan, &cluster).len(), 2, "best: {}", best.plan);
    // Single-kind plans were simulated too, and rank below.
    let single = report
        .ranked
        .iter()
        .find(|r| kinds(&r.plan, &cluster).len() == 1 && r.meets_constraints)
        .expect("a single-kind plan");
    assert!(best.objective < single.objective);
    // Every family is present: each kind alone, mixed replicas, a two-kind pipeline.
    let names: Vec<String> = report.ranked.iter().map(|r| r.plan.to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("on=H100-SXM")));
    assert!(names.iter().any(|n| n.ends_with("on=A100-80GB-SXM")));
    assert!(names.iter().any(|n| n.contains("/")), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.contains("on=H100-SXM+A100-80GB-SXM")),
        "{names:?}"
    );
    // The printed plan simulates back to the same metrics.
    let again: Plan = best.plan.to_string().parse().unwrap();
    let sim = Simulation::new(&model, &cluster, &again, &workload)
        .run()
        .unwrap();
    assert_eq!(sim.metrics.e2e_s.mean, best.metrics.e2e_s.mean);
    // Baselines run on the first node group.
    assert!(
        report.baselines.iter().all(|b| b.error.is_none()),
        "{:?}",
        report.baselines
    );
}

#[test]
fn a_one_kind_plan_on_a_mixed_cluster_simulates_as_on_that_group_alone() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let mixed = Cluster::parse("1x8xH100+1x4xA100-80GB").unwrap();
    let a100 = mixed.group_cluster(1).unwrap();
    let workload = parallax::load_workload("chat", None, Some(100)).unwrap();
    let on: Plan = "dp=2,tp=2,on=A100-80GB".parse().unwrap();
    let plain: Plan = "dp=2,tp=2".parse().unwrap();
    let a = Simulation::new(&model, &mixed, &on, &workload)
        .run()
        .unwrap();
    let b = Simulation::new(&model, &a100, &plain, &workload)
        .run()
        .unwrap();
    assert_eq!(
        serde_json::to_string(&a.metrics).unwrap(),
        serde_json::to_string(&b.metrics).unwrap()
    );
}

#[test]
fn a_custom_cost_model_on_a_mixed_cluster_is_refused() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x8xH100+1x4xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", None, Some(10)).unwrap();
    let cost = std::sync::Arc::new(parallax::hw::RooflineModel::new(&cluster.gpu));
    let e = Search::new(model, cluster, workload)
        .cost_model(cost)
        .run()
        .unwrap_err()
        .to_string();
    assert!(e.contains("one per GPU kind"), "{e}");
}

#[test]
fn at_low_load_the_faster_kind_alone_wins() {
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100+1x8xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", None, Some(300)).unwrap();
    let report = Search::new(model, cluster.clone(), workload).run().unwrap();
    let best = report.best.expect("a feasible plan");
    assert_eq!(best.plan.to_string(), "dp=1,pp=1,tp=8,on=H100-SXM");
}

#[test]
fn a_plan_on_two_kinds_has_no_single_launch_command() {
    use parallax::emit::{emit, EmitError, EmitRequest, Engine};
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100+1x8xA100-80GB").unwrap();
    let plan: Plan = "dp=2,tp=8,on=H100/A100-80GB".parse().unwrap();
    let req = EmitRequest::new(&model, "x", &cluster, &plan, Default::default());
    match emit(Engine::Vllm, &req) {
        Err(EmitError::Unsupported { reason, .. }) => {
            assert!(
                reason.contains("H100-SXM, A100-80GB-SXM")
                    || reason.contains("A100-80GB-SXM, H100-SXM"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// On a mixed cluster a plan's cost is read at its own GPU kinds' prices everywhere: the
/// value a Pareto front reads after the search is each plan's `cost_per_mtok`, not one at
/// the report's first-group `price_per_gpu_hour`.
#[test]
fn pareto_costs_use_each_plans_own_price_on_a_mixed_cluster() {
    use parallax::Objective;
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100+1x4xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", Some(4.0), Some(40)).unwrap();
    let report = Search::new(model, cluster, workload)
        .pareto(Objective::E2eMean, Objective::Cost)
        .run()
        .unwrap();
    let a100 = report
        .ranked
        .iter()
        .find(|r| r.plan.to_string().contains("on=A100"))
        .expect("an A100-only plan is ranked");
    let v = a100
        .value_of(
            Objective::Cost,
            Objective::E2eMean,
            report.price_per_gpu_hour,
        )
        .unwrap();
    assert_eq!(v, a100.cost_per_mtok);
    let at_first_group = Objective::Cost
        .value(&a100.metrics, a100.gpus, report.price_per_gpu_hour)
        .unwrap();
    assert!(v < at_first_group, "{v} vs {at_first_group}");
    let front = report.pareto(Objective::E2eMean, Objective::Cost).unwrap();
    for p in &front.points {
        let r = report.ranked.iter().find(|r| r.plan == p.plan).unwrap();
        assert_eq!(p.b, r.cost_per_mtok, "{}", p.plan);
    }
}
