//! TensorRT-LLM's and SGLang's measured fused-MoE kernels (`data/fused-moe/`, NVIDIA's
//! aiconfigurator sweeps) in their engine models.

use crate::common;
use parallax_hw::profile::CostModelChoice;
use parallax_hw::{catalog, Cluster};
use parallax_ir::lower::fused_moe_op;
use parallax_ir::{Moe, Precision};
use parallax_plan::{EngineKind, EngineModel, MeasuredFusedMoe};

/// The routed experts of the embedded Qwen3-30B-A3B (2,048 → 768, 128 experts, top-8, gated).
fn qwen3_30b_moe() -> Moe {
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    *model.first_moe().unwrap()
}

/// DeepSeek-V3's routed experts (256 of 7,168 → 2,048, top-8, gated).
fn deepseek_v3_moe() -> Moe {
    Moe {
        hidden: 7168,
        experts: 256,
        top_k: 8,
        expert_intermediate: 2048,
        shared_experts: 1,
        shared_intermediate: 2048,
        gated: true,
        bias: false,
    }
}

fn preset(kind: EngineKind, gpu: &str) -> EngineModel {
    common::preset(kind, &catalog::gpu(gpu).unwrap(), 1)
}

#[test]
fn tensorrt_llm_and_sglang_on_h100_and_h200_have_their_own_tables() {
    use MeasuredFusedMoe as M;
    let pick = |k, g| preset(k, g).kernels.fused_moe_measured;
    assert_eq!(pick(EngineKind::Trtllm, "H100-SXM"), Some(M::TrtllmH100));
    assert_eq!(pick(EngineKind::Trtllm, "H200"), Some(M::TrtllmH200));
    assert_eq!(pick(EngineKind::Sglang, "H100-SXM"), Some(M::SglangH100));
    assert_eq!(pick(EngineKind::Sglang, "H200"), Some(M::SglangH200));
    // vLLM's kernel is the embedded profiles' own table
    assert_eq!(pick(EngineKind::Vllm, "H100-SXM"), None);
    assert_eq!(pick(EngineKind::Trtllm, "A100-80GB-SXM"), None);
    assert_eq!(pick(EngineKind::Sglang, "B200"), None);
    for (i, m) in M::ALL.into_iter().enumerate() {
        assert_eq!(m as usize, i, "{m:?}");
    }
}

#[test]
fn sglang_prices_moe_from_its_own_kernels() {
    // DeepSeek-V3's block-scaled fp8 experts over 8 H200s (32 local experts, 4,096 tokens):
    // SGLang 0.5.9's Triton kernel works on the rank's own pairs, 0.88942 ms; vLLM 0.14.0's
    // walks every token of the layer, 1.58641 ms.
    let v3 = deepseek_v3_moe();
    let fp8 = Precision::default().quantized(parallax_ir::Quantization::Fp8);
    let block = Precision {
        fp8_block_scales: true,
        ..fp8
    };
    let op = fused_moe_op(&v3, 4096, 1, 8, &block);
    assert!(op.block_scales);
    let t = MeasuredFusedMoe::SglangH200.seconds(&op).unwrap();
    assert!((t / 0.88942e-3 - 1.0).abs() < 1e-9, "{t}");
    let profiled = profiled("H200");
    let v = profiled.fused_moe(&op);
    assert!((v / 1.58641e-3 - 1.0).abs() < 1e-9, "{v}");
    // through the SGLang preset's cost model
    let gpu = catalog::gpu("H200").unwrap();
    let sglang =
        preset(EngineKind::Sglang, "H200").cost_model(profiled.clone(), gpu.memory_bandwidth);
    assert_eq!(sglang.fused_moe(&op), t);
    // SGLang's sweeps measured no per-tensor fp8: its own block-scaled kernel (more scaling
    // work, the same Triton kernel) prices it, not vLLM's per-tensor configs, which walk
    // every token of the layer under EP and run 1.8x slower here
    let tensor = fused_moe_op(&v3, 4096, 1, 8, &fp8);
    assert!(!tensor.block_scales);
    assert_eq!(MeasuredFusedMoe::SglangH200.seconds(&tensor), Some(t));
    assert_eq!(sglang.fused_moe(&tensor), t);
    assert!(profiled.fused_moe(&tensor) > 1.5 * t);
    // so per-tensor fp8 experts are never slower than bf16 ones at prefill sizes (vLLM's
    // per-tensor configs were, 1.48 against SGLang's bf16 0.81 ms at 4,096 tokens of
    // Qwen3-30B-A3B on an H100)
    let q = qwen3_30b_moe();
    for gpu in ["H100-SXM", "H200"] {
        let table = preset(EngineKind::Sglang, gpu)
            .kernels
            .fused_moe_measured
            .unwrap();
        for tokens in [1u64, 16, 256, 1024, 4096, 16384] {
            let b = table
                .seconds(&fused_moe_op(&q, tokens, 1, 1, &Precision::default()))
                .unwrap();
            let f = table
                .seconds(&fused_moe_op(&q, tokens, 1, 1, &fp8))
                .unwrap();
            assert!(f <= b, "{gpu} {tokens}: fp8 {f} > bf16 {b}");
        }
    }
}

