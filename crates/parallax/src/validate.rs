//! Validation of predictions against measurements.
//!
//! Two kinds of measurement files (formats in `docs/measured-format.md`):
//! - **iterations**: one measured serving iteration per row (model, GPU, TP, batch, CUDA graphs,
//!   measured ms), compared with [`parallax_plan::predict()`];
//! - **serving runs**: a trace served with a plan and its measured mean TTFT/TPOT, compared with
//!   a simulation of the same run.

use crate::cost_file::CostSource;
use crate::error::{Error, Result};
use crate::simulate::load_workload;
use crate::simulation::Simulation;
use parallax_hw::profile::{parse_measured, ErrorSummary, MeasuredIteration};
use parallax_hw::{catalog, Cluster};
use parallax_plan::{predict_with, EngineKind, EngineModel, LowerOptions, Plan};
use parallax_sim::SchedulerConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One compared iteration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IterationComparison {
    /// Line of the measured file.
    pub line: usize,
    /// Model as written.
    pub model: String,
    /// GPU as written.
    pub gpu: String,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Prefill specs (`BxS+P`, space-separated).
    pub prefill: String,
    /// Decode specs (`BxC`, space-separated).
    pub decode: String,
    /// CUDA graphs on.
    pub cuda_graphs: bool,
    /// Measured milliseconds.
    pub measured_ms: f64,
    /// Predicted milliseconds.
    pub predicted_ms: f64,
    /// Signed error, percent of measured (positive = over-prediction).
    pub error_pct: f64,
    /// Iteration type: `prefill`, `graph decode`, `eager decode` or `mixed`.
    pub kind: String,
    /// Predicted device time of the kernels, milliseconds.
    pub device_ms: f64,
    /// Predicted host issue time (eager iterations), milliseconds.
    pub host_ms: f64,
    /// Lowered ops of the iteration.
    pub ops: f64,
    /// Whether the weights, reserves and the batch's KV cache fit one GPU (as `predict`'s
    /// `fits_memory`); a row that does not was never measured as written.
    pub fits_memory: bool,
}

impl IterationComparison {
    /// The iteration type of a batch: `prefill` (prefill chunks only), `mixed` (prefill and
    /// decode), else `graph decode` or `eager decode`.
    pub fn kind_of(has_prefill: bool, has_decode: bool, cuda_graph: bool) -> &'static str {
        match (has_prefill, has_decode) {
            (true, false) => "prefill",
            (true, true) => "mixed",
            _ if cuda_graph => "graph decode",
            _ => "eager decode",
        }
    }
}

/// Absolute % error summaries of `rows` grouped by `key` (e.g. the iteration type or the
/// model), in key order.
pub fn summary_by<K: Ord>(
    rows: &[IterationComparison],
    key: impl Fn(&IterationComparison) -> K,
) -> std::collections::BTreeMap<K, ErrorSummary> {
    let mut groups: std::collections::BTreeMap<K, Vec<(f64, f64)>> = Default::default();
    for r in rows {
        groups
            .entry(key(r))
            .or_default()
            .push((r.predicted_ms, r.measured_ms));
    }
    groups
        .into_iter()
        .filter_map(|(k, v)| ErrorSummary::from_pairs(v).map(|s| (k, s)))
        .collect()
}

/// One compared serving run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingComparison {
    /// Line of the measured file.
    pub line: usize,
    /// Model as written.
    pub model: String,
    /// Cluster as written.
    pub cluster: String,
    /// Plan, canonical.
    pub plan: String,
    /// Workload as written.
    pub workload: String,
    /// Measured mean TTFT, ms.
    pub measured_ttft_ms: f64,
    /// Simulated mean TTFT, ms.
    pub predicted_ttft_ms: f64,
    /// Signed TTFT error, percent.
    pub ttft_error_pct: f64,
    /// Measured mean TPOT, ms.
    pub measured_tpot_ms: f64,
    /// Simulated mean TPOT, ms.
    pub predicted_tpot_ms: f64,
    /// Signed TPOT error, percent.
    pub tpot_error_pct: f64,
}

