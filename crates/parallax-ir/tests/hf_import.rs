//! Import of every embedded Hugging Face config and the structure it produces.

use parallax_ir::hf::{from_json_str, load};
use parallax_ir::{embedded, resolve, AttentionKind, Cell, DType, Model};
use std::path::PathBuf;

fn model(name: &str) -> Model {
    resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/models")
}

/// (layers per block, repeat) of each run.
fn shape(m: &Model) -> Vec<(u32, u32)> {
    m.runs
        .iter()
        .map(|r| (r.block.layers(), r.repeat))
        .collect()
}

#[test]
fn every_config_file_imports() {
    let mut n = 0;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let m = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(m.layers() > 0 && m.params_total() > 0, "{}", path.display());
        n += 1;
    }
    assert_eq!(n, embedded().len());
    assert_eq!(n, 33);
}

#[test]
fn resolve_accepts_short_names_hf_ids_and_paths() {
    let a = model("llama-3.1-70b");
    let b = model("meta-llama/Llama-3.1-70B");
    let c = model("META-LLAMA/llama-3.1-70b");
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.name, "llama-3.1-70b");
    let path = data_dir().join("meta-llama--Llama-3.1-70B.json");
    let d = resolve(path.to_str().unwrap()).unwrap();
    assert_eq!(d.name, "meta-llama--Llama-3.1-70B");
    assert_eq!(d.runs, a.runs);
    // `_name_or_path` names a model imported from a file.
    let e = load(&data_dir().join("meta-llama--Llama-2-7b-hf.json")).unwrap();
    assert_eq!(e.name, "meta-llama/Llama-2-7b-hf");
    for short in [
        "mixtral-8x7b",
        "mixtral-8x22b",
        "qwen3-30b-a3b",
        "deepseek-v3",
        "gpt-oss-120b",
        "llama-3.1-405b",
        "llama-3.1-8b",
    ] {
        assert_eq!(model(short).name, short);
    }
}

#[test]
fn short_names_are_unique_and_lowercase() {
    let mut names: Vec<&str> = embedded().iter().map(|e| e.short_name).collect();
    assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
    names.sort();
    names.dedup();
    assert_eq!(names.len(), embedded().len());
}

#[test]
fn deepseek_v3_has_three_dense_then_58_moe_blocks() {
    let m = model("deepseek-v3");
    assert_eq!(shape(&m), vec![(1, 3), (1, 58)]);
    assert!(matches!(m.runs[0].block.cells[3], Cell::Mlp(ref x) if x.intermediate == 18432));
    match &m.runs[1].block.cells[3] {
        Cell::Moe(x) => {
            assert_eq!((x.experts, x.top_k, x.expert_intermediate), (256, 8, 2048));
            assert_eq!((x.shared_experts, x.shared_intermediate), (1, 2048));
        }
        other => panic!("expected MoE, got {other:?}"),
    }
    match &m.runs[0].block.cells[1] {
        Cell::Attention(a) => assert_eq!(
            a.kind,
            AttentionKind::Mla {
                heads: 128,
                q_lora_rank: Some(1536),
                kv_lora_rank: 512,
                qk_nope_head_dim: 128,
                qk_rope_head_dim: 64,
                v_head_dim: 128
            }
        ),
        other => panic!("expected attention, got {other:?}"),
    }
    assert_eq!(m.precision.weights, DType::Fp8);
    assert_eq!(
        (m.precision.compute, m.precision.activations),
        (DType::Fp8, DType::Bf16)
    );
    assert_eq!(m.precision.activations, DType::Bf16);
    assert_eq!(m.precision.kv_cache, DType::Bf16);
}

