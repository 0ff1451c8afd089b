//! Lowering a plan to what the simulator runs: one [`ReplicaSpec`] per data-parallel replica,
//! each a list of pipeline stages implementing [`StageCost`].
//!
//! # What a stage costs
//!
//! A [`PlanStageCost`] holds the stage's cells once per block (one entry per cell of each
//! block run it holds, multiplied by the number of blocks — never one entry per layer), plus:
//! the embedding on the first stage, the final norm, LM head and sampling on the last, the
//! resharding collectives between cells of different token layouts, and the pipeline send of
//! activations to the next stage.
//!
//! For a batch, [`StageCost::step`] sums:
//! - **token-dependent work** (GEMMs, elementwise ops, collectives, the send): it depends on
//!   the batch only through `batch.tokens()` (the IR's invariant), so it is computed **once per
//!   token count** and kept in a lock-free lazily filled table ([`std::sync::OnceLock`] slots in
//!   chunks of 64 token counts; a hit is two atomic loads);
//! - **the LM head**, which depends only on `batch.sequences()` (one logit row per sequence),
//!   in a second table of the same kind;
//! - **attention**, per call: `cost.prefill_attention` over the prefill chunks plus
//!   `cost.decode_attention` over the decode group, times the layers of each distinct
//!   attention shape in the stage (MLA prefill chunks in their multi-head form with their
//!   cached prefixes' up-projection, `parallax_ir::lower::MlaPrefill`, as engines run them;
//!   decode in the absorbed form). With attention replicas (`attn=RxtpT`) the batch is split
//!   between the `R` groups (prefill chunks in contiguous runs of equal count, decode
//!   requests evenly) and the slowest group counts;
//! - **the KV-cache write** of the new tokens' keys and values, one elementwise op per
//!   attention layer (the profiled attention kernels do not include it);
//! - **overhead**: how the device time `G` (the four kinds above) becomes wall time. A decode-
//!   only iteration with CUDA graphs on and at most [`LowerOptions::cuda_graph_max_batch`]
//!   requests replays a graph (vLLM captures decode iterations up to a size and runs prefill
//!   and mixed iterations eagerly): its kernels run back to back, each pair of consecutive
//!   kernels hiding `o = cost.graph_kernel_overlap()` of the isolated times the cost model
//!   gives (the next kernel's launch and prologue under the previous one's tail), so wall =
//!   `cost::graph_wall_time(G, ops, o)` = `max(G − (ops − 1)·o, G/2)` (the floor: only
//!   neighbouring kernels overlap, at most two at a time). An eager
//!   iteration waits for the host to issue its ops: host time `H = ops ×
//!   cost.kernel_launch_overhead()` (ops = GEMMs, elementwise ops, collectives, one
//!   attention call per layer for the prefill chunks and one for the decode group), and
//!   wall = `cost::eager_wall_time(G, H, cost.host_overlap_exponent())`, a smooth maximum.
//!   Both then add `cost.iteration_overhead()` (fixed device time per iteration). The
//!   serving engine's own host time (scheduling, input preparation, sampling) is the
//!   simulator's [`parallax_sim::HostOverhead`], set by an [`crate::EngineModel`]. The
//!   breakdown sums to the iteration time and no entry is negative: in an eager iteration
//!   the four kinds keep their isolated times and `overhead` is the exposed host time
//!   `wall − G` plus the iteration overhead; in a replay (`wall ≤ G`) each kind is scaled by
//!   `wall / G` and `overhead` is the iteration overhead alone. [`PlanStageCost::timing`] gives `G`, `H`, the op
//!   count and the time a replay's overlap hides.

//! # Resharding between cells
//!
//! Each cell has a token layout: `R` groups that each hold `1/R` of the stage's sequences
//! (`R` = attention or MLP replicas; a MoE's replicas, times its `ep` when its tokens are
//! dispatched rather than kept replicated, [`Plan::moe_tokens_replicated`]; norms take the
//! layout of the cell they feed). Going from `Ra` to `Rb` groups:
//! - `Rb` a multiple of `Ra` (splitting further): free — every device already holds the tokens
//!   of its finer group and keeps its slice;
//! - `Ra` a multiple of `Rb` (merging): an **all-gather** over the `Ra/Rb` devices that hold
//!   the same TP position in the merged groups (stride `tp/Ra`), of the merged group's
//!   `T/Rb × hidden` activations;
//! - otherwise an **all-to-all** over the whole stage, each device sending its `T/Ra × hidden`.
//!
//! All-gather (rather than all-reduce + slice) is chosen because the layouts differ only in how
//! tokens are split: no partial sums cross the boundary, the cell's own TP all-reduce has
//! already produced complete activations. The stage's first cell receives the pipeline
//! transfer (or the embedding output, `R = 1`) already in its layout; the LM head needs `R = 1`.
//!
//! Every collective's [`DeviceGroup`] comes from the [`Mapping`].

use crate::error::PlanError;
use crate::mapping::Mapping;
use crate::memory::{tokens_batch, MemoryOptions, MemoryReport};
use crate::plan::{CellPlacement, Plan, StageSpec};
use parallax_hw::cost::{eager_wall_time, graph_wall_time};
use parallax_hw::{Cluster, CostModel, DeviceGroup};
use parallax_ir::{
    lower::{beyond_top_k, split_at_top_k, MlaPrefill},
    lower_cell, lower_embedding, lower_lm_head, AttentionShape, Batch, Cell, CellShard,
    CollectiveKind, DecodeGroup, Elementwise, ElementwiseKind, GroupRole, Model, Op, OpBody,
    PrefillChunk,
};
use parallax_sim::{HostLink, PowerModel, ReplicaSpec, StageCost, StepCost};
use std::sync::{Arc, OnceLock};

