//! Calibration: fit the roofline's efficiency parameters ([`RooflineParams`]) to a measured
//! profile, so GPUs and shapes without a profile still get calibrated predictions.
//!
//! # Method
//! Each table fits only the parameters of its own op class (they do not interact):
//!
//! | table | parameters (bounds) |
//! |---|---|
//! | gemm | `gemm_compute_efficiency` (0.2–1), `gemm_memory_efficiency` (0.2–1), `gemm_floor` (0–50 µs), `gemm_tile_overhead` (0–64), `gemm_overlap_exponent` (1–16) |
//! | prefill_attention | `prefill_compute_efficiency` (0.1–1), `prefill_cta_overhead_tokens` (0–4096), `prefill_floor` (0–50 µs) |
//! | decode_attention | `decode_memory_efficiency` (0.1–1), `decode_floor` (0–50 µs), `decode_per_request` (0–2 µs) |
//! | elementwise | `elementwise_memory_efficiency` (0.1–1), `elementwise_floor` (0–50 µs) |
//! | collective | `link_efficiency` (0.05–1), `collective_floor` (0–50 µs) |
//!
//! The loss of a table is the mean absolute log error `mean(|ln t_pred − ln t_meas|)` over its
//! rows (an L1 loss in log space: a row twice too slow weighs as much as one twice too fast,
//! and outliers do not dominate). The loss never rises ([`TableFit::loss_before`],
//! [`TableFit::loss_after`]); the percent errors reported beside it are another metric and
//! may move either way on a table the roofline's shape cannot follow. The optimiser is cyclic coordinate descent: [`SWEEPS`] sweeps over the table's
//! parameters in the order above, each a golden-section search of [`GOLDEN_STEPS`] steps over
//! the parameter's bounds, keeping the new value only if the loss decreased. Everything is
//! deterministic: no randomness, fixed iteration counts, rows in table order.
//!
//! Times are compared with the roofline's kernel time (no launch overhead): profile tables
//! hold device kernel times.

