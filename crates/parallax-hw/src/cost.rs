//! The [`CostModel`] trait: how long each lowered op takes on one device.

use crate::topology::DeviceGroup;
use parallax_ir::{AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use std::fmt::Debug;

/// Time of operators on one device of a known GPU, and of collectives over device groups.
///
/// Every method returns **seconds** and must be a pure function of its arguments (no I/O,
/// no interior randomness), so simulations stay deterministic. Implementations must be cheap:
/// the simulator calls them in its inner loop (through caches, but still often).
///
/// Implement this trait to plug a custom cost model into the search
/// (see `examples/custom_cost_model.rs`).
pub trait CostModel: Send + Sync + Debug {
    /// A short name for reports (`roofline`, `profiled:h100-pytorch`, ...).
    fn name(&self) -> &str;

    /// `g.count` GEMMs of shape (m, n, k).
    fn gemm(&self, g: &Gemm) -> f64;

    /// Causal prefill attention over `chunks`, each attending to its prefix and itself.
    fn prefill_attention(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> f64;

    /// Decode attention: one query token per request over its context.
    fn decode_attention(&self, shape: &AttentionShape, decode: &DecodeGroup) -> f64;

    /// A memory-bound elementwise or norm op.
    fn elementwise(&self, op: &Elementwise) -> f64;

    /// A collective of `bytes` (per rank, see [`parallax_ir::Collective::bytes`]) over `group`.
    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64;

    /// Host-side launch overhead of one kernel when it is launched eagerly (no CUDA graph).
    fn kernel_launch_overhead(&self) -> f64;

    /// Fixed per-iteration framework overhead (scheduling, sampling set-up, input preparation).
    /// Paid once per iteration, with or without CUDA graphs.
    fn iteration_overhead(&self) -> f64;
}
