//! Max-load placement by mixed-integer linear programming (through `good_lp`), and the
//! exact combinatorial branch and bound of the `bnb` module for the non-contiguous model.
//!
//! The default backend, [`MilpBackend::BranchAndBound`], solves the non-contiguous model
//! by a pure-Rust branch and bound with counting and transfer bounds (it proves the
//! optima of GNMT and BERT-24 in seconds); models it does not cover (contiguity, the
//! max-forward + max-backward objective) go to the best MILP backend compiled in: the
//! pure-Rust `microlp`, enough for small graphs (tens of classes), or HiGHS with the cargo
//! feature `highs` (it compiles HiGHS from source and needs `cmake` and a C++ compiler).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use good_lp::{
    constraint, variable, Constraint, Expression, ProblemVariables, Solution, SolutionStatus,
    SolverModel, Variable, WithInitialSolution, WithTimeLimit,
};
use serde::{Deserialize, Serialize};

use crate::contract::Contraction;
use crate::error::PlaceError;
use crate::eval::{evaluate, is_contiguous_on_accelerators, violations, Placement};
use crate::limits::{Limits, ProofStatus, StopReason, DEFAULT_TIME_LIMIT};
use crate::model::Instance;
use crate::throughput::{lower_bound, solve_contiguous};

/// Which MILP solver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MilpBackend {
    /// Pure Rust (`microlp`); always available.
    Microlp,
    /// HiGHS; only with the `highs` cargo feature.
    Highs,
    /// The exact combinatorial branch and bound of the `bnb` module (pure Rust, always
    /// available) for the non-contiguous model; contiguous models and
    /// [`solve_milp_split_maxima`] use [`MilpBackend::best_available`] instead. The
    /// default.
    #[serde(rename = "branch_and_bound")]
    BranchAndBound,
}

impl MilpBackend {
    /// The best MILP solver compiled in: HiGHS when compiled in, microlp otherwise.
    pub fn best_available() -> MilpBackend {
        if cfg!(feature = "highs") {
            MilpBackend::Highs
        } else {
            MilpBackend::Microlp
        }
    }

    /// The name used in reports: `microlp`, `highs` or `branch_and_bound`.
    pub fn name(self) -> &'static str {
        match self {
            MilpBackend::Microlp => "microlp",
            MilpBackend::Highs => "highs",
            MilpBackend::BranchAndBound => "branch_and_bound",
        }
    }
}

/// Options of [`solve_milp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MilpOptions {
    /// Impose contiguity (an acyclic quotient of device sets); then the optimum equals
    /// [`crate::solve_contiguous`]'s.
    pub contiguous: bool,
    /// With `contiguous`, whether the CPUs' sets must be contiguous too. `false` relaxes
    /// contiguity on CPUs as the paper's MILP can (`ALSO_FORCE_ON_CPUS`): every class on a
    /// CPU counts as a device of its own, so only the accelerators' sets must form an
    /// acyclic quotient, paths through CPU nodes included (see
    /// [`crate::eval::is_contiguous_on_accelerators`]). Default `true`.
    pub cpu_contiguous: bool,
    /// Time limit in seconds for the whole solve (seed and MILP), at most
    /// [`crate::limits::MAX_TIME_LIMIT_SECS`]; `None` = unlimited. Default: the
    /// [`crate::limits::DEFAULT_TIME_LIMIT`].
    pub time_limit: Option<f64>,
    /// Solver backend. Default [`MilpBackend::BranchAndBound`].
    pub backend: MilpBackend,
    /// Seed the MILP with the DP's contiguous optimum ([`crate::solve_contiguous`], given at
    /// most half the time): its value bounds the MILP's objective (which prunes variables
    /// and keeps the coefficients well scaled), and it is returned when the MILP finds
    /// nothing better in time. Default `true`.
    pub seed: bool,
}

impl Default for MilpOptions {
    fn default() -> Self {
        MilpOptions {
            contiguous: false,
            cpu_contiguous: true,
            time_limit: Some(DEFAULT_TIME_LIMIT.as_secs_f64()),
            backend: MilpBackend::BranchAndBound,
            seed: true,
        }
    }
}

