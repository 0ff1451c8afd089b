//! The calibrated roofline on Blackwell against NVIDIA's measurements of the engines' own
//! GEMMs (TensorRT-LLM 1.3.0rc20, vLLM 0.19.0 and SGLang 0.5.9 on a B200 and a GB200; extract,
//! source and licence in `tests/data/aiconfigurator-blackwell-gemm/`).
//!
//! Two constants come from the B200 rows: [`BLACKWELL_GEMM_COMPUTE_EFFICIENCY`] (large bf16
//! GEMMs reach a smaller share of Blackwell's peak than the H100-calibrated efficiency) and
//! [`GEMM_4BIT_EFFICIENCY`] (NVFP4 GEMMs run 2.7x as fast as bf16 ones, not 4x). The test
//! re-derives both and checks the GB200 rows, which were not fitted.

use parallax_hw::roofline::calibrated_params;
use parallax_hw::{
    catalog, CostModel, GpuArchitecture, RooflineModel, BLACKWELL_GEMM_COMPUTE_EFFICIENCY,
    GEMM_4BIT_EFFICIENCY,
};
use parallax_ir::{DType, Gemm};
use std::collections::HashMap;

use crate::common;
use common::{gemm, median};

const GEMM: &str = include_str!("data/aiconfigurator-blackwell-gemm/gemm.csv");

/// One measured GEMM: system, engine, dtype, (m, n, k), seconds.
struct Row {
    system: String,
    engine: String,
    dtype: DType,
    mnk: (u64, u64, u64),
    seconds: f64,
}

fn rows() -> Vec<Row> {
    let mut lines = GEMM.lines();
    assert_eq!(
        lines.next(),
        Some("system,engine,version,dtype,m,n,k,latency_ms")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 8, "{l}");
            let dtype = match f[3] {
                "bfloat16" => DType::Bf16,
                "nvfp4" => DType::Fp4,
                other => panic!("dtype {other}"),
            };
            Row {
                system: f[0].to_string(),
                engine: f[1].to_string(),
                dtype,
                mnk: (
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                    f[6].parse().unwrap(),
                ),
                seconds: f[7].parse::<f64>().unwrap() * 1e-3,
            }
        })
        .collect()
}

/// The rows of `system`, and its catalogue GPU.
fn system(system: &str) -> (Vec<Row>, parallax_hw::Gpu) {
    let gpu = catalog::gpu(match system {
        "b200_sxm" => "B200",
        "gb200" => "GB200",
        other => panic!("{other}"),
    })
    .unwrap();
    let rows: Vec<Row> = rows().into_iter().filter(|r| r.system == system).collect();
    (rows, gpu)
}

/// Median over the rows of `dtype` of measured / predicted time.
fn median_ratio(rows: &[Row], model: &dyn CostModel, dtype: DType) -> f64 {
    median(
        rows.iter()
            .filter(|r| r.dtype == dtype)
            .map(|r| r.seconds / model.gemm(&gemm(r.mnk.0, r.mnk.1, r.mnk.2, dtype)))
            .collect(),
    )
}

/// Median over (engine, shape) of the bf16 time over the NVFP4 time.
fn median_fp4_speedup(rows: &[Row]) -> f64 {
    let mut bf16 = HashMap::new();
    for r in rows.iter().filter(|r| r.dtype == DType::Bf16) {
        bf16.insert((r.engine.as_str(), r.mnk), r.seconds);
    }
    median(
        rows.iter()
            .filter(|r| r.dtype == DType::Fp4)
            .filter_map(|r| Some(bf16.get(&(r.engine.as_str(), r.mnk))? / r.seconds))
            .collect(),
    )
}

#[test]
fn the_extract_is_whole() {
    let all = rows();
    assert_eq!(all.len(), 8244);
    for s in ["b200_sxm", "gb200"] {
        for e in ["trtllm", "vllm", "sglang"] {
            let n = all
                .iter()
                .filter(|r| r.system == s && r.engine == e)
                .count();
            assert!(n >= 1350, "{s} {e}: {n}");
        }
    }
    for g in ["B200", "GB200", "B300", "GB300"] {
        assert_eq!(
            catalog::gpu(g).unwrap().architecture,
            GpuArchitecture::Blackwell
        );
    }
    assert_eq!(
        catalog::gpu("H100").unwrap().architecture,
        GpuArchitecture::Hopper
    );
}

