//! `quantization_config` formats of real checkpoints, and the precision they give.
//!
//! The JSON objects follow the key layout that vLLM's quantisation loaders read
//! (`model_executor/layers/quantization/{fp8,fbgemm_fp8,compressed_tensors,modelopt,gptq,awq,
//! mxfp4}.py`).

use parallax_ir::hf::from_json_str;
use parallax_ir::{DType, IrError, KvCacheDtype, Precision, Quantization};
use serde_json::{json, Value};

fn llama(q: Value) -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 128256, "max_position_embeddings": 131072, "torch_dtype": "bfloat16",
        "quantization_config": q
    })
}

fn precision(q: Value) -> Result<Precision, IrError> {
    from_json_str(&llama(q).to_string(), "cfg.json").map(|m| m.precision)
}

/// (weights, compute, activations, kv).
fn types(p: Precision) -> (DType, DType, DType, DType) {
    (p.weights, p.compute, p.activations, p.kv_cache)
}

use DType::{Bf16, Fp4, Fp8, Int4, Int8};

#[test]
fn fp8_per_tensor_and_block_scaled() {
    let p = precision(json!({"quant_method": "fp8", "activation_scheme": "static"})).unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Bf16));
    let p = precision(
        json!({"quant_method": "fp8", "activation_scheme": "dynamic",
        "fmt": "e4m3", "weight_block_size": [128, 128]}),
    )
    .unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Bf16));
    let e = precision(json!({"quant_method": "fp8", "weight_block_size": [128]})).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. }
        if field == "quantization_config.weight_block_size" && value == "[128]"),
        "{e}"
    );
}

#[test]
fn fbgemm_fp8() {
    let p = precision(
        json!({"quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0,
        "modules_to_not_convert": ["lm_head"]}),
    )
    .unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Bf16));
}

#[test]
fn compressed_tensors_schemes() {
    // FP8-dynamic (W8A8 fp8) with an fp8 KV cache.
    let p = precision(json!({
        "quant_method": "compressed-tensors", "format": "float-quantized",
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": true},
            "input_activations": {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": true}
        }},
        "kv_cache_scheme": {"num_bits": 8, "type": "float", "strategy": "tensor"},
        "ignore": ["lm_head"]
    }))
    .unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Fp8));
    // W4A16 (GPTQ-style, pack-quantized): weight-only.
    let p = precision(json!({
        "quant_method": "compressed-tensors", "format": "pack-quantized",
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "int", "group_size": 128, "strategy": "group"},
            "input_activations": null
        }}
    }))
    .unwrap();
    assert_eq!(types(p), (Int4, Bf16, Bf16, Bf16));
    // W8A8 int8 (SmoothQuant-style).
    let p = precision(json!({
        "quant_method": "compressed-tensors", "format": "int-quantized",
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 8, "type": "int"},
            "input_activations": {"num_bits": 8, "type": "int", "dynamic": true}
        }}
    }))
    .unwrap();
    assert_eq!(types(p), (Int8, Int8, Bf16, Bf16));
    // NVFP4 (W4A4).
    let p = precision(json!({
        "quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "float", "group_size": 16},
            "input_activations": {"num_bits": 4, "type": "float", "group_size": 16}
        }}
    }))
    .unwrap();
    assert_eq!(types(p), (Fp4, Fp4, Bf16, Bf16));
    // Errors name the group and the field.
    let e = precision(json!({
        "quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 3, "type": "int"}}}
    }))
    .unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. }
        if field == "quantization_config.config_groups.group_0.weights.num_bits"
            && value.starts_with('3')),
        "{e}"
    );
    let e = precision(json!({"quant_method": "compressed-tensors"})).unwrap_err();
    assert!(
        matches!(e, IrError::MissingField { ref field, .. }
        if field == "quantization_config.config_groups"),
        "{e}"
    );
}

