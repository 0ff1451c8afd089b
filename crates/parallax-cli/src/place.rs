//! `parallax place`: exact operator placement of a DNN graph (Tarnawski et al., NeurIPS 2020).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use parallax::place::{
    self, baselines, DeviceKind, Instance, Limits, MilpOptions, PlaceError, Placement, ProofStatus,
};
use serde::Serialize;

use crate::output::{print_json, table, CliError};

/// What to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Maximum device load (time per sample of the pipeline).
    Throughput,
    /// Finish time of one input.
    Latency,
    /// The largest forward load of a device plus the largest backward load (the paper's
    /// alternative training objective, Appendix C); solved by the MILP.
    #[serde(rename = "split-maxima")]
    SplitMaxima,
}

/// Arguments of `parallax place`.
#[derive(Debug, Args)]
pub struct PlaceArgs {
    /// Placement graph: the paper's JSON (maxFPGAs, nodes, edges) or parallax-place's format.
    pub graph: PathBuf,
    /// Objective to minimise.
    #[arg(long, value_enum, default_value_t = Objective::Throughput)]
    pub objective: Objective,
    /// Allow non-contiguous device sets (throughput and split-maxima; solved by MILP).
    #[arg(long)]
    pub non_contiguous: bool,
    /// Solve the contiguous problem with the MILP instead of the DP (throughput only; the
    /// DP's optimum seeds it, so this mainly cross-checks).
    #[arg(long)]
    pub milp: bool,
    /// Contiguity relaxed on CPUs: the accelerators' sets stay contiguous (paths through
    /// CPU nodes included), the CPUs' sets may be anything (throughput and split-maxima;
    /// solved by the MILP, so implies --milp).
    #[arg(long)]
    pub cpus_noncontiguous: bool,
    /// Compute/communication overlap: an accelerator's load is the larger of its compute
    /// and transfer times instead of their sum (throughput only).
    #[arg(long)]
    pub overlap: bool,
    /// Subgraphs allowed per accelerator (latency only).
    #[arg(long, default_value_t = 1,
          value_parser = |s: &str| crate::common::count_arg(s, 1, MAX_SUBGRAPHS as u64).map(|v| v as usize))]
    pub subgraphs: usize,
    /// Wall-clock budget of the whole run (solver and baselines), with a unit like every
    /// duration flag (`30s`, `500ms`, `5m`; default 300s, at most 1000000s); when it runs out
    /// the best placement is reported with its gap.
    #[arg(long, allow_hyphen_values = true)]
    pub time_limit: Option<String>,
    /// Label budget of the latency search (default: that of `Limits::default()`); when it
    /// runs out the best schedule is reported with its proven gap (0: at once).
    #[arg(long, value_parser = |s: &str| crate::common::count_arg(s, 0, u64::MAX))]
    pub max_labels: Option<u64>,
    /// A human-expert split (the paper's `*_expert.json`: node ids per accelerator and CPU)
    /// to score beside the optimum.
    #[arg(long, value_name = "EXPERT.json")]
    pub expert: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct ExpertOut {
    file: String,
    /// Keeps memory, support and colocation.
    feasible: bool,
    contiguous: bool,
    /// Its max load (time per sample), evaluated from scratch.
    max_load: f64,
    /// Its latency with each accelerator's nodes as one subgraph; null when that is not a
    /// valid latency schedule.
    latency: Option<f64>,
    /// Why `latency` is null (a class split between devices, a cycle between subgraphs,
    /// memory, ...); absent when it has a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_error: Option<String>,
    /// Accelerators over their memory: [index, memory used].
    over_memory: Vec<(usize, f64)>,
    /// Its value for the chosen objective divided by the solver's value (null when it is
    /// infeasible or has no value for the objective).
    vs_solution: Option<f64>,
    /// Nodes the file does not name, placed with their colocation class (an inference
    /// split on a training graph); 0 when the file names every node.
    derived_nodes: usize,
    /// Split-maxima objective: its max forward + max backward load.
    #[serde(skip_serializing_if = "Option::is_none")]
    split_maxima: Option<f64>,
}

