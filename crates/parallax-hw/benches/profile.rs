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
    // A shape the table lacks (the envelope of the nearest family's rescaled time), and the
    // known shape in fp8 (the envelope of its bf16 twin times the roofline's ratio).
    let off_table: Vec<Gemm> = gemms
        .iter()
        .map(|g| Gemm {
            n: 5000,
            k: 3000,
            ..*g
        })
        .collect();
    let fp8: Vec<Gemm> = gemms
        .iter()
        .map(|g| Gemm {
            weight_dtype: DType::Fp8,
            act_dtype: DType::Fp8,
            ..*g
        })
        .collect();
    // Qwen3-30B-A3B's routed experts at 1, 32 and 512 tokens (bf16, one GPU; EP 8).
    let moe = *parallax_ir::resolve("qwen3-30b-a3b")
        .expect("embedded model")
        .first_moe()
        .expect("a MoE layer");
    let bf16 = parallax_ir::Precision::default();
    let moes: Vec<parallax_ir::FusedMoe> = [(1u64, 1u32), (32, 1), (512, 1), (1, 8), (512, 8)]
        .iter()
        .map(|&(t, ep)| parallax_ir::lower::fused_moe_op(&moe, t, 1, ep, &bf16))
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
        g.bench_function(format!("{name}/gemm_off_table"), |b| {
            b.iter(|| {
                off_table
                    .iter()
                    .map(|x| model.gemm(black_box(x)))
                    .sum::<f64>()
            })
        });
        g.bench_function(format!("{name}/gemm_fp8"), |b| {
            b.iter(|| fp8.iter().map(|x| model.gemm(black_box(x))).sum::<f64>())
        });
        g.bench_function(format!("{name}/fused_moe"), |b| {
            b.iter(|| {
                moes.iter()
                    .map(|x| model.fused_moe(black_box(x)))
                    .sum::<f64>()
            })
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
