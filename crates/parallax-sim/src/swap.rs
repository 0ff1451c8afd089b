//! Preemption by swapping KV to host memory (vLLM v0's `preemption_mode="swap"`).
//!
//! A running request that must be preempted while decoding moves its KV (`prompt + generated −
//! 1` tokens) to host memory instead of dropping it, if the engine's host swap space has room
//! (otherwise it is preempted by recompute). It waits in a swapped queue (arrival order) and,
//! before each iteration is formed, swapped requests are brought back in order while the KV
//! cache has room for them above the watermark and `max_num_seqs` allows; while any request is
//! swapped out no new request is admitted (as vLLM v0). Copies block the iteration that does
//! them: each stage's time grows by `tokens × kv_bytes_per_token / bandwidth` of its
//! [`crate::HostLink`], out and in alike.

use std::collections::VecDeque;

/// Swap state of one engine.
#[derive(Debug, Clone, Default)]
pub(crate) struct Swap {
    /// Host swap space left, tokens.
    pub host_free_tokens: u64,
    /// Swapped-out slots, by arrival (workload index).
    pub queue: VecDeque<u32>,
    /// Tokens copied in either direction by the iteration being formed.
    pub pending_tokens: u64,
    pub swap_outs: u64,
    pub swap_ins: u64,
    pub tokens_moved: u64,
}
