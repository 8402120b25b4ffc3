//! `/images/...`: list, inspect, history, tag, remove, prune, pull, push, save, load, import, and
//! berth's bootstrap.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use berth_image::manifest::Platform;
use berth_image::reference::parse_normalized_named;

use super::progress::stream_response;
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
        (Method::GET, "get") => save(d.clone(), vec![name.to_string()]).await,
        (Method::POST, "push") => Ok(push(d.clone(), name.to_string(), q, req.headers()).await),
        (Method::POST, "tag") => {
            let repo = q.get("repo").unwrap_or("");
            let tag = q.get("tag").unwrap_or("");
            d.images.tag(name, repo, tag)?;
            Ok(StatusCode::CREATED.into_response())
        }
        (m, _) => Err(ApiError::not_found(format!("page not found: {m} {path}"))),
    }
}

/// The credentials of `X-Registry-Auth`, if any.
fn registry_auth(headers: &axum::http::HeaderMap) -> Result<Option<berth_registry::Credentials>> {
    let Some(h) = headers.get("X-Registry-Auth") else {
        return Ok(None);
    };
    let h = h
        .to_str()
        .map_err(|_| ApiError::invalid("invalid X-Registry-Auth header"))?;
    if h.is_empty() || h == "e30=" || h == "e30" || h == "{}" {
        return Ok(None);
    }
    let creds = berth_registry::decode_auth_header(h)
        .map_err(|e| ApiError::invalid(format!("invalid X-Registry-Auth header: {e}")))?;
    Ok((!creds.is_empty()).then_some(creds))
}

fn platform_param(q: &Query) -> Result<Platform> {
    match q.get("platform") {
        None | Some("") => Ok(Platform::host()),
        Some(s) => Platform::parse(s).map_err(|e| ApiError::invalid(e.to_string())),
    }
}

/// `POST /images/create`: a pull (`fromImage`) or an import (`fromSrc`).
pub async fn create(State(d): D, q: Query, req: Request) -> Response {
    if q.get("fromSrc").is_some() {
        return import(d, q, req).await;
    }
    let prepared = (|| {
        let from = q.get("fromImage").unwrap_or("");
        if from.is_empty() {
            return Err(ApiError::invalid("fromImage or fromSrc is required"));
        }
        let mut r = parse_normalized_named(from)?;
        match q.get("tag") {
            Some(t) if !t.is_empty() => {
                if t.contains(':') {
                    let digest = berth_image::digest::Digest::parse(t)
                        .map_err(|e| ApiError::invalid(e.to_string()))?;
                    r = r.with_digest(digest);
                } else {
                    r = r.with_tag(t).map_err(|e| ApiError::invalid(e.to_string()))?;
                }
            }
            _ => {}
        }
        // A name alone (no tag in fromImage, none in `tag`) pulls every tag, as dockerd does.
        Ok((r, platform_param(&q)?, registry_auth(req.headers())?))
    })();
    let (r, platform, creds) = match prepared {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let images = d.images.clone();
    stream_response(move |p| async move {
        if r.is_name_only() {
            images.pull_all_tags(&r, &platform, creds, &p).await
        } else {
            images.pull(&r, &platform, creds, &p).await.map(|_| ())
        }
    })
    .await
}

/// `POST /images/{name}/push?tag=`.
async fn push(d: Arc<Daemon>, name: String, q: Query, headers: &axum::http::HeaderMap) -> Response {
    let creds = match registry_auth(headers) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let tag = q.get("tag").unwrap_or("").to_string();
    let images = d.images.clone();
    stream_response(move |p| async move { images.push(&name, &tag, creds, &p).await }).await
}

/// `POST /auth`: checks credentials against a registry.
pub async fn auth(State(d): D, body: axum::body::Bytes) -> Result<Response> {
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let creds = berth_registry::Credentials {
        username: s("username"),
        password: s("password"),
        identity_token: s("identitytoken"),
        registry_token: s("registrytoken"),
    };
    let server = match s("serveraddress") {
        a if a.is_empty() => "https://index.docker.io/v1/".to_string(),
        a => a,
    };
    let token = d.images.registry.login(&server, &creds).await.map_err(|e| {
        if e.is_unauthorized() {
            ApiError::new(crate::error::Kind::Unauthorized, e.to_string())
        } else {
            crate::images::registry_error(e)
        }
    })?;
    Ok(json(&serde_json::json!({
        "Status": "Login Succeeded",
        "IdentityToken": token.unwrap_or_default(),
    })))
}

/// A request body as a blocking `Read` (for the archive readers, which run on blocking threads).
struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    buf: bytes::Bytes,
}

