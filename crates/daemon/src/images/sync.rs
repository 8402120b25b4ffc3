//! When unpacked layers reach the disk.
//!
//! A layer is unpacked without waiting for the disk, recorded as not synced, and a background task
//! runs one `syncfs` for everything written in the last second, then marks those layers synced.
//! A pull thus does not wait for (or make others wait for) a flush of the whole filesystem, which on
//! a busy host holds every other writer's dirty data too. Nothing is lost: the layer's blob is
//! durable before the layer is unpacked (the content store fsyncs on commit), and after a crash a
//! layer still marked unsynced is extracted again from its blob before berthd serves anything.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_image::digest::Digest;
use berth_image::unpack::{unpack_with, UnpackOptions};
use berth_store::LayerRecord;

use super::Images;
use crate::error::{ApiError, Result};
use crate::util::now_nanos;

/// How long written layers wait for company before one sync covers them all.
const SYNC_DELAY: Duration = Duration::from_secs(1);

/// `syncfs` on the filesystem holding `path`.
pub fn syncfs(path: &Path) -> std::io::Result<()> {
    let dir = std::fs::File::open(path)?;
    // SAFETY: a valid open descriptor.
    if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Images {
    /// Unpack options for layers: durability comes from the syncer.
    pub fn unpack_options() -> UnpackOptions {
        UnpackOptions {
            durable: false,
            ..UnpackOptions::default()
        }
    }

    /// Records a freshly unpacked layer (not yet synced) and wakes the syncer.
    pub fn layer_written(&self, diff_id: &Digest, size: u64) -> Result<()> {
        self.store.put_layer(&LayerRecord {
            diff_id: diff_id.to_string(),
            size,
            added_at: now_nanos(),
            synced: false,
        })?;
        self.sync_wanted.notify_one();
        Ok(())
    }

    /// The background task: one sync per burst of written layers.
    pub async fn run_syncer(self: Arc<Self>) {
        loop {
            self.sync_wanted.notified().await;
            tokio::time::sleep(SYNC_DELAY).await;
            if let Err(e) = self.sync_layers().await {
                crate::log::log("error", &format!("cannot sync the layer store: {}", e.message));
            }
        }
    }

    /// Flushes the layer store's filesystem and marks every layer written before it synced.
    pub async fn sync_layers(&self) -> Result<usize> {
        let t0 = now_nanos();
        let root = self.layers.root().to_path_buf();
        tokio::task::spawn_blocking(move || syncfs(&root))
            .await?
            .map_err(|e| ApiError::system(format!("syncfs: {e}")))?;
        Ok(self.store.mark_layers_synced(t0)?)
    }

    /// At start-up: extracts again, from their blobs, the layers a crash may have left partly on
    /// disk. A layer no image holds yet (its pull did not finish) is dropped; the next pull makes it.
    pub fn reextract_unsynced(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        for l in self.store.layers()? {
            if l.synced {
                continue;
            }
            self.layers.remove(&l.diff_id)?;
            let Some((blob, _)) = self.store.layer_blob(&l.diff_id)? else {
                self.store.delete_layer(&l.diff_id)?;
                continue;
            };
            let digest = Digest::parse(&blob)?;
            let file = self.content.open_blob(&digest)?;
            let stats = unpack_with(file, &self.layers.dir(&l.diff_id), &UnpackOptions::default())?;
            if stats.diff_id.as_str() != l.diff_id {
                anyhow::bail!(
                    "layer {} extracted again from blob {blob} gives diff ID {}",
                    l.diff_id,
                    stats.diff_id
                );
            }
            self.store.put_layer(&LayerRecord {
                synced: true,
                ..l.clone()
            })?;
            crate::log::log(
                "warn",
                &format!(
                    "layer {} was not known to be on disk after an unclean stop: extracted again from {blob}",
                    l.diff_id
                ),
            );
            n += 1;
        }
        Ok(n)
    }
}
