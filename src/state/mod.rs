//! slugplan's own durable state, next to the manifest in `.slugplan/state/`.
//!
//! - `state.db` (SQLite): uploads slugplan made (so a slug already on the platform is released
//!   by id instead of uploaded again, even after a crash between upload and release), the
//!   releases it made (so drift can be told apart from its own work, a rollback knows the
//!   release it went back to, and the apps it deployed are known after they leave the
//!   manifest), the pipeline promotions it started (so an interrupted one is polled again, never
//!   repeated), the config var keys it manages on each app (so a key no longer declared is
//!   unset, and one changed by hand is drift; values only as keyed hashes, never in clear), the
//!   workspace's random key for those hashes, and an append-only audit log of every apply,
//!   promotion, rollback and destroy (`slugplan history`).
//! - `apply.lock`: an exclusive file lock held for the whole of an apply; its content names the
//!   holder (pid, host, command, start time) so a second apply can say who is in the way.
//!
//! [`State`] owns its database connection (internally synchronised), so every caller shares it
//! as `&State`, and its methods are the domain's operations (find an upload, record a release,
//! begin an apply): nothing above this module sees SQL or a connection. The database is opened
//! through [`crate::sqlite`]: an append-only migration list under `pragma user_version` applied
//! in one exclusive transaction, and a file written by a newer slugplan refused, untouched.

mod config;
mod lock;
mod promotions;

pub use config::ManagedVar;
pub use lock::{ApplyLock, LockHolder};
pub use promotions::Promotions;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::build::key::SlugKey;
use crate::sqlite::{Database, Schema, SqliteError};

/// The state database: how it is opened and its migrations.
const SCHEMA: Schema = Schema {
    name: "state",
    busy_timeout: Duration::from_secs(10),
    pragmas: &[],
    migrations: MIGRATIONS,
};

/// Migrations, in order. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: uploads, releases made, and the audit log.
    "CREATE TABLE uploads (
        platform TEXT NOT NULL,
        checksum TEXT NOT NULL,
        stack TEXT NOT NULL,
        process_types TEXT NOT NULL,
        slug_id TEXT NOT NULL,
        app TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (platform, checksum, stack, process_types)
    );
    CREATE TABLE releases (
        platform TEXT NOT NULL,
        release_id TEXT NOT NULL,
        app TEXT NOT NULL,
        version INTEGER NOT NULL,
        checksum TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (platform, release_id)
    );
    CREATE TABLE applies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        command TEXT NOT NULL,
        platform TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        outcome TEXT
    );
    CREATE TABLE events (
        apply_id INTEGER NOT NULL REFERENCES applies(id),
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (apply_id, seq)
    );",
    // 2: the input key of each slug's last build, so a rebuild can say what changed.
    "CREATE TABLE slug_keys (
        slug TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        parts TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );",
    // 3: the pipeline promotions slugplan started, recorded before they are polled, so an
    // interrupted apply polls one again instead of promoting twice.
    "CREATE TABLE promotions (
        platform TEXT NOT NULL,
        promotion_id TEXT NOT NULL,
        source_release_id TEXT NOT NULL,
        target_app_ids TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (platform, promotion_id)
    );
    CREATE INDEX promotions_by_source ON promotions (platform, source_release_id);",
    // 4: what a rollback slugplan made went back to, so a plan can say the app runs an older
    // release than declared (and not call a rollback's fresh timestamp a newer slug).
    "ALTER TABLE releases ADD COLUMN restores_version INTEGER;
    ALTER TABLE releases ADD COLUMN restores_created_at TEXT;",
    // 5: the workspace's key for keyed hashes of config values, and the config var keys
    // slugplan manages per app with the hash of the value it last set (NULL: set, not yet
    // confirmed); `removed`: it unset the key since, and unsets it again wherever it shows up.
    "CREATE TABLE value_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        key TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE config_keys (
        platform TEXT NOT NULL,
        app TEXT NOT NULL,
        key TEXT NOT NULL,
        sensitive INTEGER NOT NULL,
        digest TEXT,
        removed INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (platform, app, key)
    );",
];

/// Errors of the local state.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// The database could not be opened or migrated, or was written by a newer slugplan.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Open(#[from] Box<SqliteError>),
    /// A query failed.
    #[error("state database {} failed", path.display())]
    #[diagnostic(help(
        "the state only speeds deploys up and records history; move it aside if it is damaged"
    ))]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The state directory could not be created.
    #[error("cannot create state directory {}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record of the state makes no sense (written by hand, or damaged).
    #[error("state database {} is damaged: {what}", path.display())]
    #[diagnostic(help(
        "move the state aside (slugplan then forgets the keys it manages and its uploads)"
    ))]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Another apply holds the lock.
    #[error("another apply is running: {holder}")]
    #[diagnostic(help(
        "wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock"
    ))]
    Locked {
        /// Who holds it.
        holder: LockHolder,
    },
}

