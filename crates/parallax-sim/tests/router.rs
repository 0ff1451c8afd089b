//! Router policies across data-parallel replicas.

use crate::common;
use common::*;
use parallax_sim::*;

fn replicas_of(rep: &SimReport) -> Vec<u32> {
    rep.requests.iter().map(|r| r.replica.unwrap()).collect()
}

fn route(policy: RouterPolicy, w: &workload::Workload) -> Vec<u32> {
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.router = policy;
    let reps = vec![const_replica(0.01, 1000, 16), const_replica(0.01, 1000, 16)];
    replicas_of(&run(reps, cfg, w))
}

#[test]
fn policies_pick_as_documented() {
    // R0 is big (2000 tokens), R1 and R2 small; all arrive while R0 is still running.
    // round-robin: 0, 1, 0.  least-outstanding: R1 → 1 (0 vs 1 unfinished), R2 → tie 1:1 → 0.
    // shortest-queue by tokens: R2 → 1 (≈ 20 tokens vs ≈ 2000).
    let w = workload(&[(0.0, 1000, 1000), (0.001, 10, 10), (0.002, 10, 10)]);
    assert_eq!(route(RouterPolicy::RoundRobin, &w), vec![0, 1, 0]);
    assert_eq!(route(RouterPolicy::LeastOutstanding, &w), vec![0, 1, 0]);
    assert_eq!(route(RouterPolicy::ShortestQueueTokens, &w), vec![0, 1, 1]);
}

#[test]
fn least_outstanding_balances_after_completions() {
    // R0 finishes (at 0.03) before R2 arrives; R1 is still running then → R2 goes to 0.
    let w = workload(&[(0.0, 10, 2), (0.001, 10, 100), (0.5, 10, 2)]);
    assert_eq!(route(RouterPolicy::LeastOutstanding, &w), vec![0, 1, 0]);
    // Round robin ignores load.
    assert_eq!(route(RouterPolicy::RoundRobin, &w), vec![0, 1, 0]);
    let w = workload(&[(0.0, 10, 2), (0.001, 10, 100), (0.5, 10, 2), (0.6, 10, 2)]);
    assert_eq!(route(RouterPolicy::RoundRobin, &w), vec![0, 1, 0, 1]);
    assert_eq!(route(RouterPolicy::LeastOutstanding, &w), vec![0, 1, 0, 0]);
}

#[test]
fn random_router_is_seeded_and_uses_every_replica() {
    let w = workload(
        &(0..64)
            .map(|i| (i as f64 * 0.01, 10, 5))
            .collect::<Vec<_>>(),
    );
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.router = RouterPolicy::Random;
    let reps = || {
        (0..3)
            .map(|_| const_replica(0.01, 1000, 16))
            .collect::<Vec<_>>()
    };
    let a = replicas_of(&run(reps(), cfg, &w));
    assert_eq!(a, replicas_of(&run(reps(), cfg, &w)));
    assert!((0..3).all(|r| a.contains(&r)));
    cfg.seed = 99;
    assert_ne!(a, replicas_of(&run(reps(), cfg, &w)));
}

#[test]
fn requests_that_fit_only_one_replica_go_there() {
    // replica 0 holds 160 tokens, replica 1 holds 16000: a 500-token request must go to 1.
    let w = workload(&[(0.0, 10, 10), (0.1, 400, 100), (0.2, 10, 10)]);
    let reps = vec![const_replica(0.01, 10, 16), const_replica(0.01, 1000, 16)];
    let rep = run(reps, config(SchedulerKind::VllmV0), &w);
    assert_eq!(replicas_of(&rep), vec![0, 1, 0]);
    assert_eq!(rep.metrics.requests.rejected, 0);
}

#[test]
fn policy_names_parse() {
    for p in [
        RouterPolicy::RoundRobin,
        RouterPolicy::LeastOutstanding,
        RouterPolicy::ShortestQueueTokens,
        RouterPolicy::Random,
    ] {
        assert_eq!(p.name().parse::<RouterPolicy>().unwrap(), p);
    }
    assert!("nearest".parse::<RouterPolicy>().is_err());
}
