//! Per-expert-parallel-rank load of a plan's MoE layers under a routing skew: each rank's
//! share of a layer's routed token-expert pairs, and how many pairs it processed over a run.
//! `parallax simulate --json` reports it as `moe_rank_load`, and its timeline draws it as one
//! counter series per rank ([`MoeRankLoad::counter_track`]).
//!
//! The shares come from the same placement the lowering prices
//! ([`parallax_ir::routing::ExpertLoad::placement`]: contiguous experts per rank, or EPLB's
//! replicas packed onto the least-loaded ranks). One load model applies to every MoE layer of
//! the model, so one share vector describes them all; the pairs are expectations (tokens ×
//! `top_k` × share), summed over every MoE group of the plan (data-parallel replicas and
//! whole-MoE replicas, each with `ep` ranks numbered alike).

use crate::error::Result;
use parallax_ir::{Cell, Model};
use parallax_plan::{DisaggPlan, MoeLoad, Plan, PlanError};
use parallax_sim::{CounterTrack, SimReport};
use serde::Serialize;

/// Per-EP-rank routed load of one plan's MoE layers (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoeRankLoad {
    /// Expert-parallel degree: ranks of one MoE group.
    pub ep: u32,
    /// Routed experts per MoE layer.
    pub experts: u32,
    /// EPLB redundant expert replicas per MoE layer (0: no EPLB).
    pub redundant_experts: u32,
    /// Expert replicas each rank holds: `(experts + redundant_experts) / ep`.
    pub slots_per_rank: u32,
    /// Routed experts each token visits.
    pub top_k: u32,
    /// MoE layers in the model.
    pub moe_layers: u64,
    /// Each rank's share of a MoE layer's routed pairs, in rank order (sum 1).
    pub shares: Vec<f64>,
    /// The rank with the largest share (ties: the lowest).
    pub busiest_rank: u32,
    /// Its share (`1/ep` when balanced).
    pub busiest_share: f64,
    /// `busiest_share × ep`: 1 when balanced; the layer's compute-bound time over a balanced
    /// layer's.
    pub imbalance: f64,
    /// Tokens that went through the layers during the run (`tokens.forward`).
    pub forward_tokens: u64,
    /// Routed pairs each rank processed per MoE layer over the run (expected:
    /// `forward_tokens × top_k × share`), summed over the plan's MoE groups.
    pub routed_pairs_per_layer: Vec<f64>,
}

impl MoeRankLoad {
    /// A timeline counter track with one series per rank: the routed pairs of one MoE layer
    /// during each iteration (batch tokens × `top_k` × share).
    pub fn counter_track(&self) -> CounterTrack {
        CounterTrack {
            name: "MoE routed pairs per layer, by EP rank".into(),
            series: self
                .shares
                .iter()
                .enumerate()
                .map(|(r, s)| (format!("rank {r}"), self.top_k as f64 * s))
                .collect(),
            replicas: None,
        }
    }
}

/// The per-rank load of each pool of a disaggregated deployment (each pool has its own plan,
/// so its own EP degree and shares).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolRankLoads {
    /// The prefill pool (its forward tokens: the prompts it computed).
    pub prefill: MoeRankLoad,
    /// The decode pool (its forward tokens: the decode steps it ran).
    pub decode: MoeRankLoad,
}

impl PoolRankLoads {
    /// One counter track per pool, each drawn on its own replicas (the prefill pool's are the
    /// first `plan.prefill`).
    pub fn counter_tracks(&self, plan: &DisaggPlan) -> Vec<CounterTrack> {
        let n = plan.prefill;
        let mut pre = self.prefill.counter_track();
        pre.replicas = Some(0..n);
        let mut dec = self.decode.counter_track();
        dec.replicas = Some(n..n.saturating_add(plan.decode));
        vec![pre, dec]
    }
}

