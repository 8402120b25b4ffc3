use std::io;

/// Why a seccomp profile cannot be compiled or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("unknown seccomp flag `{0}`")]
    UnknownFlag(String),
    #[error("syscall `{syscall}`: argument index {index} out of range (0 to 5)")]
    ArgIndex { syscall: String, index: u32 },
    #[error("syscall `{syscall}`: errnoRet {value} out of range (0 to 65535)")]
    ErrnoRet { syscall: String, value: u32 },
    #[error("defaultErrnoRet {0} out of range (0 to 65535)")]
    DefaultErrnoRet(u32),
    #[error("seccomp rule syscalls[{rule}] has an empty syscall name")]
    EmptyName { rule: usize },
    #[error("SCMP_ACT_NOTIFY cannot be the default seccomp action")]
    NotifyDefault,
    #[error(
        "syscall `write`: SCMP_ACT_NOTIFY cannot be used for `write`, which hands the listener \
         fd to the runtime"
    )]
    NotifyWrite,
    #[error("seccomp architecture `{0}` is not supported")]
    UnsupportedArch(&'static str),
    #[error("seccomp program has {len} instructions, more than the kernel limit of 4096")]
    TooLong { len: usize },
    #[error("cannot install seccomp filter (flags {flags:#x}): {source}")]
    Install { flags: u32, source: io::Error },
    #[error("cannot install seccomp filter: thread {tid} cannot be synchronized (TSYNC)")]
    ThreadSync { tid: i64 },
}
