//! One error type for the runtime: every failure names its step and the object it acted on.

use std::fmt;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// A failed step: ``cannot mount proc on `/proc` in container `web-1`: EPERM``.
///
/// Serializable because failures inside the container's init travel to the parent over the sync socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Error {
    /// What was being done, as a verb phrase: "mount proc on", "set hostname".
    pub step: String,
    /// The object acted on (path, name, value); empty when the step names it already.
    pub object: String,
    /// The errno, when the failure came from a syscall.
    pub errno: Option<i32>,
    /// Extra detail when there is no errno (or in addition to it).
    pub detail: Option<String>,
    /// The container it happened in, when known.
    pub container: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(step: impl Into<String>, object: impl fmt::Display) -> Error {
        Error {
            step: step.into(),
            object: object.to_string(),
            errno: None,
            detail: None,
            container: None,
        }
    }

    /// A failed syscall on `object`.
    pub fn sys(step: impl Into<String>, object: impl fmt::Display, errno: Errno) -> Error {
        Error {
            errno: Some(errno as i32),
            ..Error::new(step, object)
        }
    }

    pub fn io(step: impl Into<String>, object: impl fmt::Display, e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error {
                errno: Some(n),
                ..Error::new(step, object)
            },
            None => Error::new(step, object).detail(e.to_string()),
        }
    }

    /// An error with a message and no object: "container `x` is not running".
    pub fn msg(text: impl Into<String>) -> Error {
        Error::new(String::new(), "").detail(text)
    }

    pub fn detail(mut self, d: impl Into<String>) -> Error {
        self.detail = Some(d.into());
        self
    }

    pub fn in_container(mut self, id: &str) -> Error {
        if self.container.is_none() {
            self.container = Some(id.to_string());
        }
        self
    }

    pub fn errno(&self) -> Option<Errno> {
        self.errno.map(Errno::from_raw)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step.is_empty() {
            f.write_str(self.detail.as_deref().unwrap_or("error"))?;
        } else {
            write!(f, "cannot {}", self.step)?;
            if !self.object.is_empty() {
                write!(f, " `{}`", self.object)?;
            }
        }
        if let Some(c) = &self.container {
            write!(f, " in container `{c}`")?;
        }
        if let Some(n) = self.errno {
            let e = Errno::from_raw(n);
            write!(f, ": {}", errno_name(e))?;
            if e != Errno::UnknownErrno {
                write!(f, " ({})", e.desc())?;
            }
        }
        if !self.step.is_empty() {
            if let Some(d) = &self.detail {
                write!(f, ": {d}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `EPERM`, not `EPERM: Operation not permitted` (the description is printed separately).
fn errno_name(e: Errno) -> String {
    let s = format!("{e:?}");
    if s.starts_with('E') {
        s
    } else {
        format!("errno {}", e as i32)
    }
}

impl From<berth_oci::validate::SpecError> for Error {
    fn from(e: berth_oci::validate::SpecError) -> Error {
        Error::msg(e.to_string())
    }
}

impl From<berth_oci::validate::IdError> for Error {
    fn from(e: berth_oci::validate::IdError) -> Error {
        Error::msg(e.to_string())
    }
}

/// Extension to attach a step and object to syscall results.
pub trait Context<T> {
    fn step(self, step: &str, object: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn step(self, step: &str, object: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(step, object, e))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn step(self, step: &str, object: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::io(step, object, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_step_object_container_and_errno() {
        let e = Error::sys("mount proc on", "/proc", Errno::EPERM).in_container("web-1");
        assert_eq!(
            e.to_string(),
            "cannot mount proc on `/proc` in container `web-1`: EPERM (Operation not permitted)"
        );
    }

    #[test]
    fn plain_message() {
        let e = Error::msg("container `x` does not exist");
        assert_eq!(e.to_string(), "container `x` does not exist");
    }

    #[test]
    fn survives_serialization() {
        let e = Error::sys("exec", "foo", Errno::ENOENT).detail("not found in $PATH");
        let back: Error = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(back.to_string().ends_with("not found in $PATH"), "{back}");
    }
}
