//! A berth-shim under test: its own state directory, runtime root and log in a temporary
//! directory, berth-runtime as its runtime, and cleanup (by pid only) even when the test fails.

#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use berth_testkit::Bundle;
use serde_json::Value;

pub const SHIM: &str = env!("CARGO_BIN_EXE_berth-shim");
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// berth-runtime as cargo builds it, next to berth-shim (`cargo build -p berth-runtime`), or
/// `$BERTH_RUNTIME`.
pub fn runtime() -> PathBuf {
    let path = std::env::var_os("BERTH_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(SHIM).with_file_name("berth-runtime"));
    assert!(
        path.exists(),
        "`{}` is missing: build it first with `cargo build -p berth-runtime`",
        path.display()
    );
    path
}

/// The shim's orphans (a container init whose shim was killed) are reparented to the test
/// process instead of PID 1, which does not reap them on this machine.
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and no pointers.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
        assert_eq!(r, 0, "cannot become a child subreaper");
    });
}

#[derive(Debug, Default, Clone)]
pub struct Opts {
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub restart: Option<&'static str>,
    pub log_max_size: Option<u64>,
    pub log_max_file: Option<u32>,
    pub oom_file: Option<PathBuf>,
    /// Instead of berth-runtime.
    pub runtime: Option<PathBuf>,
}

pub struct Shim {
    pub id: String,
    pub bundle: Bundle,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// The container's init, from the ready line.
    pub pid: Option<i32>,
    /// The ready line as parsed JSON.
    pub ready: Value,
}

impl Shim {
    /// Starts a shim for a busybox container running `args`; returns once it printed its ready
    /// line (the container is created, not started).
    pub fn spawn(args: &[&str], o: Opts) -> Shim {
        Self::spawn_with(args, o, |_| {})
    }

    /// As `spawn`, with `edit` applied to the bundle's config first.
    pub fn spawn_with(args: &[&str], o: Opts, edit: impl FnOnce(&mut Value)) -> Shim {
        become_subreaper();
        let mut bundle = Bundle::busybox(args).expect("cannot make the busybox bundle");
        bundle.config["process"]["terminal"] = Value::Bool(o.tty);
        edit(&mut bundle.config);
        bundle.save().unwrap();
        let dir = tempfile::Builder::new()
            .prefix("berth-shim-test-")
            .tempdir()
            .unwrap();
        let id = berth_testkit::unique_name("shim");
        let mut cmd = Command::new(SHIM);
        cmd.arg("--id")
            .arg(&id)
            .arg("--bundle")
            .arg(bundle.path())
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--runtime")
            .arg(o.runtime.clone().unwrap_or_else(runtime))
            .arg("--runtime-root")
            .arg(dir.path().join("runtime"))
            .arg("--log")
            .arg(dir.path().join("c-json.log"));
        if let Some(n) = o.log_max_size {
            cmd.arg("--log-max-size").arg(n.to_string());
        }
        if let Some(n) = o.log_max_file {
            cmd.arg("--log-max-file").arg(n.to_string());
        }
        if let Some(f) = &o.oom_file {
            cmd.arg("--oom-file").arg(f);
        }
        if let Some(r) = o.restart {
            cmd.arg("--restart").arg(r);
        }
        for (on, flag) in [
            (o.tty, "--tty"),
            (o.stdin, "--stdin"),
            (o.stdin_once, "--stdin-once"),
        ] {
            if on {
                cmd.arg(flag);
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start berth-shim");
        let mut stdout = child.stdout.take().unwrap();
        let mut shim = Shim {
            id,
            bundle,
            dir,
            child: Some(child),
            pid: None,
            ready: Value::Null,
        };
        // The ready line, then end of file: the shim closes its stdout.
        let mut line = String::new();
        stdout.read_to_string(&mut line).unwrap();
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "ready output {line:?}"
        );
        shim.ready = serde_json::from_str(line.trim()).expect("ready line is JSON");
        shim.pid = shim.ready["pid"].as_i64().map(|p| p as i32);
        shim
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn socket(&self) -> PathBuf {
        self.state_dir().join("shim.sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("c-json.log")
    }

    pub fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(self.socket()).expect("cannot connect to shim.sock");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Sends one request; returns its answer line (without the newline).
    pub fn request(&self, line: &str) -> String {
        let mut s = self.connect();
        s.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).unwrap();
        answer.trim_end().to_string()
    }

    /// An attach connection after its `ok`.
    pub fn attach(&self, flags: &str) -> UnixStream {
        let mut s = self.connect();
        s.write_all(format!("attach {flags}\n").as_bytes()).unwrap();
        let mut ok = [0u8; 3];
        s.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"ok\n");
        s
    }

    /// An `events` connection.
    pub fn events(&self) -> BufReader<UnixStream> {
        let mut s = self.connect();
        s.write_all(b"events\n").unwrap();
        BufReader::new(s)
    }

    pub fn start(&self) {
        assert_eq!(self.request("start"), "ok");
    }

    /// Waits for the shim to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("already waited");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.child = None;
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "berth-shim did not exit in {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.state_dir().join("state.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The entries of the json-file log (the live file).
    pub fn log(&self) -> Vec<Value> {
        log_entries(&self.log_path())
    }
}

pub fn log_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l:?}: {e}")))
        .collect()
}

/// Reads a multiplexed attach stream to its end: (stream, bytes) per frame.
pub fn read_frames(s: &mut UnixStream) -> Vec<(u8, Vec<u8>)> {
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let mut frames = Vec::new();
    let mut rest = &all[..];
    while !rest.is_empty() {
        assert!(rest.len() >= 8, "truncated frame header in {all:?}");
        let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        assert_eq!(&rest[1..4], &[0, 0, 0]);
        frames.push((rest[0], rest[8..8 + len].to_vec()));
        rest = &rest[8 + len..];
    }
    frames
}

/// The bytes of one stream of a frame list.
pub fn stream_text(frames: &[(u8, Vec<u8>)], stream: u8) -> String {
    let bytes: Vec<u8> = frames
        .iter()
        .filter(|(s, _)| *s == stream)
        .flat_map(|(_, b)| b.clone())
        .collect();
    String::from_utf8(bytes).unwrap()
}

impl Drop for Shim {
    fn drop(&mut self) {
        // Kill by pid only: the container's init, then the shim; then whatever berth-runtime
        // still has of the container.
        if let Some(child) = &mut self.child {
            if let Some(pid) = self.pid {
                // SAFETY: kill has no memory effects; the pid is this test's container init.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
            if let Some(pid) = self.pid {
                // Reparented to this (subreaper) process if the shim died before reaping it.
                // The shim is reaped, so any reparenting is done: this returns at once with ECHILD
                // or soon with the SIGKILLed init.
                // SAFETY: waitpid on one pid, status into a local.
                unsafe {
                    let mut status = 0;
                    libc::waitpid(pid, &mut status, 0);
                }
            }
            let _ = Command::new(runtime())
                .arg("--root")
                .arg(self.dir.path().join("runtime"))
                .args(["delete", "--force", &self.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
