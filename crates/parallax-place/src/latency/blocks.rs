//! The block bound of the latency search: a lower bound on the time still to come that
//! knows how many accelerators are left (q = 1 only).
//!
//! # The bound
//!
//! Let b₀ → b₁ → … → b_m be the cut vertices of a DAG with one source b₀ and one sink b_m
//! (every source–sink path passes through each of them). *Block* j ≥ 1 is b_j with the
//! nodes strictly between b_{j−1} and b_j. A subgraph is convex, so one that holds nodes of
//! two blocks holds every cut vertex between them; with q = 1 every subgraph has its own
//! accelerator. Charge each subgraph to the block of its first node: a subgraph holding
//! b_{j−1} is never charged to block j, it is its *carry-in*.
//!
//! For a schedule, let T_j be the finish of b_j minus what its subgraph S (if any) holds
//! after b_j: its p_acc and the transfers c(u) of the nodes u of X(S) (the nodes whose
//! transfers S pays) that lie after b_j, a copy of b_j counted after it. T_j ≤ F(b_j), and
//! T_m is the latency. Measured from T_{j−1}, everything of block j happens no earlier than
//! in the *local* schedule of the *local instance* of block j: the nodes of block j plus a
//! node c′ standing for b_{j−1} (no time; on a CPU, or on an accelerator of its own with the
//! memory the carry-in held up to b_{j−1}), each subgraph cut down to these nodes (still
//! convex, at most M, paying only the transfers of its local crossings), with b_j the sink.
//! By induction over the local topological order every local finish is at most the real
//! finish minus T_{j−1} (the carry-in's local part ends at least its local work after
//! T_{j−1}, since T_{j−1} leaves that work out; every other subgraph starts after its inputs
//! and lasts at least its local work and local transfers), so T_j − T_{j−1} is at least the
//! local latency. The local instance has one accelerator per charged subgraph (plus c′'s),
//! so with `a` subgraphs charged to block j, T_j − T_{j−1} ≥ L_j(a, carry), the optimum (or
//! the proven bound of a stopped solve) of the local instance with `a` accelerators.
//! Transfers are split between blocks without double counting (each node u of X(S) lies in
//! exactly one local instance as a node that pays it), so these local latencies add up.
//!
//! The local instance of a carried-in block comes in two shapes (the bound takes the less):
//! the carry-in leaves some successor of b_{j−1} out (then it pays c(b_{j−1}), as the real
//! one does), or it holds all of them and every node on a path between two of them (a
//! colocation class with c′; it pays nothing for c′). In both, a CPU-only node z with
//! c′ → z → b_j keeps the carry-in off b_j by convexity: a carry-in that holds b_j holds the
//! whole block, and the DP passes such blocks itself, adding their work and memory exactly.
//!
//! The DP over the blocks has the carried memory as state (a lower bound, in units of
//! M / `LEVELS`; 0 = b_j on a CPU or in a subgraph that holds nothing after it), and gives
//! R(j, a, state): a lower bound on latency − T_j when at most `a` subgraphs are charged to
//! the blocks after j. A block's local solves use a few carry-in memories (`SOLVE_LEVELS`,
//! rounded down: less memory is a relaxation). For a label on ideal I with `fresh`
//! accelerators not yet used, b_p the first cut vertex outside I:
//! * if I ends at b_{p−1} exactly (b_{p−1}'s subgraph, closed, holds nothing after it), the
//!   block p instance with c′ on a CPU at F(b_{p−1}) is valid, and the bound is
//!   F(b_{p−1}) + R(p−1, fresh, 0);
//! * otherwise T_p ≥ F(u) + (local path bound from a successor v of u outside I) for every
//!   frontier node u (the path bound of the local instance of block p, see `PathBound`),
//!   and the bound adds min(R(p, fresh, 0), R(p, fresh − 1, carried b_j)).
//!
//! Every subgraph D added to such an ideal is charged to block p, so T_p is at least D's
//! ready time plus its work in block p and its input transfers, for D and every superset:
//! the search also cuts its enumeration of subgraphs with this (`Frontier::dfs_tail`).
//!
//! # Cost
//! O(m·k·|SOLVE_LEVELS|) small exact latency solves (local instances never build block
//! bounds themselves), each with a label budget (`LOCAL_LABELS`); a stopped one contributes
//! its proven lower bound, so the bound stays valid. Accelerator counts stop at the first
//! whose bound meets that of unlimited accelerators, and carry-in memories that cannot
//! bind reuse the least one's rows. The DP is O(m·k²·LEVELS). Deterministic (no time
//! limits inside; the solve's deadline only abandons the bound). A local solve that stops
//! reports the bound its exact pass proved and runs none of the probes with which
//! [`super::solve_latency`] raises a stopped bound: on Inception-v3 (33 blocks, 12
//! accelerators) the 41 stopped solves of 187 took 4.0 s of the bound's 4.8 s of CPU, mostly
//! in probes, which raised the root bound only from 973.1 to 978.1 and left the series DP's
//! labels as they were (13,788,832 either way); without them the bound takes 1.0–1.1 s on
//! the 2-core VM instead of 2.5–3.5 s (2026-12-06). [`super::solve_latency`] still builds
//! it only when a first exact pass runs out of its label budget. Two carry-in levels (0 and
//! M/2) prune the series DP (`series`) as well as four did (Inception-v3: 14.24M labels
//! either way; the second costs 9 of the 187 solves and cuts no label there).
//!
//! Besides the per-block bounds, [`Blocks::carried`] reads the DP's table for a carried
//! memory directly (the series DP's states carry their memory).
//!
//! # Where it is loose
//! On Inception-v3 the bound at the root is 973.1 (978.1 with probes in the local solves) against the optimum 1199.70. Along the
//! optimal schedule, latency − T_j − R(j, ·) is 222 at b₀…b₁₁ (the stem), 134 at b₁₂–b₁₆,
//! 111 at b₁₇–b₁₈, 106 at b₁₉, 57 at b₂₀–b₂₃, 52 at b₂₄ and 0 from b₂₅ on. That slack is
//! what the series DP's local searches cannot cut (block 22's carried-in search alone makes
//! 3.9M labels, exactly as many as a search for its states that carry 1.2 GB or more in
//! makes by itself: splitting the states by memory does not help).
//! Measured causes (2026-12-06):
//! * The DP pairs a block's local optimum with *any* exit: a local optimum with b_j on a
//!   CPU also prices the transition where b_j's subgraph goes on. A second set of rows
//!   with b_j kept on an accelerator, for those transitions, raises the root to 1072.4 but
//!   doubles the cost of the bound and cuts the series DP's labels by 12 % only.
//! * A carried-out state holds b_j's memory only, not what its subgraph already holds in
//!   the block: with one accelerator left after b₂₄, R = 103.3 where the best completion
//!   takes 155.0, because a subgraph that must also hold blocks 26–31 (1.53 GB) can hold
//!   little of block 25. Exits with their carried memory (the series DP's exit-mode local
//!   searches) would be exact here, but without a bound to cut them they make 64M labels
//!   for block 22 alone.
//! * Not the label budget of the local solves alone: 20k → 400k labels moves the root from
//!   978.1 to 984.4 and leaves the series DP's labels as they were.
//! * Both causes together (tried 2026-12-06, not kept): rows with b_j forced onto an
//!   accelerator whose subgraph holds at most c of the block, for every memory c at which
//!   R(j, ·, carried) steps (where the carried subgraph stops fitting a later block whole,
//!   its hull or the upper solve level), each transition priced by band of carried-out
//!   memory, with 400k-label local solves: R(24, 1) becomes the exact 155.0, the root
//!   1088.7, the slack along the optimum 27 at b₂₀–b₂₃ and 0 from b₂₄; the series DP's
//!   labels fall 13.79M → 11.27M (block 22's carried-in search 3.51M → 2.13M) and its time
//!   by ~1.5 s, but the bound then takes 25–40 s (the capped solves at small `a` need
//!   100k–400k labels each: a = 1 with 20k stops at 52.3 where the optimum is 98.9). With
//!   20k labels, or capped rows for a ≤ 3 only, the labels stay at 13.4–13.8M.

