//! The roofline cost model: analytic kernel times from a GPU's datasheet ceilings and a small
//! set of explicit efficiency parameters ([`RooflineParams`]).
//!
//! Every parameter is either a fraction of a datasheet ceiling (peak FLOP/s, memory or link
//! bandwidth), a time floor, or a tile geometry, so the defaults carry over from the H100 they
//! were reasoned on to every catalogued GPU. The profiled cost model fits these same parameters
//! to measured operator tables.
//!
//! # GEMM
//! `t = floor + (t_c^q + t_m^q)^(1/q)` — a smooth maximum of a compute and a memory term:
//! * `t_m = bytes / (memory_efficiency · bandwidth)` (weights, inputs, outputs once each);
//!   at small `m` the GEMM is bound by reading its weights.
//! * `t_c`: the output is cut into tiles `TM×TN`; tiles run in waves of one tile per SM / CU;
//!   `t_c = waves · 2·TM·TN·k / (compute_efficiency · tile_efficiency · peak / SMs)`, minimised
//!   over the candidate tile shapes (what a GEMM library's heuristic does). The tile efficiency
//!   `1 / (1 + tile_overhead · (1/TM + 1/TN))` makes small tiles slower per FLOP. Waves are
//!   whole numbers: this is the wave-quantisation that makes `m = 1024, n = 1280` slow.
//!
//! # Fused MoE
//! The routed experts of a layer run as one grouped kernel (gate/up GEMM, activation, down
//! GEMM): memory term = the active experts' weights once plus the rows' activations
//! ([`FusedMoe::bytes`]); compute term = the GEMM FLOPs over rows padded, per active expert,
//! to the kernel's row tile (a power of two in 16…128 that follows the mean rows per expert),
//! at the GEMM compute efficiency of its types' tensor-core path (as for GEMMs: the 8-bit and
//! 4-bit paths' own fractions) times that tile's efficiency; blended as for GEMMs, plus
//! two GEMM floors and one elementwise floor. No per-expert launch or floor: this is what
//! makes fine-grained MoE (128 experts of width 768) cheap in decode.
//!
//! # Prefill attention (flash, causal, with prefix)
//! FLOPs `= 2 · heads · (qk_dim + v_dim) · new · (prefix + new/2)` per chunk. The kernel runs
//! one CTA per (head, block of `block_q` query rows); CTAs run in whole waves over the SMs and
//! each costs its share of the FLOPs plus a fixed overhead worth `cta_overhead_tokens` keys;
//! the last wave lasts as long as the longest CTA (the last query block, which sees every key).
//!
//! # Decode attention
//! Memory-bound on reading the KV cache: `context_sum · kv_bytes_per_token` at
//! `memory_efficiency · bandwidth`, or compute-bound (MLA with many heads per latent) — the
//! larger — plus a kernel floor and a per-request term.
//!
//! # Elementwise
//! `floor + bytes / (memory_efficiency · bandwidth)`.
//!
//! # Collectives (α-β)
//! Every collective over more than one rank costs a fixed `collective_floor` (NCCL's kernel
//! launch and handshake; 0 by default, fitted in the calibrated parameters) plus the α-β time
//! below. Link bandwidth is the datasheet figure times `link_efficiency`; α is the link's latency.
//! For a group of `n` ranks in one node:
//! * all-reduce: ring `2(n-1)·α + 2(n-1)/n · B/bw`, tree `2⌈log2 n⌉·α + 2·B/bw`; the
//!   faster of the two is used (tree wins for small messages, ring for large ones),
//! * all-gather / reduce-scatter: ring `(n-1)·α + (n-1)/n · B/bw`,
//! * all-to-all: pairwise exchange, `(n-1)` steps of `α + B/(n·bw)`,
//! * send/recv: `α + B/bw`.
//!
//! A group spanning several nodes (`p` ranks per node, `N` nodes) moves its bytes
//! hierarchically, and every step of its algorithm waits for the network's latency `α_e`:
//! * all-reduce: `2(p-1)/p · B/bw_i` (intra reduce-scatter + all-gather) plus the faster of
//!   ring `2(n-1)·α_e + 2(N-1)/N · (B/p)/bw_e` and tree `2⌈log2 n⌉·α_e + 2·(B/p)/bw_e`,
//! * all-gather / reduce-scatter: `(n-1)·α_e + (N-1)/N · (B/p)/bw_e + (p-1)/p · B/bw_i`,
//! * all-to-all: `(p-1)` intra steps of `α_i + B/(n·bw_i)` and `(n-p)` inter steps of
//!   `α_e + B/(n·bw_e)`,
//! * send/recv between nodes: `α_e + B/bw_e`.
//!
//! The inter-node link is the bottleneck.

