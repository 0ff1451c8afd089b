//! What a search optimises: [`Objective`], its direction and how its value is read from a
//! simulation.

use crate::error::{Error, Result};
use parallax_sim::Metrics;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Whether a larger or a smaller objective value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller is better (latencies, energy, cost, GPUs).
    Minimize,
    /// Larger is better (throughput, goodput).
    Maximize,
}

/// What a search ranks plans by.
///
/// | name (CLI / [`FromStr`]) | variant | value | unit | direction |
/// |---|---|---|---|---|
/// | `e2e-mean` | [`Objective::E2eMean`] | mean end-to-end latency | s | minimise |
/// | `e2e-p50` | [`Objective::E2eP50`] | median end-to-end latency | s | minimise |
/// | `e2e-p99` | [`Objective::E2eP99`] | 99th-percentile end-to-end latency | s | minimise |
/// | `ttft-mean` | [`Objective::TtftMean`] | mean time to first token | ms | minimise |
/// | `ttft-p99` | [`Objective::TtftP99`] | p99 time to first token | ms | minimise |
/// | `tpot-mean` | [`Objective::TpotMean`] | mean time per output token | ms | minimise |
/// | `tpot-p99` | [`Objective::TpotP99`] | p99 time per output token | ms | minimise |
/// | `throughput` | [`Objective::Throughput`] | highest sustainable arrival rate under the SLOs | req/s | maximise |
/// | `goodput` | [`Objective::Goodput`] | requests per second completed within every SLO, at steady state | req/s | maximise |
/// | `energy` | [`Objective::Energy`] | GPU energy per output token | J/token | minimise |
/// | `cost` | [`Objective::Cost`] | GPU-hours × price per million output tokens | $/Mtok | minimise |
/// | `min-gpus` | [`Objective::MinGpus`] | GPUs of a plan that meets the SLOs at the given rate | GPUs | minimise |
///
/// *Sustainable* (for `throughput`): driven at the rate tried by a steady-state stream
/// ([`crate::search::SteadyState`]: requests resampled from the workload's lengths, Poisson
/// arrivals by default), every request completes (none rejected, none unfinished),
/// completions keep up with those of a settled system in a measurement window that excludes
/// warm-up and drain,
/// and the SLO attainment of the requests arriving in the window — the fraction that complete
/// within every given SLO — reaches the search's target (default 90 %,
/// [`crate::Search::slo_target`]) with confidence (its Wilson lower bound at z = 3 does). `goodput` is measured in the same window of the same
/// stream at the workload's own rate. `throughput` and `goodput` need at least one SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Objective {
    /// Mean end-to-end latency (s).
    #[default]
    E2eMean,
    /// Median end-to-end latency (s).
    E2eP50,
    /// 99th-percentile end-to-end latency (s).
    E2eP99,
    /// Mean time to first token (ms).
    TtftMean,
    /// 99th-percentile time to first token (ms).
    TtftP99,
    /// Mean time per output token (ms).
    TpotMean,
    /// 99th-percentile time per output token (ms).
    TpotP99,
    /// Highest sustainable arrival rate under the SLOs (req/s) at steady state, found by a
    /// search over the rate of a steady-state stream.
    Throughput,
    /// Requests per second completed within every SLO, at the workload's rate, measured at
    /// steady state (the window of [`crate::search::SteadyWindow`]).
    Goodput,
    /// GPU energy per output token (J).
    Energy,
    /// Cost per million output tokens: GPUs × makespan in hours × price per GPU-hour, divided
    /// by the output tokens in millions.
    Cost,
    /// Fewest GPUs among plans that meet the SLOs at the workload's rate.
    MinGpus,
}

impl Objective {
    /// Every objective, in the order of the table above.
    pub const ALL: [Objective; 12] = [
        Objective::E2eMean,
        Objective::E2eP50,
        Objective::E2eP99,
        Objective::TtftMean,
        Objective::TtftP99,
        Objective::TpotMean,
        Objective::TpotP99,
        Objective::Throughput,
        Objective::Goodput,
        Objective::Energy,
        Objective::Cost,
        Objective::MinGpus,
    ];

