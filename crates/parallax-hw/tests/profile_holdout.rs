//! Leave-out acceptance: measured H100 GEMM and attention points left out of the table are
//! predicted by the profiled interpolation within 5% median absolute error.

use parallax_hw::profile::{embedded_h100, profiled_hold_out, HoldOut};

#[test]
fn profiled_leave_one_out_median_within_5_percent() {
    let p = embedded_h100();
    for scheme in [HoldOut::LeaveOneOut, HoldOut::EveryOther] {
        let r = profiled_hold_out(&p, scheme).unwrap();
        for t in [
            "gemm",
            "prefill_attention",
            "decode_attention",
            "collective",
        ] {
            let s = r.summary(&[t]).unwrap();
            println!(
                "{scheme:?} {t}: n={} median={:.2}% mean={:.2}% max={:.2}%",
                s.count, s.median, s.mean, s.max
            );
        }
        let s = r
            .summary(&["gemm", "prefill_attention", "decode_attention"])
            .unwrap();
        println!(
            "{scheme:?} gemm+attention: n={} median={:.2}% mean={:.2}% max={:.2}%",
            s.count, s.median, s.mean, s.max
        );
    }
}

#[test]
fn calibrated_roofline_hold_out() {
    use parallax_hw::profile::{calibrate, calibrated_hold_out};
    use parallax_hw::RooflineParams;
    let p = embedded_h100();
    let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
    let cal = calibrate(&p, &cluster, &RooflineParams::default()).unwrap();
    for t in &cal.report {
        println!("fit {}: n={} before med {:.2}% mean {:.2}% max {:.2}% -> after med {:.2}% mean {:.2}% max {:.2}%", t.table, t.points, t.before.median, t.before.mean, t.before.max, t.after.median, t.after.mean, t.after.max);
    }
    println!("{:?}", cal.params);
    let r = calibrated_hold_out(&p, &cluster, &RooflineParams::default(), 4).unwrap();
    for t in [
        "gemm",
        "prefill_attention",
        "decode_attention",
        "collective",
    ] {
        if let Some(s) = r.summary(&[t]) {
            println!(
                "4-fold {t}: n={} median={:.2}% mean={:.2}% max={:.2}%",
                s.count, s.median, s.mean, s.max
            );
        }
    }
    let s = r
        .summary(&["gemm", "prefill_attention", "decode_attention"])
        .unwrap();
    println!(
        "4-fold gemm+attention: n={} median={:.2}% mean={:.2}% max={:.2}%",
        s.count, s.median, s.mean, s.max
    );
}
