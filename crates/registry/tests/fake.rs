//! The client against a fake registry that misbehaves on purpose: corrupt data, transient
//! failures, ignored ranges, redirects to storage, bearer tokens. Loopback only; no root needed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use berth_image::store::ContentStore;
use berth_registry::{Credentials, Error, FetchOutcome};
use common::*;

const REPO: &str = "test/app";

fn range_start(r: &Recorded) -> Option<usize> {
    r.header("range")?
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

/// Serves `blob` at its blob path, honouring Range requests.
fn serve_blob(r: &Recorded, blob: &[u8]) -> Reply {
    match range_start(r) {
        Some(start) => Reply::new(206, blob[start..].to_vec()).header(
            "Content-Range",
            &format!("bytes {start}-{}/{}", blob.len() - 1, blob.len()),
        ),
        None => Reply::new(200, blob.to_vec()),
    }
}

async fn fetch(
    repo: &berth_registry::Repository,
    store: &ContentStore,
    desc: &berth_image::manifest::Descriptor,
) -> (Result<FetchOutcome, Error>, Vec<u8>, Vec<(u64, u64)>) {
    let mut got = Vec::new();
    let mut progress = Vec::new();
    let r = repo
        .fetch_blob_into(
            store,
            desc,
            &mut |c: &[u8]| {
                got.extend_from_slice(c);
                Ok(())
            },
            &mut |done, total| progress.push((done, total)),
        )
        .await;
    (r, got, progress)
}

fn new_store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn corrupt_blob_is_rejected_and_leaves_nothing() {
    let blob = blob_bytes(300_000, 1);
    let desc = layer_desc(&blob);
    let mut bad = blob.clone();
    bad[1234] ^= 0xff;
    let blob_path = format!("/v2/{REPO}/blobs/{}", desc.digest);
    let path2 = blob_path.clone();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        p if p == path2 => Reply::new(200, bad.clone()),
        _ => Reply::new(404, ""),
    })
    .await;
    let (_d, store) = new_store();
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, _, _) = fetch(&repo, &store, &desc).await;
    let err = r.unwrap_err();
    assert!(matches!(err, Error::Content { .. }), "{err:?}");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!store.exists(&desc.digest).unwrap());
    let fsck = store.fsck().unwrap();
    assert!(
        fsck.resumable.is_empty() && fsck.orphans.is_empty() && fsck.active == 0,
        "{fsck:?}"
    );
    assert_eq!(
        srv.requests_to(&blob_path).len(),
        1,
        "content errors are not retried"
    );

    // Too long is refused as it streams, too.
    let long = [blob.as_slice(), b"extra"].concat();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        _ => Reply::new(200, long.clone()),
    })
    .await;
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, _, _) = fetch(&repo, &store, &desc).await;
    assert!(matches!(r, Err(Error::Content { .. })), "{r:?}");
    assert!(store.fsck().unwrap().resumable.is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_from_the_bytes_written() {
    let blob = blob_bytes(2_000_000, 2);
    let desc = layer_desc(&blob);
    let blob_path = format!("/v2/{REPO}/blobs/{}", desc.digest);
    let n = Arc::new(AtomicUsize::new(0));
    let (b, p, n2) = (blob.clone(), blob_path.clone(), n.clone());
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        x if x == p => match n2.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::new(503, "busy"),
            1 => Reply::new(500, r#"{"errors":[{"code":"UNKNOWN","message":"oops"}]}"#),
            // Announces everything, sends 700 kB, closes.
            2 => serve_blob(r, &b).cut_after(700_000),
            _ => serve_blob(r, &b),
        },
        _ => Reply::new(404, ""),
    })
    .await;
    let (_d, store) = new_store();
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, got, progress) = fetch(&repo, &store, &desc).await;
    assert_eq!(r.unwrap(), FetchOutcome::Downloaded { resumed_from: 0 });
    assert!(got == blob, "on_chunk saw the blob in order");
    assert_eq!(store.read_all(&desc.digest).unwrap(), blob);
    let reqs = srv.requests_to(&blob_path);
    assert_eq!(reqs.len(), 4);
    assert_eq!(range_start(&reqs[2]), None);
    let resumed = range_start(&reqs[3]).expect("the retry asks for the rest");
    assert!(resumed > 0 && resumed <= 700_000, "{resumed}");
    assert_eq!(progress.last(), Some(&(2_000_000, 2_000_000)));
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));

    // Nothing but failures: the error is transient and what arrived is kept for later.
    let (b2, p2) = (blob.clone(), blob_path.clone());
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        x if x == p2 && range_start(r).is_none() => serve_blob(r, &b2).cut_after(100_000),
        _ => Reply::new(502, "bad gateway"),
    })
    .await;
    let (_d, store) = new_store();
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, _, _) = fetch(&repo, &store, &desc).await;
    let err = r.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("502 Bad Gateway"), "{err}");
    let fsck = store.fsck().unwrap();
    assert_eq!(fsck.resumable.len(), 1, "{fsck:?}");
    assert!(fsck.resumable[0].size > 0);
    // 1 + max_retries (3) attempts after the cut one.
    assert_eq!(srv.requests_to(&blob_path).len(), 1 + 4);
}

