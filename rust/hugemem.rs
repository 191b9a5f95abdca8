//! Large word arrays backed by transparent huge pages, for the structures whose
//! lookups land on random cache lines (the list filter and exact store).
//!
//! **Why.** A random read in an array of tens of megabytes misses the TLB as
//! well as the cache: with 4 KiB pages a 80 MB array spans 20,000 pages, far more
//! than the TLB holds, so nearly every lookup also walks the page table (and under
//! a hypervisor that walk is two-dimensional). With 2 MiB pages the same array is
//! 40 TLB entries. The kernel only uses huge pages for a mapping that asks for
//! them when it is in `madvise` mode (the usual default), so the array is its own
//! anonymous mapping, advised *before* its pages are first touched (advising
//! afterwards leaves the conversion to a background thread, minutes later).
//!
//! **Alignment.** The kernel backs only the aligned 2 MiB stretches that lie
//! wholly inside a mapping, and a mapping starts wherever it lands: a 3 MiB
//! array mapped as is often gets no huge page at all, and a 12 MiB one five of
//! its six. So a large array starts at a huge-page boundary inside a
//! slightly larger mapping, of which only the array's stretch is advised. Its
//! last, partial huge page is used whole when the array fills at least half of
//! it, and is left to 4 KiB pages otherwise: at most 1 MiB of resident memory is
//! spent on an array's unused end (one reason the exact store keeps its three
//! arrays in one mapping). Measured on a 10-million-number list: 14 of its 19 MiB
//! were in huge pages before, all but a short tail after, and a listed lookup
//! from Python was 10–20 ns faster (bench/README.md).
//!
//! The mapping comes from `memmap2` and is viewed as words through `bytemuck`, so
//! no `unsafe` is needed here. Where huge pages are unavailable (another OS, THP
//! disabled) the advice is ignored and the array is an ordinary zeroed mapping.

use memmap2::MmapMut;

/// Arrays smaller than one huge page gain nothing from the advice.
const HUGE_PAGE: usize = 2 << 20;

/// How much of an array of `bytes` huge pages back: none below one page; else
/// its whole pages, and its last, partial one too when the array fills at least
/// half of it (a huge page for less would mostly hold nothing).
fn huge_bytes(bytes: usize) -> usize {
    if bytes < HUGE_PAGE {
        0
    } else if bytes % HUGE_PAGE >= HUGE_PAGE / 2 {
        bytes.next_multiple_of(HUGE_PAGE)
    } else {
        bytes - bytes % HUGE_PAGE
    }
}

/// A zero-initialised `u64` array in its own anonymous mapping (huge pages when
/// large enough). Dereferences to `[u64]`.
#[derive(Debug)]
pub struct HugeWords {
    /// `None` for an empty array (a mapping cannot be empty).
    map: Option<MmapMut>,
    /// Where the array starts in `map`, in bytes: the first huge-page boundary.
    start: usize,
    /// Words in the array.
    len: usize,
}

impl HugeWords {
    /// `len` zero words. O(1): pages are zeroed lazily by the kernel on first touch.
    ///
    /// # Panics
    /// If the system refuses the mapping (out of address space or memory), as an
    /// allocation failure would.
    pub fn zeroed(len: usize) -> HugeWords {
        if len == 0 {
            return HugeWords {
                map: None,
                start: 0,
                len: 0,
            };
        }
        let bytes = len
            .checked_mul(std::mem::size_of::<u64>())
            .expect("array size overflows");
        if bytes < HUGE_PAGE {
            let map = MmapMut::map_anon(bytes).expect("cannot map memory for a list");
            return HugeWords {
                map: Some(map),
                start: 0,
                len,
            };
        }
        // Map one huge page more than whole pages and start the array at the first
        // boundary; advise only the stretch that huge pages should back (see
        // "Alignment" above).
        let mapped = bytes.next_multiple_of(HUGE_PAGE) + HUGE_PAGE;
        let map = MmapMut::map_anon(mapped).expect("cannot map memory for a list");
        let start = (map.as_ptr() as usize).next_multiple_of(HUGE_PAGE) - map.as_ptr() as usize;
        #[cfg(target_os = "linux")]
        {
            // Only a hint: without THP the mapping simply keeps 4 KiB pages.
            let _ = map.advise_range(memmap2::Advice::HugePage, start, huge_bytes(bytes));
        }
        HugeWords {
            map: Some(map),
            start,
            len,
        }
    }

