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

/// Run `parallax ARGS`, which must succeed, and parse its stdout as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = parallax(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}
