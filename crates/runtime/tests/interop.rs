//! berth-runtime as the OCI runtime of real engines: podman 4 (through conmon) and containerd 1.6
//! (through the io.containerd.runc.v2 shim), each with private storage and state. Needs root, podman,
//! conmon, containerd, ctr and the runc v2 shim; skipped otherwise.
//!
//! What the engines call: podman (conmon) `create --bundle B --pid-file P [--console-socket S] ID`,
//! `start`, `exec --pid-file P --process F --detach [--console-socket S] ID`, `kill ID SIG`, `pause`,
//! `resume`, `delete --force` (no `--root`: its cleanup process drops `--runtime-flag`, so the
//! default root is used); containerd's shim the same after `--root R --log L --log-format json`,
//! plus `delete` then `delete --force`, and `ps --format json`.

mod common;

use std::time::{Duration, Instant};

use common::{Containerd, Podman};

/// `head`, then the harness's `flags`, then `tail`: the `&str`s of one command line.
fn argv<'a>(head: &[&'a str], flags: &'a [String], tail: &[&'a str]) -> Vec<&'a str> {
    let mut v = head.to_vec();
    v.extend(flags.iter().map(String::as_str));
    v.extend_from_slice(tail);
    v
}

#[test]
fn podman_run_prints_output_and_propagates_exit_code() {
    require!("podman", "conmon");
    let _serial = common::serial();
    let p = Podman::new();
    let base = p.run_args();
    let img = p.image.clone();

    let o = p.run(&argv(
        &["run", "--rm"],
        &base,
        &[&img, "/bin/busybox", "echo", "hello"],
    ));
    assert_eq!(o.ok().out(), "hello");

    let o = p.run(&argv(
        &["run", "--rm"],
        &base,
        &[&img, "/bin/busybox", "sh", "-c", "exit 3"],
    ));
    assert_eq!(o.code, 3, "{o}");

    let o = p.run_stdin(
        &argv(&["run", "--rm", "-i"], &base, &[&img, "/bin/busybox", "cat"]),
        "piped\n",
    );
    assert_eq!(o.ok().out(), "piped");

    // `--read-only` adds tmpfs mounts with `rprivate` on /run, /tmp and /var/tmp.
    let o = p.run(&argv(
        &["run", "--rm", "--read-only"],
        &base,
        &[
            &img,
            "/bin/busybox",
            "sh",
            "-c",
            "/bin/busybox touch /tmp/ok && ! /bin/busybox touch /no 2>/dev/null && echo ro",
        ],
    ));
    assert_eq!(o.ok().out(), "ro");

    p.assert_runtime_clean();
}

