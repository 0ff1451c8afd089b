//! The engine's own kernels as they change op prices ([`EngineKernels`], wrapped around any
//! cost model by [`EngineCost`]): fused elementwise kernels, the custom all-reduce, the
//! measured fused MoE, fp8-cache decode and the input quantisation of quantised GEMMs.

use super::measured::{MeasuredAllReduce, MeasuredFusedMoe, MeasuredGpu};
use super::EngineKind;
use serde::{Deserialize, Serialize};

/// How a serving engine's own kernels change op prices (see [`EngineCost`]). The default
/// changes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineKernels {
    /// Price norms, rotary embeddings, activations, residual adds and routing as the engine's
    /// fused kernels: `max(floor, bytes / (0.8 × memory bandwidth))` with this floor in
    /// seconds (one small kernel timed in isolation, like the profile tables' entries), instead
    /// of the cost model's (whose tables time PyTorch's eager, partly unfused ops). `None`
    /// keeps the cost model's.
    pub fused_elementwise_floor_s: Option<f64>,
    /// All-reduces of at most this many bytes per rank within one node use the engine's
    /// custom (one-shot, NVLink peer-to-peer) all-reduce (0: never, as NCCL alone).
    pub custom_allreduce_max_bytes: f64,
    /// Fixed latency of one custom all-reduce, seconds (the one-shot model's; see
    /// [`CUSTOM_ALLREDUCE`]).
    pub custom_allreduce_latency_s: f64,
    /// The engine's custom all-reduce as measured on this GPU, replacing the one-shot model
    /// for the group sizes it covers (`None`: the model). Absent in JSON: `None`.
    #[serde(default)]
    pub custom_allreduce_measured: Option<MeasuredAllReduce>,
    /// The engine's own fused-MoE kernel as measured on this GPU, pricing the MoE layers whose
    /// shape it covers (`None`: the cost model's kernel). Absent in JSON: `None`.
    #[serde(default)]
    pub fused_moe_measured: Option<MeasuredFusedMoe>,
    /// The time of the engine's decode attention over an fp8 KV cache as a fraction of the
    /// same decode over a bf16 cache, at least (its Hopper kernels dequantise every element
    /// to 16 bits, and that, not the halved bytes, bounds them): decode attention over an
    /// fp8 cache takes at least this fraction of the bf16 cache's time
    /// ([`fp8_kv_decode_ratio`]). `None`: the cost model's time. Absent in JSON: `None`.
    #[serde(default)]
    pub fp8_kv_decode_vs_bf16: Option<f64>,
    /// What the engine adds to every fp8 GEMM (fp8 weights and inputs) to quantise its
    /// input activations ([`gemm_input_quant`], per tensor or block-scaled as the model's
    /// weights are); the cost model prices the GEMM kernel alone. `None`: nothing. Absent in
    /// JSON: `None`.
    #[serde(default)]
    pub fp8_gemm_input_quant: Option<GemmInputQuant>,
    /// The same for every fp4 GEMM (NVFP4 weights and inputs, Blackwell). Absent in JSON:
    /// `None`.
    #[serde(default)]
    pub fp4_gemm_input_quant: Option<GemmInputQuant>,
    /// The engine runs batched GEMMs (`count` > 1: MLA's per-head `W_UK`/`W_UV` products)
    /// on 16-bit copies of quantised weights, with no input quantisation: vLLM has no
    /// quantised batched matmul and dequantises `kv_b_proj` at load
    /// (`vllm/v1/attention/backends/mla/common.py`, `process_weights_after_loading`). Absent
    /// in JSON: `false`.
    #[serde(default)]
    pub batched_gemms_16bit: bool,
}

/// The time an engine's quantised (fp8 or fp4) linear layer spends quantising its `m × k`
/// input activations before the GEMM (a scale and a cast, in kernels of their own):
/// `fixed_s + per_element_s × m × k` per GEMM ([`gemm_input_quant`]); a batched GEMM of `count` (MLA's per-head
/// absorptions) quantises its inputs in one go, paying the fixed time once. MoE layers are
/// priced as one fused kernel, whose measured tables include their quantisation: no term.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GemmInputQuant {
    /// Seconds per GEMM, whatever its size (the quantisation kernels' own latency).
    pub fixed_s: f64,
    /// Seconds per input element (the passes over the activations).
    pub per_element_s: f64,
}

