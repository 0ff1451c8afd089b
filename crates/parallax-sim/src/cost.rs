//! What the simulator needs to know about a deployment: the time of one iteration of one
//! pipeline stage, and the replica's KV capacity. `parallax-plan` lowers a plan to these;
//! tests use constant-cost implementations.

use parallax_ir::{Batch, OpKind};
use std::fmt::Debug;
use std::sync::Arc;

/// Time and work of one iteration of one pipeline stage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepCost {
    /// Wall time in seconds (including this stage's outgoing activation transfer).
    pub seconds: f64,
    /// Seconds by [`OpKind`], in [`OpKind::ALL`] order; sums to `seconds`.
    pub breakdown: [f64; 5],
    /// Floating-point operations per device of the stage.
    pub flops: f64,
    /// Bytes moved to and from device memory per device of the stage.
    pub bytes: f64,
}

impl StepCost {
    /// A cost of `seconds`, all counted as `kind`, with no work.
    pub fn constant(seconds: f64, kind: OpKind) -> Self {
        let mut breakdown = [0.0; 5];
        breakdown[kind as usize] = seconds;
        StepCost {
            seconds,
            breakdown,
            flops: 0.0,
            bytes: 0.0,
        }
    }
}

/// The cost of one iteration of one pipeline stage of a replica.
///
/// Must be a pure function of the batch and cheap: implementations are expected to cache the
/// part that depends only on [`Batch::tokens`].
pub trait StageCost: Send + Sync + Debug {
    /// Cost of running `batch` through this stage once.
    fn step(&self, batch: &Batch) -> StepCost;

    /// The stage's link to host memory, for KV swapping ([`crate::PreemptionMode::Swap`]).
    /// `None` (the default) when unknown; swapping then is a configuration error.
    fn host_link(&self) -> Option<HostLink> {
        None
    }
}

/// How fast a stage moves KV cache to and from host memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostLink {
    /// KV bytes one token occupies on this stage (all its GPUs together).
    pub kv_bytes_per_token: f64,
    /// Host-link bandwidth of the stage (all its GPUs together, one direction), bytes/s.
    pub bandwidth: f64,
}

/// Power draw of one GPU as a function of utilisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerModel {
    /// Watts when idle.
    pub idle_watts: f64,
    /// Watts at full utilisation (TDP).
    pub busy_watts: f64,
}

/// Everything the simulator needs about one data-parallel replica.
#[derive(Debug, Clone)]
pub struct ReplicaSpec {
    /// Pipeline stages in order; `stages.len()` is the pipeline depth.
    pub stages: Vec<Arc<dyn StageCost>>,
    /// KV-cache capacity of the replica in blocks (the minimum over its stages).
    pub kv_blocks: u64,
    /// Tokens per KV block.
    pub block_size: u32,
    /// GPUs in the replica (for energy, MFU and MBU).
    pub gpus: u32,
    /// Per-GPU power model.
    pub power: PowerModel,
    /// Per-GPU dense peak FLOP/s at the activation type (for MFU).
    pub peak_flops: f64,
    /// Per-GPU memory bandwidth in bytes/s (for MBU).
    pub peak_bandwidth: f64,
}
