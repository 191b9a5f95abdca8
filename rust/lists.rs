//! Named number lists (`plan-format.md`: `lists`, list files): sets of normalised
//! numbers that may hold millions of entries, with live adds and removes.
//!
//! # Layout
//!
//! A list keeps each number as its [`Digits::key`] (a `u64`, bijective for up to 19
//! digits) in three parts:
//!
//! - the **base**: every key of the bulk load, with the blocked Bloom filter that
//!   answers "not listed" for them (one cache line) and the exact store that
//!   confirms every "maybe" (but for keys in dense runs, whose bitmap answers
//!   alone, below). It takes one of two forms (`Store`):
//!   - a *table*, for scattered numbers (the usual block list): a [`BucketSet`]
//!     whose buckets are one line each, the bucket's filter word and its keys'
//!     remainders: about 4 bytes a number at millions of mobile numbers (16-bit
//!     remainders), up to about 8.5 for fewer numbers spread as wide (32-bit).
//!     The word lets about 1 in 6 other keys pass (1 in 28 at 32 bits), whatever
//!     rate the list asked for, and the same line confirms them; the asked rate
//!     sizes the split form's filter and the live one. A table of at least 8 MiB
//!     also keeps its recent answers ([`RecentAnswers`]): up to 2 MiB of 8-byte
//!     slots, each a key looked up with its answer;
//!   - *split*, for lists with dense runs of numbers (whole blocks, number pools)
//!     or keys too spread for a table: an [`ExactSet`] (bitmaps for the dense
//!     runs, a plain [`BucketSet`] or Elias–Fano form for the rest) and a
//!     [`FrozenBloom`] apart for the keys outside dense runs. In a dense run the
//!     bitmap is the filter: its one hash, the key's place in the run, never
//!     collides, so one bit answers "not listed" and "listed" alike, and a filter
//!     in front could only add a line. About 0.9 bytes a number in dense runs;
//! - a small [`BlockedBloom`] for keys added live since the bulk load;
//! - an **overlay** for live changes: keys added since the bulk load, keys of the
//!   base removed since, and the rare numbers with no key (20 to 22 digits), behind a
//!   `RwLock`.
//!
//! Every "maybe" of a filter is confirmed exactly, so a false positive never
//! reaches a decision: a caller is listed only if its key is in the base and not
//! removed, or added. Memory at ten million numbers is within the budget of 12
//! bytes a number (a Python `set` of ints takes about 60): about 4 scattered,
//! about 0.9 dense (bench/README.md).
//!
//! # Speed
//!
//! At millions of numbers every lookup is a wait for memory, so the layout is
//! chosen for misses (measured at 10 million numbers from Python,
//! `bench/lists_alternating.py`):
//!
//! - **One place per lookup.** A lookup of a scattered number reads one line,
//!   filter word and remainders. Before, the exact store was in Elias–Fano form
//!   (1.5 bytes a number): confirming a listed number was a chain of dependent
//!   reads after the filter's line, and the listed lookup stayed at 0.93×
//!   rbloom's; with the filter's block in a second line beside the remainders
//!   it was 1.04–1.11×, in one line 1.15–1.27×. Where numbers are dense, the
//!   run's bitmap answers in one line addressed straight from the key (see
//!   `exact_set`): 8.75 MB for ten million numbers one in seven, which stays
//!   in cache where rbloom's 12 MB array competes for it.
//! - **Huge pages.** The filter and the base are allocated in transparent huge
//!   pages (`hugemem`): with 4 KiB pages almost every lookup also missed the TLB.
//! - **Overlapped misses.** A single lookup requests every line it may read
//!   before it reads the first, so a listed number waits for the slower, not the
//!   sum; a batch requests the filter lines of 32 queries, then the exact lines
//!   of their "maybe"s, before reading any.
//! - **Recent answers.** The same callers asked again (retries, a robocaller's
//!   day, repeated queries) read lines spread over a 40 MB table, which the
//!   cache has dropped by the time they come back; their answers, 8 bytes each,
//!   fit it eight times better (`recent`): with the same 100k numbers asked
//!   round after round, a listed lookup went from 0.60–0.74× rbloom's speed
//!   to 1.70–1.73×, at a cost of 0–4 ns when every number is new. Used only
//!   while a sample of it shows it pays; not by batches, nor while changes are
//!   pending.
//! - **Filter first.** Most callers are on no list, so the filter answers first.
//! - **Plain digits.** A query that is already 1 to 19 plain digits (most are) is
//!   turned into its key straight from the bytes.
//!
//! # Concurrency
//!
//! Lookups, `add` and `remove` all take `&self`. The base sits behind an
//! [`ArcSwap`] (replaced whole by [`NumberList::compact`]); an `AtomicBool` says
//! whether the overlay holds added or removed keys. While it does not, which is
//! the steady state, a lookup takes no lock at all. Writers hold the overlay's
//! write lock, insert into the live filter before publishing the flag, and never
//! clear filter bits (see `bloom` on deletes). A lookup reads the live filter only
//! while changes are pending; when it is full (the adds reached what the list was
//! sized for), the changes are compacted into a new base sized for twice as many.
//! A lookup in a large table may write the base's recent answers (relaxed
//! atomics, no lock: see `recent`), which are true of that base alone.
//!
//! # List files
//!
//! One number per line in any accepted input form (`numbers.md`); `#` starts a
//! comment, also after a number; blank and comment-only lines are skipped; a
//! UTF-8 byte-order mark is ignored. **Bad-line policy:** a line that is not a
//! number, or is an anonymous/withheld entry (`anonymous`, `unknown`, …), is
//! reported as a [`ListProblem`] (source, 1-based line, reason) and skipped; every
//! other line still loads. The caller (the plan checker) decides whether problems
//! are errors or warnings. Duplicates are merged silently.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use arc_swap::ArcSwap;

use crate::bloom::{self, BlockedBloom, FrozenBloom};
use crate::bucket_set::BucketSet;
use crate::error::{Error, NumberError};
use crate::exact_set::{self, ExactSet};
use crate::number::{self, CountryCodes, Digits, Kind, Number, MAX_DIGITS, MAX_NATIONAL_DIGITS};
use crate::recent::RecentAnswers;

/// The default target false-positive rate of a list's filter.
pub const DEFAULT_FP_RATE: f64 = 0.01;
/// Most numbers a list may be sized for: a billion (about 1.2 GB of filter at 1 %); a larger
/// `expected` is a mistake to refuse, not an allocation to attempt.
pub const MAX_EXPECTED: usize = 1_000_000_000;
/// Live adds below this never trigger an automatic compaction.
const AUTO_COMPACT_MIN: usize = 4096;

/// How to size a list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListOptions {
    /// How many numbers the filter is sized for (at least the bulk count), so that
    /// live adds up to it keep the target rate.
    pub expected: usize,
    /// Target false-positive rate of the filter (speed only: answers stay exact).
    pub fp_rate: f64,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            expected: 0,
            fp_rate: DEFAULT_FP_RATE,
        }
    }
}

impl ListOptions {
    /// Checked options: `fp_rate` must lie strictly between 0 and 1.
    pub fn new(expected: usize, fp_rate: f64) -> Result<ListOptions, Error> {
        if fp_rate.is_nan() || fp_rate <= 0.0 || fp_rate >= 1.0 {
            return Err(Error::InvalidArgument(format!(
                "fp_rate must be between 0 and 1 (exclusive), not {fp_rate}"
            )));
        }
        if expected > MAX_EXPECTED {
            return Err(Error::InvalidArgument(format!(
                "expected: {expected} numbers is more than a list holds (at most {MAX_EXPECTED}; \
                 its filter alone would take {} GB)",
                expected / 800_000_000
            )));
        }
        Ok(ListOptions { expected, fp_rate })
    }
}

/// Why a line of a number file is refused when it is not UTF-8 (the byte counted from 1), as
/// every reader of such files words it (`NumberList.from_file`, `routecore pool FILE`).
pub fn not_utf8_line(e: &std::str::Utf8Error) -> String {
    format!(
        "not UTF-8 text (GBK perhaps?): byte {} of the line is not UTF-8; save the file as UTF-8",
        e.valid_up_to() + 1
    )
}

/// A list file's bytes as text, line for line: each line's entry (before any
/// `#`) must be UTF-8; a comment need not be, and is dropped. A line whose entry
/// is not UTF-8 is kept empty, so that the lines after it keep their numbers,
/// and comes back as `(line from 1, reason)`. The one reading of list files
/// shared by [`NumberList::from_file_bytes`] and the plan checker. O(len).
pub fn list_file_text(bytes: &[u8]) -> (String, Vec<(usize, String)>) {
    let mut text = String::with_capacity(bytes.len());
    let mut not_text = Vec::new();
    // A UTF-8 byte-order mark is no part of the first line: a bad byte's place in that line is
    // counted after it, as `routecore pool FILE` counts it (`classify::numbered_lines`).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let entry = line.split(|&b| b == b'#').next().unwrap_or_default();
        match std::str::from_utf8(entry) {
            Ok(entry) => text.push_str(entry),
            Err(e) => not_text.push((i + 1, not_utf8_line(&e))),
        }
    }
    (text, not_text)
}

