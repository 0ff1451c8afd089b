//! Fused-MoE pricing of [`ProfiledCostModel`]: the `fused_moe` table's families, and the curve
//! of each op layout built from them.
//!
//! A fused MoE op is a *layout* (types, block scales, local of layer experts, EP degree,
//! top-k, widths, gating: what the deployment fixes) receiving a *load* (tokens, token-expert
//! pairs, active experts, the busiest expert's rows: what the batch brings). Each layout
//! priced gets a curve of its own, over the device's pairs per top-k slot,
//! `x = assignments / top_k`, built once from a measured family:
//!
//! - **its own family** when the table has one (its types, block scales, `E / ep` local of
//!   `E` layer experts, top-k and widths), else the layer's family of the same widths with the
//!   nearest local expert count (`|ln L/L_f|`; an EP × TP hybrid, an EP degree the sweeps
//!   skipped); for types no family has (int8 experts, fp8 or fp4 ones of a layer measured in
//!   16 bits only), the same search among the layer's 16-bit families;
//! - at each of the family's points `(x_i, t_i)`, the time `t_i · F(ours_i) / F(measured_i)`:
//!   `F` the fallback model, `ours_i` the layout receiving `x_i · top_k` pairs routed
//!   uniformly at random, `measured_i` the op the table timed there (the family's layout, its
//!   tokens spread over `min(L_f, pairs)` experts for a [`TableRouting::Spread`] table, routed
//!   at random otherwise; in the family's types). A layout's own family measured with random
//!   routing keeps its points exactly;
//! - those points made non-decreasing and interpolated as every table is (`interp::Curve`),
//!   so that the price never falls as the load grows. Applying the two ratios at every size
//!   instead, as an earlier version did, let them beat against the interpolated times: 302 of
//!   540 layouts of nine MoE models dipped, by up to 13 % (Mixtral-8x7B EP 4 × TP 2 at 15
//!   tokens), which also broke the search's bound (a stage never gets cheaper as its batch
//!   grows);
//! - **below the family's smallest size** (an EP family starts at as many tokens as ranks, so
//!   decode at concurrency 1 under EP 8 has an eighth of its smallest `x`): the smallest
//!   point's time times `F(op) / F(the layout at that point)`, fewer pairs reading fewer
//!   experts' weights. Taking the points under 8 tokens out of every one-GPU family of the
//!   embedded tables (708 per GPU) and predicting them so errs by a median 7.3 % on the H100
//!   and on the H200, against 96 % and 85 % for holding the smallest point's efficiency as
//!   other tables do (`tests/profile_aiconfigurator_moe.rs`);
//! - above its largest, the family's efficiency held against GEMM FLOPs at the profile's
//!   matmul rate.
//!
//! An op whose load is not balanced random routing of its tokens (an EPLB rank, a skewed
//! router) is priced as the dearer of two random loads on its layout's curve: its own pairs,
//! and the fewest pairs that keep as many experts busy (the weights it reads). Both grow with
//! its tokens, so its price never falls as they grow. (Scaling the balanced op of its tokens
//! by the fallback's `F(op) / F(balanced)`, as before, stepped down where either load's tile
//! padding or expert count stepped up: prices fell by up to 31 % as tokens grew.)
//!
//! [`TableRouting::Spread`]: crate::profile::TableRouting::Spread

use super::{Group, ProfiledCostModel};
use crate::profile::interp::{Curve, Ideal};
use parallax_ir::lower::active_experts;
use parallax_ir::{DType, FusedMoe};
use std::sync::OnceLock;

/// The fused-MoE families of a profile, checked when the profile is read (every row's numbers,
/// two sizes or more per family) and interpolated on first use: the embedded tables hold some
/// 600 families (30 ms of curve building) that a dense model never reads.
#[derive(Debug, Clone)]
pub(crate) struct MoeFamilies {
    /// Each family's points, sorted by key.
    pub(super) groups: Vec<Group<MoeKey>>,
    /// The profile's matmul rate (the families' reference cost).
    pub(super) matmul_flops: f64,
    pub(super) curves: OnceLock<Vec<(MoeKey, Curve)>>,
}

impl MoeFamilies {
    /// The families' curves, sorted by key (built on the first call).
    pub(crate) fn curves(&self) -> &[(MoeKey, Curve)] {
        self.curves.get_or_init(|| {
            let fl = self.matmul_flops;
            // Above the largest size: GEMM FLOPs per token at the measured matmul rate.
            // Every group has two sizes or more (checked in `grouped_points`).
            self.groups
                .iter()
                .filter_map(|(k, pts)| {
                    let (top_k, h, i) = (k.top_k as f64, k.hidden as f64, k.intermediate as f64);
                    let ideal = Ideal::Linear(6.0 * top_k * h * i / fl);
                    Curve::new(pts, ideal).map(|c| (*k, c))
                })
                .collect()
        })
    }

