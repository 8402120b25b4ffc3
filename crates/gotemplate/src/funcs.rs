//! Template functions: Go's builtins and the Docker CLI's additions.
//!
//! Ref: Go src/text/template/funcs.go; docker/cli templates/templates.go.
//! `and` and `or` are evaluated lazily by the executor, not here.

use std::cmp::Ordering;

use serde_json::Value;

use crate::exec::Val;
use crate::fmt::{format_v, sprint, sprintf, sprintln, type_name};

const NAMES: &[&str] = &[
    // Go builtins.
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or", "print",
    "printf", "println", "slice", "urlquery", // Docker's.
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

pub(crate) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Why a call failed: Go reports argument problems as they are, and errors
/// returned by the function as "error calling NAME: ...".
pub(crate) enum FuncError {
    Args(String),
    Call(String),
}

impl FuncError {
    pub(crate) fn message(&self, name: &str) -> String {
        match self {
            FuncError::Args(m) => m.clone(),
            FuncError::Call(m) => format!("error calling {name}: {m}"),
        }
    }
}

type FResult<T> = Result<T, FuncError>;

fn call_err<T>(m: impl Into<String>) -> FResult<T> {
    Err(FuncError::Call(m.into()))
}

fn arity(name: &str, args: &[Val<'_>], want: usize, variadic: bool) -> FResult<()> {
    let got = args.len();
    if variadic && got < want {
        return Err(FuncError::Args(format!(
            "wrong number of args for {name}: want at least {want} got {got}"
        )));
    }
    if !variadic && got != want {
        return Err(FuncError::Args(format!(
            "wrong number of args for {name}: want {want} got {got}"
        )));
    }
    Ok(())
}

fn str_arg<'v>(v: &'v Val<'_>) -> FResult<&'v str> {
    match v.value() {
        Value::String(s) => Ok(s),
        Value::Null => Err(FuncError::Args("invalid value; expected string".into())),
        other => Err(FuncError::Args(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        ))),
    }
}

/// An integer argument; integral floats are accepted since JSON data has no
/// integer type of its own.
fn int_of(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

fn int_arg(v: &Val<'_>) -> FResult<i64> {
    match v.value() {
        Value::Null => Err(FuncError::Args("invalid value; expected int".into())),
        other => int_of(other).ok_or_else(|| {
            FuncError::Args(format!(
                "wrong type for value; expected int; got {}",
                type_name(other)
            ))
        }),
    }
}

fn string<'a>(s: impl Into<String>) -> Val<'a> {
    Val::own(Value::String(s.into()))
}

pub(crate) fn call<'a>(name: &str, args: Vec<Val<'a>>) -> FResult<Val<'a>> {
    let values: Vec<&Value> = args.iter().map(Val::value).collect();
    match name {
        "not" => {
            arity(name, &args, 1, false)?;
            Ok(Val::own(Value::Bool(!args[0].is_true())))
        }
        "len" => {
            arity(name, &args, 1, false)?;
            let n = match values[0] {
                Value::Null => return call_err("len of nil pointer"),
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => return call_err(format!("len of type {}", type_name(other))),
            };
            Ok(Val::own(Value::from(n)))
        }
        "index" => {
            arity(name, &args, 1, true)?;
            let mut it = args.into_iter();
            let item = it.next().unwrap_or(Val::Missing);
            index(item, it)
        }
        "slice" => {
            arity(name, &args, 1, true)?;
            slice(&args)
        }
        "print" => Ok(string(sprint(&values))),
        "println" => Ok(string(sprintln(&values))),
        "printf" => {
            arity(name, &args, 1, true)?;
            let format = str_arg(&args[0])?;
            Ok(string(sprintf(format, &values[1..])))
        }
        "eq" => {
            arity(name, &args, 1, true)?;
            if args.len() < 2 {
                return call_err("missing argument for comparison");
            }
            for b in &values[1..] {
                if equal(values[0], b)? {
                    return Ok(Val::own(Value::Bool(true)));
                }
            }
            Ok(Val::own(Value::Bool(false)))
        }
        "ne" => {
            arity(name, &args, 2, false)?;
            Ok(Val::own(Value::Bool(!equal(values[0], values[1])?)))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2, false)?;
            let ord = compare(values[0], values[1])?;
            let r = match name {
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            };
            Ok(Val::own(Value::Bool(r)))
        }
        "html" => Ok(string(html_escape(&eval_args(&values)))),
        "js" => Ok(string(js_escape(&eval_args(&values)))),
        "urlquery" => Ok(string(query_escape(&eval_args(&values)))),
        "call" => {
            arity(name, &args, 1, true)?;
            let shown = format_v(values[0]);
            if values[0].is_null() {
                return call_err("call of nil");
            }
            call_err(format!("non-function {shown} of type {}", type_name(values[0])))
        }
        "json" => {
            arity(name, &args, 1, false)?;
            Ok(string(crate::json::encode(values[0])))
        }
        "split" => {
            arity(name, &args, 2, false)?;
            let s = str_arg(&args[0])?;
            let sep = str_arg(&args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Val::own(Value::Array(parts)))
        }
        "join" => {
            arity(name, &args, 2, false)?;
            let sep = str_arg(&args[1])?;
            let parts: Vec<String> = match values[0] {
                Value::Null => Vec::new(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => format_v(other),
                    })
                    .collect(),
                other => {
                    return Err(FuncError::Args(format!(
                        "wrong type for value; expected []string; got {}",
                        type_name(other)
                    )))
                }
            };
            Ok(string(parts.join(sep)))
        }
        "title" => {
            arity(name, &args, 1, false)?;
            Ok(string(title(str_arg(&args[0])?)))
        }
        "lower" => {
            arity(name, &args, 1, false)?;
            Ok(string(map_runes(str_arg(&args[0])?, char::to_lowercase)))
        }
        "upper" => {
            arity(name, &args, 1, false)?;
            Ok(string(map_runes(str_arg(&args[0])?, char::to_uppercase)))
        }
        "pad" => {
            arity(name, &args, 3, false)?;
            let s = str_arg(&args[0])?;
            let pre = int_arg(&args[1])?;
            let post = int_arg(&args[2])?;
            if pre < 0 || post < 0 {
                return call_err("strings: negative Repeat count");
            }
            if s.is_empty() {
                return Ok(string(""));
            }
            let (pre, post) = (pre.min(1 << 16) as usize, post.min(1 << 16) as usize);
            Ok(string(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post))))
        }
        "truncate" => {
            arity(name, &args, 2, false)?;
            let s = str_arg(&args[0])?;
            let n = int_arg(&args[1])?;
            if n < 0 {
                return call_err(format!("runtime error: slice bounds out of range [:{n}]"));
            }
            let n = n as usize;
            if s.len() < n {
                return Ok(string(s));
            }
            // Docker cuts bytes; a cut inside a character leaves U+FFFD.
            Ok(string(String::from_utf8_lossy(&s.as_bytes()[..n]).into_owned()))
        }
        _ => Err(FuncError::Args(format!("function {name:?} not defined"))),
    }
}

