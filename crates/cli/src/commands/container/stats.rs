//! stats: resource usage of containers, computed from the stats JSON exactly as the docker CLI
//! computes it, redrawn every 500 ms (or printed once with `--no-stream`).
//!
//! Ref: docker/cli cli/command/container/{stats,stats_helpers,formatter_stats}.go.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use super::sv;
use crate::client::{json_stream, Client, Query};
use crate::commands::image::header;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::format::{bytes_size, human_size_prec, short_id, ListFormat};
use crate::http::Request;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Format output using a custom template:
    /// 'table':            Print output in table format with column headers (default)
    /// 'table TEMPLATE':   Print output in table format using the given Go template
    /// 'json':             Print in JSON format
    /// 'TEMPLATE':         Print output using the given Go template.
    /// Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates
    #[arg(long, value_name = "string", verbatim_doc_comment)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// One computed sample. Ref: docker/cli `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub name: String,
    pub id: String,
    pub cpu: f64,
    pub mem: f64,
    pub mem_limit: f64,
    pub mem_percent: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub blk_read: f64,
    pub blk_write: f64,
    pub pids: u64,
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_u64().unwrap_or(0)
}

/// Ref: docker/cli `collect` (the Linux branch) and its `calculate*` helpers.
pub fn sample(v: &Value) -> Sample {
    let prev_cpu = u(v, &["precpu_stats", "cpu_usage", "total_usage"]);
    let prev_sys = u(v, &["precpu_stats", "system_cpu_usage"]);
    let cpu_delta = u(v, &["cpu_stats", "cpu_usage", "total_usage"]) as f64 - prev_cpu as f64;
    let sys_delta = u(v, &["cpu_stats", "system_cpu_usage"]) as f64 - prev_sys as f64;
    let mut online = u(v, &["cpu_stats", "online_cpus"]) as f64;
    if online == 0.0 {
        online = v["cpu_stats"]["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(0, Vec::len) as f64;
    }
    let mut cpu = 0.0;
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu = (cpu_delta / sys_delta) * online * 100.0;
    }
    let (mut blk_read, mut blk_write) = (0u64, 0u64);
    for e in v["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let value = e["value"].as_u64().unwrap_or(0);
        match sv(e, "op").bytes().next() {
            Some(b'r' | b'R') => blk_read += value,
            Some(b'w' | b'W') => blk_write += value,
            _ => {}
        }
    }
    let usage = u(v, &["memory_stats", "usage"]);
    let stats = &v["memory_stats"]["stats"];
    let mem = match stats.get("total_inactive_file").and_then(Value::as_u64) {
        Some(i) if i < usage => (usage - i) as f64,
        _ => {
            let i = stats.get("inactive_file").and_then(Value::as_u64).unwrap_or(0);
            if i < usage {
                (usage - i) as f64
            } else {
                usage as f64
            }
        }
    };
    let mem_limit = u(v, &["memory_stats", "limit"]) as f64;
    let mem_percent = if mem_limit != 0.0 {
        mem / mem_limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(nets) = v["networks"].as_object() {
        for n in nets.values() {
            rx += n["rx_bytes"].as_u64().unwrap_or(0) as f64;
            tx += n["tx_bytes"].as_u64().unwrap_or(0) as f64;
        }
    }
    Sample {
        name: sv(v, "name").to_string(),
        id: sv(v, "id").to_string(),
        cpu,
        mem,
        mem_limit,
        mem_percent,
        net_rx: rx,
        net_tx: tx,
        blk_read: blk_read as f64,
        blk_write: blk_write as f64,
        pids: u(v, &["pids_stats", "current"]),
    }
}

/// One container on screen.
#[derive(Debug, Clone, Default)]
struct Entry {
    container: String,
    sample: Sample,
    err: Option<String>,
    invalid: bool,
}

fn percent(v: f64) -> String {
    format!("{v:.2}%")
}

/// The template fields of one row. Ref: docker/cli `statsContext`.
pub fn stats_row(container: &str, s: &Sample, invalid: bool, trunc: bool) -> Value {
    let dash = "--".to_string();
    json!({
        "BlockIO": if invalid { dash.clone() } else {
            format!("{} / {}", human_size_prec(s.blk_read, 3), human_size_prec(s.blk_write, 3))
        },
        "CPUPerc": if invalid { dash.clone() } else { percent(s.cpu) },
        "Container": container,
        "ID": if trunc { short_id(&s.id) } else { s.id.clone() },
        "MemPerc": if invalid { dash.clone() } else { percent(s.mem_percent) },
        "MemUsage": if invalid { "-- / --".to_string() } else {
            format!("{} / {}", bytes_size(s.mem), bytes_size(s.mem_limit))
        },
        "Name": if s.name.chars().count() > 1 { s.name[1..].to_string() } else { dash.clone() },
        "NetIO": if invalid { dash.clone() } else {
            format!("{} / {}", human_size_prec(s.net_rx, 3), human_size_prec(s.net_tx, 3))
        },
        "PIDs": if invalid { dash } else { s.pids.to_string() },
    })
}

pub const STATS_HEADER: &[(&str, &str)] = &[
    ("BlockIO", "BLOCK I/O"),
    ("CPUPerc", "CPU %"),
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("MemPerc", "MEM %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("Name", "NAME"),
    ("NetIO", "NET I/O"),
    ("PIDs", "PIDS"),
];

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

type Shared = Arc<Mutex<Vec<Entry>>>;

fn update(shared: &Shared, container: &str, f: impl FnOnce(&mut Entry)) {
    if let Ok(mut es) = shared.lock() {
        if let Some(e) = es.iter_mut().find(|e| e.container == container) {
            f(e);
        }
    }
}

/// Adds `container` and starts its collector; false when it is already shown.
fn add(shared: &Shared, client: &Client, container: &str, stream: bool, first: mpsc::Sender<String>) -> bool {
    {
        let Ok(mut es) = shared.lock() else {
            return false;
        };
        if es.iter().any(|e| e.container == container) {
            return false;
        }
        es.push(Entry {
            container: container.to_string(),
            ..Default::default()
        });
    }
    let mut c = client.fork();
    let shared = shared.clone();
    let name = container.to_string();
    std::thread::spawn(move || {
        let q = Query::new().add("stream", if stream { "1" } else { "0" });
        let resp = match c.send(Request::new("GET", format!("/containers/{name}/stats{q}"))) {
            Ok(r) => r,
            Err(e) => {
                update(&shared, &name, |en| {
                    en.err = Some(e.to_string());
                    en.invalid = true;
                });
                let _ = first.send(name);
                return;
            }
        };
        let mut sent = false;
        for v in json_stream(resp) {
            match v {
                Ok(v) => {
                    let s = sample(&v);
                    update(&shared, &name, |en| {
                        en.sample = s;
                        en.err = None;
                        en.invalid = false;
                    });
                }
                Err(e) => {
                    update(&shared, &name, |en| {
                        en.err = Some(e.to_string());
                        en.invalid = true;
                    });
                    break;
                }
            }
            if !sent {
                sent = true;
                let _ = first.send(name.clone());
            }
            if !stream {
                return;
            }
        }
        if !sent {
            let _ = first.send(name.clone());
        }
        update(&shared, &name, |en| {
            en.err = Some("EOF".into());
            en.invalid = true;
        });
    });
    true
}

/// Waits for the first sample of each of `n` collectors, 2 s at most (then the container shows
/// as invalid, as docker's "timeout waiting for stats").
fn wait_first(shared: &Shared, rx: &mpsc::Receiver<String>, names: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pending: Vec<String> = names.to_vec();
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => pending.retain(|p| *p != n),
            Err(_) => break,
        }
    }
    for p in pending {
        update(shared, &p, |en| {
            en.sample = Sample {
                name: en.sample.name.clone(),
                id: en.sample.id.clone(),
                ..Default::default()
            };
            en.err = Some("timeout waiting for stats".into());
            en.invalid = true;
        });
    }
}

