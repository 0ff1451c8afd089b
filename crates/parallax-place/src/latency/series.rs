//! The series decomposition of the q = 1 latency search: an exact DP over the cut vertices.
//!
//! # Why it is exact
//!
//! Let b₀ → b₁ → … → b_m be the cut vertices of a DAG with one source and one sink, block j
//! the nodes strictly between b_{j−1} and b_j plus b_j (see `Cuts`). No edge jumps over a cut
//! vertex, every node before b_j is an ancestor of b_j and every node after it a descendant.
//! Take a schedule (q = 1, every node as early as possible) and the subgraph S that holds b_j,
//! if any. A node after b_j outside S descends from b_j, so it waits for S to finish; it
//! cannot feed S (S is convex), so the part of S after b_j has no inputs from outside S, and
//! nothing before b_j waits for S except through b_j. So everything after b_j depends on
//! the schedule before it only through
//! * T_j: when b_j's output is ready — its finish, or, when S goes on after b_j, S's start
//!   plus what S holds up to b_j (its p_acc and the transfers its nodes up to b_j pay);
//! * whether S goes on after b_j, and then the memory it holds up to b_j;
//! * how many accelerators are used.
//!
//! and it depends on T_j only by a shift. Block j's part of any schedule is therefore a
//! schedule of the *local instance* of the block — a node c′ standing for b_{j−1} (no time,
//! output cost c(b_{j−1})), then the block's nodes, b_j its sink — with c′ on a CPU (b_{j−1}
//! on a CPU or in a subgraph that ends there: its output is ready at time 0) or on an
//! accelerator of its own holding the carried memory (S goes on: c′'s subgraph is S's part
//! in the block), and conversely every local schedule extends a schedule before b_{j−1}. The
//! local search runs in *exit mode* (`Search::exits`): the subgraph of b_j stays open, and
//! every label of the full ideal is an *exit*: local time Δ, accelerators used, and b_j
//! on a CPU (ready at Δ), in a subgraph that ends with it (ready at Δ + c(b_j), its output
//! transfer) or in a subgraph that goes on (T_j = T_{j−1} + Δ, carrying its memory).
//!
//! The DP keeps, per cut vertex, the Pareto-optimal states (accelerators used, carried
//! memory or none, T_j). Two local searches per block serve them all: one with c′ on a
//! CPU, one with c′ carried in holding the least carried memory, whose labels also record
//! the memory c′'s subgraph holds (less is better in their dominance), so each carried
//! state takes the exits its own memory leaves room for. The latency is the least T_m.
//! States and local labels that cannot beat the best schedule known are cut — states by
//! the block bound read at their accelerators left and carried memory, local labels by the
//! best entry state they fit (memory room, T, accelerators left) plus the block bound of
//! what follows b_j — so when nothing beats it, it is optimal.
//!
//! # Applies when
//! q = 1, CPUs allowed, one source and one sink, at least three blocks, no satellites in the
//! reduced instance (their knapsack couples the blocks a subgraph spans) and every colocation
//! class inside one block. Otherwise, or when a local search runs out of budget, the caller
//! falls back to the search over the whole DAG. A DP that stopped in block j still proves
//! a lower bound: every schedule that beats the bound it was given passes through one of
//! the states kept at b_{j−1} (the others were dominated, or cut by that bound), so the
//! least of their T plus the bound of what follows holds for all.
//!
//! # Cost
//! Two exact local searches per block, each over the ideals of one block (an inception
//! module has a few thousand), instead of a search whose labels multiply across blocks.
//! On Inception-v3 (33 blocks, 12 accelerators) 9.6M labels in all with the heuristic
//! passes (13.8M before the whole-instance beam narrowed to 4, 11.5M at 4, then 2), 7.2M of
//! them the series DP's local searches, 4–7 s on the 2-core VM, most of it the carried-in
//! searches of two modules (block 22's: 3.5M labels, 2–3.5 s, while its ready search takes
//! 0.3–0.6 s); one search per carried memory took four times as long. Since each search
//! runs a level's expansions and its insertions into distinct ideals in parallel (see
//! `Search::run`), the series DP takes 3.5–4.7 s there, block 22's carried-in search
//! 1.5 s (its insertions, with ~1,100 live labels per ideal, are two thirds of it); and
//! since its subgraph walk skips the path bound's edge pass where the edges' caps cannot
//! cut and its dominance summaries split the frontier times in four classes, 1.9–2.0 s
//! (of a 2.9–3.0 s proof) in a fast phase of the VM.
//! The carried-in search compares the memory of c′'s subgraph only by the entry states it
//! fits (a class of their rooms, `Search::cmem_class`), not by its exact size: 14.24M ->
//! 13.79M labels. An exit's plan is replayed only when the exit survives the Pareto filter
//! (block 22's carried-in search has 293k exit labels and keeps 42): peak memory 482 ->
//! 231 MB, and to 182 MB once exits stopped cloning their labels. Since exit labels are
//! compared as they arrive by what the filter compares (`label::exit_dominates`), that
//! search stores 1,402 of them instead of 254,834.
//!
//! What keeps block 22's carried-in labels alive (measured 2026-12-06, not kept): the
//! exits where b_j's subgraph goes on. Its exits are few (42 Pareto-optimal), and a label
//! whose every completion some known exit beats locally (no later, no more accelerators,
//! no more c′ memory, same kind) could be cut whatever the global slack. For completions
//! that end b_j (on a CPU or in a subgraph that ends) such an exit exists for most labels:
//! cutting on them alone leaves 196k of the 3.51M labels. But a completion that carries
//! b_j's subgraph on is beaten only by an exit carrying no more memory, which in practice
//! none does, so those completions can be cut only by the global bound (with the tail of
//! a carried state): with the search's own final exits as the known ones, 3.51M -> 2.19M;
//! with the exits of the block's ready search (shifted by c(b_{j−1}), known before it),
//! 3.31M. Nor does pricing the two kinds of completion apart cut it: a label kept only
//! while one of its kinds can beat the bound, b_j's on a CPU (or ended) with the tail of
//! an uncarried state and b_j's carried on with a path bound that keeps b_j on an
//! accelerator and the tail of a carried state, halves blocks 20 and 24 but leaves block
//! 22's 3.51M as they were (and costs more than it saves). Too little for the cost of the
//! extra checks; a bound that prices carried-out memory (see `Blocks`, "Where it is
//! loose") is what would cut the rest.

