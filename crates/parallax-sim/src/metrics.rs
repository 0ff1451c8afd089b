//! Simulation results: per-request records, aggregate [`Metrics`], CSV and Chrome-trace export.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Why a request was rejected at arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// Its peak KV (`prompt + output − 1` tokens) exceeds what any replica's engine can ever
    /// hold (`kv_blocks / pp` minus the watermark).
    KvCapacity,
    /// Its prompt exceeds `max_num_batched_tokens` under a non-chunked scheduler.
    PromptTooLong,
}

/// What happened to one request. Times are absolute simulation seconds (on the workload's
/// clock); `NaN` (`null` in JSON) when not reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The workload request id.
    pub id: u64,
    /// Arrival time.
    pub arrival_s: f64,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Output tokens requested.
    pub output_tokens: u32,
    /// Replica it was routed to (`None` if rejected); in a disaggregated run, the prefill
    /// replica.
    pub replica: Option<u32>,
    /// In a disaggregated run, the decode replica its KV moved to (`None` otherwise, and for
    /// a request that never reached the decode pool).
    #[serde(default)]
    pub decode_replica: Option<u32>,
    /// True once every output token was generated.
    pub completed: bool,
    /// Set when rejected at arrival.
    pub rejected: Option<RejectReason>,
    /// When its first batch entered pipeline stage 0.
    pub scheduled_s: f64,
    /// When its first output token was produced (end of its prefill iteration).
    pub first_token_s: f64,
    /// When its last output token was produced.
    pub finish_s: f64,
    /// Times it was preempted (by recompute).
    pub preemptions: u32,
}

impl RequestRecord {
    pub(crate) fn new(id: u64, arrival_s: f64, prompt: u32, output: u32) -> Self {
        RequestRecord {
            id,
            arrival_s,
            prompt_tokens: prompt,
            output_tokens: output,
            replica: None,
            decode_replica: None,
            completed: false,
            rejected: None,
            scheduled_s: f64::NAN,
            first_token_s: f64::NAN,
            finish_s: f64::NAN,
            preemptions: 0,
        }
    }

    /// Queueing delay: arrival to first scheduled.
    pub fn queue_s(&self) -> f64 {
        self.scheduled_s - self.arrival_s
    }

    /// Time to first token, from arrival (so including queueing).
    pub fn ttft_s(&self) -> f64 {
        self.first_token_s - self.arrival_s
    }

    /// Time per output token: mean gap between output tokens after the first,
    /// `(finish − first token) / (output − 1)`; `NaN` for single-token outputs.
    pub fn tpot_s(&self) -> f64 {
        if self.output_tokens < 2 {
            f64::NAN
        } else {
            (self.finish_s - self.first_token_s) / (self.output_tokens - 1) as f64
        }
    }

    /// End-to-end latency: arrival to last token.
    pub fn e2e_s(&self) -> f64 {
        self.finish_s - self.arrival_s
    }
}

/// One iteration of one pipeline stage (recorded only with
/// [`crate::SimConfig::record_timeline`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Replica index.
    pub replica: u32,
    /// Pipeline stage.
    pub stage: u32,
    /// Engine (virtual engine / micro-batch slot) that formed the batch.
    pub engine: u32,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Prefill tokens in the batch.
    pub prefill_tokens: u64,
    /// Decode requests in the batch.
    pub decode_requests: u32,
    /// Prompt tokens its admissions found in the prefix cache (not recomputed).
    #[serde(default)]
    pub cached_tokens: u64,
    /// KV tokens swapped to or from host memory before it (the copy time is in the span).
    #[serde(default)]
    pub swap_tokens: u64,
    /// Prompt tokens its admissions loaded back from the host prefix-cache tier before it
    /// (the load time is in the span).
    #[serde(default)]
    pub host_load_tokens: u64,
}

