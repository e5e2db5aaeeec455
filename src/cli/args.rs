//! The command line, as clap derive types. Only argument shapes live here; what they mean is
//! resolved in [`super::settings`] and acted on in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env_vars;

/// Declarative deploys of Heroku-style slugs: plan, build, upload, release, promote.
#[derive(Debug, Parser)]
#[command(
    name = "slugplan",
    version,
    propagate_version = true,
    after_help = "Examples:\n  slugplan validate\n  slugplan build --json\n  slugplan -f deploy/slug.toml build web"
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The manifest to read.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        value_name = "PATH",
        default_value = "slug.toml"
    )]
    pub manifest: PathBuf,
    /// Say more (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Print nothing but errors and requested data.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// The cache directory (default `$XDG_CACHE_HOME/slugplan` or `~/.cache/slugplan`).
    #[arg(long, global = true, value_name = "DIR", env = env_vars::SLUGPLAN_CACHE_DIR)]
    pub cache_dir: Option<PathBuf>,
}

/// When to use colour on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check slug.toml: syntax, types, references, names and promotion chains.
    #[command(
        after_help = "Examples:\n  slugplan validate\n  slugplan validate -f deploy/slug.toml --json"
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of slug.toml.
    #[command(after_help = "Example:\n  slugplan schema > slug.schema.json")]
    Schema,
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  slugplan completions bash > /etc/bash_completion.d/slugplan"
    )]
    Completions(CompletionsArgs),
    /// Build slugs from local sources into the cache and print their checksums.
    #[command(after_help = "Examples:\n  slugplan build\n  slugplan build web --json")]
    Build(BuildArgs),
    /// Pin every runtime URL's SHA-256 in slug.lock (downloading what is not pinned yet).
    #[command(after_help = "Examples:\n  slugplan lock\n  slugplan lock --json")]
    Lock(LockArgs),
    /// Download, verify and unpack runtimes into the cache (default: all of the manifest's).
    #[command(after_help = "Examples:\n  slugplan fetch\n  slugplan fetch node --json")]
    Fetch(FetchArgs),
    /// Show what apply would change: builds, uploads, releases, promotions, and drift.
    #[command(
        after_help = "Examples:\n  slugplan plan\n  slugplan plan --detailed-exitcode   # 0 no changes, 1 error, 2 changes\n  slugplan plan -out release.plan && slugplan apply release.plan"
    )]
    Plan(PlanArgs),
    /// Build, upload and release what the plan says, in dependency order.
    #[command(
        after_help = "Examples:\n  slugplan apply\n  slugplan apply --auto-approve --target example-staging\n  slugplan apply release.plan"
    )]
    Apply(ApplyArgs),
    /// Print the deploy's step graph as Graphviz DOT.
    #[command(after_help = "Example:\n  slugplan graph | dot -Tsvg > deploy.svg")]
    Graph,
    /// List what past applies did (the audit log).
    #[command(after_help = "Examples:\n  slugplan history\n  slugplan history --limit 1 --json")]
    History(HistoryArgs),
}

/// Options shared by `plan` and `apply` for making a plan.
#[derive(Debug, Args)]
pub struct PlanningArgs {
    /// Only this app or step and what it depends on (repeatable), e.g. `example-staging`.
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Steps (builds, requests) running at once (default: the number of cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `slugplan plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Planning options.
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Don't build: slugs not in the cache have unknown checksums (a quick plan).
    #[arg(long)]
    pub no_build: bool,
    /// Save the plan to FILE for `slugplan apply FILE` (Terraform's `-out FILE` works too).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 1 on error, 2 when changes are pending.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as a versioned JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `slugplan plan -out FILE`: apply exactly it, without prompting.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<PathBuf>,
    /// Planning options (when no plan file is given).
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Apply without asking for confirmation.
    #[arg(short = 'y', long = "yes", visible_alias = "auto-approve")]
    pub yes: bool,
    /// Wait up to SECONDS for another apply to release the lock (default: fail at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
    /// Overwrite a promotion target whose release is newer than its source's.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Print the plan and the outcome as JSON (implies no prompt only with --yes).
    #[arg(long)]
    pub json: bool,
}

/// `slugplan history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many applies to show, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the log as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print the result as JSON on stdout, problems included (exit code 1 when invalid).
    #[arg(long)]
    pub json: bool,
}

/// `slugplan completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `slugplan build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Slugs to build (default: all of the manifest's).
    #[arg(value_name = "SLUG")]
    pub slugs: Vec<String>,
    /// Threads compressing chunks (default: the number of cores).
    #[arg(short = 'j', long, value_name = "N", env = env_vars::SLUGPLAN_THREADS)]
    pub threads: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Print progress events and the result as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Runtimes to fetch (default: all of the manifest's).
    #[arg(value_name = "RUNTIME")]
    pub runtimes: Vec<String>,
    /// Print progress events and the result as JSON lines.
    #[arg(long)]
    pub json: bool,
}
