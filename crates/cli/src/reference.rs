//! Image references as the docker CLI normalizes them (docker.io, library/, :latest).
//! Ref: distribution/reference `ParseNormalizedNamed`, `FamiliarName`, `TagNameOnly`.

use crate::error::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn invalid(s: &str) -> Error {
    Error::msg(format!(
        "invalid reference format: repository name ({s}) must be lowercase"
    ))
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = || Error::msg("invalid reference format".to_string());
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(bad());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !d.contains(':') {
                    return Err(bad());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        if name.is_empty() || tag.as_deref() == Some("") {
            return Err(bad());
        }
        let (domain, path) = match name.split_once('/') {
            Some((d, p))
                if d.contains('.')
                    || d.contains(':')
                    || d == "localhost"
                    || d.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (d.to_string(), p.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DEFAULT_DOMAIN.to_string()
        } else {
            domain
        };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(&path));
        }
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if !path.chars().all(ok) || path.split('/').any(str::is_empty) {
            return Err(bad());
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The full repository name ("docker.io/library/busybox").
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short repository name ("busybox", "localhost:5000/x").
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(p) if !p.contains('/') => p.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// Adds `:latest` when there is neither tag nor digest.
    pub fn tag_name_only(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".into());
        }
        self
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The full reference ("docker.io/library/busybox:latest").
    pub fn full(&self) -> String {
        format!("{}{}", self.name(), self.suffix())
    }

    /// The short reference ("busybox:latest").
    pub fn familiar(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.full(), "docker.io/library/busybox");
        assert_eq!(
            r.clone().tag_name_only().full(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(r.familiar_name(), "busybox");
        let r = Reference::parse("localhost:5000/x/y:3").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x/y:3");
        assert_eq!(r.tag.as_deref(), Some("3"));
        let r = Reference::parse("docker.io/user/app@sha256:abc").unwrap();
        assert_eq!(r.familiar(), "user/app@sha256:abc");
        assert!(Reference::parse("Busybox").is_err());
        assert!(Reference::parse("a b").is_err());
        assert!(Reference::parse("busybox:").is_err());
    }
}
