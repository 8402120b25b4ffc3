//! berth-runtime: an OCI runtime with runc's command line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use berth_runtime::cli::{self, Matches};
use berth_runtime::commands::{self, create::CreateOpts, exec::ExecOpts, update::UpdateFlags, Global};
use berth_runtime::error::{Error, Result};

const USAGE: &str = "usage: berth-runtime [global options] COMMAND [options] [ID] [args]

An OCI runtime with runc's command line.

Commands:
  create   create a container; its process waits for `start`
  start    start a created container's process
  run      create and start a container, and wait for it unless --detach
  state    print the container's OCI state
  kill     send a signal (default SIGTERM) to the init, or --all processes
  delete   delete a stopped container (--force: any container)
  exec     run a process in a running container
  pause    freeze all processes of the container
  resume   thaw a paused container
  ps       list the container's processes
  list     list containers
  update   change the container's resources
  events   print resource usage (and OOM notices) as JSON lines
  features print the features this runtime supports
  spec     write a starting config.json

Global options: --root DIR (default /run/berth-runtime), --log FILE, --log-format text|json,
--debug (the timing trace on stderr, as BERTH_TRACE=1), --systemd-cgroup (cgroupfs is used, with
a warning).";

fn main() {
    berth_runtime::trace::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The log options are needed to report errors, so read them before anything can fail.
    let (log, json) = match cli::parse(&args, &[cli::GLOBAL], true, None, "berth-runtime") {
        Ok((g, _)) => (
            g.value("log").map(PathBuf::from),
            g.value("log-format") == Some("json"),
        ),
        Err(_) => (None, false),
    };
    match dispatch(&args) {
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

fn dispatch(args: &[String]) -> Result<i32> {
    let (g, at) = cli::parse(args, &[cli::GLOBAL], true, None, "berth-runtime")?;
    let Some(name) = args.get(at) else {
        if g.positionals.is_empty() {
            println!("{USAGE}");
            return Ok(0);
        }
        return Err(Error::msg("no command given"));
    };
    match name.as_str() {
        "--version" | "-v" | "version" => {
            println!(
                "berth-runtime version {}\nspec: {}",
                env!("CARGO_PKG_VERSION"),
                berth_oci::OCI_VERSION
            );
            return Ok(0);
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            return Ok(0);
        }
        _ => {}
    }
    if let Some(f) = g.value("log-format") {
        if f != "text" && f != "json" {
            return Err(Error::msg(format!("invalid `--log-format` `{f}`: text or json")));
        }
    }
    let (opts, pass) = cli::command(name).ok_or_else(|| Error::msg(format!("unknown command `{name}`")))?;
    if g.flag("debug") {
        berth_runtime::trace::enable();
    }
    let (m, _) = cli::parse(&args[at + 1..], opts, false, pass, name)?;
    berth_runtime::trace::mark("args parsed");
    if g.flag("systemd-cgroup") {
        eprintln!("berth-runtime: warning: systemd is not available for cgroups; using cgroupfs");
    }
    let root = g.value("root").unwrap_or("/run/berth-runtime");
    let g = Global {
        root: PathBuf::from(root),
        systemd_cgroup: g.flag("systemd-cgroup"),
    };
    let id = || -> Result<String> {
        m.positionals
            .first()
            .cloned()
            .ok_or_else(|| Error::msg(format!("`{name}` needs a container id")))
    };
    let extra = |max: usize| -> Result<()> {
        match m.positionals.get(max) {
            Some(a) => Err(Error::msg(format!("unexpected argument `{a}` for `{name}`"))),
            None => Ok(()),
        }
    };
    match name.as_str() {
        "create" => {
            extra(1)?;
            commands::create::create(&g, &create_opts(&m, id()?)?).map(|_| 0)
        }
        "run" => {
            extra(1)?;
            commands::run::run(&g, create_opts(&m, id()?)?, m.flag("detach"))
        }
        "start" => {
            extra(1)?;
            commands::start::start(&g, &id()?).map(|_| 0)
        }
        "state" => {
            extra(1)?;
            commands::info::state(&g, &id()?).map(|_| 0)
        }
        "kill" => {
            extra(2)?;
            let sig = m.positionals.get(1).map(String::as_str).unwrap_or("SIGTERM");
            commands::kill::kill(&g, &id()?, sig, m.flag("all")).map(|_| 0)
        }
        "delete" => {
            extra(1)?;
            commands::delete::delete(&g, &id()?, m.flag("force")).map(|_| 0)
        }
        "exec" => {
            let gids = m
                .values("additional-gids")
                .iter()
                .map(|v| {
                    v.parse()
                        .map_err(|_| Error::msg(format!("invalid value `{v}` for `--additional-gids`")))
                })
                .collect::<Result<Vec<u32>>>()?;
            let o = ExecOpts {
                id: id()?,
                process_file: m.value("process").map(PathBuf::from),
                args: m.rest.clone(),
                tty: m.flag("tty"),
                cwd: m.value("cwd").map(String::from),
                env: m.values("env").to_vec(),
                user: m.value("user").map(String::from),
                additional_gids: gids,
                caps: m.values("cap").to_vec(),
                no_new_privs: m.flag("no-new-privs"),
                detach: m.flag("detach"),
                pid_file: m.value("pid-file").map(PathBuf::from),
                console_socket: m.value("console-socket").map(PathBuf::from),
                preserve_fds: m.number("preserve-fds")?.unwrap_or(0),
                ignore_paused: m.flag("ignore-paused"),
            };
            commands::exec::exec(&g, &o)
        }
        "pause" => commands::pause::pause(&g, &id()?).map(|_| 0),
        "resume" => commands::pause::resume(&g, &id()?).map(|_| 0),
        "ps" => commands::info::ps(&g, &id()?, m.value("format") == Some("json"), &m.rest).map(|_| 0),
        "list" => commands::info::list(&g, m.value("format") == Some("json"), m.flag("quiet")).map(|_| 0),
        "features" => {
            let text = serde_json::to_string_pretty(&commands::features::features()).unwrap_or_default();
            println!("{text}");
            Ok(0)
        }
        "spec" => {
            let bundle = PathBuf::from(m.value("bundle").unwrap_or("."));
            commands::spec::spec(&bundle, m.flag("rootless")).map(|_| 0)
        }
        "update" => {
            let bytes = |k: &str| m.value(k).map(parse_bytes).transpose();
            let flags = UpdateFlags {
                resources: m.value("resources").map(String::from),
                memory: bytes("memory")?,
                memory_reservation: bytes("memory-reservation")?,
                memory_swap: bytes("memory-swap")?,
                cpu_shares: m.number("cpu-shares")?,
                cpu_period: m.number("cpu-period")?,
                cpu_quota: m.number("cpu-quota")?,
                cpuset_cpus: m.value("cpuset-cpus").map(String::from),
                cpuset_mems: m.value("cpuset-mems").map(String::from),
                pids_limit: m.number("pids-limit")?,
                blkio_weight: m.number("blkio-weight")?,
            };
            commands::update::update(&g, &id()?, &flags).map(|_| 0)
        }
        "events" => {
            let d = parse_duration(m.value("interval").unwrap_or("5s"))?;
            commands::events::events(&g, &id()?, m.flag("stats"), d).map(|_| 0)
        }
        other => Err(Error::msg(format!("unknown command `{other}`"))),
    }
}

fn create_opts(m: &Matches, id: String) -> Result<CreateOpts> {
    Ok(CreateOpts {
        id,
        bundle: PathBuf::from(m.value("bundle").unwrap_or(".")),
        pid_file: m.value("pid-file").map(PathBuf::from),
        console_socket: m.value("console-socket").map(PathBuf::from),
        no_pivot: m.flag("no-pivot"),
        no_new_keyring: m.flag("no-new-keyring"),
        preserve_fds: m.number("preserve-fds")?.unwrap_or(0),
        run: false,
        keep_console: false,
    })
}

fn parse_bytes(s: &str) -> Result<i64> {
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

fn parse_duration(s: &str) -> Result<Duration> {
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
