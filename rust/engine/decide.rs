//! The decision for one call (`spec/README.md`, "What one decision does"), the hot path.

use std::fmt::Write as _;
use std::sync::Arc;

use super::state::StateStore;
use chrono::NaiveDateTime;

use super::time::local_time;
use super::{Action, Condition, Group, Plan, Shared, Strategy};
use crate::error::{Error, Result};
use crate::number::{self, Digits, Kind, Number};
use crate::region::{Region, RegionTables};
use crate::text;

thread_local! {
    static CALLER_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `f` of the per-caller limit's key, `tenant|caller`, built in a reused buffer: no allocation
/// per call.
fn with_caller_key<R>(tenant: &str, caller: &str, f: impl FnOnce(&str) -> R) -> R {
    CALLER_KEY.with_borrow_mut(|key| {
        key.clear();
        key.push_str(tenant);
        key.push('|');
        key.push_str(caller);
        f(key)
    })
}

/// One routing query. `time_ms` is always given (the binding layer supplies "now").
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub call_id: &'a str,
    pub called: &'a str,
    pub caller: &'a str,
    pub digits: &'a str,
    pub time_ms: i64,
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Forward,
    Menu,
    Announce,
    Voicemail,
    Reject,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Forward => "FORWARD",
            ActionKind::Menu => "MENU",
            ActionKind::Announce => "ANNOUNCE",
            ActionKind::Voicemail => "VOICEMAIL",
            ActionKind::Reject => "REJECT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TargetOut {
    /// The normalised number ("" for a URI target).
    pub number: Shared,
    /// The target's URI ("" for a number target).
    pub uri: Shared,
    pub ring_seconds: u32,
    pub rate_per_minute: f64,
}

#[derive(Debug, Clone)]
pub struct MenuOut {
    pub id: Shared,
    pub prompt: Shared,
    pub keys: Vec<Shared>,
}

/// The caller as normalised; its region is looked up again on demand (O(1), no allocation
/// on the hot path).
#[derive(Debug, Clone)]
pub struct CallerOut {
    pub number: Number,
    pub tables: Arc<RegionTables>,
}

impl CallerOut {
    pub fn region(&self) -> Region<'_> {
        self.tables.lookup(&self.number)
    }
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub call_id: String,
    /// The called number, normalised.
    pub called: Digits,
    pub action: ActionKind,
    pub targets: Vec<TargetOut>,
    pub parallel: bool,
    /// Boxed: most decisions carry no menu, and a batch holds many decisions.
    pub menu: Option<Box<MenuOut>>,
    pub prompt: Shared,
    pub voicemail_box: Shared,
    pub reject: Option<(u16, Shared)>,
    pub display_name: Shared,
    pub display_tag: Shared,
    pub certified: bool,
    pub caller: CallerOut,
    pub called_class: &'static str,
    pub called_tags: std::sync::Arc<[String]>,
    pub tenant: Shared,
    pub rule: Shared,
    pub plan_version: Shared,
    pub trace: Vec<String>,
}

/// What the decision of a flow or menu came to.
enum Outcome {
    Forward {
        targets: Vec<TargetOut>,
        parallel: bool,
    },
    Menu(usize),
    Announce(Shared),
    Voicemail(Shared),
    Reject(u16, Shared),
}

struct Ctx<'a> {
    plan: &'a Plan,
    /// The call's local time in the plan's timezone, converted once.
    local: NaiveDateTime,
    state: &'a dyn StateStore,
    caller: &'a Number,
    region: Region<'a>,
    time_ms: i64,
    call_id: &'a str,
    trace: Option<Vec<String>>,
}

impl Ctx<'_> {
    fn note(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_mut() {
            t.push(f());
        }
    }
}

/// The empty string, allocated once: a decision has many empty fields.
fn empty() -> Shared {
    static EMPTY: std::sync::LazyLock<Shared> = std::sync::LazyLock::new(|| Shared::from(""));
    Shared::clone(&EMPTY)
}

