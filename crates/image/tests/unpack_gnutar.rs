//! Interoperability with GNU tar: fixtures it wrote (POSIX with xattrs, GNU sparse, PAX sparse),
//! and live round trips where berth's extraction must equal `tar -x`'s, node for node.

mod unpack_util;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::unpack::{unpack, Compression};
use unpack_util::{assert_same_tree, is_root, snapshot, xattr};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/unpack")
        .join(name)
}

#[test]
fn posix_fixture_with_xattrs_long_names_and_links() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("l");
    let stats = unpack(
        fs::File::open(fixture("posix-xattrs.tar.gz")).unwrap(),
        Compression::Auto,
        &dest,
    )
    .unwrap();
    assert_eq!(
        stats.diff_id.to_string(),
        "sha256:c0c093818177cfa75d62fdf094acddd98bf651d1d52aaa16d5f491e85c0c2f9f"
    );
    assert_eq!(stats.compression, Compression::Gzip);
    let long = format!("{}/sub/{}", "long".repeat(30), "name".repeat(20));
    assert_eq!(fs::read(dest.join(long)).unwrap(), b"deep\n");
    let file = fs::metadata(dest.join("d/file")).unwrap();
    assert_eq!(file.mode() & 0o7777, 0o4755);
    assert_eq!(fs::metadata(dest.join("d")).unwrap().mode() & 0o7777, 0o2755);
    assert_eq!(file.ino(), fs::metadata(dest.join("d/hardlink")).unwrap().ino());
    assert_eq!(
        fs::read_link(dest.join("d/symlink")).unwrap().to_str(),
        Some("../d/file")
    );
    assert!(fs::metadata(dest.join("d/fifo")).unwrap().file_type().is_fifo());
    // 2020-01-02 03:04:05.123456789 local time when the fixture was made; GNU tar keeps the
    // nanoseconds in PAX records.
    assert_eq!(file.mtime_nsec(), 123_456_789);
    assert_eq!(fs::metadata(dest.join("d")).unwrap().mtime_nsec(), 123_456_789);
    if xattr(&dest.join("d/file"), "user.berth").is_some() || is_root() {
        assert_eq!(
            xattr(&dest.join("d/file"), "user.berth").as_deref(),
            Some(&b"fixture"[..])
        );
        assert_eq!(xattr(&dest.join("d"), "user.dir").as_deref(), Some(&b"x"[..]));
    }
}

#[test]
fn gnu_sparse_fixture() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("l");
    let stats = unpack(
        fs::File::open(fixture("gnu-sparse.tar.gz")).unwrap(),
        Compression::Auto,
        &dest,
    )
    .unwrap();
    assert_eq!(
        stats.diff_id.to_string(),
        "sha256:b1e991900caf33954fec1d9d12af28f398c3007706212386e5f98a0d0c48109d"
    );
    let data = fs::read(dest.join("sparse")).unwrap();
    assert_eq!(data.len(), 4 << 20);
    assert_eq!(&data[3 << 20..(3 << 20) + 12], b"data at 3MiB");
    assert!(data[..3 << 20].iter().all(|&b| b == 0));
}

#[test]
fn pax_sparse_fixtures_all_versions() {
    // GNU tar's PAX sparse formats keep the map in records (0.0, 0.1) or in the data (1.0) and name
    // a stand-in (`GNUSparseFile.<pid>/sparse`) in the header; Go's archive/tar, and so Docker,
    // decode all three.
    let cases = [
        (
            "pax-sparse-0.0.tar.gz",
            "7e56d68639c24e80853ea9ed545eca812301c0f39e1dda7ccb205b12e23ec421",
        ),
        (
            "pax-sparse-0.1.tar.gz",
            "49559bffca94f3042f4ffc78e05f3963ba28bd4136b82304b692ff54cbe157c2",
        ),
        (
            "pax-sparse.tar.gz",
            "f24a1d7d63459e7392d7ae6ca2c60c0517477e89cf40a8fde637090cde7024c9",
        ),
    ];
    for (name, diff_id) in cases {
        let base = tempfile::tempdir().unwrap();
        let dest = base.path().join("l");
        let stats = unpack(fs::File::open(fixture(name)).unwrap(), Compression::Auto, &dest).unwrap();
        assert_eq!(stats.diff_id.to_string(), format!("sha256:{diff_id}"), "{name}");
        assert_eq!(unpack_util::list(&dest), ["sparse"], "{name}");
        let data = fs::read(dest.join("sparse")).unwrap();
        assert_eq!(data.len(), 4 << 20, "{name}");
        assert_eq!(&data[3 << 20..(3 << 20) + 12], b"data at 3MiB", "{name}");
        assert!(data[..3 << 20].iter().all(|&b| b == 0), "{name}");
        // The gap is a hole, not 3 MiB of written zeros.
        assert!(
            fs::metadata(dest.join("sparse")).unwrap().blocks() * 512 < 1 << 20,
            "{name}"
        );
    }
}

