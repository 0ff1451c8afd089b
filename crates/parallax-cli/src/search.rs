//! `parallax search`: find the best serving plan for a model, a cluster and a workload.
//!
//! With no flags it searches Llama-3.1-70B on one node of 8 H100s for the embedded `chat`
//! workload, minimising mean end-to-end latency.
//!
//! # Durations
//! `--slo-ttft`, `--slo-tpot` and `--time-limit` take `500ms`, `0.5s` or a bare number, which
//! means milliseconds (`500` = `500ms`). Anything else is an error.
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
//! - `plans_enumerated`, `plans_pruned` {`symmetry`, `divisibility`, `topology`, `memory`},
//!   `plans_pruned_total`, `plans_feasible`, `plans_simulated`, `simulations`;
//! - `stop_reason`: `exhausted`, `plan_limit` or `time_limit`;
//! - `best`: `null` or {`rank`, `plan`, `gpus`, `scheduler`, `objective`, `meets_constraints`,
//!   `rate_req_per_s`, `energy_j_per_token`, `cost_per_mtok`, `metrics`, `window`}, where
//!   `metrics` has the fields of `simulate --json` and `window` (throughput and goodput, else
//!   `null`) is the steady-state measurement window {`driving_requests`, `warmup_requests`,
//!   `drain_requests`, `measured_requests`, `start_s`, `end_s`, `arrival_rate_req_per_s`,
//!   `completion_rate_req_per_s`, `stable`, `slo_attainment`, `slo_attainment_lower`,
//!   `goodput_req_per_s`};
//! - `ranked`: entries shaped like `best`, best first;
//! - `baselines`: {`name` (`heuristic`, `max-tp`), `description`, `plan`, `objective`,
//!   `meets_constraints`, `metrics`, `speedup` (the best plan's gain: baseline / best when
//!   minimising, best / baseline when maximising), `error`};
//! - `pareto`: `null` or {`objectives`, `points` [{`plan`, `scheduler`, `a`, `b`}]};
//! - `infeasible`: `null` or {`reason`, `closest_miss`, `deficit_bytes`};
//! - `steady_state`: `null`, or for throughput and goodput the stream settings {`requests`,
//!   `arrivals` (`poisson`, `trace`), `warmup_fraction`, `drain_fraction`,
//!   `stability_tolerance`, `seed`}.
//!
//! The output holds no timings: it is byte-identical across runs and `RAYON_NUM_THREADS`
//! values (unless `--time-limit` cut the search short).

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax::plan::{Allowed, MemoryOptions};
use parallax::search::{SteadyArrivals, SteadyState};
use parallax::sim::{SchedulerConfig, SchedulerKind};
use parallax::{Limits, Objective, SchedulerSpace, Search, SearchConstraints, SearchReport};
use std::io::IsTerminal;
use std::time::Duration;

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
    rate: Option<f64>,
    /// Use only the first N requests of the workload.
    #[arg(long)]
    requests: Option<usize>,
    /// What to optimise: e2e-mean, e2e-p50, e2e-p99, ttft-mean, ttft-p99, tpot-mean,
    /// tpot-p99, throughput, goodput, energy, cost, min-gpus.
    #[arg(long, short, default_value = "e2e-mean")]
    objective: String,
    /// Time-to-first-token SLO: `500ms`, `0.5s`, or a bare number of ms.
    #[arg(long)]
    slo_ttft: Option<String>,
    /// Time-per-output-token SLO: `50ms`, `0.05s`, or a bare number of ms.
    #[arg(long)]
    slo_tpot: Option<String>,
    /// Fraction of requests that must meet every SLO, in (0, 1].
    #[arg(long, default_value_t = 0.9)]
    slo_target: f64,
    /// Plans shown in the table (and kept in `--json`'s `ranked`).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Most GPUs a plan may use (default: the whole cluster).
    #[arg(long)]
    max_gpus: Option<u32>,
    /// Also enumerate plans with fewer GPUs than `--max-gpus` (always on for min-gpus).
    #[arg(long)]
    fewer_gpus: bool,
    /// Deepest pipeline.
    #[arg(long)]
    max_pp: Option<u32>,
    /// Allowed parallelisms, comma-separated from dp, pp, tp, ep, attn-replicas, mlp-replicas.
    #[arg(long, default_value = "dp,pp,tp,ep,attn-replicas,mlp-replicas")]
    parallelisms: String,
    /// Scheduler policy: vllm, sarathi, orca or static.
    #[arg(long, default_value = "vllm")]
    scheduler: String,
    /// Max running requests per engine; a comma-separated list searches over the values.
    #[arg(long)]
    max_num_seqs: Option<String>,
    /// Token budget of one iteration.
    #[arg(long)]
    max_batched_tokens: Option<u32>,
    /// Chunk size for `--scheduler sarathi`; a comma-separated list searches over the values.
    #[arg(long)]
    chunk: Option<String>,
    /// Fraction of GPU memory the engine may use.
    #[arg(long, default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// `auto` (measured profile where one ships, else roofline), `roofline` or `profiled`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Price of one GPU-hour for `--objective cost` (default: the GPU catalogue's).
    #[arg(long)]
    price: Option<f64>,
    /// Simulate at most this many plans (the first in enumeration order).
    #[arg(long)]
    max_plans: Option<usize>,
    /// Stop starting simulations after this wall time (`30s`, `500ms`); the result then
    /// depends on timing.
    #[arg(long)]
    time_limit: Option<String>,
    /// Also print the Pareto front of two objectives, e.g. `e2e-mean,energy`.
    #[arg(long)]
    pareto: Option<String>,
    /// Requests in the steady-state stream that drives `throughput` and `goodput` (lengths
    /// resampled from the workload), at least 10.
    #[arg(long, default_value_t = parallax::search::DEFAULT_STEADY_REQUESTS)]
    steady_requests: usize,
    /// Arrivals of the steady-state stream: `poisson`, or `trace` (gamma gaps with the
    /// workload's own burstiness).
    #[arg(long, default_value = "poisson")]
    arrivals: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_list(flag: &str, text: &str) -> Result<Vec<u32>, CliError> {
    text.split(',')
        .map(|s| {
            s.trim().parse::<u32>().map_err(|_| {
                CliError::input(format!(
                    "invalid {flag} `{text}`: expected a positive integer or a comma-separated \
                     list of them (at `{s}`)"
                ))
            })
        })
        .collect()
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
        match part {
            "dp" => a.dp = true,
            "pp" => a.pp = true,
            "tp" => a.tp = true,
            "ep" => a.ep = true,
            "attn-replicas" => a.attn_replicas = true,
            "mlp-replicas" => a.mlp_replicas = true,
            _ => {
                return Err(CliError::input(format!(
                    "invalid --parallelisms `{text}` at `{part}`: expected a comma-separated \
                     list of dp, pp, tp, ep, attn-replicas, mlp-replicas"
                )))
            }
        }
    }
    Ok(a)
}

