//! The API shapes of images: `ImageSummary` (list), `ImageInspect`, `HistoryResponseItem`, and the
//! list filters.

use serde_json::{json, Map, Value};

use berth_image::reference::Reference;
use berth_store::ImageRecord;

use super::Images;
use crate::api::{ApiVersion, Filters};
use crate::error::{ApiError, Result};
use crate::util::{parse_rfc3339, rfc3339_nano};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Images {
    /// Familiar tags (`busybox:latest`) of an image.
    pub fn repo_tags(&self, img: &ImageRecord) -> Result<Vec<String>> {
        Ok(self
            .store
            .tags_of(&img.id)?
            .iter()
            .map(|t| super::familiar(t))
            .collect())
    }

    /// Familiar repository digests (`busybox@sha256:…`).
    pub fn repo_digests(&self, img: &ImageRecord) -> Result<Vec<String>> {
        Ok(self
            .store
            .repo_digests_of(&img.id)?
            .iter()
            .map(|(name, digest)| format!("{}@{digest}", super::familiar(name)))
            .collect())
    }

    /// `GET /images/json`.
    pub fn list(&self, all: bool, filters: &Filters, version: ApiVersion) -> Result<Vec<Value>> {
        filters.validate(&[
            "dangling",
            "label",
            "label!",
            "before",
            "since",
            "reference",
            "until",
        ])?;
        let dangling = filters.bool("dangling")?;
        let before = match filters.values("before").first() {
            Some(n) => Some(self.lookup(n)?.added_at),
            None => None,
        };
        let since = match filters.values("since").first() {
            Some(n) => Some(self.lookup(n)?.added_at),
            None => None,
        };
        let until = match filters.values("until").first() {
            Some(v) => Some(
                crate::util::parse_timestamp(v, crate::util::now_nanos())
                    .ok_or_else(|| ApiError::invalid(format!("invalid filter 'until={v}'")))?,
            ),
            None => None,
        };
        let mut images = self.store.images()?;
        // Newest first, as dockerd lists them.
        images.sort_by(|a, b| {
            b.created_nanos()
                .cmp(&a.created_nanos())
                .then(b.added_at.cmp(&a.added_at))
        });
        let mut out = Vec::new();
        for img in &images {
            let tags = self.repo_tags(img)?;
            let digests = self.repo_digests(img)?;
            if dangling == Some(true) && !tags.is_empty() {
                continue;
            }
            if dangling == Some(false) && tags.is_empty() {
                continue;
            }
            if !all && tags.is_empty() && dangling.is_none() && !self.store.children(&img.id)?.is_empty() {
                // An intermediate image: shown with -a only.
                continue;
            }
            if before.is_some_and(|b| img.added_at >= b) || since.is_some_and(|s| img.added_at <= s) {
                continue;
            }
            if until.is_some_and(|u| img.created_nanos() >= u) {
                continue;
            }
            let labels: Map<String, Value> = serde_json::from_str(&img.labels).unwrap_or_default();
            if !filters.match_labels("label", &labels) {
                continue;
            }
            let negated = filters.values("label!").iter().any(|f| {
                Filters([("l".to_string(), vec![f.clone()])].into_iter().collect()).match_labels("l", &labels)
            });
            if negated {
                continue;
            }
            let shown_tags = if filters.contains("reference") {
                let matching: Vec<String> = tags
                    .iter()
                    .filter(|t| reference_matches(filters.values("reference"), t))
                    .cloned()
                    .collect();
                if matching.is_empty() {
                    continue;
                }
                matching
            } else {
                tags.clone()
            };
            let mut v = json!({
                "Containers": -1,
                "Created": img.created_nanos() / 1_000_000_000,
                "Id": img.id,
                "Labels": if labels.is_empty() { Value::Null } else { Value::Object(labels) },
                "ParentId": img.parent.clone().unwrap_or_default(),
                "RepoDigests": digests,
                "RepoTags": shown_tags,
                "SharedSize": -1,
                "Size": img.size,
            });
            if !version.at_least(1, 44) {
                v["VirtualSize"] = json!(img.size);
            }
            out.push(v);
        }
        Ok(out)
    }

    /// `GET /images/{name}/json`.
    pub fn inspect(&self, img: &ImageRecord, version: ApiVersion) -> Result<Value> {
        let cfg = self.config_json(img)?;
        let s = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let lower: Vec<String> = img
            .layers
            .iter()
            .rev()
            .map(|l| self.layers.dir(&l.diff_id).display().to_string())
            .collect();
        let mut graph = Map::new();
        if !lower.is_empty() {
            graph.insert("LowerDir".into(), json!(lower.join(":")));
        }
        let mut v = json!({
            "Id": img.id,
            "RepoTags": self.repo_tags(img)?,
            "RepoDigests": self.repo_digests(img)?,
            "Parent": img.parent.clone().unwrap_or_default(),
            "Comment": s("comment"),
            "Created": cfg.get("created").cloned().unwrap_or(json!("")),
            "DockerVersion": s("docker_version"),
            "Author": s("author"),
            "Config": container_config(cfg.get("config")),
            "Architecture": img.architecture,
            "Os": img.os,
            "Size": img.size,
            "GraphDriver": { "Data": graph, "Name": "overlay2" },
            "RootFS": {
                "Type": "layers",
                "Layers": img.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
            },
            "Metadata": {
                "LastTagTime": img.last_tag_time.map(rfc3339_nano).unwrap_or_else(|| ZERO_TIME.to_string()),
            },
        });
        if let Some(variant) = &img.variant {
            v["Variant"] = json!(variant);
        }
        if !version.at_least(1, 44) {
            v["VirtualSize"] = json!(img.size);
        }
        if !version.at_least(1, 45) {
            v["Container"] = json!(s("container"));
            v["ContainerConfig"] = container_config(cfg.get("container_config"));
        }
        Ok(v)
    }

    /// `GET /images/{name}/history`: newest first; entries that made no layer have size 0; only
    /// the top entry carries the image ID (and its tags), the others `<missing>`.
    pub fn history(&self, img: &ImageRecord) -> Result<Vec<Value>> {
        let cfg = self.config(img)?;
        let hist = cfg.history.clone().unwrap_or_default();
        let mut layer_sizes = Vec::new();
        for l in &img.layers {
            layer_sizes.push(self.store.layer(&l.diff_id)?.map(|r| r.size).unwrap_or(0));
        }
        let mut out = Vec::new();
        let mut layer_idx = 0;
        for h in &hist {
            let size = if h.empty_layer {
                0
            } else {
                let s = layer_sizes.get(layer_idx).copied().unwrap_or(0);
                layer_idx += 1;
                s
            };
            out.push(json!({
                "Id": "<missing>",
                "Created": h.created.as_deref().and_then(parse_rfc3339).unwrap_or(0) / 1_000_000_000,
                "CreatedBy": h.created_by.clone().unwrap_or_default(),
                "Tags": Value::Null,
                "Size": size,
                "Comment": h.comment.clone().unwrap_or_default(),
            }));
        }
        if hist.is_empty() {
            // No history in the config: one line per layer, as dockerd makes up.
            for s in &layer_sizes {
                out.push(json!({
                    "Id": "<missing>", "Created": img.created_nanos() / 1_000_000_000,
                    "CreatedBy": "", "Tags": Value::Null, "Size": s, "Comment": "",
                }));
            }
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top["Id"] = json!(img.id);
            let tags = self.repo_tags(img)?;
            top["Tags"] = if tags.is_empty() { Value::Null } else { json!(tags) };
        }
        Ok(out)
    }
}

