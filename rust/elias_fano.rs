//! A static set of `u64` keys in Elias–Fano form: about `2 + log2(span / n)` bits
//! a key, with exact membership in a few reads of small arrays.
//!
//! Number lists keep in this form the keys that neither a bitmap nor a
//! [`crate::bucket_set::BucketSet`] takes within budget (numbers of very different
//! lengths together: see `exact_set`). Numbers cluster (a list of ten million
//! numbers is mostly a few hundred segments of 10^7), so the span between
//! neighbours is small and the whole set fits in a few bytes a number; the price
//! is a chain of dependent reads for each lookup.
//!
//! # Layout
//!
//! With `min` the least key, each key `k` is split into the high part
//! `(k - min) >> low_bits` (its *bucket*) and the low `low_bits` bits:
//!
//! - `lows`: the low parts, `low_bits` each, packed in key order;
//! - `upper`: for each bucket in order, one `1` bit per key in it, then a `0`.
//!   Key `i` (0-based, ascending) is the `1` at position `i + bucket(i)`;
//! - `groups`: for every 64th bucket, how many keys lie in the buckets before it
//!   (a `u32`: half a bit a key, small enough to stay in the core's own cache),
//!   so that a lookup starts its scan of `upper` at most 63 zeros before its own
//!   bucket (a word or two) instead of counting from the start.
//!
//! `low_bits = floor(log2(span / n))` keeps the number of buckets at most about
//! `2 n`, so `upper` is at most about `3 n` bits, whatever the keys.

use crate::hugemem::{self, HugeWords};

/// Buckets per entry of `groups` (as a shift).
const GROUP_SHIFT: u32 = 6;
/// Buckets per entry of `coarse` (as a shift).
const COARSE_SHIFT: u32 = 12;

/// A static, sorted set of distinct `u64`s.
#[derive(Debug)]
pub struct EliasFano {
    min: u64,
    len: usize,
    low_bits: u32,
    /// Number of buckets: `(max - min) >> low_bits` + 1.
    buckets: u64,
    /// Entry `c`: keys in the buckets below `c << COARSE_SHIFT`, and `len` last: a
    /// few KiB, always cached, to guess where a bucket's bits lie before `groups`
    /// says exactly.
    coarse: Vec<u32>,
    /// `upper`, then `lows`, then `groups` (entry `g`, a `u32`, two a word: keys in
    /// the buckets below `g << GROUP_SHIFT`), in one mapping: a lookup reads all
    /// three, and together they fill whole huge pages where apart each would round
    /// up to its own (see `hugemem`).
    store: HugeWords,
    /// Words of `upper` and of `lows` in `store`.
    upper_words: usize,
    lows_words: usize,
    /// How a bucket's low parts are compared all at once (see [`Lanes`]).
    lanes: Lanes,
}

/// Constants to compare a run of `low_bits`-bit fields, read as one word, with a
/// value in a few instructions (the "has a zero byte" trick, for any field width).
#[derive(Debug, Clone, Copy)]
struct Lanes {
    /// Fields a word holds whole: `64 / low_bits` (0 when `low_bits` is 0).
    per_word: u64,
    /// A 1 at the lowest bit of each field.
    ones: u64,
    /// A 1 at the highest bit of each field.
    highs: u64,
}

impl Lanes {
    fn new(low_bits: u32) -> Lanes {
        if low_bits == 0 {
            return Lanes {
                per_word: 0,
                ones: 0,
                highs: 0,
            };
        }
        let per_word = u64::from(64 / low_bits);
        let ones = (0..per_word).fold(0u64, |acc, j| acc | 1 << (j * u64::from(low_bits)));
        Lanes {
            per_word,
            ones,
            highs: ones << (low_bits - 1),
        }
    }
}

impl Default for EliasFano {
    fn default() -> Self {
        EliasFano::new(&[])
    }
}

