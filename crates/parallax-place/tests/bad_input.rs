//! Bad input is reported as a typed error naming what is wrong.
#![allow(clippy::needless_range_loop)]

use std::path::Path;

use parallax_place::{
    load_graph, solve_contiguous, solve_latency, Graph, Instance, Limits, PlaceError,
};

fn paper(nodes: &str, edges: &str, fpgas: i64, cpus: i64, mem: f64) -> String {
    format!(
        r#"{{"maxSizePerFPGA": {mem}, "maxFPGAs": {fpgas}, "maxCPUs": {cpus},
            "nodes": [{nodes}], "edges": [{edges}]}}"#
    )
}

fn node(id: i64, acc: f64, size: f64, supported: u8) -> String {
    format!(
        r#"{{"id": {id}, "cpuLatency": 10, "fpgaLatency": {acc}, "size": {size},
            "supportedOnFpga": {supported}, "isBackwardNode": false}}"#
    )
}

fn parse(text: &str) -> Result<Instance, PlaceError> {
    let g = Graph::from_any_json(text, Path::new("test.json"))?;
    Instance::new(&g)
}

#[test]
fn cycle_names_its_nodes() {
    let nodes = [
        node(1, 1.0, 0.0, 1),
        node(2, 1.0, 0.0, 1),
        node(3, 1.0, 0.0, 1),
    ]
    .join(",");
    let edges = r#"{"sourceId":1,"destId":2,"cost":1},{"sourceId":2,"destId":3,"cost":1},{"sourceId":3,"destId":2,"cost":1}"#;
    match parse(&paper(&nodes, edges, 2, 1, 10.0)) {
        Err(PlaceError::Cycle { nodes }) => {
            let mut n = nodes.clone();
            n.sort_unstable();
            assert_eq!(n, vec![2, 3]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn edge_to_missing_node() {
    let nodes = node(1, 1.0, 0.0, 1);
    let edges = r#"{"sourceId":1,"destId":9,"cost":1}"#;
    let e = parse(&paper(&nodes, edges, 1, 1, 10.0)).unwrap_err();
    assert!(
        matches!(e, PlaceError::MissingNode { missing: 9, .. }),
        "{e}"
    );
    assert!(e.to_string().contains('9'));
}

#[test]
fn negative_time_and_size() {
    let e = parse(&paper(&node(4, -1.0, 0.0, 1), "", 1, 1, 10.0)).unwrap_err();
    assert!(
        matches!(e, PlaceError::NegativeValue { node: 4, field: "fpgaLatency", value } if value == -1.0),
        "{e}"
    );
    // our own format names its own fields
    let ours = r#"{"devices": {"accelerators": 1, "accelerator_memory": 10, "cpus": 1},
        "nodes": [{"id": 6, "acc_time": 1, "cpu_time": -0.5}], "edges": []}"#;
    let e = parse(ours).unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::NegativeValue {
                node: 6,
                field: "cpu_time",
                ..
            }
        ),
        "{e}"
    );
    let e = parse(&paper(&node(5, 1.0, -3.0, 1), "", 1, 1, 10.0)).unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::NegativeValue {
                node: 5,
                field: "size",
                ..
            }
        ),
        "{e}"
    );
}

/// Times so large that their sums overflow are input errors naming the node and field (the
/// DP found no placement and reported an internal check failure).
#[test]
fn values_whose_sums_would_overflow() {
    let nodes = format!("{},{}", node(1, 1e308, 0.0, 1), node(2, 1e308, 0.0, 1));
    let e = parse(&paper(&nodes, "", 2, 1, 10.0)).unwrap_err();
    assert!(
        matches!(e, PlaceError::NegativeValue { node: 1, field: "fpgaLatency", value } if value == 1e308),
        "{e}"
    );
    assert!(e.to_string().contains("from 0 to 1e300"), "{e}");
    parse(&paper(&node(1, 1e300, 0.0, 1), "", 2, 1, 10.0)).unwrap();
}

#[test]
fn node_no_device_can_take() {
    // unsupported on accelerators and no CPU
    let e = parse(&paper(&node(7, 1.0, 0.0, 0), "", 2, 0, 10.0)).unwrap_err();
    assert!(matches!(e, PlaceError::NoDevice { node: 7, .. }), "{e}");
    // larger than an accelerator and no CPU
    let e = parse(&paper(&node(8, 1.0, 50.0, 1), "", 2, 0, 10.0)).unwrap_err();
    assert!(matches!(e, PlaceError::NoDevice { node: 8, .. }), "{e}");
}

