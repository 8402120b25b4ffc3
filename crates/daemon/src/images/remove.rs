//! Removing images (`rmi`, `image prune`) and collecting the layers and blobs no image holds.

use serde_json::{json, Value};

use berth_image::digest::Digest;
use berth_store::ImageRecord;

use super::lookup::Named;
use super::{familiar, short_id, Images};
use crate::api::Filters;
use crate::error::{ApiError, Result};
use crate::util::{now_nanos, parse_timestamp};

use super::inspect::CreatedNanos;

impl Images {
    /// `DELETE /images/{name}`, with dockerd's rules: a name untags, and the image goes when
    /// nothing names it any more; an ID removes every tag, refusing without `force` when the tags
    /// span several repositories.
    pub async fn remove(&self, name: &str, force: bool) -> Result<Vec<Value>> {
        let _gc = self.gc_lock.write().await;
        let (img, named) = self.lookup_named(name)?;
        let mut out = Vec::new();
        // Containers made from the image: (short ID, running).
        let users: Vec<(String, bool)> = self
            .store
            .containers_of_image(&img.id)?
            .into_iter()
            .map(|(id, state)| {
                let running = serde_json::from_str::<Value>(&state)
                    .ok()
                    .and_then(|v| {
                        v.get("status")
                            .and_then(|s| s.as_str())
                            .map(|s| matches!(s, "running" | "paused" | "restarting"))
                    })
                    .unwrap_or(false);
                (id[..12.min(id.len())].to_string(), running)
            })
            .collect();
        match named {
            Named::Reference(r) => {
                if let Some((cid, _)) = users.first() {
                    let refs = self.store.tags_of(&img.id)?.len();
                    if !force && refs <= 1 {
                        return Err(ApiError::conflict(format!(
                            "conflict: unable to remove repository reference \"{name}\" (must force) - \
                             container {cid} is using its referenced image {}",
                            short_id(&img.id)
                        )));
                    }
                }
                let repo = r.name();
                if let Some(d) = r.digest() {
                    if self.store.remove_repo_digests_one(&repo, d.as_str(), &img.id)? {
                        out.push(self.untagged(&img, &format!("{}@{d}", familiar(&repo))));
                    }
                } else if self.store.remove_tag(&r.to_string())?.is_some() {
                    out.push(self.untagged(&img, &familiar(&r.to_string())));
                }
                // The digests of a repository go with its last tag.
                let repo_tags_left = self
                    .store
                    .tags_of(&img.id)?
                    .iter()
                    .any(|t| t.rsplit_once(':').is_some_and(|(n, _)| n == repo));
                if !repo_tags_left {
                    for (n, d) in self.store.repo_digests_of(&img.id)? {
                        if n == repo {
                            self.store.remove_repo_digests_one(&n, &d, &img.id)?;
                            out.push(self.untagged(&img, &format!("{}@{d}", familiar(&n))));
                        }
                    }
                }
                if !self.store.tags_of(&img.id)?.is_empty()
                    || !self.store.repo_digests_of(&img.id)?.is_empty()
                    || !users.is_empty()
                {
                    // A forced untag of an image containers use leaves it, dangling, to them.
                    return Ok(out);
                }
                self.check_children(&img)?;
            }
            Named::Id => {
                self.check_children(&img)?;
                if let Some((cid, _)) = users.iter().find(|(_, running)| *running) {
                    return Err(ApiError::conflict(format!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {cid}",
                        short_id(&img.id)
                    )));
                }
                if let Some((cid, _)) = users.first() {
                    if !force {
                        return Err(ApiError::conflict(format!(
                            "conflict: unable to delete {} (must be forced) - image is being used by stopped container {cid}",
                            short_id(&img.id)
                        )));
                    }
                    out.extend(self.untag_all(&img)?);
                    return Ok(out);
                }
                let tags = self.store.tags_of(&img.id)?;
                let mut repos: Vec<String> = tags
                    .iter()
                    .filter_map(|t| t.rsplit_once(':').map(|(n, _)| n.to_string()))
                    .collect();
                repos.sort();
                repos.dedup();
                if repos.len() > 1 && !force {
                    return Err(ApiError::conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        short_id(&img.id)
                    )));
                }
                out.extend(self.untag_all(&img)?);
            }
        }
        self.store.delete_image(&img.id)?;
        out.push(json!({ "Deleted": img.id }));
        self.events.emit("image", "delete", &img.id, &[("name", &img.id)]);
        self.collect_garbage()?;
        Ok(out)
    }

    fn check_children(&self, img: &ImageRecord) -> Result<()> {
        if !self.store.children(&img.id)?.is_empty() {
            return Err(ApiError::conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                short_id(&img.id)
            )));
        }
        Ok(())
    }

    fn untagged(&self, img: &ImageRecord, name: &str) -> Value {
        self.events.emit("image", "untag", &img.id, &[("name", name)]);
        json!({ "Untagged": name })
    }

    fn untag_all(&self, img: &ImageRecord) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for t in self.store.tags_of(&img.id)? {
            self.store.remove_tag(&t)?;
            out.push(self.untagged(img, &familiar(&t)));
        }
        for (n, d) in self.store.repo_digests_of(&img.id)? {
            self.store.remove_repo_digests_one(&n, &d, &img.id)?;
            out.push(self.untagged(img, &format!("{}@{d}", familiar(&n))));
        }
        Ok(out)
    }

    /// `POST /images/prune`: dangling images, or with `all` (`dangling=false`) every image.
    pub async fn prune(&self, filters: &Filters) -> Result<Value> {
        filters.validate(&["dangling", "until", "label", "label!"])?;
        let all = filters.bool("dangling")? == Some(false);
        let until = match filters.values("until").first() {
            Some(v) => Some(
                parse_timestamp(v, now_nanos())
                    .ok_or_else(|| ApiError::invalid(format!("invalid filter 'until={v}'")))?,
            ),
            None => None,
        };
        let _gc = self.gc_lock.write().await;
        let mut deleted = Vec::new();
        let before: u64 = self.store.layers()?.iter().map(|l| l.size).sum();
        for img in self.store.images()? {
            if !all && !self.store.tags_of(&img.id)?.is_empty() {
                continue;
            }
            if until.is_some_and(|u| img.created_nanos() >= u) {
                continue;
            }
            let labels: serde_json::Map<String, Value> =
                serde_json::from_str(&img.labels).unwrap_or_default();
            if !filters.match_labels("label", &labels) {
                continue;
            }
            if filters.values("label!").iter().any(|f| {
                Filters([("l".to_string(), vec![f.clone()])].into_iter().collect()).match_labels("l", &labels)
            }) {
                continue;
            }
            if !self.store.children(&img.id)?.is_empty() {
                continue;
            }
            deleted.extend(self.untag_all(&img)?);
            self.store.delete_image(&img.id)?;
            self.events.emit("image", "delete", &img.id, &[("name", &img.id)]);
            deleted.push(json!({ "Deleted": img.id }));
        }
        self.collect_garbage()?;
        let after: u64 = self.store.layers()?.iter().map(|l| l.size).sum();
        self.events.emit(
            "image",
            "prune",
            "",
            &[("reclaimed", &(before - after).to_string())],
        );
        Ok(json!({
            "ImagesDeleted": if deleted.is_empty() { Value::Null } else { Value::Array(deleted) },
            "SpaceReclaimed": before.saturating_sub(after),
        }))
    }

    /// Removes layers and blobs no image holds. The caller holds `gc_lock` exclusively.
    pub fn collect_garbage(&self) -> Result<u64> {
        let mut reclaimed = 0;
        for diff_id in self.store.unreferenced_layers()? {
            if let Some(l) = self.store.layer(&diff_id)? {
                reclaimed += l.size;
            }
            self.store.delete_layer(&diff_id)?;
            self.layers.remove(&diff_id)?;
        }
        let referenced = self.store.referenced_blobs()?;
        for (digest, _) in self.content.list()? {
            if !referenced.contains(digest.as_str()) {
                self.content.delete(&digest)?;
            }
        }
        Ok(reclaimed)
    }

    /// A blob by digest string, for handlers.
    pub fn parse_digest(s: &str) -> Result<Digest> {
        Digest::parse(s).map_err(|e| ApiError::invalid(e.to_string()))
    }
}
