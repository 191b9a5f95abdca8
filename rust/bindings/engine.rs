//! `Engine` (compiled plan + state) and the typed decision objects.

// PyO3 extracts arguments into owned values; taking them by value is the natural signature.
#![allow(clippy::needless_pass_by_value)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyString};

use super::error::PyRoutecoreErr;
use super::numbers::{str_arg, str_items};
use crate::engine::compile::{compile, CompileInput};
use crate::engine::decide::{decide, Decision, Request, TargetOut};
use crate::engine::doc::PlanDoc;
use crate::engine::redis_state::RedisState;
use crate::engine::state::{LocalState, StateStore};
use crate::engine::time::{self, parse_time, DayType};
use crate::engine::{slot_key, Engine, Plan};
use crate::error::{Error, PlanIssue};
use crate::number;
use crate::region::{self, RegionTables};

fn tables() -> Result<Arc<RegionTables>, PyRoutecoreErr> {
    region::tables().ok_or_else(|| Error::NotReady("region tables are not installed".into()).into())
}

fn compile_plan(
    doc_json: &[u8],
    list_texts: HashMap<String, String>,
    cn_days: Vec<(NaiveDate, String)>,
    version: String,
) -> Result<Plan, PyRoutecoreErr> {
    let doc: PlanDoc = serde_json::from_slice(doc_json).map_err(|e| {
        Error::Plan(vec![PlanIssue {
            path: vec![],
            message: format!("plan document does not match the engine's schema: {e}"),
        }])
    })?;
    let cn_days = cn_days
        .into_iter()
        .filter_map(|(d, t)| DayType::parse(&t).map(|t| (d, t)))
        .collect();
    let t = tables()?;
    Ok(compile(CompileInput {
        doc,
        list_texts,
        cn_days,
        version,
        tables: &t,
    })?)
}

