//! Streams of attached containers and execs: docker's stdout/stderr multiplexing, the hijacked
//! connection's two directions, detach keys, and the terminal around them.
//!
//! Ref: docker/cli cli/command/container/hijack.go (`hijackedIOStreamer`), moby
//! pkg/stdcopy (`StdCopy`), moby/term (`escapeProxy`).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::{Client, Query};
use crate::error::{Error, Result};
use crate::http::{Request, Upgraded};
use crate::term::{self, RawMode, Signals};

/// Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[16, 17];

/// The escape error of moby/term, carried inside an `io::Error`.
#[derive(Debug)]
struct Escape;

impl std::fmt::Display for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("read escape sequence")
    }
}

impl std::error::Error for Escape {}

fn is_escape(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|x| x.is::<Escape>())
}

/// A reader that stops at the detach key sequence, holding back a partial match until it is
/// known not to be one. Ref: moby/term `escapeProxy.Read`.
#[derive(Debug)]
pub struct EscapeProxy<R> {
    keys: Vec<u8>,
    pos: usize,
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> EscapeProxy<R> {
    pub fn new(inner: R, keys: Vec<u8>) -> Self {
        EscapeProxy {
            keys,
            pos: 0,
            inner,
            buf: Vec::new(),
        }
    }

    /// One pass of moby's algorithm: (bytes for the caller, inner reader at EOF).
    fn read_once(&mut self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        if !self.keys.is_empty() && self.pos == self.keys.len() {
            return Err(io::Error::other(Escape));
        }
        let mut n = 0;
        if !self.buf.is_empty() {
            n = self.buf.len().min(buf.len());
            buf[..n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
        }
        let nr = if n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(x) => x,
                Err(e) if n == 0 => return Err(e),
                Err(_) => 0,
            }
        } else {
            0
        };
        let eof = nr == 0 && n < buf.len();
        n += nr;
        if self.keys.is_empty() {
            return Ok((n, eof));
        }
        let mut i = 0;
        while i < n {
            if buf[i] == self.keys[self.pos] {
                self.pos += 1;
                if self.pos == self.keys.len() {
                    let before = (i + 1).saturating_sub(self.pos);
                    if before == 0 {
                        return Err(io::Error::other(Escape));
                    }
                    // The bytes before the sequence go out first; the next read reports it.
                    return Ok((before, false));
                }
                i += 1;
                continue;
            }
            if i < self.pos {
                let mut preserve = self.keys[..self.pos].to_vec();
                preserve.extend_from_slice(&buf[..n]);
                let m = preserve.len().min(buf.len());
                buf[..m].copy_from_slice(&preserve[..m]);
                self.buf.extend_from_slice(&preserve[m..]);
                i += self.pos;
                n = m;
            }
            self.pos = 0;
            i += 1;
        }
        Ok((n.saturating_sub(self.pos), eof))
    }
}

impl<R: Read> Read for EscapeProxy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let (n, eof) = self.read_once(buf)?;
            if n > 0 || eof {
                return Ok(n);
            }
        }
    }
}

/// Ref: moby pkg/stdcopy `StdCopy`: splits docker's multiplexed stream (8-byte headers: stream,
/// 3 zero bytes, big-endian length) into `out` and `err`. A truncated last frame is dropped.
pub fn demux(src: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
    let mut header = [0u8; 8];
    let mut frame = Vec::new();
    loop {
        if !read_full(src, &mut header)? {
            return Ok(());
        }
        let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let to: Option<&mut dyn Write> = match header[0] {
            0 | 1 => Some(&mut *out),
            2 => Some(&mut *err),
            3 => None,
            n => return Err(io::Error::other(format!("Unrecognized input header: {n}"))),
        };
        frame.resize(size, 0);
        if !read_full(src, &mut frame)? {
            return Ok(());
        }
        match to {
            Some(w) => {
                w.write_all(&frame)?;
                w.flush()?;
            }
            None => {
                return Err(io::Error::other(format!(
                    "error from daemon in stream: {}",
                    String::from_utf8_lossy(&frame)
                )))
            }
        }
    }
}

