//! `validate_file` on serving-run files: each row is simulated and its mean TTFT/TPOT compared
//! with the measured ones; bad rows name the file, line and column.

use parallax::validate::{parse_serving, validate_file};
use parallax::CostModelChoice;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("parallax-serving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_serving_run_is_simulated_and_compared() {
    let path = write(
        "runs.csv",
        "# a comment\nmodel,cluster,plan,workload,rate,requests,scheduler,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x2xH100,dp=2,chat,2,64,sarathi,40,9\n\
         llama-3.1-8b,1x1xH100,tp=1,chat,,32,,40,9\n",
    );
    let r = validate_file(&path, CostModelChoice::Roofline).unwrap();
    assert_eq!(r.kind, "serving");
    assert_eq!(r.serving.len(), 2);
    for row in &r.serving {
        assert!(row.predicted_ttft_ms > 0.0 && row.predicted_tpot_ms > 0.0);
        let e = 100.0 * (row.predicted_tpot_ms - 9.0) / 9.0;
        assert!((row.tpot_error_pct - e).abs() < 1e-9);
    }
    assert_eq!(r.serving[0].plan, "dp=2,pp=1,tp=1");
    assert_eq!(r.serving[1].line, 4);
    let s = r.summary.unwrap();
    assert_eq!(s.count, 4, "TTFT and TPOT of two runs");
    // The same run simulated directly gives the same means.
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = parallax::hw::Cluster::parse("1x1xH100").unwrap();
    let w = parallax::load_workload("chat", None, Some(32)).unwrap();
    let cost = parallax::cost_model(&cluster, CostModelChoice::Roofline).unwrap();
    let direct = parallax::simulate_plan(
        &model,
        &cluster,
        &"tp=1".parse().unwrap(),
        cost,
        &w,
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(r.serving[1].predicted_ttft_ms, direct.metrics.ttft_ms.mean);
}

#[test]
fn bad_serving_rows_name_file_line_and_column() {
    let header = "model,cluster,plan,workload,ttft_ms,tpot_ms\n";
    for (body, needle) in [
        ("llama-3.1-8b,1x1xH100,tp=1,chat,-3,9\n", "ttft_ms"),
        ("llama-3.1-8b,1x1xH100,tp=1,chat,40\n", "fields"),
        (",1x1xH100,tp=1,chat,40,9\n", "model"),
    ] {
        let e = parse_serving("runs.csv", &format!("{header}{body}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("runs.csv:2") && e.contains(needle), "{e}");
    }
    let e = parse_serving("runs.csv", "model,cluster,plan,ttft_ms,tpot_ms\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workload"), "{e}");
    let path = write("neither.csv", "a,b,c\n1,2,3\n");
    let e = validate_file(&path, CostModelChoice::Auto)
        .unwrap_err()
        .to_string();
    assert!(e.contains("measured_ms") && e.contains("ttft_ms"), "{e}");
}
