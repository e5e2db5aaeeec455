//! The `slug.toml` document as Rust types.
//!
//! These types are the single source of the manifest's shape: serde reads them, schemars turns
//! them into `schema/slug.schema.json`, and the doc comments below become the schema's
//! descriptions. Unknown keys are errors everywhere (`deny_unknown_fields`), because a typo in a
//! deploy manifest silently ignored is a deploy that does something else than what was written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::names::{
    APP_NAME_PATTERN, CONFIG_VAR_PATTERN, PIPELINE_NAME_PATTERN, PROCESS_TYPE_PATTERN,
    SHA256_PATTERN, WORKSPACE_PATTERN,
};

/// The JSON Schema's `$id`: what a manifest's `#:schema` line names for editors (taplo) and
/// what `slugplan schema` prints.
pub const SCHEMA_URL: &str = "https://slugplan.dev/slug.schema.json";

/// A whole `slug.toml`: runtimes to fetch, slugs to build, apps and what each runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "slug.toml", extend("$id" = SCHEMA_URL))]
pub struct Manifest {
    /// Where the apps live: the embedded local platform (default) or the Heroku API.
    #[serde(default)]
    pub platform: PlatformConfig,
    /// Where slugplan keeps its own state (uploads, releases made, the audit log, the apply
    /// lock): beside the manifest (default) or in a PostgreSQL database a team shares.
    #[serde(default, skip_serializing_if = "StateConfig::is_default")]
    pub state: StateConfig,
    /// Runtimes (Node.js, Ruby, …) fetched and unpacked into slugs, by name.
    #[serde(default)]
    pub runtimes: BTreeMap<String, Runtime>,
    /// Slugs to build, by name.
    #[serde(default)]
    pub slugs: BTreeMap<String, SlugSpec>,
    /// Apps and what each runs, by Heroku app name (`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": APP_NAME_PATTERN }))]
    pub apps: BTreeMap<String, AppSpec>,
}

/// Which platform the apps live on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// `local` (default): an embedded platform stored on disk next to the manifest, no account
    /// and no network. `heroku`: the Heroku Platform API v3.
    #[serde(default)]
    pub kind: PlatformKind,
    /// Base URL of the Heroku API (default `https://api.heroku.com`; `SLUGPLAN_API_URL` overrides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Directory of the local platform's state, relative to the manifest
    /// (default `.slugplan/platform`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// The kinds of platform slugplan can deploy to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    /// The embedded platform on disk (SQLite + blobs), the default.
    #[default]
    Local,
    /// The Heroku Platform API v3.
    Heroku,
}

/// Where slugplan's state lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// `local` (default): SQLite and a file lock in `.slugplan/state/` beside the manifest, for
    /// one person. `postgres`: a PostgreSQL database shared by every CI runner and laptop, with
    /// an advisory apply lock per workspace.
    #[serde(default)]
    pub backend: StateBackend,
    /// The PostgreSQL URL, `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…`. It holds a
    /// password, so give it as `"${SLUGPLAN_STATE_URL}"` (or leave it out: the
    /// `SLUGPLAN_STATE_URL` variable is read either way and wins); a literal URL here must
    /// not hold a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// This manifest's share of the database (default: the name of the manifest's directory,
    /// plus the file stem when it is not `slug.toml`). Checkouts that share a workspace share
    /// uploads, releases, history and the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = WORKSPACE_PATTERN))]
    pub workspace: Option<String>,
}

impl StateConfig {
    fn is_default(&self) -> bool {
        *self == StateConfig::default()
    }
}

/// The backends slugplan's state can live in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// SQLite beside the manifest, the default.
    #[default]
    Local,
    /// A shared PostgreSQL database.
    Postgres,
}

/// A runtime archive (or local directory) unpacked into a slug under `./app/<dest>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Where to fetch the archive: `https://`, `http://`, `file://` or a relative `file:`
    /// (relative to the manifest's directory). A `.tar.gz`, `.tgz` or `.tar.xz` archive.
    /// Exactly one of `url` and `path` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?://|file:)"))]
    pub url: Option<String>,
    /// A local directory used as the runtime tree as it is (relative to the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The archive's SHA-256 (64 lowercase hex digits). When absent, `slug.lock` provides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SHA256_PATTERN))]
    pub sha256: Option<String>,
    /// Directory inside `./app` the runtime unpacks into, e.g. `node-v20.11.0-linux-x64`.
    /// Empty or absent: the root of `./app`. Relative, without `..`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// Leading path components to drop from every archive entry (1 for tarballs with a
    /// top-level folder, such as Node's), at most 32.
    #[serde(default)]
    #[schemars(range(max = MAX_STRIP_COMPONENTS))]
    pub strip_components: u32,
}

