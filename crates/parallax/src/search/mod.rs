//! The search API: find the best serving plan for a model, a cluster and a workload.
//!
//! ```no_run
//! use parallax::search::{Objective, Search};
//! use parallax::sim::Slo;
//! let model = parallax::ir::resolve("llama-3.1-70b")?;
//! let cluster = parallax::hw::Cluster::parse("1x8xH100")?;
//! let workload = parallax::load_workload("chat", None, None)?;
//! let report = Search::new(model, cluster, workload)
//!     .objective(Objective::E2eMean)
//!     .slo(Slo { ttft_ms: Some(500.0), tpot_ms: Some(50.0) })
//!     .run()?;
//! let best = report.best.as_ref().expect("a plan fits");
//! println!("{} mean e2e {:.3} s", best.plan, best.metrics.e2e_s.mean);
//! for b in &report.baselines {
//!     println!("{}: {:?}× better", b.name, b.speedup);
//! }
//! # Ok::<(), parallax::Error>(())
//! ```
//!
//! # How a search runs
//! 1. **Candidates.** For each scheduler setting (the base [`SchedulerConfig`], or the
//!    product of the lists in [`SchedulerSpace`]) the plan crate's
//!    [`parallax_plan::enumerate()`] lists the plans under the constraints, pruned by
//!    symmetry, divisibility, topology and memory (weights + activation reserve + the KV of
//!    the workload's largest request, [`crate::largest_request_tokens`]). The memory settings
//!    follow the scheduler, as `parallax simulate` does: the activation reserve is sized for
//!    its `max_num_batched_tokens` and `max_num_seqs`. Candidates are ordered by scheduler setting, then in
//!    enumeration order; [`Limits::max_plans`] keeps the first ones.
//! 2. **Simulation.** Candidates are lowered and simulated in parallel (rayon `par_iter` over
//!    the ordered list, results collected in order). Every simulation is deterministic, so
//!    the report does not depend on the thread count.
//! 3. **Ranking.** Candidates that meet the constraints (every request completes; SLO
//!    attainment ≥ [`Search::slo_target`] when SLOs are given) come first, then by objective
//!    value ([`f64::total_cmp`], oriented by [`Direction`]), then mean end-to-end latency, then
//!    canonical plan string, then scheduler settings: a total order, so ties are broken
//!    deterministically.
//! 4. **Baselines.** The common heuristic ([`parallax_plan::heuristic_plan`]: TP within a
//!    node, PP across nodes, DP for the rest) and maximum TP ([`parallax_plan::max_tp_plan`]),
//!    with the base scheduler settings and at most [`SearchConstraints::max_gpus`] GPUs, are
//!    simulated the same way; each reports the best plan's gain ([`Objective::gain`]). A
//!    third, `best-even-split`, is the best simulated plan whose pipeline is split evenly
//!    (the search without the DP's uneven splits, see [`split`]), so their gain is visible.
//!
//! # Throughput: the steady-state rate search
//! For [`Objective::Throughput`] each plan is lowered once and driven by a steady-state
//! stream ([`SteadyState`]: by default 4,000 requests resampled from the workload's lengths
//! under Poisson arrivals, drawn once per search). The search starts from the plan's burst
//! capacity (the rate at which it completes the whole stream arriving at once; the
//! workload's own rate when that run completes nothing), and the rate
//! doubles (or halves) up to [`RATE_BRACKET_STEPS`] times until sustainability flips, then
//! [`RATE_BISECTION_STEPS`] geometric bisection steps narrow the bracket: a fixed,
//! deterministic number of simulations. A rate is sustained when every request completes,
//! completions keep up with those of a settled system in a measurement window that excludes
//! warm-up and drain (a stream too short for its latencies is extended),
//! and the SLO attainment of the requests arriving in the window reaches the target (see
//! [`throughput`](self::SteadyState) for the definition beside vLLM's and Vidur's); each
//! ranked plan reports its window ([`RankedPlan::window`]). The value is the highest rate
//! found sustained; it is 0 when even `2^-12 ×` the start is not (or no rate down to
//! [`SteadyState::lowest_rate`]), and capped at `2^12 ×` the start.
//! [`Objective::Goodput`] uses the same stream at the workload's own rate.
//!
//! # Bound pruning
//! Before simulating, each candidate is lowered and given an analytic lower bound on the
//! objective from its own stage costs (module `bound`: per request, a floor of its prefill
//! plus `output − 1` decode iterations of the request alone, through every pipeline stage;
//! the objective's mean or percentile of these). Candidates are simulated in bound
//! order in fixed waves ([`Search::exact_top`] candidates, then [`BOUND_WAVE`] at a time), and
//! one whose bound is worse than the
//! [`Search::exact_top`]-th best value found (and, for an evenly split plan, than the best
//! even plan) is skipped and counted in `plans_pruned["bound"]` (not in
//! `plans_pruned_total`, which counts the enumeration's pruning). The top
//! [`Search::exact_top`] ranked plans, the best plan and the baselines are those of a search
//! without pruning; the rest of [`SearchReport::ranked`] lists only the plans simulated. The
//! bound assumes a stage's step time never decreases when its batch gains tokens, sequences
//! or context (tested: bound ≤ simulated value for every plan of small searches). Off for
//! `throughput`, `goodput` and `energy`, and with a Pareto front.
//!
//! # Time limits
//! [`Limits::time`] bounds the whole search, from [`Search::run`]'s start: it is checked
//! before each scheduler setting's enumeration and each plan's uneven split, before each
//! candidate starts and before each simulation of a steady-state rate search, and in every
//! loop of the disaggregated phase (see [`DisaggComparison`]). Once past, the remaining
//! candidates (and a candidate whose rate search it cuts) are skipped and the stop reason is
//! [`StopReason::TimeLimit`], whichever phase it cut. Which candidates
//! were simulated then depends on timing and thread count — the only way a report can differ
//! between runs. A plan limit is deterministic.
//!
//! Without [`Limits::time`] the search runs under [`DEFAULT_TIME_LIMIT`] (300 s): on a huge
//! cluster (thousands of candidates) it stops there instead of running for hours, reports
//! what it simulated, [`StopReason::TimeLimit`] and the budget ([`SearchReport::time_limit_s`]).
//! Searches that finish within it are unaffected and deterministic.

mod bound;
mod disagg;
mod eplb;
mod objective;
mod prune;
mod report;
mod serving;
pub mod split;
mod throughput;

pub use disagg::{
    DisaggComparison, DisaggMode, DisaggRanked, PoolPlan, Winner, DISAGG_AUTO_MIN_GPUS,
};
pub use eplb::{EplbChoice, EplbMode, EplbOption};
pub use objective::{Direction, Objective};
pub use report::{
    Baseline, Infeasibility, MemorySetting, ParetoFront, ParetoPoint, RankedPlan, SearchReport,
    StopReason,
};
pub use serving::ServingFeatures;
pub use throughput::{
    SteadyArrivals, SteadyState, SteadyWindow, DEFAULT_DRIFT_TOLERANCE, DEFAULT_MAX_EXTENSION,
    DEFAULT_MIN_LATENCIES, DEFAULT_STEADY_REQUESTS, DRIFT_Z, MAX_STEADY_REQUESTS,
    MIN_MEASURED_FRACTION, MIN_STEADY_REQUESTS,
};

