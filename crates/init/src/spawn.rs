//! Starting the command: fork, then in the child isolate it and exec.

use libc::pid_t;

use crate::log::{Log, Lossy};
use crate::path;
use crate::signals::SignalSetup;
use crate::status;
use crate::sys::{self, Errno, Fork, StringArray};

/// The command to run: its argv (non-empty) and the environment it inherits.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    argv: StringArray,
    envp: StringArray,
    name: &'static [u8],
}

impl Command {
    /// `None` when `argv` is empty.
    pub fn new(argv: StringArray, envp: StringArray) -> Option<Self> {
        let name = argv.get(0)?;
        Some(Self { argv, envp, name })
    }

    /// The program as given on the command line.
    pub fn name(&self) -> Lossy<'static> {
        Lossy(self.name)
    }
}

/// Forks and runs `command` in the child; returns the child's pid.
pub fn spawn(command: &Command, signals: &SignalSetup, log: Log) -> Result<pid_t, Errno> {
    match sys::fork()? {
        Fork::Parent { child } => {
            // The child does this too. Doing it here as well means the group exists as soon as
            // fork returns, so a signal forwarded with -g before the child runs is not lost.
            // EACCES (the child has already exec'd, after its own setpgid) is fine.
            let _ = sys::new_process_group(child);
            log.info(format_args!("started `{}` as pid {child}", command.name()));
            Ok(child)
        }
        Fork::Child => exec_child(command, signals, log),
    }
}

fn exec_child(command: &Command, signals: &SignalSetup, log: Log) -> ! {
    let name = command.name();
    if let Err((call, errno)) = isolate() {
        log.error(format_args!("cannot start `{name}`: {call}: {errno}"));
        sys::exit(1);
    }
    if let Err((call, errno)) = signals.restore_for_child() {
        log.error(format_args!("cannot start `{name}`: {call}: {errno}"));
        sys::exit(1);
    }
    let search_path = crate::env(command.envp, b"PATH").unwrap_or(path::DEFAULT_PATH);
    let errno = path::exec_search(command.name, search_path, |candidate| {
        sys::execve(candidate, command.argv, command.envp)
    });
    log.error(format_args!("cannot exec `{name}`: {errno}"));
    sys::exit(status::exec_failure_code(errno.0))
}

/// Puts the child in a process group of its own and, if stdin is its controlling terminal,
/// makes that group the terminal's foreground group, so ^C and ^Z reach the command directly.
/// Done in the child (SIGTTOU is ignored and blocked here), so that berth-init run by another
/// berth-init still ends up in the foreground.
// Ref: tini's isolate_child(), which does this whether or not -g is given.
fn isolate() -> Result<(), (&'static str, Errno)> {
    sys::new_process_group(0).map_err(|e| ("setpgid", e))?;
    match sys::take_terminal() {
        // No terminal, or not our controlling one: nothing to hand over.
        Ok(()) | Err(Errno(libc::ENOTTY | libc::ENXIO)) => Ok(()),
        Err(e) => Err(("tcsetpgrp on stdin", e)),
    }
}