/// The result of [`solve_milp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MilpSolution {
    /// The placement, re-evaluated from scratch.
    pub placement: Placement,
    /// Optimal, or stopped by the time limit.
    pub status: ProofStatus,
    /// Number of MILP variables (branch and bound: items after its reduction).
    pub variables: usize,
    /// Number of MILP constraints (branch and bound: transfer hyperedges).
    pub constraints: usize,
    /// The seed's value (the DP's contiguous optimum, or its best placement when the DP was
    /// stopped); `None` when not seeded.
    pub seed: Option<f64>,
    /// Whether the returned placement is the seed (the MILP found nothing better).
    pub from_seed: bool,
    /// The backend that solved it (a contiguous model asked of
    /// [`MilpBackend::BranchAndBound`] names the MILP backend used instead).
    pub backend: MilpBackend,
    /// Search nodes of the branch and bound (0 for the MILP backends).
    pub nodes: u64,
    /// Why the MILP (or the branch and bound) itself stopped before it finished, `None`
    /// when it finished. Set even when `status` is optimal because the seed's own proof
    /// settles the question (the DP's proven contiguous optimum under contiguity): the
    /// MILP's cross-check was then cut short.
    pub solver_stop: Option<StopReason>,
}

/// Most constraints [`solve_milp`] builds; a larger model is not built (the seed is
/// returned with [`StopReason::MemoryLimit`]).
pub const MAX_CONSTRAINTS: usize = 4_000_000;

struct Model {
    vars: ProblemVariables,
    load: Variable,
    x: Vec<Vec<Option<Variable>>>,
    constraints: Vec<Constraint>,
    nvars: usize,
    /// Times are divided by this (the seed's value when there is one): keeps the
    /// coefficients near 1 whatever the input's units.
    scale: f64,
}

