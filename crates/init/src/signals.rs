//! Signal setup. berth-init installs no handlers: it blocks every signal it forwards before it
//! forks and collects them with sigtimedwait, so a signal arriving at any moment (even before
//! the child exists) stays pending until the main loop takes it. No handler, no race.

use core::ffi::c_int;

use crate::sys::{self, Disposition, Errno, SigSet};

/// Signals left unblocked. Faults must act on berth-init itself (a blocked SIGSEGV from a real
/// fault kills anyway); SIGTTIN and SIGTTOU are ignored instead, see `install`.
// Ref: tini's configure_signals(), `signals_for_tini`.
const NOT_FORWARDED: [c_int; 9] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// The signals the main loop waits for: every signal but those above (and SIGKILL and SIGSTOP,
/// which cannot be caught).
pub fn waited() -> SigSet {
    let mut set = SigSet::FULL;
    for signal in NOT_FORWARDED {
        set.remove(signal);
    }
    set
}

/// What berth-init changed, kept so the child can put it back before exec.
#[derive(Debug)]
pub struct SignalSetup {
    /// The blocked signals the main loop waits for (SIGCHLD among them).
    pub waited: SigSet,
    original_mask: SigSet,
    original_dispositions: [(c_int, Disposition); 3],
}

impl SignalSetup {
    /// Blocks every forwarded signal and sets the three dispositions berth-init depends on.
    /// On failure returns the system call's name with its error.
    pub fn install() -> Result<Self, (&'static str, Errno)> {
        let waited = waited();
        let original_mask = sys::set_signal_mask(&waited).map_err(|e| ("sigprocmask", e))?;
        let set = |signal, disposition: Disposition| {
            sys::set_disposition(signal, &disposition)
                .map(|old| (signal, old))
                .map_err(|e| ("sigaction", e))
        };
        let original_dispositions = [
            // An inherited SIG_IGN for SIGCHLD makes the kernel reap children by itself, and the
            // main child's exit status would be lost.
            set(libc::SIGCHLD, Disposition::DEFAULT)?,
            // The child takes the terminal's foreground (see spawn.rs); berth-init writing to or
            // reading from that terminal afterwards must not get it stopped.
            // Ref: tini's configure_signals().
            set(libc::SIGTTIN, Disposition::IGNORE)?,
            set(libc::SIGTTOU, Disposition::IGNORE)?,
        ];
        Ok(Self {
            waited,
            original_mask,
            original_dispositions,
        })
    }

    /// In the forked child: puts back the mask and dispositions berth-init inherited, so the
    /// command starts as if berth-init were not there. (berth-init has no language runtime that
    /// would have changed others, such as SIGPIPE, before `install`.)
    pub fn restore_for_child(&self) -> Result<(), (&'static str, Errno)> {
        for (signal, disposition) in &self.original_dispositions {
            sys::set_disposition(*signal, disposition).map_err(|e| ("sigaction", e))?;
        }
        sys::set_signal_mask(&self.original_mask).map_err(|e| ("sigprocmask", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waited_set_is_tinis() {
        let set = waited();
        for signal in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGCHLD,
            libc::SIGWINCH,
        ] {
            assert!(set.contains(signal), "{signal}");
        }
        assert!(set.contains(libc::SIGTSTP), "forwarded, as tini does");
        assert!(
            set.contains(34) && set.contains(64),
            "real-time signals are forwarded"
        );
        for signal in NOT_FORWARDED {
            assert!(!set.contains(signal), "{signal}");
        }
    }
}
