//! Incumbents and baselines: starting plans (chain split), hill climbing, the authors'
//! latency greedy.

use super::schedule::evaluate_plan;
use super::{LatencyPlan, LatencySchedule};
use crate::contract::Contraction;
use crate::incr::CommTracker;
use crate::limits::Limits;
use crate::model::Instance;
use std::collections::BTreeSet;
use std::time::Instant;

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
pub(super) fn improve(
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
    let late = || limits.time_limit.is_some_and(|d| started.elapsed() >= d);
    'rounds: for _ in 0..IMPROVE_ROUNDS {
        if late() {
            break;
        }
        let mut moved = false;
        for u in 0..n {
            // a round evaluates O(n) plans of O((n + m) log n) each: read the clock inside
            if u % 16 == 15 && late() {
                break 'rounds;
            }
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
pub(super) const IMPROVE_ROUNDS: usize = 200;

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

pub(super) fn node_topo(inst: &Instance) -> Vec<usize> {
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
/// minimising the sum of subgraph durations under the memory limit. The chain split is
/// skipped when its table of (groups + 1)·(k + 1) values and back pointers would exceed
/// `max_bytes`, and left out when `deadline` passes first.
///
/// # Complexity
/// O(g²·(d + k)) time for g groups of average degree d (the durations of the pieces ending
/// at each group are computed in turn, and a piece grows no further back once it breaks
/// memory or support), O(g·k) memory.
pub(super) fn initial_plans(
    inst: &Instance,
    con: &Contraction,
    max_bytes: u64,
    deadline: Option<Instant>,
) -> Vec<LatencyPlan> {
    let n = inst.len();
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut plans = Vec::new();
    if l > 0 {
        plans.push(vec![None; n]);
    }
    let ng = con.len();
    let k = k.min(ng);
    // tables: (ng+1)(k+1) values and back pointers, and the durations ending at one group
    let bytes = (ng + 1)
        .checked_mul(k + 1)
        .and_then(|x| x.checked_mul(32))
        .and_then(|x| x.checked_add((ng + 1).checked_mul(8)?));
    if k == 0 || !bytes.is_some_and(|b| b as u64 <= max_bytes) {
        return plans;
    }
    // group order: con numbering is topological
    let mut tr = CommTracker::new(inst);
    // dur[i]: the duration of the subgraph of groups i..j (for the current j)
    let mut dur = vec![f64::INFINITY; ng + 1];
    // best[j][a]: min total duration for the first j groups in at most a subgraphs,
    // unsupported groups may go to CPU as single-group pieces when l > 0
    let mut best = vec![vec![f64::INFINITY; k + 1]; ng + 1];
    let mut back = vec![vec![(usize::MAX, false); k + 1]; ng + 1];
    best[0].iter_mut().for_each(|x| *x = 0.0);
    for j in 1..=ng {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return plans;
        }
        // the pieces i..j, grown backwards from group j - 1
        let (mut p, mut s, mut c) = (0.0, 0.0, 0.0);
        let mut first = j;
        for i in (0..j).rev() {
            if !con.supported[i] {
                break;
            }
            s += con.size[i];
            if s > inst.devices.accelerator_memory {
                break;
            }
            p += con.p_acc[i];
            c += tr.add(&con.groups[i]);
            dur[i] = p + c;
            first = i;
        }
        for i in first..j {
            tr.remove(&con.groups[i]);
        }
        for a in 0..=k {
            if l > 0 {
                let v = best[j - 1][a] + con.p_cpu[j - 1];
                if v < best[j][a] {
                    best[j][a] = v;
                    back[j][a] = (j - 1, false);
                }
            }
            if a > 0 {
                for i in first..j {
                    let v = best[i][a - 1] + dur[i];
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
