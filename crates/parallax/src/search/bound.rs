//! Analytic lower bounds on a plan's objective, and the bound pruning they allow.
//!
//! Before a candidate is simulated, [`lower_bound`] computes from its lowered stages (the same
//! [`StageCost`]s, hence the same cost model, that the simulator calls) a value the simulated
//! objective cannot beat. The search then simulates candidates in bound order and skips
//! those whose bound is already worse than what it must keep exact (see
//! [`super::Search::exact_top`]).
//!
//! # The per-request floors
//! Every request `i` (prompt `p_i`, output `o_i` tokens) arrives, waits, is prefilled in one
//! or more iterations (the last yields its first token), then decodes its other `o_i − 1`
//! tokens one iteration each. An iteration of a replica passes its micro-batch through every
//! pipeline stage in turn, and the request's next iteration cannot start before the previous
//! one left the last stage, so each of its iterations lasts at least `Σ_stages step(batch)`.
//! With `P` the time of the cheapest iteration that can hold a prefill chunk (one new token,
//! no prefix, no other sequence) and `D_i` that of a decode-only iteration holding request
//! `i` alone at its smallest decode context (`p_i`), each minimised over the replicas, the
//! prefill floor `F_i` is: for a chunked scheduler (`sarathi`, `prefill-first`), whose chunks
//! never exceed the token budget `B`, `⌈p_i / B⌉ · P`; for the others, which prefill a whole
//! prompt in one iteration (a recomputed one only grows), the iteration of a `2^⌊log2 p_i⌋`-token
//! prefill alone (a power of two, so that a plan costs at most ~15 extra table entries). Then
//! - `ttft_i ≥ F_i`,
//! - `tpot_i ≥ D_i` (`o_i ≥ 2`; TPOT averages the `o_i − 1` decode gaps; under speculative
//!   decoding with `k` drafts per step a step emits at most `1 + k` tokens, so `D_i` stands
//!   for the step floor divided by `1 + k` here and below),
//! - `e2e_i ≥ F_i + (o_i − 1) · D_i`,
//! - the makespan is at least `max_i (arrival_i + e2e_i) − first arrival`.
//!
//! Queueing, batching, preemption, chunking and host time only add to these. The objective
//! bound is the objective's statistic (mean or percentile, [`Summary::of`], which is
//! monotone in every element) of the per-request floors; cost per token uses the makespan
//! floor with every output token counted (a plan that does not complete every request fails
//! the constraints and ranks after every plan that meets them, whatever its value);
//! `min-gpus` is exact.
//!
//! # What the floors assume
//! The floors rest on one property of the stage costs: **a stage's step time does not
//! decrease when its batch gains tokens, sequences or context** (the iteration that holds
//! request `i` with others, or with more context, costs at least what it costs alone). The
//! roofline has it; the profiled model is monotone between measured points. The search's
//! tests check `bound ≤ simulated value` for every plan and objective of small searches, and
//! that pruned and unpruned searches rank their top plans identically.
//!
//! No bound is given (the plan is always simulated) for `throughput` and `goodput` (rates to
//! maximise: a lower bound does not prune), for `energy` (idle power over the makespan and
//! busy power per iteration would need the iteration count), and for objectives whose value
//! would not be finite.

use super::Objective;
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_sim::{ReplicaSpec, SchedulerConfig, Simulator, Summary, Workload};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Relative margin a bound must exceed the threshold by before a plan is skipped: the
/// simulator accumulates times in a different order than the bound, so two equal values may
/// differ in their last bits.
pub(crate) const MARGIN: f64 = 1e-9;

/// Time of `batch` through every stage of `r`.
fn iteration(r: &ReplicaSpec, batch: &Batch) -> f64 {
    r.stages.iter().map(|s| s.step(batch).seconds).sum()
}

/// The replicas whose stages differ (replicas sharing every stage object price alike).
fn distinct(replicas: &[ReplicaSpec]) -> Vec<&ReplicaSpec> {
    let mut out: Vec<&ReplicaSpec> = Vec::new();
    for r in replicas {
        let same = |o: &&ReplicaSpec| {
            o.stages.len() == r.stages.len()
                && o.stages
                    .iter()
                    .zip(&r.stages)
                    .all(|(a, b)| Arc::ptr_eq(a, b))
        };
        if !out.iter().any(same) {
            out.push(r);
        }
    }
    out
}

