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
