//! `linux.resources` on cgroup v2.
// Ref: runc (opencontainers/cgroups) fs2/*.go and utils.go conversions. Order as fs2.Manager.Set.

use std::collections::BTreeMap;
use std::path::Path;

use berth_oci::{BlockIo, Cpu, HugepageLimit, Memory, Resources};

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::file::{self, MultiWriter};

pub(crate) fn set(cg: &Cgroup, r: &Resources) -> Result<(), CgroupError> {
    let Some(u) = cg.unified() else {
        return Err(CgroupError::Layout(
            "a cgroup v2 cgroup without a cgroup2 directory".into(),
        ));
    };
    let dir = u.dir.as_path();
    check_unified_keys(&r.unified)?;
    for h in &r.hugepage_limits {
        check_page_size(&h.page_size)?;
    }
    if let Some(c) = &r.cpu {
        if c.realtime_period.is_some_and(|v| v != 0) || c.realtime_runtime.is_some_and(|v| v != 0) {
            return Err(CgroupError::InvalidResource(
                "realtime CPU limits (realtimePeriod, realtimeRuntime) need cgroup v1".into(),
            ));
        }
    }

    if let Some(p) = &r.pids {
        file::write(&dir.join("pids.max"), &pids_value(p.limit))?;
    }
    // Swappiness, kernel memory and disableOOMKiller have no v2 equivalent and are ignored, as runc
    // does.
    if let Some(m) = &r.memory {
        memory(dir, m)?;
    }
    if let Some(b) = &r.block_io {
        io(dir, b)?;
    }
    if let Some(c) = &r.cpu {
        cpu(dir, c)?;
    }
    if !r.devices.is_empty() {
        let rules = crate::devices::rules_from_oci(&r.devices)?;
        crate::devices::set_v2(dir, &rules)?;
    }
    if let Some(c) = &r.cpu {
        if let Some(v) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
            file::write(&dir.join("cpuset.cpus"), v)?;
        }
        if let Some(v) = c.mems.as_deref().filter(|s| !s.is_empty()) {
            file::write(&dir.join("cpuset.mems"), v)?;
        }
    }
    write_hugetlb(dir, &r.hugepage_limits, "max")?;
    write_unified(dir, &r.unified)
}

/// pids.max: the limit, or `max` for zero and below.
pub(crate) fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// runc's numToStr: 0 is "unset", -1 is "max".
fn num_to_str(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// OCI `swap` is memory+swap; v2's memory.swap.max is swap alone.
// Ref: runc ConvertMemorySwapToCgroupV2Value.
pub fn convert_memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64, String> {
    Ok(match (swap, memory) {
        (0, -1) => -1,
        (-1, _) | (0, _) => swap,
        (_, -1) => swap,
        (_, 0) => return Err("a swap limit needs a memory limit".into()),
        (_, m) if m < 0 => return Err(format!("invalid memory limit {m}")),
        (s, m) if s < m => return Err(format!("memory+swap limit {s} is below the memory limit {m}")),
        (s, m) => s - m,
    })
}

/// cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), linearly.
// Ref: runc 1.1 ConvertCPUSharesToCgroupV2Value (the brief's formula; runc 1.3+ uses a curve).
pub fn convert_shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        s if s <= 2 => 1,
        s if s >= 262_144 => 10_000,
        s => 1 + ((s - 2) * 9999) / 262_142,
    }
}

/// blkio.weight (10..1000) to io.weight (1..10000).
// Ref: runc ConvertBlkIOToIOWeightValue.
pub fn convert_blkio_weight_to_io(weight: u16) -> u64 {
    match weight {
        0 => 0,
        w if w < 10 => 1,
        w => 1 + (u64::from(w) - 10) * 9999 / 990,
    }
}

