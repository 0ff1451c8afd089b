//! # parallax-report
//!
//! Plots and a self-contained HTML page for a plan search: the Pareto front, latency CDFs of
//! the top plans, throughput–latency curves, and the per-op-kind time of each top plan.
//! `parallax search --report FILE.html` writes [`html`]'s page.
//!
//! Plots are SVG (plotters' SVG backend without any font feature: text is written as SVG
//! `<text>` elements, so no system font is loaded, and the page renders wherever a browser
//! does). Building a report simulates the top plans again (CDFs need per-request latencies,
//! curves need other loads); like the search it does no I/O and is deterministic.
//!
//! ```
//! use parallax::{Cluster, Limits, Search};
//! use parallax_report::{Report, ReportInput, ReportOptions};
//! let model = parallax::ir::resolve("llama-3.1-8b")?;
//! let cluster: Cluster = "1x2xH100".parse()?;
//! let workload = parallax::load_workload("chat", Some(2.0), Some(32))?;
//! let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto)?;
//! let report = Search::new(model.clone(), cluster.clone(), workload.clone())
//!     .cost_model(cost.clone())
//!     .limits(Limits { max_plans: Some(3), ..Limits::default() })
//!     .run()?;
//! let input = ReportInput::new(&report, &model, &cluster, &workload, cost);
//! let page = Report::build(&input, &ReportOptions::default())?.to_html();
//! assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod html;
pub mod svg;

pub use html::html;

use parallax::plan::LowerOptions;
use parallax::search::Objective;
use parallax::{
    Cluster, CostModel, MemoryOptions, Model, RankedPlan, SearchReport, Simulation, Workload,
};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What can go wrong while building a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Re-simulating a plan failed.
    #[error("report: re-simulating plan {plan}: {source}")]
    Simulation {
        /// The plan string.
        plan: String,
        /// The library's error.
        source: Box<parallax::Error>,
    },
    /// The plotting backend failed.
    #[error("report: drawing a plot: {0}")]
    Plot(String),
    /// An option is out of range.
    #[error("report: invalid option {option} = {value}: expected {expected}")]
    Option {
        /// The option.
        option: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
}

/// The search and what it ran on (the report simulates the top plans again with them).
#[derive(Clone)]
pub struct ReportInput<'a> {
    /// The search's result, with every ranked candidate (not cut to the shown top).
    pub report: &'a SearchReport,
    /// The model searched.
    pub model: &'a Model,
    /// The cluster.
    pub cluster: &'a Cluster,
    /// The workload as searched (cut and rescaled).
    pub workload: &'a Workload,
    /// The cost model the search used.
    pub cost: Arc<dyn CostModel>,
    /// The search's memory options (`Search::memory`; default if not set).
    pub memory: MemoryOptions,
    /// The serving-engine model the search ran under (`Search::engine`), if any.
    pub engine: Option<parallax::EngineModel>,
}

impl fmt::Debug for ReportInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportInput")
            .field("model", &self.model.name)
            .field("cluster", &self.cluster.spec())
            .field("workload", &self.workload.name)
            .field("cost", &self.cost.name())
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl<'a> ReportInput<'a> {
    /// The input with the default memory options.
    pub fn new(
        report: &'a SearchReport,
        model: &'a Model,
        cluster: &'a Cluster,
        workload: &'a Workload,
        cost: Arc<dyn CostModel>,
    ) -> Self {
        ReportInput {
            report,
            model,
            cluster,
            workload,
            cost,
            memory: MemoryOptions::default(),
            engine: None,
        }
    }
}

/// What the report shows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Plans shown in the tables, CDFs, curves and breakdown (best first). Default 4.
    pub top: usize,
    /// Load multipliers of the throughput–latency curves, relative to the workload's rate,
    /// ascending; a curve stops after the first load its plan does not sustain or completes
    /// at under half the offered rate (saturation). Default
    /// `0.5, 1, 2, …, 4096` (the search's own rate cap is `2^12 ×`).
    pub load_multipliers: Vec<f64>,
    /// The chosen plan's launch command, shown in the page's launch section.
    ///
    /// LAUNCH-COMMAND SLOT: `search --emit ENGINE` sets this (see `html::launch_section`);
    /// `None` shows a note that no command was asked for.
    pub launch_command: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top: 4,
            load_multipliers: (-1..=12).map(|k| 2f64.powi(k)).collect(),
            launch_command: None,
        }
    }
}

impl ReportOptions {
    /// Set the number of plans shown.
    pub fn top(mut self, top: usize) -> Self {
        self.top = top;
        self
    }
    /// Set the launch command shown for the chosen plan.
    pub fn launch_command(mut self, command: impl Into<String>) -> Self {
        self.launch_command = Some(command.into());
        self
    }
}

/// One point of a throughput–latency curve.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LoadPoint {
    /// Offered load, req/s.
    pub offered_req_per_s: f64,
    /// Completed requests per second.
    pub throughput_req_per_s: f64,
    /// Output tokens per second.
    pub output_tokens_per_s: f64,
    /// Median end-to-end latency, s.
    pub e2e_p50_s: f64,
    /// 99th-percentile end-to-end latency, s.
    pub e2e_p99_s: f64,
    /// Whether every request completed (and the SLO target was met, with SLOs).
    pub sustained: bool,
}

