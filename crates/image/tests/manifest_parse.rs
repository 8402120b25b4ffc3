//! Manifests, indexes and configs read from real-world shaped fixtures, and written back.

use berth_image::digest::Digest;
use berth_image::manifest::{
    self, layer_compression, parse_manifest, Compression, Descriptor, ImageConfig, ImageIndex, ImageManifest,
    ManifestError, ManifestKind, Parsed,
};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/manifest/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture `{path}`: {e}"))
}

/// Drops `null` members: a named optional field read as `null` is written back absent, which
/// Docker treats the same.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parsing then serializing keeps every member, known or not.
fn assert_round_trip<T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug>(
    name: &str,
) {
    let bytes = fixture(name);
    let parsed: T = serde_json::from_slice(&bytes).unwrap();
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(without_nulls(written), without_nulls(original), "{name}");
    let again: T = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
    assert_eq!(again, parsed, "{name}");
}

#[test]
fn round_trips() {
    assert_round_trip::<ImageIndex>("oci_index_attestations.json");
    assert_round_trip::<ImageIndex>("oci_index_amd64_levels.json");
    assert_round_trip::<ImageIndex>("docker_manifest_list.json");
    assert_round_trip::<ImageManifest>("docker_schema2_manifest.json");
    assert_round_trip::<ImageManifest>("docker_schema2_foreign.json");
    assert_round_trip::<ImageManifest>("oci_manifest.json");
    assert_round_trip::<ImageManifest>("oci_attestation_manifest.json");
    assert_round_trip::<ImageConfig>("docker_image_config.json");
    assert_round_trip::<ImageConfig>("oci_image_config.json");
}

#[test]
fn oci_index_with_attestations() {
    let bytes = fixture("oci_index_attestations.json");
    let ManifestKind::Index(index) = parse_manifest(Some(manifest::OCI_INDEX), &bytes).unwrap() else {
        panic!("not an index");
    };
    assert_eq!(index.schema_version, 2);
    assert_eq!(index.manifests.len(), 16);
    let attestations: Vec<&Descriptor> = index.manifests.iter().filter(|d| d.is_attestation()).collect();
    assert_eq!(attestations.len(), 8);
    for a in attestations {
        let p = a.platform.as_ref().unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("unknown", "unknown"));
        assert!(a
            .annotation("vnd.docker.reference.digest")
            .unwrap()
            .starts_with("sha256:"));
    }
    let first = &index.manifests[0];
    assert_eq!(first.size, 1025);
    assert_eq!(
        first.annotation("org.opencontainers.image.version"),
        Some("3.20.3")
    );
}

#[test]
fn docker_manifest_list() {
    let bytes = fixture("docker_manifest_list.json");
    let kind = parse_manifest(Some(manifest::DOCKER_MANIFEST_LIST), &bytes).unwrap();
    assert_eq!(kind.media_type(), manifest::DOCKER_MANIFEST_LIST);
    let ManifestKind::Index(list) = kind else {
        panic!("not a list")
    };
    assert_eq!(list.manifests.len(), 10);
    let windows = list
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().unwrap().os == "windows")
        .unwrap();
    assert_eq!(windows.platform.as_ref().unwrap().os_version, "10.0.20348.2655");
    assert!(list
        .manifests
        .iter()
        .all(|d| d.media_type == manifest::DOCKER_MANIFEST));
}

#[test]
fn schema2_and_oci_manifests() {
    let bytes = fixture("docker_schema2_manifest.json");
    let ManifestKind::Manifest(m) = parse_manifest(Some(manifest::DOCKER_MANIFEST), &bytes).unwrap() else {
        panic!("not a manifest");
    };
    assert_eq!(m.config.media_type, manifest::DOCKER_CONFIG);
    assert_eq!(m.config.size, 1457);
    assert_eq!(m.layers.len(), 1);
    assert_eq!(
        layer_compression(&m.layers[0].media_type),
        Some(Compression::Gzip)
    );

    let bytes = fixture("docker_schema2_foreign.json");
    let ManifestKind::Manifest(m) = parse_manifest(None, &bytes).unwrap() else {
        panic!()
    };
    assert_eq!(m.layers[0].media_type, manifest::DOCKER_FOREIGN_LAYER_GZIP);
    assert_eq!(m.layers[0].urls.as_ref().unwrap().len(), 1);
    assert_eq!(m.layers[0].size, 1_503_349_431);

    let bytes = fixture("oci_manifest.json");
    let kind = parse_manifest(
        Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
        &bytes,
    )
    .unwrap();
    assert_eq!(kind.media_type(), manifest::OCI_MANIFEST);
    let ManifestKind::Manifest(m) = kind else { panic!() };
    assert_eq!(m.config.media_type, manifest::OCI_CONFIG);
    let compressions: Vec<_> = m
        .layers
        .iter()
        .map(|l| layer_compression(&l.media_type))
        .collect();
    assert_eq!(compressions, [Some(Compression::Gzip), Some(Compression::Zstd)]);
    assert_eq!(
        m.annotations.as_ref().unwrap()["org.opencontainers.image.base.name"],
        "docker.io/library/alpine:3.20"
    );
}

