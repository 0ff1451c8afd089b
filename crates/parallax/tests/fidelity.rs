//! Fidelity of one-iteration predictions against the measured iterations shipped in
//! `data/measured/` (run with `--nocapture` to see the tables).
//!
//! Protocol: the host/iteration overheads are fitted on the Llama-3.1-8B rows of the H100
//! file only (the calibration set); the Llama-2-7B and Qwen2.5-7B rows of that file and the
//! whole H200 file are held out, and the thresholds below are asserted on them.

use parallax::validate::{summary_by, IterationComparison};
use parallax::{validate_file, CostModelChoice};
use parallax_hw::profile::ErrorSummary;
use std::collections::BTreeMap;
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

fn show(title: &str, rows: &[&IterationComparison]) -> BTreeMap<String, ErrorSummary> {
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
    let mut by = summary_by(&owned, |r| r.kind.clone());
    by.extend(all);
    by
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
    // Held-out medians reached (auto: H100 2.2%, H200 3.7%; roofline: 8.2%, 3.6%), with
    // margin; the targets are 10% (profiled) and 25% (roofline). (Auto H100 was 4.4%
    // and H200 3.9% before GEMM shapes missing from the table were scaled over a latency floor
    // all shapes share.)
    // CUDA-graph decode rows with the fitted graph kernel overlap (before it: auto H100
    // median 4.8% / max 13.2%, H200 8.9% / 12.5%; roofline 6.2% / 10.0%, 9.9% / 15.0%):
    // auto 3.4% / 4.9%, 1.6% / 4.1%; roofline 1.2% / 4.4%, 0.9% / 3.6%. With the shared
    // latency floor for missing GEMM shapes: auto 0.8% / 2.4%, 1.3% / 5.1%; with each table
    // family's times made non-decreasing in size: 0.9% / 2.1%, 0.5% / 5.4% (all rows 2.4% →
    // 2.2%, 3.8% → 3.7%).
    for (choice, _, h, g) in &out {
        let (lim_h, lim_g) = match choice {
            CostModelChoice::Roofline => (10.0, 6.0),
            _ => (6.0, 6.0),
        };
        assert!(
            h["all"].median <= lim_h,
            "{choice}: H100 held-out median {}",
            h["all"].median
        );
        assert!(
            g["all"].median <= lim_g,
            "{choice}: H200 held-out median {}",
            g["all"].median
        );
        for (name, set) in [("H100", h), ("H200", g)] {
            let graph = &set["graph decode"];
            assert!(
                graph.median <= 5.0 && graph.max <= 7.0,
                "{choice}: {name} held-out graph decode {graph:?}"
            );
        }
    }
}

