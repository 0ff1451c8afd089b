//! Per-instance solve times of the exact contiguous max-load DP (all shipped throughput
//! graphs, Inception-v3 included) and of the latency search (q = 1) on all four shipped
//! latency graphs. Inception-v3's latency proof (q = 1, 12 accelerators) is settled by the
//! series DP over its 33 blocks (`src/latency/series.rs`, pruned by the block bound of
//! `src/latency/blocks.rs`): 13.8M labels, 1.15M pairs; this bench's median 10.9 s
//! [10.4, 11.4] on the 2-core VM (2026-12-06, after the local searches compared c′'s memory
//! by class and checked dominance before building a label: 14.2M -> 13.8M labels, 5–8 %
//! less CPU in alternating A/B runs; the rest of the change from 15.1 s [14.1, 16.0] the
//! day before is the VM's drift, which has been ±30 %: 18.5 s [17.7, 19.3] on 2026-12-05
//! with the same labels), then 11.9 s [11.3, 12.6] later that day after exit-mode passes
//! stopped replaying every exit (peak memory 482 -> 231 MB, 182 MB without cloned exit
//! labels; in alternating CLI runs 9.2–14.0 s against 10.4–15.7 s before, the VM being
//! slower by then), and 8.50 s [7.81, 9.27] after the block bound's local solves stopped
//! running probes (the bound 2.5–3.5 -> 1.0–1.1 s, same labels and schedule); the search
//! over the whole DAG with the block bound
//! took 48.8 s (14.2M labels, 29.0M pairs) in the same session, and 77.1M labels and 50–60 s
//! before that bound. Still above the 5 s target: 7.42 s [7.04, 7.85] on 2026-12-06 after the
//! labels' dominance summaries (a slower phase; 10 alternating CLI rounds against the
//! morning's build 7.07 s vs 7.32 s mean, the same 61.2G instructions under cachegrind);
//! then 5.83 s [5.61, 6.03] once a pass expanded a level's ideals and inserted into
//! distinct ideals in parallel (same labels), 5.33 s [5.22, 5.50] after batches grew by the
//! candidates per label, and 5.72 s [5.37, 6.08] in a slower phase after the entry check
//! moved into the expansions; 4.31 s [3.99, 4.54] an hour later in a faster phase
//! (alternating CLI runs then: the morning's build 5.26 s, this one 3.96 s mean). So under
//! 5 s only in the VM's faster phases. Then (same labels and schedule) the subgraph walk
//! skipped its pass over a subgraph's edges where the edges' memory-free caps cannot cut
//! (86 % of the series DP's subgraphs), the live-label summaries summed four classes of
//! frontier positions apart (calls of `dominates`: 77.7M -> 6.4M) and the expansions
//! read the labels' times from one packed buffer: **3.20 s [2.99, 3.47]** in a fast phase
//! (alternating CLI runs right after: the previous build 3.31 s, this one 2.81 s mean; CPU
//! 5.85 -> 4.84 s), and 6.46 s [5.86, 7.09] in an exceptionally slow phase an hour before,
//! when the previous build took 7.1 s in the CLI (this one 5.7 s). With the block bound's
//! local beams narrowed to 2 labels per ideal: 3.99 s [3.73, 4.27] in a middling phase
//! (alternating CLI runs then: the morning's build 4.78 s, this one 3.73 s mean). BERT-24,
//! GNMT and ResNet-50 take ≤ 0.01 s.
//! Peak memory: run `examples/place_file.rs` under `/usr/bin/time -v` (see the README).
//!
//! Figures (release, the shared 2-core VM, 2026-12-04, load average 13–14 from other jobs,
//! so wall time ran 3–7× the process's CPU time; `examples/place_file`, user CPU seconds with
//! `RAYON_NUM_THREADS=1` / wall seconds with 2 threads), every one proven optimal:
//!
//! | instance | pairs | CPU | wall (loaded) |
//! |---|---|---|---|
//! | GNMT inference | 6.38M | 0.36 s | 2.1 s |
//! | GNMT training | 9.03M | 0.58 s | 3.1 s |
//! | Inception-v3 inference | 39.2M | 2.6–2.8 s | 11.4 s |
//! | Inception-v3 training | 78.9M | 5.1–7.4 s | 38.9 s |
//! | BERT-24, ResNet-50 (inference, training), op-level BERT-L3 | ≤ 0.64M | ≤ 0.03 s | ≤ 0.1 s |
//!
//! Binding memory (`--warm-up-time 1 --measurement-time 5`, 2026-12-05, the same VM at load
//! average 5, wall time with 2 threads, medians; all proven optimal), accelerator memory
//! capped at a share of the model: GNMT inference 25 % 544 ms, 18 % 0.74 ms; GNMT training
//! 25 % 597 ms, 24 % 589 ms (the exact DP before relax-and-refine: not proven in 400 s);
//! BERT-24 training 22 % 0.33 ms; ResNet-50 training 20 % 2.3 ms; Inception-v3 inference
//! 20 % 13.1 s, 25 % 5.7 s, training 20 % 12.5 s. The authors' C++ DP proves GNMT
//! inference at 25 % in 9.6 s and runs out of memory on Inception-v3.
//!
//! After the DP table stored only each ideal's live accelerator counts (180 kB instead of
//! 4.1 MB on Inception-v3 training, so sub-ideal rows are read from cache) and the cut-cost
//! tracker read flat arrays (2026-12-06, same pairs and optima): this bench's
//! `throughput_dp_inception` medians 1.69 s [1.54, 1.81] (inference) and 3.98 s
//! [3.79, 4.16] (training) on the 2-core VM in a slow phase; the same day's alternating CLI
//! runs of the training DP, old build against new, 2.77 s vs 2.31 s mean (fast phase) and
//! 4.16 s vs 3.67 s (slow phase). Cachegrind over a whole CLI run on Inception-v3 inference
//! (baselines included): 32.2G -> 29.2G instructions.
//!
//! Before the work bands (`src/band.rs`) Inception-v3 visited 227M pairs (67.6 s wall under
//! a lighter load). On an idle 2-core machine the DP's two threads should give about half
//! the CPU figures; the targets (≤ 1 s, Inception-v3 ≤ 5 s) hold in CPU time except
//! Inception-v3 training, and do not hold in wall time on the loaded VM.
#![allow(clippy::needless_range_loop)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use parallax_place::{load_graph, solve_contiguous, solve_latency, Instance, Limits};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn instance(rel: &str) -> Instance {
    let g = load_graph(&data(rel)).expect("shipped instance loads");
    Instance::new(&g).expect("shipped instance is valid")
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_dp");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for name in [
        "layer_bert24_inference",
        "layer_bert24_training",
        "layer_gnmt_inference",
        "layer_gnmt_training",
        "layer_resnet50_inference",
        "layer_resnet50_training",
        "op_bert_l-3_inference",
    ] {
        let inst = instance(&format!("throughput/{name}.json"));
        group.bench_function(name, |b| {
            b.iter(|| solve_contiguous(&inst, &Limits::default()).expect("solves"))
        });
    }
    group.finish();
}

