//! `/containers/...`: create, list, inspect, start, stop, restart, kill, wait, pause, rename,
//! resize, attach (hijacked), logs, remove, prune.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bollard_stubs::models::{ContainerConfig, HostConfig};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{json, ApiVersion, Query};
use crate::containers::logs::LogOptions;
use crate::containers::Container;
use crate::error::{ApiError, Result};
use crate::util::{now_nanos, parse_timestamp};
use crate::Daemon;

type D = State<Arc<Daemon>>;

#[derive(Debug, Deserialize)]
struct CreateBody {
    #[serde(flatten)]
    config: ContainerConfig,
    #[serde(rename = "HostConfig", default)]
    host: Option<HostConfig>,
}

pub async fn create(State(d): D, q: Query, body: Bytes) -> Result<Response> {
    if body.is_empty() {
        return Err(ApiError::invalid(
            "config cannot be empty in order to create a container",
        ));
    }
    let b: CreateBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    let (id, warnings) = d
        .containers
        .create(q.get("name"), b.config, b.host.unwrap_or_default())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

pub async fn list(State(d): D, q: Query) -> Result<Response> {
    let filters = q.filters()?;
    let mut limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    if q.bool("latest") || q.bool("last") {
        limit = Some(1);
    }
    let all = q.bool("all");
    let size = q.bool("size");
    let d2 = d.clone();
    let rows = tokio::task::spawn_blocking(move || d2.containers.list(all, limit, size, &filters)).await??;
    Ok(json(&rows))
}

fn get(d: &Daemon, id: &str) -> Result<Arc<Container>> {
    d.containers.get(id)
}

pub async fn inspect(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    Ok(json(&d.containers.inspect(&c, q.bool("size"))?))
}

pub async fn start(State(d): D, Path(id): Path<String>) -> Result<Response> {
    let c = get(&d, &id)?;
    match d.containers.start(&c).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) if e.kind == crate::error::Kind::NotModified => Ok(StatusCode::NOT_MODIFIED.into_response()),
        Err(e) => Err(e),
    }
}

fn timeout(q: &Query) -> Result<Option<i64>> {
    match q.get("t").or_else(|| q.get("timeout")) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("invalid value for t: {t}"))),
    }
}

pub async fn stop(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    match d
        .containers
        .stop(&c, timeout(&q)?, q.get("signal").filter(|s| !s.is_empty()))
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) if e.kind == crate::error::Kind::NotModified => Ok(StatusCode::NOT_MODIFIED.into_response()),
        Err(e) => Err(e),
    }
}

