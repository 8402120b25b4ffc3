//! The container process's attributes: rlimits, scheduling, user and groups, capabilities, the
//! executable's lookup and the final exec. Shared by the container's init and by `exec`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_oci::Process;
use nix::errno::Errno;

use crate::caps::{self, Sets};
use crate::error::{Context, Error, Result};

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

pub fn set_rlimits(p: &Process) -> Result<()> {
    for r in &p.rlimits {
        let res = rlimit_resource(&r.typ).ok_or_else(|| Error::msg(format!("unknown rlimit `{}`", r.typ)))?;
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: a valid resource number and a pointer to a live rlimit struct.
        if unsafe { libc::setrlimit(res, &lim) } < 0 {
            let e = Errno::last();
            return Err(
                Error::sys("set rlimit", &r.typ, e).detail(format!("soft {} hard {}", r.soft, r.hard))
            );
        }
    }
    Ok(())
}

pub fn set_oom_score_adj(p: &Process) -> Result<()> {
    let Some(adj) = p.oom_score_adj else { return Ok(()) };
    let cur = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    if cur.trim() == adj.to_string() {
        return Ok(());
    }
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).step("set oom_score_adj to", adj)
}

pub fn set_personality(spec: &berth_oci::Spec) -> Result<()> {
    let Some(p) = &spec.linux().personality else {
        return Ok(());
    };
    let persona = match p.domain.as_str() {
        "LINUX" => 0x0000,
        "LINUX32" => 0x0008,
        d => return Err(Error::msg(format!("unknown personality domain `{d}`"))),
    };
    // SAFETY: personality takes an integer and returns the previous persona or -1.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::sys("set personality", &p.domain, Errno::last()));
    }
    Ok(())
}

pub fn set_io_priority(p: &Process) -> Result<()> {
    let Some(io) = &p.io_priority else { return Ok(()) };
    let class = match io.class.as_str() {
        "IOPRIO_CLASS_RT" => 1,
        "IOPRIO_CLASS_BE" => 2,
        "IOPRIO_CLASS_IDLE" => 3,
        c => return Err(Error::msg(format!("unknown io priority class `{c}`"))),
    };
    let prio = (class << 13) | (io.priority & 0x1fff);
    // SAFETY: ioprio_set(IOPRIO_WHO_PROCESS=1, 0 = self, prio): integers only.
    if unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) } < 0 {
        return Err(Error::sys("set io priority", &io.class, Errno::last()));
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

pub fn set_scheduler(p: &Process) -> Result<()> {
    let Some(s) = &p.scheduler else { return Ok(()) };
    let policy = match s.policy.as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_ISO" => 4,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        x => return Err(Error::msg(format!("unknown scheduler policy `{x}`"))),
    };
    let mut flags = 0u64;
    for f in &s.flags {
        flags |= match f.as_str() {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            x => return Err(Error::msg(format!("unknown scheduler flag `{x}`"))),
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice,
        sched_priority: s.priority as u32,
        sched_runtime: s.runtime,
        sched_deadline: s.deadline,
        sched_period: s.period,
    };
    // SAFETY: sched_setattr(0 = self, attr, 0) with a live, correctly sized struct.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } < 0 {
        return Err(Error::sys("set scheduler", &s.policy, Errno::last()));
    }
    Ok(())
}

/// Joins a fresh session keyring named after the container, so containers do not share the host's.
pub fn join_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).map_err(|_| Error::msg("container id contains NUL"))?;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING (1) with a valid C string.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
    if r < 0 {
        let e = Errno::last();
        // Kernels without keyrings, or a keyring quota reached: runc ignores ENOSYS.
        if e != Errno::ENOSYS {
            return Err(Error::sys("join session keyring", name.to_string_lossy(), e));
        }
    }
    Ok(())
}

/// Switches to the configured user and capability sets. Runs as root (in the container's user
/// namespace): the bounding set is dropped first, while CAP_SETPCAP is still held, and the process
/// keeps its permitted capabilities across setuid with PR_SET_KEEPCAPS.
pub fn set_user_and_caps(p: &Process, sets: &Sets, setgroups_allowed: bool) -> Result<()> {
    caps::drop_bounding(sets.bounding)?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } < 0 {
        return Err(Error::sys("set", "PR_SET_KEEPCAPS", Errno::last()));
    }
    let u = &p.user;
    if setgroups_allowed {
        let groups: Vec<nix::unistd::Gid> = u.additional_gids.iter().map(|g| (*g).into()).collect();
        nix::unistd::setgroups(&groups).step("set additional groups", format!("{:?}", u.additional_gids))?;
    }
    nix::unistd::setresgid(u.gid.into(), u.gid.into(), u.gid.into()).step("set gid", u.gid)?;
    nix::unistd::setresuid(u.uid.into(), u.uid.into(), u.uid.into()).step("set uid", u.uid)?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) } < 0 {
        return Err(Error::sys("clear", "PR_SET_KEEPCAPS", Errno::last()));
    }
    caps::set_process(sets)
}

pub fn set_no_new_privileges() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(Error::sys("set", "no_new_privs", Errno::last()));
    }
    Ok(())
}

