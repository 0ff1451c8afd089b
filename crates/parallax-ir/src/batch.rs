//! The composition of one serving iteration's batch.
//!
//! An iteration processes some prefill chunks (each `new_tokens` long, after `prefix` tokens
//! already in the KV cache) and some decode requests (one new token each, attending to its
//! context). Decode requests are kept as an aggregate ([`DecodeGroup`]): every quantity the
//! accounting and the cost models need is linear in the per-request context, so the sum (and
//! the maximum, for kernels whose time follows the longest sequence) is exact.

use serde::{Deserialize, Serialize};

/// Most sequences (prefill chunks plus decode requests) one iteration may hold when it is
/// described as text (`--prefill`, `--decode`, profile and measured rows): 2^20 = 1,048,576.
/// Parsers refuse more before allocating anything per sequence.
pub const MAX_BATCH_SEQUENCES: u32 = 1 << 20;
/// Longest sequence length (new tokens, prefix or decode context) a batch description may
/// give: 2^24 = 16,777,216 tokens.
pub const MAX_SEQUENCE_TOKENS: u32 = 1 << 24;

/// One prefill chunk: `new_tokens` new tokens appended after `prefix` cached tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PrefillChunk {
    /// Tokens processed in this iteration.
    pub new_tokens: u32,
    /// Tokens of the same sequence already in the KV cache.
    pub prefix: u32,
}

/// Decode requests of an iteration, one new token each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DecodeGroup {
    /// Number of decode requests.
    pub requests: u32,
    /// Sum over requests of the context length (tokens attended to, including the new one).
    pub context_sum: u64,
    /// Largest context length in the group.
    pub context_max: u32,
}

impl DecodeGroup {
    /// Aggregate a list of per-request context lengths.
    pub fn from_contexts(contexts: &[u32]) -> Self {
        DecodeGroup {
            requests: contexts.len() as u32,
            context_sum: contexts.iter().map(|&c| c as u64).sum(),
            context_max: contexts.iter().copied().max().unwrap_or(0),
        }
    }

    /// `requests` requests, each with `context` tokens of context.
    pub fn uniform(requests: u32, context: u32) -> Self {
        DecodeGroup {
            requests,
            context_sum: requests as u64 * context as u64,
            context_max: if requests == 0 { 0 } else { context },
        }
    }

    /// Mean context length (0 for an empty group).
    pub fn context_mean(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.context_sum as f64 / self.requests as f64
        }
    }
}

/// The work of one iteration: prefill chunks plus decode requests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Batch {
    /// Prefill chunks, each with its own prefix.
    pub prefill: Vec<PrefillChunk>,
    /// Decode requests.
    pub decode: DecodeGroup,
}

impl Batch {
    /// Tokens that pass through the GEMMs this iteration.
    pub fn tokens(&self) -> u64 {
        self.prefill_tokens() + self.decode.requests as u64
    }

    /// New prefill tokens this iteration.
    pub fn prefill_tokens(&self) -> u64 {
        self.prefill.iter().map(|c| c.new_tokens as u64).sum()
    }

    /// Number of sequences in the batch (prefill chunks plus decode requests).
    pub fn sequences(&self) -> u32 {
        self.prefill.len() as u32 + self.decode.requests
    }

    /// True when the batch holds no work.
    pub fn is_empty(&self) -> bool {
        self.tokens() == 0
    }
}
