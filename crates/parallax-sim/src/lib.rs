//! # parallax-sim
//!
//! A discrete-event simulator of iteration-level (continuous) batching as vLLM-class servers do
//! it: workloads, schedulers, a paged KV cache with preemption, pipeline stages, data-parallel
//! replicas behind a router, and metrics.
//!
//! The simulator knows nothing of hardware: it sees each pipeline stage through the
//! [`StageCost`] trait, which `parallax-plan` implements by lowering a plan.

#![warn(missing_docs)]

pub mod cost;

pub use cost::{PowerModel, ReplicaSpec, StageCost, StepCost};
