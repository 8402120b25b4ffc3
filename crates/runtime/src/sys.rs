//! Thin wrappers over syscalls that neither libc nor nix wrap: clone3, and the process-wide signal
//! mask helpers used around it.

use std::os::fd::RawFd;

use nix::errno::Errno;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What `fork_with` returns in each process.
#[derive(Debug, PartialEq, Eq)]
pub enum Forked {
    Parent(i32),
    Child,
}

/// fork(2) with namespace flags and, optionally, straight into a cgroup v2 directory, so the child
/// never has to migrate between cgroups (a migration costs an RCU grace period; see
/// docs/decisions/0003-cgroup-join-without-migration.md).
///
/// The caller must be single-threaded: the child is a copy of this one thread and may allocate.
pub fn fork_with(ns_flags: u64, cgroup_fd: Option<RawFd>) -> nix::Result<Forked> {
    let mut args = CloneArgs {
        flags: ns_flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM behaves as fork: the child gets a copy-on-write copy of the
    // address space and continues from here on the same (copied) stack. The struct lives for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        0 => Ok(Forked::Child),
        pid if pid > 0 => Ok(Forked::Parent(pid as i32)),
        _ => {
            let e = Errno::last();
            if e == Errno::ENOSYS && cgroup_fd.is_none() {
                // Kernels before 5.3: plain clone with a null stack is fork with flags.
                // SAFETY: as above; clone with a null stack pointer reuses the copied stack.
                let r =
                    unsafe { libc::syscall(libc::SYS_clone, ns_flags | libc::SIGCHLD as u64, 0, 0, 0, 0) };
                return match r {
                    0 => Ok(Forked::Child),
                    pid if pid > 0 => Ok(Forked::Parent(pid as i32)),
                    _ => Err(Errno::last()),
                };
            }
            Err(e)
        }
    }
}

/// Exits the current process at once, without running atexit handlers or flushing stdio buffers
/// that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Blocks `sigs` for the process and returns the previous mask.
pub fn block_signals(sigs: &nix::sys::signal::SigSet) -> nix::Result<nix::sys::signal::SigSet> {
    let mut old = nix::sys::signal::SigSet::empty();
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(sigs),
        Some(&mut old),
    )?;
    Ok(old)
}

/// Restores default dispositions and an empty mask: what the container process must start with.
pub fn reset_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    for s in Signal::iterator() {
        if s == Signal::SIGKILL || s == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound.
        let _ = unsafe {
            sigaction(
                s,
                &SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()),
            )
        };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        None,
    );
}