fn valid_digits(digits: &str) -> Result<()> {
    if let Some((i, c)) = digits
        .char_indices()
        .find(|&(_, c)| !matches!(c, '0'..='9' | '*' | '#' | 'T'))
    {
        return Err(Error::InvalidArgument(format!(
            "digits: character {c:?} at position {i} is not a key (0-9, *, #, T for a timeout)"
        )));
    }
    if digits.len() > 64 {
        return Err(Error::InvalidArgument(format!(
            "digits: {} keys: at most 64 are accepted",
            digits.len()
        )));
    }
    Ok(())
}

/// The longest call id a call may have, in characters; Python's `MAX_CALL_ID`, which the
/// record store holds events to as well.
pub const MAX_CALL_ID: usize = 256;

/// Refuses a call id its events could not report (and its record could not hold): longer than
/// [`MAX_CALL_ID`] characters, or not printable text (`text::first_unprintable`). The route
/// requests (every transport, and the Python API) and the events are held to it alike. O(len).
pub fn check_call_id(call_id: &str) -> Result<()> {
    if call_id.len() > MAX_CALL_ID && call_id.chars().count() > MAX_CALL_ID {
        return Err(Error::InvalidArgument(format!(
            "call_id: longer than {MAX_CALL_ID} characters"
        )));
    }
    match text::first_unprintable(call_id) {
        None => Ok(()),
        Some((at, c)) => Err(Error::InvalidArgument(text::unprintable_message(
            "call_id",
            at,
            c as u32,
            "a call id is printable text",
        ))),
    }
}

