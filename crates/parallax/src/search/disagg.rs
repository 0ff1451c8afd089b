//! Disaggregated deployments in the search: a prefill pool of `x` instances and a decode pool
//! of `y` instances (xPyD), each with its own plan, scored with the same objective, SLOs and
//! scheduler settings as the aggregated plans and compared with the best of them.
//!
//! # How the candidates are built
//! For each scheduler setting of the search:
//! 1. **Instance plans per pool, pruned exactly.** For every instance size `g` below the
//!    GPUs the search may use that tiles a node (a divisor of the node's GPUs) or is whole
//!    nodes, as deployments size their TP groups, the plan enumerator lists the `dp=1` plans of exactly `g`
//!    GPUs under the search's parallelism constraints, pruned by symmetry, divisibility,
//!    topology and memory. The memory pruning uses what each pool really holds: a prefill
//!    instance keeps only the prompt's KV (the workload's longest prompt), a decode instance
//!    the whole request (longest prompt + output), both with the scheduler's activation
//!    reserve — the same admission test as the simulator's, so no pool plan that could serve
//!    is pruned.
//! 2. **Screening (a heuristic, not exact).** Of the instance plans of one size, the pool
//!    keeps the one with the lowest one-iteration cost on the role it plays, priced by the
//!    same [`parallax_sim::StageCost`] the simulator steps: for prefill, the time to prefill
//!    the workload's mean prompt alone (in chunks of the scheduler's token budget), summed
//!    over pipeline stages; for decode, the time of one decode step of `⌈B / pp⌉` requests at
//!    the mean context (prompt + half the output) summed over stages, where `B` is the
//!    decode concurrency Little's law expects (arrival rate × mean output tokens × the TPOT
//!    SLO, or 25 ms without one; between 1 and `max_num_seqs`). Ties keep the first plan in
//!    enumeration order. [`SearchReport::disaggregation`](super::SearchReport)'s
//!    `pool_plans` lists what was kept and its score.
//! 3. **Pool sizes.** Every `x` prefill instances of size `g_p` and `y` decode instances of
//!    size `g_d` with `x·g_p + y·g_d` equal to the GPUs the search uses (at most, when the
//!    search does not require all of them), placed prefill pool first, and no instance of at
//!    most a node's GPUs straddling a node (wider instances start on a node boundary).
//! 4. **Simulation.** Each candidate is lowered with
//!    [`parallax_plan::lower_disaggregated`] (KV over the intra-node link when both pools fit
//!    one node, else the network) and simulated like an aggregated plan (the same workload or
//!    steady-state stream, the same rate search for `throughput`), in parallel, collected in
//!    order: deterministic.
//!
//! # Time limit
//! The search's deadline ([`super::Limits::time`], whose budget covers both phases) is
//! checked before each instance size is enumerated, before each instance plan is screened,
//! before each pair of pool plans is combined (and each prefill pool size, when every `y` is
//! a candidate) and before each candidate is simulated. Past it nothing more is built or
//! simulated: the comparison ranks what was simulated, its `note` says what the limit cut,
//! and the search's stop reason is [`super::StopReason::TimeLimit`]. A phase that finishes
//! in time is unaffected (and deterministic).
//!
//! On one 8-GPU node the candidates are few (a handful of pool splits, one plan per pool
//! size), so the default search stays fast.

use super::{Ctx, Evaluated, RankedPlan, SteadyWindow};
use crate::error::{Error, Result};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{enumerate, lower_disaggregated, lower_plan, Constraints, DisaggPlan, Plan};
use parallax_sim::Deadline;
use parallax_sim::{SchedulerConfig, SimConfig, Simulator, StageCost};
use rayon::prelude::*;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// With [`DisaggMode::Auto`], disaggregated deployments are searched when the search may use
/// at least this many GPUs (two per pool).
pub const DISAGG_AUTO_MIN_GPUS: u32 = 4;

