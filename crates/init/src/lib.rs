//! berth-init: a tiny init for containers (the `--init` process, and the pause process of pods).
//!
//! `berth-init [OPTIONS] [--] CMD [ARGS...]` runs CMD as its child, forwards signals to it, reaps
//! every zombie, and exits with the child's status (128+N when killed by signal N). Without CMD
//! it pauses until SIGTERM or SIGINT. Compatible with tini (docker-init) where tini and catatonit
//! agree; `args.rs` lists the options.
//!
//! It runs in every `--init` container and every pod, so it is kept tiny: `no_std`, no
//! allocator, raw system calls (`sys.rs`), and in release builds no C runtime either (`main.rs`).
//! The release binary is a few dozen KiB, and that is about all of its resident memory; a static
//! glibc binary costs ~700 KiB of RSS before `main` runs.
//!
//! Start-up order matters: signals are blocked first, so a parent-death signal or a SIGTERM sent
//! while starting waits in the pending set for the main loop instead of killing berth-init.
//!
//! Module map: `args` and `status` and `path` are pure and unit-tested; `sys` wraps the system
//! calls; `signals` sets up the mask; `spawn` forks and execs; `supervise` holds the loops.

#![cfg_attr(not(test), no_std)]

mod args;
mod log;
mod path;
mod signals;
mod spawn;
mod status;
mod supervise;
mod sys;

use core::ffi::c_char;

use args::{Action, Options, SignalName};
use log::Log;
use signals::SignalSetup;
use spawn::Command;
use sys::StringArray;

/// Runs berth-init; returns its exit code.
///
/// # Safety
/// `argv` and `envp` must be the process's argument and environment arrays as the kernel (or
/// the C runtime) passed them: null-terminated arrays of NUL-terminated strings that are never
/// modified or freed.
pub unsafe fn run(argv: *const *const c_char, envp: *const *const c_char) -> u8 {
    // SAFETY: guaranteed by this function's contract.
    let (argv, envp) = unsafe { (StringArray::new(argv), StringArray::new(envp)) };
    let initial_parent = sys::getppid();
    // Everything after the program name.
    let Some(args) = argv.skip(1) else {
        Log::new(0).error(format_args!("started without a program name (empty argv)"));
        return 1;
    };
    let parsed = args::parse(|i| args.get(i), |name| env(envp, name));
    let (options, command) = match parsed {
        Ok(Action::Help) => return print(args::USAGE),
        Ok(Action::Version) => return print(concat!("berth-init ", env!("CARGO_PKG_VERSION"), "\n")),
        Ok(Action::Run { options, command }) => (options, command),
        Err(e) => {
            Log::new(0).error(format_args!("{e} (see `berth-init -h`)"));
            return 1;
        }
    };
    let log = Log::new(options.verbosity);

    let signals = match SignalSetup::install() {
        Ok(signals) => signals,
        Err((call, e)) => {
            log.error(format_args!("cannot set up signals ({call}): {e}"));
            return 1;
        }
    };
    if set_up_process(&options, initial_parent, log).is_err() {
        return 1;
    }

    let command = args.skip(command).and_then(|argv| Command::new(argv, envp));
    let Some(command) = command else {
        return supervise::pause(&options, &signals.waited, log);
    };
    match spawn::spawn(&command, &signals, log) {
        Ok(child) => supervise::child(child, &options, &signals.waited, log),
        Err(e) => {
            log.error(format_args!("cannot fork to run `{}`: {e}", command.name()));
            1
        }
    }
}

/// Looks an environment variable up.
fn env(envp: StringArray, name: &[u8]) -> Option<&'static [u8]> {
    args::find_env(envp.iter(), name)
}

/// Parent-death signal and subreaper registration; warns when orphans will escape us. Errors
/// are logged here.
fn set_up_process(options: &Options, initial_parent: libc::pid_t, log: Log) -> Result<(), ()> {
    if let Some(signal) = options.parent_death_signal {
        let name = SignalName(signal);
        if let Err(e) = sys::set_parent_death_signal(signal) {
            log.error(format_args!("cannot set parent-death signal {name} (prctl): {e}"));
            return Err(());
        }
        // The parent may have died before prctl: then no signal will come, so raise it now.
        // Signals are blocked, so it waits for the main loop like any other.
        if sys::getppid() != initial_parent {
            log.info(format_args!("parent already gone, raising {name}"));
            if let Err(e) = sys::kill(sys::getpid(), signal) {
                log.error(format_args!("cannot raise parent-death signal {name}: {e}"));
                return Err(());
            }
        }
    }
    if options.subreaper {
        if let Err(e) = sys::set_child_subreaper() {
            log.error(format_args!("cannot register as a child subreaper (prctl): {e}"));
            return Err(());
        }
    }
    // Ref: tini's reaper_check().
    if sys::getpid() != 1 && !sys::is_child_subreaper().unwrap_or(false) {
        log.warn(format_args!(
            "not running as PID 1 and not a child subreaper: orphaned processes will not be \
             reparented to berth-init, so their zombies will not be reaped (use -s)"
        ));
    }
    Ok(())
}

/// Prints to stdout for -h and --version, ignoring a closed stdout.
fn print(text: &str) -> u8 {
    let _ = sys::write_all(libc::STDOUT_FILENO, text.as_bytes());
    0
}

/// Ends the process with `code` (exit_group), for the freestanding start-up.
pub fn exit(code: u8) -> ! {
    sys::exit(code)
}

/// Reports a fatal start-up problem and exits 1. Uses no formatting, so it is safe to call
/// before the binary's relocations are applied.
pub fn die(message: &str) -> ! {
    // Three writes rather than a loop over an array: an array of string slices could be
    // compiled into a table of pointers, which is only valid after relocation.
    let _ = sys::write_all(libc::STDERR_FILENO, b"berth-init: ");
    let _ = sys::write_all(libc::STDERR_FILENO, message.as_bytes());
    let _ = sys::write_all(libc::STDERR_FILENO, b"\n");
    sys::exit(1)
}

/// Reports a panic and exits 1: the panic handler of the freestanding build.
pub fn panicked(info: &core::panic::PanicInfo<'_>) -> ! {
    Log::new(0).error(format_args!("internal error: {info}"));
    sys::exit(1)
}
