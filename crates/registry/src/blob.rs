//! Blobs: streaming, resumable downloads into the content store, and uploads from it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use berth_image::digest::Digest;
use berth_image::manifest::Descriptor;
use berth_image::store::{ContentStore, StoreError, Writer};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE,
};
use reqwest::{Method, Response};
use tokio::sync::mpsc;
use url::Url;

use crate::client::{each_site, error_from, read_limited, Endpoint, Repository, Req};
use crate::retry::backoff;
use crate::Error;

/// How [`Repository::fetch_blob_into`] got the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The store already had it; nothing was fetched and `on_chunk` was not called.
    AlreadyPresent,
    /// Downloaded and committed; `resumed_from` bytes came from an earlier partial ingest.
    Downloaded { resumed_from: u64 },
}

/// How [`Repository::push_blob`] got the blob to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The repository already had it.
    Exists,
    /// Mounted from another repository of the same registry, without uploading.
    Mounted,
    /// Uploaded.
    Pushed,
}

/// Bytes handed to the store and `on_chunk` in one go: large writes, and one hop to a blocking
/// thread per batch rather than per network chunk.
const BATCH: usize = 1 << 20;
/// Network chunks buffered between the socket and the writer: the download goes on while the
/// previous batch is written and unpacked.
const CHANNEL_CHUNKS: usize = 32;
/// Upload reads from the store file.
const UPLOAD_CHUNK: usize = 1 << 20;

/// Runs `f`, which does blocking file I/O (and the caller's unpacking), without stalling the
/// runtime's other tasks: on a multi-thread runtime the worker hands its tasks to another
/// thread first. On a current-thread runtime (tests) it runs inline.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Aborts a spawned task when dropped, so an abandoned download stops reading the socket.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The ingest being written and the callbacks fed from it.
struct Sink<'a> {
    writer: Writer,
    digest: Digest,
    total: Option<u64>,
    on_chunk: &'a mut (dyn FnMut(&[u8]) -> io::Result<()> + Send),
    progress: &'a mut (dyn FnMut(u64, u64) + Send),
}

impl Sink<'_> {
    fn offset(&self) -> u64 {
        self.writer.offset()
    }

    /// Writes a batch to the ingest, then hands it to `on_chunk`.
    fn write_batch(&mut self, batch: &[Bytes]) -> Result<(), Error> {
        blocking(|| {
            for chunk in batch {
                self.writer.write_all(chunk).map_err(|e| {
                    if e.kind() == io::ErrorKind::InvalidData {
                        Error::Content {
                            what: format!("blob {}", self.digest),
                            message: e.to_string(),
                        }
                    } else {
                        Error::Store(StoreError::Io {
                            op: "write ingest for",
                            path: PathBuf::from(self.digest.to_string()),
                            error: e,
                        })
                    }
                })?;
                (self.on_chunk)(chunk).map_err(|error| Error::Consumer {
                    digest: self.digest.clone(),
                    error,
                })?;
            }
            Ok::<_, Error>(())
        })?;
        let done = self.offset();
        (self.progress)(done, self.total.unwrap_or(0));
        Ok(())
    }
}

/// Where a keyed ingest lives: `<root>/ingest/<alg>-<hex>`.
// Ref: berth-image store/mod.rs layout; the writer does not expose its path.
fn ingest_path(store: &ContentStore, d: &Digest) -> PathBuf {
    store
        .root()
        .join("ingest")
        .join(format!("{}-{}", d.algorithm().as_str(), d.encoded()))
}

/// Feeds the first `len` bytes of a resumed ingest to `on_chunk`, so the caller sees the blob
/// from its start.
fn replay_partial(path: &PathBuf, len: u64, sink: &mut Sink<'_>) -> Result<(), Error> {
    let io_err = |op: &'static str| {
        move |error| {
            Error::Store(StoreError::Io {
                op,
                path: path.clone(),
                error,
            })
        }
    };
    blocking(|| {
        let mut f = File::open(path).map_err(io_err("open"))?.take(len);
        let mut buf = vec![0u8; BATCH];
        let mut done = 0u64;
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read")(e)),
            };
            (sink.on_chunk)(&buf[..n]).map_err(|error| Error::Consumer {
                digest: sink.digest.clone(),
                error,
            })?;
            done += n as u64;
        }
        if done != len {
            return Err(Error::Store(StoreError::SizeMismatch {
                what: path.display().to_string(),
                expected: len,
                actual: done,
            }));
        }
        Ok(())
    })?;
    (sink.progress)(len, sink.total.unwrap_or(0));
    Ok(())
}

