//! Whole-crate tests on fake cgroup trees: directories with the interface files a kernel would
//! show, and a mountinfo text pointing at them. No root needed; each test has its own tempdir.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use berth_oci::{BlockIo, Cpu, HugepageLimit, Memory, Pids, Resources, ThrottleDevice, WeightDevice};

use crate::*;

const HYBRID_MOUNTINFO: &str = "\
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

const V1_JOINED_MOUNTINFO: &str = "\
26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 25 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";

const V2_MOUNTINFO: &str = "25 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// Files the kernel shows in a new v1 directory, per controller.
fn v1_files(controller: &str) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![("cgroup.procs", ""), ("tasks", "")];
    f.extend(match controller {
        "cpu" => vec![
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_burst_us", "0\n"),
            ("cpu.rt_period_us", "1000000\n"),
            ("cpu.rt_runtime_us", "0\n"),
            ("cpu.idle", "0\n"),
            ("cpu.stat", "nr_periods 7\nnr_throttled 3\nthrottled_time 12345\n"),
        ],
        "cpuacct" => vec![
            ("cpuacct.stat", "user 12\nsystem 5\n"),
            ("cpuacct.usage", "10843693\n"),
            ("cpuacct.usage_percpu", "8439964 2403729 \n"),
            ("cpuacct.usage_all", "cpu user system\n0 4000000 8000000\n1 0 0\n"),
        ],
        "cpuset" => vec![
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("cpuset.cpu_exclusive", "0\n"),
            ("cpuset.sched_load_balance", "1\n"),
            ("cpuset.sched_relax_domain_level", "-1\n"),
        ],
        "memory" => vec![
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
            ("memory.kmem.limit_in_bytes", "9223372036854771712\n"),
            ("memory.swappiness", "60\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            ("memory.usage_in_bytes", "987136\n"),
            ("memory.max_usage_in_bytes", "2850816\n"),
            ("memory.failcnt", "0\n"),
            ("memory.memsw.usage_in_bytes", "987136\n"),
            ("memory.memsw.max_usage_in_bytes", "2850816\n"),
            ("memory.memsw.failcnt", "0\n"),
            (
                "memory.stat",
                "cache 12288\nrss 49152\ntotal_cache 12288\nhierarchical_memory_limit 67108864\n",
            ),
        ],
        "pids" => vec![("pids.max", "max\n"), ("pids.current", "1\n")],
        "devices" => vec![
            ("devices.allow", ""),
            ("devices.deny", ""),
            ("devices.list", "a *:* rwm\n"),
        ],
        "freezer" => vec![("freezer.state", "THAWED\n"), ("freezer.self_freezing", "0\n")],
        "blkio" => vec![
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 10\n8:0 Write 4\nTotal 14\n",
            ),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
            ),
        ],
        _ => vec![],
    });
    f
}

struct Fake {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    layout: Layout,
}

