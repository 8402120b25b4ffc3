//! Entry names as the layer writes them → clean relative paths inside the layer directory.

/// Longest cleaned name accepted: Linux's PATH_MAX. Docker (Go, which passes whole paths to the
/// kernel) cannot create longer ones either, and the limit bounds the depth of every walk below.
pub(super) const MAX_NAME: usize = 4096;

/// Why a name cannot be placed in the layer directory.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BadName {
    /// A `..` climbs above the layer root.
    Escapes,
    /// Longer than [`MAX_NAME`] once cleaned.
    TooLong,
}

/// The name as a relative path: a leading `/` dropped, `.` and empty components dropped, and `..`
/// applied lexically, as Go's `filepath.Clean` does for moby's `pkg/archive`. A `..` that would climb
/// above the root is refused rather than clamped, so `../../etc/passwd` is an error and not
/// `etc/passwd`. The empty result is the layer root itself.
///
/// Ref: moby pkg/archive/archive.go `createTarFile` (`filepath.Clean`, then the breakout check).
pub(super) fn clean(raw: &[u8]) -> Result<Vec<u8>, BadName> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.is_empty() {
                    return Err(BadName::Escapes);
                }
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    if out.len() > MAX_NAME {
        return Err(BadName::TooLong);
    }
    Ok(out)
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
pub(super) fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&rel[..0], rel),
    }
}

/// `parent` + `/` + `child`, or `child` alone under the root.
pub(super) fn join(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parent.len() + 1 + child.len());
    v.extend_from_slice(parent);
    if !parent.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(child);
    v
}

/// The name for messages: as written in the tar, lossily decoded.
pub(super) fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<String, BadName> {
        clean(s.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(c("./usr/bin/").unwrap(), "usr/bin");
        assert_eq!(c("/etc//passwd").unwrap(), "etc/passwd");
        assert_eq!(c("a/./b/../c").unwrap(), "a/c");
        assert_eq!(c("a/..").unwrap(), "");
        assert_eq!(c("./").unwrap(), "");
        assert_eq!(c("/").unwrap(), "");
        assert_eq!(c("...").unwrap(), "...");
        assert_eq!(c("a/..b").unwrap(), "a/..b");
    }

    #[test]
    fn refuses_climbing_out() {
        assert_eq!(c("../etc/passwd"), Err(BadName::Escapes));
        assert_eq!(c("/../etc"), Err(BadName::Escapes));
        assert_eq!(c("a/../../b"), Err(BadName::Escapes));
        assert_eq!(c("a/b/../../.."), Err(BadName::Escapes));
    }

    #[test]
    fn refuses_overlong() {
        let long = "a/".repeat(MAX_NAME);
        assert_eq!(c(&long), Err(BadName::TooLong));
    }

    #[test]
    fn splits() {
        assert_eq!(split(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"", b"x"), b"x");
        assert_eq!(join(b"a", b"x"), b"a/x");
    }
}
