//! Malicious layers: every attempt to write outside the layer directory is refused, names the
//! entry, writes nothing outside (a sentinel directory next to the destination stays as it was),
//! and leaves neither the destination nor its temporary directory behind.

mod unpack_util;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_image::unpack::{unpack, unpack_with, Compression, UnpackError, UnpackOptions, WhiteoutMode};
use unpack_util::{list, Layer};

/// `base/sentinel/target` (a file outsiders must not touch) and the destination `base/layer`.
struct Scene {
    base: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let base = tempfile::tempdir().unwrap();
        fs::create_dir(base.path().join("sentinel")).unwrap();
        fs::write(base.path().join("sentinel/target"), b"original").unwrap();
        Scene { base }
    }

    fn dest(&self) -> PathBuf {
        self.base.path().join("layer")
    }

    fn sentinel(&self) -> PathBuf {
        self.base.path().join("sentinel")
    }

    fn sentinel_abs(&self) -> String {
        self.sentinel().to_str().unwrap().to_owned()
    }

    /// Unpacks `tar` (new destination, overlay mode) and expects it refused.
    fn refuse(&self, tar: Vec<u8>) -> UnpackError {
        let err =
            unpack(&tar[..], Compression::None, &self.dest()).expect_err("malicious layer was accepted");
        self.assert_untouched();
        assert!(!self.dest().exists(), "a refused layer left its destination");
        assert_eq!(
            list(self.base.path()),
            ["sentinel"],
            "a refused layer left a temporary directory"
        );
        err
    }

    fn assert_untouched(&self) {
        assert_eq!(
            list(&self.sentinel()),
            ["target"],
            "something was written into the sentinel directory"
        );
        assert_eq!(fs::read(self.sentinel().join("target")).unwrap(), b"original");
        assert_eq!(fs::metadata(self.sentinel().join("target")).unwrap().nlink(), 1);
    }
}

fn message(e: &UnpackError) -> String {
    e.to_string()
}

#[test]
fn dotdot_escape_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.file("../sentinel/evil", 0o644, b"x");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::Escape { .. }), "{e:?}");
    assert_eq!(
        message(&e),
        "layer entry `../sentinel/evil` escapes the layer directory"
    );
    assert!(e.is_bad_layer());
}

#[test]
fn dotdot_after_components_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.dir("a/", 0o755).file("a/../../sentinel/evil", 0o644, b"x");
    let e = s.refuse(l.finish());
    assert_eq!(
        message(&e),
        "layer entry `a/../../sentinel/evil` escapes the layer directory"
    );
}

#[test]
fn dotdot_in_deep_path_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.file(
        "./x/../../../../../../../../etc/passwd",
        0o644,
        b"root::0:0::/:/bin/sh\n",
    );
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::Escape { .. }), "{e:?}");
}

#[test]
fn absolute_paths_are_made_relative() {
    let s = Scene::new();
    let evil = format!("{}/evil", s.sentinel_abs());
    let mut l = Layer::new();
    l.file(&evil, 0o644, b"x")
        .file("/etc/berth-test-passwd", 0o644, b"x");
    unpack(&l.finish()[..], Compression::None, &s.dest()).unwrap();
    s.assert_untouched();
    assert!(!Path::new("/etc/berth-test-passwd").exists());
    assert_eq!(fs::read(s.dest().join("etc/berth-test-passwd")).unwrap(), b"x");
    let inside = s.dest().join(evil.trim_start_matches('/'));
    assert_eq!(fs::read(inside).unwrap(), b"x");
}

#[test]
fn write_through_absolute_symlink_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.symlink("a", &s.sentinel_abs()).file("a/evil", 0o644, b"x");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{e:?}");
    assert_eq!(
        message(&e),
        "layer entry `a/evil` lies under `a`, a symbolic link; refusing to follow it"
    );
}

