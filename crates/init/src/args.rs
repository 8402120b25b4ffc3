//! Command-line and environment parsing. Pure (no system calls, no allocation), so every rule is
//! unit-tested.
//!
//! Options follow tini's (`-s -p -v -w -g -e -h --version`, plus its `TINI_*` environment
//! variables, because `--init` replaces docker-init, which is tini) and catatonit's `-P`. Unlike
//! tini, parsing stops at the first operand, so `berth-init ls -l` runs `ls -l` even without `--`.

use core::fmt;

use crate::log::Lossy;
use crate::status::ExitRemap;

/// Settings that shape how the init behaves once it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Register as a child subreaper (`-s`, `TINI_SUBREAPER`).
    pub subreaper: bool,
    /// Forward signals to the child's process group instead of the child (`-g`,
    /// `TINI_KILL_PROCESS_GROUP`).
    pub process_group: bool,
    /// 0: errors only, 1: warnings too (default), 2 and up: verbose.
    pub verbosity: u8,
    /// Log every zombie reaped that is not the main child as a warning (`-w`).
    pub warn_on_reap: bool,
    /// Signal to receive when the parent dies (`-p`).
    pub parent_death_signal: Option<i32>,
    /// Exit codes of the child reported as 0 (`-e`).
    pub remap: ExitRemap,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            subreaper: false,
            process_group: false,
            verbosity: 1,
            warn_on_reap: false,
            parent_death_signal: None,
            remap: ExitRemap::default(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Help,
    Version,
    /// Supervise the command made of the arguments from index `command` on (an index into the
    /// arguments given to `parse`). No arguments there means pause mode (a pod's infra process).
    Run {
        options: Options,
        command: usize,
    },
}

/// A command line that cannot be obeyed. Each variant carries the offending operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsError<'a> {
    UnknownOption(&'a [u8]),
    UnknownFlag(u8),
    MissingValue(u8),
    InvalidSignal(&'a [u8]),
    InvalidExitCode(&'a [u8]),
    PauseWithCommand(&'a [u8]),
}

impl fmt::Display for ArgsError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownOption(opt) => write!(f, "unknown option `{}`", Lossy(opt)),
            Self::UnknownFlag(flag) => write!(f, "unknown option `-{}`", Lossy(&[flag])),
            Self::MissingValue(flag) => write!(f, "option `-{}` needs a value", Lossy(&[flag])),
            Self::InvalidSignal(sig) => write!(f, "invalid signal `{}` for -p", Lossy(sig)),
            Self::InvalidExitCode(code) => {
                write!(
                    f,
                    "invalid exit code `{}` for -e (expected 0 to 255)",
                    Lossy(code)
                )
            }
            Self::PauseWithCommand(cmd) => {
                write!(f, "-P (pause) takes no command, got `{}`", Lossy(cmd))
            }
        }
    }
}

pub const USAGE: &str = "\
Usage: berth-init [OPTIONS] [--] [COMMAND [ARGS...]]

