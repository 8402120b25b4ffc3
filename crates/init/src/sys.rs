//! Raw Linux system calls, and the thin safe wrappers berth-init uses. Nearly every `unsafe`
//! block of the library lives here.
//!
//! berth-init calls the kernel directly instead of through the C library: its release build has
//! no C runtime at all (see `main.rs`), which is what keeps it a few dozen KiB on disk and in
//! memory. Errors are the kernel's errno values, returned as `Errno`.

use core::ffi::{c_char, c_int, CStr};
use core::{fmt, ptr};

use libc::{c_long, pid_t};

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("berth-init makes raw system calls and supports only x86_64 Linux");

/// An errno value; displays as the C library's message ("No such file or directory").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub c_int);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match errno_message(self.0) {
            Some(message) => f.write_str(message),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// glibc's messages for the errors berth-init can meet.
fn errno_message(errno: c_int) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "Operation not permitted",
        libc::ENOENT => "No such file or directory",
        libc::ESRCH => "No such process",
        libc::EINTR => "Interrupted system call",
        libc::EIO => "Input/output error",
        libc::ENXIO => "No such device or address",
        libc::E2BIG => "Argument list too long",
        libc::ENOEXEC => "Exec format error",
        libc::EBADF => "Bad file descriptor",
        libc::ECHILD => "No child processes",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::ENOMEM => "Cannot allocate memory",
        libc::EACCES => "Permission denied",
        libc::EFAULT => "Bad address",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::EINVAL => "Invalid argument",
        libc::ENFILE => "Too many open files in system",
        libc::EMFILE => "Too many open files",
        libc::ENOTTY => "Inappropriate ioctl for device",
        libc::ETXTBSY => "Text file busy",
        libc::EPIPE => "Broken pipe",
        libc::ENAMETOOLONG => "File name too long",
        libc::ENOSYS => "Function not implemented",
        libc::ELOOP => "Too many levels of symbolic links",
        libc::ELIBBAD => "Accessing a corrupted shared library",
        _ => return None,
    })
}

pub type Result<T> = core::result::Result<T, Errno>;

/// Makes system call `nr` with up to six arguments (unused ones are ignored by the kernel).
///
/// # Safety
/// The arguments must be valid for that system call: pointers it dereferences must point to
/// memory of the size and mutability the kernel expects.
unsafe fn syscall(nr: c_long, args: [usize; 6]) -> Result<usize> {
    let ret: isize;
    // SAFETY: the x86_64 Linux system-call convention: number in rax, arguments in rdi, rsi,
    // rdx, r10, r8, r9; the kernel clobbers rcx and r11 and returns in rax. It touches no stack.
    // The caller guarantees the arguments are valid for `nr`.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    // The kernel returns -errno (in -4095..=-1) on failure.
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as c_int))
    } else {
        Ok(ret as usize)
    }
}

/// A call whose arguments are all plain integers.
fn syscall_ints(nr: c_long, args: [usize; 6]) -> Result<usize> {
    // SAFETY: only called for system calls that take no pointers (kill, setpgid, getpid, ...),
    // which have no memory-safety preconditions.
    unsafe { syscall(nr, args) }
}

fn int(value: c_int) -> usize {
    value as isize as usize
}

pub fn write(fd: c_int, bytes: &[u8]) -> Result<usize> {
    // SAFETY: bytes is readable for bytes.len() bytes.
    unsafe {
        syscall(
            libc::SYS_write,
            [int(fd), bytes.as_ptr() as usize, bytes.len(), 0, 0, 0],
        )
    }
}

