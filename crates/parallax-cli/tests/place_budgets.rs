//! `parallax place`: the latency objective with colocation classes on the CPUs, the
//! wall-clock budget in the MILP modes, honest counters when a budget stops a solver, and
//! input errors that name the node, field and value.

use crate::common;
use common::{json, parallax};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn data(rel: &str) -> String {
    format!(
        "{}/../parallax-place/tests/data/{rel}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A file in a fresh temporary folder of this test.
fn temp(test: &str, name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parallax_place_{test}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file written");
    path
}

/// Nodes 1 and 3 share a colocation class and run only on a CPU; node 2 between them
/// costs 1 on the accelerator and 100 on a CPU. The class on the CPU does not hold node 2
/// there (a CPU node starts when its own inputs are ready): 3, which the expert split
/// reaches too. The solver claimed a proven 102 (everything on the CPU) before.
#[test]
fn latency_class_on_the_cpus_leaves_the_nodes_between_free() {
    let graph = temp(
        "class",
        "min_cls.json",
        r#"{"devices":{"accelerators":1,"accelerator_memory":100.0,"cpus":1},
            "nodes":[{"id":1,"acc_time":1,"cpu_time":1,"acc_supported":false,"class":7},
                     {"id":2,"acc_time":1,"cpu_time":100},
                     {"id":3,"acc_time":1,"cpu_time":1,"acc_supported":false,"class":7}],
            "edges":[{"from":1,"to":2},{"from":2,"to":3}]}"#,
    );
    let expert = temp(
        "class",
        "min_cls_ex.json",
        r#"{"fpgas":[{"load":-1,"nodes":[2]}],"cpus":[{"load":0,"nodes":[1,3]}],"maxLoad":-1}"#,
    );
    let (g, e) = (graph.to_str().unwrap(), expert.to_str().unwrap());
    let v = json(&[
        "place",
        g,
        "--objective",
        "latency",
        "--expert",
        e,
        "--json",
    ]);
    assert_eq!(v["optimal"], true, "{v}");
    assert!((v["latency"].as_f64().unwrap() - 3.0).abs() < 1e-12, "{v}");
    assert_eq!(v["expert"]["feasible"], true);
    assert!((v["expert"]["latency"].as_f64().unwrap() - 3.0).abs() < 1e-12);
    assert!((v["expert"]["vs_solution"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    let _ = std::fs::remove_dir_all(graph.parent().unwrap());
}

/// `--time-limit` is the budget of the whole run in the MILP modes too: the microlp solve
/// read its clock only every 1,000 pivots, so `--objective split-maxima --time-limit 3s`
/// took 3.9–4.45 s, and `--milp` 3.9 s. Now the solve is abandoned at the limit and the run
/// ends within a few milliseconds of it; the tolerance here is 0.6 s.
#[test]
fn time_limit_holds_in_the_milp_modes() {
    let graph = data("throughput/layer_resnet50_training.json");
    for extra in [&["--objective", "split-maxima"][..], &["--milp"][..]] {
        let mut args = vec!["place", &graph, "--time-limit", "3s", "--json"];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let v = json(&args);
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(3600),
            "{extra:?} took {took:?}"
        );
        if extra == ["--milp"] {
            // the DP's proof settles it, and the report says the MILP was cut short
            assert_eq!(v["optimal"], true, "{v}");
            assert_eq!(v["solver"]["milp_stop_reason"], "time_limit", "{v}");
        }
    }
    let out = parallax(&["place", &graph, "--milp", "--time-limit", "1s"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("note: the MILP stopped before finishing (time limit)"),
        "{text}"
    );
}

/// A solver stopped by a limit reports the ideals it counted: 2,000 independent nodes have
/// more than the 4,000,000 the DP allows (it said 0), found without enumerating them.
#[test]
fn stopped_runs_report_what_they_counted() {
    let nodes: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"id":{i},"acc_time":1,"cpu_time":5}}"#))
        .collect();
    let graph = temp(
        "counted",
        "indep.json",
        &format!(
            r#"{{"devices":{{"accelerators":4,"accelerator_memory":1e12,"cpus":1}},
                "nodes":[{}],"edges":[]}}"#,
            nodes.join(",")
        ),
    );
    let v = json(&["place", graph.to_str().unwrap(), "--json"]);
    assert_eq!(v["stop_reason"], "ideal_limit", "{}", v["solver"]);
    assert_eq!(v["solver"]["ideals"], 4_000_001);
    let _ = std::fs::remove_dir_all(graph.parent().unwrap());
}

/// Bad input names the file, the node or edge, the field and the value as written, in a
/// message of reasonable length.
#[test]
fn input_errors_name_the_node_field_and_value() {
    let flag = temp(
        "errors",
        "flag.json",
        r#"{"maxSizePerFPGA": 10, "maxFPGAs": 1, "maxCPUs": 1,
            "nodes": [{"id": 5, "cpuLatency": 1, "fpgaLatency": 1, "size": 1,
                       "supportedOnFpga": "yes", "isBackwardNode": 0}], "edges": []}"#,
    );
    let out = parallax(&["place", flag.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "flag.json",
        "node 5",
        "`supportedOnFpga`",
        "\"yes\"",
        "true/false or 0/1",
    ] {
        assert!(err.contains(needle), "`{err}` lacks {needle}");
    }
    let cost = temp(
        "errors",
        "cost.json",
        r#"{"maxSizePerFPGA": 10, "maxFPGAs": 1, "maxCPUs": 1,
            "nodes": [{"id": 1, "cpuLatency": 1, "fpgaLatency": 1, "supportedOnFpga": 1, "isBackwardNode": 0},
                      {"id": 2, "cpuLatency": 1, "fpgaLatency": 1, "supportedOnFpga": 1, "isBackwardNode": 0}],
            "edges": [{"sourceId": 1, "destId": 2, "cost": 1e301}]}"#,
    );
    let out = parallax(&["place", cost.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cost.json: edge 1 -> 2: field `cost` is 1e301"),
        "{err}"
    );
    assert!(err.len() < 200, "{err}");
    // a cycle through 50,000 nodes: its length and first nodes (a 339 KB line before)
    let n = 50_000;
    let nodes: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"id":{i},"acc_time":1,"cpu_time":1}}"#))
        .collect();
    let edges: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"from":{i},"to":{}}}"#, (i + 1) % n))
        .collect();
    let cycle = temp(
        "errors",
        "cycle.json",
        &format!(
            r#"{{"devices":{{"accelerators":1,"accelerator_memory":10,"cpus":1}},"nodes":[{}],"edges":[{}]}}"#,
            nodes.join(","),
            edges.join(",")
        ),
    );
    let out = parallax(&["place", cycle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cycle.json: the graph has a cycle of 50000 nodes"),
        "{err}"
    );
    assert!(err.len() < 300, "{} bytes", err.len());
    let _ = std::fs::remove_dir_all(flag.parent().unwrap());
}
