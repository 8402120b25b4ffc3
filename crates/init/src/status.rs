//! Exit codes: from a wait status, from a failed exec, and tini's `-e` remapping. Pure.

/// The code a shell would report for a wait status: the exit code, or 128+N for signal N.
/// `None` for a status that is not a termination (stopped or continued).
// Ref: tini's reap_zombies() and POSIX sh `$?`: 128 + signal number, truncated to 0..=255.
pub fn exit_code(status: libc::c_int) -> Option<u8> {
    if libc::WIFEXITED(status) {
        Some(truncate(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(truncate(128 + libc::WTERMSIG(status)))
    } else {
        None
    }
}

fn truncate(code: libc::c_int) -> u8 {
    code.rem_euclid(256) as u8
}

/// The code a shell reports when it cannot run a command: 127 when it does not exist, 126 when it
/// exists but cannot be executed (permission denied, not an executable, ...).
// Ref: POSIX 2.8.2 "Exit Status for Commands"; bash reports 126 for every errno but ENOENT.
pub fn exec_failure_code(errno: libc::c_int) -> u8 {
    if errno == libc::ENOENT {
        127
    } else {
        126
    }
}

/// Exit codes that are reported as 0 (tini's `-e`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitRemap([u64; 4]);

impl ExitRemap {
    pub fn insert(&mut self, code: u8) {
        self.0[usize::from(code / 64)] |= 1 << (code % 64);
    }

    pub fn apply(&self, code: u8) -> u8 {
        if self.0[usize::from(code / 64)] & (1 << (code % 64)) != 0 {
            0
        } else {
            code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Wait statuses as the kernel encodes them: exit code in bits 8..16, signal in bits 0..7,
    // 0x7f in the low byte for a stopped process.
    fn exited(code: i32) -> i32 {
        code << 8
    }

    #[test]
    fn exit_codes_pass_through() {
        assert_eq!(exit_code(exited(0)), Some(0));
        assert_eq!(exit_code(exited(7)), Some(7));
        assert_eq!(exit_code(exited(255)), Some(255));
    }

    #[test]
    fn signals_become_128_plus_n() {
        assert_eq!(exit_code(libc::SIGKILL), Some(137));
        assert_eq!(exit_code(libc::SIGTERM), Some(143));
        assert_eq!(
            exit_code(libc::SIGSEGV | 0x80),
            Some(139),
            "core dump flag ignored"
        );
        assert_eq!(exit_code(64), Some(192));
    }

    #[test]
    fn stopped_is_not_an_exit() {
        assert_eq!(exit_code((libc::SIGSTOP << 8) | 0x7f), None);
        assert_eq!(exit_code(0xffff), None, "continued");
    }

    #[test]
    fn exec_failures_like_a_shell() {
        assert_eq!(exec_failure_code(libc::ENOENT), 127);
        assert_eq!(exec_failure_code(libc::EACCES), 126);
        assert_eq!(exec_failure_code(libc::ENOEXEC), 126);
        assert_eq!(exec_failure_code(libc::ENOTDIR), 126);
    }

    #[test]
    fn remap() {
        let mut remap = ExitRemap::default();
        assert_eq!(remap.apply(143), 143);
        remap.insert(143);
        remap.insert(0);
        remap.insert(255);
        remap.insert(63);
        remap.insert(64);
        for code in [143, 0, 255, 63, 64] {
            assert_eq!(remap.apply(code), 0);
        }
        for code in [1, 62, 65, 142, 144, 254] {
            assert_eq!(remap.apply(code), code);
        }
    }
}