/// Writes all of `bytes`, retrying short writes.
pub fn write_all(fd: c_int, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(0) => return Err(Errno(libc::EIO)),
            Ok(n) => bytes = &bytes[n.min(bytes.len())..],
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ends the process with `code`.
pub fn exit(code: u8) -> ! {
    let _ = syscall_ints(libc::SYS_exit_group, [usize::from(code), 0, 0, 0, 0, 0]);
    // exit_group cannot return; if it somehow did, spinning is the only safe option left.
    loop {
        core::hint::spin_loop();
    }
}

pub fn getpid() -> pid_t {
    syscall_ints(libc::SYS_getpid, [0; 6]).map_or(0, |pid| pid as pid_t)
}

pub fn getppid() -> pid_t {
    syscall_ints(libc::SYS_getppid, [0; 6]).map_or(0, |pid| pid as pid_t)
}

pub fn kill(pid: pid_t, signal: c_int) -> Result<()> {
    syscall_ints(libc::SYS_kill, [int(pid), int(signal), 0, 0, 0, 0]).map(drop)
}

/// A set of signals, in the kernel's layout (one bit per signal 1..=64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct SigSet(u64);

impl SigSet {
    pub const EMPTY: Self = Self(0);
    /// Every signal; the kernel silently leaves SIGKILL and SIGSTOP out of masks.
    pub const FULL: Self = Self(u64::MAX);

    fn bit(signal: c_int) -> u64 {
        match signal {
            1..=64 => 1 << (signal - 1),
            _ => 0,
        }
    }

    pub fn remove(&mut self, signal: c_int) {
        self.0 &= !Self::bit(signal);
    }

    #[cfg(test)]
    pub fn contains(&self, signal: c_int) -> bool {
        self.0 & Self::bit(signal) != 0
    }
}

const SIGSET_SIZE: usize = core::mem::size_of::<SigSet>();

/// Replaces the signal mask; returns the previous one.
pub fn set_signal_mask(set: &SigSet) -> Result<SigSet> {
    let mut old = SigSet::EMPTY;
    let new = ptr::from_ref(set) as usize;
    let old_ptr = ptr::from_mut(&mut old) as usize;
    let how = int(libc::SIG_SETMASK);
    // SAFETY: both pointers are valid for a kernel sigset of SIGSET_SIZE bytes.
    unsafe { syscall(libc::SYS_rt_sigprocmask, [how, new, old_ptr, SIGSET_SIZE, 0, 0])? };
    Ok(old)
}

/// A signal's disposition, in the kernel's `struct sigaction` layout for x86_64.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Disposition {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: SigSet,
}

impl Disposition {
    pub const DEFAULT: Self = Self::plain(libc::SIG_DFL);
    pub const IGNORE: Self = Self::plain(libc::SIG_IGN);

    const fn plain(handler: usize) -> Self {
        Self {
            handler,
            flags: 0,
            restorer: 0,
            mask: SigSet::EMPTY,
        }
    }
}

/// Installs `disposition` for `signal`; returns the previous one. Only SIG_DFL, SIG_IGN and
/// dispositions read back from the kernel can be built, so no handler is ever installed.
pub fn set_disposition(signal: c_int, disposition: &Disposition) -> Result<Disposition> {
    let mut old = Disposition::DEFAULT;
    let new = ptr::from_ref(disposition) as usize;
    let old_ptr = ptr::from_mut(&mut old) as usize;
    // SAFETY: both pointers are valid for the kernel's struct sigaction (Disposition mirrors it)
    // and SIGSET_SIZE is the kernel's sigset size.
    unsafe {
        syscall(
            libc::SYS_rt_sigaction,
            [int(signal), new, old_ptr, SIGSET_SIZE, 0, 0],
        )?
    };
    Ok(old)
}

/// The kernel's siginfo_t (128 bytes), with the fields of kill(2)-style signals named.
#[repr(C)]
struct SigInfo {
    signo: c_int,
    errno: c_int,
    code: c_int,
    _pad: c_int,
    pid: pid_t,
    uid: libc::uid_t,
    _rest: [u64; 13],
}

/// A signal taken from the pending set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    pub signal: c_int,
    /// Sender's pid for signals sent with kill(2) and friends, else 0.
    pub sender: pid_t,
}

