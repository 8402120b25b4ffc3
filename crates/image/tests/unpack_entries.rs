//! Tar semantics: every entry type, owners, modes, times, xattrs, long names, replacement rules.

mod unpack_util;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use berth_image::unpack::{unpack, unpack_with, Compression, UnpackError, UnpackOptions};
use tar::EntryType;
use unpack_util::{is_root, list, skip_unless_root, xattr, Layer};

fn extract(tar: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("layer");
    unpack(tar, Compression::None, &dest).unwrap();
    (base, dest)
}

#[test]
fn regular_files_dirs_and_symlinks() {
    let mut l = Layer::new();
    l.dir("usr/", 0o755)
        .dir("usr/bin/", 0o755)
        .file("usr/bin/tool", 0o755, b"#!/bin/sh\n")
        .file("usr/empty", 0o600, b"")
        .symlink("bin", "usr/bin")
        .symlink("dangling", "/nowhere/at/all");
    let (_b, d) = extract(&l.finish());
    assert_eq!(fs::read(d.join("usr/bin/tool")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(
        fs::metadata(d.join("usr/bin/tool")).unwrap().mode() & 0o7777,
        0o755
    );
    assert_eq!(fs::metadata(d.join("usr/empty")).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(fs::read_link(d.join("bin")).unwrap().to_str(), Some("usr/bin"));
    assert_eq!(
        fs::read_link(d.join("dangling")).unwrap().to_str(),
        Some("/nowhere/at/all")
    );
    assert_eq!(fs::metadata(&d).unwrap().mode() & 0o7777, 0o755, "layer root");
}

#[test]
fn missing_parents_are_created_0755() {
    let mut l = Layer::new();
    l.file("a/b/c/file", 0o644, b"x");
    let (_b, d) = extract(&l.finish());
    for p in ["a", "a/b", "a/b/c"] {
        let m = fs::metadata(d.join(p)).unwrap();
        assert!(m.is_dir());
        assert_eq!(m.mode() & 0o7777, 0o755, "{p}");
    }
}

#[test]
fn later_directory_entry_sets_metadata_of_implicit_parent() {
    let mut l = Layer::new();
    l.file("a/file", 0o644, b"x").dir("a/", 0o711);
    let (_b, d) = extract(&l.finish());
    assert_eq!(fs::metadata(d.join("a")).unwrap().mode() & 0o7777, 0o711);
    assert_eq!(fs::read(d.join("a/file")).unwrap(), b"x");
}

#[test]
fn hardlinks_share_the_inode() {
    let mut l = Layer::new();
    l.dir("bin/", 0o755)
        .file("bin/a", 0o4755, b"data")
        .hardlink("bin/b", "bin/a")
        .hardlink("c", "/bin/a");
    let (_b, d) = extract(&l.finish());
    let a = fs::metadata(d.join("bin/a")).unwrap();
    let b = fs::metadata(d.join("bin/b")).unwrap();
    let c = fs::metadata(d.join("c")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.ino(), c.ino());
    assert_eq!(a.nlink(), 3);
    assert_eq!(a.mode() & 0o7777, 0o4755);
}

#[test]
fn hardlink_keeps_file_capability() {
    if skip_unless_root("hardlink_keeps_file_capability") {
        return;
    }
    // security.capability v2, cap_net_raw (bit 13) permitted + effective.
    let cap: [u8; 20] = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut l = Layer::new();
    l.pax(&[("SCHILY.xattr.security.capability", &cap)]);
    let h = l.header(b"ping", EntryType::Regular, 0o755);
    l.append(h, b"\x7fELF");
    l.hardlink("ping2", "ping");
    let (_b, d) = extract(&l.finish());
    assert_eq!(
        xattr(&d.join("ping"), "security.capability").as_deref(),
        Some(&cap[..])
    );
    assert_eq!(
        xattr(&d.join("ping2"), "security.capability").as_deref(),
        Some(&cap[..])
    );
}

#[test]
fn long_names_gnu_and_pax() {
    let deep = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let target = format!("{}/{}", "t".repeat(90), "u".repeat(90));
    let pax_name = format!("{}/{}", "p".repeat(200), "q".repeat(200));
    let mut l = Layer::new();
    l.file(&deep, 0o644, b"gnu");
    l.pax(&[("path", pax_name.as_bytes())]);
    let h = l.header(b"truncated-name", EntryType::Regular, 0o644);
    l.append(h, b"pax");
    l.symlink("longlink", &target);
    let (_b, d) = extract(&l.finish());
    assert_eq!(fs::read(d.join(&deep)).unwrap(), b"gnu");
    assert_eq!(fs::read(d.join(&pax_name)).unwrap(), b"pax");
    assert!(!d.join("truncated-name").exists());
    assert_eq!(
        fs::read_link(d.join("longlink")).unwrap().to_str(),
        Some(target.as_str())
    );
}

#[test]
fn xattrs_from_pax_records() {
    let mut l = Layer::new();
    l.pax(&[
        ("SCHILY.xattr.user.comment", b"hello"),
        ("SCHILY.xattr.user.bin", &[0, 1, 2, 255]),
    ]);
    let h = l.header(b"f", EntryType::Regular, 0o644);
    l.append(h, b"x");
    l.pax(&[("SCHILY.xattr.user.dir", b"d")]);
    let h = l.header(b"d/", EntryType::Directory, 0o755);
    l.append(h, b"");
    let (_b, d) = extract(&l.finish());
    let f = d.join("f");
    if xattr(&f, "user.comment").is_none() && unpack_util::xattrs(&f).is_empty() {
        eprintln!("skipping xattr checks: filesystem without user xattrs");
        return;
    }
    assert_eq!(xattr(&f, "user.comment").as_deref(), Some(&b"hello"[..]));
    assert_eq!(xattr(&f, "user.bin").as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(xattr(&d.join("d"), "user.dir").as_deref(), Some(&b"d"[..]));
}

#[test]
fn security_capability_survives_chown() {
    if skip_unless_root("security_capability_survives_chown") {
        return;
    }
    let cap: [u8; 20] = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut l = Layer::new();
    l.pax(&[("SCHILY.xattr.security.capability", &cap)]);
    let mut h = l.header(b"ping", EntryType::Regular, 0o4755);
    h.set_uid(1000);
    h.set_gid(1000);
    l.append(h, b"\x7fELF");
    let (_b, d) = extract(&l.finish());
    let m = fs::metadata(d.join("ping")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 1000, 0o4755));
    assert_eq!(
        xattr(&d.join("ping"), "security.capability").as_deref(),
        Some(&cap[..])
    );
}

#[test]
fn owners_and_special_modes() {
    if skip_unless_root("owners_and_special_modes") {
        return;
    }
    let mut l = Layer::new();
    let mut add = |name: &str, kind, mode, uid, gid| {
        let mut h = l.header(name.as_bytes(), kind, mode);
        h.set_uid(uid);
        h.set_gid(gid);
        l.append(h, b"");
    };
    add("tmp/", EntryType::Directory, 0o1777, 0, 0);
    add("shared/", EntryType::Directory, 0o2775, 1234, 5678);
    add("bin/", EntryType::Directory, 0o755, 0, 0);
    add("bin/su", EntryType::Regular, 0o4755, 0, 0);
    add("bin/wall", EntryType::Regular, 0o2755, 0, 5);
    add("home/", EntryType::Directory, 0o755, 0, 0);
    add("home/u/", EntryType::Directory, 0o700, 1000, 1000);
    add("home/u/f", EntryType::Regular, 0o640, 1000, 100);
    add("big", EntryType::Regular, 0o644, 100_000, 200_000);
    let mut h = l.header(b"link", EntryType::Symlink, 0o777);
    h.as_old_mut().linkname[..4].copy_from_slice(b"bin/");
    h.set_uid(42);
    h.set_gid(43);
    l.append(h, b"");
    let (_b, d) = extract(&l.finish());
    let check = |p: &str, mode: u32, uid: u32, gid: u32| {
        let m = fs::symlink_metadata(d.join(p)).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (mode, uid, gid), "{p}");
    };
    check("tmp", 0o1777, 0, 0);
    check("shared", 0o2775, 1234, 5678);
    check("bin/su", 0o4755, 0, 0);
    check("bin/wall", 0o2755, 0, 5);
    check("home/u", 0o700, 1000, 1000);
    check("home/u/f", 0o640, 1000, 100);
    check("big", 0o644, 100_000, 200_000);
    let m = fs::symlink_metadata(d.join("link")).unwrap();
    assert_eq!((m.uid(), m.gid()), (42, 43));
}

#[test]
fn owners_from_pax_records() {
    if skip_unless_root("owners_from_pax_records") {
        return;
    }
    let mut l = Layer::new();
    l.pax(&[("uid", b"3000000"), ("gid", b"3000001")]);
    let h = l.header(b"f", EntryType::Regular, 0o644);
    l.append(h, b"");
    let (_b, d) = extract(&l.finish());
    let m = fs::metadata(d.join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (3_000_000, 3_000_001));
}

#[test]
fn times_of_files_symlinks_and_directories() {
    let mut l = Layer::new();
    l.mtime = 1_000_000_000;
    l.dir("d/", 0o755);
    l.mtime = 1_100_000_000;
    l.file("d/f", 0o644, b"x");
    l.symlink("d/s", "f");
    l.pax(&[("mtime", b"1234567890.123456789"), ("atime", b"1300000000.5")]);
    let h = l.header(b"precise", EntryType::Regular, 0o644);
    l.append(h, b"");
    l.pax(&[("mtime", b"1234567890.5"), ("atime", b"1000")]);
    let h = l.header(b"old-atime", EntryType::Regular, 0o644);
    l.append(h, b"");
    let (_b, d) = extract(&l.finish());
    // The directory's own time, though entries were created in it afterwards.
    assert_eq!(fs::metadata(d.join("d")).unwrap().mtime(), 1_000_000_000);
    assert_eq!(fs::metadata(d.join("d/f")).unwrap().mtime(), 1_100_000_000);
    assert_eq!(
        fs::symlink_metadata(d.join("d/s")).unwrap().mtime(),
        1_100_000_000
    );
    let m = fs::metadata(d.join("precise")).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_234_567_890, 123_456_789));
    assert_eq!((m.atime(), m.atime_nsec()), (1_300_000_000, 500_000_000));
    // An access time before the modification time is raised to it (containerd latestTime).
    let m = fs::metadata(d.join("old-atime")).unwrap();
    assert_eq!((m.atime(), m.atime_nsec()), (1_234_567_890, 500_000_000));
}