#[test]
fn modelopt_flat_and_nested() {
    let p = precision(json!({"quant_method": "modelopt", "quant_algo": "FP8",
        "kv_cache_quant_algo": "FP8"}))
    .unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Fp8));
    let p = precision(json!({"quant_method": "modelopt",
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": null,
            "group_size": 16, "exclude_modules": ["lm_head"]}}))
    .unwrap();
    assert_eq!(types(p), (Fp4, Fp4, Bf16, Bf16));
    let p = precision(json!({"quant_method": "modelopt_fp4"})).unwrap();
    assert_eq!(types(p), (Fp4, Fp4, Bf16, Bf16));
    let p = precision(json!({"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"})).unwrap();
    assert_eq!(types(p), (Int4, Fp8, Bf16, Bf16));
    let e = precision(json!({"quant_method": "modelopt", "quant_algo": "INT3"})).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. }
        if field == "quantization_config.quant_algo" && value == "\"INT3\""),
        "{e}"
    );
}

#[test]
fn gptq_awq_mxfp4() {
    let p = precision(json!({"quant_method": "gptq", "bits": 4, "group_size": 128,
        "desc_act": false, "sym": true}))
    .unwrap();
    assert_eq!(types(p), (Int4, Bf16, Bf16, Bf16));
    let p = precision(json!({"quant_method": "gptq", "bits": 8})).unwrap();
    assert_eq!(types(p), (Int8, Bf16, Bf16, Bf16));
    let p = precision(
        json!({"quant_method": "awq", "w_bit": 4, "q_group_size": 128,
        "zero_point": true, "version": "gemm"}),
    )
    .unwrap();
    assert_eq!(types(p), (Int4, Bf16, Bf16, Bf16));
    let p = precision(json!({"quant_method": "mxfp4",
        "modules_to_not_convert": ["model.layers.*.self_attn", "model.embed_tokens", "lm_head"]}))
    .unwrap();
    // only the routed experts are mxfp4
    assert_eq!(types(p), (Bf16, Bf16, Bf16, Bf16));
    assert_eq!(p.experts, Some((Fp4, Bf16)));
    let e = precision(json!({"quant_method": "bitsandbytes"})).unwrap_err();
    assert!(
        e.to_string().contains("bitsandbytes") && e.to_string().contains("modelopt"),
        "{e}"
    );
}

#[test]
fn float8_torch_dtype_keeps_activations_wide() {
    let mut v = llama(Value::Null);
    v["torch_dtype"] = json!("float8");
    let p = from_json_str(&v.to_string(), "cfg.json").unwrap().precision;
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Bf16));
}

#[test]
fn cli_overrides() {
    let base = Precision::default();
    assert_eq!(
        types(base.quantized(Quantization::Nvfp4)),
        (Fp4, Fp4, Bf16, Bf16)
    );
    assert_eq!(
        types(base.quantized(Quantization::Mxfp4)),
        (Fp4, Bf16, Bf16, Bf16)
    );
    assert_eq!(
        types(base.quantized(Quantization::Int8)),
        (Int8, Bf16, Bf16, Bf16)
    );
    let fp8kv = base.with_kv_cache(KvCacheDtype::Fp8);
    assert_eq!(types(fp8kv), (Bf16, Bf16, Bf16, Fp8));
    assert_eq!(fp8kv.with_kv_cache(KvCacheDtype::Bf16), base);
}

#[test]
fn modelopt_without_a_quant_method() {
    // ModelOpt's config.json export of Qwen3-32B-FP8-Static-PerTensor: no `quant_method`, the
    // KV algorithm as a string.
    let p = precision(json!({
        "config_groups": {"group_0": {
            "input_activations": {"dynamic": false, "num_bits": 8, "type": "float"},
            "weights": {"dynamic": false, "num_bits": 8, "type": "float"}}},
        "ignore": ["lm_head"], "quant_algo": "FP8", "kv_cache_scheme": "FP8",
        "producer": {"name": "modelopt", "version": "0.31.0"}
    }))
    .unwrap();
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Fp8));
    let e = precision(json!({"quant_algo": "FP8", "kv_cache_scheme": "INT3"})).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. }
        if field == "quantization_config.kv_cache_scheme" && value == "\"INT3\""),
        "{e}"
    );
    // Nothing says what it is: still an error naming the field.
    let e = precision(json!({"bits": 4})).unwrap_err();
    assert!(
        e.to_string().contains("quantization_config.quant_method"),
        "{e}"
    );
}