/// A slug slugplan uploaded to a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedUpload {
    /// The slug id on the platform.
    pub slug_id: String,
    /// The app it was created through.
    pub app: String,
}

/// The release a rollback slugplan made went back to. The rollback is a new release, but what
/// it runs is as old as this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRollback {
    /// The version rolled back to.
    pub version: u64,
    /// When that release was made (RFC 3339).
    pub created_at: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyRecord {
    /// The apply's number.
    pub id: i64,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (None if it was killed).
    pub finished_at: Option<String>,
    /// The command line that ran it.
    pub command: String,
    /// The platform it applied to.
    pub platform: String,
    /// The manifest's SHA-256.
    pub manifest_sha256: String,
    /// `succeeded`, `failed: …`, or None when interrupted.
    pub outcome: Option<String>,
    /// What each step did, in order.
    pub events: Vec<ApplyEvent>,
}

/// One step's outcome within an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyEvent {
    /// When (RFC 3339).
    pub at: String,
    /// The step's address.
    pub address: String,
    /// The planned action.
    pub action: String,
    /// `done`, `skipped` or `failed`.
    pub outcome: String,
    /// Details: ids, checksums, errors.
    pub detail: String,
}

/// An open state database. Shared by `&State` between the steps of an apply, which run on
/// many tasks at once: each method holds the connection for its own statements only.
#[derive(Debug)]
pub struct State {
    db: Database,
}

