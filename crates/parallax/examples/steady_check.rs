//! Checks a throughput search the way the acceptance criteria of the steady-state
//! definition read: the reported rate, re-simulated with a longer Poisson stream resampled
//! from the same trace (another seed), is sustained and 1.25× it is not; and the rate hardly
//! moves with the number of trace requests.
//!
//! `STEADY_REQUESTS` sets the search's stream length, `FACTORS` the re-simulated multiples.
//!
//! ```text
//! cargo run --release -p parallax --example steady_check -- \
//!     llama-3.1-70b 1x8xH100 creation 500 50 [check_requests] [requests_a,requests_b]
//! ```

use parallax::plan::LowerOptions;
use parallax::search::SteadyState;
use parallax::sim::{SimConfig, Slo};
use parallax::{Objective, Search};
use std::sync::Arc;

/// Every request completes, the window is stable and its attainment (point estimate) is at
/// least 90 %.
fn meets(m: &parallax::sim::Metrics, w: &parallax::search::SteadyWindow) -> bool {
    m.requests.rejected == 0
        && m.requests.unfinished == 0
        && w.stable
        && w.slo_attainment.is_some_and(|a| a >= 0.9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        return Err(
            "usage: steady_check MODEL CLUSTER WORKLOAD TTFT_MS TPOT_MS \
                    [CHECK_REQUESTS] [N1,N2]"
                .into(),
        );
    }
    let model = parallax::ir::resolve(&a[0])?;
    let cluster = parallax::hw::Cluster::parse(&a[1])?;
    let slo = Slo {
        ttft_ms: Some(a[3].parse()?),
        tpot_ms: Some(a[4].parse()?),
    };
    let check_n: usize = a.get(5).map_or(Ok(5000), |s| s.parse())?;
    let search = |requests: Option<usize>| -> Result<_, Box<dyn std::error::Error>> {
        let w = parallax::load_workload(&a[2], None, requests)?;
        let t = std::time::Instant::now();
        let steady_n: usize = std::env::var("STEADY_REQUESTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(parallax::search::DEFAULT_STEADY_REQUESTS);
        let r = Search::new(model.clone(), cluster.clone(), w.clone())
            .objective(Objective::Throughput)
            .slo(slo)
            .steady_state(SteadyState {
                requests: steady_n,
                ..SteadyState::default()
            })
            .run()?;
        println!(
            "search ({} trace requests): {:.2} s, {} simulations",
            w.len(),
            t.elapsed().as_secs_f64(),
            r.simulations
        );
        Ok((r, w))
    };
    let (report, trace) = search(None)?;
    let best = report.best.as_ref().ok_or("no plan sustains any rate")?;
    let rate = best.objective;
    println!("best {} sustains {rate:.3} req/s", best.plan);
    if let Some(w) = &best.window {
        println!("  window {w:?}");
    }
    for (name, b) in report.baselines.iter().map(|b| (&b.name, b)) {
        println!("  baseline {name}: {:?} req/s", b.objective);
    }
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Auto)?;
    let steady = SteadyState {
        requests: check_n,
        seed: 12345,
        ..SteadyState::default()
    };
    let stream = steady.stream(&trace)?;
    let factors: Vec<f64> = std::env::var("FACTORS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1.0, 1.25]);
    for factor in factors {
        let wl = stream.clone().with_rate(rate * factor)?;
        let sim = parallax::simulate_plan(
            &model,
            &cluster,
            &best.plan,
            Arc::clone(&cost),
            &wl,
            &SimConfig {
                slo,
                ..SimConfig::default()
            },
            &LowerOptions {
                required_kv_tokens: parallax::largest_request_tokens(&trace),
                ..LowerOptions::default()
            },
        )?;
        let win = steady.window(&wl, &sim, slo);
        println!(
            "  re-simulated at {factor}× ({:.3} req/s, {check_n} requests, seed 12345): meets the \
             SLOs {} (stable {}, attainment {:?}, arrivals {:.3}, completions {:.3} req/s)",
            rate * factor,
            meets(&sim.metrics, &win),
            win.stable,
            win.slo_attainment,
            win.arrival_rate_req_per_s,
            win.completion_rate_req_per_s
        );
    }
    if let Some(ns) = a.get(6) {
        let mut rates = Vec::new();
        for n in ns.split(',') {
            let (r, _) = search(Some(n.parse()?))?;
            let v = r.best.as_ref().map_or(0.0, |b| b.objective);
            println!("  --requests {n}: {v:.3} req/s");
            rates.push(v);
        }
        if let [x, y] = rates[..] {
            println!("  moved by {:.2} %", 100.0 * (y - x).abs() / x.max(y));
        }
    }
    Ok(())
}
