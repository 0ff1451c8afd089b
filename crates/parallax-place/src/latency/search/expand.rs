//! One ideal's expansion: every subgraph that can follow its labels, walked as super-ideals
//! (see [`Search::expand`]), with the per-thread scratch it reuses and the candidates it
//! makes.

use super::Frontier;
use super::{by_fresh, Candidate, Search};
use crate::incr::CommTracker;
use crate::latency::label::{Label, Move};
use crate::model::Instance;
use std::sync::OnceLock;

/// One thread's scratch for [`Search::expand`], sized for one instance and reused: which
/// nodes are in I, each frontier node's position, the cut-cost tracker of D, which nodes are
/// in D, CPU finish times, the super-ideals visited (stamped with `visit`), and per
/// subgraph D: its inputs its last group added, the edges into D from each frontier node of
/// I, D's input transfers and each alive label's ready time by DFS depth, the frontier
/// nodes of J outside D (position in I's frontier, bound after), the options, and the
/// alive labels' fresh accelerators and frontier times packed in a row each (read for
/// every subgraph, so from one buffer rather than each label's own).
pub(super) struct Scratch {
    in_i: Vec<bool>,
    pos: Vec<u32>,
    tracker: CommTracker,
    in_d: Vec<bool>,
    tnew: Vec<f64>,
    stamp: Vec<u32>,
    visit: u32,
    new_inputs: Vec<usize>,
    uses: Vec<u32>,
    incomms: Vec<f64>,
    readies: Vec<f64>,
    kept: Vec<(u32, f64)>,
    kept_blk: Vec<(u32, f64)>,
    options: Vec<(Move, f64)>,
    fresh_of: Vec<u32>,
    tmat: Vec<f64>,
}

impl Scratch {
    pub(super) fn new(inst: &Instance, ideals: usize) -> Scratch {
        let n = inst.len();
        Scratch {
            in_i: vec![false; n],
            pos: vec![u32::MAX; n],
            tracker: CommTracker::new(inst),
            in_d: vec![false; n],
            tnew: vec![0.0; n],
            stamp: vec![0; ideals],
            visit: 0,
            new_inputs: Vec::new(),
            uses: Vec::new(),
            incomms: Vec::new(),
            readies: Vec::new(),
            kept: Vec::new(),
            kept_blk: Vec::new(),
            options: Vec::new(),
            fresh_of: Vec::new(),
            tmat: Vec::new(),
        }
    }
}

/// One ideal's expansion (see [`Search::expand`]): the bound it ran against, the labels it
/// kept alive, the candidate labels in the order made (their times and open accelerators
/// as ranges of two buffers) and the ideal pairs it evaluated.
#[derive(Default)]
pub(super) struct Expansion {
    pub(super) ub: f64,
    pub(super) alive: Vec<u32>,
    pub(super) pending: Vec<Candidate>,
    pub(super) cand_times: Vec<f64>,
    pub(super) cand_open: Vec<(f64, f64, u32)>,
    pub(super) pairs: u64,
}

impl Expansion {
    /// The buffers, their capacity cut to what a typical expansion needs.
    pub(super) fn trimmed(mut self) -> Expansion {
        const KEEP: usize = 1 << 12;
        self.alive.shrink_to(KEEP);
        self.pending.shrink_to(KEEP);
        self.cand_times.shrink_to(8 * KEEP);
        self.cand_open.shrink_to(KEEP);
        self
    }
}

