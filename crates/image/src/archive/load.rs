//! `docker load`: images from an archive into the store.
//!
//! Three shapes are read: Docker's legacy docker-archive (`manifest.json`, `<id>/layer.tar`,
//! `<config>.json`, as Docker before 25 and skopeo's `docker-archive:` write), the Docker 25+
//! archive (an OCI layout that also has `manifest.json`), and a plain OCI layout (skopeo's
//! `oci-archive:`). The archive itself may be gzip- or zstd-compressed, and so may its layers.
//!
//! The tar is streamed once, in whatever order it comes (`manifest.json` may be last): small
//! files are kept in memory, larger ones go straight into the content store as they arrive, so
//! no layer is ever held in memory. Then the metadata is read and every blob verified: a blob
//! under `blobs/` against its name, a manifest's blobs against its descriptors, each layer's
//! uncompressed content against the config's diff IDs. Layers land before configs, configs before
//! manifests. Blobs this load added to the store that turned out unreferenced (or all of them, on
//! failure) are removed again.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use serde_json::Map;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::manifest::{
    self, parse_manifest, Descriptor, ImageConfig, ImageIndex, ImageManifest, ManifestKind, Parsed, Platform,
    OCI_CONFIG, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP, OCI_LAYER_TAR_ZSTD, OCI_MANIFEST,
};
use crate::reference::parse_normalized_named;
use crate::store::ContentStore;
use crate::unpack::Compression;

use super::compress::{decompressing_reader, detect};
use super::paths::{clean_entry_name, resolve_link};
use super::save::{uncompressed_digest, ManifestItem, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use super::{stream_err, ArchiveError};

/// Files up to this size are kept in memory while the archive streams by.
const SMALL: u64 = 1 << 20;
/// At most this much in memory in all; past it even small files go to the store.
const SMALL_TOTAL: u64 = 64 << 20;
/// Symbolic links followed in a row before giving up.
const MAX_LINKS: usize = 16;

/// An image that was loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedImage {
    /// Its manifest, in the store (taken from the archive, or made for a legacy archive).
    pub manifest: Descriptor,
    /// The config digest: the image ID.
    pub config: Digest,
    /// Familiar tags from the archive (`busybox:latest`).
    pub repo_tags: Vec<String>,
    /// The layer blobs, base first, as stored.
    pub layers: Vec<Descriptor>,
    /// The layers' uncompressed digests.
    pub diff_ids: Vec<Digest>,
}

/// A regular file of the archive, where it was staged.
#[derive(Debug, Clone)]
enum Staged {
    Mem(std::sync::Arc<Vec<u8>>),
    Store { digest: Digest, size: u64 },
}

#[derive(Debug, Default)]
struct Staging {
    files: HashMap<String, Staged>,
    links: HashMap<String, String>,
    /// Blobs this load put in the store that were not there before.
    added: Vec<Digest>,
    mem_total: u64,
}

/// Loads every image of the archive `input` into the store.
pub fn load(store: &ContentStore, input: impl Read) -> Result<Vec<LoadedImage>, ArchiveError> {
    let mut staging = Staging::default();
    let mut added = Vec::new();
    let result = (|| {
        stage(store, input, &mut staging)?;
        let mut loader = Loader {
            store,
            staging: &staging,
            used: HashMap::new(),
            added: &mut added,
        };
        let images = if staging.has("manifest.json") {
            loader.docker()?
        } else if staging.has("index.json") {
            loader.oci()?
        } else {
            return Err(ArchiveError::InvalidArchive(
                "no `manifest.json` or `index.json` found: not an image archive".into(),
            ));
        };
        Ok((images, loader.used))
    })();
    let keep: HashMap<Digest, ()> = match &result {
        Ok((_, used)) => used.clone(),
        Err(_) => HashMap::new(),
    };
    for d in staging.added.iter().chain(&added) {
        if !keep.contains_key(d) {
            let _ = store.delete(d);
        }
    }
    result.map(|(images, _)| images)
}

impl Staging {
    fn has(&self, name: &str) -> bool {
        self.resolve(name).is_ok()
    }

    fn resolve(&self, name: &str) -> Result<&Staged, ArchiveError> {
        let mut cur = name.to_owned();
        for _ in 0..MAX_LINKS {
            if let Some(f) = self.files.get(&cur) {
                return Ok(f);
            }
            match self.links.get(&cur) {
                Some(next) => cur = next.clone(),
                None => break,
            }
        }
        Err(ArchiveError::InvalidArchive(format!(
            "`{name}` is not in the archive"
        )))
    }
}

