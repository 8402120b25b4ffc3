//! Tests on the host's real cgroup hierarchy. They need root; without it they print why and pass.
//!
//! Every test makes uniquely named cgroups of its own (`/berth-cgtest-...`), never writes to a
//! cgroup it did not create, and removes everything in a drop guard, also when an assertion fails.
//! Safe to run in parallel.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_cgroups::{default_allowed_devices, detect, resolve_path, Cgroup, Layout};
use berth_oci::{Cpu, DeviceCgroup, Memory, Pids, Resources};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The host layout, or None (with the reason printed) when these tests cannot run here.
fn host(test: &str) -> Option<Layout> {
    if !is_root() {
        println!("skipping {test}: needs root");
        return None;
    }
    match detect() {
        Ok(l) => Some(l),
        Err(e) => {
            println!("skipping {test}: {e}");
            None
        }
    }
}

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "berth-cgtest-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Kills the children and destroys the cgroups on drop, then checks nothing is left.
struct Guard {
    cgroups: Vec<Cgroup>,
    children: Vec<Child>,
    /// Directories the test made by hand, removed (if empty) after the cgroups.
    extra_dirs: Vec<PathBuf>,
}

impl Guard {
    fn new() -> Guard {
        Guard {
            cgroups: Vec::new(),
            children: Vec::new(),
            extra_dirs: Vec::new(),
        }
    }

    fn kill_children(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }

    fn leftovers(&self) -> Vec<PathBuf> {
        self.cgroups
            .iter()
            .flat_map(|c| c.dirs())
            .filter(|d| d.exists())
            .map(|d| d.to_path_buf())
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_children();
        for cg in &self.cgroups {
            if let Err(e) = cg.destroy() {
                eprintln!("cleanup of {}: {e}", cg.path());
            }
        }
        for d in &self.extra_dirs {
            let _ = std::fs::remove_dir(d);
        }
        let left = self.leftovers();
        if !left.is_empty() && !std::thread::panicking() {
            panic!("cgroups left behind: {left:?}");
        }
    }
}

