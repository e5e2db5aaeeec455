//! The config step of one app: which keys it adds, changes and removes, and which managed keys
//! someone changed by hand.
//!
//! slugplan manages the keys the manifest declares and the keys it set before (its state
//! records them): a declared key is set when the app lacks it or has another value; a key it
//! set earlier and no longer declares is unset; every other key of the app (an add-on's
//! `DATABASE_URL`, one set with `heroku config:set`) is left alone, never read into the plan.
//! A managed key whose value on the platform is not the one slugplan last set (its keyed hash
//! in the state) was changed outside slugplan: drift, reported like release drift, and put
//! back by the plan.
//!
//! A sensitive value (from the environment, or marked) is never in a change in clear: neither
//! the value it gets nor the one it had. A change that sets one carries its keyed hash, which
//! `apply FILE` compares with the environment it runs in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sensitive::{ConfigValue, Digest, ValueKey, show};
use crate::state::ManagedVar;

/// What happens to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyChange {
    /// The app lacks it: set it.
    Add,
    /// The app has another value: set it.
    Change,
    /// slugplan set it earlier and no longer declares it: unset it.
    Remove,
}

/// One key a config step touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// The config var's name.
    pub key: String,
    /// What happens to it.
    pub change: KeyChange,
    /// Whether its value is sensitive: then `before` and `after` are never given.
    pub sensitive: bool,
    /// The value the app has now (not for sensitive keys, nor for a key it lacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value it gets (not for sensitive keys, nor for a removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The keyed hash of the sensitive value it gets, which `apply FILE` checks the
    /// environment against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

impl ConfigChange {
    /// `+`, `~` or `-`.
    pub fn symbol(&self) -> &'static str {
        match self.change {
            KeyChange::Add => "+",
            KeyChange::Change => "~",
            KeyChange::Remove => "-",
        }
    }

    /// The value before as output shows it.
    pub fn shown_before(&self) -> String {
        self.before
            .as_deref()
            .map_or_else(|| show("", true), |v| show(v, false))
    }

    /// The value after as output shows it.
    pub fn shown_after(&self) -> String {
        self.after
            .as_deref()
            .map_or_else(|| show("", true), |v| show(v, false))
    }
}

/// A managed key changed or unset outside slugplan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDrift {
    /// The app.
    pub app: String,
    /// The config var.
    pub key: String,
    /// Whether its value is sensitive (then `value` is never given).
    pub sensitive: bool,
    /// The value it has now, when not sensitive; None as well when it was unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether it was unset.
    pub unset: bool,
}

/// What the config step of one app is decided from.
#[derive(Debug, Clone, Copy)]
pub struct AppConfig<'a> {
    /// The app.
    pub app: &'a str,
    /// The declared values, expanded.
    pub declared: &'a BTreeMap<String, ConfigValue>,
    /// The app's config vars now (empty for an app not created yet).
    pub observed: &'a BTreeMap<String, String>,
    /// The keys slugplan manages on it.
    pub managed: &'a BTreeMap<String, ManagedVar>,
    /// The workspace's key for keyed hashes.
    pub key: &'a ValueKey,
}

