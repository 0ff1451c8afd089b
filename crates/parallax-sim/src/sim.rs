//! The discrete-event simulator.
//!
//! # Event loop
//! Events are request arrivals (from the sorted workload) and engine "ready" points (an engine's
//! batch left the last pipeline stage, or a request arrived at an idle engine). At equal times
//! arrivals are handled first. At a ready point the engine applies its finished batch (tokens,
//! first-token and completion times) and forms the next one (see [`crate::scheduler`] for the
//! engine, pipeline and KV model).
//!
//! # Skipping ahead
//! When a scheduler forms a decode-only batch of every running request with no preemption, the
//! engine computes how many identical steps can follow before the first request finishes or
//! the KV cache runs out of blocks, and replays them without calling the scheduler or touching
//! requests: each step costs one [`crate::StageCost::step`] call per stage with the decode
//! group's context sum advanced by the batch size (O(pp), no per-request work). Requests are
//! updated in one pass when the run ends, when it is cut short by an arrival that could change
//! the plan, or at its last step. With one replica and `pp = 1` consecutive steps run in a tight
//! loop without touching the event queue.

use crate::cost::{ReplicaSpec, StepCost};
use crate::deadline::Deadline;
use crate::disagg::Disaggregation;
use crate::error::SimError;
use crate::host::HostOverhead;
use crate::itl::Gaps;
use crate::metrics::{
    GpuMetrics, Metrics, PrefixCacheMetrics, RejectReason, RequestCounts, RequestRecord, SimReport,
    SloMetrics, Span, Summary, SwapMetrics, Throughput, TokenCounts, TransferMetrics, TransferSpan,
};
use crate::prefix_cache::CpuTier;
use crate::router::{Router, RouterPolicy};
use crate::scheduler::{Engine, Inflight, Scheduler, SchedulerConfig};
use crate::swap::Swap;
use crate::workload::{Prefix, Workload};
use parallax_ir::{Batch, OpKind};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

/// Optional service-level objectives.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Slo {
    /// Time-to-first-token objective, ms.
    pub ttft_ms: Option<f64>,
    /// Time-per-output-token objective, ms.
    pub tpot_ms: Option<f64>,
}

/// Simulation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Scheduler policy and limits (every engine of every replica).
    pub scheduler: SchedulerConfig,
    /// Replica routing. Default round-robin.
    pub router: RouterPolicy,
    /// Seed of the only random choice ([`RouterPolicy::Random`]). Default 0.
    pub seed: u64,
    /// SLOs for attainment and goodput.
    pub slo: Slo,
    /// Record one [`Span`] per stage iteration for [`crate::chrome_trace`] (memory grows with
    /// iterations; off by default).
    pub record_timeline: bool,
    /// Skip ahead through repeated decode-only steps (default `true`). Results are identical
    /// either way (a test checks it byte for byte); `false` calls the scheduler every iteration.
    pub skip_ahead: bool,
    /// The serving engine's host (CPU) time per iteration (default none).
    #[serde(default)]
    pub host: HostOverhead,
    /// Most requests the clients keep in flight, as `vllm bench serve --max-concurrency` does:
    /// a request is sent at its arrival time or, when `max_concurrency` requests are already
    /// outstanding, as soon as one of them completes (or is rejected), whichever is later. Its
    /// record's `arrival_s` is the time it was sent. `None` (default): open loop.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Automatic prefix caching in every engine (vLLM's `enable_prefix_caching`; default
    /// `false`): full KV blocks are kept by content and reused by later requests with the same
    /// prefix (see [`crate::workload::Prefix`]). Off, results are exactly those without it.
    #[serde(default)]
    pub prefix_caching: bool,
    /// How a running request is preempted when KV runs out. Default recompute.
    #[serde(default)]
    pub preemption: PreemptionMode,
    /// Host swap space per GPU for [`PreemptionMode::Swap`], bytes (vLLM's `swap_space`,
    /// default 4 GiB). Split evenly over a replica's pipeline engines.
    #[serde(default = "default_swap_space")]
    pub swap_space_bytes_per_gpu: f64,
    /// Host-memory tier of the prefix cache per GPU, bytes (default 0: off; needs
    /// `prefix_caching`). Blocks evicted from the GPU are kept there (LRU) and loaded back over
    /// the stage's [`crate::HostLink`] when a later request's prefix finds them.
    #[serde(default)]
    pub cpu_prefix_cache_bytes_per_gpu: f64,
    /// Prefill/decode disaggregation (default `None`: every replica serves whole requests).
    #[serde(default)]
    pub disaggregation: Option<Disaggregation>,
    /// The engine schedules one iteration ahead (vLLM V1's async scheduling, SGLang's and
    /// TensorRT-LLM's overlap schedulers): the batch of iteration `k + 1` is formed when
    /// iteration `k` is launched, so a request that arrives while an engine is busy joins no
    /// earlier than the second iteration boundary after its arrival. An idle engine takes it at
    /// once. Default `false` (the batch is formed when the previous iteration ends).
    #[serde(default)]
    pub schedule_ahead: bool,
    /// One-way latency between a client and the engine's scheduler, seconds (HTTP, the API
    /// server, tokenization on the way in; detokenization and streaming on the way out).
    /// A request reaches the engine this long after it is sent, and its tokens reach the
    /// client this long after they are produced, so TTFT and end-to-end latency as the client
    /// measures them include it twice (TPOT not at all); in a closed loop the next request is
    /// sent when the last token arrives. Records and metrics are client times. Default 0.
    #[serde(default)]
    pub frontend_latency_s: f64,
    /// Seconds a replica's serving path spends streaming one output token to its client:
    /// one first-in-first-out server per replica, which delivers each iteration's tokens
    /// after those of earlier iterations. When the engines produce tokens faster than
    /// `1 / frontend_token_s` per second, tokens (first tokens included) and completions
    /// queue behind the backlog, and in a closed loop the next requests are sent later; the
    /// engine itself never waits. Records and metrics are client times. Default 0 (no
    /// limit).
    #[serde(default)]
    pub frontend_token_s: f64,
    /// Speculative decoding (multi-token prediction) in every engine: each decode step emits
    /// `1 + mean_accepted` tokens per request on average (see [`crate::Speculation`]). The
    /// cost model must price the verification and the drafts (`parallax_plan` does when its
    /// lowering is given the same draft count). Default `None`.
    #[serde(default)]
    pub speculation: Option<crate::Speculation>,
    /// Most prompt tokens one request prefills in one iteration under the chunked-prefill
    /// policies (`sarathi`, `prefill-first`), below the iteration's token budget: vLLM's
    /// `--long-prefill-token-threshold`, and SGLang under DP attention, where each rank
    /// chunks at `chunked_prefill_size / dp` while the ranks together fill the budget.
    /// `None` (default): the whole budget.
    #[serde(default)]
    pub prefill_chunk_per_request: Option<u32>,
}

