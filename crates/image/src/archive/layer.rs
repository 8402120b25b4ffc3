//! Layers from directory trees: a deterministic tar writer, and storing a tar stream as a layer
//! blob with its diff ID, compressing in parallel.
//!
//! The tar has the shape Docker's `pkg/archive` gives a layer: names relative to the root without
//! a leading `./`, directories with a trailing `/`, a depth-first walk with each directory's
//! entries in byte order, mtimes truncated to seconds, no atime/ctime, no owner names, a hard link
//! for every further name of an inode, sockets left out. Unlike Docker, which keeps only
//! `security.capability`, every extended attribute is written (`SCHILY.xattr.*`), as containerd
//! does.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher};
use crate::manifest::{Descriptor, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP, OCI_LAYER_TAR_ZSTD};
use crate::store::ContentStore;
use crate::unpack::Compression;

use super::compress::GzipWriter;
use super::tarw::{Entry, Kind, TarWriter};
use super::{io_err, stream_err, ArchiveError};

/// What mtimes the tar records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MtimePolicy {
    /// The files' own mtimes (seconds).
    #[default]
    Keep,
    /// This time for every entry.
    Fixed(i64),
    /// The files' mtimes, but none later than this (BuildKit's `SOURCE_DATE_EPOCH` rewrite).
    Clamp(i64),
}

impl MtimePolicy {
    fn apply(self, mtime: i64) -> i64 {
        match self {
            MtimePolicy::Keep => mtime,
            MtimePolicy::Fixed(t) => t,
            MtimePolicy::Clamp(t) => mtime.min(t),
        }
    }
}

/// How to write a layer tar.
#[derive(Debug, Clone)]
pub struct LayerOptions {
    /// Record extended attributes.
    pub xattrs: bool,
    /// What mtimes to record.
    pub mtime: MtimePolicy,
    /// Record this owner for every entry instead of the files' own (`uid`, `gid`).
    pub owner: Option<(u64, u64)>,
    /// Root-relative paths (`dev`, `var/cache/apt/archives`) whose contents are left out; the
    /// directories themselves are kept.
    pub empty_dirs: Vec<PathBuf>,
    /// gzip level, 0–9 (used by [`store_dir`] with gzip).
    pub gzip_level: u32,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            xattrs: true,
            mtime: MtimePolicy::Keep,
            owner: None,
            empty_dirs: Vec::new(),
            gzip_level: 6,
        }
    }
}

/// What [`write_dir_tar`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarStats {
    /// Entries written.
    pub entries: u64,
    /// Bytes of tar.
    pub size: u64,
    /// What was left out and why (sockets).
    pub skipped: Vec<String>,
}

/// A layer blob in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerBlob {
    /// The blob: `application/vnd.oci.image.layer.v1.tar+gzip` (or `.tar`, `+zstd`), digest, size.
    pub descriptor: Descriptor,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub size: u64,
}

/// Writes the tree under `dir` as a layer tar to `out` (the root directory itself is not an
/// entry). The same tree and options give the same bytes.
pub fn write_dir_tar(dir: &Path, out: impl Write, opts: &LayerOptions) -> Result<TarStats, ArchiveError> {
    let meta = fs::symlink_metadata(dir).map_err(io_err("inspect", dir))?;
    if !meta.is_dir() {
        return Err(ArchiveError::Io {
            op: "archive",
            path: dir.to_path_buf(),
            error: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut walker = Walker {
        tar: TarWriter::new(out),
        opts,
        links: HashMap::new(),
        stats: TarStats::default(),
    };
    walker.walk_dir(dir, &mut Vec::new())?;
    let size = walker.tar.written() + 1024;
    walker
        .tar
        .finish()
        .map_err(stream_err(format!("write layer tar of `{}`", dir.display())))?;
    walker.stats.size = size;
    Ok(walker.stats)
}

struct Walker<'o, W: Write> {
    tar: TarWriter<W>,
    opts: &'o LayerOptions,
    /// (dev, ino) → the first name written for a multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    stats: TarStats,
}

impl<W: Write> Walker<'_, W> {
    /// `rel` is the directory's root-relative name, bytes, without trailing slash.
    fn walk_dir(&mut self, dir: &Path, rel: &mut Vec<u8>) -> Result<(), ArchiveError> {
        if self
            .opts
            .empty_dirs
            .iter()
            .any(|p| p.as_os_str().as_bytes() == rel.as_slice())
        {
            return Ok(());
        }
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(io_err("read directory", dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err("read directory", dir))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            let is_dir = self.entry(&path, rel)?;
            if is_dir {
                self.walk_dir(&path, rel)?;
            }
            rel.truncate(len);
        }
        Ok(())
    }

    /// Writes one entry; true when it is a directory to descend into.
    fn entry(&mut self, path: &Path, rel: &[u8]) -> Result<bool, ArchiveError> {
        let meta = fs::symlink_metadata(path).map_err(io_err("inspect", path))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_symlink() {
            Kind::Symlink(
                fs::read_link(path)
                    .map_err(io_err("read link", path))?
                    .into_os_string()
                    .into_vec(),
            )
        } else if ft.is_char_device() {
            let (major, minor) = dev_numbers(meta.rdev());
            Kind::Char { major, minor }
        } else if ft.is_block_device() {
            let (major, minor) = dev_numbers(meta.rdev());
            Kind::Block { major, minor }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            // Ref: moby pkg/archive addTarFile skips sockets.
            self.stats.skipped.push(format!(
                "{}: sockets are not archived",
                String::from_utf8_lossy(rel)
            ));
            return Ok(false);
        };
        let (uid, gid) = self
            .opts
            .owner
            .unwrap_or((u64::from(meta.uid()), u64::from(meta.gid())));
        let mut entry = Entry {
            name: rel.to_vec(),
            kind,
            mode: meta.mode() & 0o7777,
            uid,
            gid,
            mtime: self.opts.mtime.apply(meta.mtime()),
            size: 0,
            xattrs: Vec::new(),
        };
        if self.opts.xattrs {
            entry.xattrs = list_xattrs(path).map_err(io_err("read extended attributes of", path))?;
        }
        if entry.kind == Kind::File && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                entry.kind = Kind::Hardlink(first.clone());
                entry.xattrs.clear();
            } else {
                self.links.insert(key, rel.to_vec());
            }
        }
        let what = || format!("write layer tar entry `{}`", String::from_utf8_lossy(rel));
        if entry.kind == Kind::File {
            entry.size = meta.len();
            let mut f = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .map_err(io_err("open", path))?;
            self.tar
                .append(&entry, Some(&mut f))
                .map_err(stream_err(what()))?;
        } else {
            self.tar.append(&entry, None).map_err(stream_err(what()))?;
        }
        self.stats.entries += 1;
        Ok(ft.is_dir())
    }
}

