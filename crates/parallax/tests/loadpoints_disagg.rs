//! Disaggregated load points (aiconfigurator `mode = disagg` rows): their pools are parsed,
//! they are predicted through the disaggregated simulator, and summarised apart from the
//! aggregated rows.

use parallax::loadpoints::{parse_load_points, validate_load_points, LoadPointOptions};

const DEV: &str = include_str!("../data/serving/aiconfigurator/silicon_train.csv");

#[test]
fn pools_are_parsed_from_the_prefill_and_decode_columns() {
    let pts = parse_load_points("dev.csv", DEV).unwrap();
    let dis: Vec<_> = pts.iter().filter(|p| p.mode == "disagg").collect();
    assert_eq!(dis.len(), 8);
    assert!(dis.iter().all(|p| p.disagg.is_some()));
    assert!(pts
        .iter()
        .filter(|p| p.mode != "disagg")
        .all(|p| p.disagg.is_none()));
    let v = dis
        .iter()
        .find(|p| p.engine == parallax::EngineKind::Vllm)
        .unwrap();
    let s = v.disagg.unwrap();
    assert_eq!((s.prefill_workers, s.prefill_tp, s.prefill_pp), (8, 1, 1));
    assert_eq!((s.decode_workers, s.decode_tp, s.decode_pp), (2, 4, 1));
    assert_eq!(
        (s.prefill_batch_size, s.decode_batch_size),
        (Some(1), Some(224))
    );
    assert_eq!(
        parallax::loadpoints::disagg::plan_of(&s).to_string(),
        "prefill=8x(dp=1,pp=1,tp=1);decode=2x(dp=1,pp=1,tp=4)"
    );
    // A bad pool cell names the line, the column and the value.
    let header = DEV.lines().next().unwrap();
    let row = DEV.lines().find(|l| l.contains("vllm_disagg")).unwrap();
    let bad = row.replace(",1,8,1,1,1,0,0,224,2,4,", ",1,eight,1,1,1,0,0,224,2,4,");
    assert_ne!(bad, row);
    let e = parse_load_points("x.csv", &format!("{header}\n{bad}\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.csv:2") && e.contains("prefill_num_workers") && e.contains("eight"),
        "{e}"
    );
}

#[test]
fn disaggregated_rows_are_predicted_and_summarised_apart() {
    let pts: Vec<_> = parse_load_points("dev.csv", DEV)
        .unwrap()
        .into_iter()
        .filter(|p| p.mode == "disagg")
        .collect();
    let rep = validate_load_points("dev.csv", &pts, &LoadPointOptions::default());
    for r in &rep.rows {
        assert!(r.skipped.is_none(), "{}: {:?}", r.point.id, r.skipped);
        assert!(r.predicted_ttft_ms > 0.0 && r.predicted_tpot_ms > 0.0);
        println!(
            "{} {:?}: TTFT {:.0} vs {:.0} ms ({:+.0}%), TPOT {:.1} vs {:.1} ms ({:+.0}%)",
            r.point.system,
            r.point.concurrency,
            r.predicted_ttft_ms,
            r.point.ttft_ms,
            r.ttft_error_pct,
            r.predicted_tpot_ms,
            r.point.tpot_ms,
            r.tpot_error_pct
        );
    }
    // Apart: none of them in the per-engine or overall figures.
    assert!(rep.by_engine.iter().all(|s| s.ttft.is_none()));
    assert!(rep.ttft.is_none());
    let d = &rep.disaggregated;
    assert_eq!(d.ttft.as_ref().unwrap().count, 8);
    // The rows with a recorded client concurrency (the Blackwell TensorRT-LLM ones): TPOT
    // within 50 % (measured 28–46 %), pinned so a regression fails.
    for r in rep.rows.iter().filter(|r| r.point.concurrency.is_some()) {
        assert!(
            r.tpot_error_pct.abs() < 50.0,
            "{}: {}",
            r.point.id,
            r.tpot_error_pct
        );
    }
}