#[test]
fn tensorrt_llm_prices_moe_from_its_kernel() {
    let gpu = catalog::gpu("H100-SXM").unwrap();
    let profiled = profiled("H100");
    let trt =
        preset(EngineKind::Trtllm, "H100-SXM").cost_model(profiled.clone(), gpu.memory_bandwidth);
    let bf16 = Precision::default();
    // A measured point (0.88192 ms on an H100 SXM): exact, and below vLLM's Triton kernel,
    // which the profile's own table holds (1.58 ms).
    let big = fused_moe_op(&qwen3_30b_moe(), 4096, 1, 1, &bf16);
    assert!(
        (trt.fused_moe(&big) / 0.88192e-3 - 1.0).abs() < 1e-9,
        "{}",
        trt.fused_moe(&big)
    );
    assert!(trt.fused_moe(&big) < 0.6 * profiled.fused_moe(&big));
    // Decode sizes: both kernels read the same weights, within 10 %.
    let small = fused_moe_op(&qwen3_30b_moe(), 32, 1, 1, &bf16);
    assert!((trt.fused_moe(&small) / profiled.fused_moe(&small) - 1.0).abs() < 0.1);
    // Non-gated experts and unmeasured shapes: the cost model's kernel.
    let plain = Moe {
        gated: false,
        ..qwen3_30b_moe()
    };
    let op = fused_moe_op(&plain, 4096, 1, 1, &bf16);
    assert_eq!(trt.fused_moe(&op), profiled.fused_moe(&op));
    let odd = Moe {
        hidden: 1024,
        ..qwen3_30b_moe()
    };
    let op = fused_moe_op(&odd, 4096, 1, 1, &bf16);
    assert_eq!(trt.fused_moe(&op), profiled.fused_moe(&op));
    assert_eq!(MeasuredFusedMoe::TrtllmH200.seconds(&op), None);
}

#[test]
fn expert_parallel_layers_are_priced_from_their_own_measurements() {
    // DeepSeek-V3's routed experts (256 of 7,168 → 2,048, top-8) split over 8 GPUs: each
    // holds 32 experts and receives an eighth of the 4,096 tokens' pairs. The measured
    // points (H200, bf16): TensorRT-LLM 0.922315 ms, vLLM's Triton kernel 2.17932 ms.
    let v3 = deepseek_v3_moe();
    let op = fused_moe_op(&v3, 4096, 1, 8, &Precision::default());
    assert_eq!((op.local_experts, op.assignments), (32, 4096));
    let t = MeasuredFusedMoe::TrtllmH200.seconds(&op).unwrap();
    assert!((t / 0.922315e-3 - 1.0).abs() < 1e-9, "{t}");
    let profiled = profiled("H200");
    let v = profiled.fused_moe(&op);
    assert!((v / 2.17932e-3 - 1.0).abs() < 1e-9, "{v}");
}

#[test]
fn weight_only_mxfp4_experts_are_priced_from_their_own_measurements() {
    // gpt-oss-120b's routed experts: MXFP4 weights on bf16 GEMMs (Hopper has no fp4 tensor
    // cores), 128 of 2,880 → 2,880, top-4. The measured point (TensorRT-LLM 1.2.0rc5 on an
    // H200, 4,096 tokens, every expert on the GPU) is about twice the roofline's kernel.
    let model = parallax_ir::resolve("gpt-oss-120b").unwrap();
    let moe = *model.first_moe().unwrap();
    let op = fused_moe_op(&moe, 4096, 1, 1, &model.precision);
    assert_eq!(
        (op.weight_dtype, op.act_dtype),
        (parallax_ir::DType::Fp4, parallax_ir::DType::Bf16)
    );
    let t = MeasuredFusedMoe::TrtllmH200.seconds(&op).unwrap();
    let measured = 1e-3 * measured_ms("w4a16_mxfp4,4096,2880,2880,4,128,1,1,");
    assert!((t / measured - 1.0).abs() < 1e-9, "{t} vs {measured}");
    let gpu = catalog::gpu("H200").unwrap();
    let roof = parallax_hw::RooflineModel::calibrated(&gpu);
    use parallax_hw::CostModel;
    assert!(t > 1.5 * roof.fused_moe(&op));
}

