//! OCI and Docker image manifests, indexes (manifest lists) and image configs, and choosing the
//! manifest for a platform.
//!
//! Docker's formats and OCI's have the same shape: a Docker manifest list is an OCI index, a Docker
//! schema2 manifest is an OCI manifest, a Docker container config is an OCI image config with a few
//! extensions (`Healthcheck`, `OnBuild`, `Shell`, `container_config`, ...). One set of types reads
//! both. Fields this module does not name are kept in `extra` maps so a document read and written
//! back loses nothing, but a digest is only stable over the original bytes: [`Parsed`] keeps them.
//!
//! Platform matching follows containerd's `platforms.Only` (github.com/containerd/platforms
//! compare.go, platforms.go, database.go), which moby uses to pick from a manifest list.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::digest::{Digest, VerifyError};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI empty descriptor content (`{}`), used as the config of artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// OCI layer, uncompressed tar.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip-compressed tar.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd-compressed tar.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer, uncompressed (deprecated by OCI, still found in Windows images).
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable layer, gzip.
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable layer, zstd.
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/// Docker manifest list (schema2).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image manifest, schema1 (refused).
pub const DOCKER_MANIFEST_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker image manifest, signed schema1 (refused).
pub const DOCKER_MANIFEST_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker container (image) config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip-compressed tar.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, uncompressed tar.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker layer, zstd-compressed tar (containerd's name; Docker writes it with `--compression zstd`).
pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
/// Docker foreign layer (fetched from `urls`, e.g. Windows base layers), gzip.
pub const DOCKER_FOREIGN_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker foreign layer, uncompressed.
pub const DOCKER_FOREIGN_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar";

/// Annotation that marks BuildKit attestation manifests inside an index.
pub const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// Whether `media_type` is an index or manifest list.
pub fn is_index_media_type(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Whether `media_type` is a single-image manifest we read (OCI or Docker schema2).
pub fn is_manifest_media_type(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// Whether `media_type` is an image config.
pub fn is_config_media_type(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// The compression of a layer media type, or `None` if `media_type` is not a layer we know.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER_TAR | OCI_LAYER_NONDISTRIBUTABLE_TAR | DOCKER_LAYER_TAR | DOCKER_FOREIGN_LAYER_TAR => {
            Some(Compression::None)
        }
        OCI_LAYER_TAR_GZIP
        | OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
        | DOCKER_LAYER_GZIP
        | DOCKER_FOREIGN_LAYER_GZIP => Some(Compression::Gzip),
        OCI_LAYER_TAR_ZSTD | OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD | DOCKER_LAYER_ZSTD => {
            Some(Compression::Zstd)
        }
        _ => None,
    }
}

/// Why a manifest, index or config was refused, or no manifest fits the platform.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The bytes are not the JSON document they claim to be.
    #[error("cannot parse {what}: {source}")]
    Json {
        /// What was being parsed ("image manifest", "image config", ...).
        what: &'static str,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// A document could not be written as JSON.
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        /// What was being written.
        what: &'static str,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A Docker schema1 manifest (removed from Docker in v28).
    #[error("schema1 manifests are not supported")]
    Schema1,
    /// A media type that is neither an index nor an image manifest.
    #[error("unsupported manifest media type `{0}`")]
    UnsupportedMediaType(String),
    /// A `schemaVersion` other than 2.
    #[error("unsupported manifest schemaVersion {0}")]
    UnsupportedSchemaVersion(i64),
    /// The `Content-Type` header and the document's `mediaType` name different kinds.
    #[error("manifest media type mismatch: served as `{header}`, document says `{body}`")]
    MediaTypeMismatch {
        /// The media type the registry served.
        header: String,
        /// The document's `mediaType` field.
        body: String,
    },
    /// The document has fields of the other kind (an index with `config`, a manifest with
    /// `manifests`), which containerd refuses as a confusion attempt.
    #[error("`{media_type}` document has a `{field}` field")]
    ConflictingFields {
        /// The media type the document was read as.
        media_type: String,
        /// The field that does not belong.
        field: &'static str,
    },
    /// Neither a media type nor the fields tell an index from a manifest.
    #[error("cannot tell whether the document is an image index or an image manifest")]
    UnknownKind,
    /// The bytes do not hash to the digest they were fetched by.
    #[error(transparent)]
    Digest(#[from] VerifyError),
    /// No entry of a manifest list fits the wanted platform. Docker's exact words.
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingManifest {
        /// The wanted platform, formatted as Docker does (`linux/arm64/v8`).
        platform: String,
    },
}

/// A parsed document together with the bytes it came from and their digest.
///
/// Re-serializing `value` need not reproduce `bytes` (key order, whitespace), so anything that
/// names the document by digest must use `bytes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The original bytes.
    pub bytes: Vec<u8>,
    /// The parsed document.
    pub value: T,
    /// The sha256 of `bytes`, or the digest it was verified against.
    pub digest: Digest,
}

impl<T: DeserializeOwned> Parsed<T> {
    /// Parses `bytes` and digests them with sha256. `what` names the document in errors.
    pub fn from_bytes(bytes: Vec<u8>, what: &'static str) -> Result<Parsed<T>, ManifestError> {
        let value = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json { what, source })?;
        let digest = Digest::sha256_of(&bytes);
        Ok(Parsed { bytes, value, digest })
    }

    /// Checks that `bytes` hash to `expected`, then parses them.
    pub fn from_bytes_verified(
        bytes: Vec<u8>,
        expected: &Digest,
        what: &'static str,
    ) -> Result<Parsed<T>, ManifestError> {
        let mut verifier = expected.verifier();
        verifier.update(&bytes);
        let digest = verifier.finish()?;
        let value = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json { what, source })?;
        Ok(Parsed { bytes, value, digest })
    }
}

