//! Wrapping a cost model without changing what you do not mean to change.
//!
//! A hand-written [`CostModel`] that wraps another must forward *every* method, including
//! the ones with defaults ([`CostModel::host_overlap_exponent`],
//! [`CostModel::graph_kernel_overlap`]): a wrapper that forgets one silently falls back to the
//! trait's default instead of the inner model's value (with the profiled model, forgetting
//! `graph_kernel_overlap` changes every CUDA-graph iteration). [`Overridden`] does the
//! forwarding: implement [`CostOverride`] with only the methods you change; every other
//! method — now and any added later — delegates to the inner model.
//!
//! ```
//! use parallax_hw::wrap::{CostOverride, Overridden};
//! use parallax_hw::{Cluster, CostModel, DeviceGroup, RooflineModel};
//! use parallax_ir::CollectiveKind;
//! use std::sync::Arc;
//!
//! /// Every collective `.0` times slower (a PCIe-only node, say).
//! #[derive(Debug)]
//! struct SlowCollectives(f64);
//!
//! impl CostOverride for SlowCollectives {
//!     fn collective(&self, inner: &dyn CostModel, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
//!         self.0 * inner.collective(kind, bytes, group)
//!     }
//! }
//!
//! let cluster = Cluster::parse("1x8xH100")?;
//! let inner: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
//! let slow = Overridden::new(inner.clone(), SlowCollectives(4.0)).with_name("roofline-slow-comm");
//! let g = cluster.group(8);
//! let t = inner.collective(CollectiveKind::AllReduce, 1e6, &g);
//! assert_eq!(slow.collective(CollectiveKind::AllReduce, 1e6, &g), 4.0 * t);
//! // Everything else is the inner model's, defaults included.
//! assert_eq!(slow.graph_kernel_overlap(), inner.graph_kernel_overlap());
//! assert_eq!(slow.name(), "roofline-slow-comm");
//! # Ok::<(), parallax_hw::HwError>(())
//! ```

