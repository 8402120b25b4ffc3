//! `-p`, `--publish` and `--expose` values as go-connections' nat package reads them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::opts::{range, syntax};

type R<T> = std::result::Result<T, String>;

/// Ref: go-connections nat `ParsePortRange`.
fn port_range(ports: &str) -> R<(u64, u64)> {
    if ports.is_empty() {
        return Err("empty string specified for ports".into());
    }
    let p = |s: &str| -> R<u64> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(syntax("ParseUint", s));
        }
        s.parse::<u16>().map(u64::from).map_err(|_| range("ParseUint", s))
    };
    if !ports.contains('-') {
        let v = p(ports)?;
        return Ok((v, v));
    }
    let parts: Vec<&str> = ports.split('-').collect();
    let start = p(parts[0])?;
    let end = p(parts[1])?;
    if end < start {
        return Err(format!("invalid range specified for port: {ports}"));
    }
    Ok((start, end))
}

/// Ref: go-connections nat `SplitProtoPort`.
pub fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].into());
    }
    (parts[1].into(), parts[0].into())
}

fn new_port(proto: &str, start: u64, end: u64) -> String {
    if start == end {
        format!("{start}/{proto}")
    } else {
        format!("{start}-{end}/{proto}")
    }
}

/// Exposed ports and their bindings (`"80/tcp"` → `[(HostIp, HostPort)]`).
pub type PortBindings = BTreeMap<String, Vec<(String, String)>>;

/// Ref: go-connections nat `ParsePortSpec`.
fn parse_port_spec(raw: &str) -> R<Vec<(String, String, String)>> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (mut ip, host_port) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container_port) = split_proto_port(container);
    if ip.starts_with('[') {
        match ip.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            Some(inner) => ip = inner.to_string(),
            None => {
                return Err(format!(
                    "invalid IP address {ip}: address {ip}:: missing port in address"
                ))
            }
        }
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container_port.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        port_range(&container_port).map_err(|_| format!("invalid containerPort: {container_port}"))?;
    let (mut hstart, mut hend) = (0u64, 0u64);
    if !host_port.is_empty() {
        (hstart, hend) = port_range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?;
    }
    if !host_port.is_empty() && (end - start) != (hend.wrapping_sub(hstart)) && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container_port} and {host_port}"
        ));
    }
    let proto_l = proto.to_lowercase();
    if !matches!(proto_l.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let cp = start + i;
        let mut hp = if host_port.is_empty() {
            String::new()
        } else {
            (hstart + i).to_string()
        };
        if start == end && hstart != hend {
            hp = format!("{hp}-{hend}");
        }
        out.push((new_port(&proto_l, cp, cp), ip.clone(), hp));
    }
    Ok(out)
}

/// Ref: docker/cli container `convertToStandardNotation`: the long `-p` syntax
/// (`target=80,published=8080,protocol=udp`) in the short one.
pub fn publish_standard(publish: &str) -> R<String> {
    if !publish.contains('=') {
        return Ok(publish.to_string());
    }
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    params.insert("protocol".into(), "tcp".into());
    for param in publish.split(',') {
        match param.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                params.insert(k.into(), v.into());
            }
            _ => {
                return Err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ))
            }
        }
    }
    let g = |k: &str| params.get(k).cloned().unwrap_or_default();
    Ok(format!("{}:{}/{}", g("published"), g("target"), g("protocol")))
}

/// Ref: go-connections nat `ParsePortSpecs` plus docker's `--expose` merge.
pub fn parse_ports(publish: &[String], expose: &[String]) -> R<(Vec<String>, PortBindings)> {
    let mut exposed: Vec<String> = Vec::new();
    let mut bindings = PortBindings::new();
    for p in publish {
        let std = publish_standard(p)?;
        for (port, ip, hp) in parse_port_spec(&std)? {
            if !exposed.contains(&port) {
                exposed.push(port.clone());
            }
            bindings.entry(port).or_default().push((ip, hp));
        }
    }
    for e in expose {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (proto, port) = split_proto_port(e);
        let (start, end) = port_range(&port)
            .map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
        for i in start..=end {
            let p = new_port(&proto, i, i);
            if !exposed.contains(&p) {
                exposed.push(p);
            }
        }
    }
    Ok((exposed, bindings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let (exposed, b) = parse_ports(
            &[
                "8080:80".into(),
                "127.0.0.1:53:53/udp".into(),
                "9000-9001:9000-9001".into(),
                "[::1]:7:7".into(),
                "81".into(),
                "target=90,published=9090,protocol=udp".into(),
            ],
            &["7000-7001".into()],
        )
        .unwrap();
        assert_eq!(
            exposed,
            [
                "80/tcp", "53/udp", "9000/tcp", "9001/tcp", "7/tcp", "81/tcp", "90/udp", "7000/tcp",
                "7001/tcp"
            ]
        );
        assert_eq!(b["80/tcp"], vec![(String::new(), "8080".to_string())]);
        assert_eq!(b["53/udp"], vec![("127.0.0.1".to_string(), "53".to_string())]);
        assert_eq!(b["7/tcp"], vec![("::1".to_string(), "7".to_string())]);
        assert_eq!(b["81/tcp"], vec![(String::new(), String::new())]);
        assert_eq!(b["90/udp"], vec![(String::new(), "9090".to_string())]);
        let (_, b) = parse_ports(&["8000-8010:80".into()], &[]).unwrap();
        assert_eq!(b["80/tcp"], vec![(String::new(), "8000-8010".to_string())]);
        assert_eq!(
            parse_ports(&["x".into()], &[]),
            Err("invalid containerPort: x".into())
        );
        assert_eq!(
            parse_ports(&["80/xyz".into()], &[]),
            Err("invalid proto: xyz".into())
        );
        assert_eq!(
            parse_ports(&["1.2.3:80:80".into()], &[]),
            Err("invalid IP address: 1.2.3".into())
        );
        assert_eq!(
            parse_ports(&["8000-8001:80-82".into()], &[]),
            Err("invalid ranges specified for container and host Ports: 80-82 and 8000-8001".into())
        );
        assert_eq!(
            parse_ports(&[], &["1:2".into()]),
            Err("invalid port format for --expose: 1:2".into())
        );
    }
}
