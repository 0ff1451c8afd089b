//! Serving-engine models for a deployment: the presets of
//! [`parallax_plan::engine`] resolved for a model, cluster and tensor-parallel degree.

use crate::error::Result;
use parallax_hw::Cluster;
use parallax_ir::Model;
use parallax_plan::{EngineContext, EngineKind, EngineModel};

/// The shipped defaults of engine `kind` (`vllm`, `vllm-v0`, `sglang`, `trtllm`) serving
/// `model` on `cluster` with instances of `tp` GPUs.
///
/// # Examples
/// ```
/// let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
/// let cluster = parallax::hw::Cluster::parse("1x8xH100").unwrap();
/// let e = parallax::engine_model("vllm".parse().unwrap(), &model, &cluster, 1);
/// assert_eq!(e.scheduler.max_num_batched_tokens, 8192); // H100: ≥ 70 GiB, not an A100
/// ```
pub fn engine_model(kind: EngineKind, model: &Model, cluster: &Cluster, tp: u32) -> EngineModel {
    EngineModel::preset(
        kind,
        &EngineContext {
            gpu: &cluster.gpu,
            tp,
            max_model_len: model.max_position_embeddings,
            mla_or_sliding_window: model.cells().any(|(c, _)| match c {
                parallax_ir::Cell::Attention(a) => {
                    a.sliding_window.is_some()
                        || matches!(a.kind, parallax_ir::AttentionKind::Mla { .. })
                }
                _ => false,
            }),
        },
    )
}

/// [`engine_model`] from the engine's name; `none` is [`EngineModel::none`] (the bare
/// simulator).
///
/// # Errors
/// [`crate::Error::Plan`] for an unknown name.
pub fn engine_named(name: &str, model: &Model, cluster: &Cluster, tp: u32) -> Result<EngineModel> {
    if name.trim().eq_ignore_ascii_case("none") {
        return Ok(EngineModel::none());
    }
    let kind: EngineKind = name.parse()?;
    Ok(engine_model(kind, model, cluster, tp))
}
