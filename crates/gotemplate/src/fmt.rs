//! Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) of JSON values as Go
//! sees them after decoding into `interface{}`.
//!
//! Ref: Go src/fmt/print.go, format.go; src/strconv/ftoa.go, quote.go.
//! One deliberate leniency: numbers accept both integer and float verbs
//! (`%d` of an integral float, `%f` of an integer), since Docker's data are
//! typed ints while JSON gives floats; Go would print `%!d(float64=1)`.

use std::fmt::Write as _;

use serde_json::Value;

/// Go's type name for a value decoded from JSON (integers shown as `int`).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub(crate) fn sprint(args: &[&Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        format_arg(&mut out, a, 'v', &Spec::default());
    }
    out
}

/// Go's `fmt.Sprintln`: operands always separated by a space, then a newline.
pub(crate) fn sprintln(args: &[&Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        format_arg(&mut out, a, 'v', &Spec::default());
    }
    out.push('\n');
    out
}

/// `%v` of one value.
pub(crate) fn format_v(v: &Value) -> String {
    let mut out = String::new();
    format_arg(&mut out, v, 'v', &Spec::default());
    out
}

/// Go rejects widths and precisions beyond a million (`tooLarge`).
const MAX_WIDTH: i64 = 1_000_000;

#[derive(Debug, Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        _ => None,
    }
}

/// Go's `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[&Value]) -> String {
    let mut out = String::new();
    let mut argn = 0usize;
    let mut reordered = false;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '#' => spec.sharp = true,
                '0' => spec.zero = !spec.minus,
                '+' => spec.plus = true,
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        let mut arg_index = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, argn: &mut usize| {
            if chars.peek().map(|&(_, c)| c) != Some('[') {
                return;
            }
            chars.next();
            let mut n = 0usize;
            let mut ok = false;
            while let Some(&(_, d)) = chars.peek() {
                chars.next();
                if let Some(v) = d.to_digit(10) {
                    n = n.saturating_mul(10).saturating_add(v as usize);
                    ok = true;
                } else {
                    ok = ok && d == ']';
                    break;
                }
            }
            reordered = true;
            if ok && n >= 1 {
                *argn = n - 1;
            } else {
                *argn = usize::MAX;
            }
        };
        arg_index(&mut chars, &mut argn);
        // Width: digits or `*` taken from the arguments.
        if chars.peek().map(|&(_, c)| c) == Some('*') {
            chars.next();
            match args
                .get(argn)
                .and_then(|a| as_int(a))
                .filter(|w| w.abs() <= MAX_WIDTH)
            {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            argn = argn.saturating_add(1);
        } else {
            spec.width = read_num(&mut chars);
        }
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            arg_index(&mut chars, &mut argn);
            if chars.peek().map(|&(_, c)| c) == Some('*') {
                chars.next();
                match args.get(argn).and_then(|a| as_int(a)).filter(|p| *p <= MAX_WIDTH) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    Some(_) => spec.prec = None,
                    None => out.push_str("%!(BADPREC)"),
                }
                argn = argn.saturating_add(1);
            } else {
                spec.prec = Some(read_num(&mut chars).unwrap_or(0));
            }
        }
        arg_index(&mut chars, &mut argn);
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            Some(a) => format_arg(&mut out, a, verb, &spec),
            None if argn == usize::MAX => {
                let _ = write!(out, "%!{verb}(BADINDEX)");
            }
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
        }
        argn = argn.saturating_add(1);
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argn..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if a.is_null() {
                out.push_str("<nil>");
            } else {
                let _ = write!(out, "{}={}", type_name(a), format_v(a));
            }
        }
        out.push(')');
    }
    out
}

fn read_num(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, d)) = chars.peek() {
        let Some(v) = d.to_digit(10) else { break };
        chars.next();
        let next = n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize);
        n = Some(next.min(MAX_WIDTH as usize));
    }
    n
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    if v.is_null() {
        let _ = write!(out, "%!{verb}(<nil>)");
    } else {
        let _ = write!(out, "%!{verb}({}={})", type_name(v), format_v(v));
    }
}

fn format_arg(out: &mut String, v: &Value, verb: char, spec: &Spec) {
    if verb == 'v' && (spec.plus || spec.sharp) {
        // `%+v` and `%#v` are their own forms in Go; for plain data they
        // print as `%v`.
        let spec = Spec {
            plus: false,
            sharp: false,
            ..*spec
        };
        return format_arg(out, v, verb, &spec);
    }
    if verb == 'T' {
        let name = if v.is_null() { "<nil>" } else { type_name(v) };
        pad(out, name, spec);
        return;
    }
    match v {
        Value::Null => match verb {
            'v' => pad(out, "<nil>", spec),
            _ => bad_verb(out, v, verb),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { "true" } else { "false" }, spec),
            _ => bad_verb(out, v, verb),
        },
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                format_int(out, v, i128::from(i), verb, spec);
            } else if let Some(u) = n.as_u64() {
                format_int(out, v, i128::from(u), verb, spec);
            } else {
                format_float(out, v, n.as_f64().unwrap_or(0.0), verb, spec);
            }
        }
        Value::String(s) => format_str(out, v, s, verb, spec),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_elem(out, item, verb, spec);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, &Value::String(k.clone()), verb, spec);
                out.push(':');
                format_elem(out, &map[k.as_str()], verb, spec);
            }
            out.push(']');
        }
    }
}

/// An element of a slice or map: a nil interface there prints `<nil>`
/// whatever the verb.
fn format_elem(out: &mut String, v: &Value, verb: char, spec: &Spec) {
    if v.is_null() {
        pad(out, "<nil>", spec);
    } else {
        format_arg(out, v, verb, spec);
    }
}

