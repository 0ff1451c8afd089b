//! The bridge to a cost model written in Python (`cost_model=`): the [`PyOverride`] that calls
//! its methods, the choice of a run's cost model, and the Python exceptions it raised.

use crate::args::{type_name, value_err};
use parallax::hw::DeviceGroup;
use parallax::ir::{AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use parallax::plan::LowerOptions;
use parallax::sim::error::compact;
use parallax::{Cluster, CostModel, CostModelChoice, CostOverride, Overridden};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use std::fmt;
use std::sync::{Arc, Mutex};

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
pub(crate) fn cost_arg(
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
pub(crate) fn check_engine_uses(
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
pub(crate) fn run_cost(
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

pub(crate) fn raise_kept(slot: &Option<PyErrSlot>) -> PyResult<()> {
    if let Some(s) = slot {
        if let Some(e) = s.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
    }
    Ok(())
}
