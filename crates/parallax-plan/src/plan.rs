//! The parallel plan of one deployment and its canonical string.
//!
//! A [`Plan`] is `dp` identical data-parallel replicas, each a pipeline of `pp` stages. Every
//! stage runs on `tp` devices (the *stage width*; or on its own width, [`Plan::stage_tp`],
//! every cell then at TP = that width) and holds a contiguous range of the model's layers. Inside a stage each cell kind has its own layout over the stage's devices:
//!
//! - attention: `replicas × tp` ([`CellLayout`]): tokens (whole sequences) are split across
//!   `replicas` groups, each group runs the cell with tensor parallelism `tp`. When `tp`
//!   exceeds the KV-head count, KV heads are replicated (the IR's sharding rule).
//! - dense MLP: `replicas × tp` likewise.
//! - MoE: `replicas × ep × tp` ([`MoeLayout`]): `replicas` whole copies of the MoE (every
//!   replica holds all experts; the stage's tokens are split between them, APEX+'s
//!   `SwiMoE=2xtp4`), each with its routed experts split over `ep` groups and each expert
//!   sharded `tp` ways inside its group. With tensor-parallel attention a replica's tokens
//!   stay on all of its devices and one all-reduce sums the experts' outputs; under
//!   data-parallel attention they are gathered to the expert groups and scattered back
//!   ([`Plan::moe_tokens_replicated`]), inside their replica.
//! - norms run in the layout of the cell they feed.
//!
//! Between consecutive cells of different token layouts the lowering inserts resharding
//! collectives over the stage (see [`crate::lower()`]).
//!
//! The canonical string (grammar in `crates/parallax-plan/PLAN-STRING.md`) is what `search`
//! prints and `simulate --plan` accepts back:
//!
//! ```
//! use parallax_plan::Plan;
//! let p: Plan = "dp=2,tp=4".parse().unwrap();
//! assert_eq!(p.to_string(), "dp=2,pp=1,tp=4");
//! let q: Plan = "pp=2,tp=8,layers=38+42,attn=2xtp4".parse().unwrap();
//! assert_eq!(q.to_string().parse::<Plan>().unwrap(), q);
//! ```

use crate::error::PlanError;
use parallax_ir::{Block, Cell, CellShard, Model};
use std::fmt;
use std::str::FromStr;

/// Layout of a dense cell kind (attention or MLP) over a stage's devices:
/// `replicas` groups of `tp` devices each; `replicas × tp` = stage width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellLayout {
    /// Groups that each run the cell on their share of the stage's sequences.
    pub replicas: u32,
    /// Tensor-parallel degree inside each group.
    pub tp: u32,
}

impl CellLayout {
    /// One group spanning `tp` devices.
    pub fn tp(tp: u32) -> Self {
        CellLayout { replicas: 1, tp }
    }

    /// Devices the layout spans.
    pub fn devices(&self) -> u32 {
        self.replicas.saturating_mul(self.tp)
    }
}

/// Layout of a mixture-of-experts cell over a stage's devices:
/// `replicas × ep × tp` = stage width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MoeLayout {
    /// Whole-MoE replicas: each holds every expert (in its own `ep × tp` layout) and runs the
    /// cell on its share of the stage's tokens; 1 = one MoE over the whole stage.
    pub replicas: u32,
    /// Expert-parallel degree inside a replica: routed experts are split over `ep` groups.
    pub ep: u32,
    /// Tensor-parallel degree of each expert inside its group.
    pub tp: u32,
}

impl MoeLayout {
    /// One MoE replica of `ep` expert groups of `tp` devices each.
    pub fn new(ep: u32, tp: u32) -> Self {
        MoeLayout {
            replicas: 1,
            ep,
            tp,
        }
    }

    /// Devices the layout spans (`replicas × ep × tp`).
    pub fn devices(&self) -> u32 {
        self.replicas
            .saturating_mul(self.ep)
            .saturating_mul(self.tp)
    }

    /// Token groups the stage's tokens are split between when every expert group holds only
    /// the tokens it dispatches (`replicas × ep`; see [`Plan::moe_tokens_replicated`]).
    pub fn token_groups(&self) -> u32 {
        self.replicas.saturating_mul(self.ep)
    }
}