/// Streams the archive, staging every regular file.
fn stage(store: &ContentStore, input: impl Read, staging: &mut Staging) -> Result<(), ArchiveError> {
    let rerr = || stream_err("read image archive");
    let (reader, _) = decompressing_reader(input).map_err(|e| match e.kind() {
        io::ErrorKind::Unsupported => ArchiveError::InvalidArchive(e.to_string()),
        _ => stream_err("read image archive")(e),
    })?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(rerr())? {
        let mut entry = entry.map_err(rerr())?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean_entry_name(&raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let resolved = if kind.is_symlink() {
                resolve_link(&name, &target)?
            } else {
                clean_entry_name(&target).map_err(|_| ArchiveError::UnsafeEntry {
                    entry: format!("{raw} -> {target}"),
                })?
            };
            staging.links.insert(name, resolved);
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue; // directories; nothing else belongs in an image archive
        }
        let size = entry.size();
        let what = || format!("read `{raw}` from the image archive");
        let expected = blob_name_digest(&name);
        if size <= SMALL && staging.mem_total + size <= SMALL_TOTAL {
            let mut buf = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut buf).map_err(stream_err(what()))?;
            if let Some(d) = &expected {
                let actual = Digest::of(d.algorithm(), &buf);
                if &actual != d {
                    return Err(ArchiveError::BlobMismatch { entry: raw, actual });
                }
            }
            staging.mem_total += size;
            staging.files.insert(name, Staged::Mem(std::sync::Arc::new(buf)));
        } else {
            let mut w = store.writer(expected.clone(), Some(size))?;
            // A resumed ingest of the same digest already has some bytes: start over.
            w.reset()?;
            let mut hasher = Hasher::new(expected.as_ref().map_or(Algorithm::Sha256, |d| d.algorithm()));
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(stream_err(what())(e)),
                };
                hasher.update(&buf[..n]);
                w.write_all(&buf[..n]).map_err(stream_err(what()))?;
            }
            // Whether the store had it before decides whether a failed load may remove it.
            let existed = store.exists(&hasher.finish())?;
            let digest = w.commit().map_err(|e| match e {
                crate::store::StoreError::DigestMismatch { actual, .. } => ArchiveError::BlobMismatch {
                    entry: raw.clone(),
                    actual,
                },
                e => e.into(),
            })?;
            if !existed && !staging.added.contains(&digest) {
                staging.added.push(digest.clone());
            }
            staging.files.insert(name, Staged::Store { digest, size });
        }
    }
    Ok(())
}

/// `blobs/<alg>/<hex>` → the digest it names.
fn blob_name_digest(name: &str) -> Option<Digest> {
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

/// An image manifest from `index.json`, with the tags its entries give it.
type TaggedManifest = (Parsed<ImageManifest>, Vec<String>);

struct Loader<'a> {
    store: &'a ContentStore,
    staging: &'a Staging,
    /// Blobs the loaded images reference.
    used: HashMap<Digest, ()>,
    /// Blobs written here that the store did not have.
    added: &'a mut Vec<Digest>,
}

/// A staged blob, verified and in the store.
struct Blob {
    digest: Digest,
    size: u64,
    compression: Compression,
    /// sha256 of the uncompressed content (the blob's own digest when uncompressed).
    diff_id: Digest,
}

