//! `parallax validate`: compare predictions with measurements.

use crate::output::{print_json, table, CliError};
use clap::Args;
use parallax::cost_file::CostSource;
use std::path::PathBuf;

/// Arguments of `parallax validate`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("file").required(true).args(["measured", "serving"])))]
pub struct ValidateArgs {
    /// A measured-iteration CSV, a serving-run CSV or a load-point CSV
    /// (docs/measured-format.md).
    #[arg(long, value_name = "FILE")]
    measured: Option<PathBuf>,
    /// A serving measurement: a serving-run CSV, or closed-loop engine load points
    /// (aiconfigurator's silicon CSV; each row is predicted with its own backend's engine).
    #[arg(long, value_name = "FILE")]
    serving: Option<PathBuf>,
    /// Serving engine for iterations and serving runs: vllm (V1), vllm-v0, sglang, trtllm, or
    /// `none` (the cost model alone, as the project's PyTorch harness measures iterations).
    /// Default: the file's `# engine: NAME` line, else none for iterations, vllm for serving
    /// runs.
    #[arg(long)]
    engine: Option<String>,
    /// With load points: also print one line per row.
    #[arg(long)]
    rows: bool,
    /// With load points: the benchmark drew its prompts from N distinct prompts (aiperf's
    /// `--num-dataset-entries`; 100 when that flag was not given), so engines that cache
    /// prefixes by default (vLLM V1, SGLang; not TensorRT-LLM as aiconfigurator deploys it)
    /// reuse a repeated prompt's KV blocks. Default: every request its own prompt.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    prompt_pool: Option<u32>,
    /// `auto` (measured profile where one ships, else roofline), `roofline`, `profiled`, or a
    /// FILE: a profile or the roofline parameters of `calibrate --out`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Wall-clock budget (`30s`, `10m`; default 1h): past it the run stops with exit code 3
    /// and no result.
    #[arg(long, allow_hyphen_values = true)]
    time_limit: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// What follows `engine:` in the text of a `#` comment, when it is an engine directive
/// (`# Engine: vllm` is the same directive: the key is case-insensitive).
fn directive_value(comment: &str) -> Option<&str> {
    let comment = comment.trim_start();
    comment
        .get(..7)
        .filter(|k| k.eq_ignore_ascii_case("engine:"))
        .map(|_| &comment[7..])
}

/// The engine a measured file declares in a `# engine: NAME` comment line before its header
/// (`Some(None)` for `none`; `None` when it declares none). An unknown name, or two
/// directives, is an error naming the file, the line and the value.
fn declared_engine(
    file: &str,
    text: &str,
) -> Result<Option<Option<parallax::EngineKind>>, CliError> {
    let mut found: Option<(usize, Option<parallax::EngineKind>)> = None;
    let mut past_header = false;
    for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix('#') else {
            past_header = true; // the header: directives come before it
            continue;
        };
        let Some(rest) = directive_value(comment) else {
            continue;
        };
        if past_header {
            return Err(CliError::input(format!(
                "{file}:{i}: a `# engine:` directive after the header: it must come before \
                 the header line to apply"
            )));
        }
        let name = rest.split_whitespace().next().unwrap_or("");
        let kind = match name.to_ascii_lowercase().as_str() {
            "none" => None,
            _ => Some(name.parse::<parallax::EngineKind>().map_err(|_| {
                CliError::input(format!(
                    "{file}:{i}: invalid `# engine:` directive `{name}`: expected vllm, \
                     vllm-v0, sglang, trtllm or none"
                ))
            })?),
        };
        if let Some((first, _)) = found {
            return Err(CliError::input(format!(
                "{file}:{i}: a second `# engine:` directive (`{name}`): the file already \
                 declares its engine on line {first}"
            )));
        }
        found = Some((i, kind));
    }
    Ok(found.map(|(_, k)| k))
}

