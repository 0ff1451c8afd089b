//! The model IR: embeddings, then runs of identical blocks, then the LM head.
//!
//! A [`Block`] is a sequence of [`Cell`]s that together form one or more transformer layers.
//! Identical consecutive blocks are stored once in a [`BlockRun`] with a repeat count, so the
//! size of the IR (and every pass over it) is independent of model depth.

use crate::dtype::Precision;
use serde::{Deserialize, Serialize};

/// A whole decoder-only model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Display name (an embedded short name, the HF id, or the file stem).
    pub name: String,
    /// The HF `architectures[0]` (or `model_type`) the model was imported from.
    pub architecture: String,
    /// Residual stream width.
    pub hidden_size: u32,
    /// Vocabulary size (embedding rows and LM-head columns).
    pub vocab_size: u32,
    /// Whether the LM head shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Longest supported sequence.
    pub max_position_embeddings: u32,
    /// Data types of weights, activations and KV cache.
    pub precision: Precision,
    /// Runs of identical blocks, in order from the input.
    pub runs: Vec<BlockRun>,
}

/// `repeat` consecutive copies of one block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRun {
    /// The repeated block.
    pub block: Block,
    /// How many copies follow one another.
    pub repeat: u32,
}

/// A sequence of cells: one or more transformer layers (e.g. Llama 4 and gpt-oss interleave
/// two layer kinds, so their block is two layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Cells in execution order.
    pub cells: Vec<Cell>,
}

impl Block {
    /// Transformer layers in the block (its number of attention cells).
    pub fn layers(&self) -> u32 {
        self.cells
            .iter()
            .filter(|c| matches!(c, Cell::Attention(_)))
            .count() as u32
    }
}

/// One cell of a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    /// RMSNorm / LayerNorm over the hidden dimension.
    Norm(Norm),
    /// Self-attention.
    Attention(Attention),
    /// Dense feed-forward network.
    Mlp(Mlp),
    /// Mixture of experts feed-forward network.
    Moe(Moe),
}

/// A normalisation over `hidden` features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Norm {
    /// Normalised width.
    pub hidden: u32,
}

/// How queries, keys and values are projected and cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttentionKind {
    /// Multi-head, grouped-query or multi-query attention (`kv_heads` = `heads`, fewer, or 1).
    Standard {
        /// Query heads.
        heads: u32,
        /// Key/value heads.
        kv_heads: u32,
        /// Width of one head.
        head_dim: u32,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3): a low-rank compressed KV cache.
    Mla {
        /// Query heads.
        heads: u32,
        /// Rank of the query compression, or `None` for a full query projection.
        q_lora_rank: Option<u32>,
        /// Rank of the compressed KV (cached per token).
        kv_lora_rank: u32,
        /// Per-head query/key width without rotary embedding.
        qk_nope_head_dim: u32,
        /// Per-head rotary width (its key part is shared by all heads and cached).
        qk_rope_head_dim: u32,
        /// Per-head value width.
        v_head_dim: u32,
    },
}

impl AttentionKind {
    /// Number of query heads.
    pub fn heads(&self) -> u32 {
        match *self {
            AttentionKind::Standard { heads, .. } | AttentionKind::Mla { heads, .. } => heads,
        }
    }
}

/// A self-attention cell (projections, attention kernel, output projection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// Residual width.
    pub hidden: u32,
    /// Projection structure.
    pub kind: AttentionKind,
    /// Sliding-window length, when the layer attends only to its last `w` tokens.
    pub sliding_window: Option<u32>,
    /// Learned per-head attention sinks (gpt-oss).
    pub sinks: bool,
    /// Bias on the Q/K/V projections.
    pub qkv_bias: bool,
    /// Bias on the output projection.
    pub o_bias: bool,
}

/// A dense feed-forward network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mlp {
    /// Residual width.
    pub hidden: u32,
    /// Inner width.
    pub intermediate: u32,
    /// Gated (SwiGLU-style: gate and up projections) or plain (up projection only).
    pub gated: bool,
    /// Bias on the projections.
    pub bias: bool,
}

/// A mixture-of-experts feed-forward network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moe {
    /// Residual width.
    pub hidden: u32,
    /// Routed experts.
    pub experts: u32,
    /// Routed experts each token visits.
    pub top_k: u32,
    /// Inner width of one routed expert.
    pub expert_intermediate: u32,
    /// Always-active shared experts.
    pub shared_experts: u32,
    /// Inner width of one shared expert.
    pub shared_intermediate: u32,
    /// Gated experts (SwiGLU).
    pub gated: bool,
    /// Bias on expert projections and router.
    pub bias: bool,
}
