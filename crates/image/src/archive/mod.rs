//! Image archives: making layers from directory trees, assembling images, `docker import`,
//! bootstrapping base images without a registry, and `docker save` / `docker load` archives.
//!
//! ```text
//!  directory ──write_dir_tar──▶ tar ──┬─ sha256 ──────────────▶ diff_id
//!                                     └─ parallel gzip ─ sha256 ─▶ blob in the ContentStore
//!  layers + ImageConfig ──ImageBuilder──▶ config + OCI manifest in the store ─▶ BuiltImage
//!  store ──save──▶ OCI layout + manifest.json + repositories (uncompressed layers, as Docker 25+)
//!  docker-archive / Docker 25+ / oci-archive ──load──▶ verified blobs in the store ─▶ LoadedImage
//! ```
//!
//! Everything here is synchronous and blocking; call it from `spawn_blocking` in async code.

pub mod bootstrap;
mod build;
pub mod change;
mod compress;
mod import;
pub mod layer;
mod load;
mod paths;
mod save;
mod tarw;
mod time;

use std::io;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::manifest::ManifestError;
use crate::store::StoreError;

pub use build::{BuiltImage, ImageBuilder};
pub use compress::{decompressing_reader, GzipWriter};
pub use import::{import_rootfs, ImportOptions};
pub use layer::{LayerBlob, LayerOptions, MtimePolicy};
pub use load::{load, LoadedImage};
pub use save::{save, SaveImage};
pub use time::rfc3339;

/// Why an archive operation failed. Every message names the file, entry, blob or command.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A filesystem or stream operation failed.
    #[error("cannot {op} `{}`: {error}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },

    /// Writing or reading an archive stream failed.
    #[error("cannot {op}: {error}")]
    Stream { op: String, error: io::Error },

    /// The content store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A manifest, index or config could not be read or written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),

    /// An archive entry whose name leaves the archive root (`..`, absolute).
    #[error("archive entry `{entry}` escapes the archive root")]
    UnsafeEntry { entry: String },

    /// The archive lacks something its own metadata names, or is not an image archive.
    #[error("invalid image archive: {0}")]
    InvalidArchive(String),

    /// A layer's uncompressed content does not hash to the diff ID the config lists.
    #[error("layer `{layer}` does not match the image config: diff ID `{actual}`, expected `{expected}`")]
    DiffIdMismatch {
        layer: String,
        expected: Digest,
        actual: Digest,
    },

    /// A blob in the archive does not hash to the digest that names it.
    #[error("archive blob `{entry}` does not match its digest: got `{actual}`")]
    BlobMismatch { entry: String, actual: Digest },

    /// A `--change` instruction that Docker would refuse. The message is Docker's.
    #[error("{0}")]
    InvalidChange(String),

    /// A command (busybox, debootstrap) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },

    /// Asked for something the operation does not do (an image without layers, a bad tag).
    #[error("{0}")]
    InvalidArgument(String),
}

impl ArchiveError {
    /// True when the input (archive, changes, arguments) is at fault rather than the machine: the
    /// API's InvalidArgument (400).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            ArchiveError::UnsafeEntry { .. }
            | ArchiveError::InvalidArchive(_)
            | ArchiveError::DiffIdMismatch { .. }
            | ArchiveError::BlobMismatch { .. }
            | ArchiveError::InvalidChange(_)
            | ArchiveError::InvalidArgument(_)
            | ArchiveError::Manifest(_) => true,
            ArchiveError::Store(e) => e.is_invalid_content(),
            ArchiveError::Io { .. } | ArchiveError::Stream { .. } | ArchiveError::Command { .. } => false,
        }
    }
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(io::Error) -> ArchiveError + 'a {
    move |error| ArchiveError::Io {
        op,
        path: path.to_path_buf(),
        error,
    }
}

pub(crate) fn stream_err(op: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
    let op = op.into();
    move |error| ArchiveError::Stream { op, error }
}
