//! `search --time-limit` bounds the disaggregated phase too, and the text output's
//! "pool plans kept:" list stays short on big clusters (`--json` keeps every pool plan).

use crate::common;
use common::{json, parallax};
use std::time::{Duration, Instant};

fn pool_plans_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.contains("pool plans kept:"))
        .expect("a pool plans line")
}

#[test]
fn text_lists_the_first_pool_plans_of_each_role_and_counts_the_rest() {
    let args = [
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "8x8xH100",
        "--requests",
        "10",
    ];
    let out = parallax(&args);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = pool_plans_line(&text).split("kept: ").nth(1).unwrap();
    // Instance sizes 1, 2, 4, 8, 16, …, 56: ten per role, six of each shown.
    assert_eq!(line.matches("prefill ").count(), 6, "{line}");
    assert_eq!(line.matches("decode ").count(), 6, "{line}");
    assert!(
        text.contains("disaggregated: … and 8 more pool plans kept (`--json` lists them all)"),
        "{text}"
    );
    let mut a = args.to_vec();
    a.push("--json");
    let j = json(&a);
    assert_eq!(
        j["disaggregation"]["pool_plans"].as_array().unwrap().len(),
        20
    );
    assert!(j["disaggregation"]["note"].is_null());
}

#[test]
fn huge_cluster_search_stops_at_the_time_limit_with_a_short_report() {
    let start = Instant::now();
    let out = parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1024x8xH100",
        "--requests",
        "10",
        "--time-limit",
        "1s",
    ]);
    let took = start.elapsed();
    // A hang guard only: it ran for ~110 s and printed a 120 KB line before.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("; stop: time_limit"), "{text}");
    assert!(pool_plans_line(&text).len() < 2_000);
    assert!(text
        .lines()
        .any(|l| l.starts_with("disaggregated: ") && l.contains("time limit")));
}

/// When the time limit leaves no disaggregated deployment simulated, the winner line says so
/// rather than that none meets the constraints (nothing was judged).
#[test]
fn the_winner_line_says_when_no_disaggregated_deployment_was_simulated() {
    let out = parallax(&[
        "search",
        "--disaggregation",
        "auto",
        "--requests",
        "20",
        "--time-limit",
        "1ms",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let winner = text
        .lines()
        .find(|l| l.starts_with("winner: "))
        .expect("a winner line");
    assert!(
        winner.contains("no disaggregated deployment was simulated"),
        "{winner}"
    );
    assert!(!winner.contains("either kind meets"), "{winner}");
}

/// When both kinds meet the constraints with values that give no ratio (a free GPU-hour makes
/// every cost 0), the winner line says so instead of that the other kind meets nothing.
#[test]
fn the_winner_line_explains_a_tie_without_a_gain_ratio() {
    let out = parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--requests",
        "40",
        "-o",
        "cost",
        "--price",
        "0",
        "--disaggregation",
        "on",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let winner = text
        .lines()
        .find(|l| l.starts_with("winner: "))
        .expect("a winner line");
    assert!(
        winner.contains("which give no gain ratio") && !winner.contains("meets the constraints"),
        "{winner}"
    );
}
