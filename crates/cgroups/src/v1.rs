//! `linux.resources` on cgroup v1 (and hybrid, whose controllers are v1).
// Ref: runc (opencontainers/cgroups) fs/*.go Set functions. Controllers are set in runc's order.

use std::path::Path;

use berth_oci::{BlockIo, Cpu, Memory, Resources};

use crate::cgroup::{enable_controllers, Cgroup};
use crate::error::CgroupError;
use crate::file::{self, MultiWriter};

pub(crate) fn set(cg: &Cgroup, r: &Resources) -> Result<(), CgroupError> {
    if !r.unified.is_empty() && cg.unified().is_none() {
        return Err(CgroupError::InvalidResource(
            "`unified` needs a cgroup2 hierarchy, and this host has only cgroup v1".into(),
        ));
    }
    crate::v2::check_unified_keys(&r.unified)?;
    if let Some(m) = &r.memory {
        if let Some(s) = m.swappiness.filter(|s| *s != u64::MAX && *s > 100) {
            return Err(CgroupError::InvalidResource(format!(
                "memory swappiness {s} is out of range 0-100"
            )));
        }
    }
    for h in &r.hugepage_limits {
        crate::v2::check_page_size(&h.page_size)?;
    }

    if let Some(c) = &r.cpu {
        cpuset(cg, c)?;
    }
    if !r.devices.is_empty() {
        let rules = crate::devices::rules_from_oci(&r.devices)?;
        crate::devices::set_v1(need(cg, "devices", "device rules")?, &rules)?;
    }
    if let Some(m) = &r.memory {
        memory(cg, m)?;
    }
    if let Some(c) = &r.cpu {
        cpu(cg, c)?;
    }
    if let Some(p) = &r.pids {
        let dir = need(cg, "pids", "the pids limit")?;
        file::write(&dir.join("pids.max"), &crate::v2::pids_value(p.limit))?;
    }
    if let Some(b) = &r.block_io {
        blkio(cg, b)?;
    }
    if !r.hugepage_limits.is_empty() {
        hugetlb(cg, r)?;
    }
    if let Some(n) = &r.network {
        if let Some(id) = n.class_id {
            let dir = need(cg, "net_cls", "the network class id")?;
            file::write(&dir.join("net_cls.classid"), &id.to_string())?;
        }
        if !n.priorities.is_empty() {
            let dir = need(cg, "net_prio", "network priorities")?;
            let mut w = MultiWriter::new(dir.join("net_prio.ifpriomap"));
            for p in &n.priorities {
                w.write(&format!("{} {}", p.name, p.priority))?;
            }
        }
    }
    if let Some(u) = cg.unified() {
        crate::v2::write_unified(&u.dir, &r.unified)?;
    }
    Ok(())
}

fn need<'a>(cg: &'a Cgroup, controller: &'static str, what: &'static str) -> Result<&'a Path, CgroupError> {
    cg.v1_dir(controller)
        .ok_or(CgroupError::ControllerMissing { controller, what })
}

fn cpuset(cg: &Cgroup, c: &Cpu) -> Result<(), CgroupError> {
    let cpus = c.cpus.as_deref().filter(|s| !s.is_empty());
    let mems = c.mems.as_deref().filter(|s| !s.is_empty());
    if cpus.is_none() && mems.is_none() {
        return Ok(());
    }
    let dir = need(cg, "cpuset", "cpuset cpus/mems")?;
    if let Some(v) = cpus {
        file::write(&dir.join("cpuset.cpus"), v)?;
    }
    if let Some(v) = mems {
        file::write(&dir.join("cpuset.mems"), v)?;
    }
    Ok(())
}

