//! Exact single-input latency with up to q contiguous subgraphs per accelerator.
//!
//! Model (the paper's latency variant): every node runs either on a CPU or inside one
//! *subgraph* on an accelerator. A subgraph is a convex set of groups; it starts when all its
//! inputs are ready and when its accelerator has finished its previous subgraph, and runs for
//! Σ p_acc + Σ_{u ∈ X(S)} c(u); all its nodes are done when it finishes. CPU nodes are not
//! contended (as in the paper: CPUs are allowed when `cpus > 0` and each CPU node starts as
//! soon as its inputs are ready). Each accelerator runs at most q subgraphs whose sizes add up
//! to at most M. A colocation class stays inside one subgraph. The latency is the finish time
//! of the last node.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::contract::Contraction;
use crate::error::PlaceError;
use crate::ideals::Ideals;
use crate::incr::CommTracker;
use crate::limits::{Limits, ProofStatus, StopReason};
use crate::model::{Instance, NodeId};
use crate::throughput::close;

/// One accelerator subgraph of a latency schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subgraph {
    /// The accelerator.
    pub accelerator: usize,
    /// Start time.
    pub start: f64,
    /// Finish time.
    pub finish: f64,
    /// Node ids, ascending.
    pub nodes: Vec<NodeId>,
}

/// A CPU node of a latency schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuTask {
    /// The node.
    pub node: NodeId,
    /// Start time.
    pub start: f64,
    /// Finish time.
    pub finish: f64,
}

/// A schedule: subgraphs per accelerator in execution order, plus CPU nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySchedule {
    /// Subgraphs, in execution order on each accelerator.
    pub subgraphs: Vec<Subgraph>,
    /// Nodes on CPUs.
    pub cpu: Vec<CpuTask>,
    /// Finish time of the last node.
    pub latency: f64,
}

/// The result of [`solve_latency`].
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySolution {
    /// The schedule, re-evaluated from scratch.
    pub schedule: LatencySchedule,
    /// Optimal, or stopped with a gap.
    pub status: ProofStatus,
    /// Search labels (states) created.
    pub labels: u64,
    /// Ideals of the group DAG.
    pub ideals: usize,
    /// Subgraphs (ideal pairs) evaluated, all passes.
    pub pairs: u64,
}

/// A plan to evaluate: node index → `None` (CPU) or `(accelerator, position)`.
pub type LatencyPlan = Vec<Option<(usize, usize)>>;

/// Evaluates a plan from scratch: subgraphs are the node sets sharing `(accelerator,
/// position)`, run on each accelerator in position order, as soon as possible.
///
/// Returns `None` when the plan is not schedulable (a dependency cycle between subgraphs),
/// breaks memory or support, or uses an accelerator index `>= k`.
///
/// # Complexity
/// O((n + m) log n).
pub fn evaluate_plan(inst: &Instance, plan: &LatencyPlan, q: usize) -> Option<LatencySchedule> {
    let n = inst.len();
    let k = inst.devices.accelerators;
    // blocks: BTreeMap (acc, pos) -> block id
    let mut block_id: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for p in plan.iter().flatten() {
        if p.0 >= k {
            return None;
        }
        let len = block_id.len();
        block_id.entry(*p).or_insert(len);
    }
    let mut blocks: Vec<(usize, usize)> = block_id.keys().copied().collect();
    blocks.sort_unstable();
    let id: BTreeMap<(usize, usize), usize> =
        blocks.iter().enumerate().map(|(i, &b)| (b, i)).collect();
    let nb = blocks.len();
    // memory and count per accelerator
    let mut mem = vec![0.0f64; k];
    let mut count = vec![0usize; k];
    for &(a, _) in &blocks {
        count[a] += 1;
    }
    if count.iter().any(|&c| c > q) {
        return None;
    }
    for u in 0..n {
        if let Some((a, _)) = plan[u] {
            mem[a] += inst.size[u];
            if !inst.supported[u] {
                return None;
            }
        } else if inst.devices.cpus == 0 {
            return None;
        }
    }
    if mem.iter().any(|&m| m > inst.devices.accelerator_memory) {
        return None;
    }
    // vertices: blocks 0..nb, cpu nodes nb + u
    let vert = |u: usize| plan[u].map_or(nb + u, |b| id[&b]);
    let nv = nb + n;
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); nv];
    let mut indeg = vec![0usize; nv];
    for u in 0..n {
        for &v in &inst.succ[u] {
            let (a, b) = (vert(u), vert(v));
            if a != b {
                succ[a].push(b);
                indeg[b] += 1;
            }
        }
    }
    for w in blocks.windows(2) {
        if w[0].0 == w[1].0 {
            let (a, b) = (id[&w[0]], id[&w[1]]);
            succ[a].push(b);
            indeg[b] += 1;
        }
    }
    // block durations
    let mut dur = vec![0.0f64; nb];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for u in 0..n {
        if let Some(b) = plan[u] {
            dur[id[&b]] += inst.p_acc[u];
            members[id[&b]].push(u);
        }
    }
    let mut crossing = std::collections::BTreeSet::new();
    for u in 0..n {
        for &v in &inst.succ[u] {
            let (a, b) = (vert(u), vert(v));
            if a != b {
                if a < nb {
                    crossing.insert((a, u));
                }
                if b < nb {
                    crossing.insert((b, u));
                }
            }
        }
    }
    for (b, u) in crossing {
        dur[b] += inst.out_cost[u];
    }
    let mut ready = vec![0.0f64; nv];
    let mut finish = vec![0.0f64; nv];
    let mut stack: Vec<usize> = (0..nv).filter(|&x| indeg[x] == 0).collect();
    let mut done = 0;
    while let Some(x) = stack.pop() {
        done += 1;
        let d = if x < nb { dur[x] } else { inst.p_cpu[x - nb] };
        finish[x] = ready[x] + d;
        for &y in &succ[x] {
            ready[y] = ready[y].max(finish[x]);
            indeg[y] -= 1;
            if indeg[y] == 0 {
                stack.push(y);
            }
        }
    }
    if done != nv {
        return None;
    }
    let subgraphs = blocks
        .iter()
        .enumerate()
        .map(|(b, &(a, _))| {
            let mut nodes: Vec<NodeId> = members[b].iter().map(|&u| inst.ids[u]).collect();
            nodes.sort_unstable();
            Subgraph {
                accelerator: a,
                start: ready[b],
                finish: finish[b],
                nodes,
            }
        })
        .collect::<Vec<_>>();
    let cpu: Vec<CpuTask> = (0..n)
        .filter(|&u| plan[u].is_none())
        .map(|u| CpuTask {
            node: inst.ids[u],
            start: ready[nb + u],
            finish: finish[nb + u],
        })
        .collect();
    let latency = (0..n).map(|u| finish[vert(u)]).fold(0.0, f64::max);
    Some(LatencySchedule {
        subgraphs,
        cpu,
        latency,
    })
}

#[derive(Clone, Copy, Debug)]
enum Move {
    Root,
    Cpu,
    /// A subgraph on a fresh accelerator.
    NewAcc,
    /// A subgraph on an open accelerator whose state before was `(avail, mem, count)`.
    OpenAcc(f64, f64, u32),
}

#[derive(Clone, Debug)]
struct Label {
    /// Finish times of the frontier nodes of the ideal (nodes with a successor outside it).
    times: Vec<f64>,
    /// Open accelerators (fewer than q subgraphs): (available, memory, subgraphs), sorted.
    open: Vec<(f64, f64, u32)>,
    closed: u32,
    makespan: f64,
    /// A lower bound on the latency of every completion of this label.
    lb: f64,
    parent: (u32, u32),
    mv: Move,
    dead: bool,
}

