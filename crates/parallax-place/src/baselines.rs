//! Heuristic baselines printed beside the optimum.

use serde::{Deserialize, Serialize};

use crate::contract::Contraction;
use crate::eval::{evaluate, violations, Assignment, Placement};
use crate::incr::CommTracker;
use crate::limits::{Deadline, Limits, DEFAULT_MAX_TABLE_BYTES};
use crate::model::Instance;

/// One baseline's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Short name: `one_accelerator`, `greedy_fill`, `local_search`, `pipedream_chain`,
    /// `pipedream`, `scotch_like`.
    pub name: String,
    /// Whether the placement satisfies memory, support and colocation.
    pub feasible: bool,
    /// The evaluated placement (also given when infeasible, for reference).
    pub placement: Option<Placement>,
    /// Whether the time limit cut this baseline short (its placement, if any, is the best
    /// it had; `None` when it had none).
    #[serde(default)]
    pub timed_out: bool,
}

fn baseline(inst: &Instance, name: &str, slot: Option<Assignment>, timed_out: bool) -> Baseline {
    match slot {
        Some(slot) => Baseline {
            name: name.to_string(),
            feasible: violations(inst, &slot).is_empty(),
            placement: Some(evaluate(inst, &slot)),
            timed_out,
        },
        None => Baseline {
            name: name.to_string(),
            feasible: false,
            placement: None,
            timed_out,
        },
    }
}

/// PipeDream's own algorithm on the instance (see [`crate::pipedream::assignment`]): the
/// chain split on PipeDream's cost model, unlike [`chain_dp_assignment`], which splits the
/// same chain on exact loads.
pub fn pipedream(inst: &Instance, con: &Contraction) -> Option<Assignment> {
    crate::pipedream::assignment(inst, con)
}

/// The Scotch-like multilevel partition of the instance (see [`crate::scotch::scotch_like`]):
/// colocation classes split into k accelerators minimising the communication cut under a
/// compute balance constraint, unsupported classes on the CPUs. Not contiguous in general.
pub fn scotch_like(inst: &Instance) -> Option<Assignment> {
    crate::scotch::scotch_like(inst)
}

/// Random restarts of the `local_search` baseline (besides the greedy start), as in the
/// authors' code, which reports the best of several random starts.
pub const LOCAL_SEARCH_RESTARTS: usize = 10;

/// Runs all six baselines with the default [`Limits`].
///
/// # Complexity
/// Dominated by the chain DP, O(g²·(d + (k+1)(l+1))) for g groups, and by local
/// search, O(iterations · g · (k+l) · (n+m)), with k and l capped at the number of
/// colocation classes ([`Instance::usable`]); the Scotch-like partitioner is near-linear
/// (see [`crate::scotch::partition`]).
pub fn run_all(inst: &Instance) -> Vec<Baseline> {
    run_all_with(inst, &Limits::default())
}

/// Runs all six baselines within `limits.time_limit` (for all of them together) and
/// `limits.max_table_bytes`. A baseline the budget cuts short is marked `timed_out`. The
/// four that can take long (local search, the chain DP, PipeDream, the Scotch-like
/// partitioner) run in that order, each within the time left divided by the number of them
/// still to run, so that one slow baseline does not starve the others.
pub fn run_all_with(inst: &Instance, limits: &Limits) -> Vec<Baseline> {
    let deadline = limits.deadline(std::time::Instant::now());
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let con = Contraction::new(inst, false);
    let greedy = greedy_fill(inst, &con);
    // the four that can take long share what is left fairly: each may use the time left
    // divided by the number of them still to run (on a small graph none comes near it)
    let share = |left: u32| match deadline.0 {
        Some(d) => {
            let now = std::time::Instant::now();
            Deadline(Some(now + d.saturating_duration_since(now) / left))
        }
        None => deadline,
    };
    let mine = share(4);
    let ls = local_search_restarts(inst, &con, LOCAL_SEARCH_RESTARTS, mine);
    let ls_cut = mine.passed();
    let mine = share(3);
    let chain = chain_dp_until(inst, &con, mine, limits.max_table_bytes);
    let chain_cut = chain.is_none() && mine.passed();
    let mine = share(2);
    let pd = crate::pipedream::assignment_until(inst, &con, mine);
    let pd_cut = pd.is_none() && mine.passed();
    let scotch =
        crate::scotch::scotch_like_until(inst, &crate::scotch::ScotchOptions::default(), deadline);
    let scotch_cut = scotch.is_none() && deadline.passed();
    vec![
        baseline(inst, "one_accelerator", one_accelerator(inst, &con), false),
        baseline(inst, "greedy_fill", greedy, false),
        baseline(inst, "local_search", ls, ls_cut),
        baseline(inst, "pipedream_chain", chain, chain_cut),
        baseline(inst, "pipedream", pd, pd_cut),
        baseline(inst, "scotch_like", scotch, scotch_cut),
    ]
}

