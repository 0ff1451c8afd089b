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

/// Why no aggregated plan wins: none was simulated (the time limit), or none meets the
/// constraints.
fn none_aggregated(r: &SearchReport) -> &'static str {
    if r.ranked.is_empty() {
        "no aggregated plan was simulated"
    } else {
        "no aggregated plan meets the constraints"
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
        "no disaggregated deployment meets the constraints".into()
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
    outln!("winner: {}", verdict(d, r));
}

/// The `winner:` line's text: which kind wins and by how much, or why there is no ratio or
/// no winner.
fn verdict(d: &DisaggComparison, r: &SearchReport) -> String {
    let agg = d
        .best_aggregated
        .as_ref()
        .map_or("-".into(), |p| p.to_string());
    let dis = d.best.as_ref().map_or("-".into(), |p| p.plan.to_string());
    let (agg_kind, dis_kind) = (
        format!("aggregated `{agg}`"),
        format!("disaggregated `{dis}`"),
    );
    let (dv, av) = (
        d.best.as_ref().map_or(f64::NAN, |b| b.objective),
        r.best.as_ref().map_or(f64::NAN, |b| b.objective),
    );
    let o = r.objective;
    let disaggregated = match d.winner {
        Winner::Disaggregated => true,
        Winner::Aggregated => false,
        Winner::None => {
            let judged_all = !r.ranked.is_empty() && d.simulated > 0 && d.simulated == d.candidates;
            return if judged_all {
                "none: no deployment of either kind meets the constraints".into()
            } else {
                format!("none: {}; {}", none_aggregated(r), none_disaggregated(d))
            };
        }
    };
    let (won, lost, won_v, lost_v) = if disaggregated {
        (dis_kind, agg_kind, dv, av)
    } else {
        (agg_kind, dis_kind, av, dv)
    };
    match d.gain_over_aggregated {
        Some(g) if disaggregated => format!("{won}, {g:.2}× better {o} than the best {lost}"),
        Some(g) => format!(
            "{won}, {:.2}× better {o} than the best {lost} (disaggregation's gain {g:.2}×)",
            1.0 / g
        ),
        // both kinds meet the constraints, but their values give no ratio (an objective of
        // 0, a free GPU-hour; equal values are ordered by mean end-to-end latency)
        None if d.best.is_some() && d.best_aggregated.is_some() => format!(
            "{won}, ahead of the best {lost} ({o} {} vs {}, which give no gain ratio; equal \
             values are ordered by mean end-to-end latency)",
            value(won_v),
            value(lost_v),
        ),
        None if disaggregated => format!("{won} ({})", none_aggregated(r)),
        None => format!("{won} ({})", none_disaggregated(d)),
    }
}
