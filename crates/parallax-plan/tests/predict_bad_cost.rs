//! A cost model whose op times sum to a NaN or infinite iteration, or a batch whose iteration
//! is absurdly long, is an error from `predict`, not a result (it printed `iteration NaN ms`).

use parallax_hw::wrap::{CostOverride, Overridden};
use parallax_hw::{Cluster, CostModel, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, Gemm};
use std::sync::Arc;

/// Every GEMM takes `.0` seconds.
#[derive(Debug)]
struct GemmTakes(f64);

impl CostOverride for GemmTakes {
    fn gemm(&self, _: &dyn CostModel, _: &Gemm) -> f64 {
        self.0
    }
}

#[test]
fn non_finite_or_absurd_iterations_are_errors() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x1xH100").unwrap();
    let batch = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(8, 1024),
    };
    let inner: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
    for t in [f64::NAN, f64::INFINITY, 1.7e308] {
        let cost = Arc::new(Overridden::new(inner.clone(), GemmTakes(t)).with_name("odd"));
        let e = parallax_plan::predict(&model, &cluster, 1, &batch, true, cost)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cost model `odd`") && e.contains("finite iteration"),
            "{e}"
        );
    }
    // A finite but absurd iteration names both suspects, the batch and the cost model, and
    // its time compactly.
    let cost = Arc::new(Overridden::new(inner.clone(), GemmTakes(1e300)).with_name("slow"));
    let e = parallax_plan::predict(&model, &cluster, 1, &batch, true, cost)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the iteration")
            && e.contains("8 sequences, 8 tokens")
            && e.contains("cost model `slow`")
            && e.contains("--prefill/--decode")
            && e.contains("e30"),
        "{e}"
    );
    assert!(e.len() < 400, "{e}");
    // A slow but finite model still predicts.
    let cost = Arc::new(Overridden::new(inner, GemmTakes(1e-3)));
    let p = parallax_plan::predict(&model, &cluster, 1, &batch, true, cost).unwrap();
    assert!(p.iteration_ms > 100.0);
}
