//! berth-runtime's own behaviour beyond the shared conformance checks: error reporting and cleanup on
//! bad input, protections, hooks, berth-init as PID 1, and the remaining commands. Needs root.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::*;

fn berth() -> Runtime {
    Runtime::new(Rt::Berth)
}

/// Asserts a failed command: exit 1, a message containing `want`, and nothing left behind for `id`.
fn assert_clean_failure(r: &Runtime, o: &Out, want: &str, id: &str) {
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains(want), "expected {want:?} in {:?}", o.stderr);
    assert!(!o.stderr.contains("channel"), "{o:?}");
    let left: Vec<_> = std::fs::read_dir(r.root.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "state left behind after failing on `{id}`: {left:?}"
    );
    let valid = berth_oci::validate::validate_id(id).is_ok();
    for ctrl in ["pids", "memory", "cpu", "freezer"].into_iter().filter(|_| valid) {
        let d = format!("/sys/fs/cgroup/{ctrl}/{id}");
        assert!(!Path::new(&d).exists(), "cgroup `{d}` left behind");
    }
}

fn create(r: &Runtime, bundle: &Path, id: &str) -> Out {
    let o = r.create_out(bundle, &[], id);
    if o.code == 0 {
        // Not expected by the callers: do not leave the container behind.
        drop(Container {
            rt: r,
            id: id.to_string(),
            bundle: None,
        });
    }
    o
}

#[test]
fn bad_input_is_named_and_leaves_nothing() {
    require_root!();
    let r = berth();
    let id = unique_name("be");

    let empty = tempfile::tempdir().unwrap();
    assert_clean_failure(&r, &create(&r, empty.path(), &id), "config.json", &id);

    std::fs::write(empty.path().join("config.json"), "{ not json").unwrap();
    assert_clean_failure(&r, &create(&r, empty.path(), &id), "invalid JSON in", &id);

    let mut b = sh("true");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "foo"}));
    b.save().unwrap();
    assert_clean_failure(&r, &create(&r, b.path(), &id), "unknown variant `foo`", &id);

    let mut b = sh("true");
    b.config["root"]["path"] = json!("nowhere");
    b.save().unwrap();
    assert_clean_failure(&r, &create(&r, b.path(), &id), "does not exist", &id);

    let b = sh("true");
    assert_clean_failure(
        &r,
        &create(&r, b.path(), "a/b"),
        "invalid container id `a/b`",
        "a",
    );
    assert_clean_failure(&r, &create(&r, b.path(), ".."), "invalid container id `..`", "..");
}

#[test]
fn duplicate_id_is_refused_and_the_first_survives() {
    require_root!();
    let r = berth();
    let c = r.start(sh("sleep 30"));
    let b = sh("sleep 30");
    let o = create(&r, b.path(), &c.id);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(&format!("container `{}` already exists", c.id)),
        "{o:?}"
    );
    assert_eq!(c.status(), "running");
}

#[test]
fn unknown_signal_is_named() {
    require_root!();
    let r = berth();
    let c = r.start(sh("sleep 30"));
    let o = Out::from(r.rt, r.output(&["kill", &c.id, "SIGFOO"]));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("unknown signal `SIGFOO`"), "{o:?}");
    assert_eq!(c.status(), "running");
}

#[test]
fn init_failures_travel_back_with_step_and_object() {
    require_root!();
    let r = berth();
    let id = unique_name("be");
    let mut b = sh("true");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/x", "type": "bogusfs", "source": "none"}));
    b.save().unwrap();
    let o = create(&r, b.path(), &id);
    assert_clean_failure(
        &r,
        &o,
        &format!("cannot mount bogusfs on `/x` in container `{id}`: ENODEV"),
        &id,
    );

    let b = Bundle::busybox(&["nope"]).unwrap();
    let o = create(&r, b.path(), &id);
    assert_clean_failure(
        &r,
        &o,
        &format!("cannot exec `nope` in container `{id}`: executable file not found in $PATH"),
        &id,
    );
}

#[test]
fn failed_run_reports_in_the_log_file_as_json() {
    require_root!();
    let r = berth();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let b = Bundle::busybox(&["nope"]).unwrap();
    let id = unique_name("be");
    let o = r.output(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("cannot exec `nope`"),
        "{line}"
    );
}