use crate::cost::CostModel;
use crate::topology::DeviceGroup;
use parallax_ir::{AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use std::fmt::Debug;
use std::sync::Arc;

/// The methods of [`CostModel`] as overrides of an inner model: each receives the inner model
/// and by default returns its answer unchanged. Implement only what you change and wrap it in
/// [`Overridden`].
///
/// Every method of [`CostModel`] except `name` has a counterpart here (the name is set on
/// [`Overridden`]); a method added to `CostModel` gets one too, delegating by default.
pub trait CostOverride: Send + Sync + Debug {
    /// [`CostModel::gemm`].
    fn gemm(&self, inner: &dyn CostModel, g: &Gemm) -> f64 {
        inner.gemm(g)
    }
    /// [`CostModel::prefill_attention`].
    fn prefill_attention(
        &self,
        inner: &dyn CostModel,
        shape: &AttentionShape,
        chunks: &[PrefillChunk],
    ) -> f64 {
        inner.prefill_attention(shape, chunks)
    }
    /// [`CostModel::decode_attention`].
    fn decode_attention(
        &self,
        inner: &dyn CostModel,
        shape: &AttentionShape,
        decode: &DecodeGroup,
    ) -> f64 {
        inner.decode_attention(shape, decode)
    }
    /// [`CostModel::elementwise`].
    fn elementwise(&self, inner: &dyn CostModel, op: &Elementwise) -> f64 {
        inner.elementwise(op)
    }
    /// [`CostModel::collective`].
    fn collective(
        &self,
        inner: &dyn CostModel,
        kind: CollectiveKind,
        bytes: f64,
        group: &DeviceGroup,
    ) -> f64 {
        inner.collective(kind, bytes, group)
    }
    /// [`CostModel::kernel_launch_overhead`].
    fn kernel_launch_overhead(&self, inner: &dyn CostModel) -> f64 {
        inner.kernel_launch_overhead()
    }
    /// [`CostModel::iteration_overhead`].
    fn iteration_overhead(&self, inner: &dyn CostModel) -> f64 {
        inner.iteration_overhead()
    }
    /// [`CostModel::host_overlap_exponent`].
    fn host_overlap_exponent(&self, inner: &dyn CostModel) -> f64 {
        inner.host_overlap_exponent()
    }
    /// [`CostModel::graph_kernel_overlap`].
    fn graph_kernel_overlap(&self, inner: &dyn CostModel) -> f64 {
        inner.graph_kernel_overlap()
    }
}

/// No override at all: `Overridden::new(m, PassThrough)` answers exactly as `m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassThrough;

impl CostOverride for PassThrough {}

/// A cost model that answers as `inner` except where the [`CostOverride`] `O` says otherwise.
#[derive(Debug, Clone)]
pub struct Overridden<O> {
    inner: Arc<dyn CostModel>,
    overrides: O,
    name: String,
}

impl<O: CostOverride> Overridden<O> {
    /// `inner` with `overrides`, named as `inner` until [`Overridden::with_name`].
    pub fn new(inner: Arc<dyn CostModel>, overrides: O) -> Self {
        let name = inner.name().to_string();
        Overridden {
            inner,
            overrides,
            name,
        }
    }

    /// Rename the wrapped model (reports show this name).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The inner model.
    pub fn inner(&self) -> &Arc<dyn CostModel> {
        &self.inner
    }

    /// The overrides.
    pub fn overrides(&self) -> &O {
        &self.overrides
    }
}

impl<O: CostOverride> CostModel for Overridden<O> {
    fn name(&self) -> &str {
        &self.name
    }
    fn gemm(&self, g: &Gemm) -> f64 {
        self.overrides.gemm(&*self.inner, g)
    }
    fn prefill_attention(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> f64 {
        self.overrides
            .prefill_attention(&*self.inner, shape, chunks)
    }
    fn decode_attention(&self, shape: &AttentionShape, decode: &DecodeGroup) -> f64 {
        self.overrides.decode_attention(&*self.inner, shape, decode)
    }
    fn elementwise(&self, op: &Elementwise) -> f64 {
        self.overrides.elementwise(&*self.inner, op)
    }
    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
        self.overrides.collective(&*self.inner, kind, bytes, group)
    }
    fn kernel_launch_overhead(&self) -> f64 {
        self.overrides.kernel_launch_overhead(&*self.inner)
    }
    fn measured_kernel_launch(&self) -> Option<f64> {
        self.inner.measured_kernel_launch()
    }
    fn iteration_overhead(&self) -> f64 {
        self.overrides.iteration_overhead(&*self.inner)
    }
    fn host_overlap_exponent(&self) -> f64 {
        self.overrides.host_overlap_exponent(&*self.inner)
    }
    fn graph_kernel_overlap(&self) -> f64 {
        self.overrides.graph_kernel_overlap(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{cost_model_for, CostModelChoice};
    use crate::Cluster;
    use parallax_ir::{DType, ElementwiseKind};

    #[test]
    fn pass_through_answers_exactly_as_the_inner_model() {
        let cluster = Cluster::parse("1x8xH100").unwrap();
        for choice in [CostModelChoice::Profiled, CostModelChoice::Roofline] {
            let inner = cost_model_for(&cluster, choice).unwrap();
            let w = Overridden::new(inner.clone(), PassThrough);
            assert_eq!(w.name(), inner.name());
            // The inner models have non-default values, so forgetting to forward fails here.
            assert!(inner.graph_kernel_overlap() > 0.0);
            assert_eq!(w.graph_kernel_overlap(), inner.graph_kernel_overlap());
            assert_eq!(w.host_overlap_exponent(), inner.host_overlap_exponent());
            assert_eq!(w.kernel_launch_overhead(), inner.kernel_launch_overhead());
            assert_eq!(w.measured_kernel_launch(), inner.measured_kernel_launch());
            assert_eq!(w.iteration_overhead(), inner.iteration_overhead());
            let g = Gemm {
                m: 512,
                n: 8192,
                k: 1024,
                count: 2,
                weight_dtype: DType::Bf16,
                act_dtype: DType::Bf16,
            };
            assert_eq!(w.gemm(&g), inner.gemm(&g));
            let shape = AttentionShape {
                heads: 8,
                kv_heads: 1,
                qk_head_dim: 128,
                v_head_dim: 128,
                kv_bytes_per_token: 512.0,
                window: None,
                act_dtype: DType::Bf16,
                kv_dtype: DType::Bf16,
            };
            let chunks = [PrefillChunk {
                new_tokens: 700,
                prefix: 100,
            }];
            assert_eq!(
                w.prefill_attention(&shape, &chunks),
                inner.prefill_attention(&shape, &chunks)
            );
            let d = DecodeGroup::from_contexts(&[100, 2000, 3000]);
            assert_eq!(
                w.decode_attention(&shape, &d),
                inner.decode_attention(&shape, &d)
            );
            let e = Elementwise {
                kind: ElementwiseKind::Norm,
                bytes: 1e6,
                flops: 1e6,
            };
            assert_eq!(w.elementwise(&e), inner.elementwise(&e));
            let grp = cluster.group(8);
            assert_eq!(
                w.collective(CollectiveKind::AllReduce, 1e7, &grp),
                inner.collective(CollectiveKind::AllReduce, 1e7, &grp)
            );
        }
    }

    #[derive(Debug)]
    struct Double;
    impl CostOverride for Double {
        fn gemm(&self, inner: &dyn CostModel, g: &Gemm) -> f64 {
            2.0 * inner.gemm(g)
        }
    }

    #[test]
    fn an_override_changes_only_its_method() {
        let cluster = Cluster::parse("1x8xH200").unwrap();
        let inner = cost_model_for(&cluster, CostModelChoice::Auto).unwrap();
        let w = Overridden::new(inner.clone(), Double).with_name("double-gemm");
        let g = Gemm {
            m: 64,
            n: 4096,
            k: 4096,
            count: 1,
            weight_dtype: DType::Bf16,
            act_dtype: DType::Bf16,
        };
        assert_eq!(w.gemm(&g), 2.0 * inner.gemm(&g));
        assert_eq!(w.graph_kernel_overlap(), inner.graph_kernel_overlap());
        assert_eq!(w.name(), "double-gemm");
        assert_eq!(w.inner().name(), inner.name());
    }
}
