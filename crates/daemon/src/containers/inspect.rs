//! Containers as the API shows them: `GET /containers/json` rows and `GET /containers/{id}/json`,
//! in dockerd's shapes (every field dockerd prints, with its zero values).

use serde_json::{json, Map, Value};

use super::{Container, Containers, Inner, State, Status};
use crate::api::Filters;
use crate::error::{ApiError, Result};
use crate::util::{now_nanos, rfc3339_nano};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(nanos: i64) -> String {
    if nanos == 0 {
        ZERO_TIME.to_string()
    } else {
        rfc3339_nano(nanos)
    }
}

/// The process dockerd reports: entrypoint then command.
pub fn path_and_args(i: &Inner) -> (String, Vec<String>) {
    let mut all: Vec<String> = i.config.entrypoint.clone().unwrap_or_default();
    all.extend(i.config.cmd.clone().unwrap_or_default());
    if all.is_empty() {
        return (String::new(), Vec::new());
    }
    let path = all.remove(0);
    (path, all)
}

/// `Up 3 seconds`, `Exited (0) 2 minutes ago`, ... for a state.
pub fn status_text(st: &State, now: i64) -> String {
    super::humanize::status_string(&super::humanize::StatusInput {
        status: st.status.as_str(),
        exit_code: st.exit_code,
        started_at: st.started_at,
        finished_at: st.finished_at,
        now,
        health: None,
    })
}

/// Overlays `value`'s keys on `defaults` (dockerd prints every field; the API types skip unset
/// ones).
fn with_defaults(defaults: Value, value: Value) -> Value {
    let mut out = match defaults {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Value::Object(m) = value {
        for (k, v) in m {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn config_json(i: &Inner) -> Value {
    let defaults = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null,
        "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": {}
    });
    with_defaults(defaults, serde_json::to_value(&i.config).unwrap_or(Value::Null))
}

fn host_config_json(i: &Inner) -> Value {
    let defaults = json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null, "IpcMode": "private", "Cgroup": "",
        "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
        "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": null,
        "DeviceRequests": null, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": null, "PidsLimit": null, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": null, "ReadonlyPaths": null,
        "Init": null
    });
    let mut v = with_defaults(defaults, serde_json::to_value(&i.host).unwrap_or(Value::Null));
    // Docker shows the policy "no" rather than an empty name.
    if let Some(rp) = v.get_mut("RestartPolicy").and_then(Value::as_object_mut) {
        if rp.get("Name").and_then(Value::as_str).unwrap_or("").is_empty() {
            rp.insert("Name".into(), json!("no"));
        }
        rp.entry("MaximumRetryCount").or_insert(json!(0));
    }
    v
}

/// Mounts as dockerd lists them, from the binds and mounts of the host config.
fn mounts_json(c: &Containers, i: &Inner) -> Value {
    let mut out = Vec::new();
    for b in i.host.binds.clone().unwrap_or_default() {
        let parts: Vec<&str> = b.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let mode = parts.get(2).copied().unwrap_or("");
        let rw = !mode.split(',').any(|m| m == "ro");
        let (typ, name, source) = if parts[0].starts_with('/') {
            ("bind", None, parts[0].to_string())
        } else {
            (
                "volume",
                Some(parts[0].to_string()),
                c.volumes_root()
                    .join(parts[0])
                    .join("_data")
                    .display()
                    .to_string(),
            )
        };
        let mut m = json!({
            "Type": typ, "Source": source, "Destination": parts[1], "Mode": mode, "RW": rw,
            "Propagation": if typ == "bind" { "rprivate" } else { "" }
        });
        if let Some(n) = name {
            m["Name"] = json!(n);
            m["Driver"] = json!("local");
        }
        out.push(m);
    }
    for m in i.host.mounts.clone().unwrap_or_default() {
        let typ = m
            .typ
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "volume".into());
        let target = m.target.clone().unwrap_or_default();
        let rw = !m.read_only.unwrap_or(false);
        let source = match typ.as_str() {
            "volume" => m
                .source
                .as_ref()
                .map(|s| c.volumes_root().join(s).join("_data").display().to_string())
                .unwrap_or_default(),
            _ => m.source.clone().unwrap_or_default(),
        };
        let mut v = json!({"Type": typ, "Source": source, "Destination": target, "Mode": "", "RW": rw, "Propagation": ""});
        if typ == "bind" {
            v["Propagation"] = json!("rprivate");
        }
        if typ == "volume" {
            v["Name"] = json!(m.source.clone().unwrap_or_default());
            v["Driver"] = json!("local");
        }
        out.push(v);
    }
    Value::Array(out)
}

