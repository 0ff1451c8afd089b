//! Synthetic workloads: an arrival process and length distributions, drawn from a seeded RNG.

use super::{Request, Workload};
use super::{MAX_ARRIVAL_S, MAX_RATE, MAX_REQUESTS, MAX_REQUEST_TOKENS, MIN_RATE};
use crate::error::{compact, SimError};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Inter-arrival process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Arrivals {
    /// Poisson arrivals (exponential gaps) at `rate` req/s.
    Poisson {
        /// Mean arrival rate, req/s.
        rate: f64,
    },
    /// Gamma-distributed gaps with mean `1 / rate` and coefficient of variation `cv`
    /// (`cv = 1` is Poisson; `cv > 1` is burstier).
    Gamma {
        /// Mean arrival rate, req/s.
        rate: f64,
        /// Coefficient of variation of the gaps (> 0).
        cv: f64,
    },
}

/// A distribution of token counts. Draws are rounded to the nearest integer; continuous
/// distributions whose draw rounds outside `[1, MAX_REQUEST_TOKENS]` are redrawn (never
/// clamped). Redrawing is bounded: a distribution needs at least 1% of its mass in that range
/// (checked with a fixed-seed pilot), and one length gets at most 10,000 draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LengthDist {
    /// Always `n`.
    Fixed(u32),
    /// Uniform integer in `[min, max]`.
    Uniform {
        /// Smallest value (≥ 1).
        min: u32,
        /// Largest value (≥ min).
        max: u32,
    },
    /// Normal with `mean` and `std`, truncated below 1 by redrawing.
    Normal {
        /// Mean (≥ 1).
        mean: f64,
        /// Standard deviation (≥ 0).
        std: f64,
    },
    /// Log-normal whose own mean and standard deviation are `mean` and `std`.
    LogNormal {
        /// Mean of the length (≥ 1).
        mean: f64,
        /// Standard deviation of the length (≥ 0).
        std: f64,
    },
    /// Zipf on `1..=max`: `P(k) ∝ k^-s`.
    Zipf {
        /// Exponent (> 0).
        s: f64,
        /// Largest value (≥ 1).
        max: u32,
    },
}

/// How request lengths are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Lengths {
    /// Prompt and output drawn independently.
    Independent {
        /// Prompt length distribution.
        prompt: LengthDist,
        /// Output length distribution.
        output: LengthDist,
    },
    /// `(prompt, output)` pairs resampled uniformly with replacement from a trace (see
    /// [`super::parse_lengths`] or [`Workload::lengths`]).
    Resample(Arc<Vec<(u32, u32)>>),
}

/// A synthetic workload specification.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Number of requests.
    pub requests: usize,
    /// Arrival process; the first request arrives at 0.
    pub arrivals: Arrivals,
    /// Length distributions.
    pub lengths: Lengths,
    /// RNG seed.
    pub seed: u64,
}

impl Workload {
    /// `(prompt, output)` pairs of this workload, for [`Lengths::Resample`].
    pub fn lengths(&self) -> Arc<Vec<(u32, u32)>> {
        Arc::new(
            self.requests
                .iter()
                .map(|r| (r.prompt_tokens, r.output_tokens))
                .collect(),
        )
    }
}

fn positive(name: &str, field: &str, v: f64, min: f64, max: f64) -> Result<(), SimError> {
    if v.is_finite() && v >= min && v <= max {
        Ok(())
    } else {
        Err(SimError::workload(
            name,
            field,
            compact(v),
            &format!("a number in [{}, {}]", compact(min), compact(max)),
        ))
    }
}

/// Smallest and largest coefficient of variation of gamma arrivals.
pub const CV_RANGE: (f64, f64) = (1e-3, 1e3);
/// Largest `max` of a Zipf length distribution (its CDF table is built once).
pub const MAX_ZIPF_MAX: u32 = 10_000_000;
/// Largest Zipf exponent.
pub const MAX_ZIPF_S: f64 = 100.0;
/// Draws of a continuous length distribution tried per accepted length before giving up.
/// A distribution passes [`Sampler::new`]'s pilot only if at least 1% of its draws land in
/// `[1, MAX_REQUEST_TOKENS]`, so reaching this cap has probability below `0.99^10000`.
const MAX_DRAWS_PER_LENGTH: u32 = 10_000;
/// Draws of the pilot that estimates a continuous distribution's mass in the valid range.
const PILOT_DRAWS: u32 = 10_000;
/// Accepted pilot draws required (1%).
const PILOT_MIN_ACCEPTED: u32 = 100;

/// A sampler prepared from a [`LengthDist`] (Zipf builds its CDF once).
pub(crate) enum Sampler {
    Fixed(u32),
    Uniform(u32, u32),
    Normal(f64, f64),
    LogNormal(f64, f64),
    Zipf(Vec<f64>),
}

