//! berth-shim against berth-runtime and real busybox containers (root only).

mod support;

use std::io::{BufRead, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use berth_testkit::require_root;
use serde_json::Value;
use support::{log_entries, read_frames, stream_text, Opts, Shim};

fn is_rfc3339_nano(s: &str) -> bool {
    // 2026-12-03T10:15:00[.fraction]Z
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[10] == b'T'
        && s.ends_with('Z')
        && s != "0001-01-01T00:00:00Z"
        && !s.contains(".0Z")
}

#[test]
fn output_goes_to_the_json_log_with_its_stream() {
    require_root!();
    let mut shim = Shim::spawn(
        &[
            "sh",
            "-c",
            "echo out; echo err >&2; echo '<&>'; printf 'no newline'",
        ],
        Opts::default(),
    );
    assert!(shim.pid.is_some(), "ready line {}", shim.ready);
    assert_eq!(shim.state()["status"], "created");
    shim.start();
    assert!(shim.wait().success());
    let log = shim.log();
    let text = |stream: &str| -> Vec<String> {
        log.iter()
            .filter(|e| e["stream"] == stream)
            .map(|e| e["log"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(text("stdout"), ["out\n", "<&>\n", "no newline"]);
    assert_eq!(text("stderr"), ["err\n"]);
    for e in &log {
        assert!(is_rfc3339_nano(e["time"].as_str().unwrap()), "{e}");
        assert_eq!(e.as_object().unwrap().len(), 3, "{e}");
    }
    // Go's escaping of <, > and & in the file itself.
    let raw = std::fs::read_to_string(shim.log_path()).unwrap();
    assert!(
        raw.contains(r#"{"log":"\u003c\u0026\u003e\n","stream":"stdout","time":""#),
        "{raw}"
    );
    // The socket is gone with the shim.
    assert!(!shim.socket().exists());
}

#[test]
fn attach_gets_multiplexed_frames_until_the_end() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "echo one; echo two >&2; echo three"],
        Opts::default(),
    );
    let mut both = shim.attach("oe");
    let mut err_only = shim.attach("e");
    shim.start();
    let frames = read_frames(&mut both);
    assert_eq!(stream_text(&frames, 1), "one\nthree\n");
    assert_eq!(stream_text(&frames, 2), "two\n");
    let frames = read_frames(&mut err_only);
    assert_eq!(stream_text(&frames, 1), "");
    assert_eq!(stream_text(&frames, 2), "two\n");
    assert!(shim.wait().success());
}

#[test]
fn stdin_from_attach_closes_on_half_close_with_stdin_once() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "cat; echo done"],
        Opts {
            stdin: true,
            stdin_once: true,
            ..Opts::default()
        },
    );
    let mut s = shim.attach("ioe");
    shim.start();
    s.write_all(b"hello\nworld\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let frames = read_frames(&mut s);
    assert_eq!(stream_text(&frames, 1), "hello\nworld\ndone\n");
    assert!(shim.wait().success());
    assert_eq!(shim.state()["exit_code"], 0);
    let logged: Vec<Value> = shim.log().iter().map(|e| e["log"].clone()).collect();
    assert_eq!(logged, ["hello\n", "world\n", "done\n"]);
}

#[test]
fn stdin_stays_open_without_stdin_once() {
    require_root!();
    let shim = Shim::spawn(
        &["sh", "-c", "read line; echo got $line; sleep 100"],
        Opts {
            stdin: true,
            ..Opts::default()
        },
    );
    let mut s = shim.attach("io");
    shim.start();
    s.write_all(b"x\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut frame = [0u8; 14];
    s.read_exact(&mut frame).unwrap();
    assert_eq!(&frame, b"\x01\0\0\0\0\0\0\x06got x\n");
    // Still running: the half-close did not end its stdin (`read` would have returned).
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(shim.state()["status"], "running");
}

#[test]
fn exit_code_and_state_transitions() {
    require_root!();
    let mut shim = Shim::spawn(&["sh", "-c", "exit 7"], Opts::default());
    let pid = shim.pid.unwrap();
    let mut events = shim.events();
    let mut line = String::new();
    events.read_line(&mut line).unwrap();
    let first: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(first["status"], "created");
    assert_eq!(first["pid"], pid);
    assert_eq!(first["started_at"], "0001-01-01T00:00:00Z");
    shim.start();
    let rest: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let statuses: Vec<&str> = rest.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["running", "exited"]);
    assert!(shim.wait().success());
    let st = shim.state();
    assert_eq!(st, rest[1]);
    assert_eq!(st["exit_code"], 7);
    assert_eq!(st["pid"], 0);
    assert_eq!(st["oom_killed"], false);
    assert_eq!(st["stopped"], false);
    assert_eq!(st["restart_count"], 0);
    assert!(is_rfc3339_nano(st["started_at"].as_str().unwrap()));
    assert!(is_rfc3339_nano(st["finished_at"].as_str().unwrap()));
    assert!(st["finished_at"].as_str().unwrap() >= st["started_at"].as_str().unwrap());
}