/// A parallel plan: `dp` replicas × `pp` stages × `tp` devices per stage, with per-cell
/// layouts inside each stage. Build one with [`Plan::new`] and the `with_*` methods, or parse
/// its string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plan {
    /// Data-parallel replicas.
    pub dp: u32,
    /// Pipeline stages per replica.
    pub pp: u32,
    /// Devices per stage (the stage width; the TP degree of every cell kind not given its own
    /// layout).
    pub tp: u32,
    /// Layers of each stage, in order (sums to the model's layers); `None` = even split.
    pub layers: Option<Vec<u32>>,
    /// Attention layout.
    pub attn: CellLayout,
    /// Dense MLP layout.
    pub mlp: CellLayout,
    /// MoE layout.
    pub moe: MoeLayout,
    /// GPU kind of every stage on a heterogeneous cluster (`on=…`, canonical catalog names):
    /// one list per replica (or one for every replica), each with one kind per stage (or one
    /// for every stage). `None` = the cluster's first node group. See `PLAN-STRING.md`.
    pub on: Option<Vec<Vec<String>>>,
    /// Per-stage TP widths when the stages differ (`tp=a+b+…`, one width per stage, the
    /// same for every replica); `None` = every stage has `tp` devices. When set, `tp` is the
    /// widest stage's width and every cell of a stage runs at TP = that stage's width (the
    /// layouts are the defaults). Build with [`Plan::with_stage_tp`]; see `PLAN-STRING.md`.
    pub stage_tp: Option<Vec<u32>>,
}

/// Where one cell of a block runs: its shard and how many token groups split the stage's
/// sequences between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CellPlacement {
    /// Tensor/expert sharding of the cell inside one group.
    pub shard: CellShard,
    /// Token groups splitting the stage's sequences (1 = every device sees every token):
    /// `R` for a dense layout `RxtpT`; for a MoE its replicas `R` when their tokens stay
    /// replicated on every device of a replica ([`Plan::moe_tokens_replicated`]), else `R × ep`
    /// (each replica split into its `ep` groups, each group holding the tokens it dispatches).
    /// Either way the IR's MoE lowering divides the routed work of one replica by `ep`.
    pub replicas: u32,
}

/// The part of one [`parallax_ir::BlockRun`] that a stage holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index of the run in `model.runs`.
    pub run: usize,
    /// Whole blocks of that run in the stage.
    pub blocks: u32,
}

/// A pipeline stage resolved against a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSpec {
    /// Stage index (0-based).
    pub index: usize,
    /// First layer (0-based, inclusive).
    pub first_layer: u32,
    /// One past the last layer.
    pub end_layer: u32,
    /// The blocks held, run by run.
    pub segments: Vec<Segment>,
}

impl StageSpec {
    /// Layers in the stage.
    pub fn layers(&self) -> u32 {
        self.end_layer - self.first_layer
    }
}

impl Plan {
    /// `dp` replicas × `pp` stages (even split) × `tp`-way tensor parallelism for every cell.
    ///
    /// Degrees of 0 are rejected by [`Plan::check_shape`] (and by every function that takes a
    /// plan), never silently raised.
    pub fn new(dp: u32, pp: u32, tp: u32) -> Self {
        Plan {
            dp,
            pp,
            tp,
            layers: None,
            attn: CellLayout::tp(tp),
            mlp: CellLayout::tp(tp),
            moe: MoeLayout::new(1, tp),
            on: None,
            stage_tp: None,
        }
    }

    /// Per-stage TP widths (one per stage, every replica alike): every cell of stage `s`
    /// runs at TP = `widths[s]` and the cell layouts are reset to the defaults. Widths that
    /// are all equal collapse to the plain `tp` (no per-stage list).
    pub fn with_stage_tp(mut self, widths: Vec<u32>) -> Self {
        let w = widths.iter().copied().max().unwrap_or(self.tp);
        self.tp = w;
        self.attn = CellLayout::tp(w);
        self.mlp = CellLayout::tp(w);
        self.moe = MoeLayout::new(1, w);
        self.stage_tp =
            (widths.len() > 1 && widths.iter().any(|&x| x != widths[0])).then_some(widths);
        self
    }

    /// Devices (TP width) of stage `stage`: its entry of [`Plan::stage_tp`], else `tp`.
    pub fn stage_width(&self, stage: usize) -> u32 {
        match &self.stage_tp {
            Some(w) => w.get(stage).copied().unwrap_or(self.tp),
            None => self.tp,
        }
    }