#[test]
fn hf_quant_config_beside_the_config() {
    use parallax_ir::hf::{from_json_str_with_quant, load};
    let mut cfg = llama(Value::Null);
    cfg.as_object_mut().unwrap().remove("quantization_config");
    let quant = json!({"producer": {"name": "modelopt", "version": "0.19.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8",
        "group_size": 16, "exclude_modules": ["lm_head"]}});
    let p = from_json_str_with_quant(
        &cfg.to_string(),
        "config.json",
        Some((&quant.to_string(), "hf_quant_config.json")),
    )
    .unwrap()
    .precision;
    assert_eq!(types(p), (Fp4, Fp4, Bf16, Fp8));
    // A bad file beside it is named in the error.
    let e = from_json_str_with_quant(
        &cfg.to_string(),
        "config.json",
        Some((
            "{\"quantization\": {\"quant_algo\": \"FP5\"}}",
            "hf_quant_config.json",
        )),
    )
    .unwrap_err();
    assert!(e.to_string().contains("hf_quant_config.json"), "{e}");
    assert!(e.to_string().contains("FP5"), "{e}");
    // On disk: a checkout's hf_quant_config.json, and aiconfigurator's NAME_hf_quant_config.json.
    let dir = std::env::temp_dir().join(format!("parallax-hfq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    assert_eq!(
        load(&dir.join("config.json")).unwrap().precision.weights,
        Bf16
    );
    std::fs::write(dir.join("hf_quant_config.json"), quant.to_string()).unwrap();
    assert_eq!(
        load(&dir.join("config.json")).unwrap().precision.weights,
        Fp4
    );
    std::fs::write(dir.join("m_config.json"), cfg.to_string()).unwrap();
    std::fs::write(dir.join("m_hf_quant_config.json"), quant.to_string()).unwrap();
    assert_eq!(
        load(&dir.join("m_config.json")).unwrap().precision.weights,
        Fp4
    );
    // The config's own quantization_config wins.
    let own = llama(json!({"quant_method": "fp8"}));
    std::fs::write(dir.join("config.json"), own.to_string()).unwrap();
    assert_eq!(
        load(&dir.join("config.json")).unwrap().precision.weights,
        Fp8
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compressed_tensors_experts_only() {
    // Kimi K2.5: int4 routed experts; attention, shared experts and dense MLPs ignored.
    let cfg = json!({
        "architectures": ["DeepseekV3ForCausalLM"], "hidden_size": 1024,
        "num_hidden_layers": 4, "num_attention_heads": 8, "intermediate_size": 2048,
        "moe_intermediate_size": 256, "n_routed_experts": 16, "n_shared_experts": 1,
        "num_experts_per_tok": 4, "first_k_dense_replace": 1, "q_lora_rank": 256,
        "kv_lora_rank": 128, "qk_nope_head_dim": 64, "qk_rope_head_dim": 32,
        "v_head_dim": 64, "vocab_size": 1000, "max_position_embeddings": 4096,
        "torch_dtype": "bfloat16",
        "quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized",
            "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": null,
                "weights": {"num_bits": 4, "type": "int", "group_size": 32,
                "strategy": "group", "symmetric": true}}},
            "ignore": ["lm_head", "re:.*self_attn.*", "re:.*shared_experts.*",
                "re:.*mlp\\.(gate|up|gate_up|down)_proj.*"]}
    });
    let p = from_json_str(&cfg.to_string(), "k.json").unwrap().precision;
    assert_eq!(types(p), (Bf16, Bf16, Bf16, Bf16));
    assert_eq!(p.experts, Some((Int4, Bf16)));
    // The same layout with block-scaled fp8 experts: the block scales are the experts' only;
    // quantising the dense layers online to fp8 gives them per-tensor scales and leaves the
    // experts' alone.
    let mut cfg = cfg;
    cfg["quantization_config"]["config_groups"]["group_0"] = json!({"targets": ["Linear"],
        "weights": {"num_bits": 8, "type": "float", "strategy": "block",
            "block_structure": [128, 128]},
        "input_activations": {"num_bits": 8, "type": "float", "strategy": "group",
            "group_size": 128, "dynamic": true}});
    let p = from_json_str(&cfg.to_string(), "k.json").unwrap().precision;
    assert_eq!(types(p), (Bf16, Bf16, Bf16, Bf16));
    assert_eq!(p.experts, Some((Fp8, Fp8)));
    assert!(!p.fp8_block_scales && p.expert_block_scales());
    assert_eq!(
        p.to_string(),
        "weights bf16 (bf16 GEMMs), routed experts fp8 block-scaled (fp8 GEMMs), activations \
         bf16, kv cache bf16"
    );
    let q = p.quantized(Quantization::Fp8);
    assert!(!q.fp8_block_scales && q.expert_block_scales());
    assert_eq!(
        q.to_string(),
        "weights fp8 (fp8 GEMMs), routed experts fp8 block-scaled (fp8 GEMMs), activations \
         bf16, kv cache bf16"
    );
    // Re-quantising the experts online drops their block scales, unless fp8 onto fp8.
    assert!(!p
        .with_experts_quantized(Quantization::Int4)
        .expert_block_scales());
    assert!(p
        .with_experts_quantized(Quantization::Fp8)
        .expert_block_scales());
    // A block-scaled checkpoint (DeepSeek-V3's layout) quantised online to int4: neither keeps
    // block scales.
    let ds = Precision {
        fp8_block_scales: true,
        ..Precision::from_checkpoint_dtype(Fp8)
    };
    let w4 = ds.quantized(Quantization::Int4);
    assert!(!w4.fp8_block_scales && !w4.expert_block_scales());
    let f8 = ds.quantized(Quantization::Fp8);
    assert!(f8.fp8_block_scales && f8.expert_block_scales());
}

