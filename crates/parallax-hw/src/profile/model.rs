//! [`ProfiledCostModel`]: a [`CostModel`] that interpolates a measured [`Profile`] and falls
//! back, op by op, to another cost model (the roofline) where the profile has nothing.
//!
//! # Lookup rules (also in `docs/profile-format.md`)
//!
//! Every table is split into *families* (curves) of one shape, each a 1-D curve of time over
//! one size variable `x`, interpolated by a monotone cubic (PCHIP) in `(ln x, ln t)`:
//!
//! | table | family key | `x` |
//! |---|---|---|
//! | gemm | dtype, n, k | m |
//! | prefill_attention | dtype, heads, kv_heads, head_dim | causal query–key pairs per head, summed over the batch: `batch · (new·prefix + new·(new+1)/2)` |
//! | decode_attention | dtype, heads, kv_heads, head_dim | KV tokens read: `batch · context` |
//! | elementwise | kind | bytes |
//! | collective | op, group_size, scope | bytes |
//! | fused_moe | dtype, experts, top_k, hidden, intermediate | tokens (an op's `assignments / top_k`) |
//!
//! Points with equal `x` in a family are merged by their median time, and a family's times are
//! made non-decreasing in `x` (`nondecreasing`: a run of points whose time falls as `x` grows
//! is pooled at its median; more work never takes less time). Collective curves are first
//! capped from above instead, each point at the least time of the larger sizes (an APEX+
//! all-gather's 64 MiB point measured above its 128 MiB one), which leaves them non-decreasing.
//!
//! - **Inside a family's range**: the PCHIP value (exact at the non-decreasing points,
//!   monotone between them).
//! - **Outside the range** (below the smallest or above the largest `x`): the end point's
//!   efficiency against the family's reference cost `t0 + c(x)` is held (see
//!   `profile::interp`): `t0` is 0.8 × the family's smallest time, `c` for GEMM the roofline
//!   `max(2mnk / F, bytes / B)` with the profile's measured matmul rate `F` and bandwidth `B`,
//!   for every other table linear in `x` (work, bytes or KV tokens), as APEX does for
//!   collectives; so times approach the latency floor below and scale linearly above.
//! - **GEMM shape not in the table** (same dtype): the family nearest in
//!   `|ln(n/n_f)| + |ln(k/k_f)|` (ties: the smaller key), its time at `m` scaled by
//!   `(T + c(m, n, k)) / (T + c(m, n_f, k_f))`, with `c` the roofline above and `T` a latency
//!   floor every shape of the dtype shares (0.8 × the dtype's smallest measured GEMM time).
//!   Each family's own floor (0.8 × its smallest time) is right for interpolating within it
//!   but not across shapes: a large family's smallest time is mostly bandwidth. Predicting
//!   each embedded family (LM heads aside) from its nearest other one, the shared floor gives
//!   a median error of 3.5% (H100) and 6.3% (H200), the family's own 8.0% and 8.8%
//!   (`tests/profile_holdout.rs`). The price is the envelope of that rule over `m` (see
//!   `model::gemm`): never lower at a larger `m`.
//! - **Attention head shape not in the table** (same dtype): the family nearest in
//!   `|ln(h/h_f)| + |ln(kv/kv_f)| + |ln(d/d_f)|`, at an equivalent `x`: prefill pairs times
//!   `heads·d / (heads_f·d_f)` (equal FLOPs), decode KV tokens times `kv·d / (kv_f·d_f)`
//!   (equal KV bytes), with `d = (qk_head_dim + v_head_dim) / 2`.
//! - **Quantised GEMM without a family of its types** (fp8 W8A8, fp4, weight-only int4/int8
//!   with a bf16 table): the bf16 family's time for the shape times the fallback model's
//!   ratio `fallback(g) / fallback(g in bf16)` (the roofline at the quantised path's peak
//!   and bytes), so quantised GEMMs stay on the measured scale; the price is the envelope of
//!   that rule over `m`, as for a shape the table lacks.
//! - **Fused MoE**: per op layout, a curve built from the layout's own family, else from its
//!   layer's family of the same widths with the nearest local expert count, rescaled point
//!   by point to the layout and to random routing by the fallback's ratio, non-decreasing;
//!   below its smallest size the fallback scales the smallest point (see `model::moe`). A
//!   layer no family measured (other types, experts, top-k or widths): the fallback's fused
//!   kernel.
//! - **Fallback**: a dtype with no family in a table, an elementwise kind or a collective
//!   (op, group size, scope) with no curve, or a missing table: the wrapped fallback model.
//!   Host time per lowered op and the per-iteration overhead come from the profile's
//!   `overheads.host_op_seconds` / `iteration_seconds` when given, else from the fallback
//!   (as does the eager blend exponent); so does the per-kernel overlap of CUDA-graph
//!   replays (`overheads.graph_kernel_overlap_seconds`).
//! - Zero-size work (m = 0, no chunks, zero bytes, a group of one) costs 0.
//! - A batch of `count` GEMMs costs one GEMM of `count × n` columns (one batched kernel).

