//! berth-runtime: turns an OCI bundle into a running, isolated, limited process.
//!
//! The process model is small on purpose: the runtime forks the container's init once, with its
//! namespaces, straight into its cgroup; the init sets up the root filesystem and the process and
//! execs. See docs/decisions/ for why each step is where it is.

pub mod caps;
pub mod cgroup;
pub mod cli;
pub mod commands;
pub mod console;
pub mod error;
pub mod hooks;
pub mod init;
pub mod mounts;
pub mod process;
pub mod rootfs;
pub mod signal;
pub mod state;
pub mod sync;
pub mod sys;
pub mod trace;
