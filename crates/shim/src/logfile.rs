//! Docker's json-file log: one JSON object per line of output, rotated by size.
//!
//! Lines are split on `\n` as dockerd's log copier does: a line (newline included) is one entry;
//! bytes without a newline wait in a 16 KiB buffer and are written as a partial entry (no
//! newline) when the buffer is full or the stream ends.
// Ref: moby daemon/logger/copier.go (16 KiB buffer, partial messages),
// daemon/logger/jsonfilelog/jsonfilelog.go (the newline only on complete lines),
// daemon/logger/loggerutils/logfile.go (rotation names).

use std::fs::{self, File};
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::json;
use crate::time::{self, Time};

/// dockerd's buffer for one line: longer lines are split into partial entries of this size.
pub const LINE_MAX: usize = 16 * 1024;

/// The bytes of one stream not yet ending in a newline, and the free room after them to read into.
#[derive(Debug, Default)]
pub struct LineBuf {
    buf: Vec<u8>,
}

impl LineBuf {
    /// Reads into the free room with `read` (allocated on first use, so an idle stream costs
    /// nothing) and returns how many bytes it added; `last(n)` then shows them.
    pub fn fill(
        &mut self,
        read: impl FnOnce(&mut [MaybeUninit<u8>]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.buf.capacity() < LINE_MAX {
            self.buf.reserve_exact(LINE_MAX - self.buf.len());
        }
        let len = self.buf.len();
        let room = LINE_MAX - len;
        let n = read(&mut self.buf.spare_capacity_mut()[..room])?;
        assert!(n <= room, "read reported more bytes than it was given room for");
        // SAFETY: `read` initialized the first n bytes of the spare capacity (n ≤ room, checked).
        unsafe { self.buf.set_len(len + n) };
        Ok(n)
    }

    /// The last `n` bytes added.
    pub fn last(&self, n: usize) -> &[u8] {
        &self.buf[self.buf.len() - n..]
    }

    /// Hands every complete line to `emit`, newline included, after `new` bytes were added;
    /// a full buffer without a newline goes out as a partial line.
    pub fn lines(&mut self, new: usize, mut emit: impl FnMut(&[u8])) {
        // The bytes kept from before hold no newline: search only the new ones.
        let mut start = 0;
        let mut from = self.buf.len() - new;
        while let Some(i) = self.buf[from..].iter().position(|&b| b == b'\n') {
            let end = from + i + 1;
            emit(&self.buf[start..end]);
            start = end;
            from = end;
        }
        if start == 0 && self.buf.len() == LINE_MAX {
            emit(&self.buf);
            start = LINE_MAX;
        }
        self.buf.drain(..start);
    }

    /// End of the stream: what is left goes out as a partial line, and the buffer is freed.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.buf.is_empty() {
            emit(&self.buf);
        }
        self.buf = Vec::new();
    }

    /// Appends `data`, emitting lines (the tests' way in).
    #[cfg(test)]
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while !data.is_empty() {
            let n = self
                .fill(|room| {
                    let n = room.len().min(data.len());
                    for (dst, src) in room.iter_mut().zip(&data[..n]) {
                        dst.write(*src);
                    }
                    Ok(n)
                })
                .unwrap_or(0);
            data = &data[n..];
            self.lines(n, &mut emit);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends one json-file entry: `{"log":"…","stream":"…","time":"…"}` and a newline.
pub fn push_entry(out: &mut Vec<u8>, stream: Stream, text: &[u8], t: Time) {
    out.extend_from_slice(b"{\"log\":");
    json::push_str(out, text);
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    time::push_rfc3339_nano(out, Some(t));
    out.extend_from_slice(b"\"}\n");
}

/// `FILE` for 0, `FILE.n` otherwise.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let mut s = path.as_os_str().to_os_string();
    s.push(".");
    s.push(n.to_string());
    PathBuf::from(s)
}

/// The renames of one rotation keeping `max_file` files in all: `FILE.(max-2)` → `FILE.(max-1)`,
/// …, `FILE` → `FILE.1` (as (from, to) indexes for `rotated_path`). None with one file: it is
/// truncated instead.
pub fn rotation_renames(max_file: u32) -> Vec<(u32, u32)> {
    (1..max_file).rev().map(|to| (to - 1, to)).collect()
}

/// The log file being written.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    entry: Vec<u8>,
}

