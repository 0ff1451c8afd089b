//! The ideal DP equals brute force on random DAGs of up to 10 nodes with random devices,
#![allow(clippy::needless_range_loop)]
//! memory limits, colocation classes, backward nodes and unsupported nodes.

use crate::common;

use common::{dp_equals_brute_force, random_graph, Rng};
use parallax_place::{solve_contiguous, Instance, Limits, PlaceError};
use proptest::prelude::*;

fn check(seed: u64, n: usize, k: usize, l: usize) -> Result<(), TestCaseError> {
    check_with(seed, n, k, l, false)
}

fn check_with(seed: u64, n: usize, k: usize, l: usize, overlap: bool) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let g = random_graph(&mut rng, n, k, l);
    let inst = match Instance::new(&g) {
        Ok(i) => i.with_overlap(overlap),
        Err(PlaceError::NoDevice { .. }) => {
            // only possible without CPUs, and then brute force finds nothing either
            prop_assert_eq!(l, 0);
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("unexpected {e}"))),
    };
    dp_equals_brute_force(&inst, &g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn dp_matches_brute_force(seed in any::<u64>(), n in 1usize..=10, k in 0usize..=3, l in 0usize..=2) {
        // keep brute force small: (k + l)^classes assignments
        let (k, l) = if k + l == 0 { (1, 0) } else { (k, l) };
        let (k, l) = if n >= 9 && k + l > 3 { (2, 1) } else { (k, l) };
        check(seed, n, k, l)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    #[test]
    fn dp_with_overlap_matches_brute_force(seed in any::<u64>(), n in 1usize..=9, k in 0usize..=3, l in 0usize..=1) {
        let (k, l) = if k + l == 0 { (1, 0) } else { (k, l) };
        check_with(seed, n, k, l, true)?;
    }
}

#[test]
fn overlap_takes_the_max_of_compute_and_transfer() {
    use parallax_place::eval::slot_loads;
    use parallax_place::Graph;
    let g = Graph::from_json(
        r#"{"devices": {"accelerators": 2, "accelerator_memory": 10, "cpus": 0},
            "nodes": [{"id": 1, "acc_time": 3, "cpu_time": 9, "output_cost": 5},
                      {"id": 2, "acc_time": 1, "cpu_time": 9}],
            "edges": [{"from": 1, "to": 2}]}"#,
        std::path::Path::new("<test>"),
    )
    .expect("parse");
    let inst = Instance::new(&g).expect("valid");
    assert_eq!(slot_loads(&inst, &[0, 1]), vec![8.0, 6.0]);
    let inst = inst.with_overlap(true);
    assert_eq!(slot_loads(&inst, &[0, 1]), vec![5.0, 5.0]);
    // one accelerator (load 4, no transfers) still beats the split (5)
    let s = solve_contiguous(&inst, &Limits::default()).expect("solved");
    assert_eq!(s.placement.max_load, 4.0);
}

/// Saturated machines (CPU 10× slower, as in the paper's graphs; memory never binds; light
/// transfers): the DP's work bands (cells whose ideal's compute cannot fit the devices
/// left, under the heuristic's bound) prune hardest here, so they must never cut the optimum.
fn check_saturated(seed: u64, n: usize, k: usize, l: usize) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let mut g = random_graph(&mut rng, n, k, l);
    for node in &mut g.nodes {
        node.cpu_time = 10.0 * node.acc_time;
        node.output_cost = if rng.chance(0.5) { 0.0 } else { 0.25 };
    }
    g.devices.accelerator_memory = g.nodes.iter().map(|x| x.memory).sum::<f64>().max(1.0);
    let inst = Instance::new(&g).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    dp_equals_brute_force(&inst, &g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn dp_matches_brute_force_on_saturated_machines(seed in any::<u64>(), n in 2usize..=9, k in 1usize..=3, l in 0usize..=1) {
        check_saturated(seed, n, k, l)?;
    }
}