/// One line of a list file that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListProblem {
    /// The file (or other source) name.
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ListProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.reason)
    }
}

impl From<ListProblem> for Error {
    fn from(p: ListProblem) -> Error {
        Error::BadList {
            source_name: p.source,
            line: p.line,
            reason: p.reason,
        }
    }
}

/// Refuses the anonymous caller: "withheld" is not a number that can be listed.
fn listable(number: Number, input: &str) -> Result<Number, NumberError> {
    if number.kind == Kind::Anonymous || number.digits.is_empty() {
        return Err(NumberError::new(
            input,
            "an anonymous or empty entry cannot be listed".to_string(),
        ));
    }
    Ok(number)
}

/// The national form of an input that is plain ASCII digits with no country code
/// to strip, which is most lookups; `None` sends the input to the full normaliser.
/// Per `numbers.md`, a digit string changes only when it starts with the country
/// code `0086` or `86` (other `00…` numbers stay as written), so every other one of
/// up to 20 digits is its own national form. A property test holds this to
/// [`number::normalize`].
#[inline]
fn plain_digits(input: &str) -> Option<Digits> {
    if input.is_empty()
        || input.len() > number::MAX_DIGITS
        || input.starts_with("86")
        || input.starts_with("0086")
    {
        return None;
    }
    Digits::from_ascii(input.as_bytes())
}

/// `ONES[l]` = `(10^l - 1) / 9`: where [`Digits::key`] puts the strings of `l` digits.
const ONES: [u64; number::MAX_KEYED_DIGITS + 1] = {
    let mut out = [0u64; number::MAX_KEYED_DIGITS + 1];
    let mut i = 1;
    while i < out.len() {
        out[i] = out[i - 1] * 10 + 1;
        i += 1;
    }
    out
};

/// The [`Digits::key`] of `plain_digits(input)` when it has one, computed straight
/// from the bytes (the common lookup: an 11-digit mobile number). O(len).
///
/// The key is what every later step of a lookup waits for, so its last eight
/// digits are read as one word ([`eight_digits`]): a chain of three multiplies
/// instead of eight dependent multiply-adds.
#[inline]
fn plain_key(input: &str) -> Option<u64> {
    let bytes = input.as_bytes();
    if bytes.is_empty()
        || bytes.len() > number::MAX_KEYED_DIGITS
        || bytes.starts_with(b"86")
        || bytes.starts_with(b"0086")
    {
        return None;
    }
    let (head, tail) = bytes.split_at(bytes.len().saturating_sub(8));
    let mut value = 0u64;
    for &b in head {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + u64::from(d);
    }
    match <[u8; 8]>::try_from(tail) {
        Ok(last) => value = value * 100_000_000 + eight_digits(last)?,
        Err(_) => {
            for &b in tail {
                let d = b.wrapping_sub(b'0');
                if d > 9 {
                    return None;
                }
                value = value * 10 + u64::from(d);
            }
        }
    }
    Some(ONES[bytes.len()] + value)
}

/// The value of eight ASCII digits (the first the most significant), or `None`
/// if any byte is not a digit. Branch-free: all eight at once in one word.
#[inline]
fn eight_digits(bytes: [u8; 8]) -> Option<u64> {
    const BYTES: u64 = 0x0101_0101_0101_0101;
    let word = u64::from_le_bytes(bytes);
    let digits = word.wrapping_sub(u64::from(b'0') * BYTES);
    // A digit is 0x30..=0x39: high nibble 3, and low nibble + 6 stays below 16.
    let high_nibbles = 0xF0 * BYTES;
    if word & high_nibbles != 0x30 * BYTES || digits.wrapping_add(6 * BYTES) & high_nibbles != 0 {
        return None;
    }
    // Byte 0 is the first digit: combine neighbours into 2-, 4-, then 8-digit values.
    let pairs = (digits * 10 + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF)
}

/// The bulk part: the keys of the bulk load with the filter that answers "not
/// listed" for them, a live filter beside, and for a large table its recent
/// answers; see [`Base::build`].
#[derive(Debug)]
struct Base {
    store: Store,
    /// Keys added live since this base was built (read only while changes are pending).
    live: BlockedBloom,
    /// How many keys (bulk and live) the filters are sized for.
    capacity: usize,
    /// Recent answers of a table too large to stay in the CPU's cache (see `recent`):
    /// true of this base only, so a compaction's new base starts with none.
    recent: Option<RecentAnswers>,
}

/// Where the bulk keys are kept, and their filter.
#[derive(Debug)]
enum Store {
    /// Scattered keys: each bucket's filter word in the line of its keys'
    /// remainders ([`BucketSet::with_filter`]), so a lookup reads one line.
    Table(BucketSet),
    /// Every other list (dense runs of numbers, or keys too spread for a
    /// table): the [`ExactSet`], and a filter apart over its keys outside dense
    /// runs. A key in a dense run is answered by its bit alone: the run's bitmap
    /// is a filter whose one hash (the key's place in the run) never collides,
    /// in one line and at a bit a number, so a Bloom filter before it could
    /// only add a line (and 1.2 bytes a number).
    Split { bloom: FrozenBloom, exact: ExactSet },
}

/// The most a table may cost a key (a list's budget is 12 bytes a number).
const TABLE_MAX_BYTES_PER_KEY: f64 = 10.0;

/// Tables from this size keep recent answers (`recent`). A smaller one stays
/// mostly in the CPU's cache on this machine, whose random reads cost 35–63 ns
/// up to 8–12 MB and 120–190 ns from 16 MB (bench/README.md): there a repeated
/// lookup has little to gain, and every lookup would pay for the sample.
const RECENT_MIN_TABLE_BYTES: usize = 8 << 20;

/// Lines of recent answers for a table of `len` keys: 8 answers a line, a line
/// for every 160 to 320 keys (a power of two), 1,024 to 32,768 lines (64 KiB to
/// 2 MiB: 256k answers, 0.2 bytes a number at ten million).
fn recent_sets(len: usize) -> usize {
    (len / 320).next_power_of_two().clamp(1 << 10, 1 << 15)
}

impl Base {
    /// O(n log n): sort, merge duplicates, encode. The live filter is sized for the
    /// adds that `capacity` leaves room for (at least [`AUTO_COMPACT_MIN`]).
    fn build(keys: Vec<u64>, capacity: usize, fp_rate: f64) -> Base {
        Base::build_with_recent_from(keys, capacity, fp_rate, RECENT_MIN_TABLE_BYTES)
    }

    /// [`Base::build`], keeping recent answers for a table of at least
    /// `recent_min_bytes` (tests give small tables theirs).
    fn build_with_recent_from(
        mut keys: Vec<u64>,
        capacity: usize,
        fp_rate: f64,
        recent_min_bytes: usize,
    ) -> Base {
        keys.sort_unstable();
        keys.dedup();
        let len = keys.len();
        let capacity = capacity.max(len);
        let live = BlockedBloom::new((capacity - len).max(AUTO_COMPACT_MIN), fp_rate);
        let table = if exact_set::has_dense_chunk(&keys) {
            None
        } else {
            BucketSet::with_filter(&keys, TABLE_MAX_BYTES_PER_KEY)
        };
        let store = table.map_or_else(
            || {
                let exact = ExactSet::new(&keys);
                let others = keys.iter().filter(|&&k| exact.dense_bit(k).is_none());
                // Sized for the keys it holds: live adds go to the live filter.
                let bloom = FrozenBloom::build(
                    len - exact.dense_len(),
                    fp_rate,
                    others.map(|&k| bloom::hash(k)),
                );
                Store::Split { bloom, exact }
            },
            Store::Table,
        );
        let recent = match &store {
            Store::Table(table) if table.memory_bytes() >= recent_min_bytes => {
                Some(RecentAnswers::new(recent_sets(len)))
            }
            _ => None,
        };
        Base {
            store,
            live,
            capacity,
            recent,
        }
    }

    fn len(&self) -> usize {
        match &self.store {
            Store::Table(table) => table.len(),
            Store::Split { exact, .. } => exact.len(),
        }
    }

    /// Keys in bitmaps (see `exact_set`).
    #[cfg(test)]
    fn dense_len(&self) -> usize {
        match &self.store {
            Store::Table(_) => 0,
            Store::Split { exact, .. } => exact.dense_len(),
        }
    }

    /// Every key of the base, in no particular order. O(n).
    fn keys(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match &self.store {
            Store::Table(table) => Box::new(table.iter()),
            Store::Split { exact, .. } => Box::new(exact.iter()),
        }
    }

    /// Whether `key` is in the base, ignoring the filter. O(1).
    #[inline]
    fn contains_key(&self, key: u64) -> bool {
        match &self.store {
            Store::Table(table) => table.contains(key),
            Store::Split { exact, .. } => exact.contains(key),
        }
    }