#[tokio::test]
async fn a_partial_ingest_is_resumed_with_a_range_request() {
    let blob = blob_bytes(1_500_000, 3);
    let desc = layer_desc(&blob);
    let blob_path = format!("/v2/{REPO}/blobs/{}", desc.digest);
    let (_d, store) = new_store();
    let mut w = store
        .writer(Some(desc.digest.clone()), Some(blob.len() as u64))
        .unwrap();
    std::io::Write::write_all(&mut w, &blob[..600_000]).unwrap();
    assert_eq!(w.suspend().unwrap(), 600_000);

    let (b, p) = (blob.clone(), blob_path.clone());
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        x if x == p => serve_blob(r, &b),
        _ => Reply::new(404, ""),
    })
    .await;
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, got, progress) = fetch(&repo, &store, &desc).await;
    assert_eq!(
        r.unwrap(),
        FetchOutcome::Downloaded {
            resumed_from: 600_000
        }
    );
    assert!(got == blob, "on_chunk saw the whole blob, the resumed part first");
    let reqs = srv.requests_to(&blob_path);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("range"), Some("bytes=600000-"));
    assert_eq!(progress.first(), Some(&(600_000, 1_500_000)));
    assert_eq!(store.read_all(&desc.digest).unwrap(), blob);

    // Present now: nothing is fetched.
    let (r, got, _) = fetch(&repo, &store, &desc).await;
    assert_eq!(r.unwrap(), FetchOutcome::AlreadyPresent);
    assert!(got.is_empty());
    assert_eq!(srv.requests_to(&blob_path).len(), 1);
}

#[tokio::test]
async fn a_server_ignoring_range_sends_everything_and_the_blob_is_still_right() {
    let blob = blob_bytes(1_200_000, 4);
    let desc = layer_desc(&blob);
    let (_d, store) = new_store();
    let mut w = store
        .writer(Some(desc.digest.clone()), Some(blob.len() as u64))
        .unwrap();
    std::io::Write::write_all(&mut w, &blob[..500_000]).unwrap();
    w.suspend().unwrap();
    let b = blob.clone();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        _ => Reply::new(200, b.clone()),
    })
    .await;
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let (r, got, _) = fetch(&repo, &store, &desc).await;
    assert_eq!(
        r.unwrap(),
        FetchOutcome::Downloaded {
            resumed_from: 500_000
        }
    );
    assert!(got == blob, "each byte once, in order");
    assert_eq!(store.read_all(&desc.digest).unwrap(), blob);
    let reqs = srv.requests_to(&format!("/v2/{REPO}/blobs/{}", desc.digest));
    assert_eq!(reqs[0].header("range"), Some("bytes=500000-"));
}

#[tokio::test]
async fn a_failing_consumer_stops_the_download_and_keeps_the_partial() {
    let blob = blob_bytes(3_000_000, 5);
    let desc = layer_desc(&blob);
    let b = blob.clone();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        _ => serve_blob(r, &b),
    })
    .await;
    let (_d, store) = new_store();
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let mut calls = 0;
    let r = repo
        .fetch_blob_into(
            &store,
            &desc,
            &mut |_c: &[u8]| {
                calls += 1;
                if calls == 2 {
                    Err(std::io::Error::other("disk full"))
                } else {
                    Ok(())
                }
            },
            &mut |_, _| {},
        )
        .await;
    let err = r.unwrap_err();
    assert!(matches!(err, Error::Consumer { .. }), "{err:?}");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(store.fsck().unwrap().resumable.len(), 1);
    // The next attempt resumes and hands over everything from byte 0.
    let (r, got, _) = fetch(&repo, &store, &desc).await;
    assert!(matches!(r.unwrap(), FetchOutcome::Downloaded { resumed_from } if resumed_from > 0));
    assert!(got == blob);
}

