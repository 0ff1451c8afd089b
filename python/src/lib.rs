//! `parallax._native`: the Rust half of the `parallax` Python package.
//!
//! Functions take model, cluster and workload objects or their text forms and return JSON
//! text; the pure-Python half (`parallax/__init__.py`) turns it into dicts, result objects and
//! DataFrames. Every Rust error becomes a `ValueError` with the library's message (which names
//! the field, the value and what was expected).

use parallax::hw::gpu::MAX_PRICE_PER_HOUR;
use parallax::hw::{catalog, DeviceGroup, MAX_CLUSTER_GPUS};
use parallax::ir::{
    AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk,
    MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS,
};
use parallax::place::{self, Instance};
use parallax::plan::{batch_from_specs, DisaggPlan, LowerOptions};
use parallax::search::{
    SteadyArrivals, SteadyState, DEFAULT_STEADY_REQUESTS, MAX_STEADY_REQUESTS, MIN_STEADY_REQUESTS,
};
use parallax::sim::error::compact;
use parallax::{
    Cluster, CostModel, CostModelChoice, CostOverride, Limits, Model, Objective, Overridden, Plan,
    SchedulerConfig, SchedulerKind, SchedulerSpace, Search, SearchConstraints, Simulation, Slo,
    Workload,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn value_err(e: impl fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Largest `time_limit_s`, in seconds (1,000,000 s, about 11.6 days): the CLI's
/// `MAX_DURATION_S` (crates/parallax-cli/src/common.rs), the largest duration any of its flags
/// accepts. Defined again here because the bindings do not depend on the CLI crate; keep the
/// two equal.
const MAX_DURATION_S: f64 = 1_000_000.0;
/// Largest `max_plans`: the CLI's `MAX_PLANS` (`search --max-plans`).
const MAX_PLANS: usize = 10_000_000;
/// Most values in `search_max_num_seqs` / `search_chunk_sizes`: the CLI's `MAX_LIST_VALUES`
/// (a comma-separated `--max-num-seqs` or `--chunk` list).
const MAX_LIST_VALUES: usize = 64;
/// Largest `subgraphs`: the CLI's `MAX_SUBGRAPHS` (`place --subgraphs`,
/// crates/parallax-cli/src/place.rs).
const MAX_SUBGRAPHS: usize = 1 << 20;

/// The type name of `obj`, for error messages.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `time_limit_s` as a [`Duration`]: finite, > 0 and at most [`MAX_DURATION_S`] (a larger one
/// would not fit a `Duration`, and the CLI refuses it too).
fn time_limit_arg(time_limit_s: Option<f64>) -> PyResult<Option<Duration>> {
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
fn count_obj(name: &str, obj: &Bound<'_, PyAny>, lo: u64, hi: u64) -> PyResult<u64> {
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
fn real_arg(name: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
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
fn py_flags(e: impl fmt::Display) -> PyErr {
    PyValueError::new_err(
        e.to_string()
            .replace("--prefill/--decode", "prefill/decode")
            .replace("--prefill", "prefill")
            .replace("--decode", "decode"),
    )
}

/// A library error as a `ValueError`; a scheduler setting the simulator refuses
/// (`scheduler.chunk_size`) is named by its keyword (`chunk_size`).
fn lib_err(e: parallax::Error) -> PyErr {
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

fn to_json(v: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(v).map_err(value_err)
}

/// A `T` from the JSON text its `__reduce__` wrote (an unpickled object).
fn from_pickle<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| {
        PyValueError::new_err(format!(
            "cannot unpickle a parallax {what}: its state is not the JSON this version writes ({e})"
        ))
    })
}

/// A model: an embedded short name, a Hugging Face id or the path of a `config.json`.
#[pyclass(frozen, module = "parallax._native", name = "Model")]
#[derive(Debug, Clone)]
struct PyModel {
    inner: Model,
}

impl PyModel {
    fn resolve(spec: &str) -> PyResult<Self> {
        Ok(PyModel {
            inner: parallax::ir::resolve(spec).map_err(value_err)?,
        })
    }
}

#[pymethods]
impl PyModel {
    #[new]
    fn new(spec: &Bound<'_, PyAny>) -> PyResult<Self> {
        let spec = spec_arg(spec, "an embedded model name or the path of a config.json")?;
        Self::resolve(&spec)
    }
    /// The model's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Parameters.
    #[getter]
    fn params(&self) -> u64 {
        self.inner.params_total()
    }
    /// Parameters active per token (MoE: routed experts counted `top_k` times).
    #[getter]
    fn active_params(&self) -> u64 {
        self.inner.params_active()
    }
    /// Multi-token-prediction layers shipped beside the model (`num_nextn_predict_layers`), the
    /// draft of `num_speculative_tokens`; 0 for none.
    #[getter]
    fn mtp_layers(&self) -> u32 {
        self.inner.mtp_layers
    }
    /// The whole IR as JSON text.
    fn to_json(&self) -> PyResult<String> {
        to_json(&self.inner)
    }
    fn __repr__(&self) -> String {
        format!("Model({:?})", self.inner.name)
    }
    /// Pickling: rebuilt from its JSON IR (a model read from a `config.json` does not
    /// need the file again).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let text = to_json(&slf.get().inner)?;
        Ok((slf.get_type().getattr("_from_json")?, (text,)))
    }
    #[staticmethod]
    fn _from_json(text: &str) -> PyResult<Self> {
        Ok(PyModel {
            inner: from_pickle(text, "Model")?,
        })
    }
}

/// A cluster: `NxGxGPU` (e.g. `1x8xH100`) or the path of a cluster TOML file.
#[pyclass(frozen, module = "parallax._native", name = "Cluster")]
#[derive(Debug, Clone)]
struct PyCluster {
    inner: Cluster,
}

impl PyCluster {
    fn parse(spec: &str) -> PyResult<Self> {
        let path = std::path::Path::new(spec);
        if path.is_file() {
            let inner = Cluster::load(spec).map_err(value_err)?;
            return Ok(PyCluster { inner });
        }
        // As the CLI (and the workloads): a spec that looks like a file but is none is a
        // missing file, not a malformed `NxGxGPU`.
        let looks_like_file = spec.to_ascii_lowercase().ends_with(".toml")
            || spec.contains(['/', '\\', std::path::MAIN_SEPARATOR]);
        if looks_like_file {
            let what = if path.is_dir() {
                "is a directory"
            } else if path.exists() {
                "is not a regular file"
            } else {
                "does not exist"
            };
            return Err(PyValueError::new_err(format!(
                "cluster = {spec:?}: expected an existing cluster TOML file: `{spec}` {what} \
                 (or a spec NxGxGPU such as \"1x8xH100\" or \"2x8xH200\")"
            )));
        }
        let inner = spec.parse::<Cluster>().map_err(value_err)?;
        Ok(PyCluster { inner })
    }
}

#[pymethods]
impl PyCluster {
    #[new]
    fn new(spec: &Bound<'_, PyAny>) -> PyResult<Self> {
        let spec = spec_arg(
            spec,
            "a spec such as \"1x8xH100\" or the path of a cluster TOML",
        )?;
        Self::parse(&spec)
    }
    /// `NxGxGPU`.
    #[getter]
    fn spec(&self) -> String {
        self.inner.spec()
    }
    /// The GPU's catalogue name (the first node group's on a heterogeneous cluster: see
    /// `groups`).
    #[getter]
    fn gpu(&self) -> String {
        self.inner.gpu.name.clone()
    }
    /// Nodes (the first node group's on a heterogeneous cluster: see `groups`).
    #[getter]
    fn nodes(&self) -> u32 {
        self.inner.nodes
    }
    /// GPUs per node (the first node group's on a heterogeneous cluster: see `groups`).
    #[getter]
    fn gpus_per_node(&self) -> u32 {
        self.inner.gpus_per_node
    }
    /// The node groups, one per GPU kind, as `(nodes, gpus_per_node, gpu)` tuples: one for
    /// a homogeneous cluster.
    #[getter]
    fn groups(&self) -> Vec<(u32, u32, String)> {
        self.inner
            .node_groups()
            .into_iter()
            .map(|g| (g.nodes, g.gpus_per_node, g.gpu.name))
            .collect()
    }
    #[getter]
    fn total_gpus(&self) -> u32 {
        self.inner.total_gpus()
    }
    fn __repr__(&self) -> String {
        format!("Cluster({:?})", self.inner.spec())
    }
    /// Pickling: rebuilt from its JSON form (links and prices included; a cluster read from
    /// a TOML file does not need the file again).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let text = to_json(&slf.get().inner)?;
        Ok((slf.get_type().getattr("_from_json")?, (text,)))
    }
    #[staticmethod]
    fn _from_json(text: &str) -> PyResult<Self> {
        Ok(PyCluster {
            inner: from_pickle(text, "Cluster")?,
        })
    }
}

/// A workload: an embedded name (`chat`, `code`, …), a `synthetic:…` spec or a trace file,
/// optionally cut to its first `requests` requests and rescaled to `rate` req/s.
#[pyclass(frozen, module = "parallax._native", name = "Workload")]
#[derive(Debug, Clone)]
struct PyWorkload {
    inner: Workload,
}

impl PyWorkload {
    fn load(spec: &str, rate: Option<f64>, requests: Option<usize>) -> PyResult<Self> {
        Ok(PyWorkload {
            inner: parallax::load_workload(spec, rate, requests).map_err(value_err)?,
        })
    }
}

#[pymethods]
impl PyWorkload {
    #[new]
    #[pyo3(signature = (spec, rate=None, requests=None))]
    fn new(
        spec: &Bound<'_, PyAny>,
        rate: Option<&Bound<'_, PyAny>>,
        requests: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let spec = spec_arg(
            spec,
            "an embedded workload name, a `synthetic:…` spec or the path of a trace",
        )?;
        let rate = real_arg("rate", rate)?;
        let requests = match requests.filter(|r| !r.is_none()) {
            Some(r) => Some(count_obj(
                "requests",
                r,
                1,
                parallax::sim::workload::MAX_REQUESTS as u64,
            )? as usize),
            None => None,
        };
        Self::load(&spec, rate, requests)
    }
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Mean arrival rate, req/s (`None` with a single arrival time).
    #[getter]
    fn rate(&self) -> Option<f64> {
        self.inner.mean_rate()
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    /// The requests as JSON text (id, arrival_s, prompt_tokens, output_tokens, …).
    fn requests_json(&self) -> PyResult<String> {
        to_json(&self.inner.requests)
    }
    fn __repr__(&self) -> String {
        format!(
            "Workload({:?}, {} requests)",
            self.inner.name,
            self.inner.len()
        )
    }
    /// Pickling: rebuilt from its JSON form (every request; a trace file is not read again).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let text = to_json(&slf.get().inner)?;
        Ok((slf.get_type().getattr("_from_json")?, (text,)))
    }
    #[staticmethod]
    fn _from_json(text: &str) -> PyResult<Self> {
        Ok(PyWorkload {
            inner: from_pickle(text, "Workload")?,
        })
    }
}

/// A spec given as text or a path: a `str`, or an `os.PathLike` (`pathlib.Path`) as its
/// `os.fspath` text; `None` for anything else.
fn spec_text(obj: &Bound<'_, PyAny>) -> Option<String> {
    if let Ok(s) = obj.extract::<String>() {
        return Some(s);
    }
    let os = obj.py().import("os").ok()?;
    let path_like = os.getattr("PathLike").ok()?;
    if !obj.is_instance(&path_like).unwrap_or(false) {
        return None;
    }
    os.call_method1("fsdecode", (obj,)).ok()?.extract().ok()
}

/// `spec_text` of a constructor's `spec`, else a `TypeError` naming `what` was expected.
fn spec_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    spec_text(obj).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "spec: expected {what} (a str or os.PathLike), got {}",
            type_name(obj)
        ))
    })
}