fn assign_groups(con: &Contraction, n: usize, gslot: &[usize]) -> Assignment {
    let mut slot = vec![0; n];
    for (g, members) in con.groups.iter().enumerate() {
        for &u in members {
            slot[u] = gslot[g];
        }
    }
    slot
}

/// Everything on accelerator 0 (unsupported groups on CPU 0); `None` without accelerators,
/// or when some group is unsupported and there is no CPU.
pub fn one_accelerator(inst: &Instance, con: &Contraction) -> Option<Assignment> {
    let k = inst.devices.accelerators;
    if k == 0 {
        return None;
    }
    let mut gslot = vec![0; con.len()];
    for g in 0..con.len() {
        if !con.supported[g] {
            if inst.devices.cpus == 0 {
                return None;
            }
            gslot[g] = k;
        }
    }
    Some(assign_groups(con, inst.len(), &gslot))
}

/// Greedy topological fill: walk the groups in topological order and fill accelerators up
/// to an equal share of the accelerator work (or their memory), unsupported groups on CPU 0.
pub fn greedy_fill(inst: &Instance, con: &Contraction) -> Option<Assignment> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    if k == 0 {
        return (l > 0).then(|| vec![k; inst.len()]);
    }
    let total: f64 = (0..con.len())
        .filter(|&g| con.supported[g])
        .map(|g| con.p_acc[g])
        .sum();
    let share = total / k as f64;
    let mut gslot = vec![0; con.len()];
    let (mut a, mut work, mut mem) = (0usize, 0.0f64, 0.0f64);
    for g in 0..con.len() {
        if !con.supported[g] {
            if l == 0 {
                return None;
            }
            gslot[g] = k;
            continue;
        }
        let over = (work > 0.0 && work + con.p_acc[g] > share)
            || (mem > 0.0 && mem + con.size[g] > inst.devices.accelerator_memory);
        if over && a + 1 < k {
            a += 1;
            work = 0.0;
            mem = 0.0;
        }
        gslot[g] = a;
        work += con.p_acc[g];
        mem += con.size[g];
    }
    Some(assign_groups(con, inst.len(), &gslot))
}

/// A depth-first topological order of the groups (keeps branches together, like PipeDream's
/// linearisation).
pub(crate) fn dfs_topo_order(con: &Contraction) -> Vec<usize> {
    let ng = con.len();
    let mut indeg: Vec<usize> = con.pred.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..ng).rev().filter(|&g| indeg[g] == 0).collect();
    let mut order = Vec::with_capacity(ng);
    while let Some(g) = stack.pop() {
        order.push(g);
        for &h in con.succ[g].iter().rev() {
            indeg[h] -= 1;
            if indeg[h] == 0 {
                stack.push(h);
            }
        }
    }
    order
}

/// PipeDream-style DP: linearise the groups in a depth-first topological order, then split
/// the chain optimally into at most k accelerator and l CPU intervals (exact loads,
/// including transfers). Intervals of a topological order are convex, so the result is a
/// valid contiguous placement. `None` when no split fits.
///
/// # Complexity
/// O(g²·(d + (k+1)(l+1))) time for g groups of average degree d, O(g·(k+1)(l+1)) memory.
pub fn chain_dp_assignment(inst: &Instance, con: &Contraction) -> Option<Assignment> {
    chain_dp_until(inst, con, Deadline::NONE, DEFAULT_MAX_TABLE_BYTES)
}

