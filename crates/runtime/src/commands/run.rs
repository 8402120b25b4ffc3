//! `run`: create and start in one go; in the foreground, wait for the container, forward signals to
//! it, pump its terminal, then delete it and exit with its status.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::commands::create::{create, CreateOpts};
use crate::commands::{delete, start, Global};
use crate::error::{Context, Error, Result};

/// Signals `run` forwards to the container instead of acting on them.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
    Signal::SIGPIPE,
];

/// Returns the exit status to exit with.
pub fn run(g: &Global, mut o: CreateOpts, detach: bool) -> Result<i32> {
    o.run = true;
    // Without a console socket, a foreground `run` keeps the pty itself (`create` decides: it reads
    // the config once).
    o.keep_console = o.console_socket.is_none() && !detach;
    if detach {
        let c = create(g, &o)?;
        start::run_poststart(&c.state);
        return Ok(0);
    }
    // Block the signals before the clone: one arriving in between would otherwise kill the runtime
    // and orphan the container. The init restores an empty mask before exec.
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    crate::sys::block_signals(&set).step("block", "signals")?;
    let c = create(g, &o)?;
    start::run_poststart(&c.state);
    let status = supervise(c.state.pid, &set, c.console);
    crate::trace::mark("run: container exited");
    let cleanup = delete::destroy(g, &c.state);
    crate::trace::mark("run: deleted");
    let status = status?;
    cleanup?;
    Ok(status)
}

pub fn supervise(pid: i32, set: &SigSet, console: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .step("create", "signalfd")?;
    let stdin = std::io::stdin();
    let raw = console.as_ref().and_then(|_| RawMode::enter(stdin.as_fd()));
    if let Some(m) = &console {
        copy_window_size(stdin.as_fd(), m.as_fd());
    }
    let mut stdin_open = console.is_some();
    let mut master_open = console.is_some();
    let mut exit: Option<i32> = None;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if let Some(code) = exit {
            if !master_open {
                drop(raw);
                return Ok(code);
            }
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &console {
            if master_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        // Once the container exited, drain the pty for a moment and stop.
        let timeout = if exit.is_some() {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => master_open = false,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", "container stdio", e)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    loop {
                        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => exit = Some(code),
                            Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                                exit = Some(128 + s as i32)
                            }
                            Ok(WaitStatus::StillAlive) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                } else {
                    if sig == libc::SIGWINCH {
                        if let Some(m) = &console {
                            copy_window_size(stdin.as_fd(), m.as_fd());
                        }
                    }
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        if let Some(m) = &console {
            let mut i = 1;
            if master_open {
                if ready.get(i).copied().unwrap_or(false) {
                    match nix::unistd::read(m.as_raw_fd(), &mut buf) {
                        Ok(0) | Err(_) => master_open = false,
                        Ok(n) => write_all(libc::STDOUT_FILENO, &buf[..n]),
                    }
                }
                i += 1;
            }
            if stdin_open && ready.get(i).copied().unwrap_or(false) {
                match nix::unistd::read(libc::STDIN_FILENO, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => write_all(m.as_raw_fd(), &buf[..n]),
                }
            }
        }
    }
}

fn write_all(fd: i32, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: fd stays open for the call; data is a live slice.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn copy_window_size(from: BorrowedFd, to: BorrowedFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a live winsize struct on descriptors that outlive the calls.
    unsafe {
        if libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// The caller's terminal in raw mode for the life of the value.
struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    fn enter(fd: BorrowedFd) -> Option<RawMode> {
        let saved = nix::sys::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin().as_fd(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.saved,
        );
    }
}
