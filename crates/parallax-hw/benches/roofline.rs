//! Cost of single roofline model calls (the simulator makes many of them).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use parallax_hw::{catalog, CostModel, RooflineModel};
use parallax_ir::{AttentionShape, DType, DecodeGroup, Gemm};

fn bench(c: &mut Criterion) {
    let gpu = match catalog::gpu("H100") {
        Ok(g) => g,
        Err(e) => panic!("catalog: {e}"),
    };
    let model = RooflineModel::new(&gpu);
    let g = Gemm {
        m: 512,
        n: 6144,
        k: 4096,
        count: 1,
        weight_dtype: DType::Bf16,
        act_dtype: DType::Bf16,
    };
    c.bench_function("roofline_gemm", |b| b.iter(|| model.gemm(black_box(&g))));
    let shape = AttentionShape {
        heads: 32,
        kv_heads: 8,
        qk_head_dim: 128,
        v_head_dim: 128,
        kv_bytes_per_token: 2.0 * 8.0 * 128.0 * 2.0,
        window: None,
        act_dtype: DType::Bf16,
        kv_dtype: DType::Bf16,
    };
    let d = DecodeGroup::uniform(64, 2048);
    c.bench_function("roofline_decode_attention", |b| {
        b.iter(|| model.decode_attention(black_box(&shape), black_box(&d)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
