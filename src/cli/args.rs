//! The command line, as clap derive types. Only argument shapes live here; what they mean is
//! resolved in [`super::settings`] and acted on in [`crate::commands`].

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env_vars;
use crate::exit_status::ExitStatus;

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

impl Cli {
    /// Parses `args` (the program's name first). On a usage error, clap's message is printed
    /// and the process exits with [`ExitStatus::Failure`] (1), not clap's default 2: exit code
    /// 2 means "changes pending" for `plan --detailed-exitcode`, and a CI job must never read
    /// a typo as that. `--help` and `--version` print and exit 0. A command line asking for
    /// `--json` gets the usage error as its one document on stdout too.
    pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Self, ExitStatus> {
        let args = terraform_style_args(args);
        Cli::try_parse_from(&args).map_err(|err| {
            if err.use_stderr() && args.iter().any(|a| a == "--json") {
                usage_error_document(&err);
            }
            // Nothing else can be done when stdout or stderr is gone.
            let _ = err.print();
            if err.use_stderr() {
                ExitStatus::Failure
            } else {
                ExitStatus::Success
            }
        })
    }

    /// Parses `args` (the program's name first) as [`Cli::parse_args`] does, returning clap's
    /// error instead of exiting (for checking command lines written elsewhere, such as the CI
    /// example's).
    pub fn try_parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Self, clap::Error> {
        Cli::try_parse_from(terraform_style_args(args))
    }
}

/// Prints `{"format_version": 1, "error": {"code": "slugplan::usage", …}}` for clap's `err`.
fn usage_error_document(err: &clap::Error) {
    let text = err.render().to_string();
    let message = text.lines().next().unwrap_or_default();
    let document = serde_json::json!({
        "format_version": crate::commands::JSON_FORMAT_VERSION,
        "error": {
            "code": "slugplan::usage",
            "message": message.strip_prefix("error: ").unwrap_or(message),
            "causes": [],
            "help": "see `slugplan --help` and `slugplan <command> --help`",
            "file": null,
            "line": null,
            "column": null,
            "labels": [],
            "related": [],
        },
    });
    crate::cli::printer::Printer::new(crate::cli::printer::Verbosity::Quiet, false).json(&document);
}