/// Decides one call against `plan`.
pub fn decide(
    plan: &Plan,
    tables: &Arc<RegionTables>,
    state: &dyn StateStore,
    req: &Request<'_>,
) -> Result<Decision> {
    let called =
        number::normalize(req.called, &**tables).map_err(|e| Error::invalid_number("called", e))?;
    if called.kind == Kind::Anonymous {
        return Err(Error::InvalidArgument(
            "called: the called number is empty or withheld".to_string(),
        ));
    }
    let caller = number::normalize_caller(req.caller, &**tables)
        .map_err(|e| Error::invalid_number("caller", e))?;
    valid_digits(req.digits)?;
    check_call_id(req.call_id)?;
    let Some(served) = plan.numbers.get(&called.digits) else {
        return Err(Error::NotFound(format!(
            "called: {} is not served by plan {}",
            called.digits, plan.version
        )));
    };
    let tenant = &plan.tenants[served.tenant];
    let region = tables.lookup(&caller);

    let local = local_time(req.time_ms, plan.tz);
    let mut ctx = Ctx {
        plan,
        local,
        state,
        caller: &caller,
        region,
        time_ms: req.time_ms,
        call_id: req.call_id,
        trace: req.explain.then(Vec::new),
    };
    ctx.note(|| {
        format!(
            "called {} → tenant {} ({}); caller {} is {}{}",
            called.digits,
            tenant.name,
            served.display,
            if caller.digits.is_empty() {
                "(withheld)"
            } else {
                caller.as_str()
            },
            caller.kind,
            if region.province.is_empty() {
                String::new()
            } else {
                format!(" from {}/{}", region.province, region.city)
            }
        )
    });

    let date = local.date();
    let certified =
        tenant.display_name.is_some() && tenant.certified_until.is_none_or(|u| date <= u);
    let display_tag = tenant
        .tags
        .iter()
        .rev()
        .find(|(_, from, until)| from.is_none_or(|f| f <= date) && until.is_none_or(|u| date <= u))
        .map_or_else(|| tenant.display_tag.clone(), |(t, _, _)| t.clone());

    // What the per-caller limit counted for this call: a rejection then takes it back.
    let mut counted = None;
    let outcome = 'decided: {
        if tenant
            .allowlists
            .iter()
            .any(|&l| plan.lists[l].contains(&caller))
        {
            ctx.note(|| {
                "caller is on an allowlist: block checks and the per-caller limit skipped".into()
            });
        } else {
            for &l in plan.global_blocklists.iter().chain(&tenant.blocklists) {
                let list = &plan.lists[l];
                if list.contains(&caller) {
                    ctx.note(|| {
                        format!("blocked: caller is on list {} ({})", list.name, list.reason)
                    });
                    break 'decided (Outcome::Reject(603, list.reason.clone()), empty());
                }
            }
            ctx.note(|| "block lists: caller is on none".into());
            if let Some((calls, window_ms)) = tenant.per_caller {
                if req.digits.is_empty() && caller.kind != Kind::Anonymous {
                    let admitted = with_caller_key(&tenant.name, caller.digits.as_str(), |key| {
                        state.admit_caller(key, req.time_ms, window_ms, calls)
                    });
                    if admitted.is_none() {
                        ctx.note(|| {
                            format!(
                                "rate limited: {calls} calls within {} s already",
                                window_ms / 1000
                            )
                        });
                        break 'decided (
                            Outcome::Reject(603, Shared::from("rate_limited")),
                            empty(),
                        );
                    }
                    counted = admitted;
                    ctx.note(|| {
                        format!(
                            "per-caller limit: admitted (limit {calls} per {} s)",
                            window_ms / 1000
                        )
                    });
                }
            }
        }
        let mut chosen = None;
        for rule in &served.flow {
            if rule_holds(&mut ctx, rule) {
                chosen = Some(rule);
                break;
            }
        }
        // `check` refuses flows that can leave a call undecided; this is the guard if one slips by.
        let Some(rule) = chosen else {
            ctx.note(|| "no rule held".into());
            break 'decided (Outcome::Reject(480, Shared::from("no_rule")), empty());
        };
        let outcome = run_action(&mut ctx, &rule.action, req.digits.as_bytes(), 0);
        (outcome, rule.id.clone())
    };
    let (outcome, rule) = outcome;
    if let (Some(admission), Outcome::Reject(..)) = (&counted, &outcome) {
        // A rejected attempt does not count (plan-format.md, the per-caller limit).
        with_caller_key(&tenant.name, caller.digits.as_str(), |key| {
            state.withdraw_caller(key, admission);
        });
        ctx.note(|| "per-caller limit: the call is rejected, so it does not count".into());
    }

    let mut d = Decision {
        call_id: req.call_id.to_string(),
        called: called.digits,
        action: ActionKind::Reject,
        targets: Vec::new(),
        parallel: false,
        menu: None,
        prompt: empty(),
        voicemail_box: empty(),
        reject: None,
        display_name: if certified {
            tenant.display_name.clone().unwrap_or_else(empty)
        } else {
            empty()
        },
        display_tag,
        certified,
        caller: CallerOut {
            number: caller,
            tables: Arc::clone(tables),
        },
        called_class: served.class.class_str(),
        called_tags: served.tags.clone(),
        tenant: tenant.name.clone(),
        rule,
        plan_version: plan.version.clone(),
        trace: Vec::new(),
    };
    match outcome {
        Outcome::Forward { targets, parallel } => {
            d.action = ActionKind::Forward;
            d.targets = targets;
            d.parallel = parallel;
        }
        Outcome::Menu(m) => {
            let menu = &plan.menus[m];
            d.action = ActionKind::Menu;
            d.menu = Some(Box::new(super::decide::MenuOut {
                id: menu.id.clone(),
                prompt: menu.prompt.clone(),
                keys: menu.keys.clone(),
            }));
        }
        Outcome::Announce(p) => {
            d.action = ActionKind::Announce;
            d.prompt = p;
        }
        Outcome::Voicemail(b) => {
            d.action = ActionKind::Voicemail;
            d.voicemail_box = b;
        }
        Outcome::Reject(code, reason) => {
            d.action = ActionKind::Reject;
            d.reject = Some((code, reason));
        }
    }
    d.trace = ctx.trace.unwrap_or_default();
    if d.action == ActionKind::Forward && !d.call_id.is_empty() {
        state.remember_decision(&d);
    }
    Ok(d)
}

fn region_matches(region: &Region<'_>, wanted: &[(Shared, Option<Shared>)]) -> bool {
    !region.province.is_empty()
        && wanted
            .iter()
            .any(|(p, c)| &**p == region.province && c.as_ref().is_none_or(|c| &**c == region.city))
}

