//! berth: the command line. A client of the Docker Engine API served by berthd, with the docker
//! CLI's commands, flags, output and exit codes.

#![recursion_limit = "256"]

mod cli;
mod client;
mod commands;
mod config;
mod error;
mod format;
mod host;
mod http;
mod progress;
mod reference;
mod term;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match cli::run(&args) {
        Ok(()) => 0,
        Err(e) => {
            let msg = e.to_string();
            if !msg.is_empty() {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{msg}");
            }
            e.code()
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
