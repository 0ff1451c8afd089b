//! One-dimensional interpolation of measured times against a reference cost, in log space.
//!
//! A curve holds points `(x_i, t_i)` of one shape family and a *reference cost*
//! `r(x) = t0 + c(x)`: a latency floor `t0` (0.8 × the family's smallest time, once its
//! times are made non-decreasing) plus
//! an ideal cost `c(x)` (a roofline: FLOPs over the measured matmul rate, bytes over the
//! measured bandwidth, or for collectives a line through the largest point). What is
//! interpolated is the *efficiency* `e = t / r` as a monotone piecewise-cubic Hermite curve
//! (Fritsch–Carlson / PCHIP) through `(ln x_i, ln e_i)`; the time is `r(x) · e(x)`.
//!
//! Properties relied on by the cost model and its tests:
//! - exact at every table point, once equal sizes are merged by their median and the times
//!   made non-decreasing in size ([`nondecreasing`]);
//! - between two adjacent points the time stays within the two end values (it is clamped to
//!   them), and follows the reference's shape (latency floor, memory-bound, compute-bound)
//!   instead of a straight line in log–log;
//! - monotone between adjacent points: a segment where the efficiency interpolant would make
//!   the time non-monotone (checked at build time at 256 points per segment) uses plain PCHIP
//!   of `ln t` over `ln x` instead, which is monotone by construction;
//! - outside the table the efficiency of the nearest end point is held constant: the time
//!   scales like the reference cost (towards the latency floor below, linearly in FLOPs or
//!   bytes above).
//!
//! The floor factor 0.8 was chosen by leave-one-out over the embedded H100 tables; every
//! factor in 0.5–1.0 gives a median hold-out error under 4% there.

/// Samples per segment used to check that the efficiency interpolant keeps the time monotone.
pub(crate) const MONOTONE_SAMPLES: usize = 256;

/// Grid samples per segment between two table points: [`Curve::eval`] interpolates them
/// linearly (relative difference from the Hermite curve under 1e-3 for segments spanning up
/// to 16× in size), so a lookup is a binary search and one multiply-add.
pub(crate) const GRID_PER_SEGMENT: usize = 32;

/// [`Curve::eval`] finds a size's grid interval by first looking up its bucket: the bits of a
/// positive `f64` above this shift (sign, exponent and the top 3 mantissa bits), which order
/// like the values themselves, so a bucket spans an eighth of an octave and holds a few grid
/// samples. This keeps the dependent loads of a lookup to a handful.
pub(crate) const BUCKET_SHIFT: u32 = 49;

/// The bucket of a size `x > 0` (see [`BUCKET_SHIFT`]).
#[inline]
fn bucket_key(x: f64) -> u64 {
    x.to_bits() >> BUCKET_SHIFT
}

/// Fraction of a family's smallest time (after [`nondecreasing`]) used as its latency floor
/// `t0`.
pub(crate) const FLOOR_FRACTION: f64 = 0.8;

/// The median of `v` (the mean of the two middle values for an even count; sorts `v`).
/// `v` must not be empty.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The non-decreasing sequence nearest to `ts` in absolute deviation (isotonic median
/// regression, by pooling adjacent violators): every run of points that would make the
/// time fall as the size grows becomes one block valued at the median of its points (the
/// mean of the two middle ones for an even count), pooled again with the block before while
/// that one is larger. More work never takes less time, so such a run is measurement noise:
/// a lone outlier (a stall, a clock dip) is outvoted by its neighbours, and points that
/// scatter about a plateau (a memory-bound GEMM from m = 1 to 64) get the plateau's median
/// rather than their smallest value. A non-decreasing input is returned unchanged.
///
/// Complexity: O(n² log n) worst case over n points (each pooling sorts its block; tables
/// hold tens). Allocates.
pub fn nondecreasing(ts: &[f64]) -> Vec<f64> {
    // blocks of consecutive points: (members, value)
    let mut blocks: Vec<(Vec<f64>, f64)> = Vec::new();
    for &t in ts {
        blocks.push((vec![t], t));
        while blocks.len() >= 2 && blocks[blocks.len() - 2].1 > blocks[blocks.len() - 1].1 {
            let (last, _) = blocks.pop().unwrap_or_default();
            if let Some(prev) = blocks.last_mut() {
                // (a block's members only count: their order may change)
                prev.0.extend(last);
                prev.1 = median(&mut prev.0);
            }
        }
    }
    blocks
        .into_iter()
        .flat_map(|(members, value)| std::iter::repeat(value).take(members.len()))
        .collect()
}

