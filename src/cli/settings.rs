//! Resolves raw arguments and the environment into the settings commands run with.
//!
//! Precedence lives here and only here: a flag beats an environment variable, which beats the
//! manifest, which beats the default.
//!
//! The environment is read once, into an [`Env`], when the settings are resolved; from then on
//! it travels as values (a cache root, fetch options, the API's URL and token, and the snapshot
//! itself for the manifest's `${VAR}` references), so the library reads no environment of its
//! own. The one exception is a variable whose only job is to
//! default a single flag (`SLUGPLAN_CACHE_DIR` for `--cache-dir`, `slugplan server`'s token and
//! fault injection): `args` binds it to its flag, clap reads it with the arguments, and
//! `--help` shows it.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cache::CacheError;
use crate::cli::args::{ColorChoice, GlobalArgs};
use crate::cli::printer::{Printer, Verbosity};
use crate::env_vars;
pub use crate::environment::Env;
use crate::manifest::{LoadedManifest, PlatformConfig, StateBackend, interpolate};
use crate::ops::prepare::PrepareOptions;
use crate::own_files::OwnFiles;
use crate::platform::heroku::{self, RetryPolicy, Token};
use crate::runtime::FetchOptions;
use crate::state::{DatabaseUrl, Location, StateError, default_workspace};
use crate::workspace::ConnectOptions;

/// What every command runs with.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// The manifest's path.
    pub manifest: PathBuf,
    /// Where output goes and how much of it.
    pub printer: Printer,
    /// `-v` given this many times.
    pub verbose: u8,
    /// `RUST_LOG`, which overrides `-v` when it parses as a filter.
    pub log_filter: Option<String>,
    /// Download retries and extraction caps.
    pub fetch: FetchOptions,
    /// How platform API calls are retried.
    pub retry: RetryPolicy,
    /// The cache root; None when no flag or variable says where it could be.
    cache_root: Option<PathBuf>,
    /// Compression threads of the process from `SLUGPLAN_THREADS` (None: unset or not a
    /// number).
    threads: Option<usize>,
    /// `SLUGPLAN_API_URL`.
    api_url: Option<String>,
    /// `HEROKU_API_KEY`, as set (blank counts as unset when the token is looked for).
    api_key: Option<Token>,
    /// `HOME`, whose `.netrc` may hold the API token.
    home: Option<PathBuf>,
    /// The whole environment, for the manifest's `${VAR}` references.
    env: Env,
    /// The files this process writes from the start: stdout and stderr, when redirected to
    /// files (a command adds the ones it names, such as `plan -out FILE`).
    pub written: OwnFiles,
    /// `SLUGPLAN_STATE_URL`, when set to something (it holds a password: never shown).
    state_url: Option<Redacted>,
    /// The CI job this process runs in, from the CI's own variables.
    pub ci_job: Option<String>,
}

