//! The exact store of a number list in *split* form (see `lists`): a static set
//! of `u64` keys that answers membership exactly, for a key in a dense run alone
//! ([`ExactSet::dense_bit`]), for any other once the list's filter has said
//! "maybe".
//!
//! Keys are grouped in *chunks* of 2^16 consecutive keys (a list key is its
//! number's digits as an integer, so a chunk is a run of 65,536 neighbouring
//! numbers of one length). A chunk holding at least one key in eight is *dense*
//! and kept as a plain bitmap; every other key is kept in a [`BucketSet`] (one
//! line a lookup), or in [`EliasFano`] form where a table would pass its budget
//! (keys spread over too many bits for their count).
//!
//! **Why bitmaps.** A bitmap's answer is one bit of one line addressed straight
//! from the key, listed or not ([`ExactSet::dense_bit`]), so the list asks it
//! alone, without its filter (see `lists`): in Rust at 10 million keys a
//! listed key cost 63–64 ns beside the filter against 93–135 in Elias–Fano
//! form (bench/README.md). A dense chunk's bitmap costs at most one byte a key:
//! well inside a list's budget of 12 bytes a number, and only where keys are
//! dense (whole blocks of numbers, number pools).
//!
//! **Finding a chunk's bitmap.** `slots` has one `u32` per chunk from the first
//! dense chunk to the last: the index of its bitmap, or [`NOT_DENSE`]. It must
//! stay small beside the bitmaps it indexes (at most 1/16 of their size), so it
//! covers one *cluster* of dense chunks, each within 128 chunks of the one
//! before: the cluster with the most of them. Dense chunks outside it (far
//! apart: another segment, another length of number) go with the other keys
//! rather than pay for a large, mostly empty directory.

use crate::bucket_set::BucketSet;
use crate::elias_fano::EliasFano;
use crate::hugemem::{self, HugeWords};

/// Keys per chunk (as a shift).
const CHUNK_SHIFT: u32 = 16;
const CHUNK: u64 = 1 << CHUNK_SHIFT;
/// Words of one chunk's bitmap.
const CHUNK_WORDS: usize = (CHUNK / 64) as usize;
/// Least number of keys that makes a chunk dense: one in eight (a byte a key).
const DENSE_MIN: usize = (CHUNK / 8) as usize;
/// Most chunks from one dense chunk to the next within a cluster: then `slots`
/// (4 bytes a chunk) costs at most 1/16 of the bitmaps (8 KiB a dense chunk).
const CLUSTER_GAP: u64 = 128;
/// A `slots` entry for a chunk kept in Elias–Fano form.
const NOT_DENSE: u32 = u32::MAX;

/// A static set of distinct `u64`s; see the module docs.
#[derive(Debug, Default)]
pub struct ExactSet {
    dense: Option<DenseChunks>,
    sparse: Sparse,
}

/// The keys outside dense chunks: a [`BucketSet`] (one line a lookup), or in
/// [`EliasFano`] form where a table would cost too much (keys spread over too
/// many bits for their count).
#[derive(Debug)]
enum Sparse {
    Table(BucketSet),
    Compact(EliasFano),
}

impl Default for Sparse {
    fn default() -> Self {
        Sparse::Compact(EliasFano::default())
    }
}

impl Sparse {
    /// `keys` strictly ascending. O(n).
    fn new(keys: &[u64]) -> Sparse {
        BucketSet::new(keys).map_or_else(|| Sparse::Compact(EliasFano::new(keys)), Sparse::Table)
    }

    fn len(&self) -> usize {
        match self {
            Sparse::Table(table) => table.len(),
            Sparse::Compact(ef) => ef.len(),
        }
    }

    #[inline]
    fn contains(&self, key: u64) -> bool {
        match self {
            Sparse::Table(table) => table.contains(key),
            Sparse::Compact(ef) => ef.contains(key),
        }
    }

    #[inline]
    fn prefetch(&self, key: u64) {
        match self {
            Sparse::Table(table) => table.prefetch(key),
            Sparse::Compact(ef) => ef.prefetch(key),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Sparse::Table(table) => table.memory_bytes(),
            Sparse::Compact(ef) => ef.memory_bytes(),
        }
    }

    /// Every key, in no particular order (for compaction and saving, not lookups).
    fn iter(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Sparse::Table(table) => Box::new(table.iter()),
            Sparse::Compact(ef) => Box::new(ef.iter()),
        }
    }
}

