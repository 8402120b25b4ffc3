//! The CLI's errors and the exit codes they map to.

use std::fmt;

/// What went wrong, as the user is told. Exit code 1 unless said otherwise.
#[derive(Debug)]
pub enum Error {
    /// Nothing answers at the daemon's address.
    Connect(String),
    /// The daemon answered with an error status; `message` is its `{"message"}`.
    Api { status: u16, message: String },
    /// Printed as is.
    Msg(String),
    /// A command-line error, printed as is, with docker's exit code (125 for flags, 1 for arguments).
    Usage { message: String, code: i32 },
    /// Already reported on stderr; just exit with this code.
    Exit(i32),
}

impl Error {
    pub fn msg(m: impl Into<String>) -> Error {
        Error::Msg(m.into())
    }

    pub fn code(&self) -> i32 {
        match self {
            Error::Usage { code, .. } | Error::Exit(code) => *code,
            _ => 1,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status: 404, .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect(h) => write!(
                f,
                "Cannot connect to the berth daemon at {h}. Is the berth daemon running?"
            ),
            Error::Api { message, .. } => write!(f, "Error response from daemon: {message}"),
            Error::Msg(m) | Error::Usage { message: m, .. } => f.write_str(m),
            Error::Exit(_) => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Writing to stdout failed (e.g. a closed pipe): nothing useful to say, exit quietly.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::Exit(1)
        } else {
            Error::Msg(e.to_string())
        }
    }
}
