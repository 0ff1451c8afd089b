//! `--quantization` and `--kv-cache-dtype`, shared by `predict`, `simulate` and `search`.

use crate::output::CliError;
use clap::Args;
use parallax::ir::{KvCacheDtype, Model, Quantization};

/// How the engine stores and computes the model, overriding the checkpoint's own precision.
#[derive(Debug, Clone, Args)]
pub struct PrecisionArgs {
    /// Weight quantisation the engine runs: `fp8` (W8A8 fp8 GEMMs), `int8` / `int4`
    /// (weight-only, dequantising GEMMs), `mxfp4` (weight-only fp4), `nvfp4` (W4A4 fp4
    /// GEMMs). Default: the checkpoint's `quantization_config` (none: its `torch_dtype`).
    #[arg(long)]
    pub quantization: Option<String>,
    /// KV-cache type: `auto` (the checkpoint's KV quantisation, else the activation type),
    /// `fp8` or `bf16`.
    #[arg(long, default_value = "auto")]
    pub kv_cache_dtype: String,
}

impl PrecisionArgs {
    /// `model` with the flags applied; an unknown value is an input error naming the flag.
    pub fn apply(&self, mut model: Model) -> Result<Model, CliError> {
        let q: Option<Quantization> = match &self.quantization {
            Some(q) => Some(
                q.parse()
                    .map_err(|e| CliError::input(format!("invalid --quantization: {e}")))?,
            ),
            None => None,
        };
        let kv: KvCacheDtype = self
            .kv_cache_dtype
            .parse()
            .map_err(|e| CliError::input(format!("invalid --kv-cache-dtype: {e}")))?;
        model.precision = model.precision.deployed(q, kv);
        Ok(model)
    }
}
