//! The layer store: one directory per unpacked layer, named by its diff ID, in overlay form.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;

const TRASH_PREFIX: &str = ".trash-";

#[derive(Debug)]
pub struct LayerStore {
    root: PathBuf,
}

impl LayerStore {
    pub fn open(root: PathBuf) -> anyhow::Result<LayerStore> {
        let dir = root.join("sha256");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        mark_top_of_hierarchies(&dir);
        Ok(LayerStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/sha256/<hex>` for `sha256:<hex>`.
    pub fn dir(&self, diff_id: &str) -> PathBuf {
        let (alg, hex) = diff_id.split_once(':').unwrap_or(("sha256", diff_id));
        self.root.join(alg).join(hex)
    }

    pub fn exists(&self, diff_id: &str) -> bool {
        fs::symlink_metadata(self.dir(diff_id)).is_ok_and(|m| m.is_dir())
    }

    /// Diff IDs of the complete layer directories.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for alg in fs::read_dir(&self.root)? {
            let alg = alg?;
            let alg_name = alg.file_name().to_string_lossy().into_owned();
            if alg_name.starts_with('.') || !alg.file_type()?.is_dir() {
                continue;
            }
            for e in fs::read_dir(alg.path())? {
                let name = e?.file_name().to_string_lossy().into_owned();
                if !name.contains('.') {
                    out.push(format!("{alg_name}:{name}"));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a layer directory: renamed out of the way first (one atomic step, so a crash never
    /// leaves a half-deleted directory under a layer's name), then deleted.
    pub fn remove(&self, diff_id: &str) -> io::Result<()> {
        let dir = self.dir(diff_id);
        let trash = self.root.join(format!(
            "{TRASH_PREFIX}{}-{}",
            diff_id.replace(':', "-"),
            crate::util::random_hex(4)
        ));
        match fs::rename(&dir, &trash) {
            Ok(()) => fs::remove_dir_all(&trash),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes what an interrupted unpack or removal left: `<hex>.tmp-*` and `.trash-*`.
    pub fn remove_leftovers(&self) -> io::Result<usize> {
        let mut n = 0;
        for e in fs::read_dir(&self.root)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(TRASH_PREFIX) {
                remove_any(&e.path())?;
                n += 1;
            } else if e.file_type()?.is_dir() {
                for l in fs::read_dir(e.path())? {
                    let l = l?;
                    if l.file_name().to_string_lossy().contains(".tmp-") {
                        remove_any(&l.path())?;
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    }

    /// Bytes on disk under a layer (apparent sizes of regular files).
    pub fn du(&self, diff_id: &str) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(rd) = fs::read_dir(p) else { return 0 };
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
                    _ => 0,
                })
                .sum()
        }
        walk(&self.dir(diff_id))
    }
}

/// Tells ext4 that each directory made in `dir` is the top of a hierarchy of its own
/// (`chattr +T`, `FS_TOPDIR_FL`), so its allocator spreads new layer directories over block groups
/// (Orlov) instead of packing them next to their parent. Each layer is such a hierarchy, and on a
/// filesystem without a journal, packing them also means allocating among the inodes of the layers
/// removed in the last minutes, which ext4 scans past one by one. Other filesystems ignore or
/// refuse the flag; either is fine.
fn mark_top_of_hierarchies(dir: &Path) {
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;
    let Ok(f) = fs::File::open(dir) else { return };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut flags: libc::c_int = 0;
    // SAFETY: a valid descriptor and a pointer to an int, as FS_IOC_GETFLAGS writes.
    if unsafe { libc::ioctl(fd, FS_IOC_GETFLAGS, &mut flags) } != 0 || flags & FS_TOPDIR_FL != 0 {
        return;
    }
    flags |= FS_TOPDIR_FL;
    // SAFETY: a valid descriptor and a pointer to an int, as FS_IOC_SETFLAGS reads.
    unsafe { libc::ioctl(fd, FS_IOC_SETFLAGS, &flags) };
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_remove_and_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let ls = LayerStore::open(dir.path().join("layers")).unwrap();
        let id = format!("sha256:{}", "a".repeat(64));
        fs::create_dir_all(ls.dir(&id).join("etc")).unwrap();
        fs::write(ls.dir(&id).join("etc/x"), b"12345").unwrap();
        fs::create_dir_all(
            dir.path()
                .join(format!("layers/sha256/{}.tmp-1-0", "b".repeat(64))),
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("layers/.trash-x")).unwrap();
        assert_eq!(ls.list().unwrap(), vec![id.clone()]);
        assert_eq!(ls.du(&id), 5);
        assert_eq!(ls.remove_leftovers().unwrap(), 2);
        assert!(ls.exists(&id));
        ls.remove(&id).unwrap();
        assert!(!ls.exists(&id));
        ls.remove(&id).unwrap();
        assert!(ls.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("layers")).unwrap().count(), 1);
    }
}
