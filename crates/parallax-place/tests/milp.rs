//! The MILP equals the DP under contiguity and brute force without it, on small graphs.
#![allow(clippy::needless_range_loop)]

mod common;

use common::{brute_max_load, close, random_graph, Rng};
use parallax_place::{
    solve_contiguous, solve_milp, Instance, Limits, MilpBackend, MilpOptions, PlaceError,
};

#[test]
fn milp_matches_dp_and_brute_force_on_small_graphs() {
    let mut rng = Rng(7);
    let mut compared = 0;
    for case in 0..24 {
        let n = 3 + (case % 4);
        let k = 1 + (case % 2);
        let l = case % 3 / 2;
        let g = random_graph(&mut rng, n, k, l);
        let Ok(inst) = Instance::new(&g) else {
            continue;
        };
        let dp = solve_contiguous(&inst, &Limits::default());
        let opts = MilpOptions {
            contiguous: true,
            time_limit: None,
            backend: MilpBackend::Microlp,
        };
        let milp = solve_milp(&inst, &opts);
        match (&dp, &milp) {
            (Ok(a), Ok(b)) => {
                assert!(
                    close(a.placement.max_load, b.placement.max_load, 1e-6),
                    "case {case}: dp {} milp {} on {}",
                    a.placement.max_load,
                    b.placement.max_load,
                    g.to_json()
                );
                assert!(b.placement.contiguous);
                compared += 1;
            }
            (
                Err(PlaceError::InfeasibleMemory { .. }),
                Err(PlaceError::InfeasibleMemory { .. }),
            ) => {}
            _ => panic!(
                "case {case}: dp {:?} milp {:?}",
                dp.map(|s| s.placement.max_load),
                milp.map(|s| s.placement.max_load)
            ),
        }
        let free = solve_milp(
            &inst,
            &MilpOptions {
                contiguous: false,
                ..opts
            },
        );
        match (brute_max_load(&inst, false), free) {
            (Some(b), Ok(s)) => assert!(
                close(b, s.placement.max_load, 1e-6),
                "case {case}: brute {b} milp {}",
                s.placement.max_load
            ),
            (None, Err(PlaceError::InfeasibleMemory { .. })) => {}
            (b, s) => panic!(
                "case {case}: brute {b:?} milp {:?}",
                s.map(|s| s.placement.max_load)
            ),
        }
    }
    assert!(compared >= 12, "only {compared} feasible cases");
}

#[test]
fn highs_without_feature_is_reported() {
    if cfg!(feature = "highs") {
        return;
    }
    let mut rng = Rng(1);
    let g = random_graph(&mut rng, 3, 1, 1);
    let inst = Instance::new(&g).expect("valid");
    let r = solve_milp(
        &inst,
        &MilpOptions {
            backend: MilpBackend::Highs,
            ..MilpOptions::default()
        },
    );
    assert!(matches!(r, Err(PlaceError::Unsupported(_))));
}
