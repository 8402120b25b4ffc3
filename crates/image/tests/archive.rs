//! berth_image::archive: layer writing, import, bootstrap, save/load, and interop with skopeo.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::archive::{
    self, bootstrap, import_rootfs, layer, load, save, ArchiveError, ImportOptions, LayerOptions,
    MtimePolicy, SaveImage,
};
use berth_image::digest::Digest;
use berth_image::manifest::{ImageConfig, ImageManifest, Platform, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP};
use berth_image::store::ContentStore;
use berth_image::unpack::{self, Compression, UnpackOptions, WhiteoutMode};

fn store(dir: &Path) -> ContentStore {
    ContentStore::open(dir.join("store")).unwrap()
}

fn set_xattr(path: &Path, key: &str, value: &[u8]) -> bool {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let k = CString::new(key).unwrap();
    // SAFETY: NUL-terminated strings and a readable buffer of the given length.
    unsafe { libc::lsetxattr(p.as_ptr(), k.as_ptr(), value.as_ptr().cast(), value.len(), 0) == 0 }
}

fn get_xattr(path: &Path, key: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let k = CString::new(key).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a writable buffer of the given length.
    let n = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| {
        buf.truncate(n as usize);
        buf
    })
}

/// A tree with every kind of entry an unprivileged user can make.
fn make_tree(root: &Path) -> bool {
    fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    fs::write(root.join("etc/hostname"), "box\n").unwrap();
    fs::write(root.join("etc/deep/er/file"), vec![7u8; 70_000]).unwrap();
    fs::set_permissions(root.join("etc/deep/er/file"), fs::Permissions::from_mode(0o4750)).unwrap();
    fs::create_dir(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(root.join("a.txt"), "a").unwrap();
    fs::create_dir(root.join("a")).unwrap();
    fs::write(root.join("a/b"), "b").unwrap();
    symlink("../etc/hostname", root.join("a/link")).unwrap();
    fs::hard_link(root.join("a.txt"), root.join("a/hard")).unwrap();
    let long = root.join("l".repeat(120)).join("m".repeat(120));
    fs::create_dir_all(&long).unwrap();
    fs::write(long.join("n".repeat(200)), "long").unwrap();
    let fifo = CString::new(root.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    set_xattr(&root.join("a/b"), "user.berth", b"value\0bin")
}

#[test]
fn layer_tar_is_deterministic_and_docker_shaped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let xattrs = make_tree(&root);
    let opts = LayerOptions {
        mtime: MtimePolicy::Fixed(1_000_000),
        ..LayerOptions::default()
    };
    let mut one = Vec::new();
    let stats = layer::write_dir_tar(&root, &mut one, &opts).unwrap();
    let mut two = Vec::new();
    layer::write_dir_tar(&root, &mut two, &opts).unwrap();
    assert_eq!(one, two);
    assert_eq!(stats.size, one.len() as u64);

    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&one[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        assert_eq!(e.header().mtime().unwrap(), 1_000_000);
        match name.as_str() {
            // The walk reaches `a/hard` before `a.txt`: the later name links to the first.
            "a.txt" => {
                assert_eq!(e.header().entry_type(), tar::EntryType::Link);
                assert_eq!(&*e.link_name_bytes().unwrap(), b"a/hard");
            }
            "a/link" => assert_eq!(&*e.link_name_bytes().unwrap(), b"../etc/hostname"),
            "fifo" => assert_eq!(e.header().entry_type(), tar::EntryType::Fifo),
            "tmp/" => assert_eq!(e.header().mode().unwrap(), 0o1777),
            "etc/deep/er/file" => assert_eq!(e.header().mode().unwrap(), 0o4750),
            "a/b" if xattrs => {
                let x: Vec<_> = e
                    .pax_extensions()
                    .unwrap()
                    .unwrap()
                    .map(|x| x.unwrap())
                    .map(|x| (x.key().unwrap().to_owned(), x.value_bytes().to_vec()))
                    .collect();
                assert_eq!(
                    x,
                    [("SCHILY.xattr.user.berth".to_owned(), b"value\0bin".to_vec())]
                );
            }
            _ => {}
        }
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
        names.push(name);
    }
    let l = "l".repeat(120);
    let m = format!("{l}/{}", "m".repeat(120));
    let expected = vec![
        "a/".to_owned(),
        "a/b".into(),
        "a/hard".into(),
        "a/link".into(),
        "a.txt".into(),
        "etc/".into(),
        "etc/deep/".into(),
        "etc/deep/er/".into(),
        "etc/deep/er/file".into(),
        "etc/hostname".into(),
        "fifo".into(),
        format!("{l}/"),
        format!("{m}/"),
        format!("{m}/{}", "n".repeat(200)),
        "tmp/".into(),
    ];
    assert_eq!(names, expected);
}

#[test]
fn layer_round_trips_through_unpack() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let xattrs = make_tree(&root);
    let s = store(tmp.path());
    let blob = layer::store_dir(&s, &root, Compression::Gzip, &LayerOptions::default()).unwrap();
    assert_eq!(blob.descriptor.media_type, OCI_LAYER_TAR_GZIP);
    assert_eq!(
        blob.descriptor.size as u64,
        s.info(&blob.descriptor.digest).unwrap()
    );

    let dest = tmp.path().join("out");
    let stats = unpack::unpack_with(
        s.open_blob(&blob.descriptor.digest).unwrap(),
        &dest,
        &UnpackOptions {
            whiteouts: WhiteoutMode::Overlay,
            durable: false,
            ..UnpackOptions::default()
        },
    )
    .unwrap();
    assert_eq!(stats.diff_id, blob.diff_id);
    assert_eq!(stats.size, blob.size);

    assert_eq!(fs::read(dest.join("etc/hostname")).unwrap(), b"box\n");
    assert_eq!(
        fs::read(dest.join("etc/deep/er/file")).unwrap(),
        vec![7u8; 70_000]
    );
    let mode = |p: &str| fs::symlink_metadata(dest.join(p)).unwrap().mode() & 0o7777;
    assert_eq!(mode("etc/deep/er/file"), 0o4750);
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(
        fs::read_link(dest.join("a/link")).unwrap(),
        PathBuf::from("../etc/hostname")
    );
    let ino = |p: &str| fs::metadata(dest.join(p)).unwrap().ino();
    assert_eq!(ino("a.txt"), ino("a/hard"));
    let long = dest
        .join("l".repeat(120))
        .join("m".repeat(120))
        .join("n".repeat(200));
    assert_eq!(fs::read(long).unwrap(), b"long");
    assert!(fs::symlink_metadata(dest.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    if xattrs {
        assert_eq!(get_xattr(&dest.join("a/b"), "user.berth").unwrap(), b"value\0bin");
    }
    let src_mtime = fs::metadata(root.join("a.txt")).unwrap().mtime();
    assert_eq!(fs::metadata(dest.join("a.txt")).unwrap().mtime(), src_mtime);

    // Uncompressed: the blob is the diff.
    let plain = layer::store_dir(&s, &root, Compression::None, &LayerOptions::default()).unwrap();
    assert_eq!(plain.descriptor.media_type, OCI_LAYER_TAR);
    assert_eq!(plain.descriptor.digest, plain.diff_id);
    assert_eq!(plain.diff_id, blob.diff_id);
}

fn config_of(s: &ContentStore, manifest: &Digest) -> (ImageManifest, ImageConfig) {
    let m: ImageManifest = serde_json::from_slice(&s.read_all(manifest).unwrap()).unwrap();
    let c: ImageConfig = serde_json::from_slice(&s.read_all(&m.config.digest).unwrap()).unwrap();
    (m, c)
}

fn rootfs_tar(tmp: &Path) -> Vec<u8> {
    let root = tmp.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(root.join("bin/hello"), "#!/bin/sh\necho hi\n").unwrap();
    let mut out = Vec::new();
    layer::write_dir_tar(&root, &mut out, &LayerOptions::default()).unwrap();
    out
}

#[test]
fn import_applies_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let tar = rootfs_tar(tmp.path());
    let changes = [
        "CMD [\"/bin/hello\"]",
        "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
        "ENV PATH=/bin A=\"x y\"",
        "ENV LEGACY v w",
        "WORKDIR /srv",
        "EXPOSE 80/tcp 53/udp",
        "USER 1000:1000",
        "LABEL a=b \"c d\"=e",
        "STOPSIGNAL SIGINT",
        "VOLUME [\"/data\"]",
        "ONBUILD RUN echo built",
        "HEALTHCHECK --timeout=5s CMD [\"/bin/hello\"]",
    ];
    let opts = ImportOptions {
        changes: changes.iter().map(|s| s.to_string()).collect(),
        created: Some("2024-01-02T03:04:05Z".into()),
        platform: Some(Platform::new("linux", "arm64")),
        ..ImportOptions::default()
    };
    let built = import_rootfs(&s, &tar[..], &opts).unwrap();
    let (m, c) = config_of(&s, &built.manifest.digest);
    assert_eq!(m.layers, built.layers);
    assert_eq!(m.layers[0].media_type, OCI_LAYER_TAR_GZIP);
    assert_eq!(c.rootfs.diff_ids, [Digest::sha256_of(&tar)]);
    assert_eq!((c.os.as_str(), c.architecture.as_str()), ("linux", "arm64"));
    assert_eq!(c.comment.as_deref(), Some("Imported from -"));
    let h = &c.history.as_ref().unwrap()[0];
    assert_eq!(h.comment.as_deref(), Some("Imported from -"));
    assert_eq!(h.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    let cc = c.config.unwrap();
    assert_eq!(cc.cmd.unwrap(), ["/bin/hello"]);
    assert_eq!(cc.entrypoint.unwrap(), ["/bin/sh", "-c"]);
    assert_eq!(cc.env.unwrap(), ["PATH=/bin", "A=x y", "LEGACY=v w"]);
    assert_eq!(cc.working_dir.as_deref(), Some("/srv"));
    assert_eq!(cc.exposed_ports.unwrap().len(), 2);
    assert_eq!(cc.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        cc.labels.unwrap(),
        BTreeMap::from([
            ("a".to_owned(), "b".to_owned()),
            ("c d".to_owned(), "e".to_owned())
        ])
    );
    assert_eq!(cc.stop_signal.as_deref(), Some("SIGINT"));
    assert!(cc.volumes.unwrap().contains_key("/data"));
    assert_eq!(cc.on_build.unwrap(), ["RUN echo built"]);
    let hc = cc.healthcheck.unwrap();
    assert_eq!(hc.test.unwrap(), ["CMD", "/bin/hello"]);
    assert_eq!(hc.timeout, 5_000_000_000);

    // The layer unpacks to the tar's content, and its diff ID is the tar's digest.
    let dest = tmp.path().join("out");
    let st = unpack::unpack(
        s.open_blob(&built.layers[0].digest).unwrap(),
        Compression::Auto,
        &dest,
    )
    .unwrap();
    assert_eq!(st.diff_id, Digest::sha256_of(&tar));
    assert!(dest.join("bin/hello").exists());
}

#[test]
fn import_reads_compressed_input_and_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let tar = rootfs_tar(tmp.path());
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let opts = ImportOptions {
        message: "hello".into(),
        source: Some("http://example.invalid/rootfs.tar".into()),
        ..ImportOptions::default()
    };
    let a = import_rootfs(&s, &zst[..], &opts).unwrap();
    let b = import_rootfs(&s, &gz[..], &opts).unwrap();
    // Same tar, same gzip output: the layer blob is the same whatever the input compression.
    assert_eq!(a.layers, b.layers);
    let (_, c) = config_of(&s, &a.manifest.digest);
    assert_eq!(c.rootfs.diff_ids, [Digest::sha256_of(&tar)]);
    assert_eq!(c.comment.as_deref(), Some("hello"));
    assert_eq!(c.platform().os, "linux");

    let err = import_rootfs(
        &s,
        &tar[..],
        &ImportOptions {
            changes: vec!["FROM busybox".into()],
            ..ImportOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "FROM is not a valid change command");
    assert!(err.is_invalid_input());
    let err = import_rootfs(
        &s,
        &b"this is not a tar archive, certainly not"[..],
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a tar archive"), "{err}");
    let without_source = ImportOptions::default();
    let c = import_rootfs(&s, &tar[..], &without_source).unwrap();
    let (_, c) = config_of(&s, &c.manifest.digest);
    assert_eq!(c.comment.as_deref(), Some("Imported from -"));
}

fn have_busybox() -> bool {
    Path::new(bootstrap::DEFAULT_BUSYBOX).exists()
}

#[test]
fn busybox_bootstrap_is_deterministic_and_runs_applets_as_links() {
    if !have_busybox() {
        eprintln!("skipped: no /bin/busybox");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s1 = ContentStore::open(tmp.path().join("s1")).unwrap();
    let s2 = ContentStore::open(tmp.path().join("s2")).unwrap();
    let a = bootstrap::busybox(&s1, Path::new(bootstrap::DEFAULT_BUSYBOX)).unwrap();
    let b = bootstrap::busybox(&s2, Path::new(bootstrap::DEFAULT_BUSYBOX)).unwrap();
    assert_eq!(a, b);
    let (_, c) = config_of(&s1, &a.manifest.digest);
    let cc = c.config.unwrap();
    assert_eq!(cc.cmd.unwrap(), ["sh"]);
    assert_eq!(cc.env.unwrap(), [bootstrap::DEFAULT_PATH]);

    let dest = tmp.path().join("rootfs");
    unpack::unpack(
        s1.open_blob(&a.layers[0].digest).unwrap(),
        Compression::Gzip,
        &dest,
    )
    .unwrap();
    assert_eq!(
        fs::read_link(dest.join("bin/sh")).unwrap(),
        PathBuf::from("busybox")
    );
    assert_eq!(
        fs::read_link(dest.join("bin/ls")).unwrap(),
        PathBuf::from("busybox")
    );
    assert!(fs::read_to_string(dest.join("etc/passwd"))
        .unwrap()
        .starts_with("root:x:0:0:"));
    assert!(fs::read_to_string(dest.join("etc/group"))
        .unwrap()
        .contains("nogroup:x:65534:"));
    assert_eq!(fs::metadata(dest.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    let out = Command::new(dest.join("bin/busybox"))
        .arg("true")
        .status()
        .unwrap();
    assert!(out.success());
}

/// A tiny image with two layers (one shared with a second image), built without busybox.
fn two_images(s: &ContentStore, tmp: &Path) -> (archive::BuiltImage, archive::BuiltImage) {
    let base = tmp.join("base");
    fs::create_dir_all(base.join("etc")).unwrap();
    fs::write(base.join("etc/os-release"), "ID=test\n").unwrap();
    let top = tmp.join("top");
    fs::create_dir_all(top.join("app")).unwrap();
    fs::write(top.join("app/run"), "run").unwrap();
    let o = LayerOptions {
        mtime: MtimePolicy::Fixed(0),
        ..LayerOptions::default()
    };
    let l1 = layer::store_dir(s, &base, Compression::Gzip, &o).unwrap();
    let l2 = layer::store_dir(s, &top, Compression::Zstd, &o).unwrap();
    let mut b = archive::ImageBuilder::new(&Platform::host(), "2024-01-01T00:00:00Z");
    b.add_layer(&l1, Some("base"), None);
    b.container_config().cmd = Some(vec!["/bin/sh".into()]);
    let one = b.clone().write(s).unwrap();
    b.add_layer(&l2, Some("top"), Some("second layer"));
    let two = b.write(s).unwrap();
    (one, two)
}

fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(archive);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

#[test]
fn save_writes_docker_25_layout_and_load_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let (one, two) = two_images(&s, tmp.path());
    let mut out = Vec::new();
    let images = [
        SaveImage {
            manifest: one.manifest.digest.clone(),
            repo_tags: vec!["one".into()],
        },
        SaveImage {
            manifest: two.manifest.digest.clone(),
            repo_tags: vec!["example.com/two:v2".into(), "two:latest".into()],
        },
    ];
    save(&s, &images, &mut out).unwrap();
    let files = entries(&out);
    assert_eq!(files["oci-layout"], br#"{"imageLayoutVersion": "1.0.0"}"#);
    let manifest_json: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest_json[0]["RepoTags"], serde_json::json!(["one:latest"]));
    assert_eq!(
        manifest_json[1]["RepoTags"],
        serde_json::json!(["example.com/two:v2", "two:latest"])
    );
    let (_, c2) = config_of(&s, &two.manifest.digest);
    assert_eq!(
        manifest_json[1]["Layers"][1],
        format!("blobs/sha256/{}", c2.rootfs.diff_ids[1].encoded())
    );
    let repos: serde_json::Value = serde_json::from_slice(&files["repositories"]).unwrap();
    assert_eq!(repos["two"]["latest"], c2.rootfs.diff_ids[1].encoded());
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3);
    assert_eq!(
        index["manifests"][1]["annotations"]["io.containerd.image.name"],
        "example.com/two:v2"
    );
    assert_eq!(
        index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"],
        "v2"
    );
    // Layers are stored uncompressed, named by diff ID; every blob hashes to its name.
    for (name, data) in &files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(Digest::sha256_of(data).encoded(), hex, "{name}");
        }
    }
    for d in &c2.rootfs.diff_ids {
        assert!(files.contains_key(&format!("blobs/sha256/{}", d.encoded())));
    }

    // Same images, same bytes.
    let mut again = Vec::new();
    save(&s, &images, &mut again).unwrap();
    assert_eq!(out, again);

    // Load into a fresh store: same config digests and diff IDs, layers as tar.
    let s2 = ContentStore::open(tmp.path().join("store2")).unwrap();
    let loaded = load(&s2, &out[..]).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(&loaded[0].config, one.id());
    assert_eq!(&loaded[1].config, two.id());
    assert_eq!(loaded[1].diff_ids, c2.rootfs.diff_ids);
    assert_eq!(loaded[1].repo_tags, ["example.com/two:v2", "two:latest"]);
    assert!(loaded[1].layers.iter().all(|l| l.media_type == OCI_LAYER_TAR));
    // The manifest is the archive's own, so its digest survives.
    let idx_digest = index["manifests"][1]["digest"].as_str().unwrap();
    assert_eq!(loaded[1].manifest.digest.as_str(), idx_digest);
    let (m, _) = config_of(&s2, &loaded[1].manifest.digest);
    assert_eq!(m.layers, loaded[1].layers);

    // Saving the loaded images gives the same archive.
    let images2: Vec<SaveImage> = loaded
        .iter()
        .map(|l| SaveImage {
            manifest: l.manifest.digest.clone(),
            repo_tags: images[loaded.iter().position(|x| x == l).unwrap()]
                .repo_tags
                .clone(),
        })
        .collect();
    let mut third = Vec::new();
    save(&s2, &images2, &mut third).unwrap();
    assert_eq!(out, third);

    // Loading twice is harmless.
    let again = load(&s2, &out[..]).unwrap();
    assert_eq!(again, loaded);
    // A gzip-compressed archive loads too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&out).unwrap();
    let s3 = ContentStore::open(tmp.path().join("store3")).unwrap();
    assert_eq!(load(&s3, &gz.finish().unwrap()[..]).unwrap(), loaded);
}

/// Appends a raw entry, with a name the `tar` crate's checked setters would refuse.
fn raw_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
    h.as_mut_bytes()[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn legacy_archive(
    layer_tar: &[u8],
    config: &[u8],
    layer_path: &str,
    extra: impl FnOnce(&mut tar::Builder<Vec<u8>>),
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let config_name = format!("{}.json", Digest::sha256_of(config).encoded());
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["legacy:1"],
        "Layers": [layer_path],
    }]);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    // manifest.json first here; the loader must not depend on order either way.
    raw_entry(&mut b, "manifest.json", tar::EntryType::Regular, "", &manifest);
    raw_entry(&mut b, &config_name, tar::EntryType::Regular, "", config);
    extra(&mut b);
    raw_entry(&mut b, "layerid/VERSION", tar::EntryType::Regular, "", b"1.0");
    if layer_path == "layerid/layer.tar" {
        raw_entry(&mut b, layer_path, tar::EntryType::Regular, "", layer_tar);
    }
    b.into_inner().unwrap()
}

