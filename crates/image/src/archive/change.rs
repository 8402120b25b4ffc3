//! `--change` instructions (`docker import --change`, `docker commit --change`): Dockerfile
//! instructions applied to an image's container config.
//!
//! Ref: moby builder/dockerfile builder.go `BuildFromConfig` and dispatchers.go; BuildKit's
//! dockerfile parser (`parseNameVal`, `parseMaybeJSON`) and shell lexer (`ProcessWord`).
//! Only the instructions Docker accepts for a commit change are allowed: CMD, ENTRYPOINT, ENV,
//! EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Anything else is
//! refused with Docker's words, `FROM is not a valid change command`.

use std::collections::BTreeMap;

use crate::manifest::{ContainerConfig, EmptyObject, HealthConfig};

use super::ArchiveError;

const VALID: &[&str] = &[
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

fn invalid(msg: impl Into<String>) -> ArchiveError {
    ArchiveError::InvalidChange(msg.into())
}

/// One parsed instruction: its keyword as written and the rest of the line.
struct Instruction {
    keyword: String,
    rest: String,
}

/// Splits the changes, joined by newlines as Docker joins them, into instructions: blank lines
/// and comments are skipped, a line ending in `\` continues on the next.
fn parse(changes: &[String]) -> Vec<Instruction> {
    let joined = changes.join("\n");
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in joined.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if cur.is_empty() && line.trim_start().starts_with('#') {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(line);
                logical.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        logical.push(cur);
    }
    logical
        .into_iter()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() {
                return None;
            }
            let (keyword, rest) = match l.find(char::is_whitespace) {
                Some(i) => (&l[..i], l[i..].trim()),
                None => (l, ""),
            };
            Some(Instruction {
                keyword: keyword.to_owned(),
                rest: rest.to_owned(),
            })
        })
        .collect()
}

/// Applies `changes` to `config` as Docker does for `docker import --change` / `docker commit
/// --change`. On error `config` may be partly changed: apply to a copy.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ArchiveError> {
    let instructions = parse(changes);
    for ins in &instructions {
        if !VALID.contains(&ins.keyword.to_ascii_lowercase().as_str()) {
            return Err(invalid(format!("{} is not a valid change command", ins.keyword)));
        }
    }
    let mut cmd_set = false;
    for ins in &instructions {
        let kw = ins.keyword.to_ascii_lowercase();
        let upper = kw.to_ascii_uppercase();
        let rest = ins.rest.as_str();
        match kw.as_str() {
            "cmd" => {
                config.cmd = Some(command_line(config, rest));
                cmd_set = true;
            }
            "entrypoint" => {
                config.entrypoint = Some(command_line(config, rest));
                // Ref: dispatchers.go dispatchEntrypoint: a new entrypoint drops an inherited Cmd.
                if !cmd_set {
                    config.cmd = None;
                }
            }
            "env" => {
                for (k, v) in name_values(&upper, rest, config)? {
                    let env = config.env.get_or_insert_with(Vec::new);
                    let prefix = format!("{k}=");
                    let item = format!("{k}={v}");
                    match env.iter_mut().find(|e| e.starts_with(&prefix) || **e == k) {
                        Some(e) => *e = item,
                        None => env.push(item),
                    }
                }
            }
            "label" => {
                for (k, v) in name_values(&upper, rest, config)? {
                    config.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                }
            }
            "expose" => {
                if rest.is_empty() {
                    return Err(invalid("EXPOSE requires at least one argument"));
                }
                for word in split_words(rest) {
                    let spec = process_word(&word, &env_map(config))?;
                    for port in port_specs(&spec)? {
                        config
                            .exposed_ports
                            .get_or_insert_with(BTreeMap::new)
                            .insert(port, EmptyObject);
                    }
                }
            }
            "user" => {
                let words = split_words(rest);
                if words.len() != 1 {
                    return Err(invalid("USER requires exactly one argument"));
                }
                config.user = Some(process_word(&words[0], &env_map(config))?);
            }
            "workdir" => {
                if rest.is_empty() {
                    return Err(invalid("WORKDIR requires exactly one argument"));
                }
                let dir = process_word(rest, &env_map(config))?;
                config.working_dir = Some(normalize_workdir(config.working_dir.as_deref(), &dir));
            }
            "stopsignal" => {
                let words = split_words(rest);
                if words.len() != 1 {
                    return Err(invalid("STOPSIGNAL requires exactly one argument"));
                }
                let sig = process_word(&words[0], &env_map(config))?;
                check_signal(&sig)?;
                config.stop_signal = Some(sig);
            }
            "volume" => {
                let paths = match json_array(rest) {
                    Some(v) => v,
                    None => split_words(rest)
                        .iter()
                        .map(|w| process_word(w, &env_map(config)))
                        .collect::<Result<_, _>>()?,
                };
                if paths.is_empty() {
                    return Err(invalid("VOLUME requires at least one argument"));
                }
                for p in paths {
                    let p = p.trim();
                    if p.is_empty() {
                        return Err(invalid("VOLUME specified can not be an empty string"));
                    }
                    config
                        .volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(p.to_owned(), EmptyObject);
                }
            }
            "onbuild" => {
                let trigger = rest.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                match trigger.as_str() {
                    "" => return Err(invalid("ONBUILD requires at least one argument")),
                    "ONBUILD" => return Err(invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")),
                    "FROM" | "MAINTAINER" => {
                        return Err(invalid(format!("{trigger} isn't allowed as an ONBUILD trigger")))
                    }
                    _ => config.on_build.get_or_insert_with(Vec::new).push(rest.to_owned()),
                }
            }
            "healthcheck" => config.healthcheck = Some(healthcheck(rest)?),
            _ => unreachable!("checked against VALID above"),
        }
    }
    Ok(())
}