/// The ideal-cost part `c(x)` of a curve's reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ideal {
    /// `c(x) = per_x · x`.
    Linear(f64),
    /// GEMM over m: `c(m) = max(2·m·n·k / flops, b·(n·k + m·k + m·n) / bandwidth)`.
    Gemm {
        /// n.
        n: f64,
        /// k.
        k: f64,
        /// Bytes per element.
        b: f64,
        /// Matmul rate, FLOP/s.
        flops: f64,
        /// Bandwidth, bytes/s.
        bw: f64,
    },
    /// A line through the origin and the largest point (set when the curve is built).
    ThroughTop,
}

impl Ideal {
    #[inline]
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Ideal::Linear(c) => c * x,
            Ideal::Gemm { n, k, b, flops, bw } => {
                (2.0 * x * n * k / flops).max(b * (n * k + x * k + x * n) / bw)
            }
            Ideal::ThroughTop => 0.0,
        }
    }
}

/// A curve of time over one size variable.
#[derive(Debug, Clone)]
pub(crate) struct Curve {
    lx: Vec<f64>,
    le: Vec<f64>,
    t: Vec<f64>,
    d: Vec<f64>,
    /// PCHIP slopes of `ln t` itself, for segments where the efficiency curve would make the
    /// time non-monotone.
    lt: Vec<f64>,
    dt: Vec<f64>,
    /// Per segment: use plain log–log PCHIP of `ln t` instead of the efficiency curve.
    plain: Vec<bool>,
    /// Dense samples of [`Curve::eval_exact`] (table points included) and the slopes between.
    grid_x: Vec<f64>,
    grid_t: Vec<f64>,
    grid_s: Vec<f64>,
    /// Where each bucket's grid samples start (see [`BUCKET_SHIFT`]); one entry more than
    /// buckets, the last being the end of the grid.
    bucket: Vec<u32>,
    /// The bucket key of the first grid sample.
    bucket_base: u64,
    /// Efficiency of the first and last points.
    e_lo: f64,
    e_hi: f64,
    t0: f64,
    ideal: Ideal,
    spec: Ideal,
}

impl Curve {
    /// Builds a curve from `(x, t)` pairs with `x > 0`, `t > 0`. Pairs with equal `x` are
    /// merged by the median of their times (the mean of the two middle ones for an even
    /// count), and the merged times made non-decreasing in `x` ([`nondecreasing`]). Returns
    /// `None` when fewer than two distinct `x` remain.
    ///
    /// Complexity: O(n²) worst case (the pooling), O(n log n) for non-decreasing tables.
    pub fn new(points: &[(f64, f64)], ideal: Ideal) -> Option<Curve> {
        let mut pts: Vec<(f64, f64)> = points.to_vec();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut xs = Vec::new();
        let mut ts = Vec::new();
        let mut i = 0;
        while i < pts.len() {
            let mut j = i;
            while j < pts.len() && pts[j].0 == pts[i].0 {
                j += 1;
            }
            let mut group: Vec<f64> = pts[i..j].iter().map(|p| p.1).collect();
            xs.push(pts[i].0);
            ts.push(median(&mut group));
            i = j;
        }
        if xs.len() < 2 {
            return None;
        }
        let ts = nondecreasing(&ts);
        let t0 = FLOOR_FRACTION * ts.iter().copied().fold(f64::INFINITY, f64::min);
        let spec = ideal;
        let ideal = match ideal {
            Ideal::ThroughTop => {
                let n = xs.len() - 1;
                Ideal::Linear((ts[n] - t0).max(0.0) / xs[n])
            }
            other => other,
        };
        let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
        let le: Vec<f64> = xs
            .iter()
            .zip(&ts)
            .map(|(&x, &t)| (t / (t0 + ideal.eval(x))).ln())
            .collect();
        let d = pchip_slopes(&lx, &le);
        let lt: Vec<f64> = ts.iter().map(|t| t.ln()).collect();
        let dt = pchip_slopes(&lx, &lt);
        let mut c = Curve {
            lx,
            le,
            t: ts,
            d,
            lt,
            dt,
            plain: Vec::new(),
            grid_x: Vec::new(),
            grid_t: Vec::new(),
            grid_s: Vec::new(),
            bucket: Vec::new(),
            bucket_base: 0,
            e_lo: 0.0,
            e_hi: 0.0,
            t0,
            ideal,
            spec,
        };
        c.plain = (0..c.lx.len() - 1)
            .map(|i| !c.segment_monotone(i))
            .collect();
        let n = c.lx.len();
        c.e_lo = c.le[0].exp();
        c.e_hi = c.le[n - 1].exp();
        #[allow(clippy::needless_range_loop)]
        for i in 0..n - 1 {
            for j in 0..GRID_PER_SEGMENT {
                let (x, t) = if j == 0 {
                    (xs[i], c.t[i])
                } else {
                    let lx = c.lx[i] + (c.lx[i + 1] - c.lx[i]) * j as f64 / GRID_PER_SEGMENT as f64;
                    let x = lx.exp();
                    (x, c.eval_exact(x))
                };
                c.grid_x.push(x);
                c.grid_t.push(t);
            }
        }
        c.grid_x.push(xs[n - 1]);
        c.grid_t.push(c.t[n - 1]);
        // The interpolant is monotone between non-decreasing points up to rounding: a pooled
        // (flat) run's samples differ in their last bits. Clear that too, so that a larger
        // size never prices lower by even one bit.
        for i in 1..c.grid_t.len() {
            c.grid_t[i] = c.grid_t[i].max(c.grid_t[i - 1]);
        }
        c.grid_s = c
            .grid_x
            .windows(2)
            .zip(c.grid_t.windows(2))
            .map(|(x, t)| (t[1] - t[0]) / (x[1] - x[0]))
            .collect();
        c.bucket_base = bucket_key(xs[0]);
        let buckets = bucket_key(xs[n - 1]) - c.bucket_base + 1;
        c.bucket = (0..=buckets)
            .map(|b| {
                let key = c.bucket_base + b;
                c.grid_x.partition_point(|&v| bucket_key(v) < key) as u32
            })
            .collect();
        Some(c)
    }

