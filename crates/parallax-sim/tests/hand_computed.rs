//! Hand-computed TTFT/TPOT under a constant-cost stage (every iteration takes 10 ms whatever
//! the batch), for each scheduler, a 2-stage pipeline and a preemption case. The arithmetic is
//! written out above each case.

use crate::common;
use common::*;
use parallax_sim::*;
use std::sync::Arc;

const C: f64 = 0.01;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

/// (ttft, tpot, e2e) of request `i`.
fn check(rep: &SimReport, i: usize, ttft: f64, tpot: f64, e2e: f64) {
    let r = &rep.requests[i];
    assert!(r.completed);
    close(r.ttft_s(), ttft);
    close(r.tpot_s(), tpot);
    close(r.e2e_s(), e2e);
}

// A: t=0, prompt 10, output 3.  B: t=0.005, prompt 20, output 2.
fn two() -> workload::Workload {
    workload(&[(0.0, 10, 3), (0.005, 20, 2)])
}

#[test]
fn vllm_v0_prefill_first_no_mixing() {
    // 0.00–0.01 prefill A            → A token 1 at 0.01
    // 0.01–0.02 prefill B (prefill first; A waits) → B token 1 at 0.02
    // 0.02–0.03 decode A, B          → A token 2, B token 2 (B done at 0.03)
    // 0.03–0.04 decode A             → A token 3 (done at 0.04)
    // A: TTFT 0.01, TPOT (0.04-0.01)/2 = 0.015, e2e 0.04
    // B: TTFT 0.02-0.005 = 0.015, TPOT (0.03-0.02)/1 = 0.01, e2e 0.025, queue 0.005
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        config(SchedulerKind::VllmV0),
        &two(),
    );
    check(&rep, 0, 0.01, 0.015, 0.04);
    check(&rep, 1, 0.015, 0.01, 0.025);
    close(rep.requests[1].queue_s(), 0.005);
    assert_eq!(rep.metrics.iterations, 4);
    close(rep.metrics.makespan_s, 0.04);
}

#[test]
fn orca_mixes_whole_prefills_with_decodes() {
    // 0.00–0.01 prefill A            → A token 1 at 0.01
    // 0.01–0.02 decode A + prefill B → A token 2, B token 1 at 0.02
    // 0.02–0.03 decode A, B          → A token 3, B token 2 (both done at 0.03)
    // A: TTFT 0.01, TPOT 0.02/2 = 0.01, e2e 0.03;  B: TTFT 0.015, TPOT 0.01, e2e 0.025
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        config(SchedulerKind::Orca),
        &two(),
    );
    check(&rep, 0, 0.01, 0.01, 0.03);
    check(&rep, 1, 0.015, 0.01, 0.025);
    assert_eq!(rep.metrics.iterations, 3);
}

#[test]
fn chunked_prefill_splits_by_token_budget() {
    // Budget 16 tokens (max_num_seqs 16):
    // 0.00–0.01 A chunk 10 (whole)             → A token 1 at 0.01
    // 0.01–0.02 decode A (1) + B chunk 15      → A token 2; B has 15/20
    // 0.02–0.03 decode A (1) + B chunk 5       → A token 3 (done 0.03); B token 1 at 0.03
    // 0.03–0.04 decode B                       → B token 2 (done 0.04)
    // A: TTFT 0.01, TPOT 0.01, e2e 0.03;  B: TTFT 0.025, TPOT 0.01, e2e 0.035
    let mut cfg = config(SchedulerKind::Chunked);
    cfg.scheduler.chunk_size = Some(16);
    cfg.scheduler.max_num_seqs = 16;
    let rep = run(vec![const_replica(C, 1000, 16)], cfg, &two());
    check(&rep, 0, 0.01, 0.01, 0.03);
    check(&rep, 1, 0.025, 0.01, 0.035);
    assert_eq!(rep.metrics.iterations, 4);
}