/// Options of the lowering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LowerOptions {
    /// Memory settings (KV capacity, activation reserve).
    pub memory: MemoryOptions,
    /// Capture decode-only iterations in CUDA graphs (no per-kernel launch overhead); default
    /// `true`, as vLLM does.
    pub cuda_graphs: bool,
    /// Largest decode batch captured in a CUDA graph (vLLM's largest capture size); default 512.
    pub cuda_graph_max_batch: u32,
    /// Prefill or mixed iterations of at most this many tokens replay piecewise CUDA graphs
    /// (vLLM V1's `FULL_AND_PIECEWISE` mode up to its capture size); default 0 (they run
    /// eagerly). Needs `cuda_graphs`.
    pub cuda_graph_max_tokens: u32,
    /// Host time to issue one op of an eager iteration, seconds; `None` (default) uses the
    /// cost model's [`CostModel::kernel_launch_overhead`]. Serving-engine models set it to
    /// their compiled forward's issue time ([`crate::engine::EngineModel`]).
    pub eager_op_host: Option<f64>,
    /// Blend exponent of an eager iteration's device and host times; `None` (default) uses
    /// the cost model's [`CostModel::host_overlap_exponent`]; `∞` is the maximum.
    pub eager_overlap_exponent: Option<f64>,
    /// Prefer the cost model's measured kernel launch
    /// ([`CostModel::measured_kernel_launch`]) over `eager_op_host` as the host time per
    /// eager op when the model has one. Default false.
    pub measured_launch: bool,
    /// Tokens of context one request must be able to hold for the plan to be feasible (the
    /// workload's largest request), in one pipeline engine's share (`1/pp`) of the KV cache;
    /// `0` means one KV block. Default 0.
    pub required_kv_tokens: u64,
    /// Token counts (and sequence counts) up to which step costs are cached; larger batches
    /// are computed on every call. Default 16,384.
    pub cache_tokens: u32,
    /// Host-link (GPU ↔ host memory) bandwidth per GPU, bytes/s per direction, for KV swapping
    /// (`StageCost::host_link`). Default 50e9: PCIe 5.0 ×16 (64 GB/s per direction) at the
    /// ~80 % a pinned-memory copy reaches; use ≈ 25e9 for PCIe 4.0 GPUs (A100, L40S).
    pub host_link_bandwidth: f64,
    /// MoE routing skew and EPLB ([`crate::skew`]): each MoE layer runs at its busiest EP
    /// rank's speed. Default `None`: a balanced router, as before.
    pub moe_load: Option<crate::skew::MoeLoad>,
    /// How a MoE layer whose tokens are dispatched (attention data parallel finer than the MoE
    /// replicas, [`Plan::moe_tokens_replicated`] false) moves them: `true`, an all-to-all
    /// dispatch and combine of each token's top-k expert inputs (DeepEP, pplx); `false`
    /// (default), an all-gather of the replica's tokens to every expert group and a
    /// reduce-scatter of the summed outputs back, the default path of vLLM
    /// (`all2all_backend` `allgather_reducescatter`), SGLang (DP attention without a
    /// `--moe-a2a-backend`) and TensorRT-LLM (attention DP without DeepEP). Its volume does
    /// not depend on `top_k`.
    pub moe_all_to_all: bool,
    /// Draft tokens verified per decoding request and step under speculative decoding by
    /// multi-token prediction (`parallax_sim::Speculation::draft_tokens`; 0, the default:
    /// none). A decode step then runs `1 + speculative_tokens` tokens of each decoding
    /// request through the model (the verification; the LM head on each), and the last stage
    /// runs the draft module `speculative_tokens` times on one token per decoding request,
    /// priced as one of the stage's layers plus the LM head (an MTP module is one transformer
    /// block of the model's kind on the shared embedding and head), and once over the prompt
    /// tokens of the iteration (one layer's share: the module keeps its own KV). Attention reads each
    /// request's KV once for all its verified positions, so it is priced as one decode. The
    /// MTP module's own weights and KV cache count in memory as the engine loads them when
    /// [`MemoryOptions::draft_module`] is set ([`crate::EngineModel::lower_options`] sets
    /// both).
    pub speculative_tokens: u32,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            memory: MemoryOptions::default(),
            cuda_graphs: true,
            cuda_graph_max_batch: 512,
            cuda_graph_max_tokens: 0,
            eager_op_host: None,
            eager_overlap_exponent: None,
            measured_launch: false,
            required_kv_tokens: 0,
            cache_tokens: 16_384,
            host_link_bandwidth: 50e9,
            moe_load: None,
            moe_all_to_all: false,
            speculative_tokens: 0,
        }
    }
}

/// A plan lowered for the simulator, with its memory report and the concrete stage costs.
#[derive(Debug, Clone)]
pub struct LoweredPlan {
    /// One spec per data-parallel replica.
    pub replicas: Vec<ReplicaSpec>,
    /// The same stages with their concrete type, `stages[replica][stage]`.
    pub stages: Vec<Vec<Arc<PlanStageCost>>>,
    /// Memory of one replica.
    pub memory: MemoryReport,
    /// The device mapping.
    pub mapping: Mapping,
}

