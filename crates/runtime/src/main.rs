//! berth-runtime: an OCI runtime with runc's command line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use berth_runtime::commands::{self, create::CreateOpts, exec::ExecOpts, update::UpdateFlags, Global};
use berth_runtime::error::Error;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "An OCI runtime with runc's command line"
)]
struct Cli {
    /// Where container state is kept.
    #[arg(long, global = true, default_value = "/run/berth-runtime")]
    root: PathBuf,
    /// Also write errors to this file (conmon and containerd read it).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility: without systemd, cgroupfs is used (with a warning).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Accepted for runc compatibility (before the command); ignored.
    #[arg(long = "rootless", id = "global_rootless", hide = true, num_args = 0..=1, default_missing_value = "true")]
    global_rootless: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct CreateArgs {
    id: String,
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
}

impl CreateArgs {
    fn opts(&self) -> CreateOpts {
        CreateOpts {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            run: false,
            keep_console: false,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start { id: String },
    /// Create and start a container, and wait for it unless detached.
    Run {
        #[command(flatten)]
        c: CreateArgs,
        #[arg(short, long)]
        detach: bool,
    },
    /// Print the container's OCI state.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's init, or with --all to all its processes.
    Kill {
        id: String,
        signal: Option<String>,
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a stopped container (--force: any container).
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
    },
    /// Run a process in a running container.
    Exec {
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        tty: bool,
        #[arg(long)]
        cwd: Option<String>,
        #[arg(short, long)]
        env: Vec<String>,
        #[arg(short, long)]
        user: Option<String>,
        #[arg(short = 'g', long = "additional-gids")]
        additional_gids: Vec<u32>,
        #[arg(short, long)]
        cap: Vec<String>,
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        #[arg(short, long)]
        detach: bool,
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
        #[arg(long = "ignore-paused")]
        ignore_paused: bool,
        #[arg(long = "process-label", hide = true)]
        process_label: Option<String>,
        #[arg(long, hide = true)]
        apparmor: Option<String>,
    },
    /// Freeze all processes of the container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the container's processes.
    Ps {
        id: String,
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Print the features this runtime supports.
    Features,
    /// Write a starting config.json.
    Spec {
        #[arg(long)]
        rootless: bool,
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Change the container's resources.
    Update {
        id: String,
        #[arg(short, long)]
        resources: Option<String>,
        #[arg(long)]
        memory: Option<String>,
        #[arg(long = "memory-reservation")]
        memory_reservation: Option<String>,
        #[arg(long = "memory-swap")]
        memory_swap: Option<String>,
        #[arg(long = "cpu-shares")]
        cpu_shares: Option<u64>,
        #[arg(long = "cpu-period")]
        cpu_period: Option<u64>,
        #[arg(long = "cpu-quota")]
        cpu_quota: Option<i64>,
        #[arg(long = "cpuset-cpus")]
        cpuset_cpus: Option<String>,
        #[arg(long = "cpuset-mems")]
        cpuset_mems: Option<String>,
        #[arg(long = "pids-limit")]
        pids_limit: Option<i64>,
        #[arg(long = "blkio-weight")]
        blkio_weight: Option<u16>,
    },
    /// Print resource usage (and OOM notices) as JSON lines.
    Events {
        id: String,
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
    },
}

fn main() {
    berth_runtime::trace::init();
    let argv = normalize_args(std::env::args().collect());
    let cli = Cli::parse_from(argv);
    let log = cli.log.clone();
    let json = cli.log_format == LogFormat::Json;
    match dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            eprintln!("berth-runtime: {msg}");
            if let Some(path) = log {
                write_log(&path, json, &msg);
            }
            std::process::exit(1);
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    if cli.systemd_cgroup {
        eprintln!("berth-runtime: warning: systemd is not available for cgroups; using cgroupfs");
    }
    let g = Global {
        root: cli.root,
        systemd_cgroup: cli.systemd_cgroup,
    };
    match cli.cmd {
        Cmd::Create(c) => commands::create::create(&g, &c.opts()).map(|_| 0),
        Cmd::Start { id } => commands::start::start(&g, &id).map(|_| 0),
        Cmd::Run { c, detach } => commands::run::run(&g, c.opts(), detach),
        Cmd::State { id } => commands::info::state(&g, &id).map(|_| 0),
        Cmd::Kill { id, signal, all } => {
            commands::kill::kill(&g, &id, signal.as_deref().unwrap_or("SIGTERM"), all).map(|_| 0)
        }
        Cmd::Delete { id, force } => commands::delete::delete(&g, &id, force).map(|_| 0),
        Cmd::Exec {
            id,
            command,
            process,
            tty,
            cwd,
            env,
            user,
            additional_gids,
            cap,
            no_new_privs,
            detach,
            pid_file,
            console_socket,
            preserve_fds,
            ignore_paused,
            process_label: _,
            apparmor: _,
        } => commands::exec::exec(
            &g,
            &ExecOpts {
                id,
                process_file: process,
                args: command,
                tty,
                cwd,
                env,
                user,
                additional_gids,
                caps: cap,
                no_new_privs,
                detach,
                pid_file,
                console_socket,
                preserve_fds,
                ignore_paused,
            },
        ),
        Cmd::Pause { id } => commands::pause::pause(&g, &id).map(|_| 0),
        Cmd::Resume { id } => commands::pause::resume(&g, &id).map(|_| 0),
        Cmd::Ps { id, format, ps_args } => commands::info::ps(&g, &id, format == "json", &ps_args).map(|_| 0),
        Cmd::List { format, quiet } => commands::info::list(&g, format == "json", quiet).map(|_| 0),
        Cmd::Features => {
            let text = serde_json::to_string_pretty(&commands::features::features()).unwrap_or_default();
            println!("{text}");
            Ok(0)
        }
        Cmd::Spec { rootless, bundle } => commands::spec::spec(&bundle, rootless).map(|_| 0),
        Cmd::Update {
            id,
            resources,
            memory,
            memory_reservation,
            memory_swap,
            cpu_shares,
            cpu_period,
            cpu_quota,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight,
        } => {
            let flags = UpdateFlags {
                resources,
                memory: memory.as_deref().map(parse_bytes).transpose()?,
                memory_reservation: memory_reservation.as_deref().map(parse_bytes).transpose()?,
                memory_swap: memory_swap.as_deref().map(parse_bytes).transpose()?,
                cpu_shares,
                cpu_period,
                cpu_quota,
                cpuset_cpus,
                cpuset_mems,
                pids_limit,
                blkio_weight,
            };
            commands::update::update(&g, &id, &flags).map(|_| 0)
        }
        Cmd::Events { id, stats, interval } => {
            let d = parse_duration(&interval)?;
            commands::events::events(&g, &id, stats, d).map(|_| 0)
        }
    }
}

/// runc (Go's flag package) also accepts long options with one dash: `-bundle`, `-pid-file`.
fn normalize_args(args: Vec<String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "root",
        "log",
        "log-format",
        "debug",
        "systemd-cgroup",
        "bundle",
        "pid-file",
        "console-socket",
        "no-pivot",
        "no-new-keyring",
        "preserve-fds",
        "detach",
        "all",
        "force",
        "format",
        "quiet",
        "tty",
        "cwd",
        "env",
        "user",
        "process",
        "cap",
        "rootless",
        "resources",
        "stats",
        "interval",
        "no-new-privs",
    ];
    let mut out = Vec::with_capacity(args.len());
    let mut in_exec_command = false;
    let mut exec_seen = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || in_exec_command {
            out.push(a);
            continue;
        }
        if a == "--" {
            in_exec_command = exec_seen;
            out.push(a);
            continue;
        }
        if a == "exec" {
            exec_seen = true;
        }
        let converted = match a.strip_prefix('-') {
            Some(rest) if !rest.starts_with('-') && rest.len() > 1 => {
                let name = rest.split('=').next().unwrap_or(rest);
                LONG.contains(&name).then(|| format!("-{a}"))
            }
            _ => None,
        };
        out.push(converted.unwrap_or(a));
    }
    out
}

fn parse_bytes(s: &str) -> Result<i64, Error> {
    let bad = || Error::msg(format!("invalid size `{s}`"));
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(mult).ok_or_else(bad)
}

fn parse_duration(s: &str) -> Result<Duration, Error> {
    let bad = || Error::msg(format!("invalid duration `{s}`"));
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn write_log(path: &std::path::Path, json: bool, msg: &str) {
    let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    let time = berth_runtime::state::rfc3339_now();
    let line = if json {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!("time=\"{time}\" level=error msg=\"{}\"", msg.replace('"', "\\\""))
    };
    let _ = writeln!(f, "{line}");
}
