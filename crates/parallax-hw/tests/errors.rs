//! Bad hardware descriptions give typed errors that name the value.

use parallax_hw::{Cluster, HwError};
use proptest::prelude::*;

fn malformed(spec: &str) -> (String, String) {
    match Cluster::parse(spec) {
        Err(HwError::MalformedCluster {
            spec: s,
            part,
            value,
            expected,
        }) => {
            assert_eq!(s, spec);
            assert!(!expected.is_empty());
            (part, value)
        }
        other => panic!("`{spec}`: expected MalformedCluster, got {other:?}"),
    }
}

#[test]
fn malformed_cluster_strings() {
    assert_eq!(malformed("2x8"), ("gpu".into(), "8".into()));
    assert_eq!(malformed("0x8xH100"), ("nodes".into(), "0".into()));
    assert_eq!(malformed("2x0xH100"), ("gpus per node".into(), "0".into()));
    assert_eq!(malformed("axbxc"), ("gpus per node".into(), "a".into()));
    assert_eq!(malformed(""), ("format".into(), "".into()));
    assert_eq!(malformed("H100"), ("format".into(), "H100".into()));
    assert_eq!(malformed("2x8x"), ("gpu".into(), "".into()));
    assert_eq!(
        malformed("99999999999x8xH100"),
        ("nodes".into(), "99999999999".into())
    );
    assert_eq!(malformed("-2x8xH100"), ("nodes".into(), "-2".into()));
    let (part, value) = malformed("65536x65536xH100");
    assert_eq!(
        (part.as_str(), value.as_str()),
        ("nodes x gpus_per_node", "65536 x 65536")
    );
}

#[test]
fn unknown_gpu_in_cluster_string() {
    match Cluster::parse("2x8xH999") {
        Err(HwError::UnknownGpu { name, known }) => {
            assert_eq!(name, "H999");
            assert!(known.iter().any(|k| k == "H100-SXM"));
        }
        other => panic!("expected UnknownGpu, got {other:?}"),
    }
}

#[test]
fn messages_name_the_value() {
    let msg = Cluster::parse("0x8xH100").unwrap_err().to_string();
    assert!(msg.contains("0x8xH100") && msg.contains("nodes"), "{msg}");
    let msg = Cluster::parse("2x8xH999").unwrap_err().to_string();
    assert!(msg.contains("H999"), "{msg}");
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,24}") {
        let _ = Cluster::parse(&s);
    }

    #[test]
    fn well_formed_strings_round_trip(n in 1u32..64, g in 1u32..16) {
        let c = Cluster::parse(&format!("{n}x{g}xH100")).unwrap();
        prop_assert_eq!((c.nodes, c.gpus_per_node), (n, g));
        let c = Cluster::from_toml_str(&format!("nodes = {n}\ngpus_per_node = {g}\ngpu = \"B200\"\n"), "p.toml").unwrap();
        prop_assert_eq!(c.total_gpus(), n * g);
    }
}
