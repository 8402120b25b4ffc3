//! The shim's life: set-up and the first create, then one poll(2) loop that serves the socket,
//! copies the container's output to its log and attach clients, reaps children and restarts the
//! container by its policy.
//!
//! Phases of one container run: `Created` (until `start`) → `Running` → `Draining` (the init was
//! reaped; its output is read to end of file, at most `DRAIN_MAX`) → finalized: `delete`, then
//! `Restarting` (a backoff delay, then create + start again) or `Exiting` (the socket is gone;
//! clients get what is queued for them, at most `FLUSH_MAX`, then the shim exits).

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use crate::args::Options;
use crate::client::{Client, Role, REQUEST_MAX};
use crate::container::{self, Stdio};
use crate::logfile::{LineBuf, LogFile, Stream};
use crate::request::Request;
use crate::restart::{Backoff, Policy};
use crate::runtime::Runtime;
use crate::state::{self, State, Status};
use crate::time::Time;
use crate::{json, memory, sys, warn};

/// How long the output of an exited init is read for; a process outside its pid namespace
/// (`--pid host`) may hold the pipes open forever.
const DRAIN_MAX: Duration = Duration::from_secs(2);
/// How long the exiting shim waits for clients to take what is queued for them.
const FLUSH_MAX: Duration = Duration::from_secs(2);
/// Input from clients is read in chunks of this size, and only while the previous chunk has
/// been written to the container's stdin.
const INPUT_CHUNK: usize = 4096;
/// After this long without any event, the shim releases the memory its last burst of work
/// brought in (`memory::trim`).
const IDLE_TRIM_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Running,
    Draining { until: Instant },
    Restarting { at: Instant },
    Exiting { until: Instant },
}

/// One output stream of the container.
#[derive(Debug)]
struct Output {
    fd: Option<OwnedFd>,
    lines: LineBuf,
    stream: Stream,
}

/// What belongs to one run of the container.
#[derive(Debug)]
struct Run {
    pid: i32,
    started: Option<Instant>,
    stdin: Option<OwnedFd>,
    /// Client input not yet taken by the container's stdin.
    pending: Vec<u8>,
    /// `--stdin-once` and the attached client's input ended: close stdin once `pending` is out.
    close_stdin: bool,
    out: [Output; 2],
    exit_code: i32,
}

impl Run {
    fn new(pid: i32, io: Stdio) -> Run {
        Run {
            pid,
            started: None,
            stdin: io.stdin,
            pending: Vec::new(),
            close_stdin: false,
            out: [
                Output {
                    fd: Some(io.stdout),
                    lines: LineBuf::default(),
                    stream: Stream::Stdout,
                },
                Output {
                    fd: io.stderr,
                    lines: LineBuf::default(),
                    stream: Stream::Stderr,
                },
            ],
            exit_code: 0,
        }
    }
}

#[derive(Debug)]
pub struct Shim {
    opts: Options,
    rt: Runtime,
    state: State,
    policy: Policy,
    backoff: Backoff,
    phase: Phase,
    run: Option<Run>,
    log: Option<LogFile>,
    listener: Option<UnixListener>,
    sigchld: OwnedFd,
    clients: Vec<Client>,
    pollfds: Vec<libc::pollfd>,
    /// Work was done since the last `memory::trim`.
    trim_due: bool,
}

