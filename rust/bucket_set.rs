//! A static set of `u64` keys in which one cache line decides each lookup: how a
//! number list keeps its scattered keys (see `lists`), optionally with a word of
//! Bloom filter at the start of each bucket's line.
//!
//! **Why.** A listed number is confirmed after the list's filter says "maybe".
//! In [`crate::elias_fano`] form that confirmation is a chain of dependent reads
//! (a count, a select, the low parts), and at ten million scattered numbers it
//! cost about twice the filter's own line (bench/README.md). Here the key
//! addresses its line directly, and with the filter's block inside that line
//! ([`BucketSet::with_filter`]) a lookup, listed or not, is one wait for memory
//! and one line of cache. The price is space: about 4 bytes a scattered mobile
//! number (3.5 without the filter) against Elias–Fano's 1.5 (and a filter's
//! 1.2), well inside a list's budget of 12. From Python, a listed number at ten
//! million went from 0.93× rbloom's speed (Elias–Fano) to 1.04–1.11× (a filter
//! block in a second line beside the keys') to 1.15–1.27× (one line), with
//! lookups of other work in between (bench/README.md).
//!
//! # Layout
//!
//! With `min` the least key and `width` the bits of `max - min`, a key's offset
//! `k - min` is *permuted*: mixed by a bijection of `width`-bit numbers, so that
//! runs and strides of numbers spread evenly. Its place in the permuted range
//! picks one of `buckets` (Lemire's multiply-shift on the high bits); a bucket is
//! one 64-byte line of *lanes* (16 or 32 bits, the narrower that fits):
//!
//! - with a filter, the first 64 bits are the bucket's filter word (the bits of
//!   [`bloom::word_mask`] of each key's [`bloom::hash`]);
//! - the last lane holds the bucket's count, or `Lanes::OVERFLOW` when the
//!   bucket filled and its further keys went to `stash`;
//! - the lanes between hold the low `rem_bits` bits of the permuted offsets in
//!   the bucket. A bucket covers at most `2^rem_bits` consecutive permuted values,
//!   so those bits tell its keys apart, and with the bucket they give the key
//!   back (the permutation is inverted to list the keys). Remainders have fewer
//!   bits than a lane, so an empty lane holds all ones, which none equals, and
//!   a lookup compares every lane without reading the count first.
//!
//! Buckets are sized for about `LOAD` (60%) of their lanes filled, so a bucket
//! overflows rarely (Poisson tail: 0.3% of buckets at 16-bit lanes, 0.5% with
//! a filter word) and the stash holds a few keys in a thousand. Where the keys
//! span so much that remainders fit 32-bit lanes only with more than
//! [`MAX_BYTES_PER_KEY`] of buckets (numbers of very different lengths in one
//! list), [`BucketSet::new`] returns `None` and the caller keeps Elias–Fano form.

use crate::bloom;
use crate::hugemem::{self, HugeWords};

/// Words in a cache line: a bucket's.
const LINE_WORDS: usize = 8;
/// The share of a bucket's lanes that keys fill on average.
const LOAD: f64 = 0.6;
/// Tables of at most this many buckets are built whatever they cost a key.
const SMALL_BUCKETS: usize = 64;
/// The most a table may cost a key before Elias–Fano form is kept instead.
pub const MAX_BYTES_PER_KEY: f64 = 9.0;

/// The bijection of `width`-bit numbers that spreads keys: xor-shift, multiply,
/// xor-shift, multiply, xor-shift (`MurmurHash3`'s finaliser, cut to `width` bits).
/// A shift of at least half the width makes each xor-shift its own inverse.
#[derive(Debug, Clone, Copy)]
struct Permutation {
    mask: u64,
    shift: u32,
}

const MIX1: u64 = 0xff51_afd7_ed55_8ccd;
const MIX2: u64 = 0xc4ce_b9fe_1a85_ec53;

impl Permutation {
    fn new(width: u32) -> Permutation {
        Permutation {
            mask: if width == 64 {
                u64::MAX
            } else {
                (1 << width) - 1
            },
            shift: width.div_ceil(2).max(1),
        }
    }

    #[inline]
    fn apply(self, x: u64) -> u64 {
        let mut p = x ^ (x >> self.shift);
        p = p.wrapping_mul(MIX1) & self.mask;
        p ^= p >> self.shift;
        p = p.wrapping_mul(MIX2) & self.mask;
        p ^ (p >> self.shift)
    }

