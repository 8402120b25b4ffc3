//! `kill [--all] ID [SIGNAL]`.

use berth_oci::Status;

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::state::{pidfd_send_signal, ContainerState};

pub fn kill(g: &Global, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = crate::signal::parse(signal)?;
    let st = ContainerState::load(&g.root, id)?;
    if st.status(&g.root) == Status::Stopped {
        return Err(Error::msg(format!("container `{id}` is not running")));
    }
    if all {
        return signal_all(&st, sig);
    }
    let Some(fd) = st.pidfd()? else {
        return Err(Error::msg(format!("container `{id}` is not running")));
    };
    pidfd_send_signal(&fd, sig)
        .map_err(|e| Error::sys(format!("send signal {sig} to"), st.pid, e).in_container(id))
}

/// Signals every process of the container's cgroup. With SIGKILL the cgroup is frozen first so no
/// process can fork away while the signal goes round.
pub fn signal_all(st: &ContainerState, sig: i32) -> Result<()> {
    let Some(cg) = &st.cgroup else {
        return Err(Error::msg(format!(
            "container `{}` has no cgroup: cannot signal all its processes",
            st.id
        )));
    };
    let freeze = sig == libc::SIGKILL && cg.freeze().is_ok();
    let pids = cg.pids().map_err(|e| Error::msg(e.to_string()))?;
    for pid in pids {
        // SAFETY: kill with integer arguments; ESRCH for a process already gone is fine.
        unsafe { libc::kill(pid, sig) };
    }
    if freeze {
        let _ = cg.thaw();
    }
    Ok(())
}
