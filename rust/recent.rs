//! A small, lock-free cache of recent answers of a large number list (the keys
//! last looked up, each with whether it is listed), used only while it pays.
//!
//! **Why.** A scattered list of ten million numbers keeps 40 MB of bucket lines
//! (`bucket_set`), and one lookup reads one of them: a 64-byte line for the two
//! bytes that answer it. When the same callers are asked again (a caller who
//! retries, a robocaller dialing all day, a benchmark's repeated queries), the
//! lines they read lie all over the table, so between two lookups of one number
//! the CPU's cache has taken a line for every other number asked, and the second
//! lookup waits for memory again. Here an answer takes 8 bytes, so eight times
//! as many callers fit the same cache, and a repeated lookup is answered without
//! reading the table. From Python, with the same 100,000 numbers asked round
//! after round, a listed lookup went from 142 to 53 ns (bench/README.md,
//! `lists_repeats.py sweep`).
//!
//! **When it is used.** A lookup the cache cannot answer costs one more line
//! read (28 ns from Python when every number asked is new, bench/README.md), so
//! the cache is only consulted while it answers enough lookups: 1 set in
//! `SAMPLE_EVERY` is a *sample* that every lookup of its keys uses, whatever
//! the mode, and counts hits in. Every `WINDOW` sampled lookups, the cache is
//! put in use when at least a quarter of them were hits, and out of use when
//! fewer than an eighth were. The sample sets serve only their own keys, in use
//! or not, so their hit rate is the one the whole cache has in use (the "set
//! dueling" of CPU caches). Out of use, a lookup costs a flag read, and a sampled
//! one the cache's line.
//!
//! It is not consulted by batches (`contains_many` requests the table's lines of
//! many numbers at once, and is already faster than any single lookup), nor while
//! a list has live changes pending (the overlay decides then, see `lists`).
//!
//! # Layout
//!
//! `sets` cache lines of `WAYS` slots, a key's set picked by its hash's high
//! bits. A slot holds a key, with `NOT_LISTED` set when the key is not listed,
//! or `EMPTY`. A key is put in the first empty slot of its set, or over a slot
//! its hash and the set's first slot pick when the set is full. Keys from
//! `UNCACHED_FROM` (19-digit numbers from 8112260925743664696) are never cached:
//! their top bit is the tag's, or their tagged form is `EMPTY`.
//!
//! # Concurrency
//!
//! Slots, flag and tally are atomics read and written relaxed, with no lock and
//! no read-modify-write (a locked instruction would wait for every earlier store
//! of the thread): a reader sees a slot's old or new value, never a torn one, and
//! every value ever written is a true answer of the immutable store the cache
//! belongs to (a store replaced by a compaction comes with a new, empty cache).
//! Two threads putting keys into one set may overwrite each other's, and two
//! counting at once may count one lookup: that loses a cached answer or a count,
//! never corrupts one, and a tally never passes a window's end unseen (whoever
//! reaches it resets it). Lookups thus write shared memory: a miss writes its
//! set's line, a sampled lookup the tally's. The flag read by every lookup sits
//! on a line of its own, so counting does not take it from other cores.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::bloom;

/// A slot holding no key (no key cached equals it, tagged or not).
const EMPTY: u64 = u64::MAX;
/// Set in a slot whose key is not listed.
const NOT_LISTED: u64 = 1 << 63;
/// The least key not cached (2^63 − 1: tagged, it would read as [`EMPTY`]).
const UNCACHED_FROM: u64 = NOT_LISTED - 1;
/// Slots in a set: one cache line of them.
const WAYS: usize = 8;
/// One set in this many is a sample set: few enough that counting costs nearly
/// nothing (measured: 1 in 16 with a locked add cost 4 ns a lookup when every
/// number asked was new), enough that a window fills within ~32,000 lookups.
const SAMPLE_EVERY: usize = 32;
/// Sampled lookups between two decisions to use the cache or not.
const WINDOW: u64 = 1024;
/// In use from this share of sampled hits (a quarter)...
const START_AT: u64 = WINDOW / 4;
/// ...and out of use below this one (an eighth), so that a hit rate near one
/// threshold does not switch it at every window.
const STOP_BELOW: u64 = WINDOW / 8;
/// One hit in the tally, above its count of lookups.
const ONE_HIT: u64 = 1 << 32;

/// One set: a cache line of slots.
#[repr(align(64))]
#[derive(Debug)]
struct Set([AtomicU64; WAYS]);

impl Set {
    fn new() -> Set {
        Set(std::array::from_fn(|_| AtomicU64::new(EMPTY)))
    }

    /// The answer this set holds for `key` (below 2^63), if any.
    #[inline]
    fn get(&self, key: u64) -> Option<bool> {
        let (mut listed, mut not_listed) = (false, false);
        for slot in &self.0 {
            let value = slot.load(Relaxed);
            listed |= value == key;
            not_listed |= value == key | NOT_LISTED;
        }
        if listed {
            Some(true)
        } else if not_listed {
            Some(false)
        } else {
            None
        }
    }

