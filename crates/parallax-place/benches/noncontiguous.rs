//! Solve times of the non-contiguous max-load model by the default branch and bound
//! (`MilpBackend::BranchAndBound`, DP seed included) on the graphs whose optima it proves
//! quickly. Run with short measurement times on the shared VM, e.g.
//! `cargo bench -p parallax-place --bench noncontiguous -- --warm-up-time 1 --measurement-time 2`.
//!
//! Figures: see the crate README ("Non-contiguous branch and bound"); every one proven optimal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use parallax_place::{load_graph, solve_milp, Instance, MilpOptions};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/throughput")
        .join(rel)
}

fn noncontiguous(c: &mut Criterion) {
    let mut group = c.benchmark_group("noncontiguous_bnb");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for name in [
        "layer_bert24_inference",
        "layer_bert24_training",
        "layer_gnmt_inference",
        "layer_gnmt_training",
    ] {
        let g = load_graph(&data(&format!("{name}.json"))).expect("shipped instance loads");
        let inst = Instance::new(&g).expect("shipped instance is valid");
        group.bench_function(name, |b| {
            b.iter(|| {
                let sol = solve_milp(&inst, &MilpOptions::default()).expect("solves");
                assert!(sol.status.is_optimal());
                sol
            })
        });
    }
    group.finish();
}

criterion_group!(benches, noncontiguous);
criterion_main!(benches);
