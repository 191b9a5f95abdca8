//! Decision state behind one narrow interface: round-robin positions, weighted-selection
//! credits, least-busy history, slot leases and per-caller windows.
//!
//! Everything is driven by the request's and the event's time, never the wall clock, so a
//! replay or a simulation is deterministic. [`LocalState`] is the in-process implementation;
//! a shared one (Redis) implements the same trait, which is why every method is a single
//! atomic step keyed by plain strings (names survive plan reloads).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::decide::Decision;

/// Default lease of an answered call when the routing group is unknown: 4 hours.
pub const DEFAULT_LEASE_MS: i64 = 4 * 3600 * 1000;

/// How far time may go back and still be taken for a wall-clock step (the state keeps what
/// happened "later"); further back, the times are another timeline (a replay out of order) and
/// the spec's windows apply as written.
pub const CLOCK_STEP_MS: i64 = 3600 * 1000;

/// `at` lies after `now` by at most [`CLOCK_STEP_MS`]: time went back by a clock step.
fn stepped_back(at: i64, now: i64) -> bool {
    at > now && at - now <= CLOCK_STEP_MS
}

pub trait StateStore: Send + Sync {
    /// Round robin: the group's position, advanced by one.
    fn next_rotation(&self, group: &str) -> u64;
    /// Smooth weighted round robin over `members` (name, weight > 0): returns the index of the
    /// member placed first and updates the credits in one step.
    fn weighted_first(&self, group: &str, members: &[(&str, u32)]) -> usize;
    /// Answered calls of `target` whose lease holds at `now_ms`. A lease answered up to
    /// [`CLOCK_STEP_MS`] after `now_ms` (the clock went back) holds too: the call is up.
    fn active_calls(&self, target: &str, now_ms: i64) -> u32;
    /// `active_calls` of several targets, in order: one step (one round trip for a shared store).
    fn active_calls_many(&self, targets: &[&str], now_ms: i64) -> Vec<u32> {
        targets
            .iter()
            .map(|t| self.active_calls(t, now_ms))
            .collect()
    }
    /// Least busy: `(time, sequence)` of the last decision that placed `target` first in `group`.
    fn last_placed_first(&self, group: &str, target: &str) -> Option<(i64, u64)>;
    /// `last_placed_first` of several targets of `group`, in order (one round trip when shared).
    fn last_placed_first_many(&self, group: &str, targets: &[&str]) -> Vec<Option<(i64, u64)>> {
        targets
            .iter()
            .map(|t| self.last_placed_first(group, t))
            .collect()
    }
    /// Least busy: the active calls and `last_placed_first` of each of `targets` of `group`, in
    /// order, in one step (one round trip when shared).
    fn least_busy_view(
        &self,
        group: &str,
        targets: &[&str],
        now_ms: i64,
    ) -> Vec<(u32, Option<(i64, u64)>)> {
        self.active_calls_many(targets, now_ms)
            .into_iter()
            .zip(self.last_placed_first_many(group, targets))
            .collect()
    }
    /// Records that the current decision placed `target` first in `group`.
    fn mark_placed_first(&self, group: &str, target: &str, now_ms: i64);
    /// Per-caller limit: the [`Admission`] counted when fewer than `limit` calls were admitted
    /// for `key` in `(now - window, now]`; `None` (nothing counted) otherwise. In process, calls
    /// admitted up to [`CLOCK_STEP_MS`] after `now` (the clock went back) count as admitted at
    /// `now`; on Redis they count only once `now` reaches them again (docs/decisions.md).
    fn admit_caller(&self, key: &str, now_ms: i64, window_ms: i64, limit: u32)
        -> Option<Admission>;
    /// Takes back the call `admission` counted for `key`: the decision rejected it, and a
    /// rejected attempt does not count. Nothing when it is gone already (swept, expired).
    fn withdraw_caller(&self, key: &str, admission: &Admission);
    /// Remembers the lease length that applies to `call_id` (from the group that routed it).
    fn remember_call(&self, call_id: &str, lease_ms: i64, now_ms: i64);
    /// `ANSWERED`: takes a slot of `target` for `call_id`. Idempotent.
    fn answered(&self, call_id: &str, target: &str, now_ms: i64);
    /// `ENDED`: frees the slot of `target` held by `call_id`. Idempotent.
    fn ended(&self, call_id: &str, target: &str, now_ms: i64);
    /// `ENDED` without a target (the switch did not say who answered, or nobody did): frees
    /// every slot `call_id` holds, whichever node routed it. Idempotent.
    fn ended_call(&self, call_id: &str, now_ms: i64);
    /// Keeps a forwarded call's decision so that its call events can become a full record
    /// (tenant, caller, rule, rates). Bounded; the default keeps nothing.
    fn remember_decision(&self, _decision: &Decision) {}
    /// The decision kept for `call_id`, if any.
    fn recall_decision(&self, _call_id: &str) -> Option<Arc<Decision>> {
        None
    }
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    answered_ms: i64,
    expires_ms: i64,
}

