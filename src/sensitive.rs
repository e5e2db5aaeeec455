//! Config values, some of them secrets, and the keyed hash that stands in for a value wherever
//! it must not be written.
//!
//! A [`ConfigValue`] knows whether it is sensitive (it came from the environment, or the
//! manifest marks it so). What shows it goes through [`ConfigValue::shown`], which says
//! `(sensitive)` instead; its `Debug` does the same, so a value cannot leak through a log line
//! or an error either. Only the platform call that sets it reads [`ConfigValue::expose`].
//!
//! Saved plans and slugplan's state never hold a sensitive value: they hold its [`Digest`], an
//! HMAC-SHA256 under a random [`ValueKey`] that the state keeps per workspace. The key makes the
//! digest useless to anyone without the state (a bare SHA-256 of a short password can be
//! guessed offline), and because it lives in the state, a plan saved on one machine can be
//! checked on another that shares the state. A digest binds the app and the key name too, so
//! two config vars with one value do not show as equal.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What output shows in place of a sensitive value.
pub const MASK: &str = "(sensitive)";

/// A config value and whether it is sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigValue {
    value: String,
    sensitive: bool,
}

impl ConfigValue {
    /// A value; `sensitive` when it came from the environment or is marked so.
    pub fn new(value: impl Into<String>, sensitive: bool) -> Self {
        ConfigValue {
            value: value.into(),
            sensitive,
        }
    }

    /// The value itself, for the one call that sets it on the platform (and comparisons).
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether it must never be shown or stored.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }

    /// The value as output shows it: quoted, or [`MASK`].
    pub fn shown(&self) -> String {
        show(&self.value, self.sensitive)
    }
}

impl fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

/// `value` as output shows it: `"value"`, or [`MASK`] when `sensitive`.
pub fn show(value: &str, sensitive: bool) -> String {
    if sensitive {
        MASK.to_owned()
    } else {
        format!("{value:?}")
    }
}

/// The key of the keyed hashes: 32 random bytes, one per workspace, kept in slugplan's state.
#[derive(Clone, PartialEq, Eq)]
pub struct ValueKey([u8; 32]);

impl ValueKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        ValueKey(rand::random())
    }

    /// The key from its hex form, as the state stores it; None when it is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex::decode(hex).ok()?;
        Some(ValueKey(bytes.try_into().ok()?))
    }

    /// The key in hex, for the state to store (and nothing else).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The keyed hash of `value` as config var `key` of `app`.
    pub fn digest(&self, app: &str, key: &str, value: &str) -> Digest {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") hash apart.
        for part in [app, key, value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        Digest(format!(
            "hmac-sha256:{}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }
}

impl fmt::Debug for ValueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValueKey([redacted])")
    }
}

/// A keyed hash of a config value: `hmac-sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(pub String);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_never_show() {
        let secret = ConfigValue::new("hunter2", true);
        assert_eq!(secret.shown(), MASK);
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(ConfigValue::new("hi", false).shown(), "\"hi\"");
    }

    #[test]
    fn digests_depend_on_the_key_the_app_the_name_and_the_value() {
        let key = ValueKey::generate();
        let digest = key.digest("shop", "TOKEN", "hunter2");
        assert_eq!(digest, key.digest("shop", "TOKEN", "hunter2"));
        assert!(digest.0.starts_with("hmac-sha256:"));
        assert!(!digest.0.contains("hunter2"));
        assert_ne!(digest, key.digest("shop", "TOKEN", "hunter3"));
        assert_ne!(digest, key.digest("shop", "OTHER", "hunter2"));
        assert_ne!(digest, key.digest("shop2", "TOKEN", "hunter2"));
        assert_ne!(
            key.digest("ab", "c", "x"),
            key.digest("a", "bc", "x"),
            "parts do not run into each other"
        );
        assert_ne!(
            digest,
            ValueKey::generate().digest("shop", "TOKEN", "hunter2")
        );
        let again = ValueKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(again.digest("shop", "TOKEN", "hunter2"), digest);
        assert!(ValueKey::from_hex("abc").is_none());
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }
}
