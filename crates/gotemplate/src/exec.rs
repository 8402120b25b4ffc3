//! Template execution over JSON data.
//!
//! Ref: Go src/text/template/exec.go. Values are modelled as Go sees JSON
//! decoded into `interface{}`: [`Val::Missing`] is Go's invalid
//! `reflect.Value` (a missing map key, or a nil interface after a pipeline
//! stage), printed `<no value>`; a `null` reached through fields stays a nil
//! interface, and taking a field of it is an error, as in Go.

use std::rc::Rc;

use serde_json::Value;

use crate::parse::{Arg, ArgKind, Cmd, Control, Node, Pipe};
use crate::{funcs, Error, Template};

/// Combined nesting of control structures, template calls and parenthesized
/// pipelines during execution; bounds recursion (Go's is 100000, on a
/// growable stack).
const MAX_EXEC_DEPTH: usize = 200;

pub(crate) static NULL: Value = Value::Null;

#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Missing,
    Ref(&'a Value),
    Own(Rc<Value>),
}

impl<'a> Val<'a> {
    pub(crate) fn own(v: Value) -> Val<'a> {
        Val::Own(Rc::new(v))
    }

    pub(crate) fn get(&self) -> Option<&Value> {
        match self {
            Val::Missing => None,
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
        }
    }

    /// The value, with "no value" seen as `null` (how Go passes it to
    /// functions).
    pub(crate) fn value(&self) -> &Value {
        self.get().unwrap_or(&NULL)
    }

    pub(crate) fn key(&self, key: &str) -> Option<Val<'a>> {
        match self {
            Val::Ref(v) => v.get(key).map(Val::Ref),
            Val::Own(v) => v.get(key).map(|c| Val::own(c.clone())),
            Val::Missing => None,
        }
    }

    pub(crate) fn index(&self, i: usize) -> Option<Val<'a>> {
        match self {
            Val::Ref(v) => v.get(i).map(Val::Ref),
            Val::Own(v) => v.get(i).map(|c| Val::own(c.clone())),
            Val::Missing => None,
        }
    }

    /// Go's `truth`: empty values are false.
    pub(crate) fn is_true(&self) -> bool {
        match self.value() {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    /// After each pipeline stage Go unwraps `interface{}`; a nil one becomes
    /// an invalid value.
    fn unwrap_nil(self) -> Val<'a> {
        if self.value().is_null() {
            Val::Missing
        } else {
            self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    t: &'a Template,
    name: &'a str,
    vars: Vec<(&'a str, Val<'a>)>,
    out: String,
    depth: usize,
}

type EResult<T> = Result<T, Error>;

pub(crate) fn execute(t: &Template, data: &Value) -> Result<String, Error> {
    let dot = Val::Ref(data);
    let mut s = State {
        t,
        name: "",
        vars: vec![("$", dot.clone())],
        out: String::new(),
        depth: 0,
    };
    s.walk(&dot, &t.root)?;
    Ok(s.out)
}

/// How an error names the node it happened at.
trait Context: std::fmt::Display {
    fn pos(&self) -> usize;
}

impl Context for Arg {
    fn pos(&self) -> usize {
        self.pos
    }
}

impl Context for Cmd {
    fn pos(&self) -> usize {
        self.pos
    }
}

impl Context for Pipe {
    fn pos(&self) -> usize {
        self.pos
    }
}

impl<'a> State<'a> {
    fn error(&self, at: &dyn Context, message: impl Into<String>) -> Error {
        let (line, col) = crate::line_col(&self.t.source, at.pos());
        Error::Exec {
            name: self.name.to_string(),
            line,
            col,
            context: at.to_string(),
            message: message.into(),
        }
    }

    fn enter(&mut self, at: &dyn Context) -> EResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXEC_DEPTH {
            return Err(self.error(at, format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})")));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Val<'a>, list: &'a [Node]) -> EResult<Flow> {
        for node in list {
            let flow = match node {
                Node::Text(text) => {
                    self.out.push_str(text);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.print(&v);
                    }
                    Flow::Normal
                }
                Node::If(c) => self.walk_if_or_with(dot, c, false)?,
                Node::With(c) => self.walk_if_or_with(dot, c, true)?,
                Node::Range(c) => self.walk_range(dot, c)?,
                Node::Template { pos, name, pipe } => self.walk_template(dot, *pos, name, pipe)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, v: &Val<'a>) {
        match v.get() {
            None => self.out.push_str("<no value>"),
            Some(v) => self.out.push_str(&crate::fmt::format_v(v)),
        }
    }

    fn walk_if_or_with(&mut self, dot: &Val<'a>, c: &'a Control, with: bool) -> EResult<Flow> {
        self.enter(&c.pipe)?;
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &c.pipe)?;
        let flow = if v.is_true() {
            self.walk(if with { &v } else { dot }, &c.list)?
        } else if let Some(else_list) = &c.else_list {
            self.walk(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Val<'a>, c: &'a Control) -> EResult<Flow> {
        self.enter(&c.pipe)?;
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &c.pipe)?;
        // The declared variables were pushed by the pipeline; each iteration
        // sets them and drops what the body declared.
        let body_mark = self.vars.len();
        let mut ran = false;
        match v.value() {
            Value::Null => {}
            Value::Array(items) => {
                for i in 0..items.len() {
                    ran = true;
                    let elem = v.index(i).unwrap_or(Val::Missing);
                    let idx = Val::own(Value::from(i));
                    if self.iteration(c, body_mark, idx, elem)? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    ran = true;
                    let elem = v.key(k).unwrap_or(Val::Missing);
                    let key = Val::own(Value::String(k.clone()));
                    if self.iteration(c, body_mark, key, elem)? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Number(n) if n.as_u64().is_some() || n.as_i64().is_some() => {
                if c.pipe.decl.len() > 1 {
                    return Err(self.error(
                        pipe_value(&c.pipe),
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                let count = n.as_u64().unwrap_or(0);
                for i in 0..count {
                    ran = true;
                    let elem = Val::own(Value::from(i));
                    if self.iteration(c, body_mark, elem.clone(), elem)? == Flow::Break {
                        break;
                    }
                }
            }
            other => {
                let shown = crate::fmt::format_v(other);
                return Err(self.error(pipe_value(&c.pipe), format!("range can't iterate over {shown}")));
            }
        }
        if !ran {
            if let Some(else_list) = &c.else_list {
                self.walk(dot, else_list)?;
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Flow::Normal)
    }

    fn iteration(
        &mut self,
        c: &'a Control,
        body_mark: usize,
        index: Val<'a>,
        elem: Val<'a>,
    ) -> EResult<Flow> {
        let decl = &c.pipe.decl;
        if c.pipe.is_assign {
            match decl.len() {
                1 => self.set_var(&c.pipe, &decl[0], elem.clone())?,
                2 => {
                    self.set_var(&c.pipe, &decl[0], index)?;
                    self.set_var(&c.pipe, &decl[1], elem.clone())?;
                }
                _ => {}
            }
        } else {
            let n = self.vars.len();
            match decl.len() {
                1 => self.vars[n - 1].1 = elem.clone(),
                2 => {
                    self.vars[n - 1].1 = elem.clone();
                    self.vars[n - 2].1 = index;
                }
                _ => {}
            }
        }
        let flow = self.walk(&elem, &c.list)?;
        self.vars.truncate(body_mark);
        Ok(flow)
    }

    fn walk_template(
        &mut self,
        dot: &Val<'a>,
        pos: usize,
        name: &'a str,
        pipe: &'a Option<Pipe>,
    ) -> EResult<Flow> {
        let at = TemplateAt { pos, name };
        let body = match self.t.defs.get(name) {
            Some(body) => body,
            None if name.is_empty() => &self.t.root,
            None => {
                return Err(self.error(&at, format!("template {name:?} not defined")));
            }
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Val::Missing,
        };
        self.enter(&at)?;
        let vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        let caller = std::mem::replace(&mut self.name, name);
        let result = self.walk(&new_dot, body);
        self.name = caller;
        self.vars = vars;
        self.depth -= 1;
        result.map(|_| Flow::Normal)
    }

    fn set_var(&mut self, at: &Pipe, name: &str, v: Val<'a>) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.error(at, format!("undefined variable: {name}"))),
        }
    }

    fn var(&self, at: &Arg, name: &str) -> EResult<Val<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.error(at, format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'a Pipe) -> EResult<Val<'a>> {
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            value = Some(v.unwrap_nil());
        }
        let v = value.unwrap_or(Val::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(pipe, name, v.clone())?;
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    fn not_a_function(&self, cmd: &Cmd, final_: &Option<Val<'a>>) -> EResult<()> {
        if cmd.args.len() > 1 || final_.is_some() {
            return Err(self.error(
                cmd,
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Val<'a>, cmd: &'a Cmd, final_: Option<Val<'a>>) -> EResult<Val<'a>> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || final_.is_some();
        match &first.kind {
            ArgKind::Field(names) => self.field_chain(first, dot.clone(), names, has_args),
            ArgKind::Chain(node, names) => {
                let recv = self.chain_receiver(dot, first, node)?;
                self.field_chain(first, recv, names, has_args)
            }
            ArgKind::Variable(name, names) => {
                let v = self.var(first, name)?;
                if names.is_empty() {
                    self.not_a_function(cmd, &final_)?;
                    return Ok(v);
                }
                self.field_chain(first, v, names, has_args)
            }
            ArgKind::Func(name) => self.call(dot, cmd, name, &cmd.args[1..], final_),
            ArgKind::Pipe(p) => {
                self.not_a_function(cmd, &final_)?;
                self.eval_paren(dot, p)
            }
            ArgKind::Dot => {
                self.not_a_function(cmd, &final_)?;
                Ok(dot.clone())
            }
            ArgKind::Nil => Err(self.error(cmd, "nil is not a command")),
            ArgKind::Const(v, _) => {
                self.not_a_function(cmd, &final_)?;
                Ok(Val::Ref(v))
            }
        }
    }

    fn eval_paren(&mut self, dot: &Val<'a>, p: &'a Pipe) -> EResult<Val<'a>> {
        self.enter(p)?;
        let v = self.eval_pipeline(dot, p);
        self.depth -= 1;
        v
    }

    fn chain_receiver(&mut self, dot: &Val<'a>, at: &Arg, node: &'a Arg) -> EResult<Val<'a>> {
        if let ArgKind::Nil = node.kind {
            return Err(self.error(at, format!("indirection through explicit nil in {at}")));
        }
        self.eval_arg(dot, node)
    }

    fn field_chain(&self, at: &Arg, mut recv: Val<'a>, names: &[String], has_args: bool) -> EResult<Val<'a>> {
        for (i, name) in names.iter().enumerate() {
            recv = self.field(at, recv, name, has_args && i + 1 == names.len())?;
        }
        Ok(recv)
    }

    fn field(&self, at: &Arg, recv: Val<'a>, name: &str, has_args: bool) -> EResult<Val<'a>> {
        let missing = |s: &Self, msg: String| {
            if s.t.missing_key_error {
                Err(s.error(at, msg))
            } else {
                Ok(Val::Missing)
            }
        };
        match recv.get() {
            None => missing(self, format!("nil data; no entry for key {name:?}")),
            Some(Value::Object(_)) => {
                if has_args {
                    return Err(self.error(at, format!("{name} is not a method but has arguments")));
                }
                match recv.key(name) {
                    Some(v) => Ok(v),
                    None => missing(self, format!("map has no entry for key {name:?}")),
                }
            }
            Some(Value::Null) => Err(self.error(at, format!("nil pointer evaluating interface {{}}.{name}"))),
            Some(v) => Err(self.error(
                at,
                format!("can't evaluate field {name} in type {}", crate::fmt::type_name(v)),
            )),
        }
    }

    fn eval_arg(&mut self, dot: &Val<'a>, arg: &'a Arg) -> EResult<Val<'a>> {
        match &arg.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => Ok(Val::Ref(&NULL)),
            ArgKind::Field(names) => self.field_chain(arg, dot.clone(), names, false),
            ArgKind::Variable(name, names) => {
                let v = self.var(arg, name)?;
                self.field_chain(arg, v, names, false)
            }
            ArgKind::Chain(node, names) => {
                let recv = self.chain_receiver(dot, arg, node)?;
                self.field_chain(arg, recv, names, false)
            }
            ArgKind::Const(v, _) => Ok(Val::Ref(v)),
            ArgKind::Func(name) => {
                let cmd = Cmd {
                    pos: arg.pos,
                    args: vec![arg.clone()],
                };
                self.call(dot, &cmd, name, &[], None)
            }
            ArgKind::Pipe(p) => self.eval_paren(dot, p),
        }
    }

    fn call(
        &mut self,
        dot: &Val<'a>,
        cmd: &Cmd,
        name: &str,
        args: &'a [Arg],
        final_: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        let argc = args.len() + usize::from(final_.is_some());
        if name == "and" || name == "or" {
            if argc == 0 {
                return Err(self.error(
                    cmd,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            // Go evaluates and/or arguments lazily, left to right.
            let want = name == "or";
            let mut last = Val::Missing;
            for arg in args {
                last = self.eval_arg(dot, arg)?;
                if last.is_true() == want {
                    return Ok(last);
                }
            }
            return Ok(final_.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(argc);
        for arg in args {
            vals.push(self.eval_arg(dot, arg)?);
        }
        vals.extend(final_);
        funcs::call(name, vals).map_err(|e| self.error(cmd, e.message(name)))
    }
}

/// The node Go blames for a bad range value: the pipeline's last command.
fn pipe_value(p: &Pipe) -> &dyn Context {
    match p.cmds.last() {
        Some(c) => c,
        None => p,
    }
}

/// Error context for `{{template}}` nodes.
struct TemplateAt<'n> {
    pos: usize,
    name: &'n str,
}

impl std::fmt::Display for TemplateAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{{template {:?}}}}}", self.name)
    }
}

impl Context for TemplateAt<'_> {
    fn pos(&self) -> usize {
        self.pos
    }
}