#[test]
fn root_entry_sets_the_layer_root() {
    let mut l = Layer::new();
    l.mtime = 1_200_000_000;
    l.dir("./", 0o750).file("./f", 0o644, b"");
    let (_b, d) = extract(&l.finish());
    let m = fs::metadata(&d).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o750);
    assert_eq!(m.mtime(), 1_200_000_000);
}

#[test]
fn devices_and_fifos() {
    let mut l = Layer::new();
    let mut dev = |name: &str, kind, mode, major, minor| {
        let mut h = l.header(name.as_bytes(), kind, mode);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        l.append(h, b"");
    };
    dev("dev/null", EntryType::Char, 0o666, 1, 3);
    dev("dev/loop0", EntryType::Block, 0o660, 7, 0);
    dev("run/fifo", EntryType::Fifo, 0o620, 0, 0);
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("layer");
    let stats = unpack(&l.finish()[..], Compression::None, &dest).unwrap();
    let fifo = fs::metadata(dest.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o620);
    if !is_root() {
        assert_eq!(stats.skipped.len(), 2, "{:?}", stats.skipped);
        eprintln!("device node checks skipped: needs root");
        return;
    }
    assert!(stats.skipped.is_empty());
    let null = fs::metadata(dest.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let lp = fs::metadata(dest.join("dev/loop0")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), libc::makedev(7, 0));
}

