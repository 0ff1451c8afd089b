//! # parallax-plan
//!
//! The plan space of LLM serving: data-parallel replicas, pipeline stages with layer ranges,
//! and per-cell tensor/expert parallelism; enumeration with pruning; lowering of a plan to the
//! simulator's [`parallax_sim::ReplicaSpec`]; one-iteration prediction through the same stage
//! costs the simulator uses.
//!
//! - [`Plan`] and its canonical string (`crates/parallax-plan/PLAN-STRING.md`).
//! - [`Mapping`]: devices of a plan on the cluster topology.
//! - [`plan_memory`]: weights, activation reserve and KV capacity per stage.
//! - [`lower()`]: a plan to one [`parallax_sim::ReplicaSpec`] per replica.
//! - [`predict()`]: the latency of one iteration with a breakdown by op kind.
//! - [`enumerate()`]: the pruned plan space, with the heuristic and max-TP baselines.
//!
//! Nothing here does I/O.

#![warn(missing_docs)]

pub mod disagg;
pub mod engine;
pub mod enumerate;
pub mod error;
pub mod hetero;
pub mod lower;
pub mod mapping;
pub mod memory;
pub mod plan;
pub mod predict;
pub mod skew;
pub mod split;

pub use disagg::{lower_disaggregated, DisaggPlan};
pub use engine::{
    mtp_speculation, EngineContext, EngineCost, EngineKernels, EngineKind, EngineModel,
    MeasuredAllReduce, MeasuredFusedMoe,
};
pub use enumerate::{
    enumerate, heuristic_plan, max_tp_plan, Allowed, Constraints, Enumeration, PruneReason,
};
pub use error::{MemoryShortfall, PlanError};
pub use lower::{
    check_lowered_memory, lower, lower_plan, lowered_memory, LowerOptions, LoweredPlan,
    PlanStageCost,
};
pub use mapping::{Mapping, StageSlot};
pub use memory::{plan_memory, MemoryOptions, MemoryReport, MemoryRule, StageMemory};
pub use plan::{CellLayout, CellPlacement, MoeLayout, Plan, Segment, StageSpec};
pub use predict::{
    batch_from_specs, longest_sequence, parse_decode_spec, parse_prefill_spec, predict,
    predict_plan, predict_with, IterationPrediction,
};
pub use skew::{MoeLoad, MoeRouting};
pub use split::{layer_chain, ChainBlock, LayerChain};

use parallax_hw::Cluster;
use parallax_ir::{check_shard, Cell, Model};

/// Check `plan` against `model` and `cluster` and resolve its stages.
///
/// Checks: the plan's shape ([`Plan::check_shape`]); layer ranges cover the model on block
/// boundaries; every cell accepts its shard (heads, KV heads, widths and experts divisible);
/// MoE layouts only on MoE models and MLP layouts only on models with dense MLPs; the devices
/// fit and pack into the cluster ([`Mapping::new`]).
///
/// # Complexity
/// O(pp × runs + cells per block), independent of depth.
///
/// # Errors
/// [`PlanError::Inconsistent`] naming the field at fault.
pub fn validate(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
) -> Result<Vec<StageSpec>, PlanError> {
    plan.check_shape()?;
    let has_moe = model.has_cell(|c| matches!(c, Cell::Moe(_)));
    let has_mlp = model.has_cell(|c| matches!(c, Cell::Mlp(_)));
    if plan.moe != MoeLayout::new(1, plan.tp) && !has_moe {
        return Err(PlanError::inconsistent(
            plan,
            if plan.moe.ep > 1 { "ep" } else { "moe" },
            format!(
                "model `{}` is dense (no MoE cells): expert parallelism and MoE layouts need a \
                 mixture-of-experts model",
                model.name
            ),
        ));
    }
    if plan.mlp != CellLayout::tp(plan.tp) && !has_mlp {
        return Err(PlanError::inconsistent(
            plan,
            "mlp",
            format!("model `{}` has no dense MLP cells to lay out", model.name),
        ));
    }
    let stages = plan.stages(model)?;
    // Every distinct stage width (one for plans without per-stage widths).
    let mut widths: Vec<u32> = Vec::with_capacity(1);
    for s in 0..plan.pp as usize {
        let w = plan.stage_width(s);
        if widths.contains(&w) {
            continue;
        }
        widths.push(w);
        let view = plan.stage_plan(s);
        for run in &model.runs {
            for i in 0..run.block.cells.len() {
                let cell = &run.block.cells[i];
                let pl = view.placement(&run.block, i);
                if let Err(e) = check_shard(cell, pl.shard) {
                    let field = match cell {
                        Cell::Attention(_) if view.attn != CellLayout::tp(view.tp) => "attn",
                        Cell::Mlp(_) if view.mlp != CellLayout::tp(view.tp) => "mlp",
                        Cell::Moe(_) if view.moe != MoeLayout::new(1, view.tp) => "moe",
                        _ => "tp",
                    };
                    let reason = if plan.stage_tp.is_some() {
                        format!("stage {s} (tp={w}): {e}")
                    } else {
                        e.to_string()
                    };
                    return Err(PlanError::inconsistent(plan, field, reason));
                }
            }
        }
    }
    Mapping::new(plan, cluster)?;
    Ok(stages)
}
