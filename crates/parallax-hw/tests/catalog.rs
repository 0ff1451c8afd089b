//! The embedded GPU catalog: completeness, lookups, units, price overrides.

use parallax_hw::catalog::{self, gpu, gpus, parse_catalog, GPUS_TOML};
use parallax_hw::{HwError, LinkKind};
use parallax_ir::DType;

const REQUIRED: [&str; 11] = [
    "A100-40GB-SXM",
    "A100-80GB-SXM",
    "H100-SXM",
    "H100-PCIe",
    "H200",
    "B200",
    "GB200",
    "B300",
    "GB300",
    "L40S",
    "MI300X",
];

#[test]
fn every_required_gpu_is_catalogued_with_sources() {
    for name in REQUIRED {
        let g = gpu(name).unwrap();
        assert_eq!(g.name, name);
        assert!(!g.sources.is_empty(), "{name} has no sources");
        assert!(g
            .sources
            .iter()
            .any(|s| s.contains("datasheet") || s.contains("data sheet")));
        assert!(
            g.peak.bf16 > g.peak.fp32,
            "{name}: tensor bf16 should exceed fp32"
        );
        assert!(g.memory_bytes > 16 << 30);
        assert!(g.memory_bandwidth > 500e9);
        assert!(g.tdp_watts > g.idle_watts && g.idle_watts > 0.0);
        assert!(g.price_per_hour > 0.0);
        assert!(g.compute_units > 0);
    }
    assert_eq!(gpus().len(), REQUIRED.len());
}

#[test]
fn figures_are_dense_and_in_si_units() {
    let h100 = gpu("H100-SXM").unwrap();
    // 1,979 TFLOP/s with sparsity on the datasheet -> 989.4 dense.
    assert!((h100.peak.bf16 - 989.4e12).abs() < 1e9);
    assert!((h100.peak_flops(DType::Fp8) - 1978.9e12).abs() < 1e9);
    assert!((h100.memory_bandwidth - 3.35e12).abs() < 1e6);
    assert_eq!(h100.memory_bytes, 80 << 30);
    assert_eq!(h100.scale_up_bandwidth, 450e9);
    assert_eq!(h100.scale_up_kind, LinkKind::NvSwitch);
    assert_eq!(h100.tdp_watts, 700.0);
    // Hopper has no int4 tensor cores: int4 falls back to int8.
    assert_eq!(h100.peak.int4, None);
    assert_eq!(h100.peak_flops(DType::Int4), h100.peak_flops(DType::Int8));
    // nor fp4 ones: engines run fp4 weights there weight-only, in a bf16 GEMM.
    assert_eq!(h100.peak.fp4, None);
    assert_eq!(h100.peak_flops(DType::Fp4), h100.peak.bf16);
    assert_eq!(h100.tensor_path(DType::Fp4), DType::Bf16);
    let b200 = gpu("B200").unwrap();
    assert_eq!(b200.tensor_path(DType::Fp4), DType::Fp4);
    assert!(b200.peak_flops(DType::Fp4) > b200.peak_flops(DType::Fp8));
    // Blackwell Ultra: more fp4, a fraction of the int8 path, more memory than B200.
    for ultra in ["B300", "GB300"] {
        let g = gpu(ultra).unwrap();
        assert!(
            g.peak_flops(DType::Fp4) > 1.5 * b200.peak_flops(DType::Fp4),
            "{ultra}"
        );
        assert!(
            g.peak_flops(DType::Int8) < 0.05 * b200.peak_flops(DType::Int8),
            "{ultra}"
        );
        assert!(g.memory_bytes > b200.memory_bytes + (80 << 30), "{ultra}");
        assert_eq!(g.tensor_path(DType::Fp4), DType::Fp4);
    }

    let a100 = gpu("A100-40GB-SXM").unwrap();
    assert_eq!(a100.peak.fp8, None);
    assert_eq!(a100.peak_flops(DType::Fp8), a100.peak.bf16);
    assert_eq!(a100.peak.int4, Some(1248e12));

    assert_eq!(
        gpu("MI300X").unwrap().scale_up_kind,
        LinkKind::InfinityFabric
    );
    assert_eq!(gpu("L40S").unwrap().scale_up_kind, LinkKind::Pcie);
    assert_eq!(gpu("H100-PCIe").unwrap().scale_up_kind, LinkKind::Pcie);
    assert!(gpu("B200").unwrap().peak.bf16 > 2.0 * h100.peak.bf16);
    assert!(gpu("H200").unwrap().memory_bandwidth > h100.memory_bandwidth);
}

#[test]
fn lookups_are_case_insensitive_and_accept_aliases() {
    assert_eq!(gpu("H100").unwrap().name, "H100-SXM");
    assert_eq!(gpu("h100").unwrap().name, "H100-SXM");
    assert_eq!(gpu("h100_sxm").unwrap().name, "H100-SXM");
    assert_eq!(gpu(" H100-pcie ").unwrap().name, "H100-PCIe");
    assert_eq!(gpu("a100").unwrap().name, "A100-80GB-SXM");
    assert_eq!(gpu("mi300x").unwrap().name, "MI300X");
    // No alias is shared by two GPUs.
    let mut all: Vec<String> = gpus()
        .iter()
        .flat_map(|g| std::iter::once(g.name.clone()).chain(g.aliases.clone()))
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "duplicate names or aliases in the catalog");
}

#[test]
fn unknown_gpu_names_value_and_lists_known() {
    match gpu("H999") {
        Err(HwError::UnknownGpu { name, known }) => {
            assert_eq!(name, "H999");
            assert_eq!(known, catalog::names());
        }
        other => panic!("expected UnknownGpu, got {other:?}"),
    }
    let msg = gpu("V100").unwrap_err().to_string();
    assert!(msg.contains("V100") && msg.contains("H100-SXM"), "{msg}");
}

#[test]
fn price_override() {
    let g = gpu("H100").unwrap().with_price(1.75).unwrap();
    assert_eq!(g.price_per_hour, 1.75);
    assert!(gpu("H100").unwrap().with_price(-1.0).is_err());
    assert!(gpu("H100").unwrap().with_price(f64::NAN).is_err());
}

#[test]
fn catalog_parser_reports_bad_fields() {
    let bad = GPUS_TOML.replacen(
        "memory_bandwidth_gbs = 1555.0",
        "memory_bandwidth_gbs = 0.0",
        1,
    );
    match parse_catalog(&bad, "gpus.toml") {
        Err(HwError::TomlField {
            source_name,
            field,
            value,
            ..
        }) => {
            assert_eq!(source_name, "gpus.toml");
            assert_eq!(field, "gpu[A100-40GB-SXM].memory_bandwidth_gbs");
            assert_eq!(value, "0");
        }
        other => panic!("expected TomlField, got {other:?}"),
    }
    let missing = GPUS_TOML.replacen("tdp_watts = 400.0\n", "", 1);
    let e = parse_catalog(&missing, "gpus.toml").unwrap_err();
    assert!(matches!(e, HwError::Toml { .. }));
    assert!(e.to_string().contains("tdp_watts"), "{e}");
}
