//! ps / container ls: the container list, rendered as docker's formatter does.
//!
//! Ref: docker/cli cli/command/container/list.go and cli/command/formatter/container.go.

use clap::Args;
use serde_json::{json, Value};

use super::opts::go_quote;
use super::sv;
use crate::client::Query;
use crate::commands::image::{ellipsis, header};
use crate::commands::Ctx;
use crate::error::Result;
use crate::format::{filters_json, human_duration, human_size_prec, local, now, short_id, ListFormat};
use crate::reference::Reference;

/// `--filter` values as docker's `FilterOpt` checks them.
pub fn validate_filter(v: &str) -> std::result::Result<String, String> {
    if !v.is_empty() && !v.contains('=') {
        return Err("bad format of filter (expected name=value)".into());
    }
    Ok(v.to_string())
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Filter output based on conditions provided
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
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, value_name = "int", default_value = "-1", allow_hyphen_values = true,
          value_parser = super::opts::flag_i64)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long, num_args = 0..=1, default_missing_value = "true", require_equals = true,
          value_parser = crate::commands::parse_bool)]
    pub size: Option<bool>,
}

pub const PS_HEADER: &[(&str, &str)] = &[
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Labels", "LABELS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Mounts", "MOUNTS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
    ("Ports", "PORTS"),
    ("RunningFor", "CREATED"),
    ("Size", "SIZE"),
    ("State", "STATE"),
    ("Status", "STATUS"),
];

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Go's `net.JoinHostPort`.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Ref: docker/cli formatter `DisplayablePorts`: consecutive ports grouped into ranges.
pub fn displayable_ports(ports: &[Value]) -> String {
    let mut ps: Vec<(u64, String, u64, String)> = ports
        .iter()
        .map(|p| {
            (
                p.get("PrivatePort").and_then(Value::as_u64).unwrap_or(0),
                sv(p, "IP").to_string(),
                p.get("PublicPort").and_then(Value::as_u64).unwrap_or(0),
                sv(p, "Type").to_string(),
            )
        })
        .collect();
    ps.sort();
    let mut groups: Vec<(String, u64, u64)> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    let form = |key: &str, start: u64, last: u64| {
        let parts: Vec<&str> = key.split('/').collect();
        let (ip, kind) = if parts.len() > 1 {
            (parts[0], parts[1])
        } else {
            ("", parts[0])
        };
        let mut group = start.to_string();
        if start != last {
            group = format!("{group}-{last}");
        }
        if !ip.is_empty() {
            group = format!("{}->{group}", join_host_port(ip, &group));
        }
        format!("{group}/{kind}")
    };
    for (private, ip, public, kind) in &ps {
        let mut key = kind.clone();
        if !ip.is_empty() {
            if public != private {
                host_mappings.push(format!(
                    "{}->{private}/{kind}",
                    join_host_port(ip, &public.to_string())
                ));
                continue;
            }
            key = format!("{ip}/{kind}");
        }
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            None => groups.push((key, *private, *private)),
            Some(g) => {
                if *private == g.2 + 1 {
                    g.2 = *private;
                } else {
                    result.push(form(&g.0, g.1, g.2));
                    g.1 = *private;
                    g.2 = *private;
                }
            }
        }
    }
    for (k, first, last) in &groups {
        result.push(form(k, *first, *last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

/// The IMAGE column. Ref: docker/cli formatter `ContainerContext.Image`.
fn image_of(c: &Value, trunc: bool) -> String {
    let image = sv(c, "Image");
    if image.is_empty() {
        return "<no image>".into();
    }
    if trunc {
        let t = short_id(sv(c, "ImageID"));
        if t == short_id(image) {
            return t;
        }
        if let Ok(mut r) = Reference::parse(image) {
            r.digest = None;
            return match r.tag.clone() {
                Some(_) => r.familiar(),
                None => r.familiar_name(),
            };
        }
    }
    image.to_string()
}

/// The template fields of one `ps` row.
pub fn container_row(c: &Value, trunc: bool, now_secs: i64) -> Value {
    let id = sv(c, "Id");
    let mut names: Vec<String> = c
        .get("Names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
                .collect()
        })
        .unwrap_or_default();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')).cloned() {
            names = vec![n];
        }
    }
    let mut command = sv(c, "Command").to_string();
    if trunc {
        command = ellipsis(&command, 20);
    }
    let created = c.get("Created").and_then(Value::as_i64).unwrap_or(0);
    let srw = c.get("SizeRw").and_then(Value::as_i64).unwrap_or(0);
    let srootfs = c.get("SizeRootFs").and_then(Value::as_i64).unwrap_or(0);
    let mut size = human_size_prec(srw as f64, 3);
    if srootfs > 0 {
        size = format!("{size} (virtual {})", human_size_prec(srootfs as f64, 3));
    }
    let labels = match c.get("Labels").and_then(Value::as_object) {
        None => String::new(),
        Some(m) => {
            let mut l: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            l.sort();
            l.join(",")
        }
    };
    let mounts_v = c
        .get("Mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mounts: Vec<String> = mounts_v
        .iter()
        .map(|m| {
            let n = if sv(m, "Name").is_empty() {
                sv(m, "Source")
            } else {
                sv(m, "Name")
            };
            if trunc {
                ellipsis(n, 15)
            } else {
                n.to_string()
            }
        })
        .collect();
    let local_volumes = mounts_v.iter().filter(|m| sv(m, "Driver") == "local").count();
    let networks = match c
        .get("NetworkSettings")
        .and_then(|n| n.get("Networks"))
        .and_then(Value::as_object)
    {
        Some(m) => m.keys().cloned().collect::<Vec<_>>().join(","),
        None => String::new(),
    };
    let platform = c
        .get("ImageManifestDescriptor")
        .and_then(|d| d.get("platform"))
        .filter(|p| p.is_object())
        .map(|p| {
            let mut s = format!("{}/{}", sv(p, "os"), sv(p, "architecture"));
            if !sv(p, "variant").is_empty() {
                s = format!("{s}/{}", sv(p, "variant"));
            }
            json!(s)
        })
        .unwrap_or(Value::Null);
    let ports = c
        .get("Ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    json!({
        "Command": go_quote(&command),
        "CreatedAt": local(created, 0).go_string(),
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image_of(c, trunc),
        "Labels": labels,
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Names": names.join(","),
        "Networks": networks,
        "Platform": platform,
        "Ports": displayable_ports(&ports),
        "RunningFor": format!("{} ago", human_duration((now_secs - created) as f64)),
        "Size": size,
        "State": sv(c, "State"),
        "Status": sv(c, "Status"),
    })
}