/// The result of a validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    /// The measured file.
    pub file: String,
    /// `iterations` or `serving`.
    pub kind: String,
    /// Cost-model choice used.
    pub cost_model: String,
    /// Per-iteration comparisons (iteration files).
    pub iterations: Vec<IterationComparison>,
    /// Per-run comparisons (serving files).
    pub serving: Vec<ServingComparison>,
    /// Absolute % error summary over every compared quantity.
    pub summary: Option<ErrorSummary>,
}

fn signed_pct(predicted: f64, measured: f64) -> f64 {
    100.0 * (predicted - measured) / measured
}

/// Compare measured iterations with predictions.
///
/// # Errors
/// [`Error::Model`], [`Error::Hardware`] or [`Error::Plan`] naming the row's model, GPU or TP
/// (the message carries the file and line).
pub fn validate_iterations(
    file: &str,
    rows: &[MeasuredIteration],
    choice: impl Into<CostSource>,
) -> Result<ValidationReport> {
    validate_iterations_with(file, rows, choice, None)
}

/// [`validate_iterations`] with the kernels, CUDA-graph policy and eager issue time of
/// serving-engine model `engine` (a row with `cuda_graphs` off runs eagerly). `None`: the
/// cost model alone, as the project's PyTorch harness measures iterations.
///
/// # Errors
/// As [`validate_iterations`].
pub fn validate_iterations_with(
    file: &str,
    rows: &[MeasuredIteration],
    choice: impl Into<CostSource>,
    engine: Option<EngineKind>,
) -> Result<ValidationReport> {
    iterations_in(file, None, rows, choice.into(), engine)
}

/// A model spec of a measured file's row: a `config.json` (or a model folder holding one)
/// relative to the file's folder `base` when one is there (as cluster and workload files are
/// found), else the spec as written (a name, a Hugging Face id, or a path from the working
/// directory).
fn resolve_model_at(base: Option<&Path>, spec: &str) -> Result<parallax_ir::Model> {
    let beside = base
        .filter(|_| !spec.is_empty() && !Path::new(spec).is_absolute())
        .map(|b| b.join(spec))
        .filter(|p| p.exists());
    match beside {
        Some(p) => Ok(parallax_ir::resolve(&p.display().to_string())?),
        None => Ok(parallax_ir::resolve(spec)?),
    }
}

/// [`validate_iterations_with`] for a file in folder `base` (model paths relative to it).
fn iterations_in(
    file: &str,
    base: Option<&Path>,
    rows: &[MeasuredIteration],
    choice: CostSource,
    engine: Option<EngineKind>,
) -> Result<ValidationReport> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let at = |e: Error| Error::Row {
            file: file.to_string(),
            line: r.line,
            row: format!("{} on {} tp={}", r.model, r.gpu, r.tp),
            source: Box::new(e),
        };
        let model = resolve_model_at(base, &r.model).map_err(at)?;
        let gpu = catalog::gpu(&r.gpu).map_err(|e| at(e.into()))?;
        // a TP group wider than a node spans nodes (16 H100s: 2 × 8), as deployed
        let cluster = Cluster::for_group(gpu, r.tp.max(1)).map_err(|e| at(e.into()))?;
        let mut cost = choice.build(&cluster).map_err(at)?;
        let mut lower = LowerOptions::default();
        if let Some(k) = engine {
            crate::engine::check_runs_on(k, k.name(), &cluster).map_err(at)?;
            let e = crate::engine_model(k, &model, &cluster, r.tp);
            cost = e.cost_model(cost, cluster.gpu.memory_bandwidth);
            lower = e.lower_options(&lower);
        }
        lower.cuda_graphs &= r.cuda_graphs;
        // (a sequence beyond the model's context window is refused by `predict_with`)
        let batch = r.batch();
        let p =
            predict_with(&model, &cluster, r.tp, &batch, cost, &lower).map_err(|e| at(e.into()))?;
        out.push(IterationComparison {
            line: r.line,
            model: r.model.clone(),
            gpu: r.gpu.clone(),
            tp: r.tp,
            prefill: r.prefill_spec(),
            decode: r.decode_spec(),
            cuda_graphs: r.cuda_graphs,
            measured_ms: r.measured_ms,
            predicted_ms: p.iteration_ms,
            error_pct: signed_pct(p.iteration_ms, r.measured_ms),
            kind: IterationComparison::kind_of(
                !r.batch().prefill.is_empty(),
                r.batch().decode.requests > 0,
                p.cuda_graph,
            )
            .into(),
            device_ms: p.device_ms,
            host_ms: p.host_ms,
            ops: p.ops as f64,
            fits_memory: p.fits_memory,
        });
    }
    let summary = ErrorSummary::from_pairs(out.iter().map(|c| (c.predicted_ms, c.measured_ms)));
    Ok(ValidationReport {
        file: file.to_string(),
        kind: "iterations".into(),
        cost_model: choice.to_string(),
        iterations: out,
        serving: Vec::new(),
        summary,
    })
}

