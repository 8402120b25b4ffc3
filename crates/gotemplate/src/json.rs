//! Docker's `json` template function: Go's `encoding/json` encoder with
//! `SetEscapeHTML(false)`, compact, without the trailing newline.
//!
//! Ref: docker/cli templates/templates.go (`json`), Go src/encoding/json
//! encode.go (`appendString`, `floatEncoder`). Object keys keep the data's
//! order, as Go keeps a struct's field order.

use std::fmt::Write as _;

use serde_json::Value;

pub(crate) fn encode(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                let _ = write!(out, "{n}");
            } else {
                write_float(out, n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Go marshals a float64 in fixed notation unless it is tiny or huge, then
/// in exponent notation with a trimmed exponent (`1e-7`, `1e+21`).
fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let sign = if exp.starts_with('-') { '-' } else { '+' };
        let digits = exp.trim_start_matches('-');
        let _ = write!(out, "{mant}e{sign}");
        if sign == '+' && digits.len() < 2 {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        // Rust's Display of f64 is the shortest round-trip digits in fixed
        // notation, as Go's 'f' with precision -1, but keeps no ".0".
        let _ = write!(out, "{f}");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
