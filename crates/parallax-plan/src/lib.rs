//! # parallax-plan
//!
//! The plan space of LLM serving: data-parallel replicas, pipeline stages with layer ranges,
//! and per-cell tensor/expert parallelism; enumeration with pruning; lowering of a plan to the
//! simulator's [`parallax_sim::ReplicaSpec`].

#![warn(missing_docs)]
