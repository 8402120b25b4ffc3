//! Which daemon to talk to: `-H/--host`, then `BERTH_HOST`, then `DOCKER_HOST`, else berthd's socket.

use std::fmt;

pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// A daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(String),
    /// `host:port`.
    Tcp(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{p}"),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

impl Host {
    /// Parses `unix:///path` or `tcp://host[:port]` (port 2375 when absent, as docker does).
    pub fn parse(s: &str) -> Result<Host, String> {
        let s = s.trim();
        if let Some(p) = s.strip_prefix("unix://") {
            if p.is_empty() {
                return Ok(Host::Unix(DEFAULT_SOCKET.to_string()));
            }
            return Ok(Host::Unix(p.to_string()));
        }
        let tcp = s.strip_prefix("tcp://").or_else(|| s.strip_prefix("http://"));
        if let Some(a) = tcp {
            let a = a.trim_end_matches('/');
            if a.is_empty() {
                return Err(format!("Invalid bind address format: {s}"));
            }
            if a.contains('/') {
                return Err(format!("unsupported path in host `{s}`"));
            }
            let has_port = if let Some(rest) = a.strip_prefix('[') {
                rest.contains("]:")
            } else {
                a.contains(':')
            };
            return Ok(Host::Tcp(if has_port {
                a.to_string()
            } else {
                format!("{a}:2375")
            }));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(s.to_string()));
        }
        Err(format!("unable to parse docker host `{s}`"))
    }

    /// The value for the `Host:` request header.
    pub fn header(&self) -> &str {
        match self {
            // Ref: docker's client sends "api.moby.localhost" for socket transports.
            Host::Unix(_) => "api.moby.localhost",
            Host::Tcp(a) => a,
        }
    }
}

/// Where the host came from: only the default one may start berthd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub host: Host,
    pub is_default: bool,
}

/// Picks the host from the flag and the environment (`env` looks a variable up).
pub fn select(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Selected, String> {
    let explicit = flag
        .map(str::to_string)
        .or_else(|| env("BERTH_HOST").filter(|v| !v.is_empty()))
        .or_else(|| env("DOCKER_HOST").filter(|v| !v.is_empty()));
    match explicit {
        Some(h) => Ok(Selected {
            host: Host::parse(&h)?,
            is_default: false,
        }),
        None => Ok(Selected {
            host: Host::Unix(DEFAULT_SOCKET.to_string()),
            is_default: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn precedence() {
        let both = env_of(&[
            ("BERTH_HOST", "unix:///b.sock"),
            ("DOCKER_HOST", "tcp://1.2.3.4:5"),
        ]);
        let s = select(Some("unix:///flag.sock"), &both).unwrap();
        assert_eq!(s.host, Host::Unix("/flag.sock".into()));
        assert!(!s.is_default);
        assert_eq!(select(None, &both).unwrap().host, Host::Unix("/b.sock".into()));
        let docker = env_of(&[("BERTH_HOST", ""), ("DOCKER_HOST", "tcp://1.2.3.4:5")]);
        assert_eq!(select(None, &docker).unwrap().host, Host::Tcp("1.2.3.4:5".into()));
        let none = env_of(&[]);
        let s = select(None, &none).unwrap();
        assert!(s.is_default);
        assert_eq!(s.host.to_string(), "unix:///run/berth/berth.sock");
    }

    #[test]
    fn parsing() {
        assert_eq!(
            Host::parse("tcp://127.0.0.1").unwrap(),
            Host::Tcp("127.0.0.1:2375".into())
        );
        assert_eq!(Host::parse("tcp://[::1]:9").unwrap(), Host::Tcp("[::1]:9".into()));
        assert_eq!(
            Host::parse("tcp://[::1]").unwrap(),
            Host::Tcp("[::1]:2375".into())
        );
        assert_eq!(Host::parse("unix://").unwrap(), Host::Unix(DEFAULT_SOCKET.into()));
        assert!(Host::parse("ssh://x").is_err());
        assert!(Host::parse("foo").is_err());
        assert_eq!(Host::parse("tcp://h:1").unwrap().to_string(), "tcp://h:1");
    }
}
