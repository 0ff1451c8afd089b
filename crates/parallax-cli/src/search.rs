//! `parallax search`: find the best serving plan for a model, a cluster and a workload.
//!
//! With no flags it searches Llama-3.1-70B on one node of 8 H100s for the embedded `chat`
//! workload, minimising mean end-to-end latency.
//!
//! # Durations
//! `--slo-ttft`, `--slo-tpot` and `--time-limit` take a number with a unit (`800us`, `500ms`,
//! `0.5s`, `2m`, `1h`), at most 1,000,000 s ([`common::duration`]). A bare number is an
//! error: it could mean milliseconds or seconds.
//!
//! # Objectives
//! `e2e-mean`, `e2e-p50`, `e2e-p99` (s); `ttft-mean`, `ttft-p99`, `tpot-mean`, `tpot-p99` (ms);
//! `throughput` (highest sustainable arrival rate under the SLOs, req/s: every request
//! completes and SLO attainment ≥ `--slo-target`); `goodput` (req/s within the SLOs);
//! `energy` (J per output token); `cost` (GPU-hours × price per million output tokens);
//! `min-gpus` (fewest GPUs meeting the SLOs at the workload's rate). `throughput` and
//! `goodput` need `--slo-ttft` or `--slo-tpot`.
//!
//! # `--json`
//! The [`parallax::SearchReport`] as JSON, with `ranked` cut to `--top` entries:
//! - `model`, `cluster`, `workload`, `requests`, `rate_req_per_s`, `objective`, `direction`,
//!   `unit`, `cost_model`, `slo` {`ttft_ms`, `tpot_ms`}, `slo_target`, `scheduler`,
//!   `price_per_gpu_hour`;
//! - `plans_enumerated`, `plans_pruned` {`symmetry`, `divisibility`, `topology`, `memory`,
//!   and `bound` when bound pruning ran (not in the total)},
//!   `plans_pruned_total`, `plans_feasible`, `plans_simulated`, `simulations`;
//! - `stop_reason`: `exhausted`, `plan_limit` or `time_limit`;
//! - `best`: `null` or {`rank`, `plan`, `gpus`, `scheduler`, `objective`, `meets_constraints`,
//!   `rate_req_per_s`, `energy_j_per_token`, `cost_per_mtok`, `metrics`, `window`}, where
//!   `metrics` has the fields of `simulate --json` and `window` (throughput and goodput, else
//!   `null`) is the steady-state measurement window {`driving_requests`, `warmup_requests`,
//!   `drain_requests`, `measured_requests`, `start_s`, `end_s`, `arrival_rate_req_per_s`,
//!   `completion_rate_req_per_s`, `expected_completion_rate_req_per_s`, `latency_drift`,
//!   `latency_drift_z`, `stable`,
//!   `slo_attainment`, `slo_attainment_lower`,
//!   `goodput_req_per_s`};
//!   With a MoE skew, entries of expert-parallel plans also carry `eplb` (the EPLB setting the
//!   search chose and every count it tried; docs/cli.md, "Per-rank MoE load");
//! - `ranked`: entries shaped like `best`, best first;
//! - `baselines`: {`name` (`heuristic`, `max-tp`, `best-even-split`), `description`, `plan`, `objective`,
//!   `meets_constraints`, `metrics`, `speedup` (the best plan's gain: baseline / best when
//!   minimising, best / baseline when maximising), `error`};
//! - `pareto`: `null` or {`objectives`, `points` [{`plan`, `scheduler`, `a`, `b`}]};
//! - `infeasible`: `null` or {`reason`, `closest_miss`, `deficit_bytes`};
//! - `steady_state`: `null`, or for throughput and goodput the stream settings {`requests`,
//!   `arrivals` (`poisson`, `trace`), `warmup_fraction`, `drain_fraction`,
//!   `stability_tolerance`, `drift_tolerance`, `min_latencies`, `max_extension`, `seed`}.
//!
//! With `--prefix-caching`, `--preemption swap` and the other serving-feature flags
//! (`crate::serving`), each entry's `metrics` also has `prefix_cache` / `swap`.
//!
//! The output holds no timings: it is byte-identical across runs and `RAYON_NUM_THREADS`
//! values (unless `--time-limit` cut the search short).

use crate::common::{self, Real};
use crate::output::{print_json, table, CliError};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax::plan::{Allowed, MemoryOptions};
use parallax::search::{
    DisaggComparison, DisaggMode, SteadyArrivals, SteadyState, DEFAULT_SLO_TARGET,
};
use parallax::sim::{SchedulerConfig, SchedulerKind};
use parallax::{Limits, Objective, SchedulerSpace, Search, SearchConstraints, SearchReport};
use std::io::IsTerminal;

