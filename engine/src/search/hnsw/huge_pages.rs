//! Asking the kernel to back the graph's largest arrays (the walk copy's codes, the layer-0
//! links) with 2 MiB pages.
//!
//! A walk reads rows and lists at random over tens of megabytes: with 4 KiB pages nearly
//! every row read also misses the TLB (its page walk is one more memory access to wait for).
//! Linux gives anonymous memory huge pages only where asked (`transparent_hugepage=madvise`,
//! the default of most distributions, and this machine's) or everywhere (`always`): the
//! advice is asked for every vector before it is filled, and is a no-op where the kernel
//! gives huge pages anyway, has none, or is not Linux.

/// Bytes of a huge page on x86-64 and most aarch64 kernels (a larger one only means fewer
/// whole pages inside the range).
const HUGE_PAGE: usize = 2 << 20;

/// Advises huge pages for the whole pages of 2 MiB that `v`'s allocation (its capacity, not
/// only its length) covers; call it after reserving and before filling the memory, as the
/// advice applies to pages touched afterwards. Below one huge page it does nothing.
pub(crate) fn advise<T>(v: &Vec<T>) {
    let start = v.as_ptr() as usize;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end > first {
        madvise_huge(first, end - first);
    }
}

#[cfg(target_os = "linux")]
fn madvise_huge(addr: usize, len: usize) {
    // SAFETY: `addr..addr + len` lies inside one live allocation of this process (the vector's
    // buffer, rounded inwards to whole huge pages, so page-aligned), and MADV_HUGEPAGE changes
    // how the kernel backs those pages, never their contents. A failure (a kernel without
    // transparent huge pages: EINVAL) only leaves the pages as they were.
    let _ = unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn madvise_huge(_addr: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    /// On Linux with transparent huge pages available, a vector advised before it is filled is
    /// backed by them (`AnonHugePages` of its mapping in `/proc/self/smaps`); elsewhere the
    /// advice is a harmless no-op.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_advised_vector_gets_huge_pages_where_the_kernel_has_them() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        let mut v: Vec<u8> = Vec::with_capacity(16 << 20);
        super::advise(&v);
        v.resize(16 << 20, 1);
        let start = v.as_ptr() as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut huge_kib = None;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, hi)) = range.split_once('-')
                && let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&(start + (8 << 20)));
            } else if inside && let Some(kib) = line.strip_prefix("AnonHugePages:") {
                huge_kib = kib
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .ok();
            }
        }
        assert!(v.iter().all(|&b| b == 1));
        // `never` (or no THP at all) gives none; `madvise` and `always` give some, unless the
        // kernel found no free huge page, which a fresh 16 MiB rarely lacks.
        if mode.contains("[madvise]") || mode.contains("[always]") {
            assert!(
                huge_kib.is_some_and(|k| k >= 2048),
                "mode {mode:?}: AnonHugePages {huge_kib:?} kB in the vector's mapping"
            );
        }
    }
}
