//! Inter-token latency: the gap between consecutive output tokens of a request, over every
//! token after the first (a recompute after preemption adds the stall it causes).
//!
//! Gaps go into a log-spaced histogram (buckets ≤ 0.1 % wide from 60 ns, grown on demand), so
//! memory stays O(1) in iterations and skip-ahead adds one weighted sample per step (all
//! requests of a repeated decode step share its gap). The count, mean (from a sum in
//! picoseconds) and maximum are exact; percentiles are the centre of the bucket that holds the
//! nearest rank, clamped to the observed minimum and maximum (within 0.05 % of the exact
//! order statistic).

use crate::metrics::Summary;

/// Gaps below this (2^-24 s ≈ 60 ns) share bucket 0.
const FLOOR_S: f64 = 1.0 / (1u64 << 24) as f64;
/// Mantissa bits kept: buckets are 2^-10 ≈ 0.1 % wide.
const BITS: u32 = 10;
const SHIFT: u32 = 52 - BITS;

/// A histogram of gaps in seconds.
#[derive(Debug, Clone)]
pub(crate) struct Gaps {
    counts: Vec<u64>,
    n: u64,
    /// Sum in picoseconds.
    sum_ps: u128,
    min: f64,
    max: f64,
}

impl Default for Gaps {
    fn default() -> Self {
        Gaps {
            counts: Vec::new(),
            n: 0,
            sum_ps: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// Bucket of a gap ≥ 0: the exponent and top mantissa bits of its IEEE-754 form (positive
/// doubles order like their bit patterns), so no logarithm is taken.
#[inline]
fn bucket(gap: f64) -> usize {
    if gap < FLOOR_S {
        0
    } else {
        ((gap.to_bits() - FLOOR_S.to_bits()) >> SHIFT) as usize + 1
    }
}

/// Centre of bucket `i` (0 for bucket 0).
fn centre(i: usize) -> f64 {
    if i == 0 {
        0.0
    } else {
        let lo = f64::from_bits(FLOOR_S.to_bits() + (((i - 1) as u64) << SHIFT));
        let hi = f64::from_bits(FLOOR_S.to_bits() + ((i as u64) << SHIFT));
        0.5 * (lo + hi)
    }
}

impl Gaps {
    /// Add `weight` gaps of `gap` seconds (finite, ≥ 0).
    #[inline]
    pub fn add(&mut self, gap: f64, weight: u64) {
        if !(0.0..f64::INFINITY).contains(&gap) {
            return;
        }
        let i = bucket(gap);
        match self.counts.get_mut(i) {
            Some(c) => *c += weight,
            None => {
                self.counts.resize(i + 1, 0);
                self.counts[i] = weight;
            }
        }
        self.min = self.min.min(gap);
        self.max = self.max.max(gap);
        self.n += weight;
        // Round to the picosecond without a libm call or, below 213 days, a float → u128
        // conversion (a longer gap would saturate u64).
        let ps = gap * 1e12 + 0.5;
        let ps = if ps < u64::MAX as f64 {
            ps as u64 as u128
        } else {
            ps as u128
        };
        // saturating: a cost model's absurd step (refused when the run ends) must not overflow
        self.sum_ps = self
            .sum_ps
            .saturating_add(ps.saturating_mul(weight as u128));
    }

    /// The distribution, each value multiplied by `scale`.
    pub fn summary(&self, scale: f64) -> Summary {
        if self.n == 0 {
            return Summary::default();
        }
        let q = |p: f64| {
            let rank = (p * (self.n - 1) as f64).round() as u64;
            let mut cum = 0u64;
            for (i, &c) in self.counts.iter().enumerate() {
                cum += c;
                if cum > rank {
                    return centre(i).clamp(self.min, self.max) * scale;
                }
            }
            self.max * scale
        };
        Summary {
            count: self.n,
            mean: (self.sum_ps as f64 / self.n as f64) * 1e-12 * scale,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            max: self.max * scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_gaps_are_exact_and_percentiles_are_within_resolution() {
        let mut g = Gaps::default();
        g.add(0.02, 10);
        let s = g.summary(1e3);
        assert_eq!(s.count, 10);
        assert!((s.mean - 20.0).abs() < 1e-9);
        assert_eq!(s.p50, 20.0);
        assert_eq!(s.p99, 20.0);
        let mut g = Gaps::default();
        let mut exact = Vec::new();
        for i in 1..=1000u32 {
            let v = 0.001 * i as f64;
            g.add(v, 1);
            exact.push(v);
        }
        let s = g.summary(1.0);
        let e = Summary::of(&mut exact, 1.0);
        for (a, b) in [(s.p50, e.p50), (s.p90, e.p90), (s.p99, e.p99)] {
            assert!((a - b).abs() / b < 0.002, "{a} vs {b}");
        }
        assert_eq!(s.max, 1.0);
        assert!((s.mean - e.mean).abs() < 1e-9);
    }
}
