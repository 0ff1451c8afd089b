//! Shared by the CLI integration tests: run the `parallax` binary.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Run `parallax ARGS` with two worker threads and capture its output.
pub fn parallax(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the parallax binary runs")
}
