//! GEMM pricing of [`ProfiledCostModel`] for shapes the `gemm` table lacks and for quantised
//! GEMMs priced from a 16-bit table, made non-decreasing in `m`.
//!
//! Such a GEMM's time is a measured family's time at `m` rescaled by a ratio of roofline
//! costs at `m`: the shared-floor shape ratio for a shape the table lacks, the fallback's
//! quantised/16-bit ratio for a quantised GEMM. The ratio follows where each shape (or type)
//! turns from memory- to compute-bound, which the table's sparse sizes (`m` = 1, 4, 16, …,
//! 16,384 in the embedded H100 profile) do not resolve; but it can fall faster than the
//! family's time rises. Of 80 shapes (`n` 1,024–128,256, `k` 1,024–25,600) priced at every
//! `m` from 1 to 16,384, 60 bf16 shapes on the H100 (by up to 2.8 %) and 55 on the H200 (by
//! up to 21 %: 1,024 × 2,048 reached 19.3 µs below `m` = 270 and fell to 15.2 µs at 570)
//! priced some larger `m` lower; fp8 by up to 5.4 % and 25 %.
//!
//! So each such shape gets an envelope, built once: the per-`m` rule sampled at
//! `SAMPLES_PER_OCTAVE` sizes per doubling of `m` (2.2 % apart) from 1 to 2^`MAX_OCTAVES`,
//! each sample raised to the largest before it, interpolated linearly in `ln m`; above the
//! last sample, linear in `m` (compute-bound). Where the rule rises the envelope follows it
//! (the H100's 4,096 × 4,096 fp8 GEMM: within 0.8 % at every `m` checked between its
//! samples, the roofline's tile steps rounded off); where it dips the envelope holds the
//! level reached. Interpolating the rescaled table points instead (as the fused MoE does)
//! would lose the ratio's shape between points 4× apart: 10–30 % off the rule for fp8 GEMMs
//! near the transition.

use super::{nearest, serving_dtype, ProfiledCostModel};
use crate::profile::interp::Ideal;
use parallax_ir::{DType, Gemm};

/// Samples of the envelope per doubling of `m`.
const SAMPLES_PER_OCTAVE: usize = 32;
/// Doublings of `m` the envelope samples, from 1 to 2^24 (`parallax_ir::MAX_SEQUENCE_TOKENS`,
/// the most tokens one sequence may hold); above, the last sample scaled linearly in `m`.
const MAX_OCTAVES: usize = 24;

/// A shape priced from another: from a family of its own types (a shape the table lacks) or
/// from its 16-bit twin (a quantised GEMM); weight and input types, columns, depth and batch
/// count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ShapeKey {
    quantised: bool,
    weights: DType,
    act: DType,
    n: u64,
    k: u64,
    count: u32,
}

/// The per-`m` rule's running maximum at sizes `exp(i / SAMPLES_PER_OCTAVE · ln 2)`.
#[derive(Debug)]
pub(crate) struct Envelope {
    values: Vec<f64>,
}

impl Envelope {
    /// The envelope of `rule` over `[1, 2^MAX_OCTAVES]`, or `None` when the rule has no
    /// finite, non-negative value at `m` = 1. A later sample without one holds the level
    /// reached.
    fn of(rule: impl Fn(f64) -> Option<f64>) -> Option<Envelope> {
        let n = MAX_OCTAVES * SAMPLES_PER_OCTAVE + 1;
        let step = std::f64::consts::LN_2 / SAMPLES_PER_OCTAVE as f64;
        let valid = |t: Option<f64>| t.filter(|t| t.is_finite() && *t >= 0.0);
        let mut top = valid(rule(1.0))?;
        let mut values = Vec::with_capacity(n);
        values.push(top);
        for i in 1..n {
            if let Some(t) = valid(rule((i as f64 * step).exp())) {
                top = top.max(t);
            }
            values.push(top);
        }
        Some(Envelope { values })
    }

    /// The envelope at `m` (at least 1); above the last sample, that sample's value scaled
    /// linearly in `m`.
    fn eval(&self, m: f64) -> f64 {
        let last = self.values.len() - 1;
        let pos = m.max(1.0).log2() * SAMPLES_PER_OCTAVE as f64;
        if pos >= last as f64 {
            return self.values[last] * (m / (1u64 << MAX_OCTAVES) as f64).max(1.0);
        }
        let i = pos as usize;
        let f = pos - i as f64;
        self.values[i] + f * (self.values[i + 1] - self.values[i])
    }
}

