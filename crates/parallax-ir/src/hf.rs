//! Import of Hugging Face `config.json` files.
//!
//! Supported families ([`SUPPORTED`]): Llama 2/3/3.1 (`LlamaForCausalLM`), Llama 4
//! (`Llama4ForConditionalGeneration` / `Llama4ForCausalLM`, text fields under `text_config`),
//! Mistral, Mixtral, Qwen2/2.5, Qwen3, Qwen3-MoE, DeepSeek-V2/V3/R1 (and Kimi K2, model type
//! `kimi_k2`), DeepSeek-V3.2 and GLM-5 (sparse attention), gpt-oss and MiniMax-M2
//! (`MiniMaxM2ForCausalLM`: Mixtral-style experts, one shared expert when
//! `shared_intermediate_size` is not 0).
//!
//! A multimodal wrapper whose own class is unknown (Qwen3-VL's
//! `Qwen3VLForConditionalGeneration`, Kimi K2.5's `KimiK25ForConditionalGeneration`) is read
//! through its `text_config`, whose `architectures` or `model_type` (`qwen3_vl_text`,
//! `qwen3_vl_moe_text`, `DeepseekV3ForCausalLM`) must be one of these; the model keeps the
//! wrapper's name as its architecture. The vision tower is not modelled: requests are text
//! tokens (an image's tokens count as prompt tokens).
//!
//! # What is read
//! - Dimensions: `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
//!   `num_key_value_heads` (absent means multi-head attention, as in HF), `head_dim` (absent:
//!   `hidden_size / num_attention_heads`, which must divide), `intermediate_size`,
//!   `vocab_size`, `max_position_embeddings`, `tie_word_embeddings` (absent: false, the
//!   default of every supported family).
//! - Biases: `attention_bias` (q/k/v/o), Qwen2's fixed q/k/v bias, `mlp_bias`; gpt-oss has
//!   biases on every projection, the router and learned attention sinks.
//! - Sliding windows: `layer_types` (`sliding_attention` / `full_attention`) when present;
//!   otherwise Mistral/Mixtral's `sliding_window` on every layer, Qwen's `use_sliding_window`
//!   with `max_window_layers`.
//! - MoE: Mixtral/gpt-oss/Llama 4 `num_local_experts`, Qwen3-MoE `num_experts` +
//!   `moe_intermediate_size` + `decoder_sparse_step` + `mlp_only_layers`, DeepSeek
//!   `n_routed_experts` + `n_shared_experts` + `moe_intermediate_size` +
//!   `first_k_dense_replace` + `moe_layer_freq`, Llama 4 `interleave_moe_layer_step` (or
//!   `moe_layers`) with `intermediate_size_mlp` for dense layers, `intermediate_size` for each
//!   expert and one shared expert.
//! - DeepSeek MLA: `q_lora_rank` (null: full-rank query), `kv_lora_rank`, `qk_nope_head_dim`,
//!   `qk_rope_head_dim`, `v_head_dim`. DeepSeek Sparse Attention (`DeepseekV32ForCausalLM`,
//!   GLM-5's `GlmMoeDsaForCausalLM`): `index_topk`, `index_n_heads`, `index_head_dim`, and
//!   GLM-5.2's `indexer_types` (`full` / `shared`: a shared layer reuses an earlier selection
//!   and has no indexer; `index_topk_freq` other than 1 needs that list). The
//!   multi-token-prediction module (`num_nextn_predict_layers`) is not part of the serving
//!   model's layers; its count is kept ([`Model::mtp_layers`]) for speculative decoding.
//!
//! # Precision
//! Activations, collectives and the KV cache take `torch_dtype` (or `dtype`; absent: bf16); a
//! `torch_dtype` of 8 or 4 bits describes the stored weights only (activations then bf16, see
//! [`Precision::from_checkpoint_dtype`]). `quantization_config` sets the weight type and the
//! type GEMM inputs are quantised to (`Precision::compute`), and may set the KV-cache type:
//! - `fp8` (vLLM; per-tensor, or block-scaled with `weight_block_size` as in DeepSeek-V3/R1:
//!   [`crate::Precision::fp8_block_scales`], also set by compressed-tensors' `"strategy":
//!   "block"`, for the routed experts alone, [`crate::Precision::expert_fp8_block_scales`],
//!   when only they are quantised)
//!   and `fbgemm_fp8`: fp8 weights, fp8 GEMM inputs (W8A8);
//! - `compressed-tensors`: the first of `config_groups` (by name) targeting `Linear` gives
//!   `weights` and `input_activations` (`num_bits` 8/4, `type` int/float; `null` inputs:
//!   weight-only), `kv_cache_scheme` the KV type; an `ignore` list naming `self_attn` and the
//!   shared or dense MLPs (Kimi K2.5's int4 experts) quantises the routed experts only
//!   ([`Precision::experts`]);
//! - `modelopt` / `modelopt_fp4` (`quant_algo` at the top level or under `quantization`):
//!   `FP8`, `FP8_PER_CHANNEL_PER_TOKEN` (W8A8 fp8), `FP8_PB_WO` (fp8 weight-only), `NVFP4`
//!   (fp4 W4A4), `W4A8_AWQ` (int4 weights, fp8 inputs); `kv_cache_quant_algo: FP8` (or
//!   `kv_cache_scheme: "FP8"`) → fp8 KV. ModelOpt exports without a `quant_method` (a
//!   `producer.name` of `modelopt`, or a `quant_algo`) are read as `modelopt`; NVIDIA's ModelOpt
//!   checkpoints that keep their quantisation only in `hf_quant_config.json` are read from that
//!   file beside the config by [`load`] (`hf_quant_config.json` beside `config.json`,
//!   `NAME_hf_quant_config.json` beside `NAME_config.json` or `NAME.json`), or given to
//!   [`from_json_str_with_quant`];
//! - `gptq` / `awq` with `bits` (or AWQ's `w_bit`) 4 or 8: weight-only int4/int8;
//! - `mxfp4` (gpt-oss): the routed experts' weights in fp4, dequantised to the activation
//!   type (W4A16; [`Precision::experts`]); attention, router and embeddings stay in the
//!   checkpoint's type, as transformers' MXFP4 quantiser converts only the experts. gpt-oss-120b
//!   then holds 57.4 GiB of weights (the checkpoint: ≈ 61 GiB with the mxfp4 block scales).
//!
//! Any other `quant_method` is an error.
//!
//! Every problem is an [`IrError`] naming the file, the (dotted) field and its value.

