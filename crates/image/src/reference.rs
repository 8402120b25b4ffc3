//! Image references, parsed and normalized exactly as Docker does.
//!
//! Ref: github.com/distribution/reference (reference.go, normalize.go, regexp.go). The grammar is
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] remote-name
//! domain           := host [":" port-number]
//! host             := domain-name | IPv4address | "[" IPv6address "]"
//! domain-name      := domain-component ["." domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number      := /[0-9]+/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! remote-name      := path-component ["/" path-component]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" /[0-9a-fA-F]{32,}/   (then validated by go-digest rules)
//! ```
//!
//! The matcher below is hand-written rather than a regex: every ambiguity of the regex is resolved
//! by a fixed rule (the digest starts at the first `@`, a tag is whatever follows the last `:` when
//! no `/` follows it, a domain is the first `/`-separated component when it is a valid host and the
//! rest is a valid path), which gives the same captures as Go's leftmost-first regexp.
//!
//! Error messages are distribution's and moby's, word for word: Docker clients and users match on
//! them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::{Digest, DigestError};

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy domain, rewritten to [`DEFAULT_DOMAIN`] on parse.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of official images on Docker Hub.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag assumed when a reference names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest accepted repository path (the part after the domain).
pub const REPOSITORY_NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// `ErrNameEmpty`.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// `ErrReferenceInvalidFormat`: the string does not follow the grammar.
    #[error("invalid reference format")]
    InvalidFormat,
    /// `ErrTagInvalidFormat`, from [`Reference::with_tag`].
    #[error("invalid tag format")]
    InvalidTag,
    /// `ErrNameContainsUppercase`: the string would parse if it were lowercase.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// `ErrNameTooLong`: the path is longer than [`REPOSITORY_NAME_TOTAL_LENGTH_MAX`].
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// `ErrNameNotCanonical`, from [`parse_named`].
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// `ParseNormalizedNamed`'s check of the repository part; carries that part (`library/Busybox`).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RepositoryNotLowercase(String),
    /// `ParseNormalizedNamed` refuses what could be an image ID; carries the input.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    AmbiguousWithId(String),
    /// The `@digest` part is not a valid digest.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// A named image reference: `domain/path[:tag][@digest]`.
///
/// Built by [`parse_normalized_named`] (or `str::parse`), Docker Hub names carry `docker.io` and,
/// for official images, `library/`. The domain is empty only where Docker leaves it so: a first
/// component that looks like a host (has `.` or `:`) but is not a valid one, as in `foo_bar.com/x`,
/// becomes part of the path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// What `docker image inspect X`, `docker rmi X` and friends accept: an image ID or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A full image ID: `sha256:<64 hex>` or the bare 64 hex characters.
    Id(Digest),
    /// A name. Docker looks the name up first and, when that fails, searches image IDs by
    /// `id_prefix` (set when the input is also a truncated ID: `[a-f0-9]+` or `sha256:[a-f0-9]+`).
    Named {
        /// The normalized name.
        reference: Reference,
        /// The hex prefix to search image IDs with, if the input could be one.
        id_prefix: Option<String>,
    },
}

