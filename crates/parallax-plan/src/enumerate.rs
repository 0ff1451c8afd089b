//! Enumerating the plan space with pruning, and the baseline plans.
//!
//! The space: stage width `tp` (a divisor or a multiple of the node size) × every pipeline
//! depth `pp` (at most the model's blocks; with `use_all_gpus`, those with `pp × tp` dividing
//! the GPUs, so `pp = 3` on six GPUs) × `dp` × cell-level variants inside the stage: attention
//! as `R` replicas of `tp/R` (every divisor `R`), dense MLP likewise (the FFN-replica
//! layouts), MoE as `R` whole-MoE replicas of `ep × tp/(R·ep)` (every divisor `R` when FFN
//! replicas are allowed, every divisor `ep` of the rest; APEX+'s replicated MoE cells such as
//! `SwiMoE=2xtp4` are `moe=2xep1xtp4`).
//!
//! **TP across nodes is allowed**: a stage wider than a node spans whole nodes (see
//! [`crate::mapping`]), and its TP collectives are timed over the inter-node links they
//! cross (the [`parallax_hw::DeviceGroup`] of the ranks they join), so such plans rank by
//! their real cost instead of being excluded. Restrict them with [`Constraints::max_gpus`] or
//! by leaving out `tp` from [`Allowed`].
//!
//! Block repetition is exploited throughout: a candidate's validity and memory depend on one
//! block of each kind and on per-stage block counts, never on layers one by one, so enumeration
//! costs the same for an 80-layer and a 1,280-layer model. Memory and shard checks are done once
//! per stage shape (`tp`, `pp`, layouts) and shared by every `dp`.
//!
//! Pruning reasons ([`PruneReason`]):
//! - **symmetry**: candidates that are the same plan as one already generated (layout variants of
//!   a cell kind the model does not have collapse onto the default layout);
//! - **divisibility**: a cell rejects its shard (heads, KV heads, widths, experts), or `pp`
//!   exceeds the model's blocks;
//! - **topology**: the stage slots do not pack into the nodes (see [`crate::mapping`]);
//! - **memory**: some stage cannot hold its weights, activation reserve and the KV of the
//!   workload's largest request ([`Constraints::required_kv_tokens`]) in one pipeline engine's
//!   share (`1/pp`) of its KV cache, which is what the simulator admits
//!   ([`crate::MemoryReport::shortfall`]). The plan with the smallest
//!   deficit is kept as [`Enumeration::closest_miss`] so that "no feasible plan" can say by how
//!   much memory it misses.

use crate::error::{MemoryShortfall, PlanError};
use crate::mapping::Mapping;
use crate::memory::{report, MemoryOptions, MemoryReport};
use crate::plan::{CellLayout, MoeLayout, Plan};
use parallax_hw::Cluster;
use parallax_ir::{check_shard, Cell, Model};
use std::collections::{BTreeMap, BTreeSet};

/// Which parallelisms the enumerator may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// Data-parallel replicas (`dp > 1`).
    pub dp: bool,
    /// Pipeline stages (`pp > 1`).
    pub pp: bool,
    /// Tensor parallelism inside cells (any cell with `tp > 1`).
    pub tp: bool,
    /// Expert parallelism (`ep > 1`).
    pub ep: bool,
    /// Attention as several replicas inside a stage (`attn=RxtpT`, `R > 1`).
    pub attn_replicas: bool,
    /// The FFN as several replicas inside a stage: dense MLP (`mlp=RxtpT`, `R > 1`) and
    /// whole-MoE replicas (`moe=RxepExtpT`, `R > 1`).
    pub mlp_replicas: bool,
}

impl Default for Allowed {
    fn default() -> Self {
        Allowed {
            dp: true,
            pp: true,
            tp: true,
            ep: true,
            attn_replicas: true,
            mlp_replicas: true,
        }
    }
}