Runs COMMAND as its child, forwards signals to it, reaps every zombie and exits with the
child's status (its exit code, or 128+N when killed by signal N). Without COMMAND, pauses
until SIGTERM or SIGINT, reaping zombies (a pod's infra process).

Options:
  -s         register as a child subreaper (needed when not PID 1)
  -g         forward signals to the child's process group
  -p SIGNAL  receive SIGNAL when the parent dies (TERM, SIGKILL, 9, ...)
  -e CODE    report exit code CODE (0 to 255) as 0; may be repeated
  -w         log every orphan reaped
  -v         verbose logging to stderr
  -P         pause mode (the default without COMMAND)
  -h         show this help
  --version  show the version

Environment (as tini): TINI_SUBREAPER, TINI_KILL_PROCESS_GROUP, TINI_VERBOSITY.
";

/// Parses the arguments after the program name. `arg(i)` returns argument `i` (`None` past the
/// end); `env(name)` looks up an environment variable.
pub fn parse<'a, A, E>(arg: A, env: E) -> Result<Action, ArgsError<'a>>
where
    A: Fn(usize) -> Option<&'a [u8]>,
    E: Fn(&[u8]) -> Option<&'a [u8]>,
{
    let mut options = options_from_env(env);
    let mut pause = false;
    let mut index = 0;
    while let Some(current) = arg(index) {
        if current == b"--" {
            index += 1;
            break;
        }
        if let Some(long) = current.strip_prefix(b"--") {
            return match long {
                b"version" => Ok(Action::Version),
                b"help" => Ok(Action::Help),
                _ => Err(ArgsError::UnknownOption(current)),
            };
        }
        let flags = match current {
            [b'-', flags @ ..] if !flags.is_empty() => flags,
            // The first operand (a lone "-" included) starts the command.
            _ => break,
        };
        index += 1;
        for (position, &flag) in flags.iter().enumerate() {
            match flag {
                b'h' => return Ok(Action::Help),
                b's' => options.subreaper = true,
                b'g' => options.process_group = true,
                b'v' => options.verbosity = options.verbosity.saturating_add(1),
                b'w' => options.warn_on_reap = true,
                b'P' => pause = true,
                b'p' | b'e' => {
                    // The value is the rest of this argument, or the next argument.
                    let attached = &flags[position + 1..];
                    let value = if attached.is_empty() {
                        let next = arg(index).ok_or(ArgsError::MissingValue(flag))?;
                        index += 1;
                        next
                    } else {
                        attached
                    };
                    if flag == b'p' {
                        let signal = parse_signal(value).ok_or(ArgsError::InvalidSignal(value))?;
                        options.parent_death_signal = Some(signal);
                    } else {
                        let code = parse_number(value).ok_or(ArgsError::InvalidExitCode(value))?;
                        options.remap.insert(code);
                    }
                    break;
                }
                other => return Err(ArgsError::UnknownFlag(other)),
            }
        }
    }
    if let (true, Some(command)) = (pause, arg(index)) {
        return Err(ArgsError::PauseWithCommand(command));
    }
    Ok(Action::Run {
        options,
        command: index,
    })
}

// Ref: tini's parse_env(): the mere presence of TINI_SUBREAPER / TINI_KILL_PROCESS_GROUP enables
// the feature; TINI_VERBOSITY sets the level.
fn options_from_env<'a, E>(env: E) -> Options
where
    E: Fn(&[u8]) -> Option<&'a [u8]>,
{
    let defaults = Options::default();
    Options {
        subreaper: env(b"TINI_SUBREAPER").is_some(),
        process_group: env(b"TINI_KILL_PROCESS_GROUP").is_some(),
        verbosity: env(b"TINI_VERBOSITY")
            .and_then(|v| parse_number(v.trim_ascii()))
            .unwrap_or(defaults.verbosity),
        ..defaults
    }
}

/// Looks `name` up in environment entries of the form `NAME=value`.
pub fn find_env<'a, I>(entries: I, name: &[u8]) -> Option<&'a [u8]>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    entries.into_iter().find_map(|entry| {
        let value = entry.strip_prefix(name)?;
        value.strip_prefix(b"=")
    })
}

fn parse_number<T: core::str::FromStr>(text: &[u8]) -> Option<T> {
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// Linux signal names without the `SIG` prefix, with their numbers.
const SIGNALS: &[(&[u8], i32)] = &[
    (b"HUP", libc::SIGHUP),
    (b"INT", libc::SIGINT),
    (b"QUIT", libc::SIGQUIT),
    (b"ILL", libc::SIGILL),
    (b"TRAP", libc::SIGTRAP),
    (b"ABRT", libc::SIGABRT),
    (b"IOT", libc::SIGIOT),
    (b"BUS", libc::SIGBUS),
    (b"FPE", libc::SIGFPE),
    (b"KILL", libc::SIGKILL),
    (b"USR1", libc::SIGUSR1),
    (b"SEGV", libc::SIGSEGV),
    (b"USR2", libc::SIGUSR2),
    (b"PIPE", libc::SIGPIPE),
    (b"ALRM", libc::SIGALRM),
    (b"TERM", libc::SIGTERM),
    (b"STKFLT", libc::SIGSTKFLT),
    (b"CHLD", libc::SIGCHLD),
    (b"CLD", libc::SIGCHLD),
    (b"CONT", libc::SIGCONT),
    (b"STOP", libc::SIGSTOP),
    (b"TSTP", libc::SIGTSTP),
    (b"TTIN", libc::SIGTTIN),
    (b"TTOU", libc::SIGTTOU),
    (b"URG", libc::SIGURG),
    (b"XCPU", libc::SIGXCPU),
    (b"XFSZ", libc::SIGXFSZ),
    (b"VTALRM", libc::SIGVTALRM),
    (b"PROF", libc::SIGPROF),
    (b"WINCH", libc::SIGWINCH),
    (b"IO", libc::SIGIO),
    (b"POLL", libc::SIGPOLL),
    (b"PWR", libc::SIGPWR),
    (b"SYS", libc::SIGSYS),
];

/// Highest signal number on Linux (SIGRTMAX).
const MAX_SIGNAL: i32 = 64;

/// Parses `TERM`, `SIGTERM`, `sigterm` or `15`.
pub fn parse_signal(text: &[u8]) -> Option<i32> {
    if text.first().is_some_and(u8::is_ascii_digit) {
        let number = parse_number::<i32>(text)?;
        return (1..=MAX_SIGNAL).contains(&number).then_some(number);
    }
    let name = match text.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"SIG") => &text[3..],
        _ => text,
    };
    SIGNALS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, number)| number)
}