/// Whether label `a` is at least as good as `b` (same ideal): no later makespan, no later
/// frontier time, and every accelerator `b` can still use is matched by a distinct one of
/// `a` that is available no later, holds no more memory and has run no more subgraphs (a
/// fresh accelerator matches anything). The matching is greedy (hardest of `b` first), so
/// this is a sufficient test, never a wrong one.
fn dominates(a: &Label, b: &Label, k: usize) -> bool {
    if a.makespan > b.makespan || a.times.iter().zip(&b.times).any(|(x, y)| x > y) {
        return false;
    }
    let fresh = |x: &Label| k.saturating_sub(x.closed as usize + x.open.len());
    let (fa, fb) = (fresh(a), fresh(b));
    if fa < fb {
        return false;
    }
    if b.open.is_empty() {
        return true;
    }
    let mut spare = fa - fb;
    let mut used = [false; 64];
    if a.open.len() > used.len() {
        return a.open == b.open && a.closed <= b.closed;
    }
    for ob in b.open.iter().rev() {
        let hit = a
            .open
            .iter()
            .enumerate()
            .position(|(t, oa)| !used[t] && oa.0 <= ob.0 && oa.1 <= ob.1 && oa.2 <= ob.2);
        match hit {
            Some(t) => used[t] = true,
            None if spare > 0 => spare -= 1,
            None => return false,
        }
    }
    true
}

/// Post-dominator regions of a DAG. Node e post-dominates v when every path from v to a
/// sink passes through e; the region of v and its immediate post-dominator e is every node
/// strictly between them (descendants of v that are ancestors of e). A convex subgraph that
/// holds v and e holds the whole region, so its duration counts all of the region's work
/// and memory (an inception module between its fork and its concat, for instance).
struct Regions {
    /// Per node v: (immediate post-dominator e, Σ p_acc and Σ size of the region strictly
    /// between, all of it supported, whether it is empty), when e is a node (not the
    /// virtual sink).
    exit: Vec<Option<(usize, f64, f64, bool, bool)>>,
    /// Per node x: (e, slot) for every exit e whose region (from some v) holds x.
    within: Vec<Vec<(usize, usize)>>,
    /// Slots in use.
    slots: usize,
}

impl Regions {
    /// Graphs larger than this get no regions (the reachability sets are quadratic).
    const MAX_NODES: usize = 16_384;
    /// At most this many (node, exit) slots (each holds a row of memory buckets).
    const MAX_SLOTS: usize = 8_192;

    fn new(inst: &Instance, topo: &[usize]) -> Regions {
        let n = inst.len();
        let mut out = Regions {
            exit: vec![None; n],
            within: vec![Vec::new(); n],
            slots: 0,
        };
        if !(3..=Self::MAX_NODES).contains(&n) || topo.len() != n {
            return out;
        }
        // immediate post-dominators: n stands for the virtual sink
        let sink = n;
        let mut ipdom = vec![sink; n];
        let mut depth = vec![0usize; n + 1];
        for &v in topo.iter().rev() {
            let mut d: Option<usize> = None;
            for &w in &inst.succ[v] {
                d = Some(match d {
                    None => w,
                    Some(mut x) => {
                        let mut y = w;
                        while x != y {
                            if depth[x] >= depth[y] {
                                x = if x == sink { sink } else { ipdom[x] };
                            } else {
                                y = if y == sink { sink } else { ipdom[y] };
                            }
                        }
                        x
                    }
                });
            }
            ipdom[v] = d.unwrap_or(sink);
            depth[v] = depth[ipdom[v]] + 1;
        }
        let words = n.div_ceil(64);
        let mut desc = vec![0u64; n * words];
        let mut anc = vec![0u64; n * words];
        for &v in topo.iter().rev() {
            for &w in &inst.succ[v] {
                desc[v * words + w / 64] |= 1 << (w % 64);
                for t in 0..words {
                    let x = desc[w * words + t];
                    desc[v * words + t] |= x;
                }
            }
        }
        for &v in topo {
            for &u in &inst.pred[v] {
                anc[v * words + u / 64] |= 1 << (u % 64);
                for t in 0..words {
                    let x = anc[u * words + t];
                    anc[v * words + t] |= x;
                }
            }
        }
        let has =
            |bits: &[u64], v: usize, w: usize| bits[v * words + w / 64] & (1 << (w % 64)) != 0;
        // per exit e: the union of the regions of the nodes whose ipdom is e
        let mut member = vec![0u64; n * words];
        for v in 0..n {
            let e = ipdom[v];
            if e == sink {
                continue;
            }
            let (mut sp, mut ss, mut ok, mut empty) = (0.0, 0.0, true, true);
            for w in 0..n {
                if has(&desc, v, w) && has(&anc, e, w) {
                    empty = false;
                    sp += inst.p_acc[w];
                    ss += inst.size[w];
                    ok &= inst.supported[w];
                    member[e * words + w / 64] |= 1 << (w % 64);
                }
            }
            out.exit[v] = Some((e, sp, ss, ok, empty));
        }
        let mut slots = 0;
        for e in 0..n {
            for x in 0..n {
                if has(&member, e, x) {
                    out.within[x].push((e, slots));
                    slots += 1;
                }
            }
        }
        if slots > Self::MAX_SLOTS {
            // too many rows: keep the per-node rule without the forbidden-exit rows
            for v in 0..n {
                out.exit[v] = None;
                out.within[v].clear();
            }
            slots = 0;
        }
        out.slots = slots;
        out
    }

    /// The slot of x for exit e.
    fn slot(&self, x: usize, e: usize) -> Option<usize> {
        self.within[x].iter().find(|r| r.0 == e).map(|r| r.1)
    }
}

/// Memory buckets of the path bound (see [`PathBound`]).
const BUCKETS: usize = 1024;

/// A lower bound on the time from a node's start to the end of every path through it, with
/// the node on a CPU or on an accelerator, counting transfers and the memory of one subgraph.
///
/// For a path v₁ → … → v_r of any schedule, the finish of v_r is at least the sum, over the
/// path, of p_cpu of its CPU nodes and of the durations of the subgraphs it visits (each is
/// visited in one consecutive stretch, by convexity). A subgraph's duration is at least
/// Σ p_acc of its path nodes plus c(u) for the path edge that enters it and for the one that
/// leaves it, and those path nodes fit in M. `hc[v]` / `ha[v][b]` is the least such cost of a
/// path from v (inclusive) when v runs on a CPU / on an accelerator after path nodes of at
/// least `b·M/BUCKETS` memory in the same subgraph, minimised per node but maximised over
/// successors (min-max, which is valid because the true schedule fixes one choice per node).
struct PathBound {
    /// From v on a CPU.
    hc: Vec<f64>,
    /// From v on an accelerator, first path node of its subgraph.
    ha0: Vec<f64>,
    /// From v on an accelerator after `b` buckets of memory: `ha[v * (BUCKETS + 2) + b]`.
    ha: Vec<f64>,
    /// Bucket width, M / BUCKETS.
    delta: f64,
}

