//! Go's `text/template` language, as the Docker CLI uses it for `--format`,
//! evaluated over [`serde_json::Value`] data.
//!
//! The data model is what Go sees after decoding JSON into `interface{}`:
//! objects behave as `map[string]interface{}` (a missing key yields "no
//! value", printed `<no value>`), arrays as `[]interface{}`, `null` as a nil
//! interface. Integers print as integers; other numbers print as Go prints a
//! `float64`.
//!
//! Docker's extra functions (`json`, `split`, `join`, `title`, `lower`,
//! `upper`, `pad`, `truncate`) are always available, as in the Docker CLI's
//! `templates.Parse`.
//!
//! Also here: Docker's table-format helpers ([`is_table`], [`table_body`]) and
//! a port of Go's `text/tabwriter` ([`TabWriter`]) that Docker prints tables
//! with.
//!
//! Ref: Go `text/template` (doc.go, exec.go, funcs.go, parse/), Go `fmt`,
//! docker/cli `templates/templates.go` and `cli/command/formatter`.

mod exec;
mod fmt;
mod funcs;
mod json;
mod lex;
mod parse;
mod tabwriter;

use std::collections::BTreeMap;

pub use tabwriter::{docker_tabwriter, TabWriter};

/// A template parse or execution failure.
///
/// Positions are Go's: `line` is 1-based, `col` is the 0-based byte offset
/// within that line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template text is not valid.
    #[error("template: :{line}:{col}: {message}")]
    Parse {
        line: usize,
        col: usize,
        message: String,
    },
    /// Executing the template against the data failed. `name` is the
    /// template being executed (`""` for the top level, or a `define`d one);
    /// positions are in the whole parsed text, as Go reports them.
    #[error("template: :{line}:{col}: executing {name:?} at <{context}>: {message}")]
    Exec {
        name: String,
        line: usize,
        col: usize,
        /// The source text of the node being evaluated, as Go shows it.
        context: String,
        message: String,
    },
}

/// A parsed template, reusable and shareable across threads.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    root: Vec<parse::Node>,
    defs: BTreeMap<String, Vec<parse::Node>>,
    missing_key_error: bool,
}

impl Template {
    /// Parses `text` as an anonymous template (named `""`, as Docker names
    /// its `--format` templates), with Go's builtins and Docker's functions.
    pub fn parse(text: &str) -> Result<Template, Error> {
        let parsed = parse::parse(text)?;
        Ok(Template {
            source: text.to_string(),
            root: parsed.root,
            defs: parsed.defs,
            missing_key_error: false,
        })
    }

    /// Makes a missing object key an execution error instead of `<no value>`,
    /// like Go's `Option("missingkey=error")`, which `docker inspect` uses
    /// when it re-runs a template over the raw JSON.
    pub fn missing_key_error(mut self, on: bool) -> Template {
        self.missing_key_error = on;
        self
    }

    /// Runs the template with `data` as dot and `$`.
    pub fn execute(&self, data: &serde_json::Value) -> Result<String, Error> {
        exec::execute(self, data)
    }
}

/// Docker's table marker: a `--format` starting with `table` prints a table
/// with a header row.
///
/// Ref: docker/cli cli/command/formatter/formatter.go `Format.IsTable`.
pub fn is_table(format: &str) -> bool {
    format.starts_with("table")
}

/// The per-row template of a `--format`, prepared as Docker does: the `table`
/// prefix removed, surrounding spaces trimmed, and the two-character sequences
/// `\t` and `\n` turned into a tab and a newline.
///
/// Ref: docker/cli cli/command/formatter/formatter.go `Context.preFormat`.
pub fn table_body(format: &str) -> String {
    let body = format.strip_prefix("table").unwrap_or(format);
    let body = body.trim_matches(' ');
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('t') => {
                    chars.next();
                    out.push('\t');
                    continue;
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// Go's line and in-line byte offset of byte `pos` in `source`.
pub(crate) fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let before = &source.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}
