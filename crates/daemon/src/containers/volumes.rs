//! Named volumes (the `local` driver): `<data-root>/volumes/<name>/_data`, with the volume's
//! labels, options and creation time in `<name>/volume.json` (written atomically). Volumes are
//! made on first use by a container or by `volume create`, and removed only when no container
//! refers to them.

use serde_json::{json, Value};

use super::Containers;
use crate::api::Filters;
use crate::error::{ApiError, Result};
use crate::util::{now_nanos, rfc3339_nano, write_atomic};

/// Docker's rule for volume names.
pub fn validate_volume_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if name.len() < 2 || !first_ok || !rest_ok {
        return Err(ApiError::invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

impl Containers {
    fn volume_dir(&self, name: &str) -> std::path::PathBuf {
        self.volumes_root().join(name)
    }

    /// Creates a volume if it does not exist; returns its description.
    pub fn volume_create(&self, name: Option<&str>, labels: Value, options: Value) -> Result<Value> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_volume_name(n)?;
                n.to_string()
            }
            None => crate::util::random_hex(32),
        };
        let dir = self.volume_dir(&name);
        std::fs::create_dir_all(dir.join("_data"))?;
        let meta = dir.join("volume.json");
        if !meta.exists() {
            let m = json!({"CreatedAt": rfc3339_nano(now_nanos()), "Labels": labels, "Options": options});
            write_atomic(&meta, m.to_string().as_bytes(), 0o600)?;
            self.events
                .emit("volume", "create", &name, &[("driver", "local")]);
        }
        self.volume_inspect(&name)
    }

    pub fn volume_inspect(&self, name: &str) -> Result<Value> {
        let dir = self.volume_dir(name);
        if name.is_empty() || name.contains('/') || !dir.join("_data").is_dir() {
            return Err(ApiError::not_found(format!("get {name}: no such volume")));
        }
        let meta: Value = std::fs::read(dir.join("volume.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| json!({}));
        let created = meta.get("CreatedAt").cloned().unwrap_or_else(|| {
            let t = std::fs::metadata(&dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0);
            json!(rfc3339_nano(t))
        });
        let labels = meta
            .get("Labels")
            .cloned()
            .filter(|l| l.is_object())
            .unwrap_or_else(|| json!({}));
        let options = meta
            .get("Options")
            .cloned()
            .filter(|o| o.is_object())
            .unwrap_or(Value::Null);
        Ok(json!({
            "CreatedAt": created,
            "Driver": "local",
            "Labels": labels,
            "Mountpoint": dir.join("_data"),
            "Name": name,
            "Options": options,
            "Scope": "local",
        }))
    }

    /// The containers whose binds or mounts name a volume.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|c| {
                let i = c.lock();
                let binds = i.host.binds.clone().unwrap_or_default();
                let in_binds = binds.iter().any(|b| b.split(':').next() == Some(name));
                let in_mounts = i
                    .host
                    .mounts
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .any(|m| m.source.as_deref() == Some(name));
                let anonymous = !in_binds && !in_mounts && name.len() == 64 && name.starts_with(&c.id[..48]);
                in_binds || in_mounts || anonymous
            })
            .map(|c| c.id.clone())
            .collect()
    }

    pub fn volume_list(&self, filters: &Filters) -> Result<Vec<Value>> {
        filters.validate(&["name", "label", "dangling", "driver"])?;
        let dangling = filters.bool("dangling")?;
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.volumes_root()) else {
            return Ok(out);
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for n in names {
            let Ok(v) = self.volume_inspect(&n) else { continue };
            if filters.contains("name") && !filters.values("name").iter().any(|f| n.contains(f.as_str())) {
                continue;
            }
            if filters.contains("driver") && !filters.values("driver").iter().any(|d| d == "local") {
                continue;
            }
            if let Some(want) = dangling {
                if self.volume_users(&n).is_empty() != want {
                    continue;
                }
            }
            if filters.contains("label") {
                let labels = v["Labels"].as_object().cloned().unwrap_or_default();
                if !filters.match_labels("label", &labels) {
                    continue;
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        if let Err(e) = self.volume_inspect(name) {
            return if force { Ok(()) } else { Err(e) };
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        std::fs::remove_dir_all(self.volume_dir(name))?;
        self.events
            .emit("volume", "destroy", name, &[("driver", "local")]);
        Ok(())
    }

    /// `POST /volumes/prune`: unused volumes (only anonymous ones unless `all=true`, as Docker 23+).
    pub fn volume_prune(&self, filters: &Filters) -> Result<Value> {
        filters.validate(&["label", "label!", "all"])?;
        let all = filters.bool("all")?.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in self.volume_list(&Filters::default())? {
            let name = v["Name"].as_str().unwrap_or("").to_string();
            let anonymous = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !all && !anonymous {
                continue;
            }
            if filters.contains("label") {
                let labels = v["Labels"].as_object().cloned().unwrap_or_default();
                if !filters.match_labels("label", &labels) {
                    continue;
                }
            }
            if !self.volume_users(&name).is_empty() {
                continue;
            }
            let size = super::inspect::dir_size(&self.volume_dir(&name).join("_data"));
            if self.volume_remove(&name, false).is_ok() {
                reclaimed += size;
                deleted.push(name);
            }
        }
        Ok(
            json!({"VolumesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": reclaimed}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_as_docker() {
        assert!(validate_volume_name("data").is_ok());
        assert!(validate_volume_name("my_vol.1-x").is_ok());
        assert!(validate_volume_name("a").is_err());
        assert!(validate_volume_name("/abs").is_err());
        assert!(validate_volume_name("-x").is_err());
        assert!(validate_volume_name("a b")
            .unwrap_err()
            .message
            .contains("invalid characters"));
    }
}
