//! Speculative decoding: decode steps emit the accepted drafts too, deterministically, with
//! KV room for the drafts; the step's cost is the cost model's.

use crate::common;
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
    // steps; at 50 %: 1.5 tokens per step on average, the first request's credit starting at
    // 0.5 (2, 1, 2, 1, ...): 13 steps make 7·2 + 6·1 = 20 tokens.
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
    assert!((e2e(&half) - 0.14).abs() < 1e-12, "{}", e2e(&half));
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

#[test]
fn verified_drafts_take_their_share_of_the_token_budget() {
    // Budget 64: four decoding requests verifying 3 drafts each take 16 tokens, so a
    // 60-token prompt that arrives meanwhile is chunked at 48, not 60 (vLLM counts the drafts
    // against max_num_batched_tokens); tokens through the model count the drafts too.
    let w = workload(&[
        (0.0, 8, 40),
        (0.0, 8, 40),
        (0.0, 8, 40),
        (0.0, 8, 40),
        (0.05, 60, 2),
    ]);
    let mut cfg = with_spec(&[0.5, 0.5, 0.5]);
    cfg.scheduler = SchedulerConfig::new(SchedulerKind::Chunked);
    cfg.scheduler.max_num_batched_tokens = 64;
    cfg.scheduler.max_num_seqs = 8;
    cfg.record_timeline = true;
    let rep = run(vec![const_replica(C, 1000, 16)], cfg, &w);
    assert_conserved(&w, &rep);
    let spans = rep.timeline.as_ref().unwrap();
    let mixed: Vec<_> = spans
        .iter()
        .filter(|s| s.prefill_tokens > 0 && s.decode_requests > 0)
        .collect();
    assert!(!mixed.is_empty());
    for s in &mixed {
        let drafts: u64 = 3 * s.decode_requests as u64;
        assert!(
            s.prefill_tokens + s.decode_requests as u64 + drafts <= 64,
            "{} prefill + {} decodes (+{drafts} drafts)",
            s.prefill_tokens,
            s.decode_requests
        );
    }
    assert!(rep.metrics.tokens.forward > rep.metrics.tokens.prompt + rep.metrics.tokens.output);
}