impl Fake {
    fn new(mountinfo: &str, proc_cgroup: Option<&str>) -> Fake {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let hybrid = mountinfo.contains(" - cgroup cgroup ");
        for line in mountinfo.lines() {
            let mp = line.split(' ').nth(4).unwrap();
            let dir = root.join(mp.trim_start_matches('/'));
            fs::create_dir_all(&dir).unwrap();
            if line.contains(" cgroup2 ") {
                let controllers = if hybrid {
                    "hugetlb\n"
                } else {
                    "cpuset cpu io memory hugetlb pids\n"
                };
                put(
                    &dir,
                    &[
                        ("cgroup.controllers", controllers),
                        ("cgroup.subtree_control", ""),
                    ],
                );
            }
            if line.contains("rw,cpuset") {
                put(&dir, &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")]);
            }
        }
        let layout = detect_from_parts(mountinfo, proc_cgroup, &root).unwrap();
        Fake {
            _tmp: tmp,
            root,
            layout,
        }
    }

    fn cg(&self, mount: &str) -> PathBuf {
        self.root.join("sys/fs/cgroup").join(mount)
    }

    /// What the kernel would show right after mkdir of `path` in every hierarchy.
    fn populate(&self, cg: &Cgroup) {
        for m in cg.v1_mounts() {
            if m.cgroup2 {
                put(
                    &m.host_dir,
                    &[
                        ("cgroup.procs", ""),
                        ("cgroup.freeze", "0\n"),
                        ("cgroup.events", "populated 1\nfrozen 0\n"),
                    ],
                );
                continue;
            }
            for c in m.name.split(',') {
                put(&m.host_dir, &v1_files(c));
            }
        }
    }
}

fn full_resources() -> Resources {
    Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            reservation: Some(32 << 20),
            swap: Some(128 << 20),
            kernel: Some(16 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            burst: Some(1000),
            realtime_runtime: Some(950),
            realtime_period: Some(1000),
            cpus: Some("1".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 32 }),
        block_io: Some(BlockIo {
            throttle_read_bps_device: vec![
                ThrottleDevice {
                    major: 8,
                    minor: 0,
                    rate: 1000,
                },
                ThrottleDevice {
                    major: 8,
                    minor: 16,
                    rate: 2000,
                },
            ],
            throttle_write_iops_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 30,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn hybrid_create_set_apply_write_the_right_files() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    assert_eq!(cg.mode(), "hybrid");
    f.populate(&cg);
    cg.create().unwrap();
    // cpuset.cpus/mems copied from the parent into the empty leaf.
    assert_eq!(read(f.cg("cpuset/ctr/cpuset.cpus")), "0-1");
    assert_eq!(read(f.cg("cpuset/ctr/cpuset.mems")), "0");

    cg.set(&full_resources()).unwrap();
    let m = f.cg("memory/ctr");
    assert_eq!(read(m.join("memory.limit_in_bytes")), (64u64 << 20).to_string());
    assert_eq!(
        read(m.join("memory.memsw.limit_in_bytes")),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        read(m.join("memory.soft_limit_in_bytes")),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        read(m.join("memory.kmem.limit_in_bytes")),
        (16u64 << 20).to_string()
    );
    assert_eq!(read(m.join("memory.swappiness")), "10");
    assert_eq!(read(m.join("memory.oom_control")), "1");
    let c = f.cg("cpu/ctr");
    assert_eq!(read(c.join("cpu.shares")), "512");
    assert_eq!(read(c.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(c.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(c.join("cpu.cfs_burst_us")), "1000");
    assert_eq!(read(c.join("cpu.rt_runtime_us")), "950");
    assert_eq!(read(c.join("cpu.rt_period_us")), "1000");
    assert_eq!(read(c.join("cpu.idle")), "0\n", "idle not requested, not written");
    assert_eq!(read(f.cg("cpuset/ctr/cpuset.cpus")), "1");
    assert_eq!(read(f.cg("pids/ctr/pids.max")), "32");
    let b = f.cg("blkio/ctr");
    assert_eq!(
        read(b.join("blkio.throttle.read_bps_device")),
        "8:0 1000\n8:16 2000\n"
    );
    assert_eq!(read(b.join("blkio.throttle.write_iops_device")), "8:0 30\n");
    assert_eq!(
        read(b.join("blkio.throttle.write_bps_device")),
        "",
        "not requested, not written"
    );

    cg.apply(4242).unwrap();
    for d in cg.dirs() {
        assert_eq!(read(d.join("cgroup.procs")), "4242", "{}", d.display());
    }
    assert!(
        cg.dirs().iter().any(|d| d.starts_with(f.cg("unified"))),
        "hybrid joins cgroup2 too"
    );
    assert!(
        cg.dirs().iter().any(|d| d.starts_with(f.cg("systemd"))),
        "and name=systemd, as runc"
    );
}

#[test]
fn v1_joined_cpu_cpuacct_gets_cpu_files() {
    let f = Fake::new(V1_JOINED_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/a/../ctr");
    assert_eq!(cg.path(), "/ctr");
    assert_eq!(cg.mode(), "v1");
    f.populate(&cg);
    let r = Resources {
        cpu: Some(Cpu {
            shares: Some(2048),
            quota: Some(-1),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(1 << 30),
            swap: Some(-1),
            ..Default::default()
        }),
        pids: Some(Pids { limit: -1 }),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(f.cg("cpu,cpuacct/ctr/cpu.shares")), "2048");
    assert_eq!(read(f.cg("cpu,cpuacct/ctr/cpu.cfs_quota_us")), "-1");
    assert_eq!(
        read(f.cg("cpu,cpuacct/ctr/cpu.cfs_period_us")),
        "100000\n",
        "no period requested"
    );
    assert_eq!(
        read(f.cg("memory/ctr/memory.limit_in_bytes")),
        (1u64 << 30).to_string()
    );
    assert_eq!(read(f.cg("memory/ctr/memory.memsw.limit_in_bytes")), "-1");
    assert_eq!(read(f.cg("pids/ctr/pids.max")), "max");
    // No devices hierarchy in this sample: device rules cannot be enforced, which is an error.
    let r = Resources {
        devices: default_allowed_devices(),
        ..Default::default()
    };
    assert_eq!(
        cg.set(&r).unwrap_err().to_string(),
        "cannot set device rules: the `devices` cgroup controller is not available"
    );
    assert_eq!(cg.stats().unwrap().cpu.usage.total, 10843693);
}

#[test]
fn hybrid_unified_map_goes_to_the_cgroup2_dir_and_v1_refuses_it() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    cg.create().unwrap();
    put(cg.unified_dir().unwrap(), &[("cgroup.max.depth", "max\n")]);
    let r = Resources {
        unified: [("cgroup.max.depth".to_string(), "5".to_string())].into(),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(f.cg("unified/ctr/cgroup.max.depth")), "5");

    let f = Fake::new(V1_JOINED_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let e = cg.set(&r).unwrap_err();
    assert!(
        e.to_string().contains("`unified` needs a cgroup2 hierarchy"),
        "{e}"
    );
}

#[test]
fn blkio_weight_without_weight_files_names_the_file() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    let r = Resources {
        block_io: Some(BlockIo {
            weight: Some(500),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = cg.set(&r).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write `500` to `{}`: ENOENT",
            f.cg("blkio/ctr/blkio.weight").display()
        )
    );
    // BFQ-only kernels: blkio.bfq.weight is used.
    put(
        &f.cg("blkio/ctr"),
        &[("blkio.bfq.weight", "100\n"), ("blkio.bfq.weight_device", "")],
    );
    let r = Resources {
        block_io: Some(BlockIo {
            weight: Some(500),
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(300),
                leaf_weight: None,
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(f.cg("blkio/ctr/blkio.bfq.weight")), "500");
    assert_eq!(read(f.cg("blkio/ctr/blkio.bfq.weight_device")), "8:0 300");
}

#[test]
fn unrequested_missing_files_are_not_errors() {
    // A tree with no interface files at all: an empty resources object writes nothing.
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let r = Resources {
        memory: Some(Memory::default()),
        cpu: Some(Cpu::default()),
        block_io: Some(BlockIo::default()),
        ..Default::default()
    };
    cg.set(&r).unwrap();
}

#[test]
fn memory_limit_minus_one_sets_unlimited_swap_too() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    let r = Resources {
        memory: Some(Memory {
            limit: Some(-1),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(f.cg("memory/ctr/memory.limit_in_bytes")), "-1");
    assert_eq!(read(f.cg("memory/ctr/memory.memsw.limit_in_bytes")), "-1");
}

#[test]
fn bad_values_are_refused_before_any_write() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    let r = Resources {
        pids: Some(Pids { limit: 5 }),
        memory: Some(Memory {
            swappiness: Some(101),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = cg.set(&r).unwrap_err();
    assert!(e.to_string().contains("swappiness 101"), "{e}");
    assert_eq!(read(f.cg("pids/ctr/pids.max")), "max\n");
    let r = Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "../2MB".into(),
            limit: 1,
        }],
        ..Default::default()
    };
    assert!(cg.set(&r).unwrap_err().to_string().contains("hugepage size"));
}

#[test]
fn hybrid_hugetlb_lives_in_cgroup2_when_v1_has_none() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/pod/ctr");
    f.populate(&cg);
    put(&f.cg("unified/pod"), &[("cgroup.subtree_control", "")]);
    put(
        cg.unified_dir().unwrap(),
        &[("hugetlb.2MB.max", "max\n"), ("hugetlb.2MB.rsvd.max", "max\n")],
    );
    let r = Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 4 << 21,
        }],
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(f.cg("unified/cgroup.subtree_control")), "+hugetlb");
    assert_eq!(read(f.cg("unified/pod/cgroup.subtree_control")), "+hugetlb");
    assert_eq!(
        read(f.cg("unified/pod/ctr/hugetlb.2MB.max")),
        (4u64 << 21).to_string()
    );
    assert_eq!(
        read(f.cg("unified/pod/ctr/hugetlb.2MB.rsvd.max")),
        (4u64 << 21).to_string()
    );

    // A v1 host without hugetlb anywhere: an error naming the controller.
    let f = Fake::new(V1_JOINED_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let e = cg.set(&r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot set hugepage limits: the `hugetlb` cgroup controller is not available"
    );
}

#[test]
fn v2_create_enables_controllers_and_set_converts_values() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/pod/ctr");
    assert_eq!(cg.v2_dir(), Some(f.root.join("sys/fs/cgroup/pod/ctr")));
    cg.create().unwrap();
    assert_eq!(
        read(f.root.join("sys/fs/cgroup/cgroup.subtree_control")),
        "+cpuset +cpu +io +memory +hugetlb +pids"
    );
    assert_eq!(cg.created_dirs(), [f.root.join("sys/fs/cgroup/pod")]);

    let d = cg.v2_dir().unwrap();
    put(
        &d,
        &[
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.low", "0\n"),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.max.burst", "0\n"),
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("pids.max", "max\n"),
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("memory.high", "max\n"),
        ],
    );
    let mut r = full_resources();
    r.cpu.as_mut().unwrap().realtime_period = None;
    r.cpu.as_mut().unwrap().realtime_runtime = None;
    r.block_io.as_mut().unwrap().weight = Some(500);
    r.hugepage_limits = vec![HugepageLimit {
        page_size: "2MB".into(),
        limit: 1 << 21,
    }];
    r.unified = BTreeMap::from([("memory.high".to_string(), "50000000".to_string())]);
    cg.set(&r).unwrap();
    assert_eq!(read(d.join("memory.max")), (64u64 << 20).to_string());
    assert_eq!(
        read(d.join("memory.swap.max")),
        (64u64 << 20).to_string(),
        "swap - limit"
    );
    assert_eq!(read(d.join("memory.low")), (32u64 << 20).to_string());
    assert_eq!(read(d.join("cpu.weight")), "20", "512 shares");
    assert_eq!(read(d.join("cpu.max")), "50000 100000");
    assert_eq!(read(d.join("cpu.max.burst")), "1000");
    assert_eq!(
        read(d.join("io.weight")),
        convert_blkio_weight_to_io(500).to_string()
    );
    assert_eq!(
        read(d.join("io.max")),
        "8:0 rbps=1000\n8:16 rbps=2000\n8:0 wiops=30\n"
    );
    assert_eq!(read(d.join("pids.max")), "32");
    assert_eq!(read(d.join("cpuset.cpus")), "1");
    assert_eq!(read(d.join("hugetlb.2MB.max")), (1u64 << 21).to_string());
    assert_eq!(read(d.join("memory.high")), "50000000");

    // Realtime limits do not exist on v2.
    let e = cg.set(&full_resources()).unwrap_err();
    assert!(e.to_string().contains("realtime"), "{e}");
    // Unified keys cannot escape the directory.
    let r = Resources {
        unified: [("../memory.max".to_string(), "1".to_string())].into(),
        ..Default::default()
    };
    assert!(cg.set(&r).is_err());
    // A missing file for a requested value names it.
    let r = Resources {
        unified: [("misc.max".to_string(), "x 1".to_string())].into(),
        ..Default::default()
    };
    let e = cg.set(&r).unwrap_err();
    assert!(
        e.to_string().contains("the `misc` controller is not enabled"),
        "{e}"
    );
}

#[test]
fn v2_quota_without_period_and_unlimited() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let d = cg.v2_dir().unwrap();
    put(
        &d,
        &[
            ("cpu.max", "max 100000\n"),
            ("memory.max", "1\n"),
            ("memory.swap.max", "1\n"),
        ],
    );
    let r = Resources {
        cpu: Some(Cpu {
            quota: Some(-1),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(-1),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(d.join("cpu.max")), "max 100000");
    assert_eq!(read(d.join("memory.max")), "max");
    assert_eq!(read(d.join("memory.swap.max")), "max");
}

#[test]
fn destroy_removes_children_and_created_ancestors_only() {
    let f = Fake::new(V2_MOUNTINFO, None);
    fs::create_dir_all(f.root.join("sys/fs/cgroup/existing")).unwrap();
    let cg = Cgroup::new(&f.layout, "/existing/new/ctr");
    cg.create().unwrap();
    assert_eq!(cg.created_dirs(), [f.root.join("sys/fs/cgroup/existing/new")]);
    let d = cg.v2_dir().unwrap();
    fs::create_dir_all(d.join("sub/deeper")).unwrap();
    fs::create_dir_all(d.join("sub2")).unwrap();
    cg.destroy().unwrap();
    assert!(!f.root.join("sys/fs/cgroup/existing/new").exists());
    assert!(
        f.root.join("sys/fs/cgroup/existing").is_dir(),
        "an ancestor we did not make stays"
    );
    // Destroying again: already gone is success.
    cg.destroy().unwrap();
}

#[test]
fn destroy_keeps_a_created_ancestor_that_another_container_uses() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let a = Cgroup::new(&f.layout, "/pod/a");
    a.create().unwrap();
    let b = Cgroup::new(&f.layout, "/pod/b");
    b.create().unwrap();
    assert!(b.created_dirs().iter().all(|d| d.ends_with("pod/b")));
    a.destroy().unwrap();
    assert!(f.root.join("sys/fs/cgroup/pod/b").is_dir());
    b.destroy().unwrap();
    assert!(
        f.root.join("sys/fs/cgroup/pod").is_dir(),
        "b did not make /pod; a's destroy found it busy"
    );
}

#[test]
fn destroy_attempts_every_hierarchy_and_reports_all_errors() {
    let f = Fake::new(V1_JOINED_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    cg.create().unwrap();
    // Regular files make rmdir fail with ENOTEMPTY in two hierarchies.
    put(&f.cg("memory/ctr"), &[("stuck", "")]);
    put(&f.cg("pids/ctr"), &[("stuck", "")]);
    let e = cg.destroy().unwrap_err();
    let CgroupError::Multiple(errors) = &e else {
        panic!("{e}")
    };
    assert_eq!(errors.len(), 2, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "cannot remove directory `{}`: ENOTEMPTY",
            f.cg("memory/ctr").display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "cannot remove directory `{}`: ENOTEMPTY",
            f.cg("pids/ctr").display()
        )),
        "{msg}"
    );
    assert!(
        !f.cg("cpu,cpuacct/ctr").exists(),
        "the other hierarchies were still removed"
    );
    assert!(!f.cg("systemd/ctr").exists());
}

#[test]
fn failed_create_removes_what_it_made() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    // No cpuset files in the new leaf (a fake tree cannot make them on mkdir): create fails on
    // cpuset and must leave nothing behind.
    let cg = Cgroup::new(&f.layout, "/a/ctr");
    let e = cg.create().unwrap_err();
    assert!(e.to_string().contains("cpuset.cpus"), "{e}");
    for m in ["cpu", "cpuacct", "cpuset", "memory", "unified"] {
        assert!(!f.cg(m).join("a").exists(), "{m}");
    }
    assert!(cg.created_dirs().is_empty());
}

#[test]
fn cpuset_fill_copies_down_a_chain_of_new_dirs() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let top = f.cg("cpuset/a");
    for d in [top.clone(), top.join("b"), top.join("b/c")] {
        put(&d, &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")]);
    }
    crate::cgroup::cpuset_fill(&top.join("b/c"), Some(&top)).unwrap();
    assert_eq!(read(top.join("cpuset.cpus")), "0-1");
    assert_eq!(read(top.join("b/cpuset.cpus")), "0-1");
    assert_eq!(read(top.join("b/c/cpuset.cpus")), "0-1");
    assert_eq!(read(top.join("cpuset.mems")), "0");
    assert_eq!(read(top.join("b/cpuset.mems")), "0");
    assert_eq!(read(top.join("b/c/cpuset.mems")), "0");

    // A leaf that existed (create made nothing) is still filled from its parent, and an existing
    // ancestor is not written.
    let cg = Cgroup::new(&f.layout, "/x/ctr");
    put(
        &f.cg("cpuset/x"),
        &[("cpuset.cpus", "1\n"), ("cpuset.mems", "0\n")],
    );
    f.populate(&cg);
    cg.create().unwrap();
    assert_eq!(read(f.cg("cpuset/x/ctr/cpuset.cpus")), "1");
    assert_eq!(read(f.cg("cpuset/x/cpuset.cpus")), "1\n");
}

#[test]
fn relative_paths_go_under_the_own_cgroup() {
    let f = Fake::new(
        HYBRID_MOUNTINFO,
        Some("4:memory:/process_api/abc\n1:cpu:/\n0::/user/x\n"),
    );
    let cg = Cgroup::new(&f.layout, "pod/ctr");
    assert_eq!(
        cg.controller_dir("memory").unwrap(),
        f.cg("memory/process_api/abc/pod/ctr")
    );
    assert_eq!(cg.controller_dir("cpu").unwrap(), f.cg("cpu/pod/ctr"));
    assert_eq!(cg.unified_dir().unwrap(), f.cg("unified/user/x/pod/ctr"));

    // Pure v2 uses the parent of the own cgroup (the own one has processes: no children allowed).
    let f = Fake::new(V2_MOUNTINFO, Some("0::/user.slice/session-1.scope\n"));
    let cg = Cgroup::new(&f.layout, "ctr");
    assert_eq!(cg.v2_dir().unwrap(), f.root.join("sys/fs/cgroup/user.slice/ctr"));
}

#[test]
fn v1_mounts_for_joined_and_hybrid() {
    let f = Fake::new(V1_JOINED_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let m = cg.v1_mounts();
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].name, "name=systemd");
    assert_eq!(m[0].options, "none,name=systemd");
    assert_eq!(m[0].dest, "systemd");
    assert_eq!(m[1].name, "cpu,cpuacct");
    assert_eq!(m[1].options, "cpu,cpuacct");
    assert_eq!(m[1].dest, "cpu,cpuacct");
    assert_eq!(m[1].links, ["cpu", "cpuacct"]);
    assert_eq!(m[1].host_dir, f.cg("cpu,cpuacct/ctr"));
    assert!(m.iter().all(|m| !m.cgroup2));

    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let m = Cgroup::new(&f.layout, "/ctr").v1_mounts();
    let last = m.last().unwrap();
    assert!(last.cgroup2);
    assert_eq!(last.dest, "unified");
    assert_eq!(last.host_dir, f.cg("unified/ctr"));