use crate::error::{Error, Result};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::Model;
use parallax_plan::{
    heuristic_plan, lower_plan, max_tp_plan, Allowed, Constraints, EngineModel, LowerOptions,
    MemoryOptions, MemoryShortfall, Plan, PlanError, PruneReason,
};
use parallax_sim::{Deadline, Metrics, SchedulerConfig, SimConfig, Simulator, Slo, Workload};
use prune::Slot;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Doubling (or halving) steps of the rate multiplier before bisection, at most.
pub const RATE_BRACKET_STEPS: u32 = 12;
/// Geometric bisection steps of the rate search (final bracket ratio `2^(1/2^6)` ≈ 1.1 %).
pub const RATE_BISECTION_STEPS: u32 = 6;
/// Default [`Search::exact_top`]: the ten best plans (the CLI's default `--top`).
pub const DEFAULT_EXACT_TOP: usize = 10;
/// Candidates simulated together between two updates of the bound-pruning threshold, after a
/// first wave of [`Search::exact_top`] candidates: fixed, so that which plans are pruned does
/// not depend on the thread count.
pub const BOUND_WAVE: usize = 8;
/// Default required SLO attainment.
pub const DEFAULT_SLO_TARGET: f64 = 0.9;

/// The wall-clock budget of a search whose [`Limits::time`] is unset: 300 s.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Budget of a search. Running out of it is a result ([`StopReason`]), not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Simulate at most this many candidates (the first in enumeration order);
    /// deterministic.
    pub max_plans: Option<usize>,
    /// Stop starting new simulations after this wall time; the result then depends on timing.
    /// `None` (default): [`DEFAULT_TIME_LIMIT`].
    pub time: Option<Duration>,
}

/// Which plans the search considers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SearchConstraints {
    /// Most GPUs a plan may use (default: the whole cluster).
    pub max_gpus: Option<u32>,
    /// Only plans using exactly `max_gpus` (or the whole cluster). `None` (default): `true`,
    /// except for [`Objective::MinGpus`], which needs smaller plans.
    pub use_all_gpus: Option<bool>,
    /// Deepest pipeline.
    pub max_pp: Option<u32>,
    /// Allowed parallelisms (DP, PP, TP, EP, attention and MLP cell replicas).
    pub allowed: Allowed,
}

/// Scheduler settings to search over: each non-empty list replaces the base setting's field,
/// and the candidates are every plan × every combination.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulerSpace {
    /// Values of `max_num_seqs` (max batch size) to try.
    pub max_num_seqs: Vec<u32>,
    /// Chunk sizes to try (chunked/Sarathi scheduler only).
    pub chunk_sizes: Vec<u32>,
}

/// Progress of a running search, passed to [`Search::progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Candidates finished (simulated, or skipped by bound pruning or the time limit).
    pub simulated: usize,
    /// Candidates to simulate.
    pub total: usize,
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A plan search, configured with builder methods and started with [`Search::run`].
#[derive(Clone)]
pub struct Search {
    model: Model,
    cluster: Cluster,
    workload: Workload,
    objective: Objective,
    slo: Slo,
    slo_target: f64,
    cost: Option<Arc<dyn CostModel>>,
    limits: Limits,
    constraints: SearchConstraints,
    scheduler: SchedulerConfig,
    space: SchedulerSpace,
    memory: MemoryOptions,
    price: Option<f64>,
    pareto: Option<(Objective, Objective)>,
    progress: Option<ProgressFn>,
    engine: Option<EngineModel>,
    steady: SteadyState,
    disagg: DisaggMode,
    moe_load: Option<parallax_plan::MoeLoad>,
    eplb: EplbMode,
    serving: ServingFeatures,
    exact_top: Option<usize>,
    cancel: Option<Arc<AtomicBool>>,
}

impl fmt::Debug for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Search")
            .field("model", &self.model.name)
            .field("cluster", &self.cluster.spec())
            .field("workload", &self.workload.name)
            .field("objective", &self.objective)
            .field("slo", &self.slo)
            .field("limits", &self.limits)
            .field("constraints", &self.constraints)
            .field("scheduler", &self.scheduler)
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}

impl Search {
    /// A search of `model` on `cluster` for `workload` with the defaults: objective
    /// [`Objective::E2eMean`], no SLOs (target 90 % when given), the cost model
    /// [`crate::cost_model`]`(cluster, Auto)`, no limits, every parallelism (MLP cell
    /// replicas included), vLLM default scheduler settings, the GPU's catalogue price.
    pub fn new(model: Model, cluster: Cluster, workload: Workload) -> Self {
        Search {
            model,
            cluster,
            workload,
            objective: Objective::default(),
            slo: Slo::default(),
            slo_target: DEFAULT_SLO_TARGET,
            cost: None,
            limits: Limits::default(),
            constraints: SearchConstraints::default(),
            scheduler: SchedulerConfig::default(),
            space: SchedulerSpace::default(),
            memory: MemoryOptions::default(),
            price: None,
            pareto: None,
            progress: None,
            engine: None,
            steady: SteadyState::default(),
            disagg: DisaggMode::default(),
            moe_load: None,
            eplb: EplbMode::default(),
            serving: ServingFeatures::default(),
            exact_top: Some(DEFAULT_EXACT_TOP),
            cancel: None,
        }
    }

    /// Bound pruning: the `n` best plans of [`SearchReport::ranked`] (and the best evenly
    /// split plan, for the `best-even-split` baseline) are exactly those of a search that
    /// simulates every candidate, and a candidate whose analytic lower bound on the objective
    /// (see [bound pruning](self#bound-pruning)) is worse than the `n`-th best value found so far is
    /// not simulated (counted in `plans_pruned["bound"]`). `None`: simulate every candidate.
    /// Default [`DEFAULT_EXACT_TOP`]. Pruning is off for `throughput`, `goodput`, `energy`
    /// and with a Pareto front (which needs every plan).
    pub fn exact_top(mut self, n: Option<usize>) -> Self {
        self.exact_top = n;
        self
    }

    /// MoE routing skew and EPLB every plan is lowered with ([`LowerOptions::moe_load`]):
    /// each MoE layer runs at its busiest EP rank's speed. Plans whose EP degree does not
    /// divide the experts plus the EPLB replicas fail to lower and are not ranked. With
    /// [`Search::eplb`]`(`[`EplbMode::Auto`]`)` the EPLB count is chosen per plan instead.
    pub fn moe_load(mut self, load: parallax_plan::MoeLoad) -> Self {
        self.moe_load = Some(load);
        self
    }

