//! PipeDream's own partitioning algorithm, as a baseline.
//!
//! Narayanan et al., "PipeDream: Generalized Pipeline Parallelism for DNN Training"
//! (SOSP 2019), §3.1: the optimizer splits a *linear chain* of layers into pipeline stages
//! and may replicate a stage over several workers (data parallelism). With
//!
//! * `T(i..j, m) = (1/m) · max(Σ compute_l, Σ W_l(m))` for layers `i..j` on `m` replicas,
//!   where `W_l(m) = 4·(m−1)/m · weight_sync_l` is the ring all-reduce of layer `l`'s
//!   weights (`weight_sync_l` = weight bytes / bandwidth), and
//! * `C_i` the time to send layer `i`'s output to the next stage,
//!
//! the best time per sample of the first `j` layers on `m` workers is
//!
//! ```text
//! A(j, m) = min( T(1..j, m),
//!                min_{1 ≤ i < j, 1 ≤ m' < m} max(A(i, m − m'), f·C_i, T(i+1..j, m')) )
//! ```
//!
//! with `f = 2` in training (activations forward, gradients backward) — the paper's factor.
//! [`partition`] computes it exactly. One documented deviation: the base case also allows
//! a stage to use fewer than the `m` workers it is given (idle workers), so `A(N, M)` is the
//! best over *at most* `M` workers; PipeDream's formulation uses exactly `M`. The two agree
//! whenever extra replicas never hurt (no weight synchronisation), and the variant is
//! monotone in `M`.
//!
//! [`assignment`] applies it to a placement [`Instance`] the way Tarnawski et al. compared
//! against PipeDream (their code's `-pipeDream` mode): as PipeDream does for branching
//! models, each biconnected component of the group graph is fused into one layer
//! ([`biconnected_units`]); the units are linearised in a topological order,
//! the chain is split by PipeDream's DP on PipeDream's cost model (no replication — the
//! instance format has neither weights nor data parallelism — and no memory limits), and the
//! resulting split is scored by the crate's own evaluator, so the number is comparable with
//! every other result.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::baselines::dfs_topo_order;
use crate::contract::Contraction;
use crate::eval::Assignment;
use crate::limits::Deadline;
use crate::model::Instance;

/// One layer of the chain, in time units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainLayer {
    /// Compute time of the layer (forward and backward together, in training).
    pub compute: f64,
    /// Time to send the layer's output activations to the next stage (`C_i`).
    pub output_comm: f64,
    /// Weight bytes / bandwidth; the all-reduce over `m` replicas costs `4(m−1)/m` times it.
    pub weight_sync: f64,
}

/// One pipeline stage: layers `first..end` replicated over `replicas` workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// First layer (inclusive).
    pub first: usize,
    /// One past the last layer.
    pub end: usize,
    /// Number of data-parallel replicas (≥ 1).
    pub replicas: usize,
}

/// PipeDream's partition of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainPartition {
    /// The stages in chain order; they cover every layer once.
    pub stages: Vec<Stage>,
    /// `A(N, M)`: PipeDream's estimate of the time per sample (the slowest stage or boundary).
    pub time_per_sample: f64,
}

/// Options of [`partition`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipeDreamOptions {
    /// Workers available (`M`).
    pub workers: usize,
    /// Whether stages may be replicated (PipeDream's data parallelism). When `false`, every
    /// stage has one worker and there are at most `workers` stages.
    pub replication: bool,
    /// Factor of `C_i` at a stage boundary: 2 in training (PipeDream), 1 for inference.
    pub comm_factor: f64,
}

/// Time of layers `first..end` (prefix sums given) on `m` replicas.
fn stage_time(compute: f64, weight_sync: f64, m: usize) -> f64 {
    let m = m as f64;
    let sync = 4.0 * (m - 1.0) / m * weight_sync;
    compute.max(sync) / m
}

/// PipeDream's DP over a chain. `None` when the chain is empty of workers (`workers == 0`
/// with layers), when an input is negative or non-finite, or when the deadline passes.
///
/// # Complexity
/// O(N²·M²) time with replication, O(N²·M) without, O(N·M) memory, for N layers and
/// M workers.
pub fn partition(layers: &[ChainLayer], opts: &PipeDreamOptions) -> Option<ChainPartition> {
    partition_until(layers, opts, Deadline::NONE)
}

