//! Serving-engine models: what a real engine (vLLM, SGLang, TensorRT-LLM) does around the
//! forward pass that the plan's cost model prices.
//!
//! An [`EngineModel`] is plain data, so users define their own engine by filling its fields
//! (or adjusting a preset). It bundles:
//! - the **scheduler** policy and limits (token budget, running-request cap);
//! - the **host (CPU) work** per iteration and per scheduled request, and whether it overlaps
//!   the GPU ([`HostOverhead`]);
//! - the **CUDA-graph policy**: decode-only batches up to `cuda_graph_max_batch` requests replay
//!   a full graph; prefill or mixed batches up to `cuda_graph_max_tokens` tokens replay
//!   piecewise graphs (vLLM V1); larger batches run eagerly;
//! - the host **issue time per eager op** of the engine's compiled forward and how it
//!   overlaps the device (`None` keeps the cost model's own, measured on a PyTorch-eager
//!   harness);
//! - **memory defaults**: the fraction of GPU memory the engine takes and its KV block size.
//!
//! Presets ([`EngineModel::preset`]) mirror each engine's shipped defaults, which depend on
//! the GPU's memory and the tensor-parallel degree exactly as the engines compute them. The
//! sources are cited on each preset. Host times were fitted on development data (see
//! [`FITTED`]).
//!
//! `parallax-sim` knows only the scheduler and host parts ([`SchedulerConfig`],
//! [`HostOverhead`]); the graph, eager-issue and memory parts reach the lowering through
//! [`EngineModel::lower_options`].

mod kernels;
mod measured;

pub use kernels::{
    fp8_kv_decode_ratio, gemm_input_quant, EngineCost, EngineKernels, GemmInputQuant, InputQuant,
    CUSTOM_ALLREDUCE, FUSED_ELEMENTWISE_FLOOR_S,
};
pub use measured::{MeasuredAllReduce, MeasuredFusedMoe};

use crate::error::PlanError;
use crate::lower::LowerOptions;
use crate::memory::MemoryRule;
use parallax_hw::Gpu;
use parallax_sim::{HostOverhead, SchedulerConfig, SchedulerKind, SimConfig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The engines Parallax ships models of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// vLLM with its V1 engine (0.8 and later; defaults of 0.12), the default.
    Vllm,
    /// vLLM's V0 engine (0.6.x).
    VllmV0,
    /// SGLang (0.5.x).
    Sglang,
    /// TensorRT-LLM with its PyTorch backend (`trtllm-serve`, 1.x).
    Trtllm,
}

impl EngineKind {
    /// Every kind, in CLI order.
    pub const ALL: [EngineKind; 4] = [
        EngineKind::Vllm,
        EngineKind::VllmV0,
        EngineKind::Sglang,
        EngineKind::Trtllm,
    ];

    /// The CLI name: `vllm`, `vllm-v0`, `sglang`, `trtllm`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Vllm => "vllm",
            EngineKind::VllmV0 => "vllm-v0",
            EngineKind::Sglang => "sglang",
            EngineKind::Trtllm => "trtllm",
        }
    }

    /// Whether the engine reuses the KV blocks of a repeated prompt prefix with its shipped
    /// defaults: vLLM V1 (`enable_prefix_caching` on by default since the V1 engine), SGLang
    /// (its radix cache, on unless `--disable-radix-cache`) and TensorRT-LLM (`KvCacheConfig`
    /// `enable_block_reuse`, default true) do; vLLM V0 (0.6.x, `enable_prefix_caching` off by
    /// default) does not. `simulate` and `search` still cache only with `--prefix-caching`; a
    /// load point's benchmark uses this (see `parallax::loadpoints`).
    pub fn caches_prefixes_by_default(self) -> bool {
        !matches!(self, EngineKind::VllmV0)
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = PlanError;

    /// `vllm` (also `vllm-v1`), `vllm-v0`, `sglang`, `trtllm` (also `tensorrt-llm`,
    /// `tensorrt_llm`, `trt-llm`).
    fn from_str(s: &str) -> Result<Self, PlanError> {
        match s.to_ascii_lowercase().as_str() {
            "vllm" | "vllm-v1" | "v1" => Ok(EngineKind::Vllm),
            "vllm-v0" | "v0" => Ok(EngineKind::VllmV0),
            "sglang" => Ok(EngineKind::Sglang),
            "trtllm" | "tensorrt-llm" | "tensorrt_llm" | "trt-llm" => Ok(EngineKind::Trtllm),
            _ => Err(PlanError::Option {
                option: "--engine".into(),
                value: s.into(),
                expected: "one of vllm, vllm-v0, sglang, trtllm (or none: no engine model)".into(),
            }),
        }
    }
}

/// Host times fitted on development data, per engine: `(per_iteration_s, per_request_s)`.
///
/// Fitted on the aiconfigurator development split
/// (`crates/parallax/data/serving/aiconfigurator/silicon_train.csv`: Qwen3-32B and
/// Llama-3.1-8B load points on H100/H200) by `crates/parallax/examples/fit_engines.rs`, which
/// grid-searches both terms, serial or overlapped, per engine to minimise the mean of the
/// median |errors| of mean TTFT and mean TPOT over its bf16 rows (the quantised rows need the
/// fp8/fp4 GEMM prices to be meaningful). For every engine the serial form fits best: the
/// exposed host time per iteration is what remains after each engine's own overlap (vLLM's
/// async scheduling, SGLang's and TensorRT-LLM's overlap schedulers), so the presets model it
/// as serial host time with these magnitudes. Refitted (stop 18) once the engines' custom
/// all-reduce was priced from measurements ([`MeasuredAllReduce`]) instead of the optimistic
/// one-shot model, whose cheap all-reduces the old terms (vLLM 1 ms per iteration + 60 µs per
/// request, SGLang 30 µs per request) had partly absorbed. Fitted errors (median |error|, bf16
/// rows, H100, with the [`FRONTEND_FITTED`] latency and the presets' scheduling ahead): vLLM
/// TTFT 33.8 % / TPOT 4.3 % (90 rows; 34.6 / 5.2 before the refit), SGLang 14.3 % / 4.6 % (84;
/// 14.3 / 5.4), TensorRT-LLM 48.6 % / 4.8 % (177; 47.8 / 5.2). On all of SGLang's rows
/// (`fit_engines -- --grid-all --only sglang`, H200 fp8-block rows included) the same terms fit
/// best. vLLM V0 has no development data: it keeps the V1 fit from before the refit (1 ms
/// per iteration + 60 µs per request). Its scheduler and input preparation run between steps
/// in the engine's one process, so its per-step host time is at least V1's, and dropping the
/// 1 ms would rest on no measurement of V0.
pub const FITTED: [(EngineKind, f64, f64); 4] = [
    (EngineKind::Vllm, 0.0, 60e-6),
    (EngineKind::VllmV0, 1.0e-3, 60e-6),
    (EngineKind::Sglang, 0.0, 10e-6),
    (EngineKind::Trtllm, 0.0, 10e-6),
];