    /// Whether the efficiency interpolant is monotone on segment `i` (checked at
    /// [`MONOTONE_SAMPLES`] points evenly spaced in `ln x`).
    fn segment_monotone(&self, i: usize) -> bool {
        let up = self.t[i + 1] >= self.t[i];
        let mut prev = self.t[i];
        for s in 1..=MONOTONE_SAMPLES {
            let lx =
                self.lx[i] + (self.lx[i + 1] - self.lx[i]) * s as f64 / MONOTONE_SAMPLES as f64;
            let t = self.eval_ratio(i, lx);
            if (up && t < prev) || (!up && t > prev) {
                return false;
            }
            prev = t;
        }
        true
    }

    /// The cubic Hermite interpolant on segment `i` of values `y` with slopes `d` (both over
    /// the points' `ln x`), at `lx`.
    #[inline]
    fn hermite(&self, y: &[f64], d: &[f64], i: usize, lx: f64) -> f64 {
        let (x0, x1) = (self.lx[i], self.lx[i + 1]);
        let h = x1 - x0;
        let s = (lx - x0) / h;
        let s2 = s * s;
        let s3 = s2 * s;
        (2.0 * s3 - 3.0 * s2 + 1.0) * y[i]
            + (s3 - 2.0 * s2 + s) * h * d[i]
            + (-2.0 * s3 + 3.0 * s2) * y[i + 1]
            + (s3 - s2) * h * d[i + 1]
    }

    /// Unclamped efficiency interpolant on segment `i`.
    #[inline]
    fn eval_ratio(&self, i: usize, lx: f64) -> f64 {
        self.reference(lx.exp()) * self.hermite(&self.le, &self.d, i, lx).exp()
    }

    /// Number of distinct points.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lx.len()
    }

    /// The distinct points as `(x, t)`.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.lx.iter().zip(&self.t).map(|(x, t)| (x.exp(), *t))
    }

    /// The reference cost `t0 + c(x)` of this curve.
    #[inline]
    pub fn reference(&self, x: f64) -> f64 {
        self.t0 + self.ideal.eval(x)
    }

    /// The ideal part `c(x)` of the reference cost (the reference without the floor).
    #[inline]
    pub fn ideal(&self, x: f64) -> f64 {
        self.ideal.eval(x)
    }

    /// The ideal-cost rule the curve was built with (before `ThroughTop` is resolved).
    pub fn spec(&self) -> Ideal {
        self.spec
    }

    /// The latency floor `t0`.
    #[inline]
    pub fn floor(&self) -> f64 {
        self.t0
    }

    /// Time at size `x > 0`: the precomputed grid (see [`GRID_PER_SEGMENT`]) interpolated
    /// linearly, or outside the table the reference cost times the end point's efficiency.
    /// No transcendental function is evaluated.
    ///
    /// Complexity: O(log n), no allocation.
    #[inline]
    pub fn eval(&self, x: f64) -> f64 {
        let gx = &self.grid_x;
        let last = gx.len() - 1;
        if x <= gx[0] {
            return (self.reference(x) * self.e_lo).min(self.grid_t[0]);
        }
        if x >= gx[last] {
            return (self.reference(x) * self.e_hi).max(self.grid_t[last]);
        }
        // The samples before x's bucket are below x, those after it above: searching the
        // bucket alone finds the same interval as searching the whole grid.
        let b = bucket_key(x).saturating_sub(self.bucket_base) as usize;
        let Some(&[lo, hi]) = self.bucket.get(b..b + 2) else {
            return f64::NAN; // x is NaN
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let j = (lo + gx[lo..hi].partition_point(|&v| v <= x) - 1).min(last - 1);
        self.grid_t[j] + (x - gx[j]) * self.grid_s[j]
    }

    /// Time at size `x > 0` from the Hermite interpolant itself.
    ///
    /// Complexity: O(log n), no allocation.
    pub fn eval_exact(&self, x: f64) -> f64 {
        let n = self.lx.len();
        let lx = x.ln();
        let r = self.reference(x);
        if lx <= self.lx[0] {
            return r * self.le[0].exp();
        }
        if lx >= self.lx[n - 1] {
            return r * self.le[n - 1].exp();
        }
        // The interval [i, i+1] holding lx.
        let i = (self.lx.partition_point(|&v| v <= lx) - 1).min(n - 2);
        let t = if self.plain[i] {
            self.hermite(&self.lt, &self.dt, i, lx).exp()
        } else {
            r * self.hermite(&self.le, &self.d, i, lx).exp()
        };
        let (a, b) = (self.t[i], self.t[i + 1]);
        t.clamp(a.min(b), a.max(b))
    }
}

