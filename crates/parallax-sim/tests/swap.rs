//! Preemption by swapping KV to host memory: token conservation under a tiny KV cache (swap
//! and recompute alike), skip-ahead equivalence, transfer pricing, and configuration errors.

use crate::common;

use common::*;
use parallax_ir::{Batch, OpKind};
use parallax_sim::*;
use std::sync::Arc;

/// Constant step time with a host link: `kv` bytes per token at `bw` bytes/s.
#[derive(Debug)]
struct Linked {
    step: f64,
    kv: f64,
    bw: f64,
}

impl StageCost for Linked {
    fn step(&self, b: &Batch) -> StepCost {
        StepCost::constant(self.step + 1e-6 * b.tokens() as f64, OpKind::Gemm)
    }
    fn host_link(&self) -> Option<HostLink> {
        Some(HostLink {
            kv_bytes_per_token: self.kv,
            bandwidth: self.bw,
        })
    }
}

fn linked(stages: usize, blocks: u64) -> ReplicaSpec {
    replica(
        (0..stages)
            .map(|_| {
                Arc::new(Linked {
                    step: 0.002,
                    kv: 1e5,
                    bw: 1e10,
                }) as Arc<dyn StageCost>
            })
            .collect(),
        blocks,
        8,
    )
}

fn cfg(kind: SchedulerKind, mode: PreemptionMode) -> SimConfig {
    SimConfig {
        scheduler: SchedulerConfig {
            max_num_batched_tokens: 4096,
            ..SchedulerConfig::new(kind)
        },
        preemption: mode,
        ..SimConfig::default()
    }
}

fn tight() -> parallax_sim::Workload {
    parallax_sim::workload::spec::generate(
        "synthetic:requests=300,rate=50,prompt=uniform(1,200),output=uniform(1,150),seed=5",
    )
    .unwrap()
}

