//! End-to-end tests of the launch and new-user flags: `search --emit`, vLLM flag names, models
//! from the local Hugging Face cache, `--cost-model FILE`, ShareGPT and `vllm bench serve`
//! workloads.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn parallax_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parallax"));
    c.args(args).env("RAYON_NUM_THREADS", "2");
    for k in [
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HOME",
        "XDG_CACHE_HOME",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the parallax binary runs")
}

fn parallax(args: &[&str]) -> Output {
    parallax_env(args, &[])
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn fails(out: &Output, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "should fail with exit code 2");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "stderr `{err}` lacks `{n}`");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("parallax-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn search_emits_the_best_plans_launch_command() {
    let args = [
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--requests",
        "20",
        "--max-num-seqs",
        "64",
        "--max-num-batched-tokens",
        "4096",
        "--enable-chunked-prefill",
        "--emit",
        "vllm",
    ];
    let text = ok(&parallax(&args));
    let best = text
        .lines()
        .find_map(|l| l.strip_prefix("best: "))
        .expect("a best plan")
        .to_string();
    assert!(
        text.contains(&format!("launch (vllm):\n# vllm launch for plan {best}\n")),
        "{text}"
    );
    assert!(
        text.contains("vllm serve meta-llama/Llama-3.1-8B "),
        "{text}"
    );
    assert!(
        text.contains(" --max-num-seqs 64 --max-num-batched-tokens 4096 --enable-chunked-prefill "),
        "{text}"
    );

    let mut jargs = args.to_vec();
    jargs.push("--json");
    let v: Value = serde_json::from_str(&ok(&parallax(&jargs))).unwrap();
    assert_eq!(v["launch"]["engine"], "vllm");
    assert_eq!(v["launch"]["plan"], v["best"]["plan"]);
    let argv = v["launch"]["instances"][0]["argv"].as_array().unwrap();
    assert_eq!(argv[0], "vllm");
    assert_eq!(v["best"]["scheduler"]["kind"], "chunked");

    // A plan the engine cannot run: the report is printed, then the error (exit 2).
    let out = parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "5",
        "--scheduler",
        "orca",
        "--emit",
        "vllm",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("best: dp=1,pp=1,tp=1"));
    fails(
        &out,
        &[
            "vllm cannot express plan",
            "`orca` scheduler policy has no vllm equivalent",
        ],
    );
    // The old flag name still works; the engine name is checked.
    ok(&parallax(&[
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "5",
        "--max-batched-tokens",
        "4096",
    ]));
    fails(
        &parallax(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x1xH100",
            "--emit",
            "tgi",
        ]),
        &[
            "invalid --emit",
            "unknown engine `tgi`",
            "vllm, sglang, trtllm",
        ],
    );
    fails(
        &parallax(&["search", "--enable-chunked-prefill", "--scheduler", "orca"]),
        &["--enable-chunked-prefill", "--scheduler"],
    );
}

#[test]
fn models_resolve_from_the_local_hugging_face_cache() {
    let d = temp("hub");
    let repo = d.join("models--acme--Tiny-Llama");
    let snap = repo.join("snapshots").join("0123abc");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs").join("main"), "0123abc").unwrap();
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-ir/data/models/meta-llama--Llama-3.1-8B.json"
    );
    std::fs::copy(src, snap.join("config.json")).unwrap();

    let args = ["inspect", "--model", "acme/Tiny-Llama", "--json"];
    let by_cache: Value =
        serde_json::from_str(&ok(&parallax_env(&args, &[("HF_HUB_CACHE", &d)]))).unwrap();
    let by_path: Value =
        serde_json::from_str(&ok(&parallax(&["inspect", "--model", src, "--json"]))).unwrap();
    assert_eq!(by_cache["params_total"], by_path["params_total"]);
    // HF_HOME/hub is the next place looked.
    let home = temp("home");
    std::fs::rename(&d, home.join("hub")).unwrap();
    ok(&parallax_env(&args, &[("HF_HOME", &home)]));

    // A missing id names the cache folder it looked for.
    let out = parallax_env(&["inspect", "--model", "acme/Nope"], &[("HF_HOME", &home)]);
    let want = home
        .join("hub")
        .join("models--acme--Nope")
        .display()
        .to_string();
    fails(
        &out,
        &[
            "`acme/Nope` is not in the local Hugging Face cache",
            "(from HF_HOME/hub)",
            &want,
        ],
    );
    let _ = std::fs::remove_dir_all(&home);
}

