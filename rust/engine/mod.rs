//! The routing plan compiled into an immutable snapshot, and the decision for every call.
//!
//! `compile` turns a validated [`doc::PlanDoc`] into a [`Plan`]; [`Engine`] holds the current
//! plan behind an `ArcSwap` (readers never lock or wait; a reload compiles beside the old plan
//! and swaps) together with the [`state::StateStore`]; `decide` is the hot path.

pub mod compile;
pub mod decide;
pub mod doc;
#[cfg(feature = "redis-state")]
pub mod redis_state;
pub mod state;
pub mod time;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::NaiveDate;
use chrono_tz::Tz;
use rustc_hash::FxHashMap;

use crate::classify::Classification;
use crate::lists::NumberList;
use crate::number::{Digits, Kind};
use crate::pattern::PatternSet;
pub use decide::{Decision, Request};
use state::StateStore;
use time::{Calendar, Schedule};

pub type Shared = Arc<str>;

/// A compiled, immutable routing plan.
pub struct Plan {
    pub version: Shared,
    pub tz: Tz,
    pub gateway: Shared,
    pub seed: u64,
    pub numbers: FxHashMap<Digits, ServedNumber>,
    pub tenants: Vec<Tenant>,
    pub lists: Vec<CallerList>,
    pub list_index: HashMap<String, usize>,
    pub global_blocklists: Vec<usize>,
    pub calendars: Vec<Calendar>,
    pub schedules: Vec<Schedule>,
    pub groups: Vec<Group>,
    pub menus: Vec<Menu>,
}

/// One served number: its tenant, its flow and its 400/800 class.
pub struct ServedNumber {
    pub tenant: usize,
    pub display: Shared,
    pub flow: Vec<Rule>,
    pub class: Classification,
    /// The class's tags, spelled once at compile time.
    pub tags: Arc<[String]>,
}

pub struct Tenant {
    pub name: Shared,
    pub display_name: Option<Shared>,
    pub display_tag: Shared,
    pub certified_until: Option<NaiveDate>,
    pub tags: Vec<(Shared, Option<NaiveDate>, Option<NaiveDate>)>,
    pub blocklists: Vec<usize>,
    pub allowlists: Vec<usize>,
    pub per_caller: Option<(u32, i64)>,
    /// Per-minute rates by target kind (mobile, landline, sip).
    pub rates: [f64; 3],
}

/// A named caller list: numbers (Bloom + exact), dial patterns, or both.
pub struct CallerList {
    pub name: Shared,
    pub reason: Shared,
    pub numbers: Option<Arc<NumberList>>,
    pub patterns: Option<PatternSet>,
}

impl CallerList {
    pub fn contains(&self, caller: &crate::number::Number) -> bool {
        if caller.kind == Kind::Anonymous {
            return false;
        }
        self.numbers.as_ref().is_some_and(|l| l.contains(caller))
            || self
                .patterns
                .as_ref()
                .is_some_and(|p| p.matches_any(caller.digits.as_bytes()))
    }
}

pub struct Rule {
    pub id: Shared,
    pub conditions: Vec<Condition>,
    pub action: Action,
}

pub enum Condition {
    Schedule { schedule: usize, negate: bool },
    Region(Vec<(Shared, Option<Shared>)>),
    Pattern(Box<PatternSet>),
    List(Vec<usize>),
    Kind(Vec<Kind>),
    Carrier(Vec<Shared>),
    Dates(Option<NaiveDate>, Option<NaiveDate>),
}

#[derive(Clone)]
pub enum Action {
    Forward(usize),
    Menu(usize),
    Announce(Shared),
    Voicemail(Shared),
    Reject(u16, Shared),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Sequential,
    RoundRobin,
    Weighted,
    Random,
    LeastBusy,
    RingAll,
    Region,
}

impl Strategy {
    pub fn parse(name: &str) -> Option<Strategy> {
        Some(match name {
            "sequential" => Strategy::Sequential,
            "round_robin" => Strategy::RoundRobin,
            "weighted" => Strategy::Weighted,
            "random" => Strategy::Random,
            "least_busy" => Strategy::LeastBusy,
            "ring_all" => Strategy::RingAll,
            "region" => Strategy::Region,
            _ => return None,
        })
    }
}

