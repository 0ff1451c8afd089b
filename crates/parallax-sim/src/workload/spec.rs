//! A one-line text form of a synthetic workload, for command lines:
//!
//! ```text
//! synthetic:requests=N,rate=R[,arrivals=poisson|gamma][,cv=C]
//!           (,prompt=DIST,output=DIST | ,resample=WORKLOAD)[,seed=S]
//! DIST := fixed(N) | uniform(MIN,MAX) | normal(MEAN,STD) | lognormal(MEAN,STD) | zipf(S,MAX)
//! ```
//!
//! Prefix identity for prefix caching (see [`super::prefix`]): `,prefix=shared(N)[,share=F]
//! [,prompts=G]` or `,turns=T[,think=S]`.
//!
//! `resample` names an embedded workload ([`super::names`]) whose `(prompt, output)` pairs are
//! drawn with replacement. `arrivals` defaults to `poisson`; `cv` (gamma only) defaults to 1;
//! `seed` to 0. Keys may come in any order, each once.
//!
//! ```
//! use parallax_sim::workload::spec::parse_synthetic;
//! let spec = parse_synthetic("synthetic:requests=100,rate=2,prompt=fixed(128),output=uniform(1,64)")?;
//! let w = spec.generate()?;
//! assert_eq!(w.len(), 100);
//! # Ok::<(), parallax_sim::SimError>(())
//! ```

use super::prefix::PrefixSpec;
use super::synthetic::{Arrivals, LengthDist, Lengths, Sampler, SyntheticSpec, CV_RANGE};
use super::{MAX_RATE, MAX_REQUESTS, MIN_RATE};
use crate::error::{compact, SimError};
use std::collections::BTreeMap;

/// The prefix that marks a synthetic workload spec.
pub const PREFIX: &str = "synthetic:";

const KEYS: [&str; 13] = [
    "requests", "rate", "arrivals", "cv", "prompt", "output", "resample", "seed", "prefix",
    "share", "prompts", "turns", "think",
];

fn err(spec: &str, field: &str, value: &str, expected: &str) -> SimError {
    SimError::workload(spec, field, value, expected)
}

/// Split on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn number<T: std::str::FromStr>(
    spec: &str,
    field: &str,
    v: &str,
    expected: &str,
) -> Result<T, SimError> {
    v.trim()
        .parse::<T>()
        .map_err(|_| err(spec, field, v, expected))
}

fn dist(spec: &str, field: &str, v: &str) -> Result<LengthDist, SimError> {
    const EXPECTED: &str =
        "fixed(N), uniform(MIN,MAX), normal(MEAN,STD), lognormal(MEAN,STD) or zipf(S,MAX)";
    let v = v.trim();
    let (name, args) = v
        .strip_suffix(')')
        .and_then(|x| x.split_once('('))
        .ok_or_else(|| err(spec, field, v, EXPECTED))?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(err(spec, field, v, EXPECTED))
        }
    };
    let f = |i: usize| number::<f64>(spec, field, args[i], EXPECTED);
    let u = |i: usize| number::<u32>(spec, field, args[i], EXPECTED);
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "fixed" => {
            arity(1)?;
            LengthDist::Fixed(u(0)?)
        }
        "uniform" => {
            arity(2)?;
            LengthDist::Uniform {
                min: u(0)?,
                max: u(1)?,
            }
        }
        "normal" => {
            arity(2)?;
            LengthDist::Normal {
                mean: f(0)?,
                std: f(1)?,
            }
        }
        "lognormal" => {
            arity(2)?;
            LengthDist::LogNormal {
                mean: f(0)?,
                std: f(1)?,
            }
        }
        "zipf" => {
            arity(2)?;
            LengthDist::Zipf {
                s: f(0)?,
                max: u(1)?,
            }
        }
        _ => return Err(err(spec, field, v, EXPECTED)),
    })
}

/// Parse a `synthetic:` spec (see the module docs).
///
/// # Errors
/// [`SimError::InvalidWorkload`] naming the spec, the key and the value: an unknown or repeated
/// key, a missing `requests`/`rate`, lengths given both ways or not at all, a malformed number
/// or distribution, an unknown `resample` workload, a value out of its documented range
/// (`requests` ≤ [`MAX_REQUESTS`], `rate` in [[`MIN_RATE`], [`MAX_RATE`]], `cv` in
/// [`CV_RANGE`], lengths ≤ [`super::MAX_REQUEST_TOKENS`]), or a continuous length
/// distribution with less than 1% of its mass in the valid range (it would be redrawn
/// almost forever).
pub fn parse_synthetic(spec: &str) -> Result<SyntheticSpec, SimError> {
    let kv = keyvals(spec)?;
    parse_kv(spec, &kv)
}

