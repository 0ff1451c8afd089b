//! `--moe-skew`, `--expert-load` and `--eplb` on `simulate` and `search` (documented in
//! `docs/cli.md`, "MoE routing skew").

use crate::common;
use common::{json, parallax};
use serde_json::Value;

fn simulate(extra: &[&str]) -> Value {
    let mut args = vec![
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--cluster",
        "1x8xH100",
        "--plan",
        "ep=8",
        "-w",
        "summarization",
        "--requests",
        "64",
        "--rate",
        "20",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = parallax(&args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Mean TTFT: prefill is compute-bound on the routed experts, so it waits for the busiest
/// rank. (Decode is weight-bound: a skewed router touches fewer distinct experts, so TPOT
/// can even improve; see docs/cli.md.)
fn ttft(v: &Value) -> f64 {
    v["ttft_ms"]["mean"].as_f64().unwrap()
}

fn error(args: &[&str]) -> String {
    let out = parallax(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn skew_slows_an_ep_plan_and_eplb_recovers_part() {
    let dir = std::env::temp_dir().join(format!("parallax-moe-skew-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flat = dir.join("flat.txt");
    std::fs::write(&flat, "# balanced\n".to_string() + &["1"; 128].join(",")).unwrap();
    let none = simulate(&[]);
    assert!(none.get("moe_busiest_rank_share").is_none());
    // A measured balanced load is today's result exactly.
    let mut balanced = simulate(&["--expert-load", flat.to_str().unwrap()]);
    assert_eq!(balanced["moe_busiest_rank_share"].as_f64(), Some(0.125));
    let ranks = balanced["moe_rank_load"].clone();
    assert_eq!(ranks["shares"], serde_json::json!(vec![0.125; 8]));
    assert_eq!(ranks["imbalance"].as_f64(), Some(1.0));
    for k in ["moe_busiest_rank_share", "moe_rank_load"] {
        balanced.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(balanced, none);
    let skew = simulate(&["--moe-skew", "zipf:1.2"]);
    let eplb = simulate(&["--moe-skew", "zipf:1.2", "--eplb", "8"]);
    let share = |v: &Value| v["moe_busiest_rank_share"].as_f64().unwrap();
    // no expert takes more than 1/top_k of the pairs (zipf capped there): 0.24, not 0.125
    assert!(share(&skew) > 0.2, "{}", share(&skew));
    assert!(share(&eplb) < share(&skew));
    assert!(
        ttft(&skew) > ttft(&none) * 1.03,
        "{} vs {}",
        ttft(&skew),
        ttft(&none)
    );
    assert!(
        ttft(&eplb) < ttft(&skew),
        "{} vs {}",
        ttft(&eplb),
        ttft(&skew)
    );
    // Deterministic: the same flags give the same output.
    assert_eq!(simulate(&["--moe-skew", "zipf:1.2"]), skew);
    // Wrong length, and a non-number, are errors naming the file.
    let short = dir.join("short.txt");
    std::fs::write(&short, "1 2 3").unwrap();
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--expert-load",
        short.to_str().unwrap(),
    ]);
    assert!(
        e.contains("--expert-load") && e.contains("3 loads") && e.contains("128"),
        "{e}"
    );
    std::fs::write(&short, "1\n2 x").unwrap();
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--expert-load",
        short.to_str().unwrap(),
    ]);
    assert!(e.contains("line 2 (expert 2)") && e.contains("`x`"), "{e}");
    // A value out of range names its line and is quoted as written.
    for bad in ["nan", "-1e0", "inf", "1e999"] {
        std::fs::write(&short, format!("# loads\n1, 2\n3 {bad}")).unwrap();
        let e = error(&[
            "simulate",
            "-m",
            "qwen3-30b-a3b",
            "--plan",
            "ep=8",
            "--expert-load",
            short.to_str().unwrap(),
        ]);
        assert!(
            e.contains("line 3 (expert 3)") && e.contains(&format!("`{bad}`")),
            "{e}"
        );
        assert!(e.contains("a finite load >= 0"), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_flags_are_errors() {
    let base = [
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--requests",
        "4",
    ];
    for (v, why) in [
        ("zipf:0", "out of range"),
        ("zipf:10.5", "out of range"),
        ("zipf:-1", "out of range"),
        ("zipf:nan", "out of range"),
        ("zipf:x", "not a number"),
        ("uniform:1", "unknown skew model"),
        ("zipf:1:-3", "seed"),
    ] {
        let mut a = base.to_vec();
        a.extend(["--moe-skew", v]);
        let e = error(&a);
        assert!(
            e.contains("--moe-skew") && e.contains(v) && e.contains(why),
            "{v}: {e}"
        );
    }
    let mut a = base.to_vec();
    a.extend(["--moe-skew", "zipf:1", "--eplb", "3"]);
    let e = error(&a);
    assert!(e.contains("eplb") && e.contains("ep=8"), "{e}");
    // Without expert parallelism redundant experts balance nothing (they shifted TPOT by
    // their memory before): refused, naming the plan.
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "tp=8",
        "--requests",
        "4",
        "--eplb",
        "8",
    ]);
    assert!(
        e.contains("--eplb `8`") && e.contains("no expert parallelism (ep = 1)"),
        "{e}"
    );
    let e = error(&[
        "simulate",
        "-m",
        "llama-3.1-8b",
        "--plan",
        "tp=1",
        "--moe-skew",
        "zipf:1",
    ]);
    assert!(
        e.contains("--moe-skew") && e.contains("no MoE layers"),
        "{e}"
    );
    let e = error(&["search", "-m", "llama-3.1-8b", "--eplb", "8"]);
    assert!(e.contains("--eplb") && e.contains("no MoE layers"), "{e}");
    let e = error(&["search", "-m", "qwen3-30b-a3b", "--eplb", "5000"]);
    assert!(e.contains("--eplb 5000"), "{e}");
}

/// `parallax search … --json` of qwen3-30b-a3b (disaggregation off) with `extra`, which must
/// succeed: its `plans_pruned` counts.
fn search_pruned(extra: &[&str]) -> Value {
    let mut args = vec![
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--disaggregation",
        "off",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = parallax(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["best"]["plan"].as_str().is_some(), "{}", v["best"]);
    v["plans_pruned"].clone()
}

#[test]
fn search_prunes_plans_eplb_does_not_divide() {
    let pruned = search_pruned(&[
        "--cluster",
        "1x8xH100",
        "-w",
        "chat",
        "--requests",
        "32",
        "--moe-skew",
        "zipf:1.2",
        "--eplb",
        "3",
    ]);
    assert!(pruned["moe-load"].as_u64().unwrap() > 0, "{pruned}");
}

/// EPLB replicas whose weights do not fit beside a plan's are pruned (counted under
/// `eplb-memory`), not an error that ends the search: 256 replicas of Qwen3-30B-A3B's
/// experts put 128 on each rank of an EP 2 plan, more than an H100 holds beside the model,
/// but fit where EP 4 splits them further. (Plans without expert parallelism hold none.)
#[test]
fn search_prunes_plans_eplb_replicas_overfill() {
    let pruned = search_pruned(&["--cluster", "1x4xH100", "--requests", "20", "--eplb", "256"]);
    assert!(pruned["eplb-memory"].as_u64().unwrap() > 0, "{pruned}");
}

/// `simulate --json`'s `moe_rank_load` on a hand case: Mixtral's 8 experts with measured loads
/// 4,2,1,1,0,0,0,0 over `ep=2` (ranks hold experts 0–3 and 4–7), then `ep=4` with EPLB.
#[test]
fn per_rank_load_on_a_hand_case() {
    let dir = std::env::temp_dir().join(format!("parallax-moe-ranks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("load.txt");
    std::fs::write(&file, "# per-expert counts\n4, 2, 1, 1\n0 0 0 0\n").unwrap();
    let timeline = dir.join("trace.json");
    let run = |plan: &str, eplb: &str| -> Value {
        let out = parallax(&[
            "simulate",
            "-m",
            "mixtral-8x7b",
            "--cluster",
            "1x8xH100",
            "--plan",
            plan,
            "-w",
            "chat",
            "--requests",
            "16",
            "--expert-load",
            file.to_str().unwrap(),
            "--eplb",
            eplb,
            "--timeline",
            timeline.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run("tp=2,moe=ep2xtp1", "0");
    let r = &v["moe_rank_load"];
    // Rank 0 holds experts 0-3: (4+2+1+1)/8 = 100 % of the pairs, rank 1 none.
    assert_eq!(r["shares"], serde_json::json!([1.0, 0.0]));
    assert_eq!(
        (r["ep"].as_u64(), r["experts"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(
        (r["top_k"].as_u64(), r["moe_layers"].as_u64()),
        (Some(2), Some(32))
    );
    assert_eq!(r["busiest_rank"].as_u64(), Some(0));
    assert_eq!(r["imbalance"].as_f64(), Some(2.0));
    assert_eq!(v["moe_busiest_rank_share"].as_f64(), Some(1.0));
    // Pairs per layer: every token through the model visits top_k = 2 experts.
    let forward = v["tokens"]["forward"].as_u64().unwrap();
    assert_eq!(r["forward_tokens"].as_u64(), Some(forward));
    let prompt = v["tokens"]["prompt"].as_u64().unwrap();
    let output = v["tokens"]["output"].as_u64().unwrap();
    assert_eq!(v["requests"]["preemptions"], 0);
    // No preemption: each prompt token once, then one decode step per later output token.
    assert_eq!(forward, prompt + output - 16);
    let pairs = r["routed_pairs_per_layer"].as_array().unwrap();
    assert_eq!(pairs[0].as_f64(), Some(2.0 * forward as f64));
    assert_eq!(pairs[1].as_f64(), Some(0.0));
    // The timeline draws the per-rank pairs as counters: 2 × tokens × share per iteration.
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    let ev = trace["traceEvents"].as_array().unwrap();
    let spans: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "X").collect();
    let counters: Vec<&Value> = ev
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"].as_str().unwrap().starts_with("MoE routed pairs"))
        .collect();
    assert_eq!(counters.len(), 2 * spans.len());
    let drawn: f64 = counters
        .iter()
        .map(|c| c["args"]["rank 0"].as_f64().unwrap())
        .sum();
    assert_eq!(drawn, 2.0 * forward as f64);
    // ep=4 with 4 EPLB replicas (3 slots per rank): the replicas go to experts 0, 0, 1, 0
    // (largest per-replica load first: 4, 2, 2, 4/3 ...), giving per-replica loads
    // 1, 1, 1, 1 (expert 0 × 4), 1, 1 (expert 1 × 2), 1, 1, 0 × 4, packed hottest first onto
    // the least-loaded rank: every rank gets 2 of the 8 unit loads.
    let v = run("tp=4,moe=ep4xtp1", "4");
    let r = &v["moe_rank_load"];
    assert_eq!(r["redundant_experts"].as_u64(), Some(4));
    assert_eq!(r["slots_per_rank"].as_u64(), Some(3));
    assert_eq!(r["shares"], serde_json::json!([0.25, 0.25, 0.25, 0.25]));
    std::fs::remove_dir_all(&dir).ok();
}

/// `search` chooses EPLB itself under a skew (`--eplb auto`, its default then) and reports the
/// choice; `--eplb N` pins it; `simulate --eplb auto` is an error.
#[test]
fn search_chooses_eplb_under_skew() {
    let search = |extra: &[&str]| -> Value {
        let mut a = vec![
            "search",
            "-m",
            "qwen3-30b-a3b",
            "--cluster",
            "1x8xH100",
            "-w",
            "summarization",
            "--requests",
            "32",
            "--rate",
            "20",
            "--objective",
            "tpot-mean",
            "--parallelisms",
            "tp,ep",
            "--disaggregation",
            "off",
            "--top",
            "50",
            "--json",
        ];
        a.extend_from_slice(extra);
        let out = parallax(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let auto = search(&["--moe-skew", "zipf:1.2"]);
    let ep8 = auto["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan"].as_str().unwrap().contains("ep8"))
        .expect("an ep=8 plan");
    assert_eq!(ep8["eplb"]["redundant_experts"], 8, "{}", ep8["eplb"]);
    let opts = ep8["eplb"]["options"].as_array().unwrap();
    assert_eq!(opts.len(), 2);
    assert!(opts[1]["tpot_ms_mean"].as_f64() < opts[0]["tpot_ms_mean"].as_f64());
    // Explicit `auto` is the default; `--eplb 0` pins EPLB off: no choice reported.
    assert_eq!(search(&["--moe-skew", "zipf:1.2", "--eplb", "auto"]), auto);
    let off = search(&["--moe-skew", "zipf:1.2", "--eplb", "0"]);
    // `--emit` writes the chosen EPLB setting into the launch command. Under SGLang's engine
    // model (objective ttft-mean) the best plan is expert-parallel with EPLB on, and SGLang
    // runs hybrid `ep × tp` MoE layouts: the launch is that plan, with its redundant experts.
    // (Under vLLM's the best plan it can run is plain TP 8: its Triton MoE kernel under EP
    // walks every token, as NVIDIA's sweeps measure; vLLM's EPLB flags are checked in
    // `crates/parallax/tests/search_eplb.rs`.)
    let out = parallax(&[
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--cluster",
        "1x8xH100",
        "-w",
        "summarization",
        "--requests",
        "32",
        "--rate",
        "20",
        "--objective",
        "ttft-mean",
        "--parallelisms",
        "tp,ep",
        "--disaggregation",
        "off",
        "--moe-skew",
        "zipf:1.2",
        "--engine",
        "sglang",
        "--emit",
        "sglang",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let emitted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(emitted["launch"]["plan"], emitted["best"]["plan"]);
    let redundant = emitted["best"]["eplb"]["redundant_experts"]
        .as_u64()
        .unwrap();
    assert!(redundant > 0, "{}", emitted["best"]);
    let argv = emitted["launch"]["instances"][0]["argv"].to_string();
    assert!(
        argv.contains("--enable-eplb")
            && argv.contains(&format!("\"--ep-num-redundant-experts\",\"{redundant}\"")),
        "{argv}"
    );
    assert!(off["ranked"][0].get("eplb").is_none());
    for (v, why) in [
        ("auto:0", "out of range"),
        ("auto:x", "not a number"),
        ("many", "not a number"),
    ] {
        let e = error(&[
            "search",
            "-m",
            "qwen3-30b-a3b",
            "--moe-skew",
            "zipf:1",
            "--eplb",
            v,
        ]);
        assert!(
            e.contains(&format!("--eplb {v}")) && e.contains(why),
            "{v}: {e}"
        );
    }
    let e = error(&[
        "simulate",
        "-m",
        "qwen3-30b-a3b",
        "--plan",
        "ep=8",
        "--moe-skew",
        "zipf:1",
        "--eplb",
        "auto",
    ]);
    assert!(e.contains("--eplb auto") && e.contains("search"), "{e}");
}

/// A disaggregated plan reports one load per pool (each pool its own EP degree), with the
/// tokens each pool ran; an EPLB count a pool cannot divide is an error.
#[test]
fn per_pool_rank_load_of_a_disaggregated_plan() {
    let dir = std::env::temp_dir().join(format!("parallax-moe-pools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("load.txt");
    std::fs::write(&file, "4 2 1 1 0 0 0 0\n").unwrap();
    let timeline = dir.join("trace.json");
    let plan = "prefill=1x(tp=2,moe=ep2xtp1);decode=1x(tp=4,moe=ep4xtp1)";
    let args = |eplb: &'static str| -> Vec<String> {
        [
            "simulate",
            "-m",
            "mixtral-8x7b",
            "--cluster",
            "1x8xH100",
            "--plan",
            plan,
            "-w",
            "chat",
            "--requests",
            "16",
            "--expert-load",
            file.to_str().unwrap(),
            "--eplb",
            eplb,
            "--timeline",
            timeline.to_str().unwrap(),
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args("0");
    let out = parallax(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["moe_busiest_rank_share"].is_null());
    let (pre, dec) = (
        &v["moe_rank_load"]["prefill"],
        &v["moe_rank_load"]["decode"],
    );
    // Prefill ep=2: experts 0-3 on rank 0 (all the load); decode ep=4: experts 0-1 on rank 0
    // ((4 + 2) / 8), 2-3 on rank 1 ((1 + 1) / 8).
    assert_eq!(pre["shares"], serde_json::json!([1.0, 0.0]));
    assert_eq!(dec["shares"], serde_json::json!([0.75, 0.25, 0.0, 0.0]));
    // The prefill pool computed every prompt once, the decode pool one step per later token.
    assert_eq!(v["requests"]["completed"], 16);
    assert_eq!(v["requests"]["preemptions"], 0);
    let prompt = v["tokens"]["prompt"].as_u64().unwrap();
    let output = v["tokens"]["output"].as_u64().unwrap();
    assert_eq!(pre["forward_tokens"].as_u64(), Some(prompt));
    assert_eq!(dec["forward_tokens"].as_u64(), Some(output - 16));
    assert_eq!(v["tokens"]["forward"].as_u64(), Some(prompt + output - 16));
    assert_eq!(
        dec["routed_pairs_per_layer"][0].as_f64(),
        Some(2.0 * 0.75 * (output - 16) as f64)
    );
    // The timeline: each pool's counters on its own replica.
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    for e in trace["traceEvents"].as_array().unwrap() {
        if e["ph"] == "C" && e["name"].as_str().unwrap().starts_with("MoE routed pairs") {
            let ranks = e["args"].as_object().unwrap().len();
            assert_eq!(ranks, if e["pid"] == 0 { 2 } else { 4 }, "{e}");
        }
    }
    // 8 experts + 2 replicas divide over the prefill pool's 2 ranks, not the decode pool's 4.
    let a = args("2");
    let out = parallax(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("eplb") && e.contains("ep=4"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_expert_load_top_k_routing_cannot_produce_is_refused() {
    let dir = std::env::temp_dir().join(format!("parallax-moe-topk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("one.txt");
    // every pair on one expert: Mixtral routes each token to 2 distinct experts of 8
    std::fs::write(&f, "0 0 0 0 0 0 0 1\n").unwrap();
    let e = error(&[
        "simulate",
        "-m",
        "mixtral-8x7b",
        "--cluster",
        "1x4xH100",
        "--plan",
        "ep=2,tp=2",
        "--expert-load",
        f.to_str().unwrap(),
    ]);
    assert!(
        e.contains("one.txt")
            && e.contains("entry 8 (expert 7)")
            && e.contains("1/top_k = 0.5000")
            && e.contains("2 distinct"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn search_says_when_its_engine_cannot_run_the_best_plan() {
    let out = parallax(&[
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--engine",
        "trtllm",
        "--requests",
        "32",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let best = v["best"]["plan"].as_str().unwrap().to_string();
    let err = String::from_utf8_lossy(&out.stderr);
    // whole-MoE replicas and dense-MLP replicas have no TensorRT-LLM flag
    if best.contains("moe=2x") || best.contains("mlp=") {
        assert!(
            err.contains(&format!("cannot express plan `{best}`"))
                && err.contains("the best plan trtllm can run is #"),
            "{best}: {err}"
        );
    } else {
        assert!(!err.contains("cannot express"), "{best}: {err}");
    }
    // no launch is written without --emit
    assert!(v.get("launch").is_none());
}

/// EPLB replicas that overfill some plans (256 per layer: 128 on each rank of an EP 2 pool
/// plan of Qwen3-30B-A3B) drop those plans, from the disaggregated pools as from the
/// aggregated candidates, instead of failing the search.
#[test]
fn search_drops_plans_that_eplb_overfills_from_disaggregated_pools_too() {
    let args = [
        "search",
        "-m",
        "qwen3-30b-a3b",
        "--cluster",
        "1x8xH100",
        "--eplb",
        "256",
        "--requests",
        "16",
        "--json",
    ];
    let v = json(&args);
    assert!(
        v["plans_pruned"]["eplb-memory"].as_u64().unwrap_or(0) > 0,
        "{}",
        v["plans_pruned"]
    );
    assert!(
        !v["disaggregation"].is_null(),
        "disaggregated candidates still searched"
    );
}

/// A plan without expert parallelism holds no EPLB replica (one rank: nothing to balance),
/// so `search --eplb N` scores it as `simulate` runs it without `--eplb` (which it refuses
/// there): the two agree.
#[test]
fn search_eplb_scores_a_plan_without_expert_parallelism_without_replicas() {
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![
            command,
            "-m",
            "qwen3-235b-a22b",
            "--cluster",
            "1x8xH100",
            "--requests",
            "16",
            "--json",
        ];
        args.extend_from_slice(extra);
        json(&args)
    };
    let v = run("search", &["--disaggregation", "off", "--eplb", "8"]);
    let ranked = v["ranked"].as_array().unwrap();
    let no_ep = ranked
        .iter()
        .find(|r| !r["plan"].as_str().unwrap().contains("ep"))
        .expect("a plan without expert parallelism is ranked");
    let plan = no_ep["plan"].as_str().unwrap();
    let sim = run("simulate", &["--plan", plan]);
    assert_eq!(
        no_ep["metrics"]["ttft_ms"]["mean"], sim["ttft_ms"]["mean"],
        "{plan}"
    );
    assert_eq!(
        no_ep["metrics"]["tpot_ms"]["mean"], sim["tpot_ms"]["mean"],
        "{plan}"
    );
}