fn have_gnu_tar() -> bool {
    Command::new("tar")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("GNU tar"))
        .unwrap_or(false)
}

/// Packs `src` with GNU tar in `format`, extracts it with GNU tar and with berth, and compares.
fn round_trip(src: &Path, format: &str) {
    let base = tempfile::tempdir().unwrap();
    let tar = base.path().join("layer.tar");
    let mut pack = Command::new("tar");
    pack.arg(format!("--format={format}"))
        .arg("--numeric-owner")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(src);
    if format == "posix" {
        pack.arg("--xattrs").arg("--xattrs-include=*");
    }
    let ok = pack.arg(".").status().unwrap().success();
    assert!(ok, "tar -c failed");

    let theirs = base.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    let mut x = Command::new("tar");
    x.arg("-xpf")
        .arg(&tar)
        .arg("-C")
        .arg(&theirs)
        .arg("--numeric-owner");
    if is_root() {
        x.arg("--same-owner");
    }
    if format == "posix" {
        x.arg("--xattrs").arg("--xattrs-include=*");
    }
    assert!(x.status().unwrap().success(), "tar -x failed");

    let ours = base.path().join("ours");
    unpack(fs::File::open(&tar).unwrap(), Compression::Auto, &ours).unwrap();
    assert_same_tree(&snapshot(&ours), &snapshot(&theirs));
}

fn sample_tree(root: &Path) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    fs::create_dir_all(root.join("etc/ssl")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::write(root.join("etc/hostname"), b"h\n").unwrap();
    fs::write(root.join("usr/bin/su"), b"\x7fELF").unwrap();
    fs::set_permissions(root.join("usr/bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::hard_link(root.join("usr/bin/su"), root.join("usr/bin/su2")).unwrap();
    symlink("../usr/bin", root.join("etc/bin")).unwrap();
    symlink("/absolute/dangling", root.join("etc/ssl/dangling")).unwrap();
    let long = root.join("usr").join("x".repeat(200));
    fs::create_dir(&long).unwrap();
    fs::write(long.join("y".repeat(200)), b"long").unwrap();
    fs::write(root.join("etc/ssl/big"), vec![7u8; 300_000]).unwrap();
    let c = std::ffi::CString::new(root.join("etc/hostname").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid C strings and buffer; failure (no user xattrs here) is fine.
    unsafe { libc::setxattr(c.as_ptr(), c"user.test".as_ptr(), b"v".as_ptr().cast(), 1, 0) };
    if is_root() {
        let f = std::ffi::CString::new(root.join("etc/ssl/big").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid C string.
        unsafe { libc::chown(f.as_ptr(), 1234, 4321) };
    }
}

#[test]
fn same_tree_as_gnu_tar_posix_gnu_ustar() {
    if !have_gnu_tar() {
        eprintln!("skipping: GNU tar not installed");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    for format in ["posix", "gnu"] {
        round_trip(src.path(), format);
    }
}

#[test]
fn same_tree_as_gnu_tar_on_zoneinfo() {
    // Real data: about 1,300 entries, many hard links and symlinks.
    let src = Path::new("/usr/share/zoneinfo");
    if !have_gnu_tar() || !src.is_dir() {
        eprintln!("skipping: needs GNU tar and /usr/share/zoneinfo");
        return;
    }
    round_trip(src, "posix");
}