#[test]
fn infeasible_memory_is_reported_as_such() {
    // each node fits, but three of size 6 do not fit on two accelerators of 10
    let nodes = [
        node(1, 1.0, 6.0, 1),
        node(2, 1.0, 6.0, 1),
        node(3, 1.0, 6.0, 1),
    ]
    .join(",");
    let inst = parse(&paper(&nodes, "", 2, 0, 10.0)).expect("valid");
    let e = solve_contiguous(&inst, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::InfeasibleMemory {
                accelerators: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with("infeasible memory"), "{e}");
    // the latency objective too, with one subgraph per accelerator
    let e = solve_latency(&inst, 1, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::InfeasibleMemory {
                accelerators: 2,
                ..
            }
        ),
        "{e}"
    );
    // two subgraphs per accelerator do not add memory
    let e = solve_latency(&inst, 2, &Limits::default()).unwrap_err();
    assert!(matches!(e, PlaceError::InfeasibleMemory { .. }), "{e}");
}

#[test]
fn inconsistent_out_edge_costs() {
    let nodes = [
        node(1, 1.0, 0.0, 1),
        node(2, 1.0, 0.0, 1),
        node(3, 1.0, 0.0, 1),
    ]
    .join(",");
    let edges = r#"{"sourceId":1,"destId":2,"cost":1},{"sourceId":1,"destId":3,"cost":2}"#;
    let e = parse(&paper(&nodes, edges, 1, 1, 10.0)).unwrap_err();
    assert!(
        matches!(e, PlaceError::InconsistentEdgeCost { node: 1, .. }),
        "{e}"
    );
}

