//! Content digests (`sha256:<hex>`), as OCI and Docker write them, and streaming hashing and
//! verification.
//!
//! Parsing follows `github.com/opencontainers/go-digest` `Digest.Validate` with sha256, sha384 and
//! sha512 registered (moby imports `crypto/sha256` and `crypto/sha512`), so the same inputs are
//! refused with the same words: "invalid checksum digest format", "invalid checksum digest length",
//! "unsupported digest algorithm". Clients match on these strings, so the messages carry no operand;
//! callers add the context (which manifest, which layer).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// Why a string is not a digest. The messages are go-digest's, word for word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `:`, an empty encoded part, a malformed algorithm, or non-lowercase-hex content.
    #[error("invalid checksum digest format")]
    InvalidFormat,
    /// A supported algorithm with the wrong number of hex characters.
    #[error("invalid checksum digest length")]
    InvalidLength,
    /// A well-formed digest whose algorithm we cannot compute.
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// Streamed content did not hash to the digest it was expected to have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("content digest mismatch: expected `{expected}`, got `{actual}`")]
pub struct VerifyError {
    /// The digest the content was announced with.
    pub expected: Digest,
    /// The digest of the bytes actually received.
    pub actual: Digest,
}

/// A digest algorithm we can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha256`, the canonical algorithm for image and layer IDs.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

impl Algorithm {
    /// The name used before the `:` in a digest.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex characters in a digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha384" => Some(Algorithm::Sha384),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated digest: a supported algorithm and its lowercase hex encoding.
///
/// Ordering and hashing follow the string form, so sorted digests sort as Docker prints them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // The full `algorithm:hex` string; kept whole so `as_str` and `Display` cost nothing.
    repr: String,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses `algorithm:hex` exactly as go-digest's `Parse` does.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        // Ref: github.com/opencontainers/go-digest digest.go `Validate` and algorithm.go `Validate`.
        let Some((name, encoded)) = s.split_once(':') else {
            return Err(DigestError::InvalidFormat);
        };
        if encoded.is_empty() {
            return Err(DigestError::InvalidFormat);
        }
        let Some(algorithm) = Algorithm::from_name(name) else {
            return Err(if matches_digest_regexp(name, encoded) {
                DigestError::Unsupported
            } else {
                DigestError::InvalidFormat
            });
        };
        if encoded.len() != algorithm.hex_len() {
            return Err(DigestError::InvalidLength);
        }
        if !encoded.bytes().all(is_lower_hex) {
            return Err(DigestError::InvalidFormat);
        }
        Ok(Digest {
            repr: s.to_owned(),
            algorithm,
        })
    }

    /// Builds a digest from an algorithm and raw hash output.
    pub fn from_raw(algorithm: Algorithm, raw: &[u8]) -> Digest {
        let mut repr = String::with_capacity(algorithm.as_str().len() + 1 + raw.len() * 2);
        repr.push_str(algorithm.as_str());
        repr.push(':');
        push_hex(&mut repr, raw);
        Digest { repr, algorithm }
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, data)
    }

    /// The digest of `data` under `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(data);
        hasher.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part, after the `:`.
    pub fn encoded(&self) -> &str {
        &self.repr[self.algorithm.as_str().len() + 1..]
    }

    /// The first 12 hex characters, as Docker shows image and container IDs
    /// (`stringid.TruncateID`).
    pub fn short(&self) -> &str {
        &self.encoded()[..12]
    }

    /// The full `algorithm:hex` form.
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// A verifier that checks streamed bytes against this digest.
    pub fn verifier(&self) -> Verifier {
        Verifier::new(self.clone())
    }
}

