//! The one error enum of the core; `bindings` maps each variant to one Python exception.

use thiserror::Error;

/// Why an input is not a number, with the offending input (truncated for display).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a number: {shown}: {reason}")]
pub struct NumberError {
    /// The input as given, cut to 64 characters so a huge input never floods a log.
    pub shown: String,
    pub reason: String,
}

impl NumberError {
    pub fn new(input: &str, reason: String) -> Self {
        let shown: String = if input.chars().count() > 64 {
            let head: String = input.chars().take(64).collect();
            format!("{head:?}…")
        } else {
            format!("{input:?}")
        };
        NumberError { shown, reason }
    }
}

/// One problem found while compiling a plan: where (path of keys) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanIssue {
    /// Path of keys, e.g. `["tenants", "clinic", "groups", "desk", "targets", "0", "number"]`.
    pub path: Vec<String>,
    pub message: String,
}

#[derive(Debug, Error)]
pub enum Error {
    /// A number that is not a number (which field, and why).
    #[error("{field}: {source}")]
    InvalidNumber {
        field: String,
        #[source]
        source: NumberError,
    },
    /// Any other malformed argument (digits, times, event types…).
    #[error("{0}")]
    InvalidArgument(String),
    /// The called number is not served by the plan.
    #[error("{0}")]
    NotFound(String),
    /// A dial pattern that does not compile.
    #[error("bad pattern {pattern:?} at position {position}: {reason}")]
    BadPattern {
        pattern: String,
        position: usize,
        reason: String,
    },
    /// A list that could not be loaded (source, 1-based line, what is wrong).
    #[error("{source_name}:{line}: {reason}")]
    BadList {
        source_name: String,
        line: usize,
        reason: String,
    },
    /// A plan that does not compile; every issue is listed.
    #[error("plan has {} error(s): {}", .0.len(), .0.iter().map(|i| format!("{}: {}", i.path.join("."), i.message)).collect::<Vec<_>>().join("; "))]
    Plan(Vec<PlanIssue>),
    /// Region or country tables were needed before they were installed.
    #[error("{0}")]
    NotReady(String),
}

impl Error {
    pub fn invalid_number(field: &str, source: NumberError) -> Self {
        Error::InvalidNumber {
            field: field.to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