/// Finds `args[0]` as execvp would, using the process's own PATH, in the current root.
pub fn find_executable(p: &Process) -> Result<PathBuf> {
    let cmd = &p.args[0];
    let check = |path: &Path| -> std::result::Result<(), Errno> {
        let meta =
            std::fs::metadata(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
        if meta.is_dir() {
            return Err(Errno::EACCES);
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(())
    };
    if cmd.contains('/') {
        let path = if Path::new(cmd).is_absolute() {
            PathBuf::from(cmd)
        } else {
            Path::new(&p.cwd).join(cmd)
        };
        check(&path).map_err(|e| Error::sys("exec", cmd, e))?;
        // Checked here too, so that `create` refuses it rather than the process failing after `start`.
        if let Ok(f) = std::fs::File::open(&path) {
            refuse_runtime_binary(&f, Path::new(cmd))?;
        }
        return Ok(PathBuf::from(cmd));
    }
    let path_var = p
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut denied = false;
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(cmd);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        return Err(Error::sys("exec", cmd, Errno::EACCES));
    }
    Err(Error::new("exec", cmd).detail("executable file not found in $PATH"))
}

/// execve; returns only on failure.
///
/// The file is opened first and checked not to be the runtime's own binary (nor a script run by it):
/// a container that could exec `/proc/self/exe` while it still points at the runtime could keep a
/// handle on the host's binary and overwrite it later (CVE-2019-5736). ELF files are then exec'd
/// through that same descriptor, so the file checked is the file run.
pub fn exec(path: &Path, p: &Process) -> Error {
    let to_c =
        |s: &str| CString::new(s).map_err(|_| Error::msg(format!("argument `{s}` contains a NUL byte")));
    let prog = match CString::new(path.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(_) => return Error::msg("executable path contains a NUL byte"),
    };
    let args: Result<Vec<CString>> = p.args.iter().map(|a| to_c(a)).collect();
    let env: Result<Vec<CString>> = p.env.iter().map(|a| to_c(a)).collect();
    let (args, env) = match (args, env) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Error::io("exec", &p.args[0], e),
    };
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut &file, &mut head).unwrap_or(0);
    let head = &head[..n];
    if let Err(e) = refuse_runtime_binary(&file, path) {
        return e;
    }
    if let Some(interp) = shebang(head) {
        if let Ok(f) = std::fs::File::open(&interp) {
            if let Err(e) = refuse_runtime_binary(&f, &interp) {
                return e;
            }
        }
        // A script needs its path for the interpreter: exec by path.
        return match nix::unistd::execve(&prog, &args, &env) {
            Err(e) => Error::sys("exec", &p.args[0], e),
            Ok(never) => match never {},
        };
    }
    match nix::unistd::execveat(
        Some(std::os::fd::AsRawFd::as_raw_fd(&file)),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    ) {
        Err(e) => Error::sys("exec", &p.args[0], e),
        Ok(never) => match never {},
    }
}

/// The interpreter of a `#!` script.
fn shebang(head: &[u8]) -> Option<PathBuf> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim();
    let interp = line.split_whitespace().next()?;
    Some(PathBuf::from(interp))
}

fn refuse_runtime_binary(f: &std::fs::File, shown: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(theirs), Ok(ours)) = (f.metadata(), std::fs::metadata("/proc/self/exe")) else {
        return Ok(());
    };
    if theirs.dev() == ours.dev() && theirs.ino() == ours.ino() {
        return Err(Error::new("exec", shown.display())
            .detail("it is the runtime's own binary, which a container may never run"));
    }
    Ok(())
}

/// Makes the process non-dumpable until it execs: processes of the container can then neither
/// open `/proc/PID/exe` (the runtime's binary) nor ptrace it while it is being set up.
pub fn set_non_dumpable() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(Error::sys("set", "non-dumpable", Errno::last()));
    }
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec, so nothing of the runtime's leaks into the
/// container (CVE-2024-21626 class: a leaked directory fd gives a path back to the host).
pub fn cloexec_from(first: u32) -> Result<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range with integer arguments; CLOEXEC only flags descriptors, closes none.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r < 0 {
        // Kernels before 5.11: walk /proc/self/fd.
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .step("list", "/proc/self/fd")?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd >= first as i32)
            .collect();
        for fd in fds {
            // SAFETY: fcntl on a descriptor number; EBADF for the directory's own fd is harmless.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

/// Loads the seccomp filter, if any.
pub fn load_seccomp(f: Option<&berth_seccomp::Filter>) -> Result<()> {
    if let Some(f) = f {
        f.install()
            .map_err(|e| Error::msg(format!("cannot load seccomp filter: {e}")))?;
    }
    Ok(())
}

/// The last privileged steps before exec, shared by the container's init and `exec`: without
/// no_new_privs the seccomp filter needs CAP_SYS_ADMIN, so it is loaded before the capabilities drop
/// (runc does the same); then user, capabilities, umask and no_new_privs. With no_new_privs the caller
/// loads the filter itself, as late as possible.
pub fn drop_privileges(
    p: &Process,
    sets: &Sets,
    seccomp: Option<&berth_seccomp::Filter>,
    userns: bool,
) -> Result<()> {
    if !p.no_new_privileges {
        load_seccomp(seccomp)?;
    }
    // In a user namespace, setgroups(2) may have been denied by whoever wrote the id maps.
    let setgroups =
        !userns || std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "allow");
    set_user_and_caps(p, sets, setgroups)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        p.user.umask.unwrap_or(0o022) as libc::mode_t,
    ));
    if p.no_new_privileges {
        set_no_new_privileges()?;
    }
    Ok(())
}
