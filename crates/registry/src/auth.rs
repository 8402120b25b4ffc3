//! Authentication: `WWW-Authenticate` challenges, bearer tokens and their cache, and Docker's
//! `X-Registry-Auth` header.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use berth_image::digest::Digest;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::ErrorResponse;
use crate::{Credentials, Error};

/// The client id sent to token servers (Docker sends "docker"; registries accept any).
pub(crate) const CLIENT_ID: &str = "berth";

/// One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="...",scope="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme in lower case: `bearer`, `basic`.
    pub scheme: String,
    /// Parameters, names in lower case.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `WWW-Authenticate` header values (RFC 7235: several challenges per value, several
/// values). Malformed pieces are skipped, never fatal: a registry with an odd header still gets
/// its other challenges honoured.
pub fn parse_www_authenticate<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for v in values {
        parse_one(v, &mut out);
    }
    out
}

fn parse_one(s: &str, out: &mut Vec<Challenge>) {
    let b = s.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    let mut current: Option<Challenge> = None;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b',') {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            i += 1; // a stray character
            continue;
        }
        let token = &s[start..i];
        let mut j = i;
        skip_ws(&mut j);
        if j < b.len() && b[j] == b'=' && current.is_some() {
            // name=value
            j += 1;
            skip_ws(&mut j);
            let value = if j < b.len() && b[j] == b'"' {
                j += 1;
                let mut v = String::new();
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' && j + 1 < b.len() {
                        j += 1;
                    }
                    // Push whole UTF-8 characters.
                    let ch = s[j..].chars().next().unwrap_or('\u{fffd}');
                    v.push(ch);
                    j += ch.len_utf8();
                }
                j += 1; // closing quote
                v
            } else {
                let vs = j;
                while j < b.len() && b[j] != b',' && b[j] != b' ' && b[j] != b'\t' {
                    j += 1;
                }
                s[vs..j].to_owned()
            };
            if let Some(c) = current.as_mut() {
                c.params.insert(token.to_ascii_lowercase(), value);
            }
            i = j;
        } else if j < b.len() && b[j] == b'=' {
            // A parameter with no scheme before it, or a token68: skip its value.
            i = j + 1;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
        } else {
            if let Some(c) = current.take() {
                out.push(c);
            }
            current = Some(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
        }
    }
    if let Some(c) = current {
        out.push(c);
    }
}

/// The JSON inside `X-Registry-Auth` (Docker's `registry.AuthConfig`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthConfigJson {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    password: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    serveraddress: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identitytoken: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    registrytoken: String,
}

/// Decodes an `X-Registry-Auth` header into credentials. An empty header is anonymous.
pub fn decode_auth_header(h: &str) -> Result<Credentials, Error> {
    decode_auth_header_with_server(h).map(|(c, _)| c)
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // Docker writes URL-safe base64 with padding; some clients use the standard alphabet or drop
    // the padding, and dockerd accepts those too.
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// Decodes an `X-Registry-Auth` header into credentials and the server address it names.
pub fn decode_auth_header_with_server(h: &str) -> Result<(Credentials, String), Error> {
    // Ref: moby api/types/registry authconfig.go DecodeAuthConfig.
    let h = h.trim();
    if h.is_empty() {
        return Ok((Credentials::default(), String::new()));
    }
    let raw = b64_decode(h).ok_or_else(|| Error::InvalidAuthHeader("not base64".to_owned()))?;
    // `null` decodes to nothing in Go, as here.
    let cfg: Option<AuthConfigJson> =
        serde_json::from_slice(&raw).map_err(|e| Error::InvalidAuthHeader(e.to_string()))?;
    let cfg = cfg.unwrap_or_default();
    let mut creds = Credentials {
        username: cfg.username,
        password: cfg.password,
        identity_token: cfg.identitytoken,
        registry_token: cfg.registrytoken,
    };
    // The legacy `auth` field: base64 of "user:password", used when the fields are absent.
    if creds.username.is_empty() && creds.password.is_empty() && !cfg.auth.is_empty() {
        let pair = b64_decode(&cfg.auth)
            .and_then(|p| String::from_utf8(p).ok())
            .ok_or_else(|| Error::InvalidAuthHeader("`auth` is not base64 user:password".to_owned()))?;
        let (u, p) = pair
            .split_once(':')
            .ok_or_else(|| Error::InvalidAuthHeader("`auth` is not user:password".to_owned()))?;
        creds.username = u.to_owned();
        creds.password = p.to_owned();
    }
    Ok((creds, cfg.serveraddress))
}

/// Encodes credentials as an `X-Registry-Auth` header for `server`, as the Docker CLI does.
pub fn encode_auth_header(c: &Credentials, server: &str) -> String {
    let cfg = AuthConfigJson {
        username: c.username.clone(),
        password: c.password.clone(),
        serveraddress: server.to_owned(),
        identitytoken: c.identity_token.clone(),
        registrytoken: c.registry_token.clone(),
        ..AuthConfigJson::default()
    };
    let json = serde_json::to_vec(&cfg).expect("strings serialize");
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

/// A token server's answer.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: i64,
    #[serde(default)]
    refresh_token: String,
}

/// A bearer token and, from a login, the refresh token to keep as identity token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub token: String,
    pub refresh_token: String,
    pub expires: Instant,
}

