//! Errors, worded as Docker words them, and the registry's JSON error body.

use std::fmt;
use std::io;

use berth_image::digest::Digest;
use berth_image::store::StoreError;
use serde::{Deserialize, Serialize};

/// Why a registry operation failed. Every message names the image, blob or URL concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry does not have it (404): `manifest for 127.0.0.1:5000/foo:bar not found:
    /// manifest unknown: manifest unknown`.
    #[error("{what} not found: {response}")]
    NotFound { what: String, response: ErrorResponse },

    /// Authentication failed or is missing (401, or a token server's refusal):
    /// `unauthorized: authentication required`.
    #[error("{response}")]
    Unauthorized { response: ErrorResponse },

    /// Authenticated but not allowed (403): `denied: requested access to the resource is denied`.
    #[error("{response}")]
    Denied { response: ErrorResponse },

    /// Any other error status, after retries when it was transient.
    #[error("{context}: {response}")]
    Status {
        context: String,
        response: ErrorResponse,
    },

    /// The request did not get an answer: `Get "http://127.0.0.1:5000/v2/": connection refused`.
    #[error("{method} \"{url}\": {message}")]
    Http {
        /// `Get`, `Head`, `Put`, ... as Go prints them.
        method: String,
        url: String,
        /// The cause, innermost last.
        message: String,
        /// Worth retrying: a reset or closed connection, a timeout, a truncated body.
        transient: bool,
    },

    /// The registry sent content that is not what was asked for (digest or size mismatch).
    #[error("{what}: {message}")]
    Content { what: String, message: String },

    /// The registry's answer cannot be used (no `Location`, a bad header, an oversized document).
    #[error("{0}")]
    Protocol(String),

    /// The content store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The caller's `on_chunk` failed (its unpacker, usually).
    #[error("cannot process blob `{digest}`: {error}")]
    Consumer { digest: Digest, error: io::Error },

    /// An `X-Registry-Auth` header that is not base64 JSON.
    #[error("invalid X-Registry-Auth header: {0}")]
    InvalidAuthHeader(String),

    /// Credentials would go over plain HTTP to a host that is neither loopback nor insecure.
    #[error("refusing to send credentials over plain HTTP to `{0}`: not a loopback or insecure registry")]
    InsecureCredentials(String),

    /// The client configuration is not usable.
    #[error("invalid registry configuration: {0}")]
    Config(String),

    /// A reference or argument the client cannot use.
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    /// The registry does not have the manifest, blob or repository.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound { .. } => true,
            Error::Status { response, .. } => response.status == 404,
            _ => false,
        }
    }

    /// Authentication is missing or refused (401 or 403).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. } | Error::Denied { .. })
    }

    /// Trying again later may succeed: connection trouble, timeouts, 5xx, 429, 408.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http { transient, .. } => *transient,
            Error::Status { response, .. } => is_transient_status(response.status),
            _ => false,
        }
    }

    /// The HTTP status the registry answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::NotFound { response, .. }
            | Error::Unauthorized { response }
            | Error::Denied { response }
            | Error::Status { response, .. } => Some(response.status),
            _ => None,
        }
    }

    /// Builds the error for an error status. `context` says what was being done; `what` names the
    /// object for a 404 (`manifest for busybox:latest`).
    pub(crate) fn from_response(context: &str, what: &str, response: ErrorResponse) -> Error {
        match response.status {
            401 => Error::Unauthorized { response },
            403 => Error::Denied { response },
            404 => Error::NotFound {
                what: what.to_owned(),
                response,
            },
            _ => Error::Status {
                context: context.to_owned(),
                response,
            },
        }
    }

    /// An error sending a request or reading its answer.
    pub(crate) fn http(method: &reqwest::Method, url: &str, e: &reqwest::Error) -> Error {
        let (message, transient) = describe_reqwest(e);
        Error::Http {
            method: go_method(method),
            url: url.to_owned(),
            message,
            transient,
        }
    }
}

pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status) && status != 501 && status != 505
}

/// Go's `http.Client` names methods this way in its errors (`Get "url": ...`).
fn go_method(m: &reqwest::Method) -> String {
    let s = m.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        out.push(if i == 0 { c } else { c.to_ascii_lowercase() });
    }
    out
}

/// The cause chain of a reqwest error without reqwest's own "error sending request for url (...)"
/// (the URL is already in our message), and whether retrying makes sense.
fn describe_reqwest(e: &reqwest::Error) -> (String, bool) {
    let mut parts: Vec<String> = Vec::new();
    let mut refused = false;
    let mut io_transient = false;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(ioe) = s.downcast_ref::<io::Error>() {
            match ioe.kind() {
                io::ErrorKind::ConnectionRefused => refused = true,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::TimedOut => io_transient = true,
                _ => {}
            }
        }
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    if e.is_timeout() && !parts.iter().any(|p| p.contains("timed out")) {
        parts.push("operation timed out".to_owned());
    }
    // A refused connection means the registry is not there: failing at once says so clearly,
    // where retries would only delay the same answer.
    // No content decoding is enabled, so a decode error is a body read that failed (reqwest
    // wraps those): transient like any broken transfer.
    // An unknown host will not appear by retrying either (Docker fails at once too).
    let dns = parts
        .iter()
        .any(|p| p.contains("dns error") || p.contains("failed to lookup address"));
    let transient = !refused
        && !dns
        && !e.is_builder()
        && !e.is_redirect()
        && (io_transient
            || e.is_timeout()
            || e.is_body()
            || e.is_decode()
            || e.is_request()
            || e.is_connect());
    (parts.join(": "), transient)
}

