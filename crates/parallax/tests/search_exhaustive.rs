//! On small cases the search's best plan is the best of simulating every enumerated plan one
//! by one through `simulate_plan`, for several objectives.

use parallax::hw::Cluster;
use parallax::plan::{enumerate, Constraints, LowerOptions, MemoryOptions};
use parallax::search::SteadyState;
use parallax::sim::{SchedulerConfig, SimConfig, Slo, Workload};
use parallax::{Objective, Search, SearchReport};
use std::sync::Arc;

fn setup() -> (parallax::ir::Model, Cluster, Workload) {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(4.0), Some(96)).unwrap();
    (model, cluster, workload)
}

/// (plan string, metrics, objective value) of every enumerated plan, simulated one by one.
fn one_by_one(
    model: &parallax::ir::Model,
    cluster: &Cluster,
    workload: &Workload,
    objective: Objective,
    slo: Slo,
) -> Vec<(String, parallax::sim::Metrics, f64, bool)> {
    let cost = parallax::cost_model(cluster, parallax::CostModelChoice::Auto).unwrap();
    let required = parallax::largest_request_tokens(workload);
    let sched = SchedulerConfig::default();
    let memory = MemoryOptions {
        max_num_batched_tokens: sched.max_num_batched_tokens,
        max_num_seqs: sched.max_num_seqs,
        ..MemoryOptions::default()
    };
    let e = enumerate(
        model,
        cluster,
        &Constraints {
            required_kv_tokens: required,
            memory,
            ..Constraints::default()
        },
    )
    .unwrap();
    assert!(e.plans.len() >= 4, "a small case with several plans");
    // The search adds the DP-split variants of pipelined plans: simulate them too.
    let mix = parallax::search::split::batch_mix(
        workload,
        sched.max_num_batched_tokens,
        sched.max_num_seqs.min(64),
    );
    let uneven = parallax::search::split::uneven_plans(
        model,
        cluster,
        &cost,
        &LowerOptions {
            memory,
            required_kv_tokens: required,
            ..LowerOptions::default()
        },
        &mix,
        &e.plans,
    );
    let plans: Vec<parallax::Plan> = e.plans.iter().cloned().chain(uneven).collect();
    let config = SimConfig {
        scheduler: sched,
        slo,
        ..SimConfig::default()
    };
    let lower = LowerOptions {
        memory,
        required_kv_tokens: required,
        ..LowerOptions::default()
    };
    // Goodput is measured at steady state: the search's stream at the workload's own rate.
    let steady = SteadyState::default();
    let stream = steady
        .stream(workload)
        .unwrap()
        .with_rate(workload.mean_rate().unwrap())
        .unwrap();
    plans
        .iter()
        .map(|p| {
            let input = if objective == Objective::Goodput {
                &stream
            } else {
                workload
            };
            let r = parallax::simulate_plan(
                model,
                cluster,
                p,
                Arc::clone(&cost),
                input,
                &config,
                &lower,
            )
            .unwrap();
            if objective == Objective::Goodput {
                let w = steady.window(&stream, &r, slo);
                let meets = w.sustains(&r.metrics, 0.9);
                return (
                    p.to_string(),
                    r.metrics,
                    w.goodput_req_per_s.unwrap(),
                    meets,
                );
            }
            let m = r.metrics;
            let v = objective
                .value(&m, p.devices(), cluster.gpu.price_per_hour)
                .unwrap();
            let meets = m.requests.rejected == 0
                && m.requests.unfinished == 0
                && m.slo.attainment.map_or(true, |a| a >= 0.9);
            (p.to_string(), m, v, meets)
        })
        .collect()
}

fn check(objective: Objective, slo: Slo) -> SearchReport {
    check_with(objective, slo, Some(parallax::search::DEFAULT_EXACT_TOP))
}

