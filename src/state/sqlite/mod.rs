//! The local state: SQLite in `.slugplan/state/state.db` beside the manifest, and the apply
//! lock on `.slugplan/state/apply.lock` (see `lock.rs`). The default backend, right for one
//! person's checkout.
//!
//! [`SqliteState`] owns its connection (internally synchronised), so the steps of an apply
//! share it by reference. The file is opened through [`crate::sqlite`]: an append-only migration
//! list under `pragma user_version` applied in one exclusive transaction, and a file written by
//! a newer slugplan refused, untouched. Every operation is one statement, or one transaction
//! (an import), and runs in place: SQLite answers in microseconds, so the async methods never
//! wait on anything but the connection's mutex.

mod copy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::config::stored_value_key;
use super::lock::FileLock;
use super::snapshot::{PromotionRow, SlugKeyRow, Snapshot, StateCounts};
use super::{
    ApplyEvent, ApplyLock, ApplyRecord, Location, LockHolder, MadeReleases, ManagedVar,
    RecordedRollback, RecordedUpload, SlugIdentity, StartedRelease, State, StateError, StateStatus,
    now,
};
use crate::build::key::SlugKey;
use crate::release::StartedPromotion;
use crate::sensitive::{Digest, ValueKey};
use crate::sqlite::{Database, Schema};

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
    // 6: the releases slugplan asked for and has not recorded yet, written before the request
    // is sent, so a release the platform made just before slugplan died is still its own.
    "CREATE TABLE started_releases (
        platform TEXT NOT NULL,
        app TEXT NOT NULL,
        slug_id TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (platform, app, slug_id, description)
    );",
];

/// The SQLite state. Shared by `&` between the steps of an apply, which run on many tasks at
/// once: each method holds the connection for its own statements only.
#[derive(Debug)]
pub struct SqliteState {
    db: Database,
    /// The directory: the database file and the lock file.
    dir: PathBuf,
    location: Location,
}

impl SqliteState {
    /// Opens (creating and migrating as needed) the state in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let db = Database::open(&dir.join("state.db"), &SCHEMA).map_err(Box::new)?;
        Ok(SqliteState {
            db,
            dir: dir.to_owned(),
            location: Location::Local {
                dir: dir.to_owned(),
            },
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        |source| StateError::Sqlite {
            path: self.db.path().to_owned(),
            source,
        }
    }

    /// Runs `insert` (a release slugplan made on `app`) and clears the app's started releases,
    /// in one transaction: the started ones are only needed until a release is recorded.
    fn recorded(
        &self,
        platform: &str,
        app: &str,
        insert: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        tx.execute(insert, params).map_err(self.err())?;
        tx.execute(
            "DELETE FROM started_releases WHERE platform = ?1 AND app = ?2",
            params![platform, app],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    fn counts(&self, conn: &Connection) -> Result<StateCounts, StateError> {
        let count = |table: &str| -> Result<usize, StateError> {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(self.err())
        };
        Ok(StateCounts {
            uploads: count("uploads")?,
            releases: count("releases")?,
            promotions: count("promotions")?,
            slug_keys: count("slug_keys")?,
            config_keys: count("config_keys")?,
            applies: count("applies")?,
            events: count("events")?,
        })
    }

    /// Applies, newest first when `newest_first`, at most `limit`, with their events.
    fn applies(
        &self,
        conn: &Connection,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<ApplyRecord>, StateError> {
        let order = if newest_first { "DESC" } else { "ASC" };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT id, started_at, finished_at, command, platform, manifest_sha256, outcome
                 FROM applies ORDER BY id {order} LIMIT ?1"
            ))
            .map_err(self.err())?;
        let mut records = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
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

#[async_trait]
impl State for SqliteState {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn find_uploads(
        &self,
        platform: &str,
        slugs: &[SlugIdentity<'_>],
    ) -> Result<Vec<Option<RecordedUpload>>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT slug_id, app FROM uploads
                 WHERE platform = ?1 AND checksum = ?2 AND stack = ?3 AND process_types = ?4",
            )
            .map_err(self.err())?;
        slugs
            .iter()
            .map(|slug| {
                stmt.query_row(
                    params![
                        platform,
                        slug.checksum,
                        slug.stack,
                        slug.process_types_key()
                    ],
                    |row| {
                        Ok(RecordedUpload {
                            slug_id: row.get(0)?,
                            app: row.get(1)?,
                        })
                    },
                )
                .optional()
                .map_err(self.err())
            })
            .collect()
    }

    async fn record_upload(
        &self,
        platform: &str,
        slug: SlugIdentity<'_>,
        upload: &RecordedUpload,
    ) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO uploads VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    platform,
                    slug.checksum,
                    slug.stack,
                    slug.process_types_key(),
                    upload.slug_id,
                    upload.app,
                    now()
                ],
            )
            .map(drop)
            .map_err(self.err())
    }

