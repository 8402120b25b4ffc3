//! Containers through berthd (root only): the seeds' container scenarios on the bootstrapped
//! busybox image, each test with its own daemon, data root and names; every container is removed
//! when the test's daemon is dropped, and each test checks that nothing it made is left
//! (process, mount, cgroup).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Berthd;

fn root_or_skip() -> bool {
    if !berth_testkit::is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    // Orphans of containers must be reaped by someone: this test process.
    // SAFETY: prctl with an integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    true
}

struct Env {
    d: Berthd,
}

impl Env {
    fn new() -> Env {
        let d = Berthd::start();
        d.bootstrap_busybox("busybox:latest");
        Env { d }
    }

    /// `POST /containers/create`; returns the ID.
    fn create(&self, name: &str, body: Value) -> String {
        let (code, out) = self
            .d
            .api_json("POST", &format!("/containers/create?name={name}"), &body);
        assert_eq!(code, 201, "create {name}: {out}\n{}", self.d.log());
        serde_json::from_str::<Value>(&out).unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn start(&self, id: &str) {
        let (code, out) = self.d.api("POST", &format!("/containers/{id}/start"), None);
        assert_eq!(
            code,
            204,
            "start: {}\n{}",
            String::from_utf8_lossy(&out),
            self.d.log()
        );
    }

    fn run_d(&self, name: &str, body: Value) -> String {
        let id = self.create(name, body);
        self.start(&id);
        id
    }

    fn inspect(&self, id: &str) -> Value {
        self.d.json(&format!("/containers/{id}/json"))
    }

    fn wait(&self, id: &str) -> i64 {
        let v: Value = serde_json::from_str(&self.d.ok("POST", &format!("/containers/{id}/wait"))).unwrap();
        v["StatusCode"].as_i64().unwrap()
    }

    /// stdout and stderr of the container's log, demultiplexed.
    fn logs(&self, id: &str) -> (String, String) {
        let (code, body) = self
            .d
            .api("GET", &format!("/containers/{id}/logs?stdout=1&stderr=1"), None);
        assert_eq!(code, 200);
        demux(&body)
    }

    fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}\n{}", self.d.log());
    }
}

fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while b.len() >= 8 {
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let payload = &b[8..8 + n];
        if b[0] == 2 {
            err.extend_from_slice(payload);
        } else {
            out.extend_from_slice(payload);
        }
        b = &b[8 + n..];
    }
    (
        String::from_utf8_lossy(&out).into(),
        String::from_utf8_lossy(&err).into(),
    )
}

fn busybox(cmd: &[&str]) -> Value {
    json!({"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}})
}

fn pid_alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

fn mounted_under(dir: &Path) -> Vec<String> {
    let m = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    m.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&d))
        .map(str::to_string)
        .collect()
}

fn cgroup_dirs(parent: &str, id: &str) -> Vec<String> {
    let mut v = Vec::new();
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if let Ok(rd) = std::fs::read_dir(base) {
            for e in rd.flatten() {
                let p = e.path().join(parent).join(id);
                if p.exists() {
                    v.push(p.display().to_string());
                }
            }
            let p = Path::new(base).join(parent).join(id);
            if p.exists() {
                v.push(p.display().to_string());
            }
        }
    }
    v
}

/// Nothing of the container is left: no process, mount or cgroup.
fn assert_gone(e: &Env, id: &str, pid: i64) {
    assert!(
        !pid_alive(pid) || is_zombie(pid),
        "process {pid} of {id} still runs"
    );
    assert!(
        mounted_under(&e.d.data.join("containers").join(id)).is_empty(),
        "mount left for {id}"
    );
    let left = cgroup_dirs(&e.d.cgroup_parent, id);
    assert!(left.is_empty(), "cgroups left: {left:?}");
}

fn is_zombie(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(true)
}

