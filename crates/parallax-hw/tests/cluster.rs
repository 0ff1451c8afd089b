//! Cluster strings, default links and cluster TOML files.

use parallax_hw::{Cluster, HwError, LinkKind};

#[test]
fn parses_nodes_by_gpus() {
    let c = Cluster::parse("2x8xH100").unwrap();
    assert_eq!(c.nodes, 2);
    assert_eq!(c.gpus_per_node, 8);
    assert_eq!(c.total_gpus(), 16);
    assert_eq!(c.gpu.name, "H100-SXM");
    assert_eq!(c.intra_node.kind, LinkKind::NvSwitch);
    assert_eq!(c.intra_node.bandwidth, 450e9);
    assert_eq!(c.inter_node.kind, LinkKind::InfiniBand);
    assert_eq!(c.inter_node.bandwidth, 50e9);
    assert!(c.intra_node.latency > 0.0 && c.inter_node.latency > c.intra_node.latency);
    assert_eq!(c.spec(), "2x8xH100-SXM");
    assert!((c.price_per_hour() - 16.0 * c.gpu.price_per_hour).abs() < 1e-9);
}

#[test]
fn single_node_form_and_names_containing_x() {
    let c = Cluster::parse("8xH100").unwrap();
    assert_eq!((c.nodes, c.gpus_per_node), (1, 8));
    let m = Cluster::parse("8xMI300X").unwrap();
    assert_eq!(
        (m.nodes, m.gpus_per_node, m.gpu.name.as_str()),
        (1, 8, "MI300X")
    );
    assert_eq!(m.intra_node.kind, LinkKind::InfinityFabric);
    let m2 = Cluster::parse("4X8Xmi300x").unwrap();
    assert_eq!((m2.nodes, m2.gpus_per_node), (4, 8));
    let l = Cluster::parse("1x4xL40S").unwrap();
    assert_eq!(l.intra_node.kind, LinkKind::Pcie);
    assert_eq!(l.intra_node.bandwidth, 32e9);
}

#[test]
fn groups_pack_into_nodes() {
    let c = Cluster::parse("2x8xH100").unwrap();
    let g = c.group(8);
    assert!(g.is_intra_node());
    let g = c.group(16);
    assert_eq!((g.per_node, g.nodes()), (8, 2));
    assert!(!g.is_intra_node());
}

#[test]
fn toml_defaults_and_overrides() {
    let text = r#"
nodes = 4
gpus_per_node = 8
gpu = "h200"
price_per_hour = 2.25

[inter_node]
kind = "roce"
bandwidth_gbps = 200
latency_us = 10
"#;
    let c = Cluster::from_toml_str(text, "c.toml").unwrap();
    assert_eq!(c.total_gpus(), 32);
    assert_eq!(c.gpu.name, "H200");
    assert_eq!(c.gpu.price_per_hour, 2.25);
    assert_eq!(c.intra_node.kind, LinkKind::NvSwitch);
    assert_eq!(c.intra_node.bandwidth, 450e9);
    assert_eq!(c.inter_node.kind, LinkKind::Roce);
    assert_eq!(c.inter_node.bandwidth, 25e9);
    assert!((c.inter_node.latency - 10e-6).abs() < 1e-15);

    let text = r#"
nodes = 1
gpus_per_node = 2
gpu = "H100-PCIe"
[intra_node]
kind = "nvlink"
bandwidth_gbytes_per_s = 300
"#;
    let c = Cluster::from_toml_str(text, "bridge.toml").unwrap();
    assert_eq!(c.intra_node.kind, LinkKind::NvLink);
    assert_eq!(c.intra_node.bandwidth, 300e9);
    assert_eq!(c.intra_node.latency, LinkKind::NvLink.default_latency());
}

