//! A model too large for the cluster is a result that says why and by how much memory misses.

use parallax::hw::Cluster;
use parallax::{Search, StopReason};

#[test]
fn llama_405b_on_one_h100_misses_by_hundreds_of_gib() {
    let model = parallax::ir::resolve("llama-3.1-405b").unwrap();
    let cluster = Cluster::parse("1x1xH100").unwrap();
    let workload = parallax::load_workload("chat", None, Some(16)).unwrap();
    let weights = model.weight_bytes();
    let r = Search::new(model, cluster.clone(), workload).run().unwrap();
    assert!(r.best.is_none());
    assert!(r.ranked.is_empty());
    assert_eq!(r.plans_simulated, 0);
    assert_eq!(r.plans_feasible, 0);
    assert_eq!(r.stop_reason, StopReason::Exhausted);
    assert!(r.plans_pruned["memory"] >= 1);
    let inf = r.infeasible.as_ref().expect("an explanation");
    let miss = inf.closest_miss.as_ref().expect("the closest memory miss");
    let deficit = inf.deficit_bytes.unwrap();
    assert_eq!(deficit, miss.deficit_bytes());
    // 405B bf16 weights alone exceed one H100 by far: the deficit is at least the weights
    // minus the whole device.
    let capacity = cluster.gpu.memory_bytes as f64;
    assert!(deficit >= weights - capacity, "{deficit} vs {weights}");
    assert!(inf.reason.contains("misses by"), "{}", inf.reason);
    assert!(inf.reason.contains("GiB"), "{}", inf.reason);
    // Baselines say why they have no plan.
    for b in &r.baselines {
        assert!(b.plan.is_none());
        assert!(
            b.error.as_ref().unwrap().contains("memory"),
            "{:?}",
            b.error
        );
        assert!(b.speedup.is_none());
    }
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"best\":null"));
    assert!(json.contains("\"deficit_bytes\":"));
}

#[test]
fn unmeetable_slo_is_a_result_not_an_error() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(2.0), Some(32)).unwrap();
    let r = Search::new(model, cluster, workload)
        .slo(parallax::sim::Slo {
            ttft_ms: Some(0.001),
            tpot_ms: None,
        })
        .run()
        .unwrap();
    assert!(r.best.is_none());
    assert!(!r.ranked.is_empty());
    assert!(r.ranked.iter().all(|x| !x.meets_constraints));
    let reason = &r.infeasible.as_ref().unwrap().reason;
    assert!(reason.contains("SLO attainment"), "{reason}");
}
