//! Choosing a cost model for a cluster.

use crate::error::{Error, Result};
use parallax_hw::profile::{embedded_h100, ProfiledCostModel};
use parallax_hw::{Cluster, CostModel, RooflineModel};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Which cost model to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostModelChoice {
    /// The measured profile when one ships for the cluster's GPU (H100 SXM), else the roofline.
    #[default]
    Auto,
    /// The analytical roofline model.
    Roofline,
    /// The measured profile; an error when none ships for the GPU.
    Profiled,
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
        f.write_str(match self {
            CostModelChoice::Auto => "auto",
            CostModelChoice::Roofline => "roofline",
            CostModelChoice::Profiled => "profiled",
        })
    }
}

/// Whether an embedded measured profile exists for `cluster`'s GPU.
pub fn has_embedded_profile(cluster: &Cluster) -> bool {
    cluster.gpu.name.eq_ignore_ascii_case("H100-SXM")
}

/// The cost model for `cluster` under `choice`.
///
/// # Errors
/// [`Error::Option`] when `Profiled` is asked for a GPU without an embedded profile.
pub fn cost_model(cluster: &Cluster, choice: CostModelChoice) -> Result<Arc<dyn CostModel>> {
    let roofline: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
    let profiled = match choice {
        CostModelChoice::Roofline => false,
        CostModelChoice::Auto => has_embedded_profile(cluster),
        CostModelChoice::Profiled => {
            if !has_embedded_profile(cluster) {
                return Err(Error::Option {
                    option: "cost-model".into(),
                    value: format!("profiled (GPU {})", cluster.gpu.name),
                    expected: "roofline or auto: a measured profile ships only for H100-SXM".into(),
                });
            }
            true
        }
    };
    if !profiled {
        return Ok(roofline);
    }
    let model = ProfiledCostModel::new(&embedded_h100(), roofline)?;
    Ok(Arc::new(model))
}
