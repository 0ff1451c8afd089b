//! The `fused_moe` profile table: parsing, round trip, lookup and fallback.

use parallax_hw::profile::ProfiledCostModel;
use parallax_hw::profile::{
    embedded_h100, FusedMoePoint, Profile, ProfileError, Table, TableRouting,
};
use parallax_hw::{catalog, CostModel, RooflineModel};
use parallax_ir::lower::fused_moe_op;
use parallax_ir::{DType, Moe, Precision};
use std::sync::Arc;

fn moe() -> Moe {
    Moe {
        hidden: 2048,
        experts: 128,
        top_k: 8,
        expert_intermediate: 768,
        shared_experts: 0,
        shared_intermediate: 0,
        gated: true,
        bias: false,
    }
}

fn point(tokens: u64, seconds: f64) -> FusedMoePoint {
    FusedMoePoint {
        tokens,
        experts: 128,
        layer_experts: 128,
        top_k: 8,
        hidden: 2048,
        intermediate: 768,
        dtype: DType::Bf16,
        act_dtype: DType::Bf16,
        block_scales: false,
        seconds,
    }
}

fn profile() -> Profile {
    let mut p = (*embedded_h100()).clone();
    p.fused_moe = Some(Table::new(vec![
        point(1, 40e-6),
        point(32, 300e-6),
        point(256, 420e-6),
        point(4096, 2.0e-3),
    ]));
    p
}

#[test]
fn round_trips_and_interpolates() {
    let p = profile();
    let back = Profile::from_json("moe.json", &p.to_json()).unwrap();
    assert!(back.fused_moe == p.fused_moe, "fused_moe table round trip");
    let gpu = catalog::gpu("H100").unwrap();
    let roof: Arc<dyn CostModel> = Arc::new(RooflineModel::calibrated(&gpu));
    let m = ProfiledCostModel::new(&back, roof.clone()).unwrap();
    let bf16 = Precision::default();
    // At a measured point: exact.
    let f = fused_moe_op(&moe(), 32, 1, 1, &bf16);
    assert!(
        (m.fused_moe(&f) - 300e-6).abs() < 1e-12,
        "{}",
        m.fused_moe(&f)
    );
    // An op built without its token count is priced by its pairs, routed at random.
    let untokened = parallax_ir::FusedMoe { tokens: 0, ..f };
    assert_eq!(m.fused_moe(&untokened), m.fused_moe(&f));
    // Between points: monotone.
    let f100 = fused_moe_op(&moe(), 100, 1, 1, &bf16);
    let t = m.fused_moe(&f100);
    assert!(t > 300e-6 && t < 420e-6, "{t}");
    // Under ep = 4 a device holds 32 experts: no such family; the layer's measured layout of
    // the same width (all 128 experts) at the same pairs, times the roofline's ratio (at a
    // measured size, 256 pairs, exactly).
    let ep = fused_moe_op(&moe(), 128, 1, 4, &bf16);
    let twin = fused_moe_op(&moe(), 32, 1, 1, &bf16);
    assert_eq!(ep.assignments, twin.assignments);
    let expected = m.fused_moe(&twin) * roof.fused_moe(&ep) / roof.fused_moe(&twin);
    assert!((m.fused_moe(&ep) / expected - 1.0).abs() < 1e-12);
    // Below the smallest measured size (8 pairs, one per top-k slot): that size's time
    // times the roofline's ratio, fewer pairs reading fewer experts.
    let (small, smallest) = (
        fused_moe_op(&moe(), 2, 1, 4, &bf16),
        fused_moe_op(&moe(), 4, 1, 4, &bf16),
    );
    assert_eq!((small.assignments, smallest.assignments), (4, 8));
    let expected = m.fused_moe(&smallest) * roof.fused_moe(&small) / roof.fused_moe(&smallest);
    assert!((m.fused_moe(&small) / expected - 1.0).abs() < 1e-12);
    assert!(m.fused_moe(&small) < m.fused_moe(&smallest));
    // A width the table never measured: the roofline prices it.
    let tp2 = fused_moe_op(&moe(), 32, 2, 1, &bf16);
    assert_eq!(m.fused_moe(&tp2), roof.fused_moe(&tp2));
    // fp8 weights: no fp8 family; the bf16 family's time times the roofline's ratio of the
    // two (at a measured size exactly), as quantised GEMMs are priced.
    let fp8 = fused_moe_op(
        &moe(),
        32,
        1,
        1,
        &Precision::default().quantized(parallax_ir::Quantization::Fp8),
    );
    let want = 300e-6 * roof.fused_moe(&fp8) / roof.fused_moe(&f);
    assert!(
        (m.fused_moe(&fp8) / want - 1.0).abs() < 1e-9,
        "{}",
        m.fused_moe(&fp8)
    );
    assert!(m.fused_moe(&fp8) < m.fused_moe(&f));
}

#[test]
fn bad_tables_name_the_row_and_column() {
    let mut p = profile();
    p.fused_moe = Some(Table::new(vec![point(32, 300e-6)]));
    let e = Profile::from_json("moe.json", &p.to_json()).unwrap_err();
    assert!(matches!(e, ProfileError::TooFewPoints { .. }), "{e}");
    assert!(e.to_string().contains("fused_moe"), "{e}");
    let text = profile()
        .to_json()
        .replace("[4096, 128, 8, 2048, 768", "[4096, 0, 8, 2048, 768");
    let e = Profile::from_json("moe.json", &text).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("fused_moe") && msg.contains("experts"),
        "{msg}"
    );
    // The experts as a string of one number are the number (they were refused), and a
    // string of zero or of words is refused by column.
    let quoted = profile()
        .to_json()
        .replace("[4096, 128, 8, 2048, 768", "[4096, \"128\", 8, 2048, 768");
    assert_ne!(quoted, profile().to_json());
    let back = Profile::from_json("moe.json", &quoted).unwrap();
    assert!(back.fused_moe == profile().fused_moe);
    for bad in ["\"0\"", "\"many\""] {
        let text = profile().to_json().replace(
            "[4096, 128, 8, 2048, 768",
            &format!("[4096, {bad}, 8, 2048, 768"),
        );
        let msg = Profile::from_json("moe.json", &text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("experts") && msg.contains(bad.trim_matches('"')),
            "{msg}"
        );
    }
}