/// A slug to build: an app's files, the runtimes it contains, an optional Go build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlugSpec {
    /// The app source directory, relative to the manifest (default: the manifest's directory),
    /// inside the project: no absolute path, no `..` above the manifest's directory.
    #[serde(default = "default_source")]
    pub source: PathBuf,
    /// Glob patterns (relative to `source`) of files to include; default: everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Glob patterns of files to leave out, on top of the source's `.slugignore`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Names of `[runtimes.*]` entries this slug contains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<String>,
    /// A Go program cross-compiled into the slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<GoBuild>,
    /// The process types (a Procfile as a table): name → command, run from `/app`.
    /// Keys match `^[-\w]{1,128}$`. Give this or `procfile`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("propertyNames" = { "pattern": PROCESS_TYPE_PATTERN }))]
    pub process_types: Option<BTreeMap<String, String>>,
    /// A Procfile (relative to `source`) to read the process types from instead: `name: command`
    /// lines, blank lines and `#` comments skipped. With neither this nor `process_types`, the
    /// `Procfile` in `source` is read if there is one, as Heroku reads it. A regular file inside
    /// the project, at most 1 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procfile: Option<PathBuf>,
    /// The stack the slug is built for (default `heroku-24`): one slugplan knows.
    #[serde(default = "default_stack")]
    #[schemars(schema_with = "stack_schema")]
    pub stack: String,
}

/// A Go program built with `go build` and placed in the slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoBuild {
    /// The Go module directory (holding `go.mod`), relative to the slug's `source`.
    #[serde(default = "default_module")]
    pub module: PathBuf,
    /// The package to build, relative to the module (default `.`).
    #[serde(default = "default_package")]
    pub package: String,
    /// The binary's path inside `./app`, e.g. `bin/web` (relative, without `..`).
    pub output: String,
    /// Target OS (default `linux`).
    #[serde(default = "default_goos")]
    pub goos: String,
    /// Target architecture (default `amd64`).
    #[serde(default = "default_goarch")]
    pub goarch: String,
}

/// An app on the platform and what it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The `[slugs.*]` entry this app runs. Give this or `promote_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Run exactly the slug another app of this manifest runs now, without rebuilding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    /// With `promote_from`: who promotes. `manual` (default): `apply` releases the source only
    /// and the plan says when this app is behind it, `slugplan promote <source>` promotes, as on
    /// a Heroku pipeline. `auto`: every `apply` promotes what the source runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote: Option<PromoteMode>,
    /// The pipeline this app is coupled to (needs `stage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PIPELINE_NAME_PATTERN))]
    pub pipeline: Option<String>,
    /// The app's pipeline stage (needs `pipeline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Create the app when the platform does not have it (default: true on the local platform,
    /// false on Heroku).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
    /// The app's config vars, by name (`^\w+$`). slugplan manages the keys written here: it
    /// sets them, unsets a key it set before once it is no longer written, and leaves every
    /// other key of the app (an add-on's, one set by hand) alone. A config change that comes
    /// with a new slug is set before the slug is released. A promoted app keeps its own config:
    /// promotion copies the slug, not the config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": CONFIG_VAR_PATTERN }))]
    pub config: BTreeMap<String, ConfigVar>,
    /// How many dynos of each process type run, and of what size: `web = 2` or
    /// `web = { quantity = 2, size = "standard-1x" }`. Only the process types written here are
    /// scaled; each must be a process type of the slug the app runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": PROCESS_TYPE_PATTERN }))]
    pub formation: BTreeMap<String, FormationSpec>,
}

/// A config var's value: a string, or a table that says more about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigVar {
    /// The value. `${VAR}` takes it (or part of it) from the environment, `${VAR:-default}`
    /// with a default; a value taken from the environment is sensitive: never printed or
    /// stored in clear. `$$` is a literal `$`.
    Value(String),
    /// The value, with options.
    Table(ConfigVarTable),
}

/// A config var written as a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigVarTable {
    /// The value, as in the string form (`${VAR}` references included).
    pub value: String,
    /// Treat the value as a secret even when it is written here: plans and apply show
    /// `(sensitive)`, and saved plans, the state and the audit log never hold it.
    #[serde(default)]
    pub sensitive: bool,
}