/// One measured serving run.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredRun {
    /// Line in the file.
    pub line: usize,
    /// Model spec.
    pub model: String,
    /// Cluster spec.
    pub cluster: String,
    /// Plan string.
    pub plan: String,
    /// Workload: embedded name or trace path (relative paths are relative to the file).
    pub workload: String,
    /// Rescale to this rate, if given.
    pub rate: Option<f64>,
    /// Keep the first N requests, if given.
    pub requests: Option<usize>,
    /// Scheduler, if given (default vLLM v0).
    pub scheduler: Option<String>,
    /// The engine the run served with and its flags, where the file gives them.
    pub flags: RunFlags,
    /// Measured mean TTFT, ms.
    pub ttft_ms: f64,
    /// Measured mean TPOT, ms.
    pub tpot_ms: f64,
}

/// Optional columns of a serving run: the engine it ran (`engine`: a name of
/// [`EngineKind`], or `none`; absent or empty: the caller's engine) and the engine flags it
/// ran with, named as vLLM names them (each absent or empty: the engine's default). The
/// columns are named as the fields.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunFlags {
    /// `engine`: `Some(None)` for `none` (the bare simulator).
    pub engine: Option<Option<EngineKind>>,
    /// `max_num_seqs`.
    pub max_num_seqs: Option<u32>,
    /// `max_num_batched_tokens`.
    pub max_num_batched_tokens: Option<u32>,
    /// `enable_chunked_prefill` (`true`/`false`): the engine's chunked-prefill switch
    /// ([`crate::engine::with_chunked_prefill`]; an error when the row's `scheduler` says
    /// otherwise).
    pub enable_chunked_prefill: Option<bool>,
    /// `max_model_len`: the context window (at most the model's).
    pub max_model_len: Option<u32>,
    /// `gpu_memory_utilization`, in (0, 1].
    pub gpu_memory_utilization: Option<f64>,
    /// `block_size`, tokens per KV block.
    pub block_size: Option<u32>,
    /// `enforce_eager` (`true`/`false`): no CUDA graphs.
    pub enforce_eager: Option<bool>,
    /// `max_concurrency`: clients kept at most this many requests in flight (closed loop).
    pub max_concurrency: Option<u32>,
}

/// An error naming `file`, `line` and `column`, the value as written and what was expected.
pub(crate) fn bad(file: &str, line: usize, column: &str, value: &str, expected: &str) -> Error {
    Error::Cell {
        file: file.to_string(),
        line,
        column: column.to_string(),
        value: parallax_ir::shown(value, 120),
        expected: expected.to_string(),
    }
}

/// A measured time in ms written as `text` in column `column` of `file`'s `line`: between 1 ns
/// and one day ([`parallax_hw::profile::MIN_TIME_S`], [`parallax_hw::profile::MAX_TIME_S`]),
/// as in every profile.
pub(crate) fn time_ms(file: &str, line: usize, column: &str, text: &str) -> Result<f64> {
    let (lo, hi) = (
        parallax_hw::profile::MIN_TIME_S * 1e3,
        parallax_hw::profile::MAX_TIME_S * 1e3,
    );
    text.parse::<f64>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| {
            bad(
                file,
                line,
                column,
                text,
                "a time in ms between 1 ns and one day (1e-6 to 8.64e7)",
            )
        })
}

/// The columns a serving-run CSV may have (lower case; any order).
const SERVING_COLUMNS: [&str; 18] = [
    "model",
    "cluster",
    "plan",
    "workload",
    "rate",
    "requests",
    "scheduler",
    "engine",
    "max_num_seqs",
    "max_num_batched_tokens",
    "enable_chunked_prefill",
    "max_model_len",
    "gpu_memory_utilization",
    "block_size",
    "enforce_eager",
    "max_concurrency",
    "ttft_ms",
    "tpot_ms",
];

