//! Steady-state throughput on hand-built cases: one plan (Llama-3.1-8B on one H100), so the
//! search's rate can be checked against independent re-simulations.

use parallax::hw::Cluster;
use parallax::plan::LowerOptions;
use parallax::search::{SteadyArrivals, SteadyState, SteadyWindow};
use parallax::sim::{Metrics, Request, SimConfig, Slo, Workload};
use parallax::{Objective, Search, SearchReport};

fn model() -> parallax::ir::Model {
    parallax::ir::resolve("llama-3.1-8b").unwrap()
}

fn cluster() -> Cluster {
    Cluster::parse("1x1xH100").unwrap()
}

fn search(trace: &Workload, slo: Slo, steady: SteadyState) -> SearchReport {
    Search::new(model(), cluster(), trace.clone())
        .objective(Objective::Throughput)
        .slo(slo)
        .steady_state(steady)
        .run()
        .unwrap()
}

/// Simulate the only plan on `w`, returning the metrics and the window of `steady`.
fn simulate(
    report: &SearchReport,
    trace: &Workload,
    w: &Workload,
    slo: Slo,
    steady: &SteadyState,
) -> (Metrics, SteadyWindow) {
    let cl = cluster();
    let cost = parallax::cost_model(&cl, parallax::CostModelChoice::Auto).unwrap();
    let r = parallax::simulate_plan(
        &model(),
        &cl,
        &report.best.as_ref().unwrap().plan,
        cost,
        w,
        &SimConfig {
            slo,
            ..SimConfig::default()
        },
        &LowerOptions {
            required_kv_tokens: parallax::largest_request_tokens(trace),
            ..LowerOptions::default()
        },
    )
    .unwrap();
    let win = steady.window(w, &r, slo);
    (r.metrics, win)
}

/// The highest completion rate the plan reaches: the whole stream arriving at once.
fn capacity(report: &SearchReport, trace: &Workload, stream: &Workload, slo: Slo) -> f64 {
    let burst = Workload::new(
        "burst",
        stream
            .requests
            .iter()
            .map(|r| Request {
                arrival_s: 0.0,
                ..*r
            })
            .collect(),
    )
    .unwrap();
    let (m, _) = simulate(report, trace, &burst, slo, &SteadyState::default());
    m.throughput.requests_per_s
}

/// Meets the SLO target as measured (point estimate): every request completes, the window is
/// stable and its attainment is at least 90 %.
fn meets(m: &Metrics, w: &SteadyWindow) -> bool {
    m.requests.rejected == 0
        && m.requests.unfinished == 0
        && w.stable
        && w.slo_attainment.is_some_and(|a| a >= 0.9)
}

fn slo() -> Slo {
    Slo {
        ttft_ms: Some(1000.0),
        tpot_ms: Some(60.0),
    }
}

/// A short trace arriving as one burst: the old rate search, which rescaled the trace
/// itself, read ever higher rates as sustainable because the whole burst fit in memory.
fn burst_trace() -> Workload {
    let chat = parallax::load_workload("chat", None, Some(40)).unwrap();
    let reqs = chat
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| Request {
            id: i as u64,
            arrival_s: i as f64 * 1e-3,
            ..*r
        })
        .collect();
    Workload::new("burst40", reqs).unwrap()
}

#[test]
fn a_burst_trace_does_not_inflate_the_rate_and_1_25x_is_not_sustained() {
    let trace = burst_trace();
    let steady = SteadyState {
        requests: 1000,
        ..SteadyState::default()
    };
    let r = search(&trace, slo(), steady);
    assert_eq!(r.plans_simulated, 1);
    let best = r.best.as_ref().expect("some rate is sustained");
    let rate = best.objective;
    let cap = capacity(&r, &trace, &steady.stream(&trace).unwrap(), slo());
    assert!(rate > 0.0 && rate <= cap, "rate {rate} vs capacity {cap}");
    // Independent check: a 3,000-request Poisson stream with another seed.
    let check = SteadyState {
        requests: 3000,
        seed: 99,
        ..SteadyState::default()
    };
    let stream = check.stream(&trace).unwrap();
    let (m, w) = simulate(
        &r,
        &trace,
        &stream.clone().with_rate(rate).unwrap(),
        slo(),
        &check,
    );
    assert!(meets(&m, &w), "at the rate: {w:?}");
    let (m, w) = simulate(
        &r,
        &trace,
        &stream.with_rate(1.25 * rate).unwrap(),
        slo(),
        &check,
    );
    assert!(!meets(&m, &w), "at 1.25×: {w:?}");
}

