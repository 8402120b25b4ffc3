//! Which URLs a registry is reached at, and which registries are insecure.

use std::net::IpAddr;

use url::Url;

use crate::{Config, Error};

/// Docker Hub's names in references and logins, and where its API really is.
pub(crate) const HUB_DOMAINS: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];
pub(crate) const HUB_API: &str = "https://registry-1.docker.io";

/// A configured insecure entry: a CIDR, or a name matched exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InsecureEntry {
    Cidr(IpAddr, u8),
    Name(String),
}

impl InsecureEntry {
    pub(crate) fn parse(s: &str) -> Result<InsecureEntry, Error> {
        let s = s.trim();
        // Ref: moby registry/config.go LoadInsecureRegistries: a scheme is refused, "/" means CIDR.
        if s.contains("://") {
            return Err(Error::Config(format!(
                "insecure registry `{s}` should not contain '://'"
            )));
        }
        if let Some((ip, bits)) = s.split_once('/') {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| Error::Config(format!("invalid CIDR `{s}` in insecure registries")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits
                .parse()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| Error::Config(format!("invalid CIDR `{s}` in insecure registries")))?;
            return Ok(InsecureEntry::Cidr(ip, bits));
        }
        if s.is_empty() {
            return Err(Error::Config("empty insecure registry entry".to_owned()));
        }
        Ok(InsecureEntry::Name(s.to_ascii_lowercase()))
    }
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    let ip = match (net, ip) {
        // An IPv4-mapped IPv6 address is its IPv4 address here.
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Splits `host[:port]` / `[v6]:port` into the host (without brackets) and the port.
pub(crate) fn split_host_port(domain: &str) -> (&str, Option<&str>) {
    if let Some(rest) = domain.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':'));
        }
    }
    match domain.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((h, _)) if h.contains(':') => (domain, None),
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// Whether Docker would treat `domain` (`host`, `host:port`, `[::1]:5000`) as an insecure
/// registry, given the configured entries and the addresses the host resolves to: an exact name
/// match (`host:port` must match with its port), a loopback host (`localhost`, 127.0.0.0/8, ::1),
/// or an address inside a configured CIDR.
pub fn is_insecure_registry(domain: &str, resolved: &[IpAddr], insecure: &[String]) -> bool {
    // Ref: moby registry/config.go isSecureIndex: index name first, then every resolved address
    // against the insecure CIDRs, which include 127.0.0.0/8 by default.
    let domain = domain.to_ascii_lowercase();
    let (host, _) = split_host_port(&domain);
    let literal: Option<IpAddr> = host.parse().ok();
    if host == "localhost" || literal.is_some_and(is_loopback) || resolved.iter().any(|ip| is_loopback(*ip)) {
        return true;
    }
    let addrs: Vec<IpAddr> = literal.into_iter().chain(resolved.iter().copied()).collect();
    insecure.iter().any(|entry| match InsecureEntry::parse(entry) {
        Ok(InsecureEntry::Name(n)) => n == domain,
        Ok(InsecureEntry::Cidr(net, bits)) => addrs.iter().any(|a| cidr_contains(net, bits, *a)),
        Err(_) => false,
    })
}

/// Whether `domain` needs its addresses resolved to decide if it is insecure (not an IP literal
/// and not `localhost`).
pub(crate) fn needs_lookup(domain: &str) -> bool {
    let (host, _) = split_host_port(domain);
    host.parse::<IpAddr>().is_err() && !host.eq_ignore_ascii_case("localhost")
}

/// Resolves the host of `domain`, quietly giving nothing on failure (then only names and literals
/// can match, as in Docker).
pub(crate) async fn resolve(domain: &str) -> Vec<IpAddr> {
    if !needs_lookup(domain) {
        return Vec::new();
    }
    let (host, _) = split_host_port(domain);
    let lookup = tokio::net::lookup_host((host.to_owned(), 0));
    match tokio::time::timeout(std::time::Duration::from_secs(5), lookup).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

/// One URL to try for a registry, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// `https://host:port` (no path).
    pub base: Url,
    /// Accept any certificate (insecure registries only).
    pub skip_verify: bool,
    /// Credentials may be sent here: HTTPS, or a loopback / insecure host.
    pub creds_ok: bool,
}

/// A place a repository can be pulled from: a mirror, or the registry itself (tried over
/// HTTPS, then plain HTTP for an insecure one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteSpec {
    pub mirror: bool,
    pub candidates: Vec<Candidate>,
}

