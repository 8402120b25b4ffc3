//! Flag value parsers for the container commands, with the docker CLI's semantics and error
//! wording: sizes, CPUs, Go durations and integers, ulimits, devices, mounts, volumes, ports,
//! restart policies, env and label files.
//!
//! Every parser returns `Err(String)` with the text docker puts after `invalid argument "X" for
//! "--flag" flag: `, so clap errors reach the user in docker's words.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

type R<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Numbers

pub(super) fn syntax(func: &str, s: &str) -> String {
    format!("strconv.{func}: parsing {}: invalid syntax", go_quote(s))
}

pub(super) fn range(func: &str, s: &str) -> String {
    format!("strconv.{func}: parsing {}: value out of range", go_quote(s))
}

/// Go's `strconv.Quote` for the printable ASCII (and other printable) text flags carry.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The digits of a Go integer literal with base 0 (`0x1f`, `0o17`, `017`, `0b1`, `1_000`).
fn go_uint_digits(s: &str) -> Option<u128> {
    let (radix, digits, prefixed) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, r, true)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, r, true)
    } else if let Some(r) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, r, true)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..], true)
    } else {
        (10, s, false)
    };
    if digits.is_empty()
        || digits.starts_with('_') && !prefixed
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    if digits.contains('_') && !prefixed {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let mut v: u128 = 0;
    for c in clean.chars() {
        let d = c.to_digit(radix)? as u128;
        v = v.checked_mul(radix as u128)?.checked_add(d)?;
        if v > u64::MAX as u128 * 2 {
            return Some(u128::MAX);
        }
    }
    Some(v)
}

/// Go's `strconv.ParseInt(s, 0, bits)`, as pflag's int flags parse.
pub fn go_int(s: &str, bits: u32) -> R<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = go_uint_digits(body).ok_or_else(|| syntax("ParseInt", s))?;
    let max = 1u128 << (bits - 1);
    if (!neg && v >= max) || (neg && v > max) {
        return Err(range("ParseInt", s));
    }
    Ok(if neg { -(v as i128) as i64 } else { v as i64 })
}

/// Go's `strconv.ParseUint(s, 0, bits)`.
pub fn go_uint(s: &str, bits: u32) -> R<u64> {
    if s.starts_with(['-', '+']) {
        return Err(syntax("ParseUint", s));
    }
    let v = go_uint_digits(s).ok_or_else(|| syntax("ParseUint", s))?;
    if bits < 64 && v >= (1u128 << bits) || v > u64::MAX as u128 {
        return Err(range("ParseUint", s));
    }
    Ok(v as u64)
}

pub fn flag_i64(s: &str) -> R<i64> {
    go_int(s, 64)
}

pub fn flag_u16(s: &str) -> R<u16> {
    go_uint(s, 16).map(|v| v as u16)
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms people type.
fn go_float(s: &str) -> R<f64> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        || matches!(
            s.to_ascii_lowercase().trim_start_matches(['+', '-']),
            "inf" | "infinity" | "nan"
        );
    match s.parse::<f64>() {
        Ok(v) if ok => Ok(v),
        _ => Err(syntax("ParseFloat", s)),
    }
}

/// Ref: docker/go-units `RAMInBytes`: binary multiples, suffixes `b`, `k`, `kb`, `kib` ... `p`.
pub fn ram_in_bytes(size: &str) -> R<i64> {
    let Some(sep) = size.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{size}'"));
    };
    let (num, sfx) = if size.as_bytes()[sep] != b' ' {
        (&size[..=sep], &size[sep + 1..])
    } else {
        (&size[..sep], &size[sep + 1..])
    };
    let mut v = go_float(num)?;
    if v < 0.0 {
        return Err(format!("invalid size: '{size}'"));
    }
    if sfx.is_empty() {
        return Ok(v as i64);
    }
    let bad = || format!("invalid suffix: '{}'", sfx.to_lowercase());
    if sfx.len() > 3 {
        return Err(format!("invalid suffix: '{sfx}'"));
    }
    let sfx_l = sfx.to_lowercase();
    let b = sfx_l.as_bytes();
    if b[0] == b'b' {
        if b.len() > 1 {
            return Err(bad());
        }
        return Ok(v as i64);
    }
    let mul: f64 = match b[0] {
        b'k' => 1024.0,
        b'm' => 1024.0 * 1024.0,
        b'g' => 1024.0 * 1024.0 * 1024.0,
        b't' => 1024f64.powi(4),
        b'p' => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    v *= mul;
    if (b.len() == 2 && b[1] != b'b') || (b.len() == 3 && &sfx_l[1..] != "ib") {
        return Err(bad());
    }
    Ok(v as i64)
}

