//! Ingest: streaming bytes into the store, hashing on the way, and committing them as a blob.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::{Algorithm, Digest, Hasher};

use super::{io_err, ContentStore, StoreError};

/// Bytes gathered before a write to the ingest file.
const BUFFER: usize = 256 << 10;

/// Takes an exclusive, non-blocking flock; false when someone else holds it.
pub(super) fn try_lock(fd: RawFd) -> io::Result<bool> {
    loop {
        // SAFETY: plain syscall on a descriptor the caller keeps open.
        let r = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// The ingest file name for a known digest: `sha256-<hex>`.
fn keyed_name(d: &Digest) -> String {
    format!("{}-{}", d.algorithm().as_str(), d.encoded())
}

/// The digest a keyed ingest file name stands for.
pub(super) fn keyed_digest(name: &str) -> Option<Digest> {
    let (alg, hex) = name.split_once('-')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

/// A unique temp name: pid for other processes, a counter for other threads.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An ingest in progress. Write the blob's bytes into it, then [`commit`](Writer::commit).
/// Dropping it (or a failed commit) removes its file; [`suspend`](Writer::suspend) keeps a keyed
/// ingest for a later resume, as a crash does.
#[derive(Debug)]
pub struct Writer {
    store: ContentStore,
    file: File,
    path: PathBuf,
    hasher: Hasher,
    expected: Option<Digest>,
    expected_size: Option<u64>,
    /// Bytes accepted (written to the file or waiting in `buf`).
    offset: u64,
    buf: Vec<u8>,
    resumable: bool,
    /// Set once the file is committed or deliberately kept: Drop leaves it alone.
    done: bool,
}

impl Writer {
    pub(super) fn start(
        store: &ContentStore,
        expected: Option<Digest>,
        expected_size: Option<u64>,
    ) -> Result<Writer, StoreError> {
        let alg = expected
            .as_ref()
            .map(|d| d.algorithm())
            .unwrap_or(Algorithm::Sha256);
        let keyed = match &expected {
            Some(d) => open_keyed(store.ingest_dir(), d)?,
            None => None,
        };
        let (file, path, resumable) = match keyed {
            Some((file, path)) => (file, path, true),
            None => {
                let (file, path) = open_temp(store.ingest_dir())?;
                (file, path, false)
            }
        };
        let mut w = Writer {
            store: store.clone(),
            file,
            path,
            hasher: Hasher::new(alg),
            expected,
            expected_size,
            offset: 0,
            buf: Vec::new(),
            resumable,
            done: false,
        };
        if resumable {
            w.rehash()?;
        }
        Ok(w)
    }

    /// Re-reads what a previous writer of this digest left, so the hash continues from there.
    fn rehash(&mut self) -> Result<(), StoreError> {
        let len = self.file.metadata().map_err(io_err("inspect", &self.path))?.len();
        if self.expected_size.is_some_and(|s| len > s) {
            // Longer than the blob can be: useless, start over.
            return self.reset();
        }
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &self.path))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut read = 0u64;
        while read < len {
            let n = match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", &self.path)(e)),
            };
            self.hasher.update(&buf[..n]);
            read += n as u64;
        }
        self.offset = read;
        self.file
            .seek(SeekFrom::Start(read))
            .map_err(io_err("seek", &self.path))?;
        Ok(())
    }

    /// Where the next byte goes: 0 for a new ingest, the bytes kept for a resumed one.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The digest this ingest must have, if announced.
    pub fn expected(&self) -> Option<&Digest> {
        self.expected.as_ref()
    }

    /// Starts over from byte 0 (when the server ignored a `Range` request and sent everything).
    pub fn reset(&mut self) -> Result<(), StoreError> {
        self.buf.clear();
        self.file.set_len(0).map_err(io_err("truncate", &self.path))?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &self.path))?;
        self.hasher = Hasher::new(self.hasher.algorithm());
        self.offset = 0;
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn what(&self) -> String {
        match &self.expected {
            Some(d) => d.to_string(),
            None => self.path.display().to_string(),
        }
    }

    /// Verifies size and digest and makes the bytes a blob. Returns the digest. If the blob is
    /// already there (another writer won the race), this ingest is discarded and that is success.
    pub fn commit(mut self) -> Result<Digest, StoreError> {
        let result = self.commit_inner();
        if result.is_err() {
            self.discard();
        }
        result
    }

    fn commit_inner(&mut self) -> Result<Digest, StoreError> {
        self.flush_buf().map_err(io_err("write", &self.path))?;
        if let Some(size) = self.expected_size {
            if self.offset != size {
                return Err(StoreError::SizeMismatch {
                    what: self.what(),
                    expected: size,
                    actual: self.offset,
                });
            }
        }
        let actual = std::mem::replace(&mut self.hasher, Hasher::sha256()).finish();
        if let Some(expected) = &self.expected {
            if *expected != actual {
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let target = self.store.blob_path(&actual);
        if let Ok(m) = fs::metadata(&target) {
            if m.len() == self.offset {
                self.discard();
                return Ok(actual);
            }
        }
        self.file.sync_all().map_err(io_err("sync", &self.path))?;
        self.file
            .set_permissions(fs::Permissions::from_mode(0o444))
            .map_err(io_err("change mode of", &self.path))?;
        let dir = target.parent().expect("blob paths have a parent");
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .create(dir)
                .map_err(io_err("create directory", dir))?;
        }
        // The rename is the commit point. The lock travels with the inode and is released when
        // `self.file` closes.
        fs::rename(&self.path, &target).map_err(io_err("rename ingest into", &target))?;
        self.done = true;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", dir))?;
        Ok(actual)
    }

    /// Closes the ingest but keeps its bytes for a later [`ContentStore::writer`] of the same
    /// digest to resume from. Returns the offset kept. An ingest without an expected digest cannot
    /// be resumed and is removed (0).
    pub fn suspend(mut self) -> Result<u64, StoreError> {
        if !self.resumable {
            self.discard();
            return Ok(0);
        }
        self.flush_buf().map_err(io_err("write", &self.path))?;
        self.done = true;
        Ok(self.offset)
    }

    fn discard(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
            self.done = true;
        }
    }
}

