//! Leave-out evaluation of the profiled interpolation: predict measured points that were
//! removed from the table, from the points that remain.
//!
//! Deterministic schemes over each family's distinct sizes (sorted; equal sizes already
//! merged by median). The smallest and largest size of a family are never held out, so every
//! prediction is an interpolation:
//! - [`HoldOut::LeaveOneOut`]: each interior point in turn, predicted from all the others
//!   (k-fold with k = number of interior points);
//! - [`HoldOut::EveryOther`]: the interior points of odd index all at once, predicted from the
//!   even ones plus the ends (2-fold, the harder test: gaps twice as wide).

use super::format::Profile;
use super::interp::Curve;
use super::measured::ErrorSummary;
use super::model::Families;
use super::ProfileError;

/// Which points to leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOut {
    /// One interior point at a time.
    LeaveOneOut,
    /// Every other interior point, at once.
    EveryOther,
}

/// One held-out prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutPoint {
    /// Table (`gemm`, `prefill_attention`, `decode_attention`, `elementwise`, `collective`).
    pub table: &'static str,
    /// Index of the family in the table's sorted family list.
    pub family: usize,
    /// The size variable of the family (m, pairs, KV tokens, bytes).
    pub x: f64,
    /// Measured seconds (median of the rows at `x`).
    pub measured: f64,
    /// Predicted seconds from the remaining points.
    pub predicted: f64,
}

/// Result of a leave-out run.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldOutReport {
    /// Every prediction.
    pub points: Vec<HeldOutPoint>,
}

impl HoldOutReport {
    /// Error summary of the points of `tables` (all tables when empty).
    pub fn summary(&self, tables: &[&str]) -> Option<ErrorSummary> {
        ErrorSummary::from_pairs(
            self.points
                .iter()
                .filter(|p| tables.is_empty() || tables.contains(&p.table))
                .map(|p| (p.predicted, p.measured)),
        )
    }
}

fn curve_holdout(
    table: &'static str,
    family: usize,
    c: &Curve,
    scheme: HoldOut,
    out: &mut Vec<HeldOutPoint>,
) {
    let pts: Vec<(f64, f64)> = c.points().collect();
    let n = pts.len();
    if n < 3 {
        return;
    }
    // Predicts the points `held` from a curve through the others.
    let mut predict = |held: &[usize]| {
        let rest: Vec<(f64, f64)> = pts
            .iter()
            .enumerate()
            .filter(|(j, _)| !held.contains(j))
            .map(|(_, p)| *p)
            .collect();
        if let Some(r) = Curve::new(&rest, c.spec()) {
            for &i in held {
                out.push(HeldOutPoint {
                    table,
                    family,
                    x: pts[i].0,
                    measured: pts[i].1,
                    predicted: r.eval(pts[i].0),
                });
            }
        }
    };
    match scheme {
        HoldOut::LeaveOneOut => {
            for i in 1..n - 1 {
                predict(&[i]);
            }
        }
        HoldOut::EveryOther => {
            let held: Vec<usize> = (1..n - 1).filter(|i| i % 2 == 1).collect();
            predict(&held);
        }
    }
}

/// Runs a leave-out evaluation of the profiled interpolation over every table of `profile`.
///
/// # Errors
/// As [`Profile::validate`].
///
/// Complexity: O(Σ p²) over families of p points.
pub fn profiled_hold_out(
    profile: &Profile,
    scheme: HoldOut,
) -> Result<HoldOutReport, ProfileError> {
    let fam = Families::build(profile)?;
    let mut out = Vec::new();
    for (i, f) in fam.gemm.all().iter().enumerate() {
        curve_holdout("gemm", i, &f.curve, scheme, &mut out);
    }
    for (i, f) in fam.prefill.all().iter().enumerate() {
        curve_holdout("prefill_attention", i, &f.curve, scheme, &mut out);
    }
    for (i, f) in fam.decode.all().iter().enumerate() {
        curve_holdout("decode_attention", i, &f.curve, scheme, &mut out);
    }
    for (i, c) in fam.elementwise.iter().enumerate() {
        if let Some(c) = c {
            curve_holdout("elementwise", i, c, scheme, &mut out);
        }
    }
    for (i, (_, c)) in fam.collective.iter().enumerate() {
        curve_holdout("collective", i, c, scheme, &mut out);
    }
    Ok(HoldOutReport { points: out })
}