#[test]
fn seed001_3_2_run_then_ps_shows_exited_then_rm_and_rmi() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let id = e.run_d(
        "hello-1",
        busybox(&["sh", "-c", "echo hello; echo oops >&2; exit 3"]),
    );
    assert_eq!(e.wait(&id), 3);
    let (out, err) = e.logs(&id);
    assert_eq!(out, "hello\n");
    assert_eq!(err, "oops\n");
    let ps: Value = e.d.json("/containers/json?all=1");
    let row = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["State"], "exited");
    assert!(row["Status"].as_str().unwrap().starts_with("Exited (3)"), "{row}");
    assert_eq!(row["Names"][0], "/hello-1");
    // Not in the default list (running only).
    let running: Value = e.d.json("/containers/json");
    assert!(!running.as_array().unwrap().iter().any(|r| r["Id"] == id.as_str()));
    let st = e.inspect(&id);
    assert_eq!(st["State"]["Status"], "exited");
    assert_eq!(st["State"]["ExitCode"], 3);
    assert_eq!(st["Name"], "/hello-1");
    // The image is in use: rmi refuses.
    let (code, body) = e.d.api("DELETE", "/images/busybox", None);
    assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));
    e.d.ok("DELETE", &format!("/containers/{id}"));
    let (code, _) = e.d.api("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(code, 404);
    assert!(!e.d.data.join("containers").join(&id).exists());
    e.d.ok("DELETE", "/images/busybox");
    assert_gone(&e, &id, 0);
}

#[test]
fn seed004_writable_layer_belongs_to_one_container() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let a = e.run_d(
        "writer",
        busybox(&["sh", "-c", "echo x > /only-here && cat /only-here"]),
    );
    assert_eq!(e.wait(&a), 0);
    assert_eq!(e.logs(&a).0, "x\n");
    let b = e.run_d("reader", busybox(&["cat", "/only-here"]));
    assert_eq!(e.wait(&b), 1);
    assert!(e.logs(&b).1.contains("No such file"), "{:?}", e.logs(&b));
    // The file is in a's writable layer only.
    assert!(e
        .d
        .data
        .join("containers")
        .join(&a)
        .join("diff/only-here")
        .exists());
}

#[test]
fn seed003_memory_and_cpu_limits_are_in_the_cgroups_and_enforced() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let id = e.run_d(
        "limited",
        json!({"Image": "busybox", "Cmd": ["sleep", "100"],
               "HostConfig": {"NetworkMode": "none", "Memory": 104857600, "NanoCpus": 1000000000, "PidsLimit": 50}}),
    );
    let mem = Path::new("/sys/fs/cgroup/memory")
        .join(&e.d.cgroup_parent)
        .join(&id);
    if mem.exists() {
        assert_eq!(
            std::fs::read_to_string(mem.join("memory.limit_in_bytes"))
                .unwrap()
                .trim(),
            "104857600"
        );
        let cpu = Path::new("/sys/fs/cgroup/cpu,cpuacct")
            .join(&e.d.cgroup_parent)
            .join(&id);
        let cpu = if cpu.exists() {
            cpu
        } else {
            Path::new("/sys/fs/cgroup/cpu").join(&e.d.cgroup_parent).join(&id)
        };
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.cfs_quota_us"))
                .unwrap()
                .trim(),
            "100000"
        );
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.cfs_period_us"))
                .unwrap()
                .trim(),
            "100000"
        );
        let pids = Path::new("/sys/fs/cgroup/pids")
            .join(&e.d.cgroup_parent)
            .join(&id);
        assert_eq!(
            std::fs::read_to_string(pids.join("pids.max")).unwrap().trim(),
            "50"
        );
    } else {
        let v2 = Path::new("/sys/fs/cgroup").join(&e.d.cgroup_parent).join(&id);
        assert_eq!(
            std::fs::read_to_string(v2.join("memory.max")).unwrap().trim(),
            "104857600"
        );
        assert_eq!(
            std::fs::read_to_string(v2.join("cpu.max")).unwrap().trim(),
            "100000 100000"
        );
    }
    let pid = e.inspect(&id)["State"]["Pid"].as_i64().unwrap();
    e.d.ok("DELETE", &format!("/containers/{id}?force=1"));
    assert_gone(&e, &id, pid);

    // Past the limit: the OOM killer ends it, and inspect says so.
    let oom = e.run_d(
        "hungry",
        json!({"Image": "busybox", "Cmd": ["sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' x); echo survived"],
               "HostConfig": {"NetworkMode": "none", "Memory": 52428800, "MemorySwap": 52428800}}),
    );
    assert_eq!(e.wait(&oom), 137);
    let st = e.inspect(&oom);
    assert_eq!(st["State"]["OOMKilled"], true, "{}", st["State"]);
    assert!(!e.logs(&oom).0.contains("survived"));
}

