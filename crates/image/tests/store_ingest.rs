//! Resumable and concurrent ingests.

use std::fs;
use std::io::Write;
use std::sync::{Arc, Barrier};

use berth_image::digest::Digest;
use berth_image::store::{ContentStore, StoreError};

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    (dir, store)
}

fn blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i >> 10) as u8).collect()
}

fn ingest_count(store: &ContentStore) -> usize {
    fs::read_dir(store.root().join("ingest")).unwrap().count()
}

#[test]
fn suspended_ingest_resumes_at_its_offset() {
    let (_d, store) = store();
    let data = blob(1_000_000);
    let d = Digest::sha256_of(&data);
    let mut w = store.writer(Some(d.clone()), Some(data.len() as u64)).unwrap();
    w.write_all(&data[..400_000]).unwrap();
    assert_eq!(w.suspend().unwrap(), 400_000);
    assert_eq!(ingest_count(&store), 1);
    let report = store.fsck().unwrap();
    assert!(report.is_clean());
    assert_eq!(report.resumable.len(), 1);
    assert_eq!(
        (report.resumable[0].digest.clone(), report.resumable[0].size),
        (d.clone(), 400_000)
    );

    let mut w = store.writer(Some(d.clone()), Some(data.len() as u64)).unwrap();
    assert_eq!(w.offset(), 400_000);
    w.write_all(&data[400_000..]).unwrap();
    assert_eq!(w.commit().unwrap(), d);
    assert_eq!(store.read_all(&d).unwrap(), data);
    assert_eq!(ingest_count(&store), 0);
}

#[test]
fn corrupt_partial_fails_the_commit_then_starts_over() {
    let (_d, store) = store();
    let data = blob(100_000);
    let d = Digest::sha256_of(&data);
    let mut w = store.writer(Some(d.clone()), None).unwrap();
    w.write_all(&data[..50_000]).unwrap();
    w.suspend().unwrap();
    // Damage the kept bytes (a torn write after power loss, say).
    let partial = store.root().join(format!("ingest/sha256-{}", d.encoded()));
    let mut bytes = fs::read(&partial).unwrap();
    bytes[10] ^= 0xff;
    fs::write(&partial, bytes).unwrap();

    let mut w = store.writer(Some(d.clone()), None).unwrap();
    assert_eq!(w.offset(), 50_000);
    w.write_all(&data[50_000..]).unwrap();
    let e = w.commit().unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { .. }), "{e:?}");
    assert_eq!(ingest_count(&store), 0, "a failed commit removes its partial");

    let mut w = store.writer(Some(d.clone()), None).unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(&data).unwrap();
    assert_eq!(w.commit().unwrap(), d);
}

#[test]
fn partial_longer_than_the_blob_is_dropped() {
    let (_d, store) = store();
    let d = Digest::sha256_of(b"short");
    let mut w = store.writer(Some(d.clone()), None).unwrap();
    w.write_all(b"far too long for it").unwrap();
    w.suspend().unwrap();
    let mut w = store.writer(Some(d.clone()), Some(5)).unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(b"short").unwrap();
    assert_eq!(w.commit().unwrap(), d);
}

#[test]
fn reset_starts_over_when_range_was_ignored() {
    let (_d, store) = store();
    let data = blob(10_000);
    let d = Digest::sha256_of(&data);
    let mut w = store.writer(Some(d.clone()), None).unwrap();
    w.write_all(&data[..3_000]).unwrap();
    w.suspend().unwrap();
    let mut w = store.writer(Some(d.clone()), None).unwrap();
    assert_eq!(w.offset(), 3_000);
    w.reset().unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(&data).unwrap();
    assert_eq!(w.commit().unwrap(), d);
}

#[test]
fn unkeyed_suspend_keeps_nothing() {
    let (_d, store) = store();
    let mut w = store.writer(None, None).unwrap();
    w.write_all(b"abc").unwrap();
    assert_eq!(w.suspend().unwrap(), 0);
    assert_eq!(ingest_count(&store), 0);
}

#[test]
fn second_live_writer_of_a_digest_gets_its_own_file() {
    let (_d, store) = store();
    let data = blob(300_000);
    let d = Digest::sha256_of(&data);
    let mut a = store.writer(Some(d.clone()), None).unwrap();
    a.write_all(&data[..1000]).unwrap();
    a.flush().unwrap();
    let mut b = store.writer(Some(d.clone()), None).unwrap();
    assert_eq!(b.offset(), 0, "must not resume from a live writer's bytes");
    assert_eq!(ingest_count(&store), 2);
    let report = store.fsck().unwrap();
    assert_eq!(report.active, 2);
    assert!(report.is_clean() && report.resumable.is_empty());
    b.write_all(&data).unwrap();
    a.write_all(&data[1000..]).unwrap();
    assert_eq!(b.commit().unwrap(), d);
    assert_eq!(a.commit().unwrap(), d);
    assert_eq!(store.read_all(&d).unwrap(), data);
    assert_eq!(ingest_count(&store), 0);
}

#[test]
fn many_concurrent_ingests_of_one_blob_all_succeed() {
    let (_d, store) = store();
    let data = Arc::new(blob(2_000_000));
    let d = Digest::sha256_of(&data);
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (store, data, d, barrier) =
                (store.clone(), Arc::clone(&data), d.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let keyed = i % 2 == 0;
                let mut w = store
                    .writer(keyed.then(|| d.clone()), Some(data.len() as u64))
                    .unwrap();
                let start = w.offset() as usize;
                for chunk in data[start..].chunks(65_536 + i) {
                    w.write_all(chunk).unwrap();
                }
                w.commit()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), d);
    }
    assert_eq!(store.read_all(&d).unwrap(), *data);
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(ingest_count(&store), 0);
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn commit_racing_a_new_writer_never_touches_the_blob() {
    // A writer opening the keyed file just as the holder commits must not end up writing into the
    // renamed file (now the blob).
    let (_d, store) = store();
    for round in 0..50 {
        let data = blob(10_000 + round);
        let d = Digest::sha256_of(&data);
        let mut a = store.writer(Some(d.clone()), None).unwrap();
        a.write_all(&data).unwrap();
        let (s2, d2, data2) = (store.clone(), d.clone(), data.clone());
        let t = std::thread::spawn(move || {
            let mut b = s2.writer(Some(d2.clone()), None).unwrap();
            let off = b.offset() as usize;
            b.write_all(&data2[off..]).unwrap();
            b.commit().unwrap()
        });
        assert_eq!(a.commit().unwrap(), d);
        assert_eq!(t.join().unwrap(), d);
        assert_eq!(store.read_all(&d).unwrap(), data, "round {round}");
    }
    assert_eq!(ingest_count(&store), 0);
    assert!(store.fsck().unwrap().is_clean());
}

/// A crash left a partial (or even complete, uncommitted) ingest of a small blob: writing the
/// whole blob in one go starts over instead of appending to it.
#[test]
fn write_blob_over_a_leftover_partial_starts_over() {
    let (_d, store) = store();
    let data = blob(407);
    let d = Digest::sha256_of(&data);
    for kept in [100, 407] {
        let mut w = store.writer(Some(d.clone()), Some(data.len() as u64)).unwrap();
        w.write_all(&data[..kept]).unwrap();
        w.suspend().unwrap();
        assert_eq!(store.write_blob(&data, Some(&d)).unwrap(), d);
        assert_eq!(store.read_all(&d).unwrap(), data);
        assert_eq!(ingest_count(&store), 0);
        store.delete(&d).unwrap();
    }
}