pub(crate) fn is_hub(domain: &str) -> bool {
    HUB_DOMAINS.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

/// Checks and normalizes a mirror URL as Docker does: http or https, nothing after the host.
pub(crate) fn parse_mirror(s: &str) -> Result<Url, Error> {
    // Ref: moby registry/config.go ValidateMirror.
    let url = Url::parse(s.trim()).map_err(|e| Error::Config(format!("invalid mirror `{s}`: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::Config(format!(
            "invalid mirror `{s}`: unsupported scheme `{}` in URI",
            url.scheme()
        )));
    }
    if url.host_str().is_none() || url.username() != "" || url.password().is_some() {
        return Err(Error::Config(format!(
            "invalid mirror `{s}`: no host, or user info in URI"
        )));
    }
    if (url.path() != "/" && !url.path().is_empty()) || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "invalid mirror `{s}`: path, query, or fragment at end of the URI"
        )));
    }
    Ok(url)
}

/// The sites for `domain`, mirrors first. `insecure(domain)` says whether a host is insecure
/// (already resolved by the caller).
pub(crate) fn sites(
    domain: &str,
    mirrors: &[Url],
    insecure: &dyn Fn(&str) -> bool,
) -> Result<Vec<SiteSpec>, Error> {
    let mut out = Vec::new();
    if is_hub(domain) {
        for m in mirrors {
            let authority = authority(m);
            let insecure = insecure(&authority);
            out.push(SiteSpec {
                mirror: true,
                candidates: vec![Candidate {
                    base: m.clone(),
                    skip_verify: insecure && m.scheme() == "https",
                    creds_ok: m.scheme() == "https" || insecure,
                }],
            });
        }
        out.push(SiteSpec {
            mirror: false,
            candidates: vec![Candidate {
                base: Url::parse(HUB_API).expect("constant URL"),
                skip_verify: false,
                creds_ok: true,
            }],
        });
        return Ok(out);
    }
    if domain.is_empty() {
        return Err(Error::InvalidArgument(
            "reference has no registry domain".to_owned(),
        ));
    }
    let https = Url::parse(&format!("https://{domain}"))
        .map_err(|e| Error::InvalidArgument(format!("invalid registry address `{domain}`: {e}")))?;
    let mut candidates = vec![Candidate {
        base: https.clone(),
        skip_verify: false,
        creds_ok: true,
    }];
    if insecure(domain) {
        candidates[0].skip_verify = true;
        let mut http = https;
        http.set_scheme("http").expect("http is a valid scheme");
        candidates.push(Candidate {
            base: http,
            skip_verify: false,
            creds_ok: true,
        });
    }
    out.push(SiteSpec {
        mirror: false,
        candidates,
    });
    Ok(out)
}