fn predict_ms(cost_model: &str) -> (f64, String) {
    let out = ok(&parallax(&[
        "predict",
        "-m",
        "llama-3.1-8b",
        "--gpu",
        "H100",
        "--decode",
        "8x512",
        "--prefill",
        "1x2048",
        "--cost-model",
        cost_model,
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["iteration_ms"].as_f64().unwrap(),
        v["cost_model"].as_str().unwrap().to_string(),
    )
}

/// `predict` of one 8-token decode of Llama-3.1-8B on `gpu` with `--cost-model cost_model`.
fn predict_1x8(gpu: &str, cost_model: &str) -> std::process::Output {
    parallax(&[
        "predict",
        "-m",
        "llama-3.1-8b",
        "--gpu",
        gpu,
        "--decode",
        "1x8",
        "--cost-model",
        cost_model,
    ])
}

#[test]
fn cost_model_files_from_calibrate_and_the_profiler() {
    let d = temp("cost");
    let params = d.join("roofline.json");
    let profile_dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/h100-pytorch"
    );
    let text = ok(&parallax(&[
        "calibrate",
        profile_dir,
        "--out",
        params.to_str().unwrap(),
    ]));
    assert!(text.contains("fitted parameters written to"), "{text}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
    assert_eq!(written["parallax_roofline_params"], 1);
    assert_eq!(written["gpu"], "H100-SXM");

    // The fitted roofline is used as written: change a parameter and the prediction moves.
    let (fitted, name) = predict_ms(params.to_str().unwrap());
    assert_eq!(name, "roofline:H100-SXM");
    let mut slower = written.clone();
    let eff = slower["params"]["gemm_compute_efficiency"]
        .as_f64()
        .unwrap();
    slower["params"]["gemm_compute_efficiency"] = (eff / 2.0).into();
    let slow_file = d.join("slow.json");
    std::fs::write(&slow_file, slower.to_string()).unwrap();
    let (slow, _) = predict_ms(slow_file.to_str().unwrap());
    assert!(slow > fitted * 1.2, "{slow} vs {fitted}");

    // A profile file gives the profiled model over it.
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/parallax-profiler/h100-sxm.json"
    );
    let (ms, name) = predict_ms(profile);
    assert_eq!(name, "profiled:h100-sxm-pytorch");
    assert!(ms > 0.0);
    // Search, simulate and validate take the file too.
    ok(&parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--requests",
        "5",
        "--cost-model",
        params.to_str().unwrap(),
    ]));
    let v: Value = serde_json::from_str(&ok(&parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "5",
        "--cost-model",
        profile,
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["cost_model"], "profiled:h100-sxm-pytorch");
    let measured = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax/data/measured/h100-sxm-iterations.csv"
    );
    let v: Value = serde_json::from_str(&ok(&parallax(&[
        "validate",
        "--measured",
        measured,
        "--cost-model",
        params.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["kind"], "iterations");

    // Errors name the file and what was expected.
    fails(
        &predict_1x8("A100", profile),
        &[
            "h100-sxm.json",
            "a profile of the cluster's GPU A100",
            "not of H100-SXM",
        ],
    );
    // fitted parameters are for the GPU they were fitted on, as a profile
    fails(
        &predict_1x8("A100", params.to_str().unwrap()),
        &[
            "roofline.json",
            "fitted on the cluster's GPU A100",
            "not on H100-SXM",
        ],
    );
    let mut other = written.clone();
    other["gpu"] = "FOO".into();
    let other_file = d.join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    fails(
        &predict_1x8("H100", other_file.to_str().unwrap()),
        &["other.json", "naming a GPU of the catalogue", "`FOO`"],
    );
    fails(
        &predict_1x8("H100", "missing.json"),
        &[
            "invalid --cost-model `missing.json`: no such file",
            "auto, roofline, profiled",
        ],
    );
    let junk = d.join("junk.json");
    std::fs::write(&junk, r#"{"params": 1}"#).unwrap();
    fails(
        &predict_1x8("H100", junk.to_str().unwrap()),
        &["junk.json", "format_version", "parallax_roofline_params"],
    );
    // Parameters out of their physical range, and unknown ones, are refused by name (a
    // negative efficiency priced every GEMM as NaN; 5 made GEMMs faster than the datasheet).
    for (edit, expect) in [
        (
            ("gemm_compute_efficiency", Value::from(-1.0)),
            "params.gemm_compute_efficiency a fraction in [0.001, 1] of the datasheet peak (this file has -1)",
        ),
        (
            ("link_efficiency", Value::from(5.0)),
            "params.link_efficiency a fraction in [0.001, 1]",
        ),
        // A subnormal efficiency made every GEMM infinite and predict print NaN.
        (
            ("gemm_compute_efficiency", Value::from(5e-324)),
            "params.gemm_compute_efficiency a fraction in [0.001, 1] of the datasheet peak (this file has 5e-324)",
        ),
        (
            ("gemm_tile_overhead", Value::from(1e300)),
            "params.gemm_tile_overhead a value in [0, 1e6] (this file has 1e300)",
        ),
        (("gemm_floor", Value::from(-1e-6)), "params.gemm_floor a time in [0, 1] seconds"),
        (("gemm_speedup", Value::from(2.0)), "unknown field `gemm_speedup`"),
    ] {
        let mut bad = written.clone();
        bad["params"][edit.0] = edit.1;
        let file = d.join("bad-params.json");
        std::fs::write(&file, bad.to_string()).unwrap();
        fails(
            &predict_1x8("H100", file.to_str().unwrap()),
            &["bad-params.json", expect],
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sharegpt_and_vllm_bench_results_are_workloads() {
    let d = temp("workloads");
    let sg = d.join("sharegpt.json");
    let conv: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"id": "c{i}", "conversations": [{{"from": "human", "value": "{}"}},
                   {{"from": "gpt", "value": "{}"}}]}}"#,
                "word ".repeat(20 + 10 * i),
                "reply ".repeat(30 + i)
            )
        })
        .collect();
    std::fs::write(&sg, format!("[{}]", conv.join(","))).unwrap();
    let out = parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--workload",
        sg.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["requests"]["completed"], 40);
    // ⌈chars / 4⌉: the first prompt is 100 characters = 25 tokens, its reply 180 = 45.
    assert_eq!(
        v["tokens"]["prompt"].as_u64(),
        Some((0..40).map(|i| (100 + 50 * i as u64).div_ceil(4)).sum())
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tokenized approximately as ⌈characters / 4⌉"),
        "{err}"
    );

    let bench = d.join("vllm-bench.json");
    let n = 30;
    let starts: Vec<String> = (0..n)
        .map(|i| format!("{}", 100.0 + 0.25 * i as f64))
        .collect();
    std::fs::write(
        &bench,
        format!(
            r#"{{"backend": "vllm", "request_rate": 4.0, "burstiness": 1.0, "max_concurrency": null,
            "input_lens": [{}], "output_lens": [{}], "errors": [{}], "start_times": [{}],
            "mean_ttft_ms": 25.0, "median_ttft_ms": 24.0, "p99_ttft_ms": 60.0,
            "mean_tpot_ms": 7.5, "p99_tpot_ms": 9.0, "mean_e2el_ms": 900.0,
            "request_throughput": 3.9, "output_throughput": 480.0}}"#,
            vec!["512"; n].join(","),
            vec!["128"; n].join(","),
            vec!["\"\""; n].join(","),
            starts.join(",")
        ),
    )
    .unwrap();
    let text = ok(&parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--workload",
        bench.to_str().unwrap(),
    ]));
    assert!(text.contains(&format!("({n} requests)")), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("mean_ttft_ms"))
        .expect("comparison row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "25.000");
    let sim: f64 = cells[2].parse().unwrap();
    assert!(sim > 0.0 && cells[3].ends_with('%'), "{row}");
    for k in [
        "p99_ttft_ms",
        "mean_tpot_ms",
        "mean_e2el_ms",
        "request_throughput",
        "output_throughput",
    ] {
        assert!(text.contains(k), "{k} missing: {text}");
    }
    // 30 requests 0.25 s apart: the simulated request rate follows the start times.
    let v: Value = serde_json::from_str(&ok(&parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--workload",
        bench.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    let rps = v["throughput"]["requests_per_s"].as_f64().unwrap();
    assert!(rps > 3.0 && rps < 4.5, "{rps}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn vllm_flag_names_mean_the_same_as_parallax_flags() {
    let base = [
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--requests",
        "30",
        "--json",
    ];
    let run = |extra: &[&str]| -> Value {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        serde_json::from_str(&ok(&parallax(&a))).unwrap()
    };
    assert_eq!(
        run(&["--plan", "dp=2,tp=1"]),
        run(&["--data-parallel-size", "2", "--tensor-parallel-size", "1"])
    );
    assert_eq!(
        run(&["--plan", "pp=2"]),
        run(&["--pipeline-parallel-size", "2"])
    );
    let a = run(&[
        "--plan",
        "tp=2",
        "--scheduler",
        "sarathi",
        "--max-batched-tokens",
        "1024",
    ]);
    let b = run(&[
        "--tensor-parallel-size",
        "2",
        "--enable-chunked-prefill",
        "--max-num-batched-tokens",
        "1024",
    ]);
    assert_eq!(a, b);
    assert_ne!(a, run(&["--plan", "tp=2", "--scheduler", "vllm"]));
    fails(
        &parallax(&["simulate", "--plan", "tp=2", "--tensor-parallel-size", "2"]),
        &["--plan", "--tensor-parallel-size", "cannot be used with"],
    );
    let p = |flag: &str| -> Value {
        serde_json::from_str(&ok(&parallax(&[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            flag,
            "2",
            "--decode",
            "4x100",
            "--json",
        ])))
        .unwrap()
    };
    assert_eq!(p("--tp"), p("--tensor-parallel-size"));
}

#[test]
fn knob_search_shows_knob_values_in_the_table() {
    let text = ok(&parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "20",
        "--max-num-seqs",
        "16,64,256",
        "--top",
        "3",
    ]));
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with('#'))
        .expect("a table");
    assert!(lines[header].contains("max-num-seqs"), "{text}");
    let rows = &lines[header + 2..header + 5];
    let mut seqs: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().nth(2).unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, ["16", "256", "64"], "{text}");
    let mut unique: Vec<&&str> = rows.iter().collect();
    unique.dedup();
    assert_eq!(unique.len(), 3);
    // Knob lists in errors read as the user wrote them, not as Rust Debug text.
    fails(
        &parallax(&["search", "-m", "llama-3.1-8b", "--max-num-seqs", "16,64,16"]),
        &["`16,64,16`", "distinct values"],
    );
    // A value that cannot combine with the token budget is refused before the search runs,
    // naming it and saying which side is the engine's default.
    fails(
        &parallax(&[
            "search",
            "-m",
            "llama-3.1-8b",
            "--max-num-seqs",
            "256,16384",
        ]),
        &["--max-num-seqs 16384", "8192", "the engine's default"],
    );
    fails(
        &parallax(&["search", "-m", "llama-3.1-8b", "--chunk", "256,2048"]),
        &["--chunk 256", "--max-num-seqs 1024 (the engine's default)"],
    );
    // Without a knob search the table has no knob columns.
    let text = ok(&parallax(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--requests",
        "5",
    ]));
    assert!(!text.contains("max-num-seqs"), "{text}");
}