/// Plan issues as Python tuples `(path, message)` for the loader to place in the file.
fn issues_of(err: &PyRoutecoreErr) -> Option<Vec<(Vec<String>, String)>> {
    match &err.0 {
        Error::Plan(issues) => Some(
            issues
                .iter()
                .map(|i| (i.path.clone(), i.message.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// The compiled plan and the decision state. Routing reads an immutable snapshot; `reload`
/// compiles beside it and swaps atomically.
#[pyclass(name = "Engine", module = "routecore._routecore", subclass, frozen)]
pub struct PyEngine {
    pub(crate) inner: Arc<Engine>,
    pub(crate) tables: Arc<RegionTables>,
    /// The shared state, when the engine's state is on Redis (for its status).
    redis: Option<Arc<RedisState>>,
}

/// Seconds since the epoch → ms, from a time given as a datetime, an ISO string or a number.
pub(crate) fn time_ms(at: Option<&Bound<'_, PyAny>>, plan: &Plan) -> PyResult<i64> {
    let Some(at) = at.filter(|a| !a.is_none()) else {
        return Ok(chrono::Utc::now().timestamp_millis());
    };
    let bad =
        |e: String| -> PyErr { PyRoutecoreErr(Error::InvalidArgument(format!("at: {e}"))).into() };
    if at.is_instance_of::<PyString>() {
        return parse_time(field_str(at, "at")?, plan.tz).map_err(bad);
    }
    if at.is_instance_of::<PyDateTime>() {
        if at.getattr("tzinfo")?.is_none() {
            let iso: String = at.call_method0("isoformat")?.extract()?;
            return parse_time(&iso, plan.tz).map_err(bad);
        }
        let secs: f64 = at.call_method0("timestamp")?.extract()?;
        let ms = (secs * 1000.0).round() as i64;
        // An offset can carry the years 1 and 9999 past the service's times, as text can.
        if !(time::FIRST_MS..=time::LAST_MS).contains(&ms) {
            let iso: String = at.call_method0("isoformat")?.extract()?;
            return Err(bad(format!("{iso:?} is not between the years 1 and 9999")));
        }
        return Ok(ms);
    }
    // A bool (Python's, or numpy's, which has `__float__`) is no time.
    if at.is_instance_of::<PyBool>() || matches!(at.get_type().name()?.to_str()?, "bool" | "bool_")
    {
        return Err(bad(
            "expected a datetime, an ISO 8601 string or seconds since the epoch, got bool".into(),
        ));
    }
    if at.is_instance_of::<PyInt>() || at.is_instance_of::<PyFloat>() {
        let secs: f64 = at.extract()?;
        return seconds_ms(secs).map_err(bad);
    }
    let kind = at.get_type();
    // numpy's scalars (the items of a column given as an array): datetime64 is naive like a
    // naive datetime, so it is read in the plan's zone; integers and floats are seconds.
    if kind.name()? == "datetime64" && kind.module()? == "numpy" {
        let iso: String = at
            .call_method1("astype", ("datetime64[ms]",))?
            .str()?
            .extract()?;
        if iso == "NaT" {
            return Err(bad("NaT (not a time)".into()));
        }
        return parse_time(&iso, plan.tz).map_err(bad);
    }
    if at.hasattr("__index__")? || at.hasattr("__float__")? {
        if let Ok(secs) = at
            .call_method0("__float__")
            .and_then(|f| f.extract::<f64>())
        {
            return seconds_ms(secs).map_err(bad);
        }
    }
    Err(bad(format!(
        "expected a datetime, an ISO 8601 string or seconds since the epoch, got {}",
        kind.name()?
    )))
}

/// The longest call duration an event may give: the years 1 to 9999, in whole seconds.
const MAX_DURATION_SECONDS: i128 = ((time::LAST_MS - time::FIRST_MS) / 1000) as i128;

/// Seconds since the epoch as milliseconds, refused when not finite or outside the years
/// 1 to 9999 (beyond what a calendar date can hold a time is garbage, not a call).
fn seconds_ms(secs: f64) -> Result<i64, String> {
    if !secs.is_finite() {
        return Err("not a finite number of seconds".into());
    }
    if !((time::FIRST_MS / 1000) as f64..=(time::LAST_MS / 1000) as f64).contains(&secs) {
        // `{:e}` past 1e15: Display would spell out every digit of 1e300.
        let shown = if secs.abs() < 1e15 {
            secs.to_string()
        } else {
            format!("{secs:e}")
        };
        return Err(format!(
            "{shown} seconds since the epoch is not between the years 1 and 9999"
        ));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// A `str` argument, borrowed; the errors name the field: `TypeError` for another type,
/// `InvalidArgumentError` for a string that is not text (lone surrogates, as
/// `bytes.decode(errors="surrogateescape")` leaves for bytes that were not UTF-8).
pub(crate) fn field_str<'a>(value: &'a Bound<'_, PyAny>, field: &str) -> PyResult<&'a str> {
    str_arg(value, field, |_| {
        PyRoutecoreErr(Error::InvalidArgument(format!(
            "{field}: not valid text (lone surrogates: bytes that were not UTF-8, GBK perhaps, \
             decoded with surrogateescape); decode the input with its real encoding"
        )))
        .into()
    })
}

/// A `route_many` column: each `str` borrowed for use without the GIL (no copy). An item that
/// is not a `str`, or not valid text, is named by its column and index.
fn text_column(
    values: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Option<Vec<PyBackedStr>>> {
    let Some(values) = values.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let column = str_items(values, name, |i, s| {
        // Only lone surrogates fail here; `field_str` says so, naming the item.
        PyBackedStr::try_from(s.clone()).map_err(|err| {
            field_str(s.as_any(), &format!("{name}[{i}]"))
                .err()
                .unwrap_or(err)
        })
    })?;
    Ok(Some(column))
}

/// A Python `str` borrowed for use without the GIL (no copy), or the empty string.
enum Text {
    Py(PyBackedStr),
    Empty,
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Py(s) => s,
            Text::Empty => "",
        }
    }
}

/// A request whose strings stay in Python's memory, so a batch can run with the GIL released.
struct OwnedRequest {
    call_id: Text,
    called: Text,
    caller: Text,
    digits: Text,
    time_ms: i64,
    explain: bool,
}

impl OwnedRequest {
    fn as_request(&self) -> Request<'_> {
        Request {
            call_id: self.call_id.as_str(),
            called: self.called.as_str(),
            caller: self.caller.as_str(),
            digits: self.digits.as_str(),
            time_ms: self.time_ms,
            explain: self.explain,
        }
    }
}

/// The keys a `route_many` request dict may have.
const REQUEST_FIELDS: [&str; 7] = [
    "called", "caller", "digits", "at", "time", "call_id", "explain",
];

/// Refuses a key of `requests[i]` that is no request field: a misspelt `calller` would leave the
/// caller out, and the call be routed as anonymous.
fn known_request_fields(d: &Bound<'_, PyDict>, i: usize) -> PyResult<()> {
    for key in d.keys() {
        let known = key
            .cast::<PyString>()
            .ok()
            .and_then(|k| k.to_str().ok().map(|k| REQUEST_FIELDS.contains(&k)))
            .unwrap_or(false);
        if !known {
            return Err(PyRoutecoreErr(Error::InvalidArgument(format!(
                "requests[{i}]: {}: not a field of a route request ({}fields: {})",
                key.repr()?.to_string_lossy(),
                nearest_field_hint(&key)?,
                REQUEST_FIELDS.join(", ")
            )))
            .into());
        }
    }
    Ok(())
}

/// "did you mean 'caller'? " for a key close to a request field, else "": Python's `difflib`, as
/// the HTTP endpoint words it (`routecore.http._known_fields`). Only on the error path.
fn nearest_field_hint(key: &Bound<'_, PyAny>) -> PyResult<String> {
    if !key.is_instance_of::<PyString>() {
        return Ok(String::new());
    }
    let near = key
        .py()
        .import("difflib")?
        .call_method1("get_close_matches", (key, REQUEST_FIELDS.to_vec(), 1))?;
    Ok(match near.get_item(0) {
        Ok(field) => format!("did you mean {}? ", field.repr()?.to_string_lossy()),
        Err(_) => String::new(),
    })
}

fn get_str(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Text> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<PyBackedStr>().map(Text::Py).map_err(|_| {
            PyRoutecoreErr(Error::InvalidArgument(format!("{key}: expected a string"))).into()
        }),
        _ => Ok(Text::Empty),
    }
}

fn column(py: Python<'_>, values: Option<&Vec<PyBackedStr>>, i: usize) -> Text {
    values.map_or(Text::Empty, |v| Text::Py(v[i].clone_ref(py)))
}

#[pymethods]
impl PyEngine {
    /// Compiles a plan document (JSON bytes in plan-format shape) into a new engine.
    ///
    /// `state`: None for the in-process state, or a Redis URL (`redis://host:port/db`) for state
    /// shared by every engine (node) using the same URL and `state_prefix`.
    #[new]
    #[pyo3(signature = (doc_json, list_texts, cn_days, version, *, state = None, state_prefix = "routecore", state_timeout = 0.25))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        doc_json: Vec<u8>,
        list_texts: HashMap<String, String>,
        cn_days: Vec<(NaiveDate, String)>,
        version: String,
        state: Option<String>,
        state_prefix: &str,
        state_timeout: f64,
    ) -> PyResult<Self> {
        let tables = tables()?;
        let redis = match state {
            None => None,
            Some(url) => Some(Arc::new(connect_state(
                py,
                &url,
                state_prefix,
                state_timeout,
            )?)),
        };
        let plan = py.detach(|| compile_plan(&doc_json, list_texts, cn_days, version));
        let plan = plan.map_err(|e| plan_error(py, e))?;
        let store: Arc<dyn StateStore> = match &redis {
            Some(r) => Arc::clone(r) as Arc<dyn StateStore>,
            None => Arc::new(LocalState::new()),
        };
        Ok(PyEngine {
            inner: Arc::new(Engine::new(plan, store)),
            tables,
            redis,
        })
    }

    /// Where the decision state lives: `"local"` (in process) or `"redis"`.
    #[getter]
    fn state_backend(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "local"
        }
    }

    /// The shared state's health and counters (None for the in-process state): `healthy`,
    /// `fallbacks` (steps served locally while Redis was unreachable), `outages`, `replayed`,
    /// `dropped`, `journaled`, `last_error`.
    fn state_status<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(r) = &self.redis else {
            return Ok(None);
        };
        let s = py.detach(|| r.status());
        let d = PyDict::new(py);
        d.set_item("healthy", s.healthy)?;
        d.set_item("fallbacks", s.fallbacks)?;
        d.set_item("outages", s.outages)?;
        d.set_item("replayed", s.replayed)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("journaled", s.journaled)?;
        d.set_item("last_error", s.last_error)?;
        Ok(Some(d))
    }

    /// Compiles a new plan beside the current one, applies the live list updates `lists`
    /// (name, add, remove) to it, and swaps it in; state is kept. On error the current plan
    /// keeps serving. Returns the old version and the updates the new plan refused
    /// (name, message).
    #[pyo3(signature = (doc_json, list_texts, cn_days, version, lists = Vec::new()))]
    fn _reload(
        &self,
        py: Python<'_>,
        doc_json: Vec<u8>,
        list_texts: HashMap<String, String>,
        cn_days: Vec<(NaiveDate, String)>,
        version: String,
        lists: Vec<(String, Vec<String>, Vec<String>)>,
    ) -> PyResult<(String, Vec<(String, String)>)> {
        let swapped = py.detach(|| {
            let plan = compile_plan(&doc_json, list_texts, cn_days, version)?;
            Ok::<_, PyRoutecoreErr>(
                self.inner
                    .swap_with_lists(plan, &lists, self.tables.as_ref()),
            )
        });
        let (old, refused) = swapped.map_err(|e| plan_error(py, e))?;
        let refused = refused
            .into_iter()
            .map(|(name, e)| (name, e.to_string()))
            .collect();
        Ok((old.version.to_string(), refused))
    }

    /// The plan's version (checksum of the plan and its list files).
    #[getter]
    fn version(&self) -> String {
        self.inner.plan().version.to_string()
    }

    /// The plan's timezone name.
    #[getter]
    fn timezone(&self) -> String {
        self.inner.plan().tz.name().to_string()
    }

    /// The instant a request or event time names, read as `route` and `report` read it (an ISO
    /// 8601 string without offset, or a naive datetime, in the plan's timezone; seconds since the
    /// epoch; `None` for now), as an aware UTC datetime: the record store takes its events' times
    /// from here, so that a time the engine refuses is refused for the record alike.
    #[pyo3(signature = (at, /))]
    fn instant(&self, at: Option<&Bound<'_, PyAny>>) -> PyResult<chrono::DateTime<chrono::Utc>> {
        let ms = time_ms(at, &self.inner.plan())?;
        // `time_ms` keeps to the years 1 to 9999 (UTC), which chrono holds.
        chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| {
            PyRoutecoreErr(Error::InvalidArgument(format!(
                "at: {ms} ms is out of range"
            )))
            .into()
        })
    }

    /// The SIP gateway that number targets are sent through.
    #[getter]
    fn gateway(&self) -> String {
        self.inner.plan().gateway.to_string()
    }

    /// The served numbers (normalised), sorted.
    fn numbers(&self) -> Vec<String> {
        self.inner.plan().served_numbers()
    }

    /// Decides one call.
    #[pyo3(signature = (called, caller, digits = None, at = None, call_id = None, explain = false))]
    fn route(
        &self,
        called: &Bound<'_, PyAny>,
        caller: &Bound<'_, PyAny>,
        digits: Option<&Bound<'_, PyAny>>,
        at: Option<&Bound<'_, PyAny>>,
        call_id: Option<&Bound<'_, PyAny>>,
        explain: bool,
    ) -> PyResult<PyDecision> {
        let called = field_str(called, "called")?;
        let caller = field_str(caller, "caller")?;
        let digits = digits.map_or(Ok(""), |d| field_str(d, "digits"))?;
        let call_id = call_id.map_or(Ok(""), |c| field_str(c, "call_id"))?;
        let plan = self.inner.plan();
        let time_ms = time_ms(at, &plan)?;
        let req = Request {
            call_id,
            called,
            caller,
            digits,
            time_ms,
            explain,
        };
        let d = decide(&plan, &self.tables, self.inner.state().as_ref(), &req)
            .map_err(PyRoutecoreErr)?;
        Ok(PyDecision::single(d))
    }

    /// Decides many calls with the GIL released. `requests` is a sequence of dicts with the
    /// request fields; or give columns (`called`, `caller`, and optionally `digits`, `at`,
    /// `call_id` as equal-length sequences). A request that fails yields a decision whose
    /// `error` is set (code and message) instead of raising.
    #[pyo3(signature = (requests = None, *, called = None, caller = None, digits = None, at = None, call_id = None, explain = false))]
    #[allow(clippy::too_many_arguments)]
    fn route_many(
        &self,
        py: Python<'_>,
        requests: Option<Vec<Bound<'_, PyDict>>>,
        called: Option<Bound<'_, PyAny>>,
        caller: Option<Bound<'_, PyAny>>,
        digits: Option<Bound<'_, PyAny>>,
        at: Option<Vec<Bound<'_, PyAny>>>,
        call_id: Option<Bound<'_, PyAny>>,
        explain: bool,
    ) -> PyResult<PyDecisionBatch> {
        let called = text_column(called.as_ref(), "called")?;
        let caller = text_column(caller.as_ref(), "caller")?;
        let digits = text_column(digits.as_ref(), "digits")?;
        let call_id = text_column(call_id.as_ref(), "call_id")?;
        let plan = self.inner.plan();
        let mut owned: Vec<Result<OwnedRequest, Error>> = Vec::new();
        if let Some(reqs) = requests {
            owned.reserve(reqs.len());
            for (i, d) in reqs.iter().enumerate() {
                known_request_fields(d, i)?;
                let at = d.get_item("at")?.or(d.get_item("time")?);
                let t = match time_ms(at.as_ref(), &plan) {
                    Ok(t) => t,
                    Err(e) => {
                        owned.push(Err(Error::InvalidArgument(e.to_string())));
                        continue;
                    }
                };
                owned.push(Ok(OwnedRequest {
                    call_id: get_str(d, "call_id")?,
                    called: get_str(d, "called")?,
                    caller: get_str(d, "caller")?,
                    digits: get_str(d, "digits")?,
                    time_ms: t,
                    explain: explain
                        || d.get_item("explain")?
                            .is_some_and(|e| e.is_truthy().unwrap_or(false)),
                }));
            }
        } else {
            let called = called.ok_or_else(|| {
                PyValueError::new_err(
                    "route_many: give `requests` or the `called` and `caller` columns",
                )
            })?;
            let caller = caller.ok_or_else(|| {
                PyValueError::new_err("route_many: the `caller` column is required with `called`")
            })?;
            let n = called.len();
            let check = |name: &str, len: Option<usize>| -> PyResult<()> {
                match len {
                    Some(l) if l != n => Err(PyValueError::new_err(format!(
                        "route_many: column `{name}` has {l} items, `called` has {n}"
                    ))),
                    _ => Ok(()),
                }
            };
            check("caller", Some(caller.len()))?;
            check("digits", digits.as_ref().map(Vec::len))?;
            check("at", at.as_ref().map(Vec::len))?;
            check("call_id", call_id.as_ref().map(Vec::len))?;
            let now = chrono::Utc::now().timestamp_millis();
            owned.reserve(n);
            // A column of times usually repeats one object (`[t] * n`): parse it once.
            let mut last_time: Option<(usize, Result<i64, String>)> = None;
            for (i, (cd, cr)) in called.into_iter().zip(caller).enumerate() {
                let t = match at.as_ref() {
                    Some(a) => {
                        let same = last_time.as_ref().is_some_and(|(j, _)| a[*j].is(&a[i]));
                        if !same {
                            let parsed = time_ms(Some(&a[i]), &plan).map_err(|e| e.to_string());
                            last_time = Some((i, parsed));
                        }
                        match last_time.as_ref().map(|(_, r)| r.clone()) {
                            Some(Ok(t)) => t,
                            Some(Err(e)) => {
                                owned.push(Err(Error::InvalidArgument(e)));
                                continue;
                            }
                            None => now,
                        }
                    }
                    None => now,
                };
                owned.push(Ok(OwnedRequest {
                    call_id: column(py, call_id.as_ref(), i),
                    called: Text::Py(cd),
                    caller: Text::Py(cr),
                    digits: column(py, digits.as_ref(), i),
                    time_ms: t,
                    explain,
                }));
            }
        }
        let engine = Arc::clone(&self.inner);
        let tables = Arc::clone(&self.tables);
        // Slots are built in place, in one allocation that the batch then owns (no copy).
        // The requests are borrowed, not moved: they hold Python strings, which are cheaper to
        // release here, with the GIL, than from the detached closure (deferred decrefs).
        let requests = &owned;
        let batch: Vec<Slot> = py.detach(move || {
            let state: &dyn StateStore = engine.state().as_ref();
            requests
                .iter()
                .map(|r| {
                    let decided = match r {
                        Ok(r) => decide(&plan, &tables, state, &r.as_request()),
                        Err(e) => Err(Error::InvalidArgument(e.to_string())),
                    };
                    match decided {
                        Ok(d) => Slot {
                            decision: d,
                            error: None,
                        },
                        Err(e) => Slot::failed(&e),
                    }
                })
                .collect()
        });
        drop(owned);
        Ok(PyDecisionBatch {
            batch: Arc::new(batch),
        })
    }

    /// The decision of a forwarded call with this id (kept for its call records), if any.
    fn recall(&self, call_id: &str) -> Option<PyDecision> {
        self.inner
            .state()
            .recall_decision(call_id)
            .map(|d| PyDecision {
                batch: Arc::new(vec![Slot {
                    decision: (*d).clone(),
                    error: None,
                }]),
                index: 0,
            })
    }

    /// Reports a call event: `ANSWERED` takes a slot of `target`, `ENDED` frees it (an
    /// `ENDED` without a target: the call's). Duplicate, late or out-of-order events change
    /// nothing.
    #[pyo3(signature = (call_id, r#type, target = None, at = None, duration_seconds = 0))]
    fn report(
        &self,
        py: Python<'_>,
        call_id: &Bound<'_, PyAny>,
        r#type: &Bound<'_, PyAny>,
        target: Option<&Bound<'_, PyAny>>,
        at: Option<&Bound<'_, PyAny>>,
        duration_seconds: i128,
    ) -> PyResult<()> {
        let call_id = field_str(call_id, "call_id")?;
        let r#type = field_str(r#type, "type")?;
        let target = target.map_or(Ok(""), |t| field_str(t, "target"))?;
        let plan = self.inner.plan();
        let t = time_ms(at, &plan)?;
        if call_id.is_empty() {
            return Err(PyRoutecoreErr(Error::InvalidArgument(
                "call_id: an event needs the call's id".into(),
            ))
            .into());
        }
        crate::engine::decide::check_call_id(call_id).map_err(PyRoutecoreErr)?;
        // Taken as an i128 so that a huge one is this error, not Python's OverflowError: no
        // call lasts longer than the years 1 to 9999.
        if !(0..=MAX_DURATION_SECONDS).contains(&duration_seconds) {
            return Err(PyRoutecoreErr(Error::InvalidArgument(format!(
                "duration_seconds: {duration_seconds} is not between 0 and {MAX_DURATION_SECONDS}"
            )))
            .into());
        }
        let ended = match r#type.to_ascii_uppercase().as_str() {
            "ANSWERED" => false,
            "ENDED" => true,
            other => {
                return Err(PyRoutecoreErr(Error::InvalidArgument(format!(
                    "type: {other:?} is not an event type (ANSWERED, ENDED)"
                )))
                .into())
            }
        };
        let key = target_key(target, ended, &self.tables)?;
        let state = self.inner.state();
        // Released while the state works: with Redis that is a round trip.
        match key {
            Some(key) if ended => py.detach(|| state.ended(call_id, &key, t)),
            Some(key) => py.detach(|| state.answered(call_id, &key, t)),
            None => {
                // ENDED with no target: mostly a call nobody answered (it holds no slot and
                // still gets its record). Any slot the call does hold (an ANSWERED reported
                // here or on another node) is freed by its call id.
                py.detach(|| state.ended_call(call_id, t));
            }
        }
        Ok(())
    }

    /// Adds and removes numbers of the named number list, live; every number is checked
    /// before anything changes. Returns `(size, added, removed)`.
    #[pyo3(signature = (name, add = Vec::new(), remove = Vec::new()))]
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts sequences as owned `Vec`s
    fn update_list(
        &self,
        py: Python<'_>,
        name: &str,
        add: Vec<Bound<'_, PyAny>>,
        remove: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<(usize, usize, usize)> {
        let strings = |items: &[Bound<'_, PyAny>], field: &str| -> PyResult<Vec<String>> {
            let at = |i: usize| format!("{field}[{i}]");
            items
                .iter()
                .enumerate()
                .map(|(i, v)| field_str(v, &at(i)).map(str::to_string))
                .collect()
        };
        let (add, remove) = (strings(&add, "add")?, strings(&remove, "remove")?);
        let u = py
            .detach(|| {
                self.inner
                    .update_list(name, &add, &remove, self.tables.as_ref())
            })
            .map_err(PyRoutecoreErr)?;
        Ok((u.size, u.added, u.removed))
    }
}

