//! The server's hot path: protobuf bytes in, protobuf (or JSON) bytes out, decoded, decided and
//! encoded in Rust (`crate::wire`), so Python only moves bytes. Plus the decision counters.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::engine::{time_ms, PyDecision, PyEngine};
use super::error::PyRoutecoreErr;
use crate::error::Error;
use crate::wire::{self, Tally, ACTION_NAMES};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Decision counters since start (by action, tenant, reject reason and error status).
#[pyclass(name = "RouteStats", module = "routecore._routecore", frozen)]
pub struct PyRouteStats {
    inner: Tally,
}

#[pymethods]
impl PyRouteStats {
    #[new]
    fn new() -> Self {
        PyRouteStats {
            inner: Tally::new(),
        }
    }

    /// The counts so far: `decisions`, `errors`, and the maps `by_action`, `by_tenant`,
    /// `by_reason`, `by_error`.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.snapshot();
        let out = PyDict::new(py);
        out.set_item("decisions", c.decisions)?;
        out.set_item("errors", c.errors)?;
        let by_action = PyDict::new(py);
        for (name, n) in ACTION_NAMES.iter().zip(c.by_action) {
            if n > 0 {
                by_action.set_item(name, n)?;
            }
        }
        out.set_item("by_action", by_action)?;
        out.set_item("by_tenant", c.by_tenant)?;
        out.set_item("by_reason", c.by_reason)?;
        out.set_item("by_error", c.by_error)?;
        Ok(out)
    }
}

/// Bytes of `len` written by `write` straight into a new Python `bytes` (one allocation).
fn written(
    py: Python<'_>,
    len: usize,
    write: impl FnOnce(&mut [u8]),
) -> PyResult<Bound<'_, PyBytes>> {
    PyBytes::new_with(py, len, |buf| {
        write(buf);
        Ok(())
    })
}

/// One `RouteRequest` (serialised) → one `RouteDecision` (serialised).
#[pyfunction]
#[pyo3(signature = (engine, request, *, embed_errors = false, stats = None))]
fn route_wire<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    request: &[u8],
    embed_errors: bool,
    stats: Option<&Bound<'py, PyRouteStats>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let e = engine.get();
    let plan = e.inner.plan();
    let mut call_id = "";
    let result = wire::read_request(request).and_then(|req| {
        call_id = req.call_id;
        wire::decide_ref(&plan, &e.tables, e.inner.state().as_ref(), &req, now_ms())
    });
    if let Some(s) = stats {
        s.get().inner.add(&result);
    }
    match result {
        Ok(d) => {
            let bytes = wire::DecisionBytes::new(&d, &plan.gateway);
            written(py, bytes.len(), |mut buf| bytes.write(&mut buf))
        }
        Err(err) if embed_errors => {
            let message = err.to_string();
            written(py, wire::error_len(call_id, &err, &message), |mut buf| {
                wire::write_error(call_id, &err, &message, &mut buf);
            })
        }
        Err(err) => Err(PyRoutecoreErr(err).into()),
    }
}

/// One `RouteBatchRequest` (serialised) → one `RouteBatchResponse` (serialised), decided with
/// the GIL released; a failed item answers a decision carrying `error`. A batch of more than
/// `max_requests` requests is refused whole before any is decided.
#[pyfunction]
#[pyo3(signature = (engine, request, *, stats = None, max_requests = None))]
fn route_batch_wire<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    request: &[u8],
    stats: Option<&Bound<'py, PyRouteStats>>,
    max_requests: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let e = engine.get();
    let engine = Arc::clone(&e.inner);
    let tables = Arc::clone(&e.tables);
    let tally = stats.map(Bound::get);
    // The request bytes are immutable and kept alive by the caller: no copy is needed.
    let out = py.detach(|| {
        let batch = wire::read_batch(request)?;
        if let Some(max) = max_requests.filter(|&max| batch.len() > max) {
            return Err(Error::InvalidArgument(format!(
                "requests: {} in one batch, at most {max} (nothing was decided): send them in \
                 smaller batches, or over RouteStream",
                batch.len()
            )));
        }
        let plan = engine.plan();
        Ok::<_, Error>(wire::route_batch_ref(
            &plan,
            &tables,
            engine.state().as_ref(),
            &batch,
            now_ms(),
            tally.map(|t| &t.inner),
        ))
    });
    match out {
        Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
        Err(err) => {
            if let Some(t) = tally {
                t.inner.add(&Err(Error::InvalidArgument(String::new())));
            }
            Err(PyRoutecoreErr(err).into())
        }
    }
}

