//! Volume commands: create, ls, inspect, rm, prune.
//!
//! Ref: docker/cli cli/command/volume and cli/command/formatter/volume.go.

use clap::Args;
use serde_json::{json, Map, Value};

use super::container::list::validate_filter;
use super::container::manage::{natural_less, prune_filters};
use super::container::opts::validate_label;
use super::image::{header, inspect_with};
use super::{confirm, out, Ctx};
use crate::client::Query;
use crate::error::{Error, Result};
use crate::format::{filters_json, human_size, ListFormat};
use crate::http::Request;

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, value_name = "string", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long, value_name = "list", value_parser = validate_label)]
    pub label: Vec<String>,
    /// Specify volume name
    #[arg(long, value_name = "string", hide = true)]
    pub name: Option<String>,
    /// Set driver specific options
    #[arg(short = 'o', long, value_name = "map")]
    pub opt: Vec<String>,
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

pub fn create(ctx: &mut Ctx, a: &VolumeCreateArgs) -> Result<()> {
    let mut name = a.name.clone().unwrap_or_default();
    if let Some(v) = &a.volume {
        if !name.is_empty() {
            return Err(Error::msg(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
            ));
        }
        name = v.clone();
    }
    let mut body = Map::new();
    if !a.driver.is_empty() {
        body.insert("Driver".into(), json!(a.driver));
    }
    let opts = super::container::opts::kv_map(&a.opt);
    if !opts.is_empty() {
        body.insert("DriverOpts".into(), Value::Object(opts));
    }
    let labels = super::container::opts::kv_map(&a.label);
    if !labels.is_empty() {
        body.insert("Labels".into(), Value::Object(labels));
    }
    if !name.is_empty() {
        body.insert("Name".into(), json!(name));
    }
    let v = ctx.client.post("/volumes/create", Some(&Value::Object(body)))?;
    out(&format!(
        "{}\n",
        v.get("Name").and_then(Value::as_str).unwrap_or("")
    ))
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Display only cluster volumes, and use cluster volume list formatting
    #[arg(long, hide = true)]
    pub cluster: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = validate_filter)]
    pub filter: Vec<String>,
    /// Format output using a custom template:
    /// 'table':            Print output in table format with column headers (default)
    /// 'table TEMPLATE':   Print output in table format using the given Go template
    /// 'json':             Print in JSON format
    /// 'TEMPLATE':         Print output using the given Go template.
    /// Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates
    #[arg(long, value_name = "string", verbatim_doc_comment)]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub const VOLUME_HEADER: &[(&str, &str)] = &[
    ("Availability", "AVAILABILITY"),
    ("Driver", "DRIVER"),
    ("Group", "GROUP"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Name", "VOLUME NAME"),
    ("Scope", "SCOPE"),
    ("Size", "SIZE"),
    ("Status", "STATUS"),
];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The template fields of one `volume ls` row.
pub fn volume_row(v: &Value) -> Value {
    let labels = match v.get("Labels").and_then(Value::as_object) {
        Some(m) => m
            .iter()
            .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
        None => String::new(),
    };
    let usage = v.get("UsageData").filter(|u| u.is_object());
    let na = || "N/A".to_string();
    json!({
        "Availability": na(),
        "Driver": s(v, "Driver"),
        "Group": na(),
        "Labels": labels,
        "Links": usage.map_or_else(na, |u| u.get("RefCount").and_then(Value::as_i64).unwrap_or(0).to_string()),
        "Mountpoint": s(v, "Mountpoint"),
        "Name": s(v, "Name"),
        "Scope": s(v, "Scope"),
        "Size": usage.map_or_else(na, |u| human_size(u.get("Size").and_then(Value::as_i64).unwrap_or(0) as f64)),
        "Status": na(),
    })
}

