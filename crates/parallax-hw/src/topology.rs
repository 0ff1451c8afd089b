//! Clusters of N nodes × G GPUs and the links between them.

use crate::gpu::Gpu;
use serde::{Deserialize, Serialize};

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

/// A homogeneous cluster: `nodes` × `gpus_per_node` GPUs of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Number of nodes.
    pub nodes: u32,
    /// GPUs in each node.
    pub gpus_per_node: u32,
    /// The GPU.
    pub gpu: Gpu,
    /// Links between GPUs of one node.
    pub intra_node: Link,
    /// Network between nodes.
    pub inter_node: Link,
}

impl Cluster {
    /// Total number of GPUs.
    pub fn total_gpus(&self) -> u32 {
        self.nodes * self.gpus_per_node
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