impl Loader<'_> {
    fn read(&self, name: &str) -> Result<Vec<u8>, ArchiveError> {
        match self.staging.resolve(name)? {
            Staged::Mem(b) => Ok(b.as_ref().clone()),
            Staged::Store { digest, .. } => Ok(self.store.read_all(digest)?),
        }
    }

    /// Puts the staged file into the store (if it is not there yet) and describes it as a layer.
    fn layer_blob(&mut self, name: &str) -> Result<Blob, ArchiveError> {
        let staged = self.staging.resolve(name)?.clone();
        let (digest, size, compression) = match &staged {
            Staged::Mem(bytes) => {
                let digest = self.write_new(bytes, None)?;
                let c = detect(&bytes[..bytes.len().min(6)]).map_err(|n| {
                    ArchiveError::InvalidArchive(format!("layer `{name}` has unsupported compression {n}"))
                })?;
                (digest, bytes.len() as u64, c)
            }
            Staged::Store { digest, size } => {
                let mut head = [0u8; 6];
                let mut f = self.store.open_blob(digest)?;
                let n = read_up_to(&mut f, &mut head).map_err(stream_err(format!("read layer `{name}`")))?;
                let c = detect(&head[..n]).map_err(|n| {
                    ArchiveError::InvalidArchive(format!("layer `{name}` has unsupported compression {n}"))
                })?;
                (digest.clone(), *size, c)
            }
        };
        let diff_id = match compression {
            Compression::None => digest.clone(),
            _ => uncompressed_digest(self.store, &digest)?.0,
        };
        self.used.insert(digest.clone(), ());
        Ok(Blob {
            digest,
            size,
            compression,
            diff_id,
        })
    }

    /// Writes a blob, remembering it when the store did not have it.
    fn write_new(&mut self, bytes: &[u8], digest: Option<&Digest>) -> Result<Digest, ArchiveError> {
        let d = digest.cloned().unwrap_or_else(|| Digest::sha256_of(bytes));
        if !self.store.exists(&d)? {
            self.store.write_blob(bytes, Some(&d))?;
            self.added.push(d.clone());
        }
        Ok(d)
    }

    /// Stores small metadata (config, manifest) and marks it used.
    fn put(&mut self, bytes: &[u8], digest: &Digest) -> Result<(), ArchiveError> {
        self.write_new(bytes, Some(digest))?;
        self.used.insert(digest.clone(), ());
        Ok(())
    }

    /// `manifest.json` archives: legacy docker-archive and Docker 25+.
    fn docker(&mut self) -> Result<Vec<LoadedImage>, ArchiveError> {
        let bytes = self.read("manifest.json")?;
        let items: Vec<ManifestItem> = serde_json::from_slice(&bytes)
            .map_err(|e| ArchiveError::InvalidArchive(format!("cannot parse `manifest.json`: {e}")))?;
        // Docker 25+ archives carry OCI manifests too: reuse the one that fits, keeping its digest.
        let oci = if self.staging.has("index.json") {
            self.oci_manifests().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        for item in items {
            let config_bytes = self.read(&clean_entry_name(&item.config)?)?;
            let config: Parsed<ImageConfig> = Parsed::from_bytes(config_bytes, "image config")?;
            let diff_ids = config.value.rootfs.diff_ids.clone();
            if diff_ids.len() != item.layers.len() {
                return Err(ArchiveError::InvalidArchive(format!(
                    "`{}` lists {} diff IDs, `manifest.json` {} layers",
                    item.config,
                    diff_ids.len(),
                    item.layers.len()
                )));
            }
            let mut layers = Vec::new();
            for (path, expected) in item.layers.iter().zip(&diff_ids) {
                let blob = self.layer_blob(&clean_entry_name(path)?)?;
                if &blob.diff_id != expected {
                    return Err(ArchiveError::DiffIdMismatch {
                        layer: path.clone(),
                        expected: expected.clone(),
                        actual: blob.diff_id,
                    });
                }
                let media_type = match blob.compression {
                    Compression::Gzip => OCI_LAYER_TAR_GZIP,
                    Compression::Zstd => OCI_LAYER_TAR_ZSTD,
                    _ => OCI_LAYER_TAR,
                };
                let mut d = Descriptor::for_bytes(media_type, b"");
                d.digest = blob.digest;
                d.size = blob.size as i64;
                layers.push(d);
            }
            self.put(&config.bytes, &config.digest)?;
            let found = oci.iter().find(|(m, _)| {
                m.value.config.digest == config.digest
                    && m.value.layers.len() == layers.len()
                    && m.value
                        .layers
                        .iter()
                        .zip(&layers)
                        .all(|(a, b)| a.digest == b.digest)
            });
            let manifest = match found {
                Some((m, _)) => m.clone(),
                None => {
                    let m = ImageManifest {
                        schema_version: 2,
                        media_type: Some(OCI_MANIFEST.to_owned()),
                        artifact_type: None,
                        config: Descriptor::for_bytes(OCI_CONFIG, &config.bytes),
                        layers: layers.clone(),
                        subject: None,
                        annotations: None,
                        extra: Map::new(),
                    };
                    Parsed::from_value(m, "image manifest")?
                }
            };
            self.put(&manifest.bytes, &manifest.digest)?;
            let repo_tags = item
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| familiar_tag(t))
                .collect::<Result<_, _>>()?;
            out.push(LoadedImage {
                manifest: Descriptor::for_bytes(OCI_MANIFEST, &manifest.bytes),
                config: config.digest,
                repo_tags,
                layers,
                diff_ids,
            });
        }
        Ok(out)
    }

    /// The image manifests `index.json` leads to (an index entry resolved for this platform),
    /// each with the tags its index entries give it, in index order.
    fn oci_manifests(&self) -> Result<Vec<TaggedManifest>, ArchiveError> {
        let bytes = self.read("index.json")?;
        let index: Parsed<ImageIndex> = Parsed::from_bytes(bytes, "image index")?;
        let mut out: Vec<TaggedManifest> = Vec::new();
        for desc in &index.value.manifests {
            if desc.is_attestation() {
                continue;
            }
            let Some(manifest) = self.resolve_descriptor(desc)? else {
                continue;
            };
            let tag = tag_of(desc);
            match out.iter_mut().find(|(m, _)| m.digest == manifest.digest) {
                Some((_, tags)) => tags.extend(tag),
                None => out.push((manifest, tag.into_iter().collect())),
            }
        }
        Ok(out)
    }

    /// Reads and verifies the manifest a descriptor names; an index is resolved for this machine's
    /// platform (`None` when nothing fits).
    fn resolve_descriptor(&self, desc: &Descriptor) -> Result<Option<Parsed<ImageManifest>>, ArchiveError> {
        let mut desc = desc.clone();
        for _ in 0..4 {
            let bytes = self.blob_bytes(&desc)?;
            match parse_manifest(Some(&desc.media_type), &bytes)? {
                ManifestKind::Manifest(_) => {
                    let m: Parsed<ImageManifest> =
                        Parsed::from_bytes_verified(bytes, &desc.digest, "image manifest")?;
                    return Ok(Some(m));
                }
                ManifestKind::Index(i) => match manifest::select(&i, &Platform::host()) {
                    Some(d) => desc = d.clone(),
                    None => return Ok(None),
                },
            }
        }
        Err(ArchiveError::InvalidArchive(
            "image indexes nested too deep".into(),
        ))
    }

    /// The bytes of a small blob named by a descriptor, checked against digest and size.
    fn blob_bytes(&self, desc: &Descriptor) -> Result<Vec<u8>, ArchiveError> {
        let name = format!("blobs/{}/{}", desc.digest.algorithm(), desc.digest.encoded());
        let bytes = self.read(&name)?;
        if bytes.len() as i64 != desc.size {
            return Err(ArchiveError::InvalidArchive(format!(
                "`{name}` is {} bytes, its descriptor says {}",
                bytes.len(),
                desc.size
            )));
        }
        let actual = Digest::of(desc.digest.algorithm(), &bytes);
        if actual != desc.digest {
            return Err(ArchiveError::BlobMismatch { entry: name, actual });
        }
        Ok(bytes)
    }

    /// Plain OCI layouts (`oci-archive:`).
    fn oci(&mut self) -> Result<Vec<LoadedImage>, ArchiveError> {
        let manifests = self.oci_manifests()?;
        if manifests.is_empty() {
            return Err(ArchiveError::InvalidArchive(
                "`index.json` lists no image for this platform".into(),
            ));
        }
        let mut out = Vec::new();
        for (manifest, tags) in manifests {
            let m = &manifest.value;
            let config_bytes = self.blob_bytes(&m.config)?;
            let config: Parsed<ImageConfig> =
                Parsed::from_bytes_verified(config_bytes, &m.config.digest, "image config")?;
            let diff_ids = config.value.rootfs.diff_ids.clone();
            if diff_ids.len() != m.layers.len() {
                return Err(ArchiveError::InvalidArchive(format!(
                    "manifest `{}` has {} layers, its config {} diff IDs",
                    manifest.digest,
                    m.layers.len(),
                    diff_ids.len()
                )));
            }
            for (layer, expected) in m.layers.iter().zip(&diff_ids) {
                let name = format!("blobs/{}/{}", layer.digest.algorithm(), layer.digest.encoded());
                let blob = self.layer_blob(&name)?;
                if blob.digest != layer.digest || blob.size as i64 != layer.size {
                    return Err(ArchiveError::InvalidArchive(format!(
                        "`{name}` does not match its descriptor (size {}, descriptor {})",
                        blob.size, layer.size
                    )));
                }
                if &blob.diff_id != expected {
                    return Err(ArchiveError::DiffIdMismatch {
                        layer: name,
                        expected: expected.clone(),
                        actual: blob.diff_id,
                    });
                }
            }
            self.put(&config.bytes, &config.digest)?;
            self.put(&manifest.bytes, &manifest.digest)?;
            let media_type = m.media_type.clone().unwrap_or_else(|| OCI_MANIFEST.to_owned());
            out.push(LoadedImage {
                manifest: Descriptor::for_bytes(&media_type, &manifest.bytes),
                config: config.digest,
                repo_tags: tags,
                layers: m.layers.clone(),
                diff_ids,
            });
        }
        Ok(out)
    }
}

/// The tag an OCI index entry gives: `io.containerd.image.name`, else a
/// `org.opencontainers.image.ref.name` that is a whole reference (`busybox:latest`; a bare
/// `latest` names no repository and gives none).
fn tag_of(desc: &Descriptor) -> Option<String> {
    if let Some(name) = desc.annotation(ANNOTATION_IMAGE_NAME) {
        return familiar_tag(name).ok();
    }
    let r = desc.annotation(ANNOTATION_REF_NAME)?;
    if r.contains([':', '/', '@']) {
        return familiar_tag(r).ok();
    }
    None
}

fn familiar_tag(tag: &str) -> Result<String, ArchiveError> {
    let r = parse_normalized_named(tag)
        .map_err(|e| ArchiveError::InvalidArchive(format!("invalid tag `{tag}`: {e}")))?;
    Ok(r.with_default_tag().familiar_string())
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
