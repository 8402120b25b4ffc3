//! Images that arrive without a registry: `load`, `import`, `image bootstrap`; and `save`.

use std::io::{Read, Write};
use std::sync::Arc;

use berth_image::archive::{self, ArchiveError, BuiltImage, ImportOptions, SaveImage};
use berth_image::digest::Digest;
use berth_image::manifest::{Descriptor, ImageConfig, ImageManifest};
use berth_image::reference::{parse_normalized_named, Reference};
use berth_store::ImageRecord;

use super::{short_id, Images};
use crate::api::progress::Progress;
use crate::error::{ApiError, Result};

/// What `image bootstrap` builds.
#[derive(Debug, Clone)]
pub enum BootstrapSource {
    /// A static busybox binary.
    Busybox { path: std::path::PathBuf },
    /// `debootstrap --variant=minbase SUITE`.
    Debian { suite: String, mirror: Option<String> },
}

pub fn archive_error(e: ArchiveError) -> ApiError {
    if e.is_invalid_input() {
        ApiError::invalid(e.to_string())
    } else {
        ApiError::system(e.to_string())
    }
}

impl Images {
    /// Unpacks, from the content store, every layer of the image whose manifest is `manifest`
    /// that is not unpacked yet, then records the image with `tags`.
    pub async fn register_stored(
        self: &Arc<Self>,
        manifest: &Descriptor,
        tags: &[Reference],
    ) -> Result<ImageRecord> {
        let m: ImageManifest = serde_json::from_slice(&self.content.read_all(&manifest.digest)?)
            .map_err(|e| ApiError::invalid(format!("manifest {}: {e}", manifest.digest)))?;
        let cfg: ImageConfig = serde_json::from_slice(&self.content.read_all(&m.config.digest)?)
            .map_err(|e| ApiError::invalid(format!("image config {}: {e}", m.config.digest)))?;
        if cfg.rootfs.diff_ids.len() != m.layers.len() {
            return Err(ApiError::invalid(format!(
                "image config {} lists {} layers but manifest {} has {}",
                m.config.digest,
                cfg.rootfs.diff_ids.len(),
                manifest.digest,
                m.layers.len()
            )));
        }
        for (desc, diff_id) in m.layers.iter().zip(&cfg.rootfs.diff_ids) {
            let lock = self.layer_lock(diff_id.as_str());
            let _held = lock.lock().await;
            if self.has_layer(diff_id.as_str())? {
                continue;
            }
            let dest = self.layers.dir(diff_id.as_str());
            if dest.exists() {
                self.layers.remove(diff_id.as_str())?;
            }
            let short = short_id(desc.digest.as_str()).to_string();
            // dockerd says nothing per layer on import and load: only the image.
            let stats = self
                .unpack_stored(desc, &dest, &short, &Progress::discard())
                .await?;
            if stats.diff_id != *diff_id {
                let _ = self.layers.remove(diff_id.as_str());
                return Err(ApiError::invalid(format!(
                    "layer {} unpacks to diff ID {}, the image config says {diff_id}",
                    desc.digest, stats.diff_id
                )));
            }
            self.layer_written(diff_id, stats.size)?;
        }
        self.record(&manifest.digest, &manifest.media_type, &[], tags, &[])
    }

    /// `POST /images/load`: every image of a `docker save` / docker-archive / OCI archive.
    pub async fn load(self: &Arc<Self>, body: impl Read + Send + 'static, p: &Progress) -> Result<()> {
        let _gc = self.gc_lock.read().await;
        let content = self.content.clone();
        let loaded = tokio::task::spawn_blocking(move || archive::load(&content, body))
            .await?
            .map_err(archive_error)?;
        for img in loaded {
            let mut tags = Vec::new();
            for t in &img.repo_tags {
                tags.push(parse_normalized_named(t)?.with_default_tag());
            }
            let rec = self.register_stored(&img.manifest, &tags).await?;
            if tags.is_empty() {
                p.stream(&format!("Loaded image ID: {}\n", rec.id));
                self.events.emit("image", "load", &rec.id, &[("name", &rec.id)]);
            }
            for t in &tags {
                let shown = t.familiar_string();
                p.stream(&format!("Loaded image: {shown}\n"));
                self.events.emit("image", "load", &rec.id, &[("name", &shown)]);
            }
        }
        Ok(())
    }

    /// `POST /images/create?fromSrc=-`: a root filesystem tarball as a one-layer image.
    pub async fn import(
        self: &Arc<Self>,
        body: impl Read + Send + 'static,
        opts: ImportOptions,
        tag: Option<Reference>,
        p: &Progress,
    ) -> Result<ImageRecord> {
        let _gc = self.gc_lock.read().await;
        let content = self.content.clone();
        let built = tokio::task::spawn_blocking(move || archive::import_rootfs(&content, body, &opts))
            .await?
            .map_err(archive_error)?;
        let tags: Vec<Reference> = tag.into_iter().collect();
        let rec = self.register_stored(&built.manifest, &tags).await?;
        p.status(None, &rec.id);
        self.events.emit("image", "import", &rec.id, &[("name", &rec.id)]);
        Ok(rec)
    }

    /// `POST /berth/v1/images/bootstrap`: a base image made on this machine.
    pub async fn bootstrap(
        self: &Arc<Self>,
        source: BootstrapSource,
        tag: Reference,
        p: &Progress,
    ) -> Result<ImageRecord> {
        let _gc = self.gc_lock.read().await;
        let content = self.content.clone();
        let cache = self.data_root.join("cache").join("bootstrap");
        let p2 = p.clone();
        let built: BuiltImage = tokio::task::spawn_blocking(move || match source {
            BootstrapSource::Busybox { path } => {
                p2.status(None, &format!("Building a busybox image from {}", path.display()));
                archive::bootstrap::busybox(&content, &path)
            }
            BootstrapSource::Debian { suite, mirror } => {
                let mut say = |m: &str| p2.status(None, m);
                archive::bootstrap::debian(&content, &suite, mirror.as_deref(), &cache, &mut say)
            }
        })
        .await?
        .map_err(archive_error)?;
        let rec = self
            .register_stored(&built.manifest, std::slice::from_ref(&tag))
            .await?;
        p.status(None, &format!("Digest: {}", built.manifest.digest));
        p.status(
            None,
            &format!(
                "Status: Bootstrapped {} ({})",
                tag.familiar_string(),
                short_id(&rec.id)
            ),
        );
        self.events
            .emit("image", "bootstrap", &rec.id, &[("name", &tag.familiar_string())]);
        Ok(rec)
    }

    /// `GET /images/get?names=…` and `/images/{name}/get`: a `docker save` archive.
    pub fn save_plan(&self, names: &[String]) -> Result<Vec<SaveImage>> {
        let mut out: Vec<SaveImage> = Vec::new();
        for n in names {
            let (img, named) = self.lookup_named(n)?;
            let manifest =
                Digest::parse(&img.manifest_digest).map_err(|e| ApiError::system(e.to_string()))?;
            let tags: Vec<String> = match named {
                super::lookup::Named::Reference(r) if r.digest().is_none() => {
                    vec![r.familiar_string()]
                }
                _ => Vec::new(),
            };
            match out.iter_mut().find(|s| s.manifest == manifest) {
                Some(s) => s.repo_tags.extend(tags),
                None => out.push(SaveImage {
                    manifest,
                    repo_tags: tags,
                }),
            }
        }
        Ok(out)
    }

    /// Writes the archive of `plan` (blocking).
    pub fn save(&self, plan: &[SaveImage], out: impl Write) -> Result<()> {
        archive::save(&self.content, plan, out).map_err(archive_error)
    }
}
