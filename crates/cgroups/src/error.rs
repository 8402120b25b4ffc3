//! The crate's one error type. Every message names the file, directory or value it failed on.

use std::fmt;
use std::path::PathBuf;

/// An errno value that prints as its symbolic name (`EINVAL`), the way every berth message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub(crate) fn from_io(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The symbolic name (`"EBUSY"`), if this is one the kernel returns from cgroup and bpf calls.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::ENXIO => "ENXIO",
            libc::E2BIG => "E2BIG",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EXDEV => "EXDEV",
            libc::ENODEV => "ENODEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::ENFILE => "ENFILE",
            libc::EMFILE => "EMFILE",
            libc::ENOSPC => "ENOSPC",
            libc::EROFS => "EROFS",
            libc::ERANGE => "ERANGE",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOSYS => "ENOSYS",
            libc::ENOTEMPTY => "ENOTEMPTY",
            libc::ELOOP => "ELOOP",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::EOVERFLOW => "EOVERFLOW",
            libc::ECANCELED => "ECANCELED",
            _ => return None,
        })
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// Everything that can go wrong managing a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file operation other than a write failed (read, open, mkdir, rmdir, readdir).
    #[error("cannot {op} `{}`: {errno}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },

    /// Writing a value to a cgroup interface file failed.
    #[error("cannot write `{value}` to `{}`: {errno}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        errno: Errno,
    },

    /// The kernel refused a memory limit below the current usage.
    #[error(
        "cannot write `{value}` to `{}`: EBUSY (the limit is below the current usage {usage}, peak {peak})",
        path.display()
    )]
    MemoryBelowUsage {
        path: PathBuf,
        value: String,
        usage: u64,
        peak: u64,
    },

    /// A cgroup interface file held something we could not understand.
    #[error("cannot parse `{}`: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },

    /// The mount table shows no usable cgroup hierarchy.
    #[error("cannot detect the cgroup layout: {0}")]
    Layout(String),

    /// `linux.cgroupsPath` (or the systemd `slice:prefix:name` form) is malformed.
    #[error("invalid cgroups path `{path}`: {reason}")]
    InvalidPath { path: String, reason: String },

    /// A value in `linux.resources` cannot be applied as given.
    #[error("invalid linux.resources: {0}")]
    InvalidResource(String),

    /// A resource was requested for a controller this host does not offer.
    #[error("cannot set {what}: the `{controller}` cgroup controller is not available")]
    ControllerMissing {
        controller: &'static str,
        what: &'static str,
    },

    /// The freezer did not reach the requested state.
    #[error("cannot {op} `{}`: {reason}", path.display())]
    Freezer {
        op: &'static str,
        path: PathBuf,
        reason: String,
    },

    /// A bpf(2) call for the cgroup v2 device filter failed.
    #[error("cannot {op} the device filter for `{}`: {errno}{log}", path.display())]
    Bpf {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
        log: String,
    },

    /// Several independent steps failed (teardown keeps going and reports them all).
    #[error("{}", join(.0))]
    Multiple(Vec<CgroupError>),
}

fn join(errors: &[CgroupError]) -> String {
    let mut s = format!("{} errors: ", errors.len());
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        s.push_str(&e.to_string());
    }
    s
}

impl CgroupError {
    /// The errno behind this error, when there is exactly one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Io { errno, .. }
            | CgroupError::Write { errno, .. }
            | CgroupError::Bpf { errno, .. } => Some(errno.0),
            CgroupError::MemoryBelowUsage { .. } => Some(libc::EBUSY),
            CgroupError::Multiple(v) if v.len() == 1 => v[0].errno(),
            _ => None,
        }
    }

    /// Folds a list of errors into one: none is `Ok`, one is itself, more are `Multiple`.
    pub(crate) fn collect(mut errors: Vec<CgroupError>) -> Result<(), CgroupError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().expect("one error")),
            _ => Err(CgroupError::Multiple(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_names_value_file_and_errno() {
        let e = CgroupError::Write {
            path: "/sys/fs/cgroup/pids/x/pids.max".into(),
            value: "max".into(),
            errno: Errno(libc::EINVAL),
        };
        assert_eq!(
            e.to_string(),
            "cannot write `max` to `/sys/fs/cgroup/pids/x/pids.max`: EINVAL"
        );
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }

    #[test]
    fn unknown_errno_prints_number() {
        assert_eq!(Errno(4000).to_string(), "errno 4000");
    }

    #[test]
    fn multiple_lists_every_error() {
        let e = CgroupError::Multiple(vec![
            CgroupError::Io {
                op: "remove directory",
                path: "/a".into(),
                errno: Errno(libc::EBUSY),
            },
            CgroupError::Io {
                op: "remove directory",
                path: "/b".into(),
                errno: Errno(libc::ENOTEMPTY),
            },
        ]);
        assert_eq!(
            e.to_string(),
            "2 errors: cannot remove directory `/a`: EBUSY; cannot remove directory `/b`: ENOTEMPTY"
        );
    }
}
