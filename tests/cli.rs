//! End-to-end tests of the `parallax` binary: the flags and `--json` fields documented in
//! `docs/cli.md` are a public contract.

#[path = "../crates/parallax-cli/tests/common/mod.rs"]
mod common;
use common::{json, parallax};
use serde_json::Value;
use std::process::Command;

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = parallax(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should fail with exit code 2"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr `{err}` lacks `{n}`");
    }
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn inspect_json_has_the_documented_fields() {
    let v = json(&["inspect", "--model", "llama-3.1-70b", "--json"]);
    assert_eq!(v["kv_bytes_per_token"].as_f64(), Some(327_680.0));
    let total = v["params_total"].as_f64().unwrap();
    assert!((total / 70.6e9 - 1.0).abs() < 0.005, "{total}");
    assert_eq!(v["params_active"], v["params_total"]);
    assert!(v["weight_bytes"].as_f64().unwrap() > 1.4e11);
}

#[test]
fn inspect_accepts_hf_ids_and_paths() {
    let by_id = json(&["inspect", "--model", "meta-llama/Llama-3.1-70B", "--json"]);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-ir/data/models/meta-llama--Llama-3.1-70B.json"
    );
    let by_path = json(&["inspect", "--model", path, "--json"]);
    assert_eq!(by_id["params_total"], by_path["params_total"]);
}

#[test]
fn predict_json_has_iteration_and_breakdown() {
    let v = json(&[
        "predict",
        "--model",
        "llama-3.1-70b",
        "--gpu",
        "H100",
        "--tp",
        "8",
        "--prefill",
        "1x512+2048",
        "--decode",
        "32x1024",
        "--json",
    ]);
    let total = v["iteration_ms"].as_f64().unwrap();
    assert!(total > 0.0);
    let b = &v["breakdown_ms"];
    let mut sum = 0.0;
    for k in [
        "gemm",
        "attention",
        "elementwise",
        "communication",
        "overhead",
    ] {
        sum += b[k]
            .as_f64()
            .unwrap_or_else(|| panic!("breakdown lacks {k}"));
    }
    assert!((sum - total).abs() < 1e-6 * total);
    assert!(
        b["communication"].as_f64().unwrap() > 0.0,
        "tp=8 communicates"
    );
}

/// A TP group wider than an HGX node spans nodes of 8 (its collectives cross the network);
/// a GB200 NVL72 rack holds it in one NVLink domain.
#[test]
fn predict_spans_nodes_beyond_the_scale_up_domain() {
    let run = |gpu: &str, tp: &str| {
        json(&[
            "predict",
            "-m",
            "llama-3.1-70b",
            "--gpu",
            gpu,
            "--tp",
            tp,
            "--decode",
            "8x1000",
            "--json",
        ])
    };
    let (t8, t16) = (run("H100", "8"), run("H100", "16"));
    assert_eq!(t8["cluster"], "1x8xH100-SXM");
    assert_eq!(t16["cluster"], "2x8xH100-SXM");
    assert_eq!(run("GB200", "16")["cluster"], "1x16xGB200");
    // 16 GPUs each do half the math of 8, but every all-reduce crosses the network
    let comm = |v: &Value| v["breakdown_ms"]["communication"].as_f64().unwrap();
    assert!(
        comm(&t16) > 2.0 * comm(&t8),
        "{} vs {}",
        comm(&t16),
        comm(&t8)
    );
}

#[test]
fn cuda_graphs_remove_launch_overhead_in_decode() {
    let args = |g: &'static str| {
        vec![
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "16x512",
            "--cuda-graphs",
            g,
            "--json",
        ]
    };
    let on = json(&args("on"));
    let off = json(&args("off"));
    assert!(
        on["iteration_ms"].as_f64().unwrap() < off["iteration_ms"].as_f64().unwrap(),
        "graphs on must be faster"
    );
}