fn tiny_layer(tmp: &Path) -> (Vec<u8>, Vec<u8>) {
    let tar = rootfs_tar(tmp);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&tar).to_string()]},
    });
    (tar, serde_json::to_vec(&config).unwrap())
}

#[test]
fn loads_legacy_docker_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, config) = tiny_layer(tmp.path());
    let s = store(tmp.path());
    let ar = legacy_archive(&tar, &config, "layerid/layer.tar", |_| {});
    let loaded = load(&s, &ar[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].config, Digest::sha256_of(&config));
    assert_eq!(loaded[0].repo_tags, ["legacy:1"]);
    assert_eq!(loaded[0].layers[0].media_type, OCI_LAYER_TAR);
    assert_eq!(loaded[0].layers[0].digest, Digest::sha256_of(&tar));
    // The synthesized manifest is in the store and names the layer.
    let (m, c) = config_of(&s, &loaded[0].manifest.digest);
    assert_eq!(m.layers, loaded[0].layers);
    assert_eq!(c.rootfs.diff_ids, loaded[0].diff_ids);

    // A gzip layer reached through a symlink, listed last in the archive.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let s2 = ContentStore::open(tmp.path().join("s2")).unwrap();
    let hex = Digest::sha256_of(&gz).encoded().to_owned();
    let ar = legacy_archive(&tar, &config, "layerid/layer.tar.gz", |b| {
        raw_entry(
            b,
            "layerid/layer.tar.gz",
            tar::EntryType::Symlink,
            &format!("../blobs/sha256/{hex}"),
            b"",
        );
        raw_entry(
            b,
            &format!("blobs/sha256/{hex}"),
            tar::EntryType::Regular,
            "",
            &gz,
        );
    });
    let loaded = load(&s2, &ar[..]).unwrap();
    assert_eq!(loaded[0].layers[0].media_type, OCI_LAYER_TAR_GZIP);
    assert_eq!(loaded[0].diff_ids[0], Digest::sha256_of(&tar));
}