fn memory(dir: &Path, m: &Memory) -> Result<(), CgroupError> {
    let limit = m.limit.unwrap_or(0);
    let swap = m.swap.unwrap_or(0);
    let reservation = m.reservation.unwrap_or(0);
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    if m.check_before_update == Some(true) && (limit > 0 || swap > 0) {
        // Best effort, as runc: an unreadable usage does not block the update.
        if let Ok(Some(usage)) = file::read_u64_opt(&dir.join("memory.current")) {
            for (what, v) in [("memory+swap", swap), ("memory", limit)] {
                if v > 0 && (v as u64) <= usage {
                    return Err(CgroupError::InvalidResource(format!(
                        "{what} limit {v} is not above the current usage {usage}"
                    )));
                }
            }
        }
    }
    let swap_v2 = convert_memory_swap_to_v2(swap, limit).map_err(CgroupError::InvalidResource)?;
    let mut swap_str = num_to_str(swap_v2);
    if swap_str.is_none() && swap_v2 == 0 && swap > 0 {
        swap_str = Some("0".into()); // memory == memory+swap: no swap at all
    }
    if let Some(s) = swap_str {
        let path = dir.join("memory.swap.max");
        if let Err(e) = file::write_raw(&path, &s) {
            // Without swap accounting, "no limit" and "no swap" are already true.
            let ignorable = e.raw_os_error() == Some(libc::ENOENT) && (s == "max" || s == "0");
            if !ignorable {
                return Err(file::write_err(&path, &s, &e));
            }
        }
    }
    if let Some(v) = num_to_str(limit) {
        file::write(&dir.join("memory.max"), &v)?;
    }
    if let Some(v) = num_to_str(reservation) {
        file::write(&dir.join("memory.low"), &v)?;
    }
    Ok(())
}

fn io(dir: &Path, b: &BlockIo) -> Result<(), CgroupError> {
    let weight = b.weight.filter(|w| *w != 0);
    let device_weights: Vec<String> = b
        .weight_device
        .iter()
        .filter_map(|wd| {
            wd.weight
                .filter(|w| *w != 0)
                .map(|w| format!("{}:{} {}", wd.major, wd.minor, w))
        })
        .collect();
    if weight.is_some() || !device_weights.is_empty() {
        // BFQ takes blkio's scale as is; without BFQ, io.weight with the conversion.
        let bfq_path = dir.join("io.bfq.weight");
        let bfq = match file::read_raw(&bfq_path) {
            Ok(s) => Some(s),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
            Err(e) => return Err(file::io_err("read", &bfq_path, &e)),
        };
        if let Some(w) = weight {
            match &bfq {
                Some(_) => file::write(&bfq_path, &w.to_string())?,
                None => file::write(&dir.join("io.weight"), &convert_blkio_weight_to_io(w).to_string())?,
            }
        }
        // Per-device BFQ weights (kernel 5.4+) show as a `default N` line rather than a bare number;
        // without them runc skips device weights, and so do we.
        if bfq.is_some_and(|s| s.trim().parse::<i64>().is_err()) && !device_weights.is_empty() {
            let mut w = MultiWriter::new(bfq_path);
            for v in &device_weights {
                w.write(v)?;
            }
        }
    }
    let mut max = MultiWriter::new(dir.join("io.max"));
    for (list, key) in [
        (&b.throttle_read_bps_device, "rbps"),
        (&b.throttle_write_bps_device, "wbps"),
        (&b.throttle_read_iops_device, "riops"),
        (&b.throttle_write_iops_device, "wiops"),
    ] {
        for t in list {
            max.write(&format!("{}:{} {}={}", t.major, t.minor, key, t.rate))?;
        }
    }
    Ok(())
}

fn cpu(dir: &Path, c: &Cpu) -> Result<(), CgroupError> {
    let quota = c.quota.unwrap_or(0);
    let period = c.period.unwrap_or(0);
    if let Some(i) = c.idle {
        file::write(&dir.join("cpu.idle"), &i.to_string())?;
    }
    if let Some(s) = c.shares.filter(|s| *s != 0) {
        file::write(&dir.join("cpu.weight"), &convert_shares_to_weight(s).to_string())?;
    }
    let mut burst_later = None;
    if let Some(b) = c.burst {
        let path = dir.join("cpu.max.burst");
        let v = b.to_string();
        if let Err(e) = file::write_raw(&path, &v) {
            if e.raw_os_error() != Some(libc::EINVAL) || quota == 0 {
                return Err(file::write_err(&path, &v, &e));
            }
            burst_later = Some((path, v));
        }
    }
    if quota != 0 || period != 0 {
        let q = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        let p = if period == 0 { 100_000 } else { period };
        file::write(&dir.join("cpu.max"), &format!("{q} {p}"))?;
        if let Some((path, v)) = burst_later {
            file::write(&path, &v)?;
        }
    }
    Ok(())
}

/// `<size>` of `hugetlb.<size>.*` becomes part of a file name: letters and digits only.
pub(crate) fn check_page_size(size: &str) -> Result<(), CgroupError> {
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CgroupError::InvalidResource(format!(
            "invalid hugepage size `{size}`"
        )));
    }
    Ok(())
}

