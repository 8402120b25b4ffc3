//! The Docker Engine API: routing, API-version negotiation, query and filter parsing.

pub mod containers;
pub mod images;
pub mod progress;
pub mod system;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceExt;

use crate::error::{ApiError, Result};
use crate::Daemon;

/// The API version berthd speaks (Docker Engine 27).
pub const API_VERSION: &str = "1.47";
/// The oldest API version berthd accepts, as dockerd.
pub const MIN_API_VERSION: &str = "1.24";

/// The API version a request asked for (its `/v1.NN/` prefix), or the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn current() -> ApiVersion {
        parse_version(API_VERSION).unwrap_or(ApiVersion(1, 47))
    }
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= ApiVersion(major, minor)
    }
}

fn parse_version(s: &str) -> Option<ApiVersion> {
    let (a, b) = s.split_once('.')?;
    Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
}

pub fn router(d: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/system/df", get(system::df))
        .route("/events", get(system::events))
        .route("/auth", post(images::auth))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/attach", post(containers::attach))
        .route("/containers/{id}", axum::routing::delete(containers::remove))
        .route("/containers/{id}/exec", post(containers::exec_create))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/top", get(containers::top))
        .route("/exec/{id}/start", post(containers::exec_start))
        .route("/exec/{id}/resize", post(containers::exec_resize))
        .route("/exec/{id}/json", get(containers::exec_inspect))
        .route("/networks/prune", post(system::prune_nothing))
        .route("/volumes/prune", post(containers::volume_prune))
        .route("/volumes", get(containers::volume_list))
        .route("/volumes/create", post(containers::volume_create))
        .route(
            "/volumes/{name}",
            get(containers::volume_inspect).delete(containers::volume_remove),
        )
        .route("/build/prune", post(system::prune_nothing))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/prune", post(images::prune))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save_many))
        .route("/berth/v1/images/bootstrap", post(images::bootstrap))
        .route("/images/{*rest}", axum::routing::any(images::by_name))
        .fallback(not_found)
        .with_state(d)
}

async fn not_found(req: Request) -> Response {
    ApiError::not_found(format!("page not found: {} {}", req.method(), req.uri().path())).into_response()
}

/// Strips a `/vX.Y` prefix, checks it against the supported range and records it in the request
/// extensions, then routes. Every answer carries dockerd's identifying headers.
pub async fn handle(router: Router, mut req: Request) -> std::result::Result<Response, Infallible> {
    let path = req.uri().path().to_string();
    let mut version = ApiVersion::current();
    if let Some(rest) = path.strip_prefix("/v") {
        let (v, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if let Some(parsed) = parse_version(v) {
            let min = parse_version(MIN_API_VERSION).unwrap_or(ApiVersion(1, 24));
            if parsed > ApiVersion::current() {
                return Ok(with_headers(
                    ApiError::invalid(format!(
                        "client version {v} is too new. Maximum supported API version is {API_VERSION}"
                    ))
                    .into_response(),
                ));
            }
            if parsed < min {
                return Ok(with_headers(
                    ApiError::invalid(format!(
                        "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, \
                         please upgrade your client to a newer version"
                    ))
                    .into_response(),
                ));
            }
            version = parsed;
            let pq = match req.uri().query() {
                Some(q) => format!("{tail}?{q}"),
                None => tail.to_string(),
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = pq.parse().ok();
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req.extensions_mut().insert(version);
    let is_head = req.method() == Method::HEAD;
    let line = format!("{} {}", req.method(), req.uri());
    crate::log::log("debug", &format!("Calling {line}"));
    let resp = router.oneshot(req).await?;
    if resp.status().is_server_error() {
        crate::log::log(
            "error",
            &format!("Handler for {line} returned error status {}", resp.status()),
        );
    }
    let mut resp = with_headers(resp);
    if is_head {
        *resp.body_mut() = Body::empty();
    }
    Ok(resp)
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    resp
}

/// Query parameters in order, repeated keys kept.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn from_uri(uri: &axum::http::Uri) -> Query {
        Query(
            form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// Docker's boolean form values: absent, "", "0", "false" (any case), "no" are false.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"),
        }
    }
    /// The `filters` parameter: `{"key":{"value":true}}` or the old `{"key":["value"]}`.
    pub fn filters(&self) -> Result<Filters> {
        match self.get("filters") {
            None | Some("") => Ok(Filters::default()),
            Some(s) => Filters::parse(s),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(Query::from_uri(&parts.uri))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiVersion {
    type Rejection = Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or_else(ApiVersion::current))
    }
}

/// Docker's filter arguments: key → accepted values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(s: &str) -> Result<Filters> {
        let v: serde_json::Value =
            serde_json::from_str(s).map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| ApiError::invalid("invalid filter: not an object"))?;
        let mut out = BTreeMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(v, _)| v.clone())
                    .collect(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ApiError::invalid(format!("invalid filter value for '{k}'")))
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(ApiError::invalid(format!("invalid filter value for '{k}'"))),
            };
            out.insert(k.clone(), list);
        }
        Ok(Filters(out))
    }
    /// Refuses keys outside `allowed` with dockerd's message.
    pub fn validate(&self, allowed: &[&str]) -> Result<()> {
        for k in self.0.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::invalid(format!("invalid filter '{k}'")));
            }
        }
        Ok(())
    }
    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }
    pub fn contains(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_empty())
    }
    /// A boolean filter (`dangling=true`); an invalid value is dockerd's error.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        let vals = self.values(key);
        if vals.is_empty() {
            return Ok(None);
        }
        let mut result = None;
        for v in vals {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(ApiError::invalid(format!("invalid filter '{key}={v}'"))),
            };
            result = Some(result.unwrap_or(false) || b);
        }
        Ok(result)
    }
    /// `label=key` / `label=key=value` against a label map.
    pub fn match_labels(&self, key: &str, labels: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.values(key).iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels.get(k).and_then(|x| x.as_str()) == Some(v),
            None => labels.contains_key(f.as_str()),
        })
    }
}

/// `Content-Type: application/json` with the body.
pub fn json(value: &impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_both_forms() {
        let f = Filters::parse(r#"{"dangling":{"true":true},"label":["a=b","c"]}"#).unwrap();
        assert_eq!(f.values("dangling"), ["true"]);
        assert_eq!(f.values("label"), ["a=b", "c"]);
        assert_eq!(f.bool("dangling").unwrap(), Some(true));
        assert!(f.validate(&["dangling", "label"]).is_ok());
        assert_eq!(
            f.validate(&["dangling"]).unwrap_err().message,
            "invalid filter 'label'"
        );
        let mut labels = serde_json::Map::new();
        labels.insert("a".into(), "b".into());
        labels.insert("c".into(), "".into());
        assert!(f.match_labels("label", &labels));
        labels.insert("a".into(), "x".into());
        assert!(!f.match_labels("label", &labels));
        assert!(Filters::parse("[]").is_err());
        let bad = Filters::parse(r#"{"dangling":["maybe"]}"#).unwrap();
        assert!(bad.bool("dangling").is_err());
    }

    #[test]
    fn query_repeats_and_bools() {
        let uri: axum::http::Uri = "/images/get?names=a&names=b%3A1&force=1&q=False".parse().unwrap();
        let q = Query::from_uri(&uri);
        assert_eq!(q.all("names"), ["a", "b:1"]);
        assert!(q.bool("force"));
        assert!(!q.bool("q"));
        assert!(!q.bool("absent"));
    }
}
