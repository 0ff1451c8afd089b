//! The engines' quantised linear layers pay for quantising their inputs: a fixed time per GEMM
//! and a time per input element, fitted on NVIDIA's aiconfigurator sweeps of each engine's own
//! bf16, fp8 and NVFP4 layers (`engine::gemm_input_quant`; extracts, source and licence in
//! `tests/data/aiconfigurator-fp8-gemm/`).

use crate::common;
use parallax_hw::profile::{cost_model_for, CostModelChoice};
use parallax_hw::{catalog, Cluster, CostModel, RooflineModel};
use parallax_ir::{DType, Gemm};
use parallax_plan::engine::{gemm_input_quant, GemmInputQuant, InputQuant};
use parallax_plan::{EngineContext, EngineKind, EngineModel};

/// `(engine, catalogue GPU, extract, fitted)` of every extract: Hopper's each fitted, Blackwell's
/// fitted on the B200 and checked on the GB200.
const FILES: [(EngineKind, &str, &str, bool); 12] = [
    (
        EngineKind::Trtllm,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-trtllm-1.3.0rc20.csv"),
        true,
    ),
    (
        EngineKind::Trtllm,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-trtllm-1.3.0rc20.csv"),
        true,
    ),
    (
        EngineKind::Sglang,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-sglang-0.5.6.post2.csv"),
        true,
    ),
    (
        EngineKind::Sglang,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-sglang-0.5.6.post2.csv"),
        true,
    ),
    (
        EngineKind::Vllm,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-vllm-0.19.0.csv"),
        true,
    ),
    (
        EngineKind::Vllm,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-vllm-0.19.0.csv"),
        true,
    ),
    (
        EngineKind::Trtllm,
        "B200",
        include_str!("data/aiconfigurator-fp8-gemm/b200_sxm-trtllm-1.3.0rc20.csv"),
        true,
    ),
    (
        EngineKind::Sglang,
        "B200",
        include_str!("data/aiconfigurator-fp8-gemm/b200_sxm-sglang-0.5.9.csv"),
        true,
    ),
    (
        EngineKind::Vllm,
        "B200",
        include_str!("data/aiconfigurator-fp8-gemm/b200_sxm-vllm-0.19.0.csv"),
        true,
    ),
    (
        EngineKind::Trtllm,
        "GB200",
        include_str!("data/aiconfigurator-fp8-gemm/gb200-trtllm-1.3.0rc20.csv"),
        false,
    ),
    (
        EngineKind::Sglang,
        "GB200",
        include_str!("data/aiconfigurator-fp8-gemm/gb200-sglang-0.5.9.csv"),
        false,
    ),
    (
        EngineKind::Vllm,
        "GB200",
        include_str!("data/aiconfigurator-fp8-gemm/gb200-vllm-0.19.0.csv"),
        false,
    ),
];

fn gemm(m: u64, n: u64, k: u64, d: DType) -> Gemm {
    Gemm {
        m,
        n,
        k,
        count: 1,
        weight_dtype: d,
        act_dtype: d,
    }
}

/// The extract's column and the GEMM type of `kind`.
fn column(kind: InputQuant) -> (&'static str, DType) {
    match kind {
        InputQuant::Fp8Tensor => ("fp8_ms", DType::Fp8),
        InputQuant::Fp8Block => ("fp8_block_ms", DType::Fp8),
        InputQuant::Fp4 => ("nvfp4_ms", DType::Fp4),
    }
}

/// `(m, k, roofline-scaled bf16 seconds, measured seconds)` of every shape of `text` measured
/// as `kind`; `None` when the extract has no such column.
fn rows(gpu: &str, text: &str, kind: InputQuant) -> Option<Vec<(f64, f64, f64, f64)>> {
    let roof = RooflineModel::calibrated(&catalog::gpu(gpu).unwrap());
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["m", "n", "k", "bf16_ms"]);
    let (name, dtype) = column(kind);
    let col = header.iter().position(|h| *h == name)?;
    Some(
        lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), header.len(), "{l}");
                if f[col].is_empty() {
                    return None; // not measured (vLLM's block kernel at the largest shapes)
                }
                let (m, n, k): (u64, u64, u64) = (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                );
                let bf16: f64 = f[3].parse().unwrap();
                let q: f64 = f[col].parse().unwrap();
                let r = roof.gemm(&gemm(m, n, k, dtype)) / roof.gemm(&gemm(m, n, k, DType::Bf16));
                Some((m as f64, k as f64, r * bf16 * 1e-3, q * 1e-3))
            })
            .collect(),
    )
}