#[test]
fn load_refuses_wrong_layers_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (tar, _) = tiny_layer(tmp.path());
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(b"other").to_string()]},
    }))
    .unwrap();
    let s = store(tmp.path());
    // A layer over the in-memory limit goes to the store while streaming; it must be removed.
    let mut big = tar.clone();
    big.resize(3 << 20, 0);
    let ar = legacy_archive(&big, &config, "layerid/layer.tar", |_| {});
    let err = load(&s, &ar[..]).unwrap_err();
    assert!(
        matches!(err, ArchiveError::DiffIdMismatch { ref layer, .. } if layer == "layerid/layer.tar"),
        "{err}"
    );
    assert!(s.list().unwrap().is_empty(), "{:?}", s.list().unwrap());
    // Small layers are kept in memory, written once checked: nothing is left either.
    let ar = legacy_archive(&tar, &config, "layerid/layer.tar", |_| {});
    assert!(matches!(
        load(&s, &ar[..]),
        Err(ArchiveError::DiffIdMismatch { .. })
    ));
    assert!(s.list().unwrap().is_empty(), "{:?}", s.list().unwrap());

    let ar = legacy_archive(&tar, &config, "missing/layer.tar", |_| {});
    let err = load(&s, &ar[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid image archive: `missing/layer.tar` is not in the archive"
    );

    let mut b = tar::Builder::new(Vec::new());
    raw_entry(&mut b, "hello", tar::EntryType::Regular, "", b"x");
    let err = load(&s, &b.into_inner().unwrap()[..]).unwrap_err();
    assert!(err.to_string().contains("not an image archive"), "{err}");
}