/// Builds the model; `ub` (the seed's value, or ∞) bounds the objective: class-device
/// variables whose own time already exceeds it are left out. `None` when the model would
/// have more than [`MAX_CONSTRAINTS`] constraints.
/// With `split`, the objective is max forward load + max backward load (see
/// [`solve_milp_split_maxima`]) instead of the max load.
fn build(inst: &Instance, opts: &MilpOptions, ub: f64, split: bool) -> Option<Model> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let nd = k + l;
    let nc = inst.classes;
    let members = inst.class_members();
    let csize: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&u| inst.size[u]).sum())
        .collect();
    let csup: Vec<bool> = members
        .iter()
        .map(|m| m.iter().all(|&u| inst.supported[u]))
        .collect();
    let cp_acc: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&u| inst.p_acc[u]).sum())
        .collect();
    let cp_cpu: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&u| inst.p_cpu[u]).sum())
        .collect();
    let cap = inst.devices.accelerator_memory;
    let ub_tol = ub * (1.0 + 1e-9);
    let allowed = |c: usize, d: usize| -> bool {
        if d < k {
            csup[c] && csize[c] <= cap && cp_acc[c] <= ub_tol
        } else {
            cp_cpu[c] <= ub_tol
        }
    };
    // forward class graph for contiguity (with mirrored edges of backward-only classes)
    let mut cedges: BTreeSet<(usize, usize)> = BTreeSet::new();
    if opts.contiguous {
        let mut has_fwd = vec![false; nc];
        for u in 0..inst.len() {
            has_fwd[inst.class[u]] |= !inst.backward[u];
        }
        for u in 0..inst.len() {
            for &v in &inst.succ[u] {
                let (a, b) = (inst.class[u], inst.class[v]);
                if a == b {
                    continue;
                }
                if !inst.backward[u] && !inst.backward[v] {
                    cedges.insert((a, b));
                } else if inst.backward[u] && inst.backward[v] && (!has_fwd[a] || !has_fwd[b]) {
                    cedges.insert((b, a));
                }
            }
        }
    }
    // count the constraints before building anything big
    let edge_rows: usize = (0..inst.len())
        .map(|u| inst.succ[u].len().saturating_mul(2).saturating_mul(k))
        .fold(0usize, usize::saturating_add);
    let order_rows = cedges.len().saturating_mul(nd + 1).saturating_mul(nd + 1);
    let rows = nc
        .saturating_add(nd)
        .saturating_add(k)
        .saturating_add(k)
        .saturating_add(edge_rows)
        .saturating_add(order_rows);
    if rows > MAX_CONSTRAINTS {
        return None;
    }
    let scale = if ub.is_finite() && ub > 0.0 {
        ub
    } else {
        let lb = (0..nc)
            .map(|c| {
                (0..nd)
                    .filter(|&d| allowed(c, d))
                    .map(|d| if d < k { cp_acc[c] } else { cp_cpu[c] })
                    .fold(f64::INFINITY, f64::min)
            })
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        if lb > 0.0 {
            lb
        } else {
            1.0
        }
    };
    let mut vars = ProblemVariables::new();
    let mut nvars = 0usize;
    let mut constraints = Vec::new();
    let load = if ub.is_finite() {
        vars.add(variable().min(0.0).max(ub_tol / scale))
    } else {
        vars.add(variable().min(0.0))
    };
    nvars += 1;
    let mut x: Vec<Vec<Option<Variable>>> = vec![vec![None; nd]; nc];
    for c in 0..nc {
        for (d, slot) in x[c].iter_mut().enumerate() {
            if !allowed(c, d) {
                continue;
            }
            *slot = Some(vars.add(variable().binary()));
            nvars += 1;
        }
        let sum: Expression = x[c].iter().flatten().map(|&v| Expression::from(v)).sum();
        constraints.push(constraint!(sum == 1.0));
    }
    let xe = |c: usize, d: usize, x: &Vec<Vec<Option<Variable>>>| -> Expression {
        x[c][d].map_or(Expression::from(0.0), Expression::from)
    };
    // cut variables: y[u][d] >= |x[cu][d] - x[cv][d]| for u's successors v in other classes
    let mut load_expr: Vec<Expression> = vec![Expression::from(0.0); nd];
    // with overlap, transfers form their own row per accelerator: load >= Σ transfers
    let mut transfer_expr: Vec<Expression> = vec![Expression::from(0.0); k];
    // with `split`, load_expr holds the forward part and back_expr the backward part
    let mut back_expr: Vec<Expression> = vec![Expression::from(0.0); nd];
    let back_part = |c: usize, acc: bool| -> f64 {
        members[c]
            .iter()
            .filter(|&&u| inst.backward[u])
            .map(|&u| if acc { inst.p_acc[u] } else { inst.p_cpu[u] })
            .sum()
    };
    for c in 0..nc {
        for d in 0..nd {
            if let Some(v) = x[c][d] {
                let p = if d < k { cp_acc[c] } else { cp_cpu[c] };
                if split {
                    let b = back_part(c, d < k);
                    load_expr[d] += ((p - b) / scale) * v;
                    back_expr[d] += (b / scale) * v;
                } else {
                    load_expr[d] += (p / scale) * v;
                }
            }
        }
    }
    for u in 0..inst.len() {
        let other: BTreeSet<usize> = inst.succ[u]
            .iter()
            .map(|&v| inst.class[v])
            .filter(|&cv| cv != inst.class[u])
            .collect();
        if other.is_empty() || inst.out_cost[u] == 0.0 {
            continue;
        }
        for d in 0..k {
            let xu_var = x[inst.class[u]][d];
            if xu_var.is_none() && other.iter().all(|&cv| x[cv][d].is_none()) {
                continue; // neither end can be on d
            }
            let y = vars.add(variable().min(0.0).max(1.0));
            nvars += 1;
            let xu = xe(inst.class[u], d, &x);
            for &cv in &other {
                let xv = xe(cv, d, &x);
                constraints.push(constraint!(y >= xu.clone() - xv.clone()));
                constraints.push(constraint!(y >= xv - xu.clone()));
            }
            // a cut dearer than the bound can never be paid: clamping its cost to twice the
            // bound keeps the integer solutions the same and the coefficients near 1
            let cost = if ub.is_finite() {
                inst.out_cost[u].min(2.0 * ub_tol)
            } else {
                inst.out_cost[u]
            };
            if inst.overlap {
                transfer_expr[d] += (cost / scale) * y;
            } else if split && inst.backward[u] {
                back_expr[d] += (cost / scale) * y;
            } else {
                load_expr[d] += (cost / scale) * y;
            }
        }
    }
    if split {
        let fwd = vars.add(variable().min(0.0));
        let bwd = vars.add(variable().min(0.0));
        nvars += 2;
        for e in load_expr {
            constraints.push(constraint!(e <= fwd));
        }
        for e in back_expr {
            constraints.push(constraint!(e <= bwd));
        }
        constraints.push(constraint!(fwd + bwd <= load));
    } else {
        for e in load_expr {
            constraints.push(constraint!(e <= load));
        }
    }
    if inst.overlap {
        for e in transfer_expr {
            constraints.push(constraint!(e <= load));
        }
    }
    if cap.is_finite() && cap > 0.0 && inst.total_size() > cap {
        for d in 0..k {
            let m: Expression = (0..nc)
                .filter_map(|c| x[c][d].map(|v| (csize[c] / cap) * v))
                .sum();
            constraints.push(constraint!(m <= 1.0));
        }
    }
    if opts.contiguous && opts.cpu_contiguous {
        // acyclic quotient: device positions P_d with P_e >= P_d + 1 whenever a forward
        // edge a -> b has a on d and b on e (big-M on the two assignment binaries)
        let big = nd as f64;
        let pos: Vec<Variable> = (0..nd)
            .map(|_| vars.add(variable().min(0.0).max(big - 1.0)))
            .collect();
        nvars += nd;
        for &(a, b) in &cedges {
            for d in 0..nd {
                for e in 0..nd {
                    if d == e {
                        continue;
                    }
                    let (Some(xa), Some(xb)) = (x[a][d], x[b][e]) else {
                        continue;
                    };
                    constraints.push(constraint!(pos[e] - pos[d] >= 1.0 - big * (2.0 - xa - xb)));
                }
            }
        }
    } else if opts.contiguous {
        // contiguity relaxed on CPUs: positions P_d for the accelerators and Q_s for every
        // component s of the class order graph (its classes on CPUs form a device of
        // their own); a class edge a -> b orders the holders of a and b when they differ
        let comp = crate::eval::class_components(inst, &cedges);
        let on_cpu: Vec<Option<Expression>> = (0..nc)
            .map(|c| {
                let vs: Vec<Variable> = (k..nd).filter_map(|d| x[c][d]).collect();
                (!vs.is_empty()).then(|| vs.into_iter().map(Expression::from).sum())
            })
            .collect();
        let cpu_comps: BTreeSet<usize> = (0..nc)
            .filter(|&c| on_cpu[c].is_some())
            .map(|c| comp[c])
            .collect();
        let holders = k + cpu_comps.len();
        let big = holders as f64;
        let pos: Vec<Variable> = (0..k)
            .map(|_| vars.add(variable().min(0.0).max(big - 1.0)))
            .collect();
        let qpos: BTreeMap<usize, Variable> = cpu_comps
            .iter()
            .map(|&s| (s, vars.add(variable().min(0.0).max(big - 1.0))))
            .collect();
        nvars += holders;
        // (holder: accelerator d as `d`, CPU component s as `nd + s`; its position; the
        // indicator that the class is there) of every holder a class may use
        let places = |c: usize| -> Vec<(usize, Variable, Expression)> {
            let mut out: Vec<(usize, Variable, Expression)> = (0..k)
                .filter_map(|d| x[c][d].map(|v| (d, pos[d], Expression::from(v))))
                .collect();
            if let (Some(&q), Some(e)) = (qpos.get(&comp[c]), &on_cpu[c]) {
                out.push((nd + comp[c], q, e.clone()));
            }
            out
        };
        for &(a, b) in &cedges {
            let (pa, pb) = (places(a), places(b));
            for (d, p, xa) in &pa {
                for (e, q, xb) in &pb {
                    if d == e {
                        continue; // the same holder: no order needed
                    }
                    constraints.push(constraint!(
                        *q - *p >= 1.0 - big * (2.0 - xa.clone() - xb.clone())
                    ));
                }
            }
        }
    }
    Some(Model {
        vars,
        load,
        x,
        constraints,
        nvars,
        scale,
    })
}

