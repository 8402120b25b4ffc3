//! One container's cgroup: its directory in every hierarchy, and the life cycle create → set →
//! apply → (freeze/thaw/stats/update) → destroy.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Errno};
use crate::file::{self, io_err};
use crate::layout::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    V1,
    V2,
    Hybrid,
}

/// The container's directory in one v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct V1Dir {
    pub(crate) controllers: Vec<String>,
    pub(crate) mount_point: PathBuf,
    pub(crate) dir: PathBuf,
}

impl V1Dir {
    fn named(&self) -> bool {
        self.controllers.iter().all(|c| c.starts_with("name="))
    }
}

/// The container's directory in the cgroup2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UnifiedDir {
    pub(crate) mount_point: PathBuf,
    pub(crate) dir: PathBuf,
    /// What the cgroup2 root offers, as detected.
    pub(crate) controllers: Vec<String>,
}

/// A container's cgroup in every hierarchy of the host's layout.
///
/// Plain data apart from the record of which directories [`Cgroup::create`] made: serialize it into
/// the container's state and deserialize it in a later command to manage the same cgroup without
/// detecting the layout again.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cgroup {
    path: String,
    mode: Mode,
    #[serde(default)]
    v1: Vec<V1Dir>,
    #[serde(default)]
    unified: Option<UnifiedDir>,
    /// The topmost directory `create` made in each hierarchy (the leaf itself, or an ancestor when
    /// it had to make those too). `destroy` removes up to these and never above.
    #[serde(default)]
    created: Mutex<Vec<PathBuf>>,
}

impl Clone for Cgroup {
    fn clone(&self) -> Cgroup {
        Cgroup {
            path: self.path.clone(),
            mode: self.mode,
            v1: self.v1.clone(),
            unified: self.unified.clone(),
            created: Mutex::new(self.created_dirs()),
        }
    }
}

/// What a runtime needs to mount one hierarchy inside a container (`/sys/fs/cgroup/<dest>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Mount {
    /// The hierarchy as `/proc/self/cgroup` names it: `cpu,cpuacct`, `name=systemd`; empty for cgroup2.
    pub name: String,
    /// Options for mounting a fresh cgroup filesystem of this hierarchy with mount(2):
    /// `cpu,cpuacct`, `none,name=systemd`; empty for cgroup2.
    pub options: String,
    /// This container's cgroup directory in the hierarchy, on the host (what to bind-mount).
    pub host_dir: PathBuf,
    /// Where it goes under the container's `/sys/fs/cgroup`: `cpu,cpuacct`, `systemd`, `unified`;
    /// empty for the cgroup2 mount of a pure v2 host (it is `/sys/fs/cgroup` itself).
    pub dest: String,
    /// Symlinks to make beside it for joined controllers: `cpu` and `cpuacct` for `cpu,cpuacct`.
    pub links: Vec<String>,
    /// Whether this is the cgroup2 hierarchy.
    pub cgroup2: bool,
}

const PROCS: &str = "cgroup.procs";

impl Cgroup {
    /// The container's cgroup at `path` (as returned by [`crate::resolve_path`]) in every hierarchy of
    /// `layout`. No I/O. A relative `path` is placed under this process's own cgroup, as recorded in
    /// the layout (on pure v2, under its parent, as runc does).
    pub fn new(layout: &Layout, path: &str) -> Cgroup {
        let relative = !path.starts_with('/');
        let cleaned = crate::path::clean(path);
        let rel = cleaned.trim_start_matches('/');
        let place = |mount_point: &Path, root: &str, own: &str, parent_of_own: bool| -> PathBuf {
            if !relative {
                return mount_point.join(rel);
            }
            let mut own = own.strip_prefix(root).filter(|_| root != "/").unwrap_or(own);
            if parent_of_own {
                own = own.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            }
            mount_point
                .join(crate::path::clean(own).trim_start_matches('/'))
                .join(rel)
        };
        let v1: Vec<V1Dir> = layout
            .v1_hierarchies()
            .iter()
            .map(|h| V1Dir {
                controllers: h.controllers.clone(),
                mount_point: h.mount_point.clone(),
                dir: place(&h.mount_point, &h.root, &h.own, false),
            })
            .collect();
        let mode = match layout {
            Layout::V1 { .. } => Mode::V1,
            Layout::V2 { .. } => Mode::V2,
            Layout::Hybrid { .. } => Mode::Hybrid,
        };
        let unified = layout.unified().map(|u| UnifiedDir {
            mount_point: u.mount_point.clone(),
            dir: place(&u.mount_point, &u.root, &u.own, mode == Mode::V2),
            controllers: u.controllers.clone(),
        });
        Cgroup {
            path: cleaned,
            mode,
            v1,
            unified,
            created: Mutex::default(),
        }
    }

