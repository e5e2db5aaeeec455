//! The name and hash patterns slug.toml enforces, shared by validation and the JSON Schema.
//!
//! Each pattern is written once, as the string the JSON Schema publishes, and compiled once with
//! Unicode classes turned off: JSON Schema regexes follow ECMA-262, where `\w` is ASCII only, and
//! so does the Heroku API, so a name that passes `slugplan validate` is one the platform accepts.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

/// Heroku's app name rule: lowercase letter first, then 1–28 of `[a-z0-9-]`, then a letter or digit.
pub const APP_NAME_PATTERN: &str = r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$";
/// Heroku's pipeline name rule.
pub const PIPELINE_NAME_PATTERN: &str = r"^[a-z][a-z0-9-]{2,29}$";
/// Heroku's process type rule (a Procfile's left-hand side).
pub const PROCESS_TYPE_PATTERN: &str = r"^[-\w]{1,128}$";
/// The Heroku API's config var name rule (`PATCH /apps/{app}/config-vars`).
pub const CONFIG_VAR_PATTERN: &str = r"^\w+$";
/// A SHA-256 digest as slug.toml and slug.lock spell it: 64 lowercase hex digits.
pub const SHA256_PATTERN: &str = r"^[0-9a-f]{64}$";
/// A state workspace (`[state] workspace`): one manifest's share of a PostgreSQL state.
/// Letters, digits and `._/-`, starting with a letter or digit, at most 100 characters.
pub const WORKSPACE_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$";

fn compile(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("the name patterns are valid ASCII regexes")
}

static APP_NAME: LazyLock<Regex> = LazyLock::new(|| compile(APP_NAME_PATTERN));
static PIPELINE_NAME: LazyLock<Regex> = LazyLock::new(|| compile(PIPELINE_NAME_PATTERN));
static PROCESS_TYPE: LazyLock<Regex> = LazyLock::new(|| compile(PROCESS_TYPE_PATTERN));
static CONFIG_VAR: LazyLock<Regex> = LazyLock::new(|| compile(CONFIG_VAR_PATTERN));
static SHA256: LazyLock<Regex> = LazyLock::new(|| compile(SHA256_PATTERN));
static WORKSPACE: LazyLock<Regex> = LazyLock::new(|| compile(WORKSPACE_PATTERN));

/// Whether `name` is a valid Heroku app name ([`APP_NAME_PATTERN`]).
pub fn is_app_name(name: &str) -> bool {
    APP_NAME.is_match(name)
}

/// Whether `name` is a valid Heroku pipeline name ([`PIPELINE_NAME_PATTERN`]).
pub fn is_pipeline_name(name: &str) -> bool {
    PIPELINE_NAME.is_match(name)
}

/// Whether `name` is a valid process type ([`PROCESS_TYPE_PATTERN`]).
pub fn is_process_type(name: &str) -> bool {
    PROCESS_TYPE.is_match(name)
}

/// Whether `name` is a config var name the API accepts ([`CONFIG_VAR_PATTERN`]).
pub fn is_config_var(name: &str) -> bool {
    CONFIG_VAR.is_match(name)
}

/// Whether `hash` is a SHA-256 in slug.toml's spelling ([`SHA256_PATTERN`]).
pub fn is_sha256(hash: &str) -> bool {
    SHA256.is_match(hash)
}

/// Whether `name` is a valid state workspace name ([`WORKSPACE_PATTERN`]).
pub fn is_workspace_name(name: &str) -> bool {
    WORKSPACE.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_heroku() {
        for good in ["ab1", "example-staging", "a-b", "x".repeat(30).as_str()] {
            assert!(is_app_name(good), "{good:?} should be valid");
        }
        let too_long = "x".repeat(31);
        for bad in [
            "",
            "ab",
            "1ab",
            "-ab",
            "ab-",
            "Abc",
            "ab_c",
            "ab.c",
            "ab c",
            "exämple",
            too_long.as_str(),
        ] {
            assert!(!is_app_name(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn process_types_are_ascii_words_and_dashes() {
        let longest = "w".repeat(128);
        for good in ["web", "worker_2", "release-phase", "W", longest.as_str()] {
            assert!(is_process_type(good), "{good:?} should be valid");
        }
        let too_long = "w".repeat(129);
        for bad in ["", "web worker", "web:1", "wéb", "a.b", too_long.as_str()] {
            assert!(!is_process_type(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn sha256_is_64_lowercase_hex() {
        let good = "0123456789abcdef".repeat(4);
        assert!(is_sha256(&good));
        assert!(!is_sha256(&good.to_uppercase()));
        assert!(!is_sha256(&good[1..]));
        assert!(!is_sha256(&format!("{good}0")));
        assert!(!is_sha256(&good.replace('a', "g")));
    }

    #[test]
    fn pipeline_names_follow_heroku() {
        assert!(is_pipeline_name("example"));
        assert!(is_pipeline_name("web-app-2"));
        assert!(!is_pipeline_name("ex"));
        assert!(!is_pipeline_name("Example"));
        assert!(!is_pipeline_name(&"x".repeat(31)));
    }
}
