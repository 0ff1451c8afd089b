//! The max-forward + max-backward objective with a result whatever the budget.
//!
//! [`crate::solve_milp_split_maxima`] solves the paper's alternative training objective
//! (Appendix C; the authors' MILP with `diffmaxima`) but, unseeded, fails when its time
//! limit ends before the solver's first solution. [`solve_split_maxima`] seeds it: the DP's
//! contiguous max-load optimum and the heuristic baselines that keep the requested
//! contiguity are scored on the split objective, and the best of them is returned when the
//! MILP finds nothing better in time, with a proven lower bound (the solver's, or
//! [`lower_bound`]).

use std::time::Instant;

use crate::baselines;
use crate::error::PlaceError;
pub use crate::eval::placement_slots;
use crate::eval::Placement;
use crate::eval::{evaluate, is_contiguous_on_accelerators, split_maxima, violations, Assignment};
use crate::limits::{Limits, ProofStatus, StopReason};
use crate::milp::{solve_milp_split_maxima, MilpOptions, SplitMaximaSolution};
use crate::model::Instance;
use crate::throughput::solve_contiguous;

/// A split-maxima solve with its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeededSplitMaxima {
    /// The returned solution (the MILP's, or the seed's when the MILP found nothing better).
    pub solution: SplitMaximaSolution,
    /// The seed's objective value (`None` when nothing qualified as a seed).
    pub seed: Option<f64>,
    /// Which placement the seed was: `ideal_dp` or a baseline's name.
    pub seed_from: Option<String>,
    /// Whether the returned placement is the seed.
    pub from_seed: bool,
}

/// A lower bound on the split-maxima optimum: for each direction (forward, backward), the
/// larger of the heaviest colocation class's time in that direction on its faster allowed
/// device kind, and the sum of those times over the devices a placement can use (at most
/// one per class). Transfers are left out, so the bound holds for every contiguity mode.
///
/// # Complexity
/// O(n).
pub fn lower_bound(inst: &Instance) -> f64 {
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let nc = inst.classes;
    let mut time = vec![[[0.0f64; 2]; 2]; nc]; // [class][backward][on cpu]
    let mut supported = vec![true; nc];
    for u in 0..inst.len() {
        let c = inst.class[u];
        let b = usize::from(inst.backward[u]);
        time[c][b][0] += inst.p_acc[u];
        time[c][b][1] += inst.p_cpu[u];
        supported[c] &= inst.supported[u];
    }
    let devices = (k + l).min(nc).max(1) as f64;
    let mut bound = 0.0;
    for b in 0..2 {
        let (mut sum, mut most) = (0.0f64, 0.0f64);
        for c in 0..nc {
            let acc = (k > 0 && supported[c]).then_some(time[c][b][0]);
            let cpu = (l > 0).then_some(time[c][b][1]);
            let t = match (acc, cpu) {
                (Some(a), Some(p)) => a.min(p),
                (Some(a), None) => a,
                (None, Some(p)) => p,
                (None, None) => 0.0,
            };
            sum += t;
            most = most.max(t);
        }
        bound += most.max(sum / devices);
    }
    bound
}

/// Whether a placement keeps the contiguity `opts` asks for.
fn keeps_contiguity(inst: &Instance, opts: &MilpOptions, slot: &[usize], p: &Placement) -> bool {
    if !opts.contiguous {
        true
    } else if opts.cpu_contiguous {
        p.contiguous
    } else {
        is_contiguous_on_accelerators(inst, slot)
    }
}

fn solution_of(inst: &Instance, slot: &[usize], status: ProofStatus) -> SplitMaximaSolution {
    let (forward, backward) = split_maxima(inst, slot);
    SplitMaximaSolution {
        placement: evaluate(inst, slot),
        forward,
        backward,
        value: forward + backward,
        status,
    }
}

