//! `/_ping`, `/version`, `/info`, `/system/df`, `/events`, `/auth`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::{json, ApiVersion, Query, API_VERSION, MIN_API_VERSION};
use crate::error::{ApiError, Result};
use crate::events::matches;
use crate::util::{now_nanos, parse_timestamp, rfc3339_nano};
use crate::Daemon;

type D = State<Arc<Daemon>>;

pub async fn ping() -> Response {
    let mut r = "OK".into_response();
    let h = r.headers_mut();
    h.insert(
        CACHE_CONTROL,
        "no-cache, no-store, must-revalidate".parse().expect("static"),
    );
    h.insert(PRAGMA, "no-cache".parse().expect("static"));
    h.insert(CONTENT_TYPE, "text/plain; charset=utf-8".parse().expect("static"));
    // The classic builder: berthd serves `POST /build`, not BuildKit's session API.
    h.insert("Builder-Version", "1".parse().expect("static"));
    r
}

fn uname() -> (String, String) {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.release), field(&u.nodename))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn version() -> Response {
    let (kernel, _) = uname();
    let v = env!("CARGO_PKG_VERSION");
    json(&json!({
        "Platform": { "Name": "berth" },
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": API_VERSION,
                "Arch": arch(),
                "BuildTime": "",
                "Experimental": "false",
                "GitCommit": option_env!("BERTH_GIT_COMMIT").unwrap_or(""),
                "GoVersion": "n/a (Rust)",
                "KernelVersion": kernel,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
            },
        }],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": option_env!("BERTH_GIT_COMMIT").unwrap_or(""),
        "GoVersion": "n/a (Rust)",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel,
        "BuildTime": "",
    }))
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .unwrap_or(0)
        * 1024
}

fn nfd() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

pub async fn info(State(d): D) -> Result<Response> {
    let (kernel, hostname) = uname();
    let images = d.images.store.images()?.len();
    let layout = berth_cgroup_version();
    let cfg = &d.config;
    let index_configs = {
        let mut m = serde_json::Map::new();
        m.insert(
            "docker.io".into(),
            json!({"Name": "docker.io", "Mirrors": cfg.registry_mirrors, "Secure": true, "Official": true}),
        );
        for r in &cfg.insecure_registries {
            if !r.contains('/') {
                m.insert(
                    r.clone(),
                    json!({"Name": r, "Mirrors": [], "Secure": false, "Official": false}),
                );
            }
        }
        Value::Object(m)
    };
    let mut cidrs: Vec<String> = vec!["::1/128".into(), "127.0.0.0/8".into()];
    cidrs.extend(
        cfg.insecure_registries
            .iter()
            .filter(|r| r.contains('/'))
            .cloned(),
    );
    Ok(json(&json!({
        "ID": d.id,
        "Containers": 0,
        "ContainersRunning": 0,
        "ContainersPaused": 0,
        "ContainersStopped": 0,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", backing_fs(&cfg.data_root)], ["Supports d_type", "true"],
                         ["Using metacopy", "false"], ["Native Overlay Diff", "true"], ["userxattr", "false"]],
        "Plugins": { "Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": null,
                     "Log": ["json-file"] },
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() == "1").unwrap_or(false),
        "Debug": cfg.debug,
        "NFd": nfd(),
        "OomKillDisable": layout == "1",
        "NGoroutines": 0,
        "SystemTime": rfc3339_nano(now_nanos()),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": layout,
        "NEventsListener": d.events.listeners(),
        "KernelVersion": kernel,
        "OperatingSystem": os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": null,
            "AllowNondistributableArtifactsHostnames": null,
            "InsecureRegistryCIDRs": cidrs,
            "IndexConfigs": index_configs,
            "Mirrors": cfg.registry_mirrors,
        },
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": cfg.data_root.display().to_string(),
        "HttpProxy": std::env::var("HTTP_PROXY").or_else(|_| std::env::var("http_proxy")).unwrap_or_default(),
        "HttpsProxy": std::env::var("HTTPS_PROXY").or_else(|_| std::env::var("https_proxy")).unwrap_or_default(),
        "NoProxy": std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")).unwrap_or_default(),
        "Name": hostname,
        "Labels": cfg.labels,
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { "berth-runtime": { "path": "berth-runtime" }, "runc": { "path": "runc" } },
        "DefaultRuntime": "berth-runtime",
        "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false,
                   "Error": "", "RemoteManagers": null },
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "berth-init",
        "ContainerdCommit": { "ID": "" },
        "RuncCommit": { "ID": "" },
        "InitCommit": { "ID": "" },
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "CDISpecDirs": [],
        "Warnings": null,
    })))
}

fn berth_cgroup_version() -> &'static str {
    // cgroup2 everywhere when the root of /sys/fs/cgroup is cgroup2; else v1 (hybrid included).
    match std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
        Ok(_) => "2",
        Err(_) => "1",
    }
}

