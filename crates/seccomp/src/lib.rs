//! Compiles the OCI seccomp object (`linux.seccomp`) into a classic BPF program and installs it,
//! in pure Rust: berth's runtime is a static binary and does not link libseccomp.
//!
//! The filter behaves as the one runc builds with libseccomp, for the parts of the semantics the
//! OCI spec leaves to the runtime:
//!
//! - **Architectures.** The native architecture is always part of the filter; `architectures`
//!   adds more. A syscall from any other architecture gets libseccomp's default bad-architecture
//!   action, `SCMP_ACT_KILL` (`SECCOMP_RET_KILL_THREAD`). x86_64 and x32 share
//!   `AUDIT_ARCH_X86_64`: with x86_64 alone, numbers at or above [`X32_SYSCALL_BIT`] get the
//!   bad-architecture action (except -1, which tracers use to skip a syscall), and with x32 alone
//!   numbers below it do, so x32 numbers never reach x86_64 rules. Listing an architecture this
//!   crate has no table for is an error if its syscalls can reach this host (ARM on aarch64), and
//!   is ignored otherwise (MIPS on x86_64).
//! - **Names** unknown on an architecture are skipped for that architecture, as runc skips names
//!   libseccomp cannot resolve.
//! - **Actions.** `SCMP_ACT_KILL` is `KILL_THREAD`; `ERRNO` and `TRACE` carry `errnoRet`
//!   (`defaultErrnoRet` for the default action), `EPERM` when absent. A rule whose action (with
//!   its errno) equals the default action is dropped, as runc does. `NOTIFY` cannot be the default
//!   action nor apply to `write` (runc's restrictions); any `NOTIFY` rule adds
//!   `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
//! - **Arguments.** Conditions of one rule are ANDed. 64-bit ABIs (x86_64, aarch64) compare full
//!   64-bit values, high word first; 32-bit ABIs (i386, and x32 as in libseccomp) compare the low
//!   words only. `SCMP_CMP_MASKED_EQ` tests `(arg & value) == (valueTwo & value)`, and a mask of 0
//!   makes the condition always true (libseccomp drops it). A rule with two conditions on the same
//!   argument is split into one rule per condition (ORed), which is what runc does.
//! - **Precedence** for a syscall named by several rules: the first rule without conditions
//!   decides, wherever the conditional rules stand (libseccomp keeps the first unconditional rule
//!   and lets it replace earlier conditional ones). Otherwise the conditional rules are tried in
//!   the order given and the first match decides; if none matches, the default action. libseccomp
//!   instead merges conditional rules into a tree sorted by argument and operator, and refuses
//!   some conflicting combinations (`EEXIST`); for rules that do not overlap the result is the
//!   same, for overlapping rules with different actions berth's answer is the first in the file.
//! - **`-ENOSYS` for new syscalls.** Unless the default action is `ALLOW`, `LOG` or `TRACE`,
//!   syscall numbers above the largest one the profile names (per architecture) return `ENOSYS`,
//!   as runc's patched filter does, so that libc falls back from syscalls the profile predates.
//!
//! The program checks `seccomp_data.arch` against each architecture section (native first), then
//! runs a binary search (`jge`) over ranges of syscall numbers with the same verdict, so a syscall
//! is decided in O(log n) instructions; leaves are `ret` or argument checks. Docker's default
//! profile on x86_64 + i386 + x32 compiles to about 650 instructions.
//!
//! Syscall numbers come from tables generated from the Linux UAPI headers of the build machine
//! (`tools/gen-syscall-tables.py`); syscalls newer than those headers are unknown names.
//!
//! Not done: i386 `socketcall(2)`/`ipc(2)` demultiplexing (libseccomp also adds a `socketcall`
//! rule for each socket syscall rule on i386), and architectures other than x86_64, i386, x32 and
//! aarch64.

mod arch;
mod bpf;
mod compile;
mod error;
mod install;
mod tables;

use std::fmt;

pub use arch::{
    audit_arch, syscall_number, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
pub use bpf::{disassemble, evaluate, SeccompData};
pub use error::SeccompError;

/// Actions this crate compiles, as spelled in the OCI spec (for `berth-runtime features`).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Argument comparison operators this crate compiles.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Architectures this crate has syscall tables for.
pub const ARCHITECTURES: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];

/// Filter flags this crate accepts in `linux.seccomp.flags`.
pub const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// A compiled seccomp filter: the BPF program and the `SECCOMP_FILTER_FLAG_*` flags to install it
/// with.
#[derive(Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: u32,
}

impl Filter {
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)`.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Runs the program on `data` in userspace; see [`evaluate`].
    pub fn evaluate(&self, data: &SeccompData) -> u32 {
        evaluate(&self.program, data)
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .finish()
    }
}

/// Compiles `spec` for the native architecture plus `spec.architectures`.
///
/// Errors name the offending flag, syscall, argument index or architecture.
pub fn compile(spec: &berth_oci::Seccomp) -> Result<Filter, SeccompError> {
    compile::compile(spec)
}
