//! `state.json`: the container's state as the shim knows it, written atomically at every change
//! and sent as one line to every `events` connection.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::json;
use crate::time::{self, Time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Restarting,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub status: Status,
    /// The container's init while it lives; 0 otherwise.
    pub pid: i32,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub restart_count: u32,
    pub error: String,
    /// The last exit was asked for with `stop`.
    pub stopped: bool,
}

impl State {
    pub fn new() -> State {
        State {
            status: Status::Created,
            pid: 0,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            oom_killed: false,
            restart_count: 0,
            error: String::new(),
            stopped: false,
        }
    }

    /// The JSON line, newline included.
    pub fn line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"status\":\"");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.extend_from_slice(b"\",\"pid\":");
        json::push_int(&mut out, i64::from(self.pid));
        out.extend_from_slice(b",\"started_at\":\"");
        time::push_rfc3339_nano(&mut out, self.started_at);
        out.extend_from_slice(b"\",\"finished_at\":\"");
        time::push_rfc3339_nano(&mut out, self.finished_at);
        out.extend_from_slice(b"\",\"exit_code\":");
        json::push_int(&mut out, i64::from(self.exit_code));
        out.extend_from_slice(b",\"oom_killed\":");
        out.extend_from_slice(if self.oom_killed { b"true" } else { b"false" });
        out.extend_from_slice(b",\"restart_count\":");
        json::push_uint(&mut out, u64::from(self.restart_count));
        out.extend_from_slice(b",\"error\":");
        json::push_str(&mut out, self.error.as_bytes());
        out.extend_from_slice(b",\"stopped\":");
        out.extend_from_slice(if self.stopped { b"true" } else { b"false" });
        out.extend_from_slice(b"}\n");
        out
    }
}

/// Replaces `dir/state.json` with `line`: written to a temporary file, synced, renamed over, so a
/// reader (berthd after a restart) sees the old state or the new one, never a torn one.
pub fn write(dir: &Path, line: &[u8]) -> io::Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(line)?;
    f.sync_data()?;
    fs::rename(&tmp, dir.join("state.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_every_field_with_zero_times() {
        let s = State::new();
        assert_eq!(
            String::from_utf8(s.line()).unwrap(),
            "{\"status\":\"created\",\"pid\":0,\"started_at\":\"0001-01-01T00:00:00Z\",\
             \"finished_at\":\"0001-01-01T00:00:00Z\",\"exit_code\":0,\"oom_killed\":false,\
             \"restart_count\":0,\"error\":\"\",\"stopped\":false}\n"
        );
    }

    #[test]
    fn line_reads_back_as_json() {
        let mut s = State::new();
        s.status = Status::Exited;
        s.pid = 0;
        s.started_at = Some(Time {
            secs: 1_796_292_900,
            nanos: 5,
        });
        s.finished_at = Some(Time {
            secs: 1_796_292_901,
            nanos: 0,
        });
        s.exit_code = 137;
        s.oom_killed = true;
        s.restart_count = 2;
        s.error = "cannot \"exec\"\n".into();
        s.stopped = true;
        let v: serde_json::Value = serde_json::from_slice(&s.line()).unwrap();
        assert_eq!(v["status"], "exited");
        assert_eq!(v["started_at"], "2026-12-03T10:15:00.000000005Z");
        assert_eq!(v["finished_at"], "2026-12-03T10:15:01Z");
        assert_eq!(v["exit_code"], 137);
        assert_eq!(v["oom_killed"], true);
        assert_eq!(v["restart_count"], 2);
        assert_eq!(v["error"], "cannot \"exec\"\n");
        assert_eq!(v["stopped"], true);
    }

    #[test]
    fn write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), b"one\n").unwrap();
        write(dir.path(), b"two\n").unwrap();
        assert_eq!(fs::read(dir.path().join("state.json")).unwrap(), b"two\n");
        assert!(!dir.path().join(".state.json.tmp").exists());
    }
}
