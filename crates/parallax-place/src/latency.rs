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

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::contract::Contraction;
use crate::error::PlaceError;
use crate::ideals::Ideals;
use crate::incr::CommTracker;
use crate::limits::{Limits, ProofStatus, StopReason};
use crate::model::{Instance, NodeId};

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
    times: Vec<f64>,
    /// Open accelerators (fewer than q subgraphs): (available, memory, subgraphs), sorted.
    open: Vec<(f64, f64, u32)>,
    closed: u32,
    makespan: f64,
    parent: (u32, u32),
    mv: Move,
    dead: bool,
}

fn dominates(a: &Label, b: &Label) -> bool {
    a.makespan <= b.makespan
        && a.closed <= b.closed
        && a.open == b.open
        && a.times.iter().zip(&b.times).all(|(x, y)| x <= y)
}

/// Solves the latency objective exactly by a label-setting search over the ideals of the
/// group DAG.
///
/// A state is an ideal I (the nodes already scheduled) with the finish times of I's nodes that
/// feed nodes outside I, the open accelerators and the makespan so far. A move schedules the
/// next block — one group on a CPU, or a convex set J \ I on a fresh or an open accelerator —
/// as early as possible. Every feasible schedule is reached by adding its blocks in a
/// topological order of its block graph (plus accelerator order), so the search is exact.
/// States are pruned by Pareto dominance and by a critical-path lower bound against the best
/// schedule known (a chain split to start with).
///
/// # Arguments
/// * `inst` — a validated instance.
/// * `q` — subgraphs allowed per accelerator (≥ 1).
/// * `limits` — budgets; when one runs out the best schedule known is returned with
///   [`ProofStatus::Stopped`].
///
/// # Errors
/// [`PlaceError::Unsupported`] for `q == 0`; [`PlaceError::InfeasibleMemory`] when nothing
/// fits; [`PlaceError::Verification`] if the schedule fails re-evaluation.
///
/// # Complexity
/// Exponential in the worst case (the problem is NP-hard); in practice bounded by
/// O(P·L) for P visited ideal pairs and L surviving labels per ideal.
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
    let started = Instant::now();
    let con = Contraction::all_edges(inst, true);
    let n = inst.len();
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mem_cap = inst.devices.accelerator_memory;
    // node topological order and tails for the lower bound
    let topo = node_topo(inst);
    let mut rank = vec![0usize; n];
    for (i, &u) in topo.iter().enumerate() {
        rank[u] = i;
    }
    let minw: Vec<f64> = (0..n)
        .map(|u| {
            let a = if k > 0 && inst.supported[u] {
                inst.p_acc[u]
            } else {
                f64::INFINITY
            };
            let c = if l > 0 { inst.p_cpu[u] } else { f64::INFINITY };
            a.min(c)
        })
        .collect();
    let mut tail = vec![0.0f64; n];
    for &u in topo.iter().rev() {
        tail[u] = inst.succ[u]
            .iter()
            .map(|&v| minw[v] + tail[v])
            .fold(0.0, f64::max);
    }
    let mut gmembers = con.groups.clone();
    for m in &mut gmembers {
        m.sort_by_key(|&u| rank[u]);
    }
    // initial upper bound: chain split with one subgraph per accelerator, or all on CPU
    let mut best: Option<(f64, LatencyPlan)> = None;
    for plan in initial_plans(inst, &con) {
        if let Some(s) = evaluate_plan(inst, &plan, q) {
            if best.as_ref().map_or(true, |b| s.latency < b.0) {
                best = Some((s.latency, plan));
            }
        }
    }
    let lb_root = (0..n)
        .filter(|&u| inst.pred[u].is_empty())
        .map(|u| minw[u] + tail[u])
        .fold(0.0, f64::max);
    let Some(ideals) = Ideals::enumerate(&con.pred, limits.max_ideals) else {
        return finish_stopped(inst, q, best, StopReason::IdealLimit, lb_root, 0, 0);
    };
    let ni = ideals.len();
    let mut ub = best.as_ref().map_or(f64::INFINITY, |b| b.0);
    let tol = |x: f64| x * (1.0 - 1e-12) - 1e-12;
    let mut labels: Vec<Vec<Label>> = vec![Vec::new(); ni];
    labels[0].push(Label {
        times: Vec::new(),
        open: Vec::new(),
        closed: 0,
        makespan: 0.0,
        parent: (u32::MAX, u32::MAX),
        mv: Move::Root,
        dead: false,
    });
    let mut frontier: Vec<Option<Vec<u32>>> = vec![None; ni];
    frontier[0] = Some(Vec::new());
    let mut in_i = vec![false; n];
    let mut pos = vec![u32::MAX; n];
    let mut tracker = CommTracker::new(n);
    let mut in_d = vec![false; n];
    let mut stamp = vec![u32::MAX; ni];
    let mut created: u64 = 1;
    let mut stopped: Option<StopReason> = None;
    let mut best_label: Option<(u32, u32)> = None;
    let full = ideals.full();
    let frontier_of = |j: usize, ideals: &Ideals, cache: &mut Vec<Option<Vec<u32>>>| -> Vec<u32> {
        if let Some(f) = &cache[j] {
            return f.clone();
        }
        let mut member = vec![false; n];
        for g in 0..con.len() {
            if ideals.contains(j, g) {
                for &u in &con.groups[g] {
                    member[u] = true;
                }
            }
        }
        let f: Vec<u32> = (0..n)
            .filter(|&u| member[u] && inst.succ[u].iter().any(|&v| !member[v]))
            .map(|u| u as u32)
            .collect();
        cache[j] = Some(f.clone());
        f
    };
    for i in 0..ni {
        if stopped.is_some() {
            break;
        }
        if labels[i].iter().all(|lb| lb.dead) {
            continue;
        }
        if i == full {
            break;
        }
        if limits.time_limit.is_some_and(|d| started.elapsed() >= d) {
            stopped = Some(StopReason::TimeLimit);
            break;
        }
        let fi = frontier_of(i, &ideals, &mut frontier);
        for (p, &u) in fi.iter().enumerate() {
            pos[u as usize] = p as u32;
        }
        for g in 0..con.len() {
            if ideals.contains(i, g) {
                for &u in &con.groups[g] {
                    in_i[u] = true;
                }
            }
        }
        let alive: Vec<u32> = (0..labels[i].len() as u32)
            .filter(|&x| !labels[i][x as usize].dead)
            .collect();
        let mut pending: Vec<(usize, Label)> = Vec::new();
        // CPU moves
        if l > 0 {
            for &(g, j) in ideals.up_of(i) {
                let g = g as usize;
                let fj = frontier_of(j as usize, &ideals, &mut frontier);
                for &li in &alive {
                    let lab = &labels[i][li as usize];
                    let mut t: BTreeMap<usize, f64> = BTreeMap::new();
                    let mut mk = lab.makespan;
                    for &x in &gmembers[g] {
                        let mut r = 0.0f64;
                        for &w in &inst.pred[x] {
                            let tw = if in_i[w] {
                                lab.times[pos[w] as usize]
                            } else {
                                t[&w]
                            };
                            r = r.max(tw);
                        }
                        let fx = r + inst.p_cpu[x];
                        mk = mk.max(fx);
                        t.insert(x, fx);
                    }
                    let times: Vec<f64> = fj
                        .iter()
                        .map(|&u| {
                            let u = u as usize;
                            if in_i[u] {
                                lab.times[pos[u] as usize]
                            } else {
                                t[&u]
                            }
                        })
                        .collect();
                    let lbv = times
                        .iter()
                        .zip(&fj)
                        .map(|(t, &u)| t + tail[u as usize])
                        .fold(mk, f64::max);
                    if lbv >= tol(ub) && ub.is_finite() {
                        continue;
                    }
                    pending.push((
                        j as usize,
                        Label {
                            times,
                            open: lab.open.clone(),
                            closed: lab.closed,
                            makespan: mk,
                            parent: (i as u32, li),
                            mv: Move::Cpu,
                            dead: false,
                        },
                    ));
                }
            }
        }
        // accelerator moves: DFS over super-ideals J of I
        if k > 0 {
            let min_open_mem = labels[i]
                .iter()
                .filter(|x| !x.dead)
                .map(|x| {
                    let fresh = (x.closed as usize + x.open.len()) < k;
                    let open_min = x.open.iter().map(|o| o.1).fold(f64::INFINITY, f64::min);
                    if fresh {
                        0.0
                    } else {
                        open_min
                    }
                })
                .fold(f64::INFINITY, f64::min);
            // a block without inputs may start at time 0 on a fresh accelerator
            let min_start = 0.0f64;
            // frames: (ideal, pos, group, p_acc, size, comm)
            let mut stack: Vec<(u32, u32, u32, f64, f64, f64)> =
                vec![(i as u32, 0, u32::MAX, 0.0, 0.0, 0.0)];
            stamp[i] = i as u32;
            while let Some(top) = stack.last_mut() {
                let ups = ideals.up_of(top.0 as usize);
                if (top.1 as usize) < ups.len() {
                    let (g, j) = ups[top.1 as usize];
                    top.1 += 1;
                    if stamp[j as usize] == i as u32 {
                        continue;
                    }
                    stamp[j as usize] = i as u32;
                    let gi = g as usize;
                    let p_acc = top.3 + con.p_acc[gi];
                    let size = top.4 + con.size[gi];
                    if !con.supported[gi]
                        || size + min_open_mem > mem_cap
                        || (ub.is_finite() && min_start + p_acc >= tol(ub))
                    {
                        continue;
                    }
                    let comm = top.5 + tracker.add(inst, &con.groups[gi]);
                    for &u in &con.groups[gi] {
                        in_d[u] = true;
                    }
                    stack.push((j, 0, g, p_acc, size, comm));
                    let dur = p_acc + comm;
                    let fj = frontier_of(j as usize, &ideals, &mut frontier);
                    // inputs of D: frontier nodes of I with a successor in D
                    let inputs: Vec<usize> = fi
                        .iter()
                        .enumerate()
                        .filter(|&(_, &u)| inst.succ[u as usize].iter().any(|&v| in_d[v]))
                        .map(|(p, _)| p)
                        .collect();
                    for &li in &alive {
                        let lab = &labels[i][li as usize];
                        let ready = inputs.iter().map(|&p| lab.times[p]).fold(0.0, f64::max);
                        let mut options: Vec<(Move, f64)> = Vec::new();
                        if (lab.closed as usize + lab.open.len()) < k && size <= mem_cap {
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
                                .zip(&fj)
                                .map(|(t, &u)| t + tail[u as usize])
                                .fold(mk, f64::max);
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
                                    parent: (i as u32, li),
                                    mv,
                                    dead: false,
                                },
                            ));
                        }
                    }
                } else {
                    let fr = stack.pop();
                    if let Some(fr) = fr {
                        if fr.2 != u32::MAX {
                            let members = &con.groups[fr.2 as usize];
                            tracker.remove(inst, members);
                            for &u in members {
                                in_d[u] = false;
                            }
                        }
                    }
                }
            }
        }
        // insert pending labels with dominance
        for (j, lab) in pending {
            created += 1;
            if limits.max_labels.is_some_and(|m| created > m) {
                stopped = Some(StopReason::LabelLimit);
                break;
            }
            if labels[j].iter().any(|x| !x.dead && dominates(x, &lab)) {
                continue;
            }
            for x in labels[j].iter_mut() {
                if !x.dead && dominates(&lab, x) {
                    x.dead = true;
                }
            }
            if j == full && lab.makespan < ub {
                ub = lab.makespan;
                best_label = Some((j as u32, labels[j].len() as u32));
            }
            labels[j].push(lab);
        }
        for g in 0..con.len() {
            if ideals.contains(i, g) {
                for &u in &con.groups[g] {
                    in_i[u] = false;
                }
            }
        }
        // free what is no longer needed
        for lab in labels[i].iter_mut() {
            lab.times = Vec::new();
        }
        frontier[i] = None;
    }
    if let Some((j, li)) = best_label {
        let plan = replay(&labels, &ideals, &con, (j, li), n);
        if let Some(s) = evaluate_plan(inst, &plan, q) {
            best = Some((s.latency, plan));
        } else {
            return Err(PlaceError::Verification(
                "latency search produced an unschedulable plan".into(),
            ));
        }
    }
    let Some((value, plan)) = best else {
        return Err(PlaceError::InfeasibleMemory {
            accelerators: k,
            memory: mem_cap,
            total_size: inst.total_size(),
        });
    };
    let schedule = evaluate_plan(inst, &plan, q)
        .ok_or_else(|| PlaceError::Verification("best latency plan does not evaluate".into()))?;
    if (schedule.latency - value).abs() > 1e-9 * value.max(1.0) {
        return Err(PlaceError::Verification(format!(
            "search latency {value} but the schedule evaluates to {}",
            schedule.latency
        )));
    }
    let status = match stopped {
        None => ProofStatus::Optimal,
        Some(r) => ProofStatus::stopped(r, lb_root, schedule.latency),
    };
    Ok(LatencySolution {
        schedule,
        status,
        labels: created,
        ideals: ni,
    })
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
            "the latency search stopped ({reason:?}) before finding any schedule"
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
    })
}