fn memory(cg: &Cgroup, m: &Memory) -> Result<(), CgroupError> {
    let requested = m.limit.is_some_and(|v| v != 0)
        || m.swap.is_some_and(|v| v != 0)
        || m.reservation.is_some_and(|v| v != 0)
        || m.kernel.is_some()
        || m.kernel_tcp.is_some()
        || m.swappiness.is_some_and(|s| s != u64::MAX)
        || m.disable_oom_killer == Some(true);
    if !requested {
        return Ok(());
    }
    let dir = need(cg, "memory", "memory limits")?;
    let limit = m.limit.unwrap_or(0);
    let mut swap = m.swap.unwrap_or(0);
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    // Unlimited memory with swap unspecified means unlimited memory+swap, when swap is accounted.
    if limit == -1 && swap == 0 && memsw.exists() {
        swap = -1;
    }
    // memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every step, so when
    // raising, swap goes first.
    let swap_first = limit != 0 && swap != 0 && {
        let cur_path = dir.join("memory.limit_in_bytes");
        let cur = file::read_u64_opt(&cur_path)?.ok_or_else(|| file::parse_err(&cur_path, "missing"))?;
        swap == -1 || cur < swap as u64
    };
    if swap_first {
        set_swap(&memsw, swap)?;
        set_limit(dir, limit)?;
    } else {
        set_limit(dir, limit)?;
        set_swap(&memsw, swap)?;
    }
    if let Some(v) = m.reservation.filter(|v| *v != 0) {
        file::write(&dir.join("memory.soft_limit_in_bytes"), &v.to_string())?;
    }
    // Kernel memory limits are gone from recent kernels (missing file, or EOPNOTSUPP): runc
    // ignores them altogether; we apply them where the kernel still can.
    for (v, name) in [
        (m.kernel, "memory.kmem.limit_in_bytes"),
        (m.kernel_tcp, "memory.kmem.tcp.limit_in_bytes"),
    ] {
        if let Some(v) = v {
            let path = dir.join(name);
            let value = v.to_string();
            if let Err(e) = file::write_raw(&path, &value) {
                if !matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EOPNOTSUPP)) {
                    return Err(file::write_err(&path, &value, &e));
                }
            }
        }
    }
    if m.disable_oom_killer == Some(true) {
        file::write(&dir.join("memory.oom_control"), "1")?;
    }
    if let Some(s) = m.swappiness.filter(|s| *s != u64::MAX) {
        file::write(&dir.join("memory.swappiness"), &s.to_string())?;
    }
    Ok(())
}

fn set_limit(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    if limit == 0 {
        return Ok(());
    }
    let path = dir.join("memory.limit_in_bytes");
    let value = limit.to_string();
    match file::write_raw(&path, &value) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let usage = file::read_u64_opt(&dir.join("memory.usage_in_bytes"))?.unwrap_or(0);
            let peak = file::read_u64_opt(&dir.join("memory.max_usage_in_bytes"))?.unwrap_or(0);
            Err(CgroupError::MemoryBelowUsage {
                path,
                value,
                usage,
                peak,
            })
        }
        Err(e) => Err(file::write_err(&path, &value, &e)),
    }
}

fn set_swap(memsw: &Path, swap: i64) -> Result<(), CgroupError> {
    if swap == 0 {
        return Ok(());
    }
    file::write(memsw, &swap.to_string())
}

fn cpu(cg: &Cgroup, c: &Cpu) -> Result<(), CgroupError> {
    let shares = c.shares.filter(|s| *s != 0);
    let period = c.period.filter(|p| *p != 0);
    let quota = c.quota.filter(|q| *q != 0);
    let rt_period = c.realtime_period.filter(|p| *p != 0);
    let rt_runtime = c.realtime_runtime.filter(|r| *r != 0);
    if shares.is_none()
        && period.is_none()
        && quota.is_none()
        && c.burst.is_none()
        && c.idle.is_none()
        && rt_period.is_none()
        && rt_runtime.is_none()
    {
        return Ok(());
    }
    let dir = need(cg, "cpu", "cpu limits")?;
    if let Some(s) = shares {
        let path = dir.join("cpu.shares");
        file::write(&path, &s.to_string())?;
        // The kernel clamps out-of-range shares silently: read back and say so, as runc does.
        let got = file::read_u64_opt(&path)?.unwrap_or(s);
        if got != s {
            let bound = if s > got { "maximum" } else { "minimum" };
            return Err(CgroupError::InvalidResource(format!(
                "cpu shares {s} out of range: the {bound} allowed is {got}"
            )));
        }
    }
    // A smaller period can be refused (EINVAL) while the old quota no longer fits the parent's;
    // when a quota follows, retry after it.
    let mut period_later = None;
    if let Some(p) = period {
        let path = dir.join("cpu.cfs_period_us");
        let v = p.to_string();
        if let Err(e) = file::write_raw(&path, &v) {
            if e.raw_os_error() != Some(libc::EINVAL) || quota.is_none() {
                return Err(file::write_err(&path, &v, &e));
            }
            period_later = Some((path, v));
        }
    }
    let mut burst_later = None;
    if let Some(b) = c.burst {
        let path = dir.join("cpu.cfs_burst_us");
        let v = b.to_string();
        match file::write_raw(&path, &v) {
            Ok(()) => {}
            // No burst knob on older kernels: ignored, as runc does.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota.is_some() => {
                burst_later = Some((path, v))
            }
            Err(e) => return Err(file::write_err(&path, &v, &e)),
        }
    }
    if let Some(q) = quota {
        file::write(&dir.join("cpu.cfs_quota_us"), &q.to_string())?;
        for (path, v) in period_later.iter().chain(burst_later.iter()) {
            file::write(path, v)?;
        }
    }
    if let Some(i) = c.idle {
        file::write(&dir.join("cpu.idle"), &i.to_string())?;
    }
    // cpu.rt_period_us and cpu.rt_runtime_us constrain each other: if the period is refused and a
    // runtime follows, set the period again after it.
    let mut rt_period_later = None;
    if let Some(p) = rt_period {
        let path = dir.join("cpu.rt_period_us");
        let v = p.to_string();
        if let Err(e) = file::write_raw(&path, &v) {
            if e.raw_os_error() != Some(libc::EINVAL) || rt_runtime.is_none() {
                return Err(file::write_err(&path, &v, &e));
            }
            rt_period_later = Some((path, v));
        }
    }
    if let Some(rt) = rt_runtime {
        file::write(&dir.join("cpu.rt_runtime_us"), &rt.to_string())?;
        if let Some((path, v)) = rt_period_later {
            file::write(&path, &v)?;
        }
    }
    Ok(())
}

