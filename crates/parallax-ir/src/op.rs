//! Hardware-agnostic operators that a cell lowers to for one iteration on one device.
//!
//! `parallax-ir` says *what* work a cell does under a sharding ([`CellShard`]) for a
//! [`Batch`](crate::Batch); `parallax-hw`'s `CostModel` says how long each [`Op`] takes.
//!
//! Invariant relied on by the cost caches downstream: every op that
//! [`lower_cell`](crate::lower::lower_cell) and
//! [`lower_embedding`](crate::lower::lower_embedding) emit, except [`OpBody::Attention`],
//! depends on the batch only through its token count
//! ([`Batch::tokens`](crate::Batch::tokens)). [`lower_lm_head`](crate::lower::lower_lm_head)
//! computes logits for one row per sequence, so its GEMM, sampling and gather also depend on
//! [`Batch::sequences`](crate::Batch::sequences).

use crate::batch::{DecodeGroup, PrefillChunk};
use crate::dtype::DType;
use serde::{Deserialize, Serialize};

/// How one cell is split across the devices that run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellShard {
    /// Tensor-parallel degree: heads (attention) or inner width (MLP, and each expert of a MoE)
    /// split over `tp` devices.
    pub tp: u32,
    /// Expert-parallel degree (MoE only; 1 elsewhere): routed experts split over `ep` groups.
    pub ep: u32,
}

impl CellShard {
    /// No parallelism: one device runs the whole cell.
    pub const SINGLE: CellShard = CellShard { tp: 1, ep: 1 };

    /// Tensor parallelism of degree `tp`, no expert parallelism.
    pub fn tp(tp: u32) -> Self {
        CellShard { tp, ep: 1 }
    }

    /// Devices the cell spans (`tp * ep`).
    pub fn devices(&self) -> u32 {
        self.tp * self.ep
    }
}

/// Coarse class of an op, used for time breakdowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Matrix multiplications.
    Gemm,
    /// Attention kernels.
    Attention,
    /// Norms, activations, residual adds, rotary embeddings, routing, sampling.
    Elementwise,
    /// Collectives and point-to-point transfers.
    Communication,
    /// Kernel launches and framework overhead.
    Overhead,
}

impl OpKind {
    /// Every kind, in breakdown order.
    pub const ALL: [OpKind; 5] = [
        OpKind::Gemm,
        OpKind::Attention,
        OpKind::Elementwise,
        OpKind::Communication,
        OpKind::Overhead,
    ];

    /// Lowercase name as used in JSON breakdowns.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Gemm => "gemm",
            OpKind::Attention => "attention",
            OpKind::Elementwise => "elementwise",
            OpKind::Communication => "communication",
            OpKind::Overhead => "overhead",
        }
    }
}

/// `count` identical GEMMs `y[m,n] = x[m,k] · W[k,n]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gemm {
    /// Rows (tokens).
    pub m: u64,
    /// Output columns.
    pub n: u64,
    /// Reduction width.
    pub k: u64,
    /// Independent GEMMs of this shape (e.g. local experts).
    pub count: u32,
    /// Type of `W`.
    pub weight_dtype: DType,
    /// Type of `x` and `y`.
    pub act_dtype: DType,
}

impl Gemm {
    /// Floating-point operations of all `count` GEMMs.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64 * self.count as f64
    }

    /// Bytes read and written by all `count` GEMMs (inputs, weights, outputs once each).
    pub fn bytes(&self) -> f64 {
        let (m, n, k) = (self.m as f64, self.n as f64, self.k as f64);
        self.count as f64
            * (k * n * self.weight_dtype.bytes() + (m * k + m * n) * self.act_dtype.bytes())
    }
}

