//! Prefix caching and KV offload in the search (`Search::serving`): every candidate runs with
//! them exactly as `simulate` does, the default is the search without them, bad settings are
//! errors naming the field.

use parallax::hw::Cluster;
use parallax::search::{DisaggMode, ServingFeatures};
use parallax::sim::{PreemptionMode, SimConfig};
use parallax::{LowerOptions, Search, Simulation};

const WORKLOAD: &str = "synthetic:requests=120,rate=4,resample=chat,turns=5,think=20";

fn search() -> Search {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100").unwrap();
    let workload = parallax::load_workload(WORKLOAD, None, None).unwrap();
    Search::new(model, cluster, workload).disaggregation(DisaggMode::Off)
}

#[test]
fn prefix_caching_reaches_every_candidate_and_cuts_ttft_on_multi_turn_chat() {
    let plain = search().run().unwrap();
    let features = ServingFeatures {
        prefix_caching: true,
        ..ServingFeatures::default()
    };
    let cached = search().serving(features).run().unwrap();
    assert_eq!(plain.ranked.len(), cached.ranked.len());
    for r in &plain.ranked {
        assert!(r.metrics.prefix_cache.is_none());
    }
    for r in &cached.ranked {
        let p = r.metrics.prefix_cache.expect("prefix caching is on");
        assert!(p.hit_rate > 0.5, "{}: {p:?}", r.plan);
        let before = plain.ranked.iter().find(|x| x.plan == r.plan).unwrap();
        assert!(
            r.metrics.ttft_ms.mean < before.metrics.ttft_ms.mean,
            "{}: {} vs {}",
            r.plan,
            r.metrics.ttft_ms.mean,
            before.metrics.ttft_ms.mean
        );
    }
    // The best candidate's metrics are `simulate --prefix-caching`'s.
    let best = cached.best.as_ref().unwrap();
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100").unwrap();
    let workload = parallax::load_workload(WORKLOAD, None, None).unwrap();
    let again = Simulation::new(&model, &cluster, &best.plan, &workload)
        .config(SimConfig {
            scheduler: best.scheduler,
            prefix_caching: true,
            ..SimConfig::default()
        })
        .run()
        .unwrap();
    assert_eq!(again.metrics, best.metrics);
    // Default features are the search without them, exactly.
    let default = search().serving(ServingFeatures::default()).run().unwrap();
    assert_eq!(
        serde_json::to_string(&default.ranked).unwrap(),
        serde_json::to_string(&plain.ranked).unwrap()
    );
}

#[test]
fn swap_and_the_host_tier_reach_the_candidates() {
    // A small KV cache (22 % of the GPU's memory) under a high rate forces preemptions;
    // swapping moves KV over the link.
    let features = ServingFeatures {
        prefix_caching: true,
        cpu_prefix_cache_bytes_per_gpu: 1e9,
        preemption: PreemptionMode::Swap,
        swap_space_bytes_per_gpu: 4e9,
        host_link_bandwidth: 25e9,
    };
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x1xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(30.0), Some(300)).unwrap();
    let s = Search::new(model.clone(), cluster.clone(), workload.clone())
        .disaggregation(DisaggMode::Off)
        .gpu_memory_utilization(0.22)
        .serving(features);
    let r = s.run().unwrap();
    let best = r.ranked.first().unwrap();
    let swap = best.metrics.swap.expect("swap metrics");
    assert!(swap.swap_outs > 0, "{swap:?}");
    // Priced at the search's host link: the same as simulate with --host-link-gbps 25.
    let again = Simulation::new(&model, &cluster, &best.plan, &workload)
        .config(SimConfig {
            scheduler: best.scheduler,
            prefix_caching: true,
            cpu_prefix_cache_bytes_per_gpu: 1e9,
            preemption: PreemptionMode::Swap,
            swap_space_bytes_per_gpu: 4e9,
            ..SimConfig::default()
        })
        .lower(LowerOptions {
            host_link_bandwidth: 25e9,
            ..LowerOptions::default()
        })
        .gpu_memory_utilization(0.22)
        .run()
        .unwrap();
    assert_eq!(again.metrics, best.metrics);
}

#[test]
fn bad_features_are_errors_naming_the_field() {
    for (f, field) in [
        (
            ServingFeatures {
                cpu_prefix_cache_bytes_per_gpu: 1e9,
                ..ServingFeatures::default()
            },
            "cpu_prefix_cache",
        ),
        (
            ServingFeatures {
                swap_space_bytes_per_gpu: f64::NAN,
                ..ServingFeatures::default()
            },
            "swap_space",
        ),
        (
            ServingFeatures {
                host_link_bandwidth: 0.0,
                ..ServingFeatures::default()
            },
            "host_link_bandwidth",
        ),
    ] {
        let e = search().serving(f).run().unwrap_err().to_string();
        assert!(e.contains(field), "{e}");
    }
}
