//! The PyO3 binding layer: the only place that knows about Python. One file per concept;
//! `error` is the one place where core errors become Python exceptions.

mod error;
mod numbers;
mod patterns;
mod prefix;

use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    numbers::register(m)?;
    patterns::register(m)?;
    prefix::register(m)?;
    Ok(())
}
