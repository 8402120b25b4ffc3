//! The same checks against berth-runtime, runc and crun (where installed). A check that fails on runc
//! is a wrong check. Needs root; skipped otherwise.

mod support;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// Runs `check` once per runtime.
fn each(check: impl Fn(&Runtime)) {
    for rt in Rt::all() {
        let r = Runtime::new(rt);
        check(&r);
    }
}

#[test]
fn process_is_pid_1_of_a_new_pid_namespace() {
    require_root!();
    each(|r| {
        let o = r.run(&sh("echo $$"));
        assert_eq!(o.ok().out(), "1", "{}", r.rt.name());
    });
}

#[test]
fn hostname_and_domainname() {
    require_root!();
    each(|r| {
        let mut b = sh("hostname; cat /proc/sys/kernel/domainname");
        b.config["hostname"] = json!("web-1");
        b.config["domainname"] = json!("example.org");
        b.save().unwrap();
        // runc 1.1 predates `domainname` (runtime-spec 1.1) and leaves it unset.
        let domain = if r.rt == Rt::Runc { "(none)" } else { "example.org" };
        assert_eq!(
            r.run(&b).ok().out(),
            format!("web-1\n{domain}"),
            "{}",
            r.rt.name()
        );
    });
}

#[test]
fn new_network_namespace_has_only_lo() {
    require_root!();
    each(|r| {
        assert_eq!(
            r.run(&sh("ls /sys/class/net")).ok().out(),
            "lo",
            "{}",
            r.rt.name()
        );
    });
}

#[test]
fn mounts_stay_inside_the_container() {
    require_root!();
    each(|r| {
        let mut b = sh("echo x > /data/f && cat /data/f && grep -c ' /data ' /proc/self/mountinfo");
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]
        }));
        b.save().unwrap();
        assert_eq!(r.run(&b).ok().out(), "x\n1", "{}", r.rt.name());
        assert!(
            !b.rootfs().join("data/f").exists(),
            "{}: tmpfs content leaked to the rootfs",
            r.rt.name()
        );
        assert!(
            host_mounts_under(b.path()).is_empty(),
            "{}: {:?}",
            r.rt.name(),
            host_mounts_under(b.path())
        );
    });
}

#[test]
fn user_namespace_mapping() {
    require_root!();
    each(|r| {
        let mut b = sh("cat /proc/self/uid_map /proc/self/gid_map; id -u");
        let linux = &mut b.config["linux"];
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.save().unwrap();
        let o = r.run(&b);
        let words: Vec<&str> = o.ok().stdout.split_whitespace().collect();
        assert_eq!(
            words,
            ["0", "100000", "65536", "0", "100000", "65536", "0"],
            "{}",
            r.rt.name()
        );
    });
}

#[test]
fn memory_limit_oom_kills() {
    require_root!();
    each(|r| {
        // sort keeps its one 64 MiB line in memory: far past the 16 MiB limit.
        let mut b = sh("head -c 67108864 /dev/zero | sort > /dev/null; echo rc=$?");
        b.config["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
        b.save().unwrap();
        assert_eq!(r.run(&b).ok().out(), "rc=137", "{}", r.rt.name());
    });
}

#[test]
fn pids_limit_makes_fork_fail() {
    require_root!();
    each(|r| {
        let mut b = sh("for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait");
        b.config["linux"]["resources"]["pids"] = json!({"limit": 4});
        b.save().unwrap();
        let o = r.run(&b);
        assert!(o.stderr.contains("fork"), "{}: {o:?}", r.rt.name());
    });
}

#[test]
fn cpu_quota_throttles() {
    require_root!();
    each(|r| {
        let mut b = sh(
            "timeout 1 sh -c 'while :; do :; done'; grep nr_throttled /sys/fs/cgroup/cpu/cpu.stat /sys/fs/cgroup/cpu,cpuacct/cpu.stat 2>/dev/null",
        );
        b.config["linux"]["resources"]["cpu"] = json!({"quota": 10000, "period": 100000});
        b.save().unwrap();
        let o = r.run(&b);
        let n: u64 = o
            .stdout
            .split_whitespace()
            .last()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(n > 0, "{}: not throttled: {o:?}", r.rt.name());
    });
}

#[test]
fn dropped_capability_denies_its_operation() {
    require_root!();
    each(|r| {
        // The default set has no CAP_CHOWN.
        let o = r.run(&sh("chown 1 /tmp"));
        assert_ne!(o.code, 0, "{}", r.rt.name());
        assert!(
            o.stderr.contains("Operation not permitted"),
            "{}: {o:?}",
            r.rt.name()
        );
        let mut b = sh("chown 1 /tmp && echo ok");
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_CHOWN"));
        }
        b.save().unwrap();
        assert_eq!(r.run(&b).ok().out(), "ok", "{}", r.rt.name());
    });
}

