//! The local terminal and signals: raw mode (restored on drop), window size, and signals
//! delivered to a thread through a self-pipe.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The terminal on `fd` as (rows, columns); (0, 0) when it is not a terminal.
pub fn size(fd: RawFd) -> (u16, u16) {
    // SAFETY: an all-zero winsize is valid for TIOCGWINSZ to fill in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid pointer given.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    if r == 0 {
        (ws.ws_row, ws.ws_col)
    } else {
        (0, 0)
    }
}

/// A terminal put in raw mode; its previous settings come back when this is dropped, on every
/// path out of the command (errors included).
#[derive(Debug)]
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal on `fd` in raw mode (as moby/term `MakeRaw`, i.e. `cfmakeraw`).
    /// `None` when `fd` is not a terminal or `NORAW` is set, as docker does.
    pub fn enter(fd: RawFd) -> io::Result<Option<RawMode>> {
        if std::env::var_os("NORAW").is_some() || !crate::format::is_tty(fd) {
            return Ok(None);
        }
        // SAFETY: an all-zero termios is a valid buffer for tcgetattr to fill in.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes into the valid termios given.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the termios given.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: tcsetattr reads the valid termios given.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(RawMode { fd, saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter` on the same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// The write end of the self-pipe; -1 when no handler is installed.
static PIPE_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_W.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid byte. A full pipe drops
        // the signal, which is what a busy receiver can live with.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Signals caught for the process, read one at a time with [`Signals::recv`].
#[derive(Debug)]
pub struct Signals {
    read: RawFd,
}

/// What `signal.Notify(c)` with no signals catches in Go, minus those the kernel sends for
/// faults: every signal a user or a terminal sends.
pub const ALL: &[libc::c_int] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGWINCH,
];

impl Signals {
    /// Installs handlers for `sigs` (once per process; a second call adds to the first set).
    pub fn catch(sigs: &[libc::c_int]) -> io::Result<Signals> {
        let mut fds = [0; 2];
        if PIPE_W.load(Ordering::Relaxed) < 0 {
            // SAFETY: pipe2 writes two descriptors into the valid array.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: makes the write end non-blocking so the handler never blocks.
            unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
            PIPE_W.store(fds[1], Ordering::Relaxed);
            READ_END.store(fds[0], Ordering::Relaxed);
        }
        for &s in sigs {
            // SAFETY: an all-zero sigaction is valid to fill in; the handler only calls write(2).
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            // SAFETY: sigemptyset initializes the mask inside `sa`.
            unsafe { libc::sigemptyset(&mut sa.sa_mask) };
            // SAFETY: installs a valid handler for a catchable signal.
            if unsafe { libc::sigaction(s, &sa, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Signals {
            read: READ_END.load(Ordering::Relaxed),
        })
    }

    /// The next caught signal (blocks).
    pub fn recv(&self) -> Option<libc::c_int> {
        let mut b = 0u8;
        loop {
            // SAFETY: reads one byte into a valid buffer from our own pipe.
            let n = unsafe { libc::read(self.read, (&mut b as *mut u8).cast(), 1) };
            if n == 1 {
                return Some(b as libc::c_int);
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
    }
}

static READ_END: AtomicI32 = AtomicI32::new(-1);

/// The name docker sends in `POST /containers/{id}/kill?signal=` for a signal number.
/// Ref: moby/sys signal `SignalMap` (linux).
pub fn signal_name(sig: libc::c_int) -> Option<&'static str> {
    Some(match sig {
        libc::SIGABRT => "ABRT",
        libc::SIGALRM => "ALRM",
        libc::SIGBUS => "BUS",
        libc::SIGCHLD => "CHLD",
        libc::SIGCONT => "CONT",
        libc::SIGFPE => "FPE",
        libc::SIGHUP => "HUP",
        libc::SIGILL => "ILL",
        libc::SIGINT => "INT",
        libc::SIGIO => "IO",
        libc::SIGKILL => "KILL",
        libc::SIGPIPE => "PIPE",
        libc::SIGPROF => "PROF",
        libc::SIGPWR => "PWR",
        libc::SIGQUIT => "QUIT",
        libc::SIGSEGV => "SEGV",
        libc::SIGSTKFLT => "STKFLT",
        libc::SIGSTOP => "STOP",
        libc::SIGSYS => "SYS",
        libc::SIGTERM => "TERM",
        libc::SIGTRAP => "TRAP",
        libc::SIGTSTP => "TSTP",
        libc::SIGTTIN => "TTIN",
        libc::SIGTTOU => "TTOU",
        libc::SIGURG => "URG",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        libc::SIGVTALRM => "VTALRM",
        libc::SIGWINCH => "WINCH",
        libc::SIGXCPU => "XCPU",
        libc::SIGXFSZ => "XFSZ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(libc::SIGINT), Some("INT"));
        assert_eq!(signal_name(libc::SIGWINCH), Some("WINCH"));
        assert_eq!(signal_name(200), None);
    }

    #[test]
    fn no_terminal_no_raw_mode() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("f")).unwrap();
        use std::os::fd::AsRawFd;
        assert!(RawMode::enter(f.as_raw_fd()).unwrap().is_none());
        assert_eq!(size(f.as_raw_fd()), (0, 0));
    }
}
