//! One run of the container: its stdio made, `RUNTIME create` run, its init's pid read.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use crate::args::Options;
use crate::runtime::{Runtime, Stderr};
use crate::sys;

/// The shim's ends of a created container's stdio, all non-blocking.
#[derive(Debug)]
pub struct Stdio {
    /// Where bytes for the container's stdin go (`--stdin` only): the write end of its stdin
    /// pipe, or a duplicate of the pty master with a tty, so that closing it (`--stdin-once`)
    /// does not hang up the terminal.
    pub stdin: Option<OwnedFd>,
    /// The read end of the stdout pipe, or the pty master.
    pub stdout: OwnedFd,
    /// The read end of the stderr pipe; none with a tty.
    pub stderr: Option<OwnedFd>,
}

/// Creates the container; returns its init's pid and the shim's ends of its stdio.
pub fn create(o: &Options, rt: &Runtime) -> Result<(i32, Stdio), String> {
    let pid_file = o.state_dir.join("pid");
    let _ = fs::remove_file(&pid_file);
    let io_err = |what: &str, e: io::Error| format!("cannot {what} for container `{}`: {e}", o.id);
    let stdio = if o.tty {
        let sock_path = o.state_dir.join("console.sock");
        let _ = fs::remove_file(&sock_path);
        let listener = UnixListener::bind(&sock_path)
            .map_err(|e| format!("cannot listen on console socket `{}`: {e}", sock_path.display()))?;
        let null = fs::File::open("/dev/null").map_err(|e| io_err("open /dev/null", e))?;
        let created = rt.create(
            &o.bundle,
            &pid_file,
            Some(&sock_path),
            [null.as_raw_fd(), null.as_raw_fd()],
            Stderr::Capture,
        );
        let _ = fs::remove_file(&sock_path);
        created?;
        // The runtime has exited: its connection, with the master in it, waits in the backlog.
        let master = receive_master(&listener).map_err(|e| {
            let _ = rt.delete();
            format!(
                "`{}` sent no terminal on `{}`: {e}",
                o.runtime.display(),
                sock_path.display()
            )
        })?;
        sys::set_nonblocking(master.as_raw_fd()).map_err(|e| io_err("set up the terminal", e))?;
        let stdin = match o.stdin {
            true => Some(master.try_clone().map_err(|e| io_err("set up the terminal", e))?),
            false => None,
        };
        Stdio {
            stdin,
            stdout: master,
            stderr: None,
        }
    } else {
        let pipes = || -> io::Result<_> {
            let out = sys::pipe()?;
            let err = sys::pipe()?;
            let input = if o.stdin { Some(sys::pipe()?) } else { None };
            sys::set_nonblocking(out.0.as_raw_fd())?;
            sys::set_nonblocking(err.0.as_raw_fd())?;
            if let Some((_, w)) = &input {
                sys::set_nonblocking(w.as_raw_fd())?;
            }
            let null = fs::File::open("/dev/null")?;
            Ok((out, err, input, null))
        };
        let ((out_r, out_w), (err_r, err_w), input, null) =
            pipes().map_err(|e| io_err("make the stdio pipes", e))?;
        let stdin_fd = match &input {
            Some((r, _)) => r.as_raw_fd(),
            None => null.as_raw_fd(),
        };
        rt.create(
            &o.bundle,
            &pid_file,
            None,
            [stdin_fd, out_w.as_raw_fd()],
            Stderr::Given {
                write: err_w.as_raw_fd(),
                read: err_r.as_raw_fd(),
            },
        )?;
        // The container's ends now belong to its init; holding them would keep the pipes open
        // after it exits.
        drop((out_w, err_w, null));
        Stdio {
            stdin: input.map(|(_, w)| w),
            stdout: out_r,
            stderr: Some(err_r),
        }
    };
    let pid = read_pid(&pid_file).inspect_err(|_| {
        let _ = rt.delete();
    })?;
    // The runtime exited after create, so its init was reparented to the shim (a subreaper);
    // if not, its exit could never be seen.
    if !sys::is_child(pid) {
        let _ = rt.delete();
        return Err(format!(
            "the init {pid} of container `{}` is not a child of berth-shim (did `{}` exit after create?)",
            o.id,
            o.runtime.display()
        ));
    }
    Ok((pid, stdio))
}

fn receive_master(listener: &UnixListener) -> io::Result<OwnedFd> {
    listener.set_nonblocking(true)?;
    let (conn, _) = listener.accept()?;
    conn.set_nonblocking(true)?;
    sys::recv_fd(conn.as_raw_fd())
}

fn read_pid(path: &Path) -> Result<i32, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read pid file `{}`: {e}", path.display()))?;
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("invalid pid file `{}`: {text:?}", path.display())),
    }
}