#[derive(Debug, Serialize)]
struct DeviceOut {
    kind: DeviceKind,
    index: usize,
    load: f64,
    memory: f64,
    nodes: Vec<i64>,
}

#[derive(Debug, Serialize)]
struct BaselineOut {
    name: String,
    feasible: bool,
    contiguous: bool,
    max_load: Option<f64>,
    /// Latency objective: the baseline's latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<f64>,
    /// Split-maxima objective: the baseline's max forward + max backward load.
    #[serde(skip_serializing_if = "Option::is_none")]
    split_maxima: Option<f64>,
    /// The time limit cut this baseline short.
    timed_out: bool,
}

#[derive(Debug, Serialize)]
struct SplitMaximaOut {
    /// Largest forward load of a device.
    forward: f64,
    /// Largest backward load of a device.
    backward: f64,
    /// `forward + backward`, the objective.
    value: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    file: String,
    objective: Objective,
    contiguous: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_load: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<f64>,
    /// Throughput: the latency of one input on the returned split (each accelerator's nodes
    /// one subgraph); null when that is not a valid schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    split_latency: Option<Option<f64>>,
    /// Split-maxima objective: the value and its two parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    split_maxima: Option<SplitMaximaOut>,
    optimal: bool,
    lower_bound: f64,
    gap: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_reason: Option<place::StopReason>,
    solve_ms: f64,
    devices: Vec<DeviceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subgraphs: Option<Vec<place::latency::Subgraph>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_tasks: Option<Vec<place::latency::CpuTask>>,
    baselines: Vec<BaselineOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expert: Option<ExpertOut>,
    solver: serde_json::Value,
}

/// Maps a placement error, naming the graph file when the error does not already.
fn place_error(e: PlaceError, file: &std::path::Path) -> CliError {
    let names_file = matches!(
        e,
        PlaceError::Io { .. }
            | PlaceError::Json { .. }
            | PlaceError::InvalidField { .. }
            | PlaceError::ExpertMismatch { .. }
    );
    let msg = if names_file {
        e.to_string()
    } else {
        format!("{}: {e}", file.display())
    };
    match e {
        PlaceError::Milp(_) | PlaceError::Verification(_) => CliError::failure(msg),
        _ => CliError::input(msg),
    }
}

fn devices_of(p: &Placement) -> Vec<DeviceOut> {
    p.devices
        .iter()
        .map(|d| DeviceOut {
            kind: d.kind,
            index: d.index,
            load: d.load,
            memory: d.memory,
            nodes: d.nodes.clone(),
        })
        .collect()
}

fn status_parts(s: &ProofStatus, value: f64) -> (bool, f64, f64, Option<place::StopReason>) {
    match *s {
        ProofStatus::Optimal => (true, value, 0.0, None),
        ProofStatus::Stopped {
            reason,
            lower_bound,
            gap,
        } => (false, lower_bound, gap, Some(reason)),
    }
}

/// The report of a max-load (throughput) solve; the caller adds baselines and timing.
fn throughput_report(
    args: &PlaceArgs,
    contiguous: bool,
    placement: &Placement,
    status: &ProofStatus,
    solver: serde_json::Value,
) -> Report {
    let v = placement.max_load;
    let (optimal, lower_bound, gap, stop_reason) = status_parts(status, v);
    Report {
        file: args.graph.display().to_string(),
        objective: args.objective,
        contiguous,
        max_load: Some(v),
        latency: None,
        split_latency: None,
        split_maxima: None,
        optimal,
        lower_bound,
        gap,
        stop_reason,
        solve_ms: 0.0,
        devices: devices_of(placement),
        subgraphs: None,
        cpu_tasks: None,
        baselines: Vec::new(),
        expert: None,
        solver,
    }
}

/// Largest `--subgraphs` (subgraphs per accelerator).
const MAX_SUBGRAPHS: usize = 1 << 20;