/// Parses a name as the Docker CLI and API do (`ParseNormalizedNamed`): `busybox` becomes
/// `docker.io/library/busybox`, `user/app` becomes `docker.io/user/app`, `index.docker.io` becomes
/// `docker.io`. No default tag is added (see [`Reference::with_default_tag`]).
pub fn parse_normalized_named(s: &str) -> Result<Reference, ReferenceError> {
    // Ref: distribution/reference normalize.go ParseNormalizedNamed.
    if is_identifier(s) {
        return Err(ReferenceError::AmbiguousWithId(s.to_owned()));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = match remainder.find(':') {
        Some(i) => &remainder[..i],
        None => &remainder[..],
    };
    if remote.to_lowercase() != remote {
        return Err(ReferenceError::RepositoryNotLowercase(remote.to_owned()));
    }
    Reference::parse(&format!("{domain}/{remainder}"))
}

/// `ParseDockerRef`: normalizes, adds `latest` to a bare name, and drops the tag of a reference that
/// has both tag and digest (the digest is what gets pulled).
pub fn parse_docker_ref(s: &str) -> Result<Reference, ReferenceError> {
    let mut reference = parse_normalized_named(s)?;
    if reference.digest.is_some() {
        reference.tag = None;
        Ok(reference)
    } else {
        Ok(reference.with_default_tag())
    }
}

/// `ParseNamed`: accepts only names already in canonical form (`docker.io/library/busybox`, not
/// `busybox`).
pub fn parse_named(s: &str) -> Result<Reference, ReferenceError> {
    let reference = parse_normalized_named(s)?;
    if reference.to_string() != s {
        return Err(ReferenceError::NameNotCanonical);
    }
    Ok(reference)
}

/// `ParseAnyReference`: a bare 64-hex string or a valid digest is an image ID; anything else must be
/// a name.
pub fn parse_any_reference(s: &str) -> Result<ImageRef, ReferenceError> {
    if is_identifier(s) {
        let digest = Digest::parse(&format!("sha256:{s}"))?;
        return Ok(ImageRef::Id(digest));
    }
    if let Ok(digest) = Digest::parse(s) {
        return Ok(ImageRef::Id(digest));
    }
    let reference = parse_normalized_named(s)?;
    Ok(ImageRef::Named {
        reference,
        id_prefix: id_prefix(s).map(str::to_owned),
    })
}

/// The hex part of `s` if it can be a truncated image ID, as moby's image store searches them:
/// `[a-f0-9]{1,64}`, optionally after `sha256:`.
pub fn id_prefix(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let ok = !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(is_lower_hex);
    ok.then_some(hex)
}

impl Reference {
    /// `Parse`: the grammar alone, without Docker Hub normalization. `busybox` stays `busybox` with
    /// an empty domain, `test.com:5000` is the name `test.com` with tag `5000`. Most callers want
    /// [`parse_normalized_named`].
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        // Ref: distribution/reference reference.go Parse.
        if s.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        let Some(parts) = match_reference(s) else {
            let lower = s.to_lowercase();
            if lower != s && match_reference(&lower).is_some() {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        };
        if parts.path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        let digest = parts.digest.map(Digest::parse).transpose()?;
        Ok(Reference {
            domain: parts.domain.to_owned(),
            path: parts.path.to_owned(),
            tag: parts.tag.map(str::to_owned),
            digest,
        })
    }

    /// `WithName`: a name-only reference from `[domain/]path`, not normalized.
    pub fn with_name(name: &str) -> Result<Reference, ReferenceError> {
        let (domain, path) = match_name(name).ok_or(ReferenceError::InvalidFormat)?;
        if path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag: None,
            digest: None,
        })
    }

    /// The registry host, with port: `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `domain/path`: `docker.io/library/busybox` (distribution's `Name()`).
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The repository, fully qualified: `docker.io/library/busybox`. Same as [`Reference::name`].
    pub fn repository(&self) -> String {
        self.name()
    }

    /// `FamiliarName`: the name as Docker shows it, `busybox`, `user/app`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        // Ref: distribution/reference normalize.go familiarizeName.
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.path.clone(),
        }
    }

    /// `FamiliarString`: the familiar name with tag and digest, `busybox:latest`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    /// Whether the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DEFAULT_DOMAIN
    }

    /// Whether neither tag nor digest is set (`IsNameOnly`).
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// `TagNameOnly`: adds the `latest` tag when neither tag nor digest is set.
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// `WithTag`: the same reference with `tag`, keeping any digest.
    pub fn with_tag(mut self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::InvalidTag);
        }
        self.tag = Some(tag.to_owned());
        Ok(self)
    }

    /// `WithDigest`: the same reference with `digest`, keeping any tag.
    pub fn with_digest(mut self, digest: Digest) -> Reference {
        self.digest = Some(digest);
        self
    }

    /// `TrimNamed`: the name alone, without tag or digest.
    pub fn trim_named(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest.as_str());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// Same as [`parse_normalized_named`].
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        parse_normalized_named(s)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_normalized_named(&s).map_err(|e| serde::de::Error::custom(format_args!("{e}: `{s}`")))
    }
}

