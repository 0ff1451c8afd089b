//! `--num-speculative-tokens` and `--speculative-acceptance` on `predict`, `simulate` and
//! `search` (documented in `docs/cli.md` after vLLM's engine switches): MTP speculative decoding.

use crate::common;
use common::{json, parallax};

/// `simulate` of DeepSeek-V3 on 8 H200s serving `requests` chat requests, with `extra` flags.
fn simulate_args<'a>(requests: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    simulate_on("deepseek-v3", "1x8xH200", requests, extra)
}

/// `simulate` of `model` on `cluster` serving `requests` chat requests, with `extra` flags.
fn simulate_on<'a>(
    model: &'a str,
    cluster: &'a str,
    requests: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "simulate",
        "--model",
        model,
        "--cluster",
        cluster,
        "--workload",
        "chat",
        "--requests",
        requests,
    ];
    args.extend_from_slice(extra);
    args
}

fn simulate(extra: &[&str]) -> serde_json::Value {
    let mut args = simulate_args("48", extra);
    args.push("--json");
    json(&args)
}

#[test]
fn mtp_speeds_decoding_by_its_accepted_drafts() {
    let plain = simulate(&[]);
    let mtp = simulate(&["--num-speculative-tokens", "1"]);
    let tpot = |v: &serde_json::Value| v["tpot_ms"]["mean"].as_f64().unwrap();
    assert_eq!(mtp["requests"]["completed"].as_u64(), Some(48));
    assert_eq!(mtp["speculation"]["draft_tokens"].as_u64(), Some(1));
    assert_eq!(mtp["speculation"]["tokens_per_step"].as_f64(), Some(1.85));
    assert!(plain.get("speculation").is_none());
    // 1.85 tokens per step at a somewhat dearer step
    let (p, m) = (tpot(&plain), tpot(&mtp));
    assert!(m < 0.8 * p && m > p / 1.85, "plain {p} ms, mtp {m} ms");
    // a rate of 0 wastes the drafts: slower than no speculation
    let none = simulate(&[
        "--num-speculative-tokens",
        "1",
        "--speculative-acceptance",
        "0",
    ]);
    assert!(tpot(&none) > p, "{} vs {p}", tpot(&none));
    // deterministic
    assert_eq!(mtp, simulate(&["--num-speculative-tokens", "1"]));
}

#[test]
fn predict_prices_the_step_and_reports_per_token() {
    let base = [
        "predict",
        "--model",
        "deepseek-r1",
        "--gpu",
        "H200",
        "--tp",
        "8",
        "--decode",
        "32x2048",
    ];
    let args = |k: Option<&str>| {
        let mut a = base.to_vec();
        a.push("--json");
        if let Some(k) = k {
            a.extend(["--num-speculative-tokens", k, "--speculative-acceptance"]);
            a.push(if k == "1" { "0.8" } else { "0.8,0.5" });
        }
        json(&a)
    };
    let plain = args(None)["iteration_ms"].as_f64().unwrap();
    let two = args(Some("2"));
    let step = two["iteration_ms"].as_f64().unwrap();
    assert!(step > plain);
    let s = &two["speculation"];
    assert_eq!(s["draft_tokens"].as_u64(), Some(2));
    let per = s["tokens_per_step"].as_f64().unwrap();
    assert!((per - (1.0 + 0.8 + 0.8 * 0.5)).abs() < 1e-12, "{per}");
    assert!((s["ms_per_token"].as_f64().unwrap() - step / per).abs() < 1e-9);
    // The text rounds the computed mean (0.9 + 0.9 × 0.7 = 2.5300000000000002) to 2.53.
    let mut a = base.to_vec();
    a.extend([
        "--num-speculative-tokens",
        "2",
        "--speculative-acceptance",
        "0.9,0.7",
    ]);
    let out = parallax(&a);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(", 2.53 tokens per decoding request"),
        "{text}"
    );
}

#[test]
fn emit_launches_what_was_simulated() {
    for (engine, flag) in [
        (
            "vllm",
            r#"--speculative-config '{"method":"mtp","num_speculative_tokens":1}'"#,
        ),
        (
            "sglang",
            "--speculative-algorithm NEXTN --speculative-num-steps 1",
        ),
        ("trtllm", "decoding_type: MTP"),
    ] {
        let out = parallax(&simulate_on(
            "deepseek-r1",
            "1x8xH200",
            "16",
            &["--num-speculative-tokens", "1", "--emit", engine],
        ));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{engine}: {text}");
        assert!(text.contains(flag), "{engine}: {text}");
    }
}