/// Runs `parallax place`.
pub fn run(args: PlaceArgs) -> Result<(), CliError> {
    // the budget covers the whole run: reading the files, the solver and the baselines
    let run_started = Instant::now();
    let budget = match args.time_limit.as_deref() {
        Some(text) => {
            let t = crate::common::duration("--time-limit", text)?.as_secs_f64();
            Limits::time_limit_from_secs(t).map_err(|_| {
                CliError::input(format!(
                    "invalid --time-limit `{text}`: expected a duration > 0 and <= {}s",
                    place::limits::MAX_TIME_LIMIT_SECS
                ))
            })?
        }
        None => place::limits::DEFAULT_TIME_LIMIT,
    };
    if (args.non_contiguous || args.milp || args.cpus_noncontiguous)
        && args.objective == Objective::Latency
    {
        return Err(CliError::input(
            "--non-contiguous, --milp and --cpus-noncontiguous apply to --objective throughput or split-maxima only",
        ));
    }
    if args.non_contiguous && args.cpus_noncontiguous {
        return Err(CliError::input(
            "--cpus-noncontiguous relaxes contiguity on CPUs only; --non-contiguous already drops it everywhere: give one of them",
        ));
    }
    // The latency search's flags: ignoring them under throughput would hide a missing
    // `--objective latency`. `--subgraphs` has a documented maximum (docs/cli.md, Limits).
    if args.objective != Objective::Latency && (args.subgraphs != 1 || args.max_labels.is_some()) {
        return Err(CliError::input(
            "--subgraphs and --max-labels apply to --objective latency only",
        ));
    }
    let file = args.graph.as_path();
    let graph = place::load_graph(file).map_err(|e| place_error(e, file))?;
    if args.overlap && args.objective != Objective::Throughput {
        return Err(CliError::input(
            "--overlap applies to --objective throughput only",
        ));
    }
    let inst = Instance::new(&graph)
        .map_err(|e| place_error(e, file))?
        .with_overlap(args.overlap);
    // score the expert split first so that a mismatch is reported before a long solve
    let expert = match &args.expert {
        Some(path) => {
            let split = place::load_expert(path).map_err(|e| place_error(e, path))?;
            // an inference split scored on a training graph: backward nodes follow their
            // colocation class
            let (split, derived) = split.derive_for(&inst).map_err(|e| place_error(e, path))?;
            let score = split
                .evaluate(&inst, args.subgraphs.max(1))
                .map_err(|e| place_error(e, path))?;
            Some((path.display().to_string(), score, derived))
        }
        None => None,
    };
    // what is left of the budget (at least a microsecond: the solvers take a positive limit
    // and stop at once with their best so far)
    let left = || {
        budget
            .saturating_sub(run_started.elapsed())
            .max(std::time::Duration::from_micros(1))
    };
    let limits = Limits {
        time_limit: Some(left()),
        max_labels: args.max_labels.or(Limits::default().max_labels),
        ..Limits::default()
    };
    let started = Instant::now();
    let mut report = match args.objective {
        Objective::Throughput if args.non_contiguous || args.milp || args.cpus_noncontiguous => {
            let opts = MilpOptions {
                contiguous: !args.non_contiguous,
                cpu_contiguous: !args.cpus_noncontiguous,
                time_limit: Some(left().as_secs_f64()),
                ..MilpOptions::default()
            };
            let sol = place::solve_milp(&inst, &opts).map_err(|e| place_error(e, file))?;
            throughput_report(
                &args,
                !args.non_contiguous && sol.placement.contiguous,
                &sol.placement,
                &sol.status,
                serde_json::json!({
                    "method": "milp",
                    "cpu_contiguous": opts.contiguous && opts.cpu_contiguous,
                    "backend": sol.backend.name(),
                    "nodes": sol.nodes,
                    "variables": sol.variables,
                    "constraints": sol.constraints,
                    "seed": sol.seed,
                    "from_seed": sol.from_seed,
                    "milp_stop_reason": sol.solver_stop,
                }),
            )
        }
        Objective::SplitMaxima => split_maxima_report(&args, &inst, left())?,
        Objective::Throughput => {
            let sol = place::solve_contiguous(&inst, &limits).map_err(|e| place_error(e, file))?;
            throughput_report(
                &args,
                true,
                &sol.placement,
                &sol.status,
                serde_json::json!({
                    "method": "ideal_dp",
                    "groups": sol.stats.groups,
                    "ideals": sol.stats.ideals,
                    "pairs": sol.stats.pairs,
                    "upper_bound": sol.stats.upper_bound,
                }),
            )
        }
        Objective::Latency => {
            let sol = place::solve_latency(&inst, args.subgraphs, &limits)
                .map_err(|e| place_error(e, file))?;
            let v = sol.schedule.latency;
            let (optimal, lower_bound, gap, stop_reason) = status_parts(&sol.status, v);
            let mut per_acc: std::collections::BTreeMap<usize, DeviceOut> = Default::default();
            for s in &sol.schedule.subgraphs {
                let d = per_acc.entry(s.accelerator).or_insert(DeviceOut {
                    kind: DeviceKind::Accelerator,
                    index: s.accelerator,
                    load: 0.0,
                    memory: 0.0,
                    nodes: Vec::new(),
                });
                d.load += s.finish - s.start;
                d.nodes.extend_from_slice(&s.nodes);
            }
            let mut devices: Vec<DeviceOut> = per_acc.into_values().collect();
            let size_of: std::collections::BTreeMap<i64, f64> =
                graph.nodes.iter().map(|n| (n.id, n.memory)).collect();
            for d in &mut devices {
                d.nodes.sort_unstable();
                d.memory = d.nodes.iter().filter_map(|id| size_of.get(id)).sum();
            }
            if !sol.schedule.cpu.is_empty() {
                let mut nodes: Vec<i64> = sol.schedule.cpu.iter().map(|t| t.node).collect();
                nodes.sort_unstable();
                devices.push(DeviceOut {
                    kind: DeviceKind::Cpu,
                    index: 0,
                    load: sol.schedule.cpu.iter().map(|t| t.finish - t.start).sum(),
                    memory: nodes.iter().filter_map(|id| size_of.get(id)).sum(),
                    nodes,
                });
            }
            Report {
                file: args.graph.display().to_string(),
                objective: args.objective,
                contiguous: true,
                max_load: None,
                latency: Some(v),
                split_latency: None,
                split_maxima: None,
                optimal,
                lower_bound,
                gap,
                stop_reason,
                solve_ms: 0.0,
                devices,
                subgraphs: Some(sol.schedule.subgraphs.clone()),
                cpu_tasks: Some(sol.schedule.cpu.clone()),
                baselines: Vec::new(),
                expert: None,
                solver: serde_json::json!({
                    "method": "label_search",
                    "subgraphs_per_accelerator": args.subgraphs,
                    "ideals": sol.ideals,
                    "labels": sol.labels,
                    "pairs": sol.pairs,
                    "series_dp": sol.series,
                    "class_solves": sol.class_solves,
                }),
            }
        }
    };
    report.solve_ms = started.elapsed().as_secs_f64() * 1e3;
    if args.objective == Objective::Throughput {
        report.split_latency = Some(report_split_latency(&inst, &report));
    }
    if args.objective != Objective::Latency {
        // the baselines get what is left of the budget
        let rest = Limits {
            time_limit: Some(budget.saturating_sub(run_started.elapsed())),
            ..Limits::default()
        };
        report.baselines = baselines::run_all_with(&inst, &rest)
            .into_iter()
            .map(|b| BaselineOut {
                max_load: b.placement.as_ref().map(|p| p.max_load),
                contiguous: b.placement.as_ref().is_some_and(|p| p.contiguous),
                split_maxima: b
                    .placement
                    .as_ref()
                    .filter(|_| args.objective == Objective::SplitMaxima)
                    .map(|p| split_maxima_of(&inst, p)),
                name: b.name,
                feasible: b.feasible,
                latency: None,
                timed_out: b.timed_out,
            })
            .collect();
    } else {
        let greedy = place::latency::latency_greedy(&inst);
        report.baselines = vec![BaselineOut {
            name: "latency_greedy".into(),
            feasible: greedy.is_some(),
            contiguous: true,
            max_load: None,
            latency: greedy.map(|s| s.latency),
            split_maxima: None,
            timed_out: false,
        }];
    }
    if let Some((file, score, derived_nodes)) = expert {
        let split_maxima = (args.objective == Objective::SplitMaxima)
            .then(|| split_maxima_of(&inst, &score.placement));
        let (value, mine) = match args.objective {
            Objective::Throughput => (report.max_load, Some(score.placement.max_load)),
            Objective::Latency => (report.latency, score.latency),
            Objective::SplitMaxima => (report.split_maxima.as_ref().map(|s| s.value), split_maxima),
        };
        let vs_solution = match (value, mine) {
            (Some(v), Some(m)) if score.feasible && v > 0.0 => Some(m / v),
            _ => None,
        };
        report.expert = Some(ExpertOut {
            file,
            feasible: score.feasible,
            contiguous: score.placement.contiguous,
            max_load: score.placement.max_load,
            latency: score.latency,
            latency_error: score.latency_error,
            over_memory: score.over_memory,
            vs_solution,
            derived_nodes,
            split_maxima,
        });
    }
    if args.json {
        return print_json(&report);
    }
    print_table(&report);
    Ok(())
}

