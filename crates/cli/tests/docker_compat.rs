//! berth and the docker CLI side by side on one real dockerd: the same commands must print the same
//! thing (but for the client's own version lines). Root only; skipped without dockerd or docker.
//!
//! The dockerd has its own socket, pidfile, data root and exec root in a temporary directory, no
//! bridge and no iptables, so it touches nothing else on the machine. The same comparisons then run
//! against berthd (built next to `berth`): the docker CLI and berth must agree there too.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const DOCKERD: &str = "/usr/sbin/dockerd";
const DOCKER: &str = "/usr/local/bin/docker";

/// A private dockerd, stopped (by its pid) and cleaned up on drop, panics included.
struct Dockerd {
    dir: PathBuf,
    child: Child,
}

impl Dockerd {
    fn start() -> Dockerd {
        // Short path: unix socket paths are limited to 108 bytes.
        let dir = PathBuf::from(format!("/tmp/bcd-{}", berth_testkit::unique_name("")));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new(DOCKERD)
            .arg("-H")
            .arg(format!("unix://{}", dir.join("d.sock").display()))
            .arg("--pidfile")
            .arg(dir.join("d.pid"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .args([
                "--storage-driver",
                "overlay2",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Dockerd { dir, child };
        d.wait_ready();
        d
    }

    /// berthd (the binary next to `berth`) with its own socket, data root and exec root.
    fn start_berthd() -> Option<Dockerd> {
        let bin = Path::new(BERTH).with_file_name("berthd");
        if !bin.exists() {
            eprintln!("skipped: {} is not built", bin.display());
            return None;
        }
        let dir = PathBuf::from(format!("/tmp/bcb-{}", berth_testkit::unique_name("")));
        std::fs::create_dir_all(&dir).unwrap();
        // Its own cgroup parent (the directory's name), removed on drop.
        let parent = dir.file_name().unwrap().to_string_lossy().to_string();
        std::fs::write(
            dir.join("daemon.json"),
            format!("{{\"cgroup-parent\": \"{parent}\"}}"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new(bin)
            .arg("-H")
            .arg(format!("unix://{}", dir.join("d.sock").display()))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Dockerd { dir, child };
        d.wait_ready();
        Some(d)
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("d.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut s) = UnixStream::connect(self.socket()) {
                let _ = s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n");
                let mut r = String::new();
                let _ = s.read_to_string(&mut r);
                if r.starts_with("HTTP/1.") && r.ends_with("OK") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        panic!("dockerd did not answer within 30s; its log:\n{log}");
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.run(BERTH, args, None)
    }

    fn docker(&self, args: &[&str]) -> Output {
        self.run(DOCKER, args, None)
    }

    fn run(&self, bin: &str, args: &[&str], stdin: Option<&Path>) -> Output {
        let mut c = Command::new(bin);
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env_remove("BERTH_HOST")
            .env("DOCKER_CONFIG", self.dir.join("cfg"))
            .env_remove("DOCKER_API_VERSION")
            .env("TZ", "UTC");
        if let Some(p) = stdin {
            c.stdin(std::fs::File::open(p).unwrap());
        } else {
            c.stdin(Stdio::null());
        }
        c.output().unwrap()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signals the dockerd this fixture started, by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                _ if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        // Overlay mounts may linger under the data root after a hard stop.
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.join("data"))
            .stderr(Stdio::null())
            .status();
        // The cgroup parent of a berthd fixture, under every hierarchy (rmdir of what is empty).
        if let Some(name) = self.dir.file_name().map(|n| n.to_string_lossy().to_string()) {
            for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                if let Ok(rd) = std::fs::read_dir(base) {
                    for e in rd.flatten() {
                        let p = e.path().join(&name);
                        if let Ok(kids) = std::fs::read_dir(&p) {
                            for k in kids.flatten().filter(|k| k.path().is_dir()) {
                                let _ = std::fs::remove_dir(k.path());
                            }
                        }
                        let _ = std::fs::remove_dir(p);
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// stdout, stderr (docker → berth) and exit code.
fn outcome(o: &Output) -> (String, String, Option<i32>) {
    (
        text(&o.stdout),
        text(&o.stderr)
            .replace("docker", "berth")
            .replace("Docker", "berth"),
        o.status.code(),
    )
}

/// The lines sorted: docker orders the repositories of one image by a Go map, and images created
/// in the same second come in any order.
fn lines_unordered(s: &str) -> Vec<String> {
    let mut l: Vec<String> = s.lines().map(str::to_string).collect();
    l.sort();
    l
}

/// Runs the command with both CLIs and compares; times such as "3 seconds ago" can tick between
/// the two runs, so berth runs before and after docker and one of them must match.
fn same(d: &Dockerd, args: &[&str], unordered: bool) {
    let b1 = outcome(&d.berth(args));
    let k = outcome(&d.docker(args));
    let b2 = outcome(&d.berth(args));
    let norm = |o: &(String, String, Option<i32>)| {
        if unordered {
            (format!("{:?}", lines_unordered(&o.0)), o.1.clone(), o.2)
        } else {
            o.clone()
        }
    };
    let (n1, nk, n2) = (norm(&b1), norm(&k), norm(&b2));
    assert!(
        n1 == nk || n2 == nk,
        "`{}` differs\n--- berth ---\n{}{}(exit {:?})\n--- docker ---\n{}{}(exit {:?})",
        args.join(" "),
        b2.0,
        b2.1,
        b2.2,
        k.0,
        k.1,
        k.2
    );
}

/// The text from the line `Server:` on.
fn server_part(s: &str) -> String {
    s.find("Server:").map(|i| s[i..].to_string()).unwrap_or_default()
}

#[test]
fn berth_matches_the_docker_cli_on_dockerd() {
    berth_testkit::require_root!();
    for bin in [DOCKERD, DOCKER] {
        if !Path::new(bin).exists() {
            eprintln!("skipped: {bin} is missing");
            return;
        }
    }
    compare(|| Some(Dockerd::start()));
}

#[test]
fn berth_matches_the_docker_cli_on_berthd() {
    berth_testkit::require_root!();
    if !Path::new(DOCKER).exists() {
        eprintln!("skipped: {DOCKER} is missing");
        return;
    }
    compare(Dockerd::start_berthd);
}

/// The comparisons, on the daemon `start` gives.
fn compare(start: impl FnOnce() -> Option<Dockerd>) {
    let rootfs = match berth_testkit::busybox_rootfs() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipped: no busybox rootfs: {e}");
            return;
        }
    };
    let Some(d) = start() else { return };
    let tar = d.dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());

    // import through berth, from a file and from stdin.
    let o = d.berth(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        "-c",
        "ENV A=b",
        "-m",
        "imported",
        tar.to_str().unwrap(),
        "busybox:latest",
    ]);
    assert!(o.status.success(), "import: {}", text(&o.stderr));
    let id = text(&o.stdout).trim().to_string();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import printed {id:?}"
    );
    let o = d.run(BERTH, &["import", "-", "fromstdin:1"], Some(&tar));
    assert!(o.status.success(), "import -: {}", text(&o.stderr));
    let inspect = d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{.Comment}}",
        "busybox",
    ]);
    assert_eq!(text(&inspect.stdout), "[\"/bin/sh\"] [\"A=b\"] imported\n");

    // tag through berth, seen by docker.
    for t in ["busybox:b", "localhost:5000/x/y:3", "zz:1"] {
        let o = d.berth(&["tag", "busybox:latest", t]);
        assert!(o.status.success(), "tag {t}: {}", text(&o.stderr));
    }
    let o = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "busybox:b",
            "busybox:latest",
            "fromstdin:1",
            "localhost:5000/x/y:3",
            "zz:1"
        ]
    );

    // images
    same(&d, &["images"], true);
    same(&d, &["image", "ls"], true);
    same(&d, &["images", "-q"], false);
    same(&d, &["images", "--no-trunc"], true);
    same(&d, &["images", "--digests"], true);
    same(&d, &["images", "-a"], true);
    same(&d, &["images", "busybox"], false);
    same(&d, &["images", "--filter", "reference=busy*"], false);
    same(&d, &["images", "--filter", "dangling=true"], false);
    same(
        &d,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.VirtualSize}} {{.CreatedAt}}",
        ],
        true,
    );
    same(
        &d,
        &["images", "--format", "table {{.Repository}}\t{{.ID}}\t{{.Size}}"],
        true,
    );
    same(&d, &["images", "--format", "json"], true);
    same(&d, &["images", "--bogus"], false);
    // Not compared: `images a b`, where docker 28.2.2 prints "SRun" (a typo in its RequiresMaxArgs).

    containers(&d);

    // inspect
    same(&d, &["image", "inspect", "busybox"], false);
    same(&d, &["image", "inspect", "busybox", "fromstdin:1"], false);
    same(
        &d,
        &["image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"],
        false,
    );
    same(&d, &["image", "inspect", "nope"], false);
    same(&d, &["inspect", "busybox"], false);
    same(&d, &["inspect", "nope"], false);
    same(&d, &["inspect", "--type", "image", "busybox"], false);

    // history
    same(&d, &["history", "busybox"], false);
    same(&d, &["history", "--no-trunc", "busybox"], false);
    same(&d, &["history", "-q", "busybox"], false);
    same(&d, &["history", "-H=false", "busybox"], false);
    same(&d, &["history", "--format", "json", "busybox"], false);
    same(&d, &["history", "nope"], false);

    // rmi: one tag each, plus a missing image (both exit 1 after removing what they can).
    for t in ["rm:b", "rm:d"] {
        assert!(d.docker(&["tag", "busybox", t]).status.success());
    }
    let b = outcome(&d.berth(&["rmi", "rm:b", "nope"]));
    let k = outcome(&d.docker(&["rmi", "rm:d", "nope"]));
    assert_eq!(
        (b.0.replace("rm:b", "rm:X"), b.1, b.2),
        (k.0.replace("rm:d", "rm:X"), k.1, k.2)
    );
    let b = outcome(&d.berth(&["rmi", "fromstdin:1"]));
    assert!(
        b.0.starts_with("Untagged: fromstdin:1\nDeleted: sha256:"),
        "{b:?}"
    );

    // save / load
    let bt = d.dir.join("b.tar");
    let kt = d.dir.join("k.tar");
    let o = d.berth(&["save", "-o", bt.to_str().unwrap(), "busybox:latest", "zz:1"]);
    assert!(o.status.success(), "save: {}", text(&o.stderr));
    assert!(d
        .docker(&["save", "-o", kt.to_str().unwrap(), "busybox:latest", "zz:1"])
        .status
        .success());
    let list = |p: &Path| {
        let o = Command::new("tar").arg("-tf").arg(p).output().unwrap();
        let mut l: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(list(&bt), list(&kt));
    let o = d.berth(&["save", "busybox:latest"]);
    assert!(o.status.success());
    assert!(o.stdout.len() > 1_000_000);
    assert!(d.berth(&["rmi", "zz:1"]).status.success());
    let b = outcome(&d.berth(&["load", "-i", bt.to_str().unwrap()]));
    let k = outcome(&d.docker(&["load", "-i", kt.to_str().unwrap()]));
    assert_eq!(b, k);
    assert_eq!(b.0, "Loaded image: busybox:latest\nLoaded image: zz:1\n");
    let b = outcome(&d.run(BERTH, &["load"], Some(&bt)));
    assert_eq!(b.0, "Loaded image: busybox:latest\nLoaded image: zz:1\n");
    same(&d, &["save", "nope"], false);

    // version (server part), info, system df
    let b = d.berth(&["version"]);
    let k = d.docker(&["version"]);
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert_eq!(server_part(&text(&b.stdout)), server_part(&text(&k.stdout)));
    assert!(!server_part(&text(&b.stdout)).is_empty());
    same(
        &d,
        &["version", "-f", "{{.Server.Version}} {{.Server.APIVersion}}"],
        false,
    );
    let b = d.berth(&["info"]);
    let k = d.docker(&["info"]);
    assert!(b.status.success(), "{}", text(&b.stderr));
    // docker lists the runtimes in a Go map's order; berth sorts them.
    let runtimes_sorted = |s: String| {
        s.lines()
            .map(|l| match l.strip_prefix(" Runtimes: ") {
                Some(r) => {
                    let mut w: Vec<&str> = r.split(' ').collect();
                    w.sort();
                    format!(" Runtimes: {}\n", w.join(" "))
                }
                None => format!("{l}\n"),
            })
            .collect::<String>()
    };
    assert_eq!(
        runtimes_sorted(server_part(&text(&b.stdout))),
        runtimes_sorted(server_part(&text(&k.stdout)))
    );
    same(
        &d,
        &["info", "-f", "{{.ServerVersion}} {{.Images}} {{.Driver}}"],
        false,
    );
    same(&d, &["system", "df"], false);
    same(&d, &["system", "df", "--format", "{{.Type}}: {{.Size}}"], false);

    // prune: nothing dangling here, so both reclaim nothing.
    same(&d, &["image", "prune", "-f"], false);
    same(&d, &["system", "prune", "-f"], false);

    // events since the start, up to now: the same lines.
    let o = d.berth(&["version", "-f", "{{.Server.Version}}"]);
    assert!(o.status.success());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    same(&d, &["events", "--since", "1h", "--until", &now], false);
    same(
        &d,
        &[
            "events",
            "--since",
            "1h",
            "--until",
            &now,
            "--filter",
            "event=tag",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ],
        false,
    );
}

