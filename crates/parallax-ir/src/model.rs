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
    /// Multi-token-prediction modules shipped beside the model (`num_nextn_predict_layers`:
    /// DeepSeek-V3/R1, GLM-4.5, …), which serving engines can run as the draft of speculative
    /// decoding. Not part of `runs`: they serve no token unless speculation is on. 0: none.
    #[serde(default)]
    pub mtp_layers: u32,
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
///
/// Serialized with a `"cell"` tag (`{"cell": "attention", ...}`): the attention cell has its
/// own `kind` field, so the tag cannot be `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cell", rename_all = "snake_case")]
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
    /// DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): each query attends only to the
    /// `top_k` cached tokens its lightning indexer selects. `None`: dense attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<SparseAttention>,
}

/// Top-k sparse attention with a lightning indexer (DeepSeek Sparse Attention).
///
/// The indexer scores every cached token for every query (`heads` ReLU dot products of width
/// `head_dim` in fp8, weighted over heads) and the attention kernel then reads only the
/// `top_k` best. vLLM (`models/deepseek_v2.py`, `Indexer`) replicates the indexer's layers on
/// every tensor-parallel rank and keeps its keys in a cache of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseAttention {
    /// Cached tokens each query attends to (`index_topk`).
    pub top_k: u32,
    /// The layer's own indexer, or `None` where the layer reuses an earlier layer's selection
    /// (GLM-5.2's `indexer_types: "shared"`).
    pub indexer: Option<Indexer>,
}

/// The lightning indexer of a [`SparseAttention`] layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indexer {
    /// Indexer heads (`index_n_heads`).
    pub heads: u32,
    /// Width of one indexer head (`index_head_dim`).
    pub head_dim: u32,
}

impl Indexer {
    /// Bytes per token of the indexer's key cache: fp8 keys with one fp32 scale per 128
    /// values, whatever the model's KV-cache type (vLLM's `DeepseekV32IndexerCache`: 132
    /// bytes for a 128-wide head).
    pub fn cache_bytes_per_token(&self) -> f64 {
        self.head_dim as f64 + 4.0 * self.head_dim.div_ceil(128) as f64
    }
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

impl BlockRun {
    /// Group a per-layer list of cells into runs of identical blocks.
    ///
    /// Consecutive layers that repeat with the shortest period are stored once: e.g. three
    /// dense layers then 58 MoE layers give two runs (`[dense] × 3`, `[moe] × 58`), and
    /// layers alternating dense/MoE give one run of a two-layer block.
    ///
    /// # Arguments
    /// - `layers`: the cells of each layer, in order.
    ///
    /// # Returns
    /// Runs whose expansion is exactly `layers` (concatenated).
    ///
    /// # Complexity
    /// See [`repeating_runs`].
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::{BlockRun, Cell, Norm};
    /// let a = vec![Cell::Norm(Norm { hidden: 8 })];
    /// let b = vec![Cell::Norm(Norm { hidden: 16 })];
    /// let runs = BlockRun::from_layers(&[a.clone(), a.clone(), a, b.clone(), b]);
    /// assert_eq!(runs.len(), 2);
    /// assert_eq!((runs[0].repeat, runs[1].repeat), (3, 2));
    /// ```
    pub fn from_layers(layers: &[Vec<Cell>]) -> Vec<BlockRun> {
        repeating_runs(layers)
            .into_iter()
            .map(|(pattern, repeat)| BlockRun {
                block: Block {
                    cells: layers[pattern].iter().flatten().cloned().collect(),
                },
                repeat,
            })
            .collect()
    }
}

/// Longest period [`repeating_runs`] looks for.
pub const MAX_PATTERN: usize = 64;

/// Split `items` into runs `items[pattern]` repeated `repeat` times.
///
/// Greedy from the front: at each position, take the pattern length `p` (1 ≤ `p` ≤
/// [`MAX_PATTERN`]) whose consecutive repetitions cover the most items, preferring the shortest
/// pattern on ties. A position where nothing repeats becomes a run of one item.
///
/// # Arguments
/// - `items`: the per-layer sequence.
///
/// # Returns
/// `(pattern, repeat)` pairs: `pattern` indexes `items` (its first occurrence), and expanding
/// every pattern `repeat` times, in order, reproduces `items`.
///
/// # Complexity
/// O(n · P) comparisons per emitted run, with P = min([`MAX_PATTERN`], n/2).
///
/// # Examples
/// ```
/// use parallax_ir::model::repeating_runs;
/// let runs = repeating_runs(&['d', 'd', 'd', 'm', 'm']);
/// assert_eq!(runs, vec![(0..1, 3), (3..4, 2)]);
/// let runs = repeating_runs(&['s', 'f', 's', 'f', 's', 'f']);
/// assert_eq!(runs, vec![(0..2, 3)]);
/// ```
pub fn repeating_runs<T: PartialEq>(items: &[T]) -> Vec<(std::ops::Range<usize>, u32)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let rest = items.len() - i;
        let mut best = (1usize, 1usize); // (period, repeats)
        for p in 1..=MAX_PATTERN.min(rest / 2) {
            if p * (rest / p) <= best.0 * best.1 {
                // Cannot cover more than the current best.
                continue;
            }
            let mut reps = 1;
            while (reps + 1) * p <= rest && (0..p).all(|j| items[i + j] == items[i + reps * p + j])
            {
                reps += 1;
            }
            if reps >= 2 && p * reps > best.0 * best.1 {
                best = (p, reps);
            }
        }
        let (p, reps) = best;
        out.push((i..i + p, reps as u32));
        i += p * reps;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_expand_to_input() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![1],
            vec![1, 1, 1],
            vec![1, 2, 1, 2, 1, 2, 3],
            vec![1, 1, 2, 1, 1, 2],
            vec![1, 2, 3, 4, 5],
            vec![0, 0, 0, 1, 1, 1, 1, 1],
        ];
        for c in cases {
            let runs = repeating_runs(&c);
            let mut back = Vec::new();
            for (r, n) in &runs {
                for _ in 0..*n {
                    back.extend_from_slice(&c[r.clone()]);
                }
            }
            assert_eq!(back, c);
        }
        assert_eq!(repeating_runs(&[1, 1, 2, 1, 1, 2]), vec![(0..3, 2)]);
        assert_eq!(repeating_runs(&[1, 2, 3]).len(), 3);
    }
}
