//! Work bands of the contiguous DP: which cells (ideal I, at most a accelerators, at most c
//! CPUs) can lie on a placement whose max load is at most a known bound T.
//!
//! Every accelerator load is at least its compute (Σ p_acc; with or without transfers and
//! overlap), and c CPUs of load at most T can take at most `spare[c]` of accelerator compute
//! off the accelerators: the fractional knapsack over all supported groups, values p_acc,
//! weights p_cpu, capacity c·T (a relaxation of what any subset can move). So, with `work`
//! summing p_acc over supported groups, a placement of max load ≤ T puts I on (a, c) devices
//! only if `work(I) ≤ a·T + spare[c]`, and the rest of the graph on the other (k − a, l − c)
//! only if `work(V \ I) ≤ (k − a)·T + spare[l − c]`. A cell that fails either test holds no
//! prefix of such a placement: the DP sets it to ∞, skips ideals with no live cell, updates
//! only live cells, and stops its sub-ideal walk below the least work a live predecessor cell
//! needs (work only shrinks going down).
//!
//! When the machine is nearly saturated (k·T close to Σ p_acc, as on Inception-v3) only
//! ideals whose work lies near a multiple of T stay live. (Adding the transfers across each
//! ideal's cut to both tests was tried: the CPUs' possible savings grow with them and the
//! tests got no tighter on the shipped graphs.)

use crate::contract::Contraction;
use crate::ideals::Ideals;

pub(crate) struct Bands {
    /// Σ p_acc of the supported groups of each ideal.
    work: Vec<f64>,
    total: f64,
    t: f64,
    k: usize,
    l: usize,
    /// `spare[c]`: accelerator compute that c CPUs of capacity T can take at most.
    spare: Vec<f64>,
    /// Slack for rounding (the sums are accumulated in different orders).
    tol: f64,
}

impl Bands {
    /// Bands for the bound `t`; `None` when `t` is not finite (nothing to prune by).
    ///
    /// # Complexity
    /// O(I + g log g) for I ideals and g groups.
    pub(crate) fn new(
        con: &Contraction,
        ideals: &Ideals,
        k: usize,
        l: usize,
        t: f64,
    ) -> Option<Bands> {
        if !t.is_finite() || t < 0.0 {
            return None;
        }
        let g = con.len();
        let w = |x: usize| if con.supported[x] { con.p_acc[x] } else { 0.0 };
        let mut work = vec![0.0; ideals.len()];
        for i in 1..ideals.len() {
            let &(v, j) = ideals.down_of(i).first()?;
            work[i] = work[j as usize] + w(v as usize);
        }
        let total: f64 = (0..g).map(w).sum();
        // fractional knapsack: best p_acc per unit of p_cpu first (free items first)
        let mut items: Vec<(f64, f64)> = (0..g)
            .filter(|&x| con.supported[x] && con.p_acc[x] > 0.0)
            .map(|x| (con.p_acc[x], con.p_cpu[x].max(0.0)))
            .collect();
        items.sort_by(|a, b| {
            let ra = if a.1 == 0.0 { f64::INFINITY } else { a.0 / a.1 };
            let rb = if b.1 == 0.0 { f64::INFINITY } else { b.0 / b.1 };
            rb.total_cmp(&ra)
        });
        let spare = (0..=l)
            .map(|c| {
                if c == 0 {
                    return 0.0;
                }
                let mut room = c as f64 * t;
                let mut got = 0.0;
                for &(value, weight) in &items {
                    if weight <= room {
                        room -= weight;
                        got += value;
                    } else {
                        got += value * (room / weight);
                        break;
                    }
                }
                got
            })
            .collect();
        let tol = 1e-9 * (total + (k + l) as f64 * t) + 1e-12;
        Some(Bands {
            work,
            total,
            t,
            k,
            l,
            spare,
            tol,
        })
    }

    /// Whether cell (i, a, c) can hold a prefix of a placement of max load ≤ T.
    #[inline]
    pub(crate) fn alive(&self, i: usize, a: usize, c: usize) -> bool {
        let w = self.work[i];
        self.holds_ideal(w, a, c) && self.holds_rest(w, a, c)
    }

