//! Registry client: the OCI distribution API (Docker Registry HTTP API v2) as berthd pulls and
//! pushes with it.
//!
//! ```text
//! Client (cheap clone)            config, two HTTP clients (verified TLS / insecure TLS), token cache
//!   └─ Repository (cheap clone)   one repository on one registry, with its credentials
//!        └─ sites                 docker.io: each mirror (pulls only), then registry-1.docker.io;
//!                                 others: the registry itself
//!             └─ Endpoint         chosen by pinging `/v2/` over HTTPS, then plain HTTP for insecure
//!                                 registries; remembers the registry's auth challenges
//! ```
//!
//! Auth follows Docker's: the `/v2/` ping says which scheme the registry wants (`Bearer` with a
//! token server, `Basic`, or none); bearer tokens are fetched per (realm, service, scopes,
//! credentials) and cached until they expire; a 401 on a request refreshes the challenge and the
//! token once. Credentials never travel over plain HTTP to a host that is neither loopback nor
//! configured insecure.
//!
//! Blob downloads stream into the content store ([`berth_image::store`]) in large writes, resume a
//! partial ingest with a `Range` request, retry transient failures from the bytes already written,
//! and hand every byte to the caller (`on_chunk`) in order so that unpacking overlaps the download.

mod auth;
mod blob;
mod client;
mod endpoint;
mod error;
mod manifest;
mod retry;

use std::fmt;
use std::time::Duration;

pub use auth::{
    decode_auth_header, decode_auth_header_with_server, encode_auth_header, parse_www_authenticate, Challenge,
};
pub use blob::{FetchOutcome, PushOutcome};
pub use client::{Client, Repository};
pub use endpoint::is_insecure_registry;
pub use error::{Error, ErrorEntry, ErrorResponse};
pub use retry::backoff;

/// The media types a manifest request accepts, most wanted first (what Docker 25+ sends: OCI and
/// Docker schema2 manifests and indexes; schema1 is gone).
pub const MANIFEST_ACCEPT: &[&str] = &[
    berth_image::manifest::OCI_INDEX,
    berth_image::manifest::DOCKER_MANIFEST_LIST,
    berth_image::manifest::OCI_MANIFEST,
    berth_image::manifest::DOCKER_MANIFEST,
];

/// The largest manifest accepted (containerd's limit).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// How the client reaches registries; fixed for the client's life (the daemon builds a new client
/// when its configuration is reloaded).
#[derive(Debug, Clone)]
pub struct Config {
    /// Registries reached without verified TLS, as in daemon.json: `"host:port"` or `"host"`
    /// (matched exactly against the reference's domain, as Docker does) or a CIDR such as
    /// `"10.0.0.0/8"` (matched against the host's addresses). Loopback hosts are always insecure.
    pub insecure_registries: Vec<String>,
    /// Docker Hub mirrors (`https://mirror.example.com`), tried in order before Docker Hub, for
    /// pulls only.
    pub mirrors: Vec<String>,
    /// Extra attempts after a transient failure (reset connection, 5xx, 429).
    pub max_retries: u32,
    /// The first backoff delay; it doubles on each retry up to [`Config::max_retry_delay`].
    pub retry_delay: Duration,
    /// The longest backoff, also the cap on a server's `Retry-After`.
    pub max_retry_delay: Duration,
    /// How long a TCP + TLS connection may take.
    pub connect_timeout: Duration,
    /// How long a response may stall (no byte received) before it counts as a transient failure.
    pub read_timeout: Duration,
    /// The `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            max_retries: 3,
            retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// What a client proves its identity with. Empty fields are absent. An identity token (an OAuth2
/// refresh token from an earlier login) is preferred to the password; a registry token is sent as
/// is, as a bearer token, on every request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub identity_token: String,
    pub registry_token: String,
}

impl Credentials {
    /// A username and password.
    pub fn basic(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            ..Credentials::default()
        }
    }

    /// Whether nothing is set (anonymous access).
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_empty()
            && self.registry_token.is_empty()
    }
}

// Secrets stay out of logs and error messages.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .finish()
    }
}
