//! vLLM's engine switches shared by `predict`, `simulate` and `search`: `--enforce-eager`
//! (no CUDA graphs) and `--disable-custom-all-reduce` (NCCL for every all-reduce), applied
//! to the engine model of `--engine`.

use clap::Args;
use parallax::EngineModel;

/// Engine switches named as vLLM names them.
#[derive(Debug, Args, Default)]
pub struct EngineFlags {
    /// vLLM's flag: never replay CUDA graphs; every iteration launches its kernels eagerly.
    #[arg(long)]
    pub enforce_eager: bool,
    /// vLLM's flag: all-reduce with NCCL only, not the engine's custom (one-shot NVLink)
    /// all-reduce for small messages.
    #[arg(long)]
    pub disable_custom_all_reduce: bool,
}

impl EngineFlags {
    /// `engine` with the switches applied.
    pub fn apply(&self, mut engine: EngineModel) -> EngineModel {
        if self.enforce_eager {
            engine = engine.without_cuda_graphs();
        }
        if self.disable_custom_all_reduce {
            engine = engine.without_custom_all_reduce();
        }
        engine
    }
}
