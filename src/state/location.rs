//! Where the state lives, and the one type that holds a database URL.
//!
//! A PostgreSQL URL carries a password, so [`DatabaseUrl`] keeps the parsed connection
//! settings (password included) private and shows itself only masked
//! (`postgres://deploy:****@db.example.com/slugplan`): its `Display` and `Debug`, every error
//! that names the database, `slugplan state show` and `--json` all use that form. Parse errors
//! never quote the text they failed on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest::names::is_workspace_name;

/// Where the state is, resolved from `[state]` and the environment at the edge.
#[derive(Debug, Clone)]
pub enum Location {
    /// SQLite and a file lock in `dir` (`.slugplan/state/` beside the manifest).
    Local {
        /// The directory.
        dir: PathBuf,
    },
    /// A PostgreSQL database shared by many checkouts, this manifest's share of it named by
    /// `workspace`.
    Postgres {
        /// The database.
        url: DatabaseUrl,
        /// The workspace.
        workspace: String,
    },
}

impl Location {
    /// `local` or `postgres`, as `[state] backend` spells it.
    pub fn backend(&self) -> &'static str {
        match self {
            Location::Local { .. } => "local",
            Location::Postgres { .. } => "postgres",
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local { dir } => write!(f, "the local state in {}", dir.display()),
            Location::Postgres { url, workspace } => {
                write!(f, "the PostgreSQL state {url} (workspace {workspace})")
            }
        }
    }
}

/// The workspace a manifest uses when `[state] workspace` does not name one: the name of the
/// directory holding it, which is the repository's name in a CI checkout
/// (`/home/runner/work/shop/shop`, `/builds/team/shop`) and in a plain `git clone`; a manifest
/// not named `slug.toml` adds its file stem (`shop/staging` for `shop/staging.toml`).
/// Characters a workspace name does not allow become `-`.
pub fn default_workspace(manifest: &Path) -> String {
    let absolute = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_owned());
    let dir = absolute
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = sanitize(&dir);
    if absolute.file_name().is_some_and(|f| f != "slug.toml")
        && let Some(stem) = absolute.file_stem()
    {
        name = format!("{name}/{}", sanitize(&stem.to_string_lossy()));
    }
    if is_workspace_name(&name) {
        name
    } else {
        "default".to_owned()
    }
}

fn sanitize(part: &str) -> String {
    let kept: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    kept.trim_start_matches(['.', '_', '-']).to_owned()
}

/// How the TLS of a PostgreSQL connection is decided, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, the certificate not verified (libpq's default).
    Prefer,
    /// TLS or fail; the certificate verified only when `sslrootcert` names a CA (as libpq).
    Require,
    /// TLS, the certificate chained to a trusted CA.
    VerifyCa,
    /// TLS, the certificate chained to a trusted CA and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A database URL that did not parse. The URL itself is never quoted: it may hold a password.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UrlError {
    /// Not a URL at all.
    #[error("the state URL is not a URL ({reason})")]
    #[diagnostic(
        code(slugplan::state::url),
        help(
            "it looks like postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require; percent-encode special characters in the password"
        )
    )]
    Syntax {
        /// What is wrong with it (never the text).
        reason: String,
    },
    /// Another scheme than `postgres://` or `postgresql://`.
    #[error("the state URL has scheme `{scheme}`, not postgres:// or postgresql://")]
    #[diagnostic(code(slugplan::state::url))]
    Scheme {
        /// The scheme found.
        scheme: String,
    },
    /// An `sslmode` libpq does not define.
    #[error("the state URL {url} has sslmode `{mode}`")]
    #[diagnostic(
        code(slugplan::state::url),
        help("sslmode is one of disable, prefer, require, verify-ca, verify-full")
    )]
    SslMode {
        /// The URL, masked.
        url: String,
        /// The mode given.
        mode: String,
    },
    /// An option the client does not take, or a value it refuses.
    #[error("the state URL {url} is not a PostgreSQL connection URL slugplan can use")]
    #[diagnostic(code(slugplan::state::url))]
    Options {
        /// The URL, masked.
        url: String,
        /// The client's reason (it names the option, never a value).
        #[source]
        source: tokio_postgres::Error,
    },
}

/// How long a connection attempt may take when the URL's `connect_timeout` does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's default TCP keepalive idle time (two hours), and the one slugplan uses when
/// the URL's `keepalives_idle` does not say: the apply lock's connection sits idle for the
/// whole apply, and a NAT or load balancer between runner and database drops idle flows
/// after minutes, which would end the lock's session under a running apply.
const CLIENT_KEEPALIVES_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);