/// [`chain_dp_assignment`] under a deadline and a table-size limit: `None` also when the
/// deadline passes or the table (g+1)·(k+1)(l+1) cells of 13 bytes would exceed
/// `max_bytes` (computed with checked arithmetic before allocating).
pub(crate) fn chain_dp_until(
    inst: &Instance,
    con: &Contraction,
    deadline: Deadline,
    max_bytes: u64,
) -> Option<Assignment> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let order = dfs_topo_order(con);
    let ng = order.len();
    if ng == 0 {
        return Some(Vec::new());
    }
    // best[j][a][c]: first j groups with at most a accelerators and c CPUs
    let w = (k + 1).checked_mul(l + 1)?;
    let cells = (ng + 1).checked_mul(w)?;
    let bytes = cells.checked_mul(13)?;
    if bytes as u64 > max_bytes || ng > u32::MAX as usize {
        return None;
    }
    let cell = |j: usize, a: usize, c: usize| j * w + a * (l + 1) + c;
    let mut best = vec![f64::INFINITY; cells];
    let mut back_from = vec![u32::MAX; cells];
    let mut back_acc = vec![false; cells];
    for x in best.iter_mut().take(w) {
        *x = 0.0;
    }
    // loads of the intervals [i, j) ending at the current j
    let mut acc = vec![f64::INFINITY; ng];
    let mut cpu = vec![0.0f64; ng];
    let mut tr = CommTracker::new(inst);
    for j in 1..=ng {
        if deadline.passed() {
            return None;
        }
        let (mut p_acc, mut p_cpu, mut size, mut comm, mut sup) = (0.0, 0.0, 0.0, 0.0, true);
        for i in (0..j).rev() {
            let g = order[i];
            p_acc += con.p_acc[g];
            p_cpu += con.p_cpu[g];
            size += con.size[g];
            sup &= con.supported[g];
            comm += tr.add(&con.groups[g]);
            acc[i] = if sup && size <= inst.devices.accelerator_memory {
                inst.acc_load(p_acc, comm)
            } else {
                f64::INFINITY
            };
            cpu[i] = p_cpu;
        }
        for i in 0..j {
            tr.remove(&con.groups[order[i]]);
        }
        for a in 0..=k {
            for c in 0..=l {
                let mut b = f64::INFINITY;
                let mut bk = (u32::MAX, false);
                for i in 0..j {
                    if a > 0 {
                        let v = best[cell(i, a - 1, c)].max(acc[i]);
                        if v < b {
                            b = v;
                            bk = (i as u32, true);
                        }
                    }
                    if c > 0 {
                        let v = best[cell(i, a, c - 1)].max(cpu[i]);
                        if v < b {
                            b = v;
                            bk = (i as u32, false);
                        }
                    }
                }
                best[cell(j, a, c)] = b;
                back_from[cell(j, a, c)] = bk.0;
                back_acc[cell(j, a, c)] = bk.1;
            }
        }
    }
    if !best[cell(ng, k, l)].is_finite() {
        return None;
    }
    let mut gslot = vec![0; con.len()];
    let (mut j, mut a, mut c) = (ng, k, l);
    let (mut next_acc, mut next_cpu) = (0, k);
    while j > 0 {
        let (i, on_acc) = (back_from[cell(j, a, c)], back_acc[cell(j, a, c)]);
        if i == u32::MAX {
            return None;
        }
        let i = i as usize;
        let dev = if on_acc {
            a -= 1;
            next_acc += 1;
            next_acc - 1
        } else {
            c -= 1;
            next_cpu += 1;
            next_cpu - 1
        };
        for &g in &order[i..j] {
            gslot[g] = dev;
        }
        j = i;
    }
    Some(assign_groups(con, inst.len(), &gslot))
}

/// Compute time and transfer time of one device slot from scratch, given its members
/// (transfers only on accelerators): the parts of its load.
fn device_parts(
    inst: &Instance,
    slot: &[usize],
    d: usize,
    members: &[usize],
    mark: &mut [u32],
    epoch: u32,
) -> (f64, f64) {
    let k = inst.devices.accelerators;
    if d >= k {
        return (members.iter().map(|&u| inst.p_cpu[u]).sum(), 0.0);
    }
    let (mut load, mut transfer) = (0.0, 0.0);
    for &u in members {
        load += inst.p_acc[u];
        if inst.succ[u].iter().any(|&v| slot[v] != d) && mark[u] != epoch {
            mark[u] = epoch;
            transfer += inst.out_cost[u];
        }
        for &w in &inst.pred[u] {
            if slot[w] != d && mark[w] != epoch {
                mark[w] = epoch;
                transfer += inst.out_cost[w];
            }
        }
    }
    (load, transfer)
}