#[test]
fn llama4_maverick_alternates_dense_and_moe() {
    let m = model("llama-4-maverick");
    assert_eq!(shape(&m), vec![(2, 24)]);
    let cells = &m.runs[0].block.cells;
    assert_eq!(cells.len(), 8);
    assert!(matches!(cells[3], Cell::Mlp(ref x) if x.intermediate == 16384));
    match &cells[7] {
        Cell::Moe(x) => {
            assert_eq!((x.experts, x.top_k, x.expert_intermediate), (128, 1, 8192));
            assert_eq!((x.shared_experts, x.shared_intermediate), (1, 8192));
        }
        other => panic!("expected MoE, got {other:?}"),
    }
    assert_eq!(m.hidden_size, 5120);
    assert_eq!(m.vocab_size, 202048);
    // Scout: every layer is MoE.
    let s = model("llama-4-scout");
    assert_eq!(shape(&s), vec![(1, 48)]);
    assert!(matches!(s.runs[0].block.cells[3], Cell::Moe(ref x) if x.experts == 16));
}

#[test]
fn gpt_oss_alternates_sliding_and_full_attention() {
    let m = model("gpt-oss-120b");
    assert_eq!(shape(&m), vec![(2, 18)]);
    let cells = &m.runs[0].block.cells;
    match (&cells[1], &cells[5]) {
        (Cell::Attention(s), Cell::Attention(f)) => {
            assert_eq!(s.sliding_window, Some(128));
            assert_eq!(f.sliding_window, None);
            for a in [s, f] {
                assert!(a.sinks && a.qkv_bias && a.o_bias);
                assert_eq!(
                    a.kind,
                    AttentionKind::Standard {
                        heads: 64,
                        kv_heads: 8,
                        head_dim: 64
                    }
                );
            }
        }
        other => panic!("unexpected cells {other:?}"),
    }
    assert!(matches!(cells[3], Cell::Moe(ref x) if x.bias && x.experts == 128 && x.top_k == 4));
    // mxfp4 covers the routed experts only (weight-only, W4A16); attention stays bf16
    assert_eq!(m.precision.weights, DType::Bf16);
    assert_eq!(m.precision.compute, DType::Bf16);
    assert_eq!(m.precision.experts, Some((DType::Fp4, DType::Bf16)));
    assert_eq!(m.precision.kv_cache, DType::Bf16);
}

#[test]
fn family_details() {
    let m = model("mistral-7b");
    assert!(
        matches!(m.runs[0].block.cells[1], Cell::Attention(ref a) if a.sliding_window == Some(4096))
    );
    let m = model("qwen2.5-7b");
    assert!(
        matches!(m.runs[0].block.cells[1], Cell::Attention(ref a) if a.qkv_bias && !a.o_bias && a.sliding_window.is_none())
    );
    let m = model("qwen3-32b");
    // head_dim is explicit: 64 × 128 ≠ hidden 5120.
    assert!(
        matches!(m.runs[0].block.cells[1], Cell::Attention(ref a) if a.kind == AttentionKind::Standard { heads: 64, kv_heads: 8, head_dim: 128 })
    );
    let m = model("mistral-nemo");
    assert!(
        matches!(m.runs[0].block.cells[1], Cell::Attention(ref a) if a.kind == AttentionKind::Standard { heads: 32, kv_heads: 8, head_dim: 128 })
    );
    let m = model("llama-2-13b");
    assert_eq!(m.precision, parallax_ir::Precision::uniform(DType::F16));
    assert!(
        matches!(m.runs[0].block.cells[1], Cell::Attention(ref a) if a.kind == AttentionKind::Standard { heads: 40, kv_heads: 40, head_dim: 128 })
    );
    let m = model("mixtral-8x7b");
    assert!(
        matches!(m.runs[0].block.cells[3], Cell::Moe(ref x) if x.experts == 8 && x.top_k == 2 && x.expert_intermediate == 14336 && x.shared_experts == 0)
    );
    assert_eq!(m.architecture, "MixtralForCausalLM");
}

