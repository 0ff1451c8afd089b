//! How aiconfigurator deployed each load point: the model of the checkpoint, the parallel
//! plan, and the engine preset as its generator changed it for the row's engine and release
//! (token budget, CUDA graphs, memory fraction, KV-cache type, SGLang's mixed chunks,
//! TensorRT-LLM 1.0's token stream, prefix caching). Every setting cites the generator's
//! templates or rule plugins (ai-dynamo/aiconfigurator) or the engine's source.

use super::{
    gpu_of_system, model_of_checkpoint, moe_quantization_of, quantization_of, LoadPoint,
    LoadPointOptions,
};
use parallax_hw::Cluster;
use parallax_ir::{KvCacheDtype, Model};
use parallax_plan::{EngineKind, EngineModel, Plan};

/// Whether a load point's engine, as aiconfigurator deployed it, reused the KV blocks of a
/// repeated prompt: vLLM V1 and SGLang by their defaults
/// ([`EngineKind::caches_prefixes_by_default`]; the generator passes
/// `--no-enable-prefix-caching` / `--disable-radix-cache` only when asked to), TensorRT-LLM
/// not (every TensorRT-LLM template of the generator writes `enable_block_reuse: false`).
pub(crate) fn benchmark_prefix_caching(p: &LoadPoint) -> bool {
    p.engine != EngineKind::Trtllm && p.engine.caches_prefixes_by_default()
}

/// The plan of an aggregated load point's deployment, aiconfigurator's parallel mapping:
/// `workers` replicas of `pp` stages of `tp × attention_dp` GPUs; attention (and dense MLPs,
/// except on SGLang, which runs them at full width) as `attention_dp` groups of `tp` GPUs,
/// each serving its own requests; MoE layers as
/// `moe_ep` expert groups of `moe_tp` GPUs, where `moe_tp × moe_ep = tp × attention_dp` (one
/// of them given infers the other; neither: tensor parallelism over the whole width).
///
/// # Errors
/// A message naming the degrees when they do not fit together.
pub(crate) fn row_plan(
    p: &LoadPoint,
    model: &Model,
    workers: u32,
) -> std::result::Result<Plan, String> {
    let adp = p.attention_dp.max(1);
    let width = p.tp.saturating_mul(adp);
    use parallax_ir::Cell;
    let mut plan = Plan::new(workers, p.pp, width);
    if adp > 1 {
        plan = plan.with_attn(adp, p.tp);
        // Dense MLP layers (DeepSeek's first three) run data-parallel with the attention in
        // vLLM and TensorRT-LLM (`mlp_tp_size = 1` under attention DP); SGLang runs them on
        // the gathered tokens at full TP unless `--moe-dense-tp-size 1` is given
        // (`LayerScatterModes`: `FULL` unless `enable_moe_dense_fully_dp`), which the generator
        // stopped passing on 2026-01-29 (058f33c), before its DP-attention SGLang deployments.
        if model.has_cell(|c| matches!(c, Cell::Mlp(_))) && p.engine != EngineKind::Sglang {
            plan = plan.with_mlp(adp, p.tp);
        }
    }
    if model.has_cell(|c| matches!(c, Cell::Moe(_))) {
        let infer = |given: u32, name: &str| {
            if width % given == 0 {
                Ok(width / given)
            } else {
                Err(format!(
                    "{name} {given} does not divide tp_size × attention_dp_size = {width}"
                ))
            }
        };
        let (mtp, mep) = match (p.moe_tp, p.moe_ep) {
            (None, None) => (width, 1),
            (Some(t), None) => (t, infer(t, "moe_tp_size")?),
            (None, Some(e)) => (infer(e, "moe_ep_size")?, e),
            (Some(t), Some(e)) => (t, e),
        };
        if mtp.saturating_mul(mep) != width {
            return Err(format!(
                "moe_tp_size {mtp} × moe_ep_size {mep} must equal tp_size {} × \
                 attention_dp_size {adp} = {width}",
                p.tp
            ));
        }
        if (mtp, mep) != (width, 1) {
            plan = plan.with_moe(mep, mtp);
        }
    }
    Ok(plan)
}