/// Follows container events: started (or created with `-a`) containers appear, dying ones go.
fn watch_events(shared: Shared, client: &Client, all: bool, first: mpsc::Sender<String>) {
    let mut c = client.fork();
    let client2 = client.fork();
    std::thread::spawn(move || {
        let q = Query::new().add("filters", r#"{"type":{"container":true}}"#);
        let Ok(resp) = c.send(Request::new("GET", format!("/events{q}"))) else {
            return;
        };
        for ev in json_stream(resp) {
            let Ok(ev) = ev else { return };
            let action = ev
                .get("Action")
                .and_then(Value::as_str)
                .or_else(|| ev.get("status").and_then(Value::as_str))
                .unwrap_or("");
            let id = ev["Actor"]["ID"]
                .as_str()
                .or_else(|| ev.get("id").and_then(Value::as_str))
                .unwrap_or("");
            let short: String = id.chars().take(12).collect();
            match action {
                "start" => {
                    add(&shared, &client2, &short, true, first.clone());
                }
                "create" if all => {
                    add(&shared, &client2, &short, true, first.clone());
                }
                "die" if !all => {
                    if let Ok(mut es) = shared.lock() {
                        es.retain(|e| e.container != short);
                    }
                }
                _ => {}
            }
        }
    });
}

pub fn stats(ctx: &mut Ctx, a: &StatsArgs) -> Result<()> {
    let stream = !a.no_stream;
    let shared: Shared = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let show_all = a.containers.is_empty();
    ctx.client.api_version()?;
    if show_all {
        if stream {
            watch_events(shared.clone(), &ctx.client, a.all, tx.clone());
        }
        let q = Query::new().add_if(a.all, "all", "1");
        let list = ctx.client.get(&format!("/containers/json{q}"))?;
        let mut names = Vec::new();
        for c in list.as_array().into_iter().flatten() {
            let id: String = sv(c, "Id").chars().take(12).collect();
            if add(&shared, &ctx.client, &id, stream, tx.clone()) {
                names.push(id);
            }
        }
        wait_first(&shared, &rx, &names);
    } else {
        let mut names = Vec::new();
        for c in &a.containers {
            if add(&shared, &ctx.client, c, stream, tx.clone()) {
                names.push(c.clone());
            }
        }
        wait_first(&shared, &rx, &names);
        let errs: Vec<String> = shared
            .lock()
            .map(|es| es.iter().filter_map(|e| e.err.clone()).collect())
            .unwrap_or_default();
        if !errs.is_empty() {
            return Err(Error::Msg(errs.join("\n")));
        }
    }
    let mut format = a.format.clone().unwrap_or_default();
    if format.is_empty() {
        format = crate::config::ConfigFile::load(&ctx.config_dir)
            .ok()
            .and_then(|c| {
                c.value
                    .get("statsFormat")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "table".into());
    }
    let lf = ListFormat::new(Some(&format), DEFAULT_TABLE)?;
    let hdr = header(STATS_HEADER);
    let trunc = !a.no_trunc;
    loop {
        let entries: Vec<Entry> = shared.lock().map(|e| e.clone()).unwrap_or_default();
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| stats_row(&e.container, &e.sample, e.invalid, trunc))
            .collect();
        let table = lf.render(&hdr, &rows)?;
        let mut text = String::new();
        if stream {
            // Ref: docker's redraw: cursor home, each line then "erase to end of line", then
            // "erase below" (docker appends the erasing copy after the first one).
            let first = format!("\x1b[H{table}");
            text.push_str(&first);
            for line in first.split('\n') {
                text.push_str(line);
                text.push_str(" \x1b[K\n");
            }
            text.push_str("\x1b[J");
        } else {
            text = table;
        }
        {
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes())?;
            o.flush()?;
        }
        if entries.is_empty() && !show_all {
            return Ok(());
        }
        if !stream {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_like_docker() {
        let v = json!({
            "name": "/web", "id": "0123456789abcdef0123",
            "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000u64}, "system_cpu_usage": 18_000_000_000u64},
            "memory_stats": {"usage": 10_485_760u64, "limit": 2_147_483_648u64, "stats": {"inactive_file": 2_097_152u64}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op":"Read","value":1_000_000u64},{"op":"Write","value":2_000u64},{"op":"read","value":500u64}]},
            "networks": {"eth0": {"rx_bytes": 1_500u64, "tx_bytes": 700u64}, "eth1": {"rx_bytes": 500u64, "tx_bytes": 0u64}},
            "pids_stats": {"current": 3}
        });
        let s = sample(&v);
        assert!((s.cpu - 20.0).abs() < 1e-9);
        assert_eq!(s.mem, 8_388_608.0);
        let r = stats_row("web", &s, false, true);
        assert_eq!(r["CPUPerc"], "20.00%");
        assert_eq!(r["MemUsage"], "8MiB / 2GiB");
        assert_eq!(r["MemPerc"], "0.39%");
        assert_eq!(r["NetIO"], "2kB / 700B");
        assert_eq!(r["BlockIO"], "1MB / 2kB");
        assert_eq!(r["PIDs"], "3");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["ID"], "0123456789ab");
        // cgroup v1: total_inactive_file wins.
        let v1 = json!({"memory_stats": {"usage": 100u64, "stats": {"total_inactive_file": 30u64, "inactive_file": 10u64}}});
        assert_eq!(sample(&v1).mem, 70.0);
        let r = stats_row("x", &Sample::default(), true, true);
        assert_eq!(r["CPUPerc"], "--");
        assert_eq!(r["MemUsage"], "-- / --");
        assert_eq!(r["Name"], "--");
    }
}