fn objective(text: &str) -> Result<Objective, CliError> {
    text.parse().map_err(CliError::input)
}

fn scheduler(args: &SearchArgs) -> Result<(SchedulerConfig, SchedulerSpace), CliError> {
    let kind: SchedulerKind = args.scheduler.parse().map_err(CliError::input)?;
    let mut cfg = SchedulerConfig::new(kind);
    if let Some(t) = args.max_batched_tokens {
        cfg.max_num_batched_tokens = t;
    }
    let mut space = SchedulerSpace::default();
    if let Some(s) = &args.max_num_seqs {
        let v = parse_list("--max-num-seqs", s)?;
        if v.len() == 1 {
            cfg.max_num_seqs = v[0];
        } else {
            space.max_num_seqs = v;
        }
    }
    if let Some(s) = &args.chunk {
        if kind != SchedulerKind::Chunked {
            return Err(CliError::input(format!(
                "invalid --chunk `{s}` with --scheduler {}: chunk sizes apply to \
                 --scheduler sarathi only",
                args.scheduler
            )));
        }
        let v = parse_list("--chunk", s)?;
        if v.len() == 1 {
            cfg.chunk_size = Some(v[0]);
        } else {
            space.chunk_sizes = v;
        }
    }
    Ok((cfg, space))
}

