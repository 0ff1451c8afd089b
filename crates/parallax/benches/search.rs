//! Whole plan searches (enumeration, DP splits, lowering, bounds, simulation of the plans bound
//! pruning keeps, baselines) with the default objective (mean end-to-end latency) and the
//! embedded `chat` workload; the same without bound pruning (`search-unpruned`, every plan
//! simulated) for the one-node cases; plus the depth check: a 1,280-layer variant of a model
//! against its 80-layer version on the same plans.
//!
//! Targets on a 2-core machine: Llama-3.1-70B on 1x8xH100 ≤ 1 s; Mixtral-8x22B on 1x8xH100
//! (EP plans included) ≤ 2 s; Llama-3.1-405B on 2x8xH100 ≤ 5 s; DeepSeek-V3 on 8x8xH100
//! ≤ 30 s; 1,280 layers within 2× of 80 layers.
//!
//! Select one with a filter: `cargo bench -p parallax --bench search -- 70b`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use parallax::hw::Cluster;
use parallax::ir::Model;
use parallax::plan::Allowed;
use parallax::sim::Workload;
use parallax::{Search, SearchConstraints};
use std::time::Duration;

fn chat() -> Workload {
    parallax::load_workload("chat", None, None).unwrap()
}

fn search_case(c: &mut Criterion, name: &str, model: &str, cluster: &str, samples: usize) {
    let model = parallax::ir::resolve(model).unwrap();
    let cluster = Cluster::parse(cluster).unwrap();
    let search = Search::new(model, cluster, chat());
    bench_search(c, "search", name, search, samples);
}

fn bench_search(c: &mut Criterion, group: &str, name: &str, search: Search, samples: usize) {
    let mut g = c.benchmark_group(group);
    g.sample_size(samples);
    g.measurement_time(Duration::from_secs(1));
    g.bench_function(name, |b| {
        b.iter(|| {
            let r = search.run().unwrap();
            assert!(r.best.is_some());
            black_box(r)
        })
    });
    g.finish();
}

fn searches(c: &mut Criterion) {
    search_case(
        c,
        "llama-3.1-70b/1x8xH100/chat",
        "llama-3.1-70b",
        "1x8xH100",
        10,
    );
    search_case(
        c,
        "mixtral-8x22b/1x8xH100/chat",
        "mixtral-8x22b",
        "1x8xH100",
        10,
    );
    search_case(
        c,
        "llama-3.1-405b/2x8xH100/chat",
        "llama-3.1-405b",
        "2x8xH100",
        10,
    );
    // Before bound pruning: every candidate simulated (DeepSeek-V3 on 8x8 then takes about
    // 300 s of CPU, too long to sample; see docs/cli.md).
    for (name, model) in [
        ("llama-3.1-70b/1x8xH100/chat", "llama-3.1-70b"),
        ("mixtral-8x22b/1x8xH100/chat", "mixtral-8x22b"),
    ] {
        let model = parallax::ir::resolve(model).unwrap();
        let cluster = Cluster::parse("1x8xH100").unwrap();
        let search = Search::new(model, cluster, chat()).exact_top(None);
        bench_search(c, "search-unpruned", name, search, 10);
    }
    search_case(
        c,
        "deepseek-v3/8x8xH100/chat",
        "deepseek-v3",
        "8x8xH100",
        10,
    );
}

/// Llama-3.1-8B's block repeated `layers` times.
fn deep(layers: u32) -> Model {
    let mut m = parallax::ir::resolve("llama-3.1-8b").unwrap();
    assert_eq!(m.runs.len(), 1);
    m.runs[0].repeat = layers;
    m.name = format!("llama-3.1-8b-x{layers}-layers");
    m
}

fn depth(c: &mut Criterion) {
    // One replica (no DP) on 16 GPUs: the same plans are feasible for both depths. Cell-replica
    // layouts are left out: replicating the attention or MLP weights of 1,280 layers on every
    // GPU does not fit, so memory (not the search) would make the plan sets differ.
    let constraints = SearchConstraints {
        allowed: Allowed {
            dp: false,
            attn_replicas: false,
            mlp_replicas: false,
            ..Allowed::default()
        },
        ..SearchConstraints::default()
    };
    let cluster = Cluster::parse("2x8xH100").unwrap();
    let workload = chat().take(256).unwrap();
    let mut g = c.benchmark_group("search-depth");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(1));
    let mut simulated = Vec::new();
    for layers in [80u32, 1280] {
        let s =
            Search::new(deep(layers), cluster.clone(), workload.clone()).constraints(constraints);
        // The same even plans at both depths; their DP-split variants may differ (a split is
        // offered only where it lowers the bottleneck within memory).
        simulated.push(s.run().unwrap().plans_feasible);
        g.bench_function(format!("llama-3.1-8b-x{layers}/2x8xH100/chat256"), |b| {
            b.iter(|| black_box(s.run().unwrap()))
        });
    }
    assert_eq!(simulated[0], simulated[1], "same plan set at both depths");
    g.finish();
}

criterion_group!(benches, searches, depth);
criterion_main!(benches);
