//! Plugging a custom cost model into the plan search.
//!
//! `CostModel` is the extension point between the plan search and the hardware: every lowered
//! op is priced through it. Here a wrapper around the roofline model makes every collective
//! `factor` times slower — a node whose GPUs talk over PCIe instead of NVLink — and the search
//! runs twice on the same node, once with each model. With slow collectives the best plan
//! leans away from tensor parallelism (whose all-reduces dominate), towards replicas.
//!
//! Run it with `cargo run -p parallax --example custom_cost_model`.

use parallax::hw::{Cluster, CostModel, DeviceGroup, RooflineModel};
use parallax::ir::{AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use parallax::{Objective, Search, SearchReport};
use std::sync::Arc;

/// The roofline model with every collective `factor` times slower.
#[derive(Debug)]
pub struct SlowCollectives {
    inner: RooflineModel,
    factor: f64,
    name: String,
}

impl SlowCollectives {
    /// Wrap the roofline model of `cluster`'s GPU.
    pub fn new(cluster: &Cluster, factor: f64) -> Self {
        SlowCollectives {
            inner: RooflineModel::new(&cluster.gpu),
            factor,
            name: format!("roofline-collectives-x{factor}"),
        }
    }
}

impl CostModel for SlowCollectives {
    fn name(&self) -> &str {
        &self.name
    }
    fn gemm(&self, g: &Gemm) -> f64 {
        self.inner.gemm(g)
    }
    fn prefill_attention(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> f64 {
        self.inner.prefill_attention(shape, chunks)
    }
    fn decode_attention(&self, shape: &AttentionShape, decode: &DecodeGroup) -> f64 {
        self.inner.decode_attention(shape, decode)
    }
    fn elementwise(&self, op: &Elementwise) -> f64 {
        self.inner.elementwise(op)
    }
    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
        self.factor * self.inner.collective(kind, bytes, group)
    }
    fn kernel_launch_overhead(&self) -> f64 {
        self.inner.kernel_launch_overhead()
    }
    fn iteration_overhead(&self) -> f64 {
        self.inner.iteration_overhead()
    }
    fn host_overlap_exponent(&self) -> f64 {
        self.inner.host_overlap_exponent()
    }
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
            .run()
    };
    let fast = search(Arc::new(RooflineModel::new(&cluster.gpu)))?;
    let slow = search(Arc::new(SlowCollectives::new(&cluster, 20.0)))?;
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
