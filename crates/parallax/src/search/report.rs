//! What a search returns: [`SearchReport`] with ranked plans, baselines, counts and the stop
//! reason.

use super::objective::{Direction, Objective};
use crate::error::{Error, Result};
use parallax_plan::{MemoryShortfall, Plan};
use parallax_sim::{Metrics, SchedulerConfig, Slo};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a search stopped. Running out of budget is a result, not an error (as in egg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopReason {
    /// Every feasible candidate was simulated.
    Exhausted,
    /// [`super::Limits::max_plans`] cut the candidate list (deterministically: the first
    /// candidates in enumeration order were simulated).
    PlanLimit,
    /// [`super::Limits::time`] (or [`super::DEFAULT_TIME_LIMIT`]) ran out before every
    /// candidate was enumerated and simulated, aggregated or disaggregated (then
    /// [`super::DisaggComparison::note`] says what it cut). Which candidates were simulated then depends on timing: the
    /// result is not reproducible.
    TimeLimit,
    /// The caller's cancellation flag ([`super::Search::cancel_on`]) was set before every
    /// candidate was simulated; the report ranks what was simulated (not reproducible, as
    /// for [`StopReason::TimeLimit`]).
    Cancelled,
}

impl StopReason {
    /// Why a search whose `deadline` has passed stopped.
    pub(crate) fn cut_by(deadline: &parallax_sim::Deadline) -> Self {
        if deadline.cancelled() {
            StopReason::Cancelled
        } else {
            StopReason::TimeLimit
        }
    }

    /// What cut a search short, for notes and errors: "the search was cancelled" or "the
    /// time limit ran out" (the budgets a passed deadline holds).
    pub(crate) fn cut_message(self) -> &'static str {
        match self {
            StopReason::Cancelled => "the search was cancelled",
            _ => "the time limit ran out",
        }
    }

    /// snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Exhausted => "exhausted",
            StopReason::PlanLimit => "plan_limit",
            StopReason::TimeLimit => "time_limit",
            StopReason::Cancelled => "cancelled",
        }
    }
}

pub(crate) fn plan_string<S: Serializer>(p: &Plan, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(p)
}

pub(crate) fn opt_plan_string<S: Serializer>(
    p: &Option<Plan>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.collect_str(p),
        None => s.serialize_none(),
    }
}

/// One simulated candidate: a plan with its scheduler settings and full metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedPlan {
    /// 1-based position in [`SearchReport::ranked`].
    pub rank: usize,
    /// The plan (serialised as its canonical string, which `simulate --plan` accepts).
    #[serde(serialize_with = "plan_string")]
    pub plan: Plan,
    /// GPUs the plan occupies.
    pub gpus: u32,
    /// Scheduler settings simulated with it.
    pub scheduler: SchedulerConfig,
    /// The objective's value (unit: [`Objective::unit`]).
    pub objective: f64,
    /// Every request completed (none rejected or unfinished) and, when SLOs are given, SLO
    /// attainment reached the target. For `throughput`: some rate was sustainable.
    pub meets_constraints: bool,
    /// Arrival rate of the simulated workload (req/s): the workload's own rate, or for
    /// `throughput` the highest sustainable rate found (`None` for a workload with a single
    /// arrival time).
    pub rate_req_per_s: Option<f64>,
    /// GPU energy per output token, J.
    pub energy_j_per_token: f64,
    /// Cost per million output tokens, in the currency of the GPU price.
    pub cost_per_mtok: f64,
    /// Metrics of the simulation (at `rate_req_per_s`); the same fields as `simulate --json`.
    /// For `throughput` and `goodput`: of the whole steady-state stream, warm-up and drain
    /// included (the measured part is in `window`).
    pub metrics: Metrics,
    /// For `throughput` and `goodput`: the steady-state measurement window of the simulation
    /// at `rate_req_per_s` (`None` for the other objectives).
    pub window: Option<super::SteadyWindow>,
    /// The EPLB setting the search chose for this plan, with every redundant-expert count it
    /// tried ([`super::EplbMode::Auto`] with a MoE skew and `ep > 1`; `None` otherwise, and
    /// then absent from the JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eplb: Option<super::EplbChoice>,
}

impl RankedPlan {
    /// The value of `objective` for this candidate: the search objective's own value, or one
    /// read from the metrics (at the simulated rate). `None` for `throughput` when the search
    /// did not search over rate, and for `goodput` without SLOs.
    pub fn value_of(&self, objective: Objective, searched: Objective, price: f64) -> Option<f64> {
        if objective == searched {
            return Some(self.objective);
        }
        if objective == Objective::Cost {
            // at the plan's own price (its GPU kinds' on a mixed cluster), not `price`
            return Some(self.cost_per_mtok);
        }
        objective.value(&self.metrics, self.gpus, price)
    }
}

