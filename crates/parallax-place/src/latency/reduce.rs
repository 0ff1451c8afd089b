//! The exact reductions before the search: zero-cost sources fixed on a CPU and satellites
//! (zero-time single-input sinks) with their knapsack.

use super::heuristics::node_topo;
use super::LatencyPlan;
use crate::model::Instance;
use std::collections::BTreeMap;

/// Zero-time sinks hanging off one node (`host`): with q = 1 and CPUs allowed they either
/// join the host's subgraph (costing memory, saving c(host) when the host's other successors
/// are in the subgraph too) or run on a CPU at no time.
#[derive(Clone, Copy, Debug)]
pub(super) struct Host {
    pub(super) weight: f64,
    pub(super) value: f64,
    /// Some satellite cannot run on an accelerator: they never join.
    pub(super) forced: bool,
}

/// Best set of hosts whose satellites join a subgraph: maximises the saved transfer cost
/// with total weight at most `cap` (exact 0/1 knapsack by branch and bound; few items).
/// Returns (saved, chosen flags in the order of `items`).
pub(super) fn satellite_knapsack(items: &[(f64, f64)], cap: f64) -> (f64, Vec<bool>) {
    let total_w: f64 = items.iter().map(|x| x.0).sum();
    if total_w <= cap {
        return (items.iter().map(|x| x.1).sum(), vec![true; items.len()]);
    }
    // order by value density, ties by index (deterministic)
    let mut ord: Vec<usize> = (0..items.len()).collect();
    ord.sort_by(|&a, &b| {
        let da = items[a].1 / items[a].0.max(1e-300);
        let db = items[b].1 / items[b].0.max(1e-300);
        db.partial_cmp(&da)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    struct Bb<'a> {
        items: &'a [(f64, f64)],
        ord: &'a [usize],
        take: Vec<bool>,
        best: f64,
        best_take: Vec<bool>,
    }
    pub(super) fn go(s: &mut Bb, i: usize, room: f64, value: f64) {
        if value > s.best {
            s.best = value;
            s.best_take.clone_from(&s.take);
        }
        if i == s.ord.len() {
            return;
        }
        // fractional bound
        let (mut r, mut bound) = (room, value);
        for &x in &s.ord[i..] {
            let (w, v) = s.items[x];
            if w <= r {
                r -= w;
                bound += v;
            } else {
                bound += v * (r / w);
                break;
            }
        }
        if bound <= s.best {
            return;
        }
        let x = s.ord[i];
        let (w, v) = s.items[x];
        if w <= room {
            s.take[x] = true;
            go(s, i + 1, room - w, value + v);
            s.take[x] = false;
        }
        go(s, i + 1, room, value);
    }
    let mut s = Bb {
        items,
        ord: &ord,
        take: vec![false; items.len()],
        best: 0.0,
        best_take: vec![false; items.len()],
    };
    go(&mut s, 0, cap, 0.0);
    (s.best, s.best_take)
}

/// The exact reductions of [`solve_latency`]: nodes fixed on a CPU at time 0 and satellites.
pub(super) struct Reduction<'a> {
    pub(super) inst: &'a Instance,
    /// The instance the search runs on.
    pub(super) core: Instance,
    /// Original index of each core node.
    pub(super) core_of: Vec<usize>,
    /// Satellites (original indices) of each core node.
    pub(super) sats_of: Vec<Vec<usize>>,
    /// Satellite summary of each core node.
    pub(super) host: Vec<Option<Host>>,
}

