//! Per-iteration token budgets: without preemption (so no recompute prefills), no iteration of
//! any scheduler holds more than `max_num_batched_tokens` (chunked: `chunk_size`) tokens.

use crate::common;
use common::*;
use parallax_sim::*;
use proptest::prelude::*;
use std::sync::Arc;

fn max_iteration_tokens(rep: &SimReport) -> u64 {
    rep.timeline
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.prefill_tokens + s.decode_requests as u64)
        .max()
        .unwrap_or(0)
}

/// Orca: a decode is running when a prompt that fits the budget alone, but not next to the
/// decode, arrives. It must wait for the decode to finish rather than overrun the budget.
#[test]
fn orca_never_overruns_the_budget_with_a_fresh_prompt() {
    let w = workload(&[(0.0, 10, 5), (0.001, 100, 2)]);
    let mut cfg = config(SchedulerKind::Orca);
    cfg.scheduler.max_num_seqs = 4;
    cfg.scheduler.max_num_batched_tokens = 100;
    cfg.record_timeline = true;
    let rep = run(vec![const_replica(0.01, 10_000, 16)], cfg, &w);
    assert_conserved(&w, &rep);
    assert_eq!(max_iteration_tokens(&rep), 100);
    // Request 0: prefill [0, .01), decodes end at .02, .03, .04, .05 (its 5th token).
    // Request 1 is admitted only then: prefill [.05, .06), one decode to .07.
    let r1 = rep.requests[1];
    assert!((r1.first_token_s - 0.06).abs() < 1e-9, "{r1:?}");
    assert!((r1.finish_s - 0.07).abs() < 1e-9, "{r1:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_iteration_exceeds_the_token_budget(
        reqs in prop::collection::vec((0.0f64..0.5, 1u32..100, 1u32..40), 1..40),
        k in 0usize..SchedulerKind::ALL.len(),
        budget in 100u32..200,
        seqs in 1u32..16,
        pp in 1usize..3,
    ) {
        let w = workload(&reqs);
        let kind = SchedulerKind::ALL[k];
        let mut cfg = config(kind);
        cfg.scheduler.max_num_seqs = seqs;
        cfg.scheduler.max_num_batched_tokens = budget;
        cfg.record_timeline = true;
        let stages: Vec<Arc<dyn StageCost>> = (0..pp).map(|_| affine()).collect();
        let rep = run(vec![replica(stages, 1_000_000, 16)], cfg, &w);
        assert_conserved(&w, &rep);
        prop_assert_eq!(rep.metrics.requests.preemptions, 0);
        prop_assert!(max_iteration_tokens(&rep) <= budget as u64);
    }
}

/// A per-request chunk limit (`prefill_chunk_per_request`, vLLM's
/// `--long-prefill-token-threshold`, SGLang's per-rank chunk under DP attention): one request
/// prefills at most that many tokens per iteration, while others fill the rest of the budget.
#[test]
fn per_request_chunks_stay_under_their_limit() {
    // Budget 64, limit 16: two 40-token prompts prefill 16 + 16 per iteration (3 iterations
    // each: 16, 16, 8), both in the same iterations, 10 ms each.
    let w = workload(&[(0.0, 40, 2), (0.0, 40, 2)]);
    for kind in [SchedulerKind::Chunked, SchedulerKind::PrefillFirst] {
        let mut cfg = config(kind);
        cfg.scheduler.max_num_batched_tokens = 64;
        cfg.scheduler.max_num_seqs = 8;
        cfg.prefill_chunk_per_request = Some(16);
        cfg.record_timeline = true;
        let rep = run(vec![const_replica(0.01, 10_000, 16)], cfg, &w);
        assert_conserved(&w, &rep);
        for r in &rep.requests {
            assert!((r.ttft_s() - 0.03).abs() < 1e-12, "{kind:?} {}", r.ttft_s());
        }
        assert_eq!(max_iteration_tokens(&rep), 32, "{kind:?}");
        // without the limit both prompts fit one iteration... of 64 tokens: 40 + 24, then 16
        let mut free = config(kind);
        free.scheduler.max_num_batched_tokens = 64;
        free.scheduler.max_num_seqs = 8;
        let rep = run(vec![const_replica(0.01, 10_000, 16)], free, &w);
        assert!((rep.requests[0].ttft_s() - 0.01).abs() < 1e-12, "{kind:?}");
    }
    let bad = SimConfig {
        prefill_chunk_per_request: Some(0),
        ..SimConfig::default()
    };
    let e = Simulator::new(vec![const_replica(0.01, 100, 16)], bad).unwrap_err();
    assert!(e.to_string().contains("prefill_chunk_per_request"), "{e}");
}
