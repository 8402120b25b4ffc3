//! create, run, start and attach: the container start path.
//!
//! Ref: docker/cli cli/command/container/{create,run,start,attach,utils}.go. The order of
//! requests is docker's: create (pull on "No such image", create again), then for an attached
//! run attach → wait → start, stream until the daemon closes, exit with the wait's status.

use std::fs;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::config::{self, ContainerFlags, CreateRequest};
use super::stream::{self, End, SignalHub, Streams, Target};
use super::{inspect_container, sv};
use crate::client::{Client, Query};
use crate::commands::{parse_bool, registry, Ctx};
use crate::error::{Error, Result};
use crate::format::is_tty;
use crate::http::Request;
use crate::reference::Reference;
use crate::term;

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
    #[arg(value_name = "IMAGE", required = true, trailing_var_arg = true, num_args = 1..)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", value_name = "bool", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_parser = parse_bool)]
    pub sig_proxy: bool,
    #[arg(value_name = "IMAGE", required = true, trailing_var_arg = true, num_args = 1..)]
    pub args: Vec<String>,
}

/// docker's "docker: <error>\n\nRun 'docker <cmd> --help'" wrapping, exit 125 unless said.
fn with_help(cmd: &str, msg: &str, code: i32) -> Error {
    Error::Usage {
        message: format!("berth: {msg}\n\nRun 'berth {cmd} --help' for more information"),
        code,
    }
}

/// Ref: docker/cli container `toStatusError`: 127 when the command is not found, 126 when it
/// cannot be invoked, 125 for any other failure to run.
pub fn to_status_error(e: Error) -> Error {
    if let Error::Exit(_) = e {
        return e;
    }
    let msg = e.to_string();
    let code = if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    };
    with_help("run", &msg, code)
}

fn validate_pull(cmd: &str, v: &str) -> Result<()> {
    match v {
        "always" | "missing" | "never" | "" => Ok(()),
        _ => Err(with_help(
            cmd,
            &format!("invalid pull option: '{v}': must be one of \"always\", \"missing\" or \"never\""),
            125,
        )),
    }
}

/// The local terminal's size for `HostConfig.ConsoleSize` (stdout's, as docker).
fn console_size() -> (u16, u16) {
    if is_tty(1) {
        term::size(1)
    } else {
        (0, 0)
    }
}

/// Adds the proxy variables of the config file (`proxies.default`) that `-e` does not set.
/// Ref: docker/cli configfile `ParseProxyConfig`.
fn proxy_env(ctx: &Ctx, env: &mut Vec<String>) {
    let Ok(cfg) = crate::config::ConfigFile::load(&ctx.config_dir) else {
        return;
    };
    let Some(p) = cfg.value.get("proxies").and_then(|p| p.get("default")) else {
        return;
    };
    let has = |env: &[String], k: &str| {
        env.iter()
            .any(|e| e.split_once('=').map_or(e.as_str(), |(a, _)| a) == k)
    };
    for (field, names) in [
        ("httpProxy", ["HTTP_PROXY", "http_proxy"]),
        ("httpsProxy", ["HTTPS_PROXY", "https_proxy"]),
        ("noProxy", ["NO_PROXY", "no_proxy"]),
        ("ftpProxy", ["FTP_PROXY", "ftp_proxy"]),
        ("allProxy", ["ALL_PROXY", "all_proxy"]),
    ] {
        let Some(v) = p.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()) else {
            continue;
        };
        for n in names {
            if !has(env, n) {
                env.push(format!("{n}={v}"));
            }
        }
    }
}

fn parse_request(ctx: &Ctx, cmd: &str, flags: &ContainerFlags, args: &[String]) -> Result<CreateRequest> {
    validate_pull(cmd, &flags.pull)?;
    let mut flags = flags.clone();
    proxy_env(ctx, &mut flags.env);
    config::build(&flags, &args[0], &args[1..], console_size()).map_err(|e| with_help(cmd, &e, 125))
}

/// `--cidfile`: refused when it exists, created before the container, removed again when no ID
/// was written. Ref: docker/cli container `cidFile`.
struct CidFile {
    path: String,
    file: Option<fs::File>,
    written: bool,
}

