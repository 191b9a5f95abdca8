//! `cargo fuzz run plan`: see `checks::plan` for what it checks.
#![no_main]

extern crate _routecore as routecore;

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::plan(data));