use crate::dtype::{DType, Precision, Quantization};
use crate::error::IrError;
use crate::model::{
    Attention, AttentionKind, BlockRun, Cell, Indexer, Mlp, Model, Moe, Norm, SparseAttention,
};
use serde_json::{Map, Value};
use std::path::Path;

/// Architectures (`architectures[0]`) the importer accepts.
pub const SUPPORTED: &[&str] = &[
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "MixtralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "Llama4ForConditionalGeneration",
    "Llama4ForCausalLM",
    "GptOssForCausalLM",
    "MiniMaxM2ForCausalLM",
    "DeepseekV32ForCausalLM",
    "GlmMoeDsaForCausalLM",
];

/// Largest accepted width, head count, expert count or vocabulary (2²⁴).
pub const MAX_DIM: u32 = 1 << 24;
/// Largest accepted number of layers (2¹⁶).
pub const MAX_LAYERS: u32 = 1 << 16;
/// Largest accepted model, in parameters (2⁵³, so every count is exact in `f64`).
pub const MAX_PARAMS: u64 = 1 << 53;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Llama,
    Mistral,
    Mixtral,
    Qwen2,
    Qwen3,
    Qwen3Moe,
    Deepseek,
    Llama4,
    GptOss,
    MiniMaxM2,
}

/// Architecture names and model types of DeepSeek Sparse Attention models (DeepSeek-V3.2,
/// GLM-5), which must give `index_topk`, `index_n_heads` and `index_head_dim`.
const DSA_ARCHITECTURES: [&str; 4] = [
    "DeepseekV32ForCausalLM",
    "deepseek_v32",
    "GlmMoeDsaForCausalLM",
    "glm_moe_dsa",
];

fn family_of(name: &str) -> Option<Family> {
    Some(match name {
        "LlamaForCausalLM" | "llama" => Family::Llama,
        "MistralForCausalLM" | "mistral" => Family::Mistral,
        "MixtralForCausalLM" | "mixtral" => Family::Mixtral,
        "Qwen2ForCausalLM" | "qwen2" => Family::Qwen2,
        // Qwen3-VL's language model (`text_config.model_type`) is Qwen3 / Qwen3-MoE.
        "Qwen3ForCausalLM" | "qwen3" | "qwen3_vl_text" => Family::Qwen3,
        "Qwen3MoeForCausalLM" | "qwen3_moe" | "qwen3_vl_moe_text" => Family::Qwen3Moe,
        // Kimi K2 is DeepSeek-V3's architecture under its own model type.
        "DeepseekV2ForCausalLM"
        | "DeepseekV3ForCausalLM"
        | "deepseek_v2"
        | "deepseek_v3"
        | "kimi_k2" => Family::Deepseek,
        // DeepSeek-V3.2 and GLM-5: DeepSeek-V3's layout with sparse attention (`index_*`).
        _ if DSA_ARCHITECTURES.contains(&name) => Family::Deepseek,
        "Llama4ForConditionalGeneration" | "Llama4ForCausalLM" | "llama4" | "llama4_text" => {
            Family::Llama4
        }
        "GptOssForCausalLM" | "gpt_oss" => Family::GptOss,
        "MiniMaxM2ForCausalLM" | "minimax_m2" => Family::MiniMaxM2,
        _ => return None,
    })
}