impl Search<'_> {
    /// Expands ideal `i` whose labels are `labs`, against the best latency known `ub`: the
    /// labels it keeps alive (not cut by `ub`, within the beam) and every candidate label
    /// of a super-ideal they make, in the order the sequential search makes them, into
    /// `out`. Reads nothing another ideal of its level changes, so the ideals of one level
    /// expand in parallel (see [`Search::run`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn expand(
        &self,
        i: usize,
        labs: &[Label],
        ub: f64,
        beam: Option<usize>,
        cache: &[OnceLock<Frontier>],
        s: &mut Scratch,
        out: &mut Expansion,
    ) {
        let inst = self.inst;
        let q = self.q;
        let k = inst.devices.accelerators;
        let l = inst.devices.cpus;
        let mem_cap = inst.devices.accelerator_memory;
        let full = self.ideals.full();
        let tol = |x: f64| x * (1.0 - 1e-12) - 1e-12;
        out.ub = ub;
        out.pairs = 0;
        out.pending.clear();
        out.cand_times.clear();
        out.cand_open.clear();
        let Expansion {
            alive,
            pending,
            cand_times,
            cand_open,
            pairs,
            ..
        } = out;
        let Scratch {
            in_i,
            pos,
            tracker,
            in_d,
            tnew,
            stamp,
            visit,
            new_inputs,
            uses,
            incomms,
            readies,
            kept,
            kept_blk,
            options,
            fresh_of,
            tmat,
        } = s;
        // cut labels that can no longer beat the incumbent, and apply the beam
        alive.clear();
        alive.extend((0..labs.len() as u32).filter(|&x| {
            let lab = &labs[x as usize];
            let cut = ub.is_finite() && lab.lb >= tol(ub);
            !lab.dead && !cut
        }));
        if let Some(w) = beam {
            if alive.len() > w {
                alive.sort_by(|&a, &b| {
                    let (x, y) = (&labs[a as usize], &labs[b as usize]);
                    x.lb.partial_cmp(&y.lb)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then(
                            x.makespan
                                .partial_cmp(&y.makespan)
                                .unwrap_or(std::cmp::Ordering::Equal),
                        )
                        .then(a.cmp(&b))
                });
                alive.truncate(w);
                alive.sort_unstable();
            }
        }
        if alive.is_empty() {
            return;
        }
        let fi = self.frontier(i, cache);
        for (p, &u) in fi.nodes.iter().enumerate() {
            pos[u as usize] = p as u32;
        }
        // the alive labels' fresh accelerators and frontier times, packed in their order
        let nf = fi.nodes.len();
        fresh_of.clear();
        tmat.clear();
        for &li in alive.iter() {
            let lab = &labs[li as usize];
            fresh_of.push(lab.fresh(k) as u32);
            tmat.extend_from_slice(&lab.times);
        }
        for g in 0..self.con.len() {
            if self.ideals.contains(i, g) {
                for &u in &self.con.groups[g] {
                    in_i[u] = true;
                }
            }
        }
        // CPU moves: one group
        if l > 0 {
            for &(g, j) in self.ideals.up_of(i) {
                let g = g as usize;
                let fj = self.frontier(j as usize, cache);
                for &li in alive.iter() {
                    let lab = &labs[li as usize];
                    let mut mk = lab.makespan;
                    for &x in &self.gmembers[g] {
                        let mut r = 0.0f64;
                        for &w in &inst.pred[x] {
                            let tw = if in_i[w] {
                                lab.times[pos[w] as usize]
                            } else {
                                tnew[w]
                            };
                            r = r.max(tw);
                        }
                        tnew[x] = r + inst.p_cpu[x];
                        mk = mk.max(tnew[x]);
                    }
                    let time_of = |u: u32| {
                        let u = u as usize;
                        if in_i[u] {
                            lab.times[pos[u] as usize]
                        } else {
                            tnew[u]
                        }
                    };
                    // the bound first: most moves are cut, and then need no times
                    let lbv = fj
                        .nodes
                        .iter()
                        .zip(&fj.after)
                        .map(|(&u, a)| time_of(u) + a)
                        .fold(mk.max(fj.sources), f64::max);
                    let fresh = lab.fresh(k);
                    let lbv = lbv.max(fj.block_bound(fresh, |p| time_of(fj.nodes[p])));
                    if ub.is_finite() && lbv >= tol(ub) {
                        continue;
                    }
                    let t0 = cand_times.len();
                    cand_times.extend(fj.nodes.iter().map(|&u| time_of(u)));
                    let o0 = cand_open.len();
                    cand_open.extend_from_slice(&lab.open);
                    pending.push(Candidate {
                        j: j as usize,
                        times: (t0, cand_times.len()),
                        open: (o0, cand_open.len()),
                        closed: lab.closed,
                        makespan: mk,
                        cmem: lab.cmem,
                        lb: lbv,
                        parent: (i as u32, li),
                        mv: Move::Cpu,
                        with_entry: false,
                    });
                    self.drop_unfit(pending, cand_times, cand_open, cache);
                }
            }
        }
        // accelerator moves: DFS over super-ideals J of I; the subgraph is D = J \ I
        if k > 0 {
            let min_open_mem = alive
                .iter()
                .map(|&x| {
                    let x = &labs[x as usize];
                    if (x.closed as usize + x.open.len()) < k {
                        0.0
                    } else {
                        x.open.iter().map(|o| o.1).fold(f64::INFINITY, f64::min)
                    }
                })
                .fold(f64::INFINITY, f64::min);
            // how many edges from each frontier node of I enter D
            uses.clear();
            uses.resize(fi.nodes.len(), 0);
            readies.clear();
            incomms.clear();
            // frames: (ideal, next up-edge, group, p_acc, size, comm)
            let mut stack: Vec<(u32, u32, u32, f64, f64, f64)> =
                vec![(i as u32, 0, u32::MAX, 0.0, 0.0, 0.0)];
            // nodes of D with satellites
            let mut hosts_in_d: Vec<usize> = Vec::new();
            // groups of D
            let mut dstack: Vec<usize> = Vec::new();
            // p_acc of D inside block p (see `Frontier::dfs_tail`), by depth
            let mut blkacc: Vec<f64> = Vec::new();
            // the most the path bound past D's edges can be, by depth (`beyond_cap`)
            let mut capmax: Vec<f64> = Vec::new();
            *visit = visit.wrapping_add(1);
            if *visit == 0 {
                stamp.fill(0);
                *visit = 1;
            }
            stamp[i] = *visit;
            while let Some(top) = stack.last_mut() {
                let ups = self.ideals.up_of(top.0 as usize);
                if (top.1 as usize) >= ups.len() {
                    if let Some(fr) = stack.pop() {
                        if fr.2 != u32::MAX {
                            dstack.pop();
                            blkacc.pop();
                            capmax.pop();
                            incomms.pop();
                            readies.truncate(readies.len() - alive.len());
                            let members = &self.con.groups[fr.2 as usize];
                            tracker.remove(members);
                            for &u in members {
                                in_d[u] = false;
                                if self.host[u].is_some() {
                                    hosts_in_d.pop();
                                }
                                for &w in &inst.pred[u] {
                                    if in_i[w] {
                                        uses[pos[w] as usize] -= 1;
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                let (g, j) = if beam.is_some() {
                    // heuristic pass: subgraphs grow along the topological numbering
                    // of the groups only (the least group outside J is always addable)
                    top.1 = u32::MAX;
                    match ups.iter().min_by_key(|e| e.0) {
                        Some(&e) => e,
                        None => continue,
                    }
                } else {
                    let e = ups[top.1 as usize];
                    top.1 += 1;
                    e
                };
                if stamp[j as usize] == *visit {
                    continue;
                }
                stamp[j as usize] = *visit;
                let gi = g as usize;
                let p_acc = top.3 + self.con.p_acc[gi];
                let size = top.4 + self.con.size[gi];
                if !self.con.supported[gi] || size + min_open_mem > mem_cap {
                    continue;
                }
                let comm = top.5 + tracker.add(&self.con.groups[gi]);
                for &u in &self.con.groups[gi] {
                    in_d[u] = true;
                    if self.host[u].is_some() {
                        hosts_in_d.push(u);
                    }
                }
                stack.push((j, 0, g, p_acc, size, comm));
                dstack.push(gi);
                let in_blk: f64 = if fi.dfs_block == usize::MAX {
                    0.0
                } else {
                    let b = self.blocks.as_ref().map(|b| &b.block_of);
                    self.con.groups[gi]
                        .iter()
                        .filter(|&&u| b.is_some_and(|b| b[u] == fi.dfs_block))
                        .map(|&u| inst.p_acc[u])
                        .sum()
                };
                blkacc.push(blkacc.last().copied().unwrap_or(0.0) + in_blk);
                capmax.push(
                    capmax
                        .last()
                        .copied()
                        .unwrap_or(f64::NEG_INFINITY)
                        .max(self.beyond_cap[gi]),
                );
                *pairs += 1;
                // inputs of D (frontier nodes of I with a successor in D), kept along the
                // DFS: the group's members add theirs, with their transfers
                new_inputs.clear();
                let mut incomm = incomms.last().copied().unwrap_or(0.0);
                for &u in &self.con.groups[gi] {
                    for &w in &inst.pred[u] {
                        if in_i[w] {
                            let p = pos[w] as usize;
                            if uses[p] == 0 {
                                new_inputs.push(p);
                                incomm += inst.out_cost[w];
                            }
                            uses[p] += 1;
                        }
                    }
                }
                incomms.push(incomm);
                // D and every superset start no earlier than their inputs and run at
                // least p_acc plus the input transfers: each alive label's ready time,
                // D's parent's raised by the new inputs (a slice of `readies` per depth)
                let r0 = readies.len();
                if r0 == 0 {
                    readies.resize(alive.len(), 0.0);
                } else {
                    readies.extend_from_within(r0 - alive.len()..r0);
                }
                if !new_inputs.is_empty() {
                    for (r, times) in readies[r0..].iter_mut().zip(tmat.chunks_exact(nf.max(1))) {
                        for &p in new_inputs.iter() {
                            *r = r.max(times[p]);
                        }
                    }
                }
                let ready_of = &readies[r0..];
                let min_ready = ready_of.iter().copied().fold(f64::INFINITY, f64::min);
                // the block bound of D and every superset (see `Frontier::dfs_tail`)
                let blk_cut = if fi.dfs_tail.is_empty() || !ub.is_finite() {
                    false
                } else {
                    let least = fresh_of
                        .iter()
                        .zip(ready_of)
                        .map(|(&fresh, &r)| r + by_fresh(&fi.dfs_tail, fresh as usize))
                        .fold(f64::INFINITY, f64::min);
                    least + blkacc.last().copied().unwrap_or(0.0) + incomm >= tol(ub)
                };
                // ... and the path bound past D's outputs, which takes a pass over D's
                // edges: only when the rest does not cut it already, and only until it does
                let cut = blk_cut
                    || (ub.is_finite() && {
                        let floor = min_ready + p_acc + incomm;
                        let reach = capmax.last().copied().unwrap_or(f64::NEG_INFINITY);
                        self.path_cuts(&dstack, in_d, floor, reach, size, tol(ub))
                    });
                if cut {
                    if let Some(t) = stack.last_mut() {
                        t.1 = u32::MAX; // no supersets; popped next
                    }
                    continue;
                }
                let extra = if hosts_in_d.is_empty() {
                    0.0
                } else {
                    let hs: Vec<(usize, bool)> = hosts_in_d
                        .iter()
                        .map(|&u| (u, !tracker.crossing(u)))
                        .collect();
                    self.satellite_extra(&hs, mem_cap - size).0
                };
                let dur = p_acc + comm + extra;
                let fj = self.frontier(j as usize, cache);
                // J's frontier: nodes of D finish at `fin` (max over them of fin + after
                // is fin + their largest after, as rounding is monotone), the others keep
                // the label's times
                let mut d_after = f64::NEG_INFINITY;
                let mut d_blk = f64::NEG_INFINITY;
                let has_blk = !fj.tail.is_empty();
                kept.clear();
                kept_blk.clear();
                for (t, (&u, &a)) in fj.nodes.iter().zip(&fj.after).enumerate() {
                    if in_d[u as usize] {
                        d_after = d_after.max(a);
                        if has_blk {
                            d_blk = d_blk.max(fj.blk[t]);
                        }
                    } else {
                        kept.push((pos[u as usize], a));
                        if has_blk {
                            kept_blk.push((pos[u as usize], fj.blk[t]));
                        }
                    }
                }
                for (ai, &li) in alive.iter().enumerate() {
                    let lab = &labs[li as usize];
                    // every option starts at `ready` or later; the block bound's tail
                    // is read at the accelerators left after a fresh one (q = 1)
                    let earliest = ready_of[ai] + dur;
                    let fresh = fresh_of[ai] as usize;
                    let tail_blk = if has_blk {
                        by_fresh(&fj.tail, fresh.saturating_sub(1))
                    } else {
                        f64::NEG_INFINITY
                    };
                    // D's own part of the bound first: it cuts most pairs, and needs no
                    // pass over the frontier
                    if ub.is_finite()
                        && earliest
                            .max(earliest + d_after)
                            .max(earliest + d_blk + tail_blk)
                            >= tol(ub)
                    {
                        continue;
                    }
                    let ready = ready_of[ai];
                    let times = &tmat[ai * nf..(ai + 1) * nf];
                    // the part of the bound every option of this label shares, and the
                    // block bound's part before the subgraph's finish
                    let base = kept
                        .iter()
                        .map(|&(p, a)| times[p as usize] + a)
                        .fold(lab.makespan.max(fj.sources), f64::max);
                    let base_blk = kept_blk
                        .iter()
                        .map(|&(p, a)| times[p as usize] + a)
                        .fold(f64::NEG_INFINITY, f64::max);
                    let early_blk = base_blk.max(earliest + d_blk) + tail_blk;
                    if ub.is_finite()
                        && base.max(earliest).max(earliest + d_after).max(early_blk) >= tol(ub)
                    {
                        continue;
                    }
                    options.clear();
                    if (lab.closed as usize + lab.open.len()) < k && size <= mem_cap {
                        options.push((Move::NewAcc, ready));
                    }
                    let mut prev: Option<(f64, f64, u32)> = None;
                    for &o in &lab.open {
                        if prev == Some(o) || o.1 + size > mem_cap {
                            continue;
                        }
                        prev = Some(o);
                        options.push((Move::OpenAcc(o.0, o.1, o.2), ready.max(o.0)));
                    }
                    for &(mv, start) in options.iter() {
                        let fin = start + dur;
                        let mk = lab.makespan.max(fin);
                        let lbv = base.max(fin).max(fin + d_after);
                        let lbv = if has_blk {
                            let left = match mv {
                                Move::NewAcc => fresh.saturating_sub(1),
                                _ => fresh,
                            };
                            let tail = by_fresh(&fj.tail, left);
                            lbv.max(base_blk.max(fin + d_blk) + tail)
                        } else {
                            lbv
                        };
                        if ub.is_finite() && lbv >= tol(ub) {
                            continue;
                        }
                        let t0 = cand_times.len();
                        cand_times.extend(fj.nodes.iter().map(|&u| {
                            let u = u as usize;
                            if in_d[u] {
                                fin
                            } else {
                                times[pos[u] as usize]
                            }
                        }));
                        // the open accelerators after the move: the label's, with the
                        // one it used updated (the tail of `cand_open` is this label's)
                        let o0 = cand_open.len();
                        cand_open.extend_from_slice(&lab.open);
                        let mut closed = lab.closed;
                        match mv {
                            Move::NewAcc => {
                                if q == 1 && !(self.exits && j as usize == full) {
                                    closed += 1;
                                } else {
                                    cand_open.push((fin, size, 1));
                                }
                            }
                            Move::OpenAcc(a, m, c) => {
                                if let Some(p) =
                                    cand_open[o0..].iter().position(|&o| o == (a, m, c))
                                {
                                    cand_open.remove(o0 + p);
                                }
                                if c as usize + 1 >= q {
                                    closed += 1;
                                } else {
                                    cand_open.push((fin, m + size, c + 1));
                                }
                            }
                            _ => {}
                        }
                        cand_open[o0..]
                            .sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
                        pending.push(Candidate {
                            j: j as usize,
                            times: (t0, cand_times.len()),
                            open: (o0, cand_open.len()),
                            closed,
                            makespan: mk,
                            cmem: if self.exits && in_d[0] {
                                self.cmem_class(size)
                            } else {
                                lab.cmem
                            },
                            lb: lbv,
                            parent: (i as u32, li),
                            mv,
                            with_entry: self.exits && j as usize == full && in_d[0],
                        });
                        self.drop_unfit(pending, cand_times, cand_open, cache);
                    }
                }
            }
        }
        for g in 0..self.con.len() {
            if self.ideals.contains(i, g) {
                for &u in &self.con.groups[g] {
                    in_i[u] = false;
                }
            }
        }
    }

    /// Whether the path bound past the outputs of subgraph D (its groups `dstack`, its
    /// nodes marked in `in_d`, `size` its memory) cuts D and every superset: D finishes no
    /// earlier than `floor`, and the pass over D's edges stops as soon as `floor` plus what
    /// follows an edge reaches `limit`. `reach`, the most any of D's edges can add
    /// (`PathBound::beyond_cap`), skips the pass when even it cannot reach `limit`.
    fn path_cuts(
        &self,
        dstack: &[usize],
        in_d: &[bool],
        floor: f64,
        reach: f64,
        size: f64,
        limit: f64,
    ) -> bool {
        if floor + reach.max(0.0) < limit {
            return false;
        }
        let inst = self.inst;
        let b = self.bound.bucket(size);
        let mut beyond = 0.0f64;
        for &g in dstack {
            if floor >= limit {
                break;
            }
            for &z in &self.con.groups[g] {
                let c = inst.out_cost[z];
                for &v in &inst.succ[z] {
                    if !in_d[v] {
                        beyond = beyond.max(self.bound.beyond(v, c, b));
                        if floor + beyond >= limit {
                            return true;
                        }
                    }
                }
            }
        }
        floor + beyond >= limit
    }
}
