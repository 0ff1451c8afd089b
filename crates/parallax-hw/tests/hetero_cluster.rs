//! Heterogeneous clusters: node groups of different GPU kinds, string and TOML forms.

use parallax_hw::{Cluster, HwError, LinkKind};

#[test]
fn mixed_string_has_groups_with_their_own_links() {
    let c = Cluster::parse("1x8xH100+2x4xA100-80GB").unwrap();
    assert!(c.is_heterogeneous());
    assert_eq!(c.total_gpus(), 16);
    assert_eq!(c.spec(), "1x8xH100-SXM+2x4xA100-80GB-SXM");
    let g = c.node_groups();
    assert_eq!(g.len(), 2);
    assert_eq!((g[1].nodes, g[1].gpus_per_node), (2, 4));
    // Each group keeps its GPU's scale-up fabric: NVLink 4 vs NVLink 3.
    assert_eq!(g[0].intra_node.bandwidth, 450e9);
    assert_eq!(g[1].intra_node.bandwidth, 300e9);
    // One network joins the groups.
    let a = c.group_cluster(1).unwrap();
    assert_eq!(a.inter_node, c.inter_node);
    assert_eq!(a.gpu.name, "A100-80GB-SXM");
    assert!(!a.is_heterogeneous());
    assert_eq!(c.group_index("a100-80gb"), Some(1));
    assert_eq!(c.group_index("H100"), Some(0));
    assert_eq!(c.group_index("B200"), None);
    let price = 8.0 * c.gpu.price_per_hour + 8.0 * g[1].gpu.price_per_hour;
    assert!((c.price_per_hour() - price).abs() < 1e-9);
}

#[test]
fn homogeneous_spec_and_serialisation_are_unchanged() {
    let c = Cluster::parse("2x8xH100").unwrap();
    assert!(!c.is_heterogeneous());
    assert_eq!(c.spec(), "2x8xH100-SXM");
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("more_groups"), "{json}");
}

#[test]
fn bad_mixed_specs_name_the_group_and_value() {
    match Cluster::parse("1x8xH100+1x0xA100-80GB").unwrap_err() {
        HwError::MalformedCluster { part, value, .. } => {
            assert!(
                part.contains("group 2") && part.contains("1x0xA100-80GB"),
                "{part}"
            );
            assert_eq!(value, "0");
        }
        e => panic!("{e}"),
    }
    match Cluster::parse("1x8xH100+").unwrap_err() {
        HwError::MalformedCluster { part, .. } => assert!(part.contains("group 2"), "{part}"),
        e => panic!("{e}"),
    }
    let e = Cluster::parse("1x8xH100+1x8xH100-SXM").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("group 2") && msg.contains("H100-SXM"), "{msg}");
    let e = Cluster::parse("1x8xH100+1x8xZ900").unwrap_err();
    assert!(e.to_string().contains("Z900"), "{e}");
}

#[test]
fn toml_groups_with_links() {
    let text = r#"
[inter_node]
kind = "roce"
bandwidth_gbps = 200

[[group]]
nodes = 1
gpus_per_node = 8
gpu = "H100"
price_per_hour = 3.0

[[group]]
nodes = 2
gpus_per_node = 4
gpu = "L40S"
[group.intra_node]
kind = "pcie"
bandwidth_gbytes_per_s = 16
"#;
    let c = Cluster::from_toml_str(text, "mixed.toml").unwrap();
    assert_eq!(c.spec(), "1x8xH100-SXM+2x4xL40S");
    assert_eq!(c.gpu.price_per_hour, 3.0);
    assert_eq!(c.inter_node.kind, LinkKind::Roce);
    assert_eq!(c.inter_node.bandwidth, 25e9);
    assert_eq!(c.more_groups[0].intra_node.bandwidth, 16e9);
    assert_eq!(c.more_groups[0].intra_node.kind, LinkKind::Pcie);
}

#[test]
fn toml_group_errors_name_the_field() {
    let bad = |text: &str, field: &str| match Cluster::from_toml_str(text, "m.toml").unwrap_err() {
        HwError::TomlField {
            field: f,
            source_name,
            ..
        } => {
            assert_eq!(source_name, "m.toml");
            assert_eq!(f, field);
        }
        e => panic!("{e}"),
    };
    bad(
        "[[group]]\nnodes = 1\ngpus_per_node = 0\ngpu = \"H100\"\n",
        "group[0].gpus_per_node",
    );
    bad(
        "[[group]]\nnodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[[group]]\nnodes = 1\ngpus_per_node = 8\ngpu = \"Z9\"\n",
        "group[1].gpu",
    );
    bad(
        "[[group]]\nnodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[[group]]\nnodes = 1\ngpus_per_node = 4\ngpu = \"H100-SXM\"\n",
        "group[1].gpu",
    );
    bad(
        "nodes = 1\n[[group]]\nnodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n",
        "nodes",
    );
    // a kind used twice: both groups numbered as the file numbers them, the kinds as written
    let e = Cluster::from_toml_str(
        "[[group]]\nnodes = 1\ngpus_per_node = 2\ngpu = \"H100\"\n[[group]]\nnodes = 1\n\
         gpus_per_node = 2\ngpu = \"L40S\"\n[[group]]\nnodes = 1\ngpus_per_node = 2\n\
         gpu = \"h100-sxm\"\n",
        "m.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("group[2].gpu")
            && e.contains("\"h100-sxm\"")
            && e.contains("group[0] (\"H100\""),
        "{e}"
    );
    let e = Cluster::from_toml_str("gpus_per_node = 8\ngpu = \"H100\"\n", "m.toml").unwrap_err();
    assert!(
        matches!(e, HwError::Toml { .. }) && e.to_string().contains("nodes"),
        "{e}"
    );
    bad(
        "[[group]]\nnodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[group.intra_node]\nlatency_us = -1\n",
        "group[0].intra_node.latency_us",
    );
}
