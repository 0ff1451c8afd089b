//! The seeded max-forward + max-backward solve: equal to brute force on small graphs, its
//! lower bound below the optimum, and a budget that ends in a result.
#![allow(clippy::needless_range_loop)]

use crate::common;

use common::{close, for_each_assignment, random_graph, Rng};
use parallax_place::eval::{split_maxima, violations};
use parallax_place::split_maxima::{lower_bound, solve_split_maxima};
use parallax_place::{load_graph, Instance, MilpBackend, MilpOptions, PlaceError};

fn brute(inst: &Instance) -> Option<f64> {
    let mut best: Option<f64> = None;
    for_each_assignment(inst, |slot| {
        if !violations(inst, slot).is_empty() {
            return;
        }
        let (f, b) = split_maxima(inst, slot);
        if best.map_or(true, |x| f + b < x) {
            best = Some(f + b);
        }
    });
    best
}

#[test]
fn matches_brute_force_and_bounds_hold() {
    let mut rng = Rng(41);
    let mut compared = 0;
    for case in 0..30 {
        let n = 3 + case % 4;
        let k = 1 + case % 2;
        let l = case % 3 / 2;
        let g = random_graph(&mut rng, n, k, l);
        let Ok(inst) = Instance::new(&g) else {
            continue;
        };
        let opts = MilpOptions {
            contiguous: false,
            time_limit: None,
            backend: MilpBackend::Microlp,
            ..MilpOptions::default()
        };
        let want = brute(&inst);
        match (want, solve_split_maxima(&inst, &opts)) {
            (Some(b), Ok(s)) => {
                assert!(
                    close(b, s.solution.value, 1e-6),
                    "case {case}: brute {b} seeded MILP {}",
                    s.solution.value
                );
                assert!(s.solution.status.is_optimal(), "case {case}");
                assert!(lower_bound(&inst) <= b * (1.0 + 1e-9), "case {case}");
                if let Some(seed) = s.seed {
                    assert!(seed >= b * (1.0 - 1e-9), "case {case}: seed {seed} < {b}");
                }
                let (f, bw) = split_maxima(
                    &inst,
                    &parallax_place::split_maxima::placement_slots(&inst, &s.solution.placement),
                );
                assert!(close(f + bw, s.solution.value, 1e-9), "case {case}");
                compared += 1;
            }
            (None, Err(PlaceError::InfeasibleMemory { .. })) => {}
            (w, r) => panic!(
                "case {case}: brute {w:?} solve {:?}",
                r.map(|s| s.solution.value)
            ),
        }
    }
    assert!(compared >= 15, "{compared}");
}

#[test]
fn a_short_budget_returns_the_seed_with_a_bound() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/throughput/layer_gnmt_training.json"
    );
    let inst = Instance::new(&load_graph(std::path::Path::new(path)).unwrap()).unwrap();
    let opts = MilpOptions {
        contiguous: true,
        time_limit: Some(0.5),
        ..MilpOptions::default()
    };
    let s = solve_split_maxima(&inst, &opts).expect("a budget is a result");
    let seed = s.seed.expect("the DP seeds it");
    assert!(s.solution.value <= seed * (1.0 + 1e-12));
    let lb = lower_bound(&inst);
    assert!(lb > 0.0 && lb <= s.solution.value);
    assert!(s.solution.placement.contiguous);
    assert!(violations(
        &inst,
        &parallax_place::split_maxima::placement_slots(&inst, &s.solution.placement)
    )
    .is_empty());
    // unseeded, the same budget can end without any solution
    let bare = MilpOptions {
        seed: false,
        ..opts.clone()
    };
    if let Ok(b) = solve_split_maxima(&inst, &bare) {
        assert!(b.seed.is_none() && !b.from_seed);
    }
    // overlap is not modelled
    let over = inst.clone().with_overlap(true);
    assert!(matches!(
        solve_split_maxima(&over, &opts),
        Err(PlaceError::Unsupported(_))
    ));
}

#[test]
fn an_inference_graph_is_proven_by_the_max_load_solvers() {
    // No backward node: max forward + max backward = max load, which the DP proves.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/throughput/layer_gnmt_inference.json"
    );
    let inst = Instance::new(&load_graph(std::path::Path::new(path)).unwrap()).unwrap();
    assert!(inst.backward.iter().all(|&b| !b));
    let opts = MilpOptions {
        contiguous: true,
        time_limit: Some(60.0),
        ..MilpOptions::default()
    };
    let s = solve_split_maxima(&inst, &opts).unwrap();
    assert!(s.solution.status.is_optimal());
    assert!(
        close(s.solution.value, 32.910658203125, 1e-9),
        "{}",
        s.solution.value
    );
    assert_eq!(s.solution.backward, 0.0);
    assert_eq!(s.seed_from.as_deref(), Some("ideal_dp"));
    assert!(s.solution.placement.contiguous);
}
