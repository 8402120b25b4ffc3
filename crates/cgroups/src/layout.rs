//! Which cgroup hierarchies this host has, found once from the mount table.
//!
//! - **v1**: one `cgroup` mount per controller set (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/cpu,cpuacct`).
//! - **v2**: one `cgroup2` mount holding every controller.
//! - **hybrid**: the v1 mounts plus a `cgroup2` mount (usually `/sys/fs/cgroup/unified`) that holds
//!   the controllers no v1 hierarchy took (often none, sometimes hugetlb).
//!
//! The parsed layout is plain data: a [`crate::Cgroup`] built from it never reads the mount table again.
// Ref: proc(5) /proc/[pid]/mountinfo, cgroups(7) /proc/[pid]/cgroup.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CgroupError;
use crate::file;

/// The v1 controllers a container joins. Other named hierarchies are left alone, except
/// `name=systemd`, which runc joins too so that `/proc/<pid>/cgroup` reads the same in every line.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];
const SYSTEMD_NAME: &str = "name=systemd";

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Hierarchy {
    /// The controllers bound to it, as the kernel spells them (`["cpu", "cpuacct"]`), or the
    /// hierarchy's name for a named one (`["name=systemd"]`).
    pub controllers: Vec<String>,
    /// Where it is mounted (with the detection root prefix applied).
    pub mount_point: PathBuf,
    /// The cgroup the mount shows at its mount point (mountinfo field 4; `/` on a host).
    pub root: String,
    /// This process's cgroup in the hierarchy (from `/proc/self/cgroup`), used for relative paths.
    pub own: String,
}

/// The cgroup2 mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unified {
    pub mount_point: PathBuf,
    pub root: String,
    pub own: String,
    /// The controllers its root offers (`cgroup.controllers` at the mount point).
    pub controllers: Vec<String>,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Layout {
    V1 {
        hierarchies: Vec<V1Hierarchy>,
    },
    V2 {
        unified: Unified,
    },
    Hybrid {
        hierarchies: Vec<V1Hierarchy>,
        unified: Unified,
    },
}

impl Layout {
    /// The v1 hierarchies (empty on v2).
    pub fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        match self {
            Layout::V1 { hierarchies } | Layout::Hybrid { hierarchies, .. } => hierarchies,
            Layout::V2 { .. } => &[],
        }
    }

    /// The cgroup2 mount (v2 and hybrid).
    pub fn unified(&self) -> Option<&Unified> {
        match self {
            Layout::V2 { unified } | Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }

    /// `"v1"`, `"v2"` or `"hybrid"`.
    pub fn mode(&self) -> &'static str {
        match self {
            Layout::V1 { .. } => "v1",
            Layout::V2 { .. } => "v2",
            Layout::Hybrid { .. } => "hybrid",
        }
    }
}

/// Detects the layout of this process's mount namespace from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`.
pub fn detect() -> Result<Layout, CgroupError> {
    let mountinfo = file::read(Path::new("/proc/self/mountinfo"))?;
    let own = file::read_opt(Path::new("/proc/self/cgroup"))?;
    detect_from_parts(&mountinfo, own.as_deref(), Path::new("/"))
}

/// Detects the layout from a mountinfo text, for tests on a fake tree: `root_prefix` is prepended to
/// every mount point. The process's own cgroups are taken to be `/` in every hierarchy.
pub fn detect_from(mountinfo: &str, root_prefix: &Path) -> Result<Layout, CgroupError> {
    detect_from_parts(mountinfo, None, root_prefix)
}