#[test]
fn seed004_stop_honours_the_stop_signal_and_the_grace_period() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    // Traps TERM and says so: stop ends it with the signal, quickly.
    let polite = e.run_d(
        "polite",
        busybox(&[
            "sh",
            "-c",
            "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done",
        ]),
    );
    e.wait_for("the trap to be set", || {
        e.inspect(&polite)["State"]["Running"] == true
    });
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    e.d.ok("POST", &format!("/containers/{polite}/stop?t=10"));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(e.inspect(&polite)["State"]["ExitCode"], 0);
    assert!(e.logs(&polite).0.contains("got-term"));

    // Ignores TERM: killed after the grace period (1 s).
    let stubborn = e.run_d(
        "stubborn",
        busybox(&["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]),
    );
    e.wait_for("running", || e.inspect(&stubborn)["State"]["Running"] == true);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    e.d.ok("POST", &format!("/containers/{stubborn}/stop?t=1"));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(e.inspect(&stubborn)["State"]["ExitCode"], 137);

    // STOPSIGNAL from the config: USR1 ends a process that only traps USR1.
    let mut body = busybox(&[
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 0' USR1; while true; do sleep 0.1; done",
    ]);
    body["StopSignal"] = json!("SIGUSR1");
    let usr1 = e.run_d("usr1", body);
    e.wait_for("running", || e.inspect(&usr1)["State"]["Running"] == true);
    std::thread::sleep(Duration::from_millis(300));
    e.d.ok("POST", &format!("/containers/{usr1}/stop?t=10"));
    assert!(e.logs(&usr1).0.contains("got-usr1"));
    // Stopping a stopped container: 304.
    let (code, _) = e.d.api("POST", &format!("/containers/{usr1}/stop"), None);
    assert_eq!(code, 304);
}

#[test]
fn seed004_auto_remove_and_wait_removed() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let mut body = busybox(&["true"]);
    body["HostConfig"]["AutoRemove"] = json!(true);
    let id = e.create("gone-soon", body);
    e.start(&id);
    let v: Value =
        serde_json::from_str(&e.d.ok("POST", &format!("/containers/{id}/wait?condition=removed"))).unwrap();
    assert_eq!(v["StatusCode"], 0);
    let (code, _) = e.d.api("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(code, 404);
    assert!(!e.d.data.join("containers").join(&id).exists());
    assert_gone(&e, &id, 0);
}

#[test]
fn seed004_a_crashing_container_restarts_with_backoff() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let mut body = busybox(&["sh", "-c", "echo run; exit 1"]);
    body["HostConfig"]["RestartPolicy"] = json!({"Name": "on-failure", "MaximumRetryCount": 3});
    let id = e.run_d("crashy", body);
    e.wait_for("three restarts", || {
        let st = e.inspect(&id);
        st["RestartCount"] == 3 && st["State"]["Status"] == "exited"
    });
    assert_eq!(e.logs(&id).0, "run\nrun\nrun\nrun\n");
    // Backoff: 100 + 200 + 400 ms at least between the four runs.
    let st = e.inspect(&id);
    let started = berth_time(st["State"]["StartedAt"].as_str().unwrap());
    let created = berth_time(st["Created"].as_str().unwrap());
    assert!(started - created >= 700_000_000, "{} ns", started - created);
}