/// Accepts Terraform's single-dash `-out FILE` / `-out=FILE`, which clap would otherwise read
/// as `-o ut` and write the plan to a file named `ut`.
fn terraform_style_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| match arg.to_str() {
            Some("-out") => "--out".into(),
            Some(text) if text.starts_with("-out=") => format!("-{text}").into(),
            _ => arg,
        })
        .collect()
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
    /// The longest one platform API call keeps retrying (429, 5xx, connection failures) before
    /// it fails, in seconds (default: `SLUGPLAN_RETRY_TIMEOUT`, else 60).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub retry_timeout: Option<f64>,
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
    /// Write a commented slug.toml for the project in this directory, from what it finds there.
    #[command(
        after_help = "Examples:\n  slugplan init\n  slugplan init --app shop --stack heroku-22\n  slugplan -f deploy/slug.toml init"
    )]
    Init(InitArgs),
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
    /// Show a plan saved by `slugplan plan -out FILE`: as text, JSON or Markdown.
    #[command(
        after_help = "Examples:\n  slugplan show release.plan\n  slugplan show release.plan --json\n  slugplan show release.plan --format markdown > plan.md"
    )]
    Show(ShowArgs),
    /// Build, upload and release what the plan says, in dependency order.
    #[command(
        after_help = "Examples:\n  slugplan apply\n  slugplan apply --auto-approve --target example-staging\n  slugplan apply release.plan"
    )]
    Apply(ApplyArgs),
    /// Release what one app runs to others now: no build, no upload, the plan's safety checks.
    #[command(
        after_help = "Examples:\n  slugplan promote example-staging --yes\n  slugplan promote example-staging --to example-prod-eu --to example-prod-us --json --yes"
    )]
    Promote(PromoteArgs),
    /// Re-release the slug of an earlier release (the platform's rollback): no build, no upload.
    #[command(
        after_help = "Examples:\n  slugplan rollback example-prod\n  slugplan rollback example-prod --to v3 --json"
    )]
    Rollback(RollbackArgs),
    /// List an app's releases: version, checksum, description, status, and whether slugplan made them.
    #[command(
        after_help = "Examples:\n  slugplan releases example-staging\n  slugplan releases example-prod --limit 5 --json"
    )]
    Releases(ReleasesArgs),
    /// Open an app's web URL in a browser (or print it, where no browser can be started).
    #[command(
        after_help = "Examples:\n  slugplan open example-staging\n  slugplan open example-staging --print\n  curl \"$(slugplan open example-staging --print)\""
    )]
    Open(OpenArgs),
    /// Delete an app slug.toml no longer declares, on the platform, after its name is typed back.
    #[command(
        after_help = "Examples:\n  slugplan destroy example-old\n  slugplan destroy example-old --confirm example-old --json"
    )]
    Destroy(DestroyArgs),
    /// Print the deploy's step graph as Graphviz DOT.
    #[command(
        after_help = "Examples:\n  slugplan graph | dot -Tsvg > deploy.svg\n  slugplan graph --json"
    )]
    Graph(GraphArgs),
    /// List what past applies did (the audit log).
    #[command(after_help = "Examples:\n  slugplan history\n  slugplan history --limit 1 --json")]
    History(HistoryArgs),
    /// Serve the local platform over HTTP as the Heroku Platform API v3.
    #[command(
        after_help = "Examples:\n  slugplan server\n  slugplan server --listen 127.0.0.1:0 --data /tmp/platform\n  SLUGPLAN_SERVER_TOKEN=secret slugplan server --listen 0.0.0.0:4747"
    )]
    Server(ServerArgs),
    /// Run the embedded platform's dynos in the foreground, without a server; Ctrl-C stops them.
    #[command(
        after_help = "Examples:\n  slugplan up\n  slugplan -f examples/node/slug.toml up --boot-timeout 10"
    )]
    Up(UpArgs),
    /// List an app's dynos: type, state, port, uptime, release.
    #[command(after_help = "Examples:\n  slugplan ps\n  slugplan ps example-staging --json")]
    Ps(PsArgs),
    /// Print an app's log (its dynos' output, the platform's and the router's lines).
    #[command(
        after_help = "Examples:\n  slugplan logs example-staging\n  slugplan logs example-staging --tail --dyno web.1 -n 20"
    )]
    Logs(LogsArgs),
    /// Show or prune the local cache (slugs, runtimes, compressed chunks, Go builds).
    #[command(
        subcommand,
        after_help = "Examples:\n  slugplan cache ls\n  slugplan cache prune --max-size 2G --older-than 7d"
    )]
    Cache(CacheCommand),
    /// Show slugplan's own state, or copy it between the local and the PostgreSQL backend.
    #[command(
        subcommand,
        after_help = "Examples:\n  slugplan state show\n  SLUGPLAN_STATE_URL=postgres://… slugplan state migrate --to postgres"
    )]
    State(StateCommand),
}

/// `slugplan state …`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state's backend, where it is (the password masked), its workspace, schema
    /// version, apply lock holder and record counts.
    #[command(after_help = "Examples:\n  slugplan state show\n  slugplan state show --json")]
    Show(StateShowArgs),
    /// Copy the state to the other backend in one transaction (the source is left as it is);
    /// then set `[state] backend` in slug.toml to match.
    #[command(
        after_help = "Examples:\n  SLUGPLAN_STATE_URL=postgres://deploy:…@db/slugplan slugplan state migrate --to postgres\n  slugplan state migrate --to local --replace"
    )]
    Migrate(StateMigrateArgs),
}

/// `slugplan state show`.
#[derive(Debug, Args)]
pub struct StateShowArgs {
    /// Print it as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan state migrate`.
#[derive(Debug, Args)]
pub struct StateMigrateArgs {
    /// The backend to copy the state to; it is read from the other one.
    #[arg(long, value_enum)]
    pub to: StateBackendArg,
    /// Overwrite state already at the destination (in the same transaction) instead of refusing.
    #[arg(long)]
    pub replace: bool,
    /// Print what was copied as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A state backend, as `--to` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateBackendArg {
    /// `.slugplan/state/` beside the manifest.
    Local,
    /// The PostgreSQL database of `SLUGPLAN_STATE_URL` (or `[state] url`).
    Postgres,
}

impl Command {
    /// Whether the command prints a JSON document (`--json`, `--format json`): then a failure
    /// prints one too, with the error in it.
    pub fn json(&self) -> bool {
        match self {
            Command::Init(a) => a.json,
            Command::Validate(a) => a.json,
            Command::Build(a) => a.json,
            Command::Lock(a) => a.json,
            Command::Fetch(a) => a.json,
            Command::Plan(a) => plan_format(a.json, a.format) == PlanFormat::Json,
            Command::Show(a) => plan_format(a.json, a.format) == PlanFormat::Json,
            Command::Apply(a) => a.json,
            Command::Promote(a) => a.json,
            Command::Rollback(a) => a.json,
            Command::Releases(a) => a.json,
            Command::Destroy(a) => a.json,
            Command::Graph(a) => a.json,
            Command::History(a) => a.json,
            Command::Cache(CacheCommand::Ls(a)) => a.json,
            Command::Cache(CacheCommand::Prune(a)) => a.json,
            Command::State(StateCommand::Show(a)) => a.json,
            Command::State(StateCommand::Migrate(a)) => a.json,
            Command::Ps(a) => a.json,
            Command::Schema
            | Command::Completions(_)
            | Command::Server(_)
            | Command::Up(_)
            | Command::Open(_)
            | Command::Logs(_) => false,
        }
    }
}

/// `slugplan cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cache's buckets and entries with their sizes and ages.
    #[command(after_help = "Examples:\n  slugplan cache ls\n  slugplan cache ls --json")]
    Ls(CacheLsArgs),
    /// Remove least recently used entries (refuses while another slugplan uses the cache).
    #[command(
        after_help = "Examples:\n  slugplan cache prune --max-size 500M\n  slugplan cache prune --older-than 12h\n  slugplan cache prune --max-size 2G --older-than 7d --json"
    )]
    Prune(CachePruneArgs),
}

