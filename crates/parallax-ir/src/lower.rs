//! Lowering a cell under a [`CellShard`] to the [`Op`]s one device runs in one iteration.
//!
//! This is the contract between the IR and the cost models: `parallax-hw` prices each op,
//! `parallax-plan` sums them per stage.
//!
//! # Semantics (per device, one iteration, `T = batch.tokens()`)
//! - **Attention** (standard): tensor parallelism splits query heads (`heads % tp == 0`); KV
//!   heads are split when `tp ≤ kv_heads` (`kv_heads % tp == 0`), otherwise each device holds
//!   one replicated KV head (`tp % kv_heads == 0`). Ops: `qkv_proj` GEMM (`m = T`), `rotary`,
//!   `attn` ([`OpBody::Attention`] with the per-device [`AttentionShape`]), `o_proj` GEMM, and
//!   for `tp > 1` a `tp_all_reduce` of `T × hidden` activations.
//! - **Attention** (MLA) uses the weight-absorbed form that serving engines run for decode:
//!   `q_a_proj` (replicated, when the query is low-rank), `q_a_norm`, `q_b_proj`, `kv_a_proj`
//!   (replicated), `kv_a_norm`, `rotary`, `q_absorb` (per-head `W_UK`, `count = heads/tp`),
//!   `attn` with `kv_heads = 1`, `qk_head_dim = kv_lora_rank + qk_rope_head_dim` and
//!   `v_head_dim = kv_lora_rank` over the replicated latent cache, `v_up` (per-head `W_UV`),
//!   `o_proj`, all-reduce. Prefill chunks run as engines run them ([`MlaPrefill`]): an
//!   `attn_prefill` multi-head attention over up-projected keys and values (`qk_nope +
//!   qk_rope` and `v_head_dim` wide) and, for chunks with a cached prefix, a
//!   `kv_b_proj_context` GEMM up-projecting the prefix's latents; `attn` covers decode only.
//! - **Sparse attention** (DeepSeek Sparse Attention: DeepSeek-V3.2, GLM-5;
//!   [`crate::SparseAttention`]): each query attends to the `top_k` tokens its lightning
//!   indexer selects, priced as a window of `top_k` keys ([`AttentionShape::window`]); the
//!   layer's own indexer adds, replicated on every rank as vLLM runs it, `indexer_q` (the
//!   compressed query to `heads × head_dim`), `indexer_k` (keys and head weights, in the
//!   activation type), `indexer_k_norm`, and `indexer`: an [`OpBody::Attention`] of `heads`
//!   fp8 dot products of `head_dim` (no values) against every cached token, reading its own
//!   key cache ([`crate::Indexer::cache_bytes_per_token`]). Prefill chunks whose whole context
//!   fits in `top_k` run the dense MLA prefill; longer ones the absorbed form over the selected
//!   tokens, in `attn` beside decode ([`split_sparse_prefill`]).
//! - **Dense MLP**: column-parallel `gate_up_proj`, `act`, row-parallel `down_proj`,
//!   all-reduce when `tp > 1`.
//! - **MoE**: `router` GEMM (replicated), `routing`; when `ep > 1` an `ep_dispatch` all-to-all
//!   over the EP group; the local routed experts as one `experts` [`FusedMoe`] op (grouped
//!   gate/up GEMM, activation, grouped down GEMM; see [`fused_moe_op`]: balanced routing, the
//!   expected number of local experts that receive at least one token);
//!   `ep_combine` all-to-all when `ep > 1`; shared experts as a dense MLP split by `tp`;
//!   all-reduce over TP when `tp > 1`. (A plan whose MoE tokens stay replicated over the
//!   expert group, `parallax_plan::Plan::moe_tokens_replicated`, keeps only the `experts` op of
//!   this lowering and takes the rest from the cell lowered at `tp = ep × tp`: no dispatch or
//!   combine, one all-reduce; a plan that dispatches them prices `ep_dispatch` / `ep_combine`
//!   as an all-gather and a reduce-scatter unless `parallax_plan::LowerOptions::moe_all_to_all`
//!   asks for the all-to-all.)
//! - **Norm**: one `norm` elementwise op (a fused residual-add + RMSNorm).
//!
//! Every op except `attn` depends on the batch only through `T` (see [`crate::op`]).

