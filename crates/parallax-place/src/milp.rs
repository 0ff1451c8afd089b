//! Max-load placement by mixed-integer linear programming (through `good_lp`).
//!
//! The default build uses the pure-Rust `microlp` backend, enough for small graphs (tens of
//! classes). Build with the cargo feature `highs` for real graphs: it compiles HiGHS from
//! source and needs `cmake` and a C++ compiler.

use std::collections::BTreeSet;
use std::time::Instant;

use good_lp::{
    constraint, variable, Constraint, Expression, ProblemVariables, Solution, SolverModel,
    Variable, WithTimeLimit,
};
use serde::{Deserialize, Serialize};

use crate::contract::Contraction;
use crate::error::PlaceError;
use crate::eval::{evaluate, violations, Placement};
use crate::limits::{ProofStatus, StopReason};
use crate::model::Instance;
use crate::throughput::lower_bound;

/// Which MILP solver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MilpBackend {
    /// Pure Rust (`microlp`); always available.
    Microlp,
    /// HiGHS; only with the `highs` cargo feature.
    Highs,
}

impl MilpBackend {
    /// HiGHS when compiled in, microlp otherwise.
    pub fn best_available() -> MilpBackend {
        if cfg!(feature = "highs") {
            MilpBackend::Highs
        } else {
            MilpBackend::Microlp
        }
    }
}

/// Options of [`solve_milp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MilpOptions {
    /// Impose contiguity (an acyclic quotient of device sets); then the optimum equals
    /// [`crate::solve_contiguous`]'s.
    pub contiguous: bool,
    /// Solver time limit in seconds.
    pub time_limit: Option<f64>,
    /// Solver backend.
    pub backend: MilpBackend,
}

