//! The plan string: canonical round-trip, short forms, malformed input.

use parallax_hw::Cluster;
use parallax_plan::{validate, CellLayout, MoeLayout, Plan, PlanError};
use proptest::prelude::*;

fn divisors(n: u32) -> Vec<u32> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// `(replicas, ep)` pairs of a MoE layout over `tp` devices.
fn moe_pairs(tp: u32) -> Vec<(u32, u32)> {
    divisors(tp)
        .into_iter()
        .flat_map(|r| divisors(tp / r).into_iter().map(move |e| (r, e)))
        .collect()
}

fn arb_plan() -> impl Strategy<Value = Plan> {
    (
        1u32..=8,
        1u32..=8,
        prop::sample::select(vec![1u32, 2, 3, 4, 6, 8, 12, 16, 32]),
    )
        .prop_flat_map(|(dp, pp, tp)| {
            let d = divisors(tp);
            (
                Just((dp, pp, tp)),
                prop::option::of(prop::collection::vec(1u32..200, pp as usize)),
                prop::sample::select(d.clone()),
                prop::sample::select(d),
                prop::sample::select(moe_pairs(tp)),
            )
        })
        .prop_map(|((dp, pp, tp), layers, ra, rm, (rx, e))| Plan {
            dp,
            pp,
            tp,
            layers,
            attn: CellLayout {
                replicas: ra,
                tp: tp / ra,
            },
            mlp: CellLayout {
                replicas: rm,
                tp: tp / rm,
            },
            moe: MoeLayout {
                replicas: rx,
                ep: e,
                tp: tp / (rx * e),
            },
            on: None,
            stage_tp: None,
        })
}

proptest! {
    #[test]
    fn canonical_string_round_trips(plan in arb_plan()) {
        let s = plan.to_string();
        let back: Plan = s.parse().unwrap();
        prop_assert_eq!(&back, &plan);
        prop_assert_eq!(back.to_string(), s);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "[a-z0-9=,+x ]{0,40}") {
        if let Ok(p) = s.parse::<Plan>() {
            // Whatever parses is well-shaped and round-trips.
            prop_assert!(p.check_shape().is_ok());
            prop_assert_eq!(p.to_string().parse::<Plan>().unwrap(), p);
        }
    }
}

#[test]
fn short_forms_parse() {
    let p: Plan = "tp=8".parse().unwrap();
    assert_eq!((p.dp, p.pp, p.tp), (1, 1, 8));
    assert_eq!(p.attn, CellLayout::tp(8));
    assert_eq!(p.to_string(), "dp=1,pp=1,tp=8");

    let p: Plan = "dp=2,tp=4".parse().unwrap();
    assert_eq!((p.dp, p.pp, p.tp), (2, 1, 4));
    let p: Plan = "pp=2,tp=4".parse().unwrap();
    assert_eq!((p.dp, p.pp, p.tp), (1, 2, 4));
    assert_eq!(p.layers, None);

    // dp=2,ep=4: stage width 4, experts 4 ways, attention/dense TP 4.
    let p: Plan = "dp=2,ep=4".parse().unwrap();
    assert_eq!((p.dp, p.pp, p.tp), (2, 1, 4));
    assert_eq!(p.moe, MoeLayout::new(4, 1));
    assert_eq!(p.attn, CellLayout::tp(4));
    assert_eq!(p.to_string(), "dp=2,pp=1,tp=4,moe=ep4xtp1");

    let p: Plan = "tp=8,ep=4".parse().unwrap();
    assert_eq!(p.moe, MoeLayout::new(4, 2));
    let p: Plan = "tp=8,moe=ep2".parse().unwrap();
    assert_eq!(p.moe, MoeLayout::new(2, 4));
    // Whole-MoE replicas (APEX+'s `SwiMoE=2xtp4`).
    let p: Plan = "tp=8,moe=2xtp4".parse().unwrap();
    assert_eq!(
        p.moe,
        MoeLayout {
            replicas: 2,
            ep: 1,
            tp: 4
        }
    );
    assert_eq!(p.to_string(), "dp=1,pp=1,tp=8,moe=2xep1xtp4");
    let p: Plan = "moe=2xep2xtp2".parse().unwrap();
    assert_eq!(p.tp, 8);
    assert_eq!(
        p.moe,
        MoeLayout {
            replicas: 2,
            ep: 2,
            tp: 2
        }
    );
    let p: Plan = "tp=8,moe=4xep2".parse().unwrap();
    assert_eq!(
        p.moe,
        MoeLayout {
            replicas: 4,
            ep: 2,
            tp: 1
        }
    );
    assert_eq!(p.to_string(), "dp=1,pp=1,tp=8,moe=4xep2xtp1");
    assert!(matches!(
        "tp=8,moe=3xtp2".parse::<Plan>(),
        Err(PlanError::Inconsistent { ref field, .. }) if field == "moe"
    ));
    assert!(matches!(
        "tp=8,moe=3xep2".parse::<Plan>(),
        Err(PlanError::Inconsistent { ref field, .. }) if field == "moe"
    ));
    for bad in [
        "tp=8,moe=2",
        "tp=8,moe=2x",
        "tp=8,moe=tp2xep4",
        "tp=8,moe=2xyz",
    ] {
        assert!(
            matches!(bad.parse::<Plan>(), Err(PlanError::Parse { .. })),
            "{bad}"
        );
    }
    let p: Plan = " DP=2 , PP=2 , TP=4 , layers=40+40 , attn=2xtp2 "
        .parse()
        .unwrap();
    assert_eq!(p.to_string(), "dp=2,pp=2,tp=4,layers=40+40,attn=2xtp2");
    let p: Plan = "attn=2xtp4".parse().unwrap();
    assert_eq!(p.tp, 8);
}