/// The GPU name and model of a load point: the checkpoint as stored ([`model_of_checkpoint`]),
/// then the row's GEMM and MoE quantisation where it gives one, and the KV cache of
/// [`aiconfigurator_kv_cache`]. A row whose isl + osl exceeds the model's context window is
/// refused.
pub(crate) fn row_model(p: &LoadPoint) -> std::result::Result<(&'static str, Model), String> {
    let gpu = gpu_of_system(&p.system).ok_or_else(|| {
        format!(
            "GPU system `{}`: expected an aiconfigurator system name (h100_sxm, h200_sxm, \
                 b200_sxm, gb200, b300_sxm, gb300, a100_sxm, h100_pcie, l40s)",
            p.system
        )
    })?;
    let mut model = model_of_checkpoint(&p.model)
        .ok_or_else(|| format!("model `{}` is not embedded", p.model))?;
    // a request past the context window is not one the model serves
    let tokens = u64::from(p.isl) + u64::from(p.osl);
    let window = u64::from(model.max_position_embeddings);
    if tokens > window {
        return Err(format!(
            "isl + osl = {tokens} tokens exceeds model `{}`'s context window of {window} tokens \
             (max_position_embeddings)",
            p.model
        ));
    }
    let native = natively_fp8_or_nvfp4(&model);
    if let Some(q) = quantization_of(&p.quantization)? {
        model.precision = model.precision.quantized(q);
    }
    let experts_apart = moe_quantization_of(&p.moe_quantization, model.precision.activations)?;
    if let Some(experts) = experts_apart {
        model.precision.experts = Some(experts);
    }
    // Block scales, for the GEMMs and the experts apart: a mode naming `fp8_block` is
    // block-scaled, another mode per tensor (or not fp8), no mode keeps the checkpoint's
    // (DeepSeek's `fp8_block` GEMMs beside `w4afp8` experts keep their block kernels). A MoE
    // mode that stores no experts apart (`none`) leaves them with the GEMMs' scales.
    let block = |m: &str| m.eq_ignore_ascii_case("fp8_block");
    let gemm = p.quantization.trim();
    if !gemm.is_empty() {
        model.precision.fp8_block_scales = block(gemm);
    }
    if experts_apart.is_some() {
        model.precision.expert_fp8_block_scales = Some(block(p.moe_quantization.trim()));
    }
    model.precision = model
        .precision
        .with_kv_cache(aiconfigurator_kv_cache(&p.quantization, native));
    Ok((gpu, model))
}

/// Whether a checkpoint (resolved to `model` by [`model_of_checkpoint`], which gives it the
/// format its name states) is stored in fp8 with fp8 GEMM inputs (per-tensor or
/// block-scaled: DeepSeek-V3's own release, `Qwen/…-FP8`, ModelOpt `…-FP8`) or in NVFP4
/// (ModelOpt `…-NVFP4`, `…-FP4`), its dense layers or its routed experts (Meta's fp8 Llama
/// 4). Weight-only checkpoints (gpt-oss's MXFP4 experts, GPTQ, AWQ) are not.
pub(crate) fn natively_fp8_or_nvfp4(model: &Model) -> bool {
    use parallax_ir::DType;
    let pr = &model.precision;
    let w8a8_or_w4a4 =
        |w: DType, c: DType| matches!((w, c), (DType::Fp8, DType::Fp8) | (DType::Fp4, DType::Fp4));
    w8a8_or_w4a4(pr.weights, pr.compute) || w8a8_or_w4a4(pr.expert_weights(), pr.expert_compute())
}

