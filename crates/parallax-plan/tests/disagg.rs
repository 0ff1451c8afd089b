//! Disaggregated plan strings and their lowering: pools, KV bytes, link choice.

use parallax_plan::{lower_disaggregated, DisaggPlan, LowerOptions};
use std::sync::Arc;

#[test]
fn disaggregated_plans_parse_and_round_trip() {
    let p: DisaggPlan = "prefill=2x(tp=4); decode=1x(tp=8)".parse().unwrap();
    assert_eq!((p.prefill, p.decode), (2, 1));
    assert_eq!((p.prefill_plan.tp, p.decode_plan.tp), (4, 8));
    assert_eq!(p.devices(), 16);
    let again: DisaggPlan = p.to_string().parse().unwrap();
    assert_eq!(again, p);
    assert!(DisaggPlan::is_disaggregated(
        "PREFILL=1x(tp=8);decode=1x(tp=8)"
    ));
    assert!(!DisaggPlan::is_disaggregated("dp=2,tp=8"));
    for (bad, needle) in [
        ("prefill=2x(tp=4)", "both"),
        ("prefill=0x(tp=4);decode=1x(tp=8)", "N ≥ 1"),
        ("prefill=2(tp=4);decode=1x(tp=8)", "Nx(PLAN)"),
        ("prefill=2x(dp=2,tp=4);decode=1x(tp=8)", "without dp"),
        (
            "prefill=1x(tp=4);decode=1x(tp=8);decode=1x(tp=2)",
            "each pool once",
        ),
        ("prefil=1x(tp=4);decode=1x(tp=8)", "prefil"),
        ("prefill=1x(tp=four);decode=1x(tp=8)", "four"),
    ] {
        let e = bad.parse::<DisaggPlan>().unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

#[test]
fn lowering_prices_the_kv_link_by_placement() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    // 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 bytes.
    let per_token = 131_072.0;
    for (cluster, plan, intra, lanes) in [
        ("1x8xH100", "prefill=1x(tp=2);decode=1x(tp=4)", true, 2.0),
        ("2x8xH100", "prefill=2x(tp=4);decode=1x(tp=8)", false, 4.0),
    ] {
        let cluster = parallax_hw::Cluster::parse(cluster).unwrap();
        let cost = Arc::new(parallax_hw::RooflineModel::new(&cluster.gpu));
        let p: DisaggPlan = plan.parse().unwrap();
        let (reps, d) =
            lower_disaggregated(&model, &p, &cluster, cost, &LowerOptions::default()).unwrap();
        assert_eq!(reps.len() as u32, p.prefill + p.decode);
        assert_eq!(d.prefill_replicas as u32, p.prefill);
        assert!((d.kv_link.kv_bytes_per_token - per_token).abs() < 1e-6);
        let link = if intra {
            cluster.intra_node
        } else {
            cluster.inter_node
        };
        assert!(
            (d.kv_link.bandwidth - link.bandwidth * lanes).abs() < 1.0,
            "{plan}"
        );
        assert_eq!(d.kv_link.latency_s, link.latency);
    }
    let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(parallax_hw::RooflineModel::new(&cluster.gpu));
    let p: DisaggPlan = "prefill=2x(tp=4);decode=1x(tp=4)".parse().unwrap();
    let e = lower_disaggregated(&model, &p, &cluster, cost, &LowerOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("12 GPUs") && e.contains("8"), "{e}");
}
