//! Clusters of N nodes × G GPUs and the links between them.

use crate::catalog;
use crate::error::HwError;
use crate::gpu::Gpu;
use parallax_ir::error::compact;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Default inter-node bandwidth per GPU per direction: one 400 Gb/s InfiniBand NDR NIC per GPU.
pub const DEFAULT_INTER_NODE_BANDWIDTH: f64 = 50e9;

/// Kind of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// NVLink through NVSwitch (all-to-all within the node).
    NvSwitch,
    /// Point-to-point NVLink (bridges).
    NvLink,
    /// PCIe through the host.
    Pcie,
    /// AMD Infinity Fabric.
    InfinityFabric,
    /// InfiniBand between nodes.
    InfiniBand,
    /// RDMA over converged Ethernet.
    Roce,
    /// Plain Ethernet.
    Ethernet,
}

impl LinkKind {
    /// Every kind.
    pub const ALL: [LinkKind; 7] = [
        LinkKind::NvSwitch,
        LinkKind::NvLink,
        LinkKind::Pcie,
        LinkKind::InfinityFabric,
        LinkKind::InfiniBand,
        LinkKind::Roce,
        LinkKind::Ethernet,
    ];

    /// Lowercase name, as written in TOML files.
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::NvSwitch => "nvswitch",
            LinkKind::NvLink => "nvlink",
            LinkKind::Pcie => "pcie",
            LinkKind::InfinityFabric => "infinityfabric",
            LinkKind::InfiniBand => "infiniband",
            LinkKind::Roce => "roce",
            LinkKind::Ethernet => "ethernet",
        }
    }

    /// Parse a lowercase name (as [`LinkKind::name`] writes it; ASCII case ignored).
    pub fn from_name(name: &str) -> Option<LinkKind> {
        LinkKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Assumed latency of one step of a collective over this kind of link, in seconds.
    ///
    /// These are effective per-step latencies of NCCL/RCCL-class libraries (the hardware hop
    /// plus the protocol's synchronisation), not raw wire latencies: NVLink/NVSwitch 2 µs,
    /// Infinity Fabric 3 µs, PCIe 5 µs, InfiniBand 6 µs, RoCE 8 µs, plain Ethernet (TCP) 30 µs.
    pub fn default_latency(self) -> f64 {
        match self {
            LinkKind::NvSwitch | LinkKind::NvLink => 2e-6,
            LinkKind::InfinityFabric => 3e-6,
            LinkKind::Pcie => 5e-6,
            LinkKind::InfiniBand => 6e-6,
            LinkKind::Roce => 8e-6,
            LinkKind::Ethernet => 30e-6,
        }
    }
}

/// Most GPUs a cluster may have in total (65,536). Larger counts are refused at parse time,
/// before anything is sized from them.
pub const MAX_CLUSTER_GPUS: u32 = 1 << 16;
/// Smallest link bandwidth accepted, bytes/s per GPU per direction (1 MB/s).
pub const MIN_LINK_BANDWIDTH: f64 = 1e6;
/// Largest link bandwidth accepted, bytes/s per GPU per direction (1 PB/s).
pub const MAX_LINK_BANDWIDTH: f64 = 1e15;
/// Largest link latency accepted, seconds (1 s).
pub const MAX_LINK_LATENCY: f64 = 1.0;

/// A link class: bandwidth per GPU per direction and per-message latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Kind.
    pub kind: LinkKind,
    /// Bandwidth per GPU per direction in bytes/s.
    pub bandwidth: f64,
    /// Latency per message (per step of a collective) in seconds.
    pub latency: f64,
}