impl State {
    /// Opens (creating and migrating as needed) the state in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let db = Database::open(&dir.join("state.db"), &SCHEMA).map_err(Box::new)?;
        Ok(State { db })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        |source| StateError::Sqlite {
            path: self.db.path().to_owned(),
            source,
        }
    }

    /// A slug slugplan already uploaded to `platform` with this checksum, stack and process
    /// types (all three identify it: the same archive with other process types is another slug).
    pub fn find_upload(
        &self,
        platform: &str,
        checksum: &str,
        stack: &str,
        process_types: &BTreeMap<String, String>,
    ) -> Result<Option<RecordedUpload>, StateError> {
        let process_types = process_types_key(process_types);
        self.db
            .conn()
            .query_row(
                "SELECT slug_id, app FROM uploads
                 WHERE platform = ?1 AND checksum = ?2 AND stack = ?3 AND process_types = ?4",
                params![platform, checksum, stack, process_types],
                |row| {
                    Ok(RecordedUpload {
                        slug_id: row.get(0)?,
                        app: row.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Records a finished upload (after the archive is on the platform, never before).
    pub fn record_upload(
        &self,
        platform: &str,
        checksum: &str,
        stack: &str,
        process_types: &BTreeMap<String, String>,
        upload: &RecordedUpload,
    ) -> Result<(), StateError> {
        let process_types = process_types_key(process_types);
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO uploads VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    platform,
                    checksum,
                    stack,
                    process_types,
                    upload.slug_id,
                    upload.app,
                    now()
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Forgets a recorded upload that turned out not to exist on the platform any more.
    pub fn forget_upload(&self, platform: &str, slug_id: &str) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "DELETE FROM uploads WHERE platform = ?1 AND slug_id = ?2",
                params![platform, slug_id],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Records a release slugplan made.
    pub fn record_release(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
    ) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO releases
                 (platform, release_id, app, version, checksum, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![platform, release_id, app, version as i64, checksum, now()],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Records a rollback slugplan made: a release of its own, which runs what `restores` ran.
    pub fn record_rollback(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
        restores: &RecordedRollback,
    ) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO releases (platform, release_id, app, version, checksum,
                 created_at, restores_version, restores_created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    platform,
                    release_id,
                    app,
                    version as i64,
                    checksum,
                    now(),
                    restores.version as i64,
                    restores.created_at
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// What release `release_id` went back to, when it is a rollback slugplan made.
    pub fn rollback(
        &self,
        platform: &str,
        release_id: &str,
    ) -> Result<Option<RecordedRollback>, StateError> {
        let row: Option<(Option<i64>, Option<String>)> = self
            .db
            .conn()
            .query_row(
                "SELECT restores_version, restores_created_at FROM releases
                 WHERE platform = ?1 AND release_id = ?2",
                params![platform, release_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        Ok(match row {
            Some((Some(version), Some(created_at))) => Some(RecordedRollback {
                version: u64::try_from(version).unwrap_or_default(),
                created_at,
            }),
            _ => None,
        })
    }

    /// The apps slugplan has released to on `platform` (recorded by name), sorted.
    pub fn deployed_apps(&self, platform: &str) -> Result<BTreeSet<String>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare("SELECT DISTINCT app FROM releases WHERE platform = ?1")
            .map_err(self.err())?;
        stmt.query_map([platform], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err())
    }

    /// Forgets app `app` of `platform` once it is deleted there: the releases slugplan made on
    /// it and the uploads made through it (their slug ids may be gone with it).
    pub fn forget_app(&self, platform: &str, app: &str) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for sql in [
            "DELETE FROM releases WHERE platform = ?1 AND app = ?2",
            "DELETE FROM uploads WHERE platform = ?1 AND app = ?2",
        ] {
            tx.execute(sql, params![platform, app])
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Whether slugplan made release `release_id` on `platform`.
    pub fn made_release(&self, platform: &str, release_id: &str) -> Result<bool, StateError> {
        self.db
            .conn()
            .query_row(
                "SELECT 1 FROM releases WHERE platform = ?1 AND release_id = ?2",
                params![platform, release_id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.err())
    }

    /// The input key recorded for slug `slug` by the last plan that built or found it.
    pub fn slug_key(&self, slug: &str) -> Result<Option<SlugKey>, StateError> {
        let row: Option<(String, String)> = self
            .db
            .conn()
            .query_row(
                "SELECT key, parts FROM slug_keys WHERE slug = ?1",
                [slug],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        Ok(row.and_then(|(key, parts)| {
            Some(SlugKey {
                key,
                parts: serde_json::from_str(&parts).ok()?,
            })
        }))
    }

    /// Records slug `slug`'s current input key.
    pub fn record_slug_key(&self, slug: &str, key: &SlugKey) -> Result<(), StateError> {
        let parts = serde_json::to_string(&key.parts).expect("a string map serialises");
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO slug_keys VALUES (?1, ?2, ?3, ?4)",
                params![slug, key.key, parts, now()],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Starts an audit-log entry and returns its id.
    pub fn begin_apply(
        &self,
        command: &str,
        platform: &str,
        manifest_sha256: &str,
    ) -> Result<i64, StateError> {
        // One guard for both: the row id is the connection's last insert.
        let conn = self.db.conn();
        conn.execute(
            "INSERT INTO applies (started_at, command, platform, manifest_sha256)
             VALUES (?1, ?2, ?3, ?4)",
            params![now(), command, platform, manifest_sha256],
        )
        .map_err(self.err())?;
        Ok(conn.last_insert_rowid())
    }

    /// Appends a step's outcome to apply `apply_id`.
    pub fn record_event(
        &self,
        apply_id: i64,
        address: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "INSERT INTO events (apply_id, seq, at, address, action, outcome, detail)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE apply_id = ?1),
                         ?2, ?3, ?4, ?5, ?6)",
                params![apply_id, now(), address, action, outcome, detail],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// Closes apply `apply_id` with its outcome.
    pub fn finish_apply(&self, apply_id: i64, outcome: &str) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "UPDATE applies SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
                params![apply_id, now(), outcome],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The audit log, newest first, at most `limit` entries.
    pub fn history(&self, limit: usize) -> Result<Vec<ApplyRecord>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, started_at, finished_at, command, platform, manifest_sha256, outcome
                 FROM applies ORDER BY id DESC LIMIT ?1",
            )
            .map_err(self.err())?;
        let mut records = stmt
            .query_map([limit as i64], |row| {
                Ok(ApplyRecord {
                    id: row.get(0)?,
                    started_at: row.get(1)?,
                    finished_at: row.get(2)?,
                    command: row.get(3)?,
                    platform: row.get(4)?,
                    manifest_sha256: row.get(5)?,
                    outcome: row.get(6)?,
                    events: Vec::new(),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.err())?;
        let mut events = conn
            .prepare(
                "SELECT at, address, action, outcome, detail FROM events
                 WHERE apply_id = ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        for record in &mut records {
            record.events = events
                .query_map([record.id], |row| {
                    Ok(ApplyEvent {
                        at: row.get(0)?,
                        address: row.get(1)?,
                        action: row.get(2)?,
                        outcome: row.get(3)?,
                        detail: row.get(4)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err())?;
        }
        Ok(records)
    }
}

/// The process types as a canonical string: part of the key of a recorded upload. serde_json
/// writes a `BTreeMap` in key order, so equal maps give equal keys.
fn process_types_key(process_types: &BTreeMap<String, String>) -> String {
    serde_json::to_string(process_types).expect("a string map serialises")
}

/// Now, in RFC 3339 (UTC, whole seconds).
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> BTreeMap<String, String> {
        BTreeMap::from([("web".to_owned(), "./server".to_owned())])
    }

    #[test]
    fn migrating_twice_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let upload = RecordedUpload {
            slug_id: "s-1".into(),
            app: "web-staging".into(),
        };
        state
            .record_upload("local", "SHA256:aa", "heroku-24", &web(), &upload)
            .unwrap();
        drop(state);
        let state = State::open(dir.path()).unwrap();
        let version: usize = state
            .db
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        assert_eq!(
            state
                .find_upload("local", "SHA256:aa", "heroku-24", &web())
                .unwrap(),
            Some(upload)
        );
        assert_eq!(
            state
                .find_upload("local", "SHA256:aa", "heroku-22", &web())
                .unwrap(),
            None,
            "another stack is another slug"
        );
        assert_eq!(
            state
                .find_upload("local", "SHA256:aa", "heroku-24", &BTreeMap::new())
                .unwrap(),
            None,
            "other process types are another slug"
        );
    }

    #[test]
    fn a_state_written_by_a_newer_slugplan_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let apply = state.begin_apply("slugplan apply", "local", "m1").unwrap();
        drop(state);
        let path = dir.path().join("state.db");
        let newer = MIGRATIONS.len() + 1;
        // What a newer slugplan leaves: one more migration applied (closing checkpoints the WAL
        // into the file, so the bytes below are the whole database).
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE from_the_future (x TEXT);")
            .unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();

        let err = State::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StateError::Open(open) if matches!(**open, SqliteError::Newer { found, .. } if found == newer)),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("newer than this slugplan knows"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is untouched"
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, newer, "the version is not written back down");
        let kept: i64 = conn
            .query_row("SELECT id FROM applies", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, apply);
    }

    #[test]
    fn one_state_is_shared_by_reference_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<State>();
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let apply = state.begin_apply("slugplan apply", "local", "m").unwrap();
        std::thread::scope(|scope| {
            for n in 0..8 {
                let state = &state;
                scope.spawn(move || {
                    state
                        .record_event(apply, &format!("release.a{n}"), "release", "done", "")
                        .unwrap();
                });
            }
        });
        let history = state.history(1).unwrap();
        let mut seen: Vec<&str> = history[0]
            .events
            .iter()
            .map(|e| e.address.as_str())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen.len(), 8, "{seen:?}");
    }

    #[test]
    fn a_rollback_remembers_what_it_went_back_to_and_forgetting_an_app_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        state
            .record_release("local", "web-prod", "r1", 1, Some("SHA256:aa"))
            .unwrap();
        let restored = RecordedRollback {
            version: 1,
            created_at: "2026-11-25T10:00:00Z".into(),
        };
        state
            .record_rollback("local", "web-prod", "r3", 3, Some("SHA256:aa"), &restored)
            .unwrap();
        state
            .record_release("other", "web-elsewhere", "x1", 1, None)
            .unwrap();
        assert!(state.made_release("local", "r3").unwrap(), "slugplan's own");
        assert_eq!(state.rollback("local", "r3").unwrap(), Some(restored));
        assert_eq!(
            state.rollback("local", "r1").unwrap(),
            None,
            "not a rollback"
        );
        assert_eq!(
            state.deployed_apps("local").unwrap(),
            BTreeSet::from(["web-prod".to_owned()])
        );
        let upload = RecordedUpload {
            slug_id: "s-1".into(),
            app: "web-prod".into(),
        };
        state
            .record_upload("local", "SHA256:aa", "heroku-24", &web(), &upload)
            .unwrap();

        state.forget_app("local", "web-prod").unwrap();
        assert!(state.deployed_apps("local").unwrap().is_empty());
        assert!(!state.made_release("local", "r3").unwrap());
        assert_eq!(
            state
                .find_upload("local", "SHA256:aa", "heroku-24", &web())
                .unwrap(),
            None,
            "its slug ids may have gone with it"
        );
        assert_eq!(state.deployed_apps("other").unwrap().len(), 1);
    }

    #[test]
    fn history_lists_applies_newest_first_with_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let first = state.begin_apply("slugplan apply", "local", "m1").unwrap();
        state
            .record_event(first, "release.a", "release", "done", "v1")
            .unwrap();
        state.finish_apply(first, "succeeded").unwrap();
        let second = state.begin_apply("slugplan apply", "local", "m2").unwrap();
        state
            .record_event(second, "upload.web→a", "upload", "done", "slug s1")
            .unwrap();
        state
            .record_event(second, "release.a", "release", "failed", "boom")
            .unwrap();
        let history = state.history(10).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].id, second);
        assert_eq!(
            history[0].outcome, None,
            "an unfinished apply has no outcome"
        );
        assert_eq!(history[0].events.len(), 2);
        assert_eq!(history[0].events[1].outcome, "failed");
        assert_eq!(history[1].outcome.as_deref(), Some("succeeded"));
    }
}
