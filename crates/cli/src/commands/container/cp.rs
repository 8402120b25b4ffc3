//! cp: files between a container and the local filesystem, as tar archives over
//! `GET`/`PUT`/`HEAD /containers/{id}/archive`, with docker's path semantics (a trailing `/`
//! asserts a directory, a trailing `/.` copies a directory's contents).
//!
//! Ref: docker/cli cli/command/container/cp.go and moby pkg/archive copy.go (`CopyInfoSourcePath`,
//! `TarResource`, `PrepareArchiveCopy`, `RebaseArchiveEntries`, `CopyTo`, `Unpack`).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::opts::{clean_path, io_text};
use crate::client::Query;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::format::{human_size_prec, is_tty};
use crate::http::{Body, Request};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH")]
    pub source: String,
    #[arg(value_name = "DEST_PATH")]
    pub destination: String,
}

// Go's os.FileMode type bits.
const MODE_DIR: u64 = 1 << 31;
const MODE_SYMLINK: u64 = 1 << 27;
const MODE_DEVICE: u64 = 1 << 26;
const MODE_IRREGULAR: u64 = 1 << 19;

/// `filepath.Base`.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// `filepath.Dir`.
pub fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean_path(&p[..=i]),
        None => ".".into(),
    }
}

fn has_trailing_sep(p: &str) -> bool {
    p.ends_with('/')
}

fn specifies_current_dir(p: &str) -> bool {
    base(p) == "."
}

fn asserts_directory(p: &str) -> bool {
    has_trailing_sep(p) || specifies_current_dir(p)
}

/// Ref: moby archive `PreserveTrailingDotOrSeparator`.
pub fn preserve_trailing(cleaned: &str, original: &str) -> String {
    if !specifies_current_dir(cleaned) && specifies_current_dir(original) {
        if !has_trailing_sep(cleaned) {
            return format!("{cleaned}/.");
        }
        return format!("{cleaned}.");
    }
    if !has_trailing_sep(cleaned) && has_trailing_sep(original) {
        return format!("{cleaned}/");
    }
    cleaned.to_string()
}

/// Ref: moby archive `SplitPathDirEntry`: ("/a", "b") for "/a/b/", ("/a/b", ".") for "/a/b/.".
pub fn split_path_dir_entry(p: &str) -> (String, String) {
    let mut cleaned = clean_path(p);
    if specifies_current_dir(p) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

/// Ref: moby archive `GetRebaseName`.
pub fn rebase_name(path: &str, resolved: &str) -> (String, String) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_sep(path) && !has_trailing_sep(&resolved) {
        resolved.push('/');
    }
    let name = if base(path) != base(&resolved) {
        base(path)
    } else {
        String::new()
    };
    (resolved, name)
}

/// An absolute local path, keeping a trailing `/` or `/.`. Ref: docker/cli `resolveLocalPath`.
fn resolve_local(p: &str) -> String {
    let abs = if p.starts_with('/') {
        clean_path(p)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        clean_path(&format!("{}/{p}", cwd.display()))
    };
    preserve_trailing(&abs, p)
}

fn split_cp_arg(arg: &str) -> (&str, &str) {
    if arg.starts_with('/') {
        return ("", arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (c, p),
        _ => ("", arg),
    }
}

/// What a copy reads from or writes to. Ref: moby archive `CopyInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInfo {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
    pub rebase_name: String,
}

fn os_err(op: &str, path: &str, e: &io::Error) -> Error {
    Error::msg(format!("{op} {path}: {}", io_text(e)))
}

/// `filepath.EvalSymlinks`, with Go's error wording.
fn eval_symlinks(p: &str) -> Result<String> {
    let target = if p.is_empty() { "." } else { p };
    let r = fs::canonicalize(target).map_err(|e| os_err("lstat", &clean_path(target), &e))?;
    Ok(r.to_string_lossy().into_owned())
}

/// Ref: moby archive `CopyInfoSourcePath` + `ResolveHostSourcePath`.
pub fn copy_info_source(path: &str, follow: bool) -> Result<CopyInfo> {
    let (resolved, rebase) = if follow {
        let r = eval_symlinks(path)?;
        rebase_name(path, &r)
    } else {
        let (d, b) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let rd = eval_symlinks(d)?;
        let rd = if rd == "/" { String::new() } else { rd };
        let resolved = format!("{rd}/{b}");
        let rebase = if has_trailing_sep(path) && base(path) != base(&resolved) {
            base(path)
        } else {
            String::new()
        };
        (resolved, rebase)
    };
    let st = fs::symlink_metadata(&resolved).map_err(|e| os_err("lstat", &resolved, &e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: st.is_dir(),
        rebase_name: rebase,
    })
}

