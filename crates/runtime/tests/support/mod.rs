//! Running OCI runtimes (berth-runtime, runc, crun) the same way, for the conformance and integration
//! tests. Each test gets its own state root and unique container ids; `Container` deletes its
//! container on drop, even when the test fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use berth_testkit::{require_root, unique_name, Bundle};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rt {
    Berth,
    Runc,
    Crun,
}

impl Rt {
    pub fn name(self) -> &'static str {
        match self {
            Rt::Berth => "berth-runtime",
            Rt::Runc => "runc",
            Rt::Crun => "crun",
        }
    }

    /// The runtimes installed here. berth-runtime always; runc and crun when present (Debian's).
    pub fn all() -> Vec<Rt> {
        let mut v = vec![Rt::Berth];
        if Path::new("/usr/sbin/runc").exists() {
            v.push(Rt::Runc);
        }
        if Path::new("/usr/bin/crun").exists() && std::env::var_os("BERTH_SKIP_CRUN").is_none() {
            v.push(Rt::Crun);
        }
        v
    }
}

/// One runtime with its own state root.
#[derive(Debug)]
pub struct Runtime {
    pub rt: Rt,
    pub root: tempfile::TempDir,
}

impl Runtime {
    pub fn new(rt: Rt) -> Runtime {
        become_subreaper();
        Runtime {
            rt,
            root: tempfile::Builder::new()
                .prefix("berth-rt-root-")
                .tempdir()
                .unwrap(),
        }
    }

    /// A command line for this runtime: `<rt> --root R args...`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let root = self.root.path().to_str().unwrap().to_string();
        match self.rt {
            Rt::Berth => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_berth-runtime"));
                c.arg("--root").arg(root).args(args);
                c
            }
            Rt::Runc => {
                let mut c = Command::new("runc");
                c.arg("--root").arg(root).args(args);
                c
            }
            Rt::Crun => {
                // crun 1.8 refuses hybrid cgroups: run it where the cgroup2 mount is hidden, in a
                // private mount namespace of its own (the host's mounts are untouched).
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "sh", "-c"])
                    .arg("umount -l /sys/fs/cgroup/unified 2>/dev/null; exec crun \"$@\"")
                    .arg("crun")
                    .arg("--root")
                    .arg(root)
                    .args(args);
                c
            }
        }
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `run --bundle B ID`, waiting for the container; the container is deleted afterwards.
    pub fn run(&self, bundle: &Bundle) -> Out {
        self.run_with(bundle, &[])
    }

    /// `run [extra] --bundle B ID`.
    pub fn run_with(&self, bundle: &Bundle, extra: &[&str]) -> Out {
        let id = unique_name("bt");
        let _c = Container {
            rt: self,
            id: id.clone(),
            bundle: None,
        };
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", bundle.path().to_str().unwrap(), &id]);
        let o = self.output(&args);
        let o = Out::from(self.rt, o);
        // `run` deletes the container when it exits: nothing of it may remain.
        assert_no_cgroup(self.rt, &id);
        o
    }

    /// `create` + `start`, for containers that keep running. The container owns its bundle: the
    /// rootfs must outlive it.
    pub fn start(&self, bundle: Bundle) -> Container<'_> {
        let mut c = self.create(&bundle, &[]);
        c.bundle = Some(bundle);
        let o = self.output(&["start", &c.id]);
        Out::from(self.rt, o).ok();
        c
    }

    /// `create [extra] --bundle B ID`. The container's init keeps the runtime's stdio, so stdout goes
    /// to /dev/null and stderr to a file: a pipe would stay open as long as the container lives.
    pub fn create(&self, bundle: &Bundle, extra: &[&str]) -> Container<'_> {
        let id = unique_name("bt");
        let c = Container {
            rt: self,
            id: id.clone(),
            bundle: None,
        };
        let o = self.create_out(bundle.path(), extra, &id);
        o.ok();
        c
    }

    pub fn create_out(&self, bundle: &Path, extra: &[&str], id: &str) -> Out {
        let err = tempfile::NamedTempFile::new().unwrap();
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", bundle.to_str().unwrap(), id]);
        let status = self
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err.reopen().unwrap())
            .status()
            .unwrap();
        Out {
            rt: self.rt,
            code: status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
        }
    }
}

