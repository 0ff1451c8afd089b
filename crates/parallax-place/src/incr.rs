//! Incremental communication cost Σ_{u ∈ X(D)} c(u) of a growing/shrinking node set D.

use crate::model::Instance;

/// Tracks X(D) — nodes with an edge that has exactly one end in D — as nodes enter and
/// leave D. Each change costs O(1 + in-degree).
#[derive(Debug, Clone)]
pub(crate) struct CommTracker {
    in_d: Vec<bool>,
    /// Number of out-edges into D.
    cnt: Vec<u32>,
    in_x: Vec<bool>,
}

impl CommTracker {
    pub(crate) fn new(n: usize) -> CommTracker {
        CommTracker {
            in_d: vec![false; n],
            cnt: vec![0; n],
            in_x: vec![false; n],
        }
    }

    #[inline]
    fn refresh(&mut self, inst: &Instance, u: usize, delta: &mut f64) {
        let now = if self.in_d[u] {
            (self.cnt[u] as usize) < inst.succ[u].len()
        } else {
            self.cnt[u] > 0
        };
        if now != self.in_x[u] {
            self.in_x[u] = now;
            if now {
                *delta += inst.out_cost[u];
            } else {
                *delta -= inst.out_cost[u];
            }
        }
    }

    /// Whether `u` is in X(D) now.
    #[inline]
    pub(crate) fn crossing(&self, u: usize) -> bool {
        self.in_x[u]
    }

    /// Adds nodes to D; returns the change of the communication cost.
    pub(crate) fn add(&mut self, inst: &Instance, nodes: &[usize]) -> f64 {
        let mut delta = 0.0;
        for &x in nodes {
            self.in_d[x] = true;
            self.refresh(inst, x, &mut delta);
            for &w in &inst.pred[x] {
                self.cnt[w] += 1;
                self.refresh(inst, w, &mut delta);
            }
        }
        delta
    }

    /// Removes nodes from D; returns the change of the communication cost.
    pub(crate) fn remove(&mut self, inst: &Instance, nodes: &[usize]) -> f64 {
        let mut delta = 0.0;
        for &x in nodes {
            self.in_d[x] = false;
            self.refresh(inst, x, &mut delta);
            for &w in &inst.pred[x] {
                self.cnt[w] -= 1;
                self.refresh(inst, w, &mut delta);
            }
        }
        delta
    }
}
