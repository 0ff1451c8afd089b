//! Routing requests to data-parallel replicas.

use crate::error::SimError;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// How a request is assigned to a replica (among those whose KV cache can ever hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterPolicy {
    /// Replicas in turn (skipping ones that cannot hold the request).
    #[default]
    RoundRobin,
    /// Fewest unfinished (waiting + running) requests; ties → lowest index.
    LeastOutstanding,
    /// Join the shortest queue by tokens: fewest outstanding tokens, Σ (prompt + output −
    /// generated) over unfinished requests; ties → lowest index.
    ShortestQueueTokens,
    /// Uniformly at random, from [`crate::SimConfig::seed`].
    Random,
    /// Cache affinity (needs [`crate::SimConfig::prefix_caching`]): the replicas whose engines
    /// hold the longest cached prefix of the request, then the fewest unfinished requests among
    /// them; ties → lowest index. Inside a replica, the engine with the longest cached prefix,
    /// then the fewest unfinished requests. No load cap: a hot prefix stays on its replica.
    PrefixAffinity,
    /// Capacity-weighted least outstanding, for replicas of unequal speed (different GPU
    /// kinds): the replica minimising `(unfinished + 1) × t`, where `t` is its time for a
    /// reference iteration ([`reference_iteration`]: the slowest pipeline stage's step time);
    /// ties → lowest index. On identical replicas it routes as
    /// [`RouterPolicy::LeastOutstanding`].
    CapacityWeighted,
}

/// The iteration whose time weights replicas under [`RouterPolicy::CapacityWeighted`]: one
/// 512-token prefill chunk and 64 decode requests at 1,024 tokens of context (a mixed batch,
/// so both compute- and bandwidth-bound speed count).
pub fn reference_iteration() -> parallax_ir::Batch {
    parallax_ir::Batch {
        prefill: vec![parallax_ir::PrefillChunk {
            new_tokens: 512,
            prefix: 0,
        }],
        decode: parallax_ir::DecodeGroup {
            requests: 64,
            context_sum: 64 * 1024,
            context_max: 1024,
        },
    }
}

impl RouterPolicy {
    /// Canonical name (`round-robin`, `least-outstanding`, `shortest-queue`, `random`).
    pub fn name(self) -> &'static str {
        match self {
            RouterPolicy::RoundRobin => "round-robin",
            RouterPolicy::LeastOutstanding => "least-outstanding",
            RouterPolicy::ShortestQueueTokens => "shortest-queue",
            RouterPolicy::Random => "random",
            RouterPolicy::PrefixAffinity => "prefix-affinity",
            RouterPolicy::CapacityWeighted => "capacity",
        }
    }
}

impl FromStr for RouterPolicy {
    type Err = SimError;

    /// Accepts `round-robin`/`rr`, `least-outstanding`/`lor`, `shortest-queue`/`jsq`, `random`,
    /// `prefix-affinity`/`cache`, `capacity`/`capacity-weighted`.
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s.to_ascii_lowercase().as_str() {
            "round-robin" | "rr" => Ok(RouterPolicy::RoundRobin),
            "least-outstanding" | "lor" => Ok(RouterPolicy::LeastOutstanding),
            "shortest-queue" | "jsq" => Ok(RouterPolicy::ShortestQueueTokens),
            "random" => Ok(RouterPolicy::Random),
            "prefix-affinity" | "cache" => Ok(RouterPolicy::PrefixAffinity),
            "capacity" | "capacity-weighted" => Ok(RouterPolicy::CapacityWeighted),
            _ => Err(SimError::config(
                "router",
                s,
                "one of round-robin (rr), least-outstanding (lor), shortest-queue (jsq), random, prefix-affinity (cache), capacity",
            )),
        }
    }
}

/// Router state.
#[derive(Debug)]
pub(crate) struct Router {
    pub policy: RouterPolicy,
    next: usize,
    rng: Rng,
    /// Reference-iteration seconds per replica ([`RouterPolicy::CapacityWeighted`]).
    times: Vec<f64>,
}

impl Router {
    pub fn new(policy: RouterPolicy, seed: u64) -> Self {
        Router {
            policy,
            next: 0,
            rng: Rng::new(seed),
            times: Vec::new(),
        }
    }

    /// Each replica's reference-iteration time (for [`RouterPolicy::CapacityWeighted`]).
    pub fn set_times(&mut self, times: Vec<f64>) {
        self.times = times;
    }

    /// Pick among `eligible` (replica indices, ascending, non-empty); `load(i)` gives the
    /// policy's load of replica `i`.
    pub fn pick(&mut self, n: usize, eligible: &[usize], load: impl Fn(usize) -> u64) -> usize {
        match self.policy {
            RouterPolicy::RoundRobin => {
                for k in 0..n {
                    let i = (self.next + k) % n;
                    if eligible.contains(&i) {
                        self.next = (i + 1) % n;
                        return i;
                    }
                }
                eligible[0]
            }
            RouterPolicy::Random => eligible[self.rng.below(eligible.len() as u64) as usize],
            RouterPolicy::CapacityWeighted => {
                let t = |i: usize| self.times.get(i).copied().unwrap_or(1.0);
                let mut best = eligible[0];
                let mut best_w = (load(best) as f64 + 1.0) * t(best);
                for &i in &eligible[1..] {
                    let w = (load(i) as f64 + 1.0) * t(i);
                    if w < best_w {
                        best = i;
                        best_w = w;
                    }
                }
                best
            }
            RouterPolicy::LeastOutstanding
            | RouterPolicy::ShortestQueueTokens
            | RouterPolicy::PrefixAffinity => {
                let mut best = eligible[0];
                let mut best_load = load(best);
                for &i in &eligible[1..] {
                    let l = load(i);
                    if l < best_load {
                        best = i;
                        best_load = l;
                    }
                }
                best
            }
        }
    }
}
