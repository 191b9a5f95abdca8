//! The `PyO3` binding layer: the only place that knows about Python. One file per concept;
//! `error` is the one place where core errors become Python exceptions.

mod engine;
mod error;
mod lists;
mod numbers;
mod patterns;
mod prefix;
mod region;
mod sim;
mod wire;
mod yaml;

use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    engine::register(m)?;
    numbers::register(m)?;
    region::register(m)?;
    sim::register(m)?;
    lists::register(m)?;
    patterns::register(m)?;
    prefix::register(m)?;
    wire::register(m)?;
    yaml::register(m)?;
    Ok(())
}