/// Limits of the enumeration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    /// Most GPUs a plan may use (default: the whole cluster).
    pub max_gpus: Option<u32>,
    /// Only plans that use exactly `max_gpus` (or the whole cluster); default `true`. With
    /// `false`, every `dp` with `dp × pp × tp ≤ max_gpus` is enumerated.
    pub use_all_gpus: bool,
    /// Largest pipeline depth (default: no limit beyond the model's blocks and the GPUs).
    pub max_pp: Option<u32>,
    /// Allowed parallelisms.
    pub allowed: Allowed,
    /// Tokens of the workload's largest request: every stage must hold its KV (with sliding
    /// windows capped) in one pipeline engine's share (`1/pp`) of the KV cache, on top of
    /// weights and reserves. At least one KV block is always required.
    pub required_kv_tokens: u64,
    /// Memory settings.
    pub memory: MemoryOptions,
    /// Keep every pruned plan with its reason in [`Enumeration::pruned_plans`] (for audits and
    /// tests); default `false`.
    pub record_pruned: bool,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            max_gpus: None,
            use_all_gpus: true,
            max_pp: None,
            allowed: Allowed::default(),
            required_kv_tokens: 0,
            memory: MemoryOptions::default(),
            record_pruned: false,
        }
    }
}

/// Why a candidate was pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneReason {
    /// The same plan as one already generated.
    Symmetry,
    /// A cell rejects its shard, or more stages than blocks.
    Divisibility,
    /// The stage slots do not pack into the cluster's nodes.
    Topology,
    /// Weights, reserves and the largest request's KV do not fit a stage.
    Memory,
}

impl PruneReason {
    /// snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            PruneReason::Symmetry => "symmetry",
            PruneReason::Divisibility => "divisibility",
            PruneReason::Topology => "topology",
            PruneReason::Memory => "memory",
        }
    }
}

/// The result of [`enumerate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Enumeration {
    /// Feasible plans, in enumeration order (stage width, then depth, then `dp`, then
    /// layouts, each ascending).
    pub plans: Vec<Plan>,
    /// Candidates generated.
    pub enumerated: u64,
    /// Candidates pruned, by reason.
    pub pruned: BTreeMap<PruneReason, u64>,
    /// Plans kept (`plans.len()`).
    pub kept: u64,
    /// Of the plans pruned for memory, the one that misses by the fewest bytes.
    pub closest_miss: Option<MemoryShortfall>,
    /// Pruned plans with their reason (divisibility, topology, memory), when
    /// [`Constraints::record_pruned`] is set; symmetric duplicates are not listed.
    pub pruned_plans: Vec<(Plan, PruneReason)>,
}

impl Enumeration {
    /// Candidates pruned for `reason`.
    pub fn pruned_for(&self, reason: PruneReason) -> u64 {
        self.pruned.get(&reason).copied().unwrap_or(0)
    }

