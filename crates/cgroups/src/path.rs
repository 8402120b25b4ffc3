//! From `linux.cgroupsPath` to the cgroup path of a container.
// Ref: runc libcontainer/specconv CreateCgroupConfig, cgroups/internal/path Inner, systemd ExpandSlice.

use crate::error::CgroupError;

/// The scope prefix used with the systemd path form when the config gives no `cgroupsPath`
/// (runc uses `runc`; the unit is then `/system.slice/berth-<id>.scope`).
pub const DEFAULT_SCOPE_PREFIX: &str = "berth";

/// Resolves a container's cgroup path by runc's rules:
///
/// - `None` (or empty): `/<id>`; with `systemd`, `/system.slice/berth-<id>.scope`.
/// - an absolute path: itself, lexically cleaned (`..` cannot climb above `/`).
/// - a relative path: the cleaned relative path (no leading `/`); [`crate::Cgroup::new`] places it
///   under this process's own cgroup in each hierarchy, as runc does.
/// - with `systemd`, `slice:prefix:name`: `/<expanded slice>/<prefix>-<name>.scope` (or `/<slice>/<name>`
///   when `name` is itself a `.slice`), with nested slices expanded as systemd does
///   (`a-b.slice` is `/a.slice/a-b.slice`). No systemd is asked: this is the cgroupfs path systemd
///   would have used.
pub fn resolve_path(cgroups_path: Option<&str>, id: &str, systemd: bool) -> Result<String, CgroupError> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(invalid(
            id,
            "the container id cannot be empty, `.`, `..` or contain `/`",
        ));
    }
    let given = cgroups_path.filter(|p| !p.is_empty());
    if systemd {
        let (slice, prefix, name) = match given {
            None => ("system.slice", DEFAULT_SCOPE_PREFIX, id),
            Some(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                let [slice, prefix, name] = parts[..] else {
                    return Err(invalid(
                        p,
                        "expected `slice:prefix:name` with the systemd cgroup driver",
                    ));
                };
                (
                    if slice.is_empty() { "system.slice" } else { slice },
                    prefix,
                    name,
                )
            }
        };
        let whole = given.unwrap_or(id);
        if name.is_empty() || name.contains('/') || prefix.contains('/') {
            return Err(invalid(whole, "the unit name cannot be empty or contain `/`"));
        }
        let slice_path = expand_slice(slice).map_err(|reason| invalid(whole, &reason))?;
        let unit = if name.ends_with(".slice") {
            name.to_string()
        } else {
            format!("{prefix}-{name}.scope")
        };
        return Ok(if slice_path == "/" {
            format!("/{unit}")
        } else {
            format!("{slice_path}/{unit}")
        });
    }

    let Some(p) = given else {
        return Ok(format!("/{id}"));
    };
    let cleaned = clean(p);
    if cleaned == "/" || cleaned.is_empty() {
        return Err(invalid(
            p,
            "a container cannot use the root cgroup or its runtime's own cgroup",
        ));
    }
    Ok(cleaned)
}

fn invalid(path: &str, reason: &str) -> CgroupError {
    CgroupError::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Lexical cleaning: absolute paths stay absolute with `..` stopping at `/`; relative ones are
/// cleaned as if rooted, then made relative again (`../../x` is `x`), so neither escapes.
pub(crate) fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// `a-b-c.slice` becomes `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is `/`.
pub fn expand_slice(slice: &str) -> Result<String, String> {
    const SUFFIX: &str = ".slice";
    let Some(stem) = slice
        .strip_suffix(SUFFIX)
        .filter(|s| !s.is_empty() && !slice.contains('/'))
    else {
        return Err(format!("invalid slice name `{slice}`"));
    };
    if stem == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for component in stem.split('-') {
        if component.is_empty() {
            return Err(format!("invalid slice name `{slice}`"));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(component);
        path.push_str(SUFFIX);
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_slash_id() {
        assert_eq!(resolve_path(None, "web", false).unwrap(), "/web");
        assert_eq!(resolve_path(Some(""), "web", false).unwrap(), "/web");
    }

    #[test]
    fn absolute_paths_are_cleaned_and_cannot_climb() {
        assert_eq!(resolve_path(Some("/a/b"), "x", false).unwrap(), "/a/b");
        assert_eq!(resolve_path(Some("/a//./b/"), "x", false).unwrap(), "/a/b");
        assert_eq!(resolve_path(Some("/../../etc/x"), "x", false).unwrap(), "/etc/x");
    }

    #[test]
    fn relative_paths_stay_relative_and_cannot_climb() {
        assert_eq!(resolve_path(Some("pod/ctr"), "x", false).unwrap(), "pod/ctr");
        assert_eq!(resolve_path(Some("../../ctr"), "x", false).unwrap(), "ctr");
    }

    #[test]
    fn root_cgroup_is_refused() {
        assert!(resolve_path(Some("/"), "x", false).is_err());
        assert!(resolve_path(Some("/a/.."), "x", false).is_err());
        assert!(resolve_path(Some("."), "x", false).is_err());
        assert!(resolve_path(None, "a/b", false).is_err());
    }

    #[test]
    fn systemd_slice_prefix_name() {
        assert_eq!(
            resolve_path(Some("system.slice:docker:abc"), "abc", true).unwrap(),
            "/system.slice/docker-abc.scope"
        );
        assert_eq!(
            resolve_path(Some("machine-libpod_pod_1.slice:libpod:c1"), "c1", true).unwrap(),
            "/machine.slice/machine-libpod_pod_1.slice/libpod-c1.scope"
        );
        assert_eq!(
            resolve_path(Some(":crio:c1"), "c1", true).unwrap(),
            "/system.slice/crio-c1.scope"
        );
        assert_eq!(
            resolve_path(Some("-.slice:p:c1"), "c1", true).unwrap(),
            "/p-c1.scope"
        );
        assert_eq!(
            resolve_path(Some("kubepods.slice:p:kubepods-burstable.slice"), "c1", true).unwrap(),
            "/kubepods.slice/kubepods-burstable.slice"
        );
        assert_eq!(
            resolve_path(None, "c1", true).unwrap(),
            "/system.slice/berth-c1.scope"
        );
    }

    #[test]
    fn systemd_malformed() {
        for bad in [
            "/abs/path",
            "a:b",
            "a:b:c:d",
            "nota-slice:p:n",
            "a--b.slice:p:n",
            "x.slice:p:",
            ".slice:p:n",
        ] {
            let e = resolve_path(Some(bad), "n", true).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn expand_nested_slices() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("user.slice").unwrap(), "/user.slice");
        assert!(expand_slice("-a.slice").is_err());
        assert!(expand_slice("a/b.slice").is_err());
    }
}
