//! MoE routing skew in plan lowering: which [`ExpertLoad`] each MoE cell's routed experts see,
//! and EPLB's redundant replicas. With a skew set, each MoE cell's fused expert op is the
//! **slowest** EP rank's under the cost model (each rank's op from
//! [`parallax_ir::routing::fused_moe_op_on_rank`]): the layer waits for it. Compute-bound
//! batches wait for the rank with the most pairs (the busiest); weight-bound decode batches
//! may wait for a rank with more distinct experts active. Unset (the default) lowers exactly as a balanced router.

use crate::error::PlanError;
use crate::plan::Plan;
use parallax_hw::CostModel;
use parallax_ir::routing::{fused_moe_op_on_rank, ExpertLoad};
use parallax_ir::{Cell, CellShard, FusedMoe, Model, Op, OpBody};
use std::sync::Arc;

/// How routed tokens fall on a MoE layer's experts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MoeRouting {
    /// Zipf popularity with this exponent (> 0 skews; 0 is balanced), popularity ranks placed
    /// on expert ids by a shuffle seeded with `seed` ([`ExpertLoad::zipf`]).
    Zipf {
        /// Zipf exponent `s`.
        exponent: f64,
        /// Shuffle seed.
        seed: u64,
    },
    /// A measured per-expert load vector (one entry per routed expert of the model's MoE
    /// layers). `'static` keeps [`crate::LowerOptions`] `Copy`: a program that reads it from
    /// a file leaks it once (`Box::leak`).
    Measured(&'static ExpertLoad),
}

/// A routing skew plus EPLB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoeLoad {
    /// The per-expert load model.
    pub routing: MoeRouting,
    /// EPLB redundant expert replicas per MoE layer (vLLM's `num_redundant_experts`), placed
    /// on the busiest ranks; 0: no EPLB.
    pub redundant: u32,
}

impl MoeLoad {
    /// The redundant experts a MoE layer placed over `ep` EP ranks holds: [`Self::redundant`]
    /// with expert parallelism, none without (one rank holds every expert: nothing to
    /// balance; vLLM's EPLB needs expert parallelism too).
    pub fn redundant_on(&self, ep: u32) -> u32 {
        if ep > 1 {
            self.redundant
        } else {
            0
        }
    }

    /// Add the weights of EPLB's redundant experts to each stage's per-device weights in
    /// `memory` (one replica's report of `plan`): every EP rank of a MoE layer holds
    /// `redundant / ep` extra experts, each its gate/up and down projections over the cell's
    /// expert tensor-parallel degree, in the model's weight type. No redundant experts, or a
    /// layer without expert parallelism (ep = 1: one rank, nothing to balance, no replica):
    /// no change.
    ///
    /// # Errors
    /// As [`Plan::stages`].
    pub fn add_eplb_weights(
        &self,
        model: &Model,
        plan: &Plan,
        memory: &mut crate::memory::MemoryReport,
    ) -> Result<(), PlanError> {
        if self.redundant == 0 {
            return Ok(());
        }
        let wb = model.precision.expert_weights().bytes();
        for spec in plan.stages(model)? {
            let mut extra = 0.0;
            for seg in &spec.segments {
                let block = &model.runs[seg.run].block;
                for (i, cell) in block.cells.iter().enumerate() {
                    if let Cell::Moe(m) = cell {
                        let shard = plan.placement(block, i).shard;
                        let per_rank = self.redundant_on(shard.ep) as f64 / shard.ep.max(1) as f64;
                        let up = if m.gated { 2.0 } else { 1.0 };
                        let expert =
                            (up + 1.0) * m.hidden as f64 * m.expert_intermediate as f64 * wb
                                / shard.tp.max(1) as f64;
                        extra += seg.blocks as f64 * per_rank * expert;
                    }
                }
            }
            if let Some(s) = memory.stages.get_mut(spec.index) {
                s.weights_bytes += extra;
                s.refresh_available();
            }
        }
        Ok(())
    }

    /// The load over the routed experts of a MoE layer with `experts` experts, `top_k` per
    /// token. A token picks `top_k` distinct experts, so no expert takes more than `1/top_k`
    /// of the routed pairs: Zipf popularity is capped there
    /// ([`ExpertLoad::capped_at_top_k`]), a measured vector beyond it is refused.
    ///
    /// # Errors
    /// [`PlanError::Option`] when a measured vector has another length or gives an expert more
    /// than `1/top_k` of the pairs, or a bad exponent.
    pub fn expert_load(&self, experts: u32, top_k: u32) -> Result<ExpertLoad, PlanError> {
        let k = top_k.clamp(1, experts.max(1));
        match self.routing {
            MoeRouting::Zipf { exponent, seed } => ExpertLoad::zipf(experts, exponent, seed)
                .map(|l| l.capped_at_top_k(k))
                .map_err(|e| PlanError::Option {
                    option: "moe skew".into(),
                    value: format!("zipf:{exponent}"),
                    expected: e.to_string(),
                }),
            MoeRouting::Measured(l) => {
                if l.experts() != experts {
                    return Err(PlanError::Option {
                        option: "expert load".into(),
                        value: format!("{} entries", l.experts()),
                        expected: format!("one load per routed expert of the model ({experts})"),
                    });
                }
                let (i, share) = l.max_share();
                if share > (1.0 + 1e-9) / k as f64 {
                    return Err(PlanError::Option {
                        option: "expert load".into(),
                        value: format!(
                            "entry {} (expert {i}) with {share:.4} of the routed load",
                            i + 1
                        ),
                        expected: format!(
                            "at most 1/top_k = {:.4} per expert: each token picks {k} distinct \
                             experts of the model's {experts}",
                            1.0 / k as f64
                        ),
                    });
                }
                Ok(l.clone())
            }
        }
    }