/// Host issue time per eager op of an engine's compiled forward (torch.compile/Inductor in
/// vLLM V1, SGLang's and TensorRT-LLM's fused custom ops), seconds: one CUDA kernel launch
/// from a thin wrapper, about 5 µs on current hosts. The fallback of
/// [`EngineModel::launch_from_profile`]: a profile that measured the machine's launch cost
/// (`kernel_launch_seconds`; the shipped H100 and H200 profiler runs measured 9.6 µs and
/// 7.3 µs) replaces it. Engines launch asynchronously, so the
/// host runs ahead and an eager iteration takes the larger of its device and host times.
pub const COMPILED_OP_HOST_S: f64 = 5e-6;

/// A serving engine's behaviour around the forward pass (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineModel {
    /// Name for reports (`vllm`, `sglang`, … or the user's).
    pub name: String,
    /// The engine this model mirrors, for the behaviours that are its own (SGLang's
    /// per-rank prefill chunk and speculation rules, vLLM's token-counted CUDA graphs);
    /// `None` for a user-described engine or the bare simulator (see
    /// [`EngineModel::mirrors_kind`]).
    #[serde(default)]
    pub kind: Option<EngineKind>,
    /// What it mirrors (engine, version, mode).
    pub mirrors: String,
    /// Scheduling policy and limits.
    pub scheduler: SchedulerConfig,
    /// Host work per iteration and request.
    pub host: HostOverhead,
    /// Decode-only batches of at most this many requests replay a CUDA graph (0: none).
    pub cuda_graph_max_batch: u32,
    /// Prefill or mixed batches of at most this many tokens replay piecewise CUDA graphs
    /// (0: none).
    pub cuda_graph_max_tokens: u32,
    /// Host issue time per eager op, seconds (`None`: the cost model's).
    pub eager_op_host_s: Option<f64>,
    /// Blend exponent of eager device and host time (`None`: the cost model's; `∞`: max).
    pub eager_overlap_exponent: Option<f64>,
    /// Take the eager issue time per op from the cost model's kernel launch measured on the
    /// user's machine ([`parallax_hw::CostModel::measured_kernel_launch`], a profile's
    /// `kernel_launch_seconds`) when it has one; `eager_op_host_s` is then the fallback.
    /// True for engines that run a compiled forward (about one launch per op).
    #[serde(default)]
    pub launch_from_profile: bool,
    /// The engine's memory fraction, read as [`EngineModel::memory_rule`] says (vLLM's
    /// `gpu_memory_utilization`: the share of each GPU's memory for weights, activations and
    /// KV cache).
    pub gpu_memory_utilization: f64,
    /// How the engine sizes its KV cache from [`EngineModel::gpu_memory_utilization`]
    /// (vLLM's utilization, SGLang's static fraction, TensorRT-LLM's free-memory fraction).
    #[serde(default)]
    pub memory_rule: MemoryRule,
    /// Tokens per KV block (page).
    pub block_size: u32,
    /// The engine's own kernels (fused elementwise ops, custom all-reduce).
    pub kernels: EngineKernels,
    /// The scheduler forms the next iteration's batch while the current one runs (vLLM V1's
    /// async scheduling, SGLang's and TensorRT-LLM's overlap schedulers; see
    /// [`SimConfig::schedule_ahead`]).
    pub schedule_ahead: bool,
    /// One-way latency between a client and the engine's scheduler, seconds (see
    /// [`SimConfig::frontend_latency_s`]).
    pub frontend_latency_s: f64,
    /// Seconds the serving path spends streaming one output token, a first-in-first-out
    /// ceiling on the token rate (see [`SimConfig::frontend_token_s`]); 0: none.
    #[serde(default)]
    pub frontend_token_s: f64,
    /// Speculative decoding by multi-token prediction (vLLM's `--speculative-config` with
    /// method `mtp`, SGLang's `--speculative-algorithm NEXTN`, TensorRT-LLM's MTP
    /// `speculative_config`): the simulator emits the accepted drafts
    /// ([`SimConfig::speculation`]) and the lowering prices the verification and the draft
    /// module ([`LowerOptions::speculative_tokens`]). `None` (every preset): off.
    #[serde(default)]
    pub speculation: Option<parallax_sim::Speculation>,
}

/// What a preset's defaults depend on.
#[derive(Debug, Clone, Copy)]
pub struct EngineContext<'a> {
    /// The GPU (its memory size and name select defaults).
    pub gpu: &'a Gpu,
    /// Tensor-parallel degree of one instance.
    pub tp: u32,
    /// The model's context length (`max_position_embeddings`, or vLLM's `--max-model-len`),
    /// for vLLM V0's token budget and its long-context chunked-prefill default.
    pub max_model_len: u32,
    /// The model has MLA or sliding-window attention, for which vLLM V0 never turns chunked
    /// prefill on by itself.
    pub mla_or_sliding_window: bool,
    /// The model's fp8 weights carry block scales ([`parallax_ir::Precision::fp8_block_scales`]):
    /// the engines run such layers with other kernels ([`gemm_input_quant`]).
    pub fp8_block_scales: bool,
}

/// vLLM V0 turns chunked prefill on by default above this context length
/// (`EngineArgs` in 0.6.x: `max_model_len > 32768`, CUDA, no sliding window, MLA, LoRA or
/// speculative decoding).
pub const VLLM_V0_LONG_CONTEXT: u32 = 32_768;

