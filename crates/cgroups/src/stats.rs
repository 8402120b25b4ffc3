//! Usage counters, serialized exactly as the `data` object of runc's `events --stats` (runc 1.1:
//! nested objects always present, zero counters omitted where runc omits them).
// Ref: runc types/events.go and events.go convertLibcontainerStats; fs/{cpu,cpuacct,cpuset,memory,
// pids,blkio,hugetlb}.go GetStats; fs2/{cpu,memory,pids,io,hugetlb}.go stat functions.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::file::{self, parse_err, parse_u64};

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub cpu: Cpu,
    #[serde(default)]
    pub cpuset: CpuSet,
    #[serde(default)]
    pub memory: Memory,
    #[serde(default)]
    pub pids: Pids,
    #[serde(default)]
    pub blkio: Blkio,
    #[serde(default)]
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Always empty here (no resctrl); kept so the object has runc's keys.
    #[serde(default)]
    pub intel_rdt: IntelRdt,
    /// Always null: runc fills it from the container's network namespace, not from cgroups.
    #[serde(default)]
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntelRdt {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    #[serde(default)]
    pub usage: CpuUsage,
    #[serde(default)]
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    #[serde(default)]
    pub kernel: u64,
    #[serde(default)]
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    #[serde(default)]
    pub cpu_exclusive: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    #[serde(default)]
    pub mem_hardwall: u64,
    #[serde(default)]
    pub mem_exclusive: u64,
    #[serde(default)]
    pub memory_migrate: u64,
    #[serde(default)]
    pub memory_spread_page: u64,
    #[serde(default)]
    pub memory_spread_slab: u64,
    #[serde(default)]
    pub memory_pressure: u64,
    #[serde(default)]
    pub sched_load_balance: u64,
    #[serde(default)]
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    #[serde(default)]
    pub limit: u64,
    #[serde(default, skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "zero")]
    pub cache: u64,
    #[serde(default)]
    pub usage: MemoryEntry,
    /// memory+swap, as v1 counts it (v2 values are converted to match).
    #[serde(default)]
    pub swap: MemoryEntry,
    #[serde(default)]
    pub kernel: MemoryEntry,
    #[serde(default, rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pids {
    #[serde(default, skip_serializing_if = "zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(default, skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "zero")]
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(default, rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hugetlb {
    #[serde(default, skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

pub(crate) fn read(cg: &Cgroup) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if cg.is_v2() {
        if let Some(dir) = cg.unified_dir() {
            read_v2(dir, &mut s)?;
        }
        return Ok(s);
    }
    if let Some(d) = cg.v1_dir("cpu") {
        cpu_stat_v1(d, &mut s.cpu.throttling)?;
    }
    if let Some(d) = cg.v1_dir("cpuacct") {
        cpuacct(d, &mut s.cpu.usage)?;
    }
    if let Some(d) = cg.v1_dir("cpuset") {
        cpuset(d, &mut s.cpuset)?;
    }
    if let Some(d) = cg.v1_dir("memory") {
        memory_v1(d, &mut s.memory)?;
    }
    if let Some(d) = cg.v1_dir("pids") {
        pids(d, &mut s.pids)?;
    }
    if let Some(d) = cg.v1_dir("blkio") {
        blkio_v1(d, &mut s.blkio)?;
    }
    if let Some(d) = cg.v1_dir("hugetlb") {
        hugetlb(d, &mut s.hugetlb, false)?;
    } else if let Some(d) = cg.unified_dir() {
        // Hybrid with hugetlb in cgroup2 (files exist only where it was enabled).
        hugetlb(d, &mut s.hugetlb, true)?;
    }
    Ok(s)
}

fn read_v2(dir: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    pids(dir, &mut s.pids)?;
    memory_v2(dir, &mut s.memory)?;
    io_v2(dir, &mut s.blkio)?;
    cpu_stat_v2(dir, &mut s.cpu)?;
    hugetlb(dir, &mut s.hugetlb, true)?;
    Ok(())
}

/// `key value` lines; a missing file is an empty map.
fn flat_keyed(path: &Path) -> Result<Vec<(String, u64)>, CgroupError> {
    let Some(text) = file::read_opt(path)? else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once(' ')
                .ok_or_else(|| parse_err(path, format!("line `{l}` is not `key value`")))?;
            let v = parse_u64(v).ok_or_else(|| parse_err(path, format!("bad value in line `{l}`")))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

fn u64_or_zero(path: &Path) -> Result<u64, CgroupError> {
    Ok(file::read_u64_opt(path)?.unwrap_or(0))
}

fn cpu_stat_v1(dir: &Path, t: &mut Throttling) -> Result<(), CgroupError> {
    for (k, v) in flat_keyed(&dir.join("cpu.stat"))? {
        match k.as_str() {
            "nr_periods" => t.periods = v,
            "nr_throttled" => t.throttled_periods = v,
            "throttled_time" => t.throttled_time = v,
            _ => {}
        }
    }
    Ok(())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn cpuacct(dir: &Path, u: &mut CpuUsage) -> Result<(), CgroupError> {
    let stat_path = dir.join("cpuacct.stat");
    if let Some(text) = file::read_opt(&stat_path)? {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() < 4 || f[0] != "user" || f[2] != "system" {
            return Err(parse_err(
                &stat_path,
                format!("unexpected content `{}`", text.trim()),
            ));
        }
        let n = |s: &str| parse_u64(s).ok_or_else(|| parse_err(&stat_path, format!("bad number `{s}`")));
        let ticks = clock_ticks();
        u.user = n(f[1])? * 1_000_000_000 / ticks;
        u.kernel = n(f[3])? * 1_000_000_000 / ticks;
    }
    u.total = u64_or_zero(&dir.join("cpuacct.usage"))?;
    let percpu_path = dir.join("cpuacct.usage_percpu");
    if let Some(text) = file::read_opt(&percpu_path)? {
        u.percpu = text
            .split_whitespace()
            .map(|v| parse_u64(v).ok_or_else(|| parse_err(&percpu_path, format!("bad number `{v}`"))))
            .collect::<Result<_, _>>()?;
    }
    let all_path = dir.join("cpuacct.usage_all");
    if let Some(text) = file::read_opt(&all_path)? {
        let mut lines = text.lines();
        if !lines.next().unwrap_or("").starts_with("cpu user system") {
            return Err(parse_err(&all_path, "missing the `cpu user system` header"));
        }
        for l in lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 3 {
                continue;
            }
            let n = |s: &str| parse_u64(s).ok_or_else(|| parse_err(&all_path, format!("bad line `{l}`")));
            u.percpu_user.push(n(f[1])?);
            u.percpu_kernel.push(n(f[2])?);
        }
    }
    Ok(())
}

/// `0-3,8` to `[0, 1, 2, 3, 8]`.
pub(crate) fn parse_cpu_list(path: &Path, s: &str) -> Result<Vec<u16>, CgroupError> {
    let mut out = Vec::new();
    let bad = || parse_err(path, format!("bad cpu list `{}`", s.trim()));
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

fn cpuset(dir: &Path, c: &mut CpuSet) -> Result<(), CgroupError> {
    for (name, list) in [("cpuset.cpus", &mut c.cpus), ("cpuset.mems", &mut c.mems)] {
        let path = dir.join(name);
        if let Some(s) = file::read_opt(&path)? {
            *list = parse_cpu_list(&path, &s)?;
        }
    }
    for (name, v) in [
        ("cpuset.cpu_exclusive", &mut c.cpu_exclusive),
        ("cpuset.mem_hardwall", &mut c.mem_hardwall),
        ("cpuset.mem_exclusive", &mut c.mem_exclusive),
        ("cpuset.memory_migrate", &mut c.memory_migrate),
        ("cpuset.memory_spread_page", &mut c.memory_spread_page),
        ("cpuset.memory_spread_slab", &mut c.memory_spread_slab),
        ("cpuset.memory_pressure", &mut c.memory_pressure),
        ("cpuset.sched_load_balance", &mut c.sched_load_balance),
    ] {
        *v = u64_or_zero(&dir.join(name))?;
    }
    let path = dir.join("cpuset.sched_relax_domain_level");
    if let Some(s) = file::read_opt(&path)? {
        c.sched_relax_domain_level = s
            .trim()
            .parse()
            .map_err(|_| parse_err(&path, format!("bad number `{}`", s.trim())))?;
    }
    Ok(())
}

/// memory.<x>.{usage_in_bytes,max_usage_in_bytes,failcnt,limit_in_bytes}; a missing usage file
/// (no swap or kmem accounting) leaves the entry zero.
fn memory_entry_v1(dir: &Path, module: &str) -> Result<MemoryEntry, CgroupError> {
    let f = |s: &str| dir.join(format!("{module}.{s}"));
    let Some(usage) = file::read_u64_opt(&f("usage_in_bytes"))? else {
        return Ok(MemoryEntry::default());
    };
    Ok(MemoryEntry {
        usage,
        max: u64_or_zero(&f("max_usage_in_bytes"))?,
        failcnt: u64_or_zero(&f("failcnt"))?,
        limit: u64_or_zero(&f("limit_in_bytes"))?,
    })
}

fn memory_v1(dir: &Path, m: &mut Memory) -> Result<(), CgroupError> {
    m.raw = flat_keyed(&dir.join("memory.stat"))?.into_iter().collect();
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = memory_entry_v1(dir, "memory")?;
    m.swap = memory_entry_v1(dir, "memory.memsw")?;
    m.kernel = memory_entry_v1(dir, "memory.kmem")?;
    m.kernel_tcp = memory_entry_v1(dir, "memory.kmem.tcp")?;
    Ok(())
}

fn memory_entry_v2(dir: &Path, module: &str) -> Result<Option<MemoryEntry>, CgroupError> {
    let f = |s: &str| dir.join(format!("{module}.{s}"));
    let Some(usage) = file::read_u64_opt(&f("current"))? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        limit: u64_or_zero(&f("max"))?,
        max: u64_or_zero(&f("peak"))?,
        failcnt: 0,
    }))
}

fn memory_v2(dir: &Path, m: &mut Memory) -> Result<(), CgroupError> {
    m.raw = flat_keyed(&dir.join("memory.stat"))?.into_iter().collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let Some(usage) = memory_entry_v2(dir, "memory")? else {
        return Ok(());
    };
    // v1 reports swap as memory+swap: add memory in, and drop a peak that cannot be summed.
    if let Some(swap) = memory_entry_v2(dir, "memory.swap")? {
        m.swap = MemoryEntry {
            usage: swap.usage + usage.usage,
            limit: if swap.limit == u64::MAX {
                u64::MAX
            } else {
                swap.limit.saturating_add(usage.limit)
            },
            max: 0,
            failcnt: 0,
        };
    }
    m.usage = usage;
    Ok(())
}

fn pids(dir: &Path, p: &mut Pids) -> Result<(), CgroupError> {
    match file::read_u64_opt(&dir.join("pids.current"))? {
        Some(current) => {
            p.current = current;
            let max = u64_or_zero(&dir.join("pids.max"))?;
            p.limit = if max == u64::MAX { 0 } else { max };
        }
        None => {
            // No pids controller here (v2 without it enabled): count the processes.
            if let Some(procs) = file::read_opt(&dir.join("cgroup.procs"))? {
                p.current = procs.lines().filter(|l| !l.is_empty()).count() as u64;
            }
        }
    }
    Ok(())
}

/// `8:0 Read 1282048` lines (or `8:0 6792`); the `Total` line is skipped.
pub(crate) fn blkio_entries(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split([' ', ':']).filter(|s| !s.is_empty()).collect();
        if f.len() < 3 {
            if f.len() == 2 && f[0] == "Total" {
                continue;
            }
            return Err(parse_err(path, format!("malformed line `{l}`")));
        }
        let n = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| parse_err(path, format!("bad number in line `{l}`")))
        };
        let (op, value) = if f.len() >= 4 {
            (f[2].to_string(), n(f[3])?)
        } else {
            (String::new(), n(f[2])?)
        };
        out.push(BlkioEntry {
            major: n(f[0])?,
            minor: n(f[1])?,
            op,
            value,
        });
    }
    Ok(out)
}