/// A cluster: `nodes` × `gpus_per_node` GPUs of one kind (the *first node group*), and for a
/// heterogeneous cluster further node groups of other kinds ([`Cluster::more_groups`]).
///
/// Ranks are numbered group by group (the first group's ranks first), node by node inside a
/// group. One network ([`Cluster::inter_node`]) joins every pair of nodes, of one group or of
/// two groups; each group has its own intra-node link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Number of nodes (of the first node group).
    pub nodes: u32,
    /// GPUs in each node (of the first node group).
    pub gpus_per_node: u32,
    /// The GPU (of the first node group).
    pub gpu: Gpu,
    /// Links between GPUs of one node (of the first node group).
    pub intra_node: Link,
    /// Network between nodes (of every group, and between groups).
    pub inter_node: Link,
    /// Further node groups of other GPU kinds (empty for a homogeneous cluster). Each kind
    /// appears in at most one group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_groups: Vec<NodeGroup>,
}

/// One node group of a cluster: `nodes` × `gpus_per_node` GPUs of one kind and its intra-node
/// link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGroup {
    /// Number of nodes.
    pub nodes: u32,
    /// GPUs in each node.
    pub gpus_per_node: u32,
    /// The GPU.
    pub gpu: Gpu,
    /// Links between GPUs of one node.
    pub intra_node: Link,
}

impl NodeGroup {
    /// GPUs in the group.
    pub fn gpus(&self) -> u32 {
        self.nodes * self.gpus_per_node
    }

    /// `NxGxGPU`.
    pub fn spec(&self) -> String {
        format!("{}x{}x{}", self.nodes, self.gpus_per_node, self.gpu.name)
    }
}

impl Link {
    /// The default intra-node link of `gpu`: its scale-up fabric at its datasheet bandwidth
    /// ([`Gpu::scale_up_bandwidth`]) and the kind's [`LinkKind::default_latency`].
    pub fn default_intra_node(gpu: &Gpu) -> Link {
        Link {
            kind: gpu.scale_up_kind,
            bandwidth: gpu.scale_up_bandwidth,
            latency: gpu.scale_up_kind.default_latency(),
        }
    }

    /// The default inter-node network: InfiniBand, 400 Gb/s (50 GB/s) per GPU per direction,
    /// 6 µs per step.
    pub fn default_inter_node() -> Link {
        Link {
            kind: LinkKind::InfiniBand,
            bandwidth: DEFAULT_INTER_NODE_BANDWIDTH,
            latency: LinkKind::InfiniBand.default_latency(),
        }
    }

    /// Check that the bandwidth is positive and finite and the latency non-negative and finite.
    ///
    /// # Errors
    /// [`HwError::InvalidValue`] naming `what` (e.g. `intra_node bandwidth`).
    pub fn validate(&self, what: &str) -> Result<(), HwError> {
        if !(MIN_LINK_BANDWIDTH..=MAX_LINK_BANDWIDTH).contains(&self.bandwidth) {
            return Err(HwError::InvalidValue {
                what: format!("{what} bandwidth"),
                value: compact(self.bandwidth),
                expected: format!(
                    "a bandwidth in [{MIN_LINK_BANDWIDTH:e}, {MAX_LINK_BANDWIDTH:e}] bytes/s \
                     (1 MB/s to 1 PB/s)"
                ),
            });
        }
        if !(0.0..=MAX_LINK_LATENCY).contains(&self.latency) {
            return Err(HwError::InvalidValue {
                what: format!("{what} latency"),
                value: compact(self.latency),
                expected: format!("a latency in [0, {MAX_LINK_LATENCY}] s"),
            });
        }
        Ok(())
    }
}

impl Cluster {
    /// `gpus` GPUs of kind `gpu` as one parallel group is deployed on them: one node when
    /// they fit its scale-up domain ([`Gpu::scale_up_domain`]: 8 on HGX boards), else the
    /// fewest equal nodes that each fit it (16 H100s: 2 × 8; 12: 2 × 6), default links. What
    /// `predict --tp` and measured iterations run on: a TP 16 group of H100s crosses the
    /// network, not a 16-GPU NVSwitch that does not exist.
    ///
    /// # Errors
    /// As [`Cluster::new`].
    ///
    /// # Examples
    /// ```
    /// use parallax_hw::{catalog, Cluster};
    /// let h100 = catalog::gpu("H100")?;
    /// assert_eq!(Cluster::for_group(h100.clone(), 4)?.spec(), "1x4xH100-SXM");
    /// assert_eq!(Cluster::for_group(h100.clone(), 16)?.spec(), "2x8xH100-SXM");
    /// assert_eq!(Cluster::for_group(h100, 12)?.spec(), "2x6xH100-SXM");
    /// assert_eq!(Cluster::for_group(catalog::gpu("GB200")?, 16)?.spec(), "1x16xGB200");
    /// # Ok::<(), parallax_hw::HwError>(())
    /// ```
    pub fn for_group(gpu: Gpu, gpus: u32) -> Result<Cluster, HwError> {
        let domain = gpu.scale_up_domain();
        let nodes = (gpus.max(1).div_ceil(domain)..=gpus.max(1))
            .find(|k| gpus % k == 0)
            .unwrap_or(1);
        Cluster::new(nodes, gpus / nodes.max(1), gpu)
    }

