//! The [`CostModel`] trait: how long each lowered op takes on one device.

use crate::topology::DeviceGroup;
use parallax_ir::{
    AttentionShape, CollectiveKind, DecodeGroup, Elementwise, FusedMoe, Gemm, PrefillChunk,
};
use std::fmt::Debug;

/// Time of operators on one device of a known GPU, and of collectives over device groups.
///
/// Every method returns **seconds** and must be a pure function of its arguments (no I/O,
/// no interior randomness), so simulations stay deterministic. Implementations must be cheap:
/// the simulator calls them in its inner loop (through caches, but still often).
///
/// Implement this trait to plug a custom cost model into the search
/// (see `examples/custom_cost_model.rs`). To *adjust* an existing model, implement
/// [`crate::wrap::CostOverride`] and wrap it in [`crate::wrap::Overridden`] instead: a
/// hand-written wrapper must forward every method, the defaulted ones included
/// (`host_overlap_exponent`, `graph_kernel_overlap`), or it silently changes results.
/// A method added here needs its delegating counterpart in `CostOverride`.
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

    /// The routed experts of a MoE layer as one fused kernel.
    ///
    /// The default prices its two grouped GEMMs as [`FusedMoe::as_gemms`] (one GEMM per
    /// active expert) plus the activation as an elementwise op, so custom models need not
    /// implement it; the roofline and profiled models price the fused kernel itself.
    fn fused_moe(&self, op: &FusedMoe) -> f64 {
        if op.assignments == 0 || op.active_experts == 0 {
            return 0.0;
        }
        let [gate_up, down] = op.as_gemms();
        let act = Elementwise {
            kind: parallax_ir::ElementwiseKind::Activation,
            bytes: (op.up() + 1.0)
                * op.assignments as f64
                * op.intermediate as f64
                * op.act_dtype.bytes(),
            flops: op.flops() - op.gemm_flops(),
        };
        self.gemm(&gate_up) + self.elementwise(&act) + self.gemm(&down)
    }

    /// A collective of `bytes` (per rank, see [`parallax_ir::Collective::bytes`]) over `group`.
    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64;

    /// Host time to issue one lowered op eagerly (no CUDA graph): the framework's dispatch
    /// and the launches of every kernel it runs for that op (a `parallax_ir::Op`, or one
    /// attention call). An eager iteration cannot finish before the host has issued all its
    /// ops: its host time is this times the op count (see [`Self::host_overlap_exponent`]).
    fn kernel_launch_overhead(&self) -> f64;

    /// Host time of one kernel launch *measured on the user's machine* (a profile's
    /// `overheads.kernel_launch_seconds`, from the profiler's tight loop of tiny eager
    /// kernels), seconds; `None` when the model has no measurement (the default).
    ///
    /// Serving-engine models that run a compiled forward issue about one launch per lowered
    /// op, so they take this as their eager issue time when it is known
    /// (`parallax_plan::EngineModel::launch_from_profile`); [`Self::kernel_launch_overhead`]
    /// stays the per-op cost of an uncompiled eager framework.
    fn measured_kernel_launch(&self) -> Option<f64> {
        None
    }

    /// Fixed device-side time per iteration, paid with or without CUDA graphs (graph launch,
    /// latency of the first kernel, the final synchronisation). Scheduler time of a serving
    /// engine is not part of it (that is a simulator-level setting).
    fn iteration_overhead(&self) -> f64;

    /// Exponent `p` of the blend `(G^p + H^p)^(1/p)` of device time `G` and host issue time
    /// `H` of an eager iteration: `∞` is the pure maximum (the slower side hides the other
    /// entirely); a finite `p` adds the partial waits near balance, when a layer's long GEMMs
    /// let the host run ahead and its many short kernels let the GPU catch up and idle.
    ///
    /// The default is the fitted [`crate::roofline::DEFAULT_HOST_OVERLAP`], so custom models
    /// (e.g. wrappers of the roofline) need not implement it.
    fn host_overlap_exponent(&self) -> f64 {
        crate::roofline::DEFAULT_HOST_OVERLAP
    }

    /// Device time, seconds, that each pair of consecutive kernels of a CUDA-graph replay
    /// hides by overlapping: the op tables time every kernel in isolation (launch, prologue
    /// and tail exposed), while a replay starts the next kernel's launch and prologue under
    /// the previous one's tail. A replay of `ops` ops with summed device time `G` takes
    /// [`graph_wall_time`]`(G, ops, overlap)`. Eager iterations are not affected.
    ///
    /// The default is 0 (no overlap), so custom models keep their summed times; the roofline
    /// and profiled models return the fitted [`crate::roofline::DEFAULT_GRAPH_OVERLAP`].
    fn graph_kernel_overlap(&self) -> f64 {
        0.0
    }
}

/// Smallest fraction of the summed device time a CUDA-graph replay can take
/// ([`graph_wall_time`]).
///
/// Why one half: the overlap of a replay comes from consecutive kernels running
/// concurrently (the next one's launch and prologue under the previous one's tail, as with
/// programmatic dependent launch); a kernel only waits on its predecessor, so at most two
/// kernels of the chain are resident at any instant, and `k` busy kernels sharing the
/// timeline two at a time take at least half their summed time.
pub const GRAPH_OVERLAP_FLOOR: f64 = 0.5;

/// Wall time of a CUDA-graph replay of `ops` ops whose kernels sum to `device` seconds when
/// timed in isolation, with `overlap` seconds hidden per pair of consecutive kernels
/// ([`CostModel::graph_kernel_overlap`]):
/// `max(device − (ops − 1)·overlap, GRAPH_OVERLAP_FLOOR · device)`.
///
/// A non-positive or non-finite `overlap`, or fewer than two ops, gives `device`.
///
/// # Examples
/// ```
/// use parallax_hw::cost::graph_wall_time;
/// assert!((graph_wall_time(10e-3, 1001.0, 2e-6) - 8e-3).abs() < 1e-12);
/// assert_eq!(graph_wall_time(1e-3, 1001.0, 2e-6), 0.5e-3); // the floor
/// assert_eq!(graph_wall_time(1e-3, 1001.0, 0.0), 1e-3);
/// ```
pub fn graph_wall_time(device: f64, ops: f64, overlap: f64) -> f64 {
    if !overlap.is_finite() || overlap <= 0.0 || ops < 2.0 || device <= 0.0 {
        return device;
    }
    (device - (ops - 1.0) * overlap).max(GRAPH_OVERLAP_FLOOR * device)
}

/// Wall time of an eager iteration with device time `device` and host issue time `host`:
/// `(device^p + host^p)^(1/p)` for the exponent `p` of
/// [`CostModel::host_overlap_exponent`] (`p = ∞`, or not above 0, gives the maximum).
///
/// # Examples
/// ```
/// use parallax_hw::cost::eager_wall_time;
/// assert_eq!(eager_wall_time(3.0, 4.0, 2.0), 5.0);
/// assert_eq!(eager_wall_time(3.0, 4.0, f64::INFINITY), 4.0);
/// ```
pub fn eager_wall_time(device: f64, host: f64, p: f64) -> f64 {
    let hi = device.max(host);
    if hi <= 0.0 {
        return 0.0;
    }
    if !p.is_finite() || p <= 0.0 {
        return hi;
    }
    let lo = device.min(host);
    hi * (1.0 + (lo / hi).powf(p)).powf(1.0 / p)
}