    let f = Fake::new(V2_MOUNTINFO, None);
    let m = Cgroup::new(&f.layout, "/ctr").v1_mounts();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].dest, "");
}

#[test]
fn serde_round_trip_keeps_created_dirs() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/new/ctr");
    cg.create().unwrap();
    let json = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    assert_eq!(back.created_dirs(), cg.created_dirs());
    assert_eq!(back.dirs(), cg.dirs());
    assert_eq!(back.path(), "/new/ctr");
    back.destroy().unwrap();
    assert!(!f.root.join("sys/fs/cgroup/new").exists());
    let clone = cg.clone();
    assert_eq!(clone.created_dirs(), cg.created_dirs());
}

#[test]
fn freeze_thaw_v1_and_v2_on_fake_files() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    fs::write(f.cg("freezer/ctr/freezer.self_freezing"), "1\n").unwrap();
    cg.freeze().unwrap();
    assert_eq!(read(f.cg("freezer/ctr/freezer.state")), "FROZEN");
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let d = cg.v2_dir().unwrap();
    put(
        &d,
        &[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 1\n"),
        ],
    );
    cg.freeze().unwrap();
    assert_eq!(read(d.join("cgroup.freeze")), "1");
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
}

#[test]
fn pids_recurse_into_child_cgroups() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let d = cg.v2_dir().unwrap();
    put(&d, &[("cgroup.procs", "10\n11\n")]);
    put(&d.join("sub"), &[("cgroup.procs", "12\n")]);
    put(&d.join("sub/deeper"), &[("cgroup.procs", "13\n")]);
    let mut pids = cg.pids().unwrap();
    pids.sort();
    assert_eq!(pids, [10, 11, 12, 13]);
    put(
        &d,
        &[("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")],
    );
    assert_eq!(cg.oom_kill_count().unwrap(), 1);
}

