//! `docker save`: images from the store as the archive Docker 25+ writes.
//!
//! Ref: moby image/tarexport/save.go. The archive is an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/*`) that also carries the legacy `manifest.json` and `repositories`,
//! so both OCI tools and older Docker-archive readers take it. Layers are stored uncompressed,
//! named by their diff ID, and each image gets a new OCI manifest describing those uncompressed
//! blobs (`application/vnd.oci.image.layer.v1.tar`); the config, hence the image ID, is kept
//! byte for byte. Entries come sorted by name with mtime 0, so the same images give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use serde::Serialize;
use serde_json::Map;

use crate::digest::{Digest, Hasher};
use crate::manifest::{
    self, layer_compression, parse_manifest, Descriptor, ImageConfig, ImageIndex, ImageManifest,
    ManifestKind, Parsed, Platform, OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST,
};
use crate::reference::parse_normalized_named;
use crate::store::ContentStore;

use super::compress::decompressing_reader;
use super::tarw::{Entry, Kind, TarWriter};
use super::{stream_err, ArchiveError};

/// Docker's `ociLayoutContent`.
pub(crate) const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;
/// containerd's `images.AnnotationImageName`.
pub(crate) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI's `org.opencontainers.image.ref.name`.
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One image to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveImage {
    /// The image's manifest (or index: the entry for this machine's platform is saved).
    pub manifest: Digest,
    /// Tags to record, familiar or not (`busybox:latest`, `docker.io/library/busybox`); a name
    /// without tag gets `latest`.
    pub repo_tags: Vec<String>,
}

