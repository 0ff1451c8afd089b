//! The device-mapping rule: TP groups within a node, stages across nodes only when needed,
//! replicas fill what is left; groups of collectives follow the mapping.

use parallax_hw::Cluster;
use parallax_plan::{Mapping, Plan, PlanError};

fn map(plan: &str, cluster: &str) -> Result<Mapping, PlanError> {
    Mapping::new(
        &plan.parse::<Plan>().unwrap(),
        &Cluster::parse(cluster).unwrap(),
    )
}

#[test]
fn replicas_pack_stage_by_stage() {
    let m = map("dp=2,pp=2,tp=4", "2x8xH100").unwrap();
    let firsts: Vec<Vec<u32>> = m
        .slots
        .iter()
        .map(|r| r.iter().map(|s| s.first_rank).collect())
        .collect();
    assert_eq!(firsts, vec![vec![0, 4], vec![8, 12]]);
    // The pipeline of each replica stays in its node.
    assert!(m.send_group(0, 0).unwrap().is_intra_node());
    assert!(m.send_group(1, 0).unwrap().is_intra_node());
    assert!(m.send_group(0, 1).is_none());
}

#[test]
fn stages_cross_nodes_when_a_replica_is_larger_than_a_node() {
    let m = map("pp=2,tp=8", "2x8xH100").unwrap();
    assert_eq!(m.slots[0][1].first_rank, 8);
    let g = m.send_group(0, 0).unwrap();
    assert_eq!((g.size, g.per_node), (2, 1));
    assert!(!g.is_intra_node());
    // The TP group is inside one node.
    assert!(m.tp_group(0, 0, 8).is_intra_node());
}

#[test]
fn tp_groups_never_straddle_nodes() {
    // Slots of 3 on nodes of 8: the third slot skips the last 2 GPUs of node 0.
    let m = map("dp=4,tp=3", "2x8xH100").unwrap();
    let firsts: Vec<u32> = m.slots.iter().map(|r| r[0].first_rank).collect();
    assert_eq!(firsts, vec![0, 3, 8, 11]);
    for r in 0..4 {
        assert!(m.tp_group(r, 0, 3).is_intra_node());
    }
    // Six slots of 3 do not pack into 2 nodes of 8 without straddling.
    let e = map("dp=6,tp=3", "2x8xH100").unwrap_err();
    assert!(matches!(e, PlanError::Inconsistent { .. }), "{e}");
}

#[test]
fn wide_stages_span_whole_nodes() {
    let m = map("tp=16", "2x8xH100").unwrap();
    let g = m.tp_group(0, 0, 16);
    assert_eq!((g.size, g.per_node, g.nodes()), (16, 8, 2));
    // EP group of 4 with stride 4 over 16 ranks: 2 per node.
    let ep = m.strided_group(0, 0, 4, 4);
    assert_eq!((ep.size, ep.per_node), (4, 2));
    let e = map("tp=12", "2x8xH100").unwrap_err();
    assert!(
        matches!(e, PlanError::Inconsistent { ref field, .. } if field == "tp"),
        "{e}"
    );
}

#[test]
fn too_many_devices_is_an_error() {
    let e = map("dp=2,pp=2,tp=8", "1x8xH100").unwrap_err();
    assert!(
        e.to_string().contains("32") || e.to_string().contains("needs"),
        "{e}"
    );
}