use super::blocks::{big, Blocks, Cuts};
use super::bound::PathBound;
use super::heuristics::node_topo;
use super::reduce::{induced_on, Host};
use super::search::Search;
use super::LatencyPlan;
use crate::contract::Contraction;
use crate::ideals::Ideals;
use crate::limits::Limits;
use crate::limits::StopReason;
use crate::model::Instance;
use std::collections::BTreeMap;
use std::time::Instant;

/// What the series DP returns.
pub(super) struct SeriesOut {
    /// A schedule of the instance better than the bound it was given, with its latency, or
    /// `None` when nothing beats that bound (then the schedule behind it is optimal).
    pub(super) best: Option<(f64, LatencyPlan)>,
    /// When a local search stopped (out of labels or time): why, and a lower bound on every
    /// schedule (at most the bound it was given) from the states at the last cut vertex it
    /// reached. `best` is then `None`.
    pub(super) stopped: Option<(StopReason, f64)>,
}

/// One Pareto-optimal state at a cut vertex.
#[derive(Clone, Copy, Debug)]
struct State {
    /// Accelerators used.
    used: usize,
    /// The memory of b_j's subgraph when it goes on after b_j.
    carry: Option<f64>,
    /// When b_j's output is ready (see the module docs).
    t: f64,
    /// The state at b_{j−1} this one extends (`usize::MAX` at b₀).
    prev: usize,
    /// The local search (of this block) and its exit; at b₀, whether b₀ is on an
    /// accelerator.
    exit: (usize, usize),
}

/// What one local search of a block found: the least carried memory it ran with (`None`:
/// c′ on a CPU), its node map, exits, their plans and the labels it made.
struct Found {
    carry: Option<f64>,
    of: Vec<usize>,
    exits: Vec<Exit>,
    plans: Vec<LatencyPlan>,
    labels: u64,
}

/// An exit of a local search (see the module docs).
#[derive(Clone, Copy, Debug)]
struct Exit {
    used: usize,
    carry: Option<f64>,
    /// The memory of c′'s subgraph (with the least carried memory; 0 when c′ is on a CPU).
    cmem: f64,
    /// Whether b_j is in c′'s subgraph (which then goes on with it).
    with_entry: bool,
    dt: f64,
    /// The index of its plan in the search's plans.
    plan: usize,
}