/// vLLM 0.6.x's token budget when chunked prefill is on and the user set none
/// (`SchedulerConfig`: 512, "the best balance between ITL and TTFT on A100").
pub const VLLM_V0_CHUNKED_BUDGET: u32 = 512;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

const MIB: f64 = 1024.0 * 1024.0;

/// SGLang's default `--mem-fraction-static` (the share of GPU memory for weights and KV cache,
/// [`MemoryRule::Static`]) on a GPU of `memory_bytes` with `parallel` GPUs per instance (TP ×
/// PP), a `chunked_prefill_size` of `chunk` tokens and CUDA graphs up to `cuda_graph_max_bs`
/// requests, as SGLang 0.5.3 and later compute it (`server_args.py`,
/// `_handle_gpu_memory_settings`, unchanged through 0.5.8): it reserves, in MiB,
/// `512 + 1.5 × max(chunk, 2048) + 2 × cuda_graph_max_bs + parallel / 8 × 1024` for
/// activations and CUDA graphs, at least 10 GiB on GPUs above 60 GiB, and takes
/// `(memory − reserved) / memory` rounded to 3 decimals. Without DP attention or speculative
/// decoding (each reserves more).
///
/// # Examples
/// ```
/// use parallax_plan::engine::sglang_mem_fraction_static;
/// // H100 80 GiB, TP 1, 8,192-token chunks, graphs to 256: 13,440 MiB reserved
/// assert_eq!(sglang_mem_fraction_static(80 << 30, 1, 8192, 256), 0.836);
/// ```
pub fn sglang_mem_fraction_static(
    memory_bytes: u64,
    parallel: u32,
    chunk: u32,
    cuda_graph_max_bs: u32,
) -> f64 {
    sglang_mem_fraction_static_with(memory_bytes, parallel, chunk, cuda_graph_max_bs, 1, false)
}

/// [`sglang_mem_fraction_static`] with what DP attention over `dp_attention` ranks and
/// speculative decoding add to the reserve, as the same function of SGLang computes them: DP
/// attention `3 × cuda_graph_max_bs × dp` MiB of padding (and `1.5 ×` more above 300 graph
/// requests) before the 10 GiB floor; EAGLE-style speculation (its `NEXTN`) 2 GiB for the
/// draft and its graphs after it.
///
/// # Examples
/// ```
/// use parallax_plan::engine::{sglang_mem_fraction_static, sglang_mem_fraction_static_with};
/// let h200 = 141u64 << 30;
/// let plain = sglang_mem_fraction_static(h200, 8, 8192, 16);
/// assert_eq!(sglang_mem_fraction_static_with(h200, 8, 8192, 16, 1, false), plain);
/// assert!(sglang_mem_fraction_static_with(h200, 8, 8192, 16, 8, true) < plain);
/// ```
pub fn sglang_mem_fraction_static_with(
    memory_bytes: u64,
    parallel: u32,
    chunk: u32,
    cuda_graph_max_bs: u32,
    dp_attention: u32,
    speculative: bool,
) -> f64 {
    let mib = memory_bytes as f64 / MIB;
    let bs = cuda_graph_max_bs as f64;
    let mut reserved =
        512.0 + 1.5 * chunk.max(2048) as f64 + 2.0 * bs + parallel as f64 / 8.0 * 1024.0;
    if dp_attention > 1 {
        let dp = dp_attention as f64;
        reserved += 3.0 * bs * dp;
        if cuda_graph_max_bs > 300 {
            reserved += 1.5 * bs * dp;
        }
    }
    if mib > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    if speculative {
        reserved += 2.0 * 1024.0;
    }
    fraction_of(mib, reserved)
}

/// SGLang's default `--mem-fraction-static` before 0.5.3 (0.5.0–0.5.2, `server_args.py`
/// `__post_init__`): a reserve in GiB by GPU memory, `2.8 + parallel / 10` below 35 GiB,
/// `9.5 + parallel / 2` below 90 GiB, `12 + parallel / 2` below 160 GiB and 32 above, with
/// `parallel` = TP × PP; `(memory − reserved) / memory` rounded to 3 decimals.
///
/// # Examples
/// ```
/// use parallax_plan::engine::sglang_mem_fraction_static_0_5_2;
/// assert_eq!(sglang_mem_fraction_static_0_5_2(80 << 30, 8), 0.831); // 13.5 of 80 GiB
/// ```
pub fn sglang_mem_fraction_static_0_5_2(memory_bytes: u64, parallel: u32) -> f64 {
    let mib = memory_bytes as f64 / MIB;
    let p = parallel as f64;
    let gib = if mib < 35.0 * 1024.0 {
        2.8 + p / 10.0
    } else if mib < 90.0 * 1024.0 {
        9.5 + p / 2.0
    } else if mib < 160.0 * 1024.0 {
        12.0 + p / 2.0
    } else {
        32.0
    };
    fraction_of(mib, gib * 1024.0)
}

/// SGLang's defaults by GPU memory and TP (0.5.3 and later, `server_args.py`
/// `_handle_gpu_memory_settings`): `(chunked_prefill_size, cuda_graph_max_bs)` = (2048, 8)
/// below 20 GiB; (2048, 24, or 80 at TP ≥ 4) below 35 GiB; (4096, 32, or 160 at TP ≥ 4)
/// below 60 GiB; (8192, 256, or 512 at TP ≥ 4) below 160 GiB; (16384, 512) above.
pub fn sglang_gpu_defaults(memory_bytes: u64, tp: u32) -> (u32, u32) {
    let mib = memory_bytes as f64 / MIB;
    let wide = tp >= 4;
    if mib < 20.0 * 1024.0 {
        (2048, 8)
    } else if mib < 35.0 * 1024.0 {
        (2048, if wide { 80 } else { 24 })
    } else if mib < 60.0 * 1024.0 {
        (4096, if wide { 160 } else { 32 })
    } else if mib < 160.0 * 1024.0 {
        (8192, if wide { 512 } else { 256 })
    } else {
        (16384, 512)
    }
}