#[test]
fn seccomp_rule_returns_its_errno() {
    require_root!();
    each(|r| {
        let mut b = sh("mkdir /tmp/x; echo done");
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
        });
        b.save().unwrap();
        let o = r.run(&b);
        assert!(
            o.stderr.contains("Function not implemented"),
            "{}: {o:?}",
            r.rt.name()
        );
        assert_eq!(o.out(), "done", "{}", r.rt.name());
    });
}

#[test]
fn rlimits_are_set() {
    require_root!();
    each(|r| {
        let mut b = sh("ulimit -n; ulimit -Hn");
        b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]);
        b.save().unwrap();
        assert_eq!(r.run(&b).ok().out(), "123\n456", "{}", r.rt.name());
    });
}

#[test]
fn readonly_rootfs() {
    require_root!();
    each(|r| {
        let mut b = sh("touch /x");
        b.config["root"]["readonly"] = json!(true);
        b.save().unwrap();
        let o = r.run(&b);
        assert!(
            o.stderr.contains("Read-only file system"),
            "{}: {o:?}",
            r.rt.name()
        );
        assert!(!b.rootfs().join("x").exists());
    });
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    each(|r| {
        let o = r.run(&sh(
            "wc -c < /proc/keys; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname",
        ));
        let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
        assert_eq!(lines, ["0", "0"], "{}: {o:?}", r.rt.name());
        assert!(
            o.stderr.contains("Read-only file system"),
            "{}: {o:?}",
            r.rt.name()
        );
    });
}

