//! `GET /containers/{id}/logs`: reading the json-file logs the shim writes, with dockerd's
//! `tail`, `since`, `until`, `timestamps` and `follow` (which follows across rotation).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc::Sender;

use super::{Container, Containers};
use crate::util::{parse_rfc3339, rfc3339_nano};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Keep only the last N lines (None: all).
    pub tail: Option<usize>,
    /// Unix nanoseconds, 0 = unset.
    pub since: i64,
    pub until: i64,
    /// Output as Docker's multiplexed stream (no tty) or raw.
    pub multiplexed: bool,
}

#[derive(Debug, Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

/// One log record, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stream: u8,
    pub time: i64,
    pub text: String,
}

pub fn parse_line(line: &str) -> Option<Record> {
    let e: Entry = serde_json::from_str(line).ok()?;
    let stream = if e.stream == "stderr" { 2 } else { 1 };
    Some(Record {
        stream,
        time: parse_rfc3339(&e.time).unwrap_or(0),
        text: e.log,
    })
}

/// Docker's frame: `[stream, 0, 0, 0, len u32 BE]` + payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn render(r: &Record, o: &LogOptions) -> Option<Vec<u8>> {
    if (r.stream == 1 && !o.stdout) || (r.stream == 2 && !o.stderr) {
        return None;
    }
    if o.since != 0 && r.time < o.since {
        return None;
    }
    if o.until != 0 && r.time > o.until {
        return None;
    }
    let mut payload = Vec::new();
    if o.timestamps {
        payload.extend_from_slice(rfc3339_nano_fixed(r.time).as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(r.text.as_bytes());
    Some(if o.multiplexed {
        frame(r.stream, &payload)
    } else {
        payload
    })
}

/// dockerd prints log timestamps with nine fraction digits (`RFC3339NanoFixed`).
fn rfc3339_nano_fixed(nanos: i64) -> String {
    let s = rfc3339_nano(nanos - nanos.rem_euclid(1_000_000_000));
    let base = s.trim_end_matches('Z');
    format!("{base}.{:09}Z", nanos.rem_euclid(1_000_000_000))
}

/// The log files oldest first: `<path>.N` … `<path>.1`, `<path>`.
fn files(path: &Path) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        rotated.push(p);
    }
    rotated.reverse();
    rotated.push(path.to_path_buf());
    rotated
}

/// Reads what the log holds now; returns the open live file and its offset for `follow`.
fn read_existing(path: &Path, o: &LogOptions) -> (Vec<Vec<u8>>, Option<(std::fs::File, u64)>) {
    let mut records: Vec<Record> = Vec::new();
    let mut live = None;
    for f in files(path) {
        let Ok(file) = std::fs::File::open(&f) else {
            continue;
        };
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        let mut offset = 0u64;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !line.ends_with('\n') {
                        // A line being written: leave it for follow.
                        break;
                    }
                    offset += n as u64;
                    if let Some(r) = parse_line(line.trim_end()) {
                        records.push(r);
                    }
                }
            }
        }
        if f == path {
            live = Some((reader.into_inner(), offset));
        }
    }
    if let Some(n) = o.tail {
        let skip = records.len().saturating_sub(n);
        records.drain(..skip);
    }
    let out = records.iter().filter_map(|r| render(r, o)).collect();
    (out, live)
}

impl Containers {
    /// Sends the logs into `tx`, following them while the container runs when asked.
    pub async fn logs(
        self: &Arc<Self>,
        c: Arc<Container>,
        o: LogOptions,
        tx: Sender<std::io::Result<Bytes>>,
    ) {
        let path = self.log_path(&c.id);
        let (chunks, live) = {
            let path = path.clone();
            let o = o.clone();
            match tokio::task::spawn_blocking(move || read_existing(&path, &o)).await {
                Ok(v) => v,
                Err(_) => return,
            }
        };
        for ch in chunks {
            if tx.send(Ok(Bytes::from(ch))).await.is_err() {
                return;
            }
        }
        if !o.follow || (o.until != 0 && o.until < crate::util::now_nanos()) {
            return;
        }
        let (mut file, mut offset) = match live {
            Some(v) => v,
            None => match std::fs::File::open(&path) {
                Ok(f) => (f, 0),
                Err(_) => {
                    // No log yet (never started, or log driver none): wait for one while it runs.
                    if !c.state().status.is_live() {
                        return;
                    }
                    loop {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if let Ok(f) = std::fs::File::open(&path) {
                            break (f, 0);
                        }
                        if !c.state().status.is_live() || tx.is_closed() {
                            return;
                        }
                    }
                }
            },
        };
        let mut pending = Vec::new();
        let mut idle_after_exit = 0;
        loop {
            // Read what was appended since the last look.
            let mut buf = Vec::new();
            let _ = file.seek(SeekFrom::Start(offset));
            if let Ok(n) = (&file).read_to_end(&mut buf) {
                offset += n as u64;
            }
            pending.extend_from_slice(&buf);
            while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                if let Some(r) = parse_line(String::from_utf8_lossy(&line).trim_end()) {
                    if o.until != 0 && r.time > o.until {
                        return;
                    }
                    if let Some(ch) = render(&r, &o) {
                        if tx.send(Ok(Bytes::from(ch))).await.is_err() {
                            return;
                        }
                    }
                }
            }
            // Rotated: the path names a new file; the old one is read to its end above.
            let rotated = match (std::fs::metadata(&path), file.metadata()) {
                (Ok(a), Ok(b)) => a.ino() != b.ino(),
                _ => false,
            };
            if rotated {
                if let Ok(f) = std::fs::File::open(&path) {
                    file = f;
                    offset = 0;
                    continue;
                }
            }
            if tx.is_closed() {
                return;
            }
            if !c.state().status.is_live() {
                // The shim may still be flushing its last lines; look twice more.
                idle_after_exit += 1;
                if idle_after_exit > 2 && buf.is_empty() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_frames_and_filters() {
        let r = parse_line(r#"{"log":"hi\n","stream":"stderr","time":"2026-12-03T10:00:00.5Z"}"#).unwrap();
        assert_eq!(r.stream, 2);
        assert_eq!(r.text, "hi\n");
        let o = LogOptions {
            stdout: true,
            stderr: true,
            multiplexed: true,
            ..Default::default()
        };
        assert_eq!(
            render(&r, &o).unwrap(),
            [&[2u8, 0, 0, 0, 0, 0, 0, 3][..], b"hi\n"].concat()
        );
        let o = LogOptions {
            stdout: true,
            stderr: false,
            ..Default::default()
        };
        assert!(render(&r, &o).is_none());
        let o = LogOptions {
            stderr: true,
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(render(&r, &o).unwrap()).unwrap(),
            "2026-12-03T10:00:00.500000000Z hi\n"
        );
    }

    #[test]
    fn tail_and_rotation_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let line = |t: &str| {
            format!("{{\"log\":\"{t}\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-03T10:00:00Z\"}}\n")
        };
        std::fs::write(format!("{}.2", p.display()), line("a")).unwrap();
        std::fs::write(format!("{}.1", p.display()), line("b")).unwrap();
        std::fs::write(&p, format!("{}{}", line("c"), line("d"))).unwrap();
        let o = LogOptions {
            stdout: true,
            ..Default::default()
        };
        let (out, live) = read_existing(&p, &o);
        assert_eq!(out.concat(), b"a\nb\nc\nd\n");
        assert!(live.is_some());
        let o = LogOptions {
            stdout: true,
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(read_existing(&p, &o).0.concat(), b"c\nd\n");
    }
}
