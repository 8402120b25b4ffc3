//! How the runtime uses berth-cgroups: which cgroup a container gets and how its init enters it.

use std::path::PathBuf;

use berth_cgroups::{Cgroup, V1Mount};
use berth_oci::Spec;

use crate::commands::Global;
use crate::error::{Error, Result};

fn err(e: berth_cgroups::CgroupError) -> Error {
    Error::msg(e.to_string())
}

/// Creates the container's cgroup with the config's resources.
pub fn create(g: &Global, spec: &Spec, id: &str) -> Result<Cgroup> {
    let layout = berth_cgroups::detect().map_err(err)?;
    let path = berth_cgroups::resolve_path(spec.linux().cgroups_path.as_deref(), id, g.systemd_cgroup)
        .map_err(err)?;
    let cg = Cgroup::new(&layout, &path);
    cg.create().map_err(err)?;
    if let Err(e) = cg.set(&effective_resources(spec)) {
        let _ = cg.destroy();
        return Err(err(e).in_container(id));
    }
    Ok(cg)
}

/// The config's resources plus the device rules runc always adds: the standard `/dev` nodes, mknod
/// of anything, and every device the config creates.
// Ref: runc libcontainer/specconv AllowedDevices and CreateCgroupConfig.
pub fn effective_resources(spec: &Spec) -> berth_oci::Resources {
    let mut r = spec.linux().resources.clone().unwrap_or_default();
    r.devices.extend(berth_cgroups::default_allowed_devices());
    for d in &spec.linux().devices {
        r.devices.push(berth_oci::DeviceCgroup {
            allow: true,
            typ: Some(if d.typ == "u" { "c".into() } else { d.typ.clone() }),
            major: Some(d.major),
            minor: Some(d.minor),
            access: Some("rwm".into()),
        });
    }
    r
}

/// The cgroup2 directory to clone the init straight into (pure v2, and the cgroup2 part of hybrid).
pub fn v2_dir(cg: &Cgroup) -> Option<PathBuf> {
    cg.unified_dir().map(|d| d.to_path_buf())
}

/// The v1 directories the init enters by itself.
pub fn v1_dirs(cg: &Cgroup) -> Vec<PathBuf> {
    let unified = cg.unified_dir();
    cg.dirs()
        .into_iter()
        .filter(|d| Some(*d) != unified)
        .map(|d| d.to_path_buf())
        .collect()
}

/// The slow path: move `pid` into every hierarchy (used when the init cannot write host cgroup files).
pub fn apply(cg: &Cgroup, pid: i32) -> Result<()> {
    cg.apply(pid).map_err(err)
}

pub fn views(cg: &Cgroup) -> Vec<V1Mount> {
    cg.v1_mounts()
}

/// The fast path of decision 0003: the calling (single-threaded) process moves itself into each v1
/// directory by writing `0` to `tasks`, which costs no RCU grace period.
pub fn join_self(dirs: &[PathBuf]) -> Result<()> {
    for dir in dirs {
        let tasks = dir.join("tasks");
        std::fs::write(&tasks, b"0").map_err(|e| Error::io("join cgroup", tasks.display(), e))?;
    }
    Ok(())
}
