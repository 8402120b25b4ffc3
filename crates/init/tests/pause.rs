//! Pause mode (no command): the infra process of a pod.

mod common;

use std::thread;
use std::time::Duration;

use common::{wait_until_ready, Init};

#[test]
fn sigterm_ends_pause_with_0() {
    let init = Init::start(&["-s"]);
    wait_until_ready(&init);
    init.signal(libc::SIGTERM);
    let exit = init.wait();
    assert_eq!(exit.code, 0);
    assert!(exit.elapsed < Duration::from_secs(2), "took {:?}", exit.elapsed);
    assert_eq!(exit.stderr, "");
}

#[test]
fn sigint_ends_pause_with_0() {
    let init = Init::start(&["-s", "-P"]);
    wait_until_ready(&init);
    init.signal(libc::SIGINT);
    assert_eq!(init.wait().code, 0);
}

#[test]
fn other_signals_do_not_end_pause() {
    let mut init = Init::start(&["-s", "--"]);
    wait_until_ready(&init);
    for signal in [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGCHLD,
        libc::SIGWINCH,
        libc::SIGPIPE,
    ] {
        init.signal(signal);
    }
    thread::sleep(Duration::from_millis(200));
    assert!(
        init.is_running(),
        "pause mode ended on a signal other than TERM or INT"
    );
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait().code, 0);
}
