//! The Docker Engine API client shared by all commands: connection, version negotiation,
//! error decoding, and starting berthd when the default socket has nobody behind it.

use std::io::{self, BufReader};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::host::{Host, Selected};
use crate::http::{self, Request, Response, Stream};

/// The newest API version this client speaks.
pub const API_VERSION: &str = "1.47";

/// Where an auto-started berthd writes its output.
pub const BERTHD_LOG: &str = "/var/log/berthd.log";

#[derive(Debug)]
pub struct Client {
    sel: Selected,
    version: Option<String>,
    started: bool,
}

/// Compares dotted API versions ("1.41" < "1.47" < "1.100").
pub fn version_lt(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

/// The version to use against a server that says `server` in `Api-Version` (docker: 1.24 when absent).
pub fn negotiate(server: Option<&str>) -> String {
    let server = server.filter(|s| !s.is_empty()).unwrap_or("1.24");
    if version_lt(server, API_VERSION) {
        server.to_string()
    } else {
        API_VERSION.to_string()
    }
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string under construction.
#[derive(Debug, Default)]
pub struct Query(String);

impl Query {
    pub fn new() -> Query {
        Query(String::new())
    }
    pub fn add(mut self, k: &str, v: &str) -> Query {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(&encode(k));
        self.0.push('=');
        self.0.push_str(&encode(v));
        self
    }
    pub fn add_if(self, cond: bool, k: &str, v: &str) -> Query {
        if cond {
            self.add(k, v)
        } else {
            self
        }
    }
    pub fn add_opt(self, k: &str, v: Option<&str>) -> Query {
        match v {
            Some(v) => self.add(k, v),
            None => self,
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a non-2xx answer into an error carrying the daemon's message.
pub fn api_error(resp: Response) -> Error {
    let status = resp.status;
    let reason = resp.reason.clone();
    let body = resp.bytes().unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            let t = String::from_utf8_lossy(&body).trim().to_string();
            if t.is_empty() {
                format!("{status} {reason}")
            } else {
                t
            }
        });
    Error::Api { status, message }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

impl Client {
    pub fn new(sel: Selected) -> Client {
        let version = std::env::var("BERTH_API_VERSION")
            .or_else(|_| std::env::var("DOCKER_API_VERSION"))
            .ok()
            .filter(|v| !v.is_empty());
        Client {
            sel,
            version,
            started: false,
        }
    }

    fn dial(&self) -> io::Result<Stream> {
        match &self.sel.host {
            Host::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
            Host::Tcp(a) => {
                let s = TcpStream::connect(a.as_str())?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
        }
    }

    fn connect(&mut self) -> Result<Stream> {
        match self.dial() {
            Ok(s) => Ok(s),
            Err(e) if is_absent(&e) && self.sel.is_default && !self.started => {
                self.started = true;
                self.start_daemon()?;
                self.dial().map_err(|_| Error::Connect(self.sel.host.to_string()))
            }
            Err(_) => Err(Error::Connect(self.sel.host.to_string())),
        }
    }

    /// Another client for the same daemon, for a second connection from another thread (wait,
    /// signal forwarding, resize); it never starts berthd.
    pub fn fork(&self) -> Client {
        Client {
            sel: self.sel.clone(),
            version: self.version.clone(),
            started: true,
        }
    }

    /// Sends an upgrade request (attach, exec start) to `/v1.NN<path>` and returns the raw
    /// connection. Anything but `101` is docker's "unable to upgrade" error.
    pub fn hijack(&mut self, req: Request<'_>) -> Result<http::Upgraded> {
        let v = self.api_version()?;
        let mut req = req.header("Connection", "Upgrade").header("Upgrade", "tcp");
        req.path = format!("/v{v}{}", req.path);
        let stream = self.connect()?;
        let answer = http::upgrade(stream, self.sel.host.header(), req).map_err(|e| {
            if is_absent(&e) {
                Error::Connect(self.sel.host.to_string())
            } else {
                Error::msg(format!("error during connect: request to {}: {e}", self.sel.host))
            }
        })?;
        match answer {
            http::Upgrade::Switched(u) => Ok(u),
            http::Upgrade::Answered(resp) => {
                let status = resp.status;
                let _ = resp.bytes();
                Err(Error::msg(format!("unable to upgrade to tcp, received {status}")))
            }
        }
    }

    /// Sends a request without the version prefix and returns the answer whatever its status.
    pub fn send_raw(&mut self, req: Request<'_>) -> Result<Response> {
        let stream = self.connect()?;
        http::roundtrip(stream, self.sel.host.header(), req).map_err(|e| {
            if is_absent(&e) {
                Error::Connect(self.sel.host.to_string())
            } else {
                Error::msg(format!(
                    "error during connect: {} {}: {e}",
                    "request to", self.sel.host
                ))
            }
        })
    }

    /// `GET /_ping`: the daemon's headers (`Api-Version`, `Ostype`, ...).
    pub fn ping(&mut self) -> Result<http::Headers> {
        let resp = self.send_raw(Request::new("GET", "/_ping"))?;
        let headers = resp.headers.clone();
        if resp.status >= 400 && headers.get("Api-Version").is_none() {
            return Err(api_error(resp));
        }
        let _ = resp.bytes();
        Ok(headers)
    }

    /// The negotiated API version: min(ours, the server's).
    pub fn api_version(&mut self) -> Result<String> {
        if let Some(v) = &self.version {
            return Ok(v.clone());
        }
        let h = self.ping()?;
        let v = negotiate(h.get("Api-Version"));
        self.version = Some(v.clone());
        Ok(v)
    }

    /// Sends a request to `/v1.NN<path>`; errors for statuses >= 400.
    pub fn send(&mut self, mut req: Request<'_>) -> Result<Response> {
        let v = self.api_version()?;
        if !req.path.starts_with("/berth/") {
            req.path = format!("/v{v}{}", req.path);
        }
        let resp = self.send_raw(req)?;
        if resp.status >= 400 {
            return Err(api_error(resp));
        }
        Ok(resp)
    }

    fn json_of(resp: Response) -> Result<Value> {
        let body = resp
            .bytes()
            .map_err(|e| Error::msg(format!("error reading the daemon's answer: {e}")))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|e| Error::msg(format!("error decoding the daemon's answer: {e}")))
    }

    pub fn get(&mut self, path: &str) -> Result<Value> {
        let r = self.send(Request::new("GET", path))?;
        Self::json_of(r)
    }

    pub fn post(&mut self, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut req = Request::new("POST", path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = self.send(req)?;
        Self::json_of(r)
    }

    pub fn delete(&mut self, path: &str) -> Result<Value> {
        let r = self.send(Request::new("DELETE", path))?;
        Self::json_of(r)
    }

    /// Starts berthd detached and waits until it answers `/_ping`.
    fn start_daemon(&mut self) -> Result<()> {
        let bin = find_berthd().ok_or_else(|| Error::Connect(self.sel.host.to_string()))?;
        let pid = spawn_detached(&bin, BERTHD_LOG)
            .map_err(|e| Error::msg(format!("cannot start berthd `{}`: {e}", bin.display())))?;
        eprintln!("berth: started berthd (pid {pid}), logs in {BERTHD_LOG}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut pause = Duration::from_millis(2);
        loop {
            if let Ok(s) = self.dial() {
                if let Ok(r) = http::roundtrip(s, self.sel.host.header(), Request::new("GET", "/_ping")) {
                    if r.status < 500 {
                        let _ = r.bytes();
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                let exited = process_exited(pid);
                return Err(Error::msg(format!(
                    "berthd (pid {pid}) {} within 10s at {}; see {BERTHD_LOG}",
                    if exited {
                        "exited without answering"
                    } else {
                        "did not answer"
                    },
                    self.sel.host
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// `berthd` next to the running `berth`, else from `PATH`.
fn find_berthd() -> Option<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let p = dir.join("berthd");
        if p.is_file() {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("berthd"))
        .find(|p| p.is_file())
}

fn process_exited(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    if !alive {
        return true;
    }
    // A zombie child of ours counts as exited: reap it without blocking.
    let mut status = 0;
    // SAFETY: waitpid on our own child with WNOHANG; `status` is a valid out pointer.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) == pid as libc::pid_t }
}

/// Starts `bin` in its own session, stdin from /dev/null, stdout and stderr appended to `log`.
fn spawn_detached(bin: &Path, log: &str) -> io::Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open `{log}`: {e}")))?;
    let err = out.try_clone()?;
    let mut cmd = std::process::Command::new(bin);
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it detaches berthd
    // from our session and terminal so it outlives this command and ignores its signals.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(child.id())
}

/// Reads a JSON message stream (`{...}{...}` or one object per line) from a response.
pub fn json_stream(resp: Response) -> impl Iterator<Item = Result<Value>> {
    serde_json::Deserializer::from_reader(BufReader::new(resp.body))
        .into_iter::<Value>()
        .map(|r| r.map_err(|e| Error::msg(format!("error reading the daemon's stream: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(Some("1.41")), "1.41");
        assert_eq!(negotiate(Some("1.50")), "1.47");
        assert_eq!(negotiate(Some("1.47")), "1.47");
        assert_eq!(negotiate(None), "1.24");
        assert!(version_lt("1.9", "1.10"));
    }

    #[test]
    fn query_encoding() {
        let q = Query::new()
            .add("filters", r#"{"reference":{"busybox:*":true}}"#)
            .add_if(false, "all", "1")
            .add("tag", "a b");
        assert_eq!(
            q.as_str(),
            "?filters=%7B%22reference%22%3A%7B%22busybox%3A%2A%22%3Atrue%7D%7D&tag=a%20b"
        );
    }
}
