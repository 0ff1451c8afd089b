//! The capacity-weighted router: replicas of unequal speed get load in proportion to speed.

use crate::common;
use common::*;
use parallax_sim::*;

fn counts(policy: RouterPolicy) -> [usize; 2] {
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.router = policy;
    // Replica 0 takes 20 ms per iteration, replica 1 10 ms: replica 1 has twice the capacity.
    let reps = vec![const_replica(0.02, 1000, 16), const_replica(0.01, 1000, 16)];
    // Nine requests arrive together and none finishes before the last arrives.
    let reqs: Vec<(f64, u32, u32)> = (0..9).map(|i| (i as f64 * 1e-4, 10, 200)).collect();
    let rep = run(reps, cfg, &workload(&reqs));
    let mut c = [0usize; 2];
    for r in &rep.requests {
        c[r.replica.unwrap() as usize] += 1;
    }
    c
}

#[test]
fn capacity_weighted_sends_twice_the_load_to_the_twice_as_fast_replica() {
    assert_eq!(counts(RouterPolicy::CapacityWeighted), [3, 6]);
    // Least outstanding ignores speed.
    assert_eq!(counts(RouterPolicy::LeastOutstanding), [5, 4]);
}

#[test]
fn capacity_router_parses_and_names_itself() {
    let p: RouterPolicy = "capacity".parse().unwrap();
    assert_eq!(p, RouterPolicy::CapacityWeighted);
    assert_eq!(p.name(), "capacity");
    assert_eq!("capacity-weighted".parse::<RouterPolicy>().unwrap(), p);
    let e = "fastest".parse::<RouterPolicy>().unwrap_err().to_string();
    assert!(e.contains("capacity") && e.contains("fastest"), "{e}");
}
