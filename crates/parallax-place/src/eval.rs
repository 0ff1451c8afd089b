//! Placements and their independent evaluation from scratch.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Instance, NodeId};

/// Kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// An accelerator (the paper's FPGA).
    Accelerator,
    /// A CPU.
    Cpu,
}

/// Where each node goes: `slot[u]` is a device slot, accelerators `0..k`, CPUs `k..k+l`.
pub type Assignment = Vec<usize>;

/// One device of an evaluated placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceLoad {
    /// The kind of device.
    pub kind: DeviceKind,
    /// Index among devices of this kind.
    pub index: usize,
    /// Its load (time per sample).
    pub load: f64,
    /// Memory used (accelerators; CPUs report the sum of sizes too).
    pub memory: f64,
    /// Ids of the nodes placed there, ascending.
    pub nodes: Vec<NodeId>,
}

/// An evaluated placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Every device that holds at least one node, accelerators first.
    pub devices: Vec<DeviceLoad>,
    /// The maximum load over devices.
    pub max_load: f64,
    /// Whether the placement is contiguous (see [`is_contiguous`]).
    pub contiguous: bool,
}

/// A constraint a placement breaks.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A slot outside `0..k+l`.
    BadSlot(NodeId),
    /// An accelerator-unsupported node on an accelerator.
    Unsupported(NodeId),
    /// An accelerator over its memory.
    Memory {
        /// The accelerator.
        accelerator: usize,
        /// Memory used.
        used: f64,
    },
    /// Two nodes of one colocation class on different devices.
    SplitClass(NodeId, NodeId),
}

/// Load of each device slot (`0..k` accelerators, then CPUs), computed from scratch:
/// accelerator load = Σ p_acc + Σ_{u ∈ X(S)} c(u), CPU load = Σ p_cpu.
///
/// # Complexity
/// O((n + m) log m).
pub fn slot_loads(inst: &Instance, slot: &[usize]) -> Vec<f64> {
    let k = inst.devices.accelerators;
    let nd = k + inst.devices.cpus;
    let mut load = vec![0.0f64; nd];
    let mut transfer = vec![0.0f64; k];
    for u in 0..inst.len() {
        let d = slot[u];
        if d < k {
            load[d] += inst.p_acc[u];
        } else if d < nd {
            load[d] += inst.p_cpu[u];
        }
    }
    let mut crossing: BTreeSet<(usize, usize)> = BTreeSet::new();
    for u in 0..inst.len() {
        for &v in &inst.succ[u] {
            if slot[u] != slot[v] {
                crossing.insert((slot[u], u));
                crossing.insert((slot[v], u));
            }
        }
    }
    for (d, u) in crossing {
        if d < k {
            transfer[d] += inst.out_cost[u];
        }
    }
    for d in 0..k {
        load[d] = inst.acc_load(load[d], transfer[d]);
    }
    load
}