/// `bytes START-END/TOTAL` → START.
fn content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, _) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

impl Repository {
    fn blob_path(&self, d: &Digest) -> String {
        format!("/v2/{}/blobs/{d}", self.inner.path)
    }

    /// Whether the registry has the blob (`HEAD`); its size when it does.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>, Error> {
        let scopes = self.pull_scopes();
        each_site!(self, true, |ep| self.blob_exists_on(ep, digest, &scopes).await)
    }

    async fn blob_exists_on(
        &self,
        ep: &Endpoint,
        digest: &Digest,
        scopes: &[String],
    ) -> Result<Option<u64>, Error> {
        let url = ep.url(&self.blob_path(digest))?;
        let req = Req {
            method: Method::HEAD,
            url,
            scopes,
            headers: HeaderMap::new(),
            body: None,
            retry: true,
        };
        let resp = self.send(ep, &req).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => Err(error_from(
                resp,
                &format!("cannot check blob {digest}"),
                &format!("blob {digest}"),
            )
            .await),
        }
    }

    /// A small blob (an image config) in memory, verified against its digest.
    pub async fn fetch_blob_bytes(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, Error> {
        let scopes = self.pull_scopes();
        each_site!(self, false, |ep| async {
            let url = ep.url(&self.blob_path(digest))?;
            let what = format!("blob {digest}");
            let mut attempt = 0;
            loop {
                let mut resp = self.send(ep, &self.plain_get(url.clone(), &scopes)).await?;
                if !resp.status().is_success() {
                    return Err(error_from(resp, &format!("cannot fetch blob {digest}"), &what).await);
                }
                let bytes = match read_limited(&mut resp, max, &what, url.as_str()).await {
                    Ok(b) => b,
                    Err(e) if e.is_transient() && attempt < self.cfg().max_retries => {
                        tokio::time::sleep(backoff(
                            attempt,
                            self.cfg().retry_delay,
                            self.cfg().max_retry_delay,
                            None,
                        ))
                        .await;
                        attempt += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let actual = Digest::of(digest.algorithm(), &bytes);
                if actual != *digest {
                    return Err(Error::Content {
                        what,
                        message: format!("digest mismatch: expected `{digest}`, got `{actual}`"),
                    });
                }
                return Ok(bytes);
            }
        }
        .await)
    }

    /// Downloads the blob `desc` into `store`. See the crate documentation for the contract:
    /// resumes a partial ingest (`Range`), retries transient failures from the bytes already
    /// written, verifies size and digest on commit, and passes every byte of the blob, from its
    /// first, to `on_chunk` in order; `progress(done, total)` follows (total 0 when unknown).
    ///
    /// On a transient failure that outlasts the retries, or a failing `on_chunk`, the bytes
    /// written so far stay in the store as a partial ingest for the next attempt. Content that
    /// does not match the descriptor leaves nothing behind.
    ///
    /// When the server ignores a `Range` request and sends the whole blob, the bytes already
    /// held are skipped in the answer rather than rewritten: the caller has seen them already,
    /// and the digest checked at commit covers every byte either way.
    pub async fn fetch_blob_into(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        on_chunk: &mut (dyn FnMut(&[u8]) -> io::Result<()> + Send),
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<FetchOutcome, Error> {
        let digest = desc.digest.clone();
        if store.exists(&digest)? {
            return Ok(FetchOutcome::AlreadyPresent);
        }
        let total = u64::try_from(desc.size).ok();
        let writer = blocking(|| store.writer(Some(digest.clone()), total))?;
        let resumed_from = writer.offset();
        let mut sink = Sink {
            writer,
            digest: digest.clone(),
            total,
            on_chunk,
            progress,
        };
        let result = async {
            if resumed_from > 0 {
                replay_partial(&ingest_path(store, &digest), resumed_from, &mut sink)?;
            }
            let scopes = self.pull_scopes();
            each_site!(self, false, |ep| self.download(ep, &mut sink, &scopes).await)
        }
        .await;
        let Sink { writer, .. } = sink;
        match result {
            Ok(()) => {
                blocking(|| writer.commit()).map_err(|e| match e {
                    StoreError::DigestMismatch { expected, actual } => Error::Content {
                        what: format!("blob {expected}"),
                        message: format!("digest mismatch: got `{actual}`"),
                    },
                    StoreError::SizeMismatch {
                        what,
                        expected,
                        actual,
                    } => Error::Content {
                        what: format!("blob {what}"),
                        message: format!("size mismatch: expected {expected} bytes, got {actual}"),
                    },
                    e => Error::Store(e),
                })?;
                Ok(FetchOutcome::Downloaded { resumed_from })
            }
            Err(e @ Error::Content { .. }) => {
                drop(writer); // discards the ingest
                Err(e)
            }
            Err(e) => {
                // Keep what was written for the next pull (the error may be the network's).
                let _ = blocking(|| writer.suspend());
                Err(e)
            }
        }
    }

    /// Fetches the rest of the blob from one endpoint, retrying transient failures from the
    /// current offset. Returns when the server has sent everything it has.
    async fn download(&self, ep: &Endpoint, sink: &mut Sink<'_>, scopes: &[String]) -> Result<(), Error> {
        let cfg = self.cfg().clone();
        let url = ep.url(&self.blob_path(&sink.digest))?;
        let what = format!("blob {}", sink.digest);
        let mut attempt = 0u32;
        loop {
            let offset = sink.offset();
            if sink.total == Some(offset) {
                return Ok(());
            }
            let mut req = self.plain_get(url.clone(), scopes);
            if offset > 0 {
                req.headers.insert(
                    RANGE,
                    HeaderValue::from_str(&format!("bytes={offset}-")).expect("digits"),
                );
            }
            let resp = self.send(ep, &req).await?;
            let status = resp.status().as_u16();
            let skip = match status {
                200 => offset,
                206 => {
                    let start = resp
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(content_range_start);
                    match start {
                        Some(s) if s <= offset => offset - s,
                        _ => {
                            return Err(Error::Protocol(format!(
                                "{what}: asked for bytes from {offset}, the registry sent a range starting at {start:?}"
                            )))
                        }
                    }
                }
                _ => return Err(error_from(resp, &format!("cannot fetch {what}"), &what).await),
            };
            let before = sink.offset();
            match self.stream_body(resp, skip, sink, &url).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() => {
                    if sink.offset() > before {
                        attempt = 0; // progress was made: this is a new failure, not the same one
                    }
                    if attempt >= cfg.max_retries {
                        return Err(e);
                    }
                    tokio::time::sleep(backoff(attempt, cfg.retry_delay, cfg.max_retry_delay, None)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Copies a response body into the sink, dropping its first `skip` bytes. A reader task
    /// pulls from the socket while this one writes, so network and disk overlap.
    async fn stream_body(
        &self,
        resp: Response,
        mut skip: u64,
        sink: &mut Sink<'_>,
        url: &Url,
    ) -> Result<(), Error> {
        let (tx, mut rx) = mpsc::channel::<Result<Bytes, Error>>(CHANNEL_CHUNKS);
        let url_s = url.to_string();
        let _reader = AbortOnDrop(tokio::spawn(async move {
            let mut stream = resp.bytes_stream();
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| Error::http(&Method::GET, &url_s, &e));
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        }));
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        let mut ended = false;
        while !ended {
            // Wait for one chunk, then take whatever else is already there, up to a batch.
            let mut next = rx.recv().await;
            loop {
                match next {
                    None => {
                        ended = true;
                        break;
                    }
                    Some(Err(e)) => {
                        if !batch.is_empty() {
                            sink.write_batch(&batch)?;
                        }
                        return Err(e);
                    }
                    Some(Ok(mut chunk)) => {
                        if skip > 0 {
                            let n = skip.min(chunk.len() as u64);
                            skip -= n;
                            chunk = chunk.slice(n as usize..);
                        }
                        if !chunk.is_empty() {
                            batch_len += chunk.len();
                            batch.push(chunk);
                        }
                    }
                }
                if batch_len >= BATCH {
                    break;
                }
                match rx.try_recv() {
                    Ok(item) => next = Some(item),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => next = None,
                }
            }
            if !batch.is_empty() {
                sink.write_batch(&batch)?;
                batch.clear();
                batch_len = 0;
            }
        }
        if let Some(total) = sink.total {
            if sink.offset() < total {
                // The server closed early: resume from here.
                return Err(Error::Http {
                    method: "Get".to_owned(),
                    url: url.to_string(),
                    message: format!(
                        "blob {} ended after {} of {total} bytes",
                        sink.digest,
                        sink.offset()
                    ),
                    transient: true,
                });
            }
        }
        Ok(())
    }

    /// Pushes the blob `desc` from `store`: nothing when the registry has it, a cross-repository
    /// mount when `mount_from` names a repository of the same registry (`path` or
    /// `domain/path`), otherwise an upload (`POST` then one streamed `PUT`). Transient failures
    /// restart the upload.
    pub async fn push_blob(
        &self,
        store: &ContentStore,
        desc: &Descriptor,
        mount_from: Option<&str>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<PushOutcome, Error> {
        let digest = desc.digest.clone();
        let size = store.info(&digest)?;
        if u64::try_from(desc.size).is_ok_and(|s| s != size) {
            return Err(Error::InvalidArgument(format!(
                "blob {digest} is {size} bytes in the store, its descriptor says {}",
                desc.size
            )));
        }
        let mount = mount_from.and_then(|m| self.mount_source(m));
        let scopes = self.push_scopes(mount.as_deref());
        let cfg = self.cfg().clone();
        each_site!(self, true, |ep| async {
            if self.blob_exists_on(ep, &digest, &scopes).await?.is_some() {
                progress(size, size);
                return Ok(PushOutcome::Exists);
            }
            let mut attempt = 0u32;
            loop {
                let result: Result<PushOutcome, Error> = async {
                    let location = match self.start_upload(ep, &digest, mount.as_deref(), &scopes).await? {
                        Started::Mounted => return Ok(PushOutcome::Mounted),
                        Started::Upload(loc) => loc,
                    };
                    self.put_upload(ep, store, &digest, size, location, &scopes, &mut *progress)
                        .await?;
                    Ok(PushOutcome::Pushed)
                }
                .await;
                match result {
                    Err(e) if e.is_transient() && attempt < cfg.max_retries => {
                        tokio::time::sleep(backoff(attempt, cfg.retry_delay, cfg.max_retry_delay, None))
                            .await;
                        attempt += 1;
                    }
                    Ok(PushOutcome::Mounted) => {
                        progress(size, size);
                        return Ok(PushOutcome::Mounted);
                    }
                    other => return other,
                }
            }
        }
        .await)
    }

    /// The repository path to mount from, when `m` is on this registry and not this repository.
    fn mount_source(&self, m: &str) -> Option<String> {
        let m = m.trim_matches('/');
        let path = match m.split_once('/') {
            Some((first, rest)) if first.eq_ignore_ascii_case(&self.inner.domain) => rest,
            // A first component that looks like a host names another registry.
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => return None,
            _ if self.inner.domain == "docker.io" && !m.contains('/') => return Some(format!("library/{m}")),
            _ => m,
        };
        (!path.is_empty() && path != self.inner.path).then(|| path.to_owned())
    }

    async fn start_upload(
        &self,
        ep: &Endpoint,
        digest: &Digest,
        mount: Option<&str>,
        scopes: &[String],
    ) -> Result<Started, Error> {
        let mut url = ep.url(&format!("/v2/{}/blobs/uploads/", self.inner.path))?;
        if let Some(from) = mount {
            url.query_pairs_mut()
                .append_pair("mount", digest.as_str())
                .append_pair("from", from);
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let req = Req {
            method: Method::POST,
            url: url.clone(),
            scopes,
            headers,
            body: None,
            // Starting an upload changes nothing until it is used: safe to repeat.
            retry: true,
        };
        let resp = self.send(ep, &req).await?;
        let status = resp.status().as_u16();
        if status == 201 && mount.is_some() {
            return Ok(Started::Mounted);
        }
        if status != 202 {
            return Err(error_from(
                resp,
                &format!("cannot start the upload of blob {digest}"),
                &format!("repository {}", self.inner.familiar),
            )
            .await);
        }
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "the registry started an upload at `{url}` without a Location"
                ))
            })?;
        let loc = url
            .join(loc)
            .map_err(|e| Error::Protocol(format!("invalid upload location `{loc}`: {e}")))?;
        Ok(Started::Upload(loc))
    }

    /// One `PUT` with the whole blob, streamed from the store file.
    #[allow(clippy::too_many_arguments)]
    async fn put_upload(
        &self,
        ep: &Endpoint,
        store: &ContentStore,
        digest: &Digest,
        size: u64,
        mut location: Url,
        scopes: &[String],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(), Error> {
        location.query_pairs_mut().append_pair("digest", digest.as_str());
        let file = store.open_blob(digest)?;
        let (sent_tx, mut sent_rx) = tokio::sync::watch::channel(0u64);
        let body =
            futures_util::stream::try_unfold((file, 0u64, sent_tx), |(mut file, sent, tx)| async move {
                let (file, buf) = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0u8; UPLOAD_CHUNK];
                    let mut n = 0;
                    while n < buf.len() {
                        match file.read(&mut buf[n..]) {
                            Ok(0) => break,
                            Ok(k) => n += k,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    buf.truncate(n);
                    Ok((file, buf))
                })
                .await
                .map_err(io::Error::other)??;
                if buf.is_empty() {
                    return Ok::<_, io::Error>(None);
                }
                let sent = sent + buf.len() as u64;
                let _ = tx.send(sent);
                Ok(Some((Bytes::from(buf), (file, sent, tx))))
            });
        let mut b = ep
            .http
            .put(location.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        if ep.same_origin(&location) {
            if let Some(a) = self.authorization(ep, scopes).await? {
                b = b.header(AUTHORIZATION, a);
            }
        }
        let send = b.send();
        tokio::pin!(send);
        let resp = loop {
            tokio::select! {
                r = &mut send => break r,
                changed = sent_rx.changed() => {
                    if changed.is_ok() {
                        let v = *sent_rx.borrow_and_update();
                        progress(v, size);
                    }
                }
            }
        };
        let resp = resp.map_err(|e| Error::http(&Method::PUT, location.as_str(), &e))?;
        if resp.status().as_u16() != 201 && !resp.status().is_success() {
            return Err(error_from(
                resp,
                &format!("cannot upload blob {digest}"),
                &format!("upload of blob {digest}"),
            )
            .await);
        }
        progress(size, size);
        Ok(())
    }
}

enum Started {
    Mounted,
    Upload(Url),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> Repository {
        let client = crate::Client::new(crate::Config::default()).unwrap();
        let r = berth_image::reference::parse_normalized_named(name).unwrap();
        client.repository(&r, None)
    }

    #[test]
    fn mount_sources_and_scopes() {
        let r = repo("127.0.0.1:5000/team/b");
        assert_eq!(r.mount_source("team/a").as_deref(), Some("team/a"));
        assert_eq!(r.mount_source("127.0.0.1:5000/team/a").as_deref(), Some("team/a"));
        assert_eq!(r.mount_source("other.example.com/team/a"), None);
        assert_eq!(r.mount_source("localhost/team/a"), None);
        assert_eq!(r.mount_source("team/b"), None, "not from itself");
        assert_eq!(
            r.push_scopes(Some("team/a")),
            ["repository:team/b:pull,push", "repository:team/a:pull"]
        );
        assert_eq!(r.pull_scopes(), ["repository:team/b:pull"]);
        let hub = repo("busybox");
        assert_eq!(hub.pull_scopes(), ["repository:library/busybox:pull"]);
        assert_eq!(hub.mount_source("alpine").as_deref(), Some("library/alpine"));
        assert_eq!(hub.mount_source("docker.io/user/x").as_deref(), Some("user/x"));
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
