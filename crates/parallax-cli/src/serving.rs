//! `search`'s prefix-caching and KV-offload flags (`--prefix-caching`, `--cpu-prefix-cache`,
//! `--preemption`, `--swap-space`, `--host-link-gbps`): the same meaning, defaults and ranges
//! as `simulate`'s, applied to every candidate ([`parallax::search::ServingFeatures`]).

use crate::common;
use crate::output::CliError;
use clap::Args;
use parallax::search::ServingFeatures;
use parallax::sim::PreemptionMode;

/// Serving-feature flags of `search`.
#[derive(Debug, Args)]
pub struct ServingArgs {
    /// Automatic prefix caching in every candidate (vLLM's `--enable-prefix-caching`, also
    /// accepted).
    #[arg(long, alias = "enable-prefix-caching")]
    prefix_caching: bool,
    /// Preemption when KV runs out: recompute, or swap (KV to host memory over PCIe)
    /// (`--preemption-mode` also works).
    #[arg(long, alias = "preemption-mode", default_value = "recompute")]
    preemption: String,
    /// Host swap space per GPU for --preemption swap, GiB (vLLM's swap_space).
    #[arg(long, default_value_t = 4.0)]
    swap_space: f64,
    /// Host-memory tier of the prefix cache per GPU, GiB (needs --prefix-caching).
    #[arg(long, default_value_t = 0.0)]
    cpu_prefix_cache: f64,
    /// GPU-to-host link bandwidth per GPU, GB/s per direction (prices KV swaps and loads).
    #[arg(long, default_value_t = 50.0)]
    host_link_gbps: f64,
}

impl ServingArgs {
    /// The features the flags ask for.
    ///
    /// # Errors
    /// A value out of its documented range (docs/cli.md, Limits), an unknown preemption mode,
    /// or `--cpu-prefix-cache` without `--prefix-caching`.
    pub fn features(&self) -> Result<ServingFeatures, CliError> {
        for (flag, v, lo, hi) in [
            ("--swap-space", self.swap_space, 0.0, 1e6),
            ("--cpu-prefix-cache", self.cpu_prefix_cache, 0.0, 1e6),
            ("--host-link-gbps", self.host_link_gbps, 1e-3, 1e6),
        ] {
            common::float_in(flag, v, lo, hi)?;
        }
        if self.cpu_prefix_cache > 0.0 && !self.prefix_caching {
            return Err(CliError::input(format!(
                "--cpu-prefix-cache {} needs --prefix-caching (the host tier holds evicted prefix \
                 blocks)",
                common::num(self.cpu_prefix_cache)
            )));
        }
        let gib = (1u64 << 30) as f64;
        Ok(ServingFeatures {
            prefix_caching: self.prefix_caching,
            cpu_prefix_cache_bytes_per_gpu: self.cpu_prefix_cache * gib,
            preemption: self
                .preemption
                .parse::<PreemptionMode>()
                .map_err(CliError::input)?,
            swap_space_bytes_per_gpu: self.swap_space * gib,
            host_link_bandwidth: self.host_link_gbps * 1e9,
        })
    }
}