/// [`detect_from`] with the text of `/proc/<pid>/cgroup` naming the process's own cgroups (used to
/// resolve relative cgroups paths).
pub fn detect_from_parts(
    mountinfo: &str,
    proc_cgroup: Option<&str>,
    root_prefix: &Path,
) -> Result<Layout, CgroupError> {
    let mut hierarchies: Vec<V1Hierarchy> = Vec::new();
    let mut unified: Option<Unified> = None;

    for line in mountinfo.lines() {
        let Some(m) = parse_mountinfo_line(line) else {
            continue;
        };
        match m.fstype {
            "cgroup" => {
                let controllers = v1_controllers(m.super_options);
                if controllers.is_empty() || hierarchies.iter().any(|h| h.controllers == controllers) {
                    continue;
                }
                let own = own_v1(proc_cgroup, &controllers);
                hierarchies.push(V1Hierarchy {
                    controllers,
                    mount_point: prefixed(root_prefix, &m.mount_point),
                    root: m.root,
                    own,
                });
            }
            "cgroup2" if unified.is_none() => {
                let mount_point = prefixed(root_prefix, &m.mount_point);
                let controllers = file::read_raw(&mount_point.join("cgroup.controllers"))
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default();
                let own = own_v2(proc_cgroup);
                unified = Some(Unified {
                    mount_point,
                    root: m.root,
                    own,
                    controllers,
                });
            }
            _ => {}
        }
    }

    let has_v1_controllers = hierarchies
        .iter()
        .any(|h| h.controllers.iter().any(|c| c != SYSTEMD_NAME));
    match (has_v1_controllers, unified) {
        (true, Some(unified)) => Ok(Layout::Hybrid { hierarchies, unified }),
        (true, None) => Ok(Layout::V1 { hierarchies }),
        (false, Some(unified)) => Ok(Layout::V2 { unified }),
        (false, None) => Err(CgroupError::Layout(
            "no cgroup or cgroup2 mount in mountinfo".into(),
        )),
    }
}

fn prefixed(root_prefix: &Path, mount_point: &str) -> PathBuf {
    root_prefix.join(mount_point.trim_start_matches('/'))
}

struct MountLine<'a> {
    root: String,
    mount_point: String,
    fstype: &'a str,
    super_options: &'a str,
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
fn parse_mountinfo_line(line: &str) -> Option<MountLine<'_>> {
    let mut fields = line.split(' ');
    let _id = fields.next()?;
    let _parent = fields.next()?;
    let _dev = fields.next()?;
    let root = unescape(fields.next()?);
    let mount_point = unescape(fields.next()?);
    let _opts = fields.next()?;
    // Optional fields end at a lone "-".
    for f in fields.by_ref() {
        if f == "-" {
            break;
        }
    }
    let fstype = fields.next()?;
    let _source = fields.next()?;
    let super_options = fields.next().unwrap_or("");
    Some(MountLine {
        root,
        mount_point,
        fstype,
        super_options,
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn v1_controllers(super_options: &str) -> Vec<String> {
    super_options
        .split(',')
        .filter(|o| V1_CONTROLLERS.contains(o) || *o == SYSTEMD_NAME)
        .map(str::to_string)
        .collect()
}

fn own_v1(proc_cgroup: Option<&str>, controllers: &[String]) -> String {
    let Some(text) = proc_cgroup else {
        return "/".into();
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            continue;
        }
        let n = ctrls.split(',').count();
        if n == controllers.len() && ctrls.split(',').all(|c| controllers.iter().any(|x| x == c)) {
            return path.to_string();
        }
    }
    "/".into()
}

fn own_v2(proc_cgroup: Option<&str>) -> String {
    proc_cgroup
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("0::")))
        .unwrap_or("/")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine: v1 controllers each in its own mount, name=systemd, cgroup2 at .../unified.
    pub(crate) const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A systemd host of the Ubuntu 18.04 era: joined cpu,cpuacct and net_cls,net_prio, no cgroup2.
    const V1: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,devices