/// `["a","b"]` → exec form; anything else → the config's shell (default `/bin/sh -c`) + the text.
fn command_line(config: &ContainerConfig, rest: &str) -> Vec<String> {
    if let Some(v) = json_array(rest) {
        return v;
    }
    let mut v = config
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()]);
    v.push(rest.to_owned());
    v
}

/// A JSON array of strings, or `None` (then the text is the shell form). Ref: parseMaybeJSON.
fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// `k=v k2="v 2"` or the legacy `k v w` (value = the rest). Ref: BuildKit parseNameVal.
fn name_values(
    instruction: &str,
    rest: &str,
    config: &ContainerConfig,
) -> Result<Vec<(String, String)>, ArchiveError> {
    let env = env_map(config);
    let words = split_words(rest);
    if words.is_empty() {
        return Err(invalid(format!("{instruction} requires at least one argument")));
    }
    if !words[0].contains('=') {
        // Legacy form: the first word is the name, the rest of the line the value.
        let key = &words[0];
        let value = rest[rest.find(key.as_str()).unwrap_or(0) + key.len()..].trim();
        if value.is_empty() {
            return Err(invalid(format!("{instruction} must have two arguments")));
        }
        return Ok(vec![(process_word(key, &env)?, process_word(value, &env)?)]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(invalid(format!(
                "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            )));
        };
        if k.is_empty() {
            return Err(invalid(format!("{instruction} names can not be blank")));
        }
        out.push((process_word(k, &env)?, process_word(v, &env)?));
    }
    Ok(out)
}

fn env_map(config: &ContainerConfig) -> BTreeMap<String, String> {
    config
        .env
        .iter()
        .flatten()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// Splits at unquoted whitespace, keeping quotes and escapes in the words. Ref: parseWords.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (_, '\\') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Removes quotes and escapes and expands `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR:+x}` (and the
/// forms without colon) from `env`. Ref: BuildKit shell lexer `ProcessWord`.
fn process_word(word: &str, env: &BTreeMap<String, String>) -> Result<String, ArchiveError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    out.push(chars[i]);
                    i += 1;
                }
                if i == chars.len() {
                    return Err(invalid(format!(
                        "unexpected end of statement while looking for matching single-quote: {word}"
                    )));
                }
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    if i >= chars.len() {
                        return Err(invalid(format!(
                            "unexpected end of statement while looking for matching double-quote: {word}"
                        )));
                    }
                    match chars[i] {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '"' | '$' | '\\' | '`') => {
                            out.push(chars[i + 1]);
                            i += 2;
                        }
                        '$' => i = expand(&chars, i, env, &mut out)?,
                        c => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
            }
            '\\' => {
                if i + 1 < chars.len() {
                    out.push(chars[i + 1]);
                }
                i += 2;
            }
            '$' => i = expand(&chars, i, env, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Expands the variable starting at `chars[i] == '$'`; returns the index after it.
fn expand(
    chars: &[char],
    i: usize,
    env: &BTreeMap<String, String>,
    out: &mut String,
) -> Result<usize, ArchiveError> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut j = i + 1;
    if j < chars.len() && chars[j] == '{' {
        j += 1;
        let start = j;
        while j < chars.len() && name_char(chars[j]) {
            j += 1;
        }
        let name: String = chars[start..j].iter().collect();
        let value = env.get(&name);
        if j < chars.len() && chars[j] == '}' {
            out.push_str(value.map_or("", String::as_str));
            return Ok(j + 1);
        }
        let colon = j < chars.len() && chars[j] == ':';
        if colon {
            j += 1;
        }
        let op = chars.get(j).copied();
        let word_start = j + 1;
        let mut depth = 0;
        let mut k = word_start;
        while k < chars.len() && !(chars[k] == '}' && depth == 0) {
            if chars[k] == '{' {
                depth += 1;
            } else if chars[k] == '}' {
                depth -= 1;
            }
            k += 1;
        }
        if k >= chars.len() {
            return Err(invalid(format!(
                "missing '}}' in substitution: {}",
                chars.iter().collect::<String>()
            )));
        }
        let word: String = chars[word_start..k].iter().collect();
        let set = match value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        match op {
            Some('-') => {
                if set {
                    out.push_str(value.map_or("", String::as_str));
                } else {
                    out.push_str(&process_word(&word, env)?);
                }
            }
            Some('+') => {
                if set {
                    out.push_str(&process_word(&word, env)?);
                }
            }
            Some('?') => {
                if !set {
                    let msg = if word.is_empty() {
                        "is not allowed to be unset"
                    } else {
                        word.as_str()
                    };
                    return Err(invalid(format!("{name}: {msg}")));
                }
                out.push_str(value.map_or("", String::as_str));
            }
            _ => {
                return Err(invalid(format!(
                    "unsupported modifier ({}) in substitution: {}",
                    op.unwrap_or(' '),
                    chars.iter().collect::<String>()
                )))
            }
        }
        return Ok(k + 1);
    }
    let start = j;
    while j < chars.len() && name_char(chars[j]) {
        j += 1;
    }
    if j == start {
        out.push('$');
        return Ok(i + 1);
    }
    let name: String = chars[start..j].iter().collect();
    out.push_str(env.get(&name).map_or("", String::as_str));
    Ok(j)
}

/// `80`, `80/udp`, `8000-8002/tcp` → `["8000/tcp", ...]`. Ref: go-connections nat.ParsePortSpec.
fn port_specs(spec: &str) -> Result<Vec<String>, ArchiveError> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(invalid(format!("invalid proto: {proto}")));
    }
    // An `ip:hostPort:containerPort` spec exposes the container port.
    let container = ports.rsplit(':').next().unwrap_or(ports);
    let bad = || invalid(format!("invalid containerPort: {container}"));
    let (start, end) = match container.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = container.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if end < start {
        return Err(invalid(format!(
            "invalid range specified for container port: {container}"
        )));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Go's path.Join + Clean of the current and requested working directories.
fn normalize_workdir(current: Option<&str>, requested: &str) -> String {
    let joined = if requested.starts_with('/') {
        requested.to_owned()
    } else {
        format!("/{}/{}", current.unwrap_or(""), requested)
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
    "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
    "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// Ref: moby/sys signal.ParseSignal.
fn check_signal(raw: &str) -> Result<(), ArchiveError> {
    if let Ok(n) = raw.parse::<i64>() {
        return if n > 0 && n < 65 {
            Ok(())
        } else {
            Err(invalid(format!("Invalid signal: {raw}")))
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: &str| {
        name.strip_prefix(base)
            .and_then(|n| n.strip_prefix(['+', '-']))
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 15))
    };
    if SIGNALS.contains(&name) || rt("RTMIN") || rt("RTMAX") {
        Ok(())
    } else {
        Err(invalid(format!("Invalid signal: {raw}")))
    }
}

/// `HEALTHCHECK [--interval=D --timeout=D --start-period=D --start-interval=D --retries=N] CMD ...`
/// or `HEALTHCHECK NONE`.
fn healthcheck(rest: &str) -> Result<HealthConfig, ArchiveError> {
    let mut hc = HealthConfig::default();
    let mut rest = rest.trim_start();
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (name, value) = flag[..end].split_once('=').unwrap_or((&flag[..end], ""));
        let dur = |v: &str| go_duration(v).ok_or_else(|| invalid(format!("time: invalid duration \"{v}\"")));
        match name {
            "interval" => hc.interval = dur(value)?,
            "timeout" => hc.timeout = dur(value)?,
            "start-period" => hc.start_period = dur(value)?,
            "start-interval" => hc.start_interval = dur(value)?,
            "retries" => {
                hc.retries = value
                    .parse()
                    .map_err(|_| invalid(format!("strconv.ParseInt: parsing \"{value}\": invalid syntax")))?;
                if hc.retries < 0 {
                    return Err(invalid("--retries cannot be negative"));
                }
            }
            other => return Err(invalid(format!("Unknown flag: {other}"))),
        }
        rest = flag[end..].trim_start();
    }
    let (kind, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !args.is_empty() {
                return Err(invalid("HEALTHCHECK NONE takes no arguments"));
            }
            hc.test = Some(vec!["NONE".to_owned()]);
        }
        "CMD" => {
            if args.is_empty() {
                return Err(invalid("Missing command after HEALTHCHECK CMD"));
            }
            let mut test = Vec::new();
            match json_array(args) {
                Some(v) => {
                    test.push("CMD".to_owned());
                    test.extend(v);
                }
                None => {
                    test.push("CMD-SHELL".to_owned());
                    test.push(args.to_owned());
                }
            }
            hc.test = Some(test);
        }
        other => {
            return Err(invalid(format!(
                "Unknown type \"{other}\" in HEALTHCHECK (try CMD)"
            )))
        }
    }
    Ok(hc)
}

/// Go's `time.ParseDuration`, in nanoseconds (`1m30s`, `500ms`, `1.5h`).
fn go_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<ContainerConfig, String> {
        let mut c = ContainerConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &changes).map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn every_instruction() {
        let c = apply(&[
            "ENV A=1 B=\"two words\" C='$A'",
            "ENV LEGACY some value",
            "ENV D=${A}x E=${NOPE:-dflt} F=$A$B",
            "LABEL org.x=\"y z\" plain=v",
            "WORKDIR /srv",
            "WORKDIR app/../data",
            "EXPOSE 80 53/udp 9000-9001",
            "USER nobody:nogroup",
            "STOPSIGNAL SIGQUIT",
            "VOLUME /data /cache",
            "VOLUME [\"/json\"]",
            "ONBUILD RUN echo hi",
            "CMD [\"sh\", \"-c\", \"echo\"]",
            "ENTRYPOINT /entry.sh --flag",
            "HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/",
        ])
        .unwrap();
        let env = c.env.unwrap();
        assert_eq!(
            env,
            [
                "A=1",
                "B=two words",
                "C=$A",
                "LEGACY=some value",
                "D=1x",
                "E=dflt",
                "F=1two words"
            ]
        );
        let labels = c.labels.unwrap();
        assert_eq!(labels["org.x"], "y z");
        assert_eq!(labels["plain"], "v");
        assert_eq!(c.working_dir.as_deref(), Some("/srv/data"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "9000/tcp", "9001/tcp"]);
        assert_eq!(c.user.as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
        assert_eq!(vols, ["/cache", "/data", "/json"]);
        assert_eq!(c.on_build.unwrap(), ["RUN echo hi"]);
        // CMD was set by these changes, so ENTRYPOINT keeps it.
        assert_eq!(c.cmd.unwrap(), ["sh", "-c", "echo"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/entry.sh --flag"]);
        let hc = c.healthcheck.unwrap();
        assert_eq!(hc.test.unwrap(), ["CMD-SHELL", "curl -f http://localhost/"]);
        assert_eq!(hc.interval, 30_000_000_000);
        assert_eq!(hc.retries, 3);
    }

    #[test]
    fn shell_form_and_entrypoint_resets_cmd() {
        let mut c = ContainerConfig {
            cmd: Some(vec!["old".into()]),
            ..Default::default()
        };
        apply_changes(&mut c, &["ENTRYPOINT [\"/e\"]".to_string()]).unwrap();
        assert_eq!(c.cmd, None);
        let c = apply(&["CMD echo $HOME"]).unwrap();
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo $HOME"]);
        let c = apply(&["cmd [\"a\"]", "healthcheck NONE"]).unwrap();
        assert_eq!(c.cmd.unwrap(), ["a"]);
        assert_eq!(c.healthcheck.unwrap().test.unwrap(), ["NONE"]);
    }

    #[test]
    fn refuses_like_docker() {
        assert_eq!(
            apply(&["FROM busybox"]).unwrap_err(),
            "FROM is not a valid change command"
        );
        assert_eq!(
            apply(&["run ls"]).unwrap_err(),
            "run is not a valid change command"
        );
        assert_eq!(
            apply(&["ADD . /"]).unwrap_err(),
            "ADD is not a valid change command"
        );
        assert_eq!(
            apply(&["STOPSIGNAL SIGNOPE"]).unwrap_err(),
            "Invalid signal: SIGNOPE"
        );
        assert_eq!(apply(&["EXPOSE abc"]).unwrap_err(), "invalid containerPort: abc");
        assert_eq!(
            apply(&["ENV ONLYKEY"]).unwrap_err(),
            "ENV must have two arguments"
        );
        assert_eq!(
            apply(&["ONBUILD ONBUILD RUN x"]).unwrap_err(),
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        assert_eq!(
            apply(&["ENV A=1 B"]).unwrap_err(),
            "Syntax error - can't find = in \"B\". Must be of the form: name=value"
        );
    }
}
