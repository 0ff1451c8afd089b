//! # parallax-place
//!
//! Exact placement of a DNN operator DAG on accelerators with memory limits and CPUs, after
//! Tarnawski et al., "Efficient Algorithms for Device Placement of DNN Graph Operators"
//! (NeurIPS 2020).
//!
//! * [`solve_contiguous`] — contiguous max-load (time per sample) by DP over ideals.
//! * [`solve_latency`] — single-input latency with up to q contiguous subgraphs per
//!   accelerator, by an exact label-setting search over ideals.
//! * [`solve_milp`] — non-contiguous max-load by an exact combinatorial branch and bound
//!   (the default backend), or contiguity-constrained max-load by MILP.
//! * [`baselines::run_all`] — heuristic baselines; [`ExpertSplit`] — the paper's
//!   human-expert splits, scored on an instance.
//! * [`pipedream`] — PipeDream's own partitioning DP (SOSP 2019, §3.1), a baseline.
//! * [`split_maxima::solve_split_maxima`] — the max-forward + max-backward objective,
//!   seeded so that a budget always ends in a result.
//! * [`scotch`] — a Scotch-like multilevel graph partitioner (the paper's Scotch baseline).
//!
//! Inputs: [`Graph`] (our format, see `FORMAT.md`) or the paper's JSON via
//! [`Graph::from_paper_json`]; validate with [`Instance::new`].

#![warn(missing_docs)]
// Graph code indexes several parallel per-node arrays by node index on purpose.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod band;
pub mod baselines;
mod bnb;
pub mod contract;
mod diagnose;
pub mod error;
pub mod eval;
pub mod experts;
pub mod ideals;
mod incr;
pub mod latency;
pub mod limits;
pub mod milp;
pub mod model;
pub mod pipedream;
pub mod scotch;
pub mod split_maxima;
pub mod throughput;

/// The largest time, size or cost a graph may carry (any unit): sums over a graph of up to ten
/// million such values stay finite, which the DP's and the MILP's arithmetic relies on.
pub const MAX_VALUE: f64 = 1e300;

pub use error::PlaceError;
pub use eval::{evaluate, DeviceKind, DeviceLoad, Placement};
pub use experts::{load_expert, ExpertScore, ExpertSplit};
pub use latency::{solve_latency, LatencySolution};
pub use limits::{Limits, ProofStatus, StopReason};
pub use milp::{
    solve_milp, solve_milp_split_maxima, MilpBackend, MilpOptions, MilpSolution,
    SplitMaximaSolution,
};
pub use model::{load_graph, Devices, Edge, Graph, Instance, Node, NodeId};
pub use throughput::{solve_contiguous, DpStats, ThroughputSolution};