fn extract<S: Solution>(sol: &S, x: &[Vec<Option<Variable>>], inst: &Instance) -> Vec<usize> {
    let mut cslot = vec![0usize; x.len()];
    for (c, row) in x.iter().enumerate() {
        let mut best = (f64::NEG_INFINITY, 0usize);
        for (d, v) in row.iter().enumerate() {
            if let Some(v) = v {
                let val = sol.value(*v);
                if val > best.0 {
                    best = (val, d);
                }
            }
        }
        cslot[c] = best.1;
    }
    (0..inst.len()).map(|u| cslot[inst.class[u]]).collect()
}

/// What the MILP backend returned.
struct Solved {
    slot: Vec<usize>,
    /// The solver proved its solution optimal.
    optimal: bool,
    /// The solver's own lower bound (unscaled), when it reports one.
    bound: Option<f64>,
}

/// Solves max-load placement by MILP: binary class-to-device variables, cut variables for
/// the transfer costs, memory rows, and (optionally) contiguity as an acyclic quotient:
/// device positions P with P_e ≥ P_d + 1 whenever a forward edge runs from device d to
/// device e (see [`crate::eval::is_contiguous`]).
///
/// With [`MilpBackend::BranchAndBound`] (the default) the non-contiguous model is solved by
/// the combinatorial branch and bound of the `bnb` module instead of a MILP (see the crate
/// README); `variables` and `constraints` then count its items and hyperedges and `nodes`
/// its search nodes. Contiguous models always use a MILP backend.
///
/// With [`MilpOptions::seed`] (the default) the DP's contiguous optimum is computed first;
/// it bounds the objective, is given to the solver as a start, and is returned (with the
/// best proven bound) when the MILP finds nothing better, fails numerically, or runs out of
/// time — running out of time is a result, never an error. Device counts are capped at the
/// number of classes first ([`Instance::usable`]).
///
/// # Arguments
/// * `inst` — a validated instance.
/// * `opts` — contiguity, time limit, backend, seeding.
///
/// # Errors
/// [`PlaceError::Unsupported`] when HiGHS is requested without the `highs` feature or the
/// time limit is out of range; [`PlaceError::InfeasibleMemory`] when the MILP is
/// infeasible; [`PlaceError::Milp`] for solver failures without a seed to fall back on;
/// [`PlaceError::Verification`] if the solution breaks a constraint. Unseeded, the branch and
/// bound returns [`PlaceError::InfeasibleMemory`] when no placement exists and
/// [`PlaceError::Unsupported`] when the time runs out before it finds one.
///
/// # Complexity
/// O(C·(k+l) + m·k) variables and O(m·k + E·(k+l)²) constraints (C classes, m edges, E
/// class edges under contiguity, at most [`MAX_CONSTRAINTS`]); solve time is exponential
/// in the worst case.
pub fn solve_milp(inst: &Instance, opts: &MilpOptions) -> Result<MilpSolution, PlaceError> {
    let started = Instant::now();
    let time_limit = match opts.time_limit {
        Some(t) => Some(Limits::time_limit_from_secs(t)?),
        None => None,
    };
    let backend = match opts.backend {
        MilpBackend::BranchAndBound if opts.contiguous => MilpBackend::best_available(),
        b => b,
    };
    if backend == MilpBackend::Highs && !cfg!(feature = "highs") {
        return Err(PlaceError::Unsupported(
            "the HiGHS backend needs parallax-place built with the `highs` feature".into(),
        ));
    }
    let usable = inst.usable();
    let inst: &Instance = &usable;
    // the contraction fuses classes that contiguity ties together, so its bound holds
    // for contiguous placements only
    let trivial_lb = if opts.contiguous {
        lower_bound(inst, &Contraction::new(inst, false))
    } else {
        class_lower_bound(inst)
    };
    // the seed: the DP's contiguous optimum, with at most half the time
    let seed = if opts.seed {
        let limits = Limits {
            time_limit: time_limit.map(|d| d / 2),
            ..Limits::default()
        };
        match solve_contiguous(inst, &limits) {
            Ok(s) => Some(s),
            Err(PlaceError::InfeasibleMemory { .. }) if opts.contiguous => {
                return Err(PlaceError::InfeasibleMemory {
                    accelerators: usable.devices.accelerators,
                    memory: inst.devices.accelerator_memory,
                    total_size: inst.total_size(),
                });
            }
            Err(PlaceError::Verification(e)) => return Err(PlaceError::Verification(e)),
            Err(_) => None,
        }
    } else {
        None
    };
    let ub = seed
        .as_ref()
        .map_or(f64::INFINITY, |s| s.placement.max_load);
    // under contiguity the DP's proof settles the MILP's question
    let seed_lb = match &seed {
        Some(s) if opts.contiguous && opts.cpu_contiguous => match s.status {
            ProofStatus::Optimal => ub,
            ProofStatus::Stopped { lower_bound, .. } => lower_bound,
        },
        _ => trivial_lb,
    };
    if backend == MilpBackend::BranchAndBound {
        let deadline = Limits {
            time_limit,
            ..Limits::default()
        }
        .deadline(started);
        return solve_bnb(inst, seed.as_ref(), trivial_lb, deadline);
    }
    let left = |limit: Option<std::time::Duration>| {
        limit.map(|d| d.saturating_sub(started.elapsed()).as_secs_f64())
    };
    let from_seed = |reason: StopReason, lb: f64, nvars: usize, ncons: usize| {
        let s = seed.as_ref().map(|s| s.placement.clone());
        s.map(|placement| MilpSolution {
            status: ProofStatus::stopped(reason, lb.max(trivial_lb), placement.max_load),
            seed: Some(placement.max_load),
            placement,
            variables: nvars,
            constraints: ncons,
            from_seed: true,
            backend,
            nodes: 0,
            solver_stop: Some(reason),
        })
    };
    let Some(m) = build(inst, opts, ub, false) else {
        return from_seed(StopReason::MemoryLimit, seed_lb, 0, 0).ok_or_else(|| {
            PlaceError::Unsupported(format!(
                "the MILP would have more than {MAX_CONSTRAINTS} constraints and no seed placement is known"
            ))
        });
    };
    let ncons = m.constraints.len();
    let nvars = m.nvars;
    let remaining = left(time_limit);
    if remaining.is_some_and(|t| t <= 0.0) {
        return from_seed(StopReason::TimeLimit, seed_lb, nvars, ncons).ok_or_else(|| {
            PlaceError::Unsupported("the time limit ran out before the MILP".into())
        });
    }
    let start: Vec<(Variable, f64)> = match &seed {
        Some(s) => {
            let slot = crate::eval::placement_slots(inst, &s.placement);
            let mut v = Vec::new();
            for (c, members) in inst.class_members().iter().enumerate() {
                let Some(&u) = members.first() else { continue };
                for (d, var) in m.x[c].iter().enumerate() {
                    if let Some(var) = var {
                        v.push((*var, if d == slot[u] { 1.0 } else { 0.0 }));
                    }
                }
            }
            v
        }
        None => Vec::new(),
    };
    let solved = match backend {
        MilpBackend::Highs => solve_highs(m, remaining, start, inst),
        _ => solve_microlp(m, remaining, start, inst),
    };
    let solved = match solved {
        Ok(s) => s,
        Err(e) => {
            let timed_out = left(time_limit).is_some_and(|t| t <= 0.0);
            let reason = if timed_out {
                StopReason::TimeLimit
            } else {
                StopReason::SolverFailure
            };
            return match (from_seed(reason, seed_lb, nvars, ncons), e) {
                (_, PlaceError::InfeasibleMemory { .. }) if seed.is_none() => {
                    Err(PlaceError::InfeasibleMemory {
                        accelerators: usable.devices.accelerators,
                        memory: inst.devices.accelerator_memory,
                        total_size: inst.total_size(),
                    })
                }
                (Some(sol), _) => Ok(sol),
                (None, e) => Err(e),
            };
        }
    };
    let placement = evaluate(inst, &solved.slot);
    let bad = violations(inst, &solved.slot);
    let ordered = if opts.cpu_contiguous {
        placement.contiguous
    } else {
        is_contiguous_on_accelerators(inst, &solved.slot)
    };
    if !bad.is_empty() || (opts.contiguous && !ordered) {
        return Err(PlaceError::Verification(format!(
            "MILP placement breaks constraints: {bad:?}, contiguous = {}",
            placement.contiguous
        )));
    }
    let lb = if solved.optimal {
        placement.max_load.min(ub)
    } else {
        solved.bound.unwrap_or(0.0).max(seed_lb)
    };
    let solver_stop = (!solved.optimal).then_some(StopReason::TimeLimit);
    let status = |value: f64| {
        if solved.optimal {
            ProofStatus::Optimal
        } else {
            ProofStatus::stopped(StopReason::TimeLimit, lb.max(trivial_lb), value)
        }
    };
    if placement.max_load < ub {
        return Ok(MilpSolution {
            status: status(placement.max_load),
            placement,
            variables: nvars,
            constraints: ncons,
            seed: seed.as_ref().map(|s| s.placement.max_load),
            from_seed: false,
            backend,
            nodes: 0,
            solver_stop,
        });
    }
    // the seed is at least as good
    match &seed {
        Some(s) => Ok(MilpSolution {
            status: status(ub),
            placement: s.placement.clone(),
            variables: nvars,
            constraints: ncons,
            seed: Some(ub),
            from_seed: true,
            backend,
            nodes: 0,
            solver_stop,
        }),
        None => Ok(MilpSolution {
            status: status(placement.max_load),
            placement,
            variables: nvars,
            constraints: ncons,
            seed: None,
            from_seed: false,
            backend,
            nodes: 0,
            solver_stop,
        }),
    }
}