use super::error::{ProfileError, Row};
use super::format::{
    elementwise_kind_name, CollectivePoint, DecodePoint, ElementwisePoint, FusedMoePoint,
    GemmPoint, PrefillPoint, Profile, Scope, Table, ELEMENTWISE_KINDS,
};
use super::interp::{Curve, Ideal};
use crate::cost::CostModel;
use crate::topology::{DeviceGroup, Link};
use moe::{MoeFamilies, MoeKey};
use parallax_ir::{
    AttentionShape, CollectiveKind, DType, DecodeGroup, Elementwise, ElementwiseKind, FusedMoe,
    Gemm, PrefillChunk,
};
use std::collections::BTreeMap;
use std::sync::Arc;

mod gemm;
mod moe;

/// Values derived from a profile and built on first use, by key (`None`: nothing serves the
/// key). Builds are pure, so two threads racing to build one key build the same value and
/// the first insert is kept. A clone starts empty: the values are rebuilt on demand.
#[derive(Debug)]
pub(crate) struct BuildCache<K, V>(std::sync::RwLock<BTreeMap<K, Option<Arc<V>>>>);

impl<K, V> Default for BuildCache<K, V> {
    fn default() -> Self {
        BuildCache(std::sync::RwLock::new(BTreeMap::new()))
    }
}

impl<K, V> Clone for BuildCache<K, V> {
    fn clone(&self) -> Self {
        BuildCache::default()
    }
}

impl<K: Ord + Copy, V> BuildCache<K, V> {
    /// The value of `key`, built by `build` on first use.
    pub(crate) fn get_or_build(&self, key: K, build: impl FnOnce() -> Option<V>) -> Option<Arc<V>> {
        if let Some(v) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return v.clone();
        }
        let built = build().map(Arc::new);
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(built)
            .clone()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GemmFamily {
    pub dtype: DType,
    pub n: u64,
    pub k: u64,
    ln_n: f64,
    ln_k: f64,
    pub curve: Curve,
}

#[derive(Debug, Clone)]
pub(crate) struct AttnFamily {
    pub dtype: DType,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    ln_h: f64,
    ln_kv: f64,
    ln_d: f64,
    pub curve: Curve,
}

/// The curves of a profile, sorted for binary search.
#[derive(Debug, Clone)]
pub(crate) struct Families {
    pub gemm: ByDtype<GemmFamily>,
    /// Per dtype (indexed by `DType as usize`), the latency floor every GEMM shape of it
    /// shares, for scaling a family's times to a shape the table lacks:
    /// [`FLOOR_FRACTION`](super::interp::FLOOR_FRACTION) times the dtype's smallest measured
    /// GEMM time (the least of its families' floors; ∞ for a dtype without families).
    pub gemm_shape_floor: [f64; DType::ALL.len()],
    pub prefill: ByDtype<AttnFamily>,
    pub decode: ByDtype<AttnFamily>,
    pub elementwise: [Option<Curve>; 7],
    /// Smaller elementwise ops take the fallback (the table's `min_bytes`; 0: none).
    pub elementwise_min_bytes: f64,
    pub collective: Vec<((CollectiveKind, u32, Scope), Curve)>,
    pub fused_moe: MoeFamilies,
    /// The `fused_moe` table was measured with tokens spread over as many experts as
    /// possible ([`TableRouting::Spread`](super::TableRouting)), not routed at random.
    pub moe_spread: bool,
}

/// One family's key and measured points `(size, seconds)`.
type Group<K> = (K, Vec<(f64, f64)>);

/// Causal query–key pairs of one sequence of `new` tokens after `prefix`, with an optional
/// sliding window of `w` keys.
#[inline]
pub(crate) fn causal_pairs(new: f64, prefix: f64, window: Option<u32>) -> f64 {
    let full = new * prefix + new * (new + 1.0) / 2.0;
    match window {
        None => full,
        Some(w) => {
            let w = w as f64;
            if prefix + new <= w {
                full
            } else if prefix >= w {
                new * w
            } else {
                let j = w - prefix;
                j * prefix + j * (j + 1.0) / 2.0 + (new - j) * w
            }
        }
    }
}

fn too_few(
    file: &str,
    table: &str,
    row: Row,
    column: &str,
    family: String,
    points: usize,
) -> ProfileError {
    ProfileError::TooFewPoints {
        file: file.to_string(),
        table: table.to_string(),
        row,
        column: column.to_string(),
        family,
        points,
    }
}

fn check_time(file: &str, table: &str, row: Row, column: &str, t: f64) -> Result<(), ProfileError> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(ProfileError::NonPositiveTime {
            file: file.to_string(),
            table: table.to_string(),
            row,
            column: column.to_string(),
            value: t.to_string(),
        })
    }
}

fn check_size(file: &str, table: &str, row: Row, column: &str, x: f64) -> Result<(), ProfileError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(ProfileError::BadValue {
            file: file.to_string(),
            table: table.to_string(),
            row,
            column: column.to_string(),
            value: x.to_string(),
            expected: "a size > 0".to_string(),
        })
    }
}

