//! The `parallax` command-line tool.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Find how to split a large model across devices for a workload.
#[derive(Debug, Parser)]
#[command(name = "parallax", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
