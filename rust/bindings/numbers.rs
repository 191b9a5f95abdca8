//! `normalize`, `kind` and their batch twins.

use pyo3::prelude::*;

use super::engine::field_str;
use super::error::PyRoutecoreErr;
use crate::error::Error;
use crate::number::{self, Number};
use crate::region::{self, RegionTables};

fn tables() -> Result<std::sync::Arc<RegionTables>, PyRoutecoreErr> {
    region::tables().ok_or_else(|| {
        Error::NotReady(
            "region tables are not installed; call routecore.load_tables() first".into(),
        )
        .into()
    })
}

fn normalize_one(input: &str, tables: &RegionTables) -> Result<Number, PyRoutecoreErr> {
    number::normalize(input, tables).map_err(|e| Error::invalid_number("number", e).into())
}

/// Normalise one number to its national form.
#[pyfunction]
fn normalize(number: &Bound<'_, PyAny>) -> PyResult<String> {
    let number = field_str(number, "number")?;
    Ok(normalize_one(number, &*tables()?)?.as_str().to_string())
}

/// The kind of one number.
#[pyfunction]
fn kind(number: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    let number = field_str(number, "number")?;
    Ok(normalize_one(number, &*tables()?)?.kind.as_str())
}

/// Normalise many numbers with the GIL released; a bad one becomes `None`.
#[pyfunction]
fn normalize_many(
    py: Python<'_>,
    numbers: Vec<String>,
) -> Result<Vec<Option<String>>, PyRoutecoreErr> {
    let t = tables()?;
    Ok(py.detach(move || {
        numbers
            .iter()
            .map(|n| {
                number::normalize(n, &*t)
                    .ok()
                    .map(|n| n.as_str().to_string())
            })
            .collect()
    }))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(kind, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_many, m)?)?;
    Ok(())
}