/// Checks that every family (key `K`) of `(key, x, row)` items has at least two distinct `x`;
/// used by the importers to name the source file and line.
pub(crate) fn group_check<K: Ord + std::fmt::Debug>(
    file: &str,
    table: &str,
    column: &str,
    items: impl Iterator<Item = (K, f64, Row)>,
) -> Result<(), ProfileError> {
    let mut map: BTreeMap<K, (Row, Vec<f64>)> = BTreeMap::new();
    for (k, x, row) in items {
        map.entry(k).or_insert_with(|| (row, Vec::new())).1.push(x);
    }
    for (k, (row, xs)) in map {
        let n = distinct(xs);
        if n < 2 {
            return Err(too_few(file, table, row, column, format!("{k:?}"), n));
        }
    }
    Ok(())
}

/// How many distinct values `xs` holds.
fn distinct(mut xs: Vec<f64>) -> usize {
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs.len()
}

/// A table's row type as the families see it: which curve it lies on and where.
pub(crate) trait FamilyRow {
    /// The table, for errors.
    const TABLE: &'static str;
    /// The size column named when a family has fewer than two distinct sizes.
    const SIZE: &'static str;
    /// The family key; the families are sorted by it.
    type Key: Ord;
    /// Measured seconds.
    fn seconds(&self) -> f64;
    /// The size columns, each of which must be > 0, in the order they are checked.
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)>;
    /// The row's family.
    fn key(&self) -> Self::Key;
    /// The row's position on its family's curve.
    fn x(&self) -> f64;
    /// A family key as error messages show it.
    fn show(key: &Self::Key) -> String;
}

impl FamilyRow for GemmPoint {
    const TABLE: &'static str = "gemm";
    const SIZE: &'static str = "m";
    type Key = (DType, u64, u64);
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [("m", self.m), ("n", self.n), ("k", self.k)].map(|(c, v)| (c, v as f64))
    }
    fn key(&self) -> Self::Key {
        (self.dtype, self.n, self.k)
    }
    fn x(&self) -> f64 {
        self.m as f64
    }
    fn show(k: &Self::Key) -> String {
        format!("(dtype={}, n={}, k={})", k.0, k.1, k.2)
    }
}

/// Key of an attention family: dtype, heads, KV heads, head dimension.
type AttnKey = (DType, u32, u32, u32);

fn show_attn(k: &AttnKey) -> String {
    format!(
        "(dtype={}, heads={}, kv_heads={}, head_dim={})",
        k.0, k.1, k.2, k.3
    )
}

impl FamilyRow for PrefillPoint {
    const TABLE: &'static str = "prefill_attention";
    const SIZE: &'static str = "new_tokens";
    type Key = AttnKey;
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("batch", self.batch),
            ("new_tokens", self.new_tokens),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
        ]
        .map(|(c, v)| (c, v as f64))
    }
    fn key(&self) -> AttnKey {
        (self.dtype, self.heads, self.kv_heads, self.head_dim)
    }
    fn x(&self) -> f64 {
        self.batch as f64 * causal_pairs(self.new_tokens as f64, self.prefix as f64, None)
    }
    fn show(k: &AttnKey) -> String {
        show_attn(k)
    }
}

impl FamilyRow for DecodePoint {
    const TABLE: &'static str = "decode_attention";
    const SIZE: &'static str = "context";
    type Key = AttnKey;
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("batch", self.batch),
            ("context", self.context),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
        ]
        .map(|(c, v)| (c, v as f64))
    }
    fn key(&self) -> AttnKey {
        (self.dtype, self.heads, self.kv_heads, self.head_dim)
    }
    fn x(&self) -> f64 {
        self.batch as f64 * self.context as f64
    }
    fn show(k: &AttnKey) -> String {
        show_attn(k)
    }
}

impl FamilyRow for ElementwisePoint {
    const TABLE: &'static str = "elementwise";
    const SIZE: &'static str = "bytes";
    /// The kind's index in [`ELEMENTWISE_KINDS`].
    type Key = usize;
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [("bytes", self.bytes)]
    }
    fn key(&self) -> usize {
        kind_index(self.kind)
    }
    fn x(&self) -> f64 {
        self.bytes
    }
    fn show(k: &usize) -> String {
        format!("(kind={})", elementwise_kind_name(ELEMENTWISE_KINDS[*k]))
    }
}

impl FamilyRow for CollectivePoint {
    const TABLE: &'static str = "collective";
    const SIZE: &'static str = "bytes";
    type Key = (CollectiveKind, u32, Scope);
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("bytes", self.bytes),
            ("group_size", self.group_size as f64),
        ]
    }
    fn key(&self) -> Self::Key {
        (self.op, self.group_size, self.scope)
    }
    fn x(&self) -> f64 {
        self.bytes
    }
    fn show(k: &Self::Key) -> String {
        format!(
            "(op={}, group_size={}, scope={})",
            k.0.name(),
            k.1,
            k.2.name()
        )
    }
}