// Ref: go-digest `DigestRegexp` `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`, consulted only to
// choose between "unsupported" and "invalid format" for algorithms we do not know.
fn matches_digest_regexp(algorithm: &str, encoded: &str) -> bool {
    let component_ok =
        |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    algorithm.split(['.', '+', '_', '-']).all(component_ok)
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-')
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn push_hex(out: &mut String, raw: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &byte in raw {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.repr)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.repr
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.repr)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Digest;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest string such as `sha256:<64 hex>`")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Digest, E> {
                Digest::parse(v).map_err(|e| E::custom(format_args!("{e}: `{v}`")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

/// Computes a digest over bytes fed in pieces.
#[derive(Clone)]
pub struct Hasher {
    state: State,
    written: u64,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm())
            .field("written", &self.written)
            .finish()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => State::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => State::Sha512(sha2::Sha512::new()),
        };
        Hasher { state, written: 0 }
    }

    /// A sha256 hasher.
    pub fn sha256() -> Hasher {
        Hasher::new(Algorithm::Sha256)
    }

    /// The algorithm being computed.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Sha256(_) => Algorithm::Sha256,
            State::Sha384(_) => Algorithm::Sha384,
            State::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
        self.written += data.len() as u64;
    }

    /// How many bytes were fed so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        match self.state {
            State::Sha256(h) => Digest::from_raw(Algorithm::Sha256, &h.finalize()),
            State::Sha384(h) => Digest::from_raw(Algorithm::Sha384, &h.finalize()),
            State::Sha512(h) => Digest::from_raw(Algorithm::Sha512, &h.finalize()),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks that streamed bytes hash to an expected digest (go-digest's `Verifier`).
#[derive(Debug, Clone)]
pub struct Verifier {
    expected: Digest,
    hasher: Hasher,
}

impl Verifier {
    /// A verifier for content announced as `expected`.
    pub fn new(expected: Digest) -> Verifier {
        let hasher = Hasher::new(expected.algorithm());
        Verifier { expected, hasher }
    }

    /// The digest the content must have.
    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// How many bytes were fed so far.
    pub fn bytes_written(&self) -> u64 {
        self.hasher.bytes_written()
    }

    /// Whether the bytes fed so far hash to the expected digest.
    pub fn verified(&self) -> bool {
        self.hasher.clone().finish() == self.expected
    }

    /// Ends the stream: `Ok` with the digest if it matches, the mismatch otherwise.
    pub fn finish(self) -> Result<Digest, VerifyError> {
        let actual = self.hasher.finish();
        if actual == self.expected {
            Ok(actual)
        } else {
            Err(VerifyError {
                expected: self.expected,
                actual,
            })
        }
    }
}

impl std::io::Write for Verifier {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes_known_vectors() {
        assert_eq!(Digest::sha256_of(b"").as_str(), EMPTY_SHA256);
        assert_eq!(
            Digest::of(Algorithm::Sha512, b"abc").as_str(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        let d = Digest::sha256_of(b"hello");
        assert_eq!(
            d.encoded(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(d.short(), "2cf24dba5fb0");
        assert_eq!(d.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn streaming_matches_one_shot() {
        let mut h = Hasher::sha256();
        h.update(b"hel");
        h.update(b"lo");
        assert_eq!(h.bytes_written(), 5);
        assert_eq!(h.finish(), Digest::sha256_of(b"hello"));
    }

    #[test]
    fn verifier_accepts_and_rejects() {
        let expected = Digest::sha256_of(b"layer");
        let mut v = expected.verifier();
        std::io::Write::write_all(&mut v, b"lay").unwrap();
        assert!(!v.verified());
        v.update(b"er");
        assert!(v.verified());
        assert_eq!(v.finish().unwrap(), expected);

        let mut v = expected.verifier();
        v.update(b"other");
        let err = v.finish().unwrap_err();
        assert_eq!(err.actual, Digest::sha256_of(b"other"));
        assert!(err
            .to_string()
            .starts_with("content digest mismatch: expected `sha256:"));
    }

    #[test]
    fn parse_errors_match_go_digest() {
        let f64 = "f".repeat(64);
        let cases: &[(&str, Result<(), DigestError>)] = &[
            (EMPTY_SHA256, Ok(())),
            (&format!("sha384:{}", "a".repeat(96)), Ok(())),
            (&format!("sha512:{}", "0".repeat(128)), Ok(())),
            ("", Err(DigestError::InvalidFormat)),
            ("sha256", Err(DigestError::InvalidFormat)),
            ("sha256:", Err(DigestError::InvalidFormat)),
            (&f64, Err(DigestError::InvalidFormat)),
            ("sha256:ffff", Err(DigestError::InvalidLength)),
            (
                &format!("sha256:{}", "F".repeat(64)),
                Err(DigestError::InvalidFormat),
            ),
            (
                &format!("sha256:{}", "g".repeat(64)),
                Err(DigestError::InvalidFormat),
            ),
            (&format!("sha512:{f64}"), Err(DigestError::InvalidLength)),
            (&format!("invaliddigest:{f64}"), Err(DigestError::Unsupported)),
            (&format!("foo+bar:{f64}"), Err(DigestError::Unsupported)),
            (&format!("SHA256:{f64}"), Err(DigestError::InvalidFormat)),
            (&format!("foo..bar:{f64}"), Err(DigestError::InvalidFormat)),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                Err(DigestError::Unsupported),
            ),
            ("md5:d41d8c!", Err(DigestError::InvalidFormat)),
            (&format!(":{f64}"), Err(DigestError::InvalidFormat)),
        ];
        for (input, want) in cases {
            let got = Digest::parse(input).map(|_| ());
            assert_eq!(&got, want, "input {input:?}");
        }
        assert_eq!(
            DigestError::InvalidFormat.to_string(),
            "invalid checksum digest format"
        );
        assert_eq!(
            DigestError::InvalidLength.to_string(),
            "invalid checksum digest length"
        );
        assert_eq!(
            DigestError::Unsupported.to_string(),
            "unsupported digest algorithm"
        );
    }

    #[test]
    fn serde_is_the_string() {
        let d: Digest = EMPTY_SHA256.parse().unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY_SHA256}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        let err = serde_json::from_str::<Digest>("\"sha256:abc\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid checksum digest length: `sha256:abc`"),
            "{err}"
        );
    }
}