#[derive(Default)]
struct Slots {
    /// (call id, target) → lease.
    leases: FxHashMap<(String, String), Lease>,
    /// target → number of leases (some may have expired; `active_calls` checks).
    by_target: FxHashMap<String, Vec<(String, Lease)>>,
    /// (call id, target) pairs that ended, with the time they ended, so a late ANSWERED is ignored.
    ended: FxHashMap<(String, String), i64>,
    /// call id → (lease length, time remembered).
    calls: FxHashMap<String, (i64, i64)>,
    /// call id → the targets it holds leases of (for an `ENDED` without a target).
    held: FxHashMap<String, Vec<String>>,
    latest_ms: i64,
    sweep_leases: Sweep,
    sweep_ended: Sweep,
    sweep_calls: Sweep,
}

/// When a map is next swept of stale entries: past [`SWEEP_AT`] entries, then at twice what the
/// last sweep kept. A sweep is O(size), so sweeping at every insertion once a map holds more
/// live entries than `SWEEP_AT` (a busy day holds hours of calls) would make each call O(size);
/// doubling keeps it amortised O(1).
#[derive(Default)]
struct Sweep {
    next_at: usize,
}

impl Sweep {
    fn due(&self, len: usize) -> bool {
        len > self.next_at.max(SWEEP_AT)
    }

    fn swept(&mut self, kept: usize) {
        self.next_at = (2 * kept).max(SWEEP_AT);
    }
}

/// One call counted by the per-caller limit, as [`StateStore::admit_caller`] recorded it, so that
/// [`StateStore::withdraw_caller`] takes back exactly that entry (a clock step may have moved its
/// time since; another call of the caller may share its millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted in process: the entry's sequence number.
    Local(u64),
    /// Counted on Redis: the member of the caller's sorted set.
    Shared(String),
}

/// The target under which an `ENDED` without a target marks its whole call ended (no slot key
/// is `*`: slot keys are numbers or URIs).
pub(crate) const ENDED_CALL: &str = "*";

/// When a target was last placed first: (time, decision sequence number).
type Placed = (i64, u64);

/// The in-process state store (the embedded default).
#[derive(Default)]
pub struct LocalState {
    rotations: Mutex<FxHashMap<String, u64>>,
    credits: Mutex<FxHashMap<String, FxHashMap<String, i64>>>,
    placed_first: Mutex<FxHashMap<String, FxHashMap<String, Placed>>>,
    sequence: AtomicU64,
    callers: Mutex<Callers>,
    slots: Mutex<Slots>,
    decisions: Mutex<RecentDecisions>,
}

/// Per-caller admitted calls, for the per-caller limit.
#[derive(Default)]
struct Callers {
    /// key (tenant and caller) → its admitted calls.
    by_key: FxHashMap<String, CallerWindow>,
    sweep: Sweep,
    /// The sequence number of the next admitted call ([`Admission::Local`]).
    next: u64,
}

/// One caller's admitted calls: (time, sequence number), oldest first, and the window they were
/// last counted in: a sweep keeps the caller while its last call may still fall in that window
/// (a plan may set a day), and no longer (another tenant's longer window does not keep it).
#[derive(Default)]
struct CallerWindow {
    calls: VecDeque<(i64, u64)>,
    window_ms: i64,
}

/// The most recent forwarded decisions by call id, oldest evicted first.
#[derive(Default)]
struct RecentDecisions {
    by_call: FxHashMap<String, Arc<Decision>>,
    order: VecDeque<String>,
}