impl FamilyRow for FusedMoePoint {
    const TABLE: &'static str = "fused_moe";
    const SIZE: &'static str = "tokens";
    type Key = MoeKey;
    fn seconds(&self) -> f64 {
        self.seconds
    }
    fn sizes(&self) -> impl IntoIterator<Item = (&'static str, f64)> {
        [
            ("tokens", self.tokens as f64),
            ("experts", self.experts as f64),
            ("top_k", self.top_k as f64),
            ("hidden", self.hidden as f64),
            ("intermediate", self.intermediate as f64),
        ]
    }
    fn key(&self) -> MoeKey {
        MoeKey {
            weights: self.dtype,
            act: self.act_dtype,
            block_scales: self.block_scales,
            local_experts: self.experts,
            layer_experts: self.layer_experts,
            top_k: self.top_k,
            hidden: self.hidden,
            intermediate: self.intermediate,
        }
    }
    fn x(&self) -> f64 {
        self.tokens as f64
    }
    fn show(k: &MoeKey) -> String {
        let weight_only = if k.weights == k.act {
            String::new()
        } else {
            format!(" ({} GEMMs)", k.act)
        };
        let experts = if k.local_experts == k.layer_experts {
            k.local_experts.to_string()
        } else {
            format!("{}/{}", k.local_experts, k.layer_experts)
        };
        format!(
            "(dtype={}{}{weight_only}, experts={experts}, top_k={}, hidden={}, intermediate={})",
            k.weights,
            if k.block_scales { " block-scaled" } else { "" },
            k.top_k,
            k.hidden,
            k.intermediate
        )
    }
}

/// The curves of table `t` (none when the profile lacks it), sorted by family key: every
/// row's time and sizes checked, rows grouped by family, each family's curve built with the
/// reference cost `ideal(key)`.
///
/// # Errors
/// A non-positive time or size; a family with fewer than two distinct sizes.
fn curves<R: FamilyRow>(
    file: &str,
    t: Option<&Table<R>>,
    ideal: impl Fn(&R::Key) -> Ideal,
) -> Result<Vec<(R::Key, Curve)>, ProfileError> {
    curves_with(file, t, ideal, false)
}

/// [`curves`]; with `monotone`, each family's times are first made non-decreasing in size
/// (a point slower than a larger size's measurement takes that time: the larger operation
/// covers the smaller one, so the slower point is noise). Collective tables are read so: the
/// APEX+ H100 all-gather of 8 GPUs measured 555 µs at 64 MiB between 114 µs at 32 MiB and
/// 375 µs at 128 MiB.
fn curves_with<R: FamilyRow>(
    file: &str,
    t: Option<&Table<R>>,
    ideal: impl Fn(&R::Key) -> Ideal,
    monotone: bool,
) -> Result<Vec<(R::Key, Curve)>, ProfileError> {
    let mut out = Vec::new();
    for (k, pts) in grouped_points(file, t, monotone)? {
        // two sizes or more: checked by `grouped_points`
        if let Some(c) = Curve::new(&pts, ideal(&k)) {
            out.push((k, c));
        }
    }
    Ok(out)
}

/// The rows of table `t` (none when the profile lacks it) grouped by family key, sorted, each
/// group's points `(x, seconds)`; rows below an elementwise table's `min_bytes` left out. With
/// `monotone` as [`curves_with`].
///
/// # Errors
/// A row with a bad time or size; a family with fewer than two distinct sizes.
fn grouped_points<R: FamilyRow>(
    file: &str,
    t: Option<&Table<R>>,
    monotone: bool,
) -> Result<Vec<Group<R::Key>>, ProfileError> {
    let Some(t) = t else {
        return Ok(Vec::new());
    };
    let mut map = BTreeMap::new();
    for (i, r) in t.rows.iter().enumerate() {
        let row = t.origin(i);
        check_time(file, R::TABLE, row, "seconds", r.seconds())?;
        for (c, v) in r.sizes() {
            check_size(file, R::TABLE, row, c, v)?;
        }
        // rows below an elementwise table's `min_bytes` timed the host: not used
        if t.below_min_bytes(r.x()) {
            continue;
        }
        map.entry(r.key())
            .or_insert_with(|| (row, Vec::new()))
            .1
            .push((r.x(), r.seconds()));
    }
    let mut out = Vec::with_capacity(map.len());
    for (k, (row, mut pts)) in map {
        if monotone {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut floor = f64::INFINITY;
            for p in pts.iter_mut().rev() {
                floor = floor.min(p.1);
                p.1 = floor;
            }
        }
        let n = distinct(pts.iter().map(|p| p.0).collect());
        if n < 2 {
            let mut family = R::show(&k);
            if let Some(m) = t.min_bytes {
                family.push_str(&format!(" of at least min_bytes = {m}"));
            }
            return Err(too_few(file, R::TABLE, row, R::SIZE, family, n));
        }
        out.push((k, pts));
    }
    Ok(out)
}

/// The dtype whose families serve a lookup in `d`: `d` itself when the table has it, else
/// its 16-bit twin (bf16 ↔ fp16: two bytes per element and the same tensor-core rate on every
/// catalogued GPU, so one's measurements time the other), else `d` (no family: fallback).
#[inline]
pub(crate) fn serving_dtype(d: DType, has: impl Fn(DType) -> bool) -> DType {
    if has(d) {
        return d;
    }
    let twin = match d {
        DType::Bf16 => DType::F16,
        DType::F16 => DType::Bf16,
        _ => return d,
    };
    if has(twin) {
        twin
    } else {
        d
    }
}

