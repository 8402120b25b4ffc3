//! The CLI against a scripted daemon on a unix socket (no root): version negotiation, request
//! framing, error wording, streams, and auto-start staying off for explicit hosts.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// One request as the fake daemon saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<String>,
    body: Vec<u8>,
}

/// A daemon answering each request with `answer(request line)`: (status, content type, body).
struct Fake {
    dir: tempfile::TempDir,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn read_chunked(r: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let n = usize::from_str_radix(l.trim(), 16).unwrap();
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk).unwrap();
        if n == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

impl Fake {
    fn start(answer: fn(&str) -> (u16, &'static str, String)) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("d.sock")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    headers.push(h.trim().to_string());
                }
                let find = |n: &str| {
                    headers
                        .iter()
                        .find(|h| h.to_lowercase().starts_with(&format!("{n}:")))
                        .map(|h| h.split_once(':').unwrap().1.trim().to_string())
                };
                let body = if let Some(l) = find("content-length") {
                    let mut b = vec![0; l.parse().unwrap()];
                    r.read_exact(&mut b).unwrap();
                    b
                } else if find("transfer-encoding").is_some() {
                    read_chunked(&mut r)
                } else {
                    Vec::new()
                };
                let line = line.trim().to_string();
                s2.lock().unwrap().push(Seen {
                    line: line.clone(),
                    headers,
                    body,
                });
                let (status, ctype, text) = answer(&line);
                // Chunked, in two pieces, to exercise the client's decoder.
                let (a, b) = text.split_at(text.len() / 2);
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\nApi-Version: 1.41\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                for part in [a, b] {
                    if !part.is_empty() {
                        resp.push_str(&format!("{:x}\r\n{part}\r\n", part.len()));
                    }
                }
                resp.push_str("0\r\n\r\n");
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        Fake { dir, seen }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }

    fn berth(&self, args: &[&str]) -> Output {
        let cfg: PathBuf = self.dir.path().join("cfg");
        Command::new(BERTH)
            .arg("-H")
            .arg(self.host())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env_remove("DOCKER_API_VERSION")
            .env_remove("BERTH_API_VERSION")
            .output()
            .unwrap()
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn answers(line: &str) -> (u16, &'static str, String) {
    let path = line.split(' ').nth(1).unwrap_or("");
    if path == "/_ping" {
        return (200, "text/plain", "OK".into());
    }
    if path.starts_with("/v1.41/images/nope/json") {
        return (
            404,
            "application/json",
            r#"{"message":"No such image: nope:latest"}"#.into(),
        );
    }
    if path.starts_with("/v1.41/images/json") {
        return (
            200,
            "application/json",
            r#"[{"Id":"sha256:70983e5d0e4d2b0c03cbf127ce40af57dd19ea105b529972db5e339a04f9fcba","Created":0,"Size":1983135,"SharedSize":-1,"Containers":-1,"RepoTags":["busybox:latest"],"RepoDigests":null}]"#.into(),
        );
    }
    if path.starts_with("/v1.41/images/create") {
        return (
            200,
            "application/json",
            concat!(
                r#"{"status":"Pulling from library/busybox","id":"latest"}"#,
                "\r\n",
                r#"{"status":"Downloading","progressDetail":{"current":1,"total":2},"id":"a1"}"#,
                "\r\n",
                r#"{"status":"Pull complete","progressDetail":{},"id":"a1"}"#,
                "\r\n",
                r#"{"status":"Digest: sha256:abc"}"#,
                "\r\n",
                r#"{"status":"Status: Downloaded newer image for busybox:latest"}"#,
                "\r\n"
            )
            .into(),
        );
    }
    if path.starts_with("/v1.41/images/load") {
        return (
            200,
            "application/json",
            concat!(r#"{"errorDetail":{"message":"bad tar"},"error":"bad tar"}"#, "\n").into(),
        );
    }
    if path.starts_with("/v1.41/auth") {
        return (200, "application/json", r#"{"Status":"Login Succeeded"}"#.into());
    }
    (404, "text/plain", "page not found".into())
}

#[test]
fn negotiates_and_lists() {
    let f = Fake::start(answers);
    let o = f.berth(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "busybox:latest 70983e5d0e4d 1.98MB\n");
    let reqs = f.requests();
    assert_eq!(reqs[0].line, "GET /_ping HTTP/1.1");
    assert_eq!(reqs[1].line, "GET /v1.41/images/json HTTP/1.1");

    let o = f.berth(&["images", "-a", "--filter", "dangling=true", "busybox"]);
    assert!(o.status.success());
    let last = f.requests().pop().unwrap();
    assert!(
        last.line.starts_with("GET /v1.41/images/json?all=1&filters="),
        "{}",
        last.line
    );
    let q = last
        .line
        .split("filters=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(q.contains("%22dangling%22%3A%7B%22true%22%3Atrue%7D"), "{q}");
    assert!(q.contains("%22reference%22%3A%7B%22busybox%22%3Atrue%7D"), "{q}");
}

#[test]
fn daemon_errors_are_worded_like_docker() {
    let f = Fake::start(answers);
    let o = f.berth(&["image", "inspect", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "[]\n");
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such image: nope:latest\n"
    );
    let o = f.berth(&["inspect", "nope"]);
    assert_eq!(text(&o.stderr), "Error: No such object: nope\n");
}

#[test]
fn pull_renders_the_stream_and_the_name() {
    let f = Fake::start(answers);
    let o = f.berth(&["pull", "busybox"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "Using default tag: latest\nlatest: Pulling from library/busybox\na1: Pull complete\nDigest: sha256:abc\n\
         Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"
    );
    let last = f.requests().pop().unwrap();
    assert_eq!(
        last.line,
        "POST /v1.41/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest HTTP/1.1"
    );
    assert!(
        last.headers.iter().any(|h| h == "X-Registry-Auth: e30="),
        "{:?}",
        last.headers
    );
    let o = f.berth(&["pull", "-q", "busybox:1"]);
    assert_eq!(text(&o.stdout), "docker.io/library/busybox:1\n");
}

#[test]
fn load_streams_the_body_and_fails_on_error_detail() {
    let f = Fake::start(answers);
    let tar = f.dir.path().join("x.tar");
    std::fs::write(&tar, vec![7u8; 100_000]).unwrap();
    let o = f.berth(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "bad tar\n");
    let last = f.requests().pop().unwrap();
    assert_eq!(last.line, "POST /v1.41/images/load?quiet=1 HTTP/1.1");
    assert_eq!(last.body.len(), 100_000);
    assert!(last.headers.iter().any(|h| h == "Transfer-Encoding: chunked"));
}

#[test]
fn login_stores_credentials() {
    let f = Fake::start(answers);
    let mut child = Command::new(BERTH)
        .args(["-H", &f.host(), "--config"])
        .arg(f.dir.path().join("cfg"))
        .args(["login", "-u", "me", "--password-stdin", "localhost:5000"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Login Succeeded\n");
    assert!(text(&o.stderr).starts_with("WARNING! Your credentials are stored unencrypted in '"));
    let body: serde_json::Value = serde_json::from_slice(&f.requests().pop().unwrap().body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"username":"me","password":"secret","serveraddress":"localhost:5000"})
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.path().join("cfg/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["auths"]["localhost:5000"]["auth"], "bWU6c2VjcmV0");
    let o = f.berth(&["logout", "localhost:5000"]);
    assert_eq!(text(&o.stdout), "Removing login credentials for localhost:5000\n");
    let o = f.berth(&["logout", "localhost:5000"]);
    assert_eq!(text(&o.stdout), "Not logged in to localhost:5000\n");
}

#[test]
fn nothing_listening_is_a_connect_error_without_autostart() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/none.sock", dir.path().display());
    let o = Command::new(BERTH)
        .args(["-H", &host, "images"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!("Cannot connect to the berth daemon at {host}. Is the berth daemon running?\n")
    );
    // DOCKER_HOST counts as explicit too.
    let o = Command::new(BERTH)
        .arg("info")
        .env("DOCKER_HOST", &host)
        .env_remove("BERTH_HOST")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!text(&o.stderr).contains("started berthd"));
}

#[test]
fn usage_errors() {
    let o = Command::new(BERTH).args(["images", "--bogus"]).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr)
        .starts_with("unknown flag: --bogus\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n"));
    let o = Command::new(BERTH).arg("frobnicate").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "berth: unknown command: berth frobnicate\n\nRun 'berth --help' for more information\n"
    );
}