impl PathBound {
    fn new(inst: &Instance, topo: &[usize]) -> PathBound {
        let n = inst.len();
        let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
        let cap = inst.devices.accelerator_memory;
        let width = BUCKETS + 2;
        let delta = cap / BUCKETS as f64;
        let step = |s: f64| -> usize {
            if delta.is_finite() && delta > 0.0 {
                let b = (s / delta * (1.0 - 1e-9)).floor();
                if b >= (BUCKETS + 1) as f64 {
                    BUCKETS + 1
                } else {
                    b as usize
                }
            } else {
                0
            }
        };
        let fits = |b: usize, s: f64| -> bool {
            if b > BUCKETS {
                return false;
            }
            if b == 0 {
                s <= cap
            } else {
                b as f64 * delta + s <= cap
            }
        };
        let inf = f64::INFINITY;
        let reg = Regions::new(inst, topo);
        let mut hc = vec![inf; n];
        let mut ha = vec![inf; n * width];
        // `hin[slot * width + b]` for the slot of (x, e): like `ha` for x, when the path's
        // subgraph at x must not hold e (it holds a node whose post-dominator region, up to
        // e, it does not hold whole)
        let mut hin = vec![inf; reg.slots * width];
        for &v in topo.iter().rev() {
            let c = inst.out_cost[v];
            if l > 0 {
                let mut worst = 0.0f64;
                for &w in &inst.succ[v] {
                    worst = worst.max(hc[w].min(c + ha[w * width]));
                }
                hc[v] = inst.p_cpu[v] + worst;
            }
            if k > 0 && inst.supported[v] {
                let sv = inst.size[v];
                let sb = step(sv);
                // per exit that may be forbidden at v: the slot of each successor
                let succ_slots: Vec<(usize, Vec<Option<usize>>)> = reg.exit[v]
                    .iter()
                    .map(|x| x.0)
                    .chain(reg.within[v].iter().map(|r| r.0))
                    .map(|f| (f, inst.succ[v].iter().map(|&w| reg.slot(w, f)).collect()))
                    .collect();
                let mut rows: Vec<(usize, f64)> = Vec::with_capacity(reg.within[v].len());
                for b in 0..width {
                    if !fits(b, sv) {
                        break;
                    }
                    let nb = (b + sb).min(BUCKETS + 1);
                    rows.clear();
                    let own = 'cell: {
                        let leave = |w: usize| (c + hc[w]).min(2.0 * c + ha[w * width]);
                        // the path stays in the subgraph, which must not hold `forbid`
                        let split = |forbid: usize| -> f64 {
                            let slots = succ_slots.iter().find(|x| x.0 == forbid).map(|x| &x.1);
                            let mut worst = 0.0f64;
                            for (i, &w) in inst.succ[v].iter().enumerate() {
                                let stay = if w == forbid {
                                    inf
                                } else {
                                    slots
                                        .and_then(|x| x[i])
                                        .map_or(ha[w * width + nb], |t| hin[t * width + nb])
                                };
                                worst = worst.max(stay.min(leave(w)));
                            }
                            inst.p_acc[v] + worst
                        };
                        let mut worst = 0.0f64;
                        for &w in &inst.succ[v] {
                            worst = worst.max(ha[w * width + nb].min(leave(w)));
                        }
                        let plain = inst.p_acc[v] + worst;
                        let Some((e, sp, ss, ok, empty)) = reg.exit[v] else {
                            break 'cell plain;
                        };
                        if empty && reg.within[v].is_empty() {
                            // a lone edge to e: staying or leaving, as in `plain`
                            break 'cell plain;
                        }
                        // either the subgraph holds v's post-dominator e, hence the whole region
                        // (all its work and memory), or every path leaves it before e
                        let whole_at = |row: &[f64], base: usize| -> f64 {
                            if ok && fits(b, sv + ss) {
                                let nb1 = (b + step(sv + ss)).min(BUCKETS + 1);
                                inst.p_acc[v] + sp + row[base + nb1]
                            } else {
                                inf
                            }
                        };
                        let split_e = split(e);
                        let own = if empty {
                            plain
                        } else {
                            plain.max(whole_at(&ha, e * width).min(split_e))
                        };
                        for &(f, slot) in &reg.within[v] {
                            // v inside the region of some node up to f, which the subgraph
                            // must not hold
                            let value = if f == e {
                                split_e
                            } else {
                                let whole = reg.slot(e, f).map_or(whole_at(&ha, e * width), |t| {
                                    whole_at(&hin, t * width)
                                });
                                whole.min(split(f).max(split_e))
                            };
                            rows.push((slot, value));
                        }
                        own
                    };
                    ha[v * width + b] = own;
                    for &(slot, value) in &rows {
                        hin[slot * width + b] = value;
                    }
                }
            }
        }
        let ha0 = (0..n).map(|v| ha[v * width]).collect();
        PathBound { hc, ha0, ha, delta }
    }

    /// Bound on what follows a node z with output cost `c` inside a subgraph that already
    /// holds `mem` memory, along its edge to a successor v outside the subgraph so far:
    /// either the edge leaves the subgraph (z pays the output, v a CPU or a new subgraph) or
    /// v joins it.
    #[inline]
    fn beyond(&self, v: usize, c: f64, mem: f64) -> f64 {
        let b = if self.delta.is_finite() && self.delta > 0.0 {
            let b = (mem / self.delta * (1.0 - 1e-9)).floor();
            if b >= (BUCKETS + 1) as f64 {
                BUCKETS + 1
            } else if b > 0.0 {
                b as usize
            } else {
                0
            }
        } else {
            0
        };
        let stay = self.ha[v * (BUCKETS + 2) + b];
        stay.min(c + self.hc[v]).min(2.0 * c + self.ha0[v])
    }

    /// Bound from a node v that receives an input from an already placed node with output
    /// cost `c`.
    #[inline]
    fn enter(&self, v: usize, c: f64) -> f64 {
        self.hc[v].min(c + self.ha0[v])
    }

    /// Bound from a node v without inputs.
    #[inline]
    fn source(&self, v: usize) -> f64 {
        self.hc[v].min(self.ha0[v])
    }
}

/// Frontier of an ideal: nodes with a successor outside, with the path bound after each,
/// and the bound of the source nodes outside.
struct Frontier {
    nodes: Vec<u32>,
    after: Vec<f64>,
    sources: f64,
}

/// Zero-time sinks hanging off one node (`host`): with q = 1 and CPUs allowed they either
/// join the host's subgraph (costing memory, saving c(host) when the host's other successors
/// are in the subgraph too) or run on a CPU at no time.
#[derive(Clone, Copy, Debug)]
struct Host {
    weight: f64,
    value: f64,
    /// Some satellite cannot run on an accelerator: they never join.
    forced: bool,
}