#[test]
fn malicious_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let cases: [(&str, tar::EntryType, &str, &str); 4] = [
        (
            "../evil",
            tar::EntryType::Regular,
            "",
            "archive entry `../evil` escapes the archive root",
        ),
        (
            "a/../../evil",
            tar::EntryType::Regular,
            "",
            "archive entry `a/../../evil` escapes the archive root",
        ),
        (
            "/etc/passwd",
            tar::EntryType::Regular,
            "",
            "archive entry `/etc/passwd` escapes the archive root",
        ),
        (
            "x/layer.tar",
            tar::EntryType::Symlink,
            "../../etc/shadow",
            "archive entry `x/layer.tar -> ../../etc/shadow` escapes the archive root",
        ),
    ];
    for (name, kind, link, msg) in cases {
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, name, kind, link, b"data");
        let err = load(&s, &b.into_inner().unwrap()[..]).unwrap_err();
        assert_eq!(err.to_string(), msg);
        assert!(err.is_invalid_input());
    }
    // A blob whose content does not match its name.
    let mut b = tar::Builder::new(Vec::new());
    let name = format!("blobs/sha256/{}", Digest::sha256_of(b"right").encoded());
    raw_entry(&mut b, &name, tar::EntryType::Regular, "", b"wrong");
    let err = load(&s, &b.into_inner().unwrap()[..]).unwrap_err();
    assert!(
        matches!(err, ArchiveError::BlobMismatch { ref entry, .. } if *entry == name),
        "{err}"
    );
}