/// Connects the Redis state (GIL released: it waits on the network).
fn connect_state(py: Python<'_>, url: &str, prefix: &str, timeout: f64) -> PyResult<RedisState> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 60.0) {
        return Err(PyRoutecoreErr(Error::InvalidArgument(format!(
            "state_timeout: {timeout} s: expected more than 0 and at most 60"
        )))
        .into());
    }
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        return Err(PyRoutecoreErr(Error::InvalidArgument(format!(
            "state_prefix: {prefix:?}: expected a non-empty name without spaces"
        )))
        .into());
    }
    let shown = redact(url);
    py.detach(|| {
        RedisState::connect(url, prefix, std::time::Duration::from_secs_f64(timeout)).map_err(|e| {
            PyRoutecoreErr(Error::NotReady(format!(
                "state: cannot reach Redis at {shown}: {e}"
            )))
            .into()
        })
    })
}

/// A URL with its password (if any) replaced, for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The slot key of a reported target: a URI's by [`slot_key`], a number's normalised;
/// `None` for an `ENDED` with no target (see `report`).
fn target_key(target: &str, ended: bool, tables: &RegionTables) -> PyResult<Option<String>> {
    if target.contains(':') {
        return Ok(Some(slot_key(target, tables)));
    }
    match number::normalize(target, tables) {
        Ok(n) if n.kind != number::Kind::Anonymous => Ok(Some(n.as_str().to_string())),
        Ok(_) if ended => Ok(None),
        Ok(_) => Err(PyRoutecoreErr(Error::InvalidArgument(
            "target: an ANSWERED event needs the answering target".into(),
        ))
        .into()),
        Err(e) => Err(PyRoutecoreErr(Error::invalid_number("target", e)).into()),
    }
}