/// Largest [`SimConfig::frontend_latency_s`] accepted, seconds.
pub const MAX_FRONTEND_LATENCY_S: f64 = 60.0;

/// Longest iteration a stage's cost may report, seconds (11.6 days): a longer one, or one that
/// is not finite, is a cost model's error (an efficiency of `5e-324`, a custom model returning
/// `1e300`), refused by [`SimError::InvalidConfig`] instead of carried into every metric.
pub const MAX_STEP_S: f64 = 1e6;

/// Largest [`SimConfig::frontend_token_s`] accepted, seconds per token.
pub const MAX_FRONTEND_TOKEN_S: f64 = 0.1;

fn default_swap_space() -> f64 {
    4.0 * (1u64 << 30) as f64
}

/// Preemption policy (vLLM v0's `preemption_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreemptionMode {
    /// Drop the KV and re-prefill prompt + generated tokens later.
    #[default]
    Recompute,
    /// Copy a decoding request's KV to host memory over the stage's [`crate::HostLink`] and
    /// back when room frees up (see [`crate::swap`]); falls back to recompute when the host
    /// swap space is full or the request is mid-prefill.
    Swap,
}

impl std::str::FromStr for PreemptionMode {
    type Err = SimError;

    /// Accepts `recompute`, `swap`.
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s.to_ascii_lowercase().as_str() {
            "recompute" => Ok(PreemptionMode::Recompute),
            "swap" => Ok(PreemptionMode::Swap),
            _ => Err(SimError::config("preemption", s, "recompute or swap")),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            scheduler: SchedulerConfig::default(),
            router: RouterPolicy::default(),
            seed: 0,
            slo: Slo::default(),
            record_timeline: false,
            skip_ahead: true,
            host: HostOverhead::default(),
            max_concurrency: None,
            prefix_caching: false,
            preemption: PreemptionMode::Recompute,
            swap_space_bytes_per_gpu: default_swap_space(),
            cpu_prefix_cache_bytes_per_gpu: 0.0,
            disaggregation: None,
            schedule_ahead: false,
            frontend_latency_s: 0.0,
            frontend_token_s: 0.0,
            speculation: None,
            prefill_chunk_per_request: None,
        }
    }
}

/// A configured simulator: replicas plus settings. Running it is pure and deterministic.
#[derive(Debug, Clone)]
pub struct Simulator {
    replicas: Vec<ReplicaSpec>,
    config: SimConfig,
}

#[derive(Debug, PartialEq)]
struct Ev {
    t: f64,
    seq: u64,
    r: u32,
    v: u32,
}

impl Eq for Ev {}

impl Ord for Ev {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest event.
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

struct Rep<'a> {
    spec: &'a ReplicaSpec,
    engines: Vec<Engine>,
    stage_free: Vec<f64>,
    busy: Vec<f64>,
    flops: f64,
    bytes: f64,
    /// Largest peak KV (blocks) a request may need on one engine.
    max_fit_blocks: u64,
    /// Seconds per swapped token, per stage (empty without swapping).
    swap_s_per_token: Vec<f64>,
    /// KV bytes per token over all stages.
    kv_bytes_per_token: f64,
    /// Tokens through the model's layers on this replica (see [`TokenCounts::forward`]).
    forward_tokens: u64,
}

struct Run<'a> {
    reps: Vec<Rep<'a>>,
    sched: Box<dyn Scheduler>,
    records: Vec<RequestRecord>,
    heap: BinaryHeap<Ev>,
    seq: u64,
    iterations: u64,
    breakdown: [f64; 5],
    timeline: Option<Vec<Span>>,
    batch: Batch,
    last_end: f64,
    bad_cost: Option<SimError>,
    skip_ahead: bool,
    host: HostOverhead,
    /// Closed loop: times at which client slots became free (completions, rejections),
    /// sorted, so the front is always the earliest free slot. Without token streams they
    /// free in time order; a stream's backlog can delay one replica's completions past
    /// another's later ones, so each is inserted in order.
    slots: Option<VecDeque<f64>>,
    /// [`SimConfig::frontend_latency_s`].
    frontend: f64,
    /// The streaming front end of each replica ([`SimConfig::frontend_token_s`]).
    streams: Vec<Stream>,
    /// [`SimConfig::schedule_ahead`].
    ahead: bool,
    /// A slot was released during the current `on_ready` call.
    released: bool,
    itl: Gaps,
    max_num_seqs: u32,
    /// [`SchedulerConfig::reserve_to_completion`].
    reserve_to_completion: bool,
    /// Tokens swapped by the batch being dispatched.
    swap_tokens: u64,
    /// Stage-seconds of swap transfers.
    swap_s: f64,
    /// Prompt tokens found in the prefix cache by the batch being dispatched.
    batch_cached: u64,
    /// Tokens the batch being dispatched loads from the host prefix tier.
    load_tokens: u64,
    /// Stage-seconds of host-tier loads.
    load_s: f64,
    /// Disaggregation: the pools' split, link and decode-pool router.
    disagg: Option<(Disaggregation, Router)>,
    /// Prefill → decode transfer times, s.
    transfers: Vec<f64>,
    /// Prefill → decode transfers for the timeline (recorded with it only).
    transfer_spans: Vec<TransferSpan>,
}

