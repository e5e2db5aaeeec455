//! The config var keys slugplan manages on each app, and the workspace's key for the keyed
//! hashes that stand in for their values.
//!
//! A key is recorded as managed before slugplan sets it ([`State::manage_config`]), so an
//! apply killed right after the platform took the value still knows the key is its own, and
//! confirmed with the keyed hash of the value once the platform answered
//! ([`State::record_config`]). Unsetting it marks it removed rather than forgetting it: a
//! rollback to an older release brings its config back, and a key slugplan set then and no
//! longer declares is then unset again by the app's next config step. Values are never stored: a digest tells
//! a key changed by hand (drift) from one the manifest changed, and a sensitive value's digest
//! is all a saved plan holds of it. The methods speak of keys and digests, not rows, so another
//! state backend can implement them alike.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{State, StateError, now};
use crate::sensitive::{Digest, ValueKey};

/// A config var key slugplan manages on an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedVar {
    /// Whether its value is sensitive (so even a value read back is never shown).
    pub sensitive: bool,
    /// The keyed hash of the value slugplan last set; None until a set is confirmed.
    pub digest: Option<Digest>,
    /// Whether slugplan unset it since (it is no longer declared).
    pub removed: bool,
}

impl State {
    /// The workspace's key for keyed hashes of config values, made on first use. One key per
    /// state, so every machine sharing the state hashes alike.
    pub fn value_key(&self) -> Result<ValueKey, StateError> {
        let conn = self.db.conn();
        // Two processes making it at once: the first insert wins, both read the winner.
        conn.execute(
            "INSERT OR IGNORE INTO value_key (id, key, created_at) VALUES (1, ?1, ?2)",
            params![ValueKey::generate().to_hex(), now()],
        )
        .map_err(self.err())?;
        let hex: String = conn
            .query_row("SELECT key FROM value_key WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(self.err())?;
        ValueKey::from_hex(&hex).ok_or_else(|| StateError::Corrupt {
            path: self.db.path().to_owned(),
            what: "the config value key is not 64 hex digits".to_owned(),
        })
    }

    /// The config var keys slugplan manages on each of `apps` of `platform`, by app and key
    /// (every app asked for is in the answer; one lookup for all of them).
    pub fn managed_config(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, ManagedVar>>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare(
                "SELECT key, sensitive, digest, removed FROM config_keys
                 WHERE platform = ?1 AND app = ?2 ORDER BY key",
            )
            .map_err(self.err())?;
        let mut managed = BTreeMap::new();
        for app in apps {
            let keys = stmt
                .query_map(params![platform, app], |row| {
                    let digest: Option<String> = row.get(2)?;
                    Ok((
                        row.get(0)?,
                        ManagedVar {
                            sensitive: row.get(1)?,
                            digest: digest.map(Digest),
                            removed: row.get(3)?,
                        },
                    ))
                })
                .and_then(|rows| rows.collect())
                .map_err(self.err())?;
            managed.insert((*app).to_owned(), keys);
        }
        Ok(managed)
    }

    /// The apps of `platform` on which slugplan manages config var keys (not counting keys
    /// it removed).
    pub fn apps_with_managed_config(&self, platform: &str) -> Result<BTreeSet<String>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare("SELECT DISTINCT app FROM config_keys WHERE platform = ?1 AND removed = 0")
            .map_err(self.err())?;
        stmt.query_map([platform], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err())
    }

    /// Records that slugplan manages `keys` (key → sensitive) on `app`, before it sets them:
    /// an apply killed right after the platform took them still knows they are its own.
    pub fn manage_config(
        &self,
        platform: &str,
        app: &str,
        keys: &BTreeMap<String, bool>,
    ) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for (key, sensitive) in keys {
            tx.execute(
                "INSERT INTO config_keys (platform, app, key, sensitive, digest, removed, updated_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, 0, ?5)
                 ON CONFLICT (platform, app, key)
                 DO UPDATE SET sensitive = excluded.sensitive, removed = 0",
                params![platform, app, key, sensitive, now()],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Records what the platform confirmed on `app`: the keyed hash of each value set, and
    /// the keys unset (marked removed, keeping the hash of the value slugplan last set).
    pub fn record_config(
        &self,
        platform: &str,
        app: &str,
        set: &BTreeMap<String, Digest>,
        unset: &BTreeSet<String>,
    ) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for (key, digest) in set {
            tx.execute(
                "UPDATE config_keys SET digest = ?4, updated_at = ?5
                 WHERE platform = ?1 AND app = ?2 AND key = ?3",
                params![platform, app, key, digest.0, now()],
            )
            .map_err(self.err())?;
        }
        for key in unset {
            tx.execute(
                "UPDATE config_keys SET removed = 1, updated_at = ?4
                 WHERE platform = ?1 AND app = ?2 AND key = ?3",
                params![platform, app, key, now()],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_config_keys_are_recorded_confirmed_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let key = state.value_key().unwrap();
        assert_eq!(state.value_key().unwrap(), key, "made once");
        let keys = BTreeMap::from([("GREETING".to_owned(), false), ("TOKEN".to_owned(), true)]);
        state.manage_config("local", "shop", &keys).unwrap();
        let managed = state
            .managed_config("local", &["shop"])
            .unwrap()
            .remove("shop")
            .unwrap();
        assert_eq!(managed.len(), 2);
        assert!(managed["TOKEN"].sensitive && managed["TOKEN"].digest.is_none());
        let digest = key.digest("shop", "TOKEN", "hunter2");
        state
            .record_config(
                "local",
                "shop",
                &BTreeMap::from([("TOKEN".to_owned(), digest.clone())]),
                &BTreeSet::from(["GREETING".to_owned()]),
            )
            .unwrap();
        let managed = state
            .managed_config("local", &["shop"])
            .unwrap()
            .remove("shop")
            .unwrap();
        assert_eq!(managed["TOKEN"].digest, Some(digest));
        assert!(!managed["TOKEN"].removed);
        assert!(managed["GREETING"].removed, "unset, and remembered as such");
        assert!(state.managed_config("other", &["shop"]).unwrap()["shop"].is_empty());
        assert_eq!(
            state.apps_with_managed_config("local").unwrap(),
            BTreeSet::from(["shop".to_owned()])
        );
        // Set again: managed again.
        let greeting = BTreeMap::from([("GREETING".to_owned(), false)]);
        state.manage_config("local", "shop", &greeting).unwrap();
        assert!(!state.managed_config("local", &["shop"]).unwrap()["shop"]["GREETING"].removed);
        let both = BTreeSet::from(["GREETING".to_owned(), "TOKEN".to_owned()]);
        state
            .record_config("local", "shop", &BTreeMap::new(), &both)
            .unwrap();
        assert!(
            state.apps_with_managed_config("local").unwrap().is_empty(),
            "every key removed: nothing left to manage"
        );
        drop(state);
        let bytes = std::fs::read(dir.path().join("state.db")).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "only the keyed hash is stored"
        );
    }
}