#[test]
fn read_only_directories_are_filled_then_closed() {
    let mut l = Layer::new();
    l.dir("ro/", 0o555)
        .dir("ro/inner/", 0o500)
        .file("ro/inner/f", 0o444, b"x")
        .dir("noexec/", 0o600);
    l.file("noexec/f", 0o644, b"y");
    let (_b, d) = extract(&l.finish());
    assert_eq!(fs::metadata(d.join("ro")).unwrap().mode() & 0o7777, 0o555);
    assert_eq!(fs::metadata(d.join("ro/inner")).unwrap().mode() & 0o7777, 0o500);
    assert_eq!(fs::read(d.join("ro/inner/f")).unwrap(), b"x");
    assert_eq!(
        fs::symlink_metadata(d.join("noexec")).unwrap().mode() & 0o7777,
        0o600
    );
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        for p in ["ro/inner", "ro", "noexec"] {
            fs::set_permissions(d.join(p), fs::Permissions::from_mode(0o700)).unwrap();
        }
    }
}

#[test]
fn later_entries_replace_earlier_ones() {
    let mut l = Layer::new();
    l.file("a", 0o644, b"file")
        .dir("a/", 0o755) // file → directory
        .file("a/inner", 0o644, b"")
        .dir("b/", 0o755)
        .file("b/inner", 0o644, b"")
        .file("b", 0o600, b"now a file") // directory with content → file
        .dir("c/", 0o700)
        .file("c/kept", 0o644, b"kept")
        .dir("c/", 0o711) // directory + directory: merged, metadata of the later
        .file("d", 0o644, b"one")
        .file("d", 0o644, b"two")
        .symlink("e", "x")
        .symlink("e", "y");
    let (_b, d) = extract(&l.finish());
    assert!(d.join("a").is_dir());
    assert!(d.join("a/inner").exists());
    assert_eq!(fs::read(d.join("b")).unwrap(), b"now a file");
    assert_eq!(fs::metadata(d.join("c")).unwrap().mode() & 0o7777, 0o711);
    assert_eq!(fs::read(d.join("c/kept")).unwrap(), b"kept");
    assert_eq!(fs::read(d.join("d")).unwrap(), b"two");
    assert_eq!(fs::read_link(d.join("e")).unwrap().to_str(), Some("y"));
}

