//! `normalize`, `kind` and their batch twins, and how every number binding reads its text.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyAnyMethods, PyString, PyStringMethods};

use super::error::PyRoutecoreErr;
use crate::error::{Error, NumberError};
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

/// Why a `str` holding lone surrogates is not a number, as every number binding says it: the
/// text shown with U+FFFD for each lone surrogate, and where the first one is. Error path only.
pub(crate) fn not_text(value: &Bound<'_, PyString>) -> NumberError {
    let units: Option<Vec<u16>> = value
        .call_method1("encode", ("utf-16-le", "surrogatepass"))
        .ok()
        .and_then(|b| b.extract::<Vec<u8>>().ok())
        .map(|b| {
            b.chunks_exact(2)
                .map(|u| u16::from_le_bytes([u[0], u[1]]))
                .collect()
        });
    let (mut shown, mut first) = (String::new(), None);
    match units {
        Some(units) => {
            for (i, c) in char::decode_utf16(units).enumerate() {
                shown.push(c.unwrap_or_else(|_| {
                    first.get_or_insert(i);
                    char::REPLACEMENT_CHARACTER
                }));
            }
        }
        None => shown = value.to_string_lossy().into_owned(),
    }
    let at = first.map_or_else(String::new, |i| format!(" at position {i}"));
    NumberError::new(
        &shown,
        format!(
            "not valid text: a lone surrogate{at} (bytes that were not UTF-8, GBK perhaps, \
             decoded with surrogateescape); decode the input with its real encoding"
        ),
    )
}

/// The name of `value`'s type, for a `TypeError` that says what was given (`?` if even the
/// name cannot be had).
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// The text of a number argument named `field`: a `TypeError` if it is not a `str`, the
/// invalid-number error if it is not valid text (lone surrogates).
pub(crate) fn number_str<'a>(value: &'a Bound<'_, PyAny>, field: &str) -> PyResult<&'a str> {
    str_arg(value, field, |s| {
        PyRoutecoreErr(Error::invalid_number(field, not_text(s))).into()
    })
}

/// The text of a `str` argument named `field`, borrowed: a `TypeError` naming what was given
/// if it is not a `str`, and `refused(s)` if it is not valid text (lone surrogates).
pub(crate) fn str_arg<'a>(
    value: &'a Bound<'_, PyAny>,
    field: &str,
    refused: impl FnOnce(&Bound<'_, PyString>) -> PyErr,
) -> PyResult<&'a str> {
    let Ok(s) = value.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "{field}: expected a str, got {}",
            type_name(value)
        )));
    };
    s.to_str().map_err(|_| refused(s))
}

/// Each `str` of a sequence named `param`, through `each(i, item)`. A `TypeError` names an item
/// that is not a `str`, or `param` if it is one `str` (not a sequence) or no sequence. O(n).
pub(crate) fn str_items<T>(
    values: &Bound<'_, PyAny>,
    param: &str,
    mut each: impl FnMut(usize, &Bound<'_, PyString>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    if values.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{param}: expected a sequence of str, got one str"
        )));
    }
    let iter = values.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{param}: expected a sequence of str, got {}",
            type_name(values)
        ))
    })?;
    let mut out = Vec::with_capacity(values.len().unwrap_or(0));
    for (i, item) in iter.enumerate() {
        let item = item?;
        let Ok(s) = item.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "{param}[{i}]: expected a str, got {}",
                type_name(&item)
            )));
        };
        out.push(each(i, s)?);
    }
    Ok(out)
}

/// The items of a sequence of numbers named `param`, copied out for use without the GIL;
/// `None` for an item that is not valid text (it is not a number). O(total length).
pub(crate) fn number_texts(
    values: &Bound<'_, PyAny>,
    param: &str,
) -> PyResult<Vec<Option<String>>> {
    str_items(values, param, |_, s| {
        Ok(s.to_str().ok().map(str::to_string))
    })
}

/// The items of a sequence of numbers named `param`, borrowed (no copy) for use without the
/// GIL; an item that is not valid text is the invalid-number error `param[i]`. O(n).
pub(crate) fn backed_numbers(values: &Bound<'_, PyAny>, param: &str) -> PyResult<Vec<PyBackedStr>> {
    str_items(values, param, |i, s| {
        PyBackedStr::try_from(s.clone()).map_err(|_| {
            let field = format!("{param}[{i}]");
            PyRoutecoreErr(Error::invalid_number(&field, not_text(s))).into()
        })
    })
}

fn normalize_one(input: &str, tables: &RegionTables) -> Result<Number, PyRoutecoreErr> {
    number::normalize(input, tables).map_err(|e| Error::invalid_number("number", e).into())
}

/// Normalise one number to its national form.
#[pyfunction]
fn normalize(number: &Bound<'_, PyAny>) -> PyResult<String> {
    let number = number_str(number, "number")?;
    Ok(normalize_one(number, &*tables()?)?.as_str().to_string())
}

/// The kind of one number.
#[pyfunction]
fn kind(number: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    let number = number_str(number, "number")?;
    Ok(normalize_one(number, &*tables()?)?.kind.as_str())
}

/// Normalise many numbers with the GIL released; a bad one (not valid text included) becomes `None`.
#[pyfunction]
fn normalize_many(py: Python<'_>, numbers: &Bound<'_, PyAny>) -> PyResult<Vec<Option<String>>> {
    let t = tables()?;
    let numbers = number_texts(numbers, "numbers")?;
    Ok(py.detach(move || {
        numbers
            .iter()
            .map(|n| {
                let n = n.as_deref()?;
                number::normalize(n, &*t)
                    .ok()
                    .map(|n| n.as_str().to_string())
            })
            .collect()
    }))
}

/// The key the engine counts a target's calls under (its slots): a URI's by
/// [`crate::engine::slot_key`], a number's national form; what is no number, as given.
#[pyfunction]
fn slot_key(target: &Bound<'_, PyAny>) -> PyResult<String> {
    let target = number_str(target, "target")?;
    let tables = tables()?;
    if target.contains(':') {
        return Ok(crate::engine::slot_key(target, &tables));
    }
    Ok(number::normalize(target, &*tables)
        .map_or_else(|_| target.to_string(), |n| n.as_str().to_string()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(slot_key, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(kind, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_many, m)?)?;
    Ok(())
}
