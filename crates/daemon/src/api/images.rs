//! `/images/...`: list, inspect, history, tag, remove, prune, pull, push, save, load, import, and
//! berth's bootstrap.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{json, ApiVersion, Query};
use crate::error::{ApiError, Result};
use crate::Daemon;

type D = State<Arc<Daemon>>;

pub async fn list(State(d): D, q: Query, v: ApiVersion) -> Result<Response> {
    let filters = q.filters()?;
    let images = d.images.list(q.bool("all"), &filters, v)?;
    let images = if q.bool("digests") || v.at_least(1, 40) {
        images
    } else {
        images
            .into_iter()
            .map(|mut i| {
                i.as_object_mut().map(|o| o.remove("RepoDigests"));
                i
            })
            .collect()
    };
    Ok(json(&images))
}

pub async fn prune(State(d): D, q: Query) -> Result<Response> {
    let filters = q.filters()?;
    Ok(json(&d.images.prune(&filters).await?))
}

/// `/images/{name}/json|history|tag|push|get` and `DELETE /images/{name}`: names hold slashes,
/// so the operation is the last path segment, as dockerd's `{name:.*}` routes read them.
pub async fn by_name(State(d): D, q: Query, v: ApiVersion, req: Request) -> Result<Response> {
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/images/").unwrap_or("");
    let method = req.method().clone();
    if method == Method::DELETE {
        let name = rest;
        let out = d.images.remove(name, q.bool("force")).await?;
        return Ok(json(&out));
    }
    let (name, op) = rest
        .rsplit_once('/')
        .ok_or_else(|| ApiError::not_found(format!("page not found: {method} {path}")))?;
    match (method, op) {
        (Method::GET, "json") => {
            let img = d.images.lookup(name)?;
            Ok(json(&d.images.inspect(&img, v)?))
        }
        (Method::GET, "history") => {
            let img = d.images.lookup(name)?;
            Ok(json(&d.images.history(&img)?))
        }
        (Method::POST, "tag") => {
            let repo = q.get("repo").unwrap_or("");
            let tag = q.get("tag").unwrap_or("");
            d.images.tag(name, repo, tag)?;
            Ok(StatusCode::CREATED.into_response())
        }
        (m, _) => Err(ApiError::not_found(format!("page not found: {m} {path}"))),
    }
}