impl EliasFano {
    /// The set of `keys`, which must be strictly ascending. O(n).
    ///
    /// # Panics
    /// If `keys` is not strictly ascending, or holds 2^32 keys or more (32 GiB of
    /// input).
    pub fn new(keys: &[u64]) -> EliasFano {
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "Elias-Fano keys must be strictly ascending"
        );
        assert!(u32::try_from(keys.len()).is_ok(), "too many keys");
        let (Some(&min), Some(&max)) = (keys.first(), keys.last()) else {
            return EliasFano {
                min: 0,
                len: 0,
                low_bits: 0,
                buckets: 0,
                coarse: Vec::new(),
                store: HugeWords::zeroed(0),
                upper_words: 0,
                lows_words: 0,
                lanes: Lanes::new(0),
            };
        };
        let len = keys.len();
        let span = max - min;
        let low_bits = (span / len as u64).max(1).ilog2();
        let buckets = (span >> low_bits) + 1;
        let upper_bits = len as u64 + buckets;
        // A spare word after each array: reads of two neighbouring words never need
        // a bounds special case.
        let upper_words = words_for(upper_bits) + 1;
        // Two for `lows`: a lookup reads two words from just past the last key.
        let lows_words = words_for(len as u64 * u64::from(low_bits)) + 2;
        let n_groups = (buckets >> GROUP_SHIFT) as usize + 1;
        let mut store = HugeWords::zeroed(upper_words + lows_words + n_groups.div_ceil(2));
        let (upper, rest) = store.split_at_mut(upper_words);
        let (lows, groups) = rest.split_at_mut(lows_words);
        let mask = low_mask(low_bits);
        let mut group = 0usize;
        let mut coarse = Vec::with_capacity((buckets >> COARSE_SHIFT) as usize + 2);
        for (i, &key) in keys.iter().enumerate() {
            let d = key - min;
            let bucket = d >> low_bits;
            let at = i as u64 + bucket;
            upper[(at / 64) as usize] |= 1 << (at % 64);
            if low_bits > 0 {
                write_bits(lows, i as u64 * u64::from(low_bits), low_bits, d & mask);
            }
            // Every group up to this key's own starts with the keys before it.
            let own = (bucket >> GROUP_SHIFT) as usize;
            while group <= own {
                groups[group / 2] |= (i as u64) << (32 * (group % 2));
                if group % (1 << (COARSE_SHIFT - GROUP_SHIFT)) == 0 {
                    coarse.push(i as u32);
                }
                group += 1;
            }
        }
        coarse.push(len as u32);
        EliasFano {
            min,
            len,
            low_bits,
            buckets,
            coarse,
            store,
            upper_words,
            lows_words,
            lanes: Lanes::new(low_bits),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes in memory (huge pages whole). O(1).
    pub fn memory_bytes(&self) -> usize {
        self.store.resident_bytes() + self.coarse.len() * 4
    }

    #[inline]
    fn words(&self) -> Words<'_> {
        let (upper, rest) = self.store.split_at(self.upper_words);
        let (lows, groups) = rest.split_at(self.lows_words);
        Words {
            upper,
            lows,
            groups,
            low_bits: self.low_bits,
        }
    }