    /// Per-token share of the busiest EP rank's routed pairs (1/ep when balanced) for `plan`'s
    /// MoE layers of `model`; `None` for a dense model. A plan without expert parallelism
    /// holds no EPLB replica (one rank: nothing to balance), whatever [`Self::redundant`].
    ///
    /// # Errors
    /// As [`Self::expert_load`]; [`PlanError::Option`] when `E + redundant` is not a multiple of
    /// the plan's EP degree.
    pub fn busiest_rank_share(&self, model: &Model, plan: &Plan) -> Result<Option<f64>, PlanError> {
        let mut worst: Option<f64> = None;
        for run in &model.runs {
            for cell in &run.block.cells {
                if let Cell::Moe(m) = cell {
                    let load = self.expert_load(m.experts, m.top_k)?;
                    let (ep, redundant) = (plan.moe.ep.max(1), self.redundant_on(plan.moe.ep));
                    let rank = load
                        .busiest_rank(ep, redundant)
                        .map_err(|_| PlanError::Option {
                            option: "eplb".into(),
                            value: self.redundant.to_string(),
                            expected: format!(
                            "the experts plus the redundant replicas ({} + {redundant}) divisible \
                             by the plan's EP degree, ep={ep}",
                            m.experts
                        ),
                        })?;
                    let s: f64 = rank.iter().sum();
                    worst = Some(worst.map_or(s, |w: f64| w.max(s)));
                }
            }
        }
        Ok(worst)
    }
}

/// Per-model cache of the loads by expert count and top-k (one entry per distinct MoE shape).
#[derive(Debug, Clone)]
pub(crate) struct StageSkew {
    load: MoeLoad,
    by_experts: Vec<((u32, u32), Arc<ExpertLoad>)>,
}

impl StageSkew {
    /// The loads of `model`'s MoE cells; `None` for no skew or no MoE cell. Errors have been
    /// reported by [`MoeLoad::busiest_rank_share`] before lowering; a load that cannot be
    /// built here leaves its cells balanced.
    pub(crate) fn new(model: &Model, load: Option<MoeLoad>) -> Option<StageSkew> {
        let load = load?;
        let mut by_experts: Vec<((u32, u32), Arc<ExpertLoad>)> = Vec::new();
        for run in &model.runs {
            for cell in &run.block.cells {
                if let Cell::Moe(m) = cell {
                    if by_experts.iter().any(|(e, _)| *e == (m.experts, m.top_k)) {
                        continue;
                    }
                    if let Ok(l) = load.expert_load(m.experts, m.top_k) {
                        by_experts.push(((m.experts, m.top_k), Arc::new(l)));
                    }
                }
            }
        }
        (!by_experts.is_empty()).then_some(StageSkew { load, by_experts })
    }

    /// Replace the `experts` op in `ops` (lowered for `cell` with `tokens` tokens under
    /// `shard`) by the **slowest** EP rank's under `cost`: the rank with the most pairs when
    /// compute-bound, possibly another one with more distinct active experts when reading
    /// weights dominates (small batches). A balanced load without EPLB leaves `ops` as they are.
    pub(crate) fn apply(
        &self,
        cell: &Cell,
        shard: CellShard,
        tokens: u64,
        model: &Model,
        cost: &dyn CostModel,
        ops: &mut [Op],
    ) {
        let Cell::Moe(m) = cell else { return };
        let Some((_, load)) = self
            .by_experts
            .iter()
            .find(|(e, _)| *e == (m.experts, m.top_k))
        else {
            return;
        };
        let redundant = self.load.redundant_on(shard.ep);
        if load.is_balanced() && redundant == 0 {
            return;
        }
        let Ok(ranks) = load.placement(shard.ep.max(1), redundant) else {
            return;
        };
        let mut slowest: Option<(f64, FusedMoe)> = None;
        for rank in &ranks {
            let op = fused_moe_op_on_rank(m, tokens, shard.tp, shard.ep, &model.precision, rank);
            let t = cost.fused_moe(&op);
            if slowest.as_ref().map_or(true, |(best, _)| t > *best) {
                slowest = Some((t, op));
            }
        }
        let Some((_, op)) = slowest else { return };
        for o in ops.iter_mut().filter(|o| o.name == "experts") {
            if let OpBody::FusedMoe(f) = &mut o.body {
                *f = op;
            }
        }
    }
}