fn model_arg(obj: &Bound<'_, PyAny>) -> PyResult<Model> {
    if let Ok(m) = obj.downcast::<PyModel>() {
        return Ok(m.get().inner.clone());
    }
    match spec_text(obj) {
        Some(s) => Ok(PyModel::resolve(&s)?.inner),
        None => Err(PyTypeError::new_err(format!(
            "model: expected a parallax.Model, a string or an os.PathLike, got {}",
            obj.get_type().name()?
        ))),
    }
}

fn cluster_arg(obj: &Bound<'_, PyAny>) -> PyResult<Cluster> {
    if let Ok(c) = obj.downcast::<PyCluster>() {
        return Ok(c.get().inner.clone());
    }
    match spec_text(obj) {
        Some(s) => Ok(PyCluster::parse(&s)?.inner),
        None => Err(PyTypeError::new_err(format!(
            "cluster: expected a parallax.Cluster, a string such as \"1x8xH100\" or an \
             os.PathLike, got {}",
            obj.get_type().name()?
        ))),
    }
}

fn workload_arg(
    obj: &Bound<'_, PyAny>,
    rate: Option<f64>,
    requests: Option<usize>,
) -> PyResult<Workload> {
    if let Ok(w) = obj.downcast::<PyWorkload>() {
        let mut w = w.get().inner.clone();
        if let Some(n) = requests {
            w = w.take(n).map_err(value_err)?;
        }
        if let Some(r) = rate {
            w = w.with_rate(r).map_err(value_err)?;
        }
        return Ok(w);
    }
    match spec_text(obj) {
        Some(s) => Ok(PyWorkload::load(&s, rate, requests)?.inner),
        None => Err(PyTypeError::new_err(format!(
            "workload: expected a parallax.Workload, a string such as \"chat\" or an \
             os.PathLike, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// Which [`CostModel`] methods a Python cost model defines, in this order.
const METHODS: [&str; 9] = [
    "gemm",
    "prefill_attention",
    "decode_attention",
    "elementwise",
    "collective",
    "kernel_launch_overhead",
    "iteration_overhead",
    "host_overlap_exponent",
    "graph_kernel_overlap",
];

/// A cost model written in Python: each method it defines is called with a dict describing
/// the op and the base model's answer (`inner`), and returns seconds; every method it does not
/// define is the base model's (through [`Overridden`], so nothing is silently dropped).
///
/// A Python exception (or a value that is not a finite number ≥ 0) is kept and raised when
/// the search or simulation returns; until then the base model's answer stands in.
struct PyOverride {
    obj: Py<PyAny>,
    defined: [bool; 9],
    error: Arc<Mutex<Option<PyErr>>>,
}

impl fmt::Debug for PyOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyOverride")
            .field("defined", &self.defined)
            .finish_non_exhaustive()
    }
}

impl PyOverride {
    fn call(
        &self,
        idx: usize,
        inner: f64,
        op: impl for<'py> FnOnce(Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>>,
    ) -> f64 {
        if !self.defined[idx] {
            return inner;
        }
        let failed = self
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if failed {
            return inner;
        }
        let method = METHODS[idx];
        Python::with_gil(|py| {
            let result = (|| -> PyResult<f64> {
                let obj = self.obj.bind(py);
                let v = match op(py)? {
                    Some(d) => obj.call_method1(method, (d, inner))?,
                    None => obj.call_method1(method, (inner,))?,
                };
                if v.is_instance_of::<PyBool>() {
                    return Err(PyTypeError::new_err(format!(
                        "cost model method {method} returned {}, expected a float (seconds)",
                        v.repr().map(|r| r.to_string()).unwrap_or_default()
                    )));
                }
                let x: f64 = v.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "cost model method {method} returned {}, expected a float (seconds)",
                        v.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
                let (ok, expected) = match method {
                    "host_overlap_exponent" => {
                        (x > 0.0 && !x.is_nan(), "an exponent > 0 (inf allowed)")
                    }
                    // device time each pair of consecutive kernels of a CUDA-graph replay
                    // hides: the range the roofline parameters accept (`RooflineParams`)
                    "graph_kernel_overlap" => (
                        (0.0..=1.0).contains(&x),
                        "a time in [0, 1] seconds (hidden per pair of consecutive kernels of a \
                         CUDA-graph replay)",
                    ),
                    _ => (x.is_finite() && x >= 0.0, "a finite time in seconds >= 0"),
                };
                if !ok {
                    return Err(PyValueError::new_err(format!(
                        "cost model method {method} returned {}, expected {expected}",
                        compact(x)
                    )));
                }
                Ok(x)
            })();
            match result {
                Ok(x) => x,
                Err(e) => {
                    let mut g = self.error.lock().unwrap_or_else(|p| p.into_inner());
                    if g.is_none() {
                        *g = Some(e);
                    }
                    inner
                }
            }
        })
    }
}

fn shape_dict<'py>(py: Python<'py>, s: &AttentionShape) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("heads", s.heads)?;
    d.set_item("kv_heads", s.kv_heads)?;
    d.set_item("qk_head_dim", s.qk_head_dim)?;
    d.set_item("v_head_dim", s.v_head_dim)?;
    d.set_item("kv_bytes_per_token", s.kv_bytes_per_token)?;
    d.set_item("window", s.window)?;
    d.set_item("act_dtype", s.act_dtype.to_string())?;
    d.set_item("kv_dtype", s.kv_dtype.to_string())?;
    Ok(d)
}

impl CostOverride for PyOverride {
    fn gemm(&self, inner: &dyn CostModel, g: &Gemm) -> f64 {
        self.call(0, inner.gemm(g), |py| {
            let d = PyDict::new(py);
            d.set_item("m", g.m)?;
            d.set_item("n", g.n)?;
            d.set_item("k", g.k)?;
            d.set_item("count", g.count)?;
            d.set_item("weight_dtype", g.weight_dtype.to_string())?;
            d.set_item("act_dtype", g.act_dtype.to_string())?;
            Ok(Some(d))
        })
    }
    fn prefill_attention(
        &self,
        inner: &dyn CostModel,
        shape: &AttentionShape,
        chunks: &[PrefillChunk],
    ) -> f64 {
        self.call(1, inner.prefill_attention(shape, chunks), |py| {
            let d = shape_dict(py, shape)?;
            let c: Vec<(u32, u32)> = chunks.iter().map(|c| (c.new_tokens, c.prefix)).collect();
            d.set_item("chunks", c)?;
            Ok(Some(d))
        })
    }
    fn decode_attention(
        &self,
        inner: &dyn CostModel,
        shape: &AttentionShape,
        decode: &DecodeGroup,
    ) -> f64 {
        self.call(2, inner.decode_attention(shape, decode), |py| {
            let d = shape_dict(py, shape)?;
            d.set_item("requests", decode.requests)?;
            d.set_item("context_sum", decode.context_sum)?;
            d.set_item("context_max", decode.context_max)?;
            Ok(Some(d))
        })
    }
    fn elementwise(&self, inner: &dyn CostModel, op: &Elementwise) -> f64 {
        self.call(3, inner.elementwise(op), |py| {
            let d = PyDict::new(py);
            let kind = serde_json::to_value(op.kind).map_err(value_err)?;
            d.set_item("kind", kind.as_str().unwrap_or_default())?;
            d.set_item("bytes", op.bytes)?;
            d.set_item("flops", op.flops)?;
            Ok(Some(d))
        })
    }
    fn collective(
        &self,
        inner: &dyn CostModel,
        kind: CollectiveKind,
        bytes: f64,
        group: &DeviceGroup,
    ) -> f64 {
        self.call(4, inner.collective(kind, bytes, group), |py| {
            let d = PyDict::new(py);
            let k = serde_json::to_value(kind).map_err(value_err)?;
            d.set_item("kind", k.as_str().unwrap_or_default())?;
            d.set_item("bytes", bytes)?;
            d.set_item("group_size", group.size)?;
            d.set_item("per_node", group.per_node)?;
            d.set_item("nodes", group.nodes())?;
            Ok(Some(d))
        })
    }
    fn kernel_launch_overhead(&self, inner: &dyn CostModel) -> f64 {
        self.call(5, inner.kernel_launch_overhead(), |_| Ok(None))
    }
    fn iteration_overhead(&self, inner: &dyn CostModel) -> f64 {
        self.call(6, inner.iteration_overhead(), |_| Ok(None))
    }
    fn host_overlap_exponent(&self, inner: &dyn CostModel) -> f64 {
        self.call(7, inner.host_overlap_exponent(), |_| Ok(None))
    }
    fn graph_kernel_overlap(&self, inner: &dyn CostModel) -> f64 {
        self.call(8, inner.graph_kernel_overlap(), |_| Ok(None))
    }
}

type PyErrSlot = Arc<Mutex<Option<PyErr>>>;

/// The cost model of a run on a heterogeneous cluster: `None` (each GPU kind gets its own
/// automatic model, as the CLI's `--cost-model auto`) for `None` or `"auto"`; anything else
/// prices one GPU kind and is refused.
fn hetero_cost(cluster: &Cluster, obj: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(());
    };
    match obj.extract::<String>() {
        Ok(s) if s.trim().eq_ignore_ascii_case("auto") => Ok(()),
        Ok(s) => Err(hetero_cost_err(cluster, &format!("{s:?}"))),
        Err(_) => Err(hetero_cost_err(cluster, &type_name(obj))),
    }
}

