//! `pause`, `resume`: freeze and thaw the container's cgroup.

use berth_oci::Status;

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::state::ContainerState;

pub fn pause(g: &Global, id: &str) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    match st.status(&g.root) {
        Status::Running | Status::Created => {}
        s => return Err(Error::msg(format!("cannot pause container `{id}`: it is {s}"))),
    }
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::msg(format!("container `{id}` has no cgroup")))?;
    cg.freeze()
        .map_err(|e| Error::msg(format!("cannot pause container `{id}`: {e}")))
}

pub fn resume(g: &Global, id: &str) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    if st.status(&g.root) != Status::Paused {
        return Err(Error::msg(format!(
            "cannot resume container `{id}`: it is not paused"
        )));
    }
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::msg(format!("container `{id}` has no cgroup")))?;
    cg.thaw()
        .map_err(|e| Error::msg(format!("cannot resume container `{id}`: {e}")))
}
