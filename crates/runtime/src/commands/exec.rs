//! `exec`: run a process inside a running container: its namespaces, cgroup, user, capabilities and
//! seccomp profile.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_oci::{NamespaceType, Process, Status};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::waitpid;

use crate::caps::{self, Sets};
use crate::commands::create::{open_fd, write_pid_file};
use crate::commands::Global;
use crate::error::{Context, Error, Result};
use crate::state::ContainerState;
use crate::sync::{self, Channel, ToChild, ToParent};
use crate::sys::{fork_with, Forked};
use crate::{console, process, sys};

#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    pub id: String,
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
}

/// Returns the exit status to exit with.
pub fn exec(g: &Global, o: &ExecOpts) -> Result<i32> {
    let st = ContainerState::load(&g.root, &o.id)?;
    match st.status(&g.root) {
        Status::Running => {}
        Status::Paused if o.ignore_paused => {}
        s => {
            return Err(Error::msg(format!(
                "cannot exec in container `{}`: it is {s}",
                o.id
            )))
        }
    }
    let p = build_process(&st, o)?;
    let mut sets = Sets::from_spec(p.capabilities.as_ref())?;
    for c in &o.caps {
        let n = caps::by_name(c).ok_or_else(|| Error::msg(format!("unknown capability `{c}`")))?;
        for s in [
            &mut sets.bounding,
            &mut sets.effective,
            &mut sets.permitted,
            &mut sets.inheritable,
        ] {
            *s |= 1 << n;
        }
    }
    if p.terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::msg("`--tty` with `--detach` needs `--console-socket`"));
    }
    let seccomp = match &st.config.linux().seccomp {
        Some(s) => {
            Some(berth_seccomp::compile(s).map_err(|e| Error::msg(format!("invalid seccomp profile: {e}")))?)
        }
        None => None,
    };
    let console_sock = o
        .console_socket
        .as_deref()
        .map(console::connect_socket)
        .transpose()?;
    let joins = namespaces_to_join(&st)?;
    let userns = st.config.namespace(NamespaceType::User).is_some();
    let cg = st.cgroup.as_ref();
    let v2_fd = match cg.and_then(crate::cgroup::v2_dir) {
        Some(d) => Some(open_fd(&d, OFlag::O_PATH | OFlag::O_DIRECTORY)?),
        None => None,
    };
    let v1 = cg.map(crate::cgroup::v1_dirs).unwrap_or_default();

    let mut set = SigSet::empty();
    if !o.detach {
        for s in [
            Signal::SIGHUP,
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGTERM,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGWINCH,
            Signal::SIGCHLD,
        ] {
            set.add(s);
        }
        sys::block_signals(&set).step("block", "signals")?;
    }
    let (parent, child) = sync::pair()?;
    let own_pid = open_fd(Path::new("/proc/self/ns/pid"), OFlag::O_RDONLY)?;
    let pid_ns = open_fd(
        &PathBuf::from(format!("/proc/{}/ns/pid", st.pid)),
        OFlag::O_RDONLY,
    )?;
    let joins_pid = !same_ns(&own_pid, &pid_ns);
    if joins_pid {
        nix::sched::setns(&pid_ns, CloneFlags::CLONE_NEWPID)
            .step("join pid namespace of container", &o.id)?;
    }
    let forked = fork_with(0, v2_fd.as_ref().map(|f| f.as_raw_fd())).step("fork exec process in", &o.id)?;
    match forked {
        Forked::Child => {
            drop(parent);
            let e = match child_setup(
                &child,
                &p,
                &sets,
                seccomp.as_ref(),
                &joins,
                &v1,
                userns,
                o.preserve_fds,
            ) {
                Ok(path) => process::exec(&path, &p),
                Err(e) => e,
            };
            let _ = child.send(&ToParent::Failed(e.in_container(&o.id)));
            sys::exit_now(1);
        }
        Forked::Parent(pid) => {
            drop(child);
            if joins_pid {
                nix::sched::setns(&own_pid, CloneFlags::CLONE_NEWPID)
                    .step("return to own pid namespace", "")?;
            }
            if userns {
                if let Some(cg) = cg {
                    crate::cgroup::apply(cg, pid)?;
                }
            }
            parent.send(&ToChild::Go { pid })?;
            let mut console = None;
            loop {
                match parent.recv::<ToParent>()? {
                    Some((ToParent::Console, Some(fd))) => match &console_sock {
                        Some(sock) => console::send_master(sock, fd.as_raw_fd())?,
                        None => console = Some(fd),
                    },
                    Some((ToParent::Failed(e), _)) => {
                        let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
                        return Err(e);
                    }
                    Some(_) => {}
                    // Close-on-exec: end-of-file means the process exec'd.
                    None => break,
                }
            }
            if let Some(f) = &o.pid_file {
                write_pid_file(f, pid)?;
            }
            if o.detach {
                return Ok(0);
            }
            crate::commands::run::supervise(pid, &set, console)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn child_setup(
    chan: &Channel,
    p: &Process,
    sets: &Sets,
    seccomp: Option<&berth_seccomp::Filter>,
    joins: &[(NamespaceType, OwnedFd)],
    v1: &[PathBuf],
    userns: bool,
    preserve_fds: u32,
) -> Result<PathBuf> {
    process::set_non_dumpable()?;
    match chan.recv::<ToChild>()? {
        Some((ToChild::Go { .. }, _)) => {}
        _ => return Err(Error::msg("the runtime went away")),
    }
    // Cgroups first: their host paths vanish once the mount namespace is joined.
    if !userns {
        crate::cgroup::join_self(v1)?;
    }
    for (t, fd) in joins {
        nix::sched::setns(fd, crate::init::clone_flag(*t))
            .step(&format!("join {} namespace", t.as_str()), "")?;
    }
    // The working directory is set inside the container's root, never inherited from the host.
    nix::unistd::chdir(Path::new(&p.cwd)).step("chdir to", &p.cwd)?;
    if p.terminal {
        let pty = console::open_pty(p.console_size)?;
        chan.send_with_fd(&ToParent::Console, Some(pty.master.as_raw_fd()))?;
        console::attach_stdio(&pty.slave)?;
    }
    process::set_rlimits(p)?;
    process::set_oom_score_adj(p)?;
    let exe = process::find_executable(p)?;
    process::drop_privileges(p, sets, seccomp, userns)?;
    if p.no_new_privileges {
        process::load_seccomp(seccomp)?;
    }
    process::cloexec_from(3 + preserve_fds)?;
    sys::reset_signals();
    Ok(exe)
}

/// The process to run: `--process FILE`, or the container's process with the command line's changes.
fn build_process(st: &ContainerState, o: &ExecOpts) -> Result<Process> {
    if let Some(f) = &o.process_file {
        let data = std::fs::read(f).step("read", f.display())?;
        let p: Process = serde_json::from_slice(&data)
            .map_err(|e| Error::msg(format!("invalid process JSON in `{}`: {e}", f.display())))?;
        if p.args.is_empty() {
            return Err(Error::msg(format!("`args` is empty in `{}`", f.display())));
        }
        return Ok(p);
    }
    if o.args.is_empty() {
        return Err(Error::msg("exec needs a command (or `--process FILE`)"));
    }
    let mut p = st.config.process.clone().unwrap_or_default();
    p.args = o.args.clone();
    p.terminal = o.tty;
    p.console_size = None;
    for e in &o.env {
        let key = e.split('=').next().unwrap_or(e);
        p.env.retain(|x| x.split('=').next() != Some(key));
        p.env.push(e.clone());
    }
    if let Some(c) = &o.cwd {
        p.cwd = c.clone();
    }
    if let Some(u) = &o.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        p.user.uid = uid
            .parse()
            .map_err(|_| Error::msg(format!("invalid `--user` `{u}`: uid[:gid] must be numeric")))?;
        if let Some(g) = gid {
            p.user.gid = g
                .parse()
                .map_err(|_| Error::msg(format!("invalid `--user` `{u}`: uid[:gid] must be numeric")))?;
        }
    }
    if !o.additional_gids.is_empty() {
        p.user.additional_gids = o.additional_gids.clone();
    }
    if o.no_new_privs {
        p.no_new_privileges = true;
    }
    Ok(p)
}

/// The container init's namespaces that differ from ours, user first (pid is handled by the caller).
fn namespaces_to_join(st: &ContainerState) -> Result<Vec<(NamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for t in [
        NamespaceType::User,
        NamespaceType::Ipc,
        NamespaceType::Uts,
        NamespaceType::Network,
        NamespaceType::Cgroup,
        NamespaceType::Time,
        NamespaceType::Mount,
    ] {
        let theirs = PathBuf::from(format!("/proc/{}/ns/{}", st.pid, t.proc_name()));
        let fd = match open_fd(&theirs, OFlag::O_RDONLY) {
            Ok(fd) => fd,
            // A kernel without this namespace type.
            Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let ours = open_fd(
            &PathBuf::from(format!("/proc/self/ns/{}", t.proc_name())),
            OFlag::O_RDONLY,
        )?;
        if !same_ns(&ours, &fd) {
            out.push((t, fd));
        }
    }
    Ok(out)
}

fn same_ns(a: &OwnedFd, b: &OwnedFd) -> bool {
    let m = |fd: &OwnedFd| {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).map(|m| (m.dev(), m.ino()))
    };
    matches!((m(a), m(b)), (Ok(x), Ok(y)) if x == y)
}