use crate::batch::{Batch, DecodeGroup};
use crate::dtype::{DType, Precision};
use crate::error::IrError;
use crate::model::{Attention, AttentionKind, Cell, Model, Moe};
use crate::op::{
    AttentionShape, CellShard, Collective, CollectiveKind, Elementwise, ElementwiseKind, FusedMoe,
    Gemm, GroupRole, Op, OpBody,
};

/// KV heads held by one device under tensor parallelism `tp`: `kv_heads / tp` (rounded up)
/// when `tp ≤ kv_heads`, else one replicated head.
pub fn kv_heads_local(kv_heads: u32, tp: u32) -> u32 {
    if kv_heads == 0 {
        0
    } else if tp.max(1) <= kv_heads {
        kv_heads.div_ceil(tp.max(1))
    } else {
        1
    }
}

/// Balanced-routing load of the routed experts on one device.
///
/// With `tokens` tokens each choosing `top_k` of `experts` experts uniformly, the expected
/// number of the device's `local_experts` that receive at least one token is
/// `local · (1 − (1 − top_k/experts)^tokens)`, rounded up (at least 1 when `tokens > 0`);
/// each of them processes `ceil(tokens · top_k / experts)` rows. The rows are the mean load of
/// a perfectly balanced router; the count models that small batches touch few experts (so
/// decode reads few experts' weights).
///
/// # Returns
/// `(count, rows)`: GEMM count and rows per GEMM. `(0, 0)` for no tokens.
///
/// # Complexity
/// O(1).
///
/// # Examples
/// ```
/// use parallax_ir::lower::routed_load;
/// // One token, top-2 of 8 experts: two experts with one row each.
/// assert_eq!(routed_load(1, 8, 8, 2), (2, 1));
/// // Many tokens touch every expert.
/// assert_eq!(routed_load(4096, 8, 8, 2), (8, 1024));
/// ```
pub fn routed_load(tokens: u64, local_experts: u32, experts: u32, top_k: u32) -> (u32, u64) {
    if tokens == 0 || local_experts == 0 || experts == 0 {
        return (0, 0);
    }
    let count = active_experts(tokens as f64, local_experts, experts, top_k);
    let rows = (tokens as u128 * top_k.min(experts) as u128).div_ceil(experts as u128);
    (count, u64::try_from(rows).unwrap_or(u64::MAX))
}

/// The count of [`routed_load`] for a possibly fractional token count: of `local_experts`
/// experts on a device, how many receive at least one of `tokens` tokens that each choose
/// `top_k` of `experts` uniformly, in expectation, rounded up (at least 1, at most
/// `local_experts`). 0 when `tokens <= 0` (or NaN) or either expert count is 0.
///
/// A cost model pricing a fused MoE op at a size between two integer token counts (one
/// device's share of the pairs, `assignments / top_k`, times `experts / local_experts`)
/// calls it with the fraction.
///
/// # Complexity
/// O(1).
///
/// # Examples
/// ```
/// use parallax_ir::lower::active_experts;
/// assert_eq!(active_experts(1.0, 8, 8, 2), 2);
/// assert_eq!(active_experts(0.5, 16, 128, 8), 1);
/// assert_eq!(active_experts(1e6, 16, 128, 8), 16);
/// ```
pub fn active_experts(tokens: f64, local_experts: u32, experts: u32, top_k: u32) -> u32 {
    if tokens.is_nan() || tokens <= 0.0 || local_experts == 0 || experts == 0 {
        return 0;
    }
    let k = top_k.min(experts) as f64 / experts as f64;
    let p_hit = 1.0 - (1.0 - k).powf(tokens);
    let expected = local_experts as f64 * p_hit;
    ((expected - 1e-9).ceil().max(1.0) as u32).min(local_experts)
}

