//! The first stage of the pipeline: read the compressed layer, decompress it and hash the tar on
//! a thread of its own, handing the tar to the extracting thread in large chunks over a bounded
//! channel (so decompression and file creation overlap, and memory stays bounded).

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use crate::digest::{Digest, Hasher};

use super::{Compression, UnpackError};

/// Size of each chunk of tar handed over; large, so each hand-off is amortised over much work.
const CHUNK: usize = 1 << 20;
/// Chunks in flight: decompression may run this far ahead of extraction.
const DEPTH: usize = 4;
/// Read size on the compressed input.
const INPUT_BUFFER: usize = 256 << 10;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";

/// What the first stage reports when the stream ends.
#[derive(Debug)]
pub(super) struct Decoded {
    pub compressed_size: u64,
    pub compression: Compression,
}

/// The compression of a stream that starts with `magic`. Ref: moby pkg/archive `DetectCompression`;
/// containerd archive/compression `DetectCompression`.
pub(super) fn detect(magic: &[u8]) -> Result<Compression, UnpackError> {
    if magic.starts_with(GZIP_MAGIC) {
        Ok(Compression::Gzip)
    } else if magic.starts_with(ZSTD_MAGIC) {
        Ok(Compression::Zstd)
    } else if magic.starts_with(XZ_MAGIC) {
        Err(UnpackError::UnsupportedCompression("xz"))
    } else if magic.starts_with(BZIP2_MAGIC) && magic.len() > 3 && magic[3].is_ascii_digit() {
        Err(UnpackError::UnsupportedCompression("bzip2"))
    } else {
        Ok(Compression::None)
    }
}

/// Counts the compressed bytes and remembers whether the input itself (not the decoder) failed.
struct Counting<'a, R> {
    inner: R,
    count: &'a Cell<u64>,
    failed: &'a Cell<bool>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count.set(self.count.get() + n as u64);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed.set(true);
                }
                Err(e)
            }
        }
    }
}

/// A full chunk: the buffer and how much of it holds data.
type Chunk = (Vec<u8>, usize);

/// Runs the first stage on the current thread until the input ends, the consumer hangs up, or
/// something fails. A failure is also sent down the channel so the consumer stops at once.
pub(super) fn run<R: Read>(
    reader: R,
    compression: Compression,
    tx: SyncSender<io::Result<Chunk>>,
    recycled: Receiver<Vec<u8>>,
) -> Result<Decoded, UnpackError> {
    let count = Cell::new(0);
    let failed = Cell::new(false);
    let mut input = Counting {
        inner: reader,
        count: &count,
        failed: &failed,
    };

    // Sniff the magic even when told the compression: a mismatch is refused by name rather than
    // surfacing as a corrupt stream. (Docker always sniffs; `Auto` does that.)
    let mut magic = [0u8; 6];
    let mut have = 0;
    while have < magic.len() {
        match input.read(&mut magic[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(send_error(&tx, UnpackError::Read { error: e })),
        }
    }
    let detected = detect(&magic[..have]).map_err(|e| send_error(&tx, e))?;
    let compression = match compression {
        Compression::Auto => detected,
        declared if declared == detected => declared,
        declared => {
            let e = UnpackError::CompressionMismatch {
                declared,
                found: detected,
            };
            return Err(send_error(&tx, e));
        }
    };
    let source = BufReader::with_capacity(INPUT_BUFFER, io::Cursor::new(magic[..have].to_vec()).chain(input));
    let mut decoder: Box<dyn Read + '_> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Compression::Zstd => {
            let dec = zstd::stream::read::Decoder::with_buffer(source).map_err(|e| {
                send_error(
                    &tx,
                    UnpackError::Decompress {
                        compression: "zstd",
                        error: e,
                    },
                )
            })?;
            Box::new(dec)
        }
        Compression::None | Compression::Auto => Box::new(source),
    };

    loop {
        let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let mut n = 0;
        while n < buf.len() {
            match decoder.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let err = if failed.get() {
                        UnpackError::Read { error: e }
                    } else {
                        UnpackError::Decompress {
                            compression: compression.name(),
                            error: e,
                        }
                    };
                    return Err(send_error(&tx, err));
                }
            }
        }
        if n == 0 {
            break;
        }
        if tx.send(Ok((buf, n))).is_err() {
            // The consumer failed and hung up; its error is the one to report.
            return Err(UnpackError::Cancelled);
        }
    }
    drop(decoder);
    Ok(Decoded {
        compressed_size: count.get(),
        compression,
    })
}

/// Tells the consumer the stream broke (the detailed error travels back through the join).
fn send_error(tx: &SyncSender<io::Result<Chunk>>, e: UnpackError) -> UnpackError {
    let _ = tx.send(Err(io::Error::other("layer stream failed")));
    e
}

/// The consumer's end: a `Read` over the chunks, returning each buffer for reuse once drained.
/// It hashes each chunk as it arrives: the first stage is the slower one (inflate), so the hash
/// runs on the extracting thread, which mostly waits on syscalls.
pub(super) struct ChunkReader {
    hasher: Hasher,
    rx: Receiver<io::Result<Chunk>>,
    recycle: Sender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

/// The channel pair joining the two stages.
pub(super) fn channel() -> (SyncSender<io::Result<Chunk>>, Receiver<Vec<u8>>, ChunkReader) {
    let (tx, rx) = mpsc::sync_channel(DEPTH);
    let (recycle, recycled) = mpsc::channel();
    (
        tx,
        recycled,
        ChunkReader {
            hasher: Hasher::sha256(),
            rx,
            recycle,
            cur: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
        },
    )
}

impl ChunkReader {
    /// The sha256 of every byte received, and their number. Call after reading to the end.
    pub(super) fn finish(self) -> (Digest, u64) {
        let size = self.hasher.bytes_written();
        (self.hasher.finish(), size)
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok((chunk, len))) => {
                    self.hasher.update(&chunk[..len]);
                    let old = std::mem::replace(&mut self.cur, chunk);
                    if !old.is_empty() {
                        let _ = self.recycle.send(old);
                    }
                    self.len = len;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]).unwrap(), Compression::Gzip);
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(detect(b"usr/").unwrap(), Compression::None);
        assert_eq!(detect(b"").unwrap(), Compression::None);
        assert!(matches!(
            detect(XZ_MAGIC),
            Err(UnpackError::UnsupportedCompression("xz"))
        ));
        assert!(matches!(
            detect(b"BZh91AY"),
            Err(UnpackError::UnsupportedCompression("bzip2"))
        ));
    }
}