/// Fills `buf`; false at an EOF before it is full.
fn read_full(src: &mut dyn Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Copies `src` to stdout as it comes (a TTY's raw stream).
pub fn copy_raw(src: &mut dyn Read, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

/// What is attached on our side of a hijacked connection.
#[derive(Debug, Clone)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The container or exec has a TTY: no multiplexing, raw local terminal.
    pub tty: bool,
    pub detach_keys: Option<String>,
}

/// How a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The daemon closed the output (the process exited), or input ended with no output.
    Done,
    /// The user typed the detach keys.
    Detached,
}

/// Output into an `io::Error`'s wording as the daemon's stream failed.
fn stream_err(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Error::Exit(1);
    }
    Error::msg(e.to_string())
}

/// Runs both directions of `conn` until the output ends (or the input ends when there is no
/// output, or the detach keys are typed). Ref: docker `hijackedIOStreamer.stream`.
pub fn stream(conn: Upgraded, s: &Streams) -> Result<End> {
    let Upgraded {
        mut reader, writer, ..
    } = conn;
    // The local terminal is raw while we forward a TTY's input; restored when this returns.
    let _raw = if s.stdin && s.tty {
        RawMode::enter(0).map_err(|e| {
            Error::msg(format!(
                "unable to setup input stream: unable to set IO streams as raw terminal: {e}"
            ))
        })?
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));
    let (input_done_tx, input_done) = mpsc::channel::<()>();
    if s.stdin {
        let keys = if s.tty {
            match s.detach_keys.as_deref().filter(|k| !k.is_empty()) {
                Some(k) => match super::opts::detach_key_bytes(k) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("invalid detach escape keys, using default: {e}");
                        DEFAULT_DETACH_KEYS.to_vec()
                    }
                },
                None => DEFAULT_DETACH_KEYS.to_vec(),
            }
        } else {
            Vec::new()
        };
        let detached = detached.clone();
        let mut w = writer
            .try_clone()
            .map_err(|e| Error::msg(format!("cannot use the attach connection: {e}")))?;
        std::thread::spawn(move || {
            let mut input = EscapeProxy::new(io::stdin().lock(), keys);
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if is_escape(&e) => {
                        detached.store(true, Ordering::SeqCst);
                        // Wakes the output side up: it sees the end of the stream.
                        let _ = w.shutdown(Shutdown::Both);
                        let _ = input_done_tx.send(());
                        return;
                    }
                    Err(_) => break,
                }
            }
            let _ = w.shutdown(Shutdown::Write);
            let _ = input_done_tx.send(());
        });
    } else {
        // Nothing to send: the daemon sees the end of our input right away.
        let _ = writer.shutdown(Shutdown::Write);
        drop(input_done_tx);
    }
    if !s.stdout && !s.stderr {
        let _ = input_done.recv();
        return Ok(if detached.load(Ordering::SeqCst) {
            End::Detached
        } else {
            End::Done
        });
    }
    let stdout = io::stdout();
    let res = if s.tty {
        copy_raw(&mut reader, &mut stdout.lock())
    } else {
        let stderr = io::stderr();
        demux(&mut reader, &mut stdout.lock(), &mut stderr.lock())
    };
    if detached.load(Ordering::SeqCst) {
        return Ok(End::Detached);
    }
    res.map_err(stream_err)?;
    Ok(End::Done)
}

/// What a resize applies to.
#[derive(Debug, Clone)]
pub enum Target {
    Container(String),
    Exec(String),
}

fn resize(client: &mut Client, target: &Target, h: u16, w: u16) -> Result<()> {
    if h == 0 && w == 0 {
        return Ok(());
    }
    let q = Query::new().add("h", &h.to_string()).add("w", &w.to_string());
    let path = match target {
        Target::Container(id) => format!("/containers/{id}/resize{q}"),
        Target::Exec(id) => format!("/exec/{id}/resize{q}"),
    };
    client.send(Request::new("POST", path)).map(|r| {
        let _ = r.bytes();
    })
}

/// The one thread that reads caught signals: it resizes the remote TTY on SIGWINCH once
/// [`SignalHub::watch_size`] was called, and forwards signals to the container with
/// `--sig-proxy`, as docker's `ForwardAllSignals` (SIGCHLD, SIGPIPE and SIGURG excepted).
#[derive(Debug, Clone)]
pub struct SignalHub {
    resize: Arc<Mutex<Option<Target>>>,
}

