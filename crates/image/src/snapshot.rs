//! Mounting a stack of unpacked layers (overlay form, see [`crate::unpack`]) as one tree.
//!
//! The classic `mount(2)` takes every lower directory in one option string limited to a page
//! (4096 bytes): with layer directories named by 64-hex diff IDs, an image of a few dozen layers no
//! longer fits. Two ways around it, tried in order:
//!
//! 1. the new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`) with one `lowerdir+` per
//!    layer (Linux ≥ 6.8): no length limit but overlay's own (500 layers);
//! 2. `mount(2)` with short names: a symlink per layer in a links directory (as Docker's overlay2
//!    `l/` directory), so each lower costs about 30 bytes: 128 layers fit.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How to mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The new mount API, then short links if the kernel lacks `lowerdir+`.
    Auto,
    /// Only the new mount API.
    NewApi,
    /// Only `mount(2)` with short links.
    ShortLinks,
}

/// The writable part of an overlay.
#[derive(Debug, Clone, Copy)]
pub struct Upper<'a> {
    pub upper: &'a Path,
    pub work: &'a Path,
}

const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// Mounts `lowers` (top first) with an optional upper at `target`. `links` is the directory of
/// short symlinks used by [`Method::ShortLinks`] (created if needed; links are made per layer and
/// kept, so they are shared by every mount of the layer).
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: Option<Upper<'_>>,
    target: &Path,
    links: &Path,
    method: Method,
) -> io::Result<()> {
    if lowers.is_empty() || (lowers.len() == 1 && upper.is_none()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an overlay needs two lower layers, or one and an upper layer",
        ));
    }
    match method {
        Method::NewApi => mount_new_api(lowers, upper, target),
        Method::ShortLinks => mount_short_links(lowers, upper, target, links),
        Method::Auto => match mount_new_api(lowers, upper, target) {
            Ok(()) => Ok(()),
            // ENOSYS: no new mount API; EINVAL: no `lowerdir+` (Linux < 6.8).
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL)) => {
                mount_short_links(lowers, upper, target, links)
            }
            Err(e) => Err(e),
        },
    }
}

fn mount_new_api(lowers: &[PathBuf], upper: Option<Upper<'_>>, target: &Path) -> io::Result<()> {
    let fstype = cstr(b"overlay")?;
    // SAFETY: a valid C string; the flags are documented ones.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsopen returned a new descriptor we own.
    let fs = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let set = |key: &str, value: &[u8]| -> io::Result<()> {
        let k = cstr(key.as_bytes())?;
        let v = cstr(value)?;
        // SAFETY: fs is an fs context descriptor; key and value are valid C strings.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    for l in lowers {
        set("lowerdir+", l.as_os_str().as_bytes())?;
    }
    if let Some(u) = upper {
        set("upperdir", u.upper.as_os_str().as_bytes())?;
        set("workdir", u.work.as_os_str().as_bytes())?;
    }
    // SAFETY: fs is an fs context descriptor; no key or value for CMD_CREATE.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fs is a created fs context.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    if m < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount returned a new descriptor we own.
    let mnt = unsafe { OwnedFd::from_raw_fd(m as i32) };
    let empty = cstr(b"")?;
    let to = cstr(target.as_os_str().as_bytes())?;
    // SAFETY: mnt is a detached mount; empty path with F_EMPTY_PATH names it; `to` is a valid C
    // string resolved from the cwd (absolute in practice).
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A short stable name for a layer directory: 10 hex digits of the sha256 of its path.
fn short_name(dir: &Path) -> String {
    let d = crate::digest::Digest::sha256_of(dir.as_os_str().as_bytes());
    d.encoded()[..10].to_string()
}

fn mount_short_links(
    lowers: &[PathBuf],
    upper: Option<Upper<'_>>,
    target: &Path,
    links: &Path,
) -> io::Result<()> {
    std::fs::create_dir_all(links)?;
    let mut names = Vec::with_capacity(lowers.len());
    for l in lowers {
        let name = links.join(short_name(l));
        match std::fs::read_link(&name) {
            Ok(t) if t == *l => {}
            Ok(_) => {
                std::fs::remove_file(&name)?;
                std::os::unix::fs::symlink(l, &name)?;
            }
            Err(_) => {
                // Made under a temporary name and renamed: another mount making the same link
                // at the same time cannot see a half-made one.
                let tmp = links.join(format!(".{}-{}", short_name(l), std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(l, &tmp)?;
                std::fs::rename(&tmp, &name)?;
            }
        }
        names.push(name);
    }
    let mut opts = b"lowerdir=".to_vec();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            opts.push(b':');
        }
        opts.extend_from_slice(n.as_os_str().as_bytes());
    }
    if let Some(u) = upper {
        opts.extend_from_slice(b",upperdir=");
        opts.extend_from_slice(u.upper.as_os_str().as_bytes());
        opts.extend_from_slice(b",workdir=");
        opts.extend_from_slice(u.work.as_os_str().as_bytes());
    }
    if opts.len() >= 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} layers do not fit in one overlay mount option string ({} bytes, the kernel takes 4095): \
                 use a shorter links directory than {}",
                lowers.len(),
                opts.len(),
                links.display()
            ),
        ));
    }
    let src = cstr(b"overlay")?;
    let to = cstr(target.as_os_str().as_bytes())?;
    let data = cstr(&opts)?;
    // SAFETY: valid C strings; data is the overlay option string.
    let r = unsafe { libc::mount(src.as_ptr(), to.as_ptr(), src.as_ptr(), 0, data.as_ptr().cast()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_single_lower_without_upper() {
        let e = mount_overlay(
            &[PathBuf::from("/a")],
            None,
            Path::new("/t"),
            Path::new("/l"),
            Method::Auto,
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn short_names_are_stable_and_short() {
        let a = short_name(Path::new("/var/lib/berth/layers/sha256/abc"));
        assert_eq!(a.len(), 10);
        assert_eq!(a, short_name(Path::new("/var/lib/berth/layers/sha256/abc")));
        assert_ne!(a, short_name(Path::new("/var/lib/berth/layers/sha256/abd")));
    }
}
