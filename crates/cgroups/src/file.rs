//! Reading and writing cgroup interface files with the fewest syscalls: one open, one write or read,
//! one close. No `O_CREAT` (cgroupfs cannot create files, and a missing file must read as ENOENT),
//! no fstat/lseek size hints as `std::fs::read_to_string` does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{CgroupError, Errno};

pub(crate) fn write_err(path: &Path, value: &str, e: &std::io::Error) -> CgroupError {
    CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        errno: Errno::from_io(e),
    }
}

pub(crate) fn io_err(op: &'static str, path: &Path, e: &std::io::Error) -> CgroupError {
    CgroupError::Io {
        op,
        path: path.to_path_buf(),
        errno: Errno::from_io(e),
    }
}

/// Opens an interface file for writing. `O_TRUNC` matters only for the fake trees of the unit tests
/// (cgroupfs ignores it), where it makes the file hold exactly what was written.
pub(crate) fn open_w(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).truncate(true).open(path)
}

/// Writes `value` to `path` in a single write(2).
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    write_raw(path, value).map_err(|e| write_err(path, value, &e))
}

pub(crate) fn write_raw(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = open_w(path)?;
    f.write_all(value.as_bytes())
}

/// Writes several values to one file, one write(2) each: the kernel parses every write on its own
/// (devices.allow, io.max, blkio throttle files). Each value ends with a newline, which the kernel
/// accepts and which keeps the values apart in the fake trees of the tests.
pub(crate) struct MultiWriter {
    path: PathBuf,
    file: Option<File>,
}

impl MultiWriter {
    pub(crate) fn new(path: PathBuf) -> MultiWriter {
        MultiWriter { path, file: None }
    }

    pub(crate) fn write(&mut self, value: &str) -> Result<(), CgroupError> {
        self.write_raw(value)
            .map_err(|e| write_err(&self.path, value, &e))
    }

    pub(crate) fn write_raw(&mut self, value: &str) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(open_w(&self.path)?);
        }
        let f = self.file.as_mut().expect("opened above");
        let mut line = String::with_capacity(value.len() + 1);
        line.push_str(value);
        line.push('\n');
        f.write_all(line.as_bytes())
    }
}

/// Reads a whole file, until read(2) returns 0.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    read_raw(path).map_err(|e| io_err("read", path, &e))
}

/// Like [`read`], but a missing file is `None`.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match read_raw(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(io_err("read", path, &e)),
    }
}

pub(crate) fn read_raw(path: &Path) -> std::io::Result<String> {
    read_from(&mut File::open(path)?, false)
}

/// Reads a file the kernel prints as one seq_file record (a value, `devices.list`,
/// `freezer.state`, `cgroup.events`): the kernel hands such a record over whole, so a read(2)
/// that does not fill the buffer has reached the end, and the final zero-length read is saved.
/// Not for files printed record by record (`cgroup.procs`, `/proc/self/mountinfo`), where a
/// short read only means the kernel's page-sized buffer was full.
pub(crate) fn read_single(path: &Path) -> Result<String, CgroupError> {
    File::open(path)
        .and_then(|mut f| read_from(&mut f, true))
        .map_err(|e| io_err("read", path, &e))
}

fn read_from(f: &mut File, short_read_is_eof: bool) -> std::io::Result<String> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = loop {
            match f.read(&mut buf[len..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        len += n;
        if n == 0 || (short_read_is_eof && len < buf.len()) {
            break;
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|_| std::io::Error::from_raw_os_error(libc::EILSEQ))
}

/// Parses an unsigned value the way runc does: `max` is `u64::MAX`, negative numbers (which some
/// kernels report for memory counters) are 0.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        return Some(u64::MAX);
    }
    match s.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            let neg = s.strip_prefix('-')?;
            if !neg.is_empty() && neg.bytes().all(|b| b.is_ascii_digit()) {
                Some(0)
            } else {
                None
            }
        }
    }
}

pub(crate) fn parse_err(path: &Path, reason: impl Into<String>) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a file holding one unsigned number; a missing file is `None`.
pub(crate) fn read_u64_opt(path: &Path) -> Result<Option<u64>, CgroupError> {
    let s = match read_single(path) {
        Ok(s) => Some(s),
        Err(e) if e.errno() == Some(libc::ENOENT) => None,
        Err(e) => return Err(e),
    };
    match s {
        None => Ok(None),
        Some(s) => parse_u64(&s)
            .map(Some)
            .ok_or_else(|| parse_err(path, format!("`{}` is not a number", s.trim()))),
    }
}

/// Finds `key value` in a flat keyed file (memory.events, memory.oom_control); absent key is 0.
pub(crate) fn keyed_value(path: &Path, content: &str, key: &str) -> Result<u64, CgroupError> {
    for line in content.lines() {
        if let Some((k, v)) = line.split_once(' ') {
            if k == key {
                return parse_u64(v).ok_or_else(|| parse_err(path, format!("bad value in line `{line}`")));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_u64_follows_runc() {
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("12\n"), Some(12));
        assert_eq!(parse_u64("-4096"), Some(0));
        assert_eq!(parse_u64("-"), None);
        assert_eq!(parse_u64("abc"), None);
    }

    #[test]
    fn multi_writer_separates_values_and_read_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("devices.allow");
        std::fs::write(&p, "old content that must go").unwrap();
        let mut w = MultiWriter::new(p.clone());
        w.write("c 1:3 rwm").unwrap();
        w.write("c 1:5 rwm").unwrap();
        drop(w);
        assert_eq!(read(&p).unwrap(), "c 1:3 rwm\nc 1:5 rwm\n");
    }

    #[test]
    fn read_handles_files_larger_than_the_first_buffer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("memory.stat");
        let big = "x".repeat(10_000);
        std::fs::write(&p, &big).unwrap();
        assert_eq!(read(&p).unwrap(), big);
        assert_eq!(read_single(&p).unwrap(), big);
        assert_eq!(read_opt(&d.path().join("nope")).unwrap(), None);
    }

    #[test]
    fn write_to_missing_file_is_enoent_and_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pids.max");
        let e = write(&p, "max").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot write `max` to `{}`: ENOENT", p.display())
        );
    }
}
