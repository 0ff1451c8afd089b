//! The self-contained HTML page: inline CSS, inline SVG, no script, no external resource.

use crate::{Report, ReportError, ReportInput, ReportOptions};
use std::fmt::Write as _;

/// Build the report of `input` and render it as one HTML page.
///
/// # Errors
/// As [`Report::build`].
pub fn html(input: &ReportInput<'_>, options: &ReportOptions) -> Result<String, ReportError> {
    Ok(Report::build(input, options)?.to_html())
}

/// Escape text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "–".into()
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| num(v, decimals))
}

fn table(out: &mut String, class: &str, header: &[&str], rows: &[Vec<String>]) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

/// LAUNCH-COMMAND SLOT. The chosen plan's launch command (from
/// [`ReportOptions::launch_command`], filled by `search --emit ENGINE`), or a note that none
/// was asked for.
fn launch_section(out: &mut String, command: Option<&str>) {
    out.push_str("<section id=\"launch\"><h2>Launch command</h2>\n");
    match command {
        Some(cmd) => {
            let _ = writeln!(out, "<pre class=\"launch\">{}</pre>", esc(cmd));
        }
        None => out.push_str(
            "<p class=\"note\">No launch command: run <code>parallax search --emit ENGINE \
             --report FILE</code> to include the chosen plan's command here.</p>\n",
        ),
    }
    out.push_str("</section>\n");
}

