//! berthd's images against a real registry (Debian's docker-registry on 127.0.0.1), skopeo and the
//! docker CLI. Root only (the layer store keeps owners and device nodes).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_image::store::ContentStore;
use berth_testkit::registry::Registry;
use berth_testkit::require_root;
use serde_json::Value;
use support::{have, Berthd};

fn require_registry() -> bool {
    if !Registry::available() {
        eprintln!("skipped: docker-registry is not installed");
        return false;
    }
    true
}

/// Every blob referenced, no partial or orphan ingest, every layer directory recorded.
fn assert_consistent(d: &Berthd) {
    let store = ContentStore::open(&d.data).unwrap();
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "fsck: {report:?}");
    let layers: Vec<String> = std::fs::read_dir(d.data.join("layers/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for l in &layers {
        assert!(!l.contains(".tmp-"), "unpack leftover {l}");
    }
}

fn pull(d: &Berthd, image: &str) -> (u16, String) {
    let (code, body) = d.api("POST", &format!("/v1.47/images/create?fromImage={image}"), None);
    (code, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn push_then_pull_gives_identical_digests() {
    require_root!();
    if !require_registry() {
        return;
    }
    let reg = Registry::start();
    let d = Berthd::start();
    let id = d.bootstrap_busybox("busybox:latest");
    let name = format!("{}/berth/busybox:1", reg.addr());
    d.ok(
        "POST",
        &format!("/images/busybox/tag?repo={}/berth/busybox&tag=1", reg.addr()),
    );
    let pushed = d.ok("POST", &format!("/images/{name}/push"));
    assert!(pushed.contains("\"Digest\":\"sha256:"), "{pushed}");
    let digest = pushed
        .split("\"Digest\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    // A second push finds every blob there.
    let again = d.ok("POST", &format!("/images/{name}/push"));
    assert!(again.contains("Layer already exists"), "{again}");

    // Pull it back into another daemon: same image ID, same manifest digest.
    let d2 = Berthd::start();
    let (code, out) = pull(&d2, &name);
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    let img = d2.json(&format!("/images/{name}/json"));
    assert_eq!(img["Id"], id.as_str());
    let rd = img["RepoDigests"][0].as_str().unwrap();
    assert_eq!(rd, format!("{}/berth/busybox@{digest}", reg.addr()));
    // Again: nothing downloaded.
    let (_, out) = pull(&d2, &name);
    assert!(out.contains("Image is up to date"), "{out}");
    assert!(out.contains("Already exists"), "{out}");
    // By digest.
    let (code, out) = pull(&d2, &format!("{}/berth/busybox@{digest}", reg.addr()));
    assert_eq!(code, 200, "{out}");
    assert_consistent(&d2);

    // Unknown tag: dockerd's 404 and message, nothing stored.
    let (code, out) = pull(&d2, &format!("{}/berth/busybox:nope", reg.addr()));
    assert_eq!(code, 404, "{out}");
    assert!(
        out.contains(&format!(
            "manifest for {}/berth/busybox:nope not found",
            reg.addr()
        )),
        "{out}"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_leaves_nothing() {
    require_root!();
    if !require_registry() {
        return;
    }
    let reg = Registry::start();
    let d = Berthd::start();
    d.bootstrap_busybox("busybox:latest");
    let name = format!("{}/bad/busybox:1", reg.addr());
    d.ok(
        "POST",
        &format!("/images/busybox/tag?repo={}/bad/busybox&tag=1", reg.addr()),
    );
    d.ok("POST", &format!("/images/{name}/push"));
    // Corrupt the layer's bytes in the registry's storage (same size, other content).
    let img = d.json("/images/busybox/json");
    let d2 = Berthd::start();
    let blobs = support::files_under(&reg.storage())
        .into_iter()
        .filter(|p| p.ends_with("data"))
        .filter(|p| std::fs::metadata(p).map(|m| m.len() > 100_000).unwrap_or(false))
        .collect::<Vec<_>>();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    let mut bytes = std::fs::read(&blobs[0]).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&blobs[0], &bytes).unwrap();
    let (_, out) = pull(&d2, &name);
    assert!(out.contains("digest") || out.contains("mismatch"), "{out}");
    // Nothing behind: no image, no layer, no blob of that layer, no ingest.
    assert_eq!(d2.json("/images/json").as_array().unwrap().len(), 0);
    let layer_dirs = std::fs::read_dir(d2.data.join("layers/sha256")).unwrap().count();
    assert_eq!(layer_dirs, 0);
    let store = ContentStore::open(&d2.data).unwrap();
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let layer = img["RootFS"]["Layers"][0].as_str().unwrap();
    assert!(!support::files_under(&d2.data.join("blobs"))
        .iter()
        .any(|p| p.to_string_lossy().contains(&layer[7..])));
    assert!(support::files_under(&d2.data.join("ingest")).is_empty());
}

#[test]
fn killed_mid_pull_then_pulled_again_is_consistent() {
    require_root!();
    if !require_registry() {
        return;
    }
    let reg = Registry::start();
    let d = Berthd::start();
    // An image with a 96 MiB incompressible layer, so the pull takes a while.
    let tar = d.dir.path().join("big.tar");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -e; cd {dir}; mkdir -p big/data; head -c 100663296 /dev/urandom > big/data/blob; \
             tar -C big -cf big.tar .",
            dir = d.dir.path().display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let name = format!("{}/big/data:1", reg.addr());
    let (code, out) = d.api(
        "POST",
        &format!("/images/create?fromSrc=-&repo={}/big/data&tag=1", reg.addr()),
        Some(&tar),
    );
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&out));
    d.ok("POST", &format!("/images/{name}/push"));
    let id = d.json(&format!("/images/{name}/json"))["Id"].clone();

    let mut d2 = Berthd::start();
    let sock = d2.sock.clone();
    let puller = std::thread::spawn(move || {
        Command::new("curl")
            .args(["-sS", "--unix-socket"])
            .arg(&sock)
            .args(["-X", "POST"])
            .arg(format!("http://berth/images/create?fromImage={name}"))
            .output()
    });
    // Kill as soon as the layer is on its way in.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ingest = d2.data.join("ingest");
    while Instant::now() < deadline {
        let partial = support::files_under(&ingest)
            .iter()
            .any(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false));
        if partial {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    d2.restart();
    let _ = puller.join();
    let (code, out) = pull(&d2, &format!("{}/big/data:1", reg.addr()));
    assert_eq!(code, 200, "{out}");
    assert!(!out.contains("errorDetail"), "{out}");
    assert_eq!(
        d2.json(&format!("/images/{}/big/data:1/json", reg.addr()))["Id"],
        id
    );
    assert_consistent(&d2);
    // The layer is whole.
    let size = std::fs::read_dir(d2.data.join("layers/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path().join("data/blob"))
        .find(|p| p.exists())
        .map(|p| std::fs::metadata(p).unwrap().len());
    assert_eq!(size, Some(100_663_296));
}

#[test]
fn two_concurrent_pulls_of_one_image_both_succeed() {
    require_root!();
    if !require_registry() {
        return;
    }
    let reg = Registry::start();
    let d = Berthd::start();
    d.bootstrap_busybox("busybox:latest");
    let name = format!("{}/conc/busybox:1", reg.addr());
    d.ok(
        "POST",
        &format!("/images/busybox/tag?repo={}/conc/busybox&tag=1", reg.addr()),
    );
    d.ok("POST", &format!("/images/{name}/push"));
    let d2 = Berthd::start();
    let outs: Vec<(u16, String)> = std::thread::scope(|s| {
        let a = s.spawn(|| pull(&d2, &name));
        let b = s.spawn(|| pull(&d2, &name));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    for (code, out) in &outs {
        assert_eq!(*code, 200, "{out}");
        assert!(!out.contains("errorDetail"), "{out}");
    }
    assert_eq!(d2.json("/images/json").as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(d2.data.join("layers/sha256")).unwrap().count(),
        1
    );
    assert_consistent(&d2);
}

#[test]
fn skopeo_reads_what_berth_writes_and_berth_reads_what_skopeo_writes() {
    require_root!();
    if !require_registry() || !have("skopeo") {
        return;
    }
    let reg = Registry::start();
    let d = Berthd::start();
    let id = d.bootstrap_busybox("busybox:latest");
    let dir = d.dir.path();

    // berth save → skopeo: same config digest; skopeo copies it into the registry; berth pulls it.
    let saved = dir.join("saved.tar");
    let (code, body) = d.api("GET", "/images/get?names=busybox:latest", None);
    assert_eq!(code, 200);
    std::fs::write(&saved, body).unwrap();
    let out = Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", saved.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cfg["config"]["Cmd"][0], "sh");
    let copied = format!("{}/from-skopeo/busybox:1", reg.addr());
    let out = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", saved.display()))
        .arg(format!("docker://{copied}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d2 = Berthd::start();
    let (code, out) = pull(&d2, &copied);
    assert_eq!(code, 200, "{out}");
    assert_eq!(d2.json(&format!("/images/{copied}/json"))["Id"], id.as_str());

    // berth push → skopeo inspects it and copies it out as an archive berth loads.
    let pushed = format!("{}/from-berth/busybox:2", reg.addr());
    d.ok(
        "POST",
        &format!("/images/busybox/tag?repo={}/from-berth/busybox&tag=2", reg.addr()),
    );
    d.ok("POST", &format!("/images/{pushed}/push"));
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{pushed}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let archive = dir.join("skopeo.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{pushed}"))
        .arg(format!("docker-archive:{}:made/by-skopeo:3", archive.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d3 = Berthd::start();
    let (code, out) = d3.api("POST", "/images/load", Some(&archive));
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("Loaded image: made/by-skopeo:3"), "{out}");
    assert_eq!(d3.json("/images/made/by-skopeo:3/json")["Id"], id.as_str());
    // And an OCI archive.
    let oci = dir.join("skopeo-oci.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{pushed}"))
        .arg(format!("oci-archive:{}:oci-ref", oci.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, out) = d3.api("POST", "/images/load", Some(&oci));
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&out));
    assert_consistent(&d3);
}

#[test]
fn docker_cli_drives_the_image_commands() {
    require_root!();
    if !std::path::Path::new(support::docker_cli()).exists() && !have("docker") {
        eprintln!("skipped: no docker CLI");
        return;
    }
    let d = Berthd::start();
    let id = d.bootstrap_busybox("busybox:latest");
    let v = d.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.trim(), "1.47");
    let images = d.docker_ok(&["images"]);
    let lines: Vec<&str> = images.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{images}"
    );
    assert!(
        lines[1].starts_with("busybox      latest    ") && lines[1].contains(&id[7..19]),
        "{images}"
    );
    d.docker_ok(&["tag", "busybox", "mine/box:v1"]);
    let q = d.docker_ok(&["images", "-q", "--no-trunc", "mine/box"]);
    assert_eq!(q.trim(), id);
    let f = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{.Os}} {{json .Config.Cmd}}",
        "mine/box:v1",
    ]);
    assert_eq!(f.trim(), format!("{id} linux [\"sh\"]"));
    let h = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}",
        "busybox",
    ]);
    assert!(h.lines().next().unwrap().starts_with(&id), "{h}");
    let tar = d.dir.path().join("s.tar");
    d.docker_ok(&["save", "-o", tar.to_str().unwrap(), "mine/box:v1"]);
    let rm = d.docker_ok(&["rmi", "mine/box:v1"]);
    assert_eq!(rm.trim(), "Untagged: mine/box:v1");
    let rm = d.docker_ok(&["rmi", "busybox"]);
    assert!(rm.contains(&format!("Deleted: {id}")), "{rm}");
    assert_eq!(d.docker_ok(&["images", "-q"]).trim(), "");
    let out = d.docker(&["image", "inspect", "busybox"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such image: busybox"));
    let loaded = d.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: mine/box:v1"), "{loaded}");
    assert_eq!(d.docker_ok(&["images", "-q", "--no-trunc"]).trim(), id);
    // Removing the last image frees its layer and blobs.
    d.docker_ok(&["rmi", "mine/box:v1"]);
    assert_eq!(
        std::fs::read_dir(d.data.join("layers/sha256")).unwrap().count(),
        0
    );
    assert!(support::files_under(&d.data.join("blobs")).is_empty());
}

#[test]
fn graceful_stop_removes_socket_and_pidfile() {
    require_root!();
    let mut d = Berthd::start();
    let pidfile = d.dir.path().join("run/berthd.pid");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        d.pid().to_string()
    );
    let st = d.stop();
    assert!(st.success());
    assert!(!d.sock.exists());
    assert!(!pidfile.exists());
}