/// Per-request floors of a lowered plan run by `scheduler`: `(prefill_i, D_i)` for every
/// request, in seconds (see the module docs).
pub(crate) fn floors(
    replicas: &[ReplicaSpec],
    scheduler: &SchedulerConfig,
    workload: &Workload,
) -> (Vec<f64>, Vec<f64>) {
    let reps = distinct(replicas);
    let min_over = |batch: &Batch| {
        reps.iter()
            .map(|r| iteration(r, batch))
            .fold(f64::INFINITY, f64::min)
    };
    let prefill_of = |tokens: u32| Batch {
        prefill: vec![PrefillChunk {
            new_tokens: tokens,
            prefix: 0,
        }],
        decode: DecodeGroup::default(),
    };
    let p = min_over(&prefill_of(1));
    let budget = scheduler.token_budget().max(1);
    let mut by_bucket: BTreeMap<u32, f64> = BTreeMap::new();
    let mut by_prompt: BTreeMap<u32, f64> = BTreeMap::new();
    let mut pre = Vec::with_capacity(workload.requests.len());
    let mut dec = Vec::with_capacity(workload.requests.len());
    for r in &workload.requests {
        let prompt = r.prompt_tokens.max(1);
        let floor = if scheduler.kind.chunked() {
            // Chunks of at most the budget, each at least the cheapest prefill iteration.
            prompt.div_ceil(budget) as f64 * p
        } else {
            // The whole prompt in one iteration: at least the largest power of two in it.
            let bucket = 1u32 << (31 - prompt.leading_zeros());
            *by_bucket
                .entry(bucket)
                .or_insert_with(|| min_over(&prefill_of(bucket)))
        };
        pre.push(floor.max(p));
        dec.push(*by_prompt.entry(prompt).or_insert_with(|| {
            min_over(&Batch {
                prefill: Vec::new(),
                decode: DecodeGroup::from_contexts(&[prompt]),
            })
        }));
    }
    (pre, dec)
}

/// A lower bound on `objective`'s value for the plan lowered to `replicas` on `gpus` GPUs at
/// `price` per GPU-hour, serving `workload` (see the module docs); `None` when the objective
/// has none.
pub(crate) fn lower_bound(
    objective: Objective,
    sim: &Simulator,
    workload: &Workload,
    gpus: u32,
    price: f64,
) -> Option<f64> {
    let reqs = &workload.requests;
    if reqs.is_empty() {
        return None;
    }
    // A speculative decode step emits at most `1 + draft_tokens` tokens of a request.
    let per_step = 1.0
        + sim
            .config()
            .speculation
            .map_or(0.0, |s| s.draft_tokens as f64);
    let floors = || {
        let (pre, mut dec) = floors(sim.replicas(), &sim.config().scheduler, workload);
        dec.iter_mut().for_each(|d| *d /= per_step);
        (pre, dec)
    };
    let e2e = |pre: &[f64], dec: &[f64]| -> Vec<f64> {
        reqs.iter()
            .zip(pre.iter().zip(dec))
            .map(|(r, (&p, &d))| p + (r.output_tokens.max(1) - 1) as f64 * d)
            .collect()
    };
    let value = match objective {
        Objective::MinGpus => gpus as f64,
        Objective::Throughput | Objective::Goodput | Objective::Energy => return None,
        Objective::E2eMean | Objective::E2eP50 | Objective::E2eP99 => {
            let (pre, dec) = floors();
            let s = Summary::of(&mut e2e(&pre, &dec), 1.0);
            match objective {
                Objective::E2eMean => s.mean,
                Objective::E2eP50 => s.p50,
                _ => s.p99,
            }
        }
        Objective::TtftMean | Objective::TtftP99 => {
            let (mut pre, _) = floors();
            let s = Summary::of(&mut pre, 1e3);
            if objective == Objective::TtftMean {
                s.mean
            } else {
                s.p99
            }
        }
        Objective::TpotMean | Objective::TpotP99 => {
            let (_, dec) = floors();
            let mut v: Vec<f64> = reqs
                .iter()
                .zip(&dec)
                .filter(|(r, _)| r.output_tokens >= 2)
                .map(|(_, &d)| d)
                .collect();
            if v.is_empty() {
                return None;
            }
            let s = Summary::of(&mut v, 1e3);
            if objective == Objective::TpotMean {
                s.mean
            } else {
                s.p99
            }
        }
        Objective::Cost => {
            let (pre, dec) = floors();
            let first = reqs[0].arrival_s;
            let end = reqs
                .iter()
                .zip(e2e(&pre, &dec))
                .map(|(r, e)| r.arrival_s + e)
                .fold(f64::NEG_INFINITY, f64::max);
            let out: f64 = reqs.iter().map(|r| r.output_tokens as f64).sum();
            if out <= 0.0 {
                return None;
            }
            gpus as f64 * (end - first).max(0.0) / 3600.0 * price / (out / 1e6)
        }
    };
    value.is_finite().then_some(value)
}
