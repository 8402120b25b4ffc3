//! Applying tar entries to a directory, as Docker and containerd apply layers, through descriptors
//! only: every parent is opened beneath the layer root with symlinks refused, and every node is
//! created by name relative to its parent's descriptor, so no entry can reach outside the root.
//!
//! Ref: containerd archive/tar.go `applyNaive` and `createTarFile`; moby pkg/archive/archive.go
//! `createTarFile`; moby pkg/archive/archive_linux.go `overlayWhiteoutConverter`.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use super::name::{self, BadName};
use super::sparse::{self, Sparse};
use super::sys;
use super::{UnpackError, WhiteoutMode};

/// OCI whiteout prefix: `.wh.<name>` deletes `<name>` of the layers below.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// `.wh..wh.` names are AUFS metadata, not deletions (except the opaque marker).
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// Marks its directory opaque: nothing of the layers below shows through.
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
/// PAX record prefix carrying extended attributes (Go's archive/tar, GNU tar, bsdtar).
const PAX_XATTR: &str = "SCHILY.xattr.";
/// The overlayfs xattr that makes a directory opaque.
const OVERLAY_OPAQUE: &CStr = c"trusted.overlay.opaque";

const COPY_BUFFER: usize = 1 << 20;

/// What the header says about ownership, permissions, times and extended attributes.
struct Meta {
    uid: u32,
    gid: u32,
    /// Permission bits including setuid, setgid and sticky.
    mode: u32,
    times: [libc::timespec; 2],
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// Counters and notes the caller reports with the result.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub entries: u64,
    pub skipped: Vec<String>,
}

/// The state of one extraction into one root directory.
pub(super) struct Extractor {
    root: Rc<OwnedFd>,
    whiteouts: WhiteoutMode,
    chown: bool,
    /// The parent directory of the previous entry; tars list a directory's entries together, so
    /// this saves resolving the same parent again. Cleared whenever a directory is removed.
    cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    /// Directories whose times are set at the end, since creating entries in them changes them.
    dirs: Vec<(Vec<u8>, [libc::timespec; 2], u32)>,
    /// Not root: a directory gets owner rwx while its entries are created in it, and its own mode
    /// at the end (as GNU tar does), or a 0555 directory could not be filled. Root needs no
    /// permission to write, so it sets modes at once.
    defer_modes: bool,
    /// Paths this layer created (WhiteoutMode::Apply only): an opaque marker keeps these and removes
    /// the rest of its directory.
    created: HashSet<Vec<u8>>,
    buf: Vec<u8>,
    pub(super) tally: Tally,
}