/// The device loads of an assignment under moves of one group to another device: per node
/// the devices of its successors (with counts), so that the change a move makes to the
/// transfers of its source and target is found from the group and its predecessors alone,
/// O(Σ degrees of the group), instead of from every member of both devices.
struct MoveEval {
    k: usize,
    /// Per node: (device, number of out-edges into it), for the devices it sends to.
    hist: Vec<Vec<(u32, u32)>>,
    /// Compute time (Σ p_acc on accelerators, Σ p_cpu on CPUs) and transfer time per device.
    comp: Vec<f64>,
    trans: Vec<f64>,
    /// The prepared group: membership, out-edges of each node into it, and the nodes whose
    /// crossing status a move of it can change (its members and their predecessors).
    in_group: Vec<bool>,
    into_group: Vec<u32>,
    seen: Vec<bool>,
    touched: Vec<usize>,
}

impl MoveEval {
    fn new(inst: &Instance, slot: &[usize], members: &[Vec<usize>]) -> MoveEval {
        let n = inst.len();
        let nd = members.len();
        let mut hist: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        for u in 0..n {
            for &v in &inst.succ[u] {
                bump(&mut hist[u], slot[v], 1);
            }
        }
        let mut e = MoveEval {
            k: inst.devices.accelerators,
            hist,
            comp: vec![0.0; nd],
            trans: vec![0.0; nd],
            in_group: vec![false; n],
            into_group: vec![0; n],
            seen: vec![false; n],
            touched: Vec::new(),
        };
        let mut mark = vec![0u32; n];
        for d in 0..nd {
            e.refresh(inst, slot, d, &members[d], &mut mark, d as u32 + 1);
        }
        e
    }

    /// Recomputes device `d`'s parts from scratch (no drift from many moves).
    fn refresh(
        &mut self,
        inst: &Instance,
        slot: &[usize],
        d: usize,
        members: &[usize],
        mark: &mut [u32],
        epoch: u32,
    ) {
        let (c, t) = device_parts(inst, slot, d, members, mark, epoch);
        self.comp[d] = c;
        self.trans[d] = t;
    }

    fn load(&self, inst: &Instance, d: usize) -> f64 {
        if d < self.k {
            inst.acc_load(self.comp[d], self.trans[d])
        } else {
            self.comp[d]
        }
    }

    fn count(&self, w: usize, d: usize) -> u32 {
        self.hist[w]
            .iter()
            .find(|e| e.0 as usize == d)
            .map_or(0, |e| e.1)
    }

    fn prepare(&mut self, inst: &Instance, group: &[usize]) {
        for &u in group {
            self.in_group[u] = true;
            self.seen[u] = true;
            self.touched.push(u);
        }
        for &u in group {
            for &w in &inst.pred[u] {
                if !self.seen[w] {
                    self.seen[w] = true;
                    self.touched.push(w);
                }
                self.into_group[w] += 1;
            }
        }
    }

    fn unprepare(&mut self, group: &[usize]) {
        for &w in &self.touched {
            self.into_group[w] = 0;
            self.seen[w] = false;
        }
        for &u in group {
            self.in_group[u] = false;
        }
        self.touched.clear();
    }

    /// The change of device `d`'s transfer time when the prepared group moves from `f` to
    /// `t` (`d` is one of them, an accelerator).
    fn transfer_delta(&self, inst: &Instance, slot: &[usize], f: usize, t: usize, d: usize) -> f64 {
        let mut delta = 0.0;
        for &w in &self.touched {
            let deg = inst.succ[w].len() as u32;
            let cnt = self.count(w, d);
            let before = if slot[w] == d { cnt < deg } else { cnt > 0 };
            let moved = self.into_group[w];
            let cnt_after = if d == t {
                cnt + moved
            } else if d == f {
                cnt - moved
            } else {
                cnt
            };
            let at = if self.in_group[w] { t } else { slot[w] };
            let after = if at == d {
                cnt_after < deg
            } else {
                cnt_after > 0
            };
            match (before, after) {
                (false, true) => delta += inst.out_cost[w],
                (true, false) => delta -= inst.out_cost[w],
                _ => {}
            }
        }
        delta
    }

