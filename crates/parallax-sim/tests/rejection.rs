//! Requests that can never fit are rejected and counted, never dropped; invalid configs are
//! typed errors.

use crate::common;
use common::*;
use parallax_sim::*;

#[test]
fn never_fitting_requests_are_rejected_and_counted() {
    // 10 blocks × 16 tokens = 160 tokens; watermark 1 % of 10 blocks = 0 blocks.
    // (100, 100): peak 199 tokens = 13 blocks > 10 → rejected. (100, 61): 160 tokens → fits.
    let w = workload(&[(0.0, 100, 100), (0.1, 100, 61), (0.2, 10, 10)]);
    for kind in SchedulerKind::ALL {
        let rep = run(vec![const_replica(0.01, 10, 16)], config(kind), &w);
        let m = &rep.metrics.requests;
        assert_eq!(
            (m.total, m.completed, m.rejected, m.rejected_kv_capacity),
            (3, 2, 1, 1),
            "{kind:?}"
        );
        assert_eq!(rep.requests[0].rejected, Some(RejectReason::KvCapacity));
        assert!(rep.requests[0].first_token_s.is_nan());
        assert!(rep.requests[1].completed && rep.requests[2].completed);
        let csv = requests_csv(&rep);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .contains(",rejected-kv-capacity,"),
            "{csv}"
        );
    }
}

#[test]
fn prompts_over_the_budget_are_rejected_unless_chunked() {
    let w = workload(&[(0.0, 100, 5), (0.0, 10, 5)]);
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.scheduler.max_num_batched_tokens = 64;
    cfg.scheduler.max_num_seqs = 16;
    let rep = run(vec![const_replica(0.01, 1000, 16)], cfg, &w);
    assert_eq!(rep.metrics.requests.rejected_prompt_too_long, 1);
    assert_eq!(rep.requests[0].rejected, Some(RejectReason::PromptTooLong));
    cfg.scheduler.kind = SchedulerKind::Chunked;
    let rep = run(vec![const_replica(0.01, 1000, 16)], cfg, &w);
    assert_eq!(rep.metrics.requests.completed, 2);
    // 100 tokens in chunks of ≤ 64 → two iterations before its first token.
    assert!((rep.requests[0].ttft_s() - 0.02).abs() < 1e-12);
}

#[test]
fn invalid_configs_are_typed_errors() {
    let r = || vec![const_replica(0.01, 100, 16)];
    let mut cfg = SimConfig::default();
    cfg.scheduler.max_num_seqs = 0;
    let e = Simulator::new(r(), cfg).unwrap_err();
    assert!(
        matches!(e, SimError::InvalidConfig { ref field, .. } if field == "scheduler.max_num_seqs"),
        "{e}"
    );
    let mut cfg = config(SchedulerKind::Chunked);
    cfg.scheduler.chunk_size = Some(128);
    let e = Simulator::new(r(), cfg).unwrap_err();
    assert!(
        matches!(e, SimError::InvalidConfig { ref field, .. } if field == "scheduler.chunk_size"),
        "{e}"
    );
    let mut cfg = SimConfig::default();
    cfg.scheduler.watermark = 1.5;
    assert!(Simulator::new(r(), cfg).is_err());
    assert!(Simulator::new(vec![], SimConfig::default()).is_err());
    assert!(Simulator::new(vec![const_replica(0.01, 0, 16)], SimConfig::default()).is_err());
    assert!(Simulator::new(vec![const_replica(0.01, 10, 0)], SimConfig::default()).is_err());
    let mut cfg = SimConfig::default();
    cfg.slo.ttft_ms = Some(-1.0);
    assert!(Simulator::new(r(), cfg).is_err());
    assert!("fifo".parse::<SchedulerKind>().is_err());
    for k in SchedulerKind::ALL {
        assert_eq!(k.name().parse::<SchedulerKind>().unwrap(), k);
    }
}

#[test]
fn a_nan_stage_cost_is_an_error_not_a_hang() {
    let w = workload(&[(0.0, 10, 5)]);
    let e = Simulator::new(vec![const_replica(f64::NAN, 100, 16)], SimConfig::default())
        .unwrap()
        .run(&w)
        .unwrap_err();
    assert!(matches!(e, SimError::InvalidConfig { .. }), "{e}");
}

/// A finite but absurd iteration (a custom cost model returning 1e300 s) is refused too: it
/// saturated the inter-token sums (a mean of 1.8e10 ms against a p50 of 1e302 ms).
#[test]
fn an_absurd_stage_cost_is_an_error() {
    let w = workload(&[(0.0, 10, 5)]);
    let e = Simulator::new(vec![const_replica(1e300, 100, 16)], SimConfig::default())
        .unwrap()
        .run(&w)
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SimError::InvalidConfig { .. }), "{e}");
    assert!(msg.contains("1e300") && msg.contains("[0, 1e6]"), "{msg}");
    // An hour-long iteration is a slow model, not an error.
    Simulator::new(vec![const_replica(3600.0, 100, 16)], SimConfig::default())
        .unwrap()
        .run(&w)
        .unwrap();
}