/// How many forwarded calls' decisions are kept for their records (about an hour of a busy platform).
const RECENT_DECISIONS: usize = 200_000;

/// Bounds memory: maps are swept of stale entries when they grow past this.
const SWEEP_AT: usize = 100_000;

impl LocalState {
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a lock must not take routing down with it: the data is plain counters.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl StateStore for LocalState {
    fn remember_decision(&self, decision: &Decision) {
        let mut kept = decision.clone();
        kept.trace = Vec::new();
        let mut recent = lock(&self.decisions);
        if recent
            .by_call
            .insert(kept.call_id.clone(), Arc::new(kept))
            .is_none()
        {
            recent.order.push_back(decision.call_id.clone());
        }
        while recent.order.len() > RECENT_DECISIONS {
            if let Some(old) = recent.order.pop_front() {
                recent.by_call.remove(&old);
            }
        }
    }

    fn recall_decision(&self, call_id: &str) -> Option<Arc<Decision>> {
        lock(&self.decisions).by_call.get(call_id).cloned()
    }

    fn next_rotation(&self, group: &str) -> u64 {
        let mut map = lock(&self.rotations);
        // Look up by `&str` first: the key is allocated once per group, not per decision.
        if let Some(counter) = map.get_mut(group) {
            let current = *counter;
            *counter = counter.wrapping_add(1);
            return current;
        }
        map.insert(group.to_string(), 1);
        0
    }

    fn weighted_first(&self, group: &str, members: &[(&str, u32)]) -> usize {
        let mut map = lock(&self.credits);
        if !map.contains_key(group) {
            map.insert(group.to_string(), FxHashMap::default());
        }
        let credits = map.get_mut(group).expect("inserted above");
        let total: i64 = members.iter().map(|&(_, w)| i64::from(w)).sum();
        let mut best = 0usize;
        let mut best_credit = i64::MIN;
        for (i, &(name, weight)) in members.iter().enumerate() {
            if !credits.contains_key(name) {
                credits.insert(name.to_string(), 0);
            }
            let credit = credits.get_mut(name).expect("inserted above");
            *credit += i64::from(weight);
            if *credit > best_credit {
                best_credit = *credit;
                best = i;
            }
        }
        if let Some(c) = credits.get_mut(members[best].0) {
            *c -= total;
        }
        best
    }

    fn active_calls(&self, target: &str, now_ms: i64) -> u32 {
        let slots = lock(&self.slots);
        slots.by_target.get(target).map_or(0, |leases| {
            leases
                .iter()
                // A call answered "later" by a clock step back is still up, so its slot is taken
                // (docs/decisions.md, "Clock steps").
                .filter(|(_, l)| {
                    (l.answered_ms <= now_ms && now_ms < l.expires_ms)
                        || stepped_back(l.answered_ms, now_ms)
                })
                .count() as u32
        })
    }

    fn last_placed_first(&self, group: &str, target: &str) -> Option<(i64, u64)> {
        lock(&self.placed_first)
            .get(group)
            .and_then(|g| g.get(target))
            .copied()
    }

    fn mark_placed_first(&self, group: &str, target: &str, now_ms: i64) {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut map = lock(&self.placed_first);
        if !map.contains_key(group) {
            map.insert(group.to_string(), FxHashMap::default());
        }
        let group = map.get_mut(group).expect("inserted above");
        match group.get_mut(target) {
            Some(placed) => *placed = (now_ms, seq),
            None => {
                group.insert(target.to_string(), (now_ms, seq));
            }
        }
    }

    fn admit_caller(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        limit: u32,
    ) -> Option<Admission> {
        let mut guard = lock(&self.callers);
        let Callers {
            by_key,
            sweep,
            next,
        } = &mut *guard;
        if sweep.due(by_key.len()) {
            // A caller whose last admitted call is older than its window holds nothing.
            by_key.retain(|_, w| {
                w.calls
                    .back()
                    .is_some_and(|&(t, _)| t > now_ms.saturating_sub(w.window_ms))
            });
            sweep.swept(by_key.len());
        }
        if !by_key.contains_key(key) {
            by_key.insert(key.to_string(), CallerWindow::default());
        }
        let caller = by_key.get_mut(key).expect("inserted above");
        caller.window_ms = window_ms;
        let calls = &mut caller.calls;
        // Time went backwards (a wall-clock step): calls admitted "later" are moved back to now,
        // so they keep counting for one window from the step instead of opening a hole in the
        // limit (or blocking the caller for the whole step). Never true when time only advances.
        for (t, _) in calls.iter_mut() {
            if stepped_back(*t, now_ms) {
                *t = now_ms;
            }
        }
        let in_window = calls
            .iter()
            .filter(|&&(t, _)| t > now_ms - window_ms && t <= now_ms)
            .count();
        if in_window >= limit as usize {
            return None;
        }
        // Keep the deque short: entries that can no longer fall in any window of this length.
        while calls.front().is_some_and(|&(t, _)| t <= now_ms - window_ms) {
            calls.pop_front();
        }
        let sequence = *next;
        *next += 1;
        calls.push_back((now_ms, sequence));
        Some(Admission::Local(sequence))
    }

    fn withdraw_caller(&self, key: &str, admission: &Admission) {
        let Admission::Local(sequence) = *admission else {
            return; // counted on Redis: only that store can take it back
        };
        let mut guard = lock(&self.callers);
        if let Some(caller) = guard.by_key.get_mut(key) {
            caller.calls.retain(|&(_, n)| n != sequence);
        }
    }

    fn remember_call(&self, call_id: &str, lease_ms: i64, now_ms: i64) {
        if call_id.is_empty() {
            return;
        }
        let mut slots = lock(&self.slots);
        slots.latest_ms = slots.latest_ms.max(now_ms);
        if slots.sweep_calls.due(slots.calls.len()) {
            let horizon = slots.latest_ms - DEFAULT_LEASE_MS.max(lease_ms) * 2;
            slots.calls.retain(|_, &mut (_, at)| at > horizon);
            let kept = slots.calls.len();
            slots.sweep_calls.swept(kept);
        }
        slots.calls.insert(call_id.to_string(), (lease_ms, now_ms));
    }

    fn answered(&self, call_id: &str, target: &str, now_ms: i64) {
        let mut slots = lock(&self.slots);
        slots.latest_ms = slots.latest_ms.max(now_ms);
        let key = (call_id.to_string(), target.to_string());
        let whole_call = (call_id.to_string(), ENDED_CALL.to_string());
        if slots.leases.contains_key(&key)
            || slots.ended.contains_key(&key)
            || slots.ended.contains_key(&whole_call)
        {
            return;
        }
        let lease_ms = slots
            .calls
            .get(call_id)
            .map_or(DEFAULT_LEASE_MS, |&(l, _)| l);
        let lease = Lease {
            answered_ms: now_ms,
            expires_ms: now_ms.saturating_add(lease_ms),
        };
        slots.leases.insert(key, lease);
        let latest = slots.latest_ms;
        let list = slots.by_target.entry(target.to_string()).or_default();
        list.retain(|(_, l)| l.expires_ms > latest);
        list.push((call_id.to_string(), lease));
        let held = slots.held.entry(call_id.to_string()).or_default();
        held.push(target.to_string());
        if slots.sweep_leases.due(slots.leases.len()) {
            let Slots { leases, held, .. } = &mut *slots;
            leases.retain(|_, l| l.expires_ms > latest);
            held.retain(|call, targets| {
                targets.retain(|t| leases.contains_key(&(call.clone(), t.clone())));
                !targets.is_empty()
            });
            let kept = slots.leases.len();
            slots.sweep_leases.swept(kept);
        }
    }

    fn ended_call(&self, call_id: &str, now_ms: i64) {
        let targets = lock(&self.slots).held.remove(call_id).unwrap_or_default();
        for target in targets {
            self.ended(call_id, &target, now_ms);
        }
        // The whole call ended: an ANSWERED that arrives after (reordered, or the switch's
        // two paths racing) takes no slot, whichever target it names.
        self.ended(call_id, ENDED_CALL, now_ms);
    }

    fn ended(&self, call_id: &str, target: &str, now_ms: i64) {
        let mut slots = lock(&self.slots);
        slots.latest_ms = slots.latest_ms.max(now_ms);
        let key = (call_id.to_string(), target.to_string());
        if slots.leases.remove(&key).is_some() {
            if let Some(list) = slots.by_target.get_mut(target) {
                list.retain(|(c, _)| c != call_id);
            }
            if let Some(held) = slots.held.get_mut(call_id) {
                held.retain(|t| t != target);
                if held.is_empty() {
                    slots.held.remove(call_id);
                }
            }
        }
        if slots.sweep_ended.due(slots.ended.len()) {
            let horizon = slots.latest_ms - DEFAULT_LEASE_MS * 2;
            slots.ended.retain(|_, &mut at| at > horizon);
            let kept = slots.ended.len();
            slots.sweep_ended.swept(kept);
        }
        slots.ended.insert(key, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_weighted_round_robin() {
        let s = LocalState::new();
        let members = [("a", 3), ("b", 1)];
        let firsts: Vec<usize> = (0..8).map(|_| s.weighted_first("g", &members)).collect();
        assert_eq!(firsts, [0, 0, 1, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn leases_expire_and_free() {
        let s = LocalState::new();
        s.remember_call("c1", 1000, 0);
        s.answered("c1", "t", 0);
        s.answered("c1", "t", 0);
        assert_eq!(s.active_calls("t", 500), 1);
        assert_eq!(s.active_calls("t", 1000), 0, "the lease expired");
        s.answered("c2", "t", 2000);
        assert_eq!(s.active_calls("t", 2005), 1);
        s.ended("c2", "t", 2010);
        s.ended("c2", "t", 2010);
        assert_eq!(s.active_calls("t", 2020), 0);
        s.answered("c2", "t", 2030);
        assert_eq!(
            s.active_calls("t", 2040),
            0,
            "a late ANSWERED after ENDED is ignored"
        );
        s.ended("c3", "t", 2050);
        s.answered("c3", "t", 2060);
        assert_eq!(s.active_calls("t", 2070), 0, "ENDED before ANSWERED");
    }

    #[test]
    fn sweeps_are_amortised() {
        // Far more live entries than SWEEP_AT: a sweep keeps them all, so the next one waits
        // until the map doubles instead of running at every insertion.
        let mut sweep = Sweep::default();
        assert!(!sweep.due(SWEEP_AT));
        assert!(sweep.due(SWEEP_AT + 1));
        sweep.swept(3 * SWEEP_AT);
        assert!(!sweep.due(3 * SWEEP_AT + 1));
        assert!(sweep.due(6 * SWEEP_AT + 1));
        sweep.swept(0);
        assert!(sweep.due(SWEEP_AT + 1));
    }

    #[test]
    fn caller_window() {
        let s = LocalState::new();
        assert!(s.admit_caller("k", 0, 60_000, 2).is_some());
        assert!(s.admit_caller("k", 10_000, 60_000, 2).is_some());
        assert!(s.admit_caller("k", 20_000, 60_000, 2).is_none());
        assert!(s.admit_caller("k", 59_999, 60_000, 2).is_none());
        assert!(s.admit_caller("k", 60_000, 60_000, 2).is_some());
    }

    #[test]
    fn a_withdrawn_call_does_not_count() {
        let s = LocalState::new();
        let first = s.admit_caller("k", 0, 60_000, 1).expect("admitted");
        s.withdraw_caller("k", &first);
        let second = s.admit_caller("k", 10_000, 60_000, 1);
        assert!(second.is_some(), "the withdrawn call left room");
        assert!(s.admit_caller("k", 20_000, 60_000, 1).is_none());
        s.withdraw_caller("k", &first); // gone already: nothing changes
        s.withdraw_caller("other", &first);
        s.withdraw_caller("k", &Admission::Shared("x".into())); // not this store's
        assert!(s.admit_caller("k", 30_000, 60_000, 1).is_none());
    }

    #[test]
    fn a_withdraw_takes_back_its_own_call_after_a_clock_step() {
        // Two calls of one caller: the first (to be rejected) at 10:00:00, then the clock steps
        // back and the second, at 09:59:00, moves the first back to 09:59:00 as well. The
        // withdraw still finds the first, and only it.
        let s = LocalState::new();
        let first = s.admit_caller("k", 600_000, 60_000, 2).expect("admitted");
        assert!(s.admit_caller("k", 540_000, 60_000, 2).is_some());
        s.withdraw_caller("k", &first);
        assert!(
            s.admit_caller("k", 540_001, 60_000, 2).is_some(),
            "one call left in the window"
        );
        assert!(s.admit_caller("k", 540_002, 60_000, 2).is_none());
    }

    #[test]
    fn a_sweep_keeps_callers_inside_their_own_window() {
        // A day's window: the sweep that runs once the map passes SWEEP_AT callers must not
        // forget a caller admitted two hours before; callers of a minute's window are swept.
        let s = LocalState::new();
        let day = 86_400_000;
        assert!(s.admit_caller("k", 0, day, 1).is_some());
        for i in 0..SWEEP_AT {
            assert!(s.admit_caller(&format!("early{i}"), 0, 60_000, 1).is_some());
        }
        assert!(s.admit_caller("late", 7_200_000, 60_000, 1).is_some());
        assert_eq!(
            lock(&s.callers).by_key.len(),
            2,
            "the minute-window callers were swept"
        );
        assert!(s.admit_caller("k", 7_200_001, day, 1).is_none());
        assert!(
            s.admit_caller("k", day, day, 1).is_some(),
            "the window still ends"
        );
    }

    #[test]
    fn caller_window_when_time_goes_back() {
        let s = LocalState::new();
        let admit = |t: i64| s.admit_caller("k", t, 60_000, 2).is_some();
        assert!(admit(3_600_000));
        assert!(admit(3_600_010));
        // The clock steps back an hour: the two calls still count, for one window from the step.
        assert!(!admit(1_000));
        assert!(!admit(60_999));
        assert!(admit(61_000));
        // The clock steps forward a day: the window is empty.
        assert!(admit(86_400_000));
        assert!(admit(86_400_001));
        // Further back than a clock step: another timeline (a replay), the window as written.
        assert!(admit(86_400_000 - 2 * CLOCK_STEP_MS));
    }

    #[test]
    fn ended_without_a_target_frees_what_the_call_holds() {
        let s = LocalState::new();
        s.answered("c1", "a", 1_000);
        s.answered("c1", "b", 1_000);
        s.answered("c2", "a", 1_000);
        s.ended_call("c1", 2_000);
        assert_eq!(
            (s.active_calls("a", 2_001), s.active_calls("b", 2_001)),
            (1, 0)
        );
        // Ended: a late ANSWERED of the call is ignored; again is a no-op; another call stays.
        s.answered("c1", "a", 2_500);
        s.ended_call("c1", 3_000);
        s.ended_call("never-routed", 3_000);
        assert_eq!(s.active_calls("a", 3_001), 1);
        s.ended("c2", "a", 3_500);
        s.ended_call("c2", 3_600);
        assert_eq!(s.active_calls("a", 3_601), 0);
        assert!(lock(&s.slots).held.is_empty());
        // ENDED without a target before its ANSWERED (reordered): the late ANSWERED takes nothing.
        s.ended_call("c3", 4_000);
        s.answered("c3", "a", 4_001);
        assert_eq!(s.active_calls("a", 4_002), 0);
    }

    #[test]
    fn leases_hold_when_time_goes_back() {
        let s = LocalState::new();
        s.remember_call("c1", 600_000, 3_600_000);
        s.answered("c1", "t", 3_600_000);
        assert_eq!(s.active_calls("t", 3_600_500), 1);
        assert_eq!(
            s.active_calls("t", 1_000),
            1,
            "a step back does not free the slot"
        );
        assert_eq!(
            s.active_calls("t", 3_600_000 - CLOCK_STEP_MS - 1),
            0,
            "further back than a clock step: a replay, the lease as written"
        );
        s.ended("c1", "t", 1_500);
        assert_eq!(
            s.active_calls("t", 2_000),
            0,
            "ENDED frees it whatever the clock"
        );
        s.remember_call("c2", 600_000, 3_600_000);
        s.answered("c2", "t", 3_600_000);
        assert_eq!(
            s.active_calls("t", 3_600_000 + 600_000),
            0,
            "a step forward past the lease frees it (the lost-ENDED safety net)"
        );
    }
}
