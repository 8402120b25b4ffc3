//! The request line of a socket connection (decision 0012's table).

use crate::restart::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Start,
    Kill(i32),
    /// Kill, and this exit does not trigger the restart policy.
    Stop(i32),
    Resize {
        rows: u16,
        cols: u16,
    },
    RestartPolicy(Policy),
    Events,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
}

impl Request {
    pub fn parse(line: &str) -> Result<Request, String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let verb = words.next().unwrap_or("");
        let mut arg = || words.next().ok_or_else(|| format!("`{verb}` needs an argument"));
        let req = match verb {
            "start" => Request::Start,
            "kill" => Request::Kill(signal(arg()?)?),
            "stop" => Request::Stop(signal(arg()?)?),
            "resize" => {
                let dim = |s: &str| {
                    s.parse::<u16>()
                        .map_err(|_| format!("invalid terminal size `{s}`"))
                };
                let rows = dim(arg()?)?;
                let cols = dim(arg()?)?;
                Request::Resize { rows, cols }
            }
            "restart-policy" => Request::RestartPolicy(Policy::parse(arg()?)?),
            "events" => Request::Events,
            "attach" => {
                let flags = words.next().unwrap_or("");
                if let Some(c) = flags.chars().find(|c| !matches!(c, 'i' | 'o' | 'e')) {
                    return Err(format!("invalid attach stream `{c}`: i, o or e"));
                }
                Request::Attach {
                    stdin: flags.contains('i'),
                    stdout: flags.contains('o'),
                    stderr: flags.contains('e'),
                }
            }
            "" => return Err("empty request".into()),
            other => return Err(format!("unknown request `{other}`")),
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected argument `{extra}` for `{verb}`"));
        }
        Ok(req)
    }
}

/// A signal by number (`9`) or name (`KILL`, `SIGKILL`, `sigkill`, `RTMIN+3`).
pub fn signal(s: &str) -> Result<i32, String> {
    let bad = || format!("invalid signal `{s}`");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    const NAMES: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("IOT", libc::SIGIOT),
        ("BUS", libc::SIGBUS),
        ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("STKFLT", libc::SIGSTKFLT),
        ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        ("POLL", libc::SIGPOLL),
        ("PWR", libc::SIGPWR),
        ("SYS", libc::SIGSYS),
    ];
    if let Some((_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*n);
    }
    // Real-time signals as Go's and Docker's tables name them: RTMIN (34) .. RTMAX (64).
    let rt = |base: i32, off: Option<&str>, sign: i32| -> Result<i32, String> {
        let off = match off {
            Some(o) => o.parse::<i32>().map_err(|_| bad())?,
            None => 0,
        };
        let n = base + sign * off;
        if (34..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(
            34,
            if rest.is_empty() {
                None
            } else {
                Some(rest.strip_prefix('+').ok_or_else(bad)?)
            },
            1,
        );
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(
            64,
            if rest.is_empty() {
                None
            } else {
                Some(rest.strip_prefix('-').ok_or_else(bad)?)
            },
            -1,
        );
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_request() {
        assert_eq!(Request::parse("start"), Ok(Request::Start));
        assert_eq!(Request::parse("start\n"), Ok(Request::Start));
        assert_eq!(Request::parse("kill 9"), Ok(Request::Kill(9)));
        assert_eq!(Request::parse("kill SIGTERM\r\n"), Ok(Request::Kill(15)));
        assert_eq!(Request::parse("stop 15"), Ok(Request::Stop(15)));
        assert_eq!(Request::parse("stop term"), Ok(Request::Stop(15)));
        assert_eq!(
            Request::parse("resize 24 80"),
            Ok(Request::Resize { rows: 24, cols: 80 })
        );
        assert_eq!(
            Request::parse("restart-policy on-failure:2"),
            Ok(Request::RestartPolicy(Policy::OnFailure(2)))
        );
        assert_eq!(Request::parse("events"), Ok(Request::Events));
        assert_eq!(
            Request::parse("attach ioe"),
            Ok(Request::Attach {
                stdin: true,
                stdout: true,
                stderr: true
            })
        );
        assert_eq!(
            Request::parse("attach e"),
            Ok(Request::Attach {
                stdin: false,
                stdout: false,
                stderr: true
            })
        );
        assert_eq!(
            Request::parse("attach"),
            Ok(Request::Attach {
                stdin: false,
                stdout: false,
                stderr: false
            })
        );
    }

    #[test]
    fn refuses_bad_requests_with_a_reason() {
        assert_eq!(Request::parse(""), Err("empty request".into()));
        assert_eq!(Request::parse("jump"), Err("unknown request `jump`".into()));
        assert_eq!(Request::parse("kill"), Err("`kill` needs an argument".into()));
        assert_eq!(Request::parse("kill 0"), Err("invalid signal `0`".into()));
        assert_eq!(Request::parse("kill NOPE"), Err("invalid signal `NOPE`".into()));
        assert_eq!(
            Request::parse("resize 24"),
            Err("`resize` needs an argument".into())
        );
        assert_eq!(
            Request::parse("resize 24 99999"),
            Err("invalid terminal size `99999`".into())
        );
        assert_eq!(
            Request::parse("attach ox"),
            Err("invalid attach stream `x`: i, o or e".into())
        );
        assert_eq!(
            Request::parse("start now"),
            Err("unexpected argument `now` for `start`".into())
        );
        assert!(Request::parse("restart-policy maybe").is_err());
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal("HUP"), Ok(1));
        assert_eq!(signal("sigusr1"), Ok(10));
        assert_eq!(signal("64"), Ok(64));
        assert_eq!(signal("RTMIN"), Ok(34));
        assert_eq!(signal("SIGRTMIN+3"), Ok(37));
        assert_eq!(signal("RTMAX-2"), Ok(62));
        assert!(signal("RTMIN+40").is_err());
        assert!(signal("65").is_err());
        assert!(signal("RTMIN3").is_err());
    }
}