/// Least squares on the relative error: `fp8 − base ≈ fixed + per_element × m × k`, both ≥ 0.
fn fit(rows: &[(f64, f64, f64, f64)]) -> (f64, f64) {
    let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(m, k, base, y) in rows {
        let (x1, x2, t) = (1.0 / y, m * k / y, (y - base) / y);
        a11 += x1 * x1;
        a12 += x1 * x2;
        a22 += x2 * x2;
        b1 += x1 * t;
        b2 += x2 * t;
    }
    let det = a11 * a22 - a12 * a12;
    let fixed = (b1 * a22 - b2 * a12) / det;
    let per = (a11 * b2 - a12 * b1) / det;
    (fixed.max(0.0), per.max(0.0))
}

/// Engine `kind`'s preset on one GPU of `cluster`.
fn preset(kind: EngineKind, cluster: &Cluster) -> EngineModel {
    common::preset(kind, &cluster.gpu, 1)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median |relative error| of the fp8 layer's time without and with `q`.
fn errors(rows: &[(f64, f64, f64, f64)], q: GemmInputQuant) -> (f64, f64) {
    let without = median(rows.iter().map(|r| (r.2 / r.3 - 1.0).abs()).collect());
    let with = median(
        rows.iter()
            .map(|&(m, k, base, y)| ((base + q.seconds(m as u64, k as u64, 1)) / y - 1.0).abs())
            .collect(),
    );
    (without, with)
}

#[test]
fn the_shipped_constants_are_the_fit_of_the_extract() {
    let kinds = [InputQuant::Fp8Tensor, InputQuant::Fp8Block, InputQuant::Fp4];
    let mut checked = 0;
    for (engine, gpu, text, fitted) in FILES {
        for kind in kinds {
            let Some(rows) = rows(gpu, text, kind) else {
                continue;
            };
            assert!(rows.len() >= 450, "{engine:?} {gpu} {kind:?}");
            let q = gemm_input_quant(engine, gpu, kind).unwrap();
            let (without, with) = errors(&rows, q);
            eprintln!("{engine:?} {gpu} {kind:?}: median |error| {without:.3} -> {with:.3}");
            assert!(
                with < without,
                "{engine:?} {gpu} {kind:?}: {without:.3} -> {with:.3}"
            );
            checked += 1;
            if !fitted {
                // the B200's constants on the GB200's sweeps: within the fitted GPUs' errors
                assert!(with < 0.16, "{engine:?} {gpu} {kind:?}: {with:.3}");
                continue;
            }
            let (fixed, per) = fit(&rows);
            // the constants keep three significant digits
            assert!(
                (q.fixed_s / fixed - 1.0).abs() < 0.01
                    && (q.per_element_s / per - 1.0).abs() < 0.02,
                "{engine:?} {gpu} {kind:?}: fitted {fixed:.3e} s + {per:.3e} s/element, \
                 shipped {q:?}"
            );
            if engine == EngineKind::Trtllm && kind == InputQuant::Fp8Tensor {
                // a dynamic scale and a cast: most of the error at small m
                assert!(
                    without > 0.3 && with < 0.07,
                    "{gpu}: {without:.3} -> {with:.3}"
                );
            }
        }
    }
    // Hopper: 6 files × 2 fp8 kinds; Blackwell: 6 files × 3
    assert_eq!(checked, 30);
}

#[test]
fn measured_on_hopper_and_blackwell_for_the_three_engines_only() {
    use InputQuant::{Fp4, Fp8Block, Fp8Tensor};
    assert_eq!(
        gemm_input_quant(EngineKind::VllmV0, "H100-SXM", Fp8Tensor),
        None
    );
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        for gpu in ["H100-PCIe", "A100-80GB-SXM", "L40S"] {
            for q in [Fp8Tensor, Fp8Block, Fp4] {
                assert_eq!(gemm_input_quant(kind, gpu, q), None, "{kind:?} {gpu}");
            }
        }
        // Hopper has no fp4 tensor cores: NVFP4 runs weight-only there, quantising nothing.
        for gpu in ["H100-SXM", "H200"] {
            assert_eq!(gemm_input_quant(kind, gpu, Fp4), None, "{kind:?} {gpu}");
        }
        // Blackwell: the B200's fit for all four
        for gpu in ["GB200", "B300", "GB300"] {
            for q in [Fp8Tensor, Fp8Block, Fp4] {
                assert_eq!(
                    gemm_input_quant(kind, gpu, q),
                    gemm_input_quant(kind, "B200", q),
                    "{kind:?} {gpu}"
                );
            }
        }
    }
    // vLLM's block-scaled layer quantises per 1×128 group in a kernel of its own: about 8 µs
    // per GEMM, against 1–2 µs per tensor.
    for gpu in ["H100-SXM", "H200", "B200"] {
        let (tensor, block) = (
            gemm_input_quant(EngineKind::Vllm, gpu, Fp8Tensor).unwrap(),
            gemm_input_quant(EngineKind::Vllm, gpu, Fp8Block).unwrap(),
        );
        assert!(block.fixed_s > 4.0 * tensor.fixed_s, "{gpu}");
    }
    // The preset takes the model's scales from its context.
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let block = EngineModel::preset(
        EngineKind::Vllm,
        &EngineContext {
            fp8_block_scales: true,
            ..common::context(&cluster.gpu, 1)
        },
    );
    assert_eq!(
        block.kernels.fp8_gemm_input_quant,
        gemm_input_quant(EngineKind::Vllm, "H200", Fp8Block)
    );
    assert_eq!(block.kernels.fp4_gemm_input_quant, None);
    // TensorRT-LLM's dynamic per-tensor scale costs the most per GEMM.
    for gpu in ["H100-SXM", "H200", "B200"] {
        let t = gemm_input_quant(EngineKind::Trtllm, gpu, Fp8Tensor).unwrap();
        for kind in [EngineKind::Vllm, EngineKind::Sglang] {
            assert!(gemm_input_quant(kind, gpu, Fp8Tensor).unwrap().fixed_s < t.fixed_s);
        }
    }
}