/// `berth login` against a registry with htpasswd auth, then push and pull with the stored
/// credentials; wrong passwords and anonymous pulls are refused with the registry's words.
#[test]
fn login_then_push_and_pull_with_credentials() {
    require_root!();
    if !require_registry() {
        return;
    }
    let berth = std::path::Path::new(env!("CARGO_BIN_EXE_berthd")).with_file_name("berth");
    if !berth.exists() {
        eprintln!("skipped: {} is not built", berth.display());
        return;
    }
    let reg = Registry::start_with_htpasswd("alice", "s3cret");
    let d = Berthd::start();
    d.bootstrap_busybox("busybox:latest");
    let cfg = d.dir.path().join("client-config");
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut c = Command::new(&berth);
        c.args(args)
            .env("BERTH_HOST", format!("unix://{}", d.sock.display()))
            .env("DOCKER_CONFIG", &cfg)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    };
    let addr = reg.addr();
    let bad = cli(
        &["login", "-u", "alice", "--password-stdin", &addr],
        Some("wrong\n"),
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unauthorized"),
        "{bad:?}"
    );
    let ok = cli(
        &["login", "-u", "alice", "--password-stdin", &addr],
        Some("s3cret\n"),
    );
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Login Succeeded"));
    let file = cfg.join("config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let name = format!("{addr}/private/busybox:1");
    assert!(cli(&["tag", "busybox", &name], None).status.success());
    let push = cli(&["push", &name], None);
    assert!(push.status.success(), "{push:?}");
    // Anonymous: refused.
    let d2 = Berthd::start();
    let (code, out) = pull(&d2, &name);
    assert!(code >= 400 || out.contains("errorDetail"), "{code} {out}");
    assert!(out.contains("unauthorized") || out.contains("denied"), "{out}");
    // With the credentials: pulled.
    assert!(cli(&["rmi", &name], None).status.success());
    let p = cli(&["pull", &name], None);
    assert!(p.status.success(), "{p:?}");
    let logout = cli(&["logout", &addr], None);
    assert!(logout.status.success());
    assert!(!std::fs::read_to_string(&file).unwrap().contains(&addr));
}