impl Shim {
    /// Everything up to and including the first create. The caller prints the ready line.
    pub fn init(opts: Options) -> Result<Shim, String> {
        sys::setsid();
        sys::set_child_subreaper().map_err(|e| format!("cannot become a child subreaper: {e}"))?;
        // Before any child exists, so that no SIGCHLD is missed.
        let sigchld = sys::sigchld_fd().map_err(|e| format!("cannot watch for SIGCHLD: {e}"))?;
        let dir = &opts.state_dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create state directory `{}`: {e}", dir.display()))?;
        let sock = dir.join("shim.sock");
        if UnixStream::connect(&sock).is_ok() {
            return Err(format!(
                "a shim already serves container `{}` on `{}`",
                opts.id,
                sock.display()
            ));
        }
        let _ = fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot listen on `{}`: {e}", sock.display()))?;
        let unlink = || {
            let _ = fs::remove_file(&sock);
        };
        let log = match &opts.log {
            Some(path) => Some(
                LogFile::open(path, opts.log_max_size, opts.log_max_file).map_err(|e| {
                    unlink();
                    format!("cannot open log file `{}`: {e}", path.display())
                })?,
            ),
            None => None,
        };
        let rt = Runtime::new(&opts).inspect_err(|_| unlink())?;
        let (pid, io) = container::create(&opts, &rt).inspect_err(|_| unlink())?;
        let mut shim = Shim {
            policy: opts.restart,
            opts,
            rt,
            state: State::new(),
            backoff: Backoff::default(),
            phase: Phase::Created,
            run: Some(Run::new(pid, io)),
            log,
            listener: Some(listener),
            sigchld,
            clients: Vec::new(),
            pollfds: Vec::new(),
            trim_due: true,
        };
        shim.state.pid = pid;
        shim.publish();
        Ok(shim)
    }

    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// The loop; returns when the shim is done.
    pub fn serve(mut self) {
        loop {
            if let Phase::Exiting { until } = self.phase {
                if self.clients.is_empty() || Instant::now() >= until {
                    return;
                }
            }
            self.poll_once();
        }
    }