pub(crate) fn partition_until(
    layers: &[ChainLayer],
    opts: &PipeDreamOptions,
    deadline: Deadline,
) -> Option<ChainPartition> {
    let n = layers.len();
    let big_m = opts.workers;
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    if !ok(opts.comm_factor)
        || layers
            .iter()
            .any(|l| !ok(l.compute) || !ok(l.output_comm) || !ok(l.weight_sync))
    {
        return None;
    }
    if n == 0 {
        return Some(ChainPartition {
            stages: Vec::new(),
            time_per_sample: 0.0,
        });
    }
    if big_m == 0 {
        return None;
    }
    let mut pc = vec![0.0; n + 1];
    let mut pw = vec![0.0; n + 1];
    for (i, l) in layers.iter().enumerate() {
        pc[i + 1] = pc[i] + l.compute;
        pw[i + 1] = pw[i] + l.weight_sync;
    }
    let t = |i: usize, j: usize, m: usize| stage_time(pc[j] - pc[i], pw[j] - pw[i], m);
    // a[j][m] for j in 1..=n, m in 1..=M; back[j][m] = (i, m') with i = 0 for one stage
    let w = big_m + 1;
    let mut a = vec![f64::INFINITY; (n + 1) * w];
    let mut back = vec![(0usize, 0usize); (n + 1) * w];
    let max_rep = |m: usize| if opts.replication { m } else { 1 };
    for j in 1..=n {
        if deadline.passed() {
            return None;
        }
        for m in 1..=big_m {
            let (mut best, mut bk) = (f64::INFINITY, (0, 0));
            for r in 1..=max_rep(m) {
                let v = t(0, j, r);
                if v < best {
                    best = v;
                    bk = (0, r);
                }
            }
            for i in 1..j {
                let boundary = opts.comm_factor * layers[i - 1].output_comm;
                for r in 1..=max_rep(m - 1).min(m - 1) {
                    let v = a[i * w + (m - r)].max(boundary).max(t(i, j, r));
                    if v < best {
                        best = v;
                        bk = (i, r);
                    }
                }
            }
            a[j * w + m] = best;
            back[j * w + m] = bk;
        }
    }
    let mut stages = Vec::new();
    let (mut j, mut m) = (n, big_m);
    while j > 0 {
        let (i, r) = back[j * w + m];
        stages.push(Stage {
            first: i,
            end: j,
            replicas: r,
        });
        j = i;
        m -= r;
    }
    stages.reverse();
    Some(ChainPartition {
        stages,
        time_per_sample: a[n * w + big_m],
    })
}

