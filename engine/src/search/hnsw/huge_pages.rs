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
    /// On Linux, a vector advised before it is filled carries the advice: its mapping's
    /// `VmFlags` in `/proc/self/smaps` hold `hg` (huge pages asked for), wherever the kernel
    /// has transparent huge pages at all. Whether the kernel then finds free huge pages for it
    /// depends on the machine's memory, so the test checks the advice, not the pages.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_advised_vector_asks_the_kernel_for_huge_pages() {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        let mut v: Vec<u8> = Vec::with_capacity(16 << 20);
        super::advise(&v);
        v.resize(16 << 20, 1);
        let middle = v.as_ptr() as usize + (8 << 20);
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut flags = None;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, hi)) = range.split_once('-')
                && let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&middle);
            } else if inside && let Some(f) = line.strip_prefix("VmFlags:") {
                flags = Some(f.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
            }
        }
        assert!(v.iter().all(|&b| b == 1), "the contents are the vector's");
        let flags = flags.expect("the vector's mapping in smaps");
        // Without THP in the kernel (no `enabled` file) or with it off, madvise refuses the
        // advice (EINVAL) and nothing is set.
        if thp.contains("[madvise]") || thp.contains("[always]") {
            assert!(
                flags.iter().any(|f| f == "hg"),
                "THP {thp:?}: VmFlags {flags:?} of the vector's mapping lack `hg`"
            );
        }
    }
}
