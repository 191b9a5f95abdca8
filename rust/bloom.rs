//! A blocked ("split block") Bloom filter over `u64` keys.
//!
//! # Design
//!
//! The filter is an array of 64-byte blocks, each eight 64-bit words. A key's
//! hash picks one block; within it the key sets exactly one bit in each of the
//! eight words (the bit chosen by multiplying the hash by a per-word odd salt and
//! keeping the top six bits, as in Parquet's split block Bloom filter).
//!
//! **Why blocked.** A classic Bloom filter with `k` probes touches `k` random
//! cache lines: at list sizes of millions (tens of megabytes of bits, far beyond
//! L2) a lookup costs `k` cache misses. Here every probe of a key falls in one
//! cache-line-aligned block, so a lookup is one memory access, and the common
//! answer "not listed" costs one miss whatever the size. The price is a little
//! more memory for the same false-positive rate (blocks fill unevenly), which the
//! sizing below accounts for exactly instead of using the textbook formula.
//!
//! **Why no deletes.** Clearing a bit could clear it for another key that shares
//! it, turning a listed number into a false negative, which would let a blocked
//! caller through. Counting filters fix that at four or more times the memory.
//! The filter is only a fast "certainly not" in front of an exact store (see
//! `lists`), so a removed key that still passes the filter just costs one exact
//! check; the exact store decides. A filter whose bits have drifted is rebuilt
//! when the list is compacted.
//!
//! **Concurrency.** Words are `AtomicU64`; an insert is eight `fetch_or`s and a
//! lookup eight loads, all `Relaxed`: bits only ever go from 0 to 1, so a reader
//! sees each bit either before or after it is set, and the exact store (which
//! orders its own updates) is what makes an added key visible as listed. Inserts
//! therefore work through `&self`, without a lock.
//!
//! **Frozen filters.** A list's bulk filter is built once and then only read, so
//! [`FrozenBloom`] keeps the same blocks as plain words in huge pages (see
//! `hugemem`: fewer TLB misses) and a list puts live additions in a small
//! [`BlockedBloom`] beside it. Both answer identically for the same keys.
//!
//! **Hash.** Keys are dense integers (often consecutive numbers), so they are
//! mixed with `MurmurHash3`'s 64-bit finaliser, a bijection with full avalanche:
//! the high bits pick the block, the whole hash feeds the eight bit choices. The
//! seed is fixed so that a list hashes the same in every process; a crafted
//! false positive only costs its sender one exact check.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::hugemem::HugeWords;

/// Bits per block (one 64-byte cache line).
const BLOCK_BITS: f64 = 512.0;

/// Odd multipliers, one per word, that turn one hash into eight bit positions.
const SALT: [u64; 8] = [
    0x47b6_137b_4497_4d91,
    0x8824_ad5b_a2b7_289d,
    0x7052_4d9e_5c3f_1c2b,
    0xa2b7_289d_8824_ad5b,
    0x9efc_4947_5c6b_fb31,
    0x5c6b_fb31_9efc_4947,
    0x2df1_424b_705c_4d9f,
    0xf1e5_b8e9_3a2c_6c91,
];

/// Mixed into every key so that key 0 does not hash to 0.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// One cache line of filter bits.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Block([AtomicU64; 8]);

const MIX1: u64 = 0xff51_afd7_ed55_8ccd;
const MIX2: u64 = 0xc4ce_b9fe_1a85_ec53;

/// The hash the filter uses for a key: a bijection on `u64` (distinct keys never collide
/// before the filter reduces them). O(1).
#[inline]
pub fn hash(key: u64) -> u64 {
    // MurmurHash3 fmix64 of the seeded key.
    let mut h = key ^ SEED;
    h ^= h >> 33;
    h = h.wrapping_mul(MIX1);
    h ^= h >> 33;
    h = h.wrapping_mul(MIX2);
    h ^ (h >> 33)
}