/// The routed experts of `m` on one device under `tp × ep` for `tokens` tokens, as one
/// [`FusedMoe`] op with balanced routing.
///
/// The device holds `local = experts / ep` experts and processes its share of the
/// `tokens · top_k` token-expert pairs, `ceil(tokens · top_k · local / experts)`; the active
/// experts are [`routed_load`]'s expected count and each gets an equal share (the busiest
/// `ceil(assignments / active)` rows).
///
/// # Examples
/// ```
/// use parallax_ir::{lower::fused_moe_op, Moe, Precision};
/// let m = Moe { hidden: 2048, experts: 128, top_k: 8, expert_intermediate: 768,
///     shared_experts: 0, shared_intermediate: 0, gated: true, bias: false };
/// let f = fused_moe_op(&m, 32, 1, 1, &Precision::default());
/// assert_eq!(f.assignments, 256);
/// assert!(f.active_experts > 100 && f.active_experts < 128);
/// let f = fused_moe_op(&m, 32, 1, 4, &Precision::default());
/// assert_eq!((f.local_experts, f.assignments), (32, 64));
/// ```
pub fn fused_moe_op(m: &Moe, tokens: u64, tp: u32, ep: u32, p: &Precision) -> FusedMoe {
    let (tp, ep) = (tp.max(1), ep.max(1));
    let local = m.experts.div_ceil(ep);
    let top_k = m.top_k.min(m.experts);
    let assignments = if m.experts == 0 {
        0
    } else {
        let a = (tokens as u128 * top_k as u128 * local as u128).div_ceil(m.experts as u128);
        u64::try_from(a).unwrap_or(u64::MAX)
    };
    let (active, _) = routed_load(tokens, local, m.experts, top_k);
    let max_rows = if active == 0 {
        0
    } else {
        assignments.div_ceil(active as u64)
    };
    FusedMoe {
        tokens,
        assignments,
        active_experts: active,
        local_experts: local,
        layer_experts: m.experts,
        ep,
        top_k,
        max_rows,
        hidden: m.hidden,
        intermediate: m.expert_intermediate.div_ceil(tp),
        gated: m.gated,
        weight_dtype: p.expert_weights(),
        act_dtype: p.expert_compute(),
        block_scales: p.expert_block_scales() && p.expert_weights() == DType::Fp8,
    }
}

/// A fused residual-add + RMSNorm over `tokens × hidden`: reads input and residual, writes
/// both, and its scale in the activation type (checkpoints keep norms in 16 bits whatever
/// their quantisation); 5 FLOPs per element.
pub fn norm_op(tokens: u64, hidden: u32, act: DType) -> Elementwise {
    let elems = tokens as f64 * hidden as f64;
    Elementwise {
        kind: ElementwiseKind::Norm,
        bytes: 4.0 * elems * act.bytes() + hidden as f64 * act.bytes(),
        flops: 5.0 * elems,
    }
}

/// Rotary embedding of `width` elements per token (query and key heads × rotary width).
pub fn rotary_op(tokens: u64, width: u64, act: DType) -> Elementwise {
    let elems = tokens as f64 * width as f64;
    Elementwise {
        kind: ElementwiseKind::Rotary,
        bytes: 2.0 * elems * act.bytes(),
        flops: 3.0 * elems,
    }
}

/// Activation over `width` inner features per token: SiLU·gate for gated FFNs (reads 2,
/// writes 1), plain activation otherwise.
pub fn activation_op(tokens: u64, width: u64, gated: bool, act: DType) -> Elementwise {
    let elems = tokens as f64 * width as f64;
    let (rw, flops) = if gated { (3.0, 5.0) } else { (2.0, 4.0) };
    Elementwise {
        kind: ElementwiseKind::Activation,
        bytes: rw * elems * act.bytes(),
        flops: flops * elems,
    }
}

/// Router softmax/top-k over `experts` logits per token plus the permutation of the
/// `top_k` routed copies of each token's hidden state (read and written).
pub fn routing_op(tokens: u64, experts: u32, top_k: u32, hidden: u32, act: DType) -> Elementwise {
    let t = tokens as f64;
    Elementwise {
        kind: ElementwiseKind::Routing,
        bytes: t * experts as f64 * act.bytes()
            + 2.0 * t * top_k as f64 * hidden as f64 * act.bytes(),
        flops: 5.0 * t * experts as f64,
    }
}

/// The per-device shape of `a`'s attention kernel under tensor parallelism `tp`.
pub fn attention_shape(a: &Attention, tp: u32, precision: &Precision) -> AttentionShape {
    let tp = tp.max(1);
    let (heads, kv_heads, qk, v) = match a.kind {
        AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        } => (
            heads.div_ceil(tp),
            kv_heads_local(kv_heads, tp),
            head_dim,
            head_dim,
        ),
        AttentionKind::Mla {
            heads,
            kv_lora_rank,
            qk_rope_head_dim,
            ..
        } => (
            heads.div_ceil(tp),
            1,
            kv_lora_rank.saturating_add(qk_rope_head_dim),
            kv_lora_rank,
        ),
    };
    AttentionShape {
        heads,
        kv_heads,
        qk_head_dim: qk,
        v_head_dim: v,
        kv_bytes_per_token: a.kv_cache_bytes_per_token_per_device(tp, precision.kv_cache),
        window: attended_window(a),
        act_dtype: precision.activations,
        kv_dtype: precision.kv_cache,
    }
}

