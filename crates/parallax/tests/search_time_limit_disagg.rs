//! The time limit bounds the whole search, the disaggregated phase included: on a huge
//! cluster (tens of thousands of disaggregated candidates, each pool size enumerated and
//! screened) a short limit stops it promptly and the report says the limit stopped it.

use parallax::hw::Cluster;
use parallax::{Limits, Search, StopReason};
use std::time::{Duration, Instant};

/// Far above the limit: only a guard against the search ignoring it (it ran for minutes).
const HANG_GUARD: Duration = Duration::from_secs(20);

fn timed_search(cluster: &str, limit: Duration) -> (parallax::SearchReport, Duration) {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse(cluster).unwrap();
    let workload = parallax::load_workload("chat", None, Some(10)).unwrap();
    let search = Search::new(model, cluster, workload).limits(Limits {
        time: Some(limit),
        ..Limits::default()
    });
    let start = Instant::now();
    let r = search.run().unwrap();
    (r, start.elapsed())
}

fn assert_cut_by_time(cluster: &str) {
    let (r, took) = timed_search(cluster, Duration::from_secs(1));
    assert!(took < HANG_GUARD, "{cluster}: the 1 s search took {took:?}");
    assert_eq!(r.stop_reason, StopReason::TimeLimit, "{cluster}");
    assert_eq!(r.time_limit_s, 1.0);
    let d = r
        .disaggregation
        .as_ref()
        .expect("auto searches disaggregation on a homogeneous cluster");
    // Nothing is simulated past the deadline, and the comparison says what the limit cut.
    assert!(d.simulated <= d.candidates);
    assert_eq!(d.simulated as usize, d.ranked.len());
    let note = d.note.as_deref().unwrap_or_default();
    assert!(note.contains("time limit"), "{cluster}: note {note:?}");
}

#[test]
fn disaggregated_phase_stops_at_the_time_limit_on_1024_nodes_of_8() {
    // Before: 132,049 candidates built for ~110 s, 0 simulated, `stop: exhausted`.
    assert_cut_by_time("1024x8xH100");
}

#[test]
fn disaggregated_phase_stops_at_the_time_limit_on_65536_single_gpu_nodes() {
    // Before: 65,535 instance sizes per pool, still enumerating after minutes.
    assert_cut_by_time("65536x1xH100");
}

#[test]
fn baselines_are_not_simulated_past_the_time_limit() {
    let (r, _) = timed_search("1x8xH100", Duration::from_micros(1));
    assert_eq!(r.stop_reason, StopReason::TimeLimit);
    for b in r.baselines.iter().filter(|b| b.name != "best-even-split") {
        let e = b.error.as_deref().unwrap_or_default();
        assert!(e.contains("skipped: the time limit"), "{}: {e:?}", b.name);
        assert!(b.metrics.is_none());
    }
}

/// A search cancelled by its caller ([`Search::cancel_on`]) while it runs stops promptly,
/// ranks what it simulated and says it was cancelled, the disaggregated phase included.
#[test]
fn a_cancelled_search_stops_and_says_so() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let workload = parallax::load_workload("chat", None, Some(10)).unwrap();
    let full = Search::new(
        model.clone(),
        Cluster::parse("1x8xH100").unwrap(),
        workload.clone(),
    )
    .run()
    .unwrap();
    assert_eq!(full.stop_reason, StopReason::Exhausted);
    // Cancel after the first candidate finishes.
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let start = Instant::now();
    let r = Search::new(model, Cluster::parse("1x8xH100").unwrap(), workload)
        .cancel_on(flag)
        .progress(move |_| set.store(true, Ordering::Relaxed))
        .run()
        .unwrap();
    assert!(start.elapsed() < HANG_GUARD);
    assert_eq!(r.stop_reason, StopReason::Cancelled);
    assert_eq!(r.stop_reason.name(), "cancelled");
    assert!(!r.ranked.is_empty());
    assert!(
        r.ranked.len() < full.ranked.len(),
        "{} of {}",
        r.ranked.len(),
        full.ranked.len()
    );
    let note = r
        .disaggregation
        .as_ref()
        .and_then(|d| d.note.as_deref())
        .unwrap_or_default();
    assert!(note.contains("cancelled"), "note {note:?}");
    for b in r.baselines.iter().filter(|b| b.metrics.is_none()) {
        let e = b.error.as_deref().unwrap_or_default();
        assert!(e.contains("cancelled"), "{}: {e:?}", b.name);
    }
}
