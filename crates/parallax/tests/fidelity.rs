//! Fidelity of one-iteration predictions against the measured iterations shipped in
//! `data/measured/` (run with `--nocapture` to see the tables).
//!
//! Protocol: the host/iteration overheads are fitted on the Llama-3.1-8B rows of the H100
//! file only (the calibration set); the Llama-2-7B and Qwen2.5-7B rows of that file and the
//! whole H200 file are held out, and the thresholds below are asserted on them.

use parallax::validate::{summary_by, IterationComparison};
use parallax::{validate_file, CostModelChoice};
use parallax_hw::profile::ErrorSummary;
use std::path::Path;

fn rows(file: &str, choice: CostModelChoice) -> Vec<IterationComparison> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/measured")
        .join(file);
    validate_file(&path, choice).unwrap().iterations
}

fn calibration(r: &IterationComparison) -> bool {
    r.gpu == "H100-SXM" && r.model == "llama-3.1-8b"
}

fn show(title: &str, rows: &[&IterationComparison]) -> ErrorSummary {
    let owned: Vec<IterationComparison> = rows.iter().map(|r| (*r).clone()).collect();
    let all = summary_by(&owned, |_| "all".to_string());
    println!("{title}");
    for (k, s) in summary_by(&owned, |r| r.kind.clone())
        .iter()
        .chain(all.iter())
    {
        println!(
            "  {k:<13} n={:<3} median {:>5.1}%  mean {:>5.1}%  max {:>5.1}%",
            s.count, s.median, s.mean, s.max
        );
    }
    all["all"]
}

#[test]
fn held_out_iterations_meet_the_thresholds() {
    let mut out = Vec::new();
    for choice in [CostModelChoice::Auto, CostModelChoice::Roofline] {
        let h100 = rows("h100-sxm-iterations.csv", choice);
        let h200 = rows("h200-iterations.csv", choice);
        for r in h100.iter().chain(&h200) {
            println!(
                "{choice:<8} {:<12} {:<8} {:>10} {:>8} {:<12} meas {:>7.2} pred {:>7.2} dev {:>7.2} host {:>6.2} {:>+6.1}%",
                r.model, r.gpu, r.prefill, r.decode, r.kind, r.measured_ms, r.predicted_ms, r.device_ms, r.host_ms, r.error_pct
            );
        }
        let cal: Vec<&IterationComparison> = h100.iter().filter(|r| calibration(r)).collect();
        let held: Vec<&IterationComparison> = h100.iter().filter(|r| !calibration(r)).collect();
        let h200r: Vec<&IterationComparison> = h200.iter().collect();
        let c = show(&format!("[{choice}] calibration: H100 Llama-3.1-8B"), &cal);
        let h = show(
            &format!("[{choice}] held out: H100 Llama-2-7B + Qwen2.5-7B"),
            &held,
        );
        let g = show(&format!("[{choice}] held out: H200 Llama-3.1-8B"), &h200r);
        out.push((choice, c, h, g));
    }
    // Held-out medians reached (auto: H100 7.3%, H200 9.5%; roofline: 9.6%, 10.8%), with
    // margin; the targets are 10% (profiled) and 25% (roofline).
    for (choice, _, h, g) in &out {
        let (lim_h, lim_g) = match choice {
            CostModelChoice::Roofline => (13.0, 14.0),
            _ => (9.0, 11.0),
        };
        assert!(
            h.median <= lim_h,
            "{choice}: H100 held-out median {}",
            h.median
        );
        assert!(
            g.median <= lim_g,
            "{choice}: H200 held-out median {}",
            g.median
        );
    }
}

/// A profiled lookup at a measured table point returns the measured time.
#[test]
fn profiled_lookup_is_exact_at_table_points() {
    use parallax_hw::profile::{embedded_h100, ProfiledCostModel};
    use parallax_hw::{catalog, RooflineModel};
    use parallax_ir::{DType, Gemm};
    use std::sync::Arc;
    let p = embedded_h100();
    let fallback = Arc::new(RooflineModel::new(&catalog::gpu("H100").unwrap()));
    let m = ProfiledCostModel::new(&p, fallback).unwrap();
    let gemm = p.gemm.as_ref().unwrap();
    // Families merge repeated runs by their median: compare with that median.
    let mut checked = 0;
    for r in &gemm.rows {
        let mut same: Vec<f64> = gemm
            .rows
            .iter()
            .filter(|q| (q.m, q.n, q.k, q.dtype) == (r.m, r.n, r.k, r.dtype))
            .map(|q| q.seconds)
            .collect();
        same.sort_by(f64::total_cmp);
        let n = same.len();
        let median = if n % 2 == 1 {
            same[n / 2]
        } else {
            0.5 * (same[n / 2 - 1] + same[n / 2])
        };
        let g = Gemm {
            m: r.m,
            n: r.n,
            k: r.k,
            count: 1,
            weight_dtype: r.dtype,
            act_dtype: r.dtype,
        };
        let t = m.profiled_gemm(&g).unwrap();
        assert!(
            (t - median).abs() <= 1e-9 * median,
            "{r:?}: {t} vs {median}"
        );
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
    // fp16 is timed by the bf16 families (same width and tensor-core rate).
    let r = &gemm.rows[0];
    let g16 = Gemm {
        m: r.m,
        n: r.n,
        k: r.k,
        count: 1,
        weight_dtype: DType::F16,
        act_dtype: DType::F16,
    };
    let g = Gemm {
        weight_dtype: DType::Bf16,
        act_dtype: DType::Bf16,
        ..g16
    };
    assert_eq!(m.profiled_gemm(&g16), m.profiled_gemm(&g));
}

/// The default host/iteration overheads are what fitting the calibration rows gives.
#[test]
fn default_overheads_rederive_from_the_calibration_rows() {
    use parallax_hw::profile::{fit_overheads, IterationSample};
    let h100 = rows("h100-sxm-iterations.csv", CostModelChoice::Auto);
    let samples: Vec<IterationSample> = h100
        .iter()
        .filter(|r| calibration(r))
        .map(|r| IterationSample {
            device: r.device_ms * 1e-3,
            ops: r.ops,
            cuda_graph: r.kind == "graph decode",
            measured: r.measured_ms * 1e-3,
        })
        .collect();
    let fit = fit_overheads(&samples).unwrap();
    println!("fit on the calibration rows: {fit:?}");
    let d = parallax_hw::RooflineParams::default();
    assert!(
        (fit.host_op - d.kernel_launch).abs() < 0.26e-6,
        "{fit:?} vs {}",
        d.kernel_launch
    );
    assert!(
        (fit.iteration - d.iteration).abs() < 1e-7,
        "{fit:?} vs {}",
        d.iteration
    );
    assert_eq!(fit.host_overlap, d.host_overlap, "{fit:?}");
}