#[test]
fn toml_errors_name_file_field_and_value() {
    let field = |text: &str| match Cluster::from_toml_str(text, "x.toml") {
        Err(HwError::TomlField {
            source_name,
            field,
            value,
            ..
        }) => {
            assert_eq!(source_name, "x.toml");
            (field, value)
        }
        other => panic!("expected TomlField, got {other:?}"),
    };
    assert_eq!(
        field("nodes = 0\ngpus_per_node = 8\ngpu = \"H100\"\n"),
        ("nodes".to_string(), "0".to_string())
    );
    let (f, v) =
        field("nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[inter_node]\nkind = \"smoke\"\n");
    assert_eq!((f.as_str(), v.as_str()), ("inter_node.kind", "smoke"));
    let (f, v) =
        field("nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[intra_node]\nbandwidth_gbps = -5\n");
    assert_eq!(
        (f.as_str(), v.as_str()),
        ("intra_node.bandwidth_gbps", "-5")
    );
    let (f, _) = field(
        "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[intra_node]\nbandwidth_gbps = 5\nbandwidth_gbytes_per_s = 5\n",
    );
    assert_eq!(f, "intra_node.bandwidth_gbps");
    let (f, _) =
        field("nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[inter_node]\nkind = \"ethernet\"\n");
    assert_eq!(f, "inter_node.bandwidth_gbps");
    let (f, v) = field("nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\nprice_per_hour = -2\n");
    assert_eq!((f.as_str(), v.as_str()), ("price_per_hour", "-2"));
    // a price above the cap (1e6, as `--price`) is refused, and shown compactly
    let (f, v) = field("nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\nprice_per_hour = 1e300\n");
    assert_eq!((f.as_str(), v.as_str()), ("price_per_hour", "1e300"));
    // non-finite values as TOML spells them, not Rust's `NaN`
    for (written, shown) in [("nan", "nan"), ("-inf", "-inf"), ("+inf", "inf")] {
        let (f, v) = field(&format!(
            "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\nprice_per_hour = {written}\n"
        ));
        assert_eq!((f.as_str(), v.as_str()), ("price_per_hour", shown));
        let (f, v) = field(&format!(
            "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n[intra_node]\nlatency_us = {written}\n"
        ));
        assert_eq!((f.as_str(), v.as_str()), ("intra_node.latency_us", shown));
    }

    let e = Cluster::from_toml_str("nodes = 1\ngpu = \"H100\"\n", "y.toml").unwrap_err();
    assert!(matches!(e, HwError::Toml { .. }));
    assert!(
        e.to_string().contains("y.toml") && e.to_string().contains("gpus_per_node"),
        "{e}"
    );
    let e = Cluster::from_toml_str(
        "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\nspeed = 3\n",
        "z.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("speed"), "{e}");
    let e = Cluster::from_toml_str("nodes = 1\ngpus_per_node = 8\ngpu = \"Z80\"\n", "z.toml")
        .unwrap_err();
    // An unknown GPU names the file and the field, and lists the catalog.
    assert!(
        matches!(e, HwError::TomlField { ref field, ref value, .. } if field == "gpu" && value == "\"Z80\""),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("z.toml") && msg.contains("H100-SXM"), "{msg}");
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = std::env::temp_dir().join(format!("parallax-hw-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.toml");
    std::fs::write(&path, "nodes = 2\ngpus_per_node = 4\ngpu = \"A100\"\n").unwrap();
    let c = Cluster::load(&path).unwrap();
    assert_eq!(
        (c.nodes, c.gpus_per_node, c.gpu.name.as_str()),
        (2, 4, "A100-80GB-SXM")
    );
    std::fs::remove_dir_all(&dir).unwrap();
    match Cluster::load(dir.join("nope.toml")) {
        Err(HwError::Io { path, .. }) => assert!(path.ends_with("nope.toml")),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn documented_example_parses() {
    let doc = include_str!("../../../docs/cluster-toml.md");
    let start = doc.find("```toml").unwrap() + "```toml".len();
    let end = start + doc[start..].find("```").unwrap();
    let c = Cluster::from_toml_str(&doc[start..end], "docs/cluster-toml.md").unwrap();
    assert_eq!(c.total_gpus(), 16);
}
