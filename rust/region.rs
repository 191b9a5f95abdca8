//! Caller region: mobile segment → province, city, carrier, virtual-operator flag;
//! landline area code → province, city; international calling code → country.
//!
//! The tables are built at first load from the installed `phone` and `phonenumbers`
//! packages (the Python side reads them and hands the raw material over), never from
//! a hand-typed list. Installed once per process, swapped atomically.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::number::{CountryCodes, Number};

/// Region tables; see the module docs.
#[derive(Debug, Default)]
pub struct RegionTables {
    // TODO(issue 2): segment, area-code and country tables.
}

/// Where a caller is from. Empty strings where unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region<'a> {
    pub province: &'a str,
    pub city: &'a str,
    pub carrier: &'a str,
    pub virtual_operator: bool,
    pub country: &'a str,
}

impl RegionTables {
    /// O(1) lookup of a normalised number's region.
    pub fn lookup(&self, _number: &Number) -> Region<'_> {
        Region::default()
    }
}

impl CountryCodes for RegionTables {
    fn country_of(&self, _calling_code: u16) -> Option<&str> {
        None
    }
}

static TABLES: ArcSwapOption<RegionTables> = ArcSwapOption::const_empty();

/// Installs the process-wide tables (replacing any earlier ones).
pub fn install(tables: RegionTables) {
    TABLES.store(Some(Arc::new(tables)));
}

/// The installed tables, if any.
pub fn tables() -> Option<Arc<RegionTables>> {
    TABLES.load_full()
}