impl ConfigVar {
    /// The value as written, `${VAR}` references unexpanded.
    pub fn template(&self) -> &str {
        match self {
            ConfigVar::Value(value) => value,
            ConfigVar::Table(table) => &table.value,
        }
    }

    /// Whether the manifest marks the value sensitive itself (`sensitive = true`).
    pub fn marked_sensitive(&self) -> bool {
        matches!(self, ConfigVar::Table(table) if table.sensitive)
    }

    /// The key path of the value's text below the var's own path (`value` for the table form).
    pub fn value_path(&self) -> Option<&'static str> {
        match self {
            ConfigVar::Value(_) => None,
            ConfigVar::Table(_) => Some("value"),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigVar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConfigVarVisitor;
        impl<'de> Visitor<'de> for ConfigVarVisitor {
            type Value = ConfigVar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, or a table like { value = \"…\", sensitive = true }")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<ConfigVar, E> {
                Ok(ConfigVar::Value(value.to_owned()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ConfigVar, M::Error> {
                ConfigVarTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ConfigVar::Table)
            }
        }
        deserializer.deserialize_any(ConfigVarVisitor)
    }
}

/// One process type's formation: a dyno count, or a table with a count and a size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum FormationSpec {
    /// How many dynos run; their size is left as the platform has it.
    Quantity(u32),
    /// A count and a size.
    Table(FormationTable),
}

/// A process type's formation written as a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormationTable {
    /// How many dynos run.
    pub quantity: u32,
    /// The dyno size, one of Heroku's for Cedar apps (the ones that run slugs): `eco`,
    /// `basic`, `standard-1x`, `standard-2x`, `performance-m`, … (any case). Absent: left as
    /// the platform has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

impl FormationSpec {
    /// The dyno count.
    pub fn quantity(&self) -> u32 {
        match self {
            FormationSpec::Quantity(quantity) => *quantity,
            FormationSpec::Table(table) => table.quantity,
        }
    }

    /// The dyno size, if given.
    pub fn size(&self) -> Option<&str> {
        match self {
            FormationSpec::Quantity(_) => None,
            FormationSpec::Table(table) => table.size.as_deref(),
        }
    }
}

impl<'de> Deserialize<'de> for FormationSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormationVisitor;
        impl<'de> Visitor<'de> for FormationVisitor {
            type Value = FormationSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a dyno count, or a table like { quantity = 2, size = \"standard-1x\" }",
                )
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<FormationSpec, E> {
                u32::try_from(value)
                    .map(FormationSpec::Quantity)
                    .map_err(|_| {
                        E::invalid_value(de::Unexpected::Signed(value), &"a dyno count (0 or more)")
                    })
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<FormationSpec, E> {
                u32::try_from(value)
                    .map(FormationSpec::Quantity)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &"a dyno count"))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FormationSpec, M::Error> {
                FormationTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FormationSpec::Table)
            }
        }
        deserializer.deserialize_any(FormationVisitor)
    }
}

/// Who promotes an app with `promote_from`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromoteMode {
    /// A person, with `slugplan promote <source>` (or `apply --target <app>`): `apply` only says
    /// the app is behind its source. The default: what passes staging is promoted by choice.
    #[default]
    Manual,
    /// `apply`: every apply promotes what the source runs (after releasing it).
    Auto,
}

/// Heroku pipeline stages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Test apps.
    Test,
    /// Review apps.
    Review,
    /// Development apps.
    Development,
    /// Staging apps.
    Staging,
    /// Production apps.
    Production,
}

impl Stage {
    /// The stage's name as the Heroku API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Test => "test",
            Stage::Review => "review",
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }
}

/// The stack a slug is built for when the manifest does not say.
pub const DEFAULT_STACK: &str = "heroku-24";

/// The most leading components a runtime's `strip_components` may drop: real archives have
/// one top-level folder, and no archive's names are this deep.
pub const MAX_STRIP_COMPONENTS: u32 = 32;

/// The stacks slugplan knows, from [`crate::stack`], as the schema's allowed values.
fn stack_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let stacks: Vec<&str> = crate::stack::known().collect();
    schemars::json_schema!({
        "type": "string",
        "enum": stacks,
        "default": DEFAULT_STACK,
    })
}

fn default_source() -> PathBuf {
    PathBuf::from(".")
}
fn default_stack() -> String {
    DEFAULT_STACK.to_owned()
}
fn default_module() -> PathBuf {
    PathBuf::from(".")
}
fn default_package() -> String {
    ".".to_owned()
}
fn default_goos() -> String {
    "linux".to_owned()
}
fn default_goarch() -> String {
    "amd64".to_owned()
}