/// Parse a serving-run CSV (header: `model,cluster,plan,workload,rate,requests,scheduler,
/// ttft_ms,tpot_ms`; `rate`, `requests` and `scheduler` may be empty or absent, as may the
/// engine and flag columns of [`RunFlags`]).
///
/// # Errors
/// [`Error::Cell`] naming the file, line and column for a missing column or a bad value.
pub fn parse_serving(file: &str, text: &str) -> Result<Vec<MeasuredRun>> {
    // `#` comments and blank lines are skipped; line numbers are the file's.
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((hline, header)) = lines.next() else {
        return Err(bad(file, 1, "header", "", "a CSV header line"));
    };
    let header_record = parallax_sim::workload::csv_fields(header)
        .map_err(|e| bad(file, hline, "header", header, &e))?;
    let cols: Vec<String> = header_record
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for (i, c) in cols.iter().enumerate() {
        // An unnamed column (a trailing comma, as spreadsheets export them) is ignored; its
        // cells must be empty (checked per row).
        if c.is_empty() {
            continue;
        }
        if !SERVING_COLUMNS.contains(&c.as_str()) {
            return Err(bad(
                file,
                hline,
                c,
                c,
                &format!("one of the columns {}", SERVING_COLUMNS.join(", ")),
            ));
        }
        if cols[..i].contains(c) {
            return Err(bad(file, hline, c, c, "each column once"));
        }
    }
    let find = |name: &str| cols.iter().position(|c| c == name);
    let need = |name: &str| {
        find(name).ok_or_else(|| bad(file, hline, name, header, &format!("a `{name}` column")))
    };
    let (cm, cc, cp, cw) = (
        need("model")?,
        need("cluster")?,
        need("plan")?,
        need("workload")?,
    );
    let (ct, cpo) = (need("ttft_ms")?, need("tpot_ms")?);
    let (cr, cn, cs) = (find("rate"), find("requests"), find("scheduler"));
    let mut out = Vec::new();
    for (line, l) in lines {
        let fields =
            parallax_sim::workload::csv_fields(l).map_err(|e| bad(file, line, "*", l, &e))?;
        let f: Vec<&str> = fields.iter().map(String::as_str).collect();
        if f.len() != cols.len() {
            return Err(bad(
                file,
                line,
                "*",
                l,
                &format!(
                    "{} comma-separated fields like the header (quote a value that holds a \
                     comma: \"dp=2,tp=4\")",
                    cols.len()
                ),
            ));
        }
        if let Some(i) = (0..f.len()).find(|&i| cols[i].is_empty() && !f[i].is_empty()) {
            return Err(bad(
                file,
                line,
                &format!("(unnamed, field {})", i + 1),
                f[i],
                "a column name in the header for this value, or no value",
            ));
        }
        let text_field = |c: usize, name: &str| -> Result<String> {
            if f[c].is_empty() {
                Err(bad(file, line, name, "", "a value"))
            } else {
                Ok(f[c].to_string())
            }
        };
        // a measured time: between 1 ns and one day, as in every profile
        let time_ms = |c: usize, name: &str| time_ms(file, line, name, f[c]);
        let optional = |c: Option<usize>| c.map(|c| f[c]).filter(|v| !v.is_empty());
        out.push(MeasuredRun {
            line,
            model: text_field(cm, "model")?,
            cluster: text_field(cc, "cluster")?,
            plan: text_field(cp, "plan")?,
            workload: text_field(cw, "workload")?,
            rate: optional(cr)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| bad(file, line, "rate", v, "a positive rate in req/s"))
                })
                .transpose()?,
            requests: optional(cn)
                .map(|v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(file, line, "requests", v, "a positive integer"))
                })
                .transpose()?,
            scheduler: optional(cs).map(str::to_string),
            flags: run_flags(file, line, &|name| optional(find(name)))?,
            ttft_ms: time_ms(ct, "ttft_ms")?,
            tpot_ms: time_ms(cpo, "tpot_ms")?,
        });
    }
    if out.is_empty() {
        return Err(bad(
            file,
            hline,
            "header",
            header,
            "at least one run after the header",
        ));
    }
    Ok(out)
}