/// Read a `config.json` file and import it.
///
/// # Arguments
/// - `path`: the file. Its file name is used in error messages; its stem is the model name
///   unless the file has `_name_or_path`.
///
/// # Returns
/// The model, [`IrError::Io`] when the file cannot be read, or any error of
/// [`from_json_str`].
pub fn load(path: &Path) -> Result<Model, IrError> {
    let read = |p: &Path| {
        crate::read_text(p).map_err(|e| IrError::Io {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let text = read(path)?;
    // The file beside is read only when the config has no quantisation of its own.
    let beside = || match hf_quant_config_beside(path).filter(|p| p.is_file()) {
        Some(p) => Ok(Some((read(&p)?, p.display().to_string()))),
        None => Ok(None),
    };
    import(&text, &path.display().to_string(), &beside)
}

/// A ModelOpt `hf_quant_config.json` on demand: `(text, file name)`, or `None` when there is
/// none.
type QuantSource<'a> = &'a dyn Fn() -> Result<Option<(String, String)>, IrError>;

/// The JSON object `text` (from `file`), or an error naming the file, line and column.
fn json_object(text: &str, file: &str) -> Result<Map<String, Value>, IrError> {
    let root: Value = crate::json::parse_unique(text).map_err(|e| IrError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match root {
        Value::Object(o) => Ok(o),
        other => Err(IrError::Json {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: format!("top level is {}, expected an object", kind_name(&other)),
        }),
    }
}

/// Where ModelOpt keeps a checkpoint's quantisation beside `config`: `hf_quant_config.json`
/// in a Hugging Face checkout (beside `config.json`); for a config saved as `NAME_config.json`
/// or `NAME.json`, `NAME_hf_quant_config.json`.
fn hf_quant_config_beside(config: &Path) -> Option<std::path::PathBuf> {
    let file = config.file_name()?.to_str()?;
    let quant = if file == "config.json" {
        "hf_quant_config.json".to_string()
    } else {
        let base = file
            .strip_suffix("_config.json")
            .or_else(|| file.strip_suffix(".json"))?;
        format!("{base}_hf_quant_config.json")
    };
    Some(config.with_file_name(quant))
}

/// Import a Hugging Face `config.json` given as text.
///
/// # Arguments
/// - `text`: the JSON.
/// - `source`: the file name used in error messages; its stem (without directories and
///   `.json`) names the model when the JSON has no `_name_or_path`.
///
/// # Returns
/// The model with consecutive identical layers grouped into [`BlockRun`]s, or a typed
/// [`IrError`]: JSON syntax (with line and column), missing field, invalid value (zero,
/// negative, non-integer, too large, heads not divisible, ...), unsupported architecture.
///
/// # Complexity
/// O(size of the text + layers · P) with P the longest repeating block searched
/// ([`crate::model::MAX_PATTERN`]).
///
/// # Examples
/// ```
/// let json = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
///   "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
///   "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 512}"#;
/// let m = parallax_ir::hf::from_json_str(json, "tiny.json").unwrap();
/// assert_eq!(m.layers(), 2);
/// assert_eq!(m.runs.len(), 1);
/// ```
pub fn from_json_str(text: &str, source: &str) -> Result<Model, IrError> {
    from_json_str_with_quant(text, source, None)
}

/// [`from_json_str`] with the checkpoint's ModelOpt `hf_quant_config.json` given as text
/// (`(text, file name)`), which sets the quantisation when `config.json` has no
/// `quantization_config` of its own (NVIDIA's ModelOpt checkpoints keep it only there).
///
/// # Examples
/// ```
/// let json = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
///   "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
///   "vocab_size": 1000, "max_position_embeddings": 512}"#;
/// let quant = r#"{"producer": {"name": "modelopt"},
///   "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}}"#;
/// let m = parallax_ir::hf::from_json_str_with_quant(json, "config.json",
///     Some((quant, "hf_quant_config.json"))).unwrap();
/// assert_eq!(m.precision.weights, parallax_ir::DType::Fp8);
/// assert_eq!(m.precision.kv_cache, parallax_ir::DType::Fp8);
/// ```
pub fn from_json_str_with_quant(
    text: &str,
    source: &str,
    quant: Option<(&str, &str)>,
) -> Result<Model, IrError> {
    let given = || Ok(quant.map(|(t, f)| (t.to_string(), f.to_string())));
    import(text, source, &given)
}

/// [`from_json_str_with_quant`] with the quantisation file asked for only when the config has
/// no `quantization_config` of its own.
fn import(text: &str, source: &str, quant: QuantSource<'_>) -> Result<Model, IrError> {
    let root = json_object(text, source)?;
    let root = &root;
    let top = Cfg {
        obj: root,
        prefix: String::new(),
        file: source,
    };
    // Llama 4 (and other multimodal wrappers) keep the language model under `text_config`.
    let cfg = match root.get("text_config") {
        Some(Value::Object(t)) => Cfg {
            obj: t,
            prefix: "text_config.".to_string(),
            file: source,
        },
        Some(Value::Null) | None => top.clone(),
        Some(other) => {
            return Err(IrError::invalid(
                source,
                "text_config",
                show(other),
                "an object",
            ))
        }
    };
    let (arch, family) = match architecture(&top) {
        Ok(found) => found,
        // A multimodal wrapper of its own (Qwen3-VL, Kimi K2.5): the family of its language
        // model; the name stays the wrapper's.
        Err(e @ IrError::UnsupportedArchitecture { .. }) if !cfg.prefix.is_empty() => {
            match architecture(&cfg) {
                Ok((_, family)) => (wrapper_name(&top).unwrap_or_default(), family),
                Err(_) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let name = match root.get("_name_or_path") {
        // a name is printed in every report: control characters (a terminal escape) are not
        // part of one
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            return Err(IrError::invalid(
                source,
                "_name_or_path",
                s.escape_debug().to_string(),
                "a model name or path without control characters",
            ))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | Some(Value::Null) | None => stem(source),
        Some(other) => {
            return Err(IrError::invalid(
                source,
                "_name_or_path",
                other.to_string(),
                "a string (the model's name or path)",
            ))
        }
    };
    let precision = precision(&top, &cfg, quant)?;
    let model = build(&cfg, family, name, arch, precision)?;
    let total = model.params_total();
    if total > MAX_PARAMS {
        return Err(IrError::invalid(
            source,
            "num_hidden_layers",
            // the count saturates at u64::MAX
            if total == u64::MAX {
                format!("{} (giving more than {total} parameters)", model.layers())
            } else {
                format!("{} (giving {total} parameters)", model.layers())
            },
            format!("a model of at most {MAX_PARAMS} parameters"),
        ));
    }
    Ok(model)
}

/// The name a config gives itself: `architectures[0]`, else `model_type`.
fn wrapper_name(top: &Cfg<'_>) -> Option<String> {
    top.get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .or_else(|| top.get("model_type").and_then(Value::as_str))
        .map(str::to_string)
}

fn stem(source: &str) -> String {
    let base = source.rsplit(['/', '\\']).next().unwrap_or(source);
    base.strip_suffix(".json").unwrap_or(base).to_string()
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON text of a value, shortened for messages.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let head: String = s.chars().take(77).collect();
        format!("{head}...")
    } else {
        s
    }
}

fn architecture(top: &Cfg<'_>) -> Result<(String, Family), IrError> {
    let supported = || SUPPORTED.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let model_type = match top.get("model_type") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(top.invalid("model_type", other, "a string such as \"llama\""));
        }
        None => None,
    };
    let arch = match top.get("architectures") {
        Some(Value::Array(a)) => match a.first() {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(top.invalid(
                    "architectures",
                    other,
                    "a list of architecture names (strings)",
                ))
            }
            None => None,
        },
        Some(other) => {
            return Err(top.invalid(
                "architectures",
                other,
                "a list of architecture names, e.g. [\"LlamaForCausalLM\"]",
            ))
        }
        None => None,
    };
    match (arch, model_type) {
        (Some(a), mt) => match family_of(&a) {
            Some(f) => Ok((a, f)),
            None => match mt.as_deref().and_then(family_of) {
                // An unknown wrapper class around a known model type (e.g. a fine-tune).
                Some(f) => Ok((a, f)),
                None => Err(IrError::UnsupportedArchitecture {
                    file: top.file.to_string(),
                    name: a,
                    supported: supported(),
                }),
            },
        },
        (None, Some(mt)) => match family_of(&mt) {
            Some(f) => Ok((mt, f)),
            None => Err(IrError::UnsupportedArchitecture {
                file: top.file.to_string(),
                name: mt,
                supported: supported(),
            }),
        },
        (None, None) => Err(top.missing("architectures")),
    }
}

fn precision(top: &Cfg<'_>, cfg: &Cfg<'_>, quant: QuantSource<'_>) -> Result<Precision, IrError> {
    let mut base = DType::Bf16;
    for c in [cfg, top] {
        let mut found = false;
        for key in ["torch_dtype", "dtype"] {
            if let Some(v) = c.get(key) {
                let s = v
                    .as_str()
                    .ok_or_else(|| c.invalid(key, v, "a dtype name such as \"bfloat16\""))?;
                base = s.parse::<DType>().map_err(|_| {
                    c.invalid(
                        key,
                        v,
                        "one of float32, bfloat16, float16, float8, int8, int4",
                    )
                })?;
                found = true;
                break;
            }
        }
        if found {
            break;
        }
    }
    let mut precision = Precision::from_checkpoint_dtype(base);
    for c in [cfg, top] {
        let Some(q) = c.get("quantization_config") else {
            continue;
        };
        let field = "quantization_config";
        let q = q
            .as_object()
            .ok_or_else(|| c.invalid(field, q, "an object"))?;
        let qc = Cfg {
            obj: q,
            prefix: format!("{}{field}.", c.prefix),
            file: c.file,
        };
        return quantization(&qc, precision);
    }
    if let Some((text, file)) = quant()? {
        let obj = json_object(&text, &file)?;
        let qc = Cfg {
            obj: &obj,
            prefix: String::new(),
            file: &file,
        };
        precision = quantization(&qc, precision)?;
    }
    Ok(precision)
}

/// The quant methods [`quantization`] understands, for messages.
const QUANT_METHODS: &str =
    "one of fp8, fbgemm_fp8, compressed-tensors, modelopt, modelopt_fp4, gptq, awq, mxfp4";

/// Apply a `quantization_config` object to the checkpoint's precision (see the module docs).
fn quantization(qc: &Cfg<'_>, base: Precision) -> Result<Precision, IrError> {
    let act = base.activations;
    let method = match qc.get("quant_method") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(qc.invalid("quant_method", other, "a string")),
        // ModelOpt writes no `quant_method` in `hf_quant_config.json` and in some
        // `config.json` exports (Qwen3-32B-FP8-Static-PerTensor): its `producer` or its
        // `quant_algo` says what it is.
        None if is_modelopt(qc) => "modelopt".to_string(),
        None => return Err(qc.missing("quant_method")),
    };
    let with = |weights: DType, compute: DType| Precision {
        weights,
        compute,
        ..base
    };
    Ok(match method.to_ascii_lowercase().as_str() {
        // vLLM `fp8`: fp8 weights (per tensor, or block-scaled with `weight_block_size` as in
        // DeepSeek-V3/R1), activations quantised to fp8 dynamically or statically.
        "fp8" => {
            let block = qc.get("weight_block_size");
            if let Some(v) = block {
                let ok = v.as_array().is_some_and(|a| {
                    a.len() == 2 && a.iter().all(|x| x.as_u64().is_some_and(|n| n > 0))
                });
                if !ok {
                    return Err(qc.invalid(
                        "weight_block_size",
                        v,
                        "two positive integers, e.g. [128, 128]",
                    ));
                }
            }
            if let Some(v) = qc.get("activation_scheme") {
                match v.as_str() {
                    Some("dynamic") | Some("static") => {}
                    _ => {
                        return Err(qc.invalid("activation_scheme", v, "\"dynamic\" or \"static\""))
                    }
                }
            }
            Precision {
                fp8_block_scales: block.is_some(),
                ..with(DType::Fp8, DType::Fp8)
            }
        }
        // FBGEMM fp8: per-channel fp8 weights, dynamic per-token fp8 activations.
        "fbgemm_fp8" => with(DType::Fp8, DType::Fp8),
        "compressed-tensors" | "compressed_tensors" => compressed_tensors(qc, base)?,
        "modelopt" | "modelopt_fp4" => {
            // `hf_quant_config.json` nests the algorithm under `quantization`; the config.json
            // form has it at the top level of `quantization_config`.
            let nested = match qc.get("quantization") {
                Some(Value::Object(o)) => Some(Cfg {
                    obj: o,
                    prefix: format!("{}quantization.", qc.prefix),
                    file: qc.file,
                }),
                Some(other) => return Err(qc.invalid("quantization", other, "an object")),
                None => None,
            };
            let src = nested.as_ref().unwrap_or(qc);
            let algo = match src.get("quant_algo") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => return Err(src.invalid("quant_algo", other, "a string")),
                None if method.eq_ignore_ascii_case("modelopt_fp4") => "NVFP4".to_string(),
                None => return Err(src.missing("quant_algo")),
            };
            let mut p = match algo.to_ascii_uppercase().as_str() {
                "FP8" | "FP8_PER_CHANNEL_PER_TOKEN" => with(DType::Fp8, DType::Fp8),
                // Block-scaled fp8 weight-only.
                "FP8_PB_WO" => with(DType::Fp8, act),
                "NVFP4" => with(DType::Fp4, DType::Fp4),
                // int4 AWQ weights, fp8 activations.
                "W4A8_AWQ" => with(DType::Int4, DType::Fp8),
                _ => {
                    return Err(src.invalid(
                        "quant_algo",
                        &Value::String(algo),
                        "one of FP8, FP8_PER_CHANNEL_PER_TOKEN, FP8_PB_WO, NVFP4, W4A8_AWQ",
                    ))
                }
            };
            if let Some(kv) = modelopt_kv(src, "kv_cache_quant_algo", "\"FP8\", \"NVFP4\" or null")?
            {
                p.kv_cache = kv;
            }
            // ModelOpt's config.json exports name the KV algorithm as a string here too;
            // compressed-tensors and recent ModelOpt configs give an object.
            let kv = match qc.get("kv_cache_scheme") {
                Some(Value::String(_)) => modelopt_kv(
                    qc,
                    "kv_cache_scheme",
                    "\"FP8\", \"NVFP4\", an object with num_bits and type, or null",
                )?,
                _ => kv_scheme(qc)?,
            };
            if let Some(kv) = kv {
                p.kv_cache = kv;
            }
            p
        }
        "gptq" | "awq" => {
            let bits = match qc.opt_u32("bits")? {
                Some(b) => Some(("bits", b)),
                None => qc.opt_u32("w_bit")?.map(|b| ("w_bit", b)),
            };
            match bits {
                Some((_, 4)) => with(DType::Int4, act),
                Some((_, 8)) => with(DType::Int8, act),
                Some((key, b)) => {
                    return Err(IrError::invalid(
                        qc.file,
                        &qc.name(key),
                        b.to_string(),
                        "4 or 8",
                    ))
                }
                None => return Err(qc.missing("bits")),
            }
        }
        // gpt-oss: MXFP4 expert weights, dequantised to the activation type (W4A16); the
        // rest stays as stored.
        "mxfp4" => base.with_experts_quantized(Quantization::Mxfp4),
        _ => {
            return Err(qc.invalid(
                "quant_method",
                &Value::String(method.clone()),
                QUANT_METHODS,
            ))
        }
    })
}

/// A ModelOpt KV-cache algorithm named as a string in `field` (`FP8`, `NVFP4`; absent or
/// `null`: none), or an error expecting `expected`.
fn modelopt_kv(c: &Cfg<'_>, field: &str, expected: &str) -> Result<Option<DType>, IrError> {
    match c.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("fp8") => Ok(Some(DType::Fp8)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("nvfp4") => Ok(Some(DType::Fp4)),
        Some(other) => Err(c.invalid(field, other, expected)),
    }
}

/// A quantisation object written by NVIDIA ModelOpt without a `quant_method`: its
/// `producer.name` is `modelopt`, or it has ModelOpt's `quant_algo` (at the top level or under
/// `quantization`).
fn is_modelopt(qc: &Cfg<'_>) -> bool {
    let producer = qc
        .get("producer")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .is_some_and(|n| n.eq_ignore_ascii_case("modelopt"));
    let algo = qc.get("quant_algo").is_some()
        || qc
            .get("quantization")
            .is_some_and(|q| q.get("quant_algo").is_some());
    producer || algo
}

/// The type of a compressed-tensors quantisation arguments object (`num_bits`, `type`), or
/// `None` for `null` (not quantised).
fn ct_args(c: &Cfg<'_>, field: &str) -> Result<Option<DType>, IrError> {
    let Some(v) = c.get(field) else {
        return Ok(None);
    };
    let o = v
        .as_object()
        .ok_or_else(|| c.invalid(field, v, "an object with num_bits and type, or null"))?;
    let a = Cfg {
        obj: o,
        prefix: format!("{}{field}.", c.prefix),
        file: c.file,
    };
    let bits = a
        .opt_u32("num_bits")?
        .ok_or_else(|| a.missing("num_bits"))?;
    let kind = match a.get("type") {
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(other) => return Err(a.invalid("type", other, "\"int\" or \"float\"")),
        None => "int".to_string(),
    };
    Ok(Some(match (bits, kind.as_str()) {
        (8, "float") => DType::Fp8,
        (8, "int") => DType::Int8,
        (4, "float") => DType::Fp4,
        (4, "int") => DType::Int4,
        (16, "float") => return Ok(None),
        _ => {
            return Err(IrError::invalid(
                a.file,
                &a.name("num_bits"),
                format!("{bits} (type \"{kind}\")"),
                "8 or 4 bits of type \"int\" or \"float\"",
            ))
        }
    }))
}

/// A `kv_cache_scheme` (compressed-tensors, also in recent ModelOpt configs), if any.
fn kv_scheme(qc: &Cfg<'_>) -> Result<Option<DType>, IrError> {
    ct_args(qc, "kv_cache_scheme")
}

/// compressed-tensors: the first (by name) of `config_groups` that targets `Linear` layers
/// (else the first group) gives the weight type (`weights`) and the GEMM input type
/// (`input_activations`; `null`: weight-only); `kv_cache_scheme` the KV type.
fn compressed_tensors(qc: &Cfg<'_>, base: Precision) -> Result<Precision, IrError> {
    let groups = match qc.get("config_groups") {
        Some(Value::Object(o)) if !o.is_empty() => o,
        Some(other) => {
            return Err(qc.invalid(
                "config_groups",
                other,
                "a non-empty object of quantisation groups",
            ))
        }
        None => return Err(qc.missing("config_groups")),
    };
    let targets_linear = |g: &Value| {
        g.get("targets")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Linear")))
    };
    let Some((name, group)) = groups
        .iter()
        .find(|(_, g)| targets_linear(g))
        .or_else(|| groups.iter().next())
    else {
        return Err(qc.missing("config_groups"));
    };
    let g = group.as_object().ok_or_else(|| {
        IrError::invalid(
            qc.file,
            &qc.name(&format!("config_groups.{name}")),
            show(group),
            "an object with weights and input_activations",
        )
    })?;
    let gc = Cfg {
        obj: g,
        prefix: format!("{}config_groups.{name}.", qc.prefix),
        file: qc.file,
    };
    let weights = ct_args(&gc, "weights")?.ok_or_else(|| gc.missing("weights"))?;
    let compute = ct_args(&gc, "input_activations")?.unwrap_or(base.activations);
    // `"strategy": "block"` (with a `block_structure` such as [128, 128]): block-scaled fp8
    let block = weights == DType::Fp8
        && gc
            .get("weights")
            .and_then(|w| w.get("strategy"))
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("block"));
    let mut p = if experts_only(qc)? {
        // block scales on the experts only; the dense layers stay as they were
        Precision {
            experts: Some((weights, compute)),
            expert_fp8_block_scales: Some(block),
            ..base
        }
    } else {
        Precision {
            weights,
            compute,
            fp8_block_scales: block,
            ..base
        }
    };
    if let Some(kv) = kv_scheme(qc)? {
        p.kv_cache = kv;
    }
    Ok(p)
}

