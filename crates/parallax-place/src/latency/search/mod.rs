//! The label-setting search over ideals (one pass: beam or exact, against a bound).

mod expand;

use self::expand::{Expansion, Scratch};
use super::blocks::Blocks;
use super::bound::PathBound;
use super::label::{dominates, exit_dominates, Key, Label, Live, Move};
use super::reduce::{satellite_decision, Host};
use super::LatencyPlan;
use crate::contract::Contraction;
use crate::ideals::Ideals;
use crate::limits::StopReason;
use crate::limits::{Deadline, Limits};
use crate::model::Instance;
use rayon::prelude::*;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

/// Frontier of an ideal: nodes with a successor outside, with the path bound after each,
/// and the bound of the source nodes outside.
pub(super) struct Frontier {
    pub(super) nodes: Vec<u32>,
    pub(super) after: Vec<f64>,
    pub(super) sources: f64,
    /// Block bound (see `Blocks`): per frontier node, the local bound after it to the end
    /// of the current block ...
    pub(super) blk: Vec<f64>,
    /// ... plus this, by accelerators not yet used (empty: no block bound).
    pub(super) tail: Vec<f64>,
    /// The block p of the first cut vertex outside the ideal (`usize::MAX`: none), and
    /// min(R(p, a, on a CPU), R(p, a − 1, carried)) by accelerators `a` not yet used: every
    /// subgraph added to this ideal ends (up to b_p) at least its work in block p after its
    /// ready time, and then this much is still to come (see `Blocks`).
    pub(super) dfs_block: usize,
    pub(super) dfs_tail: Vec<f64>,
}

impl Frontier {
    /// The block bound of a label with frontier times `time(p)` (by frontier position) and
    /// `fresh` accelerators not yet used.
    #[inline]
    pub(super) fn block_bound(&self, fresh: usize, time: impl Fn(usize) -> f64) -> f64 {
        if self.tail.is_empty() {
            return f64::NEG_INFINITY;
        }
        self.block_core(time) + by_fresh(&self.tail, fresh)
    }