/// Tokens by (realm, service, scopes, credentials).
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    map: Mutex<HashMap<String, Token>>,
}

/// The distribution spec's default token lifetime, and the least Docker assumes.
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are renewed this long before they expire, so a request never carries one that dies on
/// the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

pub(crate) fn cache_key(realm: &str, service: &str, scopes: &[String], creds: &Credentials) -> String {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    // Different credentials must not share tokens; a hash keeps secrets out of the key.
    let secret = Digest::sha256_of(
        format!(
            "{}\0{}\0{}\0{}",
            creds.username, creds.password, creds.identity_token, creds.registry_token
        )
        .as_bytes(),
    );
    format!("{realm}\0{service}\0{}\0{}", scopes.join(" "), secret)
}

impl TokenCache {
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let t = map.get(key)?;
        (Instant::now() + EXPIRY_MARGIN < t.expires).then(|| t.token.clone())
    }

    pub(crate) fn put(&self, key: String, token: Token) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, t| t.expires > now);
        map.insert(key, token);
    }

    pub(crate) fn remove(&self, key: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }
}

/// What a token request needs.
pub(crate) struct TokenRequest<'a> {
    pub realm: &'a str,
    pub service: &'a str,
    pub scopes: &'a [String],
    pub creds: &'a Credentials,
    /// Ask for a refresh token (a login).
    pub offline: bool,
    /// Credentials may go to the realm (HTTPS, or a loopback / insecure host).
    pub creds_ok: bool,
}