/// Maps a hash onto `0..n` by its high bits (Lemire's multiply-shift), without a division.
#[inline]
pub fn reduce(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

#[inline]
fn masks(hash: u64) -> [u64; 8] {
    let mut out = [0u64; 8];
    for (m, salt) in out.iter_mut().zip(SALT) {
        *m = 1u64 << (hash.wrapping_mul(salt) >> 58);
    }
    out
}

/// The bits `hash` sets in a filter whose blocks are one word: three of 64,
/// from three disjoint 6-bit fields of the hash's top (a `bucket_set` picks a
/// key's block from the key, not from this hash). A block holding 16 keys,
/// the usual load of a `bucket_set` line, lets about 1 in 7 other keys pass,
/// `(1 - e^(-48/64))^3`; with the Poisson spread of loads about 1 in 6.
#[inline]
pub(crate) fn word_mask(hash: u64) -> u64 {
    (1 << (hash >> 58)) | (1 << ((hash >> 52) & 63)) | (1 << ((hash >> 46) & 63))
}

/// Sets `hash`'s bits in a block of eight plain words (a cache line): the
/// layout of [`BlockedBloom`]'s blocks, for a filter built once and then only
/// read ([`FrozenBloom`]).
#[inline]
pub(crate) fn block_insert(block: &mut [u64], hash: u64) {
    for (word, mask) in block.iter_mut().zip(masks(hash)) {
        *word |= mask;
    }
}

/// Whether a block of eight plain words holds every bit of `hash` (`false`:
/// the key is certainly not in it).
#[inline]
pub(crate) fn block_holds(block: &[u64], hash: u64) -> bool {
    let mut missing = 0u64;
    for (word, mask) in block.iter().zip(masks(hash)) {
        missing |= mask & !word;
    }
    missing == 0
}

/// False-positive rate of a filter holding on average `load` keys per block:
/// a block holding `i` keys answers a foreign key "maybe" with probability
/// `(1 - (63/64)^i)^8`, and block loads are Poisson distributed.
fn fp_rate_at_load(load: f64) -> f64 {
    let miss_per_word: f64 = 1.0 - 1.0 / 64.0;
    let mut p = (-load).exp();
    let mut total = 0.0;
    let end = (load + 12.0 * load.sqrt() + 30.0) as u32;
    for i in 0..=end {
        if i > 0 {
            p *= load / f64::from(i);
        }
        total += p * (1.0 - miss_per_word.powi(i as i32)).powi(8);
    }
    total
}

/// How many blocks hold `capacity` keys at `fp_rate` (clamped to `[1e-9, 0.5]`). O(1).
fn blocks_for(capacity: usize, fp_rate: f64) -> usize {
    let target = fp_rate.clamp(1e-9, 0.5);
    // Bisect on the mean load per block: the rate grows with the load.
    let (mut lo, mut hi) = (0.0_f64, BLOCK_BITS);
    for _ in 0..60 {
        let mid = f64::midpoint(lo, hi);
        if fp_rate_at_load(mid) <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let load = lo.max(1e-3);
    ((capacity as f64 / load).ceil() as usize).max(1)
}

/// A blocked Bloom filter; see the module docs.
#[derive(Debug)]
pub struct BlockedBloom {
    blocks: Box<[Block]>,
    capacity: usize,
}

impl BlockedBloom {
    /// An empty filter sized so that `capacity` keys give at most `fp_rate`
    /// false positives. `fp_rate` is clamped to `[1e-9, 0.5]`.
    /// O(size): about 11 bits a key at 1 %, 16 at 0.1 %.
    pub fn new(capacity: usize, fp_rate: f64) -> BlockedBloom {
        BlockedBloom {
            blocks: (0..blocks_for(capacity, fp_rate))
                .map(|_| Block::default())
                .collect(),
            capacity,
        }
    }

    /// Adds a key given by its [`hash`]. O(1), lock-free, one cache line.
    #[inline]
    pub fn insert_hash(&self, hash: u64) {
        let block = &self.blocks[reduce(hash, self.blocks.len())];
        for (word, mask) in block.0.iter().zip(masks(hash)) {
            // Skipping the write when the bit is already set keeps the line shared
            // between cores instead of bouncing it on every re-insert.
            if word.load(Relaxed) & mask == 0 {
                word.fetch_or(mask, Relaxed);
            }
        }
    }

    /// Whether a key given by its [`hash`] may have been added (`false`: certainly
    /// not). O(1): one cache line.
    #[inline]
    pub fn contains_hash(&self, hash: u64) -> bool {
        let block = &self.blocks[reduce(hash, self.blocks.len())];
        let mut missing = 0u64;
        for (word, mask) in block.0.iter().zip(masks(hash)) {
            missing |= mask & !word.load(Relaxed);
        }
        missing == 0
    }

    /// Adds a key. O(1).
    pub fn insert(&self, key: u64) {
        self.insert_hash(hash(key));
    }

    /// Whether a key may have been added. O(1).
    pub fn contains(&self, key: u64) -> bool {
        self.contains_hash(hash(key))
    }

    /// How many keys the filter was sized for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Heap bytes used by the bits. O(1).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.blocks)
    }

    /// The false-positive rate expected after `items` distinct keys. O(1).
    pub fn expected_fp_rate(&self, items: usize) -> f64 {
        fp_rate_at_load(items as f64 / self.blocks.len() as f64)
    }
}

/// A blocked Bloom filter built once and then only read: the layout and answers
/// of [`BlockedBloom`], in plain words in huge pages (see `hugemem`), for the bulk
/// of a list. Live additions go to a small [`BlockedBloom`] beside it.
#[derive(Debug)]
pub struct FrozenBloom {
    /// Block `b` is `words[8 b..8 b + 8]`.
    words: HugeWords,
    blocks: usize,
    capacity: usize,
}

impl FrozenBloom {
    /// A filter sized like [`BlockedBloom::new`] holding the keys given by their
    /// [`hash`]es. O(size + keys).
    pub fn build(
        capacity: usize,
        fp_rate: f64,
        hashes: impl IntoIterator<Item = u64>,
    ) -> FrozenBloom {
        let blocks = blocks_for(capacity, fp_rate);
        let mut words = HugeWords::zeroed(blocks * 8);
        for h in hashes {
            let at = reduce(h, blocks) * 8;
            block_insert(&mut words[at..at + 8], h);
        }
        FrozenBloom {
            words,
            blocks,
            capacity,
        }
    }

    #[inline]
    fn block(&self, hash: u64) -> &[u64] {
        let at = reduce(hash, self.blocks) * 8;
        &self.words[at..at + 8]
    }

    /// Whether a key given by its [`hash`] may be in the filter (`false`: certainly
    /// not). O(1): one cache line.
    #[inline]
    pub fn contains_hash(&self, hash: u64) -> bool {
        block_holds(self.block(hash), hash)
    }

    /// Starts loading `hash`'s block (see [`crate::hugemem::prefetch`]). O(1).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        crate::hugemem::prefetch(&self.block(hash)[0]);
    }

    /// How many keys the filter was sized for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes used by the bits (whole huge pages). O(1).
    pub fn memory_bytes(&self) -> usize {
        self.words.resident_bytes()
    }

    /// The false-positive rate expected after `items` distinct keys. O(1).
    pub fn expected_fp_rate(&self, items: usize) -> f64 {
        fp_rate_at_load(items as f64 / self.blocks as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizing_meets_the_target_within_budget() {
        for (rate, max_bits) in [(0.1, 6.0), (0.01, 12.0), (0.001, 18.0)] {
            let bloom = BlockedBloom::new(1_000_000, rate);
            let bits = bloom.memory_bytes() as f64 * 8.0 / 1e6;
            assert!(bits <= max_bits, "{rate}: {bits} bits a key");
            let expected = bloom.expected_fp_rate(1_000_000);
            assert!(
                expected <= rate * 1.001 && expected >= rate * 0.9,
                "{rate}: {expected}"
            );
        }
    }

    #[test]
    fn measured_rate_matches_the_model() {
        let n = 200_000u64;
        let bloom = BlockedBloom::new(n as usize, 0.01);
        // Consecutive keys: the worst case for a weak hash.
        for k in 0..n {
            bloom.insert(k);
        }
        for k in 0..n {
            assert!(bloom.contains(k), "false negative {k}");
        }
        let trials = 1_000_000u64;
        let fp = (n..n + trials).filter(|&k| bloom.contains(k)).count();
        let rate = fp as f64 / trials as f64;
        assert!((0.007..0.013).contains(&rate), "measured {rate}");
    }

    #[test]
    fn blocks_are_cache_lines() {
        assert_eq!(std::mem::size_of::<Block>(), 64);
        assert_eq!(std::mem::align_of::<Block>(), 64);
        let bloom = BlockedBloom::new(0, 0.01);
        assert!(!bloom.contains(0));
        bloom.insert(0);
        assert!(bloom.contains(0));
    }

    #[test]
    fn concurrent_inserts_are_all_seen() {
        let bloom = BlockedBloom::new(400_000, 0.01);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let bloom = &bloom;
                s.spawn(move || {
                    for k in (t..400_000).step_by(4) {
                        bloom.insert(k * 7919);
                    }
                });
            }
        });
        assert!((0..400_000u64).all(|k| bloom.contains(k * 7919)));
    }

    proptest! {
        #[test]
        fn frozen_answers_like_blocked(
            keys in proptest::collection::vec(any::<u64>(), 0..2000),
            probes in proptest::collection::vec(any::<u64>(), 0..500),
            cap in 0usize..3000,
        ) {
            let live = BlockedBloom::new(cap, 0.01);
            for &k in &keys {
                live.insert(k);
            }
            let frozen = FrozenBloom::build(cap, 0.01, keys.iter().map(|&k| hash(k)));
            prop_assert_eq!(frozen.memory_bytes(), live.memory_bytes());
            for &k in keys.iter().chain(&probes) {
                prop_assert_eq!(frozen.contains_hash(hash(k)), live.contains(k));
            }
        }

        #[test]
        fn never_a_false_negative(keys in proptest::collection::vec(any::<u64>(), 0..2000), cap in 0usize..3000) {
            let bloom = BlockedBloom::new(cap, 0.01);
            for &k in &keys {
                bloom.insert(k);
            }
            for &k in &keys {
                prop_assert!(bloom.contains(k));
            }
        }
    }
}
