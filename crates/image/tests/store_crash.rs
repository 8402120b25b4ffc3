//! `kill -9` in the middle of an ingest leaves a consistent store: no partial blob, a resumable
//! partial for a known digest (resumed from its offset), an orphan for an unknown one (removed by
//! `clean_ingest`). The writer runs in a child process (this test binary, re-run on the ignored
//! `child_*` test) that is killed while it holds the ingest open.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use berth_image::digest::Digest;
use berth_image::store::ContentStore;

const ENV_DIR: &str = "BERTH_STORE_CRASH_DIR";
const ENV_KEYED: &str = "BERTH_STORE_CRASH_KEYED";
const WRITTEN: usize = 3_000_000;

fn data() -> Vec<u8> {
    (0..8_000_000usize)
        .map(|i| (i % 253) as u8 ^ (i >> 9) as u8)
        .collect()
}

/// Not a test on its own: the child's side. Writes part of the blob, says so, then waits to die.
#[test]
#[ignore = "run by kill_dash_9_* in a child process"]
fn child_writes_then_hangs() {
    let Ok(dir) = std::env::var(ENV_DIR) else { return };
    let keyed = std::env::var(ENV_KEYED).is_ok();
    let store = ContentStore::open(&dir).unwrap();
    let data = data();
    let d = Digest::sha256_of(&data);
    let mut w = store.writer(keyed.then_some(d), Some(data.len() as u64)).unwrap();
    w.write_all(&data[..WRITTEN]).unwrap();
    w.flush().unwrap();
    std::fs::write(Path::new(&dir).join("ready"), b"").unwrap();
    std::thread::sleep(Duration::from_secs(120));
    panic!("child was not killed");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the child on `dir`, waits until it has written, and SIGKILLs it.
fn run_and_kill(dir: &Path, keyed: bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "child_writes_then_hangs", "--nocapture"])
        .env(ENV_DIR, dir);
    if keyed {
        cmd.env(ENV_KEYED, "1");
    }
    let mut child = Killed(cmd.spawn().unwrap());
    let ready = dir.join("ready");
    let start = Instant::now();
    while !ready.exists() {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        assert!(start.elapsed() < Duration::from_secs(60), "child never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.0.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.0.wait().unwrap();
    std::fs::remove_file(ready).unwrap();
}

fn store_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("content");
    ContentStore::open(&dir).unwrap();
    (t, dir)
}

#[test]
fn kill_dash_9_mid_keyed_ingest_resumes() {
    let (_t, dir) = store_dir();
    run_and_kill(&dir, true);

    let store = ContentStore::open(&dir).unwrap();
    let data = data();
    let d = Digest::sha256_of(&data);
    assert!(!store.exists(&d).unwrap(), "no blob from a killed ingest");
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.active, 0, "the dead writer's lock is gone");
    assert_eq!(report.resumable.len(), 1);
    assert_eq!(report.resumable[0].digest, d);
    assert_eq!(report.resumable[0].size, WRITTEN as u64);

    let mut w = store.writer(Some(d.clone()), Some(data.len() as u64)).unwrap();
    assert_eq!(w.offset(), WRITTEN as u64, "resume where the killed pull stopped");
    w.write_all(&data[WRITTEN..]).unwrap();
    assert_eq!(w.commit().unwrap(), d);
    assert_eq!(store.read_all(&d).unwrap(), data);
    let report = store.fsck().unwrap();
    assert!(report.is_clean() && report.resumable.is_empty(), "{report:?}");
}

#[test]
fn kill_dash_9_mid_unkeyed_ingest_leaves_an_orphan_to_clean() {
    let (_t, dir) = store_dir();
    run_and_kill(&dir, false);

    let store = ContentStore::open(&dir).unwrap();
    assert!(store.list().unwrap().is_empty());
    let report = store.fsck().unwrap();
    assert_eq!(report.orphans.len(), 1, "{report:?}");
    assert!(!report.is_clean());
    // A live ingest alongside is left alone by the cleanup.
    let mut live = store.writer(None, None).unwrap();
    live.write_all(b"in progress").unwrap();
    assert_eq!(store.clean_ingest(false).unwrap(), 1);
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.active, 1);
    let d = live.commit().unwrap();
    assert_eq!(store.read_all(&d).unwrap(), b"in progress");
}

#[test]
fn clean_ingest_with_partials_removes_resumable_too() {
    let (_t, dir) = store_dir();
    run_and_kill(&dir, true);
    let store = ContentStore::open(&dir).unwrap();
    assert_eq!(store.clean_ingest(false).unwrap(), 0);
    assert_eq!(store.clean_ingest(true).unwrap(), 1);
    let report = store.fsck().unwrap();
    assert!(report.is_clean() && report.resumable.is_empty());
}
