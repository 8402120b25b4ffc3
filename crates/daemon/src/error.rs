//! API errors: a kind and a message. [`status`] is the one place that maps kinds to HTTP statuses,
//! the way dockerd's errdefs do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidParameter,
    NotFound,
    Conflict,
    Unauthorized,
    Forbidden,
    Unavailable,
    NotImplemented,
    NotModified,
    System,
}

/// The HTTP status dockerd answers each kind of error with.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::InvalidParameter => StatusCode::BAD_REQUEST,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        Kind::NotModified => StatusCode::NOT_MODIFIED,
        Kind::System => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: Kind,
    pub message: String,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::InvalidParameter, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Conflict, m)
    }
    pub fn system(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::System, m)
    }
    pub fn no_such_image(name: &str) -> ApiError {
        ApiError::not_found(format!("No such image: {name}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message });
        (status(self.kind), axum::Json(body)).into_response()
    }
}

impl From<berth_store::Error> for ApiError {
    fn from(e: berth_store::Error) -> Self {
        ApiError::system(e.to_string())
    }
}

impl From<berth_image::store::StoreError> for ApiError {
    fn from(e: berth_image::store::StoreError) -> Self {
        if e.is_not_found() {
            ApiError::not_found(e.to_string())
        } else if e.is_invalid_content() {
            ApiError::invalid(e.to_string())
        } else {
            ApiError::system(e.to_string())
        }
    }
}

impl From<berth_image::reference::ReferenceError> for ApiError {
    fn from(e: berth_image::reference::ReferenceError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<berth_image::manifest::ManifestError> for ApiError {
    fn from(e: berth_image::manifest::ManifestError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::system(e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::system(format!("internal task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_dockerd() {
        assert_eq!(status(Kind::NotFound), 404);
        assert_eq!(status(Kind::InvalidParameter), 400);
        assert_eq!(status(Kind::Conflict), 409);
        assert_eq!(status(Kind::Unauthorized), 401);
        assert_eq!(status(Kind::System), 500);
        assert_eq!(ApiError::no_such_image("x").message, "No such image: x");
    }
}