use crate::cost::CostModel;
use crate::gpu::{Gpu, GpuArchitecture};
use crate::topology::{DeviceGroup, Link};
use parallax_ir::{
    AttentionShape, CollectiveKind, DType, DecodeGroup, Elementwise, FusedMoe, Gemm, PrefillChunk,
};
use serde::{Deserialize, Serialize};

/// Default host time per eagerly issued lowered op, seconds (see [`RooflineParams::default`]).
pub const DEFAULT_HOST_OP: f64 = 41e-6;
/// Default fixed device time per iteration, seconds (see [`RooflineParams::default`]).
pub const DEFAULT_ITERATION: f64 = 0.0;
/// Default blend exponent of device and host time in eager iterations.
pub const DEFAULT_HOST_OVERLAP: f64 = 1.5;
/// Default device time hidden per pair of consecutive kernels of a CUDA-graph replay,
/// seconds (see [`RooflineParams::default`] and [`CostModel::graph_kernel_overlap`]).
pub const DEFAULT_GRAPH_OVERLAP: f64 = 2.2e-6;

fn default_graph_overlap() -> f64 {
    DEFAULT_GRAPH_OVERLAP
}

/// Fraction of the bf16 path's compute efficiency that 8-bit (fp8, int8) tensor-core GEMMs
/// sustain of their own, twice higher, dense peak: measured compute-bound fp8 GEMMs run 1.52×
/// as fast as bf16 ones, not 2× (median over the 853 shapes with `m, n, k ≥ 4096` of NVIDIA's
/// TensorRT-LLM 1.2.0rc5 GEMM sweeps on an H100 SXM and an H200 SXM, 1.520 and 1.523 per GPU;
/// aiconfigurator @095f58a, extract and derivation in `tests/data/aiconfigurator-gemm/` and
/// `tests/roofline_fp8.rs`). The 4-bit path has its own, [`GEMM_4BIT_EFFICIENCY`].
pub const GEMM_8BIT_EFFICIENCY: f64 = 0.76;

fn default_8bit_efficiency() -> f64 {
    GEMM_8BIT_EFFICIENCY
}

/// Fraction of the bf16 path's compute efficiency that fp4 tensor-core GEMMs (NVFP4 W4A4 on
/// Blackwell) sustain of their own dense peak, four times the bf16 one on a B200 or GB200
/// (B300's and GB300's six times is not measured: the same fraction is assumed there, which
/// prices NVFP4 at about 4× bf16 on them): compute-bound NVFP4 GEMMs
/// run 2.73× as fast as bf16 ones, not 4× (median over the 2,061 shape-and-engine pairs with
/// `m, n, k ≥ 4096` of NVIDIA's B200 GEMM sweeps of TensorRT-LLM 1.3.0rc20 (2.41×), vLLM
/// 0.19.0 (2.66×) and SGLang 0.5.9 (3.13×); GB200's sweeps, not fitted, give 2.79×;
/// aiconfigurator @095f58a, extract in `tests/data/aiconfigurator-blackwell-gemm/`, derived
/// and checked by `tests/roofline_blackwell.rs`). The standalone timings include the
/// activation's quantisation kernel, as engines run it.
pub const GEMM_4BIT_EFFICIENCY: f64 = 0.682;

fn default_4bit_efficiency() -> f64 {
    GEMM_4BIT_EFFICIENCY
}

/// `gemm_compute_efficiency` of Blackwell GPUs ([`GpuArchitecture::Blackwell`]): large bf16
/// GEMMs on a B200 reach 0.708 of the 2,250 TFLOP/s datasheet peak where the H100-calibrated
/// 0.81 would have them: the median measured/predicted time over the same 2,061 pairs as
/// [`GEMM_4BIT_EFFICIENCY`] is 1.145 (TensorRT-LLM 1.143, vLLM 1.096, SGLang 1.233; GB200's,
/// not fitted, 1.196, and 1.048 with this value). [`RooflineModel::calibrated`] uses it for
/// Blackwell GPUs in place of the calibrated file's value; every other parameter stands (the
/// same source's TensorRT-LLM 1.3.0rc20 sweeps put decode attention within 4% of the
/// calibrated roofline on both GPUs, and all-reduces of 1 MiB or more within 10%).
pub const BLACKWELL_GEMM_COMPUTE_EFFICIENCY: f64 = 0.708;

