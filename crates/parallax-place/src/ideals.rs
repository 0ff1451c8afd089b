//! Enumeration of the ideals (predecessor-closed sets) of the group DAG.

use std::time::Instant;

use crate::limits::StopReason;

/// All ideals of a DAG, indexed level by level (by cardinality), with the Hasse diagram of
/// the ideal lattice in both directions.
///
/// Ideal 0 is the empty set; the last ideal is the full set. Ideals of cardinality `t` occupy
/// the index range `level_start[t]..level_start[t + 1]`.
#[derive(Debug, Clone)]
pub struct Ideals {
    /// Words per bitset.
    pub words: usize,
    /// Bitsets, `words` words per ideal.
    pub bits: Vec<u64>,
    /// Start index of each level; `level_start.len() == n + 2`.
    pub level_start: Vec<usize>,
    /// CSR offsets into `down` per ideal.
    pub down_start: Vec<u32>,
    /// `(v, J)`: removing maximal vertex `v` gives ideal `J`.
    pub down: Vec<(u32, u32)>,
    /// CSR offsets into `up` per ideal.
    pub up_start: Vec<u32>,
    /// `(v, J)`: adding addable vertex `v` gives ideal `J`.
    pub up: Vec<(u32, u32)>,
}

/// Why [`Ideals::enumerate_capped`] stopped, and how many ideals it had counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdealsStopped {
    /// What ran out.
    pub reason: StopReason,
    /// Ideals counted when it stopped. A limit that is known to be exceeded before
    /// enumerating (see [`Ideals::enumerate_capped`]) reports the proven lower bound on the
    /// count that exceeds it: at least n + 1 ideals for memory, and for the ideal limit
    /// `limit + 1`, the count at which the enumeration itself would have stopped.
    pub counted: usize,
}

/// Bytes the enumeration holds per ideal besides its bitset: its slot in the hash table of
/// its level (two 4-byte slots, the table at most half full), its offsets in the two CSR
/// arrays (4 bytes each) and its entry in `level_start` at worst.
const IDEAL_OVERHEAD: u64 = 24;

/// Bytes per Hasse edge at the peak of the enumeration: the edge list (12 bytes), its
/// sorted copy (12) and the two CSR arrays (8 each).
const EDGE_BYTES: u64 = 40;

/// A hash of a bitset (FxHash-style; only equal sets must collide).
#[inline]
fn hash_words(words: &[u64]) -> u64 {
    let mut h = 0u64;
    for &w in words {
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h ^ (h >> 29)
}

/// The largest level of a longest-path layering (nodes at the same depth are pairwise
/// incomparable): an antichain, so the DAG has at least 2^w ideals.
fn antichain_width(pred: &[Vec<usize>]) -> Option<usize> {
    let n = pred.len();
    let mut depth = vec![usize::MAX; n];
    // predecessors may come in any order: settle by a topological order (Kahn)
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for (v, ps) in pred.iter().enumerate() {
        for &p in ps {
            succ[p].push(v);
            indeg[v] += 1;
        }
    }
    let mut stack: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut seen = 0;
    while let Some(v) = stack.pop() {
        seen += 1;
        depth[v] = pred[v].iter().map(|&p| depth[p] + 1).max().unwrap_or(0);
        for &w in &succ[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                stack.push(w);
            }
        }
    }
    if seen != n {
        // not a DAG: no ideals to speak of (callers pass DAGs)
        return None;
    }
    let mut count = vec![0usize; n.max(1)];
    for &d in &depth {
        count[d] += 1;
    }
    count.into_iter().max()
}

impl Ideals {
    /// Enumerates the ideals of a DAG given by predecessor lists (vertices `0..n`).
    ///
    /// Returns `None` when there are more than `limit` ideals.
    ///
    /// # Complexity
    /// O(I·(n + m)) time and O(I·n/64 + I·w) memory for I ideals of width at most w.
    pub fn enumerate(pred: &[Vec<usize>], limit: usize) -> Option<Ideals> {
        Ideals::enumerate_until(pred, limit, None).ok()
    }

    /// Like [`Ideals::enumerate`], but also stops at a wall-clock deadline (checked every
    /// 4096 ideals).
    ///
    /// # Errors
    /// [`StopReason::IdealLimit`] for more than `limit` ideals, [`StopReason::TimeLimit`]
    /// when the deadline passes.
    pub fn enumerate_until(
        pred: &[Vec<usize>],
        limit: usize,
        deadline: Option<Instant>,
    ) -> Result<Ideals, StopReason> {
        Ideals::enumerate_capped(pred, limit, deadline, u64::MAX).map_err(|s| s.reason)
    }

