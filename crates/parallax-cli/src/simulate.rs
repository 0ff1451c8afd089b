//! `parallax simulate`: run one plan through the batching simulator.

use crate::common::{self, Real};
use crate::output::{print_json, table, write_file, CliError};
use clap::Args;
use parallax::plan::{DisaggPlan, LowerOptions, MemoryOptions, Plan};
use parallax::sim::{
    chrome_trace_with, requests_csv, RejectReason, RequestRecord, RouterPolicy, SchedulerConfig,
    SchedulerKind, SimConfig, SimReport, Summary,
};
use parallax::EngineModel;
use std::path::PathBuf;

/// Arguments of `parallax simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Embedded short name, HF id or path to a `config.json`.
    #[arg(long, short, default_value = "llama-3.1-70b")]
    model: String,
    /// `NxGxGPU` (e.g. `1x8xH100`) or a cluster TOML file.
    #[arg(long, default_value = "1x8xH100")]
    cluster: String,
    /// The plan, e.g. `tp=8`, `dp=2,tp=4`, `pp=2,tp=4`, a canonical string from `search`, or a
    /// disaggregated `prefill=2x(tp=4);decode=1x(tp=8)` [default: tensor parallelism over one
    /// node's GPUs, `tp=G` for an `NxGxGPU` cluster].
    #[arg(long)]
    plan: Option<String>,
    /// Embedded workload (chat, creation, summarization, code, conversation) or a trace file.
    #[arg(long, short, default_value = "chat")]
    workload: String,
    /// Rescale arrivals to this rate (requests/s).
    #[arg(long)]
    rate: Option<Real>,
    /// Keep only the first N requests.
    #[arg(long, value_parser = common::requests_arg)]
    requests: Option<usize>,
    /// Serving engine whose defaults and mechanics to simulate: vllm (V1), vllm-v0, sglang,
    /// trtllm, or none (the bare simulator).
    #[arg(long, default_value = "vllm")]
    engine: String,
    /// Override the engine's scheduling policy: vllm (v0, prefill first), sarathi (v1
    /// chunked prefill), orca, static, prefill-first (sglang).
    #[arg(long)]
    scheduler: Option<String>,
    /// Most requests running at once per engine.
    #[arg(long, value_parser = common::num_seqs_arg)]
    max_num_seqs: Option<u32>,
    /// Token budget of one iteration (vLLM's name; `--max-batched-tokens` also works).
    #[arg(long, alias = "max-batched-tokens", value_parser = common::batched_tokens_arg)]
    max_num_batched_tokens: Option<u32>,
    /// Chunk size (token budget) of the chunked-prefill scheduler.
    #[arg(long, value_parser = common::batched_tokens_arg)]
    chunk: Option<u32>,
    /// Replica router: round-robin, least-outstanding, shortest-queue, random, prefix-affinity
    /// (needs --prefix-caching), capacity (weighted by replica speed). Default: round-robin.
    #[arg(long)]
    router: Option<String>,
    #[command(flatten)]
    serving: crate::serving::ServingArgs,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0,
          value_parser = |s: &str| common::count_arg(s, 0, u64::MAX))]
    seed: u64,
    /// Time-to-first-token SLO (e.g. 500ms, 0.5s).
    #[arg(long)]
    slo_ttft: Option<String>,
    /// Time-per-output-token SLO (e.g. 50ms).
    #[arg(long)]
    slo_tpot: Option<String>,
    /// Fraction of GPU memory for weights, activations and KV cache, as vLLM's flag means it
    /// (default: the engine's own setting: vLLM 0.9, SGLang's mem_fraction_static, TensorRT-LLM
    /// 0.9 of the memory free after the weights).
    #[arg(long)]
    gpu_memory_utilization: Option<Real>,
    /// Clients keep at most N requests in flight (closed loop, as `vllm bench serve
    /// --max-concurrency`): a request is sent at its arrival time or when one completes.
    #[arg(long, value_parser = common::concurrency_arg)]
    max_concurrency: Option<u32>,
    /// One-way latency between the clients and the engine's scheduler (HTTP, the API server,
    /// tokenization), with a unit (`3ms`) or `0` (also `0ms`): requests reach the engine this much after
    /// they are sent and tokens reach the client this much after they are produced, so TTFT
    /// and end-to-end latency include it twice. Default: the engine's (3 ms for every preset,
    /// fitted on the development load points; 0 with `--engine none`); at most 60s.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    frontend_latency: Option<String>,
    /// Whether the engine forms the next iteration's batch while the current one runs (vLLM
    /// V1's async scheduling, SGLang's and TensorRT-LLM's overlap schedulers): `on` or `off`.
    /// A request arriving at a busy engine then joins the second iteration after its arrival.
    /// Default: the engine's (on for sglang and trtllm, off for vllm 0.12 and vllm-v0).
    #[arg(long, value_name = "on|off")]
    schedule_ahead: Option<String>,
    /// vLLM's `--max-model-len`: the context window in tokens (prompt + output), at most the
    /// model's `max_position_embeddings` (default: that). Longer requests are an error; vLLM
    /// V0's token budget follows it.
    #[arg(long, value_parser = common::batched_tokens_arg)]
    max_model_len: Option<u32>,
    /// `auto` (measured profile where one ships, else roofline), `roofline`, `profiled`, or a
    /// FILE: a profile or the roofline parameters of `calibrate --out`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Also print the plan's launch command for vllm, sglang or trtllm.
    #[arg(long, value_name = "ENGINE")]
    emit: Option<String>,
    /// vLLM's flag: the plan's tensor-parallel degree (instead of `--plan`).
    #[arg(long, conflicts_with = "plan", value_parser = common::gpus_arg)]
    tensor_parallel_size: Option<u32>,
    /// vLLM's flag: the plan's pipeline depth (instead of `--plan`).
    #[arg(long, conflicts_with = "plan", value_parser = common::gpus_arg)]
    pipeline_parallel_size: Option<u32>,
    /// vLLM's flag: the plan's data-parallel replicas (instead of `--plan`).
    #[arg(long, conflicts_with = "plan", value_parser = common::gpus_arg)]
    data_parallel_size: Option<u32>,
    /// vLLM's flag: a MoE model's experts split over the GPUs of the tensor- and data-parallel
    /// sizes (instead of `--plan`; with `--data-parallel-size D` the attention runs data
    /// parallel, plan `tp=D·T,attn=DxtpT,moe=ep(D·T)xtp1`).
    #[arg(long, conflicts_with = "plan")]
    enable_expert_parallel: bool,
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
    /// `--enforce-eager`, `--disable-custom-all-reduce`.
    #[command(flatten)]
    engine_flags: crate::engine_flags::EngineFlags,
    /// Weight quantisation and KV-cache type.
    #[command(flatten)]
    precision: crate::precision::PrecisionArgs,
    /// MoE routing skew and EPLB.
    #[command(flatten)]
    moe: crate::skew::MoeSkewArgs,
    /// Write one CSV row per request to FILE.
    #[arg(long, value_name = "FILE")]
    requests_csv: Option<PathBuf>,
    /// Write a Chrome trace (Perfetto) of iterations per replica and stage to FILE.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Wall-clock budget (`30s`, `10m`; default 1h): past it the run stops with exit code 3
    /// and no result.
    #[arg(long, allow_hyphen_values = true)]
    time_limit: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Why requests were rejected, one line per reason with the fix (empty when none were).