/// Raises `PlanError` with `issues` = list of (path, message) tuples.
fn plan_error(py: Python<'_>, err: PyRoutecoreErr) -> PyErr {
    let issues = issues_of(&err);
    let py_err: PyErr = err.into();
    if let Some(issues) = issues {
        let _ = py_err.value(py).setattr("issues", issues);
    }
    py_err
}

/// A decision, or the error that stood in its place in a batch.
pub(crate) struct Slot {
    pub(crate) decision: Decision,
    /// Boxed: failures are rare, and a batch holds many slots.
    pub(crate) error: Option<Box<(&'static str, String)>>,
}

/// One decision. Fields follow the proto's `RouteDecision`. It points into the batch that
/// produced it, so a batch of a million decisions makes no Python object until one is read.
#[pyclass(name = "Decision", module = "routecore._routecore", frozen)]
pub struct PyDecision {
    batch: Arc<Vec<Slot>>,
    index: usize,
}

impl PyDecision {
    /// A decision of its own (a batch of one).
    pub(crate) fn single(decision: Decision) -> Self {
        PyDecision {
            batch: Arc::new(vec![Slot {
                decision,
                error: None,
            }]),
            index: 0,
        }
    }
}

/// The decisions of `route_many`, in request order: a sequence of `Decision`.
#[pyclass(
    name = "DecisionBatch",
    module = "routecore._routecore",
    frozen,
    sequence
)]
pub struct PyDecisionBatch {
    batch: Arc<Vec<Slot>>,
}

