//! The serving engine's CPU work per iteration and whether it overlaps the GPU.
//!
//! Between two forward passes a serving engine's host schedules the next batch, prepares its
//! inputs (block tables, positions, sampling metadata), samples and detokenizes. That work
//! grows with the number of requests in the batch. Engines either run it between GPU steps
//! (vLLM V0, vLLM V1 without async scheduling) or overlap it with the previous step's GPU work
//! (SGLang's overlap scheduler, TensorRT-LLM's overlap scheduler, vLLM V1 with
//! `--async-scheduling`).

use crate::error::SimError;
use serde::{Deserialize, Serialize};

/// Host (CPU) time a serving engine spends per iteration, in seconds.
///
/// For an iteration with `n` scheduled requests (decodes plus prefill chunks) the host needs
/// `per_iteration_s + per_request_s × n`. When [`HostOverhead::overlapped`] is false, the
/// iteration's first pipeline stage starts only after that time; when it is true, the host
/// prepares the iteration while the GPU runs, and the iteration ends no earlier than its
/// start plus the host time (the slower side sets the pace).
///
/// The default is zero host time, which leaves the simulation exactly as without it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HostOverhead {
    /// Fixed host time per iteration, seconds.
    pub per_iteration_s: f64,
    /// Host time per scheduled request (decode or prefill chunk) in the iteration, seconds.
    pub per_request_s: f64,
    /// Whether the host work overlaps the GPU's work.
    pub overlapped: bool,
}

impl HostOverhead {
    /// Host seconds for an iteration of `requests` scheduled requests.
    pub fn seconds(&self, requests: u32) -> f64 {
        self.per_iteration_s + self.per_request_s * requests as f64
    }

    /// True when the host adds no time at all.
    pub fn is_zero(&self) -> bool {
        self.per_iteration_s == 0.0 && self.per_request_s == 0.0
    }

    /// Check that both times are finite and non-negative.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, v) in [
            ("host.per_iteration_s", self.per_iteration_s),
            ("host.per_request_s", self.per_request_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimError::config(name, v, "a finite time ≥ 0 seconds"));
            }
        }
        Ok(())
    }
}