/// Families sorted by dtype first, with each dtype's index range, so that a lookup finds
/// its dtype's families in O(1).
#[derive(Debug, Clone)]
pub(crate) struct ByDtype<F> {
    fams: Vec<F>,
    /// `[start, end)` of each dtype's families, indexed by `DType as usize`.
    range: [(usize, usize); DType::ALL.len()],
}

impl<F> ByDtype<F> {
    /// Indexes `fams`, which are sorted by `dtype` first.
    fn new(fams: Vec<F>, dtype: impl Fn(&F) -> DType) -> Self {
        let mut range = [(0, 0); DType::ALL.len()];
        for d in DType::ALL {
            range[d as usize] = (
                fams.partition_point(|f| dtype(f) < d),
                fams.partition_point(|f| dtype(f) <= d),
            );
        }
        ByDtype { fams, range }
    }

    /// Every family, in order.
    pub fn all(&self) -> &[F] {
        &self.fams
    }

    /// The families of dtype `d`.
    ///
    /// Complexity: O(1). No allocation.
    #[inline]
    fn of(&self, d: DType) -> &[F] {
        let (lo, hi) = self.range[d as usize];
        &self.fams[lo..hi]
    }

    /// Whether any family has dtype `d`.
    #[inline]
    fn has(&self, d: DType) -> bool {
        let (lo, hi) = self.range[d as usize];
        lo < hi
    }
}

/// The family of `fams` at the least `dist` (the first of equals), `None` when `fams` is empty.
///
/// Complexity: O(f). No allocation.
#[inline]
fn nearest<F>(fams: &[F], dist: impl Fn(&F) -> f64) -> Option<&F> {
    let mut best: Option<(&F, f64)> = None;
    for f in fams {
        let d = dist(f);
        if best.map_or(true, |(_, bd)| d < bd) {
            best = Some((f, d));
        }
    }
    best.map(|(f, _)| f)
}

impl Families {
    /// Builds every family of `p`.
    pub fn build(p: &Profile) -> Result<Families, ProfileError> {
        let file = p.source_name.as_str();
        p.gpu.check_rates(file)?;
        let (fl, bw) = (p.gpu.matmul_flops, p.gpu.memory_bandwidth);
        let gemm: Vec<GemmFamily> = curves(file, p.gemm.as_ref(), |&(dtype, n, k)| Ideal::Gemm {
            n: n as f64,
            k: k as f64,
            b: dtype.bytes(),
            flops: fl,
            bw,
        })?
        .into_iter()
        .map(|((dtype, n, k), curve)| GemmFamily {
            dtype,
            n,
            k,
            ln_n: (n as f64).ln(),
            ln_k: (k as f64).ln(),
            curve,
        })
        .collect();
        let mut gemm_shape_floor = [f64::INFINITY; DType::ALL.len()];
        for f in &gemm {
            let floor = &mut gemm_shape_floor[f.dtype as usize];
            *floor = floor.min(f.curve.floor());
        }
        let attn_family = |((dtype, h, kv, d), curve): (AttnKey, Curve)| AttnFamily {
            dtype,
            heads: h,
            kv_heads: kv,
            head_dim: d,
            ln_h: (h as f64).ln(),
            ln_kv: (kv as f64).ln(),
            ln_d: (d as f64).ln(),
            curve,
        };
        let prefill: Vec<AttnFamily> =
            curves(file, p.prefill_attention.as_ref(), |&(_, h, _, d)| {
                Ideal::Linear(4.0 * h as f64 * d as f64 / fl)
            })?
            .into_iter()
            .map(attn_family)
            .collect();
        let decode: Vec<AttnFamily> =
            curves(file, p.decode_attention.as_ref(), |&(dtype, _, kv, d)| {
                Ideal::Linear(2.0 * kv as f64 * d as f64 * dtype.bytes() / bw)
            })?
            .into_iter()
            .map(attn_family)
            .collect();
        let mut elementwise: [Option<Curve>; 7] = Default::default();
        for (ki, c) in curves(file, p.elementwise.as_ref(), |_| Ideal::Linear(1.0 / bw))? {
            elementwise[ki] = Some(c);
        }
        let collective = curves_with(file, p.collective.as_ref(), |_| Ideal::ThroughTop, true)?;
        let fused_moe = MoeFamilies {
            groups: grouped_points(file, p.fused_moe.as_ref(), false)?,
            matmul_flops: fl,
            curves: std::sync::OnceLock::new(),
        };
        let moe_spread = p
            .fused_moe
            .as_ref()
            .is_some_and(|t| t.routing == Some(super::TableRouting::Spread));
        Ok(Families {
            fused_moe,
            moe_spread,
            gemm: ByDtype::new(gemm, |f| f.dtype),
            gemm_shape_floor,
            prefill: ByDtype::new(prefill, |f| f.dtype),
            decode: ByDtype::new(decode, |f| f.dtype),
            elementwise,
            elementwise_min_bytes: p
                .elementwise
                .as_ref()
                .and_then(|t| t.min_bytes)
                .unwrap_or(0.0),
            collective,
        })
    }
}