/// `memory`: a single plan's memory (for the advice on KV rejections under an engine whose
/// memory rule is not vLLM's).
fn rejection_notes(
    report: &SimReport,
    config: &SimConfig,
    memory: Option<&parallax::MemorySummary>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let longest = |reason: RejectReason, f: &dyn Fn(&RequestRecord) -> u64| {
        report
            .requests
            .iter()
            .filter(|r| r.rejected == Some(reason))
            .map(f)
            .max()
            .unwrap_or(0)
    };
    let c = &report.metrics.requests;
    if c.rejected_prompt_too_long > 0 {
        let prompt = longest(RejectReason::PromptTooLong, &|r| r.prompt_tokens as u64);
        notes.push(format!(
            "{} of {} requests rejected: their prompt (up to {prompt} tokens) exceeds the token \
             budget of one iteration (--max-batched-tokens {}) and scheduler {} does not split \
             prompts; raise --max-batched-tokens to at least {prompt}, or use --scheduler \
             sarathi (chunked prefill)",
            c.rejected_prompt_too_long,
            c.total,
            config.scheduler.max_num_batched_tokens,
            config.scheduler.kind.name()
        ));
    }
    if c.rejected_kv_capacity > 0 {
        let tokens = longest(RejectReason::KvCapacity, &|r| {
            r.prompt_tokens as u64 + r.output_tokens as u64
        });
        // --gpu-memory-utilization has vLLM's meaning: under another engine's rule, name the
        // utilization the engine's own setting amounts to.
        let vllm = parallax::plan::MemoryRule::Utilization.setting();
        let raise = match memory.filter(|m| m.setting != vllm) {
            Some(m) => format!(
                "raise --gpu-memory-utilization above {} (vLLM's meaning, the share of GPU \
                 memory for weights, activations and KV cache; the engine's {} {} amounts to \
                 that)",
                common::num(m.vllm_equivalent),
                m.setting,
                common::num(m.fraction)
            ),
            None => "raise --gpu-memory-utilization".to_string(),
        };
        notes.push(format!(
            "{} of {} requests rejected: their KV cache (up to {tokens} tokens, prompt + output) \
             can never fit one replica's KV memory; give each replica more GPUs (a larger tp or \
             pp in --plan), {raise}, or use shorter requests",
            c.rejected_kv_capacity, c.total
        ));
    }
    notes
}

