//! Hardening of the CLI: the documented maximum of every size, count and duration flag is
//! accepted and one past it is refused with exit 2 naming the flag; durations read the same
//! way everywhere; reproducers of the hardening issue fail fast with a clear error.

#[path = "../crates/parallax-cli/tests/common/mod.rs"]
mod common;
use common::parallax;

fn fails_with(args: &[&str], needles: &[&str]) {
    let out = parallax(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: stderr `{err}` lacks `{n}`");
    }
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

fn succeeds(args: &[&str]) -> String {
    let out = parallax(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    err
}

/// The run is not refused for `flag`'s range: it succeeds, or fails for another reason (a
/// legitimate one such as a memory shortfall at an extreme but valid value).
fn accepted(args: &[&str], flag: &str) {
    let out = parallax(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || !err.contains(&format!("invalid {flag}")),
        "{args:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

const SIM: [&str; 9] = [
    "simulate",
    "--model",
    "llama-3.1-8b",
    "--cluster",
    "1xH100",
    "--plan",
    "tp=1",
    "--requests",
    "4",
];

fn sim(extra: &[&str]) -> Vec<String> {
    SIM.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn durations_need_a_unit_and_have_a_maximum() {
    for flag in ["--slo-ttft", "--slo-tpot"] {
        fails_with(&refs(&sim(&[flag, "500"])), &[flag, "`500`", "unit"]);
        fails_with(&refs(&sim(&[flag, "1e300"])), &[flag, "1e300"]);
        fails_with(&refs(&sim(&[flag, "1000001s"])), &[flag, "1000000 s"]);
        succeeds(&refs(&sim(&[flag, "1000000s"])));
        succeeds(&refs(&sim(&[flag, "16666m"])));
        succeeds(&refs(&sim(&[flag, "800us"])));
        succeeds(&refs(&sim(&[flag, "3µs"])));
        // below 1 µs rounds to nothing: refused by the parser, not later as `0`
        fails_with(&refs(&sim(&[flag, "1e-12s"])), &[flag, "from 1us"]);
    }
    // a flag with its own maximum states that one
    fails_with(
        &refs(&sim(&["--frontend-latency", "61s"])),
        &["--frontend-latency", "from 1us to 60 s"],
    );
    let search = ["search", "--model", "llama-3.1-8b", "--cluster", "1xH100"];
    for bad in ["30", "1e300", "1e19s", "1e300ms", "0s", "-5ms", "NaNs", "h"] {
        let arg = format!("--time-limit={bad}");
        let mut a = search.to_vec();
        a.push(&arg);
        fails_with(&a, &["--time-limit", bad]);
    }
}

#[test]
fn count_flags_have_documented_maxima() {
    // (flag, largest accepted, first refused) on `simulate`.
    for (flag, max, over) in [
        ("--max-num-seqs", "1048576", "1048577"),
        ("--max-batched-tokens", "16777216", "16777217"),
    ] {
        // (an alias is named by the flag's own name: `--max-num-batched-tokens`)
        let named = flag.trim_start_matches("--max-");
        fails_with(&refs(&sim(&[flag, over])), &[named, max]);
        fails_with(&refs(&sim(&[flag, "0"])), &[named]);
        accepted(&refs(&sim(&[flag, max])), flag);
    }
    fails_with(
        &refs(&sim(&["--scheduler", "sarathi", "--chunk", "16777217"])),
        &["--chunk", "16777216"],
    );
    fails_with(
        &["simulate", "--requests", "10000001"],
        &["--requests", "10000000"],
    );
    fails_with(&["simulate", "--requests", "0"], &["--requests"]);
    fails_with(&["simulate", "--rate", "1e7"], &["--rate", "1e6"]);
    fails_with(&["simulate", "--rate", "1e-7"], &["--rate", "1e-6"]);
    fails_with(&["simulate", "--rate", "NaN"], &["--rate"]);
    // search
    for (flag, max, over) in [
        ("--max-gpus", "65536", "65537"),
        ("--max-pp", "65536", "65537"),
        ("--max-plans", "10000000", "10000001"),
        ("--top", "100000", "100001"),
        ("--max-batched-tokens", "16777216", "16777217"),
    ] {
        let named = flag.trim_start_matches("--max-");
        fails_with(&["search", flag, over], &[named, max]);
        fails_with(&["search", flag, "0"], &[named]);
    }
    fails_with(
        &["search", "--max-num-seqs", "1048577"],
        &["--max-num-seqs", "1048576"],
    );
    let long: Vec<String> = (1..=65).map(|i| i.to_string()).collect();
    fails_with(
        &["search", "--max-num-seqs", &long.join(",")],
        &["--max-num-seqs", "at most 64 values"],
    );
    fails_with(&["search", "--price", "1e7"], &["--price"]);
    // The largest accepted values run (a tiny search).
    succeeds(&[
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1xH100",
        "--requests",
        "4",
        "--max-pp",
        "65536",
        "--max-plans",
        "10000000",
        "--top",
        "100000",
        "--time-limit",
        "1000000s",
    ]);
    // predict
    let p = ["predict", "--model", "llama-3.1-8b", "--gpu", "H100"];
    let with = |extra: &[&'static str]| -> Vec<&str> { p.iter().chain(extra).copied().collect() };
    fails_with(
        &with(&["--tp", "65537", "--decode", "1x1"]),
        &["--tp", "65536"],
    );
    fails_with(
        &with(&["--decode", "4294967295x4294967295"]),
        &["--decode", "4294967295x4294967295", "1048576"],
    );
    fails_with(
        &with(&["--decode", "1x16777217"]),
        &["--decode", "16777216"],
    );
    fails_with(&with(&["--prefill", "65537x1"]), &["--prefill", "65536"]);
    accepted(&with(&["--decode", "1048576x1"]), "--decode");
    // plans, clusters, synthetic specs
    fails_with(
        &["simulate", "--plan", "pp=4294967295"],
        &["pp=4294967295", "65536"],
    );
    fails_with(
        &["simulate", "--cluster", "1000000000x8xH100"],
        &["1000000000", "65536"],
    );
    fails_with(
        &[
            "simulate",
            "--workload",
            "synthetic:requests=4294967296,rate=1,prompt=fixed(1),output=fixed(1)",
        ],
        &["requests=4294967296", "10000000"],
    );
}

#[test]
fn search_max_pp_zero_is_refused() {
    fails_with(&["search", "--max-pp", "0"], &["--max-pp", "0"]);
}

#[test]
fn hostile_synthetic_specs_fail_fast_quoting_the_spec() {
    for (spec, needle) in [
        (
            "synthetic:requests=10,rate=1,prompt=normal(1,1e19),output=fixed(1)",
            "1e19",
        ),
        (
            "synthetic:requests=10,rate=1,arrivals=gamma,cv=1e-300,prompt=fixed(1),output=fixed(1)",
            "cv = 1e-300",
        ),
        (
            "synthetic:requests=10,rate=1e-300,prompt=fixed(1),output=fixed(1)",
            "rate = 1e-300",
        ),
    ] {
        let args = sim(&["--workload", spec]);
        let out = parallax(&refs(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(spec) && err.contains(needle), "{spec}: {err}");
        assert!(err.len() < 700, "{spec}: error too long: {err}");
    }
}

#[test]
fn prompts_beyond_the_context_window_are_refused() {
    let args = sim(&[
        "--workload",
        "synthetic:requests=4,rate=1,prompt=fixed(200000),output=fixed(1)",
    ]);
    fails_with(
        &refs(&args),
        &[
            "(131072 tokens: its max_position_embeddings",
            "200001 tokens",
            "4 of 4",
        ],
    );
}

#[test]
fn rejected_requests_are_explained_with_the_fix() {
    // vLLM V0's scheduler does not split prompts (the default engine, vLLM V1, chunks them).
    let args = sim(&[
        "--workload",
        "synthetic:requests=4,rate=1,prompt=fixed(20000),output=fixed(1)",
        "--scheduler",
        "vllm",
    ]);
    let err = succeeds(&refs(&args));
    assert!(err.contains("4 of 4 requests rejected"), "{err}");
    assert!(err.contains("--max-batched-tokens"), "{err}");
    assert!(err.contains("--scheduler sarathi"), "{err}");
    // Raising the budget as suggested admits them.
    let mut fixed = args.clone();
    fixed.extend(["--max-batched-tokens".into(), "20000".into()]);
    let err = succeeds(&refs(&fixed));
    assert!(!err.contains("rejected"), "{err}");
}

#[test]
fn missing_paths_are_called_missing() {
    fails_with(
        &["simulate", "--model", "./models/my-model"],
        &["./models/my-model", "no such file"],
    );
    let out = parallax(&["simulate", "--model", "./models/my-model"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
    fails_with(
        &["simulate", "--workload", "traces/missing.csv"],
        &["traces/missing.csv", "does not exist"],
    );
}

#[test]
fn library_option_names_are_shown_as_flags() {
    fails_with(
        &[
            "search",
            "--scheduler",
            "sarathi",
            "--max-num-seqs",
            "512",
            "--max-batched-tokens",
            "100",
        ],
        &["--max-batched-tokens", "--max-num-seqs"],
    );
    let out = parallax(&["search", "--gpu-memory-utilization", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--gpu-memory-utilization"), "{err}");
    assert!(!err.contains("max_num_batched_tokens"), "{err}");
    // a huge value is quoted as written, not as 309 digits
    fails_with(
        &[
            "simulate",
            "--requests",
            "5",
            "--gpu-memory-utilization=1e308",
        ],
        &["--gpu-memory-utilization 1e308: expected a fraction in (0, 1]"],
    );
}

#[test]
fn unknown_gpu_in_a_cluster_file_names_file_and_field() {
    let dir = std::env::temp_dir().join(format!("parallax-hard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("c.toml");
    std::fs::write(&f, "nodes = 1\ngpus_per_node = 8\ngpu = \"Z80\"\n").unwrap();
    let path = f.display().to_string();
    fails_with(
        &["simulate", "--cluster", &path],
        &[&path, "gpu", "Z80", "H100"],
    );
    std::fs::write(
        &f,
        "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[intra_node]\nbandwidth_gbps = 5e-324\n",
    )
    .unwrap();
    fails_with(
        &["simulate", "--cluster", &path],
        &[&path, "intra_node.bandwidth_gbps", "5e-324"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn host_memory_and_link_flags_are_bounded() {
    for (flag, bad) in [
        ("--host-link-gbps", "0"),
        ("--host-link-gbps", "NaN"),
        ("--host-link-gbps", "1e300"),
        ("--swap-space", "1e30"),
        ("--cpu-prefix-cache", "inf"),
    ] {
        let arg = format!("{flag}={bad}");
        let args = sim(&[arg.as_str()]);
        fails_with(&refs(&args), &[flag]);
    }
    let args = sim(&["--host-link-gbps=1000000", "--swap-space=1000000"]);
    succeeds(&refs(&args));
}

/// A fresh temp folder for one test.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("parallax-hard-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn newer_count_flags_have_documented_maxima() {
    // (flag, largest accepted, first refused) on `simulate` (docs/cli.md, Limits).
    for (flag, max, over) in [
        ("--block-size", "16777216", "16777217"),
        ("--max-concurrency", "10000000", "10000001"),
    ] {
        fails_with(&refs(&sim(&[flag, over])), &[flag, over, max]);
        fails_with(&refs(&sim(&[flag, "0"])), &[flag]);
        accepted(&refs(&sim(&[flag, max])), flag);
    }
    for flag in [
        "--tensor-parallel-size",
        "--pipeline-parallel-size",
        "--data-parallel-size",
    ] {
        fails_with(&["simulate", flag, "65537"], &[flag, "65537", "65536"]);
        fails_with(&["simulate", flag, "0"], &[flag]);
    }
    fails_with(
        &["search", "--block-size", "16777217"],
        &["--block-size", "16777216"],
    );
    // --steady-requests is checked whatever the objective.
    fails_with(
        &["search", "--steady-requests", "9"],
        &["--steady-requests", "10..=100000"],
    );
    fails_with(
        &["search", "--steady-requests", "100001"],
        &["--steady-requests", "100001", "100000"],
    );
    fails_with(
        &["search", "--steady-requests", "18446744073709551615"],
        &["--steady-requests", "100000"],
    );
    // Too few for any window to show the SLO target: the smallest stream that can is named.
    fails_with(
        &[
            "search",
            "--objective",
            "throughput",
            "--slo-ttft",
            "2s",
            "--steady-requests",
            "100",
        ],
        &["--steady-requests", "100", "114 requests or more", "90 %"],
    );
    // A target no stream the flag allows can show.
    fails_with(
        &[
            "search",
            "--objective",
            "goodput",
            "--slo-tpot",
            "50ms",
            "--slo-target",
            "0.9999",
        ],
        &["--slo-target", "0.9999", "at most 99.98", "100000"],
    );
}

#[test]
fn disaggregated_pools_are_bounded_by_the_largest_cluster() {
    fails_with(
        &["simulate", "--plan", "prefill=65537x(tp=1);decode=1x(tp=1)"],
        &["prefill=65537x(tp=1)", "65536"],
    );
    fails_with(
        &["simulate", "--plan", "prefill=65536x(tp=2);decode=1x(tp=1)"],
        &["prefill=65536x(tp=2)", "65536 GPUs"],
    );
    fails_with(
        &[
            "simulate",
            "--plan",
            "prefill=4294967296x(tp=1);decode=1x(tp=1)",
        ],
        &["4294967296x", "instance count"],
    );
    // The largest pool parses; it is then too big for the cluster, which says so.
    fails_with(
        &["simulate", "--plan", "prefill=65535x(tp=1);decode=1x(tp=1)"],
        &["65536 GPUs", "the cluster"],
    );
}

#[test]
fn tiny_and_huge_floats_are_quoted_as_written() {
    for (flag, v) in [
        ("--host-link-gbps", "5e-324"),
        ("--rate", "5e-324"),
        ("--rate", "1e300"),
    ] {
        let args = sim(&[flag, v]);
        let out = parallax(&refs(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("{flag} {v}")), "{err}");
        assert!(!err.contains("00000000000"), "{err}");
    }
}

#[test]
fn errors_name_flags_not_library_fields() {
    fails_with(
        &refs(&sim(&["--preemption", "x"])),
        &["--preemption", "`x`".trim_matches('`')],
    );
    fails_with(
        &refs(&sim(&["--router", "prefix-affinity"])),
        &["--router", "--prefix-caching"],
    );
    fails_with(
        &["search", "--pareto", "e2e-mean,energy,cost"],
        &["--pareto", "energy,cost"],
    );
    fails_with(&["search", "--objective", "fast"], &["--objective", "fast"]);
    // a negative duration is the flag's range error, not an unknown argument `-1`
    fails_with(
        &refs(&sim(&["--frontend-latency", "-1ms"])),
        &["--frontend-latency `-1ms`", "expected a duration"],
    );
    fails_with(
        &["search", "--time-limit", "-5s"],
        &["--time-limit `-5s`", "expected a duration"],
    );
    let dir = std::env::temp_dir();
    let dir = dir.to_str().expect("temp dir is UTF-8");
    for (file, why) in [("/dev/null", "/dev/null"), (dir, "a directory, not a file")] {
        let predict = [
            "predict",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "1x1",
            "--cost-model",
            file,
        ];
        fails_with(&predict, &["--cost-model", file, why]);
    }
    for bad in [
        refs(&sim(&["--block-size", "0"])),
        refs(&sim(&["--preemption", "x"])),
    ] {
        let out = parallax(&bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("block_size") && !err.contains("config: preemption"),
            "{err}"
        );
    }
}

#[test]
fn predict_refuses_sequences_beyond_the_context_window() {
    let p = ["predict", "--model", "llama-3.1-8b", "--gpu", "H100"];
    let with = |extra: &[&'static str]| -> Vec<&str> { p.iter().chain(extra).copied().collect() };
    fails_with(
        &with(&["--prefill", "1x200000"]),
        &["--prefill", "1x200000", "131072", "max_position_embeddings"],
    );
    fails_with(
        &with(&["--prefill", "2x1000+130073"]),
        &["--prefill", "2x1000+130073", "131073 tokens"],
    );
    fails_with(&with(&["--decode", "4x131073"]), &["--decode", "4x131073"]);
    succeeds(&with(&["--decode", "4x131072", "--prefill", "1x72+131000"]));
}

#[test]
fn synthetic_prefix_keys_have_maxima() {
    let base = "synthetic:requests=4,rate=1,prompt=fixed(10),output=fixed(2)";
    for (extra, needle) in [
        (",prefix=shared(16777217)", "prefix.shared = 16777217"),
        (",prefix=shared(10),prompts=10000001", "prompts = 10000001"),
        (",turns=10000001", "turns = 10000001"),
    ] {
        let spec = format!("{base}{extra}");
        fails_with(
            &refs(&sim(&["--prefix-caching", "--workload", &spec])),
            &[needle, "10"],
        );
    }
    let ok = format!("{base},prefix=shared(10),prompts=10000000");
    succeeds(&refs(&sim(&["--prefix-caching", "--workload", &ok])));
    let ok = format!("{base},turns=10000000");
    succeeds(&refs(&sim(&["--prefix-caching", "--workload", &ok])));
}

/// One aggregated aiconfigurator load point with `cells` replaced.
fn load_point(cells: &[(&str, &str)]) -> String {
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,\
                  isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,\
                  silicon_ttft_ms,silicon_tpot_ms";
    let mut row: Vec<String> = [
        "p_c4_1",
        "silicon_concurrency=4",
        "vllm",
        "0.12",
        "Qwen/Qwen3-32B",
        "h200_sxm",
        "bf16",
        "agg",
        "64",
        "8",
        "bfloat16",
        "",
        "4",
        "1",
        "1",
        "50.0",
        "10.0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cols: Vec<&str> = header.split(',').collect();
    for (k, v) in cells {
        let i = cols.iter().position(|c| c == k).unwrap();
        row[i] = v.to_string();
    }
    format!("{header}\n{}\n", row.join(","))
}

#[test]
fn load_points_are_bounded_before_anything_is_sized_from_them() {
    let dir = temp_dir("lp");
    let f = dir.join("lp.csv");
    let path = f.display().to_string();
    for (cells, needles) in [
        (
            vec![("silicon_data_source", "silicon_concurrency=4294967295")],
            vec!["silicon_data_source", "4294967295", "4096"],
        ),
        (
            vec![("silicon_data_source", "silicon_concurrency=4097")],
            vec!["silicon_data_source", "4097", "4096"],
        ),
        (
            vec![("isl", "16777217")],
            vec!["`isl`", "16777217", "16777216"],
        ),
        (vec![("osl", "4294967295")], vec!["`osl`", "4294967295"]),
        (
            vec![("batch_size", "1048577")],
            vec!["`batch_size`", "1048576"],
        ),
        (vec![("tp_size", "65537")], vec!["`tp_size`", "65536"]),
        (vec![("pp_size", "0")], vec!["`pp_size`", "0"]),
        (
            vec![(
                "silicon_data_source",
                "silicon_concurrency=5; silicon_concurrency=500",
            )],
            vec!["silicon_data_source", "silicon_concurrency=500", "several"],
        ),
    ] {
        std::fs::write(&f, load_point(&cells)).unwrap();
        let mut n: Vec<&str> = vec![&path, ":2"];
        n.extend(needles);
        fails_with(&["validate", "--serving", &path], &n);
    }
    // The maxima themselves parse (a disaggregated row is skipped, not simulated).
    std::fs::write(
        &f,
        load_point(&[
            // (an id naming no other concurrency)
            ("id", "p_max"),
            ("silicon_data_source", "silicon_concurrency=4096"),
            ("mode", "disagg"),
            ("isl", "16777216"),
            ("batch_size", "1048576"),
        ]),
    )
    .unwrap();
    // (parsed, then skipped: with no row predicted the run fails and names the reason)
    fails_with(
        &["validate", "--serving", &path, "--rows"],
        &["none of the 1 load points", "could be predicted", "line 2"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn skipped_load_points_are_named_and_all_skipped_is_an_error() {
    let dir = temp_dir("lpskip");
    let f = dir.join("lp.csv");
    let path = f.display().to_string();
    // one row the catalogue cannot price (an unknown model), one it can
    let bad = load_point(&[("model_path", "acme/NoSuchModel-7B")]);
    let good = load_point(&[]);
    let mut text = bad.clone();
    text += good.lines().nth(1).unwrap();
    text += "\n";
    std::fs::write(&f, &text).unwrap();
    let out = parallax(&["validate", "--serving", &path]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 of 2 load points skipped") && err.contains("acme/NoSuchModel-7B"),
        "{err}"
    );
    // every row skipped: an error naming the line and the reason, not a table of nothing
    std::fs::write(&f, &bad).unwrap();
    fails_with(
        &["validate", "--serving", &path],
        &["none of the 1 load points", "line 2", "acme/NoSuchModel-7B"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn engine_directives_of_measured_files_are_read_and_checked() {
    let dir = temp_dir("directive");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../crates/parallax/data/measured/h100-sxm-iterations.csv"),
    )
    .unwrap();
    let body: String = shipped
        .lines()
        .filter(|l| !l.starts_with('#'))
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let f = dir.join("m.csv");
    let path = f.display().to_string();
    let predicted = |directive: &str| -> String {
        std::fs::write(&f, format!("{directive}{body}")).unwrap();
        let out = parallax(&["validate", "--measured", &path, "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["iterations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["predicted_ms"].to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let none = predicted("# engine: none  (a plain harness)\n");
    let sglang = predicted("# engine: sglang\n");
    assert_eq!(
        none,
        predicted(""),
        "no directive: iterations default to none"
    );
    assert_ne!(none, sglang, "the directive chooses the engine");
    assert_eq!(
        predicted("# Engine: SGLang\n"),
        sglang,
        "the directive's key and value are case-insensitive"
    );
    // --engine wins over the directive.
    std::fs::write(&f, format!("# engine: sglang\n{body}")).unwrap();
    let out = parallax(&[
        "validate",
        "--measured",
        &path,
        "--json",
        "--engine",
        "none",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flagged: Vec<String> = v["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["predicted_ms"].to_string())
        .collect();
    assert_eq!(flagged.join(","), none);
    for (text, needles) in [
        (
            format!("# engine: bogus\n{body}"),
            vec![":1", "`bogus`", "sglang"],
        ),
        (
            format!("# engine: vllm\n# engine: none\n{body}"),
            vec![":2", "second", "line 1"],
        ),
        (
            format!("{body}# engine: vllm\n"),
            vec![":5", "after the header"],
        ),
    ] {
        std::fs::write(&f, text).unwrap();
        let mut n: Vec<&str> = vec![&path];
        n.extend(needles);
        fails_with(&["validate", "--measured", &path], &n);
    }
    // A batch that cannot fit one GPU is predicted, with a warning naming its line.
    std::fs::write(
        &f,
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,1x512,,off,28\n\
         llama-3.1-8b,H100-SXM,1,,4096x100000,on,28\n",
    )
    .unwrap();
    let err = succeeds(&["validate", "--measured", &path]);
    assert!(
        err.contains("warning") && err.contains("line 3 does not fit"),
        "{err}"
    );
    // --serving takes serving runs and load points, not iterations; with no file both flags
    // are named.
    fails_with(
        &["validate", "--serving", &path],
        &["a measured-iteration file", "--measured"],
    );
    let out = parallax(&["validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--measured <FILE>|--serving <FILE>"), "{err}");
    // A load-point file's rows name their engines: a directive there is refused, not ignored.
    let silicon = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../crates/parallax/data/serving/aiconfigurator/silicon_train.csv"),
    )
    .unwrap();
    let rows: String = silicon.lines().take(2).map(|l| format!("{l}\n")).collect();
    for directive in ["# engine: foo\n", "# note\n# engine: sglang\n"] {
        std::fs::write(&f, format!("{directive}{rows}")).unwrap();
        let line = if directive.starts_with("# note") {
            ":2:"
        } else {
            ":1:"
        };
        fails_with(
            &["validate", "--serving", &path],
            &[&path, line, "load-point file", "`backend`"],
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_and_validate_stop_at_their_wall_budget() {
    // Ten million requests take far longer than a second: the run stops at its budget with
    // exit code 3, names the flag, and prints no metrics.
    let start = std::time::Instant::now();
    let out = parallax(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1xH100",
        "--plan",
        "tp=1",
        "--workload",
        "synthetic:requests=10000000,rate=1000,prompt=fixed(100),output=fixed(100)",
        "--time-limit",
        "1s",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("--time-limit 1s") && err.contains("stopped"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "a cut run prints no result");
    assert!(
        start.elapsed().as_secs_f64() < 20.0,
        "{:?}",
        start.elapsed()
    );
    for bad in ["0s", "30", "1e300s"] {
        fails_with(&refs(&sim(&["--time-limit", bad])), &["--time-limit", bad]);
        fails_with(
            &["validate", "--measured", "x.csv", "--time-limit", bad],
            &["--time-limit", bad],
        );
    }
    // Within the budget the output is the full, normal one.
    succeeds(&refs(&sim(&["--time-limit", "1h"])));
    // calibrate too: a small file of huge prefill batches takes minutes to fit.
    let dir = temp_dir("calibrate-budget");
    let rows: Vec<String> = (1..=30)
        .map(|i| {
            format!(
                "[1048576, {}, 0, 32, 8, 128, \"bf16\", {}]",
                16 * i,
                1e-3 * i as f64
            )
        })
        .collect();
    let profile = dir.join("slow.json");
    std::fs::write(
        &profile,
        format!(
            r#"{{"format_version": 1, "name": "slow", "gpu": {{"name": "H100", "device": "NVIDIA H100",
            "matmul_flops": 7e14, "memory_bandwidth": 3e12}},
            "software": {{"torch": "x", "cuda": "x", "driver": "x"}},
            "provenance": {{"source": "s", "date": "2026-01-01", "method": "m"}},
            "tables": {{"prefill_attention": {{"columns": ["batch", "new_tokens", "prefix", "heads",
            "kv_heads", "head_dim", "dtype", "seconds"], "rows": [{}]}}}}}}"#,
            rows.join(", ")
        ),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = parallax(&["calibrate", profile.to_str().unwrap(), "--time-limit", "1s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`parallax calibrate`") && err.contains("--time-limit 1s"),
        "{err}"
    );
    assert!(start.elapsed().as_secs_f64() < 20.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn place_latency_flags_are_bounded_and_never_silently_ignored() {
    let graph = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/parallax-place/tests/data/latency/layer_bert24_inference.json")
        .display()
        .to_string();
    fails_with(
        &["place", &graph, "--subgraphs", "2"],
        &["--subgraphs", "--objective latency"],
    );
    fails_with(
        &["place", &graph, "--max-labels", "10"],
        &["--max-labels", "--objective latency"],
    );
    fails_with(
        &[
            "place",
            &graph,
            "--objective",
            "latency",
            "--subgraphs",
            "1048577",
        ],
        &["--subgraphs", "1048577", "1048576"],
    );
    fails_with(
        &[
            "place",
            &graph,
            "--objective",
            "latency",
            "--subgraphs",
            "0",
        ],
        &["--subgraphs", "0"],
    );
    succeeds(&[
        "place",
        &graph,
        "--objective",
        "latency",
        "--subgraphs",
        "1048576",
        "--time-limit",
        "20s",
    ]);
    // `--max-labels 0` stops at once, with the best schedule found and its proven gap (the
    // documented limit: any 64-bit count)
    let resnet = graph.replace("layer_bert24_inference", "layer_resnet50_inference");
    let out = common::parallax(&[
        "place",
        &resnet,
        "--objective",
        "latency",
        "--max-labels",
        "0",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("label budget reached"), "{text}");
}

#[test]
fn flags_that_would_be_ignored_are_refused() {
    fails_with(
        &refs(&sim(&["--cpu-prefix-cache", "2"])),
        &["--cpu-prefix-cache 2", "--prefix-caching"],
    );
    fails_with(
        &refs(&sim(&["--scheduler", "vllm", "--chunk", "2048"])),
        &["--chunk 2048", "scheduler vllm"],
    );
    // vLLM V0 without chunked prefill (a context of at most 32K; above it V0 chunks itself).
    fails_with(
        &refs(&sim(&[
            "--engine",
            "vllm-v0",
            "--max-model-len",
            "8192",
            "--chunk",
            "2048",
        ])),
        &["--chunk 2048", "scheduler vllm"],
    );
    fails_with(
        &["search", "--arrivals", "trace"],
        &["--arrivals trace", "e2e-mean"],
    );
    // Where they apply they run.
    succeeds(&refs(&sim(&[
        "--prefix-caching",
        "--cpu-prefix-cache",
        "2",
    ])));
    succeeds(&refs(&sim(&["--scheduler", "sarathi", "--chunk", "2048"])));
}

/// An output file that cannot be written is refused before the run (after it, the run was
/// lost with exit 1 and nothing on stdout).
#[test]
fn output_paths_are_checked_before_the_run() {
    fails_with(
        &[
            "simulate",
            "--requests",
            "5",
            "--requests-csv",
            "/nonexistent-dir/x.csv",
        ],
        &["--requests-csv", "/nonexistent-dir", "does not exist"],
    );
    let dir = temp_dir("outdir");
    fails_with(
        &[
            "simulate",
            "--requests",
            "5",
            "--timeline",
            dir.to_str().unwrap(),
        ],
        &["--timeline", "a folder; expected a file path"],
    );
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/h100-pytorch"
    );
    fails_with(
        &["calibrate", profile, "--out", "/nonexistent-dir/fit.json"],
        &["--out", "does not exist"],
    );
}

/// A fit clamped at an efficiency of 1 (a profile faster than the chosen GPU's datasheet) is
/// said on stderr and in the JSON; a fit on the profile's own GPU says nothing.
#[test]
fn calibrate_says_when_a_fit_is_clamped_at_peak() {
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-hw/data/profiles/h100-pytorch"
    );
    let out = parallax(&["calibrate", profile, "--gpu", "A100", "--json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: gemm_compute_efficiency fitted at its bound"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["at_peak"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["parameter"] == "gemm_compute_efficiency"));
    // A cluster of another kind than the profile's GPU is refused unless --gpu says so.
    fails_with(
        &["calibrate", profile, "--cluster", "1x8xB200"],
        &[
            "invalid --cluster `1x8xB200`",
            "the profile was measured on H100-SXM",
            "--gpu B200 to calibrate",
        ],
    );
    succeeds(&[
        "calibrate",
        profile,
        "--cluster",
        "1x8xB200",
        "--gpu",
        "B200",
    ]);
    let own = parallax(&["calibrate", profile, "--json"]);
    assert!(!String::from_utf8_lossy(&own.stderr).contains("warning"));
    let v: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(v["at_peak"].as_array().unwrap().len(), 0);
}

#[test]
fn a_profiled_cost_model_without_a_profile_says_what_would_do() {
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "A100",
            "--decode",
            "1x8",
            "--cost-model",
            "profiled",
        ],
        &[
            "--cost-model",
            "a GPU with a measured profile (H100-SXM, H200), or `roofline` / `auto`",
        ],
    );
}

/// A `--cost-model` file that is neither a profile nor roofline parameters is refused once,
/// up front, not reported as the reason every load point could not be predicted.
#[test]
fn a_bad_cost_model_file_is_refused_before_anything_is_predicted() {
    let rows = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax/data/serving/aiconfigurator/silicon_train.csv"
    );
    let args = ["validate", "--serving", rows, "--cost-model", rows];
    fails_with(&args, &["--cost-model", "silicon_train.csv", "JSON"]);
    let err = String::from_utf8_lossy(&parallax(&args).stderr).into_owned();
    assert!(!err.contains("load points"), "{err}");
}

/// `simulate`'s output files may not overwrite its trace or each other.
#[test]
fn simulate_outputs_overwrite_neither_inputs_nor_each_other() {
    let dir = std::env::temp_dir().join(format!("parallax-outputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.jsonl");
    let line = r#"{"ContextTokens": 100, "GeneratedTokens": 10, "StartTimeOffset": 0}"#;
    std::fs::write(&trace, format!("{line}\n")).unwrap();
    let t = trace.to_str().unwrap();
    let base = ["simulate", "-m", "llama-3.1-8b", "--cluster", "1x1xH100"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    fails_with(
        &refs(&with(&["-w", t, "--requests-csv", t])),
        &["--requests-csv", "--workload"],
    );
    assert_eq!(
        std::fs::read_to_string(&trace).unwrap(),
        format!("{line}\n")
    );
    let out = dir.join("out.json");
    let o = out.to_str().unwrap();
    fails_with(
        &refs(&with(&["-w", t, "--requests-csv", o, "--timeline", o])),
        &["--timeline", "--requests-csv"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn search_report_path_is_checked_before_the_search() {
    fails_with(
        &[
            "search",
            "-m",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--report",
            "/nonexistent-dir/r.html",
        ],
        &["--report", "does not exist"],
    );
}

#[test]
fn a_pareto_front_needs_two_different_objectives() {
    fails_with(
        &[
            "search",
            "-m",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--pareto",
            "e2e-mean,e2e-mean",
        ],
        &["--pareto `e2e-mean,e2e-mean`", "two different objectives"],
    );
}

#[test]
fn measured_times_beyond_a_day_or_below_a_nanosecond_are_refused() {
    let dir = temp_dir("times");
    let f = dir.join("lp.csv");
    let path = f.display().to_string();
    for v in ["1e308", "1e-300", "9e7"] {
        std::fs::write(&f, load_point(&[("silicon_ttft_ms", v)])).unwrap();
        fails_with(
            &["validate", "--serving", &path],
            &[
                &path,
                ":2",
                "silicon_ttft_ms",
                v,
                "between 1 ns and one day",
            ],
        );
    }
    let m = dir.join("m.csv");
    let mpath = m.display().to_string();
    std::fs::write(
        &m,
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\nllama-3.1-8b,H100,1,1x512,,off,1e308\n",
    )
    .unwrap();
    fails_with(
        &["validate", "--measured", &mpath],
        &[
            &mpath,
            "line 2",
            "measured_ms",
            "1e308",
            "between 1 ns and one day",
        ],
    );
    // milliseconds: a 100 s iteration is a time, 10 fs is not
    std::fs::write(
        &m,
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100,1,1x512,,off,100000\n",
    )
    .unwrap();
    let out = parallax(&["validate", "--measured", &mpath]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &m,
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100,1,1x512,,off,1e-8\n",
    )
    .unwrap();
    fails_with(
        &["validate", "--measured", &mpath],
        &[&mpath, "measured_ms", "1e-8", "between 1 ns and one day"],
    );
    // a column the format does not define is named, not ignored
    std::fs::write(
        &m,
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms,notes\n\
         llama-3.1-8b,H100,1,1x512,,off,20,x\n",
    )
    .unwrap();
    fails_with(
        &["validate", "--measured", &mpath],
        &[&mpath, "unknown column `notes`", "measured_ms"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serving_runs_take_a_cluster_toml_beside_the_file() {
    let dir = temp_dir("svtoml");
    std::fs::write(
        dir.join("c.toml"),
        "nodes = 1\ngpus_per_node = 2\ngpu = \"H100\"\n",
    )
    .unwrap();
    let f = dir.join("s.csv");
    std::fs::write(
        &f,
        "model,cluster,plan,workload,rate,requests,scheduler,ttft_ms,tpot_ms\n\
         llama-3.1-8b,c.toml,tp=2,chat,1,20,,30,8\n\
         llama-3.1-8b,1x2xH100,tp=2,chat,1,20,,30,8\n",
    )
    .unwrap();
    let out = parallax(&["validate", "--serving", &f.display().to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["serving"].as_array().unwrap();
    // the TOML describes the same node as `1x2xH100`: the same prediction
    assert_eq!(rows[0]["predicted_ttft_ms"], rows[1]["predicted_ttft_ms"]);
    // a TOML that is missing is named as such
    std::fs::remove_file(dir.join("c.toml")).unwrap();
    fails_with(
        &["validate", "--serving", &f.display().to_string()],
        &["s.csv:2", "c.toml", "No such file"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn negative_and_oversized_counts_name_the_flag_and_its_range() {
    // a negative number is the flag's (bad) value, not an unknown argument; a number beyond
    // the integer type names the documented range, not the type's
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "1x8",
            "--tp",
            "-1",
        ],
        &["'-1'", "--tp", "expected 1..=65536"],
    );
    fails_with(
        &["search", "--max-gpus", "99999999999"],
        &["'99999999999'", "--max-gpus", "expected 1..=65536"],
    );
    fails_with(
        &["simulate", "--requests", "-5"],
        &["'-5'", "--requests", "expected 1..=10000000"],
    );
    fails_with(&["simulate", "--seed", "-1"], &["'-1'", "--seed"]);
    fails_with(
        &["simulate", "--max-model-len", "99999999999"],
        &["--max-model-len", "expected 1..=16777216"],
    );
    fails_with(
        &["search", "--top", "2.5"],
        &["'2.5'", "--top", "a whole number"],
    );
}

#[test]
fn a_run_with_every_request_rejected_shows_no_latency_figures() {
    let out = parallax(&[
        "simulate",
        "-m",
        "qwen3-32b",
        "--cluster",
        "1xH100",
        "--plan",
        "tp=1",
        "--gpu-memory-utilization",
        "0.85",
        "-w",
        "synthetic:requests=3,rate=1,prompt=fixed(30000),output=fixed(10)",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let ttft = text.lines().find(|l| l.starts_with("TTFT (ms)")).unwrap();
    // no request completed: a dash, not a latency of 0
    assert!(ttft.contains('-') && !ttft.contains("0.000"), "{ttft}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 of 3 requests rejected"));
}

/// A real-valued flag's error quotes the value as written, not as parsed and reprinted
/// (`1.50`, not `1.5`; `0.0e0`, not `0`), including the checks the library makes.
#[test]
fn real_flags_are_quoted_as_written() {
    for (args, quoted) in [
        (&["search", "--slo-target", "1.50"][..], "`1.50`"),
        (
            &[
                "search",
                "--objective",
                "throughput",
                "--slo-ttft",
                "1s",
                "--slo-tpot",
                "50ms",
                "--slo-target",
                "1.0",
            ][..],
            "`1.0`",
        ),
        (&["search", "--rate", "0.0e0"][..], "--rate 0.0e0:"),
        (&["simulate", "--rate", "2.0e6"][..], "--rate 2.0e6:"),
        (&["search", "--price", "1.0e9"][..], "--price 1.0e9:"),
        (
            &["simulate", "--gpu-memory-utilization", "1.10"][..],
            "--gpu-memory-utilization 1.10:",
        ),
        (
            &["simulate", "--swap-space", "-1.0"][..],
            "--swap-space -1.0:",
        ),
        (
            &["simulate", "--host-link-gbps", "0.00"][..],
            "--host-link-gbps 0.00:",
        ),
        (
            &["simulate", "--cpu-prefix-cache", "2.0"][..],
            "--cpu-prefix-cache 2.0 needs --prefix-caching",
        ),
    ] {
        fails_with(args, &[quoted]);
    }
    fails_with(
        &["search", "--slo-target", "ninety"],
        &["--slo-target", "expected a number, got `ninety`"],
    );
}

/// `--rate` errors raised while rescaling the workload quote the value as written too; a
/// `synthetic:` spec missing its own `rate=` says so.
#[test]
fn workload_rate_errors_quote_the_flag_as_written() {
    fails_with(
        &["simulate", "--workload", "chat", "--rate", "0.0000010"],
        &["--rate = 0.0000010"],
    );
    fails_with(
        &[
            "simulate",
            "--workload",
            "synthetic:requests=1,rate=1,prompt=fixed(10),output=fixed(10)",
            "--rate",
            "1.50",
        ],
        &["--rate = 1.50", "two distinct arrival times"],
    );
    fails_with(
        &[
            "simulate",
            "--workload",
            "synthetic:requests=2,prompt=fixed(10),output=fixed(10)",
        ],
        &["rate = (missing)", "need `requests=` and `rate=`"],
    );
}

/// Search flags with no effect in the combination given are refused or noted: `--eplb`
/// when `--parallelisms` excludes expert parallelism (refused, as `simulate` refuses it on a
/// plan without EP), `--steady-requests` under a non-steady objective and `--slo-target`
/// without SLOs (noted).
#[test]
fn search_flags_without_effect_are_refused_or_noted() {
    fails_with(
        &[
            "search",
            "-m",
            "qwen3-30b-a3b",
            "--requests",
            "8",
            "--parallelisms",
            "tp,dp",
            "--eplb",
            "8",
        ],
        &["invalid --eplb `8`", "--parallelisms `tp,dp`"],
    );
    fails_with(
        &[
            "search",
            "-m",
            "llama-3.1-8b",
            "--requests",
            "8",
            "--parallelisms",
            "tp, dp,tp",
        ],
        &["invalid --parallelisms `tp, dp,tp`", "`tp` is listed twice"],
    );
    let err = succeeds(&[
        "search",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--requests",
        "8",
        "--disaggregation",
        "off",
        "--steady-requests",
        "100",
        "--slo-target",
        "0.5",
    ]);
    assert!(
        err.contains("note: --steady-requests 100 has no effect")
            && err.contains("note: --slo-target 0.5 has no effect"),
        "{err}"
    );
}

/// An explicit `--router round-robin` that a mixed-kind plan replaces says so; a
/// disaggregated run without transfers reports 0 bytes, not -0.
#[test]
fn replaced_router_is_noted_and_no_negative_zero() {
    let err = succeeds(&[
        "simulate",
        "--cluster",
        "1x8xH100+1x8xA100",
        "--requests",
        "10",
        "--plan",
        "dp=2,tp=8,on=H100/A100",
        "--router",
        "round-robin",
    ]);
    assert!(
        err.contains("note: --router round-robin is replaced by capacity"),
        "{err}"
    );
    let out = common::parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x4xH100",
        "-w",
        "synthetic:requests=6,rate=1,prompt=fixed(100),output=fixed(1)",
        "--plan",
        "prefill=1x(tp=2);decode=1x(tp=2)",
        "--json",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("-0.0"), "{text}");
}

/// TensorRT-LLM is NVIDIA's: an AMD GPU with `--engine trtllm` is refused, not priced with its
/// kernels; vLLM on it is fine.
#[test]
fn trtllm_is_refused_on_gpus_it_does_not_run_on() {
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "MI300X",
            "--engine",
            "trtllm",
            "--decode",
            "1x100",
        ],
        &["`trtllm`", "MI300X", "NVIDIA GPUs only"],
    );
    fails_with(
        &[
            "simulate",
            "-m",
            "llama-3.1-8b",
            "--cluster",
            "1x1xMI300X",
            "--plan",
            "tp=1",
            "--engine",
            "trtllm",
            "--requests",
            "4",
        ],
        &["`trtllm`", "MI300X"],
    );
    succeeds(&[
        "predict",
        "-m",
        "llama-3.1-8b",
        "--gpu",
        "MI300X",
        "--engine",
        "vllm",
        "--decode",
        "1x100",
    ]);
}

/// predict's batch: a negative count is the spec's own error (not clap's "unexpected
/// argument"), and no batch at all says what to give.
#[test]
fn predict_batch_errors_name_the_flag() {
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--prefill",
            "-1x10",
        ],
        &["--prefill", "`-1x10`"],
    );
    fails_with(
        &[
            "predict",
            "-m",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--decode",
            "-4x100",
        ],
        &["--decode", "`-4x100`"],
    );
    fails_with(
        &["predict", "-m", "llama-3.1-8b", "--gpu", "H100"],
        &["no batch to predict", "--prefill BxS[+P]"],
    );
}

/// A prefill-only batch decodes no request: speculation gives it no time per token.
#[test]
fn speculation_reports_no_time_per_token_without_decodes() {
    let args = |batch: &'static str, spec: &'static str| {
        vec![
            "predict",
            "-m",
            "deepseek-v3",
            "--gpu",
            "H200",
            "--tp",
            "8",
            batch,
            spec,
            "--num-speculative-tokens",
            "1",
            "--json",
        ]
    };
    let run = |a: Vec<&str>| -> serde_json::Value {
        let out = parallax(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let prefill = run(args("--prefill", "1x10"));
    assert!(
        prefill["speculation"].get("ms_per_token").is_none(),
        "{prefill}"
    );
    let decode = run(args("--decode", "8x1000"));
    assert!(decode["speculation"]["ms_per_token"].as_f64().unwrap() > 0.0);
}