/// Ref: moby archive `CopyInfoDestinationPath`: follows a symlink at the destination; a missing
/// destination needs an existing parent directory.
pub fn copy_info_destination(path: &str) -> Result<CopyInfo> {
    let mut path = path.to_string();
    let original = path.clone();
    let mut st = fs::symlink_metadata(&path);
    let mut n = 0;
    while let Ok(m) = &st {
        if !m.file_type().is_symlink() {
            break;
        }
        if n > 10 {
            return Err(Error::msg(format!("too many symlinks in {original}")));
        }
        n += 1;
        let target = fs::read_link(&path).map_err(|e| os_err("readlink", &path, &e))?;
        let mut t = target.to_string_lossy().into_owned();
        if !t.starts_with('/') {
            let (parent, _) = split_path_dir_entry(&path);
            t = clean_path(&format!("{parent}/{t}"));
        }
        path = t;
        st = fs::symlink_metadata(&path);
    }
    match st {
        Ok(m) => Ok(CopyInfo {
            path,
            exists: true,
            is_dir: m.is_dir(),
            rebase_name: String::new(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let (parent, _) = split_path_dir_entry(&path);
            let pm = fs::metadata(&parent).map_err(|e| os_err("stat", &parent, &e))?;
            if !pm.is_dir() {
                return Err(Error::msg("not a directory"));
            }
            Ok(CopyInfo {
                path,
                ..Default::default()
            })
        }
        Err(e) => Err(os_err("lstat", &path, &e)),
    }
}

/// Ref: moby archive `PrepareArchiveCopy`: the directory to extract into, and how entry names
/// change (old base → new base) on the way.
pub fn prepare_archive_copy(src: &CopyInfo, dst: &CopyInfo) -> Result<(String, Option<(String, String)>)> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let (_, mut src_base) = split_path_dir_entry(&src.path);
    if !src.rebase_name.is_empty() {
        src_base = src.rebase_name.clone();
    }
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(Error::msg("cannot copy directory"));
    }
    if !dst.exists && !src.is_dir && asserts_directory(&dst.path) {
        return Err(Error::msg("no such directory"));
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

/// `strings.Replace(name, old, new, 1)` as `RebaseArchiveEntries` applies it ("/" as old base
/// means an empty one).
pub fn rebase(name: &str, old: &str, new: &str) -> String {
    let old = if old == "/" { "" } else { old };
    if old.is_empty() {
        return format!("{new}{name}");
    }
    name.replacen(old, new, 1)
}

/// The entry names of `TarResourceRebase`: (local path, name in the archive), in walk order.
/// Ref: moby archive `TarWithOptions` with `IncludeSourceDir` and one include.
pub fn tar_entries(src: &CopyInfo) -> Result<Vec<(PathBuf, String)>> {
    fs::symlink_metadata(&src.path).map_err(|e| os_err("lstat", &src.path, &e))?;
    let (src_dir, include) = split_path_dir_entry(&src.path);
    let root = if include == "." {
        PathBuf::from(&src_dir)
    } else {
        Path::new(&src_dir).join(&include)
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        let rel = match p.strip_prefix(&src_dir) {
            Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let mut rel = if include == "." && rel != "." {
            format!("./{rel}")
        } else {
            rel
        };
        if !src.rebase_name.is_empty() {
            let replacement = if src.rebase_name == "/" {
                ""
            } else {
                src.rebase_name.as_str()
            };
            rel = rel.replacen(&include, replacement, 1);
        }
        let meta = fs::symlink_metadata(&p).map_err(|e| os_err("lstat", &p.to_string_lossy(), &e))?;
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = fs::read_dir(&p)
                .map_err(|e| os_err("open", &p.to_string_lossy(), &e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            children.sort();
            children.reverse();
            stack.extend(children);
        }
        out.push((p, rel));
    }
    Ok(out)
}

/// An archive name as the tar crate stores it: no `./` prefix, the bare `.` dropped (docker's
/// extraction skips it over an existing directory, the only case it reaches).
fn archive_name(name: &str) -> Option<String> {
    let c = clean_path(name);
    if c == "." || c.is_empty() {
        return None;
    }
    Some(c.trim_start_matches('/').to_string())
}

/// Counts bytes going through, for the progress line.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// docker's copy progress on stderr ("Copying to container - 1.2MB"), when it is a terminal.
struct Progress {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    drawn: bool,
}

impl Progress {
    fn start(header: &'static str, total: Arc<AtomicU64>) -> Progress {
        if !is_tty(2) {
            return Progress {
                done: Arc::new(AtomicBool::new(true)),
                handle: None,
                drawn: false,
            };
        }
        eprint!("\x1b[sPreparing to copy...");
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = std::thread::spawn(move || {
            let mut e = io::stderr();
            let _ = write!(e, "\x1b[?25l\x1b[u\x1b[2K{header}{}", human_size_prec(0.0, 3));
            let mut last = 0;
            while !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(75));
                let n = total.load(Ordering::Relaxed);
                if n != last {
                    let _ = write!(
                        e,
                        "\x1b[{}G\x1b[0K{}",
                        header.len() + 1,
                        human_size_prec(n as f64, 3)
                    );
                    last = n;
                }
            }
            let _ = write!(e, "\x1b[?25h");
        });
        Progress {
            done,
            handle: Some(handle),
            drawn: true,
        }
    }

    fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        if self.drawn {
            eprint!("\x1b[u\x1b[2K");
        }
    }
}

/// The `X-Docker-Container-Path-Stat` header of an archive answer.
fn path_stat(h: &crate::http::Headers) -> Result<Value> {
    let raw = h.get("X-Docker-Container-Path-Stat").unwrap_or("");
    let bytes = crate::config::unbase64(raw)
        .ok_or_else(|| Error::msg("unable to get resource stat from response: illegal base64 data"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::msg(format!("unable to get resource stat from response: {e}")))
}

fn stat_mode(v: &Value) -> u64 {
    v.get("mode").and_then(Value::as_u64).unwrap_or(0)
}

/// `HEAD /containers/{id}/archive?path=`: the stat of a path in the container.
fn stat_path(ctx: &mut Ctx, container: &str, path: &str) -> Result<Value> {
    let q = Query::new().add("path", path);
    let r = ctx.client.send(Request::new(
        "HEAD",
        format!("/containers/{container}/archive{q}"),
    ))?;
    let v = path_stat(&r.headers)?;
    let _ = r.bytes();
    Ok(v)
}

pub fn cp(ctx: &mut Ctx, a: &CpArgs) -> Result<()> {
    if a.source.is_empty() {
        return Err(Error::msg("source can not be empty"));
    }
    if a.destination.is_empty() {
        return Err(Error::msg("destination can not be empty"));
    }
    let quiet = a.quiet || !is_tty(1);
    let (sc, sp) = split_cp_arg(&a.source);
    let (dc, dp) = split_cp_arg(&a.destination);
    match (sc.is_empty(), dc.is_empty()) {
        (false, true) => copy_from(ctx, a, sc, sp, dp, quiet),
        (true, false) => copy_to(ctx, a, dc, sp, dp, quiet),
        (false, false) => Err(Error::msg("copying between containers is not supported")),
        (true, true) => Err(Error::msg("must specify at least one container source")),
    }
}

/// Ref: docker/cli command `ValidateOutputPath`.
fn validate_output_path(path: &str) -> Result<()> {
    let d = dir(&clean_path(path));
    if !d.is_empty() && d != "." && fs::metadata(&d).is_err() {
        return Err(Error::msg(format!(
            "invalid output path: directory {} does not exist",
            super::opts::go_quote(&d)
        )));
    }
    if let Ok(m) = fs::metadata(path) {
        let ft = m.file_type();
        if !ft.is_dir() && !ft.is_file() {
            use std::os::unix::fs::FileTypeExt;
            let why = if ft.is_block_device() || ft.is_char_device() {
                "got a device"
            } else {
                "got an irregular file"
            };
            return Err(Error::msg(format!(
                "invalid output path: {} must be a directory or a regular file: {why}",
                super::opts::go_quote(path)
            )));
        }
    }
    Ok(())
}

fn copy_from(ctx: &mut Ctx, a: &CpArgs, container: &str, src: &str, dst: &str, quiet: bool) -> Result<()> {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        resolve_local(dst)
    };
    validate_output_path(&dst)?;
    let mut src_path = src.to_string();
    let mut rebase_to = String::new();
    if a.follow_link {
        if let Ok(st) = stat_path(ctx, container, &src_path) {
            if stat_mode(&st) & MODE_SYMLINK != 0 {
                let mut target = st
                    .get("linkTarget")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if !target.starts_with('/') {
                    let (parent, _) = split_path_dir_entry(&src_path);
                    target = clean_path(&format!("{parent}/{target}"));
                }
                let (t, r) = rebase_name(&src_path, &target);
                src_path = t;
                rebase_to = r;
            }
        }
    }
    let q = Query::new().add("path", &src_path);
    let resp = ctx
        .client
        .send(Request::new("GET", format!("/containers/{container}/archive{q}")))?;
    let stat = path_stat(&resp.headers)?;
    let mut body = resp.body;
    if dst == "-" {
        let mut o = io::stdout().lock();
        io::copy(&mut body, &mut o)?;
        o.flush()?;
        return Ok(());
    }
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: stat_mode(&stat) & MODE_DIR != 0,
        rebase_name: rebase_to.clone(),
    };
    let total = Arc::new(AtomicU64::new(0));
    let counted = Counting {
        inner: body,
        n: total.clone(),
    };
    let progress = (!quiet).then(|| Progress::start("Copying from container - ", total.clone()));
    let res = (|| -> Result<()> {
        let dst_info = copy_info_destination(&dst)?;
        let (dst_dir, rename) = prepare_archive_copy(&src_info, &dst_info)?;
        let (_, src_base) = split_path_dir_entry(&src_info.path);
        untar(counted, &dst_dir, |name| {
            let mut n = name.to_string();
            if !rebase_to.is_empty() {
                n = rebase(&n, &src_base, &rebase_to);
            }
            if let Some((old, new)) = &rename {
                n = rebase(&n, old, new);
            }
            n
        })
    })();
    if let Some(p) = progress {
        p.finish();
        eprintln!(
            "Successfully copied {} to {dst}",
            human_size_prec(total.load(Ordering::Relaxed) as f64, 3)
        );
    }
    res
}

