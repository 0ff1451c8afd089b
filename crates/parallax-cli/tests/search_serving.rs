//! `search --prefix-caching`, `--cpu-prefix-cache`, `--preemption`, `--swap-space`,
//! `--host-link-gbps` (documented in `docs/cli.md`, "Prefix caching and KV offload in search").

use crate::common;
use common::parallax;
use serde_json::Value;

const BASE: [&str; 10] = [
    "search",
    "-m",
    "llama-3.1-8b",
    "--cluster",
    "1x2xH100",
    "-w",
    "synthetic:requests=100,rate=4,resample=chat,turns=5,think=20",
    "--disaggregation",
    "off",
    "--json",
];

fn search(extra: &[&str]) -> Value {
    let mut a = BASE.to_vec();
    a.extend_from_slice(extra);
    let out = parallax(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn prefix_caching_in_search() {
    let plain = search(&[]);
    assert!(plain["best"]["metrics"].get("prefix_cache").is_none());
    let cached = search(&["--prefix-caching"]);
    let hit = cached["best"]["metrics"]["prefix_cache"]["hit_rate"]
        .as_f64()
        .unwrap();
    assert!(hit > 0.5, "{hit}");
    let ttft = |v: &Value| v["best"]["metrics"]["ttft_ms"]["mean"].as_f64().unwrap();
    assert!(ttft(&cached) < ttft(&plain));
    // Explicit defaults change nothing.
    let defaults = search(&[
        "--preemption",
        "recompute",
        "--swap-space",
        "4",
        "--host-link-gbps",
        "50",
    ]);
    assert_eq!(defaults, plain);
}

#[test]
fn bad_serving_flags_are_errors() {
    for (extra, want) in [
        (vec!["--cpu-prefix-cache", "2"], "needs --prefix-caching"),
        (vec!["--host-link-gbps", "0"], "--host-link-gbps"),
        (vec!["--swap-space=-1"], "--swap-space"),
        (vec!["--preemption", "drop"], "recompute or swap"),
    ] {
        let mut a = BASE.to_vec();
        a.extend_from_slice(&extra);
        let out = parallax(&a);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(want), "{extra:?}: {e}");
    }
}