#[test]
fn write_through_etc_symlink_is_refused() {
    let s = Scene::new();
    let before = fs::read("/etc/passwd").ok();
    let mut l = Layer::new();
    l.symlink("a", "/etc").file("a/passwd", 0o644, b"evil");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{e:?}");
    assert_eq!(fs::read("/etc/passwd").ok(), before);
}

#[test]
fn write_through_relative_symlink_chain_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    // Each link alone looks harmless; together they point at ../sentinel.
    l.dir("d/", 0o755)
        .symlink("d/up", "..")
        .symlink("d/up2", "up/..")
        .symlink("x", "d/up2/sentinel")
        .file("x/evil", 0o644, b"x");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{e:?}");
}

#[test]
fn write_through_nested_symlink_component_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.dir("a/", 0o755)
        .dir("a/b/", 0o755)
        .symlink("a/b/c", "../../..")
        .file("a/b/c/sentinel/evil", 0o644, b"x");
    let e = s.refuse(l.finish());
    match &e {
        UnpackError::ThroughSymlink { component, .. } => assert_eq!(component, "a/b/c"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hardlink_to_host_file_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.hardlink("shadow", "/etc/shadow");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::LinkTargetMissing { .. }), "{e:?}");
    assert_eq!(
        message(&e),
        "layer entry `shadow` is a hard link to `/etc/shadow`, which is not in the layer"
    );

    let mut l = Layer::new();
    l.hardlink("t", &format!("{}/target", s.sentinel_abs()));
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::LinkTargetMissing { .. }), "{e:?}");
}

#[test]
fn hardlink_escaping_by_dotdot_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.hardlink("t", "../sentinel/target");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::LinkEscape { .. }), "{e:?}");
    assert_eq!(
        message(&e),
        "layer entry `t` is a hard link to `../sentinel/target`, which escapes the layer directory"
    );
}

#[test]
fn hardlink_through_symlinked_dir_is_refused() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.symlink("d", &s.sentinel_abs()).hardlink("t", "d/target");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::LinkThroughSymlink { .. }), "{e:?}");

    let mut l = Layer::new();
    l.symlink("d", "../sentinel").hardlink("t", "d/target");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::LinkThroughSymlink { .. }), "{e:?}");
}

#[test]
fn hardlink_to_symlink_links_the_symlink_itself() {
    // linkat without AT_SYMLINK_FOLLOW: the link is to the symlink, never to what it points at.
    let s = Scene::new();
    let mut l = Layer::new();
    l.symlink("s", &format!("{}/target", s.sentinel_abs()))
        .hardlink("t", "s");
    unpack(&l.finish()[..], Compression::None, &s.dest()).unwrap();
    s.assert_untouched();
    let m = fs::symlink_metadata(s.dest().join("t")).unwrap();
    assert!(m.file_type().is_symlink());
    assert_eq!(m.nlink(), 2);
}

#[test]
fn file_replacing_a_symlink_does_not_write_through_it() {
    let s = Scene::new();
    let mut l = Layer::new();
    l.symlink("f", &format!("{}/target", s.sentinel_abs()))
        .file("f", 0o644, b"evil");
    unpack(&l.finish()[..], Compression::None, &s.dest()).unwrap();
    s.assert_untouched();
    let f = s.dest().join("f");
    assert!(fs::symlink_metadata(&f).unwrap().is_file());
    assert_eq!(fs::read(f).unwrap(), b"evil");
}

#[test]
fn directory_replacing_a_symlink_does_not_follow_it() {
    let s = Scene::new();
    let mode_before = fs::metadata(s.sentinel()).unwrap().mode();
    let mut l = Layer::new();
    l.symlink("d", &s.sentinel_abs())
        .dir("d/", 0o700)
        .file("d/evil", 0o644, b"x");
    unpack(&l.finish()[..], Compression::None, &s.dest()).unwrap();
    s.assert_untouched();
    assert!(fs::symlink_metadata(s.dest().join("d")).unwrap().is_dir());
    assert_eq!(fs::read(s.dest().join("d/evil")).unwrap(), b"x");
    // The mode applied was the entry's, to the new directory, not to the sentinel.
    assert_eq!(fs::metadata(s.sentinel()).unwrap().mode(), mode_before);
    assert_eq!(fs::metadata(s.dest().join("d")).unwrap().mode() & 0o7777, 0o700);
}