/// PipeDream's pre-processing of a branching graph: on the undirected group graph, every
/// biconnected component (a set of edges) fuses the tails of its edges into one unit, so
/// that parallel branches (residual connections, attention heads) become single layers.
/// Returns the unit of each group and the number of units, or `None` when the fused graph
/// has a cycle.
///
/// # Complexity
/// O(g + e) for g groups and e group edges (iterative Hopcroft–Tarjan).
pub fn biconnected_units(con: &Contraction) -> Option<(Vec<usize>, usize)> {
    let ng = con.len();
    let mut adj: Vec<Vec<(usize, usize)>> = vec![Vec::new(); ng]; // (neighbour, edge id)
    let mut tail = Vec::new();
    for g in 0..ng {
        for &h in &con.succ[g] {
            let id = tail.len();
            tail.push(g);
            adj[g].push((h, id));
            adj[h].push((g, id));
        }
    }
    let mut parent: Vec<usize> = (0..ng).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut disc = vec![usize::MAX; ng];
    let mut low = vec![0usize; ng];
    let mut time = 0;
    let mut estack: Vec<usize> = Vec::new();
    for root in 0..ng {
        if disc[root] != usize::MAX {
            continue;
        }
        disc[root] = time;
        low[root] = time;
        time += 1;
        // frames: (vertex, edge id it was entered by, next adjacency index)
        let mut stack = vec![(root, usize::MAX, 0usize)];
        while let Some(&mut (v, via, ref mut next)) = stack.last_mut() {
            if *next < adj[v].len() {
                let (w, id) = adj[v][*next];
                *next += 1;
                if id == via {
                    continue;
                }
                if disc[w] == usize::MAX {
                    estack.push(id);
                    disc[w] = time;
                    low[w] = time;
                    time += 1;
                    stack.push((w, id, 0));
                } else if disc[w] < disc[v] {
                    estack.push(id);
                    low[v] = low[v].min(disc[w]);
                }
            } else {
                stack.pop();
                if let Some(&(u, _, _)) = stack.last() {
                    low[u] = low[u].min(low[v]);
                    if low[v] >= disc[u] {
                        // pop the component: edges down to (and including) `via`
                        let mut first = None;
                        while let Some(id) = estack.pop() {
                            let t = tail[id];
                            match first {
                                None => first = Some(t),
                                Some(f) => {
                                    let (a, b) = (find(&mut parent, f), find(&mut parent, t));
                                    if a != b {
                                        parent[a.max(b)] = a.min(b);
                                    }
                                }
                            }
                            if id == via {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    let mut unit = vec![usize::MAX; ng];
    let mut units = 0;
    for g in 0..ng {
        let r = find(&mut parent, g);
        if unit[r] == usize::MAX {
            unit[r] = units;
            units += 1;
        }
        unit[g] = unit[r];
    }
    // the fused graph must stay acyclic (Kahn)
    let mut indeg = vec![0usize; units];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); units];
    for g in 0..ng {
        for &h in &con.succ[g] {
            if unit[g] != unit[h] {
                out[unit[g]].push(unit[h]);
                indeg[unit[h]] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..units).filter(|&u| indeg[u] == 0).collect();
    let mut seen = 0;
    while let Some(u) = ready.pop() {
        seen += 1;
        for &x in &out[u] {
            indeg[x] -= 1;
            if indeg[x] == 0 {
                ready.push(x);
            }
        }
    }
    (seen == units).then_some((unit, units))
}

/// The chain PipeDream sees for an instance: the [`biconnected_units`] of `con`'s groups
/// (falling back to single groups if fusing made a cycle) in the depth-first topological
/// order of their groups, accelerator-supported groups only; each unit is a layer with its
/// accelerator time and, as `C_i`, the transfer cost of its forward nodes' outputs that
/// leave it. Returns the groups of each layer and the layers.
pub fn instance_chain(inst: &Instance, con: &Contraction) -> (Vec<Vec<usize>>, Vec<ChainLayer>) {
    let (unit, units) =
        biconnected_units(con).unwrap_or_else(|| ((0..con.len()).collect(), con.len()));
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); units];
    let mut rank = vec![usize::MAX; units];
    for (pos, g) in dfs_topo_order(con).into_iter().enumerate() {
        if con.supported[g] {
            members[unit[g]].push(g);
            rank[unit[g]] = rank[unit[g]].min(pos);
        }
    }
    // topological order of the units, ties broken by their first group's DFS position
    let mut indeg = vec![0usize; units];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); units];
    for g in 0..con.len() {
        for &h in &con.succ[g] {
            if unit[g] != unit[h] {
                out[unit[g]].push(unit[h]);
                indeg[unit[h]] += 1;
            }
        }
    }
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> = (0..units)
        .filter(|&u| indeg[u] == 0)
        .map(|u| Reverse((rank[u], u)))
        .collect();
    let mut order = Vec::with_capacity(units);
    while let Some(Reverse((_, u))) = heap.pop() {
        if !members[u].is_empty() {
            order.push(u);
        }
        for &x in &out[u] {
            indeg[x] -= 1;
            if indeg[x] == 0 {
                heap.push(Reverse((rank[x], x)));
            }
        }
    }
    let chain: Vec<Vec<usize>> = order.into_iter().map(|u| members[u].clone()).collect();
    let layers = chain
        .iter()
        .map(|gs| {
            let mut compute = 0.0;
            let mut output_comm = 0.0;
            for &g in gs {
                compute += con.p_acc[g];
                for &u in &con.groups[g] {
                    if !inst.backward[u]
                        && inst.succ[u]
                            .iter()
                            .any(|&v| unit[con.group_of[v]] != unit[g])
                    {
                        output_comm += inst.out_cost[u];
                    }
                }
            }
            ChainLayer {
                compute,
                output_comm,
                weight_sync: 0.0,
            }
        })
        .collect();
    (chain, layers)
}

/// PipeDream's split of an instance: [`instance_chain`] split by [`partition`] over the
/// accelerators without replication (factor 2 when the instance has backward nodes, else
/// 1); unsupported groups go to CPU 0. Memory is not considered (PipeDream's DP does not),
/// so the caller checks feasibility. `None` without accelerators, when some group is
/// unsupported and there is no CPU, or when the deadline passes.
pub fn assignment(inst: &Instance, con: &Contraction) -> Option<Assignment> {
    assignment_until(inst, con, Deadline::NONE)
}

pub(crate) fn assignment_until(
    inst: &Instance,
    con: &Contraction,
    deadline: Deadline,
) -> Option<Assignment> {
    let k = inst.devices.accelerators;
    if k == 0 {
        return None;
    }
    let mut gslot = vec![k; con.len()];
    if (0..con.len()).any(|g| !con.supported[g]) && inst.devices.cpus == 0 {
        return None;
    }
    let (order, layers) = instance_chain(inst, con);
    let training = inst.backward.iter().any(|&b| b);
    let opts = PipeDreamOptions {
        workers: k,
        replication: false,
        comm_factor: if training { 2.0 } else { 1.0 },
    };
    let part = partition_until(&layers, &opts, deadline)?;
    for (dev, s) in part.stages.iter().enumerate() {
        for gs in &order[s.first..s.end] {
            for &g in gs {
                gslot[g] = dev;
            }
        }
    }
    let mut slot = vec![0; inst.len()];
    for (g, members) in con.groups.iter().enumerate() {
        for &u in members {
            slot[u] = gslot[g];
        }
    }
    Some(slot)
}
