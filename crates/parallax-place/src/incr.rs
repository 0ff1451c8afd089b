//! Incremental communication cost Σ_{u ∈ X(D)} c(u) of a growing/shrinking node set D.

use crate::model::Instance;

/// Tracks X(D) — nodes with an edge that has exactly one end in D — as nodes enter and
/// leave D. Each change costs O(1 + in-degree).
///
/// The tracker keeps its own flat copy of the instance's in-edges, out-degrees and output
/// costs (built once, O(n + m)), so an update reads a few contiguous arrays: the exact DPs
/// call it for every visited ideal pair.
#[derive(Debug, Clone)]
pub(crate) struct CommTracker {
    /// Per node: bit 0 set when in D, bit 1 set when in X(D).
    state: Vec<u8>,
    /// Number of out-edges into D.
    cnt: Vec<u32>,
    /// Out-degree (with multiplicity).
    succ_len: Vec<u32>,
    /// In-edges of node u: `pred[pred_at[u]..pred_at[u + 1]]` (node ids as u32, as the
    /// ideal lattices store them).
    pred_at: Vec<usize>,
    pred: Vec<u32>,
    out_cost: Vec<f64>,
}

const IN_D: u8 = 1;
const IN_X: u8 = 2;

impl CommTracker {
    /// An empty D over the nodes of `inst`.
    pub(crate) fn new(inst: &Instance) -> CommTracker {
        let n = inst.len();
        let mut pred_at = Vec::with_capacity(n + 1);
        let mut pred = Vec::new();
        pred_at.push(0);
        for p in &inst.pred {
            pred.extend(p.iter().map(|&w| w as u32));
            pred_at.push(pred.len());
        }
        CommTracker {
            state: vec![0; n],
            cnt: vec![0; n],
            succ_len: inst.succ.iter().map(|s| s.len() as u32).collect(),
            pred_at,
            pred,
            out_cost: inst.out_cost.clone(),
        }
    }

    #[inline(always)]
    fn refresh(&mut self, u: usize, delta: &mut f64) {
        let s = self.state[u];
        let now = if s & IN_D != 0 {
            self.cnt[u] < self.succ_len[u]
        } else {
            self.cnt[u] > 0
        };
        if now != (s & IN_X != 0) {
            self.state[u] = s ^ IN_X;
            if now {
                *delta += self.out_cost[u];
            } else {
                *delta -= self.out_cost[u];
            }
        }
    }

    /// Whether `u` is in X(D) now.
    #[inline]
    pub(crate) fn crossing(&self, u: usize) -> bool {
        self.state[u] & IN_X != 0
    }

    /// Adds nodes to D; returns the change of the communication cost.
    #[inline]
    pub(crate) fn add(&mut self, nodes: &[usize]) -> f64 {
        let mut delta = 0.0;
        for &x in nodes {
            self.state[x] |= IN_D;
            self.refresh(x, &mut delta);
            for e in self.pred_at[x]..self.pred_at[x + 1] {
                let w = self.pred[e] as usize;
                self.cnt[w] += 1;
                self.refresh(w, &mut delta);
            }
        }
        delta
    }

    /// Removes nodes from D; returns the change of the communication cost.
    #[inline]
    pub(crate) fn remove(&mut self, nodes: &[usize]) -> f64 {
        let mut delta = 0.0;
        for &x in nodes {
            self.state[x] &= !IN_D;
            self.refresh(x, &mut delta);
            for e in self.pred_at[x]..self.pred_at[x + 1] {
                let w = self.pred[e] as usize;
                self.cnt[w] -= 1;
                self.refresh(w, &mut delta);
            }
        }
        delta
    }
}