impl Simulator {
    /// Validate replicas and settings.
    ///
    /// Each replica needs at least one stage, `block_size ≥ 1`, at least one KV block per
    /// engine (`kv_blocks ≥ stages`), `gpus ≥ 1`, and finite non-negative power, peak FLOP/s
    /// and bandwidth.
    pub fn new(replicas: Vec<ReplicaSpec>, config: SimConfig) -> Result<Self, SimError> {
        if replicas.is_empty() {
            return Err(SimError::config("replicas", 0, "at least one replica"));
        }
        config.scheduler.validate()?;
        config.host.validate()?;
        if config.max_concurrency == Some(0) {
            return Err(SimError::config(
                "max_concurrency",
                0,
                "≥ 1 request in flight",
            ));
        }
        let f = config.frontend_latency_s;
        if !(f.is_finite() && (0.0..=MAX_FRONTEND_LATENCY_S).contains(&f)) {
            return Err(SimError::config(
                "frontend_latency_s",
                f,
                &format!("a time in [0, {MAX_FRONTEND_LATENCY_S}] seconds"),
            ));
        }
        let f = config.frontend_token_s;
        if !(f.is_finite() && (0.0..=MAX_FRONTEND_TOKEN_S).contains(&f)) {
            return Err(SimError::config(
                "frontend_token_s",
                f,
                &format!("a time in [0, {MAX_FRONTEND_TOKEN_S}] seconds per token"),
            ));
        }
        if let Some(spec) = &config.speculation {
            spec.validate()?;
        }
        if config.prefill_chunk_per_request == Some(0) {
            return Err(SimError::config(
                "prefill_chunk_per_request",
                0,
                "≥ 1 token (or none: the whole budget)",
            ));
        }
        for (i, r) in replicas.iter().enumerate() {
            let f = |name: &str| format!("replicas[{i}].{name}");
            if r.stages.is_empty() {
                return Err(SimError::config(
                    &f("stages"),
                    0,
                    "at least one pipeline stage",
                ));
            }
            if r.block_size == 0 {
                return Err(SimError::config(&f("block_size"), 0, "≥ 1 token"));
            }
            if r.kv_blocks < r.stages.len() as u64 {
                return Err(SimError::config(
                    &f("kv_blocks"),
                    r.kv_blocks,
                    &format!("≥ {} (one per pipeline engine)", r.stages.len()),
                ));
            }
            if r.gpus == 0 {
                return Err(SimError::config(&f("gpus"), 0, "≥ 1"));
            }
            for (name, v) in [
                ("power.idle_watts", r.power.idle_watts),
                ("power.busy_watts", r.power.busy_watts),
                ("peak_flops", r.peak_flops),
                ("peak_bandwidth", r.peak_bandwidth),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(SimError::config(&f(name), v, "a finite number ≥ 0"));
                }
            }
        }
        if let Some(v) = config.slo.ttft_ms.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(SimError::config("slo.ttft_ms", v, "a finite time > 0"));
        }
        if let Some(d) = &config.disaggregation {
            if d.prefill_replicas == 0 || d.prefill_replicas >= replicas.len() {
                return Err(SimError::config(
                    "disaggregation.prefill_replicas",
                    d.prefill_replicas,
                    &format!(
                        "1..={} so both pools have a replica ({} replicas in all)",
                        replicas.len().saturating_sub(1),
                        replicas.len()
                    ),
                ));
            }
            let l = &d.kv_link;
            for (name, v, zero_ok) in [
                ("kv_bytes_per_token", l.kv_bytes_per_token, false),
                ("bandwidth", l.bandwidth, false),
                ("latency_s", l.latency_s, true),
            ] {
                if !(v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0))) {
                    return Err(SimError::config(
                        &format!("disaggregation.kv_link.{name}"),
                        v,
                        if zero_ok {
                            "a finite number ≥ 0"
                        } else {
                            "a finite number > 0"
                        },
                    ));
                }
            }
        }
        let v = config.cpu_prefix_cache_bytes_per_gpu;
        if !(v.is_finite() && v >= 0.0) {
            return Err(SimError::config(
                "cpu_prefix_cache_bytes_per_gpu",
                v,
                "a finite size ≥ 0 bytes",
            ));
        }
        if v > 0.0 && !config.prefix_caching {
            return Err(SimError::config(
                "cpu_prefix_cache_bytes_per_gpu",
                v,
                "0 unless prefix_caching is on (the host tier holds evicted prefix blocks)",
            ));
        }
        if config.preemption == PreemptionMode::Swap || v > 0.0 {
            let v = config.swap_space_bytes_per_gpu;
            if !(v.is_finite() && v >= 0.0) {
                return Err(SimError::config(
                    "swap_space_bytes_per_gpu",
                    v,
                    "a finite size ≥ 0 bytes",
                ));
            }
            for (i, r) in replicas.iter().enumerate() {
                for (s, st) in r.stages.iter().enumerate() {
                    let ok = st.host_link().is_some_and(|l| {
                        l.kv_bytes_per_token.is_finite()
                            && l.kv_bytes_per_token > 0.0
                            && l.bandwidth.is_finite()
                            && l.bandwidth > 0.0
                    });
                    if !ok {
                        return Err(SimError::config(
                            &format!("replicas[{i}].stages[{s}].host_link"),
                            format!("{:?}", st.host_link()),
                            "KV bytes per token > 0 and a host-link bandwidth > 0 to swap KV",
                        ));
                    }
                }
            }
        }
        if config.router == RouterPolicy::PrefixAffinity && !config.prefix_caching {
            return Err(SimError::config(
                "router",
                "prefix-affinity",
                "prefix_caching on (the affinity router routes by cached prefix)",
            ));
        }
        if let Some(v) = config.slo.tpot_ms.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(SimError::config("slo.tpot_ms", v, "a finite time > 0"));
        }
        Ok(Simulator { replicas, config })
    }

    /// The replicas.
    pub fn replicas(&self) -> &[ReplicaSpec] {
        &self.replicas
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Simulate `workload` to completion.
    ///
    /// # Returns
    /// The report (metrics, one record per request, optional timeline). Errors only if a
    /// [`crate::StageCost`] returns a negative or non-finite time.
    ///
    /// # Complexity
    /// O((A + C) · (n + log E) + I · pp) for A arrivals, C completions/preemptions/KV-boundary
    /// events, n running requests per engine, E engines and I iterations; memory O(requests)
    /// (≈ 72 bytes each) plus O(I · pp) only when a timeline is recorded.
    ///
    /// # Examples
    /// ```
    /// use parallax_sim::*;
    /// use std::sync::Arc;
    /// #[derive(Debug)]
    /// struct Const;
    /// impl StageCost for Const {
    ///     fn step(&self, _: &parallax_ir::Batch) -> StepCost {
    ///         StepCost::constant(0.01, parallax_ir::OpKind::Gemm)
    ///     }
    /// }
    /// let replica = ReplicaSpec {
    ///     stages: vec![Arc::new(Const)],
    ///     kv_blocks: 1000,
    ///     block_size: 16,
    ///     gpus: 1,
    ///     power: PowerModel { idle_watts: 100.0, busy_watts: 700.0 },
    ///     peak_flops: 1e15,
    ///     peak_bandwidth: 3e12,
    /// };
    /// let w = workload::Workload::new("two", vec![
    ///     workload::Request { id: 0, arrival_s: 0.0, prompt_tokens: 8, output_tokens: 3, prefix: None },
    /// ]).unwrap();
    /// let report = Simulator::new(vec![replica], SimConfig::default()).unwrap().run(&w).unwrap();
    /// // prefill 10 ms → first token; two decodes of 10 ms each.
    /// assert!((report.requests[0].ttft_s() - 0.01).abs() < 1e-12);
    /// assert!((report.requests[0].e2e_s() - 0.03).abs() < 1e-12);
    /// ```
    pub fn run(&self, workload: &Workload) -> Result<SimReport, SimError> {
        self.run_until(workload, None)
    }

    /// [`Simulator::run`] under a `deadline` (a wall-clock instant, `Option<Instant>`, or a
    /// [`Deadline`] with a cancellation flag): the event loop checks it every 1,024 events and
    /// stops with [`SimError::DeadlineReached`] once past the instant, or
    /// [`SimError::Cancelled`] once the flag is set. A run that finishes first is exactly
    /// [`Simulator::run`]'s (the deadline never changes a result, it only cuts a run short);
    /// `None` never stops. Searches use it so that a wall-clock budget, or the caller's
    /// cancellation, also bounds the simulations already running.
    ///
    /// # Errors
    /// As [`Simulator::run`], plus [`SimError::DeadlineReached`] and [`SimError::Cancelled`].
    pub fn run_until(
        &self,
        workload: &Workload,
        deadline: impl Into<Deadline>,
    ) -> Result<SimReport, SimError> {
        let deadline = deadline.into();
        let cfg = &self.config;
        let reps = self
            .replicas
            .iter()
            .map(|spec| {
                let pp = spec.stages.len();
                let per_engine = spec.kv_blocks / pp as u64;
                let offload = cfg.cpu_prefix_cache_bytes_per_gpu > 0.0;
                let links: Vec<_> = if cfg.preemption == PreemptionMode::Swap || offload {
                    spec.stages.iter().filter_map(|s| s.host_link()).collect()
                } else {
                    Vec::new()
                };
                let kv_bytes_per_token: f64 = links.iter().map(|l| l.kv_bytes_per_token).sum();
                let host_tokens = if kv_bytes_per_token > 0.0 {
                    (cfg.swap_space_bytes_per_gpu * spec.gpus as f64
                        / kv_bytes_per_token
                        / pp as f64) as u64
                } else {
                    0
                };
                let mut engines: Vec<Engine> = (0..pp)
                    .map(|_| {
                        let mut e = Engine::new(
                            per_engine,
                            spec.block_size,
                            cfg.scheduler.watermark,
                            cfg.prefix_caching,
                        );
                        e.speculation = cfg.speculation;
                        e.chunk_cap = cfg.prefill_chunk_per_request.unwrap_or(u32::MAX);
                        e
                    })
                    .collect();
                if offload && kv_bytes_per_token > 0.0 {
                    let blocks = (cfg.cpu_prefix_cache_bytes_per_gpu * spec.gpus as f64
                        / kv_bytes_per_token
                        / spec.block_size as f64
                        / pp as f64) as u64;
                    for e in &mut engines {
                        if let Some(c) = e.cache.as_deref_mut() {
                            c.cpu = Some(CpuTier::new(blocks));
                        }
                    }
                }
                if cfg.preemption == PreemptionMode::Swap && !links.is_empty() {
                    for e in &mut engines {
                        e.swap = Some(Box::new(Swap {
                            host_free_tokens: host_tokens,
                            ..Swap::default()
                        }));
                    }
                }
                let wm = engines[0].watermark_blocks;
                Rep {
                    spec,
                    engines,
                    stage_free: vec![f64::NEG_INFINITY; pp],
                    busy: vec![0.0; pp],
                    flops: 0.0,
                    bytes: 0.0,
                    max_fit_blocks: per_engine - wm,
                    swap_s_per_token: links
                        .iter()
                        .map(|l| l.kv_bytes_per_token / l.bandwidth)
                        .collect(),
                    kv_bytes_per_token,
                    forward_tokens: 0,
                }
            })
            .collect();
        let replicas_len = self.replicas.len();
        let mut run = Run {
            reps,
            sched: cfg.scheduler.build(),
            records: workload
                .requests
                .iter()
                .map(|r| RequestRecord::new(r.id, r.arrival_s, r.prompt_tokens, r.output_tokens))
                .collect(),
            heap: BinaryHeap::new(),
            seq: 0,
            iterations: 0,
            breakdown: [0.0; 5],
            timeline: cfg.record_timeline.then(Vec::new),
            batch: Batch::default(),
            last_end: f64::NEG_INFINITY,
            bad_cost: None,
            skip_ahead: cfg.skip_ahead,
            host: cfg.host,
            slots: cfg.max_concurrency.map(|c| {
                let n = (c as usize).min(workload.requests.len());
                std::iter::repeat(f64::NEG_INFINITY).take(n).collect()
            }),
            frontend: cfg.frontend_latency_s,
            streams: (0..replicas_len)
                .map(|_| Stream {
                    token_s: cfg.frontend_token_s,
                    free: f64::NEG_INFINITY,
                    log: Vec::new(),
                })
                .collect(),
            ahead: cfg.schedule_ahead,
            released: false,
            itl: Gaps::default(),
            max_num_seqs: cfg.scheduler.max_num_seqs,
            reserve_to_completion: cfg.scheduler.reserve_to_completion,
            swap_tokens: 0,
            swap_s: 0.0,
            batch_cached: 0,
            load_tokens: 0,
            load_s: 0.0,
            disagg: cfg
                .disaggregation
                .map(|d| (d, Router::new(cfg.router, cfg.seed ^ 0x00D1_5A66))),
            transfers: Vec::new(),
            transfer_spans: Vec::new(),
        };
        if let Some((d, _)) = &run.disagg {
            for rep in &mut run.reps[..d.prefill_replicas] {
                for e in &mut rep.engines {
                    e.handoff = true;
                }
            }
        }
        let mut router = Router::new(cfg.router, cfg.seed);
        if cfg.router == RouterPolicy::CapacityWeighted {
            let batch = crate::router::reference_iteration();
            router.set_times(
                run.reps
                    .iter()
                    .map(|r| {
                        let t = r
                            .spec
                            .stages
                            .iter()
                            .map(|s| s.step(&batch).seconds)
                            .fold(0.0, f64::max);
                        if t.is_finite() && t > 0.0 {
                            t
                        } else {
                            1.0
                        }
                    })
                    .collect(),
            );
        }
        let reqs = &workload.requests;
        let mut ai = 0usize;
        let mut eligible = Vec::with_capacity(run.reps.len());
        let mut events: u64 = 0;
        loop {
            events += 1;
            if events % 1024 == 0 && deadline.passed() {
                return Err(if deadline.cancelled() {
                    SimError::Cancelled { events }
                } else {
                    SimError::DeadlineReached { events }
                });
            }
            let ta = run.next_arrival(reqs.get(ai).map(|r| r.arrival_s));
            let te = run.heap.peek().map_or(f64::INFINITY, |e| e.t);
            if ta == f64::INFINITY && te == f64::INFINITY {
                break;
            }
            if ta <= te {
                if let Some(slots) = &mut run.slots {
                    slots.pop_front();
                    // Sent one frontend latency before it reaches the engine.
                    run.records[ai].arrival_s = ta - run.frontend;
                }
                run.arrive(ai, ta, reqs[ai].prefix, &mut router, &mut eligible, cfg);
                ai += 1;
            } else if let Some(ev) = run.heap.pop() {
                if ev.v == KV_ARRIVAL {
                    run.kv_arrive(ev.r as usize, ev.t, cfg);
                    continue;
                }
                run.on_ready(ev.r as usize, ev.v as usize, ev.t, ta);
                if let Some(e) = run.bad_cost.take() {
                    return Err(e);
                }
            }
        }
        if cfg.frontend_token_s > 0.0 {
            // Tokens reach the client when their replica's stream has delivered them.
            for r in &mut run.records {
                if let Some(s) = r.replica.and_then(|i| run.streams.get(i as usize)) {
                    r.first_token_s = s.delivered(r.first_token_s);
                    r.finish_s = s.delivered(r.finish_s);
                }
            }
        }
        if run.frontend > 0.0 {
            // Tokens reach the client one frontend latency after the engine produced them.
            for r in &mut run.records {
                r.first_token_s += run.frontend;
                r.finish_s += run.frontend;
            }
        }
        let first_arrival = reqs.first().map_or(0.0, |r| r.arrival_s);
        let metrics = run.metrics(first_arrival, cfg);
        Ok(SimReport {
            metrics,
            requests: run.records,
            forward_tokens_by_replica: run.reps.iter().map(|r| r.forward_tokens).collect(),
            timeline: run.timeline,
            transfers: run.transfer_spans,
        })
    }
}

