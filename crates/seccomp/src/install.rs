use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::{Filter, SeccompError};

impl Filter {
    /// Installs the filter on the calling thread (all threads with `SECCOMP_FILTER_FLAG_TSYNC`)
    /// with `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
    ///
    /// The caller must have set `PR_SET_NO_NEW_PRIVS` or hold `CAP_SYS_ADMIN`. Returns the user
    /// notification listener when a rule uses `SCMP_ACT_NOTIFY` (the filter then carries
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`).
    ///
    /// Does not allocate on success, so it can run in a child between `fork` and `exec`.
    pub fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog {
            // compile() refuses programs longer than BPF_MAXINSNS (4096).
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.program`, which outlives the call; the kernel copies the
        // program and does not write through the pointer. The flags are plain integers.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(self.flags),
                &prog as *const libc::sock_fprog,
            )
        };
        if ret < 0 {
            return Err(SeccompError::Install {
                flags: self.flags,
                source: io::Error::last_os_error(),
            });
        }
        if self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32 != 0 {
            // SAFETY: with NEW_LISTENER the kernel returns a new file descriptor that nothing else
            // owns (a TSYNC failure would be -ESRCH, since compile() adds TSYNC_ESRCH).
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as RawFd) }));
        }
        if ret > 0 {
            // Without TSYNC_ESRCH, TSYNC reports the thread that could not be synchronized.
            return Err(SeccompError::ThreadSync { tid: ret });
        }
        Ok(None)
    }
}