    /// Whether the bulk filter says `key` (of [`bloom::hash`] `hash`) may be in
    /// the base (`false` is certain). O(1): one line.
    #[inline]
    fn filter_holds(&self, key: u64, hash: u64) -> bool {
        match &self.store {
            Store::Table(table) => table.filter_holds(key, hash),
            Store::Split { bloom, exact } => exact
                .dense_bit(key)
                .unwrap_or_else(|| bloom.contains_hash(hash)),
        }
    }

    /// The exact answer, with the filter read first: a lookup while no change is
    /// pending. A large table's recent answers come before either (`recent`).
    /// Outside a dense run, the exact store's line is requested before the
    /// filter's is read, so a listed key waits for the slower of the two, not
    /// their sum. O(1).
    #[inline]
    fn contains_filtered(&self, key: u64, hash: u64) -> bool {
        match &self.recent {
            Some(recent) => recent.answer(key, hash, || self.look_up_filtered(key, hash)),
            None => self.look_up_filtered(key, hash),
        }
    }

    /// [`Base::contains_filtered`] from the store itself.
    #[inline]
    fn look_up_filtered(&self, key: u64, hash: u64) -> bool {
        match &self.store {
            Store::Table(table) => table.contains_filtered(key, hash),
            Store::Split { bloom, exact } => {
                exact.contains_filtered(key, || bloom.contains_hash(hash))
            }
        }
    }

    /// Starts loading the filter's line of a key (a table's one line, a dense
    /// run's bitmap line). O(1).
    #[inline]
    fn prefetch_filter(&self, key: u64, hash: u64) {
        match &self.store {
            Store::Table(table) => table.prefetch(key),
            Store::Split { bloom, exact } => {
                if !exact.prefetch_dense(key) {
                    bloom.prefetch(hash);
                }
            }
        }
    }

    /// Starts loading what confirming a key reads, once its filter said "maybe". O(1).
    #[inline]
    fn prefetch_exact(&self, key: u64) {
        match &self.store {
            // Requested with the filter's line already.
            Store::Table(_) => {}
            Store::Split { exact, .. } => exact.prefetch(key),
        }
    }

    fn memory_bytes(&self) -> usize {
        let store = match &self.store {
            Store::Table(table) => table.memory_bytes(),
            Store::Split { bloom, exact } => bloom.memory_bytes() + exact.memory_bytes(),
        };
        let recent = self.recent.as_ref().map_or(0, RecentAnswers::memory_bytes);
        std::mem::size_of::<Base>() + store + self.live.memory_bytes() + recent
    }
}

/// Live changes since the base was built; see the module docs.
#[derive(Debug, Default)]
struct Overlay {
    /// Keys not in the base.
    added: HashSet<u64>,
    /// Keys of the base.
    removed: HashSet<u64>,
    /// Every listed number without a key (more than 19 digits), bulk or live.
    long: HashSet<Digits>,
}

impl Overlay {
    fn changed(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }

    fn memory_bytes(&self) -> usize {
        // hashbrown: one control byte per slot beside the value.
        (self.added.capacity() + self.removed.capacity()) * (std::mem::size_of::<u64>() + 1)
            + self.long.capacity() * (std::mem::size_of::<Digits>() + 1)
    }
}

/// Accumulates numbers for a bulk load; see [`NumberList`].
#[derive(Debug)]
pub struct ListBuilder {
    keys: Vec<u64>,
    long: HashSet<Digits>,
    options: ListOptions,
}

impl ListBuilder {
    pub fn new(options: ListOptions) -> ListBuilder {
        ListBuilder {
            keys: Vec::with_capacity(options.expected.min(1 << 24)),
            long: HashSet::new(),
            options,
        }
    }

    /// Adds one normalised number; the anonymous caller is refused. O(1) amortised.
    pub fn push(&mut self, number: &Number) -> Result<(), NumberError> {
        let number = listable(*number, number.as_str())?;
        match number.digits.key() {
            Some(key) => self.keys.push(key),
            None => {
                self.long.insert(number.digits);
            }
        }
        Ok(())
    }

    /// Normalises `input` and adds it. O(len).
    pub fn push_str(
        &mut self,
        input: &str,
        countries: &dyn CountryCodes,
    ) -> Result<(), NumberError> {
        let number = listable(number::normalize(input, countries)?, input)?;
        self.push(&number)
    }

    /// O(n log n) in the numbers pushed.
    pub fn build(self) -> NumberList {
        let capacity = self.options.expected.max(self.keys.len());
        NumberList::from_base(
            Base::build(self.keys, capacity, self.options.fp_rate),
            self.long,
            self.options.fp_rate,
        )
    }
}

/// A named set of numbers; see the module docs. `Send + Sync`: share it by reference.
pub struct NumberList {
    base: ArcSwap<Base>,
    overlay: RwLock<Overlay>,
    /// `overlay.added` or `overlay.removed` is non-empty: the lock-free path is not enough.
    changed: AtomicBool,
    /// `overlay.long.len()`, so that lookups of numbers of 20 to 22 digits skip the lock when there are none.
    long_len: AtomicUsize,
    fp_rate: f64,
    /// Tables from this size keep recent answers: [`RECENT_MIN_TABLE_BYTES`], but
    /// in tests that give small lists theirs.
    recent_min_table_bytes: usize,
}

impl fmt::Debug for NumberList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NumberList")
            .field("len", &self.len())
            .field("fp_rate", &self.fp_rate)
            .finish_non_exhaustive()
    }
}

impl Default for NumberList {
    fn default() -> Self {
        NumberList::new(ListOptions::default())
    }
}

impl NumberList {
    /// An empty list whose filter is sized for `options.expected` numbers. O(expected).
    pub fn new(options: ListOptions) -> NumberList {
        ListBuilder::new(options).build()
    }

    fn from_base(base: Base, long: HashSet<Digits>, fp_rate: f64) -> NumberList {
        NumberList {
            base: ArcSwap::from_pointee(base),
            long_len: AtomicUsize::new(long.len()),
            overlay: RwLock::new(Overlay {
                long,
                ..Overlay::default()
            }),
            changed: AtomicBool::new(false),
            fp_rate,
            recent_min_table_bytes: RECENT_MIN_TABLE_BYTES,
        }
    }

