//! Installs filters for real, each in a forked child so the test process is unaffected. Needs no
//! privilege: the child sets no_new_privs first.
#![cfg(target_arch = "x86_64")]

use berth_oci::{Seccomp, SeccompAction, SeccompSyscall};
use berth_seccomp::{compile, Filter};

fn getppid_errno(action: SeccompAction, errno_ret: Option<u32>) -> Filter {
    compile(&Seccomp {
        default_action: SeccompAction::Allow,
        default_errno_ret: None,
        architectures: Vec::new(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: vec![SeccompSyscall {
            names: vec!["getppid".into()],
            action,
            errno_ret,
            args: Vec::new(),
        }],
    })
    .unwrap()
}

/// Runs `child` in a forked process and returns its exit status. `child` must only make
/// async-signal-safe calls (no allocation): the test harness is multi-threaded.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child`, which makes raw syscalls, then _exit()s without
    // returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = child();
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above; `status` is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    libc::WEXITSTATUS(status)
}

fn set_no_new_privs() -> bool {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[test]
fn installed_filter_makes_getppid_fail_with_errno_42() {
    let filter = getppid_errno(SeccompAction::Errno, Some(42));
    let status = in_child(|| {
        if !set_no_new_privs() {
            return 10;
        }
        if filter.install().is_err() {
            return 11;
        }
        // SAFETY: getppid takes no arguments; called directly so libc cannot cache it.
        let ret = unsafe { libc::syscall(libc::SYS_getppid) };
        if ret != -1 || errno() != 42 {
            return 12;
        }
        // SAFETY: getpid takes no arguments.
        if unsafe { libc::syscall(libc::SYS_getpid) } <= 0 {
            return 13;
        }
        0
    });
    assert_eq!(status, 0, "child failed at step {status}");
}

#[test]
fn notify_returns_a_listener() {
    let filter = getppid_errno(SeccompAction::Notify, None);
    let status = in_child(|| {
        if !set_no_new_privs() {
            return 10;
        }
        match filter.install() {
            // The child exits without making the notified syscall, so nobody waits on it.
            Ok(Some(fd)) => {
                use std::os::fd::AsRawFd;
                // SAFETY: F_GETFD on a descriptor we own.
                if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) } < 0 {
                    return 12;
                }
                0
            }
            Ok(None) => 11,
            Err(_) => 13,
        }
    });
    assert_eq!(status, 0, "child failed at step {status}");
}

#[test]
fn install_without_no_new_privs_is_refused_for_unprivileged_callers() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return; // CAP_SYS_ADMIN may install without no_new_privs.
    }
    let filter = getppid_errno(SeccompAction::Errno, Some(42));
    let status = in_child(|| match filter.install() {
        Err(berth_seccomp::SeccompError::Install { .. }) => 0,
        _ => 1,
    });
    assert_eq!(status, 0);
}