impl GemmInputQuant {
    /// The added time of one batched GEMM of `count` inputs of `m × k` (none for none).
    pub fn seconds(&self, m: u64, k: u64, count: u32) -> f64 {
        if count == 0 || m == 0 {
            return 0.0;
        }
        self.fixed_s + self.per_element_s * count as f64 * m as f64 * k as f64
    }
}

/// The input quantisation an engine's linear layer runs before a quantised GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputQuant {
    /// fp8 with one scale per tensor (or per channel).
    Fp8Tensor,
    /// fp8 with block scales (128×128 weight blocks, 1×128 input groups; DeepSeek-V3,
    /// Qwen3's `-FP8` releases).
    Fp8Block,
    /// NVFP4 (fp4 with one fp8 scale per 16 elements; Blackwell).
    Fp4,
}

/// What `engine`'s quantised linear layer adds to each GEMM on `gpu` (catalogue name) to
/// quantise its inputs for `kind`, where measured: fitted on NVIDIA's aiconfigurator sweeps of
/// each engine's own bf16 and quantised linear layers on the same shapes
/// (`systems/data/<system>/gemm/<engine>/<version>/gemm_perf.parquet` @095f58a; TensorRT-LLM
/// 1.3.0rc20, SGLang 0.5.6.post2 on Hopper and 0.5.9 on Blackwell, vLLM 0.19.0), as `q = r ×
/// bf16 + fixed + per_element × m × k` with `r` the calibrated roofline's ratio of the shape
/// (least squares on the relative error, 500 shapes per engine and GPU, 450 for vLLM's block
/// layer on Blackwell: `m` 1–8192, `n` and `k` 1024–16384; the extracts and the fit are in `tests/data/aiconfigurator-fp8-gemm/` and
/// `tests/fp8_gemm_quant.rs`). The roofline alone prices every engine's quantised layers too
/// fast at small `m`, where the quantisation kernels, not the smaller weight bytes, dominate.
/// On Hopper (H100 SXM, H200; bytes per element: the per-element time at the GPU's memory
/// bandwidth):
///
/// | engine | GPU | scales | fixed | per element | ≈ bytes per element | median error without → with |
/// |---|---|---|---|---|---|---|
/// | TensorRT-LLM | H100 | tensor | 8.09 µs | 1.28 ps | 4.3 | 36.9% → 4.4% |
/// | TensorRT-LLM | H200 | tensor | 8.04 µs | 1.13 ps | 5.4 | 36.7% → 4.9% |
/// | SGLang | H100 | tensor | 2.44 µs | 0.480 ps | 1.6 | 24.2% → 11.6% |
/// | SGLang | H200 | tensor | 2.01 µs | 0.436 ps | 2.1 | 21.6% → 12.9% |
/// | vLLM | H100 | tensor | 1.06 µs | 0.974 ps | 3.3 | 11.5% → 10.5% |
/// | vLLM | H200 | tensor | 0.902 µs | 0.616 ps | 3.0 | 15.8% → 13.8% |
/// | TensorRT-LLM | H100 | block | 1.56 µs | 1.75 ps | 5.9 | 17.9% → 7.9% |
/// | TensorRT-LLM | H200 | block | 1.47 µs | 1.75 ps | 8.4 | 21.2% → 8.8% |
/// | SGLang | H100 | block | 2.04 µs | 0.349 ps | 1.2 | 20.6% → 11.7% |
/// | SGLang | H200 | block | 1.62 µs | 0.438 ps | 2.1 | 17.7% → 10.4% |
/// | vLLM | H100 | block | 7.91 µs | 1.73 ps | 5.8 | 42.3% → 10.3% |
/// | vLLM | H200 | block | 8.47 µs | 1.55 ps | 7.4 | 47.8% → 13.2% |
///
/// On Blackwell, fitted on a B200 and taken for GB200, B300 and GB300 (the GB200 sweeps, not
/// fitted, are checked by the test; fits of B300's and GB300's own sweeps, made once and not
/// shipped, gave fixed times within 16% of these):
///
/// | engine | scales | fixed | per element | B200 error without → with | GB200 |
/// |---|---|---|---|---|---|
/// | TensorRT-LLM | tensor | 10.75 µs | 0.674 ps | 52.5% → 5.5% | 53.2% → 5.9% |
/// | TensorRT-LLM | block | 2.56 µs | 0.135 ps | 20.9% → 10.5% | 22.2% → 10.3% |
/// | TensorRT-LLM | NVFP4 | 5.32 µs | 0.636 ps | 47.1% → 13.2% | 45.3% → 14.2% |
/// | SGLang | tensor | 2.45 µs | 0.418 ps | 24.5% → 9.5% | 23.9% → 8.3% |
/// | SGLang | block | 13.6 µs | 0.670 ps | 61.1% → 15.0% | 61.7% → 13.7% |
/// | SGLang | NVFP4 | 2.26 µs | 0.148 ps | 26.7% → 12.1% | 27.5% → 12.4% |
/// | vLLM | tensor | 1.82 µs | 1.49 ps | 30.8% → 11.1% | 30.4% → 11.5% |
/// | vLLM | block | 7.56 µs | 2.04 ps | 52.9% → 8.4% | 55.6% → 7.7% |
/// | vLLM | NVFP4 | 2.56 µs | 0.096 ps | 25.9% → 9.8% | 26.8% → 10.1% |
///
/// TensorRT-LLM's per-tensor fp8 layer computes a dynamic scale (its collector's checkpoints
/// carry no input scale): an absolute-maximum pass and a cast, about 5 bytes per element.
/// Block scales quantise per 1×128 group instead: vLLM's layer then pays about 8 µs per GEMM
/// (SGLang 0.5.9's on Blackwell 13.6 µs), TensorRT-LLM's under 3 µs. Elsewhere (other GPUs)
/// and for vLLM V0 (0.6, not measured): none.
pub fn gemm_input_quant(engine: EngineKind, gpu: &str, kind: InputQuant) -> Option<GemmInputQuant> {
    use EngineKind::{Sglang, Trtllm, Vllm};
    use InputQuant::{Fp4, Fp8Block, Fp8Tensor};
    use MeasuredGpu::{Gb200, Gb300, H100Sxm, B200, B300, H200};
    // Blackwell: the B200's fit for all four kinds
    let gpu = match MeasuredGpu::of(gpu)? {
        Gb200 | B300 | Gb300 => B200,
        g => g,
    };
    let (fixed_s, per_element_s) = match (engine, gpu, kind) {
        (Trtllm, H100Sxm, Fp8Tensor) => (8.09e-6, 1.28e-12),
        (Trtllm, H200, Fp8Tensor) => (8.04e-6, 1.13e-12),
        (Sglang, H100Sxm, Fp8Tensor) => (2.44e-6, 0.480e-12),
        (Sglang, H200, Fp8Tensor) => (2.01e-6, 0.436e-12),
        (Vllm, H100Sxm, Fp8Tensor) => (1.06e-6, 0.974e-12),
        (Vllm, H200, Fp8Tensor) => (0.902e-6, 0.616e-12),
        (Trtllm, H100Sxm, Fp8Block) => (1.56e-6, 1.75e-12),
        (Trtllm, H200, Fp8Block) => (1.47e-6, 1.75e-12),
        (Sglang, H100Sxm, Fp8Block) => (2.04e-6, 0.349e-12),
        (Sglang, H200, Fp8Block) => (1.62e-6, 0.438e-12),
        (Vllm, H100Sxm, Fp8Block) => (7.91e-6, 1.73e-12),
        (Vllm, H200, Fp8Block) => (8.47e-6, 1.55e-12),
        (Trtllm, B200, Fp8Tensor) => (10.75e-6, 0.674e-12),
        (Trtllm, B200, Fp8Block) => (2.56e-6, 0.135e-12),
        (Trtllm, B200, Fp4) => (5.32e-6, 0.636e-12),
        (Sglang, B200, Fp8Tensor) => (2.45e-6, 0.418e-12),
        (Sglang, B200, Fp8Block) => (13.6e-6, 0.670e-12),
        (Sglang, B200, Fp4) => (2.26e-6, 0.148e-12),
        (Vllm, B200, Fp8Tensor) => (1.82e-6, 1.49e-12),
        (Vllm, B200, Fp8Block) => (7.56e-6, 2.04e-12),
        (Vllm, B200, Fp4) => (2.56e-6, 0.096e-12),
        _ => return None,
    };
    Some(GemmInputQuant {
        fixed_s,
        per_element_s,
    })
}

