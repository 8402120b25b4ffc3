//! berth-shim: one small monitor per container, as decision 0012 describes
//! (docs/decisions/0012-container-engine-and-shim.md).
//!
//! berthd starts it for each run of a container. It makes the container's stdio, runs `RUNTIME
//! create`, prints `{"pid":N}` or `{"error":"…"}` on stdout, then serves `<state-dir>/shim.sock`
//! in one single-threaded poll(2) loop: it writes the json-file log, feeds attach clients, keeps
//! `state.json`, reaps the container (it is a child subreaper) and restarts it by its policy.
//!
//! It stays small because one runs per container: libc and std only, JSON and times formatted
//! by hand, buffers allocated when used, and code pages released when idle (`memory.rs`).
//!
//! Module map: `args`, `request`, `json`, `time`, `logfile`, `state`, `restart` are pure and
//! unit-tested; `sys` wraps the system calls; `runtime` runs the OCI runtime; `container` creates
//! one run of the container; `client` is one socket connection; `shim` is the loop.

mod args;
mod client;
mod container;
mod json;
mod logfile;
mod memory;
mod request;
mod restart;
mod runtime;
mod shim;
mod state;
mod sys;
mod time;

use std::io::Write;
use std::sync::OnceLock;

static ID: OnceLock<String> = OnceLock::new();

/// A diagnostic on the shim's stderr (berthd's log while berthd lives), naming the container.
pub fn warn(msg: &str) {
    let id = ID.get().map_or("", String::as_str);
    let _ = writeln!(std::io::stderr(), "berth-shim: container `{id}`: {msg}");
}

fn main() {
    sys::ensure_stdio_open();
    memory::init();
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            shim::ready(Err(&e));
            std::process::exit(2);
        }
    };
    let _ = ID.set(opts.id.clone());
    match shim::Shim::init(opts) {
        Ok(s) => {
            shim::ready(Ok(s.pid()));
            s.serve();
            std::process::exit(0);
        }
        Err(e) => {
            shim::ready(Err(&e));
            std::process::exit(1);
        }
    }
}
