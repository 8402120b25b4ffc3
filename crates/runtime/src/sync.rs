//! The typed channel between the runtime and the container's init (or an exec'd process) while it is
//! being set up. A `SOCK_SEQPACKET` socketpair: one message per datagram, file descriptors ride along
//! with `SCM_RIGHTS`, and end-of-file means the other side exited or exec'd (the socket is close-on-exec).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// Runtime → init.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum ToChild {
    /// Identity mappings and cgroups are in place; `pid` is the init's pid as the host sees it.
    Go { pid: i32 },
    /// The runtime ran the prestart and createRuntime hooks.
    HooksDone,
}

/// Init → runtime.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum ToParent {
    /// Mounts are prepared and pivot_root is next: time for prestart and createRuntime hooks.
    RunHooks,
    /// The pty master travels with this message.
    Console,
    /// Set-up is complete: the process waits for `start` (create) or is about to exec (run).
    Ready,
    /// Set-up failed; the child exits after sending this.
    Failed(Error),
}

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

const MAX_MSG: usize = 64 * 1024;

/// A connected pair: (parent end, child end). Both close-on-exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .step("create", "sync socketpair")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send<T: Serialize>(&self, msg: &T) -> Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<()> {
        let data =
            serde_json::to_vec(msg).map_err(|e| Error::msg(format!("cannot encode sync message: {e}")))?;
        let iov = [IoSlice::new(&data)];
        let fds;
        let cmsgs: Vec<ControlMessage> = match fd {
            Some(f) => {
                fds = [f];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => vec![],
        };
        loop {
            match sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("send on", "sync socket", e)),
            }
        }
    }

    /// Receives one message; `Ok(None)` on end-of-file (the peer exited or exec'd).
    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fd = None;
                    for c in m
                        .cmsgs()
                        .map_err(|e| Error::sys("read control message from", "sync socket", e))?
                    {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for f in fds {
                                // SAFETY: the kernel just installed this descriptor in our table for us;
                                // nothing else owns it.
                                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                                if fd.is_none() {
                                    fd = Some(owned);
                                }
                            }
                        }
                    }
                    break (m.bytes, fd);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive on", "sync socket", e)),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n])
            .map_err(|e| Error::msg(format!("malformed sync message from the container: {e}")))?;
        Ok(Some((msg, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_fd_and_eof() {
        let (a, b) = pair().unwrap();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&ToParent::Console, Some(devnull.as_raw_fd()))
            .unwrap();
        a.send(&ToParent::Failed(Error::sys("mount", "/x", Errno::EPERM)))
            .unwrap();
        let (m, fd) = b.recv::<ToParent>().unwrap().unwrap();
        assert_eq!(m, ToParent::Console);
        assert!(fd.is_some());
        let (m, fd) = b.recv::<ToParent>().unwrap().unwrap();
        assert!(matches!(m, ToParent::Failed(ref e) if e.object == "/x"));
        assert!(fd.is_none());
        drop(a);
        assert!(b.recv::<ToParent>().unwrap().is_none());
    }
}