    /// `nodes` × `gpus_per_node` GPUs of kind `gpu` with the default links
    /// ([`Link::default_intra_node`], [`Link::default_inter_node`]).
    ///
    /// # Errors
    /// [`HwError::InvalidValue`] when a count is zero or the total overflows `u32`.
    pub fn new(nodes: u32, gpus_per_node: u32, gpu: Gpu) -> Result<Cluster, HwError> {
        let intra_node = Link::default_intra_node(&gpu);
        let c = Cluster {
            nodes,
            gpus_per_node,
            gpu,
            intra_node,
            inter_node: Link::default_inter_node(),
            more_groups: Vec::new(),
        };
        c.validate()?;
        Ok(c)
    }

    /// A heterogeneous cluster of `groups` (at least one; the first becomes the cluster's
    /// first node group) joined by the network `inter_node`.
    ///
    /// # Errors
    /// [`HwError::InvalidValue`] for an empty list, zero counts, a GPU total above
    /// [`MAX_CLUSTER_GPUS`], a bad link, or a GPU kind in two groups.
    pub fn from_groups(groups: Vec<NodeGroup>, inter_node: Link) -> Result<Cluster, HwError> {
        let mut it = groups.into_iter();
        let Some(first) = it.next() else {
            return Err(HwError::InvalidValue {
                what: "node groups".into(),
                value: "(none)".into(),
                expected: "at least one node group".into(),
            });
        };
        let c = Cluster {
            nodes: first.nodes,
            gpus_per_node: first.gpus_per_node,
            gpu: first.gpu,
            intra_node: first.intra_node,
            inter_node,
            more_groups: it.collect(),
        };
        c.validate()?;
        Ok(c)
    }

    /// True when the cluster has more than one node group (GPU kind).
    pub fn is_heterogeneous(&self) -> bool {
        !self.more_groups.is_empty()
    }

    /// Every node group, the first one first.
    pub fn node_groups(&self) -> Vec<NodeGroup> {
        let mut v = Vec::with_capacity(1 + self.more_groups.len());
        v.push(NodeGroup {
            nodes: self.nodes,
            gpus_per_node: self.gpus_per_node,
            gpu: self.gpu.clone(),
            intra_node: self.intra_node,
        });
        v.extend(self.more_groups.iter().cloned());
        v
    }

    /// Node group `index` as a homogeneous cluster with this cluster's network, or `None`
    /// past the last group.
    pub fn group_cluster(&self, index: usize) -> Option<Cluster> {
        let g = self.node_groups().into_iter().nth(index)?;
        Some(Cluster {
            nodes: g.nodes,
            gpus_per_node: g.gpus_per_node,
            gpu: g.gpu,
            intra_node: g.intra_node,
            inter_node: self.inter_node,
            more_groups: Vec::new(),
        })
    }