    /// The serving engine every plan runs under: its CUDA-graph policy, eager issue time,
    /// host work, memory fraction and block size, and the memory of its speculative draft. Its scheduler becomes the base scheduler
    /// (call [`Search::scheduler`] afterwards to override it). Without an engine, plans are
    /// lowered with [`LowerOptions::default`] and simulated without host work.
    pub fn engine(mut self, engine: EngineModel) -> Self {
        self.scheduler = engine.scheduler;
        self.memory.gpu_memory_utilization = engine.gpu_memory_utilization;
        self.memory.rule = engine.memory_rule;
        self.memory.block_size = engine.block_size;
        self.engine = Some(engine);
        self
    }

    /// How `throughput` and `goodput` drive each plan (stream length, arrivals, window).
    pub fn steady_state(mut self, steady: SteadyState) -> Self {
        self.steady = steady;
        self
    }

    /// Whether to also search disaggregated deployments (a prefill pool and a decode pool,
    /// see [`DisaggComparison`]); default [`DisaggMode::Auto`].
    pub fn disaggregation(mut self, mode: DisaggMode) -> Self {
        self.disagg = mode;
        self
    }

    /// What to optimise.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// Service-level objectives (constraints for every objective; needed by `throughput` and
    /// `goodput`).
    pub fn slo(mut self, slo: Slo) -> Self {
        self.slo = slo;
        self
    }

    /// Fraction of requests that must meet every SLO, in (0, 1]; default 0.9.
    pub fn slo_target(mut self, target: f64) -> Self {
        self.slo_target = target;
        self
    }

    /// The cost model every op is priced with (a custom [`CostModel`] plugs in here).
    pub fn cost_model(mut self, cost: Arc<dyn CostModel>) -> Self {
        self.cost = Some(cost);
        self
    }

    /// The search budget.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Which plans to consider.
    pub fn constraints(mut self, constraints: SearchConstraints) -> Self {
        self.constraints = constraints;
        self
    }

    /// Base scheduler settings (used as given unless [`Search::scheduler_space`] lists
    /// override fields; the baselines always use them).
    pub fn scheduler(mut self, scheduler: SchedulerConfig) -> Self {
        self.scheduler = scheduler;
        self
    }

    /// Scheduler settings to search over.
    pub fn scheduler_space(mut self, space: SchedulerSpace) -> Self {
        self.space = space;
        self
    }

    /// Fraction of each GPU's memory the engine may use for weights, activations and KV cache
    /// (vLLM's `--gpu-memory-utilization`; replaces the engine's own memory rule, such as
    /// SGLang's static fraction, with vLLM's; keeps the other memory options). Call it after
    /// [`Search::engine`], which sets the engine's own fraction and rule.
    pub fn gpu_memory_utilization(mut self, fraction: f64) -> Self {
        self.memory.use_utilization(fraction);
        self
    }

    /// Memory settings (GPU memory utilisation, KV block size, runtime reserve). Their
    /// `max_num_batched_tokens` and `max_num_seqs` are replaced by each scheduler setting's.
    pub fn memory(mut self, memory: MemoryOptions) -> Self {
        self.memory = memory;
        self
    }

    /// Price of one GPU-hour for [`Objective::Cost`] (default: the GPU catalogue's price).
    pub fn price_per_gpu_hour(mut self, price: f64) -> Self {
        self.price = Some(price);
        self
    }

    /// Also compute the Pareto front of two objectives ([`SearchReport::pareto`]).
    pub fn pareto(mut self, a: Objective, b: Objective) -> Self {
        self.pareto = Some((a, b));
        self
    }

