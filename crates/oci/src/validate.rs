//! Loading and checking a bundle's config before anything is created for it.
//!
//! Every check here runs before the runtime writes state, creates a cgroup or forks, so that bad input
//! leaves nothing behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::spec::{NamespaceType, Spec};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid JSON in `{path}`: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid config `{path}`: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
#[error("invalid container id `{id}`: {reason}")]
pub struct IdError {
    pub id: String,
    pub reason: &'static str,
}

/// Checks a container id as runc does: `[A-Za-z0-9_+.-]+`, not `.` or `..`, at most 1024 bytes.
// Ref: runc libcontainer/factory_linux.go validateID
pub fn validate_id(id: &str) -> Result<(), IdError> {
    let err = |reason| {
        Err(IdError {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return err("must not be empty");
    }
    if id == "." || id == ".." {
        return err("must not be `.` or `..`");
    }
    if id.len() > 1024 {
        return err("longer than 1024 bytes");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return err("only letters, digits, `_`, `+`, `-` and `.` are allowed");
    }
    Ok(())
}

/// Reads `config.json` from a bundle directory and validates it.
pub fn load_bundle(bundle: &Path) -> Result<Spec, SpecError> {
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|source| SpecError::Read {
        path: path.clone(),
        source,
    })?;
    let spec: Spec = serde_json::from_slice(&data).map_err(|source| SpecError::Json {
        path: path.clone(),
        source,
    })?;
    validate(&spec).map_err(|reason| SpecError::Invalid { path, reason })?;
    Ok(spec)
}

const RLIMITS: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

/// Structural checks that do not touch the filesystem beyond what the caller read.
pub fn validate(spec: &Spec) -> Result<(), String> {
    if spec.root.as_ref().is_none_or(|r| r.path.is_empty()) {
        return Err("`root.path` is required".into());
    }
    let linux = spec.linux();
    let mut seen = HashSet::new();
    for ns in &linux.namespaces {
        if !seen.insert(ns.typ) {
            return Err(format!("namespace `{}` is listed twice", ns.typ.as_str()));
        }
        if let Some(p) = &ns.path {
            if !p.starts_with('/') {
                return Err(format!(
                    "namespace `{}` path `{p}` is not absolute",
                    ns.typ.as_str()
                ));
            }
        }
    }
    let userns = spec.namespace(NamespaceType::User);
    if userns.is_some_and(|n| n.path.is_none())
        && (linux.uid_mappings.is_empty() || linux.gid_mappings.is_empty())
    {
        return Err("a new user namespace needs `linux.uidMappings` and `linux.gidMappings`".into());
    }
    if userns.is_none() && (!linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty()) {
        return Err("`linux.uidMappings` are set but there is no user namespace".into());
    }
    if !linux.time_offsets.is_empty()
        && spec
            .namespace(NamespaceType::Time)
            .is_none_or(|n| n.path.is_some())
    {
        return Err("`linux.timeOffsets` need a new time namespace".into());
    }
    if spec.hostname.is_some()
        && spec
            .namespace(NamespaceType::Uts)
            .is_none_or(|n| n.path.is_some())
    {
        // runc refuses this too: setting the host's hostname from a container config is never intended.
        if spec.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
            return Err("`hostname` is set but there is no new uts namespace".into());
        }
    }
    for m in &spec.mounts {
        if !m.destination.starts_with('/') {
            return Err(format!("mount destination `{}` is not absolute", m.destination));
        }
    }
    if let Some(p) = &spec.process {
        if p.args.is_empty() {
            return Err("`process.args` must not be empty".into());
        }
        if !p.cwd.starts_with('/') {
            return Err(format!("`process.cwd` `{}` is not absolute", p.cwd));
        }
        let mut seen = HashSet::new();
        for r in &p.rlimits {
            if !RLIMITS.contains(&r.typ.as_str()) {
                return Err(format!("unknown rlimit `{}`", r.typ));
            }
            if !seen.insert(&r.typ) {
                return Err(format!("rlimit `{}` is listed twice", r.typ));
            }
            if r.soft > r.hard {
                return Err(format!(
                    "rlimit `{}`: soft limit {} is above hard limit {}",
                    r.typ, r.soft, r.hard
                ));
            }
        }
    }
    if let Some(prop) = &linux.rootfs_propagation {
        if !matches!(
            prop.as_str(),
            "" | "private"
                | "rprivate"
                | "slave"
                | "rslave"
                | "shared"
                | "rshared"
                | "unbindable"
                | "runbindable"
        ) {
            return Err(format!("unknown `linux.rootfsPropagation` `{prop}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Spec, String> {
        let spec: Spec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        validate(&spec)?;
        Ok(spec)
    }

    const MIN: &str = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/"}"#;

    #[test]
    fn ids() {
        assert!(validate_id("web-1").is_ok());
        assert!(validate_id("a.b_c+d").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "ü"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        let e = validate_id("a/b").unwrap_err().to_string();
        assert!(e.contains("`a/b`"), "{e}");
    }

    #[test]
    fn minimal_config_is_valid() {
        parse(&format!("{MIN}}}")).unwrap();
    }

    #[test]
    fn unknown_namespace_is_named() {
        let e = parse(&format!(r#"{MIN},"linux":{{"namespaces":[{{"type":"foo"}}]}}}}"#)).unwrap_err();
        assert!(e.contains("unknown variant `foo`"), "{e}");
    }

    #[test]
    fn duplicate_namespace() {
        let e = parse(&format!(
            r#"{MIN},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"pid"}}]}}}}"#
        ))
        .unwrap_err();
        assert!(e.contains("`pid` is listed twice"), "{e}");
    }

    #[test]
    fn userns_needs_mappings() {
        let e = parse(&format!(
            r#"{MIN},"linux":{{"namespaces":[{{"type":"user"}}]}}}}"#
        ))
        .unwrap_err();
        assert!(e.contains("uidMappings"), "{e}");
        parse(&format!(
            r#"{MIN},"linux":{{"namespaces":[{{"type":"user"}}],
            "uidMappings":[{{"containerID":0,"hostID":1000,"size":1}}],
            "gidMappings":[{{"containerID":0,"hostID":1000,"size":1}}]}}}}"#
        ))
        .unwrap();
    }

    #[test]
    fn rlimits_checked() {
        let bad = r#"{"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/",
            "rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]}}"#;
        assert!(parse(bad).unwrap_err().contains("RLIMIT_BOGUS"));
        let inverted = r#"{"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/",
            "rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]}}"#;
        assert!(parse(inverted).unwrap_err().contains("above hard"));
    }

    #[test]
    fn relative_cwd_rejected() {
        let e = parse(r#"{"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"tmp"}}"#)
            .unwrap_err();
        assert!(e.contains("`tmp`"), "{e}");
    }

    #[test]
    fn missing_root() {
        assert!(parse(r#"{"ociVersion":"1.2.0"}"#)
            .unwrap_err()
            .contains("root.path"));
    }

    #[test]
    fn seccomp_parses() {
        let s = parse(&format!(
            r#"{MIN},"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
            "args":[{{"index":1,"value":2,"op":"SCMP_CMP_MASKED_EQ","valueTwo":2}}]}}]}}}}}}"#
        ))
        .unwrap();
        let sc = s.linux().seccomp.as_ref().unwrap();
        assert_eq!(sc.syscalls[0].errno_ret, Some(1));
    }
}
