//! `create` (and the first half of `run`): bundle → a set-up container whose init waits to exec.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_oci::{NamespaceType, Spec, Status};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::caps::Sets;
use crate::commands::Global;
use crate::error::{Context, Error, Result};
use crate::init::{self, clone_flag, Init};
use crate::state::{self, ContainerState, EXEC_FIFO};
use crate::sync::{self, ToChild, ToParent};
use crate::sys::{fork_with, Forked};
use crate::{hooks, trace};

#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `run`: no exec fifo, the init execs as soon as it is set up.
    pub run: bool,
    /// `run` without a console socket but with a terminal: the runtime keeps the pty master.
    pub keep_console: bool,
}

/// A container whose init is set up (create) or exec'd (run).
#[derive(Debug)]
pub struct Created {
    pub state: ContainerState,
    /// The pty master, when the runtime keeps it (`run` in the foreground with a terminal).
    pub console: Option<OwnedFd>,
}

pub fn create(g: &Global, o: &CreateOpts) -> Result<Created> {
    berth_oci::validate::validate_id(&o.id)?;
    let bundle = absolute(&o.bundle)?;
    let spec = berth_oci::validate::load_bundle(&bundle)?;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| Error::msg("config.json has no `process`"))?;
    let root_path = &spec.root.as_ref().map(|r| r.path.clone()).unwrap_or_default();
    let rootfs = bundle.join(root_path);
    if !rootfs.is_dir() {
        return Err(Error::msg(format!(
            "rootfs `{}` does not exist or is not a directory",
            rootfs.display()
        )));
    }
    let rootfs = fs::canonicalize(&rootfs).step("resolve rootfs", rootfs.display())?;
    if process.terminal && o.console_socket.is_none() && !o.keep_console {
        return Err(Error::msg(
            "a terminal was requested (`process.terminal`) but no `--console-socket` was given",
        ));
    }
    if !process.terminal && o.console_socket.is_some() {
        return Err(Error::msg(
            "`--console-socket` was given but the config does not request a terminal",
        ));
    }
    let caps = Sets::from_spec(process.capabilities.as_ref())?;
    let seccomp = match &spec.linux().seccomp {
        Some(s) => {
            Some(berth_seccomp::compile(s).map_err(|e| Error::msg(format!("invalid seccomp profile: {e}")))?)
        }
        None => None,
    };
    let plan = NsPlan::new(&spec)?;
    let console_sock = match &o.console_socket {
        Some(p) => Some(crate::console::connect_socket(p)?),
        None => None,
    };
    trace::mark("create: config loaded");

    let dir = state::reserve(&g.root, &o.id)?;
    let mut guard = Abort {
        root: g.root.clone(),
        id: o.id.clone(),
        cgroup: None,
        pid: None,
        armed: true,
    };

    let fifo = if o.run {
        None
    } else {
        let path = dir.join(EXEC_FIFO);
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622)).step("create", path.display())?;
        Some(open_fd(&path, OFlag::O_PATH)?)
    };

    let cgroup = crate::cgroup::create(g, &spec, &o.id)?;
    guard.cgroup = Some(cgroup.clone());
    trace::mark("create: cgroup");

    let (parent_chan, child_chan) = sync::pair()?;
    let join = plan.open_paths()?;
    let pid_ns = plan
        .pid_path
        .as_ref()
        .map(|p| open_fd(Path::new(p), OFlag::O_RDONLY))
        .transpose()?;
    let own_pid_ns = match &pid_ns {
        Some(fd) => {
            let own = open_fd(Path::new("/proc/self/ns/pid"), OFlag::O_RDONLY)?;
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .step("join pid namespace", plan.pid_path.as_deref().unwrap_or(""))?;
            Some(own)
        }
        None => None,
    };
    // Fast cgroup entry (no migration): v2 through clone3, v1 by the init writing 0 to `tasks`. In a
    // new user namespace the init may not write host cgroup files, so the runtime moves it instead.
    let userns = plan.new_userns || plan.join_userns;
    let v2_fd = match crate::cgroup::v2_dir(&cgroup) {
        Some(d) => Some(open_fd(&d, OFlag::O_PATH | OFlag::O_DIRECTORY)?),
        None => None,
    };
    let self_join = if userns {
        vec![]
    } else {
        crate::cgroup::v1_dirs(&cgroup)
    };
    let hooks = spec.hooks.clone().unwrap_or_default();
    let runtime_hooks = !hooks.prestart.is_empty() || !hooks.create_runtime.is_empty();
    let cgroup_views = crate::cgroup::views(&cgroup);

    trace::mark("create: clone");
    let forked = fork_with(
        plan.clone_flags.bits() as u64,
        v2_fd.as_ref().map(|f| f.as_raw_fd()),
    )
    .step("clone container init for", &o.id)?;
    let pid = match forked {
        Forked::Child => {
            drop(parent_chan);
            init::run(Init {
                id: &o.id,
                spec: &spec,
                bundle: &bundle,
                rootfs: &rootfs,
                chan: child_chan,
                fifo,
                join,
                new_userns: plan.new_userns,
                new_mountns: plan.new_mountns,
                new_cgroupns: plan.new_cgroupns,
                new_timens: plan.new_timens,
                new_utsns: plan.new_utsns,
                self_join,
                cgroup_views,
                caps,
                seccomp,
                console: process.terminal,
                no_pivot: o.no_pivot,
                no_new_keyring: o.no_new_keyring,
                preserve_fds: o.preserve_fds,
                runtime_hooks,
                unshare_after_join: plan.unshare_after_join,
            })
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_chan);
    drop(fifo);
    guard.pid = Some(pid);
    if let Some(own) = own_pid_ns {
        nix::sched::setns(own, CloneFlags::CLONE_NEWPID).step("return to own pid namespace", "")?;
    }

    if plan.new_userns {
        write_id_maps(pid, spec.linux())?;
    }
    if userns {
        crate::cgroup::apply(&cgroup, pid)?;
    }
    parent_chan.send(&ToChild::Go { pid })?;

    let pid_start = state::proc_start_time(pid).map(|(s, _)| s).unwrap_or(0);
    let st = ContainerState {
        id: o.id.clone(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid,
        pid_start,
        created: state::rfc3339_now(),
        owner: owner_name(),
        cgroup: Some(cgroup),
        config: spec,
    };
    let mut console = None;
    loop {
        match parent_chan.recv::<ToParent>()? {
            Some((ToParent::RunHooks, _)) => {
                let s = st.oci_state_with(Status::Creating);
                hooks::run("prestart", &hooks.prestart, &s).map_err(|e| e.in_container(&o.id))?;
                hooks::run("createRuntime", &hooks.create_runtime, &s).map_err(|e| e.in_container(&o.id))?;
                parent_chan.send(&ToChild::HooksDone)?;
            }
            Some((ToParent::Console, Some(fd))) => {
                if let Some(sock) = &console_sock {
                    crate::console::send_master(sock, fd.as_raw_fd())?;
                } else {
                    console = Some(fd);
                }
            }
            Some((ToParent::Console, None)) => return Err(Error::msg("the container sent no pty master")),
            Some((ToParent::Ready, _)) => break,
            Some((ToParent::Failed(e), _)) => {
                let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
                guard.pid = None;
                return Err(e);
            }
            None => return Err(init_died(pid, &o.id)),
        }
    }
    trace::mark("create: init ready");
    if o.run {
        // The init execs next: end-of-file means exec succeeded (the socket is close-on-exec).
        match parent_chan.recv::<ToParent>()? {
            None => {}
            Some((ToParent::Failed(e), _)) => {
                let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
                guard.pid = None;
                return Err(e);
            }
            Some((m, _)) => {
                return Err(Error::msg(format!(
                    "unexpected message from the container: {m:?}"
                )))
            }
        }
        trace::mark("run: exec'd");
    }
    st.save(&g.root)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, pid)?;
    }
    guard.armed = false;
    Ok(Created { state: st, console })
}