/// `--memory-swap`: `-1` (unlimited) or a size.
pub fn mem_swap(s: &str) -> R<i64> {
    if s == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// Ref: docker/cli opts `ParseCPUs`: a rational number of CPUs (`1.5`, `3/2`) in nano-CPUs.
pub fn parse_cpus(value: &str) -> R<i64> {
    let bad = || format!("failed to parse {value} as a rational number");
    // An exact rational num/den.
    let (num, den): (i128, i128) = if let Some((a, b)) = value.split_once('/') {
        let a: i128 = a.parse().map_err(|_| bad())?;
        let b: i128 = b.parse().map_err(|_| bad())?;
        if b == 0 {
            return Err(bad());
        }
        (a, b)
    } else {
        let (mant, exp) = match value.find(['e', 'E']) {
            Some(i) => (&value[..i], value[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (value, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let digits = format!("{int}{frac}");
        let mut n: i128 = digits.trim_start_matches('0').parse().unwrap_or(0);
        let mut d: i128 = 1;
        let scale = exp - frac.len() as i32;
        if scale >= 0 {
            for _ in 0..scale {
                n = n.checked_mul(10).ok_or_else(bad)?;
            }
        } else {
            for _ in 0..(-scale) {
                d = d.checked_mul(10).ok_or_else(bad)?;
            }
        }
        (if neg { -n } else { n }, d)
    };
    let nano = num.checked_mul(1_000_000_000).ok_or_else(bad)?;
    if nano % den != 0 {
        return Err("value is too precise".into());
    }
    Ok((nano / den) as i64)
}

/// Go's `time.ParseDuration`, with its error wording, in nanoseconds.
pub fn go_duration(s: &str) -> R<i64> {
    let orig = s;
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let numtxt = &rest[..n];
        if numtxt.is_empty() || numtxt == "." {
            return Err(invalid());
        }
        let v: f64 = numtxt.parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let mul = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit),
                    go_quote(orig)
                ))
            }
        };
        rest = &rest[u..];
        total += v * mul;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let t = total.round() as i64;
    Ok(if neg { -t } else { t })
}

// ---------------------------------------------------------------------------------------------
// Validators of list flags (docker's ValidatorFctType): they may rewrite the value.

/// Ref: docker/cli opts `ValidateEnv`: `KEY` alone takes the value from our environment.
pub fn validate_env(val: &str) -> R<String> {
    let (k, has_value) = match val.split_once('=') {
        Some((k, _)) => (k, true),
        None => (val, false),
    };
    if k.is_empty() {
        return Err(format!("invalid environment variable: {val}"));
    }
    if has_value {
        return Ok(val.to_string());
    }
    match std::env::var_os(k) {
        Some(v) => Ok(format!("{k}={}", v.to_string_lossy())),
        None => Ok(val.to_string()),
    }
}

/// Ref: docker/cli opts `ValidateLabel`.
pub fn validate_label(value: &str) -> R<String> {
    let key = value.split_once('=').map_or(value, |(k, _)| k);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(value.to_string())
}

/// Ref: docker/cli opts `ValidateSysctl`.
pub fn validate_sysctl(val: &str) -> R<String> {
    const NAMES: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || format!("sysctl '{val}' is not allowed");
    let Some((k, _)) = val.split_once('=') else {
        return Err(not_allowed());
    };
    if k.is_empty() {
        return Err(not_allowed());
    }
    if NAMES.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.") {
        return Ok(val.to_string());
    }
    Err(not_allowed())
}

/// Ref: docker/cli opts `ValidateIPAddress`: the address in canonical form.
pub fn validate_ip(val: &str) -> R<String> {
    match val.trim().parse::<IpAddr>() {
        Ok(ip) => Ok(ip.to_string()),
        Err(_) => Err(format!("IP address is not correctly formatted: {val}")),
    }
}

