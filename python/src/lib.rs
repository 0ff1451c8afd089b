//! `parallax._native`: the Rust half of the `parallax` Python package.
//!
//! Functions take model, cluster and workload objects or their text forms and return JSON
//! text; the pure-Python half (`parallax/__init__.py`) turns it into dicts, result objects and
//! DataFrames. Every Rust error becomes a `ValueError` with the library's message (which names
//! the field, the value and what was expected).

mod args;
mod cost;
mod objects;

use args::{
    engine_arg, lib_err, list_arg, pareto_arg, precision_arg, py_flags, scheduler_arg, slo_arg,
    speculation_arg, steady_arg, time_limit_arg, to_json, value_err, MAX_DURATION_S,
    MAX_LIST_VALUES, MAX_PLANS, MAX_SUBGRAPHS,
};
use cost::{check_engine_uses, cost_arg, raise_kept, run_cost};
use objects::{cluster_arg, model_arg, workload_arg, PyCluster, PyModel, PyWorkload};
use parallax::hw::gpu::MAX_PRICE_PER_HOUR;
use parallax::hw::{catalog, MAX_CLUSTER_GPUS};
use parallax::ir::{MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS};
use parallax::place::{self, Instance};
use parallax::plan::{batch_from_specs, DisaggPlan, LowerOptions};
use parallax::search::MAX_STEADY_REQUESTS;
use parallax::sim::error::compact;
use parallax::{
    Cluster, Limits, Objective, Plan, SchedulerSpace, Search, SearchConstraints, Simulation,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// Predict one iteration of `model` with tensor parallelism `tp` on `gpu` (one node, or
/// nodes of its scale-up domain when wider); returns the prediction as JSON text (the CLI's
/// `predict --json`).
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
    // one node, or nodes of the GPU's scale-up domain when wider (as the CLI's predict)
    let cluster = Cluster::for_group(g, tp).map_err(value_err)?;
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
        o.insert("cluster".into(), cluster.spec().into());
        if let Some(s) = engine.as_ref().and_then(|e| e.speculation) {
            // a time per emitted token only where requests decode (as the CLI's)
            let step = o
                .get("iteration_ms")
                .and_then(|x| x.as_f64())
                .filter(|_| batch.decode.requests > 0);
            o.insert(
                "speculation".into(),
                serde_json::to_value(s.summary(step)).map_err(value_err)?,
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