/// Runs the series DP (see the module docs) on the reduced instance `inst` with satellite
/// summaries `host`, against the best latency known `ub`; the local searches' labels are
/// added to `spent` (and count against `limits.max_labels`). `None` when it does not apply.
pub(super) fn solve(
    inst: &Instance,
    host: &[Option<Host>],
    blocks: Option<&Blocks>,
    ub: f64,
    limits: &Limits,
    started: Instant,
    spent: &mut u64,
) -> Option<SeriesOut> {
    let n = inst.len();
    let k = inst.devices.accelerators;
    let cap = inst.devices.accelerator_memory;
    if inst.devices.cpus == 0 || k == 0 || !ub.is_finite() || host.iter().any(Option::is_some) {
        return None;
    }
    let cuts = Cuts::new(inst)?;
    let m = cuts.ends.len() - 1;
    // every colocation class inside one block
    let mut class_block = vec![usize::MAX; inst.classes];
    for u in 0..n {
        let c = &mut class_block[inst.class[u]];
        if *c == usize::MAX {
            *c = cuts.block_of[u];
        } else if *c != cuts.block_of[u] {
            return None;
        }
    }
    let tol = |x: f64| x * (1.0 - 1e-12) - 1e-12;
    // a lower bound on latency − T_j: every successor of b_j starts at T_j or later (one in
    // b_j's subgraph has its work after T_j), and from there the path bound holds
    let pb = PathBound::new(inst, &node_topo(inst));
    let rest: Vec<f64> = cuts
        .ends
        .iter()
        .map(|&e| {
            inst.succ[e]
                .iter()
                .map(|&v| pb.enter(v, 0.0))
                .fold(0.0, f64::max)
        })
        .collect();
    // a lower bound on latency − T_j for a state at b_j (see `Blocks`)
    let after = |j: usize, used: usize, carry: Option<f64>| -> f64 {
        let tail = match blocks {
            Some(b) if j < m => match carry {
                None => b.at_end[j][k - used],
                Some(mem) => b.carried(j, k - used, mem),
            },
            _ => 0.0,
        };
        rest[j].max(tail)
    };
    // every schedule that beats `ub` passes through a state at b_j (the states cut were
    // dominated, or could not beat it): the least of their bounds holds for all
    let bound_at = |j: usize, states: &[State]| -> f64 {
        states
            .iter()
            .map(|s| s.t + after(j, s.used, s.carry))
            .fold(ub, f64::min)
    };
    let stopped = |reason: StopReason, j: usize, states: &[State]| SeriesOut {
        best: None,
        stopped: Some((reason, bound_at(j, states))),
    };
    // the most memory c′'s subgraph may hold in a local search that ran with the least
    // carried memory `least`, for state `s` (the whole accelerator when nothing is carried)
    let room = |s: &State, least: Option<f64>| {
        s.carry
            .zip(least)
            .map_or(cap, |(m, least)| cap - (m - least))
    };
    let b0 = cuts.ends[0];
    // states at b₀: on a CPU, or alone on an accelerator (ending there or going on)
    let mut states: Vec<State> = vec![State {
        used: 0,
        carry: None,
        t: inst.p_cpu[b0],
        prev: usize::MAX,
        exit: (0, 0),
    }];
    if inst.supported[b0] && inst.size[b0] <= cap {
        states.push(State {
            used: 1,
            carry: None,
            t: inst.p_acc[b0] + inst.out_cost[b0],
            prev: usize::MAX,
            exit: (0, 1),
        });
        states.push(State {
            used: 1,
            carry: Some(inst.size[b0]),
            t: inst.p_acc[b0],
            prev: usize::MAX,
            exit: (0, 1),
        });
    }
    states.retain(|s| s.t + rest[0] < tol(ub));
    let mut history: Vec<Vec<State>> = vec![pareto(states)];
    // per block, per local search: the local instance's node map and its exits' plans
    let mut plans: Vec<Vec<(Vec<usize>, Vec<LatencyPlan>)>> = vec![Vec::new()];
    for j in 1..=m {
        let prev = &history[j - 1];
        if prev.is_empty() {
            break;
        }
        // two local searches: b_{j−1} ready at T_{j−1}, and b_{j−1}'s subgraph going on
        // (one search for every carried memory: it runs with the least, and each exit says
        // how much memory c′'s subgraph adds)
        let (ready, going): (Vec<usize>, Vec<usize>) =
            (0..prev.len()).partition(|&x| prev[x].carry.is_none());
        // both searches get the budget left before them (deterministic in parallel)
        let budget = limits.max_labels.map(|b| b.saturating_sub(*spent));
        if budget == Some(0) {
            return Some(stopped(StopReason::LabelLimit, j - 1, prev));
        }
        let search = |of_entry: &[usize]| -> Result<Option<Found>, StopReason> {
            if of_entry.is_empty() {
                return Ok(None);
            }
            let carry = of_entry
                .iter()
                .filter_map(|&x| prev[x].carry)
                .min_by(f64::total_cmp);
            let least_used = of_entry.iter().map(|&x| prev[x].used).min().unwrap_or(0);
            let least_t = of_entry
                .iter()
                .map(|&x| prev[x].t)
                .fold(f64::INFINITY, f64::min);
            let (of, local) = local_instance(inst, &cuts, j, carry, k - least_used);
            // what follows b_j, by accelerators left (see `Blocks`): b_j's subgraph is
            // already counted, so at most one more is charged than with it carried
            let tail: Vec<f64> = match blocks {
                Some(b) if j < m => (0..=k)
                    .map(|a| b.inside[j][(a + 1).min(k)].max(rest[j]))
                    .collect(),
                _ => Vec::new(),
            };
            // the states this search serves: the memory c′'s subgraph may hold for each,
            // its T and the accelerators it has used beyond the fewest
            let entry_states: Vec<(f64, f64, usize)> = of_entry
                .iter()
                .map(|&x| {
                    let s = prev[x];
                    (room(&s, carry), s.t, s.used - least_used)
                })
                .collect();
            let (exits, plans, labels) = local_exits(
                &local,
                tail,
                (entry_states, ub),
                (j < m).then_some(inst.out_cost[cuts.ends[j]]),
                ub - least_t
                    - if blocks.is_some() && j < m {
                        0.0
                    } else {
                        rest[j]
                    },
                &Limits {
                    max_labels: budget,
                    ..limits.clone()
                },
                started,
            )?;
            Ok(Some(Found {
                carry,
                of,
                exits,
                plans,
                labels,
            }))
        };
        let (from_ready, from_going) = rayon::join(|| search(&ready), || search(&going));
        let (from_ready, from_going) = match (from_ready, from_going) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(reason), _) | (_, Err(reason)) => return Some(stopped(reason, j - 1, prev)),
        };
        let mut next: Vec<State> = Vec::new();
        let mut block_plans = Vec::new();
        for (of_entry, found) in [(ready, from_ready), (going, from_going)] {
            let Some(Found {
                carry,
                of,
                exits,
                plans: local_plans,
                labels: used_labels,
            }) = found
            else {
                continue;
            };
            *spent += used_labels;
            let search_id = block_plans.len();
            block_plans.push((of, local_plans));
            for &x in &of_entry {
                let s = prev[x];
                // the memory c′'s subgraph holds beyond the least carried memory
                let extra = s.carry.zip(carry).map_or(0.0, |(m, least)| m - least);
                // the exits' c′ memory is a class of the rooms (see `Search::cmem_class`)
                let room = room(&s, carry);
                for e in &exits {
                    let t = s.t + e.dt;
                    let used = s.used + e.used;
                    if used > k || e.cmem > room {
                        continue;
                    }
                    let carry = match e.carry {
                        Some(c) if e.with_entry => Some(c + extra),
                        c => c,
                    };
                    // what follows, by accelerators left and carried memory (see `Blocks`)
                    if t + after(j, used, carry) >= tol(ub) {
                        continue;
                    }
                    next.push(State {
                        used,
                        carry,
                        t,
                        prev: x,
                        exit: (search_id, e.plan),
                    });
                }
            }
        }
        plans.push(block_plans);
        history.push(pareto(next));
    }
    let best = history.get(m).and_then(|last| {
        last.iter()
            .enumerate()
            .filter(|(_, s)| s.t < tol(ub))
            .min_by(|a, b| a.1.t.total_cmp(&b.1.t).then(a.0.cmp(&b.0)))
            .map(|(x, s)| (x, s.t))
    });
    let best = best.map(|(x, t)| (t, assemble(inst, &cuts, &history, &plans, x)));
    Some(SeriesOut {
        best,
        stopped: None,
    })
}