pub async fn restart(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    d.containers
        .restart(&c, timeout(&q)?, q.get("signal").filter(|s| !s.is_empty()))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn kill(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    d.containers
        .kill(&c, q.get("signal").filter(|s| !s.is_empty()))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn pause(State(d): D, Path(id): Path<String>) -> Result<Response> {
    let c = get(&d, &id)?;
    d.containers.pause(&c, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unpause(State(d): D, Path(id): Path<String>) -> Result<Response> {
    let c = get(&d, &id)?;
    d.containers.pause(&c, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rename(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    d.containers.rename(&c, q.get("name").unwrap_or(""))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn resize(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    let num = |k: &str| -> Result<u32> {
        q.get(k)
            .unwrap_or("0")
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid value for {k}")))
    };
    d.containers.resize(&c, num("h")?, num("w")?).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn remove(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    if q.bool("link") {
        return Err(ApiError::invalid("berth has no container links"));
    }
    d.containers.remove(&c, q.bool("force"), q.bool("v")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /containers/{id}/wait`: the headers go out at once and the body when the condition
/// holds, as dockerd does (clients call it before `start`).
pub async fn wait(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    let condition = q.get("condition").unwrap_or("not-running").to_string();
    if !["not-running", "next-exit", "removed", ""].contains(&condition.as_str()) {
        return Err(ApiError::invalid(format!("invalid condition: \"{condition}\"")));
    }
    let mark = d.containers.wait_begin(&c);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    tokio::spawn(async move {
        let body = match d.containers.wait(&c, &condition, mark).await {
            Ok((code, err)) => {
                let e = err
                    .map(|m| json!({"Message": m}))
                    .unwrap_or(serde_json::Value::Null);
                json!({"StatusCode": code, "Error": e})
            }
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.message}}),
        };
        let mut line = serde_json::to_vec(&body).unwrap_or_default();
        line.push(b'\n');
        let _ = tx.send(Ok(Bytes::from(line))).await;
    });
    let mut resp = Response::new(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

pub async fn logs(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    let (stdout, stderr) = (q.bool("stdout"), q.bool("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tty = c.lock().config.tty.unwrap_or(false);
    let now = now_nanos();
    let time = |k: &str| -> Result<i64> {
        match q.get(k) {
            None | Some("") | Some("0") => Ok(0),
            Some(v) => parse_timestamp(v, now)
                .ok_or_else(|| ApiError::invalid(format!("invalid value for \"{k}\": {v}"))),
        }
    };
    let tail = match q.get("tail") {
        None | Some("") | Some("all") => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("invalid value for \"tail\": {t}")))?
                .max(0) as usize,
        ),
    };
    let o = LogOptions {
        stdout,
        stderr,
        follow: q.bool("follow"),
        timestamps: q.bool("timestamps"),
        tail,
        since: time("since")?,
        until: time("until")?,
        multiplexed: !tty,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let engine = d.containers.clone();
    tokio::spawn(async move { engine.logs(c, o, tx).await });
    let ct = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut resp = Response::new(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

/// `POST /containers/{id}/attach`: the connection is upgraded (hijacked) and carries the
/// container's output one way and its stdin the other.
pub async fn attach(
    State(d): D,
    Path(id): Path<String>,
    q: Query,
    v: ApiVersion,
    mut req: Request,
) -> Result<Response> {
    let c = get(&d, &id)?;
    if !q.bool("stream") && !q.bool("logs") {
        return Err(ApiError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let (stdin, stdout, stderr) = (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"));
    let tty = c.lock().config.tty.unwrap_or(false);
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case("tcp"));
    if !upgrade {
        return Err(ApiError::invalid(
            "attach needs an upgraded connection (Connection: Upgrade, Upgrade: tcp)",
        ));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let wait = d.containers.attach_begin(&c, stdin, stdout, stderr);
    let engine = d.containers.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let client = hyper_util::rt::TokioIo::new(upgraded);
        match engine.attach_finish(&c, wait, stdin, stdout, stderr).await {
            Ok(shim) => bridge(client, shim, stdin).await,
            Err(e) => {
                let mut client = client;
                let msg = format!("{}\n", e.message);
                let out = if tty {
                    msg.into_bytes()
                } else {
                    crate::containers::logs::frame(2, msg.as_bytes())
                };
                let _ = client.write_all(&out).await;
                let _ = client.shutdown().await;
            }
        }
    });
    let ct = if tty || !v.at_least(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

/// Copies the shim's output to the client until it ends, and the client's bytes to the shim's
/// stdin (its end of input closes the container's stdin, with `StdinOnce`).
pub async fn bridge<C>(client: C, shim: tokio::net::UnixStream, stdin: bool)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = shim.into_split();
    let input = tokio::spawn(async move {
        if !stdin {
            // Drain (and ignore) what the client sends, so its writes do not block.
            let mut buf = [0u8; 4096];
            while let Ok(n) = cr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            return;
        }
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let _ = tokio::io::copy(&mut sr, &mut cw).await;
    let _ = cw.flush().await;
    let _ = cw.shutdown().await;
    input.abort();
}

pub async fn prune(State(d): D, q: Query) -> Result<Response> {
    let filters = q.filters()?;
    filters.validate(&["until", "label", "label!"])?;
    let now = now_nanos();
    let until = match filters.values("until").first() {
        Some(u) => Some(
            parse_timestamp(u, now)
                .ok_or_else(|| ApiError::invalid(format!("invalid filter 'until={u}'")))?,
        ),
        None => None,
    };
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for c in d.containers.all() {
        let st = c.state();
        if st.status.is_live() || st.status == crate::containers::Status::Removing {
            continue;
        }
        if until.is_some_and(|u| c.created >= u) {
            continue;
        }
        if filters.contains("label") {
            let labels: serde_json::Map<String, serde_json::Value> = c
                .lock()
                .config
                .labels
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            if !filters.match_labels("label", &labels) {
                continue;
            }
        }
        let size = crate::containers::inspect::dir_size(&d.containers.dir(&c.id).join("diff"));
        if d.containers.remove(&c, false, false).await.is_ok() {
            reclaimed += size;
            deleted.push(c.id.clone());
        }
    }
    d.events
        .emit("container", "prune", "", &[("reclaimed", &reclaimed.to_string())]);
    Ok(json(
        &json!({"ContainersDeleted": if deleted.is_empty() { serde_json::Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed}),
    ))
}

pub async fn exec_create(State(d): D, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let c = get(&d, &id)?;
    let config: crate::containers::exec::ExecConfig =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    let id = d.containers.exec_create(&c, config)?;
    Ok((StatusCode::CREATED, axum::Json(json!({"Id": id}))).into_response())
}

pub async fn exec_inspect(State(d): D, Path(id): Path<String>) -> Result<Response> {
    let e = d.containers.execs.get(&id)?;
    Ok(json(&d.containers.exec_inspect(&e)))
}

pub async fn exec_resize(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let e = d.containers.execs.get(&id)?;
    let num = |k: &str| -> Result<u16> {
        q.get(k)
            .unwrap_or("0")
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid value for {k}")))
    };
    d.containers.exec_resize(&e, num("h")?, num("w")?)?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ExecStartBody {
    detach: bool,
    tty: bool,
}

/// `POST /exec/{id}/start`: detached, it answers at once; attached, the connection is upgraded
/// and carries the process's stdio until it ends.
pub async fn exec_start(
    State(d): D,
    Path(id): Path<String>,
    v: ApiVersion,
    mut req: Request,
) -> Result<Response> {
    let e = d.containers.execs.get(&id)?;
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case("tcp"));
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| ApiError::invalid(format!("cannot read the body: {e}")))?;
    let b: ExecStartBody = if body.is_empty() {
        ExecStartBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?
    };
    let engine = d.containers.clone();
    if b.detach {
        tokio::spawn(async move {
            let _ = engine.exec_start::<tokio::net::UnixStream>(e, None).await;
        });
        return Ok(StatusCode::OK.into_response());
    }
    let Some(on_upgrade) = on_upgrade else {
        return Err(ApiError::invalid(
            "exec start needs an upgraded connection (Connection: Upgrade, Upgrade: tcp) or Detach",
        ));
    };
    let tty = e.config.tty || b.tty;
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let client = hyper_util::rt::TokioIo::new(upgraded);
        let _ = engine.exec_start(e, Some(client)).await;
    });
    let ct = if tty || !v.at_least(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

pub async fn update(State(d): D, Path(id): Path<String>, body: Bytes) -> Result<Response> {
    let c = get(&d, &id)?;
    let u: HostConfig =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    let warnings = d.containers.update(&c, u).await?;
    Ok(json(&json!({"Warnings": warnings})))
}

pub async fn top(State(d): D, Path(id): Path<String>, q: Query) -> Result<Response> {
    let c = get(&d, &id)?;
    Ok(json(&d.containers.top(&c, q.get("ps_args").unwrap_or("")).await?))
}

pub async fn volume_list(State(d): D, q: Query) -> Result<Response> {
    let filters = q.filters()?;
    let v = d.containers.volume_list(&filters)?;
    Ok(json(&json!({"Volumes": v, "Warnings": null})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct VolumeCreateBody {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<serde_json::Value>,
    labels: Option<serde_json::Value>,
}

pub async fn volume_create(State(d): D, body: Bytes) -> Result<Response> {
    let b: VolumeCreateBody = if body.is_empty() {
        VolumeCreateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?
    };
    if let Some(drv) = b.driver.as_deref().filter(|d| !d.is_empty() && *d != "local") {
        return Err(ApiError::not_found(format!("plugin \"{drv}\" not found")));
    }
    let labels = b.labels.unwrap_or_else(|| json!({}));
    let opts = b.driver_opts.unwrap_or(serde_json::Value::Null);
    let v = d.containers.volume_create(b.name.as_deref(), labels, opts)?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

pub async fn volume_inspect(State(d): D, Path(name): Path<String>) -> Result<Response> {
    Ok(json(&d.containers.volume_inspect(&name)?))
}

pub async fn volume_remove(State(d): D, Path(name): Path<String>, q: Query) -> Result<Response> {
    d.containers.volume_remove(&name, q.bool("force"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn volume_prune(State(d): D, q: Query) -> Result<Response> {
    let filters = q.filters()?;
    Ok(json(&d.containers.volume_prune(&filters)?))
}
