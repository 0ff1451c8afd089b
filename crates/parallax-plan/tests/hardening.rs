//! Hardening: plan strings and `--prefill`/`--decode` specs with sizes beyond their documented
//! maxima are refused at parse time (before anything is sized from them), and arbitrary or
//! mutated text gives a plan or a typed error, never a panic.

use parallax_plan::{batch_from_specs, Plan, PlanError};
use proptest::prelude::*;

#[test]
fn oversized_degrees_are_refused_at_parse_time() {
    for s in [
        "pp=4294967295",
        "dp=4294967295",
        "dp=65536,tp=65536",
        "tp=4294967295,attn=4294967295xtp1",
        "tp=8,moe=ep4294967295xtp1",
        "dp=99999999999999999999",
    ] {
        let e = s.parse::<Plan>().unwrap_err();
        assert!(
            matches!(e, PlanError::Parse { .. } | PlanError::Inconsistent { .. }),
            "{s}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("65536") || msg.contains("devices"),
            "{s}: {msg}"
        );
    }
    assert!("dp=8,tp=8".parse::<Plan>().is_ok());
}

#[test]
fn batch_specs_are_bounded() {
    for (p, d) in [
        (vec![], vec!["4294967295x4294967295"]),
        (vec![], vec!["1048577x1"]),
        (vec![], vec!["1x16777217"]),
        (vec!["1x16777216+1"], vec![]),
        (vec!["65536x1"; 17], vec![]),
        (vec![], vec!["1048576x1", "1x1"]),
    ] {
        let e = batch_from_specs(&p, &d).unwrap_err();
        assert!(
            matches!(e, PlanError::BatchSpec { .. }),
            "{p:?} {d:?}: {e:?}"
        );
        assert!(e.to_string().contains("at most"), "{e}");
    }
    let b = batch_from_specs(&["65536x1"], &["983040x16777216"]).unwrap();
    assert_eq!(b.decode.context_sum, 983_040 * 16_777_216);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_strings_never_panic(s in "[a-z0-9=,x+:\\[\\]/ -]{0,40}") {
        if let Ok(p) = s.parse::<Plan>() {
            prop_assert!(p.check_shape().is_ok());
            prop_assert!(p.devices() <= parallax_hw::MAX_CLUSTER_GPUS);
            // The canonical form parses back to the same plan.
            prop_assert_eq!(p.to_string().parse::<Plan>().unwrap(), p);
        }
    }

    #[test]
    fn plan_numbers_never_panic(dp in any::<u32>(), pp in any::<u32>(), tp in any::<u32>(),
                                r in any::<u32>(), ep in any::<u32>()) {
        let s = format!("dp={dp},pp={pp},tp={tp},attn={r}xtp{tp},moe=ep{ep}xtp{r}");
        let _ = s.parse::<Plan>();
    }

    #[test]
    fn batch_specs_never_panic(p in "[0-9x+]{0,14}", d in "[0-9x]{0,14}") {
        let _ = batch_from_specs(&[p.as_str()], &[d.as_str()]);
        let _ = batch_from_specs::<&str, &str>(&[], &[d.as_str()]);
    }
}