    async fn forget_upload(&self, platform: &str, slug_id: &str) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "DELETE FROM uploads WHERE platform = ?1 AND slug_id = ?2",
                params![platform, slug_id],
            )
            .map(drop)
            .map_err(self.err())
    }

    async fn record_release(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
    ) -> Result<(), StateError> {
        self.recorded(
            platform,
            app,
            "INSERT OR REPLACE INTO releases
             (platform, release_id, app, version, checksum, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![platform, release_id, app, version as i64, checksum, now()],
        )
    }

    async fn record_rollback(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
        restores: &RecordedRollback,
    ) -> Result<(), StateError> {
        self.recorded(
            platform,
            app,
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
    }

    async fn record_started_releases(
        &self,
        platform: &str,
        started: &[StartedRelease],
    ) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for release in started {
            tx.execute(
                "INSERT OR REPLACE INTO started_releases VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    platform,
                    release.app,
                    release.slug_id,
                    release.description,
                    now()
                ],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    async fn started_releases(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<Vec<StartedRelease>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT slug_id, description FROM started_releases
                 WHERE platform = ?1 AND app = ?2 ORDER BY created_at, rowid",
            )
            .map_err(self.err())?;
        let mut started = Vec::new();
        for app in apps {
            let rows = stmt
                .query_map(params![platform, app], |row| {
                    Ok(StartedRelease {
                        app: (*app).to_owned(),
                        slug_id: row.get(0)?,
                        description: row.get(1)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(self.err())?;
            started.extend(rows);
        }
        Ok(started)
    }

    async fn made_releases(
        &self,
        platform: &str,
        release_ids: &[&str],
    ) -> Result<MadeReleases, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT restores_version, restores_created_at FROM releases
                 WHERE platform = ?1 AND release_id = ?2",
            )
            .map_err(self.err())?;
        let mut made = MadeReleases::new();
        for id in release_ids {
            let row: Option<(Option<i64>, Option<String>)> = stmt
                .query_row(params![platform, id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(self.err())?;
            if let Some(restores) = row {
                made.insert(
                    (*id).to_owned(),
                    RecordedRollback::from_columns(restores.0, restores.1),
                );
            }
        }
        Ok(made)
    }

    async fn deployed_apps(&self, platform: &str) -> Result<BTreeSet<String>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare("SELECT DISTINCT app FROM releases WHERE platform = ?1")
            .map_err(self.err())?;
        stmt.query_map([platform], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err())
    }

    async fn forget_app(&self, platform: &str, app: &str) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for sql in [
            "DELETE FROM releases WHERE platform = ?1 AND app = ?2",
            "DELETE FROM uploads WHERE platform = ?1 AND app = ?2",
            "DELETE FROM started_releases WHERE platform = ?1 AND app = ?2",
        ] {
            tx.execute(sql, params![platform, app])
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    async fn record_promotion(
        &self,
        platform: &str,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<(), StateError> {
        let targets = serde_json::to_string(target_app_ids).expect("strings serialise");
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO promotions VALUES (?1, ?2, ?3, ?4, ?5)",
                params![platform, promotion_id, source_release_id, targets, now()],
            )
            .map(drop)
            .map_err(self.err())
    }

    async fn promotions_of(
        &self,
        platform: &str,
        source_release_id: &str,
    ) -> Result<Vec<StartedPromotion>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare(
                "SELECT promotion_id, target_app_ids FROM promotions
                 WHERE platform = ?1 AND source_release_id = ?2 ORDER BY created_at, rowid",
            )
            .map_err(self.err())?;
        stmt.query_map(params![platform, source_release_id], |row| {
            Ok(PromotionRow::started(
                row.get(0)?,
                &row.get::<_, String>(1)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(self.err())
    }

    async fn value_key(&self) -> Result<ValueKey, StateError> {
        let hex: String = {
            let conn = self.db.conn();
            // Two processes making it at once: the first insert wins, both read the winner.
            conn.execute(
                "INSERT OR IGNORE INTO value_key (id, key, created_at) VALUES (1, ?1, ?2)",
                params![ValueKey::generate().to_hex(), now()],
            )
            .map_err(self.err())?;
            conn.query_row("SELECT key FROM value_key WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(self.err())?
        };
        stored_value_key(self, &hex)
    }

    async fn managed_config(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, ManagedVar>>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare_cached(
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

    async fn apps_with_managed_config(
        &self,
        platform: &str,
    ) -> Result<BTreeSet<String>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare("SELECT DISTINCT app FROM config_keys WHERE platform = ?1 AND removed = 0")
            .map_err(self.err())?;
        stmt.query_map([platform], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err())
    }

    async fn manage_config(
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

    async fn record_config(
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

    async fn slug_key_hashes(
        &self,
        slugs: &[&str],
    ) -> Result<BTreeMap<String, String>, StateError> {
        let conn = self.db.conn();
        let mut stmt = conn
            .prepare_cached("SELECT key FROM slug_keys WHERE slug = ?1")
            .map_err(self.err())?;
        let mut keys = BTreeMap::new();
        for slug in slugs {
            let key: Option<String> = stmt
                .query_row([slug], |row| row.get(0))
                .optional()
                .map_err(self.err())?;
            if let Some(key) = key {
                keys.insert((*slug).to_owned(), key);
            }
        }
        Ok(keys)
    }

    async fn slug_key(&self, slug: &str) -> Result<Option<SlugKey>, StateError> {
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
        Ok(row.and_then(|(key, parts)| SlugKeyRow::decode(key, &parts)))
    }

    async fn record_slug_key(&self, slug: &str, key: &SlugKey) -> Result<(), StateError> {
        let parts = SlugKeyRow::encode_parts(key);
        self.db
            .conn()
            .execute(
                "INSERT OR REPLACE INTO slug_keys VALUES (?1, ?2, ?3, ?4)",
                params![slug, key.key, parts, now()],
            )
            .map(drop)
            .map_err(self.err())
    }

    async fn begin_apply(
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

    async fn record_event(
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

    async fn finish_apply(&self, apply_id: i64, outcome: &str) -> Result<(), StateError> {
        self.db
            .conn()
            .execute(
                "UPDATE applies SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
                params![apply_id, now(), outcome],
            )
            .map(drop)
            .map_err(self.err())
    }

    async fn history(&self, limit: usize) -> Result<Vec<ApplyRecord>, StateError> {
        self.applies(&self.db.conn(), true, limit)
    }

    async fn lock_applies(
        &self,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<ApplyLock, StateError> {
        Ok(FileLock::acquire(&self.dir, holder, timeout).await?.into())
    }

    async fn status(&self) -> Result<StateStatus, StateError> {
        let conn = self.db.conn();
        let schema_version: usize = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(self.err())?;
        Ok(StateStatus {
            schema_version,
            known_version: SCHEMA.version(),
            lock: FileLock::holder(&self.dir)?,
            counts: self.counts(&conn)?,
        })
    }

    async fn export(&self) -> Result<Snapshot, StateError> {
        self.export_all()
    }

    async fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<(), StateError> {
        self.import_all(snapshot, replace)
    }
}

#[cfg(test)]
mod tests;
