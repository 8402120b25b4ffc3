//! Assembling an image from layer blobs and a config: the config and an OCI image manifest are
//! written to the store.

use serde_json::Map;

use crate::digest::Digest;
use crate::manifest::{
    ContainerConfig, Descriptor, History, ImageConfig, ImageManifest, Parsed, Platform, OCI_CONFIG,
    OCI_MANIFEST,
};
use crate::store::ContentStore;

use super::layer::LayerBlob;
use super::ArchiveError;

/// An image written to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltImage {
    /// The OCI image manifest (its digest is the image's manifest digest).
    pub manifest: Descriptor,
    /// The config (its digest is the image ID).
    pub config: Descriptor,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

impl BuiltImage {
    /// The image ID: the config digest.
    pub fn id(&self) -> &Digest {
        &self.config.digest
    }
}

/// Collects layers and history into an [`ImageConfig`], then writes config and manifest.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    /// The config being built; `rootfs.diff_ids` and `history` grow with [`ImageBuilder::add_layer`].
    pub config: ImageConfig,
    /// The layer descriptors, base first.
    pub layers: Vec<Descriptor>,
}

impl ImageBuilder {
    /// An empty image for `platform`, created at `created` (RFC 3339).
    pub fn new(platform: &Platform, created: &str) -> ImageBuilder {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        ImageBuilder {
            config: ImageConfig {
                created: Some(created.to_owned()),
                architecture: platform.architecture.clone(),
                os: platform.os.clone(),
                variant: non_empty(&platform.variant),
                os_version: non_empty(&platform.os_version),
                config: Some(ContainerConfig::default()),
                history: Some(Vec::new()),
                ..ImageConfig::default()
            },
            layers: Vec::new(),
        }
    }

    /// An empty image for this machine's platform, created now.
    pub fn for_host() -> ImageBuilder {
        ImageBuilder::new(&Platform::host(), &super::time::now())
    }

    /// The container defaults (`Cmd`, `Env`, ...).
    pub fn container_config(&mut self) -> &mut ContainerConfig {
        self.config.config.get_or_insert_with(ContainerConfig::default)
    }

    /// Appends a layer with its history entry (`created_by`, `comment`; created = the image's).
    pub fn add_layer(&mut self, layer: &LayerBlob, created_by: Option<&str>, comment: Option<&str>) {
        self.layers.push(layer.descriptor.clone());
        self.config.rootfs.diff_ids.push(layer.diff_id.clone());
        let h = History {
            created: self.config.created.clone(),
            created_by: created_by.map(str::to_owned),
            comment: comment.map(str::to_owned),
            ..History::default()
        };
        self.config.history.get_or_insert_with(Vec::new).push(h);
    }

    /// Appends a history entry that made no layer (`CMD`, `ENV`).
    pub fn add_empty_history(&mut self, created_by: &str) {
        let h = History {
            created: self.config.created.clone(),
            created_by: Some(created_by.to_owned()),
            empty_layer: true,
            extra: Map::new(),
            ..History::default()
        };
        self.config.history.get_or_insert_with(Vec::new).push(h);
    }

    /// Writes config and manifest into the store.
    pub fn write(self, store: &ContentStore) -> Result<BuiltImage, ArchiveError> {
        write_image(store, self.config, self.layers)
    }
}

/// Writes `config` and an OCI manifest over `layers` into the store.
pub(crate) fn write_image(
    store: &ContentStore,
    config: ImageConfig,
    layers: Vec<Descriptor>,
) -> Result<BuiltImage, ArchiveError> {
    if config.rootfs.diff_ids.len() != layers.len() {
        return Err(ArchiveError::InvalidArgument(format!(
            "image config lists {} diff IDs for {} layers",
            config.rootfs.diff_ids.len(),
            layers.len()
        )));
    }
    let config = Parsed::from_value(config, "image config")?;
    store.write_blob(&config.bytes, Some(&config.digest))?;
    let config_desc = Descriptor::for_bytes(OCI_CONFIG, &config.bytes);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config_desc.clone(),
        layers: layers.clone(),
        subject: None,
        annotations: None,
        extra: Map::new(),
    };
    let manifest = Parsed::from_value(manifest, "image manifest")?;
    store.write_blob(&manifest.bytes, Some(&manifest.digest))?;
    Ok(BuiltImage {
        manifest: Descriptor::for_bytes(OCI_MANIFEST, &manifest.bytes),
        config: config_desc,
        layers,
    })
}
