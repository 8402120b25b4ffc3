//! A tar writer producing the bytes Go's `archive/tar` writes in `FormatPAX` mode, as Docker and
//! containerd do for layers: a USTAR header when the entry fits one (a long name split into
//! prefix and name), and a PAX extended header (`path`, `linkpath`, `size`, `uid`, `gid`, `mtime`,
//! `SCHILY.xattr.*`) for what does not. Owner names are left empty (Docker's
//! `FileInfoHeaderNoLookups`).

use std::io::{self, Read, Write};

const BLOCK: usize = 512;
const NAME_LEN: usize = 100;
const PREFIX_LEN: usize = 155;

/// The type of a tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink(Vec<u8>),
    Hardlink(Vec<u8>),
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
    Fifo,
}

/// One entry's metadata. `name` is root-relative without a trailing slash (added for directories).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub kind: Kind,
    /// Permission and set-id/sticky bits (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Bytes of content (regular files only).
    pub size: u64,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    pub fn new(name: impl Into<Vec<u8>>, kind: Kind, mode: u32) -> Entry {
        Entry {
            name: name.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
            xattrs: Vec::new(),
        }
    }
}

/// Writes entries to `out`; [`TarWriter::finish`] writes the two zero blocks.
#[derive(Debug)]
pub(crate) struct TarWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter { out, written: 0 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the header(s) and, for a regular file, exactly `entry.size` bytes from `data`: a
    /// source that ends early is an error (`UnexpectedEof`), one that has more is cut.
    pub fn append(&mut self, entry: &Entry, data: Option<&mut dyn Read>) -> io::Result<()> {
        let mut name = entry.name.clone();
        if entry.kind == Kind::Dir && !name.ends_with(b"/") {
            name.push(b'/');
        }
        let mut header = [0u8; BLOCK];
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();

        match split_ustar_path(&name) {
            Some((prefix, base)) => {
                put(&mut header[0..NAME_LEN], base);
                put(&mut header[345..345 + PREFIX_LEN], prefix);
            }
            None => {
                pax.push(("path".into(), name.clone()));
                put(&mut header[0..NAME_LEN], &ascii_truncated(&name, NAME_LEN));
            }
        }
        let (typeflag, link): (u8, &[u8]) = match &entry.kind {
            Kind::File => (b'0', b""),
            Kind::Dir => (b'5', b""),
            Kind::Symlink(t) => (b'2', t),
            Kind::Hardlink(t) => (b'1', t),
            Kind::Char { .. } => (b'3', b""),
            Kind::Block { .. } => (b'4', b""),
            Kind::Fifo => (b'6', b""),
        };
        if link.len() > NAME_LEN || !link.is_ascii() || link.contains(&0) {
            pax.push(("linkpath".into(), link.to_vec()));
            put(&mut header[157..257], &ascii_truncated(link, NAME_LEN));
        } else {
            put(&mut header[157..257], link);
        }
        let size = if entry.kind == Kind::File { entry.size } else { 0 };
        octal(&mut header[100..108], u64::from(entry.mode & 0o7777));
        numeric(&mut header[108..116], entry.uid, "uid", &mut pax);
        numeric(&mut header[116..124], entry.gid, "gid", &mut pax);
        numeric(&mut header[124..136], size, "size", &mut pax);
        if entry.mtime < 0 {
            pax.push(("mtime".into(), entry.mtime.to_string().into_bytes()));
        } else {
            numeric(&mut header[136..148], entry.mtime as u64, "mtime", &mut pax);
        }
        header[156] = typeflag;
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        if let Kind::Char { major, minor } | Kind::Block { major, minor } = entry.kind {
            octal(&mut header[329..337], u64::from(major));
            octal(&mut header[337..345], u64::from(minor));
        }
        for (k, v) in &entry.xattrs {
            let mut key = String::from("SCHILY.xattr.");
            key.push_str(&String::from_utf8_lossy(k));
            pax.push((key, v.clone()));
        }

        if !pax.is_empty() {
            pax.sort_by(|a, b| a.0.cmp(&b.0));
            self.write_pax(&name, entry.mtime, &pax)?;
        }
        checksum(&mut header);
        self.write(&header)?;

        if size > 0 {
            let Some(data) = data else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "regular file without content",
                ));
            };
            let copied = self.copy_exact(data, size)?;
            if copied < size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "`{}` is {copied} bytes, expected {size} (changed while archiving?)",
                        String::from_utf8_lossy(&entry.name)
                    ),
                ));
            }
            self.pad(size)?;
        }
        Ok(())
    }

    fn write_pax(&mut self, name: &[u8], mtime: i64, records: &[(String, Vec<u8>)]) -> io::Result<()> {
        let mut body = Vec::new();
        for (k, v) in records {
            let base = 1 + k.len() + 1 + v.len() + 1; // " k=v\n"
            let mut len = base + base.to_string().len();
            if len.to_string().len() > base.to_string().len() {
                len += 1;
            }
            body.extend_from_slice(len.to_string().as_bytes());
            body.push(b' ');
            body.extend_from_slice(k.as_bytes());
            body.push(b'=');
            body.extend_from_slice(v);
            body.push(b'\n');
        }
        // Go: path.Join(dir, "PaxHeaders.0", file).
        let trimmed = name.strip_suffix(b"/").unwrap_or(name);
        let (dir, file) = match trimmed.iter().rposition(|&c| c == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&b""[..], trimmed),
        };
        let mut pax_name = dir.to_vec();
        pax_name.extend_from_slice(b"PaxHeaders.0/");
        pax_name.extend_from_slice(file);
        let mut header = [0u8; BLOCK];
        put(&mut header[0..NAME_LEN], &ascii_truncated(&pax_name, NAME_LEN));
        octal(&mut header[100..108], 0);
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], body.len() as u64);
        octal(&mut header[136..148], mtime.max(0) as u64);
        header[156] = b'x';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        checksum(&mut header);
        self.write(&header)?;
        self.write(&body)?;
        self.pad(body.len() as u64)
    }

    fn copy_exact(&mut self, data: &mut dyn Read, size: u64) -> io::Result<u64> {
        let mut buf = vec![0u8; (size.min(256 << 10)) as usize];
        let mut left = size;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = match data.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.write(&buf[..n])?;
            left -= n as u64;
        }
        Ok(size - left)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.write(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Writes the end-of-archive marker (two zero blocks, as Go does) and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&[0u8; BLOCK * 2])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Go's `splitUSTARPath`: the whole name when it fits 100 bytes, else a prefix (≤155) and a name