/// dockerd's `Config` object of an image: every field present, as its Go struct marshals.
fn container_config(c: Option<&Value>) -> Value {
    let empty = Map::new();
    let c = c.and_then(Value::as_object).unwrap_or(&empty);
    let g = |k: &str, default: Value| c.get(k).cloned().unwrap_or(default);
    let mut out = json!({
        "Hostname": g("Hostname", json!("")),
        "Domainname": g("Domainname", json!("")),
        "User": g("User", json!("")),
        "AttachStdin": g("AttachStdin", json!(false)),
        "AttachStdout": g("AttachStdout", json!(false)),
        "AttachStderr": g("AttachStderr", json!(false)),
        "Tty": g("Tty", json!(false)),
        "OpenStdin": g("OpenStdin", json!(false)),
        "StdinOnce": g("StdinOnce", json!(false)),
        "Env": g("Env", Value::Null),
        "Cmd": g("Cmd", Value::Null),
        "Image": g("Image", json!("")),
        "Volumes": g("Volumes", Value::Null),
        "WorkingDir": g("WorkingDir", json!("")),
        "Entrypoint": g("Entrypoint", Value::Null),
        "OnBuild": g("OnBuild", Value::Null),
        "Labels": g("Labels", Value::Null),
    });
    let obj = out.as_object_mut().expect("object literal");
    for key in [
        "ExposedPorts",
        "Healthcheck",
        "StopSignal",
        "Shell",
        "ArgsEscaped",
    ] {
        if let Some(v) = c.get(key) {
            obj.insert(key.into(), v.clone());
        }
    }
    out
}

