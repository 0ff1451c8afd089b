//! Errors of profile files, importers, measured-iteration files and calibration.

use std::fmt;
use thiserror::Error;

/// Where in a file a bad value sits: a JSON table entry (0-based index into `rows`) or a CSV
/// line (1-based, the header being line 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// 0-based index of an entry in a JSON table's `rows`.
    Entry(usize),
    /// 1-based line number of a CSV file.
    Line(usize),
    /// The header (column list) of a table or CSV file.
    Header,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Row::Entry(i) => write!(f, "entry {i}"),
            Row::Line(l) => write!(f, "line {l}"),
            Row::Header => f.write_str("header"),
        }
    }
}

/// Everything that can go wrong reading a profile or measured-iteration file, importing a
/// published table, or building a profiled cost model.
///
/// Every variant names the file (or `<embedded ...>` / `<memory>` source), and where a row or
/// value is at fault, the table, the row ([`Row`]) and the column.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ProfileError {
    /// A file that cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        message: String,
    },

    /// Text that is not valid JSON.
    #[error("{file}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// The file.
        file: String,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// The parser's message.
        message: String,
    },

    /// A `format_version` this build does not read.
    #[error("{file}: format_version {found} is not supported: expected {supported}")]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version found.
        found: String,
        /// The versions this build reads.
        supported: String,
    },

    /// A required field (outside the tables' rows) is missing.
    #[error("{file}: missing field `{field}` in {location}")]
    MissingField {
        /// The file.
        file: String,
        /// Where it should be (`top level`, `gpu`, `tables.gemm.provenance`, ...).
        location: String,
        /// The field's name.
        field: String,
    },

    /// A required column is missing from a table (JSON `columns` list or CSV header).
    #[error(
        "{file}: table `{table}`: missing column `{column}` (the table has columns: {present})"
    )]
    MissingColumn {
        /// The file.
        file: String,
        /// The table (`gemm`, `prefill_attention`, ... or the CSV's name).
        table: String,
        /// The missing column.
        column: String,
        /// The columns that are there, comma-separated.
        present: String,
    },

    /// A column this format does not define (misspelt or from another format).
    #[error("{file}: table `{table}`: unknown column `{column}`: expected one of {expected}")]
    UnknownColumn {
        /// The file.
        file: String,
        /// The table.
        table: String,
        /// The unknown column.
        column: String,
        /// The columns this table accepts.
        expected: String,
    },

    /// A value that does not parse or is out of range.
    #[error(
        "{file}: table `{table}`, {row}, column `{column}`: value `{value}`: expected {expected}"
    )]
    BadValue {
        /// The file.
        file: String,
        /// The table.
        table: String,
        /// The row.
        row: Row,
        /// The column (or field).
        column: String,
        /// The value as given.
        value: String,
        /// What was expected.
        expected: String,
    },

    /// A time that is zero, negative or not finite.
    #[error("{file}: table `{table}`, {row}, column `{column}`: time `{value}` is not positive: expected a finite time > 0")]
    NonPositiveTime {
        /// The file.
        file: String,
        /// The table.
        table: String,
        /// The row.
        row: Row,
        /// The time column.
        column: String,
        /// The value as given.
        value: String,
    },

    /// A table whose curve (one shape family) has fewer than two distinct sizes, so nothing can
    /// be interpolated.
    #[error("{file}: table `{table}`, {row}, column `{column}`: the family {family} has {points} distinct value(s) of `{column}`: expected at least 2 to interpolate")]
    TooFewPoints {
        /// The file.
        file: String,
        /// The table.
        table: String,
        /// The first row of the family.
        row: Row,
        /// The size column that is interpolated over.
        column: String,
        /// The family's key, e.g. `(bf16, n=6144, k=4096)`.
        family: String,
        /// Distinct sizes found.
        points: usize,
    },

    /// An empty table or input where rows are required.
    #[error("{file}: table `{table}` has no rows: expected at least one")]
    Empty {
        /// The file.
        file: String,
        /// The table.
        table: String,
    },

    /// A profiled cost model asked for a GPU without an embedded profile.
    #[error("no measured profile ships for GPU `{gpu}`: expected one of {} (or use the roofline)", available.join(", "))]
    NoProfile {
        /// The GPU's catalog name.
        gpu: String,
        /// GPUs with an embedded profile.
        available: Vec<String>,
    },

    /// Calibration or validation could not run (no usable points, no parameters to fit).
    #[error("calibration: {message}")]
    Calibration {
        /// What went wrong.
        message: String,
    },
}

impl ProfileError {
    /// A [`ProfileError::Io`] for `path`.
    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        ProfileError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