#[test]
fn an_implied_concurrency_past_the_limit_is_skipped_with_the_reason() {
    // A row without a recorded concurrency implies decode_batch_size × decode_num_workers
    // clients: 65,536 × 1,000 is past MAX_CONCURRENCY (it aborted allocating the requests).
    let header = DEV.lines().next().unwrap();
    let row = DEV.lines().find(|l| l.contains("vllm_disagg")).unwrap();
    let big = row.replace(",224,2,4,", ",65536,1000,4,");
    assert_ne!(big, row);
    let pts = parse_load_points("x.csv", &format!("{header}\n{big}\n")).unwrap();
    assert_eq!(pts[0].concurrency, None);
    let rep = validate_load_points("x.csv", &pts, &LoadPointOptions::default());
    let why = rep.rows[0].skipped.as_deref().unwrap_or_default();
    assert!(why.contains("65536000") && why.contains("4096"), "{why}");
}

#[test]
fn pools_past_the_simulated_size_are_skipped_with_their_true_gpu_count() {
    // 65,536 prefill workers of 65,536 GPUs: the count is shown whole, not saturated at
    // u32::MAX.
    let header = DEV.lines().next().unwrap();
    let row = DEV
        .lines()
        .find(|l| l.contains("b200_sxm_trtllm_disagg"))
        .unwrap();
    let big = row.replace(",1,40,1,1,1,1,1,80,6,4,", ",1,65536,65536,1,1,1,1,80,6,4,");
    assert_ne!(big, row);
    let pts = parse_load_points("x.csv", &format!("{header}\n{big}\n")).unwrap();
    let rep = validate_load_points("x.csv", &pts, &LoadPointOptions::default());
    let why = rep.rows[0].skipped.as_deref().unwrap_or_default();
    assert!(
        why.contains("4294967320 GPUs") && why.contains("decode 24") && !why.contains("4294967295"),
        "{why}"
    );
}

/// A MoE row's pools are laid out from their own attention-DP and expert-parallel columns, as
/// an aggregated worker is; degrees that do not fit together are a reason naming the pool.
#[test]
fn moe_pools_take_their_attention_dp_and_expert_parallel_degrees() {
    let header = DEV.lines().next().unwrap();
    let row = DEV.lines().find(|l| l.contains("vllm_disagg")).unwrap();
    // The vLLM row's pools (8 prefill workers of TP 1, 2 decode workers of TP 4; MoE
    // columns 0) as a Qwen3-30B-A3B deployment whose decode workers run DP attention 4 with
    // the experts over 4 GPUs (TP 1 each).
    let cols: Vec<&str> = header.split(',').collect();
    let at = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let mut cells: Vec<String> = row.split(',').map(str::to_string).collect();
    cells[at("model_path")] = "Qwen/Qwen3-30B-A3B".into();
    cells[at("decode_tp_size")] = "1".into();
    cells[at("decode_attention_dp_size")] = "4".into();
    cells[at("decode_moe_ep_size")] = "4".into();
    let text = format!("{header}\n{}\n", cells.join(","));
    let pts = parse_load_points("moe.csv", &text).unwrap();
    let s = pts[0].disagg.unwrap();
    assert_eq!(
        (
            s.decode_tp,
            s.decode_attention_dp,
            s.decode_moe_tp,
            s.decode_moe_ep
        ),
        (1, 4, None, Some(4))
    );
    assert_eq!(s.decode().worker_gpus(), 4);
    let rep = validate_load_points("moe.csv", &pts, &LoadPointOptions::default());
    let r = &rep.rows[0];
    assert!(r.skipped.is_none(), "{:?}", r.skipped);
    assert!(r.predicted_ttft_ms > 0.0 && r.predicted_tpot_ms > 0.0);
    // experts over 3 of the 4 GPUs: refused, naming the pool
    cells[at("decode_moe_ep_size")] = "3".into();
    let text = format!("{header}\n{}\n", cells.join(","));
    let pts = parse_load_points("moe.csv", &text).unwrap();
    let rep = validate_load_points("moe.csv", &pts, &LoadPointOptions::default());
    let why = rep.rows[0].skipped.as_deref().unwrap_or("");
    assert!(
        why.contains("decode pool") && why.contains("moe_ep_size 3"),
        "{why}"
    );
}