/// A setting whose value is a secret: `Debug` shows that it is set, never what it is.
#[derive(Clone)]
struct Redacted(String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl GlobalSettings {
    /// Resolves the global flags and the environment.
    pub fn resolve(args: &GlobalArgs, env: &Env) -> Self {
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, _) => Verbosity::Verbose,
        };
        GlobalSettings {
            manifest: args.manifest.clone(),
            printer: Printer::new(verbosity, resolve_color(args.color, env)),
            verbose: args.verbose,
            log_filter: env.text(env_vars::RUST_LOG).map(str::to_owned),
            fetch: fetch_options(env),
            retry: retry_policy(args.retry_timeout, env),
            cache_root: cache_root(args.cache_dir.as_deref(), env),
            threads: env.number(env_vars::SLUGPLAN_THREADS),
            api_url: env
                .text(env_vars::SLUGPLAN_API_URL)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            api_key: env.text(env_vars::HEROKU_API_KEY).map(Token::new),
            home: env.os(env_vars::HOME).map(PathBuf::from),
            env: env.clone(),
            written: OwnFiles::stdio(),
            state_url: env
                .text(env_vars::SLUGPLAN_STATE_URL)
                .filter(|v| !v.trim().is_empty())
                .map(|v| Redacted(v.to_owned())),
            ci_job: ci_job(env),
        }
    }

    /// Where the manifest's state lives with `backend`: `state_dir` for the local one; for
    /// PostgreSQL, the URL from `SLUGPLAN_STATE_URL`, else `[state] url` with its `${VAR}`
    /// references expanded, and the workspace
    /// `[state] workspace` names, else the one derived from the manifest's path.
    pub fn state_location(
        &self,
        loaded: &LoadedManifest,
        state_dir: PathBuf,
        backend: StateBackend,
    ) -> Result<Location, StateError> {
        let config = &loaded.manifest.state;
        match backend {
            StateBackend::Local => Ok(Location::Local { dir: state_dir }),
            StateBackend::Postgres => {
                let text = match (&self.state_url, &config.url) {
                    (Some(url), _) => url.0.clone(),
                    // `url = "${SLUGPLAN_STATE_URL}"` (or any `${VAR}`), expanded here, at
                    // the edge, as config values are; an unset variable names the key.
                    (None, Some(template)) => {
                        interpolate::expand_at(
                            &loaded.locator(),
                            &["state", "url"],
                            template,
                            &self.env,
                        )
                        .map_err(StateError::UrlTemplate)?
                        .value
                    }
                    (None, None) => return Err(StateError::NoUrl),
                };
                Ok(Location::Postgres {
                    url: DatabaseUrl::parse(&text)?,
                    workspace: config
                        .workspace
                        .clone()
                        .unwrap_or_else(|| default_workspace(&loaded.path)),
                })
            }
        }
    }

    /// The environment the settings were resolved from, read once at start-up: what the
    /// manifest's `${VAR}` references expand against.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The cache root: `--cache-dir` (or `SLUGPLAN_CACHE_DIR`), then `$XDG_CACHE_HOME/slugplan`,
    /// then `~/.cache/slugplan`.
    pub fn cache_root(&self) -> Result<&Path, CacheError> {
        self.cache_root.as_deref().ok_or(CacheError::NoLocation)
    }

    /// Steps at once: `-j N`, else the number of cores.
    pub fn jobs(&self, flag: Option<usize>) -> usize {
        flag.filter(|&n| n > 0).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// Compression threads of the process, shared by the slugs built at once (see
    /// [`crate::slug::pool`]): `flag` (`build -j N`), then `SLUGPLAN_THREADS`, then 0 (one
    /// per core).
    pub fn threads(&self, flag: Option<usize>) -> usize {
        flag.or(self.threads).unwrap_or(0)
    }

    /// How plans prepare slugs: building unless `no_build`, `jobs` at a time.
    pub fn prepare_options(&self, build: bool, jobs: usize) -> PrepareOptions {
        PrepareOptions {
            build,
            jobs,
            threads: self.threads(None),
            fetch: self.fetch.clone(),
            written: std::sync::Arc::new(self.written.clone()),
        }
    }

    /// How to reach the manifest's `platform`: the API URL is `SLUGPLAN_API_URL`, else the
    /// manifest's `api_url`, else Heroku's; the token is `HEROKU_API_KEY`, else the one in
    /// `$HOME/.netrc`.
    pub fn connect_options(&self, platform: &PlatformConfig) -> ConnectOptions {
        let api_url = self
            .api_url
            .as_deref()
            .or(platform.api_url.as_deref())
            .unwrap_or(heroku::DEFAULT_API_URL);
        ConnectOptions {
            api_url: api_url.to_owned(),
            api_key: self.api_key.clone(),
            home: self.home.clone(),
            retry: self.retry.clone(),
            ..ConnectOptions::default()
        }
    }
}

/// `--color`, then `NO_COLOR`, then `FORCE_COLOR`, then whether stderr is a terminal.
pub fn resolve_color(choice: ColorChoice, env: &Env) -> bool {
    let set = |name: &str| env.non_empty(name).is_some();
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set(env_vars::NO_COLOR) => false,
        ColorChoice::Auto if set(env_vars::FORCE_COLOR) => true,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    }
}

