//! The path lower bound of the latency search: post-dominator regions and memory buckets.

use crate::model::Instance;
use std::time::Instant;

/// Post-dominator regions of a DAG. Node e post-dominates v when every path from v to a
/// sink passes through e; the region of v and its immediate post-dominator e is every node
/// strictly between them (descendants of v that are ancestors of e). A convex subgraph that
/// holds v and e holds the whole region, so its duration counts all of the region's work
/// and memory (an inception module between its fork and its concat, for instance).
pub(super) struct Regions {
    /// Per node v: (immediate post-dominator e, Σ p_acc and Σ size of the region strictly
    /// between, all of it supported, whether it is empty), when e is a node (not the
    /// virtual sink).
    pub(super) exit: Vec<Option<(usize, f64, f64, bool, bool)>>,
    /// Per node x: (e, slot) for every exit e whose region (from some v) holds x.
    pub(super) within: Vec<Vec<(usize, usize)>>,
    /// Slots in use.
    pub(super) slots: usize,
}

impl Regions {
    /// Graphs larger than this get no regions (the reachability sets are quadratic).
    const MAX_NODES: usize = 16_384;
    /// At most this many (node, exit) slots (each holds a row of memory buckets).
    const MAX_SLOTS: usize = 8_192;

    pub(super) fn new(inst: &Instance, topo: &[usize], deadline: Option<Instant>) -> Regions {
        let n = inst.len();
        let mut out = Regions {
            exit: vec![None; n],
            within: vec![Vec::new(); n],
            slots: 0,
        };
        if !(3..=Self::MAX_NODES).contains(&n) || topo.len() != n {
            return out;
        }
        // O(n²): past the deadline, the per-node rule alone (as with too many rows)
        let late = || deadline.is_some_and(|d| Instant::now() >= d);
        let none = |n: usize| Regions {
            exit: vec![None; n],
            within: vec![Vec::new(); n],
            slots: 0,
        };
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
            if v % 256 == 0 && late() {
                return none(n);
            }
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
            if e % 256 == 0 && late() {
                return none(n);
            }
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
    pub(super) fn slot(&self, x: usize, e: usize) -> Option<usize> {
        self.within[x].iter().find(|r| r.0 == e).map(|r| r.1)
    }
}

/// Memory buckets of the path bound (see [`PathBound`]).
pub(super) const BUCKETS: usize = 1024;

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
pub(super) struct PathBound {
    /// From v on a CPU.
    pub(super) hc: Vec<f64>,
    /// From v on an accelerator, first path node of its subgraph.
    pub(super) ha0: Vec<f64>,
    /// From v on an accelerator after `b` buckets of memory: `ha[v * (BUCKETS + 2) + b]`.
    pub(super) ha: Vec<f64>,
    /// Bucket width, M / BUCKETS.
    pub(super) delta: f64,
}

impl PathBound {
    pub(super) fn new(inst: &Instance, topo: &[usize]) -> PathBound {
        PathBound::new_until(inst, topo, None)
    }

    /// [`PathBound::new`]; past `deadline` the post-dominator regions (O(n²) to find) are
    /// left out, which weakens the bound but keeps it valid.
    pub(super) fn new_until(
        inst: &Instance,
        topo: &[usize],
        deadline: Option<Instant>,
    ) -> PathBound {
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
        let reg = Regions::new(inst, topo, deadline);
        let mut hc = vec![inf; n];
        let mut ha = vec![inf; n * width];
        // `hin[slot * width + b]` for the slot of (x, e): like `ha` for x, when the path's
        // subgraph at x must not hold e (it holds a node whose post-dominator region, up to
        // e, it does not hold whole)
        let mut hin = vec![inf; reg.slots * width];
        for (at, &v) in topo.iter().rev().enumerate() {
            if at % 256 == 255 && deadline.is_some_and(|d| Instant::now() >= d) {
                // out of time: no path bound (0 bounds every remaining time)
                return PathBound {
                    hc: vec![0.0; n],
                    ha0: vec![0.0; n],
                    ha: vec![0.0; n * width],
                    delta,
                };
            }
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

    /// The memory bucket of a subgraph that already holds `mem` memory, for
    /// [`PathBound::beyond`] (one per subgraph, shared by its edges).
    #[inline]
    pub(super) fn bucket(&self, mem: f64) -> usize {
        if self.delta.is_finite() && self.delta > 0.0 {
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
        }
    }

    /// Bound on what follows a node z with output cost `c` inside a subgraph whose memory
    /// is in bucket `b` ([`PathBound::bucket`]), along its edge to a successor v outside the
    /// subgraph so far: either the edge leaves the subgraph (z pays the output, v a CPU or a
    /// new subgraph) or v joins it.
    #[inline]
    pub(super) fn beyond(&self, v: usize, c: f64, b: usize) -> f64 {
        let stay = self.ha[v * (BUCKETS + 2) + b];
        stay.min(c + self.hc[v]).min(2.0 * c + self.ha0[v])
    }

    /// The most [`PathBound::beyond`] can be for the edge to v, whatever the subgraph's
    /// memory: it never exceeds the two ways the edge can leave the subgraph, which do not
    /// depend on the memory (the same expressions, so the inequality holds in floating
    /// point too).
    #[inline]
    pub(super) fn beyond_cap(&self, v: usize, c: f64) -> f64 {
        (c + self.hc[v]).min(2.0 * c + self.ha0[v])
    }

    /// Bound from a node v that receives an input from an already placed node with output
    /// cost `c`.
    #[inline]
    pub(super) fn enter(&self, v: usize, c: f64) -> f64 {
        self.hc[v].min(c + self.ha0[v])
    }

    /// Bound from a node v without inputs.
    #[inline]
    pub(super) fn source(&self, v: usize) -> f64 {
        self.hc[v].min(self.ha0[v])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::heuristics::node_topo;
    use crate::model::{load_graph, Instance};

    /// `beyond_cap` bounds `beyond` at every memory bucket, for every edge of a shipped
    /// instance (GNMT, its memory tight enough that the buckets matter), and is reached at
    /// some edges: the latency search skips its pass over a subgraph's edges on it.
    #[test]
    fn beyond_cap_bounds_every_bucket() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/latency/layer_gnmt_inference.json");
        let mut inst = Instance::new(&load_graph(&path).unwrap()).unwrap();
        inst.devices.accelerator_memory = inst.total_size() / 3.0;
        let pb = PathBound::new(&inst, &node_topo(&inst));
        let (mut edges, mut reached, mut below) = (0, 0, 0);
        for z in 0..inst.len() {
            let c = inst.out_cost[z];
            for &v in &inst.succ[z] {
                let cap = pb.beyond_cap(v, c);
                for b in 0..BUCKETS + 2 {
                    let x = pb.beyond(v, c, b);
                    assert!(x <= cap, "edge {z}->{v} bucket {b}: {x} > {cap}");
                    reached += usize::from(x == cap);
                    below += usize::from(x < cap);
                }
                edges += 1;
            }
        }
        assert!(
            edges > 0 && reached > 0 && below > 0,
            "{edges} {reached} {below}"
        );
    }
}
