//! parallax's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below.

mod custom_cost_model;
mod emit;
mod engines;
mod fidelity;
mod hardening;
mod hetero_search;
mod hetero_stage_tp;
mod layout;
mod library;
mod loadpoints_disagg;
mod search_bound;
mod search_determinism;
mod search_disagg;
mod search_eplb;
mod search_exhaustive;
mod search_infeasible;
mod search_objectives;
mod search_pareto;
mod search_serving;
mod search_space;
mod search_throughput;
mod search_time_limit_disagg;
mod sim_pinned;
mod uneven_split;
mod validate_serving;
