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
        w <= a as f64 * self.t + self.spare[c] + self.tol
            && self.total - w <= (self.k - a) as f64 * self.t + self.spare[self.l - c] + self.tol
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
