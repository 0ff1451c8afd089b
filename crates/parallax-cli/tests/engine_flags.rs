//! vLLM's engine switches (`--enforce-eager`, `--disable-custom-all-reduce`) and flag names
//! (`--enable-prefix-caching`, `--preemption-mode`) on `predict`, `simulate` and `search`.

use crate::common;
use common::{json, parallax};
use serde_json::Value;

/// A one-GPU decode iteration for `predict`.
const ONE_GPU: [&str; 7] = [
    "predict",
    "--model",
    "llama-3.1-8b",
    "--gpu",
    "H100",
    "--decode",
    "8x512",
];

fn predict(extra: &[&str]) -> Value {
    let mut args = vec![
        "predict",
        "--model",
        "llama-3.1-70b",
        "--gpu",
        "H100",
        "--tp",
        "8",
        "--decode",
        "32x1024",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

#[test]
fn enforce_eager_and_nccl_all_reduce_cost_what_they_should() {
    let base = predict(&[]);
    let ms = |v: &Value| v["iteration_ms"].as_f64().unwrap();
    let graph = |v: &Value| v["cuda_graph"].as_bool().unwrap();
    assert!(graph(&base));
    // --enforce-eager is --cuda-graphs off.
    let eager = predict(&["--enforce-eager"]);
    assert!(!graph(&eager));
    assert_eq!(ms(&eager), ms(&predict(&["--cuda-graphs", "off"])));
    assert!(ms(&eager) > ms(&base));
    // NCCL for the small decode all-reduces is slower than the custom one-shot kernel.
    let nccl = predict(&["--disable-custom-all-reduce"]);
    assert!(graph(&nccl));
    assert!(ms(&nccl) > ms(&base), "{} vs {}", ms(&nccl), ms(&base));
    // On one GPU there is nothing to all-reduce.
    let one = |extra: &[&str]| ms(&json(&[&ONE_GPU[..], &["--json"], extra].concat()));
    assert_eq!(one(&["--disable-custom-all-reduce"]), one(&[]));
}

#[test]
fn simulate_and_search_take_vllm_flag_names() {
    let sim = |extra: &[&str]| {
        let mut a = vec!["simulate", "--requests", "60", "--json"];
        a.extend_from_slice(extra);
        json(&a)
    };
    let tpot = |v: &Value| v["tpot_ms"]["mean"].as_f64().unwrap();
    let base = sim(&[]);
    assert!(tpot(&sim(&["--enforce-eager"])) > tpot(&base));
    assert!(tpot(&sim(&["--disable-custom-all-reduce"])) > tpot(&base));
    // vLLM's names of our flags mean the same.
    assert_eq!(
        sim(&["--enable-prefix-caching", "--preemption-mode", "swap"]),
        sim(&["--prefix-caching", "--preemption", "swap"])
    );
    let search = |extra: &[&str]| {
        let mut a = vec!["search", "--requests", "40", "--top", "2", "--json"];
        a.extend_from_slice(extra);
        json(&a)
    };
    assert_eq!(
        search(&["--enable-prefix-caching", "--enforce-eager"]),
        search(&["--prefix-caching", "--enforce-eager"])
    );
    // vLLM V0 with --enable-chunked-prefill takes V0's chunked budget (512), as vLLM does.
    let v0 = [
        "--engine",
        "vllm-v0",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--plan",
        "tp=1",
        "--max-model-len",
        "8192",
        "--enable-chunked-prefill",
    ];
    assert_eq!(
        sim(&v0),
        sim(&[&v0[..], &["--max-num-batched-tokens", "512"]].concat())
    );
    assert_ne!(sim(&v0), sim(&v0[..v0.len() - 1]));
    // The switches change search's results too, and are emitted with the plan.
    assert_ne!(search(&[]), search(&["--enforce-eager"]));
    let launch = sim(&[
        "--enforce-eager",
        "--disable-custom-all-reduce",
        "--emit",
        "vllm",
    ]);
    let text = launch["launch"].to_string();
    assert!(
        text.contains("--enforce-eager") && text.contains("--disable-custom-all-reduce"),
        "{text}"
    );
    // predict refuses contradicting flags.
    let out = parallax(&[&ONE_GPU[..], &["--cuda-graphs", "on", "--enforce-eager"]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--enforce-eager"));
    // Serving-run files' errors name their columns, not flags.
    let dir = std::env::temp_dir().join(format!("parallax-ef-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("runs.csv");
    std::fs::write(
        &csv,
        "model,cluster,plan,workload,requests,ttft_ms,tpot_ms,max_num_seqs\n\
         llama-3.1-8b,1x1xH100,tp=1,chat,8,40,9,0\n",
    )
    .unwrap();
    let out = parallax(&["validate", "--serving", csv.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("column `max_num_seqs`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    // An unknown vLLM flag is refused by name, not ignored.
    let out = parallax(&["simulate", "--num-scheduler-steps", "8"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--num-scheduler-steps"));
}

/// `simulate` reports the engine's memory setting and the KV cache it leaves one replica:
/// SGLang's `mem_fraction_static` formula, TensorRT-LLM's free-memory fraction, vLLM's
/// utilization; `--gpu-memory-utilization` replaces the engine's rule with vLLM's.
#[test]
fn simulate_reports_each_engines_memory_rule() {
    let memory = |extra: &[&str]| {
        let mut a = vec![
            "simulate",
            "--model",
            "llama-3.1-70b",
            "--cluster",
            "1x8xH100",
            "--requests",
            "16",
            "--json",
        ];
        a.extend_from_slice(extra);
        json(&a)["memory"].clone()
    };
    let setting = |v: &Value| {
        (
            v["setting"].as_str().unwrap().to_string(),
            v["fraction"].as_f64().unwrap(),
        )
    };
    let kv = |v: &Value| v["kv_tokens_per_replica"].as_u64().unwrap();
    let vllm = memory(&["--engine", "vllm"]);
    assert_eq!(setting(&vllm), ("gpu_memory_utilization".into(), 0.9));
    let sglang = memory(&["--engine", "sglang"]);
    // TP 8 on an H100: 512 + 12,288 + 1,024 + 1,024 MiB reserved of 81,920
    assert_eq!(setting(&sglang), ("mem_fraction_static".into(), 0.819));
    // SGLang's default is per plan (TP 1: 0.836) and follows the token budget (1.5 MiB per
    // token of chunk: 32,768 at TP 8 reserves 50,688 MiB).
    let tp1 = json(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x8xH100",
        "--requests",
        "16",
        "--json",
        "--engine",
        "sglang",
        "--plan",
        "tp=1",
    ])["memory"]
        .clone();
    assert_eq!(setting(&tp1), ("mem_fraction_static".into(), 0.836));
    let big = memory(&["--engine", "sglang", "--max-batched-tokens", "32768"]);
    assert_eq!(setting(&big), ("mem_fraction_static".into(), 0.369));
    let trt = memory(&["--engine", "trtllm"]);
    assert_eq!(setting(&trt), ("free_gpu_memory_fraction".into(), 0.9));
    // Same weights, a KV cache of its own under each rule.
    let w = |v: &Value| v["weights_gib_per_gpu"].as_f64().unwrap();
    assert!(w(&vllm) > 16.0 && w(&vllm) == w(&sglang) && w(&sglang) == w(&trt));
    assert!(
        kv(&sglang) < kv(&vllm) && kv(&vllm) < kv(&trt),
        "{sglang} {vllm} {trt}"
    );
    // vLLM's flag: vLLM's rule for any engine.
    let flagged = memory(&["--engine", "sglang", "--gpu-memory-utilization", "0.9"]);
    assert_eq!(setting(&flagged), ("gpu_memory_utilization".into(), 0.9));
    // (SGLang's larger running limit reserves more logits memory than vLLM's)
    let ratio = kv(&flagged) as f64 / kv(&vllm) as f64;
    assert!(ratio > 0.98 && ratio <= 1.0, "{ratio}");
    let out = parallax(&[
        "simulate",
        "--model",
        "llama-3.1-70b",
        "--cluster",
        "1x8xH100",
        "--requests",
        "16",
        "--engine",
        "sglang",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("memory        mem_fraction_static 0.819 (engine default): KV cache "),
        "{text}"
    );
}

/// vLLM accepts `--swap-space` and a host-link setting in any mode; where they change nothing
/// the run says so on stderr instead of ignoring them silently (`simulate` and `search`).
#[test]
fn host_memory_flags_without_effect_are_noted() {
    let stderr = |args: &[&str]| {
        let out = parallax(args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // stderr of `simulate` with a few requests and `extra` flags
    let sim =
        |extra: &[&str]| stderr(&[&["simulate", "--requests", "8", "--json"], extra].concat());
    let unused = sim(&["--swap-space", "16", "--host-link-gbps", "25"]);
    assert!(
        unused.contains("note: --swap-space 16 has no effect without --preemption swap"),
        "{unused}"
    );
    assert!(
        unused.contains("note: --host-link-gbps 25 has no effect"),
        "{unused}"
    );
    // a router with one replica to route to
    let one = sim(&[
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1xH100",
        "--plan",
        "tp=1",
        "--router",
        "random",
    ]);
    assert!(
        one.contains("note: --router random has no effect: plan `dp=1,pp=1,tp=1` has one replica"),
        "{one}"
    );
    let two = sim(&[
        "-m",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--plan",
        "dp=2,tp=1",
        "--router",
        "random",
    ]);
    assert!(!two.contains("--router"), "{two}");
    // Used: swap preemption takes both; a host tier takes the link.
    let used = sim(&[
        "--preemption",
        "swap",
        "--swap-space",
        "16",
        "--host-link-gbps",
        "25",
    ]);
    assert!(!used.contains("no effect"), "{used}");
    let tier = sim(&[
        "--prefix-caching",
        "--cpu-prefix-cache",
        "2",
        "--host-link-gbps",
        "25",
    ]);
    assert!(!tier.contains("no effect"), "{tier}");
    // TensorRT-LLM's engine model never preempts: swap preemption changes nothing.
    let trt = sim(&[
        "--engine",
        "trtllm",
        "--preemption",
        "swap",
        "--swap-space",
        "8",
    ]);
    assert!(
        trt.contains("note: --preemption swap has no effect")
            && trt.contains("note: --swap-space 8 has no effect"),
        "{trt}"
    );
    let search = stderr(&[
        "search",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x2xH100",
        "--requests",
        "16",
        "--json",
        "--swap-space",
        "8",
    ]);
    assert!(
        search.contains("note: --swap-space 8 has no effect"),
        "{search}"
    );
}

/// `--capacity-scheduler-policy` (TensorRT-LLM's names, either spelling) overrides the engine's
/// admission on `simulate` and `search`: max-utilization admits on the prompt and can preempt,
/// and emitting for TensorRT-LLM then writes that policy; unknown names are refused.
#[test]
fn capacity_scheduler_policy_overrides_the_engines_admission() {
    let tight = [
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--cluster",
        "1x1xH100",
        "--engine",
        "trtllm",
        "--gpu-memory-utilization",
        "0.3",
        "--workload",
        "synthetic:requests=64,rate=50,prompt=fixed(2000),output=fixed(2000)",
        "--json",
    ];
    let run = |extra: &[&str]| json(&[&tight[..], extra].concat());
    let preemptions = |v: &Value| v["requests"]["preemptions"].as_u64().unwrap();
    let reserved = run(&[]);
    assert_eq!(preemptions(&reserved), 0);
    assert_eq!(
        run(&["--capacity-scheduler-policy", "GUARANTEED_NO_EVICT"])["requests"],
        reserved["requests"]
    );
    let prompt_only = run(&["--capacity-scheduler-policy", "max-utilization"]);
    assert!(preemptions(&prompt_only) > 0, "{}", prompt_only["requests"]);
    let out = parallax(&[
        "simulate",
        "--requests",
        "8",
        "--engine",
        "trtllm",
        "--capacity-scheduler-policy",
        "max_utilization",
        "--emit",
        "trtllm",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("capacity_scheduler_policy: MAX_UTILIZATION")
    );
    for cmd in ["simulate", "search"] {
        let out = parallax(&[
            cmd,
            "--requests",
            "8",
            "--capacity-scheduler-policy",
            "evict",
        ]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid --capacity-scheduler-policy `evict`: expected guaranteed-no-evict or max-utilization"),
            "{err}"
        );
    }
}

/// vLLM's `--enable-expert-parallel` beside its size flags: EP over the TP group, or with
/// `--data-parallel-size` data-parallel attention and EP over every GPU, as vLLM runs it; the
/// launch written back for vLLM carries the same flags.
#[test]
fn simulate_takes_vllm_enable_expert_parallel() {
    let launch = |extra: &[&str]| {
        let mut a = vec![
            "simulate",
            "-m",
            "qwen3-30b-a3b",
            "--cluster",
            "1x8xH100",
            "--requests",
            "10",
            "--enable-expert-parallel",
            "--emit",
            "vllm",
            "--json",
        ];
        a.extend_from_slice(extra);
        json(&a)["launch"].clone()
    };
    let ep = launch(&["--tensor-parallel-size", "8"]);
    assert_eq!(ep["plan"], "dp=1,pp=1,tp=8,moe=ep8xtp1");
    let dp_ep = launch(&["--tensor-parallel-size", "2", "--data-parallel-size", "4"]);
    assert_eq!(dp_ep["plan"], "dp=1,pp=1,tp=8,attn=4xtp2,moe=ep8xtp1");
    let argv = dp_ep["instances"][0]["argv"].to_string();
    assert!(
        argv.contains("\"--data-parallel-size\",\"4\"")
            && argv.contains("\"--tensor-parallel-size\",\"2\"")
            && argv.contains("--enable-expert-parallel"),
        "{argv}"
    );
    // a dense model has no experts to split
    let out = parallax(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--requests",
        "4",
        "--enable-expert-parallel",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MoE layers"));
}
