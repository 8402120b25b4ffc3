//! Platform parsing, normalization and manifest-list selection, against containerd's and moby's
//! behaviour.

use berth_image::digest::Digest;
use berth_image::manifest::{
    parse_manifest, select, select_or_err, ImageIndex, ManifestKind, Platform, PlatformMatcher,
};

fn fixture_index(name: &str) -> ImageIndex {
    let path = format!("{}/tests/fixtures/manifest/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture `{path}`: {e}"));
    match parse_manifest(None, &bytes).unwrap() {
        ManifestKind::Index(index) => index,
        ManifestKind::Manifest(_) => panic!("{name} is not an index"),
    }
}

fn p(s: &str) -> Platform {
    Platform::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The platform of the entry `select` picks, as `os/arch[/variant]`.
fn picked(index: &ImageIndex, wanted: &str) -> Option<String> {
    let d = select(index, &p(wanted))?;
    Some(
        d.platform
            .as_ref()
            .map_or_else(|| "<none>".to_owned(), |p| p.to_string()),
    )
}

#[test]
fn parse_specifiers() {
    let host = Platform::host();
    let cases = [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/x86-64", "linux/amd64"),
        ("Linux/AMD64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/arm", "linux/arm"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/armhf", "linux/arm"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/i386", "linux/386"),
        ("amd64", "linux/amd64"),
        ("aarch64", "linux/arm64"),
        ("armhf", "linux/arm"),
        ("macos/arm64", "darwin/arm64"),
        ("windows(10.0.17763)/amd64", "windows(10.0.17763)/amd64"),
        (
            "windows(10.0.17763+win32k)/amd64",
            "windows(10.0.17763+win32k)/amd64",
        ),
        ("windows(10.0.17763%2B1)/amd64", "windows(10.0.17763%2B1)/amd64"),
    ];
    for (input, want) in cases {
        assert_eq!(p(input).to_string(), want, "{input}");
    }
    assert_eq!(p("linux").architecture, host.architecture);
    assert_eq!(p("windows(10.0.17763+win32k)/amd64").os_features, ["win32k"]);
    assert_eq!(p("windows(10.0.17763%2B1)/amd64").os_version, "10.0.17763+1");

    let errors = [
        ("linux/*", "\"linux/*\": wildcards not yet supported: invalid argument"),
        ("foo", "\"foo\": unknown operating system or architecture: invalid argument"),
        ("linux/amd64/v2/extra", "\"linux/amd64/v2/extra\": cannot parse platform specifier: invalid argument"),
        (
            "linux/amd64/v2/extra/more",
            "\"extra/more\" is an invalid component of \"linux/amd64/v2/extra/more\": platform specifier \
             component must match \"^[A-Za-z0-9_.-]+$\": invalid argument",
        ),
        (
            "linux/am d64",
            "\"am d64\" is an invalid component of \"linux/am d64\": platform specifier component must match \
             \"^[A-Za-z0-9_.-]+$\": invalid argument",
        ),
        ("linux//", "\"\" is an invalid component of \"linux//\": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument"),
    ];
    for (input, want) in errors {
        assert_eq!(Platform::parse(input).unwrap_err().to_string(), want, "{input}");
    }
    assert!(Platform::parse("")
        .unwrap_err()
        .to_string()
        .starts_with("\"\" is an invalid OS component of \"\""));
    assert!(Platform::parse("lin ux/amd64").is_err());
    assert!(Platform::parse("windows(10.0/amd64").is_err());
    assert!(Platform::parse("windows(10.0%zz)/amd64").is_err());
}

#[test]
fn display_and_normalize() {
    let raw = Platform {
        variant: "v8".into(),
        ..Platform::new("linux", "aarch64")
    };
    // Docker formats the wanted platform as given: that is why its error says `linux/arm64/v8`.
    assert_eq!(raw.to_string(), "linux/aarch64/v8");
    assert_eq!(raw.normalized().to_string(), "linux/arm64");
    assert_eq!(Platform::default().to_string(), "unknown");
    assert_eq!(Platform::new("", "amd64").normalized().to_string(), "linux/amd64");
    assert_eq!(
        Platform::new("linux", "arm").normalized().to_string(),
        "linux/arm/v7"
    );
    let features = Platform {
        os_features: vec!["b".into(), "a".into(), "b".into()],
        ..Platform::new("linux", "amd64")
    };
    assert_eq!(features.normalized().os_features, ["a", "b"]);
    assert_eq!(features.to_string(), "linux(+a+b)/amd64");
}

#[test]
fn host_platform() {
    let host = Platform::host();
    assert_eq!(host.os, "linux");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(host.to_string(), "linux/amd64");
    #[cfg(target_arch = "aarch64")]
    assert_eq!(host.to_string(), "linux/arm64/v8");
    assert!(PlatformMatcher::only(&host).matches(&host));
}

#[test]
fn oci_index_skips_attestations() {
    let index = fixture_index("oci_index_attestations.json");
    for (wanted, want) in [
        ("linux/amd64", Some("linux/amd64")),
        ("linux/x86_64", Some("linux/amd64")),
        ("linux/amd64/v2", Some("linux/amd64")),
        ("linux/arm64", Some("linux/arm64/v8")),
        ("linux/arm64/v8", Some("linux/arm64/v8")),
        ("linux/arm/v7", Some("linux/arm/v7")),
        ("linux/arm", Some("linux/arm/v7")),
        ("linux/arm/v6", Some("linux/arm/v6")),
        // arm/v8 (32-bit on a v8 CPU) runs v7 first.
        ("linux/arm/v8", Some("linux/arm/v7")),
        // Nothing runs on arm/v5 here; moby falls back to any arm entry.
        ("linux/arm/v5", Some("linux/arm/v6")),
        ("linux/386", Some("linux/386")),
        ("linux/riscv64", Some("linux/riscv64")),
        ("linux/s390x", Some("linux/s390x")),
        ("linux/mips64le", None),
        ("windows/amd64", None),
    ] {
        assert_eq!(picked(&index, wanted).as_deref(), want, "{wanted}");
    }
    let amd64 = select(&index, &p("linux/amd64")).unwrap();
    assert!(!amd64.is_attestation());
    assert_eq!(amd64.size, 1025);
}

#[test]
fn docker_manifest_list_selection() {
    let list = fixture_index("docker_manifest_list.json");
    for (wanted, want) in [
        ("linux/amd64", Some("linux/amd64")),
        ("linux/arm64", Some("linux/arm64/v8")),
        ("linux/arm/v7", Some("linux/arm/v7")),
        // v6 runs v5, the best below it here.
        ("linux/arm/v6", Some("linux/arm/v5")),
        ("linux/mips64le", Some("linux/mips64le")),
        ("windows/amd64", Some("windows(10.0.20348.2655)/amd64")),
        ("linux/riscv64", None),
    ] {
        assert_eq!(picked(&list, wanted).as_deref(), want, "{wanted}");
    }
}

#[test]
fn amd64_micro_architecture_levels() {
    let index = fixture_index("oci_index_amd64_levels.json");
    for (wanted, want) in [
        // Plain amd64 takes the baseline entry, never a v2/v3 build it may not run.
        ("linux/amd64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v2", "linux/amd64/v2"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        // v4 runs the best level below it.
        ("linux/amd64/v4", "linux/amd64/v3"),
        ("linux/386", "linux/386"),
    ] {
        assert_eq!(picked(&index, wanted).as_deref(), Some(want), "{wanted}");
    }

    // An index with only a v3 build has nothing for plain amd64, but amd64 still runs 386.
    let mut only_v3 = index.clone();
    only_v3
        .manifests
        .retain(|d| d.platform.as_ref().unwrap().variant == "v3");
    assert_eq!(picked(&only_v3, "linux/amd64"), None);
    let e = select_or_err(&only_v3, &p("linux/amd64")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no matching manifest for linux/amd64 in the manifest list entries"
    );
    let mut v3_and_386 = index.clone();
    v3_and_386.manifests.retain(|d| {
        let p = d.platform.as_ref().unwrap();
        p.variant == "v3" || p.architecture == "386"
    });
    assert_eq!(picked(&v3_and_386, "linux/amd64").as_deref(), Some("linux/386"));
}

#[test]
fn docker_error_wording() {
    let index = fixture_index("oci_index_amd64_levels.json");
    let arm64_host = Platform {
        variant: "v8".into(),
        ..Platform::new("linux", "arm64")
    };
    let e = select_or_err(&index, &arm64_host).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no matching manifest for linux/arm64/v8 in the manifest list entries"
    );
}

#[test]
fn entries_without_platform_come_last() {
    let digest = |s: &str| Digest::sha256_of(s.as_bytes());
    let json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest("bare"), "size": 10},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest("arm64"), "size": 10,
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": "application/vnd.example.signature", "digest": digest("sig"), "size": 10}
        ]
    });
    let index: ImageIndex = serde_json::from_value(json).unwrap();
    assert_eq!(select(&index, &p("linux/arm64")).unwrap().digest, digest("arm64"));
    assert_eq!(select(&index, &p("linux/amd64")).unwrap().digest, digest("bare"));
}

#[test]
fn os_features_rank_and_filter() {
    let digest = |s: &str| Digest::sha256_of(s.as_bytes());
    let json = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest("plain"), "size": 1,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest("feat"), "size": 1,
             "platform": {"architecture": "amd64", "os": "linux", "os.features": ["gpu"]}}
        ]
    });
    let index: ImageIndex = serde_json::from_value(json).unwrap();
    let with_gpu = Platform {
        os_features: vec!["gpu".into()],
        ..Platform::new("linux", "amd64")
    };
    assert_eq!(select(&index, &with_gpu).unwrap().digest, digest("feat"));
    assert_eq!(select(&index, &p("linux/amd64")).unwrap().digest, digest("plain"));
    let matcher = PlatformMatcher::only(&p("linux/amd64"));
    assert!(
        !matcher.matches(&with_gpu),
        "a candidate needing features the host lacks does not match"
    );
    assert_eq!(matcher.rank(&p("linux/386")), Some(1));
}
