//! End-to-end simulation with a real lowered plan: Llama-3.1-70B on 1x8xH100, plan `tp=8`,
//! the APEX chat trace at 0.25 req/s (1,024 requests). The target is ≤ 50 ms wall on a
//! 2-core machine (aim 10 ms). Also reports simulated iterations per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parallax::hw::Cluster;
use parallax::plan::{LowerOptions, Plan};
use parallax::sim::SimConfig;
use parallax::CostModelChoice;

fn bench(c: &mut Criterion) {
    let model = parallax::ir::resolve("llama-3.1-70b").expect("embedded model");
    let cluster = Cluster::parse("1x8xH100").expect("cluster");
    let workload = parallax::load_workload("chat", None, None).expect("embedded workload");
    let plan: Plan = "tp=8".parse().expect("plan");
    let mut group = c.benchmark_group("simulate");
    for (name, choice) in [
        ("llama70b_tp8_chat_profiled", CostModelChoice::Auto),
        ("llama70b_tp8_chat_roofline", CostModelChoice::Roofline),
    ] {
        let cost = parallax::cost_model(&cluster, choice).expect("cost model");
        let run = || {
            parallax::simulate_plan(
                &model,
                &cluster,
                &plan,
                cost.clone(),
                &workload,
                &SimConfig::default(),
                &LowerOptions::default(),
            )
            .expect("simulation")
        };
        let iterations = run().metrics.iterations;
        group.throughput(Throughput::Elements(iterations));
        group.bench_function(name, |b| b.iter(run));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
