//! The local platform's SQLite database: opening it and its migration list.
//!
//! Guarantees: the schema is built by an append-only list of migrations applied under
//! `pragma user_version` inside one exclusive transaction, so two processes opening a fresh
//! directory at once never apply a migration twice, and a database written by a newer slugplan is
//! refused instead of misread. The connection runs in WAL mode with a busy timeout, so a server
//! and a CLI can share one data directory.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::platform::PlatformError;

/// The schema, one migration per entry. Never edit or reorder an entry once it has shipped:
/// append a new one, because `user_version` records how many have run.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    stack TEXT NOT NULL,
    generation TEXT NOT NULL DEFAULT 'cedar',
    region TEXT NOT NULL DEFAULT 'us',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    released_at TEXT
);
CREATE TABLE slugs (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    checksum TEXT,
    process_types TEXT NOT NULL,
    stack TEXT NOT NULL,
    commit_sha TEXT,
    commit_description TEXT,
    buildpack_description TEXT,
    blob_sha256 TEXT,
    size INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    version INTEGER NOT NULL,
    slug_id TEXT REFERENCES slugs(id),
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 0,
    ready_at INTEGER,
    settles_to TEXT NOT NULL DEFAULT 'succeeded',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, version)
);
CREATE UNIQUE INDEX releases_one_current ON releases (app_id) WHERE current = 1;
CREATE TABLE config_vars (
    app_id TEXT NOT NULL REFERENCES apps(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE TABLE pipelines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE couplings (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    app_id TEXT NOT NULL UNIQUE REFERENCES apps(id),
    stage TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE promotions (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    source_app_id TEXT NOT NULL REFERENCES apps(id),
    source_release_id TEXT NOT NULL REFERENCES releases(id),
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE promotion_targets (
    id TEXT PRIMARY KEY,
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    position INTEGER NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps(id),
    status TEXT NOT NULL,
    error_message TEXT,
    release_id TEXT REFERENCES releases(id)
);
CREATE TABLE blob_urls (
    token TEXT PRIMARY KEY,
    slug_id TEXT NOT NULL REFERENCES slugs(id),
    expires_at INTEGER NOT NULL
);
"];

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, PlatformError> {
    let conn = Connection::open(path).map_err(|e| storage(path, "cannot open the database", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage(path, "cannot set the busy timeout", e))?;
    // WAL lets readers run beside one writer; a second process then waits (busy timeout)
    // instead of failing.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| storage(path, "cannot switch to WAL mode", e))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| storage(path, "cannot enable foreign keys", e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| storage(path, "cannot set synchronous mode", e))?;
    let mut conn = conn;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Applies the migrations that have not run yet, all in one exclusive transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), PlatformError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(|e| storage(path, "cannot lock the database to migrate it", e))?;
    let applied: usize = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| storage(path, "cannot read the schema version", e))?;
    if applied > MIGRATIONS.len() {
        return Err(PlatformError::Storage {
            message: format!(
                "{} has schema version {applied}, newer than this slugplan knows ({}); upgrade slugplan",
                path.display(),
                MIGRATIONS.len()
            ),
            source: None,
        });
    }
    for migration in &MIGRATIONS[applied..] {
        tx.execute_batch(migration)
            .map_err(|e| storage(path, "cannot apply a schema migration", e))?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())
        .map_err(|e| storage(path, "cannot record the schema version", e))?;
    tx.commit()
        .map_err(|e| storage(path, "cannot commit the schema migration", e))
}

/// The number of migrations this slugplan knows (the `user_version` of an up-to-date database).
pub(crate) fn schema_version() -> usize {
    MIGRATIONS.len()
}

/// A storage error naming the database file.
pub(crate) fn storage(
    path: &Path,
    what: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> PlatformError {
    PlatformError::Storage {
        message: format!("{what} ({})", path.display()),
        source: Some(Box::new(source)),
    }
}