    fn poll_once(&mut self) {
        let fds = &mut self.pollfds;
        fds.clear();
        let entry = |fd: i32, events: i16| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        fds.push(entry(self.sigchld.as_raw_fd(), libc::POLLIN));
        fds.push(entry(
            self.listener.as_ref().map_or(-1, |l| l.as_raw_fd()),
            libc::POLLIN,
        ));
        let run = self.run.as_ref();
        for i in 0..2 {
            let fd = run
                .and_then(|r| r.out[i].fd.as_ref())
                .map_or(-1, |f| f.as_raw_fd());
            fds.push(entry(fd, libc::POLLIN));
        }
        let stdin_fd = run
            .filter(|r| !r.pending.is_empty())
            .and_then(|r| r.stdin.as_ref())
            .map_or(-1, |f| f.as_raw_fd());
        fds.push(entry(stdin_fd, libc::POLLOUT));
        // Input is taken from clients only while the container has taken the last of it.
        let input_blocked = run.is_some_and(|r| !r.pending.is_empty() && r.stdin.is_some());
        let first_client = fds.len();
        for c in &self.clients {
            let takes_input = matches!(c.role, Role::Attach { stdin: true, .. });
            let read = c.reading && !(takes_input && input_blocked);
            let mut events = if read { libc::POLLIN } else { 0 };
            if c.wants_write() {
                events |= libc::POLLOUT;
            }
            fds.push(entry(c.fd(), events));
        }
        let mut timeout = self.timeout_ms();
        let idle_check = timeout < 0 && self.trim_due;
        if idle_check {
            timeout = IDLE_TRIM_AFTER.as_millis() as i32;
        }
        match sys::poll(&mut self.pollfds, timeout) {
            Ok(0) if idle_check => {
                // Trimmed last, right before the loop blocks again: what the idle loop touches
                // from here on is all it keeps resident.
                memory::trim();
                self.trim_due = false;
                return;
            }
            Ok(_) => self.trim_due = true,
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    warn(&format!("poll: {e}"));
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
        }

        for i in 0..2 {
            if self.pollfds[2 + i].revents != 0 {
                self.read_output(i);
            }
        }
        if self.pollfds[4].revents != 0 {
            self.flush_stdin();
        }
        if self.pollfds[0].revents != 0 {
            sys::drain_signalfd(self.sigchld.as_raw_fd());
            self.reap();
        }
        if self.pollfds[1].revents != 0 {
            self.accept();
        }
        let polled = self.pollfds.len() - first_client;
        for i in 0..polled {
            let revents = self.pollfds[first_client + i].revents;
            if revents == 0 || self.clients[i].dead {
                continue;
            }
            if revents & libc::POLLOUT != 0 {
                self.clients[i].flush();
            }
            if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                self.client_readable(i, revents);
            }
        }
        self.sweep();
        self.advance();
    }

    /// Milliseconds until the next deadline, or -1.
    fn timeout_ms(&self) -> i32 {
        let until = match self.phase {
            Phase::Draining { until } | Phase::Exiting { until } => until,
            Phase::Restarting { at } => at,
            Phase::Created | Phase::Running => return -1,
        };
        let left = until.saturating_duration_since(Instant::now());
        // Rounded up, so that the deadline has passed when poll returns.
        left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    }

    /// Moves on when a phase's condition or deadline is met.
    fn advance(&mut self) {
        let now = Instant::now();
        match self.phase {
            Phase::Draining { until } => {
                let drained = self
                    .run
                    .as_ref()
                    .is_none_or(|r| r.out.iter().all(|o| o.fd.is_none()));
                if drained || now >= until {
                    self.finalize();
                }
            }
            Phase::Restarting { .. } if self.state.stopped => {
                self.state.status = Status::Exited;
                self.shut_down();
            }
            Phase::Restarting { at } if now >= at => self.restart(),
            _ => {}
        }
    }

    // ---- output ----

    fn read_output(&mut self, i: usize) {
        let Shim {
            run,
            clients,
            log,
            opts,
            ..
        } = self;
        let Some(run) = run.as_mut() else { return };
        let out = &mut run.out[i];
        let Some(fd) = out.fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        match out.lines.fill(|room| sys::read_uninit(fd, room)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // End of file, or EIO from a pty master whose other side is closed.
            Ok(0) | Err(_) => {
                let stream = out.stream;
                out.lines.finish(|l| write_log(log, stream, l));
                out.fd = None;
            }
            Ok(n) => {
                let chunk = out.lines.last(n);
                for c in clients.iter_mut() {
                    match c.role {
                        Role::Attach { stdout, stderr, .. } => {
                            if opts.tty {
                                if stdout {
                                    c.send(chunk);
                                }
                            } else if (i == 0 && stdout) || (i == 1 && stderr) {
                                c.send_frame(i as u8 + 1, chunk);
                            }
                        }
                        _ => continue,
                    }
                }
                let stream = out.stream;
                out.lines.lines(n, |l| write_log(log, stream, l));
            }
        }
    }

    // ---- stdin ----

    /// Client input for the container's stdin; dropped when it has none.
    fn write_stdin(&mut self, data: &[u8]) {
        let Some(run) = self.run.as_mut() else { return };
        let Some(fd) = run.stdin.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        let mut rest = data;
        if run.pending.is_empty() {
            match sys::write(fd, data) {
                Ok(n) => rest = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // EPIPE: the container closed its stdin.
                Err(_) => {
                    run.stdin = None;
                    return;
                }
            }
        }
        run.pending.extend_from_slice(rest);
    }

    fn flush_stdin(&mut self) {
        let tty = self.opts.tty;
        let Some(run) = self.run.as_mut() else { return };
        let Some(fd) = run.stdin.as_ref().map(|f| f.as_raw_fd()) else {
            run.pending = Vec::new();
            return;
        };
        while !run.pending.is_empty() {
            match sys::write(fd, &run.pending) {
                Ok(n) => {
                    run.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    run.stdin = None;
                    run.pending = Vec::new();
                    return;
                }
            }
        }
        run.pending = Vec::new();
        if run.close_stdin {
            close_stdin(run, tty);
        }
    }

    /// The input of an attached client ended (its half-close, or it went away).
    fn input_ended(&mut self) {
        if !self.opts.stdin_once {
            return;
        }
        let tty = self.opts.tty;
        let Some(run) = self.run.as_mut() else { return };
        run.close_stdin = true;
        if run.pending.is_empty() {
            close_stdin(run, tty);
        }
    }

    // ---- clients ----

    fn accept(&mut self) {
        let Some(listener) = &self.listener else { return };
        loop {
            match listener.accept() {
                Ok((sock, _)) => {
                    if sock.set_nonblocking(true).is_ok() {
                        self.clients.push(Client::new(sock));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and the like: the connection waits in the backlog.
                    warn(&format!("cannot accept a connection: {e}"));
                    return;
                }
            }
        }
    }

    fn client_readable(&mut self, i: usize, revents: i16) {
        let mut buf = [0u8; INPUT_CHUNK];
        let c = &mut self.clients[i];
        if !c.reading {
            if revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                c.dead = true;
                self.client_gone(i);
            }
            return;
        }
        let n = match sys::read(c.fd(), &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                c.dead = true;
                self.client_gone(i);
                return;
            }
        };
        let data = &buf[..n];
        match &mut c.role {
            Role::Request(line) => {
                let at = data.iter().position(|&b| b == b'\n');
                line.extend_from_slice(&data[..at.unwrap_or(n)]);
                let rest = at.map_or(&[][..], |p| &data[p + 1..]);
                if line.len() > REQUEST_MAX {
                    c.answer(Err("request line too long".into()));
                } else if at.is_some() || (n == 0 && !line.is_empty()) {
                    let line = std::mem::take(line);
                    if n == 0 {
                        c.reading = false;
                    }
                    let text = String::from_utf8_lossy(&line).into_owned();
                    self.handle(i, &text, rest);
                } else if n == 0 {
                    c.dead = true;
                }
            }
            Role::Attach { stdin, .. } => {
                let stdin = *stdin;
                if n == 0 {
                    c.reading = false;
                    if stdin {
                        self.input_ended();
                    }
                } else if stdin {
                    self.write_stdin(data);
                }
            }
            // Nothing is expected from these; their end of file is only noted.
            Role::Events | Role::Answered => {
                if n == 0 {
                    c.reading = false;
                }
            }
        }
    }

    /// A client failed or hung up entirely.
    fn client_gone(&mut self, i: usize) {
        let c = &mut self.clients[i];
        if c.reading && matches!(c.role, Role::Attach { stdin: true, .. }) {
            c.reading = false;
            self.input_ended();
        }
    }

    fn sweep(&mut self) {
        self.clients.retain(|c| !c.dead);
    }

    fn handle(&mut self, i: usize, line: &str, rest: &[u8]) {
        let req = match Request::parse(line) {
            Ok(r) => r,
            Err(e) => return self.clients[i].answer(Err(e)),
        };
        let result = match req {
            Request::Start => self.start(),
            Request::Kill(sig) => self.kill(sig, false),
            Request::Stop(sig) => self.kill(sig, true),
            Request::Resize { rows, cols } => self.resize(rows, cols),
            Request::RestartPolicy(p) => {
                self.policy = p;
                Ok(())
            }
            Request::Events => {
                let line = self.state.line();
                let c = &mut self.clients[i];
                c.set_role(Role::Events);
                c.send(&line);
                return;
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                if matches!(self.phase, Phase::Restarting { .. }) {
                    Err(format!(
                        "container `{}` is restarting, wait until it is running",
                        self.opts.id
                    ))
                } else {
                    let c = &mut self.clients[i];
                    c.set_role(Role::Attach {
                        stdin,
                        stdout,
                        stderr,
                    });
                    c.send(b"ok\n");
                    if stdin && !rest.is_empty() {
                        self.write_stdin(rest);
                    }
                    if stdin && !self.clients[i].reading {
                        self.input_ended();
                    }
                    return;
                }
            }
        };
        self.clients[i].answer(result);
    }

    // ---- requests ----

    fn start(&mut self) -> Result<(), String> {
        match self.phase {
            Phase::Created => {}
            Phase::Running => return Err(format!("container `{}` is already running", self.opts.id)),
            _ => {
                return Err(format!(
                    "container `{}` is not in the created state",
                    self.opts.id
                ))
            }
        }
        self.rt.start()?;
        self.running();
        Ok(())
    }

    /// The container's init runs (after `start`, or a restart's start).
    fn running(&mut self) {
        let Some(run) = self.run.as_mut() else { return };
        run.started = Some(Instant::now());
        self.phase = Phase::Running;
        self.state.status = Status::Running;
        self.state.pid = run.pid;
        self.state.started_at = Some(Time::now());
        self.state.exit_code = 0;
        self.state.oom_killed = false;
        self.state.error.clear();
        self.publish();
    }

    fn kill(&mut self, sig: i32, stop: bool) -> Result<(), String> {
        let id = &self.opts.id;
        match self.phase {
            Phase::Created | Phase::Running => {
                let pid = self.run.as_ref().map_or(0, |r| r.pid);
                // Never 0 or -1 here, which kill(2) would take for a process group or everyone.
                if pid <= 0 {
                    return Err(format!("container `{id}` is not running"));
                }
                sys::kill(pid, sig)
                    .map_err(|e| format!("cannot signal init {pid} of container `{id}`: {e}"))?;
                if stop {
                    self.state.stopped = true;
                }
                Ok(())
            }
            // Exited but not finalized: no restart if asked to stop.
            Phase::Draining { .. } if stop => {
                self.state.stopped = true;
                Ok(())
            }
            // The restart is called off (by `advance`, once this request is answered).
            Phase::Restarting { .. } if stop => {
                self.state.stopped = true;
                Ok(())
            }
            Phase::Restarting { .. } => Err(format!(
                "container `{id}` is restarting, wait until it is running"
            )),
            _ => Err(format!("container `{id}` is not running")),
        }
    }

    fn resize(&mut self, rows: u16, cols: u16) -> Result<(), String> {
        let id = &self.opts.id;
        if !self.opts.tty {
            return Err(format!("container `{id}` has no terminal"));
        }
        let fd = self
            .run
            .as_ref()
            .and_then(|r| r.out[0].fd.as_ref())
            .ok_or_else(|| format!("container `{id}` is not running"))?;
        sys::set_winsize(fd.as_raw_fd(), rows, cols)
            .map_err(|e| format!("cannot resize the terminal of container `{id}`: {e}"))
    }

    // ---- exits ----

    fn reap(&mut self) {
        while let Some((pid, status)) = sys::reap_any() {
            let Some(run) = self.run.as_mut() else { continue };
            if pid != run.pid || !matches!(self.phase, Phase::Created | Phase::Running) {
                // A runtime helper or an orphan of the container reparented to the shim.
                continue;
            }
            run.exit_code = status.exit_code();
            // Nobody reads the stdin of a dead container.
            run.stdin = None;
            run.pending = Vec::new();
            self.state.finished_at = Some(Time::now());
            self.phase = Phase::Draining {
                until: Instant::now() + DRAIN_MAX,
            };
        }
    }

    /// The init exited and its output is drained: delete the container, then restart it or end.
    fn finalize(&mut self) {
        let Some(mut run) = self.run.take() else { return };
        for out in &mut run.out {
            let stream = out.stream;
            let log = &mut self.log;
            out.lines.finish(|l| write_log(log, stream, l));
            out.fd = None;
        }
        let oom = self.oom_killed();
        if let Err(e) = self.rt.delete() {
            warn(&format!("cannot delete container `{}`: {e}", self.opts.id));
        }
        // The output streams ended: attached clients get end of file (as dockerd closes attach
        // streams at every exit, restart or not).
        for c in &mut self.clients {
            if matches!(c.role, Role::Attach { .. }) {
                c.close();
            }
        }
        self.state.pid = 0;
        self.state.exit_code = run.exit_code;
        self.state.oom_killed = oom;
        let restart = run.started.is_some()
            && self
                .policy
                .should_restart(run.exit_code, self.state.stopped, self.state.restart_count);
        if restart {
            let ran = run.started.map_or(Duration::ZERO, |s| s.elapsed());
            let delay = self.backoff.next(ran);
            self.phase = Phase::Restarting {
                at: Instant::now() + delay,
            };
            self.state.status = Status::Restarting;
            self.publish();
        } else {
            self.state.status = Status::Exited;
            self.shut_down();
        }
    }

    /// The backoff delay passed: a new run.
    fn restart(&mut self) {
        self.state.restart_count += 1;
        match container::create(&self.opts, &self.rt) {
            Ok((pid, io)) => {
                self.run = Some(Run::new(pid, io));
                match self.rt.start() {
                    Ok(()) => {
                        self.running();
                        return;
                    }
                    Err(e) => {
                        let _ = sys::kill(pid, libc::SIGKILL);
                        let _ = self.rt.delete();
                        self.run = None;
                        self.state.error = e;
                    }
                }
            }
            Err(e) => self.state.error = e,
        }
        // As dockerd: a failed restart ends the restarts.
        warn(&format!(
            "cannot restart container `{}`: {}",
            self.opts.id, self.state.error
        ));
        self.state.status = Status::Exited;
        self.state.pid = 0;
        if self.state.exit_code == 0 {
            self.state.exit_code = 128;
        }
        self.shut_down();
    }

    /// The end: no more connections, the final state to every `events` client, then exit once
    /// they have it.
    fn shut_down(&mut self) {
        // The socket goes before the final state is sent: berthd may start a new shim for the
        // container as soon as it sees that state, and the new one must not find this one.
        self.listener = None;
        let _ = fs::remove_file(self.opts.state_dir.join("shim.sock"));
        self.publish();
        for c in &mut self.clients {
            c.close();
        }
        self.run = None;
        self.phase = Phase::Exiting {
            until: Instant::now() + FLUSH_MAX,
        };
    }

    /// `oom_kill N` of the cgroup's `memory.oom_control` (v1) or `memory.events` (v2).
    fn oom_killed(&self) -> bool {
        let Some(path) = &self.opts.oom_file else {
            return false;
        };
        let Ok(text) = fs::read_to_string(path) else {
            return false;
        };
        text.lines().any(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    }

    /// Writes `state.json` and sends the line to every `events` client.
    fn publish(&mut self) {
        let line = self.state.line();
        if let Err(e) = state::write(&self.opts.state_dir, &line) {
            warn(&format!(
                "cannot write `{}/state.json`: {e}",
                self.opts.state_dir.display()
            ));
        }
        for c in &mut self.clients {
            if matches!(c.role, Role::Events) {
                c.send(&line);
            }
        }
    }
}