#[test]
fn bad_speculation_flags_are_named() {
    let err = |extra: &[&str]| {
        let args = simulate_args("8", extra);
        let out = parallax(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = err(&["--num-speculative-tokens", "2"]);
    assert!(e.contains("need 2 acceptance rates"), "{e}");
    let e = err(&[
        "--num-speculative-tokens",
        "1",
        "--speculative-acceptance",
        "1.2",
    ]);
    assert!(e.contains("1.2") && e.contains("[0, 1]"), "{e}");
    let e = err(&[
        "--num-speculative-tokens",
        "2",
        "--speculative-acceptance",
        "0.8",
    ]);
    assert!(e.contains("1 acceptance rates for 2 draft tokens"), "{e}");
    let e = err(&[
        "--num-speculative-tokens",
        "1",
        "--speculative-acceptance",
        "high",
    ]);
    assert!(e.contains("`high` is not a number"), "{e}");
    let e = err(&["--num-speculative-tokens", "0"]);
    assert!(e.contains("--num-speculative-tokens"), "{e}");
    let e = err(&["--num-speculative-tokens", "99"]);
    assert!(e.contains("--num-speculative-tokens"), "{e}");
    let e = err(&["--speculative-acceptance", "0.8"]);
    assert!(e.contains("--num-speculative-tokens"), "{e}");
    // a model without MTP layers
    let out = parallax(&simulate_on(
        "llama-3.1-8b",
        "1xH100",
        "8",
        &["--num-speculative-tokens", "1"],
    ));
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("no multi-token-prediction layers"), "{e}");
}

#[test]
fn search_takes_the_flags() {
    let v = json(&[
        "search",
        "--model",
        "deepseek-v3",
        "--cluster",
        "1x8xH200",
        "--workload",
        "chat",
        "--requests",
        "16",
        "--num-speculative-tokens",
        "1",
        "--max-plans",
        "3",
        "--json",
    ]);
    assert!(v["plans_simulated"].as_u64().unwrap() >= 1);
}

#[test]
fn sglang_speculation_turns_off_overlap_and_mixing() {
    // SGLang 0.5 with NEXTN: no overlap scheduler, no mixed chunks, and an unset
    // --max-running-requests becomes 48 (an explicit one stands)
    let run = |extra: &[&str]| {
        let mut args = simulate_args("16", &["--engine", "sglang", "--emit", "sglang"]);
        args.extend_from_slice(extra);
        let out = parallax(&args);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let plain = run(&[]);
    assert!(plain.contains("schedules ahead"), "{plain}");
    // SGLang's default runs prefill chunks apart from the decodes: no mixed chunks
    assert!(!plain.contains("--enable-mixed-chunk"), "{plain}");
    let mixed = run(&["--scheduler", "sarathi"]);
    assert!(mixed.contains("--enable-mixed-chunk"), "{mixed}");
    let spec_mixed = run(&["--scheduler", "sarathi", "--num-speculative-tokens", "1"]);
    assert!(
        spec_mixed.contains("--enable-mixed-chunk"),
        "an explicit --scheduler stands"
    );
    let spec = run(&["--num-speculative-tokens", "1"]);
    assert!(!spec.contains("schedules ahead"), "{spec}");
    assert!(!spec.contains("--enable-mixed-chunk"), "{spec}");
    assert!(spec.contains("--max-running-requests 48"), "{spec}");
    let mine = run(&["--num-speculative-tokens", "1", "--max-num-seqs", "64"]);
    assert!(mine.contains("--max-running-requests 64"), "{mine}");
}

#[test]
fn inspect_shows_the_mtp_layers() {
    let v = json(&["inspect", "--model", "deepseek-v3", "--json"]);
    assert_eq!(v["mtp_layers"].as_u64(), Some(1));
    let v = json(&["inspect", "--model", "llama-3.1-8b", "--json"]);
    assert_eq!(v["mtp_layers"].as_u64(), Some(0));
    let out = parallax(&["inspect", "--model", "deepseek-r1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 multi-token-prediction layer"));
}