    /// The block bound's part before its tail: the latest frontier time plus the local
    /// bound after it (`−∞` with no frontier).
    #[inline]
    fn block_core(&self, time: impl Fn(usize) -> f64) -> f64 {
        self.blk
            .iter()
            .enumerate()
            .map(|(p, a)| time(p) + a)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// A table by accelerators not yet used, read at `fresh` (its last entry holds for more).
#[inline]
pub(super) fn by_fresh(table: &[f64], fresh: usize) -> f64 {
    table[fresh.min(table.len() - 1)]
}

/// What one pass of the label search returns.
pub(super) struct RunOut {
    /// Best full label found with latency below the starting bound.
    pub(super) best: Option<(f64, LatencyPlan)>,
    pub(super) stopped: Option<StopReason>,
    /// Least bound of the labels left open when stopped (`+∞` when none).
    pub(super) open_lb: f64,
    /// Labels made (created and not cut by the bound) in this pass.
    pub(super) made: u64,
    /// With [`Search::exits`], when the pass was not stopped: where c′ went, for every label
    /// of the full ideal in order (the labels are `store`'s, see [`Search::exit_label`]).
    pub(super) exits: Vec<ExitLabel>,
    /// With [`Search::exits`]: the pass's labels, to read an exit and replay its plan
    /// ([`Search::exit_plan`]); empty otherwise.
    pub(super) store: Vec<Vec<Label>>,
}

/// Where c′ (node 0) went in a label of the full ideal in exit mode (see [`Search::exits`]),
/// read off its chain of moves without replaying its plan.
pub(super) struct ExitLabel {
    /// c′ is on an accelerator.
    pub(super) entry_on_acc: bool,
    /// ... in the sink's subgraph (placed by the same, last move).
    pub(super) entry_with_sink: bool,
}

/// A label not yet kept (see [`Search::run`]): its ideal, its fields, and its times and
/// open accelerators as ranges of the pass's candidate buffers.
struct Candidate {
    j: usize,
    times: (usize, usize),
    open: (usize, usize),
    closed: u32,
    makespan: f64,
    cmem: f64,
    lb: f64,
    parent: (u32, u32),
    mv: Move,
    with_entry: bool,
}

impl Candidate {
    /// The fields dominance compares, its times and open accelerators read from the
    /// buffers they were made into.
    fn key<'a>(&self, times: &'a [f64], open: &'a [(f64, f64, u32)]) -> Key<'a> {
        Key {
            times: &times[self.times.0..self.times.1],
            open: &open[self.open.0..self.open.1],
            closed: self.closed,
            makespan: self.makespan,
            cmem: self.cmem,
        }
    }
}

/// How many ideals of a level expand ahead of the insertions, in parallel (see
/// [`Search::run`]), and how many candidate labels they may hold before the batch stops
/// growing: every candidate of a batch waits in memory until the batch is committed
/// (~150 bytes each with a frontier of ten; Inception-v3's batches hold up to 100k).
const AHEAD: usize = 64;
const AHEAD_CANDIDATES: usize = 1 << 18;

/// Buffers of [`Search::commit_batch`], reused: per ideal, its place among a batch's
/// target ideals (`u32::MAX`: none), the targets in order of their first candidate, where
/// each target's candidates start in `refs` (and a copy advanced while filling it), and
/// the candidates by target as (expansion, index).
#[derive(Default)]
struct Buckets {
    slot: Vec<u32>,
    targets: Vec<u32>,
    start: Vec<usize>,
    fill: Vec<usize>,
    refs: Vec<(u32, u32)>,
}

/// The label-setting search on a reduced instance (see [`solve_latency`]).
pub(super) struct Search<'a> {
    pub(super) inst: &'a Instance,
    pub(super) q: usize,
    pub(super) con: Contraction,
    pub(super) ideals: Ideals,
    pub(super) gmembers: Vec<Vec<usize>>,
    pub(super) host: Vec<Option<Host>>,
    pub(super) bound: PathBound,
    /// Per group: the most [`PathBound::beyond`] can be on an edge out of one of its
    /// members ([`PathBound::beyond_cap`] over all their edges), so that `expand` skips the
    /// pass over a subgraph's edges when even these caps cannot cut it.
    beyond_cap: Vec<f64>,
    /// The block bound (q = 1), when it applies.
    pub(super) blocks: Option<Blocks>,
    /// Exit mode (q = 1, a block of the series decomposition, see `series`): the subgraph
    /// that holds the sink stays open (it may go on in the next block), labels of the full
    /// ideal are compared by their exits only (`exit_dominates`), do not lower the bound and
    /// are returned.
    pub(super) exits: bool,
    /// Exit mode: a lower bound on what follows the sink, by accelerators not yet used
    /// (empty: none). Added to the local path bounds like the block bound's tail.
    pub(super) exit_tail: Vec<f64>,
    /// Exit mode: the sink's output transfer when the DAG goes on after it (`None` for the
    /// last block), which an exit that ends the sink's subgraph pays.
    pub(super) exit_out: Option<f64>,
    /// Exit mode: the states the local search serves, as (the most memory c′'s subgraph
    /// may hold for it, its T, how many more accelerators it has used than the one that
    /// used fewest), and the best latency known. A label is cut when no state it fits (by
    /// memory and accelerators) can beat that latency with it: T plus the label's bound,
    /// its tail taken at the state's own accelerators left. Empty: the pass's bound only.
    pub(super) entry_states: Vec<(f64, f64, usize)>,
    pub(super) entry_ub: f64,
    /// Exit mode: the distinct memory rooms of the entry states, ascending. Labels compare
    /// the memory of c′'s subgraph only by which entry states it fits (see
    /// [`Search::cmem_class`]).
    pub(super) cmem_rooms: Vec<f64>,
    /// Labels created, all passes.
    pub(super) created: u64,
    /// Subgraphs (ideal pairs) evaluated, all passes.
    pub(super) pairs: u64,
}

impl<'a> Search<'a> {
    /// A search over the ideals of `con` (the contraction of `inst`), nodes of each group
    /// in the order of `topo`, with the path bound `bound`; no block bound, not in exit mode.
    pub(super) fn new(
        inst: &'a Instance,
        q: usize,
        con: Contraction,
        ideals: Ideals,
        host: Vec<Option<Host>>,
        topo: &[usize],
        bound: PathBound,
    ) -> Search<'a> {
        let mut rank = vec![0usize; inst.len()];
        for (i, &u) in topo.iter().enumerate() {
            rank[u] = i;
        }
        let mut gmembers = con.groups.clone();
        for m in &mut gmembers {
            m.sort_by_key(|&u| rank[u]);
        }
        let beyond_cap = con
            .groups
            .iter()
            .map(|members| {
                let mut most = f64::NEG_INFINITY;
                for &z in members {
                    for &v in &inst.succ[z] {
                        most = most.max(bound.beyond_cap(v, inst.out_cost[z]));
                    }
                }
                most
            })
            .collect();
        Search {
            inst,
            q,
            con,
            ideals,
            gmembers,
            host,
            bound,
            beyond_cap,
            blocks: None,
            exits: false,
            exit_tail: Vec::new(),
            exit_out: None,
            entry_states: Vec::new(),
            entry_ub: f64::INFINITY,
            cmem_rooms: Vec::new(),
            created: 1,
            pairs: 0,
        }
    }