/// Waits for one of the blocked signals in `set`, retrying when interrupted.
pub fn wait_signal(set: &SigSet) -> Result<SignalInfo> {
    loop {
        let mut info = SigInfo {
            signo: 0,
            errno: 0,
            code: 0,
            _pad: 0,
            pid: 0,
            uid: 0,
            _rest: [0; 13],
        };
        let set_ptr = ptr::from_ref(set) as usize;
        let info_ptr = ptr::from_mut(&mut info) as usize;
        // SAFETY: set points to a kernel sigset of SIGSET_SIZE bytes, info to a 128-byte
        // siginfo_t; a null timeout waits forever.
        let result = unsafe {
            syscall(
                libc::SYS_rt_sigtimedwait,
                [set_ptr, info_ptr, 0, SIGSET_SIZE, 0, 0],
            )
        };
        match result {
            Ok(signal) => {
                let sender = match info.code {
                    libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL => info.pid,
                    _ => 0,
                };
                return Ok(SignalInfo {
                    signal: signal as c_int,
                    sender,
                });
            }
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The outcome of a non-blocking wait for any child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child terminated; its zombie is gone.
    Child { pid: pid_t, status: c_int },
    /// Children exist, none has terminated.
    NoneReady,
    /// No children at all.
    NoChildren,
}

/// Reaps one terminated child, if any, without blocking.
pub fn reap_one() -> Result<Reaped> {
    let mut status: c_int = 0;
    // __WALL also collects children whose exit signal is not SIGCHLD (clone(2) without it),
    // which would otherwise stay zombies forever.
    let options = libc::WNOHANG | libc::__WALL;
    let status_ptr = ptr::from_mut(&mut status) as usize;
    // SAFETY: status_ptr points to a writable c_int; the rusage pointer is null.
    let result = unsafe { syscall(libc::SYS_wait4, [int(-1), status_ptr, int(options), 0, 0, 0]) };
    match result {
        Ok(0) => Ok(Reaped::NoneReady),
        Ok(pid) => Ok(Reaped::Child {
            pid: pid as pid_t,
            status,
        }),
        Err(Errno(libc::ECHILD)) => Ok(Reaped::NoChildren),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    Parent { child: pid_t },
    Child,
}

/// fork(2), straight to the kernel: no C library fork handlers run. berth-init is
/// single-threaded and keeps no C library state, so the child may do anything the parent could.
pub fn fork() -> Result<Fork> {
    match syscall_ints(libc::SYS_fork, [0; 6])? {
        0 => Ok(Fork::Child),
        child => Ok(Fork::Parent {
            child: child as pid_t,
        }),
    }
}

/// setpgid(2): makes `pid` (0 for the caller) the leader of a process group of its own.
pub fn new_process_group(pid: pid_t) -> Result<()> {
    syscall_ints(libc::SYS_setpgid, [int(pid), 0, 0, 0, 0, 0]).map(drop)
}

/// tcsetpgrp(0, getpgrp()): makes the caller's process group the foreground group of the
/// terminal on stdin.
pub fn take_terminal() -> Result<()> {
    let group = syscall_ints(libc::SYS_getpgrp, [0; 6])? as pid_t;
    let group_ptr = ptr::from_ref(&group) as usize;
    let request = libc::TIOCSPGRP as usize;
    // SAFETY: TIOCSPGRP reads one pid_t through the pointer, which is valid.
    unsafe {
        syscall(
            libc::SYS_ioctl,
            [int(libc::STDIN_FILENO), request, group_ptr, 0, 0, 0],
        )
    }
    .map(drop)
}

/// A null-terminated array of pointers to NUL-terminated strings (argv, envp), as the kernel
/// laid them out at start-up.
#[derive(Debug, Clone, Copy)]
pub struct StringArray(*const *const c_char);

impl StringArray {
    /// # Safety
    /// `ptr` must point to a null-terminated array of pointers to NUL-terminated strings that
    /// stay valid and unchanged for the rest of the process (argv and envp do).
    pub unsafe fn new(ptr: *const *const c_char) -> Self {
        Self(ptr)
    }

    /// The array without its first `n` entries, or `None` when it holds fewer than `n`.
    pub fn skip(self, n: usize) -> Option<Self> {
        for i in 0..n {
            self.get(i)?;
        }
        // The first n entries are non-null, so the array is at least n + 1 long.
        Some(Self(self.0.wrapping_add(n)))
    }

    /// Entry `index`, or `None` at and after the terminating null pointer.
    pub fn get(self, index: usize) -> Option<&'static [u8]> {
        for i in 0..index {
            // SAFETY: entries 0..i are non-null (checked on earlier turns), so entry i is still
            // within the array.
            if unsafe { *self.0.add(i) }.is_null() {
                return None;
            }
        }
        // SAFETY: entries before `index` are non-null, so entry `index` is within the array.
        let entry = unsafe { *self.0.add(index) };
        if entry.is_null() {
            return None;
        }
        // SAFETY: non-null entries point to NUL-terminated strings valid for the process's
        // lifetime (the constructor's contract).
        Some(unsafe { CStr::from_ptr(entry) }.to_bytes())
    }

    /// Iterates over the entries.
    pub fn iter(self) -> impl Iterator<Item = &'static [u8]> {
        let mut next = self.0;
        core::iter::from_fn(move || {
            // SAFETY: `next` never moves past the terminating null pointer.
            let entry = unsafe { *next };
            if entry.is_null() {
                return None;
            }
            next = next.wrapping_add(1);
            // SAFETY: as in `get`.
            Some(unsafe { CStr::from_ptr(entry) }.to_bytes())
        })
    }

    fn as_ptr(self) -> *const *const c_char {
        self.0
    }
}

/// execve(2); returns only on failure.
pub fn execve(path: &CStr, argv: StringArray, envp: StringArray) -> Errno {
    let (path, argv, envp) = (
        path.as_ptr() as usize,
        argv.as_ptr() as usize,
        envp.as_ptr() as usize,
    );
    // SAFETY: path is NUL-terminated; argv and envp are null-terminated arrays of
    // NUL-terminated strings (StringArray's contract).
    match unsafe { syscall(libc::SYS_execve, [path, argv, envp, 0, 0, 0]) } {
        Ok(_) => Errno(0),
        Err(e) => e,
    }
}

pub fn set_child_subreaper() -> Result<()> {
    syscall_ints(
        libc::SYS_prctl,
        [int(libc::PR_SET_CHILD_SUBREAPER), 1, 0, 0, 0, 0],
    )
    .map(drop)
}

pub fn is_child_subreaper() -> Result<bool> {
    let mut value: c_int = 0;
    let value_ptr = ptr::from_mut(&mut value) as usize;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one c_int through the pointer, which is valid.
    unsafe {
        syscall(
            libc::SYS_prctl,
            [int(libc::PR_GET_CHILD_SUBREAPER), value_ptr, 0, 0, 0, 0],
        )?
    };
    Ok(value != 0)
}

pub fn set_parent_death_signal(signal: c_int) -> Result<()> {
    syscall_ints(
        libc::SYS_prctl,
        [int(libc::PR_SET_PDEATHSIG), int(signal), 0, 0, 0, 0],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_display() {
        assert_eq!(Errno(libc::ENOENT).to_string(), "No such file or directory");
        assert_eq!(Errno(libc::EACCES).to_string(), "Permission denied");
        assert_eq!(Errno(9999).to_string(), "errno 9999");
    }

    #[test]
    fn sigset_bits() {
        let mut set = SigSet::FULL;
        assert!(set.contains(libc::SIGTERM));
        set.remove(libc::SIGTERM);
        assert!(!set.contains(libc::SIGTERM));
        assert!(set.contains(64));
        assert!(!SigSet::EMPTY.contains(1));
        assert!(!set.contains(0) && !set.contains(65));
    }

    #[test]
    fn kernel_struct_sizes() {
        assert_eq!(core::mem::size_of::<SigInfo>(), 128);
        assert_eq!(core::mem::size_of::<Disposition>(), 32);
        assert_eq!(SIGSET_SIZE, 8);
    }

    #[test]
    fn getpid_matches_std() {
        assert_eq!(getpid() as u32, std::process::id());
    }

    #[test]
    fn string_array() {
        let strings = [c"a".as_ptr(), c"bc".as_ptr(), ptr::null()];
        // SAFETY: a null-terminated array of C string literals; the array outlives every use
        // below and the literals live forever.
        let array = unsafe { StringArray::new(strings.as_ptr()) };
        assert_eq!(array.get(0), Some(&b"a"[..]));
        assert_eq!(array.get(1), Some(&b"bc"[..]));
        assert_eq!(array.get(2), None);
        assert_eq!(array.get(7), None);
        assert_eq!(array.iter().count(), 2);
        assert_eq!(array.skip(1).and_then(|a| a.get(0)), Some(&b"bc"[..]));
        assert_eq!(array.skip(2).map(|a| a.iter().count()), Some(0));
        assert!(array.skip(3).is_none());
    }
}