/// Pads `s` to the width in runes, spaces (or zeros with `0`) on the left,
/// or spaces on the right with `-`.
fn pad(out: &mut String, s: &str, spec: &Spec) {
    let n = s.chars().count();
    let fill = spec.width.map_or(0, |w| w.saturating_sub(n));
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if spec.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

/// Pads a number: zero padding goes between the sign and the digits.
fn pad_number(out: &mut String, sign: &str, digits: &str, spec: &Spec) {
    if spec.zero && !spec.minus {
        if let Some(w) = spec.width {
            let n = sign.chars().count() + digits.chars().count();
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', w.saturating_sub(n)));
            out.push_str(digits);
            return;
        }
    }
    let spec = Spec { zero: false, ..*spec };
    pad(out, &format!("{sign}{digits}"), &spec);
}

fn sign_of(neg: bool, spec: &Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_int(out: &mut String, v: &Value, i: i128, verb: char, spec: &Spec) {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let (mut digits, prefix) = match verb {
        'v' | 'd' => (a.to_string(), ""),
        'b' => (format!("{a:b}"), "0b"),
        'o' => (format!("{a:o}"), "0"),
        'O' => (format!("{a:o}"), "0o"),
        'x' => (format!("{a:x}"), "0x"),
        'X' => (format!("{a:X}"), "0X"),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &c.to_string(), spec);
            return;
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &quote_rune(c, spec.plus), spec);
            return;
        }
        'U' => {
            let mut s = format!("U+{a:04X}");
            if spec.sharp {
                if let Some(c) = u32::try_from(i).ok().and_then(char::from_u32) {
                    let _ = write!(s, " '{c}'");
                }
            }
            pad(out, &s, spec);
            return;
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            format_float(out, v, i as f64, verb, spec);
            return;
        }
        _ => {
            bad_verb(out, v, verb);
            return;
        }
    };
    if let Some(p) = spec.prec {
        if p == 0 && a == 0 {
            digits.clear();
        }
        if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let prefix = if spec.sharp && verb != 'v' && verb != 'd' {
        prefix
    } else if verb == 'O' {
        "0o"
    } else {
        ""
    };
    let sign = format!("{}{prefix}", sign_of(neg, spec));
    let spec = if spec.prec.is_some() {
        Spec { zero: false, ..*spec }
    } else {
        *spec
    };
    pad_number(out, &sign, &digits, &spec);
}

/// Decimal digits (no trailing zeros, at least one) and decimal point
/// position of |f|, shortest round-trip or rounded to `sig` digits.
fn decimal_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (digits, 1);
    }
    (digits, exp + 1)
}

fn fmt_e(digits: &str, dp: i32, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(digits.as_bytes()[0] as char);
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(digits.as_bytes().get(i).map_or('0', |&b| b as char));
        }
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.unsigned_abs());
    s
}

fn fmt_f(digits: &str, dp: i32, prec: usize) -> String {
    let b = digits.as_bytes();
    let digit = |i: i32| -> char {
        if i >= 0 && (i as usize) < b.len() {
            b[i as usize] as char
        } else {
            '0'
        }
    };
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec as i32 {
            s.push(digit(dp + i));
        }
    }
    s
}

/// Go's `strconv.FormatFloat(f, 'g', prec, 64)` of |f|.
fn fmt_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    let shortest = prec.is_none();
    let (digits, dp) = decimal_digits(f, prec.map(|p| p.max(1)));
    let nd = digits.len() as i32;
    let mut p = prec.map_or(nd, |p| p.max(1) as i32);
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        p = p.min(nd);
        return fmt_e(&digits, dp, (p - 1).max(0) as usize, upper);
    }
    if p > dp {
        p = nd;
    }
    fmt_f(&digits, dp, (p - dp).max(0) as usize)
}

fn format_float(out: &mut String, v: &Value, f: f64, verb: char, spec: &Spec) {
    let neg = f.is_sign_negative();
    let body = match verb {
        'v' => fmt_g(f, spec.prec, false),
        'g' | 'G' => fmt_g(f, spec.prec, verb == 'G'),
        'e' | 'E' => {
            let p = spec.prec.unwrap_or(6);
            let (digits, dp) = decimal_digits(f, Some(p + 1));
            fmt_e(&digits, dp, p, verb == 'E')
        }
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
        'd' if f.fract() == 0.0 && f.abs() < 1e18 => {
            format_int(out, v, f as i128, verb, spec);
            return;
        }
        _ => {
            bad_verb(out, v, verb);
            return;
        }
    };
    pad_number(out, sign_of(neg, spec), &body, spec);
}

fn format_str(out: &mut String, v: &Value, s: &str, verb: char, spec: &Spec) {
    let truncated: &str = match spec.prec {
        Some(p) => match s.char_indices().nth(p) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        None => s,
    };
    match verb {
        'v' | 's' => pad(out, truncated, spec),
        'q' => {
            let q = if spec.sharp && can_backquote(truncated) {
                format!("`{truncated}`")
            } else {
                quote(truncated, spec.plus)
            };
            pad(out, &q, spec);
        }
        'x' | 'X' => {
            let bytes = match spec.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            let mut h = String::new();
            for (i, b) in bytes.iter().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{b:02x}");
                } else {
                    let _ = write!(h, "{b:02X}");
                }
            }
            pad(out, &h, spec);
        }
        _ => bad_verb(out, v, verb),
    }
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

/// Go's `unicode.IsPrint`, approximately: graphic characters and ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E000}'..='\u{F8FF}'))
}

fn escape_rune(out: &mut String, c: char, quote_char: char, ascii_only: bool) {
    if c == quote_char || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) && (!ascii_only || c.is_ascii()) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}
