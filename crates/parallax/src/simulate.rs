//! Simulating one plan: lowering plus the batching simulator.

use crate::error::{Error, Result};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::Model;
use parallax_plan::{lower_plan, DisaggPlan, LowerOptions, Plan};
use parallax_sim::{workload, Deadline, SimConfig, SimReport, Simulator, Workload};
use std::sync::Arc;

/// A workload from an embedded name (`chat`, `creation`, `summarization`, `code`,
/// `conversation`), a synthetic spec (`synthetic:requests=N,rate=R,…`, see
/// [`parallax_sim::workload::spec`]) or a trace file path, optionally cut to its first `requests` requests and
/// rescaled to `rate` req/s (in that order).
///
/// This is the only function here that reads a file, and only when `spec` is not an embedded
/// name.
///
/// # Errors
/// [`Error::Simulation`] for an unknown name, an unreadable or malformed trace, or an invalid
/// `requests`/`rate`.
pub fn load_workload(spec: &str, rate: Option<f64>, requests: Option<usize>) -> Result<Workload> {
    let known = workload::names().contains(&spec)
        || spec.starts_with(workload::spec::PREFIX)
        || std::path::Path::new(spec).exists();
    let looks_like_path = spec.contains(['/', '\\'])
        || [".csv", ".jsonl", ".json", ".txt"]
            .iter()
            .any(|ext| spec.to_ascii_lowercase().ends_with(ext));
    if !known && looks_like_path {
        return Err(Error::Option {
            option: "workload".into(),
            value: spec.into(),
            expected: format!(
                "an existing trace file: `{spec}` does not exist (embedded workloads: {})",
                workload::names().join(", ")
            ),
        });
    }
    if !known {
        return Err(Error::Option {
            option: "workload".into(),
            value: spec.into(),
            expected: format!(
                "an embedded workload ({}), a `synthetic:…` spec, or the path of a trace file",
                workload::names().join(", ")
            ),
        });
    }
    let mut w = workload::resolve(spec)?;
    if let Some(n) = requests {
        if n > workload::MAX_REQUESTS {
            return Err(Error::Option {
                option: "requests".into(),
                value: n.to_string(),
                expected: format!("at most {} requests", workload::MAX_REQUESTS),
            });
        }
        w = w.take(n)?;
    }
    if let Some(r) = rate {
        w = w.with_rate(r)?;
    }
    Ok(w)
}

/// The largest KV footprint, in tokens, of any request of `workload` (prompt + output).
pub fn largest_request_tokens(workload: &Workload) -> u64 {
    workload
        .requests
        .iter()
        .map(|r| r.prompt_tokens as u64 + r.output_tokens as u64)
        .max()
        .unwrap_or(0)
}

/// Check that every request of `workload` fits `model`'s context window: prompt plus output
/// at most `max_position_embeddings` tokens (what vLLM calls `max_model_len`).
///
/// # Errors
/// [`Error::Option`] naming the first request that does not fit, its length, the model's
/// limit, and how many requests exceed it.
pub fn check_context(model: &Model, workload: &Workload) -> Result<()> {
    let limit = model.max_position_embeddings as u64;
    let len = |r: &parallax_sim::workload::Request| r.prompt_tokens as u64 + r.output_tokens as u64;
    let Some(first) = workload.requests.iter().find(|r| len(r) > limit) else {
        return Ok(());
    };
    let over = workload.requests.iter().filter(|r| len(r) > limit).count();
    Err(Error::Option {
        option: "workload".into(),
        value: workload.name.clone(),
        expected: format!(
            "requests that fit the context window of model `{}` ({limit} tokens: its \
             max_position_embeddings, or vLLM's max_model_len where one is set): request id {} \
             needs {} tokens ({} prompt + {} output), and {over} of {} requests exceed the \
             window; use a model with a longer context (or a larger max_model_len) or a \
             workload with shorter requests",
            model.name,
            first.id,
            len(first),
            first.prompt_tokens,
            first.output_tokens,
            workload.len()
        ),
    })
}

/// Speculative decoding is set twice, once for the simulator (which emits the accepted drafts,
/// `config.speculation`) and once for the lowering (which prices the verification and the
/// drafts, `lower.speculative_tokens`); [`parallax_plan::EngineModel`] sets both. An error
/// names them when they disagree (drafts emitted for free, or priced and never accepted).
pub(crate) fn check_speculation(config: &SimConfig, lower: &LowerOptions) -> Result<()> {
    let simulated = config.speculation.map_or(0, |s| s.draft_tokens);
    if simulated == lower.speculative_tokens {
        return Ok(());
    }
    Err(Error::Option {
        option: "speculative decoding".into(),
        value: format!(
            "SimConfig::speculation draft_tokens {simulated}, LowerOptions::speculative_tokens {}",
            lower.speculative_tokens
        ),
        expected: "the same draft count in both (EngineModel::sim_config and \
                   EngineModel::lower_options set them together)"
            .into(),
    })
}