/// SGLang's default `--mem-fraction-static` for an instance of `tp × pp` GPUs of
/// `memory_bytes` with a `chunk`-token budget and SGLang's default CUDA-graph size for the GPU
/// and TP ([`sglang_gpu_defaults`], [`sglang_mem_fraction_static`]; [`MemoryRule::StaticDefault`]).
/// Computed from the catalogue's memory size; SGLang reads `nvidia-smi`'s total, a little
/// less (81,559 MiB on an H100: 0.001 lower).
///
/// # Examples
/// ```
/// use parallax_plan::engine::sglang_default_fraction;
/// assert_eq!(sglang_default_fraction(80 << 30, 8, 1, 8192), 0.819);
/// assert_eq!(sglang_default_fraction(80 << 30, 4, 2, 8192), 0.819); // TP × PP = 8
/// ```
pub fn sglang_default_fraction(memory_bytes: u64, tp: u32, pp: u32, chunk: u32) -> f64 {
    sglang_default_fraction_with(memory_bytes, tp, pp, chunk, 1, false)
}

/// [`sglang_default_fraction`] with DP attention over `dp_attention` ranks and, when
/// `speculative`, an EAGLE/NEXTN draft, whose reserves SGLang adds
/// ([`sglang_mem_fraction_static_with`]).
///
/// # Examples
/// ```
/// use parallax_plan::engine::{sglang_default_fraction, sglang_default_fraction_with};
/// let h200 = 141u64 << 30;
/// assert_eq!(sglang_default_fraction_with(h200, 8, 1, 8192, 1, false),
///            sglang_default_fraction(h200, 8, 1, 8192));
/// // DP attention over 8 ranks pads 3 × 512 × 8 MiB; the draft reserves 2 GiB more
/// assert!(sglang_default_fraction_with(h200, 8, 1, 8192, 8, true)
///         < sglang_default_fraction_with(h200, 8, 1, 8192, 8, false));
/// ```
pub fn sglang_default_fraction_with(
    memory_bytes: u64,
    tp: u32,
    pp: u32,
    chunk: u32,
    dp_attention: u32,
    speculative: bool,
) -> f64 {
    let (_, graph_bs) = sglang_gpu_defaults(memory_bytes, tp);
    sglang_mem_fraction_static_with(
        memory_bytes,
        tp.saturating_mul(pp.max(1)),
        chunk,
        graph_bs,
        dp_attention,
        speculative,
    )
}

/// `(total − reserved) / total` rounded to 3 decimals as SGLang rounds it, kept within
/// (0, 1] (a GPU smaller than the reserve gets the smallest fraction, 0.001).
fn fraction_of(total_mib: f64, reserved_mib: f64) -> f64 {
    (((total_mib - reserved_mib) / total_mib * 1000.0).round() / 1000.0).clamp(0.001, 1.0)
}

/// TensorRT-LLM's default `free_gpu_memory_fraction` (`KvCacheConfig`: 0.9 of the memory free
/// after the weights load and a profiling forward, [`MemoryRule::FreeFraction`]).
pub const TRTLLM_FREE_GPU_MEMORY_FRACTION: f64 = 0.9;

/// Seconds SGLang's serving path spends streaming one output token
/// ([`EngineModel::frontend_token_s`]). SGLang detokenizes in one separate process
/// (`DetokenizerManager`) for every request of the server, so the server's output-token rate
/// has a ceiling. Estimated from the development rows where the measured TPOT stops falling
/// with the engine's speed: the Llama-3.1-8B fp8-block H200 rows at 512 clients floor at
/// 29.4 ms (TP 8, 2,000 output tokens; the engine alone: 16.2 ms), 57 µs × 512. With it the
/// H200 rows' median TTFT error goes from 37.9 % to 22.7 % (TPOT 8.9 → 9.2 %) and the H100
/// rows' (never above 8,000 tokens/s) stay at 13.2 / 4.3 %.
pub const SGLANG_STREAM_TOKEN_S: f64 = 57e-6;

/// The same ceiling for TensorRT-LLM 1.0 (`trtllm-serve`'s Python response path), from the
/// Llama-3.1-8B bf16 H100 rows at 128 clients, whose measured TPOT floors at 10.0 ms at TP 4
/// and TP 8 (the engine alone: 7.5–9 ms), 78 µs × 128. Later releases stream faster (a
/// TensorRT-LLM 1.3 B200 row delivers 30,000 tokens/s, past this ceiling), so the preset
/// (1.x) has none and only load points of 1.0 releases apply it.
pub const TRTLLM_1_0_STREAM_TOKEN_S: f64 = 78e-6;

/// One-way client ↔ scheduler latency of each engine's serving front end, seconds
/// ([`EngineModel::frontend_latency_s`]): the client's HTTP request and the API server's
/// parsing and tokenization on the way in, detokenization and streaming on the way out.
/// Fitted on the same development split as [`FITTED`] (`fit_engines -- --frontend`: a grid of
/// 0, 1, 3, 10 and 30 ms per engine, with and without scheduling ahead, on every aggregated
/// row): TensorRT-LLM's H100 TTFT median was 57.9/46.7/44.9/41.6/55.0 % (TPOT 7.9/9.2/8.9/
/// 11.2/14.0 %), vLLM's flat at 35.6 % up to 3 ms and worse above (44.5 % at 10 ms), SGLang's
/// H100 rows within 13.3 ± 2 % throughout. One value, 3 ms, is used for every engine (it is
/// within the best range of each; a one-way latency of a few milliseconds is what an
/// asyncio HTTP client and a Python API server take). All rows: TTFT 51.4 → 43.0 %, TPOT
/// 7.5 → 8.1 %.
pub const FRONTEND_FITTED: [(EngineKind, f64); 4] = [
    (EngineKind::Vllm, 3e-3),
    (EngineKind::VllmV0, 3e-3),
    (EngineKind::Sglang, 3e-3),
    (EngineKind::Trtllm, 3e-3),
];

fn frontend_latency(kind: EngineKind) -> f64 {
    FRONTEND_FITTED
        .iter()
        .find(|f| f.0 == kind)
        .map_or(0.0, |f| f.1)
}

fn fitted(kind: EngineKind) -> (f64, f64) {
    FITTED
        .iter()
        .find(|f| f.0 == kind)
        .map_or((0.0, 0.0), |f| (f.1, f.2))
}