/// The keys a query of `a` attends to at most: its sliding window, or the `top_k` tokens a
/// sparse layer selects (which cost the kernel what a window of that many tokens does; the
/// KV cache still holds every token, see [`crate::Cell::kv_bytes_per_token`]).
fn attended_window(a: &Attention) -> Option<u32> {
    match (a.sliding_window, a.sparse.map(|s| s.top_k)) {
        (Some(w), Some(k)) => Some(w.min(k)),
        (w, k) => w.or(k),
    }
}

/// A sparse (DSA) layer's prefill chunks split by how engines run them: those whose context
/// (prefix and new tokens) fits in `top_k` as dense multi-head attention ([`MlaPrefill`];
/// vLLM's `use_dense_mha` for short prefills), the longer ones in the weight-absorbed sparse
/// form decode uses, over the selected tokens (FlashMLA's sparse prefill). Dense layers run
/// every chunk densely. Returns `(dense, sparse)`.
pub fn split_sparse_prefill(
    a: &Attention,
    prefill: &[crate::batch::PrefillChunk],
) -> (
    Vec<crate::batch::PrefillChunk>,
    Vec<crate::batch::PrefillChunk>,
) {
    split_at_top_k(a.sparse.map(|s| s.top_k), prefill)
}

/// [`split_sparse_prefill`] for a layer attending to `top_k` selected tokens (`None`: a dense
/// layer, every chunk dense).
pub fn split_at_top_k(
    top_k: Option<u32>,
    prefill: &[crate::batch::PrefillChunk],
) -> (
    Vec<crate::batch::PrefillChunk>,
    Vec<crate::batch::PrefillChunk>,
) {
    match top_k {
        None => (prefill.to_vec(), Vec::new()),
        Some(k) => prefill.iter().partition(|c| !beyond_top_k(c, k)),
    }
}

/// Whether a prefill chunk's context (cached prefix and new tokens) exceeds a sparse layer's
/// `top_k`, so that engines run it in the absorbed sparse form ([`split_sparse_prefill`]).
#[inline]
pub fn beyond_top_k(c: &crate::batch::PrefillChunk, top_k: u32) -> bool {
    c.prefix as u64 + c.new_tokens as u64 > top_k as u64
}

/// The attention-like kernel of a sparse layer's lightning indexer: `heads` fp8 dot products
/// of width `head_dim` between each new token and every cached token of its sequence (no
/// window: the indexer scores all of them), reading the indexer's key cache. Replicated on
/// every tensor-parallel rank. `None` for a layer without an indexer of its own.
pub fn indexer_shape(a: &Attention) -> Option<AttentionShape> {
    let ix = a.sparse?.indexer?;
    Some(AttentionShape {
        heads: ix.heads,
        kv_heads: 1,
        qk_head_dim: ix.head_dim,
        v_head_dim: 0,
        kv_bytes_per_token: ix.cache_bytes_per_token(),
        window: None,
        act_dtype: DType::Fp8,
        kv_dtype: DType::Fp8,
    })
}

/// MLA prefill as serving engines run it (vLLM's MLA backends, SGLang's `forward_normal`,
/// TensorRT-LLM's context phase): the latents are up-projected to per-head keys and values
/// (`kv_b_proj`) and a standard multi-head attention runs over them, instead of the
/// weight-absorbed form decode uses (whose per-head dot products are `kv_lora_rank +
/// qk_rope_head_dim` wide, about 3.4× the attention FLOPs of DeepSeek-V3's prefill).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlaPrefill {
    /// Multi-head attention over the up-projected keys (`qk_nope + qk_rope` wide) and values
    /// (`v_head_dim`), one KV head per query head, keys and values in the activation type.
    pub shape: AttentionShape,
    /// The up-projection of cached context tokens' latents (`m` = 1 row): the engine
    /// up-projects a chunk's cached prefix before attending to it. New tokens need no extra
    /// GEMM: their up-projection costs what the absorbed `q_absorb` and `v_up` cost.
    pub context_up: Gemm,
}