impl ProfiledCostModel {
    /// The profiled time of `g` from a family of its own types: the exact family's curve,
    /// else the envelope of the nearest family's time rescaled to the shape (see the module
    /// docs). `None` without a family of its types.
    pub(super) fn measured_gemm(&self, g: &Gemm) -> Option<f64> {
        let dt = serving_dtype(g.act_dtype, |d| self.fam.gemm.has(d));
        let fams = self.fam.gemm.of(dt);
        if fams.is_empty() {
            return None;
        }
        let wide = g.n.saturating_mul(g.count as u64);
        if let Ok(i) = fams.binary_search_by(|f| (f.n, f.k).cmp(&(wide, g.k))) {
            return Some(fams[i].curve.eval(g.m as f64));
        }
        let key = ShapeKey {
            quantised: false,
            weights: dt,
            act: dt,
            n: wide,
            k: g.k,
            count: 1,
        };
        Some(self.envelope(key)?.eval(g.m as f64))
    }

    /// The time of a quantised GEMM (types no family has) from its 16-bit twin's measured
    /// times, `None` when the twin has none either.
    pub(super) fn quantised_gemm(&self, g: &Gemm) -> Option<f64> {
        let key = ShapeKey {
            quantised: true,
            weights: g.weight_dtype,
            act: g.act_dtype,
            n: g.n,
            k: g.k,
            count: g.count,
        };
        Some(self.envelope(key)?.eval(g.m as f64))
    }

    /// `key`'s envelope, built on first use.
    fn envelope(&self, key: ShapeKey) -> Option<std::sync::Arc<Envelope>> {
        self.gemm_shapes.get_or_build(key, || {
            if key.quantised {
                Envelope::of(|m| self.quantised_rule(&key, m))
            } else {
                Envelope::of(|m| self.rescaled(key.act, key.n, key.k, m))
            }
        })
    }

    /// The measured time of the 16-bit `n × k` GEMM of type `dt` at `m`: its family's, else
    /// the nearest family's scaled by the ratio of the two shapes' references, each the
    /// shared latency floor plus the shape's roofline cost (not the family's own floor: a
    /// memory-bound family's smallest time is mostly bandwidth). The per-`m` rule itself,
    /// without the envelope.
    fn rescaled(&self, dt: DType, n: u64, k: u64, m: f64) -> Option<f64> {
        let fams = self.fam.gemm.of(dt);
        if let Ok(i) = fams.binary_search_by(|f| (f.n, f.k).cmp(&(n, k))) {
            return Some(fams[i].curve.eval(m));
        }
        let (nf, kf) = (n as f64, k as f64);
        let (ln_n, ln_k) = (nf.ln(), kf.ln());
        let f = nearest(fams, |f| (ln_n - f.ln_n).abs() + (ln_k - f.ln_k).abs())?;
        let query = Ideal::Gemm {
            n: nf,
            k: kf,
            b: dt.bytes(),
            flops: self.matmul_flops,
            bw: self.memory_bandwidth,
        };
        let floor = self.fam.gemm_shape_floor[dt as usize];
        Some(f.curve.eval(m) * (floor + query.eval(m)) / (floor + f.curve.ideal(m)))
    }

    /// A quantised GEMM's per-`m` rule: its 16-bit twin's measured time (the batch as one
    /// wide GEMM) times the fallback's ratio of the two.
    fn quantised_rule(&self, key: &ShapeKey, m: f64) -> Option<f64> {
        let dt = serving_dtype(DType::Bf16, |d| self.fam.gemm.has(d));
        let t16 = self.rescaled(dt, key.n.saturating_mul(key.count as u64), key.k, m)?;
        // the fallback at the nearest whole m (a sample between two, below m ≈ 20, prices
        // its ratio at one of them)
        let gemm = |(weight_dtype, act_dtype): (DType, DType)| Gemm {
            m: m.round().max(1.0) as u64,
            n: key.n,
            k: key.k,
            count: key.count,
            weight_dtype,
            act_dtype,
        };
        let f = self.fallback.gemm(&gemm((key.weights, key.act)));
        let f16 = self.fallback.gemm(&gemm((DType::Bf16, DType::Bf16)));
        (f16 > 0.0 && f.is_finite()).then(|| t16 * f / f16)
    }
}
