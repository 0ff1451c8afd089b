//! Simulator throughput: the APEX chat trace (1,024 requests, ~166k output tokens) and a
//! 1,000,000-request synthetic run, under constant and affine stage costs.
//!
//! Run: `cargo bench -p parallax-sim --bench sim`. Each benchmark also prints the simulated
//! iterations once, so iterations/second = iterations / time.

use criterion::{criterion_group, criterion_main, Criterion};
use parallax_ir::{Batch, OpKind};
use parallax_sim::workload::synthetic::{Arrivals, Lengths, SyntheticSpec};
use parallax_sim::*;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
struct Const(f64);

impl StageCost for Const {
    fn step(&self, _: &Batch) -> StepCost {
        StepCost::constant(self.0, OpKind::Gemm)
    }
}

/// Roughly Llama-3.1-70B at tp=8 on H100: 18 ms per step plus 50 µs per token through the
/// GEMMs plus 20 ns per token of decode context.
#[derive(Debug)]
struct Affine;

impl StageCost for Affine {
    fn step(&self, b: &Batch) -> StepCost {
        let gemm = 5e-5 * b.tokens() as f64;
        let attn = 2e-8 * b.decode.context_sum as f64;
        let mut breakdown = [0.0; 5];
        breakdown[OpKind::Gemm as usize] = gemm;
        breakdown[OpKind::Attention as usize] = attn;
        breakdown[OpKind::Overhead as usize] = 0.018;
        StepCost {
            seconds: 0.018 + gemm + attn,
            breakdown,
            flops: 1.75e10 * b.tokens() as f64,
            bytes: 1.8e10 + 4e4 * b.decode.context_sum as f64,
        }
    }
}

fn replica(stage: Arc<dyn StageCost>) -> ReplicaSpec {
    ReplicaSpec {
        stages: vec![stage],
        kv_blocks: 30_000,
        block_size: 16,
        gpus: 8,
        power: PowerModel {
            idle_watts: 100.0,
            busy_watts: 700.0,
        },
        peak_flops: 989e12,
        peak_bandwidth: 3.35e12,
    }
}

fn bench(c: &mut Criterion) {
    let chat = workload::embedded("chat").unwrap();
    for (name, stage) in [
        ("const", Arc::new(Const(0.02)) as Arc<dyn StageCost>),
        ("affine", Arc::new(Affine) as Arc<dyn StageCost>),
    ] {
        for kind in SchedulerKind::ALL {
            let sim = Simulator::new(
                vec![replica(stage.clone())],
                SimConfig {
                    scheduler: SchedulerConfig::new(kind),
                    ..Default::default()
                },
            )
            .unwrap();
            let rep = sim.run(&chat).unwrap();
            eprintln!(
                "chat/{name}/{}: {} iterations, {} completed",
                kind.name(),
                rep.metrics.iterations,
                rep.metrics.requests.completed
            );
            c.bench_function(&format!("chat/{name}/{}", kind.name()), |b| {
                b.iter(|| black_box(sim.run(black_box(&chat)).unwrap().metrics.iterations))
            });
        }
    }

    let million = SyntheticSpec {
        requests: 1_000_000,
        arrivals: Arrivals::Poisson { rate: 20.0 },
        lengths: Lengths::Resample(chat.lengths()),
        seed: 1,
    }
    .generate()
    .unwrap();
    let sim = Simulator::new(vec![replica(Arc::new(Affine))], SimConfig::default()).unwrap();
    let rep = sim.run(&million).unwrap();
    eprintln!(
        "synthetic-1M/affine/vllm: {} iterations, {} completed, makespan {:.0} s",
        rep.metrics.iterations, rep.metrics.requests.completed, rep.metrics.makespan_s
    );
    let mut g = c.benchmark_group("synthetic-1M");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("affine/vllm", |b| {
        b.iter(|| black_box(sim.run(black_box(&million)).unwrap().metrics.iterations))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
