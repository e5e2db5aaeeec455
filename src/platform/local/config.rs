//! Config vars on the local platform, versioned the way Heroku versions them.
//!
//! On Heroku a release is a slug **and** a config: setting or unsetting config vars makes a new
//! release of the running slug (described `Set GREETING config vars`), every release keeps the
//! config it ran with, and rolling back to a release brings its slug and its config back. Here:
//!
//! - `config_vars` holds the app's config now; each release row holds a JSON snapshot of the
//!   config it was made with ([`snapshot`], called by every release of a slug);
//! - [`Store::update_config_vars`] changes the config and makes the release in one transaction,
//!   so no reader sees a config without its release;
//! - [`restore`] puts a release's config back, for a rollback to it.
//!
//! Releases made before snapshots were kept have none (`NULL`): rolling back to one keeps the
//! config as it is, and reading its config answers the app's current one, as before.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::apps::app_in;
use super::records::ReleaseRecord;
use super::releases::{mark_current, release_in, settle};
use super::store::{Store, invalid, now};
use crate::manifest::names::{CONFIG_VAR_PATTERN, is_config_var};
use crate::platform::{ConfigChanges, PlatformError};

impl Store {
    /// The app's config vars now.
    pub fn config_vars(&self, app: &str) -> Result<BTreeMap<String, String>, PlatformError> {
        let record = self.app(app)?;
        let conn = self.conn();
        config_in(&conn, &record.id, self)
    }

    /// The config vars release `release` (id or version) of `app` was made with.
    pub fn release_config_vars(
        &self,
        app: &str,
        release: &str,
    ) -> Result<BTreeMap<String, String>, PlatformError> {
        let record = self.app(app)?;
        let conn = self.conn();
        let release = release_in(&conn, &record, release, self)?;
        match snapshot_of(&conn, &release.id, self)? {
            Some(config) => Ok(config),
            None => config_in(&conn, &record.id, self),
        }
    }

    /// Sets (`Some`) and unsets (`None`) config vars and makes the release that carries the
    /// new config with the running slug, as Heroku does; returns the config after. An empty
    /// change makes no release.
    pub fn update_config_vars(
        &self,
        app: &str,
        changes: &ConfigChanges,
    ) -> Result<BTreeMap<String, String>, PlatformError> {
        if let Some(bad) = changes.keys().find(|k| !is_config_var(k)) {
            return Err(invalid(format!(
                "config var name {bad:?} must match {CONFIG_VAR_PATTERN}"
            )));
        }
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            if changes.is_empty() {
                return config_in(tx, &app.id, self);
            }
            settle(tx, &app.id, self)?;
            for (key, value) in changes {
                match value {
                    Some(value) => tx.execute(
                        "INSERT INTO config_vars (app_id, key, value) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
                        params![app.id, key, value],
                    ),
                    None => tx.execute(
                        "DELETE FROM config_vars WHERE app_id = ?1 AND key = ?2",
                        params![app.id, key],
                    ),
                }
                .map_err(self.err("cannot write config vars"))?;
            }
            self.config_release(tx, &app.id, &crate::platform::config_description(changes))?;
            config_in(tx, &app.id, self)
        })
    }

    /// The release a config change makes: the running slug (none, on an app that never ran
    /// one) with the app's config now, succeeded and current at once.
    fn config_release(
        &self,
        tx: &Transaction<'_>,
        app_id: &str,
        description: &str,
    ) -> Result<ReleaseRecord, PlatformError> {
        let slug_id: Option<String> = tx
            .query_row(
                "SELECT slug_id FROM releases WHERE app_id = ?1 AND current = 1",
                [app_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.err("cannot read the current release"))?
            .flatten();
        let version: u64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = ?1",
                [app_id],
                |row| row.get(0),
            )
            .map_err(self.err("cannot number the release"))?;
        let id = uuid::Uuid::new_v4().to_string();
        tx.execute(
            "INSERT INTO releases (id, app_id, version, slug_id, description, status, current, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'succeeded', 0, ?6, ?6)",
            params![id, app_id, version, slug_id, description, now()],
        )
        .map_err(self.err("cannot write the release"))?;
        snapshot(tx, &id, app_id, self)?;
        mark_current(tx, app_id, self)?;
        let app = app_in(tx, app_id, self)?;
        release_in(tx, &app, &id, self)
    }
}

/// The config vars of app `app_id` now.
pub(crate) fn config_in(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<BTreeMap<String, String>, PlatformError> {
    let mut stmt = conn
        .prepare("SELECT key, value FROM config_vars WHERE app_id = ?1 ORDER BY key")
        .map_err(store.err("cannot read config vars"))?;
    stmt.query_map([app_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(store.err("cannot read config vars"))
}

/// Records on release `release_id` the config app `app_id` has now: what the release runs with.
pub(crate) fn snapshot(
    tx: &Connection,
    release_id: &str,
    app_id: &str,
    store: &Store,
) -> Result<(), PlatformError> {
    let config = config_in(tx, app_id, store)?;
    let json = serde_json::to_string(&config).expect("a string map serialises");
    tx.execute(
        "UPDATE releases SET config = ?2 WHERE id = ?1",
        params![release_id, json],
    )
    .map_err(store.err("cannot record the release's config"))?;
    Ok(())
}

/// Gives app `app_id` the config release `release_id` was made with, for a rollback to it;
/// a release without a recorded config leaves the config as it is.
pub(crate) fn restore(
    tx: &Connection,
    app_id: &str,
    release_id: &str,
    store: &Store,
) -> Result<(), PlatformError> {
    let Some(config) = snapshot_of(tx, release_id, store)? else {
        return Ok(());
    };
    tx.execute("DELETE FROM config_vars WHERE app_id = ?1", [app_id])
        .map_err(store.err("cannot restore config vars"))?;
    for (key, value) in &config {
        tx.execute(
            "INSERT INTO config_vars (app_id, key, value) VALUES (?1, ?2, ?3)",
            params![app_id, key, value],
        )
        .map_err(store.err("cannot restore config vars"))?;
    }
    Ok(())
}

/// The config recorded on release `release_id`, if one was.
fn snapshot_of(
    conn: &Connection,
    release_id: &str,
    store: &Store,
) -> Result<Option<BTreeMap<String, String>>, PlatformError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT config FROM releases WHERE id = ?1",
            [release_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(store.err("cannot read the release's config"))?
        .flatten();
    json.map(|json| {
        serde_json::from_str(&json).map_err(|e| PlatformError::Storage {
            message: format!("release {release_id} has a malformed config snapshot"),
            source: Some(Box::new(e)),
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config_description as description;

    fn changes(pairs: &[(&str, Option<&str>)]) -> ConfigChanges {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn descriptions_read_like_herokus() {
        assert_eq!(
            description(&changes(&[("GREETING", Some("hi"))])),
            "Set GREETING config vars"
        );
        assert_eq!(
            description(&changes(&[("A", Some("1")), ("B", Some("2"))])),
            "Set A, B config vars"
        );
        assert_eq!(
            description(&changes(&[("OLD", None)])),
            "Remove OLD config vars"
        );
        assert_eq!(
            description(&changes(&[("A", Some("1")), ("OLD", None)])),
            "Set A and remove OLD config vars"
        );
    }
}