fn read(p: impl AsRef<std::path::Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// A shell that waits for a line on stdin, then reports which device nodes it may open.
fn device_probe() -> Child {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(
            "read x; \
             if true 2>/dev/null </dev/kmsg; then echo kmsg-open; else echo kmsg-denied; fi; \
             if true 2>/dev/null </dev/null; then echo null-open; else echo null-denied; fi",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run_probe(child: &mut Child) -> Vec<String> {
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let lines = out.lines().map(Result::unwrap).collect();
    child.wait().unwrap();
    lines
}

fn limits() -> Resources {
    let mut devices = vec![DeviceCgroup {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }];
    devices.extend(default_allowed_devices());
    Resources {
        devices,
        memory: Some(Memory {
            limit: Some(64 << 20),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 32 }),
        ..Default::default()
    }
}

#[test]
fn lifecycle_on_the_host_hierarchy() {
    let Some(layout) = host("lifecycle_on_the_host_hierarchy") else {
        return;
    };
    let mut g = Guard::new();
    let id = unique("life");
    let path = resolve_path(Some(&format!("/{id}")), &id, false).unwrap();
    g.cgroups.push(Cgroup::new(&layout, &path));
    let cg = &g.cgroups[0];
    cg.create().unwrap();
    cg.set(&limits()).unwrap();

    let sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = sleeper.id() as i32;
    g.children.push(sleeper);
    let cg = &g.cgroups[0];
    cg.apply(pid).unwrap();

    // Values read back from the kernel.
    let mem = cg.controller_dir("memory").unwrap();
    let pids = cg.controller_dir("pids").unwrap();
    let cpu = cg.controller_dir("cpu").unwrap();
    if layout.mode() == "v2" {
        assert_eq!(read(mem.join("memory.max")).trim(), "67108864");
        assert_eq!(read(cpu.join("cpu.max")).trim(), "50000 100000");
    } else {
        assert_eq!(read(mem.join("memory.limit_in_bytes")).trim(), "67108864");
        assert_eq!(read(cpu.join("cpu.shares")).trim(), "512");
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")).trim(), "50000");
        let list = read(cg.controller_dir("devices").unwrap().join("devices.list"));
        assert!(list.contains("c 1:3 rwm") && !list.contains("a *:*"), "{list}");
    }
    assert_eq!(read(pids.join("pids.max")).trim(), "32");

    // The process is in the cgroup in every hierarchy.
    let proc_cgroup = read(format!("/proc/{pid}/cgroup"));
    for line in proc_cgroup.lines() {
        assert!(
            line.ends_with(&path),
            "{line} (all of /proc/{pid}/cgroup: {proc_cgroup})"
        );
    }
    assert_eq!(cg.pids().unwrap(), [pid]);

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    let stats = cg.stats().unwrap();
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, 32);
    assert_eq!(stats.memory.usage.limit, 64 << 20);
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["memory"]["raw"].is_object(), "{json}");
    assert_eq!(cg.oom_kill_count().unwrap(), 0);

    // A live update.
    let r = Resources {
        pids: Some(Pids { limit: 64 }),
        ..Default::default()
    };
    cg.set(&r).unwrap();
    assert_eq!(read(pids.join("pids.max")).trim(), "64");

    // Device rules hold for a process in the cgroup.
    let mut probe = device_probe();
    cg.apply(probe.id() as i32).unwrap();
    assert_eq!(run_probe(&mut probe), ["kmsg-denied", "null-open"]);

    // A state file round trip manages the same cgroup.
    let stored: Cgroup = serde_json::from_str(&serde_json::to_string(cg).unwrap()).unwrap();
    assert_eq!(stored.pids().unwrap(), [pid]);

    g.kill_children();
    let cg = &g.cgroups[0];
    cg.destroy().unwrap();
    assert!(g.leftovers().is_empty(), "{:?}", g.leftovers());
    cg.destroy().unwrap(); // already gone
}

#[test]
fn nested_path_removes_only_what_it_made() {
    let Some(layout) = host("nested_path_removes_only_what_it_made") else {
        return;
    };
    let mut g = Guard::new();
    let parent = unique("parent");
    g.cgroups.push(Cgroup::new(&layout, &format!("/{parent}/a")));
    g.cgroups.push(Cgroup::new(&layout, &format!("/{parent}/b")));
    g.extra_dirs = g.cgroups[0]
        .dirs()
        .iter()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    g.cgroups[0].create().unwrap();
    g.cgroups[1].create().unwrap();
    // a made /parent and /parent/a; b only /parent/b.
    assert!(g.cgroups[0].created_dirs().iter().all(|d| d.ends_with(&parent)));
    assert!(g.cgroups[1].created_dirs().iter().all(|d| d.ends_with("b")));
    // A child cgroup inside a container's cgroup is removed with it.
    for d in g.cgroups[1].dirs() {
        std::fs::create_dir(d.join("inner")).unwrap();
    }
    g.cgroups[0].destroy().unwrap();
    for d in g.cgroups[1].dirs() {
        assert!(d.is_dir(), "{} must survive its sibling's destroy", d.display());
    }
    g.cgroups[1].destroy().unwrap();
    // /parent was made by a, which found it busy; b did not make it. Remove it as its maker would.
    for d in &g.extra_dirs {
        assert!(d.is_dir(), "{}", d.display());
        std::fs::remove_dir(d).unwrap();
    }
}

/// The cgroup v2 paths on the host's cgroup2 mount, with no controllers involved: the device
/// filter (bpf load, attach, replace) and the v2 freezer. On a hybrid host that mount holds our own
/// directory only; nothing is enabled in its root.
#[test]
fn v2_device_filter_and_freezer_on_the_cgroup2_mount() {
    let Some(host_layout) = host("v2_device_filter_and_freezer_on_the_cgroup2_mount") else {
        return;
    };
    let Some(unified) = host_layout.unified().cloned() else {
        println!("skipping: no cgroup2 mount");
        return;
    };
    let layout = Layout::V2 {
        unified: berth_cgroups::Unified {
            controllers: Vec::new(),
            ..unified
        },
    };
    let mut g = Guard::new();
    g.cgroups
        .push(Cgroup::new(&layout, &format!("/{}", unique("bpf"))));
    let cg = &g.cgroups[0];
    cg.create().unwrap();
    let mut devices = vec![DeviceCgroup {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }];
    devices.extend(default_allowed_devices());
    cg.set(&Resources {
        devices,
        ..Default::default()
    })
    .unwrap();

    let mut probe = device_probe();
    cg.apply(probe.id() as i32).unwrap();
    assert_eq!(run_probe(&mut probe), ["kmsg-denied", "null-open"]);

    // Replace with allow-all: the old filter must be gone.
    let allow_all = vec![DeviceCgroup {
        allow: true,
        access: Some("rwm".into()),
        ..Default::default()
    }];
    cg.set(&Resources {
        devices: allow_all,
        ..Default::default()
    })
    .unwrap();
    let mut probe = device_probe();
    cg.apply(probe.id() as i32).unwrap();
    assert_eq!(run_probe(&mut probe), ["kmsg-open", "null-open"]);

    let sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = sleeper.id() as i32;
    g.children.push(sleeper);
    let cg = &g.cgroups[0];
    cg.apply(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    let stats = cg.stats().unwrap();
    assert_eq!(
        stats.pids.current, 1,
        "counted from cgroup.procs without the pids controller"
    );
    g.kill_children();
    g.cgroups[0].destroy().unwrap();
    assert!(g.leftovers().is_empty());
}

/// create + set + apply for a simple config, and destroy, timed on this host.
#[test]
fn timing_create_set_apply_destroy() {
    let Some(layout) = host("timing_create_set_apply_destroy") else {
        return;
    };
    const N: usize = 50;
    let mut g = Guard::new();
    let sleeper = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = sleeper.id() as i32;
    g.children.push(sleeper);
    let r = limits();
    let mut up = Vec::with_capacity(N);
    let mut down = Vec::with_capacity(N);
    let mut phases = Vec::with_capacity(N);
    for i in 0..N {
        g.cgroups.push(Cgroup::new(&layout, &format!("/{}", unique("t"))));
        let cg = &g.cgroups[i];
        let t0 = Instant::now();
        cg.create().unwrap();
        let t_create = t0.elapsed();
        cg.set(&r).unwrap();
        let t_set = t0.elapsed() - t_create;
        cg.apply(pid).unwrap(); // moves the sleeper out of the previous cgroup
        let total = t0.elapsed();
        up.push(total);
        phases.push((t_create, t_set, total - t_create - t_set));
        if i > 0 {
            let t1 = Instant::now();
            g.cgroups[i - 1].destroy().unwrap();
            down.push(t1.elapsed());
        }
    }
    let first = up[0];
    println!("first iteration phases: {:?}", phases[0]);
    up.sort();
    down.sort();
    let med = |v: &[Duration]| v[v.len() / 2];
    let phase = |f: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut v: Vec<Duration> = phases.iter().map(f).collect();
        v.sort();
        med(&v)
    };
    println!(
        "phases (medians): create {:?}, set {:?}, apply {:?}",
        phase(|p| p.0),
        phase(|p| p.1),
        phase(|p| p.2)
    );
    println!(
        "{} ({} hierarchies): create+set+apply median {:?} (first {:?}, min {:?}, max {:?}); destroy median {:?}",
        layout.mode(),
        g.cgroups[0].dirs().len(),
        med(&up),
        first,
        up[0],
        up[up.len() - 1],
        med(&down)
    );
    assert!(
        med(&up) < Duration::from_millis(20),
        "create+set+apply is far too slow: {:?}",
        med(&up)
    );
}
