//! GPU specifications.

use parallax_ir::DType;
use serde::{Deserialize, Serialize};

/// Dense (non-sparse) peak throughput per data type, in FLOP/s (integer ops for int types).
/// `None` where the GPU has no native support for the type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeakFlops {
    /// fp32 (non-tensor-core or TF32? see the catalog's notes; we record plain FP32 vector).
    pub fp32: f64,
    /// bf16 tensor core.
    pub bf16: f64,
    /// fp16 tensor core.
    pub fp16: f64,
    /// fp8 tensor core.
    pub fp8: Option<f64>,
    /// int8 tensor core.
    pub int8: Option<f64>,
    /// int4 tensor core.
    pub int4: Option<f64>,
}

/// One GPU model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    /// Canonical name, e.g. `H100-SXM`.
    pub name: String,
    /// Other accepted names (case-insensitive), e.g. `H100`, `h100-sxm5-80gb`.
    pub aliases: Vec<String>,
    /// Vendor (`nvidia`, `amd`).
    pub vendor: String,
    /// Dense peak throughput.
    pub peak: PeakFlops,
    /// HBM / device memory capacity in bytes.
    pub memory_bytes: u64,
    /// Memory bandwidth in bytes/s.
    pub memory_bandwidth: f64,
    /// Thermal design power in watts.
    pub tdp_watts: f64,
    /// Idle power in watts.
    pub idle_watts: f64,
    /// Scale-up link bandwidth (NVLink / Infinity Fabric / PCIe), bytes/s per direction per GPU.
    pub scale_up_bandwidth: f64,
    /// Price per GPU-hour in USD (overridable).
    pub price_per_hour: f64,
    /// Datasheet references for the figures above.
    pub sources: Vec<String>,
}

impl Gpu {
    /// Dense peak FLOP/s for computing in `dtype`. Types without native tensor-core support fall
    /// back to the next wider supported type (int4 → int8 → fp8 → bf16).
    pub fn peak_flops(&self, dtype: DType) -> f64 {
        let p = &self.peak;
        match dtype {
            DType::F32 => p.fp32,
            DType::Bf16 => p.bf16,
            DType::F16 => p.fp16,
            DType::Fp8 => p.fp8.unwrap_or(p.bf16),
            DType::Int8 => p.int8.or(p.fp8).unwrap_or(p.bf16),
            DType::Int4 => p.int4.or(p.int8).or(p.fp8).unwrap_or(p.bf16),
        }
    }
}
