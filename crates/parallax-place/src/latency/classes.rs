//! Colocation classes under the latency objective: the branch and bound that makes the
//! search over ideals exact for them (see [`super::solve_latency`]).
//!
//! The model (as the paper's latency IP): a class runs inside one subgraph, or all of it
//! on CPUs; only the subgraphs must be convex. The search over ideals contracts every class
//! into one group and fuses the strongly connected pieces of the class graph
//! (`Contraction::all_edges`). That is exact for a class inside a subgraph — a convex
//! subgraph holding two nodes holds every path between them — but not for a class on the
//! CPUs: there each node starts when its own inputs are ready, so nothing ties the nodes on
//! paths between the class's nodes to it, and nothing makes the class's nodes wait for one
//! another. (A class {1, 3} that must run on a CPU, with 1 → 2 → 3 and node 2 100× faster
//! on an accelerator: contracted, node 2 had to join the class on the CPU.) So:
//!
//! * a class that cannot run on an accelerator (a node not supported there, more memory
//!   than one accelerator, or no accelerators) runs on CPUs: its nodes become CPU-only
//!   nodes of classes of their own — exact;
//! * a class whose nodes are all sources, or all sinks, stays contracted — exact: nothing
//!   lies between its nodes, and on a CPU its nodes start at 0 (sources) or after all their
//!   inputs (sinks) whatever the order of the other moves;
//! * every other class of several nodes (*open*) is decided by a best-first branch and
//!   bound whose nodes are latency searches: the root *drops* the open classes (each node a
//!   class of its own, a relaxation); a search whose schedule keeps every dropped class
//!   (inside one subgraph or all on CPUs) solves its node; otherwise the dropped class it
//!   breaks that spans most of a topological order is branched on: *on CPUs* (its nodes
//!   CPU-only, of classes of their own) or *kept* (contracted: inside one subgraph, or on
//!   a CPU with the nodes between its nodes, a restriction of the second case only). The
//!   two children cover every schedule of the parent that keeps the class. The best
//!   schedule known (first that of the search with every open class kept, which is the
//!   contracted model, and the all-CPU schedule) seeds every search, which returns it when
//!   nothing beats it, so a search also proves its node pruned.
//!
//! Budgets are shared: the searches draw on one deadline and one label budget. When one
//! stops, the branch and bound stops with the least lower bound of the nodes left.

use super::schedule::{evaluate_plan, plan_of};
use super::{solve_latency_seeded, LatencyPlan, LatencySolution};
use crate::error::PlaceError;
use crate::limits::{Limits, ProofStatus, StopReason, OPTIMALITY_GAP};
use crate::model::Instance;
use std::time::Instant;

/// What a node of the branch and bound does with an open class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Relaxed: each of its nodes a class of its own.
    Dropped,
    /// On CPUs: its nodes CPU-only, each a class of its own.
    Cpu,
    /// Contracted, as the search's model has it.
    Kept,
}

/// A node of the branch and bound: the open classes' states, a lower bound on every
/// schedule below it, and its creation number (ties of the bound go to the older).
struct BbNode {
    states: Vec<State>,
    bound: f64,
    seq: u64,
}

/// The instance a node solves: `base` with the open classes `open` (class ids, their
/// `members`) dropped, on CPUs or kept as `states` says. A dropped or CPU class keeps its
/// id for its first node and gives the others new ids, so no class id is left empty.
fn variant(base: &Instance, open: &[usize], members: &[Vec<usize>], states: &[State]) -> Instance {
    let mut inst = base.clone();
    let mut next = base.classes;
    for (&c, &state) in open.iter().zip(states) {
        if state == State::Kept {
            continue;
        }
        for (j, &u) in members[c].iter().enumerate() {
            if j > 0 {
                inst.class[u] = next;
                next += 1;
            }
            if state == State::Cpu {
                inst.supported[u] = false;
            }
        }
    }
    inst.classes = next;
    inst
}

/// Whether a plan keeps a class: all of it inside one subgraph, or all of it on CPUs.
fn keeps(plan: &LatencyPlan, members: &[usize]) -> bool {
    members.iter().all(|&u| plan[u] == plan[members[0]])
}

/// What the searches of the branch and bound spent, summed (ideals: the largest).
#[derive(Default)]
struct Spent {
    labels: u64,
    pairs: u64,
    ideals: usize,
    series: bool,
    solves: u64,
}