/// A registry that wants bearer tokens from its own token endpoint and sends blobs to a storage
/// server by redirect.
#[tokio::test]
async fn bearer_tokens_and_redirects_to_storage() {
    let blob = blob_bytes(400_000, 6);
    let desc = layer_desc(&blob);
    let b = blob.clone();
    let storage = FakeServer::start(move |_| Reply::new(200, b.clone())).await;
    let storage_addr = storage.addr.clone();

    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let manifest_digest = digest_of(&manifest);
    let tokens = Arc::new(AtomicUsize::new(0));
    let tokens2 = tokens.clone();
    let addr_cell = Arc::new(std::sync::OnceLock::<String>::new());
    let addr2 = addr_cell.clone();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let blob_path = format!("/v2/{REPO}/blobs/{}", desc.digest);
    let m = manifest.clone();
    let srv = FakeServer::start(move |r| {
        let me = addr2.get().unwrap();
        let challenge = format!(r#"Bearer realm="http://{me}/token",service="fake-registry""#);
        if r.path() == "/token" {
            tokens2.fetch_add(1, Ordering::SeqCst);
            let q = &r.target;
            if r.header("authorization") != Some(basic.as_str()) {
                return Reply::new(401, r#"{"details":"incorrect username or password"}"#);
            }
            assert!(q.contains("service=fake-registry"), "{q}");
            assert!(q.contains("scope=repository%3Atest%2Fapp%3Apull"), "{q}");
            assert!(q.contains("account=alice"), "{q}");
            return Reply::new(200, r#"{"token":"tok-123","expires_in":300}"#);
        }
        if r.header("authorization") != Some("Bearer tok-123") {
            return Reply::new(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
            .header("WWW-Authenticate", &challenge);
        }
        match r.path() {
            "/v2/" => Reply::new(200, "{}"),
            "/v2/test/app/manifests/v1" => Reply::new(200, m.clone())
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
            p if p == blob_path => {
                Reply::new(307, "").header("Location", &format!("http://{storage_addr}/data/blob?sig=x"))
            }
            _ => Reply::new(
                404,
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
            ),
        }
    })
    .await;
    addr_cell.set(srv.addr.clone()).unwrap();
    let reference = reference(&format!("{}/{REPO}", srv.addr));

    // Anonymous: the token server refuses.
    let anon = client().repository(&reference, None);
    let err = anon.get_manifest("v1").await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.to_string(), "unauthorized: incorrect username or password");

    let c = client();
    let repo = c.repository(&reference, Some(Credentials::basic("alice", "s3cret")));
    let (bytes, media_type, digest) = repo.get_manifest("v1").await.unwrap();
    assert_eq!(bytes, manifest);
    assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(digest, manifest_digest);
    let (_d, store) = new_store();
    let (r, got, _) = fetch(&repo, &store, &desc).await;
    r.unwrap();
    assert!(got == blob);
    let before = tokens.load(Ordering::SeqCst);
    // Another handle of the same client reuses the cached token.
    let again = c.repository(&reference, Some(Credentials::basic("alice", "s3cret")));
    again.get_manifest("v1").await.unwrap();
    assert_eq!(tokens.load(Ordering::SeqCst), before, "token cached");
    assert_eq!(before, 2, "one refused anonymous request, one token for alice");

    let s = storage.requests();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].target, "/data/blob?sig=x");
    assert_eq!(
        s[0].header("authorization"),
        None,
        "credentials stay on the registry"
    );

    let err = repo.get_manifest("nope").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/{REPO}:nope not found: name unknown: repository name not known to registry",
            srv.addr
        )
    );
}