/// A baseline plan, simulated like the candidates, with the best plan's gain over it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// `heuristic`, `max-tp` or `best-even-split`.
    pub name: String,
    /// How the plan is chosen.
    pub description: String,
    /// The plan, or `None` when none of its kind fits (see `error`).
    #[serde(serialize_with = "opt_plan_string")]
    pub plan: Option<Plan>,
    /// The objective's value.
    pub objective: Option<f64>,
    /// As [`RankedPlan::meets_constraints`].
    pub meets_constraints: bool,
    /// Metrics of its simulation.
    pub metrics: Option<Metrics>,
    /// The best plan's gain over the baseline ([`Objective::gain`]): `baseline / best` when
    /// minimising (a speedup), `best / baseline` when maximising; `> 1` means the search found
    /// something better. `None` without a best plan or a finite positive baseline value.
    pub speedup: Option<f64>,
    /// Why there is no plan, if so.
    pub error: Option<String>,
}

impl Baseline {
    /// A baseline named `name` with nothing simulated yet (no plan, no metrics, no error).
    pub(crate) fn unset(name: &str, description: &str) -> Baseline {
        Baseline {
            name: name.into(),
            description: description.into(),
            plan: None,
            objective: None,
            meets_constraints: false,
            metrics: None,
            speedup: None,
            error: None,
        }
    }
}

/// Why no candidate is a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Infeasibility {
    /// A sentence saying why.
    pub reason: String,
    /// Of the plans pruned for memory, the one that misses by the fewest bytes.
    pub closest_miss: Option<MemoryShortfall>,
    /// Bytes per device the closest miss lacks.
    pub deficit_bytes: Option<f64>,
}

/// One point of a Pareto front.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoPoint {
    /// The plan's canonical string.
    #[serde(serialize_with = "plan_string")]
    pub plan: Plan,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
    /// Value of the first objective.
    pub a: f64,
    /// Value of the second objective.
    pub b: f64,
}

/// The non-dominated candidates for two objectives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoFront {
    /// The two objectives.
    pub objectives: [Objective; 2],
    /// Non-dominated points, best first for the first objective (ties: better second
    /// objective, then plan string).
    pub points: Vec<ParetoPoint>,
}

/// The engine memory setting every plan was simulated under.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemorySetting {
    /// The engine's setting: `gpu_memory_utilization` (vLLM's rule), `mem_fraction_static`
    /// (SGLang's) or `free_gpu_memory_fraction` (TensorRT-LLM's); see
    /// [`parallax_plan::MemoryRule`].
    pub setting: &'static str,
    /// Its value; `None` for SGLang's own default, which each plan computes from its GPU, TP ×
    /// PP and token budget ([`parallax_plan::MemoryRule::StaticDefault`]).
    pub fraction: Option<f64>,
}

impl MemorySetting {
    /// The setting of `memory`.
    pub fn of(memory: &parallax_plan::MemoryOptions) -> MemorySetting {
        MemorySetting {
            setting: memory.rule.setting(),
            fraction: (memory.rule != parallax_plan::MemoryRule::StaticDefault)
                .then_some(memory.gpu_memory_utilization),
        }
    }
}

