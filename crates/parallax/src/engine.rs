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
            fp8_block_scales: model.precision.fp8_block_scales,
        },
    )
}

/// [`engine_model`] from the engine's name; `none` is [`EngineModel::none`] (the bare
/// simulator).
///
/// # Errors
/// [`crate::Error::Plan`] for an unknown name; [`crate::Error::Option`] for TensorRT-LLM on
/// a cluster with GPUs it does not run on (it is NVIDIA's: not AMD's MI300X).
pub fn engine_named(name: &str, model: &Model, cluster: &Cluster, tp: u32) -> Result<EngineModel> {
    if name.trim().eq_ignore_ascii_case("none") {
        return Ok(EngineModel::none());
    }
    let kind: EngineKind = name.parse()?;
    check_runs_on(kind, name.trim(), cluster)?;
    Ok(engine_model(kind, model, cluster, tp))
}

/// [`unsupported_gpu`] as the error of option `engine` written `written`.
///
/// # Errors
/// [`crate::Error::Option`] when `kind` does not run on `cluster`'s GPUs.
pub fn check_runs_on(kind: EngineKind, written: &str, cluster: &Cluster) -> Result<()> {
    match unsupported_gpu(kind, cluster) {
        None => Ok(()),
        Some(expected) => Err(crate::Error::Option {
            option: "engine".into(),
            value: written.to_string(),
            expected,
        }),
    }
}

/// Why engine `kind` cannot serve on `cluster`, as the "expected" half of an error: `Some`
/// for TensorRT-LLM on a cluster with a GPU not NVIDIA's (MI300X); `None` when it runs there.
pub fn unsupported_gpu(kind: EngineKind, cluster: &Cluster) -> Option<String> {
    if kind != EngineKind::Trtllm {
        return None;
    }
    let g = cluster
        .node_groups()
        .into_iter()
        .find(|g| !g.gpu.vendor.eq_ignore_ascii_case("nvidia"))?;
    Some(format!(
        "an engine that runs on {} ({} GPU): vllm, vllm-v0 or sglang (TensorRT-LLM runs on \
         NVIDIA GPUs only)",
        g.gpu.name, g.gpu.vendor
    ))
}

/// The scheduler `base` of engine `kind` (`None`: the bare simulator) with chunked prefill
/// switched on or off as the engine's own switch does it (vLLM's `--enable-chunked-prefill` /
/// `--no-enable-chunked-prefill`, SGLang's `--chunked-prefill-size -1`, TensorRT-LLM's
/// `enable_chunked_prefill`), the token budget following the engine's default for the new
/// mode (a budget the user gives is applied after this):
/// - on: a chunking policy stays as it is; otherwise the chunked-prefill policy (`sarathi`),
///   with vLLM V0's chunked budget ([`parallax_plan::engine::VLLM_V0_CHUNKED_BUDGET`], 512)
///   for vLLM V0 and the bare simulator (whose defaults are V0's);
/// - off: a non-chunking policy stays; vLLM V0 and the bare simulator go back to V0's policy
///   (prefills first, whole, under `max(max_model_len, 2048)` tokens); vLLM V1 and
///   TensorRT-LLM mix whole prefills with the running decodes (`orca`); SGLang runs
///   whole-prompt prefill batches before decodes (V0's policy, its budget unchanged).
///
/// # Examples
/// ```
/// use parallax::{engine::with_chunked_prefill, EngineKind};
/// use parallax::sim::SchedulerKind;
/// let model = parallax::ir::resolve("llama-3.1-8b").unwrap(); // 131,072-token context
/// let cluster = parallax::hw::Cluster::parse("1x1xH100").unwrap();
/// let v0 = parallax::engine_model(EngineKind::VllmV0, &model, &cluster, 1).scheduler;
/// assert_eq!(v0.kind, SchedulerKind::Chunked); // V0 chunks long contexts by itself
/// let off = with_chunked_prefill(v0, Some(EngineKind::VllmV0), false, 8192);
/// assert_eq!((off.kind, off.max_num_batched_tokens), (SchedulerKind::VllmV0, 8192));
/// ```
pub fn with_chunked_prefill(
    base: parallax_sim::SchedulerConfig,
    kind: Option<EngineKind>,
    on: bool,
    max_model_len: u32,
) -> parallax_sim::SchedulerConfig {
    use parallax_sim::SchedulerKind;
    let mut s = base;
    let v0 = matches!(kind, None | Some(EngineKind::VllmV0));
    match (on, s.kind.chunked()) {
        (true, false) => {
            s.kind = SchedulerKind::Chunked;
            if v0 {
                s.max_num_batched_tokens = parallax_plan::engine::VLLM_V0_CHUNKED_BUDGET;
            }
        }
        (false, true) => match kind {
            None | Some(EngineKind::VllmV0) => {
                s.kind = SchedulerKind::VllmV0;
                s.max_num_batched_tokens = max_model_len.max(2048);
            }
            Some(EngineKind::Vllm) | Some(EngineKind::Trtllm) => s.kind = SchedulerKind::Orca,
            Some(EngineKind::Sglang) => s.kind = SchedulerKind::VllmV0,
        },
        _ => {}
    }
    s
}
