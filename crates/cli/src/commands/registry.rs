//! Registry commands: pull, push, login, logout.

use std::io::{self, BufRead, Read, Write};

use clap::Args;
use serde_json::{json, Value};

use super::{out, Ctx};
use crate::client::{json_stream, Query};
use crate::config::{registry_auth_header, registry_of, server_key, ConfigFile};
use crate::error::{Error, Result};
use crate::http::Request;
use crate::progress::{display_stream, Renderer};
use crate::reference::Reference;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Skip image verification
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// Renders a progress stream to stdout, or swallows it with `quiet`.
fn stream_progress(resp: crate::http::Response, quiet: bool) -> Result<Vec<Value>> {
    if quiet {
        return display_stream(json_stream(resp), &mut io::sink(), &mut Renderer::new(false, 200));
    }
    let mut o = io::stdout().lock();
    display_stream(json_stream(resp), &mut o, &mut Renderer::for_stdout())
}

fn auth_header(ctx: &Ctx, reference: &Reference) -> String {
    let cfg = ConfigFile::load(&ctx.config_dir).unwrap_or(ConfigFile {
        path: ctx.config_dir.join("config.json"),
        value: json!({}),
    });
    registry_auth_header(&cfg, &registry_of(&reference.full()))
}

pub fn pull(ctx: &mut Ctx, a: &PullArgs) -> Result<()> {
    let r = Reference::parse(&a.name)?;
    if a.all_tags && (r.tag.is_some() || r.digest.is_some()) {
        return Err(Error::msg("tag can't be used with --all-tags/-a"));
    }
    let r = if a.all_tags {
        r
    } else {
        if r.tag.is_none() && r.digest.is_none() && !a.quiet {
            out("Using default tag: latest\n")?;
        }
        r.tag_name_only()
    };
    let tag = r.digest.clone().or_else(|| r.tag.clone());
    let q = Query::new()
        .add("fromImage", &r.name())
        .add_opt("tag", tag.as_deref())
        .add_opt(
            "platform",
            a.platform.as_deref().map(str::to_lowercase).as_deref(),
        );
    let req =
        Request::new("POST", format!("/images/create{q}")).header("X-Registry-Auth", auth_header(ctx, &r));
    let resp = ctx.client.send(req)?;
    stream_progress(resp, a.quiet)?;
    out(&format!("{}\n", r.full()))
}