/// A container that is force-deleted on drop.
#[derive(Debug)]
pub struct Container<'a> {
    pub rt: &'a Runtime,
    pub id: String,
    /// Dropped after the container is deleted (fields drop after `Drop::drop`).
    pub bundle: Option<Bundle>,
}

impl Container<'_> {
    pub fn state(&self) -> Value {
        let o = self.rt.output(&["state", &self.id]);
        assert!(
            o.status.success(),
            "{}: state: {}",
            self.rt.rt.name(),
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    pub fn pid(&self) -> i32 {
        self.state()["pid"].as_i64().unwrap_or(0) as i32
    }

    pub fn wait_status(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.status() == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{}: container {} never became {want} (is {})",
            self.rt.rt.name(),
            self.id,
            self.status()
        );
    }

    pub fn exec(&self, args: &[&str]) -> Out {
        let mut a = vec!["exec", &self.id];
        a.extend_from_slice(args);
        Out::from(self.rt.rt, self.rt.output(&a))
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let pid = self.rt.output(&["state", &self.id]);
        let pid = serde_json::from_slice::<Value>(&pid.stdout)
            .ok()
            .and_then(|v| v["pid"].as_i64());
        let _ = self.rt.output(&["delete", "--force", &self.id]);
        // runc and crun print pid 0 for a stopped container: waitpid(0) would take any child.
        if let Some(pid) = pid.filter(|p| *p > 0) {
            reap(pid as i32);
        }
        if !std::thread::panicking() {
            assert_no_cgroup(self.rt.rt, &self.id);
        }
    }
}

/// Fails when a cgroup named after the container (the default cgroups path) is left in any hierarchy.
pub fn assert_no_cgroup(rt: Rt, id: &str) {
    let left: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(id))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert!(left.is_empty(), "{}: cgroups left behind: {left:?}", rt.name());
}

/// Containers outlive the `create` that made them; this test process adopts them (instead of the
/// machine's PID 1, which does not reap) and reaps each one it deletes.
pub fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}

/// Waits (up to 5 s) for an adopted container process to exit and reaps it.
pub fn reap(pid: i32) {
    assert!(pid > 0, "reap({pid}) would wait for other children");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        // SAFETY: waitpid on a specific pid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if r != 0 {
            return; // reaped, or not our child
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A finished command: stdout, stderr, exit code, and which runtime ran it (for messages).
#[derive(Debug)]
pub struct Out {
    pub rt: Rt,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from(rt: Rt, o: Output) -> Out {
        Out {
            rt,
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn ok(&self) -> &Out {
        assert_eq!(
            self.code,
            0,
            "{}: exit {}: stderr: {}\nstdout: {}",
            self.rt.name(),
            self.code,
            self.stderr,
            self.stdout
        );
        self
    }

    pub fn out(&self) -> String {
        self.stdout.trim().to_string()
    }
}

/// A busybox bundle running `sh -c script`.
pub fn sh(script: &str) -> Bundle {
    Bundle::busybox(&["/bin/sh", "-c", script]).unwrap()
}

/// Lines of the host's mountinfo that mention `path`.
pub fn host_mounts_under(path: &Path) -> Vec<String> {
    let p = path.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(p))
        .map(String::from)
        .collect()
}

pub fn berth_init_bin() -> PathBuf {
    // The static berth-init built alongside the runtime (same target directory).
    let rt = PathBuf::from(env!("CARGO_BIN_EXE_berth-runtime"));
    rt.with_file_name("berth-init")
}
