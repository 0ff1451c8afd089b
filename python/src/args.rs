//! Conversion of the Python arguments and options (counts, numbers, SLOs, scheduler, engine,
//! precision, search lists) into the library's types, the limits they are checked against, and
//! the library's errors as Python exceptions.

use parallax::search::{
    SteadyArrivals, SteadyState, DEFAULT_STEADY_REQUESTS, MAX_STEADY_REQUESTS, MIN_STEADY_REQUESTS,
};
use parallax::sim::error::compact;
use parallax::{Cluster, Objective, SchedulerConfig, SchedulerKind, Slo};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::fmt;
use std::time::Duration;

pub(crate) fn value_err(e: impl fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Largest `time_limit_s`, in seconds (1,000,000 s, about 11.6 days): the CLI's
/// `MAX_DURATION_S` (crates/parallax-cli/src/common.rs), the largest duration any of its flags
/// accepts. Defined again here because the bindings do not depend on the CLI crate; keep the
/// two equal.
pub(crate) const MAX_DURATION_S: f64 = 1_000_000.0;
/// Largest `max_plans`: the CLI's `MAX_PLANS` (`search --max-plans`).
pub(crate) const MAX_PLANS: usize = 10_000_000;
/// Most values in `search_max_num_seqs` / `search_chunk_sizes`: the CLI's `MAX_LIST_VALUES`
/// (a comma-separated `--max-num-seqs` or `--chunk` list).
pub(crate) const MAX_LIST_VALUES: usize = 64;
/// Largest `subgraphs`: the CLI's `MAX_SUBGRAPHS` (`place --subgraphs`,
/// crates/parallax-cli/src/place.rs).
pub(crate) const MAX_SUBGRAPHS: usize = 1 << 20;

/// The type name of `obj`, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `time_limit_s` as a [`Duration`]: finite, > 0 and at most [`MAX_DURATION_S`] (a larger one
/// would not fit a `Duration`, and the CLI refuses it too).
pub(crate) fn time_limit_arg(time_limit_s: Option<f64>) -> PyResult<Option<Duration>> {
    match time_limit_s {
        None => Ok(None),
        Some(t) if t.is_finite() && t > 0.0 && t <= MAX_DURATION_S => {
            Ok(Some(Duration::from_secs_f64(t)))
        }
        Some(t) => Err(PyValueError::new_err(format!(
            "time_limit_s = {}: expected a number of seconds > 0 and at most {} (about {:.1} days)",
            compact(t),
            compact(MAX_DURATION_S),
            MAX_DURATION_S / 86_400.0
        ))),
    }
}

/// A count given to a native class (which has no Python wrapper to check it): an `int` (not a
/// `bool`) from `lo` to `hi`, else an error naming `name`, the value and the range.
pub(crate) fn count_obj(name: &str, obj: &Bound<'_, PyAny>, lo: u64, hi: u64) -> PyResult<u64> {
    let index = if obj.is_instance_of::<PyBool>() {
        None
    } else {
        obj.call_method0("__index__").ok()
    };
    let Some(v) = index else {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected an int, got {} {}",
            type_name(obj),
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        )));
    };
    if v.lt(lo)? || v.gt(hi)? {
        return Err(PyValueError::new_err(format!(
            "{name} = {v}: expected a whole number from {lo} to {hi}"
        )));
    }
    v.extract()
}

