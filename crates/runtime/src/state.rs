//! A container's persisted state under the runtime root (`/run/berth-runtime/<id>/state.json`).
//!
//! Written once per transition with temp file + fsync + rename, so a crash leaves the old or the new
//! state, never half of one. The init's pid is stored with its start time (field 22 of
//! `/proc/PID/stat`): a recycled pid is never taken for the container.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use berth_oci::{Spec, Status};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot.
    pub pid_start: u64,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    /// None when the container has no cgroup of its own (cgroups disabled).
    pub cgroup: Option<berth_cgroups::Cgroup>,
    pub config: Spec,
}

/// The directory holding one container's state.
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Creates the container's state directory; fails if the id is taken. The directory's creation is
/// what reserves the id: two concurrent `create`s with one id cannot both succeed.
pub fn reserve(root: &Path, id: &str) -> Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(root)
        .step("create runtime root", root.display())?;
    let d = dir(root, id);
    match fs::DirBuilder::new().mode(0o711).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::msg(format!("container `{id}` already exists")))
        }
        Err(e) => Err(Error::io("create state directory", d.display(), e)),
    }
}

impl ContainerState {
    pub fn load(root: &Path, id: &str) -> Result<ContainerState> {
        berth_oci::validate::validate_id(id)?;
        let path = dir(root, id).join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::msg(format!("container `{id}` does not exist")));
            }
            Err(e) => return Err(Error::io("read state", path.display(), e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::msg(format!("corrupt state file `{}`: {e}", path.display())))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let d = dir(root, &self.id);
        let tmp = d.join(".state.json.tmp");
        let data = serde_json::to_vec(self).map_err(|e| Error::msg(format!("cannot encode state: {e}")))?;
        let mut f = fs::File::create(&tmp).step("create", tmp.display())?;
        f.write_all(&data).step("write", tmp.display())?;
        f.sync_all().step("sync", tmp.display())?;
        fs::rename(&tmp, d.join(STATE_FILE)).step("rename state file into", d.display())?;
        Ok(())
    }

    /// The container's status as it is now, derived from the process, the exec fifo and the freezer.
    pub fn status(&self, root: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if dir(root, &self.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if let Some(cg) = &self.cgroup {
            if cg.is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        Status::Running
    }

    /// True while the init process exists, is not a zombie, and is the process we started.
    pub fn init_alive(&self) -> bool {
        self.pid > 0
            && proc_start_time(self.pid).is_some_and(|(start, zombie)| start == self.pid_start && !zombie)
    }

    /// Opens a pidfd for the init, after checking it is still our process. Signals sent through the
    /// pidfd cannot reach a process that reused the pid after this check.
    pub fn pidfd(&self) -> Result<Option<OwnedFd>> {
        let fd = match pidfd_open(self.pid) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ESRCH) => return Ok(None),
            Err(e) => return Err(Error::sys("open pidfd of", self.pid, e)),
        };
        if !self.init_alive() {
            return Ok(None);
        }
        Ok(Some(fd))
    }

    pub fn oci_state(&self, root: &Path) -> berth_oci::State {
        let status = self.status(root);
        let mut s = self.oci_state_with(status);
        if status == Status::Stopped {
            s.pid = None;
        }
        s
    }

    /// The state handed to hooks, with the status of the phase they run in.
    pub fn oci_state_with(&self, status: Status) -> berth_oci::State {
        berth_oci::State {
            oci_version: berth_oci::OCI_VERSION.to_string(),
            id: self.id.clone(),
            status,
            pid: Some(self.pid),
            bundle: self.bundle.display().to_string(),
            annotations: self.config.annotations.clone(),
        }
    }
}

pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory is shared.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

pub fn pidfd_send_signal(fd: &OwnedFd, sig: i32) -> nix::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo (null) and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// Start time (clock ticks since boot) of a process and whether it is a zombie.
pub fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<(u64, bool)> {
    // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    // `rest` starts at field 3 (state); field 22 is starttime.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// RFC 3339 UTC timestamp with nanoseconds, as runc prints `created`.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Ref: Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Ids of all containers under `root` (directories with a state file), sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("list", root.display(), e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_names() {
        let s = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(parse_stat(s), Some((987654, false)));
        let z = "77 (x) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0";
        assert_eq!(parse_stat(z), Some((42, true)));
    }

    #[test]
    fn own_start_time_is_readable() {
        let (start, zombie) = proc_start_time(std::process::id() as i32).unwrap();
        assert!(start > 0 && !zombie);
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_305_600, 0), "2026-11-22T00:00:00.000000000Z");
    }

    #[test]
    fn reserve_refuses_duplicates() {
        let root = tempfile::tempdir().unwrap();
        reserve(root.path(), "a").unwrap();
        let e = reserve(root.path(), "a").unwrap_err();
        assert_eq!(e.to_string(), "container `a` already exists");
    }
}