/// runc tries these groups in turn (BFQ debug, BFQ, CFQ, throttle recursive, throttle) and takes
/// the first whose first file exists.
fn blkio_v1(dir: &Path, b: &mut Blkio) -> Result<(), CgroupError> {
    type Field = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let sectors: Field = |b| &mut b.sectors_recursive;
    let service_time: Field = |b| &mut b.io_service_time_recursive;
    let wait_time: Field = |b| &mut b.io_wait_time_recursive;
    let merged: Field = |b| &mut b.io_merged_recursive;
    let queued: Field = |b| &mut b.io_queued_recursive;
    let time: Field = |b| &mut b.io_time_recursive;
    let serviced: Field = |b| &mut b.io_serviced_recursive;
    let bytes: Field = |b| &mut b.io_service_bytes_recursive;
    let groups: [&[(&str, Field)]; 5] = [
        &[
            ("blkio.bfq.sectors_recursive", sectors),
            ("blkio.bfq.io_service_time_recursive", service_time),
            ("blkio.bfq.io_wait_time_recursive", wait_time),
            ("blkio.bfq.io_merged_recursive", merged),
            ("blkio.bfq.io_queued_recursive", queued),
            ("blkio.bfq.time_recursive", time),
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.sectors_recursive", sectors),
            ("blkio.io_service_time_recursive", service_time),
            ("blkio.io_wait_time_recursive", wait_time),
            ("blkio.io_merged_recursive", merged),
            ("blkio.io_queued_recursive", queued),
            ("blkio.time_recursive", time),
            ("blkio.io_serviced_recursive", serviced),
            ("blkio.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", serviced),
            ("blkio.throttle.io_service_bytes_recursive", bytes),
        ],
        &[
            ("blkio.throttle.io_serviced", serviced),
            ("blkio.throttle.io_service_bytes", bytes),
        ],
    ];
    'groups: for group in groups {
        for (i, (name, field)) in group.iter().enumerate() {
            let path = dir.join(name);
            let text = match file::read_opt(&path)? {
                Some(t) => t,
                None if i == 0 => continue 'groups,
                None => return Ok(()),
            };
            *field(b) = blkio_entries(&path, &text)?;
        }
        return Ok(());
    }
    Ok(())
}