// ---- interop with skopeo -------------------------------------------------------------------

fn skopeo() -> Option<&'static str> {
    Path::new("/usr/bin/skopeo").exists().then_some("/usr/bin/skopeo")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn skopeo_reads_saved_archives_and_writes_loadable_ones() {
    berth_testkit::require_root!();
    let Some(skopeo) = skopeo() else {
        eprintln!("skipped: no skopeo");
        return;
    };
    if !have_busybox() {
        eprintln!("skipped: no /bin/busybox");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let img = bootstrap::busybox(&s, Path::new(bootstrap::DEFAULT_BUSYBOX)).unwrap();
    let file = tmp.path().join("busybox.tar");
    save(
        &s,
        &[SaveImage {
            manifest: img.manifest.digest.clone(),
            repo_tags: vec!["busybox:latest".into()],
        }],
        fs::File::create(&file).unwrap(),
    )
    .unwrap();
    let cfg_digest = img.config.digest.to_string();

    // skopeo inspect docker-archive: the raw config hashes to our image ID.
    let raw = Command::new(skopeo)
        .args(["inspect", "--raw", "--config"])
        .arg(format!("docker-archive:{}", file.display()))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    assert_eq!(Digest::sha256_of(&raw.stdout).to_string(), cfg_digest);
    let info = run(Command::new(skopeo)
        .arg("inspect")
        .arg(format!("docker-archive:{}", file.display())));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

    // skopeo copy docker-archive: → oci: keeps the config.
    let oci = tmp.path().join("oci");
    run(Command::new(skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("docker-archive:{}", file.display()))
        .arg(format!("oci:{}:busybox:latest", oci.display())));
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(oci.join("index.json")).unwrap()).unwrap();
    let mdigest = Digest::parse(index["manifests"][0]["digest"].as_str().unwrap()).unwrap();
    let m: ImageManifest =
        serde_json::from_slice(&fs::read(oci.join("blobs/sha256").join(mdigest.encoded())).unwrap()).unwrap();
    assert_eq!(m.config.digest.to_string(), cfg_digest);

    // Archives skopeo makes load back with the same image ID.
    let darchive = tmp.path().join("from-skopeo.tar");
    run(Command::new(skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:busybox:latest", oci.display()))
        .arg(format!("docker-archive:{}:busybox:skopeo", darchive.display())));
    let s2 = ContentStore::open(tmp.path().join("s2")).unwrap();
    let loaded = load(&s2, fs::File::open(&darchive).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].config.to_string(), cfg_digest);
    assert_eq!(loaded[0].repo_tags, ["busybox:skopeo"]);

    let oarchive = tmp.path().join("from-skopeo.oci.tar");
    run(Command::new(skopeo)
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:busybox:latest", oci.display()))
        .arg(format!("oci-archive:{}:busybox:oci", oarchive.display())));
    let s3 = ContentStore::open(tmp.path().join("s3")).unwrap();
    let loaded = load(&s3, fs::File::open(&oarchive).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].config.to_string(), cfg_digest);
    assert_eq!(loaded[0].repo_tags, ["busybox:oci"]);
    assert_eq!(loaded[0].manifest.digest, {
        let idx: serde_json::Value =
            serde_json::from_slice(&entries(&fs::read(&oarchive).unwrap())["index.json"]).unwrap();
        Digest::parse(idx["manifests"][0]["digest"].as_str().unwrap()).unwrap()
    });
    // And our loaded images unpack.
    let dest = tmp.path().join("unpacked");
    unpack::unpack(
        s3.open_blob(&loaded[0].layers[0].digest).unwrap(),
        Compression::Auto,
        &dest,
    )
    .unwrap();
    assert!(dest.join("bin/busybox").exists());
}