/// One prefill → decode KV transfer of a disaggregated run (recorded only with
/// [`crate::SimConfig::record_timeline`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransferSpan {
    /// The workload request id.
    pub request: u64,
    /// Prefill replica the KV left.
    pub from_replica: u32,
    /// Decode replica it arrived at.
    pub to_replica: u32,
    /// When the transfer started (the end of the prefill iteration), seconds.
    pub start_s: f64,
    /// When the KV arrived, seconds.
    pub end_s: f64,
    /// KV tokens moved (the prompt).
    pub tokens: u64,
    /// KV bytes moved.
    pub bytes: f64,
}

/// Distribution summary. All zero when `count` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median (percentiles interpolate linearly between order statistics, like NumPy).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Summary {
    /// Summarise `values` (sorted in place), each multiplied by `scale`.
    ///
    /// # Complexity
    /// O(n log n).
    pub fn of(values: &mut [f64], scale: f64) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let q = |p: f64| {
            let pos = p * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let f = pos - lo as f64;
            (values[lo] + (values[hi] - values[lo]) * f) * scale
        };
        Summary {
            count: n as u64,
            mean: values.iter().sum::<f64>() / n as f64 * scale,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            max: values[n - 1] * scale,
        }
    }
}

/// Request counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Requests in the workload.
    pub total: u64,
    /// Completed with all their output tokens.
    pub completed: u64,
    /// Rejected at arrival (never fit).
    pub rejected: u64,
    /// Rejected because their KV could never fit.
    pub rejected_kv_capacity: u64,
    /// Rejected because their prompt exceeds the batch token budget (non-chunked schedulers).
    pub rejected_prompt_too_long: u64,
    /// Neither completed nor rejected (a scheduler stall; 0 in a correct run).
    pub unfinished: u64,
    /// Preemptions in all.
    pub preemptions: u64,
    /// Requests preempted at least once.
    pub preempted_requests: u64,
}

/// Throughput over the makespan.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Output tokens of completed requests per second.
    pub output_tokens_per_s: f64,
    /// Prompt + output tokens of completed requests per second.
    pub total_tokens_per_s: f64,
}

/// SLO attainment (present fields only when an SLO was given).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SloMetrics {
    /// TTFT SLO in ms, if any.
    pub ttft_ms: Option<f64>,
    /// TPOT SLO in ms, if any.
    pub tpot_ms: Option<f64>,
    /// Fraction of all requests (rejected ones count as misses) that completed within every
    /// given SLO; `None` without SLOs.
    pub attainment: Option<f64>,
    /// Requests per second completed within every SLO, over the makespan.
    pub goodput_requests_per_s: Option<f64>,
}

/// Tokens processed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens of completed requests.
    pub prompt: u64,
    /// Output tokens of completed requests.
    pub output: u64,
    /// Prefill tokens processed beyond the completed requests' prompts (recompute after
    /// preemption; with prefix caching, tokens a recompute finds cached are not counted).
    pub recomputed: u64,
    /// Tokens that went through the model's layers, every request included: each prefill
    /// token computed (recomputes included, prefix-cache hits not) plus one per decode step
    /// and request. A MoE layer routes `top_k` pairs per such token.
    #[serde(default)]
    pub forward: u64,
}

/// Automatic prefix caching, summed over engines.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PrefixCacheMetrics {
    /// Lookups (one per request at its first admission; recomputes are not counted).
    pub queries: u64,
    /// Prompt tokens looked up.
    pub query_tokens: u64,
    /// Prompt tokens found cached, on the GPU or in the host tier (not recomputed).
    pub hit_tokens: u64,
    /// `hit_tokens / query_tokens` (0 without lookups).
    pub hit_rate: f64,
    /// Cached blocks reused.
    pub hit_blocks: u64,
    /// Cached blocks evicted from GPU memory to make room.
    pub evicted_blocks: u64,
    /// Of `hit_tokens`, those loaded back from the host tier
    /// ([`crate::SimConfig::cpu_prefix_cache_bytes_per_gpu`]).
    #[serde(default)]
    pub cpu_hit_tokens: u64,
    /// Evicted blocks stored in the host tier.
    #[serde(default)]
    pub offloaded_blocks: u64,
    /// Stage-seconds the host-tier loads added to iterations (also in
    /// `breakdown_s.communication`).
    #[serde(default)]
    pub cpu_load_s: f64,
}

