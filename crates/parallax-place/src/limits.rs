//! Budgets and proof status (egg-style: running out of budget is a result, not an error).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Budgets for the exact solvers.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall-clock budget, checked between DP levels. `None` = unlimited (the default, which
    /// keeps results independent of machine speed).
    pub time_limit: Option<Duration>,
    /// Stop when the DAG has more ideals than this (memory guard).
    pub max_ideals: usize,
    /// Stop after visiting this many ideal pairs (a deterministic work budget).
    pub max_pairs: Option<u64>,
    /// Label (state) budget of the latency search's exact passes: the first pass gets half,
    /// the bound probes the rest (the heuristic beam pass is bounded by its width). The
    /// default, 200 million (a few hundred MB at most), lets every shipped latency instance
    /// finish with a proof — Inception-v3 needs about 77 million labels, ~2 minutes on 2 cores.
    pub max_labels: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_limit: None,
            max_ideals: 4_000_000,
            max_pairs: None,
            max_labels: Some(200_000_000),
        }
    }
}

/// Why a solver stopped before proving optimality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// [`Limits::time_limit`] elapsed.
    TimeLimit,
    /// More ideals than [`Limits::max_ideals`].
    IdealLimit,
    /// [`Limits::max_pairs`] ideal pairs visited.
    PairLimit,
    /// [`Limits::max_labels`] search states created.
    LabelLimit,
}

/// Whether a returned value is proven optimal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProofStatus {
    /// The value is optimal.
    Optimal,
    /// A budget stopped the solver; the optimum lies in `[lower_bound, value]`.
    Stopped {
        /// What ran out.
        reason: StopReason,
        /// A proven lower bound on the optimum.
        lower_bound: f64,
        /// Relative gap `(value - lower_bound) / value` (0 when value is 0).
        gap: f64,
    },
}

impl ProofStatus {
    /// Whether optimality is proven.
    pub fn is_optimal(&self) -> bool {
        matches!(self, ProofStatus::Optimal)
    }

    pub(crate) fn stopped(reason: StopReason, lower_bound: f64, value: f64) -> ProofStatus {
        let lower_bound = lower_bound.min(value);
        let gap = if value > 0.0 {
            (value - lower_bound) / value
        } else {
            0.0
        };
        ProofStatus::Stopped {
            reason,
            lower_bound,
            gap,
        }
    }
}