/// Display form of a signal number, for logs: `SIGTERM`, or `signal 40` for real-time ones.
#[derive(Debug, Clone, Copy)]
pub struct SignalName(pub i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SIGNALS.iter().find(|&&(_, n)| n == self.0) {
            Some((name, _)) => write!(f, "SIG{}", Lossy(name)),
            None => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_env<'a>(list: &'a [&'a str], env: &'a [(&'a str, &'a str)]) -> Result<Action, ArgsError<'a>> {
        parse(
            |i| list.get(i).map(|s| s.as_bytes()),
            |name| {
                env.iter()
                    .find(|(n, _)| n.as_bytes() == name)
                    .map(|(_, v)| v.as_bytes())
            },
        )
    }

    fn run<'a>(list: &'a [&'a str]) -> Result<Action, ArgsError<'a>> {
        run_env(list, &[])
    }

    /// The options and the command of a successful parse.
    fn run_ok<'a>(list: &'a [&'a str]) -> (Options, &'a [&'a str]) {
        match run(list) {
            Ok(Action::Run { options, command }) => (options, &list[command..]),
            other => panic!("expected Run for {list:?}, got {other:?}"),
        }
    }

    #[test]
    fn command_without_options() {
        let (options, command) = run_ok(&["sh", "-c", "exit 7"]);
        assert_eq!(options, Options::default());
        assert_eq!(command, ["sh", "-c", "exit 7"]);
    }

    #[test]
    fn options_stop_at_first_operand() {
        let (options, command) = run_ok(&["-s", "ls", "-l", "-g"]);
        assert!(options.subreaper);
        assert!(!options.process_group);
        assert_eq!(command, ["ls", "-l", "-g"]);
    }

    #[test]
    fn double_dash_ends_options() {
        let (options, command) = run_ok(&["-g", "--", "-v", "x"]);
        assert!(options.process_group);
        assert_eq!(options.verbosity, 1);
        assert_eq!(command, ["-v", "x"]);
    }

    #[test]
    fn docker_style_invocation() {
        let (_, command) = run_ok(&["--", "nginx", "-g", "daemon off;"]);
        assert_eq!(command, ["nginx", "-g", "daemon off;"]);
    }

    #[test]
    fn clustered_flags_and_attached_values() {
        let (options, command) = run_ok(&["-sgvw", "-pKILL", "-e143", "-e", "1", "true"]);
        assert!(options.subreaper && options.process_group && options.warn_on_reap);
        assert_eq!(options.verbosity, 2);
        assert_eq!(options.parent_death_signal, Some(libc::SIGKILL));
        assert_eq!(options.remap.apply(143), 0);
        assert_eq!(options.remap.apply(1), 0);
        assert_eq!(options.remap.apply(2), 2);
        assert_eq!(command, ["true"]);
    }

    #[test]
    fn value_option_at_end_of_cluster_takes_next_argument() {
        let (options, command) = run_ok(&["-sp", "SIGTERM", "sleep", "1"]);
        assert!(options.subreaper);
        assert_eq!(options.parent_death_signal, Some(libc::SIGTERM));
        assert_eq!(command, ["sleep", "1"]);
    }

    #[test]
    fn no_command_means_pause() {
        assert!(run_ok(&["-s"]).1.is_empty());
        assert!(run_ok(&[]).1.is_empty());
        assert!(run_ok(&["-P", "--"]).1.is_empty());
        assert_eq!(run(&["-P", "sleep"]), Err(ArgsError::PauseWithCommand(b"sleep")));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["-h"]), Ok(Action::Help));
        assert_eq!(run(&["-sh"]), Ok(Action::Help));
        assert_eq!(run(&["--help"]), Ok(Action::Help));
        assert_eq!(run(&["--version"]), Ok(Action::Version));
        assert_eq!(run(&["-s", "--version"]), Ok(Action::Version));
    }

    #[test]
    fn lone_dash_is_a_command() {
        assert_eq!(run_ok(&["-", "x"]).1, ["-", "x"]);
    }

    #[test]
    fn errors_name_the_operand() {
        assert_eq!(run(&["-x"]), Err(ArgsError::UnknownFlag(b'x')));
        assert_eq!(run(&["--frob"]), Err(ArgsError::UnknownOption(b"--frob")));
        assert_eq!(run(&["-p"]), Err(ArgsError::MissingValue(b'p')));
        assert_eq!(run(&["-s", "-e"]), Err(ArgsError::MissingValue(b'e')));
        assert_eq!(run(&["-p", "FOO"]), Err(ArgsError::InvalidSignal(b"FOO")));
        assert_eq!(run(&["-e", "256"]), Err(ArgsError::InvalidExitCode(b"256")));
        assert_eq!(run(&["-e-1"]), Err(ArgsError::InvalidExitCode(b"-1")));
        let messages = [
            (ArgsError::InvalidSignal(b"FOO"), "invalid signal `FOO` for -p"),
            (ArgsError::UnknownFlag(b'x'), "unknown option `-x`"),
            (ArgsError::MissingValue(b'p'), "option `-p` needs a value"),
        ];
        for (error, message) in messages {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn environment_like_tini() {
        let env = [
            ("TINI_SUBREAPER", ""),
            ("TINI_KILL_PROCESS_GROUP", "1"),
            ("TINI_VERBOSITY", "0"),
        ];
        match run_env(&["-v", "true"], &env) {
            Ok(Action::Run { options, .. }) => {
                assert!(options.subreaper);
                assert!(options.process_group);
                assert_eq!(options.verbosity, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        let env = [("TINI_VERBOSITY", "many")];
        assert!(matches!(
            run_env(&["true"], &env),
            Ok(Action::Run {
                options: Options { verbosity: 1, .. },
                ..
            })
        ));
    }

    #[test]
    fn env_lookup() {
        let entries: [&[u8]; 4] = [b"PATH=/bin", b"PATHX=no", b"EMPTY=", b"NOEQUALS"];
        assert_eq!(find_env(entries, b"PATH"), Some(&b"/bin"[..]));
        assert_eq!(find_env(entries, b"EMPTY"), Some(&b""[..]));
        assert_eq!(find_env(entries, b"NOEQUALS"), None);
        assert_eq!(find_env(entries, b"PAT"), None);
        assert_eq!(find_env(entries, b"HOME"), None);
    }

    #[test]
    fn signal_names_and_numbers() {
        let cases: [(&str, Option<i32>); 14] = [
            ("TERM", Some(15)),
            ("SIGTERM", Some(15)),
            ("sigkill", Some(9)),
            ("Hup", Some(1)),
            ("CLD", Some(libc::SIGCHLD)),
            ("9", Some(9)),
            ("64", Some(64)),
            ("0", None),
            ("65", None),
            ("-9", None),
            ("SIG", None),
            ("", None),
            ("SIGFOO", None),
            ("SIGSIGTERM", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_signal(text.as_bytes()), expected, "{text}");
        }
    }

    #[test]
    fn signal_display() {
        assert_eq!(SignalName(15).to_string(), "SIGTERM");
        assert_eq!(SignalName(6).to_string(), "SIGABRT");
        assert_eq!(SignalName(libc::SIGCHLD).to_string(), "SIGCHLD");
        assert_eq!(SignalName(40).to_string(), "signal 40");
    }
}