/// Prefill → decode KV transfers of a disaggregated deployment.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TransferMetrics {
    /// Requests whose KV moved.
    pub transfers: u64,
    /// KV bytes moved.
    pub bytes: f64,
    /// Transfer time per request (latency + bytes / bandwidth), ms.
    pub transfer_ms: Summary,
}

/// Preemption by swapping KV to host memory, summed over engines.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SwapMetrics {
    /// Requests swapped out (each also counts as a preemption).
    pub swap_outs: u64,
    /// Requests swapped back in.
    pub swap_ins: u64,
    /// KV tokens copied, both directions.
    pub tokens: u64,
    /// KV bytes copied over the host links, both directions.
    pub bytes: f64,
    /// Stage-seconds the copies added to iterations (summed over stages; also in
    /// `breakdown_s.communication`).
    pub transfer_s: f64,
}

/// Device-level metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuMetrics {
    /// GPUs in all replicas.
    pub gpus: u64,
    /// Mean fraction of the makespan the GPUs were busy.
    pub utilisation: f64,
    /// Energy in joules: per GPU `idle × makespan + (tdp − idle) × busy time`.
    pub energy_j: f64,
    /// Mean power of all GPUs, watts.
    pub mean_power_w: f64,
    /// Model FLOPs utilisation: FLOPs done / (peak FLOP/s × GPUs × makespan).
    pub mfu: f64,
    /// Memory bandwidth utilisation: bytes moved / (bandwidth × GPUs × makespan).
    pub mbu: f64,
}

/// Aggregate metrics of a run (the `--json` output).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Request counts.
    pub requests: RequestCounts,
    /// Time to first token (including queueing), ms, over completed requests.
    pub ttft_ms: Summary,
    /// Time per output token after the first, ms, over completed requests with ≥ 2 outputs.
    pub tpot_ms: Summary,
    /// Inter-token latency, ms: every gap between consecutive output tokens of a request
    /// (all requests, token-weighted; a recompute after preemption adds its stall). Kept in a
    /// log histogram with 0.1 % buckets: count, mean and max are exact, percentiles within
    /// 0.05 % (clamped to the observed range, so exact when all gaps are equal).
    #[serde(default)]
    pub itl_ms: Summary,
    /// Prefix-cache statistics (only with [`crate::SimConfig::prefix_caching`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<PrefixCacheMetrics>,
    /// Prefill → decode KV transfers (only with [`crate::SimConfig::disaggregation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_transfer: Option<TransferMetrics>,
    /// KV swapping (only with [`crate::PreemptionMode::Swap`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapMetrics>,
    /// End-to-end latency, s, over completed requests.
    pub e2e_s: Summary,
    /// Queueing delay (arrival to first scheduled), ms, over completed requests.
    pub queue_ms: Summary,
    /// Throughput.
    pub throughput: Throughput,
    /// SLO attainment and goodput.
    pub slo: SloMetrics,
    /// Tokens.
    pub tokens: TokenCounts,
    /// GPU utilisation, energy, MFU, MBU.
    pub gpu: GpuMetrics,
    /// Stage-seconds by op kind (`gemm`, `attention`, `elementwise`, `communication`,
    /// `overhead`), summed over every stage iteration.
    pub breakdown_s: BTreeMap<String, f64>,
    /// First arrival to the end of the last iteration, s.
    pub makespan_s: f64,
    /// Batches formed (one micro-batch through all stages counts once).
    pub iterations: u64,
}

/// Everything a run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    /// Aggregates.
    pub metrics: Metrics,
    /// One record per workload request, in workload (arrival) order.
    pub requests: Vec<RequestRecord>,
    /// Tokens through the model's layers on each replica ([`TokenCounts::forward`] per
    /// replica, in replica order; a disaggregated run's prefill pool first).
    #[serde(default)]
    pub forward_tokens_by_replica: Vec<u64>,
    /// Iteration spans, if recorded.
    pub timeline: Option<Vec<Span>>,
    /// Prefill → decode KV transfers, recorded with the timeline of a disaggregated run (empty
    /// otherwise).
    #[serde(default)]
    pub transfers: Vec<TransferSpan>,
}