    fn invert(self, p: u64) -> u64 {
        let mut x = p ^ (p >> self.shift);
        x = x.wrapping_mul(inverse(MIX2)) & self.mask;
        x ^= x >> self.shift;
        x = x.wrapping_mul(inverse(MIX1)) & self.mask;
        x ^ (x >> self.shift)
    }
}

/// The inverse of an odd number modulo 2^64 (Newton's iteration: each step
/// doubles the bits that are right, from 3 correct bits).
const fn inverse(odd: u64) -> u64 {
    let mut x = odd;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// One lane type of a bucket line.
trait Lanes: bytemuck::Pod + Eq {
    const BITS: u32;
    /// Lanes in a line, the count's included.
    const PER_LINE: usize = 512 / Self::BITS as usize;
    /// Lanes before the count: for keys, after the filter word when there is one.
    const SLOTS: usize = Self::PER_LINE - 1;
    /// Lanes that the filter word of a filtered line takes, at its start.
    const FILTER_LANES: usize = 64 / Self::BITS as usize;
    /// The count of a bucket whose further keys are in the stash.
    const OVERFLOW: u64 = Self::SLOTS as u64 + 1;
    /// An empty lane: all ones, above every remainder (they have fewer bits than a lane).
    const EMPTY: u64 = (1 << (Self::BITS - 1) << 1) - 1;
    fn from_u64(v: u64) -> Self;
    fn to_u64(self) -> u64;
}

macro_rules! lanes {
    ($t:ty) => {
        impl Lanes for $t {
            const BITS: u32 = <$t>::BITS;
            #[inline]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
            #[inline]
            fn to_u64(self) -> u64 {
                u64::from(self)
            }
        }
    };
}
lanes!(u16);
lanes!(u32);

/// What one bucket line says of a key.
#[derive(Debug, PartialEq)]
enum Probe {
    Found,
    Absent,
    /// Not in the line, and the bucket overflowed: ask the stash.
    Overflowed,
}

/// The first lane for keys in a line (after the filter word when `FILTERED`).
const fn first_slot<L: Lanes, const FILTERED: bool>() -> usize {
    if FILTERED {
        L::FILTER_LANES
    } else {
        0
    }
}

#[inline]
fn probe<L: Lanes, const FILTERED: bool>(line: &[u64], rem: u64) -> Probe {
    let lanes: &[L] = bytemuck::cast_slice(line);
    let rem = L::from_u64(rem);
    // Every key lane is compared, branch-free: the loop vectorises. An empty lane
    // holds [`Lanes::EMPTY`], which no remainder equals.
    let hits = lanes[first_slot::<L, FILTERED>()..L::SLOTS]
        .iter()
        .fold(0u8, |hits, &lane| hits | u8::from(lane == rem));
    if hits != 0 {
        Probe::Found
    } else if lanes[L::SLOTS].to_u64() == L::OVERFLOW {
        Probe::Overflowed
    } else {
        Probe::Absent
    }
}

/// A static set of distinct `u64`s; see the module docs.
#[derive(Debug)]
pub struct BucketSet {
    min: u64,
    /// Bits of the permuted range: offsets lie in `0..2^width`.
    width: u32,
    permutation: Permutation,
    buckets: usize,
    /// Bits of a permuted offset kept in its lane.
    rem_bits: u32,
    /// 16 or 32.
    lane_bits: u32,
    /// Whether each bucket's line starts with a filter word (see [`BucketSet::with_filter`]).
    filtered: bool,
    /// One line per bucket: its filter word when `filtered`, its lanes, its count.
    words: HugeWords,
    /// Keys of overflowed buckets, ascending (as they came).
    stash: Vec<u64>,
    len: usize,
}

/// Where a key lies: the first word of its bucket's line and its remainder.
#[derive(Clone, Copy)]
struct Place {
    at: usize,
    rem: u64,
}

impl BucketSet {
    /// The set of `keys`, which must be strictly ascending, or `None` when the
    /// table would cost more than [`MAX_BYTES_PER_KEY`] a key. O(n).
    ///
    /// # Panics
    /// If `keys` is not strictly ascending.
    pub fn new(keys: &[u64]) -> Option<BucketSet> {
        BucketSet::build(keys, false, MAX_BYTES_PER_KEY)
    }

    /// The set of `keys` (as [`BucketSet::new`]) with a blocked Bloom filter of
    /// the keys' [`bloom::hash`]es whose blocks are one word, the first of each
    /// bucket's line: a lookup reads one line, whose filter word answers "not
    /// listed" for most keys ([`bloom::word_mask`]: about 1 in 6 of them passes
    /// at the usual load) before its lanes are compared. The word takes the
    /// place of 4 of the 32 16-bit lanes (2 of the 16 32-bit ones), so a table
    /// costs about 4 bytes a key where a plain one costs 3.5 (16-bit lanes;
    /// about 8.2 against 7.1 with 32-bit ones). `None` when it would pass
    /// `max_bytes_per_key`.
    ///
    /// # Panics
    /// If `keys` is not strictly ascending.
    pub fn with_filter(keys: &[u64], max_bytes_per_key: f64) -> Option<BucketSet> {
        BucketSet::build(keys, true, max_bytes_per_key)
    }

    fn build(keys: &[u64], filtered: bool, max_bytes_per_key: f64) -> Option<BucketSet> {
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "bucket set keys must be strictly ascending"
        );
        let (min, max) = match (keys.first(), keys.last()) {
            (Some(&min), Some(&max)) => (min, max),
            _ => (0, 0),
        };
        let width = 64 - (max - min).leading_zeros();
        let (lane_bits, buckets, rem_bits) =
            shape(width, keys.len(), filtered, max_bytes_per_key / 64.0)?;
        let buckets = if keys.is_empty() { 0 } else { buckets };
        let mut set = BucketSet {
            min,
            width,
            permutation: Permutation::new(width),
            buckets,
            rem_bits,
            lane_bits,
            filtered,
            words: HugeWords::zeroed(buckets * LINE_WORDS),
            stash: Vec::new(),
            len: keys.len(),
        };
        match (lane_bits, filtered) {
            (16, false) => set.fill::<u16, false>(keys),
            (16, true) => set.fill::<u16, true>(keys),
            (_, false) => set.fill::<u32, false>(keys),
            (_, true) => set.fill::<u32, true>(keys),
        }
        Some(set)
    }

    fn fill<L: Lanes, const FILTERED: bool>(&mut self, keys: &[u64]) {
        let first = first_slot::<L, FILTERED>();
        for line in self.words.chunks_exact_mut(LINE_WORDS) {
            let lanes: &mut [L] = bytemuck::cast_slice_mut(line);
            lanes[first..L::SLOTS].fill(L::from_u64(L::EMPTY));
        }
        for &key in keys {
            let place = self.place(key - self.min);
            let line = &mut self.words[place.at..place.at + LINE_WORDS];
            if FILTERED {
                line[0] |= bloom::word_mask(bloom::hash(key));
            }
            let lanes: &mut [L] = bytemuck::cast_slice_mut(line);
            let count = lanes[L::SLOTS].to_u64() as usize;
            if first + count < L::SLOTS {
                lanes[first + count] = L::from_u64(place.rem);
                lanes[L::SLOTS] = L::from_u64(count as u64 + 1);
            } else {
                lanes[L::SLOTS] = L::from_u64(L::OVERFLOW);
                self.stash.push(key);
            }
        }
    }

    /// The bucket of an offset and the low bits kept of its permuted value.
    #[inline]
    fn place(&self, offset: u64) -> Place {
        let p = self.permutation.apply(offset);
        // `p < 2^width`: scaling by `buckets` and keeping the high `width` bits
        // maps the range evenly onto `0..buckets`.
        let bucket = ((u128::from(p) * self.buckets as u128) >> self.width) as usize;
        Place {
            at: bucket * LINE_WORDS,
            rem: p & low_mask(self.rem_bits),
        }
    }

    /// Where `key` would lie, or `None` outside the set's range.
    #[inline]
    fn locate(&self, key: u64) -> Option<Place> {
        let offset = key.checked_sub(self.min)?;
        if self.buckets == 0 || (self.width < 64 && offset >> self.width != 0) {
            return None;
        }
        Some(self.place(offset))
    }

    /// The line of the bucket at `place`.
    #[inline]
    fn line(&self, place: Place) -> &[u64] {
        &self.words[place.at..place.at + LINE_WORDS]
    }

    /// Whether the key at `place` is in its bucket's lanes (or the stash).
    #[inline]
    fn in_lanes(&self, place: Place, key: u64) -> bool {
        let line = self.line(place);
        let probe = match (self.lane_bits, self.filtered) {
            (16, false) => probe::<u16, false>(line, place.rem),
            (16, true) => probe::<u16, true>(line, place.rem),
            (_, false) => probe::<u32, false>(line, place.rem),
            (_, true) => probe::<u32, true>(line, place.rem),
        };
        match probe {
            Probe::Found => true,
            Probe::Absent => false,
            Probe::Overflowed => self.stash.binary_search(&key).is_ok(),
        }
    }

    /// Whether the filter word of `key`'s bucket holds `hash` (with
    /// [`BucketSet::with_filter`]; `false`: certainly not listed).
    #[inline]
    fn word_holds(&self, place: Place, hash: u64) -> bool {
        let mask = bloom::word_mask(hash);
        self.words[place.at] & mask == mask
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes in memory. O(1).
    pub fn memory_bytes(&self) -> usize {
        self.words.resident_bytes() + self.stash.capacity() * 8
    }

    /// Whether `key` is in the set, without the filter. O(1): one line (the
    /// stash's binary search too, for the few keys of an overflowed bucket).
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        self.locate(key)
            .is_some_and(|place| self.in_lanes(place, key))
    }

    /// Whether the filter says `key` (of [`bloom::hash`] `hash`) may be listed:
    /// `false` is certain. Always `true` without a filter. O(1): one line.
    #[inline]
    pub fn filter_holds(&self, key: u64, hash: u64) -> bool {
        !self.filtered
            || self
                .locate(key)
                .is_some_and(|place| self.word_holds(place, hash))
    }

    /// [`BucketSet::contains`], answered "no" by the filter word where it can
    /// (with [`BucketSet::with_filter`]). O(1): one line.
    #[inline]
    pub fn contains_filtered(&self, key: u64, hash: u64) -> bool {
        self.locate(key).is_some_and(|place| {
            (!self.filtered || self.word_holds(place, hash)) && self.in_lanes(place, key)
        })
    }

    /// Starts loading the line a lookup of `key` reads. O(1).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if let Some(place) = self.locate(key) {
            hugemem::prefetch(&self.words[place.at]);
        }
    }

    /// Every key, in no particular order. O(buckets + n).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let lines = (0..self.buckets).flat_map(move |bucket| {
            let line = &self.words[bucket * LINE_WORDS..(bucket + 1) * LINE_WORDS];
            let rems = match (self.lane_bits, self.filtered) {
                (16, false) => rems::<u16, false>(line),
                (16, true) => rems::<u16, true>(line),
                (_, false) => rems::<u32, false>(line),
                (_, true) => rems::<u32, true>(line),
            };
            rems.into_iter().map(move |rem| self.key_of(bucket, rem))
        });
        lines.chain(self.stash.iter().copied())
    }

    /// The key whose permuted offset lies in `bucket` and ends in `rem`.
    fn key_of(&self, bucket: usize, rem: u64) -> u64 {
        // The bucket's first permuted value: the least `p` with
        // `p * buckets >> width == bucket`, that is `ceil(bucket * 2^width / buckets)`.
        let first = ((bucket as u128) << self.width).div_ceil(self.buckets as u128) as u64;
        let p = first + (rem.wrapping_sub(first) & low_mask(self.rem_bits));
        self.min + self.permutation.invert(p)
    }
}