impl CidFile {
    fn new(path: &str) -> Result<CidFile> {
        if path.is_empty() {
            return Ok(CidFile {
                path: String::new(),
                file: None,
                written: false,
            });
        }
        if fs::metadata(path).is_ok() {
            return Err(Error::msg(format!(
                "container ID file found, make sure the other container isn't running or delete {path}"
            )));
        }
        let f = fs::File::create(path).map_err(|e| {
            Error::msg(format!(
                "failed to create the container ID file: open {path}: {}",
                super::opts::io_text(&e)
            ))
        })?;
        Ok(CidFile {
            path: path.to_string(),
            file: Some(f),
            written: false,
        })
    }

    fn write(&mut self, id: &str) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.write_all(id.as_bytes())
                .map_err(|e| Error::msg(format!("failed to write the container ID to the file: {e}")))?;
            self.written = true;
        }
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if self.file.take().is_some() && !self.written {
            if let Err(e) = fs::remove_file(&self.path) {
                eprintln!("failed to remove the CID file '{}': {e}", self.path);
            }
        }
    }
}

/// Where `create` and `run` differ.
struct CreateOpts<'a> {
    name: &'a str,
    platform: &'a str,
    pull: &'a str,
    quiet: bool,
    cidfile: &'a str,
}

/// A 64-hex image ID: docker's `ParseAnyReference` takes it as an ID, never pulled.
fn is_image_id(s: &str) -> bool {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    h.len() == 64
        && h.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// Ref: docker/cli container `createContainer`.
fn create_container(ctx: &mut Ctx, req: &CreateRequest, o: &CreateOpts<'_>) -> Result<String> {
    let mut cid = CidFile::new(o.cidfile)?;
    let named = if is_image_id(&req.image) {
        None
    } else {
        Some(Reference::parse(&req.image)?.tag_name_only())
    };
    let platform = (!o.platform.is_empty()).then_some(o.platform);
    if o.pull == "always" {
        registry::pull_for_create(ctx, &req.image, platform, o.quiet)?;
    }
    let q = Query::new()
        .add_if(!o.name.is_empty(), "name", o.name)
        .add_opt("platform", platform);
    let path = format!("/containers/create{q}");
    let answer = match ctx.client.post(&path, Some(&req.body)) {
        Ok(a) => a,
        Err(e) if e.is_not_found() && named.is_some() && o.pull == "missing" => {
            let named = named.as_ref().expect("checked above");
            if !o.quiet {
                eprintln!("Unable to find image '{}' locally", named.familiar());
            }
            registry::pull_for_create(ctx, &req.image, platform, o.quiet)?;
            ctx.client.post(&path, Some(&req.body))?
        }
        Err(e) => return Err(e),
    };
    let mut warnings: Vec<String> = answer
        .get("Warnings")
        .and_then(Value::as_array)
        .map(|w| w.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    // Ref: docker/cli `localhostDNSWarning`.
    if let Some(dns) = req.body["HostConfig"]["Dns"].as_array() {
        if let Some(ip) = dns
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|d| d.parse::<std::net::IpAddr>().ok())
            .find(|ip| ip.is_loopback())
        {
            warnings.push(format!("Localhost DNS ({ip}) may fail in containers."));
        }
    }
    let id = sv(&answer, "Id").to_string();
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    cid.write(&id)?;
    Ok(id)
}

pub fn create(ctx: &mut Ctx, a: &CreateArgs) -> Result<()> {
    let req = parse_request(ctx, "create", &a.flags, &a.args)?;
    let f = &a.flags;
    let id = create_container(
        ctx,
        &req,
        &CreateOpts {
            name: &f.name,
            platform: &f.platform,
            pull: &f.pull,
            quiet: f.quiet,
            cidfile: &f.cidfile,
        },
    )?;
    crate::commands::out(&format!("{id}\n"))
}

/// The answer of `POST /containers/{id}/wait`, read on its own connection.
pub struct Waiter {
    rx: mpsc::Receiver<std::result::Result<(i64, Option<String>), String>>,
}

impl Waiter {
    /// Sends the wait request and reads the answer's head before returning, so the daemon
    /// watches the container before anything starts it (docker's `ContainerWait`).
    pub fn start(client: &Client, id: &str, condition: Option<&str>) -> Waiter {
        let (tx, rx) = mpsc::channel();
        let mut c = client.fork();
        let q = Query::new().add_opt("condition", condition);
        match c.send(Request::new("POST", format!("/containers/{id}/wait{q}"))) {
            Ok(resp) => {
                std::thread::spawn(move || {
                    let r = resp
                        .bytes()
                        .map_err(|e| e.to_string())
                        .and_then(|b| {
                            serde_json::from_slice::<Value>(&b)
                                .map_err(|_| String::from_utf8_lossy(&b).trim().to_string())
                        })
                        .map(|v| {
                            let msg = v
                                .get("Error")
                                .and_then(|e| e.get("Message"))
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            (v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0), msg)
                        });
                    let _ = tx.send(r);
                });
            }
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
            }
        }
        Waiter { rx }
    }

    /// The result within `d`, if any.
    pub fn result_within(&self, d: Duration) -> Option<std::result::Result<(i64, Option<String>), String>> {
        self.rx.recv_timeout(d).ok()
    }

    /// The result: (status code, error message of the wait).
    pub fn result(&self) -> std::result::Result<(i64, Option<String>), String> {
        self.rx
            .recv()
            .unwrap_or_else(|_| Err("wait for the container was interrupted".into()))
    }

    pub fn try_result(&self) -> Option<std::result::Result<(i64, Option<String>), String>> {
        self.rx.try_recv().ok()
    }

    /// `run`'s reading: errors are logged and become 125. Ref: docker `waitExitOrRemoved`.
    pub fn status(&self) -> i32 {
        Self::status_of(self.result())
    }

    fn status_of(r: std::result::Result<(i64, Option<String>), String>) -> i32 {
        match r {
            Ok((_, Some(m))) => {
                eprintln!("Error waiting for container: {m}");
                125
            }
            Ok((code, None)) => code as i32,
            Err(e) => {
                eprintln!("error waiting for container: {e}");
                125
            }
        }
    }
}

