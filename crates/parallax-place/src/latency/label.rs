//! Search labels (states) and their Pareto dominance.

#[derive(Clone, Copy, Debug)]
pub(super) enum Move {
    Root,
    Cpu,
    /// A subgraph on a fresh accelerator.
    NewAcc,
    /// A subgraph on an open accelerator whose state before was `(avail, mem, count)`.
    OpenAcc(f64, f64, u32),
}

#[derive(Clone, Debug)]
pub(super) struct Label {
    /// Finish times of the frontier nodes of the ideal (nodes with a successor outside it).
    pub(super) times: Vec<f64>,
    /// Open accelerators (fewer than q subgraphs): (available, memory, subgraphs), sorted.
    pub(super) open: Vec<(f64, f64, u32)>,
    pub(super) closed: u32,
    pub(super) makespan: f64,
    /// Exit mode with a carried-in c′ (see `series`): the memory of c′'s subgraph as a class
    /// of the entry states' rooms (`Search::cmem_class`; 0 before it is placed, when it fits
    /// every entry state, and always outside exit mode). Less is better: it fits more
    /// entry states.
    pub(super) cmem: f64,
    /// A lower bound on the latency of every completion of this label.
    pub(super) lb: f64,
    pub(super) parent: (u32, u32),
    pub(super) mv: Move,
    pub(super) dead: bool,
    /// Exit mode, a label of the full ideal: the move that made it placed c′ (node 0), so
    /// c′ is in the sink's subgraph (see [`exit_dominates`]).
    pub(super) with_entry: bool,
}

impl Label {
    /// Accelerators of `k` this label has not used yet (neither closed nor open).
    #[inline]
    pub(super) fn fresh(&self, k: usize) -> usize {
        self.key().fresh(k)
    }

    /// The fields dominance compares.
    #[inline]
    pub(super) fn key(&self) -> Key<'_> {
        Key {
            times: &self.times,
            open: &self.open,
            closed: self.closed,
            makespan: self.makespan,
            cmem: self.cmem,
        }
    }
}

/// What dominance compares of a label, borrowed: a kept [`Label`]'s fields, or those of a
/// candidate not yet allocated (the search checks a candidate before it builds one).
#[derive(Clone, Copy)]
pub(super) struct Key<'a> {
    pub(super) times: &'a [f64],
    pub(super) open: &'a [(f64, f64, u32)],
    pub(super) closed: u32,
    pub(super) makespan: f64,
    pub(super) cmem: f64,
}

impl Key<'_> {
    /// Accelerators of `k` this label has not used yet (neither closed nor open).
    #[inline]
    pub(super) fn fresh(&self, k: usize) -> usize {
        k.saturating_sub(self.closed as usize + self.open.len())
    }
}

/// Whether label `a` is at least as good as `b` (same ideal): no later makespan, no later
/// frontier time, and every accelerator `b` can still use is matched by a distinct one of
/// `a` that is available no later, holds no more memory and has run no more subgraphs (a
/// fresh accelerator matches anything). The matching is greedy (hardest of `b` first), so
/// this is a sufficient test, never a wrong one.
pub(super) fn dominates(a: Key<'_>, b: Key<'_>, k: usize) -> bool {
    if a.makespan > b.makespan || a.cmem > b.cmem || a.times.iter().zip(b.times).any(|(x, y)| x > y)
    {
        return false;
    }
    let (fa, fb) = (a.fresh(k), b.fresh(k));
    if fa < fb {
        return false;
    }
    if b.open.is_empty() {
        return true;
    }
    let mut spare = fa - fb;
    let mut used = [false; 64];
    if a.open.len() > used.len() {
        return a.open == b.open && a.closed <= b.closed;
    }
    for ob in b.open.iter().rev() {
        let hit = a
            .open
            .iter()
            .enumerate()
            .position(|(t, oa)| !used[t] && oa.0 <= ob.0 && oa.1 <= ob.1 && oa.2 <= ob.2);
        match hit {
            Some(t) => used[t] = true,
            None if spare > 0 => spare -= 1,
            None => return false,
        }
    }
    true
}

/// Classes of frontier positions a [`Live`] summary sums apart.
const SUMS: usize = 4;