/// Rebuilds a plan by replaying the moves from the root to a label.
fn replay(
    labels: &[Vec<Label>],
    ideals: &Ideals,
    con: &Contraction,
    end: (u32, u32),
    n: usize,
) -> LatencyPlan {
    let mut chain: Vec<(u32, u32)> = Vec::new();
    let mut cur = end;
    while cur.0 != u32::MAX {
        chain.push(cur);
        cur = labels[cur.0 as usize][cur.1 as usize].parent;
    }
    chain.reverse();
    let mut plan: LatencyPlan = vec![None; n];
    // replayed accelerators: (avail, mem, count) by id
    let mut accs: Vec<(f64, f64, u32)> = Vec::new();
    for w in chain.windows(2) {
        let (pi, ci) = (w[0], w[1]);
        let parent = &labels[pi.0 as usize][pi.1 as usize];
        let child = &labels[ci.0 as usize][ci.1 as usize];
        let diff: Vec<usize> = (0..con.len())
            .filter(|&g| ideals.contains(ci.0 as usize, g) && !ideals.contains(pi.0 as usize, g))
            .collect();
        let (target, used) = match child.mv {
            Move::Root | Move::Cpu => continue,
            Move::NewAcc => {
                accs.push((0.0, 0.0, 0));
                (accs.len() - 1, None)
            }
            Move::OpenAcc(a, m, c) => {
                let Some(t) = accs.iter().position(|&x| x == (a, m, c)) else {
                    continue;
                };
                (t, Some((a, m, c)))
            }
        };
        let posn = accs[target].2 as usize;
        for &g in &diff {
            for &u in &con.groups[g] {
                plan[u] = Some((target, posn));
            }
        }
        // the new open entry is the child's open list minus the parent's (less the used one)
        let mut rest = parent.open.clone();
        if let Some(u) = used {
            if let Some(p) = rest.iter().position(|&o| o == u) {
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
        // closed accelerators keep a state no later move can match
        accs[target] = fresh.unwrap_or((f64::INFINITY, f64::INFINITY, u32::MAX));
    }
    plan
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
fn initial_plans(inst: &Instance, con: &Contraction) -> Vec<LatencyPlan> {
    let n = inst.len();
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut plans = Vec::new();
    if l > 0 {
        plans.push(vec![None; n]);
    }
    if k == 0 {
        return plans;
    }
    let ng = con.len();
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