#[test]
fn kill_gives_128_plus_the_signal() {
    require_root!();
    let mut shim = Shim::spawn(&["sleep", "100"], Opts::default());
    shim.start();
    assert_eq!(shim.state()["status"], "running");
    assert_eq!(shim.request("kill KILL"), "ok");
    assert!(shim.wait().success());
    let st = shim.state();
    assert_eq!(st["status"], "exited");
    assert_eq!(st["exit_code"], 137);
    assert_eq!(st["stopped"], false);
}

#[test]
fn on_failure_2_restarts_twice_with_backoff() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "echo run; exit 3"],
        Opts {
            restart: Some("on-failure:2"),
            ..Opts::default()
        },
    );
    let events = shim.events();
    let t0 = Instant::now();
    shim.start();
    let statuses: Vec<(String, u64)> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
        .map(|s| {
            (
                s["status"].as_str().unwrap().to_string(),
                s["restart_count"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect: Vec<(String, u64)> = [
        ("created", 0),
        ("running", 0),
        ("restarting", 0),
        ("running", 1),
        ("restarting", 1),
        ("running", 2),
        ("exited", 2),
    ]
    .iter()
    .map(|(s, n)| (s.to_string(), *n))
    .collect();
    assert_eq!(statuses, expect);
    // 100 ms, then 200 ms of backoff.
    assert!(t0.elapsed() >= Duration::from_millis(300), "{:?}", t0.elapsed());
    assert!(shim.wait().success());
    let st = shim.state();
    assert_eq!(st["restart_count"], 2);
    assert_eq!(st["exit_code"], 3);
    let runs = shim.log().iter().filter(|e| e["log"] == "run\n").count();
    assert_eq!(runs, 3);
}

#[test]
fn stop_disables_the_restart_policy() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sleep", "100"],
        Opts {
            restart: Some("always"),
            ..Opts::default()
        },
    );
    shim.start();
    assert_eq!(shim.request("stop 9"), "ok");
    assert!(shim.wait().success());
    let st = shim.state();
    assert_eq!(st["status"], "exited");
    assert_eq!(st["exit_code"], 137);
    assert_eq!(st["stopped"], true);
    assert_eq!(st["restart_count"], 0);
}

#[test]
fn tty_through_the_console_socket() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "read line; tty; echo got $line; stty size"],
        Opts {
            tty: true,
            stdin: true,
            ..Opts::default()
        },
    );
    assert!(shim.pid.is_some(), "ready line {}", shim.ready);
    assert!(!shim.state_dir().join("console.sock").exists());
    assert_eq!(shim.request("resize 30 100"), "ok");
    let mut s = shim.attach("io");
    shim.start();
    s.write_all(b"hi\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out);
    // Raw bytes, no frames; the terminal echoes the input and ends lines with \r\n.
    assert!(out.contains("/dev/pts/0\r\n"), "{out:?}");
    assert!(out.contains("got hi\r\n"), "{out:?}");
    assert!(out.contains("30 100\r\n"), "{out:?}");
    assert!(shim.wait().success());
    let log = shim.log();
    assert!(log.iter().all(|e| e["stream"] == "stdout"), "{log:?}");
    assert!(log.iter().any(|e| e["log"] == "got hi\r\n"), "{log:?}");
}

#[test]
fn a_failed_create_reports_the_runtime_error() {
    require_root!();
    let mut shim = Shim::spawn(&["/nonexistent-binary"], Opts::default());
    let err = shim.ready["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("nonexistent-binary"), "{}", shim.ready);
    assert!(!shim.wait().success());
    assert!(!shim.socket().exists());
}

#[test]
fn bad_requests_are_answered_with_errors() {
    require_root!();
    let shim = Shim::spawn(&["sleep", "100"], Opts::default());
    assert_eq!(shim.request("jump"), "error unknown request `jump`");
    assert!(shim.request("resize 24 80").starts_with("error "));
    assert!(shim.request("kill 0").starts_with("error invalid signal"));
    assert_eq!(shim.request("restart-policy on-failure:1"), "ok");
    shim.start();
    assert!(shim.request("start").starts_with("error "));
}

#[test]
fn the_log_rotates_by_size() {
    require_root!();
    let mut shim = Shim::spawn(
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); done",
        ],
        Opts {
            log_max_size: Some(400),
            log_max_file: Some(3),
            ..Opts::default()
        },
    );
    shim.start();
    assert!(shim.wait().success());
    let path = shim.log_path();
    let rotated = |n: u32| std::path::PathBuf::from(format!("{}.{n}", path.display()));
    assert!(rotated(1).exists() && rotated(2).exists() && !rotated(3).exists());
    for p in [path.clone(), rotated(1), rotated(2)] {
        assert!(std::fs::metadata(&p).unwrap().len() <= 400);
    }
    let live = log_entries(&path);
    assert_eq!(live.last().unwrap()["log"], "line 39\n");
    let older = log_entries(&rotated(1));
    let last_older = older.last().unwrap()["log"].as_str().unwrap();
    let first_live = live[0]["log"].as_str().unwrap();
    let num = |s: &str| s.trim().trim_start_matches("line ").parse::<u32>().unwrap();
    assert_eq!(num(last_older) + 1, num(first_live));
}