    /// Index of the node group whose GPU is `name` (canonical name or catalog alias, ASCII
    /// case ignored), or `None`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        let canon = catalog::gpu(name).ok().map(|g| g.name);
        self.node_groups().iter().position(|g| {
            g.gpu.name.eq_ignore_ascii_case(name.trim()) || canon.as_deref() == Some(&g.gpu.name)
        })
    }

    /// Check counts and links.
    ///
    /// # Errors
    /// [`HwError::InvalidValue`] for zero nodes or GPUs per node, a GPU total beyond `u32`,
    /// or a link with a non-positive bandwidth or negative latency.
    pub fn validate(&self) -> Result<(), HwError> {
        let groups = self.node_groups();
        let many = groups.len() > 1;
        let mut total = 0u64;
        for (i, g) in groups.iter().enumerate() {
            // Homogeneous clusters keep their historical field names in errors.
            let at = |f: &str| {
                if many {
                    format!("group {} ({}) {f}", i + 1, g.gpu.name)
                } else {
                    f.to_string()
                }
            };
            for (what, v) in [("nodes", g.nodes), ("gpus_per_node", g.gpus_per_node)] {
                if v == 0 {
                    return Err(HwError::InvalidValue {
                        what: at(what),
                        value: "0".into(),
                        expected: "a positive integer".into(),
                    });
                }
            }
            if g.nodes
                .checked_mul(g.gpus_per_node)
                .map_or(true, |n| n > MAX_CLUSTER_GPUS)
            {
                return Err(HwError::InvalidValue {
                    what: at("nodes x gpus_per_node"),
                    value: format!("{} x {}", g.nodes, g.gpus_per_node),
                    expected: format!("a total of at most {MAX_CLUSTER_GPUS} GPUs"),
                });
            }
            total += g.gpus() as u64;
            g.intra_node.validate(&at("intra_node"))?;
            if let Some(j) = groups[..i].iter().position(|h| h.gpu.name == g.gpu.name) {
                return Err(HwError::InvalidValue {
                    what: at("gpu"),
                    value: g.gpu.name.clone(),
                    expected: format!(
                        "a GPU kind not already used by group {} (merge groups of one kind \
                         into one: `NxGxGPU` with more nodes)",
                        j + 1
                    ),
                });
            }
        }
        if total > MAX_CLUSTER_GPUS as u64 {
            return Err(HwError::InvalidValue {
                what: "node groups".into(),
                value: format!("{total} GPUs"),
                expected: format!("a total of at most {MAX_CLUSTER_GPUS} GPUs"),
            });
        }
        self.inter_node.validate("inter_node")
    }

    /// Parse a cluster string: `NxGxGPU` (N nodes of G GPUs, e.g. `2x8xH100`) or `GxGPU`
    /// (one node, e.g. `8xH100`). The GPU is looked up in the [`catalog`] (aliases and ASCII
    /// case are accepted); the links are the defaults of [`Cluster::new`].
    ///
    /// A heterogeneous cluster joins node groups of different GPU kinds with `+`:
    /// `1x8xH100+1x8xA100-80GB` (each group with its GPU's default intra-node link, the
    /// default network between all nodes). A GPU kind may appear in one group only.
    ///
    /// # Errors
    /// [`HwError::MalformedCluster`] naming the part that is wrong, [`HwError::UnknownGpu`]
    /// when the GPU is not catalogued.
    ///
    /// # Examples
    /// ```
    /// use parallax_hw::Cluster;
    /// let c = Cluster::parse("2x8xH100")?;
    /// assert_eq!((c.nodes, c.gpus_per_node, c.gpu.name.as_str()), (2, 8, "H100-SXM"));
    /// assert_eq!(Cluster::parse("8xMI300X")?.total_gpus(), 8);
    /// assert!(Cluster::parse("2x8").is_err());
    /// let mixed = Cluster::parse("1x8xH100+2x4xA100-80GB")?;
    /// assert_eq!(mixed.total_gpus(), 16);
    /// assert_eq!(mixed.spec(), "1x8xH100-SXM+2x4xA100-80GB-SXM");
    /// # Ok::<(), parallax_hw::HwError>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Cluster, HwError> {
        if !spec.contains('+') {
            return Cluster::parse_one(spec, spec);
        }
        let parts: Vec<&str> = spec.split('+').collect();
        let mut groups = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let c = Cluster::parse_one(part, spec).map_err(|e| match e {
                HwError::MalformedCluster {
                    spec,
                    part: p,
                    value,
                    expected,
                } => HwError::MalformedCluster {
                    spec,
                    part: format!("group {} (`{}`) {p}", i + 1, part.trim()),
                    value,
                    expected,
                },
                other => other,
            })?;
            groups.push(NodeGroup {
                nodes: c.nodes,
                gpus_per_node: c.gpus_per_node,
                gpu: c.gpu,
                intra_node: c.intra_node,
            });
        }
        Cluster::from_groups(groups, Link::default_inter_node()).map_err(|e| match e {
            HwError::InvalidValue {
                what,
                value,
                expected,
            } => HwError::MalformedCluster {
                spec: spec.to_string(),
                part: what,
                value,
                expected,
            },
            other => other,
        })
    }

    /// One `NxGxGPU` group of `full` (the whole spec, for error messages).
    fn parse_one(spec: &str, full: &str) -> Result<Cluster, HwError> {
        let malformed = |part: &str, value: &str, expected: &str| HwError::MalformedCluster {
            spec: full.to_string(),
            part: part.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        };
        let s = spec.trim();
        if s.is_empty() {
            return Err(malformed(
                "format",
                "",
                "`NxGxGPU` or `GxGPU`, or node groups joined by `+`",
            ));
        }
        let is_sep = |c: char| c == 'x' || c == 'X' || c == '×';
        let split = |t: &str| -> Option<(String, String)> {
            let i = t.find(is_sep)?;
            let sep_len = t[i..].chars().next().map_or(1, char::len_utf8);
            Some((
                t[..i].trim().to_string(),
                t[i + sep_len..].trim().to_string(),
            ))
        };
        let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        let count = |part: &str, t: &str| -> Result<u32, HwError> {
            if !digits(t) {
                return Err(malformed(part, t, "a positive integer"));
            }
            match t.parse::<u32>() {
                Ok(v) if (1..=MAX_CLUSTER_GPUS).contains(&v) => Ok(v),
                _ => Err(malformed(
                    part,
                    t,
                    &format!("a positive integer (at most {MAX_CLUSTER_GPUS})"),
                )),
            }
        };
        let Some((first, rest)) = split(s) else {
            return Err(malformed(
                "format",
                s,
                "`NxGxGPU` or `GxGPU` (counts and GPU separated by `x`)",
            ));
        };
        let (nodes, gpus_per_node, gpu_name) = match split(&rest) {
            Some((second, tail)) if digits(&second) => (
                count("nodes", &first)?,
                count("gpus per node", &second)?,
                tail,
            ),
            _ => (1, count("gpus per node", &first)?, rest),
        };
        if gpu_name.is_empty() || digits(&gpu_name) {
            return Err(malformed(
                "gpu",
                &gpu_name,
                "a GPU name after the counts (see `parallax gpus`)",
            ));
        }
        let gpu = catalog::gpu(&gpu_name)?;
        Cluster::new(nodes, gpus_per_node, gpu).map_err(|e| match e {
            HwError::InvalidValue {
                what,
                value,
                expected,
            } => malformed(&what, &value, &expected),
            other => other,
        })
    }

    /// Read a cluster TOML file (format: `docs/cluster-toml.md`).
    ///
    /// # Errors
    /// [`HwError::Io`] when the file cannot be read, else as [`Cluster::from_toml_str`].
    pub fn load(path: impl AsRef<Path>) -> Result<Cluster, HwError> {
        let path = path.as_ref();
        let text = parallax_ir::read_text(path).map_err(|e| HwError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Cluster::from_toml_str(&text, &path.display().to_string())
    }

    /// Parse a cluster from TOML text (format: `docs/cluster-toml.md`).
    ///
    /// ```toml
    /// nodes = 2
    /// gpus_per_node = 8
    /// gpu = "H100"
    /// price_per_hour = 2.5          # optional, USD per GPU-hour
    /// [intra_node]                  # optional; defaults by GPU
    /// kind = "nvswitch"
    /// bandwidth_gbytes_per_s = 450  # per GPU per direction
    /// latency_us = 2
    /// [inter_node]                  # optional; default InfiniBand 400 Gb/s per GPU
    /// kind = "infiniband"
    /// bandwidth_gbps = 400          # gigabits/s per GPU per direction
    /// latency_us = 6
    /// ```
    ///
    /// # Arguments
    /// * `text` - the TOML text.
    /// * `source` - where it came from (a file name), used in error messages.
    ///
    /// # Errors
    /// [`HwError::Toml`] for syntax errors, missing or unknown fields; [`HwError::TomlField`]
    /// for bad values (zero counts, unknown link kinds, non-positive bandwidths, a bandwidth
    /// given in both units); [`HwError::UnknownGpu`].
    pub fn from_toml_str(text: &str, source: &str) -> Result<Cluster, HwError> {
        let file: ClusterFile = toml::from_str(text).map_err(|e| HwError::Toml {
            source_name: source.to_string(),
            message: e.to_string(),
        })?;
        let field_err = |field: &str, value: String, expected: &str| HwError::TomlField {
            source_name: source.to_string(),
            field: field.to_string(),
            value,
            expected: expected.to_string(),
        };
        let inter = resolve_link(
            file.inter_node.as_ref(),
            Link::default_inter_node(),
            "inter_node",
            source,
        )?;
        let groups: Vec<NodeGroup> = match &file.group {
            None => {
                let missing = |f: &str| HwError::Toml {
                    source_name: source.to_string(),
                    message: format!(
                        "missing field `{f}` (or give `[[group]]` tables for a heterogeneous \
                         cluster)"
                    ),
                };
                let g = GroupFile {
                    nodes: file.nodes.ok_or_else(|| missing("nodes"))?,
                    gpus_per_node: file.gpus_per_node.ok_or_else(|| missing("gpus_per_node"))?,
                    gpu: file.gpu.clone().ok_or_else(|| missing("gpu"))?,
                    price_per_hour: file.price_per_hour,
                    intra_node: file.intra_node.clone(),
                };
                vec![resolve_group(&g, "", source)?]
            }
            Some(list) => {
                for (f, set) in [
                    ("nodes", file.nodes.is_some()),
                    ("gpus_per_node", file.gpus_per_node.is_some()),
                    ("gpu", file.gpu.is_some()),
                    ("price_per_hour", file.price_per_hour.is_some()),
                    ("intra_node", file.intra_node.is_some()),
                ] {
                    if set {
                        return Err(field_err(
                            f,
                            "(set at the top level)".into(),
                            "no top-level node fields when `[[group]]` tables are given \
                             (put them in each group)",
                        ));
                    }
                }
                if list.is_empty() {
                    return Err(field_err("group", "[]".into(), "at least one `[[group]]`"));
                }
                let groups = list
                    .iter()
                    .enumerate()
                    .map(|(i, g)| resolve_group(g, &format!("group[{i}]."), source))
                    .collect::<Result<Vec<_>, _>>()?;
                // one group per GPU kind, named as the file numbers its groups, with the kind
                // as written (`H100` and `H100-SXM` are one kind)
                for (i, g) in groups.iter().enumerate() {
                    if let Some(j) = groups[..i].iter().position(|h| h.gpu.name == g.gpu.name) {
                        return Err(HwError::TomlField {
                            source_name: source.to_string(),
                            field: format!("group[{i}].gpu"),
                            value: format!("\"{}\"", list[i].gpu),
                            expected: format!(
                                "a GPU kind not already used by group[{j}] (\"{}\", both {}; \
                                 merge groups of one kind into one with more nodes)",
                                list[j].gpu, g.gpu.name
                            ),
                        });
                    }
                }
                groups
            }
        };
        let many = groups.len() > 1;
        let names: Vec<String> = groups.iter().map(|g| g.gpu.name.clone()).collect();
        Cluster::from_groups(groups, inter).map_err(|e| match e {
            HwError::InvalidValue {
                what,
                value,
                expected,
            } => {
                // Validation names a group as `group N (GPU) field`; the file says `group[N-1].field`.
                let field = match what.strip_prefix("group ") {
                    Some(rest) if many => {
                        let (n, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                        let tail = tail.split_once(") ").map_or(tail, |(_, t)| t);
                        match n.parse::<usize>() {
                            Ok(n) if n >= 1 && n <= names.len() => {
                                format!("group[{}].{tail}", n - 1)
                            }
                            _ => what.clone(),
                        }
                    }
                    _ => what,
                };
                HwError::TomlField {
                    source_name: source.to_string(),
                    field,
                    value,
                    expected,
                }
            }
            other => other,
        })
    }

    /// A short description, e.g. `2x8xH100-SXM` (node groups joined by `+`).
    pub fn spec(&self) -> String {
        let mut s = format!("{}x{}x{}", self.nodes, self.gpus_per_node, self.gpu.name);
        for g in &self.more_groups {
            s.push('+');
            s.push_str(&g.spec());
        }
        s
    }

    /// Price of the whole cluster per hour in USD.
    pub fn price_per_hour(&self) -> f64 {
        self.node_groups()
            .iter()
            .map(|g| g.gpus() as f64 * g.gpu.price_per_hour)
            .sum()
    }

    /// Total number of GPUs (of every node group).
    pub fn total_gpus(&self) -> u32 {
        self.nodes * self.gpus_per_node + self.more_groups.iter().map(NodeGroup::gpus).sum::<u32>()
    }

    /// Where a group of `size` consecutive ranks lands when groups are packed into nodes
    /// (a group never straddles a node boundary unless it is larger than a node).
    pub fn group(&self, size: u32) -> DeviceGroup {
        let per_node = size.min(self.gpus_per_node).max(1);
        DeviceGroup {
            size,
            per_node,
            intra: self.intra_node,
            inter: self.inter_node,
        }
    }
}

/// A group of devices placed on the topology, as collectives see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceGroup {
    /// Ranks in the group.
    pub size: u32,
    /// Ranks of the group that share one node (`size` when the group fits in a node).
    pub per_node: u32,
    /// Intra-node link.
    pub intra: Link,
    /// Inter-node link.
    pub inter: Link,
}