pub struct Target {
    /// The normalised number, or the URI as written: what the answer names.
    pub key: Shared,
    /// The key of its slots (active calls): the normalised number, also for a URI
    /// whose user part is one (`sip:13800000009@gw`, as a switch may report it), else
    /// the URI as written. See [`slot_key`].
    pub slot: Shared,
    pub is_uri: bool,
    pub ring_seconds: u32,
    pub weight: u32,
    pub max_calls: Option<u32>,
    pub schedule: Option<usize>,
    pub regions: Vec<(Shared, Option<Shared>)>,
    pub rate: f64,
}

pub struct Group {
    /// `tenant/group`: the key of the group's state.
    pub key: Shared,
    /// `tenant/group#random`: the key of its random draws' position (spelled once, not per call).
    pub random_key: Shared,
    pub strategy: Strategy,
    pub targets: Vec<Target>,
    pub overflow: Option<Action>,
    pub max_targets: Option<usize>,
    pub lease_ms: i64,
}

pub struct Menu {
    pub id: Shared,
    pub prompt: Shared,
    pub options: Vec<(u8, Action)>,
    pub keys: Vec<Shared>,
    pub invalid: Option<Action>,
    pub timeout: Option<Action>,
}

/// The live engine: the current plan and the decision state.
pub struct Engine {
    plan: ArcSwap<Plan>,
    state: Arc<dyn StateStore>,
}

impl Engine {
    pub fn new(plan: Plan, state: Arc<dyn StateStore>) -> Self {
        Engine {
            plan: ArcSwap::from_pointee(plan),
            state,
        }
    }

    /// The current plan (a cheap `Arc` clone; a reload does not affect a plan already held).
    pub fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    /// Swaps in a new plan atomically; returns the old one.
    pub fn swap(&self, plan: Plan) -> Arc<Plan> {
        self.plan.swap(Arc::new(plan))
    }

    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.state
    }
}

/// What [`Engine::update_list`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListUpdate {
    /// The list's size after the update.
    pub size: usize,
    /// Numbers that were not listed and now are.
    pub added: usize,
    /// Numbers that were listed and now are not.
    pub removed: usize,
}

impl Engine {
    /// Adds and removes numbers of the current plan's number list `name`, live (the next
    /// decision sees them). Every number is checked before anything changes. A reload compiles
    /// the lists afresh, so the caller re-applies its updates to a new plan
    /// ([`Engine::swap_with_lists`] does so before the new plan serves).
    /// O(k) for k numbers (amortised; see [`NumberList::add`]).
    pub fn update_list(
        &self,
        name: &str,
        add: &[String],
        remove: &[String],
        countries: &dyn crate::number::CountryCodes,
    ) -> crate::error::Result<ListUpdate> {
        self.plan().update_list(name, add, remove, countries)
    }

    /// Applies `updates` (list name, numbers to add, numbers to remove) to `plan`, then swaps it
    /// in: no decision ever sees the new plan without them. An update the new plan refuses (its
    /// list is gone, or became a pattern list) is skipped and returned with its error; the
    /// others still apply. Returns the old plan and the refused updates. O(k) for k numbers.
    pub fn swap_with_lists(
        &self,
        plan: Plan,
        updates: &[(String, Vec<String>, Vec<String>)],
        countries: &dyn crate::number::CountryCodes,
    ) -> (Arc<Plan>, Vec<(String, crate::error::Error)>) {
        let refused = updates
            .iter()
            .filter_map(|(name, add, remove)| {
                plan.update_list(name, add, remove, countries)
                    .err()
                    .map(|e| (name.clone(), e))
            })
            .collect();
        (self.swap(plan), refused)
    }
}

impl Plan {
    /// The served numbers (normalised digits), sorted.
    pub fn served_numbers(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .numbers
            .keys()
            .map(|d| d.as_str().to_string())
            .collect();
        v.sort();
        v
    }

