//! The engines' fp8 linear layers pay for quantising their inputs: a fixed time per GEMM and a
//! time per input element, fitted on NVIDIA's aiconfigurator sweeps of each engine's own bf16
//! and fp8 layers (`engine::fp8_gemm_input_quant`; extract, source and licence in
//! `tests/data/aiconfigurator-fp8-gemm/`).

use parallax_hw::profile::{cost_model_for, CostModelChoice};
use parallax_hw::{catalog, Cluster, CostModel, RooflineModel};
use parallax_ir::{DType, Gemm};
use parallax_plan::engine::{fp8_gemm_input_quant, Fp8InputQuant};
use parallax_plan::{EngineContext, EngineKind, EngineModel};

/// `(engine, catalogue GPU, extract)` of every fitted pair.
const FILES: [(EngineKind, &str, &str); 6] = [
    (
        EngineKind::Trtllm,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-trtllm-1.3.0rc20.csv"),
    ),
    (
        EngineKind::Trtllm,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-trtllm-1.3.0rc20.csv"),
    ),
    (
        EngineKind::Sglang,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-sglang-0.5.6.post2.csv"),
    ),
    (
        EngineKind::Sglang,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-sglang-0.5.6.post2.csv"),
    ),
    (
        EngineKind::Vllm,
        "H100-SXM",
        include_str!("data/aiconfigurator-fp8-gemm/h100_sxm-vllm-0.19.0.csv"),
    ),
    (
        EngineKind::Vllm,
        "H200",
        include_str!("data/aiconfigurator-fp8-gemm/h200_sxm-vllm-0.19.0.csv"),
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

/// `(m, k, roofline-scaled bf16 seconds, measured fp8 seconds)` of every shape of `text`, the
/// fp8 layer's per-tensor or (`block`) block-scaled.
fn rows(gpu: &str, text: &str, block: bool) -> Vec<(f64, f64, f64, f64)> {
    let roof = RooflineModel::calibrated(&catalog::gpu(gpu).unwrap());
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("m,n,k,bf16_ms,fp8_ms,fp8_block_ms"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 6, "{l}");
            let (m, n, k): (u64, u64, u64) = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            );
            let bf16: f64 = f[3].parse().unwrap();
            let fp8: f64 = f[if block { 5 } else { 4 }].parse().unwrap();
            let r = roof.gemm(&gemm(m, n, k, DType::Fp8)) / roof.gemm(&gemm(m, n, k, DType::Bf16));
            (m as f64, k as f64, r * bf16 * 1e-3, fp8 * 1e-3)
        })
        .collect()
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
    let ctx = EngineContext {
        gpu: &cluster.gpu,
        tp: 1,
        max_model_len: 8192,
        mla_or_sliding_window: false,
        fp8_block_scales: false,
    };
    EngineModel::preset(kind, &ctx)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median |relative error| of the fp8 layer's time without and with `q`.
fn errors(rows: &[(f64, f64, f64, f64)], q: Fp8InputQuant) -> (f64, f64) {
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
    for ((engine, gpu, text), block) in FILES.into_iter().flat_map(|f| [(f, false), (f, true)]) {
        let rows = rows(gpu, text, block);
        assert_eq!(rows.len(), 500, "{engine:?} {gpu}");
        let (fixed, per) = fit(&rows);
        let q = fp8_gemm_input_quant(engine, gpu, block).unwrap();
        // the constants keep three significant digits
        assert!(
            (q.fixed_s / fixed - 1.0).abs() < 0.01 && (q.per_element_s / per - 1.0).abs() < 0.02,
            "{engine:?} {gpu} block {block}: fitted {fixed:.3e} s + {per:.3e} s/element, \
             shipped {q:?}"
        );
        let (without, with) = errors(&rows, q);
        eprintln!("{engine:?} {gpu} block {block}: median |error| {without:.3} -> {with:.3}");
        assert!(
            with < without,
            "{engine:?} {gpu}: {without:.3} -> {with:.3}"
        );
        if engine == EngineKind::Trtllm && !block {
            // a dynamic scale and a cast: most of the error at small m
            assert!(
                without > 0.3 && with < 0.06,
                "{gpu}: {without:.3} -> {with:.3}"
            );
        }
    }
}

#[test]
fn measured_on_hopper_for_the_three_engines_only() {
    assert_eq!(
        fp8_gemm_input_quant(EngineKind::VllmV0, "H100-SXM", false),
        None
    );
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        for gpu in ["B200", "GB200", "H100-PCIe", "A100-80GB-SXM", "L40S"] {
            for block in [false, true] {
                assert_eq!(
                    fp8_gemm_input_quant(kind, gpu, block),
                    None,
                    "{kind:?} {gpu}"
                );
            }
        }
    }
    // vLLM's block-scaled layer quantises per 1×128 group in a kernel of its own: about 8 µs
    // per GEMM, against 1 µs per tensor.
    for gpu in ["H100-SXM", "H200"] {
        let (tensor, block) = (
            fp8_gemm_input_quant(EngineKind::Vllm, gpu, false).unwrap(),
            fp8_gemm_input_quant(EngineKind::Vllm, gpu, true).unwrap(),
        );
        assert!(block.fixed_s > 5.0 * tensor.fixed_s, "{gpu}");
    }
    // The preset takes the model's scales from its context.
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let block = EngineModel::preset(
        EngineKind::Vllm,
        &EngineContext {
            gpu: &cluster.gpu,
            tp: 1,
            max_model_len: 8192,
            mla_or_sliding_window: false,
            fp8_block_scales: true,
        },
    );
    assert_eq!(
        block.kernels.fp8_gemm_input_quant,
        fp8_gemm_input_quant(EngineKind::Vllm, "H200", true)
    );
    // TensorRT-LLM's dynamic scale costs the most per GEMM.
    for gpu in ["H100-SXM", "H200"] {
        let t = fp8_gemm_input_quant(EngineKind::Trtllm, gpu, false).unwrap();
        for kind in [EngineKind::Vllm, EngineKind::Sglang] {
            assert!(fp8_gemm_input_quant(kind, gpu, false).unwrap().fixed_s < t.fixed_s);
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
        e.kernels.fp8_gemm_input_quant = Some(Fp8InputQuant {
            fixed_s,
            per_element_s,
        });
        let msg = e.validate().unwrap_err().to_string();
        assert!(
            msg.contains(&format!("kernels.fp8_gemm_input_quant.{field}")),
            "{msg}"
        );
    }
    // An engine file written before the field existed reads as none.
    let mut json = serde_json::to_value(&ok).unwrap();
    json["kernels"]
        .as_object_mut()
        .unwrap()
        .remove("fp8_gemm_input_quant");
    let back: EngineModel = serde_json::from_value(json).unwrap();
    assert_eq!(back.kernels.fp8_gemm_input_quant, None);
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