/// Explicit efficiency parameters of the [`RooflineModel`].
///
/// Fractions are of the GPU's datasheet ceilings; times are in seconds; tile sizes in
/// elements. The defaults ([`RooflineParams::default`]) were set by reasoning on the H100
/// measurements in `tests/data/` (`roofline_gemm.rs` reports their errors) and are meant to be
/// refitted per GPU from profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineParams {
    /// Fraction of dense peak FLOP/s a full wave of the largest GEMM tiles sustains
    /// (cuBLAS on H100 reaches about 80% of 989 TFLOP/s on large bf16 GEMMs).
    pub gemm_compute_efficiency: f64,
    /// Fraction of `gemm_compute_efficiency` that GEMMs on the 8-bit (fp8, int8) tensor-core
    /// path sustain of that path's dense peak ([`GEMM_8BIT_EFFICIENCY`], measured). Absent in
    /// a JSON file: that value.
    #[serde(default = "default_8bit_efficiency")]
    pub gemm_8bit_efficiency: f64,
    /// Fraction of `gemm_compute_efficiency` that GEMMs on the fp4 tensor-core path (fp4
    /// weights and inputs on a GPU with one) sustain of that path's dense peak
    /// ([`GEMM_4BIT_EFFICIENCY`], measured). Absent in a JSON file: that value.
    #[serde(default = "default_4bit_efficiency")]
    pub gemm_4bit_efficiency: f64,
    /// Fraction of peak memory bandwidth a GEMM reaches when streaming its operands
    /// (the weight-read-bound regime at small `m`).
    pub gemm_memory_efficiency: f64,
    /// Fixed device time of one GEMM kernel in seconds (prologue, epilogue, tail), added to
    /// every GEMM launch.
    pub gemm_floor: f64,
    /// Candidate output tile shapes `[TM, TN]` (rows of `m`, columns of `n`); the fastest one
    /// is used for each shape.
    pub gemm_tiles: Vec<[u32; 2]>,
    /// Tile overhead `c` in the tile efficiency `1 / (1 + c·(1/TM + 1/TN))`: the cost of
    /// loading a tile's operands relative to its math (smaller tiles reuse less).
    pub gemm_tile_overhead: f64,
    /// Exponent `q` of the smooth maximum `(t_c^q + t_m^q)^(1/q)` of compute and memory time
    /// (large `q` → hard roofline; `q = 1` → no overlap).
    pub gemm_overlap_exponent: f64,

    /// Fraction of dense peak FLOP/s that a full wave of flash-attention CTAs sustains.
    pub prefill_compute_efficiency: f64,
    /// Query rows per flash-attention CTA.
    pub prefill_block_q: u32,
    /// Fixed per-CTA work (loading Q, softmax finalisation, writing O), in equivalent keys.
    pub prefill_cta_overhead_tokens: f64,
    /// Fixed device time of one prefill-attention kernel, seconds.
    pub prefill_floor: f64,

    /// Fraction of peak memory bandwidth a decode-attention kernel reaches reading the cache.
    pub decode_memory_efficiency: f64,
    /// Fraction of dense peak FLOP/s a decode-attention kernel reaches when compute-bound
    /// (many query heads per KV head, as in MLA); default 0.6, from MLA decode kernel sweeps
    /// (see the default's source).
    pub decode_compute_efficiency: f64,
    /// Fixed device time of one decode-attention kernel, seconds.
    pub decode_floor: f64,
    /// Extra device time per decode request (block-table walks, split-KV reduction), seconds.
    pub decode_per_request: f64,

    /// Fraction of peak memory bandwidth elementwise and norm kernels reach.
    pub elementwise_memory_efficiency: f64,
    /// Fixed device time of one elementwise kernel, seconds.
    pub elementwise_floor: f64,

    /// Fraction of a link's datasheet bandwidth a collective library achieves (bus bandwidth).
    pub link_efficiency: f64,
    /// Fixed device time of one collective (NCCL kernel launch and the ranks' handshake),
    /// seconds, added to the α-β time of every collective over more than one rank. Absent in
    /// a JSON file: 0.
    #[serde(default)]
    pub collective_floor: f64,

    /// Host time to issue one lowered op eagerly (without a CUDA graph), seconds: the
    /// framework's dispatch plus the launches of every kernel it runs for the op
    /// ([`CostModel::kernel_launch_overhead`]).
    pub kernel_launch: f64,
    /// Fixed device-side time per iteration, with or without CUDA graphs (graph launch,
    /// first-kernel latency), seconds ([`CostModel::iteration_overhead`]). Scheduler time is
    /// not part of it.
    pub iteration: f64,
    /// Exponent of the blend of device and host time of an eager iteration
    /// ([`CostModel::host_overlap_exponent`]).
    pub host_overlap: f64,
    /// Device time hidden per pair of consecutive kernels of a CUDA-graph replay, seconds
    /// ([`CostModel::graph_kernel_overlap`]). Absent in a JSON file: the default.
    #[serde(default = "default_graph_overlap")]
    pub graph_kernel_overlap: f64,
}