impl<T: Serialize> Parsed<T> {
    /// Serializes `value` (compact JSON) to produce new bytes and their digest. `what` names the
    /// document in errors.
    pub fn from_value(value: T, what: &'static str) -> Result<Parsed<T>, ManifestError> {
        let bytes = serde_json::to_vec(&value).map_err(|source| ManifestError::Serialize { what, source })?;
        let digest = Digest::sha256_of(&bytes);
        Ok(Parsed { bytes, value, digest })
    }
}

/// A content descriptor: what a manifest or index points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The digest of the referenced content.
    pub digest: Digest,
    /// The size in bytes of the referenced content.
    pub size: i64,
    /// Other places the content can be fetched from (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of the referenced manifest (in indexes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for artifacts.
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The content itself, base64, when embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Descriptor {
    /// A descriptor for `bytes` with `media_type`.
    pub fn for_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::sha256_of(bytes),
            size: bytes.len() as i64,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
            extra: Map::new(),
        }
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// Whether this is a BuildKit attestation manifest (provenance, SBOM), not a runnable image.
    pub fn is_attestation(&self) -> bool {
        self.annotation(ANNOTATION_REFERENCE_TYPE) == Some("attestation-manifest")
    }
}

/// An OCI image index or a Docker manifest list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageIndex {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: i64,
    /// [`OCI_INDEX`] or [`DOCKER_MANIFEST_LIST`]; optional in OCI.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifact indexes.
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests, one per platform plus any attestations.
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageIndex {
    /// The entry to pull for `wanted`; see [`select`].
    pub fn select(&self, wanted: &Platform) -> Option<&Descriptor> {
        select(self, wanted)
    }
}

/// An OCI image manifest or a Docker schema2 manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: i64,
    /// [`OCI_MANIFEST`] or [`DOCKER_MANIFEST`]; optional in OCI.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifacts.
    #[serde(rename = "artifactType", default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a manifest endpoint returned.
