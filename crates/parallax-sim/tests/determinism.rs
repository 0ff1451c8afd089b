//! Byte-identical output across runs, and skipping ahead gives exactly the same results as
//! calling the scheduler every iteration. (The crate uses no threads, so thread count cannot
//! matter; the run is a pure function of its inputs.)

use crate::common;
use common::*;
use parallax_sim::workload::synthetic::*;
use parallax_sim::*;
use std::sync::Arc;

fn json(rep: &SimReport) -> String {
    serde_json::to_string(rep).unwrap()
}

fn setups() -> Vec<(Vec<ReplicaSpec>, &'static str)> {
    let one = vec![replica(vec![affine()], 20_000, 16)];
    let pp2 = vec![replica(vec![affine(), affine()], 2_000, 16)];
    let dp3: Vec<ReplicaSpec> = (0..3).map(|_| replica(vec![affine()], 600, 16)).collect();
    vec![(one, "single"), (pp2, "pp2"), (dp3, "dp3")]
}

#[test]
fn reports_are_byte_identical_across_runs_and_skip_ahead_is_exact() {
    let chat = workload::embedded("chat").unwrap().with_rate(20.0).unwrap();
    let syn = SyntheticSpec {
        requests: 400,
        arrivals: Arrivals::Gamma {
            rate: 40.0,
            cv: 2.0,
        },
        lengths: Lengths::Independent {
            prompt: LengthDist::LogNormal {
                mean: 300.0,
                std: 200.0,
            },
            output: LengthDist::Zipf { s: 0.8, max: 400 },
        },
        seed: 5,
    }
    .generate()
    .unwrap();
    for w in [&chat, &syn] {
        for (reps, name) in setups() {
            for kind in SchedulerKind::ALL {
                for router in [
                    RouterPolicy::RoundRobin,
                    RouterPolicy::ShortestQueueTokens,
                    RouterPolicy::Random,
                ] {
                    let mut cfg = config(kind);
                    cfg.router = router;
                    cfg.slo = Slo {
                        ttft_ms: Some(500.0),
                        tpot_ms: Some(50.0),
                    };
                    let a = json(&run(reps.clone(), cfg, w));
                    let b = json(&run(reps.clone(), cfg, w));
                    assert_eq!(a, b, "{name} {kind:?} {router:?}: runs differ");
                    cfg.skip_ahead = false;
                    let c = json(&run(reps.clone(), cfg, w));
                    assert_eq!(
                        a, c,
                        "{name} {kind:?} {router:?} {}: skip-ahead differs",
                        w.name
                    );
                }
            }
        }
    }
}

#[test]
fn skip_ahead_is_exact_under_kv_pressure() {
    let w = SyntheticSpec {
        requests: 300,
        arrivals: Arrivals::Poisson { rate: 50.0 },
        lengths: Lengths::Independent {
            prompt: LengthDist::Uniform { min: 1, max: 200 },
            output: LengthDist::Uniform { min: 1, max: 300 },
        },
        seed: 9,
    }
    .generate()
    .unwrap();
    for kind in SchedulerKind::ALL {
        let mut cfg = config(kind);
        let reps = vec![replica(vec![affine(), Arc::new(ConstCost(0.002))], 90, 16)];
        let a = run(reps.clone(), cfg, &w);
        cfg.skip_ahead = false;
        let b = run(reps, cfg, &w);
        if kind != SchedulerKind::Static {
            assert!(a.metrics.requests.preemptions > 0, "{kind:?}");
        }
        assert_eq!(json(&a), json(&b), "{kind:?}");
    }
}
