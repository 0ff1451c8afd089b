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
}

impl DType {
    /// Every data type, in a stable order.
    pub const ALL: [DType; 6] = [
        DType::F32,
        DType::Bf16,
        DType::F16,
        DType::Fp8,
        DType::Int8,
        DType::Int4,
    ];

    /// Storage size of one element in bytes (0.5 for int4).
    pub fn bytes(self) -> f64 {
        match self {
            DType::F32 => 4.0,
            DType::Bf16 | DType::F16 => 2.0,
            DType::Fp8 | DType::Int8 => 1.0,
            DType::Int4 => 0.5,
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
#[error("unknown data type `{0}`: expected one of fp32, bf16, fp16, fp8, int8, int4")]
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
            _ => return Err(UnknownDType(s.to_string())),
        })
    }
}

/// Data types kept separately for weights, activations and the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Precision {
    /// Type of stored weights.
    pub weights: DType,
    /// Type of activations and GEMM compute.
    pub activations: DType,
    /// Type of KV-cache entries.
    pub kv_cache: DType,
}

impl Precision {
    /// The same type for all three classes.
    pub fn uniform(d: DType) -> Self {
        Precision {
            weights: d,
            activations: d,
            kv_cache: d,
        }
    }
}

impl Default for Precision {
    fn default() -> Self {
        Precision::uniform(DType::Bf16)
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
    }
}