    /// Keeps `listed` as the answer for `key` (below 2^63, of hash `hash`).
    #[inline]
    fn put(&self, key: u64, hash: u64, listed: bool) {
        let value = if listed { key } else { key | NOT_LISTED };
        let empty = self.0.iter().position(|slot| slot.load(Relaxed) == EMPTY);
        // A full set: the victim varies with what the set holds, so keys of one
        // set that keep coming back do not keep evicting each other from one slot.
        let way = empty.unwrap_or_else(|| ((hash >> 32) ^ self.0[0].load(Relaxed)) as usize % WAYS);
        self.0[way].store(value, Relaxed);
    }
}

/// A flag or counter alone on its cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Line<T>(T);

/// Recent answers of one immutable store; see the module docs.
#[derive(Debug)]
pub struct RecentAnswers {
    sets: Box<[Set]>,
    /// Sets below this index are the sample.
    sampled_sets: usize,
    /// Whether lookups outside the sample use the cache.
    in_use: Line<AtomicBool>,
    /// Sampled lookups since the last decision (low 32 bits) and their hits ([`ONE_HIT`]s).
    tally: Line<AtomicU64>,
}

impl RecentAnswers {
    /// A cache of `sets` lines (8 answers each), empty and out of use. O(sets).
    pub fn new(sets: usize) -> RecentAnswers {
        let sets: Box<[Set]> = (0..sets.max(1)).map(|_| Set::new()).collect();
        RecentAnswers {
            sampled_sets: sets.len().div_ceil(SAMPLE_EVERY),
            sets,
            in_use: Line::default(),
            tally: Line::default(),
        }
    }

    /// Whether `key` is listed: the cached answer when there is one and the
    /// cache is consulted for this key, else `look_up()` (whose answer is then
    /// cached). `hash` is the key's [`bloom::hash`]. O(1): at most one line
    /// besides what `look_up` reads.
    #[inline]
    pub fn answer(&self, key: u64, hash: u64, look_up: impl FnOnce() -> bool) -> bool {
        if key >= UNCACHED_FROM {
            return look_up();
        }
        let index = bloom::reduce(hash, self.sets.len());
        let sampled = index < self.sampled_sets;
        if !sampled && !self.in_use.0.load(Relaxed) {
            return look_up();
        }
        let set = &self.sets[index];
        let cached = set.get(key);
        if sampled {
            self.count(cached.is_some());
        }
        cached.unwrap_or_else(|| {
            let listed = look_up();
            set.put(key, hash, listed);
            listed
        })
    }

    /// Counts one sampled lookup, and decides at the end of a window.
    fn count(&self, hit: bool) {
        // A load and a store, not an atomic add: see "Concurrency".
        let tally = self.tally.0.load(Relaxed) + 1 + u64::from(hit) * ONE_HIT;
        if tally % ONE_HIT < WINDOW {
            self.tally.0.store(tally, Relaxed);
            return;
        }
        self.tally.0.store(0, Relaxed);
        let hits = tally / ONE_HIT;
        let in_use = self.in_use.0.load(Relaxed);
        let wanted = if in_use {
            hits >= STOP_BELOW
        } else {
            hits >= START_AT
        };
        if wanted != in_use {
            self.in_use.0.store(wanted, Relaxed);
        }
    }

    /// Whether lookups outside the sample use the cache.
    pub fn in_use(&self) -> bool {
        self.in_use.0.load(Relaxed)
    }

    /// Bytes of the answers, apart from the struct itself. O(1).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    /// The truth the tests' lists hold: every third key.
    fn listed(key: u64) -> bool {
        key % 3 == 0
    }

    /// Answers `key` through `recent`, and whether the store was read.
    fn ask(recent: &RecentAnswers, key: u64) -> (bool, bool) {
        let read = Cell::new(false);
        let answer = recent.answer(key, bloom::hash(key), || {
            read.set(true);
            listed(key)
        });
        (answer, read.get())
    }

    /// A key of the sample of `recent` and one outside it.
    fn sampled_and_not(recent: &RecentAnswers) -> (u64, u64) {
        let sampled =
            |key: &u64| bloom::reduce(bloom::hash(*key), recent.sets.len()) < recent.sampled_sets;
        let inside = (0..u64::MAX).find(sampled).unwrap();
        let outside = (0..u64::MAX).find(|k| !sampled(k)).unwrap();
        (inside, outside)
    }

