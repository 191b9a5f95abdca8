//! Plan document → immutable [`Plan`]. Every problem is collected with its path of keys;
//! the Python loader has already checked the document, so these are the last line of defence
//! (and the numbers' normalisation, which only the core does).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::doc::{ActionDoc, OneOrMany, PlanDoc, WhenDoc};
use super::time::{parse_date, parse_range, parse_tz, Calendar, DayType, Schedule};
use super::{
    Action, CallerList, Condition, Group, Menu, Plan, Rule, ServedNumber, Shared, Strategy, Target,
    Tenant,
};
use crate::classify::classify;
use crate::error::{Error, PlanIssue, Result};
use crate::lists::{ListBuilder, ListOptions};
use crate::number::{self, Kind};
use crate::pattern::PatternSet;
use crate::region::RegionTables;

/// Everything the compiler needs beside the document.
pub struct CompileInput<'a> {
    pub doc: PlanDoc,
    /// List files' texts by list name (already read by the loader, relative to the plan).
    pub list_texts: HashMap<String, String>,
    /// The `cn` calendar's special days (holiday or workday) from the official data.
    pub cn_days: Vec<(NaiveDate, DayType)>,
    pub version: String,
    pub tables: &'a RegionTables,
}

struct Compiler<'a> {
    issues: Vec<PlanIssue>,
    tables: &'a RegionTables,
}

impl Compiler<'_> {
    fn issue(&mut self, path: &[&str], message: impl Into<String>) {
        self.issues.push(PlanIssue {
            path: path.iter().map(|s| (*s).to_string()).collect(),
            message: message.into(),
        });
    }
}

fn shared(s: &str) -> Shared {
    Shared::from(s)
}

fn parse_place(name: &str) -> (Shared, Option<Shared>) {
    match name.split_once('/') {
        Some((p, c)) => (shared(p.trim()), Some(shared(c.trim()))),
        None => (shared(name.trim()), None),
    }
}

