//! The container commands against a scripted daemon on a unix socket (no root): the create body,
//! run's request order and exit code, stdout/stderr demultiplexing, stdin forwarding, ps and logs
//! rendering, exec's exit code, cp archives, and docker's wording for bad flags.
//!
//! Where the docker CLI 28 is installed (/usr/local/bin/docker), the same commands also run through
//! it against the same fake daemon, and berth must send the same requests and print the same thing.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const DOCKER: &str = "/usr/local/bin/docker";
const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, without the `/v1.NN` prefix.
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// How the fake answers one request.
enum Reply {
    Json(u16, Value),
    Empty(u16),
    /// Status, extra headers, content type, body.
    Raw(u16, Vec<(String, String)>, &'static str, Vec<u8>),
    /// `101`, then these bytes; with `echo`, first everything the client sends until it
    /// half-closes, sent back as one stdout frame.
    Upgrade {
        out: Vec<u8>,
        echo: bool,
    },
}

fn frame(fd: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![fd, 0, 0, 0];
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Fake {
    dir: tempfile::TempDir,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn read_request(r: &mut BufReader<UnixStream>) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(l) = find("content-length") {
        body = vec![0; l.parse().ok()?];
        r.read_exact(&mut body).ok()?;
    } else if find("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut l = String::new();
            r.read_line(&mut l).ok()?;
            let n = usize::from_str_radix(l.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let full = parts.next()?.to_string();
    let path = match full.strip_prefix("/v1.") {
        Some(rest) => rest[rest.find('/').unwrap_or(0)..].to_string(),
        None => full,
    };
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn handle(conn: UnixStream, seen: Arc<Mutex<Vec<Seen>>>, handler: Arc<Handler>) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r) {
        seen.lock().unwrap().push(req.clone());
        let reply = if req.path == "/_ping" {
            Reply::Raw(200, vec![], "text/plain", b"OK".to_vec())
        } else {
            handler(&req)
        };
        let head = |status: u16, ctype: &str, len: usize, extra: &[(String, String)]| {
            let mut h = format!(
                "HTTP/1.1 {status} X\r\nApi-Version: 1.47\r\nOstype: linux\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n"
            );
            for (k, v) in extra {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
            h.push_str("\r\n");
            h
        };
        let is_head = req.method == "HEAD";
        match reply {
            Reply::Json(status, v) => {
                let b = v.to_string();
                let mut out = head(status, "application/json", b.len(), &[]).into_bytes();
                if !is_head {
                    out.extend_from_slice(b.as_bytes());
                }
                let _ = w.write_all(&out);
            }
            Reply::Empty(status) => {
                let len = if status == 204 {
                    ""
                } else {
                    "Content-Length: 0\r\n"
                };
                let _ =
                    w.write_all(format!("HTTP/1.1 {status} X\r\nApi-Version: 1.47\r\n{len}\r\n").as_bytes());
            }
            Reply::Raw(status, extra, ctype, body) => {
                let mut out = head(status, ctype, body.len(), &extra).into_bytes();
                if !is_head {
                    out.extend_from_slice(&body);
                }
                let _ = w.write_all(&out);
            }
            Reply::Upgrade { out, echo } => {
                let _ = w.write_all(
                    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                );
                let mut input = Vec::new();
                if echo {
                    let _ = r.read_to_end(&mut input);
                }
                let mut all = Vec::new();
                if echo {
                    all.extend(frame(1, &input));
                }
                all.extend(out);
                let _ = w.write_all(&all);
                let _ = w.shutdown(std::net::Shutdown::Write);
                let _ = r.read_to_end(&mut Vec::new());
                return;
            }
        }
    }
}

impl Fake {
    fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("d.sock")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (s, h) = (s2.clone(), handler.clone());
                thread::spawn(move || handle(conn, s, h));
            }
        });
        Fake { dir, seen }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("d.sock").display())
    }

    fn cmd(&self, bin: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.arg("-H")
            .arg(self.host())
            .arg("--config")
            .arg(self.dir.path().join("cfg"))
            .args(args)
            .env_remove("DOCKER_API_VERSION")
            .env_remove("BERTH_API_VERSION")
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(Stdio::null());
        c
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.cmd(BERTH, args).output().unwrap()
    }

    fn berth_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd(BERTH, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The requests seen since the last call (pings left out).
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
            .into_iter()
            .filter(|s| s.path != "/_ping")
            .collect()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn container_json(tty: bool) -> Value {
    json!({"Id": CID, "Name": "/web",
        "Config": {"Tty": tty, "OpenStdin": true},
        "State": {"Running": true, "Paused": false, "Restarting": false},
        "HostConfig": {"AutoRemove": false},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                                      "443/tcp": [{"HostIp": "::", "HostPort": "8443"}]}}})
}

