//! The container's init, between clone and exec. Runs in the child; every failure travels to the
//! runtime over the sync channel as a typed message before the child exits.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_oci::{NamespaceType, Spec};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use crate::caps::Sets;
use crate::error::{Context, Error, Result};
use crate::rootfs;
use crate::sync::{Channel, ToChild, ToParent};
use crate::{console, process, sys, trace};

/// Everything the init needs, prepared by the runtime before clone.
#[derive(Debug)]
pub struct Init<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub chan: Channel,
    /// `exec.fifo` opened O_PATH (create only): the init blocks on it until `start`.
    pub fifo: Option<OwnedFd>,
    /// Namespaces to join by path, user first.
    pub join: Vec<(NamespaceType, OwnedFd)>,
    pub new_userns: bool,
    pub new_mountns: bool,
    pub new_cgroupns: bool,
    pub new_timens: bool,
    pub new_utsns: bool,
    /// v1 cgroup directories the init moves itself into by writing `0` to `tasks`.
    pub self_join: Vec<PathBuf>,
    pub cgroup_views: Vec<berth_cgroups::V1Mount>,
    pub caps: Sets,
    pub seccomp: Option<berth_seccomp::Filter>,
    /// Make a pty and send its master to the runtime.
    pub console: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// The runtime has prestart/createRuntime hooks to run before pivot_root.
    pub runtime_hooks: bool,
    /// Namespaces to create after joining a user namespace by path, so that it owns them.
    pub unshare_after_join: CloneFlags,
}

/// Runs the init; never returns. Exit code 1 after reporting a set-up failure, 127 when exec fails
/// after `start` (no one is listening any more).
pub fn run(init: Init) -> ! {
    let mut started = false;
    let err = match setup(&init, &mut started) {
        Ok(path) => {
            let p = init.spec.process.as_ref().expect("validated: process is present");
            process::exec(&path, p)
        }
        Err(e) => e,
    };
    let err = err.in_container(init.id);
    if started {
        // After `start` the runtime is gone: the container's stderr is the only place left.
        let _ = writeln!(std::io::stderr(), "berth-runtime: {err}");
        sys::exit_now(127);
    }
    let _ = Channel::send(&init.chan, &ToParent::Failed(err));
    sys::exit_now(1)
}

fn setup(init: &Init, started: &mut bool) -> Result<PathBuf> {
    let spec = init.spec;
    let p = spec
        .process
        .as_ref()
        .ok_or_else(|| Error::msg("config has no `process`"))?;
    process::set_non_dumpable()?;
    // The exec'd process gets its own umask below; meanwhile device nodes and dirs get exact modes.
    nix::sys::stat::umask(Mode::empty());

    let host_pid = match init.chan.recv::<ToChild>()? {
        Some((ToChild::Go { pid }, _)) => pid,
        Some((other, _)) => {
            return Err(Error::msg(format!(
                "unexpected message from the runtime: {other:?}"
            )))
        }
        None => return Err(Error::msg("the runtime went away before the container started")),
    };
    trace::mark("init: go");

    if init.new_userns {
        // The creator has every capability in the new user namespace; become its root.
        nix::unistd::setresgid(0.into(), 0.into(), 0.into()).step("set gid in user namespace to", 0)?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into()).step("set uid in user namespace to", 0)?;
    }
    for (typ, fd) in &init.join {
        let flag = clone_flag(*typ);
        nix::sched::setns(fd, flag).step(&format!("join {} namespace", typ.as_str()), "")?;
    }
    if !init.unshare_after_join.is_empty() {
        nix::sched::unshare(init.unshare_after_join).step("create", "namespaces")?;
    }

    // Into the container's cgroups without a costly migration (decision 0003).
    crate::cgroup::join_self(&init.self_join)?;
    if init.new_cgroupns {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).step("create", "cgroup namespace")?;
    }
    if init.new_timens {
        nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .step("create", "time namespace")?;
        write_time_offsets(spec)?;
    }
    trace::mark("init: namespaces");

    let state = |status| berth_oci::State {
        oci_version: berth_oci::OCI_VERSION.into(),
        id: init.id.to_string(),
        status,
        pid: Some(host_pid),
        bundle: init.bundle.display().to_string(),
        annotations: spec.annotations.clone(),
    };

    // The exec fifo must be reopened after pivot_root, through a /proc that still shows this process.
    let proc_fd = match &init.fifo {
        Some(_) => Some(open_dir("/proc")?),
        None => None,
    };

    if init.new_mountns {
        let ctx = rootfs::Ctx {
            spec,
            rootfs: init.rootfs,
            bundle: init.bundle,
            cgroups: &init.cgroup_views,
            new_cgroupns: init.new_cgroupns,
            in_userns: init.new_userns || init.join.iter().any(|(t, _)| *t == NamespaceType::User),
        };
        rootfs::prepare_root(&ctx)?;
        let rootfd = open_dir(init.rootfs)?;
        rootfs::mount_all(&ctx, &rootfd)?;
        // The working directory must exist in the image; runc creates it.
        crate::mounts::ensure_in_root(&rootfd, Path::new(&p.cwd), crate::mounts::Kind::Dir)?;
        drop(rootfd);
        trace::mark("init: mounts");
        if init.runtime_hooks {
            init.chan.send(&ToParent::RunHooks)?;
            match init.chan.recv::<ToChild>()? {
                Some((ToChild::HooksDone, _)) => {}
                _ => return Err(Error::msg("the runtime went away while running hooks")),
            }
        }
        if let Some(h) = &spec.hooks {
            crate::hooks::run(
                "createContainer",
                &h.create_container,
                &state(berth_oci::Status::Created),
            )?;
        }
        rootfs::pivot(init.rootfs, init.no_pivot)?;
        trace::mark("init: pivot");
    } else {
        nix::unistd::chroot(init.rootfs).step("chroot to", init.rootfs.display())?;
        nix::unistd::chdir("/").step("chdir to", "/")?;
    }

    if init.new_utsns {
        if let Some(h) = &spec.hostname {
            nix::unistd::sethostname(h).step("set hostname", h)?;
        }
        if let Some(d) = &spec.domainname {
            set_domainname(d)?;
        }
    }
    for (k, v) in &spec.linux().sysctl {
        write_sysctl(k, v)?;
    }
    if init.new_mountns {
        rootfs::protect_paths(spec)?;
    }

    if init.console {
        let pty = console::open_pty(p.console_size)?;
        init.chan
            .send_with_fd(&ToParent::Console, Some(pty.master.as_raw_fd()))?;
        if init.new_mountns {
            rootfs::mount_console(&pty.slave_path)?;
        }
        console::attach_stdio(&pty.slave)?;
    }
    if init.new_mountns && spec.root.as_ref().is_some_and(|r| r.readonly) {
        rootfs::readonly_root()?;
    }

    process::set_rlimits(p)?;
    process::set_oom_score_adj(p)?;
    process::set_personality(spec)?;
    process::set_io_priority(p)?;
    process::set_scheduler(p)?;
    if !init.no_new_keyring {
        process::join_session_keyring(init.id)?;
    }
    nix::unistd::chdir(Path::new(&p.cwd)).step("chdir to", &p.cwd)?;
    let exe = process::find_executable(p)?;

    let userns = init.new_userns || init.join.iter().any(|(t, _)| *t == NamespaceType::User);
    process::drop_privileges(p, &init.caps, init.seccomp.as_ref(), userns)?;
    process::cloexec_from(3 + init.preserve_fds)?;
    sys::reset_signals();
    trace::mark("init: process");

    init.chan.send(&ToParent::Ready)?;
    if let (Some(fifo), Some(proc_fd)) = (&init.fifo, &proc_fd) {
        wait_for_start(fifo, proc_fd)?;
        *started = true;
    }
    if let Some(h) = &spec.hooks {
        crate::hooks::run(
            "startContainer",
            &h.start_container,
            &state(berth_oci::Status::Running),
        )?;
    }
    if p.no_new_privileges {
        process::load_seccomp(init.seccomp.as_ref())?;
    }
    Ok(exe)
}