#[test]
fn static_batch_waits_for_the_whole_batch() {
    // 0.00–0.01 prefill A; 0.01–0.03 two decodes of A (done 0.03); B may not join.
    // 0.03–0.04 prefill B → token 1 at 0.04; 0.04–0.05 decode → done 0.05.
    // A: TTFT 0.01, TPOT 0.01, e2e 0.03;  B: TTFT 0.035, TPOT 0.01, e2e 0.045, queue 0.025
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        config(SchedulerKind::Static),
        &two(),
    );
    check(&rep, 0, 0.01, 0.01, 0.03);
    check(&rep, 1, 0.035, 0.01, 0.045);
    close(rep.requests[1].queue_s(), 0.025);
}

#[test]
fn two_stage_pipeline_keeps_two_micro_batches_in_flight() {
    // Two stages of 10 ms each; A and B (prompt 10, output 2) both at t=0 go to engines 0, 1.
    // engine 0: prefill A  s0 0.00–0.01, s1 0.01–0.02 → A token 1 at 0.02
    // engine 1: prefill B  s0 0.01–0.02, s1 0.02–0.03 → B token 1 at 0.03
    // engine 0: decode A   s0 0.02–0.03, s1 0.03–0.04 → A done 0.04
    // engine 1: decode B   s0 0.03–0.04, s1 0.04–0.05 → B done 0.05
    // A: TTFT 0.02, TPOT 0.02, e2e 0.04;  B: TTFT 0.03, TPOT 0.02, e2e 0.05
    // each stage busy 4 × 10 ms of a 50 ms makespan → utilisation 0.8
    let w = workload(&[(0.0, 10, 2), (0.0, 10, 2)]);
    let stages: Vec<Arc<dyn StageCost>> = vec![Arc::new(ConstCost(C)), Arc::new(ConstCost(C))];
    let rep = run(
        vec![replica(stages, 1000, 16)],
        config(SchedulerKind::VllmV0),
        &w,
    );
    check(&rep, 0, 0.02, 0.02, 0.04);
    check(&rep, 1, 0.03, 0.02, 0.05);
    close(rep.metrics.makespan_s, 0.05);
    close(rep.metrics.gpu.utilisation, 0.8);
    // energy: 1 GPU, 100 W idle × 0.05 s + 600 W × 0.04 busy-GPU-s (2 stages × ½ GPU × 0.04)
    close(rep.metrics.gpu.energy_j, 100.0 * 0.05 + 600.0 * 0.04);
}

#[test]
fn preemption_by_recompute_hand_case() {
    // Blocks of 4 tokens, 4 blocks, no watermark. A, B at t=0: prompt 4, output 6
    // (peak KV 4+6-1 = 9 tokens = 3 blocks ≤ 4: both admissible).
    // 0.00–0.01 prefill A, B (1 block each, free 2)      → tokens 1 at 0.01
    // 0.01–0.02 decode, context 5 each → 2 blocks each (free 0) → tokens 2
    // 0.02–0.05 three decodes, contexts 6, 7, 8 fit 2 blocks → tokens 3, 4, 5 at 0.05
    // 0.05: A needs a 3rd block, none free → preempt B (latest arrival): B frees 2 blocks;
    //       0.05–0.06 decode A alone → A token 6, done at 0.06 (frees 3 blocks)
    // 0.06–0.07 B re-prefills 4 + 5 = 9 tokens (3 blocks) → B token 6, done at 0.07
    // A: TTFT 0.01, TPOT 0.05/5 = 0.01, e2e 0.06
    // B: TTFT 0.01, TPOT 0.06/5 = 0.012, e2e 0.07, 1 preemption; recomputed 9 tokens.
    let w = workload(&[(0.0, 4, 6), (0.0, 4, 6)]);
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.scheduler.watermark = 0.0;
    for skip_ahead in [true, false] {
        cfg.skip_ahead = skip_ahead;
        let rep = run(vec![const_replica(C, 4, 4)], cfg, &w);
        check(&rep, 0, 0.01, 0.01, 0.06);
        check(&rep, 1, 0.01, 0.012, 0.07);
        assert_eq!(rep.requests[0].preemptions, 0);
        assert_eq!(rep.requests[1].preemptions, 1);
        assert_eq!(rep.metrics.tokens.recomputed, 9);
        assert_eq!(rep.metrics.iterations, 7);
    }
}
