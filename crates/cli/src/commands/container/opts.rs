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

fn syntax(func: &str, s: &str) -> String {
    format!("strconv.{func}: parsing {}: invalid syntax", go_quote(s))
}

fn range(func: &str, s: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// Mounts and volumes

/// One record of Go's `encoding/csv` (comma-separated, `"` quoting with `""` escapes).
pub fn csv_record(line: &str) -> R<Vec<String>> {
    if line.is_empty() {
        return Err("EOF".into());
    }
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut col = 0usize;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        col += 1;
        if at_start && c == '"' {
            at_start = false;
            // Quoted field.
            loop {
                match chars.next() {
                    Some('"') => {
                        col += 1;
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            col += 1;
                            cur.push('"');
                        } else {
                            match chars.peek() {
                                None | Some(',') => break,
                                Some(_) => {
                                    return Err(format!(
                                        "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                        col + 1
                                    ))
                                }
                            }
                        }
                    }
                    Some(ch) => {
                        col += 1;
                        cur.push(ch);
                    }
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            col + 1
                        ))
                    }
                }
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            '"' => {
                return Err(format!(
                    "parse error on line 1, column {col}: bare \" in non-quoted-field"
                ))
            }
            c => {
                at_start = false;
                cur.push(c);
            }
        }
    }
    fields.push(cur);
    Ok(fields)
}

fn abs_if_relative_dot(src: &str) -> String {
    if !src.starts_with('/') && src.starts_with('.') {
        if let Ok(cwd) = std::env::current_dir() {
            return clean_path(&format!("{}/{src}", cwd.display()));
        }
    }
    src.to_string()
}