trait IntoVec {
    fn into_vec(self) -> Vec<u8>;
}

impl IntoVec for std::ffi::OsString {
    fn into_vec(self) -> Vec<u8> {
        std::os::unix::ffi::OsStringExt::into_vec(self)
    }
}

/// glibc's `major()`/`minor()` for a 64-bit `dev_t`.
fn dev_numbers(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Every extended attribute of `path` (not following a symlink), sorted by name. A filesystem
/// without xattr support has none.
fn list_xattrs(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    let mut names = vec![0u8; 1024];
    let len = loop {
        // SAFETY: `c` is NUL-terminated and `names` is writable for its length.
        let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) => names.resize(names.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(e),
        }
    };
    let mut out = Vec::new();
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name)?;
        let mut value = vec![0u8; 256];
        loop {
            // SAFETY: both strings are NUL-terminated; `value` is writable for its length.
            let n = unsafe {
                libc::lgetxattr(c.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len())
            };
            if n >= 0 {
                value.truncate(n as usize);
                out.push((name.to_vec(), value));
                break;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ERANGE) => value.resize(value.len() * 4, 0),
                // Removed between list and get.
                Some(libc::ENODATA) => break,
                _ => return Err(e),
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Counts and hashes what passes through (the uncompressed tar: its diff ID).
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Stores the uncompressed tar that `produce` writes as a layer blob, compressed as asked (gzip
/// in parallel at `gzip_level`; zstd at level 3), hashing the tar (diff ID) and the blob in the
/// same pass. `what` names the layer in errors.
pub fn store_tar_with(
    store: &ContentStore,
    compression: Compression,
    gzip_level: u32,
    what: &str,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), ArchiveError>,
) -> Result<LayerBlob, ArchiveError> {
    let writer = store.writer(None, None)?;
    let werr = || stream_err(format!("store layer {what}"));
    let (blob_writer, diff_id, size, media_type) = match compression {
        Compression::Gzip => {
            let mut h = Hashing {
                inner: GzipWriter::new(writer, gzip_level),
                hasher: Hasher::sha256(),
            };
            produce(&mut h)?;
            let size = h.hasher.bytes_written();
            let w = h.inner.finish().map_err(werr())?;
            (w, h.hasher.finish(), size, OCI_LAYER_TAR_GZIP)
        }
        Compression::Zstd => {
            let mut h = Hashing {
                inner: zstd::stream::write::Encoder::new(writer, 3).map_err(werr())?,
                hasher: Hasher::sha256(),
            };
            produce(&mut h)?;
            let size = h.hasher.bytes_written();
            let w = h.inner.finish().map_err(werr())?;
            (w, h.hasher.finish(), size, OCI_LAYER_TAR_ZSTD)
        }
        Compression::None | Compression::Auto => {
            let mut h = Hashing {
                inner: writer,
                hasher: Hasher::sha256(),
            };
            produce(&mut h)?;
            let size = h.hasher.bytes_written();
            (h.inner, h.hasher.finish(), size, OCI_LAYER_TAR)
        }
    };
    let blob_size = blob_writer.offset();
    let digest = blob_writer.commit()?;
    let mut descriptor = Descriptor::for_bytes(media_type, b"");
    descriptor.digest = digest;
    descriptor.size = blob_size as i64;
    Ok(LayerBlob {
        descriptor,
        diff_id,
        size,
    })
}

/// Archives `dir` ([`write_dir_tar`]) straight into the store as a layer blob.
pub fn store_dir(
    store: &ContentStore,
    dir: &Path,
    compression: Compression,
    opts: &LayerOptions,
) -> Result<LayerBlob, ArchiveError> {
    store_tar_with(
        store,
        compression,
        opts.gzip_level,
        &format!("of `{}`", dir.display()),
        |w| write_dir_tar(dir, w, opts).map(|_| ()),
    )
}