/// A simple lower bound on the non-contiguous max-load optimum: the largest colocation
/// class on its cheapest device, and the total over all devices.
fn class_lower_bound(inst: &Instance) -> f64 {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut best_single: f64 = 0.0;
    let mut total = 0.0;
    for m in inst.class_members() {
        let supported = m.iter().all(|&u| inst.supported[u]);
        let size: f64 = m.iter().map(|&u| inst.size[u]).sum();
        let acc = if k > 0 && supported && size <= inst.devices.accelerator_memory {
            m.iter().map(|&u| inst.p_acc[u]).sum()
        } else {
            f64::INFINITY
        };
        let cpu = if l > 0 {
            m.iter().map(|&u| inst.p_cpu[u]).sum()
        } else {
            f64::INFINITY
        };
        let best = f64::min(acc, cpu);
        if best.is_finite() {
            best_single = best_single.max(best);
            total += best;
        }
    }
    best_single.max(total / (k + l).max(1) as f64)
}

/// The non-contiguous model by the branch and bound of the `bnb` module, from the seed.
fn solve_bnb(
    inst: &Instance,
    seed: Option<&crate::throughput::ThroughputSolution>,
    trivial_lb: f64,
    deadline: crate::limits::Deadline,
) -> Result<MilpSolution, PlaceError> {
    let (start, start_value) = match seed {
        Some(s) => (
            crate::eval::placement_slots(inst, &s.placement),
            s.placement.max_load,
        ),
        None => (Vec::new(), f64::INFINITY),
    };
    let out = crate::bnb::search(inst, &start, start_value, trivial_lb, deadline);
    if !out.improved && seed.is_none() {
        return Err(if out.optimal {
            PlaceError::InfeasibleMemory {
                accelerators: inst.devices.accelerators,
                memory: inst.devices.accelerator_memory,
                total_size: inst.total_size(),
            }
        } else {
            PlaceError::Unsupported(
                "the time limit ran out before the branch and bound found a placement (seed it with the DP)"
                    .into(),
            )
        });
    }
    let placement = evaluate(inst, &out.slot);
    let bad = violations(inst, &out.slot);
    if !bad.is_empty() {
        return Err(PlaceError::Verification(format!(
            "branch-and-bound placement breaks constraints: {bad:?}"
        )));
    }
    let status = if out.optimal {
        ProofStatus::Optimal
    } else {
        ProofStatus::stopped(
            StopReason::TimeLimit,
            out.lower_bound.max(trivial_lb),
            placement.max_load,
        )
    };
    Ok(MilpSolution {
        status,
        placement,
        variables: out.items,
        constraints: out.hyperedges,
        seed: seed.map(|s| s.placement.max_load),
        from_seed: !out.improved,
        backend: MilpBackend::BranchAndBound,
        nodes: out.nodes,
        solver_stop: (!out.optimal).then_some(StopReason::TimeLimit),
    })
}