/// A label of an ideal not yet dominated, with the scalars that [`dominates`] needs to hold
/// (no later makespan, no more memory of c′'s subgraph, no fewer fresh accelerators, no
/// later frontier times and so no larger sum of them over any class of positions:
/// floating-point addition in one order is monotone), kept inline so that the search's
/// dominance scans of an insertion read a label only when they all hold. Summing four
/// classes apart rather than all times at once lets through almost only the pairs that
/// [`dominates`] then accepts (Inception-v3's series DP: 5.83M calls instead of 61.4M for
/// the same 5.82M dominated candidates).
#[derive(Clone, Copy)]
pub(super) struct Live {
    makespan: f64,
    cmem: f64,
    /// Σ of the frontier times in each class of positions modulo [`SUMS`], in frontier
    /// order (with a frontier of at most `SUMS` nodes, the times themselves).
    sums: [f64; SUMS],
    fresh: u32,
    /// The label's index in its ideal.
    pub(super) idx: u32,
}

impl Live {
    /// The summary of the label at `idx` with fields `key`, of `k` accelerators.
    pub(super) fn of(idx: usize, key: Key<'_>, k: usize) -> Live {
        Live {
            makespan: key.makespan,
            cmem: key.cmem,
            sums: {
                let mut sums = [0.0; SUMS];
                for (p, &t) in key.times.iter().enumerate() {
                    sums[p % SUMS] += t;
                }
                sums
            },
            fresh: key.fresh(k) as u32,
            idx: idx as u32,
        }
    }

    /// Whether the label `self` summarises may dominate the one `other` summarises (false:
    /// it surely does not).
    #[inline]
    pub(super) fn may_dominate(&self, other: &Live) -> bool {
        self.makespan <= other.makespan
            && self.cmem <= other.cmem
            && self.fresh >= other.fresh
            && self.sums.iter().zip(&other.sums).all(|(a, b)| a <= b)
    }
}

/// Exit mode, two labels of the full ideal (with whether the move that made each placed c′,
/// see [`Label::with_entry`]): whether every exit of `b` is beaten by one of `a` as the
/// series DP's Pareto filter of exits compares them (see `series::local_exits`), so `b`
/// need not be kept. `out` is the sink's output transfer when the DAG goes on (`None` for
/// the last block). A label's exits: the sink's subgraph ended (at its makespan, plus `out`
/// when the sink is in a subgraph that goes on, open here) and, when that subgraph is open
/// and the DAG goes on, the subgraph carried on (at its makespan, with its memory, and
/// whether it holds c′). `a` must use no more accelerators and hold c′'s subgraph in no
/// more memory (its class, see `Label::cmem`).
///
/// Complexity: O(1) (q = 1: at most one open accelerator).
pub(super) fn exit_dominates(a: (Key<'_>, bool), b: (Key<'_>, bool), out: Option<f64>) -> bool {
    let ((a, a_entry), (b, b_entry)) = (a, b);
    let used = |x: &Key<'_>| x.closed as usize + x.open.len();
    if used(&a) > used(&b) || a.cmem > b.cmem {
        return false;
    }
    let end = |x: &Key<'_>| match (x.open.first(), out) {
        (Some(_), Some(c)) => x.makespan + c,
        _ => x.makespan,
    };
    if end(&a) > end(&b) {
        return false;
    }
    match (b.open.first(), out) {
        (Some(&(_, b_mem, _)), Some(_)) => match a.open.first() {
            Some(&(_, a_mem, _)) => {
                a.makespan <= b.makespan && a_mem <= b_mem && a_entry == b_entry
            }
            None => false,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summaries never rule out a dominance that [`dominates`] finds (labels of one
    /// ideal: equal frontier lengths, no open accelerator, as with q = 1; a frontier of
    /// six, so that two classes of positions sum two times each), and they do rule some
    /// pairs out.
    #[test]
    fn summaries_keep_every_dominance() {
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        let keys: Vec<(Vec<f64>, u32, f64, f64)> = (0..200)
            .map(|_| {
                let times = (0..6).map(|_| next(3) as f64 * 0.1).collect();
                (times, next(3) as u32, next(5) as f64, next(2) as f64)
            })
            .collect();
        fn key(x: &(Vec<f64>, u32, f64, f64)) -> Key<'_> {
            Key {
                times: &x.0,
                open: &[],
                closed: x.1,
                makespan: x.2,
                cmem: x.3,
            }
        }
        let (mut found, mut ruled_out) = (0, 0);
        for a in &keys {
            for b in &keys {
                let (sa, sb) = (Live::of(0, key(a), 3), Live::of(1, key(b), 3));
                if dominates(key(a), key(b), 3) {
                    found += 1;
                    assert!(sa.may_dominate(&sb), "{a:?} dominates {b:?}");
                }
                ruled_out += usize::from(!sa.may_dominate(&sb));
            }
        }
        assert!(found > 200 && ruled_out > 0, "{found} {ruled_out}");
    }
}
