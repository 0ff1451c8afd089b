//! [`Simulation`]: simulating one plan (or a disaggregated deployment) with named options
//! instead of [`crate::simulate_plan`]'s (or [`crate::simulate_disaggregated`]'s) seven
//! positional arguments.
//!
//! Migrating: `simulate_plan(&m, &c, &p, cost, &w, &config, &lower)` is
//! `Simulation::new(&m, &c, &p, &w).cost_model(cost).config(config).lower(lower).run()`,
//! except that [`Simulation::run`] sizes the memory's activation reserve from the scheduler's
//! limits (as `parallax simulate` and the search do) instead of taking them as given.

use crate::error::Result;
use crate::simulate::Lowering;
use parallax_hw::{Cluster, CostModel};
use parallax_ir::Model;
use parallax_plan::{
    DisaggPlan, EngineModel, LowerOptions, MemoryOptions, MemoryReport, MemoryRule, Plan,
};
use parallax_sim::{Deadline, SchedulerConfig, SimConfig, SimReport, Slo, Workload};
use std::fmt;
use std::sync::Arc;

/// One plan's simulation, configured with builder methods and started with
/// [`Simulation::run`]. Defaults: the cost model [`crate::cost_model`]`(cluster, Auto)`,
/// [`SimConfig::default`] (vLLM default scheduler, round-robin router, seed 0, no SLOs) and
/// [`LowerOptions::default`] (CUDA graphs, 90 % GPU memory).
///
/// ```
/// use parallax::{Cluster, Plan, Simulation, Slo};
/// let model = parallax::ir::resolve("llama-3.1-8b")?;
/// let cluster: Cluster = "1x2xH100".parse()?;
/// let plan: Plan = "tp=2".parse()?;
/// let workload = parallax::load_workload("chat", None, Some(32))?;
/// let report = Simulation::new(&model, &cluster, &plan, &workload)
///     .slo("ttft=500ms,tpot=50ms".parse()?)
///     .run()?;
/// assert_eq!(report.metrics.requests.completed, 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A disaggregated deployment (a prefill pool and a decode pool) is simulated the same way,
/// from [`Simulation::disaggregated`].
#[derive(Clone)]
pub struct Simulation<'a> {
    model: &'a Model,
    cluster: &'a Cluster,
    plan: Target<'a>,
    workload: &'a Workload,
    cost: Option<Arc<dyn CostModel>>,
    config: SimConfig,
    lower: LowerOptions,
    engine: Option<EngineModel>,
    deadline: Deadline,
}

/// What a [`Simulation`] runs: one plan, or the pools of a disaggregated deployment.
#[derive(Clone, Copy)]
enum Target<'a> {
    One(&'a Plan),
    Pools(&'a DisaggPlan),
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::One(p) => write!(f, "{p}"),
            Target::Pools(d) => write!(f, "{d}"),
        }
    }
}