#[test]
fn exec_joins_namespaces_and_cgroup() {
    require_root!();
    each(|r| {
        let c = r.start(sh("sleep 30"));
        let pidfile = tempfile::NamedTempFile::new().unwrap();
        let pf = pidfile.path().to_str().unwrap();
        // The detached process keeps the runtime's stdio: no pipes, or reading them would block.
        let err = tempfile::NamedTempFile::new().unwrap();
        let st = r
            .cmd(&["exec", "--detach", "--pid-file", pf, &c.id, "sleep", "30"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(err.reopen().unwrap())
            .status()
            .unwrap();
        let msg = std::fs::read_to_string(err.path()).unwrap();
        assert!(st.success(), "{}: exec --detach failed: {msg}", r.rt.name());
        let exec_pid: i32 = std::fs::read_to_string(pf).unwrap().trim().parse().unwrap();
        let init = c.pid();
        for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
            let a = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
            let b = std::fs::read_link(format!("/proc/{exec_pid}/ns/{ns}")).unwrap();
            assert_eq!(a, b, "{}: {ns} namespace differs", r.rt.name());
        }
        let cg = |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
        assert_eq!(cg(init), cg(exec_pid), "{}", r.rt.name());
        let o = c.exec(&[
            "sh",
            "-c",
            "echo $$ > /dev/null; cat /proc/1/cmdline | tr '\\0' ' '",
        ]);
        assert_eq!(o.ok().out(), "sleep 30", "{}", r.rt.name());
        // The detached process was adopted by this test process: reap it once the container goes.
        let _ = r.output(&["delete", "--force", &c.id]);
        reap(exec_pid);
    });
}

#[test]
fn exec_exit_code_propagates() {
    require_root!();
    each(|r| {
        let b = sh("sleep 30");
        let _ = std::process::Command::new("cp")
            .args(["-a", b.path().to_str().unwrap(), "/tmp/dumped-bundle"])
            .status();
        let c = r.start(b);
        let o = c.exec(&["sh", "-c", "exit 7"]);
        assert_eq!(o.code, 7, "{}: {o:?}", r.rt.name());
    });
}

#[test]
fn pause_and_resume() {
    require_root!();
    each(|r| {
        let c = r.start(sh("sleep 30"));
        assert_eq!(c.status(), "running");
        Out::from(r.rt, r.output(&["pause", &c.id])).ok();
        assert_eq!(c.status(), "paused", "{}", r.rt.name());
        Out::from(r.rt, r.output(&["resume", &c.id])).ok();
        assert_eq!(c.status(), "running", "{}", r.rt.name());
    });
}

#[test]
fn kill_delivers_the_signal() {
    require_root!();
    each(|r| {
        let c = r.start(sh("trap 'exit 3' TERM; while :; do sleep 0.05; done"));
        assert_eq!(c.status(), "running");
        Out::from(r.rt, r.output(&["kill", &c.id, "TERM"])).ok();
        c.wait_status("stopped");
        // SIGKILL by number too, on a fresh one.
        let c2 = r.start(sh("sleep 30"));
        Out::from(r.rt, r.output(&["kill", &c2.id, "9"])).ok();
        c2.wait_status("stopped");
    });
}

#[test]
fn created_then_started() {
    require_root!();
    each(|r| {
        let b = sh("sleep 30");
        let c = r.create(&b, &[]);
        let id = c.id.clone();
        assert_eq!(c.status(), "created", "{}", r.rt.name());
        assert!(c.pid() > 0);
        Out::from(r.rt, r.output(&["start", &id])).ok();
        assert_eq!(c.status(), "running", "{}", r.rt.name());
    });
}

#[test]
fn delete_removes_cgroup_state_and_mounts() {
    require_root!();
    each(|r| {
        let mut b = sh("sleep 30");
        let cg = format!("/{}", unique_name("btcg"));
        b.config["linux"]["cgroupsPath"] = json!(cg);
        b.save().unwrap();
        let bpath = b.path().to_path_buf();
        let c = r.start(b);
        let pids_dir = format!("/sys/fs/cgroup/pids{cg}");
        assert!(std::path::Path::new(&pids_dir).is_dir(), "{}", r.rt.name());
        Out::from(r.rt, r.output(&["delete", "--force", &c.id])).ok();
        assert!(
            !std::path::Path::new(&pids_dir).exists(),
            "{}: cgroup left",
            r.rt.name()
        );
        assert!(
            !r.output(&["state", &c.id]).status.success(),
            "{}: state left",
            r.rt.name()
        );
        assert!(host_mounts_under(&bpath).is_empty(), "{}", r.rt.name());
    });
}

#[test]
fn console_socket_receives_a_working_pty() {
    require_root!();
    each(|r| {
        let mut b = sh("exec sh");
        b.config["process"]["terminal"] = json!(true);
        b.save().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
        // The runtime connects and sends while the socket sits in the listener's backlog.
        let c = r.create(&b, &["--console-socket", sock_path.to_str().unwrap()]);
        let id = c.id.clone();
        let (conn, _) = listener.accept().unwrap();
        let master = recv_fd(&conn);
        Out::from(r.rt, r.output(&["start", &id])).ok();
        let mut f = std::fs::File::from(master);
        use std::io::{Read, Write};
        f.write_all(b"echo hello-$((40+2))\n").unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&got).contains("hello-42") && Instant::now() < deadline {
            let n = f.read(&mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
        }
        assert!(
            String::from_utf8_lossy(&got).contains("hello-42"),
            "{}: {:?}",
            r.rt.name(),
            String::from_utf8_lossy(&got)
        );
        f.write_all(b"exit\n").unwrap();
        c.wait_status("stopped");
    });
}

fn recv_fd(conn: &std::os::unix::net::UnixStream) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let m = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
    for c in m.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed this descriptor for us; we are its only owner.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received on the console socket");
}

#[test]
fn tmpfs_with_tmpcopyup_keeps_the_image_content() {
    require_root!();
    each(|r| {
        let mut b = sh("head -1 /etc/passwd; touch /etc/new && echo writable");
        b.config["root"]["readonly"] = json!(true);
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]
        }));
        b.save().unwrap();
        assert_eq!(
            r.run(&b).ok().out(),
            "root:x:0:0:root:/root:/bin/sh\nwritable",
            "{}",
            r.rt.name()
        );
        assert!(!b.rootfs().join("etc/new").exists());
    });
}

#[test]
fn no_pivot_uses_a_moved_root() {
    require_root!();
    each(|r| {
        let o = r.run_with(&sh("ls /bin/busybox && echo $$"), &["--no-pivot"]);
        assert_eq!(o.ok().out(), "/bin/busybox\n1", "{}", r.rt.name());
    });
}
