//! Evaluating latency plans from scratch, and converting schedules and placements to plans.

use super::{CpuTask, LatencyPlan, LatencySchedule, Subgraph};
use crate::model::Instance;
use crate::model::NodeId;
use std::collections::BTreeMap;

/// Evaluates a plan from scratch: subgraphs are the node sets sharing `(accelerator,
/// position)`, run on each accelerator in position order, as soon as possible.
///
/// Returns `None` when the plan is not schedulable (a dependency cycle between subgraphs),
/// breaks memory or support, splits a colocation class (a class runs inside one subgraph,
/// or all of it on CPUs), or uses an accelerator index `>= k`. [`check_plan`] says which.
///
/// # Complexity
/// O((n + m) log n).
pub fn evaluate_plan(inst: &Instance, plan: &LatencyPlan, q: usize) -> Option<LatencySchedule> {
    schedule(inst, plan, q).ok()
}

/// [`evaluate_plan`], with the reason when the plan is not a valid schedule (naming node
/// ids, as an error message would).
///
/// # Errors
/// A sentence saying what the plan breaks: an accelerator index `>= k`, more than `q`
/// subgraphs on an accelerator, a node on an accelerator that does not support it, a node
/// on a CPU when there are none, memory, a colocation class split between subgraphs or
/// between a subgraph and the CPUs, or a dependency cycle between subgraphs.
///
/// # Complexity
/// O((n + m) log n).
pub fn check_plan(
    inst: &Instance,
    plan: &LatencyPlan,
    q: usize,
) -> Result<LatencySchedule, String> {
    schedule(inst, plan, q).map_err(|f| f.explain(inst, plan, q))
}

/// Where a plan places a node, in words.
fn place_of(p: Option<(usize, usize)>) -> String {
    match p {
        None => "the CPUs".to_string(),
        Some((a, pos)) => format!("subgraph {pos} of accelerator {a}"),
    }
}

/// What a plan breaks (node and accelerator indices), put in words only when asked (the
/// search evaluates many plans that fail).
enum Fault {
    Length,
    Accelerator(usize),
    TooMany(usize, usize),
    Unsupported(usize),
    NoCpu(usize),
    Memory(usize, f64),
    Class(usize, usize),
    Cycle(Vec<usize>, Vec<(usize, usize)>),
}

impl Fault {
    fn explain(self, inst: &Instance, plan: &LatencyPlan, q: usize) -> String {
        let k = inst.devices.accelerators;
        let id = |u: usize| inst.ids[u];
        match self {
            Fault::Length => format!(
                "the plan places {} nodes, the instance has {}",
                plan.len(),
                inst.len()
            ),
            Fault::Accelerator(u) => format!(
                "node {} is on accelerator {}, the instance has {k}",
                id(u),
                plan[u].map_or(0, |p| p.0)
            ),
            Fault::TooMany(a, c) => {
                format!("accelerator {a} runs {c} subgraphs, at most {q} are allowed")
            }
            Fault::Unsupported(u) => format!(
                "node {} is on {} but is not supported on accelerators",
                id(u),
                place_of(plan[u])
            ),
            Fault::NoCpu(u) => format!("node {} is on a CPU but there are no CPUs", id(u)),
            Fault::Memory(a, m) => format!(
                "accelerator {a} holds memory {m} > its memory {}",
                inst.devices.accelerator_memory
            ),
            Fault::Class(w, u) => format!(
                "nodes {} and {} share a colocation class but run in {} and {} (a class \
                 runs inside one subgraph, or all of it on CPUs)",
                id(w),
                id(u),
                place_of(plan[w]),
                place_of(plan[u])
            ),
            Fault::Cycle(cpu, blocks) => {
                let mut named: Vec<String> =
                    blocks.into_iter().map(|b| place_of(Some(b))).collect();
                named.extend(cpu.into_iter().map(|u| format!("CPU node {}", id(u))));
                format!(
                    "the subgraphs depend on one another in a cycle (through {}): each must be \
                     convex, with no node outside it on a path between two of its nodes",
                    named.join(", ")
                )
            }
        }
    }
}

