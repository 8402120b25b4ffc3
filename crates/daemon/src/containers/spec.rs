//! A Docker create body turned into the OCI runtime spec (`config.json`), as dockerd builds it for
//! runc, in dockerd's stages:
//!
//! | when | dockerd | here | errors |
//! | --- | --- | --- | --- |
//! | create, the client's config | `verifyContainerSettings`, `adaptContainerSettings` | [`prepare_create`] | 400 |
//! | create, image defaults | `merge`, `mergeAndVerifyConfig` | [`merge_image_config`], [`check_command`] | 400 |
//! | start | `createSpec` (`daemon/oci_linux.go`) | [`resolve_user`], [`build`] | 500, as dockerd's start |
//!
//! What the host offers (cgroup controllers, capabilities, kernel version, rlimits, sysctls) is read
//! once into a [`HostInfo`]; the tests build their own, so nothing here needs root.
//!
//! Not done (yet) as dockerd does: the default seccomp profile (a container without
//! `--security-opt seccomp=…` runs unconfined), AppArmor and SELinux labels, user-namespace
//! remapping, links, `--volumes-from`, device requests (GPUs), the CPU real-time controller.
// Ref: moby v27.3.1 daemon/oci_linux.go, oci/defaults.go, daemon/daemon_unix.go, daemon/commit.go,
// daemon/create.go, daemon/create_unix.go, daemon/volumes.go, daemon/volumes_unix.go,
// volume/mounts/linux_parser.go, container/container_unix.go, oci/caps, profiles/seccomp,
// runconfig; moby/sys/user (user lookup), moby/sys/mount (tmpfs options); runc's sysctl checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_image::manifest::{ContainerConfig as ImageContainerConfig, ImageConfig};
use berth_oci::{
    BlockIo, Capabilities, ConsoleSize, Cpu, Device, DeviceCgroup, Linux, Memory, Mount, Namespace,
    NamespaceType, Pids, Process, Resources, Rlimit, Root, Seccomp, SeccompAction, SeccompArch, SeccompArg,
    SeccompSyscall, Spec, ThrottleDevice, User, WeightDevice,
};
use bollard_stubs::models::{
    ContainerConfig, HealthConfig, HostConfig, HostConfigCgroupnsModeEnum, HostConfigIsolationEnum,
    Mount as ApiMount, MountTypeEnum,
};
use serde::Deserialize;

use crate::error::{ApiError, Result};

/// The `PATH` a container gets when its config sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default `/dev/shm` size (`--shm-size`), 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Where `--init`'s binary is bound in the container.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Docker's default capability set.
// Ref: moby oci/caps/defaults.go DefaultCapabilities.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel defines, by number (containerd's `cap.Known()`).
const KNOWN_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];
const CAP_SYS_RESOURCE: u32 = 24;

/// dockerd's lower bound for `--memory` and `--memory-reservation` (start-up overhead).
const MIN_MEMORY: i64 = 6 << 20;