#[test]
fn simulate_emits_the_simulated_plan() {
    let text = ok(&parallax(&[
        "simulate",
        "-m",
        "mixtral-8x7b",
        "--cluster",
        "1x8xH100",
        "--plan",
        "tp=8,ep=8",
        "--requests",
        "5",
        "--enable-chunked-prefill",
        "--emit",
        "sglang",
    ]));
    assert!(
        text.contains(
            "launch (sglang):\n# sglang launch for plan dp=1,pp=1,tp=8,moe=ep8xtp1\npython3 -m \
         sglang.launch_server --model-path mistralai/Mixtral-8x7B-v0.1 --tp-size 8 --ep-size 8 "
        ),
        "{text}"
    );
    let v: Value = serde_json::from_str(&ok(&parallax(&[
        "simulate",
        "-m",
        "llama-3.1-70b",
        "--plan",
        "dp=2,tp=4",
        "--requests",
        "5",
        "--emit",
        "trtllm",
        "--json",
    ])))
    .unwrap();
    assert_eq!(v["launch"]["instances"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["launch"]["instances"][1]["env"]["CUDA_VISIBLE_DEVICES"],
        "4,5,6,7"
    );
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0);
    // A plan the engine cannot express is an error naming engine, plan and reason.
    fails(
        &parallax(&[
            "simulate",
            "-m",
            "mixtral-8x7b",
            "--plan",
            "tp=8,ep=4",
            "--requests",
            "5",
            "--emit",
            "vllm",
        ]),
        &[
            "vllm cannot express plan `dp=1,pp=1,tp=8,moe=ep4xtp2`",
            "expert parallelism",
        ],
    );
}

