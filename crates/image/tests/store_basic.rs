//! The content store: provider, ingester and manager operations, and their errors.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use berth_image::digest::{Algorithm, Digest};
use berth_image::store::{ContentStore, StoreError};

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path().join("content")).unwrap();
    (dir, store)
}

fn ingest_files(store: &ContentStore) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_read_info_list_delete() {
    let (_d, store) = store();
    let data = b"{\"schemaVersion\":2}";
    let digest = store.write_blob(data, None).unwrap();
    assert_eq!(digest, Digest::sha256_of(data));
    assert!(store.exists(&digest).unwrap());
    assert_eq!(store.read_all(&digest).unwrap(), data);
    assert_eq!(store.info(&digest).unwrap(), data.len() as u64);
    let mut s = String::new();
    store.open_blob(&digest).unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s.as_bytes(), data);
    assert_eq!(store.list().unwrap(), vec![(digest.clone(), data.len() as u64)]);
    let path = store.blob_path(&digest);
    assert!(path.ends_with(format!("blobs/sha256/{}", digest.encoded())));
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o444);

    store.delete(&digest).unwrap();
    assert!(!store.exists(&digest).unwrap());
    let e = store.read_all(&digest).unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(e.to_string(), format!("blob `{digest}` not found"));
    assert!(store.delete(&digest).unwrap_err().is_not_found());
    assert!(store.info(&digest).unwrap_err().is_not_found());
    assert!(store.open_blob(&digest).unwrap_err().is_not_found());
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn streamed_write_with_expected_digest() {
    let (_d, store) = store();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = Digest::sha256_of(&data);
    let mut w = store
        .writer(Some(digest.clone()), Some(data.len() as u64))
        .unwrap();
    assert_eq!(w.offset(), 0);
    for chunk in data.chunks(16_385) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.offset(), data.len() as u64);
    assert_eq!(w.commit().unwrap(), digest);
    assert_eq!(store.read_all(&digest).unwrap(), data);
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn digest_mismatch_names_both_and_leaves_nothing() {
    let (_d, store) = store();
    let expected = Digest::sha256_of(b"what the manifest said");
    let mut w = store.writer(Some(expected.clone()), None).unwrap();
    w.write_all(b"what the registry sent").unwrap();
    let e = w.commit().unwrap_err();
    let actual = Digest::sha256_of(b"what the registry sent");
    assert_eq!(
        e.to_string(),
        format!("blob digest mismatch: expected `{expected}`, got `{actual}`")
    );
    assert!(e.is_invalid_content());
    assert!(matches!(e, StoreError::DigestMismatch { .. }));
    assert!(!store.exists(&expected).unwrap());
    assert!(!store.exists(&actual).unwrap());
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn size_mismatch_short_and_long() {
    let (_d, store) = store();
    let d = Digest::sha256_of(b"12345");
    let mut w = store.writer(Some(d.clone()), Some(5)).unwrap();
    w.write_all(b"123").unwrap();
    let e = w.commit().unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("blob size mismatch for `{d}`: expected 5 bytes, got 3")
    );
    assert!(ingest_files(&store).is_empty());

    let mut w = store.writer(Some(d.clone()), Some(5)).unwrap();
    let e = w.write_all(b"123456").unwrap_err();
    assert!(e.to_string().contains("longer than its expected 5 bytes"), "{e}");
    drop(w);
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn dropped_writers_leave_nothing() {
    let (_d, store) = store();
    let mut a = store.writer(None, None).unwrap();
    a.write_all(&[1u8; 1 << 20]).unwrap();
    let mut b = store.writer(Some(Digest::sha256_of(b"x")), None).unwrap();
    b.write_all(b"partial").unwrap();
    assert_eq!(ingest_files(&store).len(), 2);
    drop(a);
    drop(b);
    assert!(ingest_files(&store).is_empty());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn committing_an_existing_blob_succeeds_and_discards() {
    let (_d, store) = store();
    let d = store.write_blob(b"same", None).unwrap();
    let again = store.write_blob(b"same", Some(&d)).unwrap();
    assert_eq!(again, d);
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(ingest_files(&store).is_empty());
}

#[test]
fn sha512_blobs() {
    let (_d, store) = store();
    let data = b"sha512 content";
    let d = berth_image::digest::Digest::of(Algorithm::Sha512, data);
    let got = store.write_blob(data, Some(&d)).unwrap();
    assert_eq!(got, d);
    assert!(store.blob_path(&d).to_string_lossy().contains("blobs/sha512/"));
    assert_eq!(store.read_all(&d).unwrap(), data);
    assert_eq!(store.list().unwrap(), vec![(d, data.len() as u64)]);
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn fsck_finds_corrupt_and_stray_files() {
    let (_d, store) = store();
    let good = store.write_blob(b"good", None).unwrap();
    let bad = store.write_blob(b"will rot", None).unwrap();
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.blobs, 2);

    let path = store.blob_path(&bad);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, b"bit rot").unwrap();
    let stray = store.root().join("blobs/sha256/not-a-digest");
    fs::write(&stray, b"").unwrap();
    let report = store.fsck().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].digest, bad);
    assert_eq!(report.corrupt[0].actual, Digest::sha256_of(b"bit rot"));
    assert_eq!(report.stray, vec![stray]);
    // The list shows only well-named blobs.
    assert_eq!(
        store.list().unwrap().iter().filter(|(d, _)| *d == good).count(),
        1
    );
}

#[test]
fn reopening_keeps_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let d = ContentStore::open(dir.path())
        .unwrap()
        .write_blob(b"kept", None)
        .unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    assert_eq!(store.read_all(&d).unwrap(), b"kept");
}