fn stream_out(tty: bool) -> Vec<u8> {
    if tty {
        return b"tty output\r\n".to_vec();
    }
    let mut v = frame(1, b"to stdout\n");
    v.extend(frame(2, b"to stderr\n"));
    v
}

/// A daemon with one container `web` (and its ID), no images until pulled.
fn daemon(tty: bool, exit: i64) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    let pulled = Arc::new(Mutex::new(false));
    move |s: &Seen| {
        let p = s.path.split('?').next().unwrap_or("");
        let known = |name: &str| name == "web" || name == CID;
        let seg: Vec<&str> = p.trim_start_matches('/').split('/').collect();
        match (s.method.as_str(), seg.as_slice()) {
            ("POST", ["containers", "create"]) => {
                let body = s.json();
                if body["Image"] == "missing" && !*pulled.lock().unwrap() {
                    return Reply::Json(404, json!({"message": "No such image: missing:latest"}));
                }
                Reply::Json(201, json!({"Id": CID, "Warnings": []}))
            }
            ("POST", ["images", "create"]) => {
                *pulled.lock().unwrap() = true;
                Reply::Raw(
                    200,
                    vec![],
                    "application/json",
                    b"{\"status\":\"Pulling from library/missing\",\"id\":\"latest\"}\n{\"status\":\"Status: Downloaded newer image for missing:latest\"}\n".to_vec(),
                )
            }
            ("GET", ["containers", name, "json"]) if known(name) => Reply::Json(200, container_json(tty)),
            ("GET", ["containers", name, "json"]) => {
                Reply::Json(404, json!({"message": format!("No such container: {name}")}))
            }
            ("POST", ["containers", _, "attach"]) => Reply::Upgrade {
                out: stream_out(tty),
                echo: s.path.contains("stdin=1"),
            },
            ("POST", ["exec", _, "start"]) if s.json()["Detach"] == false => Reply::Upgrade {
                out: stream_out(tty),
                echo: false,
            },
            ("POST", ["containers", _, "wait"]) => Reply::Json(200, json!({"StatusCode": exit})),
            ("POST", ["containers", name, "start" | "stop" | "restart" | "kill" | "pause" | "unpause" | "rename" | "resize"]) => {
                if known(name) {
                    Reply::Empty(204)
                } else {
                    Reply::Json(404, json!({"message": format!("No such container: {name}")}))
                }
            }
            ("DELETE", ["containers", name]) => {
                if known(name) {
                    Reply::Empty(204)
                } else {
                    Reply::Json(404, json!({"message": format!("No such container: {name}")}))
                }
            }
            ("POST", ["containers", _, "exec"]) => Reply::Json(201, json!({"Id": "e1"})),
            ("POST", ["exec", _, "start"]) => Reply::Empty(200),
            ("GET", ["exec", _, "json"]) => Reply::Json(200, json!({"ExitCode": exit, "Running": false})),
            ("GET", ["containers", "json"]) => Reply::Json(
                200,
                json!([{"Id": CID, "Names": ["/web"], "Image": "docker.io/library/busybox:1.36", "ImageID": "sha256:ffff",
                        "Command": "sh -c 'while true; do sleep 1; done'", "Created": now() - 3 * 3600,
                        "State": "running", "Status": "Up 3 hours",
                        "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                                  {"PrivatePort": 9000, "Type": "tcp"}, {"PrivatePort": 9001, "Type": "tcp"}],
                        "Labels": {"a": "1"}, "SizeRw": 12, "SizeRootFs": 4_260_000, "Mounts": []},
                       {"Id": "fedcba9876543210", "Names": ["/db"], "Image": "sha256:aaaabbbbccccdddd", "ImageID": "sha256:aaaabbbbccccdddd",
                        "Command": "true", "Created": now() - 90, "State": "exited", "Status": "Exited (0) 1 minute ago",
                        "Ports": [], "Labels": {}, "Mounts": []}]),
            ),
            ("GET", ["containers", _, "logs"]) => {
                let body = if tty {
                    b"raw tty log\n".to_vec()
                } else {
                    let mut v = frame(1, b"log out\n");
                    v.extend(frame(2, b"log err\n"));
                    v
                };
                Reply::Raw(200, vec![], "application/vnd.docker.multiplexed-stream", body)
            }
            ("GET", ["containers", _, "top"]) => Reply::Json(
                200,
                json!({"Titles": ["UID", "PID", "CMD"], "Processes": [["root", "1", "sleep 100"]]}),
            ),
            ("GET", ["containers", _, "stats"]) => Reply::Raw(
                200,
                vec![],
                "application/json",
                json!({"name": "/web", "id": CID,
                    "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
                    "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000u64}, "system_cpu_usage": 18_000_000_000u64},
                    "memory_stats": {"usage": 10_485_760u64, "limit": 2_147_483_648u64, "stats": {"inactive_file": 2_097_152u64}},
                    "networks": {"eth0": {"rx_bytes": 2000, "tx_bytes": 700}},
                    "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 1_000_000}]},
                    "pids_stats": {"current": 3}})
                .to_string()
                .into_bytes(),
            ),
            ("GET", ["images", "busy", "json"]) => Reply::Json(200, json!({"Id": "sha256:1", "RepoTags": ["busy:latest"]})),
            _ => Reply::Json(404, json!({"message": "page not found"})),
        }
    }
}