/// io.stat: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`, mapped to v1's tables and names.
fn io_v2(dir: &Path, b: &mut Blkio) -> Result<(), CgroupError> {
    let path = dir.join("io.stat");
    let Some(text) = file::read_opt(&path)? else {
        return Ok(());
    };
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let n = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| parse_err(&path, format!("bad number in line `{l}`")))
        };
        let (major, minor) = (n(maj)?, n(min)?);
        for item in f {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            let (op, table) = match k {
                "rbytes" => ("Read", &mut b.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut b.io_service_bytes_recursive),
                "rios" => ("Read", &mut b.io_serviced_recursive),
                "wios" => ("Write", &mut b.io_serviced_recursive),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value: n(v)?,
            });
        }
    }
    Ok(())
}

fn cpu_stat_v2(dir: &Path, c: &mut Cpu) -> Result<(), CgroupError> {
    for (k, v) in flat_keyed(&dir.join("cpu.stat"))? {
        match k.as_str() {
            "usage_usec" => c.usage.total = v * 1000,
            "user_usec" => c.usage.user = v * 1000,
            "system_usec" => c.usage.kernel = v * 1000,
            "nr_periods" => c.throttling.periods = v,
            "nr_throttled" => c.throttling.throttled_periods = v,
            "throttled_usec" => c.throttling.throttled_time = v * 1000,
            _ => {}
        }
    }
    Ok(())
}

