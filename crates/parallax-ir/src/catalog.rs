//! The embedded model catalog: Hugging Face configs shipped inside the crate.
//!
//! The files live in `crates/parallax-ir/data/models/` (sources and licences in the README
//! there) and are compiled in with `include_str!`, so resolving an embedded model does no I/O.

use crate::error::IrError;
use crate::hf;
use crate::model::Model;
use std::path::Path;

/// One embedded model config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedModel {
    /// Short lowercase name, e.g. `llama-3.1-70b`.
    pub short_name: &'static str,
    /// Hugging Face id, e.g. `meta-llama/Llama-3.1-70B`.
    pub hf_id: &'static str,
    /// File name under `data/models/`.
    pub file: &'static str,
    /// The `config.json` text.
    pub json: &'static str,
}

impl EmbeddedModel {
    /// Import this config; the model is named by its short name.
    pub fn model(&self) -> Result<Model, IrError> {
        let mut m = hf::from_json_str(self.json, self.file)?;
        m.name = self.short_name.to_string();
        Ok(m)
    }

    /// Whether `spec` names this model: its short name, its HF id, or the model part of the
    /// HF id (all case-insensitive).
    pub fn matches(&self, spec: &str) -> bool {
        let s = spec.trim();
        let model_part = self.hf_id.rsplit('/').next().unwrap_or(self.hf_id);
        s.eq_ignore_ascii_case(self.short_name)
            || s.eq_ignore_ascii_case(self.hf_id)
            || s.eq_ignore_ascii_case(model_part)
    }
}

