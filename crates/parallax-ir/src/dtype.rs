//! Numeric data types and the per-tensor-class precision of a model.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A numeric storage / compute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE 754 single precision.
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE 754 half precision.
    F16,
    /// 8-bit floating point (E4M3 / E5M2).
    Fp8,
    /// 8-bit integer.
    Int8,
    /// 4-bit integer (two values per byte).
    Int4,
    /// 4-bit floating point (E2M1, two values per byte): the element type of NVFP4 and MXFP4.
    /// Its block scales (one fp8 per 16 values for NVFP4, one e8m0 per 32 for MXFP4: 3-6% on
    /// top) are not counted, as the group scales of int4 are not.
    Fp4,
}

impl DType {
    /// Every data type, in a stable order.
    pub const ALL: [DType; 7] = [
        DType::F32,
        DType::Bf16,
        DType::F16,
        DType::Fp8,
        DType::Int8,
        DType::Int4,
        DType::Fp4,
    ];

    /// Storage size of one element in bytes (0.5 for int4).
    pub fn bytes(self) -> f64 {
        match self {
            DType::F32 => 4.0,
            DType::Bf16 | DType::F16 => 2.0,
            DType::Fp8 | DType::Int8 => 1.0,
            DType::Int4 | DType::Fp4 => 0.5,
        }
    }

    /// Canonical lowercase name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "fp32",
            DType::Bf16 => "bf16",
            DType::F16 => "fp16",
            DType::Fp8 => "fp8",
            DType::Int8 => "int8",
            DType::Int4 => "int4",
            DType::Fp4 => "fp4",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown data-type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data type `{0}`: expected one of fp32, bf16, fp16, fp8, int8, int4, fp4")]
pub struct UnknownDType(pub String);

impl FromStr for DType {
    type Err = UnknownDType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" | "float" => DType::F32,
            "bf16" | "bfloat16" => DType::Bf16,
            "fp16" | "f16" | "float16" | "half" => DType::F16,
            "fp8" | "f8" | "float8" | "e4m3" | "fp8_e4m3" => DType::Fp8,
            "int8" | "i8" => DType::Int8,
            "int4" | "i4" => DType::Int4,
            "fp4" | "f4" | "float4" | "e2m1" | "fp4_e2m1" => DType::Fp4,
            _ => return Err(UnknownDType(s.to_string())),
        })
    }
}

/// Data types kept separately for weights, activations, GEMM inputs and the KV cache.
///
/// `activations` is the engine's activation type: the residual stream, norms, elementwise ops,
/// collectives and attention queries. `compute` is the type GEMM inputs are quantised to, i.e.
/// the tensor-core path a GEMM runs on: equal to `activations` for unquantised and
/// weight-only quantised models (int4/int8/mxfp4 weights are dequantised to the activation
/// type inside the kernel), fp8 for W8A8 fp8 checkpoints and fp4 for NVFP4 (W4A4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Precision {
    /// Type of stored weights.
    pub weights: DType,
    /// Type of activations (residual stream, elementwise ops, collectives).
    pub activations: DType,
    /// Type of KV-cache entries.
    pub kv_cache: DType,
    /// Type GEMM inputs are quantised to (the tensor-core path GEMMs run on).
    pub compute: DType,
    /// The routed experts' weight type and GEMM-input type where they differ from
    /// `weights` and `compute`: gpt-oss stores its experts in MXFP4 beside bf16 attention,
    /// and deployments quantise MoE layers apart (aiconfigurator's `moe_quant_mode`).
    /// `None`: the experts are stored and run as every other GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experts: Option<(DType, DType)>,
    /// The fp8 weights carry block scales (one per 128×128 block; GEMM inputs one per 1×128
    /// group), as block-scaled checkpoints store them (`weight_block_size`: DeepSeek-V3/R1,
    /// Qwen3's `-FP8` releases) and aiconfigurator's `fp8_block` mode runs them; `false`
    /// (default): per-tensor or per-channel scales. Engines run the two with different
    /// kernels ([`crate::FusedMoe::block_scales`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fp8_block_scales: bool,
    /// The routed experts' block-scale flag where it differs from
    /// [`Precision::fp8_block_scales`] (a checkpoint or deployment that quantises its experts
    /// apart: block-scaled fp8 experts beside per-tensor or 16-bit dense layers, or the
    /// reverse). `None` (default): the same as the dense layers'
    /// ([`Precision::expert_block_scales`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_fp8_block_scales: Option<bool>,
}