/// How long `engine`'s decode attention over an fp8 KV cache takes on `gpu` (catalogue name)
/// as a fraction of the same decode over a bf16 cache, where measured: NVIDIA's
/// aiconfigurator sweeps of each engine's decode attention
/// (`systems/data/{h100_sxm,h200_sxm}/attention/<engine>/<version>/generation_attention_perf.parquet`
/// @095f58a; head dim 128, batch ≥ 8, ≥ 1,024 cached tokens, ≥ 256 MB of bf16 cache, where
/// reading the cache dominates; the median over the shapes measured with both caches). Half
/// the bytes would give 0.5; on Hopper the kernels dequantise each element to bf16, and
/// vLLM's and SGLang's read an fp8 cache at only about 2 T elements/s on either GPU, so they
/// gain less, and less on the H200's faster memory:
///
/// | engine (release measured) | H100 | H200 |
/// |---|---|---|
/// | vLLM (0.14.0, FlashAttention) | 0.680 | 0.831 |
/// | SGLang (0.5.6.post2, FlashAttention 3) | 0.682 | 0.881 |
/// | TensorRT-LLM (1.3.0rc20; 1.2.0rc5's sweep reads faster than the memory allows) | 0.535 | 0.534 |
///
/// On Blackwell the same engines' kernels read an fp8 cache at 5.3–5.9 T elements/s on a
/// B200, near the memory's pace: no fraction there. vLLM V0 (0.6, whose fp8-cache decode
/// kernel is not vLLM 0.14's) was not measured: none.
pub fn fp8_kv_decode_ratio(engine: EngineKind, gpu: &str) -> Option<f64> {
    use MeasuredGpu::{H100Sxm, H200};
    Some(match (engine, MeasuredGpu::of(gpu)?) {
        (EngineKind::Vllm, H100Sxm) => 0.680,
        (EngineKind::Vllm, H200) => 0.831,
        (EngineKind::Sglang, H100Sxm) => 0.682,
        (EngineKind::Sglang, H200) => 0.881,
        (EngineKind::Trtllm, H100Sxm) => 0.535,
        (EngineKind::Trtllm, H200) => 0.534,
        _ => return None,
    })
}

