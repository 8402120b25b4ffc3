//! The client, repository handles, endpoint selection, authenticated requests with retries, and
//! the manifest operations.

use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use berth_image::reference::Reference;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response};
use url::Url;

use crate::auth::{self, cache_key, parse_www_authenticate, Challenge, TokenCache, TokenRequest};
use crate::endpoint::{self, Candidate};
use crate::error::{is_transient_status, ErrorResponse};
use crate::retry::{backoff, retry_after};
use crate::{Config, Credentials, Error};

/// Runs `$body` (an expression using the endpoint `$ep`, usually `async { .. }.await`) against
/// the sites of `$repo` in order (mirrors first, skipped when `$push`), moving on from a mirror on
/// failure. A macro rather than a function taking a closure: the futures stay `Send` (generic
/// async closures lose that to a compiler limitation on higher-ranked lifetimes).
macro_rules! each_site {
    ($repo:expr, $push:expr, |$ep:ident| $body:expr) => {{
        let repo: &$crate::client::Repository = $repo;
        let sites = repo.sites_for($push).await?;
        let n = sites.len();
        let mut last: Option<$crate::Error> = None;
        let mut out = None;
        for (i, site) in sites.into_iter().enumerate() {
            let more = i + 1 < n;
            let ep_arc = match repo.endpoint(site).await {
                Ok(ep) => ep,
                Err(e) if more => {
                    last = Some(e);
                    continue;
                }
                Err(e) => {
                    out = Some(Err(e));
                    break;
                }
            };
            let $ep: &$crate::client::Endpoint = &ep_arc;
            match $body {
                Ok(v) => {
                    out = Some(Ok(v));
                    break;
                }
                Err(e) if $crate::client::Repository::falls_back(site, more, &e) => last = Some(e),
                Err(e) => {
                    out = Some(Err(e));
                    break;
                }
            }
        }
        out.unwrap_or_else(|| {
            Err(last.unwrap_or_else(|| $crate::Error::InvalidArgument("no registry endpoint".to_owned())))
        })
    }};
}
pub(crate) use each_site;

/// The registry's name for a manifest's digest.
pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// A registry client: configuration, connection pools and the token cache. Cheap to clone; share
/// one per daemon.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
pub(crate) struct ClientInner {
    pub cfg: Config,
    mirrors: Vec<Url>,
    /// Verifies certificates (webpki and system roots).
    http: reqwest::Client,
    /// Accepts any certificate: only for insecure registries. Built on first use.
    insecure: OnceLock<reqwest::Client>,
    pub tokens: TokenCache,
}

impl ClientInner {
    fn builder(cfg: &Config) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            // Registries send blobs to storage (S3, CDNs) by redirect. reqwest drops the
            // Authorization header when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(10))
            .pool_idle_timeout(std::time::Duration::from_secs(90))
    }

    fn insecure_client(&self) -> reqwest::Client {
        self.insecure
            .get_or_init(|| {
                Self::builder(&self.cfg)
                    .danger_accept_invalid_certs(true)
                    .build()
                    // The secure client was built from the same settings; this cannot fail where
                    // it did not, but falls back to it rather than panic.
                    .unwrap_or_else(|_| self.http.clone())
            })
            .clone()
    }

    /// The HTTP client for `url`: certificate checks off only for insecure hosts.
    fn client_for(&self, url: &Url) -> reqwest::Client {
        if url.scheme() == "https"
            && endpoint::is_insecure_registry(&endpoint::authority(url), &[], &self.cfg.insecure_registries)
        {
            self.insecure_client()
        } else {
            self.http.clone()
        }
    }
}

/// One way of reaching a registry, chosen by a `/v2/` ping, with the challenges it answered.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub base: Url,
    pub http: reqwest::Client,
    pub creds_ok: bool,
    challenges: Mutex<Vec<Challenge>>,
}