/// The Pareto-optimal states among `states` (fewer accelerators, less carried memory and an
/// earlier T are better; a state that carries memory and one that does not are not
/// compared), in a deterministic order.
fn pareto(mut states: Vec<State>) -> Vec<State> {
    states.sort_by(|a, b| {
        a.carry
            .is_some()
            .cmp(&b.carry.is_some())
            .then(a.t.total_cmp(&b.t))
            .then(a.used.cmp(&b.used))
            .then(a.carry.unwrap_or(0.0).total_cmp(&b.carry.unwrap_or(0.0)))
            .then(a.prev.cmp(&b.prev))
            .then(a.exit.cmp(&b.exit))
    });
    let mut kept: Vec<State> = Vec::new();
    for s in states {
        // sorted by t within a kind: only earlier (kept) states can dominate
        let beaten = kept.iter().any(|o| {
            o.carry.is_some() == s.carry.is_some()
                && o.used <= s.used
                && o.carry.unwrap_or(0.0) <= s.carry.unwrap_or(0.0)
        });
        if !beaten {
            kept.push(s);
        }
    }
    kept
}

/// The local instance of block `j` (see the module docs): c′ as node 0, then the block's
/// nodes in topological order (b_j last), `k` accelerators for the block plus c′'s own when
/// it is carried in. Also the map from local to `inst` nodes (c′ to b_{j−1}).
fn local_instance(
    inst: &Instance,
    cuts: &Cuts,
    j: usize,
    carry: Option<f64>,
    k: usize,
) -> (Vec<usize>, Instance) {
    let mut of = vec![cuts.ends[j - 1]];
    of.extend_from_slice(&cuts.members[j]);
    // b_{j−1}'s class lies in block j − 1, so c′ keeps a class of its own
    let mut local = induced_on(inst, &of);
    local.p_acc[0] = 0.0;
    local.devices.accelerators = k;
    local.overlap = false;
    match carry {
        None => {
            local.p_cpu[0] = 0.0;
            local.size[0] = 0.0;
            local.supported[0] = false;
        }
        Some(mem) => {
            // kept off the CPUs by a time no schedule within the bound can afford
            local.p_cpu[0] = big(inst);
            local.size[0] = mem;
            local.supported[0] = true;
            local.devices.accelerators = k + 1;
        }
    }
    (of, local)
}