#[pymethods]
impl PyDecisionBatch {
    fn __len__(&self) -> usize {
        self.batch.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<PyDecision> {
        let len = self.batch.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if !(0..len).contains(&i) {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "decision index {index} out of range for a batch of {len}"
            )));
        }
        Ok(PyDecision {
            batch: Arc::clone(&self.batch),
            index: i as usize,
        })
    }

    /// Every decision's action, in order ("" for a failed request).
    fn actions(&self) -> Vec<&'static str> {
        self.batch
            .iter()
            .map(|s| {
                if s.error.is_some() {
                    ""
                } else {
                    s.decision.action.as_str()
                }
            })
            .collect()
    }

    /// How many requests failed (their decisions carry `error`).
    fn error_count(&self) -> usize {
        self.batch.iter().filter(|s| s.error.is_some()).count()
    }

    fn __repr__(&self) -> String {
        format!("DecisionBatch({} decisions)", self.batch.len())
    }
}

impl Slot {
    fn failed(e: &Error) -> Self {
        let code = match e {
            Error::NotFound(_) => "NOT_FOUND",
            Error::NotReady(_) => "UNAVAILABLE",
            _ => "INVALID_ARGUMENT",
        };
        Slot {
            decision: Decision {
                call_id: String::new(),
                called: number::Digits::default(),
                action: crate::engine::decide::ActionKind::Reject,
                targets: Vec::new(),
                parallel: false,
                menu: None,
                prompt: "".into(),
                voicemail_box: "".into(),
                reject: None,
                display_name: "".into(),
                display_tag: "".into(),
                certified: false,
                caller: crate::engine::decide::CallerOut {
                    number: number::Number::ANONYMOUS,
                    tables: Arc::new(RegionTables::default()),
                },
                called_class: "",
                called_tags: Arc::from(Vec::new()),
                tenant: "".into(),
                rule: "".into(),
                plan_version: "".into(),
                trace: Vec::new(),
            },
            error: Some(Box::new((code, e.to_string()))),
        }
    }
}

