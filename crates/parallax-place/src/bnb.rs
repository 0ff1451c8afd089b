//! Exact branch and bound for non-contiguous max-load placement (pure Rust).
//!
//! The MILP's LP relaxation is weak on real graphs: it spreads classes fractionally, so its
//! bound is about the total work over the devices (BERT-24: 92.4 / (6 + 0.1 for the CPU)
//! ≈ 15.2, against an optimum of 17.71), while what decides the optimum is how many
//! near-identical layers share an accelerator and a few transfers of 0.002 each. This
//! search reasons about exactly that:
//!
//! 1. **Reduction.** Colocation classes become items. A zero-time, accelerator-supported
//!    group whose memory cannot matter is merged into its neighbour when that never makes
//!    a placement worse: (a) it has no costly output leaving it and all its external
//!    inputs come from one group (merged into that group, or dropped when it has no
//!    inputs: it then costs nothing anywhere); (b) it has no inputs and all its outputs go
//!    to one group. Transfers become *hyperedges* `{u} ∪ succ(u)` over items with cost
//!    c(u): an accelerator pays c(u) when it holds a member and the members are not all on
//!    one device (exactly [`crate::eval::slot_loads`]).
//! 2. **Depth-first search** over items, largest accelerator time first, each to a device
//!    (least loaded first; among empty devices of a kind only the first, which removes the
//!    symmetry of identical devices). Transfers are charged as soon as a hyperedge has
//!    members on two devices. The incumbent (the DP's contiguous optimum) bounds the
//!    search; every better placement found lowers the bound.
//! 3. **Bounds** at every node, against the target `t` (the incumbent less a relative
//!    1e-9): every load below `t`; the remaining work fits the free capacity (the CPUs
//!    absorbing work at their best time ratio); and a *counting* bound — for every prefix
//!    of the remaining items (the N largest), each device holds at most as many of them
//!    as the smallest ones fit its free capacity, and the counts must reach N; and a
//!    *transfer* bound — an accelerator pays at least the minimum hyperedge cut (max flow on
//!    Lawler's network) between its items and the items that cannot join it (placed
//!    elsewhere, too large for what is left, over its memory), which also comes off its
//!    free capacity in the other two bounds.
//! 4. **A root bound with transfers**, tried on every new incumbent: for the items of
//!    accelerator time at least θ (set F), an accelerator holding exactly the set A ⊆ F
//!    pays every hyperedge with members in A and in F \ A. If no A of the needed size
//!    (with its compute and those transfers) fits below `t`, the accelerators and CPUs
//!    cannot hold F and no placement beats the incumbent. This settles BERT-24 at once
//!    (every accelerator holding five layers pays at least six transfers).
//!
//! 5. **Iterative weakening.** The lower bound starts at the largest target the root tests
//!    reject (bisection); passes look for a placement below a target a little above it —
//!    a tight target prunes hard — and each refuted target becomes the proven bound, the
//!    step doubling until the last pass targets the incumbent.
//!
//! A search that runs out of time returns the best placement with that proven bound.

use std::collections::BTreeMap;

use crate::limits::Deadline;
use crate::model::Instance;

/// Relative tolerance of "better than the incumbent" (as [`crate::limits::OPTIMALITY_GAP`]).
const REL_TOL: f64 = 1e-9;

/// Relative slack of the bounds, in the direction of not pruning (float sums).
const TOL: f64 = 1e-12;

/// Enumeration budget (search nodes) of one root-bound subset test.
const SUBSET_BUDGET: u64 = 200_000;

/// Marker of a node that belongs to no item (it costs nothing wherever it goes).
const FREE: usize = usize::MAX;

/// The reduced instance.
#[derive(Debug, Clone)]
pub(crate) struct Reduced {
    /// Item of each node, or [`FREE`].
    pub item_of: Vec<usize>,
    /// Accelerator time of each item (∞ when some member is not supported).
    pub pa: Vec<f64>,
    /// CPU time of each item.
    pub pc: Vec<f64>,
    /// Memory of each item.
    pub size: Vec<f64>,
    /// Hyperedges: member items (ascending, at least two) and cost.
    pub edges: Vec<(Vec<usize>, f64)>,
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, a: usize) -> usize {
        let mut r = a;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut x = a;
        while self.0[x] != r {
            let next = self.0[x];
            self.0[x] = r;
            x = next;
        }
        r
    }
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.0[hi] = lo;
        true
    }
}

