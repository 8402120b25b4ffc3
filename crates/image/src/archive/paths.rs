//! Names of entries in image archives: cleaned lexically, and refused when they leave the root.

use super::ArchiveError;

/// The cleaned, root-relative form of an archive entry name (`./a//b/` → `a/b`). Absolute names and
/// names whose `..` climbs above the root are refused, naming the entry. The root itself is `""`.
pub(crate) fn clean_entry_name(raw: &str) -> Result<String, ArchiveError> {
    if raw.starts_with('/') {
        return Err(ArchiveError::UnsafeEntry {
            entry: raw.to_owned(),
        });
    }
    clean_within(raw, &[]).ok_or_else(|| ArchiveError::UnsafeEntry {
        entry: raw.to_owned(),
    })
}

/// Where a symbolic link at `entry` pointing at `target` leads, root-relative. An absolute target is
/// taken relative to the archive root (as in a chroot); one that climbs above the root is refused.
pub(crate) fn resolve_link(entry: &str, target: &str) -> Result<String, ArchiveError> {
    let base: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut parts: Vec<&str> = entry.split('/').filter(|p| !p.is_empty()).collect();
        parts.pop();
        parts
    };
    clean_within(target, &base).ok_or_else(|| ArchiveError::UnsafeEntry {
        entry: format!("{entry} -> {target}"),
    })
}

fn clean_within(path: &str, base: &[&str]) -> Option<String> {
    let mut out: Vec<&str> = base.to_vec();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some(out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_refuses() {
        assert_eq!(clean_entry_name("./a//b/").unwrap(), "a/b");
        assert_eq!(clean_entry_name("a/../b").unwrap(), "b");
        assert_eq!(clean_entry_name("./").unwrap(), "");
        assert!(clean_entry_name("../x").is_err());
        assert!(clean_entry_name("a/../../x").is_err());
        let e = clean_entry_name("/etc/passwd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "archive entry `/etc/passwd` escapes the archive root"
        );
        assert_eq!(
            resolve_link("x/layer.tar", "../blobs/sha256/ab").unwrap(),
            "blobs/sha256/ab"
        );
        assert_eq!(resolve_link("x/layer.tar", "/blobs/ab").unwrap(), "blobs/ab");
        assert!(resolve_link("x/layer.tar", "../../etc").is_err());
    }
}
