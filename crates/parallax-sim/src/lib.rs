//! # parallax-sim
//!
//! A discrete-event simulator of iteration-level (continuous) batching as vLLM-class servers do
//! it: workloads, schedulers, a paged KV cache with preemption, pipeline stages, data-parallel
//! replicas behind a router, and metrics.
//!
//! The simulator knows nothing of hardware: it sees each pipeline stage through the
//! [`StageCost`] trait, which `parallax-plan` implements by lowering a plan.
//!
//! ```text
//! Workload ──▶ Router ──▶ replica ─ engines (pp virtual engines: queues + KV share)
//!                                    └─▶ stage 0 ─▶ stage 1 ─▶ … (StageCost per stage)
//! ```
//!
//! Entry points: [`workload`] (traces, synthetic, embedded defaults), [`Simulator`] with
//! [`SimConfig`] / [`SchedulerConfig`] / [`RouterPolicy`], and the outputs [`SimReport`],
//! [`Metrics`], [`requests_csv`], [`chrome_trace`]. Nothing here does I/O except the clearly
//! named [`workload::load_path`].

#![warn(missing_docs)]

pub mod cost;
pub mod deadline;
pub mod disagg;
pub mod error;
pub mod host;
mod itl;
pub mod metrics;
mod prefix_cache;
pub mod rng;
pub mod router;
pub mod scheduler;
pub mod sim;
pub mod speculation;
pub mod swap;
mod text;
pub mod workload;

pub use cost::{HostLink, PowerModel, ReplicaSpec, StageCost, StepCost};
pub use deadline::Deadline;
pub use disagg::{Disaggregation, KvLink};
pub use error::SimError;
pub use host::HostOverhead;
pub use metrics::{
    chrome_trace, chrome_trace_with, requests_csv, CounterTrack, GpuMetrics, Metrics,
    PrefixCacheMetrics, RejectReason, RequestCounts, RequestRecord, SimReport, SloMetrics, Span,
    Summary, SwapMetrics, Throughput, TokenCounts, TransferMetrics, TransferSpan,
};
pub use router::RouterPolicy;
pub use scheduler::{Scheduler, SchedulerConfig, SchedulerKind};
pub use sim::{
    PreemptionMode, SimConfig, Simulator, Slo, MAX_FRONTEND_LATENCY_S, MAX_FRONTEND_TOKEN_S,
    MAX_STEP_S,
};
pub use speculation::{Speculation, SpeculationSummary, DEEPSEEK_MTP_ACCEPTANCE, MAX_DRAFT_TOKENS};
pub use workload::{Prefix, Request, Workload};