    /// A callback told of progress after each candidate (from worker threads, in no
    /// particular order).
    pub fn progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Stop early once `flag` is set (by any thread: a Ctrl-C handler, a user interface):
    /// no candidate is enumerated, lowered or simulated after it, simulations already running
    /// stop within 1,024 events, and [`Search::run`] returns what was simulated with
    /// [`StopReason::Cancelled`]. A flag set before the run starts cuts it before any
    /// simulation.
    ///
    /// # Examples
    /// ```
    /// use parallax::search::{Search, StopReason};
    /// use std::sync::{atomic::AtomicBool, Arc};
    ///
    /// let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    /// let cluster = parallax::hw::Cluster::parse("1x8xH100").unwrap();
    /// let workload = parallax::load_workload("chat", None, None).unwrap();
    /// let flag = Arc::new(AtomicBool::new(true)); // already set
    /// let report = Search::new(model, cluster, workload).cancel_on(flag).run().unwrap();
    /// assert_eq!(report.stop_reason, StopReason::Cancelled);
    /// assert!(report.best.is_none());
    /// ```
    pub fn cancel_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |option: &str, value: String, expected: &str| {
            Err(Error::Option {
                option: option.into(),
                value,
                expected: expected.into(),
            })
        };
        let has_slo = self.slo.ttft_ms.is_some() || self.slo.tpot_ms.is_some();
        if self.objective.needs_slo() && !has_slo {
            return bad(
                "objective",
                self.objective.name().into(),
                "at least one SLO (TTFT or TPOT) with this objective: it counts requests \
                 within the SLOs",
            );
        }
        for (name, v) in [
            ("slo.ttft_ms", self.slo.ttft_ms),
            ("slo.tpot_ms", self.slo.tpot_ms),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                return bad(name, v.to_string(), "a finite time > 0 ms");
            }
        }
        if !(self.slo_target > 0.0 && self.slo_target <= 1.0) {
            return bad(
                "slo_target",
                self.slo_target.to_string(),
                "a fraction in (0, 1]",
            );
        }
        if self.exact_top == Some(0) {
            return bad(
                "exact_top",
                "0".into(),
                "at least 1 plan, or none to simulate all",
            );
        }
        if self.limits.max_plans == Some(0) {
            return bad("limits.max_plans", "0".into(), "at least 1 plan");
        }
        if let Some(p) = self.price {
            if !(p.is_finite() && p >= 0.0) {
                return bad("price_per_gpu_hour", p.to_string(), "a finite price ≥ 0");
            }
        }
        if self.workload.is_empty() {
            return bad(
                "workload",
                self.workload.name.clone(),
                "a workload with at least one request",
            );
        }
        // TPOT is the time per output token after the first: without a request of two output
        // tokens or more, every plan would rank by an undefined 0 ms
        if matches!(self.objective, Objective::TpotMean | Objective::TpotP99)
            && self.workload.requests.iter().all(|r| r.output_tokens < 2)
        {
            return bad(
                "workload",
                self.workload.name.clone(),
                &format!(
                    "for objective {}, requests of at least 2 output tokens (TPOT is the time \
                     per output token after the first; every request here has at most one)",
                    self.objective.name()
                ),
            );
        }
        if self.objective.needs_slo() && self.workload.mean_rate().is_none() {
            return bad(
                "workload",
                self.workload.name.clone(),
                "a workload with at least two distinct arrival times (goodput runs at its \
                 arrival rate, and throughput starts there when a plan's burst capacity \
                 cannot be measured)",
            );
        }
        if self.objective.needs_slo() {
            self.steady.validate()?;
            self.steady.validate_target(self.slo_target)?;
        }
        if let (Objective::Goodput, Some(rate)) = (self.objective, self.workload.mean_rate()) {
            // the stream at the workload's rate must arrive within the simulator's horizon
            let lowest = 2.0 * self.steady.requests as f64 / parallax_sim::workload::MAX_ARRIVAL_S;
            if rate < lowest {
                return bad(
                    "workload.rate",
                    format!("{rate:e}"),
                    &format!(
                        "for goodput, which runs {} steady-state requests at the workload's \
                         rate, a rate of at least {lowest:e} req/s (they must arrive within \
                         {:e} s), or fewer steady-state requests",
                        self.steady.requests,
                        parallax_sim::workload::MAX_ARRIVAL_S / 2.0
                    ),
                );
            }
        }
        if !self.space.chunk_sizes.is_empty() && !self.scheduler.kind.chunked() {
            return bad(
                "scheduler_space.chunk_sizes",
                comma_list(&self.space.chunk_sizes),
                "the sarathi (chunked) scheduler: the other policies do not chunk prefills",
            );
        }
        for (name, list) in [
            ("scheduler_space.max_num_seqs", &self.space.max_num_seqs),
            ("scheduler_space.chunk_sizes", &self.space.chunk_sizes),
        ] {
            for (i, v) in list.iter().enumerate() {
                if *v == 0 {
                    return bad(name, comma_list(list), "values ≥ 1");
                }
                if list[..i].contains(v) {
                    return bad(name, comma_list(list), "distinct values (no repeats)");
                }
            }
        }
        if self.constraints.max_pp == Some(0) {
            return bad("max_pp", "0".into(), "a pipeline depth of at least 1");
        }
        crate::check_context(&self.model, &self.workload)?;
        self.scheduler.validate()?;
        self.memory.validate()?;
        self.serving.validate()?;
        Ok(())
    }

    /// The scheduler settings to try, in order.
    fn scheduler_configs(&self) -> Vec<SchedulerConfig> {
        let seqs: Vec<u32> = if self.space.max_num_seqs.is_empty() {
            vec![self.scheduler.max_num_seqs]
        } else {
            self.space.max_num_seqs.clone()
        };
        let chunks: Vec<Option<u32>> = if self.space.chunk_sizes.is_empty() {
            vec![self.scheduler.chunk_size]
        } else {
            self.space.chunk_sizes.iter().map(|&c| Some(c)).collect()
        };
        let mut out = Vec::new();
        for &s in &seqs {
            for &c in &chunks {
                out.push(SchedulerConfig {
                    max_num_seqs: s,
                    chunk_size: c,
                    ..self.scheduler
                });
            }
        }
        out
    }

    /// Whether `plan` can be lowered with the MoE load (EPLB replicas divide over its EP ranks).
    fn moe_load_fits(&self, plan: &Plan) -> bool {
        self.moe_load
            .map_or(true, |l| l.busiest_rank_share(&self.model, plan).is_ok())
    }

    /// The simulator settings of a candidate run with scheduler `sched`: the engine's
    /// (host time, scheduling ahead, front end), the SLOs and the serving features.
    fn sim_config(&self, sched: &SchedulerConfig) -> SimConfig {
        let base = SimConfig {
            slo: self.slo,
            ..SimConfig::default()
        };
        let mut config = match &self.engine {
            Some(e) => e.sim_config(&base),
            None => base,
        };
        config.scheduler = *sched;
        self.serving.apply(&mut config);
        config
    }

    /// Lowering options for scheduler setting `s` (the engine's graphs and issue time).
    fn lower_options(&self, s: &SchedulerConfig, required_kv_tokens: u64) -> LowerOptions {
        let base = LowerOptions {
            required_kv_tokens,
            ..LowerOptions::default()
        };
        let mut o = match &self.engine {
            Some(e) => e.lower_options(&base),
            None => base,
        };
        o.memory = self.memory_for(s);
        o.moe_load = self.moe_load;
        o.host_link_bandwidth = self.serving.host_link_bandwidth;
        o
    }

    /// The memory options of scheduler setting `s`: the search's, with the setting's limits
    /// and the engine's speculative draft (derived here, so that [`Search::memory`] called
    /// after [`Search::engine`] keeps it).
    fn memory_for(&self, s: &SchedulerConfig) -> MemoryOptions {
        MemoryOptions {
            max_num_batched_tokens: s.token_budget(),
            max_num_seqs: s.max_num_seqs,
            draft_module: self
                .engine
                .as_ref()
                .is_some_and(EngineModel::loads_draft_module),
            ..self.memory
        }
    }

    /// The search's cost model (wrapped by the engine's), the price of a GPU-hour, and on a
    /// heterogeneous cluster one cost model per node group (empty otherwise).
    #[allow(clippy::type_complexity)]
    fn costs(&self) -> Result<(Arc<dyn CostModel>, f64, Vec<Arc<dyn CostModel>>)> {
        let cost = match &self.cost {
            Some(c) => Arc::clone(c),
            None => crate::cost_model(&self.cluster, crate::CostModelChoice::Auto)?,
        };
        let cost = match &self.engine {
            Some(e) => e.cost_model(cost, self.cluster.gpu.memory_bandwidth),
            None => cost,
        };
        let price = self.price.unwrap_or(self.cluster.gpu.price_per_hour);
        // A heterogeneous cluster: one cost model per node group (empty otherwise).
        let group_costs = if self.cluster.is_heterogeneous() {
            crate::hetero::group_cost_models(
                &self.cluster,
                self.cost.as_ref(),
                self.engine.as_ref(),
            )?
        } else {
            Vec::new()
        };
        Ok((cost, price, group_costs))
    }

    /// The analytic lower bound on the objective of `plan` run with the base scheduler
    /// settings, the value that [bound pruning](self#bound-pruning) compares: the plan's
    /// simulated objective is never better. `None` for
    /// objectives without one (`throughput`, `goodput`, `energy`).
    ///
    /// # Errors
    /// As [`Search::run`] for invalid settings; [`Error::Plan`] when the plan does not lower
    /// (invalid for the model, or it does not fit memory).
    pub fn lower_bound(&self, plan: &Plan) -> Result<Option<f64>> {
        self.check()?;
        let (cost, price, group_costs) = self.costs()?;
        let ctx = Ctx {
            search: self,
            cost: &cost,
            group_costs,
            required: crate::largest_request_tokens(&self.workload),
            price,
            sims: AtomicU64::new(0),
            stream: None,
            burst: None,
            deadline: Deadline::default(),
        };
        let (sim, price) = ctx.prepare(plan, &self.scheduler)?;
        if !self.has_bound() {
            return Ok(None);
        }
        Ok(bound::lower_bound(
            self.objective,
            &sim,
            &self.workload,
            plan.devices(),
            price,
        ))
    }

    /// Run the search.
    ///
    /// # Returns
    /// A [`SearchReport`]; when no plan fits, its `best` is `None` and `infeasible` says why
    /// (with the closest memory miss).
    ///
    /// # Complexity
    /// One lowering and one simulation per candidate (about 2 × `RATE_BRACKET_STEPS`-bounded
    /// plus [`RATE_BISECTION_STEPS`] simulations for `throughput`), spread over the rayon pool;
    /// enumeration and lowering are independent of the model's depth.
    ///
    /// # Errors
    /// [`Error::Option`] for invalid settings (an SLO-based objective without SLOs, an SLO
    /// target outside (0, 1], chunk sizes without the chunked scheduler, …),
    /// [`Error::Simulation`] for invalid scheduler settings, [`Error::Plan`] for invalid
    /// memory options or `max_gpus`.
    pub fn run(&self) -> Result<SearchReport> {
        let start = Instant::now();
        self.check()?;
        let (cost, price, group_costs) = self.costs()?;
        let required = crate::largest_request_tokens(&self.workload);
        let use_all = self
            .constraints
            .use_all_gpus
            .unwrap_or(self.objective != Objective::MinGpus);
        // Every search has a budget, for both phases; a limit past what `Instant` can
        // represent is never reached (no overflow panic).
        let budget = self.limits.time.unwrap_or(DEFAULT_TIME_LIMIT);
        let mut deadline = Deadline::from(start.checked_add(budget));
        if let Some(flag) = &self.cancel {
            deadline = deadline.cancel_on(flag.clone());
        }
        // Whether the deadline cut the enumeration (no simulation then starts).
        let mut enumeration_cut = false;

        // 1. Candidates.
        let mut candidates: Vec<(Plan, SchedulerConfig)> = Vec::new();
        let mut enumerated = 0u64;
        let mut pruned: BTreeMap<String, u64> = [
            PruneReason::Symmetry,
            PruneReason::Divisibility,
            PruneReason::Topology,
            PruneReason::Memory,
        ]
        .into_iter()
        .map(|r| (r.name().to_string(), 0))
        .collect();
        let mut closest: Option<MemoryShortfall> = None;
        let mut uneven_count = 0u64;
        for s in self.scheduler_configs() {
            if deadline.passed() {
                enumeration_cut = true;
                break;
            }
            let e = parallax_plan::hetero::enumerate_with_mix(
                &self.model,
                &self.cluster,
                &Constraints {
                    max_gpus: self.constraints.max_gpus,
                    use_all_gpus: use_all,
                    max_pp: self.constraints.max_pp,
                    allowed: self.constraints.allowed,
                    required_kv_tokens: required,
                    memory: self.memory_for(&s),
                    ..Constraints::default()
                },
                &group_costs,
                // Mixed pipelines' layer chains are timed on the workload's batch mix.
                &split::batch_mix(
                    &self.workload,
                    s.max_num_batched_tokens,
                    s.max_num_seqs.min(64),
                ),
            )?;
            enumerated += e.enumerated;
            for (r, n) in &e.pruned {
                *pruned.entry(r.name().to_string()).or_insert(0) += n;
            }
            if let Some(m) = e.closest_miss {
                keep_closest(&mut closest, m);
            }
            let opts = self.lower_options(&s, required);
            // EPLB replicas must divide over a plan's EP ranks (see `Search::moe_load`), and
            // their weights must fit beside the plan's own (the enumeration's memory check
            // does not know them).
            let mut plans = e.plans;
            if let Some(l) = &self.moe_load {
                let before = plans.len() as u64;
                plans.retain(|p| l.busiest_rank_share(&self.model, p).is_ok());
                let dropped = before - plans.len() as u64;
                if dropped > 0 {
                    *pruned.entry("moe-load".to_string()).or_insert(0) += dropped;
                }
                if l.redundant > 0 {
                    let before = plans.len() as u64;
                    plans.retain(|p| {
                        match parallax_plan::check_lowered_memory(
                            &self.model,
                            p,
                            &self.cluster,
                            &opts,
                        ) {
                            Err(PlanError::Memory(m)) => {
                                keep_closest(&mut closest, m);
                                false
                            }
                            // other faults are lowering's to report, as without EPLB
                            _ => true,
                        }
                    });
                    let dropped = before - plans.len() as u64;
                    if dropped > 0 {
                        *pruned.entry("eplb-memory".to_string()).or_insert(0) += dropped;
                    }
                }
            }
            // Uneven pipeline splits by the exact DP, beside the even ones (see `split`).
            let mix = split::batch_mix(
                &self.workload,
                s.max_num_batched_tokens,
                s.max_num_seqs.min(64),
            );
            let (uneven, cut) = split::uneven_plans_until(
                &self.model,
                &self.cluster,
                &cost,
                &opts,
                &mix,
                &plans,
                &deadline,
            );
            uneven_count += uneven.len() as u64;
            candidates.extend(plans.into_iter().chain(uneven).map(|p| (p, s)));
            if cut {
                enumeration_cut = true;
                break;
            }
        }
        let feasible = candidates.len() as u64 - uneven_count;
        let mut stop = StopReason::Exhausted;
        if let Some(n) = self.limits.max_plans {
            if candidates.len() > n {
                candidates.truncate(n);
                stop = StopReason::PlanLimit;
            }
        }

        // 2. Simulation.
        let stream = if self.objective.needs_slo() {
            Some(self.steady.stream(&self.workload)?)
        } else {
            None
        };
        let burst = match &stream {
            Some(st) if self.objective.searches_rate() => Some(burst_of(st)?),
            _ => None,
        };
        let ctx = Ctx {
            search: self,
            cost: &cost,
            group_costs,
            required,
            price,
            sims: AtomicU64::new(0),
            stream,
            burst,
            deadline: deadline.clone(),
        };
        let done = AtomicUsize::new(0);
        let total = candidates.len();
        let tick = || {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(cb) = &self.progress {
                cb(Progress {
                    simulated: n,
                    total,
                });
            }
        };
        let (results, bound_pruned) = self.simulate_all(&ctx, &candidates, &tick);
        let mut ranked = Vec::new();
        let mut skipped = false;
        for ((plan, sched), r) in candidates.into_iter().zip(results) {
            match r {
                Slot::Skipped => skipped = true,
                Slot::Pruned => {}
                Slot::Done(r) => ranked.push((*r)?.ranked(plan, sched)),
            }
        }
        if let Some(n) = bound_pruned {
            pruned.insert("bound".to_string(), n);
        }
        if skipped || enumeration_cut {
            stop = StopReason::cut_by(&deadline);
        }
        let obj = self.objective;
        ranked.sort_by(|a, b| {
            b.meets_constraints
                .cmp(&a.meets_constraints)
                .then(obj.compare(a.objective, b.objective))
                .then(a.metrics.e2e_s.mean.total_cmp(&b.metrics.e2e_s.mean))
                .then_with(|| a.plan.to_string().cmp(&b.plan.to_string()))
                .then_with(|| sched_key(&a.scheduler).cmp(&sched_key(&b.scheduler)))
        });
        for (i, r) in ranked.iter_mut().enumerate() {
            r.rank = i + 1;
        }
        let best = ranked.first().filter(|r| r.meets_constraints).cloned();

        // 3. Baselines, and disaggregated deployments against the best aggregated plan.
        let mut baselines = ctx.baselines(&ranked, best.as_ref());
        baselines.push(split::best_even_baseline(
            &ranked,
            best.as_ref(),
            self.objective,
        ));
        let (disaggregation, disagg_cut) =
            disagg::compare(&ctx, use_all, &deadline, best.as_ref())?;
        if disagg_cut {
            stop = StopReason::cut_by(&deadline);
        }

        // 4. Why nothing, if nothing.
        let infeasible = if best.is_some() {
            None
        } else if feasible == 0 && !enumeration_cut {
            let reason = match &closest {
                Some(m) => format!(
                    "no feasible plan among {enumerated} candidates for {} on {}; the closest, {m}",
                    self.model.name,
                    self.cluster.spec()
                ),
                // nothing to prune: the allowed parallelisms make no plan of the GPUs
                None if enumerated == 0 => format!(
                    "no plan of {} on {}: the allowed parallelisms ({}) cannot use its GPUs \
                     (ep, attn-replicas and mlp-replicas divide a stage's tensor-parallel GPUs, \
                     so they need tp; dp and pp add GPUs)",
                    self.model.name,
                    self.cluster.spec(),
                    allowed_names(&self.constraints.allowed)
                ),
                None => format!(
                    "no feasible plan among {enumerated} candidates for {} on {} (pruned: {})",
                    self.model.name,
                    self.cluster.spec(),
                    pruned
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(r, n)| format!("{r} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Some(Infeasibility {
                reason,
                deficit_bytes: closest.as_ref().map(|m| m.deficit_bytes()),
                closest_miss: closest,
            })
        } else if ranked.is_empty() {
            Some(Infeasibility {
                reason: format!(
                    "{} before any plan's simulation finished",
                    cut_reason(&deadline)
                ),
                closest_miss: None,
                deficit_bytes: None,
            })
        } else {
            Some(Infeasibility {
                reason: self.miss_reason(&ranked[0]),
                closest_miss: None,
                deficit_bytes: None,
            })
        };

        let pareto = match self.pareto {
            Some((a, b)) => {
                let tmp = SearchReport {
                    ranked: ranked.clone(),
                    ..self.empty_report(&cost, price)
                };
                Some(tmp.pareto(a, b)?)
            }
            None => None,
        };
        Ok(SearchReport {
            plans_enumerated: enumerated,
            plans_pruned_total: pruned
                .iter()
                .filter(|(r, _)| r.as_str() != "bound")
                .map(|(_, n)| n)
                .sum(),
            plans_pruned: pruned,
            plans_feasible: feasible,
            plans_uneven: uneven_count,
            plans_simulated: ranked.len() as u64,
            time_limit_s: budget.as_secs_f64(),
            simulations: ctx.sims.load(Ordering::Relaxed),
            stop_reason: stop,
            best,
            ranked,
            baselines,
            pareto,
            infeasible,
            elapsed: start.elapsed(),
            steady_state: self.objective.needs_slo().then_some(self.steady),
            disaggregation,
            ..self.empty_report(&cost, price)
        })
    }

    fn miss_reason(&self, r: &RankedPlan) -> String {
        let m = &r.metrics;
        let mut why = Vec::new();
        if m.requests.rejected > 0 {
            why.push(format!("{} requests rejected", m.requests.rejected));
        }
        if m.requests.unfinished > 0 {
            why.push(format!("{} requests unfinished", m.requests.unfinished));
        }
        match &r.window {
            // throughput and goodput: what the steady-state window showed
            Some(w) => {
                if !w.stable {
                    why.push(format!(
                        "not stable ({} requests measured of {}; completions {:.3} req/s of \
                         {:.3} expected; latency drift {:+.1} %)",
                        w.measured_requests,
                        w.driving_requests,
                        w.completion_rate_req_per_s,
                        w.expected_completion_rate_req_per_s,
                        100.0 * w.latency_drift
                    ));
                }
                if let (Some(a), Some(lo)) = (w.slo_attainment, w.slo_attainment_lower) {
                    if lo < self.slo_target {
                        why.push(format!(
                            "SLO attainment in the window {:.1} % (lower bound {:.1} %) < \
                             target {:.1} %",
                            100.0 * a,
                            100.0 * lo,
                            100.0 * self.slo_target
                        ));
                    }
                }
            }
            None => {
                if let Some(a) = m.slo.attainment {
                    if a < self.slo_target {
                        why.push(format!(
                            "SLO attainment {:.1} % < target {:.1} %",
                            100.0 * a,
                            100.0 * self.slo_target
                        ));
                    }
                }
            }
        }
        if self.objective.searches_rate() {
            why.push(format!(
                "no rate tried was sustained, down to {} req/s",
                r.rate_req_per_s
                    .map_or("-".to_string(), |x| format!("{x:.3e}"))
            ));
        }
        format!(
            "no plan meets the constraints; the closest, `{}`: {}",
            r.plan,
            why.join(", ")
        )
    }

    fn empty_report(&self, cost: &Arc<dyn CostModel>, price: f64) -> SearchReport {
        SearchReport {
            model: self.model.name.clone(),
            cluster: self.cluster.spec(),
            workload: self.workload.name.clone(),
            requests: self.workload.len(),
            rate_req_per_s: self.workload.mean_rate(),
            objective: self.objective,
            direction: self.objective.direction(),
            unit: self.objective.unit(),
            cost_model: cost.name().to_string(),
            engine: self
                .engine
                .as_ref()
                .map_or_else(|| "none".to_string(), |e| e.name.clone()),
            precision: self.model.precision.to_string(),
            memory: MemorySetting::of(&self.memory),
            slo: self.slo,
            slo_target: self.slo_target,
            scheduler: self.scheduler,
            price_per_gpu_hour: price,
            plans_enumerated: 0,
            plans_pruned: BTreeMap::new(),
            plans_pruned_total: 0,
            plans_feasible: 0,
            plans_uneven: 0,
            plans_simulated: 0,
            time_limit_s: self.limits.time.unwrap_or(DEFAULT_TIME_LIMIT).as_secs_f64(),
            simulations: 0,
            stop_reason: StopReason::Exhausted,
            best: None,
            ranked: Vec::new(),
            baselines: Vec::new(),
            pareto: None,
            infeasible: None,
            elapsed: Duration::ZERO,
            steady_state: None,
            disaggregation: None,
        }
    }
}