use super::format::Profile;
use super::holdout::{HeldOutPoint, HoldOutReport};
use super::measured::ErrorSummary;
use super::ProfileError;
use crate::cost::CostModel;
use crate::roofline::{RooflineModel, RooflineParams};
use crate::topology::{Cluster, DeviceGroup};
use parallax_ir::{AttentionShape, DType, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use serde::Serialize;

/// Coordinate-descent sweeps per table.
pub const SWEEPS: usize = 4;
/// Golden-section steps per parameter and sweep.
pub const GOLDEN_STEPS: usize = 40;

/// One fitted parameter: its name, table and bounds, and how to read and write it.
#[derive(Debug, Clone, Copy)]
pub struct FitParam {
    /// Field name in [`RooflineParams`].
    pub name: &'static str,
    /// The table that determines it.
    pub table: &'static str,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    get: fn(&RooflineParams) -> f64,
    set: fn(&mut RooflineParams, f64),
}

impl FitParam {
    /// The parameter's value in `p`.
    pub fn get(&self, p: &RooflineParams) -> f64 {
        (self.get)(p)
    }
}

macro_rules! param {
    ($table:expr, $field:ident, $lo:expr, $hi:expr) => {
        FitParam {
            name: stringify!($field),
            table: $table,
            lo: $lo,
            hi: $hi,
            get: |p| p.$field,
            set: |p, v| p.$field = v,
        }
    };
}

/// Every fitted parameter, in fitting order.
pub fn fit_params() -> Vec<FitParam> {
    vec![
        param!("gemm", gemm_compute_efficiency, 0.2, 1.0),
        param!("gemm", gemm_memory_efficiency, 0.2, 1.0),
        param!("gemm", gemm_floor, 0.0, 50e-6),
        param!("gemm", gemm_tile_overhead, 0.0, 64.0),
        param!("gemm", gemm_overlap_exponent, 1.0, 16.0),
        param!("prefill_attention", prefill_compute_efficiency, 0.1, 1.0),
        param!(
            "prefill_attention",
            prefill_cta_overhead_tokens,
            0.0,
            4096.0
        ),
        param!("prefill_attention", prefill_floor, 0.0, 50e-6),
        param!("decode_attention", decode_memory_efficiency, 0.1, 1.0),
        param!("decode_attention", decode_floor, 0.0, 50e-6),
        param!("decode_attention", decode_per_request, 0.0, 2e-6),
        param!("elementwise", elementwise_memory_efficiency, 0.1, 1.0),
        param!("elementwise", elementwise_floor, 0.0, 50e-6),
        param!("collective", link_efficiency, 0.05, 1.0),
        param!("collective", collective_floor, 0.0, 50e-6),
    ]
}

/// Tables in fitting order.
pub const TABLES: [&str; 5] = [
    "gemm",
    "prefill_attention",
    "decode_attention",
    "elementwise",
    "collective",
];

/// A measured point turned into the op the roofline times.
#[derive(Debug, Clone)]
enum Probe {
    Gemm(Gemm),
    Prefill(AttentionShape, Vec<PrefillChunk>),
    Decode(AttentionShape, DecodeGroup),
    Elementwise(Elementwise),
    Collective(parallax_ir::CollectiveKind, f64, DeviceGroup),
}

#[derive(Debug, Clone)]
struct Point {
    table: &'static str,
    probe: Probe,
    seconds: f64,
    x: f64,
}

fn shape(heads: u32, kv_heads: u32, head_dim: u32, dtype: DType) -> AttentionShape {
    AttentionShape {
        heads,
        kv_heads,
        qk_head_dim: head_dim,
        v_head_dim: head_dim,
        kv_bytes_per_token: 2.0 * kv_heads as f64 * head_dim as f64 * dtype.bytes(),
        window: None,
        act_dtype: dtype,
        kv_dtype: dtype,
    }
}

fn points(p: &Profile, cluster: &Cluster) -> Vec<Point> {
    let mut out = Vec::new();
    if let Some(t) = &p.gemm {
        for r in &t.rows {
            out.push(Point {
                table: "gemm",
                probe: Probe::Gemm(Gemm {
                    m: r.m,
                    n: r.n,
                    k: r.k,
                    count: 1,
                    weight_dtype: r.dtype,
                    act_dtype: r.dtype,
                }),
                seconds: r.seconds,
                x: r.m as f64,
            });
        }
    }
    if let Some(t) = &p.prefill_attention {
        for r in &t.rows {
            let chunk = PrefillChunk {
                new_tokens: r.new_tokens,
                prefix: r.prefix,
            };
            out.push(Point {
                table: "prefill_attention",
                probe: Probe::Prefill(
                    shape(r.heads, r.kv_heads, r.head_dim, r.dtype),
                    vec![chunk; r.batch as usize],
                ),
                seconds: r.seconds,
                x: r.batch as f64 * r.new_tokens as f64,
            });
        }
    }
    if let Some(t) = &p.decode_attention {
        for r in &t.rows {
            out.push(Point {
                table: "decode_attention",
                probe: Probe::Decode(
                    shape(r.heads, r.kv_heads, r.head_dim, r.dtype),
                    DecodeGroup::uniform(r.batch, r.context),
                ),
                seconds: r.seconds,
                x: r.batch as f64 * r.context as f64,
            });
        }
    }
    if let Some(t) = &p.elementwise {
        // rows below the table's `min_bytes` timed the host: not fitted
        for r in t.rows.iter().filter(|r| !t.below_min_bytes(r.bytes)) {
            out.push(Point {
                table: "elementwise",
                probe: Probe::Elementwise(Elementwise {
                    kind: r.kind,
                    bytes: r.bytes,
                    flops: 0.0,
                }),
                seconds: r.seconds,
                x: r.bytes,
            });
        }
    }
    if let Some(t) = &p.collective {
        for r in &t.rows {
            let group = match r.scope {
                super::Scope::Intra => DeviceGroup {
                    size: r.group_size,
                    per_node: r.group_size,
                    intra: cluster.intra_node,
                    inter: cluster.inter_node,
                },
                super::Scope::Inter => DeviceGroup {
                    size: r.group_size,
                    per_node: (r.group_size / 2).clamp(1, cluster.gpus_per_node.max(1)),
                    intra: cluster.intra_node,
                    inter: cluster.inter_node,
                },
            };
            out.push(Point {
                table: "collective",
                probe: Probe::Collective(r.op, r.bytes, group),
                seconds: r.seconds,
                x: r.bytes,
            });
        }
    }
    out
}

fn predict(m: &RooflineModel, probe: &Probe) -> f64 {
    match probe {
        Probe::Gemm(g) => m.gemm(g),
        Probe::Prefill(s, c) => m.prefill_attention(s, c),
        Probe::Decode(s, d) => m.decode_attention(s, d),
        Probe::Elementwise(e) => m.elementwise(e),
        Probe::Collective(k, b, g) => m.collective(*k, *b, g),
    }
}

fn loss(cluster: &Cluster, params: &RooflineParams, pts: &[&Point]) -> f64 {
    let m = RooflineModel::with_params(&cluster.gpu, params.clone());
    let mut s = 0.0;
    for p in pts {
        let t = predict(&m, &p.probe);
        let e = if t > 0.0 && t.is_finite() {
            (t / p.seconds).ln()
        } else {
            50.0
        };
        s += e.abs();
    }
    s / pts.len().max(1) as f64
}

fn summary(cluster: &Cluster, params: &RooflineParams, pts: &[&Point]) -> Option<ErrorSummary> {
    let m = RooflineModel::with_params(&cluster.gpu, params.clone());
    ErrorSummary::from_pairs(pts.iter().map(|p| (predict(&m, &p.probe), p.seconds)))
}

/// Fits the parameters of one table's points, starting from `params`.
fn fit_table(cluster: &Cluster, params: &mut RooflineParams, table: &str, pts: &[&Point]) {
    if pts.is_empty() {
        return;
    }
    let fps: Vec<FitParam> = fit_params()
        .into_iter()
        .filter(|f| f.table == table)
        .collect();
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let mut best = loss(cluster, params, pts);
    for _ in 0..SWEEPS {
        for fp in &fps {
            let mut trial = params.clone();
            let eval = |v: f64, trial: &mut RooflineParams| {
                (fp.set)(trial, v);
                loss(cluster, trial, pts)
            };
            let (mut a, mut b) = (fp.lo, fp.hi);
            let mut c = b - inv_phi * (b - a);
            let mut d = a + inv_phi * (b - a);
            let mut fc = eval(c, &mut trial);
            let mut fd = eval(d, &mut trial);
            for _ in 0..GOLDEN_STEPS {
                if fc <= fd {
                    b = d;
                    d = c;
                    fd = fc;
                    c = b - inv_phi * (b - a);
                    fc = eval(c, &mut trial);
                } else {
                    a = c;
                    c = d;
                    fc = fd;
                    d = a + inv_phi * (b - a);
                    fd = eval(d, &mut trial);
                }
            }
            let v = if fc <= fd { c } else { d };
            let f = eval(v, &mut trial);
            if f < best {
                best = f;
                (fp.set)(params, v);
            }
        }
    }
}

/// Errors of one table before and after the fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableFit {
    /// The table.
    pub table: &'static str,
    /// Rows compared.
    pub points: usize,
    /// Absolute % errors with the starting parameters.
    pub before: ErrorSummary,
    /// Absolute % errors with the fitted parameters.
    pub after: ErrorSummary,
    /// The fit's loss (mean absolute log error) with the starting parameters.
    pub loss_before: f64,
    /// The fit's loss with the fitted parameters (at most `loss_before`).
    pub loss_after: f64,
}