pub fn ls(ctx: &mut Ctx, a: &VolumeLsArgs) -> Result<()> {
    let filters = filters_json(&a.filter, &[])?;
    let q = Query::new().add_opt("filters", filters.as_deref());
    let v = ctx.client.get(&format!("/volumes{q}"))?;
    let mut vols: Vec<Value> = v
        .get("Volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    vols.sort_by(|x, y| {
        let (a, b) = (s(x, "Name"), s(y, "Name"));
        if natural_less(a, b) {
            std::cmp::Ordering::Less
        } else if natural_less(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let mut format = a.format.clone().unwrap_or_default();
    if format.is_empty() {
        let cfg = crate::config::ConfigFile::load(&ctx.config_dir)
            .ok()
            .and_then(|c| {
                c.value
                    .get("volumesFormat")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|f| !f.is_empty());
        format = match cfg {
            Some(f) if !a.quiet => f,
            _ => "table".into(),
        };
    }
    let tmpl = match format.as_str() {
        "table" if a.quiet => "{{.Name}}".to_string(),
        "table" => "table {{.Driver}}\t{{.Name}}".to_string(),
        "raw" if a.quiet => "name: {{.Name}}".to_string(),
        "raw" => "name: {{.Name}}\\ndriver: {{.Driver}}\\n".to_string(),
        f => f.to_string(),
    };
    let rows: Vec<Value> = vols.iter().map(volume_row).collect();
    let lf = ListFormat::new(Some(&tmpl), "table {{.Driver}}\t{{.Name}}")?;
    let mut hdr = header(VOLUME_HEADER);
    hdr["Driver"] = json!("DRIVER");
    lf.print(&hdr, &rows)
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a custom template:
    /// 'json':             Print in JSON format
    /// 'TEMPLATE':         Print output using the given Go template.
    /// Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates
    #[arg(short = 'f', long, value_name = "string", verbatim_doc_comment)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

pub fn get_volume_raw(ctx: &mut Ctx, name: &str) -> Result<Vec<u8>> {
    let r = ctx.client.send(Request::new("GET", format!("/volumes/{name}")))?;
    r.bytes()
        .map_err(|e| Error::msg(format!("error reading the daemon's answer: {e}")))
}

pub fn inspect(ctx: &mut Ctx, a: &VolumeInspectArgs) -> Result<()> {
    inspect_with(a.format.as_deref(), &a.volumes, |n| get_volume_raw(ctx, n))
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

pub fn rm(ctx: &mut Ctx, a: &VolumeRmArgs) -> Result<()> {
    let q = Query::new().add_if(a.force, "force", "1");
    super::container::each(&a.volumes, |n| {
        super::container::call(ctx, "DELETE", format!("/volumes/{n}{q}"))
    })
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter", value_parser = validate_filter)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

pub fn prune(ctx: &mut Ctx, a: &VolumePruneArgs) -> Result<()> {
    let filters = prune_filters(ctx, &a.filter);
    let mut extra: Vec<(&str, &str)> = Vec::new();
    let warning = if a.all {
        if filters.iter().any(|f| {
            f.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("all"))
        }) {
            return Err(Error::msg(
                "conflicting options: cannot specify both --all and --filter all=1",
            ));
        }
        extra.push(("all", "true"));
        "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
    };
    if !a.force && !confirm(warning)? {
        return Ok(());
    }
    let f = filters_json(&filters, &extra)?;
    let q = Query::new().add_opt("filters", f.as_deref());
    let report = ctx.client.post(&format!("/volumes/prune{q}"), None)?;
    let mut text = String::new();
    let mut space = 0;
    if let Some(v) = report
        .get("VolumesDeleted")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        text.push_str("Deleted Volumes:\n");
        for n in v.iter().filter_map(Value::as_str) {
            text.push_str(n);
            text.push('\n');
        }
        text.push('\n');
        space = report.get("SpaceReclaimed").and_then(Value::as_i64).unwrap_or(0);
    }
    text.push_str(&format!("Total reclaimed space: {}\n", human_size(space as f64)));
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        let r = volume_row(
            &json!({"Name":"v1","Driver":"local","Mountpoint":"/m","Scope":"local","Labels":{"a":"b"}}),
        );
        assert_eq!(r["Links"], "N/A");
        assert_eq!(r["Labels"], "a=b");
        let r = volume_row(&json!({"Name":"v","UsageData":{"RefCount":2,"Size":2000}}));
        assert_eq!(r["Links"], "2");
        assert_eq!(r["Size"], "2kB");
        let lf = ListFormat::new(Some("table {{.Driver}}\t{{.Name}}"), "").unwrap();
        let mut hdr = header(VOLUME_HEADER);
        hdr["Driver"] = json!("DRIVER");
        assert_eq!(
            lf.render(&hdr, &[volume_row(&json!({"Name":"v1","Driver":"local"}))])
                .unwrap(),
            "DRIVER    VOLUME NAME\nlocal     v1\n"
        );
    }
}