/// TPOT assumed by the decode screening's concurrency estimate without a TPOT SLO, seconds.
const SCREEN_TPOT_S: f64 = 0.025;

/// Whether a search also explores disaggregated deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisaggMode {
    /// On when the search may use at least [`DISAGG_AUTO_MIN_GPUS`] GPUs.
    #[default]
    Auto,
    /// Always (with fewer than 2 GPUs there is no candidate, which the report says).
    On,
    /// Never: [`super::SearchReport::disaggregation`] is `None`.
    Off,
}

impl DisaggMode {
    /// `auto`, `on` or `off`.
    pub fn name(self) -> &'static str {
        match self {
            DisaggMode::Auto => "auto",
            DisaggMode::On => "on",
            DisaggMode::Off => "off",
        }
    }
}

impl fmt::Display for DisaggMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DisaggMode {
    type Err = Error;

    /// `auto`, `on` or `off` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DisaggMode::Auto),
            "on" => Ok(DisaggMode::On),
            "off" => Ok(DisaggMode::Off),
            _ => Err(Error::Option {
                option: "disaggregation".into(),
                value: s.into(),
                expected: "auto, on or off".into(),
            }),
        }
    }
}

/// Which deployment wins the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// The best disaggregated deployment ranks before the best aggregated plan.
    Disaggregated,
    /// The best aggregated plan ranks first or ties (the simpler deployment wins ties).
    Aggregated,
    /// Neither kind has a candidate that meets the constraints.
    None,
}

impl Winner {
    /// snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            Winner::Disaggregated => "disaggregated",
            Winner::Aggregated => "aggregated",
            Winner::None => "none",
        }
    }
}

/// An instance plan a pool kept after screening.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolPlan {
    /// `prefill` or `decode`.
    pub role: &'static str,
    /// GPUs of one instance.
    pub gpus: u32,
    /// The instance plan (`dp=1`).
    #[serde(serialize_with = "super::report::plan_string")]
    pub plan: Plan,
    /// Its screening cost, ms: the mean prompt's prefill, or one decode step (module docs).
    pub score_ms: f64,
    /// Instance plans of this size that survived pruning (the screening chose among them).
    pub feasible: u64,
}

fn disagg_string<S: Serializer>(p: &DisaggPlan, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(p)
}

/// One simulated disaggregated candidate (fields as [`RankedPlan`]'s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisaggRanked {
    /// 1-based position in [`DisaggComparison::ranked`].
    pub rank: usize,
    /// The deployment, as `simulate --plan` accepts it: `prefill=Nx(PLAN);decode=Mx(PLAN)`.
    #[serde(serialize_with = "disagg_string")]
    pub plan: DisaggPlan,
    /// GPUs of both pools.
    pub gpus: u32,
    /// GPUs of the prefill pool.
    pub prefill_gpus: u32,
    /// GPUs of the decode pool.
    pub decode_gpus: u32,
    /// Scheduler settings (both pools).
    pub scheduler: SchedulerConfig,
    /// The objective's value.
    pub objective: f64,
    /// As [`RankedPlan::meets_constraints`].
    pub meets_constraints: bool,
    /// As [`RankedPlan::rate_req_per_s`].
    pub rate_req_per_s: Option<f64>,
    /// GPU energy per output token, J.
    pub energy_j_per_token: f64,
    /// Cost per million output tokens.
    pub cost_per_mtok: f64,
    /// Metrics of the simulation (with `kv_transfer`).
    pub metrics: parallax_sim::Metrics,
    /// As [`RankedPlan::window`].
    pub window: Option<SteadyWindow>,
}