/// Whether a compressed-tensors `ignore` list keeps attention and the dense (or shared) MLPs
/// unquantised, so that only the routed experts are (Kimi K2 Thinking and K2.5's int4 experts:
/// `re:.*self_attn.*`, `re:.*shared_experts.*`, `re:.*mlp\.(gate|up|gate_up|down)_proj.*`).
/// The entries are read as text (a regular expression or a module name): one naming
/// `self_attn` and one naming `shared_expert` or a dense MLP's `mlp…_proj` (the router,
/// `mlp.gate`, does not count: MoE quantisations leave it alone anyway).
fn experts_only(qc: &Cfg<'_>) -> Result<bool, IrError> {
    let Some(list) = qc.opt_str_list("ignore")? else {
        return Ok(false);
    };
    let attention = list.iter().any(|e| e.contains("self_attn"));
    let mlps = list.iter().any(|e| {
        e.contains("shared_expert")
            || (e.contains("mlp") && e.contains("_proj") && !e.contains("experts"))
    });
    Ok(attention && mlps)
}

/// A view of one JSON object with the dotted prefix used in messages.
#[derive(Debug, Clone)]
struct Cfg<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    file: &'a str,
}

impl<'a> Cfg<'a> {
    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    /// The field's value; `null` counts as absent.
    fn get(&self, field: &str) -> Option<&'a Value> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn missing(&self, field: &str) -> IrError {
        IrError::missing(self.file, &self.name(field))
    }

    fn invalid(&self, field: &str, v: &Value, expected: &str) -> IrError {
        IrError::invalid(self.file, &self.name(field), show(v), expected)
    }

    /// A non-negative integer no larger than `max`, or `None` when absent.
    fn int(&self, field: &str, max: u64) -> Result<Option<u64>, IrError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let expected = format!("a non-negative integer at most {max}");
        let n = match v {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    u
                } else if let Some(f) = n.as_f64() {
                    if f >= 0.0 && f.fract() == 0.0 && f <= max as f64 {
                        f as u64
                    } else {
                        return Err(self.invalid(field, v, &expected));
                    }
                } else {
                    return Err(self.invalid(field, v, &expected));
                }
            }
            _ => return Err(self.invalid(field, v, &expected)),
        };
        if n > max {
            return Err(self.invalid(field, v, &expected));
        }
        Ok(Some(n))
    }

    fn opt_u32(&self, field: &str) -> Result<Option<u32>, IrError> {
        Ok(self.int(field, u32::MAX as u64)?.map(|n| n as u32))
    }

    /// A positive integer at most `max`, or `None` when absent.
    fn opt_pos(&self, field: &str, max: u32) -> Result<Option<u32>, IrError> {
        let n = self.int(field, max as u64).map_err(|e| match e {
            IrError::InvalidValue {
                file, field, value, ..
            } => IrError::InvalidValue {
                file,
                field,
                value,
                expected: format!("a positive integer at most {max}"),
            },
            other => other,
        })?;
        match n {
            None => Ok(None),
            Some(0) => Err(IrError::invalid(
                self.file,
                &self.name(field),
                "0",
                format!("a positive integer at most {max}"),
            )),
            Some(n) => Ok(Some(n as u32)),
        }
    }

    /// A required positive integer at most `max`.
    fn pos(&self, field: &str, max: u32) -> Result<u32, IrError> {
        self.opt_pos(field, max)?.ok_or_else(|| self.missing(field))
    }

    fn dim(&self, field: &str) -> Result<u32, IrError> {
        self.pos(field, MAX_DIM)
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, IrError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(field, v, "true or false")),
        }
    }

    fn opt_str_list(&self, field: &str) -> Result<Option<Vec<String>>, IrError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.invalid(field, v, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.invalid(field, v, "a list of strings")),
        }
    }

    /// A list of layer indices, each below `layers`.
    /// A per-layer list of two kinds of layer (`field`: one entry per layer, each `yes` or
    /// `no`), as whether each layer is `yes`.
    fn opt_layer_kinds(
        &self,
        field: &str,
        layers: u32,
        yes: &str,
        no: &str,
    ) -> Result<Option<Vec<bool>>, IrError> {
        let Some(types) = self.opt_str_list(field)? else {
            return Ok(None);
        };
        if types.len() != layers as usize {
            return Err(IrError::invalid(
                self.file,
                &self.name(field),
                format!("a list of {} entries", types.len()),
                format!("one entry per layer (num_hidden_layers = {layers})"),
            ));
        }
        types
            .iter()
            .map(|t| match t.as_str() {
                t if t == yes => Ok(true),
                t if t == no => Ok(false),
                other => Err(IrError::invalid(
                    self.file,
                    &self.name(field),
                    format!("\"{other}\""),
                    format!("entries \"{no}\" or \"{yes}\""),
                )),
            })
            .collect::<Result<Vec<bool>, _>>()
            .map(Some)
    }

    fn opt_layer_list(&self, field: &str, layers: u32) -> Result<Option<Vec<u32>>, IrError> {
        let expected = format!("a list of layer indices below num_hidden_layers ({layers})");
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v.as_u64() {
                    Some(i) if i < layers as u64 => Ok(i as u32),
                    _ => Err(self.invalid(field, v, &expected)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.invalid(field, v, &expected)),
        }
    }
}