fn hetero_cost_err(cluster: &Cluster, given: &str) -> PyErr {
    PyValueError::new_err(format!(
        "cost_model = {given} on the heterogeneous cluster {}: expected None or \"auto\" \
         (each GPU kind gets its own automatic cost model; a custom or fixed one prices one \
         kind)",
        cluster.spec()
    ))
}

/// The cost model from a `cost_model=` argument: `None` (auto), a choice name (`auto`,
/// `roofline`, `profiled`) or a Python object (see [`PyOverride`]) whose `base` attribute
/// names the model it adjusts (default `auto`) and `name` names it in reports. The object must
/// define at least one of [`METHODS`] or be a `parallax.CostModel` (whose instances without
/// methods pass the base model through); anything else (an int, a list, a dict…) is a
/// `TypeError` rather than silently the base model.
fn cost_arg(
    py: Python<'_>,
    cluster: &Cluster,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Arc<dyn CostModel>, Option<PyErrSlot>)> {
    let choice = |what: &str, s: &str| -> PyResult<Arc<dyn CostModel>> {
        let c: CostModelChoice = s.parse().map_err(|_| {
            PyValueError::new_err(format!(
                "{what} = {s:?}: expected \"auto\", \"roofline\" or \"profiled\"{}",
                if what == "cost_model" {
                    " (or a parallax.CostModel)"
                } else {
                    ""
                }
            ))
        })?;
        parallax::cost_model(cluster, c).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
    };
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok((choice("cost_model", "auto")?, None));
    };
    if let Ok(s) = obj.extract::<String>() {
        return Ok((choice("cost_model", &s)?, None));
    }
    let mut defined = [false; 9];
    for (i, m) in METHODS.iter().enumerate() {
        let Ok(attr) = obj.getattr(*m) else { continue };
        if attr.is_none() {
            continue;
        }
        if !attr.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "cost_model.{m} = {}: expected a method",
                attr.repr().map(|r| r.to_string()).unwrap_or_default()
            )));
        }
        defined[i] = true;
    }
    let is_base_class = py
        .import("parallax")
        .and_then(|m| m.getattr("CostModel"))
        .and_then(|c| obj.is_instance(&c))
        .unwrap_or(false);
    if !is_base_class && !defined.iter().any(|&d| d) {
        return Err(PyTypeError::new_err(format!(
            "cost_model: expected None, a string (\"auto\", \"roofline\" or \"profiled\") or an \
             object defining at least one of the methods {} (e.g. a parallax.CostModel \
             subclass), got {} {}",
            METHODS.join(", "),
            type_name(obj),
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        )));
    }
    let base: String = match obj.getattr("base") {
        Ok(b) if !b.is_none() => b.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "cost_model.base: expected a string (\"auto\", \"roofline\" or \"profiled\"), got {}",
                type_name(&b)
            ))
        })?,
        _ => "auto".into(),
    };
    let inner = choice("cost_model.base", &base)?;
    let name: String = match obj.getattr("name") {
        Ok(n) if !n.is_none() => n.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "cost_model.name: expected a string (the name reports show), got {}",
                type_name(&n)
            ))
        })?,
        _ => format!("python:{}", obj.get_type().name()?),
    };
    if name.trim().is_empty() {
        return Err(PyValueError::new_err(format!(
            "cost_model.name = {name:?}: expected a non-empty string (the name reports show), \
             or None for python:<class name>"
        )));
    }
    let error: PyErrSlot = Arc::new(Mutex::new(None));
    let over = PyOverride {
        obj: obj.clone().unbind(),
        defined,
        error: error.clone(),
    };
    Ok((
        Arc::new(Overridden::new(inner, over).with_name(name)),
        Some(error),
    ))
}