/// `splitDockerDomain`: decides whether the first component is a registry host, and applies the
/// Docker Hub defaults. The input is not validated here.
fn split_docker_domain(name: &str) -> (&str, std::borrow::Cow<'_, str>) {
    use std::borrow::Cow;
    // Ref: distribution/reference normalize.go splitDockerDomain.
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        // A single component is always a Docker Hub official image, even `localhost` or
        // `example.com`: this is what Docker does.
        return (
            DEFAULT_DOMAIN,
            Cow::Owned(format!("{OFFICIAL_REPO_PREFIX}{name}")),
        );
    };
    let (domain, remote): (&str, &str) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) {
        (maybe_domain, maybe_remote)
    } else if maybe_domain.to_lowercase() != maybe_domain {
        // Namespaces cannot be uppercase, so an uppercase first component must be a host.
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (domain, Cow::Owned(format!("{OFFICIAL_REPO_PREFIX}{remote}")));
    }
    (domain, Cow::Borrowed(remote))
}

/// `[a-f0-9]{64}`: an image ID without its algorithm.
fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_lower_hex)
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

struct Parts<'a> {
    domain: &'a str,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// The anchored reference regexp: `^(name)(?::(tag))?(?:@(digest))?$`.
fn match_reference(s: &str) -> Option<Parts<'_>> {
    // Neither name nor tag may contain `@`, and the digest pattern has none either: the first `@`
    // is the only possible digest separator.
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            if !is_digest_pattern(digest) {
                return None;
            }
            (rest, Some(digest))
        }
        None => (s, None),
    };
    // A `:` followed by no `/` cannot be part of the name (a domain's port is always followed by
    // `/`), so it must start the tag.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        if !is_tag(tag) {
            return None;
        }
    }
    let (domain, path) = match_name(name)?;
    Some(Parts {
        domain,
        path,
        tag,
        digest,
    })
}

/// The anchored name regexp: `^(?:(domainAndPort)/)?(remoteName)$`, preferring a domain.
fn match_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/') {
        if is_domain_and_port(first) && is_remote_name(rest) {
            return Some((first, rest));
        }
    }
    is_remote_name(name).then_some(("", name))
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(s: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && is_word(b[0])
        && b[1..].iter().all(|&c| is_word(c) || c == b'.' || c == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`.
fn is_digest_pattern(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    };
    hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && algorithm.split(['-', '_', '+', '.']).all(component_ok)
}

/// `host(?::[0-9]+)?` where host is a domain name, an IPv4 address or a bracketed IPv6 address.
fn is_domain_and_port(s: &str) -> bool {
    let is_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(inner_and_rest) = s.strip_prefix('[') {
        let Some((inner, rest)) = inner_and_rest.split_once(']') else {
            return false;
        };
        let inner_ok = !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        let rest_ok = rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port);
        return inner_ok && rest_ok;
    }
    let (host, port) = match s.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    host.split('.').all(is_domain_component) && port.is_none_or(is_port)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        }
        _ => false,
    }
}

/// `pathComponent(?:/pathComponent)*`.
fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    let mut i = 0;
    loop {
        // One run of alphanumerics, required at the start and after every separator.
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in ["a", "a0", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c__d-e"] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "A", "a.", ".a", "a..b", "a___b", "a_.b", "a-.b", "-a", "a-", "a/b", "_a",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "a",
            "a-b",
            "A.b.C",
            "127.0.0.1:5000",
            "[::1]",
            "[::1]:5000",
            "xn--n3h.com:18080",
        ] {
            assert!(is_domain_and_port(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a:",
            "a:b",
            "[]",
            "[::1",
            "[::1]:",
            "[fe80::1%eth0]",
            "a_b",
        ] {
            assert!(!is_domain_and_port(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(is_tag("latest"));
        assert!(is_tag("_x"));
        assert!(is_tag(&"a".repeat(128)));
        assert!(!is_tag(&"a".repeat(129)));
        assert!(!is_tag("-x"));
        assert!(!is_tag(".x"));
        assert!(!is_tag(""));
        assert!(!is_tag("a/b"));
    }
}
