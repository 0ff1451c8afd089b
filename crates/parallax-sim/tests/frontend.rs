//! Frontend latency and scheduling one iteration ahead, on hand-computed cases: every
//! iteration takes 10 ms whatever the batch.

use crate::common;
use common::*;
use parallax_sim::*;

const IT: f64 = 0.01;

fn cfg(kind: SchedulerKind, frontend: f64, ahead: bool) -> SimConfig {
    SimConfig {
        frontend_latency_s: frontend,
        schedule_ahead: ahead,
        ..config(kind)
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn frontend_latency_adds_twice_to_ttft_and_e2e_not_to_tpot() {
    let w = workload(&[(0.0, 10, 3)]);
    let f = 0.005;
    let base = run(
        vec![const_replica(IT, 100, 16)],
        cfg(SchedulerKind::VllmV0, 0.0, false),
        &w,
    );
    let rep = run(
        vec![const_replica(IT, 100, 16)],
        cfg(SchedulerKind::VllmV0, f, false),
        &w,
    );
    assert_conserved(&w, &rep);
    let (r0, r) = (&base.requests[0], &rep.requests[0]);
    assert!(close(r0.ttft_s(), IT));
    // Reaches the engine at 5 ms, first token at 15 ms, at the client at 20 ms.
    assert!(close(r.arrival_s, 0.0), "{r:?}");
    assert!(close(r.scheduled_s, f), "{r:?}");
    assert!(close(r.ttft_s(), IT + 2.0 * f), "{r:?}");
    assert!(close(r.e2e_s(), 3.0 * IT + 2.0 * f), "{r:?}");
    assert!(close(r.tpot_s(), r0.tpot_s()), "{r:?} vs {r0:?}");
}

#[test]
fn closed_loop_sends_the_next_request_when_the_last_token_reaches_the_client() {
    let w = workload(&[(0.0, 10, 2), (0.0, 10, 2)]);
    let f = 0.005;
    let c = SimConfig {
        max_concurrency: Some(1),
        ..cfg(SchedulerKind::VllmV0, f, false)
    };
    let rep = run(vec![const_replica(IT, 100, 16)], c, &w);
    assert_conserved(&w, &rep);
    let (a, b) = (&rep.requests[0], &rep.requests[1]);
    // A: engine 5..25 ms, client sees its last token at 30 ms and sends B then.
    assert!(close(a.finish_s, 0.030), "{a:?}");
    assert!(close(b.arrival_s, 0.030), "{b:?}");
    assert!(close(b.scheduled_s, 0.035), "{b:?}");
    assert!(close(b.ttft_s(), IT + 2.0 * f), "{b:?}");
    assert!(close(b.finish_s, 0.060), "{b:?}");
}

#[test]
fn scheduling_ahead_joins_the_second_iteration_after_arrival() {
    // A runs from 0; B arrives at 13 ms, inside A's second iteration [10, 20] ms.
    let w = workload(&[(0.0, 10, 5), (0.013, 10, 5)]);
    for kind in [SchedulerKind::Orca, SchedulerKind::Chunked] {
        let now = run(vec![const_replica(IT, 100, 16)], cfg(kind, 0.0, false), &w);
        let ahead = run(vec![const_replica(IT, 100, 16)], cfg(kind, 0.0, true), &w);
        assert_conserved(&w, &now);
        assert_conserved(&w, &ahead);
        // Without: formed at 20 ms, first token at 30 ms.
        assert!(close(now.requests[1].first_token_s, 0.030), "{kind:?}");
        // Ahead: the [20, 30] ms batch was formed at 10 ms, before B; B runs in [30, 40].
        assert!(close(ahead.requests[1].first_token_s, 0.040), "{kind:?}");
        assert!(close(ahead.requests[0].finish_s, now.requests[0].finish_s));
    }
}

#[test]
fn scheduling_ahead_takes_a_request_at_once_when_nothing_else_runs() {
    // B arrives while the engine is idle: no wait.
    let w = workload(&[(0.0, 10, 1), (0.5, 10, 3)]);
    let rep = run(
        vec![const_replica(IT, 100, 16)],
        cfg(SchedulerKind::Orca, 0.0, true),
        &w,
    );
    assert_conserved(&w, &rep);
    assert!(close(rep.requests[1].ttft_s(), IT));
    // B arrives during A's last iteration [10, 20] ms: the engine has nothing else to run at
    // 20 ms, so its next pass takes B.
    let w = workload(&[(0.0, 10, 2), (0.015, 10, 3)]);
    let rep = run(
        vec![const_replica(IT, 100, 16)],
        cfg(SchedulerKind::Orca, 0.0, true),
        &w,
    );
    assert_conserved(&w, &rep);
    assert!(close(rep.requests[1].scheduled_s, 0.020));
    assert!(close(rep.requests[1].first_token_s, 0.030));
}

#[test]
fn zero_frontend_and_no_lookahead_change_nothing() {
    let w = workload(&[
        (0.0, 100, 20),
        (0.003, 200, 10),
        (0.02, 50, 30),
        (0.021, 70, 5),
    ]);
    for kind in SchedulerKind::ALL {
        let a = run(vec![const_replica(IT, 100, 16)], config(kind), &w);
        let b = run(vec![const_replica(IT, 100, 16)], cfg(kind, 0.0, false), &w);
        assert_eq!(
            serde_json::to_string(&a.metrics).unwrap(),
            serde_json::to_string(&b.metrics).unwrap()
        );
    }
}

#[test]
fn scheduling_ahead_conserves_tokens_under_load() {
    let reqs: Vec<(f64, u32, u32)> = (0..60)
        .map(|i| {
            (
                i as f64 * 0.004,
                50 + (i * 37 % 300) as u32,
                1 + (i * 13 % 40) as u32,
            )
        })
        .collect();
    let w = workload(&reqs);
    for kind in SchedulerKind::ALL {
        for f in [0.0, 0.002] {
            let rep = run(
                vec![replica(vec![affine()], 400, 16)],
                cfg(kind, f, true),
                &w,
            );
            assert_conserved(&w, &rep);
        }
    }
}

#[test]
fn a_bad_frontend_latency_is_an_error_naming_the_field() {
    for f in [-0.001, f64::NAN, f64::INFINITY, 61.0] {
        let err = Simulator::new(
            vec![const_replica(IT, 100, 16)],
            cfg(SchedulerKind::Orca, f, false),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("frontend_latency_s"), "{err}");
    }
}

fn streamed(token_s: f64, concurrency: Option<u32>) -> SimConfig {
    SimConfig {
        frontend_token_s: token_s,
        max_concurrency: concurrency,
        ..cfg(SchedulerKind::VllmV0, 0.0, false)
    }
}

#[test]
fn a_slow_stream_delivers_tokens_behind_its_backlog() {
    // One request, three output tokens emitted at 10, 20 and 30 ms; the stream takes 20 ms
    // per token: delivered at 30, 50 and 70 ms.
    let w = workload(&[(0.0, 10, 3)]);
    let rep = run(vec![const_replica(IT, 100, 16)], streamed(0.02, None), &w);
    assert_conserved(&w, &rep);
    let r = &rep.requests[0];
    assert!(close(r.ttft_s(), 0.030), "{r:?}");
    assert!(close(r.finish_s, 0.070), "{r:?}");
    assert!(close(r.tpot_s(), 0.020), "{r:?}");
    // A fast stream keeps up: the engine's times.
    let fast = run(vec![const_replica(IT, 100, 16)], streamed(0.001, None), &w);
    let f = &fast.requests[0];
    assert!(close(f.ttft_s(), IT + 0.001), "{f:?}");
    assert!(close(f.finish_s, 3.0 * IT + 0.001), "{f:?}");
    // 0: no stream at all
    let none = run(vec![const_replica(IT, 100, 16)], streamed(0.0, None), &w);
    assert!(close(none.requests[0].finish_s, 3.0 * IT));
}

#[test]
fn closed_loop_waits_for_the_stream() {
    let w = workload(&[(0.0, 10, 3), (0.0, 10, 3)]);
    let rep = run(
        vec![const_replica(IT, 100, 16)],
        streamed(0.02, Some(1)),
        &w,
    );
    assert_conserved(&w, &rep);
    let (a, b) = (&rep.requests[0], &rep.requests[1]);
    // A's last token reaches the client at 70 ms: B is sent then, its first token leaves
    // the engine at 80 ms and the (idle) stream delivers it at 100 ms.
    assert!(close(a.finish_s, 0.070), "{a:?}");
    assert!(close(b.arrival_s, 0.070), "{b:?}");
    assert!(close(b.first_token_s, 0.100), "{b:?}");
}

#[test]
fn a_bad_stream_cost_is_named() {
    for bad in [-1e-6, f64::NAN, 1.0] {
        let Err(e) = Simulator::new(vec![const_replica(IT, 100, 16)], streamed(bad, None)) else {
            panic!("{bad} accepted");
        };
        let e = e.to_string();
        assert!(e.contains("frontend_token_s"), "{e}");
    }
}

#[test]
fn each_replica_streams_on_its_own() {
    // Two requests on two replicas: each stream delivers its own tokens at 30, 50, 70 ms.
    let w = workload(&[(0.0, 10, 3), (0.0, 10, 3)]);
    let reps = vec![const_replica(IT, 100, 16), const_replica(IT, 100, 16)];
    let rep = run(reps, streamed(0.02, None), &w);
    assert_conserved(&w, &rep);
    let used: std::collections::BTreeSet<_> = rep.requests.iter().map(|r| r.replica).collect();
    assert_eq!(used.len(), 2, "{:?}", rep.requests);
    for r in &rep.requests {
        assert!(close(r.ttft_s(), 0.030), "{r:?}");
        assert!(close(r.finish_s, 0.070), "{r:?}");
    }
}

#[test]
fn closed_loop_with_streams_of_unequal_backlogs_completes_everything() {
    // Replicas whose streams fall behind by different amounts free client slots out of
    // engine-time order; every request still runs, each after a slot freed.
    let w = workload(&[
        (0.0, 10, 8),
        (0.0, 10, 1),
        (0.0, 10, 8),
        (0.0, 10, 2),
        (0.0, 10, 5),
        (0.0, 10, 1),
        (0.0, 10, 3),
    ]);
    let reps = vec![const_replica(IT, 100, 16), const_replica(IT, 100, 16)];
    let rep = run(reps, streamed(0.015, Some(3)), &w);
    assert_conserved(&w, &rep);
    assert!(
        rep.requests.iter().all(|r| r.completed),
        "{:?}",
        rep.requests
    );
    let mut sends: Vec<f64> = rep.requests.iter().map(|r| r.arrival_s).collect();
    let mut done: Vec<f64> = rep.requests.iter().map(|r| r.finish_s).collect();
    sends.sort_by(f64::total_cmp);
    done.sort_by(f64::total_cmp);
    // the k-th request after the first three is sent no earlier than the k-th delivery
    for k in 3..sends.len() {
        assert!(sends[k] >= done[k - 3] - 1e-12, "{sends:?} vs {done:?}");
    }
}

#[test]
fn prompt_chunks_stream_no_tokens() {
    // A 10-token prompt in two 5-token chunks (10 and 20 ms), then two decode steps (30, 40
    // ms): three tokens, each streamed in 20 ms once made, none for the first chunk.
    let w = workload(&[(0.0, 10, 3)]);
    let mut c = streamed(0.02, None);
    c.scheduler = SchedulerConfig {
        max_num_batched_tokens: 5,
        max_num_seqs: 4,
        ..SchedulerConfig::new(SchedulerKind::Chunked)
    };
    let rep = run(vec![const_replica(IT, 100, 16)], c, &w);
    assert_conserved(&w, &rep);
    let r = &rep.requests[0];
    assert!(close(r.first_token_s, 0.040), "{r:?}");
    assert!(close(r.finish_s, 0.080), "{r:?}");
}
