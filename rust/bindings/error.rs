//! Core errors → the Python exception hierarchy rooted at `RoutecoreError`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::error::Error;

create_exception!(
    routecore.exceptions,
    RoutecoreError,
    PyException,
    "Root of every routecore error."
);
create_exception!(
    routecore.exceptions,
    InvalidNumberError,
    RoutecoreError,
    "A number that is not a number: which field, and why."
);
create_exception!(
    routecore.exceptions,
    InvalidArgumentError,
    RoutecoreError,
    "A malformed argument other than a number (digits, time, event)."
);
create_exception!(
    routecore.exceptions,
    NotFoundError,
    RoutecoreError,
    "The called number is not served by the plan."
);
create_exception!(
    routecore.exceptions,
    PatternError,
    RoutecoreError,
    "A dial pattern that does not compile: position and reason."
);
create_exception!(
    routecore.exceptions,
    ListError,
    RoutecoreError,
    "A list file or entry that cannot be loaded: source, line and reason."
);
create_exception!(
    routecore.exceptions,
    PlanError,
    RoutecoreError,
    "A plan that fails its checks; `errors` lists every problem."
);
create_exception!(
    routecore.exceptions,
    NotReadyError,
    RoutecoreError,
    "Data needed for the call is not loaded yet."
);

pub(crate) struct PyRoutecoreErr(pub Error);

impl From<Error> for PyRoutecoreErr {
    fn from(err: Error) -> Self {
        PyRoutecoreErr(err)
    }
}

impl From<PyRoutecoreErr> for PyErr {
    fn from(err: PyRoutecoreErr) -> Self {
        let msg = err.0.to_string();
        match err.0 {
            Error::InvalidNumber { .. } => InvalidNumberError::new_err(msg),
            Error::InvalidArgument(_) => InvalidArgumentError::new_err(msg),
            Error::NotFound(_) => NotFoundError::new_err(msg),
            Error::BadPattern { .. } => PatternError::new_err(msg),
            Error::BadList { .. } => ListError::new_err(msg),
            Error::Plan(_) => PlanError::new_err(msg),
            Error::NotReady(_) => NotReadyError::new_err(msg),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RoutecoreError", py.get_type::<RoutecoreError>())?;
    m.add("InvalidNumberError", py.get_type::<InvalidNumberError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("PatternError", py.get_type::<PatternError>())?;
    m.add("ListError", py.get_type::<ListError>())?;
    m.add("PlanError", py.get_type::<PlanError>())?;
    m.add("NotReadyError", py.get_type::<NotReadyError>())?;
    Ok(())
}
