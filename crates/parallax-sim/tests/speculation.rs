//! Speculative decoding: decode steps emit the accepted drafts too, deterministically, with
//! KV room for the drafts; the step's cost is the cost model's.

mod common;
use common::*;
use parallax_sim::*;

const C: f64 = 0.01;

fn with_spec(rates: &[f64]) -> SimConfig {
    SimConfig {
        speculation: Some(Speculation::from_acceptance_rates(rates).unwrap()),
        ..config(SchedulerKind::Orca)
    }
}

#[test]
fn one_request_emits_the_accepted_drafts() {
    // Prompt 10, output 21, every 10 ms step. Without speculation: 1 prefill step (token 1)
    // and 20 decode steps. With every draft of 1 accepted: 2 tokens per decode step, 10
    // steps; at 50 %: 1.5 tokens per step on average (1, 2, 1, 2, ...), 14 steps (20 tokens
    // need credits 0.5·14 = 7 extra, 13 steps give 6.5 → 6 extra → 19 tokens).
    let w = workload(&[(0.0, 10, 21)]);
    let plain = run(
        vec![const_replica(C, 1000, 16)],
        config(SchedulerKind::Orca),
        &w,
    );
    let all = run(vec![const_replica(C, 1000, 16)], with_spec(&[1.0]), &w);
    let half = run(vec![const_replica(C, 1000, 16)], with_spec(&[0.5]), &w);
    for rep in [&plain, &all, &half] {
        assert!(rep.requests[0].completed);
        assert_eq!(rep.metrics.tokens.output, 21);
    }
    let e2e = |rep: &SimReport| rep.requests[0].e2e_s();
    assert!((e2e(&plain) - 0.21).abs() < 1e-12, "{}", e2e(&plain));
    assert!((e2e(&all) - 0.11).abs() < 1e-12, "{}", e2e(&all));
    assert!((e2e(&half) - 0.15).abs() < 1e-12, "{}", e2e(&half));
    // TTFT is the prefill's either way
    assert_eq!(plain.requests[0].ttft_s(), half.requests[0].ttft_s());
}

#[test]
fn never_more_than_the_output_and_deterministic() {
    // Three drafts always accepted: 4 tokens per step, but output 6 ends after 1 + 2 steps
    // (1 + 4 + 1) without overshooting.
    let w = workload(&[(0.0, 10, 6), (0.0, 30, 9), (0.002, 5, 2)]);
    let a = run(
        vec![const_replica(C, 1000, 16)],
        with_spec(&[1.0, 1.0, 1.0]),
        &w,
    );
    let b = run(
        vec![const_replica(C, 1000, 16)],
        with_spec(&[1.0, 1.0, 1.0]),
        &w,
    );
    assert_conserved(&w, &a);
    assert_eq!(a.metrics.tokens.output, 6 + 9 + 2);
    assert_eq!(
        serde_json::to_string(&a.metrics).unwrap(),
        serde_json::to_string(&b.metrics).unwrap()
    );
    assert!(a.requests.iter().all(|r| r.completed));
}

#[test]
fn drafts_fit_the_kv_their_output_can_use() {
    // 4 blocks of 4 tokens hold 16 tokens; a 10-token prompt with 6 outputs needs 15 at its
    // last step. Four drafts per step write KV ahead only as far as the output can use, so
    // the request fits: with every draft accepted its one decode step emits the 5 tokens
    // left (done at 20 ms); with none accepted it decodes one token per step, as without
    // speculation (60 ms).
    let w = workload(&[(0.0, 10, 6)]);
    let all = run(vec![const_replica(C, 4, 4)], with_spec(&[1.0; 4]), &w);
    let none = run(vec![const_replica(C, 4, 4)], with_spec(&[0.0; 4]), &w);
    for rep in [&all, &none] {
        assert!(rep.requests[0].completed);
        assert_eq!(rep.requests[0].preemptions, 0);
    }
    assert!((all.requests[0].e2e_s() - 0.02).abs() < 1e-12);
    assert!((none.requests[0].e2e_s() - 0.06).abs() < 1e-12);
}

#[test]
fn bad_settings_are_refused_by_name() {
    let cfg = SimConfig {
        speculation: Some(Speculation {
            draft_tokens: 2,
            mean_accepted: 2.5,
        }),
        ..SimConfig::default()
    };
    let e = Simulator::new(vec![const_replica(C, 100, 16)], cfg).unwrap_err();
    assert!(e.to_string().contains("speculation.mean_accepted"), "{e}");
}