    /// Moves the group from `f` to `t` in the successor histograms (the caller updates
    /// `slot` and refreshes both devices).
    fn apply(&mut self, inst: &Instance, group: &[usize], f: usize, t: usize) {
        for &u in group {
            for &w in &inst.pred[u] {
                bump(&mut self.hist[w], f, -1);
                bump(&mut self.hist[w], t, 1);
            }
        }
    }
}

/// Adds `by` to the count of device `d` in a successor histogram (dropping a count of 0).
fn bump(hist: &mut Vec<(u32, u32)>, d: usize, by: i32) {
    match hist.iter().position(|e| e.0 as usize == d) {
        Some(i) => {
            let c = hist[i].1 as i64 + by as i64;
            if c <= 0 {
                hist.swap_remove(i);
            } else {
                hist[i].1 = c as u32;
            }
        }
        None if by > 0 => hist.push((d as u32, by as u32)),
        None => {}
    }
}

/// Steepest-descent local search over moves of one group to another device (not restricted
/// to contiguous placements), respecting memory and support, from a start assignment.
/// Objective: max load, then the sum of squared loads. Deterministic.
///
/// # Complexity
/// O(iterations · g · (k + l) · Σ deg) for g groups: a move is evaluated from the group
/// and its predecessors only, and the objective from the three largest loads.
pub fn local_search(
    inst: &Instance,
    con: &Contraction,
    start: Option<Assignment>,
) -> Option<Assignment> {
    local_search_until(inst, con, start, Deadline::NONE)
}

/// [`local_search`] that stops at a deadline with the best assignment so far.
pub(crate) fn local_search_until(
    inst: &Instance,
    con: &Contraction,
    start: Option<Assignment>,
    deadline: Deadline,
) -> Option<Assignment> {
    let mut slot = start?;
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let nd = k + l;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nd];
    for u in 0..inst.len() {
        members[slot[u]].push(u);
    }
    let mut mark = vec![0u32; inst.len()];
    let mut epoch = nd as u32;
    let mut eval = MoveEval::new(inst, &slot, &members);
    let mut loads: Vec<f64> = (0..nd).map(|d| eval.load(inst, d)).collect();
    let mut mem: Vec<f64> = (0..nd)
        .map(|d| members[d].iter().map(|&u| inst.size[u]).sum())
        .collect();
    let better = |a: (f64, f64), b: (f64, f64)| {
        a.0 < b.0 - 1e-12 * b.0.abs().max(1.0)
            || (a.0 <= b.0 + 1e-12 * b.0.abs().max(1.0) && a.1 < b.1 - 1e-9 * b.1.abs().max(1.0))
    };
    let mut cur = (
        loads.iter().copied().fold(0.0, f64::max),
        loads.iter().map(|x| x * x).sum::<f64>(),
    );
    'search: for _iter in 0..200 {
        // the three largest loads: the max of the others when two devices change
        let mut top: [(f64, usize); 3] = [(f64::NEG_INFINITY, usize::MAX); 3];
        for (d, &x) in loads.iter().enumerate() {
            if x > top[2].0 {
                top[2] = (x, d);
                top.sort_by(|a, b| b.0.total_cmp(&a.0));
            }
        }
        let others = |f: usize, t: usize| {
            top.iter()
                .find(|e| e.1 != f && e.1 != t && e.1 != usize::MAX)
                .map_or(0.0, |e| e.0.max(0.0))
        };
        let mut best: Option<((f64, f64), usize, usize)> = None;
        for g in 0..con.len() {
            if deadline.passed() {
                break 'search;
            }
            let group = &con.groups[g];
            let from = slot[group[0]];
            // the source's load without g does not depend on the target
            let mut lf: Option<f64> = None;
            for to in 0..nd {
                if to == from
                    || (to < k
                        && (!con.supported[g]
                            || mem[to] + con.size[g] > inst.devices.accelerator_memory))
                {
                    continue;
                }
                let added = if to < k { con.p_acc[g] } else { con.p_cpu[g] };
                let top_now = best.map_or(cur, |b| b.0).0;
                if eval.comp[to] + added > top_now + 1e-9 * top_now.abs().max(1.0) {
                    continue;
                }
                if lf.is_none() {
                    eval.prepare(inst, group);
                }
                let lf = *lf.get_or_insert_with(|| {
                    let taken = if from < k { con.p_acc[g] } else { con.p_cpu[g] };
                    if from < k {
                        let dt = eval.transfer_delta(inst, &slot, from, to, from);
                        inst.acc_load(eval.comp[from] - taken, eval.trans[from] + dt)
                    } else {
                        eval.comp[from] - taken
                    }
                    .max(0.0)
                });
                let lt = if to < k {
                    let dt = eval.transfer_delta(inst, &slot, from, to, to);
                    inst.acc_load(eval.comp[to] + added, eval.trans[to] + dt)
                } else {
                    eval.comp[to] + added
                };
                let obj = (
                    others(from, to).max(lf).max(lt),
                    cur.1 - loads[from] * loads[from] - loads[to] * loads[to] + lf * lf + lt * lt,
                );
                if better(obj, best.map_or(cur, |b| b.0)) {
                    best = Some((obj, g, to));
                }
            }
            if lf.is_some() {
                eval.unprepare(group);
            }
        }
        let Some((_, g, to)) = best else {
            break;
        };
        let group = &con.groups[g];
        let from = slot[group[0]];
        eval.apply(inst, group, from, to);
        for &u in group {
            slot[u] = to;
        }
        members[from].retain(|&u| slot[u] == from);
        members[to].extend_from_slice(group);
        mem[from] -= con.size[g];
        mem[to] += con.size[g];
        for d in [from, to] {
            epoch += 1;
            eval.refresh(inst, &slot, d, &members[d], &mut mark, epoch);
            loads[d] = eval.load(inst, d);
        }
        cur = (
            loads.iter().copied().fold(0.0, f64::max),
            loads.iter().map(|x| x * x).sum::<f64>(),
        );
    }
    Some(slot)
}