    /// Whether a family has weights and GEMM inputs both of type `d` (the groups are sorted
    /// by key, types first: a binary search).
    pub(crate) fn has_dtype(&self, d: DType) -> bool {
        let i = self
            .groups
            .partition_point(|(k, _)| (k.weights, k.act) < (d, d));
        self.groups
            .get(i)
            .is_some_and(|(k, _)| (k.weights, k.act) == (d, d))
    }
}

/// Key of a fused-MoE family, ordered field by field in declaration order (types first, so
/// [`MoeFamilies::has_dtype`] can binary-search on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MoeKey {
    /// Expert weights' type.
    pub weights: DType,
    /// The GEMMs' input type (differs from `weights` for weight-only quantisation).
    pub act: DType,
    /// Block-scaled (fp8 with per-block scales).
    pub block_scales: bool,
    /// Experts held by one rank.
    pub local_experts: u32,
    /// Experts of the layer.
    pub layer_experts: u32,
    /// Experts per token.
    pub top_k: u32,
    /// Hidden width.
    pub hidden: u32,
    /// Expert (intermediate) width.
    pub intermediate: u32,
}

/// The load-independent fields of a [`FusedMoe`]: where and how its experts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Layout {
    weights: DType,
    act: DType,
    block_scales: bool,
    local_experts: u32,
    layer_experts: u32,
    ep: u32,
    top_k: u32,
    hidden: u32,
    intermediate: u32,
    gated: bool,
}

impl Layout {
    fn of(op: &FusedMoe) -> Layout {
        Layout {
            weights: op.weight_dtype,
            act: op.act_dtype,
            block_scales: op.block_scales,
            local_experts: op.local_experts,
            layer_experts: op.layer_experts,
            ep: op.ep,
            top_k: op.top_k,
            hidden: op.hidden,
            intermediate: op.intermediate,
            gated: op.gated,
        }
    }

    /// The family key of this layout's layer priced as `(weights, act)`, `block` scaled,
    /// with `local` experts per rank.
    fn key(&self, (weights, act): (DType, DType), block: bool, local: u32) -> MoeKey {
        MoeKey {
            weights,
            act,
            block_scales: block,
            local_experts: local,
            layer_experts: self.layer_experts,
            top_k: self.top_k,
            hidden: self.hidden,
            intermediate: self.intermediate,
        }
    }

    /// This layout receiving `pairs` token-expert pairs over `active` of its experts.
    fn op(&self, tokens: u64, pairs: u64, active: u32) -> FusedMoe {
        FusedMoe {
            tokens,
            assignments: pairs,
            active_experts: active,
            local_experts: self.local_experts,
            layer_experts: self.layer_experts,
            ep: self.ep,
            top_k: self.top_k,
            max_rows: pairs.div_ceil(active.max(1) as u64),
            hidden: self.hidden,
            intermediate: self.intermediate,
            gated: self.gated,
            weight_dtype: self.weights,
            act_dtype: self.act,
            block_scales: self.block_scales,
        }
    }

    /// This layout receiving `pairs` pairs of tokens routed uniformly at random: the
    /// `pairs · E / (top_k · L)` tokens of the layer (a fraction between integer counts)
    /// hit [`active_experts`] of the device's experts.
    fn routed(&self, pairs: u64) -> FusedMoe {
        let (l, e, k) = (
            self.local_experts.max(1) as f64,
            self.layer_experts.max(1) as f64,
            self.top_k.max(1) as f64,
        );
        let tokens = pairs as f64 * e / (k * l);
        let active = active_experts(tokens, self.local_experts, self.layer_experts, self.top_k);
        self.op(tokens.ceil() as u64, pairs, active)
    }

    /// The fewest pairs whose random routing ([`Layout::routed`]) keeps `active` of the
    /// device's experts busy: `T = ln(1 − (active − 1)/L) / ln(1 − k/E)` tokens of the layer
    /// (the expected count then passes `active − 1`, which [`active_experts`] rounds up), at
    /// `k · L / E` pairs per token. Never fewer than one pair; nondecreasing in `active`.
    fn pairs_activating(&self, active: u32) -> u64 {
        let (l, e) = (self.local_experts.max(1), self.layer_experts.max(1));
        let k = self.top_k.max(1).min(e);
        if active <= 1 || k >= e {
            return 1;
        }
        let (lf, ef, kf) = (l as f64, e as f64, k as f64);
        let busy = f64::from(active.min(l) - 1);
        let tokens = (1.0 - busy / lf).ln() / (1.0 - kf / ef).ln();
        let pairs = (tokens * kf * lf / ef).floor() + 1.0;
        if pairs.is_finite() && pairs >= 1.0 {
            pairs.min(u64::MAX as f64 / 2.0) as u64
        } else {
            1
        }
    }