    /// The cgroup path this was built from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `"v1"`, `"v2"` or `"hybrid"`.
    pub fn mode(&self) -> &'static str {
        match self.mode {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Hybrid => "hybrid",
        }
    }

    /// The directory holding `controller`'s files for this container (`memory`, `cpu`, `pids`...):
    /// the v1 hierarchy that has it, else the cgroup2 directory when cgroup2 offers it (always on v2).
    pub fn controller_dir(&self, controller: &str) -> Option<&Path> {
        if let Some(d) = self.v1_dir(controller) {
            return Some(d);
        }
        let u = self.unified.as_ref()?;
        (self.mode == Mode::V2 || u.controllers.iter().any(|c| c == controller)).then_some(&u.dir)
    }

    /// The cgroup2 directory on a pure v2 host, for clone3(CLONE_INTO_CGROUP).
    pub fn v2_dir(&self) -> Option<PathBuf> {
        (self.mode == Mode::V2)
            .then(|| self.unified.as_ref().map(|u| u.dir.clone()))
            .flatten()
    }

    /// The cgroup2 directory on v2 and hybrid hosts.
    pub fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_ref().map(|u| u.dir.as_path())
    }

    /// Every directory of this cgroup, one per hierarchy (v1 first, then cgroup2).
    pub fn dirs(&self) -> Vec<&Path> {
        self.v1
            .iter()
            .map(|d| d.dir.as_path())
            .chain(self.unified.iter().map(|u| u.dir.as_path()))
            .collect()
    }

    /// The directories [`Cgroup::create`] made (topmost per hierarchy).
    pub fn created_dirs(&self) -> Vec<PathBuf> {
        self.created.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.dir.as_path())
    }

    pub(crate) fn is_v2(&self) -> bool {
        self.mode == Mode::V2
    }

    pub(crate) fn unified(&self) -> Option<&UnifiedDir> {
        self.unified.as_ref()
    }

    /// Makes the cgroup's directory in every hierarchy, with any missing ancestors.
    ///
    /// On v1 the cpuset directories made get `cpuset.cpus`/`cpuset.mems` copied from their parent
    /// when empty (the kernel refuses tasks in a cpuset without them). On v2 every controller the
    /// root offers is enabled in `cgroup.subtree_control` of each ancestor, so that any resource can
    /// be set later (as runc does). On failure, whatever this call made is removed again. Failing to
    /// make the directory in `name=systemd`, or in cgroup2 on a hybrid host, is ignored, as in runc.
    pub fn create(&self) -> Result<(), CgroupError> {
        let mut made: Vec<PathBuf> = Vec::new();
        let result = self.create_inner(&mut made);
        if let Err(e) = result {
            let mut errors = vec![e];
            for top in made.iter().rev() {
                let leaf = self.dirs().into_iter().find(|d| d.starts_with(top));
                if let Some(leaf) = leaf {
                    let mut p = Some(leaf);
                    while let Some(d) = p.filter(|d| d.starts_with(top)) {
                        if let Err(e) = fs::remove_dir(d) {
                            if e.raw_os_error() != Some(libc::ENOENT) {
                                errors.push(io_err("remove directory", d, &e));
                                break;
                            }
                        }
                        p = d.parent();
                    }
                }
            }
            return CgroupError::collect(errors);
        }
        self.created
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(made);
        Ok(())
    }

    fn create_inner(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        for d in &self.v1 {
            let top = match mkdir_p(&d.dir) {
                Ok(top) => top,
                // runc ignores failures of the named hierarchies it joins for show.
                Err(_) if d.named() => continue,
                Err(e) => return Err(e),
            };
            if let Some(t) = &top {
                made.push(t.clone());
            }
            if d.controllers.iter().any(|c| c == "cpuset") {
                cpuset_fill(&d.dir, top.as_deref())?;
            }
        }
        if let Some(u) = &self.unified {
            match mkdir_p(&u.dir) {
                Ok(Some(t)) => made.push(t),
                Ok(None) => {}
                // On hybrid hosts runc joins the cgroup2 hierarchy for show, ignoring failures
                // (a read-only mount in a container, say); so do we. A resource later set there
                // then fails naming its file.
                Err(_) if self.mode == Mode::Hybrid => return Ok(()),
                Err(e) => return Err(e),
            }
            if self.mode == Mode::V2 && !u.controllers.is_empty() {
                enable_controllers(&u.mount_point, &u.dir, &u.controllers, false)?;
            }
        }
        Ok(())
    }

    /// Moves process `pid` (all its threads) into the cgroup in every hierarchy. As with runc, failing
    /// to join `name=systemd` or, on hybrid hosts, the cgroup2 hierarchy is not an error.
    pub fn apply(&self, pid: i32) -> Result<(), CgroupError> {
        if pid == -1 {
            return Ok(());
        }
        let value = pid.to_string();
        for d in &self.v1 {
            match write_procs(&d.dir, &value) {
                Err(_) if d.named() => {}
                r => r?,
            }
        }
        if let Some(u) = &self.unified {
            match write_procs(&u.dir, &value) {
                Err(_) if self.mode == Mode::Hybrid => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// Applies `linux.resources`; also what `update` calls on a running container. Only what `r`
    /// asks for is written. An empty device list leaves the device rules as they are (pass the full
    /// list, with [`crate::default_allowed_devices`] appended as runc does, when creating).
    pub fn set(&self, r: &berth_oci::Resources) -> Result<(), CgroupError> {
        match self.mode {
            Mode::V2 => crate::v2::set(self, r),
            Mode::V1 | Mode::Hybrid => crate::v1::set(self, r),
        }
    }

    /// Freezes every process of the cgroup and waits until the kernel reports it frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        crate::freezer::freeze(self)
    }

    /// Thaws the cgroup.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        crate::freezer::thaw(self)
    }

    /// Whether the cgroup itself is frozen (not merely an ancestor, as runc reports).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        crate::freezer::is_frozen(self)
    }

    /// Every process in the cgroup and its child cgroups.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let Some(dir) = self.procs_dir() else {
            return Ok(Vec::new());
        };
        let mut pids = Vec::new();
        collect_pids(dir, &mut pids)?;
        Ok(pids)
    }

    /// The directory whose `cgroup.procs` lists the container's processes: the devices hierarchy
    /// on v1, as runc uses, else any.
    fn procs_dir(&self) -> Option<&Path> {
        if self.mode == Mode::V2 {
            return self.unified_dir();
        }
        self.v1_dir("devices")
            .or_else(|| self.v1.iter().find(|d| !d.named()).map(|d| d.dir.as_path()))
            .or_else(|| self.unified_dir())
    }

    /// Usage counters, shaped as runc's `events --stats` data.
    pub fn stats(&self) -> Result<crate::stats::Stats, CgroupError> {
        crate::stats::read(self)
    }

    /// How many times the OOM killer killed a process of this cgroup.
    pub fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let (path, key) = match (self.is_v2(), self.controller_dir("memory")) {
            (_, None) => return Ok(0),
            (true, Some(d)) => (d.join("memory.events"), "oom_kill"),
            (false, Some(d)) => (d.join("memory.oom_control"), "oom_kill"),
        };
        match file::read_opt(&path)? {
            None => Ok(0),
            Some(s) => file::keyed_value(&path, &s, key),
        }
    }

    /// Removes the cgroup in every hierarchy: child cgroups first (deepest first), then the
    /// directory, then the ancestors [`Cgroup::create`] made if they are empty. A directory already
    /// gone counts as removed; EBUSY (processes still exiting) is retried for about a second. Every
    /// hierarchy is attempted, and all failures are reported together.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let created = self.created_dirs();
        let mut errors = Vec::new();
        for dir in self.dirs() {
            if self.v1.iter().any(|d| d.mount_point == dir)
                || self.unified.iter().any(|u| u.mount_point == dir)
            {
                continue; // never a mount point
            }
            if let Err(e) = remove_tree(dir) {
                errors.push(e);
                continue;
            }
            let Some(top) = created.iter().find(|t| dir.starts_with(t) && *t != dir) else {
                continue;
            };
            let mut p = dir.parent();
            while let Some(d) = p.filter(|d| d.starts_with(top)) {
                match rmdir(d) {
                    Ok(()) => {}
                    // Shared with another container now: theirs to remove.
                    Err(e) if matches!(e.errno(), Some(libc::ENOTEMPTY) | Some(libc::EBUSY)) => break,
                    Err(e) => {
                        errors.push(e);
                        break;
                    }
                }
                p = d.parent();
            }
        }
        if errors.is_empty() {
            self.created.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        CgroupError::collect(errors)
    }

    /// Whether the cgroup's directory exists (checked in the hierarchy `pids()` reads).
    pub fn exists(&self) -> bool {
        self.procs_dir().is_some_and(|d| d.is_dir())
    }

    /// The hierarchies to mount inside the container, with this container's directory in each.
    pub fn v1_mounts(&self) -> Vec<V1Mount> {
        let mut out: Vec<V1Mount> = self
            .v1
            .iter()
            .map(|d| {
                let name = d.controllers.join(",");
                let dest = d
                    .mount_point
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let named = d.named();
                let links = if !named && d.controllers.len() > 1 {
                    d.controllers.iter().filter(|c| **c != dest).cloned().collect()
                } else {
                    Vec::new()
                };
                V1Mount {
                    options: if named {
                        format!("none,{name}")
                    } else {
                        name.clone()
                    },
                    name,
                    host_dir: d.dir.clone(),
                    dest,
                    links,
                    cgroup2: false,
                }
            })
            .collect();
        if let Some(u) = &self.unified {
            let dest = if self.mode == Mode::V2 {
                String::new()
            } else {
                u.mount_point
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            out.push(V1Mount {
                name: String::new(),
                options: String::new(),
                host_dir: u.dir.clone(),
                dest,
                links: Vec::new(),
                cgroup2: true,
            });
        }
        out
    }
}