impl Sampler {
    /// Check `d` and prepare it. `name` and `field` label errors (the spec as the user wrote
    /// it and the key, when called from the spec parser).
    pub(crate) fn new(name: &str, field: &str, d: &LengthDist) -> Result<Self, SimError> {
        let max_tokens = MAX_REQUEST_TOKENS as f64;
        let sampler = match *d {
            LengthDist::Fixed(n) => {
                if n == 0 || n > MAX_REQUEST_TOKENS {
                    return Err(SimError::workload(
                        name,
                        field,
                        n,
                        &format!("a length in 1..={MAX_REQUEST_TOKENS}"),
                    ));
                }
                Sampler::Fixed(n)
            }
            LengthDist::Uniform { min, max } => {
                if min == 0 || max < min || max > MAX_REQUEST_TOKENS {
                    return Err(SimError::workload(
                        name,
                        field,
                        format!("uniform({min},{max})"),
                        &format!("1 ≤ MIN ≤ MAX ≤ {MAX_REQUEST_TOKENS}"),
                    ));
                }
                Sampler::Uniform(min, max)
            }
            LengthDist::Normal { mean, std } => {
                positive(name, &format!("{field}.mean"), mean, 1.0, max_tokens)?;
                positive(name, &format!("{field}.std"), std, 0.0, max_tokens)?;
                Sampler::Normal(mean, std)
            }
            LengthDist::LogNormal { mean, std } => {
                positive(name, &format!("{field}.mean"), mean, 1.0, max_tokens)?;
                positive(name, &format!("{field}.std"), std, 0.0, max_tokens)?;
                let sigma2 = (1.0 + (std / mean).powi(2)).ln();
                Sampler::LogNormal(mean.ln() - sigma2 / 2.0, sigma2.sqrt())
            }
            LengthDist::Zipf { s, max } => {
                if !(s.is_finite() && s > 0.0 && s <= MAX_ZIPF_S) {
                    return Err(SimError::workload(
                        name,
                        &format!("{field}.s"),
                        compact(s),
                        &format!("an exponent in (0, {MAX_ZIPF_S}]"),
                    ));
                }
                if max == 0 || max > MAX_ZIPF_MAX {
                    return Err(SimError::workload(
                        name,
                        &format!("{field}.max"),
                        max,
                        &format!("1..={MAX_ZIPF_MAX}"),
                    ));
                }
                let mut cdf = Vec::with_capacity(max as usize);
                let mut acc = 0.0;
                for k in 1..=max {
                    acc += (k as f64).powf(-s);
                    cdf.push(acc);
                }
                for c in &mut cdf {
                    *c /= acc;
                }
                Sampler::Zipf(cdf)
            }
        };
        if matches!(sampler, Sampler::Normal(..) | Sampler::LogNormal(..)) {
            // Rejection sampling needs mass in the valid range: estimate it with a fixed-seed
            // pilot so the answer is deterministic.
            let mut rng = Rng::new(0x5eed_9110_7000_0001);
            let accepted = (0..PILOT_DRAWS)
                .filter(|_| sampler.try_draw(&mut rng).is_some())
                .count() as u32;
            if accepted < PILOT_MIN_ACCEPTED {
                return Err(SimError::workload(
                    name,
                    field,
                    d.to_string(),
                    &format!(
                        "a distribution with at least 1% of its draws in [1, \
                         {MAX_REQUEST_TOKENS}] tokens ({accepted} of {PILOT_DRAWS} pilot draws \
                         were; lengths are redrawn, never clamped): raise the mean or lower \
                         the std"
                    ),
                ));
            }
        }
        Ok(sampler)
    }

    /// One draw, or `None` when a continuous draw rounds outside `[1, MAX_REQUEST_TOKENS]`.
    fn try_draw(&self, rng: &mut Rng) -> Option<u32> {
        let cont = |x: f64| {
            let x = x.round();
            (x >= 1.0 && x <= MAX_REQUEST_TOKENS as f64).then_some(x as u32)
        };
        match self {
            Sampler::Fixed(n) => Some(*n),
            Sampler::Uniform(a, b) => Some(a + rng.below((b - a) as u64 + 1) as u32),
            Sampler::Normal(m, s) => cont(m + s * rng.standard_normal()),
            Sampler::LogNormal(mu, sigma) => cont((mu + sigma * rng.standard_normal()).exp()),
            Sampler::Zipf(cdf) => {
                let u = rng.next_f64();
                let k = cdf.partition_point(|&c| c <= u);
                Some((k.min(cdf.len() - 1) + 1) as u32)
            }
        }
    }

    /// One length, redrawing out-of-range continuous draws at most
    /// [`MAX_DRAWS_PER_LENGTH`] times.
    fn draw(&self, rng: &mut Rng) -> Option<u32> {
        (0..MAX_DRAWS_PER_LENGTH).find_map(|_| self.try_draw(rng))
    }
}