/// Everything a search produces. Serialised (`serde_json`) it is the CLI's `--json` output;
/// it holds no timings, so it is byte-identical across runs and thread counts unless a time
/// limit stopped the search.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SearchReport {
    /// Model name.
    pub model: String,
    /// Cluster spec (`NxGxGPU`).
    pub cluster: String,
    /// Workload name.
    pub workload: String,
    /// Requests in the workload.
    pub requests: usize,
    /// The workload's arrival rate (req/s), `None` with a single arrival time.
    pub rate_req_per_s: Option<f64>,
    /// The objective.
    pub objective: Objective,
    /// Its direction.
    pub direction: Direction,
    /// Its unit.
    pub unit: &'static str,
    /// Name of the cost model.
    pub cost_model: String,
    /// Name of the serving-engine model (`none` without one).
    pub engine: String,
    /// The model's weight, GEMM, activation and KV-cache types as searched (the `Display` of
    /// [`parallax_ir::Precision`]).
    pub precision: String,
    /// The engine's memory setting.
    pub memory: MemorySetting,
    /// The SLOs.
    pub slo: Slo,
    /// Required SLO attainment (fraction of requests within every SLO).
    pub slo_target: f64,
    /// Base scheduler settings (used by the baselines; searched lists override fields).
    pub scheduler: SchedulerConfig,
    /// Price of one GPU-hour used by `cost`: `--price`, else the cluster's (on a mixed
    /// cluster, its first node group's; each plan is then charged its own GPU kinds' prices,
    /// [`RankedPlan::cost_per_mtok`]).
    pub price_per_gpu_hour: f64,
    /// Candidates (plan × scheduler setting) generated by the enumerator.
    pub plans_enumerated: u64,
    /// Candidates pruned, by reason (`symmetry`, `divisibility`, `topology`, `memory`).
    pub plans_pruned: BTreeMap<String, u64>,
    /// Sum of `plans_pruned`.
    pub plans_pruned_total: u64,
    /// Candidates that survived pruning.
    pub plans_feasible: u64,
    /// Candidates added beside them: pipelined plans with the uneven stage split of the exact
    /// DP ([`crate::search::split`]), where it differs from the even split and fits memory.
    pub plans_uneven: u64,
    /// Candidates simulated (ranked).
    pub plans_simulated: u64,
    /// Simulator runs, including the rate search of `throughput` and the baselines.
    pub simulations: u64,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// The wall-clock budget the search ran under, seconds (`--time-limit`, or
    /// [`super::DEFAULT_TIME_LIMIT`]); `stop_reason` is `time_limit` when it ran out.
    pub time_limit_s: f64,
    /// The best candidate that meets the constraints, if any.
    pub best: Option<RankedPlan>,
    /// Every simulated candidate, best first: those meeting the constraints first, then by
    /// objective value, mean end-to-end latency, plan string and scheduler settings.
    pub ranked: Vec<RankedPlan>,
    /// The heuristic and maximum-TP baselines.
    pub baselines: Vec<Baseline>,
    /// The Pareto front asked for with [`super::Search::pareto`].
    pub pareto: Option<ParetoFront>,
    /// Why there is no best plan, if there is none.
    pub infeasible: Option<Infeasibility>,
    /// The steady-state settings of `throughput` and `goodput` (`None` otherwise).
    pub steady_state: Option<super::SteadyState>,
    /// Disaggregated deployments searched against the best aggregated plan (`None` when
    /// [`super::DisaggMode`] left them out).
    pub disaggregation: Option<super::DisaggComparison>,
    /// Wall time of the search (not serialised).
    #[serde(skip)]
    pub elapsed: Duration,
}

impl SearchReport {
    /// The non-dominated candidates for objectives `a` and `b` among those that meet the
    /// constraints.
    ///
    /// A candidate is dominated when another is at least as good on both objectives and
    /// strictly better on one. Values other than the search objective are read from each
    /// candidate's metrics (at its simulated rate).
    ///
    /// # Complexity
    /// O(n²) for n candidates.
    ///
    /// # Errors
    /// [`Error::Option`] when an objective cannot be read from the simulations (`throughput`
    /// unless it was the search objective; `goodput` without SLOs).
    pub fn pareto(&self, a: Objective, b: Objective) -> Result<ParetoFront> {
        let mut pts = Vec::new();
        for r in self.ranked.iter().filter(|r| r.meets_constraints) {
            let va = self.value(r, a)?;
            let vb = self.value(r, b)?;
            pts.push((r, va, vb));
        }
        let better_eq = |o: Objective, x: f64, y: f64| o.compare(x, y).is_le();
        let strictly = |o: Objective, x: f64, y: f64| o.compare(x, y).is_lt();
        let mut front: Vec<&(&RankedPlan, f64, f64)> = pts
            .iter()
            .filter(|p| {
                !pts.iter().any(|q| {
                    better_eq(a, q.1, p.1)
                        && better_eq(b, q.2, p.2)
                        && (strictly(a, q.1, p.1) || strictly(b, q.2, p.2))
                })
            })
            .collect();
        front.sort_by(|x, y| {
            a.compare(x.1, y.1)
                .then(b.compare(x.2, y.2))
                .then(x.0.rank.cmp(&y.0.rank))
        });
        Ok(ParetoFront {
            objectives: [a, b],
            points: front
                .into_iter()
                .map(|(r, va, vb)| ParetoPoint {
                    plan: r.plan.clone(),
                    scheduler: r.scheduler,
                    a: *va,
                    b: *vb,
                })
                .collect(),
        })
    }

    fn value(&self, r: &RankedPlan, o: Objective) -> Result<f64> {
        r.value_of(o, self.objective, self.price_per_gpu_hour)
            .ok_or_else(|| Error::Option {
                option: "pareto".into(),
                value: o.name().into(),
                expected: if o == Objective::Throughput {
                    "an objective read from one simulation: `throughput` is available only \
                     when it is the search objective"
                        .into()
                } else {
                    "an objective read from one simulation: `goodput` needs an SLO".into()
                },
            })
    }

    /// The baseline named `name` (`heuristic` or `max-tp`).
    pub fn baseline(&self, name: &str) -> Option<&Baseline> {
        self.baselines.iter().find(|b| b.name == name)
    }
}
