//! Decode attention over an fp8 KV cache as the engines' Hopper kernels run it: bounded by the
//! dequantisation of every cached element, at least a measured fraction of the bf16 cache's
//! time (`engine::fp8_kv_decode_ratio`, from NVIDIA's aiconfigurator sweeps), not half.

use crate::common;
use parallax_hw::profile::{cost_model_for, CostModelChoice};
use parallax_hw::{catalog, Cluster, CostModel};
use parallax_ir::{AttentionShape, DType, DecodeGroup};
use parallax_plan::engine::fp8_kv_decode_ratio;
use parallax_plan::EngineKind;
use std::sync::Arc;

/// Qwen3-32B's attention at TP 1 (64 query heads, 8 KV heads of 128) on a `kv` cache.
fn gqa(kv: DType) -> AttentionShape {
    AttentionShape {
        heads: 64,
        kv_heads: 8,
        qk_head_dim: 128,
        v_head_dim: 128,
        kv_bytes_per_token: 2.0 * 8.0 * 128.0 * kv.bytes(),
        window: None,
        act_dtype: DType::Bf16,
        kv_dtype: kv,
    }
}

/// The engine's cost model on one GPU of `cluster`, and the bare cost model under it.
fn models(kind: EngineKind, cluster: &str) -> (Arc<dyn CostModel>, Arc<dyn CostModel>) {
    let cluster = Cluster::parse(cluster).unwrap();
    let engine = common::preset(kind, &cluster.gpu, 1);
    let bare = cost_model_for(&cluster, CostModelChoice::Auto).unwrap();
    (
        engine.cost_model(bare.clone(), cluster.gpu.memory_bandwidth),
        bare,
    )
}

#[test]
fn fractions_are_measured_on_hopper_only() {
    // vLLM V0's fp8-cache kernel (0.6's) was not measured.
    assert_eq!(fp8_kv_decode_ratio(EngineKind::VllmV0, "H100-SXM"), None);
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        for gpu in ["H100-SXM", "H200"] {
            let r = fp8_kv_decode_ratio(kind, gpu).unwrap();
            // More than half the bytes' time, less than the bf16 cache's.
            assert!(r > 0.5 && r < 0.9, "{kind:?} {gpu}: {r}");
        }
        for gpu in ["B200", "GB200", "H100-PCIe", "A100-80GB-SXM"] {
            assert_eq!(fp8_kv_decode_ratio(kind, gpu), None, "{kind:?} {gpu}");
        }
    }
    // vLLM's and SGLang's kernels gain less on the H200's faster memory; TensorRT-LLM's
    // about halves either way.
    for kind in [EngineKind::Vllm, EngineKind::Sglang] {
        assert!(fp8_kv_decode_ratio(kind, "H200") > fp8_kv_decode_ratio(kind, "H100-SXM"));
    }
    assert!(fp8_kv_decode_ratio(EngineKind::Trtllm, "H200").unwrap() < 0.55);
}

/// A large fp8-cache decode (64 requests of 8,192 tokens: 1 GiB of bf16 cache) on an H100
/// takes the engine's fraction of the bf16 cache's time where that is more than the cost
/// model's; a bf16 cache and a small decode keep the cost model's time.
#[test]
fn large_fp8_decodes_take_the_kernels_fraction() {
    let big = DecodeGroup::uniform(64, 8192);
    for (kind, gpu) in [
        (EngineKind::Vllm, "H100-SXM"),
        (EngineKind::Sglang, "H200"),
        (EngineKind::Trtllm, "H100-SXM"),
    ] {
        let (engine, bare) = models(kind, &format!("1x1x{gpu}"));
        let ratio = fp8_kv_decode_ratio(kind, gpu).unwrap();
        let t = engine.decode_attention(&gqa(DType::Fp8), &big);
        let bf16 = engine.decode_attention(&gqa(DType::Bf16), &big);
        assert_eq!(bf16, bare.decode_attention(&gqa(DType::Bf16), &big));
        let priced = bare.decode_attention(&gqa(DType::Fp8), &big);
        assert_eq!(t, priced.max(ratio * bf16), "{kind:?}");
        assert!(t < bf16, "{kind:?}: {t} vs {bf16}");
        if kind != EngineKind::Trtllm {
            // the cost model halves the bytes: 0.5-0.55 of the bf16 time
            assert!(t > priced * 1.2, "{kind:?}: {t} vs {priced}");
        }
        // A small decode is bound by the kernel's fixed cost, not the cache.
        let small = DecodeGroup::uniform(1, 128);
        assert_eq!(
            engine.decode_attention(&gqa(DType::Fp8), &small),
            bare.decode_attention(&gqa(DType::Fp8), &small)
        );
    }
    // An MLA latent cache (576 elements per token read as keys and values) is not the
    // kernel measured: unchanged.
    let (engine, bare) = models(EngineKind::Vllm, "1x1xH200");
    let mla = AttentionShape {
        heads: 16,
        kv_heads: 1,
        qk_head_dim: 576,
        v_head_dim: 512,
        kv_bytes_per_token: 576.0,
        window: None,
        act_dtype: DType::Bf16,
        kv_dtype: DType::Fp8,
    };
    assert_eq!(
        engine.decode_attention(&mla, &big),
        bare.decode_attention(&mla, &big)
    );
}

#[test]
fn blackwell_fp8_decodes_are_unchanged() {
    let big = DecodeGroup::uniform(64, 8192);
    let gpu = catalog::gpu("B200").unwrap();
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        let preset = common::preset(kind, &gpu, 1);
        assert_eq!(preset.kernels.fp8_kv_decode_vs_bf16, None, "{kind:?}");
        let (engine, bare) = models(kind, "1x1xB200");
        assert_eq!(
            engine.decode_attention(&gqa(DType::Fp8), &big),
            bare.decode_attention(&gqa(DType::Fp8), &big)
        );
    }
    // An int8 cache was not measured: unchanged on Hopper too.
    let (engine, bare) = models(EngineKind::Vllm, "1x1xH100");
    assert_eq!(
        engine.decode_attention(&gqa(DType::Int8), &big),
        bare.decode_attention(&gqa(DType::Int8), &big)
    );
}

#[test]
fn fractions_outside_zero_one_are_refused() {
    let gpu = catalog::gpu("H100").unwrap();
    let mut e = common::preset(EngineKind::Vllm, &gpu, 1);
    assert!(e.validate().is_ok());
    for bad in [0.0, 1.5, f64::NAN] {
        e.kernels.fp8_kv_decode_vs_bf16 = Some(bad);
        let msg = e.validate().unwrap_err().to_string();
        assert!(msg.contains("fp8_kv_decode_vs_bf16"), "{msg}");
    }
}