// One value per pull, matched and taken apart at once: boxing would add an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestKind {
    /// An index or manifest list: pick an entry with [`select`].
    Index(ImageIndex),
    /// A single image.
    Manifest(ImageManifest),
}

impl ManifestKind {
    /// The document's media type, or the OCI one for its kind when the document names none.
    pub fn media_type(&self) -> &str {
        match self {
            ManifestKind::Index(i) => i.media_type.as_deref().unwrap_or(OCI_INDEX),
            ManifestKind::Manifest(m) => m.media_type.as_deref().unwrap_or(OCI_MANIFEST),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Index,
    Manifest,
}

// The fields that tell the kinds apart; everything else is left for the real parse.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<IgnoredAny>,
    config: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
    #[serde(rename = "fsLayers")]
    fs_layers: Option<IgnoredAny>,
}

/// A specific media type's kind; `Ok(None)` for values that say nothing (absent, `application/json`,
/// `application/octet-stream`, `text/plain`).
fn classify(media_type: Option<&str>) -> Result<Option<Kind>, ManifestError> {
    let Some(raw) = media_type else {
        return Ok(None);
    };
    let mt = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mt.as_str() {
        "" | "application/json" | "application/octet-stream" | "text/plain" => Ok(None),
        OCI_INDEX | DOCKER_MANIFEST_LIST => Ok(Some(Kind::Index)),
        OCI_MANIFEST | DOCKER_MANIFEST => Ok(Some(Kind::Manifest)),
        DOCKER_MANIFEST_SCHEMA1 | DOCKER_MANIFEST_SCHEMA1_SIGNED => Err(ManifestError::Schema1),
        _ => Err(ManifestError::UnsupportedMediaType(raw.to_owned())),
    }
}

/// Parses a manifest endpoint's answer. `media_type_header` is the `Content-Type` it was served with;
/// when absent or generic, the document's `mediaType` field decides, then its fields (`manifests`
/// for an index, `config` for a manifest).
pub fn parse_manifest(media_type_header: Option<&str>, bytes: &[u8]) -> Result<ManifestKind, ManifestError> {
    let header_kind = classify(media_type_header)?;
    let probe: Probe = serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "manifest",
        source,
    })?;
    if probe.schema_version == Some(1) || probe.fs_layers.is_some() {
        return Err(ManifestError::Schema1);
    }
    let body_kind = classify(probe.media_type.as_deref())?;
    let kind = match (header_kind, body_kind) {
        (Some(h), Some(b)) if h != b => {
            return Err(ManifestError::MediaTypeMismatch {
                header: media_type_header.unwrap_or_default().to_owned(),
                body: probe.media_type.unwrap_or_default(),
            })
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => match (probe.manifests.is_some(), probe.config.is_some()) {
            (true, false) => Kind::Index,
            (false, true) => Kind::Manifest,
            _ => return Err(ManifestError::UnknownKind),
        },
    };
    let described = || {
        probe
            .media_type
            .clone()
            .or_else(|| media_type_header.map(str::to_owned))
            .unwrap_or_else(|| {
                if kind == Kind::Index {
                    OCI_INDEX
                } else {
                    OCI_MANIFEST
                }
                .to_owned()
            })
    };
    // Ref: containerd core/images/image.go validateMediaType.
    let conflicting = match kind {
        Kind::Index if probe.config.is_some() => Some("config"),
        Kind::Index if probe.layers.is_some() => Some("layers"),
        Kind::Manifest if probe.manifests.is_some() => Some("manifests"),
        _ => None,
    };
    if let Some(field) = conflicting {
        return Err(ManifestError::ConflictingFields {
            media_type: described(),
            field,
        });
    }
    let parsed =
        match kind {
            Kind::Index => {
                ManifestKind::Index(
                    serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
                        what: "image index",
                        source,
                    })?,
                )
            }
            Kind::Manifest => ManifestKind::Manifest(serde_json::from_slice(bytes).map_err(|source| {
                ManifestError::Json {
                    what: "image manifest",
                    source,
                }
            })?),
        };
    let version = match &parsed {
        ManifestKind::Index(i) => i.schema_version,
        ManifestKind::Manifest(m) => m.schema_version,
    };
    if version != 2 {
        return Err(ManifestError::UnsupportedSchemaVersion(version));
    }
    Ok(parsed)
}