impl MlaPrefill {
    /// The context up-projection GEMM of a batch's prefill chunks (`m` = their cached
    /// prefix tokens), or `None` when no chunk has a prefix.
    pub fn context_gemm(&self, prefill: &[crate::batch::PrefillChunk]) -> Option<Gemm> {
        let m: u64 = prefill.iter().map(|c| c.prefix as u64).sum();
        (m > 0).then_some(Gemm {
            m,
            ..self.context_up
        })
    }
}

/// The prefill form of an MLA attention cell under tensor parallelism `tp` ([`MlaPrefill`]);
/// `None` for standard attention.
pub fn mla_prefill(a: &Attention, tp: u32, precision: &Precision) -> Option<MlaPrefill> {
    let AttentionKind::Mla {
        heads,
        kv_lora_rank,
        qk_nope_head_dim,
        qk_rope_head_dim,
        v_head_dim,
        ..
    } = a.kind
    else {
        return None;
    };
    let hl = heads.div_ceil(tp.max(1));
    let qk = qk_nope_head_dim.saturating_add(qk_rope_head_dim);
    let act = precision.activations;
    Some(MlaPrefill {
        shape: AttentionShape {
            heads: hl,
            kv_heads: hl,
            qk_head_dim: qk,
            v_head_dim,
            kv_bytes_per_token: hl as f64 * (qk as f64 + v_head_dim as f64) * act.bytes(),
            window: a.sliding_window,
            act_dtype: act,
            kv_dtype: act,
        },
        context_up: Gemm {
            m: 1,
            n: hl as u64 * (qk_nope_head_dim as u64 + v_head_dim as u64),
            k: kv_lora_rank as u64,
            count: 1,
            weight_dtype: precision.weights,
            act_dtype: precision.compute,
        },
    })
}

/// A short description of a cell for error messages.
pub fn describe(cell: &Cell) -> String {
    match cell {
        Cell::Norm(n) => format!("norm (hidden={})", n.hidden),
        Cell::Attention(a) => {
            let sparse = match a.sparse {
                Some(s) => match s.indexer {
                    Some(ix) => format!(
                        ", sparse top-{} by a {}x{} indexer",
                        s.top_k, ix.heads, ix.head_dim
                    ),
                    None => format!(", sparse top-{} (shared indexer)", s.top_k),
                },
                None => String::new(),
            };
            match a.kind {
                AttentionKind::Standard {
                    heads, kv_heads, ..
                } => format!("attention (heads={heads}, kv_heads={kv_heads}{sparse})"),
                AttentionKind::Mla { heads, .. } => {
                    format!("MLA attention (heads={heads}{sparse})")
                }
            }
        }
        Cell::Mlp(m) => format!("MLP (intermediate={})", m.intermediate),
        Cell::Moe(m) => format!(
            "MoE (experts={}, expert_intermediate={}, shared_intermediate={})",
            m.experts, m.expert_intermediate, m.shared_intermediate
        ),
    }
}

/// Check that `cell` can be split as `shard` says.
///
/// # Returns
/// `Ok(())`, or [`IrError::InvalidShard`] naming the cell, the degrees and the violated rule:
/// zero degrees; `ep > 1` on a cell that is not a MoE; attention heads not divisible by `tp`;
/// KV heads neither divisible by `tp` nor dividing it; MLP/expert/shared widths not divisible
/// by `tp`; experts not divisible by `ep`.
///
/// # Complexity
/// O(1).
pub fn check_shard(cell: &Cell, shard: CellShard) -> Result<(), IrError> {
    let err = |reason: String| IrError::InvalidShard {
        cell: describe(cell),
        tp: shard.tp,
        ep: shard.ep,
        reason,
    };
    if shard.tp == 0 || shard.ep == 0 {
        return Err(err("degrees must be at least 1".into()));
    }
    let tp = shard.tp;
    if shard.ep > 1 && !matches!(cell, Cell::Moe(_)) {
        return Err(err(
            "expert parallelism applies only to MoE cells (use ep=1)".into(),
        ));
    }
    match cell {
        Cell::Norm(_) => Ok(()),
        Cell::Attention(a) => {
            let heads = a.kind.heads();
            if heads % tp != 0 {
                return Err(err(format!(
                    "{heads} query heads are not divisible by tp={tp}"
                )));
            }
            if let AttentionKind::Standard { kv_heads, .. } = a.kind {
                if tp <= kv_heads && kv_heads % tp != 0 {
                    return Err(err(format!(
                        "{kv_heads} KV heads are not divisible by tp={tp}"
                    )));
                }
                if tp > kv_heads && (kv_heads == 0 || tp % kv_heads != 0) {
                    return Err(err(format!(
                        "tp={tp} exceeds the {kv_heads} KV heads and is not a multiple of them"
                    )));
                }
            }
            Ok(())
        }
        Cell::Mlp(m) => {
            if m.intermediate % tp != 0 {
                return Err(err(format!(
                    "intermediate width {} is not divisible by tp={tp}",
                    m.intermediate
                )));
            }
            Ok(())
        }
        Cell::Moe(m) => {
            if m.experts % shard.ep != 0 {
                return Err(err(format!(
                    "{} experts are not divisible by ep={}",
                    m.experts, shard.ep
                )));
            }
            if m.expert_intermediate % tp != 0 {
                return Err(err(format!(
                    "expert width {} is not divisible by tp={tp}",
                    m.expert_intermediate
                )));
            }
            if m.shared_experts > 0 && m.shared_intermediate % tp != 0 {
                return Err(err(format!(
                    "shared-expert width {} is not divisible by tp={tp}",
                    m.shared_intermediate
                )));
            }
            Ok(())
        }
    }
}