/// `NetworkSettings.Networks`: the one network a container is on (none for `container:X`).
fn networks(i: &Inner) -> Value {
    let mode = i.host.network_mode.as_deref().unwrap_or("default");
    if mode.starts_with("container:") {
        return json!({});
    }
    let name = if mode == "default" { "none" } else { mode };
    json!({ name: {
        "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
    }})
}

fn network_settings(i: &Inner) -> Value {
    let mode = i.host.network_mode.clone().unwrap_or_else(|| "default".into());
    let net_name = if mode == "default" {
        "none".to_string()
    } else {
        mode.clone()
    };
    let mut networks = Map::new();
    if !mode.starts_with("container:") {
        networks.insert(
            net_name,
            json!({
                "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
                "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
            }),
        );
    }
    json!({
        "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": false,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
        "Networks": networks
    })
}

impl Containers {
    pub fn volumes_root(&self) -> std::path::PathBuf {
        self.root
            .parent()
            .unwrap_or(std::path::Path::new("/"))
            .join("volumes")
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, c: &Container, size: bool) -> Result<Value> {
        let i = c.lock();
        let st = &i.state;
        let (path, args) = path_and_args(&i);
        let dir = self.dir(&c.id);
        let mut lower = Vec::new();
        if let Ok(Some(img)) = self.images.store.image(&c.image_id) {
            for l in img.layers.iter().rev() {
                lower.push(self.images.layers.dir(&l.diff_id).display().to_string());
            }
        }
        let mut v = json!({
            "Id": c.id,
            "Created": rfc3339_nano(c.created),
            "Path": path,
            "Args": args,
            "State": {
                "Status": st.status.as_str(),
                "Running": st.status.is_live() && st.status != Status::Restarting,
                "Paused": st.status == Status::Paused,
                "Restarting": st.status == Status::Restarting,
                "OOMKilled": st.oom_killed,
                "Dead": st.status == Status::Dead,
                "Pid": st.pid,
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": time(st.started_at),
                "FinishedAt": time(st.finished_at),
            },
            "Image": c.image_id,
            "ResolvConfPath": dir.join("resolv.conf"),
            "HostnamePath": dir.join("hostname"),
            "HostsPath": dir.join("hosts"),
            "LogPath": self.log_path(&c.id),
            "Name": format!("/{}", i.name),
            "RestartCount": st.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": host_config_json(&i),
            "GraphDriver": {
                "Data": {
                    "LowerDir": lower.join(":"),
                    "MergedDir": dir.join("rootfs"),
                    "UpperDir": dir.join("diff"),
                    "WorkDir": dir.join("work"),
                },
                "Name": "overlay2",
            },
            "Mounts": mounts_json(self, &i),
            "Config": config_json(&i),
            "NetworkSettings": network_settings(&i),
        });
        if size {
            let rw = dir_size(&dir.join("diff"));
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rw + self.image_size(c));
        }
        Ok(v)
    }

    fn image_size(&self, c: &Container) -> u64 {
        self.images
            .store
            .image(&c.image_id)
            .ok()
            .flatten()
            .map(|i| i.size)
            .unwrap_or(0)
    }

    /// `GET /containers/json`.
    pub fn list(&self, all: bool, limit: Option<usize>, size: bool, filters: &Filters) -> Result<Vec<Value>> {
        filters.validate(&[
            "ancestor",
            "before",
            "expose",
            "exited",
            "health",
            "id",
            "isolation",
            "is-task",
            "label",
            "name",
            "network",
            "publish",
            "since",
            "status",
            "volume",
        ])?;
        for s in filters.values("status") {
            if ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&s.as_str())
            {
                return Err(ApiError::invalid(format!("invalid filter 'status={s}'")));
            }
        }
        let mut exited = Vec::new();
        for e in filters.values("exited") {
            exited.push(
                e.parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("invalid filter 'exited={e}'")))?,
            );
        }
        let now = now_nanos();
        let mut v = self.all();
        v.reverse(); // newest first
        let position = |key: &str| -> Result<i64> {
            let c = self.get(key)?;
            Ok(c.created)
        };
        let before = match filters.values("before").first() {
            Some(k) => Some(position(k)?),
            None => None,
        };
        let since = match filters.values("since").first() {
            Some(k) => Some(position(k)?),
            None => None,
        };
        let ancestors: Vec<String> = filters
            .values("ancestor")
            .iter()
            .filter_map(|a| self.images.lookup(a).ok().map(|i| i.id))
            .collect();
        let mut out = Vec::new();
        for c in v {
            let i = c.lock();
            let st = &i.state;
            let status = st.status.as_str();
            let shown_by_default = st.status.is_live();
            let has_status_filter = filters.contains("status") || filters.contains("exited");
            if !all
                && limit.is_none()
                && before.is_none()
                && since.is_none()
                && !has_status_filter
                && !shown_by_default
            {
                continue;
            }
            if filters.contains("status") && !filters.values("status").iter().any(|s| s == status) {
                continue;
            }
            if !(exited.is_empty() || st.status == Status::Exited && exited.contains(&st.exit_code)) {
                continue;
            }
            if filters.contains("id") && !filters.values("id").iter().any(|p| c.id.starts_with(p.as_str())) {
                continue;
            }
            if filters.contains("name") && !filters.values("name").iter().any(|n| name_matches(n, &i.name)) {
                continue;
            }
            if filters.contains("label") {
                let labels: Map<String, Value> = i
                    .config
                    .labels
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                if !filters.match_labels("label", &labels) {
                    continue;
                }
            }
            if filters.contains("ancestor") && !ancestors.contains(&c.image_id) {
                continue;
            }
            if filters.contains("health") && !filters.values("health").iter().any(|h| h == "none") {
                continue;
            }
            if before.is_some_and(|b| c.created >= b) || since.is_some_and(|s| c.created <= s) {
                continue;
            }
            let (path, args) = path_and_args(&i);
            let command = if args.is_empty() {
                path
            } else {
                format!("{path} {}", args.join(" "))
            };
            let labels = i.config.labels.clone().unwrap_or_default();
            let mode = i.host.network_mode.as_deref().unwrap_or("default");
            let mut row = json!({
                "Id": c.id,
                "Names": [format!("/{}", i.name)],
                "Image": i.config.image.clone().unwrap_or_default(),
                "ImageID": c.image_id,
                "Command": command,
                "Created": c.created / 1_000_000_000,
                "Ports": [],
                "Labels": labels,
                "State": status,
                "Status": status_text(st, now),
                "HostConfig": {"NetworkMode": mode},
                "NetworkSettings": {"Networks": networks(&i)},
                "Mounts": if i.host.binds.as_ref().is_none_or(|b| b.is_empty())
                    && i.host.mounts.as_ref().is_none_or(|m| m.is_empty())
                {
                    json!([])
                } else {
                    mounts_json(self, &i)
                },
            });
            drop(i);
            if size {
                let rw = dir_size(&self.dir(&c.id).join("diff"));
                row["SizeRw"] = json!(rw);
                row["SizeRootFs"] = json!(rw + self.image_size(&c));
            }
            out.push(row);
            if limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

/// dockerd's name filter is a regular expression search; berth supports its common forms: a
/// plain substring, `^anchored`, `anchored$`.
fn name_matches(filter: &str, name: &str) -> bool {
    let f = filter.strip_prefix('/').unwrap_or(filter);
    let name_slash = format!("/{name}");
    match (f.strip_prefix('^'), f.strip_suffix('$')) {
        (Some(rest), _) if rest.ends_with('$') => {
            let inner = rest.trim_end_matches('$');
            name == inner.trim_start_matches('/')
        }
        (Some(rest), _) => name.starts_with(rest.trim_start_matches('/')) || name_slash.starts_with(rest),
        (None, Some(rest)) => name.ends_with(rest),
        (None, None) => name_slash.contains(f) || name.contains(f),
    }
}

/// Bytes in files under `dir` (not following symlinks, each hard link once per directory walk).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() <= 1 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filters() {
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^web", "web-1"));
        assert!(!name_matches("^web", "my-web"));
        assert!(name_matches("^/web$", "web"));
        assert!(!name_matches("^web$", "web2"));
        assert!(name_matches("-1$", "web-1"));
    }

    #[test]
    fn defaults_under_values() {
        let v = with_defaults(json!({"a": 0, "b": ""}), json!({"b": "x", "c": 1}));
        assert_eq!(v, json!({"a": 0, "b": "x", "c": 1}));
    }
}