    #[test]
    fn a_sampled_key_is_answered_from_the_cache_the_second_time() {
        let recent = RecentAnswers::new(64);
        assert!(!recent.in_use());
        let (inside, outside) = sampled_and_not(&recent);
        assert_eq!(ask(&recent, inside), (listed(inside), true));
        assert_eq!(ask(&recent, inside), (listed(inside), false));
        // Out of use, a key outside the sample always reads the store.
        assert_eq!(ask(&recent, outside), (listed(outside), true));
        assert_eq!(ask(&recent, outside), (listed(outside), true));
    }

    #[test]
    fn repeated_lookups_put_it_in_use_and_new_ones_take_it_out() {
        let recent = RecentAnswers::new(1024);
        // 2,000 keys asked over and over: nearly every sampled lookup hits.
        for _ in 0..40 {
            for key in 0..2_000 {
                ask(&recent, key);
            }
        }
        assert!(recent.in_use());
        let (_, outside) = sampled_and_not(&recent);
        ask(&recent, outside);
        assert_eq!(ask(&recent, outside), (listed(outside), false));
        // Then every key new: the sample misses, and the cache goes out of use.
        for key in 1_000_000..1_400_000 {
            assert_eq!(ask(&recent, key).0, listed(key));
        }
        assert!(!recent.in_use());
        // Its answers stay true and are used again once lookups repeat.
        for _ in 0..40 {
            for key in 0..2_000 {
                assert_eq!(ask(&recent, key).0, listed(key));
            }
        }
        assert!(recent.in_use());
    }

    #[test]
    fn a_hit_rate_between_the_thresholds_keeps_the_mode() {
        // A fifth of the sampled lookups hit: under a quarter, not under an eighth.
        let mut recent = RecentAnswers::new(1024);
        let windows = |recent: &RecentAnswers| {
            for _ in 0..4 * WINDOW {
                recent.count(false);
                recent.count(false);
                recent.count(false);
                recent.count(false);
                recent.count(true);
            }
        };
        windows(&recent);
        assert!(!recent.in_use());
        recent.in_use = Line(AtomicBool::new(true));
        windows(&recent);
        assert!(recent.in_use());
    }

    #[test]
    fn keys_from_two_to_the_63_less_one_are_never_cached() {
        // One set, the sample: every key uses it.
        let recent = RecentAnswers::new(1);
        for key in [UNCACHED_FROM, NOT_LISTED | 6, u64::MAX - 1, u64::MAX] {
            let read = |key: u64| {
                let read = Cell::new(false);
                // Listed whatever `listed` says: 2^63 - 1 tagged "not listed" is EMPTY.
                let answer = recent.answer(key, bloom::hash(key), || {
                    read.set(true);
                    true
                });
                (answer, read.get())
            };
            assert_eq!(read(key), (true, true), "{key}");
            assert_eq!(read(key), (true, true), "{key}");
        }
        // Nor is a tagged key mistaken for key 6 not listed.
        assert_eq!(ask(&recent, 6), (true, true));
        // The last key cached.
        assert_eq!(
            ask(&recent, UNCACHED_FROM - 1),
            (listed(UNCACHED_FROM - 1), true)
        );
        assert_eq!(
            ask(&recent, UNCACHED_FROM - 1),
            (listed(UNCACHED_FROM - 1), false)
        );
    }

    #[test]
    fn a_full_set_keeps_eight_answers_and_each_is_true() {
        // One set, the sample: every key lands in it and uses it.
        let recent = RecentAnswers::new(1);
        for key in 0..1_000u64 {
            ask(&recent, key);
        }
        let cached: Vec<(u64, bool)> = (0..1_000u64)
            .filter_map(|key| recent.sets[0].get(key).map(|answer| (key, answer)))
            .collect();
        assert_eq!(cached.len(), WAYS);
        assert!(cached.iter().all(|&(key, answer)| answer == listed(key)));
        // The last one put is among them.
        assert!(cached.iter().any(|&(key, _)| key == 999));
    }

    #[test]
    fn one_line_a_set() {
        assert_eq!(std::mem::size_of::<Set>(), 64);
        assert_eq!(std::mem::align_of::<Line<AtomicU64>>(), 64);
        assert_eq!(RecentAnswers::new(1024).memory_bytes(), 64 * 1024);
    }

    #[test]
    fn answers_stay_true_across_threads() {
        let recent = RecentAnswers::new(16);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let recent = &recent;
                s.spawn(move || {
                    for round in 0..50u64 {
                        for key in 0..500u64 {
                            let key = (key * 7 + t + round) % 700;
                            assert_eq!(ask(recent, key).0, listed(key));
                        }
                    }
                });
            }
        });
    }

    proptest! {
        #[test]
        fn every_answer_is_the_stores(
            sets in 1usize..40,
            keys in proptest::collection::vec(0u64..2_000, 0..3_000),
        ) {
            let recent = RecentAnswers::new(sets);
            for key in keys {
                prop_assert_eq!(ask(&recent, key).0, listed(key));
            }
        }
    }
}
