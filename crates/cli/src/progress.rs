//! Docker's jsonmessage stream rendering (pull, push, load, import, bootstrap).
//!
//! Ref: docker/docker pkg/jsonmessage `DisplayJSONMessagesStream` and `JSONProgress.String`. On a
//! terminal every id keeps its own line, rewritten in place with cursor moves, with a progress bar;
//! elsewhere progress updates are dropped and only status lines are printed.

use std::collections::HashMap;
use std::io::Write;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::format::{civil_in, go_duration, human_size, local};

/// Renders one progress object (`{"current","total","start","units","hidecounts"}`) for a terminal
/// `width` columns wide at Unix time `now`.
pub fn progress_string(p: &Value, width: usize, now: i64) -> String {
    let current = p.get("current").and_then(Value::as_i64).unwrap_or(0);
    let total = p.get("total").and_then(Value::as_i64).unwrap_or(0);
    let start = p.get("start").and_then(Value::as_i64).unwrap_or(0);
    let units = p.get("units").and_then(Value::as_str).unwrap_or("");
    let hide = p.get("hidecounts").and_then(Value::as_bool).unwrap_or(false);
    if current <= 0 && total <= 0 {
        return String::new();
    }
    if total <= 0 {
        return if units.is_empty() {
            format!("{:>8}", human_size(current as f64))
        } else {
            format!("{current} {units}")
        };
    }
    let percentage = (((current as f64 / total as f64) * 100.0) as i64 / 2).min(50);
    let mut bar = String::new();
    if width > 110 {
        let spaces = (50 - percentage).max(0) as usize;
        bar = format!(
            "[{}>{}] ",
            "=".repeat(percentage.max(0) as usize),
            " ".repeat(spaces)
        );
    }
    let numbers = if hide {
        String::new()
    } else if units.is_empty() {
        let c = human_size(current as f64);
        if current > total {
            format!("{c:>8}")
        } else {
            format!("{c:>8}/{}", human_size(total as f64))
        }
    } else if current > total {
        format!("{current} {units}")
    } else {
        format!("{current}/{total} {units}")
    };
    let mut left = String::new();
    if current > 0 && start > 0 && percentage < 50 && width > 50 {
        let from_start_ns = (now - start).max(0) as i128 * 1_000_000_000;
        let per = from_start_ns / current as i128;
        let remaining = (total - current) as i128 * per / 1_000_000_000;
        left = format!(" {}", go_duration(remaining as i64));
    }
    format!("{bar}{numbers}{left}")
}