/// The `key=value` pairs of a spec, each key known and given once.
fn keyvals(spec: &str) -> Result<BTreeMap<&str, &str>, SimError> {
    let body = spec
        .strip_prefix(PREFIX)
        .ok_or_else(|| err(spec, "prefix", spec, "a spec starting with `synthetic:`"))?;
    let mut kv: BTreeMap<&str, &str> = BTreeMap::new();
    for part in split_top(body)
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| err(spec, part, part, "key=value"))?;
        let k = k.trim();
        if !KEYS.contains(&k) {
            return Err(err(
                spec,
                k,
                v,
                &format!("one of the keys {}", KEYS.join(", ")),
            ));
        }
        if kv.insert(k, v.trim()).is_some() {
            return Err(err(spec, k, v, "each key at most once"));
        }
    }
    Ok(kv)
}

fn parse_kv(spec: &str, kv: &BTreeMap<&str, &str>) -> Result<SyntheticSpec, SimError> {
    let need = |k: &str| {
        kv.get(k).copied().ok_or_else(|| {
            err(
                spec,
                k,
                "(missing)",
                "a value: `synthetic:` specs need `requests=` and `rate=`",
            )
        })
    };
    let req_text = need("requests")?;
    let requests_expected = format!("an integer in 1..={MAX_REQUESTS}");
    let requests: usize = number(spec, "requests", req_text, &requests_expected)?;
    if requests == 0 || requests > MAX_REQUESTS {
        return Err(err(spec, "requests", req_text, &requests_expected));
    }
    let rate_text = need("rate")?;
    let rate_expected = format!(
        "a rate in [{}, {}] req/s",
        compact(MIN_RATE),
        compact(MAX_RATE)
    );
    let rate: f64 = number(spec, "rate", rate_text, &rate_expected)?;
    if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate)) {
        return Err(err(spec, "rate", rate_text, &rate_expected));
    }
    let arrivals = match kv.get("arrivals").copied().unwrap_or("poisson") {
        "poisson" => {
            if let Some(cv) = kv.get("cv") {
                return Err(err(
                    spec,
                    "cv",
                    cv,
                    "no cv with poisson arrivals (use arrivals=gamma)",
                ));
            }
            Arrivals::Poisson { rate }
        }
        "gamma" => Arrivals::Gamma {
            rate,
            cv: match kv.get("cv") {
                Some(text) => {
                    let expected = format!(
                        "a coefficient of variation in [{}, {}]",
                        compact(CV_RANGE.0),
                        compact(CV_RANGE.1)
                    );
                    let cv: f64 = number(spec, "cv", text, &expected)?;
                    if !(cv.is_finite() && (CV_RANGE.0..=CV_RANGE.1).contains(&cv)) {
                        return Err(err(spec, "cv", text, &expected));
                    }
                    cv
                }
                None => 1.0,
            },
        },
        other => return Err(err(spec, "arrivals", other, "poisson or gamma")),
    };
    let lengths = match (kv.get("resample"), kv.get("prompt"), kv.get("output")) {
        (Some(name), None, None) => Lengths::Resample(super::embedded(name)?.lengths()),
        (None, Some(p), Some(o)) => {
            let prompt = dist(spec, "prompt", p)?;
            let output = dist(spec, "output", o)?;
            // Range and mass checks now, so errors quote the spec as written.
            Sampler::new(spec, "prompt", &prompt)?;
            Sampler::new(spec, "output", &output)?;
            Lengths::Independent { prompt, output }
        }
        _ => {
            return Err(err(
                spec,
                "prompt/output/resample",
                "",
                "either both prompt=DIST and output=DIST, or resample=WORKLOAD alone",
            ))
        }
    };
    let seed = match kv.get("seed") {
        Some(s) => number(spec, "seed", s, "an unsigned integer seed")?,
        None => 0,
    };
    Ok(SyntheticSpec {
        requests,
        arrivals,
        lengths,
        seed,
    })
}

/// The prefix keys of a `synthetic:` spec (`prefix=shared(N)`, `share`, `prompts`, `turns`,
/// `think`; see [`super::prefix`]), or `None` when it has none.
///
/// # Errors
/// Both `prefix` and `turns`, `share`/`prompts` without `prefix`, `think` without `turns`, or
/// a malformed value.
pub fn parse_prefix(spec: &str) -> Result<Option<PrefixSpec>, SimError> {
    let kv = keyvals(spec)?;
    let get = |k: &str| kv.get(k).copied();
    let orphan = |k: &str, needs: &str| {
        get(k).map_or(Ok(()), |v| {
            Err(err(spec, k, v, &format!("only together with {needs}")))
        })
    };
    match (get("prefix"), get("turns")) {
        (Some(p), None) => {
            orphan("think", "turns=T")?;
            const EXPECTED: &str = "shared(N) with N ≥ 1 tokens";
            let n = p
                .strip_prefix("shared(")
                .and_then(|x| x.strip_suffix(')'))
                .ok_or_else(|| err(spec, "prefix", p, EXPECTED))?;
            let tokens: u32 = number(spec, "prefix", n, EXPECTED)?;
            let share = match get("share") {
                Some(v) => number(spec, "share", v, "a fraction 0..=1")?,
                None => 1.0,
            };
            let prompts = match get("prompts") {
                Some(v) => number(spec, "prompts", v, "a count ≥ 1")?,
                None => 1,
            };
            Ok(Some(PrefixSpec::Shared {
                tokens,
                share,
                prompts,
            }))
        }
        (None, Some(t)) => {
            orphan("share", "prefix=shared(N)")?;
            orphan("prompts", "prefix=shared(N)")?;
            let turns = number(spec, "turns", t, "a count ≥ 1")?;
            let think_s = match get("think") {
                Some(v) => number(spec, "think", v, "seconds ≥ 0")?,
                None => 5.0,
            };
            Ok(Some(PrefixSpec::Turns { turns, think_s }))
        }
        (Some(p), Some(_)) => Err(err(
            spec,
            "prefix",
            p,
            "either prefix=… or turns=…, not both",
        )),
        (None, None) => {
            orphan("share", "prefix=shared(N)")?;
            orphan("prompts", "prefix=shared(N)")?;
            orphan("think", "turns=T")?;
            Ok(None)
        }
    }
}

