//! A private registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
//! port, with its own config and storage in a temporary directory, optionally behind htpasswd
//! basic auth. Killed by pid and removed on drop, also when the test panics.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the registry.
pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// How long the registry may take to answer `/v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Skips the calling test when not root or when `docker-registry` is not installed, saying so.
#[macro_export]
macro_rules! require_registry {
    () => {
        $crate::require_root!();
        if !$crate::registry::Registry::available() {
            eprintln!(
                "skipped: `{}` is missing (install Debian's docker-registry)",
                $crate::registry::DOCKER_REGISTRY
            );
            return;
        }
    };
}

/// A running registry. Dropping it kills the process and removes its directory.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Whether the registry binary is installed.
    pub fn available() -> bool {
        Path::new(DOCKER_REGISTRY).exists()
    }

    /// Starts an open registry (no auth). Panics with the registry's log when it does not come up.
    pub fn start() -> Registry {
        Registry::try_start(None).unwrap_or_else(|e| panic!("cannot start {DOCKER_REGISTRY}: {e}"))
    }

    /// Starts a registry that accepts only `user` / `pass` (htpasswd, bcrypt).
    pub fn start_with_htpasswd(user: &str, pass: &str) -> Registry {
        Registry::try_start(Some((user, pass)))
            .unwrap_or_else(|e| panic!("cannot start {DOCKER_REGISTRY} with htpasswd auth: {e}"))
    }

    /// Starts a registry, returning why it failed instead of panicking.
    pub fn try_start(htpasswd: Option<(&str, &str)>) -> io::Result<Registry> {
        // The port is found by binding and releasing it; another process may take it in between,
        // so a start that fails is tried again on a new port.
        let mut last = None;
        for _ in 0..3 {
            match Registry::start_once(htpasswd) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("registry failed to start")))
    }

    fn start_once(htpasswd: Option<(&str, &str)>) -> io::Result<Registry> {
        let dir = tempfile::Builder::new().prefix("berth-registry-").tempdir()?;
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
             cache:\n    blobdescriptor: inmemory\n\
             http:\n  addr: {addr}\n  secret: berth-test-secret\n",
            storage.display()
        );
        if let Some((user, pass)) = htpasswd {
            let file = dir.path().join("htpasswd");
            // Cost 4, the least bcrypt allows: the registry checks it on every request.
            let hash = bcrypt::hash_with_result(pass, 4)
                .map_err(io::Error::other)?
                .format_for_version(bcrypt::Version::TwoY);
            fs::write(&file, format!("{user}:{hash}\n"))?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                file.display()
            ));
        }
        fs::write(&config, yaml)?;
        let log_path = dir.path().join("registry.log");
        let log = fs::File::create(&log_path)?;
        let child = Command::new(DOCKER_REGISTRY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        // From here on, dropping `reg` kills the process and removes the directory.
        let mut reg = Registry { child, addr, dir };
        match reg.wait_ready() {
            Ok(()) => Ok(reg),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("{e}; registry log:\n{}", reg.log()),
            )),
        }
    }

    /// `127.0.0.1:PORT`, as an image reference's domain.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// The registry's storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Polls `GET /v2/` until it answers (200, or 401 with auth) or the process dies.
    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!("registry exited: {status}")));
            }
            if let Ok(code) = http_status(&self.addr, "/v2/") {
                if code == 200 || code == 401 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "registry on {} did not answer /v2/ within {START_TIMEOUT:?}",
                        self.addr
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Kills the registry (by its pid, which this process started) and reaps it.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        // The TempDir field removes the directory after this.
    }
}

/// The status code of `GET path` on `addr`, with a plain HTTP/1.0 request.
pub fn http_status(addr: &str, path: &str) -> io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr.parse().map_err(io::Error::other)?, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other("not an HTTP answer"))
}