fn write_log(log: &mut Option<LogFile>, stream: Stream, line: &[u8]) {
    if let Some(log) = log {
        log.write(stream, line, Time::now());
    }
}

/// Closes the container's stdin (`--stdin-once`). A terminal is not closed, which would hang it
/// up: its end-of-file character is sent instead, which ends a read at the start of a line.
fn close_stdin(run: &mut Run, tty: bool) {
    if let Some(fd) = run.stdin.take() {
        if tty {
            let _ = sys::write(fd.as_raw_fd(), &[sys::veof(fd.as_raw_fd())]);
        }
    }
    run.close_stdin = false;
}

/// Prints the ready line on stdout and puts /dev/null in its place.
pub fn ready(result: Result<i32, &str>) {
    let mut line = Vec::with_capacity(64);
    match result {
        Ok(pid) => {
            line.extend_from_slice(b"{\"pid\":");
            json::push_int(&mut line, i64::from(pid));
        }
        Err(e) => {
            line.extend_from_slice(b"{\"error\":");
            json::push_str(&mut line, e.as_bytes());
        }
    }
    line.extend_from_slice(b"}\n");
    let mut out = io::stdout().lock();
    let _ = out.write_all(&line);
    let _ = out.flush();
    drop(out);
    let _ = sys::redirect_to_null(1);
}
