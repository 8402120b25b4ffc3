//! One module per command group. Each command takes its parsed arguments and a [`Ctx`].

pub mod container;
pub mod image;
pub mod registry;
pub mod system;
pub mod volume;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::client::Client;
use crate::error::Result;

/// What every command gets: the API client and where the CLI's config lives.
#[derive(Debug)]
pub struct Ctx {
    pub client: Client,
    pub config_dir: PathBuf,
    pub debug: bool,
}

/// Docker's `[y/N]` prompt on stdout; true for "y" / "yes".
/// Ref: docker/cli command `PromptForConfirmation`.
pub fn confirm(message: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    write!(out, "{message} [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let a = answer.trim().to_ascii_lowercase();
    Ok(a == "y" || a == "yes")
}

/// Parses docker's boolean flag values (`--human=false`).
pub fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing \"{s}\": invalid syntax")),
    }
}

/// Writes `s` to stdout.
pub fn out(s: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    o.flush()?;
    Ok(())
}
