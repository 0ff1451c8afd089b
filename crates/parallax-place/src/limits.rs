//! Budgets and proof status (egg-style: running out of budget is a result, not an error).

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::PlaceError;

/// The default wall-clock budget of every placement solver: 300 seconds.
///
/// Every shipped instance is proven optimal well inside it (the slowest, the latency
/// objective on Inception-v3, takes about two minutes on 2 cores). A solver that runs out
/// returns its best placement with a proven lower bound ([`ProofStatus::Stopped`]).
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(300);

/// The largest accepted time limit, in seconds: 1,000,000 s (about 11.6 days).
pub const MAX_TIME_LIMIT_SECS: f64 = 1_000_000.0;

/// The default memory limit of the ideal lattice and the DP table (ideals × (k+1)·(l+1)
/// values) together: 2 GiB.
pub const DEFAULT_MAX_TABLE_BYTES: u64 = 2 << 30;

/// Budgets for the exact solvers.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall-clock budget, checked in every phase (heuristics, ideal enumeration, the DP or
    /// search levels, the MILP, local search). `None` = unlimited. The default is
    /// [`DEFAULT_TIME_LIMIT`]; results only depend on machine speed when it runs out.
    pub time_limit: Option<Duration>,
    /// Stop when the DAG has more ideals than this (memory guard).
    pub max_ideals: usize,
    /// Stop after visiting this many ideal pairs (a deterministic work budget).
    pub max_pairs: Option<u64>,
    /// Label (state) budget of the latency search's exact passes: the first pass gets half,
    /// the bound probes the rest (the heuristic beam pass is bounded by its width). The
    /// default, 200 million (a few hundred MB at most), lets every shipped latency instance
    /// finish with a proof — Inception-v3 needs about 77 million labels, ~1 minute of CPU.
    pub max_labels: Option<u64>,
    /// Largest memory for the ideal lattice and the DP table together (and, apart, for
    /// the chain-DP table), in bytes; sizes are computed with checked arithmetic before
    /// anything is allocated, and the ideals are counted against it as they are
    /// enumerated. Default [`DEFAULT_MAX_TABLE_BYTES`].
    pub max_table_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_limit: Some(DEFAULT_TIME_LIMIT),
            max_ideals: 4_000_000,
            max_pairs: None,
            max_labels: Some(200_000_000),
            max_table_bytes: DEFAULT_MAX_TABLE_BYTES,
        }
    }
}

impl Limits {
    /// Validates a time limit given in seconds: finite, > 0 and at most
    /// [`MAX_TIME_LIMIT_SECS`].
    ///
    /// # Errors
    /// [`PlaceError::Unsupported`] naming the value and the accepted range.
    pub fn time_limit_from_secs(secs: f64) -> Result<Duration, PlaceError> {
        if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIME_LIMIT_SECS) {
            return Err(PlaceError::Unsupported(format!(
                "time limit {secs} s is out of range: expected a number of seconds > 0 and <= {MAX_TIME_LIMIT_SECS}"
            )));
        }
        // in range, so the conversion cannot fail
        Duration::try_from_secs_f64(secs).map_err(|e| PlaceError::Unsupported(e.to_string()))
    }

    /// The deadline of a solve that started at `started` (`None` when unlimited or when
    /// it is not representable).
    pub(crate) fn deadline(&self, started: Instant) -> Deadline {
        Deadline(self.time_limit.and_then(|d| started.checked_add(d)))
    }
}

/// A wall-clock deadline (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(pub(crate) Option<Instant>);

impl Deadline {
    /// No deadline.
    pub(crate) const NONE: Deadline = Deadline(None);

    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
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
    /// The ideal lattice (its bitsets and Hasse diagram) and the DP table together would
    /// exceed [`Limits::max_table_bytes`].
    MemoryLimit,
    /// The MILP solver failed numerically; the best placement known is returned.
    SolverFailure,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::TimeLimit => "time limit reached",
            StopReason::IdealLimit => "too many ideals (max_ideals)",
            StopReason::PairLimit => "pair budget reached (max_pairs)",
            StopReason::LabelLimit => "label budget reached (--max-labels)",
            StopReason::MemoryLimit => {
                "the ideals and DP table would exceed the memory limit (max_table_bytes, 2 GiB by default)"
            }
            StopReason::SolverFailure => "the MILP solver failed",
        })
    }
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

/// Relative gap below which a stopped solve counts as proven optimal (the solvers prune
/// with a relative tolerance of 1e-9 too).
pub const OPTIMALITY_GAP: f64 = 1e-9;

impl ProofStatus {
    /// Whether optimality is proven.
    pub fn is_optimal(&self) -> bool {
        matches!(self, ProofStatus::Optimal)
    }

    /// The status of a solve that stopped with a proven `lower_bound` on the optimum and a
    /// placement of value `value`: [`ProofStatus::Optimal`] when the bound meets the value
    /// (relative gap at most [`OPTIMALITY_GAP`]), `Stopped` otherwise.
    pub fn stopped(reason: StopReason, lower_bound: f64, value: f64) -> ProofStatus {
        let lower_bound = lower_bound.min(value);
        let gap = if value > 0.0 {
            (value - lower_bound) / value
        } else {
            0.0
        };
        if gap <= OPTIMALITY_GAP {
            return ProofStatus::Optimal;
        }
        ProofStatus::Stopped {
            reason,
            lower_bound,
            gap,
        }
    }
}
