//! System commands: version, info, system df, system prune, events.

use std::io::{self, Write};

use clap::Args;
use serde_json::{json, Value};

use super::image::{header, image_rows, prune_images, IMAGE_HEADER};
use super::{confirm, out, Ctx};
use crate::client::{json_stream, Query, API_VERSION};
use crate::error::{Error, Result};
use crate::format::{
    bytes_size, civil_in, filters_json, get_timestamp, human_duration, human_size, local, now, parse_rfc3339,
    render_template, short_id, ListFormat,
};
use crate::http::Request;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A JSON scalar as Go's fmt prints it (`true`, `3`, `text`).
fn go_val(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Pads `key` to `width` columns (tabwriter with padding 1) and appends `value`.
fn kv(prefix: &str, key: &str, value: &str, width: usize) -> String {
    let k = format!("{prefix}{key}:");
    let pad = width.max(k.chars().count() + 1);
    format!("{k:<pad$}{value}\n")
}

// ---------------------------------------------------------------------------------------------
// version

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
}

fn client_version(api: &str) -> Value {
    json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "APIVersion": api,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown"),
        "GoVersion": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "BuildTime": option_env!("BERTH_BUILD_TIME").unwrap_or(""),
        "Context": "default",
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    }
}

/// Ref: docker/cli version `reformatDate`: RFC 3339 times shown as `time.ANSIC` in their own zone.
fn reformat_date(t: &str) -> String {
    match parse_rfc3339(t) {
        Some((secs, nanos, off)) => civil_in(secs, nanos, off, "").ansic(),
        None => t.to_string(),
    }
}

/// The text of `version`. Ref: docker/cli version `defaultVersionTemplate`, through a tabwriter
/// with minwidth 20 and padding 1.
pub fn version_text(client: &Value, server: Option<&Value>) -> String {
    let mut t = String::from("Client:\n");
    let w = 20;
    t.push_str(&kv(" ", "Version", s(client, "Version"), w));
    let api = s(client, "ApiVersion");
    let def = s(client, "DefaultAPIVersion");
    let api_line = if api != def {
        format!("{api} (downgraded from {def})")
    } else {
        api.to_string()
    };
    t.push_str(&kv(" ", "API version", &api_line, w));
    t.push_str(&kv(" ", "Git commit", s(client, "GitCommit"), w));
    if !s(client, "BuildTime").is_empty() {
        t.push_str(&kv(" ", "Built", s(client, "BuildTime"), w));
    }
    t.push_str(&kv(
        " ",
        "OS/Arch",
        &format!("{}/{}", s(client, "Os"), s(client, "Arch")),
        w,
    ));
    t.push_str(&kv(" ", "Context", s(client, "Context"), w));
    let Some(sv) = server else { return t };
    let platform = sv.get("Platform").map(|p| s(p, "Name")).unwrap_or("");
    t.push_str("\nServer:");
    if !platform.is_empty() {
        t.push(' ');
        t.push_str(platform);
    }
    t.push('\n');
    let components = sv
        .get("Components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| {
            // Old daemons: the engine from the top-level fields.
            vec![json!({"Name":"Engine","Version":sv.get("Version"),"Details":{
            "ApiVersion": sv.get("ApiVersion"), "MinAPIVersion": sv.get("MinAPIVersion"),
            "GoVersion": sv.get("GoVersion"), "GitCommit": sv.get("GitCommit"),
            "BuildTime": sv.get("BuildTime"), "Os": sv.get("Os"), "Arch": sv.get("Arch"),
            "Experimental": go_val(sv.get("Experimental"))}})]
        });
    for c in &components {
        let name = s(c, "Name");
        let d = c.get("Details").cloned().unwrap_or(json!({}));
        let det = |k: &str| go_val(d.get(k));
        t.push_str(&format!(" {name}:\n"));
        if name == "Engine" {
            t.push_str(&kv("  ", "Version", s(c, "Version"), w));
            t.push_str(&kv(
                "  ",
                "API version",
                &format!("{} (minimum version {})", det("ApiVersion"), det("MinAPIVersion")),
                w,
            ));
            t.push_str(&kv("  ", "Go version", &det("GoVersion"), w));
            t.push_str(&kv("  ", "Git commit", &det("GitCommit"), w));
            t.push_str(&kv("  ", "Built", &reformat_date(&det("BuildTime")), w));
            t.push_str(&kv("  ", "OS/Arch", &format!("{}/{}", det("Os"), det("Arch")), w));
            t.push_str(&kv("  ", "Experimental", &det("Experimental"), w));
        } else {
            t.push_str(&kv("  ", "Version", s(c, "Version"), w));
            let mut keys: Vec<&String> = d.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            keys.sort();
            for k in keys {
                t.push_str(&kv("  ", k, &det(k), w));
            }
        }
    }
    t
}