/// `slugplan cache ls`.
#[derive(Debug, Args)]
pub struct CacheLsArgs {
    /// Print every entry as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan cache prune`.
#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// Remove least recently used entries until the cache takes at most SIZE, in decimal units
    /// (e.g. `500M`, `1.5G`, `2GB`; `2GiB` for 2 × 2³⁰ bytes; `0` empties it).
    #[arg(long, value_name = "SIZE", value_parser = crate::human::parse_size)]
    pub max_size: Option<u64>,
    /// Remove entries not used for longer than AGE (e.g. `12h`, `1.5d`, `1w`).
    #[arg(long, value_name = "AGE", value_parser = crate::human::parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
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
    /// Print the plan as a versioned JSON document (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan: `text`, `json`, or `markdown` (a pull request comment's body).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<PlanFormat>,
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// For a terminal, in Terraform's vocabulary.
    Text,
    /// The versioned plan document.
    Json,
    /// Markdown for a pull request comment: a summary, a table, each step in `<details>`.
    Markdown,
}

/// The format `--json` and `--format` ask for (text by default).
pub fn plan_format(json: bool, format: Option<PlanFormat>) -> PlanFormat {
    match (json, format) {
        (true, _) => PlanFormat::Json,
        (false, format) => format.unwrap_or(PlanFormat::Text),
    }
}

/// `slugplan show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The plan file `slugplan plan -out FILE` saved.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: PathBuf,
    /// Print the plan as a versioned JSON document (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// How to print the plan: `text`, `json`, or `markdown` (a pull request comment's body).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<PlanFormat>,
}

/// `slugplan graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Print the steps and their dependencies as a versioned JSON document instead of DOT.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app's name (default: the directory's name, made a valid Heroku app name).
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// The stack to build for.
    #[arg(long, value_name = "STACK", default_value = crate::manifest::DEFAULT_STACK)]
    pub stack: String,
    /// Print what was found and written as JSON.
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

/// `slugplan promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The app whose running release is promoted.
    #[arg(value_name = "SOURCE_APP")]
    pub source: String,
    /// A target app (repeatable; default: the manifest's apps with `promote_from` = SOURCE_APP).
    #[arg(long = "to", value_name = "APP")]
    pub to: Vec<String>,
    /// Overwrite targets running a release newer than the source's.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Print the promotion and its outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Promote without asking for confirmation.
    #[arg(short = 'y', long = "yes", visible_alias = "auto-approve")]
    pub yes: bool,
}

/// `slugplan rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The app to roll back.
    #[arg(value_name = "APP")]
    pub app: String,
    /// The release to go back to, as vN or N (default: the previous successful release).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The app to delete.
    #[arg(value_name = "APP")]
    pub app: String,
    /// The app's name again, instead of typing it at the prompt (for scripts, like Heroku's
    /// `--confirm`).
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,
    /// Print what was deleted as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan releases`.