/// `hugetlb.<size>.<suffix>`, and the `.rsvd.` variant where the kernel has it (5.7+).
pub(crate) fn write_hugetlb(dir: &Path, limits: &[HugepageLimit], suffix: &str) -> Result<(), CgroupError> {
    let mut rsvd = true;
    for h in limits {
        let v = h.limit.to_string();
        file::write(&dir.join(format!("hugetlb.{}.{suffix}", h.page_size)), &v)?;
        if rsvd {
            let path = dir.join(format!("hugetlb.{}.rsvd.{suffix}", h.page_size));
            match file::write_raw(&path, &v) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => rsvd = false,
                Err(e) => return Err(file::write_err(&path, &v, &e)),
            }
        }
    }
    Ok(())
}

/// Keys of `unified` are file names in the cgroup directory: no `/`, no `..`.
pub(crate) fn check_unified_keys(unified: &BTreeMap<String, String>) -> Result<(), CgroupError> {
    for k in unified.keys() {
        if k.is_empty() || k.contains('/') || k.contains("..") || k.contains('\0') || !k.contains('.') {
            return Err(CgroupError::InvalidResource(format!(
                "unified key `{k}` must be a cgroup file name like `memory.high`"
            )));
        }
    }
    Ok(())
}

/// Writes the `unified` map verbatim, one write(2) per line of each value (as runc's
/// WriteFileByLine). A missing or forbidden file is explained by the controller's absence when so.
pub(crate) fn write_unified(dir: &Path, unified: &BTreeMap<String, String>) -> Result<(), CgroupError> {
    for (k, v) in unified {
        let path = dir.join(k);
        let lines: Vec<&str> = v.split('\n').filter(|l| !l.is_empty()).collect();
        let result = if lines.len() <= 1 {
            file::write_raw(&path, lines.first().copied().unwrap_or(""))
        } else {
            let mut w = MultiWriter::new(path.clone());
            lines.iter().try_for_each(|l| w.write_raw(l))
        };
        if let Err(e) = result {
            if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EPERM)) {
                let controller = k.split('.').next().unwrap_or("");
                let available = file::read_raw(&dir.join("cgroup.controllers")).unwrap_or_default();
                if controller != "cgroup" && !available.split_whitespace().any(|c| c == controller) {
                    return Err(CgroupError::InvalidResource(format!(
                        "unified key `{k}`: the `{controller}` controller is not enabled in `{}`",
                        dir.display()
                    )));
                }
            }
            return Err(file::write_err(&path, v, &e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_linear_formula() {
        assert_eq!(convert_shares_to_weight(0), 0);
        assert_eq!(convert_shares_to_weight(2), 1);
        assert_eq!(convert_shares_to_weight(1024), 39);
        assert_eq!(convert_shares_to_weight(512), 20);
        assert_eq!(convert_shares_to_weight(262_144), 10_000);
        assert_eq!(convert_shares_to_weight(1 << 30), 10_000);
    }

    #[test]
    fn swap_conversion_follows_runc() {
        assert_eq!(convert_memory_swap_to_v2(0, -1), Ok(-1));
        assert_eq!(convert_memory_swap_to_v2(-1, 100), Ok(-1));
        assert_eq!(convert_memory_swap_to_v2(0, 100), Ok(0));
        assert_eq!(convert_memory_swap_to_v2(300, -1), Ok(300));
        assert_eq!(convert_memory_swap_to_v2(300, 100), Ok(200));
        assert_eq!(convert_memory_swap_to_v2(100, 100), Ok(0));
        assert!(convert_memory_swap_to_v2(50, 100).is_err());
        assert!(convert_memory_swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn blkio_weight_conversion() {
        assert_eq!(convert_blkio_weight_to_io(10), 1);
        assert_eq!(convert_blkio_weight_to_io(1000), 10_000);
        assert_eq!(convert_blkio_weight_to_io(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn unified_keys_are_file_names() {
        let ok: BTreeMap<String, String> = [("memory.high".to_string(), "1".to_string())].into();
        check_unified_keys(&ok).unwrap();
        for bad in ["../memory.max", "a/b.c", "memory..max", "nodot", ""] {
            let m: BTreeMap<String, String> = [(bad.to_string(), "1".to_string())].into();
            assert!(check_unified_keys(&m).is_err(), "{bad}");
        }
    }

    #[test]
    fn pids_values() {
        assert_eq!(pids_value(10), "10");
        assert_eq!(pids_value(0), "max");
        assert_eq!(pids_value(-1), "max");
    }
}