/// What [`simulate`] lowers: one plan or a disaggregated deployment, priced by one cost model
/// or by one per node group of a heterogeneous cluster ([`crate::hetero`]).
pub(crate) enum Lowering<'a> {
    Plan(&'a Plan, Arc<dyn CostModel>),
    Pools(&'a DisaggPlan, Arc<dyn CostModel>),
    MixedPlan(&'a Plan, &'a [Arc<dyn CostModel>]),
    MixedPools(&'a DisaggPlan, &'a [Arc<dyn CostModel>]),
}

/// Check `workload` and the speculation settings, lower `what` and simulate `workload` on it
/// until `deadline`: the body of the positional simulate functions (with a deadline that never
/// passes) and of [`crate::Simulation::run`]. A disaggregated deployment gets
/// `config.disaggregation` from its lowering; a plan on a heterogeneous cluster its router
/// from [`crate::hetero::router_for`].
pub(crate) fn simulate(
    model: &Model,
    cluster: &Cluster,
    what: Lowering<'_>,
    workload: &Workload,
    config: &SimConfig,
    lower: &LowerOptions,
    deadline: &Deadline,
) -> Result<SimReport> {
    check_context(model, workload)?;
    check_speculation(config, lower)?;
    let pools = |(replicas, d)| {
        let config = SimConfig {
            disaggregation: Some(d),
            ..*config
        };
        (replicas, config)
    };
    let (replicas, config) = match what {
        Lowering::Plan(p, cost) => (
            lower_plan(model, p, cluster, cost, lower)?.replicas,
            *config,
        ),
        Lowering::Pools(d, cost) => pools(parallax_plan::lower_disaggregated(
            model, d, cluster, cost, lower,
        )?),
        Lowering::MixedPlan(p, costs) => {
            let lowered = parallax_plan::hetero::lower_plan(model, p, cluster, costs, lower)?;
            let config = SimConfig {
                router: crate::hetero::router_for(p, cluster, config.router),
                ..*config
            };
            (lowered.replicas, config)
        }
        Lowering::MixedPools(d, costs) => pools(parallax_plan::hetero::lower_disaggregated(
            model, d, cluster, costs, lower,
        )?),
    };
    let sim = Simulator::new(replicas, config)?;
    Ok(sim.run_until(workload, deadline.clone())?)
}

/// Lower `plan` and simulate `workload` on it.
///
/// Requests that can never fit the plan's KV cache are rejected and counted by the simulator
/// (`requests.rejected`); the plan itself must hold its weights and at least one KV block.
///
/// # Errors
/// [`Error::Plan`] when the plan does not fit the model or cluster, [`Error::Simulation`] for an
/// invalid simulator configuration, [`Error::Option`] when a request is longer than the
/// model's context window ([`check_context`]) or the simulator and the lowering disagree on
/// speculative decoding.
pub fn simulate_plan(
    model: &Model,
    cluster: &Cluster,
    plan: &Plan,
    cost: Arc<dyn CostModel>,
    workload: &Workload,
    config: &SimConfig,
    lower: &LowerOptions,
) -> Result<SimReport> {
    let what = Lowering::Plan(plan, cost);
    simulate(
        model,
        cluster,
        what,
        workload,
        config,
        lower,
        &Deadline::default(),
    )
}

/// Lower a disaggregated plan (prefill and decode pools, see
/// [`parallax_plan::DisaggPlan`]) and simulate `workload` on it; `config.disaggregation` is
/// set from the plan and the cluster's links.
///
/// # Errors
/// As [`simulate_plan`], and when both pools need more devices than the cluster has.
pub fn simulate_disaggregated(
    model: &Model,
    cluster: &Cluster,
    plan: &parallax_plan::DisaggPlan,
    cost: Arc<dyn CostModel>,
    workload: &Workload,
    config: &SimConfig,
    lower: &LowerOptions,
) -> Result<SimReport> {
    let what = Lowering::Pools(plan, cost);
    simulate(
        model,
        cluster,
        what,
        workload,
        config,
        lower,
        &Deadline::default(),
    )
}