/// Arguments of `parallax search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Embedded short name, HF id or path to a `config.json`.
    #[arg(long, short, default_value = "llama-3.1-70b")]
    model: String,
    /// Cluster as `NxGxGPU` (e.g. `2x8xH100`), `GxGPU`, or a TOML file.
    #[arg(long, short, default_value = "1x8xH100")]
    cluster: String,
    /// Embedded workload (chat, creation, summarization, code, conversation) or a trace file.
    #[arg(long, short, default_value = "chat")]
    workload: String,
    /// Rescale arrivals to this rate, requests per second.
    #[arg(long)]
    rate: Option<Real>,
    /// Use only the first N requests of the workload.
    #[arg(long, value_parser = common::requests_arg)]
    requests: Option<usize>,
    /// What to optimise: e2e-mean, e2e-p50, e2e-p99, ttft-mean, ttft-p99, tpot-mean,
    /// tpot-p99, throughput, goodput, energy, cost, min-gpus.
    #[arg(long, short, default_value = "e2e-mean")]
    objective: String,
    /// Time-to-first-token SLO with a unit: `500ms`, `0.5s`.
    #[arg(long)]
    slo_ttft: Option<String>,
    /// Time-per-output-token SLO with a unit: `50ms`, `0.05s`.
    #[arg(long)]
    slo_tpot: Option<String>,
    /// Fraction of requests that must meet every SLO, in (0, 1] (default 0.9, the library's
    /// `DEFAULT_SLO_TARGET`).
    #[arg(long)]
    slo_target: Option<Real>,
    /// Plans shown in the table (and kept in `--json`'s `ranked`).
    #[arg(long, default_value_t = 10, value_parser = common::top_arg)]
    top: usize,
    /// Most GPUs a plan may use (default: the whole cluster).
    #[arg(long, value_parser = common::gpus_arg)]
    max_gpus: Option<u32>,
    /// Also enumerate plans with fewer GPUs than `--max-gpus` (always on for min-gpus).
    #[arg(long)]
    fewer_gpus: bool,
    /// Deepest pipeline.
    #[arg(long, value_parser = common::gpus_arg)]
    max_pp: Option<u32>,
    /// vLLM's `--max-model-len`: the context window in tokens (prompt + output), at most the
    /// model's `max_position_embeddings` (default: that). Longer requests are an error; vLLM
    /// V0's token budget follows it.
    #[arg(long, value_parser = common::batched_tokens_arg)]
    max_model_len: Option<u32>,
    /// Allowed parallelisms, comma-separated from dp, pp, tp, ep, attn-replicas, mlp-replicas.
    #[arg(long, default_value = "dp,pp,tp,ep,attn-replicas,mlp-replicas")]
    parallelisms: String,
    /// Serving engine every plan runs under: vllm (V1), vllm-v0, sglang, trtllm, or none (the
    /// bare simulator).
    #[arg(long, default_value = "vllm")]
    engine: String,
    /// Override the engine's scheduling policy: vllm (v0), sarathi (v1 chunked), orca, static,
    /// prefill-first (sglang).
    #[arg(long)]
    scheduler: Option<String>,
    /// Max running requests per engine; a comma-separated list searches over the values.
    #[arg(long)]
    max_num_seqs: Option<String>,
    /// Token budget of one iteration (vLLM's name; `--max-batched-tokens` also works).
    #[arg(long, alias = "max-batched-tokens", value_parser = common::batched_tokens_arg)]
    max_num_batched_tokens: Option<u32>,
    /// vLLM's flag: the same as `--scheduler sarathi` (chunked prefill).
    #[arg(long, conflicts_with = "scheduler")]
    enable_chunked_prefill: bool,
    /// Admission (TensorRT-LLM's `capacity_scheduler_policy`): guaranteed-no-evict reserves
    /// each request's whole KV at admission and never preempts (the trtllm engine's default);
    /// max-utilization admits on the prompt's KV and preempts (the others'). Default: the
    /// engine's.
    #[arg(long, value_name = "POLICY")]
    capacity_scheduler_policy: Option<String>,
    /// Tokens per KV-cache block (vLLM's `--block-size`; default: the engine's).
    #[arg(long, value_parser = common::block_size_arg)]
    block_size: Option<u32>,
    /// Also print the best plan's launch command for vllm, sglang or trtllm.
    #[arg(long, value_name = "ENGINE")]
    emit: Option<String>,
    /// Chunk size for `--scheduler sarathi`; a comma-separated list searches over the values.
    #[arg(long)]
    chunk: Option<String>,
    /// Fraction of GPU memory for weights, activations and KV cache, as vLLM's flag means it
    /// (default: the engine's own setting: vLLM 0.9, SGLang's mem_fraction_static, TensorRT-LLM
    /// 0.9 of the memory free after the weights).
    #[arg(long)]
    gpu_memory_utilization: Option<Real>,
    /// `auto` (measured profile where one ships, else roofline), `roofline`, `profiled`, or a
    /// FILE: a profile or the roofline parameters of `calibrate --out`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Weight quantisation and KV-cache type.
    #[command(flatten)]
    precision: crate::precision::PrecisionArgs,
    /// MoE routing skew and EPLB every plan is lowered with.
    #[command(flatten)]
    moe: crate::skew::MoeSkewArgs,
    /// Prefix caching and KV offload every candidate runs with.
    #[command(flatten)]
    serving: crate::serving::ServingArgs,
    /// `--enforce-eager`, `--disable-custom-all-reduce`.
    #[command(flatten)]
    engine_flags: crate::engine_flags::EngineFlags,
    /// Price of one GPU-hour for `--objective cost` (default: the GPU catalogue's).
    #[arg(long)]
    price: Option<Real>,
    /// Simulate at most this many plans (the first in enumeration order).
    #[arg(long, value_parser = common::plans_arg)]
    max_plans: Option<usize>,
    /// Stop starting simulations after this wall time (`30s`, `500ms`); the result then
    /// depends on timing.
    #[arg(long, allow_hyphen_values = true)]
    time_limit: Option<String>,
    /// Also print the Pareto front of two objectives, e.g. `e2e-mean,energy`.
    #[arg(long)]
    pareto: Option<String>,
    /// Requests in the steady-state stream that drives `throughput` and `goodput` (lengths
    /// resampled from the workload), at least 10; a rate whose stream lasts under 10 mean
    /// latencies runs on a longer one (up to 16×).
    #[arg(long, default_value_t = parallax::search::DEFAULT_STEADY_REQUESTS, value_parser = common::steady_requests_arg)]
    steady_requests: usize,
    /// Arrivals of the steady-state stream: `poisson`, or `trace` (gamma gaps with the
    /// workload's own burstiness).
    #[arg(long, default_value = "poisson")]
    arrivals: String,
    /// Also search disaggregated deployments (a prefill pool and a decode pool) and compare
    /// the best with the best aggregated plan: auto (when the search may use ≥ 4 GPUs), on,
    /// off.
    #[arg(long, alias = "disagg", default_value = "auto")]
    disaggregation: String,
    /// Simulate every feasible candidate: no bound pruning (by default plans that provably
    /// cannot enter the `--top` best are skipped and counted in `plans_pruned.bound`).
    #[arg(long)]
    no_bound_pruning: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report (tables, SVG plots of the top plans) to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<std::path::PathBuf>,
}

