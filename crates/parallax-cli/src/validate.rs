//! `parallax validate`: compare predictions with measurements.

use crate::output::{print_json, table, CliError};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `parallax validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A measured-iteration CSV or a serving-run CSV (docs/measured-format.md).
    #[arg(long, value_name = "FILE")]
    measured: PathBuf,
    /// `auto` (measured profile where one ships, else roofline), `roofline`, `profiled`, or a
    /// FILE: a profile or the roofline parameters of `calibrate --out`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Run `parallax validate`.
pub fn run(args: ValidateArgs) -> Result<(), CliError> {
    let choice = crate::common::cost_source(&args.cost_model)?;
    let report = parallax::validate_file(&args.measured, choice).map_err(CliError::input)?;
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