/// Go's basic kinds for comparison.
#[derive(PartialEq, Eq, Clone, Copy)]
enum BasicKind {
    Nil,
    Bool,
    Number,
    String,
    Composite,
}

fn kind(v: &Value) -> BasicKind {
    match v {
        Value::Null => BasicKind::Nil,
        Value::Bool(_) => BasicKind::Bool,
        Value::Number(_) => BasicKind::Number,
        Value::String(_) => BasicKind::String,
        Value::Array(_) | Value::Object(_) => BasicKind::Composite,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Ordering {
    let int = |n: &serde_json::Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let x = a.as_f64().unwrap_or(0.0);
            let y = b.as_f64().unwrap_or(0.0);
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

/// Go's `eq` for one pair. A nil (null or no value) equals only nil and is
/// never an error; composites cannot be compared.
fn equal(a: &Value, b: &Value) -> FResult<bool> {
    let (ka, kb) = (kind(a), kind(b));
    if ka == BasicKind::Nil || kb == BasicKind::Nil {
        return Ok(ka == kb);
    }
    if ka == BasicKind::Composite || kb == BasicKind::Composite {
        if ka == kb {
            return call_err(format!("non-comparable type {}: {}", format_v(a), type_name(a)));
        }
        return call_err("incompatible types for comparison");
    }
    if ka != kb {
        return call_err("incompatible types for comparison");
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y) == Ordering::Equal,
        _ => false,
    })
}

/// Go's `lt` ordering: numbers and strings only.
fn compare(a: &Value, b: &Value) -> FResult<Ordering> {
    let (ka, kb) = (kind(a), kind(b));
    for k in [ka, kb] {
        if !matches!(k, BasicKind::Number | BasicKind::String) {
            return call_err("invalid type for comparison");
        }
    }
    if ka != kb {
        return call_err("incompatible types for comparison");
    }
    Ok(match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        _ => Ordering::Equal,
    })
}