/// Solves the max-forward + max-backward objective by the seeded MILP (contiguity as for
/// throughput: `--non-contiguous` drops it, `--cpus-noncontiguous` relaxes it on CPUs).
fn split_maxima_report(
    args: &PlaceArgs,
    inst: &Instance,
    budget: std::time::Duration,
) -> Result<Report, CliError> {
    let opts = MilpOptions {
        contiguous: !args.non_contiguous,
        cpu_contiguous: !args.cpus_noncontiguous,
        time_limit: Some(budget.as_secs_f64()),
        ..MilpOptions::default()
    };
    let file = args.graph.as_path();
    let seeded =
        place::split_maxima::solve_split_maxima(inst, &opts).map_err(|e| place_error(e, file))?;
    let sol = &seeded.solution;
    let mut report = throughput_report(
        args,
        !args.non_contiguous && sol.placement.contiguous,
        &sol.placement,
        &sol.status,
        serde_json::json!({
            "method": "milp",
            "cpu_contiguous": opts.contiguous && opts.cpu_contiguous,
            "backend": format!("{:?}", opts.backend).to_lowercase(),
            "seed": seeded.seed,
            "seed_from": seeded.seed_from,
            "from_seed": seeded.from_seed,
        }),
    );
    // the proof is about forward + backward, not the max load
    let (optimal, lower_bound, gap, stop_reason) = status_parts(&sol.status, sol.value);
    report.optimal = optimal;
    report.lower_bound = lower_bound;
    report.gap = gap;
    report.stop_reason = stop_reason;
    report.split_maxima = Some(SplitMaximaOut {
        forward: sol.forward,
        backward: sol.backward,
        value: sol.value,
    });
    Ok(report)
}

