//! bpf(2) calls to load the device filter and attach it to a cgroup v2 directory.
//!
//! The new program is attached with BPF_F_ALLOW_MULTI before the old ones are detached, so there is
//! never a moment without a filter (two filters only ever restrict more).
// Ref: runc (opencontainers/cgroups) devices/ebpf_linux.go; include/uapi/linux/bpf.h union bpf_attr.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::program::Insn;
use crate::error::{CgroupError, Errno};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

const LICENSE: &[u8] = b"Apache\0";

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// BPF_PROG_QUERY. Kernels from 6.17 write `revision` whatever size is passed, so the struct
/// must reach it (runc hit this; this machine runs 6.18).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// # Safety
/// `attr` must be the `bpf_attr` variant the kernel expects for `cmd`, with every pointer in it
/// valid for the kernel to read (or write, for output buffers) for the duration of the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<libc::c_long, Errno> {
    loop {
        // SAFETY: the caller guarantees `attr` is a valid bpf_attr for `cmd`; the size passed is
        // the size of that struct, which the kernel zero-extends.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut T as *mut libc::c_void,
                std::mem::size_of::<T>(),
            )
        };
        if r >= 0 {
            return Ok(r);
        }
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if e != libc::EINTR {
            return Err(Errno(e));
        }
    }
}

/// Takes ownership of an fd returned by bpf(2). The kernel treats fd 0 as "none" in bpf_attr, so
/// a program fd that happens to be 0 is moved elsewhere first, as runc does.
fn owned_fd(fd: libc::c_long) -> Result<OwnedFd, Errno> {
    let mut fd = fd as libc::c_int;
    if fd == 0 {
        // SAFETY: fd 0 is the descriptor bpf(2) just returned to us; F_DUPFD_CLOEXEC creates a copy.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 1) };
        let err = std::io::Error::last_os_error();
        // SAFETY: closing the original fd 0 we own; its copy (if any) stays open.
        unsafe { libc::close(fd) };
        if copy < 0 {
            return Err(Errno::from_io(&err));
        }
        fd = copy;
    }
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn err(op: &'static str, dir: &Path, errno: Errno, log: String) -> CgroupError {
    CgroupError::Bpf {
        op,
        path: dir.to_path_buf(),
        errno,
        log,
    }
}

fn prog_load(dir: &Path, insns: &[Insn]) -> Result<OwnedFd, CgroupError> {
    let code: Vec<u8> = insns.iter().flat_map(|i| i.encode()).collect();
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: code.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..Default::default()
    };
    // The verifier can be interrupted by a signal and then says EAGAIN.
    let mut first = Errno(0);
    for _ in 0..30 {
        // SAFETY: `attr` is a BPF_PROG_LOAD attr; `code` and LICENSE outlive the call.
        match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
            Ok(fd) => return owned_fd(fd).map_err(|e| err("load", dir, e, String::new())),
            Err(Errno(libc::EAGAIN)) => continue,
            Err(e) => {
                first = e;
                break;
            }
        }
    }
    // Load again with the verifier's log, to say why.
    let mut log = vec![0u8; 64 * 1024];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    // SAFETY: as above; `log` is writable for `log_size` bytes and outlives the call.
    if let Ok(fd) = unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
        return owned_fd(fd).map_err(|e| err("load", dir, e, String::new()));
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&log[..end]).trim_end().to_string();
    let mut detail = if text.is_empty() {
        String::new()
    } else {
        format!(" (verifier: {text})")
    };
    if first.0 == libc::EPERM {
        detail.push_str(" (loading cgroup device programs needs CAP_BPF or CAP_SYS_ADMIN)");
    }
    Err(err("load", dir, first, detail))
}

fn attached(dir: &Path, cgroup: &File) -> Result<Vec<OwnedFd>, CgroupError> {
    let mut ids = vec![0u32; 64];
    for _ in 0..10 {
        let mut q = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: `q` is a BPF_PROG_QUERY attr; `ids` holds `prog_cnt` writable u32s.
        match unsafe { bpf(BPF_PROG_QUERY, &mut q) } {
            Ok(_) => {
                let mut fds = Vec::new();
                for &id in &ids[..q.prog_cnt as usize] {
                    let mut a = GetFdByIdAttr {
                        prog_id: id,
                        ..Default::default()
                    };
                    // SAFETY: `a` is a BPF_PROG_GET_FD_BY_ID attr with no pointers.
                    match unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut a) } {
                        Ok(fd) => fds.push(owned_fd(fd).map_err(|e| err("query", dir, e, String::new()))?),
                        // A program an LSM hides from us: filters only restrict, leave it.
                        Err(Errno(libc::EPERM)) | Err(Errno(libc::EACCES)) => {}
                        // Detached meanwhile.
                        Err(Errno(libc::ENOENT)) => {}
                        Err(e) => return Err(err("query", dir, e, String::new())),
                    }
                }
                return Ok(fds);
            }
            Err(Errno(libc::ENOSPC)) => ids = vec![0u32; q.prog_cnt as usize + 8],
            Err(e) => return Err(err("query", dir, e, String::new())),
        }
    }
    Err(err(
        "query",
        dir,
        Errno(libc::ENOSPC),
        " (the list of attached programs keeps growing)".into(),
    ))
}

fn attach_detach(cmd: libc::c_long, cgroup: &File, prog: &OwnedFd, flags: u32) -> Result<(), Errno> {
    let mut a = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: `a` is a BPF_PROG_ATTACH/DETACH attr with no pointers.
    unsafe { bpf(cmd, &mut a) }.map(|_| ())
}

/// Loads `insns` and makes it the only device filter of the cgroup directory `dir`.
pub(crate) fn load_and_attach(dir: &Path, insns: &[Insn]) -> Result<(), CgroupError> {
    let cgroup = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| crate::file::io_err("open", dir, &e))?;
    let old = attached(dir, &cgroup)?;
    let prog = prog_load(dir, insns)?;
    attach_detach(BPF_PROG_ATTACH, &cgroup, &prog, BPF_F_ALLOW_MULTI)
        .map_err(|e| err("attach", dir, e, String::new()))?;
    let mut errors = Vec::new();
    for o in &old {
        match attach_detach(BPF_PROG_DETACH, &cgroup, o, 0) {
            Ok(()) | Err(Errno(libc::ENOENT)) => {}
            Err(e) => errors.push(err("detach an old", dir, e, String::new())),
        }
    }
    CgroupError::collect(errors)
}

#[cfg(test)]
mod tests {
    #[test]
    fn attr_sizes_match_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<super::ProgLoadAttr>(), 48);
        assert_eq!(std::mem::size_of::<super::AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<super::QueryAttr>(), 64);
        assert_eq!(std::mem::size_of::<super::GetFdByIdAttr>(), 12);
    }

    #[test]
    fn attaching_to_a_missing_dir_names_it() {
        let e = super::load_and_attach(std::path::Path::new("/nonexistent/cg"), &[]).unwrap_err();
        assert_eq!(e.to_string(), "cannot open `/nonexistent/cg`: ENOENT");
    }
}
