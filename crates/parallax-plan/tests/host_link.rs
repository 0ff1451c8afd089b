//! The lowered stages expose their host link for KV swapping: KV bytes per token of the stage's
//! attention group and the group's aggregate host bandwidth.

use parallax_plan::{lower_plan, LowerOptions, Plan};
use std::sync::Arc;

#[test]
fn stages_price_kv_swaps_by_their_bytes_over_the_host_link() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(parallax_hw::RooflineModel::new(&cluster.gpu));
    // Llama-3.1-8B: 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 bytes = 131,072 B per token.
    let per_token = 32.0 * 8.0 * 128.0 * 2.0 * 2.0;
    for (plan, stages) in [
        ("tp=1,dp=8", 1usize),
        ("tp=4,dp=2", 1),
        ("pp=2,tp=2,dp=2", 2),
    ] {
        let plan: Plan = plan.parse().unwrap();
        let opts = LowerOptions {
            host_link_bandwidth: 20e9,
            ..LowerOptions::default()
        };
        let lowered = lower_plan(&model, &plan, &cluster, cost.clone(), &opts).unwrap();
        let links: Vec<_> = lowered.replicas[0]
            .stages
            .iter()
            .map(|s| s.host_link().expect("a host link"))
            .collect();
        assert_eq!(links.len(), stages);
        let bytes: f64 = links.iter().map(|l| l.kv_bytes_per_token).sum();
        assert!((bytes - per_token).abs() < 1e-6, "{plan}: {bytes}");
        for l in &links {
            // Each device copies its share over its own link: the time per token is the
            // per-device share over one link.
            let devices = l.bandwidth / 20e9;
            let share = per_token / (plan.pp * plan.tp) as f64;
            assert_eq!(devices, plan.tp as f64);
            assert!((l.kv_bytes_per_token / devices - share).abs() < 1e-6);
        }
    }
}