impl std::fmt::Display for LengthDist {
    /// The spec form: `fixed(N)`, `uniform(MIN,MAX)`, `normal(MEAN,STD)`, ...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LengthDist::Fixed(n) => write!(f, "fixed({n})"),
            LengthDist::Uniform { min, max } => write!(f, "uniform({min},{max})"),
            LengthDist::Normal { mean, std } => {
                write!(f, "normal({},{})", compact(mean), compact(std))
            }
            LengthDist::LogNormal { mean, std } => {
                write!(f, "lognormal({},{})", compact(mean), compact(std))
            }
            LengthDist::Zipf { s, max } => write!(f, "zipf({},{max})", compact(s)),
        }
    }
}

impl SyntheticSpec {
    /// A short human-readable name.
    pub fn name(&self) -> String {
        let arr = match self.arrivals {
            Arrivals::Poisson { rate } => format!("poisson({rate})"),
            Arrivals::Gamma { rate, cv } => format!("gamma({rate},cv={cv})"),
        };
        format!("synthetic[n={},{arr},seed={}]", self.requests, self.seed)
    }

    /// Draw the workload.
    ///
    /// # Complexity
    /// O(n) (plus O(max) once for a Zipf table).
    ///
    /// # Examples
    /// ```
    /// use parallax_sim::workload::synthetic::*;
    /// let spec = SyntheticSpec {
    ///     requests: 100,
    ///     arrivals: Arrivals::Poisson { rate: 2.0 },
    ///     lengths: Lengths::Independent {
    ///         prompt: LengthDist::Fixed(128),
    ///         output: LengthDist::Uniform { min: 1, max: 64 },
    ///     },
    ///     seed: 7,
    /// };
    /// let w = spec.generate().unwrap();
    /// assert_eq!(w.len(), 100);
    /// assert_eq!(w, spec.generate().unwrap());
    /// ```
    pub fn generate(&self) -> Result<Workload, SimError> {
        let name = self.name();
        if self.requests == 0 || self.requests > MAX_REQUESTS {
            return Err(SimError::workload(
                &name,
                "requests",
                self.requests,
                &format!("1..={MAX_REQUESTS}"),
            ));
        }
        let (rate, shape) = match self.arrivals {
            Arrivals::Poisson { rate } => (rate, None),
            Arrivals::Gamma { rate, cv } => {
                positive(&name, "arrivals.cv", cv, CV_RANGE.0, CV_RANGE.1)?;
                (rate, Some(1.0 / (cv * cv)))
            }
        };
        positive(&name, "arrivals.rate", rate, MIN_RATE, MAX_RATE)?;
        enum L {
            Ind(Sampler, Sampler),
            Res(Arc<Vec<(u32, u32)>>),
        }
        let lens = match &self.lengths {
            Lengths::Independent { prompt, output } => L::Ind(
                Sampler::new(&name, "lengths.prompt", prompt)?,
                Sampler::new(&name, "lengths.output", output)?,
            ),
            Lengths::Resample(pairs) => {
                if pairs.is_empty() {
                    return Err(SimError::workload(
                        &name,
                        "lengths.resample",
                        0,
                        "a non-empty trace",
                    ));
                }
                if let Some(&(p, o)) = pairs.iter().find(|(p, o)| *p == 0 || *o == 0) {
                    return Err(SimError::workload(
                        &name,
                        "lengths.resample",
                        format!("({p}, {o})"),
                        "lengths ≥ 1",
                    ));
                }
                L::Res(pairs.clone())
            }
        };
        let mut rng = Rng::new(self.seed);
        let mut t = 0.0;
        let mut requests = Vec::with_capacity(self.requests.min(1 << 16));
        for i in 0..self.requests {
            let (p, o) = match &lens {
                L::Ind(a, b) => match (a.draw(&mut rng), b.draw(&mut rng)) {
                    (Some(p), Some(o)) => (p, o),
                    _ => {
                        return Err(SimError::workload(
                            &name,
                            "lengths",
                            format!("request {i}"),
                            &format!(
                                "a length in [1, {MAX_REQUEST_TOKENS}] within \
                                 {MAX_DRAWS_PER_LENGTH} draws"
                            ),
                        ))
                    }
                },
                L::Res(pairs) => pairs[rng.below(pairs.len() as u64) as usize],
            };
            requests.push(Request {
                id: i as u64,
                arrival_s: t,
                prompt_tokens: p,
                output_tokens: o,
                prefix: None,
            });
            t += match shape {
                None => rng.exponential(rate),
                Some(k) => rng.gamma(k) / (k * rate),
            };
            if i + 1 < self.requests && (t.is_nan() || t > MAX_ARRIVAL_S) {
                return Err(SimError::workload(
                    &name,
                    "arrivals",
                    format!("request {} at {} s", i + 1, compact(t)),
                    &format!(
                        "arrivals within {MAX_ARRIVAL_S:e} s: raise the rate or lower requests"
                    ),
                ));
            }
        }
        Workload::new(name, requests)
    }
}