#[test]
fn an_engine_adds_the_quantisation_to_fp8_gemms_only() {
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let bare = cost_model_for(&cluster, CostModelChoice::Auto).unwrap();
    let trt = preset(EngineKind::Trtllm, &cluster);
    let q = trt.kernels.fp8_gemm_input_quant.unwrap();
    let model = trt.cost_model(bare.clone(), cluster.gpu.memory_bandwidth);
    // Qwen3-32B's gate-up projection at TP 1, decoding 8 sequences and prefilling 4096 tokens
    for m in [8, 4096] {
        let g = Gemm {
            count: 2,
            ..gemm(m, 51_200, 5120, DType::Fp8)
        };
        let added = model.gemm(&g) - bare.gemm(&g);
        // a batch of two quantises its inputs in one go: the fixed time once
        let want = q.fixed_s + 2.0 * q.per_element_s * m as f64 * 5120.0;
        assert!(
            (added / want - 1.0).abs() < 1e-9,
            "m={m}: {added} vs {want}"
        );
        let wide = Gemm {
            weight_dtype: DType::Bf16,
            act_dtype: DType::Bf16,
            ..g
        };
        assert_eq!(model.gemm(&wide), bare.gemm(&wide));
        // fp8 weights on bf16 inputs (weight-only) quantise nothing
        let w8a16 = Gemm {
            act_dtype: DType::Bf16,
            ..g
        };
        assert_eq!(model.gemm(&w8a16), bare.gemm(&w8a16));
    }
    // vLLM V0 was not measured: its preset prices the kernel alone.
    let v0 = preset(EngineKind::VllmV0, &cluster);
    assert_eq!(v0.kernels.fp8_gemm_input_quant, None);
}