/// Floor of one fused elementwise kernel of a serving engine, seconds, timed in isolation
/// (a CUDA-graph replay then hides [`parallax_hw::CostModel::graph_kernel_overlap`] of it).
/// Fitted with [`FITTED`](super::FITTED) on the development load points.
pub const FUSED_ELEMENTWISE_FLOOR_S: f64 = 3.0e-6;

/// The engines' custom all-reduce: used up to 8 MiB per rank within a node (vLLM's
/// `CustomAllreduce` default `max_size`; SGLang and TensorRT-LLM's one-/two-shot kernels cover
/// the same range). Where it was measured (H100, H200, B200 and B300 nodes of 2, 4 or 8 GPUs,
/// GB200 and GB300 trays of 2 or 4: [`MeasuredAllReduce`]) the measurement prices it; elsewhere
/// a one-shot model with a fixed
/// latency of about 6 µs on NVLink (every rank reads its peers' buffers once and reduces
/// locally), which the measurements show to be optimistic by 2–3.5× between 256 KiB and
/// 8 MiB on 8 GPUs (e.g. vLLM's kernel on 8 H100s: 17.3 µs at 1 MiB, 77 µs at 8 MiB).
pub const CUSTOM_ALLREDUCE: (f64, f64) = (8.0 * 1024.0 * 1024.0, 6e-6);

/// A cost model as a serving engine runs it: what [`EngineKernels`] lists (fused elementwise
/// kernels, a custom all-reduce for small messages, the engine's measured fused MoE, fp8-cache
/// decode, fp8 and fp4 input quantisation, vLLM's 16-bit batched GEMMs); every other price, and every
/// overhead, is the wrapped model's.
#[derive(Debug)]
pub struct EngineCost {
    inner: std::sync::Arc<dyn parallax_hw::CostModel>,
    kernels: EngineKernels,
    bandwidth: f64,
    name: String,
}

impl EngineCost {
    /// Wrap `inner` for a GPU with `memory_bandwidth` bytes/s.
    pub fn new(
        inner: std::sync::Arc<dyn parallax_hw::CostModel>,
        kernels: EngineKernels,
        memory_bandwidth: f64,
    ) -> Self {
        let name = inner.name().to_string();
        EngineCost {
            inner,
            kernels,
            bandwidth: memory_bandwidth,
            name,
        }
    }
}