const DEFAULT_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `--ulimit` names and their rlimits.
const ULIMITS: [(&str, &str, libc::__rlimit_resource_t); 15] = [
    ("core", "RLIMIT_CORE", libc::RLIMIT_CORE),
    ("cpu", "RLIMIT_CPU", libc::RLIMIT_CPU),
    ("data", "RLIMIT_DATA", libc::RLIMIT_DATA),
    ("fsize", "RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("locks", "RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("memlock", "RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("msgqueue", "RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("nice", "RLIMIT_NICE", libc::RLIMIT_NICE),
    ("nofile", "RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("nproc", "RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("rss", "RLIMIT_RSS", libc::RLIMIT_RSS),
    ("rtprio", "RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("rttime", "RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("sigpending", "RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("stack", "RLIMIT_STACK", libc::RLIMIT_STACK),
];

/// The open-files limit of a container without `--ulimit nofile`: what Docker 25+ containers
/// get from containerd's unit (systemd's 1024 soft, 524288 hard), capped at berthd's own hard
/// limit when berthd may not raise it.
const DEFAULT_NOFILE: (u64, u64) = (1024, 524_288);

// ---------------------------------------------------------------------------------------------
// Merge with the image's config (create)
// ---------------------------------------------------------------------------------------------

/// dockerd's merge of the image's defaults into the create body's config: the container's values
/// win; `Env` keeps the container's entries and adds the image's other keys; `Labels`,
/// `ExposedPorts` and `Volumes` are unions; the image's `Cmd` is used only when the container sets
/// neither `Entrypoint` nor `Cmd`, its `Entrypoint` only when the container's is absent (`null`,
/// not `[]`); a container `Healthcheck` takes the image's value for each field it leaves at zero
/// (`["NONE"]` disables the image's check). `OnBuild`, `Shell` and `StopTimeout` are not
/// inherited. An `Entrypoint` of `[""]` (`--entrypoint ""`) is then cleared.
// Ref: moby daemon/commit.go merge, daemon/create.go mergeAndVerifyConfig.
pub fn merge_image_config(cfg: &mut ContainerConfig, img: &ImageConfig) {
    if let Some(image) = img.config.as_ref() {
        merge(cfg, image);
    }
    if cfg
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        cfg.entrypoint = None;
    }
}

fn empty_str(s: &Option<String>) -> bool {
    s.as_deref().unwrap_or("").is_empty()
}

fn empty_vec<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

fn merge(user: &mut ContainerConfig, image: &ImageContainerConfig) {
    if empty_str(&user.user) {
        user.user = image.user.clone();
    }
    let key_map = |m: &BTreeMap<String, berth_image::manifest::EmptyObject>| {
        m.keys()
            .map(|k| (k.clone(), HashMap::new()))
            .collect::<HashMap<_, _>>()
    };
    match user.exposed_ports.as_mut() {
        Some(ports) if !ports.is_empty() => {
            for k in image.exposed_ports.iter().flat_map(|m| m.keys()) {
                ports.entry(k.clone()).or_default();
            }
        }
        _ => user.exposed_ports = image.exposed_ports.as_ref().map(key_map),
    }
    match user.env.as_mut() {
        Some(env) if !env.is_empty() => {
            for ie in image.env.iter().flatten() {
                if !env.iter().any(|ue| env_key(ue) == env_key(ie)) {
                    env.push(ie.clone());
                }
            }
        }
        _ => user.env = image.env.clone(),
    }
    let labels = user.labels.get_or_insert_with(HashMap::new);
    for (k, v) in image.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if empty_vec(&user.entrypoint) {
        if empty_vec(&user.cmd) {
            user.cmd = image.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if let Some(ih) = image.healthcheck.as_ref() {
        let nz = |n: i64| (n != 0).then_some(n);
        match user.healthcheck.as_mut() {
            None => {
                user.healthcheck = Some(HealthConfig {
                    test: ih.test.clone(),
                    interval: nz(ih.interval),
                    timeout: nz(ih.timeout),
                    retries: nz(ih.retries),
                    start_period: nz(ih.start_period),
                    start_interval: nz(ih.start_interval),
                })
            }
            Some(uh) => {
                if empty_vec(&uh.test) {
                    uh.test = ih.test.clone();
                }
                let fill = |field: &mut Option<i64>, image: i64| {
                    if field.unwrap_or(0) == 0 && image != 0 {
                        *field = Some(image);
                    }
                };
                fill(&mut uh.interval, ih.interval);
                fill(&mut uh.timeout, ih.timeout);
                fill(&mut uh.start_period, ih.start_period);
                fill(&mut uh.start_interval, ih.start_interval);
                fill(&mut uh.retries, ih.retries);
            }
        }
    }
    if empty_str(&user.working_dir) {
        user.working_dir = image.working_dir.clone();
    }
    match user.volumes.as_mut() {
        Some(vols) if !vols.is_empty() => {
            for k in image.volumes.iter().flat_map(|m| m.keys()) {
                vols.insert(k.clone(), HashMap::new());
            }
        }
        _ => user.volumes = image.volumes.as_ref().map(key_map),
    }
    if empty_str(&user.stop_signal) {
        user.stop_signal = image.stop_signal.clone();
    }
}

/// dockerd's check after the merge: something to run.
pub fn check_command(cfg: &ContainerConfig) -> Result<()> {
    if empty_vec(&cfg.entrypoint) && empty_vec(&cfg.cmd) {
        return Err(ApiError::invalid("No command specified"));
    }
    Ok(())
}

/// The environment of the container's processes (and of `exec`'s, before its own `Env`):
/// `PATH` (Docker's default), `HOSTNAME`, `TERM=xterm` with a tty, then the config's `Env`
/// replacing those by key (`KEY` alone unsets one).
// Ref: moby container/container.go CreateDaemonEnvironment, container/env.go.
pub fn process_env(cfg: &ContainerConfig) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", cfg.hostname.as_deref().unwrap_or("")),
    ];
    if cfg.tty.unwrap_or(false) {
        env.push("TERM=xterm".into());
    }
    replace_or_append_env(env, cfg.env.as_deref().unwrap_or(&[]))
}

/// Docker's `ReplaceOrAppendEnvValues`: each override replaces the default of its key or is
/// appended; an override without `=` removes its key from the defaults.
pub fn replace_or_append_env(mut defaults: Vec<String>, overrides: &[String]) -> Vec<String> {
    let index: HashMap<String, usize> = defaults
        .iter()
        .enumerate()
        .map(|(i, e)| (env_key(e).to_string(), i))
        .collect();
    for o in overrides {
        match o.split_once('=') {
            None => {
                if let Some(&i) = index.get(o.as_str()) {
                    defaults[i].clear();
                }
            }
            Some((k, _)) => match index.get(k) {
                Some(&i) => defaults[i] = o.clone(),
                None => defaults.push(o.clone()),
            },
        }
    }
    defaults.retain(|e| !e.is_empty());
    defaults
}

// ---------------------------------------------------------------------------------------------
// Create-time checks and defaults
// ---------------------------------------------------------------------------------------------

/// dockerd's checks of a create body and the defaults it writes into the `HostConfig` it keeps
/// (so that `inspect` shows them): call with the config **as the client sent it**, before
/// [`merge_image_config`] and before a default hostname is set (the hostname and exposed-port
/// conflicts are about the client's values). Errors are 400s; the `Ok` value is the create
/// response's `Warnings` (settings this host cannot apply are dropped with a warning, as
/// dockerd does).
///
/// Defaults written: `MemorySwap` = 2 × `Memory` when only `Memory` is set, `ShmSize` 64 MiB,
/// `IpcMode` `private`, `CgroupnsMode` (`private` on a cgroup v2 host, else `host`),
/// `OomKillDisable` false, Docker's masked and read-only paths (unless privileged), and
/// `PidsLimit` ≤ 0 cleared (unlimited). `WorkingDir` is cleaned.
pub fn prepare_create(cfg: &mut ContainerConfig, host: &mut HostConfig) -> Result<Vec<String>> {
    prepare_create_on(host_info(), cfg, host)
}

fn prepare_create_on(h: &HostInfo, cfg: &mut ContainerConfig, host: &mut HostConfig) -> Result<Vec<String>> {
    // The API router's normalization.
    if host.pids_limit.is_some_and(|n| n <= 0) {
        host.pids_limit = None;
    }
    check_net_modes(cfg, host)?;
    if !matches!(
        host.isolation,
        None | Some(HostConfigIsolationEnum::EMPTY) | Some(HostConfigIsolationEnum::DEFAULT)
    ) {
        let i = host.isolation.map(|i| i.to_string()).unwrap_or_default();
        return Err(ApiError::invalid(format!(
            "Invalid isolation: {} - linux only supports 'default'",
            go_quote(&i)
        )));
    }

    if host.io_maximum_bandwidth.unwrap_or(0) != 0 {
        return Err(ApiError::invalid(
            "Invalid QoS settings: linux does not support configuration of maximum bandwidth",
        ));
    }
    if host.io_maximum_iops.unwrap_or(0) != 0 {
        return Err(ApiError::invalid(
            "Invalid QoS settings: linux does not support configuration of maximum IOPs",
        ));
    }
    let (rt_period, rt_runtime) = (
        host.cpu_realtime_period.unwrap_or(0),
        host.cpu_realtime_runtime.unwrap_or(0),
    );
    if (rt_period != 0 || rt_runtime != 0) && !h.cg.cpu_realtime {
        return Err(ApiError::invalid(
            "Your kernel does not support CPU real-time scheduler",
        ));
    }
    if rt_period != 0 && rt_runtime != 0 && rt_runtime > rt_period {
        return Err(ApiError::invalid(
            "cpu real-time runtime cannot be higher than cpu real-time period",
        ));
    }
    // validateContainerConfig
    if let Some(wd) = cfg.working_dir.as_mut().filter(|w| !w.is_empty()) {
        if !wd.starts_with('/') {
            return Err(ApiError::invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
        *wd = clean_path(wd);
    }
    if let Some(sig) = cfg.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        parse_signal(sig)?;
    }
    for e in cfg.env.iter().flatten() {
        if env_key(e).is_empty() {
            return Err(ApiError::invalid(format!("invalid environment variable: {e}")));
        }
    }
    check_healthcheck(cfg.healthcheck.as_ref())?;

    // validateHostConfig
    parse_mount_points(cfg, host)?;
    for eh in host.extra_hosts.iter().flatten() {
        check_extra_host(eh)?;
    }
    normalize_caps(host.cap_add.as_deref().unwrap_or(&[]), &h.caps)
        .map_err(|e| ApiError::invalid(format!("invalid CapAdd: {e}")))?;
    normalize_caps(host.cap_drop.as_deref().unwrap_or(&[]), &h.caps)
        .map_err(|e| ApiError::invalid(format!("invalid CapDrop: {e}")))?;
    if host.annotations.iter().flatten().any(|(k, _)| k.is_empty()) {
        return Err(ApiError::invalid(
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ));
    }

    // verifyPlatformContainerSettings
    let warnings = verify_resources(h, host)?;
    check_namespace_modes(host)?;
    if host.shm_size.unwrap_or(0) < 0 {
        return Err(ApiError::invalid("SHM size can not be less than 0"));
    }
    let oom = host.oom_score_adj.unwrap_or(0);
    if !(-1000..=1000).contains(&oom) {
        return Err(ApiError::invalid(format!(
            "Invalid value {oom}, range for oom score adj is [-1000, 1000]"
        )));
    }
    for dest in host.tmpfs.iter().flat_map(|t| t.keys()) {
        check_tmpfs_destination(dest)?;
    }
    parse_security_opts(host.security_opt.as_deref().unwrap_or(&[]))?;

    adapt_host_config(h, host);
    Ok(warnings)
}

/// dockerd's `adaptContainerSettings` and the path defaults of `createContainerOSSpecificSettings`.
fn adapt_host_config(h: &HostInfo, host: &mut HostConfig) {
    let memory = host.memory.unwrap_or(0);
    if memory > 0 && host.memory_swap.unwrap_or(0) == 0 {
        host.memory_swap = Some(memory * 2);
    }
    if host.shm_size.unwrap_or(0) == 0 {
        host.shm_size = Some(DEFAULT_SHM_SIZE);
    }
    if empty_str(&host.ipc_mode) {
        host.ipc_mode = Some("private".into());
    }
    if matches!(host.cgroupns_mode, None | Some(HostConfigCgroupnsModeEnum::EMPTY)) {
        host.cgroupns_mode = Some(if h.cgroup_unified {
            HostConfigCgroupnsModeEnum::PRIVATE
        } else {
            HostConfigCgroupnsModeEnum::HOST
        });
    }
    if host.oom_kill_disable.is_none() {
        host.oom_kill_disable = Some(false);
    }
    let privileged = host.privileged.unwrap_or(false);
    if host.masked_paths.is_none() && !privileged {
        host.masked_paths = Some(DEFAULT_MASKED_PATHS.iter().map(|s| s.to_string()).collect());
    }
    if host.readonly_paths.is_none() && !privileged {
        host.readonly_paths = Some(DEFAULT_READONLY_PATHS.iter().map(|s| s.to_string()).collect());
    }
}

/// `container:<name|id>` of a namespace mode.
fn container_of(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

fn check_net_modes(cfg: &ContainerConfig, host: &HostConfig) -> Result<()> {
    let net = host.network_mode.as_deref().unwrap_or("");
    let parts: Vec<&str> = net.split(':').collect();
    if parts[0] == "container" && parts.get(1).is_none_or(|p| p.is_empty()) {
        return Err(ApiError::invalid(
            "Invalid network mode: invalid container format container:<name|id>",
        ));
    }
    let has_hostname = !empty_str(&cfg.hostname);
    if let Some(_other) = container_of(net) {
        if has_hostname {
            return Err(ApiError::invalid(
                "conflicting options: hostname and the network mode",
            ));
        }
        if !empty_vec(&host.links) {
            return Err(ApiError::invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior"));
        }
        if !empty_vec(&host.dns) {
            return Err(ApiError::invalid("conflicting options: dns and the network mode"));
        }
        if !empty_vec(&host.extra_hosts) {
            return Err(ApiError::invalid(
                "conflicting options: custom host-to-IP mapping and the network mode",
            ));
        }
        if host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
            || host.publish_all_ports.unwrap_or(false)
        {
            return Err(ApiError::invalid(
                "conflicting options: port publishing and the container type network mode",
            ));
        }
        if cfg.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(ApiError::invalid(
                "conflicting options: port exposing and the container type network mode",
            ));
        }
    }
    if host.uts_mode.as_deref() == Some("host") && has_hostname {
        return Err(ApiError::invalid(
            "conflicting options: hostname and the UTS mode",
        ));
    }
    if net == "host" && !empty_vec(&host.links) {
        return Err(ApiError::invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior"));
    }
    Ok(())
}

fn check_namespace_modes(host: &HostConfig) -> Result<()> {
    let ipc = host.ipc_mode.as_deref().unwrap_or("");
    if !(matches!(ipc, "" | "none" | "private" | "host" | "shareable") || container_of(ipc).is_some()) {
        return Err(ApiError::invalid(format!("invalid IPC mode: {ipc}")));
    }
    let pid = host.pid_mode.as_deref().unwrap_or("");
    if !(matches!(pid, "" | "host") || container_of(pid).is_some_and(|c| !c.is_empty())) {
        return Err(ApiError::invalid(format!("invalid PID mode: {pid}")));
    }
    let uts = host.uts_mode.as_deref().unwrap_or("");
    if !matches!(uts, "" | "host") {
        return Err(ApiError::invalid(format!("invalid UTS mode: {uts}")));
    }
    Ok(())
}

/// Go's `time.Duration` string of dockerd's 1 ms minimum.
const MIN_HEALTH_DURATION: i64 = 1_000_000;

fn check_healthcheck(hc: Option<&HealthConfig>) -> Result<()> {
    let Some(hc) = hc else { return Ok(()) };
    let short = |v: Option<i64>| v.is_some_and(|v| v != 0 && v < MIN_HEALTH_DURATION);
    for (name, v) in [("Interval", hc.interval), ("Timeout", hc.timeout)] {
        if short(v) {
            return Err(ApiError::invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.retries.unwrap_or(0) < 0 {
        return Err(ApiError::invalid("Retries in Healthcheck cannot be negative"));
    }
    for (name, v) in [
        ("StartPeriod", hc.start_period),
        ("StartInterval", hc.start_interval),
    ] {
        if short(v) {
            return Err(ApiError::invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    Ok(())
}

/// Docker's `--add-host` rule: `name:ip` or `name=ip`, `ip` an address (IPv6 optionally in
/// brackets) or `host-gateway`.
fn check_extra_host(val: &str) -> Result<()> {
    let ip = match val.split_once('=').or_else(|| val.split_once(':')) {
        Some((name, ip)) if !name.is_empty() && !name.contains(':') => ip,
        _ => {
            return Err(ApiError::invalid(format!(
                "bad format for add-host: {}",
                go_quote(val)
            )))
        }
    };
    if ip != "host-gateway" {
        let bare = ip
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(ip);
        if bare.parse::<std::net::IpAddr>().is_err() {
            return Err(ApiError::invalid(format!(
                "invalid IP address in add-host: {}",
                go_quote(ip)
            )));
        }
    }
    Ok(())
}

/// The signal a `StopSignal` names: a number or a name with or without `SIG`.
// Ref: moby pkg/signal ParseSignal, SignalMap (Linux).
pub fn parse_signal(raw: &str) -> Result<i32> {
    let bad = || ApiError::invalid(format!("Invalid signal: {raw}"));
    if let Ok(n) = raw.parse::<i32>() {
        return if n == 0 { Err(bad()) } else { Ok(n) };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    const NAMES: [(&str, i32); 34] = [
        ("ABRT", libc::SIGABRT),
        ("ALRM", libc::SIGALRM),
        ("BUS", libc::SIGBUS),
        ("CHLD", libc::SIGCHLD),
        ("CLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("FPE", libc::SIGFPE),
        ("HUP", libc::SIGHUP),
        ("ILL", libc::SIGILL),
        ("INT", libc::SIGINT),
        ("IO", libc::SIGIO),
        ("IOT", libc::SIGIOT),
        ("KILL", libc::SIGKILL),
        ("PIPE", libc::SIGPIPE),
        ("POLL", libc::SIGPOLL),
        ("PROF", libc::SIGPROF),
        ("PWR", libc::SIGPWR),
        ("QUIT", libc::SIGQUIT),
        ("SEGV", libc::SIGSEGV),
        ("STKFLT", libc::SIGSTKFLT),
        ("STOP", libc::SIGSTOP),
        ("SYS", libc::SIGSYS),
        ("TERM", libc::SIGTERM),
        ("TRAP", libc::SIGTRAP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("VTALRM", libc::SIGVTALRM),
        ("WINCH", libc::SIGWINCH),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
    ];
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(n);
    }
    // RTMIN, RTMIN+1 … RTMIN+15, RTMAX-14 … RTMAX-1, RTMAX (Go's table on Linux: 34 … 64).
    let offset = |rest: &str, sign: char, max: i32| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let n: i32 = rest.strip_prefix(sign)?.parse().ok()?;
        (rest == format!("{sign}{n}") && (1..=max).contains(&n)).then_some(n)
    };
    let found = if let Some(rest) = name.strip_prefix("RTMIN") {
        offset(rest, '+', 15).map(|n| 34 + n)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        offset(rest, '-', 14).map(|n| 64 - n)
    } else {
        None
    };
    found.ok_or_else(bad)
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

/// dockerd's `verifyPlatformContainerResources`: errors for impossible values, warnings (and the
/// setting dropped) for what this host's cgroups cannot do.
fn verify_resources(h: &HostInfo, r: &mut HostConfig) -> Result<Vec<String>> {
    let cg = &h.cg;
    let mut warnings = Vec::new();
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }
    let memory = r.memory.unwrap_or(0);
    if memory != 0 && memory < MIN_MEMORY {
        return Err(ApiError::invalid("Minimum memory limit allowed is 6MB"));
    }
    if memory > 0 && !cg.memory {
        warnings.push("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.".to_string());
        r.memory = Some(0);
        r.memory_swap = Some(-1);
    }
    let memory = r.memory.unwrap_or(0);
    if memory > 0 && r.memory_swap.unwrap_or(0) != -1 && !cg.swap {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".to_string());
        r.memory_swap = Some(-1);
    }
    let swap = r.memory_swap.unwrap_or(0);
    if memory > 0 && swap > 0 && swap < memory {
        return Err(ApiError::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if memory == 0 && swap > 0 {
        return Err(ApiError::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if r.memory_swappiness.is_some() && !cg.swappiness {
        warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".to_string());
        r.memory_swappiness = None;
    }
    if let Some(s) = r.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(ApiError::invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if r.memory_reservation.unwrap_or(0) > 0 && !cg.reservation {
        warnings.push("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.".to_string());
        r.memory_reservation = Some(0);
    }
    let reservation = r.memory_reservation.unwrap_or(0);
    if reservation > 0 && reservation < MIN_MEMORY {
        return Err(ApiError::invalid("Minimum memory reservation allowed is 6MB"));
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(ApiError::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if let Some(disable) = r.oom_kill_disable {
        if !cg.oom_kill_disable {
            if disable {
                warnings.push(
                    "Your kernel does not support OomKillDisable. OomKillDisable discarded.".to_string(),
                );
            }
            r.oom_kill_disable = None;
        }
    }
    if r.oom_kill_disable == Some(true) && memory == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".to_string());
    }
    if let Some(p) = r.pids_limit {
        if !cg.pids {
            if p > 0 {
                warnings.push("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.".to_string());
            }
            r.pids_limit = None;
        }
    }

    let nano = r.nano_cpus.unwrap_or(0);
    if nano > 0 && r.cpu_period.unwrap_or(0) > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && r.cpu_quota.unwrap_or(0) > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if nano > 0 && !cg.cpu_cfs {
        return Err(ApiError::invalid("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted"));
    }
    if nano < 0 || nano > h.ncpu * 1_000_000_000 {
        return Err(ApiError::invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
            n = h.ncpu
        )));
    }
    if r.cpu_shares.unwrap_or(0) > 0 && !cg.cpu_shares {
        warnings.push(
            "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."
                .to_string(),
        );
        r.cpu_shares = Some(0);
    }
    if (r.cpu_period.unwrap_or(0) != 0 || r.cpu_quota.unwrap_or(0) != 0) && !cg.cpu_cfs {
        warnings
            .push("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.".to_string());
        r.cpu_period = Some(0);
        r.cpu_quota = Some(0);
    }
    let period = r.cpu_period.unwrap_or(0);
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(ApiError::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = r.cpu_quota.unwrap_or(0);
    if quota > 0 && quota < 1000 {
        return Err(ApiError::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if r.cpu_percent.unwrap_or(0) > 0 {
        warnings.push("linux does not support CPU percent. Percent discarded.".to_string());
        r.cpu_percent = Some(0);
    }

    if (!empty_str(&r.cpuset_cpus) || !empty_str(&r.cpuset_mems)) && !cg.cpuset {
        warnings.push(
            "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.".to_string(),
        );
        r.cpuset_cpus = Some(String::new());
        r.cpuset_mems = Some(String::new());
    }
    let cpus = r.cpuset_cpus.clone().unwrap_or_default();
    match list_available(&cpus, &h.cpus) {
        Err(e) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {cpus} for cpuset cpus: {e}"
            )))
        }
        Ok(false) => {
            return Err(ApiError::invalid(format!(
                "Requested CPUs are not available - requested {cpus}, available: {}",
                h.cpus
            )))
        }
        Ok(true) => {}
    }
    let mems = r.cpuset_mems.clone().unwrap_or_default();
    match list_available(&mems, &h.mems) {
        Err(e) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {mems} for cpuset mems: {e}"
            )))
        }
        Ok(false) => {
            return Err(ApiError::invalid(format!(
                "Requested memory nodes are not available - requested {mems}, available: {}",
                h.mems
            )))
        }
        Ok(true) => {}
    }

    if r.blkio_weight.unwrap_or(0) > 0 && !cg.blkio_weight {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
        r.blkio_weight = Some(0);
    }
    let weight = r.blkio_weight.unwrap_or(0);
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(ApiError::invalid("Range of blkio weight is from 10 to 1000"));
    }
    if !empty_vec(&r.blkio_weight_device) && !cg.blkio_weight_device {
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".to_string());
        r.blkio_weight_device = Some(Vec::new());
    }
    let throttles = [
        (&mut r.blkio_device_read_bps, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut r.blkio_device_write_bps, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut r.blkio_device_read_iops, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut r.blkio_device_write_iops, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ];
    for (devs, warning) in throttles {
        if !empty_vec(devs) && !cg.blkio_throttle {
            warnings.push(warning.to_string());
            *devs = Some(Vec::new());
        }
    }
    Ok(warnings)
}

/// Docker's `ParseUintList(Maximum)`: `0-3,5`, each value at most `max` (0 = no bound).
fn parse_uint_list(val: &str, max: u64) -> std::result::Result<BTreeSet<u64>, String> {
    let mut out = BTreeSet::new();
    if val.is_empty() {
        return Ok(out);
    }
    let bad = || format!("invalid format: {val}");
    let bound = |v: u64| -> std::result::Result<u64, String> {
        if max != 0 && v > max {
            Err(format!("value of out range, maximum is {max}"))
        } else {
            Ok(v)
        }
    };
    for r in val.split(',') {
        match r.split_once('-') {
            Some((lo, hi)) if !hi.is_empty() => {
                let lo: u64 = lo.parse().map_err(|_| bad())?;
                let hi: u64 = hi.parse().map_err(|_| bad())?;
                if hi < lo {
                    return Err(bad());
                }
                bound(hi)?;
                out.extend(lo..=hi);
            }
            _ => {
                out.insert(bound(r.parse().map_err(|_| bad())?)?);
            }
        }
    }
    Ok(out)
}

/// Whether every CPU (or memory node) of `provided` is in `available`.
fn list_available(provided: &str, available: &str) -> std::result::Result<bool, String> {
    let avail = parse_uint_list(available, 0)?;
    let max = avail.iter().next_back().copied().unwrap_or(0).max(8192);
    let want = parse_uint_list(provided, max)?;
    Ok(want.is_subset(&avail))
}

fn memory_resources(r: &HostConfig) -> Option<Memory> {
    let pos = |v: Option<i64>| v.filter(|v| *v > 0);
    let m = Memory {
        limit: pos(r.memory),
        reservation: pos(r.memory_reservation),
        swap: pos(r.memory_swap),
        swappiness: r.memory_swappiness.map(|s| s as u64),
        disable_oom_killer: r.oom_kill_disable,
        kernel_tcp: r.kernel_memory_tcp.filter(|v| *v != 0),
        ..Memory::default()
    };
    (m != Memory::default()).then_some(m)
}

fn cpu_resources(r: &HostConfig) -> Result<Option<Cpu>> {
    let shares = r.cpu_shares.unwrap_or(0);
    if shares < 0 {
        return Err(ApiError::invalid("shares: invalid argument"));
    }
    let mut c = Cpu {
        shares: (shares > 0).then_some(shares as u64),
        cpus: r.cpuset_cpus.clone().filter(|s| !s.is_empty()),
        mems: r.cpuset_mems.clone().filter(|s| !s.is_empty()),
        ..Cpu::default()
    };
    let nano = r.nano_cpus.unwrap_or(0);
    if nano > 0 {
        // Ref: Documentation/scheduler/sched-bwc.txt; a 100 ms period.
        let period: u64 = 100_000;
        c.period = Some(period);
        c.quota = Some(nano * period as i64 / 1_000_000_000);
    }
    if let Some(p) = r.cpu_period.filter(|p| *p != 0) {
        c.period = Some(p as u64);
    }
    if let Some(q) = r.cpu_quota.filter(|q| *q != 0) {
        c.quota = Some(q);
    }
    if let Some(p) = r.cpu_realtime_period.filter(|p| *p != 0) {
        c.realtime_period = Some(p as u64);
    }
    if let Some(q) = r.cpu_realtime_runtime.filter(|q| *q != 0) {
        c.realtime_runtime = Some(q);
    }
    Ok((c != Cpu::default()).then_some(c))
}

fn block_io(r: &HostConfig) -> Result<BlockIo> {
    let mut b = BlockIo {
        weight: r.blkio_weight.filter(|w| *w != 0),
        ..BlockIo::default()
    };
    for wd in r.blkio_weight_device.iter().flatten() {
        let (major, minor) = device_numbers(wd.path.as_deref().unwrap_or(""))?;
        b.weight_device.push(WeightDevice {
            major,
            minor,
            weight: wd.weight.map(|w| w as u16),
            leaf_weight: None,
        });
    }
    let throttle = |list: &Option<Vec<bollard_stubs::models::ThrottleDevice>>| {
        list.iter()
            .flatten()
            .map(|d| {
                let (major, minor) = device_numbers(d.path.as_deref().unwrap_or(""))?;
                Ok(ThrottleDevice {
                    major,
                    minor,
                    rate: d.rate.unwrap_or(0) as u64,
                })
            })
            .collect::<Result<Vec<_>>>()
    };
    b.throttle_read_bps_device = throttle(&r.blkio_device_read_bps)?;
    b.throttle_write_bps_device = throttle(&r.blkio_device_write_bps)?;
    b.throttle_read_iops_device = throttle(&r.blkio_device_read_iops)?;
    b.throttle_write_iops_device = throttle(&r.blkio_device_write_iops)?;
    Ok(b)
}

/// The device numbers of the node at `path` (following symlinks), as `stat` reports them.
fn device_numbers(path: &str) -> Result<(i64, i64)> {
    let md =
        std::fs::metadata(path).map_err(|e| ApiError::invalid(format!("stat {path}: {}", io_text(&e))))?;
    let (major, minor) = split_dev(md.rdev());
    Ok((major as i64, minor as i64))
}

/// glibc's `major()` and `minor()`.
fn split_dev(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// An I/O error's text as Go prints an errno (`no such file or directory`).
fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = std::io::Error::from_raw_os_error(code).to_string();
            // Rust appends " (os error N)" and capitalizes; Go prints strerror in lower case.
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                None => s,
            }
        }
        None => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Security options, capabilities, seccomp
// ---------------------------------------------------------------------------------------------

/// What `--security-opt` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SecurityOpts {
    no_new_privileges: bool,
    /// `unconfined`, `builtin`, or a profile's JSON (the CLI sends the file's content).
    seccomp: Option<String>,
}

// Ref: moby daemon/daemon_unix.go parseSecurityOpt.
fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            continue;
        }
        let kv = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((k, v)) = kv else {
            return Err(ApiError::invalid(format!(
                "invalid --security-opt 1: {}",
                go_quote(opt)
            )));
        };
        match k {
            // Labels and AppArmor profiles are accepted and have no effect: berth applies
            // neither, as dockerd on a host without SELinux or AppArmor.
            "label" | "apparmor" => {}
            "seccomp" => out.seccomp = Some(v.to_string()),
            "no-new-privileges" => {
                out.no_new_privileges = parse_go_bool(v).ok_or_else(|| {
                    ApiError::invalid(format!("invalid --security-opt 2: {}", go_quote(opt)))
                })?
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "invalid --security-opt 2: {}",
                    go_quote(opt)
                )))
            }
        }
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `CapAdd`/`CapDrop` entries upper-cased with a `CAP_` prefix (`ALL` kept), each known and
/// available here. `current` is berthd's effective set; when empty, every known one counts.
// Ref: moby oci/caps/utils.go NormalizeLegacyCapabilities.
fn normalize_caps(list: &[String], current: &[&str]) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    for c in list {
        let mut c = c.to_ascii_uppercase();
        if c == "ALL" {
            out.push(c);
            continue;
        }
        if !c.starts_with("CAP_") {
            c = format!("CAP_{c}");
        }
        if !KNOWN_CAPS.contains(&c.as_str()) {
            return Err(format!("unknown capability: {}", go_quote(&c)));
        }
        if !current.is_empty() && !current.contains(&c.as_str()) {
            return Err(format!(
                "capability not supported by your kernel or not available in the current environment: {}",
                go_quote(&c)
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// The capability set: Docker's defaults less `drops` plus `adds`; `ALL` in `adds` is every
/// available capability less `drops`, `ALL` in `drops` leaves only `adds`; privileged is every
/// available capability.
// Ref: moby oci/caps/utils.go TweakCapabilities.
fn tweak_caps(
    adds: &[String],
    drops: &[String],
    privileged: bool,
    current: &[&str],
) -> std::result::Result<Vec<String>, String> {
    let all = || current.iter().map(|s| s.to_string());
    if privileged {
        return Ok(all().collect());
    }
    if adds.is_empty() && drops.is_empty() {
        return Ok(DEFAULT_CAPS.iter().map(|s| s.to_string()).collect());
    }
    let drops = normalize_caps(drops, current)?;
    let adds = normalize_caps(adds, current)?;
    let has = |l: &[String], c: &str| l.iter().any(|x| x == c);
    let mut caps: Vec<String> = if has(&adds, "ALL") {
        all().filter(|c| !has(&drops, c)).collect()
    } else if has(&drops, "ALL") {
        adds
    } else {
        let mut v: Vec<String> = DEFAULT_CAPS
            .iter()
            .filter(|c| !has(&drops, c))
            .map(|s| s.to_string())
            .collect();
        v.extend(adds);
        v
    };
    let mut seen = BTreeSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    Ok(caps)
}

/// A Docker seccomp profile (`--security-opt seccomp=<JSON>`, the format of moby's
/// `profiles/seccomp/default.json`) as the OCI object for this host and a container whose
/// bounding set is `caps`: `archMap` picks the native architecture and its sub-architectures,
/// and each rule's `includes`/`excludes` (`arches`, `caps`, `minKernel`) decide whether it applies.
// Ref: moby profiles/seccomp/seccomp.go, seccomp_linux.go setupSeccomp.
pub fn load_seccomp_profile(json: &str, caps: &[String]) -> Result<Option<Seccomp>> {
    let h = host_info();
    load_seccomp_on(json, caps, h.arch, h.kernel)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerProfile {
    #[serde(default)]
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<SeccompArch>>,
    #[serde(default)]
    arch_map: Option<Vec<DockerArch>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<DockerSyscall>>,
}

#[derive(Debug, Deserialize)]
struct DockerArch {
    architecture: SeccompArch,
    #[serde(default, rename = "subArchitectures")]
    sub_architectures: Option<Vec<SeccompArch>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerSyscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    name: String,
    action: SeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<SeccompArg>>,
    #[serde(default)]
    includes: Option<DockerFilter>,
    #[serde(default)]
    excludes: Option<DockerFilter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Go's `GOARCH` of this build, as libseccomp names it (`amd64`), and its seccomp architecture.
fn native_arch() -> (&'static str, Option<SeccompArch>) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", Some(SeccompArch::X86_64)),
        "x86" => ("x86", Some(SeccompArch::X86)),
        "aarch64" => ("arm64", Some(SeccompArch::Aarch64)),
        "arm" => ("arm", Some(SeccompArch::Arm)),
        "riscv64" => ("riscv64", Some(SeccompArch::Riscv64)),
        "s390x" => ("s390x", Some(SeccompArch::S390x)),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", Some(SeccompArch::Ppc64le)),
        "powerpc64" => ("ppc64", Some(SeccompArch::Ppc64)),
        other => (other, None),
    }
}

/// A `minKernel` value, `<kernel>.<major>`, checked as Docker's `KernelVersion` does.
fn parse_min_kernel(v: &str) -> std::result::Result<Option<(u64, u64)>, String> {
    let bad = |why: &str| format!("invalid kernel version: \"{v}\", expected \"<kernel>.<major>\"{why}");
    if v.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&str> = v.splitn(3, '.').collect();
    if parts.len() != 2 {
        return Err(bad(""));
    }
    let num = |s: &str| s.parse::<u8>().map(u64::from).map_err(|e| bad(&format!(": {e}")));
    let (k, m) = (num(parts[0])?, num(parts[1])?);
    if k == 0 && m == 0 {
        return Err(bad(": version cannot be 0.0"));
    }
    Ok(Some((k, m)))
}

fn load_seccomp_on(json: &str, caps: &[String], arch: &str, kernel: (u64, u64)) -> Result<Option<Seccomp>> {
    let p: DockerProfile = serde_json::from_str(json)
        .map_err(|e| ApiError::invalid(format!("Decoding seccomp profile failed: {e}")))?;
    let syscalls = p.syscalls.unwrap_or_default();
    if p.default_action.is_empty() && syscalls.is_empty() {
        return Ok(None);
    }
    let architectures = p.architectures.unwrap_or_default();
    let arch_map = p.arch_map.unwrap_or_default();
    if !architectures.is_empty() && !arch_map.is_empty() {
        return Err(ApiError::invalid("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"));
    }
    let default_action: SeccompAction =
        serde_json::from_value(serde_json::Value::String(p.default_action.clone())).map_err(|_| {
            ApiError::invalid(format!(
                "seccomp profile: unknown defaultAction {}",
                go_quote(&p.default_action)
            ))
        })?;
    let mut out = Seccomp {
        default_action,
        default_errno_ret: p.default_errno_ret,
        architectures,
        flags: p.flags.unwrap_or_default(),
        listener_path: p.listener_path,
        listener_metadata: p.listener_metadata,
        syscalls: Vec::new(),
    };
    let native = native_arch().1.filter(|_| arch == native_arch().0);
    if let Some(native) = native {
        if let Some(a) = arch_map.iter().find(|a| a.architecture == native) {
            out.architectures.push(a.architecture);
            out.architectures
                .extend(a.sub_architectures.iter().flatten().copied());
        }
    }
    let at_least = |v: &Option<String>| -> Result<Option<bool>> {
        match v.as_deref().map(parse_min_kernel).transpose() {
            Err(e) => Err(ApiError::invalid(e)),
            Ok(None) | Ok(Some(None)) => Ok(None),
            Ok(Some(Some(min))) => Ok(Some(kernel >= min)),
        }
    };
    let has_cap = |c: &String| caps.contains(c);
    for call in syscalls {
        let mut names = call.names.unwrap_or_default();
        if !call.name.is_empty() {
            if !names.is_empty() {
                return Err(ApiError::invalid("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"));
            }
            names = vec![call.name.clone()];
        }
        if let Some(ex) = &call.excludes {
            if ex.arches.iter().flatten().any(|a| a == arch)
                || ex.caps.iter().flatten().any(has_cap)
                || at_least(&ex.min_kernel)? == Some(true)
            {
                continue;
            }
        }
        if let Some(inc) = &call.includes {
            let arches = inc.arches.as_deref().unwrap_or(&[]);
            if !arches.is_empty() && !arches.iter().any(|a| a == arch) {
                continue;
            }
            if !inc.caps.iter().flatten().all(has_cap) {
                continue;
            }
            if at_least(&inc.min_kernel)? == Some(false) {
                continue;
            }
        }
        out.syscalls.push(SeccompSyscall {
            names,
            action: call.action,
            errno_ret: call.errno_ret,
            args: call.args.unwrap_or_default(),
        });
    }
    Ok(Some(out))
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// The identity of a container's process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// The primary gid first, then the user's supplementary groups, then `--group-add`'s.
    pub additional_gids: Vec<u32>,
}

/// Resolves `--user` (`name`, `uid`, `name:group`, `uid:gid`, empty for root) and `--group-add`
/// against the container's `/etc/passwd` and `/etc/group` (read inside `rootfs`, following
/// symlinks as the container would). A numeric id needs no entry, and missing files are fine
/// with numeric ids; a name with no entry is `unable to find user NAME: no matching entries in
/// passwd file`. Errors are System errors, as at dockerd's start.
// Ref: moby/sys/user GetExecUser, GetAdditionalGroups; moby daemon/oci_linux.go getUser.
pub fn resolve_user(rootfs: &Path, user: &str, group_add: &[String]) -> Result<ResolvedUser> {
    let read = |p: &str| {
        std::fs::read(resolve_in_root(rootfs, p))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let passwd = read("/etc/passwd");
    let group = read("/etc/group");
    resolve_user_from(user, group_add, passwd.as_deref(), group.as_deref()).map_err(ApiError::system)
}

#[derive(Debug)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: i64,
    gid: i64,
}

#[derive(Debug)]
struct GroupEntry<'a> {
    name: &'a str,
    gid: i64,
    members: Vec<&'a str>,
}

/// Go's `strconv.Atoi`, or 0 as `moby/sys/user`'s line parser stores a bad number.
fn atoi(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| {
        let mut f = l.split(':');
        let name = f.next().unwrap_or("");
        let _pass = f.next();
        let uid = f.next().and_then(atoi).unwrap_or(0);
        let gid = f.next().and_then(atoi).unwrap_or(0);
        PasswdEntry { name, uid, gid }
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split(':');
            let name = f.next().unwrap_or("");
            let _pass = f.next();
            let gid = f.next().and_then(atoi).unwrap_or(0);
            let members = match f.next() {
                Some(m) if !m.is_empty() => m.split(',').collect(),
                _ => Vec::new(),
            };
            GroupEntry { name, gid, members }
        })
}

const MAX_ID: i64 = (1 << 31) - 1;

fn id_in_range(id: i64) -> std::result::Result<u32, String> {
    if (0..=MAX_ID).contains(&id) {
        Ok(id as u32)
    } else {
        Err(format!("uids and gids must be in range 0-{MAX_ID}"))
    }
}

fn resolve_user_from(
    spec: &str,
    group_add: &[String],
    passwd: Option<&str>,
    group: Option<&str>,
) -> std::result::Result<ResolvedUser, String> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_arg = atoi(user_arg);
    let gid_arg = atoi(group_arg);

    let (mut uid, mut gid) = (0i64, 0i64);
    let mut sgids: Vec<i64> = Vec::new();
    let matched = passwd.and_then(|p| {
        passwd_entries(p)
            .find(|u| match (user_arg, uid_arg) {
                ("", _) => u.uid == 0,
                (_, Some(n)) => u.uid == n,
                (name, None) => u.name == name,
            })
            .map(|u| (u.name.to_string(), u.uid, u.gid))
    });
    let mut matched_name = String::new();
    match matched {
        Some((name, u, g)) => {
            matched_name = name;
            uid = u;
            gid = g;
        }
        None if !user_arg.is_empty() => match uid_arg {
            None => {
                return Err(format!(
                    "unable to find user {user_arg}: no matching entries in passwd file"
                ))
            }
            Some(n) => {
                id_in_range(n)?;
                uid = n;
            }
        },
        None => {}
    }
    if !group_arg.is_empty() || !matched_name.is_empty() {
        let groups: Vec<GroupEntry> = group
            .map(|g| {
                group_entries(g)
                    .filter(|e| match (group_arg, gid_arg) {
                        ("", _) => e.members.iter().any(|m| *m == matched_name),
                        (_, Some(n)) => e.gid == n,
                        (name, None) => e.name == name,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !group_arg.is_empty() {
            match (groups.first(), gid_arg) {
                (Some(g), _) => gid = g.gid,
                (None, None) => {
                    return Err(format!(
                        "unable to find group {group_arg}: no matching entries in group file"
                    ))
                }
                (None, Some(n)) => {
                    id_in_range(n)?;
                    gid = n;
                }
            }
        } else {
            sgids = groups.iter().map(|g| g.gid).collect();
        }
    }

    // --group-add: names or gids, each once.
    let mut added: Vec<i64> = Vec::new();
    let all_groups: Vec<GroupEntry> = group.map(|g| group_entries(g).collect()).unwrap_or_default();
    for ag in group_add {
        let found = all_groups
            .iter()
            .find(|g| (g.name == ag || g.gid.to_string() == *ag) && !added.contains(&g.gid));
        match found {
            Some(g) => added.push(g.gid),
            None => {
                let n: i64 = ag
                    .parse()
                    .map_err(|_| format!("Unable to find group {ag}: no matching entries in group file"))?;
                id_in_range(n)?;
                if !added.contains(&n) {
                    added.push(n);
                }
            }
        }
    }

    let uid = id_in_range(uid)?;
    let gid = id_in_range(gid)?;
    let mut additional_gids = vec![gid];
    for g in sgids.into_iter().chain(added) {
        additional_gids.push(id_in_range(g)?);
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
    })
}

/// `path`, absolute inside the container, as a host path under `root`, following symlinks as the
/// container would see them and never leaving `root` (Docker's `FollowSymlinkInScope`). The tail
/// that does not exist is kept as written.
fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&c);
        let host = root.join(&candidate);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() && links < 255 => {
                links += 1;
                let target = match std::fs::read_link(&host) {
                    Ok(t) => t,
                    Err(_) => {
                        resolved = candidate;
                        continue;
                    }
                };
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved = PathBuf::new();
                }
                pending.extend(target.split('/').rev().map(str::to_string));
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved)
}

// ---------------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------------

/// Where a user mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MountSource {
    /// A host path.
    Host(String),
    /// A named (`Some`) or anonymous (`None`) volume, with the volume's sub-directory to mount
    /// and whether an empty volume is filled from the image first.
    Volume {
        name: Option<String>,
        subpath: Option<String>,
        copy: bool,
    },
    /// A tmpfs with these mount data (`size=…,mode=…`).
    Tmpfs(String),
}

/// A mount the container's config asks for (dockerd's `MountPoint`), before its volume is found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountPoint {
    dest: String,
    source: MountSource,
    writable: bool,
    /// Binds: the propagation (`rprivate` unless given).
    propagation: Option<String>,
    /// Binds from `Binds` create a missing source directory, `Mounts` only with
    /// `CreateMountpoint`.
    create_source: bool,
    non_recursive: bool,
    ro_non_recursive: bool,
    ro_force_recursive: bool,
}

/// Lexical cleaning as Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn mount_config_error(typ: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("invalid mount config for type \"{typ}\": {msg}"))
}

fn check_absolute(p: &str) -> std::result::Result<(), String> {
    let p = p.replace('\\', "/");
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(format!("invalid mount path: '{p}' mount path must be absolute"))
    }
}

fn check_not_root(p: &str) -> std::result::Result<(), String> {
    if clean_path(&p.replace('\\', "/")) == "/" {
        Err("invalid specification: destination can't be '/'".into())
    } else {
        Ok(())
    }
}

fn check_tmpfs_destination(dest: &str) -> Result<()> {
    check_not_root(dest)
        .and_then(|_| check_absolute(dest))
        .map_err(ApiError::invalid)
}

const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// dockerd's mount mode rule: comma-separated, at most one each of rw/ro, z/Z, a propagation,
/// nocopy and a consistency.
fn valid_mount_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let i = match o {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            o if PROPAGATIONS.contains(&o) => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[i] += 1;
    }
    counts.iter().all(|&n| n <= 1)
}

/// One `Binds` entry: `dest`, `src:dest` or `src:dest:mode`; `src` a host path (absolute) or a
/// volume name.
// Ref: moby volume/mounts/linux_parser.go ParseMountRaw.
fn parse_bind(raw: &str) -> Result<MountPoint> {
    let spec_err = || ApiError::invalid(format!("invalid volume specification: '{raw}'"));
    let arr: Vec<&str> = raw.splitn(4, ':').collect();
    if arr[0].is_empty() {
        return Err(spec_err());
    }
    let (source, target, mode) = match arr.len() {
        1 => ("", arr[0], ""),
        2 if valid_mount_mode(arr[1]) => return Err(spec_err()),
        2 => (arr[0], arr[1], ""),
        3 => (arr[0], arr[1], arr[2]),
        _ => return Err(spec_err()),
    };
    if !valid_mount_mode(mode) {
        return Err(ApiError::invalid(format!("invalid mode: {mode}")));
    }
    let opts: Vec<&str> = mode.split(',').collect();
    let is_bind = source.starts_with('/');
    let typ = if is_bind { "bind" } else { "volume" };
    let propagation = opts.iter().find(|o| PROPAGATIONS.contains(o));
    let wrap = |msg: String| {
        ApiError::invalid(format!(
            "invalid volume specification: '{raw}': invalid mount config for type \"{typ}\": {msg}"
        ))
    };
    check_not_root(target)
        .and_then(|_| check_absolute(target))
        .map_err(wrap)?;
    if !is_bind && propagation.is_some() {
        return Err(wrap("field BindOptions must not be specified".into()));
    }
    let writable = !opts.contains(&"ro");
    let dest = clean_path(target);
    Ok(if is_bind {
        MountPoint {
            dest,
            source: MountSource::Host(clean_path(source)),
            writable,
            propagation: Some(propagation.unwrap_or(&"rprivate").to_string()),
            create_source: true,
            non_recursive: false,
            ro_non_recursive: false,
            ro_force_recursive: false,
        }
    } else {
        if source.is_empty() && !writable {
            return Err(wrap(
                "must not set ReadOnly mode when using anonymous volumes".into(),
            ));
        }
        MountPoint {
            dest,
            source: MountSource::Volume {
                name: (!source.is_empty()).then(|| source.to_string()),
                subpath: None,
                copy: !opts.contains(&"nocopy"),
            },
            writable,
            propagation: None,
            create_source: false,
            non_recursive: false,
            ro_non_recursive: false,
            ro_force_recursive: false,
        }
    })
}

/// One `Mounts` entry, checked as dockerd's `ValidateMountConfig` (a bind's source must exist
/// unless `CreateMountpoint`).
// Ref: moby volume/mounts/linux_parser.go validateMountConfigImpl, ConvertTmpfsOptions.
fn parse_api_mount(m: &ApiMount) -> Result<MountPoint> {
    let typ = m.typ.unwrap_or(MountTypeEnum::EMPTY);
    let tname = typ.to_string();
    let err = |msg: String| mount_config_error(&tname, msg);
    let target = m.target.as_deref().unwrap_or("");
    let source = m.source.as_deref().unwrap_or("");
    if target.is_empty() {
        return Err(err("field Target must not be empty".into()));
    }
    check_not_root(target).map_err(err)?;
    check_absolute(target).map_err(err)?;
    let read_only = m.read_only.unwrap_or(false);
    let dest = clean_path(target);
    let base = MountPoint {
        dest,
        source: MountSource::Tmpfs(String::new()),
        writable: !read_only,
        propagation: None,
        create_source: false,
        non_recursive: false,
        ro_non_recursive: false,
        ro_force_recursive: false,
    };
    match typ {
        MountTypeEnum::BIND => {
            if source.is_empty() {
                return Err(err("field Source must not be empty".into()));
            }
            if m.volume_options.is_some() {
                return Err(err("field VolumeOptions must not be specified".into()));
            }
            check_absolute(source).map_err(err)?;
            let bo = m.bind_options.clone().unwrap_or_default();
            let create = bo.create_mountpoint.unwrap_or(false);
            match std::fs::metadata(source) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if !create {
                        return Err(err(format!("bind source path does not exist: {source}")));
                    }
                }
                Err(e) => return Err(err(format!("stat {source}: {}", io_text(&e)))),
            }
            let propagation = bo
                .propagation
                .map(|p| p.to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".into());
            Ok(MountPoint {
                source: MountSource::Host(clean_path(source)),
                propagation: Some(propagation),
                create_source: create,
                non_recursive: bo.non_recursive.unwrap_or(false),
                ro_non_recursive: bo.read_only_non_recursive.unwrap_or(false),
                ro_force_recursive: bo.read_only_force_recursive.unwrap_or(false),
                ..base
            })
        }
        MountTypeEnum::VOLUME => {
            if m.bind_options.is_some() {
                return Err(err("field BindOptions must not be specified".into()));
            }
            let vo = m.volume_options.clone().unwrap_or_default();
            let anonymous = source.is_empty();
            let subpath = vo.subpath.filter(|s| !s.is_empty());
            if let Some(sp) = &subpath {
                if anonymous {
                    return Err(err("must not set Subpath when using anonymous volumes".into()));
                }
                if !is_local_path(sp) {
                    return Err(err("subpath must be a relative path within the volume".into()));
                }
            }
            if read_only && anonymous {
                return Err(err(
                    "must not set ReadOnly mode when using anonymous volumes".into()
                ));
            }
            Ok(MountPoint {
                source: MountSource::Volume {
                    name: (!anonymous).then(|| source.to_string()),
                    subpath,
                    copy: !vo.no_copy.unwrap_or(false),
                },
                ..base
            })
        }
        MountTypeEnum::TMPFS => {
            if m.bind_options.is_some() {
                return Err(err("field BindOptions must not be specified".into()));
            }
            if !source.is_empty() {
                return Err(err("field Source must not be specified".into()));
            }
            let data = tmpfs_data(m, read_only).map_err(err)?;
            Ok(MountPoint {
                source: MountSource::Tmpfs(data),
                ..base
            })
        }
        _ => Err(err("mount type unknown".into())),
    }
}

/// Go's `filepath.IsLocal`: relative, not empty, never above its start.
fn is_local_path(p: &str) -> bool {
    if p.is_empty() || p.starts_with('/') {
        return false;
    }
    let c = clean_path(p);
    c != ".." && !c.starts_with("../")
}

/// The tmpfs mount data of a `Mounts` entry: `ro`, `mode=` (octal), `size=` (with the largest
/// of g/m/k that divides it), then its `exec`/`noexec` options.
fn tmpfs_data(m: &ApiMount, read_only: bool) -> std::result::Result<String, String> {
    let mut raw: Vec<String> = Vec::new();
    if read_only {
        raw.push("ro".into());
    }
    let t = m.tmpfs_options.clone().unwrap_or_default();
    if let Some(mode) = t.mode.filter(|m| *m != 0) {
        raw.push(format!("mode={mode:o}"));
    }
    if let Some(size) = t.size_bytes.filter(|s| *s != 0) {
        let mut s = format!("size={size}");
        for (suffix, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if size % div == 0 {
                s = format!("size={}{suffix}", size / div);
                break;
            }
        }
        raw.push(s);
    }
    for opt in t.options.iter().flatten() {
        if opt.is_empty() || opt.len() > 2 {
            return Err("invalid option array length".into());
        }
        if !matches!(opt[0].as_str(), "exec" | "noexec") {
            return Err(format!("invalid option: {}", opt[0]));
        }
        raw.push(opt.join("="));
    }
    Ok(raw.join(","))
}

/// The container's mount points, by destination, in the order dockerd's would be set up:
/// `Binds`, then `Mounts` (a destination twice is an error), then `Tmpfs` (which wins over
/// the others), then an anonymous volume for each `Volumes` path nothing else mounts.
// Ref: moby daemon/volumes.go registerMountPoints, daemon/create_unix.go.
fn parse_mount_points(cfg: &ContainerConfig, host: &HostConfig) -> Result<Vec<MountPoint>> {
    let tmpfs = host.tmpfs.clone().unwrap_or_default();
    let mut points: Vec<MountPoint> = Vec::new();
    let mut bound: BTreeSet<String> = BTreeSet::new();
    let put =
        |points: &mut Vec<MountPoint>, mp: MountPoint| match points.iter_mut().find(|p| p.dest == mp.dest) {
            Some(p) => *p = mp,
            None => points.push(mp),
        };
    for raw in host.binds.iter().flatten() {
        let mp = parse_bind(raw)?;
        if bound.contains(&mp.dest) || tmpfs.contains_key(&mp.dest) {
            return Err(ApiError::invalid(format!("Duplicate mount point: {}", mp.dest)));
        }
        bound.insert(mp.dest.clone());
        put(&mut points, mp);
    }
    for m in host.mounts.iter().flatten() {
        let mp = parse_api_mount(m)?;
        if bound.contains(&mp.dest) {
            return Err(ApiError::invalid(format!(
                "Duplicate mount point: {}",
                m.target.as_deref().unwrap_or("")
            )));
        }
        bound.insert(mp.dest.clone());
        put(&mut points, mp);
    }
    let mut tmpfs_dests: Vec<(&String, &String)> = tmpfs.iter().collect();
    tmpfs_dests.sort();
    for (dest, data) in tmpfs_dests {
        check_tmpfs_destination(dest)?;
        put(
            &mut points,
            MountPoint {
                dest: clean_path(dest),
                source: MountSource::Tmpfs(data.clone()),
                writable: true,
                propagation: None,
                create_source: false,
                non_recursive: false,
                ro_non_recursive: false,
                ro_force_recursive: false,
            },
        );
    }
    let mut volumes: Vec<&String> = cfg.volumes.iter().flat_map(|v| v.keys()).collect();
    volumes.sort();
    for v in volumes {
        let dest = clean_path(&format!("/{}", v.trim_start_matches('/')));
        if points.iter().any(|p| p.dest == dest) || tmpfs.contains_key(v) {
            continue;
        }
        points.push(MountPoint {
            dest,
            source: MountSource::Volume {
                name: None,
                subpath: None,
                copy: true,
            },
            writable: true,
            propagation: None,
            create_source: false,
            non_recursive: false,
            ro_non_recursive: false,
            ro_force_recursive: false,
        });
    }
    Ok(points)
}

/// The collision group of a mount flag in moby's `MergeTmpfsOptions` (the later option of a
/// group wins), `None` for data options.
fn mount_flag_group(o: &str) -> Option<&'static str> {
    Some(match o {
        "ro" | "rw" => "rdonly",
        "suid" | "nosuid" => "nosuid",
        "dev" | "nodev" => "nodev",
        "exec" | "noexec" => "noexec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "remount" => "remount",
        "mand" | "nomand" => "mand",
        "atime" | "noatime" => "noatime",
        "diratime" | "nodiratime" => "nodiratime",
        "bind" => "bind",
        "rbind" => "rbind",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
            "propagation"
        }
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        _ => return None,
    })
}

/// A tmpfs mount's options: Docker's `noexec,nosuid,nodev,rprivate` then the mount's data, with
/// later options replacing earlier ones of their kind.
// Ref: moby/sys/mount MergeTmpfsOptions.
fn tmpfs_options(data: &str) -> Result<Vec<String>> {
    let mut options: Vec<&str> = vec!["noexec", "nosuid", "nodev", "rprivate"];
    if !data.is_empty() {
        options.extend(data.split(','));
    }
    let mut flags = BTreeSet::new();
    let mut datas = BTreeSet::new();
    let mut out: Vec<String> = Vec::new();
    for o in options.iter().rev() {
        if *o == "defaults" {
            continue;
        }
        if let Some(group) = mount_flag_group(o) {
            if flags.insert(group) {
                out.push(o.to_string());
            }
            continue;
        }
        let (key, val) = match o.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (*o, None),
        };
        let valid = matches!(
            key,
            "" | "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "mpol"
        );
        if val.is_none() || !valid {
            let shown = match val {
                Some(v) => format!("[\"{key}\" \"{v}\"]"),
                None => format!("[\"{key}\"]"),
            };
            return Err(ApiError::invalid(format!("invalid tmpfs option {shown}")));
        }
        if datas.insert(key) {
            out.push(o.to_string());
        }
    }
    out.reverse();
    Ok(out)
}