    /// Whether `key` is in the set. O(1): a `groups` entry, one or two words of
    /// `upper`, then the bucket's few low parts (about one key a bucket).
    ///
    /// Written to branch on data as little as possible: the keys' lines are
    /// usually prefetched, so what is left is compute, and a mispredicted branch
    /// (how many keys the bucket holds, which word the bucket starts in) costs more
    /// than the few extra instructions of doing both sides.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let Some((bucket, low)) = self.split(key) else {
            return false;
        };
        let w = self.words();
        let (at, index) = w.bucket_start(bucket);
        // The bucket's keys are the run of ones at `at`; their low parts ascend from
        // key `index` on.
        let count = u64::from((!w.bits_from(at)).trailing_zeros());
        let lanes = self.lanes;
        if lanes.per_word == 0 {
            return count > 0; // no low parts: any key in the bucket is the key
        }
        if count <= lanes.per_word {
            // All the bucket's low parts in one word: the fields equal to `low`
            // become zero, and the lowest zero field sets its high bit (a borrow can
            // only flag fields above a zero one, so none below the first `count`).
            let fields = w.lows_from(index) ^ low.wrapping_mul(lanes.ones);
            let zero = fields.wrapping_sub(lanes.ones) & !fields & lanes.highs;
            let first = u64::MAX
                .checked_shr((64 - count * u64::from(self.low_bits)) as u32)
                .unwrap_or(0);
            return zero & first != 0;
        }
        // A crowded bucket (rare: buckets hold about one key).
        (index..index + count).any(|i| w.low(i) == low)
            || (count == 64 && w.contains_scanning(at + 64, index + 64, low))
    }

    /// Starts loading what a lookup of `key` will read (see [`hugemem::prefetch`]):
    /// its `groups` entry, and the lines of `upper` and `lows` where its bucket lies
    /// if the keys are spread evenly between two `coarse` marks. All three loads
    /// overlap instead of the second waiting for the first; a wrong guess costs
    /// nothing but the wasted line. O(1).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        let Some((bucket, _)) = self.split(key) else {
            return;
        };
        let w = self.words();
        hugemem::prefetch(&w.groups[(bucket >> GROUP_SHIFT) as usize / 2]);
        let (group_word, bucket_word, lows_word) = self.guess(bucket);
        if group_word / 8 != bucket_word / 8 {
            hugemem::prefetch(&w.upper[group_word]);
        }
        hugemem::prefetch(&w.upper[bucket_word]);
        if self.low_bits > 0 {
            hugemem::prefetch(&w.lows[lows_word]);
        }
    }

    /// The words a lookup of `bucket` will likely read if keys are spread evenly
    /// between two `coarse` marks: the `upper` word of the group's first bucket (the
    /// scan starts there, up to 63 buckets earlier) and of the bucket, and the
    /// `lows` word of its first key. O(1), from `coarse` alone.
    #[inline]
    fn guess(&self, bucket: u64) -> (usize, usize, usize) {
        let mark = (bucket >> COARSE_SHIFT) as usize;
        let (below, next) = (
            u64::from(self.coarse[mark]),
            u64::from(self.coarse[mark + 1]),
        );
        let keys_at = |offset: u64| below + (((next - below) * offset) >> COARSE_SHIFT);
        let offset = bucket & ((1 << COARSE_SHIFT) - 1);
        let group_offset = offset & !((1 << GROUP_SHIFT) - 1);
        let keys_before = keys_at(offset);
        let group_word = (keys_at(group_offset) + bucket - (offset - group_offset)) / 64;
        let bucket_word = (keys_before + bucket) / 64;
        let lows_word = keys_before * u64::from(self.low_bits) / 64;
        (
            group_word as usize,
            bucket_word as usize,
            lows_word as usize,
        )
    }

    /// Every key, ascending. O(n).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let w = self.words();
        let mut word = 0usize;
        let mut bits = w.upper.first().copied().unwrap_or(0);
        (0..self.len as u64).map(move |index| {
            while bits == 0 {
                word += 1;
                bits = w.upper[word];
            }
            let at = word as u64 * 64 + u64::from(bits.trailing_zeros());
            bits &= bits - 1;
            let bucket = at - index;
            self.min + ((bucket << self.low_bits) | w.low(index))
        })
    }

    /// `(bucket, low part)` of `key`, or `None` when it lies outside the keys' range.
    #[inline]
    fn split(&self, key: u64) -> Option<(u64, u64)> {
        let d = key.checked_sub(self.min)?;
        let bucket = d >> self.low_bits;
        (bucket < self.buckets).then_some((bucket, d & low_mask(self.low_bits)))
    }
}

/// The arrays of an [`EliasFano`] as plain slices, taken once a lookup: a
/// `HugeWords` dereference checks its mapping, so each array is checked once
/// rather than at every word read.
#[derive(Clone, Copy)]
struct Words<'a> {
    upper: &'a [u64],
    lows: &'a [u64],
    groups: &'a [u64],
    low_bits: u32,
}