/// The JSON image config: OCI's `application/vnd.oci.image.config.v1+json` and Docker's
/// `application/vnd.docker.container.image.v1+json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// RFC 3339 creation time, as written (kept as text so nothing is lost to reformatting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who built the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture (`amd64`, `arm64`, ...).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(rename = "os.features", default, skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Defaults for containers run from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' uncompressed digests.
    #[serde(default)]
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<History>>,
    /// Docker: ID of the container the image was committed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Docker: that container's config (legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    /// Docker: the engine version that built the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// Docker: the commit message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Docker: the parent image ID (legacy builder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    /// The platform the image was built for.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: self.os_version.clone().unwrap_or_default(),
            os_features: self.os_features.clone().unwrap_or_default(),
            variant: self.variant.clone().unwrap_or_default(),
            features: Vec::new(),
        }
    }
}

/// The `rootfs` of an image config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub fs_type: String,
    /// Uncompressed layer digests, base first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            fs_type: "layers".to_owned(),
            diff_ids: Vec::new(),
        }
    }
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339 time, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command that made the layer (`/bin/sh -c #(nop) CMD ["sh"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer (metadata only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `config` of an image config: defaults for containers. Docker writes its whole
/// `container.Config` here; the fields that do not apply to images (`Hostname`, `Tty`, ...) land in
/// `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// `user[:group]`.
    #[serde(rename = "User", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `port/proto` keys (`80/tcp`); the values are always `{}`.
    #[serde(rename = "ExposedPorts", default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, EmptyObject>>,
    /// `KEY=value` entries.
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `null` (inherit) and `[]` (cleared) are different and both kept.
    #[serde(
        rename = "Entrypoint",
        default,
        deserialize_with = "str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// As `Entrypoint`.
    #[serde(
        rename = "Cmd",
        default,
        deserialize_with = "str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub cmd: Option<Vec<String>>,
    /// Volume paths; the values are always `{}`.
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, EmptyObject>>,
    /// The working directory.
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Image labels.
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops the container (`SIGTERM`, `15`).
    #[serde(rename = "StopSignal", default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker: seconds to wait after the stop signal.
    #[serde(rename = "StopTimeout", default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Docker: the health check.
    #[serde(rename = "Healthcheck", default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Windows only: the command line is already escaped.
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    /// Docker: instructions run by builds based on this image.
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Docker: the shell for shell-form instructions.
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Docker's `HEALTHCHECK`, durations in nanoseconds as Go's `time.Duration` writes them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` disabled, `["CMD", args...]`, `["CMD-SHELL", command]`.
    #[serde(rename = "Test", default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Time between checks; 0 means inherit.
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time before a check is considered hung; 0 means inherit.
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Start-up time during which failures do not count; 0 means inherit.
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between checks during the start period; 0 means inherit.
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures before unhealthy; 0 means inherit.
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The `{}` value of `ExposedPorts` and `Volumes` maps. Reads anything, writes `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for EmptyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EmptyObject, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(EmptyObject)
    }
}

/// Docker's `strslice.StrSlice`: a JSON array of strings or, from old images, a single string.
fn str_slice<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