/// Best set of hosts whose satellites join a subgraph: maximises the saved transfer cost
/// with total weight at most `cap` (exact 0/1 knapsack by branch and bound; few items).
/// Returns (saved, chosen flags in the order of `items`).
fn satellite_knapsack(items: &[(f64, f64)], cap: f64) -> (f64, Vec<bool>) {
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
    fn go(s: &mut Bb, i: usize, room: f64, value: f64) {
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

/// What one pass of the label search returns.
struct RunOut {
    /// Best full label found with latency below the starting bound.
    best: Option<(f64, LatencyPlan)>,
    stopped: Option<StopReason>,
    /// Least bound of the labels left open when stopped (`+∞` when none).
    open_lb: f64,
    /// Labels made (created and not cut by the bound) in this pass.
    made: u64,
}

/// The label-setting search on a reduced instance (see [`solve_latency`]).
struct Search<'a> {
    inst: &'a Instance,
    q: usize,
    con: Contraction,
    ideals: Ideals,
    gmembers: Vec<Vec<usize>>,
    host: Vec<Option<Host>>,
    bound: PathBound,
    /// Labels created, all passes.
    created: u64,
    /// Subgraphs (ideal pairs) evaluated, all passes.
    pairs: u64,
}

impl<'a> Search<'a> {
    fn frontier(&self, j: usize, cache: &mut [Option<Rc<Frontier>>]) -> Rc<Frontier> {
        if let Some(f) = &cache[j] {
            return Rc::clone(f);
        }
        let inst = self.inst;
        let n = inst.len();
        let mut member = vec![false; n];
        for g in 0..self.con.len() {
            if self.ideals.contains(j, g) {
                for &u in &self.con.groups[g] {
                    member[u] = true;
                }
            }
        }
        let mut nodes = Vec::new();
        let mut after = Vec::new();
        let mut sources = 0.0f64;
        for u in 0..n {
            if member[u] {
                let mut worst = f64::NEG_INFINITY;
                for &v in &inst.succ[u] {
                    if !member[v] {
                        worst = worst.max(self.bound.enter(v, inst.out_cost[u]));
                    }
                }
                if worst > f64::NEG_INFINITY {
                    nodes.push(u as u32);
                    after.push(worst);
                }
            } else if inst.pred[u].is_empty() {
                sources = sources.max(self.bound.source(u));
            }
        }
        let f = Rc::new(Frontier {
            nodes,
            after,
            sources,
        });
        cache[j] = Some(Rc::clone(&f));
        f
    }

    /// Extra transfer time of a subgraph from satellites left out, given its hosts (nodes
    /// of the subgraph with satellites), whether each host's other outputs stay inside, and
    /// the memory left. Returns the extra time and which hosts take their satellites.
    fn satellite_extra(&self, hosts: &[(usize, bool)], room: f64) -> (f64, Vec<bool>) {
        satellite_decision(&self.host, hosts, room)
    }

    /// One pass over the ideals in order. `beam` keeps only that many labels per ideal
    /// (a heuristic pass); `ub` is the best latency known (labels that cannot beat it are cut).
    fn run(
        &mut self,
        beam: Option<usize>,
        mut ub: f64,
        limits: &Limits,
        started: Instant,
    ) -> RunOut {
        let inst = self.inst;
        let k_limit = inst.devices.accelerators;
        let q = self.q;
        let n = inst.len();
        let k = inst.devices.accelerators;
        let l = inst.devices.cpus;
        let mem_cap = inst.devices.accelerator_memory;
        let ni = self.ideals.len();
        let full = self.ideals.full();
        let tol = |x: f64| x * (1.0 - 1e-12) - 1e-12;
        let mut labels: Vec<Vec<Label>> = vec![Vec::new(); ni];
        let mut cache: Vec<Option<Rc<Frontier>>> = vec![None; ni];
        let root_front = self.frontier(0, &mut cache);
        labels[0].push(Label {
            times: Vec::new(),
            open: Vec::new(),
            closed: 0,
            makespan: 0.0,
            lb: root_front.sources,
            parent: (u32::MAX, u32::MAX),
            mv: Move::Root,
            dead: false,
        });
        let mut in_i = vec![false; n];
        let mut pos = vec![u32::MAX; n];
        let mut tracker = CommTracker::new(n);
        let mut in_d = vec![false; n];
        let mut tnew = vec![0.0f64; n];
        let mut stamp = vec![u32::MAX; ni];
        let mut stopped: Option<StopReason> = None;
        let mut stop_at = ni;
        let mut lost_lb = f64::INFINITY;
        let mut best_label: Option<(u32, u32)> = None;
        // the beam pass is bounded by its width; only the exact pass uses the label budget
        let max_labels = if beam.is_some() {
            None
        } else {
            limits.max_labels
        };
        let mut made: u64 = 0;
        for i in 0..ni {
            if labels[i].iter().all(|lb| lb.dead) {
                labels[i] = Vec::new();
                continue;
            }
            if i == full {
                break;
            }
            if limits.time_limit.is_some_and(|d| started.elapsed() >= d) {
                stopped = Some(StopReason::TimeLimit);
                stop_at = i;
                break;
            }
            // cut labels that can no longer beat the incumbent, and apply the beam
            for lab in labels[i].iter_mut() {
                if !lab.dead && ub.is_finite() && lab.lb >= tol(ub) {
                    lab.dead = true;
                }
            }
            let mut alive: Vec<u32> = (0..labels[i].len() as u32)
                .filter(|&x| !labels[i][x as usize].dead)
                .collect();
            if let Some(w) = beam {
                if alive.len() > w {
                    alive.sort_by(|&a, &b| {
                        let (x, y) = (&labels[i][a as usize], &labels[i][b as usize]);
                        x.lb.partial_cmp(&y.lb)
                            .unwrap_or(std::cmp::Ordering::Equal)
                            .then(
                                x.makespan
                                    .partial_cmp(&y.makespan)
                                    .unwrap_or(std::cmp::Ordering::Equal),
                            )
                            .then(a.cmp(&b))
                    });
                    for &x in &alive[w..] {
                        labels[i][x as usize].dead = true;
                    }
                    alive.truncate(w);
                    alive.sort_unstable();
                }
            }
            if alive.is_empty() {
                continue;
            }
            let fi = self.frontier(i, &mut cache);
            for (p, &u) in fi.nodes.iter().enumerate() {
                pos[u as usize] = p as u32;
            }
            for g in 0..self.con.len() {
                if self.ideals.contains(i, g) {
                    for &u in &self.con.groups[g] {
                        in_i[u] = true;
                    }
                }
            }
            let mut pending: Vec<(usize, Label)> = Vec::new();
            // CPU moves: one group
            if l > 0 {
                for &(g, j) in self.ideals.up_of(i) {
                    let g = g as usize;
                    let fj = self.frontier(j as usize, &mut cache);
                    for &li in &alive {
                        let lab = &labels[i][li as usize];
                        let mut mk = lab.makespan;
                        for &x in &self.gmembers[g] {
                            let mut r = 0.0f64;
                            for &w in &inst.pred[x] {
                                let tw = if in_i[w] {
                                    lab.times[pos[w] as usize]
                                } else {
                                    tnew[w]
                                };
                                r = r.max(tw);
                            }
                            tnew[x] = r + inst.p_cpu[x];
                            mk = mk.max(tnew[x]);
                        }
                        let times: Vec<f64> = fj
                            .nodes
                            .iter()
                            .map(|&u| {
                                let u = u as usize;
                                if in_i[u] {
                                    lab.times[pos[u] as usize]
                                } else {
                                    tnew[u]
                                }
                            })
                            .collect();
                        let lbv = times
                            .iter()
                            .zip(&fj.after)
                            .map(|(t, a)| t + a)
                            .fold(mk.max(fj.sources), f64::max);
                        if ub.is_finite() && lbv >= tol(ub) {
                            continue;
                        }
                        pending.push((
                            j as usize,
                            Label {
                                times,
                                open: lab.open.clone(),
                                closed: lab.closed,
                                makespan: mk,
                                lb: lbv,
                                parent: (i as u32, li),
                                mv: Move::Cpu,
                                dead: false,
                            },
                        ));
                    }
                }
            }
            // accelerator moves: DFS over super-ideals J of I; the subgraph is D = J \ I
            if k > 0 {
                let min_open_mem = alive
                    .iter()
                    .map(|&x| {
                        let x = &labels[i][x as usize];
                        if (x.closed as usize + x.open.len()) < k_limit {
                            0.0
                        } else {
                            x.open.iter().map(|o| o.1).fold(f64::INFINITY, f64::min)
                        }
                    })
                    .fold(f64::INFINITY, f64::min);
                // frames: (ideal, next up-edge, group, p_acc, size, comm)
                let mut stack: Vec<(u32, u32, u32, f64, f64, f64)> =
                    vec![(i as u32, 0, u32::MAX, 0.0, 0.0, 0.0)];
                // nodes of D with satellites
                let mut hosts_in_d: Vec<usize> = Vec::new();
                // groups of D
                let mut dstack: Vec<usize> = Vec::new();
                stamp[i] = i as u32;
                while let Some(top) = stack.last_mut() {
                    let ups = self.ideals.up_of(top.0 as usize);
                    if (top.1 as usize) >= ups.len() {
                        if let Some(fr) = stack.pop() {
                            if fr.2 != u32::MAX {
                                dstack.pop();
                                let members = &self.con.groups[fr.2 as usize];
                                tracker.remove(inst, members);
                                for &u in members {
                                    in_d[u] = false;
                                    if self.host[u].is_some() {
                                        hosts_in_d.pop();
                                    }
                                }
                            }
                        }
                        continue;
                    }
                    let (g, j) = if beam.is_some() {
                        // heuristic pass: subgraphs grow along the topological numbering
                        // of the groups only (the least group outside J is always addable)
                        top.1 = u32::MAX;
                        match ups.iter().min_by_key(|e| e.0) {
                            Some(&e) => e,
                            None => continue,
                        }
                    } else {
                        let e = ups[top.1 as usize];
                        top.1 += 1;
                        e
                    };
                    if stamp[j as usize] == i as u32 {
                        continue;
                    }
                    stamp[j as usize] = i as u32;
                    let gi = g as usize;
                    let p_acc = top.3 + self.con.p_acc[gi];
                    let size = top.4 + self.con.size[gi];
                    if !self.con.supported[gi] || size + min_open_mem > mem_cap {
                        continue;
                    }
                    let comm = top.5 + tracker.add(inst, &self.con.groups[gi]);
                    for &u in &self.con.groups[gi] {
                        in_d[u] = true;
                        if self.host[u].is_some() {
                            hosts_in_d.push(u);
                        }
                    }
                    stack.push((j, 0, g, p_acc, size, comm));
                    dstack.push(gi);
                    self.pairs += 1;
                    // inputs of D: frontier nodes of I with a successor in D
                    let mut inputs: Vec<usize> = Vec::new();
                    let mut incomm = 0.0;
                    for (p, &u) in fi.nodes.iter().enumerate() {
                        if inst.succ[u as usize].iter().any(|&v| in_d[v]) {
                            inputs.push(p);
                            incomm += inst.out_cost[u as usize];
                        }
                    }
                    // D and every superset start no earlier than their inputs and run at
                    // least p_acc plus the input transfers
                    let min_ready = alive
                        .iter()
                        .map(|&li| {
                            let lab = &labels[i][li as usize];
                            inputs.iter().map(|&p| lab.times[p]).fold(0.0, f64::max)
                        })
                        .fold(f64::INFINITY, f64::min);
                    let mut beyond = 0.0f64;
                    if ub.is_finite() {
                        for &g2 in &dstack {
                            for &z in &self.con.groups[g2] {
                                let c = inst.out_cost[z];
                                for &v in &inst.succ[z] {
                                    if !in_d[v] {
                                        beyond = beyond.max(self.bound.beyond(v, c, size));
                                    }
                                }
                            }
                        }
                    }
                    if ub.is_finite() && min_ready + p_acc + incomm + beyond >= tol(ub) {
                        if let Some(t) = stack.last_mut() {
                            t.1 = u32::MAX; // no supersets; popped next
                        }
                        continue;
                    }
                    let extra = if hosts_in_d.is_empty() {
                        0.0
                    } else {
                        let hs: Vec<(usize, bool)> = hosts_in_d
                            .iter()
                            .map(|&u| (u, !tracker.crossing(u)))
                            .collect();
                        self.satellite_extra(&hs, mem_cap - size).0
                    };
                    let dur = p_acc + comm + extra;
                    let fj = self.frontier(j as usize, &mut cache);
                    for &li in &alive {
                        let lab = &labels[i][li as usize];
                        let ready = inputs.iter().map(|&p| lab.times[p]).fold(0.0, f64::max);
                        let mut options: Vec<(Move, f64)> = Vec::new();
                        if (lab.closed as usize + lab.open.len()) < k_limit && size <= mem_cap {
                            options.push((Move::NewAcc, ready));
                        }
                        let mut prev: Option<(f64, f64, u32)> = None;
                        for &o in &lab.open {
                            if prev == Some(o) || o.1 + size > mem_cap {
                                continue;
                            }
                            prev = Some(o);
                            options.push((Move::OpenAcc(o.0, o.1, o.2), ready.max(o.0)));
                        }
                        for (mv, start) in options {
                            let fin = start + dur;
                            let mk = lab.makespan.max(fin);
                            let times: Vec<f64> = fj
                                .nodes
                                .iter()
                                .map(|&u| {
                                    let u = u as usize;
                                    if in_d[u] {
                                        fin
                                    } else {
                                        lab.times[pos[u] as usize]
                                    }
                                })
                                .collect();
                            let lbv = times
                                .iter()
                                .zip(&fj.after)
                                .map(|(t, a)| t + a)
                                .fold(mk.max(fj.sources), f64::max);
                            if ub.is_finite() && lbv >= tol(ub) {
                                continue;
                            }
                            let mut open = lab.open.clone();
                            let mut closed = lab.closed;
                            match mv {
                                Move::NewAcc => {
                                    if q == 1 {
                                        closed += 1;
                                    } else {
                                        open.push((fin, size, 1));
                                    }
                                }
                                Move::OpenAcc(a, m, c) => {
                                    if let Some(p) = open.iter().position(|&o| o == (a, m, c)) {
                                        open.remove(p);
                                    }
                                    if c as usize + 1 >= q {
                                        closed += 1;
                                    } else {
                                        open.push((fin, m + size, c + 1));
                                    }
                                }
                                _ => {}
                            }
                            open.sort_by(|x, y| {
                                x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal)
                            });
                            pending.push((
                                j as usize,
                                Label {
                                    times,
                                    open,
                                    closed,
                                    makespan: mk,
                                    lb: lbv,
                                    parent: (i as u32, li),
                                    mv,
                                    dead: false,
                                },
                            ));
                        }
                    }
                }
            }
            // insert pending labels with dominance
            let mut rest = pending.into_iter();
            for (j, lab) in rest.by_ref() {
                self.created += 1;
                made += 1;
                if max_labels.is_some_and(|m| made > m) {
                    stopped = Some(StopReason::LabelLimit);
                    lost_lb = lost_lb.min(lab.lb);
                    break;
                }
                if labels[j]
                    .iter()
                    .any(|x| !x.dead && dominates(x, &lab, k_limit))
                {
                    continue;
                }
                for x in labels[j].iter_mut() {
                    if !x.dead && dominates(&lab, x, k_limit) {
                        x.dead = true;
                    }
                }
                if j == full && lab.makespan < ub {
                    ub = lab.makespan;
                    best_label = Some((j as u32, labels[j].len() as u32));
                }
                labels[j].push(lab);
            }
            for (_, lab) in rest {
                lost_lb = lost_lb.min(lab.lb);
            }
            for g in 0..self.con.len() {
                if self.ideals.contains(i, g) {
                    for &u in &self.con.groups[g] {
                        in_i[u] = false;
                    }
                }
            }
            if stopped.is_some() {
                // ideal i was expanded, but not all of its children were kept
                stop_at = i;
                break;
            }
            // free what is no longer needed (parents and moves stay for the replay)
            for lab in labels[i].iter_mut() {
                lab.times = Vec::new();
            }
            cache[i] = None;
        }
        let mut open_lb = lost_lb;
        if stopped.is_some() {
            for labs in &labels[stop_at..] {
                for x in labs {
                    if !x.dead {
                        open_lb = open_lb.min(x.lb);
                    }
                }
            }
        }
        let best = best_label.map(|end| {
            let plan = self.replay(&labels, end);
            (labels[end.0 as usize][end.1 as usize].makespan, plan)
        });
        RunOut {
            best,
            made,
            stopped,
            open_lb,
        }
    }

    /// Rebuilds a plan (on this instance, satellites left out) by replaying the moves from
    /// the root to a label.
    fn replay(&self, labels: &[Vec<Label>], end: (u32, u32)) -> LatencyPlan {
        let n = self.inst.len();
        let mut chain: Vec<(u32, u32)> = Vec::new();
        let mut cur = end;
        while cur.0 != u32::MAX {
            chain.push(cur);
            cur = labels[cur.0 as usize][cur.1 as usize].parent;
        }
        chain.reverse();
        let mut plan: LatencyPlan = vec![None; n];
        // replayed accelerators: (available, memory, subgraphs) by index; the memory and
        // subgraph count identify an open accelerator exactly as the search saw it
        let mut accs: Vec<(f64, f64, u32)> = Vec::new();
        for w in chain.windows(2) {
            let (pi, ci) = (w[0], w[1]);
            let child = &labels[ci.0 as usize][ci.1 as usize];
            let diff: Vec<usize> = (0..self.con.len())
                .filter(|&g| {
                    self.ideals.contains(ci.0 as usize, g)
                        && !self.ideals.contains(pi.0 as usize, g)
                })
                .collect();
            let target = match child.mv {
                Move::Root | Move::Cpu => continue,
                Move::NewAcc => {
                    accs.push((0.0, 0.0, 0));
                    accs.len() - 1
                }
                Move::OpenAcc(a, m, c) => {
                    let Some(t) = accs.iter().position(|&x| x == (a, m, c)) else {
                        continue;
                    };
                    t
                }
            };
            let posn = accs[target].2 as usize;
            for &g in &diff {
                for &u in &self.con.groups[g] {
                    plan[u] = Some((target, posn));
                }
            }
            // the accelerator's new state is the child's open entry that the parent lacks
            // (after removing the one it used); none when the accelerator closed
            let parent = &labels[pi.0 as usize][pi.1 as usize];
            let mut rest = parent.open.clone();
            if let Move::OpenAcc(a, m, c) = child.mv {
                if let Some(p) = rest.iter().position(|&o| o == (a, m, c)) {
                    rest.remove(p);
                }
            }
            let mut fresh = None;
            for &o in &child.open {
                if let Some(p) = rest.iter().position(|&r| r == o) {
                    rest.remove(p);
                } else {
                    fresh = Some(o);
                }
            }
            accs[target] = fresh.unwrap_or((f64::INFINITY, f64::INFINITY, u32::MAX));
        }
        plan
    }
}