pub fn version(ctx: &mut Ctx, a: &VersionArgs) -> Result<()> {
    let server = ctx.client.get("/version");
    let api = match &server {
        Ok(_) => ctx.client.api_version()?,
        Err(_) => API_VERSION.to_string(),
    };
    let client = client_version(&api);
    if let Some(f) = &a.format {
        let server_v = server.as_ref().ok().cloned().map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                let api = o.get("ApiVersion").cloned().unwrap_or(Value::Null);
                o.insert("APIVersion".into(), api);
            }
            v
        });
        let v = json!({"Client": client, "Server": server_v});
        out(&render_template(f, &v)?)?;
        return server.map(|_| ());
    }
    match server {
        Ok(sv) => out(&version_text(&client, Some(&sv))),
        Err(e) => {
            out(&version_text(&client, None))?;
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// info

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
}

fn client_info_text(debug: bool) -> String {
    format!(
        "Client:\n Version:    {}\n Context:    default\n Debug Mode: {debug}\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn line(t: &mut String, label: &str, v: impl std::fmt::Display) {
    t.push_str(&format!("{label} {v}\n"));
}

fn line_nonempty(t: &mut String, label: &str, v: &str) {
    if !v.is_empty() {
        line(t, label, v);
    }
}

fn join(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(|x| go_val(Some(x))).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The server part of `info`. Ref: docker/cli info `prettyPrintServerInfo`.
pub fn server_info_text(i: &Value) -> String {
    let mut t = String::new();
    let n = |k: &str| go_val(i.get(k).or(Some(&json!(0))));
    line(&mut t, " Containers:", n("Containers"));
    line(&mut t, "  Running:", n("ContainersRunning"));
    line(&mut t, "  Paused:", n("ContainersPaused"));
    line(&mut t, "  Stopped:", n("ContainersStopped"));
    line(&mut t, " Images:", n("Images"));
    line_nonempty(&mut t, " Server Version:", s(i, "ServerVersion"));
    line_nonempty(&mut t, " Storage Driver:", s(i, "Driver"));
    for (status, indent) in [("DriverStatus", "  "), ("SystemStatus", " ")] {
        for pair in i.get(status).and_then(Value::as_array).into_iter().flatten() {
            let a = go_val(pair.get(0));
            let b = go_val(pair.get(1));
            t.push_str(&format!("{indent}{a}: {b}\n"));
        }
    }
    line_nonempty(&mut t, " Logging Driver:", s(i, "LoggingDriver"));
    line_nonempty(&mut t, " Cgroup Driver:", s(i, "CgroupDriver"));
    line_nonempty(&mut t, " Cgroup Version:", s(i, "CgroupVersion"));
    t.push_str(" Plugins:\n");
    let plugins = i.get("Plugins").cloned().unwrap_or(json!({}));
    line(&mut t, "  Volume:", join(plugins.get("Volume")));
    line(&mut t, "  Network:", join(plugins.get("Network")));
    let authz = join(plugins.get("Authorization"));
    if !authz.is_empty() {
        line(&mut t, "  Authorization:", authz);
    }
    line(&mut t, "  Log:", join(plugins.get("Log")));
    if let Some(dirs) = i
        .get("CDISpecDirs")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        t.push_str(" CDI spec directories:\n");
        for d in dirs {
            line(&mut t, "  ", go_val(Some(d)));
        }
    }
    let swarm = i.get("Swarm").map(|sw| s(sw, "LocalNodeState")).unwrap_or("");
    line(&mut t, " Swarm:", swarm);
    if let Some(rt) = i
        .get("Runtimes")
        .and_then(Value::as_object)
        .filter(|r| !r.is_empty())
    {
        let mut names: Vec<&String> = rt.keys().collect();
        names.sort();
        line(
            &mut t,
            " Runtimes:",
            names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
        );
        line(&mut t, " Default Runtime:", s(i, "DefaultRuntime"));
    }
    if s(i, "OSType") == "linux" {
        line(&mut t, " Init Binary:", s(i, "InitBinary"));
        for (name, key) in [
            ("containerd", "ContainerdCommit"),
            ("runc", "RuncCommit"),
            ("init", "InitCommit"),
        ] {
            let id = i.get(key).map(|c| s(c, "ID")).unwrap_or("");
            t.push_str(&format!(" {name} version: {id}\n"));
        }
        if let Some(opts) = i
            .get("SecurityOptions")
            .and_then(Value::as_array)
            .filter(|o| !o.is_empty())
        {
            t.push_str(" Security Options:\n");
            for o in opts {
                let o = go_val(Some(o));
                if !o.contains('=') {
                    t.push_str(&format!("  {o}\n"));
                    continue;
                }
                let mut name = String::new();
                let mut kvs = Vec::new();
                for part in o.split(',') {
                    if let Some((k, v)) = part.split_once('=') {
                        if k == "name" {
                            name = v.to_string();
                        } else {
                            kvs.push((k.to_string(), v.to_string()));
                        }
                    }
                }
                t.push_str(&format!("  {name}\n"));
                for (k, v) in kvs {
                    if k == "profile" {
                        line(&mut t, "   Profile:", v);
                    }
                }
            }
        }
    }
    if s(i, "OSType") == "windows" {
        line(&mut t, " Default Isolation:", s(i, "Isolation"));
    }
    line_nonempty(&mut t, " Kernel Version:", s(i, "KernelVersion"));
    line_nonempty(&mut t, " Operating System:", s(i, "OperatingSystem"));
    line_nonempty(&mut t, " OSType:", s(i, "OSType"));
    line_nonempty(&mut t, " Architecture:", s(i, "Architecture"));
    line(&mut t, " CPUs:", n("NCPU"));
    let mem = i.get("MemTotal").and_then(Value::as_f64).unwrap_or(0.0);
    line(&mut t, " Total Memory:", bytes_size(mem));
    line_nonempty(&mut t, " Name:", s(i, "Name"));
    line_nonempty(&mut t, " ID:", s(i, "ID"));
    line(&mut t, " Docker Root Dir:", s(i, "DockerRootDir"));
    let debug = i.get("Debug").and_then(Value::as_bool).unwrap_or(false);
    line(&mut t, " Debug Mode:", debug);
    if debug {
        line(&mut t, "  File Descriptors:", n("NFd"));
        line(&mut t, "  Goroutines:", n("NGoroutines"));
        line(&mut t, "  System Time:", s(i, "SystemTime"));
        line(&mut t, "  EventsListeners:", n("NEventsListener"));
    }
    line_nonempty(&mut t, " HTTP Proxy:", s(i, "HttpProxy"));
    line_nonempty(&mut t, " HTTPS Proxy:", s(i, "HttpsProxy"));
    line_nonempty(&mut t, " No Proxy:", s(i, "NoProxy"));
    line_nonempty(&mut t, " Username:", s(i, "Username"));
    if let Some(labels) = i
        .get("Labels")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    {
        t.push_str(" Labels:\n");
        for l in labels {
            t.push_str(&format!("  {}\n", go_val(Some(l))));
        }
    }
    line(
        &mut t,
        " Experimental:",
        i.get("ExperimentalBuild")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    if let Some(rc) = i.get("RegistryConfig").filter(|r| !r.is_null()) {
        let cidrs = rc
            .get("InsecureRegistryCIDRs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let index = rc
            .get("IndexConfigs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !cidrs.is_empty() || !index.is_empty() {
            t.push_str(" Insecure Registries:\n");
            let mut names: Vec<&String> = index.keys().collect();
            names.sort();
            for name in names {
                if index[name].get("Secure").and_then(Value::as_bool) == Some(false) {
                    t.push_str(&format!("  {}\n", s(&index[name], "Name")));
                }
            }
            for c in &cidrs {
                t.push_str(&format!("  {}\n", cidr_string(c)));
            }
        }
        if let Some(m) = rc
            .get("Mirrors")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
        {
            t.push_str(" Registry Mirrors:\n");
            for x in m {
                t.push_str(&format!("  {}\n", go_val(Some(x))));
            }
        }
    }
    line(
        &mut t,
        " Live Restore Enabled:",
        i.get("LiveRestoreEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    line_nonempty(&mut t, " Product License:", s(i, "ProductLicense"));
    if let Some(pools) = i
        .get("DefaultAddressPools")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    {
        t.push_str(" Default Address Pools:\n");
        for p in pools {
            t.push_str(&format!(
                "   Base: {}, Size: {}\n",
                s(p, "Base"),
                go_val(p.get("Size"))
            ));
        }
    }
    t.push('\n');
    t
}

/// An insecure-registry CIDR as the API sends it (`{"IP":"127.0.0.0","Mask":"/wAAAA=="}`, the mask
/// as base64 bytes) or as a plain string.
fn cidr_string(c: &Value) -> String {
    if let Some(s) = c.as_str() {
        return s.to_string();
    }
    let ip = s(c, "IP");
    let bits: u32 = crate::config::unbase64(s(c, "Mask"))
        .unwrap_or_default()
        .iter()
        .map(|b| b.count_ones())
        .sum();
    format!("{ip}/{bits}")
}

pub fn info(ctx: &mut Ctx, a: &InfoArgs) -> Result<()> {
    let res = ctx.client.get("/info");
    if let Some(f) = &a.format {
        let mut v = res?;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "ClientInfo".into(),
                json!({"Debug": ctx.debug, "Version": env!("CARGO_PKG_VERSION"), "Context": "default", "Plugins": [], "Warnings": null}),
            );
        }
        return out(&render_template(f, &v)?);
    }
    let mut t = client_info_text(ctx.debug);
    match res {
        Ok(i) => {
            t.push_str("\nServer:\n");
            t.push_str(&server_info_text(&i));
            out(&t)?;
            for w in i.get("Warnings").and_then(Value::as_array).into_iter().flatten() {
                eprintln!("{}", go_val(Some(w)));
            }
            Ok(())
        }
        Err(e) => {
            t.push_str("\nServer:\n");
            out(&t)?;
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// system df

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

fn pct(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            human_size(reclaimable as f64),
            reclaimable * 100 / total
        )
    } else {
        human_size(reclaimable as f64)
    }
}

fn arr(v: &Value, k: &str) -> Vec<Value> {
    v.get(k).and_then(Value::as_array).cloned().unwrap_or_default()
}

fn num(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// The summary rows of `system df`. Ref: docker/cli formatter `disk_usage.go`.
pub fn df_rows(du: &Value) -> Vec<Value> {
    let images = arr(du, "Images");
    let layers = num(du, "LayersSize");
    let active_images = images.iter().filter(|i| num(i, "Containers") > 0).count();
    let used: i64 = images
        .iter()
        .filter(|i| num(i, "Containers") != 0)
        .filter(|i| num(i, "Size") != -1 && i.get("SharedSize").and_then(Value::as_i64) != Some(-1))
        .map(|i| num(i, "Size") - num(i, "SharedSize"))
        .sum();
    let containers = arr(du, "Containers");
    let is_active = |c: &Value| matches!(s(c, "State"), "running" | "paused" | "restarting");
    let csize: i64 = containers.iter().map(|c| num(c, "SizeRw")).sum();
    let creclaim: i64 = containers
        .iter()
        .filter(|c| !is_active(c))
        .map(|c| num(c, "SizeRw"))
        .sum();
    let volumes = arr(du, "Volumes");
    let usage = |v: &Value, k: &str| v.get("UsageData").map(|u| num(u, k)).unwrap_or(0);
    let vactive = volumes.iter().filter(|v| usage(v, "RefCount") > 0).count();
    let vsize: i64 = volumes
        .iter()
        .map(|v| usage(v, "Size"))
        .filter(|s| *s != -1)
        .sum();
    let vreclaim: i64 = volumes
        .iter()
        .filter(|v| usage(v, "RefCount") == 0 && usage(v, "Size") != -1)
        .map(|v| usage(v, "Size"))
        .sum();
    let cache = arr(du, "BuildCache");
    let flag = |c: &Value, k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
    let bactive = cache.iter().filter(|c| flag(c, "InUse")).count();
    let bsize: i64 = cache
        .iter()
        .filter(|c| !flag(c, "Shared"))
        .map(|c| num(c, "Size"))
        .sum();
    let binuse: i64 = cache
        .iter()
        .filter(|c| flag(c, "InUse") && !flag(c, "Shared"))
        .map(|c| num(c, "Size"))
        .sum();
    let builder = du.get("BuilderSize").and_then(Value::as_i64).unwrap_or(bsize);
    let row = |t: &str, total: usize, active: usize, size: String, rec: String| json!({"Active": active.to_string(), "Reclaimable": rec, "Size": size, "TotalCount": total.to_string(), "Type": t});
    vec![
        row(
            "Images",
            images.len(),
            active_images,
            human_size(layers as f64),
            pct(layers - used, layers),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| is_active(c)).count(),
            human_size(csize as f64),
            pct(creclaim, csize),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            vactive,
            human_size(vsize as f64),
            pct(vreclaim, vsize),
        ),
        row(
            "Build Cache",
            cache.len(),
            bactive,
            human_size(bsize as f64),
            human_size((builder - binuse) as f64),
        ),
    ]
}

const DF_HEADER: &[(&str, &str)] = &[
    ("Active", "ACTIVE"),
    ("Reclaimable", "RECLAIMABLE"),
    ("Size", "SIZE"),
    ("TotalCount", "TOTAL"),
    ("Type", "TYPE"),
];

pub fn df(ctx: &mut Ctx, a: &DfArgs) -> Result<()> {
    let du = ctx.client.get("/system/df")?;
    if !a.verbose || a.format.is_some() {
        let lf = ListFormat::new(
            a.format.as_deref(),
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        )?;
        return lf.print(&header(DF_HEADER), &df_rows(&du));
    }
    out(&df_verbose(&du)?)
}

fn table(format: &str, hdr: &Value, rows: &[Value]) -> Result<String> {
    let s = ListFormat::new(None, format)?.render(hdr, rows)?;
    Ok(s.trim_end_matches('\n').to_string())
}

/// `system df -v`. Ref: docker/cli formatter `verboseDiskUsageTemplate`.
pub fn df_verbose(du: &Value) -> Result<String> {
    let t = now().0;
    // Ref: docker/cli disk usage: only the first tag of each image.
    let image_rows: Vec<Value> = arr(du, "Images")
        .iter()
        .filter_map(|i| image_rows(i, false, true, t).into_iter().next())
        .collect();
    let images = table(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &header(IMAGE_HEADER),
        &image_rows,
    )?;
    let crows: Vec<Value> = arr(du, "Containers")
        .iter()
        .map(|c| {
            let names: Vec<String> = c
                .get("Names")
                .and_then(Value::as_array)
                .map(|n| n.iter().filter_map(Value::as_str).map(|n| n.trim_start_matches('/').to_string()).collect())
                .unwrap_or_default();
            let cmd = s(c, "Command");
            json!({
                "ID": short_id(s(c, "Id")),
                "Image": s(c, "Image"),
                "Command": format!("\"{}\"", super::image::ellipsis(cmd, 20)),
                "LocalVolumes": c.get("Mounts").and_then(Value::as_array).map_or(0, |m| m.iter().filter(|m| s(m, "Type") == "volume" && s(m, "Driver") == "local").count()).to_string(),
                "Size": human_size(num(c, "SizeRw") as f64),
                "RunningFor": format!("{} ago", human_duration((t - num(c, "Created")) as f64)),
                "Status": s(c, "Status"),
                "Names": names.join(","),
            })
        })
        .collect();
    let containers = table(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        &json!({"ID":"CONTAINER ID","Image":"IMAGE","Command":"COMMAND","LocalVolumes":"LOCAL VOLUMES","Size":"SIZE","RunningFor":"CREATED","Status":"STATUS","Names":"NAMES"}),
        &crows,
    )?;
    let vrows: Vec<Value> = arr(du, "Volumes")
        .iter()
        .map(|v| {
            let u = v.get("UsageData").cloned().unwrap_or(json!({}));
            let size = num(&u, "Size");
            json!({"Name": s(v, "Name"), "Links": go_val(u.get("RefCount")), "Size": if size == -1 { "N/A".to_string() } else { human_size(size as f64) }})
        })
        .collect();
    let volumes = table(
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &json!({"Name":"VOLUME NAME","Links":"LINKS","Size":"SIZE"}),
        &vrows,
    )?;
    let cache = arr(du, "BuildCache");
    let brows: Vec<Value> = cache
        .iter()
        .map(|b| {
            let since = |k: &str| {
                parse_rfc3339(s(b, k))
                    .map(|(secs, _, _)| format!("{} ago", human_duration((t - secs) as f64)))
                    .unwrap_or_default()
            };
            json!({
                "ID": s(b, "ID").chars().take(12).collect::<String>(),
                "CacheType": s(b, "Type"),
                "Size": human_size(num(b, "Size") as f64),
                "CreatedSince": since("CreatedAt"),
                "LastUsedSince": since("LastUsedAt"),
                "UsageCount": go_val(b.get("UsageCount")),
                "Shared": go_val(b.get("Shared")),
            })
        })
        .collect();
    let bsize: i64 = cache
        .iter()
        .filter(|c| !c.get("Shared").and_then(Value::as_bool).unwrap_or(false))
        .map(|c| num(c, "Size"))
        .sum();
    let builds = table(
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
        &json!({"ID":"CACHE ID","CacheType":"CACHE TYPE","Size":"SIZE","CreatedSince":"CREATED","LastUsedSince":"LAST USED","UsageCount":"USAGE","Shared":"SHARED"}),
        &brows,
    )?;
    Ok(format!(
        "Images space usage:\n\n{images}\n\nContainers space usage:\n\n{containers}\n\nLocal Volumes space usage:\n\n{volumes}\n\nBuild cache usage: {}\n\n{builds}\n",
        human_size(du.get("BuilderSize").and_then(Value::as_i64).unwrap_or(bsize) as f64)
    ))
}

// ---------------------------------------------------------------------------------------------
// system prune

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
}

/// The confirmation text. Ref: docker/cli system prune `confirmationTemplate`.
pub fn prune_warning(all: bool, volumes: bool, filters: &[String]) -> String {
    let mut w = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if volumes {
        w.push("all anonymous volumes not used by at least one container");
    }
    w.push(if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    w.push(if all {
        "all build cache"
    } else {
        "unused build cache"
    });
    let mut t = String::from("WARNING! This will remove:\n");
    for x in w {
        t.push_str(&format!("  - {x}\n"));
    }
    if !filters.is_empty() {
        t.push_str("\n  Items to be pruned will be filtered with:\n");
        for f in filters {
            t.push_str(&format!("  - {f}\n"));
        }
    }
    t.push_str("\nAre you sure you want to continue?");
    t
}

/// Runs one prune endpoint; `None` when the daemon does not have it.
fn prune_endpoint(ctx: &mut Ctx, path: &str, filters: Option<&str>, extra: &str) -> Result<Option<Value>> {
    let q = Query::new().add_opt("filters", filters);
    let sep = if q.as_str().is_empty() { "?" } else { "&" };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("{sep}{extra}")
    };
    match ctx.client.post(&format!("{path}{q}{extra}"), None) {
        Ok(v) => Ok(Some(v)),
        Err(Error::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn list_section(title: &str, items: Option<&Value>) -> String {
    let items: Vec<String> = items
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| go_val(Some(x))).collect())
        .unwrap_or_default();
    if items.is_empty() {
        return String::new();
    }
    let mut s = format!("{title}\n");
    for i in items {
        s.push_str(&i);
        s.push('\n');
    }
    s
}

pub fn system_prune(ctx: &mut Ctx, a: &SystemPruneArgs) -> Result<()> {
    if !a.force && !confirm(&prune_warning(a.all, a.volumes, &a.filter))? {
        return Ok(());
    }
    let filters = filters_json(&a.filter, &[])?;
    let f = filters.as_deref();
    let mut total = 0i64;
    let mut text = String::new();
    let mut emit = |text: &mut String, space: i64, output: String| {
        total += space;
        if !output.is_empty() {
            text.push_str(&output);
            text.push('\n');
        }
    };
    if let Some(r) = prune_endpoint(ctx, "/containers/prune", f, "")? {
        emit(
            &mut text,
            num(&r, "SpaceReclaimed"),
            list_section("Deleted Containers:", r.get("ContainersDeleted")),
        );
    }
    if let Some(r) = prune_endpoint(ctx, "/networks/prune", f, "")? {
        emit(
            &mut text,
            0,
            list_section("Deleted Networks:", r.get("NetworksDeleted")),
        );
    }
    if a.volumes {
        if let Some(r) = prune_endpoint(ctx, "/volumes/prune", f, "")? {
            emit(
                &mut text,
                num(&r, "SpaceReclaimed"),
                list_section("Deleted Volumes:", r.get("VolumesDeleted")),
            );
        }
    }
    match prune_images(ctx, a.all, &a.filter) {
        Ok((space, output)) => emit(&mut text, space, output),
        Err(Error::Api { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    let extra = if a.all { "all=1" } else { "" };
    if let Some(r) = prune_endpoint(ctx, "/build/prune", f, extra)? {
        emit(
            &mut text,
            num(&r, "SpaceReclaimed"),
            list_section("Deleted build cache objects:", r.get("CachesDeleted")),
        );
    }
    text.push_str(&format!("Total reclaimed space: {}\n", human_size(total as f64)));
    out(&text)
}

// ---------------------------------------------------------------------------------------------
// events

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
}

/// One event in docker's line format. Ref: docker/cli events `prettyPrintEvent`.
pub fn event_line(e: &Value, utc: bool) -> String {
    let mut l = String::new();
    let tn = e.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
    let ts = e.get("time").and_then(Value::as_i64).unwrap_or(0);
    let when = |secs: i64, nanos: u32| {
        if utc {
            civil_in(secs, nanos, 0, "UTC")
        } else {
            local(secs, nanos)
        }
        .rfc3339_nano_fixed()
    };
    if tn != 0 {
        l.push_str(&when(
            tn.div_euclid(1_000_000_000),
            tn.rem_euclid(1_000_000_000) as u32,
        ));
        l.push(' ');
    } else if ts != 0 {
        l.push_str(&when(ts, 0));
        l.push(' ');
    }
    let actor = e.get("Actor").cloned().unwrap_or(json!({}));
    l.push_str(&format!(
        "{} {} {}",
        s(e, "Type"),
        s(e, "Action"),
        s(&actor, "ID")
    ));
    if let Some(attrs) = actor
        .get("Attributes")
        .and_then(Value::as_object)
        .filter(|a| !a.is_empty())
    {
        let mut keys: Vec<&String> = attrs.keys().collect();
        keys.sort();
        let parts: Vec<String> = keys
            .iter()
            .map(|k| format!("{k}={}", go_val(attrs.get(*k))))
            .collect();
        l.push_str(&format!(" ({})", parts.join(", ")));
    }
    l.push('\n');
    l
}

/// The event with docker's Go field names added, for templates (`{{.Scope}}`, `{{.TimeNano}}`).
fn event_for_template(e: &Value) -> Value {
    let mut v = e.clone();
    if let Some(o) = v.as_object_mut() {
        for (go, api) in [
            ("Status", "status"),
            ("ID", "id"),
            ("From", "from"),
            ("Scope", "scope"),
            ("Time", "time"),
            ("TimeNano", "timeNano"),
        ] {
            if let Some(x) = e.get(api) {
                o.entry(go).or_insert_with(|| x.clone());
            }
        }
    }
    v
}

pub fn events(ctx: &mut Ctx, a: &EventsArgs) -> Result<()> {
    let t = now();
    let since = a.since.as_deref().map(|v| get_timestamp(v, t)).transpose()?;
    let until = a.until.as_deref().map(|v| get_timestamp(v, t)).transpose()?;
    let filters = filters_json(&a.filter, &[])?;
    let q = Query::new()
        .add_opt("since", since.as_deref())
        .add_opt("until", until.as_deref())
        .add_opt("filters", filters.as_deref());
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(None),
        Some(f) => Some(Some(crate::format::parse_template(&crate::format::pre_format(
            f,
        ))?)),
    };
    let resp = ctx.client.send(Request::new("GET", format!("/events{q}")))?;
    let mut o = io::stdout().lock();
    for e in json_stream(resp) {
        let e = e?;
        let l = match &template {
            None => event_line(&e, false),
            Some(None) => format!("{e}\n"),
            Some(Some(t)) => format!("{}\n", crate::format::execute(t, &event_for_template(&e))?),
        };
        o.write_all(l.as_bytes())?;
        o.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines() {
        let e = json!({"status":"pull","id":"busybox:latest","Type":"image","Action":"pull",
            "Actor":{"ID":"busybox:latest","Attributes":{"name":"busybox"}},"scope":"local",
            "time":1795352462,"timeNano":1_795_352_462_123_456_789_i64});
        assert_eq!(
            event_line(&e, true),
            "2026-11-22T13:01:02.123456789Z image pull busybox:latest (name=busybox)\n"
        );
    }

    #[test]
    fn df_summary() {
        let du = json!({"LayersSize": 1983135, "Images":[{"Containers":0,"Size":1983135,"SharedSize":-1}],
            "Containers":[], "Volumes":[], "BuildCache":[]});
        let rows = df_rows(&du);
        assert_eq!(rows[0]["Reclaimable"], "1.983MB (100%)");
        assert_eq!(rows[1]["Size"], "0B");
        assert_eq!(rows[3]["Reclaimable"], "0B");
    }

    #[test]
    fn version_layout() {
        let client = client_version("1.41");
        let server: Value = serde_json::from_str(r#"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-05-07T21:09:36.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}]}"#).unwrap();
        let t = version_text(&client, Some(&server));
        assert!(t.contains(" API version:       1.41 (downgraded from 1.47)\n"));
        let server_part = &t[t.find("\nServer:").unwrap()..];
        assert_eq!(
            server_part,
            "\nServer:\n Engine:\n  Version:          20.10.24+dfsg1\n  API version:      1.41 (minimum version 1.12)\n  Go version:       go1.19.8\n  Git commit:       5d6db84\n  Built:            Thu May  7 21:09:36 2026\n  OS/Arch:          linux/amd64\n  Experimental:     false\n docker-init:\n  Version:          0.19.0\n  GitCommit:        \n"
        );
    }

    #[test]
    fn prune_warnings() {
        assert_eq!(
            prune_warning(false, false, &[]),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue?"
        );
    }
}