/// A fitted parameter set and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The fitted parameters (the starting ones for tables the profile lacks).
    pub params: RooflineParams,
    /// Per-table errors before and after, for the tables the profile has.
    pub report: Vec<TableFit>,
    /// The fitted efficiencies (`*_efficiency`) that ended at their upper bound of 1: the
    /// profile's kernels reach (or exceed) the GPU's datasheet peak, so the fit is clamped —
    /// usually a profile measured on another GPU. `(parameter, fitted value)`.
    pub at_peak: Vec<(&'static str, f64)>,
}

/// Fits [`RooflineParams`] to `profile` on `cluster`'s GPU and links, starting from `start`.
///
/// # Arguments
/// * `profile`: the measured tables;
/// * `cluster`: the GPU whose datasheet ceilings the roofline scales, and the links collective
///   rows are timed over (intra-node rows: one node; inter-node rows: two or more);
/// * `start`: the initial parameters (e.g. [`RooflineParams::default`]).
///
/// # Returns
/// The fitted parameters and, per table, the median/mean/max absolute % error before and after.
///
/// # Errors
/// [`ProfileError::Calibration`] when the profile has no rows at all.
///
/// # Complexity
/// O(SWEEPS · P · GOLDEN_STEPS · R) roofline evaluations for P parameters and R rows.
pub fn calibrate(
    profile: &Profile,
    cluster: &Cluster,
    start: &RooflineParams,
) -> Result<Calibration, ProfileError> {
    let all = points(profile, cluster);
    if all.is_empty() {
        return Err(no_rows(profile));
    }
    let mut params = start.clone();
    let mut report = Vec::new();
    let mut at_peak = Vec::new();
    for table in TABLES {
        let pts: Vec<&Point> = all.iter().filter(|p| p.table == table).collect();
        if pts.is_empty() {
            continue;
        }
        let before = summary(cluster, start, &pts);
        let loss_before = loss(cluster, start, &pts);
        fit_table(cluster, &mut params, table, &pts);
        for f in fit_params().iter().filter(|f| f.table == table) {
            let v = f.get(&params);
            if f.name.ends_with("_efficiency") && v >= f.hi - 1e-6 * (f.hi - f.lo) {
                at_peak.push((f.name, v));
            }
        }
        let after = summary(cluster, &params, &pts);
        if let (Some(before), Some(after)) = (before, after) {
            report.push(TableFit {
                table,
                points: pts.len(),
                before,
                after,
                loss_before,
                loss_after: loss(cluster, &params, &pts),
            });
        }
    }
    Ok(Calibration {
        params,
        report,
        at_peak,
    })
}