/// Compiles a plan document. Errors: [`Error::Plan`] with every issue found.
pub fn compile(input: CompileInput<'_>) -> Result<Plan> {
    let CompileInput {
        doc,
        list_texts,
        cn_days,
        version,
        tables,
    } = input;
    let mut c = Compiler {
        issues: Vec::new(),
        tables,
    };
    if doc.version != 1 {
        c.issue(
            &["version"],
            format!("format version {} is not supported (only 1)", doc.version),
        );
    }
    let tz = parse_tz(&doc.timezone).unwrap_or_else(|e| {
        c.issue(&["timezone"], e);
        chrono_tz::Asia::Shanghai
    });

    // Calendars: `cn` first, then the named ones, each flattened over its base chain.
    let mut calendars = vec![Calendar {
        special: cn_days.into_iter().collect(),
    }];
    let mut calendar_index: HashMap<String, usize> = HashMap::from([("cn".to_string(), 0)]);
    let mut pending: Vec<&String> = doc.calendars.keys().collect();
    // Resolve bases in dependency order; what is left after no progress is a cycle or unknown.
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|name| {
            let cal = &doc.calendars[*name];
            let base = match &cal.base {
                None => None,
                Some(b) => match calendar_index.get(b) {
                    Some(&i) => Some(i),
                    None => return true,
                },
            };
            let mut flat = base.map(|i| calendars[i].clone()).unwrap_or_default();
            for d in &cal.open {
                match parse_date(d) {
                    Ok(date) => {
                        flat.special.insert(date, DayType::Workday);
                    }
                    Err(e) => c.issues.push(PlanIssue {
                        path: vec!["calendars".into(), (*name).clone(), "open".into()],
                        message: e,
                    }),
                }
            }
            for d in &cal.closed {
                match parse_date(d) {
                    Ok(date) => {
                        flat.special.insert(date, DayType::Holiday);
                    }
                    Err(e) => c.issues.push(PlanIssue {
                        path: vec!["calendars".into(), (*name).clone(), "closed".into()],
                        message: e,
                    }),
                }
            }
            calendar_index.insert((*name).clone(), calendars.len());
            calendars.push(flat);
            false
        });
        if pending.len() == before {
            for name in &pending {
                let base = doc.calendars[*name].base.clone().unwrap_or_default();
                c.issues.push(PlanIssue {
                    path: vec!["calendars".into(), (*name).clone(), "base".into()],
                    message: format!("base calendar {base:?} is unknown or part of a cycle"),
                });
            }
            break;
        }
    }

    let mut schedules = Vec::new();
    let mut schedule_index = HashMap::new();
    for (name, s) in &doc.schedules {
        let path = ["schedules", name.as_str()];
        let calendar = s.calendar.as_ref().and_then(|cal| {
            let found = calendar_index.get(cal).copied();
            if found.is_none() {
                c.issue(
                    &[path[0], path[1], "calendar"],
                    format!("unknown calendar {cal:?}"),
                );
            }
            found
        });
        let stz = s.timezone.as_ref().and_then(|t| {
            parse_tz(t)
                .map_err(|e| c.issue(&[path[0], path[1], "timezone"], e))
                .ok()
        });
        let mut hours: [Option<Vec<(u16, u16)>>; 4] = [None, None, None, None];
        let mut all = None;
        for (key, ranges) in s
            .hours
            .iter()
            .filter_map(|(k, r)| r.as_ref().map(|r| (k, r)))
        {
            let mut parsed = Vec::new();
            for r in ranges {
                match parse_range(r) {
                    Ok(x) => parsed.push(x),
                    Err(e) => c.issue(&[path[0], path[1], "hours", key], e),
                }
            }
            // Overlapping ranges are open in either (`check` warns of them).
            parsed.sort_unstable();
            if key == "all" {
                all = Some(parsed);
            } else if let Some(day) = DayType::parse(key) {
                hours[day as usize] = Some(parsed);
            } else {
                c.issue(
                    &[path[0], path[1], "hours", key],
                    format!("unknown day type {key:?} (workday, sat, sun, holiday, all)"),
                );
            }
        }
        let hours = hours.map(|h| h.or_else(|| all.clone()).unwrap_or_default());
        schedule_index.insert(name.clone(), schedules.len());
        schedules.push(Schedule {
            name: name.clone(),
            tz: stz,
            calendar,
            hours,
        });
    }

    let mut lists = Vec::new();
    let mut list_index = HashMap::new();
    for (name, l) in &doc.lists {
        let mut numbers = None;
        if l.numbers.is_some() || l.file.is_some() {
            let mut builder = ListBuilder::new(ListOptions::default());
            for (i, n) in l.numbers.iter().flatten().enumerate() {
                if let Err(e) = builder.push_str(n, c.tables) {
                    c.issue(&["lists", name, "numbers", &i.to_string()], e.to_string());
                }
            }
            if let Some(file) = &l.file {
                match list_texts.get(name) {
                    Some(text) => {
                        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                        for (i, line) in text.lines().enumerate() {
                            let entry = line.split('#').next().unwrap_or_default();
                            if entry.trim().is_empty() {
                                continue;
                            }
                            if let Err(e) = builder.push_str(entry, c.tables) {
                                c.issue(
                                    &["lists", name, "file"],
                                    format!("{file}:{}: {}", i + 1, e),
                                );
                            }
                        }
                    }
                    None => c.issue(
                        &["lists", name, "file"],
                        format!("list file {file:?} was not read"),
                    ),
                }
            }
            numbers = Some(Arc::new(builder.build()));
        }
        let patterns = l.patterns.as_ref().and_then(|p| match PatternSet::new(p) {
            Ok(set) => Some(set),
            Err(e) => {
                c.issue(&["lists", name, "patterns"], e.to_string());
                None
            }
        });
        list_index.insert(name.clone(), lists.len());
        lists.push(CallerList {
            name: shared(name),
            reason: shared(l.reason.as_deref().unwrap_or("blocked")),
            numbers,
            patterns,
        });
    }
    let resolve_lists = |c: &mut Compiler<'_>, names: &[String], path: &[&str]| -> Vec<usize> {
        names
            .iter()
            .filter_map(|n| {
                let found = list_index.get(n).copied();
                if found.is_none() {
                    c.issue(path, format!("unknown list {n:?}"));
                }
                found
            })
            .collect()
    };
    let global_blocklists = resolve_lists(&mut c, &doc.blocklists, &["blocklists"]);

    let mut plan = Plan {
        version: shared(&version),
        tz,
        gateway: shared(doc.gateway.as_deref().unwrap_or("")),
        seed: doc.seed,
        numbers: rustc_hash::FxHashMap::default(),
        tenants: Vec::new(),
        lists: Vec::new(),
        list_index: HashMap::new(),
        global_blocklists,
        calendars,
        schedules,
        groups: Vec::new(),
        menus: Vec::new(),
    };

    for (tname, t) in &doc.tenants {
        let tpath = ["tenants", tname.as_str()];
        let tenant_index = plan.tenants.len();
        let display = t.display.as_ref();
        let certified_until = display
            .and_then(|d| d.certified_until.as_ref())
            .and_then(|s| {
                parse_date(s)
                    .map_err(|e| c.issue(&[tpath[0], tpath[1], "display", "certified_until"], e))
                    .ok()
            });
        let mut tags = Vec::new();
        for (i, tag) in t.tags.iter().enumerate() {
            let idx = i.to_string();
            let mut date = |s: &Option<String>, key: &str| {
                s.as_ref().and_then(|s| {
                    parse_date(s)
                        .map_err(|e| c.issue(&[tpath[0], tpath[1], "tags", &idx, key], e))
                        .ok()
                })
            };
            let from = date(&tag.from, "from");
            let until = date(&tag.until, "until");
            tags.push((shared(&tag.tag), from, until));
        }
        let rate_table = t
            .package
            .as_ref()
            .and_then(|p| p.rates.as_ref())
            .and_then(|name| {
                let found = doc.rates.get(name);
                if found.is_none() {
                    c.issue(
                        &[tpath[0], tpath[1], "package", "rates"],
                        format!("unknown rate table {name:?}"),
                    );
                }
                found
            })
            .or_else(|| doc.rates.get("default"));
        let rate = |kind: &str| rate_table.and_then(|r| r.get(kind)).copied().unwrap_or(0.0);
        let rates = [rate("mobile"), rate("landline"), rate("sip")];
        let blocklists = resolve_lists(&mut c, &t.blocklists, &[tpath[0], tpath[1], "blocklists"]);
        let allowlists = resolve_lists(&mut c, &t.allowlists, &[tpath[0], tpath[1], "allowlists"]);
        let per_caller = t
            .limits
            .as_ref()
            .and_then(|l| l.per_caller.as_ref())
            .map(|p| (p.calls, i64::from(p.window_seconds) * 1000));

        // Groups and menus get global indices; names are resolved per tenant.
        let group_base = plan.groups.len();
        let group_index: HashMap<&str, usize> = t
            .groups
            .keys()
            .enumerate()
            .map(|(i, n)| (n.as_str(), group_base + i))
            .collect();
        let menu_base = plan.menus.len();
        let menu_index: HashMap<&str, usize> = t
            .menus
            .keys()
            .enumerate()
            .map(|(i, n)| (n.as_str(), menu_base + i))
            .collect();
        let names = Names {
            groups: &group_index,
            menus: &menu_index,
        };

        for (gname, g) in &t.groups {
            let gpath = [tpath[0], tpath[1], "groups", gname.as_str()];
            let strategy = Strategy::parse(&g.strategy).unwrap_or_else(|| {
                c.issue(
                    &[gpath[0], gpath[1], gpath[2], gpath[3], "strategy"],
                    format!("unknown strategy {:?}", g.strategy),
                );
                Strategy::Sequential
            });
            let mut targets = Vec::new();
            for (i, td) in g.targets.iter().enumerate() {
                let idx = i.to_string();
                let tp = [
                    gpath[0],
                    gpath[1],
                    gpath[2],
                    gpath[3],
                    "targets",
                    idx.as_str(),
                ];
                let (key, is_uri, kind) = match (&td.number, &td.uri) {
                    (Some(n), None) => match number::normalize(n, c.tables) {
                        Ok(num) if num.kind != Kind::Anonymous => {
                            (shared(num.as_str()), false, num.kind)
                        }
                        Ok(_) => {
                            c.issue(
                                &[tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], "number"],
                                "empty target number",
                            );
                            continue;
                        }
                        Err(e) => {
                            c.issue(
                                &[tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], "number"],
                                e.to_string(),
                            );
                            continue;
                        }
                    },
                    (None, Some(u)) => (shared(u), true, Kind::Unknown),
                    _ => {
                        c.issue(&tp, "a target has exactly one of `number` and `uri`");
                        continue;
                    }
                };
                let schedule = td.schedule.as_ref().and_then(|s| {
                    let found = schedule_index.get(s).copied();
                    if found.is_none() {
                        c.issue(
                            &[tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], "schedule"],
                            format!("unknown schedule {s:?}"),
                        );
                    }
                    found
                });
                let rate = if is_uri {
                    rates[2]
                } else if kind == Kind::Mobile {
                    rates[0]
                } else {
                    rates[1]
                };
                targets.push(Target {
                    slot: if is_uri {
                        shared(&super::slot_key(&key, c.tables))
                    } else {
                        key.clone()
                    },
                    key,
                    is_uri,
                    ring_seconds: td.ring_seconds,
                    weight: td.weight,
                    max_calls: td.max_calls,
                    schedule,
                    regions: td
                        .regions
                        .iter()
                        .flatten()
                        .map(|r| parse_place(r))
                        .collect(),
                    rate,
                });
            }
            let overflow = g.overflow.as_ref().and_then(|a| {
                compile_action(
                    &mut c,
                    a,
                    &names,
                    &[gpath[0], gpath[1], gpath[2], gpath[3], "overflow"],
                )
            });
            plan.groups.push(Group {
                key: shared(&group_key(tname, gname)),
                random_key: shared(&format!("{}#random", group_key(tname, gname))),
                strategy,
                targets,
                overflow,
                max_targets: g.max_targets.map(|m| m as usize),
                lease_ms: g
                    .max_call_seconds
                    .map_or(super::state::DEFAULT_LEASE_MS, |s| i64::from(s) * 1000),
            });
        }
        for (mname, m) in &t.menus {
            let mpath = [tpath[0], tpath[1], "menus", mname.as_str()];
            let mut options = Vec::new();
            let mut keys = Vec::new();
            for (key, a) in &m.options {
                let kb = key.as_bytes();
                if kb.len() != 1 || !matches!(kb[0], b'0'..=b'9' | b'*' | b'#') {
                    c.issue(
                        &[mpath[0], mpath[1], mpath[2], mpath[3], "options", key],
                        "a menu key is one of 0-9, * or #",
                    );
                    continue;
                }
                if let Some(action) = compile_action(
                    &mut c,
                    a,
                    &names,
                    &[mpath[0], mpath[1], mpath[2], mpath[3], "options", key],
                ) {
                    options.push((kb[0], action));
                    keys.push(shared(key));
                }
            }
            let invalid = m.invalid.as_ref().and_then(|a| {
                compile_action(
                    &mut c,
                    a,
                    &names,
                    &[mpath[0], mpath[1], mpath[2], mpath[3], "invalid"],
                )
            });
            let timeout = m.timeout.as_ref().and_then(|a| {
                compile_action(
                    &mut c,
                    a,
                    &names,
                    &[mpath[0], mpath[1], mpath[2], mpath[3], "timeout"],
                )
            });
            plan.menus.push(Menu {
                id: shared(mname),
                prompt: shared(m.prompt.as_deref().unwrap_or("")),
                options,
                keys,
                invalid,
                timeout,
            });
        }

        for (num, n) in &t.numbers {
            let npath = [tpath[0], tpath[1], "numbers", num.as_str()];
            let served = match number::normalize(num, c.tables) {
                Ok(s) if s.kind != Kind::Anonymous => s,
                Ok(_) => {
                    c.issue(&npath, "a served number cannot be empty");
                    continue;
                }
                Err(e) => {
                    c.issue(&npath, e.to_string());
                    continue;
                }
            };
            let mut flow = Vec::new();
            for (i, r) in n.flow.iter().enumerate() {
                let idx = i.to_string();
                let rpath = [npath[0], npath[1], npath[2], npath[3], "flow", idx.as_str()];
                let conditions = r
                    .when
                    .as_ref()
                    .map(|w| compile_when(&mut c, w, &schedule_index, &list_index, &rpath))
                    .unwrap_or_default();
                let Some(action) = compile_action(&mut c, &r.action(), &names, &rpath) else {
                    continue;
                };
                flow.push(Rule {
                    id: shared(&r.id.clone().unwrap_or_else(|| format!("r{}", i + 1))),
                    conditions,
                    action,
                });
            }
            if n.flow.last().is_none_or(|r| r.when.is_some()) {
                c.issue(
                    &[npath[0], npath[1], npath[2], npath[3], "flow"],
                    "the flow can leave a call undecided: its last rule must have no `when`",
                );
            }
            if plan.numbers.contains_key(&served.digits) {
                c.issue(&npath, format!("number {} is served twice", served.digits));
                continue;
            }
            plan.numbers.insert(
                served.digits,
                ServedNumber {
                    tenant: tenant_index,
                    display: shared(num),
                    flow,
                    class: classify(served.digits.as_bytes()),
                    tags: classify(served.digits.as_bytes())
                        .tags()
                        .map(|t| t.to_string())
                        .collect(),
                },
            );
        }

        plan.tenants.push(Tenant {
            name: shared(tname),
            display_name: display.and_then(|d| d.name.as_deref()).map(shared),
            display_tag: shared(display.and_then(|d| d.tag.as_deref()).unwrap_or("")),
            certified_until,
            tags,
            blocklists,
            allowlists,
            per_caller,
            rates,
        });
    }
    plan.lists = lists;
    plan.list_index = list_index;
    if c.issues.is_empty() {
        Ok(plan)
    } else {
        Err(Error::Plan(c.issues))
    }
}