/// Fritsch–Carlson monotone slopes (the weighted-harmonic-mean form used by SciPy's PCHIP).
fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = (0..n - 1).map(|i| x[i + 1] - x[i]).collect();
    let del: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();
    let mut d = vec![0.0; n];
    if n == 2 {
        d[0] = del[0];
        d[1] = del[0];
        return d;
    }
    for i in 1..n - 1 {
        if del[i - 1] * del[i] <= 0.0 {
            d[i] = 0.0;
        } else {
            let w1 = 2.0 * h[i] + h[i - 1];
            let w2 = h[i] + 2.0 * h[i - 1];
            d[i] = (w1 + w2) / (w1 / del[i - 1] + w2 / del[i]);
        }
    }
    d[0] = end_slope(h[0], h[1], del[0], del[1]);
    d[n - 1] = end_slope(h[n - 2], h[n - 3], del[n - 2], del[n - 3]);
    d
}

/// Shape-preserving three-point end slope.
fn end_slope(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if d.signum() != m0.signum() || m0 == 0.0 {
        0.0
    } else if m0.signum() != m1.signum() && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_at_points_and_bounded_between() {
        let pts = [
            (1.0, 2.9),
            (4.0, 3.0),
            (16.0, 3.0),
            (64.0, 10.0),
            (256.0, 40.0),
        ];
        for ideal in [Ideal::Linear(0.1), Ideal::ThroughTop] {
            let c = Curve::new(&pts, ideal).unwrap();
            for (x, t) in pts {
                assert!((c.eval(x) - t).abs() < 1e-12 * t);
            }
            for w in pts.windows(2) {
                let (lo, hi) = (w[0].1.min(w[1].1), w[0].1.max(w[1].1));
                for s in 1..100 {
                    let x = w[0].0 * (w[1].0 / w[0].0).powf(s as f64 / 100.0);
                    let t = c.eval(x);
                    assert!(t >= lo && t <= hi, "{x} {t}");
                }
            }
        }
    }

    #[test]
    fn times_falling_with_size_are_pooled_at_their_median() {
        // non-decreasing input: unchanged
        assert_eq!(
            nondecreasing(&[1.0, 1.0, 2.0, 5.0]),
            vec![1.0, 1.0, 2.0, 5.0]
        );
        // a lone outlier at the small end is outvoted by its neighbours (an H200 decode
        // family measured 33.5 µs at 512 KV tokens, 12.8 at 2,048 and 13.2 at 4,096)
        assert_eq!(
            nondecreasing(&[33.5, 12.8, 13.2, 25.5]),
            vec![13.2, 13.2, 13.2, 25.5]
        );
        // points scattered about a plateau take its median, not their smallest value
        let p = nondecreasing(&[29.8, 30.7, 29.1, 28.9, 40.0]);
        for (got, want) in p.iter().zip([29.45, 29.45, 29.45, 29.45, 40.0]) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
        // and the curve through such points never falls
        let c = Curve::new(
            &[(1.0, 33.5), (4.0, 12.8), (16.0, 13.2), (64.0, 25.5)],
            Ideal::ThroughTop,
        )
        .unwrap();
        let mut last = 0.0;
        for s in 0..=300 {
            let t = c.eval(2f64.powf(s as f64 / 50.0));
            assert!(t >= last - 1e-12, "{s} {t} {last}");
            last = t;
        }
    }

    #[test]
    fn duplicates_merge_by_median_and_single_point_is_rejected() {
        assert!(Curve::new(&[(2.0, 1.0), (2.0, 3.0)], Ideal::ThroughTop).is_none());
        let c = Curve::new(&[(1.0, 1.0), (1.0, 3.0), (4.0, 8.0)], Ideal::ThroughTop).unwrap();
        assert_eq!(c.len(), 2);
        assert!((c.eval(1.0) - 2.0).abs() < 1e-12);
    }
}