fn berth_time(s: &str) -> i64 {
    // 2026-12-03T10:00:00.123456789Z → nanoseconds (enough for differences within a day).
    let t = s.split('T').nth(1).unwrap().trim_end_matches('Z');
    let (hms, frac) = t.split_once('.').unwrap_or((t, "0"));
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let frac = format!("{frac:0<9}");
    ((p[0] * 3600 + p[1] * 60 + p[2]) * 1_000_000_000) + frac[..9].parse::<i64>().unwrap()
}

#[test]
fn seed002_berthd_killed_while_containers_run_keeps_them_running() {
    if !root_or_skip() {
        return;
    }
    let mut e = Env::new();
    let id = e.run_d(
        "survivor",
        busybox(&[
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ]),
    );
    let pid = e.inspect(&id)["State"]["Pid"].as_i64().unwrap();
    e.wait_for("a first line", || e.logs(&id).0.contains("tick 0"));
    e.d.kill9();
    std::thread::sleep(Duration::from_millis(600));
    assert!(pid_alive(pid), "the container died with berthd");
    e.d.restart();
    let st = e.inspect(&id);
    assert_eq!(st["State"]["Status"], "running", "{}", st["State"]);
    assert_eq!(st["State"]["Pid"].as_i64().unwrap(), pid);
    let before = e.logs(&id).0.lines().count();
    e.wait_for("logs to continue", || e.logs(&id).0.lines().count() > before + 2);
    e.d.ok("POST", &format!("/containers/{id}/stop?t=1"));
    assert_eq!(e.inspect(&id)["State"]["Status"], "exited");
    e.d.ok("DELETE", &format!("/containers/{id}"));
    assert_gone(&e, &id, pid);
}

