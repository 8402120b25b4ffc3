//! berthd's side of berth-shim (decision 0012): spawning one, its request lines, its state
//! stream, and its attach streams.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::error::{ApiError, Result};

/// What berthd tells a shim at spawn.
#[derive(Debug, Clone)]
pub struct SpawnArgs {
    pub shim: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub log: Option<LogOpts>,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub restart: String,
    pub oom_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct LogOpts {
    pub path: PathBuf,
    pub max_size: Option<u64>,
    pub max_file: Option<u32>,
}

/// The shim's `state.json` (and each line of its `events` stream).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ShimState {
    pub status: String,
    pub pid: u32,
    pub started_at: String,
    pub finished_at: String,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub restart_count: u64,
    pub error: String,
    pub stopped: bool,
}

impl ShimState {
    pub fn parse(line: &str) -> Result<ShimState> {
        serde_json::from_str(line)
            .map_err(|e| ApiError::system(format!("berth-shim sent a bad state line: {e}")))
    }
}

#[derive(Debug, Deserialize)]
struct Ready {
    pid: Option<u32>,
    error: Option<String>,
}

pub fn socket(state_dir: &Path) -> PathBuf {
    state_dir.join("shim.sock")
}

/// Spawns a shim and waits for it to have created the container: its init's pid, or the
/// runtime's error.
pub async fn spawn(a: &SpawnArgs) -> Result<u32> {
    let mut cmd = tokio::process::Command::new(&a.shim);
    cmd.arg("--id")
        .arg(&a.id)
        .arg("--bundle")
        .arg(&a.bundle)
        .arg("--state-dir")
        .arg(&a.state_dir)
        .arg("--runtime")
        .arg(&a.runtime)
        .arg("--runtime-root")
        .arg(&a.runtime_root)
        .arg("--restart")
        .arg(&a.restart);
    if let Some(l) = &a.log {
        cmd.arg("--log").arg(&l.path);
        if let Some(s) = l.max_size {
            cmd.arg("--log-max-size").arg(s.to_string());
        }
        if let Some(n) = l.max_file {
            cmd.arg("--log-max-file").arg(n.to_string());
        }
    }
    if a.tty {
        cmd.arg("--tty");
    }
    if a.stdin {
        cmd.arg("--stdin");
    }
    if a.stdin_once {
        cmd.arg("--stdin-once");
    }
    if let Some(f) = &a.oom_file {
        cmd.arg("--oom-file").arg(f);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| ApiError::system(format!("cannot start {}: {e}", a.shim.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ApiError::system("berth-shim: no stdout"))?;
    // The shim outlives this request; someone must reap it when it ends.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(|e| ApiError::system(format!("berth-shim: {e}")))?;
    if line.trim().is_empty() {
        return Err(ApiError::system(format!(
            "berth-shim for {} ended before creating the container",
            a.id
        )));
    }
    let r: Ready = serde_json::from_str(line.trim())
        .map_err(|e| ApiError::system(format!("berth-shim sent a bad ready line {line:?}: {e}")))?;
    match (r.pid, r.error) {
        (Some(pid), _) => Ok(pid),
        (None, Some(e)) => Err(runtime_error(&e)),
        (None, None) => Err(ApiError::system("berth-shim sent neither a pid nor an error")),
    }
}

/// A runtime failure as dockerd words it (the docker CLI maps "executable file not found" to
/// exit 127 and "permission denied" to 126).
pub fn runtime_error(msg: &str) -> ApiError {
    let msg = msg.trim();
    let lower = msg.to_ascii_lowercase();
    let text = if lower.contains("enoent") && (lower.contains("exec") || lower.contains("executable")) {
        let cmd = msg.split('`').nth(1).unwrap_or("");
        format!(
            "failed to create task for container: OCI runtime create failed: unable to start container process: \
             exec: \"{cmd}\": executable file not found in $PATH: unknown"
        )
    } else if lower.contains("eacces") && lower.contains("exec") {
        let cmd = msg.split('`').nth(1).unwrap_or("");
        format!(
            "failed to create task for container: OCI runtime create failed: unable to start container process: \
             exec: \"{cmd}\": permission denied: unknown"
        )
    } else {
        format!("failed to create task for container: OCI runtime create failed: {msg}: unknown")
    };
    if text.contains("not found") || text.contains("permission denied") {
        ApiError::invalid(text)
    } else {
        ApiError::system(text)
    }
}

async fn connect(state_dir: &Path) -> std::io::Result<UnixStream> {
    UnixStream::connect(socket(state_dir)).await
}

/// Sends one request and reads its answer line: `ok` → Ok, `error MSG` → the message.
pub async fn request(state_dir: &Path, line: &str) -> Result<()> {
    let mut s = connect(state_dir)
        .await
        .map_err(|e| ApiError::system(format!("cannot reach the container's shim: {e}")))?;
    s.write_all(format!("{line}\n").as_bytes()).await?;
    let mut answer = String::new();
    BufReader::new(&mut s).read_line(&mut answer).await?;
    let answer = answer.trim_end();
    if answer == "ok" {
        return Ok(());
    }
    match answer.strip_prefix("error ") {
        Some(m) => Err(runtime_error_or_plain(m)),
        None if answer.is_empty() => Err(ApiError::system("the container's shim closed the connection")),
        None => Err(ApiError::system(format!(
            "the container's shim answered {answer:?}"
        ))),
    }
}

fn runtime_error_or_plain(m: &str) -> ApiError {
    if m.to_ascii_lowercase().contains("exec") {
        runtime_error(m)
    } else {
        ApiError::system(m.to_string())
    }
}

/// The shim's state stream: the current state, then one line per change; `None` when it ends.
pub struct EventStream {
    lines: tokio::io::Lines<BufReader<UnixStream>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl EventStream {
    pub async fn open(state_dir: &Path) -> std::io::Result<EventStream> {
        let mut s = connect(state_dir).await?;
        s.write_all(b"events\n").await?;
        Ok(EventStream {
            lines: BufReader::new(s).lines(),
        })
    }

    pub async fn next(&mut self) -> Option<ShimState> {
        loop {
            match self.lines.next_line().await {
                Ok(Some(l)) if l.trim().is_empty() => continue,
                Ok(Some(l)) => match ShimState::parse(&l) {
                    Ok(s) => return Some(s),
                    Err(e) => {
                        crate::log::log("warn", &e.message);
                        continue;
                    }
                },
                _ => return None,
            }
        }
    }
}

/// Opens an attach stream: after `ok`, the socket carries the container's output (framed as
/// Docker's multiplexed stream without a tty) and takes its stdin.
pub async fn attach(state_dir: &Path, stdin: bool, stdout: bool, stderr: bool) -> Result<UnixStream> {
    let mut s = connect(state_dir)
        .await
        .map_err(|e| ApiError::system(format!("cannot reach the container's shim: {e}")))?;
    let mut flags = String::new();
    if stdin {
        flags.push('i');
    }
    if stdout {
        flags.push('o');
    }
    if stderr {
        flags.push('e');
    }
    s.write_all(format!("attach {flags}\n").as_bytes()).await?;
    // Read the answer byte by byte: what follows it is the stream and must stay in the socket.
    let mut answer = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = s.read(&mut b).await?;
        if n == 0 || b[0] == b'\n' || answer.len() > 4096 {
            break;
        }
        answer.push(b[0]);
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    if answer == "ok" {
        Ok(s)
    } else {
        Err(ApiError::system(format!(
            "attach: the container's shim answered {answer:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lines_parse_with_defaults() {
        let s = ShimState::parse(r#"{"status":"exited","pid":0,"exit_code":137,"oom_killed":true}"#).unwrap();
        assert_eq!(s.status, "exited");
        assert_eq!(s.exit_code, 137);
        assert!(s.oom_killed);
        assert_eq!(s.restart_count, 0);
        assert!(ShimState::parse("nope").is_err());
    }

    #[test]
    fn runtime_errors_read_as_dockerd() {
        let e = runtime_error("cannot exec `nosuch` in container `x`: ENOENT");
        assert!(
            e.message
                .contains(r#"exec: "nosuch": executable file not found in $PATH"#),
            "{}",
            e.message
        );
        assert_eq!(e.kind, crate::error::Kind::InvalidParameter);
        let e = runtime_error("cannot mount proc: EPERM");
        assert_eq!(e.kind, crate::error::Kind::System);
    }
}
