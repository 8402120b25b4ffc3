//! Start-up without a C runtime (release builds): the process entry point, self-relocation,
//! the few memory functions the compiler calls, and the panic handler.
//!
//! The binary is a static PIE: the kernel maps it at a random address and jumps to `_start`
//! with nobody to apply its relocations, so `start` applies them before any code reads a
//! pointer stored in data (string tables, vtables). Only R_X86_64_RELATIVE (in DT_RELA) and
//! packed DT_RELR relocations can occur in a binary without a C library; anything else means a
//! C library function was linked in, and the binary refuses to run rather than misbehave.
// Ref: musl ldso/dlstart.c and the ELF gABI (DT_RELR); System V x86_64 ABI 3.4.1 for the
// initial stack (argc, argv pointers, null, envp pointers, null, auxv).

use core::arch::{asm, global_asm};
use core::ffi::c_char;
use core::sync::atomic::{compiler_fence, Ordering};

global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    // Mark the outermost frame; pass the initial stack pointer, the load address (the ELF
    // header is the first byte mapped) and the address of the dynamic section.
    "xor ebp, ebp",
    "mov rdi, rsp",
    "lea rsi, [rip + __ehdr_start]",
    "lea rdx, [rip + _DYNAMIC]",
    "and rsp, -16",
    "call {start}",
    "ud2",
    start = sym start,
);

/// # Safety
/// Called once, by `_start`, with the kernel's initial stack pointer and the binary's load
/// address and dynamic section.
unsafe extern "C" fn start(stack: *const usize, base: usize, dynamic: *const usize) -> ! {
    // SAFETY: base and dynamic describe this very binary, and nothing has read relocated data
    // yet (this function and relocate only use their arguments and string literals, which are
    // addressed relative to the instruction pointer).
    unsafe { relocate(base, dynamic) };
    compiler_fence(Ordering::SeqCst);
    // SAFETY: the initial stack holds argc, then argc argv pointers and a null pointer, then
    // the environment pointers and a null pointer; the kernel never frees them.
    unsafe {
        let argc = *stack;
        let argv = stack.add(1).cast::<*const c_char>();
        let envp = argv.add(argc + 1);
        berth_init::exit(berth_init::run(argv, envp))
    }
}

const DT_NULL: usize = 0;
const DT_RELA: usize = 7;
const DT_RELASZ: usize = 8;
const DT_RELAENT: usize = 9;
const DT_RELRSZ: usize = 35;
const DT_RELR: usize = 36;
const R_X86_64_RELATIVE: u32 = 8;

/// Applies the binary's relative relocations.
///
/// # Safety
/// `base` must be the load address and `dynamic` the dynamic section of the running binary,
/// whose relocations have not been applied yet.
unsafe fn relocate(base: usize, dynamic: *const usize) {
    let (mut rela, mut rela_size, mut rela_entry) = (0, 0, 24);
    let (mut relr, mut relr_size) = (0, 0);
    let mut entry = dynamic;
    loop {
        // SAFETY: the dynamic section is an array of (tag, value) pairs ending with DT_NULL.
        let (tag, value) = unsafe { (*entry, *entry.add(1)) };
        match tag {
            DT_NULL => break,
            DT_RELA => rela = base + value,
            DT_RELASZ => rela_size = value,
            DT_RELAENT => rela_entry = value,
            DT_RELR => relr = base + value,
            DT_RELRSZ => relr_size = value,
            _ => {}
        }
        entry = entry.wrapping_add(2);
    }

    let mut offset = 0;
    while offset < rela_size {
        let rela = (rela + offset) as *const usize;
        // SAFETY: DT_RELA/DT_RELASZ delimit an array of (offset, info, addend) entries.
        let (target, info, addend) = unsafe { (*rela, *rela.add(1), *rela.add(2)) };
        if info as u32 != R_X86_64_RELATIVE {
            berth_init::die("unsupported relocation in the binary (was a C library linked in?)");
        }
        let target = (base + target) as *mut usize;
        // SAFETY: relocation targets lie in the binary's writable segment.
        unsafe { target.write_volatile(base.wrapping_add(addend)) };
        offset += rela_entry;
    }

    // DT_RELR: an address entry (low bit 0) relocates one word and sets the cursor after it; a
    // bitmap entry (low bit 1) relocates the words of the next 63 whose bits are set.
    let relr = relr as *const usize;
    let mut cursor: *mut usize = core::ptr::null_mut();
    for index in 0..relr_size / core::mem::size_of::<usize>() {
        // SAFETY: DT_RELR/DT_RELRSZ delimit an array of words.
        let word = unsafe { *relr.add(index) };
        if word & 1 == 0 {
            cursor = (base + word) as *mut usize;
            // SAFETY: relocation targets lie in the binary's writable segment.
            unsafe { cursor.write_volatile(cursor.read_volatile().wrapping_add(base)) };
            cursor = cursor.wrapping_add(1);
        } else {
            let mut bits = word >> 1;
            let mut slot = cursor;
            while bits != 0 {
                if bits & 1 != 0 {
                    // SAFETY: as above; the bitmap only names words after an address entry.
                    unsafe { slot.write_volatile(slot.read_volatile().wrapping_add(base)) };
                }
                bits >>= 1;
                slot = slot.wrapping_add(1);
            }
            cursor = cursor.wrapping_add(63);
        }
    }
}

// The compiler lowers copies and comparisons to calls to these C functions. Without a C library
// they are defined here, with `rep movsb`/`rep stosb` and plain loops; the loops read through
// `read_volatile` so they are never turned back into calls to themselves.

/// # Safety
/// The memcpy(3) contract: both ranges valid for `n` bytes and not overlapping.
#[no_mangle]
unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: rep movsb copies rcx bytes from [rsi] to [rdi] upwards (the ABI keeps the
    // direction flag clear); the caller guarantees both ranges.
    unsafe {
        asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags),
        );
    }
    dest
}

/// # Safety
/// The memmove(3) contract: both ranges valid for `n` bytes; they may overlap.
#[no_mangle]
unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // dest is below src, or the ranges do not overlap: copying upwards is safe.
        // SAFETY: the caller guarantees both ranges.
        return unsafe { memcpy(dest, src, n) };
    }
    // dest overlaps the end of src: copy downwards, from the last byte.
    // SAFETY: n > 0 here (otherwise the branch above is taken), so n - 1 is in both ranges;
    // the direction flag is set only for this copy and cleared again, as the ABI requires.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack),
        );
    }
    dest
}

/// # Safety
/// The memset(3) contract: `dest` valid for `n` bytes.
#[no_mangle]
unsafe extern "C" fn memset(dest: *mut u8, byte: i32, n: usize) -> *mut u8 {
    // SAFETY: rep stosb stores al into rcx bytes from [rdi] upwards; the caller guarantees the
    // range.
    unsafe {
        asm!(
            "rep stosb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            in("al") byte as u8,
            options(nostack, preserves_flags),
        );
    }
    dest
}

/// # Safety
/// The memcmp(3) contract: both ranges valid for `n` bytes.
#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, and the caller guarantees both ranges.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// As memcmp; only equality matters.
#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// The strlen(3) contract: `s` points to a NUL-terminated string.
#[no_mangle]
unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    let mut len = 0;
    // SAFETY: the string is NUL-terminated, so every byte up to the NUL is readable.
    while unsafe { s.add(len).read_volatile() } != 0 {
        len += 1;
    }
    len
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    berth_init::panicked(info)
}