/// Fetches a token: OAuth2 POST with the identity token as refresh token when there is one,
/// otherwise GET with basic auth (or anonymously).
pub(crate) async fn fetch_token(http: &reqwest::Client, req: &TokenRequest<'_>) -> Result<Token, Error> {
    // Ref: distribution registry/client/auth/session.go fetchToken / fetchTokenWithOAuth /
    // fetchTokenWithBasicAuth.
    let realm = Url::parse(req.realm)
        .map_err(|e| Error::Protocol(format!("invalid token realm `{}`: {e}", req.realm)))?;
    if realm.scheme() != "http" && realm.scheme() != "https" {
        return Err(Error::Protocol(format!("invalid token realm `{}`", req.realm)));
    }
    let creds = req.creds;
    let has_secret = !creds.identity_token.is_empty() || !creds.username.is_empty();
    if has_secret && !req.creds_ok {
        return Err(Error::InsecureCredentials(req.realm.to_owned()));
    }
    let (method, builder) = if !creds.identity_token.is_empty() {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", &creds.identity_token),
            ("service", req.service),
            ("client_id", CLIENT_ID),
        ];
        if req.offline {
            form.push(("access_type", "offline"));
        }
        let scope = req.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        (
            reqwest::Method::POST,
            http.post(realm.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
        )
    } else {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if !req.service.is_empty() {
                q.append_pair("service", req.service);
            }
            for s in req.scopes {
                q.append_pair("scope", s);
            }
            if !creds.username.is_empty() {
                q.append_pair("account", &creds.username);
            }
            if req.offline {
                q.append_pair("offline_token", "true");
                q.append_pair("client_id", CLIENT_ID);
            }
        }
        let mut b = http.get(url);
        if !creds.username.is_empty() {
            b = b.basic_auth(&creds.username, Some(&creds.password));
        }
        (reqwest::Method::GET, b)
    };
    let resp = builder
        .send()
        .await
        .map_err(|e| Error::http(&method, realm.as_str(), &e))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| Error::http(&method, realm.as_str(), &e))?;
    if !(200..300).contains(&status) {
        let response = ErrorResponse::parse(status, &body);
        return Err(match status {
            401 | 403 => Error::Unauthorized { response },
            _ => Error::from_response(
                &format!("cannot get a token from `{}`", req.realm),
                &format!("token server `{}`", req.realm),
                response,
            ),
        });
    }
    let t: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::Protocol(format!("invalid token response from `{}`: {e}", req.realm)))?;
    let token = if t.access_token.is_empty() {
        t.token
    } else {
        t.access_token
    };
    if token.is_empty() {
        return Err(Error::Protocol(format!(
            "token server `{}` answered without a token",
            req.realm
        )));
    }
    let lifetime = u64::try_from(t.expires_in)
        .map(Duration::from_secs)
        .unwrap_or_default()
        .max(MIN_TOKEN_LIFETIME);
    Ok(Token {
        token,
        refresh_token: t.refresh_token,
        expires: Instant::now() + lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge() {
        let c = parse_www_authenticate([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        ]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:samalba/my-app:pull,push"));
    }

    #[test]
    fn basic_and_several_challenges() {
        let c = parse_www_authenticate([r#"Basic realm="basic-realm""#]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("basic-realm"));

        let c = parse_www_authenticate([
            r#"Basic realm="a", Bearer realm="https://t/x", service=reg , error="insufficient_scope""#,
            "Negotiate",
        ]);
        let schemes: Vec<_> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["basic", "bearer", "negotiate"]);
        assert_eq!(c[1].param("service"), Some("reg"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn quoting_case_and_garbage() {
        let c = parse_www_authenticate([r#"BEARER Realm="a \"quoted\" realm, with comma",SERVICE="s""#]);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some(r#"a "quoted" realm, with comma"#));
        assert_eq!(c[0].param("service"), Some("s"));
        assert!(parse_www_authenticate([""]).is_empty());
        assert!(parse_www_authenticate(["=,,="]).is_empty());
        let c = parse_www_authenticate([r#"Bearer realm="unterminated"#]);
        assert_eq!(c[0].param("realm"), Some("unterminated"));
        let c = parse_www_authenticate(["Bearer realm=\"é\""]);
        assert_eq!(c[0].param("realm"), Some("é"));
    }

    #[test]
    fn auth_header_round_trip() {
        let c = Credentials {
            username: "user".into(),
            password: "p@ss:word/+?".into(),
            identity_token: "".into(),
            registry_token: "".into(),
        };
        let h = encode_auth_header(&c, "127.0.0.1:5000");
        assert!(!h.contains('+') && !h.contains('/'), "URL-safe alphabet: {h}");
        let (back, server) = decode_auth_header_with_server(&h).unwrap();
        assert_eq!(back, c);
        assert_eq!(server, "127.0.0.1:5000");
        let raw = base64::engine::general_purpose::URL_SAFE.decode(&h).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"username":"user","password":"p@ss:word/+?","serveraddress":"127.0.0.1:5000"})
        );
    }

    #[test]
    fn auth_header_variants() {
        assert_eq!(decode_auth_header("").unwrap(), Credentials::default());
        assert_eq!(decode_auth_header("e30=").unwrap(), Credentials::default());
        assert_eq!(decode_auth_header("e30").unwrap(), Credentials::default());
        assert_eq!(decode_auth_header("bnVsbA==").unwrap(), Credentials::default());
        // Standard alphabet, tokens.
        let json = r#"{"identitytoken":"tok>?","registrytoken":"rt"}"#;
        let h = base64::engine::general_purpose::STANDARD.encode(json);
        let c = decode_auth_header(&h).unwrap();
        assert_eq!(c.identity_token, "tok>?");
        assert_eq!(c.registry_token, "rt");
        // The legacy `auth` field.
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3:cret");
        let h = base64::engine::general_purpose::URL_SAFE.encode(format!(r#"{{"auth":"{auth}"}}"#));
        let c = decode_auth_header(&h).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bob", "s3:cret"));
        assert!(matches!(
            decode_auth_header("!!!"),
            Err(Error::InvalidAuthHeader(_))
        ));
        let h = base64::engine::general_purpose::URL_SAFE.encode("not json");
        assert!(decode_auth_header(&h)
            .unwrap_err()
            .to_string()
            .starts_with("invalid X-Registry-Auth header:"));
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials::basic("u", "hunter2");
        let s = format!("{c:?}");
        assert!(s.contains("\"u\"") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn token_cache_keys_and_expiry() {
        let a = Credentials::basic("u", "p1");
        let b = Credentials::basic("u", "p2");
        let scopes = vec!["repository:x:pull".to_owned(), "repository:y:pull".to_owned()];
        let rev: Vec<String> = scopes.iter().rev().cloned().collect();
        assert_eq!(cache_key("r", "s", &scopes, &a), cache_key("r", "s", &rev, &a));
        assert_ne!(cache_key("r", "s", &scopes, &a), cache_key("r", "s", &scopes, &b));
        assert!(!cache_key("r", "s", &scopes, &a).contains("p1"));
        let cache = TokenCache::default();
        let k = cache_key("r", "s", &scopes, &a);
        cache.put(
            k.clone(),
            Token {
                token: "t".into(),
                refresh_token: String::new(),
                expires: Instant::now() + Duration::from_secs(60),
            },
        );
        assert_eq!(cache.get(&k).as_deref(), Some("t"));
        cache.put(
            k.clone(),
            Token {
                token: "old".into(),
                refresh_token: String::new(),
                expires: Instant::now() + Duration::from_secs(5),
            },
        );
        assert_eq!(cache.get(&k), None, "tokens about to expire are not used");
        cache.remove(&k);
        assert_eq!(cache.get(&k), None);
    }
}
