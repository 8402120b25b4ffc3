//! Fixtures shared by berth's tests and benchmarks: a busybox root filesystem built from Debian's
//! `busybox-static`, OCI bundles around it, root gates and unique names.

pub mod registry;

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

/// The static busybox that Debian's `busybox-static` installs.
pub const BUSYBOX: &str = "/bin/busybox";

/// True when the tests run as root (uid 0). Tests that need the kernel call [`require_root!`].
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Skips the calling test (returns early) when not root, saying so on stderr.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A name unique to this process and call, usable as a container id, cgroup name or link name prefix.
/// Short enough for interface names when `prefix` is short (at most 15 bytes with a 4-byte prefix).
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}{:x}{:x}{:02x}",
        std::process::id() & 0xffff,
        nanos & 0xfff,
        n & 0xff
    )
}

/// The directory where fixtures are cached between test runs.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("BERTH_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/berth-test-cache"))
}

/// Applets linked in the busybox rootfs. A fixed list keeps the rootfs identical between machines.
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "cat",
    "echo",
    "ls",
    "mkdir",
    "rm",
    "sleep",
    "true",
    "false",
    "id",
    "hostname",
    "mount",
    "umount",
    "ps",
    "kill",
    "killall",
    "grep",
    "head",
    "tail",
    "wc",
    "env",
    "test",
    "[",
    "touch",
    "chmod",
    "chown",
    "ln",
    "readlink",
    "stat",
    "sync",
    "uname",
    "ip",
    "ifconfig",
    "nc",
    "wget",
    "dd",
    "yes",
    "seq",
    "printf",
    "cut",
    "tr",
    "sed",
    "awk",
    "find",
    "xargs",
    "date",
    "pwd",
    "nproc",
    "top",
    "free",
    "df",
    "du",
    "mknod",
    "ulimit",
    "whoami",
    "basename",
    "dirname",
    "which",
    "sort",
    "uniq",
    "cp",
    "mv",
    "tee",
    "usleep",
    "timeout",
    "nsenter",
    "unshare",
    "chroot",
    "pidof",
    "pgrep",
    "pkill",
    "vi",
    "less",
    "more",
    "tar",
    "gzip",
    "gunzip",
    "md5sum",
    "sha256sum",
    "hexdump",
    "od",
    "expr",
    "init",
    "httpd",
    "ping",
    "netstat",
    "route",
    "hostid",
    "groups",
    "setsid",
    "nohup",
    "time",
    "watch",
    "diff",
    "patch",
    "mountpoint",
    "stty",
    "tty",
    "reset",
    "clear",
    "realpath",
    "truncate",
    "fallocate",
    "nice",
    "renice",
    "ionice",
    "chrt",
    "taskset",
    "getopt",
];

/// Builds (once, cached, atomically) a busybox root filesystem and returns its path. Read-only use only:
/// copy it with [`copy_rootfs`] for a container that writes.
pub fn busybox_rootfs() -> io::Result<PathBuf> {
    let dir = cache_dir().join("busybox-rootfs");
    if dir.join("bin/busybox").exists() {
        return Ok(dir);
    }
    if !Path::new(BUSYBOX).exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("`{BUSYBOX}` is missing: install Debian's busybox-static (scripts/install-deps.sh)"),
        ));
    }
    fs::create_dir_all(cache_dir())?;
    let tmp = tempfile::Builder::new()
        .prefix(".busybox-rootfs-")
        .tempdir_in(cache_dir())?;
    build_busybox_rootfs(tmp.path())?;
    let tmp = tmp.keep();
    match fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another test process won the race: use its copy.
        Err(_) if dir.join("bin/busybox").exists() => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(e),
    }
}

/// Lays out a minimal busybox filesystem in `root`.
pub fn build_busybox_rootfs(root: &Path) -> io::Result<()> {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "tmp", "root", "home", "var",
        "run",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::copy(BUSYBOX, root.join("bin/busybox"))?;
    for a in APPLETS {
        // Relative links: `busybox --install -s` would write absolute host paths.
        symlink("busybox", root.join("bin").join(a))?;
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(())
}

/// Copies a rootfs (files, directories, symlinks, modes) into `dst`.
pub fn copy_rootfs(src: &Path, dst: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::metadata(src)?.permissions())?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if ft.is_dir() {
            copy_rootfs(&entry.path(), &to)?;
        } else if ft.is_symlink() {
            symlink(fs::read_link(entry.path())?, &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
            fs::set_permissions(
                &to,
                fs::Permissions::from_mode(entry.metadata()?.permissions().mode()),
            )?;
        }
    }
    Ok(())
}

/// The default config of `runc spec` with the given args, as JSON to edit in tests.
pub fn default_config(args: &[&str]) -> Value {
    let mut v = berth_oci::defaults::spec(false);
    v["process"]["args"] = json!(args);
    v["process"]["terminal"] = json!(false);
    // crun 1.8 rejects configs newer than it knows; the test configs use nothing past 1.0.
    v["ociVersion"] = json!("1.0.2");
    v
}

/// An OCI bundle in a temporary directory: `config.json` plus a private copy of the busybox rootfs.
/// Removed on drop.
#[derive(Debug)]
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
}

impl Bundle {
    /// A bundle around a private busybox rootfs, with the default config running `args`, readonly root
    /// off (tests write files) and a cgroup path unique to the bundle.
    pub fn busybox(args: &[&str]) -> io::Result<Bundle> {
        let dir = tempfile::Builder::new().prefix("berth-bundle-").tempdir()?;
        copy_rootfs(&busybox_rootfs()?, &dir.path().join("rootfs"))?;
        let mut config = default_config(args);
        config["root"]["readonly"] = json!(false);
        let b = Bundle { dir, config };
        b.save()?;
        Ok(b)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Writes `config` to `config.json`; call after editing it.
    pub fn save(&self) -> io::Result<()> {
        fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config)?,
        )
    }
}