/// aiconfigurator's `balanced` sweeps spread the tokens over `min(E, T·k)` experts; the cost
/// model's routing is random. A table marked `spread` is rescaled to random routing where
/// the two hit different numbers of experts, and only there.
#[test]
fn spread_tables_are_rescaled_to_random_routing() {
    let gpu = catalog::gpu("H100").unwrap();
    let roof: Arc<dyn CostModel> = Arc::new(RooflineModel::calibrated(&gpu));
    let mut p = profile();
    let random = ProfiledCostModel::new(&p, roof.clone()).unwrap();
    p.fused_moe.as_mut().unwrap().routing = Some(TableRouting::Spread);
    let back = Profile::from_json("moe.json", &p.to_json()).unwrap();
    assert!(back.fused_moe == p.fused_moe, "routing round trip");
    assert!(p.to_json().contains("\"routing\": \"spread\""));
    let spread = ProfiledCostModel::new(&back, roof.clone()).unwrap();
    let bf16 = Precision::default();
    // 32 tokens × top-8 = 256 pairs: spread hits all 128 experts, random ~112.
    let f = fused_moe_op(&moe(), 32, 1, 1, &bf16);
    assert!(f.active_experts < 128, "{}", f.active_experts);
    let measured = parallax_ir::FusedMoe {
        active_experts: 128,
        max_rows: 2,
        ..f
    };
    let want = 300e-6 * roof.fused_moe(&f) / roof.fused_moe(&measured);
    assert!((spread.fused_moe(&f) - want).abs() < 1e-12);
    assert!(spread.fused_moe(&f) < random.fused_moe(&f));
    // One token: top-8 experts either way; 4096 tokens: every expert either way.
    for tokens in [1, 4096] {
        let f = fused_moe_op(&moe(), tokens, 1, 1, &bf16);
        assert_eq!(
            spread.fused_moe(&f),
            random.fused_moe(&f),
            "{tokens} tokens"
        );
    }
    // The embedded profiles' aiconfigurator tables are spread.
    assert_eq!(
        embedded_h100().fused_moe.as_ref().unwrap().routing,
        Some(TableRouting::Spread)
    );
    // A bad value names the table and the field.
    let bad = p
        .to_json()
        .replace("\"routing\": \"spread\"", "\"routing\": \"skewed\"");
    let e = Profile::from_json("moe.json", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fused_moe") && e.contains("routing") && e.contains("skewed"),
        "{e}"
    );
    // Other tables have no routing.
    let gemm_routing = p.to_json().replacen(
        "\"columns\": [\"m\"",
        "\"routing\": \"spread\", \"columns\": [\"m\"",
        1,
    );
    assert!(Profile::from_json("moe.json", &gemm_routing).is_err());
}

#[test]
fn expert_parallel_block_scaled_and_weight_only_rows_round_trip() {
    // A row of the measured GPU's 32 of 128 experts, a block-scaled fp8 row and a weight-only
    // fp4 row, each a family of its own, written and read back.
    let ep = FusedMoePoint {
        experts: 32,
        ..point(8, 50e-6)
    };
    let rows = vec![
        FusedMoePoint { tokens: 16, ..ep },
        FusedMoePoint { tokens: 64, ..ep },
        FusedMoePoint {
            dtype: DType::Fp8,
            act_dtype: DType::Fp8,
            block_scales: true,
            ..point(1, 30e-6)
        },
        FusedMoePoint {
            dtype: DType::Fp8,
            act_dtype: DType::Fp8,
            block_scales: true,
            ..point(64, 90e-6)
        },
        FusedMoePoint {
            dtype: DType::Fp4,
            ..point(1, 35e-6)
        },
        FusedMoePoint {
            dtype: DType::Fp4,
            ..point(64, 95e-6)
        },
    ];
    let mut p = (*embedded_h100()).clone();
    p.fused_moe = Some(Table::new(rows));
    let json = p.to_json();
    assert!(
        json.contains("\"32/128\"")
            && json.contains("\"fp8_block\"")
            && json.contains("\"fp4/bf16\"")
    );
    let back = Profile::from_json("moe.json", &json).unwrap();
    assert!(back.fused_moe == p.fused_moe);
    let gpu = catalog::gpu("H100").unwrap();
    let roof: Arc<dyn CostModel> = Arc::new(RooflineModel::calibrated(&gpu));
    let m = ProfiledCostModel::new(&back, roof).unwrap();
    // EP 4 of the 128-expert layer: 64 tokens put 16 tokens' pairs on the GPU.
    let op = fused_moe_op(&moe(), 64, 1, 4, &Precision::default());
    assert_eq!((op.local_experts, op.layer_experts), (32, 128));
    assert!(
        (m.fused_moe(&op) - 50e-6).abs() < 1e-12,
        "{}",
        m.fused_moe(&op)
    );
    // Malformed cells name the column and the value.
    for (from, to, column) in [
        ("\"32/128\"", "\"32/100\"", "experts"),
        ("\"fp4/bf16\"", "\"fp4/fp4\"", "dtype"),
    ] {
        let bad = json.replacen(from, to, 1);
        let e = Profile::from_json("moe.json", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(column) && e.contains(&to.replace('"', "")),
            "{e}"
        );
    }
}