/// [`moe_rank_load`] for each pool of the disaggregated `plan`, with the forward tokens
/// `report` counted on the pool's replicas; `None` for a model without MoE layers.
///
/// # Errors
/// As [`moe_rank_load`], for either pool's plan.
pub fn disaggregated_rank_load(
    model: &Model,
    plan: &DisaggPlan,
    load: &MoeLoad,
    report: &SimReport,
) -> Result<Option<PoolRankLoads>> {
    let n = (plan.prefill as usize).min(report.forward_tokens_by_replica.len());
    let (pre, dec) = report.forward_tokens_by_replica.split_at(n);
    let prefill = moe_rank_load(model, &plan.prefill_plan, load, pre.iter().sum())?;
    let decode = moe_rank_load(model, &plan.decode_plan, load, dec.iter().sum())?;
    Ok(prefill
        .zip(decode)
        .map(|(prefill, decode)| PoolRankLoads { prefill, decode }))
}

/// The per-rank load of `plan`'s MoE layers of `model` under `load`, with `forward_tokens`
/// tokens run through them; `None` for a model without MoE layers. When MoE layers differ in
/// expert count, the width whose busiest rank has the largest share is reported (as
/// [`MoeLoad::busiest_rank_share`] does).
///
/// # Errors
/// As [`MoeLoad::busiest_rank_share`]: a measured vector of the wrong length, or experts plus
/// redundant replicas that do not divide over the plan's EP degree.
///
/// # Examples
/// ```
/// use parallax::moe_ranks::moe_rank_load;
/// use parallax::plan::{MoeLoad, MoeRouting, Plan};
/// let model = parallax::ir::resolve("qwen3-30b-a3b")?;
/// let plan: Plan = "ep=8".parse()?;
/// let balanced = MoeLoad { routing: MoeRouting::Zipf { exponent: 0.0, seed: 0 }, redundant: 0 };
/// let l = moe_rank_load(&model, &plan, &balanced, 1000)?.unwrap();
/// assert_eq!(l.shares, vec![0.125; 8]);
/// assert_eq!(l.routed_pairs_per_layer[0], 1000.0 * 8.0 / 8.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn moe_rank_load(
    model: &Model,
    plan: &Plan,
    load: &MoeLoad,
    forward_tokens: u64,
) -> Result<Option<MoeRankLoad>> {
    let ep = plan.moe.ep.max(1);
    let mut worst: Option<MoeRankLoad> = None;
    let mut layers = 0u64;
    for run in &model.runs {
        for cell in &run.block.cells {
            let Cell::Moe(m) = cell else { continue };
            layers += run.repeat as u64;
            if worst.as_ref().is_some_and(|w| w.experts == m.experts) {
                continue;
            }
            let shares: Vec<f64> = load
                .expert_load(m.experts, m.top_k)?
                .placement(ep, load.redundant)
                .map_err(|e| PlanError::Option {
                    option: "eplb".into(),
                    value: load.redundant.to_string(),
                    expected: e.to_string(),
                })?
                .iter()
                .map(|rank| rank.iter().sum())
                .collect();
            let mut busiest = 0;
            for (r, s) in shares.iter().enumerate() {
                if *s > shares[busiest] {
                    busiest = r;
                }
            }
            let top_k = m.top_k.min(m.experts);
            let l = MoeRankLoad {
                ep,
                experts: m.experts,
                redundant_experts: load.redundant,
                slots_per_rank: (m.experts + load.redundant) / ep,
                top_k,
                moe_layers: 0,
                busiest_rank: busiest as u32,
                busiest_share: shares[busiest],
                imbalance: shares[busiest] * ep as f64,
                forward_tokens,
                routed_pairs_per_layer: shares
                    .iter()
                    .map(|s| forward_tokens as f64 * top_k as f64 * s)
                    .collect(),
                shares,
            };
            if worst
                .as_ref()
                .map_or(true, |w| l.busiest_share > w.busiest_share)
            {
                worst = Some(l);
            }
        }
    }
    Ok(worst.map(|mut w| {
        w.moe_layers = layers;
        w
    }))
}
