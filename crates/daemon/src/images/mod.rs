//! The image service: the state database's image records, the content store's blobs and the layer
//! store's unpacked directories, kept consistent with each other.
//!
//! ```text
//! <data-root>/berth.db                   images, tags, repository digests, layers (SQLite)
//! <data-root>/blobs/sha256/<hex>         manifests, configs, layer blobs (content store)
//! <data-root>/layers/sha256/<hex>        one directory per unpacked layer, named by its diff ID,
//!                                        in overlay form; shared by every image that has it
//! ```
//!
//! Order of writes, so that a crash at any point leaves a state [`Images::repair`] fixes: blobs are
//! committed first (verified, atomic), then each layer is unpacked into a temporary directory that
//! is renamed into place and recorded, and the image is recorded last, with its tags, in one
//! transaction. Removal goes the other way: the records first, then the layer directories (renamed
//! to a trash name, then deleted) and blobs that no image holds any more.

pub mod archive;
mod inspect;
mod layers;
pub mod lookup;
mod pull;
mod remove;
pub mod sync;

pub use pull::registry_error;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_image::digest::Digest;
use berth_image::manifest::{ImageConfig, ImageManifest};
use berth_image::reference::Reference;
use berth_image::store::ContentStore;
use berth_store::{ImageLayer, ImageRecord, Store};

use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::events::Events;
use crate::util::now_nanos;

pub use layers::LayerStore;

/// The image service.
#[derive(Debug)]
pub struct Images {
    pub store: Arc<Store>,
    pub content: Arc<ContentStore>,
    pub registry: berth_registry::Client,
    pub max_downloads: usize,
    pub max_uploads: usize,
    pub layers: LayerStore,
    pub events: Arc<Events>,
    pub data_root: PathBuf,
    /// Pulls, loads and imports hold it shared while their blobs and layers are not yet held by a
    /// recorded image; garbage collection holds it exclusively.
    pub gc_lock: tokio::sync::RwLock<()>,
    /// One lock per diff ID being unpacked, so that two pulls sharing a layer unpack it once.
    layer_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Wakes the layer syncer (see [`sync`]).
    sync_wanted: tokio::sync::Notify,
}

impl Images {
    pub fn open(config: &Config, events: Arc<Events>) -> anyhow::Result<Images> {
        let root = config.data_root.clone();
        let store = Arc::new(Store::open(&root.join("berth.db"))?);
        let content = Arc::new(ContentStore::open(&root)?);
        let registry = berth_registry::Client::new(berth_registry::Config {
            insecure_registries: config.insecure_registries.clone(),
            mirrors: config.registry_mirrors.clone(),
            ..berth_registry::Config::default()
        })?;
        let layers = LayerStore::open(root.join("layers"))?;
        Ok(Images {
            store,
            content,
            registry,
            max_downloads: config.max_concurrent_downloads,
            max_uploads: config.max_concurrent_uploads,
            layers,
            events,
            data_root: root,
            gc_lock: tokio::sync::RwLock::new(()),
            layer_locks: Mutex::new(HashMap::new()),
            sync_wanted: tokio::sync::Notify::new(),
        })
    }

    /// Brings the stores back in line after a crash: temporary and trashed layer directories
    /// go, layer records without a directory go, directories without a record go, and ingest
    /// files no writer holds that cannot be resumed go.
    pub fn repair(&self) -> anyhow::Result<()> {
        self.layers.remove_leftovers()?;
        self.reextract_unsynced()?;
        let recorded: std::collections::HashSet<String> =
            self.store.layers()?.into_iter().map(|l| l.diff_id).collect();
        for diff_id in &recorded {
            if !self.layers.exists(diff_id) {
                self.store.delete_layer(diff_id)?;
            }
        }
        for diff_id in self.layers.list()? {
            if !recorded.contains(&diff_id) {
                self.layers.remove(&diff_id)?;
            }
        }
        self.content.clean_ingest(false)?;
        Ok(())
    }

    /// The lock serializing work on one layer.
    pub fn layer_lock(&self, diff_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.layer_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(diff_id.to_string()).or_default().clone()
    }

    /// Whether a layer is unpacked and recorded.
    pub fn has_layer(&self, diff_id: &str) -> Result<bool> {
        Ok(self.store.layer(diff_id)?.is_some() && self.layers.exists(diff_id))
    }