#[inline]
fn kind_index(k: ElementwiseKind) -> usize {
    match k {
        ElementwiseKind::Norm => 0,
        ElementwiseKind::Activation => 1,
        ElementwiseKind::Residual => 2,
        ElementwiseKind::Rotary => 3,
        ElementwiseKind::Routing => 4,
        ElementwiseKind::Embedding => 5,
        ElementwiseKind::Sampling => 6,
    }
}

/// A cost model that interpolates a measured profile, falling back op by op.
///
/// See the [module documentation](self) for the lookup and extrapolation rules.
///
/// # Examples
/// ```ignore
/// let fallback: Arc<dyn CostModel> = Arc::new(RooflineModel::new(gpu));
/// let model = ProfiledCostModel::new(&profile::embedded_h100(), fallback)?;
/// let t = model.gemm(&gemm);
/// ```
#[derive(Debug, Clone)]
pub struct ProfiledCostModel {
    name: String,
    fam: Families,
    fallback: Arc<dyn CostModel>,
    matmul_flops: f64,
    memory_bandwidth: f64,
    launch: Option<f64>,
    measured_launch: Option<f64>,
    iteration: Option<f64>,
    graph_overlap: Option<f64>,
    /// The (intra-node, inter-node) links the profile's collectives were measured on; a
    /// group on other links is timed by the fallback (see [`ProfiledCostModel::measured_on`]).
    measured_links: Option<(Link, Link)>,
    /// Fused-MoE curves per op layout, built on first use.
    moe_layouts: BuildCache<moe::Layout, moe::LayoutCurve>,
    /// Fused-MoE curves of layouts whose types no family has, from the 16-bit families.
    moe_sixteen_bit: BuildCache<moe::Layout, moe::LayoutCurve>,
    /// Envelopes of GEMM shapes priced from other shapes or types, built on first use.
    gemm_shapes: BuildCache<gemm::ShapeKey, gemm::Envelope>,
}

impl ProfiledCostModel {
    /// Declare the links the profile's collectives were measured on. A collective over a
    /// group whose links differ (a cluster TOML that overrides `intra_node` or `inter_node`)
    /// is then timed by the fallback model, which honours the group's links, instead of by
    /// curves measured on other hardware.
    pub fn measured_on(mut self, intra_node: Link, inter_node: Link) -> Self {
        self.measured_links = Some((intra_node, inter_node));
        self
    }

    /// Builds the model from `profile`, falling back to `fallback` where the profile has no
    /// data for an op.
    ///
    /// # Errors
    /// As [`Profile::validate`]: a family with fewer than two distinct sizes, a non-positive
    /// time or size.
    ///
    /// Complexity: O(r log r) for r rows.
    pub fn new(profile: &Profile, fallback: Arc<dyn CostModel>) -> Result<Self, ProfileError> {
        let fam = Families::build(profile)?;
        Ok(ProfiledCostModel {
            name: format!("profiled:{}", profile.name),
            fam,
            fallback,
            matmul_flops: profile.gpu.matmul_flops,
            memory_bandwidth: profile.gpu.memory_bandwidth,
            launch: profile.overheads.host_op_seconds,
            measured_launch: profile.overheads.kernel_launch_seconds,
            iteration: profile.overheads.iteration_seconds,
            graph_overlap: profile.overheads.graph_kernel_overlap_seconds,
            measured_links: None,
            moe_layouts: BuildCache::default(),
            moe_sixteen_bit: BuildCache::default(),
            gemm_shapes: BuildCache::default(),
        })
    }

    /// The wrapped fallback model.
    pub fn fallback(&self) -> &Arc<dyn CostModel> {
        &self.fallback
    }

    /// The profiled time of `g`, or `None` when the profile has no GEMM family of its dtype
    /// or its weights and inputs differ in type (then [`CostModel::gemm`] prices it from its
    /// 16-bit twin, else by the fallback).
    ///
    /// A batch of `count > 1` GEMMs (MLA's per-head absorption, a grouped expert GEMM) runs
    /// as one batched kernel (`torch.bmm`, cuBLAS strided-batched), as the roofline prices
    /// it: one GEMM of `count × n` columns, which has the same FLOPs, weight and output
    /// bytes and one launch. (The table's time of one `n`-column GEMM times `count` would
    /// charge the small-`m` floor of a separate kernel per head: 128 of them per layer for
    /// DeepSeek-V3's absorbed decode, 5x its whole decode step.)
    ///
    /// A shape the table lacks takes the envelope over `m` of the nearest family's time
    /// rescaled to it (see `model::gemm`): non-decreasing in `m`, as the families are.
    ///
    /// Complexity: O(log f + log p) for f families of p points when the shape is in the table;
    /// otherwise a map lookup and O(1) once the shape's envelope is built (the first time, 769
    /// samples of O(f + log p) each). No allocation after that.
    pub fn profiled_gemm(&self, g: &Gemm) -> Option<f64> {
        if g.m == 0 || g.n == 0 || g.k == 0 || g.count == 0 {
            return Some(0.0);
        }
        if g.weight_dtype != g.act_dtype {
            return None;
        }
        self.measured_gemm(g)
    }