impl EngineModel {
    /// The shipped defaults of `kind` for `ctx`.
    ///
    /// - **vllm** (V1; `vllm/engine/arg_utils.py` `get_batch_defaults`,
    ///   `vllm/config/compilation.py`): chunked prefill with decodes first; on GPUs with at least
    ///   70 GiB that are not A100s the OpenAI server uses `max_num_batched_tokens` 8192 and
    ///   `max_num_seqs` 1024, elsewhere 2048 and 256; CUDA graphs `FULL_AND_PIECEWISE` up to
    ///   `max_cudagraph_capture_size = min(2 × max_num_seqs, 512)` tokens; no admission
    ///   watermark; `gpu_memory_utilization` 0.9, block size 16. Async scheduling off (0.12's
    ///   `SchedulerConfig.async_scheduling` defaults to false; later releases turn it on by
    ///   default, PR #27614: pass `schedule_ahead` for them).
    /// - **vllm-v0** (0.6.x): prefill-first without mixing, `max_num_batched_tokens =
    ///   max(max_model_len, 2048)`, `max_num_seqs` 256, 1 % watermark; decode graphs up to 256
    ///   requests, prefills eager; host work between steps; 0.9, block 16. Above a context of
    ///   [`VLLM_V0_LONG_CONTEXT`] tokens (a model without MLA or sliding windows) V0 enables
    ///   chunked prefill itself: decodes first, then prefill chunks under a
    ///   [`VLLM_V0_CHUNKED_BUDGET`]-token budget.
    /// - **sglang** (0.5.x, `python/sglang/srt/server_args.py`): prefill priority with chunked
    ///   prefill, no mixing; `chunked_prefill_size` 2048 below 35 GB of GPU memory, 4096 below
    ///   60 GB, 8192 below 160 GB, 16384 above; decode graphs up to `cuda_graph_max_bs` (256
    ///   for TP < 4, 512 otherwise, on ≥ 60 GB GPUs; 512 above 160 GB; 160 below 60 GB);
    ///   prefills eager; `mem_fraction_static` from the GPU's memory, TP, chunk and graph
    ///   sizes ([`sglang_mem_fraction_static`]: 0.836 on an H100 at TP 1, 0.907 on an H200);
    ///   page size 1; overlap scheduler on
    ///   (`disable_overlap_schedule` false): the next batch is formed while one runs; one
    ///   detokenizer process streams every output token ([`SGLANG_STREAM_TOKEN_S`]).
    /// - **trtllm** (`trtllm-serve`, PyTorch backend, 1.x): in-flight batching of generation
    ///   steps with whole context (prefill) requests under `max_num_tokens` 8192 (chunked
    ///   context off), `max_batch_size` 2048; admission reserves each request's whole KV
    ///   (the `GUARANTEED_NO_EVICT` capacity policy: no preemption); generation-only CUDA
    ///   graphs up to 128 requests;
    ///   KV cache 0.9 of the memory left after weights and reserves
    ///   ([`TRTLLM_FREE_GPU_MEMORY_FRACTION`]); 32
    ///   tokens per block; overlap scheduler on (`disable_overlap_scheduler` false: the
    ///   PyTorch executor's `_executor_loop_overlap` schedules and launches iteration n + 1
    ///   before it processes iteration n's outputs).
    ///
    /// Every preset's host time is the exposed (serial) time fitted in [`FITTED`], its front
    /// end's latency that of [`FRONTEND_FITTED`]; every preset prices fused elementwise
    /// kernels and a custom all-reduce ([`EngineKernels`]), measured on H100, H200, B200 and
    /// B300 nodes and GB200 and GB300 trays ([`MeasuredAllReduce::for_engine`]: TensorRT-LLM's
    /// own kernel, vLLM's for the others); on Hopper it decodes over an fp8 KV cache at its
    /// kernel's measured fraction of the bf16 cache's time ([`fp8_kv_decode_ratio`]); on
    /// Hopper and Blackwell it pays its measured input quantisation before each GEMM whose
    /// weights and inputs are both fp8 or both fp4 ([`gemm_input_quant`]; vLLM runs batched
    /// GEMMs on 16-bit copies instead, [`EngineKernels::batched_gemms_16bit`]).
    pub fn preset(kind: EngineKind, ctx: &EngineContext<'_>) -> EngineModel {
        let big = ctx.gpu.memory_bytes as f64 >= 70.0 * GIB
            && !ctx.gpu.name.to_ascii_lowercase().contains("a100");
        let (per_iteration_s, per_request_s) = fitted(kind);
        let frontend_s = frontend_latency(kind);
        let compiled = EngineKernels {
            fused_elementwise_floor_s: Some(FUSED_ELEMENTWISE_FLOOR_S),
            custom_allreduce_max_bytes: CUSTOM_ALLREDUCE.0,
            custom_allreduce_latency_s: CUSTOM_ALLREDUCE.1,
            custom_allreduce_measured: MeasuredAllReduce::for_engine(kind, &ctx.gpu.name),
            fused_moe_measured: MeasuredFusedMoe::for_engine(kind, &ctx.gpu.name),
            fp8_kv_decode_vs_bf16: fp8_kv_decode_ratio(kind, &ctx.gpu.name),
            fp8_gemm_input_quant: gemm_input_quant(
                kind,
                &ctx.gpu.name,
                if ctx.fp8_block_scales {
                    InputQuant::Fp8Block
                } else {
                    InputQuant::Fp8Tensor
                },
            ),
            fp4_gemm_input_quant: gemm_input_quant(kind, &ctx.gpu.name, InputQuant::Fp4),
            batched_gemms_16bit: kind == EngineKind::Vllm,
        };
        let host = |overlapped| HostOverhead {
            per_iteration_s,
            per_request_s,
            overlapped,
        };
        match kind {
            EngineKind::Vllm => {
                let (tokens, seqs) = if big { (8192, 1024) } else { (2048, 256) };
                let capture = (2 * seqs).min(512);
                EngineModel {
                    name: kind.name().into(),
                    kind: Some(kind),
                    mirrors: "vLLM 0.12 V1 engine, OpenAI server defaults".into(),
                    scheduler: SchedulerConfig {
                        kind: SchedulerKind::Chunked,
                        max_num_seqs: seqs,
                        max_num_batched_tokens: tokens,
                        chunk_size: None,
                        watermark: 0.0,
                        reserve_to_completion: false,
                    },
                    host: host(false),
                    cuda_graph_max_batch: capture,
                    cuda_graph_max_tokens: capture,
                    eager_op_host_s: Some(COMPILED_OP_HOST_S),
                    eager_overlap_exponent: Some(f64::INFINITY),
                    launch_from_profile: true,
                    gpu_memory_utilization: 0.9,
                    memory_rule: MemoryRule::Utilization,
                    block_size: 16,
                    kernels: compiled,
                    schedule_ahead: false,
                    frontend_latency_s: frontend_s,
                    frontend_token_s: 0.0,
                    speculation: None,
                }
            }
            EngineKind::VllmV0 => EngineModel {
                name: kind.name().into(),
                kind: Some(kind),
                mirrors: "vLLM 0.6 V0 engine defaults".into(),
                scheduler: {
                    // Long contexts: V0 turns chunked prefill on by itself.
                    let chunked =
                        ctx.max_model_len > VLLM_V0_LONG_CONTEXT && !ctx.mla_or_sliding_window;
                    let (policy, max_num_batched_tokens) = if chunked {
                        (SchedulerKind::Chunked, VLLM_V0_CHUNKED_BUDGET)
                    } else {
                        (SchedulerKind::VllmV0, ctx.max_model_len.max(2048))
                    };
                    SchedulerConfig {
                        kind: policy,
                        max_num_seqs: 256,
                        max_num_batched_tokens,
                        chunk_size: None,
                        watermark: 0.01,
                        reserve_to_completion: false,
                    }
                },
                host: host(false),
                cuda_graph_max_batch: 256,
                cuda_graph_max_tokens: 0,
                eager_op_host_s: None,
                eager_overlap_exponent: None,
                launch_from_profile: false,
                gpu_memory_utilization: 0.9,
                memory_rule: MemoryRule::Utilization,
                block_size: 16,
                kernels: EngineKernels {
                    custom_allreduce_max_bytes: CUSTOM_ALLREDUCE.0,
                    custom_allreduce_latency_s: CUSTOM_ALLREDUCE.1,
                    ..compiled
                },
                schedule_ahead: false,
                frontend_latency_s: frontend_s,
                frontend_token_s: 0.0,
                speculation: None,
            },
            EngineKind::Sglang => {
                let (chunk, graph_bs) = sglang_gpu_defaults(ctx.gpu.memory_bytes, ctx.tp);
                EngineModel {
                    name: kind.name().into(),
                    kind: Some(kind),
                    mirrors: "SGLang 0.5 defaults (overlap scheduler on)".into(),
                    scheduler: SchedulerConfig {
                        kind: SchedulerKind::PrefillFirst,
                        max_num_seqs: 4096,
                        max_num_batched_tokens: chunk,
                        chunk_size: None,
                        watermark: 0.01,
                        reserve_to_completion: false,
                    },
                    host: host(false),
                    cuda_graph_max_batch: graph_bs,
                    cuda_graph_max_tokens: 0,
                    eager_op_host_s: Some(COMPILED_OP_HOST_S),
                    eager_overlap_exponent: Some(f64::INFINITY),
                    launch_from_profile: true,
                    gpu_memory_utilization: sglang_default_fraction(
                        ctx.gpu.memory_bytes,
                        ctx.tp,
                        1,
                        chunk,
                    ),
                    memory_rule: MemoryRule::StaticDefault,
                    block_size: 1,
                    kernels: compiled,
                    schedule_ahead: true,
                    frontend_latency_s: frontend_s,
                    frontend_token_s: SGLANG_STREAM_TOKEN_S,
                    speculation: None,
                }
            }
            EngineKind::Trtllm => EngineModel {
                name: kind.name().into(),
                kind: Some(kind),
                mirrors: "TensorRT-LLM 1.x trtllm-serve (PyTorch backend) defaults".into(),
                scheduler: SchedulerConfig {
                    kind: SchedulerKind::Orca,
                    max_num_seqs: 2048,
                    max_num_batched_tokens: 8192,
                    chunk_size: None,
                    watermark: 0.0,
                    // `SchedulerConfig.capacity_scheduler_policy` = GUARANTEED_NO_EVICT
                    reserve_to_completion: true,
                },
                host: host(false),
                cuda_graph_max_batch: 128,
                cuda_graph_max_tokens: 0,
                eager_op_host_s: Some(COMPILED_OP_HOST_S),
                eager_overlap_exponent: Some(f64::INFINITY),
                launch_from_profile: true,
                gpu_memory_utilization: TRTLLM_FREE_GPU_MEMORY_FRACTION,
                memory_rule: MemoryRule::FreeFraction,
                block_size: 32,
                kernels: compiled,
                schedule_ahead: true,
                frontend_latency_s: frontend_s,
                frontend_token_s: 0.0,
                speculation: None,
            },
        }
    }