/// Docker's default mounts (before `withMounts` filters them).
// Ref: moby oci/defaults.go DefaultLinuxSpec.
fn default_mounts() -> Vec<Mount> {
    let m = |dest: &str, typ: &str, src: &str, opts: &[&str]| Mount {
        destination: dest.into(),
        typ: Some(typ.into()),
        source: Some(src.into()),
        options: opts.iter().map(|s| s.to_string()).collect(),
        ..Mount::default()
    };
    vec![
        m("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        m(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        m("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
        m(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        m("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        m(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777"],
        ),
    ]
}

/// A user mount ready for the spec.
#[derive(Debug, Clone)]
struct SpecMount {
    dest: String,
    tmpfs: Option<String>,
    source: String,
    writable: bool,
    propagation: Option<String>,
    non_recursive: bool,
    ro_non_recursive: bool,
    ro_force_recursive: bool,
}

impl SpecMount {
    fn bind(dest: &str, source: &str, writable: bool) -> SpecMount {
        SpecMount {
            dest: dest.into(),
            tmpfs: None,
            source: source.into(),
            writable,
            propagation: Some("rprivate".into()),
            non_recursive: false,
            ro_non_recursive: false,
            ro_force_recursive: false,
        }
    }
}

fn depth(dest: &str) -> usize {
    clean_path(dest).matches('/').count()
}

fn has_opt(m: &Mount, o: &str) -> bool {
    m.options.iter().any(|x| x == o)
}

/// The mount of `/proc/self/mountinfo` holding `path`: its mount point and optional fields
/// (`shared:N master:M`).
fn mount_of(mountinfo: &str, path: &str) -> Option<(String, String)> {
    let mut best: Option<(String, String)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 7 {
            continue;
        }
        let mp = unescape_mountinfo(fields[4]);
        let optional: Vec<&str> = fields[6..].iter().take_while(|f| **f != "-").copied().collect();
        let under = mp == "/" || path == mp || path.starts_with(&format!("{mp}/"));
        if under && best.as_ref().is_none_or(|(b, _)| mp.len() >= b.len()) {
            best = Some((mp, optional.join(" ")));
        }
    }
    best
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// dockerd's check that a bind with shared (or slave) propagation comes from a shared (or
/// shared or slave) mount.
fn check_propagation_source(source: &str, slave_ok: bool) -> Result<()> {
    let real = std::fs::canonicalize(source)
        .map_err(|e| ApiError::invalid(format!("lstat {source}: {}", io_text(&e))))?;
    let real = real.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let (mp, optional) = mount_of(&info, &real)
        .ok_or_else(|| ApiError::invalid(format!("Can't find mount point of {source}")))?;
    let has = |p: &str| optional.split(' ').any(|o| o.starts_with(p));
    if has("shared:") || (slave_ok && has("master:")) {
        return Ok(());
    }
    Err(ApiError::invalid(if slave_ok {
        format!("path {source} is mounted on {mp} but it is not a shared or slave mount")
    } else {
        format!("path {source} is mounted on {mp} but it is not a shared mount")
    }))
}

/// Fills an empty volume directory from the image's content at the mount's destination, keeping
/// owners, modes and times, as dockerd does for a new volume.
fn copy_up(image_dir: &Path, volume: &Path) -> std::io::Result<()> {
    let src = match std::fs::metadata(image_dir) {
        Ok(m) if m.is_dir() => m,
        _ => return Ok(()),
    };
    if std::fs::read_dir(volume)?.next().is_some() {
        return Ok(());
    }
    copy_tree(image_dir, volume)?;
    copy_meta(volume, &src)
}

fn copy_meta(path: &Path, md: &std::fs::Metadata) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(md.uid()), Some(md.gid()))?;
    if !md.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    // Times through an open file: only files and directories (opening a FIFO would block, a
    // device node could act).
    if md.is_file() || md.is_dir() {
        let times = std::fs::FileTimes::new()
            .set_accessed(md.accessed()?)
            .set_modified(md.modified()?);
        std::fs::File::open(path)?.set_times(times)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let md = std::fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            let c = std::ffi::CString::new(dst.as_os_str().as_encoded_bytes())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            if unsafe { libc::mknod(c.as_ptr(), md.mode(), md.rdev()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else {
            // Sockets belong to the process that made them.
            continue;
        }
        copy_meta(&dst, &md)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

/// The device node at `path` (not following a final symlink), or `None` if it is not one.
// Ref: containerd oci DeviceFromPath.
fn device_from_path(path: &Path) -> std::io::Result<Option<Device>> {
    let md = std::fs::symlink_metadata(path)?;
    let (major, minor) = split_dev(md.rdev());
    let ft = md.file_type();
    let typ = if ft.is_block_device() {
        "b"
    } else if ft.is_char_device() {
        "c"
    } else if ft.is_fifo() {
        "p"
    } else {
        return Ok(None);
    };
    if major == 0 {
        return Ok(None);
    }
    Ok(Some(Device {
        typ: typ.into(),
        path: path.to_string_lossy().into_owned(),
        major: major as i64,
        minor: minor as i64,
        file_mode: Some(md.mode() & 0o7777),
        uid: Some(md.uid()),
        gid: Some(md.gid()),
    }))
}

fn allow(d: &Device, access: &str) -> DeviceCgroup {
    DeviceCgroup {
        allow: true,
        typ: Some(d.typ.clone()),
        major: Some(d.major),
        minor: Some(d.minor),
        access: Some(access.into()),
    }
}

/// `--device HOST[:CONTAINER[:PERMS]]`: the node, or every node under a directory.
// Ref: moby oci/devices_linux.go DevicesFromPath.
fn devices_from_path(host: &str, container: &str, perms: &str) -> Result<(Vec<Device>, Vec<DeviceCgroup>)> {
    let mut resolved = PathBuf::from(host);
    if std::fs::symlink_metadata(host).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(p) = std::fs::canonicalize(host) {
            resolved = p;
        }
    }
    let gather_err = |why: String| {
        ApiError::invalid(format!(
            "error gathering device information while adding custom device {}: {why}",
            go_quote(host)
        ))
    };
    match device_from_path(&resolved) {
        Ok(Some(mut d)) => {
            d.path = container.into();
            let rule = allow(&d, perms);
            return Ok((vec![d], vec![rule]));
        }
        Err(e) => {
            return Err(gather_err(format!(
                "lstat {}: {}",
                resolved.display(),
                io_text(&e)
            )))
        }
        Ok(None) => {}
    }
    let mut devs = Vec::new();
    let mut rules = Vec::new();
    if resolved.is_dir() {
        let base = resolved.to_string_lossy().into_owned();
        let mut stack = vec![resolved.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for p in entries.into_iter().rev() {
                if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                    stack.push(p);
                } else if let Ok(Some(mut d)) = device_from_path(&p) {
                    d.path = d.path.replacen(&base, container, 1);
                    rules.push(allow(&d, perms));
                    devs.push(d);
                }
            }
        }
    }
    if devs.is_empty() {
        return Err(gather_err("not a device node".into()));
    }
    Ok((devs, rules))
}

/// Every device node of the host's `/dev` (for `--privileged`), as containerd's `HostDevices`.
fn host_devices(dir: &Path) -> Vec<Device> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<(String, PathBuf)> = rd
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    for (name, path) in entries {
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if md.is_dir() {
            if !matches!(
                name.as_str(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                out.extend(host_devices(&path));
            }
            continue;
        }
        if name == "console" || md.file_type().is_symlink() {
            continue;
        }
        if let Ok(Some(d)) = device_from_path(&path) {
            if d.typ != "p" {
                out.push(d);
            }
        }
    }
    out
}

/// Docker's default device cgroup rules: deny all, allow the standard nodes, deny fuse.
// Ref: moby oci/defaults.go.
fn default_device_rules() -> Vec<DeviceCgroup> {
    let rule = |allow: bool, major: i64, minor: i64| DeviceCgroup {
        allow,
        typ: Some("c".into()),
        major: Some(major),
        minor: Some(minor),
        access: Some("rwm".into()),
    };
    vec![
        DeviceCgroup {
            allow: false,
            access: Some("rwm".into()),
            ..DeviceCgroup::default()
        },
        rule(true, 1, 5),
        rule(true, 1, 3),
        rule(true, 1, 9),
        rule(true, 1, 8),
        rule(true, 5, 0),
        rule(true, 5, 1),
        rule(false, 10, 229),
    ]
}

/// A `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS`, `*` for any number.
fn parse_device_rule(rule: &str) -> Result<DeviceCgroup> {
    let bad = || ApiError::invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [typ, nums, access] = parts[..] else {
        return Err(bad());
    };
    if !matches!(typ, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = nums.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<i64> {
        if s == "*" {
            Ok(-1)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    Ok(DeviceCgroup {
        allow: true,
        typ: Some(typ.into()),
        major: Some(num(major)?),
        minor: Some(num(minor)?),
        access: Some(access.into()),
    })
}

// ---------------------------------------------------------------------------------------------
// Sysctls
// ---------------------------------------------------------------------------------------------

/// runc's rule: only namespaced sysctls, each in a namespace the container owns.
// Ref: runc libcontainer/configs/validate/validator.go sysctl.
fn check_sysctls(sysctl: &BTreeMap<String, String>, ns: &[Namespace]) -> Result<()> {
    let has = |t: NamespaceType| ns.iter().find(|n| n.typ == t);
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    for key in sysctl.keys() {
        let k = key.replace('/', ".");
        let q = go_quote(key);
        if IPC.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            if has(NamespaceType::Ipc).is_none() {
                return Err(ApiError::invalid(format!(
                    "sysctl {q} is not allowed in the hosts ipc namespace"
                )));
            }
            continue;
        }
        if k.starts_with("net.") {
            if has(NamespaceType::Network).is_none() {
                return Err(ApiError::invalid(format!(
                    "sysctl {q} is not allowed in the hosts network namespace"
                )));
            }
            continue;
        }
        if has(NamespaceType::Uts).is_some() {
            match k.as_str() {
                "kernel.domainname" => continue,
                "kernel.hostname" => {
                    return Err(ApiError::invalid(format!(
                        "sysctl {q} is not allowed as it conflicts with the OCI \"hostname\" field"
                    )))
                }
                _ => {}
            }
        }
        return Err(ApiError::invalid(format!(
            "sysctl {q} is not in a separate kernel namespace"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------------------------

/// Everything [`build`] needs besides the container's configs.
pub struct SpecInput<'a> {
    /// The container's ID.
    pub id: &'a str,
    /// The container's config, already merged with the image's.
    pub config: &'a ContainerConfig,
    pub host: &'a HostConfig,
    /// The mounted root filesystem, absolute (the bundle's `root.path`).
    pub rootfs: &'a Path,
    /// Bound at `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` (skipped when missing or
    /// when the container mounts something there itself).
    pub hostname_file: &'a Path,
    pub hosts_file: &'a Path,
    pub resolv_file: &'a Path,
    /// The cgroup (`/berth/<id>`); `HostConfig.CgroupParent`, when set, replaces its parent.
    pub cgroups_path: String,
    /// berth-init for `--init`: bound read-only at `/sbin/docker-init`, which then runs the
    /// command (only in a private PID namespace, as dockerd).
    pub init_binary: Option<&'a Path>,
    /// `container:X` of `--pid`, `--ipc` and `--network`: X's running init pid, whose
    /// `/proc/<pid>/ns/<type>` the container joins.
    pub container_pid: &'a dyn Fn(&str) -> Result<u32>,
    /// A named (`Some(name)`) or anonymous (`None`) volume for the container path given: the host
    /// directory to bind. Called once per volume mount at each start; an anonymous volume
    /// should be the same directory at every start of the container (dockerd names it once, at
    /// create). An empty volume is then filled from the image unless `nocopy`.
    pub volume_path: &'a dyn Fn(Option<&str>, &str) -> Result<PathBuf>,
    /// From [`resolve_user`].
    pub user: ResolvedUser,
}

impl std::fmt::Debug for SpecInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecInput")
            .field("id", &self.id)
            .field("rootfs", &self.rootfs)
            .field("cgroups_path", &self.cgroups_path)
            .field("init_binary", &self.init_binary)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The OCI spec of a container's run, as dockerd's `createSpec` makes it for runc: process
/// (entrypoint + command, env, cwd, tty, user, rlimits, capabilities, no-new-privileges,
/// seccomp), hostname, mounts (Docker's defaults, binds, volumes, tmpfs, `/etc` files, init),
/// masked and read-only paths, devices and device cgroup rules, namespaces, sysctls, OOM score
/// and resources. Every error is a System error (500), as dockerd's start answers, whatever its
/// cause; [`prepare_create`] catches bad input at create.
///
/// `NetworkMode` `default`/`bridge` get a new network namespace (with only loopback, until
/// berth has bridge networks), `none` too, `host` the host's, `container:X` X's.
pub fn build(input: &SpecInput) -> Result<Spec> {
    build_on(host_info(), input).map_err(|e| ApiError::system(e.message))
}

fn build_on(h: &HostInfo, input: &SpecInput) -> Result<Spec> {
    let cfg = input.config;
    let mut host = input.host.clone();
    // Records made before prepare_create existed, or by callers that skip it.
    if host.pids_limit.is_some_and(|n| n <= 0) {
        host.pids_limit = None;
    }
    adapt_host_config(h, &mut host);
    let privileged = host.privileged.unwrap_or(false);
    let sec = parse_security_opts(host.security_opt.as_deref().unwrap_or(&[]))?;
    check_namespace_modes(&host)?;

    // Process.
    let mut args: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
    args.extend(cfg.cmd.clone().unwrap_or_default());
    if args.is_empty() {
        return Err(ApiError::invalid("No command specified"));
    }
    let pid_mode = host.pid_mode.clone().unwrap_or_default();
    let pid_private = pid_mode != "host" && container_of(&pid_mode).is_none();
    let init = input.init_binary.filter(|_| pid_private);
    if init.is_some() {
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let caps = tweak_caps(
        host.cap_add.as_deref().unwrap_or(&[]),
        host.cap_drop.as_deref().unwrap_or(&[]),
        privileged,
        &h.caps,
    )
    .map_err(ApiError::invalid)?;
    let tty = cfg.tty.unwrap_or(false);
    let console_size = match host.console_size.as_deref() {
        Some(&[hgt, wid]) if tty && (hgt > 0 || wid > 0) => Some(ConsoleSize {
            height: hgt.clamp(0, u16::MAX as i32) as u16,
            width: wid.clamp(0, u16::MAX as i32) as u16,
        }),
        _ => None,
    };
    let process = Process {
        terminal: tty,
        console_size,
        user: User {
            uid: input.user.uid,
            gid: input.user.gid,
            additional_gids: input.user.additional_gids.clone(),
            ..User::default()
        },
        args,
        env: process_env(cfg),
        cwd: cfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into()),
        capabilities: Some(Capabilities {
            bounding: Some(caps.clone()),
            effective: Some(caps.clone()),
            permitted: Some(caps.clone()),
            ..Capabilities::default()
        }),
        rlimits: rlimits(h, &host)?,
        no_new_privileges: sec.no_new_privileges,
        oom_score_adj: Some(host.oom_score_adj.unwrap_or(0) as i32),
        ..Process::default()
    };

    let namespaces = namespaces(input, &host)?;
    let uts_host = host.uts_mode.as_deref() == Some("host");
    let hostname = cfg.hostname.clone().filter(|s| !s.is_empty() && !uts_host);

    let (mounts, rootfs_propagation) = mounts(h, input, &host, privileged, init)?;

    // Devices.
    let mut device_rules = default_device_rules();
    let mut devices = Vec::new();
    if privileged {
        devices = host_devices(Path::new("/dev"));
        for d in host.devices.iter().flatten() {
            let (on_host, in_ctr) = device_paths(d);
            if on_host == in_ctr {
                continue;
            }
            devices.extend(devices_from_path(&on_host, &in_ctr, "rwm")?.0);
        }
        device_rules = vec![DeviceCgroup {
            allow: true,
            access: Some("rwm".into()),
            ..DeviceCgroup::default()
        }];
    } else {
        for d in host.devices.iter().flatten() {
            let (on_host, in_ctr) = device_paths(d);
            let perms = d
                .cgroup_permissions
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rwm".into());
            let (devs, rules) = devices_from_path(&on_host, &in_ctr, &perms)?;
            devices.extend(devs);
            device_rules.extend(rules);
        }
        for r in host.device_cgroup_rules.iter().flatten() {
            device_rules.push(parse_device_rule(r)?);
        }
    }

    // Sysctls: Docker's defaults for a private network stack, the NIS domain name, then the
    // container's own.
    let mut sysctl = BTreeMap::new();
    let net_mode = host.network_mode.as_deref().unwrap_or("");
    if net_mode != "host" && container_of(net_mode).is_none() {
        if !h.in_userns && h.ping_group_range {
            sysctl.insert(
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            );
        }
        if h.unprivileged_port_start {
            sysctl.insert("net.ipv4.ip_unprivileged_port_start".to_string(), "0".to_string());
        }
    }
    if let Some(d) = cfg.domainname.as_deref().filter(|d| !d.is_empty()) {
        sysctl.insert("kernel.domainname".to_string(), d.to_string());
    }
    for (k, v) in host.sysctls.iter().flatten() {
        sysctl.insert(k.clone(), v.clone());
    }
    check_sysctls(&sysctl, &namespaces)?;

    // Defaults unless privileged (adapt_host_config); paths the client set apply regardless.
    let masked_paths = host.masked_paths.clone().unwrap_or_default();
    let readonly_paths = host.readonly_paths.clone().unwrap_or_default();

    let seccomp = match sec.seccomp.as_deref() {
        Some("unconfined") | Some("builtin") | None => None,
        Some(json) => load_seccomp_on(json, &caps, h.arch, h.kernel)?,
    };

    let cgroups_path = match host.cgroup_parent.as_deref().filter(|p| !p.is_empty()) {
        Some(parent) => {
            let joined = format!("{}/{}", parent.trim_end_matches('/'), input.id);
            if joined.starts_with('/') {
                joined
            } else {
                format!("/{joined}")
            }
        }
        None => input.cgroups_path.clone(),
    };

    let resources = Resources {
        devices: device_rules,
        memory: memory_resources(&host),
        cpu: cpu_resources(&host)?,
        pids: host.pids_limit.map(|n| Pids {
            limit: if n <= 0 { -1 } else { n },
        }),
        block_io: Some(block_io(&host)?),
        ..Resources::default()
    };

    Ok(Spec {
        oci_version: berth_oci::OCI_VERSION.into(),
        process: Some(process),
        root: Some(Root {
            path: input.rootfs.to_string_lossy().into_owned(),
            readonly: host.readonly_rootfs.unwrap_or(false),
        }),
        hostname,
        mounts,
        annotations: host
            .annotations
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        linux: Some(Linux {
            namespaces,
            devices,
            cgroups_path: Some(cgroups_path),
            resources: Some(resources),
            rootfs_propagation,
            seccomp,
            sysctl,
            masked_paths,
            readonly_paths,
            ..Linux::default()
        }),
        ..Spec::default()
    })
}

fn device_paths(d: &bollard_stubs::models::DeviceMapping) -> (String, String) {
    let on_host = d.path_on_host.clone().unwrap_or_default();
    let in_ctr = d
        .path_in_container
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| on_host.clone());
    (on_host, in_ctr)
}

/// `--ulimit`s (and the default open-files limit), never above berthd's own hard limit when
/// berthd lacks `CAP_SYS_RESOURCE` (the runtime could not raise it).
fn rlimits(h: &HostInfo, host: &HostConfig) -> Result<Vec<Rlimit>> {
    let mut out: Vec<Rlimit> = Vec::new();
    for u in host.ulimits.iter().flatten() {
        let name = u.name.as_deref().unwrap_or("");
        let Some((_, typ, _)) = ULIMITS.iter().find(|(n, _, _)| *n == name) else {
            return Err(ApiError::invalid(format!("invalid ulimit type: {name}")));
        };
        let (soft, hard) = (u.soft.unwrap_or(0), u.hard.unwrap_or(0));
        if soft as u64 > hard as u64 {
            return Err(ApiError::invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        out.retain(|r| r.typ != *typ);
        out.push(Rlimit {
            typ: typ.to_string(),
            soft: soft as u64,
            hard: hard as u64,
        });
    }
    if !out.iter().any(|r| r.typ == "RLIMIT_NOFILE") {
        out.push(Rlimit {
            typ: "RLIMIT_NOFILE".into(),
            soft: DEFAULT_NOFILE.0,
            hard: DEFAULT_NOFILE.1,
        });
    }
    if !h.cap_sys_resource {
        for r in &mut out {
            if let Some((_, limit)) = h.hard_limits.iter().find(|(t, _)| *t == r.typ) {
                r.hard = r.hard.min(*limit);
                r.soft = r.soft.min(r.hard);
            }
        }
    }
    Ok(out)
}

/// The container's namespaces, in Docker's order: mount, network, uts, pid, ipc, then cgroup.
fn namespaces(input: &SpecInput, host: &HostConfig) -> Result<Vec<Namespace>> {
    let join = |typ: NamespaceType, other: &str, prefix: &str| -> Result<Namespace> {
        let pid = (input.container_pid)(other).map_err(|e| {
            ApiError::invalid(if prefix.is_empty() {
                e.message
            } else {
                format!("{prefix}: {}", e.message)
            })
        })?;
        Ok(Namespace {
            typ,
            path: Some(format!("/proc/{pid}/ns/{}", typ.proc_name())),
        })
    };
    let new = |typ| Namespace { typ, path: None };
    let mut out = vec![new(NamespaceType::Mount)];
    let net = host.network_mode.as_deref().unwrap_or("");
    match container_of(net) {
        Some(other) if other == input.id => {
            return Err(ApiError::invalid("cannot join own network"));
        }
        Some(other) => out.push(join(NamespaceType::Network, other, "")?),
        None if net == "host" => {}
        None => out.push(new(NamespaceType::Network)),
    }
    if host.uts_mode.as_deref() != Some("host") {
        out.push(new(NamespaceType::Uts));
    }
    let pid = host.pid_mode.as_deref().unwrap_or("");
    match container_of(pid) {
        Some(other) => out.push(join(NamespaceType::Pid, other, "failed to join PID namespace")?),
        None if pid == "host" => {}
        None => out.push(new(NamespaceType::Pid)),
    }
    let ipc = host.ipc_mode.as_deref().unwrap_or("");
    match container_of(ipc) {
        Some(other) => out.push(join(NamespaceType::Ipc, other, "failed to join IPC namespace")?),
        None if ipc == "host" => {}
        None => out.push(new(NamespaceType::Ipc)),
    }
    if host.cgroupns_mode == Some(HostConfigCgroupnsModeEnum::PRIVATE) {
        out.push(new(NamespaceType::Cgroup));
    }
    Ok(out)
}

/// The spec's mounts and the rootfs propagation the binds need.
// Ref: moby daemon/oci_linux.go withMounts, daemon/volumes_unix.go setupMounts,
// container/container_unix.go NetworkMounts, IpcMounts, TmpfsMounts.
fn mounts(
    h: &HostInfo,
    input: &SpecInput,
    host: &HostConfig,
    privileged: bool,
    init: Option<&Path>,
) -> Result<(Vec<Mount>, Option<String>)> {
    let readonly_rootfs = host.readonly_rootfs.unwrap_or(false);
    let points = parse_mount_points(input.config, host)?;
    let ipc = host.ipc_mode.as_deref().unwrap_or("");

    // The user's mounts, in dockerd's order: IPC, tmpfs, volumes and binds, /etc files.
    let mut user: Vec<SpecMount> = Vec::new();
    if ipc == "host" && !points.iter().any(|p| p.dest == "/dev/shm") {
        if !Path::new("/dev/shm").exists() {
            return Err(ApiError::invalid(
                "/dev/shm is not mounted, but must be for --ipc=host",
            ));
        }
        user.push(SpecMount::bind("/dev/shm", "/dev/shm", true));
    }
    for p in &points {
        if let MountSource::Tmpfs(data) = &p.source {
            user.push(SpecMount {
                tmpfs: Some(data.clone()),
                ..SpecMount::bind(&p.dest, "tmpfs", true)
            });
        }
    }
    let mut binds: Vec<SpecMount> = Vec::new();
    for p in &points {
        let source = match &p.source {
            MountSource::Tmpfs(_) => continue,
            MountSource::Host(src) => {
                // An existing file is bound as it is (Go's MkdirAll answers ENOTDIR, which
                // dockerd ignores).
                if p.create_source && std::fs::symlink_metadata(src).is_err() {
                    if let Err(e) = std::fs::create_dir_all(src) {
                        if e.raw_os_error() != Some(libc::ENOTDIR) {
                            return Err(ApiError::invalid(format!(
                                "error while creating mount source path '{src}': mkdir {src}: {}",
                                io_text(&e)
                            )));
                        }
                    }
                }
                src.clone()
            }
            MountSource::Volume { name, subpath, copy } => {
                let dir = (input.volume_path)(name.as_deref(), &p.dest)?;
                let dir = match subpath {
                    Some(sp) => {
                        let d = dir.join(sp);
                        let real = std::fs::canonicalize(&d).map_err(|e| {
                            ApiError::invalid(format!("cannot access path {}: {}", d.display(), io_text(&e)))
                        })?;
                        if !real.starts_with(std::fs::canonicalize(&dir)?) {
                            return Err(ApiError::invalid(
                                "subpath must be a relative path within the volume",
                            ));
                        }
                        real
                    }
                    None => dir,
                };
                let in_image = resolve_in_root(input.rootfs, &p.dest);
                if name.is_none() {
                    if let Ok(md) = std::fs::metadata(&in_image) {
                        if !md.is_dir() {
                            return Err(ApiError::invalid(format!(
                                "cannot mount volume over existing file, file exists {}",
                                in_image.display()
                            )));
                        }
                    }
                }
                if *copy && subpath.is_none() {
                    copy_up(&in_image, &dir).map_err(|e| {
                        ApiError::invalid(format!(
                            "failed to populate volume: copying {} to {}: {e}",
                            in_image.display(),
                            dir.display()
                        ))
                    })?;
                }
                dir.to_string_lossy().into_owned()
            }
        };
        if let MountSource::Host(_) = p.source {
            if p.writable && p.ro_non_recursive {
                return Err(ApiError::invalid(
                    "mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive",
                ));
            }
            if p.writable && p.ro_force_recursive {
                return Err(ApiError::invalid(
                    "mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive",
                ));
            }
            if p.ro_non_recursive && p.ro_force_recursive {
                return Err(ApiError::invalid(
                    "mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive",
                ));
            }
        }
        binds.push(SpecMount {
            dest: p.dest.clone(),
            tmpfs: None,
            source,
            writable: p.writable,
            propagation: p.propagation.clone(),
            non_recursive: p.non_recursive,
            ro_non_recursive: p.ro_non_recursive,
            ro_force_recursive: p.ro_force_recursive,
        });
    }
    binds.sort_by_key(|m| depth(&m.dest));
    user.extend(binds);
    for (dest, file) in [
        ("/etc/resolv.conf", input.resolv_file),
        ("/etc/hostname", input.hostname_file),
        ("/etc/hosts", input.hosts_file),
    ] {
        if points.iter().any(|p| p.dest == dest) || !file.exists() {
            continue;
        }
        user.push(SpecMount::bind(dest, &file.to_string_lossy(), !readonly_rootfs));
    }
    user.sort_by_key(|m| depth(&m.dest));

    // Docker's defaults (and the init binary), less what the user mounts over.
    let mut defaults = default_mounts();
    if let Some(init) = init {
        defaults.push(Mount {
            destination: INIT_PATH.into(),
            typ: Some("bind".into()),
            source: Some(init.to_string_lossy().into_owned()),
            options: vec!["bind".into(), "ro".into()],
            ..Mount::default()
        });
    }
    let user_dests: BTreeSet<&str> = user.iter().map(|m| m.dest.as_str()).collect();
    let user_dev = user_dests.contains("/dev");
    let shm_size = host.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
    let mut out: Vec<Mount> = Vec::new();
    for mut m in defaults {
        if user_dests.contains(m.destination.as_str()) || (user_dev && m.destination.starts_with("/dev/")) {
            continue;
        }
        if m.destination == "/dev/shm" {
            if ipc == "none" {
                continue;
            }
            m.options.push(format!("size={shm_size}"));
        }
        out.push(m);
    }
    let n_defaults = out.len();

    let mut rootfs_propagation: Option<String> = None;
    for m in &user {
        if let Some(data) = &m.tmpfs {
            out.push(Mount {
                destination: m.dest.clone(),
                source: Some("tmpfs".into()),
                typ: Some("tmpfs".into()),
                options: tmpfs_options(data)?,
                ..Mount::default()
            });
            continue;
        }
        let prop = m.propagation.as_deref().unwrap_or("");
        match prop {
            "shared" | "rshared" => {
                check_propagation_source(&m.source, false)?;
                if !matches!(rootfs_propagation.as_deref(), Some("shared" | "rshared")) {
                    rootfs_propagation = Some("shared".into());
                }
            }
            "slave" | "rslave" => {
                check_propagation_source(&m.source, true)?;
                if !matches!(
                    rootfs_propagation.as_deref(),
                    Some("shared" | "rshared" | "slave" | "rslave")
                ) {
                    rootfs_propagation = Some("rslave".into());
                }
            }
            _ => {}
        }
        let mut options = vec![if m.non_recursive { "bind" } else { "rbind" }.to_string()];
        if !m.writable {
            let rro = !m.ro_non_recursive && h.rro;
            if m.ro_force_recursive && !h.rro {
                return Err(ApiError::invalid(
                    "recursively read-only mounts need Linux 5.12 or later",
                ));
            }
            options.push(if rro { "rro" } else { "ro" }.into());
        }
        if !prop.is_empty() {
            options.push(prop.to_string());
        }
        out.push(Mount {
            destination: m.dest.clone(),
            source: Some(m.source.clone()),
            typ: Some("bind".into()),
            options,
            ..Mount::default()
        });
    }

    if readonly_rootfs {
        for m in out.iter_mut().take(n_defaults) {
            if matches!(
                m.destination.as_str(),
                "/proc" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev"
            ) {
                continue;
            }
            if !has_opt(m, "ro") {
                m.options.push("ro".into());
            }
        }
    }
    if privileged {
        for m in &mut out {
            if m.destination == "/sys" || m.typ.as_deref() == Some("cgroup") {
                m.options.retain(|o| o != "ro");
            }
        }
    }
    Ok((out, rootfs_propagation))
}

// ---------------------------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------------------------

/// What this host's cgroups can limit (dockerd's `sysinfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CgroupSupport {
    memory: bool,
    swap: bool,
    swappiness: bool,
    reservation: bool,
    oom_kill_disable: bool,
    pids: bool,
    cpu_cfs: bool,
    cpu_shares: bool,
    cpu_realtime: bool,
    cpuset: bool,
    blkio_weight: bool,
    blkio_weight_device: bool,
    blkio_throttle: bool,
}

/// The facts about this host that change what a spec holds, read once.
#[derive(Debug, Clone)]
struct HostInfo {
    /// cgroup v2 only (no v1 hierarchy).
    cgroup_unified: bool,
    cg: CgroupSupport,
    /// Online CPUs and memory nodes (`0-3`).
    cpus: String,
    mems: String,
    ncpu: i64,
    /// berthd's effective capabilities.
    caps: Vec<&'static str>,
    cap_sys_resource: bool,
    /// berthd's hard limit per rlimit (`RLIMIT_NOFILE` → 20000).
    hard_limits: Vec<(&'static str, u64)>,
    /// `(kernel, major)` of the running kernel (`(6, 1)`).
    kernel: (u64, u64),
    /// `mount_setattr(2)`: recursive read-only binds.
    rro: bool,
    in_userns: bool,
    ping_group_range: bool,
    unprivileged_port_start: bool,
    /// libseccomp's name of the native architecture (`amd64`).
    arch: &'static str,
}

fn host_info() -> &'static HostInfo {
    static HOST: OnceLock<HostInfo> = OnceLock::new();
    HOST.get_or_init(HostInfo::detect)
}

impl HostInfo {
    fn detect() -> HostInfo {
        let (cgroup_unified, cg) = detect_cgroups();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        let caps = KNOWN_CAPS
            .iter()
            .enumerate()
            .filter(|(i, _)| cap_eff & (1 << i) != 0)
            .map(|(_, c)| *c)
            .collect();
        let hard_limits = ULIMITS
            .iter()
            .filter_map(|(_, typ, res)| {
                let mut rl = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: getrlimit writes one rlimit into the struct it is given.
                let rc = unsafe { libc::getrlimit(*res, &mut rl) };
                (rc == 0).then_some((*typ, rl.rlim_max))
            })
            .collect();
        let kernel = kernel_version();
        let online = |p: &str, default: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| default.to_string())
        };
        let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        let in_userns = !uid_map.trim().is_empty()
            && uid_map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"];
        HostInfo {
            cgroup_unified,
            cg,
            cpus: online("/sys/devices/system/cpu/online", "0"),
            mems: online("/sys/devices/system/node/online", "0"),
            ncpu: affinity_cpus(),
            caps,
            cap_sys_resource: cap_eff & (1 << CAP_SYS_RESOURCE) != 0,
            hard_limits,
            kernel,
            rro: kernel >= (5, 12),
            in_userns,
            ping_group_range: Path::new("/proc/sys/net/ipv4/ping_group_range").exists(),
            unprivileged_port_start: Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists(),
            arch: native_arch().0,
        }
    }
}

fn kernel_version() -> (u64, u64) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let k = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let m = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (k, m)
}

/// The CPUs this process may run on (Go's `runtime.NumCPU`).
fn affinity_cpus() -> i64 {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills at most `size_of` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            return libc::CPU_COUNT(&set) as i64;
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
}

// Ref: moby pkg/sysinfo cgroup v1 and v2 probes.
fn detect_cgroups() -> (bool, CgroupSupport) {
    let Ok(layout) = berth_cgroups::detect() else {
        return (false, CgroupSupport::default());
    };
    if layout.mode() == "v2" {
        let controllers = layout
            .unified()
            .map(|u| u.controllers.clone())
            .unwrap_or_default();
        let has = |c: &str| controllers.iter().any(|x| x == c);
        let memory = has("memory");
        let io = has("io");
        return (
            true,
            CgroupSupport {
                memory,
                swap: memory,
                swappiness: false,
                reservation: memory,
                oom_kill_disable: false,
                pids: has("pids"),
                cpu_cfs: has("cpu"),
                cpu_shares: has("cpu"),
                cpu_realtime: false,
                cpuset: has("cpuset"),
                blkio_weight: io,
                blkio_weight_device: io,
                blkio_throttle: io,
            },
        );
    }
    let mount = |c: &str| {
        layout
            .v1_hierarchies()
            .iter()
            .find(|h| h.controllers.iter().any(|x| x == c))
            .map(|h| h.mount_point.clone())
    };
    let file = |c: &str, f: &str| mount(c).is_some_and(|m| m.join(f).exists());
    (
        false,
        CgroupSupport {
            memory: mount("memory").is_some(),
            swap: file("memory", "memory.memsw.limit_in_bytes"),
            swappiness: file("memory", "memory.swappiness"),
            reservation: file("memory", "memory.soft_limit_in_bytes"),
            oom_kill_disable: file("memory", "memory.oom_control"),
            pids: mount("pids").is_some(),
            cpu_cfs: file("cpu", "cpu.cfs_quota_us"),
            cpu_shares: file("cpu", "cpu.shares"),
            cpu_realtime: file("cpu", "cpu.rt_period_us"),
            cpuset: mount("cpuset").is_some(),
            blkio_weight: file("blkio", "blkio.weight") || file("blkio", "blkio.bfq.weight"),
            blkio_weight_device: file("blkio", "blkio.weight_device")
                || file("blkio", "blkio.bfq.weight_device"),
            blkio_throttle: file("blkio", "blkio.throttle.read_bps_device"),
        },
    )
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use berth_image::manifest::{EmptyObject, HealthConfig as ImageHealth};
    use bollard_stubs::models::{
        DeviceMapping, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions,
        ResourcesBlkioWeightDevice, ResourcesUlimits,
    };

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn test_host() -> HostInfo {
        HostInfo {
            cgroup_unified: false,
            cg: CgroupSupport {
                memory: true,
                swap: true,
                swappiness: true,
                reservation: true,
                oom_kill_disable: true,
                pids: true,
                cpu_cfs: true,
                cpu_shares: true,
                cpu_realtime: true,
                cpuset: true,
                blkio_weight: true,
                blkio_weight_device: true,
                blkio_throttle: true,
            },
            cpus: "0-3".into(),
            mems: "0".into(),
            ncpu: 4,
            caps: KNOWN_CAPS
                .iter()
                .copied()
                .filter(|c| *c != "CAP_SYS_RESOURCE")
                .collect(),
            cap_sys_resource: false,
            hard_limits: vec![("RLIMIT_NOFILE", 20000)],
            kernel: (6, 1),
            rro: true,
            in_userns: false,
            ping_group_range: true,
            unprivileged_port_start: true,
            arch: "amd64",
        }
    }

    /// A bundle directory: `rootfs/` with an `/etc/passwd` and `/etc/group`, the `/etc` files,
    /// and `volumes/` for the volume callback.
    struct Bundle {
        dir: tempfile::TempDir,
    }

    impl Bundle {
        fn new() -> Bundle {
            let dir = tempfile::tempdir().unwrap();
            let etc = dir.path().join("rootfs/etc");
            std::fs::create_dir_all(&etc).unwrap();
            std::fs::write(
                etc.join("passwd"),
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            )
            .unwrap();
            std::fs::write(
                etc.join("group"),
                "root:x:0:root\n# a comment\nwheel:x:10:root,app\napp:x:1000:\nstaff:x:50:\n",
            )
            .unwrap();
            for f in ["hostname", "hosts", "resolv.conf"] {
                std::fs::write(dir.path().join(f), "x\n").unwrap();
            }
            Bundle { dir }
        }
        fn rootfs(&self) -> PathBuf {
            self.dir.path().join("rootfs")
        }
        fn volumes(&self) -> PathBuf {
            self.dir.path().join("volumes")
        }
        fn build(&self, h: &HostInfo, cfg: &ContainerConfig, host: &HostConfig) -> Result<Spec> {
            self.build_with(h, cfg, host, None)
        }
        fn build_with(
            &self,
            h: &HostInfo,
            cfg: &ContainerConfig,
            host: &HostConfig,
            init: Option<&Path>,
        ) -> Result<Spec> {
            let rootfs = self.rootfs();
            let volumes = self.volumes();
            let pid = |name: &str| -> Result<u32> {
                match name {
                    "db" => Ok(4242),
                    other => Err(ApiError::conflict(format!("container {other} is not running"))),
                }
            };
            let vol = |name: Option<&str>, dest: &str| -> Result<PathBuf> {
                let n = match name {
                    Some(n) => n.to_string(),
                    None => format!("anon{}", dest.replace('/', "_")),
                };
                let p = volumes.join(n);
                std::fs::create_dir_all(&p)?;
                Ok(p)
            };
            let user = resolve_user(
                &rootfs,
                cfg.user.as_deref().unwrap_or(""),
                host.group_add.as_deref().unwrap_or(&[]),
            )?;
            let d = self.dir.path();
            let input = SpecInput {
                id: "c0ffee",
                config: cfg,
                host,
                rootfs: &rootfs,
                hostname_file: &d.join("hostname"),
                hosts_file: &d.join("hosts"),
                resolv_file: &d.join("resolv.conf"),
                cgroups_path: "/berth/c0ffee".into(),
                init_binary: init,
                container_pid: &pid,
                volume_path: &vol,
                user,
            };
            build_on(h, &input)
        }
    }

    fn sh() -> ContainerConfig {
        ContainerConfig {
            cmd: Some(s(&["sh", "-c", "true"])),
            hostname: Some("c0ffee".into()),
            ..ContainerConfig::default()
        }
    }

    fn linux(spec: &Spec) -> &Linux {
        spec.linux.as_ref().unwrap()
    }

    fn process(spec: &Spec) -> &Process {
        spec.process.as_ref().unwrap()
    }

    fn mount<'a>(spec: &'a Spec, dest: &str) -> &'a Mount {
        spec.mounts
            .iter()
            .find(|m| m.destination == dest)
            .unwrap_or_else(|| panic!("no mount at {dest}: {:#?}", spec.mounts))
    }

    fn ns_types(spec: &Spec) -> Vec<(NamespaceType, Option<String>)> {
        linux(spec)
            .namespaces
            .iter()
            .map(|n| (n.typ, n.path.clone()))
            .collect()
    }

    fn caps(spec: &Spec) -> Vec<String> {
        let c = process(spec).capabilities.as_ref().unwrap();
        assert_eq!(c.bounding, c.effective);
        assert_eq!(c.bounding, c.permitted);
        assert_eq!(c.inheritable, None);
        c.bounding.clone().unwrap()
    }

    // ---- merge ----

    fn image(f: impl FnOnce(&mut ImageContainerConfig)) -> ImageConfig {
        let mut c = ImageContainerConfig::default();
        f(&mut c);
        ImageConfig {
            config: Some(c),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn merge_env_labels_ports_volumes() {
        let img = image(|c| {
            c.env = Some(s(&["PATH=/img/bin", "LANG=C", "A=image"]));
            c.labels = Some([("a".to_string(), "img".to_string()), ("b".into(), "img".into())].into());
            c.exposed_ports = Some([("80/tcp".to_string(), EmptyObject)].into());
            c.volumes = Some([("/data".to_string(), EmptyObject)].into());
            c.user = Some("app".into());
            c.working_dir = Some("/srv".into());
            c.stop_signal = Some("SIGQUIT".into());
            c.on_build = Some(s(&["RUN x"]));
        });
        let mut cfg = ContainerConfig {
            env: Some(s(&["A=mine", "B=1"])),
            labels: Some([("a".to_string(), "mine".to_string())].into()),
            exposed_ports: Some([("443/tcp".to_string(), HashMap::new())].into()),
            volumes: Some([("/logs".to_string(), HashMap::new())].into()),
            ..ContainerConfig::default()
        };
        merge_image_config(&mut cfg, &img);
        // The container's entries first, then the image's other keys.
        assert_eq!(cfg.env.unwrap(), s(&["A=mine", "B=1", "PATH=/img/bin", "LANG=C"]));
        let labels = cfg.labels.unwrap();
        assert_eq!(labels["a"], "mine");
        assert_eq!(labels["b"], "img");
        let mut ports: Vec<_> = cfg.exposed_ports.unwrap().into_keys().collect();
        ports.sort();
        assert_eq!(ports, s(&["443/tcp", "80/tcp"]));
        let mut vols: Vec<_> = cfg.volumes.unwrap().into_keys().collect();
        vols.sort();
        assert_eq!(vols, s(&["/data", "/logs"]));
        assert_eq!(cfg.user.as_deref(), Some("app"));
        assert_eq!(cfg.working_dir.as_deref(), Some("/srv"));
        assert_eq!(cfg.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(cfg.on_build, None);

        // Empty container values take the image's; the container's own win.
        let mut cfg = ContainerConfig {
            user: Some("1:1".into()),
            env: Some(vec![]),
            working_dir: Some("/w".into()),
            ..ContainerConfig::default()
        };
        merge_image_config(&mut cfg, &img);
        assert_eq!(cfg.env.unwrap(), s(&["PATH=/img/bin", "LANG=C", "A=image"]));
        assert_eq!(cfg.user.as_deref(), Some("1:1"));
        assert_eq!(cfg.working_dir.as_deref(), Some("/w"));
        assert_eq!(cfg.labels.unwrap().len(), 2);

        // Without an image config: labels become an empty map, as dockerd's.
        let mut cfg = ContainerConfig::default();
        merge_image_config(&mut cfg, &ImageConfig::default());
        assert_eq!(cfg.labels, None);
        merge_image_config(&mut cfg, &image(|_| {}));
        assert_eq!(cfg.labels, Some(HashMap::new()));
    }

    #[test]
    fn merge_entrypoint_and_cmd() {
        let img = image(|c| {
            c.entrypoint = Some(s(&["/entry"]));
            c.cmd = Some(s(&["serve"]));
        });
        let run = |entrypoint: Option<Vec<String>>, cmd: Option<Vec<String>>| {
            let mut cfg = ContainerConfig {
                entrypoint,
                cmd,
                ..ContainerConfig::default()
            };
            merge_image_config(&mut cfg, &img);
            (cfg.entrypoint, cfg.cmd)
        };
        // Nothing set: both from the image.
        assert_eq!(run(None, None), (Some(s(&["/entry"])), Some(s(&["serve"]))));
        // A command: the image's entrypoint runs it.
        assert_eq!(
            run(None, Some(s(&["ls"]))),
            (Some(s(&["/entry"])), Some(s(&["ls"])))
        );
        // An entrypoint: the image's command is not used.
        assert_eq!(run(Some(s(&["/bin/sh"])), None), (Some(s(&["/bin/sh"])), None));
        // `[]` is not `null`: the image's entrypoint is dropped, its command kept.
        assert_eq!(run(Some(vec![]), None), (Some(vec![]), Some(s(&["serve"]))));
        // `--entrypoint ""`: cleared, and nothing of the image's is used.
        assert_eq!(run(Some(s(&[""])), None), (None, None));
        assert_eq!(run(Some(s(&[""])), Some(s(&["ls"]))), (None, Some(s(&["ls"]))));

        let none = ContainerConfig::default();
        let e = check_command(&none).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (Kind::InvalidParameter, "No command specified")
        );
        assert!(check_command(&sh()).is_ok());
    }

    #[test]
    fn merge_healthcheck() {
        let img = image(|c| {
            c.healthcheck = Some(ImageHealth {
                test: Some(s(&["CMD", "check"])),
                interval: 30_000_000_000,
                timeout: 5_000_000_000,
                retries: 3,
                ..ImageHealth::default()
            })
        });
        let mut cfg = ContainerConfig::default();
        merge_image_config(&mut cfg, &img);
        let hc = cfg.healthcheck.unwrap();
        assert_eq!(hc.test, Some(s(&["CMD", "check"])));
        assert_eq!(hc.interval, Some(30_000_000_000));
        assert_eq!(hc.start_period, None);

        let mut cfg = ContainerConfig {
            healthcheck: Some(HealthConfig {
                interval: Some(1_000_000_000),
                ..HealthConfig::default()
            }),
            ..ContainerConfig::default()
        };
        merge_image_config(&mut cfg, &img);
        let hc = cfg.healthcheck.unwrap();
        assert_eq!(hc.test, Some(s(&["CMD", "check"])));
        assert_eq!(hc.interval, Some(1_000_000_000));
        assert_eq!(hc.timeout, Some(5_000_000_000));
        assert_eq!(hc.retries, Some(3));

        // NONE disables the image's check and is kept as is.
        let mut cfg = ContainerConfig {
            healthcheck: Some(HealthConfig {
                test: Some(s(&["NONE"])),
                ..HealthConfig::default()
            }),
            ..ContainerConfig::default()
        };
        merge_image_config(&mut cfg, &img);
        assert_eq!(cfg.healthcheck.unwrap().test, Some(s(&["NONE"])));
    }

    #[test]
    fn environment() {
        let mut cfg = sh();
        assert_eq!(
            process_env(&cfg),
            s(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=c0ffee"])
        );
        cfg.tty = Some(true);
        cfg.env = Some(s(&["PATH=/bin", "HOSTNAME", "A=1", "A=2", "TERM=dumb"]));
        assert_eq!(process_env(&cfg), s(&["PATH=/bin", "TERM=dumb", "A=1", "A=2"]));
    }

    // ---- create-time checks ----

    fn prepare(cfg: &mut ContainerConfig, host: &mut HostConfig) -> Result<Vec<String>> {
        prepare_create_on(&test_host(), cfg, host)
    }

    fn prepare_err(cfg: &ContainerConfig, host: &HostConfig) -> String {
        let e = prepare(&mut cfg.clone(), &mut host.clone()).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidParameter, "{}", e.message);
        e.message
    }

    #[test]
    fn create_defaults() {
        let mut cfg = sh();
        let mut host = HostConfig {
            memory: Some(128 << 20),
            pids_limit: Some(-1),
            ..HostConfig::default()
        };
        assert_eq!(prepare(&mut cfg, &mut host).unwrap(), Vec::<String>::new());
        assert_eq!(host.memory_swap, Some(256 << 20));
        assert_eq!(host.shm_size, Some(DEFAULT_SHM_SIZE));
        assert_eq!(host.ipc_mode.as_deref(), Some("private"));
        assert_eq!(host.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::HOST));
        assert_eq!(host.oom_kill_disable, Some(false));
        assert_eq!(host.pids_limit, None);
        assert_eq!(host.masked_paths.as_ref().unwrap().len(), 11);
        assert_eq!(host.readonly_paths.as_ref().unwrap()[3], "/proc/sys");

        let mut v2 = test_host();
        v2.cgroup_unified = true;
        let mut host = HostConfig {
            privileged: Some(true),
            ..HostConfig::default()
        };
        prepare_create_on(&v2, &mut sh(), &mut host).unwrap();
        assert_eq!(host.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::PRIVATE));
        assert_eq!(host.masked_paths, None);
        assert_eq!(host.readonly_paths, None);
    }

    #[test]
    fn create_resource_errors() {
        let cfg = sh();
        let err = |host: HostConfig| prepare_err(&cfg, &host);
        assert_eq!(
            err(HostConfig {
                memory: Some(1 << 20),
                ..HostConfig::default()
            }),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            err(HostConfig {
                memory: Some(64 << 20),
                memory_swap: Some(32 << 20),
                ..HostConfig::default()
            }),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        assert_eq!(
            err(HostConfig {
                memory_swap: Some(32 << 20),
                ..HostConfig::default()
            }),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        assert_eq!(
            err(HostConfig {
                memory_swappiness: Some(101),
                ..HostConfig::default()
            }),
            "Invalid value: 101, valid memory swappiness range is 0-100"
        );
        assert_eq!(
            err(HostConfig {
                memory: Some(64 << 20),
                memory_reservation: Some(128 << 20),
                ..HostConfig::default()
            }),
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        );
        assert_eq!(
            err(HostConfig {
                nano_cpus: Some(1_000_000_000),
                cpu_period: Some(100_000),
                ..HostConfig::default()
            }),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        );
        assert_eq!(
            err(HostConfig {
                nano_cpus: Some(1_000_000_000),
                cpu_quota: Some(50_000),
                ..HostConfig::default()
            }),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        assert_eq!(
            err(HostConfig {
                nano_cpus: Some(5_000_000_000),
                ..HostConfig::default()
            }),
            "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"
        );
        assert_eq!(
            err(HostConfig {
                cpu_period: Some(999),
                ..HostConfig::default()
            }),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        );
        assert_eq!(
            err(HostConfig {
                cpu_quota: Some(999),
                ..HostConfig::default()
            }),
            "CPU cfs quota can not be less than 1ms (i.e. 1000)"
        );
        assert_eq!(
            err(HostConfig {
                cpuset_cpus: Some("4".into()),
                ..HostConfig::default()
            }),
            "Requested CPUs are not available - requested 4, available: 0-3"
        );
        assert_eq!(
            err(HostConfig {
                cpuset_cpus: Some("1-x".into()),
                ..HostConfig::default()
            }),
            "Invalid value 1-x for cpuset cpus: invalid format: 1-x"
        );
        assert_eq!(
            err(HostConfig {
                cpuset_mems: Some("1".into()),
                ..HostConfig::default()
            }),
            "Requested memory nodes are not available - requested 1, available: 0"
        );
        assert_eq!(
            err(HostConfig {
                blkio_weight: Some(5),
                ..HostConfig::default()
            }),
            "Range of blkio weight is from 10 to 1000"
        );
        assert_eq!(
            err(HostConfig {
                io_maximum_iops: Some(5),
                ..HostConfig::default()
            }),
            "Invalid QoS settings: linux does not support configuration of maximum IOPs"
        );
        assert_eq!(
            err(HostConfig {
                shm_size: Some(-1),
                ..HostConfig::default()
            }),
            "SHM size can not be less than 0"
        );
        assert_eq!(
            err(HostConfig {
                oom_score_adj: Some(1001),
                ..HostConfig::default()
            }),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
        assert_eq!(
            err(HostConfig {
                cpu_realtime_period: Some(1000),
                cpu_realtime_runtime: Some(2000),
                ..HostConfig::default()
            }),
            "cpu real-time runtime cannot be higher than cpu real-time period"
        );
    }

    #[test]
    fn create_warnings_drop_what_the_host_cannot_do() {
        let mut h = test_host();
        h.cg = CgroupSupport {
            memory: true,
            cpu_cfs: true,
            ..CgroupSupport::default()
        };
        let mut host = HostConfig {
            memory: Some(64 << 20),
            memory_swappiness: Some(10),
            oom_kill_disable: Some(true),
            pids_limit: Some(10),
            cpu_shares: Some(512),
            blkio_weight: Some(300),
            cpu_percent: Some(50),
            blkio_device_read_bps: Some(vec![Default::default()]),
            ..HostConfig::default()
        };
        let w = prepare_create_on(&h, &mut sh(), &mut host).unwrap();
        assert_eq!(
            w,
            s(&[
                "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
                "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
                "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
                "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
                "linux does not support CPU percent. Percent discarded.",
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
                "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
            ])
        );
        assert_eq!(host.memory_swap, Some(-1));
        assert_eq!(host.memory_swappiness, None);
        assert_eq!(host.oom_kill_disable, Some(false));
        assert_eq!(host.pids_limit, None);
        assert_eq!(host.cpu_shares, Some(0));
        assert_eq!(host.blkio_device_read_bps, Some(vec![]));

        let mut host = HostConfig {
            oom_kill_disable: Some(true),
            ..HostConfig::default()
        };
        let w = prepare(&mut sh(), &mut host).unwrap();
        assert_eq!(w, s(&["OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."]));
    }

    #[test]
    fn create_config_checks() {
        let host = HostConfig::default();
        let with = |f: fn(&mut ContainerConfig)| {
            let mut c = sh();
            f(&mut c);
            c
        };
        assert_eq!(
            prepare_err(&with(|c| c.working_dir = Some("srv".into())), &host),
            "the working directory 'srv' is invalid, it needs to be an absolute path"
        );
        let mut c = with(|c| c.working_dir = Some("/srv/../app/".into()));
        prepare(&mut c, &mut host.clone()).unwrap();
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(
            prepare_err(&with(|c| c.env = Some(s(&["=x"]))), &host),
            "invalid environment variable: =x"
        );
        assert_eq!(
            prepare_err(&with(|c| c.stop_signal = Some("SIGNOPE".into())), &host),
            "Invalid signal: SIGNOPE"
        );
        assert_eq!(
            prepare_err(
                &with(|c| {
                    c.healthcheck = Some(HealthConfig {
                        interval: Some(1000),
                        ..HealthConfig::default()
                    })
                }),
                &host
            ),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        assert_eq!(
            prepare_err(
                &with(|c| {
                    c.healthcheck = Some(HealthConfig {
                        retries: Some(-1),
                        ..HealthConfig::default()
                    })
                }),
                &host
            ),
            "Retries in Healthcheck cannot be negative"
        );
    }

    #[test]
    fn create_host_checks() {
        let cfg = sh();
        let err = |host: HostConfig| prepare_err(&cfg, &host);
        let net = |m: &str| HostConfig {
            network_mode: Some(m.into()),
            ..HostConfig::default()
        };
        assert_eq!(
            err(net("container:")),
            "Invalid network mode: invalid container format container:<name|id>"
        );
        assert_eq!(
            err(net("container:db")),
            "conflicting options: hostname and the network mode"
        );
        let no_hostname = ContainerConfig {
            exposed_ports: Some([("80/tcp".to_string(), HashMap::new())].into()),
            ..ContainerConfig::default()
        };
        assert_eq!(
            prepare_err(&no_hostname, &net("container:db")),
            "conflicting options: port exposing and the container type network mode"
        );
        assert!(prepare(&mut ContainerConfig::default(), &mut net("container:db")).is_ok());
        assert_eq!(
            err(HostConfig {
                uts_mode: Some("host".into()),
                ..HostConfig::default()
            }),
            "conflicting options: hostname and the UTS mode"
        );
        assert_eq!(
            err(HostConfig {
                ipc_mode: Some("bogus".into()),
                ..HostConfig::default()
            }),
            "invalid IPC mode: bogus"
        );
        assert_eq!(
            err(HostConfig {
                pid_mode: Some("container:".into()),
                ..HostConfig::default()
            }),
            "invalid PID mode: container:"
        );
        assert_eq!(
            err(HostConfig {
                cap_add: Some(s(&["foo"])),
                ..HostConfig::default()
            }),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        assert_eq!(
            err(HostConfig {
                cap_drop: Some(s(&["sys_resource"])),
                ..HostConfig::default()
            }),
            "invalid CapDrop: capability not supported by your kernel or not available in the current environment: \"CAP_SYS_RESOURCE\""
        );
        assert_eq!(
            err(HostConfig {
                extra_hosts: Some(s(&["db:10.0.0.300"])),
                ..HostConfig::default()
            }),
            "invalid IP address in add-host: \"10.0.0.300\""
        );
        assert_eq!(
            err(HostConfig {
                extra_hosts: Some(s(&["db"])),
                ..HostConfig::default()
            }),
            "bad format for add-host: \"db\""
        );
        let mut ok = HostConfig {
            extra_hosts: Some(s(&["db:10.0.0.3", "gw=host-gateway", "v6:[::1]", "v6b:::1"])),
            ..HostConfig::default()
        };
        prepare(&mut sh(), &mut ok).unwrap();
        assert_eq!(
            err(HostConfig {
                isolation: Some(HostConfigIsolationEnum::HYPERV),
                ..HostConfig::default()
            }),
            "Invalid isolation: \"hyperv\" - linux only supports 'default'"
        );
        assert_eq!(
            err(HostConfig {
                annotations: Some([(String::new(), "x".to_string())].into()),
                ..HostConfig::default()
            }),
            "invalid Annotations: the empty string is not permitted as an annotation key"
        );
        assert_eq!(
            err(HostConfig {
                tmpfs: Some([("/".to_string(), String::new())].into()),
                ..HostConfig::default()
            }),
            "invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(HostConfig {
                security_opt: Some(s(&["seccomp"])),
                ..HostConfig::default()
            }),
            "invalid --security-opt 1: \"seccomp\""
        );
        assert_eq!(
            err(HostConfig {
                security_opt: Some(s(&["foo=bar"])),
                ..HostConfig::default()
            }),
            "invalid --security-opt 2: \"foo=bar\""
        );
    }

    #[test]
    fn create_mount_errors() {
        let cfg = sh();
        let binds = |b: &[&str]| HostConfig {
            binds: Some(s(b)),
            ..HostConfig::default()
        };
        let mounts = |m: ApiMount| HostConfig {
            mounts: Some(vec![m]),
            ..HostConfig::default()
        };
        let err = |host: HostConfig| prepare_err(&cfg, &host);
        assert_eq!(
            err(binds(&["/foo:rw"])),
            "invalid volume specification: '/foo:rw'"
        );
        assert_eq!(err(binds(&[":/x"])), "invalid volume specification: ':/x'");
        assert_eq!(
            err(binds(&["/a:/b:c:d"])),
            "invalid volume specification: '/a:/b:c:d'"
        );
        assert_eq!(err(binds(&["/a:/b:ro,rw"])), "invalid mode: ro,rw");
        assert_eq!(
            err(binds(&["/a:b"])),
            "invalid volume specification: '/a:b': invalid mount config for type \"bind\": invalid mount path: 'b' mount path must be absolute"
        );
        assert_eq!(
            err(binds(&["data:/"])),
            "invalid volume specification: 'data:/': invalid mount config for type \"volume\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(binds(&["data:/d:rshared"])),
            "invalid volume specification: 'data:/d:rshared': invalid mount config for type \"volume\": field BindOptions must not be specified"
        );
        assert_eq!(err(binds(&["/a:/d", "/b:/d/"])), "Duplicate mount point: /d");
        assert_eq!(
            err(HostConfig {
                binds: Some(s(&["/a:/run"])),
                tmpfs: Some([("/run".to_string(), String::new())].into()),
                ..HostConfig::default()
            }),
            "Duplicate mount point: /run"
        );
        let bind = |src: &str, dst: &str| ApiMount {
            typ: Some(MountTypeEnum::BIND),
            source: Some(src.into()),
            target: Some(dst.into()),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(bind("/nonexistent/berth-test", "/x"))),
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-test"
        );
        let mut create = bind("/nonexistent/berth-test", "/x");
        create.bind_options = Some(MountBindOptions {
            create_mountpoint: Some(true),
            ..MountBindOptions::default()
        });
        assert!(prepare(&mut sh(), &mut mounts(create)).is_ok());
        assert_eq!(
            err(mounts(bind("", "/x"))),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            err(mounts(bind("/tmp", ""))),
            "invalid mount config for type \"bind\": field Target must not be empty"
        );
        assert_eq!(
            err(mounts(bind("tmp", "/x"))),
            "invalid mount config for type \"bind\": invalid mount path: 'tmp' mount path must be absolute"
        );
        assert_eq!(
            err(HostConfig {
                binds: Some(s(&["/tmp:/x"])),
                mounts: Some(vec![bind("/tmp", "/x")]),
                ..HostConfig::default()
            }),
            "Duplicate mount point: /x"
        );
        let anon_ro = ApiMount {
            typ: Some(MountTypeEnum::VOLUME),
            target: Some("/x".into()),
            read_only: Some(true),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(anon_ro)),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        let tmpfs_src = ApiMount {
            typ: Some(MountTypeEnum::TMPFS),
            source: Some("x".into()),
            target: Some("/x".into()),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(tmpfs_src)),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let tmpfs_opt = ApiMount {
            typ: Some(MountTypeEnum::TMPFS),
            target: Some("/x".into()),
            tmpfs_options: Some(MountTmpfsOptions {
                options: Some(vec![s(&["suid"])]),
                ..MountTmpfsOptions::default()
            }),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(tmpfs_opt)),
            "invalid mount config for type \"tmpfs\": invalid option: suid"
        );
        let npipe = ApiMount {
            typ: Some(MountTypeEnum::NPIPE),
            target: Some("/x".into()),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(npipe)),
            "invalid mount config for type \"npipe\": mount type unknown"
        );
        let subpath = ApiMount {
            typ: Some(MountTypeEnum::VOLUME),
            source: Some("data".into()),
            target: Some("/x".into()),
            volume_options: Some(bollard_stubs::models::MountVolumeOptions {
                subpath: Some("../up".into()),
                ..Default::default()
            }),
            ..ApiMount::default()
        };
        assert_eq!(
            err(mounts(subpath)),
            "invalid mount config for type \"volume\": subpath must be a relative path within the volume"
        );
    }

    // ---- the spec ----

    #[test]
    fn spec_defaults() {
        let b = Bundle::new();
        let spec = b.build(&test_host(), &sh(), &HostConfig::default()).unwrap();
        assert_eq!(spec.oci_version, berth_oci::OCI_VERSION);
        let p = process(&spec);
        assert_eq!(p.args, s(&["sh", "-c", "true"]));
        assert_eq!(p.env, s(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=c0ffee"]));
        assert_eq!(p.cwd, "/");
        assert!(!p.terminal);
        assert!(!p.no_new_privileges);
        assert_eq!(p.oom_score_adj, Some(0));
        assert_eq!((p.user.uid, p.user.gid), (0, 0));
        assert_eq!(p.user.additional_gids, vec![0, 0, 10]);
        assert_eq!(caps(&spec), s(&DEFAULT_CAPS));
        // The default open-files limit, capped at berthd's hard limit.
        assert_eq!(
            p.rlimits,
            vec![Rlimit {
                typ: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 20000
            }]
        );
        let root = spec.root.as_ref().unwrap();
        assert_eq!(root.path, b.rootfs().to_string_lossy());
        assert!(!root.readonly);
        assert_eq!(spec.hostname.as_deref(), Some("c0ffee"));

        let dests: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts"
            ]
        );
        assert_eq!(
            mount(&spec, "/dev/shm").options,
            s(&["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"])
        );
        let hosts = mount(&spec, "/etc/hosts");
        assert_eq!(hosts.typ.as_deref(), Some("bind"));
        assert_eq!(
            hosts.source.as_deref(),
            Some(&*b.dir.path().join("hosts").to_string_lossy())
        );
        assert_eq!(hosts.options, s(&["rbind", "rprivate"]));

        let l = linux(&spec);
        assert_eq!(
            ns_types(&spec),
            vec![
                (NamespaceType::Mount, None),
                (NamespaceType::Network, None),
                (NamespaceType::Uts, None),
                (NamespaceType::Pid, None),
                (NamespaceType::Ipc, None),
            ]
        );
        assert_eq!(l.cgroups_path.as_deref(), Some("/berth/c0ffee"));
        assert_eq!(l.masked_paths, s(&DEFAULT_MASKED_PATHS));
        assert_eq!(l.readonly_paths, s(&DEFAULT_READONLY_PATHS));
        assert!(l.devices.is_empty());
        assert_eq!(l.seccomp, None);
        assert_eq!(l.rootfs_propagation, None);
        assert_eq!(
            l.sysctl,
            [
                ("net.ipv4.ip_unprivileged_port_start".to_string(), "0".to_string()),
                (
                    "net.ipv4.ping_group_range".to_string(),
                    "0 2147483647".to_string()
                ),
            ]
            .into()
        );
        let r = l.resources.as_ref().unwrap();
        assert_eq!(r.devices, default_device_rules());
        assert!(!r.devices[0].allow);
        assert_eq!(r.devices[7].minor, Some(229));
        assert_eq!(
            r.memory,
            Some(Memory {
                disable_oom_killer: Some(false),
                ..Memory::default()
            })
        );
        assert_eq!(r.cpu, None);
        assert_eq!(r.pids, None);
        assert_eq!(r.block_io, Some(BlockIo::default()));

        // The JSON the runtime reads.
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["linux"]["resources"]["blockIO"], serde_json::json!({}));
        assert_eq!(json["process"]["capabilities"]["bounding"][0], "CAP_CHOWN");
    }

    #[test]
    fn spec_errors_are_system_errors() {
        let b = Bundle::new();
        let e = b
            .build(&test_host(), &ContainerConfig::default(), &HostConfig::default())
            .unwrap_err();
        assert_eq!(e.message, "No command specified");
        // build() turns every error into a 500, as dockerd's start.
        let rootfs = b.rootfs();
        let pid = |_: &str| -> Result<u32> { Ok(1) };
        let vol = |_: Option<&str>, _: &str| -> Result<PathBuf> { Ok(PathBuf::from("/")) };
        let cfg = ContainerConfig::default();
        let host = HostConfig::default();
        let input = SpecInput {
            id: "c0ffee",
            config: &cfg,
            host: &host,
            rootfs: &rootfs,
            hostname_file: Path::new("/nonexistent"),
            hosts_file: Path::new("/nonexistent"),
            resolv_file: Path::new("/nonexistent"),
            cgroups_path: "/berth/c0ffee".into(),
            init_binary: None,
            container_pid: &pid,
            volume_path: &vol,
            user: ResolvedUser::default(),
        };
        let e = build(&input).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (Kind::System, "No command specified")
        );
        assert!(format!("{input:?}").contains("c0ffee"));
    }

    #[test]
    fn spec_process_options() {
        let b = Bundle::new();
        let mut cfg = sh();
        cfg.entrypoint = Some(s(&["/entry", "-v"]));
        cfg.tty = Some(true);
        cfg.working_dir = Some("/srv".into());
        cfg.user = Some("app".into());
        cfg.domainname = Some("example.org".into());
        let host = HostConfig {
            console_size: Some(vec![40, 120]),
            security_opt: Some(s(&["no-new-privileges", "label=disable", "apparmor=x"])),
            oom_score_adj: Some(-500),
            group_add: Some(s(&["staff"])),
            annotations: Some([("org.example".to_string(), "1".to_string())].into()),
            cgroup_parent: Some("/mine".into()),
            ..HostConfig::default()
        };
        let init = b.dir.path().join("berth-init");
        let spec = b.build_with(&test_host(), &cfg, &host, Some(&init)).unwrap();
        let p = process(&spec);
        assert_eq!(p.args, s(&[INIT_PATH, "--", "/entry", "-v", "sh", "-c", "true"]));
        assert!(p.terminal);
        assert_eq!(
            p.console_size,
            Some(ConsoleSize {
                height: 40,
                width: 120
            })
        );
        assert_eq!(p.cwd, "/srv");
        assert!(p.env.contains(&"TERM=xterm".to_string()));
        assert!(p.no_new_privileges);
        assert_eq!(p.oom_score_adj, Some(-500));
        assert_eq!((p.user.uid, p.user.gid), (1000, 1000));
        assert_eq!(p.user.additional_gids, vec![1000, 10, 50]);
        let m = mount(&spec, INIT_PATH);
        assert_eq!(m.source.as_deref(), Some(&*init.to_string_lossy()));
        assert_eq!(m.options, s(&["bind", "ro"]));
        assert_eq!(linux(&spec).sysctl["kernel.domainname"], "example.org");
        assert_eq!(spec.annotations["org.example"], "1");
        assert_eq!(linux(&spec).cgroups_path.as_deref(), Some("/mine/c0ffee"));

        // No init outside a private PID namespace.
        let host = HostConfig {
            pid_mode: Some("host".into()),
            ..HostConfig::default()
        };
        let spec = b.build_with(&test_host(), &sh(), &host, Some(&init)).unwrap();
        assert_eq!(process(&spec).args, s(&["sh", "-c", "true"]));
        assert!(!spec.mounts.iter().any(|m| m.destination == INIT_PATH));
    }

    #[test]
    fn spec_resources() {
        let b = Bundle::new();
        let mut host = HostConfig {
            memory: Some(128 << 20),
            memory_reservation: Some(64 << 20),
            memory_swappiness: Some(10),
            oom_kill_disable: Some(true),
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1".into()),
            cpuset_mems: Some("0".into()),
            pids_limit: Some(100),
            blkio_weight: Some(300),
            blkio_weight_device: Some(vec![ResourcesBlkioWeightDevice {
                path: Some("/dev/null".into()),
                weight: Some(200),
            }]),
            blkio_device_read_bps: Some(vec![bollard_stubs::models::ThrottleDevice {
                path: Some("/dev/null".into()),
                rate: Some(1 << 20),
            }]),
            blkio_device_write_iops: Some(vec![bollard_stubs::models::ThrottleDevice {
                path: Some("/dev/zero".into()),
                rate: Some(100),
            }]),
            ..HostConfig::default()
        };
        prepare(&mut sh(), &mut host).unwrap();
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let r = linux(&spec).resources.clone().unwrap();
        assert_eq!(
            r.memory.unwrap(),
            Memory {
                limit: Some(128 << 20),
                reservation: Some(64 << 20),
                swap: Some(256 << 20),
                swappiness: Some(10),
                disable_oom_killer: Some(true),
                ..Memory::default()
            }
        );
        assert_eq!(
            r.cpu.unwrap(),
            Cpu {
                shares: Some(512),
                quota: Some(150_000),
                period: Some(100_000),
                cpus: Some("0-1".into()),
                mems: Some("0".into()),
                ..Cpu::default()
            }
        );
        assert_eq!(r.pids, Some(Pids { limit: 100 }));
        let bio = r.block_io.unwrap();
        assert_eq!(bio.weight, Some(300));
        assert_eq!(
            bio.weight_device,
            vec![WeightDevice {
                major: 1,
                minor: 3,
                weight: Some(200),
                leaf_weight: None
            }]
        );
        assert_eq!(
            bio.throttle_read_bps_device,
            vec![ThrottleDevice {
                major: 1,
                minor: 3,
                rate: 1 << 20
            }]
        );
        assert_eq!(
            bio.throttle_write_iops_device,
            vec![ThrottleDevice {
                major: 1,
                minor: 5,
                rate: 100
            }]
        );

        // Period and quota given directly; swap -1 is unlimited (no swap entry).
        let host = HostConfig {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            cpu_period: Some(50_000),
            cpu_quota: Some(25_000),
            ..HostConfig::default()
        };
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let r = linux(&spec).resources.clone().unwrap();
        assert_eq!(r.memory.unwrap().swap, None);
        let cpu = r.cpu.unwrap();
        assert_eq!((cpu.period, cpu.quota), (Some(50_000), Some(25_000)));

        let host = HostConfig {
            blkio_device_read_iops: Some(vec![bollard_stubs::models::ThrottleDevice {
                path: Some("/dev/berth-nonexistent".into()),
                rate: Some(1),
            }]),
            ..HostConfig::default()
        };
        let e = b.build(&test_host(), &sh(), &host).unwrap_err();
        assert_eq!(
            e.message,
            "stat /dev/berth-nonexistent: no such file or directory"
        );
        let host = HostConfig {
            cpu_shares: Some(-1),
            ..HostConfig::default()
        };
        let e = b.build(&test_host(), &sh(), &host).unwrap_err();
        assert_eq!(e.message, "shares: invalid argument");
    }

    #[test]
    fn spec_capabilities() {
        let b = Bundle::new();
        let h = test_host();
        let build = |add: &[&str], drop: &[&str], privileged: bool| {
            let host = HostConfig {
                cap_add: Some(s(add)),
                cap_drop: Some(s(drop)),
                privileged: Some(privileged),
                ..HostConfig::default()
            };
            b.build(&h, &sh(), &host).map(|spec| caps(&spec))
        };
        let got = build(
            &["net_admin", "CAP_SYS_PTRACE", "chown"],
            &["Chown", "mknod"],
            false,
        )
        .unwrap();
        let mut want: Vec<String> = DEFAULT_CAPS
            .iter()
            .filter(|c| !["CAP_CHOWN", "CAP_MKNOD"].contains(c))
            .map(|c| c.to_string())
            .collect();
        want.extend(s(&["CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_CHOWN"]));
        assert_eq!(got, want);
        let all = build(&["all"], &["NET_RAW"], false).unwrap();
        assert_eq!(all.len(), h.caps.len() - 1);
        assert!(!all.contains(&"CAP_NET_RAW".to_string()));
        assert!(!all.contains(&"CAP_SYS_RESOURCE".to_string()));
        assert_eq!(build(&["KILL"], &["ALL"], false).unwrap(), s(&["CAP_KILL"]));
        assert_eq!(build(&[], &["ALL"], false).unwrap(), Vec::<String>::new());
        let privileged = build(&[], &["ALL"], true).unwrap();
        assert_eq!(
            privileged,
            h.caps.iter().map(|c| c.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(
            build(&["bogus"], &[], false).unwrap_err().message,
            "unknown capability: \"CAP_BOGUS\""
        );
        // Without knowing berthd's own set, every known capability counts.
        assert_eq!(
            tweak_caps(&s(&["SYS_RESOURCE"]), &[], false, &[])
                .unwrap()
                .last()
                .unwrap(),
            "CAP_SYS_RESOURCE"
        );
    }

    #[test]
    fn spec_privileged() {
        let b = Bundle::new();
        let host = HostConfig {
            privileged: Some(true),
            devices: Some(vec![DeviceMapping {
                path_on_host: Some("/dev/null".into()),
                path_in_container: Some("/dev/null".into()),
                cgroup_permissions: Some("r".into()),
            }]),
            ..HostConfig::default()
        };
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let l = linux(&spec);
        assert!(l.masked_paths.is_empty() && l.readonly_paths.is_empty());
        assert_eq!(mount(&spec, "/sys").options, s(&["nosuid", "noexec", "nodev"]));
        assert_eq!(
            mount(&spec, "/sys/fs/cgroup").options,
            s(&["nosuid", "noexec", "nodev"])
        );
        assert_eq!(
            l.resources.as_ref().unwrap().devices,
            vec![DeviceCgroup {
                allow: true,
                access: Some("rwm".into()),
                ..DeviceCgroup::default()
            }]
        );
        let null = l
            .devices
            .iter()
            .find(|d| d.path == "/dev/null")
            .expect("host /dev/null");
        assert_eq!((null.typ.as_str(), null.major, null.minor), ("c", 1, 3));
        assert_eq!(l.devices.iter().filter(|d| d.path == "/dev/null").count(), 1);
        assert!(!l.devices.iter().any(|d| d.path.starts_with("/dev/pts/")));
    }

    #[test]
    fn spec_devices() {
        let b = Bundle::new();
        let host = HostConfig {
            devices: Some(vec![
                DeviceMapping {
                    path_on_host: Some("/dev/null".into()),
                    path_in_container: Some("/dev/mynull".into()),
                    cgroup_permissions: Some("rw".into()),
                },
                DeviceMapping {
                    path_on_host: Some("/dev/zero".into()),
                    ..DeviceMapping::default()
                },
            ]),
            device_cgroup_rules: Some(s(&["c 42:* rmw", "b *:* m"])),
            ..HostConfig::default()
        };
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let l = linux(&spec);
        let null = &l.devices[0];
        assert_eq!(
            (null.typ.as_str(), null.path.as_str(), null.major, null.minor),
            ("c", "/dev/mynull", 1, 3)
        );
        let md = std::fs::metadata("/dev/null").unwrap();
        assert_eq!(null.file_mode, Some(md.mode() & 0o7777));
        assert_eq!((null.uid, null.gid), (Some(md.uid()), Some(md.gid())));
        assert_eq!(l.devices[1].path, "/dev/zero");
        let rules = &l.resources.as_ref().unwrap().devices;
        assert_eq!(rules.len(), 8 + 4);
        assert_eq!(
            rules[8],
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(1),
                minor: Some(3),
                access: Some("rw".into())
            }
        );
        assert_eq!(rules[9].access.as_deref(), Some("rwm"));
        assert_eq!((rules[10].major, rules[10].minor), (Some(42), Some(-1)));
        assert_eq!(rules[11].typ.as_deref(), Some("b"));

        let bad = |d: DeviceMapping, rules: &[&str]| {
            let host = HostConfig {
                devices: Some(vec![d]),
                device_cgroup_rules: Some(s(rules)),
                ..HostConfig::default()
            };
            b.build(&test_host(), &sh(), &host).unwrap_err().message
        };
        let missing = DeviceMapping {
            path_on_host: Some("/dev/berth-nonexistent".into()),
            ..DeviceMapping::default()
        };
        assert_eq!(
            bad(missing, &[]),
            "error gathering device information while adding custom device \"/dev/berth-nonexistent\": lstat /dev/berth-nonexistent: no such file or directory"
        );
        let file = DeviceMapping {
            path_on_host: Some(b.dir.path().join("hosts").to_string_lossy().into_owned()),
            ..DeviceMapping::default()
        };
        assert!(bad(file, &[]).ends_with(": not a device node"));
        for rule in ["c 1:3", "x 1:3 r", "c 1:3 rwx", "c a:3 r", "c 1:3  r"] {
            assert_eq!(
                parse_device_rule(rule).unwrap_err().message,
                format!("invalid device cgroup rule format: '{rule}'")
            );
        }
    }

    #[test]
    fn spec_mounts_of_each_kind() {
        let b = Bundle::new();
        let src = b.dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let missing = b.dir.path().join("made-by-binds");
        // Image content under a declared volume is copied into the new (empty) volume.
        let img_vol = b.rootfs().join("vol");
        std::fs::create_dir(&img_vol).unwrap();
        std::fs::write(img_vol.join("seed"), "from the image").unwrap();
        std::fs::create_dir(img_vol.join("sub")).unwrap();
        std::os::unix::fs::symlink("seed", img_vol.join("link")).unwrap();
        std::fs::set_permissions(&img_vol, std::fs::Permissions::from_mode(0o1777)).unwrap();

        let mut cfg = sh();
        cfg.volumes = Some(
            [
                ("/vol".to_string(), HashMap::new()),
                ("/data".to_string(), HashMap::new()),
            ]
            .into(),
        );
        let host = HostConfig {
            binds: Some(vec![
                format!("{}:/src:ro", src.display()),
                format!("{}:/made", missing.display()),
                "named:/data:nocopy".into(),
                "/anon".into(),
            ]),
            mounts: Some(vec![
                ApiMount {
                    typ: Some(MountTypeEnum::BIND),
                    source: Some(src.to_string_lossy().into_owned()),
                    target: Some("/m/nr".into()),
                    read_only: Some(true),
                    bind_options: Some(MountBindOptions {
                        propagation: Some(MountBindOptionsPropagationEnum::PRIVATE),
                        non_recursive: Some(true),
                        read_only_non_recursive: Some(true),
                        ..MountBindOptions::default()
                    }),
                    ..ApiMount::default()
                },
                ApiMount {
                    typ: Some(MountTypeEnum::TMPFS),
                    target: Some("/cache".into()),
                    tmpfs_options: Some(MountTmpfsOptions {
                        size_bytes: Some(64 << 20),
                        mode: Some(0o1770),
                        options: Some(vec![s(&["exec"])]),
                    }),
                    ..ApiMount::default()
                },
                ApiMount {
                    typ: Some(MountTypeEnum::VOLUME),
                    source: Some("ro-vol".into()),
                    target: Some("/ro".into()),
                    read_only: Some(true),
                    ..ApiMount::default()
                },
            ]),
            tmpfs: Some(
                [
                    ("/run".to_string(), "rw,size=65536k".to_string()),
                    ("/tmp".to_string(), String::new()),
                ]
                .into(),
            ),
            ..HostConfig::default()
        };
        prepare(&mut cfg.clone(), &mut host.clone()).unwrap();
        let spec = b.build(&test_host(), &cfg, &host).unwrap();

        let m = mount(&spec, "/src");
        assert_eq!(m.source.as_deref(), Some(&*src.to_string_lossy()));
        assert_eq!(m.typ.as_deref(), Some("bind"));
        assert_eq!(m.options, s(&["rbind", "rro", "rprivate"]));
        assert_eq!(mount(&spec, "/made").options, s(&["rbind", "rprivate"]));
        assert!(missing.is_dir(), "Binds create a missing source");
        let data = mount(&spec, "/data");
        assert_eq!(
            data.source.as_deref(),
            Some(&*b.volumes().join("named").to_string_lossy())
        );
        assert_eq!(data.options, s(&["rbind"]));
        assert_eq!(
            mount(&spec, "/anon").source.as_deref(),
            Some(&*b.volumes().join("anon_anon").to_string_lossy())
        );
        assert_eq!(mount(&spec, "/m/nr").options, s(&["bind", "ro", "private"]));
        assert_eq!(
            mount(&spec, "/cache").options,
            s(&["noexec", "nosuid", "nodev", "rprivate", "mode=1770", "size=64m"])
                .into_iter()
                .filter(|o| o != "noexec")
                .chain(s(&["exec"]))
                .collect::<Vec<_>>()
        );
        assert_eq!(mount(&spec, "/cache").typ.as_deref(), Some("tmpfs"));
        assert_eq!(
            mount(&spec, "/run").options,
            s(&["noexec", "nosuid", "nodev", "rprivate", "rw", "size=65536k"])
        );
        assert_eq!(
            mount(&spec, "/tmp").options,
            s(&["noexec", "nosuid", "nodev", "rprivate"])
        );
        assert_eq!(mount(&spec, "/ro").options, s(&["rbind", "rro"]));
        // The anonymous volume of `Volumes`, filled from the image.
        let vol_dir = b.volumes().join("anon_vol");
        assert_eq!(
            mount(&spec, "/vol").source.as_deref(),
            Some(&*vol_dir.to_string_lossy())
        );
        assert_eq!(
            std::fs::read_to_string(vol_dir.join("seed")).unwrap(),
            "from the image"
        );
        assert!(vol_dir.join("sub").is_dir());
        assert_eq!(
            std::fs::read_link(vol_dir.join("link")).unwrap(),
            Path::new("seed")
        );
        assert_eq!(std::fs::metadata(&vol_dir).unwrap().mode() & 0o7777, 0o1777);
        // `named` was mounted with nocopy and the config's /data is that mount, not a new one.
        assert_eq!(spec.mounts.iter().filter(|m| m.destination == "/data").count(), 1);
        // A second start leaves the volume as it is.
        std::fs::write(vol_dir.join("seed"), "changed").unwrap();
        b.build(&test_host(), &cfg, &host).unwrap();
        assert_eq!(std::fs::read_to_string(vol_dir.join("seed")).unwrap(), "changed");

        // Defaults first, then user mounts by depth.
        let dests: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
        let user = &dests[7..];
        let depths: Vec<usize> = user.iter().map(|d| depth(d)).collect();
        assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{dests:?}");
    }

    #[test]
    fn spec_mount_variants() {
        let b = Bundle::new();
        let build = |host: HostConfig| b.build(&test_host(), &sh(), &host);
        // A read-only root: Docker's defaults (except /proc and /dev ones) and the /etc files ro.
        let spec = build(HostConfig {
            readonly_rootfs: Some(true),
            ..HostConfig::default()
        })
        .unwrap();
        assert!(spec.root.as_ref().unwrap().readonly);
        assert_eq!(mount(&spec, "/proc").options, s(&["nosuid", "noexec", "nodev"]));
        assert_eq!(
            mount(&spec, "/sys").options,
            s(&["nosuid", "noexec", "nodev", "ro"])
        );
        assert_eq!(
            mount(&spec, "/etc/hosts").options,
            s(&["rbind", "rro", "rprivate"])
        );
        // Without mount_setattr, plain ro.
        let mut old = test_host();
        old.rro = false;
        let spec = b
            .build(
                &old,
                &sh(),
                &HostConfig {
                    readonly_rootfs: Some(true),
                    ..HostConfig::default()
                },
            )
            .unwrap();
        assert_eq!(
            mount(&spec, "/etc/hosts").options,
            s(&["rbind", "ro", "rprivate"])
        );

        // A /dev of one's own replaces everything under /dev.
        let spec = build(HostConfig {
            tmpfs: Some([("/dev".to_string(), String::new())].into()),
            ..HostConfig::default()
        })
        .unwrap();
        let devs: Vec<_> = spec
            .mounts
            .iter()
            .filter(|m| m.destination.starts_with("/dev"))
            .collect();
        assert_eq!(devs.len(), 1);
        assert_eq!(devs[0].typ.as_deref(), Some("tmpfs"));

        // IPC modes.
        let spec = build(HostConfig {
            ipc_mode: Some("none".into()),
            shm_size: Some(1 << 20),
            ..HostConfig::default()
        })
        .unwrap();
        assert!(!spec.mounts.iter().any(|m| m.destination == "/dev/shm"));
        let spec = build(HostConfig {
            ipc_mode: Some("shareable".into()),
            shm_size: Some(1 << 20),
            ..HostConfig::default()
        })
        .unwrap();
        assert!(mount(&spec, "/dev/shm")
            .options
            .contains(&"size=1048576".to_string()));
        let spec = build(HostConfig {
            ipc_mode: Some("host".into()),
            ..HostConfig::default()
        })
        .unwrap();
        let shm = mount(&spec, "/dev/shm");
        assert_eq!(shm.source.as_deref(), Some("/dev/shm"));
        assert_eq!(shm.options, s(&["rbind", "rprivate"]));
        assert!(!ns_types(&spec).iter().any(|(t, _)| *t == NamespaceType::Ipc));

        // A mount of one's own at /etc/hosts replaces berth's file.
        let spec = build(HostConfig {
            binds: Some(vec![format!(
                "{}:/etc/hosts:ro",
                b.dir.path().join("resolv.conf").display()
            )]),
            ..HostConfig::default()
        })
        .unwrap();
        let hosts: Vec<_> = spec
            .mounts
            .iter()
            .filter(|m| m.destination == "/etc/hosts")
            .collect();
        assert_eq!(hosts.len(), 1);
        assert!(hosts[0].source.as_deref().unwrap().ends_with("resolv.conf"));

        // Errors found at start.
        let e = build(HostConfig {
            tmpfs: Some([("/x".to_string(), "size=1m,bogus".to_string())].into()),
            ..HostConfig::default()
        })
        .unwrap_err();
        assert_eq!(e.message, "invalid tmpfs option [\"bogus\"]");
        std::fs::write(b.rootfs().join("file"), "x").unwrap();
        let e = build(HostConfig {
            binds: Some(s(&["/file"])),
            ..HostConfig::default()
        })
        .unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "cannot mount volume over existing file, file exists {}",
                b.rootfs().join("file").display()
            )
        );
        let e = build(HostConfig {
            mounts: Some(vec![ApiMount {
                typ: Some(MountTypeEnum::BIND),
                source: Some("/dev".into()),
                target: Some("/x".into()),
                bind_options: Some(MountBindOptions {
                    read_only_non_recursive: Some(true),
                    ..MountBindOptions::default()
                }),
                ..ApiMount::default()
            }]),
            ..HostConfig::default()
        })
        .unwrap_err();
        assert_eq!(
            e.message,
            "mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive"
        );
    }

    #[test]
    fn spec_namespaces() {
        let b = Bundle::new();
        let no_host = ContainerConfig {
            cmd: Some(s(&["sh"])),
            ..ContainerConfig::default()
        };
        let build = |host: HostConfig| b.build(&test_host(), &no_host, &host);
        let spec = build(HostConfig {
            pid_mode: Some("container:db".into()),
            ipc_mode: Some("container:db".into()),
            network_mode: Some("container:db".into()),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
            ..HostConfig::default()
        })
        .unwrap();
        let path = |t: &str| Some(format!("/proc/4242/ns/{t}"));
        assert_eq!(
            ns_types(&spec),
            vec![
                (NamespaceType::Mount, None),
                (NamespaceType::Network, path("net")),
                (NamespaceType::Uts, None),
                (NamespaceType::Pid, path("pid")),
                (NamespaceType::Ipc, path("ipc")),
                (NamespaceType::Cgroup, None),
            ]
        );
        // Docker's network sysctls only for a network stack of the container's own.
        assert!(linux(&spec).sysctl.is_empty());

        let spec = build(HostConfig {
            pid_mode: Some("host".into()),
            network_mode: Some("host".into()),
            uts_mode: Some("host".into()),
            ipc_mode: Some("host".into()),
            ..HostConfig::default()
        })
        .unwrap();
        assert_eq!(ns_types(&spec), vec![(NamespaceType::Mount, None)]);
        assert_eq!(spec.hostname, None);
        let spec = b
            .build(
                &test_host(),
                &sh(),
                &HostConfig {
                    uts_mode: Some("host".into()),
                    ..HostConfig::default()
                },
            )
            .unwrap();
        assert_eq!(spec.hostname, None);
        for mode in ["none", "default", "bridge"] {
            let spec = build(HostConfig {
                network_mode: Some(mode.into()),
                ..HostConfig::default()
            })
            .unwrap();
            assert_eq!(ns_types(&spec)[1], (NamespaceType::Network, None), "{mode}");
        }

        let err = |host: HostConfig| build(host).unwrap_err().message;
        assert_eq!(
            err(HostConfig {
                ipc_mode: Some("container:web".into()),
                ..HostConfig::default()
            }),
            "failed to join IPC namespace: container web is not running"
        );
        assert_eq!(
            err(HostConfig {
                pid_mode: Some("container:web".into()),
                ..HostConfig::default()
            }),
            "failed to join PID namespace: container web is not running"
        );
        assert_eq!(
            err(HostConfig {
                network_mode: Some("container:web".into()),
                ..HostConfig::default()
            }),
            "container web is not running"
        );
        assert_eq!(
            err(HostConfig {
                network_mode: Some("container:c0ffee".into()),
                ..HostConfig::default()
            }),
            "cannot join own network"
        );
    }

    #[test]
    fn spec_sysctls() {
        let b = Bundle::new();
        let build = |sysctls: &[(&str, &str)], host: HostConfig| {
            let host = HostConfig {
                sysctls: Some(
                    sysctls
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..host
            };
            b.build(&test_host(), &sh(), &host)
        };
        let spec = build(
            &[
                ("net.core.somaxconn", "1024"),
                ("kernel.shmmax", "1"),
                ("fs.mqueue.msg_max", "20"),
                ("net.ipv4.ping_group_range", "0 0"),
            ],
            HostConfig::default(),
        )
        .unwrap();
        let sc = &linux(&spec).sysctl;
        assert_eq!(sc["net.core.somaxconn"], "1024");
        assert_eq!(sc["net.ipv4.ping_group_range"], "0 0");
        assert_eq!(sc["kernel.shmmax"], "1");
        let host_net = HostConfig {
            network_mode: Some("host".into()),
            ..HostConfig::default()
        };
        let err = |sysctls: &[(&str, &str)], host: HostConfig| build(sysctls, host).unwrap_err().message;
        assert_eq!(
            err(&[("net.core.somaxconn", "1")], host_net),
            "sysctl \"net.core.somaxconn\" is not allowed in the hosts network namespace"
        );
        assert_eq!(
            err(
                &[("kernel.msgmax", "1")],
                HostConfig {
                    ipc_mode: Some("host".into()),
                    ..HostConfig::default()
                }
            ),
            "sysctl \"kernel.msgmax\" is not allowed in the hosts ipc namespace"
        );
        assert_eq!(
            err(&[("vm.max_map_count", "262144")], HostConfig::default()),
            "sysctl \"vm.max_map_count\" is not in a separate kernel namespace"
        );
        assert_eq!(
            err(&[("kernel.hostname", "x")], HostConfig::default()),
            "sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field"
        );
        assert_eq!(
            err(
                &[("kernel.domainname", "x")],
                HostConfig {
                    uts_mode: Some("host".into()),
                    ..HostConfig::default()
                }
            ),
            "sysctl \"kernel.domainname\" is not in a separate kernel namespace"
        );
        // In a user namespace, no ping range default.
        let mut h = test_host();
        h.in_userns = true;
        let spec = b.build(&h, &sh(), &HostConfig::default()).unwrap();
        assert!(!linux(&spec).sysctl.contains_key("net.ipv4.ping_group_range"));
    }

    #[test]
    fn spec_ulimits() {
        let b = Bundle::new();
        let ul = |name: &str, soft: i64, hard: i64| ResourcesUlimits {
            name: Some(name.into()),
            soft: Some(soft),
            hard: Some(hard),
        };
        let host = HostConfig {
            ulimits: Some(vec![
                ul("nofile", 50000, 50000),
                ul("nproc", 100, 200),
                ul("core", -1, -1),
            ]),
            ..HostConfig::default()
        };
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let r = |typ: &str, soft: u64, hard: u64| Rlimit {
            typ: typ.into(),
            soft,
            hard,
        };
        assert_eq!(
            process(&spec).rlimits,
            vec![
                r("RLIMIT_NOFILE", 20000, 20000),
                r("RLIMIT_NPROC", 100, 200),
                r("RLIMIT_CORE", u64::MAX, u64::MAX)
            ]
        );
        let mut h = test_host();
        h.cap_sys_resource = true;
        let spec = b.build(&h, &sh(), &host).unwrap();
        assert_eq!(process(&spec).rlimits[0], r("RLIMIT_NOFILE", 50000, 50000));
        let spec = b.build(&h, &sh(), &HostConfig::default()).unwrap();
        assert_eq!(process(&spec).rlimits, vec![r("RLIMIT_NOFILE", 1024, 524_288)]);

        let err = |u: ResourcesUlimits| {
            let host = HostConfig {
                ulimits: Some(vec![u]),
                ..HostConfig::default()
            };
            b.build(&test_host(), &sh(), &host).unwrap_err().message
        };
        assert_eq!(err(ul("files", 1, 1)), "invalid ulimit type: files");
        assert_eq!(
            err(ul("nofile", 2, 1)),
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1"
        );
    }

    #[test]
    fn spec_seccomp() {
        let b = Bundle::new();
        let profile = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "ptrace", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
                {"names": ["chown"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_CHOWN"]}},
                {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "7.0"}},
                {"names": ["old_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"minKernel": "5.4"}}
            ]
        }"#;
        let sc = load_seccomp_on(profile, &s(&["CAP_SYS_PTRACE"]), "amd64", (6, 1))
            .unwrap()
            .unwrap();
        assert_eq!(sc.default_action, SeccompAction::Errno);
        assert_eq!(sc.default_errno_ret, Some(1));
        assert_eq!(
            sc.architectures,
            [SeccompArch::X86_64, SeccompArch::X86, SeccompArch::X32]
        );
        let names: Vec<&str> = sc.syscalls.iter().map(|c| c.names[0].as_str()).collect();
        assert_eq!(names, ["read", "ptrace", "personality", "arch_prctl", "chown"]);
        assert_eq!(sc.syscalls[2].args[0].value, 8);
        // Older kernel: the minKernel-excluded rule applies; no CAP_CHOWN in the set here.
        let sc = load_seccomp_on(profile, &s(&["CAP_CHOWN"]), "arm64", (4, 19))
            .unwrap()
            .unwrap();
        let names: Vec<&str> = sc.syscalls.iter().map(|c| c.names[0].as_str()).collect();
        assert_eq!(names, ["read", "personality", "sync_file_range2", "old_call"]);

        assert_eq!(load_seccomp_on("{}", &[], "amd64", (6, 1)).unwrap(), None);
        let e = load_seccomp_on("{", &[], "amd64", (6, 1)).unwrap_err();
        assert!(
            e.message.starts_with("Decoding seccomp profile failed: "),
            "{}",
            e.message
        );
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86"}]}"#;
        assert!(load_seccomp_on(both, &[], "amd64", (6, 1))
            .unwrap_err()
            .message
            .starts_with("both 'architectures' and 'archMap'"));
        let bad_kernel = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"5"}}]}"#;
        assert_eq!(
            load_seccomp_on(bad_kernel, &[], "amd64", (6, 1))
                .unwrap_err()
                .message,
            "invalid kernel version: \"5\", expected \"<kernel>.<major>\""
        );

        // In the spec: the profile sees the container's bounding set.
        let host = HostConfig {
            security_opt: Some(vec![format!("seccomp={profile}")]),
            cap_add: Some(s(&["SYS_PTRACE"])),
            ..HostConfig::default()
        };
        let spec = b.build(&test_host(), &sh(), &host).unwrap();
        let sc = linux(&spec).seccomp.clone().unwrap();
        assert!(sc.syscalls.iter().any(|c| c.names == ["ptrace"]));
        assert!(!sc.syscalls.iter().any(|c| c.names == ["chown"]));
        for opt in ["seccomp=unconfined", "seccomp:unconfined", "seccomp=builtin"] {
            let host = HostConfig {
                security_opt: Some(s(&[opt])),
                ..HostConfig::default()
            };
            assert_eq!(linux(&b.build(&test_host(), &sh(), &host).unwrap()).seccomp, None);
        }
        assert_eq!(
            parse_security_opts(&s(&["no-new-privileges=false", "no-new-privileges:true"])).unwrap(),
            SecurityOpts {
                no_new_privileges: true,
                seccomp: None
            }
        );
        assert_eq!(
            parse_security_opts(&s(&["no-new-privileges=maybe"]))
                .unwrap_err()
                .message,
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
    }

    // ---- users ----

    #[test]
    fn users_and_groups() {
        let b = Bundle::new();
        let root = b.rootfs();
        let get = |u: &str, add: &[&str]| resolve_user(&root, u, &s(add));
        let ids = |uid, gid, gids: &[u32]| ResolvedUser {
            uid,
            gid,
            additional_gids: gids.to_vec(),
        };
        assert_eq!(get("", &[]).unwrap(), ids(0, 0, &[0, 0, 10]));
        assert_eq!(get("root", &[]).unwrap(), ids(0, 0, &[0, 0, 10]));
        assert_eq!(get("app", &[]).unwrap(), ids(1000, 1000, &[1000, 10]));
        assert_eq!(get("1000", &[]).unwrap(), ids(1000, 1000, &[1000, 10]));
        assert_eq!(get("app:staff", &[]).unwrap(), ids(1000, 50, &[50]));
        assert_eq!(get("app:7", &[]).unwrap(), ids(1000, 7, &[7]));
        assert_eq!(get("1234", &[]).unwrap(), ids(1234, 0, &[0]));
        assert_eq!(get("1234:5678", &[]).unwrap(), ids(1234, 5678, &[5678]));
        assert_eq!(
            get("app", &["staff", "4321", "50"]).unwrap(),
            ids(1000, 1000, &[1000, 10, 50, 4321])
        );
        let err = |u: &str, add: &[&str]| {
            let e = get(u, add).unwrap_err();
            assert_eq!(e.kind, Kind::System);
            e.message
        };
        assert_eq!(
            err("nobody", &[]),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            err("app:nogroup", &[]),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert_eq!(
            err("", &["nope"]),
            "Unable to find group nope: no matching entries in group file"
        );
        assert_eq!(err("-1", &[]), "uids and gids must be in range 0-2147483647");

        // A symlinked /etc/passwd is read inside the root, never the host's.
        let etc = root.join("etc");
        std::fs::create_dir(root.join("alt")).unwrap();
        std::fs::rename(etc.join("passwd"), root.join("alt/passwd")).unwrap();
        std::os::unix::fs::symlink("/alt/../../../alt/passwd", etc.join("passwd")).unwrap();
        assert_eq!(get("app", &[]).unwrap(), ids(1000, 1000, &[1000, 10]));

        // Without the files, numeric ids still work.
        std::fs::remove_dir_all(&etc).unwrap();
        assert_eq!(get("", &[]).unwrap(), ids(0, 0, &[0]));
        assert_eq!(get("1000:1000", &["5"]).unwrap(), ids(1000, 1000, &[1000, 5]));
        assert_eq!(
            err("app", &[]),
            "unable to find user app: no matching entries in passwd file"
        );
        assert_eq!(
            err("0:staff", &[]),
            "unable to find group staff: no matching entries in group file"
        );
    }

    #[test]
    fn paths_in_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/dir")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("real/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(root, "/abs/dir"), root.join("real/dir"));
        assert_eq!(resolve_in_root(root, "/real/up/etc"), root.join("etc"));
        assert_eq!(
            resolve_in_root(root, "/../../etc/passwd"),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(root, "/abs/missing/x"),
            root.join("real/missing/x")
        );
        assert!(resolve_in_root(root, "/loop").starts_with(root));

        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path(""), ".");
        assert!(is_local_path("a/b") && !is_local_path("../a") && !is_local_path("/a"));
    }

    // ---- pieces ----

    #[test]
    fn tmpfs_option_merging() {
        assert_eq!(
            tmpfs_options("").unwrap(),
            s(&["noexec", "nosuid", "nodev", "rprivate"])
        );
        assert_eq!(
            tmpfs_options("exec,size=1m,size=2m,shared,defaults").unwrap(),
            s(&["nosuid", "nodev", "exec", "size=2m", "shared"])
        );
        assert_eq!(
            tmpfs_options("uid=1,gid=2,mode=700,nr_inodes=5,ro").unwrap(),
            s(&[
                "noexec",
                "nosuid",
                "nodev",
                "rprivate",
                "uid=1",
                "gid=2",
                "mode=700",
                "nr_inodes=5",
                "ro"
            ])
        );
        assert_eq!(
            tmpfs_options("foo=bar").unwrap_err().message,
            "invalid tmpfs option [\"foo\" \"bar\"]"
        );
        let m = |size: i64, mode: i64, ro: bool| {
            let api = ApiMount {
                tmpfs_options: Some(MountTmpfsOptions {
                    size_bytes: Some(size),
                    mode: Some(mode),
                    options: None,
                }),
                ..ApiMount::default()
            };
            tmpfs_data(&api, ro).unwrap()
        };
        assert_eq!(m(1 << 30, 0o755, true), "ro,mode=755,size=1g");
        assert_eq!(m(3 << 20, 0, false), "size=3m");
        assert_eq!(m(4096, 0, false), "size=4k");
        assert_eq!(m(1000, 0, false), "size=1000");
        assert_eq!(m(0, 0, false), "");
    }

    #[test]
    fn signals() {
        for (raw, n) in [
            ("SIGTERM", 15),
            ("term", 15),
            ("KILL", 9),
            ("9", 9),
            ("SIGRTMIN", 34),
            ("RTMIN+3", 37),
            ("SIGRTMAX-1", 63),
            ("RTMAX", 64),
            ("SIGWINCH", 28),
        ] {
            assert_eq!(parse_signal(raw).unwrap(), n, "{raw}");
        }
        for raw in ["0", "SIGFOO", "RTMIN+16", "RTMAX-15", "RTMIN+01", "RTMIN-1", ""] {
            assert_eq!(
                parse_signal(raw).unwrap_err().message,
                format!("Invalid signal: {raw}")
            );
        }
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_uint_list("0-2,5", 0).unwrap(), [0, 1, 2, 5].into());
        assert_eq!(parse_uint_list("", 0).unwrap(), BTreeSet::new());
        for bad in ["1-", "a", "3-1", "1,,2"] {
            assert_eq!(
                parse_uint_list(bad, 0).unwrap_err(),
                format!("invalid format: {bad}")
            );
        }
        assert_eq!(
            parse_uint_list("0-9000", 8192).unwrap_err(),
            "value of out range, maximum is 8192"
        );
        assert_eq!(list_available("1,3", "0-3"), Ok(true));
        assert_eq!(list_available("", "0"), Ok(true));
        assert_eq!(list_available("4", "0-3"), Ok(false));
    }

    #[test]
    fn mountinfo_lookup() {
        let info = "22 1 0:21 / / rw - ext4 /dev/vda rw\n\
                    30 22 0:27 / /mnt/with\\040space rw shared:5 - tmpfs tmpfs rw\n\
                    31 22 0:28 / /mnt rw master:3 - tmpfs tmpfs rw\n";
        assert_eq!(mount_of(info, "/srv/x"), Some(("/".into(), "".into())));
        assert_eq!(mount_of(info, "/mnt/x"), Some(("/mnt".into(), "master:3".into())));
        assert_eq!(
            mount_of(info, "/mnt/with space/a"),
            Some(("/mnt/with space".into(), "shared:5".into()))
        );
        assert_eq!(mount_of(info, "/mntx"), Some(("/".into(), "".into())));
        assert_eq!(unescape_mountinfo("a\\011b\\"), "a\tb\\");
    }

    #[test]
    fn this_host_is_read() {
        let h = HostInfo::detect();
        assert!(h.ncpu >= 1);
        assert!(h.kernel >= (3, 10), "{:?}", h.kernel);
        assert!(!h.cpus.is_empty() && !h.mems.is_empty());
        assert!(list_available("0", &h.cpus).unwrap());
        assert!(h.hard_limits.iter().any(|(t, _)| *t == "RLIMIT_NOFILE"));
        assert_eq!(h.arch, native_arch().0);
    }

    #[test]
    fn copy_up_keeps_fifos_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let (img, vol) = (dir.path().join("img"), dir.path().join("vol"));
        std::fs::create_dir_all(img.join("d")).unwrap();
        std::fs::create_dir(&vol).unwrap();
        std::fs::write(img.join("d/f"), "x").unwrap();
        std::fs::set_permissions(img.join("d/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let fifo = std::ffi::CString::new(img.join("p").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        copy_up(&img, &vol).unwrap();
        assert_eq!(std::fs::read_to_string(vol.join("d/f")).unwrap(), "x");
        assert_eq!(std::fs::metadata(vol.join("d/f")).unwrap().mode() & 0o7777, 0o640);
        assert!(std::fs::symlink_metadata(vol.join("p"))
            .unwrap()
            .file_type()
            .is_fifo());
        // Not empty any more: left alone.
        std::fs::write(img.join("new"), "y").unwrap();
        copy_up(&img, &vol).unwrap();
        assert!(!vol.join("new").exists());
        // No image directory: nothing to copy.
        copy_up(&dir.path().join("missing"), &vol).unwrap();
    }

    #[test]
    fn small_helpers() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(split_dev(libc::makedev(259, 70000)), (259, 70000));
        assert_eq!(split_dev(libc::makedev(1, 3)), (1, 3));
        assert!(valid_mount_mode("ro,Z,rslave,nocopy,cached"));
        assert!(!valid_mount_mode("ro,rw") && !valid_mount_mode("z,Z") && !valid_mount_mode("bogus"));
        assert_eq!(
            parse_bind("vol:/data:ro,nocopy").unwrap().source,
            MountSource::Volume {
                name: Some("vol".into()),
                subpath: None,
                copy: false
            }
        );
        assert_eq!(
            parse_bind("/h:/c:rshared").unwrap().propagation.as_deref(),
            Some("rshared")
        );
    }
}
