//! Structure of the SVG plots and the HTML page (no browser needed).

use parallax::{Cluster, CostModelChoice, Limits, Objective, Search, SearchReport};
use parallax_report::{svg, Report, ReportInput, ReportOptions};
use std::collections::BTreeMap;

/// Check that every element opened in `doc` is closed in order (the SVG and HTML we write
/// are XML-shaped), returning the element names in document order.
fn elements(doc: &str) -> Vec<String> {
    const VOID: [&str; 2] = ["meta", "!DOCTYPE"];
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = doc;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let j = after.find('>').expect("unterminated tag");
        let tag = &after[..j];
        rest = &after[j + 1..];
        if tag.starts_with('?') || tag.starts_with("!--") {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
            assert_eq!(open, name.trim(), "mismatched close tag");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        names.push(name.clone());
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    names
}

fn count(names: &[String], name: &str) -> usize {
    names.iter().filter(|n| *n == name).count()
}

/// Polylines drawn with a series' 2 px stroke (axes and ticks are 1 px black).
fn series_lines(doc: &str) -> usize {
    doc.split("<polyline")
        .skip(1)
        .filter(|t| t[..t.find('>').unwrap()].contains("stroke-width=\"2\""))
        .count()
}

fn texts(doc: &str) -> Vec<String> {
    doc.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

fn check_svg(doc: &str) -> Vec<String> {
    let start = doc.find("<svg").expect("an <svg> root");
    assert!(doc[start..].contains("width=\"720\" height=\"420\""));
    assert!(doc.trim_end().ends_with("</svg>"));
    // Self-contained: no external reference, no font file.
    for bad in ["url(", "@font-face", "xlink:href", "<image"] {
        assert!(!doc.contains(bad), "SVG references `{bad}`");
    }
    let names = elements(doc);
    assert_eq!(count(&names, "svg"), 1);
    names
}

#[test]
fn pareto_plot_has_every_point_the_front_and_the_best() {
    let cands = [(1.0, 5.0), (2.0, 3.0), (3.0, 1.0), (2.5, 4.0), (4.0, 4.0)];
    let front = [(1.0, 5.0), (2.0, 3.0), (3.0, 1.0)];
    let doc = svg::pareto(
        "front",
        "e2e-mean (s)",
        "cost ($/Mtok)",
        &cands,
        &front,
        Some((2.0, 3.0)),
    )
    .unwrap();
    let names = check_svg(&doc);
    // 5 candidates + 3 front points + the best ring + 2 legend markers.
    assert!(count(&names, "circle") >= 9, "{names:?}");
    assert!(series_lines(&doc) >= 1);
    let t = texts(&doc);
    for label in [
        "front",
        "e2e-mean (s)",
        "cost ($/Mtok)",
        "Pareto front",
        "best",
        "candidate",
    ] {
        assert!(t.iter().any(|x| x == label), "missing text {label}: {t:?}");
    }
}

#[test]
fn cdf_plot_has_one_step_line_per_series() {
    let series = vec![
        ("a".to_string(), vec![1.0, 2.0, 3.0, f64::NAN]),
        ("b".to_string(), vec![0.5, 0.7]),
        ("c".to_string(), vec![]),
    ];
    let doc = svg::cdf("CDF", "latency (s)", &series).unwrap();
    check_svg(&doc);
    // One line per non-empty series plus their legend lines.
    assert_eq!(series_lines(&doc), 4);
    let t = texts(&doc);
    assert!(t.iter().any(|x| x == "fraction of requests"));
    assert!(t.iter().any(|x| x == "a") && t.iter().any(|x| x == "b"));
    // A step CDF ends at probability 1: the top of the y axis is labelled.
    assert!(t.iter().any(|x| x == "1.0" || x == "1"), "{t:?}");
}

#[test]
fn curves_and_bars_draw_their_data() {
    let series = vec![
        ("tp=8".to_string(), vec![(1.0, 2.0), (2.0, 2.5), (3.9, 9.0)]),
        ("dp=2,tp=4".to_string(), vec![(1.0, 2.2), (2.0, 2.4)]),
    ];
    let doc = svg::curves("t", "throughput", "p99", &series).unwrap();
    let names = check_svg(&doc);
    assert_eq!(series_lines(&doc), 4);
    assert!(count(&names, "circle") >= 5);

    let mut a = BTreeMap::new();
    a.insert("gemm".to_string(), 3.0);
    a.insert("attention".to_string(), 1.0);
    let mut b = BTreeMap::new();
    b.insert("gemm".to_string(), 2.0);
    b.insert("communication".to_string(), 2.0);
    let bars = vec![("tp=8".to_string(), a), ("dp=2,tp=4".to_string(), b)];
    let doc = svg::stacked_bars("by op", "stage-seconds", &bars).unwrap();
    let names = check_svg(&doc);
    // 4 bar segments + 3 legend swatches + the background.
    assert!(count(&names, "rect") >= 4 + 3, "{names:?}");
    let t = texts(&doc);
    for label in ["tp=8", "dp=2,tp=4", "gemm", "attention", "communication"] {
        assert!(t.iter().any(|x| x == label), "missing {label}: {t:?}");
    }
}

#[test]
fn empty_data_says_so() {
    for doc in [
        svg::cdf("CDF", "x", &[]).unwrap(),
        svg::curves("c", "x", "y", &[("p".into(), vec![(f64::NAN, 1.0)])]).unwrap(),
        svg::stacked_bars("b", "x", &[]).unwrap(),
        svg::pareto("p", "x", "y", &[], &[], None).unwrap(),
    ] {
        check_svg(&doc);
        assert!(texts(&doc).iter().any(|t| t == "no data"));
    }
}

fn search(objective: Objective) -> (SearchReport, ReportInputOwned) {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster: Cluster = "1x4xH100".parse().unwrap();
    let workload = parallax::load_workload("chat", Some(4.0), Some(64)).unwrap();
    let cost = parallax::cost_model(&cluster, CostModelChoice::Auto).unwrap();
    let report = Search::new(model.clone(), cluster.clone(), workload.clone())
        .objective(objective)
        .slo("ttft=1s,tpot=100ms".parse().unwrap())
        .cost_model(cost.clone())
        .limits(Limits {
            max_plans: Some(6),
            ..Limits::default()
        })
        .run()
        .unwrap();
    (report, (model, cluster, workload, cost))
}

type ReportInputOwned = (
    parallax::Model,
    Cluster,
    parallax::Workload,
    std::sync::Arc<dyn parallax::CostModel>,
);

#[test]
fn page_has_tables_plots_and_the_launch_slot() {
    let (report, (model, cluster, workload, cost)) = search(Objective::E2eMean);
    let input = ReportInput::new(&report, &model, &cluster, &workload, cost);
    let options = ReportOptions::default().top(3);
    let built = Report::build(&input, &options).unwrap();
    // The re-simulation is the search's simulation: same per-request latencies.
    for p in &built.plans {
        let m = &p.ranked.metrics;
        assert_eq!(p.e2e_s.len() as u64, m.requests.completed);
        let mean = p.e2e_s.iter().sum::<f64>() / p.e2e_s.len() as f64;
        assert!(
            (mean - m.e2e_s.mean).abs() <= 1e-9 * m.e2e_s.mean,
            "{mean} vs {}",
            m.e2e_s.mean
        );
        assert!(!p.curve.is_empty());
        assert!(p
            .curve
            .windows(2)
            .all(|w| w[0].offered_req_per_s < w[1].offered_req_per_s));
    }
    let page = built.to_html();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let names = elements(&page);
    assert_eq!(count(&names, "svg"), 5, "five plots");
    assert_eq!(count(&names, "table"), 3, "summary, ranked, baselines");
    for id in [
        "summary",
        "launch",
        "ranked",
        "baselines",
        "plot-pareto",
        "plot-cdf",
        "plot-curves",
        "plot-breakdown",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    assert!(page.contains("No launch command"));
    // Three ranked rows (plus the header row) in the ranked table.
    let ranked = &page[page.find("class=\"ranked\"").unwrap()..];
    let ranked = &ranked[..ranked.find("</table>").unwrap()];
    assert_eq!(ranked.matches("<tr>").count(), 4);
    // Self-contained: no script, no external resource.
    for bad in ["<script", "src=", "href=", "url("] {
        assert!(!page.contains(bad), "page contains `{bad}`");
    }
    // Deterministic.
    assert_eq!(page, Report::build(&input, &options).unwrap().to_html());

    let page = Report::build(
        &input,
        &ReportOptions::default().launch_command("vllm serve m --tp 4 <x>"),
    )
    .unwrap()
    .to_html();
    assert!(page.contains("<pre class=\"launch\">vllm serve m --tp 4 &lt;x&gt;</pre>"));
}

#[test]
fn throughput_report_and_bad_options() {
    let (report, (model, cluster, workload, cost)) = search(Objective::Throughput);
    let input = ReportInput::new(&report, &model, &cluster, &workload, cost);
    let built = Report::build(&input, &ReportOptions::default().top(2)).unwrap();
    assert_eq!(
        built.pareto_objectives,
        (Objective::Throughput, Objective::Cost)
    );
    let best = &built.plans[0];
    // A throughput search ranks plans on a steady-state stream (`window`); the report's CDFs
    // re-simulate the workload itself at the sustained rate, so they cover its requests.
    assert!(best.ranked.window.is_some());
    assert_eq!(best.e2e_s.len(), workload.len());
    elements(&built.to_html());
    let err = Report::build(&input, &ReportOptions::default().top(0)).unwrap_err();
    assert!(err.to_string().contains("top = 0"), "{err}");
    let mut o = ReportOptions::default();
    o.load_multipliers = vec![1.0, -2.0];
    let err = Report::build(&input, &o).unwrap_err();
    assert!(err.to_string().contains("-2"), "{err}");
}

#[test]
fn a_mixed_cluster_report_resimulates_the_search() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100+1x4xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", Some(60.0), Some(120)).unwrap();
    let cost = parallax::cost_model(&cluster, CostModelChoice::Auto).unwrap();
    let report = Search::new(model.clone(), cluster.clone(), workload.clone())
        .run()
        .unwrap();
    let input = ReportInput::new(&report, &model, &cluster, &workload, cost);
    let built = Report::build(&input, &ReportOptions::default().top(3)).unwrap();
    // At least one of the re-simulated plans runs on both kinds.
    assert!(
        built.plans.iter().any(|p| {
            let s = p.ranked.plan.to_string();
            s.contains("H100-SXM") && s.contains("A100-80GB-SXM")
        }),
        "{:?}",
        built
            .plans
            .iter()
            .map(|p| p.ranked.plan.to_string())
            .collect::<Vec<_>>()
    );
    for p in &built.plans {
        let m = &p.ranked.metrics;
        let mean = p.e2e_s.iter().sum::<f64>() / p.e2e_s.len() as f64;
        assert!(
            (mean - m.e2e_s.mean).abs() <= 1e-9 * m.e2e_s.mean,
            "{}: {mean} vs {}",
            p.ranked.plan,
            m.e2e_s.mean
        );
    }
}
