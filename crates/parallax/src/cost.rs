//! Choosing a cost model for a cluster: the facade's name for
//! [`parallax_hw::profile::cost_model_for`], with `FromStr`/`Display` for the CLI's
//! `--cost-model auto|roofline|profiled`.

use crate::error::{Error, Result};
use parallax_hw::{profile, Cluster, CostModel};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Which cost model to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostModelChoice {
    /// The measured profile when one ships for the cluster's GPU (H100 SXM, H200), else the
    /// calibrated roofline.
    #[default]
    Auto,
    /// The analytical roofline model (calibrated to the embedded H100 profile).
    Roofline,
    /// The measured profile; an error when none ships for the GPU.
    Profiled,
}

impl CostModelChoice {
    fn hw(self) -> profile::CostModelChoice {
        match self {
            CostModelChoice::Auto => profile::CostModelChoice::Auto,
            CostModelChoice::Roofline => profile::CostModelChoice::Roofline,
            CostModelChoice::Profiled => profile::CostModelChoice::Profiled,
        }
    }
}

impl FromStr for CostModelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CostModelChoice::Auto),
            "roofline" => Ok(CostModelChoice::Roofline),
            "profiled" | "profile" => Ok(CostModelChoice::Profiled),
            _ => Err(Error::Option {
                option: "cost-model".into(),
                value: s.into(),
                expected: "auto, roofline or profiled".into(),
            }),
        }
    }
}

impl fmt::Display for CostModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hw().name())
    }
}

/// Whether an embedded measured profile exists for `cluster`'s GPU.
pub fn has_embedded_profile(cluster: &Cluster) -> bool {
    profile::has_embedded_profile(&cluster.gpu)
}

/// The cost model for `cluster` under `choice` ([`parallax_hw::profile::cost_model_for`]).
///
/// # Errors
/// [`Error::Option`] when `Profiled` is asked for a GPU without an embedded profile.
pub fn cost_model(cluster: &Cluster, choice: CostModelChoice) -> Result<Arc<dyn CostModel>> {
    profile::cost_model_for(cluster, choice.hw()).map_err(|e| Error::Option {
        option: "cost-model".into(),
        value: format!("{choice} (GPU {})", cluster.gpu.name),
        expected: e.to_string(),
    })
}
