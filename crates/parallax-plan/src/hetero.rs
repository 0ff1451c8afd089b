//! Plans on heterogeneous clusters: node groups of different GPU kinds.
//!
//! A plan says where its stages run with `on=…` ([`Plan::on`]): a GPU kind per stage (or
//! one for all stages), per replica (or one for all replicas). Without `on` every stage runs
//! on the cluster's first node group. Two shapes use several kinds:
//!
//! - **mixed replicas** (`dp=2,tp=8,on=H100-SXM/A100-80GB-SXM`): replicas of the same shape
//!   on different kinds, behind the simulator's capacity-weighted router
//!   ([`parallax_sim::RouterPolicy::CapacityWeighted`]);
//! - **mixed pipelines** (`pp=2,tp=8,layers=46+34,on=H100-SXM+A100-80GB-SXM`): the stages of
//!   one replica on different kinds; each stage is its own TP group of its kind, and the
//!   activations between kinds cross the cluster's network.
//!
//! Mapping packs each kind's stage slots into that kind's node group by the homogeneous rule
//! ([`crate::Mapping`]): replica by replica, stage by stage, a TP group never straddling a
//! node. Memory is checked per stage against its own GPU ([`replica_memory`]); lowering prices
//! each stage with its own node group's cost model ([`lower_plan`]); a replica's KV capacity is
//! the minimum over its stages.
//!
//! The enumerator ([`enumerate`]) lists, for a heterogeneous cluster: every plan of each node
//! group alone (the homogeneous enumeration on that group), mixed replicas (one plan shape
//! feasible on several groups, every group's GPUs used), and two-kind pipelines (`a` stages on
//! one kind then `b` on another, all GPUs of both used) whose layers are split so that the
//! slowest stage is as fast as possible ([`balanced_split`], with each kind's measured time per
//! layer and the LM head's).

