//! The `Model`, `Cluster` and `Workload` classes (with their pickling), and the conversion of
//! a Python argument (one of them, a `str` or an `os.PathLike`) into the library's type.

use crate::args::{count_obj, real_arg, to_json, type_name, value_err};
use parallax::{Cluster, Model, Workload};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The error of a pickled state that is not a valid `what`.
fn unpickle_err(what: &str, why: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("cannot unpickle a parallax {what}: {why}"))
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
pub(crate) struct PyModel {
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
pub(crate) struct PyCluster {
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
        let state: Cluster = from_pickle(text, "Cluster")?;
        // checked as a cluster built from its groups is (counts, links, kinds)
        let inner = Cluster::from_groups(state.node_groups(), state.inter_node)
            .map_err(|e| unpickle_err("Cluster", e))?;
        if inner != state {
            return Err(unpickle_err("Cluster", "its fields disagree with its node groups"));
        }
        Ok(PyCluster { inner })
    }
}

/// A workload: an embedded name (`chat`, `code`, …), a `synthetic:…` spec or a trace file,
/// optionally cut to its first `requests` requests and rescaled to `rate` req/s.
#[pyclass(frozen, module = "parallax._native", name = "Workload")]
#[derive(Debug, Clone)]
pub(crate) struct PyWorkload {
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
        let state: Workload = from_pickle(text, "Workload")?;
        // checked as a loaded workload is (lengths, arrivals), and already in arrival order
        let mut inner = Workload::new(state.name.clone(), state.requests.clone())
            .map_err(|e| unpickle_err("Workload", e))?;
        if inner.requests != state.requests {
            return Err(unpickle_err("Workload", "its requests are not in arrival order"));
        }
        inner.notes = state.notes;
        Ok(PyWorkload { inner })
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

pub(crate) fn model_arg(obj: &Bound<'_, PyAny>) -> PyResult<Model> {
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

pub(crate) fn cluster_arg(obj: &Bound<'_, PyAny>) -> PyResult<Cluster> {
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

pub(crate) fn workload_arg(
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