/// Ref: docker/cli opts `MountOpt.Set`: a `--mount` CSV value as the API's `Mount`.
pub fn parse_mount(value: &str) -> R<Value> {
    let fields = csv_record(value)?;
    let mut m = Map::new();
    let mut kind = "volume".to_string();
    let mut target = String::new();
    let mut read_only: Option<bool> = None;
    let mut volume: Option<Map<String, Value>> = None;
    let mut image: Option<Map<String, Value>> = None;
    let mut bind: Option<Map<String, Value>> = None;
    let mut tmpfs: Option<Map<String, Value>> = None;
    fn vol(o: &mut Option<Map<String, Value>>) -> &mut Map<String, Value> {
        o.get_or_insert_with(|| {
            let mut v = Map::new();
            v.insert("Labels".into(), json!({}));
            v.insert("DriverConfig".into(), json!({}));
            v
        })
    }
    let parse_b = |key: &str, val: &str| -> R<bool> {
        super::super::parse_bool(val).map_err(|_| format!("invalid value for {key}: {val}"))
    };
    for field in &fields {
        let (key, val, ok) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v, true),
            None => (field.to_lowercase(), "", false),
        };
        if !ok {
            match key.as_str() {
                "readonly" | "ro" => read_only = Some(true),
                "volume-nocopy" => {
                    vol(&mut volume).insert("NoCopy".into(), json!(true));
                }
                "bind-nonrecursive" => {
                    bind.get_or_insert_with(Map::new)
                        .insert("NonRecursive".into(), json!(true));
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        }
        match key.as_str() {
            "type" => kind = val.to_lowercase(),
            "source" | "src" => {
                m.insert("Source".into(), json!(abs_if_relative_dot(val)));
            }
            "target" | "dst" | "destination" => target = val.to_string(),
            "readonly" | "ro" => read_only = Some(parse_b(&key, val)?),
            "consistency" => {
                m.insert("Consistency".into(), json!(val.to_lowercase()));
            }
            "bind-propagation" => {
                bind.get_or_insert_with(Map::new)
                    .insert("Propagation".into(), json!(val.to_lowercase()));
            }
            "bind-nonrecursive" => {
                let b = parse_b(&key, val)?;
                bind.get_or_insert_with(Map::new)
                    .insert("NonRecursive".into(), json!(b));
            }
            "bind-recursive" => {
                let b = bind.get_or_insert_with(Map::new);
                match val {
                    "enabled" => {}
                    "disabled" => {
                        b.insert("NonRecursive".into(), json!(true));
                    }
                    "writable" => {
                        b.insert("ReadOnlyNonRecursive".into(), json!(true));
                    }
                    "readonly" => {
                        b.insert("ReadOnlyForceRecursive".into(), json!(true));
                    }
                    _ => {
                        return Err(format!(
                            "invalid value for {key}: {val} (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
                        ))
                    }
                }
            }
            "volume-subpath" => {
                vol(&mut volume).insert("Subpath".into(), json!(val));
            }
            "volume-nocopy" => {
                let b = super::super::parse_bool(val)
                    .map_err(|_| format!("invalid value for volume-nocopy: {val}"))?;
                vol(&mut volume).insert("NoCopy".into(), json!(b));
            }
            "volume-label" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    vol(&mut volume)["Labels"]
                        .as_object_mut()
                        .expect("Labels is an object")
                        .insert(k.into(), json!(v));
                }
            }
            "volume-driver" => {
                vol(&mut volume)["DriverConfig"]
                    .as_object_mut()
                    .expect("DriverConfig is an object")
                    .insert("Name".into(), json!(val));
            }
            "volume-opt" => {
                let dc = vol(&mut volume)["DriverConfig"]
                    .as_object_mut()
                    .expect("DriverConfig is an object");
                let opts = dc.entry("Options").or_insert_with(|| json!({}));
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                if !k.is_empty() {
                    opts.as_object_mut()
                        .expect("Options is an object")
                        .insert(k.into(), json!(v));
                }
            }
            "image-subpath" => {
                image
                    .get_or_insert_with(Map::new)
                    .insert("Subpath".into(), json!(val));
            }
            "tmpfs-size" => {
                let n = ram_in_bytes(val).map_err(|_| format!("invalid value for {key}: {val}"))?;
                tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("SizeBytes".into(), json!(n));
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(val, 8).map_err(|_| format!("invalid value for {key}: {val}"))?;
                tmpfs.get_or_insert_with(Map::new).insert("Mode".into(), json!(n));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if kind.is_empty() {
        return Err("type is required".into());
    }
    if target.is_empty() {
        return Err("target is required".into());
    }
    for (opt, name, want) in [
        (&volume, "volume", "volume"),
        (&image, "image", "image"),
        (&bind, "bind", "bind"),
        (&tmpfs, "tmpfs", "tmpfs"),
    ] {
        if opt.is_some() && kind != want {
            return Err(format!("cannot mix '{name}-*' options with mount type '{kind}'"));
        }
    }
    let ro = read_only.unwrap_or(false);
    if let Some(b) = &bind {
        if b.get("ReadOnlyNonRecursive") == Some(&json!(true)) && !ro {
            return Err(
                "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction".into(),
            );
        }
        if b.get("ReadOnlyForceRecursive") == Some(&json!(true)) {
            if !ro {
                return Err(
                    "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction"
                        .into(),
                );
            }
            if b.get("Propagation") != Some(&json!("rprivate")) {
                return Err("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction".into());
            }
        }
    }
    m.insert("Type".into(), json!(kind));
    m.insert("Target".into(), json!(target));
    if ro {
        m.insert("ReadOnly".into(), json!(true));
    }
    for (k, o) in [
        ("BindOptions", bind),
        ("VolumeOptions", volume),
        ("ImageOptions", image),
        ("TmpfsOptions", tmpfs),
    ] {
        if let Some(o) = o {
            m.insert(k.into(), Value::Object(o));
        }
    }
    Ok(Value::Object(m))
}

/// `--mount` as clap parses it (validated, kept as text).
pub fn flag_mount(value: &str) -> R<String> {
    parse_mount(value).map(|_| value.to_string())
}

/// What a `-v` spec means. Ref: docker/cli compose loader `ParseVolume`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
    /// "bind" or "volume".
    pub kind: String,
}

fn is_windows_drive(buf: &[char], c: char) -> bool {
    c == ':' && buf.len() == 1 && buf[0].is_alphabetic()
}

