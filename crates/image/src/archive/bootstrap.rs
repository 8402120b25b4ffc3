//! Base images without a registry: busybox from the host's static busybox, Debian from
//! debootstrap.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::manifest::{Descriptor, Platform, OCI_LAYER_TAR_GZIP};
use crate::store::ContentStore;
use crate::unpack::Compression;

use super::build::{BuiltImage, ImageBuilder};
use super::layer::{store_dir, store_tar_with, LayerBlob, LayerOptions, MtimePolicy};
use super::tarw::{Entry, Kind, TarWriter};
use super::time::rfc3339;
use super::{io_err, stream_err, ArchiveError};

/// The PATH Docker's official images set.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where busybox-static installs.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

/// `/etc/passwd` of Docker's busybox image.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
";

/// `/etc/group` of Docker's busybox image.
const GROUP: &str = "root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
";

/// Directories of the busybox rootfs, with their modes.
const BUSYBOX_DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sbin", 0o755),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
];

/// Builds a busybox image from the static busybox at `busybox_path`: `bin/busybox`, every applet
/// (`busybox --list`) as a relative symlink to it in `bin/`, the usual directories, and Docker's
/// busybox `etc/passwd` and `etc/group`; `Cmd ["sh"]`, the standard PATH; one gzip layer.
///
/// Deterministic: every entry's mtime and the image's `created` are the busybox file's mtime, so
/// the same installed binary always gives the same digests.
pub fn busybox(store: &ContentStore, busybox_path: &Path) -> Result<BuiltImage, ArchiveError> {
    let meta = fs::metadata(busybox_path).map_err(io_err("inspect", busybox_path))?;
    let applets = busybox_applets(busybox_path)?;
    let version = busybox_version(busybox_path);
    let mtime = meta.mtime();

    let layer = store_tar_with(store, Compression::Gzip, 6, "of the busybox rootfs", |w| {
        let mut tar = TarWriter::new(w);
        let werr = |name: &str| stream_err(format!("write busybox rootfs entry `{name}`"));
        // Entries in the order a directory walk gives: each directory followed by its contents.
        let mut names: Vec<(String, Kind, u32)> = BUSYBOX_DIRS
            .iter()
            .map(|(n, m)| ((*n).to_owned(), Kind::Dir, *m))
            .collect();
        names.push(("bin/busybox".into(), Kind::File, 0o755));
        for a in &applets {
            names.push((format!("bin/{a}"), Kind::Symlink(b"busybox".to_vec()), 0o777));
        }
        names.push(("etc/group".into(), Kind::File, 0o644));
        names.push(("etc/passwd".into(), Kind::File, 0o644));
        names.sort_by(|a, b| walk_order(&a.0, &b.0));
        for (name, kind, mode) in names {
            let mut e = Entry::new(name.as_str(), kind, mode);
            e.mtime = mtime;
            let result = match name.as_str() {
                "bin/busybox" => {
                    let mut f = fs::File::open(busybox_path).map_err(io_err("open", busybox_path))?;
                    e.size = f.metadata().map_err(io_err("inspect", busybox_path))?.len();
                    tar.append(&e, Some(&mut f))
                }
                "etc/group" | "etc/passwd" => {
                    let mut data = if name == "etc/group" {
                        GROUP.as_bytes()
                    } else {
                        PASSWD.as_bytes()
                    };
                    e.size = data.len() as u64;
                    tar.append(&e, Some(&mut data))
                }
                _ => tar.append(&e, None),
            };
            result.map_err(werr(&name))?;
        }
        tar.finish().map_err(werr("end of archive"))?;
        Ok(())
    })?;

    let mut b = ImageBuilder::new(&Platform::host(), &rfc3339(mtime, 0));
    b.add_layer(
        &layer,
        Some(&format!(
            "berth bootstrap busybox {}",
            version.as_deref().unwrap_or("")
        )),
        None,
    );
    b.add_empty_history("CMD [\"sh\"]");
    let c = b.container_config();
    c.env = Some(vec![DEFAULT_PATH.to_owned()]);
    c.cmd = Some(vec!["sh".to_owned()]);
    b.write(store)
}

