//! Connections to `shim.sock`: the request line, then what the request made of the connection.
//!
//! Output to a client never waits: what the socket does not take at once is queued, and a client
//! whose queue passes its bound (`ATTACH_QUEUE_MAX`, `EVENTS_QUEUE_MAX`) is disconnected. The
//! container, its log and the other clients therefore never wait for a slow client; the slow one
//! sees its stream end early rather than with a silent gap in the middle.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::sys;

pub const ATTACH_QUEUE_MAX: usize = 256 * 1024;
pub const EVENTS_QUEUE_MAX: usize = 64 * 1024;
/// A request line longer than this is refused.
pub const REQUEST_MAX: usize = 1024;

#[derive(Debug)]
pub enum Role {
    /// Reading the request line (bytes so far).
    Request(Vec<u8>),
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Events,
    /// Answered: closed once the answer is sent.
    Answered,
}

#[derive(Debug)]
pub struct Client {
    pub sock: UnixStream,
    pub role: Role,
    /// Still reading from the client (false after its end of file).
    pub reading: bool,
    /// Remove at the next sweep (closed, failed, or too slow).
    pub dead: bool,
    /// Close once the queue is sent.
    closing: bool,
    queue: Vec<u8>,
    sent: usize,
    limit: usize,
}

impl Client {
    pub fn new(sock: UnixStream) -> Client {
        Client {
            sock,
            role: Role::Request(Vec::new()),
            reading: true,
            dead: false,
            closing: false,
            queue: Vec::new(),
            sent: 0,
            limit: EVENTS_QUEUE_MAX,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    pub fn set_role(&mut self, role: Role) {
        self.limit = match role {
            Role::Attach { .. } => ATTACH_QUEUE_MAX,
            _ => EVENTS_QUEUE_MAX,
        };
        self.role = role;
    }

    /// Sends what the socket takes now and queues the rest.
    pub fn send(&mut self, data: &[u8]) {
        if self.dead || data.is_empty() {
            return;
        }
        let mut data = data;
        if self.sent == self.queue.len() {
            match sys::send(self.fd(), data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
            if data.is_empty() {
                return;
            }
        }
        if self.queue.len() - self.sent + data.len() > self.limit {
            self.dead = true;
            return;
        }
        self.queue.extend_from_slice(data);
    }

    /// One chunk of output as a frame of Docker's multiplexed stream: `[stream, 0, 0, 0]`, the
    /// length as a big-endian u32, the bytes.
    // Ref: moby pkg/stdcopy (stdWriter).
    pub fn send_frame(&mut self, stream: u8, data: &[u8]) {
        let mut header = [stream, 0, 0, 0, 0, 0, 0, 0];
        header[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
        self.send(&header);
        self.send(data);
    }

    pub fn wants_write(&self) -> bool {
        self.sent < self.queue.len()
    }

    /// Sends queued bytes (the socket became writable).
    pub fn flush(&mut self) {
        while self.sent < self.queue.len() {
            match sys::send(self.fd(), &self.queue[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        // Drained: keep a small buffer for the next burst, free a large one.
        self.sent = 0;
        self.queue.clear();
        if self.queue.capacity() > 16 * 1024 {
            self.queue = Vec::new();
        }
        if self.closing {
            self.dead = true;
        }
    }

    /// Close after the queue is sent (end of file for the client).
    pub fn close(&mut self) {
        self.closing = true;
        self.reading = false;
        if !self.wants_write() {
            self.dead = true;
        }
    }

    /// Answers a request with `ok` or `error MESSAGE` (on one line), then closes.
    pub fn answer(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.send(b"ok\n"),
            Err(msg) => {
                let mut line = b"error ".to_vec();
                line.extend(msg.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
                line.push(b'\n');
                self.send(&line);
            }
        }
        self.role = Role::Answered;
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_are_docker_stdcopy() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut c = Client::new(a);
        c.set_role(Role::Attach {
            stdin: false,
            stdout: true,
            stderr: true,
        });
        c.send_frame(1, b"out\n");
        c.send_frame(2, b"e");
        c.close();
        assert!(c.dead);
        drop(c);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"\x01\0\0\0\0\0\0\x04out\n\x02\0\0\0\0\0\0\x01e");
    }

    #[test]
    fn a_slow_client_is_queued_then_dropped_past_its_bound() {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut c = Client::new(a);
        c.set_role(Role::Attach {
            stdin: false,
            stdout: true,
            stderr: false,
        });
        let chunk = vec![7u8; 16 * 1024];
        // The socket buffer fills first, then the queue; nobody reads.
        let mut sent = 0;
        while !c.dead {
            c.send(&chunk);
            sent += chunk.len();
            assert!(sent < 16 * 1024 * 1024, "never dropped");
        }
        assert!(c.queue.len() - c.sent <= ATTACH_QUEUE_MAX);
        drop(c);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert!(!got.is_empty() && got.len() < sent);
    }

    #[test]
    fn answers_on_one_line() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut c = Client::new(a);
        c.answer(Err("bad\nthing".into()));
        assert!(c.dead);
        drop(c);
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "error bad thing\n");
    }
}
