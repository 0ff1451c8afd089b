//! The facade's error: one variant per focused crate, so callers can match on the category.

/// Any error Parallax reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model config could not be read or understood.
    #[error(transparent)]
    Model(#[from] parallax_ir::IrError),
    /// A GPU, cluster or hardware description was invalid.
    #[error(transparent)]
    Hardware(#[from] parallax_hw::HwError),
    /// A profile or measured file was invalid (boxed: the error names file, table, row and
    /// column, and is large).
    #[error(transparent)]
    Profile(Box<parallax_hw::profile::ProfileError>),
    /// A workload or simulator configuration was invalid.
    #[error(transparent)]
    Simulation(#[from] parallax_sim::SimError),
    /// A plan was malformed or does not fit.
    #[error(transparent)]
    Plan(#[from] parallax_plan::PlanError),
    /// A placement instance was invalid or infeasible.
    #[error(transparent)]
    Placement(#[from] parallax_place::PlaceError),
    /// A row of a measured file could not be predicted: the file, line and row as written, and
    /// why.
    #[error("{file}:{line} (`{row}`): {source}")]
    Row {
        /// The file.
        file: String,
        /// Its line.
        line: usize,
        /// The row's identifying fields, as written.
        row: String,
        /// Why it could not be predicted.
        source: Box<Error>,
    },
    /// A cell of an input file (a serving-run or load-point CSV) was
    /// missing or out of range: the file, line and column, the value as written, and what was
    /// expected.
    #[error("{file}:{line}: column `{column}` = `{value}`: expected {expected}")]
    Cell {
        /// The file.
        file: String,
        /// Its line (1-based).
        line: usize,
        /// The column's name.
        column: String,
        /// The value as written (shortened past 120 characters).
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A search or validation option was out of range.
    #[error("invalid option `{option}` = `{value}`: expected {expected}")]
    Option {
        /// The option (CLI flag or builder method).
        option: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
}

/// Shorthand for results of the facade.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<parallax_hw::profile::ProfileError> for Error {
    fn from(e: parallax_hw::profile::ProfileError) -> Self {
        Error::Profile(Box::new(e))
    }
}