impl Write for Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(size) = self.expected_size {
            if self.offset + data.len() as u64 > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob `{}` is longer than its expected {size} bytes", self.what()),
                ));
            }
        }
        self.hasher.update(data);
        self.offset += data.len() as u64;
        if self.buf.len() + data.len() > BUFFER {
            self.flush_buf()?;
        }
        if data.len() >= BUFFER {
            self.file.write_all(data)?;
        } else {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(BUFFER);
            }
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    /// Pushes buffered bytes to the file (not to disk: that is the commit's fsync).
    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Opens and locks `ingest/<alg>-<hex>`, or `None` when another live writer holds it.
fn open_keyed(dir: &Path, d: &Digest) -> Result<Option<(File, PathBuf)>, StoreError> {
    let path = dir.join(keyed_name(d));
    loop {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err("open ingest", &path))?;
        if !try_lock(file.as_raw_fd()).map_err(io_err("lock", &path))? {
            return Ok(None);
        }
        // Between open and lock, the previous holder may have committed (renamed the file into
        // blobs/) or discarded it: then our descriptor is not the file at `path` any more, and
        // writing to it would corrupt a blob. Only a lock on the inode still at `path` counts.
        if still_at(&file, &path).map_err(io_err("inspect", &path))? {
            return Ok(Some((file, path)));
        }
    }
}

/// Whether `file` is still the file at `path` (not renamed away or unlinked since it was opened).
pub(super) fn still_at(file: &File, path: &Path) -> io::Result<bool> {
    let ours = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.ino() == ours.ino() && now.dev() == ours.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates and locks a fresh `ingest/tmp-*` file.
fn open_temp(dir: &Path) -> Result<(File, PathBuf), StoreError> {
    loop {
        let path = dir.join(temp_name());
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => f,
            // A name left by an earlier process with our pid: pick the next.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create ingest", &path)(e)),
        };
        try_lock(file.as_raw_fd()).map_err(io_err("lock", &path))?;
        return Ok((file, path));
    }
}