/// The error of a profile without a row the roofline's parameters fit.
fn no_rows(profile: &Profile) -> ProfileError {
    ProfileError::Calibration {
        message: format!(
            "profile `{}` has no rows to fit: the roofline's parameters are fitted to its {} \
             tables{}",
            profile.name,
            TABLES.join(", "),
            if profile.fused_moe.is_some() {
                " (its fused_moe table is priced from the profile itself by --cost-model, not \
                 fitted)"
            } else {
                ""
            }
        ),
    }
}

/// Leave-out evaluation of the calibrated roofline: the rows of each table are split into
/// `folds` folds by their distinct size key (rows of equal shape, e.g. two runs, stay
/// together; shapes in table order, fold = index mod `folds`); each fold is predicted by
/// parameters fitted on the other folds.
///
/// # Errors
/// [`ProfileError::Calibration`] for `folds < 2` or a profile without rows.
pub fn calibrated_hold_out(
    profile: &Profile,
    cluster: &Cluster,
    start: &RooflineParams,
    folds: usize,
) -> Result<HoldOutReport, ProfileError> {
    if folds < 2 {
        return Err(ProfileError::Calibration {
            message: format!("{folds} folds: expected at least 2"),
        });
    }
    let all = points(profile, cluster);
    if all.is_empty() {
        return Err(no_rows(profile));
    }
    let mut out = Vec::new();
    for table in TABLES {
        let pts: Vec<&Point> = all.iter().filter(|p| p.table == table).collect();
        if pts.len() < 2 {
            continue;
        }
        // Group rows of the same shape (same probe) so runs of one shape share a fold.
        let mut keys: Vec<String> = Vec::new();
        let mut fold_of = Vec::with_capacity(pts.len());
        for p in &pts {
            let key = format!("{:?}", p.probe);
            let idx = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            fold_of.push(idx % folds);
        }
        for f in 0..folds {
            let train: Vec<&Point> = pts
                .iter()
                .zip(&fold_of)
                .filter(|(_, k)| **k != f)
                .map(|(p, _)| *p)
                .collect();
            let test: Vec<&Point> = pts
                .iter()
                .zip(&fold_of)
                .filter(|(_, k)| **k == f)
                .map(|(p, _)| *p)
                .collect();
            if train.is_empty() || test.is_empty() {
                continue;
            }
            let mut params = start.clone();
            fit_table(cluster, &mut params, table, &train);
            let m = RooflineModel::with_params(&cluster.gpu, params);
            for p in test {
                out.push(HeldOutPoint {
                    table,
                    family: f,
                    x: p.x,
                    measured: p.seconds,
                    predicted: predict(&m, &p.probe),
                });
            }
        }
    }
    Ok(HoldOutReport { points: out })
}