/// Needs root, debootstrap and the Debian mirror; about two minutes. Run with `--ignored`.
#[test]
#[ignore]
fn debian_bootstrap_builds_and_caches() {
    berth_testkit::require_root!();
    if Command::new("debootstrap").arg("--version").output().is_err() {
        eprintln!("skipped: no debootstrap");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let cache = tmp.path().join("cache");
    let mut log = |m: &str| eprintln!("debian: {m}");
    let t = std::time::Instant::now();
    let a = bootstrap::debian(&s, "bookworm", None, &cache, &mut log).unwrap();
    eprintln!(
        "first bootstrap: {:.1}s, layer {} bytes",
        t.elapsed().as_secs_f64(),
        a.layers[0].size
    );
    let t = std::time::Instant::now();
    let s2 = ContentStore::open(tmp.path().join("s2")).unwrap();
    let b = bootstrap::debian(&s2, "bookworm", None, &cache, &mut log).unwrap();
    eprintln!("cached bootstrap: {:.1}s", t.elapsed().as_secs_f64());
    assert_eq!(a, b);
    let (_, c) = config_of(&s, &a.manifest.digest);
    assert_eq!(c.config.unwrap().cmd.unwrap(), ["bash"]);
    let dest = tmp.path().join("rootfs");
    unpack::unpack(
        s.open_blob(&a.layers[0].digest).unwrap(),
        Compression::Gzip,
        &dest,
    )
    .unwrap();
    assert!(dest.join("usr/bin/bash").exists() || dest.join("bin/bash").exists());
    assert!(fs::read_dir(dest.join("dev")).unwrap().next().is_none());
}

/// Compression speed on a large tree (`BERTH_BENCH_DIR`, default /usr/lib): run in release with
/// `--ignored --nocapture`.
#[test]
#[ignore]
fn measure_layer_compression() {
    let dir = std::env::var_os("BERTH_BENCH_DIR").map_or_else(|| PathBuf::from("/usr/lib"), PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let opts = LayerOptions::default();
    let t = std::time::Instant::now();
    let mut sink = std::io::sink();
    let st = layer::write_dir_tar(&dir, &mut sink, &opts).unwrap();
    let tar_secs = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let blob = layer::store_dir(&s, &dir, Compression::Gzip, &opts).unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{}: tar {} MB in {tar_secs:.2}s; gzip layer {} MB in {secs:.2}s = {:.0} MB/s uncompressed",
        dir.display(),
        st.size / 1_000_000,
        blob.descriptor.size / 1_000_000,
        blob.size as f64 / 1e6 / secs
    );
}
