//! Contraction of colocation classes into the forward DAG on which contiguity is judged.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::model::Instance;

/// The forward DAG of *groups*: each group is a set of nodes that always shares a device.
///
/// Built by (1) contracting every colocation class (its backward nodes follow it),
/// (2) fusing strongly connected pieces of the class graph (judged on forward edges, plus
/// mirrored backward edges for classes that have only backward nodes), and (3) optionally
/// folding *trivial* groups — zero time, accelerator-supported, one neighbour group, and
/// either zero memory or memory that can never bind — into their neighbour, which never
/// makes the optimum worse (see [`Contraction::new`]).
///
/// Groups are numbered in a topological order: every forward edge goes from a lower to a
/// higher group number.
#[derive(Debug, Clone)]
pub struct Contraction {
    /// Member node indices of each group, ascending.
    pub groups: Vec<Vec<usize>>,
    /// Group of each node.
    pub group_of: Vec<usize>,
    /// Forward successors of each group (deduplicated, ascending).
    pub succ: Vec<Vec<usize>>,
    /// Forward predecessors of each group (deduplicated, ascending).
    pub pred: Vec<Vec<usize>>,
    /// Σ p_acc of each group.
    pub p_acc: Vec<f64>,
    /// Σ p_cpu of each group.
    pub p_cpu: Vec<f64>,
    /// Σ memory of each group.
    pub size: Vec<f64>,
    /// Whether every member runs on accelerators.
    pub supported: Vec<bool>,
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
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

impl Contraction {
    /// Contracts an instance.
    ///
    /// # Arguments
    /// * `inst` — a validated instance.
    /// * `fold_trivial` — fold trivial groups into their single neighbour. Exact: moving such
    ///   a group next to its neighbour removes no load from a device other than its old one,
    ///   only lowers the loads of both devices involved, keeps both sets convex, and the
    ///   memory condition makes the move always allowed.
    ///
    /// # Complexity
    /// O(n + m) per folding round, O(n·(n + m)) in the worst case.
    pub fn new(inst: &Instance, fold_trivial: bool) -> Contraction {
        Contraction::build(inst, fold_trivial, false, false)
    }

    /// Like [`Contraction::new`] with folding, but folds trivial groups *whatever their
    /// memory* (as the authors' C++ DP does). Not exact when memory binds — a folded group
    /// can no longer leave its neighbour's device — but a *restriction*: every placement
    /// of the folded graph is a placement of the original with the same loads and memory,
    /// so its optimum is an upper bound (and often meets the memory-relaxed lower bound).
    pub fn restricted(inst: &Instance) -> Contraction {
        Contraction::build(inst, true, false, true)
    }

    /// Like [`Contraction::new`], but every edge (forward or backward) orders the groups;
    /// used by the latency objective, where all edges are data dependencies of one input.
    /// Folding stays exact there: a folded group takes no time, has no other inputs or
    /// outputs, and joining its neighbour's block or CPU never delays anything — as long as
    /// its memory cannot crowd anything out of that block, which this judges from the
    /// instance's own total (see [`Contraction::all_edges_memory_binds`] when memory outside
    /// the instance also competes).
    pub fn all_edges(inst: &Instance, fold_trivial: bool) -> Contraction {
        Contraction::build(inst, fold_trivial, true, false)
    }

    /// [`Contraction::all_edges`] with folding, for an instance whose memory may bind even
    /// though its own nodes fit one accelerator (the latency search's core, whose satellites
    /// take memory in the subgraphs they join): only zero-time groups that hold no memory
    /// are folded.
    pub fn all_edges_memory_binds(inst: &Instance) -> Contraction {
        Contraction::build_with(inst, true, true, false, true)
    }

    /// The nodes that [`Contraction::restricted`] folds into a neighbouring group: members
    /// of zero-time, accelerator-supported groups with a single neighbour (repeatedly),
    /// whatever their memory.
    ///
    /// Setting the memory of exactly these nodes to 0 gives a *relaxation* that folds as
    /// far as the restriction (see `solve_contiguous`): with zero memory the folding is
    /// exact, and dropping memory only loosens the constraints.
    ///
    /// # Complexity
    /// That of [`Contraction::new`].
    pub fn restriction_folds(inst: &Instance) -> Vec<bool> {
        let (_, mut uf) = Contraction::class_graph(inst, false);
        let folded = fold_trivial_groups(inst, &mut uf, true);
        (0..inst.len()).map(|u| folded[inst.class[u]]).collect()
    }

