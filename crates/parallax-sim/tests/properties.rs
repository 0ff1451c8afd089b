//! Property tests: for random small workloads, KV sizes, pipeline depths and schedulers, every
//! admitted request completes with its exact output, and skipping ahead changes nothing.

use crate::common;
use common::*;
use parallax_sim::*;
use proptest::prelude::*;
use std::sync::Arc;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn conserved_and_skip_ahead_exact(
        reqs in prop::collection::vec((0.0f64..2.0, 1u32..120, 1u32..120), 1..40),
        kv in 8u64..120,
        block in prop::sample::select(vec![1u32, 4, 16]),
        pp in 1usize..3,
        k in 0usize..SchedulerKind::ALL.len(),
        seqs in 1u32..12,
        clients in prop::option::of(1u32..6),
        host in prop::option::of((0.0f64..0.02, 0.0f64..0.005, any::<bool>())),
    ) {
        let w = workload(&reqs);
        let kind = SchedulerKind::ALL[k];
        let mut cfg = config(kind);
        cfg.max_concurrency = clients;
        if let Some((per_iteration_s, per_request_s, overlapped)) = host {
            cfg.host = HostOverhead { per_iteration_s, per_request_s, overlapped };
        }
        cfg.scheduler.max_num_seqs = seqs;
        cfg.scheduler.max_num_batched_tokens = 64;
        let stages: Vec<Arc<dyn StageCost>> = (0..pp).map(|_| affine()).collect();
        let reps = vec![replica(stages, kv * pp as u64, block)];
        let a = run(reps.clone(), cfg, &w);
        assert_conserved(&w, &a);
        cfg.skip_ahead = false;
        let b = run(reps, cfg, &w);
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }
}