#[test]
fn bad_quantisation_times_are_refused_by_field() {
    let ok = preset(EngineKind::Sglang, &Cluster::parse("1x8xH100").unwrap());
    assert!(ok.validate().is_ok());
    for (fixed_s, per_element_s, field) in [
        (-1e-6, 0.0, "fixed_s"),
        (f64::NAN, 0.0, "fixed_s"),
        (1.0, 0.0, "fixed_s"),
        (1e-6, -1e-12, "per_element_s"),
        (1e-6, f64::INFINITY, "per_element_s"),
    ] {
        let mut e = ok.clone();
        e.kernels.fp8_gemm_input_quant = Some(GemmInputQuant {
            fixed_s,
            per_element_s,
        });
        let msg = e.validate().unwrap_err().to_string();
        assert!(
            msg.contains(&format!("kernels.fp8_gemm_input_quant.{field}")),
            "{msg}"
        );
    }
    // An engine file written before the fields existed reads as none.
    let mut json = serde_json::to_value(&ok).unwrap();
    for field in [
        "fp8_gemm_input_quant",
        "fp4_gemm_input_quant",
        "batched_gemms_16bit",
    ] {
        json["kernels"].as_object_mut().unwrap().remove(field);
    }
    let back: EngineModel = serde_json::from_value(json).unwrap();
    assert_eq!(back.kernels.fp8_gemm_input_quant, None);
    assert_eq!(back.kernels.fp4_gemm_input_quant, None);
    assert!(!back.kernels.batched_gemms_16bit);
}

#[test]
fn vllm_runs_batched_gemms_on_16_bit_weights() {
    // DeepSeek-V3's q_absorb at TP 8: 16 heads' W_UK, 128 decoding tokens
    let g = Gemm {
        count: 16,
        ..gemm(128, 512, 128, DType::Fp8)
    };
    let wide = Gemm {
        weight_dtype: DType::Bf16,
        act_dtype: DType::Bf16,
        ..g
    };
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let bare = cost_model_for(&cluster, CostModelChoice::Auto).unwrap();
    let bw = cluster.gpu.memory_bandwidth;
    let vllm = preset(EngineKind::Vllm, &cluster).cost_model(bare.clone(), bw);
    assert_eq!(vllm.gemm(&g), bare.gemm(&wide));
    // one GEMM of the same type keeps its fp8 kernel and pays the quantisation
    let single = Gemm { count: 1, ..g };
    assert!(vllm.gemm(&single) > bare.gemm(&single));
    // SGLang keeps fp8 for the batched product too
    let sglang = preset(EngineKind::Sglang, &cluster);
    assert!(!sglang.kernels.batched_gemms_16bit);
    let q = sglang.kernels.fp8_gemm_input_quant.unwrap();
    let sglang = sglang.cost_model(bare.clone(), bw);
    assert_eq!(sglang.gemm(&g), bare.gemm(&g) + q.seconds(128, 128, 16));
}

#[test]
fn blackwell_nvfp4_gemms_pay_their_quantisation() {
    let cluster = Cluster::parse("1x8xB200").unwrap();
    let bare = cost_model_for(&cluster, CostModelChoice::Auto).unwrap();
    let trt = preset(EngineKind::Trtllm, &cluster);
    let q = trt.kernels.fp4_gemm_input_quant.unwrap();
    assert_eq!(
        Some(q),
        gemm_input_quant(EngineKind::Trtllm, "B200", InputQuant::Fp4)
    );
    let model = trt.cost_model(bare.clone(), cluster.gpu.memory_bandwidth);
    let g = gemm(8, 51_200, 5120, DType::Fp4);
    assert_eq!(model.gemm(&g), bare.gemm(&g) + q.seconds(8, 5120, 1));
    // fp4 weights on bf16 inputs (weight-only) quantise nothing
    let w4a16 = Gemm {
        act_dtype: DType::Bf16,
        ..g
    };
    assert_eq!(model.gemm(&w4a16), bare.gemm(&w4a16));
    let mut bad = trt.clone();
    bad.kernels.fp4_gemm_input_quant = Some(GemmInputQuant {
        fixed_s: -1.0,
        per_element_s: 0.0,
    });
    let msg = bad.validate().unwrap_err().to_string();
    assert!(
        msg.contains("kernels.fp4_gemm_input_quant.fixed_s"),
        "{msg}"
    );
}
