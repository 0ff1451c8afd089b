//! `Simulator::run_until`: a wall-clock deadline only ever cuts a run short; it never changes
//! the result of a run that finishes.

use crate::common;
use common::*;
use parallax_sim::*;
use std::time::{Duration, Instant};

fn long_workload() -> Workload {
    // 3,000 arrivals: more events than the clock's stride of 1,024.
    let reqs: Vec<(f64, u32, u32)> = (0..3000).map(|i| (i as f64 * 0.001, 32, 20)).collect();
    workload(&reqs)
}

fn simulator() -> Simulator {
    Simulator::new(
        vec![const_replica(0.01, 100_000, 16)],
        config(SchedulerKind::Chunked),
    )
    .unwrap()
}

/// `bounded` reports the same metrics and requests as an unbounded run of the same workload.
fn assert_same_as_unbounded(sim: &Simulator, w: &Workload, bounded: &SimReport) {
    let free = sim.run(w).unwrap();
    assert_eq!(
        serde_json::to_string(&bounded.metrics).unwrap(),
        serde_json::to_string(&free.metrics).unwrap()
    );
    assert_eq!(bounded.requests.len(), free.requests.len());
}

#[test]
fn a_passed_deadline_stops_the_run_with_a_typed_error() {
    let w = long_workload();
    let sim = simulator();
    let past = Instant::now();
    match sim.run_until(&w, Some(past)) {
        Err(SimError::DeadlineReached { events }) => assert_eq!(events, 1024),
        other => panic!(
            "expected DeadlineReached, got {:?}",
            other.map(|r| r.metrics)
        ),
    }
}

#[test]
fn a_run_within_its_deadline_equals_an_unbounded_run() {
    let w = long_workload();
    let sim = simulator();
    let far = Instant::now() + Duration::from_secs(3600);
    let bounded = sim.run_until(&w, Some(far)).unwrap();
    assert_same_as_unbounded(&sim, &w, &bounded);
}

#[test]
fn a_set_cancellation_flag_stops_the_run_and_an_unset_one_changes_nothing() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let w = long_workload();
    let sim = simulator();
    let far = Instant::now() + Duration::from_secs(3600);
    let set = Deadline::at(far).cancel_on(Arc::new(AtomicBool::new(true)));
    match sim.run_until(&w, set) {
        Err(SimError::Cancelled { events }) => assert_eq!(events, 1024),
        other => panic!("expected Cancelled, got {:?}", other.map(|r| r.metrics)),
    }
    let unset = Deadline::default().cancel_on(Arc::new(AtomicBool::new(false)));
    let bounded = sim.run_until(&w, unset).unwrap();
    assert_same_as_unbounded(&sim, &w, &bounded);
}