    /// This layout receiving `pairs` pairs spread over as many experts as possible
    /// ([`TableRouting::Spread`](crate::profile::TableRouting::Spread)).
    fn spread(&self, pairs: u64) -> FusedMoe {
        let active = u32::try_from(pairs)
            .unwrap_or(u32::MAX)
            .min(self.local_experts)
            .max(1);
        self.op(0, pairs, active)
    }
}

/// `op` with its tokens routed uniformly at random (as `parallax_ir::lower::fused_moe_op`
/// lowers them): the device's `ceil(T · top_k · L / E)` pairs over [`active_experts`] of
/// its experts. `None` for an op without tokens or layer experts (one built by hand).
fn balanced(op: &FusedMoe) -> Option<FusedMoe> {
    if op.tokens == 0 || op.layer_experts == 0 || op.local_experts == 0 {
        return None;
    }
    let pairs = (op.tokens as u128 * op.top_k as u128 * op.local_experts as u128)
        .div_ceil(op.layer_experts as u128);
    let pairs = u64::try_from(pairs).ok()?;
    let active = active_experts(
        op.tokens as f64,
        op.local_experts,
        op.layer_experts,
        op.top_k,
    );
    (pairs > 0 && active > 0).then(|| Layout::of(op).op(op.tokens, pairs, active))
}

/// A layout's curve (see the module docs).
#[derive(Debug)]
pub(crate) struct LayoutCurve {
    curve: Curve,
    /// The smallest size, the (non-decreasing) time there and the fallback's time of the
    /// layout there.
    x0: f64,
    t0: f64,
    f0: f64,
}

/// `t · num / den` (`t` itself when the two are equal), or `None` unless both times are
/// positive and finite.
fn scaled(t: f64, num: f64, den: f64) -> Option<f64> {
    let ok = num > 0.0 && den > 0.0 && num.is_finite() && den.is_finite();
    ok.then(|| if num == den { t } else { t * num / den })
}

impl ProfiledCostModel {
    /// The profiled time of a fused MoE op, from its layout's curve (see the module docs of
    /// `profile::model::moe`): the op's own measured family, else its layer's family of the
    /// same widths with the nearest local expert count, scaled to its layout and to random
    /// routing point by point, non-decreasing in the load. `None` when no family of the
    /// layer's types, experts, top-k and widths is measured.
    ///
    /// Complexity: O(1) fallback calls and a map lookup once the layout's curve is built;
    /// building it costs O(f) for f families plus O(p) fallback calls for its p points.
    pub fn profiled_fused_moe(&self, op: &FusedMoe) -> Option<f64> {
        if op.assignments == 0 || op.active_experts == 0 {
            return Some(0.0);
        }
        let layout = Layout::of(op);
        let c = self
            .moe_layouts
            .get_or_build(layout, || self.build_layout_curve(&layout, false))?;
        Some(self.price_on(&c, op))
    }

    /// The time of a fused MoE op whose types no family has (int8 experts; fp8 or fp4 ones
    /// of a layer measured in 16 bits only), from the layer's 16-bit families rescaled to
    /// its types point by point (see the module docs), as quantised GEMMs are; `None` for
    /// 16-bit types or without such a family. [`CostModel::fused_moe`] asks it after
    /// [`Self::profiled_fused_moe`], so that an engine's own table of the op's types is
    /// consulted first.
    ///
    /// [`CostModel::fused_moe`]: crate::CostModel::fused_moe
    pub(super) fn sixteen_bit_fused_moe(&self, op: &FusedMoe) -> Option<f64> {
        let wide = |d: DType| matches!(d, DType::Bf16 | DType::F16);
        let sixteen = wide(op.weight_dtype) && wide(op.act_dtype);
        if op.assignments == 0 || op.active_experts == 0 || sixteen {
            return None;
        }
        let layout = Layout::of(op);
        let c = self
            .moe_sixteen_bit
            .get_or_build(layout, || self.build_layout_curve(&layout, true))?;
        Some(self.price_on(&c, op))
    }

    /// The price of `op` on its layout's curve `c` (see the module docs).
    fn price_on(&self, c: &LayoutCurve, op: &FusedMoe) -> f64 {
        match balanced(op) {
            Some(base) if base == *op => self.random_price(c, op),
            // An unbalanced load (an EPLB rank, a skewed router; or an op built by hand
            // without tokens): the dearer of two random loads, its own pairs and the fewest
            // pairs that read as many experts' weights.
            _ => {
                let layout = Layout::of(op);
                let own = self.random_price(c, &layout.routed(op.assignments));
                let reads = layout.pairs_activating(op.active_experts);
                own.max(self.random_price(c, &layout.routed(reads)))
            }
        }
    }