impl AppConfig<'_> {
    /// The changes, in key order, and the managed keys changed by hand.
    pub fn decide(&self) -> (Vec<ConfigChange>, Vec<ConfigDrift>) {
        let mut changes = Vec::new();
        let mut drift = Vec::new();
        for (key, value) in self.declared {
            let sensitive =
                value.is_sensitive() || self.managed.get(key).is_some_and(|m| m.sensitive);
            let now = self.observed.get(key);
            if now.map(String::as_str) == Some(value.expose()) {
                continue;
            }
            self.drift(key, sensitive, &mut drift);
            changes.push(ConfigChange {
                key: key.clone(),
                change: if now.is_some() {
                    KeyChange::Change
                } else {
                    KeyChange::Add
                },
                sensitive,
                before: now.filter(|_| !sensitive).cloned(),
                after: (!sensitive).then(|| value.expose().to_owned()),
                digest: sensitive.then(|| self.key.digest(self.app, key, value.expose())),
            });
        }
        for (key, managed) in self.managed {
            if self.declared.contains_key(key) {
                continue;
            }
            let Some(now) = self.observed.get(key) else {
                // Gone already: nothing to unset.
                continue;
            };
            self.drift(key, managed.sensitive, &mut drift);
            changes.push(ConfigChange {
                key: key.clone(),
                change: KeyChange::Remove,
                sensitive: managed.sensitive,
                before: (!managed.sensitive).then(|| now.clone()),
                after: None,
                digest: None,
            });
        }
        changes.sort_by(|a, b| a.key.cmp(&b.key));
        (changes, drift)
    }

    /// Reports `key` as drift when its value now is not the one slugplan last set (a key it
    /// removed is expected to be gone; back with the value slugplan set, a rollback brought it).
    fn drift(&self, key: &str, sensitive: bool, drift: &mut Vec<ConfigDrift>) {
        let Some(managed) = self.managed.get(key) else {
            return;
        };
        let Some(set) = managed.digest.as_ref() else {
            return;
        };
        let now = self.observed.get(key);
        if managed.removed && now.is_none() {
            return;
        }
        if now.is_some_and(|now| self.key.digest(self.app, key, now) == *set) {
            return;
        }
        drift.push(ConfigDrift {
            app: self.app.to_owned(),
            key: key.to_owned(),
            sensitive,
            value: now.filter(|_| !sensitive).cloned(),
            unset: now.is_none(),
        });
    }
}