    /// The same engine under vLLM's memory rule at `fraction` (`--gpu-memory-utilization`; see
    /// [`crate::MemoryOptions::use_utilization`]).
    pub fn use_utilization(&mut self, fraction: f64) {
        self.gpu_memory_utilization = fraction;
        self.memory_rule = MemoryRule::Utilization;
    }

    /// The same engine without CUDA graphs (vLLM's `--enforce-eager`, SGLang's
    /// `--disable-cuda-graph`): every iteration issues its kernels eagerly.
    pub fn without_cuda_graphs(mut self) -> EngineModel {
        self.cuda_graph_max_batch = 0;
        self.cuda_graph_max_tokens = 0;
        self
    }

    /// What this engine changes in `config` for `plan`: SGLang under DP attention
    /// (`plan.attn.replicas` > 1) chunks each rank's prefill at `chunked_prefill_size / dp`
    /// (`ServerArgs._handle_data_parallelism`: "the chunked prefill size is adjusted … to avoid
    /// MoE kernel issues"), so one request prefills at most that many tokens per iteration
    /// ([`SimConfig::prefill_chunk_per_request`], unless already set); the ranks together still
    /// fill the budget. Other engines split their budget per rank already (vLLM, TensorRT-LLM
    /// schedule each DP rank on its own), or need nothing.
    pub fn adapt_to_plan(&self, config: &mut SimConfig, plan: &crate::Plan) {
        let ranks = plan.attn.replicas;
        if self.mirrors_kind() == Some(EngineKind::Sglang)
            && ranks > 1
            && config.prefill_chunk_per_request.is_none()
            && config.scheduler.kind.chunked()
        {
            config.prefill_chunk_per_request =
                Some((config.scheduler.token_budget() / ranks).max(1));
        }
    }

