//! SQLite, opened and migrated one way for every database slugplan keeps: the state
//! (`.slugplan/state/state.db`) and the local platform (`platform.db`).
//!
//! Guarantees, for each `Schema`:
//!
//! - **WAL and a busy timeout.** Readers run beside one writer, and a second process (a
//!   `slugplan server` beside a CLI, two CLIs) waits for the writer instead of failing.
//! - **An append-only migration list under `pragma user_version`.** `user_version` counts the
//!   migrations applied. The missing ones run inside one exclusive transaction that also records
//!   the new version, so two processes opening a fresh file at once never apply one twice, and
//!   a migration interrupted by a crash leaves the file as it was. A migration is never edited
//!   or reordered once released: append a new one.
//! - **A newer schema is refused, untouched.** A file whose `user_version` is higher than the
//!   migrations this slugplan knows was written by a newer slugplan. It is refused with
//!   [`SqliteError::Newer`] before anything is written to it (not even the journal mode), so the
//!   newer slugplan still finds its own schema; writing the version back down would make it
//!   re-apply its migrations over its own tables.
//! - **One owner of the connection.** `Database` holds it behind a mutex with the crate's one
//!   poison policy (`crate::sync::lock`), so its owner (`State`, the local platform's store)
//!   can be shared by `&` reference across threads and tasks.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

/// What one kind of database is: its name for messages, the pragmas it runs with, and its
/// migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// What the database holds, for messages: `state`, `local platform`.
    pub(crate) name: &'static str,
    /// How long a writer waits for another connection's transaction before giving up.
    pub(crate) busy_timeout: Duration,
    /// Pragmas set on every connection after WAL, e.g. `("foreign_keys", "ON")`.
    pub(crate) pragmas: &'static [(&'static str, &'static str)],
    /// The migrations, in order; `user_version` is how many of them have run. Append only.
    pub(crate) migrations: &'static [&'static str],
}

impl Schema {
    /// The `user_version` of an up-to-date database.
    pub(crate) fn version(&self) -> usize {
        self.migrations.len()
    }
}

/// Errors opening or migrating a database.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SqliteError {
    /// SQLite failed while opening, configuring or migrating the file.
    #[error("{schema} database {}: cannot {doing}", path.display())]
    Sqlite {
        /// What the database holds.
        schema: &'static str,
        /// The file.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer slugplan: its schema is ahead of the migrations known here.
    #[error(
        "the {schema} database {} has schema version {found}, newer than this slugplan knows ({known})",
        path.display()
    )]
    #[diagnostic(
        code(slugplan::sqlite::newer_schema),
        help("upgrade slugplan to the version that wrote it; the file was left untouched")
    )]
    Newer {
        /// What the database holds.
        schema: &'static str,
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: usize,
        /// The migrations this slugplan knows.
        known: usize,
    },
}