/// Orders root-relative names as a depth-first walk with sorted entries does (`a`, `a/b`, `a.c`).
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// The applets `busybox --list` names (not `busybox` itself), sorted and deduplicated.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>, ArchiveError> {
    let command = format!("{} --list", busybox.display());
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| ArchiveError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(ArchiveError::Command {
            command,
            detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/') && *a != "." && *a != "..")
        .map(str::to_owned)
        .collect();
    if !applets.iter().any(|a| a == "sh") {
        applets.push("sh".into());
    }
    applets.sort();
    applets.dedup();
    Ok(applets)
}

/// `v1.35.0` from busybox's banner, when it prints one.
fn busybox_version(busybox: &Path) -> Option<String> {
    let out = Command::new(busybox).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let first = text.lines().next()?;
    first.split_whitespace().nth(1).map(str::to_owned)
}

/// The cached result of a debootstrap: the layer blob (gzip) beside this description.
#[derive(Debug, Serialize, Deserialize)]
struct CachedLayer {
    suite: String,
    mirror: String,
    digest: Digest,
    size: i64,
    diff_id: Digest,
    uncompressed_size: u64,
    created: String,
}

/// The mirror apt uses on this machine: the first `deb` URL of `/etc/apt/sources.list`, or the
/// first `URIs:` of `/etc/apt/sources.list.d/debian.sources`; else `http://deb.debian.org/debian`.
pub fn host_debian_mirror() -> String {
    let from_list = fs::read_to_string("/etc/apt/sources.list").ok().and_then(|s| {
        s.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            if w.next() != Some("deb") {
                return None;
            }
            w.find(|x| x.starts_with("http://") || x.starts_with("https://"))
                .map(str::to_owned)
        })
    });
    let from_sources = || {
        fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.trim()
                        .strip_prefix("URIs:")
                        .and_then(|u| u.split_whitespace().next())
                        .filter(|u| !u.contains("security"))
                        .map(str::to_owned)
                })
            })
    };
    from_list
        .or_else(from_sources)
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// Builds a Debian image with `debootstrap --variant=minbase SUITE DIR MIRROR` (needs root and the
/// network to the mirror; about two minutes). The layer is cached in `cache_dir` keyed by suite and
/// mirror, so the next bootstrap only copies it into the store. `Cmd ["bash"]`, the standard PATH.
pub fn debian(
    store: &ContentStore,
    suite: &str,
    mirror: Option<&str>,
    cache_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<BuiltImage, ArchiveError> {
    if suite.is_empty()
        || !suite
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ArchiveError::InvalidArgument(format!(
            "invalid Debian suite `{suite}`"
        )));
    }
    let mirror = mirror.map_or_else(host_debian_mirror, str::to_owned);
    fs::create_dir_all(cache_dir).map_err(io_err("create directory", cache_dir))?;
    let key = Digest::sha256_of(format!("{suite}\n{mirror}").as_bytes());
    let stem = format!("debian-{suite}-{}", &key.encoded()[..16]);
    let meta_path = cache_dir.join(format!("{stem}.json"));
    let blob_path = cache_dir.join(format!("{stem}.tar.gz"));

    let cached = match fs::read(&meta_path) {
        Ok(b) => serde_json::from_slice::<CachedLayer>(&b).ok(),
        Err(_) => None,
    };
    let (layer, created) = match cached {
        Some(c) if blob_path.exists() => {
            progress(&format!(
                "using cached {suite} rootfs from {}",
                blob_path.display()
            ));
            let layer = copy_cached(store, &blob_path, &c)?;
            (layer, c.created)
        }
        _ => {
            let (layer, created) = run_debootstrap(store, suite, &mirror, cache_dir, &stem, progress)?;
            let c = CachedLayer {
                suite: suite.to_owned(),
                mirror: mirror.clone(),
                digest: layer.descriptor.digest.clone(),
                size: layer.descriptor.size,
                diff_id: layer.diff_id.clone(),
                uncompressed_size: layer.size,
                created: created.clone(),
            };
            // The blob, then its description, each by rename: a crash leaves no half cache entry.
            let tmp = cache_dir.join(format!("{stem}.tar.gz.tmp-{}", std::process::id()));
            let mut src = store.open_blob(&layer.descriptor.digest)?;
            let mut dst = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
            io::copy(&mut src, &mut dst).map_err(io_err("write", &tmp))?;
            dst.sync_all().map_err(io_err("sync", &tmp))?;
            fs::rename(&tmp, &blob_path).map_err(io_err("rename into", &blob_path))?;
            let tmp = cache_dir.join(format!("{stem}.json.tmp-{}", std::process::id()));
            let json = serde_json::to_vec_pretty(&c).expect("plain struct serializes");
            fs::write(&tmp, json).map_err(io_err("write", &tmp))?;
            fs::rename(&tmp, &meta_path).map_err(io_err("rename into", &meta_path))?;
            (layer, created)
        }
    };

    let mut b = ImageBuilder::new(&Platform::host(), &created);
    b.add_layer(
        &layer,
        Some(&format!("debootstrap --variant=minbase {suite} / {mirror}")),
        None,
    );
    b.add_empty_history("CMD [\"bash\"]");
    let c = b.container_config();
    c.env = Some(vec![DEFAULT_PATH.to_owned()]);
    c.cmd = Some(vec!["bash".to_owned()]);
    b.write(store)
}

