//! Serving features every candidate of a search runs with: automatic prefix caching (with an
//! optional host-memory tier of evicted prefix blocks) and preemption by swapping KV to host
//! memory, as `parallax simulate` runs them (`--prefix-caching`, `--cpu-prefix-cache`,
//! `--preemption swap`, `--swap-space`, `--host-link-gbps`). Aggregated candidates, baselines
//! and disaggregated pools all use them; the default is every feature off, exactly the search
//! without them.
//!
//! The steady-state stream of `throughput` and `goodput` resamples the workload's lengths and
//! drops its prefix identity, so prefix caching finds nothing to reuse there.

use super::Search;
use crate::error::{Error, Result};
use parallax_plan::LowerOptions;
use parallax_sim::{PreemptionMode, SimConfig};
use serde::Serialize;

/// Prefix caching and KV offload settings of a search (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServingFeatures {
    /// Automatic prefix caching in every engine ([`SimConfig::prefix_caching`]).
    pub prefix_caching: bool,
    /// Host-memory tier of the prefix cache per GPU, bytes (0: off; needs `prefix_caching`).
    pub cpu_prefix_cache_bytes_per_gpu: f64,
    /// Preemption by recompute (default) or by swapping KV to host memory.
    pub preemption: PreemptionMode,
    /// Host swap space per GPU for [`PreemptionMode::Swap`], bytes.
    pub swap_space_bytes_per_gpu: f64,
    /// Host link bandwidth per GPU per direction, bytes/s
    /// ([`LowerOptions::host_link_bandwidth`]): prices swaps and host-tier loads.
    pub host_link_bandwidth: f64,
}

impl Default for ServingFeatures {
    fn default() -> Self {
        let sim = SimConfig::default();
        ServingFeatures {
            prefix_caching: sim.prefix_caching,
            cpu_prefix_cache_bytes_per_gpu: sim.cpu_prefix_cache_bytes_per_gpu,
            preemption: sim.preemption,
            swap_space_bytes_per_gpu: sim.swap_space_bytes_per_gpu,
            host_link_bandwidth: LowerOptions::default().host_link_bandwidth,
        }
    }
}

impl ServingFeatures {
    /// Set these features on a candidate's simulator settings.
    pub(super) fn apply(&self, c: &mut SimConfig) {
        c.prefix_caching = self.prefix_caching;
        c.cpu_prefix_cache_bytes_per_gpu = self.cpu_prefix_cache_bytes_per_gpu;
        c.preemption = self.preemption;
        c.swap_space_bytes_per_gpu = self.swap_space_bytes_per_gpu;
    }

    /// # Errors
    /// [`Error::Option`] naming the field for a negative or non-finite size, a bandwidth that
    /// is not positive, or a host tier without prefix caching.
    pub(super) fn validate(&self) -> Result<()> {
        let bad = |option: &str, value: f64, expected: &str| {
            Err(Error::Option {
                option: option.into(),
                value: value.to_string(),
                expected: expected.into(),
            })
        };
        for (name, v) in [
            (
                "serving.cpu_prefix_cache_bytes_per_gpu",
                self.cpu_prefix_cache_bytes_per_gpu,
            ),
            (
                "serving.swap_space_bytes_per_gpu",
                self.swap_space_bytes_per_gpu,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, v, "a finite size ≥ 0 bytes");
            }
        }
        if !(self.host_link_bandwidth.is_finite() && self.host_link_bandwidth > 0.0) {
            return bad(
                "serving.host_link_bandwidth",
                self.host_link_bandwidth,
                "a finite bandwidth > 0 bytes/s",
            );
        }
        if self.cpu_prefix_cache_bytes_per_gpu > 0.0 && !self.prefix_caching {
            return bad(
                "serving.cpu_prefix_cache_bytes_per_gpu",
                self.cpu_prefix_cache_bytes_per_gpu,
                "0 without prefix_caching (the host tier holds evicted prefix blocks)",
            );
        }
        Ok(())
    }
}

impl Search {
    /// Prefix caching and KV offload for every candidate (default: all off).
    pub fn serving(mut self, features: ServingFeatures) -> Self {
        self.serving = features;
        self
    }
}
