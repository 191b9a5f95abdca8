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
//! The mapping comes from `memmap2` and is viewed as words through `bytemuck`, so
//! no `unsafe` is needed here. Where huge pages are unavailable (another OS, THP
//! disabled) the advice is ignored and the array is an ordinary zeroed mapping.

use memmap2::MmapMut;

/// Arrays smaller than one huge page gain nothing from the advice.
const HUGE_PAGE: usize = 2 << 20;

/// A zero-initialised `u64` array in its own anonymous mapping (huge pages when
/// large enough). Dereferences to `[u64]`.
#[derive(Debug)]
pub struct HugeWords {
    /// `None` for an empty array (a mapping cannot be empty).
    map: Option<MmapMut>,
}

impl HugeWords {
    /// `len` zero words. O(1): pages are zeroed lazily by the kernel on first touch.
    ///
    /// # Panics
    /// If the system refuses the mapping (out of address space or memory), as an
    /// allocation failure would.
    pub fn zeroed(len: usize) -> HugeWords {
        if len == 0 {
            return HugeWords { map: None };
        }
        let bytes = len
            .checked_mul(std::mem::size_of::<u64>())
            .expect("array size overflows");
        let map = MmapMut::map_anon(bytes).expect("cannot map memory for a list");
        #[cfg(target_os = "linux")]
        if bytes >= HUGE_PAGE {
            // Only a hint: without THP the mapping simply keeps 4 KiB pages.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        HugeWords { map: Some(map) }
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
        // Mappings are page-aligned and a whole number of words long, so the cast
        // cannot fail.
        self.map.as_deref().map_or(&[], bytemuck::cast_slice)
    }
}

impl std::ops::DerefMut for HugeWords {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u64] {
        self.map
            .as_deref_mut()
            .map_or(&mut [], bytemuck::cast_slice_mut)
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
        assert_eq!(w.as_ptr() as usize % 64, 0, "cache-line aligned");
        let copy = HugeWords::from_slice(&[1, 2, 3]);
        assert_eq!(&*copy, &[1, 2, 3]);
    }
}