/// `host[:port]` of a URL, with brackets around IPv6.
pub(crate) fn authority(u: &Url) -> String {
    let host = match u.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Whether credentials may be sent to `url`: HTTPS, or plain HTTP to a loopback or configured
/// insecure host.
pub(crate) fn creds_allowed(url: &Url, cfg: &Config) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    is_insecure_registry(&authority(url), &[], &cfg.insecure_registries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn loopback_is_always_insecure() {
        for d in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_insecure_registry(d, &[], &[]), "{d}");
        }
        assert!(is_insecure_registry(
            "myreg:5000",
            &["127.0.1.1".parse().unwrap()],
            &[]
        ));
        assert!(!is_insecure_registry(
            "example.com",
            &["93.184.216.34".parse().unwrap()],
            &[]
        ));
        assert!(!is_insecure_registry("10.1.2.3:5000", &[], &[]));
    }

    #[test]
    fn names_match_exactly_with_their_port() {
        let cfg = ins(&["myreg:5000", "other.example.com"]);
        assert!(is_insecure_registry("myreg:5000", &[], &cfg));
        assert!(is_insecure_registry("MyReg:5000", &[], &cfg));
        assert!(!is_insecure_registry("myreg:5001", &[], &cfg));
        assert!(!is_insecure_registry("myreg", &[], &cfg));
        assert!(is_insecure_registry("other.example.com", &[], &cfg));
        assert!(!is_insecure_registry("other.example.com:443", &[], &cfg));
    }

    #[test]
    fn cidrs_match_literals_and_resolved_addresses() {
        let cfg = ins(&["10.0.0.0/8", "192.168.1.0/24", "fd00::/8"]);
        assert!(is_insecure_registry("10.20.30.40:5000", &[], &cfg));
        assert!(is_insecure_registry("192.168.1.7", &[], &cfg));
        assert!(!is_insecure_registry("192.168.2.7", &[], &cfg));
        assert!(is_insecure_registry("[fd12::1]:5000", &[], &cfg));
        assert!(!is_insecure_registry("[fe80::1]:5000", &[], &cfg));
        assert!(is_insecure_registry(
            "reg.internal:5000",
            &["10.9.9.9".parse().unwrap()],
            &cfg
        ));
        assert!(!is_insecure_registry(
            "reg.internal:5000",
            &["11.9.9.9".parse().unwrap()],
            &cfg
        ));
        assert!(is_insecure_registry(
            "anything",
            &["8.8.8.8".parse().unwrap()],
            &ins(&["0.0.0.0/0"])
        ));
        assert!(is_insecure_registry(
            "x",
            &["::ffff:10.1.1.1".parse().unwrap()],
            &ins(&["10.0.0.0/8"])
        ));
    }

    #[test]
    fn entries_are_validated() {
        assert_eq!(
            InsecureEntry::parse("10.0.0.0/8").unwrap(),
            InsecureEntry::Cidr("10.0.0.0".parse().unwrap(), 8)
        );
        assert!(InsecureEntry::parse("10.0.0.0/33").is_err());
        assert!(InsecureEntry::parse("foo/8").is_err());
        assert!(InsecureEntry::parse("http://foo").is_err());
        assert_eq!(
            InsecureEntry::parse("Foo:5000").unwrap(),
            InsecureEntry::Name("foo:5000".into())
        );
    }

    #[test]
    fn host_port_splitting() {
        assert_eq!(split_host_port("a:5000"), ("a", Some("5000")));
        assert_eq!(split_host_port("a"), ("a", None));
        assert_eq!(split_host_port("[::1]:5000"), ("::1", Some("5000")));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert!(!needs_lookup("127.0.0.1:5000"));
        assert!(!needs_lookup("localhost:5000"));
        assert!(needs_lookup("reg.example.com"));
    }

    #[test]
    fn sites_for_hub_use_mirrors_then_hub() {
        let m = parse_mirror("https://mirror.example.com").unwrap();
        let s = sites("docker.io", &[m], &|_| false).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].mirror);
        assert_eq!(s[0].candidates[0].base.as_str(), "https://mirror.example.com/");
        assert!(!s[1].mirror);
        assert_eq!(s[1].candidates[0].base.as_str(), "https://registry-1.docker.io/");
        assert!(parse_mirror("https://mirror.example.com/v2/").is_err());
        assert!(parse_mirror("ftp://mirror.example.com").is_err());
        let plain = parse_mirror("http://mirror.example.com").unwrap();
        let s = sites("docker.io", &[plain], &|_| false).unwrap();
        assert!(!s[0].candidates[0].creds_ok);
    }

    #[test]
    fn insecure_registries_fall_back_to_http() {
        let s = sites("127.0.0.1:5000", &[], &|d| is_insecure_registry(d, &[], &[])).unwrap();
        assert_eq!(s.len(), 1);
        let c = &s[0].candidates;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].base.as_str(), "https://127.0.0.1:5000/");
        assert!(c[0].skip_verify);
        assert_eq!(c[1].base.as_str(), "http://127.0.0.1:5000/");
        let s = sites("quay.io", &[], &|_| false).unwrap();
        assert_eq!(s[0].candidates.len(), 1);
        assert!(!s[0].candidates[0].skip_verify);
    }

    #[test]
    fn credentials_never_go_to_plain_http_elsewhere() {
        let cfg = Config {
            insecure_registries: ins(&["10.0.0.0/8", "reg.lan:5000"]),
            ..Config::default()
        };
        let ok = |u: &str| creds_allowed(&Url::parse(u).unwrap(), &cfg);
        assert!(ok("https://example.com/token"));
        assert!(ok("http://127.0.0.1:5000/token"));
        assert!(ok("http://localhost/token"));
        assert!(ok("http://[::1]:8080/token"));
        assert!(ok("http://10.1.1.1/token"));
        assert!(ok("http://reg.lan:5000/token"));
        assert!(!ok("http://reg.lan/token"));
        assert!(!ok("http://example.com/token"));
    }
}
