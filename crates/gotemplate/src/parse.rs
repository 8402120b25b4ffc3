//! The template parser: tokens into a tree of nodes.
//!
//! Ref: Go src/text/template/parse/parse.go and node.go. Error messages and
//! the shape of the tree follow Go's so that execution can mirror exec.go.

use std::collections::BTreeMap;
use std::fmt;

use crate::lex::{self, Kind, Token};
use crate::{funcs, Error};

/// Nesting of control structures and parentheses allowed in one template;
/// Go bounds expression depth too. Keeps parsing and execution well inside
/// the stack.
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    /// `{{pipeline}}`: printed unless it declares or assigns variables.
    Action(Pipe),
    If(Control),
    Range(Control),
    With(Control),
    /// `{{template "name" pipeline}}`; also what `{{block}}` leaves in place.
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    /// `.A.B`: field names without dots.
    Field(Vec<String>),
    /// `$x.A.B`: the variable name with its `$`, then field names.
    Variable(String, Vec<String>),
    /// `(pipeline).A` or `func.A`.
    Chain(Box<Arg>, Vec<String>),
    Dot,
    Nil,
    /// A boolean, number or string constant, and its source text.
    Const(serde_json::Value, String),
    Func(String),
    Pipe(Box<Pipe>),
}

impl ArgKind {
    /// Literals that cannot start a later pipeline stage.
    fn is_literal(&self) -> bool {
        matches!(self, ArgKind::Dot | ArgKind::Nil | ArgKind::Const(..))
    }
}

fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[String]) -> fmt::Result {
    for name in fields {
        write!(f, ".{name}")?;
    }
    Ok(())
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Field(fields) => write_fields(f, fields),
            ArgKind::Variable(name, fields) => {
                f.write_str(name)?;
                write_fields(f, fields)
            }
            ArgKind::Chain(node, fields) => {
                match &node.kind {
                    ArgKind::Pipe(p) => write!(f, "({p})")?,
                    _ => write!(f, "{node}")?,
                }
                write_fields(f, fields)
            }
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Const(_, text) => f.write_str(text),
            ArgKind::Func(name) => f.write_str(name),
            ArgKind::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match &arg.kind {
                ArgKind::Pipe(p) => write!(f, "({p})")?,
                _ => write!(f, "{arg}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            let op = if self.is_assign { "=" } else { ":=" };
            write!(f, "{} {op} ", self.decl.join(", "))?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

pub(crate) struct Parsed {
    pub root: Vec<Node>,
    pub defs: BTreeMap<String, Vec<Node>>,
}

/// How a list of nodes ended.
enum ListEnd {
    End,
    Else,
}

impl fmt::Display for ListEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListEnd::End => "{{end}}",
            ListEnd::Else => "{{else}}",
        })
    }
}

struct Parser<'a> {
    source: &'a str,
    toks: Vec<Token>,
    i: usize,
    /// Variables in scope, innermost last; `$` is always first.
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    defs: BTreeMap<String, Vec<Node>>,
}

type PResult<T> = Result<T, Error>;

pub(crate) fn parse(source: &str) -> Result<Parsed, Error> {
    let toks = lex::lex(source).map_err(|(pos, message)| parse_error(source, pos, message))?;
    let mut p = Parser {
        source,
        toks,
        i: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        defs: BTreeMap::new(),
    };
    let mut root = p.parse_top()?;
    // The top-level template is named "" and may also be defined explicitly;
    // Go keeps whichever of the two is not empty.
    if let Some(def) = p.defs.remove("") {
        if is_empty_tree(&root) {
            root = def;
        } else if !is_empty_tree(&def) {
            return Err(parse_error(
                source,
                0,
                "template: multiple definition of template \"\"".into(),
            ));
        }
    }
    Ok(Parsed { root, defs: p.defs })
}

fn parse_error(source: &str, pos: usize, message: String) -> Error {
    let (line, col) = crate::line_col(source, pos);
    Error::Parse { line, col, message }
}