pub fn parse_volume(spec: &str) -> R<VolumeSpec> {
    let mut v = VolumeSpec::default();
    match spec.len() {
        0 => return Err("invalid empty volume spec".into()),
        1 | 2 => {
            v.target = spec.to_string();
            v.kind = "volume".into();
            return Ok(v);
        }
        _ => {}
    }
    let mut buf: Vec<char> = Vec::new();
    let chars: Vec<char> = spec.chars().collect();
    for i in 0..=chars.len() {
        let end = i == chars.len();
        let c = if end { '\0' } else { chars[i] };
        if !end && is_windows_drive(&buf, c) {
            buf.push(c);
        } else if c == ':' || end {
            let s: String = buf.iter().collect();
            let err = if buf.is_empty() {
                Some("empty section between colons")
            } else if v.source.is_empty() && end {
                v.target = s;
                None
            } else if v.source.is_empty() {
                v.source = s;
                None
            } else if v.target.is_empty() {
                v.target = s;
                None
            } else if c == ':' {
                Some("too many colons")
            } else {
                None
            };
            if let Some(e) = err {
                return Err(format!("invalid spec: {spec}: {e}"));
            }
            buf.clear();
        } else {
            buf.push(c);
        }
    }
    v.kind = if !v.source.is_empty()
        && (v.source.starts_with(['.', '/', '~'])
            || v.source.starts_with("\\\\")
            || (v.source.chars().count() > 1 && {
                let cs: Vec<char> = v.source.chars().collect();
                is_windows_drive(&cs[..1], cs[1])
            })) {
        "bind".into()
    } else {
        "volume".into()
    };
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Ports

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
    fn mounts() {
        assert_eq!(
            parse_mount("type=bind,src=/x,dst=/y,readonly").unwrap(),
            json!({"Type":"bind","Source":"/x","Target":"/y","ReadOnly":true})
        );
        assert_eq!(
            parse_mount("type=tmpfs,dst=/tm,tmpfs-size=1g,tmpfs-mode=1777").unwrap(),
            json!({"Type":"tmpfs","Target":"/tm","TmpfsOptions":{"SizeBytes":1073741824,"Mode":1023}})
        );
        assert_eq!(
            parse_mount("src=v,dst=/d,volume-label=a=b,volume-nocopy").unwrap(),
            json!({"Type":"volume","Source":"v","Target":"/d",
                   "VolumeOptions":{"Labels":{"a":"b"},"DriverConfig":{},"NoCopy":true}})
        );
        assert_eq!(
            parse_mount("type=bind,src=/a,target=/b,bind-propagation=rshared").unwrap()["BindOptions"],
            json!({"Propagation":"rshared"})
        );
        assert_eq!(parse_mount("type=bind,src=/a"), Err("target is required".into()));
        assert_eq!(
            parse_mount("type=bind,dst=/a,volume-nocopy"),
            Err("cannot mix 'volume-*' options with mount type 'bind'".into())
        );
        assert_eq!(
            parse_mount("type=bind,dst=/a,foo=1"),
            Err("unexpected key 'foo' in 'foo=1'".into())
        );
        assert_eq!(
            parse_mount("dst=/a,bogus"),
            Err("invalid field 'bogus' must be a key=value pair".into())
        );
        assert_eq!(
            csv_record("a=\"x,y\",b").unwrap_err(),
            "parse error on line 1, column 3: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_record("\"a=x,y\",b").unwrap(),
            vec!["a=x,y".to_string(), "b".into()]
        );
    }

    #[test]
    fn volumes() {
        let v = parse_volume("/a:/b:ro").unwrap();
        assert_eq!(
            (v.source.as_str(), v.target.as_str(), v.kind.as_str()),
            ("/a", "/b", "bind")
        );
        let v = parse_volume("myvol:/data").unwrap();
        assert_eq!((v.source.as_str(), v.kind.as_str()), ("myvol", "volume"));
        let v = parse_volume("/anon").unwrap();
        assert_eq!((v.source.as_str(), v.target.as_str()), ("", "/anon"));
        let v = parse_volume("./rel:/x").unwrap();
        assert_eq!(v.kind, "bind");
        assert_eq!(
            parse_volume("/a::/b"),
            Err("invalid spec: /a::/b: empty section between colons".into())
        );
        assert_eq!(
            parse_volume("/a:/b:ro:x"),
            Err("invalid spec: /a:/b:ro:x: too many colons".into())
        );
        assert_eq!(parse_volume(""), Err("invalid empty volume spec".into()));
    }

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