impl DeviceGroup {
    /// Nodes the group spans.
    pub fn nodes(&self) -> u32 {
        self.size.div_ceil(self.per_node.max(1))
    }

    /// True when every rank is in one node.
    pub fn is_intra_node(&self) -> bool {
        self.nodes() <= 1
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    nodes: Option<u64>,
    gpus_per_node: Option<u64>,
    gpu: Option<String>,
    price_per_hour: Option<f64>,
    intra_node: Option<LinkFile>,
    inter_node: Option<LinkFile>,
    group: Option<Vec<GroupFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    nodes: u64,
    gpus_per_node: u64,
    gpu: String,
    price_per_hour: Option<f64>,
    intra_node: Option<LinkFile>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct LinkFile {
    kind: Option<String>,
    /// Gigabits per second.
    bandwidth_gbps: Option<f64>,
    /// Gigabytes per second.
    bandwidth_gbytes_per_s: Option<f64>,
    latency_us: Option<f64>,
}

/// One node group of a TOML file; `prefix` (`group[0].` or empty) starts every field name.
fn resolve_group(f: &GroupFile, prefix: &str, source: &str) -> Result<NodeGroup, HwError> {
    let field_err = |field: &str, value: String, expected: &str| HwError::TomlField {
        source_name: source.to_string(),
        field: format!("{prefix}{field}"),
        value,
        expected: expected.to_string(),
    };
    for (field, v) in [("nodes", f.nodes), ("gpus_per_node", f.gpus_per_node)] {
        if v == 0 {
            return Err(field_err(field, "0".into(), "a positive integer"));
        }
    }
    let max = format!("at most {MAX_CLUSTER_GPUS}");
    let nodes = u32::try_from(f.nodes)
        .ok()
        .filter(|n| *n <= MAX_CLUSTER_GPUS)
        .ok_or_else(|| field_err("nodes", f.nodes.to_string(), &max))?;
    let gpus_per_node = u32::try_from(f.gpus_per_node)
        .ok()
        .filter(|n| *n <= MAX_CLUSTER_GPUS)
        .ok_or_else(|| field_err("gpus_per_node", f.gpus_per_node.to_string(), &max))?;
    let mut gpu = catalog::gpu(&f.gpu).map_err(|e| match e {
        HwError::UnknownGpu { name, known } => field_err(
            "gpu",
            format!("\"{name}\""),
            &format!(
                "a GPU from the catalog (`parallax gpus`): {}",
                known.join(", ")
            ),
        ),
        other => other,
    })?;
    if let Some(p) = f.price_per_hour {
        gpu = gpu.with_price(p).map_err(|_| {
            field_err(
                "price_per_hour",
                // as TOML wrote it, compactly (`1e300`, not 301 digits; `nan`, not `NaN`)
                compact(p),
                &format!(
                    "a USD amount per GPU-hour from 0 to {:e}",
                    crate::gpu::MAX_PRICE_PER_HOUR
                ),
            )
        })?;
    }
    let intra = resolve_link(
        f.intra_node.as_ref(),
        Link::default_intra_node(&gpu),
        &format!("{prefix}intra_node"),
        source,
    )?;
    Ok(NodeGroup {
        nodes,
        gpus_per_node,
        gpu,
        intra_node: intra,
    })
}

fn resolve_link(
    file: Option<&LinkFile>,
    default: Link,
    table: &str,
    source: &str,
) -> Result<Link, HwError> {
    let Some(f) = file else {
        return Ok(default);
    };
    let err = |field: &str, value: String, expected: &str| HwError::TomlField {
        source_name: source.to_string(),
        field: format!("{table}.{field}"),
        value,
        expected: expected.to_string(),
    };
    let kind = match &f.kind {
        None => default.kind,
        Some(k) => LinkKind::from_name(k).ok_or_else(|| {
            let names: Vec<&str> = LinkKind::ALL.iter().map(|k| k.name()).collect();
            err("kind", k.clone(), &format!("one of {}", names.join(", ")))
        })?,
    };
    // Range-checked in the unit the user wrote, so the error quotes their number.
    let positive = |field: &str, v: f64, scale: f64| -> Result<f64, HwError> {
        let (lo, hi) = (MIN_LINK_BANDWIDTH / scale, MAX_LINK_BANDWIDTH / scale);
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(err(
                field,
                compact(v),
                &format!(
                    "a number in [{}, {}] (1 MB/s to 1 PB/s)",
                    compact(lo),
                    compact(hi)
                ),
            ))
        }
    };
    let bandwidth = match (f.bandwidth_gbps, f.bandwidth_gbytes_per_s) {
        (Some(a), Some(b)) => {
            return Err(err(
                "bandwidth_gbps",
                format!("{a} (and bandwidth_gbytes_per_s = {b})"),
                "only one of bandwidth_gbps (Gbit/s) and bandwidth_gbytes_per_s (GB/s)",
            ))
        }
        (Some(gbit), None) => positive("bandwidth_gbps", gbit, 1e9 / 8.0)? * 1e9 / 8.0,
        (None, Some(gbyte)) => positive("bandwidth_gbytes_per_s", gbyte, 1e9)? * 1e9,
        (None, None) if kind == default.kind => default.bandwidth,
        (None, None) => {
            return Err(err(
                "bandwidth_gbps",
                "(missing)".into(),
                &format!(
                    "a bandwidth when kind `{}` differs from the default `{}`",
                    kind.name(),
                    default.kind.name()
                ),
            ))
        }
    };
    let latency = match f.latency_us {
        None if kind == default.kind => default.latency,
        None => kind.default_latency(),
        Some(us) if (0.0..=MAX_LINK_LATENCY * 1e6).contains(&us) => us * 1e-6,
        Some(us) => {
            return Err(err(
                "latency_us",
                compact(us),
                &format!(
                    "a number of microseconds in [0, {}]",
                    MAX_LINK_LATENCY * 1e6
                ),
            ))
        }
    };
    Ok(Link {
        kind,
        bandwidth,
        latency,
    })
}