fn parse_list(flag: &str, text: &str, max: u32) -> Result<Vec<u32>, CliError> {
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() > common::MAX_LIST_VALUES {
        return Err(CliError::input(format!(
            "invalid {flag} `{text}`: expected at most {} values, got {}",
            common::MAX_LIST_VALUES,
            parts.len()
        )));
    }
    parts
        .into_iter()
        .map(|s| match s.trim().parse::<u32>() {
            Ok(v) if (1..=max).contains(&v) => Ok(v),
            _ => Err(CliError::input(format!(
                "invalid {flag} `{text}`: expected integers in 1..={max}, one or a \
                 comma-separated list (at `{s}`)"
            ))),
        })
        .collect()
}

/// `--price` against its documented range (docs/cli.md, "Limits"; the count flags' ranges are
/// their clap parsers', `common::count_arg`).
fn check_counts(args: &SearchArgs) -> Result<(), CliError> {
    if let Some(p) = &args.price {
        if !(p.value.is_finite() && (0.0..=common::MAX_PRICE).contains(&p.value)) {
            return Err(CliError::input(format!(
                "invalid --price {p}: expected a price per GPU-hour in [0, {}]",
                common::MAX_PRICE
            )));
        }
    }
    Ok(())
}

fn parse_allowed(text: &str) -> Result<Allowed, CliError> {
    let mut a = Allowed {
        dp: false,
        pp: false,
        tp: false,
        ep: false,
        attn_replicas: false,
        mlp_replicas: false,
    };
    for part in text.split(',').map(str::trim) {
        let flag = match part {
            "dp" => &mut a.dp,
            "pp" => &mut a.pp,
            "tp" => &mut a.tp,
            "ep" => &mut a.ep,
            "attn-replicas" => &mut a.attn_replicas,
            "mlp-replicas" => &mut a.mlp_replicas,
            _ => {
                return Err(CliError::input(format!(
                    "invalid --parallelisms `{text}` at `{part}`: expected a comma-separated \
                     list of dp, pp, tp, ep, attn-replicas, mlp-replicas"
                )))
            }
        };
        if std::mem::replace(flag, true) {
            return Err(CliError::input(format!(
                "invalid --parallelisms `{text}`: `{part}` is listed twice"
            )));
        }
    }
    Ok(a)
}