/// Copies the cached layer blob into the store, verified against its recorded digest.
fn copy_cached(store: &ContentStore, blob_path: &Path, c: &CachedLayer) -> Result<LayerBlob, ArchiveError> {
    if !store.exists(&c.digest)? {
        let mut f = fs::File::open(blob_path).map_err(io_err("open", blob_path))?;
        let mut w = store.writer(Some(c.digest.clone()), Some(c.size as u64))?;
        w.reset()?;
        io::copy(&mut f, &mut w).map_err(io_err("read", blob_path))?;
        w.commit()?;
    }
    let mut descriptor = Descriptor::for_bytes(OCI_LAYER_TAR_GZIP, b"");
    descriptor.digest = c.digest.clone();
    descriptor.size = c.size;
    Ok(LayerBlob {
        descriptor,
        diff_id: c.diff_id.clone(),
        size: c.uncompressed_size,
    })
}

fn run_debootstrap(
    store: &ContentStore,
    suite: &str,
    mirror: &str,
    cache_dir: &Path,
    stem: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(LayerBlob, String), ArchiveError> {
    let dir = cache_dir.join(format!("{stem}.rootfs-{}", std::process::id()));
    let _ = remove_tree(&dir);
    let guard = RemoveOnDrop(dir.clone());
    let command = format!("debootstrap --variant=minbase {suite} {} {mirror}", dir.display());
    progress(&format!("running {command}"));
    let start = Instant::now();
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", suite])
        .arg(&dir)
        .arg(mirror)
        .output()
        .map_err(|e| ArchiveError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let tail: Vec<&str> = stderr.lines().chain(stdout.lines()).rev().take(5).collect();
        return Err(ArchiveError::Command {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ),
        });
    }
    progress(&format!(
        "debootstrap done in {:.1}s, archiving",
        start.elapsed().as_secs_f64()
    ));
    let created = super::time::now();
    // Leave out what the engine provides or what only served the install.
    let opts = LayerOptions {
        empty_dirs: [
            "dev",
            "proc",
            "sys",
            "run",
            "tmp",
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "debootstrap",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
        mtime: MtimePolicy::Keep,
        ..LayerOptions::default()
    };
    let start = Instant::now();
    let layer = store_dir(store, &dir, Compression::Gzip, &opts)?;
    progress(&format!(
        "layer {} ({} bytes, {} uncompressed) in {:.1}s",
        layer.descriptor.digest,
        layer.descriptor.size,
        layer.size,
        start.elapsed().as_secs_f64()
    ));
    drop(guard);
    Ok((layer, created))
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// Removes a tree that may hold mount points left by a failed debootstrap (proc, sys): those
/// are unmounted (lazily) first, so removal never descends into the host's /proc or /sys.
fn remove_tree(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if let Ok(mounts) = fs::read_to_string("/proc/self/mounts") {
        let prefix = format!("{}/", dir.display());
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
    fs::remove_dir_all(dir)
}