/// What docker 28.2 sends for the same flags (captured from `docker create` against a recorder),
/// the create body for a representative flag set.
const FLAGS: &[&str] = &[
    "create",
    "--name",
    "web",
    "-i",
    "-t",
    "-e",
    "A=1",
    "-w",
    "/w",
    "-u",
    "1:2",
    "--entrypoint",
    "/bin/sh",
    "--hostname",
    "h",
    "-l",
    "a=b",
    "--init",
    "--restart",
    "on-failure:3",
    "--stop-signal",
    "SIGINT",
    "--stop-timeout",
    "5",
    "--read-only",
    "--tmpfs",
    "/t:size=1m",
    "--cap-add",
    "NET_ADMIN",
    "--cap-drop",
    "ALL",
    "--device",
    "/dev/fuse",
    "--device",
    "/dev/null:/dev/n:r",
    "--ulimit",
    "nofile=10:20",
    "--ulimit",
    "nproc=5",
    "--sysctl",
    "net.ipv4.ip_forward=1",
    "--shm-size",
    "64m",
    "-v",
    "/a:/b:ro",
    "-v",
    "myvol:/data",
    "-v",
    "/anon",
    "--mount",
    "type=bind,src=/x,dst=/y,readonly",
    "--mount",
    "type=tmpfs,dst=/tm,tmpfs-size=1g",
    "--cpus",
    "1.5",
    "-c",
    "512",
    "-m",
    "100m",
    "--memory-swap",
    "200m",
    "--pids-limit",
    "100",
    "--blkio-weight",
    "300",
    "--device-read-bps",
    "/dev/sda:1mb",
    "--health-cmd",
    "true",
    "--health-interval",
    "1m30s",
    "--health-timeout",
    "5s",
    "--health-retries",
    "3",
    "-p",
    "8080:80",
    "-p",
    "127.0.0.1:53:53/udp",
    "--expose",
    "7000-7001",
    "--dns",
    "8.8.8.8",
    "busybox",
    "echo",
    "hi",
];

