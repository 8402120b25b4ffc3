//! Orphans reparented to berth-init are reaped; a control run shows a zombie staying put while
//! its parent does not reap it.

mod common;

use std::thread;
use std::time::Duration;

use common::{eventually, is_gone, stat, Init};

/// The orphan's pid and start time, once its parent is berth-init.
fn adopted_orphan(init: &mut Init) -> (i32, u64) {
    let pid: i32 = init.line().parse().unwrap();
    let mut start_time = None;
    let adopted = eventually(|| match stat(pid) {
        Some(s) if s.ppid == init.pid() => {
            start_time = Some(s.start_time);
            true
        }
        _ => false,
    });
    assert!(
        adopted,
        "orphan {pid} was never reparented to berth-init {}",
        init.pid()
    );
    (pid, start_time.unwrap())
}

#[test]
fn orphans_reparented_to_init_are_reaped() {
    // Each subshell starts a sleep in the background, prints its pid and exits at once: the
    // sleep is orphaned and, berth-init being a subreaper, reparented to it. The main child
    // keeps running (waiting on stdin), so only berth-init's reaping can remove the zombies.
    let script = "(sleep 0.5 & echo $!); (sleep 0.5 & echo $!); read _ || true";
    let mut init = Init::start(&["-s", "-w", "--", "sh", "-c", script]);
    let orphans = [adopted_orphan(&mut init), adopted_orphan(&mut init)];
    for (pid, start_time) in orphans {
        assert!(
            eventually(|| is_gone(pid, start_time)),
            "orphan {pid} was never reaped"
        );
    }
    assert!(init.is_running(), "the main child is still waiting");
    init.close_stdin();
    let exit = init.wait();
    assert_eq!(exit.code, 0);
    for (pid, _) in orphans {
        let report = format!("reaped zombie pid {pid} ");
        assert!(exit.stderr.contains(&report), "no `{report}` in {}", exit.stderr);
    }
}

#[test]
fn zombie_stays_while_its_parent_does_not_reap() {
    // Control: `exec cat` makes cat the parent of the background sleep, and cat never waits, so
    // the sleep stays a zombie for as long as cat lives. When cat exits, the zombie is
    // reparented to berth-init, which reaps it before exiting.
    let script = "sleep 0.1 & echo $!; exec cat";
    let mut init = Init::start(&["-s", "-w", "--", "sh", "-c", script]);
    let pid: i32 = init.line().parse().unwrap();
    assert!(
        eventually(|| stat(pid).is_some_and(|s| s.state == 'Z')),
        "{pid} never became a zombie"
    );
    thread::sleep(Duration::from_millis(300));
    let zombie = stat(pid).expect("the zombie was reaped although nobody waits for it");
    assert_eq!(zombie.state, 'Z');
    assert_ne!(
        zombie.ppid,
        init.pid(),
        "the zombie's parent is cat, not berth-init"
    );
    init.close_stdin();
    let exit = init.wait();
    assert_eq!(exit.code, 0);
    assert!(
        is_gone(pid, zombie.start_time),
        "berth-init left the adopted zombie behind"
    );
    assert!(
        exit.stderr.contains(&format!("reaped zombie pid {pid} ")),
        "{}",
        exit.stderr
    );
}

#[test]
fn many_orphans_are_all_reaped() {
    // SIGCHLD does not queue: 50 children dying together must still all be reaped.
    let script = "i=0; while [ $i -lt 50 ]; do (sleep 0.2 &); i=$((i+1)); done; \
                  sleep 1; echo done; read _ || true";
    let mut init = Init::start(&["-s", "sh", "-c", script]);
    assert_eq!(init.line(), "done");
    let pid = init.pid();
    let zombies = || {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
        let children = children.unwrap_or_default();
        let pids = children.split_whitespace().filter_map(|p| p.parse::<i32>().ok());
        pids.filter(|&p| stat(p).is_some_and(|s| s.state == 'Z')).count()
    };
    assert!(eventually(|| zombies() == 0), "{} zombies left", zombies());
    init.close_stdin();
    assert_eq!(init.wait().code, 0);
}