use crate::enumerate::{enumerate as enumerate_homogeneous, Constraints, Enumeration, PruneReason};
use crate::error::PlanError;
use crate::lower::{check_memory, LowerOptions, LoweredPlan, PlanStageCost};
use crate::mapping::{Mapping, RankGroup, StageSlot};
use crate::memory::{stage_memory, MemoryOptions, MemoryReport};
use crate::plan::{Geometry, Plan};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::{Batch, DecodeGroup, Model, PrefillChunk};
use parallax_sim::{PowerModel, ReplicaSpec, StageCost};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The node group (index into [`Cluster::node_groups`]) of every stage: `[replica][stage]`.
///
/// # Errors
/// [`PlanError::Inconsistent`] naming `on` when a kind is not one of the cluster's groups or
/// the lists do not match `dp`/`pp`.
pub fn stage_groups(plan: &Plan, cluster: &Cluster) -> Result<Vec<Vec<usize>>, PlanError> {
    plan.check_shape()?;
    let mut out = Vec::with_capacity(plan.dp as usize);
    for r in 0..plan.dp as usize {
        let mut row = Vec::with_capacity(plan.pp as usize);
        for s in 0..plan.pp as usize {
            let g = match plan.stage_gpu(r, s) {
                None => 0,
                Some(k) => cluster.group_index(k).ok_or_else(|| {
                    PlanError::inconsistent(
                        plan,
                        "on",
                        format!(
                            "GPU kind `{k}` is not in cluster {} (its kinds: {})",
                            cluster.spec(),
                            cluster
                                .node_groups()
                                .iter()
                                .map(|g| g.gpu.name.clone())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?,
            };
            row.push(g);
        }
        out.push(row);
    }
    Ok(out)
}

/// The device mapping of `plan` on a heterogeneous cluster (see the module docs).
pub(crate) fn map(plan: &Plan, cluster: &Cluster) -> Result<Mapping, PlanError> {
    let kinds = stage_groups(plan, cluster)?;
    let groups = cluster.node_groups();
    let mut rank_groups = Vec::with_capacity(groups.len());
    let (mut rank, mut node) = (0u32, 0u32);
    for g in &groups {
        rank_groups.push(RankGroup {
            first_rank: rank,
            first_node: node,
            ranks: g.gpus(),
            gpus_per_node: g.gpus_per_node,
            intra: g.intra_node,
        });
        rank += g.gpus();
        node += g.nodes;
    }
    let w = plan.tp;
    let mut cursor = vec![0u32; groups.len()];
    let mut slots = Vec::with_capacity(plan.dp as usize);
    for row in &kinds {
        let mut stages = Vec::with_capacity(row.len());
        for &gi in row {
            let g = &groups[gi];
            let gpn = g.gpus_per_node.max(1);
            if w > gpn && w % gpn != 0 {
                return Err(PlanError::inconsistent(
                    plan,
                    "tp",
                    format!(
                        "a stage of tp={w} devices on {} is wider than a node of {gpn} GPUs \
                         but not a whole number of nodes",
                        g.gpu.name
                    ),
                ));
            }
            let c = &mut cursor[gi];
            let used = *c % gpn;
            if (w > gpn && used != 0) || (w <= gpn && gpn - used < w) {
                *c += gpn - used;
            }
            if *c as u64 + w as u64 > g.gpus() as u64 {
                let on_kind = kinds.iter().flatten().filter(|&&k| k == gi).count();
                return Err(PlanError::inconsistent(
                    plan,
                    "on",
                    format!(
                        "{on_kind} stage slots of {w} devices on {} do not pack into its node \
                         group {} without splitting a TP group across nodes",
                        g.gpu.name,
                        g.spec()
                    ),
                ));
            }
            stages.push(StageSlot {
                first_rank: rank_groups[gi].first_rank + *c,
                width: w,
            });
            *c += w;
        }
        slots.push(stages);
    }
    Ok(Mapping::from_groups(slots, rank_groups, cluster.inter_node))
}

/// Memory of every replica of `plan` (each stage against its own GPU).
///
/// # Errors
/// As [`crate::validate`] and [`MemoryOptions::validate`].
pub fn replica_memory(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> Result<Vec<MemoryReport>, PlanError> {
    opts.validate()?;
    let specs = crate::validate(model, plan, cluster)?;
    let kinds = stage_groups(plan, cluster)?;
    let groups: Vec<Cluster> = (0..cluster.node_groups().len())
        .filter_map(|i| cluster.group_cluster(i))
        .collect();
    let text = plan.to_string();
    Ok(kinds
        .iter()
        .map(|row| MemoryReport {
            plan: text.clone(),
            stages: specs
                .iter()
                .map(|s| stage_memory(model, plan, s, &groups[row[s.index]], opts))
                .collect(),
            block_size: opts.block_size,
        })
        .collect())
}

/// The binding replica's memory: fewest KV blocks (ties: the lowest index). What
/// [`crate::plan_memory`] returns for a heterogeneous plan.
pub(crate) fn binding_memory(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> Result<MemoryReport, PlanError> {
    let mut reports = replica_memory(model, plan, cluster, opts)?;
    let i = (0..reports.len())
        .min_by_key(|&i| (reports[i].kv_blocks(), i))
        .unwrap_or(0);
    Ok(reports.swap_remove(i))
}

/// Lower `plan` on a (possibly heterogeneous) cluster, each stage priced by `costs[g]`, the
/// cost model of its node group `g` (one per [`Cluster::node_groups`], in order).
///
/// Every replica must hold its weights, reserves and one request of
/// `opts.required_kv_tokens` ([`crate::lower_plan`]'s check, per replica). The returned
/// [`LoweredPlan::memory`] is the binding replica's (fewest KV blocks).
///
/// # Errors
/// [`PlanError::Option`] when `costs` does not have one model per node group; otherwise as
/// [`crate::lower_plan`].
pub fn lower_plan(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    costs: &[Arc<dyn CostModel>],
    opts: &LowerOptions,
) -> Result<LoweredPlan, PlanError> {
    let (lowered, reports) = lower_unchecked(model, plan, cluster, costs, opts)?;
    for m in &reports {
        check_memory(m, plan, opts)?;
    }
    Ok(lowered)
}

/// Lowering without the memory check, with every replica's memory report.
pub(crate) fn lower_unchecked(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    costs: &[Arc<dyn CostModel>],
    opts: &LowerOptions,
) -> Result<(LoweredPlan, Vec<MemoryReport>), PlanError> {
    let groups = cluster.node_groups();
    if costs.len() != groups.len() {
        return Err(PlanError::Option {
            option: "cost models".into(),
            value: costs.len().to_string(),
            expected: format!(
                "one per node group of {} ({})",
                cluster.spec(),
                groups.len()
            ),
        });
    }
    let reports = replica_memory(model, plan, cluster, &opts.memory)?;
    let specs = plan.stages(model)?;
    let mapping = Mapping::new(plan, cluster)?;
    let kinds = stage_groups(plan, cluster)?;
    let shared_model = Arc::new(model.clone());
    let mut stages: Vec<Vec<Arc<PlanStageCost>>> = Vec::with_capacity(plan.dp as usize);
    for (r, row_kinds) in kinds.iter().enumerate() {
        let mut row = Vec::with_capacity(specs.len());
        for spec in &specs {
            let g = row_kinds[spec.index];
            let send = mapping.send_group(r, spec.index);
            let tp = mapping.stage_group(r, spec.index);
            // Replicas whose stage runs on the same kind over the same groups share it.
            let reuse = stages.iter().enumerate().find_map(|(q, prev)| {
                let s = &prev[spec.index];
                (kinds[q][spec.index] == g
                    && mapping.send_group(q, spec.index) == send
                    && mapping.stage_group(q, spec.index) == tp
                    && reports[q].stages[spec.index] == reports[r].stages[spec.index])
                    .then(|| s.clone())
            });
            let stage = match reuse {
                Some(s) => s,
                None => {
                    let mut st = PlanStageCost::build(
                        &shared_model,
                        plan,
                        spec,
                        &mapping,
                        r,
                        costs[g].clone(),
                        opts,
                    );
                    st.set_host_link(&reports[r].stages[spec.index], opts);
                    Arc::new(st)
                }
            };
            row.push(stage);
        }
        stages.push(row);
    }
    let n = specs.len().max(1) as f64;
    let replicas = stages
        .iter()
        .zip(&kinds)
        .zip(&reports)
        .map(|((row, ks), mem)| {
            // Every stage has `tp` GPUs: per-GPU figures are the mean over the stages.
            let mean = |f: &dyn Fn(&parallax_hw::Gpu) -> f64| {
                ks.iter().map(|&g| f(&groups[g].gpu)).sum::<f64>() / n
            };
            ReplicaSpec {
                stages: row
                    .iter()
                    .map(|s| s.clone() as Arc<dyn StageCost>)
                    .collect(),
                kv_blocks: mem.kv_blocks(),
                block_size: opts.memory.block_size,
                gpus: plan.replica_devices(),
                power: PowerModel {
                    idle_watts: mean(&|g| g.idle_watts),
                    busy_watts: mean(&|g| g.tdp_watts),
                },
                peak_flops: mean(&|g| g.peak_flops(model.precision.compute)),
                peak_bandwidth: mean(&|g| g.memory_bandwidth),
            }
        })
        .collect();
    let binding = (0..reports.len())
        .min_by_key(|&i| (reports[i].kv_blocks(), i))
        .unwrap_or(0);
    Ok((
        LoweredPlan {
            replicas,
            stages,
            memory: reports[binding].clone(),
            mapping,
        },
        reports,
    ))
}

/// True when the replicas of `plan` run on more than one GPU kind of `cluster` (mixed
/// replicas: the router should weight them by capacity).
pub fn mixes_replica_kinds(plan: &Plan, cluster: &Cluster) -> bool {
    stage_groups(plan, cluster).is_ok_and(|k| k.windows(2).any(|w| w[0] != w[1]))
}

/// The reference iteration the proportional split times each kind on: one 512-token prefill
/// chunk and 64 decode requests at 1,024 tokens of context.
pub fn reference_batch() -> Batch {
    Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 512,
            prefix: 0,
        }],
        decode: DecodeGroup {
            requests: 64,
            context_sum: 64 * 1024,
            context_max: 1024,
        },
    }
}

/// Layer counts for a pipeline whose stage `s` runs at `seconds_per_layer[s]` per layer, the
/// last stage also paying `last_extra` seconds (the LM head): the contiguous split on block
/// boundaries that minimises the slowest stage's time, `max_s n_s·t_s (+ last_extra)`, each
/// stage at least one block. Exact: a dynamic program over block boundaries (O(pp × B²) for
/// B blocks); among equal optima the one with the earliest boundaries.
///
/// # Errors
/// [`PlanError::Inconsistent`] when the model has fewer blocks than stages, a per-layer time
/// is not positive and finite, or `last_extra` is not finite and ≥ 0.
pub fn balanced_split(
    model: &Model,
    seconds_per_layer: &[f64],
    last_extra: f64,
) -> Result<Vec<u32>, PlanError> {
    let geo = Geometry::new(model);
    let pp = seconds_per_layer.len();
    let what = format!("pp={pp} on {} ({} blocks)", model.name, geo.blocks_total);
    if pp == 0 || geo.blocks_total < pp as u64 {
        return Err(PlanError::inconsistent(
            &what,
            "pp",
            "needs at least one block per stage",
        ));
    }
    if let Some(t) = seconds_per_layer
        .iter()
        .find(|t| !(t.is_finite() && **t > 0.0))
    {
        return Err(PlanError::inconsistent(
            &what,
            "seconds_per_layer",
            format!("{t} is not a positive finite time"),
        ));
    }
    if !(last_extra.is_finite() && last_extra >= 0.0) {
        return Err(PlanError::inconsistent(
            &what,
            "last_extra",
            format!("{last_extra} is not a finite time ≥ 0"),
        ));
    }
    // Block boundaries 0 = p_0 < p_1 < … < p_B = layers.
    let mut pos = vec![0u32];
    while *pos.last().unwrap_or(&0) < geo.total_layers {
        let next = geo.next_boundary(*pos.last().unwrap_or(&0));
        pos.push(next.min(geo.total_layers));
    }
    let b = pos.len() - 1;
    let stage_time = |s: usize, layers: u32| {
        layers as f64 * seconds_per_layer[s] + if s + 1 == pp { last_extra } else { 0.0 }
    };
    // best[s][j]: the slowest of stages 0..=s holding blocks 0..j; from[s][j]: stage s's start.
    let mut best = vec![vec![f64::INFINITY; b + 1]; pp];
    let mut from = vec![vec![0usize; b + 1]; pp];
    for j in 1..=b {
        best[0][j] = stage_time(0, pos[j]);
    }
    for s in 1..pp {
        for j in (s + 1)..=b {
            for i in s..j {
                let v = best[s - 1][i].max(stage_time(s, pos[j] - pos[i]));
                if v < best[s][j] {
                    best[s][j] = v;
                    from[s][j] = i;
                }
            }
        }
    }
    let mut bounds = vec![b];
    for s in (1..pp).rev() {
        let j = *bounds.last().unwrap_or(&b);
        bounds.push(from[s][j]);
    }
    bounds.push(0);
    bounds.reverse();
    Ok(bounds.windows(2).map(|w| pos[w[1]] - pos[w[0]]).collect())
}

/// Enumerate plans on a heterogeneous cluster (see the module docs): each node group alone,
/// mixed replicas, and two-kind pipelines split by [`balanced_split`] with the per-layer and
/// LM-head times measured by `costs` (one cost model per node group) on [`reference_batch`].
///
/// On a homogeneous cluster this is [`crate::enumerate()`].
///
/// # Errors
/// As [`crate::enumerate()`]; [`PlanError::Option`] when `costs` does not have one model per
/// node group.
pub fn enumerate(
    model: &Model,
    cluster: &Cluster,
    constraints: &Constraints,
    costs: &[Arc<dyn CostModel>],
) -> Result<Enumeration, PlanError> {
    if !cluster.is_heterogeneous() {
        return enumerate_homogeneous(model, cluster, constraints);
    }
    let groups = cluster.node_groups();
    if costs.len() != groups.len() {
        return Err(PlanError::Option {
            option: "cost models".into(),
            value: costs.len().to_string(),
            expected: format!("one per node group ({})", groups.len()),
        });
    }
    let total = cluster.total_gpus();
    let max = constraints.max_gpus.unwrap_or(total);
    if max == 0 || max > total {
        return Err(PlanError::Option {
            option: "max_gpus".into(),
            value: max.to_string(),
            expected: format!("between 1 and the cluster's {total} GPUs"),
        });
    }
    let required = constraints
        .required_kv_tokens
        .max(constraints.memory.block_size as u64);
    let mut out = Enumeration {
        plans: Vec::new(),
        enumerated: 0,
        pruned: Default::default(),
        kept: 0,
        closest_miss: None,
        pruned_plans: Vec::new(),
    };
    let mut seen: BTreeSet<Plan> = BTreeSet::new();
    // 1. Each node group alone.
    let mut alone: Vec<Vec<Plan>> = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let Some(gc) = cluster.group_cluster(i) else {
            continue;
        };
        let c = Constraints {
            max_gpus: Some(max.min(g.gpus())),
            ..*constraints
        };
        let e = enumerate_homogeneous(model, &gc, &c)?;
        out.enumerated += e.enumerated;
        for (r, n) in &e.pruned {
            *out.pruned.entry(*r).or_insert(0) += n;
        }
        if let Some(m) = e.closest_miss {
            if out
                .closest_miss
                .as_ref()
                .map_or(true, |c| m.deficit_bytes() < c.deficit_bytes())
            {
                out.closest_miss = Some(m);
            }
        }
        let tagged: Vec<Plan> = e
            .plans
            .into_iter()
            .map(|p| p.with_on(vec![vec![g.gpu.name.clone()]]))
            .collect();
        alone.push(tagged);
    }
    let mut keep = |out: &mut Enumeration, p: Plan| {
        if seen.insert(p.clone()) {
            out.plans.push(p);
        } else {
            *out.pruned.entry(PruneReason::Symmetry).or_insert(0) += 1;
        }
    };
    for list in &alone {
        for p in list {
            keep(&mut out, p.clone());
        }
    }
    if !(constraints.allowed.dp || constraints.allowed.pp) {
        out.kept = out.plans.len() as u64;
        return Ok(out);
    }
    // 2. Mixed replicas: a shape feasible on every group, each group's GPUs all used.
    if constraints.allowed.dp && groups.len() > 1 && total <= max {
        let shape = |p: &Plan| {
            let mut q = p.clone();
            q.dp = 1;
            q.on = None;
            q
        };
        let mut shapes: Vec<Plan> = alone[0].iter().map(&shape).collect();
        shapes.dedup();
        for s in shapes {
            let mut on = Vec::new();
            let mut ok = true;
            for (i, list) in alone.iter().enumerate() {
                match list.iter().find(|p| shape(p) == s) {
                    Some(p) => on.extend((0..p.dp).map(|_| vec![groups[i].gpu.name.clone()])),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            out.enumerated += 1;
            let mut p = s.clone();
            p.dp = on.len() as u32;
            keep(&mut out, p.with_on(on));
        }
    }
    // 3. Two-kind pipelines: `a` stages on group x, then `b` on group y.
    if constraints.allowed.pp {
        let geo = Geometry::new(model);
        for x in 0..groups.len() {
            for y in 0..groups.len() {
                if x == y || groups[x].gpus() + groups[y].gpus() > max {
                    continue;
                }
                let (gx, gy) = (&groups[x], &groups[y]);
                let node = gx.gpus_per_node.min(gy.gpus_per_node);
                for tp in (1..=node).filter(|t| node % t == 0) {
                    if tp > 1 && !constraints.allowed.tp {
                        continue;
                    }
                    let per = |g: &parallax_hw::NodeGroup| g.gpus() / tp;
                    // dp replicas, each a·tp GPUs of x and b·tp of y, using all of both.
                    for dp in 1..=per(gx).min(per(gy)) {
                        if per(gx) % dp != 0
                            || per(gy) % dp != 0
                            || (dp > 1 && !constraints.allowed.dp)
                        {
                            continue;
                        }
                        let (a, b) = (per(gx) / dp, per(gy) / dp);
                        let pp = a + b;
                        if constraints.max_pp.is_some_and(|m| pp > m)
                            || geo.blocks_total < pp as u64
                        {
                            continue;
                        }
                        out.enumerated += 1;
                        let on: Vec<String> = (0..a)
                            .map(|_| gx.gpu.name.clone())
                            .chain((0..b).map(|_| gy.gpu.name.clone()))
                            .collect();
                        let base = Plan::new(dp, pp, tp).with_on(vec![on]);
                        if crate::validate(model, &base, cluster).is_err() {
                            *out.pruned.entry(PruneReason::Divisibility).or_insert(0) += 1;
                            continue;
                        }
                        let t = |g: usize| layer_seconds(model, tp, cluster, g, costs);
                        let ((tx, _), (ty, head)) = match (t(x), t(y)) {
                            (Some(a), Some(b)) => (a, b),
                            _ => {
                                *out.pruned.entry(PruneReason::Divisibility).or_insert(0) += 1;
                                continue;
                            }
                        };
                        let times: Vec<f64> =
                            (0..a).map(|_| tx).chain((0..b).map(|_| ty)).collect();
                        let Ok(layers) = balanced_split(model, &times, head) else {
                            *out.pruned.entry(PruneReason::Divisibility).or_insert(0) += 1;
                            continue;
                        };
                        let plan = base.with_layers(layers);
                        let reports = replica_memory(model, &plan, cluster, &constraints.memory)?;
                        match reports.iter().find_map(|m| m.shortfall(required)) {
                            Some(m) => {
                                *out.pruned.entry(PruneReason::Memory).or_insert(0) += 1;
                                if out
                                    .closest_miss
                                    .as_ref()
                                    .map_or(true, |c| m.deficit_bytes() < c.deficit_bytes())
                                {
                                    out.closest_miss = Some(m);
                                }
                            }
                            None => keep(&mut out, plan),
                        }
                    }
                }
            }
        }
    }
    out.kept = out.plans.len() as u64;
    Ok(out)
}

/// Seconds per layer and of the LM head of `model` on node group `g` at TP `tp` for
/// [`reference_batch`]: the per-layer time of the middle stage of the even three-stage
/// pipeline (its layers and its send; the single-stage time per layer when the model has fewer
/// than three blocks), and what the single-stage time has beyond its layers (embedding, final
/// norm, LM head). Lowered without the memory check: only the times are used.
fn layer_seconds(
    model: &Model,
    tp: u32,
    cluster: &Cluster,
    g: usize,
    costs: &[Arc<dyn CostModel>],
) -> Option<(f64, f64)> {
    let gc = cluster.group_cluster(g)?;
    let batch = reference_batch();
    let time = |pp: u32, stage: usize| -> Option<(f64, f64)> {
        let plan = Plan::new(1, pp, tp);
        let l = crate::lower::lower_unchecked(
            model,
            &plan,
            &gc,
            costs[g].clone(),
            &LowerOptions::default(),
        )
        .ok()?;
        let st = l.stages.first()?.get(stage)?;
        Some((st.step(&batch).seconds, st.layers().max(1) as f64))
    };
    let (whole, layers) = time(1, 0)?;
    let per_layer = match time(3, 1) {
        Some((t, n)) => t / n,
        None => whole / layers,
    };
    let extra = (whole - per_layer * layers).max(0.0);
    (per_layer.is_finite() && per_layer > 0.0 && extra.is_finite()).then_some((per_layer, extra))
}