fn body_reader(body: axum::body::Body) -> BodyReader {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut s = body.into_data_stream();
        while let Some(frame) = s.next().await {
            if tx.send(frame.map_err(std::io::Error::other)).await.is_err() {
                break;
            }
        }
    });
    BodyReader {
        rx,
        buf: bytes::Bytes::new(),
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=`.
async fn import(d: Arc<Daemon>, q: Query, req: Request) -> Response {
    let prepared = (|| {
        let src = q.get("fromSrc").unwrap_or("-");
        if src != "-" {
            return Err(ApiError::invalid(format!(
                "importing from {src}: berthd imports from the request body only (fromSrc=-); download the tarball and send it"
            )));
        }
        let platform = match q.get("platform") {
            None | Some("") => None,
            Some(_) => Some(platform_param(&q)?),
        };
        let tag = match q.get("repo") {
            None | Some("") => None,
            Some(repo) => {
                let mut r = parse_normalized_named(repo)?;
                if let Some(t) = q.get("tag").filter(|t| !t.is_empty()) {
                    r = r.with_tag(t).map_err(|e| ApiError::invalid(e.to_string()))?;
                }
                Some(r.with_default_tag())
            }
        };
        let opts = berth_image::archive::ImportOptions {
            changes: q.all("changes"),
            message: q.get("message").unwrap_or("").to_string(),
            source: Some(src.to_string()),
            platform,
            created: None,
        };
        Ok((opts, tag))
    })();
    let (opts, tag) = match prepared {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let body = body_reader(req.into_body());
    let images = d.images.clone();
    stream_response(move |p| async move { images.import(body, opts, tag, &p).await.map(|_| ()) }).await
}

/// `POST /images/load?quiet=`.
pub async fn load(State(d): D, q: Query, req: Request) -> Response {
    let body = body_reader(req.into_body());
    let images = d.images.clone();
    let quiet = q.bool("quiet");
    stream_response(move |p| async move { images.load(body, &p.quiet(quiet)).await }).await
}

/// `GET /images/get?names=a&names=b`.
pub async fn save_many(State(d): D, q: Query) -> Result<Response> {
    save(d, q.all("names")).await
}

async fn save(d: Arc<Daemon>, names: Vec<String>) -> Result<Response> {
    if names.is_empty() {
        return Err(ApiError::invalid("no image names given"));
    }
    let plan = d.images.save_plan(&names)?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let images = d.images.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = crate::util::ChannelWriter::new(tx);
        let r = images
            .save(&plan, &mut w)
            .and_then(|()| std::io::Write::flush(&mut w).map_err(ApiError::from));
        if let Err(e) = r {
            w.fail(std::io::Error::other(e.message));
        }
    });
    let mut resp =
        axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        "application/x-tar".parse().expect("static"),
    );
    Ok(resp)
}

/// `POST /berth/v1/images/bootstrap?source=busybox|debian&suite=&mirror=&busybox=&tag=`.
pub async fn bootstrap(State(d): D, q: Query) -> Response {
    use crate::images::archive::BootstrapSource;
    let prepared = (|| {
        let (source, default_tag) = match q.get("source").unwrap_or("") {
            "busybox" => (
                BootstrapSource::Busybox {
                    path: q
                        .get("busybox")
                        .filter(|p| !p.is_empty())
                        .unwrap_or("/bin/busybox")
                        .into(),
                },
                "busybox:latest".to_string(),
            ),
            "debian" => {
                let suite = q
                    .get("suite")
                    .filter(|s| !s.is_empty())
                    .unwrap_or("bookworm")
                    .to_string();
                let tag = format!("debian:{suite}");
                (
                    BootstrapSource::Debian {
                        suite,
                        mirror: q.get("mirror").filter(|m| !m.is_empty()).map(str::to_string),
                    },
                    tag,
                )
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown bootstrap source `{other}`: choose busybox or debian"
                )))
            }
        };
        let tag = q
            .get("tag")
            .filter(|t| !t.is_empty())
            .unwrap_or(&default_tag)
            .to_string();
        let tag = parse_normalized_named(&tag)?.with_default_tag();
        Ok((source, tag))
    })();
    let (source, tag) = match prepared {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let images = d.images.clone();
    stream_response(move |p| async move { images.bootstrap(source, tag, &p).await.map(|_| ()) }).await
}
