//! `docker import`: a root filesystem tarball becomes a one-layer image.
//!
//! Ref: moby daemon/images/image_import.go `ImportImage`. The tar is kept byte for byte (its
//! sha256 is the diff ID) and stored gzip-compressed; the config gets the `--change`
//! instructions, and `comment` and the single history entry get the message, or
//! `Imported from <src>` when there is none.

use std::io::{self, Read, Write};

use crate::manifest::{ContainerConfig, History, ImageConfig, Platform};
use crate::store::ContentStore;
use crate::unpack::Compression;

use super::build::{write_image, BuiltImage};
use super::change::apply_changes;
use super::compress::decompressing_reader;
use super::layer::store_tar_with;
use super::{stream_err, ArchiveError};

/// What `docker import` was given besides the tarball.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// `--message`; empty means `Imported from <source>`.
    pub message: String,
    /// Where the tarball came from: `-` for standard input (the default), or a URL or file name.
    pub source: Option<String>,
    /// `--platform`; `None` means this machine's.
    pub platform: Option<Platform>,
    /// The creation time (RFC 3339); `None` means now.
    pub created: Option<String>,
}

/// Imports the root filesystem tarball `reader` (plain, gzip or zstd) as a new image.
pub fn import_rootfs(
    store: &ContentStore,
    reader: impl Read,
    opts: &ImportOptions,
) -> Result<BuiltImage, ArchiveError> {
    // The changes are checked before the (possibly long) copy.
    let mut container = ContainerConfig::default();
    apply_changes(&mut container, &opts.changes)?;

    let (mut tar, _) = decompressing_reader(reader).map_err(|e| match e.kind() {
        io::ErrorKind::Unsupported => ArchiveError::InvalidArgument(format!("cannot import rootfs: {e}")),
        _ => ArchiveError::Stream {
            op: "read rootfs tarball".into(),
            error: e,
        },
    })?;
    let layer = store_tar_with(store, Compression::Gzip, 6, "of imported rootfs", |w| {
        copy_checking_tar(&mut tar, w)
    })?;

    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let created = opts.created.clone().unwrap_or_else(super::time::now);
    let source = opts.source.as_deref().unwrap_or("-");
    let message = if opts.message.is_empty() {
        format!("Imported from {source}")
    } else {
        opts.message.clone()
    };
    let config = ImageConfig {
        created: Some(created.clone()),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: (!platform.variant.is_empty()).then(|| platform.variant.clone()),
        config: Some(container),
        comment: Some(message.clone()),
        rootfs: crate::manifest::RootFs {
            fs_type: "layers".into(),
            diff_ids: vec![layer.diff_id.clone()],
        },
        history: Some(vec![History {
            created: Some(created),
            comment: Some(message),
            ..History::default()
        }]),
        ..ImageConfig::default()
    };
    write_image(store, config, vec![layer.descriptor])
}

/// Copies the uncompressed stream, checking that it starts as a tar does (a valid header checksum,
/// or the end-of-archive zero block): anything else is refused before it becomes an image.
fn copy_checking_tar(tar: &mut dyn Read, out: &mut dyn Write) -> Result<(), ArchiveError> {
    let mut first = [0u8; 512];
    let mut have = 0;
    while have < first.len() {
        match tar.read(&mut first[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(stream_err("read rootfs tarball")(e)),
        }
    }
    if have < 512 || !header_ok(&first) {
        return Err(ArchiveError::InvalidArgument(
            "cannot import rootfs: not a tar archive".into(),
        ));
    }
    out.write_all(&first)
        .map_err(stream_err("store imported rootfs"))?;
    io::copy(tar, out).map_err(stream_err("copy imported rootfs"))?;
    Ok(())
}

/// A tar header block whose checksum is right, or an all-zero block (an empty archive).
pub(crate) fn header_ok(block: &[u8; 512]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    let text = text.trim_start();
    let Ok(stored) = u32::from_str_radix(text, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) })
        .sum();
    stored == sum
}
