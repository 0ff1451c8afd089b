//! EPLB chosen by the search: with a routing skew ([`Search::moe_load`]) and
//! [`EplbMode::Auto`], every candidate whose MoE layers are expert-parallel (`ep > 1`) is
//! simulated with `0, ep, 2·ep, … , max_per_rank·ep` redundant experts per MoE layer (vLLM's
//! `--enable-eplb --num-redundant-experts N`; 0 is EPLB off) and ranked with the best of them.
//!
//! Each count is a full evaluation of the plan: the replicas' weights are added to every EP
//! rank before the memory check and the KV-cache size (fewer KV blocks, possibly a plan that no
//! longer fits), and each MoE layer runs at its slowest rank under the replicated placement
//! ([`parallax_plan::skew`]). The counts are compared as the search ranks plans — constraints
//! met first, then the objective, then mean end-to-end latency — and ties go to fewer
//! replicas, so EPLB is only chosen when it pays for its memory. A count whose replicas do not
//! lower the busiest rank's share of the routed pairs (a balanced load) cannot relieve the
//! layer and is not simulated: it would only cost memory (the cost model would otherwise
//! price the split experts' row padding, ±1 %, as if it were a gain or a loss). The choice and every count's
//! figures are reported in [`RankedPlan::eplb`](super::RankedPlan::eplb).
//!
//! Plans without expert parallelism, searches without a skew and [`EplbMode::Fixed`] (the
//! default of the library) are evaluated once with the load's own `redundant` count, exactly
//! as before.

use super::{Ctx, Evaluated, Search};
use crate::error::{Error, Result};
use parallax_plan::{plan_memory, MoeLoad, Plan};
use parallax_sim::SchedulerConfig;
use serde::Serialize;

/// How the search sets EPLB's redundant experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EplbMode {
    /// Every plan uses the [`MoeLoad::redundant`] count given to [`Search::moe_load`]
    /// (default).
    #[default]
    Fixed,
    /// For each plan with `ep > 1`, try `k · ep` redundant experts for `k` in
    /// `0..=max_per_rank` and keep the best (see the module docs). The load's own `redundant`
    /// count is then used only by plans without expert parallelism and by the disaggregated
    /// pools; set it to 0.
    Auto {
        /// Most redundant experts per EP rank tried (1: EPLB off or one replica per rank).
        max_per_rank: u32,
    },
}

impl EplbMode {
    /// `Auto` with at most one redundant expert per rank (DeepSeek-V3's and vLLM's usual
    /// setting: `num_redundant_experts` = EP size).
    pub const AUTO: EplbMode = EplbMode::Auto { max_per_rank: 1 };
}

/// One redundant-expert count the search tried for a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EplbOption {
    /// Redundant experts per MoE layer (0: EPLB off).
    pub redundant_experts: u32,
    /// The busiest EP rank's share of a MoE layer's routed pairs under this count.
    pub busiest_rank_share: Option<f64>,
    /// Weight bytes the replicas add to each GPU of the most loaded stage.
    pub extra_weight_bytes_per_gpu: f64,
    /// The objective's value (`None` when the count could not be evaluated).
    pub objective: Option<f64>,
    /// Whether the constraints were met.
    pub meets_constraints: bool,
    /// Mean TTFT, ms.
    pub ttft_ms_mean: Option<f64>,
    /// Mean TPOT, ms.
    pub tpot_ms_mean: Option<f64>,
    /// Mean end-to-end latency, s.
    pub e2e_s_mean: Option<f64>,
    /// Why it could not be evaluated (e.g. the replicas leave no room for the KV cache).
    pub error: Option<String>,
}

/// The EPLB setting the search chose for a plan, with every count it tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EplbChoice {
    /// The chosen redundant experts per MoE layer (0: EPLB off). The plan's metrics are
    /// this count's; `simulate --eplb N` reproduces them.
    pub redundant_experts: u32,
    /// Every count tried, in increasing order.
    pub options: Vec<EplbOption>,
}

impl EplbChoice {
    /// Whether EPLB is on (redundant experts chosen).
    pub fn enabled(&self) -> bool {
        self.redundant_experts > 0
    }

    /// The option with EPLB off (0 redundant experts).
    pub fn off(&self) -> Option<&EplbOption> {
        self.options.iter().find(|o| o.redundant_experts == 0)
    }

    /// The chosen option.
    pub fn chosen(&self) -> Option<&EplbOption> {
        self.options
            .iter()
            .find(|o| o.redundant_experts == self.redundant_experts)
    }
}

impl Search {
    /// How EPLB's redundant experts are set (default [`EplbMode::Fixed`]); with
    /// [`EplbMode::Auto`] and a skew the search turns EPLB on per plan where it pays (see
    /// [`crate::search`]'s `eplb` module).
    pub fn eplb(mut self, mode: EplbMode) -> Self {
        self.eplb = mode;
        self
    }