/// `flag` (which clap fills from `SLUGPLAN_CACHE_DIR` too), then `$XDG_CACHE_HOME/slugplan`,
/// then `$HOME/.cache/slugplan`.
fn cache_root(flag: Option<&Path>, env: &Env) -> Option<PathBuf> {
    if let Some(dir) = flag {
        Some(dir.to_owned())
    } else if let Some(dir) = env.non_empty(env_vars::XDG_CACHE_HOME) {
        Some(PathBuf::from(dir).join("slugplan"))
    } else {
        let home = env.non_empty(env_vars::HOME)?;
        Some(PathBuf::from(home).join(".cache").join("slugplan"))
    }
}

/// The API retry policy: the total time from `flag` (`--retry-timeout`), else
/// `SLUGPLAN_RETRY_TIMEOUT`, else the default; the first backoff from `SLUGPLAN_RETRY_BACKOFF_MS`.
/// Seconds that are negative or not a number are ignored.
fn retry_policy(flag: Option<f64>, env: &Env) -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    let seconds = flag.or_else(|| env.number(env_vars::SLUGPLAN_RETRY_TIMEOUT));
    if let Some(timeout) = seconds.and_then(|s| std::time::Duration::try_from_secs_f64(s).ok()) {
        policy = policy.with_timeout(timeout);
    }
    if let Some(ms) = env.number(env_vars::SLUGPLAN_RETRY_BACKOFF_MS) {
        policy.initial_backoff = std::time::Duration::from_millis(ms);
        policy.max_backoff = policy.max_backoff.max(policy.initial_backoff);
    }
    policy
}

/// The CI job from the first CI's variables that are set: GitHub Actions (the run's URL),
/// GitLab (the job's URL, else its id), Jenkins, Buildkite, CircleCI (the build's URL).
fn ci_job(env: &Env) -> Option<String> {
    let get = |name: &str| env.text(name).map(str::trim).filter(|v| !v.is_empty());
    if let Some(run) = get(env_vars::GITHUB_RUN_ID) {
        return Some(
            match (
                get(env_vars::GITHUB_SERVER_URL),
                get(env_vars::GITHUB_REPOSITORY),
            ) {
                (Some(server), Some(repo)) => format!("{server}/{repo}/actions/runs/{run}"),
                _ => format!("GitHub Actions run {run}"),
            },
        );
    }
    get(env_vars::CI_JOB_URL)
        .map(str::to_owned)
        .or_else(|| get(env_vars::CI_JOB_ID).map(|id| format!("GitLab job {id}")))
        .or_else(|| {
            [
                env_vars::BUILD_URL,
                env_vars::BUILDKITE_BUILD_URL,
                env_vars::CIRCLE_BUILD_URL,
            ]
            .into_iter()
            .find_map(get)
            .map(str::to_owned)
        })
}

