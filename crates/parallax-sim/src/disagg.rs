//! Prefill/decode disaggregation (DistServe, Splitwise, vLLM/Dynamo xPyD): the first
//! `prefill_replicas` replicas form a prefill pool, the rest a decode pool, each with its own
//! queues, KV memory and router.
//!
//! A request is routed among prefill replicas and prefills there; its prefill iteration
//! produces the first token (TTFT ends there). If it wants more tokens its KV (`prompt` tokens)
//! then moves to a decode replica over [`KvLink`]: it arrives `latency_s + prompt ×
//! kv_bytes_per_token / bandwidth` after the prefill ends (the transfer starts when the prefill
//! ends; layer-wise streaming that overlaps it with the prefill is not modelled), is routed
//! among decode replicas with the same policy, waits there until the KV cache has room above
//! the watermark and `max_num_seqs` allows, and decodes the remaining tokens. A request that
//! wants one token completes on its prefill replica. Preemption on the decode side recomputes
//! (prompt + generated) there.

use serde::{Deserialize, Serialize};

/// The link KV moves over from the prefill pool to the decode pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KvLink {
    /// KV bytes per token of the model (all layers, as sent).
    pub kv_bytes_per_token: f64,
    /// Bandwidth of one transfer, bytes/s.
    pub bandwidth: f64,
    /// Fixed latency of one transfer, seconds.
    pub latency_s: f64,
}

/// A disaggregated deployment (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Disaggregation {
    /// The first this many replicas prefill; the others decode (both pools non-empty).
    pub prefill_replicas: usize,
    /// The prefill → decode link.
    pub kv_link: KvLink,
}

impl KvLink {
    /// Seconds to move `tokens` tokens of KV.
    pub fn seconds(&self, tokens: u64) -> f64 {
        self.latency_s + tokens as f64 * self.kv_bytes_per_token / self.bandwidth
    }
}