/// Max forward + max backward load of an evaluated placement.
fn split_maxima_of(inst: &Instance, p: &Placement) -> f64 {
    let (f, b) = place::eval::split_maxima(inst, &place::split_maxima::placement_slots(inst, p));
    f + b
}

/// The latency of the reported split, rebuilt from its devices.
fn report_split_latency(inst: &Instance, r: &Report) -> Option<f64> {
    let devices = r
        .devices
        .iter()
        .map(|d| place::DeviceLoad {
            kind: d.kind,
            index: d.index,
            load: d.load,
            memory: d.memory,
            nodes: d.nodes.clone(),
        })
        .collect();
    let p = Placement {
        devices,
        max_load: r.max_load.unwrap_or(0.0),
        contiguous: r.contiguous,
    };
    place::latency::latency_of_placement(inst, &p)
}

fn fmt(x: f64) -> String {
    format!("{x:.6}")
}

fn print_table(r: &Report) {
    let (name, value) = match (&r.split_maxima, r.max_load, r.latency) {
        (Some(s), _, _) => ("fwd+bwd", s.value),
        (_, Some(v), _) => ("max load", v),
        (_, _, Some(v)) => ("latency", v),
        _ => ("value", f64::NAN),
    };
    let proof = if r.optimal {
        "optimal".to_string()
    } else {
        format!(
            "stopped: {}, lower bound {}, gap {:.3}%",
            r.stop_reason
                .map_or("budget".to_string(), |s| s.to_string()),
            fmt(r.lower_bound),
            r.gap * 100.0
        )
    };
    outln!("{}", r.file);
    outln!(
        "{name}: {}  [{proof}]  {}  solved in {:.1} ms",
        fmt(value),
        if r.contiguous {
            "contiguous"
        } else {
            "non-contiguous"
        },
        r.solve_ms
    );
    if let Some(reason) = r
        .solver
        .get("milp_stop_reason")
        .and_then(|v| v.as_str())
        .filter(|_| r.optimal)
    {
        outln!(
            "note: the MILP stopped before finishing ({}); the bound known without it (the seeding DP's proof, or the trivial bound) proves this optimal all the same",
            reason.replace('_', " ")
        );
    }
    if let Some(s) = &r.split_maxima {
        outln!(
            "max forward load {} + max backward load {}; max load of this split: {}",
            fmt(s.forward),
            fmt(s.backward),
            fmt(r.max_load.unwrap_or(f64::NAN))
        );
    }
    if let Some(l) = r.split_latency {
        outln!(
            "latency of one input on this split: {}",
            l.map_or("- (not a valid latency schedule)".to_string(), fmt)
        );
    }
    outln!();
    let rows: Vec<Vec<String>> = r
        .devices
        .iter()
        .map(|d| {
            vec![
                format!("{:?} {}", d.kind, d.index).to_lowercase(),
                fmt(d.load),
                format!("{:.0}", d.memory),
                d.nodes.len().to_string(),
                compact_ids(&d.nodes),
            ]
        })
        .collect();
    out!(
        "{}",
        table(&["device", "load", "memory", "nodes", "node ids"], &rows)
    );
    if !r.baselines.is_empty() {
        outln!();
        let rows: Vec<Vec<String>> = r
            .baselines
            .iter()
            .map(|b| {
                vec![
                    if b.timed_out {
                        format!("{} (time limit)", b.name)
                    } else {
                        b.name.clone()
                    },
                    b.split_maxima
                        .or(b.latency)
                        .or(b.max_load)
                        .map_or("-".into(), fmt),
                    b.feasible.to_string(),
                    b.contiguous.to_string(),
                    b.split_maxima
                        .or(b.latency)
                        .or(b.max_load)
                        .filter(|_| value > 0.0)
                        .map_or("-".into(), |v| format!("{:.3}x", v / value)),
                ]
            })
            .collect();
        out!(
            "{}",
            table(
                &["baseline", name, "feasible", "contiguous", "vs optimum"],
                &rows
            )
        );
    }
    if let Some(e) = &r.expert {
        print_expert(e, r.objective);
    }
}

