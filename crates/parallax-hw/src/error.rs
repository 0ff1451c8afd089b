//! The error type of `parallax-hw`.

use thiserror::Error;

/// Everything that can go wrong when the user describes hardware.
///
/// Every variant names the value the user gave and what was expected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum HwError {
    /// A GPU name that is not in the catalog (nor an alias of one).
    #[error("unknown GPU `{name}`: expected one of {}", known.join(", "))]
    UnknownGpu {
        /// The name as given.
        name: String,
        /// Canonical names of the catalogued GPUs.
        known: Vec<String>,
    },

    /// A cluster string such as `2x8xH100` that does not parse.
    #[error("malformed cluster `{spec}`: {part} is `{value}`, expected {expected} (e.g. `2x8xH100` = 2 nodes x 8 GPUs, or `8xH100` = one node)")]
    MalformedCluster {
        /// The whole string.
        spec: String,
        /// Which part is wrong (`nodes`, `gpus per node`, `gpu`, `format`).
        part: String,
        /// The offending text.
        value: String,
        /// What was expected there.
        expected: String,
    },

    /// A TOML document that does not parse or misses a field.
    #[error("{source_name}: TOML error: {message}")]
    Toml {
        /// The file (or other source) the text came from.
        source_name: String,
        /// The parser's message (it names the line and field).
        message: String,
    },

    /// A field of a TOML document with a bad value.
    #[error("{source_name}: field `{field}` = `{value}`: expected {expected}")]
    TomlField {
        /// The file (or other source) the text came from.
        source_name: String,
        /// Dotted path of the field, e.g. `inter_node.kind`.
        field: String,
        /// The value as given.
        value: String,
        /// What was expected.
        expected: String,
    },

    /// A value that is out of range (zero nodes, non-positive bandwidth, ...).
    #[error("invalid {what} `{value}`: expected {expected}")]
    InvalidValue {
        /// What the value is (e.g. `nodes`, `price_per_hour`).
        what: String,
        /// The value as given.
        value: String,
        /// What was expected.
        expected: String,
    },

    /// A file that cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        message: String,
    },
}