/// Ref: docker/cli opts `ValidateDNSSearch`.
pub fn validate_dns_search(val: &str) -> R<String> {
    let val = val.trim_matches(' ');
    if val == "." {
        return Ok(val.to_string());
    }
    let invalid = || format!("{val} is not a valid domain");
    if !val.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(invalid());
    }
    let d = val.trim_end();
    let d = d.strip_suffix('.').unwrap_or(d);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if d.split('.').all(label_ok) && d.len() < 255 {
        Ok(d.to_string())
    } else {
        Err(invalid())
    }
}

/// Ref: docker/cli opts `ValidateExtraHost`: `host:ip` or `host=ip`, sent as `host:ip`.
pub fn validate_extra_host(val: &str) -> R<String> {
    let (k, v) = match val.split_once('=').or_else(|| val.split_once(':')) {
        Some(kv) => kv,
        None => return Err(format!("bad format for add-host: {}", go_quote(val))),
    };
    if k.is_empty() || k.contains(':') {
        return Err(format!("bad format for add-host: {}", go_quote(val)));
    }
    let mut ip = v;
    if v != "host-gateway" {
        if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
            ip = &ip[1..ip.len() - 1];
        }
        if validate_ip(ip).is_err() {
            return Err(format!("invalid IP address in add-host: {}", go_quote(ip)));
        }
    }
    Ok(format!("{k}:{ip}"))
}

/// Ref: docker/cli opts `ValidateLink`.
pub fn validate_link(val: &str) -> R<String> {
    if val.is_empty() {
        return Err("empty string specified for links".into());
    }
    if val.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {val}"));
    }
    Ok(val.to_string())
}

/// Ref: docker/cli container `validateAttach`.
pub fn validate_attach(val: &str) -> R<String> {
    let s = val.to_lowercase();
    if matches!(s.as_str(), "stdin" | "stdout" | "stderr") {
        Ok(s)
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".into())
    }
}

/// Ref: docker/cli container `validateDeviceCgroupRule` (`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`).
pub fn validate_device_cgroup_rule(val: &str) -> R<String> {
    let bad = || format!("invalid device cgroup format '{val}'");
    let parts: Vec<&str> = val.split(' ').collect();
    let [kind, nums, mode] = parts[..] else {
        return Err(bad());
    };
    let num = |s: &str| s == "*" || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
    let ok = matches!(kind, "a" | "b" | "c")
        && nums.split_once(':').is_some_and(|(a, b)| num(a) && num(b))
        && (1..=3).contains(&mode.len())
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    if ok {
        Ok(val.to_string())
    } else {
        Err(bad())
    }
}

/// `--sysctl`, `--annotation`, `--opt` style `k=v` values into a map (docker's `MapOpts`).
pub fn kv_map(values: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for v in values {
        let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
        m.insert(k.to_string(), Value::String(val.to_string()));
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Ulimits, devices, block IO

/// Ref: docker/go-units `ParseUlimit`: `name=soft[:hard]`.
pub fn parse_ulimit(val: &str) -> R<(String, i64, i64)> {
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    let Some((name, limits)) = val.split_once('=') else {
        return Err(format!("invalid ulimit argument: {val}"));
    };
    if !NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    let int = |s: &str| -> R<i64> {
        s.parse::<i64>().map_err(|_| {
            if !s.is_empty()
                && s.trim_start_matches(['-', '+'])
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                range("ParseInt", s)
            } else {
                syntax("ParseInt", s)
            }
        })
    };
    let (soft, hard) = match parts[..] {
        [s] => {
            let s = int(s)?;
            (s, s)
        }
        [s, h] => {
            let h = int(h)?;
            (int(s)?, h)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ))
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            ));
        }
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
    }
    Ok((name.to_string(), soft, hard))
}

/// `--ulimit` as clap parses it.
pub fn flag_ulimit(val: &str) -> R<String> {
    parse_ulimit(val).map(|_| val.to_string())
}

fn valid_device_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return false;
    }
    let mut seen = [false; 3];
    for c in mode.chars() {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        if seen[i] {
            return false;
        }
        seen[i] = true;
    }
    true
}

/// Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Ref: docker/cli container `validateLinuxPath` + `parseLinuxDevice`: a `--device` value as the
/// API's `DeviceMapping`.
pub fn parse_device(val: &str) -> R<Value> {
    if val.matches(':').count() > 2 {
        return Err(format!("bad format for path: {val}"));
    }
    let split: Vec<&str> = val.splitn(3, ':').collect();
    if split[0].is_empty() {
        return Err(format!("bad format for path: {val}"));
    }
    let (container_path, validated) = match split[..] {
        [c] => (c.to_string(), clean_path(c)),
        [a, b] => {
            if valid_device_mode(b) {
                (a.to_string(), format!("{}:{b}", clean_path(a)))
            } else {
                (b.to_string(), format!("{a}:{}", clean_path(b)))
            }
        }
        [a, b, c] => {
            if !valid_device_mode(c) {
                return Err(format!("bad mode specified: {c}"));
            }
            (b.to_string(), format!("{a}:{b}:{c}"))
        }
        _ => unreachable!("splitn(3) yields 1 to 3 parts"),
    };
    if !container_path.starts_with('/') {
        return Err(format!("{container_path} is not an absolute path"));
    }
    let arr: Vec<&str> = validated.splitn(4, ':').collect();
    let mut permissions = "rwm".to_string();
    let mut dst = String::new();
    if arr.len() == 3 {
        permissions = arr[2].to_string();
    }
    if arr.len() >= 2 {
        if valid_device_mode(arr[1]) {
            permissions = arr[1].to_string();
        } else {
            dst = arr[1].to_string();
        }
    }
    let src = arr[0].to_string();
    if dst.is_empty() {
        dst = src.clone();
    }
    Ok(json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": permissions}))
}

/// Ref: docker/cli opts `ValidateThrottleBpsDevice`.
pub fn parse_throttle_bps(val: &str) -> R<Value> {
    let (k, v) = device_rate(val)?;
    let bad = || {
        format!(
            "invalid rate for device: {val}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    };
    let rate = ram_in_bytes(v).map_err(|_| bad())?;
    if rate < 0 {
        return Err(bad());
    }
    Ok(json!({"Path": k, "Rate": rate}))
}

/// Ref: docker/cli opts `ValidateThrottleIOpsDevice`.
pub fn parse_throttle_iops(val: &str) -> R<Value> {
    let (k, v) = device_rate(val)?;
    let rate: u64 = v.parse().map_err(|_| {
        format!(
            "invalid rate for device: {val}. The correct format is <device-path>:<number>. Number must be a positive integer"
        )
    })?;
    Ok(json!({"Path": k, "Rate": rate}))
}

/// Ref: docker/cli opts `ValidateWeightDevice`.
pub fn parse_weight_device(val: &str) -> R<Value> {
    let (k, v) = device_rate(val)?;
    let weight: u16 = v
        .parse()
        .map_err(|_| format!("invalid weight for device: {val}"))?;
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(format!("invalid weight for device: {val}"));
    }
    Ok(json!({"Path": k, "Weight": weight}))
}

fn device_rate(val: &str) -> R<(&str, &str)> {
    let (k, v) = val
        .split_once(':')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("bad format: {val}"))?;
    if !k.starts_with("/dev/") {
        return Err(format!("bad format for device path: {val}"));
    }
    Ok((k, v))
}

pub use super::mounts::{csv_record, flag_mount, parse_mount, parse_volume};
pub use super::ports::parse_ports;

// ---------------------------------------------------------------------------------------------
// Restart policy, networks, files

/// Ref: docker/cli opts `ParseRestartPolicy`: (name, maximum retry count).
pub fn parse_restart_policy(policy: &str) -> R<(String, i64)> {
    if policy.is_empty() {
        return Ok((String::new(), 0));
    }
    let (k, v) = policy.split_once(':').unwrap_or((policy, ""));
    if policy.contains(':') && k.is_empty() {
        return Err("invalid restart policy format: no policy provided before colon".into());
    }
    let mut count = 0;
    if !v.is_empty() {
        count = v.parse::<i64>().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?;
    }
    Ok((k.to_string(), count))
}

/// One `--network` value. Ref: docker/cli opts `NetworkOpt.Set`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipv4: String,
    pub ipv6: String,
    pub link_local_ips: Vec<String>,
    pub mac: String,
    pub gw_priority: i64,
    /// Written in the long `name=...,alias=...` syntax.
    pub long: bool,
}