/// The latency (ms) of the first H200 row of the TensorRT-LLM extract starting with `key`
/// after the kernel name.
fn measured_ms(key: &str) -> f64 {
    include_str!("../data/fused-moe/h200_sxm-trtllm-1.2.0rc5.csv")
        .lines()
        .find_map(|l| l.strip_prefix("moe_torch_flow,")?.strip_prefix(key))
        .and_then(|rest| rest.rsplit(',').next()?.parse().ok())
        .unwrap()
}

#[test]
fn expert_parallel_rows_keep_the_layer_they_were_measured_on() {
    // gpt-oss-120b at EP 4 holds 32 of its 128 experts per GPU, as gpt-oss-20b holds all of
    // its 32: the same local shape, but the EP kernel still routes every token of the layer.
    // Each is priced from its own rows.
    let big = parallax_ir::resolve("gpt-oss-120b").unwrap();
    let small = parallax_ir::resolve("gpt-oss-20b").unwrap();
    let moe = |m: &parallax_ir::Model| *m.first_moe().unwrap();
    let ep4 = fused_moe_op(&moe(&big), 16384, 1, 4, &big.precision);
    let all = fused_moe_op(&moe(&small), 4096, 1, 1, &small.precision);
    assert_eq!((ep4.local_experts, ep4.layer_experts), (32, 128));
    assert_eq!((all.local_experts, all.layer_experts), (32, 32));
    // the same pairs per GPU (16,384 · 4 / 4 = 4,096 · 4)
    assert_eq!(ep4.assignments, all.assignments);
    let m = MeasuredFusedMoe::TrtllmH200;
    let (a, b) = (m.seconds(&ep4).unwrap(), m.seconds(&all).unwrap());
    let ms = |key| 1e-3 * measured_ms(key);
    assert!(
        (a / ms("w4a16_mxfp4,16384,2880,2880,4,128,1,4,") - 1.0).abs() < 1e-9,
        "{a}"
    );
    assert!(
        (b / ms("w4a16_mxfp4,4096,2880,2880,4,32,1,1,") - 1.0).abs() < 1e-9,
        "{b}"
    );
}

#[test]
fn eplb_ranks_are_priced_on_their_layouts_measured_kernel() {
    // DeepSeek-V3's experts over 8 ranks with one redundant expert per rank (EPLB): a rank
    // holds 33 slots, a layout the sweeps never measured. Its pairs are priced on the EP 8
    // kernel (32 of 256 experts), so EPLB is compared with plain EP on one kernel, not on the
    // roofline's (about half vLLM's measured time at prefill sizes).
    use parallax_ir::routing::{fused_moe_op_with_load, ExpertLoad};
    let v3 = deepseek_v3_moe();
    let bf16 = Precision::default();
    let load = ExpertLoad::zipf(256, 0.5, 7).unwrap();
    let plain = fused_moe_op_with_load(&v3, 4096, 1, 8, &bf16, &load, 0).unwrap();
    let eplb = fused_moe_op_with_load(&v3, 4096, 1, 8, &bf16, &load, 8).unwrap();
    assert_eq!((plain.local_experts, eplb.local_experts), (32, 33));
    assert!(
        eplb.assignments < plain.assignments,
        "redundancy evens the busiest rank"
    );
    let profiled = profiled("H200");
    let gpu = catalog::gpu("H200").unwrap();
    let roof = parallax_hw::RooflineModel::calibrated(&gpu);
    use parallax_hw::CostModel;
    let (p, e) = (profiled.fused_moe(&plain), profiled.fused_moe(&eplb));
    assert!(e < p, "{e} vs {p}");
    assert!(e > 1.5 * roof.fused_moe(&eplb), "{e}");
}

/// The profiled cost model (the embedded profile's tables, vLLM's kernels) of one `gpu`.
fn profiled(gpu: &str) -> std::sync::Arc<dyn parallax_hw::CostModel> {
    let cluster = Cluster::parse(&format!("1x{gpu}")).unwrap();
    parallax_hw::profile::cost_model_for(&cluster, CostModelChoice::Profiled).unwrap()
}
