//! logs: the container's log stream, demultiplexed to our stdout and stderr unless the
//! container has a TTY. Ref: docker/cli cli/command/container/logs.go.

use std::io;

use clap::Args;

use super::stream::{copy_raw, demux};
use super::{inspect_container, sv};
use crate::client::Query;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::format::{get_timestamp, now};
use crate::http::Request;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn logs(ctx: &mut Ctx, a: &LogsArgs) -> Result<()> {
    let c = inspect_container(ctx, &a.container, false)?;
    let t = now();
    let since = a
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| get_timestamp(s, t))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| get_timestamp(s, t))
        .transpose()?;
    let q = Query::new()
        .add_if(a.details, "details", "1")
        .add_if(a.follow, "follow", "1")
        .add_opt("since", since.as_deref())
        .add("stderr", "1")
        .add("stdout", "1")
        .add("tail", &a.tail)
        .add_if(a.timestamps, "timestamps", "1")
        .add_opt("until", until.as_deref());
    let mut resp = ctx.client.send(Request::new(
        "GET",
        format!("/containers/{}/logs{q}", sv(&c, "Id")),
    ))?;
    let stdout = io::stdout();
    let res = if c["Config"]["Tty"].as_bool().unwrap_or(false) {
        copy_raw(&mut resp.body, &mut stdout.lock())
    } else {
        demux(&mut resp.body, &mut stdout.lock(), &mut io::stderr().lock())
    };
    res.map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Error::Exit(1)
        } else {
            Error::msg(e.to_string())
        }
    })
}