/// `POST /containers/{id}/attach?stream=1&...`, hijacked.
fn attach_request(ctx: &mut Ctx, id: &str, s: &Streams) -> Result<crate::http::Upgraded> {
    let q = Query::new()
        .add_opt("detachKeys", s.detach_keys.as_deref().filter(|k| !k.is_empty()))
        .add_if(s.stderr, "stderr", "1")
        .add_if(s.stdin, "stdin", "1")
        .add_if(s.stdout, "stdout", "1")
        .add("stream", "1");
    ctx.client.hijack(
        Request::new("POST", format!("/containers/{id}/attach{q}")).header("Content-Type", "text/plain"),
    )
}

/// The detach keys: the flag, else `detachKeys` of the config file.
fn detach_keys(ctx: &Ctx, flag: Option<&str>) -> Option<String> {
    if let Some(k) = flag.filter(|k| !k.is_empty()) {
        return Some(k.to_string());
    }
    crate::config::ConfigFile::load(&ctx.config_dir)
        .ok()
        .and_then(|c| {
            c.value
                .get("detachKeys")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|k| !k.is_empty())
}

fn check_tty(attach_stdin: bool, tty: bool) -> Result<()> {
    if tty && attach_stdin && !is_tty(0) {
        return Err(Error::msg("the input device is not a TTY"));
    }
    Ok(())
}

pub fn run(ctx: &mut Ctx, a: &RunArgs) -> Result<()> {
    let mut req = parse_request(ctx, "run", &a.flags, &a.args)?;
    if !a.detach {
        check_tty(req.attach_stdin, req.tty)?;
    } else {
        if !a.flags.attach.is_empty() {
            return Err(Error::msg(
                "conflicting options: cannot specify both --attach and --detach",
            ));
        }
        req.detach();
    }
    let f = &a.flags;
    let id = create_container(
        ctx,
        &req,
        &CreateOpts {
            name: &f.name,
            platform: &f.platform,
            pull: &f.pull,
            quiet: f.quiet,
            cidfile: &f.cidfile,
        },
    )
    .map_err(to_status_error)?;
    let attach = req.attach_stdin || req.attach_stdout || req.attach_stderr;
    if !attach {
        // Detached: nothing to wait for.
        start_container(ctx, &id).map_err(to_status_error)?;
        return crate::commands::out(&format!("{id}\n"));
    }
    let hub = SignalHub::start(&ctx.client, a.sig_proxy.then(|| id.clone()));
    let streams = Streams {
        stdin: req.attach_stdin,
        stdout: req.attach_stdout,
        stderr: req.attach_stderr,
        tty: req.tty,
        detach_keys: detach_keys(ctx, a.detach_keys.as_deref()),
    };
    let conn = attach_request(ctx, &id, &streams)?;
    let condition = if req.auto_remove { "removed" } else { "next-exit" };
    let waiter = Waiter::start(&ctx.client, &id, Some(condition));
    if let Err(e) = start_container(ctx, &id) {
        drop(conn);
        if req.auto_remove {
            // Docker waits for the daemon to remove the container; bounded here, so a daemon
            // that keeps it does not hang us.
            let _ = waiter.result_within(Duration::from_secs(5));
        }
        return Err(to_status_error(e));
    }
    if req.tty && is_tty(1) {
        hub.watch_size(&ctx.client, Target::Container(id.clone()));
    }
    if !req.attach_stdout && !req.attach_stderr {
        return run_input_only(conn, &streams, &waiter);
    }
    match stream::stream(conn, &streams)? {
        End::Detached => Ok(()),
        End::Done => match waiter.status() {
            0 => Ok(()),
            code => Err(Error::Exit(code)),
        },
    }
}

/// `run -a stdin`: our input goes in until the container exits (or we detach).
fn run_input_only(conn: crate::http::Upgraded, streams: &Streams, waiter: &Waiter) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let s = streams.clone();
    std::thread::spawn(move || {
        let _ = tx.send(stream::stream(conn, &s));
    });
    loop {
        if let Ok(r) = rx.recv_timeout(Duration::from_millis(50)) {
            if let End::Detached = r? {
                return Ok(());
            }
            return match waiter.status() {
                0 => Ok(()),
                c => Err(Error::Exit(c)),
            };
        }
        if let Some(r) = waiter.try_result() {
            return match Waiter::status_of(r) {
                0 => Ok(()),
                c => Err(Error::Exit(c)),
            };
        }
    }
}

