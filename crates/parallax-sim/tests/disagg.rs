//! Prefill/decode disaggregation: a hand-computed two-request case including the KV transfer,
//! token conservation for every request, skip-ahead equivalence, configuration errors.

use crate::common;

use common::*;
use parallax_ir::{Batch, OpKind};
use parallax_sim::*;
use std::sync::Arc;

/// 10 ms per iteration with a prefill, 5 ms per decode-only iteration.
#[derive(Debug)]
struct PD;
impl StageCost for PD {
    fn step(&self, b: &Batch) -> StepCost {
        let s = if b.prefill_tokens() > 0 { 0.010 } else { 0.005 };
        StepCost::constant(s, OpKind::Gemm)
    }
}

fn pools(prefill: usize, decode: usize, blocks: u64) -> Vec<ReplicaSpec> {
    (0..prefill + decode)
        .map(|_| replica(vec![Arc::new(PD)], blocks, 16))
        .collect()
}

fn disagg(prefill: usize) -> SimConfig {
    SimConfig {
        disaggregation: Some(Disaggregation {
            prefill_replicas: prefill,
            kv_link: KvLink {
                kv_bytes_per_token: 1000.0,
                bandwidth: 1e6,
                latency_s: 0.001,
            },
        }),
        ..config(SchedulerKind::VllmV0)
    }
}

#[test]
fn hand_computed_two_requests_with_the_kv_transfer() {
    // A: 100-token prompt, 3 outputs, at 0. Prefill 0–10 ms (first token at 10 ms); KV
    // 100 × 1000 B at 1 MB/s + 1 ms = 101 ms → at the decode replica at 111 ms; decodes
    // 111–116 (token 2) and 116–121 (token 3). TTFT 10 ms, TPOT (121 − 10) / 2 = 55.5 ms.
    // B: 50-token prompt, 2 outputs, at 5 ms. The prefill replica is busy until 10 ms: prefill
    // 10–20 ms (TTFT 15 ms); KV 50 ms + 1 ms → arrives at 71 ms; decodes 71–76 ms. TPOT 56 ms.
    let w = workload(&[(0.0, 100, 3), (0.005, 50, 2)]);
    for skip in [true, false] {
        let c = SimConfig {
            skip_ahead: skip,
            ..disagg(1)
        };
        let r = run(pools(1, 1, 100), c, &w);
        let (a, b) = (&r.requests[0], &r.requests[1]);
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        assert!(close(a.ttft_s(), 0.010), "{}", a.ttft_s());
        assert!(close(a.finish_s, 0.121), "{}", a.finish_s);
        assert!(close(a.tpot_s(), 0.0555));
        assert!(close(b.ttft_s(), 0.015), "{}", b.ttft_s());
        assert!(close(b.finish_s, 0.076), "{}", b.finish_s);
        assert!(close(b.tpot_s(), 0.056));
        let x = r.metrics.kv_transfer.unwrap();
        assert_eq!(x.transfers, 2);
        assert!((x.bytes - 150_000.0).abs() < 1e-9);
        assert!((x.transfer_ms.mean - 76.0).abs() < 1e-9);
        // The inter-token gaps include the transfer: A has tokens at 10, 116 and 121 ms.
        assert!((r.metrics.itl_ms.max - 106.0).abs() < 0.1);
        assert_eq!(r.metrics.iterations, 2 + 3);
    }
}

#[test]
fn every_request_gets_exactly_its_tokens() {
    let w = parallax_sim::workload::spec::generate(
        "synthetic:requests=400,rate=30,prompt=uniform(1,400),output=uniform(1,200),seed=11",
    )
    .unwrap();
    for kind in SchedulerKind::ALL {
        for (p, d, blocks) in [(1, 1, 200u64), (2, 1, 120), (1, 3, 60)] {
            let mut c = disagg(p);
            c.scheduler = SchedulerConfig::new(kind);
            let fast = run(pools(p, d, blocks), c, &w);
            c.skip_ahead = false;
            let slow = run(pools(p, d, blocks), c, &w);
            let what = format!("{kind:?} {p}P{d}D {blocks} blocks");
            assert_eq!(fast, slow, "{what}: skip-ahead changed results");
            let m = &fast.metrics;
            assert_eq!(m.requests.unfinished, 0, "{what}");
            assert_eq!(m.requests.completed + m.requests.rejected, 400, "{what}");
            let done: Vec<_> = fast.requests.iter().filter(|r| r.completed).collect();
            assert_eq!(
                m.tokens.output,
                done.iter().map(|r| r.output_tokens as u64).sum::<u64>()
            );
            // Every completed request produced its first token before its last, and those
            // with more than one token moved their KV.
            let moved = done.iter().filter(|r| r.output_tokens > 1).count() as u64;
            assert_eq!(m.kv_transfer.unwrap().transfers, moved, "{what}");
            for r in &done {
                assert!(r.finish_s >= r.first_token_s && r.first_token_s > r.arrival_s);
                // Prefill replicas only; one with more than one token decoded on a decode
                // replica.
                assert!((r.replica.unwrap() as usize) < p);
                if r.output_tokens > 1 {
                    assert!(r.decode_replica.unwrap() as usize >= p, "{what}");
                } else {
                    assert_eq!(r.decode_replica, None, "{what}");
                }
            }
        }
    }
}

#[test]
fn bad_disaggregation_settings_are_errors() {
    for (n, bw) in [(0usize, 1e9), (2, 1e9), (1, 0.0), (1, f64::NAN)] {
        let mut c = disagg(n);
        if let Some(d) = &mut c.disaggregation {
            d.kv_link.bandwidth = bw;
        }
        let e = Simulator::new(pools(1, 1, 100), c).unwrap_err().to_string();
        assert!(e.contains("disaggregation"), "{e}");
    }
}

#[test]
fn a_closed_loop_client_waits_for_the_decode_pool() {
    // One client, three requests (100-token prompt, 3 outputs) scheduled at 0: as in the
    // hand-computed case each takes 10 ms of prefill, 101 ms of KV transfer and two 5 ms
    // decodes, 121 ms in all; the next is sent when the previous finishes on the decode
    // pool, not when its prefill ends.
    let w = workload(&[(0.0, 100, 3), (0.0, 100, 3), (0.0, 100, 3)]);
    for skip in [true, false] {
        let c = SimConfig {
            skip_ahead: skip,
            max_concurrency: Some(1),
            ..disagg(1)
        };
        let r = run(pools(1, 1, 100), c, &w);
        for (k, q) in r.requests.iter().enumerate() {
            let sent = 0.121 * k as f64;
            assert!((q.arrival_s - sent).abs() < 1e-9, "{k}: {}", q.arrival_s);
            assert!(
                (q.finish_s - sent - 0.121).abs() < 1e-9,
                "{k}: {}",
                q.finish_s
            );
        }
    }
}