/// Generate the workload of a `synthetic:` spec, prefix keys included.
pub fn generate(spec: &str) -> Result<super::Workload, SimError> {
    let s = parse_synthetic(spec)?;
    let w = s.generate()?;
    match parse_prefix(spec)? {
        Some(p) => p.apply(w, s.seed),
        None => Ok(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let s = parse_synthetic(
            "synthetic:requests=10,rate=2,arrivals=gamma,cv=2,prompt=lognormal(500,200),\
             output=zipf(1.1,400),seed=7",
        )
        .unwrap();
        assert_eq!(s.requests, 10);
        assert_eq!(s.seed, 7);
        assert_eq!(s.arrivals, Arrivals::Gamma { rate: 2.0, cv: 2.0 });
        let r = parse_synthetic("synthetic:requests=5,rate=1,resample=chat").unwrap();
        assert!(matches!(r.lengths, Lengths::Resample(ref v) if v.len() == 1024));
        assert_eq!(r.generate().unwrap().len(), 5);
    }

    #[test]
    fn errors_name_the_key_and_value() {
        for (spec, needle) in [
            (
                "synthetic:rate=1,prompt=fixed(1),output=fixed(1)",
                "requests",
            ),
            (
                "synthetic:requests=1,rate=fast,prompt=fixed(1),output=fixed(1)",
                "fast",
            ),
            (
                "synthetic:requests=1,rate=1,prompt=fixed(1)",
                "prompt/output/resample",
            ),
            (
                "synthetic:requests=1,rate=1,prompt=gauss(1,2),output=fixed(1)",
                "gauss(1,2)",
            ),
            (
                "synthetic:requests=1,rate=1,prompt=uniform(1),output=fixed(1)",
                "uniform(1)",
            ),
            ("synthetic:requests=1,rate=1,resample=nope", "nope"),
            ("synthetic:requests=1,rate=1,speed=3,resample=chat", "speed"),
            (
                "synthetic:requests=1,requests=2,rate=1,resample=chat",
                "requests",
            ),
            ("synthetic:requests=1,rate=1,cv=2,resample=chat", "cv"),
        ] {
            let e = parse_synthetic(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn out_of_range_values_fail_at_parse_time_quoting_the_spec() {
        for (spec, needle) in [
            (
                "synthetic:requests=3,rate=-1,prompt=fixed(1),output=fixed(1)",
                "-1",
            ),
            (
                "synthetic:requests=4294967296,rate=1,prompt=fixed(1),output=fixed(1)",
                "4294967296",
            ),
            ("synthetic:requests=0,rate=1,resample=chat", "requests = 0"),
            ("synthetic:requests=3,rate=1e-300,resample=chat", "1e-300"),
            (
                "synthetic:requests=3,rate=1,arrivals=gamma,cv=1e-300,resample=chat",
                "1e-300",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=normal(1,1e19),output=fixed(1)",
                "1e19",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=normal(1e300,1e300),output=fixed(1)",
                "1e300",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=lognormal(1,16777216),output=fixed(1)",
                "1% of its draws",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=fixed(1),output=fixed(4294967295)",
                "4294967295",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=fixed(1),output=uniform(1,4294967295)",
                "uniform(1,4294967295)",
            ),
            (
                "synthetic:requests=3,rate=1,prompt=zipf(1000,5),output=fixed(1)",
                "1000",
            ),
        ] {
            let e = parse_synthetic(spec).unwrap_err().to_string();
            assert!(e.contains(spec), "{spec}: {e}");
            assert!(e.contains(needle), "{spec}: {e}");
            assert!(e.len() < 600, "{spec}: error too long: {e}");
        }
    }

    #[test]
    fn arrivals_past_the_clock_limit_are_an_error() {
        let s = parse_synthetic("synthetic:requests=10000000,rate=1e-6,resample=chat").unwrap();
        let e = s.generate().unwrap_err().to_string();
        assert!(e.contains("arrivals within"), "{e}");
    }
}