    /// The image config (parsed) of a recorded image.
    pub fn config(&self, img: &ImageRecord) -> Result<ImageConfig> {
        let digest = Digest::parse(&img.id).map_err(|e| ApiError::system(e.to_string()))?;
        let bytes = self.content.read_all(&digest)?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::system(format!("image config {}: {e}", img.id)))
    }

    /// The image config as raw JSON, every field kept.
    pub fn config_json(&self, img: &ImageRecord) -> Result<serde_json::Value> {
        let digest = Digest::parse(&img.id).map_err(|e| ApiError::system(e.to_string()))?;
        let bytes = self.content.read_all(&digest)?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::system(format!("image config {}: {e}", img.id)))
    }

    /// Records an image whose manifest, config and layer blobs are in the content store and whose
    /// layers are unpacked, and points `tags` (normalized references) at it. Returns the record.
    pub fn record(
        &self,
        manifest: &Digest,
        manifest_media_type: &str,
        extra_blobs: &[Digest],
        tags: &[Reference],
        repo_digests: &[(String, String)],
    ) -> Result<ImageRecord> {
        let mbytes = self.content.read_all(manifest)?;
        let m: ImageManifest = serde_json::from_slice(&mbytes)
            .map_err(|e| ApiError::system(format!("manifest {manifest}: {e}")))?;
        let cbytes = self.content.read_all(&m.config.digest)?;
        let cfg: ImageConfig = serde_json::from_slice(&cbytes)
            .map_err(|e| ApiError::invalid(format!("image config {}: {e}", m.config.digest)))?;
        if cfg.rootfs.diff_ids.len() != m.layers.len() {
            return Err(ApiError::invalid(format!(
                "image config {} lists {} layers but manifest {manifest} has {}",
                m.config.digest,
                cfg.rootfs.diff_ids.len(),
                m.layers.len()
            )));
        }
        let mut size = 0;
        let mut layers = Vec::new();
        let mut blobs: Vec<String> = vec![manifest.to_string(), m.config.digest.to_string()];
        blobs.extend(extra_blobs.iter().map(|d| d.to_string()));
        for (desc, diff_id) in m.layers.iter().zip(&cfg.rootfs.diff_ids) {
            let rec = self
                .store
                .layer(diff_id.as_str())?
                .ok_or_else(|| ApiError::system(format!("layer {diff_id} is not unpacked")))?;
            size += rec.size;
            layers.push(ImageLayer {
                diff_id: diff_id.to_string(),
                blob_digest: desc.digest.to_string(),
                media_type: desc.media_type.clone(),
                blob_size: desc.size.max(0) as u64,
            });
            blobs.push(desc.digest.to_string());
        }
        let labels = cfg
            .config
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| v.get("Labels").cloned())
            .filter(|v| v.is_object())
            .unwrap_or_else(|| serde_json::json!({}));
        let now = now_nanos();
        let img = ImageRecord {
            id: m.config.digest.to_string(),
            manifest_digest: manifest.to_string(),
            manifest_media_type: manifest_media_type.to_string(),
            created: cfg.created.clone(),
            size,
            os: cfg.os.clone(),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            labels: labels.to_string(),
            parent: cfg.parent.clone().filter(|p| !p.is_empty()),
            added_at: self
                .store
                .image(m.config.digest.as_str())?
                .map(|old| old.added_at)
                .unwrap_or(now),
            last_tag_time: None,
            layers,
            blobs,
        };
        let tag_names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        self.store.put_image_tagged(&img, &tag_names, repo_digests, now)?;
        Ok(self.store.image(&img.id)?.unwrap_or(img))
    }
}

/// The 12-hex-digit short form of an ID.
pub fn short_id(id: &str) -> &str {
    let hex = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// A reference as Docker shows it: `busybox:latest`, `localhost:5000/x:1`.
pub fn familiar(name: &str) -> String {
    match Reference::parse(name) {
        Ok(r) => r.familiar_string(),
        Err(_) => name.to_string(),
    }
}

impl Images {
    /// `POST /images/{name}/tag?repo=&tag=`: `repo` is required, `tag` defaults to `latest`.
    pub fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.lookup(name)?;
        if repo.is_empty() {
            return Err(ApiError::invalid(
                "repository name must have at least one component",
            ));
        }
        let mut r = berth_image::reference::parse_normalized_named(repo)?;
        if r.digest().is_some() {
            return Err(ApiError::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        if !tag.is_empty() {
            r = r.with_tag(tag).map_err(|e| ApiError::invalid(e.to_string()))?;
        }
        let r = r.with_default_tag();
        self.store.set_tag(&r.to_string(), &img.id, now_nanos())?;
        self.events
            .emit("image", "tag", &img.id, &[("name", &r.familiar_string())]);
        Ok(())
    }
}
