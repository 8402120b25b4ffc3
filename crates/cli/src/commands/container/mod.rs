//! Container commands: create, run, start, attach, exec, ps, logs, the lifecycle verbs, inspect,
//! stats, cp and friends. One file per operation family; the flag parsers in `opts`, the create
//! request in `config`, hijacked streams in `stream`.

pub mod config;
pub mod cp;
pub mod exec;
pub mod list;
pub mod logs;
pub mod manage;
pub mod mounts;
pub mod opts;
pub mod ports;
pub mod run;
pub mod stats;
pub mod stream;

use serde_json::Value;

use crate::client::Query;
use crate::commands::Ctx;
use crate::error::{Error, Result};
use crate::http::Request;

/// A string field of a JSON object ("" when absent).
pub fn sv<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `GET /containers/{name}/json` (`size=1` with `size`).
pub fn inspect_container(ctx: &mut Ctx, name: &str, size: bool) -> Result<Value> {
    let q = Query::new().add_if(size, "size", "1");
    ctx.client.get(&format!("/containers/{name}/json{q}"))
}

/// The raw JSON of `GET /containers/{name}/json`, as inspect prints it.
pub fn inspect_container_raw(ctx: &mut Ctx, name: &str, size: bool) -> Result<Vec<u8>> {
    let q = Query::new().add_if(size, "size", "1");
    let r = ctx
        .client
        .send(Request::new("GET", format!("/containers/{name}/json{q}")))?;
    r.bytes()
        .map_err(|e| Error::msg(format!("error reading the daemon's answer: {e}")))
}

/// Runs `op` on each name; prints the names that succeeded, then returns every failure joined
/// by newlines (Go's `errors.Join`), as docker's stop, kill, rm, pause ... do.
pub fn each(names: &[String], mut op: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut errs = Vec::new();
    for n in names {
        match op(n) {
            Ok(()) => crate::commands::out(&format!("{n}\n"))?,
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => errs.push(e.to_string()),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errs.join("\n")))
    }
}

/// Sends a request whose answer has no body worth reading.
pub fn call(ctx: &mut Ctx, method: &str, path: String) -> Result<()> {
    let r = ctx.client.send(Request::new(method, path))?;
    let _ = r.bytes();
    Ok(())
}
