//! Output helpers: `--format` templates and tables, Docker's human units and times, filters, and
//! inspect's indented JSON.

use std::io::Write;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use berth_gotemplate as gt;

// ---------------------------------------------------------------------------------------------
// Numbers

/// Go's `fmt.Sprintf("%.*g", prec, v)`.
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return v.to_string();
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn custom_size(size: f64, prec: usize, base: f64, units: &[&str; 9]) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, prec), units[i])
}

/// Ref: docker/go-units `HumanSizeWithPrecision` (decimal units).
pub fn human_size_prec(size: f64, prec: usize) -> String {
    custom_size(size, prec, 1000.0, &DECIMAL)
}

/// Ref: docker/go-units `HumanSize`: 4 significant digits, decimal units ("1.983MB").
pub fn human_size(size: f64) -> String {
    human_size_prec(size, 4)
}

/// Ref: docker/go-units `BytesSize`: binary units ("23.54GiB").
pub fn bytes_size(size: f64) -> String {
    custom_size(size, 4, 1024.0, &BINARY)
}

/// Ref: docker/go-units `HumanDuration`.
pub fn human_duration(secs: f64) -> String {
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// Go's `time.Duration.String()` for whole seconds ("1h2m3s", "45s", "0s").
pub fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// A moment split into civil fields in some zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub nanos: u32,
    pub weekday: u32,
    /// Seconds east of UTC.
    pub offset: i64,
    pub zone: String,
}

/// Days since 1970-01-01 → (year, month, day). Ref: Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` (Unix time) in the zone `offset` seconds east of UTC, named `zone`.
pub fn civil_in(secs: i64, nanos: u32, offset: i64, zone: &str) -> Civil {
    let t = secs + offset;
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        min: (rem % 3600 / 60) as u32,
        sec: (rem % 60) as u32,
        nanos,
        weekday: (days + 4).rem_euclid(7) as u32,
        offset,
        zone: zone.to_string(),
    }
}

/// `secs` in the local zone (TZ / /etc/localtime through libc).
pub fn local(secs: i64, nanos: u32) -> Civil {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the reentrant variant.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return civil_in(secs, nanos, 0, "UTC");
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated string owned by libc's zone data.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    civil_in(secs, nanos, tm.tm_gmtoff as i64, &zone)
}

pub fn now() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

fn offset_str(offset: i64, colon: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.abs();
    if colon {
        format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60)
    } else {
        format!("{sign}{:02}{:02}", o / 3600, o % 3600 / 60)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl Civil {
    fn date_time(&self, sep: char) -> String {
        format!(
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        )
    }

    /// Go's `time.Time.String()` ("2006-01-02 15:04:05.999999999 -0700 MST").
    pub fn go_string(&self) -> String {
        let mut s = self.date_time(' ');
        if self.nanos != 0 {
            s.push_str(trim_zeros(&format!(".{:09}", self.nanos)).trim_end_matches('.'));
        }
        let zone = if self.zone.is_empty() {
            offset_str(self.offset, false)
        } else {
            self.zone.clone()
        };
        format!("{s} {} {zone}", offset_str(self.offset, false))
    }

    fn zone_z(&self) -> String {
        if self.offset == 0 {
            "Z".into()
        } else {
            offset_str(self.offset, true)
        }
    }

    /// RFC 3339 ("2006-01-02T15:04:05Z07:00").
    pub fn rfc3339(&self) -> String {
        format!("{}{}", self.date_time('T'), self.zone_z())
    }

    /// Docker's `RFC3339NanoFixed` ("2006-01-02T15:04:05.000000000Z07:00").
    pub fn rfc3339_nano_fixed(&self) -> String {
        format!("{}.{:09}{}", self.date_time('T'), self.nanos, self.zone_z())
    }

    /// Go's `time.ANSIC` ("Mon Jan _2 15:04:05 2006").
    pub fn ansic(&self) -> String {
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday as usize],
            MONTHS[self.month as usize - 1],
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.year
        )
    }
}

/// Parses RFC 3339 with optional fraction: (Unix seconds, nanos, offset east of UTC).
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32, i64)> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (tz[1..3].parse::<i64>().ok()? * 3600 + tz[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset, nanos, offset))
}

