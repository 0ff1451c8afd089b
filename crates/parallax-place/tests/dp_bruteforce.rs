//! The ideal DP equals brute force on random DAGs of up to 10 nodes with random devices,
#![allow(clippy::needless_range_loop)]
//! memory limits, colocation classes, backward nodes and unsupported nodes.

mod common;

use common::{brute_max_load, close, random_graph, Rng};
use parallax_place::{solve_contiguous, Instance, Limits, PlaceError};
use proptest::prelude::*;

fn check(seed: u64, n: usize, k: usize, l: usize) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let g = random_graph(&mut rng, n, k, l);
    let inst = match Instance::new(&g) {
        Ok(i) => i,
        Err(PlaceError::NoDevice { .. }) => {
            // only possible without CPUs, and then brute force finds nothing either
            prop_assert_eq!(l, 0);
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("unexpected {e}"))),
    };
    let brute = brute_max_load(&inst, true);
    match (solve_contiguous(&inst, &Limits::default()), brute) {
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
