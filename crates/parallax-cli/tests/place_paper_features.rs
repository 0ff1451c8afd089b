//! `parallax place` and the paper's feature set (issue 14): the max-forward + max-backward
//! objective on training graphs, the Scotch-like baseline, and the features already in the
//! library that the CLI must expose (latency of the max-load split, the contiguous MILP,
//! expert splits derived for training graphs, the latency greedy baseline).

use crate::common;
use common::{json, parallax};
use std::path::PathBuf;

use serde_json::Value;

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = parallax(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr `{err}` lacks `{n}`");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn data(rel: &str) -> String {
    format!(
        "{}/../parallax-place/tests/data/{rel}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// A training graph on 2 accelerators where the two objectives disagree. Classes (forward
/// time, backward time): A (6, 1), B (1, 6), C (3, 3); forward chain A -> B -> C, backward
/// C -> B -> A. Contiguous splits: {A}{B,C} has max load 13 but max forward + max backward
/// 6 + 9 = 15; {A,B}{C} has max load 14 and 7 + 7 = 14; one device: 20 either way.
fn training_graph() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("parallax_split_maxima_{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"devices": {"accelerators": 2, "accelerator_memory": 100, "cpus": 0},
            "nodes": [
              {"id": 1, "acc_time": 6, "cpu_time": 60, "class": 1},
              {"id": 2, "acc_time": 1, "cpu_time": 10, "class": 2},
              {"id": 3, "acc_time": 3, "cpu_time": 30, "class": 3},
              {"id": 4, "acc_time": 3, "cpu_time": 30, "class": 3, "backward": true},
              {"id": 5, "acc_time": 6, "cpu_time": 60, "class": 2, "backward": true},
              {"id": 6, "acc_time": 1, "cpu_time": 10, "class": 1, "backward": true}],
            "edges": [{"from": 1, "to": 2}, {"from": 2, "to": 3}, {"from": 3, "to": 4},
                      {"from": 4, "to": 5}, {"from": 5, "to": 6}]}"#,
    )
    .expect("temp graph written");
    path
}

