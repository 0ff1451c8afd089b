//! Objectives (names, directions, throughput and min-GPU semantics), limits and bad options.

use parallax::hw::Cluster;
use parallax::plan::{LowerOptions, MemoryOptions};
use parallax::search::SteadyState;
use parallax::sim::{SchedulerConfig, SchedulerKind, SimConfig, Slo};
use parallax::{Error, Limits, Objective, SchedulerSpace, Search, SearchConstraints, StopReason};
use std::sync::Arc;
use std::time::Duration;

fn small(rate: f64, n: usize) -> Search {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(rate), Some(n)).unwrap();
    Search::new(model, cluster, workload)
}

fn slo() -> Slo {
    Slo {
        ttft_ms: Some(200.0),
        tpot_ms: Some(20.0),
    }
}

fn option_error(r: parallax::Result<parallax::SearchReport>, option: &str) {
    match r {
        Err(Error::Option { option: o, .. }) => assert_eq!(o, option),
        other => panic!("expected an option error for {option}, got {other:?}"),
    }
}

#[test]
fn names_round_trip_and_directions() {
    for o in Objective::ALL {
        assert_eq!(o.name().parse::<Objective>().unwrap(), o);
        assert_eq!(o.name().to_uppercase().parse::<Objective>().unwrap(), o);
    }
    assert_eq!("e2e".parse::<Objective>().unwrap(), Objective::E2eMean);
    assert_eq!("tpot_p99".parse::<Objective>().unwrap(), Objective::TpotP99);
    let e = "fastest".parse::<Objective>().unwrap_err().to_string();
    assert!(e.contains("fastest") && e.contains("min-gpus"), "{e}");
    assert!(Objective::Throughput.compare(10.0, 5.0).is_lt());
    assert!(Objective::E2eMean.compare(10.0, 5.0).is_gt());
    assert!(Objective::E2eMean.compare(f64::NAN, 1e300).is_gt());
    assert_eq!(Objective::E2eMean.gain(2.0, 5.0), Some(2.5));
    assert_eq!(Objective::Goodput.gain(6.0, 3.0), Some(2.0));
    assert_eq!(Objective::Goodput.gain(6.0, 0.0), None);
}

#[test]
fn bad_options_are_errors() {
    option_error(
        small(4.0, 32).objective(Objective::Throughput).run(),
        "objective",
    );
    option_error(
        small(4.0, 32).objective(Objective::Goodput).run(),
        "objective",
    );
    option_error(small(4.0, 32).slo_target(1.5).run(), "slo_target");
    option_error(
        small(4.0, 32)
            .slo(Slo {
                ttft_ms: Some(-1.0),
                tpot_ms: None,
            })
            .run(),
        "slo.ttft_ms",
    );
    option_error(
        small(4.0, 32)
            .limits(Limits {
                max_plans: Some(0),
                time: None,
            })
            .run(),
        "limits.max_plans",
    );
    option_error(
        small(4.0, 32)
            .scheduler_space(SchedulerSpace {
                max_num_seqs: vec![],
                chunk_sizes: vec![512],
            })
            .run(),
        "scheduler_space.chunk_sizes",
    );
    option_error(
        small(4.0, 32)
            .scheduler_space(SchedulerSpace {
                max_num_seqs: vec![64, 64],
                chunk_sizes: vec![],
            })
            .run(),
        "scheduler_space.max_num_seqs",
    );
    let e = small(4.0, 32)
        .constraints(SearchConstraints {
            max_gpus: Some(9),
            ..SearchConstraints::default()
        })
        .run()
        .unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "{e}");
    let e = small(4.0, 32)
        .scheduler(SchedulerConfig {
            max_num_seqs: 0,
            ..SchedulerConfig::default()
        })
        .run()
        .unwrap_err();
    assert!(matches!(e, Error::Simulation(_)), "{e}");
}

#[test]
fn throughput_is_the_highest_sustainable_rate_found() {
    let steady = SteadyState {
        requests: 600,
        ..SteadyState::default()
    };
    let s = small(4.0, 256)
        .objective(Objective::Throughput)
        .slo(slo())
        .steady_state(steady);
    let r = s.run().unwrap();
    assert_eq!(r.steady_state, Some(steady));
    let best = r.best.as_ref().expect("some plan sustains a rate");
    assert_eq!(best.rate_req_per_s, Some(best.objective));
    assert!(best.objective > 0.0);
    // The window is that of the steady-state stream at that rate, and it meets the target.
    let win = best.window.expect("throughput reports its window");
    // At least the 600 asked for; more when 600 last under 10 mean latencies at that rate.
    let n = win.driving_requests;
    assert!(n >= 600 && n <= 600 * steady.max_extension as usize, "{n}");
    let lasted = (n - 1) as f64 / best.objective;
    assert!(n == 600 || lasted >= steady.min_latencies * best.metrics.e2e_s.mean * 0.999);
    assert!(win.warmup_requests >= n / 5 && win.drain_requests == n / 10);
    assert!(win.stable);
    assert!(win.slo_attainment.unwrap() >= 0.9);
    assert!(win.start_s > 0.0 && win.end_s > win.start_s);
    assert_eq!(best.metrics.requests.rejected, 0);
    assert_eq!(best.metrics.requests.total as usize, n);
    // Re-simulating the same stream at that rate reproduces the metrics and the window.
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let trace = parallax::load_workload("chat", Some(4.0), Some(256)).unwrap();
    let w = steady
        .stream_of(n, &trace)
        .unwrap()
        .with_rate(best.objective)
        .unwrap();
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto).unwrap();
    let again = parallax::simulate_plan(
        &model,
        &cluster,
        &best.plan,
        Arc::clone(&cost),
        &w,
        &SimConfig {
            slo: slo(),
            ..SimConfig::default()
        },
        &LowerOptions {
            memory: MemoryOptions::default(),
            required_kv_tokens: parallax::largest_request_tokens(&trace),
            ..LowerOptions::default()
        },
    )
    .unwrap();
    assert_eq!(again.metrics.requests, best.metrics.requests);
    assert!((again.metrics.e2e_s.mean - best.metrics.e2e_s.mean).abs() < 1e-9);
    assert_eq!(steady.window(&w, &again, slo()), win);
    // Each ranked plan's simulations: a bracket plus the bisection, a fixed count.
    assert!(
        r.simulations as usize
            >= r.ranked.len() * (1 + parallax::search::RATE_BISECTION_STEPS as usize)
    );
    // The plan ranked below is not better.
    for w in r.ranked.windows(2) {
        if w[0].meets_constraints == w[1].meets_constraints {
            assert!(w[0].objective >= w[1].objective);
        }
    }
}

