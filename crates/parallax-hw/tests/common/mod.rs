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
