//! The API token: where it comes from and how it stays secret.
//!
//! A [`Token`] is found in `HEROKU_API_KEY` (read by the caller's settings and passed in: this
//! module reads no environment), else in `~/.netrc` under the machine named by the API
//! URL's host (`api.heroku.com` for Heroku, `127.0.0.1` for a local `slugplan server`). The token
//! can only be read back through a crate-private accessor that builds the `Authorization` header;
//! its `Debug` and `Display` print `[redacted]`, and no error of this module ever quotes the netrc
//! file's contents (a parse error names the line, never the token it choked on).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::env_vars;

/// An API token. Never printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token given directly (e.g. by `--token`).
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }

    /// The secret itself, for building the `Authorization` header and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Finds the token for the API at `host`: `given` (the caller's `HEROKU_API_KEY`; blank
    /// counts as unset), else `machine <host>` in `<home>/.netrc` (its password field). `home`
    /// is normally `$HOME`. Reads no environment itself: the caller passes what it found there.
    pub fn find(
        given: Option<&Token>,
        home: Option<&Path>,
        host: &str,
    ) -> Result<(Token, TokenSource), AuthError> {
        if let Some(value) = given.map(|t| t.0.trim()).filter(|v| !v.is_empty()) {
            return Ok((Token(value.to_owned()), TokenSource::Env));
        }
        let netrc = home.map(|home| home.join(".netrc"));
        if let Some(path) = &netrc
            && let Some(token) = from_netrc(path, host)?
        {
            return Ok((token, TokenSource::Netrc(path.clone())));
        }
        Err(AuthError::Missing {
            host: host.to_owned(),
            netrc: netrc
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "~/.netrc (HOME is not set)".to_owned()),
        })
    }

    /// [`Token::find`] with the variable's raw value, as read from the environment.
    pub fn resolve(
        env_value: Option<String>,
        home: Option<&Path>,
        host: &str,
    ) -> Result<(Token, TokenSource), AuthError> {
        Token::find(env_value.map(Token).as_ref(), home, host)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a token was found, for `-v` output ("using the token from ~/.netrc").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The `HEROKU_API_KEY` environment variable.
    Env,
    /// A netrc file.
    Netrc(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env => write!(f, "${}", env_vars::HEROKU_API_KEY),
            TokenSource::Netrc(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The token for `host` in the netrc file at `path`; None when the file or the machine is absent.
/// A `default` entry counts when there is no entry for `host`, as in curl and Python.
fn from_netrc(path: &Path, host: &str) -> Result<Option<Token>, AuthError> {
    // Plain std::fs: the variant names the path itself.
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuthError::NetrcRead {
                path: path.to_owned(),
                source,
            });
        }
    };
    let parsed = netrc::Netrc::from_str(&text).map_err(|e| AuthError::NetrcParse {
        path: path.to_owned(),
        // The parser's message quotes the offending token, which may be a password: keep only
        // the line number it ends with ("… (line 3)").
        line: e
            .to_string()
            .rsplit_once("(line ")
            .and_then(|(_, rest)| rest.trim_end_matches(')').parse().ok()),
    })?;
    let entry = parsed
        .hosts
        .get(host)
        .or_else(|| parsed.hosts.get("default"));
    Ok(entry
        .map(|auth| auth.password.trim())
        .filter(|password| !password.is_empty())
        .map(|password| Token(password.to_owned())))
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AuthError {
    /// Neither the environment nor the netrc file has a token.
    #[error(
        "no API token for {host}: HEROKU_API_KEY is not set and {netrc} has no `machine {host}` with a password"
    )]
    #[diagnostic(help(
        "set HEROKU_API_KEY, or add `machine {host} login <email> password <token>` to {netrc} (`heroku login` writes it)"
    ))]
    Missing {
        /// The API host whose netrc machine was looked for.
        host: String,
        /// The netrc path that was looked at.
        netrc: String,
    },
    /// The netrc file exists but could not be read.
    #[error("cannot read {}", .path.display())]
    #[diagnostic(help("check the file's permissions, or set HEROKU_API_KEY instead"))]
    NetrcRead {
        /// The netrc file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The netrc file is malformed. Its contents are not shown: they hold secrets.
    #[error("cannot parse {}{}", .path.display(), .line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    #[diagnostic(help(
        "each entry reads `machine <host> login <user> password <token>`; or set HEROKU_API_KEY instead"
    ))]
    NetrcParse {
        /// The netrc file.
        path: PathBuf,
        /// The line the parser stopped at, when it said.
        line: Option<u32>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-token-value";

    fn home_with(netrc: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".netrc"), netrc).unwrap();
        home
    }

    #[test]
    fn env_wins_over_netrc() {
        let home = home_with("machine api.heroku.com login a password from-netrc\n");
        let (token, source) = Token::resolve(
            Some(format!(" {SECRET}\n")),
            Some(home.path()),
            "api.heroku.com",
        )
        .unwrap();
        assert_eq!(token.expose(), SECRET);
        assert_eq!(source, TokenSource::Env);
    }

    #[test]
    fn netrc_machine_follows_host_and_allows_comments() {
        let home = home_with(
            "# heroku login wrote this\nmachine api.heroku.com\n  login me@example.com\n  password heroku-token\n\
             machine 127.0.0.1 login me password \"local token\"\n",
        );
        let (heroku, source) = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap();
        assert_eq!(heroku.expose(), "heroku-token");
        assert_eq!(source, TokenSource::Netrc(home.path().join(".netrc")));
        let (local, _) =
            Token::resolve(Some(String::new()), Some(home.path()), "127.0.0.1").unwrap();
        assert_eq!(local.expose(), "local token");
    }

    #[test]
    fn default_entry_is_a_fallback() {
        let home =
            home_with("machine other login a password b\ndefault login x password fallback\n");
        let (token, _) = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap();
        assert_eq!(token.expose(), "fallback");
    }

    #[test]
    fn missing_token_says_where_it_looked() {
        let home = home_with("machine elsewhere login a password b\n");
        let err = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HEROKU_API_KEY"), "{text}");
        assert!(
            text.contains(&home.path().join(".netrc").display().to_string()),
            "{text}"
        );
        assert!(text.contains("machine api.heroku.com"), "{text}");
        let no_home = Token::resolve(None, None, "api.heroku.com").unwrap_err();
        assert!(no_home.to_string().contains("HOME is not set"), "{no_home}");
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let home = home_with(&format!(
            "machine api.heroku.com password {SECRET}\n{SECRET} bogus\n"
        ));
        let err = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            matches!(err, AuthError::NetrcParse { line: Some(_), .. }),
            "{shown}"
        );
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn an_unreadable_netrc_is_named() {
        // A directory where the file should be: reading fails with something other than NotFound.
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".netrc")).unwrap();
        let err = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap_err();
        assert!(matches!(err, AuthError::NetrcRead { .. }), "{err:?}");
        assert!(err.to_string().contains(".netrc"), "{err}");
    }

    #[test]
    fn token_is_redacted() {
        let token = Token::new(SECRET);
        let shown = format!("{token} {token:?} {:?}", Some(&token));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