/// dockerd's `reference` filter: a glob (`path.Match`) against the familiar name and the familiar
/// name with tag.
fn reference_matches(patterns: &[String], tag: &str) -> bool {
    let name = match Reference::parse(tag) {
        Ok(r) => r.familiar_name(),
        Err(_) => tag.to_string(),
    };
    let name = tag
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map(|(n, _)| n.to_string())
        .unwrap_or(name);
    patterns.iter().any(|p| glob(p, tag) || glob(p, &name))
}

/// Go's `path.Match` for `*`, `?` and `[...]` (no separator crossing for `*` and `?`).
pub fn glob(pattern: &str, s: &str) -> bool {
    fn m(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| m(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && s[0] != '/' && m(&p[1..], &s[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|&c| c == ']') else {
                    return false;
                };
                if s.is_empty() {
                    return false;
                }
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= s[0] && s[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == s[0];
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &s[1..])
            }
            Some('\\') if p.len() > 1 => !s.is_empty() && s[0] == p[1] && m(&p[2..], &s[1..]),
            Some(&c) => !s.is_empty() && s[0] == c && m(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    m(&p, &s)
}

/// Creation time of a record in nanoseconds (0 when the config has none).
pub trait CreatedNanos {
    fn created_nanos(&self) -> i64;
}

impl CreatedNanos for ImageRecord {
    fn created_nanos(&self) -> i64 {
        self.created.as_deref().and_then(parse_rfc3339).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_path_match() {
        assert!(glob("busy*", "busybox"));
        assert!(!glob("busy*", "busy/box"));
        assert!(glob("b?sybox", "busybox"));
        assert!(glob("[a-c]usybox", "busybox"));
        assert!(!glob("[^a-c]usybox", "busybox"));
        assert!(reference_matches(&["busybox".into()], "busybox:latest"));
        assert!(reference_matches(&["busybox:lat*".into()], "busybox:latest"));
        assert!(!reference_matches(&["debian".into()], "busybox:latest"));
        assert!(reference_matches(
            &["localhost:5000/*".into()],
            "localhost:5000/app:1"
        ));
    }

    #[test]
    fn config_has_every_docker_field() {
        let c = container_config(Some(&json!({"Cmd": ["sh"], "StopSignal": "SIGQUIT"})));
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Entrypoint"], Value::Null);
        assert_eq!(c["WorkingDir"], "");
        assert_eq!(c["StopSignal"], "SIGQUIT");
        assert!(c.get("Healthcheck").is_none());
    }
}
