//! Mapping a plan's devices onto the cluster topology.
//!
//! # The rule
//!
//! Devices are numbered `rank = node × gpus_per_node + local`. A plan is a list of *stage
//! slots* of `tp` devices each, taken replica by replica and, inside a replica, stage by stage
//! (`replica 0 stage 0, replica 0 stage 1, …, replica 1 stage 0, …`). Slots are packed into the
//! nodes in that order:
//!
//! - **TP groups stay within a node.** A slot of `tp ≤ gpus_per_node` devices never straddles a
//!   node: when the current node has fewer free devices than `tp`, the slot starts on the next
//!   node (the remainder of the node stays idle). A slot wider than a node must be a whole
//!   number of nodes and starts on a node boundary.
//! - **Stages cross nodes only when they must.** Consecutive stages of a replica take
//!   consecutive slots, so a replica that fits in one node keeps its pipeline traffic on the
//!   fast intra-node links; a replica larger than a node has its stages laid across nodes.
//! - **Replicas fill what is left**, in the same order.
//!
//! Every collective's [`DeviceGroup`] is derived from the actual ranks it joins under this
//! mapping (how many of them share a node), not from its size alone:
//! - a cell's TP group: `tp` consecutive ranks of the slot;
//! - a MoE's EP group: the `ep` ranks of the slot with stride `moe.tp` (whole-MoE replicas
//!   take consecutive blocks of `ep × tp` ranks; the first one stands for all);
//! - the resharding group between layouts with different token splits: ranks with stride
//!   equal to the narrower layout's TP degree;
//! - a pipeline send/recv: rank `i` of stage `s` and rank `i` of stage `s+1`.
//!
//! On a heterogeneous cluster (node groups of different GPU kinds) ranks are numbered group
//! by group, and each stage's slot is packed by the same rule into the node group of its GPU
//! kind ([`Plan::on`], see [`crate::hetero`]); a collective's intra-node link is its group's,
//! traffic between groups crosses the network.

use crate::error::PlanError;
use crate::plan::Plan;
use parallax_hw::{Cluster, DeviceGroup};

/// Where one stage slot of a replica lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSlot {
    /// First global rank of the slot.
    pub first_rank: u32,
    /// Devices in the slot (the stage's width: the plan's `tp`, or its entry of
    /// [`Plan::stage_tp`]).
    pub width: u32,
}

/// The device mapping of a plan on a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// `slots[replica][stage]`.
    pub slots: Vec<Vec<StageSlot>>,
    gpus_per_node: u32,
    intra: parallax_hw::Link,
    inter: parallax_hw::Link,
    /// Node groups of a heterogeneous cluster, in rank order (empty: one group).
    groups: Vec<RankGroup>,
}

/// The ranks of one node group of a heterogeneous cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RankGroup {
    /// First global rank of the group.
    pub first_rank: u32,
    /// Global index of the group's first node.
    pub first_node: u32,
    /// Ranks in the group.
    pub ranks: u32,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// The group's intra-node link.
    pub intra: parallax_hw::Link,
}

impl Mapping {
    /// Map `plan` onto `cluster` by the rule in the module documentation.
    ///
    /// # Complexity
    /// O(dp × pp).
    ///
    /// # Errors
    /// [`PlanError::Inconsistent`] when the plan needs more devices than the cluster has,
    /// when a stage wider than a node is not a whole number of nodes, or when the slots do not
    /// pack into the nodes.
    ///
    /// # Examples
    /// ```
    /// use parallax_plan::{Mapping, Plan};
    /// let cluster = parallax_hw::Cluster::parse("2x8xH100").unwrap();
    /// let m = Mapping::new(&"dp=2,pp=2,tp=4".parse::<Plan>().unwrap(), &cluster).unwrap();
    /// assert_eq!(m.slots[1][0].first_rank, 8); // replica 1 starts on node 1
    /// ```
    pub fn new(plan: &Plan, cluster: &Cluster) -> Result<Mapping, PlanError> {
        plan.check_shape()?;
        if cluster.is_heterogeneous() || plan.on.is_some() || plan.stage_tp.is_some() {
            return crate::hetero::map(plan, cluster);
        }
        let g = cluster.gpus_per_node.max(1);
        let total = cluster.total_gpus();
        let w = plan.tp;
        let needed = plan.dp as u64 * plan.pp as u64 * plan.tp as u64;
        if needed > total as u64 {
            return Err(PlanError::inconsistent(
                plan,
                "dp·pp·tp",
                format!(
                    "the plan needs {needed} devices but cluster {}x{} has {}",
                    cluster.nodes, g, total
                ),
            ));
        }
        if w > g && w % g != 0 {
            return Err(PlanError::inconsistent(
                plan,
                "tp",
                format!(
                    "a stage of tp={w} devices is wider than a node of {g} GPUs but not a \
                     whole number of nodes"
                ),
            ));
        }
        let mut cursor = 0u32;
        let mut slots = Vec::with_capacity(plan.dp as usize);
        for _ in 0..plan.dp {
            let mut stages = Vec::with_capacity(plan.pp as usize);
            for _ in 0..plan.pp {
                let used = cursor % g;
                if w > g {
                    if used != 0 {
                        cursor += g - used;
                    }
                } else if g - used < w {
                    cursor += g - used;
                }
                if cursor + w > total {
                    return Err(PlanError::inconsistent(
                        plan,
                        "dp·pp·tp",
                        format!(
                            "{} stage slots of {w} devices do not pack into {} nodes of {g} GPUs \
                             without splitting a TP group across nodes",
                            plan.dp as u64 * plan.pp as u64,
                            cluster.nodes
                        ),
                    ));
                }
                stages.push(StageSlot {
                    first_rank: cursor,
                    width: w,
                });
                cursor += w;
            }
            slots.push(stages);
        }
        Ok(Mapping {
            slots,
            gpus_per_node: g,
            intra: cluster.intra_node,
            inter: cluster.inter_node,
            groups: Vec::new(),
        })
    }

