//! `exec`: a process run in a running container through the OCI runtime's `exec`, which stays
//! as the process's supervisor and exits with its status (so berthd learns the exit code
//! without being the process's parent). The process is the container's own (env, user,
//! capabilities, rlimits from its config.json) with the exec's changes.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::logs::frame;
use super::{Container, Containers};
use crate::error::{ApiError, Result};
use crate::util::random_hex;

/// The body of `POST /containers/{id}/exec` (Docker's ExecConfig).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub cmd: Vec<String>,
    pub env: Option<Vec<String>>,
    pub user: String,
    pub working_dir: String,
    pub privileged: bool,
    pub detach_keys: String,
    pub console_size: Option<Vec<u16>>,
}

#[derive(Debug, Default)]
struct ExecState {
    /// A duplicate of the pty master, for resizes.
    master: Option<std::os::fd::OwnedFd>,
    running: bool,
    started: bool,
    exit_code: Option<i64>,
    pid: u32,
}

#[derive(Debug)]
pub struct Exec {
    pub id: String,
    pub container: Arc<Container>,
    pub config: ExecConfig,
    state: Mutex<ExecState>,
    done: tokio::sync::watch::Sender<bool>,
}

impl Exec {
    fn st(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Exec instances by ID (dockerd forgets them when their container goes).
#[derive(Debug, Default)]
pub struct Execs {
    map: Mutex<HashMap<String, Arc<Exec>>>,
}

impl Execs {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Exec>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn get(&self, id: &str) -> Result<Arc<Exec>> {
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }
    pub fn forget_container(&self, container_id: &str) {
        self.map().retain(|_, e| e.container.id != container_id);
    }
    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.map()
            .values()
            .filter(|e| e.container.id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }
}

fn merge_env(base: &[String], extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for e in extra {
        let key = e.split('=').next().unwrap_or("");
        out.retain(|b| b.split('=').next().unwrap_or("") != key);
        out.push(e.clone());
    }
    out
}

impl Containers {
    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, c: &Arc<Container>, config: ExecConfig) -> Result<String> {
        let st = c.state();
        if st.status == super::Status::Paused {
            return Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if st.status != super::Status::Running {
            return Err(ApiError::conflict(format!("Container {} is not running", c.id)));
        }
        if config.cmd.is_empty() {
            return Err(ApiError::invalid("No exec command specified"));
        }
        let id = random_hex(32);
        let exec = Arc::new(Exec {
            id: id.clone(),
            container: c.clone(),
            config,
            state: Mutex::new(ExecState::default()),
            done: tokio::sync::watch::channel(false).0,
        });
        self.execs.map().insert(id.clone(), exec.clone());
        let cmd = exec.config.cmd.join(" ");
        self.emit(c, &format!("exec_create: {cmd}"), &[("execID", &id)]);
        Ok(id)
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, e: &Exec) -> Value {
        let st = e.st();
        let (entry, args) = match e.config.cmd.split_first() {
            Some((a, rest)) => (a.clone(), rest.to_vec()),
            None => (String::new(), Vec::new()),
        };
        json!({
            "ID": e.id,
            "Running": st.running,
            "ExitCode": st.exit_code,
            "ProcessConfig": {
                "tty": e.config.tty,
                "entrypoint": entry,
                "arguments": args,
                "privileged": e.config.privileged,
                "user": e.config.user,
            },
            "OpenStdin": e.config.attach_stdin,
            "OpenStderr": e.config.attach_stderr,
            "OpenStdout": e.config.attach_stdout,
            "CanRemove": false,
            "ContainerID": e.container.id,
            "DetachKeys": e.config.detach_keys,
            "Pid": st.pid,
        })
    }

    /// The process JSON for the runtime: the container's process with the exec's changes.
    fn exec_process(&self, e: &Exec) -> Result<berth_oci::Process> {
        let dir = self.dir(&e.container.id);
        let data = std::fs::read(dir.join("config.json"))?;
        let spec: berth_oci::Spec =
            serde_json::from_slice(&data).map_err(|err| ApiError::system(format!("config.json: {err}")))?;
        let mut p = spec
            .process
            .ok_or_else(|| ApiError::system("the container's config.json has no process"))?;
        p.args = e.config.cmd.clone();
        p.terminal = e.config.tty;
        p.console_size = None;
        p.env = merge_env(&p.env, e.config.env.as_deref().unwrap_or(&[]));
        if !e.config.working_dir.is_empty() {
            p.cwd = e.config.working_dir.clone();
        }
        if !e.config.user.is_empty() {
            let u = super::spec::resolve_user(&dir.join("rootfs"), &e.config.user, &[])?;
            p.user.uid = u.uid;
            p.user.gid = u.gid;
            p.user.additional_gids = u.additional_gids;
        }
        if e.config.privileged {
            // Every capability the container may hold (its bounding set), in every set.
            if let Some(caps) = p.capabilities.as_mut() {
                let all = caps.bounding.clone();
                caps.effective = all.clone();
                caps.permitted = all.clone();
                caps.inheritable = all;
            }
        }
        Ok(p)
    }

    /// `POST /exec/{id}/start`: runs the process; with a client, relays its stdio (framed
    /// without a tty) until it ends.
    pub async fn exec_start<C>(self: &Arc<Self>, e: Arc<Exec>, client: Option<C>) -> Result<()>
    where
        C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let spawned = self.exec_spawn(&e, client.is_some()).await;
        let (mut child, master, pfile, pidfile) = match spawned {
            Ok(v) => v,
            Err(err) => {
                if let Some(mut cl) = client {
                    let msg = format!("{}\n", err.message);
                    let out = if e.config.tty {
                        msg.into_bytes()
                    } else {
                        frame(2, msg.as_bytes())
                    };
                    let _ = cl.write_all(&out).await;
                    let _ = cl.shutdown().await;
                }
                return Err(err);
            }
        };
        let e2 = e.clone();
        // The exit code is recorded before the client's stream is closed: a client asks for it
        // (`GET /exec/{id}/json`) as soon as its stream ends.
        let finish = {
            let this = self.clone();
            let e3 = e.clone();
            move |status: &std::io::Result<std::process::ExitStatus>| {
                this.exec_finished(&e3, exit_code(status));
            }
        };
        let relay = async move {
            let mut stderr_text = Vec::new();
            match (client, master) {
                (Some(client), Some(master)) => {
                    let (mut cr, mut cw) = tokio::io::split(client);
                    let m = tokio::fs::File::from_std(std::fs::File::from(master));
                    let mut m_read = m.try_clone().await.ok();
                    let mut m_write = m;
                    let input = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut m_write).await;
                    });
                    if let Some(mr) = m_read.as_mut() {
                        let mut buf = vec![0u8; 8192];
                        loop {
                            match mr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if cw.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    input.abort();
                    let status = child.wait().await;
                    finish(&status);
                    if let Some(mut se) = child.stderr.take() {
                        let _ = se.read_to_end(&mut stderr_text).await;
                    }
                    let _ = cw.shutdown().await;
                    (status, stderr_text)
                }
                (Some(client), None) => {
                    let (mut cr, mut cw) = tokio::io::split(client);
                    let stdin = child.stdin.take();
                    let input = tokio::spawn(async move {
                        if let Some(mut si) = stdin {
                            let _ = tokio::io::copy(&mut cr, &mut si).await;
                            let _ = si.shutdown().await;
                        } else {
                            let mut sink = [0u8; 4096];
                            while let Ok(n) = cr.read(&mut sink).await {
                                if n == 0 {
                                    break;
                                }
                            }
                        }
                    });
                    let mut so = child.stdout.take();
                    let mut se = child.stderr.take();
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u8, Vec<u8>)>(16);
                    let pump = |mut r: Box<dyn AsyncRead + Send + Unpin>,
                                stream: u8,
                                tx: tokio::sync::mpsc::Sender<(u8, Vec<u8>)>| async move {
                        let mut buf = vec![0u8; 8192];
                        loop {
                            match r.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if tx.send((stream, buf[..n].to_vec())).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    let mut tasks = Vec::new();
                    if let Some(o) = so.take() {
                        tasks.push(tokio::spawn(pump(Box::new(o), 1, tx.clone())));
                    }
                    if let Some(er) = se.take() {
                        tasks.push(tokio::spawn(pump(Box::new(er), 2, tx.clone())));
                    }
                    drop(tx);
                    let want_out = e2.config.attach_stdout;
                    let want_err = e2.config.attach_stderr;
                    while let Some((stream, data)) = rx.recv().await {
                        if (stream == 1 && !want_out) || (stream == 2 && !want_err) {
                            if stream == 2 {
                                stderr_text.extend_from_slice(&data);
                            }
                            continue;
                        }
                        if cw.write_all(&frame(stream, &data)).await.is_err() {
                            break;
                        }
                    }
                    let status = child.wait().await;
                    finish(&status);
                    input.abort();
                    let _ = cw.shutdown().await;
                    (status, stderr_text)
                }
                (None, master) => {
                    // Detached: a pty nobody reads would block the process; drain it.
                    if let Some(m) = master {
                        let mut f = tokio::fs::File::from_std(std::fs::File::from(m));
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 4096];
                            while let Ok(n) = f.read(&mut buf).await {
                                if n == 0 {
                                    break;
                                }
                            }
                        });
                    }
                    let status = child.wait().await;
                    finish(&status);
                    if let Some(mut se) = child.stderr.take() {
                        let _ = se.read_to_end(&mut stderr_text).await;
                    }
                    (status, stderr_text)
                }
            }
        };
        let (status, stderr_text) = relay.await;
        let _ = std::fs::remove_file(&pfile);
        let _ = std::fs::remove_file(&pidfile);
        let code = exit_code(&status);
        if !stderr_text.is_empty() && code != 0 {
            crate::log::log(
                "debug",
                &format!("exec {}: {}", e.id, String::from_utf8_lossy(&stderr_text).trim()),
            );
        }
        Ok(())
    }

    /// Starts the runtime's `exec`: the child (the process's supervisor), the pty master with a
    /// tty, and the files to remove after.
    async fn exec_spawn(
        &self,
        e: &Arc<Exec>,
        attached: bool,
    ) -> Result<(
        tokio::process::Child,
        Option<std::os::fd::OwnedFd>,
        std::path::PathBuf,
        std::path::PathBuf,
    )> {
        {
            let mut st = e.st();
            if st.started {
                return Err(ApiError::conflict(format!(
                    "Error: Exec command {} has already run",
                    e.id
                )));
            }
            st.started = true;
            st.running = true;
        }
        let c = e.container.clone();
        if c.state().status != super::Status::Running {
            e.st().running = false;
            return Err(ApiError::conflict(format!("Container {} is not running", c.id)));
        }
        let run_dir = self.run_dir(&c.id);
        let process = self.exec_process(e)?;
        let pfile = run_dir.join(format!("exec-{}.json", e.id));
        let pidfile = run_dir.join(format!("exec-{}.pid", e.id));
        crate::util::write_atomic(
            &pfile,
            &serde_json::to_vec(&process).map_err(|err| ApiError::system(err.to_string()))?,
            0o600,
        )?;
        let mut cmd = tokio::process::Command::new(&self.runtime);
        cmd.arg("--root")
            .arg(&self.runtime_root)
            .arg("exec")
            .arg("--process")
            .arg(&pfile)
            .arg("--pid-file")
            .arg(&pidfile);
        let tty = e.config.tty;
        let console = if tty {
            let sock = run_dir.join(format!("exec-{}.sock", &e.id[..12]));
            let _ = std::fs::remove_file(&sock);
            let l = std::os::unix::net::UnixListener::bind(&sock)?;
            cmd.arg("--console-socket").arg(&sock);
            Some((l, sock))
        } else {
            None
        };
        cmd.arg(&c.id);
        let attach_in = attached && e.config.attach_stdin;
        cmd.stdin(if attach_in && !tty {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        if tty || !attached {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let child = cmd
            .spawn()
            .map_err(|err| ApiError::system(format!("cannot run {}: {err}", self.runtime.display())))?;
        self.emit(
            &c,
            &format!("exec_start: {}", e.config.cmd.join(" ")),
            &[("execID", &e.id)],
        );
        let master = match console {
            Some((l, sock)) => {
                let got = tokio::task::spawn_blocking(move || recv_master(&l)).await?;
                let _ = std::fs::remove_file(&sock);
                match got {
                    Ok(fd) => Some(fd),
                    Err(err) => {
                        let out = child.wait_with_output().await.ok();
                        let msg = out
                            .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                            .filter(|m| !m.is_empty())
                            .unwrap_or_else(|| err.to_string());
                        self.exec_finished(e, 126);
                        return Err(super::shim::runtime_error(&msg));
                    }
                }
            }
            None => None,
        };
        if let Some(m) = &master {
            e.st().master = m.try_clone().ok();
        }
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            e.st().pid = pid.trim().parse().unwrap_or(0);
        }
        Ok((child, master, pfile, pidfile))
    }

    fn exec_finished(&self, e: &Exec, code: i64) {
        {
            let mut st = e.st();
            st.running = false;
            st.exit_code = Some(code);
            st.master = None;
        }
        e.done.send_replace(true);
        self.emit(
            &e.container,
            "exec_die",
            &[("execID", &e.id), ("exitCode", &code.to_string())],
        );
    }

    /// `POST /exec/{id}/resize`: `TIOCSWINSZ` on the exec's pty.
    pub fn exec_resize(&self, e: &Exec, h: u16, w: u16) -> Result<()> {
        use std::os::fd::AsRawFd;
        let st = e.st();
        let Some(m) = st.master.as_ref() else {
            if st.running || !st.started {
                return Ok(());
            }
            return Err(ApiError::conflict(format!("Exec {} is not running", e.id)));
        };
        let ws = libc::winsize {
            ws_row: h,
            ws_col: w,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: m is an open pty master; ws is a valid winsize the call only reads.
        let r = unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if r != 0 {
            return Err(ApiError::system(format!(
                "resize: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }
}

/// The exit code of the runtime's `exec` (its process's status; 128+N for a signal).
fn exit_code(status: &std::io::Result<std::process::ExitStatus>) -> i64 {
    match status {
        Ok(s) => s.code().map(i64::from).unwrap_or_else(|| {
            128 + i64::from(std::os::unix::process::ExitStatusExt::signal(s).unwrap_or(9))
        }),
        Err(_) => 126,
    }
}

/// Receives the pty master the runtime sends on a console socket.
fn recv_master(l: &std::os::unix::net::UnixListener) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let (s, _) = l.accept()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one descriptor's control message.
    let mut cbuf = [0u64; 8];
    // SAFETY: a zeroed msghdr is valid; its pointers are set to live buffers below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR reads within msg_control.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    if cmsg.is_null() {
        return Err(std::io::Error::other("the runtime sent no terminal"));
    }
    // SAFETY: cmsg is a valid header inside cbuf.
    let (level, typ) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
    if level != libc::SOL_SOCKET || typ != libc::SCM_RIGHTS {
        return Err(std::io::Error::other(
            "unexpected control message on the console socket",
        ));
    }
    // SAFETY: an SCM_RIGHTS message carries at least one int after its header.
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int) };
    // SAFETY: the descriptor was just received and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_overrides_by_key() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let out = merge_env(&base, &["A=2".into(), "B=3".into()]);
        assert_eq!(out, ["PATH=/bin", "A=2", "B=3"]);
    }

    #[test]
    fn exec_config_parses_docker_body() {
        let c: ExecConfig = serde_json::from_str(
            r#"{"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"Cmd":["ls","-l"],"Env":null,"User":"","WorkingDir":"","Privileged":false}"#,
        )
        .unwrap();
        assert_eq!(c.cmd, ["ls", "-l"]);
        assert!(c.attach_stdout);
    }
}