/// Run `parallax validate`.
pub fn run(args: ValidateArgs) -> Result<(), CliError> {
    crate::budget::start("validate", args.time_limit.as_deref())?;
    let choice = crate::common::cost_source(&args.cost_model)?;
    let path = match (&args.measured, &args.serving) {
        (Some(p), _) | (None, Some(p)) => p.clone(),
        (None, None) => return Err(CliError::input("give --measured FILE or --serving FILE")),
    };
    let text = parallax::ir::read_text(&path).map_err(|e| {
        CliError::input(format!("cannot read measured file {}: {e}", path.display()))
    })?;
    let header = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if parallax::loadpoints::is_load_point_header(header) {
        // each row's `backend` names its engine: a directive would be silently ignored
        let directive = text.lines().position(|l| {
            l.trim()
                .strip_prefix('#')
                .and_then(directive_value)
                .is_some()
        });
        if let Some(i) = directive {
            let (file, line) = (path.display(), i + 1);
            return Err(CliError::input(format!(
                "{file}:{line}: a `# engine:` directive in a load-point file: each row's \
                 `backend` column names its engine (remove the line)"
            )));
        }
        return load_points(&args, &path, &text, choice);
    }
    if args.serving.is_some()
        && parallax::sim::workload::csv_fields(header)
            .unwrap_or_default()
            .iter()
            .any(|c| c.trim().eq_ignore_ascii_case("measured_ms"))
    {
        return Err(CliError::input(format!(
            "--serving {}: a measured-iteration file (its header has `measured_ms`); \
             --serving takes serving runs or load points, --measured takes iterations",
            path.display()
        )));
    }
    if args.prompt_pool.is_some() {
        return Err(CliError::input(format!(
            "--prompt-pool applies to closed-loop load points (aiconfigurator's silicon CSV), \
             not to {}: its header `{header}` is not a load-point header",
            path.display()
        )));
    }
    if args.rows {
        eprintln!(
            "note: --rows has no effect on {}: the table of measured iterations or serving runs \
             lists every row already (--rows adds one line per load point)",
            path.display()
        );
    }
    let declared = declared_engine(&path.display().to_string(), &text)?;
    let engine = match args.engine.as_deref() {
        Some(n) if n.eq_ignore_ascii_case("none") => None,
        Some(name) => Some(
            name.parse::<parallax::EngineKind>()
                .map_err(CliError::input)?,
        ),
        None if declared.is_some() => declared.flatten(),
        None if header.to_ascii_lowercase().contains("measured_ms") => None,
        None => Some(parallax::EngineKind::Vllm),
    };
    // Errors name the file's columns, not flags.
    let report =
        parallax::validate_file_with(&path, choice, engine).map_err(CliError::input_verbatim)?;
    // a batch that cannot fit a GPU was not measured as written (as `predict` warns)
    let unfit: Vec<String> = report
        .iterations
        .iter()
        .filter(|r| !r.fits_memory)
        .map(|r| r.line.to_string())
        .collect();
    if !unfit.is_empty() {
        eprintln!(
            "warning: {}: the batch of line{} {} does not fit one GPU's memory (weights, \
             reserves and its KV cache); its prediction prices a run that cannot happen",
            path.display(),
            if unfit.len() > 1 { "s" } else { "" },
            unfit.join(", ")
        );
    }
    if args.json {
        return print_json(&report);
    }
    // Each file kind has its own columns; one table prints either.
    const ITERATION_COLUMNS: [&str; 10] = [
        "line",
        "model",
        "gpu",
        "tp",
        "prefill",
        "decode",
        "graphs",
        "measured ms",
        "predicted ms",
        "error",
    ];
    const SERVING_COLUMNS: [&str; 10] = [
        "line",
        "model",
        "plan",
        "workload",
        "TTFT ms",
        "predicted",
        "error",
        "TPOT ms",
        "predicted",
        "error",
    ];
    let (header, rows): (&[&str], Vec<Vec<String>>) = if report.kind == "iterations" {
        let rows = report
            .iterations
            .iter()
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.model.clone(),
                    r.gpu.clone(),
                    r.tp.to_string(),
                    r.prefill.clone(),
                    r.decode.clone(),
                    if r.cuda_graphs { "on" } else { "off" }.to_string(),
                    format!("{:.3}", r.measured_ms),
                    format!("{:.3}", r.predicted_ms),
                    format!("{:+.1}%", r.error_pct),
                ]
            })
            .collect();
        (&ITERATION_COLUMNS, rows)
    } else {
        let rows = report
            .serving
            .iter()
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.model.clone(),
                    r.plan.clone(),
                    r.workload.clone(),
                    format!("{:.2}", r.measured_ttft_ms),
                    format!("{:.2}", r.predicted_ttft_ms),
                    format!("{:+.1}%", r.ttft_error_pct),
                    format!("{:.2}", r.measured_tpot_ms),
                    format!("{:.2}", r.predicted_tpot_ms),
                    format!("{:+.1}%", r.tpot_error_pct),
                ]
            })
            .collect();
        (&SERVING_COLUMNS, rows)
    };
    out!("{}", table(header, &rows));
    match report.summary {
        Some(s) => outln!(
            "absolute error over {} comparisons ({}): median {:.1}%, mean {:.1}%, max {:.1}%",
            s.count,
            report.cost_model,
            s.median,
            s.mean,
            s.max
        ),
        None => outln!("no rows to compare"),
    }
    Ok(())
}

