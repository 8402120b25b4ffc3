//! `events [--stats] [--interval N]`: resource usage and OOM notices as JSON lines, like runc.

use std::time::Duration;

use berth_oci::Status;
use serde_json::json;

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::state::ContainerState;

pub fn events(g: &Global, id: &str, stats_once: bool, interval: Duration) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::msg(format!("container `{id}` has no cgroup")))?;
    if st.status(&g.root) == Status::Stopped {
        return Err(Error::msg(format!("container `{id}` is not running")));
    }
    let stats_line = || -> Result<String> {
        let s = cg
            .stats()
            .map_err(|e| Error::msg(format!("cannot read stats of container `{id}`: {e}")))?;
        Ok(json!({"type": "stats", "id": id, "data": s}).to_string())
    };
    if stats_once {
        println!("{}", stats_line()?);
        return Ok(());
    }
    let mut ooms = cg.oom_kill_count().unwrap_or(0);
    loop {
        if !st.init_alive() {
            return Ok(());
        }
        println!("{}", stats_line()?);
        // OOM notices are checked more often than stats are printed.
        let step = Duration::from_millis(200);
        let mut waited = Duration::ZERO;
        while waited < interval {
            std::thread::sleep(step.min(interval - waited));
            waited += step;
            let now = cg.oom_kill_count().unwrap_or(ooms);
            if now > ooms {
                println!("{}", json!({"type": "oom", "id": id}));
                ooms = now;
            }
            if !st.init_alive() {
                return Ok(());
            }
        }
    }
}