impl Default for MilpOptions {
    fn default() -> Self {
        MilpOptions {
            contiguous: false,
            time_limit: None,
            backend: MilpBackend::best_available(),
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
    /// Number of MILP variables.
    pub variables: usize,
    /// Number of MILP constraints.
    pub constraints: usize,
}

struct Model {
    vars: ProblemVariables,
    load: Variable,
    x: Vec<Vec<Option<Variable>>>,
    constraints: Vec<Constraint>,
    nvars: usize,
}

fn build(inst: &Instance, opts: &MilpOptions) -> Model {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let nd = k + l;
    let nc = inst.classes;
    let members = inst.class_members();
    let mut vars = ProblemVariables::new();
    let mut nvars = 0usize;
    let mut constraints = Vec::new();
    let load = vars.add(variable().min(0.0));
    nvars += 1;
    let csize: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&u| inst.size[u]).sum())
        .collect();
    let csup: Vec<bool> = members
        .iter()
        .map(|m| m.iter().all(|&u| inst.supported[u]))
        .collect();
    let mut x: Vec<Vec<Option<Variable>>> = vec![vec![None; nd]; nc];
    for c in 0..nc {
        for (d, slot) in x[c].iter_mut().enumerate() {
            if d < k && (!csup[c] || csize[c] > inst.devices.accelerator_memory) {
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
    for c in 0..nc {
        for d in 0..nd {
            if let Some(v) = x[c][d] {
                let p: f64 = members[c]
                    .iter()
                    .map(|&u| if d < k { inst.p_acc[u] } else { inst.p_cpu[u] })
                    .sum();
                load_expr[d] += p * v;
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
            let y = vars.add(variable().min(0.0).max(1.0));
            nvars += 1;
            let xu = xe(inst.class[u], d, &x);
            for &cv in &other {
                let xv = xe(cv, d, &x);
                constraints.push(constraint!(y >= xu.clone() - xv.clone()));
                constraints.push(constraint!(y >= xv - xu.clone()));
            }
            load_expr[d] += inst.out_cost[u] * y;
        }
    }
    for (d, e) in load_expr.into_iter().enumerate() {
        let _ = d;
        constraints.push(constraint!(e <= load));
    }
    for d in 0..k {
        let m: Expression = (0..nc).filter_map(|c| x[c][d].map(|v| csize[c] * v)).sum();
        constraints.push(constraint!(m <= inst.devices.accelerator_memory));
    }
    if opts.contiguous {
        // forward class graph (with mirrored edges of backward-only classes)
        let mut has_fwd = vec![false; nc];
        for u in 0..inst.len() {
            has_fwd[inst.class[u]] |= !inst.backward[u];
        }
        let mut cedges: BTreeSet<(usize, usize)> = BTreeSet::new();
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
    }
    Model {
        vars,
        load,
        x,
        constraints,
        nvars,
    }
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

/// Solves max-load placement by MILP: binary class-to-device variables, cut variables for
/// the transfer costs, memory rows, and (optionally) contiguity as an acyclic quotient:
/// device positions P with P_e ≥ P_d + 1 whenever a forward edge runs from device d to
/// device e (see [`crate::eval::is_contiguous`]).
///
/// # Arguments
/// * `inst` — a validated instance.
/// * `opts` — contiguity, time limit, backend.
///
/// # Errors
/// [`PlaceError::Unsupported`] when HiGHS is requested without the `highs` feature;
/// [`PlaceError::InfeasibleMemory`] when the MILP is infeasible; [`PlaceError::Milp`] for
/// other solver failures; [`PlaceError::Verification`] if the solution breaks a constraint.
///
/// # Complexity
/// O(C·(k+l) + m·k) variables and O(m·(k+l)²) constraints (C classes, m edges); solve time is
/// exponential in the worst case.
pub fn solve_milp(inst: &Instance, opts: &MilpOptions) -> Result<MilpSolution, PlaceError> {
    let started = Instant::now();
    let m = build(inst, opts);
    let ncons = m.constraints.len();
    let nvars = m.nvars;
    let x = m.x.clone();
    let slot = match opts.backend {
        MilpBackend::Microlp => {
            let mut model = m.vars.minimise(m.load).using(good_lp::microlp);
            if let Some(t) = opts.time_limit {
                model = model.with_time_limit(t);
            }
            for c in m.constraints {
                model.add_constraint(c);
            }
            let sol = model.solve().map_err(|e| map_err(e, inst))?;
            extract(&sol, &x, inst)
        }
        MilpBackend::Highs => solve_highs(m, opts, &x, inst)?,
    };
    let placement = evaluate(inst, &slot);
    let bad = violations(inst, &slot);
    if !bad.is_empty() || (opts.contiguous && !placement.contiguous) {
        return Err(PlaceError::Verification(format!(
            "MILP placement breaks constraints: {bad:?}, contiguous = {}",
            placement.contiguous
        )));
    }
    let timed_out = opts
        .time_limit
        .is_some_and(|t| started.elapsed().as_secs_f64() >= t);
    let status = if timed_out {
        let con = Contraction::new(inst, false);
        ProofStatus::stopped(
            StopReason::TimeLimit,
            lower_bound(inst, &con),
            placement.max_load,
        )
    } else {
        ProofStatus::Optimal
    };
    Ok(MilpSolution {
        placement,
        status,
        variables: nvars,
        constraints: ncons,
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

#[cfg(feature = "highs")]
fn solve_highs(
    m: Model,
    opts: &MilpOptions,
    x: &[Vec<Option<Variable>>],
    inst: &Instance,
) -> Result<Vec<usize>, PlaceError> {
    let mut model = m.vars.minimise(m.load).using(good_lp::highs);
    if let Some(t) = opts.time_limit {
        model = model.with_time_limit(t);
    }
    for c in m.constraints {
        model.add_constraint(c);
    }
    let sol = model.solve().map_err(|e| map_err(e, inst))?;
    Ok(extract(&sol, x, inst))
}

#[cfg(not(feature = "highs"))]
fn solve_highs(
    _m: Model,
    _opts: &MilpOptions,
    _x: &[Vec<Option<Variable>>],
    _inst: &Instance,
) -> Result<Vec<usize>, PlaceError> {
    Err(PlaceError::Unsupported(
        "the HiGHS backend needs parallax-place built with the `highs` feature".into(),
    ))
}
