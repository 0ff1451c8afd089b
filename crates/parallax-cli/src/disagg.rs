//! `parallax search`'s disaggregated section: the best prefill/decode pool deployments and
//! which kind wins against the best aggregated plan.

use crate::output::table;
use parallax::search::{DisaggComparison, Winner};
use parallax::SearchReport;

fn value(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

const NONE_MEETS: &str = "no disaggregated deployment meets the constraints";
const AGGREGATED_NONE_MEETS: &str = "no aggregated plan meets the constraints";

/// Why no aggregated plan wins: none was simulated (the time limit), or none meets the
/// constraints.
fn none_aggregated(r: &SearchReport) -> &'static str {
    if r.ranked.is_empty() {
        "no aggregated plan was simulated"
    } else {
        AGGREGATED_NONE_MEETS
    }
}

/// Why no disaggregated deployment wins: none simulated (the time limit, or no feasible pool
/// split: the report's note says which), none of those simulated before the time limit meets
/// the constraints, or none at all does.
fn none_disaggregated(d: &DisaggComparison) -> String {
    if d.simulated == 0 {
        "no disaggregated deployment was simulated".into()
    } else if d.simulated < d.candidates {
        format!(
            "none of the {} disaggregated deployments simulated before the time limit meets \
             the constraints",
            d.simulated
        )
    } else {
        NONE_MEETS.into()
    }
}

/// Print the comparison `d` of report `r` (objective column titled `obj_col`).
pub fn print(d: &DisaggComparison, r: &SearchReport, obj_col: &str) {
    outln!();
    let sizes: Vec<String> = d
        .pool_plans
        .iter()
        .map(|p| format!("{} {}×GPU {}", p.role, p.gpus, p.plan))
        .collect();
    outln!(
        "disaggregated (prefill pool + decode pool): {} candidates, {} simulated; pool plans \
         kept: {}",
        d.candidates,
        d.simulated,
        if sizes.is_empty() {
            "none".into()
        } else {
            sizes.join(", ")
        }
    );
    if let Some(n) = &d.note {
        outln!("disaggregated: {n}");
    }
    let rows: Vec<Vec<String>> = d
        .ranked
        .iter()
        .map(|p| {
            let m = &p.metrics;
            vec![
                p.rank.to_string(),
                p.plan.to_string(),
                value(p.objective),
                format!("{:.1}", m.ttft_ms.mean),
                format!("{:.2}", m.tpot_ms.mean),
                format!("{:.3}", m.e2e_s.mean),
                m.kv_transfer
                    .as_ref()
                    .map_or("-".into(), |k| format!("{:.2}", k.transfer_ms.mean)),
                if p.meets_constraints { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out!(
            "{}",
            table(
                &[
                    "#",
                    "disaggregated plan",
                    obj_col,
                    "TTFT ms",
                    "TPOT ms",
                    "e2e s",
                    "KV ms",
                    "ok"
                ],
                &rows
            )
        );
    }
    let agg = d
        .best_aggregated
        .as_ref()
        .map_or("-".into(), |p| p.to_string());
    let dis = d.best.as_ref().map_or("-".into(), |p| p.plan.to_string());
    let verdict =
        match (d.winner, d.gain_over_aggregated) {
            (Winner::Disaggregated, Some(g)) => format!(
                "disaggregated `{dis}`, {g:.2}× better {} than the best aggregated `{agg}`",
                r.objective
            ),
            (Winner::Aggregated, Some(g)) => format!(
                "aggregated `{agg}`, {:.2}× better {} than the best disaggregated `{dis}` \
             (disaggregation's gain {g:.2}×)",
                1.0 / g,
                r.objective
            ),
            // both kinds meet the constraints, but their values give no ratio (an objective of
            // 0, a free GPU-hour; equal values are ordered by mean end-to-end latency)
            (Winner::Disaggregated | Winner::Aggregated, None)
                if d.best.is_some() && d.best_aggregated.is_some() =>
            {
                let (dv, av) = (
                    d.best.as_ref().map_or(f64::NAN, |b| b.objective),
                    r.best.as_ref().map_or(f64::NAN, |b| b.objective),
                );
                let (won, lost) = if d.winner == Winner::Disaggregated {
                    (
                        format!("disaggregated `{dis}`"),
                        format!("aggregated `{agg}`"),
                    )
                } else {
                    (
                        format!("aggregated `{agg}`"),
                        format!("disaggregated `{dis}`"),
                    )
                };
                format!(
                "{won}, ahead of the best {lost} ({} {} vs {}, which give no gain ratio; equal \
                 values are ordered by mean end-to-end latency)",
                r.objective,
                value(if d.winner == Winner::Disaggregated { dv } else { av }),
                value(if d.winner == Winner::Disaggregated { av } else { dv }),
            )
            }
            (Winner::Disaggregated, None) => {
                format!("disaggregated `{dis}` ({})", none_aggregated(r))
            }
            (Winner::Aggregated, None) => format!("aggregated `{agg}` ({})", none_disaggregated(d)),
            (Winner::None, _) => match (none_aggregated(r), none_disaggregated(d)) {
                (a, b) if a == AGGREGATED_NONE_MEETS && b == NONE_MEETS => {
                    "none: no deployment of either kind meets the constraints".into()
                }
                (a, b) => format!("none: {a}; {b}"),
            },
        };
    outln!("winner: {verdict}");
}