/// The remainders a line holds.
fn rems<L: Lanes, const FILTERED: bool>(line: &[u64]) -> Vec<u64> {
    let lanes: &[L] = bytemuck::cast_slice(line);
    let first = first_slot::<L, FILTERED>();
    let count = (lanes[L::SLOTS].to_u64() as usize).min(L::SLOTS - first);
    lanes[first..first + count]
        .iter()
        .map(|&l| l.to_u64())
        .collect()
}

fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Lane width, bucket count and remainder bits for `n` keys whose offsets span
/// `width` bits (in lines that start with a filter word when `filtered`): the
/// cheapest lane width whose remainders fit, or `None` when even that needs
/// more than `max_buckets_per_key` buckets a key.
fn shape(
    width: u32,
    n: usize,
    filtered: bool,
    max_buckets_per_key: f64,
) -> Option<(u32, usize, u32)> {
    let options = [16u32, 32].map(|lane_bits| {
        let filter_lanes = if filtered { 64 / lane_bits } else { 0 };
        let slots = f64::from(512 / lane_bits - 1 - filter_lanes);
        let mut buckets = ((n as f64 / (slots * LOAD)).ceil() as usize).max(1);
        // More buckets narrow each one's range until its remainders fit the lane
        // with a bit to spare (see [`Lanes::EMPTY`]).
        if width >= lane_bits {
            buckets = buckets.max(1 << (width + 1 - lane_bits).min(40));
        }
        (lane_bits, buckets, rem_bits(width, buckets))
    });
    let (lane_bits, buckets, rem_bits) = options
        .into_iter()
        .filter(|&(lane_bits, _, rem_bits)| rem_bits < lane_bits)
        .min_by_key(|&(_, buckets, _)| buckets)?;
    // A few keys may take a few lines whatever their count.
    (buckets as f64 <= max_buckets_per_key * n as f64 || buckets <= SMALL_BUCKETS)
        .then_some((lane_bits, buckets, rem_bits))
}