/// Ref: docker/api/types/time `GetTimestamp`: a Unix time, an RFC 3339 date or time, or a Go
/// duration before `now` ("10m", sent as whole Unix seconds), as the `since`/`until` query
/// parameters want them ("seconds[.nanoseconds]").
pub fn get_timestamp(value: &str, now: (i64, u32)) -> Result<String> {
    if let Some(d) = parse_go_duration(value).filter(|_| value != "0") {
        let total = now.0 as i128 * 1_000_000_000 + now.1 as i128 - d;
        return Ok(total.div_euclid(1_000_000_000).to_string());
    }
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
        let (s, n) = value.split_once('.').unwrap_or((value, ""));
        if s.parse::<i64>().is_ok() && (n.is_empty() || n.chars().all(|c| c.is_ascii_digit())) {
            return Ok(if n.is_empty() {
                value.to_string()
            } else {
                format!("{s}.{:0<9}", n)
            });
        }
    }
    let parsed = parse_rfc3339(value)
        .or_else(|| parse_rfc3339(&format!("{value}Z")))
        .or_else(|| parse_rfc3339(&format!("{value}:00Z")))
        .or_else(|| parse_rfc3339(&format!("{value}T00:00:00Z")));
    match parsed {
        Some((s, n, _)) => Ok(format!("{s}.{n:09}")),
        None => Err(Error::msg(format!(
            "failed to parse value as time or duration: \"{value}\""
        ))),
    }
}

/// A Go duration ("1h30m", "90s", "250ms") in nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += v * unit;
    }
    Some(if neg { -(total as i128) } else { total as i128 })
}

// ---------------------------------------------------------------------------------------------
// Filters

/// `--filter k=v` flags as the API's `filters` JSON (`{"k":{"v":true}}`); `None` when empty.
/// Ref: docker/api/types/filters `ParseFlag`.
pub fn filters_json(flags: &[String], extra: &[(&str, &str)]) -> Result<Option<String>> {
    let mut m: Map<String, Value> = Map::new();
    let mut add = |k: &str, v: &str| {
        m.entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("filter values are objects")
            .insert(v.to_string(), Value::Bool(true));
    };
    for f in flags {
        if !f.contains('=') {
            return Err(Error::msg(format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            )));
        }
        let (k, v) = f.split_once('=').expect("checked above");
        add(&k.trim().to_lowercase(), v.trim());
    }
    for (k, v) in extra {
        add(k, v);
    }
    if m.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(m).to_string()))
}

// ---------------------------------------------------------------------------------------------
// Templates and tables

/// Docker's pre-processing of a format: drop the `table` keyword, trim spaces, and turn the
/// two-character escapes `\t` and `\n` into the characters. Ref: docker/cli formatter `preFormat`.
pub fn pre_format(format: &str) -> String {
    gt::table_body(format)
}

pub fn parse_template(src: &str) -> Result<gt::Template> {
    gt::Template::parse(src).map_err(|e| Error::msg(format!("template parsing error: {e}")))
}

pub fn execute(t: &gt::Template, v: &Value) -> Result<String> {
    t.execute(v).map_err(|e| Error::msg(format!("template: {e}")))
}

/// A list's output: the default table, `table TEMPLATE`, `json`, or a bare template per row.
#[derive(Debug)]
pub struct ListFormat {
    table: bool,
    /// `--format json`: each row marshalled as docker's formatter contexts do (`json.Marshal`,
    /// which escapes `<`, `>` and `&`), not through the template's `json` function.
    json: bool,
    template: gt::Template,
}

/// Go's `json.Marshal` of a value: compact, with HTML-sensitive characters escaped.
pub fn go_json(v: &Value) -> String {
    // These characters can only occur inside strings, so escaping them anywhere is safe.
    let s = v.to_string();
    let mut r = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => r.push_str("\\u003c"),
            '>' => r.push_str("\\u003e"),
            '&' => r.push_str("\\u0026"),
            '\u{2028}' => r.push_str("\\u2028"),
            '\u{2029}' => r.push_str("\\u2029"),
            c => r.push(c),
        }
    }
    r
}

impl ListFormat {
    /// `format` as given by `--format` (empty or "table" for the default table).
    pub fn new(format: Option<&str>, default_table: &str) -> Result<ListFormat> {
        let f = format.unwrap_or("").trim();
        // `{{json .}}` marshals the row as docker's formatter contexts do (HTML-escaped), not as
        // the template's `json` function does.
        let f = if f == "{{json .}}" { "json" } else { f };
        let (table, src) = match f {
            "" | "table" => (true, pre_format(default_table)),
            "json" => (false, "{{json .}}".to_string()),
            f => (gt::is_table(f), pre_format(f)),
        };
        Ok(ListFormat {
            table,
            json: f == "json",
            template: parse_template(&src)?,
        })
    }

    /// Renders `rows`; a table gets `header` (the row fields' column titles) first.
    pub fn render(&self, header: &Value, rows: &[Value]) -> Result<String> {
        let mut body = String::new();
        if self.table {
            body.push_str(&execute(&self.template, header)?);
            body.push('\n');
        }
        for r in rows {
            if self.json {
                body.push_str(&go_json(r));
            } else {
                body.push_str(&execute(&self.template, r)?);
            }
            body.push('\n');
        }
        if !self.table {
            return Ok(body);
        }
        let mut tw = gt::docker_tabwriter();
        tw.write_str(&body);
        Ok(tw.finish())
    }

