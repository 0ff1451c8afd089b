//! Shared test helpers: the median of a sample and a single GEMM of one type.
#![allow(dead_code)]

use parallax_ir::{DType, Gemm};

/// The median of `v` (the mean of the two middle values for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "the median of no values");
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One `m × n × k` GEMM with weights and inputs of type `dtype`.
pub fn gemm(m: u64, n: u64, k: u64, dtype: DType) -> Gemm {
    Gemm {
        m,
        n,
        k,
        count: 1,
        weight_dtype: dtype,
        act_dtype: dtype,
    }
}

/// The op a `fused_moe` table row timed with its tokens spread over as many of the device's
/// experts as possible (aiconfigurator's `balanced` sweeps): `tokens · top_k` pairs over
/// `min(pairs, experts)` experts, the busiest with `ceil(pairs / active)` rows.
pub fn spread_op(r: &parallax_hw::profile::FusedMoePoint) -> parallax_ir::FusedMoe {
    let pairs = r.tokens * r.top_k as u64;
    let active = pairs.min(r.experts as u64) as u32;
    parallax_ir::FusedMoe {
        tokens: r.tokens,
        assignments: pairs,
        active_experts: active,
        local_experts: r.experts,
        layer_experts: r.layer_experts,
        ep: r.layer_experts / r.experts.max(1),
        top_k: r.top_k,
        max_rows: pairs.div_ceil(active.max(1) as u64),
        hidden: r.hidden,
        intermediate: r.intermediate,
        gated: true,
        weight_dtype: r.dtype,
        act_dtype: r.act_dtype,
        block_scales: r.block_scales,
    }
}