fn figure(out: &mut String, id: &str, caption: &str, svg: Result<String, ReportError>) {
    let _ = write!(out, "<figure id=\"{id}\">");
    match svg {
        Ok(svg) => {
            // Drop the XML declaration, if any: the SVG is inlined in HTML.
            let body = match svg.find("<svg") {
                Some(i) => &svg[i..],
                None => svg.as_str(),
            };
            out.push_str(body);
        }
        Err(e) => {
            let _ = write!(out, "<p class=\"note\">{}</p>", esc(&e.to_string()));
        }
    }
    let _ = writeln!(out, "<figcaption>{}</figcaption></figure>", esc(caption));
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}\
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
table.facts td{text-align:left}\
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}\
pre.launch{background:#f6f8fa;border:1px solid #ddd;padding:.75rem;overflow-x:auto}\
.note{color:#555;font-style:italic}.warn{color:#a40000}";

/// Render the page.
pub(crate) fn render(r: &Report) -> String {
    let s = &r.search;
    let mut out = String::new();
    let title = format!("Parallax search: {} on {}", s.model, s.cluster);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"generator\" content=\"parallax-report\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );

    // The question and the answer.
    out.push_str("<section id=\"summary\"><h2>Summary</h2>\n");
    let slo = match (s.slo.ttft_ms, s.slo.tpot_ms) {
        (None, None) => "none".to_string(),
        (t, p) => format!(
            "TTFT {} ms, TPOT {} ms, target {:.0} %",
            opt(t, 1),
            opt(p, 1),
            100.0 * s.slo_target
        ),
    };
    let best = match &s.best {
        Some(b) => format!(
            "{} ({} {} {})",
            b.plan,
            num(b.objective, 4),
            s.unit,
            s.objective.name()
        ),
        None => "no plan meets the constraints".into(),
    };
    let facts = vec![
        vec!["model".into(), s.model.clone()],
        vec!["cluster".into(), s.cluster.clone()],
        vec![
            "workload".into(),
            format!(
                "{} ({} requests, {} req/s)",
                s.workload,
                s.requests,
                opt(s.rate_req_per_s, 3)
            ),
        ],
        vec![
            "objective".into(),
            format!("{} ({}, {:?})", s.objective.name(), s.unit, s.direction).to_lowercase(),
        ],
        vec!["SLOs".into(), slo],
        vec!["cost model".into(), s.cost_model.clone()],
        vec![
            "plans".into(),
            format!(
                "{} enumerated, {} pruned, {} feasible, {} simulated ({} simulations), stop: {}",
                s.plans_enumerated,
                s.plans_pruned_total,
                s.plans_feasible,
                s.plans_simulated,
                s.simulations,
                s.stop_reason.name()
            ),
        ],
        vec!["best plan".into(), best],
    ];
    table(&mut out, "facts", &["", ""], &facts);
    if let Some(inf) = &s.infeasible {
        let _ = writeln!(out, "<p class=\"warn\">{}</p>", esc(&inf.reason));
    }
    out.push_str("</section>\n");

    launch_section(&mut out, r.options.launch_command.as_deref());

    // Ranked plans.
    out.push_str("<section id=\"ranked\"><h2>Top plans</h2>\n");
    let obj_head = format!("{} ({})", s.objective.name(), s.unit);
    let rows: Vec<Vec<String>> = s
        .ranked
        .iter()
        .take(r.options.top)
        .map(|p| {
            let m = &p.metrics;
            vec![
                p.rank.to_string(),
                p.plan.to_string(),
                p.gpus.to_string(),
                p.scheduler.max_num_seqs.to_string(),
                p.scheduler
                    .chunk_size
                    .map_or_else(|| "–".into(), |c| c.to_string()),
                num(p.objective, 4),
                num(m.ttft_ms.p50, 1),
                num(m.ttft_ms.p99, 1),
                num(m.tpot_ms.mean, 2),
                num(m.e2e_s.mean, 3),
                num(m.e2e_s.p99, 3),
                opt(p.rate_req_per_s, 3),
                num(m.throughput.output_tokens_per_s, 1),
                if p.meets_constraints { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    table(
        &mut out,
        "ranked",
        &[
            "#",
            "plan",
            "GPUs",
            "max seqs",
            "chunk",
            &obj_head,
            "TTFT p50 ms",
            "TTFT p99 ms",
            "TPOT ms",
            "e2e mean s",
            "e2e p99 s",
            "req/s",
            "out tok/s",
            "ok",
        ],
        &rows,
    );
    let _ = writeln!(
        out,
        "<p class=\"note\">{} of {} simulated candidates shown.</p>",
        rows.len(),
        s.ranked.len()
    );
    out.push_str("</section>\n");

    // Baselines.
    out.push_str("<section id=\"baselines\"><h2>Baselines</h2>\n");
    let rows: Vec<Vec<String>> = s
        .baselines
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                b.plan
                    .as_ref()
                    .map_or_else(|| "none".into(), |p| p.to_string()),
                opt(b.objective, 4),
                b.speedup
                    .map_or_else(|| "–".into(), |g| format!("{}×", num(g, 2))),
                b.description.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "baselines",
        &["baseline", "plan", &obj_head, "best's gain", "how chosen"],
        &rows,
    );
    out.push_str("</section>\n");

    // Plots.
    out.push_str("<section id=\"plots\"><h2>Plots</h2>\n");
    figure(
        &mut out,
        "plot-pareto",
        "Every candidate that meets the constraints (grey), the non-dominated ones (line) and \
         the best plan (ring).",
        r.pareto_svg(),
    );
    figure(
        &mut out,
        "plot-cdf",
        "Distribution of end-to-end latency over the completed requests of each top plan.",
        r.cdf_svg(),
    );
    figure(
        &mut out,
        "plot-ttft-cdf",
        "Distribution of time to first token of each top plan.",
        r.ttft_cdf_svg(),
    );
    let curve_note = if s.rate_req_per_s.is_some() {
        let m = &r.options.load_multipliers;
        format!(
            "Each plan simulated with the workload's arrivals rescaled to {}× … {}× its rate; a \
             curve ends at the first load it does not sustain or completes at under half the \
             offered rate (saturation).",
            num(m.first().copied().unwrap_or(f64::NAN), 2),
            num(m.last().copied().unwrap_or(f64::NAN), 2)
        )
    } else {
        "The workload has a single arrival time, so there is no rate to rescale.".into()
    };
    figure(&mut out, "plot-curves", &curve_note, r.curves_svg());
    figure(
        &mut out,
        "plot-breakdown",
        "Time by op kind (stage-seconds over the whole simulation) of each top plan.",
        r.breakdown_svg(),
    );
    out.push_str("</section>\n");
    out.push_str(
        "<footer><p class=\"note\">Generated by Parallax. Simulated numbers: see the project's \
         README for their measured accuracy.</p></footer>\n</body></html>\n",
    );
    out
}
