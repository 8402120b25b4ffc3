//! OCI whiteouts: converted to overlayfs form for a layer of its own, applied for flattening.

mod unpack_util;

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_image::unpack::{unpack, unpack_with, Compression, UnpackOptions, WhiteoutMode};
use tar::EntryType;
use unpack_util::{list, skip_unless_root, xattr, Layer};

fn lower() -> Vec<u8> {
    let mut l = Layer::new();
    l.file("a", 0o644, b"a")
        .dir("b/", 0o755)
        .file("b/x", 0o644, b"x")
        .dir("c/", 0o755)
        .file("c/old", 0o644, b"old")
        .dir("c/sub/", 0o755)
        .file("c/sub/deep", 0o644, b"")
        .dir("e/", 0o755)
        .file("e/f", 0o644, b"");
    l.finish()
}

fn upper() -> Vec<u8> {
    let mut l = Layer::new();
    // `c/new` comes before the opaque marker: the marker must not delete what this layer made.
    l.file(".wh.a", 0o644, b"")
        .file("c/new", 0o644, b"new")
        .file("c/.wh..wh..opq", 0o644, b"")
        .file(".wh.e", 0o644, b"")
        .file(".wh.never-existed", 0o644, b"");
    let mut h = l.header(b"b/.wh.x", EntryType::Regular, 0o644);
    h.set_uid(7);
    h.set_gid(8);
    l.append(h, b"");
    l.finish()
}

#[test]
fn overlay_whiteouts_become_char_devices_0_0() {
    // The layer has an opaque marker too, whose `trusted.` xattr needs CAP_SYS_ADMIN.
    if skip_unless_root("overlay_whiteouts_become_char_devices_0_0") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("upper");
    unpack(&upper()[..], Compression::None, &dest).unwrap();
    for name in ["a", "e", "never-existed", "b/x"] {
        let m = fs::symlink_metadata(dest.join(name)).unwrap();
        assert!(m.file_type().is_char_device(), "{name}");
        assert_eq!(m.rdev(), 0, "{name}");
    }
    assert!(!dest.join(".wh.a").exists());
    let m = fs::symlink_metadata(dest.join("b/x")).unwrap();
    assert_eq!((m.uid(), m.gid()), (7, 8));
    assert_eq!(list(&dest.join("c")), ["new"]);
}

#[test]
fn overlay_whiteout_without_privilege() {
    // A 0:0 character device is the one device an unprivileged process may create (Linux 5.8+).
    let mut l = Layer::new();
    l.file("d/.wh.gone", 0o644, b"");
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("upper");
    match unpack(&l.finish()[..], Compression::None, &dest) {
        Ok(_) => {
            let m = fs::symlink_metadata(dest.join("d/gone")).unwrap();
            assert!(m.file_type().is_char_device());
            assert_eq!(m.rdev(), 0);
        }
        Err(e) => eprintln!("whiteout device refused here (kernel before 5.8?): {e}"),
    }
}

#[test]
fn overlay_opaque_marker_becomes_xattr() {
    if skip_unless_root("overlay_opaque_marker_becomes_xattr") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("upper");
    unpack(&upper()[..], Compression::None, &dest).unwrap();
    assert_eq!(
        xattr(&dest.join("c"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(xattr(&dest.join("b"), "trusted.overlay.opaque"), None);
    assert!(!dest.join("c/.wh..wh..opq").exists());
}

/// Unmounts (lazily) on drop, so a failing assertion leaves no mount behind.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let c = CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid C string; unmounting our own mount point.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

fn mount_overlay(lowers: &[&Path], target: &Path) -> std::io::Result<Mount> {
    let opts = format!(
        "lowerdir={}",
        lowers
            .iter()
            .map(|p| p.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(":")
    );
    let c = |s: &[u8]| CString::new(s).unwrap();
    let (src, tgt, fstype, data) = (
        c(b"overlay"),
        c(target.as_os_str().as_bytes()),
        c(b"overlay"),
        c(opts.as_bytes()),
    );
    // SAFETY: valid C strings for the duration of the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fstype.as_ptr(),
            libc::MS_RDONLY,
            data.as_ptr().cast(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Mount(target.to_path_buf()))
}

#[test]
fn overlay_mount_of_unpacked_layers_hides_what_was_deleted() {
    if skip_unless_root("overlay_mount_of_unpacked_layers_hides_what_was_deleted") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let (l1, l2, merged) = (
        base.path().join("l1"),
        base.path().join("l2"),
        base.path().join("merged"),
    );
    unpack(&lower()[..], Compression::None, &l1).unwrap();
    unpack(&upper()[..], Compression::None, &l2).unwrap();
    fs::create_dir(&merged).unwrap();
    let _m = match mount_overlay(&[&l2, &l1], &merged) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipping: cannot mount overlay here: {e}");
            return;
        }
    };
    assert_eq!(list(&merged), ["b", "c"]);
    assert_eq!(list(&merged.join("b")), Vec::<String>::new());
    assert_eq!(list(&merged.join("c")), ["new"]);
    assert_eq!(fs::read(merged.join("c/new")).unwrap(), b"new");
}

#[test]
fn apply_mode_deletes_from_the_tree_below() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("rootfs");
    let opts = UnpackOptions {
        compression: Compression::None,
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    unpack_with(&lower()[..], &dest, &opts).unwrap();
    unpack_with(&upper()[..], &dest, &opts).unwrap();
    assert_eq!(list(&dest), ["b", "c"]);
    assert_eq!(list(&dest.join("b")), Vec::<String>::new());
    assert_eq!(list(&dest.join("c")), ["new"]);
    assert_eq!(fs::read(dest.join("c/new")).unwrap(), b"new");
}

#[test]
fn apply_mode_whiteout_under_missing_parent_creates_nothing() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("rootfs");
    fs::create_dir(&dest).unwrap();
    let mut l = Layer::new();
    l.file("no/such/dir/.wh.f", 0o644, b"")
        .file("gone/.wh..wh..opq", 0o644, b"");
    let opts = UnpackOptions {
        compression: Compression::None,
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    unpack_with(&l.finish()[..], &dest, &opts).unwrap();
    assert_eq!(list(&dest), Vec::<String>::new());
}

#[test]
fn apply_mode_opaque_keeps_this_layers_nested_entries() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("rootfs");
    let opts = UnpackOptions {
        compression: Compression::None,
        whiteouts: WhiteoutMode::Apply,
        ..Default::default()
    };
    unpack_with(&lower()[..], &dest, &opts).unwrap();
    let mut l = Layer::new();
    l.dir("c/sub/", 0o755)
        .file("c/sub/mine", 0o644, b"")
        .file("c/.wh..wh..opq", 0o644, b"");
    unpack_with(&l.finish()[..], &dest, &opts).unwrap();
    assert_eq!(list(&dest.join("c")), ["sub"]);
    assert_eq!(list(&dest.join("c/sub")), ["mine"]);
}