    /// The plan as stage `stage` sees it: for a plan with per-stage widths, the same plan
    /// with `tp` = that stage's width and default layouts (no per-stage list); otherwise the
    /// plan itself. Per-stage code (memory, lowering, shard checks) reads `tp`, the layouts
    /// and [`Plan::placement`] from it.
    pub(crate) fn stage_plan(&self, stage: usize) -> std::borrow::Cow<'_, Plan> {
        match &self.stage_tp {
            None => std::borrow::Cow::Borrowed(self),
            Some(_) => {
                let w = self.stage_width(stage);
                std::borrow::Cow::Owned(Plan {
                    tp: w,
                    attn: CellLayout::tp(w),
                    mlp: CellLayout::tp(w),
                    moe: MoeLayout::new(1, w),
                    stage_tp: None,
                    ..self.clone()
                })
            }
        }
    }

    /// GPU kinds of the stages (see [`Plan::on`]); the lists are normalised (a list whose
    /// entries are all equal collapses to one entry).
    pub fn with_on(mut self, on: Vec<Vec<String>>) -> Self {
        self.on = Some(normalize_on(on));
        self
    }

    /// The GPU kind written for `stage` of `replica`, or `None` when the plan names none.
    pub fn stage_gpu(&self, replica: usize, stage: usize) -> Option<&str> {
        let on = self.on.as_ref()?;
        let row = if on.len() == 1 {
            &on[0]
        } else {
            on.get(replica)?
        };
        let k = if row.len() == 1 {
            &row[0]
        } else {
            row.get(stage)?
        };
        Some(k.as_str())
    }

    /// Explicit per-stage layer counts.
    pub fn with_layers(mut self, layers: Vec<u32>) -> Self {
        self.layers = Some(layers);
        self
    }

    /// Attention as `replicas` groups of `tp` devices.
    pub fn with_attn(mut self, replicas: u32, tp: u32) -> Self {
        self.attn = CellLayout { replicas, tp };
        self
    }

    /// Dense MLP as `replicas` groups of `tp` devices.
    pub fn with_mlp(mut self, replicas: u32, tp: u32) -> Self {
        self.mlp = CellLayout { replicas, tp };
        self
    }

    /// MoE as `ep` expert groups of `tp` devices.
    pub fn with_moe(mut self, ep: u32, tp: u32) -> Self {
        self.moe = MoeLayout::new(ep, tp);
        self
    }

    /// MoE as `replicas` whole-MoE replicas of `ep` expert groups of `tp` devices each.
    pub fn with_moe_replicas(mut self, replicas: u32, ep: u32, tp: u32) -> Self {
        self.moe = MoeLayout { replicas, ep, tp };
        self
    }

    /// Devices the plan occupies (`dp × pp × tp`; `dp ×` the sum of the stage widths with
    /// per-stage widths).
    pub fn devices(&self) -> u32 {
        self.dp.saturating_mul(self.replica_devices())
    }

    /// Devices of one replica (`pp × tp`, or the sum of the per-stage widths).
    pub fn replica_devices(&self) -> u32 {
        match &self.stage_tp {
            Some(w) => w.iter().fold(0u32, |a, &x| a.saturating_add(x)),
            None => self.pp.saturating_mul(self.tp),
        }
    }

    /// True when the plan uses expert parallelism.
    pub fn uses_ep(&self) -> bool {
        self.moe.ep > 1
    }

    /// Model-independent consistency: degrees ≥ 1, every layout spans exactly the stage width,
    /// `layers` (if given) has `pp` non-zero entries.
    ///
    /// # Errors
    /// [`PlanError::Inconsistent`] naming the field.
    pub fn check_shape(&self) -> Result<(), PlanError> {
        for (name, v) in [("dp", self.dp), ("pp", self.pp), ("tp", self.tp)] {
            if v == 0 {
                return Err(PlanError::inconsistent(self, name, "must be at least 1"));
            }
        }
        if let Some(w) = &self.stage_tp {
            if w.len() != self.pp as usize {
                return Err(PlanError::inconsistent(
                    self,
                    "tp",
                    format!("{} stage widths given but pp={}", w.len(), self.pp),
                ));
            }
            if w.contains(&0) {
                return Err(PlanError::inconsistent(
                    self,
                    "tp",
                    "every stage width must be at least 1",
                ));
            }
            if w.iter().copied().max() != Some(self.tp) {
                return Err(PlanError::inconsistent(
                    self,
                    "tp",
                    format!("tp={} must be the widest of the stage widths", self.tp),
                ));
            }
            if self.attn != CellLayout::tp(self.tp)
                || self.mlp != CellLayout::tp(self.tp)
                || self.moe != MoeLayout::new(1, self.tp)
            {
                return Err(PlanError::inconsistent(
                    self,
                    "tp",
                    "per-stage widths run every cell at TP = its stage's width: `attn`, `mlp`, \
                     `moe` and `ep` layouts are for plans with one stage width",
                ));
            }
        }
        let max = parallax_hw::MAX_CLUSTER_GPUS as u64;
        let total = match &self.stage_tp {
            Some(w) => self.dp as u64 * w.iter().map(|&x| x as u64).sum::<u64>(),
            None => self.dp as u64 * self.pp as u64 * self.tp as u64,
        };
        if total > max {
            return Err(PlanError::inconsistent(
                self,
                "dp x pp x tp",
                format!("spans {total} devices; the largest cluster has {max}"),
            ));
        }
        for (name, l) in [("attn", self.attn), ("mlp", self.mlp)] {
            if l.replicas == 0 || l.tp == 0 {
                return Err(PlanError::inconsistent(
                    self,
                    name,
                    "replicas and tp must be at least 1",
                ));
            }
            if l.replicas as u64 * l.tp as u64 != self.tp as u64 {
                return Err(PlanError::inconsistent(
                    self,
                    name,
                    format!(
                        "{}x tp{} spans {} devices but the stage has tp={} devices",
                        l.replicas,
                        l.tp,
                        l.replicas as u64 * l.tp as u64,
                        self.tp
                    ),
                ));
            }
        }
        if self.moe.replicas == 0 || self.moe.ep == 0 || self.moe.tp == 0 {
            return Err(PlanError::inconsistent(
                self,
                "moe",
                "replicas, ep and tp must be at least 1",
            ));
        }
        let moe_devices = self.moe.replicas as u64 * self.moe.ep as u64 * self.moe.tp as u64;
        if moe_devices != self.tp as u64 {
            return Err(PlanError::inconsistent(
                self,
                "moe",
                format!(
                    "{} spans {moe_devices} devices but the stage has tp={} devices",
                    self.moe, self.tp
                ),
            ));
        }
        if let Some(layers) = &self.layers {
            if layers.len() != self.pp as usize {
                return Err(PlanError::inconsistent(
                    self,
                    "layers",
                    format!("{} stage sizes given but pp={}", layers.len(), self.pp),
                ));
            }
            if layers.contains(&0) {
                return Err(PlanError::inconsistent(
                    self,
                    "layers",
                    "every stage needs at least one layer",
                ));
            }
        }
        if let Some(on) = &self.on {
            if on.is_empty() || (on.len() != 1 && on.len() != self.dp as usize) {
                return Err(PlanError::inconsistent(
                    self,
                    "on",
                    format!(
                        "{} replica lists given (separated by `/`) but dp={}: give one for \
                         every replica or one for all",
                        on.len(),
                        self.dp
                    ),
                ));
            }
            if let Some(row) = on
                .iter()
                .find(|r| r.is_empty() || (r.len() != 1 && r.len() != self.pp as usize))
            {
                return Err(PlanError::inconsistent(
                    self,
                    "on",
                    format!(
                        "{} stage kinds given (`{}`) but pp={}: give one for every stage or \
                         one for all",
                        row.len(),
                        row.join("+"),
                        self.pp
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether a MoE layer under expert parallelism keeps its tokens replicated on every device
    /// of its replica (`ep > 1` and no attention layout finer than the MoE's replicas: every
    /// attention group feeds whole MoE replicas). Serving engines run such a layer as their
    /// default paths do with tensor-parallel attention (vLLM's `--enable-expert-parallel`,
    /// SGLang's `--ep` without a `--moe-a2a-backend`, TensorRT-LLM without attention DP):
    /// every device routes all of its replica's tokens, runs its local experts on those routed
    /// to them, and one all-reduce over the replica's `ep × tp` devices sums the experts' and
    /// the shared experts' partial outputs (the shared experts sharded over all of those
    /// devices). Otherwise (attention data parallel, `attn=RxtpT` with R finer than the MoE
    /// replicas) each expert group holds only the tokens it dispatches (`replicas × ep` token
    /// groups), gathered to every expert group and scattered back (or dispatched all-to-all:
    /// [`crate::LowerOptions::moe_all_to_all`]).
    pub fn moe_tokens_replicated(&self) -> bool {
        self.moe.ep > 1 && self.moe.replicas % self.attn.replicas.max(1) == 0
    }

    /// Where `block.cells[index]` runs under this plan. Norms take the layout of the next
    /// non-norm cell of the block (the cell they feed), or of the previous one at the end.
    pub fn placement(&self, block: &Block, index: usize) -> CellPlacement {
        let cell = &block.cells[index];
        let target = match cell {
            Cell::Norm(_) => block.cells[index..]
                .iter()
                .chain(block.cells[..index].iter().rev())
                .find(|c| !matches!(c, Cell::Norm(_))),
            other => Some(other),
        };
        let mut pl = match target {
            Some(Cell::Attention(_)) => CellPlacement {
                shard: CellShard::tp(self.attn.tp),
                replicas: self.attn.replicas,
            },
            Some(Cell::Mlp(_)) => CellPlacement {
                shard: CellShard::tp(self.mlp.tp),
                replicas: self.mlp.replicas,
            },
            Some(Cell::Moe(_)) => CellPlacement {
                shard: CellShard {
                    tp: self.moe.tp,
                    ep: self.moe.ep,
                },
                replicas: if self.moe_tokens_replicated() {
                    self.moe.replicas
                } else {
                    self.moe.token_groups()
                },
            },
            Some(Cell::Norm(_)) | None => CellPlacement {
                shard: CellShard::tp(self.tp),
                replicas: 1,
            },
        };
        if matches!(cell, Cell::Norm(_)) {
            // A norm is replicated: it only follows the token split of the cell it feeds.
            pl.shard.ep = 1;
        }
        pl
    }

    /// Resolve the pipeline stages against `model`: layer ranges (explicit, or the even split)
    /// and the blocks each stage holds.
    ///
    /// Even split: boundary `i` is the block boundary nearest to `i·L/pp` (ties to the lower),
    /// moved forward when needed so that every stage is non-empty.
    ///
    /// # Complexity
    /// O(pp × runs), independent of depth.
    ///
    /// # Errors
    /// [`PlanError::Inconsistent`] when explicit layers do not sum to the model's layers, a
    /// boundary falls inside a multi-layer block, or `pp` exceeds the number of blocks.
    pub fn stages(&self, model: &Model) -> Result<Vec<StageSpec>, PlanError> {
        self.check_shape()?;
        let geo = Geometry::new(model);
        let total = geo.total_layers;
        let mut bounds = Vec::with_capacity(self.pp as usize + 1);
        bounds.push(0u32);
        match &self.layers {
            Some(layers) => {
                let sum: u64 = layers.iter().map(|&l| l as u64).sum();
                if sum != total as u64 {
                    return Err(PlanError::inconsistent(
                        self,
                        "layers",
                        format!(
                            "stage sizes sum to {sum} but model `{}` has {total} layers",
                            model.name
                        ),
                    ));
                }
                let mut acc = 0u32;
                for &l in layers {
                    acc += l;
                    if !geo.is_boundary(acc) {
                        return Err(PlanError::inconsistent(
                            self,
                            "layers",
                            format!(
                                "a stage boundary after layer {acc} falls inside a block of \
                                 {} layers; boundaries must fall on block boundaries",
                                geo.block_layers_at(acc)
                            ),
                        ));
                    }
                    bounds.push(acc);
                }
            }
            None => {
                if geo.blocks_total < self.pp as u64 {
                    return Err(PlanError::inconsistent(
                        self,
                        "pp",
                        format!(
                            "pp={} exceeds the {} blocks of model `{}` (stages hold whole blocks)",
                            self.pp, geo.blocks_total, model.name
                        ),
                    ));
                }
                for i in 1..self.pp {
                    let target = i as f64 * total as f64 / self.pp as f64;
                    let prev = *bounds.last().unwrap_or(&0);
                    let mut b = geo.nearest_boundary(target);
                    if b <= prev {
                        b = geo.next_boundary(prev);
                    }
                    bounds.push(b);
                }
                bounds.push(total);
                if bounds.windows(2).any(|w| w[1] <= w[0]) {
                    return Err(PlanError::inconsistent(
                        self,
                        "pp",
                        format!(
                            "cannot split the {} blocks of model `{}` into {} non-empty stages",
                            geo.blocks_total, model.name, self.pp
                        ),
                    ));
                }
            }
        }
        Ok(bounds
            .windows(2)
            .enumerate()
            .map(|(index, w)| StageSpec {
                index,
                first_layer: w[0],
                end_layer: w[1],
                segments: geo.segments(w[0], w[1]),
            })
            .collect())
    }
}

/// Layer geometry of a model's runs (helper for stage splits).
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    /// (first layer, layers per block, blocks) of each run.
    runs: Vec<(u32, u32, u32)>,
    pub(crate) total_layers: u32,
    pub(crate) blocks_total: u64,
}

impl Geometry {
    pub(crate) fn new(model: &Model) -> Self {
        let mut runs = Vec::with_capacity(model.runs.len());
        let mut start = 0u32;
        let mut blocks_total = 0u64;
        for r in &model.runs {
            let per = r.block.layers();
            if per == 0 || r.repeat == 0 {
                // A run without layers holds no stage boundary; it is attached to its
                // neighbours by `segments` through its zero width.
                runs.push((start, per, r.repeat));
                continue;
            }
            runs.push((start, per, r.repeat));
            start += per * r.repeat;
            blocks_total += r.repeat as u64;
        }
        Geometry {
            runs,
            total_layers: start,
            blocks_total,
        }
    }

    /// `(first layer, layers per block, blocks)` of each run, in order.
    pub(crate) fn runs(&self) -> &[(u32, u32, u32)] {
        &self.runs
    }

    fn is_boundary(&self, layer: u32) -> bool {
        if layer == 0 || layer == self.total_layers {
            return true;
        }
        self.runs.iter().any(|&(s, per, n)| {
            per > 0 && layer >= s && layer <= s + per * n && (layer - s) % per == 0
        })
    }

    fn block_layers_at(&self, layer: u32) -> u32 {
        self.runs
            .iter()
            .find(|&&(s, per, n)| per > 0 && layer >= s && layer < s + per * n)
            .map(|r| r.1)
            .unwrap_or(1)
    }

    /// Nearest block boundary to `target` (ties to the lower).
    pub(crate) fn nearest_boundary(&self, target: f64) -> u32 {
        let mut best = 0u32;
        let mut best_d = f64::INFINITY;
        let mut consider = |b: u32| {
            let d = (b as f64 - target).abs();
            if d < best_d - 1e-9 || ((d - best_d).abs() <= 1e-9 && b < best) {
                best = b;
                best_d = d;
            }
        };
        consider(self.total_layers);
        for &(s, per, n) in &self.runs {
            if per == 0 || n == 0 {
                continue;
            }
            let end = s + per * n;
            let t = target.clamp(s as f64, end as f64);
            let k = ((t - s as f64) / per as f64).floor() as u32;
            consider(s + per * k.min(n));
            consider(s + per * (k + 1).min(n));
        }
        best
    }

    /// Smallest block boundary strictly after `layer`.
    pub(crate) fn next_boundary(&self, layer: u32) -> u32 {
        for &(s, per, n) in &self.runs {
            if per == 0 || n == 0 {
                continue;
            }
            let end = s + per * n;
            if layer < end {
                if layer < s {
                    return s + per;
                }
                let k = (layer - s) / per + 1;
                return s + per * k;
            }
        }
        self.total_layers + 1
    }

    /// Blocks held by the stage `[first, end)`, run by run.
    fn segments(&self, first: u32, end: u32) -> Vec<Segment> {
        let mut out = Vec::new();
        for (run, &(s, per, n)) in self.runs.iter().enumerate() {
            if per == 0 {
                continue;
            }
            let e = s + per * n;
            let lo = first.max(s);
            let hi = end.min(e);
            if hi > lo {
                out.push(Segment {
                    run,
                    blocks: (hi - lo) / per,
                });
            }
        }
        out
    }
}

impl fmt::Display for CellLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}xtp{}", self.replicas, self.tp)
    }
}

impl fmt::Display for MoeLayout {
    /// `epExtpT`, or `RxepExtpT` with `R > 1` replicas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.replicas != 1 {
            write!(f, "{}x", self.replicas)?;
        }
        write!(f, "ep{}xtp{}", self.ep, self.tp)
    }
}

