//! The error type of `parallax-ir`.
//!
//! Every variant names where the problem is (file, field, cell) and, where there is one, the
//! offending value and what was expected, so a message alone is enough to fix the input.

use std::path::PathBuf;

/// Everything that can go wrong while importing or sharding a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrError {
    /// A file could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A file is not valid JSON (or its top level is not an object).
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    Json {
        /// File name (or the source label given to the importer).
        file: String,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// What the parser reported.
        message: String,
    },
    /// A required field is absent (or `null`).
    #[error("{file}: missing field `{field}`")]
    MissingField {
        /// File name.
        file: String,
        /// Dotted path of the field, e.g. `text_config.hidden_size`.
        field: String,
    },
    /// A field is present but its value is unusable.
    #[error("{file}: field `{field}` = {value}: expected {expected}")]
    InvalidValue {
        /// File name.
        file: String,
        /// Dotted path of the field.
        field: String,
        /// The value as written (JSON text).
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The `architectures[0]` / `model_type` is not one Parallax can import.
    #[error("{file}: unsupported architecture `{name}`; supported: {}", supported.join(", "))]
    UnsupportedArchitecture {
        /// File name.
        file: String,
        /// The architecture as written.
        name: String,
        /// Architectures that are supported.
        supported: Vec<String>,
    },
    /// A cell cannot be split as requested.
    #[error(
        "cannot shard {cell} with tp={tp}{}: {reason}",
        if *ep > 1 { format!(", ep={ep}") } else { String::new() }
    )]
    InvalidShard {
        /// Description of the cell, e.g. `attention (heads=64, kv_heads=8)`.
        cell: String,
        /// Requested tensor-parallel degree.
        tp: u32,
        /// Requested expert-parallel degree.
        ep: u32,
        /// Why it does not fit.
        reason: String,
    },
    /// A model spec is neither an embedded short name, an embedded HF id nor a config file.
    #[error(
        "unknown model `{spec}`{}(`parallax models` lists all; a path to a config.json also works)",
        did_you_mean(suggestions)
    )]
    UnknownModel {
        /// The spec as given.
        spec: String,
        /// The closest embedded names.
        suggestions: Vec<String>,
    },
}

impl IrError {
    /// Shorthand for [`IrError::InvalidValue`].
    pub(crate) fn invalid(
        file: &str,
        field: &str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        IrError::InvalidValue {
            file: file.to_string(),
            field: field.to_string(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// Shorthand for [`IrError::MissingField`].
    pub(crate) fn missing(file: &str, field: &str) -> Self {
        IrError::MissingField {
            file: file.to_string(),
            field: field.to_string(),
        }
    }
}

/// `; did you mean: a, b? ` for suggestions, else a single space.
fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        " ".to_string()
    } else {
        format!("; did you mean: {}? ", suggestions.join(", "))
    }
}

/// `v` as a short text for error messages: plain decimals for ordinary magnitudes,
/// scientific notation for tiny or huge ones (`1e-300`, not a 300-digit decimal), and the
/// non-finite values as TOML spells them (`nan`, `inf`, `-inf`), the only input format of
/// this project that can hold them.
///
/// # Examples
/// ```
/// assert_eq!(parallax_ir::error::compact(0.5), "0.5");
/// assert_eq!(parallax_ir::error::compact(1e-300), "1e-300");
/// assert_eq!(parallax_ir::error::compact(f64::NAN), "nan");
/// ```
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if v.is_nan() {
        "nan".into()
    } else if v == 0.0 || !v.is_finite() || (1e-4..1e15).contains(&a) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}
