//! `NumberList`: a named number list (Bloom filter in front of an exact store).

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::error::PyRoutecoreErr;
use super::numbers::{backed_numbers, number_str};
use crate::error::Error;
use crate::lists::{ListBuilder, ListOptions, ListProblem, NumberList};
use crate::number::CountryCodes;
use crate::region::{self, RegionTables};

/// Stands in until the region tables are installed. A list entry's national form
/// does not depend on the country table (an unknown calling code keeps the same
/// `00…` digits; only its kind differs), so lists work before `load_tables()`.
struct NoCountries;

impl CountryCodes for NoCountries {
    fn country_of(&self, _calling_code: u16) -> Option<&str> {
        None
    }
}

/// The installed country table, else [`NoCountries`]. Not an `Arc<dyn …>`: building
/// one for the stand-in would allocate on every lookup.
enum Countries {
    Installed(Arc<RegionTables>),
    Missing,
}

impl std::ops::Deref for Countries {
    type Target = dyn CountryCodes + Send + Sync;

    fn deref(&self) -> &Self::Target {
        match self {
            Countries::Installed(tables) => &**tables,
            Countries::Missing => &NoCountries,
        }
    }
}

fn countries() -> Countries {
    region::tables().map_or(Countries::Missing, Countries::Installed)
}

fn py_err(err: Error) -> PyErr {
    PyRoutecoreErr(err).into()
}

fn options(expected: i128, fp_rate: f64) -> PyResult<ListOptions> {
    ListOptions::new(expected_count(expected)?, fp_rate).map_err(py_err)
}

/// `expected` as a count: the list's `InvalidArgumentError` for a negative or huge one (taken
/// as an `i128` so that Python's bare `OverflowError` is not what a caller sees).
fn expected_count(expected: i128) -> PyResult<usize> {
    usize::try_from(expected)
        .ok()
        .filter(|&n| n <= crate::lists::MAX_EXPECTED)
        .ok_or_else(|| {
            py_err(Error::InvalidArgument(format!(
                "expected: {expected} is not a number of numbers between 0 and {}",
                crate::lists::MAX_EXPECTED
            )))
        })
}

/// A named set of numbers, any size, exact: a Bloom filter answers "not listed",
/// every "listed" is confirmed. Thread-safe; live `add`/`remove`.
#[pyclass(name = "NumberList", module = "routecore._routecore", frozen)]
pub struct PyNumberList {
    inner: NumberList,
    source: String,
    problems: Vec<(usize, String)>,
}

impl PyNumberList {
    fn loaded(
        inner: NumberList,
        source: String,
        problems: Vec<ListProblem>,
        strict: bool,
    ) -> PyResult<Self> {
        if strict {
            if let Some(first) = problems.first() {
                let more = problems.len() - 1;
                let mut err = first.clone();
                if more > 0 {
                    err.reason = format!("{} (and {more} more bad line(s))", err.reason);
                }
                return Err(py_err(err.into()));
            }
        }
        Ok(PyNumberList {
            inner,
            source,
            problems: problems.into_iter().map(|p| (p.line, p.reason)).collect(),
        })
    }
}

#[pymethods]
impl PyNumberList {
    /// Builds a list from numbers in any accepted form; the first bad or anonymous
    /// entry raises `InvalidNumberError` naming its index.
    #[new]
    #[pyo3(signature = (numbers = None, expected = 0, fp_rate = 0.01))]
    fn new(
        py: Python<'_>,
        numbers: Option<&Bound<'_, PyAny>>,
        expected: i128,
        fp_rate: f64,
    ) -> PyResult<Self> {
        let mut builder = ListBuilder::new(options(expected, fp_rate)?);
        if let Some(numbers) = numbers {
            if numbers.is_instance_of::<PyString>() || numbers.is_instance_of::<PyBytes>() {
                // Iterating a string would list its single digits.
                return Err(PyTypeError::new_err(
                    "numbers must be an iterable of str, not a single string",
                ));
            }
            let countries = countries();
            for (i, item) in numbers.try_iter()?.enumerate() {
                let item = item?;
                let text = number_str(&item, &format!("numbers[{i}]"))?;
                builder
                    .push_str(text, &*countries)
                    .map_err(|e| py_err(Error::invalid_number(&format!("numbers[{i}]"), e)))?;
            }
        }
        let inner = py.detach(move || builder.build());
        Ok(PyNumberList {
            inner,
            source: "<numbers>".to_string(),
            problems: Vec::new(),
        })
    }

    /// Loads a list file's text; bad lines are skipped and listed in `problems`
    /// (or raise `ListError` when `strict`). Parsing runs with the GIL released.
    #[staticmethod]
    #[pyo3(signature = (text, source = "<text>", *, strict = false, expected = 0, fp_rate = 0.01))]
    fn from_text(
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        source: &str,
        strict: bool,
        expected: i128,
        fp_rate: f64,
    ) -> PyResult<Self> {
        let options = options(expected, fp_rate)?;
        let countries = countries();
        // Text decoded with `surrogateescape` holds lone surrogates where its bytes were not
        // UTF-8: as in a file, they spoil only their own line (a problem, not a failed load).
        let text = match text.to_str() {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => std::borrow::Cow::Owned(text.to_string_lossy().into_owned()),
        };
        let (inner, problems) =
            py.detach(|| NumberList::from_text(source, &text, &*countries, options));
        Self::loaded(inner, source.to_string(), problems, strict)
    }

