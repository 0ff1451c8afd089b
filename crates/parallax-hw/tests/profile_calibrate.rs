//! The calibrated roofline shipped in `data/calibrated-roofline.json` is what calibrating the
//! embedded H100 profile from the default parameters gives (re-derived here; run with
//! `PARALLAX_BLESS=1` to rewrite the file after a deliberate change), and it carries over to
//! GPUs without a profile as fractions of their datasheet ceilings.

use parallax_hw::profile::{self, calibrate};
use parallax_hw::roofline::{calibrated_params, CALIBRATED_JSON};
use parallax_hw::{catalog, Cluster, CostModel, RooflineModel, RooflineParams};
use parallax_ir::{DType, Gemm};

#[test]
fn calibrated_roofline_rederives_from_the_embedded_h100_profile() {
    let p = profile::embedded_h100();
    let c = Cluster::parse("1x8xH100").unwrap();
    let cal = calibrate(&p, &c, &RooflineParams::default()).unwrap();
    if std::env::var_os("PARALLAX_BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/calibrated-roofline.json");
        let text = serde_json::to_string_pretty(&cal.params).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
        return;
    }
    let shipped: RooflineParams = serde_json::from_str(CALIBRATED_JSON).unwrap();
    let a = serde_json::to_value(&shipped).unwrap();
    let b = serde_json::to_value(&cal.params).unwrap();
    for (k, v) in a.as_object().unwrap() {
        let w = &b[k];
        match (v.as_f64(), w.as_f64()) {
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-12),
                "{k}: shipped {x}, re-derived {y}"
            ),
            _ => assert_eq!(v, w, "{k}"),
        }
    }
    assert_eq!(calibrated_params(), &shipped);
    // The fit (an L1 loss on log errors) does not worsen any table's mean error.
    for t in &cal.report {
        assert!(t.after.mean <= t.before.mean * 1.02, "{}: {:?}", t.table, t);
    }
    // Its loss never rises, whichever profile and GPU (the H200 profile's percent errors
    // do rise on some tables: another metric).
    let h200 = profile::Profile::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/profiles/parallax-profiler/h200-quick.json"
    )))
    .unwrap();
    for (p, cluster) in [(&*p, "1x8xH100"), (&h200, "1x8xH200"), (&*p, "1x8xA100")] {
        let c = Cluster::parse(cluster).unwrap();
        let cal = calibrate(p, &c, &RooflineParams::default()).unwrap();
        assert!(!cal.report.is_empty());
        for t in &cal.report {
            assert!(
                t.loss_after <= t.loss_before && t.loss_after.is_finite(),
                "{cluster} {}: {} → {}",
                t.table,
                t.loss_before,
                t.loss_after
            );
        }
    }
}

#[test]
fn calibrated_roofline_transfers_to_other_gpus() {
    let h100 = RooflineModel::calibrated(&catalog::gpu("H100").unwrap());
    let a100 = RooflineModel::calibrated(&catalog::gpu("A100-80GB").unwrap());
    assert_eq!(h100.params(), a100.params());
    let g = Gemm {
        m: 4096,
        n: 4096,
        k: 4096,
        count: 1,
        weight_dtype: DType::Bf16,
        act_dtype: DType::Bf16,
    };
    // A100's bf16 peak is ~0.31x H100's: the large GEMM is about 3x slower.
    let r = a100.gemm(&g) / h100.gemm(&g);
    assert!(r > 2.3 && r < 3.7, "{r}");
    // GPUs without a profile get the calibrated roofline by default.
    let c = Cluster::parse("1x8xA100-80GB").unwrap();
    let m = profile::default_cost_model(&c, profile::CostModelChoice::Auto);
    assert_eq!(m.gemm(&g), a100.gemm(&g));
}
