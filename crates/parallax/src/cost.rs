//! Choosing a cost model for a cluster (the facade's name for
//! [`parallax_hw::profile::cost_model_for`]).

use crate::error::{Error, Result};
pub use parallax_hw::profile::CostModelChoice;
use parallax_hw::{profile, Cluster, CostModel};
use std::sync::Arc;

/// Whether an embedded measured profile exists for `cluster`'s GPU.
pub fn has_embedded_profile(cluster: &Cluster) -> bool {
    profile::has_embedded_profile(&cluster.gpu)
}

/// The cost model for `cluster` under `choice`: the embedded measured profile for H100-SXM and
/// H200 (with `Auto` or `Profiled`), else the roofline calibrated to the H100 profile.
///
/// # Errors
/// [`Error::Option`] when `Profiled` is asked for a GPU without an embedded profile.
pub fn cost_model(cluster: &Cluster, choice: CostModelChoice) -> Result<Arc<dyn CostModel>> {
    profile::cost_model_for(cluster, choice).map_err(|e| Error::Option {
        option: "cost-model".into(),
        value: format!("{choice} (GPU {})", cluster.gpu.name),
        expected: match e {
            profile::ProfileError::NoProfile { available, .. } => format!(
                "a GPU with a measured profile ({}), or `roofline` / `auto` (the roofline \
                 where no profile ships) for {}",
                available.join(", "),
                cluster.gpu.name
            ),
            other => other.to_string(),
        },
    })
}