#[test]
fn simulate_json_has_the_documented_fields() {
    let v = json(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--plan",
        "dp=2,tp=1",
        "--workload",
        "chat",
        "--requests",
        "64",
        "--json",
    ]);
    assert_eq!(v["requests"]["completed"].as_u64(), Some(64));
    assert_eq!(v["requests"]["rejected"].as_u64(), Some(0));
    for k in ["ttft_ms", "tpot_ms", "e2e_s"] {
        for s in ["mean", "p50", "p90", "p99"] {
            assert!(v[k][s].is_number(), "{k}.{s}");
        }
    }
    assert!(v["throughput"]["output_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["makespan_s"].as_f64().unwrap() > 0.0);
    assert!(v["iterations"].as_u64().unwrap() > 0);
}

#[test]
fn simulate_is_byte_identical_across_runs_and_threads() {
    let args = [
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--plan",
        "dp=2,tp=2",
        "--workload",
        "code",
        "--requests",
        "200",
        "--scheduler",
        "sarathi",
        "--json",
    ];
    let a = parallax(&args);
    let b = Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn simulate_writes_requests_csv_and_timeline() {
    let dir = std::env::temp_dir().join(format!("parallax-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("req.csv");
    let trace = dir.join("trace.json");
    let out = parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--requests",
        "20",
        "--requests-csv",
        csv.to_str().unwrap(),
        "--timeline",
        trace.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), 21, "header + one row per request");
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(t.is_object() || t.is_array());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_names_the_value_and_exits_2() {
    fails_with(&["inspect", "--model", "no-such-model"], &["no-such-model"]);
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H999",
            "--decode",
            "1x1",
        ],
        &["H999"],
    );
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-70b",
            "--gpu",
            "H100",
            "--tp",
            "3",
            "--decode",
            "1x1",
        ],
        &["tp=3"],
    );
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "1y1",
        ],
        &["1y1"],
    );
    fails_with(&["simulate", "--cluster", "2x8"], &["2x8"]);
    fails_with(&["simulate", "--plan", "tp=eight"], &["eight"]);
    fails_with(&["simulate", "--workload", "nope"], &["nope"]);
    fails_with(&["simulate", "--slo-ttft", "fast"], &["fast"]);
    fails_with(&["simulate", "--scheduler", "fifo"], &["fifo"]);
}