33 25 0:30 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,hugetlb
34 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
35 25 0:32 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset,clone_children
36 25 0:33 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,freezer
37 25 0:34 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,blkio
38 25 0:35 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,perf_event
";

    /// Fedora / Debian 11+: pure cgroup2 at /sys/fs/cgroup.
    const V2: &str = "\
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn detects_hybrid_like_this_machine() {
        let proc_cgroup = "9:name=systemd:/\n4:memory:/process_api/85d2\n3:cpuset:/\n0::/\n";
        let l = detect_from_parts(HYBRID, Some(proc_cgroup), Path::new("/nonexistent")).unwrap();
        assert_eq!(l.mode(), "hybrid");
        let names: Vec<String> = l
            .v1_hierarchies()
            .iter()
            .map(|h| h.controllers.join(","))
            .collect();
        assert_eq!(
            names,
            [
                "cpu",
                "cpuacct",
                "cpuset",
                "memory",
                "devices",
                "freezer",
                "blkio",
                "pids",
                "name=systemd"
            ]
        );
        let mem = &l.v1_hierarchies()[3];
        assert_eq!(mem.mount_point, Path::new("/nonexistent/sys/fs/cgroup/memory"));
        assert_eq!(mem.own, "/process_api/85d2");
        let u = l.unified().unwrap();
        assert_eq!(u.mount_point, Path::new("/nonexistent/sys/fs/cgroup/unified"));
        assert!(
            u.controllers.is_empty(),
            "no cgroup.controllers in a missing tree"
        );
    }

    #[test]
    fn detects_v1_with_joined_controllers() {
        let l = detect_from(V1, Path::new("/")).unwrap();
        assert_eq!(l.mode(), "v1");
        let h = &l.v1_hierarchies()[1];
        assert_eq!(h.controllers, ["cpu", "cpuacct"]);
        assert_eq!(h.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        // xattr and clone_children are options, not controllers.
        assert_eq!(l.v1_hierarchies()[0].controllers, ["name=systemd"]);
        assert_eq!(l.v1_hierarchies()[7].controllers, ["cpuset"]);
        assert_eq!(l.v1_hierarchies().len(), 11);
        assert!(l.unified().is_none());
    }

    #[test]
    fn detects_v2_and_reads_root_controllers() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sys/fs/cgroup")).unwrap();
        std::fs::write(
            d.path().join("sys/fs/cgroup/cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let l = detect_from_parts(V2, Some("0::/user.slice/x.scope\n"), d.path()).unwrap();
        let Layout::V2 { unified } = &l else {
            panic!("{l:?}")
        };
        assert_eq!(unified.controllers, ["cpuset", "cpu", "io", "memory", "pids"]);
        assert_eq!(unified.own, "/user.slice/x.scope");
        assert_eq!(unified.root, "/");
    }

    #[test]
    fn no_cgroup_mounts_is_an_error() {
        let e = detect_from("22 27 0:21 / /proc rw - proc proc rw\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("no cgroup"), "{e}");
    }

    #[test]
    fn escaped_mount_points_and_optional_fields() {
        let mi =
            "40 31 0:37 /a\\040b /sys/fs/cgroup/my\\040mem rw shared:3 master:2 - cgroup cgroup rw,memory\n";
        let l = detect_from(mi, Path::new("/")).unwrap();
        let h = &l.v1_hierarchies()[0];
        assert_eq!(h.mount_point, Path::new("/sys/fs/cgroup/my mem"));
        assert_eq!(h.root, "/a b");
    }

    #[test]
    fn first_mount_of_a_hierarchy_wins() {
        let mi = "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  2 0 0:1 / /mnt/again rw - cgroup cgroup rw,memory\n";
        let l = detect_from(mi, Path::new("/")).unwrap();
        assert_eq!(l.v1_hierarchies().len(), 1);
        assert_eq!(
            l.v1_hierarchies()[0].mount_point,
            Path::new("/sys/fs/cgroup/memory")
        );
    }

    #[test]
    fn detect_on_this_host_works() {
        // Whatever the host is, detection from the real files must succeed where cgroups are mounted.
        if Path::new("/sys/fs/cgroup").exists() {
            let l = detect().unwrap();
            assert!(!l.v1_hierarchies().is_empty() || l.unified().is_some());
        }
    }
}