/// Builds the items and hyperedges (see the module documentation).
///
/// # Complexity
/// O(n + m) per merging round, at most n rounds.
pub(crate) fn reduce(inst: &Instance) -> Reduced {
    let n = inst.len();
    let mut uf = UnionFind((0..n).collect());
    let members = inst.class_members();
    for m in &members {
        for w in m.windows(2) {
            uf.union(w[0], w[1]);
        }
    }
    let cap = inst.devices.accelerator_memory;
    let memory_free = inst.total_size() <= cap;
    let mut free_root = vec![false; n];
    loop {
        let mut changed = false;
        let root: Vec<usize> = (0..n).map(|u| uf.find(u)).collect();
        // per group: zero (time, support, memory), external input groups, costly output,
        // external output groups
        let mut zero = vec![true; n];
        let mut size = vec![0.0f64; n];
        for u in 0..n {
            let r = root[u];
            if inst.p_acc[u] != 0.0 || inst.p_cpu[u] != 0.0 || !inst.supported[u] {
                zero[r] = false;
            }
            size[r] += inst.size[u];
        }
        let mut in_groups: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut out_groups: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut costly_out = vec![false; n];
        for u in 0..n {
            for &v in &inst.succ[u] {
                let (ru, rv) = (root[u], root[v]);
                if ru == rv {
                    continue;
                }
                out_groups[ru].push(rv);
                in_groups[rv].push(ru);
                if inst.out_cost[u] > 0.0 {
                    costly_out[ru] = true;
                }
            }
        }
        for r in 0..n {
            free_root[r] = false;
            if root[r] != r || !zero[r] || !(memory_free || size[r] == 0.0) {
                continue;
            }
            in_groups[r].sort_unstable();
            in_groups[r].dedup();
            out_groups[r].sort_unstable();
            out_groups[r].dedup();
            if !costly_out[r] && in_groups[r].len() <= 1 {
                match in_groups[r].first() {
                    Some(&h) => changed |= uf.union(r, h),
                    None => free_root[r] = true,
                }
            } else if in_groups[r].is_empty() && out_groups[r].len() == 1 {
                changed |= uf.union(r, out_groups[r][0]);
            }
        }
        if !changed {
            break;
        }
    }
    // number the items by their first node
    let mut item_of = vec![FREE; n];
    let mut index: BTreeMap<usize, usize> = BTreeMap::new();
    for u in 0..n {
        let r = uf.find(u);
        if free_root[r] {
            continue;
        }
        let next = index.len();
        item_of[u] = *index.entry(r).or_insert(next);
    }
    let ni = index.len();
    let mut pa = vec![0.0f64; ni];
    let mut pc = vec![0.0f64; ni];
    let mut size = vec![0.0f64; ni];
    for u in 0..n {
        let i = item_of[u];
        if i == FREE {
            continue;
        }
        pa[i] += if inst.supported[u] {
            inst.p_acc[u]
        } else {
            f64::INFINITY
        };
        pc[i] += inst.p_cpu[u];
        size[i] += inst.size[u];
    }
    let mut merged: BTreeMap<Vec<usize>, f64> = BTreeMap::new();
    for u in 0..n {
        if inst.out_cost[u] == 0.0 || item_of[u] == FREE {
            continue;
        }
        let mut e: Vec<usize> = std::iter::once(item_of[u])
            .chain(inst.succ[u].iter().map(|&v| item_of[v]))
            .filter(|&i| i != FREE)
            .collect();
        e.sort_unstable();
        e.dedup();
        if e.len() >= 2 {
            *merged.entry(e).or_insert(0.0) += inst.out_cost[u];
        }
    }
    Reduced {
        item_of,
        pa,
        pc,
        size,
        edges: merged.into_iter().collect(),
    }
}

/// The result of [`search`].
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Device slot of every node (accelerators `0..k`, CPUs `k..`); the incumbent's when
    /// nothing better was found.
    pub slot: Vec<usize>,
    /// Whether the search found a placement better than the incumbent.
    pub improved: bool,
    /// The search was exhausted: nothing beats the returned placement by more than the
    /// relative tolerance.
    pub optimal: bool,
    /// A proven lower bound on the optimum (root bounds), when not optimal.
    pub lower_bound: f64,
    /// Search nodes visited.
    pub nodes: u64,
    /// Items after the reduction.
    pub items: usize,
    /// Hyperedges after the reduction.
    pub hyperedges: usize,
}

struct Search<'a> {
    inst: &'a Instance,
    red: Reduced,
    k: usize,
    nd: usize,
    cap: f64,
    overlap: bool,
    /// Items, largest accelerator time first.
    order: Vec<usize>,
    /// Hyperedges of each item.
    inc: Vec<Vec<usize>>,
    /// Σ pa of supported items in order[d..].
    suffix_pa: Vec<f64>,
    /// Σ pa of supported items with pc = 0 in order[d..] (a CPU takes them for free).
    suffix_free_pa: Vec<f64>,
    /// Largest pa/pc over supported items with pc > 0 in order[d..].
    suffix_ratio: Vec<f64>,
    /// Σ pc of unsupported items in order[d..].
    suffix_unsup_pc: Vec<f64>,
    /// prefix[i] = Σ pa of order[..i] (all supported when `all_supported`).
    prefix: Vec<f64>,
    all_supported: bool,
    // state
    comp: Vec<f64>,
    comm: Vec<f64>,
    mem: Vec<f64>,
    used: Vec<usize>,
    count: Vec<u32>,
    ndev: Vec<u32>,
    assign: Vec<usize>,
    trail: Vec<(u8, usize, f64)>,
    nodes: u64,
    net: FlowNet,
    /// Per accelerator, the transfer bound of the current node (0 when not computed): its
    /// final transfers are at least this.
    cut_lb: Vec<f64>,
    /// The solve's deadline (the root tests stop rejecting once it has passed).
    deadline: Deadline,
}

