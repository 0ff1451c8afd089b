//! # parallax
//!
//! The facade of Parallax: the search API, cost-model selection, validation against
//! measurements, and re-exports of the focused crates.
//!
//! ```
//! let model = parallax::ir::resolve("llama-3.1-8b")?;
//! let cluster = parallax::hw::Cluster::parse("1x8xH100")?;
//! let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Roofline)?;
//! assert!(cost.name().starts_with("roofline"));
//! # let _ = model;
//! # Ok::<(), parallax::Error>(())
//! ```

#![warn(missing_docs)]

pub mod cost;
pub mod error;
pub mod search;
pub mod simulate;
pub mod validate;

pub use cost::{cost_model, has_embedded_profile, CostModelChoice};
pub use error::{Error, Result};
pub use search::{
    Limits, Objective, Progress, SchedulerSpace, Search, SearchConstraints, SearchReport,
    StopReason,
};
pub use simulate::{largest_request_tokens, load_workload, simulate_disaggregated, simulate_plan};
pub use validate::{validate_file, ValidationReport};

pub use parallax_hw as hw;
pub use parallax_ir as ir;
pub use parallax_place as place;
pub use parallax_plan as plan;
pub use parallax_sim as sim;
