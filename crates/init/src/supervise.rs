//! The main loops: reap every zombie, then wait for the next signal; forward it (child mode) or
//! exit on SIGTERM/SIGINT (pause mode).
//!
//! Reaping comes first on every turn and drains all zombies, and SIGCHLD is blocked from before
//! the fork: a child that exits at any point leaves SIGCHLD pending, so the wait never sleeps
//! through it. The main child's pid stays ours until we reap it, so a forwarded signal can
//! never hit a reused pid.

use core::ffi::c_int;

use libc::pid_t;

use crate::args::{Options, SignalName};
use crate::log::Log;
use crate::status;
use crate::sys::{self, Errno, Reaped, SigSet};

/// Supervises `child` until it exits; returns berth-init's exit code.
pub fn child(child: pid_t, options: &Options, waited: &SigSet, log: Log) -> u8 {
    // The child leads its own process group (spawn.rs), whose id is its pid.
    let target = if options.process_group { -child } else { child };
    let me = sys::getpid();
    loop {
        match reap_all(Some(child), options.warn_on_reap, log) {
            Ok(Some(code)) => {
                let reported = options.remap.apply(code);
                log.info(format_args!(
                    "child {child} exited with {code}, exiting with {reported}"
                ));
                return reported;
            }
            Ok(None) => {}
            Err(e) => {
                log.error(format_args!("cannot reap children (wait4): {e}"));
                return 1;
            }
        }
        let info = match sys::wait_signal(waited) {
            Ok(info) => info,
            Err(e) => {
                log.error(format_args!("cannot wait for signals (sigtimedwait): {e}"));
                return 1;
            }
        };
        match info.signal {
            libc::SIGCHLD => {}
            // Raised by our own write to a closed stderr pipe: not meant for the child.
            libc::SIGPIPE if info.sender == me => {}
            signal => forward(target, signal, log),
        }
    }
}

/// Pause mode: no command; reap zombies until SIGTERM or SIGINT, then exit 0.
// Ref: the Kubernetes pause container (build/pause/linux/pause.c) and catatonit -P.
pub fn pause(options: &Options, waited: &SigSet, log: Log) -> u8 {
    log.info(format_args!("pausing until SIGTERM or SIGINT"));
    loop {
        if let Err(e) = reap_all(None, options.warn_on_reap, log) {
            log.error(format_args!("cannot reap children (wait4): {e}"));
            return 1;
        }
        match sys::wait_signal(waited) {
            Ok(info) if matches!(info.signal, libc::SIGTERM | libc::SIGINT) => {
                log.info(format_args!("received {}, exiting", SignalName(info.signal)));
                return 0;
            }
            Ok(info) if info.signal == libc::SIGCHLD => {}
            Ok(info) => log.info(format_args!("ignoring {}", SignalName(info.signal))),
            Err(e) => {
                log.error(format_args!("cannot wait for signals (sigtimedwait): {e}"));
                return 1;
            }
        }
    }
}

fn forward(target: pid_t, signal: c_int, log: Log) {
    let name = SignalName(signal);
    let whom = if target < 0 { "process group" } else { "pid" };
    let id = target.unsigned_abs();
    log.info(format_args!("forwarding {name} to {whom} {id}"));
    if let Err(e) = sys::kill(target, signal) {
        // ESRCH: everyone in the group is gone already. Anything else (EPERM from a child that
        // changed user) must not bring down PID 1 either.
        log.warn(format_args!("cannot forward {name} to {whom} {id}: {e}"));
    }
}

/// Reaps every terminated child. Returns the exit code of `main` if it was among them.
fn reap_all(main: Option<pid_t>, warn_on_reap: bool, log: Log) -> Result<Option<u8>, Errno> {
    let mut main_code = None;
    loop {
        match sys::reap_one()? {
            Reaped::Child { pid, status } if Some(pid) == main => {
                main_code = status::exit_code(status);
            }
            Reaped::Child { pid, status } => {
                let code = status::exit_code(status).unwrap_or(0);
                let report = if warn_on_reap { Log::warn } else { Log::info };
                report(&log, format_args!("reaped zombie pid {pid} (status {code})"));
            }
            Reaped::NoneReady | Reaped::NoChildren => return Ok(main_code),
        }
    }
}