    /// Bytes the array holds in memory once touched: its words, or its huge pages
    /// when the last one runs past them (a huge page is resident whole). O(1).
    pub fn resident_bytes(&self) -> usize {
        let bytes = self.len * 8;
        bytes.max(huge_bytes(bytes))
    }

    /// A copy of `words` in huge pages. O(len).
    pub fn from_slice(words: &[u64]) -> HugeWords {
        let mut out = HugeWords::zeroed(words.len());
        out.copy_from_slice(words);
        out
    }
}

impl std::ops::Deref for HugeWords {
    type Target = [u64];

    #[inline]
    fn deref(&self) -> &[u64] {
        // Arrays start page-aligned and are a whole number of words long, so the
        // cast cannot fail.
        self.map.as_deref().map_or(&[], |bytes| {
            bytemuck::cast_slice(&bytes[self.start..self.start + self.len * 8])
        })
    }
}

impl std::ops::DerefMut for HugeWords {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u64] {
        let (start, end) = (self.start, self.start + self.len * 8);
        self.map.as_deref_mut().map_or(&mut [], |bytes| {
            bytemuck::cast_slice_mut(&mut bytes[start..end])
        })
    }
}

/// Asks the CPU to start loading the cache line holding `word`, without waiting
/// for it (a plain read would hold up the instructions after it until it lands).
/// A hint only: it never faults and changes no value.
#[inline]
pub fn prefetch(word: &u64) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `prefetcht0` only hints the cache; it needs SSE, which every x86_64
    // CPU has, and it cannot fault or change memory, whatever the address (here
    // a valid reference).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::from_ref(word).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = word;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_writable_and_sized() {
        assert!(HugeWords::zeroed(0).is_empty());
        let mut w = HugeWords::zeroed(3 * HUGE_PAGE / 8 + 5);
        assert_eq!(w.len(), 3 * HUGE_PAGE / 8 + 5);
        assert!(w.iter().all(|&x| x == 0));
        let last = w.len() - 1;
        w[last] = 7;
        w[0] = 1;
        assert_eq!((w[0], w[last]), (1, 7));
        assert_eq!(w.as_ptr() as usize % HUGE_PAGE, 0, "starts at a huge page");
        assert_eq!(
            w.resident_bytes(),
            3 * HUGE_PAGE + 40,
            "a short tail stays in 4 KiB pages"
        );
        assert_eq!(huge_bytes(HUGE_PAGE - 8), 0);
        assert_eq!(huge_bytes(2 * HUGE_PAGE + HUGE_PAGE / 2), 3 * HUGE_PAGE);
        assert_eq!(huge_bytes(2 * HUGE_PAGE + HUGE_PAGE / 2 - 8), 2 * HUGE_PAGE);
        let small = HugeWords::zeroed(1000);
        assert_eq!(small.as_ptr() as usize % 64, 0, "cache-line aligned");
        assert_eq!(small.resident_bytes(), 8000);
        let copy = HugeWords::from_slice(&[1, 2, 3]);
        assert_eq!(&*copy, &[1, 2, 3]);
    }

    /// Not a test: what one random read costs against the size of the array it
    /// lands in (the machine's cache knee, bench/README.md's lists section). A
    /// pointer chase through every line of a huge-page array in random order,
    /// so each read waits for the one before; best of three passes of 2M reads.
    #[test]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    fn measure_random_read_latency() {
        use std::time::Instant;
        let mut next = crate::xorshift();
        for mib in [1usize, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256] {
            let lines = (mib << 20) / 64;
            // A random cycle through every line (Sattolo's shuffle): line `order[i]`
            // points to line `order[i + 1]`.
            let mut order: Vec<usize> = (0..lines).collect();
            for i in (1..lines).rev() {
                order.swap(i, (next() % i as u64) as usize);
            }
            let mut words = HugeWords::zeroed(lines * 8);
            for (i, &line) in order.iter().enumerate() {
                words[line * 8] = (order[(i + 1) % lines] * 8) as u64;
            }
            let mut at = 0usize;
            let mut best = f64::MAX;
            for _ in 0..3 {
                let start = Instant::now();
                for _ in 0..2_000_000 {
                    at = words[at] as usize;
                }
                best = best.min(start.elapsed().as_secs_f64() * 1e9 / 2e6);
            }
            println!("{mib:>4} MiB: {best:6.1} ns a read (ended at {at})");
        }
    }
}