/// The data of one top plan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlanData {
    /// The ranked candidate.
    pub ranked: RankedPlan,
    /// Label in plots: the plan string, with `max_num_seqs`/chunk when the search varied them.
    pub label: String,
    /// End-to-end latency of each completed request at the ranked metrics' rate, s.
    pub e2e_s: Vec<f64>,
    /// Time to first token of each completed request, s.
    pub ttft_s: Vec<f64>,
    /// The throughput–latency curve (empty when the workload has no rate).
    pub curve: Vec<LoadPoint>,
}

/// A built report: the search, the re-simulated top plans and the options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The search's report (every ranked candidate).
    pub search: SearchReport,
    /// The top plans, best first.
    pub plans: Vec<PlanData>,
    /// The two objectives of the Pareto plot.
    pub pareto_objectives: (Objective, Objective),
    /// The options.
    pub options: ReportOptions,
}

fn second_objective(o: Objective) -> Objective {
    match o {
        Objective::Cost => Objective::E2eP99,
        _ => Objective::Cost,
    }
}

impl Report {
    /// Simulate the top plans again (per-request latencies and load curves).
    ///
    /// # Complexity
    /// One simulation per top plan plus at most `load_multipliers.len()` per curve.
    ///
    /// # Errors
    /// [`ReportError::Option`] for `top = 0` or a non-positive multiplier,
    /// [`ReportError::Simulation`] when a plan fails to simulate (it did in the search, so
    /// only with a different `input`).
    pub fn build(input: &ReportInput<'_>, options: &ReportOptions) -> Result<Report, ReportError> {
        if options.top == 0 {
            return Err(ReportError::Option {
                option: "top".into(),
                value: "0".into(),
                expected: "at least 1 plan".into(),
            });
        }
        if let Some(m) = options
            .load_multipliers
            .iter()
            .find(|m| !(m.is_finite() && **m > 0.0))
        {
            return Err(ReportError::Option {
                option: "load_multipliers".into(),
                value: m.to_string(),
                expected: "finite multipliers > 0".into(),
            });
        }
        let r = input.report;
        let varied = r
            .ranked
            .iter()
            .any(|p| p.scheduler != r.ranked[0].scheduler);
        let mut plans = Vec::new();
        for ranked in r.ranked.iter().take(options.top) {
            plans.push(plan_data(input, ranked, varied, options)?);
        }
        let pareto_objectives = match &r.pareto {
            Some(p) => (p.objectives[0], p.objectives[1]),
            None => (r.objective, second_objective(r.objective)),
        };
        Ok(Report {
            search: r.clone(),
            plans,
            pareto_objectives,
            options: options.clone(),
        })
    }

    /// The Pareto plot: every candidate that meets the constraints, the front, the best.
    ///
    /// # Errors
    /// [`ReportError::Plot`] if drawing fails.
    pub fn pareto_svg(&self) -> Result<String, ReportError> {
        let (a, b) = self.pareto_objectives;
        let s = &self.search;
        let value = |p: &RankedPlan, o: Objective| p.value_of(o, s.objective, s.price_per_gpu_hour);
        let pts: Vec<(f64, f64)> = s
            .ranked
            .iter()
            .filter(|p| p.meets_constraints)
            .filter_map(|p| Some((value(p, a)?, value(p, b)?)))
            .collect();
        let front: Vec<(f64, f64)> = match s.pareto(a, b) {
            Ok(f) => {
                let mut v: Vec<(f64, f64)> = f.points.iter().map(|p| (p.a, p.b)).collect();
                v.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
                v
            }
            Err(_) => Vec::new(),
        };
        let best = s
            .best
            .as_ref()
            .and_then(|p| Some((value(p, a)?, value(p, b)?)));
        svg::pareto(
            &format!("Pareto front: {} vs {}", a.name(), b.name()),
            &format!("{} ({})", a.name(), a.unit()),
            &format!("{} ({})", b.name(), b.unit()),
            &pts,
            &front,
            best,
        )
    }

    /// Latency CDFs (end-to-end) of the top plans.
    ///
    /// # Errors
    /// [`ReportError::Plot`] if drawing fails.
    pub fn cdf_svg(&self) -> Result<String, ReportError> {
        let series: Vec<(String, Vec<f64>)> = self
            .plans
            .iter()
            .map(|p| (p.label.clone(), p.e2e_s.clone()))
            .collect();
        svg::cdf("End-to-end latency CDF", "end-to-end latency (s)", &series)
    }

    /// TTFT CDFs of the top plans.
    ///
    /// # Errors
    /// [`ReportError::Plot`] if drawing fails.
    pub fn ttft_cdf_svg(&self) -> Result<String, ReportError> {
        let series: Vec<(String, Vec<f64>)> = self
            .plans
            .iter()
            .map(|p| (p.label.clone(), p.ttft_s.iter().map(|t| t * 1e3).collect()))
            .collect();
        svg::cdf("Time-to-first-token CDF", "TTFT (ms)", &series)
    }

