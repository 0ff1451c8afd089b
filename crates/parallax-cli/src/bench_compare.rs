//! `simulate --workload RESULT.json` with a `vllm bench serve` result: the benchmark's summary
//! metrics next to the simulated ones.

use crate::output::table;
use parallax::sim::workload::external::vllm_bench_summary;
use parallax::sim::Metrics;
use std::collections::BTreeMap;

/// The summary metrics of `spec` when it is a readable `vllm bench serve` result file.
pub fn measured(spec: &str) -> Option<BTreeMap<String, f64>> {
    let path = std::path::Path::new(spec);
    if !path.is_file() {
        return None;
    }
    let text = parallax::ir::read_text(path).ok()?;
    vllm_bench_summary(&text).filter(|m| !m.is_empty())
}

/// Rows `metric, measured, simulated, error` for every metric the file has and the simulator
/// reports (latencies in ms, throughputs per second).
pub fn rows(measured: &BTreeMap<String, f64>, m: &Metrics) -> Vec<Vec<String>> {
    let stats = |name: &str, s: &parallax::sim::Summary, scale: f64| {
        [
            ("mean", s.mean),
            ("median", s.p50),
            ("p90", s.p90),
            ("p95", s.p95),
            ("p99", s.p99),
        ]
        .into_iter()
        .map(move |(stat, v)| (format!("{stat}_{name}_ms"), v * scale))
        .collect::<Vec<_>>()
    };
    let mut pairs = Vec::new();
    pairs.extend(stats("ttft", &m.ttft_ms, 1.0));
    pairs.extend(stats("tpot", &m.tpot_ms, 1.0));
    pairs.extend(stats("e2el", &m.e2e_s, 1e3));
    pairs.push((
        "request_throughput".to_string(),
        m.throughput.requests_per_s,
    ));
    pairs.push((
        "output_throughput".to_string(),
        m.throughput.output_tokens_per_s,
    ));
    pairs
        .into_iter()
        .filter_map(|(key, sim)| {
            let meas = *measured.get(&key)?;
            let err = if meas != 0.0 {
                format!("{:+.1}%", 100.0 * (sim - meas) / meas)
            } else {
                "-".into()
            };
            Some(vec![key, format!("{meas:.3}"), format!("{sim:.3}"), err])
        })
        .collect()
}

/// The comparison table, or `None` when no metric matches.
pub fn render(measured: &BTreeMap<String, f64>, m: &Metrics) -> Option<String> {
    let r = rows(measured, m);
    if r.is_empty() {
        return None;
    }
    Some(table(
        &["vllm bench serve", "measured", "simulated", "error"],
        &r,
    ))
}
