//! GNU tar's PAX sparse formats, which the `tar` crate does not decode: 0.0 (repeated
//! `GNU.sparse.offset`/`numbytes` records), 0.1 (`GNU.sparse.map`) and 1.0 (the map in text at the
//! start of the entry's data). The file's fragments follow; the gaps become holes.
//!
//! Ref: Go archive/tar reader.go `readGNUSparsePAXHeaders`, `readGNUSparseMap1x0`,
//! `readGNUSparseMap0x1`, and common.go `validateSparseEntries`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// The `GNU.sparse.*` records of one entry, gathered while its PAX header is read.
#[derive(Debug, Default)]
pub(super) struct Records {
    major: Option<String>,
    minor: Option<String>,
    name: Option<Vec<u8>>,
    size: Option<String>,
    realsize: Option<String>,
    map: Option<String>,
    offsets: Vec<String>,
    numbytes: Vec<String>,
}

/// A sparse entry: its real name and size, and where its fragments go.
#[derive(Debug)]
pub(super) struct Sparse {
    pub name: Option<Vec<u8>>,
    real_size: u64,
    /// `None` for format 1.0, whose map is read from the data.
    map: Option<Vec<(u64, u64)>>,
}

/// Why a sparse entry could not be written.
#[derive(Debug)]
pub(super) enum Fail {
    /// The map is malformed.
    Bad(String),
    /// Reading the entry's data failed (the tar is truncated or broken).
    Read(io::Error),
    /// Writing the file failed.
    Write(io::Error),
}

impl Records {
    /// Takes `key` if it is a sparse record; returns whether it was.
    pub(super) fn take(&mut self, key: &str, value: &[u8]) -> bool {
        let Some(k) = key.strip_prefix("GNU.sparse.") else {
            return false;
        };
        let s = || String::from_utf8_lossy(value).into_owned();
        match k {
            "major" => self.major = Some(s()),
            "minor" => self.minor = Some(s()),
            "name" => self.name = Some(value.to_vec()),
            "size" => self.size = Some(s()),
            "realsize" => self.realsize = Some(s()),
            "map" => self.map = Some(s()),
            "offset" => self.offsets.push(s()),
            "numbytes" => self.numbytes.push(s()),
            _ => {}
        }
        true
    }

    /// The sparse description, if the records make this entry a sparse file.
    pub(super) fn finish(self) -> Result<Option<Sparse>, String> {
        let v1 = match (self.major.as_deref(), self.minor.as_deref()) {
            (Some("0"), Some("0" | "1")) => false,
            (Some("1"), Some("0")) => true,
            (Some(_), _) | (_, Some(_)) => return Err("unknown GNU sparse format version".into()),
            (None, None) if self.map.is_some() || !self.offsets.is_empty() => false,
            (None, None) => return Ok(None),
        };
        let size = self
            .size
            .or(self.realsize)
            .ok_or("GNU sparse file without a size")?;
        let real_size = size
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("invalid GNU sparse size `{size}`"))?;
        let map = if v1 {
            None
        } else if let Some(map) = self.map {
            let nums = map.split(',').map(parse).collect::<Result<Vec<_>, _>>()?;
            if nums.len() % 2 != 0 {
                return Err("GNU sparse map with an odd number of values".into());
            }
            Some(nums.chunks(2).map(|c| (c[0], c[1])).collect())
        } else {
            if self.offsets.len() != self.numbytes.len() {
                return Err("GNU sparse offsets and sizes do not pair up".into());
            }
            let mut m = Vec::with_capacity(self.offsets.len());
            for (o, n) in self.offsets.iter().zip(&self.numbytes) {
                m.push((parse(o)?, parse(n)?));
            }
            Some(m)
        };
        Ok(Some(Sparse {
            name: self.name,
            real_size,
            map,
        }))
    }
}

fn parse(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("invalid number `{s}` in GNU sparse map"))
}