/// Disaggregated deployments searched against the aggregated plans.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DisaggComparison {
    /// The mode the search ran with (`auto` or `on`).
    pub mode: &'static str,
    /// The instance plans kept per pool role and size, per scheduler setting, in order.
    pub pool_plans: Vec<PoolPlan>,
    /// Pool-size combinations (xPyD × instance plans × scheduler settings) built.
    pub candidates: u64,
    /// Candidates simulated (the others were skipped by the time limit).
    pub simulated: u64,
    /// Every simulated candidate, best first (same order as the aggregated ranking).
    pub ranked: Vec<DisaggRanked>,
    /// The best candidate that meets the constraints.
    pub best: Option<DisaggRanked>,
    /// The best aggregated plan it is compared with (the report's `best`).
    #[serde(serialize_with = "super::report::opt_plan_string")]
    pub best_aggregated: Option<Plan>,
    /// Which kind wins.
    pub winner: Winner,
    /// The best disaggregated deployment's gain over the best aggregated plan
    /// ([`super::Objective::gain`]: `> 1` means disaggregation is better by that factor,
    /// `< 1` that the aggregated plan is); `None` unless both exist with finite positive
    /// values.
    pub gain_over_aggregated: Option<f64>,
    /// Why there is no candidate, when there is none; or, when the time limit cut this phase
    /// (building the candidates, or simulating them: `simulated < candidates`), what it cut.
    pub note: Option<String>,
}