impl fmt::Display for Plan {
    /// The canonical form: `dp=D,pp=P,tp=W` (`tp=a+b+…` with per-stage widths) then, only
    /// when they differ from the defaults,
    /// `layers=a+b+…`, `attn=RxtpT`, `mlp=RxtpT`, `moe=epExtpT`, in that order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dp={},pp={},tp=", self.dp, self.pp)?;
        match &self.stage_tp {
            Some(w) => {
                for (i, x) in w.iter().enumerate() {
                    if i > 0 {
                        f.write_str("+")?;
                    }
                    write!(f, "{x}")?;
                }
            }
            None => write!(f, "{}", self.tp)?,
        }
        if let Some(layers) = &self.layers {
            f.write_str(",layers=")?;
            for (i, l) in layers.iter().enumerate() {
                if i > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{l}")?;
            }
        }
        if self.attn != CellLayout::tp(self.tp) {
            write!(f, ",attn={}", self.attn)?;
        }
        if self.mlp != CellLayout::tp(self.tp) {
            write!(f, ",mlp={}", self.mlp)?;
        }
        if self.moe != MoeLayout::new(1, self.tp) {
            write!(f, ",moe={}", self.moe)?;
        }
        if let Some(on) = &self.on {
            f.write_str(",on=")?;
            for (i, row) in on.iter().enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                f.write_str(&row.join("+"))?;
            }
        }
        Ok(())
    }
}