    /// The name used by the CLI and JSON (`e2e-mean`, …).
    pub fn name(self) -> &'static str {
        match self {
            Objective::E2eMean => "e2e-mean",
            Objective::E2eP50 => "e2e-p50",
            Objective::E2eP99 => "e2e-p99",
            Objective::TtftMean => "ttft-mean",
            Objective::TtftP99 => "ttft-p99",
            Objective::TpotMean => "tpot-mean",
            Objective::TpotP99 => "tpot-p99",
            Objective::Throughput => "throughput",
            Objective::Goodput => "goodput",
            Objective::Energy => "energy",
            Objective::Cost => "cost",
            Objective::MinGpus => "min-gpus",
        }
    }

    /// The unit of [`Objective::value`].
    pub fn unit(self) -> &'static str {
        match self {
            Objective::E2eMean | Objective::E2eP50 | Objective::E2eP99 => "s",
            Objective::TtftMean | Objective::TtftP99 | Objective::TpotMean | Objective::TpotP99 => {
                "ms"
            }
            Objective::Throughput | Objective::Goodput => "req/s",
            Objective::Energy => "J/token",
            Objective::Cost => "$/Mtok",
            Objective::MinGpus => "GPUs",
        }
    }

    /// Whether larger or smaller is better.
    pub fn direction(self) -> Direction {
        match self {
            Objective::Throughput | Objective::Goodput => Direction::Maximize,
            _ => Direction::Minimize,
        }
    }

    /// True when the objective needs at least one SLO to be defined.
    pub fn needs_slo(self) -> bool {
        matches!(self, Objective::Throughput | Objective::Goodput)
    }

    /// True when the value is found by searching over the arrival rate (several simulations
    /// per plan) rather than read from one simulation.
    pub fn searches_rate(self) -> bool {
        self == Objective::Throughput
    }

    /// The objective's value for one simulation of a plan on `gpus` GPUs priced at
    /// `price_per_gpu_hour`, or `None` for [`Objective::Throughput`] (which needs a rate
    /// search) and for [`Objective::Goodput`] without SLOs.
    ///
    /// Energy and cost per token are `+∞` when no output token completed.
    pub fn value(self, metrics: &Metrics, gpus: u32, price_per_gpu_hour: f64) -> Option<f64> {
        let out = metrics.tokens.output as f64;
        Some(match self {
            Objective::E2eMean => metrics.e2e_s.mean,
            Objective::E2eP50 => metrics.e2e_s.p50,
            Objective::E2eP99 => metrics.e2e_s.p99,
            Objective::TtftMean => metrics.ttft_ms.mean,
            Objective::TtftP99 => metrics.ttft_ms.p99,
            Objective::TpotMean => metrics.tpot_ms.mean,
            Objective::TpotP99 => metrics.tpot_ms.p99,
            Objective::Throughput => return None,
            Objective::Goodput => metrics.slo.goodput_requests_per_s?,
            Objective::Energy => {
                if out > 0.0 {
                    metrics.gpu.energy_j / out
                } else {
                    f64::INFINITY
                }
            }
            Objective::Cost => {
                if out > 0.0 {
                    gpus as f64 * metrics.makespan_s / 3600.0 * price_per_gpu_hour / (out / 1e6)
                } else {
                    f64::INFINITY
                }
            }
            Objective::MinGpus => gpus as f64,
        })
    }

    /// Orient `a` against `b` so that `Less` means "`a` is better", with a total order
    /// ([`f64::total_cmp`]); NaN is worse than every number in either direction.
    pub fn compare(self, a: f64, b: f64) -> std::cmp::Ordering {
        let key = |v: f64| {
            if v.is_nan() {
                f64::INFINITY
            } else if self.direction() == Direction::Maximize {
                -v
            } else {
                v
            }
        };
        key(a).total_cmp(&key(b))
    }

    /// How much better `best` is than `baseline`, as a ratio where `> 1` means better:
    /// `baseline / best` when minimising (a speedup for latencies), `best / baseline` when
    /// maximising. `None` when either value is not a finite positive number.
    pub fn gain(self, best: f64, baseline: f64) -> Option<f64> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !(ok(best) && ok(baseline)) {
            return None;
        }
        Some(match self.direction() {
            Direction::Minimize => baseline / best,
            Direction::Maximize => best / baseline,
        })
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Objective {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FromStr for Objective {
    type Err = Error;

    /// Accepts the names of the table on [`Objective`] (case-insensitive; `_` for `-`), plus
    /// `e2e` (= `e2e-mean`), `ttft`, `tpot` and `latency` (= `e2e-mean`), `energy-per-token`,
    /// `cost-per-mtok`.
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let found = Objective::ALL
            .into_iter()
            .find(|o| o.name() == norm)
            .or(match norm.as_str() {
                "e2e" | "latency" => Some(Objective::E2eMean),
                "ttft" => Some(Objective::TtftMean),
                "tpot" => Some(Objective::TpotMean),
                "energy-per-token" => Some(Objective::Energy),
                "cost-per-mtok" => Some(Objective::Cost),
                _ => None,
            });
        found.ok_or_else(|| Error::Option {
            option: "objective".into(),
            value: s.into(),
            expected: format!("one of {}", Objective::ALL.map(Objective::name).join(", ")),
        })
    }
}