/// Exact local search of a block in exit mode: its Pareto-optimal exits below `ub`, their
/// plans (local nodes), and the labels made. `tail` bounds what follows the block by
/// accelerators left, `entries` are the states it serves and the best latency known (see
/// `Search::entry_states`), `goes_on` is c(b_j) when the DAG goes on after b_j (`None` for
/// the last block). `Err` when it stopped.
fn local_exits(
    local: &Instance,
    tail: Vec<f64>,
    entries: (Vec<(f64, f64, usize)>, f64),
    goes_on: Option<f64>,
    ub: f64,
    limits: &Limits,
    started: Instant,
) -> Result<(Vec<Exit>, Vec<LatencyPlan>, u64), StopReason> {
    let carried = local.supported[0];
    let topo = node_topo(local);
    let bound = PathBound::new(local, &topo);
    // no folding: a zero-time b_j folded into its input would lose the exits where they part
    let con = Contraction::all_edges(local, false);
    let deadline = limits.deadline(started);
    let ideals = Ideals::enumerate_capped(
        &con.pred,
        limits.max_ideals,
        deadline.0,
        limits.max_table_bytes,
    )
    .map_err(|s| s.reason)?;
    let mut search = Search::new(local, 1, con, ideals, vec![None; local.len()], &topo, bound);
    search.exits = true;
    search.exit_tail = tail;
    search.exit_out = goes_on;
    search.cmem_rooms = entries.0.iter().map(|e| e.0).collect();
    search.cmem_rooms.sort_by(f64::total_cmp);
    search.cmem_rooms.dedup();
    (search.entry_states, search.entry_ub) = entries;
    let out = search.run(None, ub, limits, started);
    if let Some(reason) = out.stopped {
        return Err(reason);
    }
    let mut exits: Vec<Exit> = Vec::new();
    for (x, e) in out.exits.iter().enumerate() {
        if carried && !e.entry_on_acc {
            continue;
        }
        let lab = search.exit_label(&out.store, x);
        // its exits are beaten by those of a label kept after it
        if lab.dead {
            continue;
        }
        let used = lab.closed as usize + lab.open.len() - usize::from(carried);
        let with_entry = carried && e.entry_with_sink;
        // `plan` is the exit label's position until the kept exits' plans are replayed
        let exit = |carry: Option<f64>, dt: f64| Exit {
            used,
            carry,
            cmem: lab.cmem,
            with_entry,
            dt,
            plan: x,
        };
        // b_j on a CPU, or in a subgraph that ends with it (paying its output transfer) or
        // goes on; the last block's sink only ends
        match (lab.open.first(), goes_on) {
            (Some(&(_, mem, _)), Some(out)) => {
                exits.push(exit(None, lab.makespan + out));
                exits.push(exit(Some(mem), lab.makespan));
            }
            _ => exits.push(exit(None, lab.makespan)),
        }
    }
    // Pareto-optimal exits only (the states' Pareto filter would drop the others anyway)
    exits.sort_by(|a, b| {
        a.dt.total_cmp(&b.dt)
            .then(a.used.cmp(&b.used))
            .then(a.cmem.total_cmp(&b.cmem))
            .then(a.carry.is_some().cmp(&b.carry.is_some()))
            .then(a.carry.unwrap_or(0.0).total_cmp(&b.carry.unwrap_or(0.0)))
            .then(a.with_entry.cmp(&b.with_entry))
            .then(a.plan.cmp(&b.plan))
    });
    let mut kept: Vec<Exit> = Vec::new();
    for e in exits {
        if e.dt >= ub * (1.0 - 1e-12) {
            continue;
        }
        // an exit carrying c′'s subgraph on grows with the carried memory: compared only
        // with its own kind
        let beaten = kept.iter().any(|o| {
            o.carry.is_some() == e.carry.is_some()
                && (e.carry.is_none() || o.with_entry == e.with_entry)
                && o.used <= e.used
                && o.cmem <= e.cmem
                && o.carry.unwrap_or(0.0) <= e.carry.unwrap_or(0.0)
        });
        if !beaten {
            kept.push(e);
        }
    }
    // replay the plans of the kept exits only (a big block has hundreds of thousands of
    // exit labels and keeps a few dozen)
    let mut plans = Vec::new();
    let mut slot = vec![usize::MAX; out.exits.len()];
    for e in &mut kept {
        if slot[e.plan] == usize::MAX {
            slot[e.plan] = plans.len();
            plans.push(search.exit_plan(&out.store, e.plan));
        }
        e.plan = slot[e.plan];
    }
    Ok((kept, plans, out.made))
}