impl Words<'_> {
    /// The rest of a bucket of 64 keys or more, from position `at` and key `index`.
    fn contains_scanning(&self, mut at: u64, mut index: u64, low: u64) -> bool {
        while self.bit(at) {
            if self.low(index) == low {
                return true;
            }
            at += 1;
            index += 1;
        }
        false
    }

    /// Where `bucket` starts: its first position in `upper`, and the index of its
    /// first key (whether or not it has one).
    #[inline]
    fn bucket_start(&self, bucket: u64) -> (u64, u64) {
        let group = bucket >> GROUP_SHIFT;
        let group_start = self.keys_below_group(group as usize) + (group << GROUP_SHIFT);
        // The bucket starts after its `bucket - first bucket of the group` zeros.
        let skip = bucket - (group << GROUP_SHIFT);
        let at = if skip == 0 {
            group_start
        } else {
            self.nth_zero_from(group_start, skip) + 1
        };
        // Ones before `at` are keys; zeros before it are the `bucket` buckets before.
        (at, at - bucket)
    }

    /// Keys in the buckets below the group's first.
    #[inline]
    fn keys_below_group(&self, group: usize) -> u64 {
        (self.groups[group / 2] >> (32 * (group % 2))) & u64::from(u32::MAX)
    }

    /// The 64 bits of `lows` from key `index`'s low part on.
    #[inline]
    fn lows_from(&self, index: u64) -> u64 {
        let at = index * u64::from(self.low_bits);
        let (word, shift) = ((at / 64) as usize, at % 64);
        (self.lows[word] >> shift) | (self.lows[word + 1] << 1 << (63 - shift))
    }

    /// The 64 bits of `upper` from position `at` on (zeros past the end).
    #[inline]
    fn bits_from(&self, at: u64) -> u64 {
        let (word, shift) = ((at / 64) as usize, at % 64);
        // `<< 1 << (63 - shift)` is `<< (64 - shift)` without the overflow at 0.
        (self.upper[word] >> shift) | (self.upper[word + 1] << 1 << (63 - shift))
    }

    #[inline]
    fn bit(&self, at: u64) -> bool {
        self.upper[(at / 64) as usize] >> (at % 64) & 1 == 1
    }

    /// The low part of key `index`. O(1).
    #[inline]
    fn low(&self, index: u64) -> u64 {
        self.lows_from(index) & low_mask(self.low_bits)
    }

    /// Position of the `n`-th (1-based) zero of `upper` at or after `from`; it
    /// exists for every lookup of a bucket in range (each bucket ends with a zero).
    #[inline]
    fn nth_zero_from(&self, from: u64, n: u64) -> u64 {
        // The zero is nearly always in the first word or the next. Both are read and
        // one is picked by a mask, not a branch: which word holds it depends on the
        // loaded bits, so a branch would be mispredicted half the time, and only once
        // the load arrives, stalling the lookups the core runs ahead into.
        let first = (from / 64) as usize;
        let in_first = !self.upper[first] & (u64::MAX << (from % 64));
        let first_count = u64::from(in_first.count_ones());
        // `upper` ends with a spare word, so `first + 1` is always in bounds.
        let second = u64::from(n > first_count);
        let pick = second.wrapping_neg();
        let zeros = (in_first & !pick) | (!self.upper[first + 1] & pick);
        let n = n - (first_count & pick);
        let word = first + second as usize;
        if n <= u64::from(zeros.count_ones()) {
            return word as u64 * 64 + u64::from(select_in_word(zeros, n - 1));
        }
        self.nth_zero_scanning(word + 1, n - u64::from(zeros.count_ones()))
    }

    /// [`Words::nth_zero_from`] past its first two words (rare: a run of keys).
    #[cold]
    fn nth_zero_scanning(&self, mut word: usize, mut n: u64) -> u64 {
        loop {
            let zeros = !self.upper[word];
            let count = u64::from(zeros.count_ones());
            if n <= count {
                return word as u64 * 64 + u64::from(select_in_word(zeros, n - 1));
            }
            n -= count;
            word += 1;
        }
    }
}

fn words_for(bits: u64) -> usize {
    bits.div_ceil(64) as usize
}

#[inline]
fn low_mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

fn write_bits(words: &mut [u64], at: u64, bits: u32, value: u64) {
    let (word, shift) = ((at / 64) as usize, at % 64);
    words[word] |= value << shift;
    if shift + u64::from(bits) > 64 {
        words[word + 1] |= value >> (64 - shift);
    }
}

/// `SELECT_IN_BYTE[b][r]`: position of the `r`-th (0-based) set bit of the byte `b`.
static SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let (mut bit, mut rank) = (0, 0);
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte][rank] = bit as u8;
                rank += 1;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