/// The dense chunks' bitmaps and the directory to them.
#[derive(Debug)]
struct DenseChunks {
    /// Chunk number (`key >> CHUNK_SHIFT`) of `slots[0]`.
    first_chunk: u64,
    /// Per chunk from `first_chunk`: its bitmap's index in `bits`, or [`NOT_DENSE`].
    slots: Vec<u32>,
    /// Bitmap `i` is `bits[i * CHUNK_WORDS..(i + 1) * CHUNK_WORDS]`; bit `k % CHUNK`.
    bits: HugeWords,
    /// Keys in the bitmaps.
    len: usize,
}

impl DenseChunks {
    /// Which word of `bits` holds `key`'s bit, when `key` lies in a dense chunk.
    #[inline]
    fn word_of(&self, key: u64) -> Option<usize> {
        // A chunk before the first wraps to a huge offset, past the end of `slots`.
        let offset = usize::try_from((key >> CHUNK_SHIFT).wrapping_sub(self.first_chunk)).ok()?;
        let slot = *self.slots.get(offset)?;
        (slot != NOT_DENSE).then(|| slot as usize * CHUNK_WORDS + ((key % CHUNK) / 64) as usize)
    }

    /// Every key, ascending. O(bitmaps).
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let chunks = self.slots.iter().enumerate();
        let dense = chunks.filter(|&(_, &slot)| slot != NOT_DENSE);
        dense.flat_map(move |(offset, &slot)| {
            let base = (self.first_chunk + offset as u64) << CHUNK_SHIFT;
            let start = slot as usize * CHUNK_WORDS;
            let words = self.bits[start..start + CHUNK_WORDS].iter();
            words.enumerate().flat_map(move |(w, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    (rest != 0).then(|| {
                        let bit = rest.trailing_zeros();
                        rest &= rest - 1;
                        base + w as u64 * 64 + u64::from(bit)
                    })
                })
            })
        })
    }

    fn memory_bytes(&self) -> usize {
        self.slots.len() * 4 + self.bits.resident_bytes()
    }
}

impl ExactSet {
    /// The set of `keys`, which must be strictly ascending. O(n).
    ///
    /// # Panics
    /// If `keys` is not strictly ascending.
    pub fn new(keys: &[u64]) -> ExactSet {
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "exact set keys must be strictly ascending"
        );
        let dense_chunks = dense_chunks(keys);
        if dense_chunks.is_empty() {
            return ExactSet {
                dense: None,
                sparse: Sparse::new(keys),
            };
        }
        let first_chunk = dense_chunks[0];
        let span = (dense_chunks[dense_chunks.len() - 1] - first_chunk) as usize + 1;
        let mut slots = vec![NOT_DENSE; span];
        for (i, &chunk) in dense_chunks.iter().enumerate() {
            // Fewer than 2^32 slots: a cluster spans at most 128 chunks a dense chunk.
            slots[(chunk - first_chunk) as usize] = i as u32;
        }
        // The bitmaps are filled beside `dense`, whose `word_of` places each key.
        let mut bits = HugeWords::zeroed(dense_chunks.len() * CHUNK_WORDS);
        let mut dense = DenseChunks {
            first_chunk,
            slots,
            bits: HugeWords::zeroed(0),
            len: 0,
        };
        let mut sparse = Vec::new();
        for &key in keys {
            match dense.word_of(key) {
                Some(word) => {
                    bits[word] |= 1 << (key % 64);
                    dense.len += 1;
                }
                None => sparse.push(key),
            }
        }
        dense.bits = bits;
        ExactSet {
            dense: Some(dense),
            sparse: Sparse::new(&sparse),
        }
    }

    pub fn len(&self) -> usize {
        self.sparse.len() + self.dense.as_ref().map_or(0, |d| d.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys kept in dense chunks' bitmaps.
    pub fn dense_len(&self) -> usize {
        self.dense.as_ref().map_or(0, |d| d.len)
    }

    /// Bytes in memory. O(1).
    pub fn memory_bytes(&self) -> usize {
        self.sparse.memory_bytes() + self.dense.as_ref().map_or(0, DenseChunks::memory_bytes)
    }

    /// Whether `key` is in the set. O(1): one bit in a dense chunk, else
    /// [`BucketSet::contains`] or [`EliasFano::contains`].
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        self.dense_bit(key)
            .unwrap_or_else(|| self.sparse.contains(key))
    }

    /// The answer of `key`'s bit when it lies in a dense chunk, `None` when it
    /// does not (its answer is then the other keys'). O(1): one line, addressed
    /// from the key through a directory small enough to stay in cache.
    #[inline]
    pub fn dense_bit(&self, key: u64) -> Option<bool> {
        let dense = self.dense.as_ref()?;
        let word = dense.word_of(key)?;
        Some(dense.bits[word] >> (key % 64) & 1 == 1)
    }

    /// The exact answer, asking `maybe` (the list's filter) first for a key
    /// outside dense chunks: a dense chunk's bit answers alone, and the other
    /// keys' line is requested before `maybe` runs, so that a listed key waits
    /// for the slower of the two, not their sum. O(1).
    #[inline]
    pub fn contains_filtered(&self, key: u64, maybe: impl FnOnce() -> bool) -> bool {
        self.dense_bit(key).unwrap_or_else(|| {
            self.sparse.prefetch(key);
            maybe() && self.sparse.contains(key)
        })
    }

    /// Starts loading `key`'s bitmap line when it lies in a dense chunk, and
    /// says whether it does (reads only the directory). O(1).
    #[inline]
    pub fn prefetch_dense(&self, key: u64) -> bool {
        let Some(dense) = &self.dense else {
            return false;
        };
        let Some(word) = dense.word_of(key) else {
            return false;
        };
        hugemem::prefetch(&dense.bits[word]);
        true
    }

    /// Starts loading what a lookup of `key` will read (see [`hugemem::prefetch`]):
    /// the bitmap's line in a dense chunk, else the other keys' line(s). O(1).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if !self.prefetch_dense(key) {
            self.sparse.prefetch(key);
        }
    }

    /// Every key, in no particular order. O(n + dense chunks × 1,024).
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let dense = self.dense.iter().flat_map(DenseChunks::iter);
        dense.chain(self.sparse.iter())
    }
}

