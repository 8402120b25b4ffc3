//! `delete [--force] ID`: remove a stopped (or, forced, any) container: its processes, cgroup and state.

use std::time::{Duration, Instant};

use berth_oci::Status;

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, ContainerState};

pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    berth_oci::validate::validate_id(id)?;
    let st = match ContainerState::load(&g.root, id) {
        Ok(st) => st,
        Err(e) => {
            // A state directory without a state file is an aborted create: remove it.
            let d = state::dir(&g.root, id);
            if d.is_dir() && !d.join(state::STATE_FILE).exists() {
                std::fs::remove_dir_all(&d).map_err(|e| Error::io("remove", d.display(), e))?;
                return Ok(());
            }
            return if force { Ok(()) } else { Err(e) };
        }
    };
    match st.status(&g.root) {
        Status::Stopped | Status::Created => {}
        s if force => {
            let _ = s;
        }
        s => {
            return Err(Error::msg(format!(
                "cannot delete container `{id}` that is not stopped: {s} (use --force)"
            )))
        }
    }
    destroy(g, &st)
}

/// Kills whatever is left, removes the cgroup and the state, runs poststop hooks. Every step runs
/// even when an earlier one failed; the failures are reported together.
pub fn destroy(g: &Global, st: &ContainerState) -> Result<()> {
    let mut errors = Vec::new();
    if st.init_alive() {
        if let Ok(Some(fd)) = st.pidfd() {
            let _ = state::pidfd_send_signal(&fd, libc::SIGKILL);
        }
    }
    if let Some(cg) = &st.cgroup {
        if let Ok(pids) = cg.pids() {
            if !pids.is_empty() {
                let _ = crate::commands::kill::signal_all(st, libc::SIGKILL);
            }
        }
        // The processes take a moment to leave the cgroup after SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(10);
        while st.init_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Err(e) = cg.destroy() {
            errors.push(e.to_string());
        }
    }
    let d = state::dir(&g.root, &st.id);
    if let Err(e) = std::fs::remove_dir_all(&d) {
        if e.kind() != std::io::ErrorKind::NotFound {
            errors.push(format!("cannot remove `{}`: {e}", d.display()));
        }
    }
    if let Some(h) = &st.config.hooks {
        for e in hooks::run_all("poststop", &h.poststop, &st.oci_state_with(Status::Stopped)) {
            eprintln!("berth-runtime: warning: {}", e.in_container(&st.id));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "cannot fully delete container `{}`: {}",
            st.id,
            errors.join("; ")
        )))
    }
}
