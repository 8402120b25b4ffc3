//! berthd's configuration: command-line flags and `/etc/berth/daemon.json`, with Docker's keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// The daemon's settings after flags and the file are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub hosts: Vec<String>,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    pub config_file: PathBuf,
    pub debug: bool,
    pub log_level: String,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    pub max_concurrent_downloads: usize,
    pub max_concurrent_uploads: usize,
    pub labels: Vec<String>,
    /// The cgroup under which containers' cgroups are made (`cgroup-parent`, as dockerd's).
    pub cgroup_parent: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hosts: vec![format!("unix://{DEFAULT_SOCKET}")],
            data_root: DEFAULT_DATA_ROOT.into(),
            exec_root: DEFAULT_EXEC_ROOT.into(),
            pidfile: PathBuf::from(DEFAULT_EXEC_ROOT).join("berthd.pid"),
            config_file: DEFAULT_CONFIG_FILE.into(),
            debug: false,
            log_level: "info".into(),
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            labels: Vec::new(),
            cgroup_parent: "berth".into(),
        }
    }
}

/// Keys of Docker's daemon.json that berthd reads.
const KEYS_USED: &[&str] = &[
    "hosts",
    "data-root",
    "exec-root",
    "pidfile",
    "debug",
    "log-level",
    "insecure-registries",
    "registry-mirrors",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "labels",
    "cgroup-parent",
];

/// Keys of Docker's daemon.json that are valid but belong to parts berthd does not have yet; they
/// are accepted (a file written for Docker must not stop berthd) and reported once at start.
const KEYS_LATER: &[&str] = &[
    "mtu",
    "bip",
    "default-address-pools",
    "dns",
    "dns-opts",
    "dns-search",
    "log-driver",
    "log-opts",
    "default-ulimits",
    "runtimes",
    "default-runtime",
    "live-restore",
    "storage-driver",
    "storage-opts",
    "iptables",
    "ip6tables",
    "ipv6",
    "fixed-cidr",
    "fixed-cidr-v6",
    "bridge",
    "icc",
    "ip-forward",
    "ip-masq",
    "userland-proxy",
    "default-shm-size",
    "default-cgroupns-mode",
    "default-ipc-mode",
    "exec-opts",
    "features",
    "experimental",
    "init",
    "init-path",
    "shutdown-timeout",
    "seccomp-profile",
    "no-new-privileges",
    "selinux-enabled",
    "userns-remap",
    "group",
    "tls",
    "tlsverify",
    "tlscacert",
    "tlscert",
    "tlskey",
    "containerd",
    "max-concurrent-downloads",
    "max-download-attempts",
    "builder",
    "proxies",
];

/// Which settings were given as flags (to detect the same setting given twice, as dockerd does).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub hosts: Vec<String>,
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub debug: bool,
    pub log_level: Option<String>,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unable to configure the berth daemon with file {path}: {detail}")]
    File { path: String, detail: String },
    #[error("the following directives don't match any configuration option: {0}")]
    Unknown(String),
    #[error("the following directives are specified both as a flag and in the configuration file: {0}")]
    Conflict(String),
    #[error("invalid value for {key} in {path}: {detail}")]
    Value {
        key: String,
        path: String,
        detail: String,
    },
    #[error("{0}")]
    Usage(String),
}

/// Parses berthd's command line (without argv[0]).
pub fn parse_flags(args: &[String]) -> Result<Option<Flags>, ConfigError> {
    let mut f = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String, ConfigError> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| ConfigError::Usage(format!("flag needs an argument: {flag}"))),
            }
        };
        match name {
            "-H" | "--host" => f.hosts.push(value(name)?),
            "--data-root" => f.data_root = Some(value(name)?.into()),
            "--exec-root" => f.exec_root = Some(value(name)?.into()),
            "-p" | "--pidfile" => f.pidfile = Some(value(name)?.into()),
            "--config-file" => f.config_file = Some(value(name)?.into()),
            "-D" | "--debug" => f.debug = true,
            "-l" | "--log-level" => f.log_level = Some(value(name)?),
            "--insecure-registry" => f.insecure_registries.push(value(name)?),
            "--registry-mirror" => f.registry_mirrors.push(value(name)?),
            "-h" | "--help" => return Ok(None),
            other => {
                return Err(ConfigError::Usage(format!(
                    "unknown flag: {other}\nSee 'berthd --help'."
                )))
            }
        }
    }
    Ok(Some(f))
}

pub const USAGE: &str = "Usage:\tberthd [OPTIONS]