    /// Throughput–latency curves (completed req/s against p99 end-to-end latency).
    ///
    /// # Errors
    /// [`ReportError::Plot`] if drawing fails.
    pub fn curves_svg(&self) -> Result<String, ReportError> {
        let series: Vec<(String, Vec<(f64, f64)>)> = self
            .plans
            .iter()
            .map(|p| {
                (
                    p.label.clone(),
                    p.curve
                        .iter()
                        .map(|c| (c.throughput_req_per_s, c.e2e_p99_s))
                        .collect(),
                )
            })
            .collect();
        svg::curves(
            "Throughput vs latency as the offered load grows",
            "throughput (completed req/s)",
            "p99 end-to-end latency (s)",
            &series,
        )
    }

    /// Per-op-kind time of each top plan (stage-seconds summed over the simulation).
    ///
    /// # Errors
    /// [`ReportError::Plot`] if drawing fails.
    pub fn breakdown_svg(&self) -> Result<String, ReportError> {
        let bars: Vec<(String, BTreeMap<String, f64>)> = self
            .plans
            .iter()
            .map(|p| (p.label.clone(), p.ranked.metrics.breakdown_s.clone()))
            .collect();
        svg::stacked_bars("Time by op kind", "stage-seconds", &bars)
    }

    /// The self-contained HTML page.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

fn label(p: &RankedPlan, varied: bool) -> String {
    if !varied {
        return p.plan.to_string();
    }
    let mut s = format!("{} seqs={}", p.plan, p.scheduler.max_num_seqs);
    if let Some(c) = p.scheduler.chunk_size {
        s.push_str(&format!(" chunk={c}"));
    }
    s
}

fn plan_data(
    input: &ReportInput<'_>,
    ranked: &RankedPlan,
    varied: bool,
    options: &ReportOptions,
) -> Result<PlanData, ReportError> {
    let r = input.report;
    let lower = LowerOptions {
        memory: MemoryOptions {
            max_num_batched_tokens: ranked.scheduler.token_budget(),
            max_num_seqs: ranked.scheduler.max_num_seqs,
            ..input.memory
        },
        required_kv_tokens: parallax::largest_request_tokens(input.workload),
        ..LowerOptions::default()
    };
    let lower = match &input.engine {
        Some(e) => LowerOptions {
            memory: lower.memory,
            ..e.lower_options(&lower)
        },
        None => lower,
    };
    let sim_err = |source: parallax::Error| ReportError::Simulation {
        plan: ranked.plan.to_string(),
        source: Box::new(source),
    };
    let simulate = |w: &Workload| {
        let s = Simulation::new(input.model, input.cluster, &ranked.plan, w);
        // A heterogeneous cluster prices each GPU kind with its own automatic model.
        let s = if input.cluster.is_heterogeneous() {
            s
        } else {
            s.cost_model(input.cost.clone())
        };
        let s = match &input.engine {
            Some(e) => s.engine(e),
            None => s,
        };
        s.scheduler(ranked.scheduler)
            .slo(r.slo)
            .lower(lower)
            .run()
            .map_err(sim_err)
    };
    let base_rate = input.workload.mean_rate();
    let at_rate = |rate: f64| {
        input
            .workload
            .clone()
            .with_rate(rate)
            .map_err(|e| sim_err(e.into()))
    };
    let w = match (ranked.rate_req_per_s, base_rate) {
        (Some(rate), Some(base)) if rate != base => at_rate(rate)?,
        _ => input.workload.clone(),
    };
    let sim = simulate(&w)?;
    let done = || sim.requests.iter().filter(|q| q.completed);
    let e2e_s = done().map(|q| q.finish_s - q.arrival_s).collect();
    let ttft_s = done().map(|q| q.first_token_s - q.arrival_s).collect();
    let mut curve = Vec::new();
    if let Some(base) = base_rate {
        for &m in &options.load_multipliers {
            let rate = base * m;
            let met = simulate(&at_rate(rate)?)?.metrics;
            let sustained = met.requests.rejected == 0
                && met.requests.unfinished == 0
                && met.slo.attainment.map_or(true, |a| a >= r.slo_target);
            curve.push(LoadPoint {
                offered_req_per_s: rate,
                throughput_req_per_s: met.throughput.requests_per_s,
                output_tokens_per_s: met.throughput.output_tokens_per_s,
                e2e_p50_s: met.e2e_s.p50,
                e2e_p99_s: met.e2e_s.p99,
                sustained,
            });
            // Past saturation the completed rate stops following the offered one (with a
            // finite trace, ever-higher loads only turn it into one batch): stop there.
            let saturated = met.throughput.requests_per_s < 0.5 * rate;
            if !sustained || saturated {
                break;
            }
        }
    }
    Ok(PlanData {
        ranked: ranked.clone(),
        label: label(ranked, varied),
        e2e_s,
        ttft_s,
        curve,
    })
}
