//! Traffic simulation: calls arrive, the real engine decides each one at its simulated time, and a
//! discrete-event model of the targets plays it out.
//!
//! Everything runs in simulated time, in event order: a decision sees every earlier answer and
//! hang-up (reported to the engine's state store as `ANSWERED` / `ENDED` at their simulated
//! times), so `max_calls` caps, least-busy and round-robin behave as they would live.
//!
//! The target model (what the plan cannot say, so the simulation assumes it):
//! - a target has `max_calls` lines (1 when unset); a line is taken while it rings and while it
//!   talks, so a busy target is skipped by the play-out even when the engine offered it (the
//!   engine only knows answered calls);
//! - a free target answers with probability `answer_probability`, after an exponential ring time
//!   (mean `mean_ring_seconds`) capped at the target's `ring_seconds`; one that does not answer
//!   rings for its full `ring_seconds`, then the call moves to the next offered target;
//! - a sequential decision hunts its targets in order (a call that moves past its first target
//!   has *overflowed*); a parallel (`ring_all`) one rings every free target and the first to
//!   answer takes the call;
//! - a caller waits at most their patience (exponential, mean `mean_patience_seconds`, counted
//!   from the first ring) and then hangs up: *abandoned*;
//! - handling time is exponential or log-normal with mean `mean_handling_seconds`;
//! - a forwarded call that no target takes and that was not abandoned is *lost*.
//!
//! Arrivals are generated ([`generate`]: a Poisson process with an hourly rate curve, callers
//! from real mobile segments with a region mix) or given (a replay).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::engine::decide::{decide, ActionKind, Request};
use crate::engine::{Engine, Shared};
use crate::error::{Error, Result};
use crate::region::RegionTables;

const DAY_SECONDS: f64 = 86_400.0;

/// `xoshiro256**` seeded by `SplitMix64`: small, fast, and the same stream on every machine.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with mean `mean` (0 for a mean of 0).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        // 1 - u is in (0, 1]: the logarithm is finite.
        -mean * (1.0 - self.uniform()).ln()
    }

    /// Standard normal (Box–Muller; one of the pair is dropped for simplicity).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform in `[0, n)`; `n` > 0. The modulo bias is below 2^-40 for the small `n` used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// An index drawn with probability proportional to `cumulative` weights (increasing, last > 0).
    fn weighted(&mut self, cumulative: &[f64]) -> usize {
        let x = self.uniform() * cumulative[cumulative.len() - 1];
        cumulative
            .partition_point(|&c| c <= x)
            .min(cumulative.len() - 1)
    }
}

/// One call to simulate: when (seconds from the start), to which number, from whom, and the menu
/// keys already known (a replay; generated calls draw their keys when a menu asks).
#[derive(Debug, Clone, Default)]
pub struct Arrival {
    pub at: f64,
    pub called: String,
    pub caller: String,
    pub digits: String,
}

/// Generated traffic: how many calls, when, to which numbers and from whom.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Expected calls per day.
    pub calls_per_day: f64,
    /// Simulated span, days (fractions allowed).
    pub days: f64,
    /// Relative arrival rate per local hour of the day.
    pub hourly_weights: Vec<f64>,
    /// The called numbers, drawn uniformly.
    pub numbers: Vec<String>,
    /// Caller regions: (weight, mobile segments of 7 digits); a caller is a segment + 4 digits.
    pub regions: Vec<(f64, Vec<String>)>,
    /// Share of callers who withhold their number.
    pub anonymous_share: f64,
    /// Callers drawn with `listed_share` (e.g. numbers on the plan's block lists).
    pub listed: Vec<String>,
    pub listed_share: f64,
}

fn share(name: &str, x: f64) -> Result<()> {
    if (0.0..=1.0).contains(&x) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{name}: {x} is not a share between 0 and 1"
        )))
    }
}

/// Most calls one run generates (calls a day × days).
pub const MAX_GENERATED_CALLS: u64 = 20_000_000;