fn objective(text: &str) -> Result<Objective, CliError> {
    text.parse().map_err(CliError::input)
}

fn scheduler(
    args: &SearchArgs,
    base: SchedulerConfig,
    max_model_len: u32,
) -> Result<(SchedulerConfig, SchedulerSpace), CliError> {
    let mut cfg = base;
    if let Some(s) = &args.scheduler {
        cfg.kind = s.parse::<SchedulerKind>().map_err(CliError::input)?;
    } else if args.enable_chunked_prefill {
        // with the engine's own chunked budget (vLLM V0: 512) unless one is given below
        cfg = parallax::engine::with_chunked_prefill(
            cfg,
            args.engine.parse().ok(),
            true,
            max_model_len,
        );
    }
    if let Some(p) = &args.capacity_scheduler_policy {
        cfg.reserve_to_completion = common::capacity_policy(p)?;
    }
    let kind = cfg.kind;
    if let Some(t) = args.max_num_batched_tokens {
        cfg.max_num_batched_tokens = t;
    }
    let mut space = SchedulerSpace::default();
    if let Some(s) = &args.max_num_seqs {
        let v = parse_list("--max-num-seqs", s, common::MAX_NUM_SEQS)?;
        if v.len() == 1 {
            cfg.max_num_seqs = v[0];
        } else {
            space.max_num_seqs = v;
        }
    }
    if let Some(s) = &args.chunk {
        if !kind.chunked() {
            return Err(CliError::input(format!(
                "invalid --chunk `{s}` with scheduler {}: chunk sizes apply to the chunked \
                 schedulers only (--scheduler sarathi or prefill-first)",
                kind.name()
            )));
        }
        let v = parse_list("--chunk", s, common::MAX_BATCHED_TOKENS)?;
        if v.len() == 1 {
            cfg.chunk_size = Some(v[0]);
        } else {
            space.chunk_sizes = v;
        }
    }
    check_combinations(args, &cfg, &space)?;
    Ok((cfg, space))
}

/// Refuse, before anything runs, a `--max-num-seqs` or `--chunk` value that cannot combine
/// with the other scheduler settings: an iteration's token budget must hold every running
/// decode (the simulator's own check, which would otherwise stop the search midway and name
/// a setting the user may never have written). The message names the value as written and
/// says which side is the engine's default.
fn check_combinations(
    args: &SearchArgs,
    cfg: &SchedulerConfig,
    space: &SchedulerSpace,
) -> Result<(), CliError> {
    let seqs = if space.max_num_seqs.is_empty() {
        vec![cfg.max_num_seqs]
    } else {
        space.max_num_seqs.clone()
    };
    let chunks: Vec<Option<u32>> = if space.chunk_sizes.is_empty() {
        vec![cfg.chunk_size]
    } else {
        space.chunk_sizes.iter().map(|&c| Some(c)).collect()
    };
    let given = |set: bool| if set { "" } else { " (the engine's default)" };
    for &n in &seqs {
        for &c in &chunks {
            let t = SchedulerConfig {
                max_num_seqs: n,
                chunk_size: c,
                ..*cfg
            };
            if t.validate().is_ok() {
                continue;
            }
            let budget = t.token_budget();
            let seqs_flag = format!("--max-num-seqs {n}{}", given(args.max_num_seqs.is_some()));
            let message = if c.is_some() && t.kind == SchedulerKind::Chunked {
                format!(
                    "invalid --chunk {budget}{}: a chunk below {seqs_flag} cannot hold every \
                     running decode in one iteration; expected a chunk of at least {n}",
                    given(args.chunk.is_some())
                )
            } else {
                format!(
                    "invalid {seqs_flag}: {n} running requests need a token budget of at least \
                     {n} per iteration (every running decode in one), but it is {budget} \
                     (--max-batched-tokens{}); lower --max-num-seqs or raise \
                     --max-batched-tokens",
                    if args.max_num_batched_tokens.is_some() {
                        ""
                    } else {
                        ", the engine's default"
                    }
                )
            };
            return Err(CliError::input(message));
        }
    }
    Ok(())
}

