//! # parallax
//!
//! The facade of Parallax: the search API, cost-model selection, validation against
//! measurements, and re-exports of the focused crates. Everything a search needs is
//! re-exported at the top level, and every type written as text parses with [`str::parse`].
//!
//! A complete search: the best plan for Llama-3.1-8B on two H100s serving the first 64
//! requests of the embedded `chat` trace, with SLOs, then the same plan simulated alone.
//!
//! ```
//! use parallax::{Cluster, Limits, Objective, Search, Simulation, Slo};
//!
//! let model = parallax::ir::resolve("llama-3.1-8b")?;
//! let cluster: Cluster = "1x2xH100".parse()?;
//! let workload = parallax::load_workload("chat", None, Some(64))?;
//! let slo: Slo = "ttft=500ms,tpot=50ms".parse()?;
//!
//! let report = Search::new(model.clone(), cluster.clone(), workload.clone())
//!     .objective("e2e-p99".parse::<Objective>()?)
//!     .slo(slo)
//!     .limits(Limits { max_plans: Some(16), ..Limits::default() })
//!     .run()?;
//! let best = report.best.as_ref().expect("a plan fits");
//! println!("best {} (p99 e2e {:.3} s)", best.plan, best.objective);
//! assert!(best.meets_constraints);
//! for b in &report.baselines {
//!     println!("vs {}: {:.2}x", b.name, b.speedup.unwrap_or(f64::NAN));
//! }
//!
//! // Re-simulate the winner with its scheduler settings: the same numbers.
//! let again = Simulation::new(&model, &cluster, &best.plan, &workload)
//!     .scheduler(best.scheduler)
//!     .slo(slo)
//!     .run()?;
//! assert_eq!(again.metrics.e2e_s.p99, best.metrics.e2e_s.p99);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Custom cost models implement [`hw::CostModel`]; to adjust an existing one, implement
//! [`hw::CostOverride`] and wrap it in [`hw::Overridden`], which forwards everything else.

#![warn(missing_docs)]

pub mod cost;
pub mod cost_file;
pub mod emit;
pub mod engine;
pub mod error;
pub mod hetero;
pub mod loadpoints;
pub mod moe_ranks;
pub mod search;
pub mod simulate;
pub mod simulation;
pub mod validate;

pub use cost::{cost_model, has_embedded_profile, CostModelChoice};
pub use engine::{engine_model, engine_named};
pub use error::{Error, Result};
pub use parallax_plan::{EngineKind, EngineModel};
pub use search::{
    Baseline, Direction, Limits, Objective, ParetoFront, Progress, RankedPlan, SchedulerSpace,
    Search, SearchConstraints, SearchReport, StopReason,
};
pub use simulate::{
    check_context, largest_request_tokens, load_workload, simulate_disaggregated, simulate_plan,
};
pub use simulation::{MemorySummary, Simulation};

// What a search or a simulation needs, without naming the focused crates.
pub use parallax_hw::{Cluster, CostModel, CostOverride, Gpu, Overridden, PassThrough};
pub use parallax_ir::Model;
pub use parallax_plan::{Allowed, LowerOptions, MemoryOptions, Plan};
pub use parallax_sim::{
    Metrics, RouterPolicy, SchedulerConfig, SchedulerKind, SimConfig, SimReport, Slo, Workload,
};
pub use validate::{validate_file, validate_file_with, ValidationReport};

pub use parallax_hw as hw;
pub use parallax_ir as ir;
pub use parallax_place as place;
pub use parallax_plan as plan;
pub use parallax_sim as sim;
