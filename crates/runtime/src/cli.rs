//! runc's command line, parsed by hand: it runs on every container operation of podman and containerd,
//! and a declarative parser cost a third of a millisecond per call (measured with `BERTH_TRACE=1`).
//!
//! Rules, as runc (urfave/cli on Go's flag package) accepts them: long options with one or two dashes
//! (`-bundle`, `--bundle`), values as the next word or after `=`; options before or after the
//! positional arguments; for `exec` and `ps`, everything after the container id (or `--`) belongs to
//! the command.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// One option a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
}

const fn flag(long: &'static str, short: Option<char>) -> Opt {
    Opt {
        long,
        short,
        value: false,
    }
}

const fn val(long: &'static str, short: Option<char>) -> Opt {
    Opt {
        long,
        short,
        value: true,
    }
}

pub const GLOBAL: &[Opt] = &[
    val("root", None),
    val("log", None),
    val("log-format", None),
    flag("debug", None),
    flag("systemd-cgroup", None),
    val("criu", None),
    val("rootless", None),
];

const CREATE: &[Opt] = &[
    val("bundle", Some('b')),
    val("pid-file", None),
    val("console-socket", None),
    flag("no-pivot", None),
    flag("no-new-keyring", None),
    val("preserve-fds", None),
];

/// The commands, their options, and how many positionals they take before the rest is passed through
/// (`None`: no pass-through).
pub fn command(name: &str) -> Option<(&'static [&'static [Opt]], Option<usize>)> {
    const RUN_ONLY: &[Opt] = &[flag("detach", Some('d')), flag("keep", None)];
    const EXEC: &[Opt] = &[
        val("process", Some('p')),
        flag("tty", Some('t')),
        val("cwd", None),
        val("env", Some('e')),
        val("user", Some('u')),
        val("additional-gids", Some('g')),
        val("cap", Some('c')),
        flag("no-new-privs", None),
        flag("detach", Some('d')),
        val("pid-file", None),
        val("console-socket", None),
        val("preserve-fds", None),
        flag("ignore-paused", None),
        val("process-label", None),
        val("apparmor", None),
        val("cgroup", None),
    ];
    const UPDATE: &[Opt] = &[
        val("resources", Some('r')),
        val("memory", None),
        val("memory-reservation", None),
        val("memory-swap", None),
        val("cpu-shares", None),
        val("cpu-period", None),
        val("cpu-quota", None),
        val("cpuset-cpus", None),
        val("cpuset-mems", None),
        val("pids-limit", None),
        val("blkio-weight", None),
        val("kernel-memory", None),
        val("kernel-memory-tcp", None),
        val("cpu-rt-period", None),
        val("cpu-rt-runtime", None),
        val("l3-cache-schema", None),
        val("mem-bw-schema", None),
    ];
    const NONE: &[Opt] = &[];
    const KILL: &[Opt] = &[flag("all", Some('a'))];
    const DELETE: &[Opt] = &[flag("force", Some('f'))];
    const PS: &[Opt] = &[val("format", Some('f'))];
    const LIST: &[Opt] = &[val("format", Some('f')), flag("quiet", Some('q'))];
    const SPEC: &[Opt] = &[flag("rootless", None), val("bundle", Some('b'))];
    const EVENTS: &[Opt] = &[flag("stats", None), val("interval", None)];
    Some(match name {
        "create" => (&[CREATE], None),
        "run" => (&[CREATE, RUN_ONLY], None),
        "start" | "state" | "pause" | "resume" | "features" => (&[NONE], None),
        "kill" => (&[KILL], None),
        "delete" => (&[DELETE], None),
        // The id, then the command and its own options.
        "exec" => (&[EXEC], Some(1)),
        "ps" => (&[PS], Some(1)),
        "list" => (&[LIST], None),
        "spec" => (&[SPEC], None),
        "update" => (&[UPDATE], None),
        "events" => (&[EVENTS], None),
        _ => return None,
    })
}

/// Parsed options and positionals of one command (or of the global part).
#[derive(Debug, Default)]
pub struct Matches {
    values: HashMap<&'static str, Vec<String>>,
    pub positionals: Vec<String>,
    /// Arguments after the pass-through point (`exec`'s command, `ps`'s options).
    pub rest: Vec<String>,
}

impl Matches {
    pub fn flag(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }

    pub fn value(&self, long: &str) -> Option<&str> {
        self.values.get(long).and_then(|v| v.last()).map(String::as_str)
    }

    pub fn values(&self, long: &str) -> &[String] {
        self.values.get(long).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A numeric option, with the option named in the error.
    pub fn number<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>> {
        self.value(long)
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::msg(format!("invalid value `{v}` for `--{long}`")))
            })
            .transpose()
    }
}

