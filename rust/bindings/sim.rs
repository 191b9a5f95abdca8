//! `Simulation`: the traffic simulation of `crate::sim`, played forward from Python in steps (so
//! that Python can show progress) with the GIL released.

// PyO3 extracts arguments into owned values; taking them by value is the natural signature.
#![allow(clippy::needless_pass_by_value)]

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::engine::PyEngine;
use super::error::PyRoutecoreErr;
use crate::error::Error;
use crate::sim::{generate, Arrival, Handling, Params, Rng, Sim, Traffic};

/// Replayed arrivals as columns: seconds from the start, called, caller, menu keys.
type Columns = (Vec<f64>, Vec<String>, Vec<String>, Vec<String>);

/// A running simulation: arrivals (generated or given), routed by an engine, played out.
#[pyclass(name = "Simulation", module = "routecore._routecore", frozen)]
pub struct PySimulation {
    sim: Mutex<Sim>,
}

fn invalid(msg: String) -> PyErr {
    PyRoutecoreErr(Error::InvalidArgument(msg)).into()
}

fn lock(m: &Mutex<Sim>) -> std::sync::MutexGuard<'_, Sim> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[pymethods]
impl PySimulation {
    /// A simulation starting at `start` (epoch seconds; local midnight makes hours local) over
    /// `span_seconds`. Give `arrivals` as columns `(at, called, caller, digits)` (`at` in seconds
    /// from `start`), or `calls_per_day` with the traffic shape to generate them.
    #[new]
    #[pyo3(signature = (
        engine, *, start, span_seconds, seed = 0,
        answer_probability = 0.9, mean_ring_seconds = 6.0, mean_handling_seconds = 180.0,
        handling = "exponential", handling_cv = 1.0, mean_patience_seconds = None,
        menu_key_seconds = 8.0, call_id_prefix = "sim-".to_string(),
        arrivals = None,
        calls_per_day = None, hourly_weights = None, numbers = None, regions = None,
        anonymous_share = 0.0, listed = Vec::new(), listed_share = 0.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        engine: &Bound<'_, PyEngine>,
        start: f64,
        span_seconds: f64,
        seed: u64,
        answer_probability: f64,
        mean_ring_seconds: f64,
        mean_handling_seconds: f64,
        handling: &str,
        handling_cv: f64,
        mean_patience_seconds: Option<f64>,
        menu_key_seconds: f64,
        call_id_prefix: String,
        arrivals: Option<Columns>,
        calls_per_day: Option<f64>,
        hourly_weights: Option<Vec<f64>>,
        numbers: Option<Vec<String>>,
        regions: Option<Vec<(f64, Vec<String>)>>,
        anonymous_share: f64,
        listed: Vec<String>,
        listed_share: f64,
    ) -> PyResult<Self> {
        if !start.is_finite() {
            return Err(invalid("start: not a finite number of seconds".into()));
        }
        if !(span_seconds.is_finite() && span_seconds > 0.0) {
            return Err(invalid(format!(
                "span_seconds: {span_seconds} is not a positive number of seconds"
            )));
        }
        let handling = match handling {
            "exponential" => Handling::Exponential,
            "lognormal" => Handling::LogNormal { cv: handling_cv },
            other => {
                return Err(invalid(format!(
                    "handling: {other:?} is not a distribution (exponential, lognormal)"
                )))
            }
        };
        let params = Params {
            answer_probability,
            mean_ring_seconds,
            mean_handling_seconds,
            handling,
            mean_patience_seconds,
            menu_key_seconds,
            call_id_prefix,
            ..Params::default()
        };
        let core = engine.get();
        let inner = Arc::clone(&core.inner);
        let tables = Arc::clone(&core.tables);
        let mut rng = Rng::new(seed);
        let arrivals = match (arrivals, calls_per_day) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "arrivals: give arrivals or calls_per_day, not both".into(),
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "arrivals: give arrivals (a replay) or calls_per_day (generated traffic)"
                        .into(),
                ))
            }
            (Some((at, called, caller, digits)), None) => {
                let n = at.len();
                for (name, len) in [
                    ("called", called.len()),
                    ("caller", caller.len()),
                    ("digits", digits.len()),
                ] {
                    if len != n {
                        return Err(invalid(format!(
                            "arrivals: column {name} has {len} items, at has {n}"
                        )));
                    }
                }
                at.into_iter()
                    .zip(called)
                    .zip(caller)
                    .zip(digits)
                    .map(|(((at, called), caller), digits)| Arrival {
                        at,
                        called,
                        caller,
                        digits,
                    })
                    .collect()
            }
            (None, Some(calls_per_day)) => {
                let traffic = Traffic {
                    calls_per_day,
                    days: span_seconds / 86_400.0,
                    hourly_weights: hourly_weights.unwrap_or_else(|| vec![1.0; 24]),
                    numbers: numbers.unwrap_or_else(|| inner.plan().served_numbers()),
                    regions: regions.unwrap_or_default(),
                    anonymous_share,
                    listed,
                    listed_share,
                };
                py.detach(|| generate(&traffic, &mut rng))
                    .map_err(PyRoutecoreErr)?
            }
        };
        let start_ms = (start * 1000.0).round() as i64;
        let sim = py
            .detach(|| {
                Sim::new(
                    inner,
                    tables,
                    start_ms,
                    span_seconds,
                    arrivals,
                    params,
                    seed,
                )
            })
            .map_err(PyRoutecoreErr)?;
        Ok(PySimulation {
            sim: Mutex::new(sim),
        })
    }

    /// Plays every arrival and event before `until` seconds from the start (GIL released).
    fn advance(&self, py: Python<'_>, until: f64) {
        py.detach(|| lock(&self.sim).advance(until));
    }

    /// Every arrival and event has been played.
    #[getter]
    fn done(&self) -> bool {
        lock(&self.sim).done()
    }

    /// Arrivals decided so far.
    #[getter]
    fn arrived(&self) -> usize {
        lock(&self.sim).arrived()
    }

    /// All arrivals of the run.
    #[getter]
    fn total_calls(&self) -> usize {
        lock(&self.sim).total_calls()
    }

    /// The figures so far as JSON (complete once `done`); maps are sorted by key.
    fn outcome_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = py.detach(|| serde_json::to_vec(&lock(&self.sim).outcome()));
        let bytes = out.map_err(|e| invalid(format!("outcome: {e}")))?;
        Ok(PyBytes::new(py, &bytes))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySimulation>()
}