#[pyclass(name = "Target", module = "routecore._routecore", frozen, get_all)]
pub struct PyTarget {
    number: String,
    uri: String,
    ring_seconds: u32,
    rate_per_minute: f64,
}

impl From<&TargetOut> for PyTarget {
    fn from(t: &TargetOut) -> Self {
        PyTarget {
            number: t.number.to_string(),
            uri: t.uri.to_string(),
            ring_seconds: t.ring_seconds,
            rate_per_minute: t.rate_per_minute,
        }
    }
}

#[pymethods]
impl PyTarget {
    fn __repr__(&self) -> String {
        format!(
            "Target({}{}, ring_seconds={}, rate_per_minute={})",
            self.number, self.uri, self.ring_seconds, self.rate_per_minute
        )
    }
}

#[pyclass(name = "Menu", module = "routecore._routecore", frozen, get_all)]
pub struct PyMenu {
    id: String,
    prompt: String,
    keys: Vec<String>,
}

#[pyclass(name = "Reject", module = "routecore._routecore", frozen, get_all)]
pub struct PyReject {
    sip_code: u16,
    reason: String,
}

#[pyclass(name = "Display", module = "routecore._routecore", frozen, get_all)]
pub struct PyDisplay {
    name: String,
    tag: String,
    certified: bool,
}

