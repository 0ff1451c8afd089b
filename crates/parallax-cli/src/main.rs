//! The `parallax` command-line tool.
//!
//! Every subcommand lives in its own module with an `Args` struct and a `run` function that
//! returns `Result<(), CliError>`; `main` prints the error and picks the exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod output;

/// Find how to split a large model across devices for a workload.
#[derive(Debug, Parser)]
#[command(name = "parallax", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), output::CliError> = match cli.command {};
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