impl Spent {
    fn add(&mut self, s: &LatencySolution) {
        self.labels += s.labels;
        self.pairs += s.pairs;
        self.ideals = self.ideals.max(s.ideals);
        self.series |= s.series;
        self.solves += 1;
    }
}

/// [`super::solve_latency`] with colocation classes handled exactly (see the module docs);
/// `gate` as for `solve_latency_impl`.
pub(super) fn solve(
    inst: &Instance,
    q: usize,
    limits: &Limits,
    gate: Option<u64>,
) -> Result<LatencySolution, PlaceError> {
    let started = Instant::now();
    let usable = inst.usable();
    let orig: &Instance = &usable;
    let members = orig.class_members();
    let k = orig.devices.accelerators;
    // without CPUs a class can only run inside a subgraph: the contraction is exact
    if orig.devices.cpus == 0 || members.iter().all(|m| m.len() < 2) || q == 0 || orig.overlap {
        return super::solve_latency_impl(orig, q, limits, gate);
    }
    let cpu_only = |m: &[usize]| {
        k == 0
            || m.iter().any(|&u| !orig.supported[u])
            || m.iter().map(|&u| orig.size[u]).sum::<f64>() > orig.devices.accelerator_memory
    };
    let (mut forced, mut open): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for (c, m) in members.iter().enumerate() {
        if m.len() < 2 {
            continue;
        }
        let sources = m.iter().all(|&u| orig.pred[u].is_empty());
        let sinks = m.iter().all(|&u| orig.succ[u].is_empty());
        if cpu_only(m) {
            forced.push(c);
        } else if !(sources || sinks) {
            open.push(c);
        }
    }
    // the classes bound to the CPUs, settled once for all nodes
    let base = variant(orig, &forced, &members, &vec![State::Cpu; forced.len()]);
    let verified = |plan: &LatencyPlan| evaluate_plan(orig, plan, q).map(|s| s.latency);
    if open.is_empty() {
        let sol = super::solve_latency_impl(&base, q, limits, gate)?;
        return verify(orig, q, sol);
    }
    let deadline = limits.time_limit.and_then(|d| started.checked_add(d));
    let time_left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let mut labels_left = limits.max_labels;
    let mut spent = Spent::default();
    // the incumbent: the all-CPU schedule, then the contracted model's optimum (with half
    // the budget), which the old model returned
    let all_cpu: LatencyPlan = vec![None; orig.len()];
    let mut best: Option<(f64, LatencyPlan)> = verified(&all_cpu).map(|v| (v, all_cpu));
    let half = Limits {
        time_limit: limits.time_limit.map(|d| d / 2),
        max_labels: limits.max_labels.map(|m| m / 2),
        ..limits.clone()
    };
    match solve_latency_seeded(&base, q, &half, gate, best.clone()) {
        Ok(sol) => {
            spent.add(&sol);
            labels_left = labels_left.map(|m| m.saturating_sub(sol.labels));
            let plan = plan_of(&base, &sol.schedule);
            if let Some(v) = verified(&plan) {
                if best.as_ref().map_or(true, |b| v < b.0) {
                    best = Some((v, plan));
                }
            }
        }
        Err(PlaceError::Unsupported(_)) | Err(PlaceError::InfeasibleMemory { .. }) => {}
        Err(e) => return Err(e),
    }
    // a topological position per node, to branch on the class that spans most of it
    let mut pos = vec![0usize; orig.len()];
    for (i, &u) in super::heuristics::node_topo(orig).iter().enumerate() {
        pos[u] = i;
    }
    let span = |c: usize| {
        let p = members[c].iter().map(|&u| pos[u]);
        p.clone().max().unwrap_or(0) - p.min().unwrap_or(0)
    };
    let mut open_nodes: Vec<BbNode> = vec![BbNode {
        states: vec![State::Dropped; open.len()],
        bound: f64::NEG_INFINITY,
        seq: 0,
    }];
    let mut seq = 1u64;
    let mut stop: Option<(StopReason, f64)> = None;
    let beats = |v: f64, best: &Option<(f64, LatencyPlan)>| {
        best.as_ref()
            .map_or(true, |b| v < b.0 * (1.0 - OPTIMALITY_GAP))
    };
    while let Some(at) = (0..open_nodes.len()).min_by(|&a, &b| {
        let (x, y) = (&open_nodes[a], &open_nodes[b]);
        x.bound.total_cmp(&y.bound).then(x.seq.cmp(&y.seq))
    }) {
        if !beats(open_nodes[at].bound, &best) {
            // best first: nothing left can beat the incumbent
            open_nodes.clear();
            break;
        }
        let out_of_time = time_left().is_some_and(|t| t.is_zero());
        if out_of_time || labels_left == Some(0) {
            let reason = if out_of_time {
                StopReason::TimeLimit
            } else {
                StopReason::LabelLimit
            };
            stop = Some((reason, open_nodes[at].bound));
            break;
        }
        let node = open_nodes.swap_remove(at);
        let inst = variant(&base, &open, &members, &node.states);
        // the incumbent seeds the search where it is a schedule of this node
        let seed = best
            .as_ref()
            .filter(|(_, plan)| evaluate_plan(&inst, plan, q).is_some())
            .cloned();
        let node_limits = Limits {
            time_limit: time_left().or(limits.time_limit),
            max_labels: labels_left,
            ..limits.clone()
        };
        let sol = match solve_latency_seeded(&inst, q, &node_limits, gate, seed) {
            Ok(sol) => sol,
            // nothing fits this node
            Err(PlaceError::InfeasibleMemory { .. }) => continue,
            // stopped before any schedule: its parent's bound stands
            Err(PlaceError::Unsupported(m)) if m.contains("before finding") => {
                let reason = if time_left().is_some_and(|t| t.is_zero()) {
                    StopReason::TimeLimit
                } else {
                    StopReason::LabelLimit
                };
                stop = Some((reason, node.bound));
                break;
            }
            Err(e) => return Err(e),
        };
        spent.add(&sol);
        labels_left = labels_left.map(|m| m.saturating_sub(sol.labels));
        let value = sol.schedule.latency;
        let plan = plan_of(&inst, &sol.schedule);
        let broken: Vec<usize> = (0..open.len())
            .filter(|&i| node.states[i] == State::Dropped && !keeps(&plan, &members[open[i]]))
            .collect();
        if broken.is_empty() && beats(value, &best) {
            if let Some(v) = verified(&plan) {
                best = Some((v, plan));
            }
        }
        if let ProofStatus::Stopped {
            reason,
            lower_bound,
            ..
        } = sol.status
        {
            stop = Some((reason, lower_bound.max(node.bound)));
            break;
        }
        if broken.is_empty() || !beats(value, &best) {
            // solved, or pruned
            continue;
        }
        let Some(&branch) = broken.iter().max_by(|&&a, &&b| {
            span(open[a])
                .cmp(&span(open[b]))
                .then(open[b].cmp(&open[a]))
        }) else {
            continue;
        };
        for state in [State::Cpu, State::Kept] {
            let mut states = node.states.clone();
            states[branch] = state;
            open_nodes.push(BbNode {
                states,
                bound: value,
                seq,
            });
            seq += 1;
        }
    }
    let Some((_, plan)) = best else {
        return Err(PlaceError::Unsupported(
            "the latency search stopped before finding any schedule; raise the budget".into(),
        ));
    };
    let schedule = evaluate_plan(orig, &plan, q).ok_or_else(|| {
        PlaceError::Verification("the class branch and bound kept an invalid plan".into())
    })?;
    let status = match stop {
        None => ProofStatus::Optimal,
        Some((reason, lb)) => {
            let least = open_nodes
                .iter()
                .map(|n| n.bound)
                .fold(lb, f64::min)
                .max(0.0);
            ProofStatus::stopped(reason, least, schedule.latency)
        }
    };
    Ok(LatencySolution {
        schedule,
        status,
        labels: spent.labels,
        ideals: spent.ideals,
        pairs: spent.pairs,
        series: spent.series,
        class_solves: spent.solves,
    })
}

/// The solution of a single search on an instance whose classes it models exactly, its
/// schedule verified on the instance itself.
fn verify(orig: &Instance, q: usize, sol: LatencySolution) -> Result<LatencySolution, PlaceError> {
    let plan = plan_of(orig, &sol.schedule);
    let schedule = evaluate_plan(orig, &plan, q).ok_or_else(|| {
        PlaceError::Verification("the latency schedule breaks a colocation class".into())
    })?;
    Ok(LatencySolution { schedule, ..sol })
}
