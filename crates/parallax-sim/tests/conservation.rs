//! Under every scheduler every request completes with exactly its output tokens, with and
//! without KV pressure.

use crate::common;
use common::*;
use parallax_sim::workload::synthetic::*;
use parallax_sim::*;
use std::sync::Arc;

fn synthetic(n: usize, rate: f64, seed: u64) -> workload::Workload {
    SyntheticSpec {
        requests: n,
        arrivals: Arrivals::Poisson { rate },
        lengths: Lengths::Independent {
            prompt: LengthDist::Uniform { min: 1, max: 300 },
            output: LengthDist::Uniform { min: 1, max: 200 },
        },
        seed,
    }
    .generate()
    .unwrap()
}

#[test]
fn chat_trace_completes_under_every_scheduler() {
    let w = workload::embedded("chat").unwrap();
    for kind in SchedulerKind::ALL {
        let rep = run(vec![replica(vec![affine()], 20_000, 16)], config(kind), &w);
        assert_conserved(&w, &rep);
        assert_eq!(rep.metrics.requests.completed, 1024, "{kind:?}");
        assert_eq!(rep.metrics.tokens.output, w.total_tokens().1, "{kind:?}");
        assert_eq!(rep.metrics.requests.preemptions, 0, "{kind:?}");
    }
}

#[test]
fn heavy_load_completes_under_every_scheduler_and_pipeline_depth() {
    let w = synthetic(600, 200.0, 3);
    for kind in SchedulerKind::ALL {
        for pp in [1usize, 3] {
            let stages: Vec<Arc<dyn StageCost>> = (0..pp).map(|_| affine()).collect();
            let mut cfg = config(kind);
            cfg.scheduler.max_num_seqs = 32;
            cfg.scheduler.max_num_batched_tokens = 512;
            let rep = run(vec![replica(stages, 3000, 16)], cfg, &w);
            assert_conserved(&w, &rep);
            assert_eq!(rep.metrics.requests.completed, 600, "{kind:?} pp={pp}");
        }
    }
}

#[test]
fn tiny_kv_cache_preempts_and_conserves_tokens() {
    let w = synthetic(300, 100.0, 11);
    for kind in SchedulerKind::ALL {
        // 40 blocks of 16 tokens = 640 tokens: a few requests at a time.
        let rep = run(vec![replica(vec![affine()], 40, 16)], config(kind), &w);
        assert_conserved(&w, &rep);
        let m = &rep.metrics.requests;
        assert_eq!(m.completed + m.rejected, 300, "{kind:?}");
        if kind == SchedulerKind::Static {
            assert_eq!(m.preemptions, 0, "static reserves KV up front");
        } else {
            assert!(m.preemptions > 0, "{kind:?}: expected preemptions");
            assert!(rep.metrics.tokens.recomputed > 0, "{kind:?}");
        }
    }
}