#[test]
fn kind_detection_without_a_header() {
    // Generic or absent Content-Type: the mediaType field decides.
    for header in [
        None,
        Some("application/json"),
        Some("application/octet-stream"),
        Some("text/plain"),
        Some(""),
    ] {
        let index = parse_manifest(header, &fixture("oci_index_attestations.json")).unwrap();
        assert!(matches!(index, ManifestKind::Index(_)), "{header:?}");
        let m = parse_manifest(header, &fixture("oci_manifest.json")).unwrap();
        assert!(matches!(m, ManifestKind::Manifest(_)), "{header:?}");
    }
    // No mediaType either (optional in OCI): the fields decide.
    let mut v: Value = serde_json::from_slice(&fixture("oci_index_amd64_levels.json")).unwrap();
    v.as_object_mut().unwrap().remove("mediaType");
    let kind = parse_manifest(None, &serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(kind, ManifestKind::Index(_)));
    assert_eq!(kind.media_type(), manifest::OCI_INDEX);
    let mut v: Value = serde_json::from_slice(&fixture("oci_manifest.json")).unwrap();
    v.as_object_mut().unwrap().remove("mediaType");
    let kind = parse_manifest(None, &serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(kind, ManifestKind::Manifest(_)));
    assert_eq!(kind.media_type(), manifest::OCI_MANIFEST);
    // A Docker header for an OCI body of the same kind is accepted: registries mix them up.
    assert!(parse_manifest(Some(manifest::DOCKER_MANIFEST), &fixture("oci_manifest.json")).is_ok());
}