#[test]
fn split_maxima_objective_on_a_training_graph() {
    let path = training_graph();
    let graph = path.to_str().expect("utf-8 path");
    let plain = json(&["place", graph, "--json"]);
    assert_eq!(f(&plain["max_load"]), 13.0);
    let v = json(&["place", graph, "--objective", "split-maxima", "--json"]);
    assert_eq!(v["objective"], "split-maxima");
    assert_eq!(v["optimal"], true);
    assert_eq!(v["contiguous"], true);
    assert_eq!(f(&v["split_maxima"]["value"]), 14.0);
    assert_eq!(f(&v["split_maxima"]["forward"]), 7.0);
    assert_eq!(f(&v["split_maxima"]["backward"]), 7.0);
    assert_eq!(f(&v["lower_bound"]), 14.0);
    // the returned split's own max load, and {A,B} together
    assert_eq!(f(&v["max_load"]), 14.0);
    assert_eq!(v["solver"]["method"], "milp");
    assert!(f(&v["solver"]["seed"]) >= 14.0);
    let devices = v["devices"].as_array().unwrap();
    let sets: Vec<Vec<i64>> = devices
        .iter()
        .map(|d| {
            d["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect()
        })
        .collect();
    assert!(sets.contains(&vec![1, 2, 5, 6]), "{sets:?}");
    assert!(sets.contains(&vec![3, 4]), "{sets:?}");
    // every baseline is scored on the same objective
    for b in v["baselines"].as_array().unwrap() {
        if b["feasible"] == true {
            assert!(f(&b["split_maxima"]) >= 14.0, "{b}");
        }
    }
    let table = parallax(&["place", graph, "--objective", "split-maxima"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("fwd+bwd: 14.000000"), "{text}");
    assert!(
        text.contains("max forward load 7.000000 + max backward load 7.000000"),
        "{text}"
    );
    // the non-contiguous optimum cannot be worse
    let free = json(&[
        "place",
        graph,
        "--objective",
        "split-maxima",
        "--non-contiguous",
        "--json",
    ]);
    assert!(f(&free["split_maxima"]["value"]) <= 14.0);
    assert_eq!(free["optimal"], true);
    fails_with(
        &["place", graph, "--objective", "split-maxima", "--overlap"],
        &["--overlap"],
    );
    fails_with(
        &[
            "place",
            graph,
            "--objective",
            "split-maxima",
            "--subgraphs",
            "2",
        ],
        &["--subgraphs"],
    );
    let _ = std::fs::remove_file(&path);
}

/// A paper training graph under a short budget: a result (never an error), no worse than
/// its seed, with a proven bound.
#[test]
fn split_maxima_budget_is_a_result() {
    let graph = data("throughput/layer_bert24_training.json");
    let v = json(&[
        "place",
        &graph,
        "--objective",
        "split-maxima",
        "--time-limit",
        "3s",
        "--json",
    ]);
    let value = f(&v["split_maxima"]["value"]);
    let seed = f(&v["solver"]["seed"]);
    assert!(value <= seed * (1.0 + 1e-12), "{value} > seed {seed}");
    let lb = f(&v["lower_bound"]);
    assert!(lb > 0.0 && lb <= value * (1.0 + 1e-12), "{lb} vs {value}");
    if v["optimal"] == false {
        assert!(f(&v["gap"]) > 0.0);
        assert!(v["stop_reason"].is_string());
    }
    // forward + backward of the split is at least its plain max load's share
    assert!(value >= f(&v["split_maxima"]["forward"]));
}

#[test]
fn scotch_like_baseline_in_place_output() {
    let graph = data("throughput/layer_gnmt_inference.json");
    let v = json(&["place", &graph, "--json"]);
    let opt = f(&v["max_load"]);
    let b = v["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "scotch_like")
        .expect("scotch_like listed")
        .clone();
    assert_eq!(b["feasible"], true);
    assert_eq!(b["timed_out"], false);
    // Scotch does not keep splits contiguous; its non-contiguous split of GNMT beats the
    // contiguous optimum by a little, but never the trivial bound (total time / 6)
    assert_eq!(b["contiguous"], false);
    let s = f(&b["max_load"]);
    assert!(s > 30.0 && s < 2.0 * opt, "{s} vs optimum {opt}");
    let text = String::from_utf8_lossy(&parallax(&["place", &graph]).stdout).to_string();
    assert!(text.contains("scotch_like"), "{text}");
}

/// The rest of the paper's list, through the CLI: the latency of the max-load split, the
/// contiguous MILP, expert splits derived for training graphs, the latency greedy.
#[test]
fn paper_features_reach_the_cli() {
    let graph = data("throughput/layer_bert24_inference.json");
    let v = json(&["place", &graph, "--json"]);
    let split = f(&v["split_latency"]);
    assert!(split >= f(&v["max_load"]));
    let milp = json(&["place", &graph, "--milp", "--json", "--time-limit", "5s"]);
    assert_eq!(milp["solver"]["method"], "milp");
    assert_eq!(milp["contiguous"], true);
    assert_eq!(milp["optimal"], true);
    assert!((f(&milp["max_load"]) / f(&v["max_load"]) - 1.0).abs() < 1e-9);
    // an inference expert split scored on the training graph
    let training = data("throughput/layer_bert24_training.json");
    let expert = data("experts/bert24_inference_expert.json");
    let e = json(&["place", &training, "--expert", &expert, "--json"]);
    let derived = e["expert"]["derived_nodes"].as_u64().unwrap();
    assert!(derived > 0, "{}", e["expert"]);
    assert!(f(&e["expert"]["max_load"]) >= f(&e["max_load"]) * (1.0 - 1e-9));
    let lat = json(&[
        "place",
        &data("latency/layer_bert24_inference.json"),
        "--objective",
        "latency",
        "--json",
    ]);
    let g = &lat["baselines"][0];
    assert_eq!(g["name"], "latency_greedy");
    assert!(f(&g["latency"]) >= f(&lat["latency"]) * (1.0 - 1e-9));
}