/// Whether `count` instances of `g` GPUs placed from device `start` on nodes of `node` GPUs
/// keep every instance of at most a node inside one node, and start wider ones on a node
/// boundary with whole nodes.
///
/// Whether an instance fits depends only on its start modulo `node`, which repeats every
/// `node / gcd(g, node)` instances, so only that many are checked: O(node), not O(count).
fn fits_nodes(start: u32, g: u32, count: u32, node: u32) -> bool {
    let node = node.max(1);
    let count = count.min(node / gcd(g, node));
    (0..count).all(|i| {
        let s = start + i * g;
        if g <= node {
            s % node + g <= node
        } else {
            s % node == 0 && g % node == 0
        }
    })
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Instance sizes: a divisor of the node (so instances tile it) or whole nodes, as
/// deployments place TP groups.
fn instance_size_ok(g: u32, node: u32) -> bool {
    let node = node.max(1);
    if g <= node {
        node % g == 0
    } else {
        g % node == 0
    }
}

/// The screening cost of `plan` (one instance) for `role`, seconds.
fn screen_cost(stages: &[Arc<dyn StageCost>], batches: &[Batch]) -> f64 {
    batches
        .iter()
        .map(|b| stages.iter().map(|s| s.step(b).seconds).sum::<f64>())
        .sum()
}

/// Run the disaggregated part of a search (see the module docs) and compare it with `best`.
/// The `bool` is whether `deadline` cut the phase (building the candidates or simulating
/// them), so that the search reports [`super::StopReason::TimeLimit`].
pub(super) fn compare(
    ctx: &Ctx<'_>,
    use_all: bool,
    deadline: &Deadline,
    best: Option<&RankedPlan>,
) -> Result<(Option<DisaggComparison>, bool)> {
    let s = ctx.search;
    let total = s
        .constraints
        .max_gpus
        .unwrap_or(s.cluster.total_gpus())
        .min(s.cluster.total_gpus());
    match s.disagg {
        DisaggMode::Off => return Ok((None, false)),
        DisaggMode::Auto if total < DISAGG_AUTO_MIN_GPUS || s.cluster.is_heterogeneous() => {
            return Ok((None, false))
        }
        DisaggMode::On if s.cluster.is_heterogeneous() => {
            return Err(crate::Error::Option {
                option: "--disaggregation".into(),
                value: "on".into(),
                expected: format!(
                    "a cluster of one GPU kind: disaggregated pools are not searched on the \
                     mixed cluster {}",
                    s.cluster.spec()
                ),
            })
        }
        _ => {}
    }
    let mut out = DisaggComparison {
        mode: s.disagg.name(),
        pool_plans: Vec::new(),
        candidates: 0,
        simulated: 0,
        ranked: Vec::new(),
        best: None,
        best_aggregated: best.map(|b| b.plan.clone()),
        winner: Winner::None,
        gain_over_aggregated: None,
        note: None,
    };
    if total < 2 {
        out.note = Some(format!(
            "a disaggregated deployment needs at least 2 GPUs (one per pool); the search may \
             use {total}"
        ));
        out.winner = if best.is_some() {
            Winner::Aggregated
        } else {
            Winner::None
        };
        return Ok((Some(out), false));
    }
    // Every loop below checks the search's deadline: past it, nothing more is built or
    // simulated and `cut` says so.
    let past = || deadline.passed();
    let mut cut = false;

    let reqs = &s.workload.requests;
    let n = reqs.len().max(1) as f64;
    let prefill_req = reqs
        .iter()
        .map(|r| r.prompt_tokens as u64)
        .max()
        .unwrap_or(0);
    let mean_prompt = reqs.iter().map(|r| r.prompt_tokens as f64).sum::<f64>() / n;
    let mean_output = reqs.iter().map(|r| r.output_tokens as f64).sum::<f64>() / n;
    let tpot_s = s.slo.tpot_ms.map_or(SCREEN_TPOT_S, |t| t / 1e3);
    let rate = s.workload.mean_rate().unwrap_or(0.0);

    let mut candidates: Vec<(DisaggPlan, SchedulerConfig)> = Vec::new();
    'build: for sched in s.scheduler_configs() {
        // 1-2. Instance plans per role and size, screened.
        let prompt = (mean_prompt.round() as u32).max(1);
        let budget = sched.max_num_batched_tokens.max(1);
        let mut prefill_batches = Vec::new();
        let mut done = 0u32;
        while done < prompt {
            let new_tokens = (prompt - done).min(budget);
            prefill_batches.push(Batch {
                prefill: vec![PrefillChunk {
                    new_tokens,
                    prefix: done,
                }],
                decode: DecodeGroup::default(),
            });
            done += new_tokens;
        }
        let concurrency = (rate * mean_output * tpot_s)
            .ceil()
            .clamp(1.0, sched.max_num_seqs.max(1) as f64) as u32;
        let context = (mean_prompt + mean_output / 2.0).round().max(1.0) as u32;
        let mut kept: [Vec<(u32, Plan)>; 2] = [Vec::new(), Vec::new()];
        for (ri, (role, required)) in [("prefill", prefill_req), ("decode", ctx.required)]
            .into_iter()
            .enumerate()
        {
            let opts = s.lower_options(&sched, required);
            for g in (1..total).filter(|&g| instance_size_ok(g, s.cluster.gpus_per_node)) {
                if past() {
                    cut = true;
                    break 'build;
                }
                let e = enumerate(
                    &s.model,
                    &s.cluster,
                    &Constraints {
                        max_gpus: Some(g),
                        use_all_gpus: true,
                        max_pp: s.constraints.max_pp,
                        allowed: parallax_plan::Allowed {
                            dp: false,
                            ..s.constraints.allowed
                        },
                        required_kv_tokens: required,
                        memory: s.memory_for(&sched),
                        ..Constraints::default()
                    },
                )?;
                let mut choice: Option<(Plan, f64)> = None;
                for plan in e.plans.iter().filter(|p| s.moe_load_fits(p)) {
                    if past() {
                        cut = true;
                        break 'build;
                    }
                    let lowered =
                        match lower_plan(&s.model, plan, &s.cluster, Arc::clone(ctx.cost), &opts) {
                            Ok(l) => l,
                            // EPLB's replicas can overfill a plan that the enumeration's
                            // memory check passed (it does not know them): not a pool plan,
                            // as the aggregated search drops it (`eplb-memory`)
                            Err(parallax_plan::PlanError::Memory(_))
                                if s.moe_load.as_ref().is_some_and(|l| l.redundant > 0) =>
                            {
                                continue
                            }
                            Err(e) => return Err(e.into()),
                        };
                    let stages = &lowered.replicas[0].stages;
                    let cost = if role == "prefill" {
                        screen_cost(stages, &prefill_batches)
                    } else {
                        let b = concurrency.div_ceil(plan.pp.max(1));
                        screen_cost(
                            stages,
                            &[Batch {
                                prefill: Vec::new(),
                                decode: DecodeGroup::uniform(b, context),
                            }],
                        )
                    };
                    if choice.as_ref().map_or(true, |(_, c)| cost < *c) {
                        choice = Some((plan.clone(), cost));
                    }
                }
                if let Some((plan, cost)) = choice {
                    out.pool_plans.push(PoolPlan {
                        role,
                        gpus: g,
                        plan: plan.clone(),
                        score_ms: cost * 1e3,
                        feasible: e.plans.len() as u64,
                    });
                    kept[ri].push((g, plan));
                }
            }
        }
        // 3. Pool sizes: x ascending, then y ascending (with `use_all`, the one y that uses
        // every GPU).
        let node = s.cluster.gpus_per_node;
        for (gp, pp) in &kept[0] {
            // The prefill pool sizes that leave GPUs for a decode pool and fit the nodes.
            let xs: Vec<u32> = (1..=total / gp)
                .filter(|&x| x * gp < total && fits_nodes(0, *gp, x, node))
                .collect();
            for (gd, dp) in &kept[1] {
                if past() {
                    cut = true;
                    break 'build;
                }
                for &x in &xs {
                    let start = x * gp;
                    let free = total - start;
                    let ys = if use_all {
                        if free % gd != 0 {
                            continue;
                        }
                        free / gd..=free / gd
                    } else {
                        // Without `use_all` every y is a candidate: a long loop.
                        if past() {
                            cut = true;
                            break 'build;
                        }
                        1..=free / gd
                    };
                    for y in ys {
                        if !fits_nodes(start, *gd, y, node) {
                            continue;
                        }
                        candidates.push((
                            DisaggPlan {
                                prefill: x,
                                prefill_plan: pp.clone(),
                                decode: y,
                                decode_plan: dp.clone(),
                            },
                            sched,
                        ));
                    }
                }
            }
        }
    }
    out.candidates = candidates.len() as u64;

    // 4. Simulation (none once the deadline has passed).
    let results: Vec<Option<Result<Evaluated>>> = candidates
        .par_iter()
        .map(|(plan, sched)| {
            if cut || past() {
                None
            } else {
                // A simulation the budget cut short counts as not simulated.
                match evaluate(ctx, plan, sched, prefill_req.min(ctx.required)) {
                    Err(_) if past() => None,
                    r => Some(r),
                }
            }
        })
        .collect();
    for ((plan, sched), r) in candidates.into_iter().zip(results) {
        let Some(r) = r else { continue };
        let e = r?;
        out.ranked.push(DisaggRanked {
            rank: 0,
            gpus: e.gpus,
            prefill_gpus: plan.prefill * plan.prefill_plan.devices(),
            decode_gpus: plan.decode * plan.decode_plan.devices(),
            plan,
            scheduler: sched,
            objective: e.value,
            meets_constraints: e.meets,
            rate_req_per_s: e.rate,
            energy_j_per_token: e.energy,
            cost_per_mtok: e.cost,
            metrics: e.metrics,
            window: e.window,
        });
    }
    out.simulated = out.ranked.len() as u64;
    let building_cut = cut;
    cut |= out.simulated < out.candidates;
    let obj = s.objective;
    out.ranked.sort_by(|a, b| {
        b.meets_constraints
            .cmp(&a.meets_constraints)
            .then(obj.compare(a.objective, b.objective))
            .then(a.metrics.e2e_s.mean.total_cmp(&b.metrics.e2e_s.mean))
            .then_with(|| a.plan.to_string().cmp(&b.plan.to_string()))
            .then_with(|| super::sched_key(&a.scheduler).cmp(&super::sched_key(&b.scheduler)))
    });
    for (i, r) in out.ranked.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    out.best = out.ranked.first().filter(|r| r.meets_constraints).cloned();
    if building_cut {
        out.note = Some(format!(
            "{} while the candidates were being built ({} built, {} pool plans kept); none \
             was simulated",
            super::cut_reason(deadline),
            out.candidates,
            out.pool_plans.len()
        ));
    } else if cut {
        out.note = Some(format!(
            "{}: {} of the {} candidates were simulated",
            super::cut_reason(deadline),
            out.simulated,
            out.candidates
        ));
    } else if out.candidates == 0 {
        out.note = Some(format!(
            "no pool split of the {total} GPUs has a feasible instance plan for both pools"
        ));
    }
    out.winner = match (&out.best, best) {
        (Some(d), Some(a)) => {
            let order = obj
                .compare(d.objective, a.objective)
                .then(d.metrics.e2e_s.mean.total_cmp(&a.metrics.e2e_s.mean));
            if order.is_lt() {
                Winner::Disaggregated
            } else {
                Winner::Aggregated
            }
        }
        (Some(_), None) => Winner::Disaggregated,
        (None, Some(_)) => Winner::Aggregated,
        (None, None) => Winner::None,
    };
    out.gain_over_aggregated = match (&out.best, best) {
        (Some(d), Some(a)) => obj.gain(d.objective, a.objective),
        _ => None,
    };
    Ok((Some(out), cut))
}