impl fmt::Debug for Simulation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("model", &self.model.name)
            .field("cluster", &self.cluster.spec())
            .field("plan", &self.plan.to_string())
            .field("workload", &self.workload.name)
            .field("cost", &self.cost.as_ref().map(|c| c.name().to_string()))
            .field("config", &self.config)
            .field("lower", &self.lower)
            .field("engine", &self.engine.as_ref().map(|e| e.name.clone()))
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl<'a> Simulation<'a> {
    /// Simulate `workload` on `plan` of `model` over `cluster`, with the defaults.
    pub fn new(
        model: &'a Model,
        cluster: &'a Cluster,
        plan: &'a Plan,
        workload: &'a Workload,
    ) -> Self {
        Simulation {
            model,
            cluster,
            plan: Target::One(plan),
            workload,
            cost: None,
            config: SimConfig::default(),
            lower: LowerOptions::default(),
            engine: None,
            deadline: Deadline::default(),
        }
    }

    /// Simulate `workload` on the disaggregated deployment `plan` (`prefill=…;decode=…`: the
    /// prefill pool's instances hand each request's KV over to the decode pool's), with the
    /// defaults. The engine's per-plan settings follow the prefill pool's plan, where prompts
    /// are chunked.
    pub fn disaggregated(
        model: &'a Model,
        cluster: &'a Cluster,
        plan: &'a DisaggPlan,
        workload: &'a Workload,
    ) -> Self {
        Simulation {
            plan: Target::Pools(plan),
            ..Simulation::new(model, cluster, &plan.prefill_plan, workload)
        }
    }

    /// Run under serving-engine model `engine`: its scheduler and host time (later
    /// [`Simulation::scheduler`] or [`Simulation::config`] calls override them), its lowering
    /// options (graphs, eager issue, memory fraction, block size: a later
    /// [`Simulation::lower`] replaces them) and its kernels (the cost model is wrapped in
    /// [`parallax_plan::EngineCost`] when the simulation runs).
    pub fn engine(mut self, engine: &EngineModel) -> Self {
        self.config = engine.sim_config(&self.config);
        self.lower = engine.lower_options(&self.lower);
        self.engine = Some(engine.clone());
        self
    }

    /// The cost model every op is priced with.
    pub fn cost_model(mut self, cost: Arc<dyn CostModel>) -> Self {
        self.cost = Some(cost);
        self
    }

    /// All simulator settings at once (replaces earlier [`Self::scheduler`] / [`Self::slo`] /
    /// [`Self::seed`] calls).
    pub fn config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Scheduler policy and limits.
    pub fn scheduler(mut self, scheduler: SchedulerConfig) -> Self {
        self.config.scheduler = scheduler;
        self
    }

    /// Service-level objectives for the attainment and goodput metrics.
    pub fn slo(mut self, slo: Slo) -> Self {
        self.config.slo = slo;
        self
    }

    /// Seed of the simulator's random choices.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Stop the run at a wall-clock instant or when a flag is set ([`Deadline`]; default: never).
    /// A run cut short returns [`parallax_sim::SimError::DeadlineReached`] or
    /// [`parallax_sim::SimError::Cancelled`] and no metrics; one that finishes first is exactly
    /// the run without a deadline.
    pub fn deadline(mut self, deadline: impl Into<Deadline>) -> Self {
        self.deadline = deadline.into();
        self
    }

    /// Lowering options (memory, CUDA graphs, caches).
    pub fn lower(mut self, lower: LowerOptions) -> Self {
        self.lower = lower;
        self
    }

    /// Clients keep at most `n` requests in flight (a closed loop, as `vllm bench serve
    /// --max-concurrency`): a request is sent at its arrival time or when one completes.
    pub fn max_concurrency(mut self, n: u32) -> Self {
        self.config.max_concurrency = Some(n);
        self
    }

    /// Fraction of GPU memory the engine may use for weights, activations and KV cache
    /// (vLLM's `--gpu-memory-utilization`; replaces the engine's own memory rule, such as
    /// SGLang's static fraction, with vLLM's).
    pub fn gpu_memory_utilization(mut self, fraction: f64) -> Self {
        self.lower.memory.use_utilization(fraction);
        self
    }

    /// The memory of one replica under the engine's memory rule, as [`Simulation::run`]
    /// lowers the plan (without its check that a request fits).
    ///
    /// # Errors
    /// [`crate::Error::Plan`] for a plan the model or cluster cannot take;
    /// [`crate::Error::Option`] for a disaggregated deployment (a plan per pool).
    pub fn memory(&self) -> Result<MemorySummary> {
        match self.plan {
            Target::One(plan) => {
                MemorySummary::of_plan(self.model, plan, self.cluster, &self.synced_lower())
            }
            Target::Pools(d) => Err(crate::Error::Option {
                option: "plan".into(),
                value: d.to_string(),
                expected: "one plan for a memory summary (a disaggregated deployment has one \
                           plan per pool)"
                    .into(),
            }),
        }
    }

    /// The lowering options with the memory reserves sized for the scheduler's limits.
    fn synced_lower(&self) -> LowerOptions {
        let mut lower = self.lower;
        lower.memory.max_num_batched_tokens = self.config.scheduler.token_budget();
        lower.memory.max_num_seqs = self.config.scheduler.max_num_seqs;
        lower
    }

    /// Lower the plan and simulate.
    ///
    /// # Errors
    /// As [`crate::simulate_plan`]; also [`crate::Error::Option`] when the default cost model
    /// cannot be built, the deadline's errors ([`Simulation::deadline`]), and, for a
    /// disaggregated deployment, as [`crate::simulate_disaggregated`] (both pools needing
    /// more devices than the cluster has).
    pub fn run(&self) -> Result<SimReport> {
        let mut config = self.config;
        if let Some(e) = &self.engine {
            let adapt_to = match self.plan {
                Target::One(p) => p,
                // prompts are chunked in the prefill pool
                Target::Pools(d) => &d.prefill_plan,
            };
            e.adapt_to_plan(&mut config, adapt_to);
        }
        let config = &config;
        let lower = self.synced_lower();
        let costs;
        let what = if self.cluster.is_heterogeneous() {
            costs = crate::hetero::group_cost_models(
                self.cluster,
                self.cost.as_ref(),
                self.engine.as_ref(),
            )?;
            match self.plan {
                Target::One(p) => Lowering::MixedPlan(p, &costs),
                Target::Pools(d) => Lowering::MixedPools(d, &costs),
            }
        } else {
            let cost = match &self.cost {
                Some(c) => c.clone(),
                None => crate::cost_model(self.cluster, crate::CostModelChoice::Auto)?,
            };
            let cost = match &self.engine {
                Some(e) => e.cost_model(cost, self.cluster.gpu.memory_bandwidth),
                None => cost,
            };
            match self.plan {
                Target::One(p) => Lowering::Plan(p, cost),
                Target::Pools(d) => Lowering::Pools(d, cost),
            }
        };
        crate::simulate::simulate(
            self.model,
            self.cluster,
            what,
            self.workload,
            config,
            &lower,
            &self.deadline,
        )
    }
}

