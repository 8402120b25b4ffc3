//! berthd: the berth daemon.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use berthd::config::{self, Config};
use berthd::log::log;
use berthd::Daemon;

fn main() {
    berthd::util::limit_malloc_arenas();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("berthd version {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let flags = match config::parse_flags(&args) {
        Ok(Some(f)) => f,
        Ok(None) => {
            print!("{}", config::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("berthd: {e}");
            std::process::exit(125);
        }
    };
    let (cfg, later) = match config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berthd: {e}");
            std::process::exit(1);
        }
    };
    berthd::log::set_level(if cfg.debug { "debug" } else { &cfg.log_level });
    if let Err(e) = run(cfg, later) {
        eprintln!("berthd: {e:#}");
        std::process::exit(1);
    }
}

/// Takes the pidfile: refuses when the pid it names is a live berthd.
fn take_pidfile(path: &Path) -> anyhow::Result<()> {
    if let Ok(s) = std::fs::read_to_string(path) {
        if let Ok(pid) = s.trim().parse::<i32>() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if pid != std::process::id() as i32 && comm.trim() == "berthd" {
                bail!(
                    "pid file found, ensure berthd is not running or delete {} (pid {pid} is running)",
                    path.display()
                );
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    berthd::util::write_atomic(path, format!("{}", std::process::id()).as_bytes(), 0o644)
        .with_context(|| format!("cannot write pid file {}", path.display()))
}

enum Listener {
    Unix(tokio::net::UnixListener, PathBuf),
    Tcp(tokio::net::TcpListener),
}

/// Binds a unix socket (mode 0660), refusing to take over one a live daemon answers on.
fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another daemon is listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let l = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(l)
}

fn run(cfg: Config, later: Vec<String>) -> anyhow::Result<()> {
    // Two workers: the API is I/O; unpacking and hashing run on blocking threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        // Before anything can be seen from outside: a SIGTERM from then on is a graceful stop.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        take_pidfile(&cfg.pidfile)?;
        let mut listeners = Vec::new();
        for h in &cfg.hosts {
            if let Some(p) = h.strip_prefix("unix://") {
                let p = PathBuf::from(if p.is_empty() { config::DEFAULT_SOCKET } else { p });
                listeners.push(Listener::Unix(bind_unix(&p)?, p));
            } else if let Some(a) = h.strip_prefix("tcp://") {
                log(
                    "warn",
                    &format!(
                        "API listening on {a} without TLS: anyone who can reach it is root on this host"
                    ),
                );
                let l = tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot listen on {a}"))?;
                listeners.push(Listener::Tcp(l));
            } else {
                bail!("invalid host {h}: berthd listens on unix:///path or tcp://host:port");
            }
        }
        let pidfile = cfg.pidfile.clone();
        let root = cfg.data_root.clone();
        let daemon = Arc::new(
            tokio::task::spawn_blocking(move || Daemon::open(cfg))
                .await
                .context("startup task failed")??,
        );
        if !later.is_empty() {
            log(
                "warn",
                &format!("daemon.json keys accepted but not used yet: {}", later.join(", ")),
            );
        }
        tokio::spawn(daemon.images.clone().run_syncer());
        daemon.containers.clone().recover().await;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut sockets = Vec::new();
        for l in listeners {
            let d = daemon.clone();
            let mut rx = stop_rx.clone();
            let shutdown = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            match l {
                Listener::Unix(l, p) => {
                    log("info", &format!("API listen on {}", p.display()));
                    sockets.push(p);
                    tasks.push(tokio::spawn(berthd::serve_unix(d, l, shutdown)));
                }
                Listener::Tcp(l) => {
                    tasks.push(tokio::spawn(berthd::serve_tcp(d, l, shutdown)));
                }
            }
        }
        log(
            "info",
            &format!(
                "berthd {} started, data root {}",
                env!("CARGO_PKG_VERSION"),
                root.display()
            ),
        );
        tokio::select! {
            _ = term.recv() => log("info", "received SIGTERM, shutting down"),
            _ = int.recv() => log("info", "received SIGINT, shutting down"),
        }
        let _ = stop_tx.send(true);
        for t in tasks {
            // Streams that never end (events -f) must not hold the shutdown forever.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
        // A clean stop leaves every layer synced: nothing to extract again at the next start.
        if let Err(e) = daemon.images.sync_layers().await {
            log("error", &format!("cannot sync the layer store: {}", e.message));
        }
        for p in sockets {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_file(pidfile);
        log("info", "berthd stopped");
        Ok(())
    })
}
