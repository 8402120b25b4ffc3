//! Engines that drive berth-runtime as their OCI runtime: podman (through conmon) and containerd
//! (through its io.containerd.runc.v2 shim), each with private storage, state, cgroup parent and
//! image, so a test neither sees nor touches the machine's own containers. Everything a harness
//! starts is stopped by its pid, and everything it creates (mounts, cgroups, directories) is removed
//! when it drops, even when the test fails.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use berth_testkit::unique_name;

/// The runtime under test.
pub const BERTH: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// Upper bound for one engine command; a hung engine fails the test instead of hanging CI.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Why this machine cannot run the interop tests, if it cannot: not root, or a tool missing.
pub fn unavailable(tools: &[&str]) -> Option<String> {
    if !berth_testkit::is_root() {
        return Some("needs root".into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("missing {}", missing.join(", ")))
    }
}

/// Skips the calling test (returns early) when [`unavailable`] says so.
#[macro_export]
macro_rules! require {
    ($($tool:expr),*) => {
        if let Some(why) = $crate::common::unavailable(&[$($tool),*]) {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// The tests of one binary run one at a time: engines are heavy, and a test's before/after views of
/// shared places (/run/containerd, /var/lib/containers) must not see another test's files.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A finished command.
#[derive(Debug)]
pub struct Out {
    pub cmd: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts exit code 0.
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "{self}");
        self
    }

    /// stdout without surrounding white space (and without a terminal's `\r`).
    pub fn out(&self) -> String {
        self.stdout.replace('\r', "").trim().to_string()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion (killed after [`TIMEOUT`]), stdin from `/dev/null` unless `stdin` is given.
/// Output goes through files, not pipes: a daemon the command leaves behind (conmon, a shim) may keep
/// inherited descriptors open long after the command exits.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = tempfile::Builder::new()
        .prefix("berth-iop-out-")
        .tempdir()
        .unwrap();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let (op, ep) = (dir.path().join(format!("o{n}")), dir.path().join(format!("e{n}")));
    cmd.stdout(fs::File::create(&op).unwrap());
    cmd.stderr(fs::File::create(&ep).unwrap());
    let text = describe(&cmd);
    let mut child = match stdin {
        None => cmd.stdin(Stdio::null()).spawn(),
        Some(_) => cmd.stdin(Stdio::piped()).spawn(),
    }
    .unwrap_or_else(|e| panic!("cannot run `{text}`: {e}"));
    if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        w.write_all(input.as_bytes()).unwrap();
    }
    let code = wait_timeout(&mut child, &text);
    Out {
        cmd: text,
        code,
        stdout: fs::read_to_string(&op).unwrap_or_default(),
        stderr: fs::read_to_string(&ep).unwrap_or_default(),
    }
}

/// Waits for `child`; after [`TIMEOUT`] kills it and panics.
fn wait_timeout(child: &mut Child, text: &str) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{text}` did not finish in {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `cmd` with a new pseudo-terminal as its stdin, stdout and stderr (as an interactive shell
/// would), returning its exit code and everything written to the terminal.
pub fn run_in_pty(mut cmd: Command) -> Out {
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let slave: OwnedFd = pty.slave;
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    let text = describe(&cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run `{text}`: {e}"));
    // Drop the parent's copies of the slave (inside `cmd`), so reads see EIO once the child is done.
    drop(cmd);
    let master = fs::File::from(pty.master);
    let reader = std::thread::spawn(move || read_until_hangup(master));
    let code = wait_timeout(&mut child, &text);
    let stdout = reader.join().unwrap();
    Out {
        cmd: text,
        code,
        stdout,
        stderr: String::new(),
    }
}

/// Reads a pty master until every slave is closed (EIO), or for at most 10 s.
fn read_until_hangup(mut master: fs::File) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) => continue,
            Ok(_) => match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            },
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes a tar of the busybox root filesystem (berth-testkit's) to `dest`: its entries, without a
/// `./` entry that would carry the cache directory's mode onto the image's `/`.
pub fn rootfs_tar(dest: &Path) {
    let root = berth_testkit::busybox_rootfs().unwrap();
    let mut names: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut c = Command::new("tar");
    c.arg("--numeric-owner")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(dest)
        .args(&names);
    run(c, None).ok();
}

fn sha256(path: &Path) -> String {
    let mut c = Command::new("sha256sum");
    c.arg(path);
    let o = run(c, None).ok();
    o.stdout.split_whitespace().next().unwrap().to_string()
}

/// Adds `path` to the OCI layout's blob store under its digest; returns (digest, size).
fn add_blob(layout: &Path, path: &Path) -> (String, u64) {
    let hex = sha256(path);
    let size = fs::metadata(path).unwrap().len();
    fs::rename(path, layout.join("blobs/sha256").join(&hex)).unwrap();
    (format!("sha256:{hex}"), size)
}

/// Writes an OCI image layout archive (`oci-layout`, `index.json`, blobs) of the busybox root
/// filesystem, named `name` (for `ctr image import`), to `dest`.
pub fn oci_archive(work: &Path, name: &str, dest: &Path) {
    let layout = work.join("oci-layout");
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let layer = work.join("layer.tar");
    rootfs_tar(&layer);
    let diff_id = format!("sha256:{}", sha256(&layer));
    let (layer_digest, layer_size) = add_blob(&layout, &layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let path = work.join("config.json");
    fs::write(&path, config.to_string()).unwrap();
    let (config_digest, config_size) = add_blob(&layout, &path);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
    });
    let path = work.join("manifest.json");
    fs::write(&path, manifest.to_string()).unwrap();
    let (manifest_digest, manifest_size) = add_blob(&layout, &path);
    let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
        }],
    });
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut c = Command::new("tar");
    c.arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(dest)
        .args(["oci-layout", "index.json", "blobs"]);
    run(c, None).ok();
}

// ---------------------------------------------------------------------------------------------
// Teardown: every step runs, whatever failed before it.

/// Pids of the processes whose command line contains `needle` (a test's private directory or
/// socket): the conmon, shim and cleanup processes that engine started for this test.
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits up to `grace` for `pids` to exit, then SIGKILLs those still there (by pid).
pub fn stop_pids(pids: &[i32], grace: Duration) {
    let deadline = Instant::now() + grace;
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for &p in pids.iter().filter(|&&p| alive(p)) {
        eprintln!("interop teardown: killing leftover process {p}");
        // SAFETY: kill with a plain pid and signal number.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
}

/// Mount points at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    v
}

pub fn unmount_under(dir: &Path) {
    for m in mounts_under(dir) {
        eprintln!("interop teardown: unmounting leftover {}", m.display());
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `/sys/fs/cgroup/<hierarchy>/<name>` in every hierarchy where it exists.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|h| h.path().join(name))
        .filter(|d| d.is_dir())
        .collect()
}

/// Sub-cgroups (recursive) of `/<name>` in any hierarchy, relative to it, sorted, deduplicated.
pub fn sub_cgroups(name: &str) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path().strip_prefix(base).unwrap().display().to_string());
                walk(base, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    for d in cgroup_dirs(name) {
        walk(&d, &d, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Kills what is left in the cgroup `/<name>` (by pid) and removes it, deepest first, in every
/// hierarchy. The name is unique to the test, so nothing else lives there.
pub fn remove_cgroup(name: &str) {
    fn procs(d: &Path, out: &mut Vec<i32>) {
        if let Ok(s) = fs::read_to_string(d.join("cgroup.procs")) {
            out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                procs(&e.path(), out);
            }
        }
    }
    fn rmdirs(d: &Path) -> bool {
        let mut ok = true;
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                ok &= rmdirs(&e.path());
            }
        }
        ok & fs::remove_dir(d).is_ok()
    }
    let dirs = cgroup_dirs(name);
    let mut pids = Vec::new();
    for d in &dirs {
        procs(d, &mut pids);
    }
    pids.sort_unstable();
    pids.dedup();
    stop_pids(&pids, Duration::ZERO);
    // Killed processes take a moment to leave their cgroups.
    let deadline = Instant::now() + Duration::from_secs(5);
    for d in dirs {
        while !rmdirs(&d) && d.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if d.exists() {
            eprintln!("interop teardown: cannot remove cgroup {}", d.display());
        }
    }
}

/// Directories an engine creates in shared places (and never removes): removed again on drop when
/// they did not exist before, innermost first, and only when empty — or, for caches listed as
/// `owned`, with their content.
#[derive(Debug)]
pub struct SharedDirs {
    created: Vec<(PathBuf, bool)>,
}

impl SharedDirs {
    /// `dirs`: (path, owned). Parents first.
    pub fn record(dirs: &[(&str, bool)]) -> SharedDirs {
        SharedDirs {
            created: dirs
                .iter()
                .filter(|(d, _)| !Path::new(d).exists())
                .map(|(d, owned)| (PathBuf::from(d), *owned))
                .collect(),
        }
    }
}

impl Drop for SharedDirs {
    fn drop(&mut self) {
        for (d, owned) in self.created.iter().rev() {
            let _ = if *owned {
                fs::remove_dir_all(d)
            } else {
                fs::remove_dir(d)
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// podman

/// A podman with private storage (`--root`, `--runroot`, `--tmpdir`, network config), a private
/// containers.conf, cgroupfs under a cgroup parent of its own, and one image: the busybox rootfs.
#[derive(Debug)]
pub struct Podman {
    pub dir: tempfile::TempDir,
    /// The cgroup parent (`/NAME`) of every container: `run_args` passes `--cgroup-parent`.
    pub cgroup: String,
    pub image: String,
    _shared: SharedDirs,
}

impl Podman {
    pub fn new() -> Podman {
        // podman 4.3 keeps its blob-info cache in /var/lib/containers/cache whatever --root says.
        let shared = SharedDirs::record(&[("/var/lib/containers", true)]);
        let dir = tempfile::Builder::new()
            .prefix("berth-iop-podman-")
            .tempdir()
            .unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(&tmp).unwrap();
        // No CAP_SYS_RESOURCE here: podman's default ulimits would exceed the hard limits.
        fs::write(
            dir.path().join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\nimage_copy_tmp_dir = \"{}\"\n",
                tmp.display()
            ),
        )
        .unwrap();
        let p = Podman {
            dir,
            cgroup: unique_name("bip"),
            image: "localhost/berth-interop-busybox:latest".into(),
            _shared: shared,
        };
        let tar = p.dir.path().join("rootfs.tar");
        rootfs_tar(&tar);
        p.run(&["import", tar.to_str().unwrap(), &p.image]).ok();
        p
    }

    /// `podman <global flags> args...`, berth-runtime as the runtime.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("TMPDIR", d.join("tmp"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("libpod"))
            .arg("--network-config-dir")
            .arg(d.join("net"))
            .args(["--events-backend", "none", "--cgroup-manager", "cgroupfs"])
            .args(["--runtime", BERTH])
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        run(self.cmd(args), None)
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        run(self.cmd(args), Some(stdin))
    }

    /// The flags every test container gets: no network, and this harness's cgroup parent.
    pub fn run_args(&self) -> Vec<String> {
        vec![
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            format!("/{}", self.cgroup),
        ]
    }

    /// Waits (up to 10 s) for the conmon and `podman container cleanup` processes of this podman
    /// to finish: they outlive the podman command that started them.
    pub fn settle(&self) {
        let pids = pids_mentioning(self.dir.path().to_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// berth-runtime state directories (default `--root`: podman passes none, and its cleanup process
    /// drops `--runtime-flag`) of containers whose bundle lies in this podman's storage.
    pub fn runtime_states(&self) -> Vec<PathBuf> {
        let mine = self.dir.path().to_str().unwrap().to_string();
        fs::read_dir("/run/berth-runtime")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|d| fs::read_to_string(d.join("state.json")).is_ok_and(|s| s.contains(&mine)))
            .collect()
    }

    /// Asserts that berth-runtime left nothing of the containers podman deleted: no state directory,
    /// no container cgroup (podman's own `conmon` cgroup is podman's).
    pub fn assert_runtime_clean(&self) {
        self.settle();
        assert_eq!(
            self.runtime_states(),
            Vec::<PathBuf>::new(),
            "runtime state left behind"
        );
        let left: Vec<String> = sub_cgroups(&self.cgroup)
            .into_iter()
            .filter(|c| c != "conmon")
            .collect();
        assert_eq!(
            left,
            Vec::<String>::new(),
            "container cgroups left under /{}",
            self.cgroup
        );
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = run(self.cmd(&["rm", "--all", "--force", "--time", "0"]), None);
        let d = self.dir.path().to_path_buf();
        stop_pids(&pids_mentioning(d.to_str().unwrap()), Duration::from_secs(10));
        remove_cgroup(&self.cgroup);
        for s in self.runtime_states() {
            let id = s.file_name().unwrap().to_string_lossy().into_owned();
            let _ = run(
                {
                    let mut c = Command::new(BERTH);
                    c.args(["delete", "--force", &id]);
                    c
                },
                None,
            );
        }
        unmount_under(&d);
    }
}

// ---------------------------------------------------------------------------------------------
// containerd

/// A containerd of its own (root, state, sockets in a temporary directory; plugins this test does
/// not use disabled), with the busybox image imported into a namespace unique to the test. Its
/// containers' cgroups are `/<namespace>/<id>`.
#[derive(Debug)]
pub struct Containerd {
    pub dir: tempfile::TempDir,
    pub ns: String,
    pub image: String,
    child: Option<Child>,
    _shared: SharedDirs,
}

impl Containerd {
    pub fn start() -> Containerd {
        // The runc v2 shim puts its socket in /run/containerd/s whatever containerd's state says.
        let shared = SharedDirs::record(&[("/run/containerd", false), ("/run/containerd/s", false)]);
        let dir = tempfile::Builder::new()
            .prefix("berth-iop-ctd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.monitor.v1.cgroups",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.native",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("c.sock").display(),
        );
        fs::write(d.join("config.toml"), config).unwrap();
        let log = fs::File::create(d.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start containerd");
        let mut c = Containerd {
            dir,
            ns: unique_name("bic"),
            image: "docker.io/library/busybox:latest".into(),
            child: Some(child),
            _shared: shared,
        };
        c.wait_ready();
        let tar = c.dir.path().join("image.tar");
        oci_archive(c.dir.path(), &c.image, &tar);
        c.ctr(&["image", "import", tar.to_str().unwrap()]).ok();
        c
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited ({st}):\n{}", self.log());
            }
            if self.dir.path().join("c.sock").exists() && self.ctr(&["version"]).code == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "containerd not ready:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    /// `ctr --address SOCK --namespace NS args...`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.sock())
            .args(["--namespace", &self.ns])
            .args(args);
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Out {
        run(self.cmd(args), None)
    }

    /// berth-runtime's `--root` as the shim passes it: `<runc-root>/<namespace>`.
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.path().join("runtime")
    }

    /// `ctr run` flags: berth-runtime as the shim's runc, its state and the stdio fifos kept here.
    pub fn run_args(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "--runc-binary".into(),
            BERTH.into(),
            "--runc-root".into(),
            self.runtime_root().display().to_string(),
            "--fifo-dir".into(),
            d.join("fifo").display().to_string(),
        ]
    }

    /// `ctr task exec` flags.
    pub fn exec_args(&self) -> Vec<String> {
        vec![
            "--fifo-dir".into(),
            self.dir.path().join("fifo").display().to_string(),
        ]
    }

    /// Asserts that berth-runtime left nothing of the tasks containerd deleted: no state directory
    /// and no container cgroup.
    pub fn assert_runtime_clean(&self) {
        let states: Vec<PathBuf> = fs::read_dir(self.runtime_root().join(&self.ns))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(states, Vec::<PathBuf>::new(), "runtime state left behind");
        assert_eq!(
            sub_cgroups(&self.ns),
            Vec::<String>::new(),
            "container cgroups left under /{}",
            self.ns
        );
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks first: their shims outlive containerd.
        let tasks = self.ctr(&["task", "list", "--quiet"]);
        for id in tasks.stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["task", "delete", "--force", id]);
        }
        let containers = self.ctr(&["container", "list", "--quiet"]);
        for id in containers.stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["container", "delete", id]);
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with the pid of the containerd this harness started.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Shims of tasks that could not be deleted name this containerd's socket on their command line.
        stop_pids(&pids_mentioning(self.sock().to_str().unwrap()), Duration::ZERO);
        remove_cgroup(&self.ns);
        unmount_under(self.dir.path());
    }
}