/// A `manifest.json` item. Field order and `null` RepoTags as Go's encoder writes them.
#[derive(Debug, Serialize, serde::Deserialize)]
pub(crate) struct ManifestItem {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// Where a layer's uncompressed bytes come from.
#[derive(Debug, Clone)]
struct LayerSource {
    blob: Digest,
    compressed: bool,
    size: u64,
}

/// Writes `images` as a `docker save` archive to `out`.
pub fn save(store: &ContentStore, images: &[SaveImage], out: impl Write) -> Result<(), ArchiveError> {
    if images.is_empty() {
        return Err(ArchiveError::InvalidArgument("nothing to save".into()));
    }
    let mut small: BTreeMap<String, Vec<u8>> = BTreeMap::new(); // hex → config / manifest bytes
    let mut layers: BTreeMap<String, LayerSource> = BTreeMap::new(); // diff ID hex → source
    let mut items = Vec::new();
    let mut index_entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for img in images {
        let (manifest, _) = resolve_manifest(store, &img.manifest)?;
        let config_bytes = store.read_all(&manifest.config.digest)?;
        let config: Parsed<ImageConfig> =
            Parsed::from_bytes_verified(config_bytes, &manifest.config.digest, "image config")?;
        let diff_ids = &config.value.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers.len() {
            return Err(ArchiveError::InvalidArgument(format!(
                "image `{}`: config lists {} diff IDs for {} layers",
                img.manifest,
                diff_ids.len(),
                manifest.layers.len()
            )));
        }
        if diff_ids.is_empty() {
            // Ref: save.go saveImage.
            return Err(ArchiveError::InvalidArgument(
                "empty export - not implemented".into(),
            ));
        }
        let mut layer_descs = Vec::new();
        for (layer, diff_id) in manifest.layers.iter().zip(diff_ids) {
            let source = match layers.get(diff_id.encoded()) {
                Some(s) => s.clone(),
                None => {
                    let s = layer_source(store, layer, diff_id)?;
                    layers.insert(diff_id.encoded().to_owned(), s.clone());
                    s
                }
            };
            let mut d = Descriptor::for_bytes(OCI_LAYER_TAR, b"");
            d.digest = diff_id.clone();
            d.size = source.size as i64;
            layer_descs.push(d);
        }
        let new_manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: Descriptor::for_bytes(OCI_CONFIG, &config.bytes),
            layers: layer_descs,
            subject: None,
            annotations: None,
            extra: Map::new(),
        };
        let new_manifest = Parsed::from_value(new_manifest, "image manifest")?;
        let platform = config.value.platform();

        let mut repo_tags = Vec::new();
        for tag in &img.repo_tags {
            let r = parse_normalized_named(tag)
                .map_err(|e| ArchiveError::InvalidArgument(format!("invalid tag `{tag}`: {e}")))?
                .with_default_tag();
            if r.digest().is_some() {
                return Err(ArchiveError::InvalidArgument(format!(
                    "cannot save `{tag}` as a tag: it names a digest"
                )));
            }
            let t = r.tag().unwrap_or("latest").to_owned();
            let top = diff_ids.last().expect("not empty").encoded().to_owned();
            repositories
                .entry(r.familiar_name())
                .or_default()
                .insert(t.clone(), top);
            repo_tags.push(r.familiar_string());
            let mut d = Descriptor::for_bytes(OCI_MANIFEST, &new_manifest.bytes);
            d.platform = Some(non_empty_platform(&platform));
            d.annotations = Some(BTreeMap::from([
                (ANNOTATION_IMAGE_NAME.to_owned(), r.to_string()),
                (ANNOTATION_REF_NAME.to_owned(), t),
            ]));
            index_entries.push(d);
        }
        if img.repo_tags.is_empty() {
            let mut d = Descriptor::for_bytes(OCI_MANIFEST, &new_manifest.bytes);
            d.platform = Some(non_empty_platform(&platform));
            index_entries.push(d);
        }
        let config_path = format!("blobs/sha256/{}", config.digest.encoded());
        match items
            .iter_mut()
            .find(|i: &&mut ManifestItem| i.config == config_path)
        {
            Some(item) => {
                if !repo_tags.is_empty() {
                    item.repo_tags.get_or_insert_with(Vec::new).extend(repo_tags);
                }
            }
            None => items.push(ManifestItem {
                config: config_path,
                repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
                layers: diff_ids
                    .iter()
                    .map(|d| format!("blobs/sha256/{}", d.encoded()))
                    .collect(),
            }),
        }
        small.insert(config.digest.encoded().to_owned(), config.bytes);
        small.insert(new_manifest.digest.encoded().to_owned(), new_manifest.bytes);
    }

    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_owned()),
        artifact_type: None,
        manifests: index_entries,
        subject: None,
        annotations: None,
        extra: Map::new(),
    };
    let index = serde_json::to_vec(&index).map_err(|source| manifest::ManifestError::Serialize {
        what: "image index",
        source,
    })?;
    let mut manifest_json =
        serde_json::to_vec(&items).map_err(|source| manifest::ManifestError::Serialize {
            what: "manifest.json",
            source,
        })?;
    manifest_json.push(b'\n');

    let mut tar = TarWriter::new(out);
    let werr = |what: &str| stream_err(format!("write `{what}` to the image archive"));
    tar.append(&dir_entry("blobs"), None).map_err(werr("blobs/"))?;
    tar.append(&dir_entry("blobs/sha256"), None)
        .map_err(werr("blobs/sha256/"))?;
    let hexes: BTreeSet<&String> = small.keys().chain(layers.keys()).collect();
    for hex in hexes {
        let name = format!("blobs/sha256/{hex}");
        if let Some(bytes) = small.get(hex) {
            tar.append(&file_entry(&name, bytes.len() as u64), Some(&mut &bytes[..]))
                .map_err(werr(&name))?;
            continue;
        }
        let src = &layers[hex];
        let blob = store.open_blob(&src.blob)?;
        let mut reader: Box<dyn Read> = if src.compressed {
            decompressing_reader(blob).map_err(werr(&name))?.0
        } else {
            Box::new(blob)
        };
        tar.append(&file_entry(&name, src.size), Some(&mut reader))
            .map_err(werr(&name))?;
    }
    tar.append(
        &file_entry("index.json", index.len() as u64),
        Some(&mut &index[..]),
    )
    .map_err(werr("index.json"))?;
    tar.append(
        &file_entry("manifest.json", manifest_json.len() as u64),
        Some(&mut &manifest_json[..]),
    )
    .map_err(werr("manifest.json"))?;
    tar.append(
        &file_entry("oci-layout", OCI_LAYOUT.len() as u64),
        Some(&mut &OCI_LAYOUT[..]),
    )
    .map_err(werr("oci-layout"))?;
    if !repositories.is_empty() {
        let mut repos =
            serde_json::to_vec(&repositories).map_err(|source| manifest::ManifestError::Serialize {
                what: "repositories",
                source,
            })?;
        repos.push(b'\n');
        tar.append(
            &file_entry("repositories", repos.len() as u64),
            Some(&mut &repos[..]),
        )
        .map_err(werr("repositories"))?;
    }
    tar.finish().map_err(werr("end of archive"))?;
    Ok(())
}