/// A shipped graph with the accelerator memory capped at `pct` % of its total.
fn capped(name: &str, pct: u32) -> Instance {
    let mut g = load_graph(&data(&format!("throughput/{name}.json"))).expect("loads");
    let total: f64 = g.nodes.iter().map(|n| n.memory).sum();
    g.devices.accelerator_memory = total * f64::from(pct) / 100.0;
    Instance::new(&g).expect("valid")
}

/// Shipped graphs with the accelerator memory capped so that it binds (the authors' C++ DP
/// proves GNMT inference at 25 % in 9.6 s). Each run must prove its optimum.
/// Figures: see the table at the top.
fn binding_memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_dp_binding_memory");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    bench_capped(
        group,
        &[
            ("layer_gnmt_inference", 25),
            ("layer_gnmt_inference", 18),
            ("layer_gnmt_training", 25),
            ("layer_gnmt_training", 24),
            ("layer_bert24_training", 22),
            ("layer_resnet50_training", 20),
        ],
    );
}

/// Benches each `(graph, pct)` capped at `pct` % of its memory; every run must prove its
/// optimum.
fn bench_capped(
    mut group: criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    cases: &[(&str, u32)],
) {
    for &(name, pct) in cases {
        let inst = capped(name, pct);
        group.bench_function(format!("{name}_mem{pct}"), |b| {
            b.iter(|| {
                let s = solve_contiguous(&inst, &Limits::default()).expect("solves");
                assert!(s.status.is_optimal());
                s
            })
        });
    }
    group.finish();
}