static EMBEDDED: &[EmbeddedModel] = &[
    EmbeddedModel {
        short_name: "codellama-34b-instruct",
        hf_id: "codellama/CodeLlama-34b-Instruct-hf",
        file: "codellama--CodeLlama-34b-Instruct-hf.json",
        json: include_str!("../data/models/codellama--CodeLlama-34b-Instruct-hf.json"),
    },
    EmbeddedModel {
        short_name: "deepseek-r1",
        hf_id: "deepseek-ai/DeepSeek-R1",
        file: "deepseek-ai--DeepSeek-R1.json",
        json: include_str!("../data/models/deepseek-ai--DeepSeek-R1.json"),
    },
    EmbeddedModel {
        short_name: "deepseek-v3",
        hf_id: "deepseek-ai/DeepSeek-V3",
        file: "deepseek-ai--DeepSeek-V3.json",
        json: include_str!("../data/models/deepseek-ai--DeepSeek-V3.json"),
    },
    EmbeddedModel {
        short_name: "deepseek-v3.2",
        hf_id: "deepseek-ai/DeepSeek-V3.2",
        file: "deepseek-ai--DeepSeek-V3.2.json",
        json: include_str!("../data/models/deepseek-ai--DeepSeek-V3.2.json"),
    },
    EmbeddedModel {
        short_name: "glm-5",
        hf_id: "zai-org/GLM-5",
        file: "zai-org--GLM-5.json",
        json: include_str!("../data/models/zai-org--GLM-5.json"),
    },
    EmbeddedModel {
        short_name: "gpt-oss-120b",
        hf_id: "openai/gpt-oss-120b",
        file: "openai--gpt-oss-120b.json",
        json: include_str!("../data/models/openai--gpt-oss-120b.json"),
    },
    EmbeddedModel {
        short_name: "gpt-oss-20b",
        hf_id: "openai/gpt-oss-20b",
        file: "openai--gpt-oss-20b.json",
        json: include_str!("../data/models/openai--gpt-oss-20b.json"),
    },
    EmbeddedModel {
        short_name: "kimi-k2",
        hf_id: "moonshotai/Kimi-K2-Instruct",
        file: "moonshotai--Kimi-K2-Instruct.json",
        json: include_str!("../data/models/moonshotai--Kimi-K2-Instruct.json"),
    },
    EmbeddedModel {
        short_name: "kimi-k2.5",
        hf_id: "moonshotai/Kimi-K2.5",
        file: "moonshotai--Kimi-K2.5.json",
        json: include_str!("../data/models/moonshotai--Kimi-K2.5.json"),
    },
    EmbeddedModel {
        short_name: "llama-2-13b",
        hf_id: "meta-llama/Llama-2-13b-hf",
        file: "meta-llama--Llama-2-13b-hf.json",
        json: include_str!("../data/models/meta-llama--Llama-2-13b-hf.json"),
    },
    EmbeddedModel {
        short_name: "llama-2-70b",
        hf_id: "meta-llama/Llama-2-70b-hf",
        file: "meta-llama--Llama-2-70b-hf.json",
        json: include_str!("../data/models/meta-llama--Llama-2-70b-hf.json"),
    },
    EmbeddedModel {
        short_name: "llama-2-7b",
        hf_id: "meta-llama/Llama-2-7b-hf",
        file: "meta-llama--Llama-2-7b-hf.json",
        json: include_str!("../data/models/meta-llama--Llama-2-7b-hf.json"),
    },
    EmbeddedModel {
        short_name: "llama-3.1-405b",
        hf_id: "meta-llama/Llama-3.1-405B",
        file: "meta-llama--Llama-3.1-405B.json",
        json: include_str!("../data/models/meta-llama--Llama-3.1-405B.json"),
    },
    EmbeddedModel {
        short_name: "llama-3.1-70b",
        hf_id: "meta-llama/Llama-3.1-70B",
        file: "meta-llama--Llama-3.1-70B.json",
        json: include_str!("../data/models/meta-llama--Llama-3.1-70B.json"),
    },
    EmbeddedModel {
        short_name: "llama-3.1-70b-instruct",
        hf_id: "meta-llama/Llama-3.1-70B-Instruct",
        file: "meta-llama--Llama-3.1-70B-Instruct.json",
        json: include_str!("../data/models/meta-llama--Llama-3.1-70B-Instruct.json"),
    },
    EmbeddedModel {
        short_name: "llama-3.1-8b",
        hf_id: "meta-llama/Llama-3.1-8B",
        file: "meta-llama--Llama-3.1-8B.json",
        json: include_str!("../data/models/meta-llama--Llama-3.1-8B.json"),
    },
    EmbeddedModel {
        short_name: "llama-4-maverick",
        hf_id: "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        file: "meta-llama--Llama-4-Maverick-17B-128E-Instruct.json",
        json: include_str!("../data/models/meta-llama--Llama-4-Maverick-17B-128E-Instruct.json"),
    },
    EmbeddedModel {
        short_name: "llama-4-scout",
        hf_id: "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        file: "meta-llama--Llama-4-Scout-17B-16E-Instruct.json",
        json: include_str!("../data/models/meta-llama--Llama-4-Scout-17B-16E-Instruct.json"),
    },
    EmbeddedModel {
        short_name: "minimax-m2.5",
        hf_id: "MiniMaxAI/MiniMax-M2.5",
        file: "MiniMaxAI--MiniMax-M2.5.json",
        json: include_str!("../data/models/MiniMaxAI--MiniMax-M2.5.json"),
    },
    EmbeddedModel {
        short_name: "mistral-7b",
        hf_id: "mistralai/Mistral-7B-v0.1",
        file: "mistralai--Mistral-7B-v0.1.json",
        json: include_str!("../data/models/mistralai--Mistral-7B-v0.1.json"),
    },
    EmbeddedModel {
        short_name: "mistral-nemo",
        hf_id: "mistralai/Mistral-Nemo-Instruct-2407",
        file: "mistralai--Mistral-Nemo-Instruct-2407.json",
        json: include_str!("../data/models/mistralai--Mistral-Nemo-Instruct-2407.json"),
    },
    EmbeddedModel {
        short_name: "mixtral-8x22b",
        hf_id: "mistralai/Mixtral-8x22B-v0.1",
        file: "mistralai--Mixtral-8x22B-v0.1.json",
        json: include_str!("../data/models/mistralai--Mixtral-8x22B-v0.1.json"),
    },
    EmbeddedModel {
        short_name: "mixtral-8x7b",
        hf_id: "mistralai/Mixtral-8x7B-v0.1",
        file: "mistralai--Mixtral-8x7B-v0.1.json",
        json: include_str!("../data/models/mistralai--Mixtral-8x7B-v0.1.json"),
    },
    EmbeddedModel {
        short_name: "qwen2.5-32b",
        hf_id: "Qwen/Qwen2.5-32B",
        file: "Qwen--Qwen2.5-32B.json",
        json: include_str!("../data/models/Qwen--Qwen2.5-32B.json"),
    },
    EmbeddedModel {
        short_name: "qwen2.5-72b",
        hf_id: "Qwen/Qwen2.5-72B",
        file: "Qwen--Qwen2.5-72B.json",
        json: include_str!("../data/models/Qwen--Qwen2.5-72B.json"),
    },
    EmbeddedModel {
        short_name: "qwen2.5-7b",
        hf_id: "Qwen/Qwen2.5-7B",
        file: "Qwen--Qwen2.5-7B.json",
        json: include_str!("../data/models/Qwen--Qwen2.5-7B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-0.6b",
        hf_id: "Qwen/Qwen3-0.6B",
        file: "Qwen--Qwen3-0.6B.json",
        json: include_str!("../data/models/Qwen--Qwen3-0.6B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-1.7b",
        hf_id: "Qwen/Qwen3-1.7B",
        file: "Qwen--Qwen3-1.7B.json",
        json: include_str!("../data/models/Qwen--Qwen3-1.7B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-235b-a22b",
        hf_id: "Qwen/Qwen3-235B-A22B",
        file: "Qwen--Qwen3-235B-A22B.json",
        json: include_str!("../data/models/Qwen--Qwen3-235B-A22B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-30b-a3b",
        hf_id: "Qwen/Qwen3-30B-A3B",
        file: "Qwen--Qwen3-30B-A3B.json",
        json: include_str!("../data/models/Qwen--Qwen3-30B-A3B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-32b",
        hf_id: "Qwen/Qwen3-32B",
        file: "Qwen--Qwen3-32B.json",
        json: include_str!("../data/models/Qwen--Qwen3-32B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-8b",
        hf_id: "Qwen/Qwen3-8B",
        file: "Qwen--Qwen3-8B.json",
        json: include_str!("../data/models/Qwen--Qwen3-8B.json"),
    },
    EmbeddedModel {
        short_name: "qwen3-coder-480b-a35b",
        hf_id: "Qwen/Qwen3-Coder-480B-A35B-Instruct",
        file: "Qwen--Qwen3-Coder-480B-A35B-Instruct.json",
        json: include_str!("../data/models/Qwen--Qwen3-Coder-480B-A35B-Instruct.json"),
    },
];

/// Every embedded model, sorted by short name.
pub fn embedded() -> &'static [EmbeddedModel] {
    EMBEDDED
}

/// Resolve a model spec.
///
/// # Arguments
/// - `spec`: a path to a `config.json` (used when it exists on disk or ends in `.json`), an
///   embedded short name (`llama-3.1-70b`), a model directory holding a `config.json` (a
///   Hugging Face checkout), or an embedded HF id (`meta-llama/Llama-3.1-70B`,
///   case-insensitive; the part after `/` alone also works).
///
/// # Returns
/// The model, an import error for a file, or [`IrError::UnknownModel`] listing the closest
/// embedded names.
///
/// # Examples
/// ```
/// let m = parallax_ir::resolve("meta-llama/llama-3.1-8b").unwrap();
/// assert_eq!(m.name, "llama-3.1-8b");
/// assert!(parallax_ir::resolve("llama-9").is_err());
/// ```
pub fn resolve(spec: &str) -> Result<Model, IrError> {
    let path = Path::new(spec);
    let file = if path.is_dir() {
        // A Hugging Face checkout: its config.json (named in the error when missing).
        Some(path.join("config.json"))
    } else if path.exists() || spec.to_ascii_lowercase().ends_with(".json") {
        // a file (or a device or pipe, which reading refuses with what it is)
        Some(path.to_path_buf())
    } else {
        None
    };
    if let Some(file) = file {
        let mut model = hf::load(&file)?;
        // `…/Some-Model/config.json` without `_name_or_path` is named after its folder.
        if model.name == "config" {
            if let Some(dir) = file.parent().and_then(Path::file_name) {
                model.name = dir.to_string_lossy().into_owned();
            }
        }
        return Ok(model);
    }
    if let Some(e) = EMBEDDED.iter().find(|e| e.matches(spec)) {
        return e.model();
    }
    // Clearly a path (not a short name or an `org/name` id): say it is missing rather than
    // suggest unrelated short names.
    let t = spec.trim();
    if t.starts_with(['.', '/', '~']) || t.contains('\\') || t.matches('/').count() >= 2 {
        return Err(IrError::Io {
            path: path.to_path_buf(),
            message: "no such file or directory (expected a config.json, a folder holding \
                      one, or an embedded short name from `parallax models`)"
                .into(),
        });
    }
    Err(IrError::UnknownModel {
        spec: spec.to_string(),
        suggestions: suggestions(spec, 3),
    })
}

/// At most `n` embedded short names close to `spec` (substring matches first, then by edit
/// distance, ties by name); names more than a third of `spec` (at least 2 characters) away are
/// left out, so an unrelated spec gets none.
pub fn suggestions(spec: &str, n: usize) -> Vec<String> {
    let s = spec.trim().to_ascii_lowercase();
    let s = s.rsplit('/').next().unwrap_or(&s).to_string();
    let mut scored: Vec<(usize, &str)> = EMBEDDED
        .iter()
        .map(|e| {
            let name = e.short_name;
            let score = if !s.is_empty() && (name.contains(&s) || s.contains(name)) {
                0
            } else {
                1 + levenshtein(&s, name)
            };
            (score, name)
        })
        .collect();
    scored.sort();
    // Only names close to what was written: a substring either way, or at most a third of
    // the name's characters edited (at least 2).
    let close = |score: usize| score == 0 || score - 1 <= (s.chars().count() / 3).max(2);
    scored
        .into_iter()
        .filter(|&(score, _)| close(score))
        .take(n)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// An embedded model from its short name, Hugging Face id or model name
/// (`"llama-3.1-70b".parse::<Model>()`). Parsing never reads a file: for a path to a
/// `config.json` or a checkout, use [`resolve`].
///
/// # Errors
/// [`IrError::UnknownModel`] with the closest embedded names.
impl std::str::FromStr for Model {
    type Err = IrError;

    fn from_str(spec: &str) -> Result<Model, IrError> {
        match EMBEDDED.iter().find(|e| e.matches(spec)) {
            Some(e) => e.model(),
            None => Err(IrError::UnknownModel {
                spec: spec.to_string(),
                suggestions: suggestions(spec, 3),
            }),
        }
    }
}

#[cfg(test)]
mod from_str_tests {
    use super::*;

    #[test]
    fn parses_embedded_names_and_ids_without_io() {
        let a: Model = "llama-3.1-8b".parse().unwrap();
        let b: Model = "meta-llama/Llama-3.1-8B".parse().unwrap();
        assert_eq!(a, b);
        let e = "llama-9".parse::<Model>().unwrap_err().to_string();
        assert!(e.contains("llama-9"), "{e}");
        // A path is not read by `parse` (that is `resolve`'s job).
        assert!("/tmp/config.json".parse::<Model>().is_err());
    }
}
