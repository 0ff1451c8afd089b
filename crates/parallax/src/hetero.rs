//! Heterogeneous clusters in the facade: one cost model per node group, simulation of plans
//! whose stages or replicas run on different GPU kinds, and their price.
//!
//! The search ([`crate::Search`]) and [`crate::Simulation`] route a heterogeneous cluster
//! here: candidates come from [`parallax_plan::hetero::enumerate`], each plan is lowered by
//! [`parallax_plan::hetero::lower_plan`] with [`group_cost_models`], and a plan whose replicas
//! run on different kinds is simulated behind the capacity-weighted router
//! ([`RouterPolicy::CapacityWeighted`]) unless another router than the default round-robin
//! was asked for.

use crate::error::{Error, Result};
use crate::simulate::{simulate, Lowering};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::Model;
use parallax_plan::{hetero, EngineModel, LowerOptions, Plan};
use parallax_sim::{Deadline, RouterPolicy, SimConfig, SimReport, Workload};
use std::sync::Arc;

/// One cost model per node group of `cluster` (in [`Cluster::node_groups`] order): the
/// automatic choice for each group's GPU ([`crate::cost_model`]), wrapped in `engine`'s
/// kernels when given.
///
/// # Errors
/// [`Error::Option`] when `custom` is set on a heterogeneous cluster (a custom cost model
/// prices one GPU kind), or a group's cost model cannot be built.
pub fn group_cost_models(
    cluster: &Cluster,
    custom: Option<&Arc<dyn CostModel>>,
    engine: Option<&EngineModel>,
) -> Result<Vec<Arc<dyn CostModel>>> {
    if let (Some(c), true) = (custom, cluster.is_heterogeneous()) {
        return Err(Error::Option {
            option: "cost-model".into(),
            value: format!("{} on {}", c.name(), cluster.spec()),
            expected: "the built-in cost models on a heterogeneous cluster (one per GPU kind): \
                       a custom cost model prices one GPU kind"
                .into(),
        });
    }
    let groups = cluster.node_groups();
    let mut out = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let gc = cluster.group_cluster(i).unwrap_or_else(|| cluster.clone());
        let base = match custom {
            Some(c) => Arc::clone(c),
            None => crate::cost_model(&gc, crate::CostModelChoice::Auto)?,
        };
        out.push(match engine {
            Some(e) => e.cost_model(base, g.gpu.memory_bandwidth),
            None => base,
        });
    }
    Ok(out)
}

/// The router a plan runs under: the capacity-weighted router when its replicas run on
/// different GPU kinds and `asked` is the default round-robin, else `asked`.
pub fn router_for(plan: &Plan, cluster: &Cluster, asked: RouterPolicy) -> RouterPolicy {
    if asked == RouterPolicy::RoundRobin && hetero::mixes_replica_kinds(plan, cluster) {
        RouterPolicy::CapacityWeighted
    } else {
        asked
    }
}

/// USD per GPU-hour of `plan` on `cluster`: the mean catalogue price of the GPUs its stages
/// occupy (each stage slot is its width's GPUs of its kind: `tp`, or its entry of
/// [`Plan::stage_tp`]).
///
/// # Errors
/// As [`hetero::stage_groups`].
pub fn plan_price_per_gpu_hour(plan: &Plan, cluster: &Cluster) -> Result<f64> {
    let groups = cluster.node_groups();
    let kinds = hetero::stage_groups(plan, cluster)?;
    let slots = kinds.iter().flat_map(|row| row.iter().enumerate());
    Ok(match plan.stage_tp {
        // Every slot `tp` wide: the mean over the slots.
        None => {
            let n = kinds.iter().map(Vec::len).sum::<usize>().max(1) as f64;
            slots
                .map(|(_, &g)| groups[g].gpu.price_per_hour)
                .sum::<f64>()
                / n
        }
        Some(_) => {
            let n = plan.devices().max(1) as f64;
            slots
                .map(|(s, &g)| plan.stage_width(s) as f64 * groups[g].gpu.price_per_hour)
                .sum::<f64>()
                / n
        }
    })
}

/// Lower `plan` on a heterogeneous cluster with one cost model per node group and simulate
/// `workload` on it (the router as [`router_for`]).
///
/// # Errors
/// As [`crate::simulate_plan`].
pub fn simulate_plan(
    model: &Model,
    cluster: &Cluster,
    plan: &Plan,
    costs: &[Arc<dyn CostModel>],
    workload: &Workload,
    config: &SimConfig,
    lower: &LowerOptions,
) -> Result<SimReport> {
    let what = Lowering::MixedPlan(plan, costs);
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

/// Lower a disaggregated plan on a (possibly heterogeneous) cluster with one cost model per
/// node group ([`hetero::lower_disaggregated`]: the pools may run on different GPU kinds) and
/// simulate `workload` on it.
///
/// # Errors
/// As [`crate::simulate_disaggregated`].
pub fn simulate_disaggregated(
    model: &Model,
    cluster: &Cluster,
    plan: &parallax_plan::DisaggPlan,
    costs: &[Arc<dyn CostModel>],
    workload: &Workload,
    config: &SimConfig,
    lower: &LowerOptions,
) -> Result<SimReport> {
    let what = Lowering::MixedPools(plan, costs);
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
