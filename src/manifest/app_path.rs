//! The one rule for a path the manifest writes inside `./app`: a runtime's `dest`, a Go build's
//! `output`.
//!
//! Validation ([`super::load`]) and the builder both call [`AppPath::dir`] or [`AppPath::file`],
//! so a path `slugplan validate` accepts is exactly one the build can place, at exactly the
//! place the build puts it. The rule:
//!
//! - `/` separates components; `.` components are dropped (`./bin/./web` is `bin/web`), and one
//!   trailing `/` is allowed (`vendor/ruby/` is `vendor/ruby`);
//! - refused: an absolute path, any `..` (even one that would stay inside, such as `a/../b`:
//!   a manifest has no reason to write it), an empty component (`a//b`), and control characters
//!   (NUL cannot be stored in a tar name; the others are invisible in every listing);
//! - the empty path (also `.` or `./`) is `./app` itself: a directory may be it (a runtime
//!   unpacked at the root of the app), a file may not.

use std::fmt;

/// A path relative to `./app`, normalised: components joined by single `/`, none of them `.`,
/// `..` or empty, no control characters. The empty path is `./app` itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppPath(String);

/// Why a value is not a path inside `./app`. Displays as the end of a sentence naming the value
/// ("dest `/opt/node` is absolute").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppPathError {
    /// It starts with `/`.
    #[error("is absolute")]
    Absolute,
    /// It has a `..` component.
    #[error("climbs out with `..`")]
    ParentDir,
    /// It has an empty component (`a//b`).
    #[error("has an empty component (`//`)")]
    EmptyComponent,
    /// It holds a control character (NUL, newline, escape, …).
    #[error("contains a control character")]
    ControlCharacter,
    /// It is `./app` itself where a file is needed.
    #[error("is ./app itself, not a file inside it")]
    Root,
}

impl AppPath {
    /// `value` as a directory inside `./app`, which may be `./app` itself (a runtime's `dest`).
    pub fn dir(value: &str) -> Result<Self, AppPathError> {
        Self::parse(value)
    }

    /// `value` as a file inside `./app`, which cannot be `./app` itself (a Go `output`).
    pub fn file(value: &str) -> Result<Self, AppPathError> {
        Self::parse(value).and_then(|path| {
            if path.is_root() {
                Err(AppPathError::Root)
            } else {
                Ok(path)
            }
        })
    }

    fn parse(value: &str) -> Result<Self, AppPathError> {
        if value.starts_with('/') {
            return Err(AppPathError::Absolute);
        }
        if value.chars().any(char::is_control) {
            return Err(AppPathError::ControlCharacter);
        }
        let parts: Vec<&str> = value.split('/').collect();
        let last = parts.len() - 1;
        let mut kept = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            match part {
                ".." => return Err(AppPathError::ParentDir),
                "." => {}
                // One trailing `/` (or the empty value) leaves an empty last part.
                "" if i == last => {}
                "" => return Err(AppPathError::EmptyComponent),
                part => kept.push(part),
            }
        }
        Ok(AppPath(kept.join("/")))
    }

    /// Whether this is `./app` itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The normalised path, relative to `./app` (empty for `./app` itself).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_components_and_one_trailing_slash_are_normalised_away() {
        for (value, normal) in [
            ("bin/web", "bin/web"),
            ("./bin/web", "bin/web"),
            ("a/./b", "a/b"),
            ("./a/././b/.", "a/b"),
            ("vendor/ruby/", "vendor/ruby"),
            (".hidden/x", ".hidden/x"),
            ("..x/y..", "..x/y.."),
        ] {
            assert_eq!(AppPath::dir(value).unwrap().as_str(), normal, "{value}");
            assert_eq!(AppPath::file(value).unwrap().as_str(), normal, "{value}");
        }
    }

    #[test]
    fn the_root_is_a_directory_but_not_a_file() {
        for value in ["", ".", "./", "./."] {
            assert!(AppPath::dir(value).unwrap().is_root(), "{value:?}");
            assert_eq!(AppPath::file(value), Err(AppPathError::Root), "{value:?}");
        }
    }

    #[test]
    fn paths_leaving_app_or_unfit_for_a_tar_name_are_refused() {
        use AppPathError::*;
        for (value, why) in [
            ("/etc", Absolute),
            ("/", Absolute),
            ("//x", Absolute),
            ("..", ParentDir),
            ("../x", ParentDir),
            ("a/../../b", ParentDir),
            ("a/../b", ParentDir),
            ("a/..", ParentDir),
            ("a//b", EmptyComponent),
            ("a//", EmptyComponent),
            (".//a", EmptyComponent),
            ("a\0b", ControlCharacter),
            ("bin/web\n", ControlCharacter),
            ("a\u{1b}[31mb", ControlCharacter),
            ("a\u{7f}", ControlCharacter),
        ] {
            assert_eq!(AppPath::dir(value), Err(why), "{value:?}");
            assert_eq!(AppPath::file(value), Err(why), "{value:?}");
        }
    }
}
