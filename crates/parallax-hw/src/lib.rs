//! # parallax-hw
//!
//! Hardware for Parallax: the GPU catalog, clusters and their interconnect, the
//! [`CostModel`] trait and its roofline implementation.
//!
//! Every time is in seconds, every size in bytes, every rate in units per second.

#![warn(missing_docs)]

pub mod catalog;
pub mod cost;
pub mod error;
pub mod gpu;
pub mod profile;
pub mod roofline;
mod text;
pub mod topology;
pub mod wrap;

pub use cost::CostModel;
pub use error::HwError;
pub use gpu::{Gpu, GpuArchitecture, PeakFlops};
pub use roofline::{
    RooflineModel, RooflineParams, BLACKWELL_GEMM_COMPUTE_EFFICIENCY, GEMM_4BIT_EFFICIENCY,
    GEMM_8BIT_EFFICIENCY,
};
pub use topology::{
    Cluster, DeviceGroup, Link, LinkKind, NodeGroup, MAX_CLUSTER_GPUS, MAX_LINK_BANDWIDTH,
    MAX_LINK_LATENCY, MIN_LINK_BANDWIDTH,
};
pub use wrap::{CostOverride, Overridden, PassThrough};