/// The routed experts of one MoE layer on one device, run as one fused kernel (vLLM's
/// `fused_moe`, SGLang's and TensorRT-LLM's grouped GEMMs): gate/up grouped GEMM, activation,
/// down grouped GEMM over the token-expert pairs routed to the device's local experts.
///
/// Each active expert's weights are read once; expert `e` processes its own rows. Under
/// balanced routing every active expert gets `assignments / active_experts` rows;
/// `max_rows` is the busiest local expert's rows (equal to the mean when balanced), which a
/// grouped GEMM pads to its row tile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FusedMoe {
    /// Tokens of the layer (before routing) — the batch's `T` (its share on this device).
    pub tokens: u64,
    /// Token-expert pairs processed on this device.
    pub assignments: u64,
    /// Local experts with at least one row.
    pub active_experts: u32,
    /// Experts held by this device.
    pub local_experts: u32,
    /// Experts of the whole layer (`local_experts` × the EP degree without redundant
    /// experts): an expert-parallel kernel still routes every token of the layer, so its time
    /// is not that of a layer of `local_experts` experts.
    #[serde(default)]
    pub layer_experts: u32,
    /// Expert-parallel ranks the layer's experts are split over (1: all on this device; 0,
    /// read from an older file: unknown). With EPLB's redundant experts a rank holds more
    /// than `layer_experts / ep` of them.
    #[serde(default)]
    pub ep: u32,
    /// Experts each token is routed to (of all the layer's experts).
    pub top_k: u32,
    /// Rows of the busiest local expert.
    pub max_rows: u64,
    /// Residual width (`k` of gate/up, `n` of down).
    pub hidden: u32,
    /// Inner width of one expert on this device (`expert_intermediate / tp`).
    pub intermediate: u32,
    /// Gated experts (gate and up projections).
    pub gated: bool,
    /// Type of the expert weights.
    pub weight_dtype: DType,
    /// Type of the GEMM inputs (the tensor-core path).
    pub act_dtype: DType,
    /// fp8 weights with block scales ([`crate::Precision::expert_block_scales`]): engines run
    /// other kernels for them than for per-tensor fp8 (vLLM's block-quantised Triton
    /// `fused_moe` config, about twice as fast at prefill sizes on DeepSeek-V3's experts).
    #[serde(default)]
    pub block_scales: bool,
}

impl FusedMoe {
    /// Projections multiplied in before the activation (2 when gated).
    pub fn up(&self) -> f64 {
        if self.gated {
            2.0
        } else {
            1.0
        }
    }

    /// GEMM FLOPs: `2 · assignments · hidden · intermediate · (up + 1)`.
    pub fn gemm_flops(&self) -> f64 {
        2.0 * self.assignments as f64
            * self.hidden as f64
            * self.intermediate as f64
            * (self.up() + 1.0)
    }

    /// All FLOPs: the GEMMs plus the activation (5 per inner element when gated, 4 if not).
    pub fn flops(&self) -> f64 {
        let act = if self.gated { 5.0 } else { 4.0 };
        self.gemm_flops() + act * self.assignments as f64 * self.intermediate as f64
    }

    /// Bytes of the active experts' weights (each read once).
    pub fn weight_bytes(&self) -> f64 {
        self.active_experts as f64
            * (self.up() + 1.0)
            * self.hidden as f64
            * self.intermediate as f64
            * self.weight_dtype.bytes()
    }

    /// Bytes moved: active experts' weights once; per row the input and output
    /// (`2 · hidden`) and the inner activations written, read by the activation, written and
    /// read again (`(up + 1) · intermediate` twice), in the input type.
    pub fn bytes(&self) -> f64 {
        let rows = self.assignments as f64;
        self.weight_bytes()
            + rows
                * (2.0 * self.hidden as f64 + 2.0 * (self.up() + 1.0) * self.intermediate as f64)
                * self.act_dtype.bytes()
    }

    /// The two grouped GEMMs as plain GEMM batches of `active_experts` GEMMs of `max_rows`
    /// rows each (gate/up, down): how a model without a fused-MoE rule prices the op.
    pub fn as_gemms(&self) -> [Gemm; 2] {
        let (h, i) = (self.hidden as u64, self.intermediate as u64);
        let g = |n: u64, k: u64| Gemm {
            m: self.max_rows,
            n,
            k,
            count: self.active_experts,
            weight_dtype: self.weight_dtype,
            act_dtype: self.act_dtype,
        };
        [g(self.up() as u64 * i, h), g(h, i)]
    }
}

/// Per-device shape of an attention kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttentionShape {
    /// Query heads on this device.
    pub heads: u32,
    /// Key/value heads on this device (1 for MLA's shared latent).
    pub kv_heads: u32,
    /// Width of the query-key dot product per head.
    pub qk_head_dim: u32,
    /// Width of the value per head.
    pub v_head_dim: u32,
    /// KV-cache bytes per token held on this device for this layer.
    pub kv_bytes_per_token: f64,
    /// Sliding window, if the layer attends only to its last `w` tokens, or a sparse layer's
    /// `top_k` selected tokens (the same number of keys per query).
    pub window: Option<u32>,
    /// Type of queries and outputs.
    pub act_dtype: DType,
    /// Type of the cache.
    pub kv_dtype: DType,
}