    /// A mapping from explicit slots over the node groups of a heterogeneous cluster.
    pub(crate) fn from_groups(
        slots: Vec<Vec<StageSlot>>,
        groups: Vec<RankGroup>,
        inter: parallax_hw::Link,
    ) -> Mapping {
        let first = groups.first().copied();
        Mapping {
            slots,
            gpus_per_node: first.map_or(1, |g| g.gpus_per_node),
            intra: first.map_or(inter, |g| g.intra),
            inter,
            groups,
        }
    }

    /// Global node index of `rank`.
    fn node_of(&self, rank: u32) -> u32 {
        match self
            .groups
            .iter()
            .find(|g| rank >= g.first_rank && rank - g.first_rank < g.ranks)
        {
            Some(g) => g.first_node + (rank - g.first_rank) / g.gpus_per_node.max(1),
            None => rank / self.gpus_per_node.max(1),
        }
    }

    /// Intra-node link of the node holding `rank`.
    fn intra_of(&self, rank: u32) -> parallax_hw::Link {
        self.groups
            .iter()
            .find(|g| rank >= g.first_rank && rank - g.first_rank < g.ranks)
            .map_or(self.intra, |g| g.intra)
    }

    /// The group of the given global ranks, as collectives see it (`per_node` = the most
    /// ranks of the group sharing one node).
    pub fn group_of(&self, ranks: impl IntoIterator<Item = u32>) -> DeviceGroup {
        let mut size = 0u32;
        let mut best = 0u32;
        let mut cur_node = u32::MAX;
        let mut cur = 0u32;
        // Ranks come in increasing order from every caller in this crate; count runs per node.
        let mut counts: Vec<(u32, u32)> = Vec::new();
        let mut first_rank = None;
        for r in ranks {
            size += 1;
            first_rank.get_or_insert(r);
            let node = self.node_of(r);
            if node != cur_node {
                if cur_node != u32::MAX {
                    counts.push((cur_node, cur));
                }
                cur_node = node;
                cur = 0;
            }
            cur += 1;
        }
        if cur_node != u32::MAX {
            counts.push((cur_node, cur));
        }
        counts.sort_unstable();
        let mut i = 0;
        while i < counts.len() {
            let node = counts[i].0;
            let mut c = 0;
            while i < counts.len() && counts[i].0 == node {
                c += counts[i].1;
                i += 1;
            }
            best = best.max(c);
        }
        DeviceGroup {
            size,
            per_node: best.max(1),
            intra: first_rank.map_or(self.intra, |r| self.intra_of(r)),
            inter: self.inter,
        }
    }

    /// `size` ranks of the slot starting at its rank 0 with the given stride.
    pub fn strided_group(
        &self,
        replica: usize,
        stage: usize,
        size: u32,
        stride: u32,
    ) -> DeviceGroup {
        let s = self.slots[replica][stage];
        self.group_of((0..size).map(|i| s.first_rank + i * stride.max(1)))
    }

    /// The TP group of `tp` consecutive ranks at the start of a stage slot.
    pub fn tp_group(&self, replica: usize, stage: usize, tp: u32) -> DeviceGroup {
        self.strided_group(replica, stage, tp, 1)
    }

    /// The whole stage slot.
    pub fn stage_group(&self, replica: usize, stage: usize) -> DeviceGroup {
        let w = self.slots[replica][stage].width;
        self.strided_group(replica, stage, w, 1)
    }

    /// The send/recv pair from `stage` to `stage + 1` of a replica (rank 0 of each; every rank
    /// pair of the two slots has the same node relation under the packing rule), or `None` for
    /// the last stage.
    pub fn send_group(&self, replica: usize, stage: usize) -> Option<DeviceGroup> {
        let next = self.slots[replica].get(stage + 1)?;
        let cur = self.slots[replica][stage];
        Some(self.group_of([cur.first_rank, next.first_rank]))
    }

    /// GPUs per node of the cluster mapped onto.
    pub fn gpus_per_node(&self) -> u32 {
        self.gpus_per_node
    }
}