fn map_err(e: good_lp::ResolutionError, inst: &Instance) -> PlaceError {
    match e {
        good_lp::ResolutionError::Infeasible => PlaceError::InfeasibleMemory {
            accelerators: inst.devices.accelerators,
            memory: inst.devices.accelerator_memory,
            total_size: inst.total_size(),
        },
        other => PlaceError::Milp(other.to_string()),
    }
}

/// How long past its time limit a microlp solve is waited for before it is abandoned.
const MICROLP_GRACE_SECS: f64 = 0.005;

fn solve_microlp(
    m: Model,
    time_limit: Option<f64>,
    start: Vec<(Variable, f64)>,
    inst: &Instance,
) -> Result<Solved, PlaceError> {
    let mut model = m.vars.minimise(m.load).using(good_lp::microlp);
    if let Some(t) = time_limit {
        model = model.with_time_limit(t);
    }
    if !start.is_empty() {
        model = model.with_initial_solution(start);
    }
    for c in m.constraints {
        model.add_constraint(c);
    }
    let sol = match time_limit {
        None => model.solve(),
        Some(t) => {
            // microlp reads its clock every 1,000 simplex pivots, which on a model of
            // thousands of rows can be half a second past its limit: the solve runs on a
            // thread of its own and is abandoned at the limit (it stops by itself at its
            // next check), so that the caller's budget holds
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                // the receiver may have given up: nothing to do then
                let _ = tx.send(model.solve());
            });
            let wait = std::time::Duration::try_from_secs_f64(t + MICROLP_GRACE_SECS)
                .unwrap_or(std::time::Duration::MAX);
            match rx.recv_timeout(wait) {
                Ok(sol) => sol,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(PlaceError::Milp(format!(
                        "the MILP solver did not stop within its time limit ({t:.3} s)"
                    )))
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(PlaceError::Milp(
                        "the MILP solver ended without a result".into(),
                    ))
                }
            }
        }
    }
    .map_err(|e| map_err(e, inst))?;
    let optimal = matches!(sol.status(), SolutionStatus::Optimal);
    let slot = extract(&sol, &m.x, inst);
    let bound = sol
        .into_inner()
        .stats()
        .best_bound
        .filter(|b| b.is_finite())
        .map(|b| b * m.scale);
    Ok(Solved {
        slot,
        optimal,
        bound,
    })
}

