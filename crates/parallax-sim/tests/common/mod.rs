//! Shared test helpers: constant and affine stage costs and replica builders.
#![allow(dead_code)]

use parallax_ir::{Batch, OpKind};
use parallax_sim::workload::{Request, Workload};
use parallax_sim::*;
use std::sync::Arc;

/// Every iteration takes `seconds`, whatever the batch.
#[derive(Debug)]
pub struct ConstCost(pub f64);

impl StageCost for ConstCost {
    fn step(&self, _: &Batch) -> StepCost {
        StepCost::constant(self.0, OpKind::Gemm)
    }
}

/// `base + per_token × tokens + per_ctx × decode context sum` seconds, with FLOPs and bytes.
#[derive(Debug)]
pub struct AffineCost {
    pub base: f64,
    pub per_token: f64,
    pub per_ctx: f64,
}

impl StageCost for AffineCost {
    fn step(&self, b: &Batch) -> StepCost {
        let gemm = self.per_token * b.tokens() as f64;
        let attn = self.per_ctx * b.decode.context_sum as f64;
        let mut breakdown = [0.0; 5];
        breakdown[OpKind::Gemm as usize] = gemm;
        breakdown[OpKind::Attention as usize] = attn;
        breakdown[OpKind::Overhead as usize] = self.base;
        StepCost {
            seconds: self.base + gemm + attn,
            breakdown,
            flops: 2e9 * b.tokens() as f64,
            bytes: 1e9 + 1e5 * b.decode.context_sum as f64,
        }
    }
}

pub fn replica(stages: Vec<Arc<dyn StageCost>>, kv_blocks: u64, block_size: u32) -> ReplicaSpec {
    ReplicaSpec {
        stages,
        kv_blocks,
        block_size,
        gpus: 1,
        power: PowerModel {
            idle_watts: 100.0,
            busy_watts: 700.0,
        },
        peak_flops: 1e15,
        peak_bandwidth: 3e12,
    }
}

pub fn const_replica(seconds: f64, kv_blocks: u64, block_size: u32) -> ReplicaSpec {
    replica(vec![Arc::new(ConstCost(seconds))], kv_blocks, block_size)
}

pub fn affine() -> Arc<dyn StageCost> {
    Arc::new(AffineCost {
        base: 0.004,
        per_token: 2e-6,
        per_ctx: 1e-8,
    })
}

pub fn workload(reqs: &[(f64, u32, u32)]) -> Workload {
    Workload::new(
        "test",
        reqs.iter()
            .enumerate()
            .map(|(i, &(t, p, o))| Request {
                id: i as u64,
                arrival_s: t,
                prompt_tokens: p,
                output_tokens: o,
                prefix: None,
            })
            .collect(),
    )
    .unwrap()
}

pub fn config(kind: SchedulerKind) -> SimConfig {
    SimConfig {
        scheduler: SchedulerConfig::new(kind),
        ..Default::default()
    }
}

pub fn run(replicas: Vec<ReplicaSpec>, cfg: SimConfig, w: &Workload) -> SimReport {
    Simulator::new(replicas, cfg).unwrap().run(w).unwrap()
}

/// Every non-rejected request completed with exactly its output tokens, times are ordered.
pub fn assert_conserved(w: &Workload, rep: &SimReport) {
    assert_eq!(rep.requests.len(), w.len());
    assert_eq!(rep.metrics.requests.unfinished, 0, "stalled requests");
    let mut out = 0u64;
    for (r, q) in rep.requests.iter().zip(&w.requests) {
        assert_eq!(r.id, q.id);
        assert_eq!(r.output_tokens, q.output_tokens);
        if r.rejected.is_some() {
            assert!(!r.completed);
            continue;
        }
        assert!(r.completed, "request {} not completed", r.id);
        assert!(r.scheduled_s >= r.arrival_s, "{r:?}");
        assert!(r.first_token_s > r.scheduled_s, "{r:?}");
        assert!(r.finish_s >= r.first_token_s, "{r:?}");
        if r.output_tokens > 1 {
            assert!(r.finish_s > r.first_token_s, "{r:?}");
        }
        out += r.output_tokens as u64;
    }
    assert_eq!(rep.metrics.tokens.output, out);
}
