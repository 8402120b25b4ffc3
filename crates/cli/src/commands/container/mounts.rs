//! `--mount` and `-v` values: Go's CSV records, the API's `Mount`, and compose's volume specs.

use serde_json::{json, Map, Value};

use super::opts::{clean_path, ram_in_bytes};

type R<T> = std::result::Result<T, String>;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