impl AttentionShape {
    /// The same attention with its KV cache stored as `dtype`: the same heads and tokens, the
    /// cache's bytes per token scaled by the ratio of the two types' sizes (an fp8 cache's
    /// bf16 twin, as attention tables are measured in the activations' type).
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{AttentionShape, DType};
    /// let fp8 = AttentionShape {
    ///     heads: 32, kv_heads: 8, qk_head_dim: 128, v_head_dim: 128,
    ///     kv_bytes_per_token: 2.0 * 8.0 * 128.0, window: None,
    ///     act_dtype: DType::Bf16, kv_dtype: DType::Fp8,
    /// };
    /// let bf16 = fp8.with_kv_dtype(DType::Bf16);
    /// assert_eq!(bf16.kv_bytes_per_token, 2.0 * fp8.kv_bytes_per_token);
    /// ```
    pub fn with_kv_dtype(&self, dtype: DType) -> AttentionShape {
        AttentionShape {
            kv_dtype: dtype,
            kv_bytes_per_token: self.kv_bytes_per_token * dtype.bytes() / self.kv_dtype.bytes(),
            ..*self
        }
    }

    /// Sum over the batch's new tokens of the number of keys each attends to (causal, clipped
    /// to the window).
    ///
    /// A prefill chunk of `n` new tokens after `p` cached ones contributes
    /// `Σ_{i=1..n} min(p + i, w)`, computed in closed form. Decode requests contribute their
    /// `context_sum`; with a window and `context_max > w` only the aggregate is known, so the
    /// result is the upper bound `min(context_sum, requests · w)`.
    ///
    /// # Complexity
    /// O(number of prefill chunks).
    pub fn attended_keys(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> f64 {
        let w = self.window.map(|w| w as u64).unwrap_or(u64::MAX);
        let mut sum = 0.0;
        for c in prefill {
            let (n, p) = (c.new_tokens as u64, c.prefix as u64);
            // Tokens i = 1..=k see p + i keys (unclipped); the rest see w.
            let k = w.saturating_sub(p).min(n);
            sum += k as f64 * p as f64 + (k as f64) * (k as f64 + 1.0) / 2.0;
            sum += (n - k) as f64 * w.min(u32::MAX as u64) as f64;
        }
        let d = if decode.context_max as u64 <= w {
            decode.context_sum as f64
        } else {
            (decode.context_sum as f64).min(decode.requests as f64 * w as f64)
        };
        sum + d
    }

    /// KV-cache tokens read by the kernel: each prefill chunk reads its prefix plus its new
    /// tokens once (clipped to window + new tokens), each decode request its context (clipped
    /// to the window; an upper bound for mixed contexts, see [`Self::attended_keys`]).
    pub fn kv_tokens_read(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> f64 {
        let w = self.window.map(|w| w as u64).unwrap_or(u64::MAX);
        let mut sum = 0.0;
        for c in prefill {
            let (n, p) = (c.new_tokens as u64, c.prefix as u64);
            sum += (p.min(w) + n) as f64;
        }
        let d = if decode.context_max as u64 <= w {
            decode.context_sum as f64
        } else {
            (decode.context_sum as f64).min(decode.requests as f64 * w as f64)
        };
        sum + d
    }

    /// Floating-point operations: `2 · heads · (qk_head_dim + v_head_dim)` per attended key.
    pub fn flops(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> f64 {
        2.0 * self.heads as f64
            * (self.qk_head_dim as f64 + self.v_head_dim as f64)
            * self.attended_keys(prefill, decode)
    }

    /// Bytes moved: the KV cache read ([`Self::kv_tokens_read`] × `kv_bytes_per_token`), the new
    /// tokens' KV written, and the queries read and outputs written.
    pub fn bytes(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> f64 {
        let new_tokens: f64 =
            prefill.iter().map(|c| c.new_tokens as f64).sum::<f64>() + decode.requests as f64;
        let qo = new_tokens
            * self.heads as f64
            * (self.qk_head_dim as f64 + self.v_head_dim as f64)
            * self.act_dtype.bytes();
        (self.kv_tokens_read(prefill, decode) + new_tokens) * self.kv_bytes_per_token + qo
    }
}

/// Class of an elementwise op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementwiseKind {
    /// RMSNorm / LayerNorm.
    Norm,
    /// SiLU/GELU and gating multiply.
    Activation,
    /// Residual addition.
    Residual,
    /// Rotary position embedding.
    Rotary,
    /// MoE router softmax / top-k and token permutation.
    Routing,
    /// Embedding lookup.
    Embedding,
    /// Sampling from logits.
    Sampling,
}

/// A memory-bound elementwise op.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Elementwise {
    /// What it is.
    pub kind: ElementwiseKind,
    /// Bytes read plus written.
    pub bytes: f64,
    /// Floating-point operations.
    pub flops: f64,
}

/// A collective operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectiveKind {
    /// Sum across ranks, result on every rank.
    AllReduce,
    /// Concatenate every rank's shard on every rank.
    AllGather,
    /// Sum and scatter shards.
    ReduceScatter,
    /// Every rank sends a distinct shard to every other rank.
    AllToAll,
    /// Point-to-point transfer between two ranks.
    SendRecv,
}

impl CollectiveKind {
    /// Every kind.
    pub const ALL: [CollectiveKind; 5] = [
        CollectiveKind::AllReduce,
        CollectiveKind::AllGather,
        CollectiveKind::ReduceScatter,
        CollectiveKind::AllToAll,
        CollectiveKind::SendRecv,
    ];

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            CollectiveKind::AllReduce => "all_reduce",
            CollectiveKind::AllGather => "all_gather",
            CollectiveKind::ReduceScatter => "reduce_scatter",
            CollectiveKind::AllToAll => "all_to_all",
            CollectiveKind::SendRecv => "send_recv",
        }
    }
}

