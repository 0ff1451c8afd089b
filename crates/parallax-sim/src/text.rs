//! [`FromStr`] for the simulator types users write as text.

use crate::error::SimError;
use crate::sim::Slo;
use crate::workload::spec::parse_synthetic;
use crate::workload::synthetic::SyntheticSpec;
use std::str::FromStr;

/// Service-level objectives as `ttft=500ms,tpot=50ms` (either key may be left out; times
/// need a unit: `us`, `ms` or `s`). An empty string is no SLO.
///
/// ```
/// use parallax_sim::Slo;
/// let slo: Slo = "ttft=0.5s,tpot=50ms".parse()?;
/// assert_eq!(slo, Slo { ttft_ms: Some(500.0), tpot_ms: Some(50.0) });
/// assert!("ttft=500".parse::<Slo>().is_err()); // no unit
/// # Ok::<(), parallax_sim::SimError>(())
/// ```
impl FromStr for Slo {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |field: &str, value: &str, expected: &str| {
            SimError::config(&format!("slo `{s}`: {field}"), value, expected)
        };
        let mut slo = Slo::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("part", part, "`ttft=TIME` or `tpot=TIME`"))?;
            let (key, value) = (key.trim(), value.trim());
            let slot = match key.to_ascii_lowercase().as_str() {
                "ttft" => &mut slo.ttft_ms,
                "tpot" => &mut slo.tpot_ms,
                _ => return Err(bad("key", key, "`ttft` or `tpot`")),
            };
            if slot.is_some() {
                return Err(bad(key, value, "each key at most once"));
            }
            *slot = Some(parse_ms(value).ok_or_else(|| {
                bad(
                    key,
                    value,
                    "a finite time > 0 with a unit: `us`, `ms` or `s` (e.g. `500ms`)",
                )
            })?);
        }
        Ok(slo)
    }
}

/// A time with a unit (`us`, `µs`, `ms`, `s`) in milliseconds; `None` when malformed,
/// unitless, not finite or not positive.
fn parse_ms(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, scale) = [("us", 1e-3), ("µs", 1e-3), ("ms", 1.0), ("s", 1e3)]
        .into_iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n.trim(), scale)))?;
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * scale)
}

/// A `synthetic:…` workload spec, as [`parse_synthetic`].
impl FromStr for SyntheticSpec {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_synthetic(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_text() {
        let s: Slo = "tpot=50ms".parse().unwrap();
        assert_eq!(
            s,
            Slo {
                ttft_ms: None,
                tpot_ms: Some(50.0)
            }
        );
        let s: Slo = " TTFT = 250us ".parse().unwrap();
        assert_eq!(s.ttft_ms, Some(0.25));
        assert_eq!("".parse::<Slo>().unwrap(), Slo::default());
        for (text, needle) in [
            ("ttft=500", "= 500:"),
            ("ttft=-1ms", "= -1ms:"),
            ("ttft=1ms,ttft=2ms", "at most once"),
            ("itl=5ms", "= itl:"),
            ("ttft", "= ttft:"),
            ("ttft=nanms", "= nanms:"),
        ] {
            let e = text.parse::<Slo>().unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn synthetic_spec_text() {
        let spec = "synthetic:requests=10,rate=2,prompt=fixed(100),output=fixed(20)";
        let a: SyntheticSpec = spec.parse().unwrap();
        assert_eq!(a, parse_synthetic(spec).unwrap());
        assert!("requests=10".parse::<SyntheticSpec>().is_err());
    }
}