/// An open, migrated database and its one connection.
#[derive(Debug)]
pub(crate) struct Database {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Database {
    /// Opens (creating if needed) the database at `path` and brings it up to `schema`, or
    /// refuses it, unchanged, when it is newer (see the module docs).
    pub(crate) fn open(path: &Path, schema: &Schema) -> Result<Database, SqliteError> {
        let fail = |doing| failure(path, schema, doing);
        let mut conn = Connection::open(path).map_err(fail("open it"))?;
        conn.busy_timeout(schema.busy_timeout)
            .map_err(fail("set the busy timeout"))?;
        // Read before anything writes: switching to WAL rewrites the header of a file that
        // is not in WAL mode yet, and a newer slugplan's file must stay byte for byte as it was.
        let found = check_version(&conn, path, schema, fail("read the schema version"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail("switch to WAL mode"))?;
        for (pragma, value) in schema.pragmas {
            conn.pragma_update(None, pragma, value)
                .map_err(fail("set a pragma"))?;
        }
        if found < schema.version() {
            migrate(&mut conn, path, schema)?;
        }
        Ok(Database {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The connection; keep the guard short, other threads and tasks wait on it.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        crate::sync::lock(&self.conn)
    }
}

/// A SQLite error of `schema`'s file at `path`, while doing `doing`.
fn failure<'a>(
    path: &'a Path,
    schema: &'a Schema,
    doing: &'static str,
) -> impl FnOnce(rusqlite::Error) -> SqliteError + 'a {
    move |source| SqliteError::Sqlite {
        schema: schema.name,
        path: path.to_owned(),
        doing,
        source,
    }
}

/// Refuses a database whose `user_version` is ahead of `schema`; returns the version.
fn check_version(
    conn: &Connection,
    path: &Path,
    schema: &Schema,
    fail: impl FnOnce(rusqlite::Error) -> SqliteError,
) -> Result<usize, SqliteError> {
    let found: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(fail)?;
    if found > schema.version() {
        return Err(SqliteError::Newer {
            schema: schema.name,
            path: path.to_owned(),
            found,
            known: schema.version(),
        });
    }
    Ok(found)
}

/// Applies the migrations the file has not seen, and records the new version, in one exclusive
/// transaction. The version is read again inside it: another process may have migrated (or a
/// newer slugplan written) the file since it was opened.
fn migrate(conn: &mut Connection, path: &Path, schema: &Schema) -> Result<(), SqliteError> {
    let fail = |doing| failure(path, schema, doing);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(fail("lock the file to migrate it"))?;
    let applied = check_version(&tx, path, schema, fail("read the schema version"))?;
    if applied == schema.version() {
        // Another process migrated it meanwhile: end the transaction without writing.
        return tx.rollback().map_err(fail("end the migration transaction"));
    }
    for migration in &schema.migrations[applied..] {
        tx.execute_batch(migration)
            .map_err(fail("apply a schema migration"))?;
    }
    tx.pragma_update(None, "user_version", schema.version())
        .map_err(fail("record the schema version"))?;
    tx.commit().map_err(fail("commit the schema migration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        name: "test",
        busy_timeout: Duration::from_secs(1),
        pragmas: &[("foreign_keys", "ON")],
        migrations: &[
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);",
            "ALTER TABLE notes ADD COLUMN author TEXT;",
        ],
    };

    fn user_version(path: &Path) -> usize {
        Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn migrations_run_once_in_order_and_keep_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let first = Schema {
            migrations: &SCHEMA.migrations[..1],
            ..SCHEMA
        };
        let db = Database::open(&path, &first).unwrap();
        db.conn()
            .execute("INSERT INTO notes (text) VALUES ('kept')", [])
            .unwrap();
        drop(db);
        assert_eq!(user_version(&path), 1);

        // A newer slugplan appends a migration; opening twice applies it once.
        for _ in 0..2 {
            let db = Database::open(&path, &SCHEMA).unwrap();
            let (text, author): (String, Option<String>) = db
                .conn()
                .query_row("SELECT text, author FROM notes", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .unwrap();
            assert_eq!((text.as_str(), author), ("kept", None));
            let mode: String = db
                .conn()
                .pragma_query_value(None, "journal_mode", |row| row.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            let foreign_keys: bool = db
                .conn()
                .pragma_query_value(None, "foreign_keys", |row| row.get(0))
                .unwrap();
            assert!(foreign_keys, "the schema's pragmas are set");
        }
        assert_eq!(user_version(&path), 2);
    }

    #[test]
    fn a_newer_file_is_refused_and_left_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        // Written by a "newer" slugplan, in rollback-journal mode, so even switching to WAL
        // would change its bytes.
        let newer = Connection::open(&path).unwrap();
        newer
            .execute_batch("CREATE TABLE future (x); PRAGMA user_version = 7;")
            .unwrap();
        drop(newer);
        let before = std::fs::read(&path).unwrap();

        let err = Database::open(&path, &SCHEMA).unwrap_err();
        assert!(
            matches!(
                err,
                SqliteError::Newer {
                    found: 7,
                    known: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the test database {} has schema version 7, newer than this slugplan knows (2)",
                path.display()
            )
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is untouched"
        );
        assert_eq!(user_version(&path), 7);
    }
}