fn sched_key(s: &SchedulerConfig) -> (u32, Option<u32>, u32) {
    (s.max_num_seqs, s.chunk_size, s.max_num_batched_tokens)
}

/// One evaluated candidate.
struct Evaluated {
    metrics: Metrics,
    rate: Option<f64>,
    value: f64,
    meets: bool,
    gpus: u32,
    energy: f64,
    cost: f64,
    window: Option<SteadyWindow>,
    /// The EPLB setting chosen for the plan ([`eplb`]).
    eplb: Option<EplbChoice>,
}

impl Evaluated {
    fn ranked(self, plan: Plan, scheduler: SchedulerConfig) -> RankedPlan {
        RankedPlan {
            rank: 0,
            plan,
            gpus: self.gpus,
            scheduler,
            objective: self.value,
            meets_constraints: self.meets,
            rate_req_per_s: self.rate,
            energy_j_per_token: self.energy,
            cost_per_mtok: self.cost,
            metrics: self.metrics,
            window: self.window,
            eplb: self.eplb,
        }
    }
}

struct Ctx<'a> {
    search: &'a Search,
    cost: &'a Arc<dyn CostModel>,
    /// One cost model per node group of a heterogeneous cluster (empty otherwise).
    group_costs: Vec<Arc<dyn CostModel>>,
    required: u64,
    price: f64,
    sims: AtomicU64,
    /// The steady-state stream at unit rate (throughput and goodput only).
    stream: Option<Workload>,
    /// That stream arriving at once, which measures a plan's burst capacity (throughput
    /// only): [`Ctx::burst_capacity`].
    burst: Option<Workload>,
    /// When `Limits::time` runs out or the caller cancels ([`Search::cancel_on`]): no
    /// simulation starts after it, the rate search's included.
    deadline: Deadline,
}