/// The arrivals of a Poisson process whose rate is piecewise constant per hour: hour `h` of
/// each day gets `calls_per_day * w[h] / sum(w)` arrivals in expectation. O(arrivals).
pub fn generate(t: &Traffic, rng: &mut Rng) -> Result<Vec<Arrival>> {
    let w = &t.hourly_weights;
    if w.len() != 24
        || w.iter().any(|&x| !(x >= 0.0 && x.is_finite()))
        || w.iter().sum::<f64>() <= 0.0
    {
        return Err(Error::InvalidArgument(
            "hourly_weights: 24 non-negative weights, not all zero".into(),
        ));
    }
    if !(t.calls_per_day >= 0.0 && t.calls_per_day.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "calls: {} is not a non-negative number of calls per day",
            t.calls_per_day
        )));
    }
    if !(t.days > 0.0 && t.days.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "days: {} is not a positive number of days",
            t.days
        )));
    }
    // Every arrival is held until it is played (about 100 bytes each): a bound keeps a typo
    // (`1e12` calls) an error instead of an allocation that kills the process.
    let expected = t.calls_per_day * t.days;
    if expected > MAX_GENERATED_CALLS as f64 {
        return Err(Error::InvalidArgument(format!(
            "calls: {} a day for {} days is {expected:.0} calls; one run simulates at most \
             {MAX_GENERATED_CALLS} (split the span into several runs)",
            t.calls_per_day, t.days
        )));
    }
    if t.numbers.is_empty() {
        return Err(Error::InvalidArgument(
            "numbers: the plan serves no number".into(),
        ));
    }
    share("anonymous_share", t.anonymous_share)?;
    share("listed_share", t.listed_share)?;
    if t.anonymous_share + t.listed_share > 1.0 {
        return Err(Error::InvalidArgument(
            "listed_share: with anonymous_share it exceeds 1".into(),
        ));
    }
    if t.listed_share > 0.0 && t.listed.is_empty() {
        return Err(Error::InvalidArgument(
            "listed_share: > 0 but no listed callers to draw".into(),
        ));
    }
    let mut cumulative = Vec::with_capacity(t.regions.len());
    let mut total = 0.0;
    for (i, (weight, segments)) in t.regions.iter().enumerate() {
        if !(*weight >= 0.0 && weight.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "regions[{i}]: weight {weight} is not a non-negative number"
            )));
        }
        if let Some(bad) = segments
            .iter()
            .find(|s| s.len() != 7 || !s.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::InvalidArgument(format!(
                "regions[{i}]: segment {bad:?} is not 7 digits"
            )));
        }
        if segments.is_empty() && *weight > 0.0 {
            return Err(Error::InvalidArgument(format!(
                "regions[{i}]: a weighted region needs segments"
            )));
        }
        total += weight;
        cumulative.push(total);
    }
    if total <= 0.0 && t.anonymous_share + t.listed_share < 1.0 {
        return Err(Error::InvalidArgument(
            "regions: no region has a positive weight".into(),
        ));
    }
    let weight_sum: f64 = w.iter().sum();
    let span = t.days * DAY_SECONDS;
    let mut out = Vec::with_capacity((t.calls_per_day * t.days * 1.05) as usize + 16);
    let mut day = 0.0;
    while day * DAY_SECONDS < span {
        for (hour, &weight) in w.iter().enumerate() {
            let start = day * DAY_SECONDS + hour as f64 * 3600.0;
            let end = (start + 3600.0).min(span);
            let rate = t.calls_per_day * weight / weight_sum / 3600.0;
            if rate <= 0.0 || end <= start {
                continue;
            }
            let mut at = start + rng.exponential(1.0 / rate);
            while at < end {
                out.push(Arrival {
                    at,
                    called: String::new(),
                    caller: String::new(),
                    digits: String::new(),
                });
                at += rng.exponential(1.0 / rate);
            }
        }
        day += 1.0;
    }
    for a in &mut out {
        a.called.clone_from(&t.numbers[rng.below(t.numbers.len())]);
        let u = rng.uniform();
        if u < t.anonymous_share {
            continue;
        }
        if u < t.anonymous_share + t.listed_share {
            a.caller.clone_from(&t.listed[rng.below(t.listed.len())]);
            continue;
        }
        let segments = &t.regions[rng.weighted(&cumulative)].1;
        let segment = &segments[rng.below(segments.len())];
        a.caller.reserve(11);
        a.caller.push_str(segment);
        let _ = write!(a.caller, "{:04}", rng.below(10_000));
    }
    Ok(out)
}

/// The distribution of handling (talk) times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Handling {
    Exponential,
    /// Log-normal with this coefficient of variation (standard deviation / mean).
    LogNormal {
        cv: f64,
    },
}

/// The behaviour of targets and callers.
#[derive(Debug, Clone)]
pub struct Params {
    pub answer_probability: f64,
    pub mean_ring_seconds: f64,
    pub mean_handling_seconds: f64,
    pub handling: Handling,
    /// Mean patience of a caller waiting for an answer; `None`: callers never hang up first.
    pub mean_patience_seconds: Option<f64>,
    /// Time a caller spends on a menu before pressing a key.
    pub menu_key_seconds: f64,
    /// Menus deeper than this count as unfinished (the caller gave up).
    pub max_menu_depth: usize,
    /// Call ids are `{prefix}{index}`.
    pub call_id_prefix: String,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            answer_probability: 0.9,
            mean_ring_seconds: 6.0,
            mean_handling_seconds: 180.0,
            handling: Handling::Exponential,
            mean_patience_seconds: None,
            menu_key_seconds: 8.0,
            max_menu_depth: 8,
            call_id_prefix: "sim-".into(),
        }
    }
}

impl Params {
    pub fn check(&self) -> Result<()> {
        share("answer_probability", self.answer_probability)?;
        let positive = |name: &str, x: f64, zero_ok: bool| {
            if x.is_finite() && (x > 0.0 || (zero_ok && x == 0.0)) {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!(
                    "{name}: {x} is not a {} number of seconds",
                    if zero_ok { "non-negative" } else { "positive" }
                )))
            }
        };
        positive("mean_ring_seconds", self.mean_ring_seconds, true)?;
        positive("mean_handling_seconds", self.mean_handling_seconds, false)?;
        positive("menu_key_seconds", self.menu_key_seconds, true)?;
        if let Some(p) = self.mean_patience_seconds {
            positive("mean_patience_seconds", p, false)?;
        }
        // Every simulated call's id is the prefix and its number: one the engine refuses (too
        // long, not printable) would turn every call into an error.
        let room = crate::engine::decide::MAX_CALL_ID - u32::MAX.to_string().len();
        if self.call_id_prefix.chars().count() > room {
            return Err(Error::InvalidArgument(format!(
                "call_id_prefix: longer than {room} characters (a call id is the prefix and the \
                 call's number, at most {} characters)",
                crate::engine::decide::MAX_CALL_ID
            )));
        }
        if let Err(e) = crate::engine::decide::check_call_id(&self.call_id_prefix) {
            return Err(Error::InvalidArgument(format!(
                "call_id_prefix: {}",
                e.to_string().trim_start_matches("call_id: ")
            )));
        }
        if let Handling::LogNormal { cv } = self.handling {
            if !(cv > 0.0 && cv.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "handling_cv: {cv} is not a positive coefficient of variation"
                )));
            }
        }
        Ok(())
    }
}

