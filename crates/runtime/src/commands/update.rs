//! `update`: change a running container's resources, from `--resources FILE` and/or flags.

use std::io::Read;
use std::path::Path;

use berth_oci::{BlockIo, Cpu, Memory, Pids, Resources, Status};

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::state::ContainerState;

/// The flags of `runc update`, each optional.
#[derive(Debug, Default, Clone)]
pub struct UpdateFlags {
    pub resources: Option<String>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
}

pub fn update(g: &Global, id: &str, f: &UpdateFlags) -> Result<()> {
    let mut st = ContainerState::load(&g.root, id)?;
    if st.status(&g.root) == Status::Stopped {
        return Err(Error::msg(format!(
            "cannot update container `{id}`: it is stopped"
        )));
    }
    let cg = st
        .cgroup
        .clone()
        .ok_or_else(|| Error::msg(format!("container `{id}` has no cgroup")))?;
    let mut r = st
        .config
        .linux
        .as_ref()
        .and_then(|l| l.resources.clone())
        .unwrap_or_default();
    let mut delta = Resources::default();
    if let Some(src) = &f.resources {
        let data = if src == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("read", "stdin", e))?;
            s
        } else {
            std::fs::read_to_string(Path::new(src)).map_err(|e| Error::io("read", src, e))?
        };
        delta = serde_json::from_str(&data)
            .map_err(|e| Error::msg(format!("invalid resources in `{src}`: {e}")))?;
    }
    merge(&mut r, &delta);
    let mem = r.memory.get_or_insert_with(Memory::default);
    set(&mut mem.limit, f.memory);
    set(&mut mem.reservation, f.memory_reservation);
    set(&mut mem.swap, f.memory_swap);
    let cpu = r.cpu.get_or_insert_with(Cpu::default);
    set(&mut cpu.shares, f.cpu_shares);
    set(&mut cpu.period, f.cpu_period);
    set(&mut cpu.quota, f.cpu_quota);
    set(&mut cpu.cpus, f.cpuset_cpus.clone());
    set(&mut cpu.mems, f.cpuset_mems.clone());
    if let Some(l) = f.pids_limit {
        r.pids = Some(Pids { limit: l });
    }
    if let Some(w) = f.blkio_weight {
        r.block_io.get_or_insert_with(BlockIo::default).weight = Some(w);
    }
    // Only what changed is written: unchanged files are left as they are (and a cgroup file that
    // does not exist on this host is not an error unless asked for).
    let mut changes = delta.clone();
    {
        let m = changes.memory.get_or_insert_with(Memory::default);
        set(&mut m.limit, f.memory);
        set(&mut m.reservation, f.memory_reservation);
        set(&mut m.swap, f.memory_swap);
        let c = changes.cpu.get_or_insert_with(Cpu::default);
        set(&mut c.shares, f.cpu_shares);
        set(&mut c.period, f.cpu_period);
        set(&mut c.quota, f.cpu_quota);
        set(&mut c.cpus, f.cpuset_cpus.clone());
        set(&mut c.mems, f.cpuset_mems.clone());
        if let Some(l) = f.pids_limit {
            changes.pids = Some(Pids { limit: l });
        }
        if let Some(w) = f.blkio_weight {
            changes.block_io.get_or_insert_with(BlockIo::default).weight = Some(w);
        }
        // Swap is relative to the memory limit: when either changes, send both.
        if m.swap.is_some() || m.limit.is_some() {
            let full = r.memory.clone().unwrap_or_default();
            if m.limit.is_none() {
                m.limit = full.limit;
            }
            if m.swap.is_none() {
                m.swap = full.swap;
            }
        }
    }
    cg.set(&changes)
        .map_err(|e| Error::msg(format!("cannot update container `{id}`: {e}")))?;
    st.config.linux.get_or_insert_with(Default::default).resources = Some(r);
    st.save(&g.root)
}

fn set<T>(slot: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *slot = v;
    }
}

/// Overlays the fields present in `d` onto `r`.
fn merge(r: &mut Resources, d: &Resources) {
    if let Some(dm) = &d.memory {
        let m = r.memory.get_or_insert_with(Memory::default);
        set(&mut m.limit, dm.limit);
        set(&mut m.reservation, dm.reservation);
        set(&mut m.swap, dm.swap);
        set(&mut m.swappiness, dm.swappiness);
        set(&mut m.disable_oom_killer, dm.disable_oom_killer);
    }
    if let Some(dc) = &d.cpu {
        let c = r.cpu.get_or_insert_with(Cpu::default);
        set(&mut c.shares, dc.shares);
        set(&mut c.quota, dc.quota);
        set(&mut c.period, dc.period);
        set(&mut c.burst, dc.burst);
        set(&mut c.cpus, dc.cpus.clone());
        set(&mut c.mems, dc.mems.clone());
        set(&mut c.realtime_runtime, dc.realtime_runtime);
        set(&mut c.realtime_period, dc.realtime_period);
        set(&mut c.idle, dc.idle);
    }
    if d.pids.is_some() {
        r.pids = d.pids.clone();
    }
    if d.block_io.is_some() {
        r.block_io = d.block_io.clone();
    }
    if !d.hugepage_limits.is_empty() {
        r.hugepage_limits = d.hugepage_limits.clone();
    }
    if !d.devices.is_empty() {
        r.devices = d.devices.clone();
    }
    for (k, v) in &d.unified {
        r.unified.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_unspecified_fields() {
        let mut r = Resources {
            memory: Some(Memory {
                limit: Some(100),
                swap: Some(200),
                ..Default::default()
            }),
            pids: Some(Pids { limit: 10 }),
            ..Default::default()
        };
        let d = Resources {
            memory: Some(Memory {
                limit: Some(300),
                ..Default::default()
            }),
            ..Default::default()
        };
        merge(&mut r, &d);
        let m = r.memory.unwrap();
        assert_eq!((m.limit, m.swap), (Some(300), Some(200)));
        assert_eq!(r.pids.unwrap().limit, 10);
    }
}