#[test]
fn existing_symlink_in_destination_is_not_followed() {
    // Applying onto an existing tree (flattening): a symlink already there is refused too.
    let s = Scene::new();
    fs::create_dir(s.dest()).unwrap();
    std::os::unix::fs::symlink(s.sentinel(), s.dest().join("etc")).unwrap();
    let mut l = Layer::new();
    l.file("etc/passwd", 0o644, b"evil");
    let opts = UnpackOptions {
        compression: Compression::None,
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    let e = unpack_with(&l.finish()[..], &s.dest(), &opts).unwrap_err();
    assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{e:?}");
    s.assert_untouched();
}

#[test]
fn whiteout_through_symlink_deletes_nothing_outside() {
    let s = Scene::new();
    fs::create_dir(s.dest()).unwrap();
    std::os::unix::fs::symlink(s.sentinel(), s.dest().join("a")).unwrap();
    let opts = UnpackOptions {
        compression: Compression::None,
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    for name in ["a/.wh.target", "a/.wh..wh..opq"] {
        let mut l = Layer::new();
        l.file(name, 0o644, b"");
        let e = unpack_with(&l.finish()[..], &s.dest(), &opts).unwrap_err();
        assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{name}: {e:?}");
        s.assert_untouched();
    }
    // Overlay mode: the whiteout device would be created through the link.
    let s = Scene::new();
    let mut l = Layer::new();
    l.symlink("a", &s.sentinel_abs()).file("a/.wh.target", 0o644, b"");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::ThroughSymlink { .. }), "{e:?}");
}

#[test]
fn whiteout_naming_a_parent_is_refused() {
    let s = Scene::new();
    for name in ["d/.wh...", "d/.wh..", "d/.wh."] {
        let mut l = Layer::new();
        l.dir("d/", 0o755).file(name, 0o644, b"");
        let e = s.refuse(l.finish());
        assert!(matches!(e, UnpackError::InvalidWhiteout { .. }), "{name}: {e:?}");
    }
    let mut l = Layer::new();
    l.file("../.wh.sentinel", 0o644, b"");
    let e = s.refuse(l.finish());
    assert!(matches!(e, UnpackError::Escape { .. }), "{e:?}");
}

#[test]
fn failed_unpack_into_existing_directory_leaves_it_to_the_caller() {
    let s = Scene::new();
    fs::create_dir(s.dest()).unwrap();
    let mut l = Layer::new();
    l.file("ok", 0o644, b"1").file("../sentinel/evil", 0o644, b"x");
    let opts = UnpackOptions {
        compression: Compression::None,
        ..Default::default()
    };
    unpack_with(&l.finish()[..], &s.dest(), &opts).unwrap_err();
    s.assert_untouched();
    // Documented: in place, what was written before the bad entry stays for the caller to remove.
    assert_eq!(list(&s.dest()), ["ok"]);
}

#[test]
fn escape_in_gzip_layer_is_refused_too() {
    let s = Scene::new();
    let mut l = Layer::new();
    for i in 0..100 {
        l.file(&format!("f{i}"), 0o644, &[b'a'; 4096]);
    }
    l.file("../sentinel/evil", 0o644, b"x");
    let tar = unpack_util::gzip(&l.finish());
    let e = unpack(&tar[..], Compression::Auto, &s.dest()).unwrap_err();
    assert!(matches!(e, UnpackError::Escape { .. }), "{e:?}");
    s.assert_untouched();
    assert_eq!(list(s.base.path()), ["sentinel"]);
}