    /// The engine this model mirrors: [`EngineModel::kind`], else the engine its name names
    /// (an engine file written before `kind` existed).
    pub fn mirrors_kind(&self) -> Option<EngineKind> {
        self.kind.or_else(|| self.name.parse().ok())
    }

    /// Whether the engine loads the model's multi-token-prediction module as a draft
    /// (speculation with at least one draft token; [`MemoryOptions::draft_module`]).
    ///
    /// [`MemoryOptions::draft_module`]: crate::MemoryOptions::draft_module
    pub fn loads_draft_module(&self) -> bool {
        self.speculation.is_some_and(|s| s.draft_tokens > 0)
    }

    /// The same engine decoding speculatively with `spec` ([`EngineModel::speculation`]), with
    /// what its engine changes for it. SGLang (0.5, without the beta `SGLANG_ENABLE_SPEC_V2`)
    /// turns its overlap scheduler and mixed chunks off for EAGLE-style speculation (its
    /// `NEXTN`), and an unset `--max-running-requests` becomes 48 (`ServerArgs`'
    /// speculative-decoding checks): the preset's running cap drops to 48, which an explicit
    /// cap set afterwards overrides. vLLM and TensorRT-LLM keep their schedulers.
    pub fn with_speculation(mut self, spec: parallax_sim::Speculation) -> EngineModel {
        self.speculation = Some(spec);
        if self.mirrors_kind() == Some(EngineKind::Sglang) {
            self.mirrors = "SGLang 0.5 defaults with speculative decoding (overlap scheduler and \
                            mixed chunks off)"
                .into();
            self.schedule_ahead = false;
            if self.scheduler.kind == SchedulerKind::Chunked {
                self.scheduler.kind = SchedulerKind::PrefillFirst;
            }
            self.scheduler.max_num_seqs = self
                .scheduler
                .max_num_seqs
                .min(SGLANG_SPECULATIVE_MAX_RUNNING);
        }
        self
    }

    /// The same engine with NCCL for every all-reduce (`--disable-custom-all-reduce`;
    /// TensorRT-LLM's `allreduce_strategy: NCCL`): no custom one-shot kernel, measured or
    /// modelled.
    pub fn without_custom_all_reduce(mut self) -> EngineModel {
        self.kernels.custom_allreduce_max_bytes = 0.0;
        self.kernels.custom_allreduce_measured = None;
        self
    }

    /// No serving engine: the bare simulator's defaults (vLLM V0's scheduler settings as
    /// [`SchedulerConfig::default`], no host time, decode-only CUDA graphs up to 512 requests,
    /// the cost model's own eager issue time and kernels, memory 0.9 with 16-token blocks).
    /// Its lowering options, simulator settings and cost model equal the defaults exactly.
    pub fn none() -> EngineModel {
        let lower = LowerOptions::default();
        EngineModel {
            name: "none".into(),
            kind: None,
            mirrors: "the bare simulator, no serving engine".into(),
            scheduler: SchedulerConfig::default(),
            host: HostOverhead::default(),
            cuda_graph_max_batch: if lower.cuda_graphs {
                lower.cuda_graph_max_batch
            } else {
                0
            },
            cuda_graph_max_tokens: lower.cuda_graph_max_tokens,
            eager_op_host_s: lower.eager_op_host,
            eager_overlap_exponent: lower.eager_overlap_exponent,
            launch_from_profile: false,
            gpu_memory_utilization: lower.memory.gpu_memory_utilization,
            memory_rule: lower.memory.rule,
            block_size: lower.memory.block_size,
            kernels: EngineKernels::default(),
            schedule_ahead: false,
            frontend_latency_s: 0.0,
            frontend_token_s: 0.0,
            speculation: None,
        }
    }

    /// The lowering options of this engine on top of `base` (memory fraction, block size and
    /// reserves sized for the scheduler's limits; CUDA graphs; eager issue time).
    pub fn lower_options(&self, base: &LowerOptions) -> LowerOptions {
        let mut o = *base;
        o.memory.gpu_memory_utilization = self.gpu_memory_utilization;
        o.memory.rule = self.memory_rule;
        o.memory.block_size = self.block_size;
        o.memory.max_num_batched_tokens = self.scheduler.token_budget();
        o.memory.max_num_seqs = self.scheduler.max_num_seqs;
        o.cuda_graphs = self.cuda_graph_max_batch > 0 || self.cuda_graph_max_tokens > 0;
        o.cuda_graph_max_batch = self.cuda_graph_max_batch;
        o.cuda_graph_max_tokens = self.cuda_graph_max_tokens;
        o.eager_op_host = self.eager_op_host_s;
        o.measured_launch = self.launch_from_profile;
        o.eager_overlap_exponent = self.eager_overlap_exponent;
        o.speculative_tokens = self.speculation.map_or(0, |s| s.draft_tokens);
        o.memory.draft_module = self.loads_draft_module();
        if o.speculative_tokens > 0
            && matches!(
                self.mirrors_kind(),
                Some(EngineKind::Vllm | EngineKind::VllmV0)
            )
        {
            // vLLM captures decode graphs by tokens, `1 + k` per request under speculation
            o.cuda_graph_max_batch /= 1 + o.speculative_tokens;
        }
        o
    }

    /// `cost` as this engine runs it ([`EngineCost`]), for a GPU with `memory_bandwidth`
    /// bytes/s. Returns `cost` itself when the engine changes no kernel.
    pub fn cost_model(
        &self,
        cost: std::sync::Arc<dyn parallax_hw::CostModel>,
        memory_bandwidth: f64,
    ) -> std::sync::Arc<dyn parallax_hw::CostModel> {
        if self.kernels == EngineKernels::default() {
            cost
        } else {
            std::sync::Arc::new(EngineCost::new(cost, self.kernels, memory_bandwidth))
        }
    }

    /// The simulator settings of this engine on top of `base` (scheduler, host work,
    /// scheduling ahead and the front end's latency).
    pub fn sim_config(&self, base: &SimConfig) -> SimConfig {
        SimConfig {
            scheduler: self.scheduler,
            host: self.host,
            schedule_ahead: self.schedule_ahead,
            frontend_latency_s: self.frontend_latency_s,
            frontend_token_s: self.frontend_token_s,
            speculation: self.speculation,
            ..*base
        }
    }