/// The engine a load point ran: `opts.engine`, else its backend's preset for `cluster` at
/// TP `tp`; the deployment's `batch_size` (when recorded) as its running-request cap, the
/// host-term override of `opts`, and a non-chunking engine's token budget raised to the prompt
/// (a longer prompt was evidently served: the budget was at least the prompt).
pub(crate) fn row_engine(
    p: &LoadPoint,
    opts: &LoadPointOptions,
    model: &Model,
    cluster: &Cluster,
    tp: u32,
    batch_size: Option<u32>,
) -> EngineModel {
    let mut engine: EngineModel = match &opts.engine {
        Some(e) => e.clone(),
        None => crate::engine_model(p.engine, model, cluster, tp),
    };
    if opts.engine.is_none() {
        let speculation = generator_speculation(model);
        as_generator_deployed(
            p,
            &mut engine,
            batch_size,
            cluster.gpu.memory_bytes,
            tp,
            speculation.is_some(),
        );
        if let Some(s) = speculation {
            engine = engine.with_speculation(s);
        }
    }
    // the generator passes the running cap (`batch_size`) explicitly; the caller's overrides
    // come last, so that no engine rule above undoes them
    if let Some(b) = batch_size {
        engine.scheduler.max_num_seqs = b;
        if engine.scheduler.max_num_batched_tokens < b {
            engine.scheduler.max_num_batched_tokens = b;
        }
    }
    if let Some(h) = opts.host {
        engine.host = h;
    }
    if let Some(f) = opts.frontend_latency_s {
        engine.frontend_latency_s = f;
    }
    if let Some(a) = opts.schedule_ahead {
        engine.schedule_ahead = a;
    }
    if !engine.scheduler.kind.chunked() && engine.scheduler.max_num_batched_tokens < p.isl {
        engine.scheduler.max_num_batched_tokens = p.isl;
    }
    engine
}

/// What aiconfigurator's generator set beyond the preset for the row's engine and release:
/// CUDA graphs for every batch size up to the worker's `batch_size`
/// (`cuda_graph_batch_sizes = 1..=max_batch_size`, all three engines), SGLang's mixed chunks
/// ([`sglang_mixed_chunk`]), an aggregated worker's token budget
/// ([`aiconfigurator_token_budget`]), TensorRT-LLM's KV-cache fraction
/// ([`AICONFIGURATOR_TRTLLM_FREE_FRACTION`]), and two properties of releases, not settings:
/// TensorRT-LLM 1.0's token stream ([`parallax_plan::engine::TRTLLM_1_0_STREAM_TOKEN_S`]) and
/// SGLang's default `mem_fraction_static` as the release computes it (before 0.5.3:
/// [`parallax_plan::engine::sglang_mem_fraction_static_0_5_2`]; later, with the deployed
/// graph sizes: [`parallax_plan::engine::sglang_mem_fraction_static`]; the generator leaves
/// the fraction to SGLang).
fn as_generator_deployed(
    p: &LoadPoint,
    engine: &mut EngineModel,
    batch_size: Option<u32>,
    gpu_memory_bytes: u64,
    tp: u32,
    speculative: bool,
) {
    let graphs = engine.cuda_graph_max_batch > 0;
    if let Some(b) = batch_size.filter(|_| graphs) {
        engine.cuda_graph_max_batch = engine.cuda_graph_max_batch.max(b);
    }
    let release = |min| version_at_least(&p.engine_version, min);
    match p.engine {
        EngineKind::Sglang => {
            if sglang_mixed_chunk(&p.engine_version) {
                engine.scheduler.kind = parallax_sim::SchedulerKind::Chunked;
            }
            // SGLang's `tp_size × pp_size` (with attention DP the TP group spans the ranks)
            let parallel = tp.saturating_mul(p.pp.max(1));
            engine.gpu_memory_utilization = if release((0, 5, 3)) {
                // `--cuda-graph-bs 1..=batch_size` sets SGLang's `cuda_graph_max_bs`
                let graph_bs = batch_size
                    .filter(|_| graphs)
                    .unwrap_or(engine.cuda_graph_max_batch);
                // with DP attention's and speculation's reserves
                parallax_plan::engine::sglang_mem_fraction_static_with(
                    gpu_memory_bytes,
                    parallel,
                    engine.scheduler.max_num_batched_tokens,
                    graph_bs,
                    p.attention_dp,
                    speculative,
                )
            } else {
                parallax_plan::engine::sglang_mem_fraction_static_0_5_2(gpu_memory_bytes, parallel)
            };
            engine.memory_rule = parallax_plan::MemoryRule::Static;
        }
        EngineKind::Trtllm => {
            engine.gpu_memory_utilization = AICONFIGURATOR_TRTLLM_FREE_FRACTION;
            if release((1, 0, 0)) && !release((1, 1, 0)) {
                engine.frontend_token_s = parallax_plan::engine::TRTLLM_1_0_STREAM_TOKEN_S;
            }
        }
        _ => {}
    }
    if p.mode == "agg" {
        if let Some(tokens) = aiconfigurator_token_budget(p) {
            engine.scheduler.max_num_batched_tokens = tokens;
        }
    }
}