fn backing_fs(path: &std::path::Path) -> String {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return "unknown".into();
    };
    // SAFETY: statfs is plain old data, filled by the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    match st.f_type as i64 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794c_7630 => "overlayfs",
        _ => "unknown",
    }
    .into()
}

pub async fn df(State(d): D, version: ApiVersion) -> Result<Response> {
    let images = d.images.list(true, &Default::default(), version)?;
    let layers_size: u64 = d.images.store.layers()?.iter().map(|l| l.size).sum();
    // Shared size: bytes of the layers an image shares with another image.
    let mut out = Vec::new();
    for mut img in images {
        let id = img["Id"].as_str().unwrap_or("").to_string();
        if let Some(rec) = d.images.store.image(&id)? {
            let mut shared = 0;
            for l in &rec.layers {
                if d.images.store.layer_users(&l.diff_id)? > 1 {
                    shared += d.images.store.layer(&l.diff_id)?.map(|r| r.size).unwrap_or(0);
                }
            }
            img["SharedSize"] = json!(shared);
            img["Containers"] = json!(0);
        }
        out.push(img);
    }
    Ok(json(&json!({
        "LayersSize": layers_size,
        "Images": out,
        "Containers": [],
        "Volumes": [],
        "BuildCache": [],
    })))
}

pub async fn events(State(d): D, q: Query) -> Result<Response> {
    let now = now_nanos();
    let since = match q.get("since") {
        Some(s) if !s.is_empty() => Some(
            parse_timestamp(s, now)
                .ok_or_else(|| ApiError::invalid(format!("invalid value for since: {s}")))?,
        ),
        _ => None,
    };
    let until = match q.get("until") {
        Some(s) if !s.is_empty() => Some(
            parse_timestamp(s, now)
                .ok_or_else(|| ApiError::invalid(format!("invalid value for until: {s}")))?,
        ),
        _ => None,
    };
    let filters = q.filters()?;
    filters.validate(&[
        "config",
        "container",
        "daemon",
        "event",
        "image",
        "label",
        "network",
        "node",
        "plugin",
        "scope",
        "secret",
        "service",
        "type",
        "volume",
    ])?;
    let (past, mut rx) = d.events.subscribe(since);
    let (tx, out) = mpsc::unbounded_channel::<Bytes>();
    let line = |e: &crate::events::Event| {
        let mut v = serde_json::to_vec(e).unwrap_or_default();
        v.push(b'\n');
        Bytes::from(v)
    };
    for e in &past {
        if until.is_some_and(|u| e.time_nano > u) || !matches(e, &filters.0) {
            continue;
        }
        let _ = tx.send(line(e));
    }
    tokio::spawn(async move {
        loop {
            let wait = match until {
                Some(u) => {
                    let left = u - now_nanos();
                    if left <= 0 {
                        break;
                    }
                    Duration::from_nanos(left as u64)
                }
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(e) => {
                        if until.is_some_and(|u| e.time_nano > u) { break; }
                        if matches(&e, &filters.0) && tx.send(line(&e)).is_err() { break; }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                },
                _ = tokio::time::sleep(wait) => { if until.is_some() { break; } }
                _ = tx.closed() => break,
            }
        }
    });
    let mut r = Body::from_stream(futures_util::StreamExt::map(
        UnboundedReceiverStream::new(out),
        Ok::<_, std::convert::Infallible>,
    ))
    .into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().expect("static"));
    Ok(r)
}

/// `POST /containers/prune`, `/networks/prune`, `/volumes/prune`, `/build/prune`: berthd holds no
/// containers, networks, volumes or build cache yet (they come with their own parts), so there is
/// truthfully nothing to delete; the filters are still checked as dockerd checks them. `docker
/// system prune` calls all of them.
pub async fn prune_nothing(q: Query, req: axum::extract::Request) -> Result<Response> {
    let filters = q.filters()?;
    let path = req.uri().path();
    let (allowed, key): (&[&str], &str) = match path {
        "/containers/prune" => (&["until", "label", "label!"], "ContainersDeleted"),
        "/networks/prune" => (&["until", "label", "label!"], "NetworksDeleted"),
        "/volumes/prune" => (&["label", "label!", "all"], "VolumesDeleted"),
        _ => (
            &[
                "until",
                "id",
                "parent",
                "type",
                "description",
                "inuse",
                "shared",
                "private",
            ],
            "CachesDeleted",
        ),
    };
    filters.validate(allowed)?;
    let mut v = serde_json::Map::new();
    v.insert(key.into(), Value::Null);
    if key != "NetworksDeleted" {
        v.insert("SpaceReclaimed".into(), json!(0));
    }
    Ok(json(&Value::Object(v)))
}