#[derive(Debug, Args)]
pub struct ReleasesArgs {
    /// The app.
    #[arg(value_name = "APP")]
    pub app: String,
    /// How many releases to show, newest first.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub limit: usize,
    /// Print the releases as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The app.
    #[arg(value_name = "APP")]
    pub app: String,
    /// A path to open on the app's URL, e.g. `/admin`.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Print the URL on stdout and open nothing.
    #[arg(long)]
    pub print: bool,
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
    /// Threads compressing chunks (default: `SLUGPLAN_THREADS`, else the number of cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Print what changed in slug.lock as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Runtimes to fetch (default: all of the manifest's).
    #[arg(value_name = "RUNTIME")]
    pub runtimes: Vec<String>,
    /// Print every runtime fetched as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on; port 0 picks a free port (the real address is printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4747")]
    pub listen: SocketAddr,
    /// The local platform's data directory (default: the manifest's `[platform] data_dir`, else
    /// `.slugplan/platform` next to slug.toml).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The token clients must send (Bearer, or Basic with the token as password). Without one
    /// the API is open and only loopback addresses are allowed. Prefer the environment
    /// variable: a flag's value shows in `ps`.
    #[arg(long, value_name = "TOKEN", env = env_vars::SLUGPLAN_SERVER_TOKEN, hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds a slug's blob URL stays valid.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub blob_url_ttl: u64,
    /// The largest slug archive an upload may carry, e.g. `500M`, `1.5G` (default: Heroku's
    /// slug limit, 500 MiB); larger uploads are refused with `413`.
    #[arg(long, value_name = "SIZE", value_parser = crate::human::parse_size)]
    pub max_blob_size: Option<u64>,
    /// Requests in the rate-limit bucket (Heroku's holds 4,500).
    #[arg(long, value_name = "N", default_value_t = 4500)]
    pub rate_limit: u32,
    /// Requests added back to the rate-limit bucket each minute (Heroku: about 75).
    #[arg(long, value_name = "N", default_value_t = 75)]
    pub rate_limit_refill: u32,
    /// Append one JSON line per request (method, path, status) to FILE, for tests that count
    /// requests.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Keep new releases `pending` this many milliseconds before they succeed.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub release_delay_ms: u64,
    /// Fault injection: answer `429 rate_limit` to every Nth request.
    #[arg(long, value_name = "N", env = env_vars::SLUGPLAN_FAULT_429_EVERY)]
    pub fault_429_every: Option<u64>,
    /// Fault injection: answer `503` to every Nth request.
    #[arg(long, value_name = "N", env = env_vars::SLUGPLAN_FAULT_5XX_EVERY)]
    pub fault_5xx_every: Option<u64>,
    /// Fault injection: send half the body of every Nth response, then drop the connection.
    #[arg(long, value_name = "N", env = env_vars::SLUGPLAN_FAULT_DROP_BODY_EVERY)]
    pub fault_drop_body_every: Option<u64>,
    /// Fault injection: every Nth release fails (status `failed`; promotion targets fail too).
    #[arg(long, value_name = "N", env = env_vars::SLUGPLAN_FAULT_RELEASE_FAIL_EVERY)]
    pub fault_release_fail_every: Option<u64>,
    /// Fault injection: add this many milliseconds of latency to every request.
    #[arg(long, value_name = "MS", env = env_vars::SLUGPLAN_FAULT_LATENCY_MS, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// How the apps' dynos run.
    #[command(flatten)]
    pub dynos: DynoArgs,
}

/// How the local platform runs dynos (`slugplan server`, `slugplan up`).
#[derive(Debug, Clone, Args)]
pub struct DynoArgs {
    /// Seconds a web dyno has to accept connections on $PORT before it is crashed (Heroku's R10).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub boot_timeout: u64,
    /// Seconds a stopping dyno has between SIGTERM and SIGKILL (Heroku's R12).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub stop_timeout: u64,
    /// Run no dynos: serve the API only.
    #[arg(long)]
    pub no_dynos: bool,
}

/// `slugplan up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// How the apps' dynos run.
    #[command(flatten)]
    pub dynos: DynoArgs,
}

/// `slugplan ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The app (default: every app of the manifest).
    #[arg(value_name = "APP")]
    pub app: Option<String>,
    /// Print the dynos as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `slugplan logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The app.
    #[arg(value_name = "APP")]
    pub app: String,
    /// Keep printing new lines as they come.
    #[arg(long, short = 't')]
    pub tail: bool,
    /// Only this dyno (`web.1`) or process type (`web`, `router`).
    #[arg(long, short = 'd', value_name = "DYNO")]
    pub dyno: Option<String>,
    /// Only this source: `app` or `heroku`.
    #[arg(long, short = 's', value_name = "SOURCE")]
    pub source: Option<String>,
    /// How many of the newest lines to print first.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100)]
    pub num: usize,
}