/// Go's `parse.IsEmptyTree`: only white space text.
fn is_empty_tree(list: &[Node]) -> bool {
    list.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches(lex::is_space).is_empty(),
        _ => false,
    })
}

impl Parser<'_> {
    fn err<T>(&self, pos: usize, message: impl Into<String>) -> PResult<T> {
        Err(parse_error(self.source, pos, message.into()))
    }

    fn unexpected<T>(&self, tok: &Token, context: &str) -> PResult<T> {
        self.err(tok.pos, format!("unexpected {tok} in {context}"))
    }

    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and the parser never moves past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn skip_space(&mut self) {
        while self.peek().kind == Kind::Space {
            self.i += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(pos, format!("max nesting depth {MAX_DEPTH} exceeded"));
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        loop {
            match self.peek().kind {
                Kind::Eof => return Ok(root),
                Kind::LeftDelim => {
                    let save = self.i;
                    self.next();
                    if self.next_non_space().kind == Kind::Define {
                        self.definition()?;
                        continue;
                    }
                    self.i = save;
                }
                _ => {}
            }
            let pos = self.peek().pos;
            match self.text_or_action()? {
                Ok(node) => root.push(node),
                Err(end) => return self.err(pos, format!("unexpected {end}")),
            }
        }
    }

    /// Parses a node, or reports the `{{end}}`/`{{else}}` that ends a list.
    fn text_or_action(&mut self) -> PResult<Result<Node, ListEnd>> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Ok(Node::Text(t.val))),
            Kind::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Ok(node) => list.push(node),
                Err(end) => return Ok((list, end)),
            }
        }
        let pos = self.peek().pos;
        self.err(pos, "unexpected EOF")
    }

    fn action(&mut self) -> PResult<Result<Node, ListEnd>> {
        let t = self.next_non_space();
        let node = match t.kind {
            Kind::Block => self.block(t.pos)?,
            Kind::Break | Kind::Continue => {
                let end = self.next_non_space();
                if end.kind != Kind::RightDelim {
                    return self.unexpected(&end, &format!("{{{{{}}}}}", t.val));
                }
                if self.range_depth == 0 {
                    return self.err(t.pos, format!("{{{{{}}}}} outside {{{{range}}}}", t.val));
                }
                if t.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            Kind::Else => {
                // `{{else if}}` and `{{else with}}` leave the keyword pending
                // for the enclosing control to parse as a nested one.
                let k = self.peek_non_space().kind;
                if k != Kind::If && k != Kind::With {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Err(ListEnd::Else));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Err(ListEnd::End));
            }
            Kind::If => Node::If(self.control("if", t.pos)?),
            Kind::Range => Node::Range(self.control("range", t.pos)?),
            Kind::With => Node::With(self.control("with", t.pos)?),
            Kind::Template => {
                let (name, pipe) = self.template_clause("template clause", false)?;
                Node::Template {
                    pos: t.pos,
                    name,
                    pipe,
                }
            }
            _ => {
                self.i -= 1;
                Node::Action(self.pipeline("command", Kind::RightDelim)?)
            }
        };
        Ok(Ok(node))
    }

    fn control(&mut self, context: &str, pos: usize) -> PResult<Control> {
        let mark = self.vars.len();
        self.enter(pos)?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            ListEnd::End => None,
            ListEnd::Else => {
                let k = self.peek().kind;
                if context == "if" && k == Kind::If {
                    let t = self.next();
                    Some(vec![Node::If(self.control("if", t.pos)?)])
                } else if context == "with" && k == Kind::With {
                    let t = self.next();
                    Some(vec![Node::With(self.control("with", t.pos)?)])
                } else {
                    let pos = self.peek().pos;
                    let (list, end) = self.item_list()?;
                    if !matches!(end, ListEnd::End) {
                        return self.err(pos, format!("expected end; found {end}"));
                    }
                    Some(list)
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Control {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, context: &str) -> PResult<String> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Str | Kind::RawStr => self.unquote(&t),
            _ => self.unexpected(&t, context),
        }
    }

    /// `"name" [pipeline]}}` of `{{template}}`, or of `{{block}}` where the
    /// pipeline is required.
    fn template_clause(&mut self, context: &str, need_pipe: bool) -> PResult<(String, Option<Pipe>)> {
        let name = self.template_name(context)?;
        if !need_pipe && self.peek_non_space().kind == Kind::RightDelim {
            self.next();
            return Ok((name, None));
        }
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        Ok((name, Some(pipe)))
    }

    /// A template body (of `define` or `block`) up to its `{{end}}`, with its
    /// own variable scope.
    fn body(&mut self, context: &str) -> PResult<Vec<Node>> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let range_depth = std::mem::take(&mut self.range_depth);
        let pos = self.peek().pos;
        let (list, end) = self.item_list()?;
        if !matches!(end, ListEnd::End) {
            return self.err(pos, format!("unexpected {end} in {context}"));
        }
        self.vars = vars;
        self.range_depth = range_depth;
        Ok(list)
    }

    fn add_def(&mut self, pos: usize, name: String, body: Vec<Node>) -> PResult<()> {
        match self.defs.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&body) {
                    return self.err(pos, format!("template: multiple definition of template {name:?}"));
                }
            }
            _ => {
                self.defs.insert(name, body);
            }
        }
        Ok(())
    }

    fn definition(&mut self) -> PResult<()> {
        let pos = self.peek().pos;
        let name = self.template_name("define clause")?;
        self.expect(Kind::RightDelim, "define clause")?;
        let body = self.body("define clause")?;
        self.add_def(pos, name, body)
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        self.enter(pos)?;
        let (name, pipe) = self.template_clause("block clause", true)?;
        let body = self.body("block clause")?;
        self.add_def(pos, name.clone(), body)?;
        self.depth -= 1;
        Ok(Node::Template { pos, name, pipe })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, and in range `$i, $v :=`.
        while self.peek_non_space().kind == Kind::Variable {
            let save = self.i;
            let v = self.next();
            let next = self.peek_non_space().clone();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    self.next();
                    pipe.is_assign = next.kind == Kind::Assign;
                    if pipe.is_assign && !self.vars.contains(&v.val) {
                        return self.err(v.pos, format!("undefined variable {:?}", v.val));
                    }
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RParen => continue,
                            _ => return self.err(next.pos, "range can only initialize variables"),
                        }
                    }
                    return self.err(next.pos, format!("too many declarations in {context}"));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            match t.kind {
                k if k == end => {
                    if pipe.cmds.is_empty() {
                        return self.err(t.pos, format!("missing value for {context}"));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if c.args[0].kind.is_literal() {
                            return self.err(
                                c.pos,
                                format!("non executable command in pipeline stage {}", i + 1),
                            );
                        }
                    }
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConst
                | Kind::Dot
                | Kind::Field
                | Kind::Ident
                | Kind::Number
                | Kind::Nil
                | Kind::RawStr
                | Kind::Str
                | Kind::Variable
                | Kind::LParen => {
                    self.i -= 1;
                    pipe.cmds.push(self.command()?);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn command(&mut self) -> PResult<Cmd> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.skip_space();
            if let Some(arg) = self.operand()? {
                args.push(arg);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RParen => self.i -= 1,
                Kind::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.err(pos, "empty command");
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_string());
        }
        let pos = term.pos;
        let kind = match term.kind {
            ArgKind::Field(mut names) => {
                names.extend(fields);
                ArgKind::Field(names)
            }
            ArgKind::Variable(name, mut names) => {
                names.extend(fields);
                ArgKind::Variable(name, names)
            }
            k if k.is_literal() => {
                let shown = Arg { pos, kind: k };
                return self.err(pos, format!("unexpected . after term {:?}", shown.to_string()));
            }
            k => ArgKind::Chain(Box::new(Arg { pos, kind: k }), fields),
        };
        Ok(Some(Arg { pos, kind }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let kind = match t.kind {
            Kind::Ident => {
                if !funcs::exists(&t.val) {
                    return self.err(t.pos, format!("function {:?} not defined", t.val));
                }
                ArgKind::Func(t.val)
            }
            Kind::Dot => ArgKind::Dot,
            Kind::Nil => ArgKind::Nil,
            Kind::Variable => {
                if !self.vars.contains(&t.val) {
                    return self.err(t.pos, format!("undefined variable {:?}", t.val));
                }
                ArgKind::Variable(t.val, Vec::new())
            }
            Kind::Field => ArgKind::Field(vec![t.val[1..].to_string()]),
            Kind::Bool => ArgKind::Const(serde_json::Value::Bool(t.val == "true"), t.val),
            Kind::Number | Kind::CharConst => {
                let n = self.number(&t)?;
                ArgKind::Const(n, t.val)
            }
            Kind::LParen => {
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RParen)?;
                self.depth -= 1;
                ArgKind::Pipe(Box::new(pipe))
            }
            Kind::Str | Kind::RawStr => ArgKind::Const(serde_json::Value::String(self.unquote(&t)?), t.val),
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        };
        Ok(Some(Arg { pos: t.pos, kind }))
    }

    fn unquote(&self, t: &Token) -> PResult<String> {
        if t.kind == Kind::RawStr {
            return Ok(t.val[1..t.val.len() - 1].to_string());
        }
        match unquote_go(&t.val[1..t.val.len() - 1], '"') {
            Some(s) => Ok(s),
            None => self.err(t.pos, format!("invalid syntax: {}", t.val)),
        }
    }

    fn number(&self, t: &Token) -> PResult<serde_json::Value> {
        let bad = || self.err(t.pos, format!("illegal number syntax: {:?}", t.val));
        if t.kind == Kind::CharConst {
            let Some(s) = unquote_go(&t.val[1..t.val.len() - 1], '\'') else {
                return self.err(t.pos, format!("malformed character constant: {}", t.val));
            };
            let mut chars = s.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(serde_json::Value::from(c as u32)),
                _ => self.err(t.pos, format!("malformed character constant: {}", t.val)),
            };
        }
        match parse_number(&t.val) {
            Some(n) => Ok(n),
            None if t.val.ends_with('i') => {
                self.err(t.pos, format!("complex numbers are not supported: {}", t.val))
            }
            None => bad(),
        }
    }
}