/// One measured whole iteration, reduced to what [`fit_overheads`] needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationSample {
    /// Predicted device time of its kernels, seconds.
    pub device: f64,
    /// Lowered ops it issues.
    pub ops: f64,
    /// Whether it replays a CUDA graph.
    pub cuda_graph: bool,
    /// Measured wall time, seconds.
    pub measured: f64,
}

/// Host and iteration overheads fitted to measured iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OverheadFit {
    /// Host time per eagerly issued lowered op, seconds ([`RooflineParams::kernel_launch`]).
    pub host_op: f64,
    /// Fixed device time per iteration, seconds ([`RooflineParams::iteration`]).
    pub iteration: f64,
    /// Blend exponent of eager iterations ([`RooflineParams::host_overlap`]).
    pub host_overlap: f64,
    /// Device time hidden per pair of consecutive kernels of a CUDA-graph replay, seconds
    /// ([`RooflineParams::graph_kernel_overlap`]).
    pub graph_overlap: f64,
    /// Mean absolute log error of the eager samples at the fit.
    pub eager_loss: f64,
}

/// Candidate blend exponents of [`fit_overheads`].
pub const OVERLAP_GRID: [f64; 8] = [1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0, 16.0];

/// Fits the host and iteration overheads to measured whole iterations whose device time is
/// already predicted.
///
/// # Method
/// * `graph_overlap` = the median of `(device − measured) / (ops − 1)` over the CUDA-graph
///   samples of at least two ops (at least 0): the device time each pair of consecutive
///   kernels hides in a replay, against the kernels' isolated (profiled) times.
/// * `iteration` = the median of `measured − graph_wall_time(device, ops, graph_overlap)`
///   over the CUDA-graph samples (at least 0): what a replay adds to its overlapped kernels.
/// * `host_op` and `host_overlap`: a grid search (host per op 5–150 µs in 0.5 µs steps, the
///   exponents of [`OVERLAP_GRID`]) minimising the mean absolute log error of the eager
///   samples' `eager_wall_time(device, ops · host_op, p) + iteration`; ties keep the first.
///   Deterministic.
///
/// # Errors
/// [`ProfileError::Calibration`] without eager samples.
///
/// # Complexity
/// O(291 · 8 · n) for n samples.
pub fn fit_overheads(samples: &[IterationSample]) -> Result<OverheadFit, ProfileError> {
    let graph_overlap = median(
        samples
            .iter()
            .filter(|s| s.cuda_graph && s.ops >= 2.0)
            .map(|s| (s.device - s.measured) / (s.ops - 1.0))
            .collect(),
    )
    .max(0.0);
    let iteration = median(
        samples
            .iter()
            .filter(|s| s.cuda_graph)
            .map(|s| s.measured - crate::cost::graph_wall_time(s.device, s.ops, graph_overlap))
            .collect(),
    )
    .max(0.0);
    let eager: Vec<&IterationSample> = samples.iter().filter(|s| !s.cuda_graph).collect();
    if eager.is_empty() {
        return Err(ProfileError::Calibration {
            message: "no eager iterations to fit the host overheads to".into(),
        });
    }
    let mut best = OverheadFit {
        host_op: 0.0,
        iteration,
        host_overlap: OVERLAP_GRID[0],
        graph_overlap,
        eager_loss: f64::INFINITY,
    };
    for step in 0..=290u32 {
        let c = 5e-6 + f64::from(step) * 0.5e-6;
        for &p in &OVERLAP_GRID {
            let loss = eager
                .iter()
                .map(|s| {
                    let t = crate::cost::eager_wall_time(s.device, s.ops * c, p) + iteration;
                    (t / s.measured).ln().abs()
                })
                .sum::<f64>()
                / eager.len() as f64;
            if loss < best.eager_loss {
                best = OverheadFit {
                    host_op: c,
                    iteration,
                    host_overlap: p,
                    graph_overlap,
                    eager_loss: loss,
                };
            }
        }
    }
    Ok(best)
}

/// The median of `v` (0 when empty; NaNs sort last).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