fn start_container(ctx: &mut Ctx, id: &str) -> Result<()> {
    let r = ctx
        .client
        .send(Request::new("POST", format!("/containers/{id}/start")))?;
    let _ = r.bytes();
    Ok(())
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Restore from this checkpoint
    #[arg(long, value_name = "string", hide = true)]
    pub checkpoint: Option<String>,
    /// Use a custom checkpoint storage directory
    #[arg(long = "checkpoint-dir", value_name = "string", hide = true)]
    pub checkpoint_dir: Option<String>,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub fn start(ctx: &mut Ctx, a: &StartArgs) -> Result<()> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(Error::msg(
                "you cannot start and attach multiple containers at once",
            ));
        }
        let c = inspect_container(ctx, &a.containers[0], false)?;
        let id = sv(&c, "Id").to_string();
        let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
        let open_stdin = c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let auto_remove = c["HostConfig"]["AutoRemove"].as_bool().unwrap_or(false);
        let hub = SignalHub::start(&ctx.client, (!tty).then(|| id.clone()));
        let streams = Streams {
            stdin: a.interactive && open_stdin,
            stdout: true,
            stderr: true,
            tty,
            detach_keys: detach_keys(ctx, a.detach_keys.as_deref()),
        };
        let conn = attach_request(ctx, &id, &streams)?;
        let condition = if auto_remove { "removed" } else { "next-exit" };
        let waiter = Waiter::start(&ctx.client, &id, Some(condition));
        let q = Query::new()
            .add_opt("checkpoint", a.checkpoint.as_deref())
            .add_opt("checkpoint-dir", a.checkpoint_dir.as_deref());
        if let Err(e) = ctx
            .client
            .send(Request::new("POST", format!("/containers/{id}/start{q}")))
            .map(|r| {
                let _ = r.bytes();
            })
        {
            drop(conn);
            if auto_remove {
                let _ = waiter.result_within(Duration::from_secs(5));
            }
            return Err(e);
        }
        if tty && is_tty(1) {
            hub.watch_size(&ctx.client, Target::Container(id.clone()));
        }
        return match stream::stream(conn, &streams)? {
            End::Detached => Ok(()),
            End::Done => match waiter.status() {
                0 => Ok(()),
                code => Err(Error::Exit(code)),
            },
        };
    }
    if let Some(cp) = &a.checkpoint {
        if a.containers.len() > 1 {
            return Err(Error::msg("you cannot restore multiple containers at once"));
        }
        let q = Query::new()
            .add("checkpoint", cp)
            .add_opt("checkpoint-dir", a.checkpoint_dir.as_deref());
        let r = ctx.client.send(Request::new(
            "POST",
            format!("/containers/{}/start{q}", a.containers[0]),
        ))?;
        let _ = r.bytes();
        return Ok(());
    }
    let mut failed = Vec::new();
    for c in &a.containers {
        match start_container(ctx, c) {
            Ok(()) => crate::commands::out(&format!("{c}\n"))?,
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => {
                eprintln!("{e}");
                failed.push(c.as_str());
            }
        }
    }
    if !failed.is_empty() {
        return Err(Error::msg(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", value_name = "bool", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_parser = parse_bool)]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Ref: docker/cli container `inspectContainerAndCheckState`.
fn running_container(ctx: &mut Ctx, name: &str) -> Result<Value> {
    let c = inspect_container(ctx, name, false)?;
    let st = &c["State"];
    if !st["Running"].as_bool().unwrap_or(false) {
        return Err(Error::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if st["Paused"].as_bool().unwrap_or(false) {
        return Err(Error::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if st["Restarting"].as_bool().unwrap_or(false) {
        return Err(Error::msg(
            "You cannot attach to a restarting container, wait until it is running",
        ));
    }
    Ok(c)
}

pub fn attach(ctx: &mut Ctx, a: &AttachArgs) -> Result<()> {
    // The wait goes first, so an exit between the checks and the attach is not missed.
    ctx.client.api_version()?;
    let waiter = Waiter::start(&ctx.client, &a.container, None);
    let c = running_container(ctx, &a.container)?;
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    check_tty(!a.no_stdin, tty)?;
    let id = sv(&c, "Id").to_string();
    let streams = Streams {
        stdin: !a.no_stdin && c["Config"]["OpenStdin"].as_bool().unwrap_or(false),
        stdout: true,
        stderr: true,
        tty,
        detach_keys: detach_keys(ctx, a.detach_keys.as_deref()),
    };
    let hub = SignalHub::start(&ctx.client, (a.sig_proxy && !tty).then(|| a.container.clone()));
    let conn = attach_request(ctx, &a.container, &streams)?;
    running_container(ctx, &a.container)?;
    if tty && is_tty(1) {
        // A different size first, so the process sees a SIGWINCH even when ours did not change.
        let (h, w) = term::size(1);
        let t = Target::Container(id.clone());
        stream::resize_to(&ctx.client, &t, h + 1, w + 1);
        hub.watch_size(&ctx.client, t);
    }
    if stream::stream(conn, &streams)? == End::Detached {
        return Err(Error::msg("read escape sequence"));
    }
    match waiter.result() {
        Ok((_, Some(m))) => Err(Error::msg(m)),
        Ok((0, None)) => Ok(()),
        Ok((code, None)) => Err(Error::Exit(code as i32)),
        Err(e) => Err(Error::msg(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        let e = to_status_error(Error::Api {
            status: 400,
            message: "failed to create task: exec: \"nope\": executable file not found in $PATH".into(),
        });
        assert_eq!(e.code(), 127);
        assert!(e
            .to_string()
            .starts_with("berth: Error response from daemon: failed to create task"));
        assert!(e
            .to_string()
            .ends_with("\n\nRun 'berth run --help' for more information"));
        let e = to_status_error(Error::msg("exec /etc: permission denied"));
        assert_eq!(e.code(), 126);
        let e = to_status_error(Error::msg("No such image: x"));
        assert_eq!(e.code(), 125);
        assert!(is_image_id(&"a".repeat(64)));
        assert!(!is_image_id("busybox"));
    }
}