/// Pulls `image` for `create`/`run` when it is missing (or `--pull always`): progress on stderr,
/// or nowhere with `quiet`. Ref: docker/cli container `pullImage`.
pub fn pull_for_create(ctx: &mut Ctx, image: &str, platform: Option<&str>, quiet: bool) -> Result<()> {
    let r = Reference::parse(image)?;
    let tag = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let q = Query::new()
        .add("fromImage", &r.name())
        .add_opt("platform", platform.map(str::to_lowercase).as_deref())
        .add("tag", &tag);
    let req =
        Request::new("POST", format!("/images/create{q}")).header("X-Registry-Auth", auth_header(ctx, &r));
    let resp = ctx.client.send(req)?;
    if quiet {
        display_stream(json_stream(resp), &mut io::sink(), &mut Renderer::new(false, 200))?;
        return Ok(());
    }
    let tty = crate::format::is_tty(2);
    let width = if tty {
        crate::progress::terminal_width(2).unwrap_or(200)
    } else {
        200
    };
    let mut e = io::stderr().lock();
    display_stream(json_stream(resp), &mut e, &mut Renderer::new(tty, width))?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Push a platform-specific manifest as a single-platform image
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Skip image signing
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

pub fn push(ctx: &mut Ctx, a: &PushArgs) -> Result<()> {
    let r = Reference::parse(&a.name)?;
    if a.all_tags && r.tag.is_some() {
        return Err(Error::msg("tag can't be used with --all-tags/-a"));
    }
    let r = if a.all_tags || r.tag.is_some() || r.digest.is_some() {
        r
    } else {
        if !a.quiet {
            out("Using default tag: latest\n")?;
        }
        r.tag_name_only()
    };
    let mut q = Query::new().add_opt("tag", r.tag.as_deref());
    if let Some(p) = &a.platform {
        let mut parts = p.split('/');
        q = q.add(
            "platform",
            &json!({"os": parts.next(), "architecture": parts.next()}).to_string(),
        );
    }
    let req = Request::new("POST", format!("/images/{}/push{q}", r.name()))
        .header("X-Registry-Auth", auth_header(ctx, &r));
    let resp = ctx.client.send(req)?;
    stream_progress(resp, a.quiet)?;
    if a.quiet {
        out(&format!("{}\n", r.full()))?;
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long, value_name = "string")]
    pub password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Username
    #[arg(short = 'u', long, value_name = "string")]
    pub username: Option<String>,
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

fn read_line_prompt(prompt: &str) -> Result<String> {
    let mut o = io::stdout().lock();
    write!(o, "{prompt}")?;
    o.flush()?;
    let mut s = String::new();
    io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// Reads a password from the terminal without echo.
fn read_password(prompt: &str) -> Result<String> {
    let fd = 0;
    // SAFETY: an all-zero termios is a valid buffer for tcgetattr to fill in.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes into the valid termios given.
    let have_tty = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_tty {
        let mut raw = old;
        raw.c_lflag &= !libc::ECHO;
        // SAFETY: tcsetattr reads the valid termios given.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) };
    }
    let res = read_line_prompt(prompt);
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
        let _ = writeln!(io::stdout());
    }
    res
}

pub fn login(ctx: &mut Ctx, a: &LoginArgs) -> Result<()> {
    if a.password.is_some() && a.password_stdin {
        return Err(Error::msg(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let mut password = a.password.clone();
    if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if a.password_stdin {
        if a.username.is_none() {
            return Err(Error::msg("Must provide --username with --password-stdin"));
        }
        let mut s = String::new();
        io::stdin()
            .lock()
            .read_to_string(&mut s)
            .map_err(|e| Error::msg(format!("reading the password from stdin: {e}")))?;
        password = Some(s.trim_end_matches(['\n', '\r']).to_string());
    }
    let key = server_key(a.server.as_deref().unwrap_or(""));
    let mut cfg = ConfigFile::load(&ctx.config_dir)?;
    let stored = cfg.credentials(&key);
    let username = match &a.username {
        Some(u) => u.clone(),
        None => {
            let default = stored.as_ref().map(|(u, _)| u.clone()).unwrap_or_default();
            let prompt = if default.is_empty() {
                "Username: ".to_string()
            } else {
                format!("Username ({default}): ")
            };
            let u = read_line_prompt(&prompt)?;
            if u.is_empty() {
                default
            } else {
                u
            }
        }
    };
    if username.is_empty() {
        return Err(Error::msg("Error: Non-null Username Required"));
    }
    let password = match password {
        Some(p) => p,
        None => read_password("Password: ")?,
    };
    if password.is_empty() {
        return Err(Error::msg("Error: Password Required"));
    }
    let body = json!({"username": username, "password": password, "serveraddress": key});
    let answer = ctx.client.post("/auth", Some(&body))?;
    // An identity token in the answer is not stored: berth keeps user and password, which every
    // registry accepts.
    cfg.set_credentials(&key, &username, &password);
    cfg.save()?;
    eprintln!(
        "WARNING! Your credentials are stored unencrypted in '{}'.\n\
         Configure a credential helper to remove this warning. See\n\
         https://docs.docker.com/go/credential-store/\n",
        cfg.path.display()
    );
    let status = answer
        .get("Status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("Login Succeeded");
    out(&format!("{status}\n"))
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

pub fn logout(ctx: &mut Ctx, a: &LogoutArgs) -> Result<()> {
    let key = server_key(a.server.as_deref().unwrap_or(""));
    let mut cfg = ConfigFile::load(&ctx.config_dir)?;
    if !cfg.remove_credentials(&key) {
        return out(&format!("Not logged in to {key}\n"));
    }
    out(&format!("Removing login credentials for {key}\n"))?;
    cfg.save()
}