#[test]
fn no_host_descriptor_or_directory_leaks_in() {
    require_root!();
    let r = berth();
    // An inheritable descriptor in the runtime's environment must not reach the container.
    let f = std::fs::File::open("/").unwrap();
    // SAFETY: dup of a live descriptor; the copy is closed at the end of the test.
    let leaked = unsafe { libc::dup(std::os::fd::AsRawFd::as_raw_fd(&f)) };
    let o = r.run(&sh("ls /proc/self/fd | tr '\\n' ' '; readlink /proc/self/cwd"));
    // SAFETY: closing the descriptor dup'ed above.
    unsafe { libc::close(leaked) };
    let out = o.ok().out();
    // 0-2 are stdio; 3 is the directory `ls` itself opened.
    assert_eq!(out, "0 1 2 3 /", "{o:?}");
}

#[test]
fn the_runtime_binary_is_never_exec_d_in_a_container() {
    require_root!();
    let r = berth();
    let id = unique_name("be");
    let b = Bundle::busybox(&["/proc/self/exe"]).unwrap();
    let o = create(&r, b.path(), &id);
    assert_clean_failure(&r, &o, "runtime's own binary", &id);
}

#[test]
fn options_before_or_after_positionals_and_go_style_flags() {
    require_root!();
    let r = berth();
    let b = sh("true");
    let bp = b.path().to_str().unwrap();
    for args in [
        vec!["run", "ID", "--bundle", bp],
        vec!["run", "--bundle", bp, "ID"],
        vec!["run", "-bundle", bp, "ID"],
    ] {
        let id = unique_name("bo");
        let a: Vec<&str> = args
            .iter()
            .map(|s| if *s == "ID" { id.as_str() } else { s })
            .collect();
        let o = Out::from(r.rt, r.output(&a));
        assert_eq!(o.code, 0, "{args:?}: {o:?}");
    }
}

/// Starts `run` in the background and waits until its container is running.
fn spawn_run<'a>(r: &'a Runtime, b: &Bundle) -> (std::process::Child, Container<'a>) {
    let id = unique_name("br");
    let mut child = r
        .cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let c = Container {
        rt: r,
        id,
        bundle: None,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let o = r.output(&["state", &c.id]);
        if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("running") {
            return (child, c);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("container {} never ran", c.id);
}

#[test]
fn run_propagates_exit_status_and_forwards_signals() {
    require_root!();
    let r = berth();
    assert_eq!(r.run(&sh("exit 42")).code, 42);

    // Killed by a signal: 128 + N, as a shell reports it.
    let b = sh("sleep 30");
    let (mut child, c) = spawn_run(&r, &b);
    Out::from(r.rt, r.output(&["kill", &c.id, "KILL"])).ok();
    assert_eq!(child.wait().unwrap().code(), Some(137));

    // SIGTERM to the runtime reaches the container's process.
    let b = sh("trap 'exit 3' TERM; while :; do sleep 0.05; done");
    let (mut child, _c) = spawn_run(&r, &b);
    // SAFETY: kill with a pid we spawned and own.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(3));
    // `run` deleted what it made.
    assert_eq!(std::fs::read_dir(r.root.path()).unwrap().count(), 0);
}

#[test]
fn delete_refuses_a_running_container_without_force() {
    require_root!();
    let r = berth();
    let c = r.start(sh("sleep 30"));
    let o = Out::from(r.rt, r.output(&["delete", &c.id]));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("that is not stopped: running"), "{o:?}");
    assert_eq!(c.status(), "running");
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    require_root!();
    let r = berth();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let lp = log.to_str().unwrap();
    // Each hook appends its phase and the status it was given.
    let hook = |phase: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c",
            format!("read -r s; echo {phase} $(echo \"$s\" | grep -o '\"status\":\"[a-z]*\"') >> {lp}")]})
    };
    let mut b = sh("true");
    b.config["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")],
        // startContainer runs inside the container: its path and output are the container's.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start-hook"]}]
    });
    b.save().unwrap();
    r.run(&b).ok();
    let text = std::fs::read_to_string(&log).unwrap();
    let phases: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        phases,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{text}"
    );
    assert!(text.contains("prestart \"status\":\"creating\""), "{text}");
    assert!(text.contains("poststop \"status\":\"stopped\""), "{text}");
    let start: Value =
        serde_json::from_str(&std::fs::read_to_string(b.rootfs().join("tmp/start-hook")).unwrap()).unwrap();
    assert_eq!(start["status"], "running");
}

#[test]
fn failing_create_runtime_hook_aborts_cleanly() {
    require_root!();
    let r = berth();
    let id = unique_name("be");
    let mut b = sh("true");
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 2"]}]});
    b.save().unwrap();
    let o = create(&r, b.path(), &id);
    assert_clean_failure(&r, &o, "cannot run createRuntime hook `/bin/sh`", &id);
    assert!(o.stderr.contains("nope"), "{o:?}");
}