struct Names<'a> {
    groups: &'a HashMap<&'a str, usize>,
    menus: &'a HashMap<&'a str, usize>,
}

fn compile_action(
    c: &mut Compiler<'_>,
    a: &ActionDoc,
    names: &Names<'_>,
    path: &[&str],
) -> Option<Action> {
    let set = [
        a.forward.is_some(),
        a.menu.is_some(),
        a.announce.is_some(),
        a.voicemail.is_some(),
        a.reject.is_some(),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    if set != 1 {
        c.issue(path, format!("exactly one action (forward, menu, announce, voicemail, reject) is required, found {set}"));
        return None;
    }
    if let Some(g) = &a.forward {
        let found = names.groups.get(g.as_str()).copied();
        if found.is_none() {
            c.issue(path, format!("forward: unknown group {g:?}"));
        }
        return found.map(Action::Forward);
    }
    if let Some(m) = &a.menu {
        let found = names.menus.get(m.as_str()).copied();
        if found.is_none() {
            c.issue(path, format!("menu: unknown menu {m:?}"));
        }
        return found.map(Action::Menu);
    }
    if let Some(p) = &a.announce {
        return Some(Action::Announce(shared(p)));
    }
    if let Some(b) = &a.voicemail {
        return Some(Action::Voicemail(shared(b)));
    }
    a.reject
        .as_ref()
        .map(|r| Action::Reject(r.code, shared(&r.reason)))
}

fn compile_when(
    c: &mut Compiler<'_>,
    w: &WhenDoc,
    schedules: &HashMap<String, usize>,
    lists: &HashMap<String, usize>,
    path: &[&str],
) -> Vec<Condition> {
    let mut out = Vec::new();
    let sub = |key: &'static str| -> Vec<String> {
        let mut p: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
        p.push("when".into());
        p.push(key.into());
        p
    };
    for (name, negate, key) in [
        (&w.schedule, false, "schedule"),
        (&w.not_schedule, true, "not_schedule"),
    ] {
        if let Some(s) = name {
            match schedules.get(s) {
                Some(&i) => out.push(Condition::Schedule {
                    schedule: i,
                    negate,
                }),
                None => c.issues.push(PlanIssue {
                    path: sub(key),
                    message: format!("unknown schedule {s:?}"),
                }),
            }
        }
    }
    let many = |v: &Option<OneOrMany>| -> Option<Vec<String>> {
        v.as_ref().map(|x| match x {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        })
    };
    if let Some(regions) = many(&w.caller_region) {
        out.push(Condition::Region(
            regions.iter().map(|r| parse_place(r)).collect(),
        ));
    }
    if let Some(patterns) = many(&w.caller_pattern) {
        match PatternSet::new(&patterns) {
            Ok(set) => out.push(Condition::Pattern(Box::new(set))),
            Err(e) => c.issues.push(PlanIssue {
                path: sub("caller_pattern"),
                message: e.to_string(),
            }),
        }
    }
    if let Some(names) = many(&w.caller_list) {
        let mut ids = Vec::new();
        for n in names {
            match lists.get(&n) {
                Some(&i) => ids.push(i),
                None => c.issues.push(PlanIssue {
                    path: sub("caller_list"),
                    message: format!("unknown list {n:?}"),
                }),
            }
        }
        out.push(Condition::List(ids));
    }
    if let Some(kinds) = many(&w.caller_kind) {
        let mut parsed = Vec::new();
        for k in kinds {
            match Kind::parse(&k) {
                Some(kind) => parsed.push(kind),
                None => c.issues.push(PlanIssue {
                    path: sub("caller_kind"),
                    message: format!("unknown caller kind {k:?}"),
                }),
            }
        }
        out.push(Condition::Kind(parsed));
    }
    if let Some(carriers) = many(&w.carrier) {
        out.push(Condition::Carrier(
            carriers.iter().map(|s| shared(s)).collect(),
        ));
    }
    if let Some(d) = &w.dates {
        let mut date = |s: &Option<String>| {
            s.as_ref().and_then(|s| match parse_date(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    c.issues.push(PlanIssue {
                        path: sub("dates"),
                        message: e,
                    });
                    None
                }
            })
        };
        let from = date(&d.from);
        let until = date(&d.until);
        out.push(Condition::Dates(from, until));
    }
    out
}

/// The key of a group's state: `tenant/group`, with `%`, `/` and `#` in either name
/// escaped, so that no two groups share one (`a` + `b/c` against `a/b` + `c`).
/// Statistics label groups by it too (`routecore.stats.group_label`).
pub fn group_key(tenant: &str, group: &str) -> String {
    let escape = |name: &str| {
        name.replace('%', "%25")
            .replace('/', "%2F")
            .replace('#', "%23")
    };
    format!("{}/{}", escape(tenant), escape(group))
}
