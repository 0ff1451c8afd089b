//! GPU specifications.

use crate::error::HwError;
use crate::topology::LinkKind;
use parallax_ir::DType;
use serde::{Deserialize, Serialize};

/// Dense (non-sparse) peak throughput per data type, in FLOP/s (integer ops for int types).
/// `None` where the GPU has no native support for the type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeakFlops {
    /// fp32 on the vector units (not TF32 tensor cores).
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
    /// fp4 (E2M1, NVFP4/MXFP4) tensor core (Blackwell).
    #[serde(default)]
    pub fp4: Option<f64>,
}

/// A GPU's architecture (its generation of tensor cores and memory system), as the catalog
/// records it. The calibrated roofline uses it where measurements show a generation's kernels
/// reaching a different share of its datasheet peak ([`crate::RooflineModel::calibrated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuArchitecture {
    /// NVIDIA Ampere (A100).
    Ampere,
    /// NVIDIA Ada Lovelace (L40S).
    Ada,
    /// NVIDIA Hopper (H100, H200).
    Hopper,
    /// NVIDIA Blackwell and Blackwell Ultra (B200, GB200, B300, GB300).
    Blackwell,
    /// AMD CDNA 3 (MI300X).
    Cdna3,
    /// Not recorded (a GPU described outside the catalog).
    #[default]
    Other,
}

/// Largest price a GPU may be given, USD per GPU-hour (a million: well above any rental).
pub const MAX_PRICE_PER_HOUR: f64 = 1e6;

/// One GPU model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    /// Canonical name, e.g. `H100-SXM`.
    pub name: String,
    /// Other accepted names (case-insensitive), e.g. `H100`, `h100-sxm5-80gb`.
    pub aliases: Vec<String>,
    /// Vendor (`nvidia`, `amd`).
    pub vendor: String,
    /// Architecture (generation).
    #[serde(default)]
    pub architecture: GpuArchitecture,
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
    /// The intra-node fabric that clusters of this GPU get by default.
    pub scale_up_kind: LinkKind,
    /// Price per GPU-hour in USD (overridable, see [`Gpu::with_price`]).
    pub price_per_hour: f64,
    /// Streaming multiprocessors (NVIDIA) or compute units (AMD): the number of GEMM tiles
    /// that run at once, used for wave quantisation by the roofline model.
    pub compute_units: u32,
    /// Datasheet references for the figures above.
    pub sources: Vec<String>,
}

impl Gpu {
    /// GPUs that one scale-up domain of this kind joins (the widest node a deployment can
    /// use at full link speed): 72 for GB200 and GB300 (an NVL72 rack), else 8 (an HGX or
    /// OAM board, or an 8-GPU PCIe server).
    pub fn scale_up_domain(&self) -> u32 {
        if matches!(self.name.as_str(), "GB200" | "GB300") {
            72
        } else {
            8
        }
    }

    /// The same GPU at another price per GPU-hour (USD).
    ///
    /// # Errors
    /// [`HwError::InvalidValue`] when `price_per_hour` is negative or not finite.
    ///
    /// # Examples
    /// ```
    /// let h100 = parallax_hw::catalog::gpu("H100")?.with_price(2.10)?;
    /// assert_eq!(h100.price_per_hour, 2.10);
    /// # Ok::<(), parallax_hw::HwError>(())
    /// ```
    pub fn with_price(mut self, price_per_hour: f64) -> Result<Gpu, HwError> {
        if !(price_per_hour.is_finite() && (0.0..=MAX_PRICE_PER_HOUR).contains(&price_per_hour)) {
            return Err(HwError::InvalidValue {
                what: format!("price_per_hour of {}", self.name),
                value: parallax_ir::error::compact(price_per_hour),
                expected: format!("a USD amount per GPU-hour from 0 to {MAX_PRICE_PER_HOUR:e}"),
            });
        }
        self.price_per_hour = price_per_hour;
        Ok(self)
    }

    /// True when `name` is this GPU's canonical name or one of its aliases (ASCII
    /// case-insensitive; `_` and spaces count as `-`).
    pub fn matches(&self, name: &str) -> bool {
        let want = normalise_name(name);
        normalise_name(&self.name) == want || self.aliases.iter().any(|a| normalise_name(a) == want)
    }

    /// Dense peak FLOP/s for computing in `dtype`. Types without native tensor-core support fall
    /// back as [`Gpu::tensor_path`] says (int4 → int8 → fp8 → bf16; fp4 → bf16).
    pub fn peak_flops(&self, dtype: DType) -> f64 {
        let p = &self.peak;
        match self.tensor_path(dtype) {
            DType::F32 => p.fp32,
            DType::Bf16 => p.bf16,
            DType::F16 => p.fp16,
            DType::Fp8 => p.fp8.unwrap_or(p.bf16),
            DType::Int8 => p.int8.unwrap_or(p.bf16),
            DType::Int4 => p.int4.unwrap_or(p.bf16),
            DType::Fp4 => p.fp4.unwrap_or(p.bf16),
        }
    }

    /// The tensor-core type GEMMs computing in `dtype` run on: `dtype` itself where the GPU
    /// has it, else the next wider one it has (int4 → int8 → fp8 → bf16), as
    /// [`Gpu::peak_flops`] prices them. Fp4 without fp4 tensor cores runs on the 16-bit path:
    /// engines run such checkpoints weight-only, dequantising the fp4 weights inside a 16-bit
    /// GEMM (vLLM's NVFP4 and MXFP4 layers use its FP4 Marlin kernels, W4A16, on every GPU
    /// from compute capability 8.0 that lacks native fp4, as Hopper does; no engine runs fp4
    /// weights on Hopper's fp8 path by default).
    ///
    /// # Examples
    /// ```
    /// use parallax_hw::catalog;
    /// use parallax_ir::DType;
    /// let h100 = catalog::gpu("H100").unwrap();
    /// assert_eq!(h100.tensor_path(DType::Fp4), DType::Bf16);
    /// assert_eq!(h100.tensor_path(DType::Int4), DType::Int8);
    /// assert_eq!(catalog::gpu("B200").unwrap().tensor_path(DType::Fp4), DType::Fp4);
    /// ```
    pub fn tensor_path(&self, dtype: DType) -> DType {
        let p = &self.peak;
        let has = |d: DType| match d {
            DType::Fp8 => p.fp8.is_some(),
            DType::Int8 => p.int8.is_some(),
            DType::Int4 => p.int4.is_some(),
            DType::Fp4 => p.fp4.is_some(),
            _ => true,
        };
        let chain: &[DType] = match dtype {
            DType::Int4 => &[DType::Int4, DType::Int8, DType::Fp8],
            DType::Int8 => &[DType::Int8, DType::Fp8],
            DType::Fp4 => &[DType::Fp4],
            DType::Fp8 => &[DType::Fp8],
            other => return other,
        };
        chain
            .iter()
            .copied()
            .find(|&d| has(d))
            .unwrap_or(DType::Bf16)
    }
}

/// Lower-case a GPU name and unify separators, for lookups.
pub(crate) fn normalise_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}
