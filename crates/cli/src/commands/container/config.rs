//! `create` and `run` flags, and the create request they make: `Config`, `HostConfig` and
//! `NetworkingConfig` exactly as the docker CLI fills them.
//!
//! Ref: docker/cli cli/command/container/opts.go (`addFlags`, `parse`) and the API client's
//! `ContainerCreate` (capabilities normalized, `MacAddress` dropped for API >= 1.44).

use clap::{ArgAction, Args};
use serde_json::{json, Map, Value};

use super::opts::{self, NetworkAttachment};
use crate::commands::parse_bool;

type R<T> = std::result::Result<T, String>;

/// The flags `create` and `run` share with docker (`containerOptions`).
#[derive(Debug, Args, Default, Clone)]
pub struct ContainerFlags {
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = opts::validate_extra_host)]
    pub add_host: Vec<String>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long, value_name = "map")]
    pub annotation: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long, value_name = "list", value_parser = opts::validate_attach)]
    pub attach: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16", default_value = "0", value_parser = opts::flag_u16, hide_default_value = true)]
    pub blkio_weight: u16,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device", value_name = "list", value_parser = opts::parse_weight_device)]
    pub blkio_weight_device: Vec<Value>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent", value_name = "string", default_value = "")]
    pub cgroup_parent: String,
    /// Cgroup namespace to use (host|private)
    #[arg(long, value_name = "string", default_value = "")]
    pub cgroupns: String,
    /// Write the container ID to the file
    #[arg(long, value_name = "string", default_value = "")]
    pub cidfile: String,
    /// CPU count (Windows only)
    #[arg(long = "cpu-count", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide = true)]
    pub cpu_count: i64,
    /// CPU percent (Windows only)
    #[arg(long = "cpu-percent", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide = true)]
    pub cpu_percent: i64,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub cpu_period: i64,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub cpu_quota: i64,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub cpu_rt_period: i64,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub cpu_rt_runtime: i64,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub cpu_shares: i64,
    /// Number of CPUs
    #[arg(long, value_name = "decimal", default_value = "0", value_parser = opts::parse_cpus, hide_default_value = true)]
    pub cpus: i64,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string", default_value = "")]
    pub cpuset_cpus: String,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string", default_value = "")]
    pub cpuset_mems: String,
    /// Add a host device to the container
    #[arg(long, value_name = "list")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list", value_parser = opts::validate_device_cgroup_rule)]
    pub device_cgroup_rule: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps", value_name = "list", value_parser = opts::parse_throttle_bps)]
    pub device_read_bps: Vec<Value>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops", value_name = "list", value_parser = opts::parse_throttle_iops)]
    pub device_read_iops: Vec<Value>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps", value_name = "list", value_parser = opts::parse_throttle_bps)]
    pub device_write_bps: Vec<Value>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops", value_name = "list", value_parser = opts::parse_throttle_iops)]
    pub device_write_iops: Vec<Value>,
    /// Skip image verification
    #[arg(long = "disable-content-trust", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, value_parser = parse_bool, default_value = "true", hide = true)]
    pub disable_content_trust: bool,
    /// Set custom DNS servers
    #[arg(long, value_name = "list", value_parser = opts::validate_ip)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list", value_parser = opts::validate_dns_search)]
    pub dns_search: Vec<String>,
    /// Container NIS domain name
    #[arg(long, value_name = "string", default_value = "")]
    pub domainname: String,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list", value_parser = opts::validate_env)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string", default_value = "")]
    pub health_cmd: String,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration", default_value = "0s", value_parser = opts::go_duration, hide_default_value = true)]
    pub health_interval: i64,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int", default_value = "0", value_parser = opts::flag_i64, hide_default_value = true)]
    pub health_retries: i64,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration", default_value = "0s", value_parser = opts::go_duration, hide_default_value = true)]
    pub health_start_interval: i64,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration", default_value = "0s", value_parser = opts::go_duration, hide_default_value = true)]
    pub health_start_period: i64,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration", default_value = "0s", value_parser = opts::go_duration, hide_default_value = true)]
    pub health_timeout: i64,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "string", default_value = "")]
    pub hostname: String,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_parser = parse_bool)]
    pub init: Option<bool>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "string", default_value = "")]
    pub ip: String,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long, value_name = "string", default_value = "")]
    pub ip6: String,
    /// IPC mode to use
    #[arg(long, value_name = "string", default_value = "")]
    pub ipc: String,
    /// Container isolation technology
    #[arg(long, value_name = "string", default_value = "")]
    pub isolation: String,
    /// Kernel memory limit
    #[arg(long = "kernel-memory", value_name = "bytes", default_value = "0", value_parser = opts::ram_in_bytes, hide_default_value = true)]
    pub kernel_memory: i64,
    /// Set meta data on a container
    #[arg(short = 'l', long, value_name = "list", value_parser = opts::validate_label)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<String>,
    /// Add link to another container
    #[arg(long, value_name = "list", value_parser = opts::validate_link)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip", value_name = "list")]
    pub link_local_ip: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string", default_value = "")]
    pub log_driver: String,
    /// Log driver options
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address", value_name = "string", default_value = "")]
    pub mac_address: String,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", default_value = "0", value_parser = opts::ram_in_bytes, hide_default_value = true)]
    pub memory: i64,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", default_value = "0", value_parser = opts::ram_in_bytes, hide_default_value = true)]
    pub memory_reservation: i64,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", default_value = "0", value_parser = opts::mem_swap, allow_hyphen_values = true, hide_default_value = true)]
    pub memory_swap: i64,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_name = "int", default_value = "-1", value_parser = opts::flag_i64, allow_hyphen_values = true)]
    pub memory_swappiness: i64,
    /// Attach a filesystem mount to the container
    #[arg(long, value_name = "mount", value_parser = opts::flag_mount)]
    pub mount: Vec<String>,
    /// Assign a name to the container
    #[arg(long, value_name = "string", default_value = "")]
    pub name: String,
    /// Connect a container to a network
    #[arg(long, visible_alias = "net", value_name = "network", value_parser = opts::flag_network)]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "int", default_value = "0", value_parser = opts::flag_i64, allow_hyphen_values = true, hide_default_value = true)]
    pub oom_score_adj: i64,
    /// PID namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub pid: String,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", default_value = "0", value_parser = opts::flag_i64, allow_hyphen_values = true, hide_default_value = true)]
    pub pids_limit: i64,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string", default_value = "")]
    pub platform: String,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long, value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string", default_value = "no")]
    pub restart: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Runtime to use for this container
    #[arg(long, value_name = "string", default_value = "")]
    pub runtime: String,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes", default_value = "0", value_parser = opts::ram_in_bytes, hide_default_value = true)]
    pub shm_size: i64,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string", default_value = "")]
    pub stop_signal: String,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int", value_parser = opts::flag_i64, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt", value_name = "list")]
    pub storage_opt: Vec<String>,
    /// Sysctl options
    #[arg(long, value_name = "map", value_parser = opts::validate_sysctl)]
    pub sysctl: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Ulimit options
    #[arg(long, value_name = "ulimit", value_parser = opts::flag_ulimit)]
    pub ulimit: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", default_value = "")]
    pub user: String,
    /// User namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub userns: String,
    /// UTS namespace to use
    #[arg(long, value_name = "string", default_value = "")]
    pub uts: String,
    /// Bind mount a volume
    #[arg(short = 'v', long, value_name = "list")]
    pub volume: Vec<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver", value_name = "string", default_value = "")]
    pub volume_driver: String,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string", default_value = "")]
    pub workdir: String,
}