fn fmt_f(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    }
}

/// Per-request rows as CSV text, header first:
/// `id,arrival_s,prompt_tokens,output_tokens,replica,status,preemptions,queue_s,ttft_s,tpot_s,e2e_s,finish_s,decode_replica`
/// (`replica` is the prefill replica and `decode_replica` the decode one in a disaggregated
/// run; `decode_replica` is empty otherwise).
/// `status` is `completed`, `rejected-kv-capacity`, `rejected-prompt-too-long` or
/// `unfinished`; unreached times are empty.
pub fn requests_csv(report: &SimReport) -> String {
    let mut out = String::with_capacity(64 * (report.requests.len() + 1));
    out.push_str("id,arrival_s,prompt_tokens,output_tokens,replica,status,preemptions,queue_s,ttft_s,tpot_s,e2e_s,finish_s,decode_replica\n");
    for r in &report.requests {
        let _ = write!(out, "{},", r.id);
        fmt_f(&mut out, r.arrival_s);
        let _ = write!(out, ",{},{},", r.prompt_tokens, r.output_tokens);
        if let Some(rep) = r.replica {
            let _ = write!(out, "{rep}");
        }
        let status = match (r.completed, r.rejected) {
            (true, _) => "completed",
            (_, Some(RejectReason::KvCapacity)) => "rejected-kv-capacity",
            (_, Some(RejectReason::PromptTooLong)) => "rejected-prompt-too-long",
            _ => "unfinished",
        };
        let _ = write!(out, ",{status},{},", r.preemptions);
        for (i, v) in [r.queue_s(), r.ttft_s(), r.tpot_s(), r.e2e_s(), r.finish_s]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            fmt_f(&mut out, v);
        }
        out.push(',');
        if let Some(rep) = r.decode_replica {
            let _ = write!(out, "{rep}");
        }
        out.push('\n');
    }
    out
}

/// A Chrome trace / Perfetto JSON timeline: one complete (`"ph":"X"`) event per recorded stage
/// iteration, process = replica, thread = pipeline stage, times in µs; `args` carry the engine,
/// prefill tokens, decode requests and, when non-zero, `cached_tokens` (prefix-cache hits of the
/// batch's admissions), `swap_tokens` (KV swapped before it) and `host_load_tokens` (KV loaded
/// from the host prefix tier before it). With prefix-cache hits, a counter track per replica
/// (`prefix cache hit tokens`) sums them over time; a disaggregated run adds one async
/// `KV transfer` slice per request on its decode replica ([`SimReport::transfers`]). Holds only
/// metadata when the run did not record a timeline. [`chrome_trace_with`] adds counter tracks.
pub fn chrome_trace(report: &SimReport) -> String {
    chrome_trace_with(report, &[])
}