/// `p` for the layers checkpoints leave unquantised whatever their scheme: the MoE router
/// (gate) and the LM head run in the activation type (vLLM builds both without a quantisation
/// method; ModelOpt, compressed-tensors and DeepSeek's fp8 releases exclude them), and so does
/// a sparse layer's indexer key projection (vLLM upcasts it at load).
fn unquantized(p: &Precision) -> Precision {
    Precision {
        weights: p.activations,
        compute: p.activations,
        ..*p
    }
}

fn gemm(name: &'static str, m: u64, n: u64, k: u64, count: u32, p: &Precision) -> Op {
    Op {
        name,
        body: OpBody::Gemm(Gemm {
            m,
            n,
            k,
            count,
            weight_dtype: p.weights,
            act_dtype: p.compute,
        }),
    }
}

fn elementwise(name: &'static str, e: Elementwise) -> Op {
    Op {
        name,
        body: OpBody::Elementwise(e),
    }
}

fn collective(
    name: &'static str,
    kind: CollectiveKind,
    group: GroupRole,
    ranks: u32,
    bytes: f64,
) -> Op {
    Op {
        name,
        body: OpBody::Collective(Collective {
            kind,
            group,
            ranks,
            bytes,
        }),
    }
}

fn tp_all_reduce(tokens: u64, hidden: u32, tp: u32, p: &Precision, out: &mut Vec<Op>) {
    if tp > 1 {
        out.push(collective(
            "tp_all_reduce",
            CollectiveKind::AllReduce,
            GroupRole::TensorParallel,
            tp,
            tokens as f64 * hidden as f64 * p.activations.bytes(),
        ));
    }
}