    pub fn print(&self, header: &Value, rows: &[Value]) -> Result<()> {
        let s = self.render(header, rows)?;
        let mut out = std::io::stdout().lock();
        out.write_all(s.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// `-f TEMPLATE` over one value (version, info, inspect): the result plus a newline.
pub fn render_template(format: &str, v: &Value) -> Result<String> {
    let f = if format == "json" { "{{json .}}" } else { format };
    let t = parse_template(&pre_format(f))?;
    let mut s = execute(&t, v)?;
    s.push('\n');
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Inspect's JSON

/// Appends `raw` (one JSON document) to `out` indented by Go's `json.MarshalIndent(.., "", "    ")`
/// rules over a `json.RawMessage`: key order and number spelling kept, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped inside strings, empty `{}` and `[]` kept on one line. `depth` is the starting
/// indentation level.
pub fn indent_json(raw: &[u8], depth: usize, out: &mut Vec<u8>) {
    let mut depth = depth;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, d: usize| {
        out.push(b'\n');
        for _ in 0..d {
            out.extend_from_slice(b"    ");
        }
    };
    let mut need_indent = false;
    while i < raw.len() {
        let c = raw[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if need_indent && c != b']' && c != b'}' {
            need_indent = false;
            depth += 1;
            newline(out, depth);
        }
        match c {
            b'"' => {
                out.push(b'"');
                i += 1;
                while i < raw.len() {
                    let b = raw[i];
                    match b {
                        b'\\' => {
                            out.push(b);
                            if i + 1 < raw.len() {
                                out.push(raw[i + 1]);
                            }
                            i += 2;
                            continue;
                        }
                        b'"' => {
                            out.push(b);
                            i += 1;
                            break;
                        }
                        b'<' => out.extend_from_slice(b"\\u003c"),
                        b'>' => out.extend_from_slice(b"\\u003e"),
                        b'&' => out.extend_from_slice(b"\\u0026"),
                        0xE2 if raw.get(i + 1) == Some(&0x80)
                            && matches!(raw.get(i + 2), Some(0xA8 | 0xA9)) =>
                        {
                            out.extend_from_slice(if raw[i + 2] == 0xA8 {
                                b"\\u2028"
                            } else {
                                b"\\u2029"
                            });
                            i += 3;
                            continue;
                        }
                        _ => out.push(b),
                    }
                    i += 1;
                }
                continue;
            }
            b'{' | b'[' => {
                out.push(c);
                need_indent = true;
            }
            b'}' | b']' => {
                if need_indent {
                    // Empty object or array.
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(out, depth);
                }
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(out, depth);
            }
            b':' => {
                out.extend_from_slice(b": ");
            }
            _ => out.push(c),
        }
        i += 1;
    }
}

/// Docker's inspect output for raw elements: `[` elements `]` indented with 4 spaces, then a newline.
pub fn indented_array(elements: &[Vec<u8>]) -> Vec<u8> {
    if elements.is_empty() {
        return b"[]\n".to_vec();
    }
    let mut out = b"[".to_vec();
    for (n, e) in elements.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\n    ");
        indent_json(e, 1, &mut out);
    }
    out.extend_from_slice(b"\n]\n");
    out
}

/// Docker's `stringid.TruncateID`: drop the algorithm prefix, keep 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, h)| h);
    id.chars().take(12).collect()
}

pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(human_size_prec(1_983_135.0, 3), "1.98MB");
        assert_eq!(human_size(1_983_135.0), "1.983MB");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size_prec(4_260_000.0, 3), "4.26MB");
        assert_eq!(human_size_prec(999_600.0, 3), "1e+03kB");
        assert_eq!(human_size(123_456_789_012.0), "123.5GB");
        assert_eq!(bytes_size(25_275_437_056.0), "23.54GiB");
        assert_eq!(human_size(7_700_000.0), "7.7MB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(49.0), "49 seconds");
        assert_eq!(human_duration(60.0), "About a minute");
        assert_eq!(human_duration(150.0), "2 minutes");
        assert_eq!(human_duration(3600.0 + 1200.0), "About an hour");
        assert_eq!(human_duration(3.0 * 3600.0), "3 hours");
        assert_eq!(human_duration(47.0 * 3600.0), "47 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(3.0 * 365.0 * 86400.0), "3 years");
        assert_eq!(go_duration(3723), "1h2m3s");
        assert_eq!(go_duration(45), "45s");
    }

    #[test]
    fn times() {
        let c = civil_in(1_795_353_029, 0, 0, "UTC");
        assert_eq!(c.go_string(), "2026-11-22 13:10:29 +0000 UTC");
        assert_eq!(c.rfc3339(), "2026-11-22T13:10:29Z");
        assert_eq!(c.ansic(), "Sun Nov 22 13:10:29 2026");
        let c = civil_in(1_778_188_176, 123_456_789, 3600, "CET");
        assert_eq!(c.rfc3339_nano_fixed(), "2026-05-07T22:09:36.123456789+01:00");
        assert_eq!(c.ansic(), "Thu May  7 22:09:36 2026");
        assert_eq!(
            parse_rfc3339("2026-05-07T21:09:36.000000000+00:00"),
            Some((1_778_188_176, 0, 0))
        );
        assert_eq!(
            parse_rfc3339("2026-05-07T22:09:36.5+01:00"),
            Some((1_778_188_176, 500_000_000, 3600))
        );
        assert_eq!(get_timestamp("10m", (1000, 5)).unwrap(), "400");
        assert_eq!(get_timestamp("0", (1000, 5)).unwrap(), "0");
        assert_eq!(get_timestamp("1700000000", (0, 0)).unwrap(), "1700000000");
        assert_eq!(
            get_timestamp("2026-05-07", (0, 0)).unwrap(),
            "1778112000.000000000"
        );
        assert!(get_timestamp("yesterday", (0, 0)).is_err());
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(go_g(1.0, 3), "1");
        assert_eq!(go_g(12.345, 3), "12.3");
        assert_eq!(go_g(0.0001234, 3), "0.000123");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn filters() {
        assert_eq!(filters_json(&[], &[]).unwrap(), None);
        let f = filters_json(
            &[
                "dangling=true".into(),
                "label=a=b".into(),
                "Reference=busy*".into(),
            ],
            &[("reference", "x")],
        )
        .unwrap()
        .unwrap();
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(
            v,
            json!({"dangling":{"true":true},"label":{"a=b":true},"reference":{"busy*":true,"x":true}})
        );
        assert!(filters_json(&["nope".into()], &[]).is_err());
    }

    #[test]
    fn tables() {
        let lf = ListFormat::new(None, "table {{.Repository}}\t{{.Tag}}\t{{.Size}}").unwrap();
        let header = json!({"Repository":"REPOSITORY","Tag":"TAG","Size":"SIZE"});
        let rows = vec![
            json!({"Repository":"busybox","Tag":"latest","Size":"1.98MB"}),
            json!({"Repository":"localhost:5000/x/y","Tag":"3","Size":"1.98MB"}),
        ];
        assert_eq!(
            lf.render(&header, &rows).unwrap(),
            "REPOSITORY           TAG       SIZE\n\
             busybox              latest    1.98MB\n\
             localhost:5000/x/y   3         1.98MB\n"
        );
        let raw = ListFormat::new(Some("{{.Tag}}:{{.Size}}"), "").unwrap();
        assert_eq!(raw.render(&header, &rows).unwrap(), "latest:1.98MB\n3:1.98MB\n");
        let t = ListFormat::new(Some(r"table {{.Tag}}\t{{.Size}}"), "").unwrap();
        assert_eq!(
            t.render(&header, &rows[..1]).unwrap(),
            "TAG       SIZE\nlatest    1.98MB\n"
        );
        let j = ListFormat::new(Some("json"), "").unwrap();
        assert_eq!(
            j.render(&header, &rows[1..]).unwrap(),
            "{\"Repository\":\"localhost:5000/x/y\",\"Tag\":\"3\",\"Size\":\"1.98MB\"}\n"
        );
        assert_eq!(
            go_json(&json!({"Digest":"<none>"})),
            r#"{"Digest":"\u003cnone\u003e"}"#
        );
    }

    #[test]
    fn inspect_indent() {
        let raw = br#"{"Id":"sha256:1","RepoTags":["a:b"],"Empty":[],"O":{},"Cmd":["<x>"],"N":1.50,"Nested":{"k":[1,{"z":null}]}}"#;
        let out = String::from_utf8(indented_array(&[raw.to_vec()])).unwrap();
        assert_eq!(
            out,
            "[\n    {\n        \"Id\": \"sha256:1\",\n        \"RepoTags\": [\n            \"a:b\"\n        ],\n        \"Empty\": [],\n        \"O\": {},\n        \"Cmd\": [\n            \"\\u003cx\\u003e\"\n        ],\n        \"N\": 1.50,\n        \"Nested\": {\n            \"k\": [\n                1,\n                {\n                    \"z\": null\n                }\n            ]\n        }\n    }\n]\n"
        );
        assert_eq!(indented_array(&[]), b"[]\n");
    }

    #[test]
    fn ids() {
        assert_eq!(short_id("sha256:70983e5d0e4d2b0c03cbf127"), "70983e5d0e4d");
        assert_eq!(short_id("70983e5d0e4d2b0c03cbf127"), "70983e5d0e4d");
    }
}
