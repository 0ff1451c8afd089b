//! Shared helpers: a seeded generator of small instances and brute-force solvers.
#![allow(dead_code)]

use parallax_place::eval::{is_contiguous, slot_loads, violations};
use parallax_place::{Devices, Edge, Graph, Instance, Node};

/// SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A random DAG (edges i -> j for i < j) with classes, backward flags, zero times and
/// unsupported nodes sometimes.
pub fn random_graph(rng: &mut Rng, n: usize, k: usize, l: usize) -> Graph {
    let mut nodes = Vec::new();
    for i in 0..n {
        let zero = rng.chance(0.15);
        let class = if rng.chance(0.3) {
            Some(rng.below(3) as i64)
        } else {
            None
        };
        nodes.push(Node {
            id: i as i64 + 1,
            name: None,
            acc_time: if zero { 0.0 } else { (1 + rng.below(9)) as f64 },
            cpu_time: if zero {
                0.0
            } else {
                (1 + rng.below(40)) as f64
            },
            memory: if rng.chance(0.2) {
                0.0
            } else {
                (1 + rng.below(5)) as f64
            },
            acc_supported: l == 0 || !rng.chance(0.1),
            backward: rng.chance(0.25),
            class,
            output_cost: (rng.below(4)) as f64 * 0.5,
        });
    }
    let mut edges = Vec::new();
    for j in 1..n {
        for i in 0..j {
            if rng.chance(if i + 1 == j { 0.7 } else { 0.2 }) {
                edges.push(Edge {
                    from: i as i64 + 1,
                    to: j as i64 + 1,
                });
            }
        }
    }
    with_random_memory(rng, nodes, edges, (k, l), (0.3, 0.8, 5.0))
}

/// A graph over `nodes` and `edges` on `k` accelerators and `l` CPUs whose accelerator memory
/// is a random fraction in `[lo, lo + span)` of the total node memory (at least `floor`).
pub fn with_random_memory(
    rng: &mut Rng,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    (k, l): (usize, usize),
    (lo, span, floor): (f64, f64, f64),
) -> Graph {
    let total: f64 = nodes.iter().map(|n| n.memory).sum();
    let memory = (total * (lo + span * (rng.below(100) as f64 / 100.0))).max(floor);
    Graph {
        devices: Devices {
            accelerators: k,
            accelerator_memory: memory,
            cpus: l,
        },
        nodes,
        edges,
    }
}

/// Enumerates every class-to-slot assignment; calls `f` with the node slots.
pub fn for_each_assignment(inst: &Instance, mut f: impl FnMut(&[usize])) {
    let nd = inst.devices.accelerators + inst.devices.cpus;
    let nc = inst.classes;
    let mut cs = vec![0usize; nc];
    let mut slot = vec![0usize; inst.len()];
    loop {
        for u in 0..inst.len() {
            slot[u] = cs[inst.class[u]];
        }
        f(&slot);
        let mut i = 0;
        loop {
            if i == nc {
                return;
            }
            cs[i] += 1;
            if cs[i] < nd {
                break;
            }
            cs[i] = 0;
            i += 1;
        }
    }
}

/// Brute-force max-load optimum (contiguous or not); `None` when nothing is feasible.
pub fn brute_max_load(inst: &Instance, contiguous: bool) -> Option<f64> {
    brute_max_load_where(inst, |slot| !contiguous || is_contiguous(inst, slot))
}

/// Brute-force max-load optimum over the feasible assignments that `keep` accepts.
pub fn brute_max_load_where(inst: &Instance, keep: impl Fn(&[usize]) -> bool) -> Option<f64> {
    let mut best: Option<f64> = None;
    for_each_assignment(inst, |slot| {
        if !violations(inst, slot).is_empty() || !keep(slot) {
            return;
        }
        let v = slot_loads(inst, slot).into_iter().fold(0.0, f64::max);
        if best.map_or(true, |b| v < b) {
            best = Some(v);
        }
    });
    best
}

pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// The contiguous DP on `inst` (built from `g`) proves the brute-force optimum, or both find
/// the memory infeasible; a failure shows `g` as JSON.
pub fn dp_equals_brute_force(
    inst: &Instance,
    g: &Graph,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use parallax_place::{solve_contiguous, Limits, PlaceError};
    use proptest::prelude::*;
    let brute = brute_max_load(inst, true);
    match (solve_contiguous(inst, &Limits::default()), brute) {
        (Ok(sol), Some(b)) => {
            prop_assert!(sol.status.is_optimal());
            prop_assert!(
                close(sol.placement.max_load, b, 1e-9),
                "dp {} brute {} graph {}",
                sol.placement.max_load,
                b,
                g.to_json()
            );
        }
        (Err(PlaceError::InfeasibleMemory { .. }), None) => {}
        (got, b) => {
            return Err(TestCaseError::fail(format!(
                "dp {:?} vs brute {b:?} on {}",
                got.map(|s| s.placement.max_load),
                g.to_json()
            )))
        }
    }
    Ok(())
}