fn non_empty_platform(p: &Platform) -> Platform {
    Platform {
        features: Vec::new(),
        ..p.clone()
    }
}

fn dir_entry(name: &str) -> Entry {
    Entry::new(name, Kind::Dir, 0o755)
}

fn file_entry(name: &str, size: u64) -> Entry {
    let mut e = Entry::new(name, Kind::File, 0o644);
    e.size = size;
    e
}

/// The image manifest at `digest`, descending into an index for this machine's platform.
pub(crate) fn resolve_manifest(
    store: &ContentStore,
    digest: &Digest,
) -> Result<(ImageManifest, Digest), ArchiveError> {
    let mut digest = digest.clone();
    for _ in 0..4 {
        let bytes = store.read_all(&digest)?;
        match parse_manifest(None, &bytes)? {
            ManifestKind::Manifest(m) => return Ok((m, digest)),
            ManifestKind::Index(i) => {
                digest = manifest::select_or_err(&i, &Platform::host())?.digest.clone();
            }
        }
    }
    Err(ArchiveError::InvalidArgument(format!(
        "manifest `{digest}`: indexes nested too deep"
    )))
}

/// Checks the layer blob against its diff ID (reading it once if compressed) and returns where its
/// uncompressed bytes come from.
fn layer_source(
    store: &ContentStore,
    layer: &Descriptor,
    diff_id: &Digest,
) -> Result<LayerSource, ArchiveError> {
    let compressed = match layer_compression(&layer.media_type) {
        Some(manifest::Compression::None) => false,
        Some(_) => true,
        None => {
            return Err(ArchiveError::InvalidArgument(format!(
                "layer `{}` has unsupported media type `{}`",
                layer.digest, layer.media_type
            )))
        }
    };
    if !compressed {
        if &layer.digest != diff_id {
            return Err(ArchiveError::DiffIdMismatch {
                layer: layer.digest.to_string(),
                expected: diff_id.clone(),
                actual: layer.digest.clone(),
            });
        }
        let size = store.info(&layer.digest)?;
        return Ok(LayerSource {
            blob: layer.digest.clone(),
            compressed,
            size,
        });
    }
    let (actual, size) = uncompressed_digest(store, &layer.digest)?;
    if &actual != diff_id {
        return Err(ArchiveError::DiffIdMismatch {
            layer: layer.digest.to_string(),
            expected: diff_id.clone(),
            actual,
        });
    }
    Ok(LayerSource {
        blob: layer.digest.clone(),
        compressed,
        size,
    })
}

/// sha256 and size of a store blob's decompressed content.
pub(crate) fn uncompressed_digest(
    store: &ContentStore,
    blob: &Digest,
) -> Result<(Digest, u64), ArchiveError> {
    let what = || format!("decompress layer `{blob}`");
    let (mut r, _) = decompressing_reader(store.open_blob(blob)?).map_err(stream_err(what()))?;
    let mut h = Hasher::sha256();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(stream_err(what())(e)),
        }
    }
    let size = h.bytes_written();
    Ok((h.finish(), size))
}
