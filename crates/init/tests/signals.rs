//! Signals sent to berth-init reach its child (or, with -g, the child's process group); a
//! parent-death signal set with -p is handled like any other.

mod common;

use common::{eventually, stat, Init, BIN};

/// A shell loop that ends by itself after ~10 s, so a failed test leaves nothing running.
const LOOP: &str = "i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 1";

#[test]
fn signals_are_forwarded_and_status_returned() {
    let script = format!(
        "trap 'echo got HUP' HUP; trap 'echo got USR1' USR1; trap 'exit 42' TERM; \
         echo ready; {LOOP}"
    );
    let mut init = Init::start(&["-s", "sh", "-c", &script]);
    assert_eq!(init.line(), "ready");
    init.signal(libc::SIGHUP);
    assert_eq!(init.line(), "got HUP");
    init.signal(libc::SIGUSR1);
    assert_eq!(init.line(), "got USR1");
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait().code, 42);
}

#[test]
fn forwarded_signal_can_kill_the_child() {
    let mut init = Init::start(&["-s", "sh", "-c", "echo ready; exec sleep 30"]);
    assert_eq!(init.line(), "ready");
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait().code, 128 + libc::SIGTERM);
}

/// Starts berth-init with `options` on a child that starts a grandchild (in its process group)
/// and traps TERM with `on_term`. Returns once both are ready.
fn start_family(options: &[&str], on_term: &str) -> Init {
    let grandchild = format!(
        "trap 'echo grandchild got TERM; exit 0' TERM; \
         trap 'echo grandchild got USR1; exit 0' USR1; echo grandchild ready; {LOOP}"
    );
    let child = format!("sh -c \"$1\" & trap '{on_term}' TERM; echo child ready; {LOOP}");
    let mut args = options.to_vec();
    args.extend(["sh", "-c", &child, "sh", &grandchild]);
    let mut init = Init::start(&args);
    let mut ready = [init.line(), init.line()];
    ready.sort();
    assert_eq!(ready, ["child ready", "grandchild ready"]);
    init
}

#[test]
fn with_g_the_whole_group_gets_the_signal() {
    let mut init = start_family(&["-s", "-g"], "wait; exit 42");
    init.signal(libc::SIGTERM);
    assert_eq!(init.line(), "grandchild got TERM");
    assert_eq!(init.wait().code, 42);
}

#[test]
fn without_g_only_the_child_gets_the_signal() {
    // Control: the grandchild hears nothing from berth-init; the child tells it with USR1.
    let mut init = start_family(&["-s"], "kill -USR1 $!; wait; exit 42");
    init.signal(libc::SIGTERM);
    assert_eq!(init.line(), "grandchild got USR1");
    assert_eq!(init.wait().code, 42);
}

#[test]
fn child_leads_its_own_process_group() {
    // As tini does, with or without -g: the group is what ^C on a terminal and -g reach.
    let mut init = Init::start(&["-s", "sh", "-c", "echo $$; read _ || true"]);
    let pid: i32 = init.line().parse().unwrap();
    let child = stat(pid).expect("child is running");
    assert_eq!(child.ppid, init.pid());
    assert_eq!(child.pgrp, pid);
    assert_ne!(
        stat(init.pid()).unwrap().pgrp,
        pid,
        "berth-init stays out of the group"
    );
    init.close_stdin();
    assert_eq!(init.wait().code, 0);
}

#[test]
fn parent_death_signal_is_forwarded() {
    // sh starts berth-init -p TERM in the background and waits on stdin; closing stdin ends sh,
    // so berth-init gets SIGTERM, forwards it to its child and exits.
    let script = "\"$0\" -s -p TERM -- sh -c 'echo child $$; exec sleep 30' & echo init $!; \
                  read _ || true";
    let mut parent = Init::start_with(std::process::Command::new("sh").args(["-c", script, BIN]));
    let mut pids = [parent.line(), parent.line()];
    pids.sort();
    let pid = |line: &str| -> i32 { line.split(' ').nth(1).unwrap().parse().unwrap() };
    let (child, init) = (pid(&pids[0]), pid(&pids[1]));
    let child_start = stat(child).expect("child is running").start_time;
    parent.close_stdin();
    assert_eq!(parent.wait().code, 0);
    let dead = |p: i32, start: Option<u64>| {
        stat(p).is_none_or(|s| s.state == 'Z' || start.is_some_and(|t| t != s.start_time))
    };
    assert!(
        eventually(|| dead(child, Some(child_start))),
        "child {child} still runs"
    );
    assert!(eventually(|| dead(init, None)), "berth-init {init} still runs");
}

#[test]
fn child_gets_the_original_mask_and_dispositions() {
    // The shell ignores USR2 and then becomes berth-init: the command must inherit that, but
    // not what berth-init changed for itself (every signal blocked, TTIN and TTOU ignored).
    let script = "trap '' USR2; exec \"$0\" -s -- grep -E '^Sig(Blk|Ign)' /proc/self/status";
    let mut init = Init::start_with(std::process::Command::new("sh").args(["-c", script, BIN]));
    let mut sets = std::collections::HashMap::new();
    for _ in 0..2 {
        let line = init.line();
        let (name, mask) = line.split_once(':').unwrap();
        sets.insert(name.to_owned(), u64::from_str_radix(mask.trim(), 16).unwrap());
    }
    assert_eq!(init.wait().code, 0);
    let bit = |signal: i32| 1u64 << (signal - 1);
    assert_eq!(sets["SigBlk"], 0, "the command starts with nothing blocked");
    assert_ne!(
        sets["SigIgn"] & bit(libc::SIGUSR2),
        0,
        "inherited SIG_IGN is kept"
    );
    assert_eq!(sets["SigIgn"] & (bit(libc::SIGTTIN) | bit(libc::SIGTTOU)), 0);
    assert_eq!(sets["SigIgn"] & bit(libc::SIGPIPE), 0);
}
