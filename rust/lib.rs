//! routecore's core: number normalisation, region lookup, lists, dial patterns,
//! prefix tables and the routing decision, in pure Rust. The only `PyO3` code is
//! in `bindings/` (behind the default `python` feature).

pub mod bloom;
pub mod bucket_set;
pub mod classify;
pub mod elias_fano;
pub mod engine;
pub mod error;
pub mod exact_set;
pub mod hugemem;
pub mod lists;
pub mod number;
pub mod pattern;
pub mod prefix;
pub mod recent;
pub mod region;
pub mod sim;
pub mod text;
pub mod wire;
pub mod yaml;

#[cfg(feature = "python")]
mod bindings;

#[cfg(feature = "python")]
use pyo3::prelude::*;

/// The private extension module `routecore._routecore`.
#[cfg(feature = "python")]
#[pymodule(gil_used = false)]
fn _routecore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bindings::register(m)
}

/// A fixed-seed xorshift generator for the measurements (`#[ignore]`d tests):
/// the same keys in every run, without a dependency.
#[cfg(test)]
pub(crate) fn xorshift() -> impl FnMut() -> u64 {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
