//! Deep images mount: 128 layers stacked by overlayfs, with either mount method. Root only.

use std::path::{Path, PathBuf};

use berth_image::snapshot::{mount_overlay, Method, Upper};
use berth_testkit::require_root;

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let c = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string naming our own mount point.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

fn deep_image(root: &Path, n: usize) -> Vec<PathBuf> {
    // Long directory names, as the layer store's 64-hex diff IDs: 128 of them do not fit in one
    // classic option string.
    let mut lowers = Vec::new();
    for i in 0..n {
        let dir = root.join(format!("layers/sha256/{i:064}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("layer-{i}")), i.to_string()).unwrap();
        std::fs::write(dir.join("top"), i.to_string()).unwrap();
        lowers.push(dir);
    }
    lowers.reverse(); // top first
    lowers
}

fn check(method: Method) {
    let dir = tempfile::tempdir().unwrap();
    let lowers = deep_image(dir.path(), 128);
    let upper = dir.path().join("upper");
    let work = dir.path().join("work");
    let target = dir.path().join("merged");
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d).unwrap();
    }
    let links = tempfile::Builder::new().prefix("l").tempdir_in("/tmp").unwrap();
    mount_overlay(
        &lowers,
        Some(Upper {
            upper: &upper,
            work: &work,
        }),
        &target,
        links.path(),
        method,
    )
    .unwrap_or_else(|e| panic!("{method:?}: {e}"));
    let _m = Mounted(target.clone());
    assert_eq!(std::fs::read_to_string(target.join("layer-0")).unwrap(), "0");
    assert_eq!(std::fs::read_to_string(target.join("layer-127")).unwrap(), "127");
    assert_eq!(std::fs::read_to_string(target.join("top")).unwrap(), "127");
    std::fs::write(target.join("new"), "x").unwrap();
    assert!(upper.join("new").exists());
    assert!(!lowers[0].join("new").exists());
}

#[test]
fn a_128_layer_image_mounts_with_the_new_mount_api() {
    require_root!();
    check(Method::NewApi);
}

#[test]
fn a_128_layer_image_mounts_with_short_links() {
    require_root!();
    check(Method::ShortLinks);
}

#[test]
fn auto_picks_a_method_that_works() {
    require_root!();
    check(Method::Auto);
}