#[pyclass(name = "Caller", module = "routecore._routecore", frozen, get_all)]
pub struct PyCaller {
    normalized: String,
    kind: String,
    province: String,
    city: String,
    carrier: String,
    virtual_operator: bool,
    country: String,
}

#[pyclass(name = "CalledClass", module = "routecore._routecore", frozen, get_all)]
pub struct PyCalledClass {
    /// `top`, `special`, `ordinary`, or "" for numbers other than 400/800.
    class_: String,
    tags: Vec<String>,
}

#[pyclass(name = "ErrorInfo", module = "routecore._routecore", frozen, get_all)]
pub struct PyErrorInfo {
    code: String,
    message: String,
}

impl PyDecision {
    fn slot(&self) -> &Slot {
        &self.batch[self.index]
    }
}

#[pymethods]
impl PyDecision {
    #[getter]
    fn call_id(&self) -> &str {
        &self.slot().decision.call_id
    }
    /// FORWARD, MENU, ANNOUNCE, VOICEMAIL or REJECT ("" when `error` is set).
    #[getter]
    fn action(&self) -> &'static str {
        if self.slot().error.is_some() {
            ""
        } else {
            self.slot().decision.action.as_str()
        }
    }
    #[getter]
    fn targets(&self) -> Vec<PyTarget> {
        self.slot()
            .decision
            .targets
            .iter()
            .map(PyTarget::from)
            .collect()
    }
    #[getter]
    fn parallel(&self) -> bool {
        self.slot().decision.parallel
    }
    #[getter]
    fn menu(&self) -> Option<PyMenu> {
        self.slot().decision.menu.as_ref().map(|m| PyMenu {
            id: m.id.to_string(),
            prompt: m.prompt.to_string(),
            keys: m.keys.iter().map(ToString::to_string).collect(),
        })
    }
    #[getter]
    fn prompt(&self) -> &str {
        &self.slot().decision.prompt
    }
    #[getter]
    fn voicemail_box(&self) -> &str {
        &self.slot().decision.voicemail_box
    }
    #[getter]
    fn reject(&self) -> Option<PyReject> {
        self.slot().decision.reject.as_ref().map(|(c, r)| PyReject {
            sip_code: *c,
            reason: r.to_string(),
        })
    }
    #[getter]
    fn display(&self) -> PyDisplay {
        PyDisplay {
            name: self.slot().decision.display_name.to_string(),
            tag: self.slot().decision.display_tag.to_string(),
            certified: self.slot().decision.certified,
        }
    }
    #[getter]
    fn caller(&self) -> PyCaller {
        let c = &self.slot().decision.caller;
        let r = c.region();
        PyCaller {
            normalized: c.number.as_str().to_string(),
            kind: c.number.kind.as_str().to_string(),
            province: r.province.to_string(),
            city: r.city.to_string(),
            carrier: r.carrier.to_string(),
            virtual_operator: r.virtual_operator,
            country: r.country.to_string(),
        }
    }
    #[getter]
    fn called_class(&self) -> PyCalledClass {
        PyCalledClass {
            class_: self.slot().decision.called_class.to_string(),
            tags: self.slot().decision.called_tags.to_vec(),
        }
    }
    /// The called number, normalised.
    #[getter]
    fn called(&self) -> &str {
        self.slot().decision.called.as_str()
    }
    #[getter]
    fn tenant(&self) -> &str {
        &self.slot().decision.tenant
    }
    #[getter]
    fn rule(&self) -> &str {
        &self.slot().decision.rule
    }
    #[getter]
    fn plan_version(&self) -> &str {
        &self.slot().decision.plan_version
    }
    #[getter]
    fn trace(&self) -> Vec<String> {
        self.slot().decision.trace.clone()
    }
    /// Set when this decision stands for a request that failed (batch calls only).
    #[getter]
    fn error(&self) -> Option<PyErrorInfo> {
        self.slot().error.as_deref().map(|(c, m)| PyErrorInfo {
            code: (*c).to_string(),
            message: m.clone(),
        })
    }
    fn __repr__(&self) -> String {
        if let Some((c, m)) = self.slot().error.as_deref() {
            return format!("Decision(error={c}: {m})");
        }
        let targets: Vec<String> = self
            .slot()
            .decision
            .targets
            .iter()
            .map(|t| format!("{}{}", t.number, t.uri))
            .collect();
        format!(
            "Decision(action={}, tenant={}, rule={}, targets={:?})",
            self.slot().decision.action.as_str(),
            self.slot().decision.tenant,
            self.slot().decision.rule,
            targets
        )
    }
}

