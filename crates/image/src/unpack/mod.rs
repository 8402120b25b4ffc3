//! Layer extraction: a (compressed) layer tar → a directory, with Docker's and containerd's tar
//! semantics, and the tar's sha256 (the layer's diff ID) computed on the way.
//!
//! ```text
//!  reader ──▶ [thread: read · gunzip/unzstd · sha256] ══ 1 MiB chunks, 4 in flight ══▶ [caller: tar → files]
//! ```
//!
//! Safety: nothing outside the destination is ever written. Names are cleaned lexically and a `..`
//! that climbs above the root is an error; every parent directory is opened beneath the root's
//! descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (or a walk with `O_NOFOLLOW` on
//! each component where openat2 is missing), so a symlink in a parent, whether planted by the layer
//! or already in the destination, is refused, never followed; every node is then created by a
//! single name relative to that descriptor, and files with `O_NOFOLLOW | O_EXCL`. Hard-link targets
//! go through the same resolution. Unlike Docker, which extracts in a chroot and so follows such
//! symlinks within the root, an entry under a symlink is an error: tars written from a filesystem
//! never contain one.
//!
//! Atomicity: when the destination does not exist, extraction goes to a sibling `<dest>.tmp-<id>`
//! that is renamed into place on success and removed on failure, so a layer directory exists whole
//! or not at all (after a crash, [`remove_stale`] clears leftovers). When it exists already (a
//! flattened root filesystem being applied to), extraction happens in place and a failure leaves
//! what was written so far for the caller to remove.

mod decompress;
mod extract;
mod name;
mod sparse;
mod sys;

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::Digest;

/// How the layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Decide from the magic bytes: gzip, zstd, or a plain tar.
    #[default]
    Auto,
    /// A plain tar.
    None,
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`), including multi-member streams.
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
}

impl Compression {
    /// "gzip-compressed", "uncompressed": for messages.
    fn describe(self) -> &'static str {
        match self {
            Compression::Auto => "of unknown compression",
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip-compressed",
            Compression::Zstd => "zstd-compressed",
        }
    }

    /// The name used in messages and media types.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Auto => "auto",
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// What to do with OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutMode {
    /// The layer gets a directory of its own, to be an overlayfs lower layer: `.wh.<name>` becomes a
    /// 0:0 character device `<name>`, and `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its
    /// directory. Ref: containerd archive `OverlayConvertWhiteout`.
    #[default]
    Overlay,
    /// The layer is applied on top of the layers below in the same directory (flattening, import,
    /// export): `.wh.<name>` deletes `<name>`, and `.wh..wh..opq` deletes whatever in its directory
    /// this layer did not create.
    Apply,
}

/// How to unpack.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// The layer's compression: `Auto` sniffs it (as Docker does, whatever the media type says);
    /// anything else must match the data.
    pub compression: Compression,
    /// Overlay (a layer directory of its own) or Apply (onto the layers below).
    pub whiteouts: WhiteoutMode,
    /// Give entries the owners the tar names (lchown). Defaults to true when running as root,
    /// as `tar --same-owner` does.
    pub chown: bool,
    /// Flush the filesystem (syncfs) before the layer directory is renamed into place, so that
    /// after a power loss it is either whole or absent. Only for a destination that did not exist.
    pub durable: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            compression: Compression::Auto,
            whiteouts: WhiteoutMode::Overlay,
            chown: sys::geteuid() == 0,
            durable: true,
        }
    }
}

/// What an unpack produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// sha256 of the uncompressed tar: the layer's diff ID (the image config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub size: u64,
    /// Bytes read from the input.
    pub compressed_size: u64,
    /// The compression found (or given).
    pub compression: Compression,
    /// Tar entries applied (extension headers not counted).
    pub entries: u64,
    /// What was left out and why: device nodes without privilege, xattrs the filesystem refused.
    pub skipped: Vec<String>,
}