/// One decision as JSON bytes (the proto's field names plus the top-level `uri` and `uris`).
#[pyfunction]
#[pyo3(signature = (engine, called, caller, digits = "", call_id = "", time = None, *, explain = false, stats = None))]
#[allow(clippy::too_many_arguments)]
fn decision_json<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    called: &str,
    caller: &str,
    digits: &str,
    call_id: &str,
    time: Option<&str>,
    explain: bool,
    stats: Option<&Bound<'py, PyRouteStats>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let e = engine.get();
    let plan = e.inner.plan();
    let result = wire::request_time(time, &plan, now_ms()).and_then(|time_ms| {
        crate::engine::decide::decide(
            &plan,
            &e.tables,
            e.inner.state().as_ref(),
            &crate::engine::Request {
                call_id,
                called,
                caller,
                digits,
                time_ms,
                explain,
            },
        )
    });
    if let Some(s) = stats {
        s.get().inner.add(&result);
    }
    let d = result.map_err(PyRoutecoreErr)?;
    Ok(PyBytes::new(py, &wire::decision_json(&d, &plan.gateway)))
}

/// The HTTP hot path in one call: decides and answers the decision as JSON bytes, with what the
/// metrics count (action, tenant, reject reason) and, with `keep`, the `Decision` itself.
#[pyfunction]
#[pyo3(signature = (engine, called, caller, digits = "", at = None, call_id = "", explain = false, *, keep = false))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn route_json<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
    called: &str,
    caller: &str,
    digits: &str,
    at: Option<&Bound<'py, PyAny>>,
    call_id: &str,
    explain: bool,
    keep: bool,
) -> PyResult<(
    Bound<'py, PyBytes>,
    &'static str,
    String,
    String,
    Option<PyDecision>,
)> {
    let e = engine.get();
    let plan = e.inner.plan();
    let time_ms = time_ms(at, &plan)?;
    let d = crate::engine::decide::decide(
        &plan,
        &e.tables,
        e.inner.state().as_ref(),
        &crate::engine::Request {
            call_id,
            called,
            caller,
            digits,
            time_ms,
            explain,
        },
    )
    .map_err(PyRoutecoreErr)?;
    let body = PyBytes::new(py, &wire::decision_json(&d, &plan.gateway));
    let reason = d
        .reject
        .as_ref()
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    let tenant = d.tenant.to_string();
    let action = d.action.as_str();
    Ok((
        body,
        action,
        tenant,
        reason,
        keep.then(|| PyDecision::single(d)),
    ))
}

/// Sizes of the engine's current plan: numbers, tenants, lists, groups, menus.
#[pyfunction]
fn plan_counts<'py>(
    py: Python<'py>,
    engine: &Bound<'py, PyEngine>,
) -> PyResult<Bound<'py, PyDict>> {
    let plan = engine.get().inner.plan();
    let out = PyDict::new(py);
    out.set_item("numbers", plan.numbers.len())?;
    out.set_item("tenants", plan.tenants.len())?;
    out.set_item("lists", plan.lists.len())?;
    out.set_item("groups", plan.groups.len())?;
    out.set_item("menus", plan.menus.len())?;
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRouteStats>()?;
    m.add_function(wrap_pyfunction!(route_wire, m)?)?;
    m.add_function(wrap_pyfunction!(route_batch_wire, m)?)?;
    m.add_function(wrap_pyfunction!(decision_json, m)?)?;
    m.add_function(wrap_pyfunction!(route_json, m)?)?;
    m.add_function(wrap_pyfunction!(plan_counts, m)?)?;
    Ok(())
}
