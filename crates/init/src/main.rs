//! Entry point of berth-init; what it does is described in lib.rs.
//!
//! Two start-ups, chosen by build.rs:
//! - release (`berth_freestanding`): no C runtime at all. `_start` (freestanding.rs) applies the
//!   binary's own relocations, finds argv and envp on the initial stack and calls
//!   `berth_init::run`. Nothing from the C library is linked, which keeps the binary and its
//!   resident memory a few dozen KiB.
//! - other profiles: the C runtime starts the process and calls `main`. std is linked only for
//!   its unwinding panic runtime, which those profiles (panic = "unwind") require.

#![no_std]
#![cfg_attr(not(test), no_main)]

// (`test`: only `cargo clippy --all-targets` builds this file as a test harness, which brings
// its own `main` and std.)
#[cfg(any(not(berth_freestanding), test))]
extern crate std;

#[cfg(all(berth_freestanding, not(test)))]
mod freestanding;

#[cfg(not(any(berth_freestanding, test)))]
#[no_mangle]
extern "C" fn main(
    _argc: core::ffi::c_int,
    argv: *const *const core::ffi::c_char,
    envp: *const *const core::ffi::c_char,
) -> core::ffi::c_int {
    // SAFETY: the C runtime passes the process's argv and envp unchanged.
    core::ffi::c_int::from(unsafe { berth_init::run(argv, envp) })
}