use super::bound::PathBound;
use super::heuristics::node_topo;
use super::reduce::induced_on;
use crate::limits::Limits;
use crate::model::Instance;
use rayon::prelude::*;
use std::time::Instant;

/// Memory levels of the carry-in state: carried memory ≥ level · M / LEVELS.
const LEVELS: usize = 1024;

/// Carry-in levels the local solves use (in units of M / LEVELS): each state is solved with
/// the largest of these at or below it (less memory is a relaxation).
const SOLVE_LEVELS: [usize; 2] = [0, 512];

/// Label budget of one local solve.
const LOCAL_LABELS: u64 = 20_000;

/// The block bound (see the module docs).
pub(super) struct Blocks {
    /// Block of each node: 0 for b₀, j for b_j and the nodes between b_{j−1} and b_j.
    pub(super) block_of: Vec<usize>,
    /// The cut vertices b₀ … b_m.
    pub(super) ends: Vec<usize>,
    /// Local path bound of each node (from its start to T_j of its block) on a CPU.
    pub(super) hc: Vec<f64>,
    /// The same on an accelerator, first node of its subgraph.
    pub(super) ha0: Vec<f64>,
    /// `at_end[j][a]` = R(j, a, on a CPU).
    pub(super) at_end: Vec<Vec<f64>>,
    /// `inside[j][a]` = min(R(j, a, on a CPU), R(j, a − 1, carried b_j)).
    pub(super) inside: Vec<Vec<f64>>,
    /// R at the root (before b₀), by accelerators left.
    pub(super) root: Vec<f64>,
    /// R(j, a, carried ≥ l·M / LEVELS) at `r[j][a · (LEVELS + 1) + 1 + l]` (see the DP).
    r: Vec<Vec<f64>>,
    /// M / LEVELS.
    unit: f64,
}

