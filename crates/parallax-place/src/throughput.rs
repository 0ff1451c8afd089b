//! Exact contiguous max-load placement by dynamic programming over the ideals of the DAG.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::band::Bands;
use crate::baselines;
use crate::contract::Contraction;
use crate::error::PlaceError;
use crate::eval::{evaluate, violations, Placement};
use crate::ideals::Ideals;
use crate::incr::CommTracker;
use crate::limits::{Deadline, Limits, ProofStatus, StopReason};
use crate::model::Instance;

const INF: f64 = f64::INFINITY;

/// Counters of one DP run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DpStats {
    /// Groups after contracting colocation classes, SCCs and trivial nodes.
    pub groups: usize,
    /// Ideals of the group DAG (0 when enumeration was stopped).
    pub ideals: usize,
    /// Ideal pairs (I' ⊂ I) visited; pairs pruned by the bound are not counted.
    pub pairs: u64,
    /// The heuristic upper bound used for pruning (∞ when none was feasible).
    pub upper_bound: f64,
}

/// The result of [`solve_contiguous`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputSolution {
    /// The placement, re-evaluated from scratch.
    pub placement: Placement,
    /// Optimal, or stopped with a gap.
    pub status: ProofStatus,
    /// Counters.
    pub stats: DpStats,
}

/// A simple lower bound on the contiguous (and non-contiguous) max-load optimum.
pub(crate) fn lower_bound(inst: &Instance, con: &Contraction) -> f64 {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mut best_single: f64 = 0.0;
    let mut total = 0.0;
    for g in 0..con.len() {
        let acc = if k > 0 && con.supported[g] && con.size[g] <= inst.devices.accelerator_memory {
            con.p_acc[g]
        } else {
            INF
        };
        let cpu = if l > 0 { con.p_cpu[g] } else { INF };
        let m = acc.min(cpu);
        if m.is_finite() {
            best_single = best_single.max(m);
            total += m;
        }
    }
    best_single.max(total / (k + l) as f64)
}

/// Loads of one visited pair, handed to the DP.
#[derive(Clone, Copy)]
struct PairLoads {
    acc: Option<f64>,
    cpu: Option<f64>,
}

struct Frame {
    ideal: u32,
    pos: u32,
    group: u32,
    p_acc: f64,
    p_cpu: f64,
    size: f64,
    unsup: u32,
    comm: f64,
}

struct Ctx<'a> {
    inst: &'a Instance,
    con: &'a Contraction,
    ideals: &'a Ideals,
    k: usize,
    l: usize,
    mem: f64,
    ub: f64,
    /// Live cells under the bound (see [`Bands`]); `None` without a finite bound.
    bands: Option<Bands>,
}

struct Scratch {
    stamp: Vec<u32>,
    epoch: u32,
    tracker: CommTracker,
    stack: Vec<Frame>,
}

/// The DP table, stored per ideal over the smallest range of accelerator counts that holds
/// all of its live cells (every CPU count; see [`Bands`]): cells outside the range are dead
/// (∞). On Inception-v3 training 22,532 of 512,344 cells, 180 kB instead of 4.1 MB, so the
/// table stays in cache while the walks read the rows of sub-ideals all over the lattice.
/// The empty ideal keeps every cell (at 0: any device counts cover nothing).
struct Table {
    /// CPU counts per accelerator count, l + 1.
    l1: usize,
    /// Ideal i's values are `vals[off[i]..off[i + 1]]`, accelerator counts from `amin[i]`.
    off: Vec<usize>,
    amin: Vec<usize>,
    vals: Vec<f64>,
}