#[test]
fn create_body_is_dockers() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(FLAGS);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{CID}\n"));
    let reqs = f.take();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].line(), "POST /containers/create?name=web");
    let b = reqs[0].json();
    let h = &b["HostConfig"];
    assert_eq!(h["Memory"], 104_857_600);
    assert_eq!(h["MemorySwap"], 209_715_200);
    assert_eq!(h["NanoCpus"], 1_500_000_000);
    assert_eq!(h["CpuShares"], 512);
    assert_eq!(h["PidsLimit"], 100);
    assert_eq!(h["ShmSize"], 67_108_864);
    assert_eq!(b["Env"], json!(["A=1"]));
    assert_eq!(h["Binds"], json!(["/a:/b:ro", "myvol:/data"]));
    assert_eq!(b["Volumes"], json!({"/anon": {}}));
    assert_eq!(
        h["Mounts"],
        json!([{"Type": "bind", "Source": "/x", "Target": "/y", "ReadOnly": true},
               {"Type": "tmpfs", "Target": "/tm", "TmpfsOptions": {"SizeBytes": 1_073_741_824}}])
    );
    assert_eq!(
        h["RestartPolicy"],
        json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    assert_eq!(
        b["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000i64, "Timeout": 5_000_000_000i64, "Retries": 3})
    );
    assert_eq!(
        h["Ulimits"],
        json!([{"Name": "nofile", "Hard": 20, "Soft": 10}, {"Name": "nproc", "Hard": 5, "Soft": 5}])
    );
    assert_eq!(
        h["Devices"],
        json!([{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
               {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "r"}])
    );
    assert_eq!(h["CapAdd"], json!(["CAP_NET_ADMIN"]));
    assert_eq!(h["CapDrop"], json!(["ALL"]));
    assert_eq!(
        h["BlkioDeviceReadBps"],
        json!([{"Path": "/dev/sda", "Rate": 1_048_576}])
    );
    assert_eq!(
        h["PortBindings"],
        json!({"53/udp": [{"HostIp": "127.0.0.1", "HostPort": "53"}], "80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    );
    assert_eq!(
        b["ExposedPorts"],
        json!({"53/udp": {}, "7000/tcp": {}, "7001/tcp": {}, "80/tcp": {}})
    );
    assert_eq!(b["Entrypoint"], json!(["/bin/sh"]));
    assert_eq!(b["Cmd"], json!(["echo", "hi"]));
    assert_eq!(
        (b["Tty"].clone(), b["OpenStdin"].clone(), b["StdinOnce"].clone()),
        (json!(true), json!(true), json!(true))
    );
    assert_eq!(b["StopTimeout"], 5);
    assert_eq!(h["Init"], true);
    assert_eq!(h["Tmpfs"], json!({"/t": "size=1m"}));
    assert_eq!(h["Sysctls"], json!({"net.ipv4.ip_forward": "1"}));

    // The docker CLI, when present, sends the very same body.
    if Path::new(DOCKER).exists() {
        let o = f.cmd(DOCKER, FLAGS).output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let d = f.take();
        assert_eq!(d[0].line(), "POST /containers/create?name=web");
        assert_eq!(d[0].json(), b);
    }
}

#[test]
fn run_attaches_waits_starts_and_exits_with_the_status() {
    let f = Fake::start(daemon(false, 7));
    let o = f.berth(&["run", "--rm", "busybox", "sh", "-c", "echo"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "to stdout\n");
    assert_eq!(text(&o.stderr), "to stderr\n");
    let lines: Vec<String> = f.take().iter().map(Seen::line).collect();
    assert_eq!(
        lines,
        [
            "POST /containers/create".to_string(),
            format!("POST /containers/{CID}/attach?stderr=1&stdout=1&stream=1"),
            format!("POST /containers/{CID}/wait?condition=removed"),
            format!("POST /containers/{CID}/start"),
        ]
    );
    // Without --rm the wait is for the next exit.
    let o = f.berth(&["run", "busybox"]);
    assert_eq!(o.status.code(), Some(7));
    let reqs = f.take();
    assert_eq!(
        reqs[2].line(),
        format!("POST /containers/{CID}/wait?condition=next-exit")
    );
    assert_eq!(reqs[1].header("Upgrade"), Some("tcp"));
    assert_eq!(reqs[1].header("Connection"), Some("Upgrade"));
}

#[test]
fn run_forwards_stdin_and_detached_run_prints_the_id() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth_with_stdin(&["run", "-i", "busybox", "cat"], b"hello from stdin\n");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "hello from stdin\nto stdout\n");
    let reqs = f.take();
    assert_eq!(reqs[0].json()["AttachStdin"], true);
    assert_eq!(reqs[0].json()["StdinOnce"], true);
    assert!(reqs[1].path.contains("stdin=1"), "{}", reqs[1].path);

    let o = f.berth(&["run", "-d", "busybox"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), format!("{CID}\n"));
    let reqs = f.take();
    let b = reqs[0].json();
    assert_eq!(
        (b["AttachStdout"].clone(), b["AttachStderr"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(
        reqs.last().unwrap().line(),
        format!("POST /containers/{CID}/start")
    );
}

#[test]
fn run_pulls_a_missing_image() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["run", "-d", "missing"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("Unable to find image 'missing:latest' locally\n"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("Status: Downloaded newer image for missing:latest"));
    let lines: Vec<String> = f.take().iter().map(Seen::line).collect();
    assert_eq!(lines[0], "POST /containers/create");
    assert_eq!(
        lines[1],
        "POST /images/create?fromImage=docker.io%2Flibrary%2Fmissing&tag=latest"
    );
    assert_eq!(lines[2], "POST /containers/create");
}

#[test]
fn daemon_errors_in_run_exit_125_and_bad_flags_are_worded_like_docker() {
    let f = Fake::start(|s: &Seen| {
        if s.path.starts_with("/containers/create") {
            Reply::Json(201, json!({"Id": CID}))
        } else if s.path.ends_with("/start") {
            Reply::Json(
                400,
                json!({"message": "failed to create task: exec: \"nope\": executable file not found in $PATH"}),
            )
        } else if s.path.contains("/wait") {
            Reply::Json(200, json!({"StatusCode": 127}))
        } else {
            Reply::Upgrade {
                out: vec![],
                echo: false,
            }
        }
    });
    let o = f.berth(&["run", "busybox", "nope"]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        text(&o.stderr),
        "berth: Error response from daemon: failed to create task: exec: \"nope\": executable file not found in $PATH\n\nRun 'berth run --help' for more information\n"
    );
    let o = f.berth(&["run", "--memory", "abc", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n"
    );
    let o = f.berth(&["container", "run", "--health-interval", "3", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).starts_with(
        "invalid argument \"3\" for \"--health-interval\" flag: time: missing unit in duration \"3\"\n\nUsage:  berth container run"
    ));
    let o = f.berth(&["run", "--rm", "--restart", "always", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        text(&o.stderr),
        "berth: conflicting options: cannot specify both --restart and --rm\n\nRun 'berth run --help' for more information\n"
    );
    let o = f.berth(&["create", "--ulimit", "nofile=20:10", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).starts_with("invalid argument \"nofile=20:10\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: 20 > 10\n"));
    let o = f.berth(&["run", "--bogus", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).starts_with("unknown flag: --bogus\n"));
    let o = f.berth(&["run", "-t", "-i", "busybox"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "the input device is not a TTY\n");
    let o = f.berth(&["exec", "web"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("berth: 'berth exec' requires at least 2 arguments\n"));
}

#[test]
fn ps_renders_dockers_table() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["ps", "-a"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "CONTAINER ID   IMAGE          COMMAND                  CREATED              STATUS                    PORTS                                 NAMES",
            "0123456789ab   busybox:1.36   \"sh -c 'while true; …\"   3 hours ago          Up 3 hours                9000-9001/tcp, 0.0.0.0:8080->80/tcp   web",
            "fedcba987654   aaaabbbbcccc   \"true\"                   About a minute ago   Exited (0) 1 minute ago                                         db",
        ]
    );
    let reqs = f.take();
    assert_eq!(reqs[0].line(), "GET /containers/json?all=1");
    let o = f.berth(&[
        "ps",
        "--format",
        "{{.Names}}|{{.Command}}|{{.Size}}",
        "--no-trunc",
    ]);
    assert_eq!(
        text(&o.stdout),
        "web|\"sh -c 'while true; do sleep 1; done'\"|12B (virtual 4.26MB)\ndb|\"true\"|0B\n"
    );
    assert_eq!(f.take()[0].line(), "GET /containers/json?size=1");
    let o = f.berth(&["container", "ls", "-q", "-n", "1"]);
    assert_eq!(text(&o.stdout), "0123456789ab\nfedcba987654\n");
    assert_eq!(f.take()[0].line(), "GET /containers/json?limit=1");
    if Path::new(DOCKER).exists() {
        for args in [
            &["ps", "-a"][..],
            &["ps", "--format", "{{json .}}"],
            &["ps", "-s"],
        ] {
            let d = f.cmd(DOCKER, args).output().unwrap();
            let b = f.berth(args);
            assert_eq!(text(&b.stdout), text(&d.stdout), "{args:?}");
        }
    }
}

#[test]
fn logs_are_demultiplexed_unless_tty() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["logs", "-t", "--tail", "5", "web"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "log out\n");
    assert_eq!(text(&o.stderr), "log err\n");
    let lines: Vec<String> = f.take().iter().map(Seen::line).collect();
    assert_eq!(
        lines,
        [
            "GET /containers/web/json".to_string(),
            format!("GET /containers/{CID}/logs?stderr=1&stdout=1&tail=5&timestamps=1"),
        ]
    );
    let f = Fake::start(daemon(true, 0));
    let o = f.berth(&["container", "logs", "web"]);
    assert_eq!(text(&o.stdout), "raw tty log\n");
    assert_eq!(text(&o.stderr), "");
    let o = f.berth(&["logs", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such container: nope\n"
    );
}

#[test]
fn exec_propagates_the_exit_code() {
    let f = Fake::start(daemon(false, 3));
    let o = f.berth(&[
        "exec", "-e", "X=1", "-u", "u", "-w", "/w", "web", "sh", "-c", "exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "to stdout\n");
    assert_eq!(text(&o.stderr), "to stderr\n");
    let reqs = f.take();
    let lines: Vec<String> = reqs.iter().map(Seen::line).collect();
    assert_eq!(
        lines,
        [
            "GET /containers/web/json",
            "POST /containers/web/exec",
            "POST /exec/e1/start",
            "GET /exec/e1/json"
        ]
    );
    assert_eq!(
        reqs[1].json(),
        json!({"User": "u", "Privileged": false, "Tty": false, "AttachStdin": false, "AttachStderr": true,
               "AttachStdout": true, "Detach": false, "DetachKeys": "", "Env": ["X=1"], "WorkingDir": "/w",
               "Cmd": ["sh", "-c", "exit 3"]})
    );
    assert_eq!(reqs[2].json(), json!({"Detach": false, "Tty": false}));
    assert_eq!(reqs[2].header("Upgrade"), Some("tcp"));
}

#[test]
fn lifecycle_verbs_print_names_and_join_errors() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["stop", "-t", "3", "-s", "INT", "web", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "web\n");
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such container: nope\n"
    );
    assert_eq!(f.take()[0].line(), "POST /containers/web/stop?signal=INT&t=3");
    let o = f.berth(&["rm", "-f", "-v", "nope", "web"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "web\n");
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such container: nope\n"
    );
    assert_eq!(f.take()[1].line(), "DELETE /containers/web?force=1&v=1");
    let o = f.berth(&["kill", "-s", "HUP", "web"]);
    assert!(o.status.success());
    assert_eq!(f.take()[0].line(), "POST /containers/web/kill?signal=HUP");
    let o = f.berth(&["wait", "web"]);
    assert_eq!(text(&o.stdout), "0\n");
    let o = f.berth(&["top", "web", "aux"]);
    assert_eq!(
        text(&o.stdout),
        "UID                 PID                 CMD\nroot                1                   sleep 100\n"
    );
    let o = f.berth(&["port", "web"]);
    assert_eq!(text(&o.stdout), "80/tcp -> 0.0.0.0:8080\n443/tcp -> [::]:8443\n");
    let o = f.berth(&["port", "web", "80"]);
    assert_eq!(text(&o.stdout), "0.0.0.0:8080\n");
    let o = f.berth(&["port", "web", "81/udp"]);
    assert_eq!(
        text(&o.stderr),
        "Error: No public port '81/udp' published for web\n"
    );
    let o = f.berth(&["update", "web"]);
    assert_eq!(
        text(&o.stderr),
        "you must provide one or more flags when using this command\n"
    );
}

#[test]
fn inspect_tries_containers_then_images() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["inspect", "--format", "{{.Id}} {{.Config.Tty}}", "web"]);
    assert_eq!(text(&o.stdout), format!("{CID} false\n"));
    let o = f.berth(&["inspect", "-f", "{{.Id}}", "busy"]);
    assert_eq!(text(&o.stdout), "sha256:1\n");
    let lines: Vec<String> = f.take().iter().map(Seen::line).collect();
    assert_eq!(lines[1..], ["GET /containers/busy/json", "GET /images/busy/json"]);
    let o = f.berth(&["inspect", "--type", "container", "busy"]);
    assert_eq!(text(&o.stdout), "[]\n");
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: No such container: busy\n"
    );
    let o = f.berth(&["inspect", "--type", "bogus", "x"]);
    assert!(text(&o.stderr).starts_with("unknown type: \"bogus\": must be one of \"config\", \"container\""));
    let o = f.berth(&["container", "inspect", "web"]);
    assert!(
        text(&o.stdout).starts_with("[\n    {\n        \"Id\": \"0123"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn stats_once() {
    let f = Fake::start(daemon(false, 0));
    let o = f.berth(&["stats", "--no-stream", "web"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O   PIDS\n\
         0123456789ab   web       20.00%    8MiB / 2GiB         0.39%     2kB / 700B   1MB / 0B    3\n"
    );
    assert_eq!(f.take()[0].line(), "GET /containers/web/stats?stream=0");
}

fn tar_names(data: &[u8]) -> Vec<String> {
    tar::Archive::new(data)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn cp_both_directions() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("d/sub")).unwrap();
    std::fs::write(src.path().join("d/a"), b"A").unwrap();
    std::fs::write(src.path().join("d/sub/b"), b"B").unwrap();
    // The container has /etc (a directory) and nothing else.
    let stat_b64 = |v: Value| {
        let s = v.to_string();
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in s.as_bytes().chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for i in 0..4 {
                out.push(if i <= c.len() {
                    table[(n >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        out
    };
    let dir_stat = stat_b64(
        json!({"name": "etc", "size": 4096, "mode": 2147484141u64, "mtime": "2026-01-01T00:00:00Z", "linkTarget": ""}),
    );
    let file_stat = stat_b64(
        json!({"name": "hostname", "size": 3, "mode": 420, "mtime": "2026-01-01T00:00:00Z", "linkTarget": ""}),
    );
    let archive = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "hostname", &b"web"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let f = Fake::start(move |s: &Seen| {
        let path = s.path.split("path=").nth(1).unwrap_or("").to_string();
        match s.method.as_str() {
            "HEAD" if path.starts_with("%2Fetc%2Fhostname") => Reply::Raw(
                200,
                vec![("X-Docker-Container-Path-Stat".into(), file_stat.clone())],
                "application/json",
                vec![],
            ),
            "HEAD" if path.starts_with("%2Fetc") => Reply::Raw(
                200,
                vec![("X-Docker-Container-Path-Stat".into(), dir_stat.clone())],
                "application/json",
                vec![],
            ),
            "HEAD" => Reply::Json(404, json!({"message": "Could not find the file"})),
            "PUT" => Reply::Empty(200),
            "GET" => Reply::Raw(
                200,
                vec![("X-Docker-Container-Path-Stat".into(), file_stat.clone())],
                "application/x-tar",
                archive.clone(),
            ),
            _ => Reply::Json(404, json!({"message": "page not found"})),
        }
    });
    let d = src.path().join("d");
    // Into an existing directory: the directory itself goes in.
    let o = f.berth(&["cp", d.to_str().unwrap(), "web:/etc"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let put = f.take().into_iter().find(|s| s.method == "PUT").unwrap();
    assert_eq!(
        put.path,
        "/containers/web/archive?noOverwriteDirNonDir=true&path=%2Fetc"
    );
    assert_eq!(tar_names(&put.body), ["d", "d/a", "d/sub", "d/sub/b"]);
    // To a new name: extracted in the parent under that name.
    let o = f.berth(&["cp", "-a", d.to_str().unwrap(), "web:/new"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let put = f.take().into_iter().find(|s| s.method == "PUT").unwrap();
    assert_eq!(
        put.path,
        "/containers/web/archive?copyUIDGID=true&noOverwriteDirNonDir=true&path=%2F"
    );
    assert_eq!(tar_names(&put.body), ["new", "new/a", "new/sub", "new/sub/b"]);
    // A directory's contents (`/.`) into an existing directory.
    let contents = format!("{}/.", d.display());
    let o = f.berth(&["cp", &contents, "web:/etc"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let put = f.take().into_iter().find(|s| s.method == "PUT").unwrap();
    assert_eq!(tar_names(&put.body), ["a", "sub", "sub/b"]);
    // A file cannot become a directory that does not exist.
    let o = f.berth(&["cp", src.path().join("d/a").to_str().unwrap(), "web:/nope/"]);
    assert_eq!(text(&o.stderr), "no such directory\n");

    // From the container: a file into a local directory, and under a new name.
    let out = tempfile::tempdir().unwrap();
    let o = f.berth(&["cp", "web:/etc/hostname", out.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(out.path().join("hostname")).unwrap(), b"web");
    let get = f.take().into_iter().find(|s| s.method == "GET").unwrap();
    assert_eq!(get.path, "/containers/web/archive?path=%2Fetc%2Fhostname");
    let target: PathBuf = out.path().join("renamed");
    let o = f.berth(&["cp", "web:/etc/hostname", target.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), b"web");
    let o = f.berth(&["cp", "web:/etc/hostname", "-"]);
    assert_eq!(tar_names(&o.stdout), ["hostname"]);
    let o = f.berth(&["cp", "a", "b"]);
    assert_eq!(text(&o.stderr), "must specify at least one container source\n");
}

#[test]
fn volumes() {
    let f = Fake::start(|s: &Seen| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/volumes/create") => Reply::Json(201, json!({"Name": "v1", "Driver": "local"})),
        ("GET", "/volumes") => Reply::Json(
            200,
            json!({"Volumes": [{"Name": "v10", "Driver": "local"}, {"Name": "v2", "Driver": "local"}], "Warnings": null}),
        ),
        ("DELETE", p) if p.starts_with("/volumes/v1") => Reply::Empty(204),
        _ => Reply::Json(404, json!({"message": "get nope: no such volume"})),
    });
    let o = f.berth(&["volume", "create", "--label", "a=b", "-o", "type=tmpfs", "v1"]);
    assert_eq!(text(&o.stdout), "v1\n");
    assert_eq!(
        f.take()[0].json(),
        json!({"Driver": "local", "DriverOpts": {"type": "tmpfs"}, "Labels": {"a": "b"}, "Name": "v1"})
    );
    let o = f.berth(&["volume", "ls"]);
    assert_eq!(
        text(&o.stdout),
        "DRIVER    VOLUME NAME\nlocal     v2\nlocal     v10\n"
    );
    let o = f.berth(&["volume", "rm", "-f", "v1", "nope"]);
    assert_eq!(text(&o.stdout), "v1\n");
    assert_eq!(
        text(&o.stderr),
        "Error response from daemon: get nope: no such volume\n"
    );
    assert_eq!(o.status.code(), Some(1));
}
