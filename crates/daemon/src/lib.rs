#![recursion_limit = "256"]
//! berthd: owns berth's state and serves the Docker Engine API.
//!
//! The wiring is explicit: [`Daemon::open`] opens the state database, the content store and the
//! layer store, repairs what a crash left, and builds the services; [`serve`] runs the API on the
//! configured sockets until SIGTERM or SIGINT.

pub mod api;
pub mod config;
pub mod containers;
pub mod error;
pub mod events;
pub mod images;
pub mod log;
pub mod util;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::containers::Containers;
use crate::events::Events;
use crate::images::Images;

/// Everything the API handlers reach.
#[derive(Debug)]
pub struct Daemon {
    pub config: Config,
    /// A stable identity of this daemon's data root (Docker's engine ID).
    pub id: String,
    pub images: Arc<Images>,
    pub containers: Arc<Containers>,
    pub events: Arc<Events>,
    pub started_at: i64,
}

impl Daemon {
    /// Opens (or creates) the data root and brings it to a consistent state.
    pub fn open(config: Config) -> anyhow::Result<Daemon> {
        let root = &config.data_root;
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data root {}", root.display()))?;
        std::fs::create_dir_all(&config.exec_root)
            .with_context(|| format!("cannot create exec root {}", config.exec_root.display()))?;
        let id = engine_id(root)?;
        let events = Arc::new(Events::default());
        let images = Arc::new(Images::open(&config, events.clone())?);
        images.repair().context("cannot repair the image store")?;
        let containers = Arc::new(
            Containers::open(&config, images.clone(), events.clone())
                .context("cannot open the container store")?,
        );
        Ok(Daemon {
            config,
            id,
            images,
            containers,
            events,
            started_at: util::now_nanos(),
        })
    }
}

/// The engine ID: made once, kept in `<data-root>/engine-id`.
fn engine_id(root: &Path) -> anyhow::Result<String> {
    let path = root.join("engine-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let h = util::random_hex(16);
            let id = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            util::write_atomic(&path, id.as_bytes(), 0o644)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(id)
        }
    }
}

/// Serves the API on a unix socket until `shutdown` resolves; in-flight requests are allowed to
/// finish.
pub async fn serve_unix(
    daemon: Arc<Daemon>,
    listener: tokio::net::UnixListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = api::router(daemon);
    let svc = tower::service_fn(move |req: axum::extract::Request| api::handle(router.clone(), req));
    axum::serve(listener, tower::make::Shared::new(svc))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the API on TCP (no TLS) until `shutdown` resolves.
pub async fn serve_tcp(
    daemon: Arc<Daemon>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = api::router(daemon);
    let svc = tower::service_fn(move |req: axum::extract::Request| api::handle(router.clone(), req));
    axum::serve(listener, tower::make::Shared::new(svc))
        .with_graceful_shutdown(shutdown)
        .await
}