fn parse_err(input: &str, token: &str, expected: &str) -> PlanError {
    PlanError::Parse {
        input: input.to_string(),
        token: token.to_string(),
        expected: expected.to_string(),
    }
}

fn parse_degree(input: &str, token: &str, digits: &str) -> Result<u32, PlanError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        // `dp=2;tp=4`, `dp=2 tp=4`: another separator than the comma
        let hint = if digits.contains(|c: char| c == ';' || c.is_whitespace()) {
            " (settings are separated by commas, `dp=2,tp=4`; in a CSV file quote the plan: \
             \"dp=2,tp=4\")"
        } else {
            ""
        };
        return Err(parse_err(
            input,
            token,
            &format!("a positive integer{hint}"),
        ));
    }
    let max = parallax_hw::MAX_CLUSTER_GPUS;
    match digits.parse::<u32>() {
        Ok(0) => Err(parse_err(input, token, "a positive integer (at least 1)")),
        Ok(v) if v <= max => Ok(v),
        _ => Err(parse_err(
            input,
            token,
            &format!("a degree of at most {max} (the largest cluster)"),
        )),
    }
}

/// `RxtpT` or `tpT`.
fn parse_layout(input: &str, token: &str, v: &str) -> Result<CellLayout, PlanError> {
    const EXP: &str = "a layout `RxtpT` (R replicas of TP T) or `tpT`";
    let (r, t) = match v.split_once('x') {
        Some((r, t)) => (parse_degree(input, token, r)?, t),
        None => (1, v),
    };
    let t = t
        .strip_prefix("tp")
        .ok_or_else(|| parse_err(input, token, EXP))?;
    Ok(CellLayout {
        replicas: r,
        tp: parse_degree(input, token, t)?,
    })
}