/// Solves the latency objective exactly by a label-setting search over the ideals of the
/// group DAG.
///
/// Two exact reductions come first (both need CPUs): nodes with no CPU time and no output
/// cost whose inputs are all such nodes are fixed on a CPU at time 0 (moving one out of a
/// subgraph never delays anything), and, with q = 1, zero-time sinks with one input
/// (*satellites*) leave the DAG: each either joins its input's subgraph — chosen per
/// subgraph by an exact knapsack over memory, saving that input's transfer — or runs on a
/// CPU (any other subgraph is never better).
///
/// A state (label) is an ideal I (the groups already scheduled) with the finish times of I's
/// nodes that feed nodes outside I, the open accelerators and the makespan so far. A move
/// schedules the next block — one group on a CPU, or a convex set J \ I on a fresh or an open
/// accelerator — as early as possible. Every feasible schedule is reached by adding its
/// blocks in a topological order of its block graph (plus accelerator order), so the search
/// is exact. Labels of one ideal are pruned by Pareto dominance, and every label by a lower
/// bound against the best schedule known: the makespan so far and, from each frontier node,
/// a path bound that charges CPU time or accelerator time plus the transfers into and out of
/// each subgraph, with the memory of a subgraph limited to M (see `PathBound`); between two
/// consecutive cut vertices of the DAG (a fork-join module) a subgraph holding both holds
/// the whole module, so the bound charges all of its work and memory (see `Segments`). The
/// incumbent comes from a chain split and a heuristic pass of the same search (the few best
/// labels per ideal, subgraphs grown along one topological order only), then hill climbing
/// (one node at a time into a neighbour's subgraph, a CPU or a free accelerator).
///
/// # Arguments
/// * `inst` — a validated instance.
/// * `q` — subgraphs allowed per accelerator (≥ 1).
/// * `limits` — budgets; when one runs out the best schedule known is returned with
///   [`ProofStatus::Stopped`] and a proven lower bound (the least bound of the labels left).
///
/// # Errors
/// [`PlaceError::Unsupported`] for `q == 0`; [`PlaceError::InfeasibleMemory`] when nothing
/// fits; [`PlaceError::Verification`] if the schedule fails re-evaluation.
///
/// # Complexity
/// Exponential in the worst case (the problem is NP-hard); in practice bounded by
/// O(P·L) for P visited ideal pairs and L surviving labels per ideal.
///
/// # Examples
/// ```
/// use parallax_place::{solve_latency, Devices, Edge, Graph, Instance, Limits, Node};
/// let node = |id, acc_time, cpu_time| Node {
///     id, name: None, acc_time, cpu_time, memory: 1.0, acc_supported: true,
///     backward: false, class: None, output_cost: 0.5,
/// };
/// let g = Graph {
///     devices: Devices { accelerators: 2, accelerator_memory: 1.0, cpus: 1 },
///     nodes: vec![node(1, 1.0, 10.0), node(2, 2.0, 20.0)],
///     edges: vec![Edge { from: 1, to: 2 }],
/// };
/// let inst = Instance::new(&g).unwrap();
/// let sol = solve_latency(&inst, 1, &Limits::default()).unwrap();
/// // one node per accelerator: 1 + 0.5 (out), then 0.5 (in) + 2
/// assert!((sol.schedule.latency - 4.0).abs() < 1e-12);
/// assert!(sol.status.is_optimal());
/// ```
pub fn solve_latency(
    inst: &Instance,
    q: usize,
    limits: &Limits,
) -> Result<LatencySolution, PlaceError> {
    if q == 0 {
        return Err(PlaceError::Unsupported(
            "q (subgraphs per accelerator) must be >= 1".into(),
        ));
    }
    if inst.overlap {
        return Err(PlaceError::Unsupported(
            "compute/communication overlap applies to the max-load objective only".into(),
        ));
    }
    let started = Instant::now();
    let deadline = limits.deadline(started);
    let usable = inst.usable();
    let inst: &Instance = &usable;
    // q >= 2: the q = 1 optimum is a valid schedule, and a strong incumbent; it gets half
    // the time and half the label budget
    let mut seed: Option<(f64, LatencyPlan)> = None;
    let mut limits = limits.clone();
    if q >= 2 {
        let half = Limits {
            time_limit: limits.time_limit.map(|d| d / 2),
            max_labels: limits.max_labels.map(|m| m / 2),
            ..limits.clone()
        };
        if let Ok(one) = solve_latency(inst, 1, &half) {
            limits.max_labels = limits
                .max_labels
                .map(|m| m.saturating_sub(one.labels.min(m / 2)));
            seed = Some((one.schedule.latency, plan_of(inst, &one.schedule)));
        }
    }
    let limits = &limits;
    let k = inst.devices.accelerators;
    let mem_cap = inst.devices.accelerator_memory;
    let red = Reduction::new(inst, q);
    let core = &red.core;
    let con = Contraction::all_edges(core, true);
    let topo = node_topo(core);
    let mut rank = vec![0usize; core.len()];
    for (i, &u) in topo.iter().enumerate() {
        rank[u] = i;
    }
    let bound = PathBound::new(core, &topo);
    let root_lb = (0..core.len())
        .filter(|&u| core.pred[u].is_empty())
        .map(|u| bound.source(u))
        .fold(0.0, f64::max);
    // incumbent: chain split with one subgraph per accelerator, or all on CPU
    let mut best: Option<(f64, LatencyPlan)> = None;
    let consider = |plan: LatencyPlan, best: &mut Option<(f64, LatencyPlan)>| {
        let full = red.lift(&plan);
        if let Some(s) = evaluate_plan(inst, &full, q) {
            if best.as_ref().map_or(true, |b| s.latency < b.0) {
                *best = Some((s.latency, full));
            }
        }
    };
    for plan in initial_plans(core, &con, limits.max_table_bytes) {
        consider(plan, &mut best);
    }
    if let Some((v, plan)) = seed {
        if best.as_ref().map_or(true, |b| v < b.0) {
            best = Some((v, plan));
        }
    }
    let ideals = match Ideals::enumerate_until(&con.pred, limits.max_ideals, deadline.0) {
        Ok(ideals) => ideals,
        Err(reason) => return finish_stopped(inst, q, best, reason, root_lb, 0, 0),
    };
    let ni = ideals.len();
    let mut gmembers = con.groups.clone();
    for m in &mut gmembers {
        m.sort_by_key(|&u| rank[u]);
    }
    let mut search = Search {
        inst: core,
        q,
        con,
        ideals,
        gmembers,
        host: red.host.clone(),
        bound,
        created: 1,
        pairs: 0,
    };
    let value = |b: &Option<(f64, LatencyPlan)>| b.as_ref().map_or(f64::INFINITY, |b| b.0);
    // heuristic pass: a beam of the best labels per ideal
    let beam = search.run(Some(BEAM), value(&best), limits, started);
    let mut claimed: Option<f64> = None;
    if let Some((v, plan)) = beam.best {
        let full = red.lift(&plan);
        best = Some((v, full));
        claimed = Some(v);
    }
    // local search from the incumbent: a better one lets the exact passes prune more
    if let Some((v, plan)) = &best {
        if let Some((w, better)) = improve(inst, plan, q, *v, limits, started) {
            best = Some((w, better));
            claimed = Some(w);
        }
    }
    // the heuristic pass restricts subgraphs, so only exact passes prove anything: first
    // one against the incumbent with half the label budget, then, if it stops, probes
    // against targets T between the bounds — a probe that completes proves that nothing
    // beats T (or finds the optimum below T), one that stops moves the next target down
    let with_budget = |labels: Option<u64>| Limits {
        max_labels: labels,
        ..limits.clone()
    };
    let mut remaining = limits.max_labels;
    let exact = search.run(
        None,
        value(&best),
        &with_budget(remaining.map(|b| b / 2)),
        started,
    );
    remaining = remaining.map(|b| b.saturating_sub(exact.made));
    if let Some((v, plan)) = exact.best {
        best = Some((v, red.lift(&plan)));
        claimed = Some(v);
    }
    let mut stopped = exact.stopped;
    let mut lower = root_lb.max(exact.open_lb.min(value(&best)));
    if stopped == Some(StopReason::LabelLimit) {
        let mut target_frac = 0.5;
        for probe in 0..PROBES {
            let upper = value(&best);
            let target = lower + target_frac * (upper - lower);
            let budget = remaining.map(|r| r / (PROBES - probe) as u64);
            if budget == Some(0) || !(target > lower && target < upper) {
                break;
            }
            let out = search.run(None, target, &with_budget(budget), started);
            remaining = remaining.map(|r| r.saturating_sub(out.made));
            let found = out.best.is_some();
            if let Some((v, plan)) = out.best {
                best = Some((v, red.lift(&plan)));
                claimed = Some(v);
            }
            match out.stopped {
                None => {
                    if found {
                        // exact below the target, and it found something: the optimum
                        stopped = None;
                        break;
                    }
                    // no schedule beats the target (up to the pruning tolerance)
                    lower = lower.max(target * (1.0 - 1e-12) - 1e-12);
                    target_frac = 0.5;
                }
                Some(StopReason::LabelLimit) => {
                    lower = lower.max(out.open_lb.min(target));
                    target_frac *= 0.5;
                }
                Some(r) => {
                    stopped = Some(r);
                    break;
                }
            }
        }
    }
    let open_lb = lower;
    if let (None, Some(reason)) = (&best, stopped) {
        // nothing found, but nothing proven either
        return Err(PlaceError::Unsupported(format!(
            "the latency search stopped ({reason}) before finding any schedule; raise the budget"
        )));
    }
    let Some((value, plan)) = best else {
        return Err(PlaceError::InfeasibleMemory {
            accelerators: k,
            memory: mem_cap,
            total_size: inst.total_size(),
        });
    };
    let schedule = evaluate_plan(inst, &plan, q).ok_or_else(|| {
        PlaceError::Verification("the latency search produced an unschedulable plan".into())
    })?;
    let expect = claimed.unwrap_or(value);
    if !close(schedule.latency, expect, inst) {
        return Err(PlaceError::Verification(format!(
            "search latency {expect} but the schedule evaluates to {}",
            schedule.latency
        )));
    }
    let status = match stopped {
        None => ProofStatus::Optimal,
        Some(r) => ProofStatus::stopped(r, open_lb.min(schedule.latency), schedule.latency),
    };
    Ok(LatencySolution {
        schedule,
        status,
        labels: search.created,
        ideals: ni,
        pairs: search.pairs,
    })
}

