//! Binding memory: the contiguous DP's relax-and-refine over sized zero-time groups.
//!
//! (1) On small random graphs rich in zero-time sized leaves (and chains of them) with a
//! memory limit that binds, with and without overlap, `solve_contiguous` equals brute force. (2) The proven optima of
//! the shipped graphs with the accelerator memory capped at a fraction of the model.

use crate::common;

use std::path::Path;

use common::{close, dp_equals_brute_force, Rng};
use parallax_place::{load_graph, solve_contiguous, Edge, Graph, Instance, Limits, Node};
use proptest::prelude::*;

/// A few compute nodes plus zero-time nodes hanging off them (sources or sinks, sometimes
/// off each other, so that folding cascades), most with memory; the accelerator memory is
/// 20–70 % of the total, so it binds.
fn leafy_graph(rng: &mut Rng, core: usize, leaves: usize, k: usize, l: usize) -> Graph {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let id = |i: usize| i as i64 + 1;
    for i in 0..core {
        nodes.push(Node {
            id: id(i),
            name: None,
            acc_time: (1 + rng.below(9)) as f64,
            cpu_time: (1 + rng.below(40)) as f64,
            memory: rng.below(6) as f64,
            acc_supported: l == 0 || !rng.chance(0.1),
            backward: false,
            class: None,
            output_cost: rng.below(4) as f64 * 0.5,
        });
        for j in 0..i {
            if rng.chance(if j + 1 == i { 0.8 } else { 0.2 }) {
                edges.push(Edge {
                    from: id(j),
                    to: id(i),
                });
            }
        }
    }
    for x in core..core + leaves {
        nodes.push(Node {
            id: id(x),
            name: None,
            acc_time: 0.0,
            cpu_time: 0.0,
            memory: if rng.chance(0.15) {
                0.0
            } else {
                (1 + rng.below(5)) as f64
            },
            acc_supported: true,
            backward: false,
            // sometimes colocated with another leaf (a class of two zero-time nodes)
            class: rng.chance(0.1).then_some(7),
            output_cost: rng.below(3) as f64 * 0.5,
        });
        let to = rng.below(x as u64) as usize;
        let (from, to) = if rng.chance(0.5) { (to, x) } else { (x, to) };
        edges.push(Edge {
            from: id(from),
            to: id(to),
        });
    }
    // memory a random 20–70 % of the total (at least 1)
    common::with_random_memory(rng, nodes, edges, (k, l), (0.2, 0.5, 1.0))
}

fn check(seed: u64, core: usize, leaves: usize, k: usize, l: usize) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let g = leafy_graph(&mut rng, core, leaves, k, l);
    // compute/communication overlap sometimes (dropping memory never touches the loads)
    let overlap = rng.chance(0.3);
    let inst = match Instance::new(&g) {
        Ok(i) => i.with_overlap(overlap),
        // a cycle through two leaves of one class, or no device for a node
        Err(_) => return Ok(()),
    };
    dp_equals_brute_force(&inst, &g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn leafy_binding_memory_matches_brute_force(
        seed in any::<u64>(),
        core in 1usize..=5,
        leaves in 1usize..=5,
        k in 1usize..=3,
        l in 0usize..=1,
    ) {
        // keep brute force small: (k + l)^classes assignments
        let (k, l) = if core + leaves >= 9 && k + l > 3 { (2, 1) } else { (k, l) };
        check(seed, core, leaves, k, l)?;
    }
}

/// A shipped throughput graph with the accelerator memory capped at `pct` % of its total.
fn capped(name: &str, pct: u32) -> Instance {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/throughput")
        .join(format!("{name}.json"));
    let mut g = load_graph(&path).expect("shipped instance loads");
    let total: f64 = g.nodes.iter().map(|n| n.memory).sum();
    g.devices.accelerator_memory = total * f64::from(pct) / 100.0;
    Instance::new(&g).expect("valid")
}

