//! Manifests and indexes: fetch by tag or digest (verified), check, push.

use berth_image::digest::Digest;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use url::Url;

use crate::client::{
    each_site, error_from, header_str, read_limited, Repository, Req, DOCKER_CONTENT_DIGEST,
};
use crate::{Error, MANIFEST_ACCEPT, MAX_MANIFEST_SIZE};

/// A tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) or a digest: what may follow `/manifests/`.
fn check_manifest_ref(r: &str) -> Result<Option<Digest>, Error> {
    if r.contains(':') {
        return Digest::parse(r)
            .map(Some)
            .map_err(|e| Error::InvalidArgument(format!("invalid manifest digest `{r}`: {e}")));
    }
    let ok = !r.is_empty()
        && r.len() <= 128
        && !r.starts_with(['.', '-'])
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(None)
    } else {
        Err(Error::InvalidArgument(format!("invalid tag `{r}`")))
    }
}

/// The media type a manifest was served as: `Content-Type` without parameters, or the
/// document's own when the header says nothing useful.
fn manifest_media_type(header: Option<&str>, bytes: &[u8]) -> String {
    let ct = header
        .and_then(|h| h.split(';').next())
        .map(|h| h.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let generic = matches!(
        ct.as_str(),
        "" | "application/json" | "text/plain" | "application/octet-stream"
    );
    if generic {
        if let Ok(kind) = berth_image::manifest::parse_manifest(None, bytes) {
            return kind.media_type().to_owned();
        }
    }
    ct
}

/// The digest of fetched manifest bytes, checked against what it was asked by and what the
/// registry claims.
fn manifest_digest(
    bytes: &[u8],
    by_digest: Option<&Digest>,
    header: Option<&str>,
    name: &str,
) -> Result<Digest, Error> {
    let mismatch = |expected: &Digest, actual: &Digest| Error::Content {
        what: format!("manifest for {name}"),
        message: format!("digest mismatch: expected `{expected}`, got `{actual}`"),
    };
    if let Some(expected) = by_digest {
        let actual = Digest::of(expected.algorithm(), bytes);
        if actual != *expected {
            return Err(mismatch(expected, &actual));
        }
        return Ok(actual);
    }
    let actual = Digest::sha256_of(bytes);
    if let Some(claimed) = header.and_then(|h| Digest::parse(h).ok()) {
        let ours = Digest::of(claimed.algorithm(), bytes);
        if ours != claimed {
            return Err(mismatch(&claimed, &ours));
        }
    }
    Ok(actual)
}

impl Repository {
    /// The name of a manifest in messages: `busybox:latest`, `127.0.0.1:5000/foo@sha256:...`.
    fn manifest_name(&self, reference: &str) -> String {
        let sep = if reference.contains(':') { '@' } else { ':' };
        format!("{}{sep}{reference}", self.inner.familiar)
    }

    /// Fetches a manifest or index by tag or digest. Returns its bytes, media type and digest. By
    /// digest, the bytes are verified against it; by tag, the digest is computed (sha256) and
    /// checked against the registry's `Docker-Content-Digest` when it sends one.
    pub async fn get_manifest(&self, reference: &str) -> Result<(Vec<u8>, String, Digest), Error> {
        let by_digest = check_manifest_ref(reference)?;
        let name = self.manifest_name(reference);
        let scopes = self.pull_scopes();
        each_site!(self, false, |ep| async {
            let url = ep.url(&format!("/v2/{}/manifests/{reference}", self.inner.path))?;
            let mut resp = self
                .send(ep, &self.manifest_req(Method::GET, url.clone(), &scopes))
                .await?;
            if !resp.status().is_success() {
                return Err(error_from(
                    resp,
                    &format!("cannot fetch manifest for {name}"),
                    &format!("manifest for {name}"),
                )
                .await);
            }
            let header_digest = header_str(&resp, DOCKER_CONTENT_DIGEST).map(str::to_owned);
            let content_type = header_str(&resp, CONTENT_TYPE.as_str()).map(str::to_owned);
            let bytes = read_limited(
                &mut resp,
                MAX_MANIFEST_SIZE,
                &format!("manifest for {name}"),
                url.as_str(),
            )
            .await?;
            let digest = manifest_digest(&bytes, by_digest.as_ref(), header_digest.as_deref(), &name)?;
            let media_type = manifest_media_type(content_type.as_deref(), &bytes);
            Ok((bytes, media_type, digest))
        }
        .await)
    }

    /// The repository's tags (`GET /v2/<name>/tags/list`, following `Link` pages), sorted.
    pub async fn tags(&self) -> Result<Vec<String>, Error> {
        let scopes = self.pull_scopes();
        let name = self.inner.familiar.clone();
        each_site!(self, false, |ep| async {
            let mut tags: Vec<String> = Vec::new();
            let mut path = format!("/v2/{}/tags/list", self.inner.path);
            for _ in 0..1000 {
                let url = ep.url(&path)?;
                let mut resp = self.send(ep, &self.plain_get(url.clone(), &scopes)).await?;
                if !resp.status().is_success() {
                    return Err(error_from(resp, &format!("cannot list the tags of {name}"), &name).await);
                }
                let next = header_str(&resp, "link").and_then(next_link);
                let bytes = read_limited(
                    &mut resp,
                    MAX_MANIFEST_SIZE,
                    &format!("tags of {name}"),
                    url.as_str(),
                )
                .await?;
                #[derive(serde::Deserialize)]
                struct TagList {
                    #[serde(default)]
                    tags: Option<Vec<String>>,
                }
                let list: TagList = serde_json::from_slice(&bytes).map_err(|e| Error::Content {
                    what: format!("tags of {name}"),
                    message: e.to_string(),
                })?;
                tags.extend(list.tags.unwrap_or_default());
                match next {
                    Some(p) => path = p,
                    None => break,
                }
            }
            tags.sort();
            tags.dedup();
            Ok(tags)
        }
        .await)
    }

    fn manifest_req<'a>(&self, method: Method, url: Url, scopes: &'a [String]) -> Req<'a> {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_str(&MANIFEST_ACCEPT.join(", ")).expect("constant media types"),
        );
        Req {
            method,
            url,
            scopes,
            headers,
            body: None,
            retry: true,
        }
    }

    /// `HEAD` on a manifest: its digest, media type and size, or `None` when the registry does
    /// not have it. Falls back to a `GET` when the registry sends no digest header.
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<(Digest, String, u64)>, Error> {
        let by_digest = check_manifest_ref(reference)?;
        let name = self.manifest_name(reference);
        let scopes = self.pull_scopes();
        let head = each_site!(self, false, |ep| async {
            let url = ep.url(&format!("/v2/{}/manifests/{reference}", self.inner.path))?;
            let resp = self
                .send(ep, &self.manifest_req(Method::HEAD, url, &scopes))
                .await?;
            let status = resp.status().as_u16();
            if status == 404 {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(error_from(
                    resp,
                    &format!("cannot check manifest for {name}"),
                    &format!("manifest for {name}"),
                )
                .await);
            }
            let digest = header_str(&resp, DOCKER_CONTENT_DIGEST).and_then(|d| Digest::parse(d).ok());
            let media_type = header_str(&resp, CONTENT_TYPE.as_str())
                .map(|c| c.split(';').next().unwrap_or("").trim().to_owned())
                .unwrap_or_default();
            let size = header_str(&resp, CONTENT_LENGTH.as_str()).and_then(|s| s.parse::<u64>().ok());
            Ok(Some((digest, media_type, size)))
        }
        .await)?;
        let Some((digest, media_type, size)) = head else {
            return Ok(None);
        };
        match (digest.or(by_digest), size) {
            (Some(d), Some(size)) if !media_type.is_empty() => Ok(Some((d, media_type, size))),
            _ => {
                let (bytes, media_type, digest) = self.get_manifest(reference).await?;
                Ok(Some((digest, media_type, bytes.len() as u64)))
            }
        }
    }

    /// Uploads a manifest under a tag or its digest; returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, Error> {
        let by_digest = check_manifest_ref(reference)?;
        let digest = Digest::sha256_of(bytes);
        if let Some(d) = &by_digest {
            if d.algorithm() == digest.algorithm() && *d != digest {
                return Err(Error::InvalidArgument(format!(
                    "manifest content has digest `{digest}`, not `{d}`"
                )));
            }
        }
        let name = self.manifest_name(reference);
        let scopes = self.push_scopes(None);
        let body = Bytes::copy_from_slice(bytes);
        let content_type = HeaderValue::from_str(media_type)
            .map_err(|_| Error::InvalidArgument(format!("invalid media type `{media_type}`")))?;
        each_site!(self, true, |ep| async {
            let url = ep.url(&format!("/v2/{}/manifests/{reference}", self.inner.path))?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, content_type.clone());
            let req = Req {
                method: Method::PUT,
                url,
                scopes: &scopes,
                headers,
                body: Some(body.clone()),
                retry: true,
            };
            let resp = self.send(ep, &req).await?;
            if !resp.status().is_success() {
                return Err(error_from(
                    resp,
                    &format!("cannot push manifest for {name}"),
                    &format!("repository {}", self.inner.familiar),
                )
                .await);
            }
            Ok(())
        }
        .await)?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_refs() {
        assert_eq!(check_manifest_ref("latest").unwrap(), None);
        assert_eq!(check_manifest_ref("v1.2_3-rc").unwrap(), None);
        assert!(check_manifest_ref("../x").is_err());
        assert!(check_manifest_ref("a/b").is_err());
        assert!(check_manifest_ref("").is_err());
        assert!(check_manifest_ref("-x").is_err());
        let d = Digest::sha256_of(b"x");
        assert_eq!(check_manifest_ref(d.as_str()).unwrap(), Some(d));
        assert!(check_manifest_ref("sha256:abc").is_err());
    }

    #[test]
    fn manifest_digests_are_verified() {
        let b = br#"{"schemaVersion":2}"#;
        let d = Digest::sha256_of(b);
        assert_eq!(manifest_digest(b, Some(&d), None, "x").unwrap(), d);
        let other = Digest::sha256_of(b"y");
        assert!(matches!(
            manifest_digest(b, Some(&other), None, "x"),
            Err(Error::Content { .. })
        ));
        assert_eq!(manifest_digest(b, None, Some(d.as_str()), "x").unwrap(), d);
        assert!(manifest_digest(b, None, Some(other.as_str()), "x").is_err());
        assert_eq!(manifest_digest(b, None, Some("garbage"), "x").unwrap(), d);
    }

    #[test]
    fn media_types() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        assert_eq!(
            manifest_media_type(Some("application/json; charset=utf-8"), m),
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            manifest_media_type(Some("application/vnd.docker.distribution.manifest.v2+json"), m),
            "application/vnd.docker.distribution.manifest.v2+json"
        );
    }
}

/// The path and query of an RFC 5988 `Link: </v2/x/tags/list?n=100&last=b>; rel="next"`.
fn next_link(h: &str) -> Option<String> {
    let (target, params) = h.split_once(';')?;
    if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
        return None;
    }
    let t = target.trim().trim_start_matches('<').trim_end_matches('>');
    t.find("/v2/").map(|i| t[i..].to_string())
}

#[cfg(test)]
mod link_tests {
    #[test]
    fn next_links() {
        assert_eq!(
            super::next_link("</v2/a/tags/list?last=b&n=2>; rel=\"next\""),
            Some("/v2/a/tags/list?last=b&n=2".to_string())
        );
        assert_eq!(
            super::next_link("<https://r.example/v2/a/tags/list?n=2>; rel=\"next\""),
            Some("/v2/a/tags/list?n=2".to_string())
        );
        assert_eq!(super::next_link("</v2/a>; rel=\"prev\""), None);
    }
}