/// A CUDA-graph replay hides the fitted overlap per pair of consecutive kernels, down to
/// half the summed kernel time; profiles may set the overlap, and files without it load.
#[test]
fn graph_kernel_overlap_is_floored_and_configurable() {
    use parallax_hw::cost::{graph_wall_time, GRAPH_OVERLAP_FLOOR};
    use parallax_hw::profile::{embedded_h100, Profile, ProfiledCostModel};
    use parallax_hw::roofline::DEFAULT_GRAPH_OVERLAP;
    use parallax_hw::{catalog, CostModel, RooflineModel, RooflineParams};
    use std::sync::Arc;
    let o = DEFAULT_GRAPH_OVERLAP;
    assert!(o > 0.0);
    let t = graph_wall_time(10e-3, 301.0, o);
    assert!((t - (10e-3 - 300.0 * o)).abs() < 1e-12, "{t}");
    assert_eq!(graph_wall_time(1e-4, 301.0, o), GRAPH_OVERLAP_FLOOR * 1e-4);
    assert_eq!(graph_wall_time(1e-3, 1.0, o), 1e-3);
    assert_eq!(graph_wall_time(1e-3, 301.0, -1.0), 1e-3);
    assert_eq!(graph_wall_time(1e-3, 301.0, f64::NAN), 1e-3);
    // Older calibrated-roofline files without the field get the default.
    let mut v = serde_json::to_value(RooflineParams::default()).unwrap();
    v.as_object_mut().unwrap().remove("graph_kernel_overlap");
    let back: RooflineParams = serde_json::from_value(v).unwrap();
    assert_eq!(back.graph_kernel_overlap, o);
    // The embedded profile has no overlap field: it falls back to the roofline's.
    let gpu = catalog::gpu("H100").unwrap();
    let roof = Arc::new(RooflineModel::new(&gpu));
    let p = embedded_h100();
    assert_eq!(p.overheads.graph_kernel_overlap_seconds, None);
    let m = ProfiledCostModel::new(&p, roof.clone()).unwrap();
    assert_eq!(m.graph_kernel_overlap(), o);
    // A profile's own value wins, survives a round trip, and must not be negative.
    let mut q = (*p).clone();
    q.overheads.graph_kernel_overlap_seconds = Some(0.0);
    let q2 = Profile::from_json("q.json", &q.to_json()).unwrap();
    assert_eq!(q2.overheads.graph_kernel_overlap_seconds, Some(0.0));
    assert_eq!(
        ProfiledCostModel::new(&q2, roof.clone())
            .unwrap()
            .graph_kernel_overlap(),
        0.0
    );
    let bad = q.to_json().replace(
        "\"graph_kernel_overlap_seconds\": 0.0",
        "\"graph_kernel_overlap_seconds\": -1e-6",
    );
    let e = Profile::from_json("bad.json", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json") && e.contains("graph_kernel_overlap_seconds"),
        "{e}"
    );
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
    // Families merge repeated runs by their median, then make their times non-decreasing in
    // m (`nondecreasing`): compare with that.
    let median_of = |r: &parallax_hw::profile::GemmPoint| {
        let mut same: Vec<f64> = gemm
            .rows
            .iter()
            .filter(|q| (q.m, q.n, q.k, q.dtype) == (r.m, r.n, r.k, r.dtype))
            .map(|q| q.seconds)
            .collect();
        same.sort_by(f64::total_cmp);
        let n = same.len();
        if n % 2 == 1 {
            same[n / 2]
        } else {
            0.5 * (same[n / 2 - 1] + same[n / 2])
        }
    };
    let fitted = |r: &parallax_hw::profile::GemmPoint| {
        let mut family: Vec<&parallax_hw::profile::GemmPoint> = gemm
            .rows
            .iter()
            .filter(|q| (q.n, q.k, q.dtype) == (r.n, r.k, r.dtype))
            .collect();
        family.sort_by_key(|q| q.m);
        family.dedup_by_key(|q| q.m);
        let ts: Vec<f64> = family.iter().map(|q| median_of(q)).collect();
        let at = family.iter().position(|q| q.m == r.m).unwrap();
        parallax_hw::profile::nondecreasing(&ts)[at]
    };
    let mut checked = 0;
    for r in &gemm.rows {
        let median = fitted(r);
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
    // shipped to two significant figures (the fit: 2.24 µs since the tables' times are
    // pooled to be non-decreasing in size, 2.20 µs before)
    assert!(
        (fit.graph_overlap - d.graph_kernel_overlap).abs() < 0.05e-6,
        "{fit:?} vs {}",
        d.graph_kernel_overlap
    );
}

/// Eager prefills of 2,048 tokens or more are GPU-bound and predicted within 5% on both GPUs
/// (on the H200 once its profile prices elementwise ops of 16 MiB and more from its own rows:
/// they were 8–15% under with the roofline alone).
#[test]
fn large_eager_prefills_are_predicted_within_five_percent() {
    // New tokens of a `NxM` or `NxM+PREFIX` prefill.
    let tokens = |spec: &str| -> u64 {
        let new = spec.split('+').next().unwrap_or("");
        match new.split_once('x') {
            Some((n, m)) => n.parse::<u64>().unwrap() * m.parse::<u64>().unwrap(),
            None => 0,
        }
    };
    let mut seen = 0;
    for file in ["h100-sxm-iterations.csv", "h200-iterations.csv"] {
        for r in rows(file, CostModelChoice::Auto) {
            if r.decode.is_empty() && tokens(&r.prefill) >= 2048 {
                assert!(
                    r.error_pct.abs() <= 5.0,
                    "{file} {} {}: {:+.1}%",
                    r.model,
                    r.prefill,
                    r.error_pct
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 8, "{seen} rows");
}