/// A PostgreSQL URL, parsed, whose password never shows (see the module docs).
#[derive(Clone)]
pub struct DatabaseUrl {
    masked: String,
    config: Box<tokio_postgres::Config>,
    ssl_mode: SslMode,
    root_cert: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Parses `postgres://USER:PASSWORD@HOST:PORT/DATABASE?OPTIONS` (or `postgresql://`).
    /// `sslmode` takes libpq's five values and `sslrootcert` a CA file (relative paths from
    /// the working directory); the other options are the client's (`connect_timeout`,
    /// `application_name`, `options`, `target_session_attrs`, …).
    pub fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
        let parsed = url::Url::parse(text.trim()).map_err(|err| UrlError::Syntax {
            reason: err.to_string(),
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(UrlError::Scheme {
                scheme: parsed.scheme().to_owned(),
            });
        }
        let masked = mask(&parsed);
        let mut ssl_mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut passed = parsed.clone();
        passed.set_query(None);
        {
            let mut query = passed.query_pairs_mut();
            for (key, value) in parsed.query_pairs() {
                match key.as_ref() {
                    "sslmode" => {
                        ssl_mode = SslMode::parse(&value).ok_or_else(|| UrlError::SslMode {
                            url: masked.clone(),
                            mode: value.clone().into_owned(),
                        })?;
                    }
                    "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                    _ => {
                        query.append_pair(&key, &value);
                    }
                }
            }
        }
        if passed.query() == Some("") {
            passed.set_query(None);
        }
        let mut config: tokio_postgres::Config =
            passed
                .as_str()
                .parse()
                .map_err(|source| UrlError::Options {
                    url: masked.clone(),
                    source,
                })?;
        // The client's own TLS negotiation is told only whether to try; what is verified is
        // decided by the connector (`tls.rs`) from the full mode.
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_keepalives_idle() == CLIENT_KEEPALIVES_IDLE {
            config.keepalives_idle(KEEPALIVES_IDLE);
        }
        if config.get_application_name().is_none() {
            config.application_name("slugplan");
        }
        Ok(DatabaseUrl {
            masked,
            config: Box::new(config),
            ssl_mode,
            root_cert,
        })
    }

    /// The connection settings, password included: for connecting only.
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The URL's `sslmode` (default `prefer`).
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The CA file `sslrootcert` names, if any.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// The URL with its password masked.
    pub fn masked(&self) -> &str {
        &self.masked
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.masked).finish()
    }
}

/// `url` with the password (in the user part or a `password=` option) replaced by `****`.
fn mask(url: &url::Url) -> String {
    let mut masked = url.clone();
    if masked.password().is_some() {
        let _ = masked.set_password(Some("****"));
    }
    if url.query().is_some() {
        masked.set_query(None);
        let mut query = masked.query_pairs_mut();
        for (key, value) in url.query_pairs() {
            let value = if key == "password" {
                "****".into()
            } else {
                value
            };
            query.append_pair(&key, &value);
        }
    }
    masked.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pa%40ss:w0rd-Marker";

    #[test]
    fn the_password_is_masked_wherever_the_url_shows() {
        let url = DatabaseUrl::parse(&format!(
            "postgres://deploy:{SECRET}@db.example.com:6543/slugplan?sslmode=require&password=other-Marker&application_name=ci"
        ))
        .unwrap();
        let shown = format!("{url} {url:?} {:?}", url.config());
        assert!(!shown.contains("Marker"), "{shown}");
        assert!(!shown.contains("pa@ss"), "{shown}");
        assert_eq!(
            url.masked(),
            "postgres://deploy:****@db.example.com:6543/slugplan?sslmode=require&password=****&application_name=ci"
        );
        // The client gets the password decoded, the query's one winning as libpq's would.
        assert_eq!(url.config().get_password(), Some(&b"other-Marker"[..]));
        assert_eq!(url.config().get_dbname(), Some("slugplan"));
        assert_eq!(url.config().get_application_name(), Some("ci"));
        assert_eq!(url.ssl_mode(), SslMode::Require);
    }

    #[test]
    fn ssl_modes_and_the_root_certificate_are_read_by_slugplan() {
        let url = DatabaseUrl::parse("postgresql://u@h/db?sslmode=verify-full&sslrootcert=ca.pem")
            .unwrap();
        assert_eq!(url.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(url.root_cert(), Some(Path::new("ca.pem")));
        assert_eq!(
            url.config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(url.config().get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(url.config().get_keepalives_idle(), KEEPALIVES_IDLE);
        let default = DatabaseUrl::parse("postgres://u@h/db").unwrap();
        assert_eq!(default.ssl_mode(), SslMode::Prefer);
        assert_eq!(default.masked(), "postgres://u@h/db");
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for (text, expected) in [
            (
                format!("postgres://u:{SECRET}@h/db?sslmode=sometimes"),
                "the state URL postgres://u:****@h/db?sslmode=sometimes has sslmode `sometimes`",
            ),
            (
                format!("mysql://u:{SECRET}@h/db"),
                "the state URL has scheme `mysql`, not postgres:// or postgresql://",
            ),
            (
                format!("//u:{SECRET}@h/db"),
                "the state URL is not a URL (relative URL without a base)",
            ),
        ] {
            let err = DatabaseUrl::parse(&text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("Marker"), "{shown}");
            assert_eq!(err.to_string(), expected);
        }
        let err =
            DatabaseUrl::parse(&format!("postgres://u:{SECRET}@h/db?frobnicate=1")).unwrap_err();
        assert!(matches!(err, UrlError::Options { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("Marker"));
    }

    #[test]
    fn the_default_workspace_is_the_manifest_directory() {
        assert_eq!(default_workspace(Path::new("/work/shop/slug.toml")), "shop");
        assert_eq!(
            default_workspace(Path::new("/work/shop/staging.toml")),
            "shop/staging"
        );
        assert_eq!(
            default_workspace(Path::new("/work/My Shop!/slug.toml")),
            "My-Shop-"
        );
        assert_eq!(default_workspace(Path::new("/slug.toml")), "default");
    }
}