/// The smallest efficiency [`RooflineParams::validate`] accepts: a thousandth of a peak.
const MIN_EFFICIENCY: f64 = 1e-3;

impl RooflineParams {
    /// Checks every parameter is in its physical range: efficiencies in [0.001, 1]
    /// (`gemm_8bit_efficiency` and `gemm_4bit_efficiency` in [0.001, 2], fractions of the bf16
    /// path's efficiency; a smaller one, such as `5e-324`, made times infinite), fixed times
    /// in [0, 1] s, tiles and CTA rows ≥ 1, the tile overhead and CTA overhead tokens in
    /// [0, 1e6], the blend exponents finite ≥ 1 (`host_overlap` > 0).
    ///
    /// # Errors
    /// `(field, value as written, expected)` of the first parameter out of range.
    pub fn validate(&self) -> Result<(), (&'static str, String, &'static str)> {
        let bad = |field, v: f64, expected| Err((field, parallax_ir::error::compact(v), expected));
        for (field, v) in [
            ("gemm_compute_efficiency", self.gemm_compute_efficiency),
            ("gemm_memory_efficiency", self.gemm_memory_efficiency),
            (
                "prefill_compute_efficiency",
                self.prefill_compute_efficiency,
            ),
            ("decode_memory_efficiency", self.decode_memory_efficiency),
            ("decode_compute_efficiency", self.decode_compute_efficiency),
            (
                "elementwise_memory_efficiency",
                self.elementwise_memory_efficiency,
            ),
            ("link_efficiency", self.link_efficiency),
        ] {
            if !(MIN_EFFICIENCY..=1.0).contains(&v) {
                return bad(field, v, "a fraction in [0.001, 1] of the datasheet peak");
            }
        }
        for (field, e) in [
            ("gemm_8bit_efficiency", self.gemm_8bit_efficiency),
            ("gemm_4bit_efficiency", self.gemm_4bit_efficiency),
        ] {
            if !(MIN_EFFICIENCY..=2.0).contains(&e) {
                return bad(
                    field,
                    e,
                    "in [0.001, 2]: a fraction of the bf16 path's efficiency",
                );
            }
        }
        for (field, v) in [
            ("gemm_floor", self.gemm_floor),
            ("prefill_floor", self.prefill_floor),
            ("decode_floor", self.decode_floor),
            ("decode_per_request", self.decode_per_request),
            ("elementwise_floor", self.elementwise_floor),
            ("collective_floor", self.collective_floor),
            ("kernel_launch", self.kernel_launch),
            ("iteration", self.iteration),
            ("graph_kernel_overlap", self.graph_kernel_overlap),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, v, "a time in [0, 1] seconds");
            }
        }
        if self.gemm_tiles.is_empty() || self.gemm_tiles.iter().flatten().any(|&t| t == 0) {
            return Err((
                "gemm_tiles",
                format!("{:?}", self.gemm_tiles),
                "at least one tile shape [TM, TN] with both sides ≥ 1",
            ));
        }
        if self.prefill_block_q == 0 {
            return bad("prefill_block_q", 0.0, "≥ 1 query row per CTA");
        }
        for (field, v) in [
            ("gemm_tile_overhead", self.gemm_tile_overhead),
            (
                "prefill_cta_overhead_tokens",
                self.prefill_cta_overhead_tokens,
            ),
        ] {
            if !(0.0..=1e6).contains(&v) {
                return bad(field, v, "a value in [0, 1e6]");
            }
        }
        if !(self.gemm_overlap_exponent.is_finite() && self.gemm_overlap_exponent >= 1.0) {
            return bad(
                "gemm_overlap_exponent",
                self.gemm_overlap_exponent,
                "a finite exponent ≥ 1",
            );
        }
        if !(self.host_overlap.is_finite() && self.host_overlap > 0.0) {
            return bad("host_overlap", self.host_overlap, "a finite exponent > 0");
        }
        Ok(())
    }
}

