//! The container engine: records, lifecycle, and the shims that keep containers running
//! (decision 0012).
//!
//! ```text
//! <data-root>/containers/<id>/    config.json (bundle), rootfs/ (overlay), diff/ + work/ (its
//!                                 writable layer), <id>-json.log, hostname, hosts, resolv.conf
//! <exec-root>/c/<id[..16]>/       shim.sock, state.json, pid (the shim's, lost at reboot)
//! <exec-root>/runtime/            the OCI runtime's state root
//! ```
//!
//! Every container is held in memory (`ps` reads no database) and written through to the
//! `containers` table at each change. Lifecycle operations on one container are serialized by
//! its `op` lock; state changes wake waiters through a watch channel.

pub mod exec;
pub mod humanize;
pub mod inspect;
pub mod logs;
pub mod names;
pub mod shim;
pub mod spec;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use bollard_stubs::models::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};

use berth_store::{ContainerRecord, Store};

use crate::config::Config;
use crate::error::{ApiError, Kind, Result};
use crate::events::Events;
use crate::images::Images;
use crate::util::{now_nanos, random_hex, write_atomic};

use self::shim::ShimState;

/// Docker's container states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
    /// A process of the container exists (running, paused, or between restarts).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

/// What the engine records of a container's run state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub status: Status,
    pub pid: u32,
    pub exit_code: i64,
    pub error: String,
    /// Unix nanoseconds; 0 = never.
    pub started_at: i64,
    pub finished_at: i64,
    pub oom_killed: bool,
    pub restart_count: u64,
    /// The last exit came from `stop`/`kill` through the API (`unless-stopped` stays down).
    pub manually_stopped: bool,
    /// The writable layer is mounted at `rootfs/`.
    pub mounted: bool,
}

/// A container in memory.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub created: i64,
    pub image_id: String,
    inner: Mutex<Inner>,
    /// Bumped at every state change.
    changed: tokio::sync::watch::Sender<u64>,
    /// Serializes start, stop, kill-and-wait, restart and remove.
    op: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
pub struct Inner {
    pub name: String,
    pub config: ContainerConfig,
    pub host: HostConfig,
    pub state: State,
    pub removed: bool,
    /// Exits seen since berthd started (`wait?condition=next-exit` counts them).
    pub exits: u64,
    /// Attach streams waiting for the container's start.
    pending: Vec<PendingAttach>,
}

#[derive(Debug)]
struct PendingAttach {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tx: tokio::sync::oneshot::Sender<Result<tokio::net::UnixStream>>,
}