    /// The class-level order graph (deduplicated edges) and the union-find that fuses its
    /// strongly connected pieces.
    fn class_graph(inst: &Instance, all_edges: bool) -> (BTreeSet<(usize, usize)>, UnionFind) {
        let n = inst.len();
        let members = inst.class_members();
        let nc = inst.classes;
        let has_forward: Vec<bool> = members
            .iter()
            .map(|m| m.iter().any(|&u| !inst.backward[u]))
            .collect();
        // class-level forward graph
        let mut cedges: BTreeSet<(usize, usize)> = BTreeSet::new();
        for u in 0..n {
            for &v in &inst.succ[u] {
                let (cu, cv) = (inst.class[u], inst.class[v]);
                if cu == cv {
                    continue;
                }
                if all_edges || (!inst.backward[u] && !inst.backward[v]) {
                    cedges.insert((cu, cv));
                } else if inst.backward[u]
                    && inst.backward[v]
                    && (!has_forward[cu] || !has_forward[cv])
                {
                    // a class with only backward nodes is ordered like the mirror image
                    cedges.insert((cv, cu));
                }
            }
        }
        let mut csucc = vec![Vec::new(); nc];
        for &(a, b) in &cedges {
            csucc[a].push(b);
        }
        let comp = tarjan_scc(&csucc);
        let mut uf = UnionFind((0..nc).collect());
        for c in 0..nc {
            uf.union(c, comp[c]);
        }
        (cedges, uf)
    }

    fn build(inst: &Instance, fold_trivial: bool, all_edges: bool, forced: bool) -> Contraction {
        Contraction::build_with(inst, fold_trivial, all_edges, forced, false)
    }

