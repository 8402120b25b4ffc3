//! cgroup management for berth's OCI runtime: `linux.resources` on cgroup v1, v2 and hybrid hosts,
//! with runc's file names, value conversions and write orders.
//!
//! ```text
//! detect() ──► Layout ──► resolve_path(cgroupsPath, id, systemd) ──► Cgroup::new(&layout, path)
//!                                                                      │
//!           create() ─► set(resources) ─► apply(pid) ─► freeze/thaw/stats/set(update) ─► destroy()
//! ```
//!
//! A [`Cgroup`] is plain serializable data: the runtime stores it in the container's state and
//! later commands use it as is, without reading the mount table again.
//!
//! Errors name the file and the value (``cannot write `max` to `/sys/fs/cgroup/pids/x/pids.max`:
//! EINVAL``). A file that is missing is never an error unless a value for it was requested.

mod cgroup;
mod devices;
mod error;
mod file;
mod freezer;
mod layout;
mod path;
mod stats;
mod v1;
mod v2;

pub use cgroup::{Cgroup, V1Mount};
pub use devices::default_allowed_devices;
pub use error::{CgroupError, Errno};
pub use layout::{detect, detect_from, detect_from_parts, Layout, Unified, V1Hierarchy};
pub use path::{expand_slice, resolve_path, DEFAULT_SCOPE_PREFIX};
pub use stats::{
    Blkio, BlkioEntry, Cpu as CpuStats, CpuSet as CpuSetStats, CpuUsage, Hugetlb as HugetlbStats, IntelRdt,
    Memory as MemoryStats, MemoryEntry, Pids as PidsStats, Stats, Throttling,
};
pub use v2::{convert_blkio_weight_to_io, convert_memory_swap_to_v2, convert_shares_to_weight};

#[cfg(test)]
mod tests;
