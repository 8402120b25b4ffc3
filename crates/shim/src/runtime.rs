//! Running the OCI runtime (`create`, `start`, `delete`) and turning its failures into one
//! message.
//!
//! How the runtime's error text is obtained: every command gets `--log <state-dir>/runtime.log
//! --log-format json` (global options of runc, crun, youki and berth-runtime), and the message is
//! the `msg` of the last `"level":"error"` line that command added to the file. This works
//! whatever the runtime's stdio is, which matters for `create`: its stdio *is* the container's
//! (runtimes pass it through to the init in detached, non-tty mode), so its stderr is the
//! container's stderr pipe, not something the shim can keep apart. When the log has nothing (a
//! runtime that ignores `--log`, a crash), the fallback is the runtime's stderr: the bytes
//! waiting in the container's stderr pipe after a failed `create` (the container never ran, so
//! they can only be the runtime's), or a capture pipe for the other commands. Last resort: the
//! exit status.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Read, Seek};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::args::Options;
use crate::{json, sys};

/// Captured stderr kept for a message: its last this many bytes.
const STDERR_KEEP: usize = 8192;

#[derive(Debug)]
pub struct Runtime {
    path: CString,
    display: String,
    prefix: Vec<CString>,
    log: PathBuf,
    id: CString,
}

/// Where the runtime's stderr goes.
#[derive(Debug, Clone, Copy)]
pub enum Stderr {
    /// A pipe of the shim's own, read while the command runs.
    Capture,
    /// A descriptor given to the command (`write`); after a failure, what waits unread at its
    /// other end (`read`, non-blocking) is the runtime's.
    Given { write: RawFd, read: RawFd },
}

fn cstr(b: &[u8], what: &str) -> Result<CString, String> {
    CString::new(b).map_err(|_| format!("{what} contains a NUL byte"))
}

impl Runtime {
    pub fn new(o: &Options) -> Result<Runtime, String> {
        let log = o.state_dir.join("runtime.log");
        let prefix = vec![
            cstr(o.runtime.as_os_str().as_bytes(), "--runtime")?,
            c"--root".to_owned(),
            cstr(o.runtime_root.as_os_str().as_bytes(), "--runtime-root")?,
            c"--log".to_owned(),
            cstr(log.as_os_str().as_bytes(), "--state-dir")?,
            c"--log-format".to_owned(),
            c"json".to_owned(),
        ];
        Ok(Runtime {
            path: prefix[0].clone(),
            display: o.runtime.display().to_string(),
            prefix,
            log,
            id: cstr(o.id.as_bytes(), "--id")?,
        })
    }

    /// `create --bundle B --pid-file P [--console-socket S] ID`.
    pub fn create(
        &self,
        bundle: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        stdio: [RawFd; 2],
        stderr: Stderr,
    ) -> Result<(), String> {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("create"),
            OsStr::new("--bundle"),
            bundle.as_os_str(),
            OsStr::new("--pid-file"),
            pid_file.as_os_str(),
        ];
        if let Some(c) = console {
            args.extend([OsStr::new("--console-socket"), c.as_os_str()]);
        }
        self.run("create", &args, stdio, stderr)
    }

    pub fn start(&self) -> Result<(), String> {
        let null = null()?;
        let fd = null.as_raw_fd();
        self.run("start", &[OsStr::new("start")], [fd, fd], Stderr::Capture)
    }

    pub fn delete(&self) -> Result<(), String> {
        let null = null()?;
        let fd = null.as_raw_fd();
        let args = [OsStr::new("delete"), OsStr::new("--force")];
        self.run("delete", &args, [fd, fd], Stderr::Capture)
    }

    /// Runs `RUNTIME <global options> ARGS ID` and waits for it.
    fn run(&self, name: &str, args: &[&OsStr], stdio: [RawFd; 2], stderr: Stderr) -> Result<(), String> {
        let mut argv = self.prefix.clone();
        for a in args {
            argv.push(cstr(a.as_bytes(), "an argument")?);
        }
        argv.push(self.id.clone());
        let log_start = fs::metadata(&self.log).map_or(0, |m| m.len());
        let fail = |e: io::Error| format!("cannot run `{}`: {e}", self.display);
        let (status, captured) = match stderr {
            Stderr::Given { write, read } => {
                let pid = sys::spawn(&self.path, &argv, [stdio[0], stdio[1], write]).map_err(fail)?;
                let status = sys::wait_pid(pid).map_err(fail)?;
                let mut captured = Vec::new();
                if status.0 != 0 {
                    read_available(read, &mut captured);
                }
                (status, captured)
            }
            Stderr::Capture => {
                let (r, w) = sys::pipe().map_err(fail)?;
                sys::set_nonblocking(r.as_raw_fd()).map_err(fail)?;
                let pid = sys::spawn(&self.path, &argv, [stdio[0], stdio[1], w.as_raw_fd()]).map_err(fail)?;
                drop(w);
                capture_until_exit(pid, r.as_raw_fd()).map_err(fail)?
            }
        };
        if status.0 == 0 {
            return Ok(());
        }
        if let Some(msg) = last_error(&self.log, log_start) {
            return Err(msg);
        }
        let text = String::from_utf8_lossy(&captured);
        let text = text.trim();
        if !text.is_empty() {
            return Err(text.to_string());
        }
        let code = status.exit_code();
        Err(if code > 128 && libc::WIFSIGNALED(status.0) {
            format!("`{} {name}` was killed by signal {}", self.display, code - 128)
        } else {
            format!("`{} {name}` failed with exit status {code}", self.display)
        })
    }
}