/// Lawler's network of the hyperedges: item vertices `0..ni`, then an in and an out
/// vertex per hyperedge; members reach the in vertex and leave the out vertex through
/// uncapacitated arcs, and the in → out arc carries the hyperedge's cost. A minimum cut
/// between two item sets is then the cheapest set of hyperedges separating them.
struct FlowNet {
    ni: usize,
    /// Arcs leaving each vertex (arc `a` and its reverse `a ^ 1`).
    adj: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<f64>,
    // scratch
    res: Vec<f64>,
    seen: Vec<u32>,
    epoch: u32,
    parent: Vec<usize>,
    queue: Vec<usize>,
}

/// An uncapacitated arc.
const BIG: f64 = 1e300;

impl FlowNet {
    fn new(ni: usize, edges: &[(Vec<usize>, f64)]) -> FlowNet {
        let ne = edges.len();
        let nv = ni + 2 * ne;
        let mut net = FlowNet {
            ni,
            adj: vec![Vec::new(); nv],
            to: Vec::new(),
            cap: Vec::new(),
            res: Vec::new(),
            seen: vec![0; nv],
            epoch: 0,
            parent: vec![usize::MAX; nv],
            queue: Vec::new(),
        };
        for (e, (m, c)) in edges.iter().enumerate() {
            let (vin, vout) = (ni + e, ni + ne + e);
            for &x in m {
                net.arc(x, vin, BIG);
                net.arc(vout, x, BIG);
            }
            net.arc(vin, vout, *c);
        }
        net.res = net.cap.clone();
        net
    }

    fn arc(&mut self, a: usize, b: usize, c: f64) {
        self.adj[a].push(self.to.len());
        self.to.push(b);
        self.cap.push(c);
        self.adj[b].push(self.to.len());
        self.to.push(a);
        self.cap.push(0.0);
    }

    /// The minimum cut separating the items with `side(x) == 1` from those with
    /// `side(x) == 2` (items with 0 may go either way), or a value of at least `stop`
    /// once the flow reaches it.
    fn min_cut(&mut self, side: impl Fn(usize) -> u8, stop: f64) -> f64 {
        self.res.copy_from_slice(&self.cap);
        let mut flow = 0.0;
        while flow < stop {
            self.epoch = self.epoch.wrapping_add(1);
            if self.epoch == 0 {
                self.seen.iter_mut().for_each(|x| *x = 0);
                self.epoch = 1;
            }
            self.queue.clear();
            for x in 0..self.ni {
                if side(x) == 1 {
                    self.seen[x] = self.epoch;
                    self.parent[x] = usize::MAX;
                    self.queue.push(x);
                }
            }
            let mut head = 0;
            let mut reached = usize::MAX;
            'bfs: while head < self.queue.len() {
                let v = self.queue[head];
                head += 1;
                for &a in &self.adj[v] {
                    if self.res[a] <= 0.0 {
                        continue;
                    }
                    let w = self.to[a];
                    if self.seen[w] == self.epoch {
                        continue;
                    }
                    self.seen[w] = self.epoch;
                    self.parent[w] = a;
                    if w < self.ni && side(w) == 2 {
                        reached = w;
                        break 'bfs;
                    }
                    self.queue.push(w);
                }
            }
            if reached == usize::MAX {
                break;
            }
            // bottleneck along the path
            let mut b = f64::INFINITY;
            let mut v = reached;
            while self.parent[v] != usize::MAX {
                let a = self.parent[v];
                b = b.min(self.res[a]);
                v = self.to[a ^ 1];
            }
            if b >= BIG {
                // an uncapacitated path: the sides touch through free arcs only
                return f64::INFINITY;
            }
            let mut v = reached;
            while self.parent[v] != usize::MAX {
                let a = self.parent[v];
                self.res[a] -= b;
                self.res[a ^ 1] += b;
                v = self.to[a ^ 1];
            }
            flow += b;
        }
        flow
    }
}

