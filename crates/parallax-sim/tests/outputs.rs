//! Metrics JSON shape, SLO attainment, per-request CSV and the Chrome trace.

use crate::common;
use common::*;
use parallax_sim::*;
use std::sync::Arc;

#[test]
fn metrics_json_has_the_documented_fields() {
    let w = workload::embedded("chat").unwrap().take(100).unwrap();
    let rep = run(
        vec![replica(vec![affine()], 20_000, 16)],
        config(SchedulerKind::VllmV0),
        &w,
    );
    let v: serde_json::Value = serde_json::to_value(&rep.metrics).unwrap();
    assert_eq!(v["requests"]["completed"], 100);
    assert_eq!(v["requests"]["rejected"], 0);
    for s in ["ttft_ms", "tpot_ms", "e2e_s", "queue_ms"] {
        for q in ["mean", "p50", "p90", "p95", "p99", "max", "count"] {
            assert!(v[s][q].is_number(), "{s}.{q}");
        }
        assert!(v[s]["p50"].as_f64() <= v[s]["p99"].as_f64());
    }
    assert!(v["throughput"]["output_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["makespan_s"].as_f64().unwrap() > 0.0);
    assert!(v["iterations"].as_u64().unwrap() >= 100);
    for k in [
        "gemm",
        "attention",
        "elementwise",
        "communication",
        "overhead",
    ] {
        assert!(v["breakdown_s"][k].is_number(), "{k}");
    }
    let g = &rep.metrics.gpu;
    assert!(g.utilisation > 0.0 && g.utilisation <= 1.0);
    assert!(g.mfu > 0.0 && g.mfu < 1.0 && g.mbu > 0.0 && g.mbu < 1.0);
    assert!(g.mean_power_w > 100.0 && g.mean_power_w < 700.0);
    // Throughput is tokens over makespan.
    let t = rep.metrics.tokens.output as f64 / rep.metrics.makespan_s;
    assert!((rep.metrics.throughput.output_tokens_per_s - t).abs() < 1e-9);
}

#[test]
fn slo_attainment_and_goodput() {
    // Constant 10 ms iterations, isolated requests: TTFT = 10 ms and TPOT = 10 ms exactly.
    let w = workload(&[(0.0, 10, 5), (1.0, 10, 5), (2.0, 10, 5), (3.0, 10, 1)]);
    let mut cfg = config(SchedulerKind::VllmV0);
    // (1.01 − 1.0 is 10.000000000000009 ms in floating point, hence the 1 µs margin.)
    cfg.slo = Slo {
        ttft_ms: Some(10.001),
        tpot_ms: Some(10.001),
    };
    let rep = run(vec![const_replica(0.01, 100, 16)], cfg, &w);
    assert_eq!(rep.metrics.slo.attainment, Some(1.0));
    cfg.slo = Slo {
        ttft_ms: Some(9.0),
        tpot_ms: None,
    };
    let rep = run(vec![const_replica(0.01, 100, 16)], cfg, &w);
    assert_eq!(rep.metrics.slo.attainment, Some(0.0));
    assert_eq!(rep.metrics.slo.goodput_requests_per_s, Some(0.0));
    let rep = run(
        vec![const_replica(0.01, 100, 16)],
        config(SchedulerKind::VllmV0),
        &w,
    );
    assert_eq!(rep.metrics.slo.attainment, None);
    // makespan = 3.01 - 0; 4 requests.
    assert!((rep.metrics.throughput.requests_per_s - 4.0 / 3.01).abs() < 1e-9);
}

#[test]
fn requests_csv_has_one_row_per_request() {
    let w = workload(&[(0.0, 10, 3), (0.005, 20, 2)]);
    let rep = run(
        vec![const_replica(0.01, 100, 16)],
        config(SchedulerKind::VllmV0),
        &w,
    );
    let csv = requests_csv(&rep);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "id,arrival_s,prompt_tokens,output_tokens,replica,status,preemptions,queue_s,ttft_s,tpot_s,e2e_s,finish_s,decode_replica");
    assert!(
        lines[1] == "0,0,10,3,0,completed,0,0,0.01,0.015,0.04,0.04,",
        "{}",
        lines[1]
    );
}

#[test]
fn chrome_trace_has_a_span_per_stage_iteration_only_when_recorded() {
    let w = workload(&[(0.0, 10, 3), (0.0, 20, 4), (0.3, 5, 5)]);
    let stages: Vec<Arc<dyn StageCost>> = vec![affine(), affine()];
    let mut cfg = config(SchedulerKind::Orca);
    let rep = run(vec![replica(stages.clone(), 100, 16)], cfg, &w);
    assert!(rep.timeline.is_none());
    let empty: serde_json::Value = serde_json::from_str(&chrome_trace(&rep)).unwrap();
    assert_eq!(empty["traceEvents"].as_array().unwrap().len(), 0);
    cfg.record_timeline = true;
    let rep = run(vec![replica(stages, 100, 16)], cfg, &w);
    let v: serde_json::Value = serde_json::from_str(&chrome_trace(&rep)).unwrap();
    let xs: Vec<&serde_json::Value> = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    assert_eq!(xs.len() as u64, rep.metrics.iterations * 2);
    assert!(xs.iter().all(|e| e["dur"].as_f64().unwrap() > 0.0));
    assert!(xs.iter().any(|e| e["tid"] == 1));
}
