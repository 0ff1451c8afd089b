//! Bad configs give typed errors that name the file, the field and the value.

use parallax_ir::hf::{from_json_str, load};
use parallax_ir::{resolve, IrError};
use serde_json::{json, Value};

fn llama() -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 128256, "max_position_embeddings": 131072, "torch_dtype": "bfloat16"
    })
}

fn import(v: &Value) -> Result<parallax_ir::Model, IrError> {
    from_json_str(&v.to_string(), "cfg.json")
}

#[test]
fn baseline_imports() {
    assert!(import(&llama()).is_ok());
}

#[test]
fn missing_field() {
    let mut v = llama();
    v.as_object_mut().unwrap().remove("intermediate_size");
    let e = import(&v).unwrap_err();
    assert_eq!(
        e,
        IrError::MissingField {
            file: "cfg.json".into(),
            field: "intermediate_size".into()
        }
    );
    assert!(e.to_string().contains("cfg.json") && e.to_string().contains("intermediate_size"));
    // null counts as missing.
    let mut v = llama();
    v["vocab_size"] = Value::Null;
    assert!(
        matches!(import(&v), Err(IrError::MissingField { ref field, .. }) if field == "vocab_size")
    );
}

#[test]
fn zero_negative_fractional_huge_and_string_values() {
    for (bad, shown) in [
        (json!(0), "0"),
        (json!(-4), "-4"),
        (json!(12.5), "12.5"),
        (json!("4096"), "\"4096\""),
        (json!(1u64 << 40), "1099511627776"),
    ] {
        let mut v = llama();
        v["hidden_size"] = bad;
        match import(&v) {
            Err(IrError::InvalidValue {
                file, field, value, ..
            }) => {
                assert_eq!((file.as_str(), field.as_str()), ("cfg.json", "hidden_size"));
                assert_eq!(value, shown);
            }
            other => panic!("expected InvalidValue for {shown}, got {other:?}"),
        }
    }
}

#[test]
fn heads_not_divisible() {
    let mut v = llama();
    v["num_attention_heads"] = json!(30);
    let e = import(&v).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. } if field == "hidden_size" && value == "4096"),
        "{msg}"
    );
    assert!(msg.contains("num_attention_heads (30)"), "{msg}");

    let mut v = llama();
    v["num_key_value_heads"] = json!(5);
    let e = import(&v).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. } if field == "num_key_value_heads" && value == "5"),
        "{e}"
    );
}

#[test]
fn unsupported_architecture_lists_supported() {
    let mut v = llama();
    v["architectures"] = json!(["FalconForCausalLM"]);
    v["model_type"] = json!("falcon");
    let e = import(&v).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, IrError::UnsupportedArchitecture { ref name, .. } if name == "FalconForCausalLM")
    );
    for s in [
        "LlamaForCausalLM",
        "DeepseekV3ForCausalLM",
        "GptOssForCausalLM",
        "Qwen3MoeForCausalLM",
    ] {
        assert!(msg.contains(s), "{msg}");
    }
}

#[test]
fn json_syntax_error_has_line_and_column() {
    let e = from_json_str("{\n  \"hidden_size\": 4096,\n  oops\n}", "bad.json").unwrap_err();
    match e {
        IrError::Json {
            file, line, column, ..
        } => {
            assert_eq!(file, "bad.json");
            assert_eq!(line, 3);
            assert!(column > 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        from_json_str("[1, 2]", "a.json"),
        Err(IrError::Json { .. })
    ));
    assert!(matches!(
        from_json_str("", "a.json"),
        Err(IrError::Json { .. })
    ));
}

#[test]
fn nested_fields_are_named_with_their_path() {
    let json = parallax_ir::catalog::embedded()
        .iter()
        .find(|e| e.short_name == "llama-4-scout")
        .unwrap()
        .json;
    let mut v: Value = serde_json::from_str(json).unwrap();
    v["text_config"]["num_local_experts"] = json!(0);
    let e = import(&v).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, .. } if field == "text_config.num_local_experts"),
        "{e}"
    );
}

#[test]
fn moe_and_layer_type_errors() {
    let mut v = llama();
    v["architectures"] = json!(["MixtralForCausalLM"]);
    v["num_local_experts"] = json!(8);
    v["num_experts_per_tok"] = json!(9);
    let e = import(&v).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, ref value, .. } if field == "num_experts_per_tok" && value == "9"),
        "{e}"
    );

    let mut v = llama();
    v["layer_types"] = json!(["full_attention"]);
    assert!(
        matches!(import(&v), Err(IrError::InvalidValue { ref field, .. }) if field == "layer_types")
    );
    let mut v = llama();
    v["layer_types"] = json!(vec!["diagonal_attention"; 32]);
    let e = import(&v).unwrap_err();
    assert!(e.to_string().contains("diagonal_attention"), "{e}");
    let mut v = llama();
    v["layer_types"] = json!(vec!["sliding_attention"; 32]);
    assert!(
        matches!(import(&v), Err(IrError::MissingField { ref field, .. }) if field == "sliding_window")
    );
}