/// Reads a row's [`RunFlags`]; `cell(column)` is the column's non-empty value, if any.
fn run_flags<'a>(
    file: &str,
    line: usize,
    cell: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<RunFlags> {
    let count = |column: &str, max: u32| -> Result<Option<u32>> {
        cell(column)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0 && n <= max)
                    .ok_or_else(|| {
                        bad(
                            file,
                            line,
                            column,
                            v,
                            &format!("an integer from 1 to {max}"),
                        )
                    })
            })
            .transpose()
    };
    let (seqs, tokens) = (
        parallax_ir::MAX_BATCH_SEQUENCES,
        parallax_ir::MAX_SEQUENCE_TOKENS,
    );
    let switch = |column: &str| -> Result<Option<bool>> {
        cell(column)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                // the spellings a measured iteration's `cuda_graphs` takes too
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(bad(
                    file,
                    line,
                    column,
                    v,
                    "true or false (or on/off, yes/no, 1/0)",
                )),
            })
            .transpose()
    };
    let engine = cell("engine")
        .map(|v| {
            if v.eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                v.parse::<EngineKind>().map(Some).map_err(|_| {
                    bad(
                        file,
                        line,
                        "engine",
                        v,
                        "vllm, vllm-v0, sglang, trtllm or none",
                    )
                })
            }
        })
        .transpose()?;
    let gpu_memory_utilization = cell("gpu_memory_utilization")
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|g| g.is_finite() && *g > 0.0 && *g <= 1.0)
                .ok_or_else(|| {
                    bad(
                        file,
                        line,
                        "gpu_memory_utilization",
                        v,
                        "a fraction in (0, 1]",
                    )
                })
        })
        .transpose()?;
    Ok(RunFlags {
        engine,
        max_num_seqs: count("max_num_seqs", seqs)?,
        max_num_batched_tokens: count("max_num_batched_tokens", tokens)?,
        enable_chunked_prefill: switch("enable_chunked_prefill")?,
        max_model_len: count("max_model_len", tokens)?,
        gpu_memory_utilization,
        block_size: count("block_size", tokens)?,
        enforce_eager: switch("enforce_eager")?,
        max_concurrency: count("max_concurrency", seqs)?,
    })
}

impl RunFlags {
    /// The engine model and scheduler a run of `model` (its context already cut to the run's
    /// `max_model_len`) on `cluster` at TP `tp` served with: the row's engine (else
    /// `default`), its switches and memory settings, the row's `scheduler` policy, then its
    /// chunked-prefill switch and limits. `Err((column, value, expected))` for flags that
    /// contradict each other or that vLLM would refuse.
    fn engine_and_scheduler(
        &self,
        default: Option<EngineKind>,
        scheduler_column: Option<&str>,
        model: &parallax_ir::Model,
        cluster: &Cluster,
        tp: u32,
    ) -> std::result::Result<(EngineModel, SchedulerConfig), (&'static str, String, String)> {
        let kind = self.engine.unwrap_or(default);
        if let Some(expected) = kind.and_then(|k| crate::engine::unsupported_gpu(k, cluster)) {
            return Err((
                "engine",
                kind.map_or("", |k| k.name()).to_string(),
                expected,
            ));
        }
        let mut e = match kind {
            Some(k) => crate::engine_model(k, model, cluster, tp),
            None => EngineModel::none(),
        };
        if self.enforce_eager == Some(true) {
            e = e.without_cuda_graphs();
        }
        if let Some(g) = self.gpu_memory_utilization {
            e.use_utilization(g);
        }
        if let Some(b) = self.block_size {
            e.block_size = b;
        }
        let mut scheduler = e.scheduler;
        if let Some(s) = scheduler_column {
            scheduler.kind = s.parse().map_err(|err: parallax_sim::SimError| {
                let expected = match err {
                    parallax_sim::SimError::InvalidConfig { expected, .. } => expected,
                    other => other.to_string(),
                };
                ("scheduler", s.to_string(), expected)
            })?;
        }
        if let Some(on) = self.enable_chunked_prefill {
            if let Some(s) = scheduler_column.filter(|_| scheduler.kind.chunked() != on) {
                return Err((
                    "enable_chunked_prefill",
                    on.to_string(),
                    format!("agreement with the row's scheduler `{s}`"),
                ));
            }
            let len = model.max_position_embeddings;
            scheduler = crate::engine::with_chunked_prefill(scheduler, kind, on, len);
        }
        if let Some(n) = self.max_num_seqs {
            scheduler.max_num_seqs = n;
        }
        if let Some(n) = self.max_num_batched_tokens {
            scheduler.max_num_batched_tokens = n;
        }
        // vLLM refuses to start without chunked prefill when a prompt of the whole context
        // would not fit one iteration.
        let len = model.max_position_embeddings;
        if matches!(kind, Some(EngineKind::Vllm | EngineKind::VllmV0))
            && !scheduler.kind.chunked()
            && scheduler.max_num_batched_tokens < len
        {
            // the row may not give the budget: then say whose it is
            let value = match self.max_num_batched_tokens {
                Some(n) => n.to_string(),
                None => format!(
                    "{} (not given: the engine's default without chunked prefill)",
                    scheduler.max_num_batched_tokens
                ),
            };
            return Err((
                "max_num_batched_tokens",
                value,
                format!("at least max_model_len ({len}) without chunked prefill, as vLLM requires"),
            ));
        }
        Ok((e, scheduler))
    }
}