fn rule_holds(ctx: &mut Ctx<'_>, rule: &super::Rule) -> bool {
    let plan = ctx.plan;
    for cond in &rule.conditions {
        let (holds, why) = match cond {
            Condition::Schedule { schedule, negate } => {
                let s = &plan.schedules[*schedule];
                let inside = s.holds_local(ctx.time_ms, ctx.local, &plan.calendars);
                let why = ctx.trace.is_some().then(|| {
                    format!(
                        "{}schedule {}: {}",
                        if *negate { "not_" } else { "" },
                        s.name,
                        s.explain(ctx.time_ms, plan.tz, &plan.calendars)
                    )
                });
                (inside != *negate, why)
            }
            Condition::Region(wanted) => (
                region_matches(&ctx.region, wanted),
                ctx.trace
                    .is_some()
                    .then(|| format!("caller_region {}", names(wanted))),
            ),
            Condition::Pattern(set) => (
                !ctx.caller.digits.is_empty() && set.matches_any(ctx.caller.digits.as_bytes()),
                ctx.trace.is_some().then(|| "caller_pattern".to_string()),
            ),
            Condition::List(lists) => (
                lists.iter().any(|&l| plan.lists[l].contains(ctx.caller)),
                ctx.trace.is_some().then(|| {
                    format!(
                        "caller_list {}",
                        lists
                            .iter()
                            .map(|&l| &*plan.lists[l].name)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }),
            ),
            Condition::Kind(kinds) => (
                kinds.contains(&ctx.caller.kind),
                ctx.trace.is_some().then(|| {
                    format!(
                        "caller_kind {:?}",
                        kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()
                    )
                }),
            ),
            Condition::Carrier(carriers) => (
                !ctx.region.carrier.is_empty()
                    && carriers.iter().any(|c| &**c == ctx.region.carrier),
                ctx.trace.is_some().then(|| {
                    format!(
                        "carrier {:?}",
                        carriers.iter().map(|c| &**c).collect::<Vec<_>>()
                    )
                }),
            ),
            Condition::Dates(from, until) => {
                let date = ctx.local.date();
                (
                    from.is_none_or(|f| f <= date) && until.is_none_or(|u| date <= u),
                    ctx.trace
                        .is_some()
                        .then(|| format!("dates {from:?}..{until:?} on {date}")),
                )
            }
        };
        if let Some(why) = why {
            let verdict = if holds { "holds" } else { "does not hold" };
            ctx.note(|| format!("rule {}: {why} {verdict}", rule.id));
        }
        if !holds {
            return false;
        }
    }
    ctx.note(|| format!("rule {} holds", rule.id));
    true
}

fn names(wanted: &[(Shared, Option<Shared>)]) -> String {
    wanted
        .iter()
        .map(|(p, c)| match c {
            Some(c) => format!("{p}/{c}"),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs an action, walking the remaining menu keys through menus (and through the
/// menus a group's overflow reaches). `depth` counts the steps taken since the last
/// key: every key shortens `keys` (at most 64), so only steps that take none can cycle.
fn run_action(ctx: &mut Ctx<'_>, action: &Action, keys: &[u8], depth: usize) -> Outcome {
    if depth > ctx.plan.groups.len() + ctx.plan.menus.len() {
        // `check` refuses menu and overflow cycles, so a walk without keys visits each group
        // and menu at most once; this bounds it if a cycle slips by (however long the chain).
        return Outcome::Reject(480, Shared::from("no_target"));
    }
    match action {
        Action::Forward(g) => forward(ctx, *g, keys, depth),
        Action::Announce(p) => Outcome::Announce(p.clone()),
        Action::Voicemail(b) => Outcome::Voicemail(b.clone()),
        Action::Reject(code, reason) => Outcome::Reject(*code, reason.clone()),
        Action::Menu(m) => {
            let menu = &ctx.plan.menus[*m];
            let Some((&key, rest)) = keys.split_first() else {
                ctx.note(|| format!("menu {}: waiting for a key", menu.id));
                return Outcome::Menu(*m);
            };
            let next = if key == b'T' {
                ctx.note(|| format!("menu {}: timeout", menu.id));
                menu.timeout.as_ref()
            } else if let Some((_, a)) = menu.options.iter().find(|(k, _)| *k == key) {
                ctx.note(|| format!("menu {}: key {}", menu.id, key as char));
                Some(a)
            } else {
                ctx.note(|| {
                    format!(
                        "menu {}: key {} is not an option (invalid)",
                        menu.id, key as char
                    )
                });
                menu.invalid.as_ref()
            };
            if let Some(a) = next {
                run_action(ctx, a, rest, 0)
            } else {
                // Default for invalid and timeout: replay this menu, which takes the next
                // key as the first time (`"T1"` is `"1"`).
                ctx.note(|| format!("menu {}: replayed", menu.id));
                run_action(ctx, action, rest, 0)
            }
        }
    }
}

/// Forwards to group `g`; `keys` are the menu keys not yet walked, which a menu its
/// overflow reaches takes.
fn forward(ctx: &mut Ctx<'_>, g: usize, keys: &[u8], depth: usize) -> Outcome {
    let plan = ctx.plan;
    let group = &plan.groups[g];
    let mut on_shift: Vec<usize> = Vec::with_capacity(group.targets.len());
    for (i, t) in group.targets.iter().enumerate() {
        if let Some(s) = t.schedule {
            if !plan.schedules[s].holds_local(ctx.time_ms, ctx.local, &plan.calendars) {
                ctx.note(|| format!("group {}: {} off shift", group.key, t.key));
                continue;
            }
        }
        on_shift.push(i);
    }
    // Active calls of every target the decision needs them for (capped ones; all for least
    // busy, with their history), read in one step: one round trip when the state is shared.
    let least_busy = group.strategy == Strategy::LeastBusy;
    let counted: Vec<usize> = on_shift
        .iter()
        .copied()
        .filter(|&i| least_busy || group.targets[i].max_calls.is_some())
        .collect();
    // Indexed by target, only when some target is counted (no allocation otherwise).
    let mut active: Vec<u32> = Vec::new();
    let mut placed: Vec<Option<(i64, u64)>> = Vec::new();
    if !counted.is_empty() {
        active = vec![0; group.targets.len()];
        let keys: Vec<&str> = counted.iter().map(|&i| &*group.targets[i].slot).collect();
        if least_busy {
            placed = vec![None; group.targets.len()];
            let view = ctx.state.least_busy_view(&group.key, &keys, ctx.time_ms);
            for (&i, (n, p)) in counted.iter().zip(view) {
                active[i] = n;
                placed[i] = p;
            }
        } else {
            for (&i, n) in counted
                .iter()
                .zip(ctx.state.active_calls_many(&keys, ctx.time_ms))
            {
                active[i] = n;
            }
        }
    }
    let mut eligible: Vec<usize> = Vec::with_capacity(on_shift.len());
    for i in on_shift {
        let t = &group.targets[i];
        if let Some(cap) = t.max_calls {
            let active = active[i];
            if active >= cap {
                ctx.note(|| format!("group {}: {} at its cap ({active}/{cap})", group.key, t.key));
                continue;
            }
        }
        eligible.push(i);
    }
    if group.strategy == Strategy::Region {
        eligible = region_order(&ctx.region, group, &eligible);
    }
    if eligible.is_empty() {
        ctx.note(|| format!("group {}: no target left", group.key));
        return match &group.overflow {
            Some(a) => {
                ctx.note(|| format!("group {}: overflow", group.key));
                run_action(ctx, a, keys, depth + 1)
            }
            None => Outcome::Reject(480, Shared::from("no_target")),
        };
    }
    let order = order_targets(ctx, group, eligible, &active, &placed);
    ctx.state
        .remember_call(ctx.call_id, group.lease_ms, ctx.time_ms);
    let limit = group.max_targets.unwrap_or(usize::MAX);
    let targets: Vec<_> = order
        .into_iter()
        .take(limit)
        .map(|i| {
            let t = &group.targets[i];
            TargetOut {
                number: if t.is_uri { empty() } else { t.key.clone() },
                uri: if t.is_uri { t.key.clone() } else { empty() },
                ring_seconds: t.ring_seconds,
                rate_per_minute: t.rate,
            }
        })
        .collect();
    ctx.note(|| {
        let mut s = format!("group {} ({:?}):", group.key, group.strategy);
        for t in &targets {
            let _ = write!(s, " {}{}", t.number, t.uri);
        }
        s
    });
    Outcome::Forward {
        targets,
        parallel: group.strategy == Strategy::RingAll,
    }
}

fn region_order(region: &Region<'_>, group: &Group, eligible: &[usize]) -> Vec<usize> {
    let tier = |i: usize| -> Option<u8> {
        let t = &group.targets[i];
        if t.regions.is_empty() {
            return Some(2);
        }
        if region.province.is_empty() {
            return None;
        }
        t.regions
            .iter()
            .filter_map(|(p, c)| match c {
                Some(c) if &**p == region.province && &**c == region.city => Some(0),
                None if &**p == region.province => Some(1),
                _ => None,
            })
            .min()
    };
    let mut tiered: Vec<(u8, usize)> = eligible
        .iter()
        .filter_map(|&i| tier(i).map(|t| (t, i)))
        .collect();
    tiered.sort_by_key(|&(t, i)| (t, i));
    tiered.into_iter().map(|(_, i)| i).collect()
}

/// Orders the eligible targets (indices into `group.targets`, in listed order) by strategy.
///
/// `active` and `placed` hold the active calls and the least-busy history of every eligible
/// target of a least-busy group (by index; empty for other strategies).
fn order_targets(
    ctx: &mut Ctx<'_>,
    group: &Group,
    mut eligible: Vec<usize>,
    active: &[u32],
    placed: &[Option<(i64, u64)>],
) -> Vec<usize> {
    match group.strategy {
        Strategy::Sequential | Strategy::RingAll | Strategy::Region => eligible,
        Strategy::RoundRobin => {
            let n = group.targets.len();
            let start = (ctx.state.next_rotation(&group.key) % n as u64) as usize;
            eligible.sort_by_key(|&i| (i + n - start) % n);
            eligible
        }
        Strategy::Weighted => {
            let weighted: Vec<usize> = eligible
                .iter()
                .copied()
                .filter(|&i| group.targets[i].weight > 0)
                .collect();
            if weighted.is_empty() {
                return eligible;
            }
            let members: Vec<(&str, u32)> = weighted
                .iter()
                .map(|&i| (&*group.targets[i].key, group.targets[i].weight))
                .collect();
            let first = weighted[ctx.state.weighted_first(&group.key, &members)];
            let mut rest: Vec<usize> = eligible.into_iter().filter(|&i| i != first).collect();
            // Descending weight (weight 0 last), ties as listed: a stable sort keeps listed order.
            rest.sort_by_key(|&i| std::cmp::Reverse(group.targets[i].weight));
            let mut out = Vec::with_capacity(rest.len() + 1);
            out.push(first);
            out.extend(rest);
            out
        }
        Strategy::Random => {
            let draw = ctx.state.next_rotation(&group.random_key);
            let mut rng = SplitMix64(
                ctx.plan.seed
                    ^ fnv1a(group.key.as_bytes())
                    ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            for i in (1..eligible.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                eligible.swap(i, j);
            }
            eligible
        }
        Strategy::LeastBusy => {
            let mut keyed: Vec<LeastBusyKey> = eligible
                .iter()
                .map(|&i| (active[i], placed[i], i))
                .collect();
            // `None` (never placed first) sorts before any time: it counts as longest ago.
            keyed.sort();
            let order: Vec<usize> = keyed.into_iter().map(|(_, _, i)| i).collect();
            if let Some(&first) = order.first() {
                ctx.state
                    .mark_placed_first(&group.key, &group.targets[first].slot, ctx.time_ms);
            }
            order
        }
    }
}

/// Least-busy order: active calls, when last placed first (`None` = never), listed index.
type LeastBusyKey = (u32, Option<(i64, u64)>, usize);

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `SplitMix64`: small, fast, and good enough to draw uniform permutations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` by rejection (Lemire), so permutations carry no modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        loop {
            let m = u128::from(self.next()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }
}
