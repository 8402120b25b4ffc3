//! The command line: clap definitions, docker's wording for command-line errors, and dispatch.
//!
//! Every container command exists at the top level and under `berth container`, as in docker.

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};

use crate::client::Client;
use crate::commands::container::{cp, exec, list, logs, manage, run, stats};
use crate::commands::{image, registry, system, volume, Ctx};
use crate::error::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", value_name = "list")]
    pub host: Vec<String>,
    /// Location of client config files
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,
    /// Name of the context to use (only "default")
    #[arg(short = 'c', long = "context", value_name = "string", hide = true)]
    pub context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the Docker-compatible version information
    Version(system::VersionArgs),
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Get real time events from the server
    Events(system::EventsArgs),
    /// Manage berth
    #[command(arg_required_else_help = true)]
    System {
        #[command(subcommand)]
        cmd: SystemCmd,
    },
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Authenticate to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// List images
    Images(image::ImagesArgs),
    /// Remove one or more images
    Rmi(image::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Return low-level information on berth objects
    Inspect(image::InspectArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// Manage images
    #[command(arg_required_else_help = true)]
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(run::RunArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// List containers
    Ps(list::PsArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(run::CreateArgs),
    /// Start one or more stopped containers
    Start(run::StartArgs),
    /// Stop one or more running containers
    Stop(manage::StopArgs),
    /// Restart one or more containers
    Restart(manage::StopArgs),
    /// Kill one or more running containers
    Kill(manage::KillArgs),
    /// Remove one or more containers
    Rm(manage::RmArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(manage::NamesArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(run::AttachArgs),
    /// Display the running processes of a container
    Top(manage::TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(manage::PortArgs),
    /// Rename a container
    Rename(manage::RenameArgs),
    /// Pause all processes within one or more containers
    Pause(manage::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(manage::NamesArgs),
    /// Update configuration of one or more containers
    Update(manage::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(manage::OneArgs),
    /// Create a new image from a container's changes
    Commit(manage::CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(manage::ExportArgs),
    /// Manage containers
    #[command(arg_required_else_help = true)]
    Container {
        #[command(subcommand)]
        cmd: ContainerCmd,
    },
    /// Manage volumes
    #[command(arg_required_else_help = true)]
    Volume {
        #[command(subcommand)]
        cmd: VolumeCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// Attach local standard input, output, and error streams to a running container
    Attach(run::AttachArgs),
    /// Create a new image from a container's changes
    Commit(manage::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(run::CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(manage::OneArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Export a container's filesystem as a tar archive
    Export(manage::ExportArgs),
    /// Display detailed information on one or more containers
    Inspect(manage::InspectArgs),
    /// Kill one or more running containers
    Kill(manage::KillArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(list::PsArgs),
    /// Pause all processes within one or more containers
    Pause(manage::NamesArgs),
    /// List port mappings or a specific mapping for the container
    Port(manage::PortArgs),
    /// Remove all stopped containers
    Prune(manage::ContainerPruneArgs),
    /// Rename a container
    Rename(manage::RenameArgs),
    /// Restart one or more containers
    Restart(manage::StopArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(manage::RmArgs),
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(run::RunArgs),
    /// Start one or more stopped containers
    Start(run::StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
    /// Stop one or more running containers
    Stop(manage::StopArgs),
    /// Display the running processes of a container
    Top(manage::TopArgs),
    /// Unpause all processes within one or more containers
    Unpause(manage::NamesArgs),
    /// Update configuration of one or more containers
    Update(manage::UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(manage::NamesArgs),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume
    Create(volume::VolumeCreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(volume::VolumeInspectArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(volume::VolumeLsArgs),
    /// Remove unused local volumes
    Prune(volume::VolumePruneArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(volume::VolumeRmArgs),
}

#[derive(Debug, Subcommand)]
pub enum SystemCmd {
    /// Show berth disk usage
    Df(system::DfArgs),
    /// Remove unused data
    Prune(system::SystemPruneArgs),
    /// Get real time events from the server
    Events(system::EventsArgs),
    /// Display system-wide information
    Info(system::InfoArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// List images
    #[command(visible_alias = "list")]
    Ls(image::ImagesArgs),
    /// Remove one or more images
    #[command(visible_aliases = ["rmi", "remove"])]
    Rm(image::RmiArgs),
    /// Display detailed information on one or more images
    Inspect(image::ImageInspectArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// Remove unused images
    Prune(image::ImagePruneArgs),
    /// Build a base image without a registry: busybox, or Debian with debootstrap (berth's own)
    Bootstrap(image::BootstrapArgs),
}

/// How many positional arguments a command takes, as docker words it. Ref: docker/cli `required.go`.
#[derive(Debug, Clone, Copy)]
enum Arity {
    None,
    Min(usize),
    Max(usize),
    Exact(usize),
    Range(usize, usize),
}

/// docker's usage line and arity for a canonical command path ("image ls").
fn usage_of(path: &str) -> (&'static str, Arity) {
    use Arity::*;
    match path {
        "" => ("[OPTIONS] COMMAND [ARG...]", Min(0)),
        "version" => ("[OPTIONS]", None),
        "info" | "system info" => ("[OPTIONS]", None),
        "events" | "system events" => ("[OPTIONS]", None),
        "system" | "image" | "container" | "volume" => ("COMMAND", None),
        "run" | "container run" | "create" | "container create" => {
            ("[OPTIONS] IMAGE [COMMAND] [ARG...]", Min(1))
        }
        "start" | "container start" | "stop" | "container stop" | "restart" | "container restart"
        | "kill" | "container kill" | "rm" | "container rm" | "update" | "container update" => {
            ("[OPTIONS] CONTAINER [CONTAINER...]", Min(1))
        }
        "ps" | "container ls" | "container prune" => ("[OPTIONS]", None),
        "logs" | "container logs" | "attach" | "container attach" | "export" | "container export" => {
            ("[OPTIONS] CONTAINER", Exact(1))
        }
        "wait" | "container wait" | "pause" | "container pause" | "unpause" | "container unpause" => {
            ("CONTAINER [CONTAINER...]", Min(1))
        }
        "exec" | "container exec" => ("[OPTIONS] CONTAINER COMMAND [ARG...]", Min(2)),
        "container inspect" => ("[OPTIONS] CONTAINER [CONTAINER...]", Min(1)),
        "top" | "container top" => ("CONTAINER [ps OPTIONS]", Min(1)),
        "port" | "container port" => ("CONTAINER [PRIVATE_PORT[/PROTO]]", Range(1, 2)),
        "rename" | "container rename" => ("CONTAINER NEW_NAME", Exact(2)),
        "stats" | "container stats" => ("[OPTIONS] [CONTAINER...]", Min(0)),
        "cp" | "container cp" => (
            "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
            Exact(2),
        ),
        "diff" | "container diff" => ("CONTAINER", Exact(1)),
        "commit" | "container commit" => ("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", Range(1, 2)),
        "volume create" => ("[OPTIONS] [VOLUME]", Max(1)),
        "volume ls" | "volume prune" => ("[OPTIONS]", None),
        "volume inspect" | "volume rm" => ("[OPTIONS] VOLUME [VOLUME...]", Min(1)),
        "system df" => ("[OPTIONS]", None),
        "system prune" | "image prune" => ("[OPTIONS]", None),
        "pull" | "image pull" => ("[OPTIONS] NAME[:TAG|@DIGEST]", Exact(1)),
        "push" | "image push" => ("[OPTIONS] NAME[:TAG]", Exact(1)),
        "login" => ("[OPTIONS] [SERVER]", Max(1)),
        "logout" => ("[SERVER]", Max(1)),
        "images" | "image ls" => ("[OPTIONS] [REPOSITORY[:TAG]]", Max(1)),
        "rmi" | "image rm" => ("[OPTIONS] IMAGE [IMAGE...]", Min(1)),
        "tag" | "image tag" => ("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", Exact(2)),
        "history" | "image history" => ("[OPTIONS] IMAGE", Exact(1)),
        "image inspect" => ("[OPTIONS] IMAGE [IMAGE...]", Min(1)),
        "inspect" => ("[OPTIONS] NAME|ID [NAME|ID...]", Min(1)),
        "save" | "image save" => ("[OPTIONS] IMAGE [IMAGE...]", Min(1)),
        "load" | "image load" => ("[OPTIONS]", None),
        "import" | "image import" => ("[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", Range(1, 2)),
        "image bootstrap" => ("[OPTIONS] busybox|debian[:SUITE]", Exact(1)),
        _ => ("[OPTIONS]", Min(0)),
    }
}

/// Global options that take a value (so their value is not mistaken for a command).
const GLOBAL_WITH_VALUE: &[&str] = &["-H", "--host", "--config", "-l", "--log-level", "-c", "--context"];

/// The canonical command path of an argument vector ("image ls" for `berth image list -a`).
pub fn command_path(args: &[String]) -> String {
    let mut it = args.iter().skip(1);
    let mut top: Option<&str> = None;
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a.starts_with('-') {
            if top.is_none() && GLOBAL_WITH_VALUE.contains(&a.as_str()) {
                it.next();
            }
            continue;
        }
        match top {
            None => {
                top = Some(a.as_str());
                if !matches!(a.as_str(), "image" | "system" | "container" | "volume") {
                    break;
                }
            }
            Some(group) => {
                let sub = match (group, a.as_str()) {
                    ("image", "list") => "ls",
                    ("image", "rmi" | "remove") => "rm",
                    ("container", "list" | "ps") => "ls",
                    ("container" | "volume", "remove") => "rm",
                    ("volume", "list") => "ls",
                    (_, s) => s,
                };
                return format!("{group} {sub}");
            }
        }
    }
    top.unwrap_or("").to_string()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "argument"
    } else {
        "arguments"
    }
}

/// Turns a clap error into docker's wording and exit code.
fn usage_error(e: &clap::Error, args: &[String]) -> Error {
    let path = command_path(args);
    let full = if path.is_empty() {
        "berth".to_string()
    } else {
        format!("berth {path}")
    };
    let (usage, arity) = usage_of(&path);
    let tail =
        |verb: &str| format!("\n\nUsage:  {full} {usage}\n\n{verb} '{full} --help' for more information");
    let ctx_str = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let flag_error = |m: String| Error::Usage {
        message: format!("{m}{}", tail("Run")),
        code: 125,
    };
    let arity_error = || {
        let (what, verb) = match arity {
            Arity::None => ("accepts no arguments".to_string(), "Run"),
            Arity::Min(n) => (format!("requires at least {n} {}", plural(n)), "See"),
            Arity::Max(n) => (format!("requires at most {n} {}", plural(n)), "Run"),
            Arity::Exact(n) => (format!("requires {n} {}", plural(n)), "Run"),
            Arity::Range(a, b) => (
                format!("requires at least {a} and at most {b} {}", plural(b)),
                "Run",
            ),
        };
        Error::Usage {
            message: format!("berth: '{full}' {what}{}", tail(verb)),
            code: 1,
        }
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = ctx_str(ContextKind::InvalidArg);
            if let Some(long) = arg.strip_prefix("--") {
                flag_error(format!(
                    "unknown flag: --{}",
                    long.split('=').next().unwrap_or(long)
                ))
            } else if let Some(short) = arg.strip_prefix('-') {
                let c = short.chars().next().unwrap_or('-');
                flag_error(format!("unknown shorthand flag: '{c}' in -{short}"))
            } else {
                arity_error()
            }
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            arity_error()
        }
        ErrorKind::InvalidSubcommand => {
            let sub = ctx_str(ContextKind::InvalidSubcommand);
            let parent = if path.contains(' ') {
                format!("berth {}", path.split(' ').next().unwrap_or(""))
            } else {
                "berth".to_string()
            };
            Error::Usage {
                message: format!(
                    "berth: unknown command: {parent} {sub}\n\nRun '{parent} --help' for more information"
                ),
                code: 1,
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = ctx_str(ContextKind::InvalidArg);
            let flag = flag_names(&path, arg.split([' ', '=', '[']).next().unwrap_or(""));
            let value = ctx_str(ContextKind::InvalidValue);
            if value.is_empty() && e.kind() == ErrorKind::InvalidValue {
                return flag_error(format!("flag needs an argument: {flag}"));
            }
            let cause = e
                .source()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            flag_error(format!(
                "invalid argument \"{value}\" for \"{flag}\" flag: {cause}"
            ))
        }
        _ => {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            flag_error(first)
        }
    }
}

use std::error::Error as _;

/// "-H, --human" for "--human" in the command at `path`, as cobra names flags in errors.
fn flag_names(path: &str, long: &str) -> String {
    let mut cmd = Cli::command();
    for part in path.split_whitespace() {
        match cmd.find_subcommand(part) {
            Some(c) => cmd = c.clone(),
            None => break,
        }
    }
    let name = long.trim_start_matches('-');
    let short = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(name))
        .and_then(|a| a.get_short());
    match short {
        Some(c) => format!("-{c}, --{name}"),
        None => format!("--{name}"),
    }
}

/// Parses `args` and runs the command.
pub fn run(args: &[String]) -> Result<()> {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    crate::commands::out(&e.render().to_string())
                }
                _ => Err(usage_error(&e, args)),
            };
        }
    };
    if cli.version {
        return crate::commands::out(&format!(
            "berth version {}, build {}\n",
            env!("CARGO_PKG_VERSION"),
            option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown")
        ));
    }
    let Some(command) = cli.command else {
        return crate::commands::out(&Cli::command().render_help().to_string());
    };
    if let Some(c) = cli.context.as_deref().filter(|c| *c != "default") {
        return Err(Error::msg(format!("context \"{c}\" does not exist")));
    }
    let env = |k: &str| std::env::var(k).ok();
    let sel = crate::host::select(cli.host.last().map(String::as_str), &env).map_err(Error::Msg)?;
    let mut ctx = Ctx {
        client: Client::new(sel),
        config_dir: crate::config::config_dir(cli.config.as_deref()),
        debug: cli.debug,
    };
    dispatch(&mut ctx, command)
}

fn dispatch(ctx: &mut Ctx, command: Command) -> Result<()> {
    match command {
        Command::Version(a) => system::version(ctx, &a),
        Command::Info(a) => system::info(ctx, &a),
        Command::Events(a) => system::events(ctx, &a),
        Command::System { cmd } => match cmd {
            SystemCmd::Df(a) => system::df(ctx, &a),
            SystemCmd::Prune(a) => system::system_prune(ctx, &a),
            SystemCmd::Events(a) => system::events(ctx, &a),
            SystemCmd::Info(a) => system::info(ctx, &a),
        },
        Command::Pull(a) => registry::pull(ctx, &a),
        Command::Push(a) => registry::push(ctx, &a),
        Command::Login(a) => registry::login(ctx, &a),
        Command::Logout(a) => registry::logout(ctx, &a),
        Command::Images(a) => image::images(ctx, &a),
        Command::Rmi(a) => image::rmi(ctx, &a),
        Command::Tag(a) => image::tag(ctx, &a),
        Command::History(a) => image::history(ctx, &a),
        Command::Inspect(a) => image::inspect(ctx, &a),
        Command::Save(a) => image::save(ctx, &a),
        Command::Load(a) => image::load(ctx, &a),
        Command::Import(a) => image::import(ctx, &a),
        Command::Image { cmd } => match cmd {
            ImageCmd::Ls(a) => image::images(ctx, &a),
            ImageCmd::Rm(a) => image::rmi(ctx, &a),
            ImageCmd::Inspect(a) => image::image_inspect(ctx, &a),
            ImageCmd::Pull(a) => registry::pull(ctx, &a),
            ImageCmd::Push(a) => registry::push(ctx, &a),
            ImageCmd::Tag(a) => image::tag(ctx, &a),
            ImageCmd::History(a) => image::history(ctx, &a),
            ImageCmd::Save(a) => image::save(ctx, &a),
            ImageCmd::Load(a) => image::load(ctx, &a),
            ImageCmd::Import(a) => image::import(ctx, &a),
            ImageCmd::Prune(a) => image::image_prune(ctx, &a),
            ImageCmd::Bootstrap(a) => image::bootstrap(ctx, &a),
        },
        Command::Run(a) => run::run(ctx, &a),
        Command::Exec(a) => exec::exec(ctx, &a),
        Command::Ps(a) => list::ps(ctx, &a),
        Command::Create(a) => run::create(ctx, &a),
        Command::Start(a) => run::start(ctx, &a),
        Command::Stop(a) => manage::stop(ctx, &a),
        Command::Restart(a) => manage::restart(ctx, &a),
        Command::Kill(a) => manage::kill(ctx, &a),
        Command::Rm(a) => manage::rm(ctx, &a),
        Command::Logs(a) => logs::logs(ctx, &a),
        Command::Wait(a) => manage::wait(ctx, &a),
        Command::Attach(a) => run::attach(ctx, &a),
        Command::Top(a) => manage::top(ctx, &a),
        Command::Port(a) => manage::port(ctx, &a),
        Command::Rename(a) => manage::rename(ctx, &a),
        Command::Pause(a) => manage::pause(ctx, &a),
        Command::Unpause(a) => manage::unpause(ctx, &a),
        Command::Update(a) => manage::update(ctx, &a),
        Command::Stats(a) => stats::stats(ctx, &a),
        Command::Cp(a) => cp::cp(ctx, &a),
        Command::Diff(a) => manage::diff(ctx, &a),
        Command::Commit(a) => manage::commit(ctx, &a),
        Command::Export(a) => manage::export(ctx, &a),
        Command::Container { cmd } => match cmd {
            ContainerCmd::Attach(a) => run::attach(ctx, &a),
            ContainerCmd::Commit(a) => manage::commit(ctx, &a),
            ContainerCmd::Cp(a) => cp::cp(ctx, &a),
            ContainerCmd::Create(a) => run::create(ctx, &a),
            ContainerCmd::Diff(a) => manage::diff(ctx, &a),
            ContainerCmd::Exec(a) => exec::exec(ctx, &a),
            ContainerCmd::Export(a) => manage::export(ctx, &a),
            ContainerCmd::Inspect(a) => manage::inspect(ctx, &a),
            ContainerCmd::Kill(a) => manage::kill(ctx, &a),
            ContainerCmd::Logs(a) => logs::logs(ctx, &a),
            ContainerCmd::Ls(a) => list::ps(ctx, &a),
            ContainerCmd::Pause(a) => manage::pause(ctx, &a),
            ContainerCmd::Port(a) => manage::port(ctx, &a),
            ContainerCmd::Prune(a) => manage::prune(ctx, &a),
            ContainerCmd::Rename(a) => manage::rename(ctx, &a),
            ContainerCmd::Restart(a) => manage::restart(ctx, &a),
            ContainerCmd::Rm(a) => manage::rm(ctx, &a),
            ContainerCmd::Run(a) => run::run(ctx, &a),
            ContainerCmd::Start(a) => run::start(ctx, &a),
            ContainerCmd::Stats(a) => stats::stats(ctx, &a),
            ContainerCmd::Stop(a) => manage::stop(ctx, &a),
            ContainerCmd::Top(a) => manage::top(ctx, &a),
            ContainerCmd::Unpause(a) => manage::unpause(ctx, &a),
            ContainerCmd::Update(a) => manage::update(ctx, &a),
            ContainerCmd::Wait(a) => manage::wait(ctx, &a),
        },
        Command::Volume { cmd } => match cmd {
            VolumeCmd::Create(a) => volume::create(ctx, &a),
            VolumeCmd::Inspect(a) => volume::inspect(ctx, &a),
            VolumeCmd::Ls(a) => volume::ls(ctx, &a),
            VolumeCmd::Prune(a) => volume::prune(ctx, &a),
            VolumeCmd::Rm(a) => volume::rm(ctx, &a),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn err(s: &str) -> Error {
        match Cli::try_parse_from(args(s)) {
            Ok(_) => panic!("`{s}` parsed"),
            Err(e) => usage_error(&e, &args(s)),
        }
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn paths() {
        assert_eq!(
            command_path(&args("berth -H unix:///x image list -a")),
            "image ls"
        );
        assert_eq!(command_path(&args("berth --host=tcp://x images")), "images");
        assert_eq!(command_path(&args("berth system df")), "system df");
        assert_eq!(command_path(&args("berth")), "");
        assert_eq!(command_path(&args("berth container list -a")), "container ls");
        assert_eq!(command_path(&args("berth container ps")), "container ls");
        assert_eq!(command_path(&args("berth container remove x")), "container rm");
        assert_eq!(command_path(&args("berth volume list")), "volume ls");
        assert_eq!(command_path(&args("berth run -it busybox sh")), "run");
    }

    #[test]
    fn docker_wording() {
        let e = err("berth images --x");
        assert_eq!(e.code(), 125);
        assert_eq!(
            e.to_string(),
            "unknown flag: --x\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'berth images --help' for more information"
        );
        let e = err("berth images -x");
        assert!(e.to_string().starts_with("unknown shorthand flag: 'x' in -x\n"));
        let e = err("berth foo");
        assert_eq!(e.code(), 1);
        assert_eq!(
            e.to_string(),
            "berth: unknown command: berth foo\n\nRun 'berth --help' for more information"
        );
        let e = err("berth images a b");
        assert_eq!(e.code(), 1);
        assert!(e
            .to_string()
            .starts_with("berth: 'berth images' requires at most 1 argument\n"));
        let e = err("berth tag a");
        assert!(e
            .to_string()
            .starts_with("berth: 'berth tag' requires 2 arguments\n"));
        let e = err("berth rmi");
        assert!(e
            .to_string()
            .ends_with("See 'berth rmi --help' for more information"));
        let e = err("berth images --format");
        assert_eq!(e.code(), 125);
        assert!(e.to_string().starts_with("flag needs an argument: --format\n"));
        let e = err("berth history -H=x busybox");
        assert_eq!(e.code(), 125);
        assert!(
            e.to_string().starts_with(
                "invalid argument \"x\" for \"-H, --human\" flag: strconv.ParseBool: parsing \"x\": invalid syntax\n"
            ),
            "{e}"
        );
        let e = err("berth run --cpus x busybox");
        assert_eq!(e.code(), 125);
        assert!(e.to_string().starts_with(
            "invalid argument \"x\" for \"--cpus\" flag: failed to parse x as a rational number\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
        ), "{e}");
        let e = err("berth container run -m 1x busybox");
        assert!(e
            .to_string()
            .starts_with("invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'\n\nUsage:  berth container run"), "{e}");
        let e = err("berth container ls extra");
        assert_eq!(e.code(), 1);
        assert!(
            e.to_string()
                .starts_with("berth: 'berth container ls' accepts no arguments"),
            "{e}"
        );
        let e = err("berth version extra");
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "berth: 'berth version' accepts no arguments"
        );
    }

    #[test]
    fn flags_parse() {
        let c = Cli::try_parse_from(args("berth -H unix:///s history --human=false -q busybox")).unwrap();
        match c.command {
            Some(Command::History(h)) => {
                assert!(!h.human);
                assert!(h.quiet);
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from(args("berth image import -c CMD=x --change ENV=y - busybox:1")).unwrap();
        match c.command {
            Some(Command::Image {
                cmd: ImageCmd::Import(i),
            }) => assert_eq!(i.change.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