pub fn parse_network(value: &str) -> R<NetworkAttachment> {
    // Ref: the regexp `\w+=\w+(,\w+=\w+)*` docker matches (anywhere in the value).
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let b: Vec<char> = value.chars().collect();
    let long = (1..b.len().saturating_sub(1)).any(|i| b[i] == '=' && word(b[i - 1]) && word(b[i + 1]));
    let mut n = NetworkAttachment {
        long,
        ..Default::default()
    };
    if !long {
        n.target = value.to_string();
        return Ok(n);
    }
    for field in csv_record(value)? {
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim().to_string());
        match key {
            "name" => n.target = val,
            "alias" => n.aliases.push(val),
            "ip" => n.ipv4 = val,
            "ip6" => n.ipv6 = val,
            "mac-address" => n.mac = val,
            "link-local-ip" => n.link_local_ips.push(val),
            "driver-opt" => {
                let Some((k, v)) = val.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                    return Err("invalid key value pair format in driver options".into());
                };
                n.driver_opts.insert(k.trim().into(), v.trim().into());
            }
            "gw-priority" => {
                n.gw_priority = val.parse().map_err(|_| {
                    let why = if val
                        .trim_start_matches(['-', '+'])
                        .chars()
                        .all(|c| c.is_ascii_digit())
                        && !val.is_empty()
                    {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    };
                    format!("invalid gw-priority ({val}): {why}")
                })?
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if n.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(n)
}

pub fn flag_network(value: &str) -> R<String> {
    parse_network(value).map(|_| value.to_string())
}

/// Ref: docker/cli pkg/kvfile `Parse`: `KEY=value` lines; `KEY` alone is looked up in our
/// environment when `lookup` (env files), dropped otherwise (label files).
pub fn read_kv_file(path: &str, lookup: bool) -> R<Vec<String>> {
    let data = std::fs::read(path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
    let fail = |m: String| format!("invalid env file ({path}): {m}");
    let mut out = Vec::new();
    for (n, raw) in data.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(mut line) = std::str::from_utf8(raw) else {
            return Err(fail(format!("invalid utf8 bytes at line {}: {raw:?}", n + 1)));
        };
        if n == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, has_value) = match line.split_once('=') {
            Some((k, _)) => (k, true),
            None => (line, false),
        };
        if key.is_empty() {
            return Err(fail(format!("no variable name on line '{line}'")));
        }
        if key.contains([' ', '\t']) {
            return Err(fail(format!("variable '{key}' contains whitespaces")));
        }
        if has_value {
            out.push(line.to_string());
        } else if lookup {
            if let Some(v) = std::env::var_os(line) {
                out.push(format!("{key}={}", v.to_string_lossy()));
            }
        }
    }
    Ok(out)
}

/// An I/O error as Go prints it ("no such file or directory"), without Rust's "(os error 2)".
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a static, NUL-terminated message.
            let s = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) };
            let s = s.to_string_lossy();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    }
}

/// Ref: docker/cli container `parseSecurityOpts`: seccomp profiles given as files are sent inline.
pub fn parse_security_opts(opts: &[String]) -> R<Vec<String>> {
    let mut out = Vec::new();
    for opt in opts {
        let (mut k, mut v, mut ok) = match opt.split_once('=') {
            Some((k, v)) => (k, v, true),
            None => (opt.as_str(), "", false),
        };
        if !ok && k != "no-new-privileges" {
            (k, v, ok) = match opt.split_once(':') {
                Some((k, v)) => (k, v, true),
                None => (opt.as_str(), "", false),
            };
        }
        if (!ok || v.is_empty()) && k != "no-new-privileges" {
            return Err(format!("Invalid --security-opt: {}", go_quote(opt)));
        }
        if k == "seccomp" && v != "builtin" && v != "unconfined" {
            let data = std::fs::read(v)
                .map_err(|e| format!("opening seccomp profile ({v}) failed: open {v}: {}", io_text(&e)))?;
            let parsed: Value = serde_json::from_slice(&data)
                .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
            out.push(format!("seccomp={parsed}"));
            continue;
        }
        out.push(opt.clone());
    }
    Ok(out)
}

