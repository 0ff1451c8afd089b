//! Disaggregated deployments in the search: candidates, their simulations, the comparison with
//! the best aggregated plan, the mode switch and determinism.

use parallax::hw::Cluster;
use parallax::plan::{lower_plan, LowerOptions};
use parallax::search::{DisaggMode, Winner};
use parallax::sim::{SimConfig, Slo};
use parallax::{Objective, Search, SearchConstraints};
use std::sync::Arc;

fn search(cluster: &str, n: usize, rate: f64) -> Search {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse(cluster).unwrap();
    let workload = parallax::load_workload("summarization", Some(rate), Some(n)).unwrap();
    Search::new(model, cluster, workload)
}

#[test]
fn candidates_are_simulated_as_simulate_does_and_compared_with_the_best_aggregated_plan() {
    let slo = Slo {
        ttft_ms: Some(1000.0),
        tpot_ms: Some(40.0),
    };
    let s = search("1x4xH100", 48, 4.0).slo(slo);
    let r = s.run().unwrap();
    let d = r.disaggregation.as_ref().expect("auto is on with 4 GPUs");
    // Instance sizes 1 and 2 (4 is the whole node, leaving no GPU for the other pool):
    // xPyD splits (1,1): 3; (1,2), (2,1), (2,2): 1 each.
    assert_eq!(d.candidates, 6, "{:?}", d.pool_plans);
    assert_eq!(d.simulated, 6);
    assert_eq!(d.ranked.len(), 6);
    for p in &d.pool_plans {
        assert_eq!(p.plan.dp, 1);
        assert_eq!(p.plan.devices(), p.gpus);
        assert!(p.score_ms > 0.0 && p.feasible >= 1);
    }
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("summarization", Some(4.0), Some(48)).unwrap();
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto).unwrap();
    // The search runs without an engine here: plain lowering, no host time.
    for c in &d.ranked {
        assert_eq!(c.gpus, 4, "every GPU is used: {}", c.plan);
        assert_eq!(c.prefill_gpus + c.decode_gpus, 4);
        // The same simulation as `simulate --plan 'prefill=…;decode=…'`.
        let again = parallax::simulate_disaggregated(
            &model,
            &cluster,
            &c.plan,
            Arc::clone(&cost),
            &workload,
            &SimConfig {
                slo,
                ..SimConfig::default()
            },
            &LowerOptions {
                required_kv_tokens: 0,
                ..LowerOptions::default()
            },
        )
        .unwrap();
        assert_eq!(again.metrics, c.metrics, "{}", c.plan);
        let kv = c.metrics.kv_transfer.as_ref().expect("KV moves");
        assert_eq!(kv.transfers, c.metrics.requests.completed);
        // Every request completes with all its tokens.
        let want: u64 = workload
            .requests
            .iter()
            .map(|q| q.output_tokens as u64)
            .sum();
        assert_eq!(c.metrics.tokens.output, want);
    }
    for w in d.ranked.windows(2) {
        assert!(w[0].meets_constraints >= w[1].meets_constraints);
        if w[0].meets_constraints == w[1].meets_constraints {
            assert!(w[0].objective <= w[1].objective);
        }
    }
    let best = r.best.as_ref().expect("an aggregated plan meets the SLOs");
    let dbest = d
        .best
        .as_ref()
        .expect("a disaggregated deployment meets the SLOs");
    assert_eq!(d.best_aggregated.as_ref(), Some(&best.plan));
    assert_eq!(
        d.gain_over_aggregated,
        Objective::E2eMean.gain(dbest.objective, best.objective)
    );
    let expected = if dbest.objective < best.objective {
        Winner::Disaggregated
    } else {
        Winner::Aggregated
    };
    assert_eq!(d.winner, expected);
    // JSON carries the comparison with its plan strings.
    let v = serde_json::to_value(&r).unwrap();
    let j = &v["disaggregation"];
    assert_eq!(j["winner"], d.winner.name());
    assert_eq!(j["best"]["plan"], dbest.plan.to_string());
    assert!(j["best"]["plan"]
        .as_str()
        .unwrap()
        .parse::<parallax::plan::DisaggPlan>()
        .is_ok());
    assert!(j["ranked"][0]["metrics"]["kv_transfer"]["transfers"].is_u64());
}