/// The simulator settings from the flags on top of the engine's.
fn sim_config(
    a: &SimulateArgs,
    engine: &EngineModel,
    serving: &parallax::search::ServingFeatures,
    max_model_len: u32,
) -> Result<SimConfig, CliError> {
    let mut scheduler: SchedulerConfig = engine.scheduler;
    if let Some(s) = &a.scheduler {
        let kind: SchedulerKind = s.parse().map_err(CliError::input)?;
        scheduler.kind = kind;
    } else if a.enable_chunked_prefill {
        // with the engine's own chunked budget (vLLM V0: 512) unless one is given below
        scheduler = parallax::engine::with_chunked_prefill(
            scheduler,
            a.engine.parse().ok(),
            true,
            max_model_len,
        );
    }
    if let Some(p) = &a.capacity_scheduler_policy {
        scheduler.reserve_to_completion = common::capacity_policy(p)?;
    }
    // (ranges checked by the flags' clap parsers)
    if let Some(n) = a.max_num_seqs {
        scheduler.max_num_seqs = n;
    }
    if let Some(n) = a.max_num_batched_tokens {
        scheduler.max_num_batched_tokens = n;
    }
    if let Some(n) = a.chunk {
        scheduler.chunk_size = Some(n);
    }
    if let Some(n) = a.chunk.filter(|_| !scheduler.kind.chunked()) {
        return Err(CliError::input(format!(
            "--chunk {n} applies to the chunked-prefill schedulers (sarathi, prefill-first); \
             scheduler {} does not split prompts",
            scheduler.kind.name()
        )));
    }
    let slo = common::slo(a.slo_ttft.as_deref(), a.slo_tpot.as_deref())?;
    Ok(SimConfig {
        scheduler,
        schedule_ahead: match a.schedule_ahead.as_deref() {
            None => engine.schedule_ahead,
            Some(v) => on_off("--schedule-ahead", v)?,
        },
        frontend_latency_s: match a.frontend_latency.as_deref() {
            None => engine.frontend_latency_s,
            Some(v) => frontend_latency(v)?,
        },
        max_concurrency: a.max_concurrency,
        router: a
            .router
            .as_deref()
            .unwrap_or("round-robin")
            .parse::<RouterPolicy>()
            .map_err(CliError::input)?,
        seed: a.seed,
        slo,
        record_timeline: a.timeline.is_some(),
        prefix_caching: serving.prefix_caching,
        preemption: serving.preemption,
        swap_space_bytes_per_gpu: serving.swap_space_bytes_per_gpu,
        cpu_prefix_cache_bytes_per_gpu: serving.cpu_prefix_cache_bytes_per_gpu,
        ..engine.sim_config(&SimConfig::default())
    })
}

