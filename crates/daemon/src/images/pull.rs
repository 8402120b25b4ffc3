//! Pull and push.
//!
//! A pull resolves the reference to a manifest (choosing the platform's manifest from an index),
//! stores manifest and config, then brings every layer in parallel (`max-concurrent-downloads`).
//! A layer already unpacked is not fetched at all; a layer whose blob is stored is unpacked from
//! it; any other layer is downloaded and unpacked at the same time: the download runs on one
//! thread writing the blob into the content store and handing each batch of bytes through a short
//! bounded channel to the unpacker on another thread, which decompresses and extracts as the bytes
//! arrive. The blob is verified at commit and the unpacked tree against the config's diff ID; a
//! failure of either removes the layer directory. The image is recorded last, in one transaction.

use std::fs::File;
use std::io;
use std::sync::Arc;

use berth_image::digest::Digest;
use berth_image::manifest::{parse_manifest, Descriptor, ImageConfig, ImageManifest, ManifestKind, Platform};
use berth_image::reference::Reference;
use berth_image::unpack::{unpack_with, UnpackStats};
use berth_registry::{Credentials, FetchOutcome, PushOutcome, Repository};
use berth_store::ImageRecord;
use serde_json::json;

use super::{familiar, short_id, Images};
use crate::api::progress::Progress;
use crate::error::{ApiError, Kind, Result};

/// Batches in flight between a download and its unpacker (the registry client hands over 1 MiB
/// batches).
const PIPE_DEPTH: usize = 8;

/// Maps registry errors to API errors with dockerd's statuses.
pub fn registry_error(e: berth_registry::Error) -> ApiError {
    let kind = if e.is_not_found() {
        Kind::NotFound
    } else if e.is_unauthorized() {
        Kind::Unauthorized
    } else {
        match e.status() {
            Some(403) => Kind::Forbidden,
            Some(400) => Kind::InvalidParameter,
            _ => Kind::System,
        }
    };
    ApiError::new(kind, e.to_string())
}

