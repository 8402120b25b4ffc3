//! Read-only commands: `state`, `list`, `ps`.

use std::io::Write;
use std::process::Command;

use berth_oci::Status;
use serde::Serialize;

use crate::commands::Global;
use crate::error::{Error, Result};
use crate::state::{self, ContainerState};

pub fn state(g: &Global, id: &str) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    let s = st.oci_state(&g.root);
    println!(
        "{}",
        serde_json::to_string_pretty(&s).map_err(|e| Error::msg(e.to_string()))?
    );
    Ok(())
}

#[derive(Serialize)]
struct ListEntry {
    #[serde(rename = "ociVersion")]
    oci_version: String,
    id: String,
    pid: i32,
    status: Status,
    bundle: String,
    rootfs: String,
    created: String,
    owner: String,
}

pub fn list(g: &Global, json: bool, quiet: bool) -> Result<()> {
    let mut entries = Vec::new();
    for id in state::list_ids(&g.root)? {
        let Ok(st) = ContainerState::load(&g.root, &id) else {
            continue;
        };
        let status = st.status(&g.root);
        entries.push(ListEntry {
            oci_version: berth_oci::OCI_VERSION.into(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status,
            bundle: st.bundle.display().to_string(),
            rootfs: st.rootfs.display().to_string(),
            created: st.created.clone(),
            owner: st.owner.clone(),
        });
    }
    let mut out = std::io::stdout().lock();
    if quiet {
        for e in &entries {
            let _ = writeln!(out, "{}", e.id);
        }
    } else if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&entries).map_err(|e| Error::msg(e.to_string()))?
        );
    } else {
        let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec()];
        for e in &entries {
            rows.push(vec![
                e.id.clone(),
                e.pid.to_string(),
                e.status.to_string(),
                e.bundle.clone(),
                e.created.clone(),
                e.owner.clone(),
            ]);
        }
        let _ = out.write_all(table(&rows, 12, 3).as_bytes());
    }
    Ok(())
}

/// Columns aligned as Go's tabwriter with (minwidth, padding) aligns them; the last column is not padded.
pub fn table(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max((c.chars().count() + padding).max(minwidth));
        }
    }
    let mut s = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            s.push_str(c);
            if i + 1 < r.len() {
                s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
            }
        }
        s.push('\n');
    }
    s
}

/// `ps ID [ps args]`: `ps` output filtered to the container's processes, or `--format json` pids.
pub fn ps(g: &Global, id: &str, json: bool, ps_args: &[String]) -> Result<()> {
    let st = ContainerState::load(&g.root, id)?;
    let cg = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::msg(format!("container `{id}` has no cgroup")))?;
    let pids = cg.pids().map_err(|e| Error::msg(e.to_string()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&pids).map_err(|e| Error::msg(e.to_string()))?
        );
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run", "ps", e))?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("no PID column in the output of ps"))?;
    println!("{header}");
    for l in lines {
        if let Some(p) = l
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&p) {
                println!("{l}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_like_tabwriter() {
        let rows = vec![
            vec!["ID".to_string(), "PID".to_string(), "STATUS".to_string()],
            vec![
                "a-long-container-id".to_string(),
                "42".to_string(),
                "running".to_string(),
            ],
        ];
        let t = super::table(&rows, 12, 3);
        let want = format!(
            "{:<22}{:<12}STATUS\n{:<22}{:<12}running\n",
            "ID", "PID", "a-long-container-id", "42"
        );
        assert_eq!(t, want);
    }
}