fn schedule(inst: &Instance, plan: &LatencyPlan, q: usize) -> Result<LatencySchedule, Fault> {
    let n = inst.len();
    let k = inst.devices.accelerators;
    if plan.len() != n {
        return Err(Fault::Length);
    }
    // a colocation class runs inside one subgraph, or all of it on CPUs
    let mut class_at: Vec<Option<usize>> = vec![None; inst.classes];
    for u in 0..n {
        match class_at[inst.class[u]] {
            None => class_at[inst.class[u]] = Some(u),
            Some(w) if plan[w] != plan[u] => return Err(Fault::Class(w, u)),
            Some(_) => {}
        }
    }
    // blocks: BTreeMap (acc, pos) -> block id
    let mut block_id: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (u, p) in plan.iter().enumerate() {
        let Some(p) = p else { continue };
        if p.0 >= k {
            return Err(Fault::Accelerator(u));
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
    if let Some(a) = count.iter().position(|&c| c > q) {
        return Err(Fault::TooMany(a, count[a]));
    }
    for u in 0..n {
        if let Some((a, _)) = plan[u] {
            mem[a] += inst.size[u];
            if !inst.supported[u] {
                return Err(Fault::Unsupported(u));
            }
        } else if inst.devices.cpus == 0 {
            return Err(Fault::NoCpu(u));
        }
    }
    if let Some(a) = mem
        .iter()
        .position(|&m| m > inst.devices.accelerator_memory)
    {
        return Err(Fault::Memory(a, mem[a]));
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
        // the vertices left wait on one another: name the first few
        let stuck_blocks: Vec<(usize, usize)> = (0..nb)
            .filter(|&b| indeg[b] > 0)
            .map(|b| blocks[b])
            .take(3)
            .collect();
        let stuck_cpu: Vec<usize> = (0..n)
            .filter(|&u| plan[u].is_none() && indeg[nb + u] > 0)
            .take(3 - stuck_blocks.len().min(2))
            .collect();
        return Err(Fault::Cycle(stuck_cpu, stuck_blocks));
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
    Ok(LatencySchedule {
        subgraphs,
        cpu,
        latency,
    })
}

/// The latency of a max-load placement run as one input: each accelerator's nodes form one
/// subgraph, CPU nodes run on the CPUs. `None` when that is not a valid schedule (the
/// device sets exchange data both ways, as training placements do, or break memory).
///
/// # Complexity
/// O((n + m) log n).
pub fn latency_of_placement(inst: &Instance, placement: &crate::eval::Placement) -> Option<f64> {
    let index = inst.index_by_id();
    let mut plan: LatencyPlan = vec![None; inst.len()];
    for d in &placement.devices {
        if d.kind == crate::eval::DeviceKind::Accelerator {
            for id in &d.nodes {
                plan[*index.get(id)?] = Some((d.index, 0));
            }
        }
    }
    evaluate_plan(inst, &plan, 1).map(|s| s.latency)
}

/// The plan of a schedule (positions in execution order on each accelerator); nodes the
/// schedule does not list stay on a CPU.
///
/// # Complexity
/// O(n log n).
pub fn plan_of(inst: &Instance, schedule: &LatencySchedule) -> LatencyPlan {
    let index = inst.index_by_id();
    let mut plan: LatencyPlan = vec![None; inst.len()];
    let mut next: std::collections::BTreeMap<usize, usize> = Default::default();
    for s in &schedule.subgraphs {
        let pos = next.entry(s.accelerator).or_insert(0);
        for id in &s.nodes {
            if let Some(&u) = index.get(id) {
                plan[u] = Some((s.accelerator, *pos));
            }
        }
        *pos += 1;
    }
    plan
}