/// `mkdir -p` that reports the topmost directory it made (None if `dir` existed). An ancestor
/// removed by a concurrent destroy between our mkdirs shows as ENOENT: start again, a few times.
pub(crate) fn mkdir_p(dir: &Path) -> Result<Option<PathBuf>, CgroupError> {
    let mut attempts = 0;
    loop {
        match mkdir_p_once(dir) {
            Err(e) if e.errno() == Some(libc::ENOENT) && attempts < 3 => attempts += 1,
            r => return r,
        }
    }
}

fn mkdir_p_once(dir: &Path) -> Result<Option<PathBuf>, CgroupError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(Some(dir.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let Some(parent) = dir.parent() else {
                return Err(io_err("create directory", dir, &e));
            };
            let top = mkdir_p_once(parent)?;
            match fs::create_dir(dir) {
                Ok(()) => Ok(Some(top.unwrap_or_else(|| dir.to_path_buf()))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(top),
                Err(e) => Err(io_err("create directory", dir, &e)),
            }
        }
        Err(e) => Err(io_err("create directory", dir, &e)),
    }
}

/// Copies `cpuset.cpus` and `cpuset.mems` from the parent into each directory from `top` (the
/// topmost one just made) down to `leaf`. A directory just made is empty, unless the parent has
/// `cgroup.clone_children` set, in which case the kernel copied the very same values: so it is
/// written without being read first. A leaf that existed is filled only if empty: a container
/// cannot start in an empty cpuset.
pub(crate) fn cpuset_fill(leaf: &Path, top: Option<&Path>) -> Result<(), CgroupError> {
    let start = top.unwrap_or(leaf);
    let mut chain: Vec<&Path> = leaf.ancestors().take_while(|d| d.starts_with(start)).collect();
    chain.reverse();
    for file_name in ["cpuset.cpus", "cpuset.mems"] {
        let mut parent_value: Option<String> = None;
        for d in &chain {
            let path = d.join(file_name);
            if top.is_none() {
                let own = file::read_single(&path)?;
                if !own.trim().is_empty() {
                    parent_value = Some(own);
                    continue;
                }
            }
            let value = match parent_value.take() {
                Some(v) => v,
                None => {
                    let parent = d.parent().unwrap_or(d);
                    file::read_single(&parent.join(file_name))?
                }
            };
            let value = value.trim().to_string();
            file::write(&path, &value)?;
            parent_value = Some(value);
        }
    }
    Ok(())
}

