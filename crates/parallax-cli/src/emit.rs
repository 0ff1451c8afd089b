//! `--emit vllm|sglang|trtllm`: the launch commands of the chosen plan.

use crate::output::CliError;
use parallax::emit::{emit, EmitError, EmitRequest, Engine, LaunchConfig};
use parallax::hw::Cluster;
use parallax::ir::Model;
use parallax::plan::{MemoryOptions, Plan};
use parallax::sim::SchedulerConfig;

/// The engine named by `--emit`.
pub fn engine(text: &str) -> Result<Engine, CliError> {
    text.parse::<Engine>()
        .map_err(|e| CliError::input(format!("invalid --emit: {e}")))
}

/// How the engine should name the model: the HF id of an embedded model (found by its short
/// name, HF id or model part), else the `--model` value as written (an HF id or a path).
pub fn model_ref(spec: &str) -> String {
    parallax::ir::catalog::embedded()
        .iter()
        .find(|e| e.matches(spec))
        .map_or_else(|| spec.trim().to_string(), |e| e.hf_id.to_string())
}

/// The launch config of `plan` for `engine`, with `eplb` redundant experts per MoE layer and
/// the engine switches simulated (`--enforce-eager`, `--disable-custom-all-reduce`). The
/// library's error tells a plan the engine cannot express ([`EmitError::Unsupported`]) from a
/// bad setting.
#[allow(clippy::too_many_arguments)]
pub fn launch(
    engine: Engine,
    model: &Model,
    model_spec: &str,
    cluster: &Cluster,
    plan: &Plan,
    scheduler: SchedulerConfig,
    memory: MemoryOptions,
    eplb: u32,
    switches: &crate::engine_flags::EngineFlags,
) -> Result<LaunchConfig, EmitError> {
    let mut req = EmitRequest::new(model, model_ref(model_spec), cluster, plan, scheduler);
    req.memory = memory;
    req.eplb_redundant_experts = eplb;
    req.enforce_eager = switches.enforce_eager;
    req.disable_custom_all_reduce = switches.disable_custom_all_reduce;
    req.speculative_tokens = switches.num_speculative_tokens.unwrap_or(0);
    emit(engine, &req)
}