/// Proven optima with memory capped at a fraction of the model (these agree with the
/// exact DP without the relax-and-refine step wherever that one finishes; GNMT training at
/// 24–25 % it did not within 60 s).
#[test]
fn capped_shipped_graphs_are_proven() {
    let cases: &[(&str, u32, f64)] = &[
        ("layer_gnmt_inference", 18, 247.82),
        ("layer_gnmt_inference", 22, 247.82),
        ("layer_gnmt_inference", 25, 32.910658203124996),
        ("layer_gnmt_inference", 30, 32.910658203124996),
        ("layer_gnmt_training", 20, 301.55),
        ("layer_gnmt_training", 24, 107.011109375),
        ("layer_gnmt_training", 25, 107.011109375),
        ("layer_gnmt_training", 26, 107.0044140625),
        ("layer_bert24_training", 18, 42.0078125),
        ("layer_bert24_training", 22, 41.8708125),
        ("layer_bert24_inference", 22, 17.828906250000003),
        ("layer_resnet50_inference", 22, 36.49362890625001),
        ("layer_resnet50_training", 18, 101.48503515625004),
        ("layer_resnet50_training", 20, 82.50025781250002),
        ("layer_resnet50_training", 22, 80.45488671875),
    ];
    for &(name, pct, want) in cases {
        let inst = capped(name, pct);
        let sol = solve_contiguous(&inst, &Limits::default()).expect("solves");
        assert!(
            sol.status.is_optimal(),
            "{name} at {pct} %: {:?}",
            sol.status
        );
        assert!(
            close(sol.placement.max_load, want, 1e-9),
            "{name} at {pct} %: {} instead of {want}",
            sol.placement.max_load
        );
        for d in &sol.placement.devices {
            if d.kind == parallax_place::DeviceKind::Accelerator {
                assert!(d.memory <= inst.devices.accelerator_memory);
            }
        }
    }
}

/// `restriction_folds` flags the sized zero-time groups with one neighbour (also once
/// folding made them so), and nothing that carries time or has two neighbours.
#[test]
fn restriction_folds_flags_sized_zero_time_leaves() {
    use parallax_place::contract::Contraction;
    // 1 -> 2 -> 3, with zero-time 4 hanging off 2 (sized), zero-time 5 off 4 (sized), and
    // zero-time 6 between 1 and 3 (two neighbours)
    let g = Graph::from_json(
        r#"{"devices": {"accelerators": 2, "accelerator_memory": 6, "cpus": 0},
            "nodes": [{"id": 1, "acc_time": 1, "cpu_time": 9, "memory": 2},
                      {"id": 2, "acc_time": 1, "cpu_time": 9, "memory": 2},
                      {"id": 3, "acc_time": 1, "cpu_time": 9, "memory": 2},
                      {"id": 4, "acc_time": 0, "cpu_time": 0, "memory": 1},
                      {"id": 5, "acc_time": 0, "cpu_time": 0, "memory": 1},
                      {"id": 6, "acc_time": 0, "cpu_time": 0, "memory": 1}],
            "edges": [{"from": 1, "to": 2}, {"from": 2, "to": 3}, {"from": 2, "to": 4},
                      {"from": 4, "to": 5}, {"from": 1, "to": 6}, {"from": 6, "to": 3}]}"#,
        Path::new("<test>"),
    )
    .expect("valid");
    let inst = Instance::new(&g).expect("valid");
    let folds = Contraction::restriction_folds(&inst);
    let flagged: Vec<i64> = (0..inst.len())
        .filter(|&u| folds[u])
        .map(|u| inst.ids[u])
        .collect();
    assert_eq!(flagged, vec![4, 5]);
    // memory binds (9 > 6), so the exact contraction keeps them apart; the restriction
    // folds both into node 2's group
    assert_eq!(Contraction::new(&inst, true).len(), 6);
    assert_eq!(Contraction::restricted(&inst).len(), 4);
    // and the solver's optimum stays exact: 2 accelerators of memory 6 for 9 units
    let sol = solve_contiguous(&inst, &Limits::default()).expect("solves");
    assert!(sol.status.is_optimal());
    assert_eq!(
        Some(sol.placement.max_load),
        common::brute_max_load(&inst, true)
    );
}