impl Table {
    /// The table of `ctx`, every live cell at ∞ and the empty ideal's at 0; `None` when it
    /// would take more than `max_bytes`. O(I·l·log k) for I ideals ([`Bands::span`]).
    fn new(ctx: &Ctx<'_>, max_bytes: u64) -> Option<Table> {
        let (k, l1, n) = (ctx.k, ctx.l + 1, ctx.ideals.len());
        let mut off = Vec::with_capacity(n + 1);
        let mut amin = Vec::with_capacity(n);
        let mut len = 0usize;
        off.push(0);
        for i in 0..n {
            let span = match &ctx.bands {
                Some(b) if i > 0 => (0..l1)
                    .map(|c| b.span(i, c))
                    .filter(|r| !r.is_empty())
                    .reduce(|x, y| x.start.min(y.start)..x.end.max(y.end))
                    .unwrap_or(0..0),
                _ => 0..k + 1,
            };
            amin.push(span.start);
            len = len.checked_add(span.len().checked_mul(l1)?)?;
            off.push(len);
        }
        let bytes = len.checked_mul(std::mem::size_of::<f64>())?;
        if bytes as u64 > max_bytes {
            return None;
        }
        let mut vals = vec![INF; len];
        vals[..off[1]].iter_mut().for_each(|x| *x = 0.0);
        Some(Table {
            l1,
            off,
            amin,
            vals,
        })
    }

    /// The value of cell (i, a, c).
    #[inline]
    fn at(&self, i: usize, a: usize, c: usize) -> f64 {
        let lo = self.amin[i];
        if a < lo {
            return INF;
        }
        // c ≤ l, so the index is in ideal i's range exactly when a is
        let idx = self.off[i] + (a - lo) * self.l1 + c;
        if idx < self.off[i + 1] {
            self.vals[idx]
        } else {
            INF
        }
    }

    /// Stores ideal i's full row (cell a·(l + 1) + c); the cells outside its range must be
    /// dead (∞) in `row`.
    fn set_row(&mut self, i: usize, row: &[f64]) {
        let (lo, from, to) = (self.amin[i], self.off[i], self.off[i + 1]);
        let start = lo * self.l1;
        self.vals[from..to].copy_from_slice(&row[start..start + (to - from)]);
    }
}