    /// The redundant-expert counts to try for `plan`, or `None` to evaluate it once with the
    /// load as given.
    pub(super) fn eplb_counts(&self, plan: &Plan) -> Option<(MoeLoad, Vec<u32>)> {
        let EplbMode::Auto { max_per_rank } = self.eplb else {
            return None;
        };
        let load = self.moe_load?;
        let ep = plan.moe.ep;
        if ep <= 1 || !self.model.has_moe() {
            return None;
        }
        Some((load, (0..=max_per_rank).map(|k| k * ep).collect()))
    }
}

/// Weight bytes `load`'s replicas add per GPU to `plan`'s most loaded stage (NaN when the
/// plan's memory cannot be computed).
fn extra_weight_bytes(s: &Search, plan: &Plan, load: &MoeLoad) -> f64 {
    let Ok(mut memory) = plan_memory(&s.model, plan, &s.cluster, &s.memory) else {
        return f64::NAN;
    };
    for st in &mut memory.stages {
        st.weights_bytes = 0.0;
    }
    if load.add_eplb_weights(&s.model, plan, &mut memory).is_err() {
        return f64::NAN;
    }
    memory
        .stages
        .iter()
        .map(|m| m.weights_bytes)
        .fold(0.0, f64::max)
}

impl Ctx<'_> {
    /// Lower and simulate one candidate, choosing EPLB's redundant experts when the search
    /// does (see the module docs).
    pub(super) fn evaluate(&self, plan: &Plan, sched: &SchedulerConfig) -> Result<Evaluated> {
        let s = self.search;
        let Some((load, counts)) = s.eplb_counts(plan) else {
            return self.evaluate_with(plan, sched, s.moe_load);
        };
        // Each count: its load, the busiest rank's share, and its evaluation (or why not).
        let mut tried: Vec<(MoeLoad, Option<f64>, std::result::Result<Evaluated, String>)> =
            Vec::with_capacity(counts.len());
        let mut base_share = None;
        for redundant in counts {
            let l = MoeLoad { redundant, ..load };
            let share = match l.busiest_rank_share(&s.model, plan) {
                Ok(x) => x,
                Err(e) if redundant == 0 => return Err(e.into()),
                Err(e) => {
                    tried.push((l, None, Err(e.to_string())));
                    continue;
                }
            };
            if redundant == 0 {
                base_share = share;
            } else if share >= base_share {
                // Replicas that do not relieve the busiest rank (a balanced load) can only
                // cost memory: not simulated.
                tried.push((
                    l,
                    share,
                    Err("not simulated: the replicas do not lower the busiest rank's share".into()),
                ));
                continue;
            }
            match self.evaluate_with(plan, sched, Some(l)) {
                Ok(e) => tried.push((l, share, Ok(e))),
                // EPLB off failing fails the plan as it does without the choice; so does a
                // count cut by the time limit (the candidate counts as not simulated).
                Err(e) if redundant == 0 || self.past_deadline() => return Err(e),
                Err(e) => tried.push((l, share, Err(e.to_string()))),
            }
        }
        let obj = s.objective;
        let mut best: Option<usize> = None;
        for (i, (_, _, r)) in tried.iter().enumerate() {
            let Ok(e) = r else { continue };
            let better = match best.and_then(|b| tried[b].2.as_ref().ok()) {
                None => true,
                Some(b) => b
                    .meets
                    .cmp(&e.meets)
                    .then(obj.compare(e.value, b.value))
                    .then(e.metrics.e2e_s.mean.total_cmp(&b.metrics.e2e_s.mean))
                    .is_lt(),
            };
            if better {
                best = Some(i);
            }
        }
        let options: Vec<EplbOption> = tried
            .iter()
            .map(|(l, share, r)| {
                let mut o = EplbOption {
                    redundant_experts: l.redundant,
                    busiest_rank_share: *share,
                    extra_weight_bytes_per_gpu: extra_weight_bytes(s, plan, l),
                    objective: None,
                    meets_constraints: false,
                    ttft_ms_mean: None,
                    tpot_ms_mean: None,
                    e2e_s_mean: None,
                    error: None,
                };
                match r {
                    Ok(e) => {
                        o.objective = Some(e.value);
                        o.meets_constraints = e.meets;
                        o.ttft_ms_mean = Some(e.metrics.ttft_ms.mean);
                        o.tpot_ms_mean = Some(e.metrics.tpot_ms.mean);
                        o.e2e_s_mean = Some(e.metrics.e2e_s.mean);
                    }
                    Err(why) => o.error = Some(why.clone()),
                }
                o
            })
            .collect();
        // Count 0 was evaluated (or the plan failed above), so there is a best.
        let (l, _, r) = tried.swap_remove(best.unwrap_or(0));
        let mut e = r.map_err(|why| Error::Option {
            option: "eplb".into(),
            value: l.redundant.to_string(),
            expected: why,
        })?;
        e.eplb = Some(EplbChoice {
            redundant_experts: l.redundant,
            options,
        });
        Ok(e)
    }
}