/// Writes to the first of `names` that exists; if none does, the error names the first.
fn write_first(dir: &Path, names: [&str; 2], value: &str) -> Result<(), CgroupError> {
    let first = dir.join(names[0]);
    match file::write_raw(&first, value) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match file::write_raw(&dir.join(names[1]), value)
        {
            Err(e2) if e2.raw_os_error() == Some(libc::ENOENT) => Err(file::write_err(&first, value, &e)),
            Err(e2) => Err(file::write_err(&dir.join(names[1]), value, &e2)),
            Ok(()) => Ok(()),
        },
        Err(e) => Err(file::write_err(&first, value, &e)),
        Ok(()) => Ok(()),
    }
}

fn blkio(cg: &Cgroup, b: &BlockIo) -> Result<(), CgroupError> {
    let weight = b.weight.filter(|w| *w != 0);
    let leaf_weight = b.leaf_weight.filter(|w| *w != 0);
    let requested = weight.is_some()
        || leaf_weight.is_some()
        || !b.weight_device.is_empty()
        || !b.throttle_read_bps_device.is_empty()
        || !b.throttle_write_bps_device.is_empty()
        || !b.throttle_read_iops_device.is_empty()
        || !b.throttle_write_iops_device.is_empty();
    if !requested {
        return Ok(());
    }
    let dir = need(cg, "blkio", "block I/O limits")?;
    // CFQ's blkio.weight, or BFQ's blkio.bfq.weight where CFQ is gone.
    if let Some(w) = weight {
        write_first(dir, ["blkio.weight", "blkio.bfq.weight"], &w.to_string())?;
    }
    if let Some(w) = leaf_weight {
        file::write(&dir.join("blkio.leaf_weight"), &w.to_string())?;
    }
    for wd in &b.weight_device {
        if let Some(w) = wd.weight.filter(|w| *w != 0) {
            let v = format!("{}:{} {}", wd.major, wd.minor, w);
            write_first(dir, ["blkio.weight_device", "blkio.bfq.weight_device"], &v)?;
        }
        if let Some(w) = wd.leaf_weight.filter(|w| *w != 0) {
            file::write(
                &dir.join("blkio.leaf_weight_device"),
                &format!("{}:{} {}", wd.major, wd.minor, w),
            )?;
        }
    }
    for (list, name) in [
        (&b.throttle_read_bps_device, "blkio.throttle.read_bps_device"),
        (&b.throttle_write_bps_device, "blkio.throttle.write_bps_device"),
        (&b.throttle_read_iops_device, "blkio.throttle.read_iops_device"),
        (&b.throttle_write_iops_device, "blkio.throttle.write_iops_device"),
    ] {
        if list.is_empty() {
            continue;
        }
        let mut w = MultiWriter::new(dir.join(name));
        for t in list {
            w.write(&format!("{}:{} {}", t.major, t.minor, t.rate))?;
        }
    }
    Ok(())
}

fn hugetlb(cg: &Cgroup, r: &Resources) -> Result<(), CgroupError> {
    if let Some(dir) = cg.v1_dir("hugetlb") {
        return crate::v2::write_hugetlb(dir, &r.hugepage_limits, "limit_in_bytes");
    }
    // Hybrid with hugetlb only in cgroup2: enable it down to our directory, then set it there.
    match cg.unified() {
        Some(u) if u.controllers.iter().any(|c| c == "hugetlb") => {
            enable_controllers(&u.mount_point, &u.dir, &["hugetlb".to_string()], true)?;
            crate::v2::write_hugetlb(&u.dir, &r.hugepage_limits, "max")
        }
        _ => Err(CgroupError::ControllerMissing {
            controller: "hugetlb",
            what: "hugepage limits",
        }),
    }
}