/// Lower and simulate one disaggregated candidate. `required` is the KV both pools were
/// already checked for by the enumerator (the prefill pool's, the smaller); each pool's own
/// requirement was enforced when its instance plans were enumerated.
fn evaluate(
    ctx: &Ctx<'_>,
    plan: &DisaggPlan,
    sched: &SchedulerConfig,
    required: u64,
) -> Result<Evaluated> {
    let s = ctx.search;
    let (replicas, d) = lower_disaggregated(
        &s.model,
        plan,
        &s.cluster,
        Arc::clone(ctx.cost),
        &s.lower_options(sched, required),
    )?;
    let mut config = SimConfig {
        disaggregation: Some(d),
        ..s.sim_config(sched)
    };
    if let Some(e) = &s.engine {
        // prompts are chunked in the prefill pool
        e.adapt_to_plan(&mut config, &plan.prefill_plan);
    }
    let sim = Simulator::new(replicas, config)?;
    ctx.score(&sim, plan.devices(), ctx.price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_never_straddle_a_node() {
        assert!(fits_nodes(0, 4, 2, 8));
        assert!(!fits_nodes(6, 4, 1, 8));
        assert!(fits_nodes(8, 8, 1, 8));
        assert!(!fits_nodes(4, 8, 1, 8));
        assert!(fits_nodes(0, 16, 1, 8));
        assert!(!fits_nodes(0, 12, 1, 8));
        assert!(fits_nodes(6, 2, 5, 8));
        assert!(!fits_nodes(0, 3, 3, 8));
    }

    #[test]
    fn fits_nodes_checks_one_period_as_every_instance() {
        // The naive check, every instance.
        let naive = |start: u32, g: u32, count: u32, node: u32| {
            (0..count).all(|i| {
                let s = start + i * g;
                if g <= node {
                    s % node + g <= node
                } else {
                    s % node == 0 && g % node == 0
                }
            })
        };
        for node in 1..=12 {
            for g in 1..=3 * node {
                for start in 0..2 * node {
                    for count in 0..=3 * node {
                        assert_eq!(
                            fits_nodes(start, g, count, node),
                            naive(start, g, count, node),
                            "start {start}, g {g}, count {count}, node {node}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!("ON".parse::<DisaggMode>().unwrap(), DisaggMode::On);
        assert_eq!("off".parse::<DisaggMode>().unwrap(), DisaggMode::Off);
        assert_eq!("auto".parse::<DisaggMode>().unwrap(), DisaggMode::Auto);
        let e = "yes".parse::<DisaggMode>().unwrap_err().to_string();
        assert!(e.contains("yes") && e.contains("auto, on or off"), "{e}");
    }
}