/// Hill climbing over a plan: one node at a time moves into the subgraph of a neighbour,
/// onto a CPU or onto an unused accelerator, when that lowers (latency, Σ finish times)
/// lexicographically (the second key walks the plateaus of the max). Every candidate is
/// re-evaluated from scratch, so whatever is returned is a valid schedule of the model
/// (convexity: a non-convex subgraph makes a cycle, which [`evaluate_plan`] rejects).
///
/// Skipped on graphs with colocation classes of several nodes (moves would have to carry
/// the whole class). Returns the better plan and its latency, or `None`.
///
/// # Complexity
/// O(R·n·d·(n + m) log n) for R rounds (at most [`IMPROVE_ROUNDS`]) and degree d.
fn improve(
    inst: &Instance,
    start: &LatencyPlan,
    q: usize,
    value: f64,
    limits: &Limits,
    started: Instant,
) -> Option<(f64, LatencyPlan)> {
    let n = inst.len();
    let k = inst.devices.accelerators;
    if inst.class_members().iter().any(|m| m.len() > 1) {
        return None;
    }
    let key = |s: &LatencySchedule| -> (f64, f64) {
        let total = s.subgraphs.iter().map(|b| b.finish).sum::<f64>()
            + s.cpu.iter().map(|c| c.finish).sum::<f64>();
        (s.latency, total)
    };
    let better = |a: (f64, f64), b: (f64, f64)| -> bool {
        let eps = |x: f64| 1e-12 * x.abs().max(1.0);
        a.0 < b.0 - eps(b.0) || (a.0 <= b.0 + eps(b.0) && a.1 < b.1 - eps(b.1))
    };
    let mut plan = start.clone();
    let mut cur = key(&evaluate_plan(inst, &plan, q)?);
    for _ in 0..IMPROVE_ROUNDS {
        if limits.time_limit.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let mut moved = false;
        for u in 0..n {
            let mut targets: Vec<Option<(usize, usize)>> = Vec::new();
            for &w in inst.pred[u].iter().chain(&inst.succ[u]) {
                if plan[w] != plan[u] && !targets.contains(&plan[w]) {
                    targets.push(plan[w]);
                }
            }
            if inst.devices.cpus > 0 && plan[u].is_some() && !targets.contains(&None) {
                targets.push(None);
            }
            let used: BTreeSet<usize> = plan.iter().flatten().map(|b| b.0).collect();
            if let Some(a) = (0..k).find(|a| !used.contains(a)) {
                targets.push(Some((a, 0)));
            }
            for t in targets {
                let old = plan[u];
                plan[u] = t;
                let ok = evaluate_plan(inst, &plan, q).map(|s| key(&s));
                match ok {
                    Some(x) if better(x, cur) => {
                        cur = x;
                        moved = true;
                        break;
                    }
                    _ => plan[u] = old,
                }
            }
        }
        if !moved {
            break;
        }
    }
    let s = evaluate_plan(inst, &plan, q)?;
    (s.latency < value * (1.0 - 1e-12)).then_some((s.latency, plan))
}