impl Container {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn name(&self) -> String {
        self.lock().name.clone()
    }
    pub fn state(&self) -> State {
        self.lock().state.clone()
    }
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The engine.
#[derive(Debug)]
pub struct Containers {
    pub store: Arc<Store>,
    pub images: Arc<Images>,
    pub events: Arc<Events>,
    /// `<data-root>/containers`
    pub root: PathBuf,
    /// `<exec-root>/containers`
    pub run: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub shim: PathBuf,
    pub init: PathBuf,
    /// Containers' cgroups are `/<cgroup_parent>/<id>`.
    pub cgroup_parent: String,
    links: PathBuf,
    pub execs: exec::Execs,
    map: RwLock<HashMap<String, Arc<Container>>>,
}

/// A binary installed beside berthd (the build puts them all in one directory).
fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Docker's default stop timeout.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

impl Containers {
    pub fn open(config: &Config, images: Arc<Images>, events: Arc<Events>) -> anyhow::Result<Containers> {
        let root = config.data_root.join("containers");
        // Short: unix socket paths under it must stay within SUN_LEN (108 bytes).
        let run = config.exec_root.join("c");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(&run)?;
        let runtime_root = config.exec_root.join("runtime");
        std::fs::create_dir_all(&runtime_root)?;
        let env_path = |var: &str, name: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| sibling(name))
        };
        let c = Containers {
            store: images.store.clone(),
            links: config.data_root.join("l"),
            cgroup_parent: config.cgroup_parent.clone(),
            images,
            events,
            root,
            run,
            runtime: env_path("BERTH_RUNTIME", "berth-runtime"),
            runtime_root,
            shim: env_path("BERTH_SHIM", "berth-shim"),
            init: env_path("BERTH_INIT", "berth-init"),
            execs: exec::Execs::default(),
            map: RwLock::new(HashMap::new()),
        };
        for rec in c.store.containers()? {
            let config: ContainerConfig = serde_json::from_str(&rec.config)?;
            let host: HostConfig = serde_json::from_str(&rec.host_config)?;
            let state: State = serde_json::from_str(&rec.state).unwrap_or_default();
            let ctr = Arc::new(Container {
                id: rec.id.clone(),
                created: rec.created,
                image_id: rec.image_id,
                inner: Mutex::new(Inner {
                    name: rec.name,
                    config,
                    host,
                    state,
                    removed: false,
                    exits: 0,
                    pending: Vec::new(),
                }),
                changed: tokio::sync::watch::channel(0).0,
                op: tokio::sync::Mutex::new(()),
            });
            c.map_write().insert(rec.id, ctr);
        }
        Ok(c)
    }

    fn map_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Container>>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
    fn map_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Container>>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every container, oldest first.
    pub fn all(&self) -> Vec<Arc<Container>> {
        let mut v: Vec<_> = self.map_read().values().cloned().collect();
        v.sort_by_key(|c| (c.created, c.id.clone()));
        v
    }

    /// Finds a container as dockerd does: full ID, then exact name (with or without `/`), then
    /// a unique ID prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let key = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        if key.is_empty() {
            return Err(no_such(name_or_id));
        }
        let map = self.map_read();
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        if let Some(c) = map.values().find(|c| c.lock().name == key) {
            return Ok(c.clone());
        }
        let matches: Vec<_> = map.values().filter(|c| c.id.starts_with(key)).collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(no_such(name_or_id)),
            _ => Err(ApiError::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
    /// The runtime directory, named by the ID's first 16 hex digits (unique among containers:
    /// create never makes an ID sharing them) so that its socket paths stay short.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run.join(&id[..16.min(id.len())])
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join(format!("{id}-json.log"))
    }

    fn persist(&self, c: &Container, inner: &Inner) -> Result<()> {
        let state = serde_json::to_string(&inner.state).map_err(|e| ApiError::system(e.to_string()))?;
        self.store.set_container_state(&c.id, &state)?;
        Ok(())
    }

    fn persist_all(&self, c: &Container, inner: &Inner) -> Result<()> {
        self.store
            .update_container(&record(c, inner)?)
            .map_err(store_conflict)
    }

    fn emit(&self, c: &Container, action: &str, extra: &[(&str, &str)]) {
        let (name, image, labels) = {
            let i = c.lock();
            (
                i.name.clone(),
                i.config.image.clone().unwrap_or_default(),
                i.config.labels.clone().unwrap_or_default(),
            )
        };
        let mut attrs: Vec<(&str, &str)> = vec![("image", &image), ("name", &name)];
        for (k, v) in &labels {
            attrs.push((k, v));
        }
        attrs.extend_from_slice(extra);
        self.events.emit("container", action, &c.id, &attrs);
    }

    // ---- create ----

    /// `POST /containers/create`.
    pub async fn create(
        self: &Arc<Self>,
        name: Option<&str>,
        mut config: ContainerConfig,
        mut host: HostConfig,
    ) -> Result<(String, Vec<String>)> {
        let image_name = config
            .image
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::invalid("config cannot be empty in order to create a container"))?;
        let img = self.images.lookup(&image_name)?;
        let img_config = self.images.config(&img)?;
        check_host_config(&host)?;
        let warnings = spec::prepare_create(&mut config, &mut host)?;
        spec::merge_image_config(&mut config, &img_config);
        spec::check_command(&config)?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => Some(names::validate_name(n)?),
            None => None,
        };
        if host.network_mode.as_deref().unwrap_or("").is_empty() {
            host.network_mode = Some("default".into());
        }
        let id = loop {
            let id = random_hex(32);
            // Docker never makes an ID that reads as a number (it would look like a short one).
            if id[..12].bytes().all(|b| b.is_ascii_digit())
                || self.map_read().keys().any(|k| k[..16] == id[..16])
            {
                continue;
            }
            break id;
        };
        if config.hostname.as_deref().unwrap_or("").is_empty() {
            config.hostname = Some(id[..12].to_string());
        }
        let created = now_nanos();
        let dir = self.dir(&id);
        let files = {
            let dir = dir.clone();
            let hostname = config.hostname.clone().unwrap_or_default();
            let domain = config.domainname.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || make_files(&dir, &hostname, &domain))
        };
        files.await??;
        let mut retry = 0;
        let name = loop {
            let candidate = match &name {
                Some(n) => n.clone(),
                None => names::random_name(retry),
            };
            let inner = Inner {
                name: candidate.clone(),
                config: config.clone(),
                host: host.clone(),
                state: State::default(),
                removed: false,
                exits: 0,
                pending: Vec::new(),
            };
            let ctr = Container {
                id: id.clone(),
                created,
                image_id: img.id.clone(),
                inner: Mutex::new(inner),
                changed: tokio::sync::watch::channel(0).0,
                op: tokio::sync::Mutex::new(()),
            };
            // Name uniqueness: the map under its write lock, then the database's constraint.
            let mut map = self.map_write();
            let taken = map.values().any(|c| c.lock().name == candidate);
            if !taken {
                let rec = record(&ctr, &ctr.lock())?;
                match self.store.insert_container(&rec) {
                    Ok(()) => {
                        map.insert(id.clone(), Arc::new(ctr));
                        break candidate;
                    }
                    Err(berth_store::Error::Conflict(_)) => {}
                    Err(e) => {
                        drop(map);
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e.into());
                    }
                }
            }
            drop(map);
            if name.is_some() {
                let _ = std::fs::remove_dir_all(&dir);
                let holder = self.get(&candidate).map(|c| c.id.clone()).unwrap_or_default();
                return Err(ApiError::conflict(format!(
                    "Conflict. The container name \"/{candidate}\" is already in use by container \"{holder}\". \
                     You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            retry += 1;
        };
        let _ = name;
        let c = self.get(&id)?;
        self.emit(&c, "create", &[]);
        Ok((id, warnings))
    }

    // ---- start ----

    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        self.start_locked(c).await
    }

    async fn start_locked(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let (config, host, state) = {
            let i = c.lock();
            if i.removed {
                return Err(no_such(&c.id));
            }
            (i.config.clone(), i.host.clone(), i.state.clone())
        };
        match state.status {
            Status::Running | Status::Restarting => {
                return Err(ApiError::new(Kind::NotModified, "container already started"))
            }
            Status::Paused => {
                return Err(ApiError::conflict(
                    "cannot start a paused container, try unpause instead",
                ))
            }
            Status::Removing | Status::Dead => {
                return Err(ApiError::conflict(
                    "container is marked for removal and cannot be started",
                ))
            }
            _ => {}
        }
        let dir = self.dir(&c.id);
        let run_dir = self.run_dir(&c.id);
        // Mount the writable layer and write the bundle.
        let prep = {
            let this = self.clone();
            let c2 = c.clone();
            let config = config.clone();
            let host = host.clone();
            tokio::task::spawn_blocking(move || this.prepare_bundle(&c2, &config, &host))
        };
        let oom_file = prep.await??;
        {
            let mut i = c.lock();
            i.state.mounted = true;
        }
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir)?;
        let log = log_opts(&host, self.log_path(&c.id))?;
        let args = shim::SpawnArgs {
            shim: self.shim.clone(),
            id: c.id.clone(),
            bundle: dir.clone(),
            state_dir: run_dir.clone(),
            runtime: self.runtime.clone(),
            runtime_root: self.runtime_root.clone(),
            log,
            tty: config.tty.unwrap_or(false),
            stdin: config.open_stdin.unwrap_or(false),
            stdin_once: config.stdin_once.unwrap_or(false),
            restart: restart_arg(&host),
            oom_file,
        };
        let pid = match shim::spawn(&args).await {
            Ok(pid) => pid,
            Err(e) => {
                let code = if e.message.contains("executable file not found") {
                    127
                } else if e.message.contains("permission denied") {
                    126
                } else {
                    128
                };
                {
                    let mut i = c.lock();
                    i.state.error = e.message.clone();
                    i.state.exit_code = code;
                    i.state.status = if state.status == Status::Created {
                        Status::Created
                    } else {
                        Status::Exited
                    };
                    let _ = self.persist(c, &i);
                    // Attach streams waiting for this start end with the error.
                    for p in i.pending.drain(..) {
                        let _ = p.tx.send(Err(e.clone()));
                    }
                }
                let _ = self.unmount(c).await;
                // As moby: a container that was to remove itself goes when its start fails,
                // so that `run --rm` waiting for its removal ends.
                if host.auto_remove.unwrap_or(false) {
                    let _ = self.remove_locked(c, true).await;
                }
                return Err(e);
            }
        };
        // Attach streams that waited for the start get their shim connection before the
        // container's first instruction runs.
        let pending: Vec<PendingAttach> = std::mem::take(&mut c.lock().pending);
        for p in pending {
            let s = shim::attach(&run_dir, p.stdin, p.stdout, p.stderr).await;
            let _ = p.tx.send(s);
        }
        if let Err(e) = shim::request(&run_dir, "start").await {
            let _ = shim::request(&run_dir, "kill 9").await;
            {
                let mut i = c.lock();
                i.state.error = e.message.clone();
                let _ = self.persist(c, &i);
            }
            return Err(e);
        }
        {
            let mut i = c.lock();
            i.state.status = Status::Running;
            i.state.pid = pid;
            i.state.started_at = now_nanos();
            i.state.exit_code = 0;
            i.state.error.clear();
            i.state.oom_killed = false;
            i.state.manually_stopped = false;
            self.persist(c, &i)?;
        }
        c.notify();
        self.emit(c, "start", &[]);
        self.monitor(c.clone());
        Ok(())
    }

    /// Mounts the container's root filesystem and writes its OCI bundle. Returns the cgroup
    /// file the shim reads OOM kills from.
    fn prepare_bundle(
        &self,
        c: &Container,
        config: &ContainerConfig,
        host: &HostConfig,
    ) -> Result<Option<PathBuf>> {
        let dir = self.dir(&c.id);
        let rootfs = dir.join("rootfs");
        let img = self
            .images
            .store
            .image(&c.image_id)?
            .ok_or_else(|| ApiError::not_found(format!("No such image: {}", c.image_id)))?;
        if !is_mounted(&rootfs) {
            let diff = dir.join("diff");
            let work = dir.join("work");
            for d in [&rootfs, &diff, &work] {
                std::fs::create_dir_all(d)?;
            }
            let lowers: Vec<PathBuf> = img
                .layers
                .iter()
                .rev()
                .map(|l| self.images.layers.dir(&l.diff_id))
                .collect();
            if lowers.is_empty() {
                return Err(ApiError::system(format!("image {} has no layers", img.id)));
            }
            berth_image::snapshot::mount_overlay(
                &lowers,
                Some(berth_image::snapshot::Upper {
                    upper: &diff,
                    work: &work,
                }),
                &rootfs,
                &self.links,
                berth_image::snapshot::Method::Auto,
            )
            .map_err(|e| ApiError::system(format!("cannot mount the container's root filesystem: {e}")))?;
        }
        let user = spec::resolve_user(
            &rootfs,
            config.user.as_deref().unwrap_or(""),
            host.group_add.as_deref().unwrap_or(&[]),
        )?;
        let lookup = |name: &str| -> Result<u32> {
            let other = self.get(name)?;
            let st = other.state();
            if st.status != Status::Running || st.pid == 0 {
                return Err(ApiError::conflict(format!(
                    "cannot join namespaces of a non running container: container {} is not running",
                    other.id
                )));
            }
            Ok(st.pid)
        };
        let volume_path = |name: Option<&str>, dest: &str| -> Result<PathBuf> {
            // An anonymous volume is named once per (container, destination), so that it is the
            // same directory at every start.
            let n = name
                .map(str::to_string)
                .unwrap_or_else(|| anonymous_volume(&c.id, dest));
            let v = self.volume_create(Some(&n), serde_json::json!({}), serde_json::Value::Null)?;
            Ok(PathBuf::from(v["Mountpoint"].as_str().unwrap_or_default()))
        };
        let input = spec::SpecInput {
            id: &c.id,
            config,
            host,
            rootfs: &rootfs,
            hostname_file: &dir.join("hostname"),
            hosts_file: &dir.join("hosts"),
            resolv_file: &dir.join("resolv.conf"),
            cgroups_path: format!("/{}/{}", self.cgroup_parent, c.id),
            init_binary: if host.init.unwrap_or(false) {
                Some(&self.init)
            } else {
                None
            },
            container_pid: &lookup,
            volume_path: &volume_path,
            user,
        };
        let oci = spec::build(&input)?;
        let json = serde_json::to_vec_pretty(&oci).map_err(|e| ApiError::system(e.to_string()))?;
        write_atomic(&dir.join("config.json"), &json, 0o600)?;
        Ok(oom_file(&self.cgroup_parent, &c.id))
    }

    /// Follows a shim's state stream until it ends, mirroring each change.
    fn monitor(self: &Arc<Self>, c: Arc<Container>) {
        let this = self.clone();
        tokio::spawn(async move {
            let run_dir = this.run_dir(&c.id);
            let mut last: Option<ShimState> = None;
            match shim::EventStream::open(&run_dir).await {
                Ok(mut events) => {
                    while let Some(s) = events.next().await {
                        this.apply(&c, &s, last.as_ref());
                        last = Some(s);
                    }
                }
                Err(e) => crate::log::log(
                    "warn",
                    &format!("container {}: cannot follow its shim: {e}", c.id),
                ),
            }
            this.shim_gone(&c, last).await;
        });
    }

    /// A state line from a shim.
    fn apply(&self, c: &Container, s: &ShimState, last: Option<&ShimState>) {
        let mut die = None;
        let mut start = false;
        {
            let mut i = c.lock();
            if i.removed {
                return;
            }
            let st = &mut i.state;
            st.restart_count = s.restart_count;
            match s.status.as_str() {
                "running" => {
                    if st.status != Status::Running && st.status != Status::Paused {
                        start = last.is_some_and(|l| l.status != "running");
                    }
                    if st.status != Status::Paused {
                        st.status = Status::Running;
                    }
                    st.pid = s.pid;
                    if let Some(t) = crate::util::parse_rfc3339(&s.started_at) {
                        st.started_at = t;
                    }
                }
                "restarting" | "exited" => {
                    let was_live = st.status.is_live() || st.status == Status::Created;
                    let newly = last.is_none_or(|l| l.status == "running" || l.status == "created");
                    st.status = if s.status == "exited" {
                        Status::Exited
                    } else {
                        Status::Restarting
                    };
                    st.pid = 0;
                    st.exit_code = s.exit_code;
                    st.oom_killed = s.oom_killed;
                    if !s.error.is_empty() {
                        st.error = s.error.clone();
                    }
                    if let Some(t) = crate::util::parse_rfc3339(&s.finished_at) {
                        st.finished_at = t;
                    } else {
                        st.finished_at = now_nanos();
                    }
                    if s.stopped {
                        st.manually_stopped = true;
                    }
                    if was_live && newly {
                        die = Some((s.exit_code, s.oom_killed));
                    }
                    if newly {
                        i.exits += 1;
                    }
                }
                _ => {}
            }
            let _ = self.persist(c, &i);
        }
        c.notify();
        if let Some((code, oom)) = die {
            if oom {
                self.emit(c, "oom", &[]);
            }
            self.emit(c, "die", &[("exitCode", &code.to_string())]);
        }
        if start {
            self.emit(c, "start", &[]);
        }
    }

    /// The shim ended: the container is down for good (until started again).
    async fn shim_gone(self: &Arc<Self>, c: &Arc<Container>, last: Option<ShimState>) {
        let mut final_state = last.filter(|s| s.status == "exited");
        // The shim removes its socket just before it writes its final state: give that write a
        // moment when the stream ended (or never opened) without it.
        let state_file = self.run_dir(&c.id).join("state.json");
        for _ in 0..200 {
            if final_state.is_some() {
                break;
            }
            final_state = std::fs::read_to_string(&state_file)
                .ok()
                .and_then(|l| ShimState::parse(l.trim()).ok())
                .filter(|s| s.status == "exited");
            if final_state.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        match final_state {
            Some(s) => {
                let live = c.lock().state.status.is_live();
                if live {
                    self.apply(c, &s, None);
                }
            }
            None => {
                let mut i = c.lock();
                if i.state.status.is_live() {
                    i.state.status = Status::Exited;
                    i.state.exit_code = 255;
                    i.state.error = "the container's shim exited unexpectedly".into();
                    i.state.finished_at = now_nanos();
                    i.state.pid = 0;
                    i.exits += 1;
                    let _ = self.persist(c, &i);
                    drop(i);
                    c.notify();
                    self.emit(c, "die", &[("exitCode", "255")]);
                }
            }
        }
        let auto_remove = c.lock().host.auto_remove.unwrap_or(false);
        if auto_remove {
            let this = self.clone();
            let c = c.clone();
            let _op = c.op.lock().await;
            match this.remove_locked(&c, false).await {
                Ok(()) => this.remove_anonymous_volumes(&c.id),
                Err(e) => crate::log::log(
                    "error",
                    &format!("container {}: automatic removal failed: {e}", c.id),
                ),
            }
        } else {
            let _op = c.op.lock().await;
            if !c.lock().state.status.is_live() {
                let _ = self.unmount(c).await;
            }
        }
    }

    /// Unmounts the writable layer (the files stay).
    async fn unmount(&self, c: &Container) -> Result<()> {
        let rootfs = self.dir(&c.id).join("rootfs");
        tokio::task::spawn_blocking(move || unmount_path(&rootfs)).await??;
        let mut i = c.lock();
        if i.state.mounted {
            i.state.mounted = false;
            let _ = self.persist(c, &i);
        }
        Ok(())
    }

    // ---- signals, stop, wait ----

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, c: &Arc<Container>, signal: Option<&str>) -> Result<()> {
        let sig = parse_signal(signal.unwrap_or("KILL"))?;
        let st = c.state();
        if !st.status.is_live() {
            return Err(ApiError::conflict(format!("Container {} is not running", c.id)));
        }
        self.emit(c, "kill", &[("signal", &sig.to_string())]);
        shim::request(&self.run_dir(&c.id), &format!("stop {sig}")).await
    }

    /// Waits until the container is not live; `false` on timeout.
    pub async fn wait_down(&self, c: &Container, timeout: Option<Duration>) -> bool {
        let mut rx = c.subscribe();
        let fut = async {
            loop {
                let down = {
                    let i = c.lock();
                    !i.state.status.is_live() || i.removed
                };
                if down {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.is_ok(),
            None => {
                fut.await;
                true
            }
        }
    }

    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the grace period.
    pub async fn stop(&self, c: &Arc<Container>, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
        let _op = c.op.lock().await;
        self.stop_locked(c, timeout, signal).await
    }

    async fn stop_locked(
        &self,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let (st, stop_signal, stop_timeout) = {
            let i = c.lock();
            (
                i.state.clone(),
                i.config.stop_signal.clone(),
                i.config.stop_timeout,
            )
        };
        if !st.status.is_live() {
            return Err(ApiError::new(Kind::NotModified, "container already stopped"));
        }
        let run_dir = self.run_dir(&c.id);
        if st.status == Status::Paused {
            let _ = self.runtime_cmd(&["resume", &c.id]).await;
        }
        let sig = parse_signal(signal.or(stop_signal.as_deref()).unwrap_or("TERM"))?;
        let t = timeout.or(stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        self.emit(c, "kill", &[("signal", &sig.to_string())]);
        let _ = shim::request(&run_dir, &format!("stop {sig}")).await;
        let grace = if t < 0 {
            None
        } else {
            Some(Duration::from_secs(t as u64))
        };
        if !self.wait_down(c, grace).await {
            self.emit(c, "kill", &[("signal", "9")]);
            let _ = shim::request(&run_dir, "stop 9").await;
            self.wait_down(c, None).await;
        }
        self.emit(c, "stop", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        self: &Arc<Self>,
        c: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        let _op = c.op.lock().await;
        if c.state().status.is_live() {
            self.stop_locked(c, timeout, signal).await?;
            // Wait for the shim to be gone before the next one takes its socket.
            self.wait_shim_gone(c).await;
        }
        self.start_locked(c).await?;
        self.emit(c, "restart", &[]);
        Ok(())
    }

    async fn wait_shim_gone(&self, c: &Container) {
        let sock = shim::socket(&self.run_dir(&c.id));
        for _ in 0..200 {
            if !sock.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `POST /containers/{id}/wait`: the exit code once the condition holds. Call
    /// [`Containers::wait_begin`] first, before anything that may start the container.
    pub fn wait_begin(&self, c: &Container) -> WaitMark {
        let mut rx = c.subscribe();
        rx.mark_changed();
        WaitMark {
            rx,
            exits: c.lock().exits,
        }
    }

    pub async fn wait(
        &self,
        c: &Arc<Container>,
        condition: &str,
        mut mark: WaitMark,
    ) -> Result<(i64, Option<String>)> {
        loop {
            let (st, removed, exits) = {
                let i = c.lock();
                (i.state.clone(), i.removed, i.exits)
            };
            let done = match condition {
                "removed" => removed,
                "next-exit" => exits > mark.exits || removed,
                _ => !st.status.is_live(),
            };
            if done {
                let err = (!st.error.is_empty()).then(|| st.error.clone());
                return Ok((st.exit_code, err));
            }
            if mark.rx.changed().await.is_err() {
                let st = c.state();
                return Ok((st.exit_code, None));
            }
        }
    }

    // ---- pause ----

    pub async fn pause(&self, c: &Arc<Container>, pause: bool) -> Result<()> {
        let _op = c.op.lock().await;
        let st = c.state();
        if pause {
            match st.status {
                Status::Running => {}
                Status::Paused => {
                    return Err(ApiError::conflict(format!(
                        "container {} is already paused",
                        c.id
                    )))
                }
                _ => return Err(ApiError::conflict(format!("container {} is not running", c.id))),
            }
            self.runtime_cmd(&["pause", &c.id]).await?;
        } else {
            if st.status != Status::Paused {
                return Err(ApiError::conflict(format!("container {} is not paused", c.id)));
            }
            self.runtime_cmd(&["resume", &c.id]).await?;
        }
        {
            let mut i = c.lock();
            i.state.status = if pause { Status::Paused } else { Status::Running };
            self.persist(c, &i)?;
        }
        c.notify();
        self.emit(c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// Runs the OCI runtime with its state root; its stderr is the error.
    pub async fn runtime_cmd(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = tokio::process::Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.runtime_root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| ApiError::system(format!("cannot run {}: {e}", self.runtime.display())))?;
        if !out.status.success() {
            return Err(ApiError::system(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(out.stdout)
    }

    // ---- remove ----

    /// `DELETE /containers/{id}`.
    pub async fn remove(self: &Arc<Self>, c: &Arc<Container>, force: bool, volumes: bool) -> Result<()> {
        let _op = c.op.lock().await;
        self.remove_locked(c, force).await?;
        if volumes {
            self.remove_anonymous_volumes(&c.id);
        }
        Ok(())
    }

    /// `rm -v` and `--rm`: the container's anonymous volumes go with it.
    fn remove_anonymous_volumes(&self, id: &str) {
        let Ok(rd) = std::fs::read_dir(self.volumes_root()) else {
            return;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.len() == 64 && n.starts_with(&id[..48]) {
                let _ = self.volume_remove(&n, true);
            }
        }
    }

    async fn remove_locked(self: &Arc<Self>, c: &Arc<Container>, force: bool) -> Result<()> {
        if c.lock().removed {
            return Ok(());
        }
        let st = c.state();
        if st.status.is_live() {
            if !force {
                let name = c.name();
                let what = if st.status == Status::Paused {
                    "container is paused and must be unpaused first"
                } else if st.status == Status::Restarting {
                    "container is restarting: stop the container before removing or force remove"
                } else {
                    "container is running: stop the container before removing or force remove"
                };
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"/{name}\": {what}"
                )));
            }
            if st.status == Status::Paused {
                let _ = self.runtime_cmd(&["resume", &c.id]).await;
            }
            let _ = shim::request(&self.run_dir(&c.id), "stop 9").await;
            if !self.wait_down(c, Some(Duration::from_secs(30))).await {
                return Err(ApiError::system(format!(
                    "could not kill container {}: it did not exit in 30 s",
                    c.id
                )));
            }
            self.wait_shim_gone(c).await;
        }
        {
            let mut i = c.lock();
            i.state.status = Status::Removing;
        }
        let dir = self.dir(&c.id);
        let run_dir = self.run_dir(&c.id);
        let id = c.id.clone();
        let runtime = self.runtime.clone();
        let runtime_root = self.runtime_root.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            // A container the shim could not delete (it was killed) is deleted here.
            if runtime_root.join(&id).exists() {
                let _ = std::process::Command::new(&runtime)
                    .arg("--root")
                    .arg(&runtime_root)
                    .args(["delete", "--force", &id])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            unmount_path(&dir.join("rootfs"))?;
            remove_tree(&dir)?;
            let _ = std::fs::remove_dir_all(&run_dir);
            Ok(())
        })
        .await??;
        self.store.delete_container(&c.id)?;
        self.map_write().remove(&c.id);
        self.execs.forget_container(&c.id);
        {
            let mut i = c.lock();
            i.removed = true;
            for p in i.pending.drain(..) {
                let _ = p.tx.send(Err(no_such(&c.id)));
            }
        }
        c.notify();
        self.emit(c, "destroy", &[]);
        Ok(())
    }

    // ---- attach, resize ----

    /// Registers an attach: at once when the container runs, else at its next start. Call it
    /// before answering the request, so that a `start` that follows finds it.
    pub fn attach_begin(&self, c: &Container, stdin: bool, stdout: bool, stderr: bool) -> AttachWait {
        let mut i = c.lock();
        if i.state.status.is_live() {
            AttachWait::Now
        } else {
            let (tx, rx) = tokio::sync::oneshot::channel();
            i.pending.push(PendingAttach {
                stdin,
                stdout,
                stderr,
                tx,
            });
            AttachWait::Later(rx)
        }
    }

    pub async fn attach_finish(
        &self,
        c: &Container,
        w: AttachWait,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<tokio::net::UnixStream> {
        match w {
            AttachWait::Now => shim::attach(&self.run_dir(&c.id), stdin, stdout, stderr).await,
            AttachWait::Later(rx) => rx
                .await
                .map_err(|_| ApiError::system("the container was not started"))?,
        }
    }

    pub async fn resize(&self, c: &Arc<Container>, h: u32, w: u32) -> Result<()> {
        if !c.state().status.is_live() {
            return Err(ApiError::conflict(format!("Container {} is not running", c.id)));
        }
        shim::request(&self.run_dir(&c.id), &format!("resize {h} {w}")).await
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename(&self, c: &Arc<Container>, new: &str) -> Result<()> {
        let new = names::validate_name(new)?;
        let map = self.map_write();
        let old = c.name();
        if old == new {
            return Err(ApiError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        if let Some(other) = map.values().find(|o| o.lock().name == new) {
            return Err(ApiError::conflict(format!(
                "Conflict. The container name \"/{new}\" is already in use by container \"{}\". \
                 You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let mut i = c.lock();
        i.name = new.clone();
        if let Err(e) = self.persist_all(c, &i) {
            i.name = old;
            return Err(e);
        }
        drop(i);
        drop(map);
        self.emit(c, "rename", &[("oldName", &format!("/{old}"))]);
        Ok(())
    }

    // ---- update, top ----

    /// `POST /containers/{id}/update`: resources and the restart policy, applied live.
    pub async fn update(&self, c: &Arc<Container>, u: HostConfig) -> Result<Vec<String>> {
        let _op = c.op.lock().await;
        let mut host = c.lock().host.clone();
        macro_rules! take {
            ($($f:ident),*) => { $( if u.$f.is_some() { host.$f = u.$f.clone(); } )* };
        }
        take!(
            cpu_shares,
            memory,
            memory_swap,
            memory_reservation,
            nano_cpus,
            cpu_period,
            cpu_quota,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight,
            restart_policy
        );
        if u.nano_cpus.unwrap_or(0) > 0
            && (u.cpu_quota.unwrap_or(0) > 0 || host.cpu_quota.unwrap_or(0) > 0)
            && u.cpu_quota.is_none()
        {
            host.cpu_quota = None;
            host.cpu_period = None;
        }
        if u.nano_cpus.unwrap_or(0) > 0 && u.cpu_quota.unwrap_or(0) > 0 {
            return Err(ApiError::invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if let (Some(m), Some(s)) = (host.memory, host.memory_swap) {
            if m > 0 && s > 0 && s < m {
                return Err(ApiError::invalid(
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
        }
        if u.memory.unwrap_or(0) > 0 && u.memory_swap.is_none() {
            // dockerd keeps swap in step when only memory changes and swap was the default.
            let old = c.lock().host.clone();
            if old.memory_swap.unwrap_or(0) == 2 * old.memory.unwrap_or(0)
                || old.memory_swap.unwrap_or(0) == 0
            {
                host.memory_swap = Some(2 * u.memory.unwrap_or(0));
            }
        }
        check_host_config(&HostConfig {
            restart_policy: host.restart_policy.clone(),
            auto_remove: host.auto_remove,
            ..Default::default()
        })?;
        let live = c.state().status.is_live();
        if live {
            let mut args: Vec<String> = vec!["update".into()];
            let mut flag = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    args.push(format!("--{name}"));
                    args.push(v);
                }
            };
            flag("memory", u.memory.filter(|m| *m > 0).map(|m| m.to_string()));
            flag(
                "memory-swap",
                host.memory_swap
                    .filter(|_| u.memory.is_some() || u.memory_swap.is_some())
                    .map(|m| m.to_string()),
            );
            flag("memory-reservation", u.memory_reservation.map(|m| m.to_string()));
            flag(
                "cpu-shares",
                u.cpu_shares.filter(|v| *v > 0).map(|v| v.to_string()),
            );
            if let Some(n) = u.nano_cpus.filter(|n| *n > 0) {
                flag("cpu-period", Some("100000".into()));
                flag("cpu-quota", Some((n * 100_000 / 1_000_000_000).to_string()));
            }
            flag(
                "cpu-period",
                u.cpu_period.filter(|v| *v > 0).map(|v| v.to_string()),
            );
            flag(
                "cpu-quota",
                u.cpu_quota.filter(|v| *v != 0).map(|v| v.to_string()),
            );
            flag("cpuset-cpus", u.cpuset_cpus.clone().filter(|v| !v.is_empty()));
            flag("cpuset-mems", u.cpuset_mems.clone().filter(|v| !v.is_empty()));
            flag(
                "pids-limit",
                u.pids_limit
                    .map(|v| if v <= 0 { "-1".into() } else { v.to_string() }),
            );
            flag(
                "blkio-weight",
                u.blkio_weight.filter(|v| *v > 0).map(|v| v.to_string()),
            );
            if args.len() > 1 {
                args.push(c.id.clone());
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                self.runtime_cmd(&refs).await.map_err(|e| {
                    ApiError::system(format!("Cannot update container {}: {}", c.id, e.message))
                })?;
            }
            if u.restart_policy.is_some() {
                shim::request(
                    &self.run_dir(&c.id),
                    &format!("restart-policy {}", restart_arg(&host)),
                )
                .await?;
            }
        }
        {
            let mut i = c.lock();
            i.host = host;
            self.persist_all(c, &i)?;
        }
        self.emit(c, "update", &[]);
        Ok(Vec::new())
    }

    /// `GET /containers/{id}/top`: `ps` on the host, rows of the container's processes.
    pub async fn top(&self, c: &Arc<Container>, ps_args: &str) -> Result<serde_json::Value> {
        let st = c.state();
        if !st.status.is_live() {
            return Err(ApiError::conflict(format!("Container {} is not running", c.id)));
        }
        let pids = self.container_pids(&c.id);
        let args: Vec<&str> = if ps_args.is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| ApiError::system(format!("cannot run ps: {e}")))?;
        if !out.status.success() {
            return Err(ApiError::system(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let pid_col = titles
            .iter()
            .position(|t| t == "PID")
            .ok_or_else(|| ApiError::system("Couldn't find PID field in ps output"))?;
        let mut procs = Vec::new();
        for l in lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            if fields.len() < titles.len() {
                continue;
            }
            let Ok(pid) = fields[pid_col].parse::<u32>() else {
                continue;
            };
            if !pids.contains(&pid) {
                continue;
            }
            // The last column keeps its spaces (the command line).
            let mut row: Vec<String> = fields[..titles.len() - 1].iter().map(|s| s.to_string()).collect();
            row.push(fields[titles.len() - 1..].join(" "));
            procs.push(row);
        }
        Ok(serde_json::json!({"Titles": titles, "Processes": procs}))
    }

    /// The pids in the container's cgroup.
    fn container_pids(&self, id: &str) -> Vec<u32> {
        let candidates = [
            format!("/sys/fs/cgroup/pids/{}/{id}/cgroup.procs", self.cgroup_parent),
            format!("/sys/fs/cgroup/memory/{}/{id}/cgroup.procs", self.cgroup_parent),
            format!("/sys/fs/cgroup/{}/{id}/cgroup.procs", self.cgroup_parent),
        ];
        for f in candidates {
            if let Ok(s) = std::fs::read_to_string(&f) {
                return s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            }
        }
        Vec::new()
    }

    // ---- recovery ----

    /// At start: reconnect to the shims of containers that were live, record the exits that
    /// happened while berthd was down, finish automatic removals.
    pub async fn recover(self: &Arc<Self>) {
        for c in self.all() {
            let st = c.state();
            if !st.status.is_live() && st.status != Status::Removing {
                continue;
            }
            let run_dir = self.run_dir(&c.id);
            if shim::socket(&run_dir).exists() && shim::EventStream::open(&run_dir).await.is_ok() {
                self.monitor(c.clone());
                continue;
            }
            self.shim_gone(&c, None).await;
        }
    }
}

/// Where a wait started: the exits seen by then.
#[derive(Debug)]
pub struct WaitMark {
    rx: tokio::sync::watch::Receiver<u64>,
    exits: u64,
}

/// How an attach gets its stream.
#[derive(Debug)]
pub enum AttachWait {
    Now,
    Later(tokio::sync::oneshot::Receiver<Result<tokio::net::UnixStream>>),
}

/// The name of a container's anonymous volume at `dest`: 64 hex digits, stable.
fn anonymous_volume(id: &str, dest: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dest.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}{h:016x}", &id[..48.min(id.len())])
}

/// The record of a container for the database.
fn record(c: &Container, i: &Inner) -> Result<ContainerRecord> {
    let j = |v: &dyn erased::Ser| v.to_json();
    Ok(ContainerRecord {
        id: c.id.clone(),
        name: i.name.clone(),
        image_id: c.image_id.clone(),
        created: c.created,
        config: j(&i.config)?,
        host_config: j(&i.host)?,
        state: j(&i.state)?,
    })
}

mod erased {
    use crate::error::{ApiError, Result};
    pub trait Ser {
        fn to_json(&self) -> Result<String>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> Result<String> {
            serde_json::to_string(self).map_err(|e| ApiError::system(e.to_string()))
        }
    }
}

fn store_conflict(e: berth_store::Error) -> ApiError {
    match e {
        berth_store::Error::Conflict(n) => {
            ApiError::conflict(format!("The container name \"/{n}\" is already in use"))
        }
        e => e.into(),
    }
}

pub fn no_such(name: &str) -> ApiError {
    ApiError::not_found(format!("No such container: {name}"))
}

/// What dockerd refuses before anything is made.
fn check_host_config(host: &HostConfig) -> Result<()> {
    let mode = host.network_mode.as_deref().unwrap_or("");
    if mode == "bridge"
        || (!mode.is_empty()
            && !matches!(mode, "default" | "none" | "host")
            && !mode.starts_with("container:"))
    {
        return Err(ApiError::not_found(format!(
            "network {mode} not found: berth has no bridge networks yet; use --network none, host or container:NAME"
        )));
    }
    let publishes = host
        .port_bindings
        .as_ref()
        .is_some_and(|p| p.values().any(|v| v.as_ref().is_some_and(|b| !b.is_empty())));
    if publishes || host.publish_all_ports.unwrap_or(false) {
        return Err(ApiError::invalid(
            "publishing ports needs a bridge network, which berth does not have yet",
        ));
    }
    if let Some(rp) = &host.restart_policy {
        use bollard_stubs::models::RestartPolicyNameEnum as R;
        let max = rp.maximum_retry_count.unwrap_or(0);
        match rp.name {
            Some(R::ON_FAILURE) if max < 0 => {
                return Err(ApiError::invalid(
                    "invalid restart policy: maximum retry count can't be negative",
                ))
            }
            Some(R::ON_FAILURE) | None | Some(R::EMPTY) => {}
            Some(_) if max != 0 => {
                return Err(ApiError::invalid(
                    "invalid restart policy: maximum retry count can only be used with 'on-failure'",
                ))
            }
            _ => {}
        }
        if host.auto_remove.unwrap_or(false) && !matches!(rp.name, None | Some(R::EMPTY) | Some(R::NO)) {
            return Err(ApiError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
    }
    Ok(())
}

/// The shim's `--restart` argument.
fn restart_arg(host: &HostConfig) -> String {
    use bollard_stubs::models::RestartPolicyNameEnum as R;
    match host
        .restart_policy
        .as_ref()
        .and_then(|r| r.name.as_ref().map(|n| (*n, r.maximum_retry_count)))
    {
        Some((R::ALWAYS, _)) => "always".into(),
        Some((R::UNLESS_STOPPED, _)) => "unless-stopped".into(),
        Some((R::ON_FAILURE, n)) => format!("on-failure:{}", n.unwrap_or(0)),
        _ => "no".into(),
    }
}

/// json-file (the default) or none; anything else is refused as dockerd does for unknown drivers.
fn log_opts(host: &HostConfig, path: PathBuf) -> Result<Option<shim::LogOpts>> {
    let lc = host.log_config.as_ref();
    let driver = lc.and_then(|l| l.typ.as_deref()).unwrap_or("");
    match driver {
        "" | "json-file" => {}
        "none" => return Ok(None),
        other => {
            return Err(ApiError::invalid(format!(
                "failed to create task for container: logger: no log driver named '{other}' is registered"
            )))
        }
    }
    let opts = lc.and_then(|l| l.config.clone()).unwrap_or_default();
    let max_size = match opts.get("max-size") {
        Some(s) => Some(parse_size(s).ok_or_else(|| ApiError::invalid(format!("invalid max-size: {s}")))?),
        None => None,
    };
    let max_file = match opts.get("max-file") {
        Some(s) => Some(
            s.parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ApiError::invalid(format!("invalid max-file: {s}")))?,
        ),
        None => None,
    };
    Ok(Some(shim::LogOpts {
        path,
        max_size,
        max_file,
    }))
}

/// go-units `FromHumanSize`-ish for log sizes: `10m`, `1g`, `512k`, plain bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

/// The cgroup file that counts OOM kills of the container's cgroup (`/berth/<id>`).
fn oom_file(parent: &str, id: &str) -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        return Some(v1.join(parent).join(id).join("memory.oom_control"));
    }
    let v2 = Path::new("/sys/fs/cgroup");
    if v2.join("cgroup.controllers").exists() {
        return Some(v2.join(parent).join(id).join("memory.events"));
    }
    None
}

/// A signal by name (`TERM`, `SIGTERM`, `sigkill`) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(ApiError::invalid(format!("Invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => {
            if let Some(rt) = name.strip_prefix("RTMIN+").and_then(|n| n.parse::<i32>().ok()) {
                return Ok(libc::SIGRTMIN() + rt);
            }
            return Err(ApiError::invalid(format!("Invalid signal: {s}")));
        }
    };
    Ok(n)
}

/// hostname, hosts and resolv.conf for a new container.
fn make_files(dir: &Path, hostname: &str, domain: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for d in ["rootfs", "diff", "work"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    write_atomic(&dir.join("hostname"), format!("{hostname}\n").as_bytes(), 0o644)?;
    let fqdn = if domain.is_empty() {
        String::new()
    } else {
        format!(" {hostname}.{domain}")
    };
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}{fqdn}\n"
    );
    write_atomic(&dir.join("hosts"), hosts.as_bytes(), 0o644)?;
    write_atomic(&dir.join("resolv.conf"), resolv_conf().as_bytes(), 0o644)?;
    Ok(())
}

/// The host's resolv.conf without loopback name servers (unreachable from the container's own
/// network namespace), as dockerd filters it; Google's servers when none is left.
fn resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

pub fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape_mount(m) == want)
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn unmount_path(path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if !is_mounted(path) {
        return Ok(());
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ApiError::system("path holds a NUL byte"))?;
    // SAFETY: a valid C string; umount2 does not keep the pointer.
    let r = unsafe { libc::umount2(c.as_ptr(), 0) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EBUSY) {
            // SAFETY: as above.
            let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            if r == 0 {
                return Ok(());
            }
        }
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            return Err(ApiError::system(format!(
                "cannot unmount {}: {e}",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Removes a container's directory; a mount still inside it stops the removal rather than
/// deleting through it.
fn remove_tree(dir: &Path) -> Result<()> {
    if is_mounted(&dir.join("rootfs")) {
        return Err(ApiError::system(format!(
            "{} is still mounted; not removing it",
            dir.join("rootfs").display()
        )));
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ApiError::system(format!("cannot remove {}: {e}", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("sigkill").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("15").unwrap(), 15);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse_signal("NOPE").unwrap_err().message, "Invalid signal: NOPE");
        assert!(parse_signal("0").is_err());
    }

    #[test]
    fn log_sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn restart_policies_and_network_modes_checked() {
        use bollard_stubs::models::{RestartPolicy, RestartPolicyNameEnum as R};
        let mut h = HostConfig {
            restart_policy: Some(RestartPolicy {
                name: Some(R::ALWAYS),
                maximum_retry_count: Some(3),
            }),
            ..Default::default()
        };
        assert!(check_host_config(&h).is_err());
        h.restart_policy = Some(RestartPolicy {
            name: Some(R::ON_FAILURE),
            maximum_retry_count: Some(3),
        });
        assert!(check_host_config(&h).is_ok());
        assert_eq!(restart_arg(&h), "on-failure:3");
        h.auto_remove = Some(true);
        assert!(check_host_config(&h).is_err());
        let h = HostConfig {
            network_mode: Some("bridge".into()),
            ..Default::default()
        };
        assert_eq!(check_host_config(&h).unwrap_err().kind, Kind::NotFound);
        let h = HostConfig {
            network_mode: Some("container:web".into()),
            ..Default::default()
        };
        assert!(check_host_config(&h).is_ok());
    }

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let r = resolv_conf();
        assert!(r.contains("nameserver"));
        assert!(!r.contains("nameserver 127."));
    }
}