/// Parses `args` against `opts`. With `stop_at_positional`, parsing ends at the first positional (the
/// global options end at the command name). `passthrough_after`: after that many positionals, the next
/// positional and everything after it go to `rest`.
pub fn parse(
    args: &[String],
    opts: &[&[Opt]],
    stop_at_positional: bool,
    passthrough_after: Option<usize>,
    what: &str,
) -> Result<(Matches, usize)> {
    let mut m = Matches::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            m.rest.extend(args[i + 1..].iter().cloned());
            return Ok((m, args.len()));
        }
        // After the id, `exec`'s command and `ps`'s options are passed through untouched, as runc
        // stops parsing there too.
        if passthrough_after.is_some_and(|n| m.positionals.len() >= n) {
            m.rest.extend(args[i..].iter().cloned());
            return Ok((m, args.len()));
        }
        let is_opt = a.len() > 1 && a.starts_with('-');
        if !is_opt {
            if stop_at_positional {
                return Ok((m, i));
            }
            m.positionals.push(a.clone());
            i += 1;
            continue;
        }
        let body = a.strip_prefix("--").unwrap_or(&a[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let single_dash = !a.starts_with("--");
        let all = || opts.iter().flat_map(|g| g.iter());
        let opt = all().find(|o| o.long == name).or_else(|| {
            let mut chars = name.chars();
            match (single_dash, chars.next(), chars.next()) {
                (true, Some(c), None) => all().find(|o| o.short == Some(c)),
                _ => None,
            }
        });
        let Some(opt) = opt else {
            if matches!(name, "help" | "h") {
                return Err(Error::msg(format!(
                    "usage: berth-runtime {what} [options] (see runc's documentation)"
                )));
            }
            return Err(Error::msg(format!("unknown option `{a}` for `{what}`")));
        };
        let value = if opt.value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| Error::msg(format!("option `{a}` of `{what}` needs a value")))?
                }
            }
        } else {
            match inline.as_deref() {
                None | Some("true") => String::from("true"),
                // `--detach=false` and friends: as if absent.
                Some("false") => {
                    i += 1;
                    continue;
                }
                Some(v) => {
                    return Err(Error::msg(format!(
                        "option `--{name}` takes no value (got `{v}`)"
                    )))
                }
            }
        };
        m.values.entry(opt.long).or_default().push(value);
        i += 1;
    }
    Ok((m, args.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn global_options_stop_at_the_command() {
        let args = s(&["--root", "/r", "--log-format=json", "-debug", "create", "x"]);
        let (m, at) = parse(&args, &[GLOBAL], true, None, "berth-runtime").unwrap();
        assert_eq!(m.value("root"), Some("/r"));
        assert_eq!(m.value("log-format"), Some("json"));
        assert!(m.flag("debug"));
        assert_eq!(args[at], "create");
    }

    #[test]
    fn options_before_or_after_positionals() {
        for v in [
            &["ID", "--bundle", "B"][..],
            &["--bundle", "B", "ID"],
            &["-bundle", "B", "ID"],
            &["-b", "B", "ID"],
            &["ID", "--bundle=B"],
        ] {
            let (m, _) = parse(&s(v), &[CREATE], false, None, "create").unwrap();
            assert_eq!(m.value("bundle"), Some("B"), "{v:?}");
            assert_eq!(m.positionals, ["ID"], "{v:?}");
        }
    }

    #[test]
    fn exec_passes_the_command_through() {
        let (opts, pass) = command("exec").unwrap();
        let (m, _) = parse(
            &s(&["-t", "ID", "sh", "-c", "echo --tty"]),
            opts,
            false,
            pass,
            "exec",
        )
        .unwrap();
        assert!(m.flag("tty"));
        assert_eq!(m.positionals, ["ID"]);
        assert_eq!(m.rest, ["sh", "-c", "echo --tty"]);
        let (m, _) = parse(
            &s(&["--env", "A=1", "-e", "B=2", "ID", "--", "ls"]),
            opts,
            false,
            pass,
            "exec",
        )
        .unwrap();
        assert_eq!(m.values("env"), ["A=1", "B=2"]);
        assert_eq!(m.rest, ["ls"]);
    }

    #[test]
    fn ps_args_after_the_id() {
        let (opts, pass) = command("ps").unwrap();
        let (m, _) = parse(
            &s(&["--format", "json", "ID", "-o", "pid"]),
            opts,
            false,
            pass,
            "ps",
        )
        .unwrap();
        assert_eq!(m.value("format"), Some("json"));
        assert_eq!(m.rest, ["-o", "pid"]);
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse(&s(&["--bogus", "ID"]), &[CREATE], false, None, "create").unwrap_err();
        assert_eq!(e.to_string(), "unknown option `--bogus` for `create`");
        let e = parse(&s(&["ID", "--bundle"]), &[CREATE], false, None, "create").unwrap_err();
        assert!(e.to_string().contains("needs a value"), "{e}");
        let (m, _) = parse(
            &s(&["--preserve-fds", "x", "ID"]),
            &[CREATE],
            false,
            None,
            "create",
        )
        .unwrap();
        assert!(m
            .number::<u32>("preserve-fds")
            .unwrap_err()
            .to_string()
            .contains("`x`"));
    }

    #[test]
    fn boolean_equals_false() {
        let (opts, _) = command("run").unwrap();
        let (m, _) = parse(&s(&["--detach=false", "ID"]), opts, false, None, "run").unwrap();
        assert!(!m.flag("detach"));
    }
}