impl Blocks {
    /// Builds the block bound of `inst` (the reduced instance the search runs on) for
    /// q = 1, or `None` when it does not apply (no CPUs, no accelerators, several sources
    /// or sinks, fewer than three blocks).
    ///
    /// # Complexity
    /// O(m·k·|levels|) local solves of blocks of the DAG, O(m·k²·LEVELS) for the DP.
    pub(super) fn new(inst: &Instance, deadline: Option<Instant>) -> Option<Blocks> {
        let n = inst.len();
        let k = inst.devices.accelerators;
        let cap = inst.devices.accelerator_memory;
        if inst.devices.cpus == 0 || k == 0 || n < 3 || !(cap.is_finite() && cap > 0.0) {
            return None;
        }
        let Cuts {
            ends,
            members,
            block_of,
        } = Cuts::new(inst)?;
        let m = ends.len() - 1;
        let unit = cap / LEVELS as f64;
        let level = |x: f64| level_of(x, unit);
        let big = big(inst);
        // local path bounds
        let mut hc = vec![0.0; n];
        let mut ha0 = vec![0.0; n];
        for j in 1..=m {
            let local = local_instance(inst, &members[j], ends[j - 1], Entry::Cpu, k, big)?;
            let ltopo = node_topo(&local);
            let pb = PathBound::new(&local, &ltopo);
            for (t, &u) in members[j].iter().enumerate() {
                hc[u] = pb.hc[t + 1];
                ha0[u] = pb.ha0[t + 1];
            }
        }
        // R tables: state 0 = b_j on a CPU (nothing carried), 1 + l = carried ≥ l·unit
        let states = LEVELS + 1;
        let inf = f64::INFINITY;
        let mut r = vec![vec![0.0f64; (k + 1) * states]; m + 1];
        let kinds: Vec<Option<usize>> = std::iter::once(None)
            .chain(SOLVE_LEVELS.iter().map(|&l| Some(l)))
            .collect();
        // past the deadline the bound is abandoned (checked before every local solve)
        let late = || deadline.is_some_and(|d| Instant::now() >= d);
        // the local solves of block j: per carry-in kind (None: on a CPU, or a solve
        // level), the carry-in leaves a successor of b_{j−1} out (or c′ is on a CPU), or
        // it holds all of them (then it holds `hull_mem` more memory)
        let local_rows = |j: usize| -> Option<Rows> {
            if late() {
                return None;
            }
            let nodes = &members[j];
            let last = ends[j];
            let pass_mem: f64 = nodes.iter().map(|&u| inst.size[u]).sum();
            let mut local_lb: Vec<Vec<f64>> = Vec::with_capacity(kinds.len());
            let mut swallow_lb: Vec<Vec<f64>> = Vec::with_capacity(kinds.len());
            let hull_mem: f64 = {
                let h = hull(inst, nodes, ends[j - 1]);
                nodes.iter().filter(|&&u| h[u]).map(|&u| inst.size[u]).sum()
            };
            let mut free_rows: Option<(Vec<f64>, Vec<f64>)> = None;
            for &kind in &kinds {
                let carry_mem = kind.map(|l| (l as f64 * unit).max(inst.size[ends[j - 1]]));
                if carry_mem.is_some_and(|c| c > cap)
                    || (kind.is_some() && !inst.supported[ends[j - 1]])
                {
                    local_lb.push(vec![inf; k + 1]);
                    swallow_lb.push(vec![inf; k + 1]);
                    continue;
                }
                let entry = ends[j - 1];
                // a carry-in memory that leaves room for the whole block but b_j never binds:
                // the instance has the same schedules as with the least such memory
                if let Some(c) = carry_mem {
                    if c + pass_mem - inst.size[last] <= cap && free_rows.is_some() {
                        if let Some((x, y)) = &free_rows {
                            local_lb.push(x.clone());
                            swallow_lb.push(y.clone());
                        }
                        continue;
                    }
                }
                let hows: Vec<Entry> = match carry_mem {
                    None => vec![Entry::Cpu],
                    Some(c) => vec![Entry::Carry(c), Entry::Swallow(c)],
                };
                for (t, &how) in hows.iter().enumerate() {
                    // with as many accelerators as nodes, a bound for every count; counts
                    // whose bound meets it need no solve of their own
                    let floor = local_solve(inst, nodes, entry, how, nodes.len() + 1, big);
                    let mut row = vec![floor; k + 1];
                    for (a, x) in row.iter_mut().enumerate() {
                        if late() {
                            return None;
                        }
                        let v = local_solve(inst, nodes, entry, how, a, big);
                        *x = v.max(floor);
                        if v <= floor + 1e-9 * floor.abs().max(1.0) {
                            break;
                        }
                    }
                    // a bound for a accelerators holds for fewer too
                    for a in (0..k).rev() {
                        row[a] = row[a].max(row[a + 1]);
                    }
                    if t == 0 {
                        local_lb.push(row);
                    } else {
                        swallow_lb.push(row);
                    }
                }
                if hows.len() == 1 {
                    swallow_lb.push(vec![inf; k + 1]);
                }
                if let Some(c) = carry_mem {
                    if c + pass_mem - inst.size[last] <= cap {
                        free_rows = local_lb.last().cloned().zip(swallow_lb.last().cloned());
                    }
                }
            }
            Some(Rows {
                local: local_lb,
                swallow: swallow_lb,
                hull_mem,
            })
        };
        // the blocks' local solves are independent and deterministic (label budgets, no
        // time limits): in parallel
        let rows: Vec<Rows> = (1..=m)
            .into_par_iter()
            .map(local_rows)
            .collect::<Option<Vec<Rows>>>()?;
        for j in (1..=m).rev() {
            let nodes = &members[j];
            let last = ends[j];
            let pass_mem: f64 = nodes.iter().map(|&u| inst.size[u]).sum();
            let pass_time: f64 = nodes.iter().map(|&u| inst.p_acc[u]).sum();
            let pass_ok = nodes.iter().all(|&u| inst.supported[u]);
            let Rows {
                local: local_lb,
                swallow: swallow_lb,
                hull_mem,
            } = &rows[j - 1];
            let out_states: Vec<usize> = if inst.supported[last] {
                vec![0, 1 + level(inst.size[last]).min(LEVELS - 1)]
            } else {
                vec![0]
            };
            for s in 0..states {
                // the local kind for this carry state
                let kind_idx = if s == 0 {
                    0
                } else {
                    let l = s - 1;
                    1 + SOLVE_LEVELS.iter().rposition(|&x| x <= l).unwrap_or(0)
                };
                for a in 0..=k {
                    let mut best = inf;
                    if s > 0 && pass_ok {
                        let carried = (s - 1) as f64 * unit + pass_mem;
                        if carried <= cap * (1.0 + 1e-9) {
                            let ns = 1 + level(carried).min(LEVELS - 1);
                            best = best.min(pass_time + r[j][a * states + ns]);
                        }
                    }
                    for aj in 0..=a {
                        let mut l = local_lb[kind_idx][aj];
                        if s > 0 && (s - 1) as f64 * unit + hull_mem <= cap * (1.0 + 1e-9) {
                            l = l.min(swallow_lb[kind_idx][aj]);
                        }
                        if l >= best {
                            continue;
                        }
                        for &os in &out_states {
                            // b_j carried out: in a subgraph charged here (not the carry-in,
                            // which never holds b_j in a local solve)
                            if os > 0 && aj == 0 {
                                continue;
                            }
                            best = best.min(l + r[j][(a - aj) * states + os]);
                        }
                    }
                    r[j - 1][a * states + s] = best;
                }
            }
        }
        let at_end: Vec<Vec<f64>> = (0..=m)
            .map(|j| (0..=k).map(|a| r[j][a * states]).collect())
            .collect();
        let inside: Vec<Vec<f64>> = (0..=m)
            .map(|j| {
                (0..=k)
                    .map(|a| {
                        let mut v = r[j][a * states];
                        if a >= 1 && inst.supported[ends[j]] {
                            let s = 1 + level(inst.size[ends[j]]).min(LEVELS - 1);
                            v = v.min(r[j][(a - 1) * states + s]);
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        let b0 = ends[0];
        let root: Vec<f64> = (0..=k)
            .map(|a| {
                let mut v = inst.p_cpu[b0] + r[0][a * states];
                if a >= 1 && inst.supported[b0] {
                    let s = 1 + level(inst.size[b0]).min(LEVELS - 1);
                    v = v.min(inst.p_acc[b0] + r[0][(a - 1) * states + s]);
                }
                v
            })
            .collect();
        // a margin for the rounding of the sums above
        let safe =
            |row: Vec<f64>| -> Vec<f64> { row.into_iter().map(|x| x * (1.0 - 1e-10)).collect() };
        Some(Blocks {
            r: r.into_iter().map(safe).collect(),
            unit,
            at_end: at_end.into_iter().map(safe).collect(),
            inside: inside.into_iter().map(safe).collect(),
            root: safe(root),
            block_of,
            ends,
            hc,
            ha0,
        })
    }

    /// Bound from a node v (of some block) that receives an input with output cost `c`
    /// from a node already placed, to T of v's block.
    #[inline]
    pub(super) fn enter(&self, v: usize, c: f64) -> f64 {
        self.hc[v].min(c + self.ha0[v])
    }

    /// R(j, a, carried `mem`): a lower bound on latency − T_j when b_j's subgraph goes on
    /// holding `mem` and at most `a` more subgraphs are charged to the blocks after j.
    pub(super) fn carried(&self, j: usize, a: usize, mem: f64) -> f64 {
        let l = level_of(mem, self.unit);
        let states = LEVELS + 1;
        let a = a.min(self.r[j].len() / states - 1);
        self.r[j][a * states + 1 + l.min(LEVELS - 1)]
    }
}

/// The cut vertices of a DAG with one source and one sink, and the blocks between them.
pub(super) struct Cuts {
    /// The cut vertices b₀ (the source) … b_m (the sink), in topological order.
    pub(super) ends: Vec<usize>,
    /// Block j ≥ 1: the nodes strictly between b_{j−1} and b_j, then b_j, in topological
    /// order; block 0 is b₀ alone.
    pub(super) members: Vec<Vec<usize>>,
    /// Block of each node.
    pub(super) block_of: Vec<usize>,
}

impl Cuts {
    /// The cut vertices of `inst`, or `None` when it has several sources or sinks or fewer
    /// than three blocks after b₀.
    ///
    /// # Complexity
    /// O(n + e) after a topological sort.
    pub(super) fn new(inst: &Instance) -> Option<Cuts> {
        let n = inst.len();
        let sources = (0..n).filter(|&u| inst.pred[u].is_empty()).count();
        let sinks = (0..n).filter(|&u| inst.succ[u].is_empty()).count();
        if sources != 1 || sinks != 1 {
            return None;
        }
        let topo = node_topo(inst);
        let mut rank = vec![0usize; n];
        for (i, &u) in topo.iter().enumerate() {
            rank[u] = i;
        }
        // with one source and one sink, the node at position i is a cut vertex when no
        // edge jumps over position i
        let mut ends = Vec::new();
        let mut reach = 0usize;
        for (i, &u) in topo.iter().enumerate() {
            if reach <= i {
                ends.push(u);
            }
            for &v in &inst.succ[u] {
                reach = reach.max(rank[v]);
            }
        }
        let m = ends.len() - 1;
        if m < 2 || *ends.last()? != topo[n - 1] || ends[0] != topo[0] {
            return None;
        }
        let mut block_of = vec![0usize; n];
        let mut members: Vec<Vec<usize>> = vec![vec![ends[0]]];
        for j in 1..=m {
            let (lo, hi) = (rank[ends[j - 1]], rank[ends[j]]);
            let nodes: Vec<usize> = topo[lo + 1..=hi].to_vec();
            for &u in &nodes {
                block_of[u] = j;
            }
            members.push(nodes);
        }
        Some(Cuts {
            ends,
            members,
            block_of,
        })
    }
}

/// The local bounds of one block (see [`Blocks::new`]): per carry-in kind, by accelerators.
struct Rows {
    /// The carry-in leaves a successor of b_{j−1} out (or c′ is on a CPU).
    local: Vec<Vec<f64>>,
    /// The carry-in holds every successor of b_{j−1} in the block (and what lies between).
    swallow: Vec<Vec<f64>>,
    /// The memory of those successors and what lies between.
    hull_mem: f64,
}

/// The memory level of `x` (rounded down, with a margin): `x ≥ level · unit`.
fn level_of(x: f64, unit: f64) -> usize {
    ((x / unit) * (1.0 - 1e-12)).floor().max(0.0) as usize
}

/// A CPU time that no schedule within any bound can afford (keeps a carried-in c′ of a
/// local instance off the CPUs).
pub(super) fn big(inst: &Instance) -> f64 {
    1e6 * (1.0
        + (0..inst.len())
            .map(|u| inst.p_cpu[u] + inst.p_acc[u] + inst.out_cost[u])
            .sum::<f64>())
}

/// The successors of `entry` in the block and every node on a path between two of them:
/// what a convex subgraph holding `entry` and all its successors in the block holds.
fn hull(inst: &Instance, nodes: &[usize], entry: usize) -> Vec<bool> {
    let n = inst.len();
    let mut in_block = vec![false; n];
    for &u in nodes {
        in_block[u] = true;
    }
    let mut down = vec![false; n];
    let mut up = vec![false; n];
    for &h in &inst.succ[entry] {
        if in_block[h] {
            down[h] = true;
            up[h] = true;
        }
    }
    for &u in nodes {
        if down[u] {
            for &v in &inst.succ[u] {
                if in_block[v] {
                    down[v] = true;
                }
            }
        }
    }
    for &u in nodes.iter().rev() {
        if up[u] {
            for &w in &inst.pred[u] {
                if in_block[w] {
                    up[w] = true;
                }
            }
        }
    }
    (0..n).map(|u| down[u] && up[u]).collect()
}

/// How c′ (b_{j−1}) enters a local instance.
#[derive(Clone, Copy, Debug)]
enum Entry {
    /// On a CPU (or in a subgraph that holds nothing of the block), no time.
    Cpu,
    /// In the carry-in, with this memory, no time; some successor of b_{j−1} is outside it.
    Carry(f64),
    /// In the carry-in, with this memory, no time, holding every successor of b_{j−1} in
    /// the block (and so everything on paths between them: a colocation class with c′).
    Swallow(f64),
}

/// The local instance of a block (see the module docs): c′ as node 0, then the nodes of
/// the block in topological order, b_j last, `k` accelerators. A carried-in c′ is kept off
/// the CPU by a CPU time of `big`, and gets a CPU-only node z with c′ → z → b_j, so by
/// convexity the carry-in never holds b_j (the DP passes whole blocks itself, counting
/// their memory). For [`Entry::Carry`] z makes c′ pay its transfer, as the real carry-in
/// does (it leaves a successor of b_{j−1} out); for [`Entry::Swallow`] c′ pays none.
/// `None` when the shape is impossible.
fn local_instance(
    inst: &Instance,
    nodes: &[usize],
    entry: usize,
    how: Entry,
    k: usize,
    big: f64,
) -> Option<Instance> {
    let last = *nodes.last()?;
    let mut of = vec![entry];
    of.extend_from_slice(nodes);
    let mut local = induced_on(inst, &of);
    local.p_acc[0] = 0.0;
    local.devices.accelerators = k;
    local.overlap = false;
    // colocation is relaxed (a bound): every node a class of its own, but for Swallow's
    local.class = (0..of.len()).collect();
    match how {
        Entry::Cpu => {
            local.p_cpu[0] = 0.0;
            local.supported[0] = false;
        }
        Entry::Carry(mem) | Entry::Swallow(mem) => {
            local.p_cpu[0] = big;
            local.size[0] = mem;
            if !local.supported[0] || mem > inst.devices.accelerator_memory {
                return None;
            }
            if let Entry::Swallow(_) = how {
                let h = hull(inst, nodes, entry);
                if h[last] {
                    return None;
                }
                local.out_cost[0] = 0.0;
                let mut total = mem;
                for (t, &u) in of.iter().enumerate().skip(1) {
                    if h[u] {
                        local.class[t] = 0;
                        total += inst.size[u];
                        if !inst.supported[u] {
                            return None;
                        }
                    }
                }
                if total > inst.devices.accelerator_memory {
                    return None;
                }
            }
            // z: CPU-only, no time, c′ → z → b_j
            let (z, end) = (of.len(), of.len() - 1);
            local.ids.push(inst.ids[entry]);
            local.p_acc.push(0.0);
            local.p_cpu.push(0.0);
            local.size.push(0.0);
            local.supported.push(false);
            local.backward.push(false);
            local.out_cost.push(0.0);
            local.class.push(z);
            local.succ.push(vec![end]);
            local.pred.push(vec![0]);
            local.pred[end].push(z);
            local.succ[0].push(z);
        }
    }
    // class ids 0..classes, in order of first appearance
    let mut map = vec![usize::MAX; local.class.len()];
    let mut next = 0;
    for c in local.class.iter_mut() {
        if map[*c] == usize::MAX {
            map[*c] = next;
            next += 1;
        }
        *c = map[*c];
    }
    local.classes = next;
    local.ids = (0..local.len() as i64).collect();
    local.backward = vec![false; local.len()];
    Some(local)
}

/// A lower bound on the local latency of a block with `a` accelerators for charged
/// subgraphs (plus one for c′ when it is carried in); `+∞` when the shape is impossible.
fn local_solve(
    inst: &Instance,
    nodes: &[usize],
    entry: usize,
    how: Entry,
    a: usize,
    big: f64,
) -> f64 {
    let k = a + usize::from(!matches!(how, Entry::Cpu));
    let Some(local) = local_instance(inst, nodes, entry, how, k, big) else {
        return f64::INFINITY;
    };
    let limits = Limits {
        time_limit: None,
        max_labels: Some(LOCAL_LABELS),
        ..Limits::default()
    };
    // a margin below the solver's value: it prunes with a relative tolerance
    let safe = |x: f64| x * (1.0 - 1e-9) - 1e-9;
    // (no block bound inside, and no probes after a stopped exact pass: see the module docs)
    let res = super::solve_latency_impl(&local, 1, &limits, None);
    match res {
        Ok(sol) => match sol.status {
            crate::limits::ProofStatus::Optimal => safe(sol.schedule.latency),
            crate::limits::ProofStatus::Stopped { lower_bound, .. } => safe(lower_bound),
        },
        Err(crate::error::PlaceError::InfeasibleMemory { .. }) => f64::INFINITY,
        Err(_) => 0.0,
    }
}