/// As `check`, with bound pruning keeping the `exact_top` best plans exact (`None`: off).
fn check_with(objective: Objective, slo: Slo, exact_top: Option<usize>) -> SearchReport {
    let (model, cluster, workload) = setup();
    let all = one_by_one(&model, &cluster, &workload, objective, slo);
    let report = Search::new(model, cluster, workload)
        .objective(objective)
        .slo(slo)
        .exact_top(exact_top)
        .run()
        .unwrap();
    // Every plan simulated, or skipped by bound pruning (energy and goodput: none is).
    let bound = report.plans_pruned.get("bound").copied().unwrap_or(0);
    assert_eq!((report.plans_simulated + bound) as usize, all.len());
    // Best of the one-by-one runs, same ordering rule: meeting plans first, value, e2e mean,
    // plan string.
    let best = all
        .iter()
        .filter(|x| x.3)
        .min_by(|a, b| {
            objective
                .compare(a.2, b.2)
                .then(a.1.e2e_s.mean.total_cmp(&b.1.e2e_s.mean))
                .then(a.0.cmp(&b.0))
        })
        .expect("some plan meets the constraints");
    let got = report.best.as_ref().expect("a best plan");
    assert_eq!(got.plan.to_string(), best.0, "{objective}");
    assert_eq!(got.metrics, best.1, "{objective}: identical metrics");
    assert_eq!(got.objective.to_bits(), best.2.to_bits());
    // Every ranked plan carries exactly the one-by-one metrics.
    for r in &report.ranked {
        let one = all
            .iter()
            .find(|x| x.0 == r.plan.to_string())
            .expect("ranked plan was enumerated");
        assert_eq!(r.metrics, one.1, "{}", r.plan);
    }
    // Ranking is sorted.
    for w in report.ranked.windows(2) {
        assert!(
            (w[0].meets_constraints && !w[1].meets_constraints)
                || (w[0].meets_constraints == w[1].meets_constraints
                    && objective.compare(w[0].objective, w[1].objective).is_le())
        );
    }
    report
}

#[test]
fn best_equals_one_by_one_for_latency_objectives() {
    check(Objective::E2eMean, Slo::default());
    check(Objective::TtftP99, Slo::default());
    check(Objective::TpotMean, Slo::default());
}

#[test]
fn best_equals_one_by_one_for_energy_cost_and_goodput() {
    let slo = Slo {
        ttft_ms: Some(400.0),
        tpot_ms: Some(40.0),
    };
    check(Objective::Energy, Slo::default());
    check(Objective::Cost, Slo::default());
    let r = check(Objective::Goodput, slo);
    assert_eq!(r.objective, Objective::Goodput);
}

#[test]
fn baselines_are_the_plan_crates_and_gain_is_baseline_over_best() {
    // Every plan simulated, so that the baselines' plans are among the ranked ones.
    let r = check_with(Objective::E2eMean, Slo::default(), None);
    let (model, cluster, workload) = setup();
    let req = parallax::largest_request_tokens(&workload);
    let heur =
        parallax::plan::heuristic_plan(&model, &cluster, &MemoryOptions::default(), req).unwrap();
    let maxtp =
        parallax::plan::max_tp_plan(&model, &cluster, &MemoryOptions::default(), req).unwrap();
    let h = r.baseline("heuristic").unwrap();
    let m = r.baseline("max-tp").unwrap();
    assert_eq!(h.plan.as_ref(), Some(&heur));
    assert_eq!(m.plan.as_ref(), Some(&maxtp));
    let best = r.best.as_ref().unwrap().objective;
    // The best evenly split plan: the first of the ranking without a DP split.
    let e = r.baseline("best-even-split").unwrap();
    let first_even = r.ranked.iter().find(|x| x.plan.layers.is_none()).unwrap();
    assert_eq!(e.plan.as_ref(), Some(&first_even.plan));
    assert!(
        r.plans_uneven > 0,
        "llama-3.1-8b on 4 GPUs has DP-split pipelines"
    );
    assert!(r.ranked.iter().any(|x| x.plan.layers.is_some()));
    for b in [h, m, e] {
        let v = b.objective.unwrap();
        assert!(v >= best, "the best is at least as good as {}", b.name);
        let s = b.speedup.unwrap();
        assert!((s - v / best).abs() < 1e-12);
        assert!(s >= 1.0);
        let ranked = r.ranked.iter().find(|x| Some(&x.plan) == b.plan.as_ref());
        assert_eq!(ranked.map(|x| &x.metrics), b.metrics.as_ref());
    }
}