/// What to do with each namespace: create it with clone, join it by path, or unshare it in the init.
#[derive(Debug)]
struct NsPlan {
    clone_flags: CloneFlags,
    /// With a user namespace joined by path, the others are created after joining it, so that it owns them.
    unshare_after_join: CloneFlags,
    paths: Vec<(NamespaceType, String)>,
    pid_path: Option<String>,
    new_userns: bool,
    join_userns: bool,
    new_mountns: bool,
    new_cgroupns: bool,
    new_timens: bool,
    new_utsns: bool,
}

impl NsPlan {
    fn new(spec: &Spec) -> Result<NsPlan> {
        let mut plan = NsPlan {
            clone_flags: CloneFlags::empty(),
            unshare_after_join: CloneFlags::empty(),
            paths: vec![],
            pid_path: None,
            new_userns: false,
            join_userns: false,
            new_mountns: false,
            new_cgroupns: false,
            new_timens: false,
            new_utsns: false,
        };
        let mut new = CloneFlags::empty();
        for ns in &spec.linux().namespaces {
            match (&ns.path, ns.typ) {
                (Some(p), NamespaceType::Pid) => plan.pid_path = Some(p.clone()),
                (Some(p), t) => {
                    if t == NamespaceType::User {
                        plan.join_userns = true;
                    }
                    plan.paths.push((t, p.clone()));
                }
                (None, NamespaceType::Cgroup) => plan.new_cgroupns = true,
                (None, NamespaceType::Time) => plan.new_timens = true,
                (None, t) => {
                    new |= clone_flag(t);
                    match t {
                        NamespaceType::User => plan.new_userns = true,
                        NamespaceType::Mount => plan.new_mountns = true,
                        NamespaceType::Uts => plan.new_utsns = true,
                        _ => {}
                    }
                }
            }
        }
        // Join the user namespace first: the others' permission checks happen in it.
        plan.paths.sort_by_key(|(t, _)| *t != NamespaceType::User);
        if plan.join_userns {
            if new.contains(CloneFlags::CLONE_NEWPID) {
                return Err(Error::msg(
                    "a new pid namespace inside a user namespace joined by path is not supported; join the pid namespace too",
                ));
            }
            plan.unshare_after_join = new;
        } else {
            plan.clone_flags = new;
        }
        Ok(plan)
    }