fn zombies(c: &Container) -> usize {
    let o = c.exec(&[
        "sh",
        "-c",
        "cat /proc/[0-9]*/stat 2>/dev/null | cut -d' ' -f3 | grep -c Z || true",
    ]);
    o.ok().out().parse().unwrap()
}

#[test]
fn berth_init_reaps_zombies_as_pid_1() {
    require_root!();
    let init = berth_init_bin();
    assert!(
        init.exists(),
        "{} missing: build the workspace first (cargo build)",
        init.display()
    );
    let r = berth();
    // Without an init, PID 1 (`sleep`) never reaps the orphan: it stays a zombie.
    let plain = r.start(sh("(sleep 0.1 &); exec sleep 30"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(zombies(&plain), 1);
    // With berth-init as PID 1, it is reaped.
    let mut b = Bundle::busybox(&[
        "/sbin/berth-init",
        "--",
        "/bin/sh",
        "-c",
        "(sleep 0.1 &); exec sleep 30",
    ])
    .unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sbin/berth-init", "type": "bind", "source": init.to_str().unwrap(), "options": ["bind", "ro"]
    }));
    b.save().unwrap();
    let with_init = r.start(b);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(zombies(&with_init), 0);
}

#[test]
fn list_ps_events_update() {
    require_root!();
    let r = berth();
    let c = r.start(sh("sleep 30"));
    let o = Out::from(r.rt, r.output(&["list"]));
    let header = o.ok().stdout.lines().next().unwrap().to_string();
    assert!(
        header.starts_with("ID") && header.contains("STATUS") && header.ends_with("OWNER"),
        "{header}"
    );
    assert!(o.stdout.contains(&c.id) && o.stdout.contains("running"), "{o:?}");
    let list: Value = serde_json::from_str(
        &Out::from(r.rt, r.output(&["list", "--format", "json"]))
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(list[0]["id"], c.id.as_str());

    let pids: Vec<i32> = serde_json::from_str(
        &Out::from(r.rt, r.output(&["ps", "--format", "json", &c.id]))
            .ok()
            .stdout,
    )
    .unwrap();
    assert!(pids.contains(&c.pid()), "{pids:?}");

    let ev: Value = serde_json::from_str(
        &Out::from(r.rt, r.output(&["events", "--stats", &c.id]))
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");

    Out::from(
        r.rt,
        r.output(&["update", "--memory", "64M", "--pids-limit", "10", &c.id]),
    )
    .ok();
    let read = |f: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{f}"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        read(&format!("memory/{}/memory.limit_in_bytes", c.id)),
        "67108864"
    );
    assert_eq!(read(&format!("pids/{}/pids.max", c.id)), "10");

    let res = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(res.path(), r#"{"cpu": {"quota": 50000, "period": 100000}}"#).unwrap();
    Out::from(
        r.rt,
        r.output(&["update", "--resources", res.path().to_str().unwrap(), &c.id]),
    )
    .ok();
    assert_eq!(read(&format!("cpu/{}/cpu.cfs_quota_us", c.id)), "50000");
}

#[test]
fn trace_shows_the_start_path() {
    require_root!();
    let r = berth();
    let b = sh("true");
    let id = unique_name("bt");
    let o = r
        .cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id])
        .env("BERTH_TRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    for step in [
        "create: config loaded",
        "create: cgroup",
        "init: mounts",
        "init: pivot",
        "run: exec'd",
    ] {
        assert!(err.contains(step), "{step} missing from {err}");
    }
}

#[test]
fn spec_and_features() {
    let r = berth();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    Out::from(r.rt, r.output(&["spec", "--bundle", d])).ok();
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"][0], "sh");
    let o = Out::from(r.rt, r.output(&["spec", "--bundle", d]));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("exists"), "{o:?}");
    let rootless = tempfile::tempdir().unwrap();
    Out::from(
        r.rt,
        r.output(&[
            "spec",
            "--rootless",
            "--bundle",
            rootless.path().to_str().unwrap(),
        ]),
    )
    .ok();
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(rootless.path().join("config.json")).unwrap()).unwrap();
    assert!(spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
    let f: Value = serde_json::from_str(&Out::from(r.rt, r.output(&["features"])).ok().stdout).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.0");
    assert!(f["linux"]["seccomp"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "SCMP_ACT_ERRNO"));
}