#[test]
fn refusals() {
    let err = |header: Option<&str>, bytes: &[u8]| parse_manifest(header, bytes).unwrap_err();

    let schema1 = fixture("docker_schema1_signed.json");
    for header in [
        None,
        Some(manifest::DOCKER_MANIFEST_SCHEMA1_SIGNED),
        Some(manifest::DOCKER_MANIFEST_SCHEMA1),
    ] {
        let e = err(header, &schema1);
        assert!(matches!(e, ManifestError::Schema1), "{header:?}: {e}");
        assert_eq!(e.to_string(), "schema1 manifests are not supported");
    }
    assert!(matches!(
        err(Some(manifest::DOCKER_MANIFEST_SCHEMA1), b"{}"),
        ManifestError::Schema1
    ));

    let e = err(Some(manifest::OCI_INDEX), &fixture("oci_manifest.json"));
    assert_eq!(
        e.to_string(),
        "manifest media type mismatch: served as `application/vnd.oci.image.index.v1+json`, document says \
         `application/vnd.oci.image.manifest.v1+json`"
    );

    let mut v: Value = serde_json::from_slice(&fixture("oci_index_amd64_levels.json")).unwrap();
    v["config"] = serde_json::json!({"mediaType": manifest::OCI_CONFIG, "digest": Digest::sha256_of(b"").to_string(), "size": 0});
    let e = err(None, &serde_json::to_vec(&v).unwrap());
    assert_eq!(
        e.to_string(),
        "`application/vnd.oci.image.index.v1+json` document has a `config` field"
    );

    let mut v: Value = serde_json::from_slice(&fixture("oci_manifest.json")).unwrap();
    v["manifests"] = serde_json::json!([]);
    let e = err(Some(manifest::OCI_MANIFEST), &serde_json::to_vec(&v).unwrap());
    assert!(
        matches!(
            e,
            ManifestError::ConflictingFields {
                field: "manifests",
                ..
            }
        ),
        "{e}"
    );

    let e = err(
        Some("application/vnd.oci.artifact.manifest.v1+json"),
        &fixture("oci_manifest.json"),
    );
    assert_eq!(
        e.to_string(),
        "unsupported manifest media type `application/vnd.oci.artifact.manifest.v1+json`"
    );

    let e = err(None, br#"{"schemaVersion": 2}"#);
    assert_eq!(
        e.to_string(),
        "cannot tell whether the document is an image index or an image manifest"
    );

    let mut v: Value = serde_json::from_slice(&fixture("oci_manifest.json")).unwrap();
    v["schemaVersion"] = 3.into();
    let e = err(None, &serde_json::to_vec(&v).unwrap());
    assert_eq!(e.to_string(), "unsupported manifest schemaVersion 3");

    let e = err(None, b"{not json");
    assert!(e.to_string().starts_with("cannot parse manifest: "), "{e}");

    let mut v: Value = serde_json::from_slice(&fixture("oci_manifest.json")).unwrap();
    v["layers"][0]["digest"] = "sha256:abc".into();
    let e = err(None, &serde_json::to_vec(&v).unwrap());
    assert!(
        e.to_string()
            .starts_with("cannot parse image manifest: invalid checksum digest length"),
        "{e}"
    );
}

#[test]
fn docker_image_config() {
    let parsed =
        Parsed::<ImageConfig>::from_bytes(fixture("docker_image_config.json"), "image config").unwrap();
    assert_eq!(parsed.digest, Digest::sha256_of(&parsed.bytes));
    let c = &parsed.value;
    assert_eq!(c.platform().to_string(), "linux/amd64");
    assert_eq!(c.docker_version.as_deref(), Some("20.10.23"));
    assert_eq!(c.rootfs.fs_type, "layers");
    assert_eq!(c.rootfs.diff_ids.len(), 2);
    let history = c.history.as_ref().unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(
        history.iter().filter(|h| !h.empty_layer).count(),
        c.rootfs.diff_ids.len()
    );
    assert_eq!(history[3].comment.as_deref(), Some("buildkit.dockerfile.v0"));
    assert_eq!(history[4].author.as_deref(), Some("ops@example.com"));

    let config = c.config.as_ref().unwrap();
    assert_eq!(config.user.as_deref(), Some(""));
    assert_eq!(config.cmd.as_deref().unwrap(), ["nginx", "-g", "daemon off;"]);
    assert_eq!(config.entrypoint.as_deref().unwrap(), ["/docker-entrypoint.sh"]);
    assert!(config.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
    assert!(config.volumes.as_ref().unwrap().contains_key("/var/cache/nginx"));
    assert_eq!(config.working_dir.as_deref(), Some("/usr/share/nginx/html"));
    assert_eq!(config.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(config.on_build.as_deref().unwrap(), ["RUN echo child build"]);
    assert_eq!(config.shell.as_deref().unwrap(), ["/bin/bash", "-c"]);
    assert!(config.args_escaped);
    assert_eq!(
        config.labels.as_ref().unwrap()["maintainer"],
        "NGINX Docker Maintainers <docker-maint@nginx.com>"
    );
    let health = config.healthcheck.as_ref().unwrap();
    assert_eq!(
        health.test.as_deref().unwrap(),
        ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    );
    assert_eq!(
        (
            health.interval,
            health.timeout,
            health.start_period,
            health.retries
        ),
        (30_000_000_000, 3_000_000_000, 5_000_000_000, 3)
    );
    // Docker's container.Config fields that are not image settings are kept, not dropped.
    assert_eq!(config.extra["Hostname"], "");
    assert_eq!(config.extra["Tty"], false);

    let legacy = c.container_config.as_ref().unwrap();
    assert_eq!(legacy.extra["Hostname"], "9f3c2a1b7d4e");
    assert_eq!(legacy.on_build, None);
}

#[test]
fn oci_image_config() {
    let bytes = fixture("oci_image_config.json");
    let expected = Digest::sha256_of(&bytes);
    let parsed = Parsed::<ImageConfig>::from_bytes_verified(bytes, &expected, "image config").unwrap();
    let c = &parsed.value;
    assert_eq!(c.platform().to_string(), "linux/arm64/v8");
    assert_eq!(c.author.as_deref(), Some("builder@example.com"));
    assert!(c.container_config.is_none());
    let config = c.config.as_ref().unwrap();
    // `Entrypoint: []` clears the base image's entrypoint; `Cmd: null` inherits. Both are kept apart.
    assert_eq!(config.entrypoint, Some(vec![]));
    assert_eq!(config.cmd, None);
    let health = config.healthcheck.as_ref().unwrap();
    assert_eq!(
        (health.interval, health.start_interval, health.retries),
        (10_000_000_000, 1_000_000_000, 0)
    );
    assert!(c.extra.contains_key("moby.buildkit.buildinfo.v1"));
}

#[test]
fn parsed_digest_and_verification() {
    let bytes = fixture("docker_schema2_manifest.json");
    let wrong = Digest::sha256_of(b"something else");
    let e =
        Parsed::<ImageManifest>::from_bytes_verified(bytes.clone(), &wrong, "image manifest").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("content digest mismatch: expected `sha256:"),
        "{e}"
    );

    // Re-serializing changes the bytes (indentation), so the digest must come from the original.
    let parsed = Parsed::<ImageManifest>::from_bytes(bytes.clone(), "image manifest").unwrap();
    let rewritten = Parsed::from_value(parsed.value.clone(), "image manifest").unwrap();
    assert_ne!(rewritten.digest, parsed.digest);
    assert_eq!(rewritten.value, parsed.value);
    assert_eq!(
        serde_json::from_slice::<ImageManifest>(&rewritten.bytes).unwrap(),
        parsed.value
    );

    let e = Parsed::<ImageConfig>::from_bytes(b"[]".to_vec(), "image config").unwrap_err();
    assert!(e.to_string().starts_with("cannot parse image config: "), "{e}");
}

#[test]
fn legacy_string_cmd_and_odd_values() {
    let c: ImageConfig = serde_json::from_str(
        r#"{"architecture":"amd64","os":"linux","config":{"Cmd":"echo hi","Entrypoint":null,
            "ExposedPorts":{"53/udp":null}},"rootfs":{"type":"layers","diff_ids":[]}}"#,
    )
    .unwrap();
    let config = c.config.unwrap();
    assert_eq!(config.cmd, Some(vec!["echo hi".to_owned()]));
    assert_eq!(config.entrypoint, None);
    assert!(config.exposed_ports.unwrap().contains_key("53/udp"));
    let written = serde_json::to_string(&ImageConfig::default()).unwrap();
    assert_eq!(
        written,
        r#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#
    );
}

