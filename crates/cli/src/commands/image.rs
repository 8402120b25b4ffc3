//! Image commands: images, rmi, tag, history, inspect, save, load, import, prune, bootstrap.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use super::{confirm, out, parse_bool, Ctx};
use crate::client::{json_stream, Query};
use crate::error::{Error, Result};
use crate::format::{
    filters_json, human_duration, human_size, human_size_prec, indented_array, is_tty, local, now,
    render_template, short_id, ListFormat,
};
use crate::http::{Body, Request};
use crate::progress::{display_stream, Renderer};
use crate::reference::Reference;

// ---------------------------------------------------------------------------------------------
// images

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

pub const IMAGE_HEADER: &[(&str, &str)] = &[
    ("Containers", "CONTAINERS"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedSince", "CREATED"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("SharedSize", "SHARED SIZE"),
    ("Size", "SIZE"),
    ("Tag", "TAG"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

pub fn header(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

fn i64_of(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The template fields of one `images` row. Ref: docker/cli formatter `imageContext`.
pub fn image_row(img: &Value, repo: &str, tag: &str, digest: &str, trunc: bool, now_secs: i64) -> Value {
    let id = img.get("Id").and_then(Value::as_str).unwrap_or("");
    let created = i64_of(img, "Created");
    let size = i64_of(img, "Size");
    let shared = img.get("SharedSize").and_then(Value::as_i64).unwrap_or(-1);
    let virt = img.get("VirtualSize").and_then(Value::as_i64).unwrap_or(size);
    let containers = img.get("Containers").and_then(Value::as_i64).unwrap_or(-1);
    json!({
        "Containers": if containers == -1 { "N/A".to_string() } else { containers.to_string() },
        "CreatedAt": local(created, 0).go_string(),
        "CreatedSince": format!("{} ago", human_duration((now_secs - created) as f64)),
        "Digest": digest,
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Repository": repo,
        "SharedSize": if shared == -1 { "N/A".to_string() } else { human_size(shared as f64) },
        "Size": human_size_prec(size as f64, 3),
        "Tag": tag,
        "UniqueSize": if size == -1 || shared == -1 { "N/A".to_string() } else { human_size((size - shared) as f64) },
        "VirtualSize": human_size(virt as f64),
    })
}

fn is_dangling(img: &Value) -> bool {
    let tags = strs(img, "RepoTags");
    let digests = strs(img, "RepoDigests");
    (tags.is_empty() && digests.is_empty()) || (tags == ["<none>:<none>"] && digests == ["<none>@<none>"])
}

/// The rows of `images` for one image: one per repository and tag (and digest with `--digests`).
/// Ref: docker/cli formatter `imageFormat` (repositories in their order of appearance; docker's
/// own order among repositories of one image is a Go map's).
pub fn image_rows(img: &Value, show_digests: bool, trunc: bool, now_secs: i64) -> Vec<Value> {
    if is_dangling(img) {
        return vec![image_row(img, "<none>", "<none>", "<none>", trunc, now_secs)];
    }
    let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
    for t in strs(img, "RepoTags") {
        let Ok(r) = Reference::parse(&t) else { continue };
        let (Some(tag), None) = (r.tag.clone(), &r.digest) else {
            continue;
        };
        let name = r.familiar_name();
        match repo_tags.iter_mut().find(|(n, _)| *n == name) {
            Some((_, tags)) => tags.push(tag),
            None => repo_tags.push((name, vec![tag])),
        }
    }
    let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
    for d in strs(img, "RepoDigests") {
        let Ok(r) = Reference::parse(&d) else { continue };
        let (None, Some(dg)) = (&r.tag, r.digest.clone()) else {
            continue;
        };
        let name = r.familiar_name();
        match repo_digests.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ds)) => ds.push(dg),
            None => repo_digests.push((name, vec![dg])),
        }
    }
    let mut rows = Vec::new();
    for (repo, tags) in &repo_tags {
        let digests = match repo_digests.iter().position(|(n, _)| n == repo) {
            Some(i) => repo_digests.remove(i).1,
            None => Vec::new(),
        };
        for tag in tags {
            if digests.is_empty() || !show_digests {
                rows.push(image_row(img, repo, tag, "<none>", trunc, now_secs));
            } else {
                for d in &digests {
                    rows.push(image_row(img, repo, tag, d, trunc, now_secs));
                }
            }
        }
    }
    for (repo, digests) in &repo_digests {
        if show_digests {
            for d in digests {
                rows.push(image_row(img, repo, "<none>", d, trunc, now_secs));
            }
        } else {
            rows.push(image_row(img, repo, "<none>", "", trunc, now_secs));
        }
    }
    rows
}

pub fn images(ctx: &mut Ctx, a: &ImagesArgs) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(r) = &a.repository {
        extra.push(("reference", r.as_str()));
    }
    let filters = filters_json(&a.filter, &extra)?;
    let q = Query::new()
        .add_if(a.all, "all", "1")
        .add_opt("filters", filters.as_deref());
    let list = ctx.client.get(&format!("/images/json{q}"))?;
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) => crate::config::ConfigFile::load(&ctx.config_dir)
            .ok()
            .and_then(|c| {
                c.value
                    .get("imagesFormat")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default(),
    };
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let lf = ListFormat::new(Some(&format), default)?;
    let t = now().0;
    let rows: Vec<Value> = list
        .as_array()
        .map(|l| {
            l.iter()
                .flat_map(|img| image_rows(img, a.digests, !a.no_trunc, t))
                .collect()
        })
        .unwrap_or_default();
    lf.print(&header(IMAGE_HEADER), &rows)
}

// ---------------------------------------------------------------------------------------------
// rmi

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

pub fn rmi(ctx: &mut Ctx, a: &RmiArgs) -> Result<()> {
    let q = Query::new()
        .add_if(a.force, "force", "1")
        .add_if(a.no_prune, "noprune", "1");
    let mut errors = Vec::new();
    for name in &a.images {
        match ctx.client.delete(&format!("/images/{name}{q}")) {
            Ok(v) => {
                let mut s = String::new();
                for item in v.as_array().into_iter().flatten() {
                    if let Some(u) = item.get("Untagged").and_then(Value::as_str) {
                        s.push_str(&format!("Untagged: {u}\n"));
                    }
                    if let Some(d) = item.get("Deleted").and_then(Value::as_str) {
                        s.push_str(&format!("Deleted: {d}\n"));
                    }
                }
                out(&s)?;
            }
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errors.join("\n")))
    }
}