/// `on`/`off` (also `true`/`false`).
fn on_off(flag: &str, v: &str) -> Result<bool, CliError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(CliError::input(format!(
            "invalid {flag} `{v}` (expected on or off)"
        ))),
    }
}

/// `--frontend-latency`: `0`, or a duration of at most
/// [`parallax::sim::MAX_FRONTEND_LATENCY_S`].
fn frontend_latency(v: &str) -> Result<f64, CliError> {
    // `0`, `0ms`, `0s`, …: off (a duration flag is otherwise > 0).
    let number = v.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if matches!(number.trim().parse::<f64>(), Ok(x) if x == 0.0) {
        return Ok(0.0);
    }
    common::duration_in(
        "--frontend-latency",
        v,
        parallax::sim::MAX_FRONTEND_LATENCY_S,
    )
    .map(|d| d.as_secs_f64())
}

fn summary_row(name: &str, unit: &str, s: &Summary) -> Vec<String> {
    // no sample (every request rejected, or none with a second token): no figure, not 0
    let v = |x: f64| {
        if s.count == 0 {
            "-".to_string()
        } else {
            format!("{x:.3}")
        }
    };
    vec![
        format!("{name} ({unit})"),
        v(s.mean),
        v(s.p50),
        v(s.p90),
        v(s.p99),
        v(s.max),
    ]
}