impl Endpoint {
    fn challenges(&self) -> Vec<Challenge> {
        self.challenges.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_challenges(&self, c: Vec<Challenge>) {
        *self.challenges.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// `base` joined with an absolute API path (`/v2/...`).
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path)
            .map_err(|e| Error::InvalidArgument(format!("invalid registry path `{path}`: {e}")))
    }

    /// Whether `url` is on this endpoint's origin (credentials may follow it there).
    pub fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }
}

#[derive(Debug)]
pub(crate) struct Site {
    pub mirror: bool,
    candidates: Vec<Candidate>,
    endpoint: tokio::sync::OnceCell<Arc<Endpoint>>,
}

/// One repository on one registry, with the credentials to use there. Cheap to clone; clones
/// share the chosen endpoint.
#[derive(Clone, Debug)]
pub struct Repository {
    pub(crate) inner: Arc<RepoInner>,
}

#[derive(Debug)]
pub(crate) struct RepoInner {
    pub client: Arc<ClientInner>,
    /// The registry as the reference names it (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// The repository path (`library/busybox`).
    pub path: String,
    /// The name for messages, as Docker shows it (`busybox`, `127.0.0.1:5000/foo`).
    pub familiar: String,
    pub creds: Credentials,
    /// Whether Docker Hub mirrors may be used (not for logins).
    use_mirrors: bool,
    sites: tokio::sync::OnceCell<Vec<Site>>,
}

/// A request as [`Repository::send`] makes it, possibly several times.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub scopes: &'a [String],
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// Retry transient failures (idempotent requests).
    pub retry: bool,
}