impl<'a> Reduction<'a> {
    pub(super) fn new(inst: &'a Instance, q: usize) -> Reduction<'a> {
        let n = inst.len();
        let members = inst.class_members();
        let alone = |u: usize| members[inst.class[u]].len() == 1;
        let mut drop = vec![false; n];
        let mut host_of: Vec<Option<usize>> = vec![None; n];
        if inst.devices.cpus > 0 {
            // fixed on a CPU at time 0: no CPU time, no output cost, inputs all fixed
            for &u in &node_topo(inst) {
                drop[u] = alone(u)
                    && inst.p_cpu[u] == 0.0
                    && (inst.succ[u].is_empty() || inst.out_cost[u] == 0.0)
                    && inst.pred[u].iter().all(|&w| drop[w]);
            }
            if q == 1 {
                for s in 0..n {
                    if drop[s]
                        || !alone(s)
                        || !inst.succ[s].is_empty()
                        || inst.pred[s].len() != 1
                        || inst.p_acc[s] != 0.0
                        || inst.p_cpu[s] != 0.0
                    {
                        continue;
                    }
                    let u = inst.pred[s][0];
                    if !drop[u] {
                        host_of[s] = Some(u);
                    }
                }
            }
        }
        let keep: Vec<bool> = (0..n).map(|u| !drop[u] && host_of[u].is_none()).collect();
        let (core, core_of) = induced(inst, &keep);
        let mut index = vec![usize::MAX; n];
        for (c, &u) in core_of.iter().enumerate() {
            index[u] = c;
        }
        let mut sats_of = vec![Vec::new(); core.len()];
        let mut host: Vec<Option<Host>> = vec![None; core.len()];
        for s in 0..n {
            if let Some(u) = host_of[s] {
                let c = index[u];
                sats_of[c].push(s);
                let h = host[c].get_or_insert(Host {
                    weight: 0.0,
                    value: inst.out_cost[u],
                    forced: false,
                });
                h.weight += inst.size[s];
                h.forced |= !inst.supported[s];
            }
        }
        Reduction {
            inst,
            core,
            core_of,
            sats_of,
            host,
        }
    }

    /// A plan of the whole instance from a plan of the core: fixed nodes on a CPU, each
    /// subgraph's satellites by the same knapsack the search used.
    pub(super) fn lift(&self, plan: &LatencyPlan) -> LatencyPlan {
        let inst = self.inst;
        let core = &self.core;
        let mut out: LatencyPlan = vec![None; inst.len()];
        let mut blocks: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (c, p) in plan.iter().enumerate() {
            out[self.core_of[c]] = *p;
            if let Some(b) = p {
                blocks.entry(*b).or_default().push(c);
            }
        }
        for (b, nodes) in blocks {
            let size: f64 = nodes.iter().map(|&c| core.size[c]).sum();
            let hosts: Vec<(usize, bool)> = nodes
                .iter()
                .filter(|&&c| self.host[c].is_some())
                .map(|&c| (c, core.succ[c].iter().all(|&v| plan[v] == Some(b))))
                .collect();
            if hosts.is_empty() {
                continue;
            }
            let take = satellite_choice(&self.host, &hosts, inst.devices.accelerator_memory - size);
            for (&(c, _), t) in hosts.iter().zip(take) {
                if t {
                    for &s in &self.sats_of[c] {
                        out[s] = Some(b);
                    }
                }
            }
        }
        out
    }
}

/// The satellite decision of a subgraph (see `Search::satellite_extra`): which hosts take
/// their satellites. Returns (extra transfer time, flags).
pub(super) fn satellite_decision(
    host: &[Option<Host>],
    hosts: &[(usize, bool)],
    room: f64,
) -> (f64, Vec<bool>) {
    let mut extra = 0.0;
    let mut items: Vec<(f64, f64)> = Vec::new();
    let mut idx: Vec<usize> = Vec::new();
    for (t, &(u, internal)) in hosts.iter().enumerate() {
        let Some(h) = host[u] else { continue };
        if !internal {
            continue;
        }
        extra += h.value;
        if !h.forced {
            items.push((h.weight, h.value));
            idx.push(t);
        }
    }
    let mut take = vec![false; hosts.len()];
    if items.is_empty() {
        return (extra, take);
    }
    let (saved, chosen) = satellite_knapsack(&items, room.max(0.0));
    for (c, &t) in chosen.iter().zip(&idx) {
        take[t] = *c;
    }
    (extra - saved, take)
}

pub(super) fn satellite_choice(
    host: &[Option<Host>],
    hosts: &[(usize, bool)],
    room: f64,
) -> Vec<bool> {
    satellite_decision(host, hosts, room).1
}

/// The sub-instance on the kept nodes (edges between kept nodes only), and the original
/// index of each of its nodes.
pub(super) fn induced(inst: &Instance, keep: &[bool]) -> (Instance, Vec<usize>) {
    let of: Vec<usize> = (0..inst.len()).filter(|&u| keep[u]).collect();
    (induced_on(inst, &of), of)
}

/// The sub-instance on the distinct nodes `of`, node `i` standing for `of[i]`: the edges
/// among them, their classes renumbered in order of first appearance.
pub(super) fn induced_on(inst: &Instance, of: &[usize]) -> Instance {
    let mut index = vec![usize::MAX; inst.len()];
    for (c, &u) in of.iter().enumerate() {
        index[u] = c;
    }
    let mut class_map: BTreeMap<usize, usize> = BTreeMap::new();
    let mut class = Vec::with_capacity(of.len());
    for &u in of {
        let next = class_map.len();
        class.push(*class_map.entry(inst.class[u]).or_insert(next));
    }
    let pick = |v: &Vec<f64>| of.iter().map(|&u| v[u]).collect::<Vec<f64>>();
    let adj = |lists: &Vec<Vec<usize>>| {
        of.iter()
            .map(|&u| {
                lists[u]
                    .iter()
                    .filter(|&&w| index[w] != usize::MAX)
                    .map(|&w| index[w])
                    .collect::<Vec<usize>>()
            })
            .collect::<Vec<_>>()
    };
    Instance {
        ids: of.iter().map(|&u| inst.ids[u]).collect(),
        p_acc: pick(&inst.p_acc),
        p_cpu: pick(&inst.p_cpu),
        size: pick(&inst.size),
        supported: of.iter().map(|&u| inst.supported[u]).collect(),
        backward: of.iter().map(|&u| inst.backward[u]).collect(),
        classes: class_map.len(),
        class,
        out_cost: pick(&inst.out_cost),
        succ: adj(&inst.succ),
        pred: adj(&inst.pred),
        devices: inst.devices,
        overlap: inst.overlap,
    }
}
