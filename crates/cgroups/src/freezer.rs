//! Freezing and thawing: v1 `freezer.state`, v2 `cgroup.freeze` + `cgroup.events`.
// Ref: runc (opencontainers/cgroups) fs/freezer.go, fs2/freezer.go.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::error::CgroupError;
use crate::file;

const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

enum Freezer {
    V1(PathBuf),
    V2(PathBuf),
}

fn freezer(cg: &Cgroup) -> Option<Freezer> {
    if cg.is_v2() {
        return cg.unified_dir().map(|d| Freezer::V2(d.to_path_buf()));
    }
    cg.v1_dir("freezer").map(|d| Freezer::V1(d.to_path_buf()))
}

fn failed(op: &'static str, path: &Path, reason: impl Into<String>) -> CgroupError {
    CgroupError::Freezer {
        op,
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(crate) fn freeze(cg: &Cgroup) -> Result<(), CgroupError> {
    let result = match freezer(cg) {
        None => {
            return Err(CgroupError::ControllerMissing {
                controller: "freezer",
                what: "the freezer state",
            })
        }
        Some(Freezer::V1(dir)) => freeze_v1(&dir),
        Some(Freezer::V2(dir)) => freeze_v2(&dir),
    };
    if result.is_err() {
        // Never leave a cgroup half frozen.
        let _ = thaw(cg);
    }
    result
}

/// A v1 cgroup can stay FREEZING while processes keep forking into it; write FROZEN again until it
/// takes, thawing now and then to let stragglers settle (runc's empirically tuned loop).
fn freeze_v1(dir: &Path) -> Result<(), CgroupError> {
    let path = dir.join("freezer.state");
    for i in 0..1000 {
        if i % 50 == 49 {
            let _ = file::write_raw(&path, "THAWED");
            std::thread::sleep(Duration::from_millis(10));
        }
        file::write(&path, "FROZEN")?;
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_micros(10));
        }
        let state = file::read_single(&path)?;
        match state.trim() {
            "FREEZING" => continue,
            "FROZEN" => return Ok(()),
            other => return Err(failed("freeze", &path, format!("unexpected state `{other}`"))),
        }
    }
    Err(failed("freeze", &path, "still FREEZING after 1000 attempts"))
}

fn freeze_v2(dir: &Path) -> Result<(), CgroupError> {
    file::write(&dir.join("cgroup.freeze"), "1")?;
    wait_frozen_v2(dir)
}

/// Polls `cgroup.events` until `frozen 1`, starting with short sleeps: a small cgroup freezes in
/// microseconds.
fn wait_frozen_v2(dir: &Path) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.events");
    let start = Instant::now();
    let mut delay = Duration::from_micros(50);
    loop {
        let events = file::read_single(&path)?;
        if events.lines().any(|l| l.trim() == "frozen 1") {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            return Err(failed(
                "freeze",
                &path,
                format!("not frozen after {FREEZE_TIMEOUT:?}"),
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn thaw(cg: &Cgroup) -> Result<(), CgroupError> {
    match freezer(cg) {
        None => Ok(()),
        Some(Freezer::V1(dir)) => file::write(&dir.join("freezer.state"), "THAWED"),
        Some(Freezer::V2(dir)) => {
            let path = dir.join("cgroup.freeze");
            match file::write_raw(&path, "0") {
                // No freezer in this kernel: nothing can be frozen.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                r => r.map_err(|e| file::write_err(&path, "0", &e)),
            }
        }
    }
}

pub(crate) fn is_frozen(cg: &Cgroup) -> Result<bool, CgroupError> {
    match freezer(cg) {
        None => Ok(false),
        Some(Freezer::V1(dir)) => {
            let path = dir.join("freezer.state");
            let start = Instant::now();
            loop {
                let Some(state) = file::read_opt(&path)? else {
                    return Ok(false);
                };
                match state.trim() {
                    "THAWED" => return Ok(false),
                    // FROZEN also shows when only an ancestor is frozen; runc calls that thawed.
                    "FROZEN" => {
                        return Ok(file::read_opt(&dir.join("freezer.self_freezing"))?
                            .is_none_or(|s| s.trim() == "1"))
                    }
                    "FREEZING" if start.elapsed() < FREEZE_TIMEOUT => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    other => {
                        return Err(failed(
                            "read the freezer state of",
                            &path,
                            format!("state `{other}`"),
                        ))
                    }
                }
            }
        }
        Some(Freezer::V2(dir)) => match file::read_opt(&dir.join("cgroup.freeze"))? {
            None => Ok(false),
            Some(s) if s.trim() == "0" => Ok(false),
            Some(_) => wait_frozen_v2(&dir).map(|()| true),
        },
    }
}