impl Ctx<'_> {
    fn past_deadline(&self) -> bool {
        self.deadline.passed()
    }

    fn meets(&self, m: &Metrics) -> bool {
        m.requests.rejected == 0
            && m.requests.unfinished == 0
            && m.slo
                .attainment
                .map_or(true, |a| a >= self.search.slo_target)
    }

    fn run(&self, sim: &Simulator, w: &Workload) -> Result<Metrics> {
        self.sims.fetch_add(1, Ordering::Relaxed);
        // The search's budget also stops a simulation already running when it expires (the
        // candidate then counts as not simulated).
        Ok(sim.run_until(w, self.deadline.clone())?.metrics)
    }

    /// Lower and simulate one candidate (with the rate search for `throughput`) under MoE
    /// load `moe` (EPLB is chosen around it in [`eplb`]).
    fn evaluate_with(
        &self,
        plan: &Plan,
        sched: &SchedulerConfig,
        moe: Option<parallax_plan::MoeLoad>,
    ) -> Result<Evaluated> {
        let (sim, price) = self.prepare_with(plan, sched, moe)?;
        self.score(&sim, plan.devices(), price)
    }

    /// Lower one candidate under the search's MoE load: its simulator and the price of one
    /// of its GPU-hours.
    fn prepare(&self, plan: &Plan, sched: &SchedulerConfig) -> Result<(Simulator, f64)> {
        self.prepare_with(plan, sched, self.search.moe_load)
    }

    /// Lower one candidate under MoE load `moe`.
    fn prepare_with(
        &self,
        plan: &Plan,
        sched: &SchedulerConfig,
        moe: Option<parallax_plan::MoeLoad>,
    ) -> Result<(Simulator, f64)> {
        let s = self.search;
        let hetero = s.cluster.is_heterogeneous();
        let mut opts = s.lower_options(sched, self.required);
        opts.moe_load = moe;
        let lowered = if hetero {
            parallax_plan::hetero::lower_plan(&s.model, plan, &s.cluster, &self.group_costs, &opts)?
        } else {
            lower_plan(&s.model, plan, &s.cluster, Arc::clone(self.cost), &opts)?
        };
        let mut config = s.sim_config(sched);
        if let Some(e) = &s.engine {
            e.adapt_to_plan(&mut config, plan);
        }
        // Mixed GPU kinds: capacity-weighted routing and the plan's own GPUs' price.
        let price = if hetero {
            config.router = crate::hetero::router_for(plan, &s.cluster, config.router);
            match s.price {
                Some(p) => p,
                None => crate::hetero::plan_price_per_gpu_hour(plan, &s.cluster)?,
            }
        } else {
            self.price
        };
        Ok((Simulator::new(lowered.replicas, config)?, price))
    }

    /// Simulate `sim` (a lowered candidate on `gpus` GPUs, each costing `price` per hour) and
    /// score it for the objective.
    fn score(&self, sim: &Simulator, gpus: u32, price: f64) -> Result<Evaluated> {
        let s = self.search;
        let (metrics, rate, value, meets, window) = match &self.stream {
            Some(stream) => self.steady(sim, stream)?,
            None => {
                let m = self.run(sim, &s.workload)?;
                let v = s.objective.value(&m, gpus, price).unwrap_or(f64::NAN);
                let meets = self.meets(&m);
                (m, s.workload.mean_rate(), v, meets, None)
            }
        };
        let energy = Objective::Energy
            .value(&metrics, gpus, price)
            .unwrap_or(f64::NAN);
        let cost = Objective::Cost
            .value(&metrics, gpus, price)
            .unwrap_or(f64::NAN);
        Ok(Evaluated {
            metrics,
            rate,
            value,
            meets,
            gpus,
            energy,
            cost,
            window,
            eplb: None,
        })
    }

    /// `throughput` (the highest sustained rate, see [`SteadyState`]) or `goodput` (at the
    /// workload's rate) from the steady-state `stream`: metrics, rate, value, whether it is
    /// sustained, and the window.
    #[allow(clippy::type_complexity)]
    fn steady(
        &self,
        sim: &Simulator,
        stream: &Workload,
    ) -> Result<(Metrics, Option<f64>, f64, bool, Option<SteadyWindow>)> {
        let s = self.search;
        let base = s.workload.mean_rate().unwrap_or(1.0);
        let at = |rate: f64| -> Result<(bool, (Metrics, SteadyWindow))> {
            if self.past_deadline() {
                return Err(Error::Option {
                    option: "--time-limit".into(),
                    value: format!("{:?}", s.limits.time.unwrap_or_default()),
                    expected: format!(
                        "time for this plan's rate search: {} first, so the plan was not \
                         simulated",
                        cut_reason(&self.deadline)
                    ),
                });
            }
            let mut wl = stream.clone().with_rate(rate)?;
            self.sims.fetch_add(1, Ordering::Relaxed);
            let mut report = sim.run_until(&wl, self.deadline.clone())?;
            // A stream too short for its latencies is run again, longer (SteadyState docs).
            while let Some(n) = s
                .steady
                .extended_length(wl.len(), rate, report.metrics.e2e_s.mean)
            {
                wl = s.steady.stream_of(n, &s.workload)?.with_rate(rate)?;
                self.sims.fetch_add(1, Ordering::Relaxed);
                report = sim.run_until(&wl, self.deadline.clone())?;
            }
            let window = s.steady.window(&wl, &report, s.slo);
            let ok = window.sustains(&report.metrics, s.slo_target);
            Ok((ok, (report.metrics, window)))
        };
        if !s.objective.searches_rate() {
            let (ok, (m, w)) = at(base)?;
            let v = w.goodput_req_per_s.unwrap_or(f64::NAN);
            return Ok((m, Some(base), v, ok, Some(w)));
        }
        let floor = s.steady.lowest_rate();
        let start = match &self.burst {
            Some(burst) => self.burst_capacity(sim, burst)?,
            None => None,
        }
        .unwrap_or(base)
        .max(floor);
        let out =
            throughput::search_rate(start, RATE_BRACKET_STEPS, RATE_BISECTION_STEPS, floor, at)?;
        Ok(match out {
            throughput::RateOutcome::Sustained(r, (m, w)) => (m, Some(r), r, true, Some(w)),
            throughput::RateOutcome::Never(r, (m, w)) => (m, Some(r), 0.0, false, Some(w)),
        })
    }

    /// Where the rate search of `sim` starts: the rate at which it completes the whole
    /// steady-state stream arriving at once (`burst`: its completions over the makespan,
    /// with the fullest batches), near the highest rate it could sustain. `None` when that
    /// run completes nothing or gives no usable rate (the search then starts from the
    /// workload's rate).
    fn burst_capacity(&self, sim: &Simulator, burst: &Workload) -> Result<Option<f64>> {
        self.sims.fetch_add(1, Ordering::Relaxed);
        let rate = sim
            .run_until(burst, self.deadline.clone())?
            .metrics
            .throughput
            .requests_per_s;
        Ok((rate.is_finite()
            && (parallax_sim::workload::MIN_RATE..=parallax_sim::workload::MAX_RATE)
                .contains(&rate))
        .then_some(rate))
    }

    fn baselines(&self, ranked: &[RankedPlan], best: Option<&RankedPlan>) -> Vec<Baseline> {
        let s = self.search;
        let view = baseline_cluster(&s.cluster, s.constraints.max_gpus);
        let mem = s.memory_for(&s.scheduler);
        let kinds: [(&str, &str, BaselineFn); 2] = [
            (
                "heuristic",
                "TP within a node (smallest that fits), PP across nodes, DP for the rest",
                heuristic_plan,
            ),
            (
                "max-tp",
                "largest TP within a node, smallest PP that fits, DP for the rest",
                max_tp_plan,
            ),
        ];
        kinds
            .into_iter()
            .map(|(name, description, f)| {
                let mut b = Baseline::unset(name, description);
                let plan = match f(&s.model, &view, &mem, self.required) {
                    Ok(p) => p,
                    Err(e) => {
                        b.error = Some(e.to_string());
                        return b;
                    }
                };
                let found = ranked
                    .iter()
                    .find(|r| r.plan == plan && r.scheduler == s.scheduler);
                let r = match found {
                    Some(r) => Ok(r.clone()),
                    // Past the search's deadline no baseline is lowered or simulated.
                    None if self.past_deadline() => {
                        b.plan = Some(plan);
                        b.error = Some(format!(
                            "skipped: {} before this baseline was simulated",
                            cut_reason(&self.deadline)
                        ));
                        return b;
                    }
                    None => self
                        .evaluate(&plan, &s.scheduler)
                        .map(|e| e.ranked(plan.clone(), s.scheduler)),
                };
                b.plan = Some(plan);
                match r {
                    Ok(r) => {
                        b.objective = Some(r.objective);
                        b.meets_constraints = r.meets_constraints;
                        b.speedup =
                            best.and_then(|best| s.objective.gain(best.objective, r.objective));
                        b.metrics = Some(r.metrics);
                    }
                    // the deadline stopped its simulation
                    Err(_) if self.past_deadline() => {
                        b.error = Some(format!(
                            "skipped: {} while this baseline was simulated",
                            cut_reason(&self.deadline)
                        ))
                    }
                    Err(e) => b.error = Some(e.to_string()),
                }
                b
            })
            .collect()
    }
}

