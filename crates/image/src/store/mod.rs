//! The content store: blobs (layers, configs, manifests) addressed by digest, verified on write.
//!
//! containerd's shape: a provider (read: [`ContentStore::open_blob`], [`read_all`], [`info`],
//! [`exists`]), an ingester ([`ContentStore::writer`] → [`Writer`] → [`Writer::commit`]) and a
//! manager ([`list`], [`delete`], [`fsck`], [`clean_ingest`]).
//!
//! ```text
//! <root>/blobs/<algorithm>/<hex>      committed blobs, read-only (0444), content == name
//! <root>/ingest/<algorithm>-<hex>     a resumable ingest of a known digest: its bytes so far
//! <root>/ingest/tmp-<pid>-<n>         an ingest of unknown digest, or a second concurrent one
//! ```
//!
//! Every ingest file is held with an exclusive `flock` while its writer lives, so another process
//! can tell a live ingest from one left by a crash: the kernel drops the lock when the holder dies.
//! A commit verifies size and digest, fsyncs the data, renames the ingest file into `blobs/` (an
//! atomic step: a blob exists whole or not at all) and fsyncs the directory. `kill -9` at any moment
//! leaves complete blobs plus ingest files; [`fsck`] tells resumable partials from orphans, and
//! [`clean_ingest`] removes the orphans.
//!
//! [`read_all`]: ContentStore::read_all
//! [`info`]: ContentStore::info
//! [`exists`]: ContentStore::exists
//! [`list`]: ContentStore::list
//! [`delete`]: ContentStore::delete
//! [`fsck`]: ContentStore::fsck
//! [`clean_ingest`]: ContentStore::clean_ingest

mod writer;

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::digest::{Algorithm, Digest, Hasher};

pub use writer::Writer;

/// Why a store operation failed. Every message names the blob or the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No blob with this digest.
    #[error("blob `{0}` not found")]
    NotFound(Digest),

    /// The bytes written do not hash to the digest they were announced with.
    #[error("blob digest mismatch: expected `{expected}`, got `{actual}`")]
    DigestMismatch { expected: Digest, actual: Digest },

    /// More or fewer bytes than announced.
    #[error("blob size mismatch for `{what}`: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    /// A filesystem operation failed.
    #[error("cannot {op} `{}`: {error}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

impl StoreError {
    /// True for [`StoreError::NotFound`] (HTTP 404 at the API).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound(_))
    }

    /// True when the content was wrong (digest or size), as opposed to the machine failing.
    pub fn is_invalid_content(&self) -> bool {
        matches!(
            self,
            StoreError::DigestMismatch { .. } | StoreError::SizeMismatch { .. }
        )
    }
}

pub(crate) fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |error| StoreError::Io {
        op,
        path: path.to_path_buf(),
        error,
    }
}

/// A blob that does not hash to its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptBlob {
    pub digest: Digest,
    pub actual: Digest,
    pub path: PathBuf,
}

/// An ingest left by a writer that is gone, resumable from `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialIngest {
    pub digest: Digest,
    pub size: u64,
    pub path: PathBuf,
}

/// What [`ContentStore::fsck`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// Blobs checked.
    pub blobs: usize,
    /// Blobs whose content does not match their name.
    pub corrupt: Vec<CorruptBlob>,
    /// Files under `blobs/` that are not named as a digest (nothing berth writes).
    pub stray: Vec<PathBuf>,
    /// Ingest files of dead writers that cannot be resumed (unknown digest).
    pub orphans: Vec<PathBuf>,
    /// Ingest files of dead writers of a known digest: a pull can resume from them.
    pub resumable: Vec<PartialIngest>,
    /// Ingests whose writer is alive (locked), left alone.
    pub active: usize,
}

impl FsckReport {
    /// No corrupt blob, no stray file, no orphan ingest (resumable partials are fine).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.stray.is_empty() && self.orphans.is_empty()
    }
}

