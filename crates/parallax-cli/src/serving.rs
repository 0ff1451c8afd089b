//! The prefix-caching and KV-offload flags of `simulate` and `search` (`--prefix-caching`,
//! `--cpu-prefix-cache`, `--preemption`, `--swap-space`, `--host-link-gbps`): one meaning,
//! defaults and ranges for both ([`parallax::search::ServingFeatures`]; `search` applies them
//! to every candidate).

use crate::common::{self, Real};
use crate::output::CliError;
use clap::Args;
use parallax::search::ServingFeatures;
use parallax::sim::PreemptionMode;

/// Serving-feature flags of `simulate` and `search`.
#[derive(Debug, Args)]
pub struct ServingArgs {
    /// Automatic prefix caching: reuse cached KV blocks of shared prefixes (system prompts,
    /// earlier turns of a conversation) as vLLM's `--enable-prefix-caching` (also accepted)
    /// does.
    #[arg(long, alias = "enable-prefix-caching")]
    pub prefix_caching: bool,
    /// Preemption when KV runs out: recompute, or swap (KV to host memory over PCIe)
    /// (`--preemption-mode`, vLLM's name, also works).
    #[arg(long, alias = "preemption-mode", default_value = "recompute")]
    preemption: String,
    /// Host swap space per GPU for --preemption swap, GiB (vLLM's swap_space; default 4).
    #[arg(long)]
    swap_space: Option<Real>,
    /// Host-memory tier of the prefix cache per GPU, GiB (needs --prefix-caching): blocks
    /// evicted from the GPU are kept there and loaded back over the host link.
    #[arg(long, default_value = "0")]
    cpu_prefix_cache: Real,
    /// GPU-to-host link bandwidth per GPU, GB/s per direction (prices KV swaps and loads;
    /// default 50).
    #[arg(long)]
    host_link_gbps: Option<Real>,
}

impl ServingArgs {
    /// The features the flags ask for.
    ///
    /// # Errors
    /// A value out of its documented range (docs/cli.md, Limits), an unknown preemption mode,
    /// or `--cpu-prefix-cache` without `--prefix-caching`.
    pub fn features(&self) -> Result<ServingFeatures, CliError> {
        // The library's defaults (vLLM's 4 GiB swap space, a 50 GB/s host link) where not given.
        let defaults = ServingFeatures::default();
        for (flag, v, lo, hi) in [
            ("--swap-space", self.swap_space.as_ref(), 0.0, 1e6),
            ("--cpu-prefix-cache", Some(&self.cpu_prefix_cache), 0.0, 1e6),
            ("--host-link-gbps", self.host_link_gbps.as_ref(), 1e-3, 1e6),
        ] {
            if let Some(v) = v {
                common::float_in(flag, v, lo, hi)?;
            }
        }
        if self.cpu_prefix_cache.value > 0.0 && !self.prefix_caching {
            return Err(CliError::input(format!(
                "--cpu-prefix-cache {} needs --prefix-caching (the host tier holds evicted prefix \
                 blocks)",
                self.cpu_prefix_cache
            )));
        }
        let gib = (1u64 << 30) as f64;
        Ok(ServingFeatures {
            prefix_caching: self.prefix_caching,
            cpu_prefix_cache_bytes_per_gpu: self.cpu_prefix_cache.value * gib,
            preemption: self
                .preemption
                .parse::<PreemptionMode>()
                .map_err(CliError::input)?,
            swap_space_bytes_per_gpu: self
                .swap_space
                .as_ref()
                .map_or(defaults.swap_space_bytes_per_gpu, |g| g.value * gib),
            host_link_bandwidth: self
                .host_link_gbps
                .as_ref()
                .map_or(defaults.host_link_bandwidth, |b| b.value * 1e9),
        })
    }

    /// Notes for flags given that change nothing under the others: `--preemption swap` when
    /// the scheduler never preempts (`scheduler`: it reserves each request's whole KV at
    /// admission, as TensorRT-LLM's default policy, or batches statically), `--swap-space`
    /// without swap preemption, `--host-link-gbps` when nothing crosses the host link (no swap
    /// preemption, no host tier). vLLM accepts these flags in any mode, so they are not errors.
    pub fn unused_notes(
        &self,
        features: &ServingFeatures,
        scheduler: &parallax::sim::SchedulerConfig,
    ) -> Vec<String> {
        let never_preempts = scheduler.reserve_to_completion
            || scheduler.kind == parallax::sim::SchedulerKind::Static;
        let mut swap = features.preemption == PreemptionMode::Swap;
        let mut notes = Vec::new();
        if swap && never_preempts {
            notes.push(
                "--preemption swap has no effect: the scheduler reserves each request's whole \
                 KV cache at admission (TensorRT-LLM's GUARANTEED_NO_EVICT, or static \
                 batching) and never preempts"
                    .to_string(),
            );
            swap = false;
        }
        if let Some(v) = self.swap_space.as_ref().filter(|_| !swap) {
            notes.push(if never_preempts {
                format!("--swap-space {v} has no effect: nothing is preempted")
            } else {
                format!(
                    "--swap-space {v} has no effect without --preemption swap (recompute \
                     preemption keeps no KV in host memory)"
                )
            });
        }
        if let Some(v) = self
            .host_link_gbps
            .as_ref()
            .filter(|_| !swap && features.cpu_prefix_cache_bytes_per_gpu == 0.0)
        {
            notes.push(format!(
                "--host-link-gbps {v} has no effect: nothing crosses the host link without \
                 --preemption swap or --cpu-prefix-cache"
            ));
        }
        notes
    }
}