/// Whether any chunk of the ascending `keys` is dense (would get a bitmap). O(n).
pub fn has_dense_chunk(keys: &[u64]) -> bool {
    !dense_chunks(keys).is_empty()
}

/// The dense chunks of the ascending `keys` that get bitmaps, ascending: the
/// largest cluster (see the module docs; the first of equals).
fn dense_chunks(keys: &[u64]) -> Vec<u64> {
    let mut dense = Vec::new();
    let mut rest = keys;
    while let Some(&first) = rest.first() {
        let chunk = first >> CHUNK_SHIFT;
        let run = rest.partition_point(|&k| k >> CHUNK_SHIFT == chunk);
        if run >= DENSE_MIN {
            dense.push(chunk);
        }
        rest = &rest[run..];
    }
    let mut best = 0..0;
    let mut start = 0;
    for end in 1..=dense.len() {
        if end == dense.len() || dense[end] - dense[end - 1] > CLUSTER_GAP {
            if end - start > best.len() {
                best = start..end;
            }
            start = end;
        }
    }
    dense[best].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn check(keys: &BTreeSet<u64>, probes: impl IntoIterator<Item = u64>) -> ExactSet {
        let set = ExactSet::new(&keys.iter().copied().collect::<Vec<_>>());
        assert_eq!(set.len(), keys.len());
        let mut listed: Vec<u64> = set.iter().collect();
        listed.sort_unstable();
        assert!(listed.iter().eq(keys), "iter is the keys");
        for key in keys.iter().copied().chain(probes) {
            set.prefetch(key);
            assert_eq!(set.contains(key), keys.contains(&key), "key {key}");
            // In a dense chunk its bit is the whole answer, listed or not.
            let in_dense = set.prefetch_dense(key);
            let expected = in_dense.then(|| keys.contains(&key));
            assert_eq!(set.dense_bit(key), expected, "key {key}");
        }
        set
    }

    /// Every key of `chunk` where `pick(offset)` holds.
    fn chunk_keys(chunk: u64, pick: impl Fn(u64) -> bool) -> impl Iterator<Item = u64> {
        (0..CHUNK)
            .filter(move |&o| pick(o))
            .map(move |o| (chunk << CHUNK_SHIFT) + o)
    }

    #[test]
    fn a_chunk_is_dense_from_one_key_in_eight() {
        // Chunk 7: exactly one key in eight; chunk 9: one fewer; chunk 10: full.
        let mut keys: BTreeSet<u64> = chunk_keys(7, |o| o % 8 == 3).collect();
        keys.extend(chunk_keys(9, |o| o % 8 == 0).skip(1));
        keys.extend(chunk_keys(10, |_| true));
        let edges = [6u64, 7, 8, 9, 10, 11].map(|c| c << CHUNK_SHIFT);
        let probes = edges
            .iter()
            .flat_map(|&e| [e.wrapping_sub(1), e, e + 1, e + 3]);
        let set = check(&keys, probes.chain(0..70));
        assert_eq!(set.dense_len(), (CHUNK / 8 + CHUNK) as usize);
        for (chunk, dense) in [(6, false), (7, true), (8, false), (9, false), (10, true)] {
            for offset in [0, 3, CHUNK - 1] {
                let key = (chunk << CHUNK_SHIFT) + offset;
                assert_eq!(set.prefetch_dense(key), dense, "chunk {chunk}");
            }
        }
        // Two 8 KiB bitmaps, and chunk 9's 8,191 keys in a table (~3.5 bytes a key).
        assert!(set.memory_bytes() < 48 << 10, "{}", set.memory_bytes());
    }

    #[test]
    fn only_the_largest_cluster_of_dense_chunks_gets_bitmaps() {
        // Chunks 5 and 5 + 128 form a cluster; 1,000,005 is far (a directory of
        // 4 MB for its 8 KiB); 2,000,000 to 2,000,002 are the largest cluster.
        let mut keys: BTreeSet<u64> = chunk_keys(5, |o| o % 4 == 0).collect();
        keys.extend(chunk_keys(5 + CLUSTER_GAP, |o| o % 4 == 0));
        keys.extend(chunk_keys(1_000_005, |o| o % 4 == 1));
        let largest: BTreeSet<u64> = (2_000_000..2_000_003)
            .flat_map(|c| chunk_keys(c, |o| o % 5 == 2))
            .collect();
        keys.extend(&largest);
        let probes = [5, 5 + CLUSTER_GAP, 1_000_005, 2_000_001]
            .into_iter()
            .flat_map(|c| (0..1000).map(move |i| (c << CHUNK_SHIFT) + i));
        let set = check(&keys, probes);
        assert_eq!(set.dense_len(), largest.len());
        // Without the largest, the first cluster wins over the far chunk.
        keys.retain(|k| !largest.contains(k));
        let set = check(&keys, [0, 5 << CHUNK_SHIFT]);
        assert_eq!(set.dense_len(), 2 * CHUNK as usize / 4);
    }

    #[test]
    #[should_panic(expected = "strictly ascending")]
    fn repeated_keys_are_refused() {
        let keys: Vec<u64> = (0..CHUNK).chain([0]).collect();
        ExactSet::new(&keys);
    }

    #[test]
    fn keys_at_the_ends_of_u64() {
        let mut keys: BTreeSet<u64> = chunk_keys(u64::MAX >> CHUNK_SHIFT, |o| o % 2 == 0).collect();
        keys.extend(chunk_keys(0, |o| o % 3 == 0));
        keys.insert(u64::MAX);
        let set = check(&keys, [1, 2, u64::MAX - 1, u64::MAX - 2, 1 << 40]);
        // Chunks 0 and the last are far apart, two clusters of one chunk: the first
        // gets the bitmap, and the last stays in Elias–Fano form.
        assert_eq!(set.dense_len(), CHUNK.div_ceil(3) as usize);
        let top: BTreeSet<u64> = chunk_keys(u64::MAX >> CHUNK_SHIFT, |o| o % 2 == 1).collect();
        let set = check(
            &top,
            [0, u64::MAX - 1, (u64::MAX >> CHUNK_SHIFT) << CHUNK_SHIFT],
        );
        assert_eq!(set.dense_len(), top.len());
    }

    #[test]
    fn empty() {
        let set = check(&BTreeSet::new(), [0, 1, u64::MAX]);
        assert!(set.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn agrees_with_a_btreeset(
            // Per chunk of 8 neighbouring chunks: a density from none to full.
            densities in proptest::collection::vec(0u64..=16, 8),
            scattered in proptest::collection::btree_set(0u64..(12 << CHUNK_SHIFT), 0..300),
            seed in any::<u64>(),
        ) {
            let mut keys = scattered;
            for (c, &density) in densities.iter().enumerate() {
                let chunk = 2 + c as u64;
                // A key kept when a hash of it falls below density / 16.
                keys.extend(chunk_keys(chunk, |o| {
                    (o ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60 < density
                }));
            }
            let probes: Vec<u64> = (0..4000u64).map(|i| i.wrapping_mul(seed | 1) % (12 << CHUNK_SHIFT)).collect();
            check(&keys, probes);
        }
    }
}
