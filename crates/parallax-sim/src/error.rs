//! The error type of `parallax-sim`.
//!
//! Every variant names where the problem is (trace file and line, config field) and, where there
//! is one, the offending value and what was expected, so a message alone is enough to fix the
//! input.

use std::path::PathBuf;

/// Everything that can go wrong while loading a workload or configuring a simulation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A file could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A trace line is malformed (not JSON, wrong number of CSV columns, ...).
    #[error("{file}:{line}: {message}")]
    TraceSyntax {
        /// File name (or the source label given to the loader).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A trace field is missing on a line (or missing from a CSV header, then `line` is 1).
    #[error("{file}:{line}: missing field `{field}`")]
    TraceMissingField {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The field (JSON key or CSV column).
        field: String,
    },
    /// A trace field has an unusable value (zero or negative length, non-number, bad date...).
    #[error("{file}:{line}: field `{field}` = {value}: expected {expected}")]
    TraceValue {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The field.
        field: String,
        /// The value as written.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The trace format could not be recognised.
    #[error("{file}: unrecognised trace format: {message}")]
    UnknownFormat {
        /// File name.
        file: String,
        /// Why detection failed.
        message: String,
    },
    /// A workload (trace or synthetic specification) is unusable as a whole.
    #[error("invalid workload `{workload}`: {field} = {value}: expected {expected}")]
    InvalidWorkload {
        /// Workload name.
        workload: String,
        /// Offending parameter.
        field: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// No embedded workload of that name.
    #[error("unknown workload `{name}`: expected one of {expected}")]
    UnknownWorkload {
        /// The name asked for.
        name: String,
        /// Comma-separated known names.
        expected: String,
    },
    /// A simulator, scheduler, router or replica setting is invalid.
    #[error("invalid config: {field} = {value}: expected {expected}")]
    InvalidConfig {
        /// Dotted name of the setting, e.g. `scheduler.max_num_seqs`.
        field: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// [`crate::Simulator::run_until`] reached its wall-clock deadline before the workload
    /// finished (a budget, not a fault of the input).
    #[error("the simulation stopped at its wall-clock deadline after {events} events")]
    DeadlineReached {
        /// Events (arrivals and iterations) processed before stopping.
        events: u64,
    },
    /// [`crate::Simulator::run_until`] saw its deadline's cancellation flag set
    /// ([`crate::Deadline::cancel_on`]) before the workload finished.
    #[error("the simulation was cancelled after {events} events")]
    Cancelled {
        /// Events (arrivals and iterations) processed before stopping.
        events: u64,
    },
}

pub use parallax_ir::error::compact;

impl SimError {
    /// Shorthand for [`SimError::InvalidConfig`].
    pub fn config(field: &str, value: impl ToString, expected: &str) -> Self {
        SimError::InvalidConfig {
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// Shorthand for [`SimError::InvalidWorkload`].
    pub fn workload(workload: &str, field: &str, value: impl ToString, expected: &str) -> Self {
        SimError::InvalidWorkload {
            workload: workload.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}
