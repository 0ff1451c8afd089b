//! Enumeration of the ideals (predecessor-closed sets) of the group DAG.

use std::collections::HashMap;
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
        let n = pred.len();
        let words = n.div_ceil(64).max(1);
        let mut bits = vec![0u64; words];
        let mut level_start = vec![0usize, 1];
        let mut edges: Vec<(u32, u32, u32)> = Vec::new(); // (from, v, to) upward
        let contains = |b: &[u64], v: usize| b[v / 64] >> (v % 64) & 1 == 1;
        for _t in 0..n {
            let (lo, hi) = (
                level_start[level_start.len() - 2],
                level_start[level_start.len() - 1],
            );
            let mut map: HashMap<Vec<u64>, u32> = HashMap::new();
            let mut next_bits: Vec<u64> = Vec::new();
            let mut count = hi;
            for i in lo..hi {
                let cur = bits[i * words..(i + 1) * words].to_vec();
                for v in 0..n {
                    if contains(&cur, v) || !pred[v].iter().all(|&p| contains(&cur, p)) {
                        continue;
                    }
                    let mut nb = cur.clone();
                    nb[v / 64] |= 1 << (v % 64);
                    let id = match map.get(&nb) {
                        Some(&id) => id,
                        None => {
                            let id = count as u32;
                            count += 1;
                            if count > limit || count > u32::MAX as usize {
                                return Err(StopReason::IdealLimit);
                            }
                            if count % 4096 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                                return Err(StopReason::TimeLimit);
                            }
                            next_bits.extend_from_slice(&nb);
                            map.insert(nb, id);
                            id
                        }
                    };
                    if edges.len() >= u32::MAX as usize {
                        return Err(StopReason::IdealLimit);
                    }
                    edges.push((i as u32, v as u32, id));
                }
            }
            bits.extend_from_slice(&next_bits);
            level_start.push(count);
        }
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