/// A counter track drawn per iteration: one series per `(label, per_token)` entry whose value
/// during an iteration is the batch's tokens ([`parallax_ir::Batch::tokens`]: prefill tokens
/// plus decode requests) times `per_token`, and 0 between iterations. One track per replica
/// and pipeline stage, named `"{name} (stage S)"`. The facade uses it for a MoE layer's
/// routed token-expert pairs per EP rank (`top_k × share` of each rank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterTrack {
    /// Track name.
    pub name: String,
    /// Series: label and value per batch token.
    pub series: Vec<(String, f64)>,
    /// The replicas it is drawn for (`None`: every replica), e.g. one pool of a disaggregated
    /// deployment.
    #[serde(default)]
    pub replicas: Option<std::ops::Range<u32>>,
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// [`chrome_trace`] plus the counter `tracks`.
pub fn chrome_trace_with(report: &SimReport, tracks: &[CounterTrack]) -> String {
    let spans = report.timeline.as_deref().unwrap_or(&[]);
    let mut out = String::with_capacity(160 * spans.len() + 256);
    out.push_str("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
    let mut first = true;
    let mut named = std::collections::BTreeSet::new();
    let mut hits: BTreeMap<u32, u64> = BTreeMap::new();
    let sep = |out: &mut String, first: &mut bool| {
        if !*first {
            out.push(',');
        }
        *first = false;
    };
    for s in spans {
        if named.insert((s.replica, s.stage)) {
            sep(&mut out, &mut first);
            let _ = write!(
                out,
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{r},\"tid\":{t},\"args\":{{\"name\":\"replica {r}\"}}}},{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{r},\"tid\":{t},\"args\":{{\"name\":\"stage {t}\"}}}}",
                r = s.replica,
                t = s.stage
            );
        }
        sep(&mut out, &mut first);
        let name = match (s.prefill_tokens > 0, s.decode_requests > 0) {
            (true, true) => "mixed",
            (true, false) => "prefill",
            _ => "decode",
        };
        let mut extra = String::new();
        if s.cached_tokens > 0 {
            let _ = write!(extra, ",\"cached_tokens\":{}", s.cached_tokens);
        }
        if s.swap_tokens > 0 {
            let _ = write!(extra, ",\"swap_tokens\":{}", s.swap_tokens);
        }
        if s.host_load_tokens > 0 {
            let _ = write!(extra, ",\"host_load_tokens\":{}", s.host_load_tokens);
        }
        let _ = write!(
            out,
            "{{\"name\":\"{name}\",\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"engine\":{},\"prefill_tokens\":{},\"decode_requests\":{}{extra}}}}}",
            s.replica,
            s.stage,
            s.start_s * 1e6,
            (s.end_s - s.start_s) * 1e6,
            s.engine,
            s.prefill_tokens,
            s.decode_requests
        );
        // A batch's cache hits are on every stage's span: count them once, on stage 0.
        if s.cached_tokens > 0 && s.stage == 0 {
            let n = hits.entry(s.replica).or_insert(0);
            *n += s.cached_tokens;
            let _ = write!(
                out,
                ",{{\"name\":\"prefix cache hit tokens\",\"ph\":\"C\",\"pid\":{},\"ts\":{},\"args\":{{\"tokens\":{n}}}}}",
                s.replica,
                s.start_s * 1e6
            );
        }
        let tokens = s.prefill_tokens + s.decode_requests as u64;
        for track in tracks
            .iter()
            .filter(|t| t.replicas.as_ref().map_or(true, |r| r.contains(&s.replica)))
        {
            for (ts, scale) in [(s.start_s, tokens as f64), (s.end_s, 0.0)] {
                out.push_str(",{\"name\":");
                json_str(&mut out, &format!("{} (stage {})", track.name, s.stage));
                let _ = write!(
                    out,
                    ",\"ph\":\"C\",\"pid\":{},\"ts\":{},\"args\":{{",
                    s.replica,
                    ts * 1e6
                );
                for (i, (label, per_token)) in track.series.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(&mut out, label);
                    let v = scale * per_token;
                    let _ = write!(out, ":{}", if v.is_finite() { v } else { 0.0 });
                }
                out.push_str("}}");
            }
        }
    }
    for (i, x) in report.transfers.iter().enumerate() {
        for (ph, ts) in [("b", x.start_s), ("e", x.end_s)] {
            sep(&mut out, &mut first);
            let _ = write!(
                out,
                "{{\"name\":\"KV transfer\",\"cat\":\"kv\",\"ph\":\"{ph}\",\"id\":{i},\"pid\":{},\"ts\":{}",
                x.to_replica,
                ts * 1e6
            );
            if ph == "b" {
                let _ = write!(
                    out,
                    ",\"args\":{{\"request\":{},\"from_replica\":{},\"tokens\":{},\"bytes\":{}}}",
                    x.request, x.from_replica, x.tokens, x.bytes
                );
            }
            out.push('}');
        }
    }
    out.push_str("]}");
    out
}
