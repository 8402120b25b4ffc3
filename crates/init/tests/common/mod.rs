//! Helpers shared by the integration tests: start berth-init (always with `-s` unless a test
//! says otherwise, since the tests are not PID 1), read its child's output line by line, signal
//! it, and wait with a timeout. Nothing here changes process-wide state, so tests run in
//! parallel.

#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-init");
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running berth-init with piped stdin, stdout and stderr.
pub struct Init {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<Vec<u8>>,
}

/// How berth-init ended.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Init {
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(Command::new(BIN).args(args))
    }

    pub fn start_with(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start berth-init");
        let stdout = child.stdout.take().unwrap();
        let (line_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (err_tx, stderr) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buf) {
                if err_tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line the child printed on stdout.
    pub fn line(&mut self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("no line from the child within the timeout")
    }

    pub fn signal(&self, signal: i32) {
        send_signal(self.pid(), signal);
    }

    pub fn write_stdin(&mut self, text: &str) {
        self.stdin.as_mut().unwrap().write_all(text.as_bytes()).unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for berth-init to exit (killing it after the timeout) and collects its stderr.
    pub fn wait(mut self) -> Exit {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("berth-init did not exit within {TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        let mut stderr = Vec::new();
        // Orphans may hold stderr open a little longer; do not wait for them forever.
        while let Ok(chunk) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            stderr.extend(chunk);
        }
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let code = status
            .code()
            .unwrap_or_else(|| panic!("berth-init was killed: {status:?}; stderr: {stderr}"));
        Exit {
            code,
            stderr,
            elapsed,
        }
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        // Only reached with the child still running when a test fails.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs berth-init to completion with `args`, stdin closed.
pub fn run(args: &[&str]) -> Exit {
    let mut init = Init::start(args);
    init.close_stdin();
    init.wait()
}

pub fn send_signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; pid is a process this test started.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Polls `condition` every few milliseconds; false if it still fails after the timeout.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < TIMEOUT {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// The fields of /proc/<pid>/stat that the tests look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub start_time: u64,
}

/// `None` once the process is gone (reaped).
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields[0].chars().next()?,
        ppid: fields[1].parse().ok()?,
        pgrp: fields[2].parse().ok()?,
        start_time: fields[19].parse().ok()?,
    })
}

/// True once the process that had `start_time` is gone (a reused pid counts as gone).
pub fn is_gone(pid: i32, start_time: u64) -> bool {
    stat(pid).is_none_or(|s| s.start_time != start_time)
}

/// A signal set from /proc/<pid>/status (`SigBlk`, `SigIgn`, ...).
pub fn signal_set(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0)
}

/// Waits until berth-init has blocked its signals, so a signal sent now reaches its main loop.
/// SigBlk cannot tell (sigtimedwait unblocks the awaited signals while it sleeps), but
/// berth-init ignores SIGTTOU right after blocking them.
pub fn wait_until_ready(init: &Init) {
    wait_until_ready_pid(init.pid());
}

pub fn wait_until_ready_pid(pid: i32) {
    let ttou = 1 << (libc::SIGTTOU - 1);
    assert!(
        eventually(|| signal_set(pid, "SigIgn") & ttou != 0),
        "berth-init never set up its signals"
    );
}

/// A fresh path under Cargo's per-target temporary directory.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    dir.join(format!("berth-init-{}-{name}", std::process::id()))
}
