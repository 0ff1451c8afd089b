//! Hardening of the hardware inputs: documented bounds on cluster sizes and links, a cluster
//! TOML's link overrides honoured by the default (profiled) cost model, and fuzzed cluster
//! strings, cluster TOML and profiles that give a value or a typed error, never a panic.

use parallax_hw::profile::{self, CostModelChoice};
use parallax_hw::*;
use parallax_ir::CollectiveKind;
use proptest::prelude::*;

const H100: &str = "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\n";

#[test]
fn cluster_sizes_are_bounded_before_anything_is_sized() {
    assert!(Cluster::parse(&format!("{MAX_CLUSTER_GPUS}xH100")).is_ok());
    for spec in [
        "1000000000x8xH100",
        "1000000000x1xH100",
        "65537xH100",
        "4294967296xH100",
        "300x300xH100",
    ] {
        let e = Cluster::parse(spec).unwrap_err().to_string();
        assert!(e.contains(spec) || e.contains("65536"), "{spec}: {e}");
        assert!(e.contains("65536"), "{spec}: {e}");
    }
    let e = Cluster::from_toml_str(
        "nodes = 1000000000\ngpus_per_node = 8\ngpu = \"H100\"\n",
        "c.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("c.toml") && e.contains("nodes") && e.contains("1000000000"),
        "{e}"
    );
}

#[test]
fn link_values_are_bounded_and_quoted_compactly() {
    for (link, field, needle) in [
        (
            "bandwidth_gbps = 5e-324",
            "intra_node.bandwidth_gbps",
            "5e-324",
        ),
        (
            "bandwidth_gbytes_per_s = 1e300",
            "intra_node.bandwidth_gbytes_per_s",
            "1e300",
        ),
        (
            "bandwidth_gbytes_per_s = 0.0",
            "intra_node.bandwidth_gbytes_per_s",
            "0",
        ),
        (
            "latency_us = 1e12",
            "intra_node.latency_us",
            "1000000000000",
        ),
    ] {
        let text = format!("{H100}[intra_node]\n{link}\n");
        let e = Cluster::from_toml_str(&text, "c.toml").unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, HwError::TomlField { field: ref f, .. } if f == field),
            "{link}: {msg}"
        );
        assert!(
            msg.contains(needle) && msg.contains("c.toml"),
            "{link}: {msg}"
        );
        assert!(msg.len() < 400, "{msg}");
    }
}

/// On H100 the default cost model is the measured profile; its collective curves were
/// measured on the default NVSwitch. A TOML that slows the intra-node link must slow
/// intra-node collectives (the roofline prices the overridden link), and a TOML that restates
/// the default link must change nothing.
#[test]
fn intra_node_link_override_is_honoured_by_the_default_cost_model() {
    let base = Cluster::from_toml_str(H100, "base.toml").unwrap();
    let slow = Cluster::from_toml_str(
        &format!("{H100}[intra_node]\nkind = \"pcie\"\nbandwidth_gbytes_per_s = 32\n"),
        "slow.toml",
    )
    .unwrap();
    let auto = |c: &Cluster| profile::cost_model_for(c, CostModelChoice::Auto).unwrap();
    assert!(auto(&base).name().starts_with("profiled"));
    let bytes = 64.0 * 1024.0 * 1024.0;
    let t_base = auto(&base).collective(CollectiveKind::AllReduce, bytes, &base.group(8));
    let t_slow = auto(&slow).collective(CollectiveKind::AllReduce, bytes, &slow.group(8));
    assert!(
        t_slow > 3.0 * t_base,
        "slow link {t_slow} s vs default {t_base} s"
    );
    let same = Cluster::from_toml_str(
        &format!(
            "{H100}[intra_node]\nkind = \"{}\"\nbandwidth_gbytes_per_s = {}\n",
            base.intra_node.kind.name(),
            base.intra_node.bandwidth / 1e9
        ),
        "same.toml",
    )
    .unwrap();
    let t_same = auto(&same).collective(CollectiveKind::AllReduce, bytes, &same.group(8));
    assert_eq!(t_same, t_base);
}