/// A platform, as in index entries and `--platform`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, GOARCH spelling (`amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`).
    pub architecture: String,
    /// Operating system, GOOS spelling (`linux`, `windows`).
    pub os: String,
    /// OS version (Windows builds).
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Required OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`, `v8`, `v3`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// Docker manifest lists' legacy CPU `features` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// A `--platform` value that cannot be read. Messages follow containerd's `platforms.Parse`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: invalid argument")]
pub struct PlatformError(String);

impl Platform {
    /// A platform with OS and architecture (and no variant).
    pub fn new(os: &str, architecture: &str) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            ..Platform::default()
        }
    }

    /// The platform of this machine, as containerd's `DefaultSpec` reports it: `linux/amd64`,
    /// `linux/arm64/v8`, `linux/arm/v7`.
    pub fn host() -> Platform {
        let little = cfg!(target_endian = "little");
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", ""),
            "x86" => ("386", ""),
            "aarch64" => ("arm64", "v8"),
            "arm" => ("arm", host_arm_variant()),
            "powerpc64" if little => ("ppc64le", ""),
            "powerpc64" => ("ppc64", ""),
            "mips64" if little => ("mips64le", ""),
            "mips" if little => ("mipsle", ""),
            "loongarch64" => ("loong64", ""),
            other => (other, ""),
        };
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.to_owned(),
            ..Platform::default()
        }
    }

    /// Parses a `--platform` specifier: `linux`, `amd64`, `linux/amd64`, `linux/arm64/v8`,
    /// `windows(10.0.17763+win32k)/amd64`. A lone OS takes the host's architecture and a lone
    /// architecture the host's OS. Architecture aliases are normalized (`x86_64` → `amd64`,
    /// `aarch64` → `arm64`).
    pub fn parse(specifier: &str) -> Result<Platform, PlatformError> {
        // Ref: containerd/platforms platforms.go Parse.
        let err = |msg: String| Err(PlatformError(msg));
        if specifier.contains('*') {
            return err(format!("{specifier:?}: wildcards not yet supported"));
        }
        let parts: Vec<&str> = specifier.splitn(4, '/').collect();
        let mut p = Platform::default();
        let Some((os, version, features)) = split_os_options(parts[0]) else {
            return err(format!(
                "{:?} is an invalid OS component of {specifier:?}: OSAndVersion specifier component must match \
                 \"^([A-Za-z0-9_-]+)(?:\\\\(([A-Za-z0-9_.%-]*)((?:\\\\+[A-Za-z0-9_.%-]+)*)\\\\))?$\"",
                parts[0]
            ));
        };
        p.os = normalize_os(os);
        p.os_version = match percent_decode(version) {
            Some(v) => v,
            None => return err(format!("{specifier:?} has an invalid OS version {version:?}")),
        };
        for feature in features {
            match percent_decode(feature) {
                Some(f) if !f.is_empty() => p.os_features.push(f),
                Some(_) => {}
                None => {
                    return err(format!(
                        "{specifier:?} has invalid OS features: invalid os feature {feature:?}"
                    ))
                }
            }
        }
        for part in &parts[1..] {
            let ok = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return err(format!(
                    "{part:?} is an invalid component of {specifier:?}: platform specifier component must match \
                     \"^[A-Za-z0-9_.-]+$\""
                ));
            }
        }
        match parts.len() {
            1 => {
                if is_known_os(&p.os) {
                    let host = Platform::host();
                    p.architecture = host.architecture;
                    if p.architecture == "arm" && host.variant != "v7" {
                        p.variant = host.variant;
                    }
                    return Ok(p);
                }
                let (arch, variant) = normalize_arch(parts[0], "");
                if !is_known_arch(&arch) {
                    return err(format!("{specifier:?}: unknown operating system or architecture"));
                }
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                p.os = "linux".to_owned();
                p.os_version.clear();
                p.os_features.clear();
                Ok(p)
            }
            2 => {
                let (arch, variant) = normalize_arch(parts[1], "");
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                Ok(p)
            }
            3 => {
                let (arch, variant) = normalize_arch(parts[1], parts[2]);
                p.architecture = arch;
                p.variant = variant;
                if p.architecture == "arm64" && p.variant.is_empty() {
                    p.variant = "v8".to_owned();
                }
                Ok(p)
            }
            _ => err(format!("{specifier:?}: cannot parse platform specifier")),
        }
    }

    /// containerd's `platforms.Normalize`: lowercase, GOOS/GOARCH spellings, default variants
    /// dropped (`amd64/v1` → `amd64`, `arm64/v8` → `arm64`) or added (`arm` → `arm/v7`), OS features
    /// sorted. An empty OS becomes `linux`.
    pub fn normalized(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            architecture,
            os: normalize_os(&self.os),
            os_version: self.os_version.clone(),
            os_features,
            variant,
            features: self.features.clone(),
        }
    }
}

impl fmt::Display for Platform {
    /// containerd's `FormatAll`: `os[(version+features)]/arch[/variant]`, `unknown` without an OS.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.os.is_empty() {
            return f.write_str("unknown");
        }
        let mut os = self.os.clone();
        let mut features: Vec<&str> = self
            .os_features
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        features.sort_unstable();
        features.dedup();
        if !self.os_version.is_empty() || !features.is_empty() {
            os.push('(');
            os.push_str(&percent_encode(&self.os_version));
            if !features.is_empty() {
                os.push('+');
                let encoded: Vec<String> = features.iter().map(|f| percent_encode(f)).collect();
                os.push_str(&encoded.join("+"));
            }
            os.push(')');
        }
        let parts = [os.as_str(), self.architecture.as_str(), self.variant.as_str()];
        let joined: Vec<&str> = parts.into_iter().filter(|s| !s.is_empty()).collect();
        f.write_str(&joined.join("/"))
    }
}

fn host_arm_variant() -> &'static str {
    // Ref: containerd/platforms cpuinfo_linux.go getCPUVariantFromArch.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let arch = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case("cpu architecture")).then(|| v.trim().to_ascii_lowercase())
        })
        .unwrap_or_default();
    match arch.as_str() {
        "8" | "aarch64" => "v8",
        "6" | "6tej" => "v6",
        "5" | "5t" | "5te" | "5tej" => "v5",
        "4" | "4t" => "v4",
        _ => "v7",
    }
}

fn split_os_options(part: &str) -> Option<(&str, &str, Vec<&str>)> {
    let os_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let opt_ok = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b'-'))
    };
    let Some((os, rest)) = part.split_once('(') else {
        return os_ok(part).then(|| (part, "", Vec::new()));
    };
    let inner = rest.strip_suffix(')')?;
    let mut pieces = inner.split('+');
    let version = pieces.next().unwrap_or_default();
    let features: Vec<&str> = pieces.collect();
    let valid = os_ok(os) && opt_ok(version) && features.iter().all(|f| !f.is_empty() && opt_ok(f));
    valid.then_some((os, version, features))
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

// Ref: containerd/platforms database.go.
fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        // containerd substitutes runtime.GOOS; berth only runs on Linux.
        return "linux".to_owned();
    }
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_owned()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let (a, v): (&str, &str) = match arch.as_str() {
        "i386" => ("386", ""),
        "x86_64" | "x86-64" | "amd64" => ("amd64", if variant == "v1" { "" } else { &variant }),
        "aarch64" | "arm64" => (
            "arm64",
            match variant.as_str() {
                "8" | "v8" | "v8.0" => "",
                "9" | "9.0" | "v9.0" => "v9",
                v => v,
            },
        ),
        "armhf" => ("arm", "v7"),
        "armel" => ("arm", "v6"),
        "arm" => (
            "arm",
            match variant.as_str() {
                "" | "7" => "v7",
                "5" => "v5",
                "6" => "v6",
                "8" => "v8",
                v => v,
            },
        ),
        a => (a, &variant),
    };
    (a.to_owned(), v.to_owned())
}

/// containerd's `platforms.Only`: matches a platform and the ones it can also run, ranked.
///
/// `amd64/v3` also runs `amd64/v2`, `amd64` (v1) and `386`; `arm64` also runs `arm/v8` down to
/// `arm/v5`; `arm/v7` also runs `arm/v6` and `arm/v5`. The OS and OS version must match exactly,
/// and a candidate's OS features must be a subset of the wanted ones.
#[derive(Debug, Clone)]
pub struct PlatformMatcher {
    // Normalized platforms, best first.
    vector: Vec<Platform>,
}

impl PlatformMatcher {
    /// The matcher for `wanted` and everything it can run.
    pub fn only(wanted: &Platform) -> PlatformMatcher {
        PlatformMatcher {
            vector: platform_vector(&wanted.normalized()),
        }
    }

    /// The rank of `candidate` (0 is best), or `None` if it does not match.
    pub fn rank(&self, candidate: &Platform) -> Option<usize> {
        let normalized = candidate.normalized();
        self.vector.iter().position(|m| matches_exactly(m, &normalized))
    }

    /// Whether `candidate` matches.
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.rank(candidate).is_some()
    }
}

// containerd's `matcher.Match`, both sides normalized. The Windows OS-version matcher is left out:
// berth runs Linux images only, and containerd ignores OS version for other systems.
fn matches_exactly(m: &Platform, p: &Platform) -> bool {
    m.os == p.os
        && m.architecture == p.architecture
        && m.variant == p.variant
        && p.os_features
            .iter()
            .all(|f| m.os_features.binary_search(f).is_ok())
}

fn platform_vector(p: &Platform) -> Vec<Platform> {
    // Ref: containerd/platforms compare.go platformVector. Entries are normalized afterwards, as
    // containerd's `Ordered` does through `NewMatcher`.
    raw_platform_vector(p).iter().map(Platform::normalized).collect()
}

fn raw_platform_vector(p: &Platform) -> Vec<Platform> {
    let with = |architecture: &str, variant: String| Platform {
        architecture: architecture.to_owned(),
        variant,
        features: Vec::new(),
        ..p.clone()
    };
    let version = |v: &str| v.strip_prefix('v').unwrap_or(v).parse::<i64>().ok();
    let mut vector = vec![p.clone()];
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(n) = version(&p.variant).filter(|&n| n > 1) {
                vector.extend((1..n).rev().map(|k| with("amd64", format!("v{k}"))));
            }
            vector.push(with("386", String::new()));
        }
        "arm" => {
            if let Some(n) = version(&p.variant).filter(|&n| n > 5) {
                vector.extend((5..n).rev().map(|k| with("arm", format!("v{k}"))));
            }
        }
        "arm64" => {
            let variant = if p.variant.is_empty() {
                "v8"
            } else {
                p.variant.as_str()
            };
            vector.clear();
            if let Some((majors, minors)) = arm64_versions(variant) {
                for (&major, &minor) in majors.iter().zip(minors) {
                    for m in (0..=minor).rev() {
                        let v = if m == 0 {
                            format!("v{major}")
                        } else {
                            format!("v{major}.{m}")
                        };
                        vector.push(with("arm64", v));
                    }
                }
            }
            let arm_variant = if variant.starts_with("v8") || variant.starts_with("v9") {
                "v8"
            } else {
                variant
            };
            vector.extend(raw_platform_vector(&with("arm", arm_variant.to_owned())));
        }
        _ => {}
    }
    vector
}

fn arm64_versions(variant: &str) -> Option<(&'static [i64], &'static [i64])> {
    Some(match variant {
        "v8" | "v8.0" => (&[8], &[0]),
        "v8.1" => (&[8], &[1]),
        "v8.2" => (&[8], &[2]),
        "v8.3" => (&[8], &[3]),
        "v8.4" => (&[8], &[4]),
        "v8.5" => (&[8], &[5]),
        "v8.6" => (&[8], &[6]),
        "v8.7" => (&[8], &[7]),
        "v8.8" => (&[8], &[8]),
        "v8.9" => (&[8], &[9]),
        "v9" | "v9.0" => (&[9, 8], &[0, 5]),
        "v9.1" => (&[9, 8], &[1, 6]),
        "v9.2" => (&[9, 8], &[2, 7]),
        "v9.3" => (&[9, 8], &[3, 8]),
        "v9.4" => (&[9, 8], &[4, 9]),
        "v9.5" => (&[9, 8], &[5, 9]),
        "v9.6" => (&[9, 8], &[6, 9]),
        "v9.7" => (&[9, 8], &[7, 9]),
        _ => return None,
    })
}

/// Picks the index entry to pull for `wanted`, as Docker does.
///
/// Entries are ranked by [`PlatformMatcher`] (exact match first, then what the platform can also
/// run), ties keep index order and prefer more OS features. Entries whose platform is
/// `unknown/unknown` (BuildKit attestations) never match. As in containerd, an image entry with no
/// platform at all is accepted after every matching one. As in moby, when nothing matches an `arm`
/// request, an entry with the same OS and architecture but another variant is taken.
pub fn select<'a>(index: &'a ImageIndex, wanted: &Platform) -> Option<&'a Descriptor> {
    let matcher = PlatformMatcher::only(wanted);
    let best = index
        .manifests
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let key = match &d.platform {
                Some(p) => (matcher.rank(p)?, std::cmp::Reverse(p.os_features.len()), i),
                None if is_manifest_media_type(&d.media_type) || is_index_media_type(&d.media_type) => {
                    (usize::MAX, std::cmp::Reverse(0), i)
                }
                None => return None,
            };
            Some((key, d))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, d)| d);
    if best.is_some() {
        return best;
    }
    // Ref: moby daemon/pkg/distribution pull_v2_unix.go filterManifests, the "deprecated: backwards
    // compatibility with older versions that didn't compare variant" branch.
    let w = wanted.normalized();
    if w.architecture != "arm" {
        return None;
    }
    index.manifests.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.os == w.os && p.architecture == w.architecture)
    })
}

/// [`select`], with Docker's error when nothing fits.
pub fn select_or_err<'a>(index: &'a ImageIndex, wanted: &Platform) -> Result<&'a Descriptor, ManifestError> {
    select(index, wanted).ok_or_else(|| ManifestError::NoMatchingManifest {
        platform: wanted.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn normalize_like_containerd() {
        let cases = [
            (("x86_64", ""), ("amd64", "")),
            (("x86-64", ""), ("amd64", "")),
            (("amd64", "v1"), ("amd64", "")),
            (("amd64", "v3"), ("amd64", "v3")),
            (("aarch64", ""), ("arm64", "")),
            (("arm64", "v8"), ("arm64", "")),
            (("arm64", "8"), ("arm64", "")),
            (("arm64", "9"), ("arm64", "v9")),
            (("armhf", ""), ("arm", "v7")),
            (("armel", ""), ("arm", "v6")),
            (("arm", ""), ("arm", "v7")),
            (("arm", "6"), ("arm", "v6")),
            (("i386", "x"), ("386", "")),
            (("AMD64", ""), ("amd64", "")),
        ];
        for ((a, v), (wa, wv)) in cases {
            assert_eq!(normalize_arch(a, v), (wa.to_owned(), wv.to_owned()), "{a}/{v}");
        }
    }

    #[test]
    fn vectors() {
        let names = |w: &str| -> Vec<String> {
            platform_vector(&p(w).normalized())
                .iter()
                .map(|p| p.to_string())
                .collect()
        };
        assert_eq!(names("linux/amd64"), ["linux/amd64", "linux/386"]);
        assert_eq!(
            names("linux/amd64/v3"),
            ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]
        );
        assert_eq!(
            names("linux/arm/v7"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(
            names("linux/arm64"),
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(
            names("linux/arm64/v8.2")[..3],
            ["linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64"]
        );
    }
}
