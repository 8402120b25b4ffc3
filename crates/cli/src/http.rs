//! A small blocking HTTP/1.1 client, enough for the Docker Engine API: one request per connection,
//! bodies sent whole or chunked from a reader, responses read by Content-Length, chunked encoding or
//! until the peer closes, and streamed to the caller.
//!
//! No async runtime: the CLI is on the container start path and must start in microseconds.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

/// A connection to the daemon.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }

    /// Half- or full-closes the connection (`shutdown(2)`); every clone sees it.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// A request body.
pub enum Body<'a> {
    Empty,
    Bytes(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, read to its end.
    Reader(&'a mut dyn Read),
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// One request: method, path with query, extra headers and body.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body<'a>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: impl Into<String>) -> Request<'a> {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json(mut self, v: &serde_json::Value) -> Self {
        self.headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
        self.body = Body::Bytes(serde_json::to_vec(v).expect("a JSON value always serializes"));
        self
    }

    pub fn body(mut self, body: Body<'a>) -> Self {
        self.body = body;
        self
    }
}

/// Writes `req` to `w`, with `Host: host`. A reader body goes out chunked.
///
/// A daemon may answer (say, with 400) and close before it has read the whole body; the write
/// error is then returned as `BrokenPipe` / `ConnectionReset`, and the caller still reads the answer.
pub fn write_request(w: &mut dyn Write, host: &str, req: Request<'_>) -> io::Result<()> {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", req.method, req.path, host);
    let has = |n: &str| req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("User-Agent") {
        head.push_str(concat!(
            "User-Agent: berth-cli/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
    }
    for (k, v) in &req.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    match req.body {
        Body::Empty => {
            if matches!(req.method, "POST" | "PUT") {
                head.push_str("Content-Length: 0\r\n");
            }
            head.push_str("\r\n");
            w.write_all(head.as_bytes())?;
        }
        Body::Bytes(b) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            let mut all = head.into_bytes();
            all.extend_from_slice(&b);
            w.write_all(&all)?;
        }
        Body::Reader(r) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            w.write_all(head.as_bytes())?;
            write_chunked(w, r)?;
        }
    }
    w.flush()
}

/// Copies `r` to `w` in chunked transfer encoding, ending with the last (empty) chunk.
pub fn write_chunked(w: &mut dyn Write, r: &mut dyn Read) -> io::Result<()> {
    const DATA: usize = 256 * 1024;
    // Room for the size line in front and the CRLF behind, so each chunk is one write.
    let mut buf = vec![0u8; DATA + 16];
    loop {
        let n = loop {
            match r.read(&mut buf[10..10 + DATA]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return w.write_all(b"0\r\n\r\n");
        }
        let size = format!("{n:x}\r\n");
        let start = 10 - size.len();
        buf[start..10].copy_from_slice(size.as_bytes());
        buf[10 + n..10 + n + 2].copy_from_slice(b"\r\n");
        w.write_all(&buf[start..10 + n + 2])?;
    }
}

/// Response headers, in arrival order; names compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_line(r: &mut dyn BufRead, what: &str) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.take(64 * 1024).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed while reading the {what}"),
        ));
    }
    if line.last() != Some(&b'\n') {
        return Err(bad(format!("{what} too long or truncated")));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad(format!("{what} is not UTF-8")))
}