/// Which group of devices a collective runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupRole {
    /// The cell's tensor-parallel group.
    TensorParallel,
    /// The cell's expert-parallel group.
    ExpertParallel,
    /// All devices of the stage (e.g. resharding between cells of different layouts).
    Stage,
}

/// A collective over `ranks` devices of a group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Collective {
    /// Operation.
    pub kind: CollectiveKind,
    /// Which group.
    pub group: GroupRole,
    /// Ranks taking part.
    pub ranks: u32,
    /// Bytes of the full buffer on each rank (the all-reduce input size; for all-gather the
    /// gathered output size; for all-to-all the data each rank sends in total).
    pub bytes: f64,
}

/// The body of an op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpBody {
    /// Matrix multiplications.
    Gemm(Gemm),
    /// An attention kernel over the batch's prefill chunks and decode requests.
    Attention {
        /// Per-device shape.
        shape: AttentionShape,
        /// Prefill chunks.
        prefill: Vec<PrefillChunk>,
        /// Decode requests.
        decode: DecodeGroup,
    },
    /// Memory-bound op.
    Elementwise(Elementwise),
    /// The routed experts of a MoE layer as one fused kernel.
    FusedMoe(FusedMoe),
    /// Collective.
    Collective(Collective),
}

/// A named operator of one iteration on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Short name, e.g. `qkv_proj`, `o_proj`, `down_proj`, `attn`, `tp_all_reduce`.
    pub name: &'static str,
    /// What it computes.
    pub body: OpBody,
}

impl Op {
    /// Floating-point operations of the op (0 for collectives).
    pub fn flops(&self) -> f64 {
        match &self.body {
            OpBody::Gemm(g) => g.flops(),
            OpBody::FusedMoe(f) => f.flops(),
            OpBody::Attention {
                shape,
                prefill,
                decode,
            } => shape.flops(prefill, decode),
            OpBody::Elementwise(e) => e.flops,
            OpBody::Collective(_) => 0.0,
        }
    }

    /// The breakdown class.
    pub fn kind(&self) -> OpKind {
        match self.body {
            OpBody::Gemm(_) | OpBody::FusedMoe(_) => OpKind::Gemm,
            OpBody::Attention { .. } => OpKind::Attention,
            OpBody::Elementwise(_) => OpKind::Elementwise,
            OpBody::Collective(_) => OpKind::Communication,
        }
    }
}