/// Layers reach the disk through a background sync; berthd killed before it ran extracts them
/// again from their (durable) blobs at the next start, and the image is whole.
#[test]
fn layers_not_yet_synced_are_extracted_again_after_kill_9() {
    require_root!();
    let mut d = Berthd::start();
    let id = d.bootstrap_busybox("busybox:latest");
    d.kill9();
    let store = berth_store::Store::open(&d.data.join("berth.db")).unwrap();
    let layers = store.layers().unwrap();
    assert_eq!(layers.len(), 1);
    // The sync waits a second for company; the kill came within milliseconds.
    let was_unsynced = !layers[0].synced;
    assert!(was_unsynced, "the layer was synced before the kill");
    drop(store);
    // What a crash could leave: the layer's files cut short.
    let dir = d.data.join("layers").join(layers[0].diff_id.replace(':', "/"));
    if was_unsynced {
        std::fs::write(dir.join("bin/busybox"), b"").unwrap();
    }
    d.restart();
    if was_unsynced {
        assert!(d.log().contains("extracted again"), "{}", d.log());
    }
    assert!(std::fs::metadata(dir.join("bin/busybox")).unwrap().len() > 100_000);
    assert_eq!(d.json("/images/busybox/json")["Id"], id.as_str());
    assert_consistent(&d);
    // A clean stop syncs: nothing to extract at the next start.
    d.stop();
    let store = berth_store::Store::open(&d.data.join("berth.db")).unwrap();
    assert!(store.layers().unwrap().iter().all(|l| l.synced));
}