/// The plan of `inst` behind state `x` at the last cut vertex: local plans mapped back,
/// c′'s accelerator the carried one, every other local accelerator a fresh one.
fn assemble(
    inst: &Instance,
    cuts: &Cuts,
    history: &[Vec<State>],
    plans: &[Vec<(Vec<usize>, Vec<LatencyPlan>)>],
    x: usize,
) -> LatencyPlan {
    let m = history.len() - 1;
    // the chain of states, b₀ first
    let mut chain = vec![0usize; m + 1];
    let mut cur = x;
    for j in (0..=m).rev() {
        chain[j] = cur;
        cur = history[j][cur].prev;
    }
    let mut plan: LatencyPlan = vec![None; inst.len()];
    let s0 = history[0][chain[0]];
    let mut next_acc = 0usize;
    let mut carried: Option<usize> = None;
    if s0.exit.1 == 1 {
        plan[cuts.ends[0]] = Some((0, 0));
        next_acc = 1;
        if s0.carry.is_some() {
            carried = Some(0);
        }
    }
    for j in 1..=m {
        let s = history[j][chain[j]];
        let (of, local_plans) = &plans[j][s.exit.0];
        let lp = &local_plans[s.exit.1];
        let mut acc_of: BTreeMap<usize, usize> = BTreeMap::new();
        if let (Some(a), Some((la, _))) = (carried, lp[0]) {
            acc_of.insert(la, a);
        }
        for (t, p) in lp.iter().enumerate().skip(1) {
            if let Some((la, _)) = *p {
                let g = *acc_of.entry(la).or_insert_with(|| {
                    next_acc += 1;
                    next_acc - 1
                });
                plan[of[t]] = Some((g, 0));
            }
        }
        carried = match (s.carry, plan[cuts.ends[j]]) {
            (Some(_), Some((g, _))) => Some(g),
            _ => None,
        };
    }
    plan
}
