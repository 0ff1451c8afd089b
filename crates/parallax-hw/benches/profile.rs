//! A profiled lookup must cost within 2× of a roofline evaluation.
//!
//! Run with `cargo bench -p parallax-hw --bench profile`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use parallax_hw::profile::{embedded_h100, ProfiledCostModel};
use parallax_hw::{Cluster, CostModel, RooflineModel};
use parallax_ir::{AttentionShape, CollectiveKind, DType, DecodeGroup, Gemm, PrefillChunk};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let cluster = Cluster::parse("1x8xH100").expect("valid cluster");
    let roof = RooflineModel::new(&cluster.gpu);
    let prof = ProfiledCostModel::new(&embedded_h100(), Arc::new(roof.clone())).expect("valid");
    // Shapes inside the table's m range but between its points, in a known (n, k) family.
    let gemms: Vec<Gemm> = [3u64, 37, 300, 777, 2500, 9000]
        .iter()
        .map(|&m| Gemm {
            m,
            n: 6144,
            k: 4096,
            count: 1,
            weight_dtype: DType::Bf16,
            act_dtype: DType::Bf16,
        })
        .collect();
    let shape = AttentionShape {
        heads: 32,
        kv_heads: 8,
        qk_head_dim: 128,
        v_head_dim: 128,
        kv_bytes_per_token: 4096.0,
        window: None,
        act_dtype: DType::Bf16,
        kv_dtype: DType::Bf16,
    };
    let chunks = [PrefillChunk {
        new_tokens: 1000,
        prefix: 0,
    }];
    let decode = DecodeGroup::uniform(48, 1500);
    let group = cluster.group(8);
    let mut g = c.benchmark_group("lookup");
    for (name, model) in [
        ("roofline", &roof as &dyn CostModel),
        ("profiled", &prof as &dyn CostModel),
    ] {
        g.bench_function(format!("{name}/gemm"), |b| {
            b.iter(|| gemms.iter().map(|x| model.gemm(black_box(x))).sum::<f64>())
        });
        g.bench_function(format!("{name}/prefill"), |b| {
            b.iter(|| model.prefill_attention(black_box(&shape), black_box(&chunks)))
        });
        g.bench_function(format!("{name}/decode"), |b| {
            b.iter(|| model.decode_attention(black_box(&shape), black_box(&decode)))
        });
        g.bench_function(format!("{name}/all_reduce"), |b| {
            b.iter(|| {
                model.collective(
                    CollectiveKind::AllReduce,
                    black_box(3.0e6),
                    black_box(&group),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