/// Ref: moby `normalizeCapabilities`: upper case, `CAP_` prefixed, unique, sorted.
pub fn normalize_caps(caps: &[String]) -> Option<Vec<String>> {
    if caps.is_empty() {
        return None;
    }
    let mut v: Vec<String> = caps
        .iter()
        .map(|c| {
            let c = c.to_uppercase();
            if c == "ALL" || c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    v.sort();
    v.dedup();
    Some(v)
}

/// Ref: moby/term `ToBytes`: detach keys (`ctrl-p,ctrl-q`, `a`, `DEL`) as bytes.
pub fn detach_key_bytes(keys: &str) -> R<Vec<u8>> {
    let mut codes = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            codes.push(key.as_bytes()[0]);
            continue;
        }
        if key == "DEL" {
            codes.push(127);
            continue;
        }
        let code = key.strip_prefix("ctrl-").and_then(|c| match c {
            "@" => Some(0u8),
            "[" => Some(27),
            "\\" => Some(28),
            "]" => Some(29),
            "^" => Some(30),
            "_" => Some(31),
            c if c.len() == 1 && c.as_bytes()[0].is_ascii_lowercase() => Some(c.as_bytes()[0] - b'a' + 1),
            _ => None,
        });
        match code {
            Some(c) => codes.push(c),
            None => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_sizes() {
        assert_eq!(ram_in_bytes("100m"), Ok(100 * 1024 * 1024));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("32"), Ok(32));
        assert_eq!(ram_in_bytes("32b"), Ok(32));
        assert_eq!(ram_in_bytes("64 MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("abc"), Err("invalid size: 'abc'".into()));
        assert_eq!(ram_in_bytes("10x"), Err("invalid suffix: 'x'".into()));
        assert_eq!(ram_in_bytes("10kbb"), Err("invalid suffix: 'kbb'".into()));
        assert_eq!(ram_in_bytes("-1"), Err("invalid size: '-1'".into()));
        assert_eq!(
            ram_in_bytes("1.2.3m"),
            Err("strconv.ParseFloat: parsing \"1.2.3\": invalid syntax".into())
        );
        assert_eq!(mem_swap("-1"), Ok(-1));
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.000000001"), Ok(1));
        assert_eq!(parse_cpus("3/2"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("1e-3"), Ok(1_000_000));
        assert_eq!(parse_cpus("0.0000000001"), Err("value is too precise".into()));
        assert_eq!(
            parse_cpus("x"),
            Err("failed to parse x as a rational number".into())
        );
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(go_duration("250ms"), Ok(250_000_000));
        assert_eq!(go_duration("0"), Ok(0));
        assert_eq!(go_duration("-2s"), Ok(-2_000_000_000));
        assert_eq!(
            go_duration("3"),
            Err("time: missing unit in duration \"3\"".into())
        );
        assert_eq!(go_duration("x"), Err("time: invalid duration \"x\"".into()));
        assert_eq!(
            go_duration("3x"),
            Err("time: unknown unit \"x\" in duration \"3x\"".into())
        );
    }

    #[test]
    fn ints() {
        assert_eq!(go_int("512", 64), Ok(512));
        assert_eq!(go_int("0x10", 64), Ok(16));
        assert_eq!(go_int("-7", 64), Ok(-7));
        assert_eq!(
            go_int("x", 64),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            go_uint("70000", 16),
            Err("strconv.ParseUint: parsing \"70000\": value out of range".into())
        );
        assert_eq!(go_uint("300", 16), Ok(300));
    }

    #[test]
    fn ulimits() {
        assert_eq!(parse_ulimit("nofile=10:20"), Ok(("nofile".into(), 10, 20)));
        assert_eq!(parse_ulimit("nproc=5"), Ok(("nproc".into(), 5, 5)));
        assert_eq!(parse_ulimit("core=-1"), Ok(("core".into(), -1, -1)));
        assert_eq!(parse_ulimit("x=1"), Err("invalid ulimit type: x".into()));
        assert_eq!(
            parse_ulimit("nofile"),
            Err("invalid ulimit argument: nofile".into())
        );
        assert_eq!(
            parse_ulimit("nofile=20:10"),
            Err("ulimit soft limit must be less than or equal to hard limit: 20 > 10".into())
        );
        assert_eq!(
            parse_ulimit("nofile=1:2:3"),
            Err("too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`".into())
        );
    }

    #[test]
    fn devices() {
        assert_eq!(
            parse_device("/dev/fuse").unwrap(),
            json!({"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"})
        );
        assert_eq!(
            parse_device("/dev/null:/dev/n:r").unwrap(),
            json!({"PathOnHost":"/dev/null","PathInContainer":"/dev/n","CgroupPermissions":"r"})
        );
        assert_eq!(
            parse_device("/dev/sda:rw").unwrap(),
            json!({"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rw"})
        );
        assert_eq!(parse_device("/dev/a:b"), Err("b is not an absolute path".into()));
        assert_eq!(parse_device("/dev/a:/b:x"), Err("bad mode specified: x".into()));
        assert_eq!(
            parse_device("a:b:c:d"),
            Err("bad format for path: a:b:c:d".into())
        );
        assert_eq!(
            parse_throttle_bps("/dev/sda:1mb").unwrap(),
            json!({"Path":"/dev/sda","Rate":1048576})
        );
        assert_eq!(
            parse_throttle_bps("sda:1"),
            Err("bad format for device path: sda:1".into())
        );
        assert_eq!(
            parse_throttle_iops("/dev/sda:100").unwrap(),
            json!({"Path":"/dev/sda","Rate":100})
        );
        assert!(parse_weight_device("/dev/sda:5").is_err());
    }

    #[test]
    fn restart_and_misc() {
        assert_eq!(parse_restart_policy("on-failure:3"), Ok(("on-failure".into(), 3)));
        assert_eq!(parse_restart_policy("always"), Ok(("always".into(), 0)));
        assert_eq!(
            parse_restart_policy(":3"),
            Err("invalid restart policy format: no policy provided before colon".into())
        );
        assert_eq!(
            parse_restart_policy("on-failure:x"),
            Err("invalid restart policy format: maximum retry count must be an integer".into())
        );
        assert_eq!(validate_extra_host("h:1.2.3.4"), Ok("h:1.2.3.4".into()));
        assert_eq!(validate_extra_host("h=[::1]"), Ok("h:::1".into()));
        assert!(validate_extra_host("h:x").is_err());
        assert_eq!(
            validate_sysctl("net.ipv4.ip_forward=1"),
            Ok("net.ipv4.ip_forward=1".into())
        );
        assert_eq!(
            validate_sysctl("kernel.x=1"),
            Err("sysctl 'kernel.x=1' is not allowed".into())
        );
        assert_eq!(
            validate_label("a b=c"),
            Err("label 'a b' contains whitespaces".into())
        );
        assert_eq!(validate_env("=x"), Err("invalid environment variable: =x".into()));
        assert_eq!(validate_attach("STDIN"), Ok("stdin".into()));
        assert_eq!(detach_key_bytes("ctrl-p,ctrl-q"), Ok(vec![16, 17]));
        assert_eq!(detach_key_bytes("a,ctrl-@,DEL"), Ok(vec![b'a', 0, 127]));
        assert!(detach_key_bytes("ctrl-1").is_err());
        assert_eq!(
            normalize_caps(&["net_admin".into(), "ALL".into(), "CAP_NET_ADMIN".into()]),
            Some(vec!["ALL".into(), "CAP_NET_ADMIN".into()])
        );
        assert!(validate_device_cgroup_rule("c 1:3 rwm").is_ok());
        assert!(validate_device_cgroup_rule("c 1:x rwm").is_err());
        let n = parse_network("name=web,alias=a,ip=10.0.0.2").unwrap();
        assert_eq!(
            (n.target.as_str(), n.aliases.len(), n.ipv4.as_str()),
            ("web", 1, "10.0.0.2")
        );
        assert_eq!(parse_network("bridge").unwrap().target, "bridge");
        assert_eq!(clean_path("/a/../b/./c/"), "/b/c");
    }

    #[test]
    fn kv_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("env");
        std::fs::write(&p, "\u{feff}A=1\n# c\n\n  B=2 3\nPATH\nNOPE_NOT_SET_X\r\n").unwrap();
        let v = read_kv_file(p.to_str().unwrap(), true).unwrap();
        assert_eq!(v[0], "A=1");
        assert_eq!(v[1], "B=2 3");
        assert!(v[2].starts_with("PATH="));
        assert_eq!(v.len(), 3);
        assert_eq!(read_kv_file(p.to_str().unwrap(), false).unwrap().len(), 2);
        std::fs::write(&p, "A B=1\n").unwrap();
        assert!(read_kv_file(p.to_str().unwrap(), true)
            .unwrap_err()
            .ends_with("variable 'A B' contains whitespaces"));
    }
}