    /// The price of `op`, a load routed uniformly at random, on its layout's curve `c`: the
    /// curve at its pairs per top-k slot, and below the curve's smallest size the smallest
    /// point's time scaled by the fallback.
    fn random_price(&self, c: &LayoutCurve, op: &FusedMoe) -> f64 {
        let x = op.assignments as f64 / op.top_k.max(1) as f64;
        if x <= c.x0 {
            let f = self.fallback.fused_moe(op);
            scaled(c.t0, f, c.f0).unwrap_or_else(|| c.curve.eval(x))
        } else {
            c.curve.eval(x)
        }
    }

    /// The dtypes of the families serving a fused MoE of types `(weights, act)`.
    fn moe_dtypes(&self, weights: DType, act: DType) -> (DType, DType) {
        let served = super::serving_dtype(act, |d| self.fam.fused_moe.has_dtype(d));
        // weight-only quantised experts (fp4 weights, bf16 GEMMs) have families of their own
        let weights = if weights == act { served } else { weights };
        (weights, served)
    }

    /// The curve of `l` (see the module docs) from a family of its types, or with
    /// `sixteen_bit` from the layer's 16-bit families; `None` when no family serves it.
    fn build_layout_curve(&self, l: &Layout, sixteen_bit: bool) -> Option<LayoutCurve> {
        if l.layer_experts == 0 || l.local_experts == 0 || l.top_k == 0 {
            return None;
        }
        let dtypes = self.moe_dtypes(l.weights, l.act);
        let curves = self.fam.fused_moe.curves();
        // Its own family: `layer / ep` experts per rank (a rank with EPLB's redundant experts
        // holds a few more: priced on the same family, rescaled to its expert count like a
        // twin); block-scaled fp8 from its own families, else as per-tensor fp8.
        let local = match l.ep {
            ep if ep > 1 && l.layer_experts % ep == 0 => l.layer_experts / ep,
            _ => l.local_experts,
        };
        let find = |dt: (DType, DType), block: bool| {
            let key = l.key(dt, block, local);
            curves.binary_search_by(|(k, _)| k.cmp(&key)).ok()
        };
        // Else the layer's family of the same widths with the nearest local expert count
        // (the first of equals in key order): the two then differ in the expert weights
        // they read, not in the work per pair.
        let nearest = |dt: (DType, DType), block: bool| {
            let same = |k: &MoeKey| *k == l.key(dt, block, k.local_experts);
            let mut best: Option<(usize, f64)> = None;
            for (i, (k, _)) in curves.iter().enumerate().filter(|(_, (k, _))| same(k)) {
                let d = (l.local_experts as f64 / k.local_experts.max(1) as f64)
                    .ln()
                    .abs();
                if best.map_or(true, |(_, b)| d < b) {
                    best = Some((i, d));
                }
            }
            best.map(|(i, _)| i)
        };
        let search = |dt: (DType, DType)| {
            let either = |f: &dyn Fn((DType, DType), bool) -> Option<usize>| {
                f(dt, l.block_scales).or_else(|| l.block_scales.then(|| f(dt, false)).flatten())
            };
            either(&find).or_else(|| either(&nearest))
        };
        // Types no family has (int8 experts; fp8 or fp4 ones of a layer measured in 16 bits
        // only): the layer's 16-bit family, each point rescaled by the fallback's ratio of
        // the quantised op to the 16-bit one, as quantised GEMMs are.
        let wide = super::serving_dtype(DType::Bf16, |d| self.fam.fused_moe.has_dtype(d));
        let i = if sixteen_bit {
            search((wide, wide))?
        } else {
            search(dtypes)?
        };
        let (key, family) = &curves[i];
        // The layout the family measured: its experts, scales and types, of the same layer
        // and widths.
        let measured = Layout {
            local_experts: key.local_experts,
            ep: key.layer_experts / key.local_experts.max(1),
            block_scales: key.block_scales,
            weights: key.weights,
            act: key.act,
            ..*l
        };
        let pairs_at = |x: f64| (x * l.top_k as f64).round().max(1.0) as u64;
        let points: Vec<(f64, f64)> = family
            .points()
            .map(|(x, t)| {
                let pairs = pairs_at(x);
                let ours = l.routed(pairs);
                let theirs = if self.fam.moe_spread {
                    measured.spread(pairs)
                } else {
                    measured.routed(pairs)
                };
                if ours == theirs {
                    return (x, t);
                }
                let (f, g) = (
                    self.fallback.fused_moe(&ours),
                    self.fallback.fused_moe(&theirs),
                );
                (x, scaled(t, f, g).unwrap_or(t))
            })
            .collect();
        let curve = Curve::new(&points, family.spec())?;
        let x0 = points.first()?.0;
        let f0 = self.fallback.fused_moe(&l.routed(pairs_at(x0)));
        let t0 = curve.points().next()?.1;
        Some(LayoutCurve { t0, curve, x0, f0 })
    }
}
