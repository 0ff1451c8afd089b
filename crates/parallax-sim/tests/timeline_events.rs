//! What the timeline and the metrics show of each serving feature: tokens through the model
//! (`tokens.forward`), prefill → decode KV transfers, host prefix-tier loads, the prefix-cache
//! hit counter, and counter tracks (per-EP-rank routed pairs in the facade).

use crate::common;

use common::*;
use parallax_ir::{Batch, OpKind};
use parallax_sim::*;
use serde_json::Value;
use std::sync::Arc;

fn events(trace: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(trace).expect("the trace is JSON");
    v["traceEvents"].as_array().unwrap().clone()
}

#[test]
fn forward_tokens_count_every_prefill_token_and_decode_step() {
    // A: 10-token prompt, 5 outputs (prefill + 4 decode steps); B: 20 tokens, 1 output.
    let w = workload(&[(0.0, 10, 5), (1.0, 20, 1)]);
    for skip in [true, false] {
        let c = SimConfig {
            skip_ahead: skip,
            ..config(SchedulerKind::VllmV0)
        };
        let r = run(vec![const_replica(0.01, 100, 16)], c, &w);
        assert_eq!(r.metrics.tokens.forward, 10 + 4 + 20);
    }
    // Under recompute preemption (a tiny KV cache) the re-prefills count too: the sum over
    // the iterations of stage 0 of their batch tokens, as recorded in the timeline.
    let w = parallax_sim::workload::spec::generate(
        "synthetic:requests=200,rate=50,prompt=uniform(1,300),output=uniform(1,200),seed=4",
    )
    .unwrap();
    let mut preempted = 0;
    for kind in SchedulerKind::ALL {
        let mut c = config(kind);
        c.record_timeline = true;
        let r = run(vec![replica(vec![affine()], 60, 16)], c, &w);
        let spans = r.timeline.as_ref().unwrap();
        let sum: u64 = spans
            .iter()
            .filter(|s| s.stage == 0)
            .map(|s| s.prefill_tokens + s.decode_requests as u64)
            .sum();
        assert_eq!(r.metrics.tokens.forward, sum, "{kind:?}");
        let t = &r.metrics.tokens;
        if r.metrics.requests.preemptions > 0 {
            assert!(t.recomputed > 0, "{kind:?}");
            preempted += 1;
        }
        assert!(t.forward >= t.prompt + t.recomputed, "{kind:?}");
        // Without a timeline: the same count.
        c.record_timeline = false;
        let again = run(vec![replica(vec![affine()], 60, 16)], c, &w);
        assert_eq!(again.metrics, r.metrics, "{kind:?}");
        assert!(again.transfers.is_empty());
    }
    assert!(preempted >= 3, "the KV cache must force recomputes");
}

/// 10 ms per iteration with a prefill, 5 ms per decode-only iteration.
#[derive(Debug)]
struct PD;
impl StageCost for PD {
    fn step(&self, b: &Batch) -> StepCost {
        let s = if b.prefill_tokens() > 0 { 0.010 } else { 0.005 };
        StepCost::constant(s, OpKind::Gemm)
    }
}

#[test]
fn kv_transfers_are_timeline_events_with_hand_computed_times() {
    // As `disagg.rs`'s hand case: A's KV leaves at 10 ms and arrives at 111 ms, B's leaves at
    // 20 ms and arrives at 71 ms (1 kB per token at 1 MB/s + 1 ms).
    let w = workload(&[(0.0, 100, 3), (0.005, 50, 2)]);
    let c = SimConfig {
        record_timeline: true,
        disaggregation: Some(Disaggregation {
            prefill_replicas: 1,
            kv_link: KvLink {
                kv_bytes_per_token: 1000.0,
                bandwidth: 1e6,
                latency_s: 0.001,
            },
        }),
        ..config(SchedulerKind::VllmV0)
    };
    let pools = || -> Vec<ReplicaSpec> {
        (0..2)
            .map(|_| replica(vec![Arc::new(PD)], 100, 16))
            .collect()
    };
    let r = run(pools(), c, &w);
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    // In arrival order at the decode pool: B first.
    let x = &r.transfers;
    assert_eq!(x.len(), 2);
    assert_eq!(
        (x[0].request, x[0].from_replica, x[0].to_replica),
        (1, 0, 1)
    );
    assert!(
        close(x[0].start_s, 0.020) && close(x[0].end_s, 0.071),
        "{x:?}"
    );
    assert_eq!(x[0].tokens, 50);
    assert!(close(x[0].bytes, 50_000.0));
    assert_eq!((x[1].request, x[1].tokens), (0, 100));
    assert!(
        close(x[1].start_s, 0.010) && close(x[1].end_s, 0.111),
        "{x:?}"
    );
    // Tokens through each pool: the prefill replica computed both prompts (150 tokens), the
    // decode replica ran 2 + 1 decode steps.
    assert_eq!(r.forward_tokens_by_replica, vec![150, 3]);
    assert_eq!(r.metrics.tokens.forward, 153);
    // Bytes agree with the transfer metrics.
    let m = r.metrics.kv_transfer.unwrap();
    assert!(close(x.iter().map(|t| t.bytes).sum::<f64>(), m.bytes));
    // The Chrome trace: a begin/end async pair per transfer on the decode replica.
    let ev = events(&chrome_trace(&r));
    let kv: Vec<&Value> = ev.iter().filter(|e| e["name"] == "KV transfer").collect();
    assert_eq!(kv.len(), 4);
    assert_eq!(kv[0]["ph"], "b");
    assert_eq!(kv[0]["pid"], 1);
    assert_eq!(kv[0]["args"]["request"], 1);
    assert_eq!(kv[0]["args"]["tokens"], 50);
    assert_eq!(kv[1]["ph"], "e");
    assert_eq!(kv[1]["id"], kv[0]["id"]);
    assert!((kv[1]["ts"].as_f64().unwrap() - 71_000.0).abs() < 1e-3);
    // No timeline: no transfer records, same metrics.
    let c = SimConfig {
        record_timeline: false,
        ..c
    };
    let quiet = run(pools(), c, &w);
    assert!(quiet.transfers.is_empty());
    assert_eq!(quiet.metrics, r.metrics);
}