The berth daemon: serves the Docker Engine API.

Options:
      --config-file string        Daemon configuration file (default \"/etc/berth/daemon.json\")
      --data-root string          Root directory of persistent state (default \"/var/lib/berth\")
  -D, --debug                     Enable debug mode
      --exec-root string          Root directory for execution state files (default \"/run/berth\")
  -H, --host list                 Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --insecure-registry list    Enable insecure registry communication
  -l, --log-level string          Set the logging level (\"debug\"|\"info\"|\"warn\"|\"error\"|\"fatal\") (default \"info\")
  -p, --pidfile string            Path to use for daemon PID file (default \"/run/berth/berthd.pid\")
      --registry-mirror list      Preferred registry mirror
  -v, --version                   Print version information and quit
";

/// Merges flags and the configuration file. A missing file is fine only when it was not named
/// explicitly. Also returns the keys accepted but not used yet.
pub fn load(flags: &Flags) -> Result<(Config, Vec<String>), ConfigError> {
    let mut cfg = Config::default();
    let path = flags
        .config_file
        .clone()
        .unwrap_or_else(|| DEFAULT_CONFIG_FILE.into());
    cfg.config_file = path.clone();
    let file = match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && flags.config_file.is_none() => None,
        Err(e) => {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                detail: e.to_string(),
            })
        }
    };
    let mut later = Vec::new();
    if let Some(bytes) = file {
        later = apply_file(&mut cfg, &path, &bytes, flags)?;
    }
    if !flags.hosts.is_empty() {
        cfg.hosts = flags.hosts.clone();
    }
    if let Some(v) = &flags.data_root {
        cfg.data_root = v.clone();
    }
    if let Some(v) = &flags.exec_root {
        cfg.exec_root = v.clone();
        if flags.pidfile.is_none() {
            cfg.pidfile = v.join("berthd.pid");
        }
    }
    if let Some(v) = &flags.pidfile {
        cfg.pidfile = v.clone();
    }
    if flags.debug {
        cfg.debug = true;
    }
    if let Some(v) = &flags.log_level {
        cfg.log_level = v.clone();
    }
    cfg.insecure_registries
        .extend(flags.insecure_registries.iter().cloned());
    cfg.registry_mirrors
        .extend(flags.registry_mirrors.iter().cloned());
    if !matches!(
        cfg.log_level.as_str(),
        "debug" | "info" | "warn" | "error" | "fatal"
    ) {
        return Err(ConfigError::Usage(format!(
            "unable to parse logging level: {}",
            cfg.log_level
        )));
    }
    Ok((cfg, later))
}

fn apply_file(
    cfg: &mut Config,
    path: &Path,
    bytes: &[u8],
    flags: &Flags,
) -> Result<Vec<String>, ConfigError> {
    let p = path.display().to_string();
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ConfigError::File {
        path: p.clone(),
        detail: e.to_string(),
    })?;
    let Value::Object(map) = value else {
        return Err(ConfigError::File {
            path: p,
            detail: "the file must hold a JSON object".into(),
        });
    };
    let unknown: BTreeSet<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !KEYS_USED.contains(k) && !KEYS_LATER.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(ConfigError::Unknown(
            unknown.into_iter().collect::<Vec<_>>().join(", "),
        ));
    }
    let mut conflicts = Vec::new();
    let both = |key: &str, flag_set: bool, conflicts: &mut Vec<String>| {
        if flag_set && map.contains_key(key) {
            conflicts.push(format!("{key}: (from flag and file)"));
        }
    };
    both("hosts", !flags.hosts.is_empty(), &mut conflicts);
    both("data-root", flags.data_root.is_some(), &mut conflicts);
    both("exec-root", flags.exec_root.is_some(), &mut conflicts);
    both("pidfile", flags.pidfile.is_some(), &mut conflicts);
    both("log-level", flags.log_level.is_some(), &mut conflicts);
    both(
        "insecure-registries",
        !flags.insecure_registries.is_empty(),
        &mut conflicts,
    );
    both(
        "registry-mirrors",
        !flags.registry_mirrors.is_empty(),
        &mut conflicts,
    );
    if !conflicts.is_empty() {
        return Err(ConfigError::Conflict(conflicts.join(", ")));
    }
    let bad = |key: &str, detail: &str| ConfigError::Value {
        key: key.into(),
        path: p.clone(),
        detail: detail.into(),
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, ConfigError> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(key, "expected a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad(key, "expected a list of strings")),
        }
    };
    let string = |key: &str| -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(key, "expected a string")),
        }
    };
    let count = |key: &str| -> Result<Option<usize>, ConfigError> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n as usize)),
                _ => Err(bad(key, "expected a positive integer")),
            },
        }
    };
    if let Some(v) = strings("hosts")? {
        cfg.hosts = v;
    }
    if let Some(v) = string("data-root")? {
        cfg.data_root = v.into();
    }
    if let Some(v) = string("exec-root")? {
        cfg.exec_root = PathBuf::from(&v);
        cfg.pidfile = PathBuf::from(v).join("berthd.pid");
    }
    if let Some(v) = string("pidfile")? {
        cfg.pidfile = v.into();
    }
    match map.get("debug") {
        None => {}
        Some(Value::Bool(b)) => cfg.debug = *b,
        Some(_) => return Err(bad("debug", "expected true or false")),
    }
    if let Some(v) = string("log-level")? {
        cfg.log_level = v;
    }
    if let Some(v) = strings("insecure-registries")? {
        cfg.insecure_registries = v;
    }
    if let Some(v) = strings("registry-mirrors")? {
        cfg.registry_mirrors = v;
    }
    if let Some(v) = count("max-concurrent-downloads")? {
        cfg.max_concurrent_downloads = v;
    }
    if let Some(v) = count("max-concurrent-uploads")? {
        cfg.max_concurrent_uploads = v;
    }
    if let Some(v) = strings("labels")? {
        cfg.labels = v;
    }
    if let Some(v) = string("cgroup-parent")? {
        let v = v.trim_matches('/').to_string();
        if v.is_empty() || v.contains("..") {
            return Err(bad("cgroup-parent", "expected a cgroup path such as \"berth\""));
        }
        cfg.cgroup_parent = v;
    }
    Ok(map
        .keys()
        .filter(|k| !KEYS_USED.contains(&k.as_str()))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn load_with(json: &str, flags: &[&str]) -> Result<(Config, Vec<String>), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        std::fs::write(&path, json).unwrap();
        let mut a = args(flags);
        a.push(format!("--config-file={}", path.display()));
        let f = parse_flags(&a).unwrap().unwrap();
        load(&f)
    }

    #[test]
    fn docker_keys_are_read() {
        let (c, later) = load_with(
            r#"{"data-root": "/d", "insecure-registries": ["10.0.0.0/8", "r:5000"],
                "registry-mirrors": ["https://m"], "max-concurrent-downloads": 6, "debug": true,
                "log-level": "debug", "mtu": 1400}"#,
            &[],
        )
        .unwrap();
        assert_eq!(c.data_root, PathBuf::from("/d"));
        assert_eq!(c.insecure_registries, ["10.0.0.0/8", "r:5000"]);
        assert_eq!(c.registry_mirrors, ["https://m"]);
        assert_eq!(c.max_concurrent_downloads, 6);
        assert_eq!(c.max_concurrent_uploads, 5);
        assert!(c.debug);
        assert_eq!(later, ["mtu"]);
    }

    #[test]
    fn unknown_keys_and_conflicts_are_errors_like_dockerd() {
        let e = load_with(r#"{"data-rot": "/d"}"#, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the following directives don't match any configuration option: data-rot"
        );
        let e = load_with(r#"{"data-root": "/d"}"#, &["--data-root", "/e"]).unwrap_err();
        assert!(e
            .to_string()
            .contains("both as a flag and in the configuration file: data-root"));
        let e = load_with(r#"{"max-concurrent-downloads": 0}"#, &[]).unwrap_err();
        assert!(e.to_string().contains("max-concurrent-downloads"));
        let e = load_with("[1]", &[]).unwrap_err();
        assert!(e.to_string().contains("JSON object"));
    }

    #[test]
    fn flags_and_defaults() {
        let f = parse_flags(&args(&["-H", "unix:///x.sock", "--exec-root=/r", "-D"]))
            .unwrap()
            .unwrap();
        let (c, _) = load(&Flags {
            config_file: None,
            ..f
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.hosts, ["unix:///x.sock"]);
        assert_eq!(c.pidfile, PathBuf::from("/r/berthd.pid"));
        assert!(c.debug);
        assert!(parse_flags(&args(&["--bogus"])).is_err());
        assert!(parse_flags(&args(&["--help"])).unwrap().is_none());
        let missing = Flags {
            config_file: Some("/nonexistent/daemon.json".into()),
            ..Flags::default()
        };
        assert!(load(&missing)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/daemon.json"));
    }
}
