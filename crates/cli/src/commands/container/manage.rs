//! The lifecycle verbs and small container commands: stop, restart, kill, rm, wait, pause,
//! unpause, rename, update, prune, commit, export, diff, top, port, inspect.
//!
//! Ref: docker/cli cli/command/container/{stop,restart,kill,rm,wait,pause,unpause,rename,update,
//! prune,commit,export,diff,top,port,inspect}.go.

use std::io::{self, Write};

use clap::Args;
use serde_json::{json, Value};

use super::{call, each, inspect_container, inspect_container_raw, opts, sv};
use crate::client::Query;
use crate::commands::{confirm, out, parse_bool, Ctx};
use crate::error::{Error, Result};
use crate::format::{filters_json, human_size, is_tty};
use crate::http::Request;
use crate::reference::Reference;

// ---------------------------------------------------------------------------------------------
// stop / restart / kill

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long, value_name = "int", value_parser = opts::flag_i64, allow_hyphen_values = true)]
    pub timeout: Option<i64>,
    /// Seconds to wait before killing the container (deprecated: use --timeout)
    #[arg(long, value_name = "int", value_parser = opts::flag_i64, allow_hyphen_values = true, hide = true)]
    pub time: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

fn stop_query(a: &StopArgs) -> Result<Query> {
    if a.time.is_some() && a.timeout.is_some() {
        return Err(Error::msg(
            "conflicting options: cannot specify both --timeout and --time",
        ));
    }
    if a.time.is_some() {
        eprintln!("Flag --time has been deprecated, use --timeout instead");
    }
    let t = a.timeout.or(a.time);
    Ok(Query::new()
        .add_opt("signal", a.signal.as_deref().filter(|s| !s.is_empty()))
        .add_opt("t", t.map(|t| t.to_string()).as_deref()))
}

pub fn stop(ctx: &mut Ctx, a: &StopArgs) -> Result<()> {
    let q = stop_query(a)?;
    each(&a.containers, |c| {
        call(ctx, "POST", format!("/containers/{c}/stop{q}"))
    })
}

pub fn restart(ctx: &mut Ctx, a: &StopArgs) -> Result<()> {
    let q = stop_query(a)?;
    each(&a.containers, |c| {
        call(ctx, "POST", format!("/containers/{c}/restart{q}"))
    })
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn kill(ctx: &mut Ctx, a: &KillArgs) -> Result<()> {
    let q = Query::new().add_opt("signal", a.signal.as_deref().filter(|s| !s.is_empty()));
    each(&a.containers, |c| {
        call(ctx, "POST", format!("/containers/{c}/kill{q}"))
    })
}

// ---------------------------------------------------------------------------------------------
// rm / wait / pause / unpause / rename

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the specified link
    #[arg(short = 'l', long)]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn rm(ctx: &mut Ctx, a: &RmArgs) -> Result<()> {
    let q = Query::new()
        .add_if(a.force, "force", "1")
        .add_if(a.link, "link", "1")
        .add_if(a.volumes, "v", "1");
    let mut errs = Vec::new();
    for name in &a.containers {
        let id = name.trim_matches('/');
        let r = if id.is_empty() {
            Err(Error::msg("container name cannot be empty"))
        } else {
            call(ctx, "DELETE", format!("/containers/{id}{q}"))
        };
        match r {
            Ok(()) => out(&format!("{name}\n"))?,
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) if a.force && e.is_not_found() => eprintln!("{e}"),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errs.join("\n")))
    }
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn wait(ctx: &mut Ctx, a: &NamesArgs) -> Result<()> {
    let mut errs = Vec::new();
    for c in &a.containers {
        match ctx.client.post(&format!("/containers/{c}/wait"), None) {
            Ok(v) => out(&format!(
                "{}\n",
                v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0)
            ))?,
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errs.join("\n")))
    }
}

pub fn pause(ctx: &mut Ctx, a: &NamesArgs) -> Result<()> {
    each(&a.containers, |c| {
        call(ctx, "POST", format!("/containers/{c}/pause"))
    })
}

