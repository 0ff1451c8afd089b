//! Hand-computed effects of the engine's host time (serial and overlapped), the SGLang-style
//! prefill-first scheduler and closed-loop clients (`max_concurrency`), under a constant-cost
//! stage (every iteration takes 10 ms whatever the batch).

use crate::common;
use common::*;
use parallax_sim::*;

const C: f64 = 0.01;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn serial_host_time_precedes_every_iteration() {
    // One request, prompt 8, output 3: three iterations of one request each.
    // Host 1 ms + 0.5 ms/request = 1.5 ms before each 10 ms step.
    // Token 1 at 0.0115, token 2 at 0.023, token 3 at 0.0345.
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.host = HostOverhead {
        per_iteration_s: 1e-3,
        per_request_s: 0.5e-3,
        overlapped: false,
    };
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        cfg,
        &workload(&[(0.0, 8, 3)]),
    );
    let r = &rep.requests[0];
    close(r.ttft_s(), 0.0115);
    close(r.e2e_s(), 0.0345);
    close(rep.metrics.breakdown_s["overhead"], 3.0 * 1.5e-3);
}

#[test]
fn overlapped_host_time_hides_under_the_gpu_until_it_is_longer() {
    let w = workload(&[(0.0, 8, 3)]);
    let mut cfg = config(SchedulerKind::VllmV0);
    cfg.host = HostOverhead {
        per_iteration_s: 5e-3,
        per_request_s: 0.0,
        overlapped: true,
    };
    let rep = run(vec![const_replica(C, 1000, 16)], cfg, &w);
    close(rep.requests[0].e2e_s(), 0.03);
    // 25 ms of host work per iteration: the host sets the pace.
    cfg.host.per_iteration_s = 25e-3;
    let rep = run(vec![const_replica(C, 1000, 16)], cfg, &w);
    close(rep.requests[0].ttft_s(), 0.025);
    close(rep.requests[0].e2e_s(), 0.075);
    close(rep.metrics.breakdown_s["overhead"], 3.0 * 15e-3);
}

#[test]
fn zero_host_time_changes_nothing() {
    let w = workload(&[(0.0, 10, 3), (0.005, 20, 2), (0.007, 300, 9)]);
    for kind in SchedulerKind::ALL {
        let a = run(vec![const_replica(C, 1000, 16)], config(kind), &w);
        let mut cfg = config(kind);
        cfg.host.overlapped = true;
        let b = run(vec![const_replica(C, 1000, 16)], cfg, &w);
        assert_eq!(requests_csv(&a), requests_csv(&b), "{kind:?}");
    }
}

#[test]
fn prefill_first_runs_chunks_before_decodes_and_never_mixes() {
    // Budget 16 tokens. A: t=0, prompt 10, output 3. B: t=0.005, prompt 20, output 2.
    // 0.00–0.01 prefill A (10)                 → A token 1 at 0.01
    // 0.01–0.02 prefill B chunk 16 (no mixing)
    // 0.02–0.03 prefill B chunk 4              → B token 1 at 0.03
    // 0.03–0.04 decode A, B                    → A token 2, B token 2 (B done)
    // 0.04–0.05 decode A                       → A token 3 (done)
    let mut cfg = config(SchedulerKind::PrefillFirst);
    cfg.scheduler.max_num_batched_tokens = 16;
    cfg.scheduler.max_num_seqs = 8;
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        cfg,
        &workload(&[(0.0, 10, 3), (0.005, 20, 2)]),
    );
    close(rep.requests[0].ttft_s(), 0.01);
    close(rep.requests[0].e2e_s(), 0.05);
    close(rep.requests[1].ttft_s(), 0.025);
    close(rep.requests[1].e2e_s(), 0.035);
    assert_eq!(rep.metrics.iterations, 5);
}

#[test]
fn closed_loop_sends_a_request_when_one_completes() {
    // Three requests scheduled at t=0 (prompt 8, output 2: two iterations each), one client.
    // Request k is sent when request k-1 finishes: at 0, 0.02, 0.04.
    let mut cfg = config(SchedulerKind::Chunked);
    cfg.max_concurrency = Some(1);
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        cfg,
        &workload(&[(0.0, 8, 2), (0.0, 8, 2), (0.0, 8, 2)]),
    );
    for (k, r) in rep.requests.iter().enumerate() {
        close(r.arrival_s, 0.02 * k as f64);
        close(r.ttft_s(), 0.01);
        close(r.e2e_s(), 0.02);
    }
    // Two clients: requests 0 and 1 run together; request 2 is sent at 0.02.
    cfg.max_concurrency = Some(2);
    let rep = run(
        vec![const_replica(C, 1000, 16)],
        cfg,
        &workload(&[(0.0, 8, 2), (0.0, 8, 2), (0.0, 8, 2)]),
    );
    close(rep.requests[2].arrival_s, 0.02);
    close(rep.metrics.makespan_s, 0.04);
}

#[test]
fn closed_loop_respects_later_scheduled_arrivals_and_rejections() {
    // Request 1 is scheduled at 0.5 s, after a slot frees: it is sent at 0.5 s.
    // Request 2 (prompt too long for the KV cache) is rejected and frees its slot at once.
    let mut cfg = config(SchedulerKind::Chunked);
    cfg.max_concurrency = Some(1);
    let rep = run(
        vec![const_replica(C, 4, 16)],
        cfg,
        &workload(&[(0.0, 8, 2), (0.5, 8, 2), (0.5, 500, 2), (0.5, 8, 2)]),
    );
    close(rep.requests[1].arrival_s, 0.5);
    close(rep.requests[2].arrival_s, 0.52);
    assert!(rep.requests[2].rejected.is_some());
    close(rep.requests[3].arrival_s, 0.52);
    assert!(rep.requests[3].completed);
    assert!(Simulator::new(
        vec![const_replica(C, 4, 16)],
        SimConfig {
            max_concurrency: Some(0),
            ..SimConfig::default()
        }
    )
    .is_err());
}