/// Why a config step does what it does: `1 to add, 1 to change` or that nothing changes.
pub fn reason(changes: &[ConfigChange]) -> String {
    let count = |kind| changes.iter().filter(|c| c.change == kind).count();
    let mut parts = Vec::new();
    for (kind, what) in [
        (KeyChange::Add, "to add"),
        (KeyChange::Change, "to change"),
        (KeyChange::Remove, "to remove"),
    ] {
        let n = count(kind);
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        "config vars as declared".to_owned()
    } else {
        format!("config vars: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    struct Case {
        key: ValueKey,
        declared: BTreeMap<String, ConfigValue>,
        observed: BTreeMap<String, String>,
        managed: BTreeMap<String, ManagedVar>,
    }

    impl Case {
        fn new() -> Self {
            Case {
                key: ValueKey::generate(),
                declared: BTreeMap::new(),
                observed: BTreeMap::new(),
                managed: BTreeMap::new(),
            }
        }

        fn declare(mut self, key: &str, value: &str, sensitive: bool) -> Self {
            self.declared
                .insert(key.into(), ConfigValue::new(value, sensitive));
            self
        }

        fn observe(mut self, pairs: &[(&str, &str)]) -> Self {
            self.observed = map(pairs);
            self
        }

        /// slugplan set `key` to `value` earlier.
        fn set_earlier(mut self, key: &str, value: &str, sensitive: bool) -> Self {
            let digest = Some(self.key.digest("shop", key, value));
            let managed = ManagedVar {
                sensitive,
                digest,
                removed: false,
            };
            self.managed.insert(key.into(), managed);
            self
        }

        /// slugplan set `key` to `value` earlier, then unset it.
        fn removed_earlier(mut self, key: &str, value: &str) -> Self {
            self = self.set_earlier(key, value, false);
            self.managed.get_mut(key).unwrap().removed = true;
            self
        }

        fn decide(&self) -> (Vec<ConfigChange>, Vec<ConfigDrift>) {
            AppConfig {
                app: "shop",
                declared: &self.declared,
                observed: &self.observed,
                managed: &self.managed,
                key: &self.key,
            }
            .decide()
        }
    }

    #[test]
    fn declared_keys_are_added_or_changed_and_foreign_keys_left_alone() {
        let case = Case::new()
            .declare("GREETING", "hello", false)
            .declare("NEW", "x", false)
            .declare("SAME", "same", false)
            .observe(&[
                ("GREETING", "hi"),
                ("SAME", "same"),
                ("DATABASE_URL", "postgres://addon"),
            ]);
        let (changes, drift) = case.decide();
        let summary: Vec<(&str, KeyChange, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| {
                (
                    c.key.as_str(),
                    c.change,
                    c.before.as_deref(),
                    c.after.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("GREETING", KeyChange::Change, Some("hi"), Some("hello")),
                ("NEW", KeyChange::Add, None, Some("x")),
            ]
        );
        assert!(drift.is_empty());
        assert_eq!(reason(&changes), "config vars: 1 to add, 1 to change");
    }

    #[test]
    fn a_key_set_earlier_and_no_longer_declared_is_removed_unless_gone() {
        let case = Case::new()
            .set_earlier("OLD", "v", false)
            .set_earlier("GONE", "v", false)
            .observe(&[("OLD", "v")]);
        let (changes, drift) = case.decide();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].key.as_str(), changes[0].change),
            ("OLD", KeyChange::Remove)
        );
        assert!(drift.is_empty(), "GONE's removal is not drift: {drift:?}");
    }

    #[test]
    fn a_key_slugplan_removed_that_a_rollback_brought_back_is_removed_again() {
        let case = Case::new()
            .declare("GREETING", "hello", false)
            .removed_earlier("TOKEN", "old")
            .removed_earlier("GONE", "x")
            .observe(&[("GREETING", "hello"), ("TOKEN", "old")]);
        let (changes, drift) = case.decide();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].key.as_str(), changes[0].change),
            ("TOKEN", KeyChange::Remove)
        );
        assert!(
            drift.is_empty(),
            "slugplan's own value, and GONE is gone: {drift:?}"
        );
        // Back with another value: someone set it by hand.
        let case = Case::new()
            .declare("GREETING", "hello", false)
            .removed_earlier("TOKEN", "old")
            .observe(&[("TOKEN", "by-hand")]);
        assert_eq!(case.decide().1.len(), 1);
    }

    #[test]
    fn a_managed_key_changed_by_hand_is_drift_and_put_back() {
        let case = Case::new()
            .declare("GREETING", "hello", false)
            .declare("TOKEN", "s3cret", true)
            .set_earlier("GREETING", "hello", false)
            .set_earlier("TOKEN", "s3cret", true)
            .observe(&[("GREETING", "hola")]);
        let (changes, drift) = case.decide();
        assert_eq!(
            drift,
            [
                ConfigDrift {
                    app: "shop".into(),
                    key: "GREETING".into(),
                    sensitive: false,
                    value: Some("hola".into()),
                    unset: false
                },
                ConfigDrift {
                    app: "shop".into(),
                    key: "TOKEN".into(),
                    sensitive: true,
                    value: None,
                    unset: true
                },
            ]
        );
        assert_eq!(changes.len(), 2);
        // The manifest changing a key slugplan set is no drift.
        let case = Case::new()
            .declare("GREETING", "hello", false)
            .set_earlier("GREETING", "hi", false)
            .observe(&[("GREETING", "hi")]);
        let (changes, drift) = case.decide();
        assert!(drift.is_empty() && changes.len() == 1);
    }

    #[test]
    fn sensitive_values_appear_only_as_keyed_hashes() {
        let case = Case::new()
            .declare("TOKEN", "s3cret", true)
            .observe(&[("TOKEN", "0ld-s3cret")]);
        let (changes, _) = case.decide();
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("s3cret"), "{text}");
        assert_eq!(
            changes[0].digest,
            Some(case.key.digest("shop", "TOKEN", "s3cret"))
        );
        assert_eq!(changes[0].shown_before(), "(sensitive)");
        assert_eq!(changes[0].shown_after(), "(sensitive)");
    }
}