    /// Builds a list from numbers in any accepted input form. The first entry that
    /// is not a number, or is anonymous, fails the whole load (its index is the field).
    /// O(n log n).
    pub fn from_numbers<I>(
        numbers: I,
        countries: &dyn CountryCodes,
        options: ListOptions,
    ) -> Result<NumberList, Error>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut builder = ListBuilder::new(options);
        for (i, input) in numbers.into_iter().enumerate() {
            builder
                .push_str(input.as_ref(), countries)
                .map_err(|e| Error::invalid_number(&format!("numbers[{i}]"), e))?;
        }
        Ok(builder.build())
    }

    /// Loads a list file's text (see the module docs for the format and the
    /// bad-line policy): the list of every good line, and one problem per bad line.
    /// O(n log n) in the lines.
    pub fn from_text(
        source: &str,
        text: &str,
        countries: &dyn CountryCodes,
        options: ListOptions,
    ) -> (NumberList, Vec<ListProblem>) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut builder = ListBuilder::new(options);
        builder
            .keys
            .reserve(text.bytes().filter(|&b| b == b'\n').count() + 1);
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or_default();
            if entry.trim().is_empty() {
                continue;
            }
            if let Err(e) = builder.push_str(entry, countries) {
                problems.push(ListProblem {
                    source: source.to_string(),
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
        (builder.build(), problems)
    }

    /// [`NumberList::from_text`] for a file's bytes: a line whose entry is not UTF-8 (a GBK
    /// export) is a problem of its own, named as such, and every other line still loads; a
    /// comment need not be UTF-8. O(n log n).
    pub fn from_file_bytes(
        source: &str,
        bytes: &[u8],
        countries: &dyn CountryCodes,
        options: ListOptions,
    ) -> (NumberList, Vec<ListProblem>) {
        let (text, not_text) = list_file_text(bytes);
        let (list, mut problems) = NumberList::from_text(source, &text, countries, options);
        problems.extend(not_text.into_iter().map(|(line, reason)| ListProblem {
            source: source.to_string(),
            line,
            reason,
        }));
        problems.sort_by_key(|p| p.line);
        (list, problems)
    }

    fn read(&self) -> RwLockReadGuard<'_, Overlay> {
        // No code path panics while holding the lock; if one ever did, the
        // overlay is still a valid set of keys.
        self.overlay.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Overlay> {
        self.overlay.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a normalised number is listed. Exact. O(1) expected: one hash and
    /// one cache line (a table's bucket, or a dense run's bitmap); a listed number
    /// in the split form's other keys adds their line, requested together with the
    /// filter's; a large table's recent answers add theirs while in use, and then
    /// answer a repeated number in place of the table. Lock-free unless live
    /// changes are pending.
    #[inline]
    pub fn contains(&self, number: &Number) -> bool {
        self.contains_digits(&number.digits)
    }

    /// [`NumberList::contains`] by national form.
    #[inline]
    pub fn contains_digits(&self, digits: &Digits) -> bool {
        match digits.key() {
            Some(key) => !digits.is_empty() && self.contains_key(key),
            None => self.long_len.load(SeqCst) > 0 && self.read().long.contains(digits),
        }
    }

    /// The answer for an input that is plain digits already in national form,
    /// without the full normaliser; `None` for any other input. O(len).
    #[inline]
    pub fn contains_plain(&self, input: &str) -> Option<bool> {
        if let Some(key) = plain_key(input) {
            return Some(self.contains_key(key));
        }
        plain_digits(input).map(|d| self.contains_digits(&d))
    }

    /// [`NumberList::contains`] by key.
    #[inline]
    fn contains_key(&self, key: u64) -> bool {
        let h = bloom::hash(key);
        // The flag is read before the base: a compaction swaps the base in before
        // it clears the flag, so "no pending changes" always comes with a base
        // that already holds them.
        let changed = self.changed.load(SeqCst);
        let base = self.base.load();
        if !changed {
            return base.contains_filtered(key, h);
        }
        // Any base's filters hold every key added before it was installed or into it.
        if !base.filter_holds(key, h) && !base.live.contains_hash(h) {
            return false;
        }
        self.confirm_with_overlay(key)
    }

    /// The exact answer for a key that passed the filter while changes are pending.
    fn confirm_with_overlay(&self, key: u64) -> bool {
        let overlay = self.read();
        if overlay.added.contains(&key) {
            return true;
        }
        if overlay.removed.contains(&key) {
            return false;
        }
        // Reload under the lock: a compaction may have replaced the base meanwhile.
        self.base.load().contains_key(key)
    }

    /// [`NumberList::contains`] for many numbers, appended to `out`. O(n): a
    /// window of lookups requests all its filter lines before reading any, then the
    /// exact-store lines of its "maybe"s before reading any, so the cache misses of
    /// a batch overlap instead of queueing.
    pub fn contains_into(&self, numbers: &[Digits], out: &mut Vec<bool>) {
        const CHUNK: usize = 32;
        for chunk in numbers.chunks(CHUNK) {
            let changed = self.changed.load(SeqCst);
            let base = self.base.load();
            // Each number's key once (`None`: no key, a number of 20 to 22 digits, or empty).
            let mut keys = [None; CHUNK];
            let mut hashes = [0u64; CHUNK];
            for (i, digits) in chunk.iter().enumerate() {
                if let Some(key) = digits.key() {
                    keys[i] = Some(key);
                    hashes[i] = bloom::hash(key);
                    base.prefetch_filter(key, hashes[i]);
                }
            }
            let mut maybe = [false; CHUNK];
            for (i, digits) in chunk.iter().enumerate() {
                if let Some(key) = keys[i] {
                    let h = hashes[i];
                    maybe[i] = !digits.is_empty()
                        && (base.filter_holds(key, h) || (changed && base.live.contains_hash(h)));
                    if maybe[i] {
                        base.prefetch_exact(key);
                    }
                }
            }
            for (i, digits) in chunk.iter().enumerate() {
                out.push(match keys[i] {
                    None => self.contains_digits(digits),
                    Some(_) if !maybe[i] => false,
                    Some(key) if !changed => base.contains_key(key),
                    Some(key) => self.confirm_with_overlay(key),
                });
            }
        }
    }

    /// Normalises and looks up many inputs (see [`NumberList::contains_into`]);
    /// the first input that is not a number fails the batch with its index. O(total len).
    pub fn contains_many<S: AsRef<str>>(
        &self,
        inputs: &[S],
        countries: &dyn CountryCodes,
    ) -> Result<Vec<bool>, (usize, NumberError)> {
        const CHUNK: usize = 64;
        let mut out = Vec::with_capacity(inputs.len());
        let mut numbers = Vec::with_capacity(CHUNK);
        for (c, chunk) in inputs.chunks(CHUNK).enumerate() {
            numbers.clear();
            for (i, input) in chunk.iter().enumerate() {
                let input = input.as_ref();
                numbers.push(match plain_digits(input) {
                    Some(digits) => digits,
                    None => {
                        number::normalize(input, countries)
                            .map_err(|e| (c * CHUNK + i, e))?
                            .digits
                    }
                });
            }
            self.contains_into(&numbers, &mut out);
        }
        Ok(out)
    }

    /// Normalises `input` and looks it up; the anonymous caller is never listed. O(len).
    pub fn contains_str(
        &self,
        input: &str,
        countries: &dyn CountryCodes,
    ) -> Result<bool, NumberError> {
        match self.contains_plain(input) {
            Some(answer) => Ok(answer),
            None => Ok(self.contains(&number::normalize(input, countries)?)),
        }
    }

    /// Adds a number live; `Ok(false)` if it was already listed. The anonymous
    /// caller is refused. O(1) amortised (an occasional compaction when live adds
    /// outgrow the filter).
    pub fn add(&self, number: &Number) -> Result<bool, NumberError> {
        let number = listable(*number, number.as_str())?;
        let mut overlay = self.write();
        let Some(key) = number.digits.key() else {
            let fresh = overlay.long.insert(number.digits);
            self.long_len.store(overlay.long.len(), SeqCst);
            return Ok(fresh);
        };
        let h = bloom::hash(key);
        let base = self.base.load();
        let fresh = if base.contains_key(key) {
            overlay.removed.remove(&key)
        } else if overlay.added.insert(key) {
            // Into the filter before the flag is published (see `contains_key`).
            base.live.insert_hash(h);
            true
        } else {
            false
        };
        self.changed.store(overlay.changed(), SeqCst);
        let total = base.len() + overlay.added.len();
        if overlay.added.len() >= base.live.capacity() {
            // The live filter is full: fold the adds in with room for as many again
            // (doubling keeps this amortised O(1)).
            drop(base);
            self.compact_locked(&mut overlay, total * 2);
        }
        Ok(fresh)
    }

    /// Normalises `input` and adds it. O(len) + [`NumberList::add`].
    pub fn add_str(&self, input: &str, countries: &dyn CountryCodes) -> Result<bool, NumberError> {
        let number = number::normalize(input, countries)?;
        self.add(&listable(number, input)?)
    }

    /// Removes a number live; `false` if it was not listed. O(1) expected.
    pub fn remove(&self, number: &Number) -> bool {
        if number.digits.is_empty() {
            return false;
        }
        let mut overlay = self.write();
        let Some(key) = number.digits.key() else {
            let gone = overlay.long.remove(&number.digits);
            self.long_len.store(overlay.long.len(), SeqCst);
            return gone;
        };
        let gone = overlay.added.remove(&key)
            || (self.base.load().contains_key(key) && overlay.removed.insert(key));
        self.changed.store(overlay.changed(), SeqCst);
        gone
    }

    /// Normalises `input` and removes it. O(len).
    pub fn remove_str(
        &self,
        input: &str,
        countries: &dyn CountryCodes,
    ) -> Result<bool, NumberError> {
        Ok(self.remove(&number::normalize(input, countries)?))
    }

    /// Folds live changes into a new base (and a filter rebuilt without removed
    /// keys), so lookups are lock-free again. O(n log n); lookups that need the
    /// overlay wait for it, others do not.
    pub fn compact(&self) {
        let mut overlay = self.write();
        let capacity = self.base.load().capacity;
        self.compact_locked(&mut overlay, capacity);
    }

    fn compact_locked(&self, overlay: &mut Overlay, capacity: usize) {
        if !overlay.changed() {
            return;
        }
        let old = self.base.load_full();
        let removed = &overlay.removed;
        let keys: Vec<u64> = old
            .keys()
            .filter(|k| removed.is_empty() || !removed.contains(k))
            .chain(overlay.added.iter().copied())
            .collect();
        let capacity = capacity.max(keys.len());
        self.base.store(Arc::new(Base::build_with_recent_from(
            keys,
            capacity,
            self.fp_rate,
            self.recent_min_table_bytes,
        )));
        overlay.added = HashSet::new();
        overlay.removed = HashSet::new();
        self.changed.store(false, SeqCst);
    }

    /// How many numbers are listed. O(1).
    pub fn len(&self) -> usize {
        let overlay = self.read();
        self.base.load().len() - overlay.removed.len() + overlay.added.len() + overlay.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The target false-positive rate of the filter.
    pub fn fp_rate(&self) -> f64 {
        self.fp_rate
    }

    /// Bytes used: filter, keys, offsets, recent answers and overlay. O(1).
    pub fn memory_bytes(&self) -> usize {
        let overlay = self.read();
        std::mem::size_of::<NumberList>() + self.base.load().memory_bytes() + overlay.memory_bytes()
    }

    /// A consistent view for export; live changes wait until it is dropped. O(1).
    pub fn snapshot(&self) -> Snapshot<'_> {
        let overlay = self.read();
        Snapshot {
            base: self.base.load_full(),
            overlay,
            fp_rate: self.fp_rate,
        }
    }

    /// Every listed number, shortest first, then in numeric order. O(n log n).
    pub fn numbers(&self) -> Vec<Digits> {
        self.snapshot().numbers()
    }

    /// The persistent form (see [`Snapshot::serialize_into`]). O(n).
    pub fn to_bytes(&self) -> Vec<u8> {
        let snapshot = self.snapshot();
        let mut out = vec![0u8; snapshot.serialized_len()];
        snapshot.serialize_into(&mut out);
        out
    }

    /// Reads the form written by [`NumberList::to_bytes`], checking every entry;
    /// the filter is rebuilt for `expected` numbers (at least those read). O(n log n).
    pub fn from_bytes(data: &[u8], expected: usize) -> Result<NumberList, Error> {
        let bad =
            |why: &str| Error::InvalidArgument(format!("data: not a saved NumberList: {why}"));
        if data.len() < HEADER || &data[..4] != MAGIC {
            return Err(bad("no NumberList header"));
        }
        let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().unwrap_or_default());
        let version = u32::from_le_bytes(data[4..8].try_into().unwrap_or_default());
        let Some(slot) = long_slot(version) else {
            return Err(bad(&format!(
                "format version {version}, expected 1 or {VERSION}"
            )));
        };
        let options =
            ListOptions::new(expected, f64::from_bits(word(8))).map_err(|e| bad(&e.to_string()))?;
        let (n_keys, n_long) = (word(16), word(24));
        let size = usize::try_from(n_keys)
            .ok()
            .and_then(|k| k.checked_mul(8))
            .zip(
                usize::try_from(n_long)
                    .ok()
                    .and_then(|l| l.checked_mul(slot)),
            )
            .and_then(|(k, l)| k.checked_add(l)?.checked_add(HEADER));
        if size != Some(data.len()) {
            return Err(bad("length does not match the counts"));
        }
        let key_end = HEADER + n_keys as usize * 8;
        let max_key = Digits::from_ascii(&[b'9'; number::MAX_KEYED_DIGITS])
            .and_then(|d| d.key())
            .unwrap_or(u64::MAX);
        let mut keys = Vec::with_capacity(n_keys as usize);
        for chunk in data[HEADER..key_end].chunks_exact(8) {
            let key = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            if key == 0 || key > max_key {
                return Err(bad(&format!("key {key} is not a listable number")));
            }
            keys.push(key);
        }
        let mut long = HashSet::with_capacity(n_long as usize);
        for chunk in data[key_end..].chunks_exact(slot) {
            let used = chunk.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let digits = Digits::from_ascii(&chunk[..used])
                .filter(|d| d.key().is_none())
                .ok_or_else(|| {
                    bad("a long entry is not 20 to 22 ASCII digits padded with NUL bytes")
                })?;
            long.insert(digits);
        }
        let capacity = options.expected.max(keys.len());
        Ok(NumberList::from_base(
            Base::build(keys, capacity, options.fp_rate),
            long,
            options.fp_rate,
        ))
    }
}

const MAGIC: &[u8; 4] = b"RCNL";
/// 2: long entries may have up to [`MAX_NATIONAL_DIGITS`] digits (`+` and 20 digits is `00`
/// and 20). 1 (still read): every long entry has [`MAX_DIGITS`].
const VERSION: u32 = 2;

/// The bytes of one long entry in format `version` (its digits, then NUL bytes), or `None`
/// for a version this build cannot read.
fn long_slot(version: u32) -> Option<usize> {
    match version {
        1 => Some(MAX_DIGITS),
        2 => Some(MAX_NATIONAL_DIGITS),
        _ => None,
    }
}
/// Magic, version `u32`, false-positive rate `f64`, key count `u64`, long count `u64` (little-endian).
const HEADER: usize = 32;

/// A consistent view of a list (see [`NumberList::snapshot`]).
pub struct Snapshot<'a> {
    base: Arc<Base>,
    overlay: RwLockReadGuard<'a, Overlay>,
    fp_rate: f64,
}

