//! Shared by parallax-plan's integration tests: engine presets on one GPU kind.
#![allow(dead_code)]

use parallax_hw::Gpu;
use parallax_plan::{EngineContext, EngineKind, EngineModel};

/// A preset's context: instances of `tp` GPUs of `gpu`, an 8,192-token context, no MLA or
/// sliding window, per-tensor fp8 weights.
pub fn context(gpu: &Gpu, tp: u32) -> EngineContext<'_> {
    EngineContext {
        gpu,
        tp,
        max_model_len: 8192,
        mla_or_sliding_window: false,
        fp8_block_scales: false,
    }
}

/// Engine `kind`'s preset in [`context`].
pub fn preset(kind: EngineKind, gpu: &Gpu, tp: u32) -> EngineModel {
    EngineModel::preset(kind, &context(gpu, tp))
}
