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
/// `limits.max_table_bytes`. A baseline the budget cuts short is marked `timed_out`.
pub fn run_all_with(inst: &Instance, limits: &Limits) -> Vec<Baseline> {
    let deadline = limits.deadline(std::time::Instant::now());
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let con = Contraction::new(inst, false);
    let greedy = greedy_fill(inst, &con);
    let ls = local_search_restarts(inst, &con, LOCAL_SEARCH_RESTARTS, deadline);
    let ls_cut = deadline.passed();
    let chain = chain_dp_until(inst, &con, deadline, limits.max_table_bytes);
    let chain_cut = chain.is_none() && deadline.passed();
    let pd = crate::pipedream::assignment_until(inst, &con, deadline);
    let pd_cut = pd.is_none() && deadline.passed();
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

/// Load of one device slot from scratch, given the members of that slot.
fn device_load(
    inst: &Instance,
    slot: &[usize],
    d: usize,
    members: &[usize],
    mark: &mut [u32],
    epoch: u32,
) -> f64 {
    let k = inst.devices.accelerators;
    if d >= k {
        return members.iter().map(|&u| inst.p_cpu[u]).sum();
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
    inst.acc_load(load, transfer)
}

/// Steepest-descent local search over moves of one group to another device (not restricted
/// to contiguous placements), respecting memory and support, from a start assignment.
/// Objective: max load, then the sum of squared loads. Deterministic.
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
    let mut epoch = 0u32;
    let mut loads: Vec<f64> = (0..nd)
        .map(|d| {
            epoch += 1;
            device_load(inst, &slot, d, &members[d], &mut mark, epoch)
        })
        .collect();
    let mut mem: Vec<f64> = (0..nd)
        .map(|d| members[d].iter().map(|&u| inst.size[u]).sum())
        .collect();
    let objective = |loads: &[f64]| {
        (
            loads.iter().copied().fold(0.0, f64::max),
            loads.iter().map(|x| x * x).sum::<f64>(),
        )
    };
    let better = |a: (f64, f64), b: (f64, f64)| {
        a.0 < b.0 - 1e-12 * b.0.abs().max(1.0)
            || (a.0 <= b.0 + 1e-12 * b.0.abs().max(1.0) && a.1 < b.1 - 1e-9 * b.1.abs().max(1.0))
    };
    // the work on each device (Σ p_acc on accelerators, Σ p_cpu on CPUs): a move whose
    // target's load is surely above the current maximum (its work alone exceeds it) cannot
    // improve the objective and is skipped without the from-scratch evaluation
    let work_of = |d: usize, members: &[usize]| -> f64 {
        if d < k {
            members.iter().map(|&u| inst.p_acc[u]).sum()
        } else {
            members.iter().map(|&u| inst.p_cpu[u]).sum()
        }
    };
    let mut work: Vec<f64> = (0..nd).map(|d| work_of(d, &members[d])).collect();
    let mut cur = objective(&loads);
    'search: for _iter in 0..200 {
        let mut best: Option<((f64, f64), usize, usize, f64, f64)> = None;
        for g in 0..con.len() {
            if deadline.passed() {
                break 'search;
            }
            let from = slot[con.groups[g][0]];
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
                let top = best.map_or(cur, |b| b.0).0;
                if work[to] + added > top + 1e-9 * top.abs().max(1.0) {
                    continue;
                }
                for &u in &con.groups[g] {
                    slot[u] = to;
                }
                let lf = *lf.get_or_insert_with(|| {
                    let from_members: Vec<usize> = members[from]
                        .iter()
                        .copied()
                        .filter(|&u| slot[u] == from)
                        .collect();
                    epoch += 1;
                    device_load(inst, &slot, from, &from_members, &mut mark, epoch)
                });
                let mut to_members = members[to].clone();
                to_members.extend_from_slice(&con.groups[g]);
                epoch += 1;
                let lt = device_load(inst, &slot, to, &to_members, &mut mark, epoch);
                for &u in &con.groups[g] {
                    slot[u] = from;
                }
                let mut trial = loads.clone();
                trial[from] = lf;
                trial[to] = lt;
                let obj = objective(&trial);
                if better(obj, best.map_or(cur, |b| b.0)) {
                    best = Some((obj, g, to, lf, lt));
                }
            }
        }
        let Some((obj, g, to, lf, lt)) = best else {
            break;
        };
        let from = slot[con.groups[g][0]];
        for &u in &con.groups[g] {
            slot[u] = to;
        }
        members[from].retain(|&u| slot[u] == from);
        members[to].extend_from_slice(&con.groups[g]);
        mem[from] -= con.size[g];
        mem[to] += con.size[g];
        work[from] = work_of(from, &members[from]);
        work[to] = work_of(to, &members[to]);
        loads[from] = lf;
        loads[to] = lt;
        cur = obj;
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