#[test]
fn qwen3_moe_layer_selection() {
    let base = parallax_ir::catalog::embedded()
        .iter()
        .find(|e| e.short_name == "qwen3-30b-a3b")
        .unwrap()
        .json;
    let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
    v["mlp_only_layers"] = serde_json::json!([0, 1]);
    let m = from_json_str(&v.to_string(), "q.json").unwrap();
    assert_eq!(shape(&m), vec![(1, 2), (1, 46)]);
    assert!(matches!(m.runs[0].block.cells[3], Cell::Mlp(ref x) if x.intermediate == 6144));
    v["mlp_only_layers"] = serde_json::json!([]);
    v["decoder_sparse_step"] = serde_json::json!(2);
    let m = from_json_str(&v.to_string(), "q.json").unwrap();
    // Layers 1, 3, 5, ... are sparse: a dense+MoE block repeated.
    assert_eq!(shape(&m), vec![(2, 24)]);
    assert!(matches!(m.runs[0].block.cells[3], Cell::Mlp(_)));
    assert!(matches!(m.runs[0].block.cells[7], Cell::Moe(_)));
}

#[test]
fn qwen_sliding_window_applies_from_max_window_layers() {
    let base = parallax_ir::catalog::embedded()
        .iter()
        .find(|e| e.short_name == "qwen2.5-7b")
        .unwrap()
        .json;
    let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
    v["use_sliding_window"] = serde_json::json!(true);
    v["sliding_window"] = serde_json::json!(4096);
    v["max_window_layers"] = serde_json::json!(20);
    let m = from_json_str(&v.to_string(), "q.json").unwrap();
    assert_eq!(shape(&m), vec![(1, 20), (1, 8)]);
    assert!(
        matches!(m.runs[1].block.cells[1], Cell::Attention(ref a) if a.sliding_window == Some(4096))
    );
}

#[test]
fn model_round_trips_through_serde() {
    for e in embedded() {
        let m = e.model().unwrap();
        let s = serde_json::to_string(&m).unwrap();
        let back: Model = serde_json::from_str(&s).unwrap();
        assert_eq!(back, m, "{}", e.short_name);
    }
}