/// Inception-v3 with the accelerator memory capped at 20 % and 25 % of the model.
fn binding_memory_inception(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_dp_binding_memory_inception");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(60));
    bench_capped(
        group,
        &[
            ("layer_inceptionv3_inference", 20),
            ("layer_inceptionv3_inference", 25),
            ("layer_inceptionv3_training", 20),
        ],
    );
}

fn inception(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_dp_inception");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(60));
    for name in ["layer_inceptionv3_inference", "layer_inceptionv3_training"] {
        let inst = instance(&format!("throughput/{name}.json"));
        group.bench_function(name, |b| {
            b.iter(|| solve_contiguous(&inst, &Limits::default()).expect("solves"))
        });
    }
    group.finish();
}

fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency_search");
    group.sample_size(10);
    for name in [
        "layer_bert24_inference",
        "layer_gnmt_inference",
        "layer_resnet50_inference",
    ] {
        let inst = instance(&format!("latency/{name}.json"));
        group.bench_function(name, |b| {
            b.iter(|| solve_latency(&inst, 1, &Limits::default()).expect("solves"))
        });
    }
    group.finish();
}

fn latency_inception(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency_search_inception");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(150));
    let inst = instance("latency/layer_inceptionv3_inference.json");
    // The proof takes 3–7 s per run (VM drift) and 9.6M labels, inside the 50M-label cap.
    let bounded = Limits {
        max_labels: Some(50_000_000),
        ..Limits::default()
    };
    group.bench_function("layer_inceptionv3_inference_50M_labels", |b| {
        b.iter(|| solve_latency(&inst, 1, &bounded).expect("a schedule"))
    });
    group.finish();
}

/// The Scotch-like baseline alone (`scotch::scotch_like`) on shipped throughput graphs.
/// Measured (release, the loaded 2-core VM, 2026-12-05, `--warm-up-time 1
/// --measurement-time 2`, medians): BERT-24 training 1.2 ms, GNMT training 2.9 ms,
/// Inception-v3 training 7.1 ms, ResNet-50 training 3.7 ms, op-level BERT-L3 1.2 ms.
fn scotch_like(c: &mut Criterion) {
    let mut group = c.benchmark_group("scotch_like");
    group.sample_size(10);
    for name in [
        "layer_bert24_training",
        "layer_gnmt_training",
        "layer_inceptionv3_training",
        "layer_resnet50_training",
        "op_bert_l-3_inference",
    ] {
        let inst = instance(&format!("throughput/{name}.json"));
        group.bench_function(name, |b| {
            b.iter(|| parallax_place::scotch::scotch_like(&inst).expect("a placement"))
        });
    }
    group.finish();
}

/// All six max-load baselines together (`baselines::run_all`, what `parallax place` runs after
/// the DP) on Inception-v3 training, the largest shipped throughput graph. Local search with
/// restarts dominates. Measured (release, the loaded 2-core VM, load average 4–5,
/// 2026-12-05, `--warm-up-time 1 --measurement-time 5`, medians): 0.92 s, from 3.18 s before
/// the local search skipped targets whose work alone exceeds the best maximum (same moves,
/// same placements).
fn baselines_inception(c: &mut Criterion) {
    let mut group = c.benchmark_group("baselines");
    group.sample_size(10);
    let inst = instance("throughput/layer_inceptionv3_training.json");
    group.bench_function("layer_inceptionv3_training", |b| {
        b.iter(|| parallax_place::baselines::run_all(&inst))
    });
    group.finish();
}

criterion_group!(
    benches,
    throughput,
    binding_memory,
    binding_memory_inception,
    latency,
    inception,
    latency_inception,
    scotch_like,
    baselines_inception
);
criterion_main!(benches);