#[test]
fn quantisation_edge_cases_of_real_files() {
    use parallax_ir::hf::{from_json_str_with_quant, load};
    // hf_quant_config.json files write `kv_cache_quant_algo: null` when the KV stays as is.
    let mut cfg = llama(Value::Null);
    cfg.as_object_mut().unwrap().remove("quantization_config");
    let q = json!({"producer": {"name": "modelopt"},
        "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": null}});
    let p = from_json_str_with_quant(
        &cfg.to_string(),
        "config.json",
        Some((&q.to_string(), "hf_quant_config.json")),
    )
    .unwrap()
    .precision;
    assert_eq!(types(p), (Fp8, Fp8, Bf16, Bf16));
    // A malformed file beside the config is named.
    for bad in ["{\"quantization\": ", "[1, 2]"] {
        let e = from_json_str_with_quant(
            &cfg.to_string(),
            "config.json",
            Some((bad, "dir/hf_quant_config.json")),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("dir/hf_quant_config.json"), "{bad}: {e}");
    }
    // A router-only ignore list quantises the whole model, not the experts alone.
    let p = precision(json!({"quant_method": "compressed-tensors",
        "config_groups": {"g": {"targets": ["Linear"], "input_activations": null,
            "weights": {"num_bits": 4, "type": "int"}}},
        "ignore": ["lm_head", "re:.*self_attn.*", "re:.*mlp.gate$"]}))
    .unwrap();
    assert_eq!(types(p), (Int4, Bf16, Bf16, Bf16));
    assert_eq!(p.experts, None);
    // The file beside is not read when the config quantises itself (here it is a folder,
    // which cannot be read).
    let dir = std::env::temp_dir().join(format!("parallax-hfq2-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("hf_quant_config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        llama(json!({"quant_method": "fp8"})).to_string(),
    )
    .unwrap();
    assert_eq!(
        load(&dir.join("config.json")).unwrap().precision.weights,
        Fp8
    );
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    assert!(load(&dir.join("config.json")).is_ok_and(|m| m.precision.weights == Bf16));
    std::fs::remove_dir_all(&dir).unwrap();
}