#[cfg(feature = "highs")]
fn solve_highs(
    m: Model,
    time_limit: Option<f64>,
    start: Vec<(Variable, f64)>,
    inst: &Instance,
) -> Result<Solved, PlaceError> {
    // a proof, not HiGHS's default 0.01 % relative gap (which good_lp reports as a gap
    // limit, not an optimum)
    let mut model = m
        .vars
        .minimise(m.load)
        .using(good_lp::highs)
        .set_mip_rel_gap(0.0)
        .and_then(|p| p.set_mip_abs_gap(0.0))
        .map_err(|e| PlaceError::Milp(format!("HiGHS gap options: {e}")))?;
    if let Some(t) = time_limit {
        model = model.with_time_limit(t);
    }
    if !start.is_empty() {
        model = model.with_initial_solution(start);
    }
    for c in m.constraints {
        model.add_constraint(c);
    }
    let sol = model.solve().map_err(|e| map_err(e, inst))?;
    let optimal = matches!(sol.status(), SolutionStatus::Optimal);
    let slot = extract(&sol, &m.x, inst);
    Ok(Solved {
        slot,
        optimal,
        bound: None,
    })
}

#[cfg(not(feature = "highs"))]
fn solve_highs(
    _m: Model,
    _time_limit: Option<f64>,
    _start: Vec<(Variable, f64)>,
    _inst: &Instance,
) -> Result<Solved, PlaceError> {
    Err(PlaceError::Unsupported(
        "the HiGHS backend needs parallax-place built with the `highs` feature".into(),
    ))
}

