//! Parameter, weight-byte, KV-cache and FLOP accounting for models and cells.
//!
//! Conventions (all counts are exact integers, computed in 128-bit and saturated to `u64`):
//! - Every weight is counted: projections, biases, norm scales, attention sinks, routers, the
//!   MLA low-rank norms. Two tiny tensors the IR has no place for are not: Qwen3's per-head
//!   q/k RMSNorm scales (`2 · head_dim` per layer) and DeepSeek-V3's routing-score correction
//!   bias (`experts` per MoE layer); both are below 10⁻⁶ of the model.
//! - The final norm before the LM head is counted in [`Model::lm_head_params`].
//! - [`Model::params_active`] is every parameter except the routed experts a token does not
//!   visit (top-k routed experts plus shared experts are active), embeddings included — the
//!   convention of the Mixtral, Qwen and DeepSeek model cards. OpenAI's gpt-oss card leaves the
//!   input embedding out; subtract [`Model::embedding_params`] to compare with it.
//! - KV bytes per token sum over every layer. Sliding-window layers count full per-token bytes
//!   here; the bound to `window` tokens is applied by capacity code through
//!   [`Attention::sliding_window`]. A sparse-attention layer keeps every token, plus its
//!   indexer's keys (132 bytes per token in fp8 whatever the KV type).
//! - A sparse layer's indexer weights are replicated on every tensor-parallel rank; its fused
//!   key/head-weight projection is stored in the activation type (vLLM upcasts it at load),
//!   the query projection in the checkpoint's weight type.
//! - The input embedding, the LM head with its final norm, the blocks' norm cells and every
//!   MoE's router are stored in the activation type under any quantisation, as checkpoints
//!   keep them ([`Model::unquantised_head_params`]). Norms inside an attention cell (MLA's low-rank
//!   norms, an indexer's) count with the cell's weights, at the weight type: a few hundred
//!   thousand parameters.

use crate::batch::Batch;
use crate::dtype::Precision;
use crate::lower::{self, kv_heads_local};
use crate::model::{Attention, AttentionKind, Cell, Mlp, Model, Moe, Norm};
use crate::op::{CellShard, OpBody};