    /// Like [`Ideals::enumerate_until`], within `max_bytes` of memory for the bitsets, the
    /// hash tables and the Hasse diagram ([`Ideals::heap_bytes`] and the enumeration's
    /// transient copies), and reporting how many ideals it had counted when it stops.
    ///
    /// Limits that are exceeded for sure are reported before enumerating anything: every
    /// DAG on n vertices has at least n + 1 ideals (the prefixes of a topological order),
    /// each a bitset of ⌈n/64⌉ words, and at least 2^w for an antichain of w vertices (the
    /// largest level of a longest-path layering).
    ///
    /// # Errors
    /// [`IdealsStopped`] with [`StopReason::IdealLimit`], [`StopReason::MemoryLimit`] or
    /// [`StopReason::TimeLimit`].
    ///
    /// # Complexity
    /// O(I·(n + m)) time for I ideals; memory as checked.
    pub fn enumerate_capped(
        pred: &[Vec<usize>],
        limit: usize,
        deadline: Option<Instant>,
        max_bytes: u64,
    ) -> Result<Ideals, IdealsStopped> {
        let n = pred.len();
        let words = n.div_ceil(64).max(1);
        let per_ideal = words as u64 * 8 + IDEAL_OVERHEAD;
        let stop = |reason, counted| Err(IdealsStopped { reason, counted });
        // proven lower bounds on the count
        let at_least = (n as u64).saturating_add(1);
        if at_least > limit as u64 || at_least > u32::MAX as u64 {
            return stop(StopReason::IdealLimit, limit.saturating_add(1));
        }
        if let Some(w) = antichain_width(pred) {
            if w >= 63 || (1u64 << w) > limit as u64 {
                return stop(StopReason::IdealLimit, limit.saturating_add(1));
            }
        }
        if at_least.saturating_mul(per_ideal) > max_bytes {
            return stop(StopReason::MemoryLimit, at_least as usize);
        }
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (v, ps) in pred.iter().enumerate() {
            for &p in ps {
                succ[p].push(v);
            }
        }
        for s in &mut succ {
            s.sort_unstable();
            s.dedup();
        }
        let mut bits = vec![0u64; words];
        let mut level_start = vec![0usize, 1];
        // the addable vertices of each ideal of the level, ascending (CSR): an ideal's are
        // its parent's without the vertex added, plus that vertex's successors whose
        // predecessors are all in now
        let mut add: Vec<u32> = (0..n)
            .filter(|&v| pred[v].is_empty())
            .map(|v| v as u32)
            .collect();
        let mut add_start: Vec<usize> = vec![0, add.len()];
        let mut next_add: Vec<u32> = Vec::new();
        let mut next_add_start: Vec<usize> = Vec::new();
        let mut edges: Vec<(u32, u32, u32)> = Vec::new(); // (from, v, to) upward
        let contains = |b: &[u64], v: usize| b[v / 64] >> (v % 64) & 1 == 1;
        let mut nb = vec![0u64; words];
        // the level's hash table: slot -> index in the level + 1 (0: empty)
        let mut table: Vec<u32> = Vec::new();
        let bytes = |count: usize, edges: usize| {
            (count as u64)
                .saturating_mul(per_ideal)
                .saturating_add((edges as u64).saturating_mul(EDGE_BYTES))
        };
        for _t in 0..n {
            let (lo, hi) = (
                level_start[level_start.len() - 2],
                level_start[level_start.len() - 1],
            );
            let mut next_bits: Vec<u64> = Vec::new();
            next_add.clear();
            next_add_start.clear();
            next_add_start.push(0);
            table.clear();
            table.resize(64, 0);
            let mut in_level = 0usize;
            let mut count = hi;
            for i in lo..hi {
                let cur = &bits[i * words..(i + 1) * words];
                let addable = &add[add_start[i - lo]..add_start[i - lo + 1]];
                for &v in addable {
                    let v = v as usize;
                    nb.copy_from_slice(cur);
                    nb[v / 64] |= 1 << (v % 64);
                    let mask = table.len() - 1;
                    let mut at = hash_words(&nb) as usize & mask;
                    let id = loop {
                        match table[at] {
                            0 => break None,
                            j => {
                                let j = j as usize - 1;
                                if next_bits[j * words..(j + 1) * words] == nb[..] {
                                    break Some(hi + j);
                                }
                            }
                        }
                        at = (at + 1) & mask;
                    };
                    let id = match id {
                        Some(id) => id,
                        None => {
                            let id = count;
                            count += 1;
                            if count > limit || count > u32::MAX as usize {
                                return stop(StopReason::IdealLimit, count);
                            }
                            if bytes(count, edges.len() + 1) > max_bytes {
                                return stop(StopReason::MemoryLimit, count);
                            }
                            if count % 4096 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                                return stop(StopReason::TimeLimit, count);
                            }
                            next_bits.extend_from_slice(&nb);
                            let from = next_add.len();
                            next_add.extend(addable.iter().copied().filter(|&x| x as usize != v));
                            for &w in &succ[v] {
                                if pred[w].iter().all(|&p| contains(&nb, p)) {
                                    next_add.push(w as u32);
                                }
                            }
                            next_add[from..].sort_unstable();
                            next_add_start.push(next_add.len());
                            table[at] = in_level as u32 + 1;
                            in_level += 1;
                            if in_level * 2 > table.len() {
                                // grow and rehash the level
                                let cap = table.len() * 2;
                                table.clear();
                                table.resize(cap, 0);
                                for j in 0..in_level {
                                    let mut a = hash_words(&next_bits[j * words..(j + 1) * words])
                                        as usize
                                        & (cap - 1);
                                    while table[a] != 0 {
                                        a = (a + 1) & (cap - 1);
                                    }
                                    table[a] = j as u32 + 1;
                                }
                            }
                            id
                        }
                    };
                    if edges.len() >= u32::MAX as usize {
                        return stop(StopReason::IdealLimit, count);
                    }
                    if bytes(count, edges.len() + 1) > max_bytes {
                        return stop(StopReason::MemoryLimit, count);
                    }
                    edges.push((i as u32, v as u32, id as u32));
                }
            }
            bits.extend_from_slice(&next_bits);
            level_start.push(count);
            std::mem::swap(&mut add, &mut next_add);
            std::mem::swap(&mut add_start, &mut next_add_start);
        }
        drop(table);
        let total = *level_start.last().unwrap_or(&1);
        let csr = |key: &dyn Fn(&(u32, u32, u32)) -> (u32, u32, u32)| {
            let mut e: Vec<(u32, u32, u32)> = edges.iter().map(key).collect();
            e.sort_unstable();
            let mut start = vec![0u32; total + 1];
            for &(a, _, _) in &e {
                start[a as usize + 1] += 1;
            }
            for i in 0..total {
                start[i + 1] += start[i];
            }
            (
                start,
                e.into_iter().map(|(_, v, b)| (v, b)).collect::<Vec<_>>(),
            )
        };
        let (up_start, up) = csr(&|&(a, v, b)| (a, v, b));
        let (down_start, down) = csr(&|&(a, v, b)| (b, v, a));
        Ok(Ideals {
            words,
            bits,
            level_start,
            down_start,
            down,
            up_start,
            up,
        })
    }

    /// Bytes held by the bitsets and the Hasse diagram (what a DP sized after the
    /// enumeration must leave room for).
    pub fn heap_bytes(&self) -> u64 {
        let b = |len: usize, size: usize| (len as u64).saturating_mul(size as u64);
        b(self.bits.len(), 8)
            .saturating_add(b(self.level_start.len(), 8))
            .saturating_add(b(self.down_start.len() + self.up_start.len(), 4))
            .saturating_add(b(self.down.len() + self.up.len(), 8))
    }

    /// Number of ideals.
    pub fn len(&self) -> usize {
        self.down_start.len() - 1
    }

    /// Always false: the empty set is an ideal.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Index of the full set.
    pub fn full(&self) -> usize {
        self.len() - 1
    }

    /// Bitset of an ideal.
    pub fn set(&self, i: usize) -> &[u64] {
        &self.bits[i * self.words..(i + 1) * self.words]
    }

    /// Whether ideal `i` contains vertex `v`.
    pub fn contains(&self, i: usize, v: usize) -> bool {
        self.set(i)[v / 64] >> (v % 64) & 1 == 1
    }

    /// Downward Hasse edges of ideal `i`.
    pub fn down_of(&self, i: usize) -> &[(u32, u32)] {
        &self.down[self.down_start[i] as usize..self.down_start[i + 1] as usize]
    }

    /// Upward Hasse edges of ideal `i`.
    pub fn up_of(&self, i: usize) -> &[(u32, u32)] {
        &self.up[self.up_start[i] as usize..self.up_start[i + 1] as usize]
    }
}