/// Constant step time with a host link of 1 byte per token.
#[derive(Debug)]
struct Linked;
impl StageCost for Linked {
    fn step(&self, _: &Batch) -> StepCost {
        StepCost::constant(0.01, OpKind::Gemm)
    }
    fn host_link(&self) -> Option<HostLink> {
        Some(HostLink {
            kv_bytes_per_token: 1.0,
            bandwidth: 1e5,
        })
    }
}

#[test]
fn prefix_hits_and_host_tier_loads_are_on_the_timeline() {
    // Four 40-token system prompts (10 blocks of 4 each) over a 30-block GPU cache: blocks are
    // evicted to the host tier and loaded back.
    let w = workload::spec::generate(
        "synthetic:requests=40,rate=0.5,prompt=fixed(8),output=fixed(2),prefix=shared(40),prompts=4,seed=3",
    )
    .unwrap();
    let c = SimConfig {
        prefix_caching: true,
        cpu_prefix_cache_bytes_per_gpu: 400.0,
        record_timeline: true,
        scheduler: SchedulerConfig {
            watermark: 0.0,
            ..SchedulerConfig::new(SchedulerKind::VllmV0)
        },
        ..SimConfig::default()
    };
    let r = run(vec![replica(vec![Arc::new(Linked)], 30, 4)], c, &w);
    let m = r.metrics.prefix_cache.unwrap();
    assert!(
        m.cpu_hit_tokens > 0 && m.hit_tokens > m.cpu_hit_tokens,
        "{m:?}"
    );
    assert_eq!(r.metrics.requests.preemptions, 0);
    let spans = r.timeline.as_ref().unwrap();
    let loaded: u64 = spans.iter().map(|s| s.host_load_tokens).sum();
    assert_eq!(loaded, m.cpu_hit_tokens);
    let ev = events(&chrome_trace(&r));
    let args_sum = |key: &str| -> u64 {
        ev.iter()
            .filter(|e| e["ph"] == "X")
            .filter_map(|e| e["args"][key].as_u64())
            .sum()
    };
    assert_eq!(args_sum("host_load_tokens"), m.cpu_hit_tokens);
    assert_eq!(args_sum("cached_tokens"), m.hit_tokens);
    // The hit counter climbs to the run's hit tokens.
    let counter: Vec<u64> = ev
        .iter()
        .filter(|e| e["name"] == "prefix cache hit tokens")
        .map(|e| e["args"]["tokens"].as_u64().unwrap())
        .collect();
    assert!(counter.windows(2).all(|p| p[0] < p[1]), "{counter:?}");
    assert_eq!(counter.last().copied(), Some(m.hit_tokens));
}

#[test]
fn counter_tracks_scale_each_iterations_tokens() {
    let w = workload(&[(0.0, 10, 3), (0.0, 6, 2)]);
    let mut c = config(SchedulerKind::VllmV0);
    c.record_timeline = true;
    let r = run(vec![const_replica(0.01, 100, 16)], c, &w);
    let track = CounterTrack {
        name: "pairs".into(),
        series: vec![("rank 0".into(), 6.0), ("rank \"1\"".into(), 2.0)],
        replicas: None,
    };
    let with = chrome_trace_with(&r, std::slice::from_ref(&track));
    // Without tracks: the plain trace.
    assert_eq!(chrome_trace_with(&r, &[]), chrome_trace(&r));
    // A track limited to other replicas draws nothing here.
    let elsewhere = CounterTrack {
        replicas: Some(1..3),
        ..track.clone()
    };
    assert_eq!(chrome_trace_with(&r, &[elsewhere]), chrome_trace(&r));
    let ev = events(&with);
    let spans: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "X").collect();
    let counters: Vec<&Value> = ev
        .iter()
        .filter(|e| e["name"] == "pairs (stage 0)")
        .collect();
    assert_eq!(counters.len(), 2 * spans.len());
    // Prefill of 16 tokens, then decodes of 2 and 1 requests.
    let tokens: Vec<u64> = spans
        .iter()
        .map(|s| {
            s["args"]["prefill_tokens"].as_u64().unwrap()
                + s["args"]["decode_requests"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(tokens, vec![16, 2, 1]);
    for (i, s) in spans.iter().enumerate() {
        let (on, off) = (counters[2 * i], counters[2 * i + 1]);
        assert_eq!(on["ts"], s["ts"]);
        assert_eq!(on["args"]["rank 0"].as_f64(), Some(6.0 * tokens[i] as f64));
        assert_eq!(
            on["args"]["rank \"1\""].as_f64(),
            Some(2.0 * tokens[i] as f64)
        );
        assert_eq!(off["args"]["rank 0"].as_f64(), Some(0.0));
    }
}