    /// Reads and loads a list file (UTF-8; undecodable bytes only spoil their own
    /// line). The file name is the `source` of every problem.
    #[staticmethod]
    #[pyo3(signature = (path, *, strict = false, expected = 0, fp_rate = 0.01))]
    fn from_file(
        py: Python<'_>,
        path: PathBuf,
        strict: bool,
        expected: i128,
        fp_rate: f64,
    ) -> PyResult<Self> {
        let options = options(expected, fp_rate)?;
        let countries = countries();
        let source = path.display().to_string();
        let (inner, problems) = py.detach(|| {
            // The error names the file (io's own message does not).
            let bytes = std::fs::read(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{source}: {e}")))?;
            Ok::<_, std::io::Error>(NumberList::from_file_bytes(
                &source,
                &bytes,
                &*countries,
                options,
            ))
        })?;
        Self::loaded(inner, source, problems, strict)
    }

    /// Reads the form written by `to_bytes`; the filter is sized for `expected`.
    #[staticmethod]
    #[pyo3(signature = (data, expected = 0))]
    fn from_bytes(py: Python<'_>, data: &[u8], expected: i128) -> PyResult<Self> {
        let expected = expected_count(expected)?;
        let inner = py
            .detach(|| NumberList::from_bytes(data, expected))
            .map_err(py_err)?;
        Ok(PyNumberList {
            inner,
            source: "<bytes>".to_string(),
            problems: Vec::new(),
        })
    }

    /// The persistent form: a small header, then 8 bytes a number.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let snapshot = self.inner.snapshot();
        PyBytes::new_with(py, snapshot.serialized_len(), |buf| {
            snapshot.serialize_into(buf);
            Ok(())
        })
    }

    /// Where the list came from (a file name, `<text>`, `<numbers>` or `<bytes>`).
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// The bad lines skipped at load: `(line, reason)`, line numbers from 1.
    #[getter]
    fn problems(&self) -> Vec<(usize, String)> {
        self.problems.clone()
    }

    /// The filter's target false-positive rate.
    #[getter]
    fn fp_rate(&self) -> f64 {
        self.inner.fp_rate()
    }

    /// Lists a number live; `False` if it was already listed.
    #[pyo3(signature = (number, /))]
    fn add(&self, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let number = number_str(number, "number")?;
        Ok(self
            .inner
            .add_str(number, &*countries())
            .map_err(|e| PyRoutecoreErr(Error::invalid_number("number", e)))?)
    }

    /// Unlists a number live; `False` if it was not listed.
    #[pyo3(signature = (number, /))]
    fn remove(&self, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let number = number_str(number, "number")?;
        Ok(self
            .inner
            .remove_str(number, &*countries())
            .map_err(|e| PyRoutecoreErr(Error::invalid_number("number", e)))?)
    }

    fn __contains__(&self, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        let number = number_str(number, "number")?;
        // Most callers arrive as plain digits: skip the country table and the normaliser.
        if let Some(answer) = self.inner.contains_plain(number) {
            return Ok(answer);
        }
        Ok(self
            .inner
            .contains_str(number, &*countries())
            .map_err(|e| PyRoutecoreErr(Error::invalid_number("number", e)))?)
    }

    /// Looks many numbers up with the GIL released.
    #[pyo3(signature = (numbers, /))]
    fn contains_many(&self, py: Python<'_>, numbers: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let numbers = backed_numbers(numbers, "numbers")?;
        let countries = countries();
        Ok(py
            .detach(move || self.inner.contains_many(&numbers, &*countries))
            .map_err(|(i, e)| PyRoutecoreErr(Error::invalid_number(&format!("numbers[{i}]"), e)))?)
    }

    /// Folds live changes into the bulk store (lookups lock-free again).
    fn compact(&self, py: Python<'_>) {
        py.detach(|| self.inner.compact());
    }

    /// Every listed number (national form), shortest first, then in numeric order.
    fn numbers(&self, py: Python<'_>) -> Vec<String> {
        py.detach(|| {
            self.inner
                .numbers()
                .iter()
                .map(|d| d.as_str().to_string())
                .collect()
        })
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self
            .numbers(py)
            .into_pyobject(py)?
            .into_any()
            .try_iter()?
            .into_any())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Bytes used by the filter, the keys, the offsets and the live overlay.
    fn memory_bytes(&self) -> usize {
        self.inner.memory_bytes()
    }

    fn __repr__(&self) -> String {
        format!(
            "NumberList(len={}, source={:?}, problems={})",
            self.inner.len(),
            self.source,
            self.problems.len()
        )
    }
}

/// A list file's bytes as text, line for line, and its lines whose entry is not
/// UTF-8 (see `lists::list_file_text`): how the plan checker reads a list file
/// as `NumberList.from_file` does.
#[pyfunction]
#[pyo3(signature = (data, /))]
fn list_file_text(data: &[u8]) -> (String, Vec<(usize, String)>) {
    crate::lists::list_file_text(data)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNumberList>()?;
    m.add_function(wrap_pyfunction!(list_file_text, m)?)?;
    Ok(())
}