/// The container commands, both CLIs on the same daemon: output, errors and exit codes.
fn containers(d: &Dockerd) {
    let run = ["run", "--rm", "--network", "none", "busybox"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        run.iter().copied().chain(extra.iter().copied()).collect()
    };
    same(d, &with(&["sh", "-c", "echo out; echo err >&2; exit 3"]), false);
    same(d, &with(&["true"]), false);
    // Without --rm: docker waits for the removal after a failed start, forever if it never comes.
    // Only the exit code and the final error are compared: docker also prints whatever the
    // daemon wrote on the attach stream before it gave up on it, which is a race.
    let args = ["run", "--network", "none", "busybox", "/nonexistent"];
    let b = outcome(&d.berth(&args));
    let k = outcome(&d.docker(&args));
    assert_eq!(b.2, k.2, "{b:?} {k:?}");
    assert_eq!(b.2, Some(127), "{b:?}");
    assert!(k.1.ends_with(&b.1), "{b:?} {k:?}");
    same(d, &["run", "--memory", "abc", "busybox"], false);
    same(d, &["run", "--rm", "--restart", "always", "busybox"], false);
    same(d, &["create", "--ulimit", "nofile=2:1", "busybox"], false);
    same(d, &["run", "-t", "-i", "busybox"], false);
    let o = d.berth(&[
        "run",
        "-d",
        "--name",
        "bc",
        "--network",
        "none",
        "-l",
        "k=v",
        "busybox",
        "sh",
        "-c",
        "echo hi; echo oops >&2; sleep 60",
    ]);
    assert!(o.status.success(), "run -d: {}", text(&o.stderr));
    let id = text(&o.stdout).trim().to_string();
    assert_eq!(id.len(), 64, "run -d printed {id:?}");
    std::thread::sleep(Duration::from_millis(500));
    same(d, &["logs", "bc"], false);
    same(d, &["logs", "--tail", "1", "bc"], false);
    same(d, &["exec", "bc", "sh", "-c", "echo in; exit 4"], false);
    same(
        d,
        &[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "bc",
            "sh",
            "-c",
            "echo $X $PWD",
        ],
        false,
    );
    same(
        d,
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.State.Running}} {{json .Config.Cmd}} {{.Config.Labels}}",
            "bc",
        ],
        false,
    );
    same(d, &["container", "inspect", "-f", "{{.Id}}", "bc"], false);
    same(
        d,
        &[
            "ps",
            "--format",
            "{{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Labels}}",
        ],
        false,
    );
    same(d, &["ps", "-q", "--no-trunc", "--filter", "name=bc"], false);
    same(d, &["port", "bc"], false);
    same(d, &["logs", "nope"], false);
    same(d, &["exec", "nope", "true"], false);
    same(d, &["stop", "nope"], false);
    same(d, &["rm", "nope"], false);
    same(d, &["wait", "nope"], false);
    same(d, &["kill", "nope"], false);
    let o = d.berth(&["stop", "-t", "1", "bc"]);
    assert_eq!(text(&o.stdout), "bc\n", "{}", text(&o.stderr));
    same(d, &["wait", "bc"], false);
    same(
        d,
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.State}}",
            "--filter",
            "name=bc",
        ],
        false,
    );
    let o = d.berth(&["rm", "bc"]);
    assert_eq!(text(&o.stdout), "bc\n", "{}", text(&o.stderr));
    same(d, &["ps", "-a", "-q", "--filter", "name=bc"], false);
}