// ---------------------------------------------------------------------------------------------
// tag

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

pub fn tag(ctx: &mut Ctx, a: &TagArgs) -> Result<()> {
    let target = Reference::parse(&a.target).map_err(|_| {
        Error::msg(format!(
            "Error parsing reference: \"{}\" is not a valid repository/tag: invalid reference format",
            a.target
        ))
    })?;
    if target.digest.is_some() {
        return Err(Error::msg("refusing to create a tag with a digest reference"));
    }
    let target = target.tag_name_only();
    let q = Query::new()
        .add("repo", &target.name())
        .add_opt("tag", target.tag.as_deref());
    ctx.client.post(&format!("/images/{}/tag{q}", a.source), None)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// history

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, value_name = "bool", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", require_equals = true, value_parser = parse_bool)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

const HISTORY_HEADER: &[(&str, &str)] = &[
    ("Comment", "COMMENT"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("CreatedSince", "CREATED"),
    ("ID", "IMAGE"),
    ("Size", "SIZE"),
];

/// Ref: docker/cli `formatter.Ellipsis` for single-width text.
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let mut r: String = s.chars().take(max.saturating_sub(1)).collect();
    r.push('…');
    r
}

pub fn history_row(h: &Value, human: bool, trunc: bool, now_secs: i64) -> Value {
    let id = h.get("Id").and_then(Value::as_str).unwrap_or("");
    let created = i64_of(h, "Created");
    let size = i64_of(h, "Size");
    let by = h
        .get("CreatedBy")
        .and_then(Value::as_str)
        .unwrap_or("")
        .replace('\t', " ");
    let created_at = local(created, 0).rfc3339();
    json!({
        "Comment": h.get("Comment").and_then(Value::as_str).unwrap_or(""),
        "CreatedAt": created_at,
        "CreatedBy": if trunc { ellipsis(&by, 45) } else { by },
        "CreatedSince": if human {
            format!("{} ago", human_duration((now_secs - created) as f64))
        } else {
            created_at.clone()
        },
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Size": if human { human_size_prec(size as f64, 3) } else { size.to_string() },
    })
}

pub fn history(ctx: &mut Ctx, a: &HistoryArgs) -> Result<()> {
    let q = Query::new().add_opt(
        "platform",
        a.platform
            .as_ref()
            .map(|p| json!({"os": p.split('/').next(), "architecture": p.split('/').nth(1)}).to_string())
            .as_deref(),
    );
    let list = ctx.client.get(&format!("/images/{}/history{q}", a.image))?;
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) => String::new(),
    };
    let lf = ListFormat::new(
        Some(&format),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    )?;
    let t = now().0;
    let rows: Vec<Value> = list
        .as_array()
        .map(|l| {
            l.iter()
                .map(|h| history_row(h, a.human, !a.no_trunc, t))
                .collect()
        })
        .unwrap_or_default();
    let mut hdr = header(HISTORY_HEADER);
    if !a.human {
        hdr["CreatedSince"] = json!("CREATED AT");
    }
    lf.print(&hdr, &rows)
}