/// What the FFN of one layer is.
#[derive(Debug, Clone, Copy)]
enum Ffn {
    Dense(Mlp),
    Moe(Moe),
}

fn build(
    c: &Cfg<'_>,
    family: Family,
    name: String,
    architecture: String,
    precision: Precision,
) -> Result<Model, IrError> {
    let hidden = c.dim("hidden_size")?;
    let layers = c.pos("num_hidden_layers", MAX_LAYERS)?;
    let heads = c.dim("num_attention_heads")?;
    let vocab = c.dim("vocab_size")?;
    let max_pos = c.pos("max_position_embeddings", u32::MAX)?;
    let tie = c.opt_bool("tie_word_embeddings")?.unwrap_or(false);
    let attention_bias = c.opt_bool("attention_bias")?;
    let mlp_bias = c.opt_bool("mlp_bias")?.unwrap_or(false);

    // Attention structure shared by every layer.
    let (kind, qkv_bias, o_bias, sinks) = if family == Family::Deepseek {
        let q_lora_rank = c.opt_pos("q_lora_rank", MAX_DIM)?;
        let kind = AttentionKind::Mla {
            heads,
            q_lora_rank,
            kv_lora_rank: c.dim("kv_lora_rank")?,
            qk_nope_head_dim: c.dim("qk_nope_head_dim")?,
            qk_rope_head_dim: c.dim("qk_rope_head_dim")?,
            v_head_dim: c.dim("v_head_dim")?,
        };
        let b = attention_bias.unwrap_or(false);
        (kind, b, b, false)
    } else {
        let kv_heads = c.opt_pos("num_key_value_heads", MAX_DIM)?.unwrap_or(heads);
        let head_dim = match c.opt_pos("head_dim", MAX_DIM)? {
            Some(d) => d,
            None => {
                if hidden % heads != 0 {
                    return Err(IrError::invalid(
                        c.file,
                        &c.name("hidden_size"),
                        hidden.to_string(),
                        format!(
                            "a multiple of num_attention_heads ({heads}) when head_dim is absent"
                        ),
                    ));
                }
                hidden / heads
            }
        };
        if heads % kv_heads != 0 {
            return Err(IrError::invalid(
                c.file,
                &c.name("num_key_value_heads"),
                kv_heads.to_string(),
                format!("a divisor of num_attention_heads ({heads})"),
            ));
        }
        let kind = AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        };
        match family {
            // Qwen2 always has q/k/v biases and no output bias.
            Family::Qwen2 => (kind, true, false, false),
            Family::GptOss => {
                let b = attention_bias.unwrap_or(true);
                (kind, b, b, true)
            }
            _ => {
                let b = attention_bias.unwrap_or(false);
                (kind, b, b, false)
            }
        }
    };

    let windows = sliding_windows(c, family, layers)?;
    let sparse = sparse_attention(c, &architecture, layers)?;
    let ffns = ffns(c, family, layers, hidden, mlp_bias)?;

    let per_layer: Vec<Vec<Cell>> = (0..layers as usize)
        .map(|i| {
            let attn = Attention {
                hidden,
                kind,
                sliding_window: windows[i],
                sinks,
                qkv_bias,
                o_bias,
                sparse: sparse[i],
            };
            let ffn = match ffns[i] {
                Ffn::Dense(m) => Cell::Mlp(m),
                Ffn::Moe(m) => Cell::Moe(m),
            };
            vec![
                Cell::Norm(Norm { hidden }),
                Cell::Attention(attn),
                Cell::Norm(Norm { hidden }),
                ffn,
            ]
        })
        .collect();

    Ok(Model {
        name,
        architecture,
        hidden_size: hidden,
        vocab_size: vocab,
        tie_word_embeddings: tie,
        max_position_embeddings: max_pos,
        precision,
        runs: BlockRun::from_layers(&per_layer),
        mtp_layers: c.int("num_nextn_predict_layers", 64)?.unwrap_or(0) as u32,
    })
}