/// Simulate each measured serving run and compare mean TTFT and TPOT.
///
/// `base` is the directory that relative trace paths are resolved against (the measured
/// file's directory).
///
/// # Errors
/// Any error of resolving the run's model, cluster, plan, workload or scheduler, prefixed with
/// the file and line.
pub fn validate_serving(
    file: &str,
    base: &Path,
    runs: &[MeasuredRun],
    choice: impl Into<CostSource>,
) -> Result<ValidationReport> {
    validate_serving_with(file, base, runs, choice, None)
}

/// [`validate_serving`] under serving-engine model `engine` (its scheduler, host work,
/// kernels, CUDA graphs and memory defaults; a row's `scheduler` overrides the policy).
/// `None` keeps the plain simulation (vLLM V0 scheduler, no engine terms). A row's `engine`
/// column overrides `engine`; its flag columns ([`RunFlags`]) override the engine's defaults,
/// `enable_chunked_prefill` as [`crate::engine::with_chunked_prefill`] switches it.
///
/// # Errors
/// As [`validate_serving`].
pub fn validate_serving_with(
    file: &str,
    base: &Path,
    runs: &[MeasuredRun],
    choice: impl Into<CostSource>,
    engine: Option<EngineKind>,
) -> Result<ValidationReport> {
    let choice: CostSource = choice.into();
    let mut out = Vec::with_capacity(runs.len());
    let mut errors = Vec::new();
    for r in runs {
        let at = |e: Error| Error::Row {
            file: file.to_string(),
            line: r.line,
            row: format!("{} / {} / {}", r.model, r.cluster, r.plan),
            source: Box::new(e),
        };
        let mut model = resolve_model_at(Some(base), &r.model).map_err(at)?;
        let f = &r.flags;
        if let Some(n) = f.max_model_len {
            let own = model.max_position_embeddings;
            model = model.with_max_model_len(n).ok_or_else(|| {
                bad(
                    file,
                    r.line,
                    "max_model_len",
                    &n.to_string(),
                    &format!(
                        "at most model `{}`'s max_position_embeddings ({own})",
                        r.model
                    ),
                )
            })?;
        }
        // `NxGxGPU`, or a cluster TOML file (relative to the measured file's folder)
        let cluster_file = base.join(&r.cluster);
        let cluster =
            if r.cluster.to_ascii_lowercase().ends_with(".toml") || cluster_file.is_file() {
                Cluster::load(&cluster_file)
            } else {
                Cluster::parse(&r.cluster)
            }
            .map_err(|e| at(e.into()))?;
        let plan: Plan = r
            .plan
            .parse()
            .map_err(|e: parallax_plan::PlanError| at(e.into()))?;
        let workload_spec = if parallax_sim::workload::names().contains(&r.workload.as_str())
            || r.workload.starts_with(parallax_sim::workload::spec::PREFIX)
            || Path::new(&r.workload).is_absolute()
        {
            r.workload.clone()
        } else {
            let p: PathBuf = base.join(&r.workload);
            p.display().to_string()
        };
        let workload = load_workload(&workload_spec, r.rate, r.requests).map_err(at)?;
        // The engine's scheduler, host time, graphs and kernels; a row's policy overrides it.
        let cost = choice.build(&cluster).map_err(at)?;
        let (e, scheduler) = f
            .engine_and_scheduler(engine, r.scheduler.as_deref(), &model, &cluster, plan.tp)
            .map_err(|(column, value, expected)| bad(file, r.line, column, &value, &expected))?;
        let mut sim = Simulation::new(&model, &cluster, &plan, &workload)
            .cost_model(cost)
            .engine(&e)
            .scheduler(scheduler);
        if let Some(c) = f.max_concurrency {
            sim = sim.max_concurrency(c);
        }
        let report = sim.run().map_err(at)?;
        let m = &report.metrics;
        errors.push(ErrorSummary::abs_pct(m.ttft_ms.mean, r.ttft_ms));
        errors.push(ErrorSummary::abs_pct(m.tpot_ms.mean, r.tpot_ms));
        out.push(ServingComparison {
            line: r.line,
            model: r.model.clone(),
            cluster: r.cluster.clone(),
            plan: plan.to_string(),
            workload: r.workload.clone(),
            measured_ttft_ms: r.ttft_ms,
            predicted_ttft_ms: m.ttft_ms.mean,
            ttft_error_pct: signed_pct(m.ttft_ms.mean, r.ttft_ms),
            measured_tpot_ms: r.tpot_ms,
            predicted_tpot_ms: m.tpot_ms.mean,
            tpot_error_pct: signed_pct(m.tpot_ms.mean, r.tpot_ms),
        });
    }
    Ok(ValidationReport {
        file: file.to_string(),
        kind: "serving".into(),
        cost_model: choice.to_string(),
        iterations: Vec::new(),
        serving: out,
        summary: ErrorSummary::from_abs_pct(&errors),
    })
}