// ---------------------------------------------------------------------------------------------
// inspect

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

/// Prints inspect output for `names`, fetched by `get`; errors are collected and returned after.
/// Ref: docker/cli inspect `Inspect`.
pub fn inspect_with(
    format: Option<&str>,
    names: &[String],
    mut get: impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match get(n) {
            Ok(r) => raws.push(r),
            Err(e @ Error::Connect(_)) => return Err(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    match format.filter(|f| !f.is_empty()) {
        None => out(&String::from_utf8_lossy(&indented_array(&raws)))?,
        Some(f) => {
            let mut s = String::new();
            for r in &raws {
                let v: Value = serde_json::from_slice(r)
                    .map_err(|e| Error::msg(format!("error decoding the daemon's answer: {e}")))?;
                s.push_str(&render_template(f, &v)?);
            }
            out(&s)?;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Msg(errors.join("\n")))
    }
}

fn get_image_raw(ctx: &mut Ctx, name: &str) -> Result<Vec<u8>> {
    let r = ctx
        .client
        .send(Request::new("GET", format!("/images/{name}/json")))?;
    r.bytes()
        .map_err(|e| Error::msg(format!("error reading the daemon's answer: {e}")))
}

pub fn image_inspect(ctx: &mut Ctx, a: &ImageInspectArgs) -> Result<()> {
    inspect_with(a.format.as_deref(), &a.images, |n| get_image_raw(ctx, n))
}

const ALL_TYPES: &[&str] = &[
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// The raw JSON of one object of `kind`.
fn get_raw(ctx: &mut Ctx, kind: &str, name: &str, size: bool) -> Result<Vec<u8>> {
    let path = match kind {
        "container" => return crate::commands::container::inspect_container_raw(ctx, name, size),
        "image" => return get_image_raw(ctx, name),
        "network" => format!("/networks/{name}"),
        "volume" => format!("/volumes/{name}"),
        "plugin" => format!("/plugins/{name}/json"),
        "service" => format!("/services/{name}?insertDefaults=true"),
        "task" => format!("/tasks/{name}"),
        "node" => format!("/nodes/{name}"),
        "secret" => format!("/secrets/{name}"),
        _ => format!("/configs/{name}"),
    };
    let r = ctx.client.send(Request::new("GET", path))?;
    r.bytes()
        .map_err(|e| Error::msg(format!("error reading the daemon's answer: {e}")))
}

/// Ref: docker/cli system `isErrSkippable`.
fn skippable(e: &Error) -> bool {
    let m = e.to_string();
    e.is_not_found() || m.contains("not supported") || m.contains("invalid reference format")
}

/// `inspect`: containers first, then images, networks, volumes and plugins, as docker tries
/// them (swarm objects only with `--type`). Ref: docker/cli system `inspectAll`.
pub fn inspect(ctx: &mut Ctx, a: &InspectArgs) -> Result<()> {
    let kind = a.kind.clone();
    if let Some(t) = kind.as_deref() {
        if t.is_empty() {
            return Err(Error::msg(format!(
                "type is empty: must be one of \"{}\"",
                ALL_TYPES.join("\", \"")
            )));
        }
        if !ALL_TYPES.contains(&t) {
            return Err(Error::msg(format!(
                "unknown type: \"{t}\": must be one of \"{}\"",
                ALL_TYPES.join("\", \"")
            )));
        }
    }
    let size = a.size;
    inspect_with(a.format.as_deref(), &a.names, |n| {
        if let Some(t) = kind.as_deref() {
            let r = get_raw(ctx, t, n, size)?;
            if size && t != "container" {
                eprintln!("WARNING: --size ignored for {t}");
            }
            return Ok(r);
        }
        for t in ["container", "image", "network", "volume", "plugin"] {
            match get_raw(ctx, t, n, size) {
                Ok(r) => {
                    if size && t != "container" {
                        eprintln!("WARNING: --size ignored for {t}");
                    }
                    return Ok(r);
                }
                Err(e @ Error::Connect(_)) => return Err(e),
                Err(e) if skippable(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::msg(format!("Error: No such object: {n}")))
    })
}

// ---------------------------------------------------------------------------------------------
// save / load / import

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// Save only the given platform variant
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

pub fn save(ctx: &mut Ctx, a: &SaveArgs) -> Result<()> {
    if a.output.is_none() && is_tty(1) {
        return Err(Error::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let mut q = Query::new();
    for i in &a.images {
        q = q.add("names", i);
    }
    if let Some(p) = &a.platform {
        let mut parts = p.split('/');
        q = q.add(
            "platform",
            &json!({"os": parts.next(), "architecture": parts.next()}).to_string(),
        );
    }
    let mut resp = ctx.client.send(Request::new("GET", format!("/images/get{q}")))?;
    match &a.output {
        None => {
            let mut o = io::stdout().lock();
            io::copy(&mut resp.body, &mut o)
                .map_err(|e| Error::msg(format!("error writing the image archive: {e}")))?;
            o.flush()?;
        }
        Some(path) => {
            // Ref: docker/cli `CopyToFile`: a temporary file next to the target, renamed at the end.
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let fail = |e: io::Error| Error::msg(format!("failed to save image: {}: {e}", path.display()));
            let tmp = dir.join(format!(".berth_temp_{}", std::process::id()));
            let res = (|| -> io::Result<()> {
                let mut f = fs::File::create(&tmp)?;
                io::copy(&mut resp.body, &mut f)?;
                f.sync_all()?;
                fs::rename(&tmp, path)
            })();
            if let Err(e) = res {
                let _ = fs::remove_file(&tmp);
                return Err(fail(e));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Load only the given platform variant
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
}

/// Shows a streamed answer: a jsonmessage stream, or raw text when the daemon sent no JSON.
fn show_answer(resp: crate::http::Response) -> Result<()> {
    let is_json = resp
        .headers
        .get("Content-Type")
        .is_some_and(|c| c.starts_with("application/json"));
    let mut o = io::stdout().lock();
    if is_json {
        display_stream(json_stream(resp), &mut o, &mut Renderer::for_stdout())?;
    } else {
        let mut body = resp.body;
        io::copy(&mut body, &mut o)?;
    }
    o.flush()?;
    Ok(())
}

pub fn load(ctx: &mut Ctx, a: &LoadArgs) -> Result<()> {
    let mut input: Box<dyn Read> = match &a.input {
        Some(p) => Box::new(fs::File::open(p).map_err(|e| Error::msg(format!("open {}: {e}", p.display())))?),
        None => {
            if is_tty(0) {
                return Err(Error::msg("requested load from stdin, but stdin is empty"));
            }
            Box::new(io::stdin().lock())
        }
    };
    // Ref: docker/cli load: quiet whenever stdout is not a terminal.
    let quiet = a.quiet || !is_tty(1);
    let mut q = Query::new().add_if(quiet, "quiet", "1");
    if let Some(p) = &a.platform {
        let mut parts = p.split('/');
        q = q.add(
            "platform",
            &json!({"os": parts.next(), "architecture": parts.next()}).to_string(),
        );
    }
    let req = Request::new("POST", format!("/images/load{q}"))
        .header("Content-Type", "application/x-tar")
        .body(Body::Reader(&mut input));
    let resp = ctx.client.send(req)?;
    show_answer(resp)
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

pub fn import(ctx: &mut Ctx, a: &ImportArgs) -> Result<()> {
    if let Some(r) = &a.reference {
        Reference::parse(r)?;
    }
    let is_url = a.source.starts_with("http://") || a.source.starts_with("https://");
    let src_name = if a.source == "-" || !is_url {
        "-"
    } else {
        a.source.as_str()
    };
    let mut q = Query::new()
        .add("fromSrc", src_name)
        .add("repo", a.reference.as_deref().unwrap_or(""))
        .add("tag", "")
        .add("message", a.message.as_deref().unwrap_or(""));
    if let Some(p) = &a.platform {
        q = q.add("platform", &p.to_lowercase());
    }
    for c in &a.change {
        q = q.add("changes", c);
    }
    let mut input: Box<dyn Read> = if is_url {
        Box::new(io::empty())
    } else if a.source == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(fs::File::open(&a.source).map_err(|e| Error::msg(format!("open {}: {e}", a.source)))?)
    };
    let mut req = Request::new("POST", format!("/images/create{q}"));
    if !is_url {
        req = req.body(Body::Reader(&mut input));
    }
    let resp = ctx.client.send(req)?;
    show_answer(resp)
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs `POST /images/prune`; returns (space reclaimed, text to print).
pub fn prune_images(ctx: &mut Ctx, all: bool, filter: &[String]) -> Result<(i64, String)> {
    let dangling = if all { "false" } else { "true" };
    let filters = filters_json(filter, &[("dangling", dangling)])?;
    let q = Query::new().add_opt("filters", filters.as_deref());
    let report = ctx.client.post(&format!("/images/prune{q}"), None)?;
    let mut output = String::new();
    let deleted = report.get("ImagesDeleted").and_then(Value::as_array);
    if let Some(items) = deleted.filter(|d| !d.is_empty()) {
        output.push_str("Deleted Images:\n");
        for st in items {
            match st
                .get("Untagged")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                Some(u) => output.push_str(&format!("untagged: {u}\n")),
                None => output.push_str(&format!(
                    "deleted: {}\n",
                    st.get("Deleted").and_then(Value::as_str).unwrap_or("")
                )),
            }
        }
    }
    Ok((i64_of(&report, "SpaceReclaimed"), output))
}

pub fn image_prune(ctx: &mut Ctx, a: &ImagePruneArgs) -> Result<()> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(&format!("{warning}\nAre you sure you want to continue?"))? {
        return Ok(());
    }
    let (space, output) = prune_images(ctx, a.all, &a.filter)?;
    let mut s = String::new();
    if !output.is_empty() {
        s.push_str(&output);
        s.push('\n');
    }
    s.push_str(&format!("Total reclaimed space: {}\n", human_size(space as f64)));
    out(&s)
}

// ---------------------------------------------------------------------------------------------
// bootstrap (berth's own)

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Where to take the root filesystem from: busybox or debian[:SUITE]
    #[arg(value_name = "busybox|debian[:SUITE]")]
    pub source: String,
    /// Name the image (default busybox:latest or debian:SUITE)
    #[arg(short = 't', long, value_name = "string")]
    pub tag: Option<String>,
    /// Debian mirror to bootstrap from
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// The static busybox binary to use (on the daemon's host)
    #[arg(long, value_name = "PATH")]
    pub busybox: Option<String>,
}

pub fn bootstrap(ctx: &mut Ctx, a: &BootstrapArgs) -> Result<()> {
    let (source, suite) = match a.source.split_once(':') {
        Some((s, suite)) => (s, Some(suite)),
        None => (a.source.as_str(), None),
    };
    let (source, suite, default_tag) = match source {
        "busybox" if suite.is_none() => ("busybox", None, "busybox:latest".to_string()),
        "debian" => {
            let suite = suite.unwrap_or("bookworm");
            ("debian", Some(suite), format!("debian:{suite}"))
        }
        _ => {
            return Err(Error::Usage {
                message: format!(
                    "invalid source \"{}\": expected busybox or debian[:SUITE]\nSee 'berth image bootstrap --help'.",
                    a.source
                ),
                code: 125,
            })
        }
    };
    let tag = a.tag.clone().unwrap_or(default_tag);
    Reference::parse(&tag)?;
    let q = Query::new()
        .add("source", source)
        .add_opt("suite", suite)
        .add("tag", &tag)
        .add_opt("mirror", a.mirror.as_deref())
        .add_opt("busybox", a.busybox.as_deref());
    let resp = ctx
        .client
        .send(Request::new("POST", format!("/berth/v1/images/bootstrap{q}")))?;
    show_answer(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_repo_and_tag() {
        let img = json!({"Id":"sha256:70983e5d0e4d2b0c03cbf127ce40af57dd19ea105b529972db5e339a04f9fcba",
            "Created": 100, "Size": 1983135, "SharedSize": -1, "Containers": -1,
            "RepoTags":["aa:2","busybox:b","busybox:latest","localhost:5000/x/y:3"],
            "RepoDigests":["busybox@sha256:aaa","other@sha256:bbb"]});
        let rows = image_rows(&img, false, true, 160);
        let names: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}:{}:{}",
                    r["Repository"].as_str().unwrap(),
                    r["Tag"].as_str().unwrap(),
                    r["Digest"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "aa:2:<none>",
                "busybox:b:<none>",
                "busybox:latest:<none>",
                "localhost:5000/x/y:3:<none>",
                "other:<none>:"
            ]
        );
        assert_eq!(rows[0]["ID"], "70983e5d0e4d");
        assert_eq!(rows[0]["Size"], "1.98MB");
        assert_eq!(rows[0]["VirtualSize"], "1.983MB");
        assert_eq!(rows[0]["CreatedSince"], "About a minute ago");
        assert_eq!(rows[0]["SharedSize"], "N/A");
        let rows = image_rows(&img, true, false, 160);
        assert_eq!(rows[1]["Digest"], "sha256:aaa");
        assert_eq!(rows[4]["Digest"], "sha256:bbb");
        assert!(rows[0]["ID"].as_str().unwrap().starts_with("sha256:"));
        let dangling = json!({"Id":"sha256:1","RepoTags":["<none>:<none>"],"RepoDigests":["<none>@<none>"]});
        assert_eq!(image_rows(&dangling, false, true, 0)[0]["Repository"], "<none>");
    }

    #[test]
    fn history_rows() {
        let h = json!({"Id":"<missing>","Created":0,"CreatedBy":"/bin/sh -c #(nop) ADD file:0123456789abcdef in / \t","Size":1983135,"Comment":""});
        let r = history_row(&h, true, true, 3600 * 3);
        assert_eq!(r["ID"], "<missing>");
        assert_eq!(r["CreatedBy"], "/bin/sh -c #(nop) ADD file:0123456789abcdef …");
        assert_eq!(r["Size"], "1.98MB");
        assert_eq!(r["CreatedSince"], "3 hours ago");
        let r = history_row(&h, false, false, 0);
        assert_eq!(r["Size"], "1983135");
    }
}