/// Predict closed-loop engine load points and print the errors per engine and GPU.
fn load_points(
    args: &ValidateArgs,
    path: &std::path::Path,
    text: &str,
    choice: CostSource,
) -> Result<(), CliError> {
    use parallax::loadpoints::{parse_load_points, validate_load_points, LoadPointOptions};
    let file = path.display().to_string();
    if args.engine.is_some() {
        return Err(CliError::input(
            "--engine does not apply to load points: each row is predicted with its own \
             `backend` column's engine model",
        ));
    }
    let points = parse_load_points(&file, text).map_err(CliError::input_verbatim)?;
    let report = validate_load_points(
        &file,
        &points,
        &LoadPointOptions {
            cost_model: choice,
            prompt_pool: args.prompt_pool,
            ..LoadPointOptions::default()
        },
    );
    // why rows were skipped, each reason once with the lines it applies to
    let mut reasons: Vec<(&str, Vec<usize>)> = Vec::new();
    for r in &report.rows {
        if let Some(why) = &r.skipped {
            match reasons.iter_mut().find(|(w, _)| w == why) {
                Some((_, lines)) => lines.push(r.point.line),
                None => reasons.push((why, vec![r.point.line])),
            }
        }
    }
    let listed = |reasons: &[(&str, Vec<usize>)]| {
        let mut s = String::new();
        for (why, lines) in reasons.iter().take(5) {
            let shown: Vec<String> = lines.iter().take(8).map(|l| l.to_string()).collect();
            let more = if lines.len() > 8 { ", …" } else { "" };
            s += &format!(
                "\n  line{} {}{more}: {why}",
                if lines.len() > 1 { "s" } else { "" },
                shown.join(", ")
            );
        }
        if reasons.len() > 5 {
            let k = reasons.len() - 5;
            s += &format!(
                "\n  … and {k} other reason{} (--rows lists every row)",
                if k > 1 { "s" } else { "" }
            );
        }
        s
    };
    if !report.rows.is_empty() && report.rows.iter().all(|r| r.skipped.is_some()) {
        return Err(CliError::input(format!(
            "none of the {} load points in {file} could be predicted:{}",
            report.rows.len(),
            listed(&reasons)
        )));
    }
    if args.json {
        return print_json(&report);
    }
    if !reasons.is_empty() && !args.rows {
        let skipped: usize = reasons.iter().map(|(_, l)| l.len()).sum();
        eprintln!(
            "note: {skipped} of {} load points skipped (not in the figures below):{}",
            report.rows.len(),
            listed(&reasons)
        );
    }
    let pct = |s: &Option<parallax::hw::profile::ErrorSummary>| {
        s.as_ref()
            .map_or("-".to_string(), |e| format!("{:.1}%", e.median))
    };
    let n = |s: &Option<parallax::hw::profile::ErrorSummary>| s.as_ref().map_or(0, |e| e.count);
    if args.rows {
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .map(|r| {
                let p = &r.point;
                let mut v = vec![
                    p.line.to_string(),
                    p.engine.name().to_string(),
                    p.system.clone(),
                    p.model.clone(),
                    p.disagg.as_ref().map_or_else(
                        || {
                            let mut s = format!("tp={}", p.tp);
                            if p.pp > 1 {
                                s += &format!(",pp={}", p.pp);
                            }
                            if p.attention_dp > 1 {
                                s += &format!(",adp={}", p.attention_dp);
                            }
                            if let Some(e) = p.moe_ep.filter(|&e| e > 1) {
                                s += &format!(",ep={e}");
                            }
                            s
                        },
                        |d| parallax::loadpoints::disagg::plan_of(d).to_string(),
                    ),
                    format!("{}/{}", p.isl, p.osl),
                    p.concurrency.map_or("-".into(), |c| c.to_string()),
                    format!("{:.1}", p.ttft_ms),
                ];
                match &r.skipped {
                    Some(why) => v.extend([
                        "-".into(),
                        "-".into(),
                        format!("{:.2}", p.tpot_ms),
                        "-".into(),
                        format!("skipped: {why}"),
                    ]),
                    None => v.extend([
                        format!("{:.1}", r.predicted_ttft_ms),
                        format!("{:+.1}%", r.ttft_error_pct),
                        format!("{:.2}", p.tpot_ms),
                        format!("{:.2}", r.predicted_tpot_ms),
                        format!("{:+.1}%", r.tpot_error_pct),
                    ]),
                }
                v
            })
            .collect();
        out!(
            "{}",
            table(
                &[
                    "line",
                    "engine",
                    "gpu",
                    "model",
                    "plan",
                    "isl/osl",
                    "conc",
                    "TTFT ms",
                    "predicted",
                    "error",
                    "TPOT ms",
                    "predicted",
                    "error"
                ],
                &rows
            )
        );
    }
    let rows: Vec<Vec<String>> = report
        .by_engine
        .iter()
        .map(|s| {
            vec![
                s.engine.clone(),
                s.system.clone(),
                n(&s.ttft).to_string(),
                pct(&s.ttft),
                pct(&s.tpot),
            ]
        })
        .collect();
    let prompts = report
        .prompt_pool
        .map_or("every request its own prompt".to_string(), |k| {
            format!("prompts from a pool of {k} (cached by vLLM and SGLang)")
        });
    outln!(
        "{} load points from {} ({} predicted, {} skipped), cost model {}, {prompts}; median \
         |error| of the means:",
        report.rows.len(),
        file,
        report.rows.iter().filter(|r| r.skipped.is_none()).count(),
        report.rows.iter().filter(|r| r.skipped.is_some()).count(),
        report.cost_model
    );
    out!(
        "{}",
        table(&["engine", "gpu", "rows", "TTFT", "TPOT"], &rows)
    );
    outln!(
        "all: TTFT {}, TPOT {}",
        pct(&report.ttft),
        pct(&report.tpot)
    );
    let d = &report.disaggregated;
    if n(&d.ttft) > 0 {
        outln!(
            "disaggregated ({} rows, not in the figures above): TTFT {}, TPOT {}",
            n(&d.ttft),
            pct(&d.ttft),
            pct(&d.tpot)
        );
    }
    Ok(())
}
