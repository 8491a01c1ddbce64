//! The crate's error type.
//!
//! Every failure a user can cause is a variant of [`Error`](enum@Error), and its message names the field,
//! the value that was given and what to do instead, e.g.
//! `BayesLinearConfig: prior_sigma must be > 0 (a standard deviation), got -1; use a positive value such as 1.0`.

use thiserror::Error;

/// Result alias used throughout bayesburn.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in bayesburn because of what the caller passed in.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration or distribution parameter is outside its valid range.
    #[error("{context}: {field} must be {requirement}, got {value}; {fix}")]
    InvalidParameter {
        /// The config or type whose field is wrong (e.g. `BayesLinearConfig`).
        context: &'static str,
        /// The field or argument name (e.g. `prior_sigma`).
        field: &'static str,
        /// The value that was given, formatted.
        value: String,
        /// What a valid value looks like (e.g. `> 0`).
        requirement: &'static str,
        /// How to fix it.
        fix: &'static str,
    },
    /// A tensor has the wrong rank or shape.
    #[error("{context}: {field} must have shape {expected}, got {got}; {fix}")]
    ShapeMismatch {
        /// The operation that received the tensor.
        context: &'static str,
        /// The argument name.
        field: &'static str,
        /// The expected shape, e.g. `[S, N, 3]`.
        expected: String,
        /// The shape that was given.
        got: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// A loss term became NaN or infinite during training.
    #[error(
        "training stopped at step {step}: the {term} term is {value} (not finite); \
         lower the learning rate, check the data for NaN/inf, or initialise rho higher"
    )]
    NonFinite {
        /// Optimisation step (0-based) at which the term went non-finite.
        step: usize,
        /// Which term: `nll`, `kl` or `loss`.
        term: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A probabilistic program used a site name twice in one run.
    #[error(
        "model site {site:?} appears twice in one run; give every sample!/observe!/param! site \
         a unique name (e.g. format!(\"w{{i}}\") in a loop)"
    )]
    DuplicateSite {
        /// The repeated name.
        site: String,
    },
    /// A probabilistic program broke a rule of the PPL at a site (a value of the wrong shape, a
    /// discrete latent where inference needs a continuous one, a misused plate).
    #[error("model site {site:?} {problem}; {fix}")]
    Model {
        /// The site (or plate) name.
        site: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A data file is readable but its content does not have the expected format (a wrong
    /// magic number, truncated data, a row of the wrong length, a bad pixel value or label).
    #[error("{path}, {at}: bad {what}: {detail}; {fix}")]
    MalformedData {
        /// The file.
        path: String,
        /// Where in the file: `line 3, column 7` or `byte offset 16`.
        at: String,
        /// What is wrong there, e.g. `magic number`, `row length`, `pixel value`, `label`.
        what: &'static str,
        /// What the file holds there and what a valid file holds, e.g.
        /// `found "17", expected an integer in 0..=16`.
        detail: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// A data file is malformed or disagrees with the other files of its dataset.
    #[error("{path}{}: {problem}; {fix}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Data {
        /// The file.
        path: String,
        /// The 1-based line, where the problem is on one line.
        line: Option<usize>,
        /// What is wrong.
        problem: DataProblem,
        /// How to fix it.
        fix: &'static str,
    },
    /// A checkpoint cannot be read, or does not fit the model it is loaded into (another
    /// architecture, other tensor shapes, another prior family, a training state of another run).
    #[error("checkpoint {path}: {field}: {problem}; {fix}")]
    Checkpoint {
        /// The checkpoint directory.
        path: String,
        /// What does not fit: a tensor or layer path such as `hidden.weight.mu` or `out`, or a
        /// part of the checkpoint such as `checkpoint.json` or `optimizer`.
        field: String,
        /// What the checkpoint holds there and what the model expects.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
}

/// What is wrong with a data file (the `problem` of [`Error::Data`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DataProblem {
    /// A token is not a number (or not a non-negative integer where an index is expected).
    Unparsable {
        /// The offending token.
        token: String,
    },
    /// A row has a different number of columns than the first row.
    RaggedRow {
        /// Columns of the first row.
        expected: usize,
        /// Columns of this row.
        got: usize,
    },
    /// A row index points past the end of the data.
    RowOutOfRange {
        /// The index.
        index: usize,
        /// Number of data rows.
        rows: usize,
    },
    /// A column index points past the last column.
    ColumnOutOfRange {
        /// The index.
        index: usize,
        /// Number of columns.
        columns: usize,
    },
    /// A row is listed twice, in one index file or in both train and test.
    DuplicateRow {
        /// The row index.
        index: usize,
        /// Where else it appears, e.g. `the test file`.
        other: String,
    },
    /// Train and test together leave rows out.
    NotCovered {
        /// How many rows are in neither file.
        missing: usize,
        /// The smallest such row.
        first: usize,
    },
    /// The declared number of splits disagrees with the split files found.
    SplitCount {
        /// The number declared.
        declared: usize,
        /// Complete consecutive split pairs found.
        found: usize,
    },
    /// The file is not UTF-8 text.
    NotText {
        /// Byte offset of the first byte that is not UTF-8.
        offset: usize,
    },
    /// A file holds the wrong number of values.
    ValueCount {
        /// What was expected, e.g. `exactly one`.
        expected: &'static str,
        /// Values found.
        got: usize,
    },
}

impl std::fmt::Display for DataProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataProblem::Unparsable { token } => write!(f, "cannot parse {token:?} as a number"),
            DataProblem::RaggedRow { expected, got } => {
                write!(f, "row has {got} columns, but the first row has {expected}")
            }
            DataProblem::RowOutOfRange { index, rows } => {
                write!(f, "row index {index} is out of range (the data has {rows} rows, 0-based)")
            }
            DataProblem::ColumnOutOfRange { index, columns } => {
                write!(f, "column index {index} is out of range (the data has {columns} columns, 0-based)")
            }
            DataProblem::DuplicateRow { index, other } => write!(f, "row {index} also appears in {other}"),
            DataProblem::NotCovered { missing, first } => {
                write!(f, "train and test together leave out {missing} rows (the first is row {first})")
            }
            DataProblem::SplitCount { declared, found } => {
                write!(f, "declares {declared} splits, but {found} complete train/test file pairs were found")
            }
            DataProblem::ValueCount { expected, got } => write!(f, "expected {expected} values, found {got}"),
            DataProblem::NotText { offset } => write!(f, "not UTF-8 text (byte offset {offset})"),
        }
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(
        context: &'static str,
        field: &'static str,
        value: impl std::fmt::Display,
        requirement: &'static str,
        fix: &'static str,
    ) -> Self {
        Error::InvalidParameter { context, field, value: value.to_string(), requirement, fix }
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shape(
        context: &'static str,
        field: &'static str,
        expected: impl std::fmt::Display,
        got: &[usize],
        fix: &'static str,
    ) -> Self {
        Error::ShapeMismatch { context, field, expected: expected.to_string(), got: format!("{got:?}"), fix }
    }
}

/// Checks `value > 0` and finite, else an [`Error::InvalidParameter`].
pub(crate) fn check_positive(context: &'static str, field: &'static str, value: f64, fix: &'static str) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(context, field, value, "> 0 and finite", fix))
    }
}

/// Checks `value >= 1` (a count), else an [`Error::InvalidParameter`].
pub(crate) fn check_nonzero(context: &'static str, field: &'static str, value: usize, fix: &'static str) -> Result<()> {
    if value >= 1 {
        Ok(())
    } else {
        Err(Error::invalid(context, field, value, ">= 1", fix))
    }
}