/// The two constants are what the B200 rows give: the H100-calibrated efficiency over the
/// median measured/predicted bf16 time, and the median NVFP4 speed-up over four.
#[test]
fn blackwell_constants_are_the_b200_fit() {
    let (rows, gpu) = system("b200_sxm");
    let hopper = RooflineModel::with_params(&gpu, calibrated_params().clone());
    let r = median_ratio(&rows, &hopper, DType::Bf16);
    let fit = calibrated_params().gemm_compute_efficiency / r;
    eprintln!("B200 bf16: H100-calibrated ratio {r:.3}, efficiency fit {fit:.4}");
    assert!(
        (fit - BLACKWELL_GEMM_COMPUTE_EFFICIENCY).abs() < 0.005,
        "{fit}"
    );
    let speedup = median_fp4_speedup(&rows);
    eprintln!("B200 NVFP4 speed-up over bf16 {speedup:.3}");
    for e in ["trtllm", "vllm", "sglang"] {
        let own: Vec<Row> = self::rows()
            .into_iter()
            .filter(|r| r.system == "b200_sxm" && r.engine == e)
            .collect();
        eprintln!(
            "  {e}: bf16 ratio {:.3}, NVFP4 speed-up {:.3} ({} rows)",
            median_ratio(&own, &hopper, DType::Bf16),
            median_fp4_speedup(&own),
            own.len()
        );
    }
    assert!(
        (speedup / 4.0 - GEMM_4BIT_EFFICIENCY).abs() < 0.005,
        "{speedup}"
    );
}

/// With them, the calibrated roofline prices large B200 and GB200 GEMMs within 6% in the
/// median (GB200 not fitted); with the H100-calibrated efficiencies alone it priced bf16
/// 12-20% and NVFP4 60-80% too fast.
#[test]
fn calibrated_roofline_prices_blackwell_gemms() {
    for s in ["b200_sxm", "gb200"] {
        let (rows, gpu) = system(s);
        let model = RooflineModel::calibrated(&gpu);
        // Before: the H100-calibrated efficiency, and fp4 at the bf16 path's fraction.
        let hopper = RooflineModel::with_params(
            &gpu,
            parallax_hw::RooflineParams {
                gemm_4bit_efficiency: 1.0,
                ..calibrated_params().clone()
            },
        );
        for d in [DType::Bf16, DType::Fp4] {
            let now = median_ratio(&rows, &model, d);
            let before = median_ratio(&rows, &hopper, d);
            eprintln!("{s} {d:?}: measured/predicted {before:.3} -> {now:.3}");
            assert!((now - 1.0).abs() < 0.06, "{s} {d:?}: {now:.3}");
            assert!(before > 1.1, "{s} {d:?}: {before:.3}");
        }
    }
}

/// Hopper keeps the calibrated file's efficiency, and a GPU without an fp4 path (H100) runs
/// fp4 weights in its bf16 GEMM: the 4-bit fraction does not apply there.
#[test]
fn only_blackwell_changes() {
    let h100 = catalog::gpu("H100").unwrap();
    let m = RooflineModel::calibrated(&h100);
    assert_eq!(m.params(), calibrated_params());
    let fp4 = Gemm {
        weight_dtype: DType::Fp4,
        act_dtype: DType::Bf16,
        ..gemm(8192, 8192, 8192, DType::Bf16)
    };
    let bf16 = gemm(8192, 8192, 8192, DType::Bf16);
    // Weight-only fp4 on Hopper is the bf16 GEMM's compute at a quarter of the weight bytes.
    assert!(m.gemm(&fp4) <= m.gemm(&bf16));
    assert!(m.gemm(&fp4) > 0.9 * m.gemm(&bf16));
    // So is W4A4 there (no fp4 path): the 4-bit fraction does not apply.
    let w4a4 = gemm(8192, 8192, 8192, DType::Fp4);
    assert!((m.gemm(&w4a4) / m.gemm(&fp4) - 1.0).abs() < 0.01);
    // W4A8 runs on the 8-bit path at its fraction, no faster than W8A8 (it was priced
    // at the fp8 peak with the bf16 fraction, 1.3x faster).
    for gpu in ["H100", "B200"] {
        let m = RooflineModel::calibrated(&catalog::gpu(gpu).unwrap());
        let w8a8 = gemm(8192, 8192, 8192, DType::Fp8);
        for w in [DType::Int4, DType::Fp4] {
            let w4a8 = Gemm {
                weight_dtype: w,
                ..w8a8
            };
            let (a, b) = (m.gemm(&w4a8), m.gemm(&w8a8));
            assert!(a >= 0.99 * b && a <= b, "{gpu} {w:?}: {a} vs {b}");
        }
    }
    let b200 = RooflineModel::calibrated(&catalog::gpu("B200").unwrap());
    assert_eq!(
        b200.params().gemm_compute_efficiency,
        BLACKWELL_GEMM_COMPUTE_EFFICIENCY
    );
}