impl Default for RooflineParams {
    /// The defaults, reasoned on the H100 profiles (`tests/data/`):
    /// * GEMM: the smallest GEMMs take ~13 µs while streaming 17 MB, the largest GEMVs reach
    ///   ~2.9-3.0 TB/s of 3.35 (copy ceiling 2.93-3.0 TB/s): memory efficiency 0.9 and an
    ///   8 µs floor. Large GEMMs reach 700-790 TFLOP/s of 989: compute efficiency 0.85 with
    ///   tile efficiency ~0.95 for 128×256 tiles (overhead 4). A cube-norm (q = 3) blends the
    ///   two terms near the ridge (m ≈ 256).
    /// * Prefill: 8192-token causal attention sustains ~610 TFLOP/s: efficiency 0.65 with
    ///   128-row CTAs, each paying ~128 keys of fixed work, 7 µs floor; short sequences with
    ///   few heads are set by their longest CTA.
    /// * Decode: 1 GiB of KV read in 365 µs (~3.0 TB/s): efficiency 0.9; ~11 µs floor.
    /// * Elementwise: 0.8 of bandwidth, 2 µs floor. Links: 0.8 of the datasheet bandwidth
    ///   (NCCL bus bandwidth on NVLink).
    /// * Host and iteration overheads (see `docs/profile-format.md`, "Overheads"): fitted by
    ///   `parallax_hw::profile::fit_overheads` to the 22 Llama-3.1-8B iterations of
    ///   `crates/parallax/data/measured/h100-sxm-iterations.csv` (H100 SXM, PyTorch 2.11 eager
    ///   and CUDA-graph forwards) with the embedded H100 profile pricing the device time:
    ///   `kernel_launch` is the host time per lowered op of a PyTorch-eager forward (the
    ///   harness issues ~1,060 kernels, ~3.6 per lowered op, at ~11 µs each); `iteration`
    ///   the device time CUDA-graph replays add to their kernels; `host_overlap` the blend
    ///   exponent of eager iterations; `graph_kernel_overlap` (2.2 µs: the median of
    ///   `(G − measured) / (ops − 1)` over the 9 graph rows, 2.196 µs) the device time each
    ///   pair of consecutive kernels of a replay hides against their isolated profiled
    ///   times. The Llama-2-7B and Qwen2.5-7B rows and the H200 file
    ///   are held out (`crates/parallax/tests/fidelity.rs`).
    fn default() -> Self {
        RooflineParams {
            gemm_compute_efficiency: 0.85,
            gemm_8bit_efficiency: GEMM_8BIT_EFFICIENCY,
            gemm_4bit_efficiency: GEMM_4BIT_EFFICIENCY,
            gemm_memory_efficiency: 0.9,
            gemm_floor: 8e-6,
            gemm_tiles: vec![
                [128, 256],
                [256, 128],
                [128, 128],
                [64, 128],
                [128, 64],
                [64, 64],
            ],
            gemm_tile_overhead: 4.0,
            gemm_overlap_exponent: 3.0,
            prefill_compute_efficiency: 0.65,
            prefill_block_q: 128,
            prefill_cta_overhead_tokens: 128.0,
            prefill_floor: 7e-6,
            decode_memory_efficiency: 0.9,
            // MLA decode at 128 heads per GPU, where compute binds: the value that best fits
            // NVIDIA's aiconfigurator sweeps of SGLang 0.5.6's and TensorRT-LLM 1.2.0rc5's
            // kernels on H100 and H200 (tests/data/aiconfigurator-mla; grid 0.5-0.7 by 0.05,
            // median |log error| 0.197 at 0.5, 0.088 at 0.6); GQA decode is memory-bound
            decode_compute_efficiency: 0.6,
            decode_floor: 11e-6,
            decode_per_request: 0.0,
            elementwise_memory_efficiency: 0.8,
            elementwise_floor: 2e-6,
            link_efficiency: 0.8,
            collective_floor: 0.0,
            kernel_launch: DEFAULT_HOST_OP,
            iteration: DEFAULT_ITERATION,
            host_overlap: DEFAULT_HOST_OVERLAP,
            graph_kernel_overlap: DEFAULT_GRAPH_OVERLAP,
        }
    }
}

/// The calibrated roofline parameters as embedded JSON (`data/calibrated-roofline.json`):
/// [`crate::profile::calibrate()`] run on the embedded H100 profile from
/// [`RooflineParams::default`] (`parallax calibrate` reproduces it; the test
/// `profile_calibrate.rs` re-derives it).
pub const CALIBRATED_JSON: &str = include_str!("../data/calibrated-roofline.json");

/// The calibrated roofline parameters (see [`CALIBRATED_JSON`]): efficiency fractions of
/// the datasheet ceilings, time floors and tile shapes fitted to the H100 profile, which carry
/// over to GPUs without a profile; host and iteration overheads as in
/// [`RooflineParams::default`].
pub fn calibrated_params() -> &'static RooflineParams {
    static CELL: std::sync::OnceLock<RooflineParams> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        // Fixed embedded data covered by a test; the defaults are a safe answer regardless.
        serde_json::from_str(CALIBRATED_JSON).unwrap_or_default()
    })
}