/// What cut the search short once `deadline` has passed: "the search was cancelled" or "the
/// time limit ran out".
pub(crate) fn cut_reason(deadline: &Deadline) -> &'static str {
    StopReason::cut_by(deadline).cut_message()
}

/// `16,64,256`: a list of knob values as the user writes it (`--max-num-seqs 16,64,256`).
fn comma_list(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

type BaselineFn = fn(&Model, &Cluster, &MemoryOptions, u64) -> std::result::Result<Plan, PlanError>;

/// The cluster the baselines may use: the whole cluster, or under a GPU limit the largest
/// whole-node part of it (a single node's first `max_gpus` GPUs below one node).
fn baseline_cluster(cluster: &Cluster, max_gpus: Option<u32>) -> Cluster {
    // On a heterogeneous cluster the baselines use its first node group.
    let mut c = cluster.group_cluster(0).unwrap_or_else(|| cluster.clone());
    if let Some(m) = max_gpus.filter(|&m| m > 0 && m < cluster.total_gpus()) {
        let g = cluster.gpus_per_node.max(1);
        if m < g {
            c.nodes = 1;
            c.gpus_per_node = m;
        } else {
            c.nodes = m / g;
        }
    }
    c
}

/// `stream` with every request arriving at its first arrival time (a burst).
fn burst_of(stream: &Workload) -> Result<Workload> {
    let t0 = stream.requests.first().map_or(0.0, |r| r.arrival_s);
    Ok(Workload::new(
        &stream.name,
        stream
            .requests
            .iter()
            .map(|r| parallax_sim::Request {
                arrival_s: t0,
                ..*r
            })
            .collect(),
    )?)
}

/// The parallelisms `a` allows, as `--parallelisms` names them (`none` for none).
fn allowed_names(a: &parallax_plan::Allowed) -> String {
    let names = [
        (a.dp, "dp"),
        (a.pp, "pp"),
        (a.tp, "tp"),
        (a.ep, "ep"),
        (a.attn_replicas, "attn-replicas"),
        (a.mlp_replicas, "mlp-replicas"),
    ];
    let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
    if on.is_empty() {
        "none".into()
    } else {
        on.join(", ")
    }
}

/// Keeps in `closest` the smaller of its memory miss and `m` (the "no feasible plan" report
/// names the closest).
fn keep_closest(closest: &mut Option<MemoryShortfall>, m: MemoryShortfall) {
    if closest
        .as_ref()
        .map_or(true, |c| m.deficit_bytes() < c.deficit_bytes())
    {
        *closest = Some(m);
    }
}