/// Download retries, time limits (seconds, fractions allowed), size and extraction caps: the
/// defaults, overridden by `SLUGPLAN_FETCH_*` and `SLUGPLAN_MAX_*` variables (ignored when they
/// do not parse as numbers). An idle timeout shorter than the connect timeout shortens that too:
/// a connection that takes longer to open than an answer may stand still is a stalled host.
fn fetch_options(env: &Env) -> FetchOptions {
    let mut options = FetchOptions::default();
    if let Some(retries) = env.number::<u64>(env_vars::SLUGPLAN_FETCH_RETRIES) {
        options.retries = u32::try_from(retries).unwrap_or(u32::MAX);
    }
    if let Some(ms) = env.number(env_vars::SLUGPLAN_FETCH_BACKOFF_MS) {
        options.base_delay = std::time::Duration::from_millis(ms);
        options.max_delay = options.max_delay.max(options.base_delay);
    }
    let seconds = |name| {
        env.number::<f64>(name)
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
    };
    if let Some(timeout) = seconds(env_vars::SLUGPLAN_FETCH_TIMEOUT) {
        options.timeout = timeout;
    }
    if let Some(idle) = seconds(env_vars::SLUGPLAN_FETCH_IDLE_TIMEOUT) {
        options.idle_timeout = idle;
        options.connect_timeout = options.connect_timeout.min(idle);
    }
    if let Some(bytes) = env.number(env_vars::SLUGPLAN_MAX_DOWNLOAD_BYTES) {
        options.max_download_bytes = bytes;
    }
    if let Some(bytes) = env.number(env_vars::SLUGPLAN_MAX_UNPACKED_BYTES) {
        options.limits.max_unpacked_bytes = bytes;
    }
    if let Some(ratio) = env.number(env_vars::SLUGPLAN_MAX_COMPRESSION_RATIO) {
        options.limits.max_ratio = ratio;
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The global flags as clap leaves them with none given. Built by hand, not parsed, so
    /// that the process's own `SLUGPLAN_CACHE_DIR` (clap reads it) cannot leak in.
    fn no_flags() -> GlobalArgs {
        GlobalArgs {
            manifest: PathBuf::from("slug.toml"),
            verbose: 0,
            quiet: false,
            color: ColorChoice::Auto,
            cache_dir: None,
            retry_timeout: None,
        }
    }

    /// Settings from `args` and `env` alone, whatever the process's environment is.
    fn resolve(args: &GlobalArgs, env: &[(&str, &str)]) -> GlobalSettings {
        GlobalSettings::resolve(args, &Env::from_vars(env.iter().copied()))
    }

    fn heroku_at(api_url: Option<&str>) -> PlatformConfig {
        PlatformConfig {
            kind: crate::manifest::PlatformKind::Heroku,
            api_url: api_url.map(str::to_owned),
            data_dir: None,
        }
    }

    #[test]
    fn api_url_env_beats_manifest_beats_default() {
        let url = |env: &[(&str, &str)], platform: &PlatformConfig| {
            resolve(&no_flags(), env).connect_options(platform).api_url
        };
        let env = [(env_vars::SLUGPLAN_API_URL, "http://127.0.0.1:1/")];
        let manifest = heroku_at(Some("http://127.0.0.1:2/"));
        assert_eq!(url(&env, &manifest), "http://127.0.0.1:1/");
        assert_eq!(url(&[], &manifest), "http://127.0.0.1:2/");
        assert_eq!(url(&[], &heroku_at(None)), heroku::DEFAULT_API_URL);
        let empty = [(env_vars::SLUGPLAN_API_URL, "")];
        assert_eq!(
            url(&empty, &manifest),
            "http://127.0.0.1:2/",
            "empty is unset"
        );
    }

    #[test]
    fn cache_dir_flag_beats_xdg_beats_home() {
        let root = |args: &GlobalArgs, env: &[(&str, &str)]| {
            resolve(args, env).cache_root().map(Path::to_owned).ok()
        };
        let env = [
            (env_vars::XDG_CACHE_HOME, "/xdg"),
            (env_vars::HOME, "/home/me"),
        ];
        let flag = GlobalArgs {
            cache_dir: Some(PathBuf::from("/explicit")),
            ..no_flags()
        };
        assert_eq!(root(&flag, &env), Some(PathBuf::from("/explicit")));
        assert_eq!(
            root(&no_flags(), &env),
            Some(PathBuf::from("/xdg/slugplan"))
        );
        let no_xdg = [(env_vars::XDG_CACHE_HOME, ""), (env_vars::HOME, "/home/me")];
        assert_eq!(
            root(&no_flags(), &no_xdg),
            Some(PathBuf::from("/home/me/.cache/slugplan"))
        );
        assert!(matches!(
            resolve(&no_flags(), &[]).cache_root(),
            Err(CacheError::NoLocation)
        ));
    }

    #[test]
    fn threads_flag_beats_env_beats_default() {
        let env = [(env_vars::SLUGPLAN_THREADS, " 3 ")];
        let settings = resolve(&no_flags(), &env);
        assert_eq!(settings.threads(Some(5)), 5);
        assert_eq!(settings.threads(None), 3);
        assert_eq!(settings.prepare_options(true, 1).threads, 3);
        assert_eq!(resolve(&no_flags(), &[]).threads(None), 0);
        let junk = [(env_vars::SLUGPLAN_THREADS, "many")];
        assert_eq!(resolve(&no_flags(), &junk).threads(None), 0, "ignored");
    }

    #[test]
    fn download_bounds_come_from_the_environment() {
        let defaults = resolve(&no_flags(), &[]).fetch;
        assert_eq!(defaults.max_download_bytes, 2 << 30);
        assert_eq!(defaults.connect_timeout, Duration::from_secs(10));
        let env = [
            (env_vars::SLUGPLAN_MAX_DOWNLOAD_BYTES, "1000"),
            (env_vars::SLUGPLAN_FETCH_TIMEOUT, "1.5"),
            (env_vars::SLUGPLAN_FETCH_IDLE_TIMEOUT, "0.25"),
        ];
        let fetch = resolve(&no_flags(), &env).fetch;
        assert_eq!(fetch.max_download_bytes, 1000);
        assert_eq!(fetch.timeout, Duration::from_millis(1500));
        assert_eq!(fetch.idle_timeout, Duration::from_millis(250));
        assert_eq!(
            fetch.connect_timeout,
            Duration::from_millis(250),
            "a connection may not take longer than an answer may stand still"
        );
        let junk = [(env_vars::SLUGPLAN_FETCH_TIMEOUT, "-1")];
        assert_eq!(resolve(&no_flags(), &junk).fetch.timeout, defaults.timeout);
    }

    #[test]
    fn colour_flag_beats_no_color_beats_force_color() {
        let with = |color| GlobalArgs {
            color,
            ..no_flags()
        };
        let both = [(env_vars::NO_COLOR, "1"), (env_vars::FORCE_COLOR, "1")];
        let force = [(env_vars::FORCE_COLOR, "1")];
        assert!(resolve(&with(ColorChoice::Always), &both).printer.color());
        assert!(!resolve(&with(ColorChoice::Never), &force).printer.color());
        assert!(!resolve(&no_flags(), &both).printer.color());
        assert!(resolve(&no_flags(), &force).printer.color());
    }

    #[test]
    fn fetch_variables_override_the_defaults_and_junk_is_ignored() {
        let env = [
            (env_vars::SLUGPLAN_FETCH_RETRIES, "1"),
            (env_vars::SLUGPLAN_FETCH_BACKOFF_MS, "20000"),
            (env_vars::SLUGPLAN_MAX_UNPACKED_BYTES, "junk"),
        ];
        let fetch = resolve(&no_flags(), &env).fetch;
        assert_eq!(fetch.retries, 1);
        assert_eq!(fetch.base_delay, std::time::Duration::from_secs(20));
        assert_eq!(
            fetch.max_delay, fetch.base_delay,
            "the cap grows to the base"
        );
        let defaults = FetchOptions::default().limits;
        assert_eq!(fetch.limits.max_unpacked_bytes, defaults.max_unpacked_bytes);
    }

    #[test]
    fn retry_timeout_flag_beats_env_beats_default() {
        use std::time::Duration;
        let env = [
            (env_vars::SLUGPLAN_RETRY_TIMEOUT, "2.5"),
            (env_vars::SLUGPLAN_RETRY_BACKOFF_MS, "20"),
        ];
        let flag = GlobalArgs {
            retry_timeout: Some(7.0),
            ..no_flags()
        };
        let retry = |args: &GlobalArgs, env: &[(&str, &str)]| {
            resolve(args, env).connect_options(&heroku_at(None)).retry
        };
        assert_eq!(retry(&flag, &env).max_elapsed, Duration::from_secs(7));
        let from_env = retry(&no_flags(), &env);
        assert_eq!(from_env.max_elapsed, Duration::from_millis(2500));
        assert_eq!(from_env.initial_backoff, Duration::from_millis(20));
        assert_eq!(retry(&no_flags(), &[]), RetryPolicy::default());
        let junk = [(env_vars::SLUGPLAN_RETRY_TIMEOUT, "-1")];
        assert_eq!(retry(&no_flags(), &junk), RetryPolicy::default(), "ignored");
    }

    #[test]
    fn the_ci_job_comes_from_the_first_ci_whose_variables_are_set() {
        let job = |env: &[(&str, &str)]| resolve(&no_flags(), env).ci_job;
        assert_eq!(job(&[]), None);
        assert_eq!(
            job(&[
                (env_vars::GITHUB_RUN_ID, "42"),
                (env_vars::GITHUB_SERVER_URL, "https://github.com"),
                (env_vars::GITHUB_REPOSITORY, "team/shop"),
                (env_vars::BUILD_URL, "https://jenkins/job/1/"),
            ])
            .as_deref(),
            Some("https://github.com/team/shop/actions/runs/42")
        );
        assert_eq!(
            job(&[(env_vars::GITHUB_RUN_ID, "42")]).as_deref(),
            Some("GitHub Actions run 42")
        );
        assert_eq!(
            job(&[(env_vars::CI_JOB_ID, "7")]).as_deref(),
            Some("GitLab job 7")
        );
        assert_eq!(
            job(&[(env_vars::BUILD_URL, " https://jenkins/job/1/ ")]).as_deref(),
            Some("https://jenkins/job/1/")
        );
    }

    /// The manifest `shop/slug.toml` in `dir`, with `[state] url = "{url}"` (PostgreSQL).
    fn postgres_manifest(dir: &Path, url: &str) -> LoadedManifest {
        let path = dir.join("shop").join("slug.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!("[state]\nbackend = \"postgres\"\nurl = \"{url}\"\n"),
        )
        .unwrap();
        crate::manifest::load(&path).unwrap()
    }

    /// Where `loaded`'s PostgreSQL state is, in environment `env`.
    fn postgres_location(
        loaded: &LoadedManifest,
        env: &[(&str, &str)],
    ) -> Result<Location, StateError> {
        resolve(&no_flags(), env).state_location(
            loaded,
            PathBuf::from("state"),
            StateBackend::Postgres,
        )
    }

    #[test]
    fn the_state_url_env_beats_the_manifest_and_never_shows() {
        const SECRET: &str = "env-Marker-pw";
        let dir = tempfile::tempdir().unwrap();
        let loaded = postgres_manifest(dir.path(), "postgres://ci@manifest-host/db");
        let url = format!("postgres://ci:{SECRET}@env-host/db");
        let env = [(env_vars::SLUGPLAN_STATE_URL, url.as_str())];
        let settings = resolve(&no_flags(), &env);
        let found = postgres_location(&loaded, &env).unwrap();
        let shown = format!("{found} {found:?} {settings:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert_eq!(
            found.to_string(),
            "the PostgreSQL state postgres://ci:****@env-host/db (workspace shop)"
        );
        assert_eq!(
            postgres_location(&loaded, &[]).unwrap().to_string(),
            "the PostgreSQL state postgres://ci@manifest-host/db (workspace shop)"
        );
        let local = resolve(&no_flags(), &env)
            .state_location(&loaded, PathBuf::from("state"), StateBackend::Local)
            .unwrap();
        assert_eq!(local.backend(), "local");

        // `url = "${VAR}"` expands at the edge; an unset variable names the key.
        let loaded = postgres_manifest(dir.path(), "${TEAM_DB}");
        let expanded = postgres_location(&loaded, &[("TEAM_DB", url.as_str())]).unwrap();
        assert_eq!(
            expanded.to_string(),
            "the PostgreSQL state postgres://ci:****@env-host/db (workspace shop)"
        );
        let unset = postgres_location(&loaded, &[]).unwrap_err();
        assert_eq!(
            unset.to_string(),
            "`state.url` takes ${TEAM_DB} from the environment, and TEAM_DB is not set"
        );
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        const SECRET: &str = "s3cr3t-from-the-environment";
        let env = Env::from_vars([(env_vars::HEROKU_API_KEY, SECRET)]);
        let settings = GlobalSettings::resolve(&no_flags(), &env);
        let options = settings.connect_options(&heroku_at(None));
        let shown = format!("{env:?} {settings:?} {options:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains(env_vars::HEROKU_API_KEY), "{shown}");
    }
}