/// One line naming every class: `weights fp8 (fp8 GEMMs), activations bf16, kv cache fp8`,
/// with the routed experts where stored apart (`…, routed experts fp4 (bf16 GEMMs), …`).
///
/// # Examples
/// ```
/// use parallax_ir::{DType, Precision, Quantization};
/// let p = Precision::default().quantized(Quantization::Fp8);
/// assert_eq!(p.to_string(), "weights fp8 (fp8 GEMMs), activations bf16, kv cache bf16");
/// ```
impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let block = |d: DType, scaled: bool| {
            if scaled && d == DType::Fp8 {
                " block-scaled"
            } else {
                ""
            }
        };
        let w = self.weights;
        let b = block(w, self.fp8_block_scales);
        write!(f, "weights {w}{b} ({} GEMMs)", self.compute)?;
        if let Some((w, c)) = self.experts {
            let b = block(w, self.expert_block_scales());
            write!(f, ", routed experts {w}{b} ({c} GEMMs)")?;
        }
        write!(
            f,
            ", activations {}, kv cache {}",
            self.activations, self.kv_cache
        )
    }
}

impl Precision {
    /// The same type for all four classes.
    pub fn uniform(d: DType) -> Self {
        Precision {
            weights: d,
            activations: d,
            kv_cache: d,
            compute: d,
            experts: None,
            fp8_block_scales: false,
            expert_fp8_block_scales: None,
        }
    }

    /// Whether the routed experts' fp8 weights carry block scales
    /// ([`Precision::expert_fp8_block_scales`], else [`Precision::fp8_block_scales`]).
    pub fn expert_block_scales(&self) -> bool {
        self.expert_fp8_block_scales
            .unwrap_or(self.fp8_block_scales)
    }

    /// The routed experts' weight type ([`Precision::experts`], else `weights`).
    pub fn expert_weights(&self) -> DType {
        self.experts.map_or(self.weights, |e| e.0)
    }

    /// The routed experts' GEMM-input type ([`Precision::experts`], else `compute`).
    pub fn expert_compute(&self) -> DType {
        self.experts.map_or(self.compute, |e| e.1)
    }

    /// This precision with the routed experts quantised as `q` says (the rest unchanged).
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{DType, Precision, Quantization};
    /// let p = Precision::default().with_experts_quantized(Quantization::Mxfp4);
    /// assert_eq!((p.weights, p.expert_weights(), p.expert_compute()), (DType::Bf16, DType::Fp4, DType::Bf16));
    /// ```
    pub fn with_experts_quantized(self, q: Quantization) -> Self {
        // quantised online per tensor, unless they already were block-scaled fp8
        let keep = q == Quantization::Fp8
            && self.expert_weights() == DType::Fp8
            && self.expert_block_scales();
        Precision {
            experts: Some(q.dtypes(self.activations)),
            expert_fp8_block_scales: Some(keep),
            ..self
        }
    }

    /// The precision of a checkpoint whose `torch_dtype` is `d`: a 16/32-bit type is used
    /// everywhere; an 8- or 4-bit type describes the stored weights only, while activations,
    /// collectives and the KV cache stay in bf16 (what engines run such checkpoints with), and
    /// GEMMs run on the fp8 path for fp8 weights, on the bf16 path (weight-only) otherwise.
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{DType, Precision};
    /// let p = Precision::from_checkpoint_dtype(DType::Fp8);
    /// assert_eq!((p.weights, p.compute, p.activations, p.kv_cache),
    ///            (DType::Fp8, DType::Fp8, DType::Bf16, DType::Bf16));
    /// assert_eq!(Precision::from_checkpoint_dtype(DType::F16), Precision::uniform(DType::F16));
    /// ```
    pub fn from_checkpoint_dtype(d: DType) -> Self {
        match d {
            DType::F32 | DType::Bf16 | DType::F16 => Precision::uniform(d),
            DType::Fp8 => Precision {
                weights: DType::Fp8,
                compute: DType::Fp8,
                ..Precision::uniform(DType::Bf16)
            },
            DType::Int8 | DType::Int4 | DType::Fp4 => Precision {
                weights: d,
                ..Precision::uniform(DType::Bf16)
            },
        }
    }