#[test]
fn fifty_concurrent_runs_give_fifty_running_containers_with_unique_names() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                s.spawn(|| {
                    let (code, out) =
                        e.d.api_json("POST", "/containers/create", &busybox(&["sleep", "100"]));
                    assert_eq!(code, 201, "{out}");
                    let id = serde_json::from_str::<Value>(&out).unwrap()["Id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    e.start(&id);
                    id
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ps: Value = e.d.json("/containers/json");
    let rows = ps.as_array().unwrap();
    assert_eq!(rows.len(), 50);
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r["Names"][0].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 50);
    for n in &names {
        let n = n.trim_start_matches('/');
        let (adj, surname) = n
            .split_once('_')
            .unwrap_or_else(|| panic!("name {n} is not adjective_surname"));
        assert!(!adj.is_empty() && !surname.is_empty());
    }
    assert!(rows.iter().all(|r| r["State"] == "running"));
    // The state survives a restart of berthd intact.

    let mut e = e;
    e.d.restart();
    let ps: Value = e.d.json("/containers/json");
    assert_eq!(ps.as_array().unwrap().len(), 50);
    let pids: Vec<i64> = ids
        .iter()
        .map(|id| e.inspect(id)["State"]["Pid"].as_i64().unwrap())
        .collect();
    for id in &ids {
        e.d.ok("DELETE", &format!("/containers/{id}?force=1"));
    }
    for (id, pid) in ids.iter().zip(pids) {
        assert_gone(&e, id, pid);
    }
}

/// Zombies in the container's pid namespace, seen from inside (state `Z` in /proc/N/stat).
fn zombies(e: &Env, name: &str) -> usize {
    let out =
        e.d.docker_ok(&["exec", name, "sh", "-c", "cat /proc/[0-9]*/stat"]);
    out.lines()
        .filter(|l| l.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .count()
}

#[test]
fn seed001_3_5_6_zombies_stay_without_init_and_are_reaped_with_it() {
    if !root_or_skip() || !support::have(support::docker_cli()) {
        return;
    }
    let e = Env::new();
    // The subshell's child is orphaned to PID 1, which is `sleep`: nobody reaps it.
    let script = "(sleep 0.2 &); exec sleep 100";
    e.d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "no-init",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    e.d.docker_ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "with-init",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(zombies(&e, "no-init"), 1);
    assert_eq!(zombies(&e, "with-init"), 0);
    // With --init, PID 1 is berth-init and the command is its child.
    let cmdline = e.d.docker_ok(&["exec", "with-init", "cat", "/proc/1/cmdline"]);
    assert!(cmdline.starts_with("/sbin/docker-init"), "{cmdline:?}");
}

#[test]
fn seed001_3_2_4_exec_killall_sleep_ends_an_init_rm_container() {
    if !root_or_skip() || !support::have(support::docker_cli()) {
        return;
    }
    let e = Env::new();
    let id =
        e.d.docker_ok(&[
            "run",
            "-d",
            "--name",
            "deadlock-app",
            "--rm",
            "--init",
            "--network",
            "none",
            "busybox",
            "sleep",
            "1d",
        ])
        .trim()
        .to_string();
    let ps = e.d.docker_ok(&["exec", "deadlock-app", "ps", "-a"]);
    assert!(ps.contains("sleep 1d"), "{ps}");
    let out = e.d.docker(&["exec", "deadlock-app", "killall", "sleep"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    e.wait_for("removal", || {
        e.d.api("GET", &format!("/containers/{id}/json"), None).0 == 404
    });
    let all = e.d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.contains("deadlock-app"), "{all}");
    assert_gone(&e, &id, 0);
}

#[test]
fn docker_cli_runs_ps_logs_exec_stop_rm_inspect_like_berth() {
    if !root_or_skip() || !support::have(support::docker_cli()) {
        return;
    }
    let e = Env::new();
    // Attached run: the hijacked stream carries stdout and stderr apart; the exit code comes back.
    let out = e.d.docker(&[
        "run",
        "--name",
        "att",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // Detached run, ps, logs, exec (exit code propagated), inspect --format.
    let id = e.d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 100",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ps = e.d.docker_ok(&["ps"]);
    let header = ps.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        ps.contains(&id[..12]) && ps.contains("Up ") && ps.contains("web"),
        "{ps}"
    );
    e.wait_for("the first log line", || {
        e.d.docker_ok(&["logs", "web"]) == "started\n"
    });
    let ex = e.d.docker(&["exec", "web", "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!(ex.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&ex.stdout), "in-exec\n");
    let pid = e.d.docker_ok(&["inspect", "--format", "{{.State.Pid}}", "web"]);
    assert!(pid_alive(pid.trim().parse().unwrap()));
    assert_eq!(
        e.d.docker_ok(&["inspect", "--format", "{{.State.Status}} {{.Name}}", "web"])
            .trim(),
        "running /web"
    );
    let hc: Value =
        serde_json::from_str(&e.d.docker_ok(&["inspect", "--format", "{{json .HostConfig}}", "web"]))
            .unwrap();
    assert_eq!(hc["NetworkMode"], "none");
    e.d.docker_ok(&["stop", "-t", "1", "web"]);
    assert!(e
        .d
        .docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .contains("web Exited (137)"));
    e.d.docker_ok(&["rm", "web", "att"]);
    assert_eq!(e.d.docker_ok(&["ps", "-aq"]).trim(), "");
    assert_gone(&e, id, pid.trim().parse().unwrap());
}

fn cpu_usage_ns(parent: &str, id: &str) -> u64 {
    for p in ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct"] {
        let f = Path::new(p).join(parent).join(id).join("cpuacct.usage");
        if let Ok(s) = std::fs::read_to_string(&f) {
            return s.trim().parse().unwrap();
        }
    }
    let f = Path::new("/sys/fs/cgroup").join(parent).join(id).join("cpu.stat");
    let s = std::fs::read_to_string(f).unwrap();
    let usec: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    usec * 1000
}

#[test]
fn seed001_2_4_cpu_shares_split_one_core_25_75() {
    if !root_or_skip() {
        return;
    }
    let e = Env::new();
    let spin = |name: &str, shares: i64| {
        e.run_d(
            name,
            json!({"Image": "busybox", "Cmd": ["sh", "-c", "while :; do :; done"],
                   "HostConfig": {"NetworkMode": "none", "CpuShares": shares, "CpusetCpus": "0"}}),
        )
    };
    let low = spin("low", 512);
    let high = spin("high", 1536);
    std::thread::sleep(Duration::from_millis(500));
    let (l0, h0) = (
        cpu_usage_ns(&e.d.cgroup_parent, &low),
        cpu_usage_ns(&e.d.cgroup_parent, &high),
    );
    std::thread::sleep(Duration::from_secs(3));
    let (l1, h1) = (
        cpu_usage_ns(&e.d.cgroup_parent, &low),
        cpu_usage_ns(&e.d.cgroup_parent, &high),
    );
    let (l, h) = ((l1 - l0) as f64, (h1 - h0) as f64);
    let share = l / (l + h);
    assert!(
        (0.17..=0.33).contains(&share),
        "low got {:.1} % of the core",
        share * 100.0
    );
    e.d.ok("DELETE", &format!("/containers/{low}?force=1"));
    e.d.ok("DELETE", &format!("/containers/{high}?force=1"));
}

#[test]
fn update_applies_live_and_top_lists_the_processes() {
    if !root_or_skip() || !support::have(support::docker_cli()) {
        return;
    }
    let e = Env::new();
    let id = e.d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "upd",
        "--network",
        "none",
        "-m",
        "100m",
        "busybox",
        "sleep",
        "100",
    ]);
    let id = id.trim();
    e.d.docker_ok(&[
        "update",
        "--memory",
        "200m",
        "--memory-swap",
        "300m",
        "--pids-limit",
        "20",
        "upd",
    ]);
    let mem = Path::new("/sys/fs/cgroup/memory")
        .join(&e.d.cgroup_parent)
        .join(id);
    if mem.exists() {
        assert_eq!(
            std::fs::read_to_string(mem.join("memory.limit_in_bytes"))
                .unwrap()
                .trim(),
            "209715200"
        );
        let pids = Path::new("/sys/fs/cgroup/pids")
            .join(&e.d.cgroup_parent)
            .join(id)
            .join("pids.max");
        assert_eq!(std::fs::read_to_string(pids).unwrap().trim(), "20");
    }
    assert_eq!(
        e.d.docker_ok(&["inspect", "--format", "{{.HostConfig.Memory}}", "upd"])
            .trim(),
        "209715200"
    );
    let top = e.d.docker_ok(&["top", "upd"]);
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sleep 100"), "{top}");
}

#[test]
fn seed004_named_volumes_keep_data_across_containers_and_binds_share_host_files() {
    if !root_or_skip() || !support::have(support::docker_cli()) {
        return;
    }
    let e = Env::new();
    e.d.docker_ok(&["volume", "create", "--label", "app=db", "data"]);
    e.d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let out = e.d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/data:ro",
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "kept\n");
    let ls =
        e.d.docker_ok(&["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]);
    assert!(ls.contains("local data"), "{ls}");
    let v = e.d.docker_ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Labels.app}} {{.Mountpoint}}",
        "data",
    ]);
    assert!(
        v.starts_with("db ") && v.trim().ends_with("/volumes/data/_data"),
        "{v}"
    );
    // In use: refused; unused: removed.
    e.d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "none",
        "-v",
        "data:/data",
        "busybox",
        "sleep",
        "100",
    ]);
    let rm = e.d.docker(&["volume", "rm", "data"]);
    assert!(!rm.status.success() && String::from_utf8_lossy(&rm.stderr).contains("volume is in use"));
    e.d.docker_ok(&["rm", "-f", "user"]);
    e.d.docker_ok(&["volume", "rm", "data"]);
    // A bind mount: the container writes a host file; read-only binds refuse writes.
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/host", host.path().display());
    e.d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo from-ctr > /host/x",
    ]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("x")).unwrap(),
        "from-ctr\n"
    );
    let ro = format!("{bind}:ro");
    let w = e.d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "echo y > /host/y",
    ]);
    assert_ne!(w.status.code(), Some(0));
    assert!(!host.path().join("y").exists());
}
