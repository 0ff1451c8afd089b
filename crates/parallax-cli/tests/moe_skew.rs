//! `--moe-skew`, `--expert-load` and `--eplb` on `simulate` and `search` (documented in
//! `docs/cli.md`, "MoE routing skew").

use serde_json::Value;
use std::process::{Command, Output};

fn parallax(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the parallax binary runs")
}

fn simulate(extra: &[&str]) -> Value {
    let mut args = vec![
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--cluster",
        "1x8xH100",
        "--plan",
        "ep=8",
        "-w",
        "summarization",
        "--requests",
        "64",
        "--rate",
        "20",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = parallax(&args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Mean TTFT: prefill is compute-bound on the routed experts, so it waits for the busiest
/// rank. (Decode is weight-bound: a skewed router touches fewer distinct experts, so TPOT
/// can even improve; see docs/cli.md.)
fn ttft(v: &Value) -> f64 {
    v["ttft_ms"]["mean"].as_f64().unwrap()
}

fn error(args: &[&str]) -> String {
    let out = parallax(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn skew_slows_an_ep_plan_and_eplb_recovers_part() {
    let dir = std::env::temp_dir().join(format!("parallax-moe-skew-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flat = dir.join("flat.txt");
    std::fs::write(&flat, "# balanced\n".to_string() + &["1"; 128].join(",")).unwrap();
    let none = simulate(&[]);
    assert!(none.get("moe_busiest_rank_share").is_none());
    // A measured balanced load is today's result exactly.
    let mut balanced = simulate(&["--expert-load", flat.to_str().unwrap()]);
    assert_eq!(balanced["moe_busiest_rank_share"].as_f64(), Some(0.125));
    balanced
        .as_object_mut()
        .unwrap()
        .remove("moe_busiest_rank_share");
    assert_eq!(balanced, none);
    let skew = simulate(&["--moe-skew", "zipf:1.2"]);
    let eplb = simulate(&["--moe-skew", "zipf:1.2", "--eplb", "8"]);
    let share = |v: &Value| v["moe_busiest_rank_share"].as_f64().unwrap();
    assert!(share(&skew) > 0.3, "{}", share(&skew));
    assert!(share(&eplb) < share(&skew));
    assert!(
        ttft(&skew) > ttft(&none) * 1.1,
        "{} vs {}",
        ttft(&skew),
        ttft(&none)
    );
    assert!(
        ttft(&eplb) < ttft(&skew),
        "{} vs {}",
        ttft(&eplb),
        ttft(&skew)
    );
    // Deterministic: the same flags give the same output.
    assert_eq!(simulate(&["--moe-skew", "zipf:1.2"]), skew);
    // Wrong length, and a non-number, are errors naming the file.
    let short = dir.join("short.txt");
    std::fs::write(&short, "1 2 3").unwrap();
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--expert-load",
        short.to_str().unwrap(),
    ]);
    assert!(
        e.contains("--expert-load") && e.contains("3 loads") && e.contains("128"),
        "{e}"
    );
    std::fs::write(&short, "1\n2 x").unwrap();
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--expert-load",
        short.to_str().unwrap(),
    ]);
    assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_flags_are_errors() {
    let base = [
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--requests",
        "4",
    ];
    for (v, why) in [
        ("zipf:0", "out of range"),
        ("zipf:10.5", "out of range"),
        ("zipf:-1", "out of range"),
        ("zipf:nan", "out of range"),
        ("zipf:x", "not a number"),
        ("uniform:1", "unknown skew model"),
        ("zipf:1:-3", "seed"),
    ] {
        let mut a = base.to_vec();
        a.extend(["--moe-skew", v]);
        let e = error(&a);
        assert!(
            e.contains("--moe-skew") && e.contains(v) && e.contains(why),
            "{v}: {e}"
        );
    }
    let mut a = base.to_vec();
    a.extend(["--moe-skew", "zipf:1", "--eplb", "3"]);
    let e = error(&a);
    assert!(e.contains("eplb") && e.contains("ep=8"), "{e}");
    let e = error(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--plan",
        "tp=1",
        "--moe-skew",
        "zipf:1",
    ]);
    assert!(
        e.contains("--moe-skew") && e.contains("no MoE layers"),
        "{e}"
    );
    let e = error(&["search", "-m", "llama-3.1-8b", "--eplb", "8"]);
    assert!(e.contains("--eplb") && e.contains("no MoE layers"), "{e}");
    let e = error(&["search", "-m", "qwen3-30b-a3b", "--eplb", "5000"]);
    assert!(e.contains("--eplb 5000"), "{e}");
}

#[test]
fn search_prunes_plans_eplb_does_not_divide() {
    let out = parallax(&[
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--cluster",
        "1x8xH100",
        "-w",
        "chat",
        "--requests",
        "32",
        "--moe-skew",
        "zipf:1.2",
        "--eplb",
        "3",
        "--disaggregation",
        "off",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["plans_pruned"]["moe-load"].as_u64().unwrap() > 0,
        "{}",
        v["plans_pruned"]
    );
}