/// `[Rx]epExtpT`, `[Rx]epE` or `[Rx]tpT` (`R` whole-MoE replicas, default 1).
fn parse_moe(input: &str, token: &str, v: &str) -> Result<MoeLayout, PlanError> {
    const EXP: &str = "a MoE layout `epExtpT`, `epE` or `tpT`, optionally prefixed by `Rx` \
                       (R whole-MoE replicas), e.g. `2xep1xtp4`";
    let mut parts = v.split('x').map(str::trim).peekable();
    let mut replicas = 1;
    if let Some(first) = parts.peek() {
        if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            replicas = parse_degree(input, token, first)?;
            parts.next();
        }
    }
    let mut ep = None;
    let mut tp = None;
    for part in parts {
        if let Some(d) = part.strip_prefix("ep") {
            if ep.is_some() || tp.is_some() {
                return Err(parse_err(input, token, EXP));
            }
            ep = Some(parse_degree(input, token, d)?);
        } else if let Some(d) = part.strip_prefix("tp") {
            if tp.is_some() {
                return Err(parse_err(input, token, EXP));
            }
            tp = Some(parse_degree(input, token, d)?);
        } else {
            return Err(parse_err(input, token, EXP));
        }
    }
    if ep.is_none() && tp.is_none() {
        return Err(parse_err(input, token, EXP));
    }
    // `epE` alone: tp is filled in from the stage width by the caller (marked by 0).
    Ok(MoeLayout {
        replicas,
        ep: ep.unwrap_or(1),
        tp: tp.unwrap_or(0),
    })
}