/// Go's number constant rules: integers (with base prefixes and `_`) if they
/// fit, floats when written with a point or exponent.
fn parse_number(text: &str) -> Option<serde_json::Value> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1
        && lower.starts_with('0')
        && lower.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.starts_with('_') && radix == 10 || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    if let Ok(u) = u64::from_str_radix(&clean, radix) {
        if !neg {
            return Some(serde_json::Value::from(u));
        }
        return i64::try_from(-i128::from(u)).ok().map(serde_json::Value::from);
    }
    if radix != 10 || !clean.contains(['.', 'e']) {
        return None;
    }
    let f: f64 = clean.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    serde_json::Number::from_f64(if neg { -f } else { f }).map(serde_json::Value::Number)
}

/// Go's `strconv.Unquote` of the inside of a `"..."` or `'...'` literal.
/// Byte escapes that do not form UTF-8 become U+FFFD.
pub(crate) fn unquote_go(s: &str, quote: char) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' | '"' if e == quote => Some(e as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                if h.len() != 2 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(&h, 16).ok()?);
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                if rest.len() != 2 || !rest.chars().all(|c| ('0'..='7').contains(&c)) {
                    return None;
                }
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                out.push(u8::try_from(v).ok()?);
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let h: String = chars.by_ref().take(n).collect();
                if h.len() != n || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                let c = char::from_u32(u32::from_str_radix(&h, 16).ok()?)?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}