#[test]
fn min_gpus_picks_the_smallest_plan_that_meets_the_slos() {
    let r = small(4.0, 64)
        .objective(Objective::MinGpus)
        .slo(slo())
        .run()
        .unwrap();
    let best = r.best.as_ref().unwrap();
    assert_eq!(best.objective, best.gpus as f64);
    // Smaller plans were considered (use_all_gpus is off for min-gpus) ...
    assert!(r.ranked.iter().any(|x| x.gpus < 4));
    // ... and none with fewer GPUs than the best meets the SLOs.
    for x in &r.ranked {
        if x.gpus < best.gpus {
            assert!(!x.meets_constraints, "{} meets with fewer GPUs", x.plan);
        }
    }
    assert!(r.ranked.iter().all(|x| x.gpus <= 4));
}

#[test]
fn limits_and_constraints() {
    let full = small(4.0, 32).run().unwrap();
    let cut = small(4.0, 32)
        .limits(Limits {
            max_plans: Some(3),
            time: None,
        })
        .run()
        .unwrap();
    assert_eq!(cut.stop_reason, StopReason::PlanLimit);
    assert_eq!(cut.plans_simulated, 3);
    assert_eq!(cut.plans_feasible, full.plans_feasible);
    assert_eq!(full.stop_reason, StopReason::Exhausted);
    // No time limit given: the default budget, reported.
    assert_eq!(
        parallax::search::DEFAULT_TIME_LIMIT,
        Duration::from_secs(300)
    );
    assert_eq!(full.time_limit_s, 300.0);
    let timed = small(4.0, 32)
        .limits(Limits {
            max_plans: None,
            time: Some(Duration::ZERO),
        })
        .run()
        .unwrap();
    assert_eq!(timed.stop_reason, StopReason::TimeLimit);
    assert_eq!(timed.time_limit_s, 0.0);
    assert_eq!(timed.plans_simulated, 0);
    assert!(timed.best.is_none());
    assert!(timed.infeasible.unwrap().reason.contains("time limit"));
    // Only TP: no DP, PP, cell replicas.
    let tp_only = small(4.0, 32)
        .constraints(SearchConstraints {
            allowed: parallax::plan::Allowed {
                dp: false,
                pp: false,
                tp: true,
                ep: false,
                attn_replicas: false,
                mlp_replicas: false,
            },
            ..SearchConstraints::default()
        })
        .run()
        .unwrap();
    let plans: Vec<String> = tp_only.ranked.iter().map(|x| x.plan.to_string()).collect();
    assert_eq!(plans, vec!["dp=1,pp=1,tp=4".to_string()]);
    // A GPU limit bounds every plan and the baselines.
    let two = small(4.0, 32)
        .constraints(SearchConstraints {
            max_gpus: Some(2),
            ..SearchConstraints::default()
        })
        .run()
        .unwrap();
    assert!(two.ranked.iter().all(|x| x.gpus == 2));
    for b in &two.baselines {
        assert!(b.plan.as_ref().unwrap().devices() <= 2);
    }
}

#[test]
fn chunked_scheduler_chunk_sizes_are_searched() {
    let r = small(4.0, 32)
        .scheduler(SchedulerConfig::new(SchedulerKind::Chunked))
        .scheduler_space(SchedulerSpace {
            max_num_seqs: vec![],
            chunk_sizes: vec![256, 2048],
        })
        .run()
        .unwrap();
    let chunks: std::collections::BTreeSet<Option<u32>> =
        r.ranked.iter().map(|x| x.scheduler.chunk_size).collect();
    assert_eq!(
        chunks.into_iter().collect::<Vec<_>>(),
        vec![Some(256), Some(2048)]
    );
}

/// A TPOT objective over a workload whose requests all have one output token (no TPOT) is
/// refused on the workload, not ranked by an undefined 0 ms.
#[test]
fn tpot_objectives_need_requests_with_a_second_token() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100").unwrap();
    let one = parallax::load_workload(
        "synthetic:requests=5,rate=1,prompt=fixed(100),output=fixed(1)",
        None,
        None,
    )
    .unwrap();
    for o in [Objective::TpotMean, Objective::TpotP99] {
        let r = Search::new(model.clone(), cluster.clone(), one.clone())
            .objective(o)
            .run();
        option_error(r, "workload");
    }
    let r = Search::new(model, cluster, one)
        .objective(Objective::TtftP99)
        .run();
    assert!(r.is_ok());
}