/// `K`, `K1+K2+…` per stage, replicas separated by `/`; each `K` a catalogued GPU, stored
/// under its canonical name.
fn parse_on(input: &str, token: &str, v: &str) -> Result<Vec<Vec<String>>, PlanError> {
    let mut out = Vec::new();
    for row in v.split('/') {
        let mut kinds = Vec::new();
        for k in row.split('+') {
            let k = k.trim();
            let gpu = parallax_hw::catalog::gpu(k).map_err(|_| {
                parse_err(
                    input,
                    token,
                    &format!(
                        "GPU kinds from the catalog (`parallax gpus`), `+` between stages and \
                         `/` between replicas; `{k}` is not one"
                    ),
                )
            })?;
            kinds.push(gpu.name);
        }
        out.push(kinds);
    }
    Ok(normalize_on(out))
}

/// Collapse lists whose entries are all equal to one entry (replicas, then each row's stages).
fn normalize_on(on: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let collapse_row = |mut r: Vec<String>| {
        if r.len() > 1 && r.iter().all(|k| *k == r[0]) {
            r.truncate(1);
        }
        r
    };
    let mut rows: Vec<Vec<String>> = on.into_iter().map(collapse_row).collect();
    if rows.len() > 1 && rows.iter().all(|r| *r == rows[0]) {
        rows.truncate(1);
    }
    rows
}

impl FromStr for Plan {
    type Err = PlanError;