/// Why a layer could not be unpacked. Entries are named as the tar writes them.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry `{entry}` escapes the layer directory")]
    Escape { entry: String },

    #[error("layer entry `{entry}` is a hard link to `{target}`, which escapes the layer directory")]
    LinkEscape { entry: String, target: String },

    #[error("layer entry `{entry}` lies under `{component}`, a symbolic link; refusing to follow it")]
    ThroughSymlink { entry: String, component: String },

    #[error(
        "layer entry `{entry}` is a hard link through `{target}`, a symbolic link; refusing to follow it"
    )]
    LinkThroughSymlink { entry: String, target: String },

    #[error("layer entry `{entry}` lies under `{component}`, which is not a directory")]
    NotADirectory { entry: String, component: String },

    #[error("layer entry `{entry}` is a hard link to `{target}`, which is not in the layer")]
    LinkTargetMissing { entry: String, target: String },

    #[error("layer entry `{entry}` is not a valid whiteout")]
    InvalidWhiteout { entry: String },

    #[error("layer entry `{entry}` has unsupported type {kind}")]
    UnsupportedType { entry: String, kind: String },

    #[error("layer entry `{entry}` has a path longer than {max} bytes")]
    NameTooLong { entry: String, max: usize },

    #[error("layer entry `{entry}` has a bad header: {detail}")]
    BadHeader { entry: String, detail: String },

    #[error("cannot {op} layer entry `{entry}`: {error}")]
    Entry {
        op: &'static str,
        entry: String,
        error: io::Error,
    },

    #[error("cannot set xattr `{key}` on layer entry `{entry}`: {error}")]
    Xattr {
        entry: String,
        key: String,
        error: io::Error,
    },

    #[error("malformed layer tar after {entries} entries: {error}")]
    Tar { entries: u64, error: io::Error },

    #[error("cannot read layer stream: {error}")]
    Read { error: io::Error },

    #[error("cannot decompress layer ({compression}): {error}")]
    Decompress {
        compression: &'static str,
        error: io::Error,
    },

    #[error("unsupported layer compression: {0}")]
    UnsupportedCompression(&'static str),

    #[error("layer declared {} is {}", .declared.describe(), .found.describe())]
    CompressionMismatch {
        declared: Compression,
        found: Compression,
    },

    #[error("cannot unpack into `{}`: it exists and is not a directory", .0.display())]
    NotADirectoryDest(PathBuf),

    #[error("cannot {op} `{}`: {error}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },

    /// The extracting side stopped first; its own error is the one reported.
    #[error("layer extraction cancelled")]
    Cancelled,
}

impl UnpackError {
    /// True when the layer itself is at fault (malicious, malformed or unsupported), as opposed to
    /// the machine (disk full, permissions, I/O): the former is the image's InvalidArgument.
    pub fn is_bad_layer(&self) -> bool {
        use UnpackError::*;
        match self {
            Escape { .. }
            | LinkEscape { .. }
            | ThroughSymlink { .. }
            | LinkThroughSymlink { .. }
            | NotADirectory { .. }
            | LinkTargetMissing { .. }
            | InvalidWhiteout { .. }
            | UnsupportedType { .. }
            | NameTooLong { .. }
            | BadHeader { .. }
            | Tar { .. }
            | Decompress { .. }
            | UnsupportedCompression(_)
            | CompressionMismatch { .. } => true,
            Entry { .. } | Xattr { .. } | Read { .. } | NotADirectoryDest(_) | Io { .. } | Cancelled => false,
        }
    }
}

/// Unpacks a layer into `dest` with overlay whiteouts; see [`unpack_with`].
pub fn unpack<R: Read + Send>(
    reader: R,
    compression: Compression,
    dest: &Path,
) -> Result<UnpackStats, UnpackError> {
    unpack_with(
        reader,
        dest,
        &UnpackOptions {
            compression,
            ..UnpackOptions::default()
        },
    )
}

/// Unpacks a layer into `dest`. When `dest` does not exist it appears only on success (see the
/// module documentation); when it is an existing directory the layer is applied to it in place.
/// Blocking: it runs the extraction on the calling thread and decompression on a scoped thread
/// (from async code, call it in `spawn_blocking`).
pub fn unpack_with<R: Read + Send>(
    reader: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            let root = open_root(dest)?;
            return run(reader, root, opts);
        }
        Ok(_) => return Err(UnpackError::NotADirectoryDest(dest.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("inspect", dest)(e)),
    }

    let tmp = temp_sibling(dest);
    fs::DirBuilder::new()
        .mode(0o755)
        .create(&tmp)
        .map_err(io_err("create directory", &tmp))?;
    let result = (|| {
        let root = open_root(&tmp)?;
        // Umask-proof: a layer root without its own `./` entry is 0755, as Docker makes it.
        sys::fchmod(root.as_fd(), 0o755).map_err(io_err("change mode of", &tmp))?;
        let stats = run(
            reader,
            root.try_clone()
                .map_err(io_err("duplicate descriptor of", &tmp))?,
            opts,
        )?;
        if opts.durable {
            sys::syncfs(root.as_fd()).map_err(io_err("sync filesystem of", &tmp))?;
        }
        fs::rename(&tmp, dest).map_err(io_err("rename layer directory into", dest))?;
        if opts.durable {
            let parent = parent_dir(dest);
            let dir = fs::File::open(parent).map_err(io_err("open", parent))?;
            dir.sync_all().map_err(io_err("sync directory", parent))?;
        }
        Ok(stats)
    })();
    if result.is_err() {
        // Best effort: the extraction error is the one that matters.
        let _ = remove_tree(&tmp);
    }
    result
}