impl<'a> Search<'a> {
    fn new(inst: &'a Instance, red: Reduced) -> Search<'a> {
        let k = inst.devices.accelerators;
        let nd = k + inst.devices.cpus;
        let ni = red.pa.len();
        let key = |i: usize| {
            if red.pa[i].is_finite() {
                red.pa[i]
            } else {
                red.pc[i]
            }
        };
        let mut order: Vec<usize> = (0..ni).collect();
        order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
        let mut inc = vec![Vec::new(); ni];
        for (e, (m, _)) in red.edges.iter().enumerate() {
            for &i in m {
                inc[i].push(e);
            }
        }
        let mut suffix_pa = vec![0.0; ni + 1];
        let mut suffix_free_pa = vec![0.0; ni + 1];
        let mut suffix_ratio = vec![0.0f64; ni + 1];
        let mut suffix_unsup_pc = vec![0.0; ni + 1];
        for d in (0..ni).rev() {
            let i = order[d];
            let (pa, pc) = (red.pa[i], red.pc[i]);
            suffix_pa[d] = suffix_pa[d + 1];
            suffix_free_pa[d] = suffix_free_pa[d + 1];
            suffix_ratio[d] = suffix_ratio[d + 1];
            suffix_unsup_pc[d] = suffix_unsup_pc[d + 1];
            if pa.is_finite() {
                suffix_pa[d] += pa;
                if pc == 0.0 {
                    suffix_free_pa[d] += pa;
                } else {
                    suffix_ratio[d] = suffix_ratio[d].max(pa / pc);
                }
            } else {
                suffix_unsup_pc[d] += pc;
            }
        }
        let all_supported = red.pa.iter().all(|p| p.is_finite());
        let mut prefix = vec![0.0; ni + 1];
        for d in 0..ni {
            prefix[d + 1] = prefix[d] + if all_supported { key(order[d]) } else { 0.0 };
        }
        let ne = red.edges.len();
        Search {
            inst,
            k,
            nd,
            cap: inst.devices.accelerator_memory,
            overlap: inst.overlap,
            order,
            inc,
            suffix_pa,
            suffix_free_pa,
            suffix_ratio,
            suffix_unsup_pc,
            prefix,
            all_supported,
            comp: vec![0.0; nd],
            comm: vec![0.0; nd],
            mem: vec![0.0; nd],
            used: vec![0; nd],
            count: vec![0; ne * nd],
            ndev: vec![0; ne],
            assign: vec![FREE; ni],
            trail: Vec::new(),
            nodes: 0,
            net: FlowNet::new(ni, &red.edges),
            cut_lb: vec![0.0; nd],
            deadline: Deadline::NONE,
            red,
        }
    }

    fn load(&self, d: usize) -> f64 {
        if d < self.k {
            self.inst.acc_load(self.comp[d], self.comm[d])
        } else {
            self.comp[d]
        }
    }

    /// Capacity of device `d` for compute below the target (`t` itself for an empty
    /// device, or for every device when `empty`).
    fn free(&self, d: usize, t: f64, empty: bool) -> f64 {
        if empty {
            return t;
        }
        let used = if d < self.k && !self.overlap {
            self.comp[d] + self.comm[d].max(self.cut_lb[d])
        } else {
            self.comp[d]
        };
        (t - used).max(0.0)
    }

    fn charge(&mut self, d: usize, c: f64) {
        if d < self.k {
            self.trail.push((1, d, self.comm[d]));
            self.comm[d] += c;
        }
    }

    /// Puts item `i` on device `d`; returns whether every load stays below `t` and the
    /// memory fits.
    fn assign(&mut self, i: usize, d: usize, t: f64) -> bool {
        let nd = self.nd;
        self.trail.push((0, d, self.comp[d]));
        self.trail.push((2, d, self.mem[d]));
        self.comp[d] += if d < self.k {
            self.red.pa[i]
        } else {
            self.red.pc[i]
        };
        self.mem[d] += self.red.size[i];
        self.used[d] += 1;
        self.assign[i] = d;
        let mut ok = self.load(d) < t && (d >= self.k || self.mem[d] <= self.cap);
        for x in 0..self.inc[i].len() {
            let e = self.inc[i][x];
            self.count[e * nd + d] += 1;
            if self.count[e * nd + d] != 1 {
                continue;
            }
            let before = self.ndev[e];
            self.ndev[e] += 1;
            let cost = self.red.edges[e].1;
            if before == 1 {
                let other = (0..nd)
                    .find(|&y| y != d && self.count[e * nd + y] > 0)
                    .unwrap_or(d);
                self.charge(other, cost);
                self.charge(d, cost);
                ok &= self.load(other) < t;
            } else if before >= 2 {
                self.charge(d, cost);
            }
        }
        ok && self.load(d) < t
    }

    fn unassign(&mut self, i: usize, d: usize, mark: usize) {
        let nd = self.nd;
        for x in 0..self.inc[i].len() {
            let e = self.inc[i][x];
            self.count[e * nd + d] -= 1;
            if self.count[e * nd + d] == 0 {
                self.ndev[e] -= 1;
            }
        }
        self.used[d] -= 1;
        self.assign[i] = FREE;
        while self.trail.len() > mark {
            if let Some((what, dev, old)) = self.trail.pop() {
                match what {
                    0 => self.comp[dev] = old,
                    1 => self.comm[dev] = old,
                    _ => self.mem[dev] = old,
                }
            }
        }
    }

    /// Whether the bounds prove that no completion of the current state (items
    /// `order[depth..]` unassigned) has every load below `t`.
    /// With `empty`, the bounds of the root (no item placed) whatever the state.
    fn pruned(&mut self, depth: usize, t: f64, empty: bool) -> bool {
        let (k, nd) = (self.k, self.nd);
        if !empty && (0..nd).any(|d| self.load(d) >= t) {
            return true;
        }
        if !empty && self.transfers_prune(t) {
            return true;
        }
        let tol = TOL * t;
        // capacity
        let free_acc: f64 = (0..k).map(|d| self.free(d, t, empty)).sum();
        let mut free_cpu: f64 = (k..nd).map(|d| self.free(d, t, empty)).sum();
        free_cpu -= self.suffix_unsup_pc[depth];
        if free_cpu < -tol {
            return true;
        }
        let free_cpu = free_cpu.max(0.0);
        let absorbed = self.suffix_free_pa[depth] + free_cpu * self.suffix_ratio[depth];
        if self.suffix_pa[depth] - absorbed > free_acc + tol {
            return true;
        }
        // counting
        if !self.all_supported {
            return false;
        }
        let ni = self.order.len();
        let mut j = vec![0usize; nd];
        let mut min_pc = f64::INFINITY;
        for i in depth + 1..=ni {
            let n = i - depth;
            min_pc = min_pc.min(self.red.pc[self.order[i - 1]]);
            let mut total = 0usize;
            for d in 0..k {
                let f = self.free(d, t, empty) + tol;
                let jd = &mut j[d];
                while *jd < n && self.prefix[i] - self.prefix[i - *jd - 1] <= f {
                    *jd += 1;
                }
                total += *jd;
            }
            if total >= n {
                continue;
            }
            if min_pc <= 0.0 {
                return false;
            }
            for d in k..nd {
                total += ((self.free(d, t, empty) + tol) / min_pc)
                    .floor()
                    .min(n as f64) as usize;
            }
            if total < n {
                return true;
            }
        }
        false
    }

    /// The transfer bound: an accelerator holding items A pays at least the minimum
    /// hyperedge cut between A and the items that cannot join it (placed elsewhere, or
    /// too large for what is left below `t`, or over its memory); unplaced items that fit
    /// may go either way. Whether that proves some accelerator reaches `t`.
    fn transfers_prune(&mut self, t: f64) -> bool {
        self.cut_lb.iter_mut().for_each(|x| *x = 0.0);
        if self.red.edges.is_empty() {
            return false;
        }
        for d in 0..self.k {
            if self.used[d] == 0 {
                continue;
            }
            let (comp, mem) = (self.comp[d], self.mem[d]);
            // an item joining d adds its time to the compute; the transfers already
            // charged stay (their hyperedges have members elsewhere)
            let base = if self.overlap { comp } else { self.load(d) };
            // the cut needed to reach t (with overlap the transfers alone must reach it)
            let stop = if self.overlap { t } else { t - comp };
            if stop <= self.comm[d] {
                continue; // already checked by the loads
            }
            let (assign, pa, size, cap) = (&self.assign, &self.red.pa, &self.red.size, self.cap);
            let side = |x: usize| -> u8 {
                let a = assign[x];
                if a == d {
                    1
                } else if a != FREE
                    || !pa[x].is_finite()
                    || base + pa[x] >= t
                    || mem + size[x] > cap
                {
                    2
                } else {
                    0
                }
            };
            let cut = self.net.min_cut(side, stop);
            if cut >= stop {
                return true;
            }
            self.cut_lb[d] = cut;
        }
        false
    }

    /// The root bound with transfers (module documentation, point 4): whether it proves
    /// that no placement has every load below `t`. `budget` caps the subset enumeration.
    fn root_rejects(&mut self, t: f64, budget: &mut u64) -> bool {
        if self.pruned(0, t, true) {
            return true;
        }
        if !self.all_supported || self.k == 0 {
            return false;
        }
        let (k, l) = (self.k, self.nd - self.k);
        let ni = self.order.len();
        let tol = TOL * t;
        let mut pcs: Vec<f64> = Vec::new();
        for i in 1..=ni {
            let smallest = self.red.pa[self.order[i - 1]];
            if smallest <= 0.0 || self.deadline.passed() {
                break;
            }
            let pc = self.red.pc[self.order[i - 1]];
            let at = pcs.partition_point(|&x| x <= pc);
            pcs.insert(at, pc);
            // most items of F one CPU can hold
            let mut jc = 0usize;
            let mut s = 0.0;
            for &x in &pcs {
                if s + x > t + tol {
                    break;
                }
                s += x;
                jc += 1;
            }
            let need = i.saturating_sub(l * jc);
            if need == 0 {
                continue;
            }
            let per_acc = need.div_ceil(k);
            // most items of F one accelerator can hold by compute alone
            let mut j0 = 0usize;
            while j0 < i && self.prefix[i] - self.prefix[i - j0 - 1] <= t + tol {
                j0 += 1;
            }
            if j0 < per_acc {
                return true;
            }
            let mut all_rejected = true;
            for j in (per_acc..=j0).rev() {
                match self.subset_fits(i, j, t, budget) {
                    Some(false) => {}
                    _ => {
                        all_rejected = false;
                        break;
                    }
                }
            }
            if all_rejected {
                return true;
            }
        }
        false
    }

    /// Whether some set A of exactly `j` items of F = order[..i] fits one accelerator
    /// below `t` with its compute, memory and the hyperedges it shares with F \ A:
    /// `Some(false)` when none does, `None` when the budget ran out.
    fn subset_fits(&self, i: usize, j: usize, t: f64, budget: &mut u64) -> Option<bool> {
        // F ascending by pa
        let f: Vec<usize> = self.order[..i].iter().rev().copied().collect();
        let mut fpos = vec![usize::MAX; self.red.pa.len()];
        for (q, &x) in f.iter().enumerate() {
            fpos[x] = q;
        }
        let ne = self.red.edges.len();
        let mut has_in = vec![0u32; ne];
        let mut has_out = vec![0u32; ne];
        let mut ctx = SubsetCtx {
            f: &f,
            j,
            t,
            tol: TOL * t,
            chosen: Vec::new(),
            fpos: &fpos,
            budget,
            has_in: &mut has_in,
            has_out: &mut has_out,
        };
        self.subset_rec(&mut ctx, 0, 0, 0.0, 0.0, 0.0)
    }

    #[allow(clippy::too_many_arguments)]
    fn subset_rec(
        &self,
        ctx: &mut SubsetCtx<'_>,
        pos: usize,
        chosen: usize,
        p: f64,
        size: f64,
        cut: f64,
    ) -> Option<bool> {
        if *ctx.budget == 0 {
            return None;
        }
        *ctx.budget -= 1;
        let bound = |p: f64, cut: f64| if self.overlap { p.max(cut) } else { p + cut };
        if bound(p, cut) >= ctx.t + ctx.tol || size > self.cap {
            return Some(false);
        }
        if chosen == ctx.j {
            // the rest of F is excluded: add the hyperedges that become cut
            let mut extra = 0.0;
            let mut seen: Vec<usize> = Vec::new();
            for &a in &ctx.chosen {
                for &e in &self.inc[a] {
                    if ctx.has_out[e] > 0 || seen.contains(&e) {
                        continue;
                    }
                    seen.push(e);
                    let (m, c) = &self.red.edges[e];
                    if m.iter()
                        .any(|&x| ctx.fpos[x] != usize::MAX && ctx.fpos[x] >= pos)
                    {
                        extra += c;
                    }
                }
            }
            return Some(bound(p, cut + extra) < ctx.t + ctx.tol);
        }
        let left = ctx.j - chosen;
        if ctx.f.len() - pos < left {
            return Some(false);
        }
        // the smallest `left` items from pos on
        let smallest: f64 = ctx.f[pos..pos + left].iter().map(|&x| self.red.pa[x]).sum();
        if bound(p + smallest, cut) >= ctx.t + ctx.tol {
            return Some(false);
        }
        let x = ctx.f[pos];
        // take x
        let mut dcut = 0.0;
        ctx.chosen.push(x);
        for &e in &self.inc[x] {
            ctx.has_in[e] += 1;
            if ctx.has_in[e] == 1 && ctx.has_out[e] > 0 {
                dcut += self.red.edges[e].1;
            }
        }
        let r = self.subset_rec(
            ctx,
            pos + 1,
            chosen + 1,
            p + self.red.pa[x],
            size + self.red.size[x],
            cut + dcut,
        );
        for &e in &self.inc[x] {
            ctx.has_in[e] -= 1;
        }
        ctx.chosen.pop();
        match r {
            Some(false) => {}
            other => return other,
        }
        // exclude x
        let mut dcut = 0.0;
        for &e in &self.inc[x] {
            ctx.has_out[e] += 1;
            if ctx.has_out[e] == 1 && ctx.has_in[e] > 0 {
                dcut += self.red.edges[e].1;
            }
        }
        let r = self.subset_rec(ctx, pos + 1, chosen, p, size, cut + dcut);
        for &e in &self.inc[x] {
            ctx.has_out[e] -= 1;
        }
        r
    }

    /// Candidate devices for item `i`: every used device of each kind and the first empty
    /// one, least loaded first.
    fn candidates(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let kinds = [(0, self.k), (self.k, self.nd)];
        for (kind, &(lo, hi)) in kinds.iter().enumerate() {
            if kind == 0 && (!self.red.pa[i].is_finite() || self.red.size[i] > self.cap) {
                continue;
            }
            let mut empty_taken = false;
            for d in lo..hi {
                if self.used[d] == 0 {
                    if empty_taken {
                        continue;
                    }
                    empty_taken = true;
                }
                out.push(d);
            }
        }
        let key = |d: usize| {
            let p = if d < self.k {
                self.red.pa[i]
            } else {
                self.red.pc[i]
            };
            self.load(d) + p
        };
        out.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        out
    }
}

struct SubsetCtx<'b> {
    f: &'b [usize],
    j: usize,
    t: f64,
    tol: f64,
    budget: &'b mut u64,
    has_in: &'b mut Vec<u32>,
    has_out: &'b mut Vec<u32>,
    /// Items taken so far.
    chosen: Vec<usize>,
    /// Position of each item in `f` (`usize::MAX` outside F).
    fpos: &'b [usize],
}