    /// The first test: a and c devices can take an ideal of work `w` (false, then true, as a
    /// grows).
    #[inline]
    fn holds_ideal(&self, w: f64, a: usize, c: usize) -> bool {
        w <= a as f64 * self.t + self.spare[c] + self.tol
    }

    /// The second test: the other devices can take the rest (true, then false, as a grows).
    #[inline]
    fn holds_rest(&self, w: f64, a: usize, c: usize) -> bool {
        self.total - w <= (self.k - a) as f64 * self.t + self.spare[self.l - c] + self.tol
    }

    /// The accelerator counts a for which cell (i, a, c) is alive: exactly those of
    /// [`Bands::alive`], as a range (both of its tests are monotone in a), found by bisection.
    ///
    /// Complexity: O(log k).
    pub(crate) fn span(&self, i: usize, c: usize) -> std::ops::Range<usize> {
        let w = self.work[i];
        let lo = bisect(self.k + 1, |a| !self.holds_ideal(w, a, c));
        let hi = bisect(self.k + 1, |a| self.holds_rest(w, a, c));
        lo..hi.max(lo)
    }

    /// The least work of an ideal whose cell (a, c) is alive (from the second test).
    #[inline]
    pub(crate) fn least_work(&self, a: usize, c: usize) -> f64 {
        self.total - (self.k - a) as f64 * self.t - self.spare[self.l - c] - self.tol
    }

    /// Work of ideal `i`.
    #[inline]
    pub(crate) fn work(&self, i: usize) -> f64 {
        self.work[i]
    }
}

/// How many leading values of `0..n` satisfy `pred`, which holds on a prefix of them.
fn bisect(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Graph, Instance};

    /// `span` gives exactly the accelerator counts `alive` accepts, at bounds from loose to
    /// infeasible, on a graph with CPUs and an unsupported node.
    #[test]
    fn span_matches_alive() {
        let g = Graph::from_json(
            r#"{
  "devices": {"accelerators": 5, "accelerator_memory": 100.0, "cpus": 2},
  "nodes": [
    {"id": 1, "acc_time": 3.0, "cpu_time": 9.0, "output_cost": 1.0},
    {"id": 2, "acc_time": 2.0, "cpu_time": 4.0, "output_cost": 0.5},
    {"id": 3, "acc_time": 4.0, "cpu_time": 20.0, "output_cost": 0.5},
    {"id": 4, "acc_time": 1.0, "cpu_time": 2.0, "acc_supported": false},
    {"id": 5, "acc_time": 5.0, "cpu_time": 7.0, "output_cost": 2.0},
    {"id": 6, "acc_time": 2.5, "cpu_time": 3.0}
  ],
  "edges": [
    {"from": 1, "to": 2}, {"from": 1, "to": 3}, {"from": 2, "to": 4},
    {"from": 3, "to": 5}, {"from": 4, "to": 6}, {"from": 5, "to": 6}
  ]
}"#,
            std::path::Path::new("<test>"),
        )
        .unwrap();
        let inst = Instance::new(&g).unwrap();
        let con = Contraction::new(&inst, true);
        let ideals = Ideals::enumerate(&con.pred, 1 << 20).unwrap();
        let (k, l) = (5, 2);
        let mut live = 0;
        for t in [0.5, 2.0, 3.5, 4.0, 5.0, 6.25, 8.0, 100.0] {
            let b = Bands::new(&con, &ideals, k, l, t).unwrap();
            for i in 0..ideals.len() {
                for c in 0..=l {
                    let span = b.span(i, c);
                    for a in 0..=k {
                        assert_eq!(
                            span.contains(&a),
                            b.alive(i, a, c),
                            "t {t} i {i} a {a} c {c}"
                        );
                        live += usize::from(b.alive(i, a, c));
                    }
                }
            }
        }
        // some cells live, some dead
        assert!(live > 0 && live < 8 * ideals.len() * (k + 1) * (l + 1));
    }
}
