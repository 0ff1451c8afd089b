//! The report is byte-identical (as JSON) across rayon pool sizes and repeated runs.

use parallax::hw::Cluster;
use parallax::sim::Slo;
use parallax::{Objective, SchedulerSpace, Search};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn search(objective: Objective) -> Search {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(4.0), Some(64)).unwrap();
    Search::new(model, cluster, workload)
        .objective(objective)
        .slo(Slo {
            ttft_ms: Some(300.0),
            tpot_ms: Some(30.0),
        })
        .pareto(Objective::E2eMean, Objective::Energy)
}

fn json_with_threads(s: &Search, threads: usize) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let report = pool.install(|| s.run()).unwrap();
    serde_json::to_string_pretty(&report).unwrap()
}

#[test]
fn same_json_with_one_and_two_threads() {
    for objective in [Objective::E2eMean, Objective::Throughput] {
        let s = search(objective);
        let one = json_with_threads(&s, 1);
        let two = json_with_threads(&s, 2);
        let again = json_with_threads(&s, 2);
        assert_eq!(one, two, "{objective}");
        assert_eq!(two, again, "{objective}");
        assert!(one.contains("\"plans_enumerated\""));
        assert!(one.contains("\"stop_reason\": \"exhausted\""));
    }
}

#[test]
fn searched_scheduler_knobs_are_deterministic_and_multiply_candidates() {
    let base = search(Objective::E2eMean).run().unwrap();
    let s = search(Objective::E2eMean).scheduler_space(SchedulerSpace {
        max_num_seqs: vec![64, 256],
        chunk_sizes: vec![],
    });
    let one = json_with_threads(&s, 1);
    let two = json_with_threads(&s, 2);
    assert_eq!(one, two);
    let r = s.run().unwrap();
    assert_eq!(r.plans_simulated, 2 * base.plans_simulated);
    assert!(r.ranked.iter().any(|x| x.scheduler.max_num_seqs == 64));
    assert!(r.ranked.iter().any(|x| x.scheduler.max_num_seqs == 256));
}

#[test]
fn progress_reports_every_candidate() {
    let seen = Arc::new(AtomicUsize::new(0));
    let max_total = Arc::new(AtomicUsize::new(0));
    let (s2, t2) = (Arc::clone(&seen), Arc::clone(&max_total));
    let r = search(Objective::E2eMean)
        .progress(move |p| {
            assert!(p.simulated <= p.total);
            s2.fetch_add(1, Ordering::SeqCst);
            t2.fetch_max(p.total, Ordering::SeqCst);
        })
        .run()
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst) as u64, r.plans_simulated);
    assert_eq!(max_total.load(Ordering::SeqCst) as u64, r.plans_simulated);
}
