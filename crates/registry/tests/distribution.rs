//! The client against the real thing: Debian's docker-registry (distribution 2.8) on loopback.
//! Needs root and the registry binary; skipped with a message otherwise.

mod common;

use berth_image::manifest::{Descriptor, OCI_CONFIG, OCI_MANIFEST};
use berth_image::store::ContentStore;
use berth_registry::{Credentials, Error, FetchOutcome, PushOutcome};
use berth_testkit::registry::Registry;
use berth_testkit::require_registry;
use common::*;

struct Image {
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    manifest: Vec<u8>,
    /// The config's descriptor, then the layers'.
    descs: Vec<Descriptor>,
}

impl Image {
    fn descs(&self) -> Vec<Descriptor> {
        self.descs.clone()
    }
}

/// An image of `layers` random layers, its blobs written to `store`.
fn image(store: &ContentStore, seed: u8, layer_sizes: &[usize]) -> Image {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":{seed}}}"#
    )
    .into_bytes();
    let layers: Vec<Vec<u8>> = layer_sizes
        .iter()
        .enumerate()
        .map(|(i, n)| blob_bytes(*n, seed.wrapping_mul(31).wrapping_add(i as u8)))
        .collect();
    store.write_blob(&config, None).unwrap();
    for l in &layers {
        store.write_blob(l, None).unwrap();
    }
    let mut descs = vec![Descriptor::for_bytes(OCI_CONFIG, &config)];
    descs.extend(layers.iter().map(|l| layer_desc(l)));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descs[0],
        "layers": descs[1..],
    }))
    .unwrap();
    Image {
        config,
        layers,
        manifest,
        descs,
    }
}

async fn push_image(
    repo: &berth_registry::Repository,
    store: &ContentStore,
    img: &Image,
    tag: &str,
) -> Vec<PushOutcome> {
    let mut outcomes = Vec::new();
    for d in img.descs() {
        let mut last = (0, 0);
        let o = repo
            .push_blob(store, &d, None, &mut |done, total| last = (done, total))
            .await
            .unwrap();
        assert_eq!(last, (d.size as u64, d.size as u64), "progress ends at the size");
        outcomes.push(o);
    }
    let digest = repo.put_manifest(tag, &img.manifest, OCI_MANIFEST).await.unwrap();
    assert_eq!(digest, digest_of(&img.manifest));
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_gives_identical_content() {
    require_registry!();
    let reg = Registry::start();
    let (_d1, src) = {
        let d = tempfile::tempdir().unwrap();
        let s = ContentStore::open(d.path()).unwrap();
        (d, s)
    };
    let img = image(&src, 1, &[5_000_000, 1_000, 0]);
    let client = client();
    let repo = client.repository(&reference(&format!("{}/berth/test", reg.addr())), None);
    let outcomes = push_image(&repo, &src, &img, "v1").await;
    assert!(outcomes.iter().all(|o| *o == PushOutcome::Pushed), "{outcomes:?}");

    // Pushing again uploads nothing.
    let outcomes = push_image(&repo, &src, &img, "v1").await;
    assert!(outcomes.iter().all(|o| *o == PushOutcome::Exists), "{outcomes:?}");

    // Pull into a fresh store through a fresh client.
    let (_d2, dst) = {
        let d = tempfile::tempdir().unwrap();
        let s = ContentStore::open(d.path()).unwrap();
        (d, s)
    };
    let client = common::client();
    let repo = client.repository(&reference(&format!("{}/berth/test:v1", reg.addr())), None);
    let (bytes, media_type, digest) = repo.get_manifest("v1").await.unwrap();
    assert_eq!(bytes, img.manifest);
    assert_eq!(media_type, OCI_MANIFEST);
    assert_eq!(digest, digest_of(&img.manifest));
    let (by_digest, _, _) = repo.get_manifest(digest.as_str()).await.unwrap();
    assert_eq!(by_digest, img.manifest);
    let head = repo.head_manifest("v1").await.unwrap().unwrap();
    assert_eq!(
        head,
        (digest.clone(), OCI_MANIFEST.to_owned(), img.manifest.len() as u64)
    );
    assert_eq!(repo.head_manifest("v2").await.unwrap(), None);

    let descs = img.descs();
    assert_eq!(
        repo.fetch_blob_bytes(&descs[0].digest, 1 << 20).await.unwrap(),
        img.config
    );
    for (d, want) in descs[1..].iter().zip(&img.layers) {
        assert_eq!(
            repo.blob_exists(&d.digest).await.unwrap(),
            Some(want.len() as u64)
        );
        let mut got = Vec::new();
        let o = repo
            .fetch_blob_into(
                &dst,
                d,
                &mut |c: &[u8]| {
                    got.extend_from_slice(c);
                    Ok(())
                },
                &mut |_, _| {},
            )
            .await
            .unwrap();
        assert_eq!(o, FetchOutcome::Downloaded { resumed_from: 0 });
        assert!(got == *want);
        assert_eq!(dst.read_all(&d.digest).unwrap(), *want);
    }
    assert_eq!(repo.blob_exists(&digest_of(b"nothing")).await.unwrap(), None);

    // Docker's words for a missing tag.
    let err = repo.get_manifest("bar").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/berth/test:bar not found: manifest unknown: manifest unknown",
            reg.addr()
        )
    );
    let missing = digest_of(b"missing");
    let err = repo
        .fetch_blob_into(
            &dst,
            &layer_desc(b"missing"),
            &mut |_: &[u8]| Ok(()),
            &mut |_, _| {},
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains(missing.as_str()), "{err}");
}

