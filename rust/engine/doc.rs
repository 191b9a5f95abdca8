//! The plan document as the Python loader hands it over (plan-format shape, defaults filled,
//! already validated). Deserialised with serde; `compile` turns it into a [`super::Plan`].

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDoc {
    pub version: u32,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarDoc>,
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleDoc>,
    #[serde(default)]
    pub lists: BTreeMap<String, ListDoc>,
    #[serde(default)]
    pub blocklists: Vec<String>,
    #[serde(default)]
    pub rates: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantDoc>,
}

fn default_timezone() -> String {
    "Asia/Shanghai".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDoc {
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub closed: Vec<String>,
    #[serde(default)]
    pub open: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDoc {
    #[serde(default)]
    pub calendar: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    /// Day type → ranges; `None` when the key was not written (`[]` means closed).
    #[serde(default)]
    pub hours: BTreeMap<String, Option<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDoc {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
    #[serde(default)]
    pub patterns: Option<Vec<String>>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayDoc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub certified_until: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagDoc {
    pub tag: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerCallerDoc {
    pub calls: u32,
    pub window_seconds: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsDoc {
    #[serde(default)]
    pub per_caller: Option<PerCallerDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageDoc {
    #[serde(default)]
    pub monthly_fee: Option<f64>,
    #[serde(default)]
    pub included_minutes: Option<f64>,
    #[serde(default)]
    pub rates: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDoc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display: Option<DisplayDoc>,
    #[serde(default)]
    pub tags: Vec<TagDoc>,
    #[serde(default)]
    pub blocklists: Vec<String>,
    #[serde(default)]
    pub allowlists: Vec<String>,
    #[serde(default)]
    pub limits: Option<LimitsDoc>,
    #[serde(default)]
    pub package: Option<PackageDoc>,
    #[serde(default)]
    pub groups: BTreeMap<String, GroupDoc>,
    #[serde(default)]
    pub menus: BTreeMap<String, MenuDoc>,
    #[serde(default)]
    pub numbers: BTreeMap<String, NumberDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default = "default_ring")]
    pub ring_seconds: u32,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default)]
    pub max_calls: Option<u32>,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub regions: Option<Vec<String>>,
}

fn default_ring() -> u32 {
    20
}
fn default_weight() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    #[serde(default = "default_strategy")]
    pub strategy: String,
    pub targets: Vec<TargetDoc>,
    #[serde(default)]
    pub overflow: Option<ActionDoc>,
    #[serde(default)]
    pub max_targets: Option<u32>,
    #[serde(default)]
    pub max_call_seconds: Option<u32>,
}

fn default_strategy() -> String {
    "sequential".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuDoc {
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, ActionDoc>,
    #[serde(default)]
    pub invalid: Option<ActionDoc>,
    #[serde(default)]
    pub timeout: Option<ActionDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberDoc {
    pub flow: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectDoc {
    pub code: u16,
    pub reason: String,
}

/// Exactly one of the fields is set (the loader checks it; `compile` checks again).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDoc {
    #[serde(default)]
    pub forward: Option<String>,
    #[serde(default)]
    pub menu: Option<String>,
    #[serde(default)]
    pub announce: Option<String>,
    #[serde(default)]
    pub voicemail: Option<String>,
    #[serde(default)]
    pub reject: Option<RejectDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub when: Option<WhenDoc>,
    #[serde(default)]
    pub forward: Option<String>,
    #[serde(default)]
    pub menu: Option<String>,
    #[serde(default)]
    pub announce: Option<String>,
    #[serde(default)]
    pub voicemail: Option<String>,
    #[serde(default)]
    pub reject: Option<RejectDoc>,
}

impl RuleDoc {
    pub fn action(&self) -> ActionDoc {
        ActionDoc {
            forward: self.forward.clone(),
            menu: self.menu.clone(),
            announce: self.announce.clone(),
            voicemail: self.voicemail.clone(),
            reject: self.reject.as_ref().map(|r| RejectDoc {
                code: r.code,
                reason: r.reason.clone(),
            }),
        }
    }
}

/// A string or a list of strings (`caller_list: vip` or `caller_list: [a, b]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatesDoc {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenDoc {
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub not_schedule: Option<String>,
    #[serde(default)]
    pub caller_region: Option<OneOrMany>,
    #[serde(default)]
    pub caller_pattern: Option<OneOrMany>,
    #[serde(default)]
    pub caller_list: Option<OneOrMany>,
    #[serde(default)]
    pub caller_kind: Option<OneOrMany>,
    #[serde(default)]
    pub carrier: Option<OneOrMany>,
    #[serde(default)]
    pub dates: Option<DatesDoc>,
}