fn null() -> Result<fs::File, String> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open `/dev/null`: {e}"))
}

/// Appends what can be read from a non-blocking descriptor now, keeping the last bytes; true
/// when nothing more will come (end of file or an error).
fn read_available(fd: RawFd, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match sys::read(fd, &mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > STDERR_KEEP {
                    out.drain(..out.len() - STDERR_KEEP);
                }
            }
            Err(e) => return e.kind() != io::ErrorKind::WouldBlock,
        }
    }
}

/// Reads a command's stderr while it runs, until it exits. The wait is for the process, not for
/// end of file on the pipe: something the command left behind may hold the pipe open.
fn capture_until_exit(pid: libc::pid_t, fd: RawFd) -> io::Result<(sys::WaitStatus, Vec<u8>)> {
    let mut captured = Vec::new();
    let pidfd = sys::pidfd_open(pid).ok();
    let mut eof = false;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: if eof { -1 } else { fd },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_ref().map_or(-1, |p| p.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if eof && pidfd.is_none() {
            break;
        }
        match sys::poll(&mut fds, -1) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        if fds[0].revents != 0 {
            eof = read_available(fd, &mut captured);
        }
        if fds[1].revents != 0 {
            break;
        }
    }
    let status = sys::wait_pid(pid)?;
    read_available(fd, &mut captured);
    Ok((status, captured))
}

/// The message of the last error line written to the runtime's JSON log after `from`.
fn last_error(log: &Path, from: u64) -> Option<String> {
    let mut f = fs::File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    // A log rewritten from scratch (or truncated) is read whole.
    let from = if from > len { 0 } else { from };
    f.seek(io::SeekFrom::Start(from)).ok()?;
    let mut text = Vec::new();
    f.take(1 << 20).read_to_end(&mut text).ok()?;
    text.split(|&b| b == b'\n')
        .rev()
        .filter(|l| json::string_member(l, "level").as_deref() == Some("error"))
        .filter_map(|l| json::string_member(l, "msg"))
        .find(|m| !m.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_last_error_added_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runtime.log");
        let old = "{\"level\":\"error\",\"msg\":\"old failure\",\"time\":\"t\"}\n";
        fs::write(&log, old).unwrap();
        assert_eq!(last_error(&log, old.len() as u64), None);
        let new = "{\"level\":\"warning\",\"msg\":\"a warning\"}\n\
                   {\"level\":\"error\",\"msg\":\"first\"}\n\
                   not json\n\
                   {\"level\":\"error\",\"msg\":\"runc create failed: exec: \\\"x\\\": not found\"}\n";
        fs::write(&log, format!("{old}{new}")).unwrap();
        assert_eq!(
            last_error(&log, old.len() as u64).as_deref(),
            Some("runc create failed: exec: \"x\": not found")
        );
        assert_eq!(last_error(&dir.path().join("missing"), 0), None);
    }
}