/// Reads the status line and headers. Interim 1xx answers (other than 101) are skipped.
pub fn read_head(r: &mut dyn BufRead) -> io::Result<(u16, String, Headers)> {
    loop {
        let line = read_line(r, "status line")?;
        let mut parts = line.splitn(3, ' ');
        let proto = parts.next().unwrap_or("");
        if !proto.starts_with("HTTP/1.") {
            return Err(bad(format!("malformed HTTP status line `{line}`")));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("malformed HTTP status line `{line}`")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let h = read_line(r, "header")?;
            if h.is_empty() {
                break;
            }
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| bad(format!("malformed HTTP header `{h}`")))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        return Ok((status, reason, Headers(headers)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the first size line.
    Chunked {
        left: u64,
        started: bool,
    },
    UntilClose,
    Done,
}

/// The body of a response, decoded from its framing.
pub struct BodyReader<R> {
    inner: R,
    framing: Framing,
}

impl<R> std::fmt::Debug for BodyReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("framing", &self.framing)
            .finish()
    }
}

impl<R: BufRead> BodyReader<R> {
    /// The body that follows `headers` in an answer with `status` to a request with `method`.
    pub fn new(inner: R, method: &str, status: u16, headers: &Headers) -> io::Result<Self> {
        let framing = if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
            Framing::Done
        } else if headers
            .get("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            Framing::Chunked {
                left: 0,
                started: false,
            }
        } else if let Some(l) = headers.get("Content-Length") {
            let n: u64 = l
                .parse()
                .map_err(|_| bad(format!("malformed Content-Length `{l}`")))?;
            if n == 0 {
                Framing::Done
            } else {
                Framing::Length(n)
            }
        } else {
            Framing::UntilClose
        };
        Ok(BodyReader { inner, framing })
    }

    fn next_chunk(&mut self, started: bool) -> io::Result<u64> {
        if started {
            // The CRLF after the previous chunk's data.
            let l = read_line(&mut self.inner, "chunk trailer")?;
            if !l.is_empty() {
                return Err(bad("missing CRLF after a chunk"));
            }
        }
        let line = read_line(&mut self.inner, "chunk size")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let n = u64::from_str_radix(hex, 16).map_err(|_| bad(format!("malformed chunk size `{line}`")))?;
        if n == 0 {
            // Trailers up to the empty line.
            while !read_line(&mut self.inner, "trailer")?.is_empty() {}
        }
        Ok(n)
    }
}

impl<R: BufRead> Read for BodyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Done => return Ok(0),
                Framing::UntilClose => return self.inner.read(buf),
                Framing::Length(left) => {
                    let max = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self.inner.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("connection closed with {left} bytes of the body unread"),
                        ));
                    }
                    self.framing = if left - n as u64 == 0 {
                        Framing::Done
                    } else {
                        Framing::Length(left - n as u64)
                    };
                    return Ok(n);
                }
                Framing::Chunked { left: 0, started } => {
                    let n = self.next_chunk(started)?;
                    self.framing = if n == 0 {
                        Framing::Done
                    } else {
                        Framing::Chunked {
                            left: n,
                            started: true,
                        }
                    };
                }
                Framing::Chunked { left, .. } => {
                    let max = buf.len().min(left.min(usize::MAX as u64) as usize);
                    let n = self.inner.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunk",
                        ));
                    }
                    self.framing = Framing::Chunked {
                        left: left - n as u64,
                        started: true,
                    };
                    return Ok(n);
                }
            }
        }
    }
}

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: BodyReader<Box<dyn BufRead + Send>>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Response {
    /// Reads the head of an answer to a `method` request from `r`.
    pub fn read_from(mut r: Box<dyn BufRead + Send>, method: &str) -> io::Result<Response> {
        let (status, reason, headers) = read_head(&mut r)?;
        let body = BodyReader::new(r, method, status, &headers)?;
        Ok(Response {
            status,
            reason,
            headers,
            body,
        })
    }

    /// The whole body.
    pub fn bytes(mut self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.body.read_to_end(&mut v)?;
        Ok(v)
    }
}