fn sliding_windows(c: &Cfg<'_>, family: Family, layers: u32) -> Result<Vec<Option<u32>>, IrError> {
    let n = layers as usize;
    let window = || c.pos("sliding_window", u32::MAX);
    if let Some(sliding) =
        c.opt_layer_kinds("layer_types", layers, "sliding_attention", "full_attention")?
    {
        let w = if sliding.contains(&true) {
            Some(window()?)
        } else {
            None
        };
        return Ok(sliding.into_iter().map(|s| w.filter(|_| s)).collect());
    }
    Ok(match family {
        Family::Mistral | Family::Mixtral => {
            vec![c.opt_pos("sliding_window", u32::MAX)?; n]
        }
        Family::Qwen2 | Family::Qwen3 | Family::Qwen3Moe => {
            if c.opt_bool("use_sliding_window")?.unwrap_or(false) {
                let w = window()?;
                let from = c
                    .opt_u32("max_window_layers")?
                    .ok_or_else(|| c.missing("max_window_layers"))?;
                (0..layers).map(|i| (i >= from).then_some(w)).collect()
            } else {
                vec![None; n]
            }
        }
        // gpt-oss without `layer_types`: HF's default, sliding on even layers.
        Family::GptOss => {
            let w = window()?;
            (0..layers).map(|i| (i % 2 == 0).then_some(w)).collect()
        }
        // MiniMax-M2 attends fully on every layer.
        Family::Llama | Family::Llama4 | Family::Deepseek | Family::MiniMaxM2 => vec![None; n],
    })
}

