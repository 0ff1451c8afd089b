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