#[test]
fn podman_detached_exec_stop_rm() {
    require!("podman", "conmon");
    let _serial = common::serial();
    let p = Podman::new();
    let name = common::unique_name("bi");
    let mut args = vec!["run", "-d", "--name", &name];
    let base = p.run_args();
    args.extend(base.iter().map(String::as_str));
    // A shell as PID 1 ignores SIGTERM unless it traps it: the trap proves `stop` delivered it.
    let script = "trap 'exit 0' TERM; while :; do /bin/busybox sleep 0.1; done";
    args.extend([p.image.as_str(), "/bin/busybox", "sh", "-c", script]);
    let id = p.run(&args).ok().out();
    assert_eq!(id.len(), 64, "not a container id: {id}");

    let o = p.run(&["exec", &name, "/bin/busybox", "echo", "from-exec"]);
    assert_eq!(o.ok().out(), "from-exec");
    let o = p.run(&["exec", &name, "/bin/busybox", "sh", "-c", "exit 5"]);
    assert_eq!(o.code, 5, "{o}");
    let o = p.run(&["exec", "--user", "65534", &name, "/bin/busybox", "id", "-u"]);
    assert_eq!(o.ok().out(), "65534");

    p.run(&["pause", &name]).ok();
    let o = p.run(&["inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(o.ok().out(), "paused");
    p.run(&["unpause", &name]).ok();

    let t = Instant::now();
    p.run(&["stop", "--time", "10", &name]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop fell back to SIGKILL: {:?}",
        t.elapsed()
    );
    let o = p.run(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        &name,
    ]);
    assert_eq!(o.ok().out(), "exited 0");

    p.run(&["rm", &name]).ok();
    let o = p.run(&["ps", "--all", "--quiet"]);
    assert_eq!(o.ok().out(), "");
    p.assert_runtime_clean();
}

#[test]
fn ctr_run_prints_output_and_propagates_exit_code() {
    require!("containerd", "ctr", "containerd-shim-runc-v2");
    let _serial = common::serial();
    let c = Containerd::start();
    let base = c.run_args();
    let id = common::unique_name("bi");

    let o = c.ctr(&argv(
        &["run", "--rm"],
        &base,
        &[&c.image, &id, "/bin/busybox", "echo", "hi"],
    ));
    assert_eq!(o.ok().out(), "hi");

    let o = c.ctr(&argv(
        &["run", "--rm"],
        &base,
        &[&c.image, &id, "/bin/busybox", "sh", "-c", "exit 3"],
    ));
    assert_eq!(o.code, 3, "{o}");

    c.assert_runtime_clean();
}

#[test]
fn ctr_run_with_tty() {
    require!("containerd", "ctr", "containerd-shim-runc-v2");
    let _serial = common::serial();
    let c = Containerd::start();
    let base = c.run_args();
    let id = common::unique_name("bi");
    // `ctr run --tty` puts its own terminal in raw mode: give it one.
    let o = common::run_in_pty(c.cmd(&argv(
        &["run", "--rm", "--tty"],
        &base,
        &[
            &c.image,
            &id,
            "/bin/busybox",
            "sh",
            "-c",
            "/bin/busybox tty; exit 7",
        ],
    )));
    assert_eq!(o.code, 7, "{o}");
    assert!(o.out().contains("/dev/pts/0"), "{o}");
    c.assert_runtime_clean();
}

#[test]
fn ctr_task_exec() {
    require!("containerd", "ctr", "containerd-shim-runc-v2");
    let _serial = common::serial();
    let c = Containerd::start();
    let base = c.run_args();
    let id = common::unique_name("bi");
    c.ctr(&argv(
        &["run", "--detach"],
        &base,
        &[&c.image, &id, "/bin/busybox", "sleep", "1000"],
    ))
    .ok();
    let fifo = c.exec_args();

    let o = c.ctr(&argv(
        &["task", "exec"],
        &fifo,
        &["--exec-id", "e1", &id, "/bin/busybox", "echo", "from-exec"],
    ));
    assert_eq!(o.ok().out(), "from-exec");
    let o = c.ctr(&argv(
        &["task", "exec"],
        &fifo,
        &["--exec-id", "e2", &id, "/bin/busybox", "sh", "-c", "exit 4"],
    ));
    assert_eq!(o.code, 4, "{o}");
    let o = common::run(
        c.cmd(&argv(
            &["task", "exec"],
            &fifo,
            &["--exec-id", "e3", &id, "/bin/busybox", "cat"],
        )),
        Some("via-stdin\n"),
    );
    assert_eq!(o.ok().out(), "via-stdin");
    let o = common::run_in_pty(c.cmd(&argv(
        &["task", "exec", "--tty"],
        &fifo,
        &[
            "--exec-id",
            "e4",
            &id,
            "/bin/busybox",
            "sh",
            "-c",
            "/bin/busybox tty; exit 6",
        ],
    )));
    assert_eq!(o.code, 6, "{o}");
    assert!(o.out().contains("/dev/pts/"), "{o}");

    // The exec'd processes ran beside the task's own: `ps` (runtime `ps --format json`) lists it.
    let o = c.ctr(&["task", "ps", &id]).ok();
    assert_eq!(o.stdout.lines().count(), 2, "{o}");

    c.ctr(&["task", "kill", "--signal", "SIGKILL", &id]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.ctr(&["task", "list"]).stdout.contains("STOPPED") {
        assert!(Instant::now() < deadline, "task never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.ctr(&["task", "delete", &id]).ok();
    c.ctr(&["container", "delete", &id]).ok();
    c.assert_runtime_clean();
}