/// The memory of one replica of a plan under the engine's memory rule (`simulate`'s `memory`
/// line and JSON object, Python's `memory`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MemorySummary {
    /// `gpu_memory_utilization` (vLLM's rule), `mem_fraction_static` (SGLang's) or
    /// `free_gpu_memory_fraction` (TensorRT-LLM's).
    pub setting: &'static str,
    /// The fraction the stages used (SGLang's default is computed per plan).
    pub fraction: f64,
    /// KV-cache tokens of one replica (its fullest stage's; the smallest replica's).
    pub kv_tokens_per_replica: u64,
    /// The largest weights of one GPU, GiB.
    pub weights_gib_per_gpu: f64,
    /// The vLLM utilization giving the same KV cache: weights, reserves and KV over the GPU's
    /// memory, the smallest stage's, rounded down to 2 decimals.
    #[serde(skip)]
    pub vllm_equivalent: f64,
}

impl MemorySummary {
    /// The summary of one replica of `plan` lowered with `lower` (as
    /// [`parallax_plan::lowered_memory`] computes the memory, without the check that a request
    /// fits).
    ///
    /// # Errors
    /// [`crate::Error::Plan`] for a plan the model or cluster cannot take.
    pub fn of_plan(
        model: &Model,
        plan: &Plan,
        cluster: &Cluster,
        lower: &LowerOptions,
    ) -> Result<MemorySummary> {
        let reports = parallax_plan::lowered_memory(model, plan, cluster, lower)?;
        Ok(MemorySummary::of(&reports, &lower.memory))
    }

    /// The summary of `reports` (one per replica, as [`parallax_plan::lowered_memory`] gives
    /// them) under `memory`.
    pub fn of(reports: &[MemoryReport], memory: &MemoryOptions) -> MemorySummary {
        let stages = || reports.iter().flat_map(|r| r.stages.iter());
        let least = |f: &dyn Fn(&parallax_plan::StageMemory) -> f64| {
            stages().map(f).fold(f64::INFINITY, f64::min)
        };
        MemorySummary {
            setting: memory.rule.setting(),
            fraction: least(&|s| s.fraction),
            kv_tokens_per_replica: reports
                .iter()
                .map(|r| r.kv_blocks() * r.block_size as u64)
                .min()
                .unwrap_or(0),
            weights_gib_per_gpu: stages().map(|s| s.weights_bytes).fold(0.0, f64::max)
                / (1024.0 * 1024.0 * 1024.0),
            vllm_equivalent: crate::emit::floor_fraction(
                least(&|s| s.fraction_under(MemoryRule::Utilization)),
                100.0,
            ),
        }
    }
}
