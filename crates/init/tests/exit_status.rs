//! berth-init exits with its child's status, and reports what it cannot run like a shell does.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{run, temp_path, Init, BIN};

#[test]
fn exit_code_is_propagated() {
    assert_eq!(run(&["-s", "sh", "-c", "exit 7"]).code, 7);
    assert_eq!(run(&["-s", "--", "true"]).code, 0);
    assert_eq!(run(&["-s", "false"]).code, 1);
}

#[test]
fn killed_child_gives_128_plus_signal() {
    assert_eq!(run(&["-s", "sh", "-c", "kill -KILL $$"]).code, 137);
    assert_eq!(run(&["-s", "sh", "-c", "kill -TERM $$"]).code, 143);
}

#[test]
fn remapped_exit_code_becomes_zero() {
    assert_eq!(run(&["-s", "-e", "7", "sh", "-c", "exit 7"]).code, 0);
    assert_eq!(run(&["-s", "-e143", "sh", "-c", "kill -TERM $$"]).code, 0);
    assert_eq!(run(&["-s", "-e", "7", "sh", "-c", "exit 8"]).code, 8);
}

#[test]
fn missing_command_is_127_and_named() {
    let exit = run(&["-s", "berth-init-no-such-command"]);
    assert_eq!(exit.code, 127);
    assert!(
        exit.stderr
            .contains("berth-init: cannot exec `berth-init-no-such-command`: No such file or directory"),
        "{}",
        exit.stderr
    );
    let exit = run(&["-s", "/nonexistent/dir/cmd"]);
    assert_eq!(exit.code, 127);
    assert!(exit.stderr.contains("`/nonexistent/dir/cmd`"), "{}", exit.stderr);
}

#[test]
fn non_executable_file_is_126() {
    let file = temp_path("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exit = run(&["-s", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(exit.code, 126);
    assert!(exit.stderr.contains("Permission denied"), "{}", exit.stderr);
    assert!(exit.stderr.contains(file.to_str().unwrap()), "{}", exit.stderr);
}

#[test]
fn file_without_interpreter_is_not_run_by_sh() {
    // As with musl, runc and Docker (unlike glibc's execvp): no silent fallback to /bin/sh.
    let file = temp_path("no-shebang");
    std::fs::write(&file, "exit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exit = run(&["-s", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(exit.code, 126);
    assert!(exit.stderr.contains("Exec format error"), "{}", exit.stderr);
}

#[test]
fn command_is_found_in_path() {
    let dir = temp_path("path-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("berth-init-hello");
    std::fs::write(&script, "#!/bin/sh\necho \"hello $1\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("/nonexistent:{}:/usr/bin:/bin", dir.display());
    let mut init = Init::start_with(
        Command::new(BIN)
            .args(["-s", "berth-init-hello", "world"])
            .env("PATH", path),
    );
    assert_eq!(init.line(), "hello world");
    let exit = init.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(exit.code, 3);
}

#[test]
fn default_path_without_path_variable() {
    let mut init = Init::start_with(
        Command::new(BIN)
            .args(["-s", "sh", "-c", "exit 5"])
            .env_remove("PATH"),
    );
    init.close_stdin();
    assert_eq!(init.wait().code, 5);
}

#[test]
fn usage_errors_name_the_operand() {
    let exit = run(&["-x", "true"]);
    assert_eq!(exit.code, 1);
    assert!(exit.stderr.contains("unknown option `-x`"), "{}", exit.stderr);
    let exit = run(&["-p", "NOTASIGNAL", "true"]);
    assert_eq!(exit.code, 1);
    assert!(
        exit.stderr.contains("invalid signal `NOTASIGNAL`"),
        "{}",
        exit.stderr
    );
    let exit = run(&["-s", "-e"]);
    assert_eq!(exit.code, 1);
    assert!(exit.stderr.contains("`-e` needs a value"), "{}", exit.stderr);
}

#[test]
fn help_and_version() {
    let output = Command::new(BIN).arg("-h").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("Usage: berth-init"));
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    let expected = format!("berth-init {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn options_stop_at_the_command() {
    let mut init = Init::start(&["-s", "echo", "-v", "-g"]);
    assert_eq!(init.line(), "-v -g");
    let exit = init.wait();
    assert_eq!(exit.code, 0);
    assert_eq!(exit.stderr, "", "-v went to echo, not to berth-init");
}

#[test]
fn warns_when_orphans_would_escape() {
    let exit = run(&["true"]);
    assert_eq!(exit.code, 0);
    assert!(exit.stderr.contains("not running as PID 1"), "{}", exit.stderr);
    assert_eq!(run(&["-s", "true"]).stderr, "");
}

#[test]
fn verbose_logs_to_stderr() {
    let exit = run(&["-s", "-v", "sh", "-c", "exit 4"]);
    assert_eq!(exit.code, 4);
    assert!(
        exit.stderr.contains("berth-init: started `sh` as pid"),
        "{}",
        exit.stderr
    );
    assert!(exit.stderr.contains("exited with 4"), "{}", exit.stderr);
}

#[test]
fn arguments_and_environment_reach_the_child() {
    let mut init = Init::start_with(
        Command::new(BIN)
            .args([
                "-s",
                "--",
                "sh",
                "-c",
                "echo \"$1|$2|$BERTH_TEST_VAR\"",
                "sh",
                "a b",
                "",
            ])
            .env("BERTH_TEST_VAR", "x=y"),
    );
    assert_eq!(init.line(), "a b||x=y");
    assert_eq!(init.wait().code, 0);
}

#[test]
fn broken_stderr_does_not_reach_the_child() {
    // With -v, forwarding SIGWINCH logs to stderr, whose reader is gone: that write raises
    // SIGPIPE at berth-init itself, which must not be forwarded to the child as if sent by
    // someone (the child would die with 141).
    let mut init = Command::new(BIN)
        .args(["-s", "-v", "sh", "-c", "sleep 0.5; exit 3"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(init.stderr.take());
    common::wait_until_ready_pid(init.id() as i32);
    common::send_signal(init.id() as i32, libc::SIGWINCH);
    assert_eq!(init.wait().unwrap().code(), Some(3));
}