/// The key a group's state is kept under, which statistics use as its label: `tenant/group`,
/// with `%`, `/` and `#` in either name escaped.
#[pyfunction]
fn group_key(tenant: &str, group: &str) -> String {
    crate::engine::compile::group_key(tenant, group)
}

/// Refuses a call id its events could not report (`decide::check_call_id`): longer than
/// `MAX_CALL_ID` characters, or not printable text. The route requests are held to it too.
#[pyfunction]
fn check_call_id(call_id: &str) -> PyResult<()> {
    Ok(crate::engine::decide::check_call_id(call_id).map_err(PyRoutecoreErr)?)
}

/// Why `field` is refused for the character of code point `code` at `at` (characters from 0):
/// the one wording of `text::unprintable_message`, for the checks made in Python (targets,
/// dispositions, and text holding a lone surrogate, which has no Rust `char`).
#[pyfunction]
fn unprintable_message(field: &str, at: usize, code: u32, what: &str) -> String {
    crate::text::unprintable_message(field, at, code, what)
}

/// The first character of `text` that is not printable (`str.isprintable()`'s rule, in Rust),
/// as (position in characters, character); None when all are.
#[pyfunction]
fn first_unprintable(text: &str) -> Option<(usize, char)> {
    crate::text::first_unprintable(text)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_CALL_ID", crate::engine::decide::MAX_CALL_ID)?;
    m.add_function(wrap_pyfunction!(group_key, m)?)?;
    m.add_function(wrap_pyfunction!(first_unprintable, m)?)?;
    m.add_function(wrap_pyfunction!(check_call_id, m)?)?;
    m.add_function(wrap_pyfunction!(unprintable_message, m)?)?;
    m.add("EMPTY_TIME", crate::engine::time::EMPTY_TIME)?;
    m.add_class::<PyEngine>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyDecisionBatch>()?;
    m.add_class::<PyTarget>()?;
    m.add_class::<PyMenu>()?;
    m.add_class::<PyReject>()?;
    m.add_class::<PyDisplay>()?;
    m.add_class::<PyCaller>()?;
    m.add_class::<PyCalledClass>()?;
    m.add_class::<PyErrorInfo>()?;
    Ok(())
}