/// The streaming front end: a first-in-first-out server of output tokens
/// ([`SimConfig::frontend_token_s`]).
struct Stream {
    /// Seconds per token (0: no limit).
    token_s: f64,
    /// When the server has streamed everything emitted so far.
    free: f64,
    /// (emitted, delivered) per emission, in time order (only with a limit).
    log: Vec<(f64, f64)>,
}

impl Stream {
    /// Tokens emitted by an engine at `t`: returns when the last of them (or, for `n` = 0, a
    /// completion at `t`) reaches the client.
    fn emit(&mut self, t: f64, n: u64) -> f64 {
        if self.token_s <= 0.0 {
            return t;
        }
        let start = self.free.max(t);
        self.free = start + n as f64 * self.token_s;
        if n > 0 {
            match self.log.last_mut() {
                Some(last) if last.0 == t => last.1 = self.free,
                _ => self.log.push((t, self.free)),
            }
        }
        self.free
    }

    /// When a token the engine emitted at `t` reached the client: the delivery of the last
    /// emission at or before `t` (`t` itself when none, or for NaN).
    fn delivered(&self, t: f64) -> f64 {
        if !t.is_finite() {
            return t;
        }
        let i = self.log.partition_point(|e| e.0 <= t);
        if i == 0 {
            t
        } else {
            self.log[i - 1].1.max(t)
        }
    }
}