fn sat(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// Parameters of one feed-forward network `hidden → inner → hidden`.
fn ffn_params(hidden: u128, inner: u128, gated: bool, bias: bool) -> u128 {
    let mats = if gated { 3 } else { 2 };
    let b = if bias { (mats - 1) * inner + hidden } else { 0 };
    mats * hidden * inner + b
}

fn ceil_div(a: u32, b: u32) -> u128 {
    a.div_ceil(b.max(1)) as u128
}

impl Attention {
    /// Parameters held by a device under tensor parallelism `tp` (all of them for `tp = 1`).
    fn params_tp(&self, tp: u32) -> u128 {
        self.projection_params_tp(tp) + self.indexer_params()
    }

    /// The input width of the sparse-attention indexer's query projection: MLA's compressed
    /// query (`q_lora_rank`) where it has one, else the residual.
    pub(crate) fn indexer_query_input(&self) -> u32 {
        match self.kind {
            AttentionKind::Mla {
                q_lora_rank: Some(q),
                ..
            } => q,
            _ => self.hidden,
        }
    }

    /// Parameters of the sparse-attention indexer (replicated on every tensor-parallel rank):
    /// the query projection (`wq_b`), the fused key and head-weight projection
    /// (`wk_weights_proj`) and the key norm (LayerNorm, weight and bias).
    fn indexer_params(&self) -> u128 {
        let Some(ix) = self.sparse.and_then(|s| s.indexer) else {
            return 0;
        };
        let (hi, d) = (ix.heads as u128, ix.head_dim as u128);
        self.indexer_query_input() as u128 * hi * d + self.indexer_key_params() + 2 * d
    }

    /// Parameters of the indexer's fused key and head-weight projection (`wk_weights_proj`,
    /// `hidden → head_dim + heads`), which engines keep in the activation type whatever the
    /// checkpoint's weight type; 0 without an indexer.
    pub(crate) fn indexer_key_params(&self) -> u128 {
        self.sparse.and_then(|s| s.indexer).map_or(0, |ix| {
            self.hidden as u128 * (ix.head_dim as u128 + ix.heads as u128)
        })
    }

    /// Bytes per token of the layer's KV (or latent) cache held by one device under tensor
    /// parallelism `tp` in cache type `kv`, without the indexer's keys. A sparse MLA layer's
    /// fp8 cache is FlashMLA's sparse format (vLLM's `fp8_ds_mla`): the latent in fp8 with one
    /// fp32 scale per 128 values, and the rotary part in 16 bits (DeepSeek-V3.2: 512 + 16 +
    /// 128 = 656 bytes, not 576).
    pub fn kv_cache_bytes_per_token_per_device(&self, tp: u32, kv: crate::DType) -> f64 {
        match self.kind {
            AttentionKind::Mla {
                kv_lora_rank,
                qk_rope_head_dim,
                ..
            } if self.sparse.is_some() && kv == crate::DType::Fp8 => {
                kv_lora_rank as f64
                    + 4.0 * kv_lora_rank.div_ceil(128) as f64
                    + 2.0 * qk_rope_head_dim as f64
            }
            _ => self.kv_elements_per_token_per_device(tp) as f64 * kv.bytes(),
        }
    }

    /// Bytes per token of the sparse-attention indexer's key cache (0 without one).
    pub fn indexer_cache_bytes_per_token(&self) -> f64 {
        self.sparse
            .and_then(|s| s.indexer)
            .map_or(0.0, |ix| ix.cache_bytes_per_token())
    }

    fn projection_params_tp(&self, tp: u32) -> u128 {
        let h = self.hidden as u128;
        match self.kind {
            AttentionKind::Standard {
                heads,
                kv_heads,
                head_dim,
            } => {
                let hl = ceil_div(heads, tp);
                let kvl = kv_heads_local(kv_heads, tp) as u128;
                let d = head_dim as u128;
                let mut p = h * hl * d + 2 * h * kvl * d + hl * d * h;
                if self.qkv_bias {
                    p += hl * d + 2 * kvl * d;
                }
                if self.o_bias {
                    p += h;
                }
                if self.sinks {
                    p += hl;
                }
                p
            }
            AttentionKind::Mla {
                heads,
                q_lora_rank,
                kv_lora_rank,
                qk_nope_head_dim,
                qk_rope_head_dim,
                v_head_dim,
            } => {
                let hl = ceil_div(heads, tp);
                let (c, n, r, v) = (
                    kv_lora_rank as u128,
                    qk_nope_head_dim as u128,
                    qk_rope_head_dim as u128,
                    v_head_dim as u128,
                );
                // Down projections and their norms are replicated; up projections and the
                // output projection are split by heads.
                let q = match q_lora_rank {
                    Some(q) => {
                        let q = q as u128;
                        h * q + q + q * hl * (n + r)
                    }
                    None => h * hl * (n + r),
                };
                let kv = h * (c + r) + c + c * hl * (n + v);
                let mut p = q + kv + hl * v * h;
                if self.qkv_bias {
                    p += hl * (n + r) + (c + r) + hl * (n + v);
                }
                if self.o_bias {
                    p += h;
                }
                if self.sinks {
                    p += hl;
                }
                p
            }
        }
    }

    /// KV-cache elements per token of this layer (whole layer, unsharded).
    pub fn kv_elements_per_token(&self) -> u64 {
        match self.kind {
            AttentionKind::Standard {
                kv_heads, head_dim, ..
            } => 2 * kv_heads as u64 * head_dim as u64,
            AttentionKind::Mla {
                kv_lora_rank,
                qk_rope_head_dim,
                ..
            } => kv_lora_rank as u64 + qk_rope_head_dim as u64,
        }
    }

    /// KV-cache elements per token held by one device under tensor parallelism `tp`.
    ///
    /// Standard attention splits KV heads when `tp ≤ kv_heads` and otherwise keeps one
    /// (replicated) KV head per device; MLA's latent is replicated on every device.
    pub fn kv_elements_per_token_per_device(&self, tp: u32) -> u64 {
        match self.kind {
            AttentionKind::Standard {
                kv_heads, head_dim, ..
            } => 2 * kv_heads_local(kv_heads, tp) as u64 * head_dim as u64,
            AttentionKind::Mla { .. } => self.kv_elements_per_token(),
        }
    }
}

impl Mlp {
    fn params_tp(&self, tp: u32) -> u128 {
        let il = ceil_div(self.intermediate, tp);
        let mats = if self.gated { 3 } else { 2 };
        let mut p = mats * self.hidden as u128 * il;
        if self.bias {
            p += (mats - 1) * il + self.hidden as u128;
        }
        p
    }
}

impl Moe {
    fn router_params(&self) -> u128 {
        let e = self.experts as u128;
        self.hidden as u128 * e + if self.bias { e } else { 0 }
    }

    fn expert_params(&self, tp: u32) -> u128 {
        ffn_params(
            self.hidden as u128,
            ceil_div(self.expert_intermediate, tp),
            self.gated,
            self.bias,
        )
    }

    fn shared_params(&self, tp: u32) -> u128 {
        self.shared_experts as u128
            * ffn_params(
                self.hidden as u128,
                ceil_div(self.shared_intermediate, tp),
                self.gated,
                self.bias,
            )
    }

    fn params_shard(&self, shard: CellShard) -> u128 {
        self.router_params() + self.routed_params_shard(shard) + self.shared_params(shard.tp)
    }

    /// The routed experts' parameters on one device under `shard`.
    fn routed_params_shard(&self, shard: CellShard) -> u128 {
        ceil_div(self.experts, shard.ep) * self.expert_params(shard.tp)
    }
}

/// Bytes of `params` weights of which `routed` belong to routed experts (stored in
/// [`Precision::expert_weights`]) and `unquantised` stay in the activation type (norm cells, a
/// sparse layer's indexer key projection, MoE routers, the embedding and LM head); the rest
/// are in `weights`.
fn weight_bytes_of(params: u128, routed: u128, unquantised: u128, precision: &Precision) -> f64 {
    params.saturating_sub(routed + unquantised) as f64 * precision.weights.bytes()
        + routed as f64 * precision.expert_weights().bytes()
        + unquantised as f64 * precision.activations.bytes()
}

impl Cell {
    fn params_shard(&self, shard: CellShard) -> u128 {
        match self {
            Cell::Norm(Norm { hidden }) => *hidden as u128,
            Cell::Attention(a) => a.params_tp(shard.tp),
            Cell::Mlp(m) => m.params_tp(shard.tp),
            Cell::Moe(m) => m.params_shard(shard),
        }
    }

    /// The routed experts' parameters on one device (0 for cells other than MoE).
    fn routed_params_shard(&self, shard: CellShard) -> u128 {
        match self {
            Cell::Moe(m) => m.routed_params_shard(shard),
            _ => 0,
        }
    }

    fn active_params_u128(&self) -> u128 {
        match self {
            Cell::Moe(m) => {
                m.router_params()
                    + m.top_k.min(m.experts) as u128 * m.expert_params(1)
                    + m.shared_params(1)
            }
            other => other.params_shard(CellShard::SINGLE),
        }
    }

    /// Parameters of the whole cell.
    pub fn params(&self) -> u64 {
        sat(self.params_shard(CellShard::SINGLE))
    }

    /// Parameters one token uses: for a MoE, the router, `top_k` routed experts and the shared
    /// experts; for every other cell, all of them.
    pub fn active_params(&self) -> u64 {
        sat(self.active_params_u128())
    }

    /// Weight bytes held by each device under `shard`.
    ///
    /// Attention splits heads by `tp` (KV heads replicated when `tp > kv_heads`; MLA's down
    /// projections replicated); MLPs and each expert split their inner width by `tp`; a MoE
    /// holds `experts / ep` routed experts per device, replicates the router and shards the
    /// shared experts by `tp` only; norms are replicated. Sizes round up when not divisible
    /// (see [`crate::lower::check_shard`]). Routed experts are stored as
    /// [`Precision::expert_weights`], a norm cell, a MoE's router and a sparse layer's indexer
    /// key projection in the activation type, everything else as `weights`.
    pub fn weight_bytes_per_device(&self, shard: CellShard, precision: &Precision) -> f64 {
        weight_bytes_of(
            self.params_shard(shard),
            self.routed_params_shard(shard),
            self.unquantised_params(),
            precision,
        )
    }

    /// Weight bytes of a MoE's shared experts on each device when they are sharded `tp` ways
    /// (0 for cells other than MoE, or without shared experts). Part of
    /// [`Cell::weight_bytes_per_device`], which shards them by the cell's own `tp`; a plan that
    /// shards them wider (over a whole expert-parallel replica) swaps this part.
    pub fn shared_expert_bytes_per_device(&self, tp: u32, precision: &Precision) -> f64 {
        match self {
            Cell::Moe(m) => m.shared_params(tp.max(1)) as f64 * precision.weights.bytes(),
            _ => 0.0,
        }
    }

    /// Parameters the cell stores in the activation type whatever the weight type (a norm's
    /// scale, a sparse layer's indexer key projection, a MoE's router; replicated, so the same
    /// on every device). Quantised checkpoints (ModelOpt, compressed-tensors, GPTQ/AWQ,
    /// DeepSeek's fp8, gpt-oss's MXFP4) leave norms and routers in 16 bits, and the lowering
    /// prices the router GEMM so ([`crate::lower`]).
    fn unquantised_params(&self) -> u128 {
        match self {
            Cell::Norm(Norm { hidden }) => *hidden as u128,
            Cell::Attention(a) => a.indexer_key_params(),
            Cell::Moe(m) => m.router_params(),
            Cell::Mlp(_) => 0,
        }
    }

    /// KV-cache bytes per token of this cell held on each device under `shard` (0 for cells
    /// other than attention).
    pub fn kv_bytes_per_token_per_device(&self, shard: CellShard, precision: &Precision) -> f64 {
        match self {
            Cell::Attention(a) => {
                a.kv_cache_bytes_per_token_per_device(shard.tp, precision.kv_cache)
                    + a.indexer_cache_bytes_per_token()
            }
            _ => 0.0,
        }
    }

    /// KV-cache bytes per token of this cell, whole (unsharded).
    pub fn kv_bytes_per_token(&self, precision: &Precision) -> f64 {
        match self {
            Cell::Attention(a) => {
                // at TP 1 one device holds the whole layer's cache
                a.kv_cache_bytes_per_token_per_device(1, precision.kv_cache)
                    + a.indexer_cache_bytes_per_token()
            }
            _ => 0.0,
        }
    }

    /// Floating-point operations of the whole (unsharded) cell for one iteration's `batch`.
    ///
    /// GEMMs count `2 · rows · weights`; MoE routed experts use the balanced-routing model of
    /// [`crate::lower`] (activated experts × rows per expert); attention counts
    /// [`crate::AttentionShape::flops`]; norms, rotary, activations and routing count their
    /// elementwise FLOPs. Equals the sum of the FLOPs of [`crate::lower::lower_cell`] with
    /// [`CellShard::SINGLE`].
    pub fn flops(&self, batch: &Batch) -> f64 {
        let t = batch.tokens() as f64;
        let act = crate::DType::Bf16; // FLOPs do not depend on types.
        match self {
            Cell::Norm(n) => lower::norm_op(batch.tokens(), n.hidden, act).flops,
            Cell::Attention(a) => {
                let h = a.hidden as f64;
                let shape = lower::attention_shape(a, 1, &Precision::uniform(act));
                let attn = shape.flops(&batch.prefill, &batch.decode);
                match a.kind {
                    AttentionKind::Standard {
                        heads,
                        kv_heads,
                        head_dim,
                    } => {
                        let (hq, k, d) = (heads as f64, kv_heads as f64, head_dim as f64);
                        lower::indexer_flops(a, batch)
                            + 2.0 * t * h * (hq + 2.0 * k) * d
                            + lower::rotary_op(
                                batch.tokens(),
                                (heads + kv_heads) as u64 * head_dim as u64,
                                act,
                            )
                            .flops
                            + attn
                            + 2.0 * t * hq * d * h
                    }
                    AttentionKind::Mla {
                        heads,
                        q_lora_rank,
                        kv_lora_rank,
                        qk_nope_head_dim,
                        qk_rope_head_dim,
                        v_head_dim,
                    } => {
                        // Decode (and a sparse layer's long prefill chunks) in the absorbed
                        // form, prefill as multi-head attention over up-projected keys and
                        // values (and the cached prefixes' up-projection).
                        let (dense, sparse) = lower::split_sparse_prefill(a, &batch.prefill);
                        let absorbed = shape.flops(&sparse, &batch.decode);
                        let mla_attn = match lower::mla_prefill(a, 1, &Precision::uniform(act)) {
                            Some(m) if !dense.is_empty() => {
                                absorbed
                                    + m.shape.flops(&dense, &crate::DecodeGroup::default())
                                    + m.context_gemm(&dense).map_or(0.0, |g| g.flops())
                            }
                            _ => absorbed,
                        };
                        let (hq, c, n, r, v) = (
                            heads as f64,
                            kv_lora_rank as f64,
                            qk_nope_head_dim as f64,
                            qk_rope_head_dim as f64,
                            v_head_dim as f64,
                        );
                        let q = match q_lora_rank {
                            Some(q) => {
                                2.0 * t * h * q as f64
                                    + lower::norm_op(batch.tokens(), q, act).flops
                                    + 2.0 * t * q as f64 * hq * (n + r)
                            }
                            None => 2.0 * t * h * hq * (n + r),
                        };
                        lower::indexer_flops(a, batch)
                            + q
                            + 2.0 * t * h * (c + r)
                            + lower::norm_op(batch.tokens(), kv_lora_rank, act).flops
                            + lower::rotary_op(
                                batch.tokens(),
                                (heads as u64 + 1) * qk_rope_head_dim as u64,
                                act,
                            )
                            .flops
                            + 2.0 * t * hq * n * c
                            + mla_attn
                            + 2.0 * t * hq * c * v
                            + 2.0 * t * hq * v * h
                    }
                }
            }
            Cell::Mlp(m) => {
                let (h, i) = (m.hidden as f64, m.intermediate as f64);
                let up = if m.gated { 2.0 } else { 1.0 };
                2.0 * t * h * i * up
                    + lower::activation_op(batch.tokens(), m.intermediate as u64, m.gated, act)
                        .flops
                    + 2.0 * t * i * h
            }
            Cell::Moe(m) => {
                let h = m.hidden as f64;
                let up = if m.gated { 2.0 } else { 1.0 };
                let routed =
                    lower::fused_moe_op(m, batch.tokens(), 1, 1, &Precision::uniform(act)).flops();
                let si = m.shared_experts as f64 * m.shared_intermediate as f64;
                let shared = if m.shared_experts > 0 {
                    2.0 * t * h * si * up
                        + lower::activation_op(
                            batch.tokens(),
                            m.shared_experts as u64 * m.shared_intermediate as u64,
                            m.gated,
                            act,
                        )
                        .flops
                        + 2.0 * t * si * h
                } else {
                    0.0
                };
                2.0 * t * h * m.experts as f64
                    + lower::routing_op(batch.tokens(), m.experts, m.top_k, m.hidden, act).flops
                    + routed
                    + shared
            }
        }
    }

    /// Bytes moved by the whole (unsharded) cell for one iteration's `batch`: weights read once,
    /// activations read and written by every op, the KV cache read and written by attention.
    /// This is the sum of the bytes of [`crate::lower::lower_cell`] with [`CellShard::SINGLE`].
    pub fn bytes(&self, batch: &Batch, precision: &Precision) -> f64 {
        let mut ops = Vec::new();
        lower::lower_cell(self, CellShard::SINGLE, batch, precision, &mut ops);
        ops.iter()
            .map(|op| match &op.body {
                OpBody::Gemm(g) => g.bytes(),
                OpBody::Attention {
                    shape,
                    prefill,
                    decode,
                } => shape.bytes(prefill, decode),
                OpBody::Elementwise(e) => e.bytes,
                OpBody::FusedMoe(f) => f.bytes(),
                OpBody::Collective(c) => c.bytes,
            })
            .sum()
    }
}

impl Model {
    /// Whether any layer is a mixture of experts.
    pub fn has_moe(&self) -> bool {
        self.first_moe().is_some()
    }

    /// The first mixture-of-experts layer's experts, if any (models repeat one MoE shape).
    pub fn first_moe(&self) -> Option<&crate::Moe> {
        self.cells().find_map(|(c, _)| match c {
            Cell::Moe(m) => Some(m),
            _ => None,
        })
    }

    /// Every cell with how many times it occurs in the model.
    pub fn cells(&self) -> impl Iterator<Item = (&Cell, u32)> + '_ {
        self.runs
            .iter()
            .flat_map(|r| r.block.cells.iter().map(move |c| (c, r.repeat)))
    }

    /// Whether some cell of the model satisfies `kind` (e.g. `|c| matches!(c, Cell::Moe(_))`).
    pub fn has_cell(&self, kind: impl Fn(&Cell) -> bool) -> bool {
        self.cells().any(|(c, _)| kind(c))
    }

    /// The model served with its context window cut to `len` tokens (vLLM's
    /// `--max-model-len`), or `None` unless `1 ≤ len ≤ max_position_embeddings`.
    ///
    /// # Examples
    /// ```
    /// let m = parallax_ir::resolve("llama-3.1-8b").unwrap();
    /// assert_eq!(m.clone().with_max_model_len(8192).unwrap().max_position_embeddings, 8192);
    /// assert!(m.with_max_model_len(1 << 20).is_none());
    /// ```
    pub fn with_max_model_len(mut self, len: u32) -> Option<Model> {
        if len == 0 || len > self.max_position_embeddings {
            return None;
        }
        self.max_position_embeddings = len;
        Some(self)
    }

    /// Transformer layers (attention cells) in the model.
    pub fn layers(&self) -> u32 {
        self.runs
            .iter()
            .map(|r| r.block.layers().saturating_mul(r.repeat))
            .fold(0u32, u32::saturating_add)
    }

    /// Parameters of the input embedding table (`vocab_size × hidden_size`).
    pub fn embedding_params(&self) -> u64 {
        self.vocab_size as u64 * self.hidden_size as u64
    }

    /// Parameters of the output head: the final norm (`hidden_size`) plus, unless tied to the
    /// embedding, the `hidden_size × vocab_size` projection.
    pub fn lm_head_params(&self) -> u64 {
        let proj = if self.tie_word_embeddings {
            0
        } else {
            self.embedding_params()
        };
        proj + self.hidden_size as u64
    }

    fn blocks_sum(&self, f: impl Fn(&Cell) -> u128) -> u128 {
        self.cells().map(|(c, n)| f(c) * n as u128).sum()
    }

    /// Total parameters (embedding, every block, final norm and LM head).
    pub fn params_total(&self) -> u64 {
        sat(self.embedding_params() as u128
            + self.lm_head_params() as u128
            + self.blocks_sum(|c| c.params_shard(CellShard::SINGLE)))
    }

    /// Parameters used per token: all but the routed experts a token does not visit (see the
    /// module docs for the convention).
    pub fn params_active(&self) -> u64 {
        sat(self.embedding_params() as u128
            + self.lm_head_params() as u128
            + self.blocks_sum(Cell::active_params_u128))
    }

    /// Bytes of all weights in the model's weight types (routed experts as
    /// [`Precision::expert_weights`]; the embedding, the LM head, the norms and MoE routers in
    /// the activation type, as quantised checkpoints keep them, see
    /// [`Model::unquantised_head_params`]).
    pub fn weight_bytes(&self) -> f64 {
        weight_bytes_of(
            self.params_total() as u128,
            self.blocks_sum(|c| c.routed_params_shard(CellShard::SINGLE)),
            self.blocks_sum(Cell::unquantised_params) + self.unquantised_head_params() as u128,
            &self.precision,
        )
    }

    /// Parameters outside the blocks, all stored in the activation type whatever the weight
    /// type: the input embedding and the output head with its final norm
    /// ([`Model::embedding_params`] + [`Model::lm_head_params`]). vLLM builds the embedding
    /// and LM head without a quantisation method, and ModelOpt, compressed-tensors, GPTQ/AWQ
    /// and DeepSeek's fp8 releases leave them in 16 bits.
    pub fn unquantised_head_params(&self) -> u64 {
        self.embedding_params()
            .saturating_add(self.lm_head_params())
    }

    /// KV-cache bytes per token of context, summed over all layers, in the model's KV type
    /// (plus a sparse layer's indexer keys, fp8 whatever that type:
    /// [`crate::Indexer::cache_bytes_per_token`]). Sliding-window layers count full per-token
    /// bytes (see the module docs).
    pub fn kv_bytes_per_token(&self) -> f64 {
        self.cells()
            .map(|(c, n)| c.kv_bytes_per_token(&self.precision) * n as f64)
            .sum()
    }
}
