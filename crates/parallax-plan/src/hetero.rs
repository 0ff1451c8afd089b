//! Plans on heterogeneous clusters: node groups of different GPU kinds.
//!
//! A plan says where its stages run with `on=…` ([`Plan::on`]): a GPU kind per stage (or
//! one for all stages), per replica (or one for all replicas). Without `on` every stage runs
//! on the cluster's first node group. Two shapes use several kinds:
//!
//! - **mixed replicas** (`dp=2,tp=8,on=H100-SXM/A100-80GB-SXM`): replicas of the same shape
//!   on different kinds, behind the simulator's capacity-weighted router
//!   ([`parallax_sim::RouterPolicy::CapacityWeighted`]);
//! - **mixed pipelines** (`pp=2,tp=4+8,layers=40+40,on=H100-SXM+A100-80GB-SXM`): the stages
//!   of one replica on different kinds; each stage is its own TP group of its kind, at the
//!   plan's `tp` or at its own width ([`Plan::stage_tp`]), and the activations between kinds
//!   cross the cluster's network.
//!
//! Mapping packs each kind's stage slots into that kind's node group by the homogeneous rule
//! ([`crate::Mapping`]): replica by replica, stage by stage, a TP group never straddling a
//! node. Memory is checked per stage against its own GPU ([`replica_memory`]); lowering prices
//! each stage with its own node group's cost model ([`lower_plan`]); a replica's KV capacity is
//! the minimum over its stages.
//!
//! The enumerator ([`enumerate`]) lists, for a heterogeneous cluster: every plan of each node
//! group alone (the homogeneous enumeration on that group), mixed replicas (one plan shape
//! feasible on each group of a set of two or more, every GPU of the set used), and pipelines
//! across 2 to
//! [`MAX_PIPELINE_KINDS`] kinds (the stages of each kind in one run, at one TP width per kind,
//! every GPU of each kind used) whose layers are split so that the slowest stage is as fast as
//! possible within every stage's memory ([`chain_split`] over each stage's own
//! [`LayerChain`]: its kind's cost model at its width).