/// Reads format 1.0's map: decimal numbers, one per line (a count, then offset/length pairs),
/// padded to whole 512-byte blocks.
fn read_map_1x0(data: &mut impl Read) -> Result<Vec<(u64, u64)>, Fail> {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut next = |buf: &mut Vec<u8>| -> Result<u64, Fail> {
        loop {
            if let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
                let text = std::str::from_utf8(&buf[pos..pos + nl])
                    .map_err(|_| Fail::Bad("non-text GNU sparse map".into()))?;
                pos += nl + 1;
                return parse(text).map_err(Fail::Bad);
            }
            // Bounded by the entry's data; a runaway map ends at its end with a read error.
            let old = buf.len();
            buf.resize(old + 512, 0);
            data.read_exact(&mut buf[old..]).map_err(Fail::Read)?;
        }
    };
    let count = next(&mut buf)?;
    let mut map = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let off = next(&mut buf)?;
        let len = next(&mut buf)?;
        map.push((off, len));
    }
    Ok(map)
}

/// Writes the entry's fragments at their offsets and sizes the file, leaving holes between.
pub(super) fn write(
    data: &mut impl Read,
    file: &mut File,
    sparse: &Sparse,
    buf: &mut [u8],
) -> Result<(), Fail> {
    let map = match &sparse.map {
        Some(m) => m.clone(),
        None => read_map_1x0(data)?,
    };
    let mut end = 0u64;
    for &(off, len) in &map {
        let stop = off
            .checked_add(len)
            .ok_or_else(|| Fail::Bad("GNU sparse fragment overflows".into()))?;
        if off < end || stop > sparse.real_size {
            return Err(Fail::Bad(
                "GNU sparse fragments overlap or exceed the file size".into(),
            ));
        }
        end = stop;
        file.seek(SeekFrom::Start(off)).map_err(Fail::Write)?;
        let mut left = len;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = match data.read(&mut buf[..want]) {
                Ok(0) => return Err(Fail::Read(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Fail::Read(e)),
            };
            file.write_all(&buf[..n]).map_err(Fail::Write)?;
            left -= n as u64;
        }
    }
    file.set_len(sparse.real_size).map_err(Fail::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(pairs: &[(&str, &str)]) -> Records {
        let mut r = Records::default();
        for (k, v) in pairs {
            assert!(r.take(k, v.as_bytes()));
        }
        r
    }

    #[test]
    fn versions() {
        assert!(records(&[]).finish().unwrap().is_none());
        let s = records(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.realsize", "10"),
        ])
        .finish()
        .unwrap()
        .unwrap();
        assert_eq!((s.real_size, s.map.is_none()), (10, true));
        let s = records(&[("GNU.sparse.size", "10"), ("GNU.sparse.map", "0,2,8,2")])
            .finish()
            .unwrap()
            .unwrap();
        assert_eq!(s.map.unwrap(), [(0, 2), (8, 2)]);
        let s = records(&[
            ("GNU.sparse.size", "10"),
            ("GNU.sparse.offset", "1"),
            ("GNU.sparse.numbytes", "2"),
            ("GNU.sparse.offset", "5"),
            ("GNU.sparse.numbytes", "1"),
        ])
        .finish()
        .unwrap()
        .unwrap();
        assert_eq!(s.map.unwrap(), [(1, 2), (5, 1)]);
        assert!(records(&[("GNU.sparse.major", "2"), ("GNU.sparse.minor", "0")])
            .finish()
            .is_err());
        assert!(records(&[("GNU.sparse.map", "1,2")]).finish().is_err(), "no size");
        assert!(records(&[("GNU.sparse.size", "4"), ("GNU.sparse.map", "1,2,3")])
            .finish()
            .is_err());
    }

    #[test]
    fn map_1x0_then_fragments() {
        let mut data = b"2\n0\n3\n6\n2\n".to_vec();
        data.resize(512, 0);
        data.extend_from_slice(b"abcXY");
        let sparse = Sparse {
            name: None,
            real_size: 10,
            map: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        write(&mut &data[..], &mut f, &sparse, &mut [0u8; 2]).unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"abc\0\0\0XY\0\0");
    }

    #[test]
    fn overlapping_fragments_are_refused() {
        let sparse = Sparse {
            name: None,
            real_size: 10,
            map: Some(vec![(0, 5), (3, 2)]),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut f = File::create(dir.path().join("f")).unwrap();
        let r = write(&mut &b"abcdefg"[..], &mut f, &sparse, &mut [0u8; 8]);
        assert!(matches!(r, Err(Fail::Bad(_))));
        let sparse = Sparse {
            name: None,
            real_size: 4,
            map: Some(vec![(2, 5)]),
        };
        assert!(matches!(
            write(&mut &b"abcde"[..], &mut f, &sparse, &mut [0u8; 8]),
            Err(Fail::Bad(_))
        ));
    }
}
