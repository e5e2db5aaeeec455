//! The process environment as one snapshot, read once at the edge and passed down as a value.
//!
//! The library reads no environment of its own: the entry point takes an [`Env`] with
//! [`Env::from_process`] and hands it to the settings (which resolve flags against it) and to
//! what takes values from it on purpose, such as `${VAR}` references in slug.toml
//! ([`crate::manifest::interpolate`]). Tests build one with [`Env::from_vars`], so nothing they
//! check depends on the shell that runs them.
//!
//! Values may be secrets (`HEROKU_API_KEY`, a `${DATABASE_PASSWORD}` of the manifest): `Debug`
//! lists the names only.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;

/// The process's environment variables, read once.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<OsString, OsString>,
}

impl Env {
    /// The environment of this process, as it is now. The one place slugplan reads it.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os().collect(),
        }
    }

    /// An environment holding exactly `vars` (for tests, and for embedding slugplan).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The variable's value, empty or not.
    pub fn os(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// The variable's value when it is set to something.
    pub fn non_empty(&self, name: &str) -> Option<&OsStr> {
        self.os(name).filter(|v| !v.is_empty())
    }

    /// The variable's value when it is valid UTF-8, empty or not.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.os(name)?.to_str()
    }

    /// The variable as a number; None when unset or when it does not parse (it is ignored).
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.text(name)?.trim().parse().ok()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_never_values() {
        let env = Env::from_vars([("DATABASE_PASSWORD", "hunter2")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("DATABASE_PASSWORD"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn lookups_tell_unset_from_empty() {
        let env = Env::from_vars([("EMPTY", ""), ("N", " 7 ")]);
        assert_eq!(env.text("EMPTY"), Some(""));
        assert_eq!(env.non_empty("EMPTY"), None);
        assert_eq!(env.text("UNSET"), None);
        assert_eq!(env.number::<u32>("N"), Some(7));
    }
}