/// Page sizes are taken from the directory's own `hugetlb.<size>.*` files, so nothing outside the
/// cgroup is read.
fn hugetlb(dir: &Path, out: &mut BTreeMap<String, Hugetlb>, v2: bool) -> Result<(), CgroupError> {
    let usage_suffix = if v2 { ".current" } else { ".usage_in_bytes" };
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(file::io_err("list directory", dir, &e)),
    };
    let mut sizes = Vec::new();
    for entry in rd {
        let name = entry
            .map_err(|e| file::io_err("list directory", dir, &e))?
            .file_name();
        let name = name.to_string_lossy();
        if let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|n| n.strip_suffix(usage_suffix))
        {
            if !size.contains('.') {
                sizes.push(size.to_string());
            }
        }
    }
    for size in sizes {
        let f = |s: &str| dir.join(format!("hugetlb.{size}.{s}"));
        let h = if v2 {
            let events = f("events");
            let failcnt = match file::read_opt(&events)? {
                Some(s) => file::keyed_value(&events, &s, "max")?,
                None => 0,
            };
            Hugetlb {
                usage: u64_or_zero(&f("current"))?,
                max: 0,
                failcnt,
            }
        } else {
            Hugetlb {
                usage: u64_or_zero(&f("usage_in_bytes"))?,
                max: u64_or_zero(&f("max_usage_in_bytes"))?,
                failcnt: u64_or_zero(&f("failcnt"))?,
            }
        };
        out.insert(size, h);
    }
    Ok(())
}
