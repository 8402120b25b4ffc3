//! The template lexer: text and `{{ }}` actions into tokens.
//!
//! Ref: Go src/text/template/parse/lex.go. Trim markers, comments and the
//! character classes follow it; the whole input is lexed up front.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Field,
    Variable,
    Ident,
    Dot,
    Nil,
    Bool,
    Number,
    CharConst,
    Str,
    RawStr,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    /// Any other printable ASCII character, `,` among them.
    Char,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
    Eof,
}

impl Kind {
    pub(crate) fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Range
                | Kind::Template
                | Kind::With
                | Kind::Nil
                | Kind::Dot
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// The source text of the token (for `Text`, after trimming).
    pub val: String,
    /// Byte offset of the token in the template source.
    pub pos: usize,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ => {
                let shown: String = self.val.chars().take(10).collect();
                let more = if shown.len() < self.val.len() { "..." } else { "" };
                write!(f, "{}{more}", crate::fmt::quote(&shown, false))
            }
        }
    }
}

/// A lexing failure: byte offset and message.
pub(crate) type LexError = (usize, String);

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn trim_spaces_start(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

fn trim_spaces_end(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
    /// The previous action ended with ` -}}`: trim the next text's leading space.
    trim_next: bool,
}

pub(crate) fn lex(input: &str) -> Result<Vec<Token>, LexError> {
    let mut l = Lexer {
        input,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
        trim_next: false,
    };
    l.run()?;
    Ok(l.tokens)
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn emit(&mut self, kind: Kind, start: usize) {
        self.tokens.push(Token {
            kind,
            val: self.input[start..self.pos].to_string(),
            pos: start,
        });
    }

    fn emit_text(&mut self, start: usize, end: usize, trim_end: bool) {
        let mut text = &self.input[start..end];
        let mut pos = start;
        if self.trim_next {
            let trimmed = trim_spaces_start(text);
            pos += text.len() - trimmed.len();
            text = trimmed;
            self.trim_next = false;
        }
        if trim_end {
            text = trim_spaces_end(text);
        }
        if !text.is_empty() {
            self.tokens.push(Token {
                kind: Kind::Text,
                val: text.to_string(),
                pos,
            });
        }
    }

    /// At `pos`: is there a right delimiter, and does it carry a trim marker?
    fn at_right_delim(&self, pos: usize) -> Option<bool> {
        let s = &self.input[pos..];
        let b = s.as_bytes();
        if b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-' && s[2..].starts_with(RIGHT) {
            return Some(true);
        }
        if s.starts_with(RIGHT) {
            return Some(false);
        }
        None
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            let start = self.pos;
            let Some(off) = self.rest().find(LEFT) else {
                self.emit_text(start, self.input.len(), false);
                self.pos = self.input.len();
                self.tokens.push(Token {
                    kind: Kind::Eof,
                    val: String::new(),
                    pos: self.input.len(),
                });
                return Ok(());
            };
            let delim = start + off;
            let after = &self.input[delim + LEFT.len()..];
            let ab = after.as_bytes();
            let trim_left = ab.len() >= 2 && ab[0] == b'-' && is_space(ab[1] as char);
            self.emit_text(start, delim, trim_left);
            self.pos = delim + LEFT.len() + if trim_left { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                self.comment(delim)?;
                continue;
            }
            self.tokens.push(Token {
                kind: Kind::LeftDelim,
                val: LEFT.to_string(),
                pos: delim,
            });
            self.inside_action(delim)?;
        }
    }

    fn comment(&mut self, delim: usize) -> Result<(), LexError> {
        let Some(end) = self.rest()[2..].find("*/") else {
            return Err((delim, "unclosed comment".into()));
        };
        self.pos += 2 + end + 2;
        match self.at_right_delim(self.pos) {
            Some(trim) => {
                self.pos += RIGHT.len() + if trim { 2 } else { 0 };
                self.trim_next = trim;
                Ok(())
            }
            None => Err((delim, "comment ends before closing delimiter".into())),
        }
    }

    fn inside_action(&mut self, delim: usize) -> Result<(), LexError> {
        loop {
            if let Some(trim) = self.at_right_delim(self.pos) {
                if self.paren_depth > 0 {
                    return Err((self.pos, "unclosed left paren".into()));
                }
                let start = self.pos + if trim { 2 } else { 0 };
                self.tokens.push(Token {
                    kind: Kind::RightDelim,
                    val: RIGHT.to_string(),
                    pos: start,
                });
                self.pos = start + RIGHT.len();
                self.trim_next = trim;
                return Ok(());
            }
            let start = self.pos;
            let Some(c) = self.bump() else {
                return Err((delim, "unclosed action".into()));
            };
            match c {
                c if is_space(c) => {
                    while let Some(c) = self.peek() {
                        if !is_space(c) || self.at_right_delim(self.pos) == Some(true) {
                            break;
                        }
                        self.pos += 1;
                    }
                    self.emit(Kind::Space, start);
                }
                '=' => self.emit(Kind::Assign, start),
                ':' => {
                    if self.bump() != Some('=') {
                        return Err((start, "expected :=".into()));
                    }
                    self.emit(Kind::Declare, start);
                }
                '|' => self.emit(Kind::Pipe, start),
                '"' => self.quote(start, '"', Kind::Str, "unterminated quoted string")?,
                '\'' => self.quote(start, '\'', Kind::CharConst, "unterminated character constant")?,
                '`' => {
                    let Some(end) = self.rest().find('`') else {
                        return Err((start, "unterminated raw quoted string".into()));
                    };
                    self.pos += end + 1;
                    self.emit(Kind::RawStr, start);
                }
                '$' => self.field_or_variable(start, Kind::Variable)?,
                '.' => {
                    if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos = start;
                        self.number(start)?;
                    } else {
                        self.field_or_variable(start, Kind::Field)?;
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.pos = start;
                    self.number(start)?;
                }
                c if is_alnum(c) => self.identifier(start)?,
                '(' => {
                    self.paren_depth += 1;
                    self.emit(Kind::LParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return Err((start, "unexpected right paren".into()));
                    }
                    self.paren_depth -= 1;
                    self.emit(Kind::RParen, start);
                }
                c if c.is_ascii_graphic() => self.emit(Kind::Char, start),
                c => {
                    return Err((
                        start,
                        format!("unrecognized character in action: U+{:04X} '{c}'", c as u32),
                    ))
                }
            }
        }
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT),
        }
    }

    fn bad_char_error(&self) -> LexError {
        let c = self.peek().unwrap_or('\0');
        (self.pos, format!("bad character U+{:04X} '{c}'", c as u32))
    }

    fn field_or_variable(&mut self, start: usize, kind: Kind) -> Result<(), LexError> {
        if self.at_terminator() {
            let kind = if kind == Kind::Field { Kind::Dot } else { kind };
            self.emit(kind, start);
            return Ok(());
        }
        while self.peek().is_some_and(is_alnum) {
            self.bump();
        }
        if !self.at_terminator() {
            return Err(self.bad_char_error());
        }
        self.emit(kind, start);
        Ok(())
    }

    fn identifier(&mut self, start: usize) -> Result<(), LexError> {
        while self.peek().is_some_and(is_alnum) {
            self.bump();
        }
        if !self.at_terminator() {
            return Err(self.bad_char_error());
        }
        let kind = match &self.input[start..self.pos] {
            "block" => Kind::Block,
            "break" => Kind::Break,
            "continue" => Kind::Continue,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "range" => Kind::Range,
            "template" => Kind::Template,
            "with" => Kind::With,
            "nil" => Kind::Nil,
            "true" | "false" => Kind::Bool,
            _ => Kind::Ident,
        };
        self.emit(kind, start);
        Ok(())
    }

    fn quote(&mut self, start: usize, close: char, kind: Kind, msg: &str) -> Result<(), LexError> {
        loop {
            match self.bump() {
                Some('\\') => match self.bump() {
                    None | Some('\n') => return Err((start, msg.into())),
                    Some(_) => {}
                },
                None | Some('\n') => return Err((start, msg.into())),
                Some(c) if c == close => break,
                Some(_) => {}
            }
        }
        self.emit(kind, start);
        Ok(())
    }

    fn accept(&mut self, set: &str) -> bool {
        match self.peek() {
            Some(c) if set.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, set: &str) {
        while self.accept(set) {}
    }

    fn number(&mut self, start: usize) -> Result<(), LexError> {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.bump();
            return Err((
                start,
                format!("bad number syntax: {:?}", &self.input[start..self.pos]),
            ));
        }
        self.emit(Kind::Number, start);
        Ok(())
    }
}