    fn build_with(
        inst: &Instance,
        fold_trivial: bool,
        all_edges: bool,
        forced: bool,
        memory_binds: bool,
    ) -> Contraction {
        let n = inst.len();
        let nc = inst.classes;
        let (cedges, mut uf) = Contraction::class_graph(inst, all_edges);
        if fold_trivial {
            let memory_never_binds =
                !memory_binds && (forced || inst.total_size() <= inst.devices.accelerator_memory);
            fold_trivial_groups(inst, &mut uf, memory_never_binds);
        }
        // groups: roots renumbered, then topologically sorted
        let root_of_class: Vec<usize> = (0..nc).map(|c| uf.find(c)).collect();
        let mut raw_id = vec![usize::MAX; nc];
        let mut ng = 0;
        for u in 0..n {
            let r = root_of_class[inst.class[u]];
            if raw_id[r] == usize::MAX {
                raw_id[r] = ng;
                ng += 1;
            }
        }
        let raw_of = |u: usize| raw_id[root_of_class[inst.class[u]]];
        let mut gedges: BTreeSet<(usize, usize)> = BTreeSet::new();
        for &(a, b) in &cedges {
            // classes without nodes do not exist, so both ends have ids
            let (ga, gb) = (raw_id[root_of_class[a]], raw_id[root_of_class[b]]);
            if ga != gb {
                gedges.insert((ga, gb));
            }
        }
        // Kahn with smallest-first for a deterministic topological order
        let mut indeg = vec![0usize; ng];
        let mut gs = vec![Vec::new(); ng];
        for &(a, b) in &gedges {
            gs[a].push(b);
            indeg[b] += 1;
        }
        let mut heap: BinaryHeap<Reverse<usize>> =
            (0..ng).filter(|&g| indeg[g] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(ng);
        while let Some(Reverse(g)) = heap.pop() {
            order.push(g);
            for &h in &gs[g] {
                indeg[h] -= 1;
                if indeg[h] == 0 {
                    heap.push(Reverse(h));
                }
            }
        }
        // SCC fusion makes the group graph acyclic; folding keeps it so.
        debug_assert_eq!(order.len(), ng);
        let mut pos = vec![usize::MAX; ng];
        for (i, &g) in order.iter().enumerate() {
            pos[g] = i;
        }
        let mut groups = vec![Vec::new(); ng];
        let mut group_of = vec![0; n];
        for u in 0..n {
            let g = pos[raw_of(u)];
            groups[g].push(u);
            group_of[u] = g;
        }
        let mut succ = vec![Vec::new(); ng];
        let mut pred = vec![Vec::new(); ng];
        let mut es: Vec<(usize, usize)> = gedges.iter().map(|&(a, b)| (pos[a], pos[b])).collect();
        es.sort_unstable();
        for (a, b) in es {
            succ[a].push(b);
            pred[b].push(a);
        }
        for p in &mut pred {
            p.sort_unstable();
        }
        let sum = |f: &dyn Fn(usize) -> f64| -> Vec<f64> {
            groups
                .iter()
                .map(|m| m.iter().map(|&u| f(u)).sum())
                .collect()
        };
        let p_acc = sum(&|u| inst.p_acc[u]);
        let p_cpu = sum(&|u| inst.p_cpu[u]);
        let size = sum(&|u| inst.size[u]);
        let supported = groups
            .iter()
            .map(|m| m.iter().all(|&u| inst.supported[u]))
            .collect();
        Contraction {
            groups,
            group_of,
            succ,
            pred,
            p_acc,
            p_cpu,
            size,
            supported,
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Folds trivial groups — zero time, accelerator-supported, one neighbour group, and zero
/// memory unless `any_memory` — into their neighbour, one at a time until none is left.
/// Returns, per class, whether it was folded into another group.
///
/// O(n + m) per fold, O(n·(n + m)) in all.
fn fold_trivial_groups(inst: &Instance, uf: &mut UnionFind, any_memory: bool) -> Vec<bool> {
    let n = inst.len();
    let nc = inst.classes;
    let mut folded = vec![false; nc];
    loop {
        // aggregate per current root
        let roots: Vec<usize> = (0..nc).map(|c| uf.find(c)).collect();
        let mut time = vec![0.0f64; nc];
        let mut size = vec![0.0f64; nc];
        let mut sup = vec![true; nc];
        for u in 0..n {
            let r = roots[inst.class[u]];
            time[r] += inst.p_acc[u] + inst.p_cpu[u];
            size[r] += inst.size[u];
            sup[r] &= inst.supported[u];
        }
        let mut neigh: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nc];
        for u in 0..n {
            for &v in &inst.succ[u] {
                let (a, b) = (roots[inst.class[u]], roots[inst.class[v]]);
                if a != b {
                    neigh[a].insert(b);
                    neigh[b].insert(a);
                }
            }
        }
        let trivial = (0..nc).find(|&r| {
            roots[r] == r
                && time[r] == 0.0
                && sup[r]
                && (size[r] == 0.0 || any_memory)
                && neigh[r].len() == 1
        });
        let Some(r) = trivial else {
            return folded;
        };
        let m = *neigh[r].iter().next().unwrap_or(&r);
        for c in 0..nc {
            if roots[c] == r {
                folded[c] = true;
            }
        }
        uf.union(r, m);
    }
}

/// Tarjan's strongly connected components (iterative); returns a representative per vertex
/// (the smallest vertex of its component).
pub(crate) fn tarjan_scc(succ: &[Vec<usize>]) -> Vec<usize> {
    let n = succ.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut rep = vec![usize::MAX; n];
    let mut next = 0usize;
    for s in 0..n {
        if index[s] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(s, 0)];
        index[s] = next;
        low[s] = next;
        next += 1;
        stack.push(s);
        on_stack[s] = true;
        while let Some(&mut (u, ref mut pos)) = call.last_mut() {
            if *pos < succ[u].len() {
                let v = succ[u][*pos];
                *pos += 1;
                if index[v] == usize::MAX {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                    call.push((v, 0));
                } else if on_stack[v] {
                    low[u] = low[u].min(index[v]);
                }
            } else {
                call.pop();
                if let Some(&(p, _)) = call.last() {
                    low[p] = low[p].min(low[u]);
                }
                if low[u] == index[u] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().unwrap_or(u);
                        on_stack[w] = false;
                        comp.push(w);
                        if w == u {
                            break;
                        }
                    }
                    let r = *comp.iter().min().unwrap_or(&u);
                    for w in comp {
                        rep[w] = r;
                    }
                }
            }
        }
    }
    rep
}