fn index_arg(v: &Value, len: usize, what: &str) -> FResult<usize> {
    let i = match v {
        Value::Null => return call_err(format!("cannot index {what} with nil")),
        other => match int_of(other) {
            Some(i) => i,
            None => return call_err(format!("cannot index {what} with type {}", type_name(other))),
        },
    };
    if i < 0 || i as u64 > len as u64 {
        return call_err(format!("index out of range: {i}"));
    }
    Ok(i as usize)
}

fn index<'a>(mut item: Val<'a>, indexes: impl Iterator<Item = Val<'a>>) -> FResult<Val<'a>> {
    if item.value().is_null() {
        return call_err("index of untyped nil");
    }
    for idx in indexes {
        let next = match item.value() {
            Value::Null => return call_err("index of nil pointer"),
            Value::Array(a) => {
                let i = index_arg(idx.value(), a.len(), "slice/array")?;
                if i == a.len() {
                    return call_err(format!("index out of range: {i}"));
                }
                item.index(i).unwrap_or(Val::Missing)
            }
            Value::String(s) => {
                let i = index_arg(idx.value(), s.len(), "slice/array")?;
                match s.as_bytes().get(i) {
                    Some(&b) => Val::own(Value::from(b)),
                    None => return call_err(format!("index out of range: {i}")),
                }
            }
            Value::Object(_) => match idx.value() {
                Value::String(k) => item.key(k).unwrap_or(Val::Ref(&crate::exec::NULL)),
                other => return call_err(format!("value has type {}; should be string", type_name(other))),
            },
            other => {
                return call_err(format!("can't index item of type {}", type_name(other)));
            }
        };
        item = next;
    }
    Ok(item)
}

fn slice<'a>(args: &[Val<'a>]) -> FResult<Val<'a>> {
    let item = args[0].value();
    let indexes = &args[1..];
    if item.is_null() {
        return call_err("slice of untyped nil");
    }
    if indexes.len() > 3 {
        return call_err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) => {
            if indexes.len() == 3 {
                return call_err("cannot 3-index slice a string");
            }
            s.len()
        }
        Value::Array(a) => a.len(),
        other => return call_err(format!("can't slice item of type {}", type_name(other))),
    };
    let mut idx = [0, len, len];
    for (i, v) in indexes.iter().enumerate() {
        idx[i] = index_arg(v.value(), len, "slice/array")?;
    }
    if idx[0] > idx[1] {
        return call_err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return call_err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => string(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]])),
        Value::Array(a) => Val::own(Value::Array(a[idx[0]..idx[1]].to_vec())),
        _ => unreachable!("checked above"),
    })
}

/// Go's `evalArgs` for html/js/urlquery: one string as is, else `Sprint`,
/// with nil shown as `<no value>`.
fn eval_args(values: &[&Value]) -> String {
    if let [Value::String(s)] = values {
        return s.clone();
    }
    let no_value = Value::String("<no value>".into());
    let shown: Vec<&Value> = values
        .iter()
        .map(|v| if v.is_null() { &no_value } else { *v })
        .collect();
    sprint(&shown)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if !c.is_ascii() && !crate::fmt::is_print(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go maps case rune by rune (`unicode.ToUpper`); where Unicode's full
/// mapping gives several characters (`ß` to `SS`) Go keeps the rune.
fn simple_case(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

fn map_runes<I: Iterator<Item = char>>(s: &str, f: impl Fn(char) -> I) -> String {
    s.chars().map(|c| simple_case(c, f(c))).collect()
}

/// Go's deprecated `strings.Title`: upper-case letters that start words.
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphanumeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_separator(prev) {
            out.push(simple_case(c, c.to_uppercase()));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}
