//! `region`, `region_many` and the table installation the Python loader calls.

use std::sync::Arc;

use pyo3::prelude::*;

use super::error::PyRoutecoreErr;
use super::numbers::{number_str, number_texts};
use crate::error::Error;
use crate::number::{self, Number};
use crate::region::{self as core, RegionTables};

fn tables() -> Result<Arc<RegionTables>, PyRoutecoreErr> {
    core::tables().ok_or_else(|| {
        Error::NotReady(
            "region tables are not installed; call routecore.load_tables() first".into(),
        )
        .into()
    })
}

/// Where a caller is from: the normalised number, its kind, and its region
/// (empty strings where unknown). Holds the number and the tables it was looked up in;
/// each field is an O(1) lookup, so creating one allocates nothing but the object.
#[pyclass(name = "Region", module = "routecore._routecore", frozen, eq, hash)]
#[derive(Debug, Clone)]
pub struct PyRegion {
    number: Number,
    tables: Arc<RegionTables>,
}

impl PyRegion {
    fn new(number: Number, tables: Arc<RegionTables>) -> PyRegion {
        PyRegion { number, tables }
    }

    fn lookup(&self) -> core::Region<'_> {
        self.tables.lookup(&self.number)
    }
}

impl PartialEq for PyRegion {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number && self.lookup() == other.lookup()
    }
}

impl Eq for PyRegion {}

impl std::hash::Hash for PyRegion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number.hash(state);
    }
}

#[pymethods]
impl PyRegion {
    #[getter]
    fn normalized(&self) -> &str {
        self.number.as_str()
    }
    #[getter]
    fn kind(&self) -> &'static str {
        self.number.kind.as_str()
    }
    #[getter]
    fn province(&self) -> &str {
        self.lookup().province
    }
    #[getter]
    fn city(&self) -> &str {
        self.lookup().city
    }
    #[getter]
    fn carrier(&self) -> &str {
        self.lookup().carrier
    }
    #[getter]
    fn virtual_operator(&self) -> bool {
        self.lookup().virtual_operator
    }
    #[getter]
    fn country(&self) -> &str {
        self.lookup().country
    }

    fn __repr__(&self) -> String {
        let r = self.lookup();
        format!(
            "Region(normalized={:?}, kind={:?}, province={:?}, city={:?}, carrier={:?}, virtual_operator={}, country={:?})",
            self.number.as_str(),
            self.number.kind.as_str(),
            r.province,
            r.city,
            r.carrier,
            if r.virtual_operator { "True" } else { "False" },
            r.country
        )
    }
}

/// The region of one number (normalised first).
#[pyfunction]
fn region(number: &Bound<'_, PyAny>) -> PyResult<PyRegion> {
    let t = tables()?;
    let number = number_str(number, "number")?;
    let n = number::normalize(number, &*t)
        .map_err(|e| PyRoutecoreErr(Error::invalid_number("number", e)))?;
    Ok(PyRegion::new(n, t))
}

/// The regions of many numbers with the GIL released; a number that is not one (not valid
/// text included) becomes `None`.
#[pyfunction]
fn region_many(py: Python<'_>, numbers: &Bound<'_, PyAny>) -> PyResult<Vec<Option<PyRegion>>> {
    let t = tables()?;
    let numbers = number_texts(numbers, "numbers")?;
    Ok(py.detach(move || {
        numbers
            .iter()
            .map(|n| {
                number::normalize(n.as_deref()?, &*t)
                    .ok()
                    .map(|n| PyRegion::new(n, Arc::clone(&t)))
            })
            .collect()
    }))
}

/// Builds the region tables from `phone.dat`'s bytes and the `phonenumbers` material
/// (GIL released) and installs them for the whole process.
#[pyfunction]
fn install_region_tables(
    py: Python<'_>,
    phone_dat: &[u8],
    phonenumbers: &str,
) -> Result<(), PyRoutecoreErr> {
    let tables = py.detach(|| RegionTables::build(phone_dat, phonenumbers))?;
    core::install(tables);
    Ok(())
}

/// Every (province, city) pair `phone` names, in its order.
#[pyfunction]
fn region_places() -> Result<Vec<(String, String)>, PyRoutecoreErr> {
    Ok(tables()?
        .places()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect())
}

/// `phone`'s (province, city) for a `phonenumbers` zh description, as the tables map it.
#[pyfunction]
fn match_place(description: &str) -> Result<Option<(String, String)>, PyRoutecoreErr> {
    Ok(tables()?
        .match_description(description)
        .map(|(p, c)| (p.to_string(), c.to_string())))
}

/// Where the installed tables' facts came from, as counts.
#[pyfunction]
fn region_stats() -> Result<Vec<(&'static str, usize)>, PyRoutecoreErr> {
    let s = tables()?.stats();
    Ok(vec![
        ("from_phone", s.from_phone),
        ("from_phonenumbers", s.from_phonenumbers),
        ("province_only", s.province_only),
        ("area_codes", s.area_codes),
        ("calling_codes", s.calling_codes),
    ])
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRegion>()?;
    m.add_function(wrap_pyfunction!(region, m)?)?;
    m.add_function(wrap_pyfunction!(region_many, m)?)?;
    m.add_function(wrap_pyfunction!(install_region_tables, m)?)?;
    m.add_function(wrap_pyfunction!(region_places, m)?)?;
    m.add_function(wrap_pyfunction!(match_place, m)?)?;
    m.add_function(wrap_pyfunction!(region_stats, m)?)?;
    Ok(())
}