impl Ctx<'_> {
    fn scratch(&self) -> Scratch {
        Scratch {
            stamp: vec![0; self.ideals.len()],
            epoch: 0,
            tracker: CommTracker::new(self.inst),
            stack: Vec::new(),
        }
    }

    /// Visits every sub-ideal J ⊊ I whose difference D = I \ J fits some device under the
    /// bound and whose work is at least `least` (see [`Bands`]), with the loads of D.
    ///
    /// `f` returns the loads from which on an accelerator / a CPU move cannot help the
    /// caller any more (the worst value it still holds); D only grows going down (as do
    /// its compute, which bounds its load from below, and its CPU time), so the walk stops
    /// below a J whose D reaches both. Deterministic: the same I always yields the same
    /// calls with bit-identical loads.
    fn for_each_sub(
        &self,
        i: usize,
        least: f64,
        s: &mut Scratch,
        mut f: impl FnMut(usize, PairLoads) -> (f64, f64),
    ) -> u64 {
        let (mut acc_limit, mut cpu_limit) = (INF, INF);
        s.epoch = s.epoch.wrapping_add(1);
        if s.epoch == 0 {
            s.stamp.iter_mut().for_each(|x| *x = 0);
            s.epoch = 1;
        }
        let epoch = s.epoch;
        s.stamp[i] = epoch;
        s.stack.clear();
        s.stack.push(Frame {
            ideal: i as u32,
            pos: 0,
            group: u32::MAX,
            p_acc: 0.0,
            p_cpu: 0.0,
            size: 0.0,
            unsup: 0,
            comm: 0.0,
        });
        let mut pairs = 0u64;
        while let Some(top) = s.stack.last_mut() {
            let edges = self.ideals.down_of(top.ideal as usize);
            if (top.pos as usize) < edges.len() {
                let (v, j) = edges[top.pos as usize];
                top.pos += 1;
                if s.stamp[j as usize] == epoch {
                    continue;
                }
                s.stamp[j as usize] = epoch;
                if let Some(b) = &self.bands {
                    if b.work(j as usize) < least {
                        continue;
                    }
                }
                let g = v as usize;
                let p_acc = top.p_acc + self.con.p_acc[g];
                let p_cpu = top.p_cpu + self.con.p_cpu[g];
                let size = top.size + self.con.size[g];
                let unsup = top.unsup + u32::from(!self.con.supported[g]);
                let acc_ok = self.k > 0
                    && unsup == 0
                    && size <= self.mem
                    && p_acc <= self.ub
                    && p_acc <= acc_limit;
                let cpu_ok = self.l > 0 && p_cpu <= self.ub && p_cpu <= cpu_limit;
                if !acc_ok && !cpu_ok {
                    continue;
                }
                let comm = top.comm + s.tracker.add(&self.con.groups[g]);
                s.stack.push(Frame {
                    ideal: j,
                    pos: 0,
                    group: v,
                    p_acc,
                    p_cpu,
                    size,
                    unsup,
                    comm,
                });
                pairs += 1;
                (acc_limit, cpu_limit) = f(
                    j as usize,
                    PairLoads {
                        acc: acc_ok.then_some(self.inst.acc_load(p_acc, comm)),
                        cpu: cpu_ok.then_some(p_cpu),
                    },
                );
            } else {
                let fr = s.stack.pop();
                if let Some(fr) = fr {
                    if fr.group != u32::MAX {
                        s.tracker.remove(&self.con.groups[fr.group as usize]);
                    }
                }
            }
        }
        pairs
    }

    fn width(&self) -> usize {
        (self.k + 1) * (self.l + 1)
    }

    fn row(&self, dp: &Table, i: usize, s: &mut Scratch) -> (Vec<f64>, u64) {
        let (k, l, w) = (self.k, self.l, self.width());
        let mut row = vec![INF; w];
        // the cells to update, (cell, the sub-ideal's accelerators, CPUs), for moves that put
        // the difference on an accelerator and on a CPU; with bands, live cells only
        let mut acc_cells: Vec<(usize, usize, usize)> = Vec::new();
        let mut cpu_cells: Vec<(usize, usize, usize)> = Vec::new();
        // the least work a sub-ideal needs to feed a live cell of this row
        let mut least = f64::NEG_INFINITY;
        if self.bands.is_some() {
            least = INF;
        }
        for a in 0..=k {
            for c in 0..=l {
                let cell = a * (l + 1) + c;
                if let Some(b) = &self.bands {
                    if !b.alive(i, a, c) {
                        continue;
                    }
                    if a > 0 {
                        least = least.min(b.least_work(a - 1, c));
                    }
                    if c > 0 {
                        least = least.min(b.least_work(a, c - 1));
                    }
                }
                if a > 0 {
                    acc_cells.push((cell, a - 1, c));
                }
                if c > 0 {
                    cpu_cells.push((cell, a, c - 1));
                }
            }
        }
        if acc_cells.is_empty() && cpu_cells.is_empty() {
            return (row, 0);
        }
        let worst = |row: &[f64], cells: &[(usize, usize, usize)]| {
            cells
                .iter()
                .map(|&(cell, ..)| row[cell])
                .fold(0.0, f64::max)
        };
        // the worst value of each kind's cells, recomputed only when a cell improved (a cell
        // with a > 0 and c > 0 is of both kinds)
        let (mut acc_worst, mut cpu_worst) = (worst(&row, &acc_cells), worst(&row, &cpu_cells));
        let pairs = self.for_each_sub(i, least, s, |j, loads| {
            let mut improved = false;
            if let Some(load) = loads.acc {
                for &(cell, a, c) in &acc_cells {
                    let v = dp.at(j, a, c).max(load);
                    if v < row[cell] {
                        row[cell] = v;
                        improved = true;
                    }
                }
            }
            if let Some(load) = loads.cpu {
                for &(cell, a, c) in &cpu_cells {
                    let v = dp.at(j, a, c).max(load);
                    if v < row[cell] {
                        row[cell] = v;
                        improved = true;
                    }
                }
            }
            if improved {
                acc_worst = worst(&row, &acc_cells);
                cpu_worst = worst(&row, &cpu_cells);
            }
            (acc_worst, cpu_worst)
        });
        for a in 0..=k {
            for c in 0..=l {
                let mut v = row[a * (l + 1) + c];
                if a > 0 {
                    v = v.min(row[(a - 1) * (l + 1) + c]);
                }
                if c > 0 {
                    v = v.min(row[a * (l + 1) + c - 1]);
                }
                row[a * (l + 1) + c] = if v <= self.ub { v } else { INF };
            }
        }
        if let Some(b) = &self.bands {
            for a in 0..=k {
                for c in 0..=l {
                    if !b.alive(i, a, c) {
                        row[a * (l + 1) + c] = INF;
                    }
                }
            }
        }
        (row, pairs)
    }
}

