//! The paper's human-expert splits, scored on the instances they were made for: feasible
//! throughput placements never better than the proven optimum, and clear errors when a
//! split does not fit an instance.

use std::path::{Path, PathBuf};

use parallax_place::{load_expert, load_graph, ExpertSplit, Instance, PlaceError};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn instance(rel: &str) -> Instance {
    let g = load_graph(&data().join(rel)).expect("load");
    Instance::new(&g).expect("valid")
}

#[test]
fn experts_are_feasible_and_not_better_than_the_optimum() {
    let text = std::fs::read_to_string(data().join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut scored = 0;
    for name in [
        "bert24_inference",
        "bert24_training",
        "gnmt_inference",
        "gnmt_training",
        "inceptionv3_inference",
        "resnet50_inference",
    ] {
        let expert =
            load_expert(&data().join(format!("experts/{name}_expert.json"))).expect("expert");
        let rel = format!("throughput/layer_{name}.json");
        let inst = instance(&rel);
        let score = expert.evaluate(&inst, 1).expect("matches its instance");
        assert!(score.feasible, "{name}: {:?}", score.over_memory);
        let placed: usize = score.placement.devices.iter().map(|d| d.nodes.len()).sum();
        assert_eq!(placed, inst.len());
        if let Some(opt) = v["optima"][&rel].as_f64() {
            assert!(
                score.placement.max_load >= opt * (1.0 - 1e-9),
                "{name}: expert {} beats the optimum {opt}",
                score.placement.max_load
            );
            scored += 1;
        }
    }
    assert_eq!(scored, 5);
}

#[test]
fn experts_that_do_not_fit_are_reported() {
    // made for 6 accelerators; the latency instance has 5
    let expert = load_expert(&data().join("experts/bert24_inference_expert.json")).expect("expert");
    let err = expert
        .evaluate(&instance("latency/layer_bert24_inference.json"), 1)
        .expect_err("too many accelerators");
    assert!(matches!(err, PlaceError::ExpertMismatch { .. }));
    assert!(err.to_string().contains("6 accelerators"), "{err}");
    // the latency ResNet-50 instance has 14 accelerators of less memory: it maps, but breaks
    // memory, so it is no valid latency schedule either
    let expert =
        load_expert(&data().join("experts/resnet50_inference_expert.json")).expect("expert");
    let score = expert
        .evaluate(&instance("latency/layer_resnet50_inference.json"), 1)
        .expect("maps");
    assert!(!score.feasible && !score.over_memory.is_empty());
    assert_eq!(score.latency, None);
    // a split of another graph names nodes the instance lacks or leaves some out
    let gnmt = load_expert(&data().join("experts/gnmt_inference_expert.json")).expect("expert");
    let err = gnmt
        .evaluate(&instance("throughput/layer_bert24_inference.json"), 1)
        .expect_err("other graph");
    assert!(matches!(err, PlaceError::ExpertMismatch { .. }), "{err}");
}

#[test]
fn malformed_expert_names_the_file() {
    let err = ExpertSplit::from_json(
        "{\"fpgas\": [{\"nodes\": [1, \"x\"]}]}",
        Path::new("bad.json"),
    )
    .expect_err("bad");
    assert!(matches!(err, PlaceError::Json { .. }));
    assert!(err.to_string().contains("bad.json"), "{err}");
    let twice = ExpertSplit::from_json(
        "{\"fpgas\": [{\"nodes\": [1, 2]}, {\"nodes\": [2]}]}",
        Path::new("twice.json"),
    )
    .expect("parses");
    let err = twice
        .slots(&instance("throughput/layer_bert24_inference.json"))
        .expect_err("twice");
    assert!(err.to_string().contains("node 2 is placed twice"), "{err}");
}

#[test]
fn inference_experts_are_derived_for_training_graphs() {
    use parallax_place::{solve_contiguous, Limits};
    // ResNet-50 and Inception-v3 have no training split: derive it from the inference one
    for (expert, graph) in [
        ("resnet50_inference", "layer_resnet50_training"),
        ("gnmt_inference", "layer_gnmt_training"),
    ] {
        let split = load_expert(&data().join(format!("experts/{expert}_expert.json")))
            .expect("expert loads");
        let inst = instance(&format!("throughput/{graph}.json"));
        let (full, added) = split.derive_for(&inst).expect("derivable");
        let backward = inst.backward.iter().filter(|&&b| b).count();
        assert_eq!(
            added, backward,
            "{graph}: every backward node follows its class"
        );
        let score = full.evaluate(&inst, 1).expect("scored");
        // colocation holds by construction; the max load is no better than the optimum
        let opt = solve_contiguous(&inst, &Limits::default()).expect("solved");
        assert!(
            !score.feasible || score.placement.max_load >= opt.placement.max_load * (1.0 - 1e-9),
            "{graph}: expert {} beats the optimum {}",
            score.placement.max_load,
            opt.placement.max_load
        );
        // a complete split comes back unchanged
        let (again, none) = full.derive_for(&inst).expect("complete");
        assert_eq!(none, 0);
        assert_eq!(again, full);
    }
    // a node whose class is not placed at all is named
    let split = ExpertSplit {
        file: "partial.json".into(),
        accelerators: vec![vec![1]],
        cpus: vec![],
    };
    let inst = instance("throughput/layer_resnet50_training.json");
    let e = split.derive_for(&inst).unwrap_err();
    assert!(matches!(e, PlaceError::ExpertMismatch { .. }), "{e}");
    assert!(e.to_string().contains("partial.json"), "{e}");
}