    /// Why no plan is feasible, or `None` when some are.
    pub fn infeasibility(&self) -> Option<String> {
        if !self.plans.is_empty() {
            return None;
        }
        Some(match &self.closest_miss {
            Some(m) => format!(
                "no feasible plan among {} candidates; the closest, {}",
                self.enumerated, m
            ),
            None => format!(
                "no feasible plan among {} candidates (pruned: {})",
                self.enumerated,
                self.pruned
                    .iter()
                    .map(|(r, n)| format!("{} {n}", r.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

fn divisors(n: u32) -> Vec<u32> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// The MoE layouts of a stage of `w` devices as `(replicas, ep)` pairs, ascending: every
/// divisor `replicas` of `w` (only 1 unless FFN replicas are allowed and the model has MoE
/// cells), then every divisor `ep` of `w / replicas` (only 1 unless expert parallelism is
/// allowed).
fn moe_layouts(w: u32, allowed: Allowed, has_moe: bool) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for r in divisors(w) {
        if r > 1 && !(allowed.mlp_replicas && has_moe) {
            continue;
        }
        for e in divisors(w / r) {
            if e > 1 && !allowed.ep {
                continue;
            }
            out.push((r, e));
        }
    }
    out
}

/// Memory report of `plan` from resolved stages (no validation).
fn memory_of(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> Result<MemoryReport, PlanError> {
    Ok(report(model, plan, &plan.stages(model)?, cluster, opts))
}

/// Every cell of the model accepts its shard under `plan`.
fn shards_ok(model: &Model, plan: &Plan) -> bool {
    model.runs.iter().all(|r| {
        (0..r.block.cells.len())
            .all(|i| check_shard(&r.block.cells[i], plan.placement(&r.block, i).shard).is_ok())
    })
}

/// Enumerate the plans of `model` on `cluster` under `constraints`, pruned.
///
/// # Arguments
/// - `constraints`: GPU limit, allowed parallelisms, the largest request's tokens, memory
///   settings.
///
/// # Returns
/// The feasible plans with the counts of candidates enumerated, pruned by reason and kept, and
/// the closest memory miss.
///
/// # Complexity
/// O(W × P × (L + D) × (runs + cells per block)) for W stage widths, P depths, L layout
/// variants and D replica counts; independent of model depth.
///
/// # Errors
/// [`PlanError::Option`] for out-of-range memory options or a zero `max_gpus`.
///
/// # Examples
/// ```
/// use parallax_plan::{enumerate, Constraints};
/// let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
/// let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
/// let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
/// assert!(e.plans.iter().any(|p| p.to_string() == "dp=1,pp=1,tp=8"));
/// assert!(e.pruned_for(parallax_plan::PruneReason::Memory) > 0); // e.g. tp=1 misses
/// ```
pub fn enumerate(
    model: &Model,
    cluster: &Cluster,
    constraints: &Constraints,
) -> Result<Enumeration, PlanError> {
    constraints.memory.validate()?;
    let total = cluster.total_gpus();
    let max = constraints.max_gpus.unwrap_or(total);
    if max == 0 || max > total {
        return Err(PlanError::Option {
            option: "max_gpus".into(),
            value: max.to_string(),
            expected: format!("between 1 and the cluster's {total} GPUs"),
        });
    }
    let g = cluster.gpus_per_node.max(1);
    let allowed = constraints.allowed;
    let required = constraints
        .required_kv_tokens
        .max(constraints.memory.block_size as u64);
    let geo = crate::plan::Geometry::new(model);
    let has_moe = model.has_cell(|c| matches!(c, Cell::Moe(_)));
    let has_mlp = model.has_cell(|c| matches!(c, Cell::Mlp(_)));

    let mut out = Enumeration {
        plans: Vec::new(),
        enumerated: 0,
        pruned: BTreeMap::new(),
        kept: 0,
        closest_miss: None,
        pruned_plans: Vec::new(),
    };
    let record = constraints.record_pruned;
    let prune = |out: &mut Enumeration, r: PruneReason, n: u64| {
        *out.pruned.entry(r).or_insert(0) += n;
    };
    let widths: Vec<u32> = (1..=max)
        .filter(|&w| g % w == 0 || w % g == 0)
        .filter(|&w| allowed.tp || allowed.ep || allowed.attn_replicas || w == 1)
        .collect();
    for &w in &widths {
        for pp in 1..=max / w {
            if (pp > 1 && !allowed.pp) || constraints.max_pp.is_some_and(|m| pp > m) {
                break;
            }
            let dps: Vec<u32> = if constraints.use_all_gpus {
                let d = max / (pp * w);
                if d * pp * w == max {
                    vec![d]
                } else {
                    vec![]
                }
            } else {
                (1..=max / (pp * w)).collect()
            };
            let dps: Vec<u32> = dps.into_iter().filter(|&d| d == 1 || allowed.dp).collect();
            if dps.is_empty() {
                continue;
            }
            // Layout variants of the stage; canonicalised so that variants of cell kinds the
            // model lacks collapse (symmetry).
            let mut seen: BTreeSet<(CellLayout, CellLayout, MoeLayout)> = BTreeSet::new();
            let divs = divisors(w);
            for &ra in &divs {
                if ra > 1 && !allowed.attn_replicas {
                    continue;
                }
                for &rm in &divs {
                    if rm > 1 && !allowed.mlp_replicas {
                        continue;
                    }
                    for (rx, e) in moe_layouts(w, allowed, has_moe) {
                        let attn = CellLayout {
                            replicas: ra,
                            tp: w / ra,
                        };
                        let mut mlp = CellLayout {
                            replicas: rm,
                            tp: w / rm,
                        };
                        let mut moe = MoeLayout {
                            replicas: rx,
                            ep: e,
                            tp: w / (rx * e),
                        };
                        if !allowed.tp
                            && (attn.tp > 1 || (has_mlp && mlp.tp > 1) || (has_moe && moe.tp > 1))
                        {
                            continue;
                        }
                        let n = dps.len() as u64;
                        out.enumerated += n;
                        if !has_mlp {
                            mlp = CellLayout::tp(w);
                        }
                        if !has_moe {
                            moe = MoeLayout::new(1, w);
                        }
                        if !seen.insert((attn, mlp, moe)) {
                            prune(&mut out, PruneReason::Symmetry, n);
                            continue;
                        }
                        let mut plan = Plan::new(1, pp, w);
                        plan.attn = attn;
                        plan.mlp = mlp;
                        plan.moe = moe;
                        let mem = if geo.blocks_total < pp as u64 || !shards_ok(model, &plan) {
                            None
                        } else {
                            memory_of(model, &plan, cluster, &constraints.memory).ok()
                        };
                        let Some(mem) = mem else {
                            prune(&mut out, PruneReason::Divisibility, n);
                            if record {
                                for &d in &dps {
                                    plan.dp = d;
                                    out.pruned_plans
                                        .push((plan.clone(), PruneReason::Divisibility));
                                }
                            }
                            continue;
                        };
                        for &d in &dps {
                            plan.dp = d;
                            if Mapping::new(&plan, cluster).is_err() {
                                prune(&mut out, PruneReason::Topology, 1);
                                if record {
                                    out.pruned_plans.push((plan.clone(), PruneReason::Topology));
                                }
                                continue;
                            }
                            if let Some(mut miss) = mem.shortfall(required) {
                                prune(&mut out, PruneReason::Memory, 1);
                                if record {
                                    out.pruned_plans.push((plan.clone(), PruneReason::Memory));
                                }
                                miss.plan = plan.to_string();
                                let closer = out
                                    .closest_miss
                                    .as_ref()
                                    .map_or(true, |c| miss.deficit_bytes() < c.deficit_bytes());
                                if closer {
                                    out.closest_miss = Some(miss);
                                }
                                continue;
                            }
                            out.plans.push(plan.clone());
                        }
                    }
                }
            }
        }
    }
    out.kept = out.plans.len() as u64;
    Ok(out)
}

/// The largest tensor-parallel degree `≤ limit` dividing `gpus_per_node` that every cell of
/// the model accepts, with the others below it, ascending.
fn valid_tps(model: &Model, cluster: &Cluster) -> Vec<u32> {
    divisors(cluster.gpus_per_node.max(1))
        .into_iter()
        .filter(|&t| shards_ok(model, &Plan::new(1, 1, t)))
        .collect()
}

fn fits(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &MemoryOptions,
    required: u64,
    best_miss: &mut Option<MemoryShortfall>,
) -> bool {
    if Mapping::new(plan, cluster).is_err() {
        return false;
    }
    match memory_of(model, plan, cluster, opts) {
        Ok(m) => match m.shortfall(required) {
            None => true,
            Some(miss) => {
                if best_miss
                    .as_ref()
                    .map_or(true, |b| miss.deficit_bytes() < b.deficit_bytes())
                {
                    *best_miss = Some(miss);
                }
                false
            }
        },
        Err(_) => false,
    }
}

fn no_fit(model: &Model, cluster: &Cluster, miss: Option<MemoryShortfall>) -> PlanError {
    match miss {
        Some(m) => PlanError::Memory(m),
        None => PlanError::inconsistent(
            format!(
                "{} on {}x{}",
                model.name, cluster.nodes, cluster.gpus_per_node
            ),
            "tp",
            "no tensor-parallel degree dividing the node size fits the model's heads and widths",
        ),
    }
}

/// The common heuristic baseline: TP within a node, PP across nodes, DP for the rest.
///
/// The smallest footprint that fits memory is chosen: the smallest valid TP (dividing the node
/// size and the model's heads and widths) with `pp = 1`; if even a whole node does not hold the
/// model, the largest valid TP and the smallest `pp ∈ {2, 4, 8, …}` that fits. Then `dp` fills
/// the cluster (`⌊GPUs / (pp × tp)⌋`). Every cell uses plain TP (no EP, no cell replicas).
///
/// # Errors
/// [`PlanError::Memory`] with the closest miss when nothing fits; [`PlanError::Inconsistent`]
/// when no TP degree suits the model.
pub fn heuristic_plan(
    model: &Model,
    cluster: &Cluster,
    memory: &MemoryOptions,
    required_kv_tokens: u64,
) -> Result<Plan, PlanError> {
    memory.validate()?;
    let required = required_kv_tokens.max(memory.block_size as u64);
    let tps = valid_tps(model, cluster);
    let total = cluster.total_gpus();
    let mut miss = None;
    for &t in &tps {
        let p = Plan::new(1, 1, t);
        if fits(model, &p, cluster, memory, required, &mut miss) {
            return Ok(Plan::new(total / t, 1, t));
        }
    }
    if let Some(&t) = tps.last() {
        if let Some(plan) = smallest_pipeline(model, cluster, memory, required, t, 2, &mut miss) {
            return Ok(plan);
        }
    }
    Err(no_fit(model, cluster, miss))
}

/// With TP degree `t`, the smallest `pp ∈ {from, 2·from, …}` (`pp × t ≤` the cluster) whose
/// one-replica plan fits memory, as a plan with `dp` filling the cluster; `None` when none
/// fits (`miss` keeps the closest miss).
fn smallest_pipeline(
    model: &Model,
    cluster: &Cluster,
    memory: &MemoryOptions,
    required: u64,
    t: u32,
    from: u32,
    miss: &mut Option<MemoryShortfall>,
) -> Option<Plan> {
    let total = cluster.total_gpus();
    let mut pp = from;
    while pp as u64 * t as u64 <= total as u64 {
        if fits(model, &Plan::new(1, pp, t), cluster, memory, required, miss) {
            return Some(Plan::new(total / (pp * t), pp, t));
        }
        pp *= 2;
    }
    None
}

/// The maximum-TP baseline: the largest valid TP within a node, the smallest
/// `pp ∈ {1, 2, 4, …}` that fits memory, and `dp` filling the cluster.
///
/// # Errors
/// As [`heuristic_plan`].
pub fn max_tp_plan(
    model: &Model,
    cluster: &Cluster,
    memory: &MemoryOptions,
    required_kv_tokens: u64,
) -> Result<Plan, PlanError> {
    memory.validate()?;
    let required = required_kv_tokens.max(memory.block_size as u64);
    let tps = valid_tps(model, cluster);
    let mut miss = None;
    if let Some(&t) = tps.last() {
        if let Some(plan) = smallest_pipeline(model, cluster, memory, required, t, 1, &mut miss) {
            return Ok(plan);
        }
    }
    Err(no_fit(model, cluster, miss))
}