/// Analytic cost model from a GPU's ceilings and [`RooflineParams`].
///
/// # Examples
/// ```
/// use parallax_hw::{catalog, CostModel, RooflineModel};
/// use parallax_ir::{DType, Gemm};
/// let model = RooflineModel::new(&catalog::gpu("H100")?);
/// let g = Gemm { m: 4096, n: 4096, k: 4096, count: 1, weight_dtype: DType::Bf16, act_dtype: DType::Bf16 };
/// let t = model.gemm(&g);
/// assert!(t > 150e-6 && t < 250e-6); // ~176 µs measured
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RooflineModel {
    name: String,
    gpu: Gpu,
    params: RooflineParams,
}

impl RooflineModel {
    /// The roofline model of `gpu` with the default parameters.
    pub fn new(gpu: &Gpu) -> Self {
        Self::with_params(gpu, RooflineParams::default())
    }

    /// The roofline model of `gpu` with explicit parameters (e.g. fitted to a profile).
    pub fn with_params(gpu: &Gpu, params: RooflineParams) -> Self {
        RooflineModel {
            name: format!("roofline:{}", gpu.name),
            gpu: gpu.clone(),
            params,
        }
    }

    /// The roofline model of `gpu` with the parameters calibrated to the embedded H100
    /// profile ([`calibrated_params`]); named `roofline:<gpu>` like the default one. A
    /// Blackwell GPU ([`GpuArchitecture::Blackwell`]) gets
    /// [`BLACKWELL_GEMM_COMPUTE_EFFICIENCY`] in place of the file's `gemm_compute_efficiency`:
    /// its GEMMs reach a smaller share of their datasheet peak than Hopper's.
    ///
    /// # Examples
    /// ```
    /// use parallax_hw::{catalog, CostModel, RooflineModel};
    /// let m = RooflineModel::calibrated(&catalog::gpu("A100-80GB")?);
    /// assert_eq!(m.name(), "roofline:A100-80GB-SXM");
    /// # Ok::<(), parallax_hw::HwError>(())
    /// ```
    pub fn calibrated(gpu: &Gpu) -> Self {
        let mut params = calibrated_params().clone();
        if gpu.architecture == GpuArchitecture::Blackwell {
            params.gemm_compute_efficiency = BLACKWELL_GEMM_COMPUTE_EFFICIENCY;
        }
        Self::with_params(gpu, params)
    }

    /// The parameters in use.
    pub fn params(&self) -> &RooflineParams {
        &self.params
    }

    /// The GPU modelled.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The tensor-core path of a GEMM (or fused MoE kernel) with `weights` and `inputs`, as
    /// its (peak FLOP/s, compute efficiency). The wider of the two types decides the path
    /// (weight-only quantised GEMMs dequantise to the activation type; W4A8 runs on the 8-bit
    /// path). The efficiency is the bf16 fraction, times `gemm_8bit_efficiency` on the 8-bit
    /// path (fp8/int8 W8A8, and W4A8) or `gemm_4bit_efficiency` on the fp4 path (NVFP4 W4A4).
    /// A GPU without the path (an A100 for fp8, Hopper for fp4) runs the GEMM on its bf16 path
    /// at that path's peak and efficiency.
    fn path(&self, weights: DType, inputs: DType) -> (f64, f64) {
        let p = &self.params;
        let wider = if weights.bytes() >= inputs.bytes() {
            weights
        } else {
            inputs
        };
        let eff = match self.gpu.tensor_path(wider) {
            DType::Fp8 | DType::Int8 => p.gemm_compute_efficiency * p.gemm_8bit_efficiency,
            DType::Fp4 => p.gemm_compute_efficiency * p.gemm_4bit_efficiency,
            _ => p.gemm_compute_efficiency,
        };
        (self.gpu.peak_flops(wider), eff)
    }

    /// The α-β time of a collective over more than one rank (see the module docs), without
    /// the fixed per-collective floor.
    fn collective_alpha_beta(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
        let n = group.size as f64;
        let eff = self.params.link_efficiency;
        let (a_i, bw_i) = effective(group.intra, eff);
        let (a_e, bw_e) = effective(group.inter, eff);
        let p = group.per_node.clamp(1, group.size) as f64;
        let nodes = group.nodes() as f64;
        if group.is_intra_node() {
            return match kind {
                CollectiveKind::AllReduce => all_reduce_flat(n, bytes, a_i, bw_i),
                CollectiveKind::AllGather | CollectiveKind::ReduceScatter => {
                    ring_gather(n, bytes, a_i, bw_i)
                }
                CollectiveKind::AllToAll => (n - 1.0) * (a_i + bytes / (n * bw_i)),
                CollectiveKind::SendRecv => a_i + bytes / bw_i,
            };
        }
        match kind {
            CollectiveKind::AllReduce => {
                // Bandwidth: intra reduce-scatter + inter all-reduce of B/p + intra all-gather.
                // Latency: every step of an algorithm spanning nodes waits for the network.
                let intra_bw = 2.0 * (p - 1.0) / p * bytes / bw_i;
                let ring = 2.0 * (n - 1.0) * a_e + 2.0 * (nodes - 1.0) / nodes * (bytes / p) / bw_e;
                let tree = 2.0 * n.log2().ceil() * a_e + 2.0 * (bytes / p) / bw_e;
                intra_bw + ring.min(tree)
            }
            CollectiveKind::AllGather | CollectiveKind::ReduceScatter => {
                (n - 1.0) * a_e
                    + (nodes - 1.0) / nodes * (bytes / p) / bw_e
                    + (p - 1.0) / p * bytes / bw_i
            }
            CollectiveKind::AllToAll => {
                (p - 1.0) * (a_i + bytes / (n * bw_i)) + (n - p) * (a_e + bytes / (n * bw_e))
            }
            CollectiveKind::SendRecv => a_e + bytes / bw_e,
        }
    }