    /// This precision with the weights (and GEMM inputs, for the W8A8/W4A4 schemes) quantised
    /// as `q` says, with per-tensor scales as engines quantise online
    /// ([`Precision::fp8_block_scales`] off, unless the weights already were block-scaled fp8
    /// and `q` is fp8); activations, the KV cache and experts stored apart
    /// ([`Precision::experts`], with their block scales) are unchanged. Experts stored with
    /// the other weights are quantised with them.
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{DType, Precision, Quantization};
    /// let bf16 = Precision::default();
    /// let fp8 = bf16.quantized(Quantization::Fp8);
    /// assert_eq!((fp8.weights, fp8.compute, fp8.activations), (DType::Fp8, DType::Fp8, DType::Bf16));
    /// let int4 = bf16.quantized(Quantization::Int4);
    /// assert_eq!((int4.weights, int4.compute), (DType::Int4, DType::Bf16));
    /// ```
    pub fn quantized(self, q: Quantization) -> Self {
        let (weights, compute) = q.dtypes(self.activations);
        Precision {
            weights,
            compute,
            // engines quantise online per tensor (vLLM's `--quantization fp8`), but a
            // checkpoint already in block-scaled fp8 loads its own scales
            fp8_block_scales: self.fp8_block_scales
                && q == Quantization::Fp8
                && self.weights == DType::Fp8,
            // experts stored apart keep theirs; the others follow the dense weights
            expert_fp8_block_scales: self.experts.map(|_| self.expert_block_scales()),
            ..self
        }
    }

    /// This precision with the KV cache stored as `kv` says (`Auto` keeps it).
    pub fn with_kv_cache(self, kv: KvCacheDtype) -> Self {
        Precision {
            kv_cache: kv.dtype().unwrap_or(self.kv_cache),
            ..self
        }
    }

    /// This precision as an engine deploys it with `--quantization q` (`None`: the
    /// checkpoint's own, `self`) and `--kv-cache-dtype kv`: the CLI's and Python's precision
    /// options.
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{DType, KvCacheDtype, Precision, Quantization};
    /// let p = Precision::default().deployed(Some(Quantization::Fp8), KvCacheDtype::Fp8);
    /// assert_eq!((p.compute, p.kv_cache), (DType::Fp8, DType::Fp8));
    /// assert_eq!(Precision::default().deployed(None, KvCacheDtype::Auto), Precision::default());
    /// ```
    pub fn deployed(self, q: Option<Quantization>, kv: KvCacheDtype) -> Self {
        q.map_or(self, |q| self.quantized(q)).with_kv_cache(kv)
    }
}

impl Default for Precision {
    fn default() -> Self {
        Precision::uniform(DType::Bf16)
    }
}

/// A weight-quantisation scheme as serving engines run it (`--quantization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// W8A8 fp8: fp8 weights, activations quantised to fp8 per token, fp8 tensor cores
    /// (vLLM `fp8`, `fbgemm_fp8`, compressed-tensors float8, ModelOpt FP8).
    Fp8,
    /// Weight-only int8 (W8A16, GPTQ 8-bit): memory-bound dequantising GEMMs on the
    /// activation type's tensor cores.
    Int8,
    /// Weight-only int4 (W4A16: GPTQ / AWQ 4-bit, Marlin kernels).
    Int4,
    /// Weight-only MXFP4 (gpt-oss): fp4 weights with e8m0 block scales, dequantised to the
    /// activation type.
    Mxfp4,
    /// NVFP4 W4A4: fp4 weights and activations with fp8 block scales, fp4 tensor cores
    /// (Blackwell; elsewhere the GPU's next wider path, see `Gpu::peak_flops`).
    Nvfp4,
}