#[test]
fn max_model_len_and_max_concurrency() {
    // --max-model-len cuts the context window: a 3000-token request no longer fits 2048.
    let spec = "synthetic:requests=4,rate=1,prompt=fixed(3000),output=fixed(8)";
    let base = [
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
    ];
    let mut a = base.to_vec();
    a.extend(["--workload", spec, "--json"]);
    ok(&parallax(&a));
    a.extend(["--max-model-len", "2048"]);
    fails(&parallax(&a), &["3008 tokens", "2048"]);
    let mut b = base.to_vec();
    b.extend(["--workload", spec, "--max-model-len", "200000"]);
    fails(&parallax(&b), &["--max-model-len 200000", "131072"]);
    // --max-concurrency 1: requests are sent one at a time (closed loop), so none waits.
    let run = |extra: &[&str]| -> Value {
        let mut a = base.to_vec();
        a.extend([
            "--workload",
            "synthetic:requests=6,rate=1000,prompt=fixed(500),output=fixed(20)",
            "--json",
        ]);
        a.extend_from_slice(extra);
        serde_json::from_str(&ok(&parallax(&a))).unwrap()
    };
    let open = run(&[]);
    let closed = run(&["--max-concurrency", "1"]);
    // (only the 3 ms front end and the engine's host time before the first iteration,
    // about 1 ms)
    assert!(closed["queue_ms"]["max"].as_f64().unwrap() < 5.0);
    assert!(
        closed["ttft_ms"]["mean"].as_f64().unwrap() < open["ttft_ms"]["mean"].as_f64().unwrap()
    );
    assert!(closed["makespan_s"].as_f64().unwrap() > open["makespan_s"].as_f64().unwrap());
}

/// When a disaggregated deployment wins, `search --emit` says that the launch it writes is the
/// best aggregated plan's (a disaggregated launch is not written yet).
#[test]
fn search_emit_says_when_a_disaggregated_deployment_won() {
    let out = parallax(&[
        "search",
        "-w",
        "code",
        "--rate",
        "50",
        "--requests",
        "32",
        "--emit",
        "vllm",
    ]);
    let text = ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // At 50 requests/s of the code workload three prefill pools and one decode pool win.
    assert!(text.contains("winner: disaggregated"), "{text}");
    assert!(
        err.contains("the best deployment is disaggregated")
            && err.contains("writing the best aggregated plan"),
        "{err}"
    );
}

/// Parallelisms that cannot use the cluster's GPUs (expert parallelism alone divides a
/// stage's tensor-parallel GPUs, and none are allowed) say so, naming them.
#[test]
fn search_says_when_the_allowed_parallelisms_make_no_plan() {
    let out = parallax(&[
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--requests",
        "8",
        "--parallelisms",
        "ep",
        "--disaggregation",
        "off",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let reason = v["infeasible"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("allowed parallelisms (ep)") && reason.contains("need tp"),
        "{reason}"
    );
}