/// The format `ps` renders with, and whether it asks the daemon for sizes.
/// Ref: docker/cli formatter `NewContainerFormat`, container `buildContainerListOptions`.
pub fn ps_format(format: &str, quiet: bool, size_flag: Option<bool>) -> (String, bool) {
    let mut size = size_flag.unwrap_or(false);
    if !format.is_empty() && !quiet && size_flag.is_none() && format.contains(".Size") {
        size = true;
    }
    let f = match format {
        "table" | "" => {
            if quiet {
                "{{.ID}}".to_string()
            } else if size {
                format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")
            } else {
                DEFAULT_TABLE.to_string()
            }
        }
        "raw" => {
            if quiet {
                "container_id: {{.ID}}".to_string()
            } else {
                let mut f = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n".to_string();
                if size {
                    f.push_str("size: {{.Size}}\\n");
                }
                f
            }
        }
        f => {
            if quiet {
                "{{.ID}}".to_string()
            } else {
                f.to_string()
            }
        }
    };
    (f, size)
}

pub fn ps(ctx: &mut Ctx, a: &PsArgs) -> Result<()> {
    let mut format = a.format.clone().unwrap_or_default();
    if format.is_empty() {
        if let Ok(cfg) = crate::config::ConfigFile::load(&ctx.config_dir) {
            format = cfg
                .value
                .get("psFormat")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
        }
    } else if a.quiet {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let (tmpl, size) = ps_format(&format, a.quiet, a.size);
    let mut limit = a.last;
    if a.latest && a.last == -1 {
        limit = 1;
    }
    let filters = filters_json(&a.filter, &[])?;
    let q = Query::new()
        .add_if(a.all, "all", "1")
        .add_opt("filters", filters.as_deref())
        .add_if(limit > 0, "limit", &limit.to_string())
        .add_if(size, "size", "1");
    let list = ctx.client.get(&format!("/containers/json{q}"))?;
    let now_secs = now().0;
    let trunc = !a.no_trunc;
    let rows: Vec<Value> = list
        .as_array()
        .map(|l| l.iter().map(|c| container_row(c, trunc, now_secs)).collect())
        .unwrap_or_default();
    let lf = ListFormat::new(Some(&tmpl), DEFAULT_TABLE)?;
    lf.print(&header(PS_HEADER), &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_grouped() {
        let p = |ip: &str, private: u64, public: u64, t: &str| json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": t});
        assert_eq!(
            displayable_ports(&[
                p("0.0.0.0", 80, 8080, "tcp"),
                p("", 9000, 0, "tcp"),
                p("", 9001, 0, "tcp"),
                p("", 9003, 0, "tcp"),
                p("0.0.0.0", 53, 53, "udp"),
                p("::", 80, 8080, "tcp"),
            ]),
            "9000-9001/tcp, 0.0.0.0:53->53/udp, 9003/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(displayable_ports(&[]), "");
    }

    #[test]
    fn rows() {
        let c = json!({"Id":"0123456789abcdef0123","Names":["/web","/other/link"],
            "Image":"docker.io/library/busybox:1.36","ImageID":"sha256:ffff","Command":"sh -c 'while true; do sleep 1; done'",
            "Created": 1000, "State":"running","Status":"Up 3 seconds","Ports":[],
            "Labels":{"b":"2","a":"1"},"SizeRw":12,"SizeRootFs":4260000,
            "Mounts":[{"Name":"","Source":"/very/long/host/path/x","Driver":""},{"Name":"vol","Driver":"local"}]});
        let r = container_row(&c, true, 1003);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Names"], "web");
        assert_eq!(r["Image"], "busybox:1.36");
        assert_eq!(r["Command"], "\"sh -c 'while true; …\"");
        assert_eq!(r["RunningFor"], "3 seconds ago");
        assert_eq!(r["Labels"], "a=1,b=2");
        assert_eq!(r["Size"], "12B (virtual 4.26MB)");
        assert_eq!(r["Mounts"], "/very/long/hos…,vol");
        assert_eq!(r["LocalVolumes"], "1");
        let r = container_row(&c, false, 1000 + 7200);
        assert_eq!(r["Names"], "web,other/link");
        assert_eq!(r["Command"], "\"sh -c 'while true; do sleep 1; done'\"");
        assert_eq!(r["RunningFor"], "2 hours ago");
        assert_eq!(r["Image"], "docker.io/library/busybox:1.36");
        let c = json!({"Id":"x","Image":"sha256:abcdefabcdef0123","ImageID":"sha256:abcdefabcdef0123"});
        assert_eq!(container_row(&c, true, 0)["Image"], "abcdefabcdef");
    }

    #[test]
    fn formats() {
        assert_eq!(ps_format("", true, None), ("{{.ID}}".to_string(), false));
        assert!(ps_format("{{.Names}} {{.Size}}", false, None).1);
        assert!(!ps_format("{{.Names}} {{.Size}}", false, Some(false)).1);
        assert!(ps_format("", false, Some(true)).0.ends_with("\t{{.Size}}"));
    }
}
