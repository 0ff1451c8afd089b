//! [`FromStr`] for the hardware types users write as text, so that
//! `"1x8xH100".parse::<Cluster>()` works like [`Cluster::parse`].

use crate::catalog;
use crate::error::HwError;
use crate::gpu::Gpu;
use crate::topology::{Cluster, LinkKind};
use std::str::FromStr;

/// `NxGxGPU` or `GxGPU`, as [`Cluster::parse`].
///
/// ```
/// use parallax_hw::Cluster;
/// let c: Cluster = "1x8xH100".parse()?;
/// assert_eq!(c.total_gpus(), 8);
/// assert!("8xH999".parse::<Cluster>().is_err());
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
impl FromStr for Cluster {
    type Err = HwError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cluster::parse(s)
    }
}

/// A catalogued GPU by name or alias (ASCII case ignored), as [`catalog::gpu`].
///
/// ```
/// let g: parallax_hw::Gpu = "h100".parse()?;
/// assert_eq!(g.name, "H100-SXM");
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
impl FromStr for Gpu {
    type Err = HwError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        catalog::gpu(s)
    }
}

/// A link kind by its TOML name (`nvswitch`, `nvlink`, `pcie`, `infinityfabric`,
/// `infiniband`, `roce`, `ethernet`; ASCII case ignored).
///
/// ```
/// use parallax_hw::LinkKind;
/// assert_eq!("InfiniBand".parse::<LinkKind>()?, LinkKind::InfiniBand);
/// assert!("carrier-pigeon".parse::<LinkKind>().is_err());
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
impl FromStr for LinkKind {
    type Err = HwError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LinkKind::from_name(s).ok_or_else(|| HwError::InvalidValue {
            what: "link kind".into(),
            value: s.to_string(),
            expected: format!("one of {}", LinkKind::ALL.map(LinkKind::name).join(", ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_equals_from_str() {
        for spec in ["1x8xH100", "2x8xH200", "8xMI300X", "4×A100"] {
            assert_eq!(spec.parse::<Cluster>(), Cluster::parse(spec));
        }
        let e = "2x0xH100".parse::<Cluster>().unwrap_err().to_string();
        assert!(e.contains("2x0xH100"), "{e}");
    }

    #[test]
    fn gpu_and_link_kind() {
        assert_eq!("H200".parse::<Gpu>().unwrap().name, "H200");
        let e = "H999".parse::<Gpu>().unwrap_err().to_string();
        assert!(e.contains("H999") && e.contains("H100-SXM"), "{e}");
        for k in LinkKind::ALL {
            assert_eq!(k.name().parse::<LinkKind>().unwrap(), k);
        }
        let e = "wifi".parse::<LinkKind>().unwrap_err().to_string();
        assert!(e.contains("`wifi`") && e.contains("nvswitch"), "{e}");
    }
}