/// Run `parallax search`.
pub fn run(args: SearchArgs) -> Result<(), CliError> {
    check_counts(&args)?;
    if let Some(path) = &args.report {
        crate::output::check_output("--report", path)?;
    }
    let model = common::max_model_len(
        args.precision.apply(common::model(&args.model)?)?,
        args.max_model_len,
    )?;
    let cluster = common::cluster(&args.cluster)?;
    let workload = parallax::load_workload(
        &args.workload,
        common::rate(args.rate.as_ref())?,
        args.requests,
    )
    .map_err(|e| CliError::input(common::rate_as_written(e, args.rate.as_ref())))?;
    let cost = common::cost_model(&cluster, &args.cost_model)?;
    // A heterogeneous cluster gets one automatic cost model per GPU kind (facade).
    let hetero = cluster.is_heterogeneous();
    common::check_hetero_cost_model(&cluster, &args.cost_model)?;
    let obj = objective(&args.objective)?;
    let slo = common::slo(args.slo_ttft.as_deref(), args.slo_tpot.as_deref())?;
    let time = args
        .time_limit
        .as_deref()
        .map(|t| common::duration("--time-limit", t))
        .transpose()?;
    let engine = args.engine_flags.apply(
        common::engine(&args.engine, &model, &cluster, cluster.gpus_per_node)?,
        &model,
    )?;
    let (sched, space) = scheduler(&args, engine.scheduler, model.max_position_embeddings)?;
    let emit_engine = args.emit.as_deref().map(crate::emit::engine).transpose()?;
    let (gpu_memory_utilization, rule) =
        common::memory_setting(args.gpu_memory_utilization.as_ref(), &engine)?;
    let memory = MemoryOptions {
        gpu_memory_utilization,
        rule,
        block_size: args.block_size.unwrap_or(engine.block_size),
        ..MemoryOptions::default()
    };
    // The engine whose launch `--emit` writes, else the searched engine's (to say when the
    // best plan is one it cannot run).
    let emitting = emit_engine.is_some();
    let launch_engine = emit_engine.or_else(|| args.engine.parse::<parallax::emit::Engine>().ok());
    let emit_inputs = launch_engine.map(|e| (e, model.clone(), cluster.clone()));
    let pareto = match &args.pareto {
        None => None,
        Some(p) => match p.split_once(',') {
            Some((a, b)) => {
                let one = |o: &str| {
                    o.parse::<Objective>().map_err(|_| {
                        CliError::input(format!(
                            "invalid --pareto `{p}` at `{o}`: expected two objectives separated \
                             by a comma, each one of e2e-mean, e2e-p50, e2e-p99, ttft-mean, \
                             ttft-p99, tpot-mean, tpot-p99, throughput, goodput, energy, cost, \
                             min-gpus"
                        ))
                    })
                };
                let (a, b) = (one(a)?, one(b)?);
                if a == b {
                    return Err(CliError::input(format!(
                        "invalid --pareto `{p}`: expected two different objectives (a front of \
                         one objective with itself is just its ranking), e.g. e2e-mean,energy"
                    )));
                }
                Some((a, b))
            }
            None => {
                return Err(CliError::input(format!(
                    "invalid --pareto `{p}`: expected two objectives separated by a comma, \
                     e.g. e2e-mean,energy"
                )))
            }
        },
    };
    let inputs = args
        .report
        .as_ref()
        .map(|_| (model.clone(), cluster.clone(), cost.clone()));
    let arrivals = match args.arrivals.to_ascii_lowercase().as_str() {
        "poisson" => SteadyArrivals::Poisson,
        "trace" => SteadyArrivals::Trace,
        other => {
            return Err(CliError::input(format!(
                "invalid --arrivals `{other}`: expected poisson or trace"
            )))
        }
    };
    if arrivals == SteadyArrivals::Trace && !obj.needs_slo() {
        return Err(CliError::input(format!(
            "--arrivals trace applies to the steady-state objectives (throughput, goodput), \
             not --objective {}",
            args.objective
        )));
    }
    let moe_load = args.moe.moe_load(&model)?;
    let allowed = parse_allowed(&args.parallelisms)?;
    if let (Some(e), false) = (args.moe.eplb_text(), allowed.ep) {
        // as `simulate --eplb` on a plan without expert parallelism
        return Err(CliError::input(format!(
            "invalid --eplb `{e}`: --parallelisms `{}` excludes expert parallelism (ep), and \
             redundant experts only balance expert-parallel ranks; add ep or drop --eplb",
            args.parallelisms
        )));
    }
    if !obj.needs_slo() && args.steady_requests != parallax::search::DEFAULT_STEADY_REQUESTS {
        eprintln!(
            "note: --steady-requests {} has no effect: it sizes the steady-state stream of \
             --objective throughput and goodput, not {}",
            args.steady_requests, args.objective
        );
    }
    if let (None, None, Some(target)) = (slo.ttft_ms, slo.tpot_ms, &args.slo_target) {
        eprintln!(
            "note: --slo-target {} has no effect without --slo-ttft or --slo-tpot (it is the \
             share of requests that must meet them)",
            target
        );
    }
    let precision_line = common::precision_text(&model.precision, &cluster.gpu);
    let mut search = Search::new(model, cluster, workload.clone())
        .objective(obj)
        .slo(slo)
        .slo_target(
            args.slo_target
                .as_ref()
                .map_or(DEFAULT_SLO_TARGET, |t| t.value),
        )
        .limits(Limits {
            max_plans: args.max_plans,
            time,
        })
        .constraints(SearchConstraints {
            max_gpus: args.max_gpus,
            use_all_gpus: if args.fewer_gpus { Some(false) } else { None },
            max_pp: args.max_pp,
            allowed,
        })
        .engine(engine.clone())
        .exact_top((!args.no_bound_pruning).then_some(args.top))
        .memory(memory)
        .scheduler(sched)
        .scheduler_space(space)
        .steady_state(SteadyState {
            requests: args.steady_requests,
            arrivals,
            ..SteadyState::default()
        })
        .disaggregation(
            args.disaggregation
                .parse::<DisaggMode>()
                .map_err(CliError::input)?,
        );
    if !hetero {
        search = search.cost_model(cost.clone());
    }
    if let Some(p) = &args.price {
        search = search.price_per_gpu_hour(p.value);
    }
    if let Some(l) = moe_load {
        search = search.moe_load(l).eplb(args.moe.eplb_mode()?);
    }
    let serving = args.serving.features()?;
    for note in args.serving.unused_notes(&serving, &sched) {
        eprintln!("note: {note}");
    }
    search = search.serving(serving);
    if let Some((a, b)) = pareto {
        search = search.pareto(a, b);
    }
    let bar = if !args.json && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} simulating plans [{bar:30}] {pos}/{len} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let b = bar.clone();
        search = search.progress(move |p| {
            b.set_length(p.total as u64);
            b.set_position(p.simulated as u64);
        });
        Some(bar)
    } else {
        None
    };
    let result = search.run();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut report = result
        .map_err(|e| common::as_written(e, "slo_target", args.slo_target.as_ref()))
        .map_err(|e| common::as_written(e, "workload.rate", args.rate.as_ref()))
        .map_err(CliError::input)?;
    let full = report.clone();
    report.ranked.truncate(args.top);
    if let Some(d) = report.disaggregation.as_mut() {
        d.ranked.truncate(args.top);
    }
    // A launch config that cannot be written is reported after the text report (the search
    // result is still worth seeing), and instead of the JSON.
    let launch = match &emit_inputs {
        None => Ok(None),
        Some((engine, model, cluster)) => match report.best.as_ref() {
            None if !emitting => Ok(None),
            None => Err(CliError::input(format!(
                "--emit {engine}: no plan to emit ({})",
                report
                    .infeasible
                    .as_ref()
                    .map_or("no candidate was simulated", |i| i.reason.as_str())
            ))),
            Some(best) => {
                // A disaggregated deployment that beats every aggregated plan has no launch
                // to write yet: say that the aggregated one is written instead.
                if let (true, Some(d)) = (emitting, report.disaggregation.as_ref()) {
                    if let (parallax::search::Winner::Disaggregated, Some(b)) = (&d.winner, &d.best)
                    {
                        eprintln!(
                            "note: --emit {engine}: the best deployment is disaggregated (`{}`), \
                             whose launch is not written yet; writing the best aggregated plan, \
                             `{}`",
                            b.plan, best.plan
                        );
                    }
                }
                // The best plan the engine can run: a plan it cannot express (vLLM's expert
                // parallelism spans the whole stage, SGLang has no dense-MLP replicas, …) is
                // passed over for the next in rank order, and the note says so.
                let emit = |r: &parallax::search::RankedPlan| {
                    crate::emit::launch(
                        *engine,
                        model,
                        &args.model,
                        cluster,
                        &r.plan,
                        r.scheduler,
                        memory,
                        // The EPLB count simulated with the plan: the search's choice, else
                        // the pinned `--eplb` (none on a plan without expert parallelism).
                        r.eplb.as_ref().map_or_else(
                            || moe_load.map_or(0, |l| l.redundant_on(r.plan.moe.ep)),
                            |c| c.redundant_experts,
                        ),
                        &args.engine_flags,
                    )
                };
                match emit(best) {
                    Err(e @ parallax::emit::EmitError::Unsupported { .. }) => {
                        // the next plans in rank order that meet the constraints, as the
                        // best does
                        let next = full
                            .ranked
                            .iter()
                            .filter(|r| r.meets_constraints && r.plan != best.plan)
                            .find_map(|r| emit(r).ok().map(|l| (r.rank, r.plan.to_string(), l)));
                        match (next, emitting) {
                            (Some((rank, plan, l)), true) => {
                                eprintln!(
                                    "note: --emit {engine}: {e}; writing the launch for the best \
                                     plan it can run instead, #{rank} `{plan}`"
                                );
                                Ok(Some(l))
                            }
                            (Some((rank, plan, _)), false) => {
                                eprintln!(
                                    "note: {e}; the best plan {engine} can run is #{rank} \
                                     `{plan}` (`--emit {engine}` writes its launch)"
                                );
                                Ok(None)
                            }
                            (None, true) => Err(CliError::input(e)),
                            (None, false) => {
                                eprintln!(
                                    "note: {e}; no ranked plan that meets the constraints is one \
                                     {engine} can run"
                                );
                                Ok(None)
                            }
                        }
                    }
                    // without --emit, only whether the engine can run the plan matters
                    _ if !emitting => Ok(None),
                    other => other.map(Some).map_err(CliError::input),
                }
            }
        },
    };
    let launch_text = match &launch {
        Ok(Some(l)) => Some(l.script()),
        _ => None,
    };
    if let (Some(path), Some((model, cluster, cost))) = (&args.report, &inputs) {
        crate::report::write(
            path,
            &full,
            model,
            cluster,
            &workload,
            cost,
            memory,
            &engine,
            args.top,
            launch_text.clone(),
        )?;
    }
    if args.json {
        return match launch? {
            None => print_json(&report),
            Some(l) => {
                let mut v = serde_json::to_value(&report).map_err(CliError::failure)?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert(
                        "launch".into(),
                        serde_json::to_value(&l).map_err(CliError::failure)?,
                    );
                }
                print_json(&v)
            }
        };
    }
    for note in &workload.notes {
        eprintln!("note: {note}");
    }
    print_text(&report, &precision_line);
    if let Some(l) = launch? {
        outln!();
        outln!("launch ({}):", l.engine);
        out!("{}", l.script());
    }
    Ok(())
}

fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// Pool plans of each role (prefill, decode) the text output lists; `--json` lists them all.
const POOL_PLANS_SHOWN: usize = 6;

/// `d` with its pool plans cut to the first [`POOL_PLANS_SHOWN`] of each role for the text
/// output (a huge cluster keeps two per instance size: thousands, one line), the rest counted
/// in the note line printed right after them.
fn capped_pool_plans(d: &DisaggComparison) -> DisaggComparison {
    let mut d = d.clone();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let before = d.pool_plans.len();
    d.pool_plans
        .retain(|p| match seen.iter_mut().find(|(r, _)| *r == p.role) {
            Some((_, n)) => {
                *n += 1;
                *n <= POOL_PLANS_SHOWN
            }
            None => {
                seen.push((p.role, 1));
                true
            }
        });
    let more = before - d.pool_plans.len();
    if more > 0 {
        let line = format!("… and {more} more pool plans kept (`--json` lists them all)");
        d.note = Some(match d.note.take() {
            Some(n) => format!("{line}; {n}"),
            None => line,
        });
    }
    d
}

/// The text report; `precision` is the precision line ([`common::precision_text`]).
fn print_text(r: &SearchReport, precision: &str) {
    let rate = r
        .rate_req_per_s
        .map_or("single arrival time".into(), |x| format!("{x:.3} req/s"));
    outln!(
        "search: {} on {} ({}, engine {}), workload {} ({} requests, {rate})",
        r.model,
        r.cluster,
        r.cost_model,
        r.engine,
        r.workload,
        r.requests
    );
    outln!("precision: {precision}");
    match r.memory.fraction {
        Some(f) => outln!("memory: {} {}", r.memory.setting, common::num(f)),
        None => outln!(
            "memory: {}, SGLang's default for each plan (GPU memory, TP × PP, token budget)",
            r.memory.setting
        ),
    }
    let mut slo = Vec::new();
    if let Some(t) = r.slo.ttft_ms {
        slo.push(format!("TTFT ≤ {t} ms"));
    }
    if let Some(t) = r.slo.tpot_ms {
        slo.push(format!("TPOT ≤ {t} ms"));
    }
    outln!(
        "objective: {} ({}, {}){}",
        r.objective,
        r.unit,
        match r.direction {
            parallax::search::Direction::Minimize => "lower is better",
            parallax::search::Direction::Maximize => "higher is better",
        },
        if slo.is_empty() {
            String::new()
        } else {
            format!(
                "; SLOs {} for {:.0}% of requests",
                slo.join(", "),
                100.0 * r.slo_target
            )
        }
    );
    let obj_col = format!("{} ({})", r.objective, r.unit);
    let header: Vec<String> = [
        "#",
        "plan",
        obj_col.as_str(),
        "TTFT ms",
        "TPOT ms",
        "ITL p99 ms",
        "e2e s",
        "req/s",
        "out tok/s",
        "ok",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mut header = header;
    let mut rows: Vec<Vec<String>> = r
        .ranked
        .iter()
        .map(|p| {
            let m = &p.metrics;
            vec![
                p.rank.to_string(),
                p.plan.to_string(),
                fmt_value(p.objective),
                format!("{:.1}", m.ttft_ms.mean),
                format!("{:.2}", m.tpot_ms.mean),
                format!("{:.2}", m.itl_ms.p99),
                format!("{:.3}", m.e2e_s.mean),
                format!("{:.3}", m.throughput.requests_per_s),
                format!("{:.1}", m.throughput.output_tokens_per_s),
                if p.meets_constraints { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    if let Some(col) = crate::skew::eplb_column(&r.ranked) {
        header.insert(2, "EPLB".into());
        for (row, v) in rows.iter_mut().zip(col) {
            row.insert(2, v);
        }
    }
    let scheds: Vec<_> = r.ranked.iter().map(|p| p.scheduler).collect();
    crate::knobs::insert(&mut header, &mut rows, 2, crate::knobs::columns(&scheds));
    if !rows.is_empty() {
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        outln!();
        out!("{}", table(&header, &rows));
    }
    outln!();
    let brows: Vec<Vec<String>> = r
        .baselines
        .iter()
        .filter_map(|b| match (&b.plan, &b.metrics) {
            (Some(p), Some(m)) => Some(vec![
                b.name.clone(),
                p.to_string(),
                b.objective.map_or("-".into(), fmt_value),
                format!("{:.1}", m.ttft_ms.mean),
                format!("{:.2}", m.tpot_ms.mean),
                format!("{:.3}", m.e2e_s.mean),
                b.speedup.map_or("-".into(), |s| format!("{s:.2}×")),
            ]),
            _ => None,
        })
        .collect();
    if !brows.is_empty() {
        out!(
            "{}",
            table(
                &[
                    "baseline",
                    "plan",
                    obj_col.as_str(),
                    "TTFT ms",
                    "TPOT ms",
                    "e2e s",
                    "best's gain",
                ],
                &brows
            )
        );
    }
    for b in r.baselines.iter().filter(|b| b.metrics.is_none()) {
        outln!(
            "baseline {}: {}",
            b.name,
            b.error.as_deref().unwrap_or("not simulated")
        );
    }
    outln!();
    match &r.best {
        Some(b) => {
            outln!("best: {}", b.plan);
            if let Some(line) = crate::skew::eplb_line(b, r.objective.name(), r.unit) {
                outln!("{line}");
            }
            if let (Some(w), Some(st)) = (&b.window, &r.steady_state) {
                outln!(
                    "steady state: {} requests ({} arrivals, lengths resampled from the \
                     workload); window {:.1}-{:.1} s without {} warm-up and {} drain \
                     requests: {} measured, arrivals {:.3} req/s, completions {:.3} req/s \
                     ({:.3} expected of a settled system), SLO attainment {}",
                    w.driving_requests,
                    st.arrivals.name(),
                    w.start_s,
                    w.end_s,
                    w.warmup_requests,
                    w.drain_requests,
                    w.measured_requests,
                    w.arrival_rate_req_per_s,
                    w.completion_rate_req_per_s,
                    w.expected_completion_rate_req_per_s,
                    w.slo_attainment
                        .map_or("-".into(), |a| format!("{:.1} %", 100.0 * a))
                );
            }
        }
        None => outln!(
            "no plan: {}",
            r.infeasible
                .as_ref()
                .map_or("no candidate was simulated", |i| i.reason.as_str())
        ),
    }
    if let Some(d) = &r.disaggregation {
        crate::disagg::print(&capped_pool_plans(d), r, &obj_col);
    }
    let pruned: Vec<String> = r
        .plans_pruned
        .iter()
        .filter(|(k, _)| k.as_str() != "bound")
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let bound = match r.plans_pruned.get("bound") {
        Some(n) => format!(", {n} skipped by bound"),
        None => String::new(),
    };
    outln!(
        "plans: {} enumerated, {} pruned ({}), {} feasible, {} DP-split, {} simulated ({} simulator runs){bound}; stop: {}",
        r.plans_enumerated,
        r.plans_pruned_total,
        pruned.join(", "),
        r.plans_feasible,
        r.plans_uneven,
        r.plans_simulated,
        r.simulations,
        r.stop_reason.name()
    );
    if let Some(p) = &r.pareto {
        outln!();
        outln!("Pareto front ({} vs {}):", p.objectives[0], p.objectives[1]);
        let mut rows: Vec<Vec<String>> = p
            .points
            .iter()
            .map(|x| vec![x.plan.to_string(), fmt_value(x.a), fmt_value(x.b)])
            .collect();
        let mut header: Vec<String> = ["plan", p.objectives[0].name(), p.objectives[1].name()]
            .iter()
            .map(|h| h.to_string())
            .collect();
        let scheds: Vec<_> = p.points.iter().map(|x| x.scheduler).collect();
        crate::knobs::insert(&mut header, &mut rows, 1, crate::knobs::columns(&scheds));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out!("{}", table(&header, &rows));
    }
}