    /// Compute-side time of the GEMM: the best tile shape's whole waves.
    fn gemm_compute_time(&self, g: &Gemm) -> f64 {
        let p = &self.params;
        let sms = self.gpu.compute_units.max(1) as f64;
        let (peak, eff) = self.path(g.weight_dtype, g.act_dtype);
        let per_sm = peak * eff / sms;
        let mut best = f64::INFINITY;
        for &[tm, tn] in &p.gemm_tiles {
            let (tm, tn) = (tm.max(1) as f64, tn.max(1) as f64);
            let tiles = (g.m as f64 / tm).ceil() * (g.n as f64 / tn).ceil() * g.count as f64;
            let waves = (tiles / sms).ceil();
            let tile_eff = 1.0 / (1.0 + p.gemm_tile_overhead * (1.0 / tm + 1.0 / tn));
            let t = waves * 2.0 * tm * tn * g.k as f64 / (per_sm * tile_eff);
            best = best.min(t);
        }
        if best.is_finite() {
            best
        } else {
            g.flops() / (peak * eff)
        }
    }
}

/// Smooth maximum `(a^q + b^q)^(1/q)`, computed stably.
fn smooth_max(a: f64, b: f64, q: f64) -> f64 {
    let hi = a.max(b);
    if hi <= 0.0 {
        return 0.0;
    }
    let lo = a.min(b);
    hi * (1.0 + (lo / hi).powf(q)).powf(1.0 / q)
}

/// Link with its achieved bandwidth.
fn effective(link: Link, efficiency: f64) -> (f64, f64) {
    (link.latency, link.bandwidth * efficiency)
}

/// Ring all-reduce over `n` ranks.
fn ring_all_reduce(n: f64, bytes: f64, alpha: f64, bw: f64) -> f64 {
    2.0 * (n - 1.0) * alpha + 2.0 * (n - 1.0) / n * bytes / bw
}

/// Tree all-reduce over `n` ranks (reduce up, broadcast down).
fn tree_all_reduce(n: f64, bytes: f64, alpha: f64, bw: f64) -> f64 {
    2.0 * n.log2().ceil() * alpha + 2.0 * bytes / bw
}

/// The faster of ring and tree all-reduce.
fn all_reduce_flat(n: f64, bytes: f64, alpha: f64, bw: f64) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    ring_all_reduce(n, bytes, alpha, bw).min(tree_all_reduce(n, bytes, alpha, bw))
}

/// Ring all-gather / reduce-scatter of a `bytes` (full) buffer over `n` ranks.
fn ring_gather(n: f64, bytes: f64, alpha: f64, bw: f64) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    (n - 1.0) * alpha + (n - 1.0) / n * bytes / bw
}