/// Append the ops one device runs for `cell` under `shard` in one iteration of `batch`.
///
/// See the module docs for the ops of each cell kind. Call [`check_shard`] first: for a shard
/// it rejects, per-device sizes are rounded up instead of failing.
///
/// # Complexity
/// O(1) ops per cell, plus O(prefill chunks) to copy the batch into the attention op.
pub fn lower_cell(
    cell: &Cell,
    shard: CellShard,
    batch: &Batch,
    precision: &Precision,
    out: &mut Vec<Op>,
) {
    let t = batch.tokens();
    let tp = shard.tp.max(1);
    let ep = shard.ep.max(1);
    let act = precision.activations;
    match cell {
        Cell::Norm(n) => out.push(elementwise("norm", norm_op(t, n.hidden, act))),
        Cell::Attention(a) => {
            let shape = attention_shape(a, tp, precision);
            let h = a.hidden as u64;
            match a.kind {
                AttentionKind::Standard { head_dim, .. } => {
                    let d = head_dim as u64;
                    let (hl, kvl) = (shape.heads as u64, shape.kv_heads as u64);
                    out.push(gemm("qkv_proj", t, (hl + 2 * kvl) * d, h, 1, precision));
                    out.push(elementwise("rotary", rotary_op(t, (hl + kvl) * d, act)));
                    push_indexer(a, batch, precision, out);
                    push_attn(shape, batch, out);
                    out.push(gemm("o_proj", t, h, hl * d, 1, precision));
                }
                AttentionKind::Mla {
                    q_lora_rank,
                    kv_lora_rank,
                    qk_nope_head_dim,
                    qk_rope_head_dim,
                    v_head_dim,
                    ..
                } => {
                    let hl = shape.heads as u64;
                    let (c, n, r, v) = (
                        kv_lora_rank as u64,
                        qk_nope_head_dim as u64,
                        qk_rope_head_dim as u64,
                        v_head_dim as u64,
                    );
                    match q_lora_rank {
                        Some(q) => {
                            out.push(gemm("q_a_proj", t, q as u64, h, 1, precision));
                            out.push(elementwise("q_a_norm", norm_op(t, q, act)));
                            out.push(gemm("q_b_proj", t, hl * (n + r), q as u64, 1, precision));
                        }
                        None => out.push(gemm("q_proj", t, hl * (n + r), h, 1, precision)),
                    }
                    out.push(gemm("kv_a_proj", t, c + r, h, 1, precision));
                    out.push(elementwise("kv_a_norm", norm_op(t, kv_lora_rank, act)));
                    out.push(elementwise("rotary", rotary_op(t, (hl + 1) * r, act)));
                    push_indexer(a, batch, precision, out);
                    out.push(gemm("q_absorb", t, c, n, shape.heads, precision));
                    // Decode attends over the latent cache in the absorbed form; prefill
                    // chunks run multi-head attention over up-projected keys and values
                    // (a sparse layer's long chunks run absorbed, see
                    // `split_sparse_prefill`).
                    let (dense, sparse) = split_sparse_prefill(a, &batch.prefill);
                    if batch.decode.requests > 0 || !sparse.is_empty() {
                        push_attn(
                            shape,
                            &Batch {
                                prefill: sparse,
                                decode: batch.decode,
                            },
                            out,
                        );
                    }
                    if let (false, Some(m)) = (dense.is_empty(), mla_prefill(a, tp, precision)) {
                        if let Some(g) = m.context_gemm(&dense) {
                            out.push(Op {
                                name: "kv_b_proj_context",
                                body: OpBody::Gemm(g),
                            });
                        }
                        out.push(Op {
                            name: "attn_prefill",
                            body: OpBody::Attention {
                                shape: m.shape,
                                prefill: dense,
                                decode: DecodeGroup::default(),
                            },
                        });
                    }
                    out.push(gemm("v_up", t, v, c, shape.heads, precision));
                    out.push(gemm("o_proj", t, h, hl * v, 1, precision));
                }
            }
            tp_all_reduce(t, a.hidden, tp, precision, out);
        }
        Cell::Mlp(m) => {
            let il = m.intermediate.div_ceil(tp) as u64;
            let up = if m.gated { 2 } else { 1 };
            out.push(gemm(
                "gate_up_proj",
                t,
                up * il,
                m.hidden as u64,
                1,
                precision,
            ));
            out.push(elementwise("act", activation_op(t, il, m.gated, act)));
            out.push(gemm("down_proj", t, m.hidden as u64, il, 1, precision));
            tp_all_reduce(t, m.hidden, tp, precision, out);
        }
        Cell::Moe(m) => {
            let h = m.hidden as u64;
            out.push(gemm(
                "router",
                t,
                m.experts as u64,
                h,
                1,
                &unquantized(precision),
            ));
            out.push(elementwise(
                "routing",
                routing_op(t, m.experts, m.top_k, m.hidden, act),
            ));
            let a2a_bytes = t as f64 * m.top_k as f64 * m.hidden as f64 * act.bytes() / ep as f64;
            if ep > 1 {
                out.push(collective(
                    "ep_dispatch",
                    CollectiveKind::AllToAll,
                    GroupRole::ExpertParallel,
                    ep,
                    a2a_bytes,
                ));
            }
            out.push(Op {
                name: "experts",
                body: OpBody::FusedMoe(fused_moe_op(m, t, tp, ep, precision)),
            });
            if ep > 1 {
                out.push(collective(
                    "ep_combine",
                    CollectiveKind::AllToAll,
                    GroupRole::ExpertParallel,
                    ep,
                    a2a_bytes,
                ));
            }
            if m.shared_experts > 0 {
                let up = if m.gated { 2 } else { 1 };
                let si = m.shared_experts as u64 * m.shared_intermediate.div_ceil(tp) as u64;
                out.push(gemm("shared_gate_up", t, up * si, h, 1, precision));
                out.push(elementwise(
                    "shared_act",
                    activation_op(t, si, m.gated, act),
                ));
                out.push(gemm("shared_down", t, h, si, 1, precision));
            }
            tp_all_reduce(t, m.hidden, tp, precision, out);
        }
    }
}