/// A Python cost model's host-side methods that `engine` would not call: its engine model
/// issues ops at its own compiled forward's cost and overlap (`LowerOptions::eager_op_host`,
/// `eager_overlap_exponent`), so a `UserWarning` says so rather than ignoring them silently
/// (a pass-through wrapper defining every method is legitimate).
fn check_engine_uses(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    engine: Option<&parallax::EngineModel>,
) -> PyResult<()> {
    let (Some(obj), Some(e)) = (obj.filter(|o| !o.is_none()), engine) else {
        return Ok(());
    };
    if obj.extract::<String>().is_ok() {
        return Ok(());
    }
    let lower = e.lower_options(&LowerOptions::default());
    for (method, own) in [
        ("kernel_launch_overhead", lower.eager_op_host.is_some()),
        (
            "host_overlap_exponent",
            lower.eager_overlap_exponent.is_some(),
        ),
    ] {
        let defined = obj
            .getattr(method)
            .map(|m| !m.is_none() && m.is_callable())
            .unwrap_or(false);
        if defined && own {
            let text = format!(
                "cost_model.{method} is not called under engine {:?}: its model issues ops at \
                 its own compiled forward's cost; engine=\"none\" or \"vllm-v0\" price host \
                 time with the cost model",
                e.name
            );
            let text = std::ffi::CString::new(text).unwrap_or_default();
            let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
            PyErr::warn(py, category.as_any(), &text, 2)?;
        }
    }
    Ok(())
}

