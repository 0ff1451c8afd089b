//! Synthetic workloads: an arrival process and length distributions, drawn from a seeded RNG.

use super::{Request, Workload};
use crate::error::SimError;
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
/// distributions whose draw rounds below 1 are redrawn (never clamped).
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

fn positive(name: &str, field: &str, v: f64, min: f64) -> Result<(), SimError> {
    if v.is_finite() && v >= min {
        Ok(())
    } else {
        Err(SimError::workload(
            name,
            field,
            v,
            &format!("a finite number ≥ {min}"),
        ))
    }
}

/// A sampler prepared from a [`LengthDist`] (Zipf builds its CDF once).
enum Sampler {
    Fixed(u32),
    Uniform(u32, u32),
    Normal(f64, f64),
    LogNormal(f64, f64),
    Zipf(Vec<f64>),
}

impl Sampler {
    fn new(name: &str, field: &str, d: &LengthDist) -> Result<Self, SimError> {
        Ok(match *d {
            LengthDist::Fixed(n) => {
                if n == 0 {
                    return Err(SimError::workload(name, field, 0, "≥ 1"));
                }
                Sampler::Fixed(n)
            }
            LengthDist::Uniform { min, max } => {
                if min == 0 || max < min {
                    return Err(SimError::workload(
                        name,
                        field,
                        format!("uniform {min}..={max}"),
                        "1 ≤ min ≤ max",
                    ));
                }
                Sampler::Uniform(min, max)
            }
            LengthDist::Normal { mean, std } => {
                positive(name, &format!("{field}.mean"), mean, 1.0)?;
                positive(name, &format!("{field}.std"), std, 0.0)?;
                Sampler::Normal(mean, std)
            }
            LengthDist::LogNormal { mean, std } => {
                positive(name, &format!("{field}.mean"), mean, 1.0)?;
                positive(name, &format!("{field}.std"), std, 0.0)?;
                let sigma2 = (1.0 + (std / mean).powi(2)).ln();
                Sampler::LogNormal(mean.ln() - sigma2 / 2.0, sigma2.sqrt())
            }
            LengthDist::Zipf { s, max } => {
                if !(s.is_finite() && s > 0.0) {
                    return Err(SimError::workload(name, &format!("{field}.s"), s, "> 0"));
                }
                if max == 0 || max > 10_000_000 {
                    return Err(SimError::workload(
                        name,
                        &format!("{field}.max"),
                        max,
                        "1..=10000000",
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
        })
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        let cont = |rng: &mut Rng, f: &dyn Fn(&mut Rng) -> f64| -> u32 {
            loop {
                let x = f(rng).round();
                if x >= 1.0 && x <= u32::MAX as f64 {
                    return x as u32;
                }
            }
        };
        match self {
            Sampler::Fixed(n) => *n,
            Sampler::Uniform(a, b) => a + rng.below((b - a) as u64 + 1) as u32,
            Sampler::Normal(m, s) => cont(rng, &|r| m + s * r.standard_normal()),
            Sampler::LogNormal(mu, sigma) => {
                cont(rng, &|r| (mu + sigma * r.standard_normal()).exp())
            }
            Sampler::Zipf(cdf) => {
                let u = rng.next_f64();
                let k = cdf.partition_point(|&c| c <= u);
                (k.min(cdf.len() - 1) + 1) as u32
            }
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
        if self.requests == 0 {
            return Err(SimError::workload(&name, "requests", 0, "≥ 1"));
        }
        let (rate, shape) = match self.arrivals {
            Arrivals::Poisson { rate } => (rate, None),
            Arrivals::Gamma { rate, cv } => {
                positive(&name, "arrivals.cv", cv, f64::MIN_POSITIVE)?;
                (rate, Some(1.0 / (cv * cv)))
            }
        };
        if !(rate.is_finite() && rate > 0.0) {
            return Err(SimError::workload(
                &name,
                "arrivals.rate",
                rate,
                "a finite rate > 0",
            ));
        }
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
        let mut requests = Vec::with_capacity(self.requests);
        for i in 0..self.requests {
            let (p, o) = match &lens {
                L::Ind(a, b) => (a.draw(&mut rng), b.draw(&mut rng)),
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
        }
        Workload::new(name, requests)
    }
}
