//! Simulate 1,000,000 synthetic requests (chat lengths resampled, Poisson 20 req/s) once and
//! print timing; used to measure peak RSS (`/usr/bin/time -v`).

use parallax_ir::{Batch, OpKind};
use parallax_sim::workload::synthetic::{Arrivals, Lengths, SyntheticSpec};
use parallax_sim::*;
use std::sync::Arc;

#[derive(Debug)]
struct Affine;

impl StageCost for Affine {
    fn step(&self, b: &Batch) -> StepCost {
        let s = 0.018 + 5e-5 * b.tokens() as f64 + 2e-8 * b.decode.context_sum as f64;
        StepCost::constant(s, OpKind::Gemm)
    }
}

fn main() -> Result<(), SimError> {
    let chat = workload::embedded("chat")?;
    let w = SyntheticSpec {
        requests: 1_000_000,
        arrivals: Arrivals::Poisson { rate: 20.0 },
        lengths: Lengths::Resample(chat.lengths()),
        seed: 1,
    }
    .generate()?;
    let replica = ReplicaSpec {
        stages: vec![Arc::new(Affine)],
        kv_blocks: 30_000,
        block_size: 16,
        gpus: 8,
        power: PowerModel {
            idle_watts: 100.0,
            busy_watts: 700.0,
        },
        peak_flops: 989e12,
        peak_bandwidth: 3.35e12,
    };
    let t = std::time::Instant::now();
    let rep = Simulator::new(vec![replica], SimConfig::default())?.run(&w)?;
    let dt = t.elapsed().as_secs_f64();
    let m = &rep.metrics;
    println!(
        "requests {} completed {} iterations {} in {:.3} s ({:.1} M iterations/s); ttft p50 {:.1} ms, tpot p50 {:.1} ms",
        m.requests.total,
        m.requests.completed,
        m.iterations,
        dt,
        m.iterations as f64 / dt / 1e6,
        m.ttft_ms.p50,
        m.tpot_ms.p50
    );
    Ok(())
}