#[test]
fn swap_and_recompute_conserve_tokens_under_a_tiny_kv_cache() {
    let w = tight();
    for kind in [
        SchedulerKind::VllmV0,
        SchedulerKind::Chunked,
        SchedulerKind::Orca,
    ] {
        for pp in [1, 2] {
            for mode in [PreemptionMode::Recompute, PreemptionMode::Swap] {
                let c = cfg(kind, mode);
                let fast = run(vec![linked(pp, 90)], c, &w);
                let slow = run(
                    vec![linked(pp, 90)],
                    SimConfig {
                        skip_ahead: false,
                        ..c
                    },
                    &w,
                );
                assert_eq!(
                    fast, slow,
                    "{kind:?} pp={pp} {mode:?}: skip-ahead changed results"
                );
                let m = &fast.metrics;
                let what = format!("{kind:?} pp={pp} {mode:?}");
                assert_eq!(m.requests.unfinished, 0, "{what}");
                let done: Vec<_> = fast.requests.iter().filter(|r| r.completed).collect();
                assert_eq!(done.len() as u64 + m.requests.rejected, 300, "{what}");
                assert_eq!(
                    m.tokens.output,
                    done.iter().map(|r| r.output_tokens as u64).sum::<u64>(),
                    "{what}"
                );
                assert!(
                    m.requests.preemptions > 0,
                    "{what}: the cache must be tight"
                );
                match mode {
                    PreemptionMode::Swap => {
                        let s = m.swap.expect("swap metrics");
                        assert!(s.swap_outs > 0, "{what}");
                        // Every swapped-out request came back (all completed).
                        assert_eq!(s.swap_outs, s.swap_ins, "{what}");
                        assert!((s.bytes - s.tokens as f64 * 1e5 * pp as f64).abs() < 1.0);
                        // Transfer time: bytes over the link, per stage.
                        let want = s.tokens as f64 * 1e5 / 1e10 * pp as f64;
                        assert!((s.transfer_s - want).abs() < 1e-9, "{what}");
                        assert!(m.requests.preemptions >= s.swap_outs);
                    }
                    PreemptionMode::Recompute => {
                        assert!(m.swap.is_none());
                        assert!(m.tokens.recomputed > 0, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn swapping_recomputes_less_than_recompute() {
    let w = tight();
    let rec = run(
        vec![linked(1, 90)],
        cfg(SchedulerKind::VllmV0, PreemptionMode::Recompute),
        &w,
    );
    let swp = run(
        vec![linked(1, 90)],
        cfg(SchedulerKind::VllmV0, PreemptionMode::Swap),
        &w,
    );
    assert!(swp.metrics.tokens.recomputed < rec.metrics.tokens.recomputed);
}

#[test]
fn a_full_host_swap_space_falls_back_to_recompute() {
    let w = tight();
    let mut c = cfg(SchedulerKind::VllmV0, PreemptionMode::Swap);
    c.swap_space_bytes_per_gpu = 0.0;
    let r = run(vec![linked(1, 90)], c, &w);
    assert_eq!(r.metrics.swap.unwrap().swap_outs, 0);
    assert!(r.metrics.requests.preemptions > 0);
    assert_eq!(r.metrics.requests.unfinished, 0);
}

#[test]
fn swapping_needs_a_host_link() {
    let c = cfg(SchedulerKind::VllmV0, PreemptionMode::Swap);
    let e = Simulator::new(vec![const_replica(0.01, 100, 16)], c).unwrap_err();
    assert!(
        e.to_string().contains("replicas[0].stages[0].host_link"),
        "{e}"
    );
    let mut c = c;
    c.swap_space_bytes_per_gpu = f64::NAN;
    assert!(Simulator::new(vec![linked(1, 100)], c).is_err());
    assert!("swap".parse::<PreemptionMode>().is_ok());
    assert!("drop".parse::<PreemptionMode>().is_err());
}

#[test]
fn the_timeline_shows_swaps() {
    let w = tight();
    let mut c = cfg(SchedulerKind::VllmV0, PreemptionMode::Swap);
    c.record_timeline = true;
    let r = run(vec![linked(1, 90)], c, &w);
    let moved: u64 = r
        .timeline
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.swap_tokens)
        .sum();
    assert_eq!(moved, r.metrics.swap.unwrap().tokens);
    assert!(moved > 0);
    assert!(chrome_trace(&r).contains("\"swap_tokens\":"));
}

/// Reserving each request's whole KV at admission (TensorRT-LLM's GUARANTEED_NO_EVICT): under
/// the same tiny cache no request is ever preempted, every one completes, skip-ahead changes
/// nothing, and queueing for KV room makes waiting longer than under preemption.
#[test]
fn reserving_to_completion_never_preempts() {
    let w = tight();
    for kind in [
        SchedulerKind::VllmV0,
        SchedulerKind::Chunked,
        SchedulerKind::Orca,
        SchedulerKind::PrefillFirst,
    ] {
        for pp in [1, 2] {
            let base = cfg(kind, PreemptionMode::Recompute);
            let c = SimConfig {
                scheduler: SchedulerConfig {
                    reserve_to_completion: true,
                    ..base.scheduler
                },
                ..base
            };
            let fast = run(vec![linked(pp, 90)], c, &w);
            let slow = run(
                vec![linked(pp, 90)],
                SimConfig {
                    skip_ahead: false,
                    ..c
                },
                &w,
            );
            let what = format!("{kind:?} pp={pp}");
            assert_eq!(fast, slow, "{what}: skip-ahead changed results");
            let m = &fast.metrics;
            assert_eq!(m.requests.preemptions, 0, "{what}");
            assert_eq!(m.tokens.recomputed, 0, "{what}");
            assert_eq!(m.requests.unfinished, 0, "{what}");
            assert_eq!(m.requests.completed + m.requests.rejected, 300, "{what}");
            assert_conserved(&w, &fast);
            let evicting = run(vec![linked(pp, 90)], base, &w);
            assert!(
                m.queue_ms.mean > evicting.metrics.queue_ms.mean,
                "{what}: {} vs {}",
                m.queue_ms.mean,
                evicting.metrics.queue_ms.mean
            );
        }
    }
}