#[test]
fn a_checkout_directory_resolves_to_its_config_and_is_named_after_it() {
    let dir = std::env::temp_dir().join(format!("parallax-ir-checkout-{}", std::process::id()));
    let model_dir = dir.join("My-Model-7B");
    std::fs::create_dir_all(&model_dir).unwrap();
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/models/mistralai--Mistral-7B-v0.1.json"
    );
    std::fs::copy(src, model_dir.join("config.json")).unwrap();
    let m = parallax_ir::resolve(model_dir.to_str().unwrap()).unwrap();
    assert_eq!(m.name, "My-Model-7B");
    assert_eq!(m.layers(), 32);
    let missing = parallax_ir::resolve(dir.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("config.json"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn minimax_m2_and_multimodal_wrappers() {
    use parallax_ir::hf::from_json_str;
    use parallax_ir::model::Cell;
    // MiniMax-M2's layout (its config.json, scaled down): Mixtral-style experts, explicit
    // head_dim, no shared expert when shared_intermediate_size is 0.
    let m2 = serde_json::json!({
        "architectures": ["MiniMaxM2ForCausalLM"], "model_type": "minimax_m2",
        "hidden_size": 384, "num_hidden_layers": 4, "num_attention_heads": 6,
        "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 192,
        "num_local_experts": 32, "num_experts_per_tok": 8, "shared_intermediate_size": 0,
        "vocab_size": 2000, "max_position_embeddings": 8192, "use_mtp": true,
        "num_mtp_modules": 3
    });
    let m = from_json_str(&m2.to_string(), "m2.json").unwrap();
    let moe = m.runs[0].block.cells.iter().find_map(|c| match c {
        Cell::Moe(x) => Some(*x),
        _ => None,
    });
    let moe = moe.expect("MoE layers");
    assert_eq!(
        (moe.experts, moe.top_k, moe.expert_intermediate),
        (32, 8, 192)
    );
    assert_eq!(moe.shared_experts, 0);
    assert_eq!(m.layers(), 4);
    let mut shared = m2.clone();
    shared["shared_intermediate_size"] = 512.into();
    let m = from_json_str(&shared.to_string(), "m2s.json").unwrap();
    let moe = m.runs[0].block.cells.iter().find_map(|c| match c {
        Cell::Moe(x) => Some(*x),
        _ => None,
    });
    assert_eq!(
        moe.map(|x| (x.shared_experts, x.shared_intermediate)),
        Some((1, 512))
    );

    // Qwen3-VL: an unknown wrapper whose text_config is Qwen3; the wrapper names the model's
    // architecture, the language model its shape.
    let vl = serde_json::json!({
        "architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl",
        "text_config": {"model_type": "qwen3_vl_text", "hidden_size": 256,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 64, "intermediate_size": 512, "vocab_size": 1000,
            "max_position_embeddings": 4096},
        "vision_config": {"depth": 27}
    });
    let m = from_json_str(&vl.to_string(), "vl.json").unwrap();
    assert_eq!(m.architecture, "Qwen3VLForConditionalGeneration");
    assert_eq!(m.layers(), 3);
    // An unknown wrapper around an unknown language model is still refused, by its own name.
    let mut bad = vl.clone();
    bad["text_config"]["model_type"] = "mystery_text".into();
    let e = from_json_str(&bad.to_string(), "bad.json").unwrap_err();
    assert!(
        e.to_string().contains("Qwen3VLForConditionalGeneration"),
        "{e}"
    );
}

#[test]
fn kimi_minimax_and_qwen3_coder_match_their_model_cards() {
    // (short name, total parameters, active parameters, weight GiB range) as published:
    // Kimi K2 1.04T / 32B active (fp8 checkpoint), Kimi K2.5 the same with int4 routed
    // experts, MiniMax-M2.5 230B / 10B (fp8), Qwen3-Coder-480B-A35B (bf16).
    for (name, total_b, active_b, gib) in [
        ("kimi-k2", 1030.0, 32.9, 930.0..980.0),
        ("kimi-k2.5", 1030.0, 32.9, 470.0..520.0),
        ("minimax-m2.5", 229.0, 11.0, 200.0..225.0),
        ("qwen3-coder-480b-a35b", 480.0, 35.5, 880.0..910.0),
    ] {
        let m = model(name);
        let total = m.params_total() as f64 / 1e9;
        let active = m.params_active() as f64 / 1e9;
        let weights = m.weight_bytes() / (1u64 << 30) as f64;
        assert!((total / total_b - 1.0).abs() < 0.01, "{name}: {total}B");
        assert!(
            (active / active_b - 1.0).abs() < 0.02,
            "{name}: {active}B active"
        );
        assert!(gib.contains(&weights), "{name}: {weights} GiB");
    }
    assert_eq!(
        model("kimi-k2.5").architecture,
        "KimiK25ForConditionalGeneration"
    );
    assert_eq!(
        model("kimi-k2.5").precision.experts,
        Some((DType::Int4, DType::Bf16))
    );
}

#[test]
fn sparse_attention_configs() {
    use parallax_ir::hf::from_json_str;
    let v32 = model("deepseek-v3.2");
    let v3 = model("deepseek-v3");
    // The indexer adds wq_b (1536 → 64×128), wk + weights_proj (7168 → 128 + 64) and a
    // LayerNorm per layer: 0.85B parameters, replicated on every rank.
    let extra = v32.params_total() - v3.params_total();
    assert_eq!(extra, 61 * (1536 * 64 * 128 + 7168 * (128 + 64) + 2 * 128));
    let glm = model("glm-5");
    assert!((glm.params_total() as f64 / 1e9 - 744.0).abs() < 2.0);
    // GLM-5.2's shared indexers, and what is refused.
    let base = serde_json::json!({
        "architectures": ["GlmMoeDsaForCausalLM"], "hidden_size": 256,
        "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512,
        "moe_intermediate_size": 64, "n_routed_experts": 8, "n_shared_experts": 1,
        "num_experts_per_tok": 2, "first_k_dense_replace": 1, "q_lora_rank": 128,
        "kv_lora_rank": 64, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16,
        "v_head_dim": 32, "vocab_size": 1000, "max_position_embeddings": 4096,
        "index_topk": 512, "index_n_heads": 8, "index_head_dim": 64
    });
    // Per layer, in order: whether its attention has an indexer of its own.
    let indexers = |cfg: &serde_json::Value| -> Result<Vec<bool>, String> {
        let m = from_json_str(&cfg.to_string(), "g.json").map_err(|e| e.to_string())?;
        let mut own = Vec::new();
        for run in &m.runs {
            for _ in 0..run.repeat {
                for c in &run.block.cells {
                    if let Cell::Attention(a) = c {
                        own.push(a.sparse.unwrap().indexer.is_some());
                    }
                }
            }
        }
        Ok(own)
    };
    assert_eq!(indexers(&base).unwrap(), vec![true; 4]);
    let mut shared = base.clone();
    shared["indexer_types"] = serde_json::json!(["full", "shared", "shared", "full"]);
    shared["index_topk_freq"] = 4.into();
    assert_eq!(indexers(&shared).unwrap(), vec![true, false, false, true]);
    for (types, want) in [
        (
            serde_json::json!(["shared", "full", "full", "full"]),
            "shared",
        ),
        (serde_json::json!(["full", "shared"]), "2 entries"),
    ] {
        let mut bad = base.clone();
        bad["indexer_types"] = types;
        let e = indexers(&bad).unwrap_err();
        assert!(e.contains("indexer_types") && e.contains(want), "{e}");
    }
    // The indexer's key projection is stored in the activation type: DeepSeek-V3.2's fp8
    // checkpoint holds 61 × 7168 × 192 of them at 2 bytes, not 1 (beside the embedding, the
    // LM head, two norms per layer and the 58 MoE layers' routers, also 16-bit).
    let fp8 = v32.precision.weights.bytes();
    assert_eq!(fp8, 1.0);
    let extra = v32.weight_bytes() - v32.params_total() as f64 * fp8;
    let head_norms_routers =
        v32.unquantised_head_params() as f64 + 61.0 * 2.0 * 7168.0 + 58.0 * 7168.0 * 256.0;
    assert_eq!(extra - head_norms_routers, 61.0 * 7168.0 * 192.0);
    let mut bad = base.clone();
    bad["indexer_types"] = serde_json::json!(["full", "half", "shared", "full"]);
    let e = indexers(&bad).unwrap_err();
    assert!(e.contains("indexer_types") && e.contains("half"), "{e}");
    let mut bad = base.clone();
    bad["index_topk_freq"] = 4.into();
    let e = indexers(&bad).unwrap_err();
    assert!(e.contains("index_topk_freq") && e.contains('4'), "{e}");
    let mut bad = base.clone();
    bad.as_object_mut().unwrap().remove("index_n_heads");
    let e = indexers(&bad).unwrap_err();
    assert!(e.contains("index_n_heads"), "{e}");
}

/// The multi-token-prediction modules a checkpoint ships are counted apart from its layers.
#[test]
fn mtp_layers_are_counted_not_served() {
    let v3 = parallax_ir::resolve("deepseek-v3").unwrap();
    assert_eq!(v3.mtp_layers, 1);
    assert_eq!(v3.layers(), 61);
    assert_eq!(parallax_ir::resolve("llama-3.1-8b").unwrap().mtp_layers, 0);
    // a negative or absurd count is a named error
    let bad = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
        "num_attention_heads":4,"num_key_value_heads":4,"num_hidden_layers":2,"vocab_size":100,
        "max_position_embeddings":128,"num_nextn_predict_layers":-1}"#;
    let e = parallax_ir::hf::from_json_str(bad, "bad.json").unwrap_err();
    assert!(e.to_string().contains("num_nextn_predict_layers"), "{e}");
}