/// A content store rooted at one directory; cheap to clone, safe to share between threads and
/// processes (all coordination is through the filesystem).
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
    blobs: PathBuf,
    ingest: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<ContentStore, StoreError> {
        let root = root.into();
        let blobs = root.join("blobs");
        let ingest = root.join("ingest");
        let sha256 = blobs.join(Algorithm::Sha256.as_str());
        for dir in [&sha256, &ingest] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create directory", dir))?;
        }
        Ok(ContentStore { root, blobs, ingest })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs
            .join(digest.algorithm().as_str())
            .join(digest.encoded())
    }

    /// Opens the blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| self.not_found_or(digest, "open", &path, e))
    }

    /// The whole blob in memory (for manifests and configs; stream layers with [`open_blob`]).
    ///
    /// [`open_blob`]: ContentStore::open_blob
    pub fn read_all(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| self.not_found_or(digest, "read", &path, e))
    }

    /// The blob's size in bytes.
    pub fn info(&self, digest: &Digest) -> Result<u64, StoreError> {
        let path = self.blob_path(digest);
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| self.not_found_or(digest, "inspect", &path, e))
    }

    /// Whether the blob is present.
    pub fn exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        let path = self.blob_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("inspect", &path)(e)),
        }
    }

    /// Removes the blob. NotFound when it is not there.
    pub fn delete(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.blob_path(digest);
        fs::remove_file(&path).map_err(|e| self.not_found_or(digest, "remove", &path, e))
    }

    /// Every blob with its size, sorted by digest.
    pub fn list(&self) -> Result<Vec<(Digest, u64)>, StoreError> {
        let mut out = Vec::new();
        self.walk_blobs(
            |digest, path| {
                let size = fs::symlink_metadata(path).map_err(io_err("inspect", path))?.len();
                out.push((digest, size));
                Ok(())
            },
            |_| Ok(()),
        )?;
        out.sort();
        Ok(out)
    }

    /// Stores `data` in one go (manifests, configs) and returns its digest. With `expected`,
    /// refuses content that does not match it.
    pub fn write_blob(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let mut w = self.writer(expected.cloned(), Some(data.len() as u64))?;
        // A partial ingest of the same digest left by a crash: the whole content is here, so
        // start over rather than append to it.
        if w.offset() > 0 {
            w.reset()?;
        }
        io::Write::write_all(&mut w, data).map_err(io_err("write ingest for", &self.ingest))?;
        w.commit()
    }

    /// Starts (or resumes) an ingest. With `expected`, the ingest is keyed by that digest: if a
    /// previous writer of it died, its bytes are kept, re-hashed, and [`Writer::offset`] says where
    /// to continue (the registry client sends `Range: bytes=<offset>-`). If another live writer
    /// holds that key, this one gets a private temp file and starts at 0; both can commit.
    pub fn writer(&self, expected: Option<Digest>, expected_size: Option<u64>) -> Result<Writer, StoreError> {
        if let Some(d) = &expected {
            let dir = self.blobs.join(d.algorithm().as_str());
            if d.algorithm() != Algorithm::Sha256 {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(io_err("create directory", &dir))?;
            }
        }
        Writer::start(self, expected, expected_size)
    }

    /// The ingests a dead writer left (resumable partials and orphans) are reported by [`fsck`];
    /// this removes orphans, and resumable partials too when `partials` is set. Live ingests are
    /// never touched. Returns the number of files removed.
    ///
    /// [`fsck`]: ContentStore::fsck
    pub fn clean_ingest(&self, partials: bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        self.scan_ingest(|_, state| {
            let remove = match state {
                IngestState::Active => false,
                IngestState::Orphan => true,
                IngestState::Resumable(_) => partials,
            };
            removed += usize::from(remove);
            remove
        })?;
        Ok(removed)
    }

    /// Checks every blob against its name and classifies the ingest files.
    pub fn fsck(&self) -> Result<FsckReport, StoreError> {
        let mut report = FsckReport::default();
        let mut buf = vec![0u8; 1 << 20];
        let mut stray = Vec::new();
        self.walk_blobs(
            |digest, path| {
                report.blobs += 1;
                let actual = hash_file(path, digest.algorithm(), &mut buf)?;
                if actual != digest {
                    report.corrupt.push(CorruptBlob {
                        digest,
                        actual,
                        path: path.to_path_buf(),
                    });
                }
                Ok(())
            },
            |path| {
                stray.push(path.to_path_buf());
                Ok(())
            },
        )?;
        report.stray = stray;
        self.scan_ingest(|path, state| {
            match state {
                IngestState::Active => report.active += 1,
                IngestState::Orphan => report.orphans.push(path.to_path_buf()),
                IngestState::Resumable(digest) => {
                    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    report.resumable.push(PartialIngest {
                        digest,
                        size,
                        path: path.to_path_buf(),
                    });
                }
            }
            false
        })?;
        report.orphans.sort();
        report.stray.sort();
        Ok(report)
    }

    fn not_found_or(&self, digest: &Digest, op: &'static str, path: &Path, e: io::Error) -> StoreError {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::NotFound(digest.clone())
        } else {
            io_err(op, path)(e)
        }
    }

    /// Calls `blob` for each file named as a digest under `blobs/`, `stray` for anything else.
    fn walk_blobs(
        &self,
        mut blob: impl FnMut(Digest, &Path) -> Result<(), StoreError>,
        mut stray: impl FnMut(&Path) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for alg in read_dir(&self.blobs)? {
            let alg_name = alg.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            if !alg.is_dir() || !matches!(alg_name.as_str(), "sha256" | "sha384" | "sha512") {
                stray(&alg)?;
                continue;
            }
            for path in read_dir(&alg)? {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                match Digest::parse(&format!("{alg_name}:{name}")) {
                    Ok(d) if path.is_file() => blob(d, &path)?,
                    _ => stray(&path)?,
                }
            }
        }
        Ok(())
    }

    /// Calls `visit` with the state of each ingest file; removes the file when it returns true.
    /// A dead writer's file is examined, and removed, while this holds its lock, so a writer
    /// resuming it at the same moment either waits its turn or finds it gone, never half-removed.
    fn scan_ingest(&self, mut visit: impl FnMut(&Path, IngestState) -> bool) -> Result<(), StoreError> {
        for path in read_dir(&self.ingest)? {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // committed meanwhile
                Err(e) => return Err(io_err("open", &path)(e)),
            };
            if !writer::try_lock(file.as_raw_fd()).map_err(io_err("lock", &path))? {
                visit(&path, IngestState::Active);
                continue;
            }
            if !writer::still_at(&file, &path).map_err(io_err("inspect", &path))? {
                continue; // committed or removed between our open and our lock
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let state = match writer::keyed_digest(name) {
                Some(d) => IngestState::Resumable(d),
                None => IngestState::Orphan,
            };
            if visit(&path, state) {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("remove", &path)(e)),
                }
            }
            drop(file); // releases the lock
        }
        Ok(())
    }

    pub(crate) fn ingest_dir(&self) -> &Path {
        &self.ingest
    }
}

enum IngestState {
    Active,
    Orphan,
    Resumable(Digest),
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut v = Vec::new();
    for ent in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        v.push(ent.map_err(io_err("read directory", dir))?.path());
    }
    v.sort();
    Ok(v)
}

fn hash_file(path: &Path, alg: Algorithm, buf: &mut [u8]) -> Result<Digest, StoreError> {
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut h = Hasher::new(alg);
    loop {
        match f.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("read", path)(e)),
        }
    }
    Ok(h.finish())
}