struct Frame {
    cands: Vec<usize>,
    next: usize,
    current: Option<usize>,
    mark: usize,
}

/// The target below which a placement beats `ub`.
fn target(ub: f64) -> f64 {
    if !ub.is_finite() {
        return f64::INFINITY;
    }
    ub - REL_TOL * ub.abs()
}

/// What one depth-first pass returned.
struct Pass {
    /// The best placement found (value, device of each item), if any beat the start.
    best: Option<(f64, Vec<usize>)>,
    /// The pass was exhausted: no placement has every load below its final target.
    exhausted: bool,
}

impl Search<'_> {
    /// Depth-first branch and bound for a placement with every load below `t0`; every
    /// placement found tightens the target to just below its value (and is checked against
    /// the root bound, which may end the pass with a proof).
    fn dfs(&mut self, t0: f64, deadline: Deadline, budget: &mut u64) -> Pass {
        let ni = self.order.len();
        let mut t = t0;
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut frames: Vec<Frame> = Vec::new();
        let mut enter = true;
        loop {
            if enter {
                enter = false;
                let depth = frames.len();
                self.nodes += 1;
                if self.nodes % 1024 == 0 && deadline.passed() {
                    return Pass {
                        best,
                        exhausted: false,
                    };
                }
                if depth == ni {
                    let value = (0..self.nd).map(|d| self.load(d)).fold(0.0, f64::max);
                    if value < t {
                        best = Some((value, self.assign.clone()));
                        t = target(value);
                        if self.root_rejects(t, budget) {
                            return Pass {
                                best,
                                exhausted: true,
                            };
                        }
                    }
                } else if !self.pruned(depth, t, false) {
                    let i = self.order[depth];
                    let cands = self.candidates(i);
                    let mark = self.trail.len();
                    frames.push(Frame {
                        cands,
                        next: 0,
                        current: None,
                        mark,
                    });
                }
            }
            let depth = frames.len();
            let Some(f) = frames.last_mut() else {
                return Pass {
                    best,
                    exhausted: true,
                };
            };
            let i = self.order[depth - 1];
            let mark = f.mark;
            if let Some(d) = f.current.take() {
                self.unassign(i, d, mark);
            }
            let mut descended = false;
            while let Some(f) = frames.last_mut() {
                if f.next >= f.cands.len() {
                    break;
                }
                let d = f.cands[f.next];
                f.next += 1;
                f.current = Some(d);
                if self.assign(i, d, t) {
                    descended = true;
                    break;
                }
                self.unassign(i, d, mark);
                if let Some(f) = frames.last_mut() {
                    f.current = None;
                }
            }
            if descended {
                enter = true;
            } else {
                frames.pop();
            }
        }
    }

    /// The largest target the root tests reject, by bisection between `lo` (a proven
    /// lower bound) and `hi`: a proven lower bound on the optimum.
    fn root_bound(&mut self, lo: f64, hi: f64, budget: &mut u64) -> f64 {
        let (mut lo, mut hi) = (lo.min(hi), hi);
        for _ in 0..60 {
            if hi - lo <= REL_TOL * hi || self.deadline.passed() {
                break;
            }
            let mid = 0.5 * (lo + hi);
            if self.root_rejects(mid, budget) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Searches for the non-contiguous max-load optimum, starting from the incumbent
/// `start` (a valid assignment of value `start_value`, or ∞ with no start).
///
/// Iterative weakening: the lower bound `lb` starts at the root bound; a pass looks for a
/// placement below `lb + step` — a tight target prunes hard — and, exhausted without one,
/// proves `lb + step` a lower bound, after which the step doubles. The last pass targets
/// the incumbent. A pass that finds placements keeps tightening and, exhausted, proves the
/// best of them optimal.
///
/// # Complexity
/// Exponential in the number of items in the worst case; every node costs
/// O(items·devices + incident hyperedges·devices).
pub(crate) fn search(
    inst: &Instance,
    start: &[usize],
    start_value: f64,
    trivial_lb: f64,
    deadline: Deadline,
) -> Outcome {
    let red = reduce(inst);
    let items = red.pa.len();
    let hyperedges = red.edges.len();
    let mut s = Search::new(inst, red);
    s.deadline = deadline;
    let mut ub = start_value;
    let mut best_items: Option<Vec<usize>> = (items == 0).then(Vec::new);
    let mut budget = SUBSET_BUDGET * 20;
    let mut lb = trivial_lb.max(0.0);
    let mut optimal = items == 0;
    if !optimal && ub.is_finite() {
        lb = s.root_bound(lb, ub, &mut budget);
        optimal = lb >= target(ub);
    }
    let mut step = if ub.is_finite() {
        ((ub - lb) / 256.0).max(REL_TOL * ub)
    } else {
        f64::INFINITY
    };
    while !optimal && !deadline.passed() {
        let full = lb + step >= target(ub);
        let t = if full { target(ub) } else { lb + step };
        let mut pass_budget = SUBSET_BUDGET * 20;
        let pass = s.dfs(t, deadline, &mut pass_budget);
        let found = pass.best.is_some();
        if let Some((v, a)) = pass.best {
            ub = v;
            best_items = Some(a);
        }
        if !pass.exhausted {
            break;
        }
        if found || full {
            optimal = true;
        } else {
            lb = lb.max(t);
            step *= 2.0;
        }
    }
    let improved = best_items.is_some();
    let slot = match best_items {
        Some(items_dev) => {
            // a free node costs nothing anywhere; slot 0 is accelerator 0, or CPU 0 when
            // there are no accelerators (free nodes are supported and fit any memory)
            s.red
                .item_of
                .iter()
                .map(|&it| if it == FREE { 0 } else { items_dev[it] })
                .collect()
        }
        None => start.to_vec(),
    };
    Outcome {
        slot,
        improved,
        optimal,
        lower_bound: if optimal { ub } else { lb },
        nodes: s.nodes,
        items,
        hyperedges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Devices, Edge, Graph, Node};

    fn node(id: i64, t: f64, cost: f64) -> Node {
        Node {
            id,
            name: None,
            acc_time: t,
            cpu_time: 10.0 * t,
            memory: 0.0,
            acc_supported: true,
            backward: false,
            class: None,
            output_cost: cost,
        }
    }

    #[test]
    fn min_cut_separates_at_the_cheapest_hyperedges() {
        let edges = vec![(vec![0, 1], 1.0), (vec![1, 2], 2.0), (vec![0, 2], 5.0)];
        let mut net = FlowNet::new(3, &edges);
        // item 1 may join either side: with 2 costs 1 + 5, with 0 costs 2 + 5
        let side = |x: usize| [1u8, 0, 2][x];
        assert!((net.min_cut(side, f64::INFINITY) - 6.0).abs() < 1e-12);
        // item 1 forced to the sink side: 1 + 5
        let side = |x: usize| [1u8, 2, 2][x];
        assert!((net.min_cut(side, f64::INFINITY) - 6.0).abs() < 1e-12);
        // item 1 forced to the source side: 2 + 5
        let side = |x: usize| [1u8, 1, 2][x];
        assert!((net.min_cut(side, f64::INFINITY) - 7.0).abs() < 1e-12);
        // stops once the flow reaches the limit
        assert!(net.min_cut(side, 3.0) >= 3.0);
    }

    #[test]
    fn zero_time_connectors_merge_and_free_sources_drop() {
        // 1 (free source, cost 0) -> 2 (work) -> 3 (zero, cost 0, one input) ; 4 (zero,
        // costly, no input) -> 5 (work)
        let g = Graph {
            devices: Devices {
                accelerators: 2,
                accelerator_memory: f64::INFINITY,
                cpus: 1,
            },
            nodes: vec![
                node(1, 0.0, 0.0),
                node(2, 3.0, 1.0),
                node(3, 0.0, 0.0),
                node(4, 0.0, 2.0),
                node(5, 4.0, 0.0),
            ],
            edges: vec![
                Edge { from: 1, to: 2 },
                Edge { from: 2, to: 3 },
                Edge { from: 4, to: 5 },
            ],
        };
        let inst = Instance::new(&g).expect("valid");
        let red = reduce(&inst);
        assert_eq!(red.item_of[0], FREE);
        assert_eq!(red.item_of[2], red.item_of[1]); // 3 joins 2
        assert_eq!(red.item_of[3], red.item_of[4]); // 4 joins 5
        assert_eq!(red.pa.len(), 2);
        assert!(red.edges.is_empty()); // every transfer became internal
    }

    #[test]
    fn sized_connectors_stay_when_memory_can_bind() {
        let mut a = node(1, 2.0, 1.0);
        a.memory = 1.0;
        let mut z = node(2, 0.0, 0.0);
        z.memory = 1.0;
        let g = Graph {
            devices: Devices {
                accelerators: 2,
                accelerator_memory: 1.5,
                cpus: 0,
            },
            nodes: vec![a, z],
            edges: vec![Edge { from: 1, to: 2 }],
        };
        let inst = Instance::new(&g).expect("valid");
        let red = reduce(&inst);
        assert_eq!(red.pa.len(), 2);
        assert_eq!(red.edges, vec![(vec![0, 1], 1.0)]);
    }
}