impl Client {
    /// A client with `cfg`. Fails on an invalid mirror URL or insecure-registry entry.
    pub fn new(cfg: Config) -> Result<Client, Error> {
        for entry in &cfg.insecure_registries {
            endpoint::InsecureEntry::parse(entry)?;
        }
        let mirrors = cfg
            .mirrors
            .iter()
            .map(|m| endpoint::parse_mirror(m))
            .collect::<Result<Vec<_>, _>>()?;
        let http = ClientInner::builder(&cfg)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                cfg,
                mirrors,
                http,
                insecure: OnceLock::new(),
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// A handle on the repository `reference` names (its tag or digest is ignored), with
    /// `creds` (`None`: anonymous). Nothing is contacted until the first operation, which picks
    /// the endpoint: HTTPS first; for an insecure registry (configured, or loopback) HTTPS
    /// without certificate checks, then plain HTTP; for docker.io each mirror, then
    /// registry-1.docker.io.
    pub fn repository(&self, reference: &Reference, creds: Option<Credentials>) -> Repository {
        Repository {
            inner: Arc::new(RepoInner {
                client: self.inner.clone(),
                domain: reference.domain().to_owned(),
                path: reference.path().to_owned(),
                familiar: reference.familiar_name(),
                creds: creds.unwrap_or_default(),
                use_mirrors: true,
                sites: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// Checks `creds` against the registry `server` (`127.0.0.1:5000`, `docker.io`,
    /// `https://index.docker.io/v1/`) with `GET /v2/`, as `docker login` does. Returns the
    /// identity token (OAuth2 refresh token) the token server issued, if any, for the caller to
    /// store instead of the password. A refusal is [`Error::Unauthorized`] with the registry's
    /// words.
    pub async fn login(&self, server: &str, creds: &Credentials) -> Result<Option<String>, Error> {
        let domain = login_domain(server);
        let repo = Repository {
            inner: Arc::new(RepoInner {
                client: self.inner.clone(),
                domain: domain.clone(),
                path: String::new(),
                familiar: domain,
                creds: creds.clone(),
                use_mirrors: false,
                sites: tokio::sync::OnceCell::new(),
            }),
        };
        repo.login().await
    }
}

/// The registry domain a login names: scheme and path dropped, Docker Hub's aliases folded.
fn login_domain(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    if endpoint::is_hub(&s) {
        "docker.io".to_owned()
    } else {
        s
    }
}

/// Reads at most `max` bytes of a body; more is an error naming `what`.
pub(crate) async fn read_limited(
    resp: &mut Response,
    max: u64,
    what: &str,
    url: &str,
) -> Result<Vec<u8>, Error> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(Error::Protocol(format!("{what} is larger than {max} bytes")));
    }
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(max) as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::http(&Method::GET, url, &e))?
    {
        if out.len() as u64 + chunk.len() as u64 > max {
            return Err(Error::Protocol(format!("{what} is larger than {max} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The error for a response with an error status; reads (a bounded part of) its body.
pub(crate) async fn error_from(mut resp: Response, context: &str, what: &str) -> Error {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 << 10 {
            break;
        }
    }
    Error::from_response(context, what, ErrorResponse::parse(status, &body))
}

pub(crate) fn header_str<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl Repository {
    /// The registry as the reference names it.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// The repository path on the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    pub(crate) fn cfg(&self) -> &Config {
        &self.inner.client.cfg
    }

    pub(crate) fn pull_scopes(&self) -> Vec<String> {
        vec![format!("repository:{}:pull", self.inner.path)]
    }

    pub(crate) fn push_scopes(&self, mount_from: Option<&str>) -> Vec<String> {
        let mut v = vec![format!("repository:{}:pull,push", self.inner.path)];
        if let Some(from) = mount_from {
            v.push(format!("repository:{from}:pull"));
        }
        v
    }

    async fn sites(&self) -> Result<&[Site], Error> {
        let inner = &self.inner;
        let sites = inner
            .sites
            .get_or_try_init(|| async {
                let resolved = if endpoint::is_hub(&inner.domain) {
                    Vec::new()
                } else {
                    endpoint::resolve(&inner.domain).await
                };
                let cfg = &inner.client.cfg;
                let insecure = |d: &str| {
                    let addrs: &[std::net::IpAddr] = if d == inner.domain { &resolved } else { &[] };
                    endpoint::is_insecure_registry(d, addrs, &cfg.insecure_registries)
                };
                let mirrors: &[Url] = if inner.use_mirrors {
                    &inner.client.mirrors
                } else {
                    &[]
                };
                let specs = endpoint::sites(&inner.domain, mirrors, &insecure)?;
                Ok::<_, Error>(
                    specs
                        .into_iter()
                        .map(|s| Site {
                            mirror: s.mirror,
                            candidates: s.candidates,
                            endpoint: tokio::sync::OnceCell::new(),
                        })
                        .collect(),
                )
            })
            .await?;
        Ok(sites)
    }

    /// The endpoint of a site, pinging its candidates on first use.
    pub(crate) async fn endpoint(&self, site: &Site) -> Result<Arc<Endpoint>, Error> {
        site.endpoint
            .get_or_try_init(|| self.ping(&site.candidates))
            .await
            .cloned()
    }

    /// `GET /v2/` on each candidate in turn; the first that answers as a registry wins. Its
    /// challenges say how to authenticate.
    async fn ping(&self, candidates: &[Candidate]) -> Result<Arc<Endpoint>, Error> {
        // Ref: distribution registry/client/auth/challenge PingChallenges; moby
        // registry/auth.go PingV2Registry.
        let client = &self.inner.client;
        let mut attempt = 0;
        loop {
            let mut last = None;
            for c in candidates {
                let http = if c.skip_verify {
                    client.insecure_client()
                } else {
                    client.http.clone()
                };
                let url = c.base.join("/v2/").expect("constant path");
                let resp = match http.get(url.clone()).send().await {
                    Ok(r) => r,
                    Err(e) => {
                        last = Some(Error::http(&Method::GET, url.as_str(), &e));
                        continue;
                    }
                };
                let status = resp.status().as_u16();
                let challenges = parse_www_authenticate(
                    resp.headers()
                        .get_all(WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                if (200..300).contains(&status) || status == 401 || status == 403 {
                    return Ok(Arc::new(Endpoint {
                        base: c.base.clone(),
                        http,
                        creds_ok: c.creds_ok,
                        challenges: Mutex::new(if status == 401 { challenges } else { Vec::new() }),
                    }));
                }
                last = Some(
                    error_from(
                        resp,
                        &format!("cannot reach the registry at `{url}`"),
                        &format!("`{url}`"),
                    )
                    .await,
                );
            }
            let err = last.unwrap_or_else(|| Error::InvalidArgument("no registry endpoint".to_owned()));
            if !err.is_transient() || attempt >= self.cfg().max_retries {
                return Err(err);
            }
            tokio::time::sleep(backoff(
                attempt,
                self.cfg().retry_delay,
                self.cfg().max_retry_delay,
                None,
            ))
            .await;
            attempt += 1;
        }
    }

    /// The sites an operation tries, in order: mirrors first, none for `push`.
    pub(crate) async fn sites_for(&self, push: bool) -> Result<Vec<&Site>, Error> {
        Ok(self
            .sites()
            .await?
            .iter()
            .filter(|s| !(push && s.mirror))
            .collect())
    }

    /// Whether a failure on `site` moves on to the next one: from a mirror, any failure but the
    /// caller's own (store, consumer), as in Docker.
    pub(crate) fn falls_back(site: &Site, more: bool, e: &Error) -> bool {
        more && site.mirror && !matches!(e, Error::Consumer { .. } | Error::Store(_))
    }

    /// The `Authorization` header for a request on `ep` needing `scopes`, fetching a token when
    /// the registry wants one and none is cached.
    pub(crate) async fn authorization(
        &self,
        ep: &Endpoint,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>, Error> {
        let creds = &self.inner.creds;
        let client = &self.inner.client;
        let insecure_creds = || Error::InsecureCredentials(endpoint::authority(&ep.base));
        if !creds.registry_token.is_empty() {
            if !ep.creds_ok {
                return Err(insecure_creds());
            }
            return Ok(Some(bearer(&creds.registry_token)?));
        }
        let challenges = ep.challenges();
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = c.param("realm").ok_or_else(|| {
                Error::Protocol(format!("`{}` asks for a bearer token without a realm", ep.base))
            })?;
            let service = c.param("service").unwrap_or("");
            let key = cache_key(realm, service, scopes, creds);
            if let Some(t) = client.tokens.get(&key) {
                return Ok(Some(bearer(&t)?));
            }
            let realm_url = Url::parse(realm)
                .map_err(|e| Error::Protocol(format!("invalid token realm `{realm}`: {e}")))?;
            let http = client.client_for(&realm_url);
            let t = auth::fetch_token(
                &http,
                &TokenRequest {
                    realm,
                    service,
                    scopes,
                    creds,
                    offline: false,
                    creds_ok: endpoint::creds_allowed(&realm_url, &client.cfg),
                },
            )
            .await?;
            let value = bearer(&t.token)?;
            client.tokens.put(key, t);
            return Ok(Some(value));
        }
        if challenges.iter().any(|c| c.scheme == "basic") && !creds.username.is_empty() {
            if !ep.creds_ok {
                return Err(insecure_creds());
            }
            let raw = format!("{}:{}", creds.username, creds.password);
            let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
            return HeaderValue::from_str(&v)
                .map(Some)
                .map_err(|_| Error::InvalidArgument("credentials contain invalid characters".to_owned()));
        }
        Ok(None)
    }

    fn forget_token(&self, ep: &Endpoint, scopes: &[String]) {
        for c in ep.challenges().iter().filter(|c| c.scheme == "bearer") {
            let key = cache_key(
                c.param("realm").unwrap_or(""),
                c.param("service").unwrap_or(""),
                scopes,
                &self.inner.creds,
            );
            self.inner.client.tokens.remove(&key);
        }
    }

    /// Sends `req` with authorization. A 401 refreshes the challenge (and drops the token) and
    /// tries once more; with `req.retry`, transient failures are retried with backoff. Any
    /// response that is not retried is returned, error statuses included.
    pub(crate) async fn send(&self, ep: &Endpoint, req: &Req<'_>) -> Result<Response, Error> {
        let cfg = self.cfg();
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let auth = if ep.same_origin(&req.url) {
                self.authorization(ep, req.scopes).await?
            } else {
                None
            };
            let mut b = ep
                .http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(a) = &auth {
                b = b.header(AUTHORIZATION, a.clone());
            }
            if let Some(body) = &req.body {
                b = b.body(body.clone());
            }
            let err = match b.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if status == 401 && !reauthed {
                        reauthed = true;
                        let fresh = parse_www_authenticate(
                            resp.headers()
                                .get_all(WWW_AUTHENTICATE)
                                .iter()
                                .filter_map(|v| v.to_str().ok()),
                        );
                        let had_token = auth
                            .as_ref()
                            .is_some_and(|a| a.as_bytes().starts_with(b"Bearer "));
                        let changed = !fresh.is_empty() && fresh != ep.challenges();
                        if had_token || changed {
                            self.forget_token(ep, req.scopes);
                            if changed {
                                ep.set_challenges(fresh);
                            }
                            continue;
                        }
                    }
                    if !(req.retry && is_transient_status(status) && attempt < cfg.max_retries) {
                        return Ok(resp);
                    }
                    let wait = backoff(
                        attempt,
                        cfg.retry_delay,
                        cfg.max_retry_delay,
                        retry_after(resp.headers()),
                    );
                    drop(resp);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => Error::http(&req.method, req.url.as_str(), &e),
            };
            if !(req.retry && err.is_transient() && attempt < cfg.max_retries) {
                return Err(err);
            }
            tokio::time::sleep(backoff(attempt, cfg.retry_delay, cfg.max_retry_delay, None)).await;
            attempt += 1;
        }
    }

    /// `docker login`: see [`Client::login`].
    async fn login(&self) -> Result<Option<String>, Error> {
        let client = self.inner.client.clone();
        let creds = self.inner.creds.clone();
        each_site!(self, true, |ep| async {
            let url = ep.url("/v2/")?;
            let challenges = ep.challenges();
            if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
                if !creds.registry_token.is_empty() {
                    let resp = self.send(ep, &self.plain_get(url, &[])).await?;
                    return login_result(resp).await.map(|()| None);
                }
                let realm = c.param("realm").unwrap_or("");
                let realm_url = Url::parse(realm)
                    .map_err(|e| Error::Protocol(format!("invalid token realm `{realm}`: {e}")))?;
                let t = auth::fetch_token(
                    &client.client_for(&realm_url),
                    &TokenRequest {
                        realm,
                        service: c.param("service").unwrap_or(""),
                        scopes: &[],
                        creds: &creds,
                        offline: true,
                        creds_ok: endpoint::creds_allowed(&realm_url, &client.cfg),
                    },
                )
                .await?;
                let resp = ep
                    .http
                    .get(url.clone())
                    .header(AUTHORIZATION, bearer(&t.token)?)
                    .send()
                    .await
                    .map_err(|e| Error::http(&Method::GET, url.as_str(), &e))?;
                login_result(resp).await?;
                return Ok(Some(t.refresh_token).filter(|r| !r.is_empty()));
            }
            let resp = self.send(ep, &self.plain_get(url, &[])).await?;
            login_result(resp).await.map(|()| None)
        }
        .await)
    }

    pub(crate) fn plain_get<'a>(&self, url: Url, scopes: &'a [String]) -> Req<'a> {
        Req {
            method: Method::GET,
            url,
            scopes,
            headers: HeaderMap::new(),
            body: None,
            retry: true,
        }
    }
}

async fn login_result(resp: Response) -> Result<(), Error> {
    if resp.status().is_success() {
        return Ok(());
    }
    let url = resp.url().to_string();
    Err(error_from(resp, &format!("login attempt to {url} failed"), &url).await)
}

fn bearer(token: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error::Protocol("the token contains invalid characters".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_domains() {
        assert_eq!(login_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_domain("docker.io"), "docker.io");
        assert_eq!(login_domain("registry-1.docker.io"), "docker.io");
        assert_eq!(login_domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            login_domain("http://Reg.Example.com:5000/v2/"),
            "reg.example.com:5000"
        );
    }
}
