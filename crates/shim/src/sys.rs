//! The system calls the shim makes, wrapped once: every `unsafe` of the crate outside `memory.rs`
//! lives here, and each wrapper turns `-1`/errno into `io::Error`.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Retries `f` while it fails with EINTR.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if they were not), so that no pipe or
/// socket of the shim ever gets one of those numbers: `spawn` relies on it.
pub fn ensure_stdio_open() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only inspects the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // SAFETY: open with a NUL-terminated literal path; the lowest free descriptor (fd) is
            // taken, which is the one we want to fill, and it stays open for the process's life.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both descriptors are fresh and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor the caller owns.
    unsafe {
        let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// `read(2)` into a buffer that may be uninitialized; returns the bytes read (0: end of file).
pub fn read_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: the kernel writes at most buf.len() bytes into buf, which outlives the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: the kernel writes at most buf.len() bytes into buf, which outlives the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: the kernel reads at most buf.len() bytes from buf, which outlives the call.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

/// `send(2)` without SIGPIPE and without blocking, for client sockets.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: the kernel reads at most buf.len() bytes from buf, which outlives the call.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

/// Replaces `target` (a standard descriptor) with `/dev/null`.
pub fn redirect_to_null(target: RawFd) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: dup2 onto a standard descriptor; the source is a live descriptor we own.
    cvt(unsafe { libc::dup2(null.as_raw_fd(), target) })?;
    Ok(())
}

pub fn setsid() {
    // SAFETY: setsid has no memory effects; it fails harmlessly (EPERM) if we already lead a group.
    unsafe { libc::setsid() };
}

pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and no pointers.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// Blocks SIGCHLD and returns a non-blocking signalfd that reports it.
pub fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: the sigset is initialized by sigemptyset before use; sigprocmask and signalfd only
    // read it.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGCHLD);
        let set = set.assume_init();
        cvt(libc::sigprocmask(libc::SIG_BLOCK, &set, ptr::null_mut()))?;
        let fd = cvt(libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Empties a signalfd (the reaping loop, not the count of signals, is what matters).
pub fn drain_signalfd(fd: RawFd) {
    let mut buf = [0u8; 128 * 4];
    while matches!(read(fd, &mut buf), Ok(1..)) {}
}

/// The wait status of a child that ended, as `waitpid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitStatus(pub libc::c_int);

impl WaitStatus {
    /// The exit code as Docker reports it: the status, or 128 + the signal that killed it.
    pub fn exit_code(self) -> i32 {
        if libc::WIFSIGNALED(self.0) {
            128 + libc::WTERMSIG(self.0)
        } else {
            libc::WEXITSTATUS(self.0)
        }
    }
}

/// Reaps one child that has ended, if any: `None` when none has (or there are no children).
pub fn reap_any() -> Option<(libc::pid_t, WaitStatus)> {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a local.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
    (pid > 0).then_some((pid, WaitStatus(status)))
}

/// Waits for a specific child.
pub fn wait_pid(pid: libc::pid_t) -> io::Result<WaitStatus> {
    let mut status = 0;
    retry(|| {
        // SAFETY: waitpid writes the status into a local.
        cvt(unsafe { libc::waitpid(pid, &mut status, libc::__WALL) })
    })?;
    Ok(WaitStatus(status))
}

/// True when `pid` is a child of this process (alive or a zombie not yet reaped).
pub fn is_child(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data that waitid fills; WNOWAIT leaves a zombie to be reaped.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        ) == 0
    }
}

pub fn kill(pid: libc::pid_t, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory effects.
    cvt(unsafe { libc::kill(pid, sig) })?;
    Ok(())
}

/// A descriptor that becomes readable when process `pid` ends (Linux 5.3+).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: poll reads and writes the array it is given, of the length given.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    cvt(n).map(|n| n as usize)
}

pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) })?;
    Ok(())
}

/// The terminal's end-of-file character (VEOF, normally ^D).
pub fn veof(fd: RawFd) -> u8 {
    // SAFETY: tcgetattr fills a termios that is plain data.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            t.c_cc[libc::VEOF]
        } else {
            4
        }
    }
}

/// Receives one descriptor sent with SCM_RIGHTS on `sock` (runc's console-socket protocol: the
/// payload is the terminal's name, which is not needed).
pub fn recv_fd(sock: RawFd) -> io::Result<OwnedFd> {
    let mut payload = [0u8; 256];
    // Room for one cmsghdr carrying a few descriptors, 8-byte aligned as cmsg requires.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; the pointers set below stay valid for the recvmsg call, and
    // the CMSG_* macros walk only the control buffer the kernel filled (msg_controllen).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        retry(|| {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n)
            }
        })?;
        let mut received: Option<OwnedFd> = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count =
                    ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let fd = OwnedFd::from_raw_fd(ptr::read_unaligned(data.add(i)));
                    // Keep the first; any other is closed by dropping it.
                    if received.is_none() {
                        received = Some(fd);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        received.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no descriptor received"))
    }
}

/// Starts `argv[0]` (the path `path`) with `stdio` as its descriptors 0, 1 and 2, the signal mask
/// cleared and SIGPIPE back to its default (std ignores it, and an ignored disposition survives
/// exec: the container would inherit it). The environment is the shim's. Returns the child's pid
/// once it has called exec, or the error exec failed with.
///
/// Every descriptor of the shim is close-on-exec and none is 0, 1 or 2 (`ensure_stdio_open`), so
/// the three `dup2` cannot overwrite one another's source.
pub fn spawn(path: &CStr, argv: &[CString], stdio: [RawFd; 3]) -> io::Result<libc::pid_t> {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(ptr::null());
    // Exec failures travel back on this pipe; end of file means exec succeeded.
    let (err_r, err_w) = pipe()?;
    // SAFETY: the shim is single-threaded, so the child may do anything; it only calls
    // async-signal-safe functions anyway, on memory prepared before the fork, and ends in exec or
    // _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; every pointer refers to memory allocated before the fork.
        unsafe {
            for (target, &fd) in stdio.iter().enumerate() {
                let target = target as RawFd;
                if fd == target {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                } else if libc::dup2(fd, target) < 0 {
                    child_fail(err_w.as_raw_fd());
                }
            }
            let mut set = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execv(path.as_ptr(), ptrs.as_ptr());
            child_fail(err_w.as_raw_fd());
        }
    }
    drop(err_w);
    let mut errno = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match read(err_r.as_raw_fd(), &mut errno[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got == 4 {
        // The child exits at once; reap it so it does not linger as a zombie.
        let _ = wait_pid(pid);
        return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
    }
    Ok(pid)
}

/// In a forked child: reports errno on the exec-error pipe and exits.
///
/// # Safety
/// Only to be called in the child of `spawn`.
unsafe fn child_fail(fd: RawFd) -> ! {
    // SAFETY: errno location and write are async-signal-safe; _exit never returns.
    unsafe {
        let e = (*libc::__errno_location()).to_ne_bytes();
        libc::write(fd, e.as_ptr().cast(), e.len());
        libc::_exit(127)
    }
}
