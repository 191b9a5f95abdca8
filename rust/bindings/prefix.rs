//! `PrefixTable`: longest-prefix match to arbitrary Python values.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::engine::field_str;
use super::error::PyRoutecoreErr;
use super::patterns::Batch;
use crate::prefix::PrefixTable;

/// The core table maps prefixes to indices into `values`, so Python objects never enter
/// the pure-Rust core.
struct Inner {
    table: PrefixTable<u32>,
    values: Vec<Py<PyAny>>,
}

impl Inner {
    /// Stores `value` under `prefix` and returns the value it replaces, to be dropped by
    /// the caller once the lock is released (a drop may run arbitrary Python code).
    fn insert(
        &mut self,
        prefix: &str,
        value: Py<PyAny>,
    ) -> Result<Option<Py<PyAny>>, PyRoutecoreErr> {
        if let Some(&i) = self.table.get_exact(prefix.as_bytes()) {
            return Ok(Some(std::mem::replace(&mut self.values[i as usize], value)));
        }
        self.table
            .insert(prefix.as_bytes(), self.values.len() as u32)?;
        self.values.push(value);
        Ok(None)
    }
}

/// A longest match as Python sees it: (prefix, value).
type Match = (String, Py<PyAny>);

/// Digit prefix → value with longest-prefix match; safe to share between threads.
#[pyclass(name = "PrefixTable", module = "routecore._routecore", frozen)]
pub struct PyPrefixTable {
    // Never held across a call into Python, nor while waiting to re-attach after
    // `detach`, so no thread can wait on it while holding the GIL another one needs.
    inner: RwLock<Inner>,
}

impl PyPrefixTable {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert_one(&self, prefix: &str, value: Py<PyAny>) -> PyResult<()> {
        let old = self.write().insert(prefix, value)?;
        drop(old);
        Ok(())
    }
}

#[pymethods]
impl PyPrefixTable {
    #[new]
    #[pyo3(signature = (items=None))]
    fn new(items: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let table = PyPrefixTable {
            inner: RwLock::new(Inner {
                table: PrefixTable::new(),
                values: Vec::new(),
            }),
        };
        let Some(items) = items else {
            return Ok(table);
        };
        let pairs = if let Ok(dict) = items.cast::<PyDict>() {
            dict.items().into_any()
        } else {
            items.clone()
        };
        for pair in pairs.try_iter()? {
            let (prefix, value): (Bound<'_, PyAny>, Py<PyAny>) = pair?.extract()?;
            if !prefix.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("items: every prefix must be a str"));
            }
            table.insert_one(field_str(&prefix, "items")?, value)?;
        }
        Ok(table)
    }

    /// Set the value of `prefix` (digits; `""` is the default for every number).
    fn insert(&self, prefix: &Bound<'_, PyAny>, value: Py<PyAny>) -> PyResult<()> {
        self.insert_one(field_str(prefix, "prefix")?, value)
    }

    /// The value stored for exactly `prefix`, else `default`.
    #[pyo3(signature = (prefix, default=None))]
    fn get(
        &self,
        py: Python<'_>,
        prefix: &Bound<'_, PyAny>,
        default: Option<Py<PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let prefix = field_str(prefix, "prefix")?;
        let inner = self.read();
        Ok(match inner.table.get_exact(prefix.as_bytes()) {
            Some(&i) => Some(inner.values[i as usize].clone_ref(py)),
            None => default,
        })
    }

    /// The longest stored prefix of `number` and its value, else `None`.
    fn longest_match(&self, py: Python<'_>, number: &Bound<'_, PyAny>) -> PyResult<Option<Match>> {
        let number = field_str(number, "number")?;
        let inner = self.read();
        Ok(inner
            .table
            .longest_match(number.as_bytes())
            .map(|(len, &i)| {
                (
                    number[..len].to_string(),
                    inner.values[i as usize].clone_ref(py),
                )
            }))
    }

    /// `longest_match` of every number, the walk done with the GIL released.
    fn longest_match_many<'py>(
        &self,
        py: Python<'py>,
        numbers: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let batch = Batch::extract(numbers, "numbers")?;
        let found: Vec<Option<(&[u8], u32)>> = py.detach(|| {
            let inner = self.read();
            let mut out = Vec::new();
            batch.for_each(|n| {
                out.push(inner.table.longest_match(n).map(|(len, &i)| (&n[..len], i)));
            });
            out
        });
        // Take the values out under the lock, but build Python objects only after it is
        // released: an allocation may run the garbage collector and arbitrary `__del__` code.
        let mut values: HashMap<u32, Py<PyAny>> = HashMap::new();
        {
            let inner = self.read();
            for &(_, i) in found.iter().flatten() {
                values
                    .entry(i)
                    .or_insert_with(|| inner.values[i as usize].clone_ref(py));
            }
        }
        // A value's slot always belongs to the same prefix, so all hits on one slot are the
        // same (prefix, value) tuple: build it once and share it (tuples are immutable).
        let mut tuples: HashMap<u32, Bound<'py, PyAny>> = HashMap::new();
        let none = py.None().into_bound(py);
        let mut items = Vec::with_capacity(found.len());
        for hit in found {
            items.push(match hit {
                None => none.clone(),
                Some((prefix, i)) => match tuples.entry(i) {
                    Entry::Occupied(e) => e.get().clone(),
                    Entry::Vacant(e) => {
                        // Only ASCII digits are ever matched.
                        let prefix = String::from_utf8_lossy(prefix);
                        let pair = (prefix, values[&i].clone_ref(py)).into_pyobject(py)?;
                        e.insert(pair.into_any()).clone()
                    }
                },
            });
        }
        PyList::new(py, items)
    }

    fn __len__(&self) -> usize {
        self.read().table.len()
    }

    fn __contains__(&self, prefix: &Bound<'_, PyAny>) -> PyResult<bool> {
        let prefix = field_str(prefix, "prefix")?;
        Ok(self.read().table.get_exact(prefix.as_bytes()).is_some())
    }

    fn __repr__(&self) -> String {
        format!("PrefixTable(<{} prefixes>)", self.read().table.len())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPrefixTable>()?;
    Ok(())
}