/// An inference graph (no backward node): max forward + max backward load is the max load,
/// which the DP (fully contiguous) or the non-contiguous solver ([`crate::milp::solve_milp`])
/// proves directly. `None` for a training graph, contiguity relaxed on CPUs only, a solver
/// that stopped short of a proof, or (a safety net) a value that differs from the max load.
fn without_backward(
    inst: &Instance,
    opts: &MilpOptions,
    limit: Option<std::time::Duration>,
) -> Result<Option<SeededSplitMaxima>, PlaceError> {
    if inst.backward.iter().any(|&b| b) || !opts.seed {
        return Ok(None);
    }
    let (placement, status, from) = if opts.contiguous && opts.cpu_contiguous {
        let limits = Limits {
            time_limit: limit,
            ..Limits::default()
        };
        match solve_contiguous(inst, &limits) {
            Ok(dp) => (dp.placement, dp.status, "ideal_dp"),
            Err(_) => return Ok(None),
        }
    } else if !opts.contiguous {
        match crate::milp::solve_milp(inst, opts) {
            Ok(m) => (m.placement, m.status, m.backend.name()),
            Err(_) => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    if !matches!(status, ProofStatus::Optimal) {
        return Ok(None);
    }
    let slot = placement_slots(inst, &placement);
    if !violations(inst, &slot).is_empty() {
        return Ok(None);
    }
    let solution = solution_of(inst, &slot, ProofStatus::Optimal);
    let m = placement.max_load;
    if (solution.value - m).abs() > 1e-9 * m.abs().max(1.0) {
        return Ok(None);
    }
    Ok(Some(SeededSplitMaxima {
        seed: Some(solution.value),
        solution,
        seed_from: Some(from.to_string()),
        from_seed: true,
    }))
}

/// Minimises max forward load + max backward load ([`crate::eval::split_maxima`]) like
/// [`solve_milp_split_maxima`], seeded: first (with at most half of `opts.time_limit`) the
/// DP's contiguous max-load optimum and the [`baselines::run_all_with`] placements that are
/// feasible and keep the requested contiguity are scored on the split objective; the best
/// is the seed. The MILP then gets the rest of the time. The seed is returned when the MILP
/// finds nothing better, fails or runs out of time before a solution; its status then
/// carries the MILP's bound when it has one, else [`lower_bound`] (a gap of 0 is optimal).
/// `opts.seed = false` skips the seed (the MILP alone).
///
/// # Errors
/// As [`solve_milp_split_maxima`] when there is no seed to fall back on, and for requests
/// it rejects (overlap, HiGHS without the feature, a bad time limit) in any case.
///
/// # Complexity
/// That of [`crate::solve_contiguous`] and [`baselines::run_all_with`], then the MILP's.
pub fn solve_split_maxima(
    inst: &Instance,
    opts: &MilpOptions,
) -> Result<SeededSplitMaxima, PlaceError> {
    if inst.overlap {
        return Err(PlaceError::Unsupported(
            "the max-forward + max-backward objective does not model overlap".into(),
        ));
    }
    let limit = match opts.time_limit {
        Some(t) => Some(Limits::time_limit_from_secs(t)?),
        None => None,
    };
    let started = Instant::now();
    if let Some(done) = without_backward(inst, opts, limit)? {
        return Ok(done);
    }
    let mut seed: Option<(f64, String, Assignment)> = None;
    if opts.seed {
        let half = Limits {
            time_limit: limit.map(|t| t / 2),
            ..Limits::default()
        };
        let mut candidates: Vec<(String, Placement)> = Vec::new();
        if let Ok(dp) = solve_contiguous(inst, &half) {
            candidates.push(("ideal_dp".to_string(), dp.placement));
        }
        let left = Limits {
            time_limit: limit.map(|t| (t / 2).saturating_sub(started.elapsed())),
            ..Limits::default()
        };
        if left.time_limit.map_or(true, |t| !t.is_zero()) {
            for b in baselines::run_all_with(inst, &left) {
                if let (true, Some(p)) = (b.feasible, b.placement) {
                    candidates.push((b.name, p));
                }
            }
        }
        for (name, p) in candidates {
            let slot = placement_slots(inst, &p);
            if !violations(inst, &slot).is_empty() || !keeps_contiguity(inst, opts, &slot, &p) {
                continue;
            }
            let (f, b) = split_maxima(inst, &slot);
            if seed.as_ref().map_or(true, |s| f + b < s.0) {
                seed = Some((f + b, name, slot));
            }
        }
    }
    let rest = limit.map(|t| t.saturating_sub(started.elapsed()));
    let milp = if rest.is_some_and(|t| t.as_secs_f64() < 1e-3) {
        Err(PlaceError::Milp(
            "no time left for the MILP after the seed".into(),
        ))
    } else {
        solve_milp_split_maxima(
            inst,
            &MilpOptions {
                time_limit: rest.map(|t| t.as_secs_f64()),
                ..opts.clone()
            },
        )
    };
    let out_of_time = || limit.is_some_and(|t| started.elapsed() >= t);
    let Some((seed_value, seed_from, seed_slot)) = seed else {
        return milp.map(|solution| SeededSplitMaxima {
            solution,
            seed: None,
            seed_from: None,
            from_seed: false,
        });
    };
    let (bound, reason) = match milp {
        Ok(mut m) if m.value <= seed_value => {
            if let ProofStatus::Stopped {
                reason,
                lower_bound: lb,
                ..
            } = m.status
            {
                m.status = ProofStatus::stopped(reason, lb.max(lower_bound(inst)), m.value);
            }
            return Ok(SeededSplitMaxima {
                solution: m,
                seed: Some(seed_value),
                seed_from: Some(seed_from),
                from_seed: false,
            });
        }
        Ok(m) => match m.status {
            // the MILP proved m optimal yet the seed is better: only rounding can do that
            ProofStatus::Optimal => (m.value.min(seed_value), StopReason::SolverFailure),
            ProofStatus::Stopped {
                reason,
                lower_bound,
                ..
            } => (lower_bound, reason),
        },
        Err(PlaceError::Milp(_)) if out_of_time() => (0.0, StopReason::TimeLimit),
        Err(PlaceError::Milp(_)) => (0.0, StopReason::SolverFailure),
        Err(e) => return Err(e),
    };
    let bound = bound.max(lower_bound(inst));
    let status = ProofStatus::stopped(reason, bound, seed_value);
    Ok(SeededSplitMaxima {
        solution: solution_of(inst, &seed_slot, status),
        seed: Some(seed_value),
        seed_from: Some(seed_from),
        from_seed: true,
    })
}
