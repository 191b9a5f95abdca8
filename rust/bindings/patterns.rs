//! Dial patterns and 400/800 classes: `PatternSet`, `Classification`, `classify`,
//! `classify_many` and `pool`, plus the bulk input every batch call here accepts.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use super::engine::field_str;
use super::error::PyRoutecoreErr;
use super::numbers::{not_text, number_str, str_items, type_name};
use crate::classify::{self as classes, Class, Classification, Filter, TagFilter};
use crate::error::Error;
use crate::pattern::PatternSet;

/// Numbers handed over from Python: the lines of a `bytes` buffer (borrowed: bytes are
/// immutable, so the slice stays valid with the GIL released while the caller holds the
/// object), or the items of a sequence of `str`, copied into one buffer.
pub(crate) enum Batch<'a> {
    Lines(&'a [u8]),
    Items { buf: Vec<u8>, ends: Vec<usize> },
}

impl Batch<'_> {
    /// Reads `obj`, naming `param` in any `TypeError`, and `param[i]` in the invalid-number
    /// error for an item that is not valid text (lone surrogates). O(total length) for a sequence.
    pub(crate) fn extract<'a>(obj: &'a Bound<'_, PyAny>, param: &str) -> PyResult<Batch<'a>> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Batch::Lines(bytes.as_bytes()));
        }
        if obj.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "{param}: expected a sequence of str or a bytes buffer of lines, not one str"
            )));
        }
        let (mut buf, mut ends) = (Vec::new(), Vec::new());
        if let Ok(list) = obj.cast::<PyList>() {
            ends.reserve(list.len());
        }
        let mut push = |i: usize, item: &Bound<'_, PyAny>| -> PyResult<()> {
            let s = item.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{param}[{i}]: expected str, got {}",
                    type_name(item)
                ))
            })?;
            let text = s.to_str().map_err(|_| {
                PyRoutecoreErr(Error::invalid_number(&format!("{param}[{i}]"), not_text(s)))
            })?;
            buf.extend_from_slice(text.as_bytes());
            ends.push(buf.len());
            Ok(())
        };
        if let Ok(list) = obj.cast::<PyList>() {
            for (i, item) in list.iter().enumerate() {
                push(i, &item)?;
            }
        } else {
            let iter = obj.try_iter().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{param}: expected a sequence of str or a bytes buffer of lines"
                ))
            })?;
            for (i, item) in iter.enumerate() {
                push(i, &item?)?;
            }
        }
        Ok(Batch::Items { buf, ends })
    }

    /// Calls `f` on every number in order. O(total length).
    pub(crate) fn for_each<'s>(&'s self, mut f: impl FnMut(&'s [u8])) {
        match self {
            Batch::Lines(buf) => classes::lines(buf).for_each(f),
            Batch::Items { buf, ends } => {
                let mut start = 0;
                for &end in ends {
                    f(&buf[start..end]);
                    start = end;
                }
            }
        }
    }
}

/// `['a', 'b']`, as Python shows a list of str that need no escaping (tags and compiled
/// patterns hold no quotes or backslashes).
fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

/// The class and tags of a 400/800 number; the class is `""` for other numbers.
#[pyclass(
    name = "Classification",
    module = "routecore._routecore",
    frozen,
    eq,
    hash
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyClassification {
    inner: Classification,
}

#[pymethods]
impl PyClassification {
    /// `top`, `special`, `ordinary`, or `""` for a number that is not 400/800 + 7 digits.
    #[getter]
    fn class_(&self) -> &'static str {
        self.inner.class_str()
    }

    /// The tags, in the spec's table order.
    #[getter]
    fn tags(&self) -> Vec<&'static str> {
        self.inner.tags().map(classes::Tag::as_str).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Classification(class_='{}', tags={})",
            self.inner.class_str(),
            py_list(&self.tags())
        )
    }
}

/// Classify one number, normalised first (`400-888-8888`, `+86 400 888 8888`).
#[pyfunction]
fn classify(number: &Bound<'_, PyAny>) -> PyResult<PyClassification> {
    let text = number_str(number, "number")?;
    let inner = classes::classify_number(text.as_bytes())
        .map_err(|e| PyRoutecoreErr(Error::invalid_number("number", e)))?;
    Ok(PyClassification { inner })
}

/// Classify many numbers, each normalised first, with the GIL released; one result object per
/// distinct result. The first number that is not one fails the batch, named by its index.
#[pyfunction]
fn classify_many<'py>(
    py: Python<'py>,
    numbers: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let batch = Batch::extract(numbers, "numbers")?;
    let results = py.detach(|| {
        let mut out = Vec::new();
        let mut failed = None;
        batch.for_each(|n| {
            if failed.is_none() {
                match classes::classify_number(n) {
                    Ok(c) => out.push(c),
                    Err(e) => failed = Some((out.len(), e)),
                }
            }
        });
        match failed {
            None => Ok(out),
            Some((i, e)) => Err(Error::invalid_number(&format!("numbers[{i}]"), e)),
        }
    });
    let results = results.map_err(PyRoutecoreErr)?;
    // Results are frozen and repeat a lot (a few hundred distinct values), so each distinct
    // one becomes one Python object, shared: the list then costs a reference per number.
    let mut slot = vec![u32::MAX; 1 << 16];
    let mut objects: Vec<Bound<'py, PyClassification>> = Vec::new();
    let mut order = Vec::with_capacity(results.len());
    for c in results {
        let key = usize::from(c.key());
        if slot[key] == u32::MAX {
            slot[key] = objects.len() as u32;
            objects.push(Bound::new(py, PyClassification { inner: c })?);
        }
        order.push(slot[key]);
    }
    PyList::new(py, order.into_iter().map(|i| &objects[i as usize]))
}