pub fn unpause(ctx: &mut Ctx, a: &NamesArgs) -> Result<()> {
    each(&a.containers, |c| {
        call(ctx, "POST", format!("/containers/{c}/unpause"))
    })
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

pub fn rename(ctx: &mut Ctx, a: &RenameArgs) -> Result<()> {
    let old = a.container.trim();
    let new = a.new_name.trim();
    if old.is_empty() || new.is_empty() {
        return Err(Error::msg("Error: Neither old nor new names may be empty"));
    }
    let q = Query::new().add("name", new);
    if let Err(e) = call(ctx, "POST", format!("/containers/{old}/rename{q}")) {
        if let Error::Connect(_) = e {
            return Err(e);
        }
        eprintln!("{e}");
        return Err(Error::msg(format!(
            "Error: failed to rename container named {old}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// update

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16", value_parser = opts::flag_u16)]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", value_parser = opts::flag_i64)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", value_parser = opts::flag_i64, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int", value_parser = opts::flag_i64)]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int", value_parser = opts::flag_i64)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", value_parser = opts::flag_i64)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", value_parser = opts::parse_cpus)]
    pub cpus: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (deprecated)
    #[arg(long = "kernel-memory", value_name = "bytes", value_parser = opts::ram_in_bytes, hide = true)]
    pub kernel_memory: Option<i64>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = opts::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = opts::mem_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", value_parser = opts::flag_i64, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// The body of `POST /containers/{id}/update` (docker's `UpdateConfig`).
pub fn update_body(a: &UpdateArgs) -> Result<Value> {
    let any = a.blkio_weight.is_some()
        || a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpu_shares.is_some()
        || a.cpus.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.kernel_memory.is_some()
        || a.memory.is_some()
        || a.memory_reservation.is_some()
        || a.memory_swap.is_some()
        || a.pids_limit.is_some()
        || a.restart.is_some();
    if !any {
        return Err(Error::msg(
            "you must provide one or more flags when using this command",
        ));
    }
    let (name, count) = match a.restart.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => opts::parse_restart_policy(r).map_err(Error::Msg)?,
        None => (String::new(), 0),
    };
    let pids = a.pids_limit.filter(|p| *p != 0);
    let mut body = json!({
        "CpuShares": a.cpu_shares.unwrap_or(0),
        "Memory": a.memory.unwrap_or(0),
        "NanoCpus": a.cpus.unwrap_or(0),
        "CgroupParent": "",
        "BlkioWeight": a.blkio_weight.unwrap_or(0),
        "BlkioWeightDevice": null,
        "BlkioDeviceReadBps": null,
        "BlkioDeviceWriteBps": null,
        "BlkioDeviceReadIOps": null,
        "BlkioDeviceWriteIOps": null,
        "CpuPeriod": a.cpu_period.unwrap_or(0),
        "CpuQuota": a.cpu_quota.unwrap_or(0),
        "CpuRealtimePeriod": a.cpu_rt_period.unwrap_or(0),
        "CpuRealtimeRuntime": a.cpu_rt_runtime.unwrap_or(0),
        "CpusetCpus": a.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": a.cpuset_mems.clone().unwrap_or_default(),
        "Devices": null,
        "DeviceCgroupRules": null,
        "DeviceRequests": null,
        "MemoryReservation": a.memory_reservation.unwrap_or(0),
        "MemorySwap": a.memory_swap.unwrap_or(0),
        "MemorySwappiness": null,
        "OomKillDisable": null,
        "PidsLimit": pids,
        "Ulimits": null,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": count},
    });
    if let Some(k) = a.kernel_memory.filter(|k| *k != 0) {
        body["KernelMemory"] = json!(k);
    }
    Ok(body)
}

pub fn update(ctx: &mut Ctx, a: &UpdateArgs) -> Result<()> {
    let body = update_body(a)?;
    let mut warns = Vec::new();
    let mut errs = Vec::new();
    for c in &a.containers {
        match ctx.client.post(&format!("/containers/{c}/update"), Some(&body)) {
            Ok(v) => {
                out(&format!("{c}\n"))?;
                if let Some(w) = v.get("Warnings").and_then(Value::as_array) {
                    warns.extend(w.iter().filter_map(Value::as_str).map(str::to_string));
                }
            }
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !warns.is_empty() {
        out(&format!("{}\n", warns.join("\n")))?;
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errs.join("\n")))
    }
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter", value_parser = super::list::validate_filter)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `--filter` values plus the config file's `pruneFilters`. Ref: docker/cli `PruneFilters`.
pub fn prune_filters(ctx: &Ctx, flags: &[String]) -> Vec<String> {
    let mut all = flags.to_vec();
    let Ok(cfg) = crate::config::ConfigFile::load(&ctx.config_dir) else {
        return all;
    };
    let Some(extra) = cfg.value.get("pruneFilters").and_then(Value::as_array) else {
        return all;
    };
    for f in extra.iter().filter_map(Value::as_str) {
        let Some((k, v)) = f.split_once('=') else {
            continue;
        };
        let conflicting = match k {
            "label" => format!("label!={v}"),
            "label!" => format!("label={v}"),
            _ => String::new(),
        };
        if !conflicting.is_empty() && all.contains(&conflicting) {
            continue;
        }
        all.push(f.to_string());
    }
    all
}

pub fn prune(ctx: &mut Ctx, a: &ContainerPruneArgs) -> Result<()> {
    let filters = prune_filters(ctx, &a.filter);
    if !a.force
        && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?")?
    {
        return Ok(());
    }
    let f = filters_json(&filters, &[])?;
    let q = Query::new().add_opt("filters", f.as_deref());
    let report = ctx.client.post(&format!("/containers/prune{q}"), None)?;
    let mut s = String::new();
    let mut space = 0;
    if let Some(ids) = report
        .get("ContainersDeleted")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        s.push_str("Deleted Containers:\n");
        for id in ids.iter().filter_map(Value::as_str) {
            s.push_str(id);
            s.push('\n');
        }
        s.push('\n');
        space = report.get("SpaceReclaimed").and_then(Value::as_i64).unwrap_or(0);
    }
    s.push_str(&format!("Total reclaimed space: {}\n", human_size(space as f64)));
    out(&s)
}

// ---------------------------------------------------------------------------------------------
// commit / export / diff / top / port

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string", default_value = "")]
    pub author: String,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long, value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long, value_name = "string", default_value = "")]
    pub message: String,
    /// Pause container during commit
    #[arg(short = 'p', long, value_name = "bool", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_parser = parse_bool)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

