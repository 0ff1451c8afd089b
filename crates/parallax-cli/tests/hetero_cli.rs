//! `--cluster` with node groups of different GPU kinds on `search` and `simulate`
//! (documented in `docs/cli.md`, "Heterogeneous clusters").

use crate::common;
use common::{json, parallax};

const MIXED: &str = "1x8xH100+1x8xA100-80GB";

#[test]
fn search_on_a_mixed_cluster_uses_both_kinds_under_load() {
    let v = json(&[
        "search",
        "--model",
        "llama-3.1-70b",
        "--cluster",
        MIXED,
        "--workload",
        "chat",
        "--rate",
        "40",
        "--requests",
        "400",
        "--json",
    ]);
    assert_eq!(v["cluster"], "1x8xH100-SXM+1x8xA100-80GB-SXM");
    let best = v["best"]["plan"].as_str().unwrap();
    assert!(
        best.contains("H100-SXM") && best.contains("A100-80GB-SXM"),
        "best: {best}"
    );
    // The plan string the search prints is accepted back by simulate.
    let s = json(&[
        "simulate",
        "--model",
        "llama-3.1-70b",
        "--cluster",
        MIXED,
        "--workload",
        "chat",
        "--rate",
        "40",
        "--requests",
        "400",
        "--plan",
        best,
        "--json",
    ]);
    assert_eq!(
        s["e2e_s"]["mean"].as_f64(),
        v["best"]["metrics"]["e2e_s"]["mean"].as_f64()
    );
}

#[test]
fn bad_mixed_inputs_are_clear_errors() {
    let err = |args: &[&str]| {
        let out = parallax(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let base = [
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--workload",
        "chat",
        "--requests",
        "5",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        err(&a)
    };
    let e = with(&["--cluster", "1x8xH100+1x0xA100-80GB", "--plan", "tp=8"]);
    assert!(e.contains("group 2") && e.contains("1x0xA100-80GB"), "{e}");
    let e = with(&["--cluster", "1x8xH100+2x8xH100", "--plan", "tp=8"]);
    assert!(e.contains("group 2") && e.contains("H100-SXM"), "{e}");
    let e = with(&["--cluster", MIXED, "--plan", "tp=8,on=B200"]);
    assert!(e.contains("B200") && e.contains("A100-80GB-SXM"), "{e}");
    let e = with(&["--cluster", MIXED, "--plan", "dp=2,tp=8,on=A100-80GB"]);
    assert!(
        e.contains("A100-80GB-SXM") && e.contains("1x8xA100-80GB-SXM"),
        "{e}"
    );
    let e = with(&[
        "--cluster",
        MIXED,
        "--plan",
        "tp=8",
        "--cost-model",
        "roofline",
    ]);
    assert!(e.contains("--cost-model") && e.contains("auto"), "{e}");
}

/// `calibrate --cluster` on a mixed cluster times the profile's collectives over its own
/// kind's group (not silently the first group's); a kind the cluster lacks is an error naming
/// `--cluster`, as is a `--gpu` that a one-kind cluster lacks. `predict` takes one GPU kind
/// and says so for a mix.
#[test]
fn calibrate_and_predict_on_mixed_kinds() {
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/parallax-profiler/h100-sxm.json"
    );
    // The H100 group is the second one: the fit is for the H100, as on an H100 node.
    let mixed = json(&[
        "calibrate",
        profile,
        "--cluster",
        "1x8xA100-80GB+1x8xH100",
        "--json",
    ]);
    let alone = json(&["calibrate", profile, "--cluster", "1x8xH100", "--json"]);
    assert_eq!(mixed["gpu"], "H100-SXM");
    assert_eq!(mixed["params"], alone["params"]);
    // --gpu chooses the group.
    let a100 = json(&[
        "calibrate",
        profile,
        "--cluster",
        "1x8xH100+1x8xA100-80GB",
        "--gpu",
        "A100-80GB",
        "--json",
    ]);
    assert_eq!(a100["gpu"], "A100-80GB-SXM");
    let out = parallax(&["calibrate", profile, "--cluster", "1x8xA100-80GB+1x8xL40S"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cluster `1x8xA100-80GB+1x8xL40S`")
            && err.contains("H100")
            && err.contains("A100-80GB-SXM, L40S"),
        "{err}"
    );
    // one kind: a --gpu naming another is an error, not silently overridden
    let out = parallax(&[
        "calibrate",
        profile,
        "--gpu",
        "H200",
        "--cluster",
        "1x8xA100",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--gpu `H200`") && err.contains("1x8xA100") && err.contains("A100-80GB-SXM"),
        "{err}"
    );
    let out = parallax(&[
        "predict",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "H100+A100-80GB",
        "--tp",
        "8",
        "--decode",
        "8x1000",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--gpu `H100+A100-80GB`") && err.contains("one GPU kind"),
        "{err}"
    );
}

/// Disaggregated pools on different kinds simulate (the KV crosses the network); a kind
/// short of GPUs is an error naming it.
#[test]
fn disaggregated_pools_on_mixed_kinds() {
    let v = json(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100+1x4xA100-80GB",
        "--plan",
        "prefill=1x(tp=2,on=H100);decode=1x(tp=4,on=A100-80GB)",
        "--requests",
        "30",
        "--json",
    ]);
    assert_eq!(v["requests"]["completed"], 30, "{v}");
    assert_eq!(v["kv_transfer"]["transfers"], 30, "{v}");
    let out = parallax(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100+1x4xA100-80GB",
        "--plan",
        "prefill=2x(tp=4,on=H100);decode=1x(tp=4,on=A100-80GB)",
        "--requests",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("8 GPUs of H100-SXM"), "{err}");
}
