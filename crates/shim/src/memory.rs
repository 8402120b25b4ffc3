//! Keeping the idle shim small: one runs per container, and most of the time it waits in poll.
//!
//! A static binary's code is file-backed, but the kernel maps it in large page-cache folios, so
//! start-up leaves nearly the whole text resident in the process (~1 MiB of RSS for the ~100 KiB
//! of code ever run). When the shim goes idle it drops its mappings of the read-only,
//! never-written segments (`MADV_DONTNEED` on a private file mapping that was never written:
//! the pages stay in the page cache, shared, and the few the idle loop touches are mapped again
//! on their next use by a minor fault).
//!
//! Heap: `init` makes glibc give freed memory back by itself, so that the idle path does not run
//! `malloc_trim` (whose code would be mapped back in with it).

use std::sync::OnceLock;

/// The page-aligned ranges of the main program's non-writable loadable segments, found once:
/// looking them up again would read the program headers, and so map their pages back in.
static RANGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();

/// Set once at start: allocations of 64 KiB or more (a slow client's queue, the entry of a long
/// log line) get their own mapping, returned on free, and a free leaving more than 64 KiB at the
/// top of the heap shrinks it. Fixed values also turn off glibc's dynamic threshold, which
/// would raise the mapping threshold after the first such free.
pub fn init() {
    // SAFETY: mallopt only sets allocator parameters; called before any allocation matters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024);
    }
}

/// Releases the code pages the idle loop does not need. Cheap (a few system calls).
pub fn trim() {
    let ranges = RANGES.get_or_init(|| {
        let mut found = Vec::new();
        // SAFETY: dl_iterate_phdr calls `segments` with valid dl_phdr_info pointers for the
        // duration of each call, and `data` is the Vec above, alive for the whole call.
        unsafe {
            libc::dl_iterate_phdr(Some(segments), (&raw mut found).cast());
        }
        found
    });
    for &(start, len) in ranges {
        // SAFETY: the range covers whole pages of a segment of this program that is mapped
        // read-only from the file and never written (see `segments`): discarding its pages
        // loses nothing, they read back from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }
}

/// Collects, for the main program (the first object reported), the whole pages of its loadable
/// segments without PF_W. Relocations and RELRO live in writable segments (a binary with text
/// relocations would have a writable text segment, and is skipped that way), so these pages are
/// exactly as the file has them.
unsafe extern "C" fn segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: glibc passes a valid info whose dlpi_phdr points to dlpi_phnum program headers of
    // the object, mapped at dlpi_addr + p_vaddr; `data` is the Vec `trim` passed.
    unsafe {
        let info = &*info;
        let found = &mut *data.cast::<Vec<(usize, usize)>>();
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
        for ph in phdrs {
            if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
                continue;
            }
            let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
            let end = start + ph.p_memsz as usize;
            // Whole pages inside the segment only: a page shared with a neighbour is left alone.
            let first = start.div_ceil(page) * page;
            let last = end / page * page;
            if last > first {
                found.push((first, last - first));
            }
        }
    }
    // Non-zero stops the iteration: only the main program is ours to trim.
    1
}