/// A parsed create request: the body of `POST /containers/create` and what the commands need.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub body: Value,
    pub image: String,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub auto_remove: bool,
}

fn null_or<T: serde::Serialize>(v: &[T]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// Ref: Go `net.ParseMAC` for the 48-bit forms.
fn valid_mac(s: &str) -> bool {
    let s = s.trim();
    let parts: Vec<&str> = if s.contains(':') {
        s.split(':').collect()
    } else {
        s.split('-').collect()
    };
    (parts.len() == 6 || parts.len() == 8 || parts.len() == 20)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn container_ref(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

fn is_user_defined(net: &str) -> bool {
    !matches!(net, "default" | "bridge" | "host" | "none") && container_ref(net).is_none()
}

/// The endpoint settings docker sends for one network. Ref: `parseNetworkAttachmentOpt`.
fn endpoint(ep: &NetworkAttachment, links: &[String]) -> R<Value> {
    if ep.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !is_user_defined(&ep.target) {
        if !ep.aliases.is_empty() {
            return Err("network-scoped aliases are only supported for user-defined networks".into());
        }
        if !links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    let ipam = if !ep.ipv4.is_empty() || !ep.ipv6.is_empty() || !ep.link_local_ips.is_empty() {
        let mut m = Map::new();
        if !ep.ipv4.is_empty() {
            m.insert("IPv4Address".into(), json!(ep.ipv4));
        }
        if !ep.ipv6.is_empty() {
            m.insert("IPv6Address".into(), json!(ep.ipv6));
        }
        if !ep.link_local_ips.is_empty() {
            m.insert("LinkLocalIPs".into(), json!(ep.link_local_ips));
        }
        Value::Object(m)
    } else {
        Value::Null
    };
    if !ep.mac.is_empty() && !valid_mac(&ep.mac) {
        return Err(format!("{} is not a valid mac address", ep.mac));
    }
    Ok(json!({
        "IPAMConfig": ipam,
        "Links": null_or(links),
        "Aliases": null_or(&ep.aliases),
        "MacAddress": ep.mac,
        "DriverOpts": if ep.driver_opts.is_empty() { Value::Null } else { json!(ep.driver_opts) },
        "GwPriority": ep.gw_priority,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null,
    }))
}

fn is_empty_endpoint(ep: &NetworkAttachment, links: &[String]) -> bool {
    ep.aliases.is_empty()
        && links.is_empty()
        && ep.driver_opts.is_empty()
        && ep.ipv4.is_empty()
        && ep.ipv6.is_empty()
        && ep.link_local_ips.is_empty()
        && ep.mac.is_empty()
        && ep.gw_priority == 0
}

/// Ref: docker/cli `parseNetworkOpts` + `applyContainerOptions`.
fn networking(f: &ContainerFlags) -> R<Map<String, Value>> {
    let nets: Vec<NetworkAttachment> = f
        .network
        .iter()
        .map(|n| opts::parse_network(n))
        .collect::<R<_>>()?;
    let apply = |n: &mut NetworkAttachment| -> R<Vec<String>> {
        if !n.aliases.is_empty() && !f.network_alias.is_empty() {
            return Err(
                "conflicting options: cannot specify both --network-alias and per-network alias".into(),
            );
        }
        if !n.ipv4.is_empty() && !f.ip.is_empty() {
            return Err("conflicting options: cannot specify both --ip and per-network IPv4 address".into());
        }
        if !n.ipv6.is_empty() && !f.ip6.is_empty() {
            return Err("conflicting options: cannot specify both --ip6 and per-network IPv6 address".into());
        }
        if !n.mac.is_empty() && !f.mac_address.is_empty() {
            return Err(
                "conflicting options: cannot specify both --mac-address and per-network MAC address".into(),
            );
        }
        if !n.link_local_ips.is_empty() && !f.link_local_ip.is_empty() {
            return Err("conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses".into());
        }
        if !f.network_alias.is_empty() {
            n.aliases = f.network_alias.clone();
        }
        let links = if is_user_defined(&n.target) {
            f.link.clone()
        } else {
            Vec::new()
        };
        if !f.ip.is_empty() {
            n.ipv4 = f.ip.clone();
        }
        if !f.ip6.is_empty() {
            n.ipv6 = f.ip6.clone();
        }
        if !f.mac_address.is_empty() {
            n.mac = f.mac_address.clone();
        }
        if !f.link_local_ip.is_empty() {
            n.link_local_ips = f.link_local_ip.clone();
        }
        Ok(links)
    };
    let mut endpoints = Map::new();
    if nets.is_empty() {
        let mut n = NetworkAttachment {
            target: "default".into(),
            ..Default::default()
        };
        let links = apply(&mut n)?;
        endpoints.insert("default".into(), endpoint(&n, &links)?);
    }
    let (mut user, mut non_user) = (false, false);
    let count = nets.len();
    for (i, mut n) in nets.into_iter().enumerate() {
        if is_user_defined(&n.target) {
            user = true;
        } else {
            non_user = true;
        }
        let links = if i == 0 { apply(&mut n)? } else { Vec::new() };
        let ep = endpoint(&n, &links)?;
        if endpoints.contains_key(&n.target) {
            return Err(format!(
                "network {} is specified multiple times",
                opts::go_quote(&n.target)
            ));
        }
        if i == 0 && count == 1 && is_empty_endpoint(&n, &links) {
            continue;
        }
        endpoints.insert(n.target.clone(), ep);
    }
    if user && non_user {
        return Err(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes".into(),
        );
    }
    Ok(endpoints)
}

/// Go's `filepath.Abs` for a relative host path of a bind.
fn abs_host(p: &str) -> String {
    match std::env::current_dir() {
        Ok(cwd) => opts::clean_path(&format!("{}/{p}", cwd.display())),
        Err(_) => p.to_string(),
    }
}

/// Docker's `parse`: the create request for `image` and `args` (the command). `console` is the
/// local terminal's (rows, columns), (0, 0) without one.
pub fn build(f: &ContainerFlags, image: &str, args: &[String], console: (u16, u16)) -> R<CreateRequest> {
    let mut attach_stdin = f.attach.iter().any(|a| a == "stdin");
    let mut attach_stdout = f.attach.iter().any(|a| a == "stdout");
    let mut attach_stderr = f.attach.iter().any(|a| a == "stderr");
    if !f.mac_address.is_empty() && !valid_mac(&f.mac_address) {
        return Err(format!("{} is not a valid mac address", f.mac_address));
    }
    if f.interactive {
        attach_stdin = true;
    }
    if f.attach.is_empty() {
        attach_stdout = true;
        attach_stderr = true;
    }
    let sw = f.memory_swappiness;
    if sw != -1 && !(0..=100).contains(&sw) {
        return Err(format!(
            "invalid value: {sw}. Valid memory swappiness range is 0-100"
        ));
    }

    // -v: named or host sources are binds; the rest are anonymous volumes.
    let mut specs: Vec<&String> = Vec::new();
    for v in &f.volume {
        if !specs.contains(&v) {
            specs.push(v);
        }
    }
    let mut binds: Vec<String> = Vec::new();
    let mut volumes = Map::new();
    for bind in specs {
        let parsed = opts::parse_volume(bind)?;
        if parsed.source.is_empty() {
            volumes.insert(bind.clone(), json!({}));
            continue;
        }
        let mut to_bind = bind.clone();
        if parsed.kind == "bind" {
            if let Some((host, target)) = bind.split_once(':') {
                let host = if !host.starts_with('/') && host.starts_with('.') {
                    abs_host(host)
                } else {
                    host.to_string()
                };
                to_bind = format!("{host}:{target}");
            }
        }
        binds.push(to_bind);
    }

    let mut tmpfs = Map::new();
    for t in &f.tmpfs {
        let (k, v) = t.split_once(':').unwrap_or((t.as_str(), ""));
        tmpfs.insert(k.to_string(), json!(v));
    }

    let cmd = null_or(args);
    let entrypoint = match &f.entrypoint {
        Some(e) if !e.is_empty() => json!([e]),
        Some(_) => json!([""]),
        None => Value::Null,
    };

    let (exposed, bindings) = opts::parse_ports(&f.publish, &f.expose)?;
    let mut exposed_ports = Map::new();
    for p in &exposed {
        exposed_ports.insert(p.clone(), json!({}));
    }
    let mut port_bindings = Map::new();
    for (port, list) in &bindings {
        port_bindings.insert(
            port.clone(),
            Value::Array(
                list.iter()
                    .map(|(ip, hp)| json!({"HostIp": ip, "HostPort": hp}))
                    .collect(),
            ),
        );
    }

    let mut devices = Vec::new();
    let mut cdi = Vec::new();
    for d in &f.device {
        // Ref: CDI qualified names look like `vendor.com/class=name`.
        if !d.starts_with('/') && d.contains('/') && d.contains('=') {
            cdi.push(d.clone());
            continue;
        }
        devices.push(opts::parse_device(d)?);
    }

    let mut env = Vec::new();
    for file in &f.env_file {
        env.extend(opts::read_kv_file(file, true)?);
    }
    env.extend(f.env.iter().cloned());

    let mut labels = Vec::new();
    for file in &f.label_file {
        labels.extend(opts::read_kv_file(file, false)?);
    }
    labels.extend(f.label.iter().cloned());
    let labels = opts::kv_map(&labels);

    let valid_container = |m: &str| container_ref(m).is_some_and(|c| !c.is_empty());
    if !(f.pid.is_empty() || f.pid == "host" || valid_container(&f.pid)) {
        return Err("--pid: invalid PID mode".into());
    }
    if !(f.uts.is_empty() || f.uts == "host") {
        return Err("--uts: invalid UTS mode".into());
    }
    if !(f.userns.is_empty() || f.userns == "host") {
        return Err("--userns: invalid USER mode".into());
    }
    if !matches!(f.cgroupns.as_str(), "" | "host" | "private") {
        return Err("--cgroupns: invalid CGROUP mode".into());
    }
    let (restart_name, restart_count) = opts::parse_restart_policy(&f.restart)?;

    if f.log_driver == "none" && !f.log_opt.is_empty() {
        return Err(format!("invalid logging opts for driver {}", f.log_driver));
    }
    let log_opts = opts::kv_map(&f.log_opt);

    let security = opts::parse_security_opts(&f.security_opt)?;
    let unconfined = security.iter().any(|o| o == "systempaths=unconfined");
    let security: Vec<String> = security
        .into_iter()
        .filter(|o| o != "systempaths=unconfined")
        .collect();
    let (masked, readonly) = if unconfined {
        (json!([]), json!([]))
    } else {
        (Value::Null, Value::Null)
    };

    let mut storage = Map::new();
    for o in &f.storage_opt {
        let Some((k, v)) = o.split_once('=') else {
            return Err("invalid storage option".into());
        };
        storage.insert(k.into(), json!(v));
    }

    let have_health = !f.health_cmd.is_empty()
        || f.health_interval != 0
        || f.health_timeout != 0
        || f.health_start_period != 0
        || f.health_retries != 0
        || f.health_start_interval != 0;
    let health = if f.no_healthcheck {
        if have_health {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        Some(json!({"Test": ["NONE"]}))
    } else if have_health {
        for (v, name) in [
            (f.health_interval, "--health-interval"),
            (f.health_timeout, "--health-timeout"),
            (f.health_retries, "--health-retries"),
            (f.health_start_period, "--health-start-period"),
            (f.health_start_interval, "--health-start-interval"),
        ] {
            if v < 0 {
                return Err(format!("{name} cannot be negative"));
            }
        }
        let mut h = Map::new();
        if !f.health_cmd.is_empty() {
            h.insert("Test".into(), json!(["CMD-SHELL", f.health_cmd]));
        }
        for (k, v) in [
            ("Interval", f.health_interval),
            ("Timeout", f.health_timeout),
            ("StartPeriod", f.health_start_period),
            ("StartInterval", f.health_start_interval),
            ("Retries", f.health_retries),
        ] {
            if v != 0 {
                h.insert(k.into(), json!(v));
            }
        }
        Some(Value::Object(h))
    } else {
        None
    };

    // Later --ulimit flags for the same name win; the list is sorted by name.
    let mut ulimits: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for u in &f.ulimit {
        let (name, soft, hard) = opts::parse_ulimit(u)?;
        ulimits.insert(name, (soft, hard));
    }
    let ulimits: Vec<Value> = ulimits
        .into_iter()
        .map(|(n, (s, h))| json!({"Name": n, "Hard": h, "Soft": s}))
        .collect();

    let device_requests = if cdi.is_empty() {
        Value::Null
    } else {
        json!([{"Driver": "cdi", "Count": 0, "DeviceIDs": cdi, "Capabilities": null, "Options": null}])
    };

    let mounts: Vec<Value> = f.mount.iter().map(|m| opts::parse_mount(m)).collect::<R<_>>()?;

    let restart_none = restart_name.is_empty() || restart_name == "no";
    if f.rm && !restart_none {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }

    let open_stdin = f.interactive;
    let stdin_once = open_stdin && attach_stdin;

    let endpoints = networking(f)?;
    let network_mode = f
        .network
        .first()
        .map(|n| opts::parse_network(n).map(|n| n.target))
        .transpose()?
        .unwrap_or_else(|| "default".into());

    let mut config = json!({
        "Hostname": f.hostname,
        "Domainname": f.domainname,
        "User": f.user,
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
        "Tty": f.tty,
        "OpenStdin": open_stdin,
        "StdinOnce": stdin_once,
        "Env": null_or(&env),
        "Cmd": cmd,
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": f.workdir,
        "Entrypoint": entrypoint,
        "OnBuild": null,
        "Labels": labels,
    });
    let c = config.as_object_mut().expect("config is an object");
    if !exposed_ports.is_empty() {
        c.insert("ExposedPorts".into(), Value::Object(exposed_ports));
    }
    if let Some(h) = health {
        c.insert("Healthcheck".into(), h);
    }
    if !f.stop_signal.is_empty() {
        c.insert("StopSignal".into(), json!(f.stop_signal));
    }
    if let Some(t) = f.stop_timeout {
        c.insert("StopTimeout".into(), json!(t));
    }

    let mut host = json!({
        "Binds": null_or(&binds),
        "ContainerIDFile": f.cidfile,
        "LogConfig": {"Type": f.log_driver, "Config": log_opts},
        "NetworkMode": network_mode,
        "PortBindings": port_bindings,
        "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": restart_count},
        "AutoRemove": f.rm,
        "VolumeDriver": f.volume_driver,
        "VolumesFrom": null_or(&f.volumes_from),
        "ConsoleSize": [console.0, console.1],
        "CapAdd": opts::normalize_caps(&f.cap_add),
        "CapDrop": opts::normalize_caps(&f.cap_drop),
        "CgroupnsMode": f.cgroupns,
        "Dns": f.dns,
        "DnsOptions": f.dns_option,
        "DnsSearch": f.dns_search,
        "ExtraHosts": null_or(&f.add_host),
        "GroupAdd": null_or(&f.group_add),
        "IpcMode": f.ipc,
        "Cgroup": "",
        "Links": null_or(&f.link),
        "OomScoreAdj": f.oom_score_adj,
        "PidMode": f.pid,
        "Privileged": f.privileged,
        "PublishAllPorts": f.publish_all,
        "ReadonlyRootfs": f.read_only,
        "SecurityOpt": if f.security_opt.is_empty() { Value::Null } else { json!(security) },
        "UTSMode": f.uts,
        "UsernsMode": f.userns,
        "ShmSize": f.shm_size,
        "Isolation": f.isolation,
        "CpuShares": f.cpu_shares,
        "Memory": f.memory,
        "NanoCpus": f.cpus,
        "CgroupParent": f.cgroup_parent,
        "BlkioWeight": f.blkio_weight,
        "BlkioWeightDevice": f.blkio_weight_device,
        "BlkioDeviceReadBps": f.device_read_bps,
        "BlkioDeviceWriteBps": f.device_write_bps,
        "BlkioDeviceReadIOps": f.device_read_iops,
        "BlkioDeviceWriteIOps": f.device_write_iops,
        "CpuPeriod": f.cpu_period,
        "CpuQuota": f.cpu_quota,
        "CpuRealtimePeriod": f.cpu_rt_period,
        "CpuRealtimeRuntime": f.cpu_rt_runtime,
        "CpusetCpus": f.cpuset_cpus,
        "CpusetMems": f.cpuset_mems,
        "Devices": devices,
        "DeviceCgroupRules": null_or(&f.device_cgroup_rule),
        "DeviceRequests": device_requests,
        "MemoryReservation": f.memory_reservation,
        "MemorySwap": f.memory_swap,
        "MemorySwappiness": f.memory_swappiness,
        "OomKillDisable": f.oom_kill_disable,
        "PidsLimit": f.pids_limit,
        "Ulimits": ulimits,
        "CpuCount": f.cpu_count,
        "CpuPercent": f.cpu_percent,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": masked,
        "ReadonlyPaths": readonly,
    });
    let h = host.as_object_mut().expect("host config is an object");
    if !tmpfs.is_empty() {
        h.insert("Tmpfs".into(), Value::Object(tmpfs));
    }
    if !f.sysctl.is_empty() {
        h.insert("Sysctls".into(), Value::Object(opts::kv_map(&f.sysctl)));
    }
    if !storage.is_empty() {
        h.insert("StorageOpt".into(), Value::Object(storage));
    }
    if !f.annotation.is_empty() {
        h.insert("Annotations".into(), Value::Object(opts::kv_map(&f.annotation)));
    }
    if !mounts.is_empty() {
        h.insert("Mounts".into(), Value::Array(mounts));
    }
    if let Some(i) = f.init {
        h.insert("Init".into(), json!(i));
    }
    if !f.runtime.is_empty() {
        h.insert("Runtime".into(), json!(f.runtime));
    }
    c.insert("HostConfig".into(), host);
    c.insert(
        "NetworkingConfig".into(),
        json!({"EndpointsConfig": Value::Object(endpoints)}),
    );
    Ok(CreateRequest {
        body: config,
        image: image.to_string(),
        tty: f.tty,
        attach_stdin,
        attach_stdout,
        attach_stderr,
        auto_remove: f.rm,
    })
}

impl CreateRequest {
    /// `run -d`: nothing is attached (docker clears the attach fields before create).
    pub fn detach(&mut self) {
        self.attach_stdin = false;
        self.attach_stdout = false;
        self.attach_stderr = false;
        let c = self.body.as_object_mut().expect("create body is an object");
        for k in ["AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce"] {
            c.insert(k.into(), json!(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        f: ContainerFlags,
        #[arg(required = true, trailing_var_arg = true, num_args = 1..)]
        rest: Vec<String>,
    }

    fn parse(s: &str) -> (ContainerFlags, Vec<String>) {
        let mut args = vec!["x".to_string()];
        args.extend(s.split_whitespace().map(str::to_string));
        let t = T::try_parse_from(args).unwrap();
        (t.f, t.rest)
    }

    #[test]
    fn defaults_match_docker() {
        let (f, rest) = parse("busybox");
        let r = build(&f, &rest[0], &rest[1..], (0, 0)).unwrap();
        // What docker 28.2 sends for `docker create busybox` (captured).
        let docker: Value = serde_json::from_str(r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#).unwrap();
        assert_eq!(r.body, docker);
    }

    #[test]
    fn command_after_image_keeps_its_flags() {
        let (f, rest) = parse("--rm busybox ls -la --rm");
        assert!(f.rm);
        assert_eq!(rest, ["busybox", "ls", "-la", "--rm"]);
        let (f, rest) = parse("-it -e A=1 busybox");
        assert!(f.interactive && f.tty);
        assert_eq!(f.env, ["A=1"]);
        assert_eq!(rest, ["busybox"]);
        let (f, rest) = parse("busybox -e x");
        assert!(f.env.is_empty());
        assert_eq!(rest, ["busybox", "-e", "x"]);
        let mut args = vec!["x".to_string()];
        args.extend(["--bogus".to_string(), "busybox".to_string()]);
        assert!(T::try_parse_from(args).is_err());
    }

    #[test]
    fn conflicts() {
        let (f, rest) = parse("--rm --restart always busybox");
        assert_eq!(
            build(&f, &rest[0], &[], (0, 0)).unwrap_err(),
            "conflicting options: cannot specify both --restart and --rm"
        );
        let (f, rest) = parse("--no-healthcheck --health-cmd x busybox");
        assert_eq!(
            build(&f, &rest[0], &[], (0, 0)).unwrap_err(),
            "--no-healthcheck conflicts with --health-* options"
        );
        let (f, rest) = parse("--memory-swappiness 200 busybox");
        assert_eq!(
            build(&f, &rest[0], &[], (0, 0)).unwrap_err(),
            "invalid value: 200. Valid memory swappiness range is 0-100"
        );
        let (f, rest) = parse("--pid bogus busybox");
        assert_eq!(
            build(&f, &rest[0], &[], (0, 0)).unwrap_err(),
            "--pid: invalid PID mode"
        );
    }
}
