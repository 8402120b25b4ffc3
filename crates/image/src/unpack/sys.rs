//! The few syscalls extraction needs, each relative to a directory descriptor and never following a
//! symbolic link in the last component. Names passed here are single path components (no `/`) or,
//! for [`open_beneath`], a relative path without `..`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// `-1` → the thread's errno as an `io::Error`.
fn cvt(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Bytes → C string; a NUL inside a tar name makes it unusable as a path.
pub(super) fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// `struct open_how` of openat2(2); libc's is `non_exhaustive`, so it cannot be built outside libc.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Cleared when the kernel answers ENOSYS (before 5.6), so the caller walks component by component.
static HAVE_OPENAT2: AtomicBool = AtomicBool::new(true);

/// Opens `path` (relative, no `..`) under `dir` with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: every
/// component must be a real directory below `dir`, so a symlink planted by the layer (or present in
/// the destination) fails with ELOOP instead of being followed. ENOSYS when the kernel lacks openat2.
pub(super) fn open_beneath(dir: BorrowedFd<'_>, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    if !HAVE_OPENAT2.load(Ordering::Relaxed) {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `path` is a valid C string and `how` a live open_how whose size is passed along.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            // EAGAIN: a concurrent rename elsewhere in the tree raced the lookup; it is safe to retry.
            Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
            Some(libc::ENOSYS) => {
                HAVE_OPENAT2.store(false, Ordering::Relaxed);
                return Err(e);
            }
            _ => return Err(e),
        }
    }
}

/// openat(2) of one component, never following a symlink there (O_NOFOLLOW is always added).
pub(super) fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: valid descriptor and C string for the duration of the call.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                mode as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Opens the directory `name` under `dir` for reading (and as a dirfd), refusing symlinks.
pub(super) fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

pub(super) fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid descriptor and C string for the duration of the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
}

pub(super) fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    // SAFETY: valid descriptor and C string for the duration of the call.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev) })
}

pub(super) fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: valid descriptor and C strings for the duration of the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// A hard link `new_dir/new_name` to `old_dir/old_name`; flags 0, so a symlink there is linked itself,
/// never followed (as GNU tar and Go's `os.Link` do).
pub(super) fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
) -> io::Result<()> {
    // SAFETY: valid descriptors and C strings for the duration of the call.
    cvt(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old_name.as_ptr(),
            new_dir.as_raw_fd(),
            new_name.as_ptr(),
            0,
        )
    })
}

pub(super) fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> io::Result<()> {
    // SAFETY: valid descriptor and C string for the duration of the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// lstat of `name` under `dir`.
pub(super) fn lstatat(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, C string and out pointer for the duration of the call.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

pub(super) fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// lchown of `name` under `dir` (the link itself when it is a symlink).
pub(super) fn lchownat(dir: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid descriptor and C string for the duration of the call.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub(super) fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })
}

pub(super) fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })
}

/// chmod of a node this extraction just created under `dir` (device or fifo, which cannot be opened
/// without side effects). The kernel's fchmodat follows a final symlink, so callers only use it on
/// names they created themselves a moment before.
pub(super) fn fchmodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid descriptor and C string for the duration of the call.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, 0) })
}

pub(super) fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: valid descriptor and a pointer to two timespecs, as the call requires.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) })
}

/// utimensat of `name` under `dir`, on the link itself when it is a symlink.
pub(super) fn lutimensat(dir: BorrowedFd<'_>, name: &CStr, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: valid descriptor, C string and a pointer to two timespecs for the duration of the call.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub(super) fn fsetxattr(fd: BorrowedFd<'_>, key: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: valid descriptor, C string and value buffer (pointer and length) for the call.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// lsetxattr on `name` under `dir`, for nodes that cannot be opened (symlinks, devices, fifos). Before
/// Linux 6.13 there is no dirfd-relative form, so the path goes through `/proc/self/fd/<dir>/name`:
/// `dir` is already resolved and `name` is a single component, so nothing is followed but the
/// descriptor's own magic link.
pub(super) fn lsetxattrat(dir: BorrowedFd<'_>, name: &CStr, key: &CStr, value: &[u8]) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = cstring(&path)?;
    // SAFETY: valid C strings and value buffer (pointer and length) for the duration of the call.
    cvt(unsafe { libc::lsetxattr(path.as_ptr(), key.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
}

/// The names in directory `dir` (without `.` and `..`), read through a fresh open file description
/// so the caller's descriptor offset is left alone.
pub(super) fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let fd = openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: `raw` is an open directory descriptor whose ownership passes to the DIR stream.
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `raw` is still ours to close.
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut names = Vec::new();
    let result = loop {
        // SAFETY: errno is thread-local; clearing it distinguishes end-of-directory from failure.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid DIR stream used only by this thread.
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error() == Some(0) {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated; it stays valid
        // until the next readdir on this stream, and is copied out before then.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(name.to_owned());
        }
    };
    // SAFETY: `stream` is valid and closed exactly once (this also closes `raw`).
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Removes `name` under `dir` and, when it is a directory, everything below it, without following
/// any symlink (each level is opened with O_NOFOLLOW relative to its parent).
pub(super) fn remove_all_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match unlinkat(dir, name, 0) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR) | Some(libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let sub = match open_dir(dir, name) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    for child in read_dir_names(sub_fd(&sub))? {
        remove_all_at(sub_fd(&sub), &child)?;
    }
    drop(sub);
    match unlinkat(dir, name, libc::AT_REMOVEDIR) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

fn sub_fd(fd: &OwnedFd) -> BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(fd)
}

/// syncfs(2): flushes the filesystem holding `fd`, so a layer renamed into place afterwards is on
/// disk whole.
pub(super) fn syncfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall on a valid descriptor.
    cvt(unsafe { libc::syncfs(fd.as_raw_fd()) })
}

pub(super) fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

pub(super) fn makedev(major: u32, minor: u32) -> libc::dev_t {
    libc::makedev(major, minor)
}

/// A timespec from seconds and nanoseconds since the epoch.
pub(super) fn timespec(secs: i64, nanos: u32) -> libc::timespec {
    libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nanos as libc::c_long,
    }
}
