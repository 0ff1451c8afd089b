//! Plugging a custom cost model into the plan search.
//!
//! `CostModel` is the extension point between the plan search and the hardware: every lowered
//! op is priced through it. Here the roofline model is adjusted so that every collective is
//! `factor` times slower — a node whose GPUs talk over PCIe instead of NVLink — and the search
//! runs twice on the same node, once with each model. With slow collectives the best plan
//! leans away from tensor parallelism (whose all-reduces dominate), towards replicas.
//!
//! The adjustment implements `CostOverride` (only the method it changes) and is wrapped in
//! `Overridden`, which forwards every other method to the roofline model — including the
//! defaulted `host_overlap_exponent` and `graph_kernel_overlap`, which a hand-written wrapper
//! easily forgets (and then silently changes every CUDA-graph iteration).
//!
//! Run it with `cargo run -p parallax --example custom_cost_model`.

use parallax::hw::{Cluster, CostModel, CostOverride, DeviceGroup, Overridden, RooflineModel};
use parallax::ir::CollectiveKind;
use parallax::{Objective, Search, SearchReport};
use std::sync::Arc;

/// Every collective `factor` times slower than the inner model says.
#[derive(Debug)]
pub struct SlowCollectives {
    factor: f64,
}

impl CostOverride for SlowCollectives {
    fn collective(
        &self,
        inner: &dyn CostModel,
        kind: CollectiveKind,
        bytes: f64,
        group: &DeviceGroup,
    ) -> f64 {
        self.factor * inner.collective(kind, bytes, group)
    }
}

/// The roofline model of `cluster`'s GPU with every collective `factor` times slower.
pub fn slow_collectives(cluster: &Cluster, factor: f64) -> Overridden<SlowCollectives> {
    Overridden::new(
        Arc::new(RooflineModel::new(&cluster.gpu)),
        SlowCollectives { factor },
    )
    .with_name(format!("roofline-collectives-x{factor}"))
}

/// Search Llama-3.1-8B on one node of 8 H100s (the first 256 requests of the `chat` workload
/// at 4 req/s) with the plain roofline model and with 20× slower collectives.
///
/// # Errors
/// Any error of the search (none for these inputs).
pub fn run() -> parallax::Result<(SearchReport, SearchReport)> {
    let model = parallax::ir::resolve("llama-3.1-8b")?;
    let cluster = Cluster::parse("1x8xH100")?;
    let workload = parallax::load_workload("chat", Some(4.0), Some(256))?;
    let search = |cost: Arc<dyn CostModel>| {
        Search::new(model.clone(), cluster.clone(), workload.clone())
            .objective(Objective::E2eMean)
            .cost_model(cost)
            // Simulate every plan (no bound pruning) so that both rankings list each plan.
            .exact_top(None)
            .run()
    };
    let fast = search(Arc::new(RooflineModel::new(&cluster.gpu)))?;
    let slow = search(Arc::new(slow_collectives(&cluster, 20.0)))?;
    Ok((fast, slow))
}

/// Print the best plan under each cost model.
pub fn main() -> parallax::Result<()> {
    let (fast, slow) = run()?;
    for r in [&fast, &slow] {
        match &r.best {
            Some(b) => println!(
                "{:<28} best {:<28} mean e2e {:.3} s, communication {:.2} stage-s",
                r.cost_model,
                b.plan.to_string(),
                b.metrics.e2e_s.mean,
                b.metrics
                    .breakdown_s
                    .get("communication")
                    .copied()
                    .unwrap_or(0.0)
            ),
            None => println!("{:<28} no plan", r.cost_model),
        }
    }
    Ok(())
}