/// Whether `shape` reads a one-byte (fp8) cache of separate keys and values beside 16-bit
/// activations: the GQA/MHA kernels [`fp8_kv_decode_ratio`] measured (not MLA's latent, which
/// other kernels read).
fn fp8_gqa_cache(shape: &parallax_ir::AttentionShape) -> bool {
    shape.kv_dtype == parallax_ir::DType::Fp8
        && shape.act_dtype.bytes() == 2.0
        && shape.qk_head_dim == shape.v_head_dim
}

impl parallax_hw::CostModel for EngineCost {
    fn name(&self) -> &str {
        &self.name
    }
    fn gemm(&self, g: &parallax_ir::Gemm) -> f64 {
        use parallax_ir::DType;
        let quantised = |d: DType| d.bytes() < 2.0;
        if self.kernels.batched_gemms_16bit
            && g.count > 1
            && (quantised(g.weight_dtype) || quantised(g.act_dtype))
        {
            return self.inner.gemm(&parallax_ir::Gemm {
                weight_dtype: DType::Bf16,
                act_dtype: DType::Bf16,
                ..*g
            });
        }
        let t = self.inner.gemm(g);
        let quant = match (g.weight_dtype, g.act_dtype) {
            (DType::Fp8, DType::Fp8) => self.kernels.fp8_gemm_input_quant,
            (DType::Fp4, DType::Fp4) => self.kernels.fp4_gemm_input_quant,
            _ => None,
        };
        t + quant.map_or(0.0, |q| q.seconds(g.m, g.k, g.count))
    }
    fn fused_moe(&self, op: &parallax_ir::FusedMoe) -> f64 {
        self.kernels
            .fused_moe_measured
            .and_then(|m| m.seconds(op))
            .unwrap_or_else(|| self.inner.fused_moe(op))
    }
    fn prefill_attention(
        &self,
        shape: &parallax_ir::AttentionShape,
        chunks: &[parallax_ir::PrefillChunk],
    ) -> f64 {
        self.inner.prefill_attention(shape, chunks)
    }
    fn decode_attention(
        &self,
        shape: &parallax_ir::AttentionShape,
        decode: &parallax_ir::DecodeGroup,
    ) -> f64 {
        let t = self.inner.decode_attention(shape, decode);
        match self.kernels.fp8_kv_decode_vs_bf16 {
            Some(ratio) if fp8_gqa_cache(shape) => {
                let bf16 = shape.with_kv_dtype(shape.act_dtype);
                t.max(ratio * self.inner.decode_attention(&bf16, decode))
            }
            _ => t,
        }
    }
    fn elementwise(&self, op: &parallax_ir::Elementwise) -> f64 {
        use parallax_ir::ElementwiseKind as K;
        match (self.kernels.fused_elementwise_floor_s, op.kind) {
            (Some(floor), K::Norm | K::Activation | K::Residual | K::Rotary | K::Routing)
                if self.bandwidth > 0.0 =>
            {
                floor.max(op.bytes.max(0.0) / (0.8 * self.bandwidth))
            }
            _ => self.inner.elementwise(op),
        }
    }
    fn collective(
        &self,
        kind: parallax_ir::CollectiveKind,
        bytes: f64,
        group: &parallax_hw::DeviceGroup,
    ) -> f64 {
        let k = &self.kernels;
        if kind == parallax_ir::CollectiveKind::AllReduce
            && group.size > 1
            && group.is_intra_node()
            && bytes > 0.0
            && bytes <= k.custom_allreduce_max_bytes
            && group.intra.bandwidth > 0.0
        {
            let nccl = self.inner.collective(kind, bytes, group);
            if let Some(t) = k
                .custom_allreduce_measured
                .and_then(|m| m.seconds(group.size, bytes))
            {
                return t.min(nccl);
            }
            // One-shot: each rank reads its n − 1 peers' buffers over its links.
            let n = group.size as f64;
            let custom =
                k.custom_allreduce_latency_s + (n - 1.0) * bytes / n / group.intra.bandwidth;
            return custom.min(nccl);
        }
        self.inner.collective(kind, bytes, group)
    }
    fn kernel_launch_overhead(&self) -> f64 {
        self.inner.kernel_launch_overhead()
    }
    fn measured_kernel_launch(&self) -> Option<f64> {
        self.inner.measured_kernel_launch()
    }
    fn iteration_overhead(&self) -> f64 {
        self.inner.iteration_overhead()
    }
    fn host_overlap_exponent(&self) -> f64 {
        self.inner.host_overlap_exponent()
    }
    fn graph_kernel_overlap(&self) -> f64 {
        self.inner.graph_kernel_overlap()
    }
}