#[test]
fn v1_stats_from_sample_files_match_runc_shape() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    f.populate(&cg);
    fs::write(f.cg("cpuset/ctr/cpuset.cpus"), "0-1\n").unwrap();
    fs::write(f.cg("cpuset/ctr/cpuset.mems"), "0\n").unwrap();
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 10843693);
    assert_eq!(s.cpu.usage.percpu, [8439964, 2403729]);
    assert_eq!(s.cpu.usage.percpu_kernel, [8000000, 0]);
    assert_eq!(s.cpu.usage.percpu_user, [4000000, 0]);
    assert_eq!(s.cpu.usage.user, 12 * 1_000_000_000 / 100);
    assert_eq!(s.cpu.throttling.throttled_periods, 3);
    assert_eq!(s.cpuset.cpus, [0, 1]);
    assert_eq!(s.cpuset.sched_relax_domain_level, -1);
    assert_eq!(s.memory.cache, 12288);
    assert_eq!(s.memory.usage.usage, 987136);
    assert_eq!(s.memory.usage.max, 2850816);
    assert_eq!(s.memory.usage.limit, 9223372036854771712);
    assert_eq!(s.memory.raw["hierarchical_memory_limit"], 67108864);
    assert_eq!(
        s.memory.kernel,
        MemoryEntry::default(),
        "no kmem usage file in the sample"
    );
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 0, "max is 0 as in runc");
    assert_eq!(
        s.blkio.io_service_bytes_recursive,
        [
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 8192
            }
        ]
    );
    assert_eq!(cg.oom_kill_count().unwrap(), 2);
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(
        json["memory"]["kernel"],
        serde_json::json!({"limit": 0, "failcnt": 0})
    );
}