#[test]
fn a_client_that_does_not_read_never_blocks_the_container() {
    require_root!();
    // 4 MiB of output in 64-byte lines: far more than the socket buffer and the client's queue
    // bound.
    let mut shim = Shim::spawn(
        &[
            "sh",
            "-c",
            "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 4194304; echo end",
        ],
        Opts::default(),
    );
    let stalled = shim.attach("o");
    let mut reader = shim.attach("o");
    shim.start();
    let frames = read_frames(&mut reader);
    let text = stream_text(&frames, 1);
    assert_eq!(text.len(), 4 * 1024 * 1024 + 4);
    assert!(shim.wait().success());
    let log = shim.log();
    assert_eq!(log.last().unwrap()["log"], "end\n");
    let logged: usize = log.iter().map(|e| e["log"].as_str().unwrap().len()).sum();
    assert_eq!(logged, 4 * 1024 * 1024 + 4);
    // The stalled client was dropped: what it can read ends early.
    let mut rest = Vec::new();
    let mut stalled = stalled;
    stalled.read_to_end(&mut rest).unwrap();
    assert!(rest.len() < 4 * 1024 * 1024, "{}", rest.len());
}

#[test]
fn output_held_open_by_an_orphan_is_drained_for_a_bounded_time() {
    require_root!();
    // Without a pid namespace, the background sleep outlives the init, keeps the stdout pipe
    // open, and is reparented to the shim (a subreaper).
    let mut shim = Shim::spawn_with(
        &["sh", "-c", "sleep 30 & echo $! > /orphan.pid; echo bye"],
        Opts::default(),
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "pid");
        },
    );
    let t0 = Instant::now();
    shim.start();
    assert!(shim.wait().success());
    let took = t0.elapsed();
    let orphan: i32 = std::fs::read_to_string(shim.bundle.rootfs().join("orphan.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill and waitpid of the orphan this test made; it was reparented to the test
    // process (a subreaper) when the shim exited.
    unsafe {
        libc::kill(orphan, libc::SIGKILL);
        let mut status = 0;
        libc::waitpid(orphan, &mut status, 0);
    }
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(shim.state()["exit_code"], 0);
    assert_eq!(shim.log().last().unwrap()["log"], "bye\n");
}

#[test]
fn oom_kills_are_read_from_the_oom_file() {
    require_root!();
    let oom = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(oom.path(), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n").unwrap();
    let mut shim = Shim::spawn(
        &["sh", "-c", "exit 137"],
        Opts {
            oom_file: Some(oom.path().to_path_buf()),
            ..Opts::default()
        },
    );
    shim.start();
    assert!(shim.wait().success());
    assert_eq!(shim.state()["oom_killed"], true);
    assert_eq!(shim.state()["exit_code"], 137);
}

#[test]
fn tty_stdin_once_ends_input_with_the_eof_character() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "cat; echo after-eof"],
        Opts {
            tty: true,
            stdin: true,
            stdin_once: true,
            ..Opts::default()
        },
    );
    let mut s = shim.attach("io");
    shim.start();
    s.write_all(b"abc\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("after-eof\r\n"), "{out:?}");
    assert!(shim.wait().success());
    assert_eq!(shim.state()["exit_code"], 0);
}

/// A runtime that ignores `--log` and fails as the script says.
fn fake_runtime(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-runtime");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn without_a_runtime_log_the_error_is_the_runtimes_stderr_or_status() {
    // No container is ever made: this runs without root too.
    let dir = tempfile::tempdir().unwrap();
    let stderr = fake_runtime(dir.path(), "echo 'fake: cannot frobnicate' >&2; exit 1");
    let mut shim = Shim::spawn(
        &["true"],
        Opts {
            runtime: Some(stderr),
            ..Opts::default()
        },
    );
    assert_eq!(shim.ready["error"], "fake: cannot frobnicate", "{}", shim.ready);
    assert_eq!(shim.wait().code(), Some(1));
    assert!(!shim.socket().exists());

    let dir = tempfile::tempdir().unwrap();
    let silent = fake_runtime(dir.path(), "exit 3");
    let mut shim = Shim::spawn(
        &["true"],
        Opts {
            runtime: Some(silent.clone()),
            ..Opts::default()
        },
    );
    let expect = format!("`{} create` failed with exit status 3", silent.display());
    assert_eq!(shim.ready["error"], expect.as_str(), "{}", shim.ready);
    assert!(!shim.wait().success());
}

#[test]
fn stop_during_the_restart_delay_calls_the_restart_off() {
    require_root!();
    let mut shim = Shim::spawn(
        &["sh", "-c", "exit 1"],
        Opts {
            restart: Some("always"),
            ..Opts::default()
        },
    );
    let mut events = shim.events();
    shim.start();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "events ended early");
        if line.contains("\"restarting\"") {
            break;
        }
    }
    assert_eq!(shim.request("stop 15"), "ok");
    let last: Value = events
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .last()
        .unwrap();
    assert_eq!(last["status"], "exited");
    assert_eq!(last["stopped"], true);
    assert!(shim.wait().success());
    assert_eq!(shim.state(), last);
}