/// The result of [`solve_milp_split_maxima`].
#[derive(Debug, Clone, PartialEq)]
pub struct SplitMaximaSolution {
    /// The placement, evaluated from scratch (its `max_load` is the plain max load).
    pub placement: Placement,
    /// Largest forward load of a device.
    pub forward: f64,
    /// Largest backward load of a device.
    pub backward: f64,
    /// The objective, `forward + backward`.
    pub value: f64,
    /// Optimal, or stopped by the time limit with the solver's bound.
    pub status: ProofStatus,
}

/// Minimises the paper's *max-forward + max-backward* objective (the authors' MILP with
/// `diffmaxima`): the largest forward load of any device plus the largest backward load,
/// where a device's forward (backward) load is the time of its forward (backward) nodes
/// plus the transfers of the forward (backward) nodes it sends or receives (CPUs pay no
/// transfers), as [`crate::eval::split_maxima`] evaluates. It models a pipeline whose
/// forward and backward passes are separated. Contiguity as in [`solve_milp`]
/// (`opts.contiguous`, `opts.cpu_contiguous`); not seeded (`opts.seed` is ignored).
///
/// # Errors
/// [`PlaceError::Unsupported`] with overlap, an out-of-range time limit, HiGHS without the
/// feature, or a model over [`MAX_CONSTRAINTS`]; [`PlaceError::InfeasibleMemory`] when
/// nothing fits; [`PlaceError::Milp`] for solver failures (a time limit that ends before
/// any solution included); [`PlaceError::Verification`] if the solution breaks a
/// constraint.
///
/// # Complexity
/// As [`solve_milp`].
pub fn solve_milp_split_maxima(
    inst: &Instance,
    opts: &MilpOptions,
) -> Result<SplitMaximaSolution, PlaceError> {
    if inst.overlap {
        return Err(PlaceError::Unsupported(
            "the max-forward + max-backward objective does not model overlap".into(),
        ));
    }
    let time_limit = match opts.time_limit {
        Some(t) => Some(Limits::time_limit_from_secs(t)?.as_secs_f64()),
        None => None,
    };
    if opts.backend == MilpBackend::Highs && !cfg!(feature = "highs") {
        return Err(PlaceError::Unsupported(
            "the HiGHS backend needs parallax-place built with the `highs` feature".into(),
        ));
    }
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let Some(m) = build(inst, opts, f64::INFINITY, true) else {
        return Err(PlaceError::Unsupported(format!(
            "the MILP would have more than {MAX_CONSTRAINTS} constraints"
        )));
    };
    let solved = match opts.backend {
        MilpBackend::Highs => solve_highs(m, time_limit, Vec::new(), inst),
        MilpBackend::Microlp => solve_microlp(m, time_limit, Vec::new(), inst),
        MilpBackend::BranchAndBound => match MilpBackend::best_available() {
            MilpBackend::Highs => solve_highs(m, time_limit, Vec::new(), inst),
            _ => solve_microlp(m, time_limit, Vec::new(), inst),
        },
    }?;
    let placement = evaluate(inst, &solved.slot);
    let bad = violations(inst, &solved.slot);
    let ordered = if !opts.contiguous {
        true
    } else if opts.cpu_contiguous {
        placement.contiguous
    } else {
        is_contiguous_on_accelerators(inst, &solved.slot)
    };
    if !bad.is_empty() || !ordered {
        return Err(PlaceError::Verification(format!(
            "MILP placement breaks constraints: {bad:?}, contiguous = {}",
            placement.contiguous
        )));
    }
    let (forward, backward) = crate::eval::split_maxima(inst, &solved.slot);
    let value = forward + backward;
    let status = if solved.optimal {
        ProofStatus::Optimal
    } else {
        ProofStatus::stopped(StopReason::TimeLimit, solved.bound.unwrap_or(0.0), value)
    };
    Ok(SplitMaximaSolution {
        placement,
        forward,
        backward,
        value,
        status,
    })
}
