//! berth-init as PID 1 of a pid namespace, its real job. Needs unprivileged user namespaces
//! (`unshare -Urfp`); skipped, with a note, where they are unavailable.

mod common;

use std::process::Command;

use common::{Init, BIN};

const UNSHARE: [&str; 5] = ["--user", "--map-root-user", "--pid", "--fork", "--mount-proc"];

fn unshare_works() -> bool {
    let probe = Command::new("unshare").args(UNSHARE).arg("true").output();
    let works = probe.is_ok_and(|output| output.status.success());
    if !works {
        eprintln!("skipped: `unshare {}` does not work here", UNSHARE.join(" "));
    }
    works
}

#[test]
fn as_pid_1_reaps_orphans_and_takes_signals_from_inside() {
    if !unshare_works() {
        return;
    }
    // No -s: as PID 1, berth-init adopts every orphan of the namespace. The kernel drops
    // signals sent to a namespace's init from inside unless init handles them; berth-init's
    // blocked signals count, so `kill -TERM 1` reaches the child through berth-init.
    let script = "echo \"pid $$ parent $PPID\"; \
                  orphan=$(sh -c 'sleep 0.2 >/dev/null & echo $!'); sleep 0.6; \
                  if [ -e /proc/$orphan ]; then echo orphan left; else echo orphan reaped; fi; \
                  trap 'exit 5' TERM; kill -TERM 1; \
                  i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 1";
    let mut init = Init::start_with(
        Command::new("unshare")
            .args(UNSHARE)
            .args([BIN, "sh", "-c", script]),
    );
    assert_eq!(init.line(), "pid 2 parent 1");
    assert_eq!(init.line(), "orphan reaped");
    let exit = init.wait();
    assert_eq!(exit.code, 5);
    assert_eq!(exit.stderr, "", "no warning as PID 1");
}