    /// The family serving `shape`: the exact one (`true`) when the table has its dtype (or
    /// 16-bit twin), heads, KV heads and head dimension (query and value dims equal), else
    /// the nearest one of that dtype (`false`).
    ///
    /// Complexity: O(log f) for an exact match, O(f) otherwise. No allocation.
    fn attn_family<'a>(
        fams: &'a ByDtype<AttnFamily>,
        shape: &AttentionShape,
    ) -> Option<(&'a AttnFamily, bool)> {
        if shape.kv_dtype != shape.act_dtype {
            return None;
        }
        let dt = serving_dtype(shape.act_dtype, |d| fams.has(d));
        let fams = fams.of(dt);
        // A handful of families: a scan with predictable branches beats a binary search.
        if shape.qk_head_dim == shape.v_head_dim {
            let exact = fams.iter().find(|f| {
                f.heads == shape.heads
                    && f.kv_heads == shape.kv_heads
                    && f.head_dim == shape.qk_head_dim
            });
            if let Some(f) = exact {
                return Some((f, true));
            }
        }
        let d = 0.5 * (shape.qk_head_dim as f64 + shape.v_head_dim as f64);
        let (lh, lkv, ld) = (
            (shape.heads.max(1) as f64).ln(),
            (shape.kv_heads.max(1) as f64).ln(),
            d.max(1.0).ln(),
        );
        let f = nearest(fams, |f| {
            (lh - f.ln_h).abs() + (lkv - f.ln_kv).abs() + (ld - f.ln_d).abs()
        })?;
        Some((f, false))
    }

    /// The profiled time of prefill attention, or `None` when the profile has no prefill
    /// family of the shape's dtype (or the KV dtype differs from the activation dtype).
    ///
    /// Complexity: O(f + c + log p) for f families, c chunks, p points. No allocation.
    pub fn profiled_prefill(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> Option<f64> {
        let pairs: f64 = chunks
            .iter()
            .map(|c| causal_pairs(c.new_tokens as f64, c.prefix as f64, shape.window))
            .sum();
        if pairs <= 0.0 || shape.heads == 0 {
            return Some(0.0);
        }
        let (f, exact) = Self::attn_family(&self.fam.prefill, shape)?;
        let x = if exact {
            pairs
        } else {
            let d = 0.5 * (shape.qk_head_dim as f64 + shape.v_head_dim as f64);
            pairs * (shape.heads as f64 * d) / (f.heads as f64 * f.head_dim as f64)
        };
        Some(f.curve.eval(x))
    }

    /// The profiled time of decode attention, or `None` as for [`Self::profiled_prefill`].
    ///
    /// `x` is the group's total context (`context_sum`); with a sliding window `w` smaller
    /// than the longest context, `min(context_sum, requests · w)`.
    ///
    /// Complexity: O(f + log p). No allocation.
    pub fn profiled_decode(&self, shape: &AttentionShape, decode: &DecodeGroup) -> Option<f64> {
        if decode.requests == 0 || shape.heads == 0 {
            return Some(0.0);
        }
        let mut ctx = (decode.context_sum as f64).max(decode.requests as f64);
        if let Some(w) = shape.window {
            if decode.context_max > w {
                ctx = ctx.min(decode.requests as f64 * w as f64);
            }
        }
        // Cache elements per token: `kv_heads · (qk + v)` for keys and values of their own;
        // fewer for a latent that is both key and value (MLA: 576 for DeepSeek-V3, not
        // 576 + 512). Engines decode such a cache with kernels of its own (FlashMLA,
        // FlashAttention-3's MLA path, TensorRT-LLM's MLA kernel), up to 128 query heads on
        // one latent and compute-bound there, unlike the GQA kernels a profile's families
        // measure: no family prices it (NVIDIA's aiconfigurator sweeps of those kernels on
        // H100 and H200 agree with the roofline within about 10 % at large sizes; a family
        // scaled by cache bytes missed their 128-head times by 35–50 %).
        let per_token = shape.kv_bytes_per_token / shape.kv_dtype.bytes();
        let own_kv = shape.kv_heads as f64 * (shape.qk_head_dim + shape.v_head_dim) as f64;
        if per_token < own_kv - 0.5 {
            return None;
        }
        let (f, exact) = Self::attn_family(&self.fam.decode, shape)?;
        let x = if exact {
            ctx
        } else {
            // decode reads the cache: the context scaled by cache elements per token
            ctx * per_token / (2.0 * f.kv_heads.max(1) as f64 * f.head_dim as f64)
        };
        Some(f.curve.eval(x))
    }

    /// The profiled time of an elementwise op, or `None` when its kind has no curve or the
    /// op is smaller than the table's `min_bytes`.
    ///
    /// Complexity: O(log p). No allocation.
    pub fn profiled_elementwise(&self, op: &Elementwise) -> Option<f64> {
        if op.bytes <= 0.0 {
            return Some(0.0);
        }
        if op.bytes < self.fam.elementwise_min_bytes {
            return None;
        }
        let c = self.fam.elementwise[kind_index(op.kind)].as_ref()?;
        Some(c.eval(op.bytes))
    }

    /// The profiled time of a collective, or `None` when the profile has no curve for this
    /// (op, group size, intra/inter node).
    ///
    /// Complexity: O(log f + log p). No allocation.
    pub fn profiled_collective(
        &self,
        kind: CollectiveKind,
        bytes: f64,
        group: &DeviceGroup,
    ) -> Option<f64> {
        if group.size <= 1 || bytes <= 0.0 {
            return Some(0.0);
        }
        let scope = if group.is_intra_node() {
            Scope::Intra
        } else {
            Scope::Inter
        };
        if let Some((intra, inter)) = &self.measured_links {
            let same = group.intra == *intra && (scope == Scope::Intra || group.inter == *inter);
            if !same {
                return None;
            }
        }
        let key = (kind, group.size, scope);
        let i = self
            .fam
            .collective
            .binary_search_by(|(k, _)| k.cmp(&key))
            .ok()?;
        Some(self.fam.collective[i].1.eval(bytes))
    }
}