fn print_expert(e: &ExpertOut, objective: Objective) {
    println!();
    let value = match objective {
        Objective::Throughput => format!("max load {}", fmt(e.max_load)),
        Objective::SplitMaxima => format!(
            "max forward + max backward {} (max load {})",
            fmt(e.split_maxima.unwrap_or(f64::NAN)),
            fmt(e.max_load)
        ),
        Objective::Latency => match (e.latency, &e.latency_error) {
            (Some(l), _) => format!("latency {}", fmt(l)),
            (None, Some(why)) => format!("no valid latency schedule ({why})"),
            (None, None) => "no valid latency schedule".to_string(),
        },
    };
    let ratio = e
        .vs_solution
        .map_or(String::new(), |r| format!(" = {r:.3}x the solution"));
    let memory = if e.over_memory.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = e
            .over_memory
            .iter()
            .map(|(a, m)| format!("accelerator {a} holds {m:.0}"))
            .collect();
        format!(", over memory: {}", list.join("; "))
    };
    println!(
        "human expert ({}): {value}{ratio}  [{}{}{memory}]",
        e.file,
        if e.feasible { "feasible" } else { "infeasible" },
        if e.contiguous {
            ", contiguous"
        } else {
            ", non-contiguous"
        },
    );
}

/// `1-5,7,9-10` for sorted ids.
fn compact_ids(ids: &[i64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", ids[i], ids[j])
        } else {
            ids[i].to_string()
        });
        i = j + 1;
    }
    out.join(",")
}
