//! Mount options and safe path resolution inside a root filesystem.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::error::{Error, Result};

/// A mount's options, split the way mount(2) wants them.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Flags for the mount call itself.
    pub flags: MsFlags,
    /// Flags the options explicitly clear (`rw`, `suid`...), for remounts that must keep the others.
    pub cleared: MsFlags,
    /// Propagation changes applied after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data (`mode=755,size=65536k`).
    pub data: String,
    /// Recursive attributes for mount_setattr(AT_RECURSIVE): (set, clear).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// runc's `tmpcopyup`: fill a new tmpfs with what the image had at its mount point.
    pub copy_up: bool,
}

// Ref: include/uapi/linux/mount.h
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

impl Default for Options {
    fn default() -> Options {
        Options {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            rec_set: 0,
            rec_clear: 0,
            copy_up: false,
        }
    }
}

impl Options {
    pub fn parse(opts: &[String]) -> Result<Options> {
        let mut o = Options::default();
        let mut data = Vec::new();
        for opt in opts {
            let (set, clear) = match opt.as_str() {
                "defaults" => (MsFlags::empty(), MsFlags::empty()),
                "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
                "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
                "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
                "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
                "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
                "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
                "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
                "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
                "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
                "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
                "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
                "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
                "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
                "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
                "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
                "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
                "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
                "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
                "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
                "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
                "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
                "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
                "lazytime" => (MsFlags::from_bits_retain(1 << 25), MsFlags::empty()),
                "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
                "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
                "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
                "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
                | "runbindable" => {
                    o.propagation
                        .push(propagation(opt).unwrap_or(MsFlags::MS_PRIVATE));
                    continue;
                }
                "tmpcopyup" => {
                    o.copy_up = true;
                    continue;
                }
                "idmap" | "ridmap" => {
                    return Err(Error::msg(format!("mount option `{opt}` is not supported")));
                }
                r if r.starts_with('r') && recursive(r).is_some() => {
                    let (set, clear) = recursive(r).unwrap_or((0, 0));
                    o.rec_set |= set;
                    o.rec_clear |= clear;
                    continue;
                }
                other => {
                    data.push(other.to_string());
                    continue;
                }
            };
            o.flags = (o.flags - clear) | set;
            o.cleared = (o.cleared - set) | clear;
        }
        o.data = data.join(",");
        Ok(o)
    }

    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Propagation option → mount(2) flags.
pub fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Recursive mount attribute options (`rro`, `rnosuid`...) → (set, clear) for mount_setattr.
fn recursive(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        "rnorelatime" => (0, MOUNT_ATTR__ATIME),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "ratime" => (0, MOUNT_ATTR__ATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) with AT_RECURSIVE on `path`.
pub fn setattr_recursive(path: &Path, set: u64, clear: u64) -> Result<()> {
    let c = cstr(path)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid C string and a mount_attr struct that outlive the call; size passed matches.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(Error::sys(
            "set recursive mount attributes on",
            path.display(),
            Errno::last(),
        ));
    }
    Ok(())
}

pub fn cstr(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::msg(format!("path `{}` contains a NUL byte", p.display())))
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(dirfd, path, flags, RESOLVE_IN_ROOT): `path` resolves as if `dirfd` were `/`, so `..` and
/// symlinks (absolute ones too) cannot leave it.
pub fn openat_in_root(dirfd: RawFd, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
    let c = cstr(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: a valid C string and open_how struct alive for the call; the size passed matches.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: a fresh descriptor returned by the kernel, owned by nothing else.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// The path of an O_PATH descriptor for use as a mount target: `/proc/self/fd/N`.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What to create at a destination that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Opens (O_PATH) `dest` inside the root `rootfd`, creating missing components as directories and the
/// last one as `kind`. Every step resolves from the root with RESOLVE_IN_ROOT, so a symlink planted in
/// the image cannot send a mount outside the container.
pub fn ensure_in_root(rootfd: &OwnedFd, dest: &Path, kind: Kind) -> Result<OwnedFd> {
    let rel = relative(dest);
    match openat_in_root(rootfd.as_raw_fd(), &rel, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::sys("resolve mount destination", dest.display(), e)),
    }
    let comps: Vec<_> = rel.components().collect();
    let mut parent = rootfd
        .try_clone()
        .map_err(|e| Error::io("duplicate", "rootfs fd", e))?;
    let mut prefix = PathBuf::new();
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        let last = i + 1 == comps.len();
        match openat_in_root(rootfd.as_raw_fd(), &prefix, libc::O_PATH) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys("resolve mount destination", dest.display(), e)),
        }
        // The component is missing: create it by name under its resolved parent.
        let name = cstr(Path::new(c.as_os_str()))?;
        let dirfd = openat_in_root(
            parent.as_raw_fd(),
            Path::new("."),
            libc::O_DIRECTORY | libc::O_RDONLY,
        )
        .map_err(|e| Error::sys("open parent of mount destination", dest.display(), e))?;
        // SAFETY: valid dirfd and C string for the duration of the call.
        let r = unsafe {
            if last && kind == Kind::File {
                let fd = libc::openat(
                    dirfd.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                    0o644,
                );
                if fd >= 0 {
                    libc::close(fd);
                    0
                } else {
                    -1
                }
            } else {
                libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), 0o755)
            }
        };
        if r < 0 && Errno::last() != Errno::EEXIST {
            return Err(Error::sys(
                "create mount destination",
                dest.display(),
                Errno::last(),
            ));
        }
        parent = openat_in_root(rootfd.as_raw_fd(), &prefix, libc::O_PATH)
            .map_err(|e| Error::sys("resolve mount destination", dest.display(), e))?;
    }
    Ok(parent)
}

/// `dest` without its leading `/` and without `.` components.
pub fn relative(dest: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Options {
        Options::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_and_data() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = opts(&["rbind", "ro", "rprivate"]);
        assert!(o.is_bind() && o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_override_earlier() {
        let o = opts(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes() {
        let o = opts(&["rbind", "rro", "rnosuid"]);
        assert_eq!(o.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert!(Options::parse(&["idmap".to_string()]).is_err());
    }

    #[test]
    fn ensure_in_root_stays_inside() {
        let root = tempfile::tempdir().unwrap();
        // A symlink pointing outside: resolution must stay within the root.
        std::os::unix::fs::symlink("/", root.path().join("escape")).unwrap();
        let rootfd = nix::fcntl::open(
            root.path(),
            nix::fcntl::OFlag::O_PATH,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        // SAFETY: `open` returned a fresh descriptor that nothing else owns.
        let rootfd = unsafe { OwnedFd::from_raw_fd(rootfd) };
        let fd = ensure_in_root(&rootfd, Path::new("/escape/etc/created"), Kind::Dir).unwrap();
        let real = std::fs::read_link(fd_path(&fd)).unwrap();
        assert_eq!(real, root.path().join("etc/created"));
        assert!(!Path::new("/etc/created").exists());
        let f = ensure_in_root(&rootfd, Path::new("/a/b/file"), Kind::File).unwrap();
        assert!(std::fs::read_link(fd_path(&f)).unwrap().ends_with("a/b/file"));
        assert!(root.path().join("a/b/file").is_file());
    }
}
