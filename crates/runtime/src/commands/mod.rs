//! The runc command line, one module per command.

use std::path::{Path, PathBuf};

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod info;
pub mod kill;
pub mod pause;
pub mod run;
pub mod spec;
pub mod start;
pub mod update;

/// Options every command shares.
#[derive(Debug, Clone)]
pub struct Global {
    /// Where container state lives (`--root`).
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

/// `p` made absolute against the current directory (without resolving symlinks).
pub fn abs(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
