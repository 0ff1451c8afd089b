//! Evaluating latency plans from scratch, and converting schedules and placements to plans.

use super::{CpuTask, LatencyPlan, LatencySchedule, Subgraph};
use crate::model::Instance;
use crate::model::NodeId;
use std::collections::BTreeMap;

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