#[test]
fn under_a_file_is_refused() {
    let mut l = Layer::new();
    l.file("f", 0o644, b"").file("f/g", 0o644, b"");
    let base = tempfile::tempdir().unwrap();
    let e = unpack(&l.finish()[..], Compression::None, &base.path().join("l")).unwrap_err();
    assert!(matches!(e, UnpackError::NotADirectory { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "layer entry `f/g` lies under `f`, which is not a directory"
    );
}

#[test]
fn global_pax_headers_are_ignored() {
    let mut l = Layer::new();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::XGlobalHeader);
    let data = b"22 comment=ignored me\n";
    l.append(h, data);
    l.file("f", 0o644, b"x");
    let (_b, d) = extract(&l.finish());
    assert_eq!(list(&d), ["f"]);
}

#[test]
fn aufs_metadata_is_skipped() {
    let mut l = Layer::new();
    l.dir(".wh..wh.plnk/", 0o700)
        .file(".wh..wh.plnk/1234.5", 0o644, b"")
        .file(".wh..wh.aufs", 0o644, b"")
        .file("f", 0o644, b"");
    let (_b, d) = extract(&l.finish());
    assert_eq!(list(&d), ["f"]);
}

#[test]
fn unsupported_type_is_refused_with_its_name() {
    let mut l = Layer::new();
    let h = l.header(b"weird", EntryType::new(b'X'), 0o644);
    l.append(h, b"");
    let base = tempfile::tempdir().unwrap();
    let e = unpack(&l.finish()[..], Compression::None, &base.path().join("l")).unwrap_err();
    assert!(matches!(e, UnpackError::UnsupportedType { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("layer entry `weird` has unsupported type"),
        "{e}"
    );
}

#[test]
fn without_chown_files_belong_to_the_caller() {
    let mut l = Layer::new();
    let mut h = l.header(b"f", EntryType::Regular, 0o644);
    h.set_uid(4242);
    h.set_gid(4242);
    l.append(h, b"");
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("l");
    let opts = UnpackOptions {
        chown: false,
        compression: Compression::None,
        ..Default::default()
    };
    unpack_with(&l.finish()[..], &dest, &opts).unwrap();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    assert_eq!(fs::metadata(dest.join("f")).unwrap().uid(), me);
}

#[test]
fn destination_that_is_a_file_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("l");
    fs::write(&dest, b"").unwrap();
    let e = unpack(&Layer::new().finish()[..], Compression::None, &dest).unwrap_err();
    assert!(matches!(e, UnpackError::NotADirectoryDest(_)), "{e:?}");
}

#[test]
fn stale_temporaries_are_removed() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("sha256-abc");
    fs::create_dir(base.path().join("sha256-abc.tmp-1-0")).unwrap();
    fs::write(base.path().join("sha256-abc.tmp-1-0/f"), b"").unwrap();
    fs::create_dir(base.path().join("sha256-abcd")).unwrap();
    assert_eq!(berth_image::unpack::remove_stale(&dest).unwrap(), 1);
    assert_eq!(list(base.path()), ["sha256-abcd"]);
}