#[test]
fn dp2_ep4_on_dense_model_is_a_clear_error() {
    let dense = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let moe = parallax_ir::resolve("mixtral-8x7b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "dp=2,ep=4".parse().unwrap();
    let e = validate(&dense, &p, &cluster).unwrap_err();
    match &e {
        PlanError::Inconsistent { field, reason, .. } => {
            assert_eq!(field, "ep");
            assert!(reason.contains("dense"), "{reason}");
        }
        other => panic!("{other}"),
    }
    validate(&moe, &p, &cluster).unwrap();
}

#[test]
fn malformed_strings_are_parse_errors() {
    for (s, token) in [
        ("", ""),
        ("tp", "tp"),
        ("tp=", "tp="),
        ("tp=0", "tp=0"),
        ("tp=-1", "tp=-1"),
        ("tp=eight", "tp=eight"),
        ("zp=2", "zp=2"),
        ("tp=2,tp=4", "tp=4"),
        ("attn=2x4", "attn=2x4"),
        ("moe=xx4", "moe=xx4"),
        ("layers=40+", "layers=40+"),
        ("tp=99999999999", "tp=99999999999"),
    ] {
        match s.parse::<Plan>() {
            Err(PlanError::Parse {
                input,
                token: t,
                expected,
            }) => {
                assert_eq!(input, s.trim());
                assert_eq!(t, token, "{s}");
                assert!(!expected.is_empty());
            }
            other => panic!("{s}: {other:?}"),
        }
    }
    assert!(matches!(
        "ep=2,moe=ep2".parse::<Plan>(),
        Err(PlanError::Parse { .. })
    ));
}

#[test]
fn inconsistent_shapes_are_rejected() {
    for s in [
        "tp=8,attn=2xtp2",
        "tp=8,ep=3",
        "tp=4,moe=ep2xtp4",
        "pp=2,layers=40",
        "tp=4,mlp=3xtp1",
    ] {
        assert!(
            matches!(s.parse::<Plan>(), Err(PlanError::Inconsistent { .. })),
            "{s}: {:?}",
            s.parse::<Plan>()
        );
    }
}

#[test]
fn layer_ranges_must_cover_the_model_on_block_boundaries() {
    let llama = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let ok: Plan = "pp=2,tp=4,layers=30+50".parse().unwrap();
    let stages = validate(&llama, &ok, &cluster).unwrap();
    assert_eq!((stages[0].first_layer, stages[0].end_layer), (0, 30));
    assert_eq!((stages[1].first_layer, stages[1].end_layer), (30, 80));
    let short: Plan = "pp=2,tp=4,layers=30+40".parse().unwrap();
    let e = validate(&llama, &short, &cluster).unwrap_err();
    assert!(
        matches!(e, PlanError::Inconsistent { ref field, .. } if field == "layers"),
        "{e}"
    );
    // gpt-oss blocks are two layers (sliding + full): a boundary at an odd layer is rejected.
    let oss = parallax_ir::resolve("gpt-oss-120b").unwrap();
    let odd: Plan = "pp=2,tp=4,layers=17+19".parse().unwrap();
    let e = validate(&oss, &odd, &cluster).unwrap_err();
    assert!(e.to_string().contains("block"), "{e}");
    let even: Plan = "pp=2,tp=4,layers=18+18".parse().unwrap();
    validate(&oss, &even, &cluster).unwrap();
    // Even split of 36 layers in blocks of 2 over 4 stages: 8/10/8/10 or similar, all even.
    let p: Plan = "pp=4,tp=2".parse().unwrap();
    let st = validate(&oss, &p, &cluster).unwrap();
    assert_eq!(st.iter().map(|s| s.layers()).sum::<u32>(), 36);
    assert!(st.iter().all(|s| s.layers() % 2 == 0 && s.layers() > 0));
}

#[test]
fn tp_not_dividing_heads_and_too_many_devices_are_rejected() {
    let llama = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let e = validate(&llama, &"tp=3".parse().unwrap(), &cluster).unwrap_err();
    assert!(
        matches!(e, PlanError::Inconsistent { ref field, .. } if field == "tp"),
        "{e}"
    );
    let e = validate(&llama, &"dp=4,tp=4".parse().unwrap(), &cluster).unwrap_err();
    assert!(
        matches!(e, PlanError::Inconsistent { ref field, .. } if field == "dp·pp·tp"),
        "{e}"
    );
    // KV heads replicated: tp=16 > 8 KV heads on two nodes is allowed for 32 heads? 16 ∤ 8 but
    // 16 is a multiple of 8: accepted.
    let two = Cluster::parse("2x8xH100").unwrap();
    validate(&llama, &"tp=16".parse().unwrap(), &two).unwrap();
}

#[test]
fn plan_serializes_as_its_string() {
    let p: Plan = "dp=2,pp=2,tp=4".parse().unwrap();
    let j = serde_json::to_string(&p).unwrap();
    assert_eq!(j, "\"dp=2,pp=2,tp=4\"");
    let back: Plan = serde_json::from_str(&j).unwrap();
    assert_eq!(back, p);
}

/// A plan written with another separator than the comma (as a CSV cell might be) gets a hint
/// on how to write it.
#[test]
fn plans_with_other_separators_hint_at_commas() {
    for bad in ["dp=2;tp=4", "dp=2 tp=4"] {
        let e = bad.parse::<parallax_plan::Plan>().unwrap_err().to_string();
        assert!(
            e.contains("separated by commas") && e.contains("quote the plan"),
            "{bad}: {e}"
        );
    }
    let e = "dp=x"
        .parse::<parallax_plan::Plan>()
        .unwrap_err()
        .to_string();
    assert!(!e.contains("separated by commas"), "{e}");
}