fn mutate(seed: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(pos, op, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos % b.len();
        match op % 3 {
            0 => b[i] = byte,
            1 => {
                b.remove(i);
            }
            _ => b.insert(i, byte),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const TOML_SEED: &str = "nodes = 2\ngpus_per_node = 8\ngpu = \"H100\"\nprice_per_hour = 2.5\n\
                         [intra_node]\nkind = \"nvswitch\"\nbandwidth_gbytes_per_s = 450\n\
                         latency_us = 2\n[inter_node]\nkind = \"infiniband\"\n\
                         bandwidth_gbps = 400\nlatency_us = 6\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cluster_strings_never_panic(s in "[0-9x]{0,24}[A-Za-z0-9-]{0,10}") {
        if let Ok(c) = Cluster::parse(&s) {
            prop_assert!(c.total_gpus() <= MAX_CLUSTER_GPUS);
        }
    }

    #[test]
    fn cluster_toml_never_panics(
        edits in prop::collection::vec((0usize..300, 0u8..3, b' '..b'~'), 1..8),
    ) {
        let text = mutate(TOML_SEED, &edits);
        if let Ok(c) = Cluster::from_toml_str(&text, "fuzz.toml") {
            prop_assert!(c.validate().is_ok());
        }
    }

    #[test]
    fn cluster_toml_numbers_at_extremes(
        nodes in any::<u64>(),
        bw in prop::num::f64::ANY,
        lat in prop::num::f64::ANY,
    ) {
        let text = format!(
            "nodes = {nodes}\ngpus_per_node = 8\ngpu = \"H100\"\n[intra_node]\n\
             bandwidth_gbps = {bw:e}\nlatency_us = {lat:e}\n"
        );
        match Cluster::from_toml_str(&text, "fuzz.toml") {
            Ok(c) => {
                prop_assert!(c.validate().is_ok());
                let m = profile::cost_model_for(&c, CostModelChoice::Auto).unwrap();
                let t = m.collective(CollectiveKind::AllReduce, 1e6, &c.group(8));
                prop_assert!(t.is_finite() && t > 0.0, "{text}: {t}");
            }
            Err(e) => prop_assert!(e.to_string().contains("fuzz.toml"), "{e}"),
        }
    }
}

fn minimal_profile(tables: &str) -> String {
    format!(
        r#"{{"format_version": {}, "name": "t",
  "gpu": {{"name": "H100-SXM", "device": "dev", "matmul_flops": 7.6e14, "memory_bandwidth": 3e12}},
  "software": {{"torch": "2.11", "cuda": "13.0", "driver": "580"}},
  "provenance": {{"source": "test", "date": "2025-01-01", "method": "hand"}},
  "tables": {{{tables}}}}}"#,
        profile::FORMAT_VERSION
    )
}

const PROFILE_TABLES: &str = r#""gemm": {"columns": ["m","n","k","dtype","seconds"],
  "rows": [[1, 64, 64, "bf16", 1e-5], [64, 64, 64, "bf16", 2e-5]]},
  "decode_attention": {"columns": ["batch","context","heads","kv_heads","head_dim","dtype","seconds"],
  "rows": [[1, 512, 32, 8, 128, "bf16", 1e-5], [4, 1024, 32, 8, 128, "bf16", 3e-5]]},
  "prefill_attention": {"columns": ["batch","new_tokens","prefix","heads","kv_heads","head_dim","dtype","seconds"],
  "rows": [[1, 512, 0, 32, 8, 128, "bf16", 1e-4], [2, 1024, 0, 32, 8, 128, "bf16", 4e-4]]}"#;

#[test]
fn profile_sizes_are_bounded_before_use() {
    let ok = minimal_profile(PROFILE_TABLES);
    assert!(profile::Profile::from_json("p.json", &ok).is_ok());
    for (from, to) in [
        ("[4, 1024, 32", "[4294967295, 1024, 32"),
        ("[2, 1024, 0,", "[4294967295, 1024, 0,"),
        ("[2, 1024, 0,", "[2, 4294967295, 0,"),
        ("[1, 512, 0,", "[1, 512, 4294967295,"),
    ] {
        let text = ok.replacen(from, to, 1);
        assert_ne!(text, ok);
        let e = profile::Profile::from_json("p.json", &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("4294967295"), "{e}");
        assert!(e.contains("at most"), "{e}");
    }
}

#[test]
fn measured_rows_are_bounded_before_expansion() {
    let head = "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n";
    let ok = format!("{head}llama-3.1-8b,H100,1,1x512,32x1024,on,12.5\n");
    assert!(profile::parse_measured("m.csv", &ok).is_ok());
    for row in [
        "llama-3.1-8b,H100,1,4294967295x512,,on,1\n",
        "llama-3.1-8b,H100,1,,4294967295x4294967295,on,1\n",
        "llama-3.1-8b,H100,1,1x16777217,,on,1\n",
        "llama-3.1-8b,H100,1,1000000x1 1000000x1,,on,1\n",
    ] {
        let e = profile::parse_measured("m.csv", &format!("{head}{row}")).unwrap_err();
        assert!(e.to_string().contains("m.csv"), "{e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn profiles_never_panic(
        edits in prop::collection::vec((0usize..2000, 0u8..3, b' '..b'~'), 1..6),
    ) {
        let text = mutate(&minimal_profile(PROFILE_TABLES), &edits);
        if let Ok(p) = profile::Profile::from_json("fuzz.json", &text) {
            let fallback: std::sync::Arc<dyn CostModel> =
                std::sync::Arc::new(profile::default_roofline(&catalog::gpu("H100").unwrap()));
            let _ = profile::ProfiledCostModel::new(&p, fallback);
        }
    }

    #[test]
    fn measured_files_never_panic(
        edits in prop::collection::vec((0usize..200, 0u8..3, b' '..b'~'), 1..8),
    ) {
        let seed = "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
                    llama-3.1-8b,H100,1,1x512+128,32x1024 8x64,on,12.5\n";
        if let Ok(rows) = profile::parse_measured("fuzz.csv", &mutate(seed, &edits)) {
            for r in rows {
                let b = r.batch();
                prop_assert!(b.prefill.len() <= parallax_ir::MAX_BATCH_SEQUENCES as usize);
            }
        }
    }
}