    fn open_paths(&self) -> Result<Vec<(NamespaceType, OwnedFd)>> {
        self.paths
            .iter()
            .map(|(t, p)| {
                open_fd(Path::new(p), OFlag::O_RDONLY)
                    .map(|fd| (*t, fd))
                    .map_err(|e| Error {
                        step: format!("open {} namespace", t.as_str()),
                        ..e
                    })
            })
            .collect()
    }
}

fn write_id_maps(pid: i32, linux: &berth_oci::Linux) -> Result<()> {
    let fmt = |m: &[berth_oci::IdMapping]| {
        m.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect::<String>()
    };
    let uid = format!("/proc/{pid}/uid_map");
    fs::write(&uid, fmt(&linux.uid_mappings)).step("write", &uid)?;
    let gid = format!("/proc/{pid}/gid_map");
    fs::write(&gid, fmt(&linux.gid_mappings)).step("write", &gid)?;
    Ok(())
}

fn init_died(pid: i32, id: &str) -> Error {
    let status = waitpid(nix::unistd::Pid::from_raw(pid), None);
    let how = match status {
        Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!("was killed by {s:?}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("could not be waited for: {e}"),
    };
    Error::msg(format!(
        "the init of container `{id}` {how} before reporting its set-up"
    ))
}

pub fn open_fd(path: &Path, flags: OFlag) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, Mode::empty()).step("open", path.display())?;
    // SAFETY: a fresh descriptor from open that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    fs::canonicalize(p).map_err(|e| Error::io("use bundle", p.display(), e))
}

pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    fs::write(&tmp, pid.to_string()).step("write pid file", tmp.display())?;
    fs::rename(&tmp, path).step("write pid file", path.display())
}

fn owner_name() -> String {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        "root".into()
    } else {
        uid.to_string()
    }
}

/// Undoes a half-made container when `create` fails: kills the init, removes its cgroup and state.
struct Abort {
    root: PathBuf,
    id: String,
    cgroup: Option<berth_cgroups::Cgroup>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Abort {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let p = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(p, None);
        }
        if let Some(cg) = &self.cgroup {
            if let Err(e) = cg.destroy() {
                eprintln!("berth-runtime: cleanup of container `{}`: {e}", self.id);
            }
        }
        let d = state::dir(&self.root, &self.id);
        if let Err(e) = fs::remove_dir_all(&d) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!(
                    "berth-runtime: cleanup of container `{}`: cannot remove `{}`: {e}",
                    self.id,
                    d.display()
                );
            }
        }
    }
}
