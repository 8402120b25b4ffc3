//! `start`: let a created container's init exec its process.

use std::os::fd::AsFd;

use berth_oci::Status;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::commands::create::open_fd;
use crate::commands::Global;
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, ContainerState, EXEC_FIFO};

pub fn start(g: &Global, id: &str) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    match st.status(&g.root) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::msg(format!(
                "cannot start container `{id}`: it has stopped"
            )))
        }
        s => {
            return Err(Error::msg(format!(
                "cannot start container `{id}`: it is already {s}"
            )))
        }
    }
    let fifo_path = state::dir(&g.root, id).join(EXEC_FIFO);
    // Non-blocking open: it succeeds at once, and the init's blocking open for writing completes.
    let fifo = open_fd(&fifo_path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {
                if !st.init_alive() {
                    return Err(Error::msg(format!(
                        "cannot start container `{id}`: its init has exited"
                    )));
                }
            }
            Ok(_) => break,
            Err(e) => return Err(Error::sys("wait on", fifo_path.display(), e)),
        }
    }
    let mut buf = [0u8; 1];
    let n = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&fifo), &mut buf).unwrap_or(0);
    let _ = std::fs::remove_file(&fifo_path);
    if n != 1 {
        return Err(Error::msg(format!(
            "cannot start container `{id}`: its init exited before exec"
        )));
    }
    run_poststart(&st);
    Ok(())
}

/// poststart hooks: a failure is a warning, the container keeps running.
pub fn run_poststart(st: &ContainerState) {
    let Some(h) = &st.config.hooks else { return };
    for e in hooks::run_all("poststart", &h.poststart, &st.oci_state_with(Status::Running)) {
        eprintln!("berth-runtime: warning: {}", e.in_container(&st.id));
    }
}
