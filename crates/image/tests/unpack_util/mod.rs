//! Helpers shared by the unpack tests: a tar builder that writes names verbatim (so tests can make
//! the malicious ones the `tar` crate refuses to write), and a snapshot of a directory tree.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips the calling test (returns true) with a message when not root.
pub fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("skipping {test}: needs root");
        return true;
    }
    false
}

/// Builds a layer tar entry by entry.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
    pub mtime: u64,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
            mtime: 1_600_000_000,
        }
    }

    /// A GNU header with `name` written byte for byte (names over 100 bytes go through a GNU
    /// long-name entry, still verbatim).
    pub fn header(&mut self, name: &[u8], kind: EntryType, mode: u32) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        h.set_size(0);
        if name.len() <= 100 {
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
        } else {
            let mut long = Header::new_gnu();
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_entry_type(EntryType::GNULongName);
            long.set_mode(0o644);
            let mut data = name.to_vec();
            data.push(0);
            long.set_size(data.len() as u64);
            long.set_cksum();
            self.b.append(&long, &data[..]).unwrap();
            h.as_old_mut().name[..100].copy_from_slice(&name[..100]);
        }
        h
    }

    /// Appends `h` with `data`, fixing size and checksum.
    pub fn append(&mut self, mut h: Header, data: &[u8]) -> &mut Layer {
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Layer {
        let h = self.header(name.as_bytes(), EntryType::Directory, mode);
        self.append(h, b"")
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Layer {
        let h = self.header(name.as_bytes(), EntryType::Regular, mode);
        self.append(h, data)
    }

    /// A symlink or hard link; the target is written verbatim.
    pub fn link(&mut self, kind: EntryType, name: &str, target: &str) -> &mut Layer {
        let mut h = self.header(name.as_bytes(), kind, 0o777);
        if target.len() <= 100 {
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        } else {
            self.pax(&[("linkpath", target.as_bytes())]);
        }
        self.append(h, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.link(EntryType::Symlink, name, target)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.link(EntryType::Link, name, target)
    }

    /// A PAX extended header for the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Layer {
        self.b.append_pax_extensions(records.iter().copied()).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// What the tests compare of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// sha256 and length of a file's content, a symlink's target, or a device's `major:minor`.
    pub data: String,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// For nodes with more than one link: the first path of the inode met in the (sorted) walk.
    pub link_group: Option<String>,
}

/// Every node below `root` (not `root` itself), keyed by relative path.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>, groups: &mut BTreeMap<u64, String>) {
    let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let ft = m.file_type();
        let (kind, data) = if ft.is_dir() {
            ("dir", String::new())
        } else if ft.is_symlink() {
            (
                "symlink",
                String::from_utf8_lossy(fs::read_link(&p).unwrap().as_os_str().as_bytes()).into_owned(),
            )
        } else if ft.is_file() {
            let content = fs::read(&p).unwrap();
            ("file", format!("{} ({} bytes)", sha256(&content), content.len()))
        } else if ft.is_char_device() {
            (
                "char",
                format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())),
            )
        } else if ft.is_block_device() {
            (
                "block",
                format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())),
            )
        } else if ft.is_fifo() {
            ("fifo", String::new())
        } else {
            ("other", String::new())
        };
        let link_group = if !ft.is_dir() && m.nlink() > 1 {
            Some(groups.entry(m.ino()).or_insert_with(|| rel.clone()).clone())
        } else {
            None
        };
        out.insert(
            rel.clone(),
            Node {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime(),
                data,
                xattrs: xattrs(&p),
                link_group,
            },
        );
        if ft.is_dir() {
            walk(root, &p, out, groups);
        }
    }
}

/// Asserts two snapshots are equal, naming only the first difference (snapshots are large).
pub fn assert_same_tree(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>) {
    for (k, v) in a {
        match b.get(k) {
            None => panic!("`{k}` only in the first tree"),
            Some(w) => assert_eq!(v, w, "`{k}` differs"),
        }
    }
    if let Some(k) = b.keys().find(|k| !a.contains_key(*k)) {
        panic!("`{k}` only in the second tree");
    }
}

/// The extended attributes of `path` (not following a symlink).
pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    // SAFETY: valid C string and buffer of the given length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let mut out = BTreeMap::new();
    if n <= 0 {
        return out;
    }
    for key in buf[..n as usize].split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let k = CString::new(key).unwrap();
        let mut val = vec![0u8; 64 << 10];
        // SAFETY: valid C strings and buffer of the given length.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), k.as_ptr(), val.as_mut_ptr().cast(), val.len()) };
        if m >= 0 {
            val.truncate(m as usize);
            out.insert(String::from_utf8_lossy(key).into_owned(), val);
        }
    }
    out
}

/// One xattr of `path`, if set.
pub fn xattr(path: &Path, key: &str) -> Option<Vec<u8>> {
    xattrs(path).remove(key)
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// sha256 of `data` as `sha256:<hex>`.
pub fn sha256(data: &[u8]) -> String {
    berth_image::digest::Digest::sha256_of(data).to_string()
}

/// Names in `dir`, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}