/// An error about the entry named `entry` (as written in the tar).
fn fail(op: &'static str, entry: &[u8], error: io::Error) -> UnpackError {
    UnpackError::Entry {
        op,
        entry: name::show(entry),
        error,
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

impl Extractor {
    pub(super) fn new(root: OwnedFd, whiteouts: WhiteoutMode, chown: bool) -> Extractor {
        Extractor {
            root: Rc::new(root),
            whiteouts,
            chown,
            cache: None,
            dirs: Vec::new(),
            defer_modes: sys::geteuid() != 0,
            created: HashSet::new(),
            buf: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Applies one entry; its data (if any) is read from `entry`.
    pub(super) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            // Ref: containerd createTarFile: "PAX Global Extended Headers found and ignored".
            return Ok(());
        }
        self.tally.entries += 1;
        let (meta, sparse) = self.meta(entry)?;
        // A PAX sparse file carries its real name in a record (the header names a stand-in).
        let raw = match sparse.as_ref().and_then(|s| s.name.clone()) {
            Some(name) => name,
            None => entry.path_bytes().into_owned(),
        };
        let rel = match name::clean(&raw) {
            Ok(rel) => rel,
            Err(BadName::Escapes) => {
                return Err(UnpackError::Escape {
                    entry: name::show(&raw),
                })
            }
            Err(BadName::TooLong) => {
                return Err(UnpackError::NameTooLong {
                    entry: name::show(&raw),
                    max: name::MAX_NAME,
                })
            }
        };
        let (parent, base) = name::split(&rel);
        let (parent, base) = (parent.to_vec(), base.to_vec());

        // AUFS metadata (`.wh..wh.plnk/…`, `.wh..wh.aufs`) is not part of the filesystem.
        if (rel.starts_with(WHITEOUT_META_PREFIX) || base.starts_with(WHITEOUT_META_PREFIX))
            && base != WHITEOUT_OPAQUE
        {
            return Ok(());
        }
        if base.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&raw, &parent, &base, &meta);
        }

        if rel.is_empty() {
            // The root's own entry (`./`): its owner and mode apply to the layer directory, as moby
            // does; anything but a directory there is ignored (containerd: "resolved to root").
            if kind.is_dir() {
                let root = Rc::clone(&self.root);
                self.set_meta_fd(&raw, root.as_fd(), &meta, true)?;
                self.dirs.push((rel, meta.times, meta.mode));
            }
            return Ok(());
        }

        let dir = self.parent_or_create(&raw, &parent)?;
        let cname = sys::cstring(&base).map_err(|e| fail("create", &raw, e))?;
        let dir = dir.as_fd();

        // A V7 regular file whose name ends in `/` is a directory (Go's archive/tar does the same).
        let legacy_dir = entry.header().as_bytes()[156] == 0 && raw.ends_with(b"/");
        use tar::EntryType as T;
        match kind {
            T::Directory => self.directory(&raw, &rel, dir, &cname, &meta)?,
            _ if legacy_dir => self.directory(&raw, &rel, dir, &cname, &meta)?,
            T::Regular | T::Continuous | T::GNUSparse => {
                self.regular(entry, &raw, dir, &cname, &meta, sparse.as_ref())?
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                self.symlink(&raw, dir, &cname, &target, &meta)?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                self.hardlink(&raw, dir, &cname, &target)?;
            }
            T::Char | T::Block | T::Fifo => {
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                let fmt = match kind {
                    T::Char => libc::S_IFCHR,
                    T::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                if !self.node(&raw, dir, &cname, fmt, sys::makedev(major, minor), &meta)? {
                    return Ok(());
                }
            }
            other => {
                return Err(UnpackError::UnsupportedType {
                    entry: name::show(&raw),
                    kind: format!("{:?} ({:?})", other, other.as_byte() as char),
                })
            }
        }
        if self.whiteouts == WhiteoutMode::Apply {
            self.created.insert(rel);
        }
        Ok(())
    }

    /// Sets the deferred directory times, then (not as root) the deferred directory modes,
    /// deepest first so that no directory loses its search permission before its children are
    /// done. Call after the last entry.
    pub(super) fn finish(&mut self) -> Result<(), UnpackError> {
        let dirs = std::mem::take(&mut self.dirs);
        for (rel, times, _) in &dirs {
            self.at_dir(rel, |fd, name| match name {
                None => sys::futimens(fd, times),
                Some(name) => sys::lutimensat(fd, name, times),
            })
            .map_err(|e| fail("set times of", rel, e))?;
        }
        if self.defer_modes {
            let mut late: Vec<_> = dirs.iter().filter(|(_, _, mode)| mode & 0o700 != 0o700).collect();
            late.sort_by_key(|(rel, _, _)| std::cmp::Reverse(rel.iter().filter(|&&b| b == b'/').count()));
            for (rel, _, mode) in late {
                self.at_dir(rel, |fd, name| match name {
                    None => sys::fchmod(fd, *mode),
                    Some(name) => sys::fchmodat(fd, name, *mode),
                })
                .map_err(|e| fail("change mode of", rel, e))?;
            }
        }
        Ok(())
    }

    /// Runs `op` on the directory `rel` as (parent fd, name), or (root fd, None) for the root;
    /// skips it when a later entry removed it or put something else there.
    fn at_dir(
        &mut self,
        rel: &[u8],
        op: impl FnOnce(BorrowedFd<'_>, Option<&CStr>) -> io::Result<()>,
    ) -> io::Result<()> {
        if rel.is_empty() {
            return op(self.root.as_fd(), None);
        }
        let (parent, base) = name::split(rel);
        let Ok(Some(dir)) = self.parent(rel, parent, false) else {
            return Ok(());
        };
        let cname = sys::cstring(base)?;
        match sys::lstatat(dir.as_fd(), &cname) {
            Ok(st) if sys::is_dir(&st) => op(dir.as_fd(), Some(&cname)),
            _ => Ok(()),
        }
    }

    /// The entry's metadata, from its header and PAX records, and its sparse map if it has one.
    fn meta<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(Meta, Option<Sparse>), UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let raw = &raw[..];
        let h = entry.header();
        let bad = |what: &str| UnpackError::BadHeader {
            entry: name::show(raw),
            detail: what.to_owned(),
        };
        let uid = h.uid().map_err(|_| bad("invalid uid"))?;
        let gid = h.gid().map_err(|_| bad("invalid gid"))?;
        let uid = u32::try_from(uid).map_err(|_| bad("uid out of range"))?;
        let gid = u32::try_from(gid).map_err(|_| bad("gid out of range"))?;
        let mode = h.mode().map_err(|_| bad("invalid mode"))? & 0o7777;
        let mut mtime = (h.mtime().map_err(|_| bad("invalid mtime"))? as i64, 0u32);
        // GNU headers may carry an access time; Go reads it when the field is set.
        let mut atime = h
            .as_gnu()
            .filter(|g| g.atime[0] != 0)
            .and_then(|g| g.atime().ok())
            .map(|s| (s as i64, 0));

        let mut xattrs = Vec::new();
        let mut sparse = sparse::Records::default();
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| fail("read PAX header of", raw, e))?
        {
            for ext in pax {
                let ext = ext.map_err(|e| fail("read PAX header of", raw, e))?;
                let Ok(key) = ext.key() else { continue };
                if sparse.take(key, ext.value_bytes()) {
                    continue;
                }
                if let Some(attr) = key.strip_prefix(PAX_XATTR) {
                    let attr = sys::cstring(attr.as_bytes()).map_err(|e| fail("read xattr of", raw, e))?;
                    xattrs.push((attr, ext.value_bytes().to_vec()));
                } else if key == "mtime" {
                    mtime = ext
                        .value()
                        .ok()
                        .and_then(parse_pax_time)
                        .ok_or_else(|| bad("invalid PAX mtime"))?;
                } else if key == "atime" {
                    atime = Some(
                        ext.value()
                            .ok()
                            .and_then(parse_pax_time)
                            .ok_or_else(|| bad("invalid PAX atime"))?,
                    );
                }
            }
        }
        // Ref: containerd createTarFile `latestTime(hdr.AccessTime, hdr.ModTime)`: an access time
        // before the modification time is raised to it.
        let atime = atime.filter(|a| *a > mtime).unwrap_or(mtime);
        let times = [sys::timespec(atime.0, atime.1), sys::timespec(mtime.0, mtime.1)];
        let sparse = sparse.finish().map_err(|detail| UnpackError::BadHeader {
            entry: name::show(raw),
            detail,
        })?;
        Ok((
            Meta {
                uid,
                gid,
                mode,
                times,
                xattrs,
            },
            sparse,
        ))
    }

    /// The parent directory `parent` (cleaned, relative), opened beneath the root with symlinks
    /// refused. Missing components are created (0755, like moby's MkdirAll) when `create`;
    /// otherwise a missing one gives `None`.
    fn parent(
        &mut self,
        entry: &[u8],
        parent: &[u8],
        create: bool,
    ) -> Result<Option<Rc<OwnedFd>>, UnpackError> {
        if parent.is_empty() {
            return Ok(Some(Rc::clone(&self.root)));
        }
        if let Some((path, fd)) = &self.cache {
            if path == parent {
                return Ok(Some(Rc::clone(fd)));
            }
        }
        let cpath = sys::cstring(parent).map_err(|e| fail("resolve parent of", entry, e))?;
        let fd = match sys::open_beneath(self.root.as_fd(), &cpath, libc::O_RDONLY | libc::O_DIRECTORY) {
            Ok(fd) => fd,
            // Missing, a symlink, not a directory, or no openat2: the walk creates or explains.
            Err(_) => match self.walk(entry, parent, create)? {
                Some(fd) => fd,
                None => return Ok(None),
            },
        };
        let fd = Rc::new(fd);
        self.cache = Some((parent.to_vec(), Rc::clone(&fd)));
        Ok(Some(fd))
    }

    /// [`Extractor::parent`] with missing components created.
    fn parent_or_create(&mut self, entry: &[u8], parent: &[u8]) -> Result<Rc<OwnedFd>, UnpackError> {
        match self.parent(entry, parent, true)? {
            Some(fd) => Ok(fd),
            // Unreachable: with `create`, a missing component is made, not reported.
            None => Err(fail(
                "create parent directory of",
                entry,
                io::Error::from_raw_os_error(libc::ENOENT),
            )),
        }
    }

    /// Opens `parent` one component at a time with O_NOFOLLOW, creating what is missing.
    fn walk(&mut self, entry: &[u8], parent: &[u8], create: bool) -> Result<Option<OwnedFd>, UnpackError> {
        let mut cur: Option<OwnedFd> = None;
        let mut end = 0;
        for comp in parent.split(|&b| b == b'/') {
            end += comp.len() + usize::from(end > 0);
            let prefix = &parent[..end];
            let c = sys::cstring(comp).map_err(|e| fail("resolve parent of", entry, e))?;
            let at = cur.as_ref().map(|f| f.as_fd()).unwrap_or(self.root.as_fd());
            let next = match sys::open_dir(at, &c) {
                Ok(fd) => fd,
                Err(e) if errno(&e) == libc::ENOENT && create => {
                    match sys::mkdirat(at, &c, 0o755) {
                        Ok(()) => {}
                        Err(e) if errno(&e) == libc::EEXIST => {}
                        Err(e) => return Err(fail("create parent directory of", entry, e)),
                    }
                    let fd = sys::open_dir(at, &c).map_err(|e| self.explain(entry, prefix, at, &c, e))?;
                    // Umask-proof: the mode is exactly 0755 whatever the daemon's umask is.
                    sys::fchmod(fd.as_fd(), 0o755)
                        .map_err(|e| fail("create parent directory of", entry, e))?;
                    fd
                }
                Err(e) if errno(&e) == libc::ENOENT => return Ok(None),
                Err(e) => return Err(self.explain(entry, prefix, at, &c, e)),
            };
            cur = Some(next);
        }
        Ok(cur)
    }

    /// Turns a failed open of directory `comp` (at `prefix`) into the error that says why.
    fn explain(
        &self,
        entry: &[u8],
        prefix: &[u8],
        at: BorrowedFd<'_>,
        comp: &CStr,
        e: io::Error,
    ) -> UnpackError {
        match sys::lstatat(at, comp) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => UnpackError::ThroughSymlink {
                entry: name::show(entry),
                component: name::show(prefix),
            },
            Ok(st) if !sys::is_dir(&st) => UnpackError::NotADirectory {
                entry: name::show(entry),
                component: name::show(prefix),
            },
            _ => fail("open parent directory of", entry, e),
        }
    }

    /// Something already exists at `name`: remove it (a whole tree when it is a directory) so the
    /// entry can take its place. Ref: containerd applyNaive "If path exits we almost always just
    /// want to remove and replace it".
    fn replace(&mut self, raw: &[u8], dir: BorrowedFd<'_>, name: &CStr) -> Result<(), UnpackError> {
        self.cache = None;
        sys::remove_all_at(dir, name).map_err(|e| fail("replace existing", raw, e))
    }

    fn directory(
        &mut self,
        raw: &[u8],
        rel: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        match sys::mkdirat(dir, name, 0o700) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                // Two directories merge (the entry's metadata wins); anything else is replaced.
                let st = sys::lstatat(dir, name).map_err(|e| fail("create directory", raw, e))?;
                if !sys::is_dir(&st) {
                    self.replace(raw, dir, name)?;
                    sys::mkdirat(dir, name, 0o700).map_err(|e| fail("create directory", raw, e))?;
                }
            }
            Err(e) => return Err(fail("create directory", raw, e)),
        }
        let fd = sys::open_dir(dir, name).map_err(|e| fail("open directory", raw, e))?;
        self.set_meta_fd(raw, fd.as_fd(), meta, true)?;
        self.dirs.push((rel.to_vec(), meta.times, meta.mode));
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        sparse: Option<&Sparse>,
    ) -> Result<(), UnpackError> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
        let fd = match sys::openat(dir, name, flags, 0o600) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::EEXIST => {
                self.replace(raw, dir, name)?;
                sys::openat(dir, name, flags, 0o600).map_err(|e| fail("create file", raw, e))?
            }
            Err(e) => return Err(fail("create file", raw, e)),
        };
        let mut file = File::from(fd);
        if self.buf.is_empty() && entry.size() > 0 {
            self.buf = vec![0; COPY_BUFFER];
        }
        if let Some(sparse) = sparse {
            sparse::write(entry, &mut file, sparse, &mut self.buf).map_err(|e| match e {
                sparse::Fail::Bad(detail) => UnpackError::BadHeader {
                    entry: name::show(raw),
                    detail,
                },
                sparse::Fail::Read(error) => UnpackError::Tar {
                    entries: self.tally.entries,
                    error,
                },
                sparse::Fail::Write(e) => fail("write file", raw, e),
            })?;
        } else if entry.size() > 0 {
            loop {
                let n = match entry.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(UnpackError::Tar {
                            entries: self.tally.entries,
                            error: e,
                        })
                    }
                };
                file.write_all(&self.buf[..n])
                    .map_err(|e| fail("write file", raw, e))?;
            }
        }
        self.set_meta_fd(raw, file.as_fd(), meta, false)
    }

    fn symlink(
        &mut self,
        raw: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        target: &[u8],
        meta: &Meta,
    ) -> Result<(), UnpackError> {
        // The target is stored as written: it is never followed during extraction.
        let target = sys::cstring(target).map_err(|e| fail("create symlink", raw, e))?;
        match sys::symlinkat(&target, dir, name) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                self.replace(raw, dir, name)?;
                sys::symlinkat(&target, dir, name).map_err(|e| fail("create symlink", raw, e))?;
            }
            Err(e) => return Err(fail("create symlink", raw, e)),
        }
        self.set_meta_at(raw, dir, name, meta, false)
    }

    /// A hard link to an earlier entry of this layer. The target is cleaned like a name and resolved
    /// beneath the root with symlinks refused, so it can only name a file inside the layer. The
    /// link shares the target's inode, whose metadata came from the target's own entry: applying
    /// the link header's owner again would clear file capabilities (chown drops security.capability).
    fn hardlink(
        &mut self,
        raw: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        target: &[u8],
    ) -> Result<(), UnpackError> {
        let escape = || UnpackError::LinkEscape {
            entry: name::show(raw),
            target: name::show(target),
        };
        let missing = || UnpackError::LinkTargetMissing {
            entry: name::show(raw),
            target: name::show(target),
        };
        let rel = name::clean(target).map_err(|_| escape())?;
        if rel.is_empty() {
            return Err(missing());
        }
        let (tparent, tbase) = name::split(&rel);
        let tdir = match self.parent(target, tparent, false) {
            Ok(Some(fd)) => fd,
            Ok(None) => return Err(missing()),
            Err(UnpackError::ThroughSymlink { component, .. }) => {
                return Err(UnpackError::LinkThroughSymlink {
                    entry: name::show(raw),
                    target: component,
                })
            }
            Err(e) => return Err(e),
        };
        let tname = sys::cstring(tbase).map_err(|e| fail("create hard link", raw, e))?;
        let link = || match sys::linkat(tdir.as_fd(), &tname, dir, name) {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == libc::ENOENT => Err(missing()),
            Err(e) if errno(&e) == libc::EEXIST => Ok(false),
            Err(e) => Err(fail("create hard link", raw, e)),
        };
        if !link()? {
            // Linking to itself would remove the target first; refuse like `ln` does.
            let a = sys::lstatat(tdir.as_fd(), &tname).map_err(|e| fail("create hard link", raw, e))?;
            let b = sys::lstatat(dir, name).map_err(|e| fail("create hard link", raw, e))?;
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
                return Ok(());
            }
            self.replace(raw, dir, name)?;
            if !link()? {
                return Err(fail(
                    "create hard link",
                    raw,
                    io::Error::from_raw_os_error(libc::EEXIST),
                ));
            }
        }
        Ok(())
    }

    /// A device or fifo. Returns false when it could not be made for lack of privilege (a device
    /// node without CAP_MKNOD, as in a user namespace) and was skipped, as containerd does there.
    fn node(
        &mut self,
        raw: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        fmt: u32,
        dev: libc::dev_t,
        meta: &Meta,
    ) -> Result<bool, UnpackError> {
        let mode = fmt | 0o600;
        match sys::mknodat(dir, name, mode, dev) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                self.replace(raw, dir, name)?;
                sys::mknodat(dir, name, mode, dev).map_err(|e| fail("create device node", raw, e))?;
            }
            Err(e) if errno(&e) == libc::EPERM && fmt != libc::S_IFIFO => {
                self.tally
                    .skipped
                    .push(format!("`{}`: device node not created: {e}", name::show(raw)));
                return Ok(false);
            }
            Err(e) => return Err(fail("create device node", raw, e)),
        }
        self.set_meta_at(raw, dir, name, meta, true)?;
        Ok(true)
    }

    /// Owner, then xattrs, then mode (chown clears setuid/setgid and file capabilities, so it goes
    /// first), then times unless deferred (directories).
    fn set_meta_fd(
        &mut self,
        raw: &[u8],
        fd: BorrowedFd<'_>,
        meta: &Meta,
        is_dir: bool,
    ) -> Result<(), UnpackError> {
        if self.chown {
            sys::fchown(fd, meta.uid, meta.gid).map_err(|e| fail("change owner of", raw, e))?;
        }
        for (key, value) in &meta.xattrs {
            if let Err(e) = sys::fsetxattr(fd, key, value) {
                self.xattr_failed(raw, key, e)?;
            }
        }
        let mode = if is_dir && self.defer_modes {
            meta.mode | 0o700
        } else {
            meta.mode
        };
        sys::fchmod(fd, mode).map_err(|e| fail("change mode of", raw, e))?;
        if !is_dir {
            sys::futimens(fd, &meta.times).map_err(|e| fail("set times of", raw, e))?;
        }
        Ok(())
    }

    /// The same for nodes that are not opened: symlinks (no mode) and devices or fifos.
    fn set_meta_at(
        &mut self,
        raw: &[u8],
        dir: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        chmod: bool,
    ) -> Result<(), UnpackError> {
        if self.chown {
            sys::lchownat(dir, name, meta.uid, meta.gid).map_err(|e| fail("change owner of", raw, e))?;
        }
        for (key, value) in &meta.xattrs {
            if let Err(e) = sys::lsetxattrat(dir, name, key, value) {
                self.xattr_failed(raw, key, e)?;
            }
        }
        if chmod {
            // Only reached for a node created just above by this thread, never a symlink.
            sys::fchmodat(dir, name, meta.mode).map_err(|e| fail("change mode of", raw, e))?;
        }
        sys::lutimensat(dir, name, &meta.times).map_err(|e| fail("set times of", raw, e))
    }

    /// Ref: moby createTarFile: xattrs the filesystem does not support (ENOTSUP), or that need a
    /// privilege we lack (EPERM, e.g. `trusted.*`), are skipped with a note; other errors fail.
    fn xattr_failed(&mut self, raw: &[u8], key: &CStr, e: io::Error) -> Result<(), UnpackError> {
        if matches!(errno(&e), libc::ENOTSUP | libc::EPERM) {
            self.tally.skipped.push(format!(
                "`{}`: xattr `{}` not set: {e}",
                name::show(raw),
                key.to_string_lossy()
            ));
            Ok(())
        } else {
            Err(UnpackError::Xattr {
                entry: name::show(raw),
                key: key.to_string_lossy().into_owned(),
                error: e,
            })
        }
    }

    fn whiteout(&mut self, raw: &[u8], parent: &[u8], base: &[u8], meta: &Meta) -> Result<(), UnpackError> {
        let opaque = base == WHITEOUT_OPAQUE;
        let original = &base[WHITEOUT_PREFIX.len()..];
        if !opaque
            && (original.is_empty()
                || original == b"."
                || original == b".."
                || original.starts_with(WHITEOUT_PREFIX))
        {
            return Err(UnpackError::InvalidWhiteout {
                entry: name::show(raw),
            });
        }
        match self.whiteouts {
            WhiteoutMode::Overlay => {
                let dir = self.parent_or_create(raw, parent)?;
                if opaque {
                    // The directory's own fd: fsetxattr on the parent resolved above.
                    let value = b"y";
                    return sys::fsetxattr(dir.as_fd(), OVERLAY_OPAQUE, value).map_err(|e| {
                        UnpackError::Xattr {
                            entry: name::show(raw),
                            key: "trusted.overlay.opaque".into(),
                            error: e,
                        }
                    });
                }
                let cname = sys::cstring(original).map_err(|e| fail("create whiteout", raw, e))?;
                let dev = sys::makedev(0, 0);
                match sys::mknodat(dir.as_fd(), &cname, libc::S_IFCHR, dev) {
                    Ok(()) => {}
                    Err(e) if errno(&e) == libc::EEXIST => {
                        self.replace(raw, dir.as_fd(), &cname)?;
                        sys::mknodat(dir.as_fd(), &cname, libc::S_IFCHR, dev)
                            .map_err(|e| fail("create whiteout", raw, e))?;
                    }
                    Err(e) => return Err(fail("create whiteout", raw, e)),
                }
                if self.chown {
                    sys::lchownat(dir.as_fd(), &cname, meta.uid, meta.gid)
                        .map_err(|e| fail("change owner of", raw, e))?;
                }
                Ok(())
            }
            WhiteoutMode::Apply => {
                let Some(dir) = self.parent(raw, parent, false)? else {
                    return Ok(()); // nothing below to delete
                };
                self.cache = None;
                if opaque {
                    return self.clear_opaque(raw, dir.as_fd(), parent);
                }
                let cname = sys::cstring(original).map_err(|e| fail("apply whiteout", raw, e))?;
                sys::remove_all_at(dir.as_fd(), &cname).map_err(|e| fail("apply whiteout", raw, e))
            }
        }
    }

    /// Removes everything under `dir` (at `rel`) that this layer did not create itself.
    /// Ref: containerd applyNaive, `unpackedPaths`.
    fn clear_opaque(&mut self, raw: &[u8], dir: BorrowedFd<'_>, rel: &[u8]) -> Result<(), UnpackError> {
        let names = sys::read_dir_names(dir).map_err(|e| fail("apply opaque whiteout", raw, e))?;
        for child in names {
            let child_rel = name::join(rel, child.to_bytes());
            if !self.created.contains(&child_rel) {
                sys::remove_all_at(dir, &child).map_err(|e| fail("apply opaque whiteout", raw, e))?;
                continue;
            }
            if let Ok(sub) = sys::open_dir(dir, &child) {
                self.clear_opaque(raw, sub.as_fd(), &child_rel)?;
            }
        }
        Ok(())
    }
}

/// A PAX time (`1700000000.123456789`, possibly negative) → (seconds, nanoseconds), normalised so
/// the nanoseconds are non-negative. Ref: Go archive/tar strconv.go `parsePAXTime`.
fn parse_pax_time(s: &str) -> Option<(i64, u32)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if !neg {
        return Some((secs, nanos));
    }
    if nanos == 0 {
        Some((-secs, 0))
    } else {
        Some((-secs - 1, 1_000_000_000 - nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_pax_time;

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(parse_pax_time("1.123456789999"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time("-3"), Some((-3, 0)));
        assert_eq!(parse_pax_time("x"), None);
        assert_eq!(parse_pax_time(".5"), None);
    }
}