impl LogFile {
    /// Opens (appends to) `path`. `max_size`: rotate before a write would take the file past
    /// it; `max_file`: files kept in all, the live one included (at least 1).
    pub fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> io::Result<LogFile> {
        let file = open_log(path, false)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            max_size,
            max_file: max_file.max(1),
            entry: Vec::new(),
        })
    }

    /// Writes one entry. A failure (full disk) loses the entry but not the next ones.
    pub fn write(&mut self, stream: Stream, text: &[u8], t: Time) {
        self.entry.clear();
        push_entry(&mut self.entry, stream, text, t);
        let len = self.entry.len() as u64;
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + len > max {
                if let Err(e) = self.rotate() {
                    crate::warn(&format!("cannot rotate log `{}`: {e}", self.path.display()));
                }
            }
        }
        if self.file.is_none() {
            // A failed rotation left no file: try again for this entry.
            self.file = open_log(&self.path, false).ok();
            self.size = self
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or(0, |m| m.len());
        }
        if let Some(f) = &mut self.file {
            if f.write_all(&self.entry).is_ok() {
                self.size += len;
            }
        }
        // An entry of a long partial line can take ~100 KiB (every byte escaped): keep only a
        // small buffer between writes.
        if self.entry.capacity() > 8192 {
            self.entry = Vec::new();
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        for (from, to) in rotation_renames(self.max_file) {
            match fs::rename(rotated_path(&self.path, from), rotated_path(&self.path, to)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.file = Some(open_log(&self.path, true)?);
        self.size = 0;
        Ok(())
    }
}

fn open_log(path: &Path, truncate: bool) -> io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.create(true).mode(0o640);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, LineBuf) {
        let mut lb = LineBuf::default();
        let mut out = Vec::new();
        for c in chunks {
            lb.push(c, |l| out.push(l.to_vec()));
        }
        (out, lb)
    }

    #[test]
    fn splits_lines_keeping_newlines() {
        let (out, mut lb) = collect(&[b"a\nbb\n", b"c", b"c\n\nd"]);
        assert_eq!(
            out,
            [
                b"a\n".to_vec(),
                b"bb\n".to_vec(),
                b"cc\n".to_vec(),
                b"\n".to_vec()
            ]
        );
        let mut rest = Vec::new();
        lb.finish(|l| rest.push(l.to_vec()));
        assert_eq!(rest, [b"d".to_vec()]);
        // Nothing left after finish.
        let mut again = Vec::new();
        lb.finish(|l| again.push(l.to_vec()));
        assert!(again.is_empty());
    }

    #[test]
    fn long_lines_become_16k_partials() {
        let long = vec![b'x'; LINE_MAX * 2 + 10];
        let mut data = long.clone();
        data.extend_from_slice(b"\nnext\n");
        let (out, _) = collect(&[&data]);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].len(), LINE_MAX);
        assert_eq!(out[1].len(), LINE_MAX);
        assert_eq!(out[2], b"xxxxxxxxxx\n");
        assert_eq!(out[3], b"next\n");
        // A line that fills the buffer exactly, newline at the last byte, is one complete line.
        let mut exact = vec![b'y'; LINE_MAX - 1];
        exact.push(b'\n');
        let (out, _) = collect(&[&exact]);
        assert_eq!(out, [exact]);
    }

    #[test]
    fn partial_flush_only_when_full_without_newline() {
        // 10 bytes of a line, then enough to fill: the complete line goes, the rest waits.
        let mut lb = LineBuf::default();
        let mut out = Vec::new();
        lb.push(b"abc\ndefgh", |l| out.push(l.to_vec()));
        assert_eq!(out, [b"abc\n".to_vec()]);
        lb.push(&vec![b'z'; LINE_MAX - 5], |l| out.push(l.to_vec()));
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].len(), LINE_MAX);
        assert!(out[1].starts_with(b"defghzz"));
    }

    #[test]
    fn entries_are_docker_json_file_lines() {
        let mut v = Vec::new();
        let t = Time {
            secs: 1_796_292_900,
            nanos: 123_456_789,
        };
        push_entry(&mut v, Stream::Stdout, b"hi <b>\n", t);
        push_entry(&mut v, Stream::Stderr, b"partial", t);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "{\"log\":\"hi \\u003cb\\u003e\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-03T10:15:00.123456789Z\"}\n\
             {\"log\":\"partial\",\"stream\":\"stderr\",\"time\":\"2026-12-03T10:15:00.123456789Z\"}\n"
        );
    }

    #[test]
    fn rotation_names() {
        let p = Path::new("/x/c-json.log");
        assert_eq!(rotated_path(p, 0), PathBuf::from("/x/c-json.log"));
        assert_eq!(rotated_path(p, 3), PathBuf::from("/x/c-json.log.3"));
        assert_eq!(rotation_renames(1), []);
        assert_eq!(rotation_renames(2), [(0, 1)]);
        assert_eq!(rotation_renames(4), [(2, 3), (1, 2), (0, 1)]);
    }

    #[test]
    fn rotates_by_size_keeping_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let t = Time { secs: 0, nanos: 0 };
        // Each entry is 67 bytes: two fit under 150.
        let entry_len = {
            let mut v = Vec::new();
            push_entry(&mut v, Stream::Stdout, b"line 0\n", t);
            v.len() as u64
        };
        assert_eq!(entry_len, 67);
        let mut log = LogFile::open(&path, Some(150), 3).unwrap();
        for i in 0..7 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes(), t);
        }
        let read = |n| fs::read_to_string(rotated_path(&path, n)).unwrap_or_default();
        // 7 entries, 2 per file: [0 1] [2 3] [4 5] [6]; the oldest file went.
        assert!(read(0).contains("line 6") && read(0).lines().count() == 1);
        assert!(read(1).contains("line 4") && read(1).contains("line 5"));
        assert!(read(2).contains("line 2") && read(2).contains("line 3"));
        assert!(!rotated_path(&path, 3).exists());
        for n in 0..3 {
            assert!(fs::metadata(rotated_path(&path, n)).unwrap().len() <= 150);
        }
    }

    #[test]
    fn one_file_is_truncated_and_an_oversized_entry_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let t = Time { secs: 0, nanos: 0 };
        let mut log = LogFile::open(&path, Some(100), 1).unwrap();
        log.write(Stream::Stdout, b"first\n", t);
        log.write(Stream::Stdout, b"second\n", t);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("first") && text.contains("second"));
        assert!(!rotated_path(&path, 1).exists());
        // Larger than max-size on its own: written to a fresh file anyway.
        log.write(Stream::Stderr, &[b'q'; 300], t);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("second") && text.contains("qqq"));
    }

    #[test]
    fn reopening_appends_and_counts_the_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let t = Time { secs: 0, nanos: 0 };
        LogFile::open(&path, None, 1)
            .unwrap()
            .write(Stream::Stdout, b"a\n", t);
        let mut log = LogFile::open(&path, Some(100), 2).unwrap();
        log.write(Stream::Stdout, b"b\n", t);
        assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 1);
        assert_eq!(
            fs::read_to_string(rotated_path(&path, 1))
                .unwrap()
                .lines()
                .count(),
            1
        );
    }
}
