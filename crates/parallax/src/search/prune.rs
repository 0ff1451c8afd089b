//! The simulation phase of a search: every candidate, or with bound pruning the candidates in
//! bound order, in fixed-size waves, skipping those that provably cannot enter the exact top.
//!
//! # Bound pruning
//! With [`Search::exact_top`] `= Some(k)` and an objective that has a bound
//! ([`bound::lower_bound`]), each candidate is lowered and bounded first (in parallel). The
//! candidates are then taken in ascending bound order (ties: candidate order): first the `k`
//! lowest bounds, then waves of [`BOUND_WAVE`]. Before each wave the thresholds are read from the plans simulated so far
//! that meet the constraints: `T_k`, the `k`-th best value, and `T_even`, the best value of
//! an evenly split plan. A candidate is skipped when its bound exceeds `T_k` (and, for an
//! evenly split plan, `T_even` too) by more than [`bound::MARGIN`]: its value is then worse
//! than `k` plans that meet the constraints, so whether it meets them or not it ranks below
//! them; an even plan's also below the best even plan, which the `best-even-split` baseline
//! reports. So the first `k` ranked plans, the best plan and every baseline are those of the
//! unpruned search. Thresholds change only between waves and waves have a fixed size, so the
//! set of pruned plans is the same for any thread count.

use super::bound::{self, MARGIN};
use super::{Ctx, Evaluated, Objective, Search, BOUND_WAVE};
use crate::error::Result;
use parallax_plan::Plan;
use parallax_sim::{SchedulerConfig, Simulator};
use rayon::prelude::*;

/// What became of one candidate.
pub(super) enum Slot {
    /// Simulated (or failed to lower or simulate).
    Done(Box<Result<Evaluated>>),
    /// Skipped by the time limit.
    Skipped,
    /// Skipped by bound pruning.
    Pruned,
}

/// A lowered candidate waiting for its simulation.
type Prepared = Option<Result<(Simulator, f64)>>;

impl Search {
    /// Whether the objective has a lower bound ([`bound::lower_bound`]).
    pub(super) fn has_bound(&self) -> bool {
        !self.objective.needs_slo() && self.objective != Objective::Energy
    }

    /// Whether this search prunes by bounds (see the module docs). Not with prefix caching:
    /// a cached prefix skips prefill work the bound's prefill floor counts.
    fn prunes(&self) -> bool {
        self.exact_top.is_some()
            && self.pareto.is_none()
            && self.has_bound()
            && !self.serving.prefix_caching
    }

    /// Simulate the candidates (see the module docs): one [`Slot`] per candidate, in
    /// candidate order, and the number of bound-pruned candidates when pruning is on.
    /// `tick` is called once per finished candidate.
    pub(super) fn simulate_all(
        &self,
        ctx: &Ctx<'_>,
        candidates: &[(Plan, SchedulerConfig)],
        tick: &(dyn Fn() + Sync),
    ) -> (Vec<Slot>, Option<u64>) {
        let run = |plan: &Plan, sched: &SchedulerConfig, prepared: Prepared| -> Slot {
            if ctx.past_deadline() {
                return Slot::Skipped;
            }
            let r = match prepared {
                Some(Ok((sim, price))) => ctx.score(&sim, plan.devices(), price),
                Some(Err(e)) => Err(e),
                None => ctx.evaluate(plan, sched),
            };
            // A rate search cut by the deadline has no result: the plan counts as not
            // simulated.
            match r {
                Err(_) if ctx.past_deadline() => Slot::Skipped,
                r => Slot::Done(Box::new(r)),
            }
        };
        let Some(keep) = self.exact_top.filter(|_| self.prunes()) else {
            let slots = candidates
                .par_iter()
                .map(|(plan, sched)| {
                    let s = run(plan, sched, None);
                    tick();
                    s
                })
                .collect();
            return (slots, None);
        };

        // Lower and bound every candidate.
        let lowered: Vec<(Option<f64>, Prepared)> = candidates
            .par_iter()
            .map(|(plan, sched)| {
                if ctx.past_deadline() {
                    return (None, None);
                }
                // A plan whose EPLB count the search chooses has no bound (redundant experts
                // can only make it faster than the lowering bounded here): never pruned,
                // evaluated with the choice.
                if self.eplb_counts(plan).is_some() {
                    return (None, None);
                }
                let prepared = ctx.prepare(plan, sched);
                let b = prepared.as_ref().ok().and_then(|(sim, price)| {
                    bound::lower_bound(self.objective, sim, &self.workload, plan.devices(), *price)
                });
                (b, Some(prepared))
            })
            .collect();
        let (bounds, mut prepared): (Vec<Option<f64>>, Vec<Prepared>) = lowered.into_iter().unzip();
        // Unbounded candidates first (they are never pruned), then ascending bounds.
        let key = |i: usize| bounds[i].unwrap_or(f64::NEG_INFINITY);
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));

        let mut slots: Vec<Option<Slot>> = (0..candidates.len()).map(|_| None).collect();
        // Values of the simulated plans that meet the constraints, all and evenly split.
        let mut met: Vec<f64> = Vec::new();
        let mut best_even = f64::INFINITY;
        let mut pruned = 0u64;
        // The first wave is the `keep` lowest bounds (the least that sets a threshold), then
        // waves of `BOUND_WAVE`.
        let first = keep.min(order.len());
        let waves = std::iter::once(&order[..first]).chain(order[first..].chunks(BOUND_WAVE));
        for wave in waves {
            met.sort_by(|a, b| self.objective.compare(*a, *b));
            let kth = met.get(keep - 1).copied().unwrap_or(f64::INFINITY);
            let beyond = |b: f64, t: f64| b > t + t.abs() * MARGIN;
            let mut todo: Vec<(usize, Prepared)> = Vec::new();
            for &i in wave {
                let skip = bounds[i].is_some_and(|b| {
                    beyond(b, kth) && (candidates[i].0.layers.is_some() || beyond(b, best_even))
                });
                if skip {
                    slots[i] = Some(Slot::Pruned);
                    pruned += 1;
                    tick();
                } else {
                    todo.push((i, prepared[i].take()));
                }
            }
            let done: Vec<(usize, Slot)> = todo
                .into_par_iter()
                .map(|(i, p)| {
                    let (plan, sched) = &candidates[i];
                    let s = run(plan, sched, p);
                    tick();
                    (i, s)
                })
                .collect();
            for (i, s) in done {
                if let Slot::Done(r) = &s {
                    if let Ok(e) = r.as_ref() {
                        if e.meets {
                            met.push(e.value);
                            let even = candidates[i].0.layers.is_none();
                            if even && self.objective.compare(e.value, best_even).is_lt() {
                                best_even = e.value;
                            }
                        }
                    }
                }
                slots[i] = Some(s);
            }
        }
        let slots = slots
            .into_iter()
            .map(|s| s.unwrap_or(Slot::Skipped))
            .collect();
        (slots, Some(pruned))
    }
}
