//! Hardening of the CLI: the documented maximum of every size, count and duration flag is
//! accepted and one past it is refused with exit 2 naming the flag; durations read the same
//! way everywhere; reproducers of the hardening issue fail fast with a clear error.

use std::process::{Command, Output};

fn parallax(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the parallax binary runs")
}

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
    }
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
        fails_with(&refs(&sim(&[flag, over])), &[flag, max]);
        fails_with(&refs(&sim(&[flag, "0"])), &[flag]);
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
        fails_with(&["search", flag, over], &[flag, max]);
        fails_with(&["search", flag, "0"], &[flag]);
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
            "max_position_embeddings = 131072",
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