/// The speculative decoding aiconfigurator deployed a model with: one multi-token-prediction
/// draft per step for its DeepSeek family (`DeepseekV3ForCausalLM` and its kin; the SDK's task
/// defaults write `nextn = 1` for that family since 07a3779, 2026-01-19, with acceptance rates
/// `[0.85, 0.3, …]`, and the generator's benchmark rules pass it on as TensorRT-LLM's MTP
/// `speculative_config`, vLLM's `--speculative-config` method `mtp` and SGLang's `NEXTN`),
/// when the checkpoint ships MTP layers; `None` otherwise.
pub(crate) fn generator_speculation(model: &Model) -> Option<parallax_sim::Speculation> {
    let deepseek_family = matches!(
        model.architecture.as_str(),
        "DeepSeekForCausalLM" | "DeepseekV3ForCausalLM" | "KimiK25ForConditionalGeneration"
    );
    (deepseek_family && model.mtp_layers > 0).then_some(parallax_sim::Speculation {
        draft_tokens: 1,
        mean_accepted: parallax_sim::DEEPSEEK_MTP_ACCEPTANCE,
    })
}

/// TensorRT-LLM's `kv_cache_config.free_gpu_memory_fraction` in aiconfigurator's generated
/// engine configurations: every `extra_engine_args` template writes
/// `free_gpu_memory_fraction | default(0.80)` (from the generator's first version, 2025-09,
/// through @095f58a; TensorRT-LLM's own default is 0.9).
pub const AICONFIGURATOR_TRTLLM_FREE_FRACTION: f64 = 0.80;

/// Whether aiconfigurator deployed SGLang `version` with `--enable-mixed-chunk` (prefill chunks
/// ride with the running decodes, as our `sarathi` policy runs them): its generator sets
/// `enable_mixed_chunk = true` for aggregated SGLang workers, and passes the flag since its
/// commit 07a3779 (2026-01-19); the launch templates of SGLang 0.5.6.post2 and later were
/// added after that (0.5.6.post2 on 2026-01-23), those of 0.5.1–0.5.4 before (their rows
/// predate the fix). An empty or unparsable version: SGLang's own default (no mixing).
pub(crate) fn sglang_mixed_chunk(version: &str) -> bool {
    version_at_least(version, (0, 5, 6))
}

/// Whether an engine `version` such as `0.5.6.post2` or `1.3.0rc1` is at least `min`
/// (major, minor, patch; a missing patch counts as 0 and a pre-release suffix is ignored). An
/// empty or unparsable version: false.
pub(crate) fn version_at_least(version: &str, min: (u32, u32, u32)) -> bool {
    parse_version(version).is_some_and(|v| v >= min)
}

/// `(major, minor, patch)` of an engine release such as `0.5.6.post2`, `1.3.0rc1` or `v0.12.0` (a missing
/// patch counts as 0, a pre-release or post-release suffix is ignored); `None` when the
/// major or minor part is not all digits.
pub(crate) fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    // `v0.12.0` as git tags write it
    let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
    let mut parts = version.split('.');
    let mut num = |full: bool| {
        parts.next().and_then(|x| {
            let digits: String = x.chars().take_while(char::is_ascii_digit).collect();
            // a major or minor part must be all digits; a patch may carry `rc1`, `post2`, ...
            if digits.is_empty() || (full && digits.len() != x.len()) {
                None
            } else {
                digits.parse::<u32>().ok()
            }
        })
    };
    match (num(true), num(true), num(false)) {
        (Some(major), Some(minor), patch) => Some((major, minor, patch.unwrap_or(0))),
        _ => None,
    }
}