/// Lower `plan` for `model` on `cluster` to one [`ReplicaSpec`] per data-parallel replica.
///
/// # Arguments
/// - `cost`: the cost model every op is priced with.
/// - `opts`: memory settings, CUDA graphs, the KV a request must be able to hold.
///
/// # Returns
/// `dp` replica specs (identical replicas share their stage objects).
///
/// # Complexity
/// O(dp × pp + pp × (runs + cells per block)); independent of depth. Costs are computed
/// lazily on the first step of each token count.
///
/// # Errors
/// [`PlanError::Inconsistent`] for a plan that does not fit the model or cluster,
/// [`PlanError::Memory`] when a stage cannot hold its weights, reserves and one request of
/// `opts.required_kv_tokens` (at least one KV block) in each of its `pp` pipeline engines'
/// shares of the KV cache.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use parallax_plan::{lower, LowerOptions, Plan};
/// let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
/// let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
/// let cost = Arc::new(parallax_hw::RooflineModel::new(&cluster.gpu));
/// let plan: Plan = "dp=2,tp=4".parse().unwrap();
/// let replicas = lower(&model, &plan, &cluster, cost, &LowerOptions::default()).unwrap();
/// assert_eq!(replicas.len(), 2);
/// assert!(replicas[0].kv_blocks > 0);
/// ```
pub fn lower(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<Vec<ReplicaSpec>, PlanError> {
    Ok(lower_plan(model, plan, cluster, cost, opts)?.replicas)
}

/// Like [`lower`], returning the concrete stage costs, the memory report and the mapping too.
///
/// # Errors
/// As [`lower`].
pub fn lower_plan(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<LoweredPlan, PlanError> {
    let lowered = lower_unchecked(model, plan, cluster, cost, opts)?;
    check_memory(&lowered.memory, plan, opts)?;
    Ok(lowered)
}

/// The memory check of [`lower_plan`] on one replica's report.
pub(crate) fn check_memory(
    memory: &MemoryReport,
    plan: &Plan,
    opts: &LowerOptions,
) -> Result<(), PlanError> {
    let need = opts.required_kv_tokens.max(opts.memory.block_size as u64);
    memory.check(need)?;
    // A request's KV with sliding windows capped can fit while a whole paged block (every
    // layer at full size) per pipeline engine does not: an engine then has no usable KV block.
    let engines = plan.pp as u64;
    let block = opts.memory.block_size as u64;
    if let Some(s) = memory
        .stages
        .iter()
        .find(|s| s.kv_tokens() < engines.saturating_mul(block))
    {
        return Err(PlanError::Memory(crate::error::MemoryShortfall {
            plan: memory.plan.clone(),
            stage: s.stage,
            needed_bytes: s.weights_bytes
                + s.activation_bytes
                + s.runtime_bytes
                + (engines * block) as f64 * s.kv_bytes_per_token / s.attn_replicas.max(1) as f64,
            available_bytes: s.available_bytes,
        }));
    }
    Ok(())
}

/// The memory report of every replica of `plan` as lowering computes it: each stage against
/// its own GPU under `opts.memory` (the engine's memory rule), with EPLB's redundant experts
/// (`opts.moe_load`) in the weights of every EP rank. Does not fail when memory misses
/// (see [`MemoryReport::shortfall`]).
///
/// # Errors
/// As [`crate::plan_memory`], and [`PlanError`] for an EPLB count the plan cannot place.
pub fn lowered_memory(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &LowerOptions,
) -> Result<Vec<MemoryReport>, PlanError> {
    let mut reports = crate::hetero::replica_memory(model, plan, cluster, &opts.memory)?;
    if let Some(l) = &opts.moe_load {
        // EPLB's redundant experts occupy weight memory on every EP rank.
        for m in &mut reports {
            l.add_eplb_weights(model, plan, m)?;
        }
    }
    Ok(reports)
}

/// Whether `plan` passes [`lower_plan`]'s memory check under `opts` (EPLB's redundant experts
/// included), without lowering it: `Ok` when every replica fits.
///
/// # Errors
/// [`PlanError::Memory`] with the worst shortfall, or as [`lowered_memory`].
pub fn check_lowered_memory(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &LowerOptions,
) -> Result<(), PlanError> {
    for m in lowered_memory(model, plan, cluster, opts)? {
        check_memory(&m, plan, opts)?;
    }
    Ok(())
}

/// Lower without the memory check (used by one-iteration prediction, which reports memory
/// but prices the iteration even when the weights do not fit).
pub(crate) fn lower_unchecked(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<LoweredPlan, PlanError> {
    if cluster.is_heterogeneous() {
        if let Some(l) = &opts.moe_load {
            l.busiest_rank_share(model, plan)?;
        }
        return Err(PlanError::Option {
            option: "cost model".into(),
            value: format!("one model for cluster {}", cluster.spec()),
            expected: "one cost model per node group: use `hetero::lower_plan`".into(),
        });
    }
    lower_groups(model, plan, cluster, std::slice::from_ref(&cost), opts).map(|(l, _)| l)
}

/// The one lowering path, for homogeneous and heterogeneous clusters alike, without the
/// memory check: every stage priced by `costs[g]`, the cost model of its node group `g` (one
/// per [`Cluster::node_groups`]; one model on a homogeneous cluster), with every replica's
/// memory report (EPLB's redundant experts included). Replicas whose stage runs on the same
/// group over the same device groups with the same memory share the stage object; a
/// replica's per-GPU figures (power, peaks) are its GPU kind's, or the mean over its GPUs
/// when its stages run on several kinds. [`LoweredPlan::memory`] is the binding replica's
/// (fewest KV blocks; ties: the lowest index).
///
/// # Errors
/// [`PlanError::Option`] when `costs` does not have one model per node group; otherwise as
/// [`lower_plan`] (without the memory check).
pub(crate) fn lower_groups(
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
    if let Some(l) = &opts.moe_load {
        l.busiest_rank_share(model, plan)?;
    }
    let reports = lowered_memory(model, plan, cluster, opts)?;
    let specs = plan.stages(model)?;
    let mapping = Mapping::new(plan, cluster)?;
    let kinds = crate::hetero::stage_groups(plan, cluster)?;
    let shared_model = Arc::new(model.clone());
    let mut stages: Vec<Vec<Arc<PlanStageCost>>> = Vec::with_capacity(plan.dp as usize);
    for (r, row_kinds) in kinds.iter().enumerate() {
        let mut row = Vec::with_capacity(specs.len());
        for spec in &specs {
            let i = spec.index;
            let g = row_kinds[i];
            let send = mapping.send_group(r, i);
            let tp = mapping.stage_group(r, i);
            // Replicas whose stage runs on the same kind over the same groups with the same
            // memory share it.
            let reuse = stages.iter().enumerate().find_map(|(q, prev)| {
                (kinds[q][i] == g
                    && mapping.send_group(q, i) == send
                    && mapping.stage_group(q, i) == tp
                    && reports[q].stages[i] == reports[r].stages[i])
                    .then(|| prev[i].clone())
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
                    if let Some(m) = reports[r].stages.get(i) {
                        st.set_host_link(m, opts);
                    }
                    Arc::new(st)
                }
            };
            row.push(stage);
        }
        stages.push(row);
    }
    let replicas = stages
        .iter()
        .zip(&kinds)
        .zip(&reports)
        .map(|((row, ks), mem)| {
            let per_gpu = |f: &dyn Fn(&parallax_hw::Gpu) -> f64| replica_mean(plan, ks, &groups, f);
            ReplicaSpec {
                stages: row
                    .iter()
                    .map(|s| s.clone() as Arc<dyn StageCost>)
                    .collect(),
                kv_blocks: mem.kv_blocks(),
                block_size: opts.memory.block_size,
                gpus: plan.replica_devices(),
                power: PowerModel {
                    idle_watts: per_gpu(&|g| g.idle_watts),
                    busy_watts: per_gpu(&|g| g.tdp_watts),
                },
                peak_flops: per_gpu(&|g| g.peak_flops(model.precision.compute)),
                peak_bandwidth: per_gpu(&|g| g.memory_bandwidth),
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

/// A per-GPU figure of one replica whose stage `s` runs on node group `kinds[s]`: its kind's
/// value when every stage runs on one kind, else the mean over the replica's GPUs (the
/// stages' kinds weighted by their widths; by stage with one width for all).
fn replica_mean(
    plan: &Plan,
    kinds: &[usize],
    groups: &[parallax_hw::NodeGroup],
    f: &dyn Fn(&parallax_hw::Gpu) -> f64,
) -> f64 {
    match kinds.first() {
        Some(&g0) if kinds.iter().all(|&g| g == g0) => f(&groups[g0].gpu),
        _ => match plan.stage_tp {
            None => {
                kinds.iter().map(|&g| f(&groups[g].gpu)).sum::<f64>() / kinds.len().max(1) as f64
            }
            Some(_) => {
                kinds
                    .iter()
                    .enumerate()
                    .map(|(s, &g)| plan.stage_width(s) as f64 * f(&groups[g].gpu))
                    .sum::<f64>()
                    / plan.replica_devices().max(1) as f64
            }
        },
    }
}

/// Work of the token- or sequence-dependent part of a stage for one count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Part {
    gemm: f64,
    elementwise: f64,
    communication: f64,
    flops: f64,
    bytes: f64,
    kernels: f64,
}

impl Part {
    /// Add `x` times `other`.
    fn add_scaled(&mut self, other: &Part, x: f64) {
        self.gemm += x * other.gemm;
        self.elementwise += x * other.elementwise;
        self.communication += x * other.communication;
        self.flops += x * other.flops;
        self.bytes += x * other.bytes;
        self.kernels += x * other.kernels;
    }

    fn add_op(&mut self, op: &Op, cost: &dyn CostModel, groups: &Groups, mult: f64) {
        match &op.body {
            OpBody::Gemm(g) => {
                self.gemm += mult * cost.gemm(g);
                self.flops += mult * g.flops();
                self.bytes += mult * g.bytes();
            }
            OpBody::Elementwise(e) => {
                self.elementwise += mult * cost.elementwise(e);
                self.flops += mult * e.flops;
                self.bytes += mult * e.bytes;
            }
            OpBody::FusedMoe(f) => {
                self.gemm += mult * cost.fused_moe(f);
                self.flops += mult * f.flops();
                self.bytes += mult * f.bytes();
            }
            OpBody::Collective(c) => {
                let g = match c.group {
                    GroupRole::TensorParallel => groups.tp,
                    GroupRole::ExpertParallel => groups.ep,
                    GroupRole::Stage => groups.stage,
                };
                self.communication += mult * cost.collective(c.kind, c.bytes, &g);
            }
            // Attention is priced per call, never through the tables.
            OpBody::Attention { .. } => return,
        }
        self.kernels += mult;
    }
}

/// Attention of a batch: seconds, FLOPs, bytes and kernel calls.
#[derive(Debug, Clone, Copy, Default)]
struct Attn {
    time: f64,
    flops: f64,
    bytes: f64,
    kernels: f64,
}

impl Attn {
    /// Add `x` times `other`.
    fn add_scaled(&mut self, other: &Attn, x: f64) {
        self.time += x * other.time;
        self.flops += x * other.flops;
        self.bytes += x * other.bytes;
        self.kernels += x * other.kernels;
    }
}

/// Device groups a unit's collectives run over.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Groups {
    tp: DeviceGroup,
    ep: DeviceGroup,
    stage: DeviceGroup,
}

/// One piece of token-dependent work of a stage.
#[derive(Debug, Clone)]
enum UnitKind {
    /// Cell `cell` of the block of run `run`.
    Cell {
        run: usize,
        cell: usize,
        placement: CellPlacement,
    },
    /// The input embedding (first stage).
    Embedding,
    /// The final norm (last stage; the rest of the LM head depends on sequences).
    FinalNorm,
    /// Resharding between token layouts.
    Reshard {
        kind: CollectiveKind,
        /// Bytes per token of the collective (the per-rank size is this × tokens / divisor).
        divisor: u32,
        group: DeviceGroup,
    },
    /// Activations sent to the next stage.
    Send(DeviceGroup),
}

#[derive(Debug, Clone)]
struct Unit {
    kind: UnitKind,
    mult: f64,
    groups: Groups,
}

/// One distinct attention shape of the stage.
#[derive(Debug, Clone, Copy)]
struct AttnUnit {
    shape: AttentionShape,
    /// MLA's prefill form (`None`: prefill uses `shape` too).
    mla: Option<MlaPrefill>,
    /// A sparse layer's `top_k`: its MLA prefill chunks longer than that run in the
    /// absorbed form over `shape` ([`parallax_ir::lower::split_sparse_prefill`]).
    sparse_top_k: Option<u32>,
    /// A sparse layer's lightning indexer ([`parallax_ir::lower::indexer_shape`]).
    indexer: Option<AttentionShape>,
    layers: f64,
}

const CHUNK: usize = 64;

/// One chunk of [`CHUNK`] lazily filled slots.
type Chunk = Box<[OnceLock<Part>]>;

/// A lazily filled, lock-free table of [`Part`]s indexed by a count in `1..=cap`.
#[derive(Debug)]
struct Table {
    chunks: Box<[OnceLock<Chunk>]>,
}

impl Table {
    fn new(cap: u32) -> Self {
        let n = (cap as usize).div_ceil(CHUNK);
        Table {
            chunks: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn get(&self, count: u64, f: impl FnOnce() -> Part) -> Part {
        let i = count as usize;
        let (c, o) = (i / CHUNK, i % CHUNK);
        match self.chunks.get(c) {
            Some(chunk) => {
                let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
                *chunk[o].get_or_init(f)
            }
            None => f(),
        }
    }
}

/// The [`StageCost`] of one pipeline stage of a lowered plan (see the module docs).
#[derive(Debug)]
pub struct PlanStageCost {
    stage: usize,
    layers: u32,
    units: Vec<Unit>,
    attn: Vec<AttnUnit>,
    attn_replicas: u32,
    /// MoE layers keep their tokens replicated over each replica ([`Plan::moe_tokens_replicated`]).
    moe_replicated: bool,
    /// Dispatched MoE tokens move all-to-all ([`LowerOptions::moe_all_to_all`]).
    moe_all_to_all: bool,
    model: Arc<Model>,
    /// Devices of the stage (the TP degree of the embedding and LM head).
    width: u32,
    /// Groups of the embedding / LM head / stage-wide ops.
    full: Groups,
    last: bool,
    cost: Arc<dyn CostModel>,
    cuda_graphs: bool,
    cuda_graph_max_batch: u32,
    cuda_graph_max_tokens: u32,
    eager_op_host: Option<f64>,
    eager_overlap_exponent: Option<f64>,
    tokens: Table,
    seqs: Table,
    host_link: Option<HostLink>,
    skew: Option<crate::skew::StageSkew>,
    /// [`LowerOptions::speculative_tokens`].
    speculative_tokens: u32,
}

/// Append the ops one device of a MoE replica runs for `tokens` tokens when they stay
/// replicated over the replica ([`Plan::moe_tokens_replicated`]): the `experts` op of its
/// local experts under `shard` (after `experts_hook`, which may reprice it for a routing
/// skew), then the rest of the cell lowered over the replica's `ep × tp` devices (router and
/// routing on every token, shared experts sharded over all of them, one all-reduce).
pub(crate) fn lower_replicated_moe(
    cell: &Cell,
    shard: CellShard,
    tokens: u64,
    p: &parallax_ir::Precision,
    ops: &mut Vec<Op>,
    experts_hook: impl FnOnce(&mut Vec<Op>),
) {
    let start = ops.len();
    lower_cell(cell, shard, &tokens_batch(tokens), p, ops);
    experts_hook(ops);
    let mut i = 0;
    ops.retain(|o| {
        i += 1;
        i <= start || o.name == "experts"
    });
    // the rest over the whole replica, lowered in place and its own `experts` dropped
    let mid = ops.len();
    let whole = CellShard::tp(shard.devices());
    lower_cell(cell, whole, &tokens_batch(tokens), p, ops);
    let mut i = 0;
    ops.retain(|o| {
        i += 1;
        i <= mid || o.name != "experts"
    });
}

/// The IR's all-to-all `ep_dispatch` / `ep_combine` of a MoE replica's `tokens` as the
/// engines' default paths run them ([`LowerOptions::moe_all_to_all`] false): an all-gather of
/// every token's hidden state (`bytes_per_token` each) over the EP group, and a
/// reduce-scatter of the outputs back. Other ops are left as they are.
fn gather_scatter(op: &mut Op, tokens: u64, bytes_per_token: f64) {
    let kind = match op.name {
        "ep_dispatch" => CollectiveKind::AllGather,
        "ep_combine" => CollectiveKind::ReduceScatter,
        _ => return,
    };
    if let OpBody::Collective(c) = &mut op.body {
        c.kind = kind;
        c.bytes = tokens as f64 * bytes_per_token;
    }
}

/// Routed-expert ops of the IR's MoE lowering, which divide the routed work by `ep`
/// themselves and so are lowered at the stage's full token count.
const MOE_ROUTED_OPS: [&str; 3] = ["ep_dispatch", "experts", "ep_combine"];

impl PlanStageCost {
    pub(crate) fn build(
        model: &Arc<Model>,
        plan: &Plan,
        spec: &StageSpec,
        mapping: &Mapping,
        replica: usize,
        cost: Arc<dyn CostModel>,
        opts: &LowerOptions,
    ) -> Self {
        let s = spec.index;
        // With per-stage widths the stage sees the plan at its own width.
        let plan = &*plan.stage_plan(s);
        let w = plan.tp;
        let stage_group = mapping.stage_group(replica, s);
        let full = Groups {
            tp: stage_group,
            ep: stage_group,
            stage: stage_group,
        };
        let ep_group = mapping.strided_group(replica, s, plan.moe.ep, plan.moe.tp);
        let moe_replicated = plan.moe_tokens_replicated();
        let groups_for = |pl: &CellPlacement| Groups {
            // A MoE whose tokens stay replicated sums its partial outputs over the whole replica
            // (`ep × tp` consecutive devices); see `token_part`.
            tp: mapping.tp_group(
                replica,
                s,
                if moe_replicated && pl.shard.ep > 1 {
                    pl.shard.devices()
                } else {
                    pl.shard.tp
                },
            ),
            ep: ep_group,
            stage: stage_group,
        };
        let first = s == 0;
        let last = s + 1 == plan.pp as usize;
        let mut units: Vec<Unit> = Vec::new();
        let mut attn: Vec<AttnUnit> = Vec::new();
        let mut transitions: Vec<((u32, u32), f64)> = Vec::new();
        let mut add_transition = |from: u32, to: u32, mult: f64| {
            if from == to || mult <= 0.0 {
                return;
            }
            match transitions.iter_mut().find(|e| e.0 == (from, to)) {
                Some(e) => e.1 += mult,
                None => transitions.push(((from, to), mult)),
            }
        };
        if first {
            units.push(Unit {
                kind: UnitKind::Embedding,
                mult: 1.0,
                groups: full,
            });
        }
        let mut prev_layout: Option<u32> = if first { Some(1) } else { None };
        let p = &model.precision;
        for seg in &spec.segments {
            let block = &model.runs[seg.run].block;
            let n = seg.blocks as f64;
            let layouts: Vec<u32> = (0..block.cells.len())
                .map(|i| plan.placement(block, i).replicas)
                .collect();
            for (i, cell) in block.cells.iter().enumerate() {
                let pl = plan.placement(block, i);
                units.push(Unit {
                    kind: UnitKind::Cell {
                        run: seg.run,
                        cell: i,
                        placement: pl,
                    },
                    mult: n,
                    groups: groups_for(&pl),
                });
                if let Cell::Attention(a) = cell {
                    let shape = parallax_ir::lower::attention_shape(a, pl.shard.tp, p);
                    let mla = parallax_ir::lower::mla_prefill(a, pl.shard.tp, p);
                    let sparse_top_k = a.sparse.map(|s| s.top_k);
                    let indexer = parallax_ir::lower::indexer_shape(a);
                    match attn.iter_mut().find(|u| {
                        u.shape == shape
                            && u.mla == mla
                            && u.sparse_top_k == sparse_top_k
                            && u.indexer == indexer
                    }) {
                        Some(u) => u.layers += n,
                        None => attn.push(AttnUnit {
                            shape,
                            mla,
                            sparse_top_k,
                            indexer,
                            layers: n,
                        }),
                    }
                }
                if i + 1 < layouts.len() {
                    add_transition(layouts[i], layouts[i + 1], n);
                }
            }
            if let (Some(&f), Some(&l)) = (layouts.first(), layouts.last()) {
                if let Some(prev) = prev_layout {
                    add_transition(prev, f, 1.0);
                }
                add_transition(l, f, n - 1.0);
                prev_layout = Some(l);
            }
        }
        if last {
            if let Some(prev) = prev_layout {
                add_transition(prev, 1, 1.0);
            }
            units.push(Unit {
                kind: UnitKind::FinalNorm,
                mult: 1.0,
                groups: full,
            });
        }
        for ((from, to), mult) in transitions {
            let (kind, divisor, group) = if to % from == 0 {
                continue; // splitting further is a local slice
            } else if from % to == 0 {
                let k = from / to;
                (
                    CollectiveKind::AllGather,
                    to,
                    mapping.strided_group(replica, s, k, w / from),
                )
            } else {
                (CollectiveKind::AllToAll, from, stage_group)
            };
            units.push(Unit {
                kind: UnitKind::Reshard {
                    kind,
                    divisor,
                    group,
                },
                mult,
                groups: full,
            });
        }
        if let Some(g) = mapping.send_group(replica, s) {
            // Every device of the next stage needs the whole activations, which every device
            // of this stage holds after its TP all-reduce: each sender feeds
            // ⌈next width / width⌉ receivers one after the other (one send per device pair
            // when the widths are equal; a narrower next stage is fed in one round).
            let next = mapping.slots[replica].get(s + 1).map_or(w, |n| n.width);
            units.push(Unit {
                kind: UnitKind::Send(g),
                mult: next.div_ceil(w.max(1)) as f64,
                groups: full,
            });
        }
        let eager_op_host = if opts.measured_launch {
            cost.measured_kernel_launch().or(opts.eager_op_host)
        } else {
            opts.eager_op_host
        };
        PlanStageCost {
            stage: s,
            layers: spec.layers(),
            units,
            attn,
            attn_replicas: plan.attn.replicas.max(1),
            moe_replicated,
            moe_all_to_all: opts.moe_all_to_all,
            model: model.clone(),
            width: w,
            full,
            last,
            cost,
            cuda_graphs: opts.cuda_graphs,
            cuda_graph_max_batch: opts.cuda_graph_max_batch,
            cuda_graph_max_tokens: opts.cuda_graph_max_tokens,
            eager_op_host,
            eager_overlap_exponent: opts.eager_overlap_exponent,
            tokens: Table::new(opts.cache_tokens),
            seqs: Table::new(opts.cache_tokens),
            host_link: None,
            skew: crate::skew::StageSkew::new(model, opts.moe_load),
            speculative_tokens: opts.speculative_tokens,
        }
    }

    /// A token's KV lives on one attention group of the stage; its devices copy their shares
    /// over their own host links in parallel.
    pub(crate) fn set_host_link(&mut self, m: &crate::memory::StageMemory, opts: &LowerOptions) {
        let group = (self.width / m.attn_replicas.max(1)).max(1) as f64;
        self.host_link = Some(HostLink {
            kv_bytes_per_token: m.kv_bytes_per_token * group,
            bandwidth: opts.host_link_bandwidth * group,
        });
    }

    /// Stage index in its pipeline.
    pub fn stage(&self) -> usize {
        self.stage
    }

    /// Layers the stage holds.
    pub fn layers(&self) -> u32 {
        self.layers
    }

    /// Token-dependent work for `t` tokens, computed from scratch.
    fn token_part(&self, t: u64) -> Part {
        let mut part = Part::default();
        if t == 0 {
            return part;
        }
        let cost = &*self.cost;
        let model = &*self.model;
        let p = &model.precision;
        let hidden = model.hidden_size as f64;
        let act = p.activations.bytes();
        let mut ops: Vec<Op> = Vec::with_capacity(16);
        for u in &self.units {
            ops.clear();
            match &u.kind {
                UnitKind::Cell {
                    run,
                    cell,
                    placement: pl,
                } => {
                    let cell = &model.runs[*run].block.cells[*cell];
                    let share = t.div_ceil(pl.replicas.max(1) as u64);
                    if matches!(cell, Cell::Moe(_)) && pl.shard.ep > 1 && self.moe_replicated {
                        // Every device of a replica holds all of its `share` tokens: it runs
                        // its local experts on the tokens routed to them (the IR divides the
                        // routed work by `ep`), and the router, the routing and the shared
                        // experts, sharded over the replica's `ep × tp` devices, on every
                        // token; one all-reduce over those devices (the unit's TP group)
                        // sums the partial outputs. No dispatch or combine.
                        lower_replicated_moe(cell, pl.shard, share, p, &mut ops, |ops| {
                            if let Some(sk) = &self.skew {
                                sk.apply(cell, pl.shard, share, model, cost, ops);
                            }
                        });
                    } else if matches!(cell, Cell::Moe(_)) && pl.shard.ep > 1 {
                        // The routed ops of one whole-MoE replica: its share of the tokens
                        // (the IR divides them further by `ep`).
                        let moe_replicas = (pl.replicas / pl.shard.ep).max(1) as u64;
                        let routed = t.div_ceil(moe_replicas);
                        lower_cell(cell, pl.shard, &tokens_batch(routed), p, &mut ops);
                        if let Some(sk) = &self.skew {
                            sk.apply(cell, pl.shard, routed, model, cost, &mut ops);
                        }
                        for op in ops.iter_mut().filter(|o| MOE_ROUTED_OPS.contains(&o.name)) {
                            if !self.moe_all_to_all {
                                gather_scatter(op, routed, hidden * act);
                            }
                            part.add_op(op, cost, &u.groups, u.mult);
                        }
                        ops.clear();
                        lower_cell(cell, pl.shard, &tokens_batch(share), p, &mut ops);
                        ops.retain(|o| !MOE_ROUTED_OPS.contains(&o.name));
                    } else {
                        lower_cell(cell, pl.shard, &tokens_batch(share), p, &mut ops);
                        if let Some(sk) = &self.skew {
                            sk.apply(cell, pl.shard, share, model, cost, &mut ops);
                        }
                    }
                    if let Cell::Attention(_) = cell {
                        let per_token = cell.kv_bytes_per_token_per_device(pl.shard, p);
                        ops.push(kv_cache_write(share, per_token));
                    }
                }
                UnitKind::Embedding => {
                    lower_embedding(model, self.width, &tokens_batch(t), &mut ops);
                }
                UnitKind::FinalNorm => {
                    lower_lm_head(model, self.width, &tokens_batch(t), &mut ops);
                    ops.retain(|o| o.name == "final_norm");
                }
                UnitKind::Reshard {
                    kind,
                    divisor,
                    group,
                } => {
                    let bytes = t.div_ceil(*divisor as u64) as f64 * hidden * act;
                    part.communication += u.mult * cost.collective(*kind, bytes, group);
                    part.kernels += u.mult;
                }
                UnitKind::Send(g) => {
                    let bytes = t as f64 * hidden * act;
                    part.communication +=
                        u.mult * cost.collective(CollectiveKind::SendRecv, bytes, g);
                    part.kernels += u.mult;
                }
            }
            for op in &ops {
                part.add_op(op, cost, &u.groups, u.mult);
            }
        }
        part
    }

    /// The LM head's work (logits, their all-gather, sampling) for `seqs` sequences.
    fn seq_part(&self, seqs: u64) -> Part {
        let mut part = Part::default();
        if !self.last || seqs == 0 {
            return part;
        }
        let mut ops: Vec<Op> = Vec::with_capacity(4);
        lower_lm_head(&self.model, self.width, &tokens_batch(seqs), &mut ops);
        for op in ops.iter().filter(|o| o.name != "final_norm") {
            part.add_op(op, &*self.cost, &self.full, 1.0);
        }
        part
    }

    /// Attention of one group's `prefill` chunks and `decode` requests: seconds, flops, bytes.
    fn attention_group(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> Attn {
        let mut out = Attn::default();
        for a in &self.attn {
            let (t, f, b) = attention_call(&*self.cost, a, prefill, decode);
            out.time += a.layers * t;
            out.flops += a.layers * f;
            out.bytes += a.layers * b;
        }
        out
    }

    /// Attention of a batch of `prefill` chunks and `decode` requests.
    fn attention(&self, prefill: &[PrefillChunk], decode: &DecodeGroup) -> Attn {
        let r = self.attn_replicas;
        let mut out = if r <= 1 {
            self.attention_group(prefill, decode)
        } else {
            // Split the batch between the attention replica groups; the slowest group counts.
            // Group `g` takes a contiguous run of the prefill chunks (`n/r` of them, one more
            // for the first `n % r` groups): a sub-slice, so no allocation on this hot path.
            let d = *decode;
            let n = prefill.len() as u32;
            let mut start = 0usize;
            let mut slowest = Attn::default();
            for g in 0..r {
                let len = (n / r + u32::from(g < n % r)) as usize;
                let bin = &prefill[start..start + len];
                start += len;
                let req = d.requests / r + u32::from(g < d.requests % r);
                let decode = if req == 0 || d.requests == 0 {
                    DecodeGroup::default()
                } else {
                    DecodeGroup {
                        requests: req,
                        context_sum: ((d.context_sum as f64) * req as f64 / d.requests as f64)
                            .round() as u64,
                        context_max: d.context_max,
                    }
                };
                let a = self.attention_group(bin, &decode);
                if a.time > slowest.time || g == 0 {
                    slowest = a;
                }
            }
            slowest
        };
        // calls of the whole batch, as one group would issue them
        for a in &self.attn {
            out.kernels += a.layers * attention_call_count(a, prefill, decode);
        }
        out
    }

    fn compute(&self, batch: &Batch, cached: bool) -> StepCost {
        self.compute_timed(batch, cached).0
    }

    /// The step cost and its timing components.
    fn compute_timed(&self, batch: &Batch, cached: bool) -> (StepCost, IterationTiming) {
        if batch.is_empty() {
            return (StepCost::default(), IterationTiming::default());
        }
        // Speculative decoding verifies `k` drafts with each decoding request's next token:
        // `k` more tokens per request through every layer and the LM head.
        let k = self.speculative_tokens as u64;
        let verified = k * batch.decode.requests as u64;
        let t = batch.tokens() + verified;
        let s = batch.sequences() as u64 + verified;
        let tok_part = |t: u64| {
            if cached {
                self.tokens.get(t, || self.token_part(t))
            } else {
                self.token_part(t)
            }
        };
        let seq_part = |s: u64| {
            if cached {
                self.seqs.get(s, || self.seq_part(s))
            } else {
                self.seq_part(s)
            }
        };
        let (mut tok, mut seq) = (tok_part(t), seq_part(s));
        let mut attn = self.attention(&batch.prefill, &batch.decode);
        // the batch's own attention, reused by the drafts when they run the same calls
        let whole = attn;
        if k > 0 && self.last {
            // The draft module, one of the stage's layers in kind: `k` runs on one token per
            // decoding request (with the LM head), and one over the prompt tokens (it keeps
            // its own KV for them).
            let layers = f64::from(self.layers.max(1));
            let r = batch.decode.requests as u64;
            if r > 0 {
                let drafts = k as f64 / layers;
                tok.add_scaled(&tok_part(r), drafts);
                seq.add_scaled(&seq_part(r), k as f64);
                let decode_attn = if batch.prefill.is_empty() {
                    whole
                } else {
                    self.attention(&[], &batch.decode)
                };
                attn.add_scaled(&decode_attn, drafts);
            }
            let prompt = batch.prefill_tokens();
            if prompt > 0 {
                let per_layer = 1.0 / layers;
                tok.add_scaled(&tok_part(prompt), per_layer);
                let prefill_attn = if batch.decode == DecodeGroup::default() {
                    whole
                } else {
                    self.attention(&batch.prefill, &DecodeGroup::default())
                };
                attn.add_scaled(&prefill_attn, per_layer);
            }
        }
        let Attn {
            time: attn,
            flops: attn_flops,
            bytes: attn_bytes,
            kernels: attn_kernels,
        } = attn;
        let graphed = self.cuda_graphs
            && ((batch.prefill.is_empty() && batch.decode.requests <= self.cuda_graph_max_batch)
                || (!batch.prefill.is_empty() && t <= self.cuda_graph_max_tokens as u64));
        let kernels = tok.kernels + seq.kernels + attn_kernels;
        let device = tok.gemm
            + seq.gemm
            + attn
            + tok.elementwise
            + seq.elementwise
            + tok.communication
            + seq.communication;
        let host = kernels
            * self
                .eager_op_host
                .unwrap_or_else(|| self.cost.kernel_launch_overhead());
        // A CUDA graph replays its kernels back to back, consecutive kernels overlapping
        // their launch, prologue and tail; an eager iteration waits for the host to issue
        // every op, and the slower of the two sides sets the pace.
        let wall = if graphed {
            graph_wall_time(device, kernels, self.cost.graph_kernel_overlap())
        } else {
            let p = self
                .eager_overlap_exponent
                .unwrap_or_else(|| self.cost.host_overlap_exponent());
            eager_wall_time(device, host, p)
        };
        // A replay hides part of the kernels' isolated times (wall < G): every kernel kind
        // keeps its share of the wall time. Eager iterations keep the isolated times and the
        // exposed host time (wall − G ≥ 0) is overhead. Either way no entry is negative and
        // the breakdown sums to the iteration time.
        let (scale, exposed) = if wall < device && device > 0.0 {
            (wall / device, 0.0)
        } else {
            (1.0, wall - device)
        };
        let overhead = exposed + self.cost.iteration_overhead();
        let breakdown = [
            scale * (tok.gemm + seq.gemm),
            scale * attn,
            scale * (tok.elementwise + seq.elementwise),
            scale * (tok.communication + seq.communication),
            overhead,
        ];
        let step = StepCost {
            seconds: breakdown.iter().sum(),
            breakdown,
            flops: tok.flops + seq.flops + attn_flops,
            bytes: tok.bytes + seq.bytes + attn_bytes,
        };
        let timing = IterationTiming {
            device_seconds: device,
            host_seconds: host,
            ops: kernels,
            cuda_graph: graphed,
            overlap_seconds: (device - wall).max(0.0),
        };
        (step, timing)
    }

    /// How `batch`'s iteration time arises: device time, host issue time, op count and
    /// whether it replays a CUDA graph (see the module docs).
    ///
    /// # Complexity
    /// As [`StageCost::step`] (uses the same caches).
    pub fn timing(&self, batch: &Batch) -> IterationTiming {
        self.compute_timed(batch, true).1
    }

    /// The step cost computed from scratch, bypassing the caches (for tests and checks; equal
    /// to [`StageCost::step`]).
    pub fn step_uncached(&self, batch: &Batch) -> StepCost {
        self.compute(batch, false)
    }
}

/// How one iteration's time arises on one stage ([`PlanStageCost::timing`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct IterationTiming {
    /// Summed device time of the iteration's kernels (GEMM, attention, elementwise,
    /// communication), seconds.
    pub device_seconds: f64,
    /// Host time to issue the iteration's ops eagerly (ops × the cost model's per-op host
    /// time), seconds; it counts only when the iteration runs eagerly.
    pub host_seconds: f64,
    /// Lowered ops (kernels) the iteration issues, attention calls included.
    pub ops: f64,
    /// Whether the iteration replays a CUDA graph.
    pub cuda_graph: bool,
    /// Device time the replay's consecutive kernels hide by overlapping, seconds
    /// ([`parallax_hw::cost::graph_wall_time`]); 0 for eager iterations.
    pub overlap_seconds: f64,
}

/// Whether a sparse MLA unit runs some of these prefill chunks in the absorbed form (their
/// context exceeds its `top_k`, as [`parallax_ir::lower::split_sparse_prefill`] lowers them).
#[inline]
fn has_long_sparse_chunk(unit: &AttnUnit, prefill: &[PrefillChunk]) -> bool {
    match unit.sparse_top_k {
        Some(k) if unit.mla.is_some() => prefill.iter().any(|c| beyond_top_k(c, k)),
        _ => false,
    }
}

/// The write of `tokens` new tokens' keys and values into one layer's paged KV cache
/// (vLLM's `reshape_and_cache`, a `copy_` in eager PyTorch): read from the projection's
/// output and written to the cache. Every engine runs it; the attention kernels that the
/// profiles time do not include it.
fn kv_cache_write(tokens: u64, kv_bytes_per_token: f64) -> Op {
    Op {
        name: "kv_cache_write",
        body: OpBody::Elementwise(Elementwise {
            kind: ElementwiseKind::Residual,
            bytes: 2.0 * tokens as f64 * kv_bytes_per_token,
            flops: 0.0,
        }),
    }
}

/// The prefill part of [`attention_call`] for a sparse MLA unit with long chunks: those run
/// in the absorbed form over `shape`, the others as dense MHA ([`MlaPrefill`]). Kept out of
/// line: the common path does not split.
#[cold]
#[inline(never)]
fn sparse_prefill_call(
    cost: &dyn CostModel,
    unit: &AttnUnit,
    prefill: &[PrefillChunk],
) -> (f64, f64, f64) {
    let (shape, none) = (&unit.shape, DecodeGroup::default());
    let (dense, long) = split_at_top_k(unit.sparse_top_k, prefill);
    let mut t = cost.prefill_attention(shape, &long);
    let mut f = shape.flops(&long, &none);
    let mut b = shape.bytes(&long, &none);
    if let (false, Some(m)) = (dense.is_empty(), &unit.mla) {
        t += cost.prefill_attention(&m.shape, &dense);
        f += m.shape.flops(&dense, &none);
        b += m.shape.bytes(&dense, &none);
        if let Some(g) = m.context_gemm(&dense) {
            t += cost.gemm(&g);
            f += g.flops();
            b += g.bytes();
        }
    }
    (t, f, b)
}

/// The kernel calls of one layer's attention ([`attention_call`]): one for the decode group
/// (with a sparse MLA layer's long prefill chunks, which run in the same absorbed kernel, or
/// one for those alone), one for the other prefill chunks, and a sparse layer's indexer once
/// per phase present.
fn attention_call_count(unit: &AttnUnit, prefill: &[PrefillChunk], decode: &DecodeGroup) -> f64 {
    let (p, d) = (!prefill.is_empty(), decode.requests > 0);
    let mut calls = u8::from(d);
    if unit.indexer.is_some() {
        calls += u8::from(p) + u8::from(d);
    }
    if p {
        if has_long_sparse_chunk(unit, prefill) {
            let k = unit.sparse_top_k.unwrap_or(u32::MAX);
            calls += u8::from(!d) + u8::from(prefill.iter().any(|c| !beyond_top_k(c, k)));
        } else {
            calls += 1;
        }
    }
    f64::from(calls)
}

/// One layer's attention over a batch: (seconds, flops, bytes); its kernel calls are
/// [`attention_call_count`]. MLA prefill chunks run in their multi-head form, with the
/// up-projection of their cached prefixes ([`MlaPrefill`]); a sparse layer's long chunks in
/// the absorbed form beside decode, and its indexer scores every cached token.
fn attention_call(
    cost: &dyn CostModel,
    unit: &AttnUnit,
    prefill: &[PrefillChunk],
    decode: &DecodeGroup,
) -> (f64, f64, f64) {
    let shape = &unit.shape;
    let (mut t, mut f, mut b) = (0.0, 0.0, 0.0);
    let none = DecodeGroup::default();
    if decode.requests > 0 {
        t += cost.decode_attention(shape, decode);
        f += shape.flops(&[], decode);
        b += shape.bytes(&[], decode);
    }
    if let Some(ix) = &unit.indexer {
        if !prefill.is_empty() {
            t += cost.prefill_attention(ix, prefill);
            f += ix.flops(prefill, &none);
            b += ix.bytes(prefill, &none);
        }
        if decode.requests > 0 {
            t += cost.decode_attention(ix, decode);
            f += ix.flops(&[], decode);
            b += ix.bytes(&[], decode);
        }
    }
    if prefill.is_empty() {
        return (t, f, b);
    }
    if has_long_sparse_chunk(unit, prefill) {
        let (lt, lf, lb) = sparse_prefill_call(cost, unit, prefill);
        return (t + lt, f + lf, b + lb);
    }
    let dense = prefill;
    if !dense.is_empty() {
        match &unit.mla {
            Some(m) => {
                t += cost.prefill_attention(&m.shape, dense);
                f += m.shape.flops(dense, &none);
                b += m.shape.bytes(dense, &none);
                if let Some(g) = m.context_gemm(dense) {
                    t += cost.gemm(&g);
                    f += g.flops();
                    b += g.bytes();
                }
            }
            None => {
                t += cost.prefill_attention(shape, dense);
                f += shape.flops(dense, &none);
                b += shape.bytes(dense, &none);
            }
        }
    }
    (t, f, b)
}

impl StageCost for PlanStageCost {
    fn step(&self, batch: &Batch) -> StepCost {
        self.compute(batch, true)
    }

    fn host_link(&self) -> Option<HostLink> {
        self.host_link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attention kernel calls per layer, as engines issue them: prefill and decode apart, a
    /// sparse layer's long prefill chunks in the absorbed kernel with decode, its indexer once
    /// per phase.
    #[test]
    fn attention_calls_per_layer() {
        let model = parallax_ir::resolve("deepseek-v3.2").unwrap();
        let gpu = parallax_hw::catalog::gpu("H200").unwrap();
        let cost = parallax_hw::RooflineModel::calibrated(&gpu);
        let p = &model.precision;
        let a = model
            .cells()
            .find_map(|(c, _)| match c {
                Cell::Attention(a) => Some(*a),
                _ => None,
            })
            .unwrap();
        let unit = |a: &parallax_ir::Attention| AttnUnit {
            shape: parallax_ir::lower::attention_shape(a, 8, p),
            mla: parallax_ir::lower::mla_prefill(a, 8, p),
            sparse_top_k: a.sparse.map(|s| s.top_k),
            indexer: parallax_ir::lower::indexer_shape(a),
            layers: 1.0,
        };
        let sparse = unit(&a);
        let dense = unit(&parallax_ir::Attention { sparse: None, ..a });
        let chunk = |new_tokens, prefix| PrefillChunk { new_tokens, prefix };
        let (short, long) = (chunk(512, 0), chunk(512, 4096));
        let decode = DecodeGroup::uniform(4, 30_000);
        let none = DecodeGroup::default();
        for (u, prefill, d, want) in [
            (&sparse, vec![], decode, 2.0),
            (&sparse, vec![short], none, 2.0),
            (&sparse, vec![long], none, 2.0),
            (&sparse, vec![long], decode, 3.0),
            (&sparse, vec![short, long], decode, 4.0),
            (&dense, vec![short, long], decode, 2.0),
            (&dense, vec![], decode, 1.0),
        ] {
            assert_eq!(
                attention_call_count(u, &prefill, &d),
                want,
                "{prefill:?} {d:?}"
            );
            let (t, f, b) = attention_call(&cost, u, &prefill, &d);
            assert!(t > 0.0 && f > 0.0 && b > 0.0);
        }
    }
}