/// DeepSeek Sparse Attention of each layer (`index_topk`, `index_n_heads`, `index_head_dim`;
/// required by `DeepseekV32ForCausalLM` and `GlmMoeDsaForCausalLM`, read wherever
/// `index_topk` is given). Every layer has its own indexer unless `indexer_types` marks it
/// `shared` (it reuses the previous selection, GLM-5.2).
fn sparse_attention(
    c: &Cfg<'_>,
    architecture: &str,
    layers: u32,
) -> Result<Vec<Option<SparseAttention>>, IrError> {
    let n = layers as usize;
    if !DSA_ARCHITECTURES.contains(&architecture) && c.get("index_topk").is_none() {
        return Ok(vec![None; n]);
    }
    let top_k = c.pos("index_topk", u32::MAX)?;
    let indexer = Indexer {
        heads: c.dim("index_n_heads")?,
        head_dim: c.dim("index_head_dim")?,
    };
    let own: Vec<bool> = match c.opt_layer_kinds("indexer_types", layers, "full", "shared")? {
        Some(own) => {
            if own.first() == Some(&false) {
                return Err(IrError::invalid(
                    c.file,
                    &c.name("indexer_types"),
                    "a list starting with \"shared\"",
                    "\"full\" first (a shared layer reuses an earlier layer's selection)",
                ));
            }
            own
        }
        None => {
            if let Some(f) = c
                .opt_pos("index_topk_freq", MAX_LAYERS)?
                .filter(|&f| f != 1)
            {
                return Err(IrError::invalid(
                    c.file,
                    &c.name("index_topk_freq"),
                    f.to_string(),
                    "1, or the layers' indexers listed in indexer_types",
                ));
            }
            vec![true; n]
        }
    };
    Ok(own
        .into_iter()
        .map(|own| {
            Some(SparseAttention {
                top_k,
                indexer: own.then_some(indexer),
            })
        })
        .collect())
}