/// The KV-cache type aiconfigurator deployed a load point with, from its GEMM quantisation as
/// written and whether the checkpoint itself is fp8 or NVFP4 (`native_fp8_or_nvfp4`, see
/// [`natively_fp8_or_nvfp4`]). Its quantisation profiles set every field together: `fp8` (GEMM, MoE, KV cache,
/// FMHA all fp8) and `nvfp4` (nvfp4 GEMM and MoE, fp8 KV cache and FMHA), as its task
/// defaults (`sdk/task.py`, `_quants`: `fp8_default`, `nvfp4_default`, 2026-01) and their
/// successor (`sdk/task_v1_compat.py`, `_PROFILE_TO_QUANT`, @095f58a) do; a row whose dense
/// model records `moe_quant_mode` `fp8` or `nvfp4` came from one. Those rows ran with an fp8 KV
/// cache, which holds twice the tokens: the TP 1 Qwen3-32B fp8 TensorRT-LLM rows at 64–128
/// clients were predicted 3–8x too slow to first token with a bf16 cache, queueing for KV
/// room (isl 4096, osl 128, 64 clients: +525 % -> +13 %; isl 2048, 128 clients: +535 % ->
/// −10 %). Other rows (bf16, and `fp8_block`, which no profile
/// writes and whose KV type the rows do not record) keep the checkpoint's own
/// ([`KvCacheDtype::Auto`]); the SGLang `fp8_block` rows fit a bf16 cache far better (TPOT
/// median 9.2 % vs 23.5 % with fp8).
///
/// A checkpoint stored in fp8 or NVFP4 (DeepSeek-V3/R1, `Qwen/Qwen3-235B-A22B-FP8`, ModelOpt
/// exports) also runs with an fp8 cache whatever the row's label: aiconfigurator's SDK reads
/// the checkpoint's `quantization_config` and sets the KV cache (and FMHA) to fp8 for
/// `quant_algo` fp8, fp8_block or nvfp4 unless one was asked for
/// (`_infer_quant_modes_from_raw_config`, `sdk/models.py` @24041f1, 2026-03-14, as at
/// @095f58a), and the generator passes it on as each engine's `kv-cache-dtype`. The `fp8_block`
/// development rows are bf16 checkpoints, which it leaves alone.
pub(crate) fn aiconfigurator_kv_cache(gemm_quant: &str, native_fp8_or_nvfp4: bool) -> KvCacheDtype {
    match gemm_quant {
        "fp8" | "nvfp4" => KvCacheDtype::Fp8,
        _ if native_fp8_or_nvfp4 => KvCacheDtype::Fp8,
        _ => KvCacheDtype::Auto,
    }
}

/// The token budget per iteration that aiconfigurator's generator gives an aggregated worker
/// (every development row comes from its gap-analysis campaign, deployed by that generator):
/// `max_num_tokens = max_batch_size + isl + 1500`. TensorRT-LLM has had it since the
/// generator's first version (2025-08; rounded up to 32-token KV blocks since the rule
/// plugins); vLLM since the generator supports it (commit 95ddf24, 2025-12-04, as
/// `--max-num-batched-tokens`; vLLM 0.12 is the oldest release with a template). SGLang's
/// rule (`--max-prefill-tokens isl + 1500`) is not applied: our prefill-first model of it made
/// the development rows worse (H100 TTFT/TPOT 13.2/4.3 → 13.3/4.9 %, H200 65/8.7 →
/// 71/9.2 %). `None`: the preset's budget stands.
pub(crate) fn aiconfigurator_token_budget(p: &LoadPoint) -> Option<u32> {
    let tokens = p
        .batch_size
        .unwrap_or(0)
        .checked_add(p.isl)?
        .checked_add(1500)?;
    // each attention-DP rank schedules its own share under the budget
    let ranks = p.attention_dp.max(1);
    match p.engine {
        EngineKind::Vllm if version_at_least(&p.engine_version, (0, 12, 0)) => {
            tokens.checked_mul(ranks)
        }
        EngineKind::Trtllm if version_at_least(&p.engine_version, (0, 20, 0)) => {
            tokens.checked_next_multiple_of(32)?.checked_mul(ranks)
        }
        _ => None,
    }
}