    /// The frontier of ideal `j`, made once per pass and shared by the threads of the pass.
    pub(super) fn frontier<'c>(&self, j: usize, cache: &'c [OnceLock<Frontier>]) -> &'c Frontier {
        cache[j].get_or_init(|| self.make_frontier(j))
    }

    /// The frontier of ideal `j` (see [`Frontier`]).
    fn make_frontier(&self, j: usize) -> Frontier {
        let inst = self.inst;
        let n = inst.len();
        let mut member = vec![false; n];
        for g in 0..self.con.len() {
            if self.ideals.contains(j, g) {
                for &u in &self.con.groups[g] {
                    member[u] = true;
                }
            }
        }
        let mut nodes = Vec::new();
        let mut after = Vec::new();
        let mut sources = 0.0f64;
        for u in 0..n {
            if member[u] {
                let mut worst = f64::NEG_INFINITY;
                for &v in &inst.succ[u] {
                    if !member[v] {
                        worst = worst.max(self.bound.enter(v, inst.out_cost[u]));
                    }
                }
                if worst > f64::NEG_INFINITY {
                    nodes.push(u as u32);
                    after.push(worst);
                }
            } else if inst.pred[u].is_empty() {
                sources = sources.max(self.bound.source(u));
            }
        }
        let (mut blk, mut tail) = (Vec::new(), Vec::new());
        let (mut dfs_block, mut dfs_tail) = (usize::MAX, Vec::new());
        if self.blocks.is_none() && !self.exit_tail.is_empty() && !nodes.is_empty() {
            // the path bounds end at the sink, and the tail follows it
            blk.clone_from(&after);
            tail.clone_from(&self.exit_tail);
        }
        if let Some(b) = &self.blocks {
            // the first block whose end is outside the ideal
            if let Some(p) = b.ends.iter().position(|&e| !member[e]) {
                dfs_block = p;
                dfs_tail = b.inside[p].clone();
                let started = (0..n).any(|u| member[u] && b.block_of[u] == p);
                if p >= 1 && !started {
                    // the ideal ends at b_{p-1}, the only frontier node
                    blk = vec![0.0; nodes.len()];
                    tail = b.at_end[p - 1].clone();
                } else {
                    blk = nodes
                        .iter()
                        .map(|&u| {
                            let u = u as usize;
                            inst.succ[u]
                                .iter()
                                .filter(|&&v| !member[v])
                                .map(|&v| b.enter(v, inst.out_cost[u]))
                                .fold(f64::NEG_INFINITY, f64::max)
                        })
                        .collect();
                    tail = b.inside[p].clone();
                }
            }
        }
        Frontier {
            nodes,
            after,
            sources,
            blk,
            tail,
            dfs_block,
            dfs_tail,
        }
    }

    /// Exit mode: whether some entry state fits `lab` (a label of ideal `j` with lower
    /// bound `lb`) and could beat the best latency known with it (see
    /// [`Search::entry_states`]).
    fn entry_fits(
        &self,
        lab: Key<'_>,
        lb: f64,
        j: usize,
        cache: &[OnceLock<Frontier>],
        k: usize,
    ) -> bool {
        let fresh = lab.fresh(k);
        let fj = self.frontier(j, cache);
        // the block-bound part before the tail
        let core = if fj.tail.is_empty() {
            f64::NEG_INFINITY
        } else {
            fj.block_core(|p| lab.times[p])
        };
        let ub = self.entry_ub * (1.0 - 1e-12) - 1e-12;
        self.entry_states.iter().any(|&(room, t, more)| {
            if room < lab.cmem || fresh < more {
                return false;
            }
            let tail = if fj.tail.is_empty() {
                f64::NEG_INFINITY
            } else {
                core + by_fresh(&fj.tail, fresh - more)
            };
            t + lb.max(tail) < ub
        })
    }

    /// Exit mode: drops the candidate just made (the last of `pending`, its times and open
    /// accelerators the tails of the buffers) when no entry state it fits could beat the
    /// best latency known with it (see [`Search::entry_fits`]). Checked as candidates are
    /// made, in parallel, rather than as they are inserted: it reads nothing an insertion
    /// changes.
    fn drop_unfit(
        &self,
        pending: &mut Vec<Candidate>,
        cand_times: &mut Vec<f64>,
        cand_open: &mut Vec<(f64, f64, u32)>,
        cache: &[OnceLock<Frontier>],
    ) {
        if self.entry_states.is_empty() {
            return;
        }
        let Some(c) = pending.last() else {
            return;
        };
        let key = c.key(cand_times, cand_open);
        if !self.entry_fits(key, c.lb, c.j, cache, self.inst.devices.accelerators) {
            cand_times.truncate(c.times.0);
            cand_open.truncate(c.open.0);
            pending.pop();
        }
    }

    /// Exit mode: the memory `size` of c′'s subgraph as labels hold and compare it: 0 when
    /// it fits every entry state, else the least room of an entry state that holds it (it
    /// then fits exactly the states with that room or more), or `size` itself when none
    /// does. Two subgraphs of one class fit the same entry states, so a label is not kept
    /// for a memory difference no state can tell apart; the exits' memory is read the
    /// same way (`room >= cmem`, see `series`).
    fn cmem_class(&self, size: f64) -> f64 {
        let rooms = &self.cmem_rooms;
        match rooms.first() {
            None => 0.0,
            Some(&least) if size <= least => 0.0,
            _ => rooms
                .get(rooms.partition_point(|&r| r < size))
                .copied()
                .unwrap_or(size),
        }
    }

    /// Extra transfer time of a subgraph from satellites left out, given its hosts (nodes
    /// of the subgraph with satellites), whether each host's other outputs stay inside, and
    /// the memory left. Returns the extra time and which hosts take their satellites.
    pub(super) fn satellite_extra(&self, hosts: &[(usize, bool)], room: f64) -> (f64, Vec<bool>) {
        satellite_decision(&self.host, hosts, room)
    }

    /// One pass over the ideals in order. `beam` keeps only that many labels per ideal
    /// (a heuristic pass); `ub` is the best latency known (labels that cannot beat it are cut).
    ///
    /// Ideals are numbered level by level (by size), and a move always leads to a larger
    /// ideal, so no ideal of a level adds labels to another of its level. With more than one
    /// thread the pass takes up to [`AHEAD`] ideals of a level at once and expands them in
    /// parallel ([`Search::expand`], against the bound as it stands); then, when no
    /// candidate of the batch could lower the bound and the label budget cannot run out
    /// in it, it inserts the candidates into their ideals, distinct ideals in parallel and
    /// each ideal's candidates in the order the sequential pass inserts them
    /// ([`Search::commit_batch`]). Otherwise the batch's ideals are committed one by one,
    /// an expansion made against a bound since lowered made again. Either way the pass
    /// keeps, cuts, counts and returns exactly what it does on one thread.
    pub(super) fn run(
        &mut self,
        beam: Option<usize>,
        mut ub: f64,
        limits: &Limits,
        started: Instant,
    ) -> RunOut {
        let inst = self.inst;
        let k = inst.devices.accelerators;
        let ni = self.ideals.len();
        let full = self.ideals.full();
        let mut labels: Vec<Vec<Label>> = vec![Vec::new(); ni];
        // indices of the labels of each ideal not yet dominated, for the dominance scans of
        // insertions (which never see labels cut when their own ideal is expanded)
        let mut live: Vec<Vec<Live>> = vec![Vec::new(); ni];
        let mut cache: Vec<OnceLock<Frontier>> = (0..ni).map(|_| OnceLock::new()).collect();
        let root_front = self.frontier(0, &cache);
        labels[0].push(Label {
            times: Vec::new(),
            open: Vec::new(),
            closed: 0,
            makespan: 0.0,
            cmem: 0.0,
            lb: root_front.sources.max(
                self.blocks
                    .as_ref()
                    .map_or(f64::NEG_INFINITY, |b| b.root[k.min(b.root.len() - 1)]),
            ),
            parent: (u32::MAX, u32::MAX),
            mv: Move::Root,
            dead: false,
            with_entry: false,
        });
        live[0].push(Live::of(0, labels[0][0].key(), k));
        let mut stopped: Option<StopReason> = None;
        let mut stop_at = ni;
        let mut lost_lb = f64::INFINITY;
        let mut best_label: Option<(u32, u32)> = None;
        // the beam pass is bounded by its width; only the exact pass uses the label budget
        let max_labels = if beam.is_some() {
            None
        } else {
            limits.max_labels
        };
        let mut made: u64 = 0;
        // expansions run ahead, in parallel, over the rest of a level (see `expand`): one
        // scratch per thread, the expansions of ideals `prefetch_start..` and spare buffers
        let parallel = rayon::current_num_threads() > 1;
        let pool: Vec<Mutex<Option<Scratch>>> = (0..rayon::current_num_threads())
            .map(|_| Mutex::new(None))
            .collect();
        let mut prefetched: Vec<Option<Expansion>> = Vec::new();
        let mut prefetch_start = 0usize;
        let mut spare: Vec<Expansion> = Vec::new();
        let mut now = Expansion::default();
        // a batch's candidates by target ideal, and its ideals committed
        let mut buckets = Buckets {
            slot: vec![u32::MAX; ni],
            ..Buckets::default()
        };
        let mut done_until = 0usize;
        // the most candidates per label a wave of expansions has made in this pass
        // (`None` before the first)
        let mut per_label: Option<f64> = None;
        let deadline = limits.deadline(started);
        for i in 0..ni {
            if i < done_until {
                continue;
            }
            if labels[i].iter().all(|lb| lb.dead) {
                labels[i] = Vec::new();
                continue;
            }
            if i == full {
                break;
            }
            if deadline.passed() {
                stopped = Some(StopReason::TimeLimit);
                stop_at = i;
                break;
            }
            if parallel && i >= prefetch_start + prefetched.len() {
                // a batch: the rest of i's level, up to `AHEAD` ideals (the full ideal
                // apart; no ideal of a level is a subset of another, so none adds labels to
                // another), expanded in parallel waves until they hold `AHEAD_CANDIDATES`
                // candidates (which wait in memory until the batch is committed) or the
                // time is up
                let level = self.ideals.level_start.partition_point(|&x| x <= i);
                let last = self.ideals.level_start[level].min(i + AHEAD).min(full);
                // (spare buffers keep a bounded capacity: one ideal of a large pass can make
                // millions of candidates)
                spare.extend(prefetched.drain(..).flatten().map(Expansion::trimmed));
                prefetch_start = i;
                let wave = 2 * pool.len();
                let mut end = i;
                let mut held = 0;
                while last - i >= 2 && end < last && held < AHEAD_CANDIDATES && !deadline.passed() {
                    // a few ideals per thread, and as many more as the candidates per label
                    // seen so far in the pass leave room for
                    let from = end;
                    let mut room = per_label.map_or(0.0, |r| (AHEAD_CANDIDATES - held) as f64 / r);
                    while end < last && (end < from + wave || labels[end].len() as f64 <= room) {
                        if end >= from + wave {
                            room -= labels[end].len() as f64;
                        }
                        end += 1;
                    }
                    let first = prefetched.len();
                    prefetched.extend((from..end).map(|x| {
                        (!labels[x].iter().all(|lb| lb.dead))
                            .then(|| spare.pop().unwrap_or_default())
                    }));
                    let this = &*self;
                    let (labs, frontiers, pool) = (&labels, &cache, &pool);
                    prefetched[first..]
                        .par_iter_mut()
                        .enumerate()
                        .for_each(|(o, slot)| {
                            if let Some(e) = slot {
                                let t = rayon::current_thread_index().unwrap_or(0) % pool.len();
                                let mut s = pool[t].lock().unwrap_or_else(PoisonError::into_inner);
                                let s = s.get_or_insert_with(|| Scratch::new(inst, ni));
                                this.expand(from + o, &labs[from + o], ub, beam, frontiers, s, e);
                            }
                        });
                    let made_now: usize = prefetched[first..]
                        .iter()
                        .flatten()
                        .map(|e| e.pending.len())
                        .sum();
                    let labels_now: usize = (from..end).map(|x| labels[x].len()).sum();
                    held += made_now;
                    let ratio = made_now as f64 / labels_now.max(1) as f64;
                    per_label = Some(per_label.map_or(ratio, |r| r.max(ratio)));
                }
                if end - i >= 2 {
                    // nothing in the batch can lower the bound or run out of labels: commit it
                    // at once, the insertions into distinct ideals in parallel, each ideal's in
                    // the sequential order (else the ideals are committed one by one below)
                    let lowers = !self.exits
                        && prefetched
                            .iter()
                            .flatten()
                            .any(|e| e.pending.iter().any(|c| c.j == full && c.makespan < ub));
                    if !lowers && max_labels.map_or(true, |m| made + held as u64 <= m) {
                        let (count, lost) = self.commit_batch(
                            &prefetched,
                            &mut buckets,
                            &mut labels,
                            &mut live,
                            deadline,
                        );
                        made += count;
                        if lost < f64::INFINITY {
                            // out of time inside the batch: its ideals stay open
                            stopped = Some(StopReason::TimeLimit);
                            stop_at = i;
                            lost_lb = lost_lb.min(lost);
                            break;
                        }
                        for (o, slot) in prefetched.iter().enumerate() {
                            let x = i + o;
                            let Some(e) = slot else {
                                labels[x] = Vec::new();
                                continue;
                            };
                            cut_unkept(&mut labels[x], &e.alive);
                            if e.alive.is_empty() {
                                continue;
                            }
                            self.pairs += e.pairs;
                            release(&mut labels[x], &mut cache[x], &mut live[x]);
                        }
                        done_until = end;
                        continue;
                    }
                }
            }
            let expansion = match prefetched.get_mut(i - prefetch_start) {
                Some(Some(e)) if e.ub.to_bits() == ub.to_bits() => e,
                _ => {
                    // not expanded ahead, or against a bound since lowered: now
                    let mut s = pool[0].lock().unwrap_or_else(PoisonError::into_inner);
                    let s = s.get_or_insert_with(|| Scratch::new(inst, ni));
                    self.expand(i, &labels[i], ub, beam, &cache, s, &mut now);
                    &mut now
                }
            };
            cut_unkept(&mut labels[i], &expansion.alive);
            if expansion.alive.is_empty() {
                continue;
            }
            self.pairs += expansion.pairs;
            let Expansion {
                pending,
                cand_times,
                cand_open,
                ..
            } = expansion;
            // insert the candidates with dominance, in order; a label is built only for
            // those kept
            let mut rest = pending.drain(..);
            for c in rest.by_ref() {
                let j = c.j;
                let key = c.key(cand_times, cand_open);
                self.created += 1;
                made += 1;
                if max_labels.is_some_and(|m| made > m) {
                    stopped = Some(StopReason::LabelLimit);
                    lost_lb = lost_lb.min(c.lb);
                    break;
                }
                if self.insert(&c, key, &mut labels[j], &mut live[j])
                    && !self.exits
                    && j == full
                    && c.makespan < ub
                {
                    ub = c.makespan;
                    best_label = Some((j as u32, labels[j].len() as u32 - 1));
                }
            }
            for c in rest {
                lost_lb = lost_lb.min(c.lb);
            }
            if stopped.is_some() {
                // ideal i was expanded, but not all of its children were kept
                stop_at = i;
                break;
            }
            release(&mut labels[i], &mut cache[i], &mut live[i]);
        }
        let mut open_lb = lost_lb;
        if stopped.is_some() {
            for labs in &labels[stop_at..] {
                for x in labs {
                    if !x.dead {
                        open_lb = open_lb.min(x.lb);
                    }
                }
            }
        }
        let best = best_label.map(|end| {
            let plan = self.replay(&labels, end);
            (labels[end.0 as usize][end.1 as usize].makespan, plan)
        });
        let mut exits = Vec::new();
        let mut store = Vec::new();
        if self.exits && stopped.is_none() {
            // the group of c′ (node 0); its plan is replayed only for the exits kept
            let g0 = (0..self.con.len()).find(|&g| self.con.groups[g].contains(&0));
            for x in 0..labels[full].len() {
                let (mv, last) = match g0 {
                    Some(g0) => self.entry_move(&labels, (full as u32, x as u32), g0),
                    None => (Move::Root, false),
                };
                let on_acc = matches!(mv, Move::NewAcc | Move::OpenAcc(..));
                exits.push(ExitLabel {
                    entry_on_acc: on_acc,
                    entry_with_sink: on_acc && last,
                });
            }
            store = labels;
        }
        RunOut {
            best,
            made,
            stopped,
            open_lb,
            exits,
            store,
        }
    }

    /// Commits the candidates of a batch of expansions (ideals of one level, in order):
    /// each target ideal's candidates are inserted in the order the sequential search
    /// inserts them (by expansion, then as made), the ideals in parallel. Returns the labels
    /// made (past the entry check) and, when the `deadline` passed before every candidate
    /// was inserted, the least bound of those left (else `+∞`). The caller ensures no
    /// insertion can lower the bound.
    fn commit_batch(
        &mut self,
        batch: &[Option<Expansion>],
        buckets: &mut Buckets,
        labels: &mut [Vec<Label>],
        live: &mut [Vec<Live>],
        deadline: Deadline,
    ) -> (u64, f64) {
        // bucket the candidates by target ideal, stably (a counting sort)
        let Buckets {
            slot,
            targets,
            start,
            fill,
            refs,
        } = buckets;
        targets.clear();
        start.clear();
        for exp in batch.iter().flatten() {
            for c in &exp.pending {
                let s = &mut slot[c.j];
                if *s == u32::MAX {
                    *s = targets.len() as u32;
                    targets.push(c.j as u32);
                    start.push(0);
                }
                start[*s as usize] += 1;
            }
        }
        let mut total = 0;
        for c in start.iter_mut() {
            (*c, total) = (total, total + *c);
        }
        start.push(total);
        fill.clone_from(start);
        refs.resize(total, (0, 0));
        for (e, exp) in batch.iter().enumerate() {
            for (x, c) in exp.iter().flat_map(|exp| exp.pending.iter().enumerate()) {
                let t = slot[c.j] as usize;
                refs[fill[t]] = (e as u32, x as u32);
                fill[t] += 1;
            }
        }
        let mut work: Vec<(usize, &[(u32, u32)], Vec<Label>, Vec<Live>)> = targets
            .iter()
            .enumerate()
            .map(|(t, &j)| {
                let j = j as usize;
                slot[j] = u32::MAX;
                (
                    j,
                    &refs[start[t]..start[t + 1]],
                    std::mem::take(&mut labels[j]),
                    std::mem::take(&mut live[j]),
                )
            })
            .collect();
        let this = &*self;
        // (labels made, least bound of the candidates left when the time ran out)
        let (made, lost) = work
            .par_iter_mut()
            .map(|(_, run, lj, lv)| {
                let mut made = 0;
                let mut lost = f64::INFINITY;
                for (n, &(e, x)) in run.iter().enumerate() {
                    let Some(exp) = &batch[e as usize] else {
                        continue;
                    };
                    let c = &exp.pending[x as usize];
                    if lost < f64::INFINITY || (n % 256 == 255 && deadline.passed()) {
                        lost = lost.min(c.lb);
                        continue;
                    }
                    let key = c.key(&exp.cand_times, &exp.cand_open);
                    made += 1;
                    this.insert(c, key, lj, lv);
                }
                (made, lost)
            })
            .reduce(|| (0, f64::INFINITY), |a, b| (a.0 + b.0, a.1.min(b.1)));
        for (j, _, lj, lv) in work {
            labels[j] = lj;
            live[j] = lv;
        }
        self.created += made;
        (made, lost)
    }

    /// Inserts candidate `c` (its fields `key`) into `lj`, the labels of its ideal, whose
    /// live labels are `lv`, with dominance: `false` when a live label dominates it; else
    /// the live labels it dominates are cut and it is kept (last of `lj`). In exit mode the
    /// labels of the full ideal are compared by their exits only.
    ///
    /// Complexity: O(L·f) for L live labels of frontier size f (most pairs are ruled out
    /// by the summaries, see [`Live`]).
    fn insert(&self, c: &Candidate, key: Key<'_>, lj: &mut Vec<Label>, lv: &mut Vec<Live>) -> bool {
        let k_limit = self.inst.devices.accelerators;
        if self.exits && c.j == self.ideals.full() {
            let exit_key = (key, c.with_entry);
            let out = self.exit_out;
            if lv.iter().any(|x| {
                let o = &lj[x.idx as usize];
                exit_dominates((o.key(), o.with_entry), exit_key, out)
            }) {
                return false;
            }
            lv.retain(|x| {
                let o = &mut lj[x.idx as usize];
                let beaten = exit_dominates(exit_key, (o.key(), o.with_entry), out);
                if beaten {
                    o.dead = true;
                }
                !beaten
            });
            lv.push(Live::of(lj.len(), key, k_limit));
        } else {
            // the summaries rule out most pairs before a label is read
            let me = Live::of(lj.len(), key, k_limit);
            if lv
                .iter()
                .any(|x| x.may_dominate(&me) && dominates(lj[x.idx as usize].key(), key, k_limit))
            {
                return false;
            }
            lv.retain(|x| {
                let beaten =
                    me.may_dominate(x) && dominates(key, lj[x.idx as usize].key(), k_limit);
                if beaten {
                    lj[x.idx as usize].dead = true;
                }
                !beaten
            });
            lv.push(me);
        }
        lj.push(Label {
            times: key.times.to_vec(),
            open: key.open.to_vec(),
            closed: c.closed,
            makespan: c.makespan,
            cmem: c.cmem,
            lb: c.lb,
            parent: c.parent,
            mv: c.mv,
            dead: false,
            with_entry: c.with_entry,
        });
        true
    }

    /// The move that placed group `g0` on the chain of label `end`, and whether it is the
    /// chain's last move (`Move::Root` when no move did).
    ///
    /// Complexity: O(depth of the chain), no allocation.
    fn entry_move(&self, labels: &[Vec<Label>], end: (u32, u32), g0: usize) -> (Move, bool) {
        let mut cur = end;
        let mut last = true;
        loop {
            let lab = &labels[cur.0 as usize][cur.1 as usize];
            let parent = lab.parent;
            if parent.0 == u32::MAX {
                return (Move::Root, false);
            }
            if !self.ideals.contains(parent.0 as usize, g0) {
                return (lab.mv, last);
            }
            last = false;
            cur = parent;
        }
    }

    /// Exit `x` (see [`RunOut::exits`]) of a pass whose labels are `store`.
    pub(super) fn exit_label<'s>(&self, store: &'s [Vec<Label>], x: usize) -> &'s Label {
        &store[self.ideals.full()][x]
    }

    /// The plan of exit `x` (see [`RunOut::exits`]) of a pass whose labels are `store`.
    pub(super) fn exit_plan(&self, store: &[Vec<Label>], x: usize) -> LatencyPlan {
        self.replay(store, (self.ideals.full() as u32, x as u32))
    }

    /// Rebuilds a plan (on this instance, satellites left out) by replaying the moves from
    /// the root to a label.
    pub(super) fn replay(&self, labels: &[Vec<Label>], end: (u32, u32)) -> LatencyPlan {
        let n = self.inst.len();
        let mut chain: Vec<(u32, u32)> = Vec::new();
        let mut cur = end;
        while cur.0 != u32::MAX {
            chain.push(cur);
            cur = labels[cur.0 as usize][cur.1 as usize].parent;
        }
        chain.reverse();
        let mut plan: LatencyPlan = vec![None; n];
        // replayed accelerators: (available, memory, subgraphs) by index; the memory and
        // subgraph count identify an open accelerator exactly as the search saw it
        let mut accs: Vec<(f64, f64, u32)> = Vec::new();
        for w in chain.windows(2) {
            let (pi, ci) = (w[0], w[1]);
            let child = &labels[ci.0 as usize][ci.1 as usize];
            let diff: Vec<usize> = (0..self.con.len())
                .filter(|&g| {
                    self.ideals.contains(ci.0 as usize, g)
                        && !self.ideals.contains(pi.0 as usize, g)
                })
                .collect();
            let target = match child.mv {
                Move::Root | Move::Cpu => continue,
                Move::NewAcc => {
                    accs.push((0.0, 0.0, 0));
                    accs.len() - 1
                }
                Move::OpenAcc(a, m, c) => {
                    let Some(t) = accs.iter().position(|&x| x == (a, m, c)) else {
                        continue;
                    };
                    t
                }
            };
            let posn = accs[target].2 as usize;
            for &g in &diff {
                for &u in &self.con.groups[g] {
                    plan[u] = Some((target, posn));
                }
            }
            // the accelerator's new state is the child's open entry that the parent lacks
            // (after removing the one it used); none when the accelerator closed
            let parent = &labels[pi.0 as usize][pi.1 as usize];
            let mut rest = parent.open.clone();
            if let Move::OpenAcc(a, m, c) = child.mv {
                if let Some(p) = rest.iter().position(|&o| o == (a, m, c)) {
                    rest.remove(p);
                }
            }
            let mut fresh = None;
            for &o in &child.open {
                if let Some(p) = rest.iter().position(|&r| r == o) {
                    rest.remove(p);
                } else {
                    fresh = Some(o);
                }
            }
            accs[target] = fresh.unwrap_or((f64::INFINITY, f64::INFINITY, u32::MAX));
        }
        plan
    }
}

/// Cuts the labels of an expanded ideal that its expansion did not keep alive (`alive`:
/// their indices, ascending).
fn cut_unkept(labs: &mut [Label], alive: &[u32]) {
    let mut keep = alive.iter().peekable();
    for (x, lab) in labs.iter_mut().enumerate() {
        if keep.next_if(|&&a| a as usize == x).is_none() {
            lab.dead = true;
        }
    }
}

/// Frees what an expanded ideal no longer needs: its labels' times, its frontier and its
/// live list (parents and moves stay for the replay).
fn release(labs: &mut [Label], frontier: &mut OnceLock<Frontier>, live: &mut Vec<Live>) {
    for lab in labs.iter_mut() {
        lab.times = Vec::new();
    }
    *frontier = OnceLock::new();
    *live = Vec::new();
}
