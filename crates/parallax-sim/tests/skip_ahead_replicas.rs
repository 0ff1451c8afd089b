//! Skip-ahead exactness and conservation with several replicas behind every router, pipeline
//! depths up to 3, and tight token budgets (the property test in `properties.rs` covers one
//! replica).

use crate::common;
use common::*;
use parallax_sim::*;
use proptest::prelude::*;
use std::sync::Arc;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn replicas_conserved_and_skip_ahead_exact(
        reqs in prop::collection::vec((0.0f64..1.0, 1u32..90, 1u32..90), 1..50),
        kv in 10u64..80,
        block in prop::sample::select(vec![1u32, 3, 16]),
        pp in 1usize..4,
        dp in 1usize..4,
        k in 0usize..SchedulerKind::ALL.len(),
        router in 0usize..4,
        seqs in 1u32..10,
        budget in 32u32..128,
    ) {
        let w = workload(&reqs);
        let kind = SchedulerKind::ALL[k];
        let mut cfg = config(kind);
        cfg.scheduler.max_num_seqs = seqs;
        cfg.scheduler.max_num_batched_tokens = budget;
        cfg.router = [
            RouterPolicy::RoundRobin,
            RouterPolicy::LeastOutstanding,
            RouterPolicy::ShortestQueueTokens,
            RouterPolicy::Random,
        ][router];
        cfg.record_timeline = true;
        let reps: Vec<ReplicaSpec> = (0..dp)
            .map(|r| {
                let stages: Vec<Arc<dyn StageCost>> = (0..pp).map(|_| affine()).collect();
                // Replicas of different KV sizes: routing must respect each one's capacity.
                replica(stages, (kv + 7 * r as u64) * pp as u64, block)
            })
            .collect();
        let a = run(reps.clone(), cfg, &w);
        assert_conserved(&w, &a);
        cfg.skip_ahead = false;
        let b = run(reps, cfg, &w);
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Without preemption, the iterations hold exactly one prefill of every prompt token and
    /// `output − 1` decode steps per request: skip-ahead never runs a step too many or too few.
    #[test]
    fn work_matches_tokens_without_preemption(
        reqs in prop::collection::vec((0.0f64..1.0, 1u32..90, 1u32..90), 1..40),
        pp in 1usize..3,
        k in 0usize..SchedulerKind::ALL.len(),
    ) {
        let w = workload(&reqs);
        let mut cfg = config(SchedulerKind::ALL[k]);
        cfg.scheduler.max_num_seqs = 8;
        cfg.scheduler.max_num_batched_tokens = 96; // every prompt (< 90) fits
        cfg.record_timeline = true;
        let stages: Vec<Arc<dyn StageCost>> = (0..pp).map(|_| affine()).collect();
        let rep = run(vec![replica(stages, 100_000, 16)], cfg, &w);
        assert_conserved(&w, &rep);
        prop_assert_eq!(rep.metrics.requests.preemptions, 0);
        let spans = rep.timeline.as_ref().unwrap();
        let (mut prefill, mut decode) = (0u64, 0u64);
        for s in spans.iter().filter(|s| s.stage == 0) {
            prefill += s.prefill_tokens;
            decode += s.decode_requests as u64;
        }
        let p: u64 = reqs.iter().map(|r| r.1 as u64).sum();
        let o: u64 = reqs.iter().map(|r| r.2 as u64 - 1).sum();
        prop_assert_eq!(prefill, p);
        prop_assert_eq!(decode, o);
        prop_assert_eq!(spans.len() as u64, rep.metrics.iterations * pp as u64);
    }
}