/// Blocks until `start` opens the fifo for reading, then tells it the process is about to exec.
fn wait_for_start(fifo: &OwnedFd, proc_fd: &OwnedFd) -> Result<()> {
    let path = format!("self/fd/{}", fifo.as_raw_fd());
    let fd = nix::fcntl::openat(
        Some(proc_fd.as_raw_fd()),
        path.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step("open", "exec fifo")?;
    // SAFETY: a fresh descriptor from openat that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::unistd::write(&fd, b"0").step("write", "exec fifo")?;
    Ok(())
}

fn open_dir(path: impl AsRef<Path>) -> Result<OwnedFd> {
    let path = path.as_ref();
    let fd = nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step("open", path.display())?;
    // SAFETY: a fresh descriptor from open that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn clone_flag(t: NamespaceType) -> CloneFlags {
    match t {
        NamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        NamespaceType::Network => CloneFlags::CLONE_NEWNET,
        NamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        NamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        NamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        NamespaceType::User => CloneFlags::CLONE_NEWUSER,
        NamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        NamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: pointer and length of a live byte slice.
    if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } < 0 {
        return Err(Error::sys("set domainname", d, Errno::last()));
    }
    Ok(())
}

fn write_sysctl(key: &str, value: &str) -> Result<()> {
    if key.contains("..") || key.contains('/') && key.contains('.') {
        return Err(Error::msg(format!("invalid sysctl `{key}`")));
    }
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    fs::write(&path, value)
        .map_err(|e| Error::io(format!("set sysctl {key} to `{value}` via"), path.display(), e))
}

fn write_time_offsets(spec: &Spec) -> Result<()> {
    let mut text = String::new();
    for (clock, off) in &spec.linux().time_offsets {
        let id = match clock.as_str() {
            "monotonic" => libc::CLOCK_MONOTONIC,
            "boottime" => libc::CLOCK_BOOTTIME,
            c => return Err(Error::msg(format!("unknown clock `{c}` in `linux.timeOffsets`"))),
        };
        text.push_str(&format!("{id} {} {}\n", off.secs, off.nanosecs));
    }
    if !text.is_empty() {
        fs::write("/proc/self/timens_offsets", text).step("write", "/proc/self/timens_offsets")?;
    }
    Ok(())
}