/// A run's cost model (`None`: one per GPU kind) and the error slot of a Python one.
type RunCost = (Option<Arc<dyn CostModel>>, Option<PyErrSlot>);

/// The cost model of a `search` or `simulate` run: `None` on a heterogeneous cluster (one
/// automatic model per GPU kind, [`hetero_cost`]), else [`cost_arg`]'s, with its error slot;
/// a Python model's host methods the engine would not call are warned of.
fn run_cost(
    py: Python<'_>,
    cluster: &Cluster,
    cost_model: Option<&Bound<'_, PyAny>>,
    engine: Option<&parallax::EngineModel>,
) -> PyResult<RunCost> {
    if cluster.is_heterogeneous() {
        hetero_cost(cluster, cost_model)?;
        return Ok((None, None));
    }
    check_engine_uses(py, cost_model, engine)?;
    let (c, k) = cost_arg(py, cluster, cost_model)?;
    Ok((Some(c), k))
}

fn raise_kept(slot: &Option<PyErrSlot>) -> PyResult<()> {
    if let Some(s) = slot {
        if let Some(e) = s.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
    }
    Ok(())
}

fn scheduler_arg(
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
fn engine_arg(
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
fn speculation_arg(
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
fn precision_arg(
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

fn slo_arg(text: Option<&str>, ttft_ms: Option<f64>, tpot_ms: Option<f64>) -> PyResult<Slo> {
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
fn pareto_arg((a, b): &(String, String)) -> PyResult<(Objective, Objective)> {
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
fn list_arg(name: &str, values: Option<Vec<u32>>, max: u32) -> PyResult<Vec<u32>> {
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

/// Search the serving plans; returns the report as JSON text (the CLI's `search --json`).
#[pyfunction]
#[pyo3(signature = (
    model, cluster, workload, *, objective="e2e-mean", slo=None, slo_ttft_ms=None,
    slo_tpot_ms=None, slo_target=None, cost_model=None, max_plans=None, time_limit_s=None,
    max_gpus=None, use_all_gpus=None, max_pp=None, scheduler=None, max_num_seqs=None,
    max_num_batched_tokens=None, chunk_size=None, search_max_num_seqs=None,
    search_chunk_sizes=None, gpu_memory_utilization=None, price_per_gpu_hour=None,
    pareto=None, rate=None, requests=None, engine="vllm", quantization=None, kv_cache_dtype="auto",
    capacity_scheduler_policy=None, num_speculative_tokens=None, speculative_acceptance=None,
    steady_requests=None, arrivals=None, prefix_caching=false
))]
#[allow(clippy::too_many_arguments)]
fn search_json(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    cluster: &Bound<'_, PyAny>,
    workload: &Bound<'_, PyAny>,
    objective: &str,
    slo: Option<&str>,
    slo_ttft_ms: Option<f64>,
    slo_tpot_ms: Option<f64>,
    slo_target: Option<f64>,
    cost_model: Option<&Bound<'_, PyAny>>,
    max_plans: Option<usize>,
    time_limit_s: Option<f64>,
    max_gpus: Option<u32>,
    use_all_gpus: Option<bool>,
    max_pp: Option<u32>,
    scheduler: Option<&str>,
    max_num_seqs: Option<u32>,
    max_num_batched_tokens: Option<u32>,
    chunk_size: Option<u32>,
    search_max_num_seqs: Option<Vec<u32>>,
    search_chunk_sizes: Option<Vec<u32>>,
    gpu_memory_utilization: Option<f64>,
    price_per_gpu_hour: Option<f64>,
    pareto: Option<(String, String)>,
    rate: Option<f64>,
    requests: Option<usize>,
    engine: &str,
    quantization: Option<&str>,
    kv_cache_dtype: &str,
    capacity_scheduler_policy: Option<&str>,
    num_speculative_tokens: Option<u32>,
    speculative_acceptance: Option<Vec<f64>>,
    steady_requests: Option<usize>,
    arrivals: Option<&str>,
    prefix_caching: bool,
) -> PyResult<String> {
    let model = precision_arg(model_arg(model)?, quantization, kv_cache_dtype)?;
    let cluster = cluster_arg(cluster)?;
    let workload = workload_arg(workload, rate, requests)?;
    let objective: Objective = objective.parse().map_err(value_err)?;
    let steady = steady_arg(objective, steady_requests, arrivals)?;
    let engine = speculation_arg(
        engine_arg(engine, &model, &cluster, cluster.gpus_per_node)?,
        &model,
        num_speculative_tokens,
        speculative_acceptance,
    )?;
    let (cost, kept) = run_cost(py, &cluster, cost_model, engine.as_ref())?;
    let time = time_limit_arg(time_limit_s)?;
    // one value or a list to search over, not both (the CLI's one flag does either)
    for (one, one_given, list, list_given) in [
        (
            "max_num_seqs",
            max_num_seqs.is_some(),
            "search_max_num_seqs",
            search_max_num_seqs.as_ref().is_some_and(|l| !l.is_empty()),
        ),
        (
            "chunk_size",
            chunk_size.is_some(),
            "search_chunk_sizes",
            search_chunk_sizes.as_ref().is_some_and(|l| !l.is_empty()),
        ),
    ] {
        if one_given && list_given {
            return Err(PyValueError::new_err(format!(
                "{one} and {list}: give one value ({one}) or the values to search over \
                 ({list}), not both"
            )));
        }
    }
    let pareto = pareto.map(|p| pareto_arg(&p)).transpose()?;
    if let Some(p) = price_per_gpu_hour {
        if !(p.is_finite() && (0.0..=MAX_PRICE_PER_HOUR).contains(&p)) {
            return Err(PyValueError::new_err(format!(
                "price_per_gpu_hour = {}: expected a price per GPU-hour in [0, {}] USD",
                compact(p),
                compact(MAX_PRICE_PER_HOUR)
            )));
        }
    }
    let base = engine.as_ref().map(|e| e.scheduler);
    let scheduler = scheduler_arg(
        base,
        scheduler,
        max_num_seqs,
        max_num_batched_tokens,
        chunk_size,
        capacity_scheduler_policy,
    )?;
    let space = SchedulerSpace {
        max_num_seqs: list_arg(
            "search_max_num_seqs",
            search_max_num_seqs,
            MAX_BATCH_SEQUENCES,
        )?,
        chunk_sizes: list_arg(
            "search_chunk_sizes",
            search_chunk_sizes,
            MAX_SEQUENCE_TOKENS,
        )?,
    };
    if !space.chunk_sizes.is_empty() && !scheduler.kind.chunked() {
        return Err(PyValueError::new_err(format!(
            "search_chunk_sizes = {:?}: chunk sizes apply to the chunked-prefill schedulers \
             (\"sarathi\", \"prefill-first\"); scheduler {:?} does not split prompts",
            space.chunk_sizes,
            scheduler.kind.name()
        )));
    }
    let mut s = Search::new(model, cluster, workload);
    if let Some(e) = engine {
        s = s.engine(e);
    }
    if let Some(c) = cost {
        s = s.cost_model(c);
    }
    let mut s = s
        .objective(objective)
        .slo(slo_arg(slo, slo_ttft_ms, slo_tpot_ms)?)
        .limits(Limits { max_plans, time })
        .constraints(SearchConstraints {
            max_gpus,
            use_all_gpus,
            max_pp,
            ..SearchConstraints::default()
        })
        .scheduler(scheduler)
        .scheduler_space(space);
    if let Some(t) = slo_target {
        s = s.slo_target(t);
    }
    if let Some(st) = steady {
        s = s.steady_state(st);
    }
    if prefix_caching {
        s = s.serving(parallax::search::ServingFeatures {
            prefix_caching: true,
            ..parallax::search::ServingFeatures::default()
        });
    }
    if let Some(u) = gpu_memory_utilization {
        s = s.gpu_memory_utilization(u);
    }
    if let Some(p) = price_per_gpu_hour {
        s = s.price_per_gpu_hour(p);
    }
    if let Some((a, b)) = pareto {
        s = s.pareto(a, b);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let s = s.cancel_on(cancel.clone());
    let report = interruptible(py, &cancel, || s.run())?;
    raise_kept(&kept)?;
    to_json(&report.map_err(lib_err)?)
}

/// The steady-state stream of `throughput` and `goodput` (`None`: the default): at least
/// `steady_requests` requests (`MIN_STEADY_REQUESTS` to `MAX_STEADY_REQUESTS`, as the CLI's
/// `--steady-requests`) with `arrivals` `"poisson"` (default) or `"trace"` (gamma gaps with
/// the workload's own burstiness, steady-state objectives only, as the CLI's `--arrivals`).
fn steady_arg(
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

/// Run `work` on a thread of its own while this thread, the GIL released between checks,
/// watches for Python signals every 100 ms: on one (Ctrl-C's `KeyboardInterrupt`) it sets
/// `cancel`, waits for `work` to see it and stop, and raises the signal's exception. Python
/// delivers signals to the main thread only, so checking them inside the worker threads'
/// callbacks would never see one.
fn interruptible<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    std::thread::scope(|scope| {
        let watcher = std::thread::current();
        // the main thread's usual stack, not a spawned thread's 2 MiB default
        let worker = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(scope, move || {
                let out = work();
                watcher.unpark();
                out
            })
            .map_err(|e| {
                pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "could not start the search thread: {e}"
                ))
            })?;
        loop {
            if worker.is_finished() {
                return Ok(join(worker));
            }
            py.allow_threads(|| std::thread::park_timeout(Duration::from_millis(100)));
            if let Err(e) = py.check_signals() {
                cancel.store(true, Ordering::Relaxed);
                // the worker stops promptly once the flag is set
                py.allow_threads(|| drop(join(worker)));
                return Err(e);
            }
        }
    })
}

/// The worker's result, its panic (if any) raised again here.
fn join<T>(worker: std::thread::ScopedJoinHandle<'_, T>) -> T {
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Simulate one plan; returns `{"plan", "cost_model", "engine", "precision", "memory",
/// "metrics", "requests"}` as JSON text.
#[pyfunction]
#[pyo3(signature = (
    model, cluster, plan, workload, *, cost_model=None, scheduler=None, max_num_seqs=None,
    max_num_batched_tokens=None, chunk_size=None, slo=None, slo_ttft_ms=None, slo_tpot_ms=None,
    router=None, seed=0, gpu_memory_utilization=None, rate=None, requests=None, engine="vllm",
    quantization=None, kv_cache_dtype="auto", capacity_scheduler_policy=None,
    num_speculative_tokens=None, speculative_acceptance=None, time_limit_s=None,
    prefix_caching=false
))]
#[allow(clippy::too_many_arguments)]
fn simulate_json(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    cluster: &Bound<'_, PyAny>,
    plan: &str,
    workload: &Bound<'_, PyAny>,
    cost_model: Option<&Bound<'_, PyAny>>,
    scheduler: Option<&str>,
    max_num_seqs: Option<u32>,
    max_num_batched_tokens: Option<u32>,
    chunk_size: Option<u32>,
    slo: Option<&str>,
    slo_ttft_ms: Option<f64>,
    slo_tpot_ms: Option<f64>,
    router: Option<&str>,
    seed: u64,
    gpu_memory_utilization: Option<f64>,
    rate: Option<f64>,
    requests: Option<usize>,
    engine: &str,
    quantization: Option<&str>,
    kv_cache_dtype: &str,
    capacity_scheduler_policy: Option<&str>,
    num_speculative_tokens: Option<u32>,
    speculative_acceptance: Option<Vec<f64>>,
    time_limit_s: Option<f64>,
    prefix_caching: bool,
) -> PyResult<String> {
    let time = time_limit_arg(time_limit_s)?;
    let model = precision_arg(model_arg(model)?, quantization, kv_cache_dtype)?;
    let cluster = cluster_arg(cluster)?;
    let workload = workload_arg(workload, rate, requests)?;
    // one plan, or a disaggregated `prefill=…;decode=…` deployment (as `simulate --plan`)
    let target = if DisaggPlan::is_disaggregated(plan) {
        Err(plan.parse::<DisaggPlan>().map_err(value_err)?)
    } else {
        Ok(plan.parse::<Plan>().map_err(value_err)?)
    };
    let engine_tp = target.as_ref().map_or(cluster.gpus_per_node, |p| p.tp);
    let engine = speculation_arg(
        engine_arg(engine, &model, &cluster, engine_tp)?,
        &model,
        num_speculative_tokens,
        speculative_acceptance,
    )?;
    let (cost, kept) = run_cost(py, &cluster, cost_model, engine.as_ref())?;
    // on a heterogeneous cluster, the first kind's automatic model (as the CLI names it)
    let cost_name = match &cost {
        Some(c) => c.name().to_string(),
        None => parallax::cost_model(&cluster, parallax::CostModelChoice::Auto)
            .map_err(lib_err)?
            .name()
            .to_string(),
    };
    let base = parallax::SimConfig::default();
    let config = parallax::SimConfig {
        scheduler: scheduler_arg(
            engine.as_ref().map(|e| e.scheduler),
            scheduler,
            max_num_seqs,
            max_num_batched_tokens,
            chunk_size,
            capacity_scheduler_policy,
        )?,
        router: router.unwrap_or("round-robin").parse().map_err(value_err)?,
        seed,
        prefix_caching,
        slo: slo_arg(slo, slo_ttft_ms, slo_tpot_ms)?,
        ..engine.as_ref().map_or(base, |e| e.sim_config(&base))
    };
    let mut sim = match &target {
        Ok(p) => Simulation::new(&model, &cluster, p, &workload),
        Err(d) => Simulation::disaggregated(&model, &cluster, d, &workload),
    };
    if let Some(c) = cost {
        sim = sim.cost_model(c);
    }
    if let Some(e) = &engine {
        sim = sim.engine(e);
    }
    let mut sim = sim.config(config);
    if let Some(u) = gpu_memory_utilization {
        sim = sim.gpu_memory_utilization(u);
    }
    // Ctrl-C stops the run (its flag), and so does `time_limit_s`: a run cut short has no
    // meaningful metrics, so it raises instead of returning them
    let cancel = Arc::new(AtomicBool::new(false));
    let mut deadline = parallax::sim::Deadline::default().cancel_on(cancel.clone());
    if let Some(t) = time {
        deadline =
            parallax::sim::Deadline::at(std::time::Instant::now() + t).cancel_on(cancel.clone());
    }
    let sim = sim.deadline(deadline);
    let report = interruptible(py, &cancel, || sim.run())?;
    // a Python cost model's own exception first: the run went on without it
    raise_kept(&kept)?;
    if let Err(parallax::Error::Simulation(parallax::sim::SimError::DeadlineReached { .. })) =
        &report
    {
        return Err(pyo3::exceptions::PyTimeoutError::new_err(format!(
            "simulate stopped at time_limit_s = {} before the run finished (a run cut short \
             has no meaningful metrics; raise time_limit_s)",
            compact(time_limit_s.unwrap_or(f64::NAN))
        )));
    }
    raise_kept(&kept)?;
    let report = report.map_err(lib_err)?;
    // a disaggregated deployment has a plan per pool and no one-plan memory summary
    let memory = match &target {
        Ok(_) => Some(sim.memory().map_err(lib_err)?),
        Err(_) => None,
    };
    let plan = match &target {
        Ok(p) => p.to_string(),
        Err(d) => d.to_string(),
    };
    to_json(&serde_json::json!({
        "plan": plan,
        "cost_model": cost_name,
        "engine": engine.as_ref().map_or("none".to_string(), |e| e.name.clone()),
        "precision": model.precision.to_string(),
        "memory": memory,
        "metrics": report.metrics,
        "requests": report.requests,
    }))
}

/// Predict one iteration of `model` with tensor parallelism `tp` on one node of `gpu`;
/// returns the prediction as JSON text (the CLI's `predict --json`).
#[pyfunction]
#[pyo3(signature = (
    model, *, gpu="H100", tp=1, prefill=None, decode=None, cuda_graphs=true, cost_model=None,
    engine="vllm", quantization=None, kv_cache_dtype="auto", enable_expert_parallel=false,
    num_speculative_tokens=None, speculative_acceptance=None
))]
#[allow(clippy::too_many_arguments)]
fn predict_json(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    gpu: &str,
    tp: u32,
    prefill: Option<Vec<String>>,
    decode: Option<Vec<String>>,
    cuda_graphs: bool,
    cost_model: Option<&Bound<'_, PyAny>>,
    engine: &str,
    quantization: Option<&str>,
    kv_cache_dtype: &str,
    enable_expert_parallel: bool,
    num_speculative_tokens: Option<u32>,
    speculative_acceptance: Option<Vec<f64>>,
) -> PyResult<String> {
    let model = precision_arg(model_arg(model)?, quantization, kv_cache_dtype)?;
    if tp == 0 {
        return Err(PyValueError::new_err(
            "tp = 0: expected a tensor-parallel degree of at least 1",
        ));
    }
    let g = catalog::gpu(gpu).map_err(value_err)?;
    let cluster = Cluster::new(1, tp, g).map_err(value_err)?;
    let engine = speculation_arg(
        engine_arg(engine, &model, &cluster, tp)?,
        &model,
        num_speculative_tokens,
        speculative_acceptance,
    )?;
    check_engine_uses(py, cost_model, engine.as_ref())?;
    let (cost, kept) = cost_arg(py, &cluster, cost_model)?;
    let batch = batch_from_specs(&prefill.unwrap_or_default(), &decode.unwrap_or_default())
        .map_err(py_flags)?;
    // As the CLI's `predict`: the engine's lowering (CUDA-graph policy, issue costs) and
    // kernels; `cuda_graphs=False` runs the iteration eagerly.
    let (cost, lower) = match &engine {
        Some(e) => (
            e.cost_model(cost, cluster.gpu.memory_bandwidth),
            e.lower_options(&LowerOptions::default()),
        ),
        None => (cost, LowerOptions::default()),
    };
    let lower = LowerOptions {
        cuda_graphs: lower.cuda_graphs && cuda_graphs,
        ..lower
    };
    // vLLM's `--enable-expert-parallel`: the experts split over the `tp` GPUs
    if enable_expert_parallel && !model.has_moe() {
        return Err(PyValueError::new_err(format!(
            "enable_expert_parallel=True: model {} has no MoE layers; expected a \
             mixture-of-experts model",
            model.name
        )));
    }
    let plan = parallax::emit::vllm_plan(1, 1, tp, enable_expert_parallel).map_err(value_err)?;
    let p = py.allow_threads(|| {
        parallax::plan::predict_plan(&model, &cluster, &plan, &batch, cost, &lower)
    });
    raise_kept(&kept)?;
    let mut v = serde_json::to_value(p.map_err(py_flags)?).map_err(value_err)?;
    if let Some(o) = v.as_object_mut() {
        let name = engine
            .as_ref()
            .map_or("none".to_string(), |e| e.name.clone());
        o.insert("engine".into(), name.into());
        o.insert("precision".into(), model.precision.to_string().into());
        if let Some(s) = engine.as_ref().and_then(|e| e.speculation) {
            let step = o
                .get("iteration_ms")
                .and_then(|x| x.as_f64())
                .unwrap_or(f64::NAN);
            o.insert(
                "speculation".into(),
                serde_json::to_value(s.summary(Some(step))).map_err(value_err)?,
            );
        }
    }
    to_json(&v)
}