/// A compiled set of dial patterns; immutable, shareable between threads.
#[pyclass(name = "PatternSet", module = "routecore._routecore", frozen)]
pub struct PyPatternSet {
    inner: Arc<PatternSet>,
}

fn pattern_sources(patterns: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    str_items(patterns, "patterns", |i, p| {
        field_str(p.as_any(), &format!("patterns[{i}]")).map(str::to_string)
    })
}

#[pymethods]
impl PyPatternSet {
    #[new]
    fn new(patterns: &Bound<'_, PyAny>) -> PyResult<Self> {
        let sources = pattern_sources(patterns)?;
        let set = PatternSet::new(&sources).map_err(PyRoutecoreErr::from)?;
        Ok(PyPatternSet {
            inner: Arc::new(set),
        })
    }

    /// Whether any pattern matches `number`.
    fn matches(&self, number: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self
            .inner
            .matches_any(number_str(number, "number")?.as_bytes()))
    }

    /// Index of the first pattern (in the order given) that matches, else `None`.
    fn first_match(&self, number: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        Ok(self
            .inner
            .first_match(number_str(number, "number")?.as_bytes()))
    }

    /// Indices of every matching pattern, ascending.
    fn matching(&self, number: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        Ok(self
            .inner
            .matching(number_str(number, "number")?.as_bytes()))
    }

    /// `first_match` of every number, with the GIL released.
    fn match_many(
        &self,
        py: Python<'_>,
        numbers: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Option<usize>>> {
        let batch = Batch::extract(numbers, "numbers")?;
        let set = &*self.inner;
        Ok(py.detach(|| {
            let mut out = Vec::new();
            batch.for_each(|n| out.push(set.first_match(n)));
            out
        }))
    }

    /// The patterns as given, in order.
    #[getter]
    fn patterns(&self) -> Vec<String> {
        self.inner
            .patterns()
            .iter()
            .map(|p| p.source().to_string())
            .collect()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("PatternSet({})", py_list(&self.patterns()))
    }
}

/// The criteria of `pool` and `pool_lines` as one [`Filter`].
fn pool_filter(
    class_: Option<&str>,
    tag: Option<&str>,
    pattern: Option<&Bound<'_, PyAny>>,
) -> PyResult<Filter> {
    let class = class_
        .map(Class::parse)
        .transpose()
        .map_err(PyRoutecoreErr::from)?;
    let tag = tag
        .map(TagFilter::parse)
        .transpose()
        .map_err(PyRoutecoreErr::from)?;
    let pattern = match pattern {
        None => None,
        Some(p) => Some(if let Ok(set) = p.cast::<PyPatternSet>() {
            Arc::clone(&set.get().inner)
        } else if let Ok(one) = p.cast::<PyString>() {
            Arc::new(PatternSet::new([one.to_str()?]).map_err(PyRoutecoreErr::from)?)
        } else {
            Arc::new(PatternSet::new(pattern_sources(p)?).map_err(PyRoutecoreErr::from)?)
        }),
    };
    Ok(Filter {
        class,
        tag,
        pattern,
    })
}

/// Filter candidate numbers by class, tag and/or dial pattern, with the GIL released.
#[pyfunction]
#[pyo3(signature = (numbers, *, class_=None, tag=None, pattern=None))]
fn pool<'py>(
    py: Python<'py>,
    numbers: &Bound<'py, PyAny>,
    class_: Option<&str>,
    tag: Option<&str>,
    pattern: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let filter = pool_filter(class_, tag, pattern)?;
    let batch = Batch::extract(numbers, "numbers")?;
    let kept: Vec<&[u8]> = py.detach(|| {
        let mut out = Vec::new();
        batch.for_each(|n| {
            if filter.accepts(n) {
                out.push(n);
            }
        });
        out
    });
    PyList::new(py, kept.into_iter().map(|n| String::from_utf8_lossy(n)))
}

/// Filter the numbers of a file's bytes (read as a list file is) by their national forms,
/// with the GIL released: the matches, and `(line, reason)` for every line that is no number.
#[pyfunction]
#[pyo3(signature = (data, *, class_=None, tag=None, pattern=None))]
#[allow(clippy::type_complexity)]
fn pool_lines<'py>(
    py: Python<'py>,
    data: &[u8],
    class_: Option<&str>,
    tag: Option<&str>,
    pattern: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Vec<String>, Vec<(usize, String)>)> {
    let filter = pool_filter(class_, tag, pattern)?;
    Ok(py.detach(|| {
        let (mut kept, mut problems) = (Vec::new(), Vec::new());
        for (line, number) in classes::numbered_lines(data) {
            match filter.national(number) {
                // National forms are ASCII digits.
                Ok(Some(national)) => kept.push(String::from_utf8_lossy(&national).into_owned()),
                Ok(None) => {}
                // A line that is not UTF-8 (never a number) is worded as `NumberList.from_file`
                // words it, the byte counted from 1; looked at only once the line failed.
                Err(e) => problems.push((
                    line,
                    std::str::from_utf8(number)
                        .map_or_else(|bad| crate::lists::not_utf8_line(&bad), |_| e.to_string()),
                )),
            }
        }
        (kept, problems)
    }))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pool_lines, m)?)?;
    m.add_class::<PyClassification>()?;
    m.add_class::<PyPatternSet>()?;
    m.add_function(wrap_pyfunction!(classify, m)?)?;
    m.add_function(wrap_pyfunction!(classify_many, m)?)?;
    m.add_function(wrap_pyfunction!(pool, m)?)?;
    Ok(())
}
