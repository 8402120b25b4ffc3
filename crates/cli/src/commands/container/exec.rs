//! exec: create an exec instance, start it hijacked (or detached), exit with its exit code.
//!
//! Ref: docker/cli cli/command/container/exec.go.

use clap::Args;
use serde_json::{json, Value};

use super::stream::{self, End, SignalHub, Streams, Target};
use super::{inspect_container, opts, sv};
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::format::is_tty;
use crate::http::Request;
use crate::term;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long, value_name = "list", value_parser = opts::validate_env)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string", default_value = "")]
    pub user: String,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string", default_value = "")]
    pub workdir: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "COMMAND", required = true, trailing_var_arg = true, num_args = 1..)]
    pub command: Vec<String>,
}

pub fn exec(ctx: &mut Ctx, a: &ExecArgs) -> Result<()> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(opts::read_kv_file(f, true).map_err(Error::Msg)?);
    }
    env.extend(a.env.iter().cloned());
    let attach_stdin = !a.detach && a.interactive;
    let attach_out = !a.detach;
    let detach_keys = a.detach_keys.clone().filter(|k| !k.is_empty()).or_else(|| {
        crate::config::ConfigFile::load(&ctx.config_dir)
            .ok()
            .and_then(|c| {
                c.value
                    .get("detachKeys")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
    });
    inspect_container(ctx, &a.container, false)?;
    if !a.detach && a.tty && attach_stdin && !is_tty(0) {
        return Err(Error::msg("the input device is not a TTY"));
    }
    let mut body = json!({
        "User": a.user,
        "Privileged": a.privileged,
        "Tty": a.tty,
        "AttachStdin": attach_stdin,
        "AttachStderr": attach_out,
        "AttachStdout": attach_out,
        "Detach": a.detach,
        "DetachKeys": detach_keys.clone().unwrap_or_default(),
        "Env": if env.is_empty() { Value::Null } else { json!(env) },
        "WorkingDir": a.workdir,
        "Cmd": a.command,
    });
    let console = if a.tty {
        let (h, w) = if is_tty(1) { term::size(1) } else { (0, 0) };
        body["ConsoleSize"] = json!([h, w]);
        Some(json!([h, w]))
    } else {
        None
    };
    let created = ctx
        .client
        .post(&format!("/containers/{}/exec", a.container), Some(&body))?;
    let exec_id = sv(&created, "Id").to_string();
    if exec_id.is_empty() {
        return Err(Error::msg("exec ID empty"));
    }
    let mut start = json!({"Detach": a.detach, "Tty": a.tty});
    if let Some(c) = console {
        start["ConsoleSize"] = c;
    }
    if a.detach {
        let r = ctx
            .client
            .send(Request::new("POST", format!("/exec/{exec_id}/start")).json(&start))?;
        let _ = r.bytes();
        return Ok(());
    }
    let streams = Streams {
        stdin: attach_stdin,
        stdout: true,
        stderr: true,
        tty: a.tty,
        detach_keys,
    };
    let conn = ctx
        .client
        .hijack(Request::new("POST", format!("/exec/{exec_id}/start")).json(&start))?;
    if a.tty && is_tty(0) {
        SignalHub::start(&ctx.client, None).watch_size(&ctx.client, Target::Exec(exec_id.clone()));
    }
    if stream::stream(conn, &streams)? == End::Detached {
        return Err(Error::msg("read escape sequence"));
    }
    // Docker reads the exit code once; a daemon that closes the stream a moment before it
    // records the code would turn every failure into 0, so an unfinished answer is asked again.
    let mut tries = 0;
    loop {
        match ctx.client.get(&format!("/exec/{exec_id}/json")) {
            Ok(v) => {
                let pending = v.get("Running").and_then(Value::as_bool) == Some(true)
                    || v.get("ExitCode").is_some_and(Value::is_null);
                if pending && tries < 50 {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                return match v.get("ExitCode").and_then(Value::as_i64).unwrap_or(0) {
                    0 => Ok(()),
                    c => Err(Error::Exit(c as i32)),
                };
            }
            Err(Error::Connect(_)) => return Err(Error::Exit(-1)),
            Err(e) => return Err(e),
        }
    }
}