/// `shape` with its KV cache in the activations' type (the type attention tables are measured
/// in), or `None` when it already is: the same heads and tokens, the cache's bytes per token
/// scaled by the ratio of the two types' sizes.
fn wide_kv(shape: &AttentionShape) -> Option<AttentionShape> {
    (shape.kv_dtype != shape.act_dtype).then(|| shape.with_kv_dtype(shape.act_dtype))
}

/// The time of `op` on the measured scale: its `measured` time when a table has its types;
/// else, for an op whose types no table has but whose 16-bit `twin` (the same shape in the
/// tables' type: an fp8 cache's bf16 cache) one does, the twin's measured time times the
/// `fallback`'s ratio of the two — so quantised ops stay on one measured scale with
/// unquantised ones; else the fallback's own time. (Attention only: quantised GEMMs and
/// fused MoE apply the ratio per measured point and stay monotone, `model::gemm` and
/// `model::moe`.)
fn on_measured_scale<T>(
    op: &T,
    twin: Option<T>,
    measured: impl Fn(&T) -> Option<f64>,
    fallback: impl Fn(&T) -> f64,
) -> f64 {
    if let Some(t) = measured(op) {
        return t;
    }
    if let Some(w) = &twin {
        if let Some(t16) = measured(w) {
            let (f, f16) = (fallback(op), fallback(w));
            if f16 > 0.0 && f.is_finite() {
                return t16 * f / f16;
            }
        }
    }
    fallback(op)
}

impl CostModel for ProfiledCostModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn gemm(&self, g: &Gemm) -> f64 {
        if let Some(t) = self.profiled_gemm(g) {
            return t;
        }
        // An fp8 or weight-only quantised GEMM with a bf16 table: its 16-bit twin's times
        // on the measured scale (see `model::gemm`).
        let wide = |d: DType| matches!(d, DType::Bf16 | DType::F16);
        if !(wide(g.weight_dtype) && wide(g.act_dtype)) {
            if let Some(t) = self.quantised_gemm(g) {
                return t;
            }
        }
        self.fallback.gemm(g)
    }

    fn prefill_attention(&self, shape: &AttentionShape, chunks: &[PrefillChunk]) -> f64 {
        on_measured_scale(
            shape,
            wide_kv(shape),
            |s| self.profiled_prefill(s, chunks),
            |s| self.fallback.prefill_attention(s, chunks),
        )
    }

    fn decode_attention(&self, shape: &AttentionShape, decode: &DecodeGroup) -> f64 {
        on_measured_scale(
            shape,
            wide_kv(shape),
            |s| self.profiled_decode(s, decode),
            |s| self.fallback.decode_attention(s, decode),
        )
    }

    /// The measured fused-MoE curve of the op's layout ([`ProfiledCostModel::profiled_fused_moe`]),
    /// else, for expert types no family has, the layer's 16-bit families rescaled to them
    /// (`model::moe`), else the fallback's fused kernel (never the per-expert GEMM tables,
    /// whose skinny shapes extrapolate a large-GEMM floor per expert).
    fn fused_moe(&self, op: &FusedMoe) -> f64 {
        self.profiled_fused_moe(op)
            .or_else(|| self.sixteen_bit_fused_moe(op))
            .unwrap_or_else(|| self.fallback.fused_moe(op))
    }

    fn elementwise(&self, op: &Elementwise) -> f64 {
        match self.profiled_elementwise(op) {
            Some(t) => t,
            None => self.fallback.elementwise(op),
        }
    }

    fn collective(&self, kind: CollectiveKind, bytes: f64, group: &DeviceGroup) -> f64 {
        match self.profiled_collective(kind, bytes, group) {
            Some(t) => t,
            None => self.fallback.collective(kind, bytes, group),
        }
    }

    fn kernel_launch_overhead(&self) -> f64 {
        self.launch
            .unwrap_or_else(|| self.fallback.kernel_launch_overhead())
    }

    fn measured_kernel_launch(&self) -> Option<f64> {
        self.measured_launch
            .or_else(|| self.fallback.measured_kernel_launch())
    }

    fn iteration_overhead(&self) -> f64 {
        self.iteration
            .unwrap_or_else(|| self.fallback.iteration_overhead())
    }

    fn host_overlap_exponent(&self) -> f64 {
        self.fallback.host_overlap_exponent()
    }

    fn graph_kernel_overlap(&self) -> f64 {
        self.graph_overlap
            .unwrap_or_else(|| self.fallback.graph_kernel_overlap())
    }
}
