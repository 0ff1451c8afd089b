//! The calibrated roofline's collective model (a fixed floor plus α-β) against the published
//! NCCL tables (APEX+ H100 and H200, 2/4/8 GPUs in one NVSwitch node), and the embedded H200
//! profile's measured table.

use parallax_hw::profile::{embedded_h100, embedded_h200, CollectivePoint, ProfiledCostModel};
use parallax_hw::{catalog, Cluster, CostModel, RooflineModel};
use parallax_ir::CollectiveKind;
use std::sync::Arc;

fn errors(gpu: &str, rows: &[CollectivePoint]) -> Vec<(CollectiveKind, u32, f64, f64)> {
    let g = catalog::gpu(gpu).unwrap();
    let m = RooflineModel::calibrated(&g);
    let c = Cluster::parse(&format!("1x8x{gpu}")).unwrap();
    rows.iter()
        .map(|r| {
            let t = m.collective(r.op, r.bytes, &c.group(r.group_size));
            (r.op, r.group_size, r.bytes, t / r.seconds - 1.0)
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

#[test]
fn roofline_collectives_against_apex_tables() {
    for (gpu, profile) in [("H100", embedded_h100()), ("H200", embedded_h200())] {
        let rows = &profile.collective.as_ref().unwrap().rows;
        let e = errors(gpu, rows);
        println!("[collectives] roofline vs APEX+ {gpu} ({} rows)", e.len());
        for kind in CollectiveKind::ALL {
            for n in [2, 4, 8] {
                let sel: Vec<&(CollectiveKind, u32, f64, f64)> =
                    e.iter().filter(|x| x.0 == kind && x.1 == n).collect();
                if sel.is_empty() {
                    continue;
                }
                let small: Vec<f64> = sel
                    .iter()
                    .filter(|x| x.2 < 1e6)
                    .map(|x| x.3.abs())
                    .collect();
                let large: Vec<f64> = sel
                    .iter()
                    .filter(|x| x.2 >= 1e6)
                    .map(|x| x.3.abs())
                    .collect();
                println!(
                    "  {:<15} n={n}  median |err| < 1 MB {:>6.1}%  >= 1 MB {:>6.1}%",
                    kind.name(),
                    100.0 * median(small),
                    100.0 * median(large)
                );
            }
        }
        let all = median(e.iter().map(|x| x.3.abs()).collect());
        println!("  all: median |err| {:.1}%", 100.0 * all);
        // Calibrated on the H100 table (link_efficiency and collective_floor, see
        // `profile::calibrate`): 15.2% there, 20.8% on the H200 table it never saw (both
        // about 30% before the fixed floor was fitted).
        let bound = if gpu == "H100" { 0.17 } else { 0.23 };
        assert!(all <= bound, "{gpu}: median |err| {all}");
    }
}

#[test]
fn embedded_h200_profile_has_measured_collectives() {
    let p = embedded_h200();
    let t = p.collective.as_ref().expect("H200 collective table");
    for n in [2, 4, 8] {
        assert!(t
            .rows
            .iter()
            .any(|r| r.op == CollectiveKind::AllReduce && r.group_size == n));
    }
    // The profiled H200 model returns the table's time at a measured point (8 GPUs, 128 MiB
    // half all-reduce: 710 µs in APEX+).
    let g = catalog::gpu("H200").unwrap();
    let m = ProfiledCostModel::new(&p, Arc::new(RooflineModel::calibrated(&g))).unwrap();
    let c = Cluster::parse("1x8xH200").unwrap();
    let t = m.collective(
        CollectiveKind::AllReduce,
        128.0 * 1024.0 * 1024.0,
        &c.group(8),
    );
    assert!((t - 710e-6).abs() < 1e-9, "{t}");
}

#[test]
fn measured_collective_times_never_fall_with_size() {
    // The APEX+ H100 all-gather of 8 GPUs measured 555 µs at 64 MiB, above the 375 µs of
    // 128 MiB: read as the larger size's time (a larger all-gather covers the smaller one).
    let g = catalog::gpu("H100").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let m =
        ProfiledCostModel::new(&embedded_h100(), Arc::new(RooflineModel::calibrated(&g))).unwrap();
    let at = |mib: f64| m.collective(CollectiveKind::AllGather, mib * 1048576.0, &c.group(8));
    assert!(at(64.0) <= at(128.0), "{} vs {}", at(64.0), at(128.0));
    let mut last = 0.0;
    for k in 0..40 {
        let t = at(0.01 * 1.5f64.powi(k));
        assert!(t >= last * (1.0 - 1e-9), "{k}: {t} after {last}");
        last = t;
    }
}