pub fn commit(ctx: &mut Ctx, a: &CommitArgs) -> Result<()> {
    let (mut repo, mut tag) = (String::new(), String::new());
    if let Some(r) = a.reference.as_deref().filter(|r| !r.is_empty()) {
        let r = Reference::parse(r)?;
        if r.digest.is_some() {
            return Err(Error::msg("refusing to create a tag with a digest reference"));
        }
        let r = r.tag_name_only();
        tag = r.tag.clone().unwrap_or_default();
        repo = r.name();
    }
    let mut q = Query::new().add("author", &a.author);
    for c in &a.change {
        q = q.add("changes", c);
    }
    let q = q
        .add("comment", &a.message)
        .add("container", &a.container)
        .add_if(!a.pause, "pause", "0")
        .add("repo", &repo)
        .add("tag", &tag);
    let v = ctx.client.post(&format!("/commit{q}"), None)?;
    out(&format!("{}\n", sv(&v, "Id")))
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<std::path::PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn export(ctx: &mut Ctx, a: &ExportArgs) -> Result<()> {
    if a.output.is_none() && is_tty(1) {
        return Err(Error::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let mut resp = ctx
        .client
        .send(Request::new("GET", format!("/containers/{}/export", a.container)))?;
    match &a.output {
        None => {
            let mut o = io::stdout().lock();
            io::copy(&mut resp.body, &mut o)?;
            o.flush()?;
            Ok(())
        }
        Some(path) => {
            // Ref: moby atomicwriter: a temporary file next to the target, renamed at the end.
            use std::os::unix::fs::OpenOptionsExt;
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = dir.join(format!(".berth_export_{}", std::process::id()));
            let res = (|| -> io::Result<()> {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                io::copy(&mut resp.body, &mut f)?;
                f.sync_all()?;
                std::fs::rename(&tmp, path)
            })();
            if let Err(e) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::msg(format!(
                    "failed to export container: {}: {}",
                    path.display(),
                    opts::io_text(&e)
                )));
            }
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct OneArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn diff(ctx: &mut Ctx, a: &OneArgs) -> Result<()> {
    if a.container.is_empty() {
        return Err(Error::msg("Container name cannot be empty"));
    }
    let v = ctx.client.get(&format!("/containers/{}/changes", a.container))?;
    let mut s = String::new();
    for c in v.as_array().into_iter().flatten() {
        let kind = match c.get("Kind").and_then(Value::as_i64) {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "",
        };
        s.push_str(&format!("{kind} {}\n", sv(c, "Path")));
    }
    out(&s)
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

pub fn top(ctx: &mut Ctx, a: &TopArgs) -> Result<()> {
    let q = Query::new().add_if(!a.args.is_empty(), "ps_args", &a.args.join(" "));
    let v = ctx.client.get(&format!("/containers/{}/top{q}", a.container))?;
    let strs = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    };
    let mut body = strs(&v["Titles"]).join("\t");
    body.push('\n');
    for p in v["Processes"].as_array().into_iter().flatten() {
        body.push_str(&strs(p).join("\t"));
        body.push('\n');
    }
    let mut tw = berth_gotemplate::TabWriter::new(20, 1, 3, ' ');
    tw.write_str(&body);
    out(&tw.finish())
}

#[derive(Debug, Args)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// Ref: fvbommel/sortorder `NaturalLess`: digit runs compare as numbers.
pub fn natural_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ca, cb) = (a[i], b[j]);
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let (ni, nj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (da, db) = (&a[ni..i], &b[nj..j]);
            if da.len() != db.len() {
                return da.len() < db.len();
            }
            if da != db {
                return da < db;
            }
            if i - si != j - sj {
                return i - si < j - sj;
            }
            continue;
        }
        if ca != cb {
            return ca < cb;
        }
        i += 1;
        j += 1;
    }
    a.len() - i < b.len() - j || (i == a.len() && j < b.len())
}

pub fn port(ctx: &mut Ctx, a: &PortArgs) -> Result<()> {
    let c = inspect_container(ctx, &a.container, false)?;
    let ports = c["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let hp = |f: &Value| super::list::join_host_port(sv(f, "HostIp"), sv(f, "HostPort"));
    let mut lines = Vec::new();
    if let Some(p) = &a.port {
        let (port, proto) = p.split_once('/').unwrap_or((p.as_str(), ""));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if let Err(e) = opts::go_uint(port, 16).and_then(|_| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!(
                    "strconv.ParseUint: parsing {}: invalid syntax",
                    opts::go_quote(port)
                ))
            }
        }) {
            return Err(Error::msg(format!("Error: invalid port ({port}): {e}")));
        }
        let frontends = ports
            .get(&format!("{port}/{proto}"))
            .and_then(Value::as_array)
            .filter(|f| !f.is_empty());
        let Some(frontends) = frontends else {
            return Err(Error::msg(format!(
                "Error: No public port '{p}' published for {}",
                a.container
            )));
        };
        lines.extend(frontends.iter().map(hp));
    } else {
        for (from, frontends) in &ports {
            for f in frontends.as_array().into_iter().flatten() {
                lines.push(format!("{from} -> {}", hp(f)));
            }
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    lines.sort_by(|x, y| {
        if natural_less(x, y) {
            std::cmp::Ordering::Less
        } else if natural_less(y, x) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    out(&format!("{}\n", lines.join("\n")))
}

// ---------------------------------------------------------------------------------------------
// inspect

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template:
    /// 'json':             Print in JSON format
    /// 'TEMPLATE':         Print output using the given Go template.
    /// Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates
    #[arg(short = 'f', long, value_name = "string", verbatim_doc_comment)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn inspect(ctx: &mut Ctx, a: &InspectArgs) -> Result<()> {
    crate::commands::image::inspect_with(a.format.as_deref(), &a.containers, |n| {
        inspect_container_raw(ctx, n, a.size)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_less("80/tcp -> 0.0.0.0:8080", "443/tcp -> 0.0.0.0:8443"));
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("a", "ab"));
        assert!(!natural_less("a", "a"));
    }

    #[test]
    fn update_bodies() {
        let a = UpdateArgs {
            blkio_weight: None,
            cpu_period: None,
            cpu_quota: None,
            cpu_rt_period: None,
            cpu_rt_runtime: None,
            cpu_shares: None,
            cpus: Some(1_500_000_000),
            cpuset_cpus: None,
            cpuset_mems: None,
            kernel_memory: None,
            memory: Some(100 << 20),
            memory_reservation: None,
            memory_swap: None,
            pids_limit: Some(5),
            restart: Some("on-failure:2".into()),
            containers: vec!["x".into()],
        };
        // What docker 28.2 sends for `docker update --cpus 1.5 -m 100m --restart on-failure:2 --pids-limit 5 x`.
        let docker: Value = serde_json::from_str(r#"{"CpuShares":0,"Memory":104857600,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":null,"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":null,"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":5,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":2}}"#).unwrap();
        assert_eq!(update_body(&a).unwrap(), docker);
    }
}
