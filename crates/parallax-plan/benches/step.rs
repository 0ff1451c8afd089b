//! Cost of `StageCost::step` (cached and cold), of lowering a plan, of one-iteration
//! prediction, and of enumerating a plan space.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{enumerate, lower_plan, predict, Constraints, LowerOptions, Plan};
use parallax_sim::StageCost;
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = "tp=8".parse().unwrap();
    let opts = LowerOptions::default();
    let lowered = lower_plan(&model, &plan, &cluster, cost.clone(), &opts).unwrap();
    let stage = lowered.stages[0][0].clone();
    let decode = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(64, 1500),
    };
    stage.step(&decode);
    c.bench_function("step_cached_decode_70b_tp8", |b| {
        b.iter(|| black_box(stage.step(black_box(&decode))))
    });
    let mixed = Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 448,
            prefix: 1024,
        }],
        decode: DecodeGroup::uniform(64, 1500),
    };
    stage.step(&mixed);
    c.bench_function("step_cached_mixed_70b_tp8", |b| {
        b.iter(|| black_box(stage.step(black_box(&mixed))))
    });
    c.bench_function("step_cold_decode_70b_tp8", |b| {
        b.iter(|| black_box(stage.step_uncached(black_box(&decode))))
    });
    let rep: Plan = "pp=2,tp=4,attn=2xtp2".parse().unwrap();
    c.bench_function("lower_plan_70b_pp2_attn2", |b| {
        b.iter(|| black_box(lower_plan(&model, &rep, &cluster, cost.clone(), &opts).unwrap()))
    });
    c.bench_function("predict_70b_tp8_decode", |b| {
        b.iter(|| black_box(predict(&model, &cluster, 8, &decode, true, cost.clone()).unwrap()))
    });
    c.bench_function("enumerate_70b_1x8", |b| {
        b.iter(|| black_box(enumerate(&model, &cluster, &Constraints::default()).unwrap()))
    });
    let ds = parallax_ir::resolve("deepseek-v3").unwrap();
    let big = Cluster::parse("8x8xH100").unwrap();
    c.bench_function("enumerate_deepseek_v3_8x8", |b| {
        b.iter(|| black_box(enumerate(&ds, &big, &Constraints::default()).unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