impl Snapshot<'_> {
    /// Every key listed, in no particular order. O(n).
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        let removed = &self.overlay.removed;
        self.base
            .keys()
            .filter(move |k| removed.is_empty() || !removed.contains(k))
            .chain(self.overlay.added.iter().copied())
    }

    /// Every listed number without a key (20 to 22 digits), in no particular order.
    pub fn long(&self) -> impl Iterator<Item = &Digits> + '_ {
        self.overlay.long.iter()
    }

    /// How many numbers are listed. O(1).
    pub fn len(&self) -> usize {
        self.base.len() - self.overlay.removed.len()
            + self.overlay.added.len()
            + self.overlay.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every listed number, shortest first, then in numeric order. O(n log n).
    pub fn numbers(&self) -> Vec<Digits> {
        let mut keys: Vec<u64> = self.keys().collect();
        keys.sort_unstable();
        let mut long: Vec<Digits> = self.long().copied().collect();
        long.sort_unstable();
        keys.into_iter().map(Digits::from_key).chain(long).collect()
    }

    /// Size of the persistent form. O(1).
    pub fn serialized_len(&self) -> usize {
        let keys = self.len() - self.overlay.long.len();
        HEADER + keys * 8 + self.overlay.long.len() * MAX_NATIONAL_DIGITS
    }

    /// Writes the persistent form into `out` (exactly [`Snapshot::serialized_len`]
    /// bytes): a 32-byte header (`RCNL`, version, fp rate, counts), the keys as
    /// little-endian `u64`, then each number of 20 to 22 digits as ASCII in a
    /// [`MAX_NATIONAL_DIGITS`]-byte slot, padded with NUL bytes. O(n).
    pub fn serialize_into(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.serialized_len(), "buffer of the wrong size");
        let n_keys = self.len() - self.overlay.long.len();
        out[..4].copy_from_slice(MAGIC);
        out[4..8].copy_from_slice(&VERSION.to_le_bytes());
        out[8..16].copy_from_slice(&self.fp_rate.to_bits().to_le_bytes());
        out[16..24].copy_from_slice(&(n_keys as u64).to_le_bytes());
        out[24..32].copy_from_slice(&(self.overlay.long.len() as u64).to_le_bytes());
        let (keys, long) = out[HEADER..].split_at_mut(n_keys * 8);
        for (slot, key) in keys.chunks_exact_mut(8).zip(self.keys()) {
            slot.copy_from_slice(&key.to_le_bytes());
        }
        for (slot, digits) in long.chunks_exact_mut(MAX_NATIONAL_DIGITS).zip(self.long()) {
            let (used, pad) = slot.split_at_mut(digits.len());
            used.copy_from_slice(digits.as_bytes());
            pad.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::tests::TestCountries;
    use proptest::prelude::*;

    fn num(s: &str) -> Number {
        number::normalize(s, &TestCountries).unwrap()
    }

    fn list(numbers: &[&str]) -> NumberList {
        NumberList::from_numbers(numbers, &TestCountries, ListOptions::default()).unwrap()
    }

    #[test]
    fn every_input_form_finds_the_national_form() {
        let l = list(&[
            "+86 138 0013 8000",
            "0755-8600-0000",
            "tel:+86-10-1234-5678",
        ]);
        assert_eq!(l.len(), 3);
        for form in [
            "13800138000",
            "sip:13800138000@10.0.0.1;user=phone",
            "008613800138000",
            "8613800138000",
        ] {
            assert!(l.contains_str(form, &TestCountries).unwrap(), "{form}");
        }
        assert!(l.contains(&num("075586000000")));
        assert!(l.contains(&num("+86 755 8600 0000")));
        assert!(l.contains(&num("01012345678")));
        assert!(!l.contains(&num("13800138001")));
        assert!(!l.contains(&Number::ANONYMOUS));
        assert!(l.contains_str("138x", &TestCountries).is_err());
        let batch = ["13800138000", "", "13800138001", "+86 10 1234 5678"];
        assert_eq!(
            l.contains_many(&batch, &TestCountries).unwrap(),
            [true, false, false, true]
        );
        let (at, _) = l.contains_many(&["110", "x"], &TestCountries).unwrap_err();
        assert_eq!(at, 1);
    }

    #[test]
    fn list_files_comments_and_bad_lines() {
        let text = "\u{feff}# fraud list\n13700000000\n\n150 0000 0000   # reported 2026-01\n  # indented comment\nabc\n021-0000-0000\r\nanonymous\n+86+138\n+86 186 0000 0000\n";
        let (l, problems) =
            NumberList::from_text("fraud.txt", text, &TestCountries, ListOptions::default());
        let got: Vec<String> = l.numbers().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            ["02100000000", "13700000000", "15000000000", "18600000000"]
        );
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [6, 8, 9]);
        assert!(problems.iter().all(|p| p.source == "fraud.txt"));
        assert!(
            problems[0].reason.contains("'a' at position 0"),
            "{}",
            problems[0]
        );
        assert!(problems[1].reason.contains("anonymous"), "{}", problems[1]);
        assert!(
            problems[2].to_string().starts_with("fraud.txt:9: "),
            "{}",
            problems[2]
        );
        let e: Error = problems[0].clone().into();
        assert!(matches!(e, Error::BadList { line: 6, .. }));
    }

    #[test]
    fn a_file_line_that_is_not_utf8_is_named_and_the_rest_load() {
        // 张 in GBK (0xD5 0xC5) after a number, then good lines after it.
        let bytes = b"13700000000 # \xd5\xc5\n13800000000 \xd5\xc5\nabc\r\n15000000000\n";
        let (l, problems) =
            NumberList::from_file_bytes("gbk.txt", bytes, &TestCountries, ListOptions::default());
        let got: Vec<String> = l.numbers().iter().map(ToString::to_string).collect();
        assert_eq!(got, ["13700000000", "15000000000"]);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("gbk.txt:2: not UTF-8 text (GBK perhaps?): byte 13 "),
            "{shown:?}"
        );
        assert!(shown[1].starts_with("gbk.txt:3: "), "{shown:?}");
    }

    #[test]
    fn constructor_refuses_bad_and_anonymous_entries() {
        let e = NumberList::from_numbers(
            ["13800138000", "nope"],
            &TestCountries,
            ListOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("numbers[1]: "), "{e}");
        let e =
            NumberList::from_numbers(["", "13800138000"], &TestCountries, ListOptions::default())
                .unwrap_err();
        assert!(e.to_string().contains("anonymous"), "{e}");
        assert!(ListOptions::new(0, 0.0).is_err());
        assert!(ListOptions::new(0, 1.0).is_err());
        assert!(ListOptions::new(0, f64::NAN).is_err());
    }

    #[test]
    fn live_add_and_remove() {
        let l = list(&["13800138000", "13900139000"]);
        assert_eq!(l.add(&num("13700137000")), Ok(true));
        assert_eq!(l.add(&num("137 0013 7000")), Ok(false));
        assert_eq!(l.add(&num("13800138000")), Ok(false));
        assert!(l.add(&Number::ANONYMOUS).is_err());
        assert!(l.contains(&num("13700137000")));
        assert!(l.remove(&num("13800138000")));
        assert!(!l.remove(&num("13800138000")));
        assert!(!l.contains(&num("13800138000")));
        assert!(!l.remove(&num("13600136000")));
        assert_eq!(l.len(), 2);
        l.compact();
        assert_eq!(l.len(), 2);
        assert!(l.contains(&num("13700137000")) && l.contains(&num("13900139000")));
        assert!(!l.contains(&num("13800138000")));
        assert_eq!(l.add(&num("13800138000")), Ok(true));
        assert!(l.contains(&num("13800138000")));
    }

    #[test]
    fn numbers_without_a_key() {
        let long = "00123456789012345678"; // 20 digits: no key
        assert!(num(long).digits.key().is_none());
        let l = list(&[long]);
        assert!(l.contains(&num(long)));
        assert!(!l.contains(&num("00123456789012345679")));
        assert!(l.remove(&num(long)));
        assert!(!l.contains(&num(long)));
        assert_eq!(l.add(&num(long)), Ok(true));
        let back = NumberList::from_bytes(&l.to_bytes(), 0).unwrap();
        assert!(back.contains(&num(long)));
    }

    #[test]
    fn national_forms_of_up_to_22_digits_are_listed_and_saved() {
        // `+` and 19 or 20 digits: the national form `00…` has 21 or 22.
        let plus = [
            "+1".to_string() + &"2".repeat(18),
            "+1".to_string() + &"3".repeat(19),
        ];
        let l = list(&[
            plus[0].as_str(),
            plus[1].as_str(),
            "00123456789012345678",
            "13800138000",
        ]);
        for p in &plus {
            assert!(l.contains(&num(p)), "{p}");
        }
        let back = NumberList::from_bytes(&l.to_bytes(), 0).unwrap();
        assert_eq!(back.numbers(), l.numbers());
        assert_eq!(back.numbers().last().unwrap().len(), MAX_NATIONAL_DIGITS);
        // A list saved by format 1 (20-digit long entries) still loads.
        let mut v1 = l.to_bytes()[..HEADER].to_vec();
        v1[4..8].copy_from_slice(&1u32.to_le_bytes());
        v1[16..24].copy_from_slice(&0u64.to_le_bytes());
        v1[24..32].copy_from_slice(&1u64.to_le_bytes());
        v1.extend_from_slice(b"00123456789012345678");
        let old = NumberList::from_bytes(&v1, 0).unwrap();
        assert_eq!(old.numbers(), [num("00123456789012345678").digits]);
        let mut future = v1.clone();
        future[4..8].copy_from_slice(&3u32.to_le_bytes());
        assert!(NumberList::from_bytes(&future, 0).is_err());
    }

    #[test]
    fn bytes_round_trip_and_refusals() {
        let l = list(&["13800138000", "075586000000", "110", "0014155550100"]);
        l.add(&num("13700137000")).unwrap();
        l.remove(&num("110"));
        let bytes = l.to_bytes();
        let back = NumberList::from_bytes(&bytes, 100).unwrap();
        assert_eq!(back.numbers(), l.numbers());
        assert!((back.fp_rate() - l.fp_rate()).abs() < f64::EPSILON);
        assert!(NumberList::from_bytes(&bytes[..bytes.len() - 1], 0).is_err());
        assert!(NumberList::from_bytes(b"nonsense", 0).is_err());
        let mut zero_key = bytes.clone();
        zero_key[HEADER..HEADER + 8].copy_from_slice(&0u64.to_le_bytes());
        assert!(NumberList::from_bytes(&zero_key, 0).is_err());
        let mut huge = bytes.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(NumberList::from_bytes(&huge, 0).is_err());
    }

    #[test]
    fn auto_compaction_grows_the_filter() {
        let l = NumberList::new(ListOptions::default());
        for i in 0..20_000u64 {
            let n = Number {
                digits: Digits::from_ascii(format!("1380{i:07}").as_bytes()).unwrap(),
                kind: Kind::Mobile,
            };
            assert_eq!(l.add(&n), Ok(true));
        }
        assert_eq!(l.len(), 20_000);
        let base = l.base.load();
        assert!(base.capacity >= 20_000, "{}", base.capacity);
        assert!(base.len() >= AUTO_COMPACT_MIN);
        drop(base);
        let misses = (0..100_000u64)
            .filter(|i| l.contains(&num(&format!("1390{i:07}"))))
            .count();
        assert_eq!(misses, 0);
    }

    #[test]
    fn no_false_positive_and_memory_at_scale() {
        // 2 million numbers with a stride: every number between them is a miss.
        let n = 2_000_000u64;
        let start = 13_000_000_000u64;
        let keys: Vec<u64> = (0..n)
            .map(|i| {
                Digits::from_ascii((start + i * 3).to_string().as_bytes())
                    .unwrap()
                    .key()
                    .unwrap()
            })
            .collect();
        let l = NumberList::from_base(
            Base::build(keys, 0, DEFAULT_FP_RATE),
            HashSet::new(),
            DEFAULT_FP_RATE,
        );
        assert_eq!(l.len(), n as usize);
        let per = l.memory_bytes() as f64 / n as f64;
        assert!(per <= 12.0, "{per} bytes a number");
        let d = |v: u64| Number {
            digits: Digits::from_ascii(v.to_string().as_bytes()).unwrap(),
            kind: Kind::Mobile,
        };
        for i in (0..n).step_by(7) {
            assert!(l.contains(&d(start + i * 3)));
            assert!(!l.contains(&d(start + i * 3 + 1)));
            assert!(!l.contains(&d(start + i * 3 + 2)));
        }
    }

    #[test]
    fn readers_never_see_a_false_answer_while_writers_work() {
        let l = list(&["13800000000"]);
        let stable: Vec<Number> = (0..1000).map(|i| num(&format!("1390000{i:04}"))).collect();
        let absent: Vec<Number> = (0..1000).map(|i| num(&format!("1370000{i:04}"))).collect();
        for n in &stable {
            l.add(n).unwrap();
        }
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !done.load(SeqCst) {
                        assert!(stable.iter().all(|n| l.contains(n)));
                        assert!(!absent.iter().any(|n| l.contains(n)));
                    }
                });
            }
            s.spawn(|| {
                for round in 0..300 {
                    for i in 0..50 {
                        let churn = num(&format!("1360000{:04}", (round * 50 + i) % 9999));
                        l.add(&churn).unwrap();
                        l.remove(&churn);
                    }
                    if round % 50 == 0 {
                        l.compact();
                    }
                }
                done.store(true, SeqCst);
            });
        });
    }

    proptest! {
        #[test]
        fn plain_digits_agree_with_the_normaliser(digits in "(86|0086|00|0|1)?[0-9]{0,21}") {
            if let Some(plain) = plain_digits(&digits) {
                prop_assert_eq!(plain, number::normalize(&digits, &TestCountries).unwrap().digits);
            }
        }

        #[test]
        fn plain_keys_agree_with_digit_keys(
            digits in "(86|0086|00|0|1)?[0-9]{0,21}|[0-9]{0,12}[a-z+ :/\u{0}\u{7f}é٣-][0-9]{0,12}"
        ) {
            prop_assert_eq!(plain_key(&digits), plain_digits(&digits).and_then(|d| d.key()));
        }

        #[test]
        fn base_finds_exactly_its_keys_however_they_cluster(
            spread in proptest::collection::vec(any::<u64>(), 0..300),
            crowd in 0u64..500,
            stride in 1u64..9,
            probes in proptest::collection::vec(any::<u64>(), 0..100),
        ) {
            // Random keys (sparse) beside a crowd `stride` apart, as numbers of one segment.
            let mut keys: HashSet<u64> = spread.iter().copied().collect();
            keys.extend((0..crowd).map(|i| 13_800_000_000 + stride * i));
            let base = Base::build(keys.iter().copied().collect(), 0, 0.01);
            prop_assert_eq!(base.len(), keys.len());
            for &k in &keys {
                prop_assert!(base.contains_key(k));
            }
            let near = (0..crowd * stride + 2).map(|i| 13_799_999_999 + i);
            for k in probes.into_iter().chain(near).chain([0, 1, u64::MAX]) {
                prop_assert_eq!(base.contains_key(k), keys.contains(&k), "{}", k);
            }
            let mut expected: Vec<u64> = keys.into_iter().collect();
            expected.sort_unstable();
            let mut listed: Vec<u64> = base.keys().collect();
            listed.sort_unstable();
            prop_assert_eq!(listed, expected);
        }

        #[test]
        fn recent_answers_are_the_tables(
            keys in proptest::collection::hash_set(13_000_000_000u64..13_000_100_000, 1..400),
            probes in proptest::collection::vec(13_000_000_000u64..13_000_100_000, 0..300),
        ) {
            let base = Base::build_with_recent_from(keys.iter().copied().collect(), 0, 0.01, 0);
            prop_assert!(base.recent.is_some());
            // Twice each: the second answer of a sampled key comes from the cache.
            for k in keys.iter().chain(&probes).chain(keys.iter()).chain(&probes) {
                prop_assert_eq!(base.contains_filtered(*k, bloom::hash(*k)), keys.contains(k), "{}", k);
            }
        }
    }

    #[test]
    fn a_large_scattered_table_keeps_recent_answers_and_a_dense_list_none() {
        let mut next = crate::xorshift();
        let scattered: Vec<u64> = scattered_mobiles(2_500_000, &mut next);
        let base = Base::build(scattered, 0, 0.01);
        assert!(matches!(base.store, Store::Table(_)));
        assert!(
            base.recent.is_some(),
            "a table of {} bytes",
            base.memory_bytes()
        );
        let small = Base::build(scattered_mobiles(100_000, &mut next), 0, 0.01);
        assert!(
            small.recent.is_none(),
            "a small table stays in the CPU's cache"
        );
        let dense = Base::build(
            (0..3_000_000).map(|i| 13_000_000_000 + 7 * i).collect(),
            0,
            0.01,
        );
        assert!(
            dense.recent.is_none(),
            "a dense run's bit answers in one line already"
        );
    }

    /// `n` mobile numbers drawn at random over 130 0000 0000 to 199 9999 9999.
    fn scattered_mobiles(n: usize, next: &mut impl FnMut() -> u64) -> Vec<u64> {
        (0..n)
            .map(|_| 13_000_000_000 + next() % 7_000_000_000)
            .collect()
    }

    /// A list of the mobile numbers `numbers` whose base and every compaction's
    /// keep recent answers, however small.
    fn list_with_recent_answers(numbers: &[u64]) -> NumberList {
        let keys = numbers.iter().map(|&n| key_of(n)).collect();
        let base = Base::build_with_recent_from(keys, 0, 0.01, 0);
        let mut list = NumberList::from_base(base, HashSet::new(), 0.01);
        list.recent_min_table_bytes = 0;
        list
    }

    fn key_of(number: u64) -> u64 {
        plain_key(&number.to_string()).unwrap()
    }

    fn listed(list: &NumberList, number: u64) -> bool {
        list.contains_key(key_of(number))
    }

    fn add(list: &NumberList, number: u64) -> bool {
        list.add(&num(&number.to_string())).unwrap()
    }

    fn remove(list: &NumberList, number: u64) -> bool {
        list.remove(&num(&number.to_string()))
    }

    /// Asks every number of `asked` `rounds` times, checking each answer against `model`.
    fn ask_all(list: &NumberList, asked: &[u64], model: &HashSet<u64>, rounds: usize, step: &str) {
        for _ in 0..rounds {
            for &n in asked {
                assert_eq!(listed(list, n), model.contains(&n), "{step}: {n}");
            }
        }
    }

    #[test]
    fn recent_answers_never_outlive_a_live_change_or_a_compaction() {
        let mut next = crate::xorshift();
        let numbers: Vec<u64> = scattered_mobiles(20_000, &mut next);
        let mut model: HashSet<u64> = numbers.iter().copied().collect();
        let list = list_with_recent_answers(&numbers);
        let fresh: Vec<u64> = (0..2_000)
            .map(|i| numbers[i] + 1)
            .filter(|n| !model.contains(n))
            .collect();
        let asked: Vec<u64> = numbers[..2_000].iter().chain(&fresh).copied().collect();
        ask_all(&list, &asked, &model, 40, "warm");
        assert!(list
            .base
            .load()
            .recent
            .as_ref()
            .is_some_and(RecentAnswers::in_use));
        // A listed number removed and added back, a new one added and removed: no
        // change is pending after either, so the cached answers decide again.
        for (&old, &new) in numbers[..300].iter().zip(&fresh) {
            assert!(remove(&list, old));
            assert!(!listed(&list, old));
            assert!(add(&list, old));
            assert!(add(&list, new));
            assert!(listed(&list, new));
            assert!(remove(&list, new));
        }
        assert!(!list.changed.load(SeqCst));
        ask_all(&list, &asked, &model, 3, "back as it was");
        // Changes left pending, then compacted into a new base with its own answers.
        for (&old, &new) in numbers[300..600].iter().zip(&fresh[300..]) {
            assert!(remove(&list, old));
            assert!(add(&list, new));
            model.remove(&old);
            model.insert(new);
        }
        ask_all(&list, &asked, &model, 3, "pending");
        list.compact();
        assert!(list.base.load().recent.is_some());
        ask_all(&list, &asked, &model, 40, "compacted");
    }

    #[test]
    fn recent_answers_stay_true_while_threads_read_and_one_writes() {
        let mut next = crate::xorshift();
        let stable: Vec<u64> = (0..3_000)
            .map(|_| 13_000_000_000 + next() % 3_000_000_000)
            .collect();
        let absent: Vec<u64> = (0..3_000)
            .map(|_| 16_000_000_000 + next() % 3_000_000_000)
            .collect();
        let churn: Vec<u64> = (0..300).map(|i| 19_500_000_000 + 7 * i).collect();
        let list = list_with_recent_answers(&stable);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !stop.load(SeqCst) {
                        assert!(stable.iter().all(|&n| listed(&list, n)));
                        assert!(!absent.iter().any(|&n| listed(&list, n)));
                    }
                });
            }
            for round in 0..30 {
                for &n in &churn {
                    assert!(add(&list, n));
                }
                assert!(churn.iter().all(|&n| listed(&list, n)));
                for &n in &churn {
                    assert!(remove(&list, n));
                }
                assert!(!churn.iter().any(|&n| listed(&list, n)));
                if round % 5 == 4 {
                    for &n in &churn {
                        assert!(add(&list, n));
                    }
                    list.compact();
                    assert!(churn.iter().all(|&n| listed(&list, n)));
                    for &n in &churn {
                        assert!(remove(&list, n));
                    }
                    list.compact();
                }
            }
            stop.store(true, SeqCst);
        });
        assert!(!churn.iter().any(|&n| listed(&list, n)));
    }

    #[test]
    fn repeated_lookups_put_recent_answers_in_use_and_stay_true() {
        let mut next = crate::xorshift();
        let keys: Vec<u64> = scattered_mobiles(20_000, &mut next);
        let listed: HashSet<u64> = keys.iter().copied().collect();
        let base = Base::build_with_recent_from(keys.clone(), 0, 0.01, 0);
        let probes: Vec<u64> = (0..4_000)
            .map(|i| if i % 2 == 0 { keys[i] } else { keys[i] + 1 })
            .collect();
        for _ in 0..40 {
            for &k in &probes {
                assert_eq!(
                    base.contains_filtered(k, bloom::hash(k)),
                    listed.contains(&k),
                    "{k}"
                );
            }
        }
        assert!(base.recent.as_ref().is_some_and(RecentAnswers::in_use));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u16),
        Remove(u16),
        Compact,
    }

    /// A small universe so that adds and removes collide; one in eight is a 20-digit number.
    fn universe(i: u16) -> Number {
        let s = if i % 8 == 7 {
            format!("0012345678901234{i:04}")
        } else {
            format!("1380000{i:04}")
        };
        num(&s)
    }

    proptest! {
        #[test]
        fn matches_a_hash_set_model(
            initial in proptest::collection::vec(0u16..600, 0..300),
            ops in proptest::collection::vec(prop_oneof![
                8 => (0u16..600).prop_map(Op::Add),
                8 => (0u16..600).prop_map(Op::Remove),
                1 => Just(Op::Compact),
            ], 0..200),
        ) {
            let mut model: HashSet<u16> = initial.iter().copied().collect();
            let strings: Vec<String> = initial.iter().map(|&i| universe(i).as_str().to_string()).collect();
            let l = NumberList::from_numbers(&strings, &TestCountries, ListOptions::default()).unwrap();
            for op in ops {
                match op {
                    Op::Add(i) => prop_assert_eq!(l.add(&universe(i)), Ok(model.insert(i))),
                    Op::Remove(i) => prop_assert_eq!(l.remove(&universe(i)), model.remove(&i)),
                    Op::Compact => l.compact(),
                }
                prop_assert_eq!(l.len(), model.len());
            }
            for i in 0..600u16 {
                prop_assert_eq!(l.contains(&universe(i)), model.contains(&i), "{}", i);
            }
            let all: Vec<Digits> = (0..600u16).map(|i| universe(i).digits).collect();
            let mut batch = Vec::new();
            l.contains_into(&all, &mut batch);
            prop_assert_eq!(batch, (0..600u16).map(|i| model.contains(&i)).collect::<Vec<_>>());
            let back = NumberList::from_bytes(&l.to_bytes(), 0).unwrap();
            prop_assert_eq!(back.numbers(), l.numbers());
        }
    }

    #[test]
    fn a_dense_block_answers_exactly_through_changes_and_compaction() {
        // 20,000 neighbouring numbers (kept as bitmaps), every third of the next
        // 30,000 (one in three: dense too), and scattered numbers beside them.
        let mut model: HashSet<u64> = (0..20_000).map(|i| 13_800_000_000 + i).collect();
        model.extend((20_000..50_000).step_by(3).map(|i| 13_800_000_000 + i));
        model.extend((0..500).map(|i| 15_900_000_000 + 7_919 * i));
        let strings: Vec<String> = model.iter().map(u64::to_string).collect();
        let l = NumberList::from_numbers(&strings, &TestCountries, ListOptions::default()).unwrap();
        // Most of the block: a chunk it only reaches into holds too few to be dense.
        let dense = l.base.load().dense_len();
        assert!(dense >= 25_000, "{dense} numbers in bitmaps");
        // The filter is for the others only: a dense run's bitmap answers alone,
        // and room for live adds is the live filter's.
        let roomy = ListOptions {
            expected: 1_000_000,
            ..ListOptions::default()
        };
        let spacious = NumberList::from_numbers(&strings, &TestCountries, roomy).unwrap();
        for list in [&l, &spacious] {
            match &list.base.load().store {
                Store::Split { bloom, exact } => assert_eq!(bloom.capacity(), exact.len() - dense),
                Store::Table(_) => panic!("a list with dense runs is split"),
            }
        }
        let probes: Vec<u64> = (13_799_999_000..13_800_060_000)
            .chain((0..2_000).map(|i| 15_900_000_000 + 3_959 * i))
            .collect();
        let check = |l: &NumberList, model: &HashSet<u64>| {
            let every: Vec<u64> = probes.iter().chain(model).copied().collect();
            for k in &every {
                assert_eq!(l.contains(&num(&k.to_string())), model.contains(k), "{k}");
            }
            let digits: Vec<Digits> = every.iter().map(|k| num(&k.to_string()).digits).collect();
            let mut batch = Vec::new();
            l.contains_into(&digits, &mut batch);
            let expected: Vec<bool> = every.iter().map(|k| model.contains(k)).collect();
            assert_eq!(batch, expected);
            assert_eq!(l.len(), model.len());
        };
        check(&l, &model);
        for k in (13_800_000_000..13_800_000_100).chain([13_800_040_001, 15_900_000_000]) {
            assert_eq!(l.remove(&num(&k.to_string())), model.remove(&k));
            assert!(l.add(&num(&(k + 50_000).to_string())).unwrap());
            model.insert(k + 50_000);
        }
        check(&l, &model);
        l.compact();
        check(&l, &model);
        let back = NumberList::from_bytes(&l.to_bytes(), 0).unwrap();
        check(&back, &model);
    }

    #[test]
    fn eight_digits_reads_digits_and_refuses_their_neighbours() {
        assert_eq!(eight_digits(*b"00000000"), Some(0));
        assert_eq!(eight_digits(*b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(*b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(*b"13800138"), Some(13_800_138));
        // '/' and ':' sit just below '0' and just above '9'; others share a nibble with digits.
        for bad in [
            b'/',
            b':',
            b' ',
            b'\0',
            0x39 + 0x10,
            0x30 - 0x10,
            0xB0,
            0xFF,
        ] {
            for at in 0..8 {
                let mut bytes = *b"55555555";
                bytes[at] = bad;
                assert_eq!(eight_digits(bytes), None, "{bytes:?}");
            }
        }
        assert_eq!(plain_key("13800138000"), Some(ONES[11] + 13_800_138_000));
        assert_eq!(plain_key("1380013800x"), None);
    }

    /// Not a test: a list's lookups at ten million numbers against rbloom's shape
    /// (the bench/README.md lists rows). One lookup at a time: each key depends on
    /// the answer before; "independent": lookups with arithmetic between them
    /// standing for the interpreter. `MEASURE_N` numbers, `MEASURE_STRIDE` apart
    /// (7: dense, split form with bitmaps; 9: evenly spread, a table), or with
    /// `MEASURE_STRIDE=0` random over every mobile segment
    /// (`bench/test_bench_lists.py`'s `scattered`, a table).
    #[test]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    fn measure_listed_lookups() {
        use std::time::Instant;
        let env =
            |name: &str, default: u64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
        let (n, stride) = (env("MEASURE_N", 10_000_000), env("MEASURE_STRIDE", 7));
        let first = plain_key("13000000000").unwrap();
        let mut next = crate::xorshift();
        let keys: Vec<u64> = (0..n)
            .map(|i| match stride {
                0 => first + next() % 7_000_000_000,
                _ => first + stride * i,
            })
            .collect();
        let probes: Vec<u64> = (0..400_000).map(|_| keys[(next() % n) as usize]).collect();
        let keys_for_classic = keys.clone();
        let base = Base::build(keys, 0, 0.01);
        let time = |name: &str, f: &dyn Fn(u64) -> bool| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                let mut at = 0usize;
                for _ in 0..probes.len() {
                    at = (at + usize::from(f(probes[at % probes.len()]))) % probes.len() + 1;
                }
                std::hint::black_box(at);
                best = best.min(t.elapsed().as_nanos() as f64 / probes.len() as f64);
            }
            println!("{name:<40} {best:6.1} ns");
        };
        // As from Python: the next lookup does not wait for this one's answer, and
        // `MEASURE_WORK` rounds of arithmetic stand for the interpreter between calls.
        let work = env("MEASURE_WORK", 40);
        let time_free = |name: &str, f: &dyn Fn(u64) -> bool| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                let (mut hits, mut x) = (0usize, 1u64);
                for &k in &probes {
                    hits += usize::from(f(k));
                    for _ in 0..work {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) + 1);
                    }
                }
                std::hint::black_box((hits, x));
                best = best.min(t.elapsed().as_nanos() as f64 / probes.len() as f64);
            }
            println!("{name:<40} {best:6.1} ns (independent)");
        };
        // rbloom's shape: one bit array of 9.6 bits a key, seven probes anywhere in it.
        let m = (n as f64 * 9.585) as u64;
        let mut classic = vec![0u64; (m / 64 + 1) as usize];
        let probes_of = |k: u64| {
            let (h1, h2) = (bloom::hash(k), bloom::hash(k ^ 0x9e37_79b9) | 1);
            (0..7u64).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
        };
        for &k in &keys_for_classic {
            for bit in probes_of(k) {
                classic[(bit / 64) as usize] |= 1 << (bit % 64);
            }
        }
        let classic_contains =
            |k: u64| probes_of(k).all(|bit| classic[(bit / 64) as usize] >> (bit % 64) & 1 == 1);
        time_free("nothing (the work alone)", &|k| k == 0);
        time("classic bloom (rbloom's shape)", &classic_contains);
        time_free("classic bloom (rbloom's shape)", &classic_contains);
        let shipped = |k: u64| base.contains_filtered(k, bloom::hash(k));
        time("as shipped", &shipped);
        time_free("as shipped", &shipped);
        time("as shipped, not listed", &|k| shipped(k + 1));
        time_free("as shipped, not listed", &|k| shipped(k + 1));
        time_free("filter only", &|k| base.filter_holds(k, bloom::hash(k)));
        time_free("exact only", &|k| base.contains_key(k));
        let form = match &base.store {
            Store::Table(_) => "table of lines with their filter words".to_string(),
            Store::Split { exact, .. } => {
                format!(
                    "split, {} of {} keys in bitmaps",
                    exact.dense_len(),
                    exact.len()
                )
            }
        };
        println!("{form}: {:.1} MB", base.memory_bytes() as f64 / 1e6);
    }
}