/// Run `parallax simulate`.
pub fn run(args: SimulateArgs) -> Result<(), CliError> {
    crate::budget::start("simulate", args.time_limit.as_deref())?;
    for (flag, path) in [
        ("--requests-csv", &args.requests_csv),
        ("--timeline", &args.timeline),
    ] {
        if let Some(p) = path {
            crate::output::check_output(flag, p)?;
        }
    }
    let outputs: Vec<(&str, &std::path::Path)> = [
        ("--requests-csv", &args.requests_csv),
        ("--timeline", &args.timeline),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
    .collect();
    crate::output::check_distinct_outputs(
        &outputs,
        &[
            ("--workload", std::path::Path::new(&args.workload)),
            ("--model", std::path::Path::new(&args.model)),
            ("--cluster", std::path::Path::new(&args.cluster)),
            ("--cost-model", std::path::Path::new(&args.cost_model)),
        ],
    )?;
    let model = common::max_model_len(
        args.precision.apply(common::model(&args.model)?)?,
        args.max_model_len,
    )?;
    let cluster = common::cluster(&args.cluster)?;
    let plan_arg = args
        .plan
        .clone()
        .unwrap_or_else(|| format!("tp={}", cluster.gpus_per_node));
    let disaggregated = DisaggPlan::is_disaggregated(&plan_arg)
        && args.data_parallel_size.is_none()
        && args.pipeline_parallel_size.is_none()
        && args.tensor_parallel_size.is_none()
        && !args.enable_expert_parallel;
    if args.enable_expert_parallel {
        common::require_moe(&model, "--enable-expert-parallel")?;
    }
    let single: Option<Plan> = match (
        args.data_parallel_size,
        args.pipeline_parallel_size,
        args.tensor_parallel_size,
    ) {
        _ if disaggregated => None,
        (None, None, None) if !args.enable_expert_parallel => {
            Some(plan_arg.parse().map_err(CliError::input)?)
        }
        (dp, pp, tp) => Some(
            parallax::emit::vllm_plan(
                dp.unwrap_or(1),
                pp.unwrap_or(1),
                tp.unwrap_or(1),
                args.enable_expert_parallel,
            )
            .map_err(CliError::input)?,
        ),
    };
    // Host-memory sizes and the host link: finite, in documented ranges (docs/cli.md, Limits).
    let serving = args.serving.features()?;
    let engine_tp = single.as_ref().map_or(cluster.gpus_per_node, |p| p.tp);
    let engine = args.engine_flags.apply(
        common::engine(&args.engine, &model, &cluster, engine_tp)?,
        &model,
    )?;
    let mut config = sim_config(&args, &engine, &serving, model.max_position_embeddings)?;
    if let Some(p) = &single {
        engine.adapt_to_plan(&mut config, p);
    }
    let workload = parallax::load_workload(
        &args.workload,
        common::rate(args.rate.as_ref())?,
        args.requests,
    )
    .map_err(|e| CliError::input(common::rate_as_written(e, args.rate.as_ref())))?;
    let base_cost = common::cost_model(&cluster, &args.cost_model)?;
    let cost_name = base_cost.name().to_string();
    let cost = engine.cost_model(base_cost, cluster.gpu.memory_bandwidth);
    let mut lower = engine.lower_options(&LowerOptions::default());
    let (gpu_memory_utilization, rule) =
        common::memory_setting(args.gpu_memory_utilization.as_ref(), &engine)?;
    lower.memory = MemoryOptions {
        gpu_memory_utilization,
        rule,
        max_num_batched_tokens: config.scheduler.token_budget(),
        max_num_seqs: config.scheduler.max_num_seqs,
        block_size: args.block_size.unwrap_or(engine.block_size),
        ..lower.memory
    };
    lower.host_link_bandwidth = serving.host_link_bandwidth;
    lower.moe_load = args.moe.simulate_load(&model)?;
    let disagg_plan: Option<DisaggPlan> = match &single {
        None => Some(plan_arg.parse().map_err(CliError::input)?),
        Some(_) => None,
    };
    if let Some(d) = &disagg_plan {
        // prompts are chunked in the prefill pool
        engine.adapt_to_plan(&mut config, &d.prefill_plan);
    }
    // Redundant experts balance expert-parallel ranks: without EP they only cost memory
    // (vLLM requires expert parallelism for EPLB too).
    if let Some(l) = lower.moe_load.filter(|l| l.redundant > 0) {
        let plans: Vec<&Plan> = match (&single, &disagg_plan) {
            (Some(p), _) => vec![p],
            (None, Some(d)) => vec![&d.prefill_plan, &d.decode_plan],
            (None, None) => Vec::new(),
        };
        if let Some(p) = plans.into_iter().find(|p| p.moe.ep <= 1) {
            return Err(CliError::input(format!(
                "invalid --eplb `{}`: plan `{p}` has no expert parallelism (ep = 1), and \
                 redundant experts only balance expert-parallel ranks; give the plan's MoE \
                 layers ep > 1 (e.g. `tp=8,moe=ep8`) or drop --eplb",
                l.redundant
            )));
        }
    }
    let (report, plan_text) = match (&single, &disagg_plan) {
        (_, Some(plan)) => {
            // The skew's EPLB count must divide over each pool's EP ranks (checked before the
            // lowering, which would otherwise leave such a pool balanced).
            if let Some(l) = &lower.moe_load {
                for p in [&plan.prefill_plan, &plan.decode_plan] {
                    l.busiest_rank_share(&model, p).map_err(CliError::input)?;
                }
            }
            let r = if cluster.is_heterogeneous() {
                // Pools on a mixed cluster: one automatic cost model per GPU kind (facade).
                common::check_hetero_cost_model(&cluster, &args.cost_model)?;
                let costs = parallax::hetero::group_cost_models(&cluster, None, Some(&engine))
                    .map_err(CliError::input)?;
                parallax::hetero::simulate_disaggregated(
                    &model, &cluster, plan, &costs, &workload, &config, &lower,
                )
                .map_err(CliError::input)?
            } else {
                parallax::simulate_disaggregated(
                    &model, &cluster, plan, cost, &workload, &config, &lower,
                )
                .map_err(CliError::input)?
            };
            (r, plan.to_string())
        }

        (Some(plan), None) if cluster.is_heterogeneous() => {
            common::check_hetero_cost_model(&cluster, &args.cost_model)?;
            let asked = config.router;
            let runs = parallax::hetero::router_for(plan, &cluster, asked);
            if args.router.is_some() && runs != asked {
                eprintln!(
                    "note: --router {} is replaced by {}: plan `{plan}` has replicas on \
                     different GPU kinds, which round-robin would load equally",
                    args.router.as_deref().unwrap_or_default(),
                    runs.name()
                );
            }
            let costs = parallax::hetero::group_cost_models(&cluster, None, Some(&engine))
                .map_err(CliError::input)?;
            let r = parallax::hetero::simulate_plan(
                &model, &cluster, plan, &costs, &workload, &config, &lower,
            )
            .map_err(CliError::input)?;
            (r, plan.to_string())
        }
        (Some(plan), None) => {
            let r =
                parallax::simulate_plan(&model, &cluster, plan, cost, &workload, &config, &lower)
                    .map_err(CliError::input)?;
            (r, plan.to_string())
        }
        // `single` is `None` exactly when the plan parsed as disaggregated above.
        (None, None) => {
            return Err(CliError::input(format!(
                "--plan `{}`: expected one plan or a disaggregated `prefill=…;decode=…` plan",
                plan_arg
            )))
        }
    };
    if let Some(path) = &args.requests_csv {
        write_file(path, &requests_csv(&report))?;
    }
    // Per-EP-rank routed load of a single plan's MoE layers under the skew (docs/cli.md).
    let moe_ranks = match (&lower.moe_load, &single) {
        (Some(l), Some(plan)) => {
            parallax::moe_ranks::moe_rank_load(&model, plan, l, report.metrics.tokens.forward)
                .map_err(CliError::input)?
        }
        _ => None,
    };
    // A disaggregated plan: one load per pool.
    let pool_ranks = match (&lower.moe_load, &disagg_plan) {
        (Some(l), Some(plan)) => {
            parallax::moe_ranks::disaggregated_rank_load(&model, plan, l, &report)
                .map_err(CliError::input)?
        }
        _ => None,
    };
    if let Some(path) = &args.timeline {
        let mut tracks: Vec<_> = moe_ranks.iter().map(|r| r.counter_track()).collect();
        if let (Some(p), Some(plan)) = (&pool_ranks, &disagg_plan) {
            tracks.extend(p.counter_tracks(plan));
        }
        write_file(path, &chrome_trace_with(&report, &tracks))?;
    }
    // The KV cache the engine's memory rule leaves one replica of a single plan.
    let memory = match &single {
        Some(plan) => Some(
            parallax::MemorySummary::of_plan(&model, plan, &cluster, &lower)
                .map_err(CliError::input)?,
        ),
        None => None,
    };
    // a router chooses between replicas: with one, it has nothing to choose
    let router_note = match (&args.router, &single) {
        (Some(r), Some(plan)) if plan.dp == 1 => Some(format!(
            "--router {r} has no effect: plan `{plan}` has one replica"
        )),
        _ => None,
    };
    // expert parallelism over one GPU splits nothing
    let ep_note = (args.enable_expert_parallel
        && args
            .tensor_parallel_size
            .unwrap_or(1)
            .saturating_mul(args.data_parallel_size.unwrap_or(1))
            == 1)
        .then(|| {
            "--enable-expert-parallel has no effect: the experts are split over one GPU (give \
             --tensor-parallel-size or --data-parallel-size above 1)"
                .to_string()
        });
    for note in workload
        .notes
        .iter()
        .chain(&args.serving.unused_notes(&serving, &config.scheduler))
        .chain(&router_note)
        .chain(&ep_note)
    {
        eprintln!("note: {note}");
    }
    for note in rejection_notes(&report, &config, memory.as_ref()) {
        eprintln!("warning: {note}");
    }
    // The busiest EP rank's share of a MoE layer's routed pairs (single plans).
    let moe_share = match (&lower.moe_load, &single) {
        (Some(l), Some(plan)) => l
            .busiest_rank_share(&model, plan)
            .map_err(CliError::input)?,
        _ => None,
    };
    let m = &report.metrics;
    let launch = match (args.emit.as_deref(), &single) {
        (None, _) => None,
        (Some(e), None) => {
            return Err(CliError::input(format!(
                "--emit {e}: disaggregated plans (`{plan_text}`) have no launch command yet; \
                 emit each pool's plan separately"
            )))
        }
        (Some(e), Some(plan)) => Some(
            crate::emit::launch(
                crate::emit::engine(e)?,
                &model,
                &args.model,
                &cluster,
                plan,
                config.scheduler,
                lower.memory,
                lower.moe_load.map_or(0, |l| l.redundant),
                &args.engine_flags,
            )
            .map_err(CliError::input)?,
        ),
    };
    if args.json {
        let mut v = serde_json::to_value(m).map_err(CliError::failure)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("engine".into(), engine.name.clone().into());
            o.insert("cost_model".into(), cost_name.clone().into());
            o.insert("precision".into(), model.precision.to_string().into());
            if let Some(s) = &config.speculation {
                o.insert(
                    "speculation".into(),
                    serde_json::to_value(s.summary(None)).map_err(CliError::failure)?,
                );
            }
            if let Some(mem) = &memory {
                o.insert(
                    "memory".into(),
                    serde_json::to_value(mem).map_err(CliError::failure)?,
                );
            }
            if lower.moe_load.is_some() {
                o.insert("moe_busiest_rank_share".into(), moe_share.into());
                let ranks = match &pool_ranks {
                    Some(p) => serde_json::to_value(p),
                    None => serde_json::to_value(&moe_ranks),
                };
                o.insert("moe_rank_load".into(), ranks.map_err(CliError::failure)?);
            }
            if let Some(l) = &launch {
                o.insert(
                    "launch".into(),
                    serde_json::to_value(l).map_err(CliError::failure)?,
                );
            }
        }
        return print_json(&v);
    }
    outln!(
        "{} on {} with plan {} (cost model {}), engine {} ({}), workload {} ({} requests), scheduler {}{}, front end {} ms each way",
        model.name,
        cluster.spec(),
        plan_text,
        cost_name,
        engine.name,
        engine.mirrors,
        workload.name,
        workload.len(),
        config.scheduler.kind.name(),
        {
            let traits: Vec<&str> = [
                (config.schedule_ahead, "schedules ahead"),
                (
                    config.scheduler.reserve_to_completion,
                    "reserves each request's whole KV",
                ),
            ]
            .iter()
            .filter_map(|&(on, t)| on.then_some(t))
            .collect();
            if traits.is_empty() {
                String::new()
            } else {
                format!(" ({})", traits.join(", "))
            }
        },
        common::num(config.frontend_latency_s * 1e3)
    );
    outln!(
        "precision     {}",
        common::precision_text(&model.precision, &cluster.gpu)
    );
    if let Some(s) = &config.speculation {
        outln!("{}", crate::engine_flags::speculation_text(s));
    }
    if let Some(mem) = &memory {
        outln!(
            "memory        {} {}{}: KV cache {} tokens per replica, weights {:.1} GiB per GPU",
            mem.setting,
            common::num(mem.fraction),
            if args.gpu_memory_utilization.is_some() {
                " (--gpu-memory-utilization)"
            } else {
                " (engine default)"
            },
            mem.kv_tokens_per_replica,
            mem.weights_gib_per_gpu
        );
    }
    outln!(
        "requests      {} completed, {} rejected, {} preemptions",
        m.requests.completed,
        m.requests.rejected,
        m.requests.preemptions
    );
    let rows = vec![
        summary_row("TTFT", "ms", &m.ttft_ms),
        summary_row("TPOT", "ms", &m.tpot_ms),
        summary_row("ITL", "ms", &m.itl_ms),
        summary_row("e2e", "s", &m.e2e_s),
        summary_row("queueing", "ms", &m.queue_ms),
    ];
    out!(
        "{}",
        table(&["metric", "mean", "p50", "p90", "p99", "max"], &rows)
    );
    outln!(
        "throughput    {:.3} req/s, {:.1} output tok/s, {:.1} total tok/s",
        m.throughput.requests_per_s,
        m.throughput.output_tokens_per_s,
        m.throughput.total_tokens_per_s
    );
    if let Some(share) = moe_share {
        outln!(
            "MoE load      busiest EP rank gets {:.1}% of each MoE layer's routed pairs",
            100.0 * share
        );
    }
    let pools: Vec<(&str, &parallax::moe_ranks::MoeRankLoad)> = match (&moe_ranks, &pool_ranks) {
        (Some(r), _) => vec![("EP ranks", r)],
        (None, Some(p)) => vec![("EP prefill", &p.prefill), ("EP decode", &p.decode)],
        _ => Vec::new(),
    };
    for (label, r) in pools {
        let shares: Vec<String> = r
            .shares
            .iter()
            .map(|s| format!("{:.1}", 100.0 * s))
            .collect();
        outln!(
            "{label:<13} shares % [{}], imbalance {:.2}× (busiest rank {}), {} redundant experts",
            shares.join(" "),
            r.imbalance,
            r.busiest_rank,
            r.redundant_experts
        );
    }
    if let Some(c) = &m.prefix_cache {
        outln!(
            "prefix cache  {:.1}% of prompt tokens hit ({} of {}), {} blocks reused, {} evicted",
            100.0 * c.hit_rate,
            c.hit_tokens,
            c.query_tokens,
            c.hit_blocks,
            c.evicted_blocks
        );
        if c.offloaded_blocks > 0 || c.cpu_hit_tokens > 0 {
            outln!(
                "host tier     {} blocks offloaded, {} tokens loaded back in {:.3} s",
                c.offloaded_blocks,
                c.cpu_hit_tokens,
                c.cpu_load_s
            );
        }
    }
    if let Some(x) = &m.kv_transfer {
        outln!(
            "KV transfer   {} prefill→decode, {:.2} GB, mean {:.2} ms, p99 {:.2} ms",
            x.transfers,
            x.bytes / 1e9,
            x.transfer_ms.mean,
            x.transfer_ms.p99
        );
    }
    if let Some(w) = &m.swap {
        outln!(
            "KV swap       {} out, {} in, {:.2} GB moved, {:.3} s of transfers",
            w.swap_outs,
            w.swap_ins,
            w.bytes / 1e9,
            w.transfer_s
        );
    }
    if let Some(att) = m.slo.attainment {
        outln!(
            "SLO           {:.1}% attained, goodput {:.3} req/s",
            100.0 * att,
            m.slo.goodput_requests_per_s.unwrap_or(0.0)
        );
    }
    outln!(
        "GPUs          {} GPUs, utilisation {:.1}%, MFU {:.2}%, MBU {:.2}%, energy {:.1} kJ",
        m.gpu.gpus,
        100.0 * m.gpu.utilisation,
        100.0 * m.gpu.mfu,
        100.0 * m.gpu.mbu,
        m.gpu.energy_j / 1e3
    );
    outln!(
        "makespan      {:.1} s, {} iterations",
        m.makespan_s,
        m.iterations
    );
    if let Some(l) = &launch {
        outln!();
        outln!("launch ({}):", l.engine);
        out!("{}", l.script());
    }
    if let Some(t) = crate::bench_compare::measured(&args.workload)
        .and_then(|b| crate::bench_compare::render(&b, m))
    {
        outln!();
        out!("{t}");
    }
    Ok(())
}