fn copy_to(ctx: &mut Ctx, a: &CpArgs, container: &str, src: &str, dst: &str, quiet: bool) -> Result<()> {
    let src = if src == "-" {
        src.to_string()
    } else {
        resolve_local(src)
    };
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..Default::default()
    };
    let mut st = stat_path(ctx, container, dst);
    if let Ok(s) = &st {
        if stat_mode(s) & MODE_SYMLINK != 0 {
            let mut target = s
                .get("linkTarget")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !target.starts_with('/') {
                let (parent, _) = split_path_dir_entry(dst);
                target = clean_path(&format!("{parent}/{target}"));
            }
            dst_info.path = target.clone();
            st = stat_path(ctx, container, &target);
        }
    }
    if let Ok(s) = &st {
        let m = stat_mode(s);
        let why = if m & MODE_DEVICE != 0 {
            Some("got a device")
        } else if m & MODE_IRREGULAR != 0 {
            Some("got an irregular file")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::msg(format!(
                "destination \"{container}:{dst}\" must be a directory or a regular file: {why}"
            )));
        }
        dst_info.exists = true;
        dst_info.is_dir = m & MODE_DIR != 0;
    }
    let q_for = |path: &str| {
        Query::new()
            .add_if(a.archive, "copyUIDGID", "true")
            .add("noOverwriteDirNonDir", "true")
            .add("path", path)
    };
    if src == "-" {
        if !dst_info.is_dir {
            return Err(Error::msg(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        let mut input = io::stdin().lock();
        let q = q_for(&dst_info.path);
        let r = ctx.client.send(
            Request::new("PUT", format!("/containers/{container}/archive{q}"))
                .header("Content-Type", "application/x-tar")
                .body(Body::Reader(&mut input)),
        )?;
        let _ = r.bytes();
        return Ok(());
    }
    let src_info = copy_info_source(&src, a.follow_link)?;
    let entries = tar_entries(&src_info)?;
    let (dst_dir, rename) = prepare_archive_copy(&src_info, &dst_info)?;
    let names: Vec<(PathBuf, Option<String>)> = entries
        .into_iter()
        .map(|(p, n)| {
            let n = match &rename {
                Some((old, new)) => rebase(&n, old, new),
                None => n,
            };
            (p, archive_name(&n))
        })
        .collect();
    let (reader, writer) = io::pipe().map_err(|e| Error::msg(format!("cannot create a pipe: {e}")))?;
    let tar_thread = std::thread::spawn(move || -> io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        for (path, name) in names {
            if let Some(n) = name {
                b.append_path_with_name(&path, &n)?;
            }
        }
        b.finish()
    });
    let total = Arc::new(AtomicU64::new(0));
    let mut counted = Counting {
        inner: reader,
        n: total.clone(),
    };
    let progress = (!quiet).then(|| Progress::start("Copying to container - ", total.clone()));
    let q = q_for(&dst_dir);
    let res = ctx
        .client
        .send(
            Request::new("PUT", format!("/containers/{container}/archive{q}"))
                .header("Content-Type", "application/x-tar")
                .body(Body::Reader(&mut counted)),
        )
        .map(|r| {
            let _ = r.bytes();
        });
    drop(counted);
    let tarred = tar_thread
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the archive writer panicked")));
    if let Some(p) = progress {
        p.finish();
        eprintln!(
            "Successfully copied {} to {container}:{}",
            human_size_prec(total.load(Ordering::Relaxed) as f64, 3),
            dst_info.path
        );
    }
    res?;
    tarred.map_err(|e| Error::msg(e.to_string()))
}

/// Ref: moby archive `Unpack` with `NoLchown` and `NoOverwriteDirNonDir`: extracts `src` under
/// `dest`, entry names passed through `rename`.
pub fn untar(src: impl Read, dest: &str, rename: impl Fn(&str) -> String) -> Result<()> {
    let dest = clean_path(dest);
    let mut ar = tar::Archive::new(src);
    let mut dirs: Vec<(PathBuf, i64)> = Vec::new();
    let entries = ar.entries().map_err(|e| Error::msg(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::msg(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean_path(&rename(&raw));
        let rel = name.trim_start_matches('/');
        if rel == ".." || rel.starts_with("../") {
            return Err(Error::msg(format!(
                "{} is outside of {}",
                super::opts::go_quote(&name),
                super::opts::go_quote(&dest)
            )));
        }
        let path = if rel == "." {
            PathBuf::from(&dest)
        } else {
            Path::new(&dest).join(rel)
        };
        let is_dir = entry.header().entry_type().is_dir();
        if let Some(parent) = path.parent() {
            if fs::symlink_metadata(parent).is_err() {
                fs::create_dir_all(parent).map_err(|e| os_err("mkdir", &parent.to_string_lossy(), &e))?;
            }
        }
        if let Ok(m) = fs::symlink_metadata(&path) {
            let p = path.to_string_lossy();
            if m.is_dir() && !is_dir {
                return Err(Error::msg(format!(
                    "cannot overwrite directory {} with non-directory {}",
                    super::opts::go_quote(&p),
                    super::opts::go_quote(&dest)
                )));
            }
            if !m.is_dir() && is_dir {
                return Err(Error::msg(format!(
                    "cannot overwrite non-directory {} with directory {}",
                    super::opts::go_quote(&p),
                    super::opts::go_quote(&dest)
                )));
            }
            if m.is_dir() && rel == "." {
                continue;
            }
            if !m.is_dir() {
                fs::remove_file(&path).map_err(|e| os_err("remove", &p, &e))?;
            }
        }
        entry.set_preserve_mtime(true);
        entry
            .unpack(&path)
            .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
        if is_dir {
            dirs.push((path, entry.header().mtime().unwrap_or(0) as i64));
        }
    }
    // Directory times last, after their contents stopped changing them.
    for (p, mtime) in dirs {
        set_mtime(&p, mtime);
    }
    Ok(())
}

fn set_mtime(p: &Path, secs: i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return;
    };
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: a valid NUL-terminated path and two valid timespecs.
    unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(split_path_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_path_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_path_dir_entry("/a"), ("/".into(), "a".into()));
        assert_eq!(preserve_trailing("/x/y", "y/."), "/x/y/.");
        assert_eq!(preserve_trailing("/x/y", "y/"), "/x/y/");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(split_cp_arg("c1:/etc"), ("c1", "/etc"));
        assert_eq!(split_cp_arg("/abs:x"), ("", "/abs:x"));
        assert_eq!(split_cp_arg("./rel:x"), ("", "./rel:x"));
        assert_eq!(rebase_name("/l/", "/target"), ("/target/".into(), "l".into()));
        assert_eq!(rebase("dir/a", "dir", "new"), "new/a");
        assert_eq!(rebase("./a", ".", "new"), "new/a");
    }

    #[test]
    fn prepare_cases() {
        let dir_src = CopyInfo {
            path: "/s/d".into(),
            exists: true,
            is_dir: true,
            rebase_name: String::new(),
        };
        let file_src = CopyInfo {
            path: "/s/f".into(),
            exists: true,
            is_dir: false,
            rebase_name: String::new(),
        };
        let dir_dst = CopyInfo {
            path: "/t".into(),
            exists: true,
            is_dir: true,
            rebase_name: String::new(),
        };
        let file_dst = CopyInfo {
            path: "/t/f2".into(),
            exists: true,
            is_dir: false,
            rebase_name: String::new(),
        };
        let none = CopyInfo {
            path: "/t/new".into(),
            ..Default::default()
        };
        let none_dir = CopyInfo {
            path: "/t/new/".into(),
            ..Default::default()
        };
        assert_eq!(
            prepare_archive_copy(&dir_src, &dir_dst).unwrap(),
            ("/t".into(), None)
        );
        assert_eq!(
            prepare_archive_copy(&dir_src, &file_dst).unwrap_err().to_string(),
            "cannot copy directory"
        );
        assert_eq!(
            prepare_archive_copy(&file_src, &file_dst).unwrap(),
            ("/t".into(), Some(("f".into(), "f2".into())))
        );
        assert_eq!(
            prepare_archive_copy(&dir_src, &none).unwrap(),
            ("/t".into(), Some(("d".into(), "new".into())))
        );
        assert_eq!(
            prepare_archive_copy(&file_src, &none_dir)
                .unwrap_err()
                .to_string(),
            "no such directory"
        );
        let contents = CopyInfo {
            path: "/s/d/.".into(),
            exists: true,
            is_dir: true,
            rebase_name: String::new(),
        };
        assert_eq!(
            prepare_archive_copy(&contents, &none).unwrap(),
            ("/t".into(), Some((".".into(), "new".into())))
        );
    }

    #[test]
    fn tar_walk_and_untar() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_str().unwrap().to_string();
        fs::create_dir_all(format!("{root}/src/sub")).unwrap();
        fs::write(format!("{root}/src/a.txt"), b"A").unwrap();
        fs::write(format!("{root}/src/sub/b"), b"BB").unwrap();
        std::os::unix::fs::symlink("a.txt", format!("{root}/src/link")).unwrap();

        let info = copy_info_source(&format!("{root}/src"), false).unwrap();
        let names: Vec<String> = tar_entries(&info).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["src", "src/a.txt", "src/link", "src/sub", "src/sub/b"]);
        let info = copy_info_source(&format!("{root}/src/."), false).unwrap();
        let names: Vec<String> = tar_entries(&info).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, [".", "./a.txt", "./link", "./sub", "./sub/b"]);

        // Archive `src/.` and extract it as a new directory `out` (docker cp src/. c:/out).
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        for (p, n) in tar_entries(&info).unwrap() {
            if let Some(n) = archive_name(&rebase(&n, ".", "out")) {
                b.append_path_with_name(&p, &n).unwrap();
            }
        }
        let data = b.into_inner().unwrap();
        fs::create_dir(format!("{root}/dst")).unwrap();
        untar(&data[..], &format!("{root}/dst"), |n| n.to_string()).unwrap();
        assert_eq!(fs::read(format!("{root}/dst/out/sub/b")).unwrap(), b"BB");
        assert_eq!(
            fs::read_link(format!("{root}/dst/out/link")).unwrap(),
            Path::new("a.txt")
        );
        // A file over an existing directory is refused.
        fs::create_dir_all(format!("{root}/dst2/out/a.txt")).unwrap();
        let e = untar(&data[..], &format!("{root}/dst2"), |n| n.to_string()).unwrap_err();
        assert!(e.to_string().starts_with("cannot overwrite directory"), "{e}");
        // Escaping entries are refused.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "x", &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let e = untar(&data[..], &format!("{root}/dst"), |_| "../../x".to_string()).unwrap_err();
        assert!(e.to_string().contains("is outside of"), "{e}");
    }
}