/// Rounds (sweeps over all nodes) of [`improve`].
const IMPROVE_ROUNDS: usize = 200;

/// Bound-proving probes after a stopped exact pass (see [`solve_latency`]).
const PROBES: usize = 8;

/// Labels kept per ideal by the heuristic pass.
const BEAM: usize = 8;

/// The exact reductions of [`solve_latency`]: nodes fixed on a CPU at time 0 and satellites.
struct Reduction<'a> {
    inst: &'a Instance,
    /// The instance the search runs on.
    core: Instance,
    /// Original index of each core node.
    core_of: Vec<usize>,
    /// Satellites (original indices) of each core node.
    sats_of: Vec<Vec<usize>>,
    /// Satellite summary of each core node.
    host: Vec<Option<Host>>,
}

impl<'a> Reduction<'a> {
    fn new(inst: &'a Instance, q: usize) -> Reduction<'a> {
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
    fn lift(&self, plan: &LatencyPlan) -> LatencyPlan {
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
fn satellite_decision(
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

fn satellite_choice(host: &[Option<Host>], hosts: &[(usize, bool)], room: f64) -> Vec<bool> {
    satellite_decision(host, hosts, room).1
}

/// The sub-instance on the kept nodes (edges between kept nodes only), and the original
/// index of each of its nodes.
fn induced(inst: &Instance, keep: &[bool]) -> (Instance, Vec<usize>) {
    let of: Vec<usize> = (0..inst.len()).filter(|&u| keep[u]).collect();
    let mut index = vec![usize::MAX; inst.len()];
    for (c, &u) in of.iter().enumerate() {
        index[u] = c;
    }
    let mut class_map: BTreeMap<usize, usize> = BTreeMap::new();
    let mut class = Vec::with_capacity(of.len());
    for &u in &of {
        let next = class_map.len();
        class.push(*class_map.entry(inst.class[u]).or_insert(next));
    }
    let pick = |v: &Vec<f64>| of.iter().map(|&u| v[u]).collect::<Vec<f64>>();
    let adj = |lists: &Vec<Vec<usize>>| {
        of.iter()
            .map(|&u| {
                lists[u]
                    .iter()
                    .filter(|&&w| keep[w])
                    .map(|&w| index[w])
                    .collect::<Vec<usize>>()
            })
            .collect::<Vec<_>>()
    };
    let sub = Instance {
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
    };
    (sub, of)
}

/// The latency of a max-load placement run as one input: each accelerator's nodes form one
/// subgraph, CPU nodes run on the CPUs. `None` when that is not a valid schedule (the
/// device sets exchange data both ways, as training placements do, or break memory).
///
/// # Complexity
/// O((n + m) log n).
pub fn latency_of_placement(inst: &Instance, placement: &crate::eval::Placement) -> Option<f64> {
    let index: std::collections::BTreeMap<NodeId, usize> = inst
        .ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let mut plan: LatencyPlan = vec![None; inst.len()];
    for d in &placement.devices {
        if d.kind == crate::eval::DeviceKind::Accelerator {
            for id in &d.nodes {
                plan[*index.get(id)?] = Some((d.index, 0));
            }
        }
    }
    evaluate_plan(inst, &plan, 1).map(|s| s.latency)
}

/// The authors' latency greedy baseline: colocation classes and cycles contracted into
/// inseparable blocks (over all edges), blocks in a depth-first topological order, each
/// accelerator filled with consecutive blocks while its memory allows; blocks that fit on
/// no accelerator (too big, unsupported, or all accelerators used) go to the CPUs. Returns
/// the evaluated schedule, or `None` when a block fits nowhere (no CPUs).
///
/// # Complexity
/// O((n + m) log n).
pub fn latency_greedy(inst: &Instance) -> Option<LatencySchedule> {
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let con = Contraction::all_edges(inst, false);
    let order = crate::baselines::dfs_topo_order(&con);
    let (k, cap) = (inst.devices.accelerators, inst.devices.accelerator_memory);
    let fits = |g: usize| con.supported[g] && con.size[g] <= cap;
    let mut plan: LatencyPlan = vec![None; inst.len()];
    let mut used = 0usize;
    let mut i = 0;
    while i < order.len() {
        let g = order[i];
        if !fits(g) || used == k {
            i += 1; // CPU
            continue;
        }
        let mut size = 0.0;
        while i < order.len() && fits(order[i]) && size + con.size[order[i]] <= cap {
            size += con.size[order[i]];
            for &u in &con.groups[order[i]] {
                plan[u] = Some((used, 0));
            }
            i += 1;
        }
        used += 1;
    }
    evaluate_plan(inst, &plan, 1)
}

/// The plan of a schedule (positions in execution order on each accelerator).
fn plan_of(inst: &Instance, schedule: &LatencySchedule) -> LatencyPlan {
    let index: std::collections::BTreeMap<NodeId, usize> = inst
        .ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    let mut plan: LatencyPlan = vec![None; inst.len()];
    let mut next: std::collections::BTreeMap<usize, usize> = Default::default();
    for s in &schedule.subgraphs {
        let pos = next.entry(s.accelerator).or_insert(0);
        for id in &s.nodes {
            if let Some(&u) = index.get(id) {
                plan[u] = Some((s.accelerator, *pos));
            }
        }
        *pos += 1;
    }
    plan
}

fn finish_stopped(
    inst: &Instance,
    q: usize,
    best: Option<(f64, LatencyPlan)>,
    reason: StopReason,
    lb: f64,
    labels: u64,
    ideals: usize,
) -> Result<LatencySolution, PlaceError> {
    let Some((_, plan)) = best else {
        return Err(PlaceError::Unsupported(format!(
            "the latency search stopped ({reason}) before finding any schedule; raise the budget"
        )));
    };
    let schedule = evaluate_plan(inst, &plan, q).ok_or_else(|| {
        PlaceError::Verification("heuristic latency plan does not evaluate".into())
    })?;
    let status = ProofStatus::stopped(reason, lb, schedule.latency);
    Ok(LatencySolution {
        schedule,
        status,
        labels,
        ideals,
        pairs: 0,
    })
}

fn node_topo(inst: &Instance) -> Vec<usize> {
    let n = inst.len();
    let mut indeg: Vec<usize> = inst.pred.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..n).rev().filter(|&u| indeg[u] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(u) = stack.pop() {
        order.push(u);
        for &v in inst.succ[u].iter().rev() {
            indeg[v] -= 1;
            if indeg[v] == 0 {
                stack.push(v);
            }
        }
    }
    order
}

/// Starting plans: all on CPU (when allowed) and a chain split into at most k subgraphs
/// minimising the sum of subgraph durations under the memory limit.
fn initial_plans(inst: &Instance, con: &Contraction, max_bytes: u64) -> Vec<LatencyPlan> {
    let n = inst.len();
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut plans = Vec::new();
    if l > 0 {
        plans.push(vec![None; n]);
    }
    let ng = con.len();
    let k = k.min(ng);
    // tables: (ng+1)² durations and (ng+1)(k+1) values and back pointers
    let bytes = (ng + 1)
        .checked_mul(ng + 1)
        .and_then(|x| x.checked_mul(8))
        .and_then(|x| x.checked_add((ng + 1).checked_mul(k + 1)?.checked_mul(32)?));
    if k == 0 || !bytes.is_some_and(|b| b as u64 <= max_bytes) {
        return plans;
    }
    // group order: con numbering is topological
    let mut tr = CommTracker::new(n);
    let idx = |i: usize, j: usize| i * (ng + 1) + j;
    let mut dur = vec![f64::INFINITY; (ng + 1) * (ng + 1)];
    for i in 0..ng {
        let (mut p, mut s, mut c, mut sup) = (0.0, 0.0, 0.0, true);
        for j in i..ng {
            p += con.p_acc[j];
            s += con.size[j];
            sup &= con.supported[j];
            c += tr.add(inst, &con.groups[j]);
            if sup && s <= inst.devices.accelerator_memory {
                dur[idx(i, j + 1)] = p + c;
            }
        }
        for j in i..ng {
            tr.remove(inst, &con.groups[j]);
        }
    }
    // best[j][a]: min total duration for the first j groups in at most a subgraphs,
    // unsupported groups may go to CPU as single-group pieces when l > 0
    let mut best = vec![vec![f64::INFINITY; k + 1]; ng + 1];
    let mut back = vec![vec![(usize::MAX, false); k + 1]; ng + 1];
    best[0].iter_mut().for_each(|x| *x = 0.0);
    for j in 1..=ng {
        for a in 0..=k {
            if l > 0 {
                let v = best[j - 1][a] + con.p_cpu[j - 1];
                if v < best[j][a] {
                    best[j][a] = v;
                    back[j][a] = (j - 1, false);
                }
            }
            if a > 0 {
                for i in 0..j {
                    let v = best[i][a - 1] + dur[idx(i, j)];
                    if v < best[j][a] {
                        best[j][a] = v;
                        back[j][a] = (i, true);
                    }
                }
            }
        }
    }
    if best[ng][k].is_finite() {
        let mut plan: LatencyPlan = vec![None; n];
        let (mut j, mut a) = (ng, k);
        let mut acc = 0;
        while j > 0 {
            let (i, on_acc) = back[j][a];
            if i == usize::MAX {
                return plans;
            }
            if on_acc {
                for g in i..j {
                    for &u in &con.groups[g] {
                        plan[u] = Some((acc, 0));
                    }
                }
                acc += 1;
                a -= 1;
            }
            j = i;
        }
        plans.push(plan);
    }
    plans
}