/// Bits that tell apart the permuted values of one bucket: a bucket covers at
/// most `ceil(2^width / buckets)` consecutive values.
fn rem_bits(width: u32, buckets: usize) -> u32 {
    let span = (1u128 << width).div_ceil(buckets as u128);
    128 - (span - 1).leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Builds both forms of `keys` and checks every answer against a `BTreeSet`.
    fn check(keys: &[u64], probes: impl IntoIterator<Item = u64>) -> BucketSet {
        let set = BucketSet::new(keys).expect("a table");
        let filtered = BucketSet::with_filter(keys, 20.0).expect("a filtered table");
        let listed: BTreeSet<u64> = keys.iter().copied().collect();
        for s in [&set, &filtered] {
            assert_eq!(s.len(), listed.len());
            let mut back: Vec<u64> = s.iter().collect();
            back.sort_unstable();
            assert!(back.iter().eq(&listed), "iter gives the keys back");
        }
        let mut passed = 0;
        let probes: Vec<u64> = probes.into_iter().collect();
        for &k in keys.iter().chain(&probes) {
            let (expected, h) = (listed.contains(&k), bloom::hash(k));
            set.prefetch(k);
            filtered.prefetch(k);
            assert_eq!(set.contains(k), expected, "{k}");
            assert_eq!(filtered.contains(k), expected, "{k}");
            assert_eq!(filtered.contains_filtered(k, h), expected, "{k}");
            assert_eq!(set.contains_filtered(k, h), expected, "{k}");
            assert!(set.filter_holds(k, h), "no filter: always maybe");
            let maybe = filtered.filter_holds(k, h);
            assert!(maybe || !expected, "the filter never refuses a listed key");
            passed += usize::from(maybe && !expected);
        }
        // The filter word turns away most of the rest: about 5 in 6 at the
        // usual load of 16 keys a line (`bloom::word_mask`), more below it.
        assert!(passed * 5 <= probes.len().max(100), "{passed} passed");
        set
    }

    #[test]
    fn permutation_is_a_bijection_of_every_width() {
        for width in [1, 2, 3, 7, 16, 33, 63, 64] {
            let perm = Permutation::new(width);
            let mask = low_mask(width);
            let mut next = crate::xorshift();
            for _ in 0..2000 {
                let x = next() & mask;
                let p = perm.apply(x);
                assert!(p <= mask, "width {width}");
                assert_eq!(perm.invert(p), x, "width {width}");
            }
        }
        // Small widths: every value maps to a distinct one.
        for width in 1..=12 {
            let perm = Permutation::new(width);
            let image: BTreeSet<u64> = (0..1u64 << width).map(|x| perm.apply(x)).collect();
            assert_eq!(image.len(), 1 << width);
        }
    }

    #[test]
    fn empty_and_single() {
        for empty in [BucketSet::new(&[]), BucketSet::with_filter(&[], 10.0)] {
            let empty = empty.unwrap();
            assert!(empty.is_empty());
            assert!(!empty.contains(0) && !empty.contains_filtered(u64::MAX, 0));
            assert_eq!(empty.iter().count(), 0);
        }
        for k in [0, 1, 13_800_138_000, u64::MAX] {
            check(&[k], [0, 1, k.wrapping_sub(1), k.wrapping_add(1), u64::MAX]);
        }
    }

    #[test]
    fn strides_runs_and_random_keys_spread_evenly() {
        let first = 13_000_000_000u64;
        let mut next = crate::xorshift();
        let sets: [Vec<u64>; 4] = [
            (0..200_000).map(|i| first + i).collect(),
            (0..200_000).map(|i| first + 9 * i).collect(),
            (0..200_000).map(|i| first + 1000 * i).collect(),
            (0..200_000)
                .map(|_| first + next() % 7_000_000_000)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        ];
        for keys in sets {
            let probes: Vec<u64> = (0..20_000)
                .map(|_| first + next() % 7_000_000_000)
                .collect();
            let neighbours = keys.iter().take(5000).flat_map(|&k| [k - 1, k + 1]);
            let set = check(&keys, probes.into_iter().chain(neighbours));
            // Pattern in the keys must not crowd buckets: the stash stays a few in a thousand.
            assert!(
                set.stash.len() * 200 < keys.len(),
                "{} stashed",
                set.stash.len()
            );
            assert!(
                set.memory_bytes() < 5 * keys.len() + (4 << 20),
                "{} bytes",
                set.memory_bytes()
            );
        }
    }

    #[test]
    fn every_lane_width_and_overflow() {
        let mut next = crate::xorshift();
        // 16-bit lanes where remainders fit them (ten million mobiles do: 2^33 over
        // 2^19 buckets), else 32-bit (here, or 11- and 12-digit numbers together).
        for (span, lane_bits) in [(1 << 25, 16), (7_000_000_000u64, 32), (1 << 40, 32)] {
            let keys: Vec<u64> = (0..50_000)
                .map(|_| next() % span)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let probes: Vec<u64> = (0..50_000).map(|_| next() % span).collect();
            let set = check(&keys, probes);
            assert_eq!(set.lane_bits, lane_bits);
        }
        // Keys chosen to share one bucket overflow it into the stash, and all answer.
        // The table's shape follows from the least key, the greatest and the count,
        // so the crowd replaces keys of another bucket between the same ends.
        let base: Vec<u64> = (0..2000).map(|i| i * 7_000_000).collect();
        let shape = BucketSet::new(&base).unwrap();
        let bucket_of = |k: u64| shape.place(k - shape.min).at;
        let crowd: Vec<u64> = (1..3_000_000_000u64)
            .step_by(1009)
            .filter(|&k| bucket_of(k) == 0 && k % 7_000_000 != 0)
            .take(40)
            .collect();
        let ends = [0, 1999 * 7_000_000];
        let mut keys: BTreeSet<u64> = base
            .iter()
            .copied()
            .filter(|&k| bucket_of(k) == 0)
            .collect();
        keys.extend(crowd.into_iter().chain(ends));
        let mut others = base
            .iter()
            .copied()
            .filter(|&k| bucket_of(k) != 0 && !ends.contains(&k));
        while keys.len() < 2000 {
            keys.insert(others.next().unwrap());
        }
        let keys: Vec<u64> = keys.into_iter().collect();
        let set = check(&keys, (0..100_000).map(|i| i * 30_000));
        assert_eq!(set.buckets, shape.buckets);
        assert!(!set.stash.is_empty());
    }

    #[test]
    fn a_filtered_table_keeps_one_line_a_bucket() {
        let mut next = crate::xorshift();
        // As dense as ten million mobiles over 7 × 10^9: 16-bit lanes.
        let keys: Vec<u64> = (0..100_000)
            .map(|_| 13_000_000_000 + next() % (1 << 26))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let plain = BucketSet::new(&keys).unwrap();
        let filtered = BucketSet::with_filter(&keys, 10.0).unwrap();
        assert_eq!((plain.lane_bits, filtered.lane_bits), (16, 16));
        // The filter word takes 4 of a line's 31 key lanes: 31/27 as many lines.
        assert_eq!(filtered.words.len(), filtered.buckets * LINE_WORDS);
        let ratio = filtered.buckets as f64 / plain.buckets as f64;
        assert!((ratio - 31.0 / 27.0).abs() < 0.01, "{ratio}");
        let per_key = filtered.words.len() as f64 * 8.0 / keys.len() as f64;
        assert!(per_key < 4.0, "{per_key} bytes a key");
        // Past its budget a filtered table is refused.
        assert!(BucketSet::with_filter(&keys, 3.0).is_none());
    }

    #[test]
    fn too_wide_a_span_for_its_keys_is_refused() {
        // Keys spread over all 64 bits fit 32-bit lanes only in 2^32 buckets.
        let mut next = crate::xorshift();
        let keys: Vec<u64> = (0..10_000)
            .map(|_| next())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert!(BucketSet::new(&keys).is_none());
    }

    #[test]
    #[should_panic(expected = "strictly ascending")]
    fn repeated_keys_are_refused() {
        let _ = BucketSet::new(&[5, 9, 9]);
    }
}