/// An optional real-valued argument: `None`, or a number that is not a `bool` (`True` is an
/// int to Python, but no rate or fraction is written `True`).
pub(crate) fn real_arg(name: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a number, got bool {}",
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        )));
    }
    // an int too large for a float is a bad value, not a bad type
    let is_int = obj.is_instance_of::<pyo3::types::PyInt>();
    obj.extract::<f64>().map(Some).map_err(|_| {
        if is_int {
            PyValueError::new_err(format!(
                "{name}: expected a number within a float's range, got an int of {} digits",
                obj.str().map(|t| t.to_string().len()).unwrap_or(0)
            ))
        } else {
            PyTypeError::new_err(format!(
                "{name}: expected a number, got {} {}",
                type_name(obj),
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        }
    })
}

/// An error of the batch specs, naming the arguments `prefill` / `decode` where the library
/// names the CLI's flags.
pub(crate) fn py_flags(e: impl fmt::Display) -> PyErr {
    PyValueError::new_err(
        e.to_string()
            .replace("--prefill/--decode", "prefill/decode")
            .replace("--prefill", "prefill")
            .replace("--decode", "decode"),
    )
}

/// A library error as a `ValueError`; a scheduler setting the simulator refuses
/// (`scheduler.chunk_size`) is named by its keyword (`chunk_size`).
pub(crate) fn lib_err(e: parallax::Error) -> PyErr {
    if let parallax::Error::Simulation(parallax::sim::SimError::InvalidConfig {
        field,
        value,
        expected,
    }) = &e
    {
        let keyword = field
            .strip_prefix("scheduler.")
            .filter(|k| ["max_num_seqs", "max_num_batched_tokens", "chunk_size"].contains(k));
        if let Some(k) = keyword {
            return PyValueError::new_err(format!("{k} = {value}: expected {expected}"));
        }
    }
    value_err(e)
}

pub(crate) fn to_json(v: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(v).map_err(value_err)
}

pub(crate) fn scheduler_arg(
    base: Option<SchedulerConfig>,
    scheduler: Option<&str>,
    max_num_seqs: Option<u32>,
    max_num_batched_tokens: Option<u32>,
    chunk_size: Option<u32>,
    capacity_scheduler_policy: Option<&str>,
) -> PyResult<SchedulerConfig> {
    let kind = |k: &str| -> PyResult<SchedulerKind> {
        k.parse::<SchedulerKind>().map_err(|_| {
            PyValueError::new_err(format!(
                "scheduler = {k:?}: expected one of \"vllm\" (\"vllm-v0\"), \"sarathi\" \
                 (\"vllm-v1\", \"chunked\"), \"orca\", \"static\", \"prefill-first\" (\"sglang\")"
            ))
        })
    };
    let mut s = match (base, scheduler) {
        (Some(b), None) => b,
        (Some(b), Some(k)) => SchedulerConfig {
            kind: kind(k)?,
            ..b
        },
        (None, k) => SchedulerConfig::new(kind(k.unwrap_or("vllm"))?),
    };
    if let Some(n) = max_num_seqs {
        s.max_num_seqs = n;
    }
    if let Some(n) = max_num_batched_tokens {
        s.max_num_batched_tokens = n;
    }
    if let Some(n) = chunk_size {
        // as the CLI's `--chunk`: a chunk size under a scheduler that never splits prompts
        // would be silently ignored
        if !s.kind.chunked() {
            return Err(PyValueError::new_err(format!(
                "chunk_size = {n}: applies to the chunked-prefill schedulers (\"sarathi\", \
                 \"prefill-first\"); scheduler {:?} does not split prompts",
                s.kind.name()
            )));
        }
        s.chunk_size = Some(n);
    }
    if let Some(p) = capacity_scheduler_policy {
        s.reserve_to_completion = SchedulerConfig::reserves_under_policy(p).ok_or_else(|| {
            PyValueError::new_err(format!(
                "capacity_scheduler_policy: unknown policy `{p}` (expected \"guaranteed-no-evict\" \
                 or \"max-utilization\")"
            ))
        })?;
    }
    Ok(s)
}

/// The serving-engine model named `engine` (`"none"`: no engine model, the bare simulator).
pub(crate) fn engine_arg(
    engine: &str,
    model: &parallax::Model,
    cluster: &Cluster,
    tp: u32,
) -> PyResult<Option<parallax::EngineModel>> {
    if engine.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if engine.parse::<parallax::EngineKind>().is_err() {
        return Err(PyValueError::new_err(format!(
            "engine = {engine:?}: expected \"vllm\", \"vllm-v0\", \"sglang\", \"trtllm\" or \
             \"none\" (no engine model)"
        )));
    }
    parallax::engine_named(engine, model, cluster, tp)
        .map(Some)
        .map_err(value_err)
}

/// `engine` with speculative decoding by `model`'s MTP module when `num_speculative_tokens`
/// is given (the CLI's `--num-speculative-tokens` / `--speculative-acceptance`).
pub(crate) fn speculation_arg(
    engine: Option<parallax::EngineModel>,
    model: &parallax::Model,
    num_speculative_tokens: Option<u32>,
    speculative_acceptance: Option<Vec<f64>>,
) -> PyResult<Option<parallax::EngineModel>> {
    let Some(k) = num_speculative_tokens else {
        if speculative_acceptance.is_some() {
            return Err(PyValueError::new_err(
                "speculative_acceptance needs num_speculative_tokens",
            ));
        }
        return Ok(engine);
    };
    let Some(e) = engine else {
        return Err(PyValueError::new_err(format!(
            "num_speculative_tokens = {k}: speculation is an engine setting; give an engine \
             other than \"none\""
        )));
    };
    let s = parallax::plan::mtp_speculation(model, k, speculative_acceptance.as_deref()).map_err(
        |m| {
            PyValueError::new_err(match &speculative_acceptance {
                // the rates given are what is wrong (their count or a value)
                Some(r) if model.mtp_layers > 0 => {
                    format!("speculative_acceptance = {r:?} (num_speculative_tokens = {k}): {m}")
                }
                None if k > 1 => format!(
                    "num_speculative_tokens = {k}: {m}; give them as speculative_acceptance \
                     (e.g. [0.85, 0.5])"
                ),
                _ => format!("num_speculative_tokens = {k}: {m}"),
            })
        },
    )?;
    Ok(Some(e.with_speculation(s)))
}

/// `model` as deployed with the `quantization` / `kv_cache_dtype` keywords (the CLI's
/// `--quantization` / `--kv-cache-dtype`).
pub(crate) fn precision_arg(
    mut model: parallax::Model,
    quantization: Option<&str>,
    kv_cache_dtype: &str,
) -> PyResult<parallax::Model> {
    let q = match quantization {
        Some(q) => Some(
            q.parse::<parallax::ir::Quantization>()
                .map_err(|e| PyValueError::new_err(format!("quantization: {e}")))?,
        ),
        None => None,
    };
    let kv: parallax::ir::KvCacheDtype = kv_cache_dtype
        .parse()
        .map_err(|e| PyValueError::new_err(format!("kv_cache_dtype: {e}")))?;
    model.precision = model.precision.deployed(q, kv);
    Ok(model)
}

/// The SLO range of the CLI's `--slo-ttft` / `--slo-tpot` durations, ms: 1 µs to 1e6 s.
const SLO_MS: (f64, f64) = (1e-3, 1e9);

pub(crate) fn slo_arg(
    text: Option<&str>,
    ttft_ms: Option<f64>,
    tpot_ms: Option<f64>,
) -> PyResult<Slo> {
    let mut slo: Slo = match text {
        Some(t) => {
            let slo: Slo = t.parse().map_err(value_err)?;
            if slo.ttft_ms.is_none() && slo.tpot_ms.is_none() {
                return Err(PyValueError::new_err(format!(
                    "slo = {t:?}: expected `ttft=TIME`, `tpot=TIME` or both (e.g. \
                     \"ttft=500ms,tpot=50ms\"), or None for no SLO"
                )));
            }
            for (key, v) in [("ttft", slo.ttft_ms), ("tpot", slo.tpot_ms)] {
                if let Some(v) = v.filter(|v| !(SLO_MS.0..=SLO_MS.1).contains(v)) {
                    return Err(PyValueError::new_err(format!(
                        "slo = {t:?}: {key} of {} ms, expected from 1us to 1000000s",
                        compact(v)
                    )));
                }
            }
            slo
        }
        None => Slo::default(),
    };
    for (name, v, slot) in [
        ("slo_ttft_ms", ttft_ms, &mut slo.ttft_ms),
        ("slo_tpot_ms", tpot_ms, &mut slo.tpot_ms),
    ] {
        if let Some(v) = v {
            if !(SLO_MS.0..=SLO_MS.1).contains(&v) {
                return Err(PyValueError::new_err(format!(
                    "{name} = {}: expected milliseconds from 0.001 (1 µs) to 1e9 (1,000,000 s)",
                    compact(v)
                )));
            }
            if slot.is_some() {
                return Err(PyValueError::new_err(format!(
                    "{name} = {v}: the SLO text already sets it; give it once"
                )));
            }
            *slot = Some(v);
        }
    }
    Ok(slo)
}

/// `pareto=(a, b)`: two different objectives (as the CLI's `--pareto a,b`).
pub(crate) fn pareto_arg((a, b): &(String, String)) -> PyResult<(Objective, Objective)> {
    let one = |o: &str| {
        o.parse::<Objective>().map_err(|_| {
            PyValueError::new_err(format!(
                "pareto = ({a:?}, {b:?}): {o:?} is not an objective; expected two objectives, \
                 each one of {}",
                Objective::ALL.map(Objective::name).join(", ")
            ))
        })
    };
    let (x, y) = (one(a)?, one(b)?);
    if x == y {
        return Err(PyValueError::new_err(format!(
            "pareto = ({a:?}, {b:?}): expected two different objectives (a front of one \
             objective with itself is just its ranking), e.g. (\"e2e-mean\", \"energy\")"
        )));
    }
    Ok((x, y))
}

/// A `search_max_num_seqs` / `search_chunk_sizes` list: at most [`MAX_LIST_VALUES`] values,
/// each in `1..=max` (the Python wrapper checks the same first, with the same wording).
pub(crate) fn list_arg(name: &str, values: Option<Vec<u32>>, max: u32) -> PyResult<Vec<u32>> {
    let values = values.unwrap_or_default();
    if values.len() > MAX_LIST_VALUES {
        return Err(PyValueError::new_err(format!(
            "{name}: expected at most {MAX_LIST_VALUES} values, got {}",
            values.len()
        )));
    }
    if let Some((i, v)) = values
        .iter()
        .enumerate()
        .find(|(_, &v)| !(1..=max).contains(&v))
    {
        return Err(PyValueError::new_err(format!(
            "{name}[{i}] = {v}: expected a whole number from 1 to {max}"
        )));
    }
    Ok(values)
}

/// The steady-state stream of `throughput` and `goodput` (`None`: the default): at least
/// `steady_requests` requests (`MIN_STEADY_REQUESTS` to `MAX_STEADY_REQUESTS`, as the CLI's
/// `--steady-requests`) with `arrivals` `"poisson"` (default) or `"trace"` (gamma gaps with
/// the workload's own burstiness, steady-state objectives only, as the CLI's `--arrivals`).
pub(crate) fn steady_arg(
    objective: Objective,
    steady_requests: Option<usize>,
    arrivals: Option<&str>,
) -> PyResult<Option<SteadyState>> {
    if steady_requests.is_none() && arrivals.is_none() {
        return Ok(None);
    }
    let requests = steady_requests.unwrap_or(DEFAULT_STEADY_REQUESTS);
    if !(MIN_STEADY_REQUESTS..=MAX_STEADY_REQUESTS).contains(&requests) {
        return Err(PyValueError::new_err(format!(
            "steady_requests = {requests}: expected {MIN_STEADY_REQUESTS} to \
             {MAX_STEADY_REQUESTS} requests"
        )));
    }
    let arrivals = match arrivals.unwrap_or("poisson") {
        "poisson" => SteadyArrivals::Poisson,
        "trace" if objective.needs_slo() => SteadyArrivals::Trace,
        "trace" => {
            return Err(PyValueError::new_err(format!(
                "arrivals = \"trace\": expected the steady-state objectives (\"throughput\", \
                 \"goodput\"), not objective {:?}",
                objective.name()
            )))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "arrivals = {other:?}: expected \"poisson\" or \"trace\""
            )))
        }
    };
    Ok(Some(SteadyState {
        requests,
        arrivals,
        ..SteadyState::default()
    }))
}