impl Images {
    /// Pulls `reference` (tag or digest) for `platform`.
    pub async fn pull(
        self: &Arc<Self>,
        reference: &Reference,
        platform: &Platform,
        creds: Option<Credentials>,
        p: &Progress,
    ) -> Result<ImageRecord> {
        let _gc = self.gc_lock.read().await;
        let repo = self.registry.repository(reference, creds);
        let (tag_or_digest, id_for_status) = match (reference.digest(), reference.tag()) {
            (Some(d), _) => (d.to_string(), d.to_string()),
            (None, Some(t)) => (t.to_string(), t.to_string()),
            (None, None) => ("latest".to_string(), "latest".to_string()),
        };
        let (bytes, media_type, top_digest) = repo
            .get_manifest(&tag_or_digest)
            .await
            .map_err(|e| self.manifest_error(reference, e))?;
        p.status(
            Some(&id_for_status),
            &format!("Pulling from {}", familiar_path(reference)),
        );
        let top = self.content.write_blob(&bytes, Some(&top_digest))?;
        let mut extra_blobs = Vec::new();
        let (manifest, manifest_digest, manifest_media_type) =
            match parse_manifest(Some(&media_type), &bytes)? {
                ManifestKind::Index(index) => {
                    extra_blobs.push(top.clone());
                    let chosen = index.select(platform).cloned().ok_or_else(|| {
                        ApiError::not_found(format!(
                            "no matching manifest for {} in the manifest list entries",
                            platform_string(platform)
                        ))
                    })?;
                    let (mbytes, mtype, mdigest) = repo
                        .get_manifest(chosen.digest.as_str())
                        .await
                        .map_err(registry_error)?;
                    self.content.write_blob(&mbytes, Some(&mdigest))?;
                    let m = match parse_manifest(Some(&mtype), &mbytes)? {
                        ManifestKind::Manifest(m) => m,
                        _ => {
                            return Err(ApiError::invalid(format!(
                                "manifest {mdigest} of the index is not an image manifest"
                            )))
                        }
                    };
                    (m, mdigest, mtype)
                }
                ManifestKind::Manifest(m) => (m, top.clone(), media_type.clone()),
            };
        let m = &manifest;
        let cfg_desc = &m.config;
        if !self.content.exists(&cfg_desc.digest)? {
            let cbytes = repo
                .fetch_blob_bytes(&cfg_desc.digest, 64 << 20)
                .await
                .map_err(registry_error)?;
            self.content.write_blob(&cbytes, Some(&cfg_desc.digest))?;
        }
        let cfg: ImageConfig = serde_json::from_slice(&self.content.read_all(&cfg_desc.digest)?)
            .map_err(|e| ApiError::invalid(format!("image config {}: {e}", cfg_desc.digest)))?;
        if cfg.rootfs.diff_ids.len() != m.layers.len() {
            return Err(ApiError::invalid(format!(
                "image config {} lists {} layers but the manifest has {}",
                cfg_desc.digest,
                cfg.rootfs.diff_ids.len(),
                m.layers.len()
            )));
        }
        let existed = self.store.image(cfg_desc.digest.as_str())?.is_some()
            && m.layers
                .iter()
                .zip(&cfg.rootfs.diff_ids)
                .all(|(_, d)| self.has_layer(d.as_str()).unwrap_or(false));
        let sem = Arc::new(tokio::sync::Semaphore::new(self.max_downloads));
        let mut tasks = tokio::task::JoinSet::new();
        for (desc, diff_id) in m.layers.iter().cloned().zip(cfg.rootfs.diff_ids.iter().cloned()) {
            let this = self.clone();
            let repo = repo.clone();
            let p = p.clone();
            let sem = sem.clone();
            tasks.spawn(async move { this.ensure_layer(&repo, &desc, &diff_id, &sem, &p).await });
        }
        let mut first_err = None;
        while let Some(r) = tasks.join_next().await {
            let r = r.map_err(ApiError::from).and_then(|r| r);
            if let Err(e) = r {
                if first_err.is_none() {
                    first_err = Some(e);
                    // The others stop at their next await; partial downloads stay resumable.
                    tasks.abort_all();
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let repo_name = reference.name();
        let tags: Vec<Reference> = if reference.digest().is_none() {
            vec![reference.clone().with_default_tag()]
        } else {
            Vec::new()
        };
        let previous_tag_target = match tags.first() {
            Some(t) => self.store.tag(&t.to_string())?,
            None => None,
        };
        let img = self.record(
            &manifest_digest,
            &manifest_media_type,
            &extra_blobs,
            &tags,
            &[(repo_name, top.to_string())],
        )?;
        p.status(None, &format!("Digest: {top}"));
        let shown = reference.clone().with_default_tag().familiar_string();
        let up_to_date = existed
            && (previous_tag_target.as_deref() == Some(img.id.as_str()) || reference.digest().is_some());
        if up_to_date {
            p.status(None, &format!("Status: Image is up to date for {shown}"));
        } else {
            p.status(None, &format!("Status: Downloaded newer image for {shown}"));
        }
        self.events
            .emit("image", "pull", &shown, &[("name", &reference.familiar_name())]);
        Ok(img)
    }

    /// `pull -a`: every tag of the repository.
    pub async fn pull_all_tags(
        self: &Arc<Self>,
        name: &Reference,
        platform: &Platform,
        creds: Option<Credentials>,
        p: &Progress,
    ) -> Result<()> {
        let repo = self.registry.repository(name, creds.clone());
        let tags = repo.tags().await.map_err(registry_error)?;
        if tags.is_empty() {
            return Err(ApiError::not_found(format!(
                "no tags found for {}",
                name.familiar_name()
            )));
        }
        for t in tags {
            let r = name
                .trim_named()
                .with_tag(&t)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            self.pull(&r, platform, creds.clone(), p).await?;
        }
        Ok(())
    }

    fn manifest_error(&self, reference: &Reference, e: berth_registry::Error) -> ApiError {
        if e.is_not_found() {
            return ApiError::not_found(format!(
                "manifest for {} not found: manifest unknown: manifest unknown",
                reference.clone().with_default_tag().familiar_string()
            ));
        }
        if e.is_unauthorized() {
            return ApiError::new(
                Kind::NotFound,
                format!(
                    "pull access denied for {}, repository does not exist or may require 'docker login': {e}",
                    reference.familiar_name()
                ),
            );
        }
        registry_error(e)
    }

    /// Makes sure the layer `diff_id` is unpacked and recorded: nothing when it is, from the
    /// stored blob when there is one, else downloading and unpacking at once.
    async fn ensure_layer(
        self: &Arc<Self>,
        repo: &Repository,
        desc: &Descriptor,
        diff_id: &Digest,
        sem: &tokio::sync::Semaphore,
        p: &Progress,
    ) -> Result<()> {
        let short = short_id(desc.digest.as_str()).to_string();
        let lock = self.layer_lock(diff_id.as_str());
        let _held = lock.lock().await;
        if self.has_layer(diff_id.as_str())? {
            p.status(Some(&short), "Already exists");
            return Ok(());
        }
        p.send(json!({"status": "Pulling fs layer", "progressDetail": {}, "id": short}));
        let dest = self.layers.dir(diff_id.as_str());
        if dest.exists() {
            // A directory nobody recorded: an unpack that did not finish its bookkeeping.
            self.layers.remove(diff_id.as_str())?;
        }
        let stats = if self.content.exists(&desc.digest)? {
            self.unpack_stored(desc, &dest, &short, p).await?
        } else {
            let _permit = sem.acquire().await.map_err(|e| ApiError::system(e.to_string()))?;
            match self.download_and_unpack(repo, desc, &dest, &short, p).await? {
                Some(stats) => stats,
                // Someone else stored the blob meanwhile: unpack that.
                None => self.unpack_stored(desc, &dest, &short, p).await?,
            }
        };
        if stats.diff_id != *diff_id {
            let _ = self.layers.remove(diff_id.as_str());
            return Err(ApiError::invalid(format!(
                "failed to register layer: layer {} unpacks to diff ID {}, the image config says {diff_id}",
                desc.digest, stats.diff_id
            )));
        }
        self.layer_written(diff_id, stats.size)?;
        p.status(Some(&short), "Pull complete");
        Ok(())
    }

    pub(crate) async fn unpack_stored(
        &self,
        desc: &Descriptor,
        dest: &std::path::Path,
        short: &str,
        p: &Progress,
    ) -> Result<UnpackStats> {
        p.status(Some(short), "Extracting");
        let file: File = self.content.open_blob(&desc.digest)?;
        let dest = dest.to_path_buf();
        let stats = tokio::task::spawn_blocking(move || unpack_with(file, &dest, &Images::unpack_options()))
            .await?
            .map_err(|e| unpack_error(&desc.digest, e))?;
        Ok(stats)
    }

    /// Downloads `desc` into the content store while unpacking it into `dest`. `None` when the
    /// blob turned out to be stored already (nothing was unpacked).
    async fn download_and_unpack(
        &self,
        repo: &Repository,
        desc: &Descriptor,
        dest: &std::path::Path,
        short: &str,
        p: &Progress,
    ) -> Result<Option<UnpackStats>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPE_DEPTH);
        let unpack_dest = dest.to_path_buf();
        let unpacker = tokio::task::spawn_blocking(move || {
            let pipe = crate::util::Pipe::new(rx);
            unpack_with(pipe, &unpack_dest, &Images::unpack_options())
        });
        // The download runs on a thread of its own so that handing a batch to a busy unpacker
        // (a blocking send) never stalls the runtime's workers.
        let handle = tokio::runtime::Handle::current();
        let (repo, content, desc2, p2, short2) = (
            repo.clone(),
            self.content.clone(),
            desc.clone(),
            p.clone(),
            short.to_string(),
        );
        let fetched = tokio::task::spawn_blocking(move || {
            let mut on_chunk = move |b: &[u8]| {
                tx.send(b.to_vec())
                    .map_err(|_| io::Error::other("the layer unpacker stopped"))
            };
            let mut progress = |cur: u64, total: u64| {
                p2.progress(&short2, "Downloading", cur, total);
            };
            handle.block_on(repo.fetch_blob_into(&content, &desc2, &mut on_chunk, &mut progress))
        })
        .await?;
        let unpacked = unpacker.await?;
        match fetched {
            Ok(FetchOutcome::Downloaded { .. }) => {
                p.status(Some(short), "Download complete");
                let stats = unpacked.map_err(|e| unpack_error(&desc.digest, e))?;
                Ok(Some(stats))
            }
            Ok(FetchOutcome::AlreadyPresent) => {
                if dest.exists() {
                    let _ = std::fs::remove_dir_all(dest);
                }
                Ok(None)
            }
            Err(e) => {
                // Whatever the unpacker made of a stream that failed is not the layer.
                if unpacked.is_ok() && dest.exists() {
                    let _ = std::fs::remove_dir_all(dest);
                }
                Err(registry_error(e))
            }
        }
    }

    /// Pushes the tags of `name` (one tag, or every tag of its repository when `tag` is empty).
    pub async fn push(
        self: &Arc<Self>,
        name: &str,
        tag: &str,
        creds: Option<Credentials>,
        p: &Progress,
    ) -> Result<()> {
        let base = berth_image::reference::parse_normalized_named(name)?;
        let refs: Vec<Reference> = if !tag.is_empty() {
            vec![base
                .trim_named()
                .with_tag(tag)
                .map_err(|e| ApiError::invalid(e.to_string()))?]
        } else if base.tag().is_some() {
            vec![base.clone()]
        } else {
            let repo = base.name();
            let mut v = Vec::new();
            for (t, _) in self.store.tags()? {
                if t.rsplit_once(':').is_some_and(|(n, _)| n == repo) {
                    v.push(Reference::parse(&t)?);
                }
            }
            if v.is_empty() {
                return Err(ApiError::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    base.familiar_name()
                )));
            }
            v
        };
        p.status(
            None,
            &format!(
                "The push refers to repository [{}]",
                base.name().trim_start_matches("docker.io/")
            ),
        );
        for r in refs {
            let img = match self.store.tag(&r.to_string())? {
                Some(id) => self.store.image(&id)?,
                None => None,
            }
            .ok_or_else(|| ApiError::not_found(format!("tag does not exist: {}", r.familiar_string())))?;
            self.push_one(&r, &img, creds.clone(), p).await?;
        }
        Ok(())
    }

    async fn push_one(
        self: &Arc<Self>,
        r: &Reference,
        img: &ImageRecord,
        creds: Option<Credentials>,
        p: &Progress,
    ) -> Result<()> {
        let repo = self.registry.repository(r, creds);
        let manifest_digest =
            Digest::parse(&img.manifest_digest).map_err(|e| ApiError::system(e.to_string()))?;
        let mbytes = self.content.read_all(&manifest_digest)?;
        let m: ImageManifest = serde_json::from_slice(&mbytes)
            .map_err(|e| ApiError::system(format!("manifest {manifest_digest}: {e}")))?;
        // A repository of the same registry that has the image: blobs are mounted from it.
        let mount_from = self
            .store
            .repo_digests_of(&img.id)?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| n != &r.name() && Reference::parse(n).is_ok_and(|x| x.domain() == r.domain()))
            .and_then(|n| Reference::parse(&n).ok().map(|x| x.path().to_string()));
        let sem = Arc::new(tokio::sync::Semaphore::new(self.max_uploads));
        let mut tasks = tokio::task::JoinSet::new();
        for desc in m.layers.iter().rev().cloned() {
            let short = short_id(desc.digest.as_str()).to_string();
            p.status(Some(&short), "Preparing");
            let (repo, content, p, sem, mount_from) = (
                repo.clone(),
                self.content.clone(),
                p.clone(),
                sem.clone(),
                mount_from.clone(),
            );
            tasks.spawn(async move {
                let _permit = sem.acquire().await.map_err(|e| ApiError::system(e.to_string()))?;
                let mut progress = |cur: u64, total: u64| p.progress(&short, "Pushing", cur, total);
                let out = repo
                    .push_blob(&content, &desc, mount_from.as_deref(), &mut progress)
                    .await
                    .map_err(registry_error)?;
                match out {
                    PushOutcome::Exists => p.status(Some(&short), "Layer already exists"),
                    PushOutcome::Mounted => p.status(
                        Some(&short),
                        &format!("Mounted from {}", mount_from.as_deref().unwrap_or("")),
                    ),
                    PushOutcome::Pushed => p.status(Some(&short), "Pushed"),
                }
                Ok::<_, ApiError>(())
            });
        }
        while let Some(res) = tasks.join_next().await {
            res.map_err(ApiError::from)??;
        }
        repo.push_blob(&self.content, &m.config, None, &mut |_, _| {})
            .await
            .map_err(registry_error)?;
        let tag = r.tag().unwrap_or("latest");
        let digest = repo
            .put_manifest(tag, &mbytes, &img.manifest_media_type)
            .await
            .map_err(registry_error)?;
        self.store.add_repo_digest(&r.name(), digest.as_str(), &img.id)?;
        p.status(None, &format!("{tag}: digest: {digest} size: {}", mbytes.len()));
        p.aux(json!({ "Tag": tag, "Digest": digest.to_string(), "Size": mbytes.len() }));
        self.events.emit(
            "image",
            "push",
            &r.familiar_string(),
            &[("name", &familiar(&r.to_string()))],
        );
        Ok(())
    }
}

fn unpack_error(digest: &Digest, e: berth_image::unpack::UnpackError) -> ApiError {
    let msg = format!("failed to register layer {digest}: {e}");
    if e.is_bad_layer() {
        ApiError::invalid(msg)
    } else {
        ApiError::system(msg)
    }
}

/// `library/busybox`, `127.0.0.1:5000/app` as dockerd's "Pulling from" says.
fn familiar_path(r: &Reference) -> String {
    if r.is_docker_hub() {
        r.path().to_string()
    } else {
        r.name()
    }
}

fn platform_string(p: &Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if !p.variant.is_empty() {
        s.push('/');
        s.push_str(&p.variant);
    }
    s
}