#[test]
fn duplicate_ids_and_bad_devices() {
    let nodes = [node(1, 1.0, 0.0, 1), node(1, 1.0, 0.0, 1)].join(",");
    let e = parse(&paper(&nodes, "", 1, 1, 10.0)).unwrap_err();
    assert!(matches!(e, PlaceError::DuplicateNode { id: 1 }), "{e}");
    let e = parse(&paper(&node(1, 1.0, 0.0, 1), "", -1, 1, 10.0)).unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::InvalidDevices {
                field: "maxFPGAs",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn json_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("parallax-place-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("broken.json");
    std::fs::write(&file, r#"{"maxFPGAs": 2, "nodes": [}"#).expect("write");
    let e = load_graph(&file).unwrap_err();
    assert!(matches!(e, PlaceError::Json { .. }));
    assert!(e.to_string().contains("broken.json"), "{e}");
    let e = load_graph(&dir.join("missing.json")).unwrap_err();
    assert!(matches!(e, PlaceError::Io { .. }));
    // our format rejects unknown fields
    let e = Graph::from_json(
        r#"{"devices":{"accelerators":1,"accelerator_memory":1,"cpus":0},"nodes":[{"id":1,"acc_time":1,"cpu_time":1,"colour":3}],"edges":[]}"#,
        Path::new("ours.json"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The paper's formats reject unknown fields too: a misspelled `size` would make a node
/// weightless, a misspelled `colorClass` drop its colocation, a misspelled top-level key its
/// limit.
#[test]
fn paper_formats_reject_unknown_fields() {
    let misspelled = node(1, 1.0, 5.0, 1).replace("\"size\"", "\"Size\"");
    let e = parse(&paper(&misspelled, "", 1, 0, 1.0)).unwrap_err();
    assert!(
        matches!(e, PlaceError::InvalidField { .. })
            && e.to_string()
                .contains("node 1 (nodes[0]): unknown field `Size`"),
        "{e}"
    );
    let colour = node(1, 1.0, 0.0, 1).replace("\"size\"", "\"colourClass\": 2, \"size\"");
    let e = parse(&paper(&colour, "", 1, 0, 1.0)).unwrap_err();
    assert!(e.to_string().contains("colourClass"), "{e}");
    let top = paper(&node(1, 1.0, 0.0, 1), "", 1, 0, 1.0).replacen('{', r#"{"maxCPU": 3, "#, 1);
    let e = parse(&top).unwrap_err();
    assert!(e.to_string().contains("maxCPU"), "{e}");
    let edge = paper(
        &[node(1, 1.0, 0.0, 1), node(2, 1.0, 0.0, 1)].join(","),
        r#"{"sourceId": 1, "destId": 2, "cost": 1, "weight": 2}"#,
        1,
        0,
        1.0,
    );
    assert!(parse(&edge).unwrap_err().to_string().contains("weight"));
    // the fields the published graphs carry are all accepted
    let full = paper(
        &[
            node(1, 1.0, 0.0, 1).replace(
                "\"id\"",
                r#""name": "a", "colorClass": 1, "layerId": 0, "id""#,
            ),
            node(2, 1.0, 0.0, 1),
        ]
        .join(","),
        r#"{"sourceId": 1, "destId": 2, "cost": 1, "size": 64}"#,
        1,
        0,
        1.0,
    );
    parse(&full).unwrap();
    // expert splits: the paper's placeholders pass, a misspelled device list does not
    let ok = r#"{"fpgas": [{"load": -1, "nodes": [1]}], "cpus": [{"load": 0.0, "nodes": []}], "maxLoad": -1}"#;
    parallax_place::ExpertSplit::from_json(ok, Path::new("e.json")).unwrap();
    let bad = r#"{"fpgas": [{"load": -1, "node": [1]}], "maxLoad": -1}"#;
    let e = parallax_place::ExpertSplit::from_json(bad, Path::new("e.json")).unwrap_err();
    assert!(e.to_string().contains("`node`"), "{e}");
    let bad = r#"{"fpga": [{"nodes": [1]}], "fpgas": []}"#;
    let e = parallax_place::ExpertSplit::from_json(bad, Path::new("e.json")).unwrap_err();
    assert!(e.to_string().contains("`fpga`"), "{e}");
}

/// Errors name the node or edge, the field, the value as written (compactly) and what was
/// expected, and stay short.
#[test]
fn errors_name_the_node_field_and_value() {
    // a flag written as a string (was "data did not match any variant of untagged enum Flag")
    let bad =
        node(3, 1.0, 0.0, 1).replace("\"supportedOnFpga\": 1", "\"supportedOnFpga\": \"yes\"");
    let e = parse(&paper(&bad, "", 1, 1, 10.0)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, PlaceError::InvalidField { .. }), "{text}");
    for needle in [
        "test.json",
        "node 3 (nodes[0])",
        "`supportedOnFpga`",
        "\"yes\"",
        "0/1",
    ] {
        assert!(text.contains(needle), "{text} lacks {needle}");
    }
    // a missing field, and a wrong type in our own format
    let bad = node(4, 1.0, 0.0, 1).replace("\"cpuLatency\": 10, ", "");
    let e = parse(&paper(&bad, "", 1, 1, 10.0)).unwrap_err().to_string();
    assert!(
        e.contains("node 4 (nodes[0]): field `cpuLatency` is missing"),
        "{e}"
    );
    let ours = r#"{"devices": {"accelerators": 1, "accelerator_memory": 10, "cpus": 1},
        "nodes": [{"id": 6, "acc_time": 1, "cpu_time": "fast"}], "edges": []}"#;
    let e = parse(ours).unwrap_err().to_string();
    assert!(
        e.contains("node 6 (nodes[0]): field `cpu_time` is \"fast\", expected a number"),
        "{e}"
    );
    // an edge cost too large: the edge, and 1e301 (was 302 digits under "node 1")
    let nodes = [node(1, 1.0, 0.0, 1), node(2, 1.0, 0.0, 1)].join(",");
    let e = parse(&paper(
        &nodes,
        r#"{"sourceId":1,"destId":2,"cost":1e301}"#,
        1,
        1,
        10.0,
    ))
    .unwrap_err();
    assert!(
        matches!(
            e,
            PlaceError::InvalidEdgeValue {
                from: 1,
                to: 2,
                field: "cost",
                ..
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("edge 1 -> 2: field `cost` is 1e301, expected"),
        "{text}"
    );
    assert!(text.len() < 120, "{text}");
    let ours = r#"{"devices": {"accelerators": 1, "accelerator_memory": 10, "cpus": 1},
        "nodes": [{"id": 1, "acc_time": 1e308, "cpu_time": 1}], "edges": []}"#;
    let e = parse(ours).unwrap_err().to_string();
    assert!(e.contains("field `acc_time` is 1e308,"), "{e}");
    // NaN and Infinity are no JSON numbers: said so
    for word in ["NaN", "Infinity", "-Infinity"] {
        let text = format!(
            r#"{{"devices": {{"accelerators": 1, "accelerator_memory": 10, "cpus": 1}},
                "nodes": [{{"id": 1, "acc_time": {word}, "cpu_time": 1}}], "edges": []}}"#
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("cannot be NaN or Infinity"), "{word}: {e}");
        assert!(e.contains("line 2"), "{word}: {e}");
    }
}

/// A cycle through a large graph is named by its length and first nodes, not all of them
/// (a 50,000-node cycle made a 339 KB message).
#[test]
fn a_long_cycle_makes_a_short_message() {
    let n = 50_000;
    let nodes: Vec<String> = (0..n).map(|i| node(i, 1.0, 0.0, 1)).collect();
    let edges: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"sourceId":{i},"destId":{},"cost":0}}"#, (i + 1) % n))
        .collect();
    let e = parse(&paper(&nodes.join(","), &edges.join(","), 1, 1, 10.0)).unwrap_err();
    let PlaceError::Cycle { nodes } = &e else {
        panic!("{e}")
    };
    assert_eq!(nodes.len(), n as usize);
    let text = e.to_string();
    assert!(text.len() < 200, "{} bytes: {text}", text.len());
    assert!(text.contains("cycle of 50000 nodes: 0 -> 1 -> 2"), "{text}");
    assert!(text.ends_with("-> 49999 -> 0"), "{text}");
}
