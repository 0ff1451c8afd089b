//! `parallax simulate`: run one plan through the batching simulator.

use crate::common;
use crate::output::{print_json, table, write_file, CliError};
use clap::Args;
use parallax::plan::{DisaggPlan, LowerOptions, MemoryOptions, Plan};
use parallax::sim::{
    chrome_trace, requests_csv, RouterPolicy, SchedulerConfig, SchedulerKind, SimConfig, Summary,
};
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
    /// disaggregated `prefill=2x(tp=4);decode=1x(tp=8)`.
    #[arg(long, default_value = "tp=8")]
    plan: String,
    /// Embedded workload (chat, creation, summarization, code, conversation) or a trace file.
    #[arg(long, short, default_value = "chat")]
    workload: String,
    /// Rescale arrivals to this rate (requests/s).
    #[arg(long)]
    rate: Option<f64>,
    /// Keep only the first N requests.
    #[arg(long)]
    requests: Option<usize>,
    /// vllm (v0, prefill first), sarathi (v1 chunked prefill), orca, static.
    #[arg(long, default_value = "vllm")]
    scheduler: String,
    /// Most requests running at once per engine.
    #[arg(long)]
    max_num_seqs: Option<u32>,
    /// Token budget of one iteration.
    #[arg(long)]
    max_batched_tokens: Option<u32>,
    /// Chunk size (token budget) of the chunked-prefill scheduler.
    #[arg(long)]
    chunk: Option<u32>,
    /// Replica router: round-robin, least-outstanding, shortest-queue, random, prefix-affinity
    /// (needs --prefix-caching).
    #[arg(long, default_value = "round-robin")]
    router: String,
    /// Automatic prefix caching: reuse cached KV blocks of shared prefixes (system prompts,
    /// earlier turns of a conversation) as vLLM's `--enable-prefix-caching` does.
    #[arg(long)]
    prefix_caching: bool,
    /// Preemption when KV runs out: recompute, or swap (KV to host memory over PCIe).
    #[arg(long, default_value = "recompute")]
    preemption: String,
    /// Host swap space per GPU for --preemption swap, GiB (vLLM's swap_space).
    #[arg(long, default_value_t = 4.0)]
    swap_space: f64,
    /// Host-memory tier of the prefix cache per GPU, GiB (needs --prefix-caching): blocks
    /// evicted from the GPU are kept there and loaded back over the host link.
    #[arg(long, default_value_t = 0.0)]
    cpu_prefix_cache: f64,
    /// GPU-to-host link bandwidth per GPU, GB/s per direction (prices KV swaps and loads).
    #[arg(long, default_value_t = 50.0)]
    host_link_gbps: f64,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Time-to-first-token SLO (e.g. 500ms, 0.5s).
    #[arg(long)]
    slo_ttft: Option<String>,
    /// Time-per-output-token SLO (e.g. 50ms).
    #[arg(long)]
    slo_tpot: Option<String>,
    /// Fraction of GPU memory the engine may use.
    #[arg(long, default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// `auto` (measured profile where one ships, else roofline), `roofline` or `profiled`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Write one CSV row per request to FILE.
    #[arg(long, value_name = "FILE")]
    requests_csv: Option<PathBuf>,
    /// Write a Chrome trace (Perfetto) of iterations per replica and stage to FILE.
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The simulator settings from the flags.
fn sim_config(a: &SimulateArgs) -> Result<SimConfig, CliError> {
    let kind: SchedulerKind = a.scheduler.parse().map_err(CliError::input)?;
    let mut scheduler = SchedulerConfig::new(kind);
    if let Some(n) = a.max_num_seqs {
        scheduler.max_num_seqs = n;
    }
    if let Some(n) = a.max_batched_tokens {
        scheduler.max_num_batched_tokens = n;
    }
    scheduler.chunk_size = a.chunk;
    let slo = common::slo(a.slo_ttft.as_deref(), a.slo_tpot.as_deref())?;
    Ok(SimConfig {
        scheduler,
        router: a.router.parse::<RouterPolicy>().map_err(CliError::input)?,
        seed: a.seed,
        slo,
        record_timeline: a.timeline.is_some(),
        prefix_caching: a.prefix_caching,
        preemption: a.preemption.parse().map_err(CliError::input)?,
        swap_space_bytes_per_gpu: a.swap_space * (1u64 << 30) as f64,
        cpu_prefix_cache_bytes_per_gpu: a.cpu_prefix_cache * (1u64 << 30) as f64,
        ..SimConfig::default()
    })
}

fn summary_row(name: &str, unit: &str, s: &Summary) -> Vec<String> {
    vec![
        format!("{name} ({unit})"),
        format!("{:.3}", s.mean),
        format!("{:.3}", s.p50),
        format!("{:.3}", s.p90),
        format!("{:.3}", s.p99),
        format!("{:.3}", s.max),
    ]
}

/// Run `parallax simulate`.
pub fn run(args: SimulateArgs) -> Result<(), CliError> {
    let model = common::model(&args.model)?;
    let cluster = common::cluster(&args.cluster)?;
    let config = sim_config(&args)?;
    let workload = parallax::load_workload(&args.workload, args.rate, args.requests)
        .map_err(CliError::input)?;
    let cost = common::cost_model(&cluster, &args.cost_model)?;
    let lower = LowerOptions {
        memory: MemoryOptions {
            gpu_memory_utilization: args.gpu_memory_utilization,
            max_num_batched_tokens: config.scheduler.max_num_batched_tokens,
            max_num_seqs: config.scheduler.max_num_seqs,
            ..MemoryOptions::default()
        },
        host_link_bandwidth: args.host_link_gbps * 1e9,
        ..LowerOptions::default()
    };
    let (report, plan) = if DisaggPlan::is_disaggregated(&args.plan) {
        let plan: DisaggPlan = args.plan.parse().map_err(CliError::input)?;
        let r = parallax::simulate_disaggregated(
            &model, &cluster, &plan, cost, &workload, &config, &lower,
        )
        .map_err(CliError::input)?;
        (r, plan.to_string())
    } else {
        let plan: Plan = args.plan.parse().map_err(CliError::input)?;
        let r = parallax::simulate_plan(&model, &cluster, &plan, cost, &workload, &config, &lower)
            .map_err(CliError::input)?;
        (r, plan.to_string())
    };
    if let Some(path) = &args.requests_csv {
        write_file(path, &requests_csv(&report))?;
    }
    if let Some(path) = &args.timeline {
        write_file(path, &chrome_trace(&report))?;
    }
    for note in &workload.notes {
        eprintln!("note: {note}");
    }
    let m = &report.metrics;
    if args.json {
        return print_json(m);
    }
    outln!(
        "{} on {} with plan {} ({}), workload {} ({} requests), scheduler {}",
        model.name,
        cluster.spec(),
        plan,
        args.cost_model,
        workload.name,
        workload.len(),
        config.scheduler.kind.name()
    );
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
    Ok(())
}
