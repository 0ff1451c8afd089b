//! Every instance in `expected.json` reproduces its contiguous max-load optimum (1e-9 rel.).
#![allow(clippy::needless_range_loop)]

use std::path::{Path, PathBuf};

use parallax_place::{load_graph, solve_contiguous, Instance, Limits};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn expected_optima_are_reproduced() {
    let text = std::fs::read_to_string(data().join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let optima = v["optima"].as_object().expect("optima object");
    assert!(optima.len() >= 7);
    for (file, want) in optima {
        let want = want.as_f64().expect("number");
        let g = load_graph(&data().join(file)).expect("load");
        let inst = Instance::new(&g).expect("valid");
        let sol = solve_contiguous(&inst, &Limits::default()).expect("solved");
        let got = sol.placement.max_load;
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "{file}: got {got}, expected {want}"
        );
        assert!(sol.status.is_optimal(), "{file}");
        assert!(sol.placement.contiguous, "{file}");
        // every node placed exactly once
        let placed: usize = sol.placement.devices.iter().map(|d| d.nodes.len()).sum();
        assert_eq!(placed, g.nodes.len(), "{file}");
        assert!(sol.placement.devices.iter().all(|d| d.load <= got));
    }
}