/// The max-forward + max-backward objective's parts: the largest forward load of a device
/// and the largest backward load. A device's forward (backward) load is Σ p of its forward
/// (backward) nodes (p_acc on accelerators, p_cpu on CPUs) plus, on accelerators, c(u) for
/// every forward (backward) node u it sends or receives across devices (as in
/// [`slot_loads`], split by u's direction; the authors' MILP attributes transfers the same
/// way). Overlap is not modelled.
///
/// # Complexity
/// O(n + m log m).
pub fn split_maxima(inst: &Instance, slot: &[usize]) -> (f64, f64) {
    let k = inst.devices.accelerators;
    let nd = k + inst.devices.cpus;
    let mut fwd = vec![0.0f64; nd];
    let mut bwd = vec![0.0f64; nd];
    for u in 0..inst.len() {
        let d = slot[u];
        if d >= nd {
            continue;
        }
        let p = if d < k { inst.p_acc[u] } else { inst.p_cpu[u] };
        if inst.backward[u] {
            bwd[d] += p;
        } else {
            fwd[d] += p;
        }
    }
    let mut crossing: BTreeSet<(usize, usize)> = BTreeSet::new();
    for u in 0..inst.len() {
        for &v in &inst.succ[u] {
            if slot[u] != slot[v] {
                crossing.insert((slot[u], u));
                crossing.insert((slot[v], u));
            }
        }
    }
    for (d, u) in crossing {
        if d < k {
            if inst.backward[u] {
                bwd[d] += inst.out_cost[u];
            } else {
                fwd[d] += inst.out_cost[u];
            }
        }
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    (max(&fwd), max(&bwd))
}

/// Checks memory, support, slots and colocation.
pub fn violations(inst: &Instance, slot: &[usize]) -> Vec<Violation> {
    let k = inst.devices.accelerators;
    let nd = k + inst.devices.cpus;
    let mut out = Vec::new();
    let mut mem = vec![0.0f64; k];
    for u in 0..inst.len() {
        let d = slot[u];
        if d >= nd {
            out.push(Violation::BadSlot(inst.ids[u]));
            continue;
        }
        if d < k {
            mem[d] += inst.size[u];
            if !inst.supported[u] {
                out.push(Violation::Unsupported(inst.ids[u]));
            }
        }
    }
    for (a, &used) in mem.iter().enumerate() {
        if used > inst.devices.accelerator_memory {
            out.push(Violation::Memory {
                accelerator: a,
                used,
            });
        }
    }
    let mut first: BTreeMap<usize, usize> = BTreeMap::new();
    for u in 0..inst.len() {
        let f = *first.entry(inst.class[u]).or_insert(u);
        if slot[f] != slot[u] {
            out.push(Violation::SplitClass(inst.ids[f], inst.ids[u]));
        }
    }
    out
}

/// Whether the placement is contiguous with contiguity relaxed on CPUs: CPU nodes count as
/// devices of their own — one per strongly connected component of the class order graph
/// (the forward edges between colocation classes, and the mirrored backward edges of
/// backward-only classes, as in [`is_contiguous`]) — and the accelerators' sets together
/// with those must form an acyclic quotient. Each accelerator's set is then convex even
/// through CPU nodes; CPU sets may be anything. Every contiguous placement passes.
///
/// # Complexity
/// O(n + m log m).
pub fn is_contiguous_on_accelerators(inst: &Instance, slot: &[usize]) -> bool {
    let k = inst.devices.accelerators;
    let nd = k + inst.devices.cpus;
    let comp = class_components(inst, &class_order_edges(inst));
    let own: Vec<usize> = (0..inst.len())
        .map(|u| {
            if slot[u] >= k && slot[u] < nd {
                nd + comp[inst.class[u]]
            } else {
                slot[u]
            }
        })
        .collect();
    is_contiguous(inst, &own)
}

/// The class order edges (a, b) of [`is_contiguous`]: forward edges between classes, and
/// backward edges between classes reversed where one end has no forward node.
pub(crate) fn class_order_edges(inst: &Instance) -> BTreeSet<(usize, usize)> {
    let nc = inst.classes;
    let mut has_fwd = vec![false; nc];
    for u in 0..inst.len() {
        has_fwd[inst.class[u]] |= !inst.backward[u];
    }
    let mut out = BTreeSet::new();
    for u in 0..inst.len() {
        for &v in &inst.succ[u] {
            let (a, b) = (inst.class[u], inst.class[v]);
            if a == b {
                continue;
            }
            if !inst.backward[u] && !inst.backward[v] {
                out.insert((a, b));
            } else if inst.backward[u] && inst.backward[v] && (!has_fwd[a] || !has_fwd[b]) {
                out.insert((b, a));
            }
        }
    }
    out
}

/// Strongly connected component (its smallest class) of every class under `edges`.
pub(crate) fn class_components(inst: &Instance, edges: &BTreeSet<(usize, usize)>) -> Vec<usize> {
    let mut succ = vec![Vec::new(); inst.classes];
    for &(a, b) in edges {
        succ[a].push(b);
    }
    crate::contract::tarjan_scc(&succ)
}

/// Whether the placement is *contiguous*: the devices can be ordered so that every forward
/// edge (of the graph with colocation classes contracted) stays on a device or goes to a
/// later one — equivalently, the quotient graph of the device sets is acyclic, which makes
/// every device's set convex (no forward path leaves it and comes back). These are exactly
/// the splits into a chain of ideals that the DP enumerates.
///
/// # Complexity
/// O(n + m log m).
pub fn is_contiguous(inst: &Instance, slot: &[usize]) -> bool {
    let nc = inst.classes;
    let mut has_fwd = vec![false; nc];
    for u in 0..inst.len() {
        if !inst.backward[u] {
            has_fwd[inst.class[u]] = true;
        }
    }
    let mut class_slot = vec![usize::MAX; nc];
    for u in 0..inst.len() {
        class_slot[inst.class[u]] = slot[u];
    }
    // quotient edges between device slots
    let mut qedges: BTreeSet<(usize, usize)> = BTreeSet::new();
    for u in 0..inst.len() {
        for &v in &inst.succ[u] {
            let (a, b) = (inst.class[u], inst.class[v]);
            let edge = if !inst.backward[u] && !inst.backward[v] {
                Some((a, b))
            } else if inst.backward[u] && inst.backward[v] && (!has_fwd[a] || !has_fwd[b]) {
                Some((b, a))
            } else {
                None
            };
            if let Some((a, b)) = edge {
                let (da, db) = (class_slot[a], class_slot[b]);
                if da != db {
                    qedges.insert((da, db));
                }
            }
        }
    }
    // Kahn on the quotient
    let slots: BTreeSet<usize> = class_slot.iter().copied().collect();
    let mut indeg: BTreeMap<usize, usize> = slots.iter().map(|&d| (d, 0)).collect();
    for &(_, b) in &qedges {
        *indeg.entry(b).or_insert(0) += 1;
    }
    let mut ready: Vec<usize> = indeg
        .iter()
        .filter(|(_, &c)| c == 0)
        .map(|(&d, _)| d)
        .collect();
    let mut seen = 0;
    while let Some(d) = ready.pop() {
        seen += 1;
        for &(a, b) in qedges.range((d, 0)..=(d, usize::MAX)) {
            debug_assert_eq!(a, d);
            if let Some(c) = indeg.get_mut(&b) {
                *c -= 1;
                if *c == 0 {
                    ready.push(b);
                }
            }
        }
    }
    seen == indeg.len()
}

/// Device slots (accelerators `0..k`, then CPUs) of an evaluated placement of `inst`, by node
/// index; nodes the placement does not list stay on slot 0.
pub fn placement_slots(inst: &Instance, p: &Placement) -> Assignment {
    let index = inst.index_by_id();
    let k = inst.devices.accelerators;
    let mut slot = vec![0; inst.len()];
    for d in &p.devices {
        let s = match d.kind {
            DeviceKind::Accelerator => d.index,
            DeviceKind::Cpu => k + d.index,
        };
        for id in &d.nodes {
            if let Some(&u) = index.get(id) {
                slot[u] = s;
            }
        }
    }
    slot
}

/// Evaluates an assignment from scratch into a [`Placement`].
pub fn evaluate(inst: &Instance, slot: &[usize]) -> Placement {
    let k = inst.devices.accelerators;
    let loads = slot_loads(inst, slot);
    let mut nodes: Vec<Vec<NodeId>> = vec![Vec::new(); loads.len()];
    let mut mem = vec![0.0f64; loads.len()];
    for u in 0..inst.len() {
        if slot[u] < loads.len() {
            nodes[slot[u]].push(inst.ids[u]);
            mem[slot[u]] += inst.size[u];
        }
    }
    let mut devices = Vec::new();
    for (d, ns) in nodes.into_iter().enumerate() {
        if ns.is_empty() {
            continue;
        }
        let mut ns = ns;
        ns.sort_unstable();
        let (kind, index) = if d < k {
            (DeviceKind::Accelerator, d)
        } else {
            (DeviceKind::Cpu, d - k)
        };
        devices.push(DeviceLoad {
            kind,
            index,
            load: loads[d],
            memory: mem[d],
            nodes: ns,
        });
    }
    let max_load = devices.iter().map(|d| d.load).fold(0.0, f64::max);
    Placement {
        devices,
        max_load,
        contiguous: is_contiguous(inst, slot),
    }
}