#[test]
fn v2_stats_from_sample_files() {
    let f = Fake::new(V2_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    let d = cg.v2_dir().unwrap();
    put(
        &d,
        &[
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n"),
            ("memory.stat", "anon 4096\nfile 8192\n"),
            ("memory.current", "12288\n"),
            ("memory.max", "67108864\n"),
            ("memory.peak", "20000\n"),
            ("memory.swap.current", "100\n"),
            ("memory.swap.max", "max\n"),
            ("pids.current", "3\n"),
            ("pids.max", "32\n"),
            ("io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 2\n"),
            ("hugetlb.2MB.rsvd.current", "0\n"),
        ],
    );
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 1_500_000);
    assert_eq!(s.cpu.usage.user, 1_000_000);
    assert_eq!(s.cpu.usage.kernel, 500_000);
    assert_eq!(s.cpu.throttling.throttled_time, 20_000);
    assert_eq!(s.memory.cache, 8192);
    assert_eq!(
        s.memory.usage,
        MemoryEntry {
            limit: 67108864,
            usage: 12288,
            max: 20000,
            failcnt: 0
        }
    );
    assert_eq!(
        s.memory.swap,
        MemoryEntry {
            limit: u64::MAX,
            usage: 12388,
            max: 0,
            failcnt: 0
        }
    );
    assert_eq!((s.pids.current, s.pids.limit), (3, 32));
    assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
    assert_eq!(s.blkio.io_serviced_recursive[0].op, "Read");
    assert_eq!(s.hugetlb.len(), 1, "rsvd files are not page sizes");
    assert_eq!(s.hugetlb["2MB"].failcnt, 2);
}