#[tokio::test]
async fn blobs_are_mounted_across_repositories() {
    require_registry!();
    let reg = Registry::start();
    let d = tempfile::tempdir().unwrap();
    let store = ContentStore::open(d.path()).unwrap();
    let img = image(&store, 2, &[100_000]);
    let client = client();
    let a = client.repository(&reference(&format!("{}/team/a", reg.addr())), None);
    push_image(&a, &store, &img, "latest").await;

    let b = client.repository(&reference(&format!("{}/team/b", reg.addr())), None);
    let layer = &img.descs()[1];
    let o = b
        .push_blob(
            &store,
            layer,
            Some(&format!("{}/team/a", reg.addr())),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(o, PushOutcome::Mounted);
    assert_eq!(b.blob_exists(&layer.digest).await.unwrap(), Some(100_000));
    // A source on another registry is not mounted from: a plain upload.
    let config = &img.descs()[0];
    let o = b
        .push_blob(&store, config, Some("other.example.com/team/a"), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(o, PushOutcome::Pushed);
    // A source that lacks the blob: the registry starts a normal upload instead.
    let extra = blob_bytes(1000, 9);
    store.write_blob(&extra, None).unwrap();
    let o = b
        .push_blob(&store, &layer_desc(&extra), Some("team/a"), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(o, PushOutcome::Pushed);
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    require_registry!();
    let reg = Registry::start_with_htpasswd("berth", "s3cret!");
    let client = client();
    assert_eq!(
        client
            .login(&reg.addr(), &Credentials::basic("berth", "s3cret!"))
            .await
            .unwrap(),
        None
    );
    let err = client
        .login(&reg.addr(), &Credentials::basic("berth", "wrong"))
        .await
        .unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.to_string(), "unauthorized: authentication required");

    let d = tempfile::tempdir().unwrap();
    let store = ContentStore::open(d.path()).unwrap();
    let img = image(&store, 3, &[20_000]);
    let r = reference(&format!("{}/private/app", reg.addr()));
    let repo = client.repository(&r, Some(Credentials::basic("berth", "s3cret!")));
    push_image(&repo, &store, &img, "1.0").await;
    assert_eq!(repo.get_manifest("1.0").await.unwrap().0, img.manifest);

    let anon = client.repository(&r, None);
    let err = anon.get_manifest("1.0").await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.to_string(), "unauthorized: authentication required");
    let wrong = client.repository(&r, Some(Credentials::basic("berth", "nope")));
    let err = wrong.get_manifest("1.0").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[test]
fn the_harness_cleans_up_after_a_panic() {
    require_registry!();
    let (dir, addr) = {
        let reg = Registry::start();
        (reg.storage(), reg.addr())
    };
    assert!(!dir.exists());
    let r = std::panic::catch_unwind(|| {
        let reg = Registry::start();
        std::fs::write(reg.storage().join("marker"), "x").unwrap();
        panic!("{}", reg.storage().display());
    });
    let dir2 = std::path::PathBuf::from(*r.unwrap_err().downcast::<String>().unwrap());
    assert!(!dir2.exists(), "removed during unwinding");
    assert!(
        berth_testkit::registry::http_status(&addr, "/v2/").is_err(),
        "process gone"
    );
}