impl SignalHub {
    pub fn start(client: &Client, proxy: Option<String>) -> SignalHub {
        let hub = SignalHub {
            resize: Arc::new(Mutex::new(None)),
        };
        let sigs: &[libc::c_int] = if proxy.is_some() { term::ALL } else { &[] };
        let Ok(signals) = Signals::catch(sigs) else {
            return hub;
        };
        let mut c = client.fork();
        let target = hub.resize.clone();
        let _ = std::thread::Builder::new().spawn(move || {
            while let Some(sig) = signals.recv() {
                if sig == libc::SIGWINCH {
                    let t = target.lock().map(|t| t.clone()).unwrap_or(None);
                    if let Some(t) = t {
                        let (h, w) = term::size(1);
                        let _ = resize(&mut c, &t, h, w);
                    }
                }
                let Some(id) = &proxy else { continue };
                if matches!(sig, libc::SIGCHLD | libc::SIGPIPE | libc::SIGURG) {
                    continue;
                }
                let Some(name) = term::signal_name(sig) else {
                    continue;
                };
                let q = Query::new().add("signal", name);
                if let Ok(r) = c.send(Request::new("POST", format!("/containers/{id}/kill{q}"))) {
                    let _ = r.bytes();
                }
            }
        });
        hub
    }

    /// Resizes the remote TTY to our terminal's size now (retrying in the background, as
    /// docker's `initTtySize`), and again on every SIGWINCH. Ref: docker `MonitorTtySize`.
    pub fn watch_size(&self, client: &Client, target: Target) {
        let mut c = client.fork();
        let (h, w) = term::size(1);
        if resize(&mut c, &target, h, w).is_err() {
            let t = target.clone();
            std::thread::spawn(move || {
                for retry in 0..10u64 {
                    std::thread::sleep(Duration::from_millis((retry + 1) * 10));
                    let (h, w) = term::size(1);
                    if resize(&mut c, &t, h, w).is_ok() {
                        return;
                    }
                }
                eprintln!("failed to resize tty, using default size");
            });
        }
        if let Ok(mut r) = self.resize.lock() {
            *r = Some(target);
        }
        let _ = Signals::catch(&[libc::SIGWINCH]);
    }
}

/// Resizes once to (h, w) (attach's nudge before the real size).
pub fn resize_to(client: &Client, target: &Target, h: u16, w: u16) {
    let _ = resize(&mut client.fork(), target, h, w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frame(fd: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![fd, 0, 0, 0];
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn demultiplexes() {
        let mut raw = frame(1, b"out1\n");
        raw.extend(frame(2, b"err1\n"));
        raw.extend(frame(1, b"out2\n"));
        raw.extend(&frame(1, b"truncated")[..10]);
        let (mut o, mut e) = (Vec::new(), Vec::new());
        demux(&mut Cursor::new(raw), &mut o, &mut e).unwrap();
        assert_eq!(o, b"out1\nout2\n");
        assert_eq!(e, b"err1\n");
        let err = demux(&mut Cursor::new(frame(3, b"boom")), &mut o, &mut e).unwrap_err();
        assert_eq!(err.to_string(), "error from daemon in stream: boom");
        let err = demux(&mut Cursor::new(frame(9, b"x")), &mut o, &mut e).unwrap_err();
        assert_eq!(err.to_string(), "Unrecognized input header: 9");
    }

    /// A reader handing out the given chunks one read at a time.
    struct Chunks(Vec<Vec<u8>>);
    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let c = self.0.remove(0);
            buf[..c.len()].copy_from_slice(&c);
            Ok(c.len())
        }
    }

    fn run_proxy(chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut p = EscapeProxy::new(Chunks(chunks.iter().map(|c| c.to_vec()).collect()), vec![16, 17]);
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match p.read(&mut buf) {
                Ok(0) => return (out, false),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert!(is_escape(&e));
                    return (out, true);
                }
            }
        }
    }

    #[test]
    fn detach_keys() {
        assert_eq!(run_proxy(&[b"abc"]), (b"abc".to_vec(), false));
        assert_eq!(run_proxy(&[b"ab\x10\x11cd"]), (b"ab".to_vec(), true));
        assert_eq!(run_proxy(&[b"ab\x10", b"\x11"]), (b"ab".to_vec(), true));
        // A lone Ctrl-P followed by something else goes through.
        assert_eq!(run_proxy(&[b"a\x10", b"b"]), (b"a\x10b".to_vec(), false));
        assert_eq!(run_proxy(&[b"\x10x\x10\x11"]), (b"\x10x".to_vec(), true));
    }
}
