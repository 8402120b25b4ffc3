//! A berthd of the test's own: its own data root, exec root and socket, killed and removed on
//! drop (even when the test fails). Requests go through `curl --unix-socket`; the docker CLI and
//! skopeo are driven as the user would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Berthd {
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    pub data: PathBuf,
    /// The daemon's own cgroup parent, removed on drop.
    pub cgroup_parent: String,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Berthd {
    pub fn start() -> Berthd {
        Berthd::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Berthd {
        let dir = tempfile::Builder::new().prefix("berthd-test").tempdir().unwrap();
        let sock = dir.path().join("berth.sock");
        let data = dir.path().join("data");
        let cgroup_parent = format!(
            "berth-test-{}",
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("berthd-test")
        );
        let mut d = Berthd {
            dir,
            sock,
            data,
            cgroup_parent,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--data-root")
            .arg(&self.data)
            .arg("--exec-root")
            .arg(self.dir.path().join("run"))
            .arg("--config-file")
            .arg(self.config_file())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Ready when it answers, not when its socket exists (it binds before repairing).
            if let Ok(mut c) = std::os::unix::net::UnixStream::connect(&self.sock) {
                use std::io::{Read, Write};
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut answer = String::new();
                if c.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").is_ok()
                    && c.read_to_string(&mut answer).is_ok()
                    && answer.ends_with("OK")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berthd did not start: {}", self.log());
    }

    fn config_file(&self) -> PathBuf {
        let p = self.dir.path().join("daemon.json");
        if !p.exists() {
            let cfg = serde_json::json!({ "cgroup-parent": self.cgroup_parent });
            std::fs::write(&p, cfg.to_string()).unwrap();
        }
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGKILL, no cleanup by the daemon.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        c.wait().unwrap()
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// An API request: (status, body).
    pub fn api(&self, method: &str, path: &str, body: Option<&Path>) -> (u16, Vec<u8>) {
        let mut cmd = Command::new("curl");
        cmd.arg("-sS")
            .arg("--unix-socket")
            .arg(&self.sock)
            .arg("-X")
            .arg(method)
            .arg("-w")
            .arg("\n%{http_code}")
            .arg(format!("http://berth{path}"));
        if let Some(b) = body {
            cmd.arg("--data-binary").arg(format!("@{}", b.display()));
            cmd.arg("-H").arg("Content-Type: application/x-tar");
        }
        let out = cmd.output().expect("curl");
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut body = out.stdout;
        let nl = body.iter().rposition(|&b| b == b'\n').unwrap();
        let code: u16 = std::str::from_utf8(&body[nl + 1..])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        body.truncate(nl);
        (code, body)
    }

    /// A request with a JSON body: (status, body).
    pub fn api_json(&self, method: &str, path: &str, body: &serde_json::Value) -> (u16, String) {
        let f = self.dir.path().join(format!("body-{}.json", std::process::id()));
        let f = f.with_extension(format!("{}.json", crate_unique()));
        std::fs::write(&f, serde_json::to_vec(body).unwrap()).unwrap();
        let out = Command::new("curl")
            .arg("-sS")
            .arg("--unix-socket")
            .arg(&self.sock)
            .arg("-X")
            .arg(method)
            .arg("-H")
            .arg("Content-Type: application/json")
            .arg("--data-binary")
            .arg(format!("@{}", f.display()))
            .arg("-w")
            .arg("\n%{http_code}")
            .arg(format!("http://berth{path}"))
            .output()
            .expect("curl");
        let _ = std::fs::remove_file(&f);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Removes every container (force), so that no process, mount or cgroup outlives the test.
    pub fn remove_all_containers(&self) {
        if let Ok(Ok(v)) = std::panic::catch_unwind(|| {
            let (code, body) = self.api("GET", "/containers/json?all=1", None);
            if code != 200 {
                return Err(());
            }
            Ok(serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default())
        }) {
            for c in v.as_array().cloned().unwrap_or_default() {
                if let Some(id) = c["Id"].as_str() {
                    let _ = self.api("DELETE", &format!("/containers/{id}?force=1"), None);
                }
            }
        }
    }

    /// An API request whose answer must be 2xx; returns the body as text.
    pub fn ok(&self, method: &str, path: &str) -> String {
        let (code, body) = self.api(method, path, None);
        let text = String::from_utf8_lossy(&body).into_owned();
        assert!(
            (200..300).contains(&code),
            "{method} {path}: {code} {text}\n{}",
            self.log()
        );
        assert!(!text.contains("\"errorDetail\""), "{method} {path}: {text}");
        text
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok("GET", path)).unwrap()
    }

    /// The docker CLI (28.x) against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(docker_cli())
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .output()
            .expect("docker CLI")
    }

    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `image bootstrap busybox` through the API; returns the image ID.
    pub fn bootstrap_busybox(&self, tag: &str) -> String {
        self.ok(
            "POST",
            &format!("/berth/v1/images/bootstrap?source=busybox&tag={tag}"),
        );
        self.json(&format!("/images/{tag}/json"))["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn crate_unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Berthd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.remove_all_containers();
        }
        if let Some(c) = self.child.as_mut() {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        // The cgroup parent the runtime made under every hierarchy (empty once the containers
        // are gone; rmdir refuses otherwise).
        for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            if let Ok(rd) = std::fs::read_dir(base) {
                for e in rd.flatten() {
                    let _ = std::fs::remove_dir(e.path().join(&self.cgroup_parent));
                }
            }
            let _ = std::fs::remove_dir(Path::new(base).join(&self.cgroup_parent));
        }
        if std::thread::panicking() {
            eprintln!("--- berthd log ---\n{}", self.log());
        }
    }
}

pub fn docker_cli() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    }
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Files under `dir` (recursively), for leak checks.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