    /// Check every field's range.
    ///
    /// # Errors
    /// [`PlanError::Option`] naming the field, for invalid scheduler or host settings, a
    /// memory fraction outside (0, 1], a zero block size, a negative issue time or an fp8
    /// decode fraction outside (0, 1].
    pub fn validate(&self) -> Result<(), PlanError> {
        let bad = |option: &str, value: String, expected: &str| PlanError::Option {
            option: format!("engine.{option}"),
            value,
            expected: expected.into(),
        };
        self.scheduler.validate().map_err(|e| {
            bad(
                "scheduler",
                format!("{:?}", self.scheduler.kind),
                &e.to_string(),
            )
        })?;
        self.host
            .validate()
            .map_err(|e| bad("host", format!("{:?}", self.host), &e.to_string()))?;
        let u = self.gpu_memory_utilization;
        if !(u > 0.0 && u <= 1.0) {
            return Err(bad(
                "gpu_memory_utilization",
                u.to_string(),
                "0 < fraction ≤ 1",
            ));
        }
        if self.block_size == 0 {
            return Err(bad("block_size", "0".into(), "≥ 1 token"));
        }
        let f = self.frontend_token_s;
        if !(f.is_finite() && (0.0..=parallax_sim::MAX_FRONTEND_TOKEN_S).contains(&f)) {
            return Err(bad(
                "frontend_token_s",
                f.to_string(),
                &format!(
                    "a time in [0, {}] seconds per token",
                    parallax_sim::MAX_FRONTEND_TOKEN_S
                ),
            ));
        }
        if let Some(spec) = &self.speculation {
            spec.validate()
                .map_err(|e| bad("speculation", format!("{spec:?}"), &e.to_string()))?;
        }
        if let Some(h) = self
            .eager_op_host_s
            .filter(|h| !(h.is_finite() && *h >= 0.0))
        {
            return Err(bad(
                "eager_op_host_s",
                h.to_string(),
                "a finite time ≥ 0 seconds",
            ));
        }
        if let Some(p) = self
            .eager_overlap_exponent
            .filter(|p| p.is_nan() || *p <= 0.0)
        {
            return Err(bad(
                "eager_overlap_exponent",
                p.to_string(),
                "> 0 (∞ for the maximum)",
            ));
        }
        if let Some(r) = self
            .kernels
            .fp8_kv_decode_vs_bf16
            .filter(|r| !(*r > 0.0 && *r <= 1.0))
        {
            return Err(bad(
                "kernels.fp8_kv_decode_vs_bf16",
                r.to_string(),
                "a fraction in (0, 1] of the bf16 cache's time",
            ));
        }
        for (name, q) in [
            ("fp8_gemm_input_quant", self.kernels.fp8_gemm_input_quant),
            ("fp4_gemm_input_quant", self.kernels.fp4_gemm_input_quant),
        ] {
            let Some(q) = q else { continue };
            for (field, v, max) in [
                ("fixed_s", q.fixed_s, 1e-3),
                ("per_element_s", q.per_element_s, 1e-9),
            ] {
                if !(0.0..=max).contains(&v) {
                    return Err(bad(
                        &format!("kernels.{name}.{field}"),
                        parallax_ir::error::compact(v),
                        &format!("a time in [0, {max:e}] seconds"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// SGLang's `--max-running-requests` when speculative decoding is on and none is given
/// (`ServerArgs`, 0.5.x).
pub const SGLANG_SPECULATIVE_MAX_RUNNING: u32 = 48;

/// Speculative decoding with `model`'s own multi-token-prediction module drafting
/// `draft_tokens` tokens per step, each draft position accepted at the conditional rate given
/// in `rates` (one per draft); without rates, one draft at
/// [`parallax_sim::DEEPSEEK_MTP_ACCEPTANCE`] (there is no published rate for further drafts of
/// one module). Set it as [`EngineModel::speculation`].
///
/// # Errors
/// A message naming the problem: a model without MTP layers ([`parallax_ir::Model::mtp_layers`] 0; a
/// separate draft model is not modelled), more than one draft without rates, a rate count
/// other than `draft_tokens`, a rate outside `[0, 1]`, or `draft_tokens` outside
/// `1..=`[`parallax_sim::MAX_DRAFT_TOKENS`].
///
/// # Examples
/// ```
/// let v3 = parallax_ir::resolve("deepseek-v3").unwrap();
/// let s = parallax_plan::mtp_speculation(&v3, 1, None).unwrap();
/// assert_eq!(s.tokens_per_step(), 1.85);
/// let llama = parallax_ir::resolve("llama-3.1-8b").unwrap();
/// assert!(parallax_plan::mtp_speculation(&llama, 1, None).is_err());
/// ```
pub fn mtp_speculation(
    model: &parallax_ir::Model,
    draft_tokens: u32,
    rates: Option<&[f64]>,
) -> Result<parallax_sim::Speculation, String> {
    if model.mtp_layers == 0 {
        return Err(format!(
            "model {} ships no multi-token-prediction layers (num_nextn_predict_layers 0 or \
             absent); speculation with a separate draft model is not modelled",
            model.name
        ));
    }
    if !(1..=parallax_sim::MAX_DRAFT_TOKENS).contains(&draft_tokens) {
        return Err(format!(
            "{draft_tokens} draft tokens; expected 1 to {}",
            parallax_sim::MAX_DRAFT_TOKENS
        ));
    }
    let rates: Vec<f64> = match rates {
        Some(r) => r.to_vec(),
        None if draft_tokens == 1 => vec![parallax_sim::DEEPSEEK_MTP_ACCEPTANCE],
        None => {
            return Err(format!(
                "{draft_tokens} draft tokens need {draft_tokens} acceptance rates, one per draft \
                 position"
            ))
        }
    };
    if rates.len() != draft_tokens as usize {
        return Err(format!(
            "{} acceptance rates for {draft_tokens} draft tokens; expected one per draft position",
            rates.len()
        ));
    }
    parallax_sim::Speculation::from_acceptance_rates(&rates)
}