/// Place an operator graph (paper JSON or Parallax's FORMAT.md, from a file) exactly;
/// returns `{"objective", "value", "status", "placement" | "schedule"}` as JSON text.
#[pyfunction]
#[pyo3(signature = (graph, *, objective="throughput", subgraphs=1, time_limit_s=None))]
fn place_json(
    py: Python<'_>,
    graph: &str,
    objective: &str,
    subgraphs: usize,
    time_limit_s: Option<f64>,
) -> PyResult<String> {
    if !matches!(objective, "throughput" | "latency") {
        return Err(PyValueError::new_err(format!(
            "objective = {objective:?}: expected \"throughput\" or \"latency\""
        )));
    }
    if !(1..=MAX_SUBGRAPHS).contains(&subgraphs) {
        return Err(PyValueError::new_err(format!(
            "subgraphs = {subgraphs}: expected a whole number of subgraphs per accelerator from \
             1 to {MAX_SUBGRAPHS}"
        )));
    }
    // As the CLI's `place --subgraphs`: ignoring it under throughput would hide a missing
    // `objective="latency"`.
    if objective != "latency" && subgraphs != 1 {
        return Err(PyValueError::new_err(format!(
            "subgraphs = {subgraphs}: applies to objective=\"latency\" only (objective is \
             {objective:?})"
        )));
    }
    let time_limit = time_limit_arg(time_limit_s)?;
    let g = place::load_graph(std::path::Path::new(graph)).map_err(value_err)?;
    let inst = Instance::new(&g).map_err(value_err)?;
    // as the CLI's `place`: the solver's default budget (300 s) unless one is given
    let limits = place::Limits {
        time_limit: time_limit.or(place::Limits::default().time_limit),
        ..place::Limits::default()
    };
    let out = match objective {
        "throughput" => {
            let sol = py
                .allow_threads(|| place::solve_contiguous(&inst, &limits))
                .map_err(value_err)?;
            serde_json::json!({
                "objective": "throughput",
                "value": sol.placement.max_load,
                "status": sol.status,
                "placement": sol.placement,
            })
        }
        "latency" => {
            let sol = py
                .allow_threads(|| place::solve_latency(&inst, subgraphs, &limits))
                .map_err(value_err)?;
            serde_json::json!({
                "objective": "latency",
                "value": sol.schedule.latency,
                "status": sol.status,
                "schedule": sol.schedule,
            })
        }
        _ => unreachable!("objective checked above"),
    };
    to_json(&out)
}

