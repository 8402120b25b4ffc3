//! The container's terminal: a pty made inside the container's devpts, its master handed to the caller
//! through `--console-socket` with SCM_RIGHTS (runc's protocol, as conmon and containerd expect).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::error::{Context, Error, Result};

#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

/// Opens a new pty pair from `/dev/ptmx` of the current root.
pub fn open_pty(size: Option<berth_oci::ConsoleSize>) -> Result<Pty> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .step("open", "/dev/ptmx")?;
    nix::pty::grantpt(&master).step("grantpt on", "/dev/ptmx")?;
    nix::pty::unlockpt(&master).step("unlockpt on", "/dev/ptmx")?;
    let name = nix::pty::ptsname_r(&master).step("get pty name of", "/dev/ptmx")?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .step("open pty", &name)?;
    // SAFETY: `open` returned a fresh descriptor owned by nothing else.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // SAFETY: PtyMaster owns its descriptor; into_raw_fd hands ownership to the OwnedFd.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    if let Some(s) = size {
        set_size(&slave, s.height, s.width)?;
    }
    Ok(Pty {
        master,
        slave,
        slave_path: PathBuf::from(name),
    })
}

pub fn set_size(fd: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(Error::sys("set terminal size on", "pty", Errno::last()));
    }
    Ok(())
}

/// Makes `slave` the controlling terminal of a new session and the process's stdio.
pub fn attach_stdio(slave: &OwnedFd) -> Result<()> {
    nix::unistd::setsid().step("create", "session")?;
    // SAFETY: TIOCSCTTY with argument 0 on a terminal descriptor we own.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(Error::sys("set controlling terminal", "pty", Errno::last()));
    }
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors; the source is a live descriptor.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(Error::sys("dup pty onto", target, Errno::last()));
        }
    }
    Ok(())
}

/// Connects to the caller's console socket. Done before any namespace is entered, while the path is
/// still reachable.
pub fn connect_socket(path: &Path) -> Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .step("create socket for", path.display())?;
    let addr = UnixAddr::new(path).step("use console socket path", path.display())?;
    connect(fd.as_raw_fd(), &addr).step("connect to console socket", path.display())?;
    Ok(fd)
}

/// Sends the pty master over the console socket, with the terminal's name as payload as runc does.
pub fn send_master(sock: &OwnedFd, master: RawFd) -> Result<()> {
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("send pty master over", "console socket", e)),
        }
    }
}