/// One entry of a registry's error body (`{"errors":[{"code","message","detail"}]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// `MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`, ...
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl ErrorEntry {
    /// As distribution's `errcode.Error` prints itself: the code in lower case with spaces, a
    /// colon, the message (`manifest unknown: manifest unknown`).
    fn describe(&self) -> String {
        let code = self.code.to_ascii_lowercase().replace('_', " ");
        if self.message.is_empty() {
            code
        } else {
            format!("{code}: {}", self.message)
        }
    }
}

/// A registry's refusal: the HTTP status and what its body said.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    pub status: u16,
    /// The parsed `errors` array; empty when the body was not one.
    pub errors: Vec<ErrorEntry>,
    /// The body (first KiB, trimmed) when it was not a JSON error document.
    pub body: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    // Docker Hub's token server: {"details": "incorrect username or password"}.
    #[serde(default)]
    details: Option<String>,
    // OAuth2 servers: {"error": "invalid_grant", "error_description": "..."}.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl ErrorResponse {
    /// Parses an error body of any shape registries and token servers send.
    pub fn parse(status: u16, body: &[u8]) -> ErrorResponse {
        let mut errors = Vec::new();
        let mut text = String::new();
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) if !b.errors.is_empty() => errors = b.errors,
            Ok(b) => {
                if let Some(d) = b.details.or(b.error_description).or(b.error) {
                    let code = match status {
                        401 => "UNAUTHORIZED",
                        403 => "DENIED",
                        429 => "TOOMANYREQUESTS",
                        _ => "UNKNOWN",
                    };
                    errors.push(ErrorEntry {
                        code: code.to_owned(),
                        message: d,
                        detail: None,
                    });
                }
            }
            Err(_) => {
                let s = String::from_utf8_lossy(&body[..body.len().min(1024)]);
                text = s.trim().to_owned();
            }
        }
        ErrorResponse {
            status,
            errors,
            body: text,
        }
    }

    /// A bodiless refusal with `status`.
    pub fn status_only(status: u16) -> ErrorResponse {
        ErrorResponse {
            status,
            errors: Vec::new(),
            body: String::new(),
        }
    }

    /// Whether an entry has `code` (`MANIFEST_UNKNOWN`).
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code.eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ref: distribution registry/api/errcode errors.go `Errors.Error`.
        match self.errors.as_slice() {
            [one] => return f.write_str(&one.describe()),
            [] => {}
            many => {
                f.write_str("errors:")?;
                for e in many {
                    write!(f, "\n{}", e.describe())?;
                }
                return Ok(());
            }
        }
        // No error document: the words distribution's client uses for these statuses.
        match self.status {
            401 => f.write_str("unauthorized: authentication required"),
            403 => f.write_str("denied: requested access to the resource is denied"),
            404 => f.write_str("not found"),
            429 => f.write_str("toomanyrequests: too many requests"),
            s => {
                let reason = reqwest::StatusCode::from_u16(s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("");
                write!(f, "unexpected HTTP status: {s} {reason}")?;
                if !self.body.is_empty() {
                    write!(f, ": {}", self.body)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_unknown_reads_as_docker_says_it() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"bar"}}]}"#;
        let r = ErrorResponse::parse(404, body);
        assert!(r.has_code("manifest_unknown"));
        let e = Error::from_response("fetch", "manifest for 127.0.0.1:5000/foo:bar", r);
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "manifest for 127.0.0.1:5000/foo:bar not found: manifest unknown: manifest unknown"
        );
    }

    #[test]
    fn unauthorized_with_and_without_body() {
        let body =
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        let e = Error::from_response("x", "y", ErrorResponse::parse(401, body));
        assert!(e.is_unauthorized());
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = Error::from_response("x", "y", ErrorResponse::parse(401, b""));
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = Error::from_response("x", "y", ErrorResponse::parse(403, b"nope"));
        assert!(e.is_unauthorized());
        assert_eq!(
            e.to_string(),
            "denied: requested access to the resource is denied"
        );
    }

    #[test]
    fn several_errors_are_listed() {
        let body = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"},{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#;
        let r = ErrorResponse::parse(400, body);
        assert_eq!(
            r.to_string(),
            "errors:\nblob unknown: blob unknown to registry\ndigest invalid: provided digest did not match uploaded content"
        );
    }

    #[test]
    fn token_server_bodies() {
        let r = ErrorResponse::parse(401, br#"{"details":"incorrect username or password"}"#);
        assert_eq!(r.to_string(), "unauthorized: incorrect username or password");
        let r = ErrorResponse::parse(
            400,
            br#"{"error":"invalid_grant","error_description":"bad refresh token"}"#,
        );
        assert_eq!(r.to_string(), "unknown: bad refresh token");
    }

    #[test]
    fn non_json_bodies_and_statuses() {
        let r = ErrorResponse::parse(502, b"<html>Bad Gateway</html>\n");
        assert_eq!(
            r.to_string(),
            "unexpected HTTP status: 502 Bad Gateway: <html>Bad Gateway</html>"
        );
        let e = Error::from_response("cannot fetch blob", "blob", r);
        assert!(e.is_transient());
        assert!(!e.is_not_found());
        let e = Error::from_response("x", "y", ErrorResponse::status_only(429));
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "x: toomanyrequests: too many requests");
        assert!(!Error::from_response("x", "y", ErrorResponse::status_only(501)).is_transient());
        assert!(!Error::from_response("x", "y", ErrorResponse::status_only(400)).is_transient());
    }
}