    /// Adds and removes numbers of this plan's number list `name` (lists are shared by every
    /// holder of the plan, so routing sees the change at once). Every number is checked before
    /// anything changes. O(k) for k numbers (amortised; see [`NumberList::add`]).
    pub fn update_list(
        &self,
        name: &str,
        add: &[String],
        remove: &[String],
        countries: &dyn crate::number::CountryCodes,
    ) -> crate::error::Result<ListUpdate> {
        use crate::error::Error;
        let plan = self;
        let list = plan
            .list_index
            .get(name)
            .map(|&i| &plan.lists[i])
            .ok_or_else(|| {
                Error::NotFound(format!("name: plan {} has no list {name:?}", plan.version))
            })?;
        let numbers = list.numbers.as_ref().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "name: list {name:?} is a pattern list; only number lists take numbers"
            ))
        })?;
        let parse =
            |field: &str, items: &[String]| -> crate::error::Result<Vec<crate::number::Number>> {
                items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let n = crate::number::normalize(s, countries)
                            .map_err(|e| Error::invalid_number(&format!("{field}[{i}]"), e))?;
                        if n.kind == Kind::Anonymous {
                            return Err(Error::InvalidArgument(format!(
                                "{field}[{i}]: {s:?} has no digits; a list holds numbers"
                            )));
                        }
                        Ok(n)
                    })
                    .collect()
            };
        let to_add = parse("add", add)?;
        let to_remove = parse("remove", remove)?;
        // docs/errors.md: a number both added and removed by one request refuses it whole
        // (which of the two was meant is unknowable), however each was written.
        if let Some(both) = to_remove
            .iter()
            .find(|r| to_add.iter().any(|a| a.digits == r.digits))
        {
            return Err(Error::InvalidArgument(format!(
                "add/remove: '{}' is both added and removed",
                both.as_str()
            )));
        }
        let mut added = 0;
        for n in &to_add {
            // Checked above: a non-anonymous number is always listable.
            if numbers.add(n).unwrap_or(false) {
                added += 1;
            }
        }
        let removed = to_remove.iter().filter(|n| numbers.remove(n)).count();
        Ok(ListUpdate {
            size: numbers.len(),
            added,
            removed,
        })
    }
}

