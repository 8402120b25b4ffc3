//! The docker CLI's config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`):
//! registry credentials under `auths`, other keys kept as they are.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// Docker Hub's key in `auths`.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(data: &[u8], url: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                let mut c = B64[(n >> (18 - 6 * i) & 63) as usize];
                if url {
                    c = match c {
                        b'+' => b'-',
                        b'/' => b'_',
                        c => c,
                    };
                }
                out.push(c as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn unbase64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The config directory given `--config`, `DOCKER_CONFIG` and `HOME`.
pub fn config_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(d) = flag {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

/// Ref: docker/cli `registry.ConvertToHostname` and the index aliases: the key under `auths`.
pub fn server_key(server: &str) -> String {
    let s = server.trim();
    if s.is_empty() {
        return INDEX_SERVER.to_string();
    }
    let host = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => INDEX_SERVER.to_string(),
        h => h.to_string(),
    }
}

/// The registry host of an image reference, as a key under `auths`.
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            server_key(first)
        }
        _ => INDEX_SERVER.to_string(),
    }
}

#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub value: Value,
}

impl ConfigFile {
    pub fn load(dir: &Path) -> Result<ConfigFile> {
        let path = dir.join("config.json");
        let value = match fs::read(&path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => json!({}),
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::msg(format!("loading config file {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => return Err(Error::msg(format!("loading config file {}: {e}", path.display()))),
        };
        Ok(ConfigFile { path, value })
    }

    /// (username, password) stored for `server_key`.
    pub fn credentials(&self, key: &str) -> Option<(String, String)> {
        let entry = self.value.get("auths")?.get(key)?;
        if let Some(a) = entry.get("auth").and_then(Value::as_str) {
            let raw = String::from_utf8(unbase64(a)?).ok()?;
            let (u, p) = raw.split_once(':')?;
            return Some((u.to_string(), p.to_string()));
        }
        None
    }

    pub fn set_credentials(&mut self, key: &str, user: &str, pass: &str) {
        if !self.value.is_object() {
            self.value = json!({});
        }
        let obj = self.value.as_object_mut().expect("made an object above");
        let auths = obj.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths.as_object_mut().expect("made an object above").insert(
            key.to_string(),
            json!({"auth": base64(format!("{user}:{pass}").as_bytes(), false)}),
        );
    }

    /// Removes the entry for `key`; false if there was none.
    pub fn remove_credentials(&mut self, key: &str) -> bool {
        self.value
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .is_some_and(|a| a.remove(key).is_some())
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self) -> Result<()> {
        let fail = |e: std::io::Error| Error::msg(format!("saving config file {}: {e}", self.path.display()));
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(fail)?;
        let tmp = dir.join(format!(".config.json.{}", std::process::id()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        let mut text = serde_json::to_vec_pretty(&self.value).expect("JSON values serialize");
        text.push(b'\n');
        f.write_all(&text).and_then(|_| f.sync_all()).map_err(fail)?;
        fs::rename(&tmp, &self.path).map_err(fail)
    }
}

/// The `X-Registry-Auth` header for `key`: base64url of `{"username","password","serveraddress"}`,
/// or of `{}` without credentials.
pub fn registry_auth_header(cfg: &ConfigFile, key: &str) -> String {
    let v = match cfg.credentials(key) {
        Some((u, p)) => json!({"username": u, "password": p, "serveraddress": key}),
        None => json!({}),
    };
    base64(v.to_string().as_bytes(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip() {
        assert_eq!(base64(b"{}", true), "e30=");
        assert_eq!(base64(b"user:pass", false), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a", false), "YQ==");
        assert_eq!(base64(&[0xfb, 0xff], true), "-_8=");
        assert_eq!(unbase64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(unbase64("YQ==").unwrap(), b"a");
    }

    #[test]
    fn servers() {
        assert_eq!(server_key(""), INDEX_SERVER);
        assert_eq!(server_key("docker.io"), INDEX_SERVER);
        assert_eq!(server_key("https://localhost:5000/v2/"), "localhost:5000");
        assert_eq!(registry_of("busybox"), INDEX_SERVER);
        assert_eq!(registry_of("library/busybox"), INDEX_SERVER);
        assert_eq!(registry_of("localhost:5000/x/y:1"), "localhost:5000");
        assert_eq!(registry_of("quay.io/a/b"), "quay.io");
    }

    #[test]
    fn keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("config.json"),
            r#"{"psFormat":"x","auths":{"a":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let mut c = ConfigFile::load(dir.path()).unwrap();
        assert_eq!(c.credentials("a"), Some(("x".into(), "y".into())));
        c.set_credentials("localhost:5000", "u", "p");
        c.save().unwrap();
        let c = ConfigFile::load(dir.path()).unwrap();
        assert_eq!(c.value["psFormat"], "x");
        assert_eq!(c.credentials("localhost:5000"), Some(("u".into(), "p".into())));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