#[test]
fn bad_config_file_names_file_and_field() {
    let dir = std::env::temp_dir().join(format!("parallax-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"num_attention_heads":0,
            "num_hidden_layers":2,"intermediate_size":11008,"vocab_size":32000}"#,
    )
    .unwrap();
    fails_with(
        &["inspect", "--model", path.to_str().unwrap()],
        &["config.json", "num_attention_heads"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn catalogs_list_models_and_gpus() {
    let models = json(&["models", "--json"]);
    assert!(models.as_array().unwrap().len() >= 20);
    let gpus = json(&["gpus", "--json"]);
    let names: Vec<&str> = gpus
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for want in [
        "A100-40GB-SXM",
        "A100-80GB-SXM",
        "H100-SXM",
        "H100-PCIe",
        "H200",
        "B200",
        "L40S",
        "MI300X",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[test]
fn search_json_has_the_documented_fields_and_its_plan_simulates_back() {
    let args = [
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--workload",
        "chat",
        "--requests",
        "96",
        "--top",
        "3",
        "--json",
    ];
    let v = json(&args);
    assert!(v["plans_enumerated"].as_u64().unwrap() >= v["plans_simulated"].as_u64().unwrap());
    assert!(v["plans_simulated"].as_u64().unwrap() > 1);
    assert_eq!(v["stop_reason"], "exhausted");
    // DP-split variants of the pipelined plans, the default budget, the even-split baseline.
    assert!(v["plans_uneven"].as_u64().unwrap() >= 1);
    // Every candidate is simulated or skipped by bound pruning.
    assert_eq!(
        v["plans_simulated"].as_u64().unwrap() + v["plans_pruned"]["bound"].as_u64().unwrap(),
        v["plans_feasible"].as_u64().unwrap() + v["plans_uneven"].as_u64().unwrap()
    );
    assert_eq!(v["time_limit_s"].as_f64(), Some(300.0));
    // vLLM's memory rule at its default fraction.
    assert_eq!(
        v["memory"],
        serde_json::json!({"setting": "gpu_memory_utilization", "fraction": 0.9})
    );
    assert!(v["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["name"] == "best-even-split"));
    let best = &v["best"];
    let plan = best["plan"].as_str().unwrap();
    assert!(best["metrics"]["ttft_ms"]["p99"].is_number());
    assert_eq!(v["ranked"][0]["plan"], best["plan"]);
    assert!(v["ranked"].as_array().unwrap().len() <= 3);
    let baselines = v["baselines"].as_array().unwrap();
    assert!(baselines.len() >= 2);
    for b in baselines {
        assert!(b["plan"].is_string() && b["metrics"].is_object());
        assert!(
            b["speedup"].as_f64().unwrap() >= 1.0 - 1e-12,
            "best never loses to a baseline"
        );
    }
    // The printed plan string is accepted back by `simulate --plan` with the same metrics.
    let sim = json(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--workload",
        "chat",
        "--requests",
        "96",
        "--plan",
        plan,
        "--json",
    ]);
    let mut sim = sim;
    let o = sim.as_object_mut().unwrap();
    assert_eq!(o.remove("engine").unwrap(), "vllm");
    assert!(o.remove("cost_model").unwrap().is_string());
    assert!(o.remove("precision").unwrap().is_string());
    assert_eq!(
        o.remove("memory").unwrap()["setting"],
        "gpu_memory_utilization"
    );
    assert_eq!(sim, best["metrics"]);
    // Same bytes with one thread.
    let one = Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert_eq!(one.stdout, parallax(&args).stdout);
}

#[test]
fn search_reports_a_model_that_cannot_fit() {
    let v = json(&[
        "search",
        "--model",
        "llama-3.1-405b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "16",
        "--json",
    ]);
    let inf = &v["infeasible"];
    assert!(inf.is_object(), "{v}");
    assert!(
        inf["deficit_bytes"].as_f64().unwrap() > 5e11,
        "405B misses by hundreds of GB"
    );
}

#[test]
fn search_rejects_bad_options() {
    fails_with(&["search", "--objective", "fastest"], &["fastest"]);
    fails_with(&["search", "--slo-tpot=-3ms"], &["-3ms"]);
    fails_with(&["search", "--cluster", "1x8xH999"], &["H999"]);
}

#[test]
fn simulate_accepts_a_synthetic_workload() {
    let spec = "synthetic:requests=300,rate=4,arrivals=gamma,cv=2,prompt=lognormal(400,200),output=uniform(1,200),seed=3";
    let v = json(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--workload",
        spec,
        "--json",
    ]);
    assert_eq!(v["requests"]["completed"].as_u64(), Some(300));
    fails_with(
        &[
            "simulate",
            "--workload",
            "synthetic:requests=3,rate=1,prompt=gauss(1,2),output=fixed(1)",
        ],
        &["gauss(1,2)"],
    );
}

#[test]
fn calibrate_reports_the_fit_per_table() {
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/parallax-profiler/h100-sxm.json"
    );
    let v = json(&["calibrate", profile, "--json"]);
    let tables = v["tables"].as_array().unwrap();
    let gemm = tables
        .iter()
        .find(|t| t["table"] == "gemm")
        .expect("a gemm table");
    assert!(gemm["points"].as_u64().unwrap() >= 100);
    assert!(
        gemm["after"]["median"].as_f64().unwrap() <= gemm["before"]["median"].as_f64().unwrap(),
        "the fit never makes the GEMM median worse"
    );
    assert!(v["params"].is_object());
    fails_with(
        &["calibrate", "/no/such/profile.json"],
        &["/no/such/profile.json"],
    );
}

#[test]
fn validate_compares_measured_iterations() {
    let measured = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax/data/measured/h100-sxm-iterations.csv"
    );
    let v = json(&["validate", "--measured", measured, "--json"]);
    assert_eq!(v["kind"], "iterations");
    let rows = v["iterations"].as_array().unwrap();
    assert!(rows.len() >= 60);
    assert!(rows
        .iter()
        .all(|r| r["predicted_ms"].as_f64().unwrap() > 0.0));
    assert!(v["summary"]["median"].as_f64().unwrap() < 15.0);
    // `--rows` (one line per load point) says it changes nothing here: every row is listed
    let out = parallax(&["validate", "--measured", measured, "--rows"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("note: --rows has no effect"), "{err}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(["models", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101));
}

#[test]
fn place_json_reproduces_a_published_optimum() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-place/tests/data/throughput/layer_bert24_inference.json"
    );
    let v = json(&["place", graph, "--json"]);
    let max_load = v["max_load"].as_f64().unwrap();
    assert!((max_load / 17.78990625 - 1.0).abs() < 1e-9, "{max_load}");
    assert_eq!(v["optimal"], true);
    assert!(v["solve_ms"].is_number());
    let devices = v["devices"].as_array().unwrap();
    assert!(devices
        .iter()
        .all(|d| d["kind"].is_string() && d["nodes"].is_array()));
    assert!(v["baselines"].as_array().unwrap().len() >= 4);
    let lat = json(&[
        "place",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../parallax-place/tests/data/latency/layer_bert24_inference.json"
        ),
        "--objective",
        "latency",
        "--json",
    ]);
    assert!((lat["latency"].as_f64().unwrap() / 100.2185 - 1.0).abs() < 1e-6);
    assert_eq!(lat["optimal"], true);
    fails_with(&["place", "/no/such/graph.json"], &["/no/such/graph.json"]);
}

#[test]
fn place_budgets_sizes_and_errors_never_panic() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-place/tests/data/throughput/layer_bert24_inference.json"
    );
    for bad in [
        "1e300s", "1e19s", "0s", "-1s", "infs", "NaNs", "1000001s", "30",
    ] {
        let flag = format!("--time-limit={bad}");
        fails_with(&["place", graph, &flag], &["--time-limit", bad]);
    }
    let dir = std::env::temp_dir().join(format!("parallax-place-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // far too many devices: rejected at parse time, naming the file and the field
    let huge = dir.join("huge.json");
    std::fs::write(
        &huge,
        r#"{"maxSizePerFPGA": 10, "maxFPGAs": 1000000000000, "maxCPUs": 1,
            "nodes": [{"id": 1, "cpuLatency": 1, "fpgaLatency": 1, "size": 1,
                       "supportedOnFpga": 1, "isBackwardNode": 0}], "edges": []}"#,
    )
    .unwrap();
    fails_with(
        &["place", huge.to_str().unwrap()],
        &["huge.json", "maxFPGAs", "1048576"],
    );
    // many devices within the maximum: solved, with device tables capped at the classes
    let many = dir.join("many.json");
    std::fs::write(
        &many,
        r#"{"maxSizePerFPGA": 10, "maxFPGAs": 1048576, "maxCPUs": 1048576,
            "nodes": [{"id": 1, "cpuLatency": 4, "fpgaLatency": 1, "size": 1,
                       "supportedOnFpga": 1, "isBackwardNode": 0},
                      {"id": 2, "cpuLatency": 4, "fpgaLatency": 1, "size": 1,
                       "supportedOnFpga": 1, "isBackwardNode": 0}],
            "edges": [{"sourceId": 1, "destId": 2, "cost": 1e15}]}"#,
    )
    .unwrap();
    for extra in [
        &[][..],
        &["--non-contiguous"][..],
        &["--objective", "latency"][..],
    ] {
        let mut args = vec!["place", many.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let v = json(&args);
        assert_eq!(v["optimal"], true, "{extra:?}: {v}");
    }
    // a node no device can take: the error names the file
    let none = dir.join("nodevice.json");
    std::fs::write(
        &none,
        r#"{"maxSizePerFPGA": 1, "maxFPGAs": 1, "maxCPUs": 0,
            "nodes": [{"id": 7, "cpuLatency": 1, "fpgaLatency": 1, "size": 5,
                       "supportedOnFpga": 1, "isBackwardNode": 0}], "edges": []}"#,
    )
    .unwrap();
    fails_with(
        &["place", none.to_str().unwrap()],
        &["nodevice.json", "node 7"],
    );
    // a stopped run prints its reason in words, not Rust Debug
    let out = parallax(&["place", graph, "--time-limit", "1us"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Some("), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn place_milp_split_latency_and_latency_baseline() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../parallax-place/tests/data");
    let graph = format!("{dir}/throughput/layer_bert24_inference.json");
    let v = json(&["place", &graph, "--milp", "--json", "--time-limit", "4s"]);
    assert_eq!(v["contiguous"], true);
    assert_eq!(v["solver"]["method"], "milp");
    // the MILP may not finish in 4 s, but the DP seed's proof settles the contiguous problem
    assert_eq!(v["optimal"], true);
    let max_load = v["max_load"].as_f64().unwrap();
    assert!((max_load / 17.78990625 - 1.0).abs() < 1e-9, "{max_load}");
    let split = v["split_latency"]
        .as_f64()
        .expect("inference split has a latency");
    assert!(split >= max_load);
    let names: Vec<&str> = v["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"local_search"), "{names:?}");
    assert!(names.contains(&"pipedream"), "{names:?}");
    let lat = json(&[
        "place",
        &format!("{dir}/latency/layer_bert24_inference.json"),
        "--objective",
        "latency",
        "--json",
    ]);
    let b = &lat["baselines"][0];
    assert_eq!(b["name"], "latency_greedy");
    assert!(b["latency"].as_f64().unwrap() >= lat["latency"].as_f64().unwrap() * (1.0 - 1e-9));
    fails_with(
        &["place", &graph, "--milp", "--objective", "latency"],
        &["--milp"],
    );
}

#[test]
fn place_overlap_never_raises_the_optimum() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-place/tests/data/throughput/layer_gnmt_inference.json"
    );
    let plain = json(&["place", graph, "--json"]);
    let over = json(&["place", graph, "--overlap", "--json"]);
    assert_eq!(over["optimal"], true);
    let (a, b) = (
        plain["max_load"].as_f64().unwrap(),
        over["max_load"].as_f64().unwrap(),
    );
    assert!(b <= a * (1.0 + 1e-12), "overlap {b} > sum {a}");
    fails_with(
        &["place", graph, "--overlap", "--objective", "latency"],
        &["--overlap"],
    );
}

#[test]
fn place_fuzzed_graphs_and_flags_exit_cleanly() {
    // mutated copies of a small paper-format graph, each run with a 1 s budget: exit 0 or 2,
    // never 101 (panic) or a signal (abort)
    let base = r#"{"maxSizePerFPGA": MEM, "maxFPGAs": K, "maxCPUs": L,
        "nodes": [{"id": 1, "cpuLatency": C1, "fpgaLatency": A1, "size": S1, "supportedOnFpga": 1, "isBackwardNode": 0},
                  {"id": 2, "cpuLatency": 4, "fpgaLatency": A2, "size": 2, "supportedOnFpga": SUP, "isBackwardNode": 0},
                  {"id": 3, "cpuLatency": 5, "fpgaLatency": 1, "size": 1, "supportedOnFpga": 1, "isBackwardNode": 0}],
        "edges": [{"sourceId": 1, "destId": 2, "cost": E1}, {"sourceId": 2, "destId": 3, "cost": 0.5}]}"#;
    let weird = [
        "0",
        "1",
        "-1",
        "1e300",
        "1e15",
        "1e-300",
        "4294967296",
        "1000000000000",
        "1048576",
        "\"x\"",
        "null",
        "2.5",
    ];
    let keys = ["MEM", "K", "L", "C1", "A1", "S1", "A2", "SUP", "E1"];
    let flags: [&[&str]; 5] = [
        &[],
        &["--non-contiguous"],
        &["--objective", "latency", "--subgraphs", "2"],
        &["--overlap"],
        &["--milp"],
    ];
    let dir = std::env::temp_dir().join(format!("parallax-place-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut state = 0x1234_5678_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for case in 0..60 {
        let mut text = base.to_string();
        for key in keys {
            let v = if next() % 3 == 0 {
                weird[next() % weird.len()]
            } else {
                "2"
            };
            text = text.replace(key, v);
        }
        let file = dir.join(format!("g{case}.json"));
        std::fs::write(&file, &text).unwrap();
        let mut args = vec![
            "place",
            file.to_str().unwrap(),
            "--time-limit",
            "1s",
            "--json",
        ];
        args.extend_from_slice(flags[case % flags.len()]);
        let out = parallax(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{args:?} on {text}: status {:?}, stderr {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_prefix_caching_and_itl_fields() {
    let w = "synthetic:requests=60,rate=2,resample=chat,turns=4,think=5,seed=2";
    let base = [
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--plan",
        "dp=2,tp=1",
        "--workload",
        w,
        "--json",
    ];
    let off = json(&base);
    assert!(off.get("prefix_cache").is_none());
    assert!(off["itl_ms"]["p99"].as_f64().unwrap() > 0.0);
    let mut on_args = base.to_vec();
    on_args.extend(["--prefix-caching", "--router", "prefix-affinity"]);
    let on = json(&on_args);
    let c = &on["prefix_cache"];
    for k in [
        "queries",
        "query_tokens",
        "hit_tokens",
        "hit_rate",
        "hit_blocks",
        "evicted_blocks",
    ] {
        assert!(c[k].is_number(), "prefix_cache.{k}");
    }
    assert!(c["hit_rate"].as_f64().unwrap() > 0.3);
    assert_eq!(on["requests"]["completed"].as_u64(), Some(60));
    fails_with(
        &[
            "simulate",
            "-m",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--plan",
            "dp=2,tp=1",
            "--workload",
            w,
            "--router",
            "prefix-affinity",
        ],
        &["prefix-affinity", "--prefix-caching"],
    );
}

#[test]
fn simulate_disaggregated_plan() {
    let v = json(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--plan",
        "prefill=2x(tp=1);decode=1x(tp=2)",
        "--workload",
        "chat",
        "--requests",
        "64",
        "--json",
    ]);
    assert_eq!(v["requests"]["completed"].as_u64(), Some(64));
    let x = &v["kv_transfer"];
    assert!(x["transfers"].as_u64().unwrap() > 0);
    assert!(x["bytes"].as_f64().unwrap() > 0.0);
    assert!(x["transfer_ms"]["mean"].as_f64().unwrap() > 0.0);
    // The per-request CSV names both pools' replicas: prefill 0–1, decode 2.
    let dir = std::env::temp_dir().join(format!("parallax-cli-disagg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("req.csv");
    let out = parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--plan",
        "prefill=2x(tp=1);decode=1x(tp=2)",
        "--workload",
        "chat",
        "--requests",
        "64",
        "--requests-csv",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = std::fs::read_to_string(&csv).unwrap();
    let mut lines = rows.lines();
    assert!(lines.next().unwrap().ends_with(
        ",replica,status,preemptions,queue_s,ttft_s,tpot_s,e2e_s,finish_s,decode_replica"
    ));
    let mut decoded = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert!(["0", "1"].contains(&f[4]), "{l}");
        let output: u32 = f[3].parse().unwrap();
        if output > 1 {
            assert_eq!(f[12], "2", "{l}");
            decoded += 1;
        }
    }
    assert!(decoded > 0);
    std::fs::remove_dir_all(&dir).ok();
    fails_with(
        &[
            "simulate",
            "-m",
            "llama-3.1-8b",
            "--cluster",
            "1x4xH100",
            "--plan",
            "prefill=4x(tp=1);decode=1x(tp=2)",
            "--workload",
            "chat",
            "--requests",
            "4",
        ],
        &["6 GPUs"],
    );
}

#[test]
fn engine_none_and_unknown_engines() {
    let base = [
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--requests",
        "16",
        "--json",
    ];
    let mut a = base.to_vec();
    a.extend(["--engine", "none"]);
    let none = json(&a);
    assert_eq!(none["engine"], "none");
    let vllm = json(&base);
    assert_eq!(vllm["engine"], "vllm");
    assert_ne!(none["tpot_ms"]["mean"], vllm["tpot_ms"]["mean"]);
    let mut b = base.to_vec();
    b.extend(["--engine", "vllm-v9"]);
    fails_with(&b, &["--engine", "vllm-v9", "sglang"]);
}

#[test]
fn search_compares_disaggregated_deployments_and_their_plans_simulate_back() {
    let args = [
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--workload",
        "summarization",
        "--requests",
        "48",
        "--rate",
        "4",
        "--slo-ttft",
        "1s",
        "--slo-tpot",
        "40ms",
        "--top",
        "2",
        "--json",
    ];
    let v = json(&args);
    let d = &v["disaggregation"];
    assert_eq!(d["mode"], "auto");
    assert_eq!(d["candidates"], 6);
    assert_eq!(d["ranked"].as_array().unwrap().len(), 2, "cut to --top");
    assert!(["disaggregated", "aggregated"].contains(&d["winner"].as_str().unwrap()));
    assert_eq!(d["best_aggregated"], v["best"]["plan"]);
    assert!(d["gain_over_aggregated"].as_f64().unwrap() > 0.0);
    assert!(d["pool_plans"][0]["score_ms"].is_number());
    let best = &d["best"];
    for k in [
        "prefill_gpus",
        "decode_gpus",
        "gpus",
        "objective",
        "metrics",
    ] {
        assert!(!best[k].is_null(), "disaggregation.best.{k}");
    }
    let mut sim = json(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--workload",
        "summarization",
        "--requests",
        "48",
        "--rate",
        "4",
        "--slo-ttft",
        "1s",
        "--slo-tpot",
        "40ms",
        "--plan",
        best["plan"].as_str().unwrap(),
        "--json",
    ]);
    let o = sim.as_object_mut().unwrap();
    o.remove("engine");
    o.remove("cost_model");
    o.remove("precision");
    assert_eq!(sim, best["metrics"]);
    let text = parallax(&args[..args.len() - 1]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("winner: "), "{text}");
    assert!(text.contains("disaggregated plan"), "{text}");
    let off = json(&[
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "--requests",
        "16",
        "--disaggregation",
        "off",
        "--json",
    ]);
    assert!(off["disaggregation"].is_null());
    fails_with(
        &["search", "--disaggregation", "maybe"],
        &["maybe", "auto, on or off"],
    );
}

#[test]
fn place_cpus_noncontiguous_relaxes_only_the_cpus() {
    // 1 -> 2 -> 3 on one accelerator and one CPU: node 2 is slow on the CPU, 1 and 3 fast.
    // Contiguous: one end joins node 2 on the accelerator (20). Relaxed on CPUs: {1, 3} on
    // the CPU and {2} on the accelerator (10), which strict contiguity forbids.
    let path =
        std::env::temp_dir().join(format!("parallax_cpus_relaxed_{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"devices": {"accelerators": 1, "accelerator_memory": 10, "cpus": 1},
            "nodes": [{"id": 1, "acc_time": 10, "cpu_time": 5},
                      {"id": 2, "acc_time": 10, "cpu_time": 100},
                      {"id": 3, "acc_time": 10, "cpu_time": 5}],
            "edges": [{"from": 1, "to": 2}, {"from": 2, "to": 3}]}"#,
    )
    .expect("temp graph written");
    let graph = path.to_str().expect("utf-8 temp path");
    let strict = json(&["place", graph, "--json"]);
    assert_eq!(strict["max_load"].as_f64(), Some(20.0));
    let relaxed = json(&["place", graph, "--cpus-noncontiguous", "--json"]);
    assert_eq!(relaxed["max_load"].as_f64(), Some(10.0));
    assert_eq!(relaxed["optimal"], true);
    assert_eq!(relaxed["contiguous"], false);
    assert_eq!(relaxed["solver"]["method"], "milp");
    assert_eq!(relaxed["solver"]["cpu_contiguous"], false);
    let milp = json(&["place", graph, "--milp", "--json"]);
    assert_eq!(milp["solver"]["cpu_contiguous"], true);
    assert_eq!(milp["max_load"].as_f64(), Some(20.0));
    fails_with(
        &["place", graph, "--cpus-noncontiguous", "--non-contiguous"],
        &["--cpus-noncontiguous", "--non-contiguous"],
    );
    fails_with(
        &[
            "place",
            graph,
            "--cpus-noncontiguous",
            "--objective",
            "latency",
        ],
        &["--cpus-noncontiguous"],
    );
    let _ = std::fs::remove_file(&path);
}

/// `--non-contiguous` proves BERT-24's non-contiguous optimum with the default build's
/// branch and bound (HiGHS found it in 300 s without a proof).
#[test]
fn place_non_contiguous_proves_bert24() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-place/tests/data/throughput/layer_bert24_inference.json"
    );
    let v = json(&["place", graph, "--non-contiguous", "--json"]);
    assert_eq!(v["optimal"], true, "{v}");
    let load = v["max_load"].as_f64().unwrap();
    assert!((load - 17.71471875).abs() < 1e-9, "{v}");
    assert_eq!(v["solver"]["backend"], "branch_and_bound", "{v}");
    assert!(v["solver"]["nodes"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert_eq!(v["solver"]["from_seed"], false, "{v}");
}

/// `--non-contiguous` proves GNMT's non-contiguous optimum within 60 s: about 2 s on this
/// 2-core VM (HiGHS: 66 s).
#[test]
fn place_non_contiguous_proves_gnmt_within_a_minute() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-place/tests/data/throughput/layer_gnmt_inference.json"
    );
    let v = json(&[
        "place",
        graph,
        "--non-contiguous",
        "--json",
        "--time-limit",
        "60s",
    ]);
    assert_eq!(v["optimal"], true, "{v}");
    let load = v["max_load"].as_f64().unwrap();
    assert!((load - 31.687310546875).abs() < 1e-9, "{v}");
}

#[test]
fn predict_prices_expert_parallelism_as_the_engines_run_it() {
    let p = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--model",
            "qwen3-30b-a3b",
            "--gpu",
            "H100",
            "--tp",
            "8",
            "--decode",
            "64x1024",
            "--json",
        ];
        a.extend_from_slice(extra);
        json(&a)
    };
    let ep = p(&["--enable-expert-parallel"]);
    let tp = p(&[]);
    assert_eq!(ep["plan"], "dp=1,pp=1,tp=8,moe=ep8xtp1");
    assert_eq!(tp["plan"], "dp=1,pp=1,tp=8");
    // tokens stay on every GPU: one all-reduce per MoE layer, the communication of TP
    let comm = |v: &Value| v["breakdown_ms"]["communication"].as_f64().unwrap();
    assert!(
        (comm(&ep) - comm(&tp)).abs() <= 0.01 * comm(&tp),
        "{ep} vs {tp}"
    );
    fails_with(
        &[
            "predict",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "1x8",
            "--enable-expert-parallel",
        ],
        &["--enable-expert-parallel", "llama-3.1-8b", "no MoE layers"],
    );
}