/// The slot key of a URI target, as a plan or a call report names it: the normalised
/// number when the user part is a mobile, landline, international or 400/800 number (a switch
/// reports what it dialled, which for a number target may be `sip:NUMBER@GATEWAY`, so
/// both spellings of one phone hold one slot), else the URI as written: an extension
/// (`sip:8001@pbx-beijing`) is that PBX's, not every PBX's 8001. O(len).
pub fn slot_key(uri: &str, tables: &crate::region::RegionTables) -> String {
    match crate::number::normalize(uri, tables) {
        Ok(n) if matches!(n.kind, Kind::Mobile | Kind::Landline | Kind::International) => {
            n.as_str().to_string()
        }
        // A 400/800 number (ten digits: no PBX's extension) as the answer's `uri` names it.
        Ok(n) if n.kind == Kind::Service && n.digits.len() == 10 => n.as_str().to_string(),
        _ => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::ListOptions;
    use crate::number::tests::TestCountries;

    #[test]
    fn served_numbers_are_normalised_and_sorted() {
        let doc = serde_json::json!({
            "version": 1,
            "tenants": {"t": {
                "groups": {"g": {"targets": [{"number": "13800000001"}]}},
                "numbers": {
                    "800-100-0001": {"flow": [{"id": "all", "forward": "g"}]},
                    "400 100 0002": {"flow": [{"id": "all", "forward": "g"}]},
                    "4001000001": {"flow": [{"id": "all", "forward": "g"}]},
                },
            }},
        });
        let tables = crate::region::RegionTables::default();
        let plan = compile::compile(compile::CompileInput {
            doc: serde_json::from_value(doc).unwrap(),
            list_texts: HashMap::new(),
            cn_days: Vec::new(),
            version: "test".into(),
            tables: &tables,
        })
        .unwrap();
        assert_eq!(
            plan.served_numbers(),
            ["4001000001", "4001000002", "8001000001"]
        );
    }

    fn engine_with_lists() -> Engine {
        Engine::new(plan_with_lists(), Arc::new(state::LocalState::new()))
    }

    fn plan_with_lists() -> Plan {
        let lists = vec![
            CallerList {
                name: "fraud".into(),
                reason: "fraud".into(),
                numbers: Some(Arc::new(NumberList::new(ListOptions::default()))),
                patterns: None,
            },
            CallerList {
                name: "virtual".into(),
                reason: "blocked".into(),
                numbers: None,
                patterns: Some(PatternSet::new(&["_170X.".to_string()]).unwrap()),
            },
        ];
        Plan {
            version: "v1".into(),
            tz: chrono_tz::Asia::Shanghai,
            gateway: "".into(),
            seed: 0,
            numbers: FxHashMap::default(),
            tenants: Vec::new(),
            list_index: [("fraud".to_string(), 0), ("virtual".to_string(), 1)].into(),
            lists,
            global_blocklists: vec![0],
            calendars: Vec::new(),
            schedules: Vec::new(),
            groups: Vec::new(),
            menus: Vec::new(),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn update_list_adds_and_removes_live() {
        let e = engine_with_lists();
        let u = e
            .update_list(
                "fraud",
                &strings(&["13800138000", "+86 139 0000 0000"]),
                &[],
                &TestCountries,
            )
            .unwrap();
        assert_eq!(
            u,
            ListUpdate {
                size: 2,
                added: 2,
                removed: 0
            }
        );
        let caller = crate::number::normalize("13800138000", &TestCountries).unwrap();
        assert!(e.plan().lists[0].contains(&caller));
        // Re-adding is no change.
        let u = e
            .update_list("fraud", &strings(&["13800138000"]), &[], &TestCountries)
            .unwrap();
        assert_eq!((u.size, u.added, u.removed), (2, 0, 0));
        // One request both adding and removing a number is refused whole: nothing changes.
        let both = e.update_list(
            "fraud",
            &strings(&["13800138000"]),
            &strings(&["+86 138 0013 8000"]),
            &TestCountries,
        );
        assert!(both
            .unwrap_err()
            .to_string()
            .contains("both added and removed"));
        assert!(e.plan().lists[0].contains(&caller));
        // Removing an unlisted number removes nothing.
        let u = e
            .update_list(
                "fraud",
                &[],
                &strings(&["13800138000", "13700000000"]),
                &TestCountries,
            )
            .unwrap();
        assert_eq!(
            u,
            ListUpdate {
                size: 1,
                added: 0,
                removed: 1
            }
        );
        assert!(!e.plan().lists[0].contains(&caller));
    }

    #[test]
    fn swap_with_lists_applies_before_the_new_plan_serves() {
        let e = engine_with_lists();
        let updates = vec![
            ("fraud".to_string(), strings(&["13800138000"]), Vec::new()),
            ("gone".to_string(), strings(&["13900000000"]), Vec::new()),
            ("virtual".to_string(), strings(&["13900000000"]), Vec::new()),
        ];
        let (old, refused) = e.swap_with_lists(plan_with_lists(), &updates, &TestCountries);
        let caller = crate::number::normalize("13800138000", &TestCountries).unwrap();
        // The old plan never saw the update; the one now serving had it before it served.
        assert!(!old.lists[0].contains(&caller));
        assert!(e.plan().lists[0].contains(&caller));
        let names: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["gone", "virtual"]);
        assert!(matches!(refused[0].1, crate::error::Error::NotFound(_)));
    }

    #[test]
    fn update_list_refuses_before_changing_anything() {
        let e = engine_with_lists();
        let err = e
            .update_list(
                "fraud",
                &strings(&["13800138000", "abc"]),
                &[],
                &TestCountries,
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("add[1]:"), "{err}");
        assert_eq!(e.plan().lists[0].numbers.as_ref().unwrap().len(), 0);
        assert!(matches!(
            e.update_list("nope", &[], &[], &TestCountries),
            Err(crate::error::Error::NotFound(_))
        ));
        assert!(matches!(
            e.update_list("virtual", &strings(&["13800138000"]), &[], &TestCountries),
            Err(crate::error::Error::InvalidArgument(_))
        ));
        assert!(e
            .update_list("fraud", &strings(&[""]), &[], &TestCountries)
            .is_err());
    }
}