/// Enables `controllers` in `cgroup.subtree_control` of every directory from the cgroup2 root down
/// to the leaf's parent. If the whole list is refused (an ancestor lacks one), each is tried alone
/// and failures are left for the resource writes to report, as runc does. With `strict`, a
/// controller that cannot be enabled is an error naming the file.
pub(crate) fn enable_controllers(
    mount_point: &Path,
    leaf: &Path,
    controllers: &[String],
    strict: bool,
) -> Result<(), CgroupError> {
    let all = controllers
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut ancestors: Vec<&Path> = leaf
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(mount_point))
        .collect();
    ancestors.reverse();
    for d in ancestors {
        let path = d.join("cgroup.subtree_control");
        if file::write_raw(&path, &all).is_ok() {
            continue;
        }
        for c in controllers {
            let one = format!("+{c}");
            if let Err(e) = file::write(&path, &one) {
                if strict {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Writes a pid to `cgroup.procs`. EINVAL can mean the task is still being created (TASK_NEW):
/// retried a few times, as runc does.
fn write_procs(dir: &Path, pid: &str) -> Result<(), CgroupError> {
    let path = dir.join(PROCS);
    let mut f = file::open_w(&path).map_err(|e| file::write_err(&path, pid, &e))?;
    let mut tries = 0;
    loop {
        match f.write(pid.as_bytes()) {
            Ok(_) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            Err(e) => return Err(file::write_err(&path, pid, &e)),
        }
    }
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let path = dir.join(PROCS);
    let Some(text) = file::read_opt(&path)? else {
        return Ok(());
    };
    for l in text.lines().filter(|l| !l.is_empty()) {
        out.push(
            l.trim()
                .parse()
                .map_err(|_| file::parse_err(&path, format!("bad pid `{l}`")))?,
        );
    }
    for sub in subdirs(dir)? {
        collect_pids(&sub, out)?;
    }
    Ok(())
}

pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list directory", dir, &e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_err("list directory", dir, &e))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn rmdir(dir: &Path) -> Result<(), CgroupError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(CgroupError::Io {
            op: "remove directory",
            path: dir.to_path_buf(),
            errno: Errno::from_io(&e),
        }),
    }
}

/// runc's RemovePath: a fast rmdir; failing that, the child cgroups (deepest first), then rmdir
/// again with EBUSY retried (about a second in all) for processes that are still exiting.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    if rmdir(dir).is_ok() {
        return Ok(());
    }
    let children = subdirs(dir)?;
    if !dir.exists() {
        return Ok(());
    }
    for c in children {
        remove_tree(&c)?;
    }
    let mut delay = Duration::from_millis(1);
    for _ in 0..10 {
        match rmdir(dir) {
            Err(e) if e.errno() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            r => return r,
        }
    }
    rmdir(dir)
}
