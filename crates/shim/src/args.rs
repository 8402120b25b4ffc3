//! The command line, as decision 0012 gives it. Options take their value as the next word or
//! after `=`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::restart::Policy;

#[derive(Debug, Clone)]
pub struct Options {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub log: Option<PathBuf>,
    /// Rotate the log before it would grow past this many bytes.
    pub log_max_size: Option<u64>,
    /// Log files kept in all, the live one included.
    pub log_max_file: u32,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub restart: Policy,
    pub oom_file: Option<PathBuf>,
}

pub const USAGE: &str = "usage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH \
--runtime-root DIR [--log FILE [--log-max-size BYTES] [--log-max-file N]] [--tty] [--stdin] \
[--stdin-once] [--restart no|always|unless-stopped|on-failure[:N]] [--oom-file PATH]";

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, String> {
    let mut args = args.into_iter();
    let mut id = None;
    let mut bundle = None;
    let mut state_dir = None;
    let mut runtime = None;
    let mut runtime_root = None;
    let mut log = None;
    let mut log_max_size = None;
    let mut log_max_file = 1;
    let mut oom_file = None;
    let mut restart = Policy::No;
    let (mut tty, mut stdin, mut stdin_once) = (false, false, false);
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        let Some(body) = bytes.strip_prefix(b"--") else {
            return Err(format!("unexpected argument `{}`", arg.to_string_lossy()));
        };
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(i) => (&body[..i], Some(OsStr::from_bytes(&body[i + 1..]).to_os_string())),
            None => (body, None),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let flag = |v: &mut bool| match &inline {
            Some(_) => Err(format!("`--{name}` takes no value")),
            None => {
                *v = true;
                Ok(())
            }
        };
        match name.as_str() {
            "tty" => flag(&mut tty)?,
            "stdin" => flag(&mut stdin)?,
            "stdin-once" => flag(&mut stdin_once)?,
            "help" => return Err(USAGE.into()),
            _ => {
                let value = match inline {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| format!("`--{name}` needs a value"))?,
                };
                let text = || {
                    value
                        .to_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("`--{name}` must be UTF-8"))
                };
                let number = |what: &str| -> Result<u64, String> {
                    let t = text()?;
                    t.parse()
                        .map_err(|_| format!("invalid {what} `{t}` for `--{name}`"))
                };
                match name.as_str() {
                    "id" => id = Some(text()?),
                    "bundle" => bundle = Some(PathBuf::from(&value)),
                    "state-dir" => state_dir = Some(PathBuf::from(&value)),
                    "runtime" => runtime = Some(PathBuf::from(&value)),
                    "runtime-root" => runtime_root = Some(PathBuf::from(&value)),
                    "log" => log = Some(PathBuf::from(&value)),
                    // Docker's "-1": no limit.
                    "log-max-size" if value == "-1" => log_max_size = None,
                    "log-max-size" => log_max_size = Some(number("size")?).filter(|&n| n > 0),
                    "log-max-file" => {
                        let n = number("count")?;
                        log_max_file = u32::try_from(n)
                            .ok()
                            .filter(|&n| n >= 1)
                            .ok_or_else(|| format!("invalid count `{n}` for `--log-max-file`: at least 1"))?;
                    }
                    "restart" => restart = Policy::parse(&text()?)?,
                    "oom-file" => oom_file = Some(PathBuf::from(&value)),
                    _ => return Err(format!("unknown option `--{name}`")),
                }
            }
        }
    }
    let need = |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("`--{name}` is required"));
    let id = id.ok_or("`--id` is required")?;
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(format!("invalid container id `{id}`"));
    }
    Ok(Options {
        id,
        bundle: need(bundle, "bundle")?,
        state_dir: need(state_dir, "state-dir")?,
        runtime: need(runtime, "runtime")?,
        runtime_root: need(runtime_root, "runtime-root")?,
        log,
        log_max_size,
        log_max_file,
        tty,
        stdin,
        stdin_once,
        restart,
        oom_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(OsString::from))
    }

    const BASE: &[&str] = &[
        "--id",
        "c1",
        "--bundle",
        "/b",
        "--state-dir",
        "/s",
        "--runtime",
        "/r",
        "--runtime-root",
        "/rr",
    ];

    #[test]
    fn parses_the_full_command_line() {
        let mut a = BASE.to_vec();
        a.extend([
            "--log",
            "/l/c-json.log",
            "--log-max-size=1024",
            "--log-max-file",
            "3",
            "--tty",
            "--stdin",
            "--stdin-once",
            "--restart",
            "on-failure:2",
            "--oom-file",
            "/o",
        ]);
        let o = p(&a).unwrap();
        assert_eq!(o.id, "c1");
        assert_eq!(o.bundle, PathBuf::from("/b"));
        assert_eq!(o.state_dir, PathBuf::from("/s"));
        assert_eq!(o.runtime, PathBuf::from("/r"));
        assert_eq!(o.runtime_root, PathBuf::from("/rr"));
        assert_eq!(o.log, Some(PathBuf::from("/l/c-json.log")));
        assert_eq!(o.log_max_size, Some(1024));
        assert_eq!(o.log_max_file, 3);
        assert!(o.tty && o.stdin && o.stdin_once);
        assert_eq!(o.restart, Policy::OnFailure(2));
        assert_eq!(o.oom_file, Some(PathBuf::from("/o")));
    }

    #[test]
    fn defaults() {
        let o = p(BASE).unwrap();
        assert_eq!(o.log, None);
        assert_eq!(o.log_max_size, None);
        assert_eq!(o.log_max_file, 1);
        assert!(!o.tty && !o.stdin && !o.stdin_once);
        assert_eq!(o.restart, Policy::No);
        let mut a = BASE.to_vec();
        a.extend(["--log-max-size", "-1"]);
        assert_eq!(p(&a).unwrap().log_max_size, None);
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(p(&["--id", "x"]).unwrap_err(), "`--bundle` is required");
        assert_eq!(p(&BASE[2..]).unwrap_err(), "`--id` is required");
        let mut a = BASE.to_vec();
        a.push("--frobnicate=1");
        assert_eq!(p(&a).unwrap_err(), "unknown option `--frobnicate`");
        let mut a = BASE.to_vec();
        a.push("--log");
        assert_eq!(p(&a).unwrap_err(), "`--log` needs a value");
        let mut a = BASE.to_vec();
        a.extend(["--log-max-file", "0"]);
        assert_eq!(
            p(&a).unwrap_err(),
            "invalid count `0` for `--log-max-file`: at least 1"
        );
        let mut a = BASE.to_vec();
        a.extend(["--log-max-size", "10m"]);
        assert_eq!(p(&a).unwrap_err(), "invalid size `10m` for `--log-max-size`");
        let mut a = BASE.to_vec();
        a.push("--tty=yes");
        assert_eq!(p(&a).unwrap_err(), "`--tty` takes no value");
        let mut a = BASE.to_vec();
        a.push("stray");
        assert_eq!(p(&a).unwrap_err(), "unexpected argument `stray`");
        let mut a = BASE.to_vec();
        a[1] = "a/b";
        assert_eq!(p(&a).unwrap_err(), "invalid container id `a/b`");
    }
}