/// Names of the embedded models, GPUs and workloads, as JSON text.
#[pyfunction]
fn catalog_json() -> PyResult<String> {
    to_json(&serde_json::json!({
        "models": parallax::ir::embedded().iter().map(|m| m.short_name).collect::<Vec<_>>(),
        "gpus": catalog::names(),
        "workloads": parallax::sim::workload::names(),
    }))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PyCluster>()?;
    m.add_class::<PyWorkload>()?;
    m.add_function(wrap_pyfunction!(search_json, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_json, m)?)?;
    m.add_function(wrap_pyfunction!(predict_json, m)?)?;
    m.add_function(wrap_pyfunction!(place_json, m)?)?;
    m.add_function(wrap_pyfunction!(catalog_json, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The documented limits (the CLI's): the Python wrapper checks arguments against them.
    m.add("MAX_REQUESTS", parallax::sim::workload::MAX_REQUESTS)?;
    m.add("MAX_NUM_SEQS", MAX_BATCH_SEQUENCES)?;
    m.add("MAX_BATCHED_TOKENS", MAX_SEQUENCE_TOKENS)?;
    m.add("MAX_GPUS", MAX_CLUSTER_GPUS)?;
    m.add("MAX_PLANS", MAX_PLANS)?;
    m.add("MAX_STEADY_REQUESTS", MAX_STEADY_REQUESTS)?;
    m.add("MAX_LIST_VALUES", MAX_LIST_VALUES)?;
    m.add("MAX_PRICE_PER_GPU_HOUR", MAX_PRICE_PER_HOUR)?;
    m.add("MAX_DURATION_S", MAX_DURATION_S)?;
    m.add("MAX_DRAFT_TOKENS", parallax::sim::MAX_DRAFT_TOKENS)?;
    m.add("MAX_SUBGRAPHS", MAX_SUBGRAPHS)?;
    Ok(())
}
