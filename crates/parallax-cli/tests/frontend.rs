//! `simulate --frontend-latency` and `--schedule-ahead` (documented in `docs/cli.md`,
//! `parallax simulate`).

use crate::common;
use common::parallax;
use serde_json::Value;

const BASE: [&str; 12] = [
    "simulate",
    "-m",
    "llama-3.1-8b",
    "--cluster",
    "1x1xH100",
    "--plan",
    "tp=1",
    "-w",
    "synthetic:requests=40,rate=5,prompt=fixed(1000),output=fixed(50)",
    "--engine",
    "trtllm",
    "--json",
];

fn simulate(extra: &[&str]) -> Value {
    let mut args = BASE.to_vec();
    args.extend_from_slice(extra);
    let out = parallax(&args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn mean(v: &Value, metric: &str) -> f64 {
    v[metric]["mean"].as_f64().unwrap()
}

#[test]
fn frontend_latency_adds_twice_to_ttft_and_nothing_to_tpot() {
    // Light load (5 req/s): no request waits for another, so only the front end moves.
    let zero = simulate(&["--frontend-latency", "0"]);
    let zero_ms = simulate(&["--frontend-latency", "0ms"]);
    assert_eq!(zero.to_string(), zero_ms.to_string());
    let ten = simulate(&["--frontend-latency", "10ms"]);
    let dt = mean(&ten, "ttft_ms") - mean(&zero, "ttft_ms");
    assert!((dt - 20.0).abs() < 0.5, "TTFT moved by {dt} ms");
    let dp = mean(&ten, "tpot_ms") - mean(&zero, "tpot_ms");
    assert!(dp.abs() < 0.05, "TPOT moved by {dp} ms");
    // The engine's default is 3 ms.
    let default = simulate(&[]);
    let d = mean(&default, "ttft_ms") - mean(&zero, "ttft_ms");
    assert!((d - 6.0).abs() < 0.5, "default front end adds {d} ms");
}

#[test]
fn schedule_ahead_delays_a_request_that_arrives_at_a_busy_engine() {
    // A decodes from 0 s; B arrives at 0.5 s, in the middle of one of A's decode steps.
    let dir = std::env::temp_dir().join(format!("parallax-frontend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("two.jsonl");
    std::fs::write(
        &trace,
        "{\"StartTimeOffset\": 0, \"ContextTokens\": 1000, \"GeneratedTokens\": 400}\n\
         {\"StartTimeOffset\": 500000000, \"ContextTokens\": 1000, \"GeneratedTokens\": 10}\n",
    )
    .unwrap();
    let run = |ahead: &str| -> Value {
        let mut args = BASE.to_vec();
        args[8] = trace.to_str().unwrap();
        args.extend(["--schedule-ahead", ahead, "--requests-csv"]);
        let csv = dir.join(format!("{ahead}.csv"));
        args.push(csv.to_str().unwrap());
        let out = parallax(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (on, off) = (run("on"), run("off"));
    for v in [&on, &off] {
        assert_eq!(v["requests"]["completed"].as_u64(), Some(2), "{v}");
    }
    let ttft_b = |name: &str| -> f64 {
        let text = std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "ttft_s").unwrap();
        let row: Vec<&str> = text.lines().nth(2).unwrap().split(',').collect();
        row[col].parse().unwrap()
    };
    let (b_on, b_off) = (ttft_b("on"), ttft_b("off"));
    // One more decode step of an 8B model on an H100 (a few ms), not more.
    assert!(b_on > b_off, "on {b_on} s, off {b_off} s");
    assert!(b_on - b_off < 0.03, "on {b_on} s, off {b_off} s");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_values_are_errors_naming_the_flag_and_value() {
    for (flag, value, expect) in [
        ("--frontend-latency", "3", "bare number"),
        ("--frontend-latency", "fast", "--frontend-latency `fast`"),
        ("--frontend-latency", "2m", "from 1us to 60 s"),
        ("--schedule-ahead", "maybe", "--schedule-ahead `maybe`"),
    ] {
        let mut args = BASE.to_vec();
        args.extend([flag, value]);
        let out = parallax(&args);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