/// Run `parallax search`.
pub fn run(args: SearchArgs) -> Result<(), CliError> {
    let model = common::model(&args.model)?;
    let cluster = common::cluster(&args.cluster)?;
    let workload = parallax::load_workload(&args.workload, args.rate, args.requests)
        .map_err(CliError::input)?;
    let cost = common::cost_model(&cluster, &args.cost_model)?;
    let obj = objective(&args.objective)?;
    let slo = common::slo(args.slo_ttft.as_deref(), args.slo_tpot.as_deref())?;
    let time = args
        .time_limit
        .as_deref()
        .map(|t| common::duration_ms("--time-limit", t).map(|ms| Duration::from_secs_f64(ms / 1e3)))
        .transpose()?;
    let (sched, space) = scheduler(&args)?;
    let pareto = match &args.pareto {
        None => None,
        Some(p) => match p.split_once(',') {
            Some((a, b)) => Some((objective(a)?, objective(b)?)),
            None => {
                return Err(CliError::input(format!(
                    "invalid --pareto `{p}`: expected two objectives separated by a comma, \
                     e.g. e2e-mean,energy"
                )))
            }
        },
    };
    let arrivals = match args.arrivals.to_ascii_lowercase().as_str() {
        "poisson" => SteadyArrivals::Poisson,
        "trace" => SteadyArrivals::Trace,
        other => {
            return Err(CliError::input(format!(
                "invalid --arrivals `{other}`: expected poisson or trace"
            )))
        }
    };
    let mut search = Search::new(model, cluster, workload.clone())
        .objective(obj)
        .slo(slo)
        .slo_target(args.slo_target)
        .cost_model(cost)
        .limits(Limits {
            max_plans: args.max_plans,
            time,
        })
        .constraints(SearchConstraints {
            max_gpus: args.max_gpus,
            use_all_gpus: if args.fewer_gpus { Some(false) } else { None },
            max_pp: args.max_pp,
            allowed: parse_allowed(&args.parallelisms)?,
        })
        .scheduler(sched)
        .scheduler_space(space)
        .memory(MemoryOptions {
            gpu_memory_utilization: args.gpu_memory_utilization,
            ..MemoryOptions::default()
        })
        .steady_state(SteadyState {
            requests: args.steady_requests,
            arrivals,
            ..SteadyState::default()
        });
    if let Some(p) = args.price {
        search = search.price_per_gpu_hour(p);
    }
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
    let mut report = result.map_err(CliError::input)?;
    report.ranked.truncate(args.top);
    if args.json {
        return print_json(&report);
    }
    for note in &workload.notes {
        eprintln!("note: {note}");
    }
    print_text(&report);
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

fn print_text(r: &SearchReport) {
    let rate = r
        .rate_req_per_s
        .map_or("single arrival time".into(), |x| format!("{x:.3} req/s"));
    outln!(
        "search: {} on {} ({}), workload {} ({} requests, {rate})",
        r.model,
        r.cluster,
        r.cost_model,
        r.workload,
        r.requests
    );
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
    let header = [
        "#",
        "plan",
        obj_col.as_str(),
        "TTFT ms",
        "TPOT ms",
        "e2e s",
        "req/s",
        "out tok/s",
        "ok",
    ];
    let rows: Vec<Vec<String>> = r
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
                format!("{:.3}", m.e2e_s.mean),
                format!("{:.3}", m.throughput.requests_per_s),
                format!("{:.1}", m.throughput.output_tokens_per_s),
                if p.meets_constraints { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    if !rows.is_empty() {
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
            if let (Some(w), Some(st)) = (&b.window, &r.steady_state) {
                outln!(
                    "steady state: {} requests ({} arrivals, lengths resampled from the \
                     workload); window {:.1}-{:.1} s without {} warm-up and {} drain \
                     requests: {} measured, arrivals {:.3} req/s, completions {:.3} req/s, \
                     SLO attainment {}",
                    w.driving_requests,
                    st.arrivals.name(),
                    w.start_s,
                    w.end_s,
                    w.warmup_requests,
                    w.drain_requests,
                    w.measured_requests,
                    w.arrival_rate_req_per_s,
                    w.completion_rate_req_per_s,
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
    let pruned: Vec<String> = r
        .plans_pruned
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    outln!(
        "plans: {} enumerated, {} pruned ({}), {} feasible, {} simulated ({} simulator runs); stop: {}",
        r.plans_enumerated,
        r.plans_pruned_total,
        pruned.join(", "),
        r.plans_feasible,
        r.plans_simulated,
        r.simulations,
        r.stop_reason.name()
    );
    if let Some(p) = &r.pareto {
        outln!();
        outln!("Pareto front ({} vs {}):", p.objectives[0], p.objectives[1]);
        let rows: Vec<Vec<String>> = p
            .points
            .iter()
            .map(|x| vec![x.plan.to_string(), fmt_value(x.a), fmt_value(x.b)])
            .collect();
        out!(
            "{}",
            table(
                &["plan", p.objectives[0].name(), p.objectives[1].name()],
                &rows
            )
        );
    }
}