/// Validate a measured file of either kind, told apart by its header: a `measured_ms` column
/// means iterations, `ttft_ms` and `tpot_ms` columns mean serving runs.
///
/// This reads `path` (and, for serving runs, the traces it names).
///
/// # Errors
/// [`Error::Option`] when the header matches neither format, and the errors of
/// [`validate_iterations`] / [`validate_serving`].
pub fn validate_file(path: &Path, choice: impl Into<CostSource>) -> Result<ValidationReport> {
    validate_file_with(path, choice, None)
}

/// [`validate_file`] under serving-engine model `engine`: serving runs are simulated with it
/// ([`validate_serving_with`]); iterations are priced with its kernels and eager issue time
/// (the file's `cuda_graphs` column still decides graphs). `None`: as [`validate_file`].
///
/// # Errors
/// As [`validate_file`].
pub fn validate_file_with(
    path: &Path,
    choice: impl Into<CostSource>,
    engine: Option<EngineKind>,
) -> Result<ValidationReport> {
    let choice: CostSource = choice.into();
    let file = path.display().to_string();
    let text = parallax_ir::read_text(path).map_err(|e| Error::Option {
        option: "measured".into(),
        value: file.clone(),
        expected: format!("a readable file ({e})"),
    })?;
    // the header: the first line that is neither blank nor a `#` comment, read as CSV
    // (quoted names, as spreadsheets and R write them, included)
    let (hline, header) = text
        .lines()
        .map(str::trim)
        .enumerate()
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map_or((1, ""), |(i, l)| (i + 1, l));
    let cols: Vec<String> = parallax_sim::workload::csv_fields(header)
        .unwrap_or_default()
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let has = |name: &str| cols.iter().any(|c| c == name);
    if has("measured_ms") {
        let rows = parse_measured(&file, &text)?;
        iterations_in(&file, path.parent(), &rows, choice, engine)
    } else if has("ttft_ms") && has("tpot_ms") {
        let runs = parse_serving(&file, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        validate_serving_with(&file, base, &runs, choice, engine)
    } else {
        Err(bad(
            &file,
            hline,
            "header",
            header,
            "a measured-iteration CSV (with a `measured_ms` column) or a serving-run CSV \
             (with `ttft_ms` and `tpot_ms` columns); see docs/measured-format.md",
        ))
    }
}