impl Run<'_> {
    /// When the next request (scheduled at `scheduled`, `None` when none is left) reaches
    /// the engine: its scheduled time, or in a closed loop the later of that and the earliest
    /// free slot (`∞` while every slot is taken), plus the frontend latency.
    fn next_arrival(&self, scheduled: Option<f64>) -> f64 {
        let Some(t) = scheduled else {
            return f64::INFINITY;
        };
        let t = t + self.frontend;
        match &self.slots {
            None => t,
            Some(slots) => slots.front().map_or(f64::INFINITY, |s| s.max(t)),
        }
    }

    /// Free `n` client slots for requests the engine finished (or rejected) at `t` (closed
    /// loop only). A slot holds the engine time its next request can arrive: the client hears
    /// of the completion one frontend latency later and its next request takes as long again.
    fn release(&mut self, t: f64, n: u32) {
        let t = t + 2.0 * self.frontend;
        if let Some(slots) = &mut self.slots {
            let at = slots.partition_point(|&b| b <= t);
            for _ in 0..n {
                slots.insert(at, t);
            }
            self.released |= n > 0;
        }
    }

    fn arrive(
        &mut self,
        ai: usize,
        t: f64,
        prefix: Option<Prefix>,
        router: &mut Router,
        eligible: &mut Vec<usize>,
        cfg: &SimConfig,
    ) {
        let rec = self.records[ai];
        let (p, o) = (rec.prompt_tokens, rec.output_tokens);
        let chunked = cfg.scheduler.kind.chunked();
        let prompt_ok = chunked || p <= cfg.scheduler.max_num_batched_tokens;
        eligible.clear();
        let split = self.disagg.as_ref().map(|(d, _)| d.prefill_replicas);
        match split {
            None => {
                for (i, rep) in self.reps.iter().enumerate() {
                    let peak = (p as u64 + o as u64 - 1).div_ceil(rep.spec.block_size as u64);
                    if peak <= rep.max_fit_blocks && prompt_ok {
                        eligible.push(i);
                    }
                }
            }
            Some(n) => {
                // Prefill pool: the prompt must fit; decode pool: some replica must hold the
                // peak (requests of one token never leave the prefill pool).
                let decode_ok = o == 1
                    || self.reps[n..].iter().any(|rep| {
                        (p as u64 + o as u64 - 1).div_ceil(rep.spec.block_size as u64)
                            <= rep.max_fit_blocks
                    });
                for (i, rep) in self.reps[..n].iter().enumerate() {
                    if (p as u64).div_ceil(rep.spec.block_size as u64) <= rep.max_fit_blocks
                        && prompt_ok
                        && decode_ok
                    {
                        eligible.push(i);
                    }
                }
            }
        }
        if eligible.is_empty() {
            self.records[ai].rejected = Some(if prompt_ok {
                RejectReason::KvCapacity
            } else {
                RejectReason::PromptTooLong
            });
            self.release(t, 1);
            return;
        }
        let (stream, shared) = prefix.map_or((0, 0), |x| (x.stream, x.tokens));
        let affinity = cfg.router == RouterPolicy::PrefixAffinity;
        if affinity {
            // Cache affinity: the replicas whose engines hold the longest cached prefix.
            let mut best = 0;
            let mut keep = Vec::with_capacity(eligible.len());
            for &i in eligible.iter() {
                let h = self.reps[i]
                    .engines
                    .iter_mut()
                    .map(|e| e.cached_prefix(ai as u32, stream, shared, p).0)
                    .max()
                    .unwrap_or(0);
                if h > best {
                    best = h;
                    keep.clear();
                }
                if h == best {
                    keep.push(i);
                }
            }
            *eligible = keep;
        }
        let reps = &self.reps;
        let r = router.pick(reps.len(), eligible, |i| replica_load(&reps[i], cfg.router));
        let rep = &mut self.reps[r];
        let v = if affinity && rep.engines.len() > 1 {
            let hits: Vec<u32> = rep
                .engines
                .iter_mut()
                .map(|e| e.cached_prefix(ai as u32, stream, shared, p).0)
                .collect();
            (0..rep.engines.len())
                .min_by_key(|&v| (u32::MAX - hits[v], rep.engines[v].num_unfinished(), v))
                .unwrap_or(0)
        } else {
            (0..rep.engines.len())
                .min_by_key(|&v| (rep.engines[v].num_unfinished(), v))
                .unwrap_or(0)
        };
        let busy = !self.wake_if_idle(r, v, t);
        if busy {
            let eng = &mut self.reps[r].engines[v];
            if eng.steady_left > 0 && self.sched.arrival_may_change_plan(eng) {
                eng.steady_left = 0;
            }
        }
        let eng = &mut self.reps[r].engines[v];
        eng.add(ai as u32, p, if split.is_some() { 1 } else { o }, prefix);
        if busy && self.ahead {
            // The next iteration's batch is already formed: it waits for the one after.
            eng.defer_newest(t);
        }
        self.records[ai].replica = Some(r as u32);
    }

    /// Send the KV of requests engine `v` of prefill replica `r` finished prefilling at `t`.
    fn hand_off(&mut self, r: usize, v: usize, t: f64) {
        let Some((d, _)) = &self.disagg else {
            return;
        };
        let link = d.kv_link;
        let handed = std::mem::take(&mut self.reps[r].engines[v].handed);
        for idx in handed {
            let x = link.seconds(self.records[idx as usize].prompt_tokens as u64);
            self.transfers.push(x);
            self.seq += 1;
            self.heap.push(Ev {
                t: t + x,
                seq: self.seq,
                r: idx,
                v: KV_ARRIVAL,
            });
        }
    }

    /// The KV of request `idx` arrives at the decode pool at `t`.
    fn kv_arrive(&mut self, idx: usize, t: f64, cfg: &SimConfig) {
        let Some((d, router)) = &mut self.disagg else {
            return;
        };
        let n = d.prefill_replicas;
        let link = d.kv_link;
        let rec = self.records[idx];
        let (p, o) = (rec.prompt_tokens, rec.output_tokens);
        let eligible: Vec<usize> = (n..self.reps.len())
            .filter(|&i| {
                let rep = &self.reps[i];
                (p as u64 + o as u64 - 1).div_ceil(rep.spec.block_size as u64) <= rep.max_fit_blocks
            })
            .collect();
        let reps = &self.reps;
        let r = router.pick(reps.len(), &eligible, |i| {
            replica_load(&reps[i], cfg.router)
        });
        let rep = &mut self.reps[r];
        let v = (0..rep.engines.len())
            .min_by_key(|&v| (rep.engines[v].num_unfinished(), v))
            .unwrap_or(0);
        if !self.wake_if_idle(r, v, t) {
            // A new decode joins: a repeated decode-only plan no longer covers everyone.
            self.reps[r].engines[v].steady_left = 0;
        }
        self.reps[r].engines[v].add_remote(idx as u32, p, o, rec.first_token_s);
        self.records[idx].decode_replica = Some(r as u32);
        if self.timeline.is_some() {
            let x = link.seconds(p as u64);
            self.transfer_spans.push(TransferSpan {
                request: rec.id,
                from_replica: rec.replica.unwrap_or(0),
                to_replica: r as u32,
                start_s: t - x,
                end_s: t,
                tokens: p as u64,
                bytes: p as f64 * link.kv_bytes_per_token,
            });
        }
    }

    /// When engine `v` of replica `r` runs no iteration, make sure it wakes at `t` (one
    /// pending wake-up at most). Returns whether it was idle.
    fn wake_if_idle(&mut self, r: usize, v: usize, t: f64) -> bool {
        let eng = &mut self.reps[r].engines[v];
        if eng.inflight != Inflight::None {
            return false;
        }
        if !eng.wake_pending {
            eng.wake_pending = true;
            self.seq += 1;
            self.heap.push(Ev {
                t,
                seq: self.seq,
                r: r as u32,
                v: v as u32,
            });
        }
        true
    }

    /// Run the batch in `self.batch` through replica `r`'s stages, formed by engine `v` at `t`.
    /// Returns (stage-0 start, end of last stage).
    fn dispatch(&mut self, r: usize, v: usize, t: f64) -> (f64, f64) {
        let rep = &mut self.reps[r];
        // The engine's host work for this iteration: before the first stage, or alongside it.
        let host = if self.host.is_zero() {
            0.0
        } else {
            self.host
                .seconds(self.batch.decode.requests + self.batch.prefill.len() as u32)
        };
        let mut at = if self.host.overlapped { t } else { t + host };
        let mut start0 = at;
        for (s, stage) in rep.spec.stages.iter().enumerate() {
            let mut c: StepCost = stage.step(&self.batch);
            if self.swap_tokens > 0 {
                // Swap copies block the iteration (vLLM v0 issues them before the forward).
                let x = self.swap_tokens as f64 * rep.swap_s_per_token[s];
                c.seconds += x;
                c.breakdown[OpKind::Communication as usize] += x;
                self.swap_s += x;
            }
            if self.load_tokens > 0 {
                let x = self.load_tokens as f64 * rep.swap_s_per_token[s];
                c.seconds += x;
                c.breakdown[OpKind::Communication as usize] += x;
                self.load_s += x;
            }
            if !(0.0..=MAX_STEP_S).contains(&c.seconds) && self.bad_cost.is_none() {
                self.bad_cost = Some(SimError::config(
                    &format!("replicas[{r}].stages[{s}].step(..).seconds"),
                    crate::error::compact(c.seconds),
                    &format!("a time in [0, {MAX_STEP_S:e}] seconds from the StageCost"),
                ));
            }
            let start = at.max(rep.stage_free[s]);
            let end = start + c.seconds;
            rep.stage_free[s] = end;
            // Busy time as the clock saw it (not `c.seconds`): at large absolute times the
            // clock rounds, and busy must never exceed the makespan it is divided by.
            rep.busy[s] += end - start;
            rep.flops += c.flops;
            rep.bytes += c.bytes;
            for k in 0..5 {
                self.breakdown[k] += c.breakdown[k];
            }
            if let Some(tl) = &mut self.timeline {
                tl.push(Span {
                    replica: r as u32,
                    stage: s as u32,
                    engine: v as u32,
                    start_s: start,
                    end_s: end,
                    prefill_tokens: self.batch.prefill_tokens(),
                    decode_requests: self.batch.decode.requests,
                    cached_tokens: self.batch_cached,
                    swap_tokens: self.swap_tokens,
                    host_load_tokens: self.load_tokens,
                });
            }
            if s == 0 {
                start0 = start;
            }
            at = end;
        }
        if self.host.overlapped && t + host > at {
            self.breakdown[OpKind::Overhead as usize] += t + host - at;
            at = t + host;
        } else if !self.host.overlapped {
            self.breakdown[OpKind::Overhead as usize] += host;
        }
        self.iterations += 1;
        // a speculative step verifies its drafts with each decode: they go through the model
        let verified = self.reps[r].engines[v].speculation.map_or(0, |s| {
            u64::from(s.draft_tokens) * u64::from(self.batch.decode.requests)
        });
        self.reps[r].forward_tokens += self.batch.tokens() + verified;
        if at > self.last_end {
            self.last_end = at;
        }
        (start0, at)
    }

    fn on_ready(&mut self, r: usize, v: usize, mut t: f64, next_arrival: f64) {
        loop {
            let end;
            let mut done = 0;
            let heard;
            {
                let eng = &mut self.reps[r].engines[v];
                // tokens the finished iteration produced (chunks of unfinished prompts none)
                let emitted = match eng.inflight {
                    Inflight::Full => {
                        // `sum_generated` counts the running requests' tokens (`retire`
                        // takes the finished ones out): the step's growth is what it made
                        let before = eng.sum_generated;
                        eng.complete_full(t, &mut self.records, &mut self.itl);
                        let made = eng.sum_generated - before;
                        done = eng.retire(t, &mut self.records);
                        made
                    }
                    Inflight::Steady => {
                        eng.lazy_steps += 1;
                        eng.steady_group.requests as u64
                    }
                    Inflight::None => 0,
                };
                // when the client hears of them, and of the completions
                heard = self.streams[r].emit(t, emitted);
                eng.inflight = Inflight::None;
                eng.wake_pending = false;
                if !eng.handed.is_empty() {
                    self.hand_off(r, v, t);
                }
            }
            self.release(heard, done);
            let eng = &mut self.reps[r].engines[v];
            if eng.steady_left > 0 && eng.incoming.is_empty() {
                eng.iter_start = t;
                eng.steady_left -= 1;
                let g = &mut eng.steady_group;
                g.context_sum += g.requests as u64;
                g.context_max += 1;
                self.batch.prefill.clear();
                self.batch.decode = *g;
                let n = g.requests as u64;
                eng.inflight = Inflight::Steady;
                end = self.dispatch(r, v, t).1;
                // Every request of the repeated step gets its token `end − t` after the last.
                self.itl.add(end - t, n);
            } else {
                if eng.lazy_steps > 0 {
                    eng.materialise(t);
                    let n = eng.retire(t, &mut self.records);
                    let heard = self.streams[r].emit(t, 0);
                    self.release(heard, n);
                }
                let eng = &mut self.reps[r].engines[v];
                if !eng.handed.is_empty() {
                    self.hand_off(r, v, t);
                }
                let eng = &mut self.reps[r].engines[v];
                eng.preempted_now = false;
                eng.swap_in(self.max_num_seqs);
                if !eng.remote.is_empty() {
                    eng.admit_remote(self.max_num_seqs, self.reserve_to_completion);
                }
                if !eng.incoming.is_empty() {
                    // Formed when the iteration that just ended was launched.
                    let cutoff = eng.iter_start;
                    eng.promote_incoming(cutoff);
                }
                self.sched.schedule(eng, &mut self.records);
                if eng.plan.is_empty() && !eng.incoming.is_empty() {
                    // Nothing else to run: the scheduler's next pass sees them at once.
                    eng.promote_incoming(f64::INFINITY);
                    self.sched.schedule(eng, &mut self.records);
                }
                eng.iter_start = t;
                self.swap_tokens = eng
                    .swap
                    .as_deref_mut()
                    .map_or(0, |w| std::mem::take(&mut w.pending_tokens));
                self.batch_cached = std::mem::take(&mut eng.batch_cached);
                self.load_tokens = std::mem::take(&mut eng.host_load_tokens);
                if eng.plan.is_empty() {
                    return;
                }
                eng.plan_batch(&mut self.batch);
                if self.skip_ahead {
                    eng.arm_steady(self.batch.decode);
                }
                eng.prefill_tokens += self.batch.prefill_tokens();
                eng.inflight = Inflight::Full;
                let (start0, e) = self.dispatch(r, v, t);
                self.swap_tokens = 0;
                self.batch_cached = 0;
                self.load_tokens = 0;
                end = e;
                let eng = &self.reps[r].engines[v];
                for &(slot, tokens) in &eng.plan {
                    if tokens > 0 {
                        let rec = &mut self.records[eng.seqs[slot as usize].idx as usize];
                        if rec.scheduled_s.is_nan() {
                            rec.scheduled_s = start0;
                        }
                    }
                }
            }
            let released = std::mem::take(&mut self.released);
            if !released && end < next_arrival && self.heap.peek().map_or(true, |e| end < e.t) {
                t = end;
                continue;
            }
            self.seq += 1;
            self.heap.push(Ev {
                t: end,
                seq: self.seq,
                r: r as u32,
                v: v as u32,
            });
            return;
        }
    }

    fn metrics(&mut self, first_arrival: f64, cfg: &SimConfig) -> Metrics {
        let recs = &self.records;
        let mut counts = RequestCounts {
            total: recs.len() as u64,
            ..Default::default()
        };
        let mut tokens = TokenCounts::default();
        let (mut ttft, mut tpot, mut e2e, mut queue) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut good = 0u64;
        for r in recs {
            counts.preemptions += r.preemptions as u64;
            counts.preempted_requests += (r.preemptions > 0) as u64;
            match r.rejected {
                Some(RejectReason::KvCapacity) => counts.rejected_kv_capacity += 1,
                Some(RejectReason::PromptTooLong) => counts.rejected_prompt_too_long += 1,
                None => {}
            }
            if r.rejected.is_some() {
                counts.rejected += 1;
                continue;
            }
            if !r.completed {
                counts.unfinished += 1;
                continue;
            }
            counts.completed += 1;
            tokens.prompt += r.prompt_tokens as u64;
            tokens.output += r.output_tokens as u64;
            ttft.push(r.ttft_s());
            e2e.push(r.e2e_s());
            queue.push(r.queue_s());
            let tp = r.tpot_s();
            if !tp.is_nan() {
                tpot.push(tp);
            }
            let ok_ttft = cfg.slo.ttft_ms.map_or(true, |s| r.ttft_s() * 1e3 <= s);
            let ok_tpot = cfg
                .slo
                .tpot_ms
                .map_or(true, |s| tp.is_nan() || tp * 1e3 <= s);
            good += (ok_ttft && ok_tpot) as u64;
        }
        let prefilled: u64 = self
            .reps
            .iter()
            .flat_map(|r| r.engines.iter())
            .map(|e| e.prefill_tokens)
            .sum();
        let prefix_cache = cfg.prefix_caching.then(|| {
            let mut m = PrefixCacheMetrics::default();
            for e in self.reps.iter_mut().flat_map(|r| r.engines.iter_mut()) {
                let free = e.free_blocks;
                if let Some(c) = e.cache.as_deref_mut() {
                    c.trim(free);
                    let k = c.counters;
                    m.queries += k.queries;
                    m.query_tokens += k.query_tokens;
                    m.hit_tokens += k.hit_tokens;
                    m.hit_blocks += k.hit_blocks;
                    m.evicted_blocks += k.evictions;
                    m.cpu_hit_tokens += k.cpu_hit_tokens;
                    m.offloaded_blocks += k.offloaded;
                }
            }
            if m.query_tokens > 0 {
                m.hit_rate = m.hit_tokens as f64 / m.query_tokens as f64;
            }
            m.cpu_load_s = self.load_s;
            m
        });
        let cached = prefix_cache.map_or(0, |m| m.hit_tokens);
        let swap = (cfg.preemption == PreemptionMode::Swap).then(|| {
            let mut m = SwapMetrics {
                transfer_s: self.swap_s,
                ..SwapMetrics::default()
            };
            for rep in &self.reps {
                for e in &rep.engines {
                    if let Some(w) = e.swap.as_deref() {
                        m.swap_outs += w.swap_outs;
                        m.swap_ins += w.swap_ins;
                        m.tokens += w.tokens_moved;
                        m.bytes += w.tokens_moved as f64 * rep.kv_bytes_per_token;
                    }
                }
            }
            m
        });
        tokens.recomputed = (prefilled + cached).saturating_sub(tokens.prompt);
        tokens.forward = self.reps.iter().map(|r| r.forward_tokens).sum();
        let makespan = if self.last_end.is_finite() {
            (self.last_end - first_arrival).max(0.0)
        } else {
            0.0
        };
        let per_s = |x: f64| if makespan > 0.0 { x / makespan } else { 0.0 };
        let throughput = Throughput {
            requests_per_s: per_s(counts.completed as f64),
            output_tokens_per_s: per_s(tokens.output as f64),
            total_tokens_per_s: per_s((tokens.prompt + tokens.output) as f64),
        };
        let has_slo = cfg.slo.ttft_ms.is_some() || cfg.slo.tpot_ms.is_some();
        let slo = SloMetrics {
            ttft_ms: cfg.slo.ttft_ms,
            tpot_ms: cfg.slo.tpot_ms,
            attainment: has_slo.then(|| {
                if counts.total == 0 {
                    0.0
                } else {
                    good as f64 / counts.total as f64
                }
            }),
            goodput_requests_per_s: has_slo.then(|| per_s(good as f64)),
        };
        let mut gpu = GpuMetrics::default();
        let (mut busy_gpu_s, mut peak_flop, mut peak_bytes, mut flops, mut bytes) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        for rep in &self.reps {
            let s = rep.spec;
            let per_stage = s.gpus as f64 / s.stages.len() as f64;
            gpu.gpus += s.gpus as u64;
            let busy: f64 = rep.busy.iter().sum::<f64>() * per_stage;
            busy_gpu_s += busy;
            gpu.energy_j += s.gpus as f64 * s.power.idle_watts * makespan
                + (s.power.busy_watts - s.power.idle_watts) * busy;
            flops += rep.flops * per_stage;
            bytes += rep.bytes * per_stage;
            peak_flop += s.gpus as f64 * s.peak_flops;
            peak_bytes += s.gpus as f64 * s.peak_bandwidth;
        }
        if makespan > 0.0 {
            gpu.utilisation = busy_gpu_s / (gpu.gpus as f64 * makespan);
            gpu.mean_power_w = gpu.energy_j / (gpu.gpus as f64 * makespan);
            if peak_flop > 0.0 {
                gpu.mfu = flops / (peak_flop * makespan);
            }
            if peak_bytes > 0.0 {
                gpu.mbu = bytes / (peak_bytes * makespan);
            }
        }
        let breakdown_s: BTreeMap<String, f64> = OpKind::ALL
            .iter()
            .map(|k| (k.name().to_string(), self.breakdown[*k as usize]))
            .collect();
        Metrics {
            requests: counts,
            ttft_ms: Summary::of(&mut ttft, 1e3),
            tpot_ms: Summary::of(&mut tpot, 1e3),
            itl_ms: self.itl.summary(1e3),
            prefix_cache,
            kv_transfer: self.disagg.as_ref().map(|(d, _)| TransferMetrics {
                transfers: self.transfers.len() as u64,
                bytes: self
                    .records
                    .iter()
                    .filter(|r| r.completed && r.output_tokens > 1)
                    .map(|r| r.prompt_tokens as f64 * d.kv_link.kv_bytes_per_token)
                    // an empty f64 sum is -0.0; `+ 0.0` makes it 0
                    .sum::<f64>()
                    + 0.0,
                transfer_ms: Summary::of(&mut self.transfers.clone(), 1e3),
            }),
            swap,
            e2e_s: Summary::of(&mut e2e, 1.0),
            queue_ms: Summary::of(&mut queue, 1e3),
            throughput,
            slo,
            tokens,
            gpu,
            breakdown_s,
            makespan_s: makespan,
            iterations: self.iterations,
        }
    }
}

/// `Ev::v` of a KV-arrival event (`Ev::r` is then the request index).
const KV_ARRIVAL: u32 = u32::MAX;

enum Load {
    Requests,
    Tokens,
}

/// A replica's load as `policy` counts it: unfinished requests, or outstanding tokens.
fn replica_load(rep: &Rep<'_>, policy: RouterPolicy) -> u64 {
    match router_load(policy) {
        Load::Requests => rep.engines.iter().map(|e| e.num_unfinished() as u64).sum(),
        Load::Tokens => rep.engines.iter().map(|e| e.outstanding_tokens()).sum(),
    }
}

fn router_load(p: RouterPolicy) -> Load {
    match p {
        RouterPolicy::ShortestQueueTokens => Load::Tokens,
        _ => Load::Requests,
    }
}