fn top_k(c: &Cfg<'_>, experts: u32) -> Result<u32, IrError> {
    let k = c.dim("num_experts_per_tok")?;
    if k > experts {
        return Err(IrError::invalid(
            c.file,
            &c.name("num_experts_per_tok"),
            k.to_string(),
            format!("at most the number of experts ({experts})"),
        ));
    }
    Ok(k)
}

/// The FFNs of a model mixing MoE and dense layers: `moe` on the layers where `is_moe`, a
/// dense MLP of width `dense_field` on the others (read only when some layer is dense).
fn mixed(
    c: &Cfg<'_>,
    layers: u32,
    is_moe: impl Fn(u32) -> bool,
    moe: Moe,
    dense_field: &str,
    dense: impl Fn(u32) -> Ffn,
) -> Result<Vec<Ffn>, IrError> {
    let inter = if (0..layers).all(&is_moe) {
        0
    } else {
        c.dim(dense_field)?
    };
    Ok((0..layers)
        .map(|i| {
            if is_moe(i) {
                Ffn::Moe(moe)
            } else {
                dense(inter)
            }
        })
        .collect())
}

fn ffns(
    c: &Cfg<'_>,
    family: Family,
    layers: u32,
    hidden: u32,
    mlp_bias: bool,
) -> Result<Vec<Ffn>, IrError> {
    let n = layers as usize;
    let dense = |inter: u32| {
        Ffn::Dense(Mlp {
            hidden,
            intermediate: inter,
            gated: true,
            bias: mlp_bias,
        })
    };
    Ok(match family {
        Family::Llama | Family::Mistral | Family::Qwen2 | Family::Qwen3 => {
            vec![dense(c.dim("intermediate_size")?); n]
        }
        Family::Mixtral | Family::MiniMaxM2 => {
            let experts = c.dim("num_local_experts")?;
            // MiniMax-M2: one shared expert of `shared_intermediate_size` when it is not 0.
            let shared = if family == Family::MiniMaxM2 {
                c.int("shared_intermediate_size", MAX_DIM as u64)?
                    .unwrap_or(0) as u32
            } else {
                0
            };
            let moe = Moe {
                hidden,
                experts,
                top_k: top_k(c, experts)?,
                expert_intermediate: c.dim("intermediate_size")?,
                shared_experts: u32::from(shared > 0),
                shared_intermediate: shared,
                gated: true,
                bias: false,
            };
            vec![Ffn::Moe(moe); n]
        }
        Family::GptOss => {
            let experts = c.dim("num_local_experts")?;
            let k = top_k(c, experts)?;
            if let Some(alt) = c.opt_pos("experts_per_token", MAX_DIM)? {
                if alt != k {
                    return Err(IrError::invalid(
                        c.file,
                        &c.name("experts_per_token"),
                        alt.to_string(),
                        format!("equal to num_experts_per_tok ({k})"),
                    ));
                }
            }
            let moe = Moe {
                hidden,
                experts,
                top_k: k,
                expert_intermediate: c.dim("intermediate_size")?,
                shared_experts: 0,
                shared_intermediate: 0,
                gated: true,
                bias: true,
            };
            vec![Ffn::Moe(moe); n]
        }
        Family::Qwen3Moe => {
            let experts = c.dim("num_experts")?;
            let moe = Moe {
                hidden,
                experts,
                top_k: top_k(c, experts)?,
                expert_intermediate: c.dim("moe_intermediate_size")?,
                shared_experts: 0,
                shared_intermediate: 0,
                gated: true,
                bias: false,
            };
            let step = c.opt_pos("decoder_sparse_step", MAX_LAYERS)?.unwrap_or(1);
            let mut mlp_only = vec![false; n];
            for i in c
                .opt_layer_list("mlp_only_layers", layers)?
                .unwrap_or_default()
            {
                mlp_only[i as usize] = true;
            }
            let is_moe = |i: u32| !mlp_only[i as usize] && (i + 1) % step == 0;
            mixed(c, layers, is_moe, moe, "intermediate_size", dense)?
        }
        Family::Deepseek => {
            let experts = c.dim("n_routed_experts")?;
            let ei = c.dim("moe_intermediate_size")?;
            let shared = c.int("n_shared_experts", MAX_DIM as u64)?.unwrap_or(0) as u32;
            let moe = Moe {
                hidden,
                experts,
                top_k: top_k(c, experts)?,
                expert_intermediate: ei,
                shared_experts: shared,
                shared_intermediate: if shared > 0 { ei } else { 0 },
                gated: true,
                bias: false,
            };
            let first_dense = c.int("first_k_dense_replace", layers as u64)?.unwrap_or(0) as u32;
            let freq = c.opt_pos("moe_layer_freq", MAX_LAYERS)?.unwrap_or(1);
            let is_moe = |i: u32| i >= first_dense && i % freq == 0;
            mixed(c, layers, is_moe, moe, "intermediate_size", dense)?
        }
        Family::Llama4 => {
            let experts = c.dim("num_local_experts")?;
            let ei = c.dim("intermediate_size")?;
            let moe = Moe {
                hidden,
                experts,
                top_k: top_k(c, experts)?,
                expert_intermediate: ei,
                shared_experts: 1,
                shared_intermediate: ei,
                gated: true,
                bias: false,
            };
            let list = match c.opt_layer_list("moe_layers", layers)? {
                Some(l) => l,
                None => {
                    let step = c
                        .opt_pos("interleave_moe_layer_step", MAX_LAYERS)?
                        .unwrap_or(1);
                    (step - 1..layers).step_by(step as usize).collect()
                }
            };
            let mut is_moe = vec![false; n];
            for i in list {
                is_moe[i as usize] = true;
            }
            mixed(
                c,
                layers,
                |i| is_moe[i as usize],
                moe,
                "intermediate_size_mlp",
                dense,
            )?
        }
    })
}
