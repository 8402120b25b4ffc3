//! The little JSON the shim writes (log entries, state lines) and reads (the runtime's error log),
//! by hand: serde would double the binary and its resident memory.

/// Appends `s` as a JSON string literal, escaped exactly as dockerd's json-file logger does (its
/// `ffjsonWriteJSONBytesAsString`): `"` and `\` with a backslash, `\n` and `\r` short, every other
/// control byte and `<`, `>`, `&` as `\u00XX`, U+2028 and U+2029 as `\u2028`/`\u2029`, and each
/// byte that does not start a valid UTF-8 sequence as `\ufffd` (Go's `utf8.DecodeRune` consumes
/// one byte per error, so a truncated sequence gives one `\ufffd` per byte).
// Ref: moby daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go.
pub fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_valid(out, valid.as_bytes());
                break;
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                push_valid(out, valid);
                out.extend_from_slice(b"\\ufffd");
                rest = &bad[1..];
            }
        }
    }
    out.push(b'"');
}

/// Escapes bytes known to be valid UTF-8.
fn push_valid(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            0..=0x1f | b'<' | b'>' | b'&' => None,
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
            0xe2 if s.get(i + 1) == Some(&0x80) && matches!(s.get(i + 2), Some(0xa8 | 0xa9)) => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\u202");
                out.push(HEX[usize::from(s[i + 2] & 0xf)]);
                i += 3;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&s[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&s[start..]);
}

/// Appends a decimal integer.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_uint(out, n.unsigned_abs());
}

pub fn push_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The value of the string member `key` of a one-line JSON object (`{"level":"error","msg":"…"}`,
/// what runtimes write with `--log-format json`), unescaped. The search is textual, which is
/// exact here: inside a string value every `"` is escaped, so `"key":` cannot match there.
pub fn string_member(line: &[u8], key: &str) -> Option<String> {
    let mut pat = Vec::with_capacity(key.len() + 3);
    pat.push(b'"');
    pat.extend_from_slice(key.as_bytes());
    pat.extend_from_slice(b"\":");
    let at = line.windows(pat.len()).position(|w| w == pat.as_slice())?;
    let mut rest = &line[at + pat.len()..];
    while let [b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    let rest = rest.strip_prefix(b"\"")?;
    unescape(rest)
}

/// Reads a JSON string body up to its closing quote.
fn unescape(s: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
            b'\\' => {
                let c = *s.get(i + 1)?;
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let mut code = hex4(s.get(i..i + 4)?)?;
                        i += 4;
                        if (0xd800..0xdc00).contains(&code) && s.get(i..i + 2) == Some(b"\\u") {
                            if let Some(low) = s.get(i + 2..i + 6).and_then(hex4) {
                                if (0xdc00..0xe000).contains(&low) {
                                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                                    i += 6;
                                }
                            }
                        }
                        let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                        let mut b = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                    }
                    other => out.push(other),
                }
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    None
}

fn hex4(s: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(s).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &[u8]) -> String {
        let mut v = Vec::new();
        push_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_as_dockerd_json_file() {
        assert_eq!(esc(b"hello\n"), r#""hello\n""#);
        assert_eq!(esc(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            esc(b"<a href=\"x\">&</a>"),
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#
        );
        // Tab, backspace and form feed take the \u00XX form in dockerd's writer (not Go's \t).
        assert_eq!(
            esc(b"\t\x08\x0c\x00\x1f\r"),
            r#""\u0009\u0008\u000c\u0000\u001f\r""#
        );
        assert_eq!(esc(b"\x7f"), "\"\x7f\"");
        assert_eq!(esc("é€😀".as_bytes()), "\"é€😀\"");
        assert_eq!(esc("a\u{2028}b\u{2029}".as_bytes()), r#""a\u2028b\u2029""#);
        assert_eq!(esc(b""), r#""""#);
    }

    #[test]
    fn invalid_utf8_becomes_one_replacement_per_byte_as_go() {
        assert_eq!(esc(b"a\xffb"), r#""a\ufffdb""#);
        // A truncated 3-byte sequence: Go's DecodeRune reports each byte on its own.
        assert_eq!(esc(b"\xe2\x82x"), r#""\ufffd\ufffdx""#);
        // A surrogate encoded in UTF-8 and an overlong form are invalid too.
        assert_eq!(esc(b"\xed\xa0\x80"), r#""\ufffd\ufffd\ufffd""#);
        assert_eq!(esc(b"\xc0\xaf"), r#""\ufffd\ufffd""#);
        assert_eq!(esc(b"\xf4\x90\x80\x80"), r#""\ufffd\ufffd\ufffd\ufffd""#);
        // A real U+FFFD stays as it is.
        assert_eq!(esc("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
        // Invalid at the very end.
        assert_eq!(esc(b"ok\xf0\x9f"), r#""ok\ufffd\ufffd""#);
    }

    #[test]
    fn escaped_strings_read_back_with_serde() {
        let input = b"x<>&\"\\\n\r\t\x01\xff\xe2\x80\xa8 \xc3\xa9";
        let v: String = serde_json::from_str(&esc(input)).unwrap();
        assert_eq!(v, "x<>&\"\\\n\r\t\x01\u{fffd}\u{2028} é");
    }

    #[test]
    fn integers() {
        let mut v = Vec::new();
        push_int(&mut v, 0);
        v.push(b' ');
        push_int(&mut v, -137);
        v.push(b' ');
        push_uint(&mut v, u64::MAX);
        v.push(b' ');
        push_int(&mut v, i64::MIN);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "0 -137 18446744073709551615 -9223372036854775808"
        );
    }

    #[test]
    fn reads_string_members_of_runtime_log_lines() {
        let line = br#"{"level":"error","msg":"cannot exec `nosuch` in \"c\": ENOENT\n\u00e9\ud83d\ude00","time":"2026"}"#;
        assert_eq!(string_member(line, "level").as_deref(), Some("error"));
        assert_eq!(
            string_member(line, "msg").as_deref(),
            Some("cannot exec `nosuch` in \"c\": ENOENT\né😀")
        );
        assert_eq!(string_member(line, "nope"), None);
        // A key inside a value is not a member.
        let line = br#"{"msg":"say \"level\":\"error\"","level": "info"}"#;
        assert_eq!(string_member(line, "level").as_deref(), Some("info"));
        // Unterminated.
        assert_eq!(string_member(br#"{"msg":"abc"#, "msg"), None);
    }
}