/// The lightning indexer of a sparse layer, replicated on every rank: its query projection
/// (the checkpoint's GEMM type), the fused key and head-weight projection (kept in the
/// activation type, as vLLM loads it), the key norm, and the scores of every cached token
/// ([`indexer_shape`]). Nothing for a layer without an indexer of its own.
fn push_indexer(a: &Attention, batch: &Batch, precision: &Precision, out: &mut Vec<Op>) {
    let (Some(ix), Some(shape)) = (a.sparse.and_then(|s| s.indexer), indexer_shape(a)) else {
        return;
    };
    let t = batch.tokens();
    let act = precision.activations;
    let (hi, di) = (ix.heads as u64, ix.head_dim as u64);
    let q_in = a.indexer_query_input() as u64;
    out.push(gemm("indexer_q", t, hi * di, q_in, 1, precision));
    let unquantised = unquantized(precision);
    out.push(gemm(
        "indexer_k",
        t,
        di + hi,
        a.hidden as u64,
        1,
        &unquantised,
    ));
    out.push(elementwise("indexer_k_norm", norm_op(t, ix.head_dim, act)));
    out.push(Op {
        name: "indexer",
        body: OpBody::Attention {
            shape,
            prefill: batch.prefill.clone(),
            decode: batch.decode,
        },
    });
}

/// The indexer's FLOPs for `batch`: those of the ops [`push_indexer`] lowers (types do not
/// change FLOPs); 0 without one.
pub(crate) fn indexer_flops(a: &Attention, batch: &Batch) -> f64 {
    let mut ops = Vec::new();
    push_indexer(a, batch, &Precision::uniform(DType::Bf16), &mut ops);
    ops.iter().map(Op::flops).sum()
}

fn push_attn(shape: AttentionShape, batch: &Batch, out: &mut Vec<Op>) {
    out.push(Op {
        name: "attn",
        body: OpBody::Attention {
            shape,
            prefill: batch.prefill.clone(),
            decode: batch.decode,
        },
    });
}

/// Append the ops of the input embedding for one iteration: a vocab-parallel lookup of
/// `T = batch.tokens()` rows and, when `tp > 1`, an all-reduce of `T × hidden` activations.
pub fn lower_embedding(model: &Model, tp: u32, batch: &Batch, out: &mut Vec<Op>) {
    let t = batch.tokens();
    let p = &model.precision;
    let elems = t as f64 * model.hidden_size as f64;
    out.push(elementwise(
        "embedding",
        Elementwise {
            kind: ElementwiseKind::Embedding,
            // Each device reads the rows of its vocabulary shard (16-bit under any
            // quantisation, as checkpoints store the table) and writes the full output.
            bytes: elems * p.activations.bytes() / tp.max(1) as f64
                + elems * p.activations.bytes()
                + t as f64 * 4.0,
            flops: 0.0,
        },
    ));
    tp_all_reduce(t, model.hidden_size, tp.max(1), p, out);
}

/// Append the ops of the output head for one iteration: the final norm over all
/// `batch.tokens()` rows, then logits for one row per sequence (`batch.sequences()`) with the
/// vocabulary split over `tp` devices, an all-gather of the logits when `tp > 1`, and sampling.
pub fn lower_lm_head(model: &Model, tp: u32, batch: &Batch, out: &mut Vec<Op>) {
    let tp = tp.max(1);
    let p = &model.precision;
    let s = batch.sequences() as u64;
    out.push(elementwise(
        "final_norm",
        norm_op(batch.tokens(), model.hidden_size, p.activations),
    ));
    let vl = model.vocab_size.div_ceil(tp) as u64;
    out.push(gemm(
        "lm_head",
        s,
        vl,
        model.hidden_size as u64,
        1,
        &unquantized(p),
    ));
    let logits = s as f64 * model.vocab_size as f64 * p.activations.bytes();
    if tp > 1 {
        out.push(collective(
            "logits_all_gather",
            CollectiveKind::AllGather,
            GroupRole::TensorParallel,
            tp,
            logits,
        ));
    }
    out.push(elementwise(
        "sampling",
        Elementwise {
            kind: ElementwiseKind::Sampling,
            bytes: logits + s as f64 * 4.0,
            flops: 5.0 * s as f64 * model.vocab_size as f64,
        },
    ));
}