impl Quantization {
    /// Every scheme, in CLI order.
    pub const ALL: [Quantization; 5] = [
        Quantization::Fp8,
        Quantization::Int8,
        Quantization::Int4,
        Quantization::Mxfp4,
        Quantization::Nvfp4,
    ];

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Quantization::Fp8 => "fp8",
            Quantization::Int8 => "int8",
            Quantization::Int4 => "int4",
            Quantization::Mxfp4 => "mxfp4",
            Quantization::Nvfp4 => "nvfp4",
        }
    }

    /// `(weights, compute)` types of the scheme for a model whose activations are `act`.
    pub fn dtypes(self, act: DType) -> (DType, DType) {
        match self {
            Quantization::Fp8 => (DType::Fp8, DType::Fp8),
            Quantization::Int8 => (DType::Int8, act),
            Quantization::Int4 => (DType::Int4, act),
            Quantization::Mxfp4 => (DType::Fp4, act),
            Quantization::Nvfp4 => (DType::Fp4, DType::Fp4),
        }
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown quantisation or KV-cache type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`: expected one of {expected}")]
pub struct UnknownScheme {
    /// What was being parsed.
    pub what: &'static str,
    /// The value as written.
    pub value: String,
    /// The accepted names.
    pub expected: &'static str,
}

impl FromStr for Quantization {
    type Err = UnknownScheme;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantization::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownScheme {
                what: "quantization",
                value: s.to_string(),
                expected: "fp8, int8, int4, mxfp4, nvfp4",
            })
    }
}

/// The KV-cache type an engine stores (`--kv-cache-dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvCacheDtype {
    /// The checkpoint's: its KV-cache quantisation when it declares one, else the activation
    /// type (vLLM's `auto`).
    Auto,
    /// fp8 (E4M3) entries.
    Fp8,
    /// bf16 entries.
    Bf16,
}

impl KvCacheDtype {
    /// The forced type, `None` for `Auto`.
    pub fn dtype(self) -> Option<DType> {
        match self {
            KvCacheDtype::Auto => None,
            KvCacheDtype::Fp8 => Some(DType::Fp8),
            KvCacheDtype::Bf16 => Some(DType::Bf16),
        }
    }

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            KvCacheDtype::Auto => "auto",
            KvCacheDtype::Fp8 => "fp8",
            KvCacheDtype::Bf16 => "bf16",
        }
    }
}

impl FromStr for KvCacheDtype {
    type Err = UnknownScheme;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [KvCacheDtype::Auto, KvCacheDtype::Fp8, KvCacheDtype::Bf16]
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownScheme {
                what: "KV-cache dtype",
                value: s.to_string(),
                expected: "auto, fp8, bf16",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
        }
        assert!("fp7".parse::<DType>().is_err());
        for q in Quantization::ALL {
            assert_eq!(q.name().parse::<Quantization>().unwrap(), q);
        }
        let e = "fp6".parse::<Quantization>().unwrap_err().to_string();
        assert!(e.contains("`fp6`") && e.contains("nvfp4"), "{e}");
        assert_eq!("FP8".parse::<KvCacheDtype>().unwrap(), KvCacheDtype::Fp8);
        assert!("int8".parse::<KvCacheDtype>().is_err());
    }

    #[test]
    fn quantization_keeps_activations() {
        for q in Quantization::ALL {
            let p = Precision::default()
                .quantized(q)
                .with_kv_cache(KvCacheDtype::Fp8);
            assert_eq!(p.activations, DType::Bf16);
            assert_eq!(p.kv_cache, DType::Fp8);
            assert!(p.weights.bytes() < 2.0);
        }
        let p = Precision::default().with_kv_cache(KvCacheDtype::Auto);
        assert_eq!(p, Precision::default());
    }
}