impl CostModel for RooflineModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn gemm(&self, g: &Gemm) -> f64 {
        if g.m == 0 || g.n == 0 || g.k == 0 || g.count == 0 {
            return 0.0;
        }
        let p = &self.params;
        let t_c = self.gemm_compute_time(g);
        let t_m = g.bytes() / (p.gemm_memory_efficiency * self.gpu.memory_bandwidth);
        p.gemm_floor + smooth_max(t_c, t_m, p.gemm_overlap_exponent)
    }

    fn prefill_attention(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> f64 {
        let p = &self.params;
        let heads = shape.heads as f64;
        let dims = (shape.qk_head_dim + shape.v_head_dim) as f64;
        let bq = p.prefill_block_q.max(1) as f64;
        let mut ctas = 0.0;
        let mut work = 0.0; // FLOPs of all CTAs, including the per-CTA overhead
        let mut longest: f64 = 0.0; // FLOPs of the CTA with the most keys
        let per_key = 2.0 * bq * dims; // FLOPs of one CTA per key
        for c in chunks.iter().filter(|c| c.new_tokens > 0) {
            let new = c.new_tokens as f64;
            let mut keys = c.prefix as f64 + new / 2.0 + bq / 2.0;
            let mut last_keys = c.prefix as f64 + new;
            if let Some(w) = shape.window {
                keys = keys.min(w as f64);
                last_keys = last_keys.min(w as f64);
            }
            let blocks = (new / bq).ceil();
            ctas += heads * blocks;
            work += heads * blocks * per_key * (keys + p.prefill_cta_overhead_tokens);
            longest = longest.max(per_key * (last_keys + p.prefill_cta_overhead_tokens));
        }
        if ctas == 0.0 {
            return 0.0;
        }
        let sms = self.gpu.compute_units.max(1) as f64;
        let per_sm = self.gpu.peak_flops(shape.act_dtype) * p.prefill_compute_efficiency / sms;
        // Whole waves of average CTAs; the last wave lasts as long as the longest CTA
        // (the causal diagonal's last query block sees every key).
        let waves = (ctas / sms).ceil();
        let average = work / ctas;
        p.prefill_floor + ((waves - 1.0) * average + longest.max(average)) / per_sm
    }

    fn decode_attention(&self, shape: &AttentionShape, decode: &DecodeGroup) -> f64 {
        if decode.requests == 0 {
            return 0.0;
        }
        let p = &self.params;
        let mut tokens = decode.context_sum as f64;
        if let Some(w) = shape.window {
            tokens = tokens.min(decode.requests as f64 * w as f64);
        }
        let act = shape.act_dtype.bytes();
        let q_out = decode.requests as f64
            * shape.heads as f64
            * (shape.qk_head_dim + shape.v_head_dim) as f64
            * act;
        let bytes = tokens * shape.kv_bytes_per_token + q_out;
        let t_m = bytes / (p.decode_memory_efficiency * self.gpu.memory_bandwidth);
        let flops =
            2.0 * shape.heads as f64 * (shape.qk_head_dim + shape.v_head_dim) as f64 * tokens;
        let compute_dtype = if shape.kv_dtype.bytes() < shape.act_dtype.bytes() {
            shape.act_dtype
        } else {
            shape.kv_dtype
        };
        let t_c = flops / (p.decode_compute_efficiency * self.gpu.peak_flops(compute_dtype));
        p.decode_floor + p.decode_per_request * decode.requests as f64 + t_m.max(t_c)
    }

    /// A fused MoE kernel (see the module docs, "Fused MoE").
    fn fused_moe(&self, op: &FusedMoe) -> f64 {
        if op.assignments == 0 || op.active_experts == 0 {
            return 0.0;
        }
        let p = &self.params;
        let active = op.active_experts as f64;
        let mean_rows = op.assignments as f64 / active;
        // The kernel's row tile follows its per-expert load: a power of two in [16, 128].
        let bm = mean_rows.max(16.0).log2().ceil().exp2().min(128.0);
        let bn = 128.0;
        let padded = active * (mean_rows / bm).ceil() * bm;
        let tile_eff = 1.0 / (1.0 + p.gemm_tile_overhead * (1.0 / bm + 1.0 / bn));
        let (peak, eff) = self.path(op.weight_dtype, op.act_dtype);
        let t_c = 2.0 * padded * op.hidden as f64 * op.intermediate as f64 * (op.up() + 1.0)
            / (peak * eff * tile_eff);
        let t_m = op.bytes() / (p.gemm_memory_efficiency * self.gpu.memory_bandwidth);
        2.0 * p.gemm_floor + p.elementwise_floor + smooth_max(t_c, t_m, p.gemm_overlap_exponent)
    }

    fn elementwise(&self, op: &Elementwise) -> f64 {
        if op.bytes <= 0.0 && op.flops <= 0.0 {
            return 0.0;
        }
        let p = &self.params;
        let t_m = op.bytes.max(0.0) / (p.elementwise_memory_efficiency * self.gpu.memory_bandwidth);
        let t_c = op.flops.max(0.0) / self.gpu.peak_flops(DType::F32);
        p.elementwise_floor + t_m.max(t_c)
    }

    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
        if group.size <= 1 || bytes <= 0.0 || !bytes.is_finite() {
            return 0.0;
        }
        self.params.collective_floor.max(0.0) + self.collective_alpha_beta(kind, bytes, group)
    }

    fn kernel_launch_overhead(&self) -> f64 {
        self.params.kernel_launch
    }

    fn iteration_overhead(&self) -> f64 {
        self.params.iteration
    }

    fn host_overlap_exponent(&self) -> f64 {
        self.params.host_overlap
    }

    fn graph_kernel_overlap(&self) -> f64 {
        self.params.graph_kernel_overlap
    }
}