#[test]
fn bad_precision_fields() {
    let mut v = llama();
    v["torch_dtype"] = json!("float13");
    assert!(
        matches!(import(&v), Err(IrError::InvalidValue { ref field, ref value, .. }) if field == "torch_dtype" && value == "\"float13\"")
    );
    let mut v = llama();
    v["quantization_config"] = json!({"quant_method": "bitsandbytes"});
    let e = import(&v).unwrap_err();
    assert!(
        matches!(e, IrError::InvalidValue { ref field, .. } if field == "quantization_config.quant_method"),
        "{e}"
    );
    let mut v = llama();
    v["quantization_config"] = json!({"quant_method": "gptq", "bits": 3});
    assert!(
        matches!(import(&v), Err(IrError::InvalidValue { ref field, .. }) if field == "quantization_config.bits")
    );
    let mut v = llama();
    v["quantization_config"] = json!({"quant_method": "awq", "bits": 4});
    assert_eq!(
        import(&v).unwrap().precision.weights,
        parallax_ir::DType::Int4
    );
}

#[test]
fn unknown_model_and_missing_file() {
    let e = resolve("llama-3.1-7b").unwrap_err();
    match &e {
        IrError::UnknownModel { spec, suggestions } => {
            assert_eq!(spec, "llama-3.1-7b");
            assert_eq!(suggestions.len(), 3);
            assert!(
                suggestions.iter().any(|s| s.starts_with("llama-3.1")),
                "{suggestions:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let e = resolve("mixtral").unwrap_err();
    assert!(e.to_string().contains("mixtral-8x7b"), "{e}");
    // An unrelated name gets no suggestion (it got the three "closest" before).
    match resolve("nope").unwrap_err() {
        IrError::UnknownModel { suggestions, .. } => assert!(suggestions.is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(!resolve("nope")
        .unwrap_err()
        .to_string()
        .contains("did you mean"));
    let e = resolve("/nonexistent/config.json").unwrap_err();
    assert!(matches!(e, IrError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/config.json"));
    assert!(load(std::path::Path::new("/nonexistent.json")).is_err());
}

/// A config.json saved with a UTF-8 byte-order mark reads as without one (serde_json refused
/// it at line 1, column 1).
#[test]
fn config_files_with_a_byte_order_mark_load() {
    let dir = std::env::temp_dir().join(format!("parallax-ir-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 1000, "max_position_embeddings": 256,
        "torch_dtype": "bfloat16"}"#;
    let plain = dir.join("plain.json");
    let bom = dir.join("bom.json");
    std::fs::write(&plain, text).unwrap();
    std::fs::write(&bom, format!("\u{feff}{text}")).unwrap();
    let a = parallax_ir::hf::load(&plain).unwrap();
    let b = parallax_ir::hf::load(&bom).unwrap();
    assert_eq!(
        (a.max_position_embeddings, a.precision),
        (b.max_position_embeddings, b.precision)
    );
    assert_eq!(b.max_position_embeddings, 256);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn read_text_refuses_devices_and_directories_instead_of_reading_forever() {
    // `/dev/zero` never ends: reading it would exhaust memory
    let e = parallax_ir::read_text(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let e = parallax_ir::read_text(&std::env::temp_dir()).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");
    // a model spec naming a device is refused the same way, with the path
    let e = parallax_ir::resolve("/dev/zero").unwrap_err().to_string();
    assert!(e.contains("/dev/zero"), "{e}");
}

/// A key given twice is refused with its line, not read as its last value (serde_json's
/// `Value` would keep `"hidden_size": 8192` below without a word).
#[test]
fn a_repeated_key_is_refused_with_its_line() {
    let text = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4096,\n\
        \"num_hidden_layers\": 32, \"num_attention_heads\": 32, \"num_key_value_heads\": 8,\n\
        \"intermediate_size\": 14336, \"vocab_size\": 128256, \"hidden_size\": 8192,\n\
        \"max_position_embeddings\": 131072, \"torch_dtype\": \"bfloat16\"}";
    let e = from_json_str(text, "dup.json").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("dup.json") && msg.contains("`hidden_size` appears twice"),
        "{msg}"
    );
    assert!(matches!(e, IrError::Json { line: 3, .. }), "{e:?}");
    // nested objects too (a quantization_config with two quant_methods)
    let nested = text.replace(
        "\"hidden_size\": 8192,",
        "\"quantization_config\": {\"quant_method\": \"fp8\", \"quant_method\": \"awq\"},",
    );
    let msg = from_json_str(&nested, "dup.json").unwrap_err().to_string();
    assert!(msg.contains("`quant_method` appears twice"), "{msg}");
}

/// `_name_or_path` names the model in every report: a terminal escape in it, or a value that is
/// not a string, is refused rather than printed raw or silently replaced by the file name.
#[test]
fn a_name_with_control_characters_or_of_another_type_is_refused() {
    let mut v = llama();
    v["_name_or_path"] = json!("evil\u{1b}[2Jname");
    let e = import(&v).unwrap_err().to_string();
    assert!(
        e.contains("_name_or_path") && e.contains("\\u{1b}[2J") && !e.contains('\u{1b}'),
        "{e}"
    );
    v["_name_or_path"] = json!(42);
    let e = import(&v).unwrap_err().to_string();
    assert!(
        e.contains("_name_or_path") && e.contains("42") && e.contains("a string"),
        "{e}"
    );
    v["_name_or_path"] = json!("org/My-Model");
    assert_eq!(import(&v).unwrap().name, "org/My-Model");
    v["_name_or_path"] = serde_json::Value::Null;
    assert_eq!(import(&v).unwrap().name, "cfg");
}