    /// Parse a plan string; see `PLAN-STRING.md` for the grammar. Keys are case-insensitive
    /// and may come in any order, each at most once.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        if input.is_empty() {
            return Err(parse_err(
                s,
                "",
                "a plan such as `tp=8` or `dp=2,pp=2,tp=4`",
            ));
        }
        let lower = input.to_ascii_lowercase();
        let mut dp = None;
        let mut pp = None;
        let mut tp = None;
        let mut stage_tp: Option<Vec<u32>> = None;
        let mut tp_widths = 1usize;
        let mut ep = None;
        let mut layers: Option<Vec<u32>> = None;
        let mut attn = None;
        let mut mlp = None;
        let mut moe = None;
        let mut on: Option<Vec<Vec<String>>> = None;
        for token in lower.split(',') {
            let token = token.trim();
            let (key, value) = token.split_once('=').ok_or_else(|| {
                parse_err(
                    input,
                    token,
                    "`key=value` with key one of dp, pp, tp, ep, layers, attn, mlp, moe, on",
                )
            })?;
            let (key, value) = (key.trim(), value.trim());
            let dup = |set: bool| {
                if set {
                    Err(parse_err(input, token, "each key at most once"))
                } else {
                    Ok(())
                }
            };
            match key {
                "dp" => {
                    dup(dp.is_some())?;
                    dp = Some(parse_degree(input, token, value)?);
                }
                "pp" => {
                    dup(pp.is_some())?;
                    pp = Some(parse_degree(input, token, value)?);
                }
                "tp" => {
                    dup(tp.is_some())?;
                    // `tp=W`, or per-stage widths `tp=a+b+…` (all equal collapse to one).
                    let v = value
                        .split('+')
                        .map(|p| parse_degree(input, token, p.trim()))
                        .collect::<Result<Vec<_>, _>>()?;
                    tp = v.iter().copied().max();
                    tp_widths = v.len();
                    if v.iter().any(|&x| x != v[0]) {
                        stage_tp = Some(v);
                    }
                }
                "ep" => {
                    dup(ep.is_some())?;
                    ep = Some(parse_degree(input, token, value)?);
                }
                "layers" => {
                    dup(layers.is_some())?;
                    let v = value
                        .split('+')
                        .map(|p| parse_degree(input, token, p.trim()))
                        .collect::<Result<Vec<_>, _>>()?;
                    layers = Some(v);
                }
                "attn" => {
                    dup(attn.is_some())?;
                    attn = Some(parse_layout(input, token, value)?);
                }
                "mlp" => {
                    dup(mlp.is_some())?;
                    mlp = Some(parse_layout(input, token, value)?);
                }
                "moe" => {
                    dup(moe.is_some())?;
                    moe = Some(parse_moe(input, token, value)?);
                }
                "on" => {
                    dup(on.is_some())?;
                    on = Some(parse_on(input, token, value)?);
                }
                _ => {
                    return Err(parse_err(
                        input,
                        token,
                        "a key among dp, pp, tp, ep, layers, attn, mlp, moe, on",
                    ))
                }
            }
        }
        if ep.is_some() && moe.is_some() {
            return Err(parse_err(
                input,
                "ep",
                "either `ep=E` or `moe=...`, not both",
            ));
        }
        let stages = pp.unwrap_or(1) as usize;
        if tp_widths > 1 && tp_widths != stages {
            // Also when the widths are equal (`pp=3,tp=8+8`): one width per stage.
            return Err(PlanError::inconsistent(
                input,
                "tp",
                format!("{tp_widths} stage widths given but pp={stages}"),
            ));
        }
        if stage_tp.is_some() && (ep.is_some() || attn.is_some() || mlp.is_some() || moe.is_some())
        {
            return Err(PlanError::inconsistent(
                input,
                "tp",
                "per-stage widths `tp=a+b+…` run every cell at TP = its stage's width: give \
                 no `ep`, `attn`, `mlp` or `moe` with them",
            ));
        }
        // Stage width: tp, else ep, else the first explicit layout.
        let width = tp
            .or(ep)
            .or(attn.map(|l| l.devices()))
            .or(mlp.map(|l| l.devices()))
            .or(moe.and_then(|m| (m.tp > 0).then(|| m.devices())))
            .or(moe.map(|m| m.token_groups()))
            .unwrap_or(1);
        let moe = match (ep, moe) {
            (Some(e), _) => {
                if width % e != 0 {
                    return Err(PlanError::inconsistent(
                        input,
                        "ep",
                        format!("ep={e} must divide the stage width tp={width}"),
                    ));
                }
                MoeLayout::new(e, width / e)
            }
            (None, Some(m)) if m.tp == 0 => {
                let groups = m.token_groups();
                if width % groups != 0 {
                    return Err(PlanError::inconsistent(
                        input,
                        "moe",
                        format!(
                            "{}ep{} must divide the stage width tp={width}",
                            if m.replicas > 1 {
                                format!("{}x", m.replicas)
                            } else {
                                String::new()
                            },
                            m.ep
                        ),
                    ));
                }
                MoeLayout {
                    tp: width / groups,
                    ..m
                }
            }
            (None, Some(m)) => m,
            (None, None) => MoeLayout::new(1, width),
        };
        let plan = Plan {
            dp: dp.unwrap_or(1),
            pp: pp.unwrap_or(1),
            tp: width,
            layers,
            attn: attn.unwrap_or(CellLayout::tp(width)),
            mlp: mlp.unwrap_or(CellLayout::tp(width)),
            moe,
            on,
            stage_tp,
        };
        plan.check_shape().map_err(|e| match e {
            PlanError::Inconsistent { field, reason, .. } => PlanError::Inconsistent {
                plan: input.to_string(),
                field,
                reason,
            },
            other => other,
        })?;
        Ok(plan)
    }
}

impl serde::Serialize for Plan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Plan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