/// Per hour of the day (local; a multi-day run adds its days up), by the call's arrival.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct HourFigures {
    pub offered: u64,
    pub forwarded: u64,
    pub answered: u64,
    pub lost: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    pub rejected: u64,
    /// Seconds of handling (talk) on all targets within this hour.
    pub busy_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TargetFigures {
    /// Times the play-out rang this target.
    pub rung: u64,
    pub answered: u64,
    pub busy_seconds: f64,
    /// Lines (its `max_calls`, else 1).
    pub lines: u32,
    /// Most calls it handled at once.
    pub peak: u32,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GroupFigures {
    /// Most calls answered and in progress at once on the group's targets.
    pub peak_concurrent: u32,
    pub targets: u32,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RegionFigures {
    pub offered: u64,
    pub answered: u64,
}

/// Summary of talk times of answered calls, seconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Durations {
    pub count: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// What a simulation produced. Maps are ordered by key, so equal runs serialise identically.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outcome {
    pub calls: u64,
    pub forwarded: u64,
    pub answered: u64,
    pub lost: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    /// Rejected calls by reason (`blocked`, `rate_limited`, `closed`, `no_target`, …).
    pub rejected: BTreeMap<String, u64>,
    /// Calls that ended otherwise: ANNOUNCE, VOICEMAIL, MENU (unfinished), error:CODE.
    pub other: BTreeMap<String, u64>,
    pub by_hour: Vec<HourFigures>,
    pub by_province: BTreeMap<String, RegionFigures>,
    /// Calls by tenant, called number and rule of their final decision (a failed request has none).
    pub by_tenant: BTreeMap<String, u64>,
    pub by_number: BTreeMap<String, u64>,
    pub by_rule: BTreeMap<String, u64>,
    pub targets: BTreeMap<String, TargetFigures>,
    pub groups: BTreeMap<String, GroupFigures>,
    pub durations: Durations,
    pub span_seconds: f64,
    pub events: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Decide the call (again, after a menu key).
    Decide,
    /// The ringing target `pos` answers.
    Answer,
    /// Target `pos` rang out: try the next one.
    NoAnswer,
    /// The caller hangs up while ringing.
    Abandon,
    /// A `ring_all` target that lost the race (or rang out) stops ringing.
    Release,
    /// The answered call on target `pos` ends.
    End,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    at: f64,
    seq: u64,
    kind: Kind,
    call: u32,
    pos: u16,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event (then the first pushed) must
    /// come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .total_cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A target in the play-out: its key's index in `Sim::targets`.
type TargetId = u32;

#[derive(Default)]
struct Call {
    digits: String,
    /// Offered targets (ids) and their ring caps, seconds.
    offered: Vec<(TargetId, f64)>,
    /// When the caller hangs up if still unanswered.
    gives_up: f64,
    hour: u8,
    /// Moved past its first offered target.
    overflowed: bool,
    /// Handling time once answered, seconds.
    hold: f64,
    /// Index into `Sim::provinces` once decided.
    province: Option<u32>,
}

struct TargetSim {
    key: Shared,
    /// What the engine's state counts its calls under (`Target::slot`).
    slot: Shared,
    lines: u32,
    in_use: u32,
    talking: u32,
    groups: Vec<u32>,
    figures: TargetFigures,
}

/// A running simulation; [`Sim::advance`] plays it forward, [`Sim::outcome`] reports.
pub struct Sim {
    engine: Arc<Engine>,
    tables: Arc<RegionTables>,
    start_ms: i64,
    params: Params,
    rng: Rng,
    arrivals: Vec<Arrival>,
    next_arrival: usize,
    heap: BinaryHeap<Event>,
    seq: u64,
    calls: Vec<Call>,
    targets: Vec<TargetSim>,
    target_ids: FxHashMap<Shared, TargetId>,
    /// Lines per target key and the groups holding it, from the plan at the start.
    /// Target (number or URI as answered) → its lines, its groups and its slot key.
    plan_targets: FxHashMap<Shared, (u32, Vec<u32>, Shared)>,
    group_names: Vec<Shared>,
    group_active: Vec<u32>,
    provinces: Vec<String>,
    province_ids: FxHashMap<String, u32>,
    talk: Vec<f32>,
    /// Final decisions by tenant, called number and rule, keyed by the plan's shared strings
    /// (no allocation per call); turned into `Outcome` maps at the end.
    tenants: FxHashMap<Shared, u64>,
    numbers: FxHashMap<String, u64>,
    rules: FxHashMap<Shared, u64>,
    out: Outcome,
    id_buf: String,
}

impl Sim {
    /// A simulation of `arrivals` (sorted by time here; ties keep their order) starting at
    /// `start_ms` (epoch milliseconds; use local midnight so hours are local hours), over
    /// `span_seconds`, against `engine` (whose decision state it uses and changes).
    pub fn new(
        engine: Arc<Engine>,
        tables: Arc<RegionTables>,
        start_ms: i64,
        span_seconds: f64,
        mut arrivals: Vec<Arrival>,
        params: Params,
        seed: u64,
    ) -> Result<Self> {
        params.check()?;
        if let Some((i, a)) = arrivals
            .iter()
            .enumerate()
            .find(|(_, a)| !(a.at.is_finite() && a.at >= 0.0))
        {
            return Err(Error::InvalidArgument(format!(
                "arrivals[{i}].at: {} is not a time at or after the start",
                a.at
            )));
        }
        if arrivals.len() >= u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "arrivals: more than 4 billion calls".into(),
            ));
        }
        arrivals.sort_by(|a, b| a.at.total_cmp(&b.at));
        let plan = engine.plan();
        let mut plan_targets: FxHashMap<Shared, (u32, Vec<u32>, Shared)> = FxHashMap::default();
        let mut group_names = Vec::with_capacity(plan.groups.len());
        let mut groups = BTreeMap::new();
        for (g, group) in plan.groups.iter().enumerate() {
            group_names.push(group.key.clone());
            let mut distinct = 0;
            for t in &group.targets {
                let entry = plan_targets
                    .entry(t.key.clone())
                    .or_insert_with(|| (1, Vec::new(), t.slot.clone()));
                entry.0 = entry.0.max(t.max_calls.unwrap_or(1).max(1));
                // A target listed twice in a group (two spellings of one number) is one target.
                if entry.1.last() != Some(&(g as u32)) {
                    entry.1.push(g as u32);
                    distinct += 1;
                }
            }
            groups.insert(
                group.key.to_string(),
                GroupFigures {
                    peak_concurrent: 0,
                    targets: distinct,
                },
            );
        }
        let n = arrivals.len();
        let mut calls = Vec::with_capacity(n);
        calls.resize_with(n, Call::default);
        let out = Outcome {
            by_hour: vec![HourFigures::default(); 24],
            groups,
            span_seconds,
            ..Outcome::default()
        };
        Ok(Sim {
            group_active: vec![0; group_names.len()],
            engine,
            tables,
            start_ms,
            params,
            rng: Rng::new(seed ^ 0x005E_ED0F_CA11),
            arrivals,
            next_arrival: 0,
            heap: BinaryHeap::new(),
            seq: 0,
            calls,
            targets: Vec::new(),
            target_ids: FxHashMap::default(),
            plan_targets,
            group_names,
            provinces: Vec::new(),
            province_ids: FxHashMap::default(),
            talk: Vec::with_capacity(n),
            tenants: FxHashMap::default(),
            numbers: FxHashMap::default(),
            rules: FxHashMap::default(),
            out,
            id_buf: String::new(),
        })
    }

    /// How many arrivals have been decided at least once.
    pub fn arrived(&self) -> usize {
        self.next_arrival
    }

    pub fn total_calls(&self) -> usize {
        self.arrivals.len()
    }

    pub fn done(&self) -> bool {
        self.next_arrival == self.arrivals.len() && self.heap.is_empty()
    }

    /// Plays every arrival and event before `until` seconds (all of them for `f64::INFINITY`).
    /// Arrivals and events at the same instant: events first (a line freed at t serves a call
    /// arriving at t).
    pub fn advance(&mut self, until: f64) {
        loop {
            let arrival_at = self.arrivals.get(self.next_arrival).map(|a| a.at);
            let event_at = self.heap.peek().map(|e| e.at);
            let take_event = match (event_at, arrival_at) {
                (Some(e), Some(a)) => e <= a,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return,
            };
            let at = if take_event { event_at } else { arrival_at }.unwrap_or(f64::INFINITY);
            if at >= until {
                return;
            }
            if take_event {
                let ev = self.heap.pop().expect("peeked");
                self.out.events += 1;
                self.handle(ev);
            } else {
                let i = self.next_arrival;
                self.next_arrival += 1;
                self.arrive(i);
            }
        }
    }

    /// The figures so far (complete once [`Sim::done`]).
    pub fn outcome(&self) -> Outcome {
        let mut out = self.out.clone();
        for t in &self.targets {
            out.targets.insert(t.key.to_string(), t.figures.clone());
        }
        for (map, counts) in [
            (&mut out.by_tenant, &self.tenants),
            (&mut out.by_rule, &self.rules),
        ] {
            map.extend(counts.iter().map(|(k, &n)| (k.to_string(), n)));
        }
        out.by_number
            .extend(self.numbers.iter().map(|(k, &n)| (k.clone(), n)));
        let mut talk = self.talk.clone();
        talk.sort_by(f32::total_cmp);
        out.durations = durations(&talk);
        out
    }

    fn push(&mut self, at: f64, kind: Kind, call: u32, pos: u16) {
        self.seq += 1;
        self.heap.push(Event {
            at,
            seq: self.seq,
            kind,
            call,
            pos,
        });
    }

    fn time_ms(&self, at: f64) -> i64 {
        self.start_ms + (at * 1000.0).round() as i64
    }

    fn call_id(&mut self, call: u32) -> &str {
        self.id_buf.clear();
        self.id_buf.push_str(&self.params.call_id_prefix);
        let _ = write!(self.id_buf, "{call}");
        &self.id_buf
    }

    fn arrive(&mut self, i: usize) {
        let at = self.arrivals[i].at;
        let hour = ((at / 3600.0).floor() as i64).rem_euclid(24) as u8;
        let c = &mut self.calls[i];
        c.hour = hour;
        c.digits = std::mem::take(&mut self.arrivals[i].digits);
        self.out.calls += 1;
        self.out.by_hour[hour as usize].offered += 1;
        self.decide(at, i as u32);
    }

    fn target_id(&mut self, key: &Shared) -> TargetId {
        if let Some(&id) = self.target_ids.get(key) {
            return id;
        }
        let (lines, groups, slot) = self
            .plan_targets
            .get(key)
            .cloned()
            .unwrap_or_else(|| (1, Vec::new(), key.clone()));
        let id = self.targets.len() as TargetId;
        self.targets.push(TargetSim {
            key: key.clone(),
            slot,
            lines,
            in_use: 0,
            talking: 0,
            groups,
            figures: TargetFigures {
                lines,
                ..TargetFigures::default()
            },
        });
        self.target_ids.insert(key.clone(), id);
        id
    }

    fn province_of(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.province_ids.get(name) {
            return id;
        }
        let id = self.provinces.len() as u32;
        self.provinces.push(name.to_string());
        self.province_ids.insert(name.to_string(), id);
        id
    }

    fn decide(&mut self, at: f64, call: u32) {
        let plan = self.engine.plan();
        let time_ms = self.time_ms(at);
        let i = call as usize;
        // The id is built in the reused buffer, taken out while the request borrows the rest.
        let mut id = std::mem::take(&mut self.id_buf);
        id.clear();
        id.push_str(&self.params.call_id_prefix);
        let _ = write!(id, "{call}");
        let a = &self.arrivals[i];
        let req = Request {
            call_id: &id,
            called: &a.called,
            caller: &a.caller,
            digits: &self.calls[i].digits,
            time_ms,
            explain: false,
        };
        let decided = decide(&plan, &self.tables, self.engine.state().as_ref(), &req);
        self.id_buf = id;
        let hour = self.calls[i].hour as usize;
        let d = match decided {
            Ok(d) => d,
            Err(e) => {
                let code = match e {
                    Error::NotFound(_) => "error:NOT_FOUND",
                    Error::NotReady(_) => "error:UNAVAILABLE",
                    _ => "error:INVALID_ARGUMENT",
                };
                *self.out.other.entry(code.to_string()).or_default() += 1;
                return;
            }
        };
        if self.calls[i].province.is_none() {
            let province = d.caller.region().province;
            let name = if province.is_empty() {
                "(unknown)"
            } else {
                province
            };
            let p = self.province_of(name);
            self.calls[i].province = Some(p);
            self.out
                .by_province
                .entry(self.provinces[p as usize].clone())
                .or_default()
                .offered += 1;
        }
        let unfinished_menu = d.action == ActionKind::Menu
            && (d.menu.as_ref().is_none_or(|m| m.keys.is_empty())
                || self.calls[i].digits.len() >= self.params.max_menu_depth);
        if d.action != ActionKind::Menu || unfinished_menu {
            *self.tenants.entry(d.tenant.clone()).or_default() += 1;
            *self.rules.entry(d.rule.clone()).or_default() += 1;
            match self.numbers.get_mut(d.called.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.numbers.insert(d.called.as_str().to_string(), 1);
                }
            }
        }
        match d.action {
            ActionKind::Forward => {
                let mut offered = Vec::with_capacity(d.targets.len());
                // Event positions are u16 (`u16::MAX` marks a whole ring-all): a group of more
                // targets than that is rung in its first 65,534.
                for t in d.targets.iter().take(usize::from(u16::MAX - 1)) {
                    let key = if t.uri.is_empty() { &t.number } else { &t.uri };
                    let cap = if t.ring_seconds == 0 {
                        20.0
                    } else {
                        f64::from(t.ring_seconds)
                    };
                    offered.push((self.target_id(key), cap));
                }
                self.out.forwarded += 1;
                self.out.by_hour[hour].forwarded += 1;
                let patience = self
                    .params
                    .mean_patience_seconds
                    .map_or(f64::INFINITY, |m| self.rng.exponential(m));
                let c = &mut self.calls[i];
                c.offered = offered;
                c.gives_up = at + patience;
                if d.parallel {
                    self.ring_all(at, call);
                } else {
                    self.hunt(at, call, 0);
                }
            }
            ActionKind::Menu => {
                let keys = d.menu.as_ref().map_or(&[][..], |m| &m.keys[..]);
                if unfinished_menu {
                    *self.out.other.entry("MENU".into()).or_default() += 1;
                    return;
                }
                let key = keys[self.rng.below(keys.len())].clone();
                self.calls[i].digits.push_str(&key);
                self.push(at + self.params.menu_key_seconds, Kind::Decide, call, 0);
            }
            ActionKind::Reject => {
                let reason = d.reject.as_ref().map_or("", |(_, r)| &**r);
                match self.out.rejected.get_mut(reason) {
                    Some(n) => *n += 1,
                    None => {
                        self.out.rejected.insert(reason.to_string(), 1);
                    }
                }
                self.out.by_hour[hour].rejected += 1;
            }
            ActionKind::Announce | ActionKind::Voicemail => {
                *self.out.other.entry(d.action.as_str().into()).or_default() += 1;
            }
        }
    }

    /// When a free target answers (capped at its ring time), or `None` when it does not.
    fn ring_delay(&mut self, cap: f64) -> Option<f64> {
        if self.rng.uniform() >= self.params.answer_probability {
            return None;
        }
        Some(self.rng.exponential(self.params.mean_ring_seconds).min(cap))
    }

    fn take_line(&mut self, t: TargetId) {
        let target = &mut self.targets[t as usize];
        target.in_use += 1;
        target.figures.rung += 1;
    }

    fn free(&self, t: TargetId) -> bool {
        let target = &self.targets[t as usize];
        target.in_use < target.lines
    }

    /// Rings the offered targets from `pos` on, skipping busy ones.
    fn hunt(&mut self, at: f64, call: u32, mut pos: usize) {
        let i = call as usize;
        let n = self.calls[i].offered.len();
        while pos < n && !self.free(self.calls[i].offered[pos].0) {
            pos += 1;
        }
        if pos > 0 && !self.calls[i].overflowed {
            self.mark_overflowed(call);
        }
        if pos >= n {
            self.lose(call);
            return;
        }
        let (t, cap) = self.calls[i].offered[pos];
        self.take_line(t);
        let gives_up = self.calls[i].gives_up;
        match self.ring_delay(cap) {
            Some(d) if at + d < gives_up => self.push(at + d, Kind::Answer, call, pos as u16),
            None if at + cap < gives_up => self.push(at + cap, Kind::NoAnswer, call, pos as u16),
            _ => self.push(gives_up, Kind::Abandon, call, pos as u16),
        }
    }

    fn mark_overflowed(&mut self, call: u32) {
        let c = &mut self.calls[call as usize];
        c.overflowed = true;
        let hour = c.hour as usize;
        self.out.overflowed += 1;
        self.out.by_hour[hour].overflowed += 1;
    }

    fn ring_all(&mut self, at: f64, call: u32) {
        let i = call as usize;
        let offered = std::mem::take(&mut self.calls[i].offered);
        let free: Vec<usize> = (0..offered.len())
            .filter(|&p| self.free(offered[p].0))
            .collect();
        if free.is_empty() {
            self.calls[i].offered = offered;
            self.lose(call);
            return;
        }
        let delays: Vec<(Option<f64>, usize)> = free
            .iter()
            .map(|&p| (self.ring_delay(offered[p].1), p))
            .collect();
        let winner = delays
            .iter()
            .filter_map(|&(d, p)| d.map(|d| (d, p)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let gives_up = self.calls[i].gives_up;
        let answered = winner.filter(|&(d, _)| at + d < gives_up);
        for &(_, p) in &delays {
            self.take_line(offered[p].0);
            if answered.is_some_and(|(_, w)| w == p) {
                let d = answered.expect("checked").0;
                self.push(at + d, Kind::Answer, call, p as u16);
            } else {
                // The others ring until one answers, the caller hangs up, or their own time runs out.
                let stop = match answered {
                    Some((d, _)) => offered[p].1.min(d),
                    None => offered[p].1,
                };
                let stop = (at + stop).min(gives_up);
                self.push(stop, Kind::Release, call, p as u16);
            }
        }
        let longest = free.iter().map(|&p| offered[p].1).fold(0.0_f64, f64::max);
        self.calls[i].offered = offered;
        if answered.is_none() {
            if at + longest >= gives_up {
                self.push(gives_up, Kind::Abandon, call, u16::MAX);
            } else {
                self.push(at + longest, Kind::NoAnswer, call, u16::MAX);
            }
        }
    }

    /// A forwarded call no target took. Its offered targets stay: `ring_all` releases may be pending.
    fn lose(&mut self, call: u32) {
        let hour = self.calls[call as usize].hour as usize;
        self.out.lost += 1;
        self.out.by_hour[hour].lost += 1;
    }

    fn release(&mut self, t: TargetId) {
        let target = &mut self.targets[t as usize];
        target.in_use = target.in_use.saturating_sub(1);
    }

    /// Adds the part of a stretch of handling `[from, to)` inside the simulated span to the
    /// per-hour busy seconds, and returns its length. Talk past the span is not the span's
    /// load (utilisation over the span stays at most 1), and whole days are added at once, so
    /// a call of any length costs at most a day's 24 steps.
    fn busy(&mut self, from: f64, to: f64) -> f64 {
        let (from, to) = (from.max(0.0), to.min(self.out.span_seconds));
        if to <= from {
            return 0.0;
        }
        let days = ((to - from) / 86_400.0).floor();
        if days >= 1.0 {
            for hour in &mut self.out.by_hour {
                hour.busy_seconds += days * 3600.0;
            }
        }
        let mut t = from + days * 86_400.0;
        while t < to {
            let hour_end = ((t / 3600.0).floor() + 1.0) * 3600.0;
            let piece_end = hour_end.min(to);
            let hour = ((t / 3600.0).floor() as i64).rem_euclid(24) as usize;
            self.out.by_hour[hour].busy_seconds += piece_end - t;
            t = piece_end;
        }
        to - from
    }

    fn handle(&mut self, ev: Event) {
        let call = ev.call;
        let i = call as usize;
        let pos = ev.pos as usize;
        match ev.kind {
            Kind::Decide => self.decide(ev.at, call),
            Kind::Answer => {
                let t = self.calls[i].offered[pos].0;
                let hour = self.calls[i].hour as usize;
                self.out.answered += 1;
                self.out.by_hour[hour].answered += 1;
                if let Some(name) = self.calls[i].province.map(|p| &self.provinces[p as usize]) {
                    if let Some(r) = self.out.by_province.get_mut(name) {
                        r.answered += 1;
                    }
                }
                let at_ms = self.time_ms(ev.at);
                let slot = self.targets[t as usize].slot.clone();
                let state = Arc::clone(self.engine.state());
                state.answered(self.call_id(call), &slot, at_ms);
                let target = &mut self.targets[t as usize];
                target.talking += 1;
                target.figures.answered += 1;
                target.figures.peak = target.figures.peak.max(target.talking);
                for &g in &target.groups {
                    let g = g as usize;
                    self.group_active[g] += 1;
                    let name = &self.group_names[g];
                    if let Some(fig) = self.out.groups.get_mut(&**name) {
                        fig.peak_concurrent = fig.peak_concurrent.max(self.group_active[g]);
                    }
                }
                let hold = match self.params.handling {
                    Handling::Exponential => {
                        self.rng.exponential(self.params.mean_handling_seconds)
                    }
                    Handling::LogNormal { cv } => {
                        let sigma2 = (1.0 + cv * cv).ln();
                        let mu = self.params.mean_handling_seconds.ln() - sigma2 / 2.0;
                        (mu + sigma2.sqrt() * self.rng.normal()).exp()
                    }
                };
                self.talk.push(hold as f32);
                self.calls[i].hold = hold;
                self.push(ev.at + hold, Kind::End, call, ev.pos);
            }
            Kind::End => {
                let t = self.calls[i].offered[pos].0;
                let started = ev.at - self.calls[i].hold;
                let busy = self.busy(started, ev.at);
                let at_ms = self.time_ms(ev.at);
                let slot = self.targets[t as usize].slot.clone();
                let state = Arc::clone(self.engine.state());
                state.ended(self.call_id(call), &slot, at_ms);
                self.release(t);
                let target = &mut self.targets[t as usize];
                target.talking -= 1;
                target.figures.busy_seconds += busy;
                for &g in &target.groups {
                    self.group_active[g as usize] -= 1;
                }
                self.calls[i].offered = Vec::new();
            }
            Kind::NoAnswer => {
                if ev.pos == u16::MAX {
                    // ring_all: every target rang out.
                    self.lose(call);
                } else {
                    let t = self.calls[i].offered[pos].0;
                    self.release(t);
                    self.hunt(ev.at, call, pos + 1);
                }
            }
            Kind::Release => {
                let t = self.calls[i].offered[pos].0;
                self.release(t);
            }
            Kind::Abandon => {
                if ev.pos != u16::MAX {
                    let t = self.calls[i].offered[pos].0;
                    self.release(t);
                }
                let hour = self.calls[i].hour as usize;
                self.out.abandoned += 1;
                self.out.by_hour[hour].abandoned += 1;
            }
        }
    }
}

/// Mean, median and 90th percentile of sorted talk times; percentiles interpolate linearly between
/// the closest ranks (numpy's default, as `routecore.stats` does).
fn durations(sorted: &[f32]) -> Durations {
    let n = sorted.len();
    if n == 0 {
        return Durations::default();
    }
    let quantile = |q: f64| {
        let pos = (n - 1) as f64 * q;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let frac = pos - lo as f64;
        f64::from(sorted[lo]) * (1.0 - frac) + f64::from(sorted[hi]) * frac
    };
    let mean = sorted.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    Durations {
        count: n as u64,
        mean: Some(mean),
        median: Some(quantile(0.5)),
        p90: Some(quantile(0.9)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compile::{compile, CompileInput};
    use crate::engine::doc::PlanDoc;
    use crate::engine::state::LocalState;

    const START_MS: i64 = 1_794_326_400_000; // 2026-11-11T00:00:00+08:00

    fn engine(group: &serde_json::Value) -> (Arc<Engine>, Arc<RegionTables>) {
        let doc = serde_json::json!({
            "version": 1,
            "tenants": {"t": {
                "groups": {"g": group},
                "numbers": {"4001000001": {"flow": [{"id": "all", "forward": "g"}]}},
            }},
        });
        let doc: PlanDoc = serde_json::from_value(doc).unwrap();
        let tables = Arc::new(RegionTables::default());
        let plan = compile(CompileInput {
            doc,
            list_texts: std::collections::HashMap::new(),
            cn_days: Vec::new(),
            version: "test".into(),
            tables: &tables,
        })
        .unwrap();
        (
            Arc::new(Engine::new(plan, Arc::new(LocalState::new()))),
            tables,
        )
    }

    fn group(c: usize, strategy: &str, max_calls: Option<u32>) -> serde_json::Value {
        let targets: Vec<_> = (0..c)
            .map(|k| {
                let mut t = serde_json::json!({"number": format!("1380001{k:04}")});
                if let Some(m) = max_calls {
                    t["max_calls"] = m.into();
                }
                t
            })
            .collect();
        serde_json::json!({"strategy": strategy, "targets": targets})
    }

    fn traffic(calls_per_day: f64, days: f64) -> Traffic {
        Traffic {
            calls_per_day,
            days,
            hourly_weights: vec![1.0; 24],
            numbers: vec!["4001000001".into()],
            regions: vec![(1.0, vec!["1380010".into()])],
            anonymous_share: 0.0,
            listed: Vec::new(),
            listed_share: 0.0,
        }
    }

    fn run(group_doc: &serde_json::Value, t: &Traffic, params: Params, seed: u64) -> Outcome {
        let (engine, tables) = engine(group_doc);
        let mut rng = Rng::new(seed);
        let arrivals = generate(t, &mut rng).unwrap();
        let mut sim = Sim::new(
            engine,
            tables,
            START_MS,
            t.days * DAY_SECONDS,
            arrivals,
            params,
            seed,
        )
        .unwrap();
        sim.advance(f64::INFINITY);
        assert!(sim.done());
        sim.outcome()
    }

    fn erlang_b(c: usize, load: f64) -> f64 {
        (1..=c).fold(1.0, |b, k| load * b / (k as f64 + load * b))
    }

    fn instant(hold: f64) -> Params {
        Params {
            answer_probability: 1.0,
            mean_ring_seconds: 0.0,
            mean_handling_seconds: hold,
            ..Params::default()
        }
    }

    #[test]
    fn rng_is_uniform_and_exponential_has_its_mean() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let mean_u = (0..n).map(|_| r.uniform()).sum::<f64>() / f64::from(n);
        assert!((mean_u - 0.5).abs() < 0.005, "{mean_u}");
        let mean_e = (0..n).map(|_| r.exponential(3.0)).sum::<f64>() / f64::from(n);
        assert!((mean_e - 3.0).abs() < 0.05, "{mean_e}");
        let counts = (0..n).fold([0u32; 3], |mut c, _| {
            c[r.below(3)] += 1;
            c
        });
        assert!(counts
            .iter()
            .all(|&k| (f64::from(k) - f64::from(n) / 3.0).abs() < 1000.0));
        assert_eq!(Rng::new(7).next_u64(), Rng::new(7).next_u64());
    }

    #[test]
    fn poisson_arrivals_follow_the_hourly_curve() {
        let mut t = traffic(48_000.0, 1.0);
        t.hourly_weights = (0..24).map(|h| if h == 10 { 3.0 } else { 1.0 }).collect();
        let a = generate(&t, &mut Rng::new(3)).unwrap();
        let per_unit = 48_000.0 / 26.0;
        let in_hour = |h: f64| {
            a.iter()
                .filter(|x| x.at >= h * 3600.0 && x.at < (h + 1.0) * 3600.0)
                .count() as f64
        };
        assert!((in_hour(10.0) - 3.0 * per_unit).abs() < 5.0 * (3.0 * per_unit).sqrt());
        assert!((in_hour(3.0) - per_unit).abs() < 5.0 * per_unit.sqrt());
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(a
            .iter()
            .all(|x| x.caller.len() == 11 && x.caller.starts_with("1380010")));
    }

    #[test]
    fn bad_traffic_is_refused_with_the_field_named() {
        let mut t = traffic(10.0, 1.0);
        t.hourly_weights.pop();
        assert!(generate(&t, &mut Rng::new(0))
            .unwrap_err()
            .to_string()
            .starts_with("hourly_weights"));
        let mut t = traffic(10.0, 1.0);
        t.regions[0].1[0] = "138".into();
        assert!(generate(&t, &mut Rng::new(0))
            .unwrap_err()
            .to_string()
            .starts_with("regions[0]"));
        // A typo's worth of calls is an error, not an allocation that kills the process.
        let e = generate(&traffic(1e12, 1.0), &mut Rng::new(0)).unwrap_err();
        assert!(e.to_string().contains("at most 20000000"), "{e}");
        assert!(generate(&traffic(1e6, 30.0), &mut Rng::new(0)).is_err());
        let p = Params {
            answer_probability: 1.5,
            ..Params::default()
        };
        assert!(p
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("answer_probability"));
        for (prefix, why) in [
            ("sim\n", "call_id_prefix: U+000A at position 3 is a control"),
            (
                &"x".repeat(250)[..],
                "call_id_prefix: longer than 246 characters",
            ),
        ] {
            let p = Params {
                call_id_prefix: prefix.into(),
                ..Params::default()
            };
            let e = p.check().unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn blocking_matches_erlang_b() {
        // M/M/c/c: Poisson arrivals, exponential handling, no waiting: blocked calls are lost.
        let hold = 100.0;
        for (c, load) in [(2usize, 1.0), (4, 3.0)] {
            let per_day = load / hold * DAY_SECONDS;
            let t = traffic(per_day, 40_000.0 / per_day);
            let out = run(&group(c, "sequential", None), &t, instant(hold), 9);
            let b = out.lost as f64 / out.forwarded as f64;
            let expected = erlang_b(c, load);
            let sigma = 2.0 * (expected * (1.0 - expected) / out.forwarded as f64).sqrt();
            assert!(
                (b - expected).abs() < 4.0 * sigma,
                "c={c} A={load}: {b} vs {expected}"
            );
            assert_eq!(out.forwarded, out.calls);
        }
    }

    #[test]
    fn same_seed_same_outcome() {
        let day = traffic(5_000.0, 1.0);
        let params = || Params {
            mean_patience_seconds: Some(10.0),
            ..Params::default()
        };
        let first = run(&group(3, "least_busy", None), &day, params(), 4);
        let again = run(&group(3, "least_busy", None), &day, params(), 4);
        let other = run(&group(3, "least_busy", None), &day, params(), 5);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn every_call_is_counted_once() {
        let t = traffic(20_000.0, 1.0);
        let p = Params {
            mean_patience_seconds: Some(8.0),
            answer_probability: 0.7,
            ..Params::default()
        };
        let out = run(&group(3, "round_robin", None), &t, p, 2);
        assert_eq!(out.answered + out.lost + out.abandoned, out.forwarded);
        assert!(out.abandoned > 0 && out.lost > 0 && out.overflowed > 0);
        let by_hour = |f: fn(&HourFigures) -> u64| out.by_hour.iter().map(f).sum::<u64>();
        assert_eq!(by_hour(|h| h.offered), out.calls);
        assert_eq!(by_hour(|h| h.abandoned), out.abandoned);
        assert_eq!(by_hour(|h| h.overflowed), out.overflowed);
        assert_eq!(out.by_province["(unknown)"].offered, out.calls);
        assert_eq!(out.by_tenant["t"], out.calls);
        assert_eq!(out.by_number["4001000001"], out.calls);
        assert_eq!(out.by_rule["all"], out.calls);
        let busy: f64 = out.targets.values().map(|t| t.busy_seconds).sum();
        let hourly: f64 = out.by_hour.iter().map(|h| h.busy_seconds).sum();
        assert!((busy - hourly).abs() < 1e-3 * busy, "{busy} vs {hourly}");
        // Round robin spreads the first ring evenly.
        let rung: Vec<u64> = out.targets.values().map(|t| t.rung).collect();
        assert!(rung.iter().all(|&r| r > 0));
    }

    #[test]
    fn impatient_callers_abandon_slow_targets() {
        // Targets always answer after ~30 s; callers wait ~5 s on average: most hang up.
        let t = traffic(2_000.0, 1.0);
        let p = Params {
            answer_probability: 1.0,
            mean_ring_seconds: 30.0,
            mean_patience_seconds: Some(5.0),
            ..Params::default()
        };
        let out = run(&group(50, "sequential", None), &t, p, 1);
        // P(patience < ring) = 30 / 35 for exponentials (ring capped at 20 s makes it a bit less).
        let share = out.abandoned as f64 / out.forwarded as f64;
        assert!(share > 0.7 && share < 0.9, "{share}");
    }

    #[test]
    fn caps_reported_to_the_engine_keep_calls_off_a_full_target() {
        // One target with 2 lines: the engine sees its answered calls and rejects a third with
        // no_target, so the play-out never finds it busy.
        let t = traffic(3_000.0, 1.0);
        let out = run(&group(1, "sequential", Some(2)), &t, instant(120.0), 3);
        assert_eq!(out.lost, 0);
        assert!(out.rejected["no_target"] > 0);
        assert_eq!(out.answered + out.rejected["no_target"], out.calls);
        assert_eq!(out.targets["13800010000"].peak, 2);
        assert_eq!(out.groups["t/g"].peak_concurrent, 2);
    }

    #[test]
    fn ring_all_takes_the_first_to_answer() {
        let t = traffic(500.0, 1.0);
        let out = run(&group(3, "ring_all", None), &t, Params::default(), 6);
        assert_eq!(out.answered + out.lost + out.abandoned, out.forwarded);
        let rung: u64 = out.targets.values().map(|t| t.rung).sum();
        assert!(rung > 2 * out.forwarded, "every free target rings");
    }

    #[test]
    fn durations_interpolate() {
        let d = durations(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.median, Some(2.5));
        assert!((d.p90.unwrap() - 3.7).abs() < 1e-9);
        assert_eq!(durations(&[]).mean, None);
    }
}