/// remove_dir_all, giving directories back their owner's rwx first if needed: unprivileged, a
/// directory the layer made read-only (0555) cannot be emptied otherwise.
fn remove_tree(path: &Path) -> io::Result<()> {
    fn open_up(dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            // DirEntry::file_type does not follow symlinks: only real directories are visited.
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&e.path());
            }
        }
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            open_up(path);
            fs::remove_dir_all(path)
        }
        r => r,
    }
}

/// Removes the temporary directories (`<dest>.tmp-*`) that an unpack interrupted by a crash left
/// next to `dest`. Returns how many were removed. Call it only when no unpack into `dest` runs.
pub fn remove_stale(dest: &Path) -> io::Result<usize> {
    let Some(name) = dest.file_name() else {
        return Ok(0);
    };
    let parent = parent_dir(dest);
    let mut prefix = name.as_bytes().to_vec();
    prefix.extend_from_slice(b".tmp-");
    let mut removed = 0;
    for ent in fs::read_dir(parent)? {
        let ent = ent?;
        if ent.file_name().as_bytes().starts_with(&prefix) {
            remove_tree(&ent.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The directory holding `path` (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn open_root(dir: &Path) -> Result<OwnedFd, UnpackError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|error| UnpackError::Io {
            op: "open",
            path: dir.to_path_buf(),
            error,
        })?;
    Ok(OwnedFd::from(file))
}

/// `<dest>.tmp-<pid>-<n>`: unique within the process by counter, across processes by pid.
fn temp_sibling(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = OsString::from(dest.file_name().unwrap_or_default());
    name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    dest.with_file_name(name)
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> UnpackError + 'a {
    move |error| UnpackError::Io {
        op,
        path: path.to_path_buf(),
        error,
    }
}

/// The pipeline: decompression on a scoped thread, extraction here.
fn run<R: Read + Send>(reader: R, root: OwnedFd, opts: &UnpackOptions) -> Result<UnpackStats, UnpackError> {
    let (tx, recycled, chunks) = decompress::channel();
    let compression = opts.compression;
    std::thread::scope(|scope| {
        let first = std::thread::Builder::new()
            .name("layer-decompress".into())
            .spawn_scoped(scope, move || decompress::run(reader, compression, tx, recycled))
            .map_err(|error| UnpackError::Io {
                op: "spawn",
                path: "decompression thread".into(),
                error,
            })?;

        let mut extractor = extract::Extractor::new(root, opts.whiteouts, opts.chown);
        let extracted = extract_all(chunks, &mut extractor);
        let decoded = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A failure of the first stage explains a broken tar stream better than the tar error.
        let ((diff_id, size), decoded) = match (extracted, decoded) {
            (Ok(hashed), Ok(d)) => (hashed, d),
            (Ok(_), Err(e)) => return Err(e),
            (Err(UnpackError::Tar { .. }), Err(e)) if !matches!(e, UnpackError::Cancelled) => return Err(e),
            (Err(e), _) => return Err(e),
        };
        Ok(UnpackStats {
            diff_id,
            size,
            compressed_size: decoded.compressed_size,
            compression: decoded.compression,
            entries: extractor.tally.entries,
            skipped: std::mem::take(&mut extractor.tally.skipped),
        })
    })
}

/// Applies every entry, then drains the stream (the bytes after the end-of-archive blocks belong to
/// the diff ID too), then sets directory times. Returns the tar's digest and size.
fn extract_all(
    chunks: decompress::ChunkReader,
    extractor: &mut extract::Extractor,
) -> Result<(Digest, u64), UnpackError> {
    let mut archive = tar::Archive::new(chunks);
    {
        let entries = archive
            .entries()
            .map_err(|error| UnpackError::Tar { entries: 0, error })?;
        for entry in entries {
            let mut entry = entry.map_err(|error| UnpackError::Tar {
                entries: extractor.tally.entries,
                error,
            })?;
            extractor.entry(&mut entry)?;
        }
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|error| UnpackError::Tar {
        entries: extractor.tally.entries,
        error,
    })?;
    extractor.finish()?;
    Ok(rest.finish())
}