#[test]
fn media_types() {
    use manifest::*;
    for (mt, want) in [
        (OCI_LAYER_TAR, Some(Compression::None)),
        (OCI_LAYER_TAR_GZIP, Some(Compression::Gzip)),
        (OCI_LAYER_TAR_ZSTD, Some(Compression::Zstd)),
        (OCI_LAYER_NONDISTRIBUTABLE_TAR, Some(Compression::None)),
        (OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP, Some(Compression::Gzip)),
        (OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD, Some(Compression::Zstd)),
        (DOCKER_LAYER_GZIP, Some(Compression::Gzip)),
        (DOCKER_LAYER_TAR, Some(Compression::None)),
        (DOCKER_LAYER_ZSTD, Some(Compression::Zstd)),
        (DOCKER_FOREIGN_LAYER_GZIP, Some(Compression::Gzip)),
        (DOCKER_FOREIGN_LAYER_TAR, Some(Compression::None)),
        (DOCKER_CONFIG, None),
        ("application/vnd.in-toto+json", None),
    ] {
        assert_eq!(layer_compression(mt), want, "{mt}");
    }
    assert_eq!(DOCKER_CONFIG, "application/vnd.docker.container.image.v1+json");
    assert!(is_config_media_type(OCI_CONFIG) && is_config_media_type(DOCKER_CONFIG));
    assert!(is_index_media_type(DOCKER_MANIFEST_LIST) && !is_index_media_type(DOCKER_MANIFEST));
    let d = Descriptor::for_bytes(OCI_EMPTY, b"{}");
    assert_eq!(d.size, 2);
    assert_eq!(
        d.digest.as_str(),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#
    );
}