/// (≤100) split at a slash. `None` when PAX is needed (too long, non-ASCII or NUL).
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if !name.is_ascii() || name.contains(&0) {
        return None;
    }
    if name.len() <= NAME_LEN {
        return Some((b"", name));
    }
    // Ref: Go archive/tar splitUSTARPath.
    let mut length = name.len();
    if length > PREFIX_LEN + 1 {
        length = PREFIX_LEN + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&c| c == b'/')?;
    let (prefix, base) = (&name[..i], &name[i + 1..]);
    if i == 0 || base.is_empty() || base.len() > NAME_LEN || prefix.len() > PREFIX_LEN {
        return None;
    }
    Some((prefix, base))
}

fn ascii_truncated(s: &[u8], max: usize) -> Vec<u8> {
    s.iter()
        .copied()
        .filter(|c| c.is_ascii() && *c != 0)
        .take(max)
        .collect()
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal with a trailing NUL, as Go's `formatOctal`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    put(field, s.as_bytes());
    field[digits] = 0;
}

/// Octal when it fits; otherwise zero in the field and a PAX record (Go's PAX format does this).
fn numeric(field: &mut [u8], value: u64, key: &str, pax: &mut Vec<(String, Vec<u8>)>) {
    let max = (1u64 << (3 * (field.len() - 1))) - 1;
    if value <= max {
        octal(field, value);
    } else {
        octal(field, 0);
        pax.push((key.to_owned(), value.to_string().into_bytes()));
    }
}

fn checksum(header: &mut [u8; BLOCK]) {
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}");
    header[148..154].copy_from_slice(s.as_bytes());
    header[154] = 0;
    header[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pax = Vec<(String, Vec<u8>)>;

    fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>, Pax)> {
        let mut ar = tar::Archive::new(bytes);
        let mut out = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut pax = Vec::new();
            if let Some(exts) = e.pax_extensions().unwrap() {
                for x in exts {
                    let x = x.unwrap();
                    pax.push((x.key().unwrap().to_owned(), x.value_bytes().to_vec()));
                }
            }
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((path, data, pax));
        }
        out
    }

    #[test]
    fn long_names_use_prefix_then_pax() {
        let mut w = TarWriter::new(Vec::new());
        let mid = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let long = "x".repeat(300);
        for name in [&mid, &long] {
            let mut e = Entry::new(name.as_bytes(), Kind::File, 0o644);
            e.size = 3;
            w.append(&e, Some(&mut &b"abc"[..])).unwrap();
        }
        let mut e = Entry::new("caps", Kind::File, 0o755);
        e.xattrs = vec![(b"security.capability".to_vec(), vec![1, 0, 0, 2])];
        w.append(&e, None).unwrap();
        let bytes = w.finish().unwrap();
        let back = read_back(&bytes);
        assert_eq!(back[0].0, mid);
        assert!(back[0].2.is_empty(), "fits ustar with prefix");
        assert_eq!(back[1].0, long);
        assert_eq!(back[1].1, b"abc");
        assert_eq!(back[2].2[0].0, "SCHILY.xattr.security.capability");
        assert_eq!(back[2].2[0].1, vec![1, 0, 0, 2]);
    }

    #[test]
    fn short_source_is_an_error() {
        let mut w = TarWriter::new(Vec::new());
        let mut e = Entry::new("f", Kind::File, 0o644);
        e.size = 10;
        let err = w.append(&e, Some(&mut &b"abc"[..])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