/// The error carried by a message, if any (`errorDetail`, or the older `error`).
pub fn message_error(m: &Value) -> Option<String> {
    if let Some(d) = m.get("errorDetail").filter(|d| !d.is_null()) {
        if d.get("code").and_then(Value::as_i64) == Some(401) {
            return Some("authentication is required".into());
        }
        return Some(
            d.get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        );
    }
    m.get("error")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Renders a message stream to `out`.
#[derive(Debug)]
pub struct Renderer {
    tty: bool,
    width: usize,
    ids: HashMap<String, usize>,
    /// Unix time used for the time-left estimate; `None` reads the clock.
    pub now: Option<i64>,
    /// Use UTC rather than the local zone for message timestamps (tests).
    pub utc: bool,
}

fn str_of<'a>(m: &'a Value, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

impl Renderer {
    pub fn new(tty: bool, width: usize) -> Renderer {
        Renderer {
            tty,
            width,
            ids: HashMap::new(),
            now: None,
            utc: false,
        }
    }

    /// For stdout: a terminal's width, or 200 columns as docker assumes without one.
    pub fn for_stdout() -> Renderer {
        let tty = crate::format::is_tty(1);
        Renderer::new(
            tty,
            if tty {
                terminal_width(1).unwrap_or(200)
            } else {
                200
            },
        )
    }

    /// Renders one message. `aux` messages are returned to the caller instead; error messages
    /// become `Err`.
    pub fn render(&mut self, out: &mut dyn Write, m: &Value) -> Result<Option<Value>> {
        if let Some(aux) = m.get("aux").filter(|a| !a.is_null()) {
            return Ok(Some(aux.clone()));
        }
        let id = str_of(m, "id");
        let progress = m.get("progressDetail").filter(|p| {
            // Go decodes `{}` into a non-nil pointer as well; only an absent/null field is nil.
            !p.is_null()
        });
        let progress_message = str_of(m, "progress");
        let mut diff = 0;
        if !id.is_empty() && (progress.is_some() || !progress_message.is_empty()) {
            let line = match self.ids.get(id) {
                Some(l) => *l,
                None => {
                    let l = self.ids.len();
                    self.ids.insert(id.to_string(), l);
                    if self.tty {
                        out.write_all(b"\n")?;
                    }
                    l
                }
            };
            diff = self.ids.len() - line;
            if self.tty && diff > 0 {
                write!(out, "\x1b[{diff}A")?;
            }
        } else {
            self.ids.clear();
        }
        let res = self.display(out, m, progress);
        if !id.is_empty() && self.tty && diff > 0 {
            write!(out, "\x1b[{diff}B")?;
        }
        res?;
        Ok(None)
    }

    fn display(&self, out: &mut dyn Write, m: &Value, progress: Option<&Value>) -> Result<()> {
        if let Some(e) = message_error(m) {
            return Err(Error::Msg(e));
        }
        let now = self.now.unwrap_or_else(|| crate::format::now().0);
        let stream = str_of(m, "stream");
        let mut endl = "";
        if self.tty && stream.is_empty() && progress.is_some() {
            out.write_all(b"\x1b[2K\r")?;
            endl = "\r";
        } else if let Some(p) = progress {
            if !progress_string(p, self.width, now).is_empty() {
                return Ok(());
            }
        }
        let time_nano = m.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
        let time = m.get("time").and_then(Value::as_i64).unwrap_or(0);
        let stamp = |secs: i64, nanos: u32| {
            if self.utc {
                civil_in(secs, nanos, 0, "UTC")
            } else {
                local(secs, nanos)
            }
            .rfc3339_nano_fixed()
        };
        if time_nano != 0 {
            write!(
                out,
                "{} ",
                stamp(
                    time_nano.div_euclid(1_000_000_000),
                    time_nano.rem_euclid(1_000_000_000) as u32
                )
            )?;
        } else if time != 0 {
            write!(out, "{} ", stamp(time, 0))?;
        }
        let id = str_of(m, "id");
        if !id.is_empty() {
            write!(out, "{id}: ")?;
        }
        let from = str_of(m, "from");
        if !from.is_empty() {
            write!(out, "(from {from}) ")?;
        }
        let status = str_of(m, "status");
        let pm = str_of(m, "progress");
        if let (Some(p), true) = (progress, self.tty) {
            write!(out, "{status} {}{endl}", progress_string(p, self.width, now))?;
        } else if !pm.is_empty() {
            write!(out, "{status} {pm}{endl}")?;
        } else if !stream.is_empty() {
            write!(out, "{stream}{endl}")?;
        } else {
            writeln!(out, "{status}{endl}")?;
        }
        Ok(())
    }
}

/// Columns of the terminal on `fd`.
pub fn terminal_width(fd: i32) -> Option<usize> {
    // SAFETY: an all-zero winsize is valid for TIOCGWINSZ to fill in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid pointer given.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Renders a whole stream from the daemon to stdout; returns the `aux` payloads seen.
pub fn display_stream(
    messages: impl Iterator<Item = Result<Value>>,
    out: &mut dyn Write,
    renderer: &mut Renderer,
) -> Result<Vec<Value>> {
    let mut aux = Vec::new();
    for m in messages {
        let m = m?;
        if let Some(a) = renderer.render(out, &m)? {
            aux.push(a);
        }
        out.flush()?;
    }
    Ok(aux)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(tty: bool, msgs: &[Value]) -> (String, Result<Vec<Value>>) {
        let mut out = Vec::new();
        let mut r = Renderer::new(tty, 200);
        r.now = Some(1000);
        r.utc = true;
        let res = display_stream(msgs.iter().cloned().map(Ok), &mut out, &mut r);
        (String::from_utf8(out).unwrap(), res)
    }

    fn pull_messages() -> Vec<Value> {
        vec![
            json!({"status":"Pulling from library/busybox","id":"latest"}),
            json!({"status":"Pulling fs layer","progressDetail":{},"id":"a1"}),
            json!({"status":"Downloading","progressDetail":{"current":12_300_000,"total":45_600_000},"progress":"[==>  ]","id":"a1"}),
            json!({"status":"Pull complete","progressDetail":{},"id":"a1"}),
            json!({"status":"Digest: sha256:abc"}),
            json!({"status":"Status: Downloaded newer image for busybox:latest"}),
        ]
    }

    #[test]
    fn plain_output_drops_progress_bars() {
        let (out, res) = run(false, &pull_messages());
        res.unwrap();
        assert_eq!(
            out,
            "latest: Pulling from library/busybox\n\
             a1: Pulling fs layer\n\
             a1: Pull complete\n\
             Digest: sha256:abc\n\
             Status: Downloaded newer image for busybox:latest\n"
        );
    }

    #[test]
    fn terminal_output_rewrites_lines_in_place() {
        let (out, res) = run(true, &pull_messages());
        res.unwrap();
        let bar = format!("[{}>{}] ", "=".repeat(13), " ".repeat(37));
        let expected = format!(
            "latest: Pulling from library/busybox\n\
             \n\x1b[1A\x1b[2K\ra1: Pulling fs layer \r\x1b[1B\
             \x1b[1A\x1b[2K\ra1: Downloading {bar}  12.3MB/45.6MB\r\x1b[1B\
             \x1b[1A\x1b[2K\ra1: Pull complete \r\x1b[1B\
             Digest: sha256:abc\n\
             Status: Downloaded newer image for busybox:latest\n"
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn errors_stop_the_stream() {
        let msgs = vec![
            json!({"status":"Loading"}),
            json!({"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}),
            json!({"status":"never"}),
        ];
        let (out, res) = run(false, &msgs);
        assert_eq!(out, "Loading\n");
        assert_eq!(res.unwrap_err().to_string(), "manifest unknown");
        let (_, res) = run(false, &[json!({"errorDetail":{"code":401,"message":"x"}})]);
        assert_eq!(res.unwrap_err().to_string(), "authentication is required");
    }

    #[test]
    fn streams_aux_and_times() {
        let msgs = vec![
            json!({"stream":"Loaded image: busybox:latest\n"}),
            json!({"aux":{"ID":"sha256:1"}}),
            json!({"status":"x","timeNano":1_000_000_001_i64}),
        ];
        let (out, res) = run(false, &msgs);
        assert_eq!(res.unwrap(), vec![json!({"ID":"sha256:1"})]);
        assert_eq!(
            out,
            "Loaded image: busybox:latest\n1970-01-01T00:00:01.000000001Z x\n"
        );
    }

    #[test]
    fn progress_strings() {
        let p = json!({"current":12_300_000,"total":45_600_000,"start":900});
        // 100 s for 12.3 MB: 33.3 MB left takes 270 s.
        assert_eq!(progress_string(&p, 80, 1000), "  12.3MB/45.6MB 4m30s");
        assert_eq!(progress_string(&json!({"current":5}), 200, 0), "      5B");
        assert_eq!(
            progress_string(&json!({"current":3,"total":2,"units":"items"}), 80, 0),
            "3 items"
        );
        assert_eq!(progress_string(&json!({}), 200, 0), "");
    }
}