/// Solves contiguous max-load placement exactly.
///
/// Every device (accelerator or CPU) receives a set that is convex in the forward graph with
/// colocation classes contracted; the maximum load is minimised.
///
/// # Arguments
/// * `inst` — a validated instance.
/// * `limits` — budgets; when one runs out the best known placement is returned with
///   [`ProofStatus::Stopped`].
///
/// # Returns
/// The placement (re-verified from scratch), its proof status and counters.
///
/// # Errors
/// [`PlaceError::InfeasibleMemory`] when no contiguous placement fits (only possible without
/// CPUs); [`PlaceError::Verification`] if the reconstructed placement fails re-verification.
///
/// When memory can bind (the nodes do not all fit on one accelerator), zero-time groups
/// with a size cannot be folded exactly, and unfolded they multiply the lattice (GNMT:
/// 17,914 → 3.1 million ideals). The solver then *relaxes and refines*: it drops the memory
/// of the nodes that [`Contraction::restricted`] folds (any instance with some memory
/// dropped is a relaxation, and with zero memory these groups fold exactly, so the lattice
/// stays as small as without memory) and solves that exactly. Its optimum is a lower bound,
/// and the answer when its placement keeps the real memory limit. Otherwise the optimum of
/// the restriction (sized zero-time groups folded anyway, like the authors' C++ DP) is a
/// valid placement; when the two meet it is optimal. Otherwise the memory of the dropped
/// nodes that sit on an over-full accelerator is restored and the next relaxation is
/// solved, pruned by the best placement so far and with the bound so far, until one fits
/// or meets it; at worst every node keeps its memory and the last round is the exact DP.
///
/// # Complexity
/// With g groups, I ideals of the group DAG, P visited ideal pairs, k' = min(k, classes)
/// and l' = min(l, classes) (see [`Instance::usable`]):
///
/// - Time: **O(g²·(deg + k'l') + I·(g + m_g) + P·(deg + k'l'))** — the chain-DP heuristic,
///   ideal enumeration, and the DP, which visits for each ideal only the sub-ideals whose
///   difference still fits under the upper bound (time, memory and support are monotone)
///   with an incremental cut cost. When memory binds, one run per refinement round plus
///   the restriction; each round restores memory to at least one node, so there are at
///   most (dropped nodes + 1) rounds — on the shipped graphs capped at 15–50 % of their
///   memory, at most 2 rounds (I and P of the last round dominate).
/// - Auxiliary space: **O(I·(g/64 + k'l') + g·k'l')** — the ideals' bitsets and Hasse
///   diagram, the DP table (checked against [`Limits::max_table_bytes`] before it is
///   allocated; with a finite bound each ideal stores only the accelerator counts its live
///   cells span, see `Bands`) and the chain DP; pairs are never stored.
///
/// Ideals of equal size are processed in parallel; results do not depend on the thread
/// count. Every phase checks the deadline.
///
/// # Examples
/// ```
/// use parallax_place::{Graph, Instance, Limits, solve_contiguous};
/// let g = Graph::from_json(r#"{
///   "devices": {"accelerators": 2, "accelerator_memory": 10.0, "cpus": 0},
///   "nodes": [
///     {"id": 1, "acc_time": 3.0, "cpu_time": 30.0, "output_cost": 1.0},
///     {"id": 2, "acc_time": 3.0, "cpu_time": 30.0}
///   ],
///   "edges": [{"from": 1, "to": 2}]
/// }"#, std::path::Path::new("<doc>")).unwrap();
/// let inst = Instance::new(&g).unwrap();
/// let sol = solve_contiguous(&inst, &Limits::default()).unwrap();
/// // split: 3 + 1 on each side beats 6 on one accelerator
/// assert_eq!(sol.placement.max_load, 4.0);
/// assert!(sol.status.is_optimal());
/// ```
pub fn solve_contiguous(
    inst: &Instance,
    limits: &Limits,
) -> Result<ThroughputSolution, PlaceError> {
    let started = Instant::now();
    let deadline = limits.deadline(started);
    let user_k = inst.devices.accelerators;
    let usable = inst.usable();
    let inst: &Instance = &usable;
    let mem = inst.devices.accelerator_memory;
    if inst.total_size() <= mem {
        return dp_solve(
            inst,
            Contraction::new(inst, true),
            limits,
            deadline,
            None,
            0.0,
            user_k,
        );
    }
    // Memory can bind, so sized zero-time groups cannot be folded exactly, and unfolded
    // they can multiply the lattice. Solve relaxations that drop the memory of some of
    // them (with zero memory they fold exactly, so the lattice stays small) and refine:
    let mut zeroed = Contraction::restriction_folds(inst);
    let mut lb = 0.0f64;
    // the best valid placement known
    let mut incumbent: Option<Placement> = None;
    let mut first = true;
    // pairs visited over all rounds
    let mut pairs = 0u64;
    loop {
        let relaxed = with_memory_dropped(inst, &zeroed);
        // the pair budget covers all rounds together
        let round_limits = Limits {
            max_pairs: limits.max_pairs.map(|m| m.saturating_sub(pairs)),
            ..limits.clone()
        };
        let sol = match dp_solve(
            &relaxed,
            Contraction::new(&relaxed, true),
            &round_limits,
            deadline,
            incumbent.clone(),
            lb,
            user_k,
        ) {
            Ok(sol) => sol,
            // infeasible even with less memory: infeasible
            Err(PlaceError::InfeasibleMemory { accelerators, .. }) => {
                return Err(PlaceError::InfeasibleMemory {
                    accelerators,
                    memory: mem,
                    total_size: inst.total_size(),
                })
            }
            // stopped before any placement of the relaxation: the best valid one, if any
            Err(e @ PlaceError::Unsupported(_)) => {
                let stats = DpStats {
                    pairs,
                    ..DpStats::default()
                };
                return match incumbent {
                    Some(i) => Ok(stopped_with(i, lb, StopReason::TimeLimit, stats)),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        pairs += sol.stats.pairs;
        let stats = DpStats { pairs, ..sol.stats };
        let slot = crate::eval::placement_slots(inst, &sol.placement);
        let fits = violations(inst, &slot).is_empty();
        if fits {
            // a placement of the relaxation that keeps the real memory limit
            keep_better(&mut incumbent, evaluate(inst, &slot));
        }
        if let ProofStatus::Stopped {
            reason,
            lower_bound,
            ..
        } = sol.status
        {
            lb = lb.max(lower_bound);
            if incumbent.is_none() && first {
                incumbent = restriction(inst, limits, deadline, user_k)?;
            }
            return match incumbent {
                Some(i) => Ok(stopped_with(i, lb, reason, stats)),
                None => Err(PlaceError::Unsupported(format!(
                    "the exact DP stopped ({reason}) before finding any placement within the memory limit; raise the budget"
                ))),
            };
        }
        // optimal for a relaxation: a lower bound, and the answer when it fits
        lb = lb.max(sol.placement.max_load);
        if fits {
            return Ok(ThroughputSolution {
                placement: evaluate(inst, &slot),
                status: ProofStatus::Optimal,
                stats,
            });
        }
        if first {
            // a restriction (fold sized zero-time groups anyway) gives a valid placement
            first = false;
            if let Some(r) = restriction(inst, limits, deadline, user_k)? {
                keep_better(&mut incumbent, r);
            }
        }
        if let Some(i) = &incumbent {
            if ProofStatus::stopped(StopReason::TimeLimit, lb, i.max_load).is_optimal() {
                return Ok(ThroughputSolution {
                    placement: i.clone(),
                    status: ProofStatus::Optimal,
                    stats,
                });
            }
        }
        // refine: keep the memory of the nodes on the accelerators that overflowed
        let k = inst.devices.accelerators;
        let mut used = vec![0.0f64; k];
        for u in 0..inst.len() {
            if slot[u] < k {
                used[slot[u]] += inst.size[u];
            }
        }
        let mut changed = false;
        for u in 0..inst.len() {
            if zeroed[u] && slot[u] < k && used[slot[u]] > mem {
                zeroed[u] = false;
                changed = true;
            }
        }
        if !changed {
            // cannot happen (the relaxation keeps every other node's memory); stay exact
            if zeroed.iter().all(|&z| !z) {
                return Err(PlaceError::Verification(
                    "the exact DP's placement breaks the memory limit".into(),
                ));
            }
            zeroed.iter_mut().for_each(|z| *z = false);
        }
    }
}

/// Keeps `p` when it beats the incumbent (or there is none).
fn keep_better(incumbent: &mut Option<Placement>, p: Placement) {
    if incumbent.as_ref().map_or(true, |i| p.max_load < i.max_load) {
        *incumbent = Some(p);
    }
}

/// The instance with the memory of the flagged nodes set to 0: a relaxation.
fn with_memory_dropped(inst: &Instance, drop: &[bool]) -> Instance {
    let mut r = inst.clone();
    for (s, &d) in r.size.iter_mut().zip(drop) {
        if d {
            *s = 0.0;
        }
    }
    r
}

/// The optimum with every sized zero-time group folded anyway (like the authors' C++ DP):
/// a valid placement (an upper bound), or `None` when the restriction has none in budget.
fn restriction(
    inst: &Instance,
    limits: &Limits,
    deadline: Deadline,
    user_k: usize,
) -> Result<Option<Placement>, PlaceError> {
    match dp_solve(
        inst,
        Contraction::restricted(inst),
        limits,
        deadline,
        None,
        0.0,
        user_k,
    ) {
        Ok(r) => Ok(Some(r.placement)),
        Err(PlaceError::Verification(e)) => Err(PlaceError::Verification(e)),
        Err(_) => Ok(None),
    }
}

/// A stop with the best valid placement and a proven lower bound.
fn stopped_with(
    placement: Placement,
    lb: f64,
    reason: StopReason,
    stats: DpStats,
) -> ThroughputSolution {
    ThroughputSolution {
        status: ProofStatus::stopped(reason, lb, placement.max_load),
        placement,
        stats,
    }
}

/// The DP on one contraction. `incumbent` (a valid contiguous placement) joins the
/// heuristics as an upper bound; `extra_lb` is a proven lower bound from elsewhere.
fn dp_solve(
    inst: &Instance,
    con: Contraction,
    limits: &Limits,
    deadline: Deadline,
    incumbent: Option<Placement>,
    extra_lb: f64,
    user_k: usize,
) -> Result<ThroughputSolution, PlaceError> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let mem = inst.devices.accelerator_memory;
    let valid = |slot: Vec<usize>| {
        let p = evaluate(inst, &slot);
        (violations(inst, &slot).is_empty() && p.contiguous).then_some((slot, p))
    };
    // the chain DP, or (when it is cut short or too big) the linear-time greedy fill, so
    // that a stop always has a placement to return when one of them fits. The chain DP is
    // quadratic in the groups: it gets at most a quarter of the time left, so that on a
    // large graph the exact DP (or its stop) and the baselines still get theirs.
    let quarter = match deadline.0 {
        Some(d) => {
            let now = Instant::now();
            Deadline(Some(now + d.saturating_duration_since(now) / 4))
        }
        None => deadline,
    };
    let heuristic = baselines::chain_dp_until(inst, &con, quarter, limits.max_table_bytes)
        .and_then(valid)
        .or_else(|| baselines::greedy_fill(inst, &con).and_then(valid))
        .map(|(_, p)| p);
    let heuristic = match (heuristic, incumbent) {
        (Some(h), Some(i)) => Some(if i.max_load < h.max_load { i } else { h }),
        (h, i) => h.or(i),
    };
    let ub = heuristic.as_ref().map_or(INF, |p| p.max_load);
    let ub_prune = if ub.is_finite() {
        ub * (1.0 + 1e-9) + 1e-12
    } else {
        INF
    };
    let mut stats = DpStats {
        groups: con.len(),
        ideals: 0,
        pairs: 0,
        upper_bound: ub,
    };
    let lb = lower_bound(inst, &con).max(extra_lb);
    let stop = |reason: StopReason, stats: DpStats| -> Result<ThroughputSolution, PlaceError> {
        match &heuristic {
            Some(p) => Ok(ThroughputSolution {
                placement: p.clone(),
                status: ProofStatus::stopped(reason, lb, p.max_load),
                stats,
            }),
            None => Err(PlaceError::Unsupported(format!(
                "the exact DP stopped ({reason}) before finding any placement and no heuristic placement fits; raise the budget"
            ))),
        }
    };
    if heuristic.is_some() && ProofStatus::stopped(StopReason::TimeLimit, lb, ub).is_optimal() {
        // the heuristic meets the lower bound: nothing to search
        return stop(StopReason::TimeLimit, stats);
    }
    if deadline.passed() {
        return stop(StopReason::TimeLimit, stats);
    }
    let ideals = match Ideals::enumerate_capped(
        &con.pred,
        limits.max_ideals,
        deadline.0,
        limits.max_table_bytes,
    ) {
        Ok(ideals) => ideals,
        Err(stopped) => {
            stats.ideals = stopped.counted;
            return stop(stopped.reason, stats);
        }
    };
    stats.ideals = ideals.len();
    let ctx = Ctx {
        inst,
        con: &con,
        ideals: &ideals,
        k,
        l,
        mem,
        ub: ub_prune,
        bands: Bands::new(&con, &ideals, k, l, ub_prune),
    };
    // the ideals and the table share the memory limit
    let room = limits.max_table_bytes.saturating_sub(ideals.heap_bytes());
    let Some(mut dp) = Table::new(&ctx, room) else {
        return stop(StopReason::MemoryLimit, stats);
    };
    for t in 1..ideals.level_start.len() - 1 {
        let (lo, hi) = (ideals.level_start[t], ideals.level_start[t + 1]);
        let rows: Vec<Option<(Vec<f64>, u64)>> = (lo..hi)
            .into_par_iter()
            .map_init(
                || ctx.scratch(),
                |s, i| (!deadline.passed()).then(|| ctx.row(&dp, i, s)),
            )
            .collect();
        if rows.iter().any(Option::is_none) {
            return stop(StopReason::TimeLimit, stats);
        }
        for (off, (row, pairs)) in rows.into_iter().flatten().enumerate() {
            let i = lo + off;
            dp.set_row(i, &row);
            stats.pairs += pairs;
        }
        if limits.max_pairs.is_some_and(|m| stats.pairs >= m)
            && t + 1 < ideals.level_start.len() - 1
        {
            return stop(StopReason::PairLimit, stats);
        }
    }
    let full = ideals.full();
    let best = dp.at(full, k, l);
    if !best.is_finite() {
        if heuristic.is_some() {
            return Err(PlaceError::Verification(
                "the DP found no placement although a heuristic one exists".into(),
            ));
        }
        return Err(PlaceError::InfeasibleMemory {
            accelerators: user_k,
            memory: mem,
            total_size: inst.total_size(),
        });
    }
    let slot = reconstruct(&ctx, &dp, best)?;
    let placement = evaluate(inst, &slot);
    let bad = violations(inst, &slot);
    if !bad.is_empty() || !placement.contiguous {
        return Err(PlaceError::Verification(format!(
            "reconstructed placement breaks constraints: {bad:?}, contiguous = {}",
            placement.contiguous
        )));
    }
    if !close(placement.max_load, best, inst) {
        return Err(PlaceError::Verification(format!(
            "DP value {best} but the placement evaluates to {}",
            placement.max_load
        )));
    }
    Ok(ThroughputSolution {
        placement,
        status: ProofStatus::Optimal,
        stats,
    })
}

/// Whether a value the solver computed incrementally matches the from-scratch evaluation:
/// up to a relative 1e-9 of the magnitude of the terms that were added and subtracted
/// (the transfer costs can be far larger than the result, and cancel).
pub(crate) fn close(evaluated: f64, claimed: f64, inst: &Instance) -> bool {
    let scale: f64 = inst.out_cost.iter().sum::<f64>() + claimed.abs().max(evaluated.abs());
    (evaluated - claimed).abs() <= 1e-9 * scale.max(1.0)
}

fn reconstruct(ctx: &Ctx<'_>, dp: &Table, best: f64) -> Result<Vec<usize>, PlaceError> {
    let (k, l) = (ctx.k, ctx.l);
    let (mut i, mut a, mut c) = (ctx.ideals.full(), k, l);
    let mut slot = vec![usize::MAX; ctx.inst.len()];
    let (mut next_acc, mut next_cpu) = (0usize, k);
    let mut s = ctx.scratch();
    let mut target = best;
    while i != 0 {
        if a > 0 && dp.at(i, a - 1, c) == target {
            a -= 1;
            continue;
        }
        if c > 0 && dp.at(i, a, c - 1) == target {
            c -= 1;
            continue;
        }
        let mut found: Option<(usize, bool)> = None;
        // once found, limits below every load end the walk
        ctx.for_each_sub(i, f64::NEG_INFINITY, &mut s, |j, loads| {
            if found.is_none() {
                if let (Some(load), true) = (loads.acc, a > 0) {
                    if dp.at(j, a - 1, c).max(load) == target {
                        found = Some((j, true));
                    }
                }
            }
            if found.is_none() {
                if let (Some(load), true) = (loads.cpu, c > 0) {
                    if dp.at(j, a, c - 1).max(load) == target {
                        found = Some((j, false));
                    }
                }
            }
            if found.is_some() {
                (-1.0, -1.0)
            } else {
                (INF, INF)
            }
        });
        let Some((j, on_acc)) = found else {
            return Err(PlaceError::Verification(format!(
                "cannot reconstruct the DP step at ideal {i} (value {target})"
            )));
        };
        let dev = if on_acc {
            next_acc += 1;
            a -= 1;
            next_acc - 1
        } else {
            next_cpu += 1;
            c -= 1;
            next_cpu - 1
        };
        for g in 0..ctx.con.len() {
            if ctx.ideals.contains(i, g) && !ctx.ideals.contains(j, g) {
                for &u in &ctx.con.groups[g] {
                    slot[u] = dev;
                }
            }
        }
        i = j;
        target = dp.at(i, a, c);
    }
    Ok(slot)
}
