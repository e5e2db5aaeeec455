//! Every environment variable slugplan reads, as a documented constant.
//!
//! Keeping the names in one place makes them greppable. They are read at the edge only, once:
//! `cli::settings` reads them into an `Env` and resolves their precedence (flag, then
//! environment, then manifest, then default), and the library gets the resolved values. A
//! variable that only defaults one flag (`SLUGPLAN_CACHE_DIR`, `SLUGPLAN_SERVER_TOKEN`,
//! `SLUGPLAN_FAULT_*`) is bound to that flag in `cli::args` instead, so clap reads it with the
//! arguments and `--help` shows it.

/// Overrides the cache directory (the `--cache-dir` flag wins over it).
pub const SLUGPLAN_CACHE_DIR: &str = "SLUGPLAN_CACHE_DIR";
/// Overrides the Heroku API base URL (the manifest's `[platform] api_url` loses to it).
pub const SLUGPLAN_API_URL: &str = "SLUGPLAN_API_URL";
/// Number of threads used to compress slug chunks (default: the number of cores; `build -j N`
/// wins over it; ignored when it is not a number).
pub const SLUGPLAN_THREADS: &str = "SLUGPLAN_THREADS";
/// The Heroku API token; never printed. Read by the settings and handed to the Heroku client.
pub const HEROKU_API_KEY: &str = "HEROKU_API_KEY";
/// The `tracing` filter for `-v` output (it overrides `-v`/`-vv`), e.g. `slugplan=trace`.
pub const RUST_LOG: &str = "RUST_LOG";
/// The XDG cache root; `slugplan` lives in `$XDG_CACHE_HOME/slugplan`.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// Disables colour when set to a non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Forces colour even when stderr is not a terminal.
pub const FORCE_COLOR: &str = "FORCE_COLOR";
/// The browser `slugplan open` starts (a `:`-separated list of commands; `%s` stands for the
/// URL, which is appended when absent), as `xdg-open` and Python's `webbrowser` read it.
pub const BROWSER: &str = "BROWSER";
/// Set when a graphical (X11) session can show a browser; `slugplan open` starts `xdg-open`
/// only then (or under Wayland), never a terminal browser over the user's terminal.
pub const DISPLAY: &str = "DISPLAY";
/// Set in a Wayland session (see [`DISPLAY`]).
pub const WAYLAND_DISPLAY: &str = "WAYLAND_DISPLAY";
/// The home directory, used for `~/.cache` and `~/.netrc`.
pub const HOME: &str = "HOME";
/// Retries after a failed runtime download (connection errors, truncated bodies, 5xx).
pub const SLUGPLAN_FETCH_RETRIES: &str = "SLUGPLAN_FETCH_RETRIES";
/// The delay before the first download retry, in milliseconds (doubles per retry, capped).
pub const SLUGPLAN_FETCH_BACKOFF_MS: &str = "SLUGPLAN_FETCH_BACKOFF_MS";
/// The longest one runtime's download may take, every retry included, in seconds (default 600).
pub const SLUGPLAN_FETCH_TIMEOUT: &str = "SLUGPLAN_FETCH_TIMEOUT";
/// How long a download's answer may stand still (no header, no byte) before the attempt is
/// abandoned and retried, in seconds (default 30).
pub const SLUGPLAN_FETCH_IDLE_TIMEOUT: &str = "SLUGPLAN_FETCH_IDLE_TIMEOUT";
/// The most bytes a runtime archive may have (default 2 GiB), checked against its
/// `Content-Length` and against the bytes as they arrive.
pub const SLUGPLAN_MAX_DOWNLOAD_BYTES: &str = "SLUGPLAN_MAX_DOWNLOAD_BYTES";
/// The longest one platform API call keeps retrying, in seconds (`--retry-timeout` wins over
/// it; ignored when it is not a number).
pub const SLUGPLAN_RETRY_TIMEOUT: &str = "SLUGPLAN_RETRY_TIMEOUT";
/// The wait before the first retry of a platform API call, in milliseconds (doubles per retry,
/// capped); for impatient CI jobs and tests.
pub const SLUGPLAN_RETRY_BACKOFF_MS: &str = "SLUGPLAN_RETRY_BACKOFF_MS";
/// The most bytes a runtime archive may unpack to (a decompression-bomb cap).
pub const SLUGPLAN_MAX_UNPACKED_BYTES: &str = "SLUGPLAN_MAX_UNPACKED_BYTES";
/// The highest compression ratio a runtime archive may have (a decompression-bomb cap).
pub const SLUGPLAN_MAX_COMPRESSION_RATIO: &str = "SLUGPLAN_MAX_COMPRESSION_RATIO";
/// The token `slugplan server` requires from clients (the `--token` flag wins over it).
pub const SLUGPLAN_SERVER_TOKEN: &str = "SLUGPLAN_SERVER_TOKEN";
/// `slugplan server`: answer `429` to every Nth request (fault injection).
pub const SLUGPLAN_FAULT_429_EVERY: &str = "SLUGPLAN_FAULT_429_EVERY";
/// `slugplan server`: answer `503` to every Nth request (fault injection).
pub const SLUGPLAN_FAULT_5XX_EVERY: &str = "SLUGPLAN_FAULT_5XX_EVERY";
/// `slugplan server`: drop the connection mid-body on every Nth response (fault injection).
pub const SLUGPLAN_FAULT_DROP_BODY_EVERY: &str = "SLUGPLAN_FAULT_DROP_BODY_EVERY";
/// `slugplan server`: milliseconds of latency added to every request (fault injection).
pub const SLUGPLAN_FAULT_LATENCY_MS: &str = "SLUGPLAN_FAULT_LATENCY_MS";
/// `slugplan server`: every Nth release fails (fault injection).
pub const SLUGPLAN_FAULT_RELEASE_FAIL_EVERY: &str = "SLUGPLAN_FAULT_RELEASE_FAIL_EVERY";
/// The PostgreSQL state's URL (`postgres://USER:PASSWORD@HOST/DB?sslmode=…`); never printed.
/// It wins over `[state] url` in slug.toml.
pub const SLUGPLAN_STATE_URL: &str = "SLUGPLAN_STATE_URL";

// The CI job an apply runs in, recorded with the apply lock's holder so that a waiting runner
// can say which job is in the way. The first one set wins, in this order.

/// GitHub Actions: the workflow run's id (with the two below, the run's URL).
pub const GITHUB_RUN_ID: &str = "GITHUB_RUN_ID";
/// GitHub Actions: the server's URL, e.g. `https://github.com`.
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
/// GitHub Actions: `owner/repository`.
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// GitLab CI: the job's URL.
pub const CI_JOB_URL: &str = "CI_JOB_URL";
/// GitLab CI: the job's id (when its URL is not set).
pub const CI_JOB_ID: &str = "CI_JOB_ID";
/// Jenkins: the build's URL.
pub const BUILD_URL: &str = "BUILD_URL";
/// Buildkite: the build's URL.
pub const BUILDKITE_BUILD_URL: &str = "BUILDKITE_BUILD_URL";
/// CircleCI: the build's URL.
pub const CIRCLE_BUILD_URL: &str = "CIRCLE_BUILD_URL";
