//! The `parallax` command-line tool.
//!
//! Every subcommand lives in its own module with an `Args` struct and a `run` function that
//! returns `Result<(), CliError>`; `main` prints the error and picks the exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[macro_use]
mod output;

mod bench_compare;
mod budget;
mod calibrate;
mod catalogs;
mod common;
mod disagg;
mod emit;
mod engine_flags;
mod inspect;
mod knobs;
mod place;
mod precision;
mod predict;
mod report;
mod search;
mod serving;
mod simulate;
mod skew;
mod validate;

/// Find how to split a large model across devices for a workload.
#[derive(Debug, Parser)]
#[command(name = "parallax", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the embedded models.
    Models(catalogs::ModelsArgs),
    /// List the GPU catalog.
    Gpus(catalogs::GpusArgs),
    /// Show a model's structure, parameters and memory needs.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Inspect(inspect::InspectArgs),
    /// Predict the latency of one serving iteration, with a breakdown by op kind.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Predict(predict::PredictArgs),
    /// Simulate serving a workload with one plan, iteration by iteration.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Simulate(simulate::SimulateArgs),
    /// Search the plan space for the best serving plan, with baselines and gains.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Search(search::SearchArgs),
    /// Place a DNN operator graph on accelerators and CPUs exactly (max-load or latency).
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Place(place::PlaceArgs),
    /// Fit the roofline's efficiency curves to a measured profile and report the fit.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Calibrate(calibrate::CalibrateArgs),
    /// Compare predictions with measured iterations or serving runs.
    // a negative number is a (bad) value of its flag, not an unknown flag
    #[command(allow_negative_numbers = true)]
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), output::CliError> = match cli.command {
        Command::Models(a) => catalogs::models(a),
        Command::Gpus(a) => catalogs::gpus(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Search(a) => search::run(a),
        Command::Place(a) => place::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Validate(a) => validate::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
