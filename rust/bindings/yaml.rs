//! `yaml_to_json` and `yaml_lines`: the plan loader's fast YAML reader (`rust/yaml.rs`).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyList, PyString, PyTuple};

use crate::yaml::{self, PathElem, Step};

/// Read plan YAML as `PyYAML`'s `SafeLoader` would, into JSON, with the GIL released; or the
/// reason the fast reader declines the document (the caller then uses `PyYAML`).
#[pyfunction]
#[pyo3(signature = (text, /))]
fn yaml_to_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let fast = match py.detach(|| yaml::to_json(text)) {
        Ok(fast) => fast,
        Err(why) => return Ok(PyString::new(py, &why.0).into_any()),
    };
    let dates = PyList::empty(py);
    for path in &fast.dates {
        let steps = path
            .iter()
            .map(|e| match e {
                PathElem::Key(k) => Ok(PyString::new(py, k).into_any()),
                PathElem::Index(i) => Ok(i.into_pyobject(py)?.into_any()),
            })
            .collect::<PyResult<Vec<_>>>()?;
        dates.append(PyTuple::new(py, steps)?)?;
    }
    let json = PyBytes::new(py, &fast.json);
    Ok(PyTuple::new(py, [json.into_any(), dates.into_any()])?.into_any())
}

fn step_of(item: &Bound<'_, PyAny>) -> Step {
    if let Ok(s) = item.cast::<PyString>() {
        return s.to_str().map_or(Step::Other, |s| Step::Key(s.to_owned()));
    }
    // a bool is an int to Python's list indexing, as in the loader's node index
    if let Ok(b) = item.cast::<PyBool>() {
        return Step::Index(i64::from(b.is_true()));
    }
    if item.is_instance_of::<PyInt>() {
        return item.extract::<i64>().map_or(Step::Other, Step::Index);
    }
    Step::Other
}

/// The 1-based line of each path (keys and list indices) in a document that `yaml_to_json`
/// accepts, as `PyYAML`'s node marks place it; `None` when the text fails the fast reader's
/// checks of characters or does not parse.
#[pyfunction]
#[pyo3(signature = (text, paths, /))]
fn yaml_lines(
    py: Python<'_>,
    text: &str,
    paths: &Bound<'_, PyAny>,
) -> PyResult<Option<Vec<Option<usize>>>> {
    let paths = paths
        .try_iter()?
        .map(|p| p?.try_iter()?.map(|s| s.map(|s| step_of(&s))).collect())
        .collect::<PyResult<Vec<Vec<Step>>>>()?;
    Ok(py.detach(|| yaml::lines(text, &paths)).ok())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(yaml_to_json, m)?)?;
    m.add_function(wrap_pyfunction!(yaml_lines, m)?)?;
    Ok(())
}