#[test]
fn pools_are_pruned_by_what_each_holds() {
    // Every kept decode instance holds the workload's largest request; every kept prefill
    // instance its longest prompt (lowering checks the memory and errs otherwise).
    let r = search("1x4xH100", 32, 2.0)
        .disaggregation(DisaggMode::On)
        .run()
        .unwrap();
    let d = r.disaggregation.unwrap();
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("summarization", Some(2.0), Some(32)).unwrap();
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto).unwrap();
    let prompt = workload
        .requests
        .iter()
        .map(|q| q.prompt_tokens as u64)
        .max()
        .unwrap();
    for p in &d.pool_plans {
        let need = if p.role == "prefill" {
            prompt
        } else {
            parallax::largest_request_tokens(&workload)
        };
        lower_plan(
            &model,
            &p.plan,
            &cluster,
            Arc::clone(&cost),
            &LowerOptions {
                required_kv_tokens: need,
                ..LowerOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{} {}: {e}", p.role, p.plan));
    }
    assert!(d
        .pool_plans
        .iter()
        .any(|p| p.role == "prefill" && p.gpus == 1));
    assert!(d
        .pool_plans
        .iter()
        .any(|p| p.role == "decode" && p.gpus == 2));
}

#[test]
fn the_mode_switches_it_on_and_off() {
    let off = search("1x4xH100", 16, 2.0)
        .disaggregation(DisaggMode::Off)
        .run()
        .unwrap();
    assert!(off.disaggregation.is_none());
    // Auto is off under 4 GPUs, on turns it on (2 GPUs: one per pool).
    let auto2 = search("1x2xH100", 16, 2.0).run().unwrap();
    assert!(auto2.disaggregation.is_none());
    let on2 = search("1x2xH100", 16, 2.0)
        .disaggregation(DisaggMode::On)
        .run()
        .unwrap();
    let d = on2.disaggregation.unwrap();
    assert_eq!(d.candidates, 1, "prefill=1x(tp=1);decode=1x(tp=1)");
    assert_eq!(
        d.ranked[0].plan.to_string(),
        "prefill=1x(dp=1,pp=1,tp=1);decode=1x(dp=1,pp=1,tp=1)"
    );
    // One GPU: no split, and the report says so.
    let on1 = search("1x1xH100", 16, 2.0)
        .disaggregation(DisaggMode::On)
        .run()
        .unwrap();
    let d = on1.disaggregation.unwrap();
    assert_eq!(d.candidates, 0);
    assert_eq!(d.winner, Winner::Aggregated);
    assert!(d.note.unwrap().contains("at least 2 GPUs"));
    // A GPU limit limits the pools too.
    let capped = search("1x4xH100", 16, 2.0)
        .constraints(SearchConstraints {
            max_gpus: Some(2),
            ..SearchConstraints::default()
        })
        .disaggregation(DisaggMode::On)
        .run()
        .unwrap();
    let d = capped.disaggregation.unwrap();
    assert!(d.ranked.iter().all(|c| c.gpus == 2));
}

#[test]
fn throughput_compares_sustained_rates_and_is_deterministic() {
    let slo = Slo {
        ttft_ms: Some(1000.0),
        tpot_ms: Some(50.0),
    };
    let run = || {
        search("1x4xH100", 64, 2.0)
            .objective(Objective::Throughput)
            .slo(slo)
            .steady_state(parallax::search::SteadyState {
                requests: 200,
                ..Default::default()
            })
            .run()
            .unwrap()
    };
    let a = run();
    let d = a.disaggregation.as_ref().unwrap();
    for c in &d.ranked {
        assert!(c.window.is_some());
        if c.meets_constraints {
            assert_eq!(c.rate_req_per_s, Some(c.objective));
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = pool.install(run);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

/// `Simulation::disaggregated` runs a deployment as `simulate_disaggregated` does, under an
/// engine too (the engine's settings adapted to the prefill pool's plan), and on a
/// heterogeneous cluster with one automatic cost model per GPU kind; it has no one-plan
/// memory summary.
#[test]
fn the_simulation_builder_runs_disaggregated_deployments() {
    use parallax::plan::DisaggPlan;
    use parallax::Simulation;
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("summarization", Some(4.0), Some(24)).unwrap();
    let plan: DisaggPlan = "prefill=1x(tp=2);decode=1x(tp=2)".parse().unwrap();
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto).unwrap();
    let direct = parallax::simulate_disaggregated(
        &model,
        &cluster,
        &plan,
        Arc::clone(&cost),
        &workload,
        &SimConfig::default(),
        &LowerOptions::default(),
    )
    .unwrap();
    let built = Simulation::disaggregated(&model, &cluster, &plan, &workload)
        .cost_model(cost)
        .run()
        .unwrap();
    assert_eq!(
        serde_json::to_string(&built.metrics).unwrap(),
        serde_json::to_string(&direct.metrics).unwrap()
    );
    assert!(built.metrics.kv_transfer.is_some());
    let engine = parallax::engine_named("vllm", &model, &cluster, 2).unwrap();
    let under = Simulation::disaggregated(&model, &cluster, &plan, &workload)
        .engine(&engine)
        .run()
        .unwrap();
    assert_eq!(under.metrics.requests.completed, 24);
    let sim = Simulation::disaggregated(&model, &cluster, &plan, &workload);
    assert!(sim
        .memory()
        .unwrap_err()
        .to_string()
        .contains("one plan per pool"));
    let mixed = Cluster::parse("1x2xH100+1x2xA100-80GB").unwrap();
    let on: DisaggPlan = "prefill=1x(tp=2,on=H100);decode=1x(tp=2,on=A100-80GB)"
        .parse()
        .unwrap();
    let r = Simulation::disaggregated(&model, &mixed, &on, &workload)
        .run()
        .unwrap();
    assert_eq!(r.metrics.requests.completed, 24);
}

/// `Simulation::deadline` stops a run that outlasts it (an instant already past, or a set
/// cancellation flag), for one plan and for a deployment; a far deadline changes nothing.
#[test]
fn the_simulation_builder_stops_at_its_deadline() {
    use parallax::plan::DisaggPlan;
    use parallax::sim::{Deadline, SimError};
    use parallax::{Error, Plan, Simulation};
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(50.0), None).unwrap();
    let plan: Plan = "tp=4".parse().unwrap();
    let pools: DisaggPlan = "prefill=1x(tp=2);decode=1x(tp=2)".parse().unwrap();
    let past = Instant::now();
    let e = Simulation::new(&model, &cluster, &plan, &workload)
        .deadline(past)
        .run()
        .unwrap_err();
    assert!(
        matches!(e, Error::Simulation(SimError::DeadlineReached { .. })),
        "{e:?}"
    );
    let flag = Arc::new(AtomicBool::new(true));
    let e = Simulation::disaggregated(&model, &cluster, &pools, &workload)
        .deadline(Deadline::default().cancel_on(flag))
        .run()
        .unwrap_err();
    assert!(
        matches!(e, Error::Simulation(SimError::Cancelled { .. })),
        "{e:?}"
    );
    let small = parallax::load_workload("chat", None, Some(16)).unwrap();
    let far = Instant::now() + Duration::from_secs(3600);
    let a = Simulation::new(&model, &cluster, &plan, &small)
        .deadline(far)
        .run()
        .unwrap();
    let b = Simulation::new(&model, &cluster, &plan, &small)
        .run()
        .unwrap();
    assert_eq!(
        serde_json::to_string(&a.metrics).unwrap(),
        serde_json::to_string(&b.metrics).unwrap()
    );
}