#[tokio::test]
async fn login_with_tokens_returns_the_identity_token() {
    let addr_cell = Arc::new(std::sync::OnceLock::<String>::new());
    let addr2 = addr_cell.clone();
    let srv = FakeServer::start(move |r| {
        let me = addr2.get().unwrap();
        match (r.method.as_str(), r.path()) {
            ("GET", "/token") => {
                assert!(r.target.contains("offline_token=true"), "{}", r.target);
                if r.header("authorization").is_none() {
                    return Reply::new(401, "{}");
                }
                Reply::new(200, r#"{"access_token":"at","refresh_token":"refresh-1"}"#)
            }
            ("POST", "/token") => {
                let body = String::from_utf8_lossy(&r.body).to_string();
                assert!(body.contains("grant_type=refresh_token"), "{body}");
                if !body.contains("refresh_token=refresh-1") {
                    return Reply::new(
                        400,
                        r#"{"error":"invalid_grant","error_description":"bad refresh token"}"#,
                    );
                }
                Reply::new(200, r#"{"access_token":"at2","expires_in":60}"#)
            }
            (_, "/v2/") => match r.header("authorization") {
                Some("Bearer at") | Some("Bearer at2") => Reply::new(200, "{}"),
                _ => Reply::new(401, "").header(
                    "WWW-Authenticate",
                    &format!(r#"Bearer realm="http://{me}/token",service="svc""#),
                ),
            },
            _ => Reply::new(404, ""),
        }
    })
    .await;
    addr_cell.set(srv.addr.clone()).unwrap();
    let c = client();
    let token = c
        .login(&srv.addr, &Credentials::basic("bob", "pw"))
        .await
        .unwrap();
    assert_eq!(token.as_deref(), Some("refresh-1"));
    let with_identity = Credentials {
        identity_token: "refresh-1".into(),
        ..Credentials::default()
    };
    assert_eq!(
        c.login(&format!("http://{}/v2/", srv.addr), &with_identity)
            .await
            .unwrap(),
        None
    );
    let bad = Credentials {
        identity_token: "stale".into(),
        ..Credentials::default()
    };
    let err = c.login(&srv.addr, &bad).await.unwrap_err();
    assert!(err.to_string().contains("bad refresh token"), "{err}");
}

#[tokio::test]
async fn rate_limits_wait_and_retry() {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let manifest =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
            .to_vec();
    let m = manifest.clone();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        _ if n2.fetch_add(1, Ordering::SeqCst) == 0 => Reply::new(
            429,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        )
        .header("Retry-After", "0"),
        // No useful Content-Type: the document says what it is.
        _ => Reply::new(200, m.clone()).header("Content-Type", "application/json"),
    })
    .await;
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    let d = digest_of(&manifest);
    let (bytes, mt, digest) = repo.get_manifest(d.as_str()).await.unwrap();
    assert_eq!(
        (bytes, mt.as_str(), digest),
        (manifest, "application/vnd.oci.image.index.v1+json", d)
    );
    assert_eq!(n.load(Ordering::SeqCst), 2);

    // A manifest fetched by digest must hash to it.
    let other = digest_of(b"something else");
    let err = repo.get_manifest(other.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::Content { .. }), "{err:?}");
}

#[tokio::test]
async fn small_blobs_are_verified_and_bounded() {
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let d = digest_of(&config);
    let c2 = config.clone();
    let srv = FakeServer::start(move |r| match r.path() {
        "/v2/" => Reply::new(200, "{}"),
        p if p.ends_with(d.as_str()) => Reply::new(200, c2.clone()),
        _ => Reply::new(200, "tampered"),
    })
    .await;
    let repo = client().repository(&reference(&format!("{}/{REPO}", srv.addr)), None);
    assert_eq!(
        repo.fetch_blob_bytes(&digest_of(&config), 1 << 20).await.unwrap(),
        config
    );
    assert!(repo.fetch_blob_bytes(&digest_of(&config), 10).await.is_err());
    let err = repo
        .fetch_blob_bytes(&digest_of(b"x"), 1 << 20)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Content { .. }), "{err:?}");
}

#[tokio::test]
async fn connection_refused_names_the_url_and_fails_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let repo = client().repository(&reference(&format!("127.0.0.1:{port}/{REPO}")), None);
    let started = std::time::Instant::now();
    let err = repo.get_manifest("latest").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("Get \"http://127.0.0.1:{port}/v2/\": ")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("connection refused"), "{msg}");
    assert!(!err.is_transient());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let c = client();
    let repo = c.repository(&reference("127.0.0.1:1/x"), None);
    let (_d, store) = new_store();
    let desc = layer_desc(b"x");
    let mut on_chunk = |_: &[u8]| Ok(());
    let mut progress = |_: u64, _: u64| {};
    assert_send(&repo.fetch_blob_into(&store, &desc, &mut on_chunk, &mut progress));
    assert_send(&repo.push_blob(&store, &desc, Some("y"), &mut progress));
    assert_send(&repo.get_manifest("latest"));
    assert_send(&repo.put_manifest("latest", b"{}", "application/json"));
    assert_send(&c.login("127.0.0.1:1", &Credentials::default()));
}