/// SplitMix64, for deterministic random restarts.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A random start: each group on a random accelerator where it fits (memory and support,
/// in a random order of tries), else on a random CPU; `None` when some group fits nowhere.
fn random_start(inst: &Instance, con: &Contraction, rng: &mut SplitMix) -> Option<Assignment> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut mem = vec![0.0f64; k];
    let mut gslot = vec![0; con.len()];
    for g in 0..con.len() {
        let mut placed = false;
        if k > 0 && con.supported[g] {
            let first = rng.below(k);
            for t in 0..k {
                let a = (first + t) % k;
                if mem[a] + con.size[g] <= inst.devices.accelerator_memory {
                    mem[a] += con.size[g];
                    gslot[g] = a;
                    placed = true;
                    break;
                }
            }
        }
        if !placed {
            if l == 0 {
                return None;
            }
            gslot[g] = k + rng.below(l);
        }
    }
    Some(assign_groups(con, inst.len(), &gslot))
}

/// Local search with restarts: steepest descent ([`local_search`]) from the greedy fill and
/// from `restarts` random feasible starts (seeded, so deterministic), keeping the feasible
/// result of least max load (first one on ties). Stops at the deadline with the best so far.
///
/// # Complexity
/// (restarts + 1) times that of [`local_search`].
pub fn local_search_with_restarts(
    inst: &Instance,
    con: &Contraction,
    restarts: usize,
) -> Option<Assignment> {
    local_search_restarts(inst, con, restarts, Deadline::NONE)
}

pub(crate) fn local_search_restarts(
    inst: &Instance,
    con: &Contraction,
    restarts: usize,
    deadline: Deadline,
) -> Option<Assignment> {
    let mut rng = SplitMix(0x005E_ED0F_1A11);
    let mut best: Option<(f64, Assignment)> = None;
    let mut first: Option<Assignment> = None;
    for r in 0..=restarts {
        if r > 0 && deadline.passed() {
            break;
        }
        let start = if r == 0 {
            greedy_fill(inst, con)
        } else {
            random_start(inst, con, &mut rng)
        };
        let Some(slot) = local_search_until(inst, con, start, deadline) else {
            continue;
        };
        if !violations(inst, &slot).is_empty() {
            first.get_or_insert(slot);
            continue;
        }
        let v = evaluate(inst, &slot).max_load;
        if best.as_ref().map_or(true, |b| v < b.0) {
            best = Some((v, slot));
        }
    }
    // nothing feasible: the first result, for reference (reported as infeasible)
    best.map(|b| b.1).or(first)
}
