//! `--quantization` and `--kv-cache-dtype` on `predict`, `simulate` and `search`
//! (documented in `docs/cli.md`, "Precision flags").

use crate::common;
use common::{json, parallax};

/// `predict --json` of a 32x2048 decode of Llama-3.1-8B on one H100, with `extra` flags.
fn predict_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "predict",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "H100",
        "--decode",
        "32x2048",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

fn predict_ms(extra: &[&str]) -> f64 {
    predict_json(extra)["iteration_ms"].as_f64().unwrap()
}

#[test]
fn predict_prices_quantised_weights_and_kv() {
    let bf16 = predict_ms(&[]);
    let fp8 = predict_ms(&["--quantization", "fp8"]);
    let int4 = predict_ms(&["--quantization", "int4"]);
    let kv8 = predict_ms(&["--kv-cache-dtype", "fp8"]);
    assert!(fp8 < 0.85 * bf16, "fp8 {fp8} vs bf16 {bf16}");
    assert!(int4 < fp8, "int4 {int4} vs fp8 {fp8}");
    assert!(kv8 < bf16, "fp8 KV {kv8} vs bf16 {bf16}");
    assert_eq!(predict_ms(&["--kv-cache-dtype", "auto"]), bf16);
}

/// `predict --json` of one 4,096-token prefill (compute-bound) on `gpu` with `--quantization q`.
fn prefill_ms(gpu: &str, q: &str) -> f64 {
    json(&[
        "predict",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        gpu,
        "--prefill",
        "1x4096",
        "--quantization",
        q,
        "--json",
    ])["iteration_ms"]
        .as_f64()
        .unwrap()
}

#[test]
fn nvfp4_without_fp4_tensor_cores_runs_weight_only() {
    // Hopper has no fp4 tensor cores: engines run NVFP4 weights there weight-only (vLLM's FP4
    // Marlin kernels), so a compute-bound prefill is as slow as mxfp4's (W4A16) and slower
    // than fp8's (W8A8); memory-bound decode still reads half a byte per weight.
    let nvfp4 = prefill_ms("H100", "nvfp4");
    let mxfp4 = prefill_ms("H100", "mxfp4");
    let fp8 = prefill_ms("H100", "fp8");
    assert!(
        (nvfp4 / mxfp4 - 1.0).abs() < 0.05,
        "nvfp4 {nvfp4} vs mxfp4 {mxfp4}"
    );
    assert!(nvfp4 > 1.2 * fp8, "nvfp4 {nvfp4} vs fp8 {fp8}");
    assert!(predict_ms(&["--quantization", "nvfp4"]) < predict_ms(&["--quantization", "fp8"]));
    let out = parallax(&[
        "predict",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "H100",
        "--decode",
        "32x2048",
        "--quantization",
        "nvfp4",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no fp4 tensor cores: those GEMMs run weight-only on its bf16 path"),
        "{text}"
    );
    // B200 has them: W4A4 outruns fp8 there.
    assert!(prefill_ms("B200", "nvfp4") < prefill_ms("B200", "fp8"));
}

fn simulate_tpot(extra: &[&str]) -> f64 {
    let mut args = vec![
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1xH100",
        "--plan",
        "tp=1",
        "--workload",
        "chat",
        "--requests",
        "32",
        "--json",
    ];
    args.extend_from_slice(extra);
    let v = json(&args);
    assert_eq!(v["requests"]["completed"].as_u64(), Some(32));
    v["tpot_ms"]["mean"].as_f64().unwrap()
}

#[test]
fn simulate_and_search_accept_the_flags() {
    let bf16 = simulate_tpot(&[]);
    let fp8 = simulate_tpot(&["--quantization", "fp8", "--kv-cache-dtype", "fp8"]);
    assert!(fp8 < bf16, "fp8 TPOT {fp8} vs bf16 {bf16}");
    let v = json(&[
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--workload",
        "chat",
        "--requests",
        "32",
        "--quantization",
        "int4",
        "--json",
    ]);
    assert!(v["plans_simulated"].as_u64().unwrap() >= 1);
    assert_eq!(
        v["precision"],
        "weights int4 (bf16 GEMMs), activations bf16, kv cache bf16"
    );
}

#[test]
fn bad_values_name_the_flag() {
    for (flag, value, expected) in [
        ("--quantization", "fp6", "nvfp4"),
        ("--kv-cache-dtype", "int8", "auto, fp8, bf16"),
    ] {
        let out = parallax(&[
            "predict",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "1x16",
            flag,
            value,
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains(value) && err.contains(expected),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn predict_and_simulate_name_the_precision_they_priced() {
    let p = predict_json(&["--quantization", "fp8", "--kv-cache-dtype", "fp8"]);
    assert_eq!(
        p["precision"],
        "weights fp8 (fp8 GEMMs), activations bf16, kv cache fp8"
    );
    let s = json(&[
        "simulate",
        "--model",
        "gpt-oss-20b",
        "--cluster",
        "1xH100",
        "--requests",
        "8",
        "--json",
    ]);
    assert_eq!(
        s["precision"],
        "weights bf16 (bf16 GEMMs), routed experts fp4 (bf16 GEMMs), activations bf16, kv cache bf16"
    );
}

#[test]
fn simulate_defaults_to_tensor_parallelism_over_one_node() {
    // A two-GPU node: the default plan is tp=2 (a fixed tp=8 did not fit it).
    let out = parallax(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--requests",
        "8",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("with plan dp=1,pp=1,tp=2 "), "{text}");
}