#[test]
fn with_loose_slos_stability_bounds_the_rate() {
    let trace = parallax::load_workload("chat", None, Some(200)).unwrap();
    let loose = Slo {
        ttft_ms: Some(1e9),
        tpot_ms: Some(1e9),
    };
    let steady = SteadyState {
        requests: 1000,
        ..SteadyState::default()
    };
    let r = search(&trace, loose, steady);
    let best = r.best.as_ref().unwrap();
    let w = best.window.unwrap();
    assert_eq!(w.slo_attainment, Some(1.0));
    assert!(w.stable);
    let cap = capacity(&r, &trace, &steady.stream(&trace).unwrap(), loose);
    // Completions may trail arrivals by the stability tolerance (5 %).
    let slack = 1.0 + steady.stability_tolerance;
    assert!(best.objective <= slack * cap, "{} vs {cap}", best.objective);
    assert!(best.objective >= 0.5 * cap, "{} vs {cap}", best.objective);
    // Far above capacity completions fall behind arrivals: unstable.
    let stream = steady.stream(&trace).unwrap().with_rate(2.0 * cap).unwrap();
    let (m, w) = simulate(&r, &trace, &stream, loose, &steady);
    assert!(!w.stable && !w.sustains(&m, 0.9), "{w:?}");
    assert!(w.completion_rate_req_per_s < 0.95 * w.arrival_rate_req_per_s);
}

#[test]
fn the_rate_hardly_depends_on_the_trace_length() {
    let steady = SteadyState {
        requests: 1000,
        ..SteadyState::default()
    };
    let rate = |n: usize| {
        let trace = parallax::load_workload("code", None, Some(n)).unwrap();
        search(&trace, slo(), steady).best.unwrap().objective
    };
    let (a, b) = (rate(1000), rate(5000));
    assert!((a - b).abs() < 0.1 * a.max(b), "{a} vs {b}");
}

#[test]
fn trace_burstiness_and_goodput_use_the_same_window() {
    let trace = parallax::load_workload("chat", Some(2.0), Some(300)).unwrap();
    let steady = SteadyState {
        requests: 500,
        arrivals: SteadyArrivals::Trace,
        ..SteadyState::default()
    };
    let r = Search::new(model(), cluster(), trace.clone())
        .objective(Objective::Goodput)
        .slo(slo())
        .steady_state(steady)
        .run()
        .unwrap();
    let best = r.best.as_ref().unwrap();
    let w = best.window.unwrap();
    assert_eq!(best.objective, w.goodput_req_per_s.unwrap());
    assert_eq!(best.rate_req_per_s, trace.mean_rate());
    // Re-simulated: the same window.
    let stream = steady
        .stream(&trace)
        .unwrap()
        .with_rate(trace.mean_rate().unwrap())
        .unwrap();
    let (_, again) = simulate(&r, &trace, &stream, slo(), &steady);
    assert_eq!(again, w);
    // The window's goodput is its good arrivals over its length.
    let good = w.slo_attainment.unwrap() * w.measured_requests as f64;
    assert!((w.goodput_req_per_s.unwrap() * (w.end_s - w.start_s) - good).abs() < 1e-6);
}

#[test]
fn bad_steady_settings_are_option_errors() {
    let trace = parallax::load_workload("chat", None, Some(50)).unwrap();
    let e = Search::new(model(), cluster(), trace)
        .objective(Objective::Throughput)
        .slo(slo())
        .steady_state(SteadyState {
            requests: 3,
            ..SteadyState::default()
        })
        .run()
        .unwrap_err();
    assert!(
        matches!(&e, parallax::Error::Option { option, value, .. }
            if option == "steady_state.requests" && value == "3"),
        "{e}"
    );
}

#[test]
fn the_rate_hardly_depends_on_the_stream_length() {
    // With a fixed-length stream the window of a short one could not see a settled system,
    // so the rate grew with the stream (the chat trace on 8×H100 for Llama-3.1-70B: 46 req/s
    // at 1,000 requests, 74 at 4,000); a probe's stream now lasts 10 latencies at least.
    let trace = parallax::load_workload("chat", None, Some(200)).unwrap();
    let rate = |n: usize| {
        let steady = SteadyState {
            requests: n,
            ..SteadyState::default()
        };
        let best = search(&trace, slo(), steady).best.unwrap();
        let w = best.window.unwrap();
        assert!(w.driving_requests >= n && w.stable, "{w:?}");
        best.objective
    };
    let (short, long) = (rate(150), rate(1200));
    assert!((short - long).abs() < 0.05 * long, "{short} vs {long}");
}