/// Sends `req` on `stream` and reads the answer's head.
pub fn roundtrip(stream: Stream, host: &str, req: Request<'_>) -> io::Result<Response> {
    let method = req.method;
    let mut w = stream.try_clone()?;
    let sent = write_request(&mut w, host, req);
    let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(64 * 1024, stream));
    match sent {
        Ok(()) => Response::read_from(reader, method),
        // The daemon may refuse a streamed body early: its answer says why.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            Response::read_from(reader, method).map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

/// A connection the daemon switched to raw bytes both ways (`101 Switching Protocols`), as
/// attach and exec start answer. Ref: docker client `setupHijackConn`.
#[derive(Debug)]
pub struct Upgraded {
    /// The daemon's side; bytes that arrived with the head are buffered here first.
    pub reader: BufReader<Stream>,
    /// Our side (stdin); shut down for writing at the end of our input.
    pub writer: Stream,
}

/// What the daemon made of an upgrade request.
#[derive(Debug)]
pub enum Upgrade {
    Switched(Upgraded),
    /// Any other answer (an error, usually), with its body unread.
    Answered(Response),
}

/// Sends `req` (which asks for an upgrade) on `stream` and reads the answer's head.
pub fn upgrade(stream: Stream, host: &str, req: Request<'_>) -> io::Result<Upgrade> {
    let method = req.method;
    let mut w = stream.try_clone()?;
    write_request(&mut w, host, req)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let (status, reason, headers) = read_head(&mut reader)?;
    if status == 101 {
        return Ok(Upgrade::Switched(Upgraded { reader, writer: w }));
    }
    let boxed: Box<dyn BufRead + Send> = Box::new(reader);
    let body = BodyReader::new(boxed, method, status, &headers)?;
    Ok(Upgrade::Answered(Response {
        status,
        reason,
        headers,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn resp(raw: &[u8], method: &str) -> Response {
        Response::read_from(Box::new(Cursor::new(raw.to_vec())), method).unwrap()
    }

    #[test]
    fn content_length_body() {
        let r = resp(
            b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOKtrailing",
            "GET",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.headers.get("api-version"), Some("1.41"));
        assert_eq!(r.bytes().unwrap(), b"OK");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let r = resp(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
            "GET",
        );
        assert_eq!(r.bytes().unwrap(), b"hello world");
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let r = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET");
        assert!(r.bytes().is_err());
        let r = resp(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "GET",
        );
        assert!(r.bytes().is_err());
    }

    #[test]
    fn body_until_close_and_no_body() {
        let r = resp(b"HTTP/1.0 200 OK\r\n\r\nall of it", "GET");
        assert_eq!(r.bytes().unwrap(), b"all of it");
        let r = resp(b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE");
        assert_eq!(r.bytes().unwrap(), b"");
        let r = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD");
        assert_eq!(r.bytes().unwrap(), b"");
    }

    #[test]
    fn interim_answers_are_skipped() {
        let r = resp(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            "POST",
        );
        assert_eq!(r.status, 201);
    }

    #[test]
    fn streamed_reading_yields_data_as_it_comes() {
        // A reader that hands out one byte at a time, like a slow daemon.
        struct Slow(Cursor<Vec<u8>>);
        impl Read for Slow {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{\"status\":1}\r\nc\r\n{\"status\":2}\r\n0\r\n\r\n";
        let r = Response::read_from(
            Box::new(BufReader::with_capacity(3, Slow(Cursor::new(raw.to_vec())))),
            "POST",
        )
        .unwrap();
        let values: Vec<serde_json::Value> = serde_json::Deserializer::from_reader(BufReader::new(r.body))
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            values,
            vec![serde_json::json!({"status":1}), serde_json::json!({"status":2})]
        );
    }

    #[test]
    fn malformed_heads_are_errors() {
        for raw in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
        ] {
            assert!(Response::read_from(Box::new(Cursor::new(raw.to_vec())), "GET").is_err());
        }
    }

    #[test]
    fn requests_are_framed() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "localhost",
            Request::new("POST", "/v1.47/images/load?quiet=1").json(&serde_json::json!({"a":1})),
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("POST /v1.47/images/load?quiet=1 HTTP/1.1\r\nHost: localhost\r\n"));
        assert!(s.contains("Content-Type: application/json\r\n"));
        assert!(s.ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"));

        let mut out = Vec::new();
        let mut data = Cursor::new(vec![b'x'; 300_000]);
        write_request(
            &mut out,
            "h",
            Request::new("POST", "/x").body(Body::Reader(&mut data)),
        )
        .unwrap();
        let pos = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(String::from_utf8_lossy(&out[..pos]).contains("Transfer-Encoding: chunked"));
        let mut headers = Headers::default();
        headers.0.push(("Transfer-Encoding".into(), "chunked".into()));
        let mut body = BodyReader::new(Cursor::new(out[pos..].to_vec()), "POST", 200, &headers).unwrap();
        let mut back = Vec::new();
        body.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 300_000);
    }
}