const ONES_BYTES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Position of the `rank`-th (0-based) set bit of `x`, which has more than `rank`.
/// Branch-free: the byte is found by comparing `rank` with the running byte
/// counts all at once, the bit by a table.
#[inline]
fn select_in_word(x: u64, rank: u64) -> u32 {
    // Population count of each byte, then running totals (each at most 64, so
    // no byte overflows): byte j of `running` counts the set bits of bytes 0..=j.
    let mut counts = x - ((x >> 1) & 0x5555_5555_5555_5555);
    counts = (counts & 0x3333_3333_3333_3333) + ((counts >> 2) & 0x3333_3333_3333_3333);
    counts = (counts + (counts >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    let running = counts.wrapping_mul(ONES_BYTES);
    // The high bit of each byte says `running[j] <= rank`; no borrow crosses bytes
    // as 0x80 + rank >= running[j] for rank < 64.
    let at_most = ((rank * ONES_BYTES) | HIGH_BITS).wrapping_sub(running) & HIGH_BITS;
    let byte = at_most.count_ones();
    let before = (running << 8) >> (8 * byte) & 0xff;
    let bits = (x >> (8 * byte)) & 0xff;
    8 * byte + u32::from(SELECT_IN_BYTE[bits as usize][(rank - before) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn check(keys: &BTreeSet<u64>, probes: &[u64]) {
        let sorted: Vec<u64> = keys.iter().copied().collect();
        let set = EliasFano::new(&sorted);
        assert_eq!(set.len(), sorted.len());
        assert_eq!(set.iter().collect::<Vec<_>>(), sorted);
        for &k in &sorted {
            assert!(set.contains(k), "{k} is listed");
        }
        for &p in probes {
            assert_eq!(set.contains(p), keys.contains(&p), "probe {p}");
        }
    }

    #[test]
    fn empty_and_single() {
        let empty = EliasFano::new(&[]);
        assert!(empty.is_empty() && !empty.contains(0) && !empty.contains(u64::MAX));
        assert_eq!(empty.iter().count(), 0);
        for k in [0, 1, 63, 64, u64::MAX] {
            check(
                &BTreeSet::from([k]),
                &[0, 1, 2, 62, 63, 64, 65, u64::MAX - 1, u64::MAX],
            );
        }
    }

    #[test]
    fn extremes_of_the_range() {
        check(
            &BTreeSet::from([0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX]),
            &[2, 3, u64::MAX / 2 - 1, u64::MAX / 2 + 1, u64::MAX - 2],
        );
    }

    #[test]
    fn dense_runs_and_gaps() {
        // A full run (no low bits), a stride, and a distant cluster: buckets with
        // many keys, empty buckets, groups of 64 buckets crossed.
        let mut keys: BTreeSet<u64> = (1_000..5_000).collect();
        keys.extend((10_000..200_000).step_by(7));
        keys.extend((13_000_000_000u64..13_000_010_000).step_by(3));
        let probes: Vec<u64> = (0..300_000).chain(12_999_999_990..13_000_010_010).collect();
        check(&keys, &probes);
    }

    #[test]
    fn varied_density_across_many_groups() {
        // Gaps growing quadratically: dense buckets first, then many empty ones,
        // over hundreds of groups.
        let keys: BTreeSet<u64> = (0..20_000u64).map(|i| 500 + i * i).collect();
        let set = EliasFano::new(&keys.iter().copied().collect::<Vec<_>>());
        let groups = set.words().groups.len();
        assert!(groups > 100, "{} groups", 2 * groups);
        let probes: Vec<u64> = (0..2_000_000)
            .chain((0..20_000u64).map(|i| 501 + i * i))
            .collect();
        check(&keys, &probes);
    }

    #[test]
    fn prefetch_guesses_the_lines_read_when_keys_spread_evenly() {
        let keys: Vec<u64> = (0..1_000_000u64).map(|i| 13_000_000_000 + 7 * i).collect();
        let set = EliasFano::new(&keys);
        let mut right = 0;
        for &key in keys.iter().step_by(97) {
            let (bucket, _) = set.split(key).unwrap();
            let (at, index) = set.words().bucket_start(bucket);
            let (_, bucket_word, lows_word) = set.guess(bucket);
            let lows_at = index * u64::from(set.low_bits) / 64;
            right += usize::from(
                at / 512 == bucket_word as u64 / 8 && lows_at / 8 == lows_word as u64 / 8,
            );
        }
        let total = keys.len().div_ceil(97);
        assert!(right * 100 >= total * 95, "{right} of {total} guessed");
    }

    #[test]
    fn crowded_buckets_of_every_field_width() {
        // A bucket of 0, 1, a few, a word's worth and more than 64 keys, for low
        // parts of every width: the one-word comparison and both fallbacks.
        for low_bits in [0u32, 1, 2, 3, 5, 7, 13, 21, 31, 33, 47] {
            for crowd in [1u64, 2, 3, 9, 63, 64, 65, 150] {
                let base = 1u64 << 40;
                let step = 1u64 << low_bits;
                let mut keys = BTreeSet::new();
                // Sparse keys set the span so that `low_bits` comes out as wanted.
                for i in 0..400u64 {
                    keys.insert(base + i * (step + step / 2));
                }
                // The crowd: `crowd` keys packed into the bucket of `base + 300 * step`.
                let bucket = base + 300 * step;
                for j in 0..crowd.min(step) {
                    keys.insert(bucket + j * (step / crowd.min(step)).max(1));
                }
                let probes: Vec<u64> = keys
                    .iter()
                    .flat_map(|&k| [k.wrapping_sub(1), k, k + 1])
                    .chain([bucket + step - 1, bucket + step, 0, u64::MAX])
                    .collect();
                check(&keys, &probes);
                let sorted: Vec<u64> = keys.iter().copied().collect();
                assert_eq!(EliasFano::new(&sorted).low_bits, low_bits, "crowd {crowd}");
            }
        }
    }

    #[test]
    fn nth_zero_agrees_with_scanning_in_every_word() {
        // Runs of keys (long stretches of ones) put the zero two, three or more
        // words on: the two-word pick and the scan past it.
        let mut keys: Vec<u64> = (0..300).map(|i| 1_000 + i).collect();
        keys.extend((0..200).map(|i| 5_000 + 40 * i));
        keys.extend(20_000..20_150);
        let set = EliasFano::new(&keys);
        let w = set.words();
        let zeros: Vec<u64> = (0..(set.upper_words as u64 - 1) * 64)
            .filter(|&at| !w.bit(at))
            .collect();
        for from in (0..zeros[zeros.len() - 200]).step_by(7) {
            let after: Vec<u64> = zeros.iter().copied().filter(|&z| z >= from).collect();
            for n in [1u64, 2, 30, 64, 65, 130, 190] {
                assert_eq!(
                    w.nth_zero_from(from, n),
                    after[n as usize - 1],
                    "{from} {n}"
                );
            }
        }
    }

    #[test]
    fn select_in_word_agrees_with_scanning() {
        for x in [1u64, 0x8000_0000_0000_0000, u64::MAX, 0xf0f0_0000_ff00_0001] {
            let ones: Vec<u32> = (0..64).filter(|b| x >> b & 1 == 1).collect();
            for (rank, &pos) in ones.iter().enumerate() {
                assert_eq!(select_in_word(x, rank as u64), pos);
            }
        }
    }

    #[test]
    #[should_panic(expected = "strictly ascending")]
    fn refuses_unsorted_keys() {
        let _ = EliasFano::new(&[3, 2]);
    }

    #[test]
    fn a_few_bits_a_key_when_keys_cluster() {
        let keys: Vec<u64> = (0..1_000_000u64).map(|i| 13_000_000_000 + 7 * i).collect();
        let set = EliasFano::new(&keys);
        let bits = set.memory_bytes() as f64 * 8.0 / keys.len() as f64;
        // 2 low bits + 2.75 upper bits + 0.875 for the groups (1.75 buckets a key).
        assert!(bits < 6.0, "{bits:.2} bits a key");
    }

    proptest! {
        #[test]
        fn select_in_word_finds_every_set_bit(x in any::<u64>()) {
            let ones: Vec<u32> = (0..64).filter(|b| x >> b & 1 == 1).collect();
            for (rank, &pos) in ones.iter().enumerate() {
                prop_assert_eq!(select_in_word(x, rank as u64), pos);
            }
        }

        #[test]
        fn membership_is_exact(
            keys in prop::collection::btree_set(any::<u64>(), 0..300),
            near in prop::collection::vec(any::<u64>(), 0..300),
            probes in prop::collection::vec(any::<u64>(), 0..100),
        ) {
            // Random keys are sparse; `near` clusters them around a base as numbers do.
            let mut keys = keys;
            keys.extend(near.iter().map(|n| 13_800_000_000 + n % 5_000));
            let mut all = probes;
            all.extend(near.iter().map(|n| 13_800_000_000 + n % 6_000));
            all.extend(keys.iter().flat_map(|&k| [k.wrapping_sub(1), k.wrapping_add(1)]));
            check(&keys, &all);
        }
    }
}
