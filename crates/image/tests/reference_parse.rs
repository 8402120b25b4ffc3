//! Reference parsing against Docker's behaviour. The tables are ported from
//! github.com/distribution/reference reference_test.go and normalize_test.go; error strings are the
//! ones Docker prints.

use berth_image::digest::Digest;
use berth_image::reference::{
    id_prefix, parse_any_reference, parse_docker_ref, parse_named, parse_normalized_named, ImageRef,
    Reference, ReferenceError,
};

const FF: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const HEX64: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

/// What `Reference::parse` should find.
#[derive(Debug)]
struct Expected {
    name: String,
    domain: &'static str,
    tag: Option<String>,
    digest: Option<String>,
}

struct Case {
    input: String,
    want: Result<Expected, String>,
}

fn ok(input: &str, name: &str, domain: &'static str, tag: Option<&str>, digest: Option<&str>) -> Case {
    Case {
        input: input.to_owned(),
        want: Ok(Expected {
            name: name.to_owned(),
            domain,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        }),
    }
}

fn err(input: &str, message: &str) -> Case {
    Case {
        input: input.to_owned(),
        want: Err(message.to_owned()),
    }
}

/// distribution's TestReferenceParse, on the un-normalized `Parse`.
#[test]
fn parse_grammar_table() {
    let a256 = "a".repeat(256);
    let a255 = "a".repeat(255);
    let a127 = "a/".repeat(127);
    let cases = vec![
        ok("test_com", "test_com", "", None, None),
        ok("test.com:tag", "test.com", "", Some("tag"), None),
        ok("test.com:5000", "test.com", "", Some("5000"), None),
        ok(
            "test.com/repo:tag",
            "test.com/repo",
            "test.com",
            Some("tag"),
            None,
        ),
        ok("test:5000/repo", "test:5000/repo", "test:5000", None, None),
        ok(
            "test:5000/repo:tag",
            "test:5000/repo",
            "test:5000",
            Some("tag"),
            None,
        ),
        ok(
            &format!("test:5000/repo@{FF}"),
            "test:5000/repo",
            "test:5000",
            None,
            Some(FF),
        ),
        ok(
            &format!("test:5000/repo:tag@{FF}"),
            "test:5000/repo",
            "test:5000",
            Some("tag"),
            Some(FF),
        ),
        err("", "repository name must have at least one component"),
        err(":justtag", "invalid reference format"),
        err(&format!("@{FF}"), "invalid reference format"),
        err(
            "repo@sha256:ffffffffffffffffffffffffffffffffff",
            "invalid checksum digest length",
        ),
        err(
            "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "unsupported digest algorithm",
        ),
        err("Uppercase:tag", "repository name must be lowercase"),
        // distribution's FIXME: "Uppercase" is taken as a domain here, so this parses.
        ok(
            "Uppercase/lowercase:tag",
            "Uppercase/lowercase",
            "Uppercase",
            Some("tag"),
            None,
        ),
        err(
            "test:5000/Uppercase/lowercase:tag",
            "repository name must be lowercase",
        ),
        ok("lowercase:Uppercase", "lowercase", "", Some("Uppercase"), None),
        err(
            &format!("domain/{a256}:tag"),
            "repository name must not be more than 255 characters",
        ),
        ok(
            &format!("{a127}a:tag-puts-this-over-max"),
            &format!("{a127}a"),
            "a",
            Some("tag-puts-this-over-max"),
            None,
        ),
        err("aa/asdf$$^/aa", "invalid reference format"),
        ok(
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com",
            None,
            None,
        ),
        ok(
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com",
            Some("some-long-tag"),
            None,
        ),
        ok(
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "b.gcr.io/test.example.com/my-app",
            "b.gcr.io",
            Some("test.example.com"),
            None,
        ),
        ok(
            "xn--n3h.com/myimage:xn--n3h.com",
            "xn--n3h.com/myimage",
            "xn--n3h.com",
            Some("xn--n3h.com"),
            None,
        ),
        ok(
            &format!("xn--7o8h.com/myimage:xn--7o8h.com@{FF}"),
            "xn--7o8h.com/myimage",
            "xn--7o8h.com",
            Some("xn--7o8h.com"),
            Some(FF),
        ),
        ok("foo_bar.com:8080", "foo_bar.com", "", Some("8080"), None),
        ok(
            "foo/foo_bar.com:8080",
            "foo/foo_bar.com",
            "foo",
            Some("8080"),
            None,
        ),
        ok("192.168.1.1", "192.168.1.1", "", None, None),
        ok("192.168.1.1:tag", "192.168.1.1", "", Some("tag"), None),
        ok("192.168.1.1:5000", "192.168.1.1", "", Some("5000"), None),
        ok("192.168.1.1/repo", "192.168.1.1/repo", "192.168.1.1", None, None),
        ok(
            "192.168.1.1:5000/repo",
            "192.168.1.1:5000/repo",
            "192.168.1.1:5000",
            None,
            None,
        ),
        ok(
            "192.168.1.1:5000/repo:5050",
            "192.168.1.1:5000/repo",
            "192.168.1.1:5000",
            Some("5050"),
            None,
        ),
        err("[2001:db8::1]", "invalid reference format"),
        err("[2001:db8::1]:5000", "invalid reference format"),
        err("[2001:db8::1]:tag", "invalid reference format"),
        ok(
            "[2001:db8::1]/repo",
            "[2001:db8::1]/repo",
            "[2001:db8::1]",
            None,
            None,
        ),
        ok(
            "[2001:db8:1:2:3:4:5:6]/repo:tag",
            "[2001:db8:1:2:3:4:5:6]/repo",
            "[2001:db8:1:2:3:4:5:6]",
            Some("tag"),
            None,
        ),
        ok(
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            None,
            None,
        ),
        ok(
            "[2001:db8::1]:5000/repo:tag",
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            Some("tag"),
            None,
        ),
        ok(
            &format!("[2001:db8::1]:5000/repo@{FF}"),
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            None,
            Some(FF),
        ),
        ok(
            &format!("[2001:db8::1]:5000/repo:tag@{FF}"),
            "[2001:db8::1]:5000/repo",
            "[2001:db8::1]:5000",
            Some("tag"),
            Some(FF),
        ),
        ok(
            "[2001:db8::]:5000/repo",
            "[2001:db8::]:5000/repo",
            "[2001:db8::]:5000",
            None,
            None,
        ),
        ok("[::1]:5000/repo", "[::1]:5000/repo", "[::1]:5000", None, None),
        err("[fe80::1%eth0]:5000/repo", "invalid reference format"),
        err("[fe80::1%@invalidzone]:5000/repo", "invalid reference format"),
        ok(
            &format!("example.com/{a255}:tag"),
            &format!("example.com/{a255}"),
            "example.com",
            Some("tag"),
            None,
        ),
        // Beyond distribution's table.
        err("busybox:", "invalid reference format"),
        err("busybox@", "invalid reference format"),
        err("busybox@sha256:abc", "invalid reference format"),
        err(
            &format!("busybox:{}", "t".repeat(129)),
            "invalid reference format",
        ),
        ok(
            &format!("busybox:{}", "t".repeat(128)),
            "busybox",
            "",
            Some(&"t".repeat(128)),
            None,
        ),
        err("busybox:-tag", "invalid reference format"),
        err(&format!("busybox@{FF}@{FF}"), "invalid reference format"),
        err(
            &format!("busybox@sha256:{}", "F".repeat(64)),
            "invalid checksum digest format",
        ),
        err(
            &format!("busybox@SHA256:{}", "f".repeat(64)),
            "invalid checksum digest format",
        ),
        ok(
            &format!("busybox@sha512:{}", "f".repeat(128)),
            "busybox",
            "",
            None,
            Some(&format!("sha512:{}", "f".repeat(128))),
        ),
        err("a//b", "invalid reference format"),
        err("a/b/", "invalid reference format"),
        err("/a", "invalid reference format"),
        err("a:5000:tag", "invalid reference format"),
        err("example.com:/x", "invalid reference format"),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let got = Reference::parse(&case.input);
        match (&case.want, got) {
            (Ok(want), Ok(r)) => {
                let digest_got = r.digest().map(|d| d.to_string());
                if r.name() != want.name
                    || r.domain() != want.domain
                    || r.tag() != want.tag.as_deref()
                    || digest_got != want.digest
                    || r.to_string() != case.input
                {
                    failures.push(format!("{:?}: got {r:?} (domain {:?})", case.input, r.domain()));
                }
            }
            (Err(message), Err(e)) => {
                if e.to_string() != *message {
                    failures.push(format!(
                        "{:?}: error {:?}, want {message:?}",
                        case.input,
                        e.to_string()
                    ));
                }
            }
            (want, got) => failures.push(format!("{:?}: got {got:?}, want {want:?}", case.input)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Inputs through `parse_normalized_named`: (input, full string, familiar string) or error message.
#[test]
fn normalized_table() {
    // (full string, familiar string) or the error message.
    type Expected = Result<(String, String), String>;
    let okn = |full: &str, familiar: &str| -> Expected { Ok((full.to_owned(), familiar.to_owned())) };
    let cases: Vec<(String, Expected)> = vec![
        ("busybox".into(), okn("docker.io/library/busybox", "busybox")),
        ("busybox:latest".into(), okn("docker.io/library/busybox:latest", "busybox:latest")),
        ("library/busybox".into(), okn("docker.io/library/busybox", "busybox")),
        ("docker.io/busybox".into(), okn("docker.io/library/busybox", "busybox")),
        ("index.docker.io/busybox".into(), okn("docker.io/library/busybox", "busybox")),
        ("index.docker.io/user/app:1".into(), okn("docker.io/user/app:1", "user/app:1")),
        ("user/app".into(), okn("docker.io/user/app", "user/app")),
        ("docker.io/library/foo/bar".into(), okn("docker.io/library/foo/bar", "library/foo/bar")),
        ("localhost/x".into(), okn("localhost/x", "localhost/x")),
        ("localhost:5000/x".into(), okn("localhost:5000/x", "localhost:5000/x")),
        ("127.0.0.1:5000/a/b:tag".into(), okn("127.0.0.1:5000/a/b:tag", "127.0.0.1:5000/a/b:tag")),
        (
            format!("registry.example.com/x@{FF}"),
            okn("registry.example.com/x@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "registry.example.com/x@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        ),
        ("[::1]:5000/x".into(), okn("[::1]:5000/x", "[::1]:5000/x")),
        ("[fc00:1:2:3:4:5:6:7]:5000/library/debian".into(), okn("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000/library/debian")),
        ("LOCALDOMAIN/debian".into(), okn("LOCALDOMAIN/debian", "LOCALDOMAIN/debian")),
        ("Docker/docker".into(), okn("Docker/docker", "Docker/docker")),
        // A single component is always Docker Hub, even when it looks like a host.
        ("localhost".into(), okn("docker.io/library/localhost", "localhost")),
        ("example.com".into(), okn("docker.io/library/example.com", "example.com")),
        ("192.168.0.1:80".into(), okn("docker.io/library/192.168.0.1:80", "192.168.0.1:80")),
        (format!("docker.io/{HEX64}"), okn(&format!("docker.io/library/{HEX64}"), HEX64)),
        // A host-looking first component that is not a valid host becomes part of the path, with
        // no domain at all (distribution does the same).
        ("foo_bar.com/x".into(), okn("foo_bar.com/x", "foo_bar.com/x")),
        // Errors, as `docker pull` prints them.
        ("Busybox".into(), Err("invalid reference format: repository name (library/Busybox) must be lowercase".into())),
        ("docker/Docker".into(), Err("invalid reference format: repository name (docker/Docker) must be lowercase".into())),
        (
            "docker.io/docker/Docker".into(),
            Err("invalid reference format: repository name (docker/Docker) must be lowercase".into()),
        ),
        ("Uppercase:tag".into(), Err("invalid reference format: repository name (library/Uppercase) must be lowercase".into())),
        (
            "test:5000/Uppercase/lowercase:tag".into(),
            Err("invalid reference format: repository name (Uppercase/lowercase) must be lowercase".into()),
        ),
        (HEX64.into(), Err(format!("invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"))),
        ("https://github.com/docker/docker".into(), Err("invalid reference format".into())),
        ("-docker".into(), Err("invalid reference format".into())),
        ("-docker/docker".into(), Err("invalid reference format".into())),
        ("-docker.io/docker/docker".into(), Err("invalid reference format".into())),
        ("docker///docker".into(), Err("invalid reference format".into())),
        ("docker.io/docker///docker".into(), Err("invalid reference format".into())),
        ("[fc00::1]".into(), Err("invalid reference format".into())),
        ("[fc00::1]:5000".into(), Err("invalid reference format".into())),
        ("fc00::1:5000/debian".into(), Err("invalid reference format".into())),
        ("[fe80::1%eth0]:5000/debian".into(), Err("invalid reference format".into())),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian".into(), Err("invalid reference format".into())),
        ("".into(), Err("invalid reference format".into())),
        ("busybox:".into(), Err("invalid reference format".into())),
        ("busybox@sha256:abc".into(), Err("invalid reference format".into())),
        (format!("busybox@sha256:{}", "f".repeat(34)), Err("invalid checksum digest length".into())),
        ("a".repeat(256), Err("repository name must not be more than 255 characters".into())),
        (
            format!("{}/docker", ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4].join("_")),
            Err("repository name must not be more than 255 characters".into()),
        ),
    ];
    let mut failures = Vec::new();
    for (input, want) in &cases {
        let got = parse_normalized_named(input);
        match (want, got) {
            (Ok((full, familiar)), Ok(r)) => {
                if r.to_string() != *full || r.familiar_string() != *familiar {
                    failures.push(format!("{input:?}: got {r} / {}", r.familiar_string()));
                }
            }
            (Err(message), Err(e)) => {
                if e.to_string() != *message {
                    failures.push(format!("{input:?}: error {:?}, want {message:?}", e.to_string()));
                }
            }
            (want, got) => failures.push(format!("{input:?}: got {got:?}, want {want:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// distribution's TestValidateReferenceName and TestValidateRemoteName.
#[test]
fn valid_and_invalid_names() {
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "localhost/library/debian",
        "localhost/debian",
        "LOCALDOMAIN/library/debian",
        "LOCALDOMAIN/debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];
    for name in valid {
        if let Err(e) = parse_normalized_named(name) {
            panic!("{name:?} should be valid: {e}");
        }
    }
    let invalid = [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        HEX64,
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
    ];
    for name in invalid {
        assert!(
            parse_normalized_named(name).is_err(),
            "{name:?} should be invalid"
        );
    }
}

/// distribution's TestParseRepositoryInfo: every spelling gives the same familiar name, full name,
/// domain and path.
#[test]
fn repository_info() {
    // (path, familiar name, full name, ambiguous spelling, domain)
    let cases = [
        (
            "fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost",
        ),
        (
            "fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost",
        ),
        (
            "fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "fooo/bar",
            "docker.io/fooo/bar",
            "index.docker.io/fooo/bar",
            "docker.io",
        ),
        (
            "library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu",
            "library/ubuntu",
            "docker.io",
        ),
        (
            "nonlibrary/ubuntu",
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            "",
            "docker.io",
        ),
        (
            "other/library",
            "other/library",
            "docker.io/other/library",
            "",
            "docker.io",
        ),
        (
            "private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "privatebase",
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "",
            "example.com",
        ),
        (
            "privatebase",
            "example.com/privatebase",
            "example.com/privatebase",
            "",
            "example.com",
        ),
        (
            "private/moonbase",
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            "",
            "example.com:8000",
        ),
        (
            "privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "",
            "example.com:8000",
        ),
        (
            "library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "index.docker.io/library/ubuntu-12.04-base",
            "docker.io",
        ),
        (
            "library/foo",
            "foo",
            "docker.io/library/foo",
            "docker.io/foo",
            "docker.io",
        ),
        (
            "library/foo/bar",
            "library/foo/bar",
            "docker.io/library/foo/bar",
            "",
            "docker.io",
        ),
        (
            "store/foo/bar",
            "store/foo/bar",
            "docker.io/store/foo/bar",
            "",
            "docker.io",
        ),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for (path, familiar, full, ambiguous, domain) in cases {
        for spelling in [familiar, full, ambiguous].into_iter().filter(|s| !s.is_empty()) {
            let r = parse_normalized_named(spelling).unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(r.familiar_name(), familiar, "{spelling}");
            assert_eq!(r.to_string(), full, "{spelling}");
            assert_eq!(r.repository(), full, "{spelling}");
            assert_eq!(r.domain(), domain, "{spelling}");
            assert_eq!(r.path(), path, "{spelling}");
            assert_eq!(r.is_docker_hub(), domain == "docker.io", "{spelling}");
        }
    }
}

/// distribution's TestNormalizedSplitHostname.
#[test]
fn normalized_domain_and_path() {
    let cases = [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ];
    for (input, domain, path) in cases {
        let r = parse_normalized_named(input).unwrap();
        assert_eq!((r.domain(), r.path()), (domain, path), "{input}");
    }
}

/// distribution's TestDomainAndPath and TestWithNameFailure.
#[test]
fn with_name() {
    for (input, domain, path) in [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "", "test_com/foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ] {
        let r = Reference::with_name(input).unwrap();
        assert_eq!((r.domain(), r.path()), (domain, path), "{input}");
    }
    let long = format!("example.com/{}", "a".repeat(256));
    for (input, want) in [
        ("", ReferenceError::InvalidFormat),
        (":justtag", ReferenceError::InvalidFormat),
        (&format!("@{FF}"), ReferenceError::InvalidFormat),
        (
            "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            ReferenceError::InvalidFormat,
        ),
        ("example.com/repo:tag", ReferenceError::InvalidFormat),
        (&long, ReferenceError::NameTooLong),
        ("aa/asdf$$^/aa", ReferenceError::InvalidFormat),
    ] {
        assert_eq!(Reference::with_name(input).unwrap_err(), want, "{input}");
    }
}

/// distribution's TestWithTag, TestWithDigest and TestInvalidReferenceComponents.
#[test]
fn with_tag_and_digest() {
    let d: Digest = FF.parse().unwrap();
    let r = Reference::with_name("test.com:8000/foo").unwrap();
    assert_eq!(
        r.clone().with_tag("TAG5").unwrap().to_string(),
        "test.com:8000/foo:TAG5"
    );
    assert_eq!(
        r.clone().with_digest(d.clone()).to_string(),
        format!("test.com:8000/foo@{FF}")
    );
    assert_eq!(
        r.clone()
            .with_digest(d.clone())
            .with_tag("TAG5")
            .unwrap()
            .to_string(),
        format!("test.com:8000/foo:TAG5@{FF}")
    );
    assert_eq!(
        r.clone().with_tag("latest").unwrap().with_digest(d).to_string(),
        format!("test.com:8000/foo:latest@{FF}")
    );
    assert_eq!(
        Reference::with_name("foo")
            .unwrap()
            .with_tag("tag2")
            .unwrap()
            .to_string(),
        "foo:tag2"
    );
    let busybox = parse_normalized_named("busybox").unwrap();
    assert_eq!(
        busybox.with_tag("-foo").unwrap_err().to_string(),
        "invalid tag format"
    );
    assert!(parse_normalized_named("-foo").is_err());
}

/// distribution's TestParseReferenceWithTagAndDigest.
#[test]
fn tag_and_digest_together() {
    let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = parse_normalized_named(short).unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"));
    assert!(r.digest().is_some());
    assert_eq!(r.familiar_string(), short);
    assert_eq!(r.familiar_name(), "busybox");
    assert_eq!(r.trim_named().to_string(), "docker.io/library/busybox");
}

/// distribution's TestParseNamed.
#[test]
fn canonical_names_only() {
    for (input, want) in [
        ("test.com/foo", Ok(("test.com", "foo"))),
        ("test:8080/foo", Ok(("test:8080", "foo"))),
        ("test_com/foo", Err(ReferenceError::NameNotCanonical)),
        ("test.com", Err(ReferenceError::NameNotCanonical)),
        ("foo", Err(ReferenceError::NameNotCanonical)),
        ("library/foo", Err(ReferenceError::NameNotCanonical)),
        ("docker.io/library/foo", Ok(("docker.io", "library/foo"))),
        ("docker.io/foo", Err(ReferenceError::NameNotCanonical)),
    ] {
        let got = parse_named(input);
        let got = got.as_ref().map(|r| (r.domain(), r.path())).map_err(Clone::clone);
        assert_eq!(got, want, "{input}");
    }
    assert_eq!(
        ReferenceError::NameNotCanonical.to_string(),
        "repository name must be canonical"
    );
}

/// distribution's TestParseDockerRef.
#[test]
fn docker_ref() {
    let d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    for (input, want) in [
        (
            "busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (format!("busybox@{d}"), format!("docker.io/library/busybox@{d}")),
        (
            "library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "library/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/library/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "gcr.io/library/busybox".to_owned(),
            "gcr.io/library/busybox:latest".to_owned(),
        ),
        (
            format!("gcr.io/library/busybox:latest@{d}"),
            format!("gcr.io/library/busybox@{d}"),
        ),
    ] {
        let r = parse_docker_ref(&input).unwrap();
        assert_eq!(r.to_string(), want, "{input}");
        assert!(Reference::parse(&r.to_string()).is_ok());
    }
}

#[test]
fn default_tag() {
    let r = parse_normalized_named("busybox").unwrap();
    assert!(r.is_name_only());
    let tagged = r.with_default_tag();
    assert_eq!(tagged.to_string(), "docker.io/library/busybox:latest");
    assert_eq!(tagged.familiar_string(), "busybox:latest");
    let pinned = parse_normalized_named(&format!("busybox@{FF}"))
        .unwrap()
        .with_default_tag();
    assert_eq!(pinned.tag(), None, "a digest is enough: no default tag");
    let kept = parse_normalized_named("busybox:1.36").unwrap().with_default_tag();
    assert_eq!(kept.tag(), Some("1.36"));
}

/// distribution's TestParseAnyReference, plus the short-ID fallback moby's image lookup uses.
#[test]
fn any_reference() {
    let d = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let named = |input: &str, want: &str| match parse_any_reference(input).unwrap() {
        ImageRef::Named { reference, .. } => assert_eq!(reference.to_string(), want, "{input}"),
        other => panic!("{input}: {other:?}"),
    };
    named("redis", "docker.io/library/redis");
    named("redis:latest", "docker.io/library/redis:latest");
    named("docker.io/library/redis:latest", "docker.io/library/redis:latest");
    named(
        &format!("redis@sha256:{d}"),
        &format!("docker.io/library/redis@sha256:{d}"),
    );
    named(
        &format!("docker.io/library/redis@sha256:{d}"),
        &format!("docker.io/library/redis@sha256:{d}"),
    );
    named("dmcgowan/myapp", "docker.io/dmcgowan/myapp");
    named("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest");
    named("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest");
    named(
        &format!("dmcgowan/myapp@sha256:{d}"),
        &format!("docker.io/dmcgowan/myapp@sha256:{d}"),
    );
    named(&d[..63], &format!("docker.io/library/{}", &d[..63]));
    named("dbcc1", "docker.io/library/dbcc1");

    let id = parse_any_reference(d).unwrap();
    assert_eq!(id, ImageRef::Id(format!("sha256:{d}").parse().unwrap()));
    let id = parse_any_reference(&format!("sha256:{d}")).unwrap();
    assert_eq!(id, ImageRef::Id(format!("sha256:{d}").parse().unwrap()));

    // A short ID is also a valid name; Docker tries the name first, then the ID prefix.
    match parse_any_reference("dbcc1").unwrap() {
        ImageRef::Named { id_prefix, .. } => assert_eq!(id_prefix.as_deref(), Some("dbcc1")),
        other => panic!("{other:?}"),
    }
    match parse_any_reference("sha256:dbcc1").unwrap() {
        ImageRef::Named { reference, id_prefix } => {
            assert_eq!(reference.to_string(), "docker.io/library/sha256:dbcc1");
            assert_eq!(id_prefix.as_deref(), Some("dbcc1"));
        }
        other => panic!("{other:?}"),
    }
    match parse_any_reference("redis").unwrap() {
        ImageRef::Named { id_prefix, .. } => assert_eq!(id_prefix, None),
        other => panic!("{other:?}"),
    }
    assert_eq!(id_prefix("sha256:"), None);
    assert_eq!(id_prefix("ABC"), None);
    assert_eq!(
        parse_any_reference("Busybox").unwrap_err().to_string(),
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
}

#[test]
fn serde_and_from_str() {
    let r: Reference = "busybox:1.36".parse().unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, "\"docker.io/library/busybox:1.36\"");
    assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), r);
    assert_eq!(serde_json::from_str::<Reference>("\"busybox:1.36\"").unwrap(), r);
    let e = serde_json::from_str::<Reference>("\"Busybox\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be lowercase: `Busybox`"), "{e}");
}

/// Docker's familiar form is not always re-parsable to the same name: a Docker Hub path whose
/// first component looks like a host familiarizes to a string that names another registry. We
/// keep the behaviour (it is what `docker images` shows) and pin it here.
#[test]
fn familiar_form_quirk_kept() {
    let r = parse_normalized_named("docker.io/localhost/foo").unwrap();
    assert_eq!(r.familiar_name(), "localhost/foo");
    assert_eq!(
        parse_normalized_named(&r.familiar_name()).unwrap().domain(),
        "localhost"
    );
}