/// The JSON runc 1.1.5 printed for a container on this machine goes through our types unchanged.
#[test]
fn stats_json_round_trips_runc_output() {
    let runc: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/runc-1.1.5-events-stats-v1.json")).unwrap();
    let ours: Stats = serde_json::from_value(runc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&ours).unwrap(), runc);
    let empty = serde_json::to_value(Stats::default()).unwrap();
    assert_eq!(
        empty["cpu"],
        serde_json::json!({"usage": {"kernel": 0, "user": 0}, "throttling": {}})
    );
    assert_eq!(empty["network_interfaces"], serde_json::Value::Null);
    assert_eq!(empty["blkio"], serde_json::json!({}));
}

#[test]
fn layout_mode_for_v2_dir_and_controller_dir() {
    let f = Fake::new(HYBRID_MOUNTINFO, None);
    let cg = Cgroup::new(&f.layout, "/ctr");
    assert_eq!(cg.v2_dir(), None, "hybrid: no CLONE_INTO_CGROUP");
    assert_eq!(cg.controller_dir("pids").unwrap(), f.cg("pids/ctr"));
    assert_eq!(
        cg.controller_dir("hugetlb").unwrap(),
        f.cg("unified/ctr"),
        "hugetlb only in cgroup2"
    );
    assert_eq!(cg.controller_dir("io"), None);
}