use crate::enumerate::{enumerate as enumerate_homogeneous, Constraints, Enumeration, PruneReason};
use crate::error::PlanError;
use crate::lower::{check_memory, LowerOptions, LoweredPlan};
use crate::mapping::{Mapping, RankGroup, StageSlot};
use crate::memory::{stage_memory, MemoryOptions, MemoryReport};
use crate::plan::{Geometry, Plan};
use crate::split::{layer_chain, ChainBlock, LayerChain};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::{Batch, DecodeGroup, Model, PrefillChunk};
use std::collections::{BTreeMap, BTreeSet};
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
    let field = if plan.on.is_some() { "on" } else { "tp" };
    // Devices each group must hold, before packing.
    let mut need = vec![0u64; groups.len()];
    for row in &kinds {
        for (s, &gi) in row.iter().enumerate() {
            need[gi] += u64::from(plan.stage_width(s));
        }
    }
    if let Some(gi) = (0..groups.len()).find(|&g| need[g] > u64::from(groups[g].gpus())) {
        let g = &groups[gi];
        return Err(PlanError::inconsistent(
            plan,
            field,
            format!(
                "the plan needs {} devices of {} but its node group {} has {}",
                need[gi],
                g.gpu.name,
                g.spec(),
                g.gpus()
            ),
        ));
    }
    let mut cursor = vec![0u32; groups.len()];
    let mut slots = Vec::with_capacity(plan.dp as usize);
    for row in &kinds {
        let mut stages = Vec::with_capacity(row.len());
        for (s, &gi) in row.iter().enumerate() {
            let w = plan.stage_width(s);
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
                let of = if plan.stage_tp.is_some() {
                    "their widths".to_string()
                } else {
                    format!("{w} devices")
                };
                return Err(PlanError::inconsistent(
                    plan,
                    field,
                    format!(
                        "{on_kind} stage slots of {of} on {} do not pack into its node \
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
    // Replicas on the same kinds have the same report: computed once.
    let mut out: Vec<MemoryReport> = Vec::with_capacity(kinds.len());
    for (r, row) in kinds.iter().enumerate() {
        let report = match kinds[..r].iter().position(|k| k == row) {
            Some(q) => out[q].clone(),
            None => MemoryReport {
                plan: text.clone(),
                stages: specs
                    .iter()
                    .map(|s| stage_memory(model, plan, s, &groups[row[s.index]], opts))
                    .collect(),
                block_size: opts.block_size,
            },
        };
        out.push(report);
    }
    Ok(out)
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
    let (lowered, reports) = crate::lower::lower_groups(model, plan, cluster, costs, opts)?;
    for m in &reports {
        check_memory(m, plan, opts)?;
    }
    Ok(lowered)
}

/// Lower a disaggregated plan on a (possibly heterogeneous) cluster, each stage priced by the
/// cost model of its node group (`costs`, one per [`Cluster::node_groups`]): the prefill and
/// decode pools may run on different GPU kinds (`prefill=1x(tp=4,on=H100);decode=1x(tp=8,
/// on=A100-80GB)`). Each group must hold both pools' GPUs on it; the KV moves over the
/// network unless both pools run inside one node of one group (then its intra-node link), at
/// the bandwidth of `min(prefill instance devices, decode instance devices)` links. As
/// [`crate::lower_disaggregated`] otherwise.
///
/// # Errors
/// As [`crate::lower_disaggregated`] (a group short of GPUs names its kind) and
/// [`lower_plan`].
pub fn lower_disaggregated(
    model: &Model,
    plan: &crate::DisaggPlan,
    cluster: &Cluster,
    costs: &[Arc<dyn CostModel>],
    opts: &LowerOptions,
) -> Result<(Vec<parallax_sim::ReplicaSpec>, parallax_sim::Disaggregation), PlanError> {
    crate::disagg::lower_pools(model, plan, cluster, costs, opts)
}

/// True when the replicas of `plan` run on more than one GPU kind of `cluster` (mixed
/// replicas: the router should weight them by capacity).
pub fn mixes_replica_kinds(plan: &Plan, cluster: &Cluster) -> bool {
    stage_groups(plan, cluster).is_ok_and(|k| k.windows(2).any(|w| w[0] != w[1]))
}

/// The reference mixed iteration each kind's layer chain is timed on: one 512-token prefill
/// chunk with 64 decode requests at 1,024 tokens of context (an eager iteration, as vLLM's
/// chunked-prefill iterations under load are). [`enumerate_with_mix`] splits every pipeline
/// on it beside the mix it is given.
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

/// Most GPU kinds (node groups) one pipeline of [`enumerate`] spans.
pub const MAX_PIPELINE_KINDS: usize = 3;

/// On clusters of at most this many node groups [`enumerate`] tries mixed replicas on every
/// set of two or more groups; on larger ones on all groups together only.
pub const MIXED_REPLICA_SETS_UP_TO: usize = 6;

/// The split of a pipeline whose stage `s` is priced by `chains[s]`, the [`LayerChain`] of
/// the same model under that stage's GPU kind and TP width (block times on the batch mix,
/// block bytes and the stage's capacity): the per-stage block counts of the contiguous split
/// into `chains.len()` non-empty stages that minimises the slowest stage's time with every
/// stage within its own chain's capacity. A slower stage (slower kind, narrower TP) gets
/// fewer blocks; the embedding (first block) and LM head (last block) are priced on the
/// first and last stage's own chains.
///
/// Exact: a dynamic program over block boundaries with per-stage prefix sums, O(pp × B²) for
/// B blocks (B ≤ 128 for every catalogue model); among equal optima the one with the
/// earliest boundaries. `None` when the chains differ in their blocks' layers, have fewer
/// blocks than stages, or no split fits memory.
pub fn chain_split(chains: &[&LayerChain]) -> Option<Vec<usize>> {
    let pp = chains.len();
    let first = chains.first()?;
    let b = first.blocks.len();
    let same_blocks = |c: &&LayerChain| {
        c.blocks.len() == b
            && c.blocks
                .iter()
                .zip(&first.blocks)
                .all(|(x, y)| x.layers == y.layers)
    };
    if b < pp || !chains.iter().all(same_blocks) {
        return None;
    }
    // Prefix sums of every stage's chain: time and bytes of blocks 0..j.
    let prefix = |f: fn(&ChainBlock) -> f64| -> Vec<Vec<f64>> {
        chains
            .iter()
            .map(|c| {
                let mut v = Vec::with_capacity(b + 1);
                let mut acc = 0.0;
                v.push(acc);
                for x in &c.blocks {
                    acc += f(x);
                    v.push(acc);
                }
                v
            })
            .collect()
    };
    let time = prefix(|x| x.seconds);
    let bytes = prefix(|x| x.bytes);
    let fits = |s: usize, i: usize, j: usize| bytes[s][j] - bytes[s][i] <= chains[s].capacity_bytes;
    // best[s][j]: the slowest of stages 0..=s holding blocks 0..j (∞: no feasible split);
    // from[s][j]: where stage s starts. Every later stage keeps at least one block.
    let mut best = vec![vec![f64::INFINITY; b + 1]; pp];
    let mut from = vec![vec![0usize; b + 1]; pp];
    for j in 1..=b - (pp - 1) {
        if fits(0, 0, j) {
            best[0][j] = time[0][j];
        }
    }
    for s in 1..pp {
        for j in (s + 1)..=(b - (pp - 1 - s)) {
            for i in s..j {
                let prev = best[s - 1][i];
                if !prev.is_finite() || !fits(s, i, j) {
                    continue;
                }
                let v = prev.max(time[s][j] - time[s][i]);
                if v < best[s][j] {
                    best[s][j] = v;
                    from[s][j] = i;
                }
            }
        }
    }
    if !best[pp - 1][b].is_finite() {
        return None;
    }
    let mut bounds = vec![b];
    for s in (1..pp).rev() {
        let j = *bounds.last()?;
        bounds.push(from[s][j]);
    }
    bounds.push(0);
    bounds.reverse();
    Some(bounds.windows(2).map(|w| w[1] - w[0]).collect())
}

/// Ordered sequences of at least two and at most [`MAX_PIPELINE_KINDS`] distinct indices
/// below `n` (the node groups a pipeline's stages run on, first stage first).
fn group_sequences(n: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut stack: Vec<Vec<usize>> = (0..n).map(|g| vec![g]).collect();
    stack.reverse();
    while let Some(seq) = stack.pop() {
        if seq.len() >= 2 {
            out.push(seq.clone());
        }
        if seq.len() < MAX_PIPELINE_KINDS {
            for g in (0..n).rev().filter(|g| !seq.contains(g)) {
                let mut next = seq.clone();
                next.push(g);
                stack.push(next);
            }
        }
    }
    out
}

/// Layer chains by (node group, TP width, pipeline depth, mix index); `None`: no chain.
type ChainMemo = BTreeMap<(usize, u32, u32, usize), Option<LayerChain>>;

/// The layers of the [`chain_split`] of a pipeline whose stage `s` runs on group
/// `stages[s].0` at width `stages[s].1`, the chains timed on mix `m` (built by `make` once
/// per key). The chains' capacities are conservative: when no split fits them, the
/// time-optimal split is returned for the exact memory check (it may fit after all, else it
/// is the miss the report gives). `None` when a chain cannot be built.
fn split_layers(
    chains: &mut ChainMemo,
    stages: &[(usize, u32)],
    pp: u32,
    m: usize,
    make: impl Fn(usize, u32) -> Option<LayerChain>,
) -> Option<Vec<u32>> {
    for &(g, t) in stages {
        chains.entry((g, t, pp, m)).or_insert_with(|| make(g, t));
    }
    let refs: Vec<&LayerChain> = stages
        .iter()
        .map(|&(g, t)| chains.get(&(g, t, pp, m)).and_then(Option::as_ref))
        .collect::<Option<_>>()?;
    let blocks = chain_split(&refs).or_else(|| {
        let free: Vec<LayerChain> = refs
            .iter()
            .map(|c| LayerChain {
                capacity_bytes: f64::INFINITY,
                ..(*c).clone()
            })
            .collect();
        chain_split(&free.iter().collect::<Vec<_>>())
    })?;
    Some(refs[0].layers_of(&blocks))
}

/// The layer chain ([`layer_chain`]) of `model` on node group `g` at TP `tp` for a pipeline
/// of `pp` stages (its KV share per pipeline engine), timed by `costs[g]` on `mix`. The probe
/// pipelines of two `tp`-wide stages are mapped on the group with as many nodes as they need.
#[allow(clippy::too_many_arguments)]
fn stage_chain(
    model: &Model,
    cluster: &Cluster,
    g: usize,
    tp: u32,
    pp: u32,
    costs: &[Arc<dyn CostModel>],
    opts: &LowerOptions,
    mix: &[(Batch, f64)],
) -> Option<LayerChain> {
    let gc = cluster.group_cluster(g)?;
    let gpn = gc.gpus_per_node.max(1);
    let probe = Cluster {
        nodes: gc.nodes.max(2 * tp.div_ceil(gpn)),
        ..gc
    };
    layer_chain(
        model,
        &Plan::new(1, pp, tp),
        &probe,
        costs.get(g)?.clone(),
        opts,
        mix,
    )
    .ok()
}

/// Enumerate plans on a heterogeneous cluster (see the module docs): each node group alone,
/// mixed replicas, and pipelines across kinds split by [`chain_split`] with every stage's
/// layer chain timed by its group's cost model (`costs`, one per node group) on
/// [`reference_batch`].
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
    enumerate_with_mix(
        model,
        cluster,
        constraints,
        costs,
        &[(reference_batch(), 1.0)],
    )
}

/// [`enumerate`] with the batch mix (`(batch, weight)`) the pipelines' layer chains are
/// timed on: the search passes its workload's representative mix. Every pipeline across
/// kinds gets the split of that mix and, when it differs, the split of [`reference_batch`]
/// (each a model of the stage loads; both are simulated): on `1x8xH100+1x8xA100-80GB` with
/// the chat trace the reference split (49+31) simulates faster than the mix's (45+35).
///
/// # Errors
/// As [`enumerate`].
pub fn enumerate_with_mix(
    model: &Model,
    cluster: &Cluster,
    constraints: &Constraints,
    costs: &[Arc<dyn CostModel>],
    mix: &[(Batch, f64)],
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
            alone.push(Vec::new());
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
    // 2. Mixed replicas: a shape feasible on each group of a set of at least two groups
    //    (every such set, up to `MIXED_REPLICA_SETS_UP_TO` groups; all groups beyond), each
    //    group's GPUs all used.
    if constraints.allowed.dp && groups.len() > 1 {
        let shape = |p: &Plan| {
            let mut q = p.clone();
            q.dp = 1;
            q.on = None;
            q
        };
        let n = groups.len();
        let sets: Vec<Vec<usize>> = if n <= MIXED_REPLICA_SETS_UP_TO {
            (1u32..1 << n)
                .filter(|m| m.count_ones() >= 2)
                .map(|m| (0..n).filter(|&i| m >> i & 1 == 1).collect())
                .collect()
        } else {
            vec![(0..n).collect()]
        };
        for set in sets {
            if set.iter().map(|&i| groups[i].gpus() as u64).sum::<u64>() > max as u64 {
                continue;
            }
            let mut shapes: Vec<Plan> = alone[set[0]].iter().map(&shape).collect();
            shapes.dedup();
            for s in shapes {
                let mut on = Vec::new();
                let mut ok = true;
                for &i in &set {
                    match alone[i].iter().find(|p| shape(p) == s) {
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
    }
    // 3. Pipelines across kinds: every replica's stages on an ordered sequence of 2 to
    //    `MAX_PIPELINE_KINDS` distinct node groups, each group's stages at a TP width of its
    //    own (a divisor of its node size), every GPU of each group in the sequence used; the
    //    layers split by `chain_split` over each stage's own layer chain.
    if constraints.allowed.pp {
        let geo = Geometry::new(model);
        let opts = LowerOptions {
            memory: constraints.memory,
            required_kv_tokens: constraints.required_kv_tokens,
            ..LowerOptions::default()
        };
        let reference = [(reference_batch(), 1.0)];
        let mut mixes: Vec<&[(Batch, f64)]> = vec![mix];
        if mix != reference.as_slice() {
            mixes.push(&reference);
        }
        let mut chains: ChainMemo = BTreeMap::new();
        let divisors = |n: u32| (1..=n).filter(move |t| n % t == 0);
        for seq in group_sequences(groups.len()) {
            if seq.iter().map(|&g| groups[g].gpus() as u64).sum::<u64>() > max as u64 {
                continue;
            }
            // Every choice of one TP width per group of the sequence.
            let mut width_sets: Vec<Vec<u32>> = vec![Vec::new()];
            for &g in &seq {
                width_sets = width_sets
                    .into_iter()
                    .flat_map(|w| {
                        divisors(groups[g].gpus_per_node.max(1)).map(move |t| {
                            let mut v = w.clone();
                            v.push(t);
                            v
                        })
                    })
                    .collect();
            }
            for widths in width_sets {
                if !constraints.allowed.tp && widths.iter().any(|&t| t > 1) {
                    continue;
                }
                let per: Vec<u32> = seq
                    .iter()
                    .zip(&widths)
                    .map(|(&g, &t)| groups[g].gpus() / t)
                    .collect();
                let most = per.iter().copied().min().unwrap_or(0);
                for dp in 1..=most {
                    if per.iter().any(|&n| n % dp != 0) || (dp > 1 && !constraints.allowed.dp) {
                        continue;
                    }
                    let pp: u32 = per.iter().map(|&n| n / dp).sum();
                    if constraints.max_pp.is_some_and(|m| pp > m) || geo.blocks_total < pp as u64 {
                        continue;
                    }
                    out.enumerated += 1;
                    // Stage s: its group and width.
                    let stages: Vec<(usize, u32)> = seq
                        .iter()
                        .zip(&widths)
                        .zip(&per)
                        .flat_map(|((&g, &t), &n)| (0..n / dp).map(move |_| (g, t)))
                        .collect();
                    let on: Vec<String> = stages
                        .iter()
                        .map(|&(g, _)| groups[g].gpu.name.clone())
                        .collect();
                    let base = Plan::new(dp, pp, 1)
                        .with_stage_tp(stages.iter().map(|&(_, t)| t).collect())
                        .with_on(vec![on]);
                    if crate::validate(model, &base, cluster).is_err() {
                        *out.pruned.entry(PruneReason::Divisibility).or_insert(0) += 1;
                        continue;
                    }
                    // One split per mix (the workload's, and the reference mixed iteration:
                    // each a model of the stage loads), each checked exactly and simulated.
                    let mut splits: Vec<Vec<u32>> = Vec::with_capacity(mixes.len());
                    for (m, mix) in mixes.iter().enumerate() {
                        if let Some(l) = split_layers(&mut chains, &stages, pp, m, |g, t| {
                            stage_chain(model, cluster, g, t, pp, costs, &opts, mix)
                        }) {
                            if !splits.contains(&l) {
                                splits.push(l);
                            }
                        }
                    }
                    if splits.is_empty() {
                        *out.pruned.entry(PruneReason::Divisibility).or_insert(0) += 1;
                        continue;
                    }
                    out.enumerated += splits.len() as u64 - 1;
                    for layers in splits {
                        let plan = base.clone().with_layers(layers);
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
