//! Inter-token latency: per-token gaps, hand-computed, including the stall a prefill causes
//! under vLLM v0 (prefill-first, no mixing) and the stall of a recompute after preemption.

use crate::common;

use common::*;
use parallax_ir::{Batch, OpKind};
use parallax_sim::*;
use std::sync::Arc;

/// 10 ms per decode-only step, 50 ms per step with any prefill.
#[derive(Debug)]
struct TwoSpeed;
impl StageCost for TwoSpeed {
    fn step(&self, b: &Batch) -> StepCost {
        let s = if b.prefill_tokens() > 0 { 0.05 } else { 0.01 };
        StepCost::constant(s, OpKind::Gemm)
    }
}

#[test]
fn a_prefill_stalls_running_decodes_under_vllm_v0() {
    // A arrives at 0 (prefill 0–50 ms, first token at 50 ms), decodes at 60, 70, 80 ms.
    // B arrives at 75 ms: the step that starts at 80 ms is B's prefill (ends 130 ms), so A's
    // next token comes at 140 ms: a 60 ms gap. A: 6 outputs → tokens at 50, 60, 70, 80, 140,
    // 150 → gaps 10, 10, 10, 60, 10. B: 2 outputs → tokens at 130, 140 → gap 10.
    let w = workload(&[(0.0, 100, 6), (0.075, 100, 2)]);
    for skip in [true, false] {
        let c = SimConfig {
            skip_ahead: skip,
            ..config(SchedulerKind::VllmV0)
        };
        let r = run(vec![replica(vec![Arc::new(TwoSpeed)], 1000, 16)], c, &w);
        let itl = r.metrics.itl_ms;
        assert_eq!(itl.count, 6);
        assert!((itl.mean - 110.0 / 6.0).abs() < 1e-6, "{}", itl.mean);
        assert!((itl.max - 60.0).abs() < 1e-9);
        assert!((itl.p50 - 10.0).abs() < 0.01);
        assert!((itl.p99 - 60.0).abs() < 0.03, "{}", itl.p99);
        // TPOT averages the stall away: A's is (150 − 50) / 5 = 20 ms.
        assert!((r.requests[0].tpot_s() - 0.02).abs() < 1e-12);
    }
}

#[test]
fn chunked_prefill_has_no_stall_gap_beyond_the_mixed_step() {
    // Sarathi mixes B's prefill with A's decode: A's gap is the 50 ms mixed step.
    let w = workload(&[(0.0, 100, 6), (0.075, 100, 2)]);
    let r = run(
        vec![replica(vec![Arc::new(TwoSpeed)], 1000, 16)],
        config(SchedulerKind::Chunked),
        &w,
    );
    assert!((r.metrics.itl_ms.max - 50.0).abs() < 1e-9);
    assert_eq!(r.metrics.itl_ms.count, 6);
}
