//! The local platform's state in SQLite: the store itself, its transactions, slugs, upload URLs
//! and config vars.
//!
//! Guarantees: every write runs in an `IMMEDIATE` transaction (the write lock is taken up front,
//! so two processes queue on the busy timeout instead of deadlocking), names are validated as the
//! API validates them, and every storage error names the database file. Apps live in `apps.rs`
//! (their deletion in `deletion.rs`), releases in `releases.rs`, config vars in `config.rs`,
//! formation in `formation.rs`, pipelines and promotions in `pipelines.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::LocalOptions;
use super::apps::app_in;
use super::blobs::BlobStore;
use super::db::{self, LazyDatabase};
use super::records::SlugRecord;
use crate::checksum::Checksum;
use crate::platform::PlatformError;

/// The columns [`release_from_row`] reads, in order.
pub(crate) const RELEASE_COLUMNS: &str = "r.id, r.app_id, a.name, r.version, r.slug_id, r.description, \
    r.status, r.current, r.created_at, r.updated_at";

/// The columns [`slug_from_row`] reads, in order.
const SLUG_COLUMNS: &str = "id, app_id, checksum, process_types, stack, commit_sha, \
    commit_description, buildpack_description, blob_sha256, size, created_at, updated_at";

/// What a slug is created with (the API's `POST /apps/{app}/slugs` body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlugParams {
    /// Process types: name → command.
    pub process_types: BTreeMap<String, String>,
    /// `SHA256:<64 lowercase hex>`, if declared.
    pub checksum: Option<String>,
    /// Stack name; the app's stack when absent.
    pub stack: Option<String>,
    /// Commit.
    pub commit: Option<String>,
    /// Commit description.
    pub commit_description: Option<String>,
    /// Buildpack description.
    pub buildpack_provided_description: Option<String>,
}

/// The database and blob directory of one local platform.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    db: LazyDatabase,
    pub(crate) blobs: BlobStore,
    pub(crate) options: LocalOptions,
    /// Releases attempted through this store, for `fail_release_every`.
    pub(crate) releases_made: AtomicU64,
}

impl Store {
    /// Opens the store in `dir`: `dir/platform.db` and `dir/blobs/`, creating them.
    pub(crate) fn open(dir: &Path) -> Result<Store, PlatformError> {
        let store = Self::open_lazily(dir)?;
        store.db.for_writing()?;
        Ok(store)
    }

    /// Opens the store in `dir` without creating anything: the database is created by the
    /// first write ([`LazyDatabase`]); until then the platform reads as empty. The temp files
    /// of uploads that a killed process left behind are removed (when there are any, the data
    /// directory exists already).
    pub(crate) fn open_lazily(dir: &Path) -> Result<Store, PlatformError> {
        let blobs = BlobStore::new(dir.join("blobs"));
        blobs.remove_orphans(std::time::SystemTime::now());
        let store = Store {
            dir: dir.to_owned(),
            db: LazyDatabase::new(dir.join("platform.db"))?,
            blobs,
            options: LocalOptions::default(),
            releases_made: AtomicU64::new(0),
        };
        store.assign_missing_web_ports()?;
        Ok(store)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the behaviour options (delays and injected failures).
    pub(crate) fn set_options(&mut self, options: LocalOptions) {
        self.options = options;
    }

    /// The connection for reading; keep the guard short, other tasks wait on it. Before the
    /// database exists, an empty one: a fresh platform has no apps.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.db.for_reading().conn()
    }

    /// Converts a SQLite error into a storage error naming the database.
    pub(crate) fn err(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> PlatformError {
        let path = self.db.path().to_owned();
        move |e| db::storage(&path, what, e)
    }

    /// Runs `f` in an `IMMEDIATE` transaction (the write lock is taken up front, so two writers
    /// queue on the busy timeout instead of deadlocking on a lock upgrade).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let mut conn = self.db.for_writing()?.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("cannot start a transaction"))?;
        let value = f(&tx)?;
        tx.commit().map_err(self.err("cannot commit"))?;
        Ok(value)
    }

    /// Creates a slug on `app`.
    pub fn create_slug(&self, app: &str, params: &SlugParams) -> Result<SlugRecord, PlatformError> {
        for name in params.process_types.keys() {
            let ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c == '-' || c == '_' || c.is_alphanumeric());
            if !ok {
                return Err(invalid(format!(
                    "process type {name:?} must match ^[-\\w]{{1,128}}$"
                )));
            }
        }
        if let Some(checksum) = &params.checksum {
            parse_checksum(checksum)?;
        }
        if let Some(stack) = &params.stack {
            check_stack_name(stack)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = now();
        let process_types =
            serde_json::to_string(&params.process_types).expect("a string map serialises");
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            // A slug made now is for the app's next release.
            let stack = params.stack.clone().unwrap_or(app.build_stack);
            tx.execute(
                "INSERT INTO slugs (id, app_id, checksum, process_types, stack, commit_sha, \
                 commit_description, buildpack_description, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    id,
                    app.id,
                    params.checksum,
                    process_types,
                    stack,
                    params.commit,
                    params.commit_description,
                    params.buildpack_provided_description,
                    now
                ],
            )
            .map_err(self.err("cannot create the slug"))?;
            slug_in(tx, &id, self)
        })
    }

    /// Reads a slug by id. Slugs are global: any app may read or release any slug, as on Heroku.
    pub fn slug(&self, slug_id: &str) -> Result<SlugRecord, PlatformError> {
        let conn = self.conn();
        slug_in(&conn, slug_id, self)
    }

    /// Records that `slug_id`'s archive was uploaded with this hash and size.
    pub(crate) fn record_upload(
        &self,
        slug_id: &str,
        sha256: &str,
        size: u64,
    ) -> Result<(), PlatformError> {
        self.write(|tx| {
            // Checked under the write lock: deleting an app removes unused archives under it too
            // (deletion.rs), so an archive is either seen here or kept there.
            if !self.blobs.contains(sha256) {
                return Err(PlatformError::Storage {
                    message: format!(
                        "the archive uploaded for slug {slug_id} was removed before it was \
                         recorded (an app using the same bytes was deleted meanwhile): upload it again"
                    ),
                    source: None,
                });
            }
            tx.execute(
                "UPDATE slugs SET blob_sha256 = ?2, size = ?3, updated_at = ?4 WHERE id = ?1",
                params![slug_id, sha256, size, now()],
            )
            .map_err(self.err("cannot record the upload"))?;
            Ok(())
        })
    }

    /// Where the archive with hex SHA-256 `sha256` is kept.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blobs.path(sha256)
    }

    /// Hands out an unguessable upload token for `slug_id`, valid for `ttl`.
    pub fn create_blob_token(&self, slug_id: &str, ttl: Duration) -> Result<String, PlatformError> {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let expires = now_millis() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.write(|tx| {
            // Expired tokens are useless; dropping them here keeps the table small.
            tx.execute(
                "DELETE FROM blob_urls WHERE expires_at <= ?1",
                [now_millis()],
            )
            .map_err(self.err("cannot prune upload URLs"))?;
            tx.execute(
                "INSERT INTO blob_urls (token, slug_id, expires_at) VALUES (?1, ?2, ?3)",
                params![token, slug_id, expires],
            )
            .map_err(self.err("cannot record the upload URL"))?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The slug an upload token is for: `Ok(None)` when the token is unknown, `Err` when expired.
    pub fn blob_token_slug(&self, token: &str) -> Result<Option<String>, PlatformError> {
        let conn = self.conn();
        let row: Option<(String, i64)> = conn
            .query_row(
                "SELECT slug_id, expires_at FROM blob_urls WHERE token = ?1",
                [token],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.err("cannot read upload URLs"))?;
        match row {
            Some((_, expires)) if expires <= now_millis() => Err(PlatformError::Api {
                status: 403,
                id: "expired".to_owned(),
                message: "Request has expired: create a new slug for a fresh upload URL".to_owned(),
                request_id: None,
            }),
            Some((slug, _)) => Ok(Some(slug)),
            None => Ok(None),
        }
    }
}

/// Reads a slug by id.
pub(crate) fn slug_in(
    conn: &Connection,
    slug_id: &str,
    store: &Store,
) -> Result<SlugRecord, PlatformError> {
    conn.query_row(
        &format!("SELECT {SLUG_COLUMNS} FROM slugs WHERE id = ?1"),
        [slug_id],
        slug_from_row,
    )
    .optional()
    .map_err(store.err("cannot read slugs"))?
    .ok_or_else(|| not_found(format!("Couldn't find that slug: {slug_id}")))
}

fn slug_from_row(row: &Row<'_>) -> rusqlite::Result<SlugRecord> {
    let process_types: String = row.get(3)?;
    Ok(SlugRecord {
        id: row.get(0)?,
        app_id: row.get(1)?,
        checksum: row.get(2)?,
        process_types: serde_json::from_str(&process_types).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?,
        stack: row.get(4)?,
        commit: row.get(5)?,
        commit_description: row.get(6)?,
        buildpack_provided_description: row.get(7)?,
        blob_sha256: row.get(8)?,
        size: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

/// A checksum a client declared, or the invalid-params error the API answers it with.
pub(crate) fn parse_checksum(checksum: &str) -> Result<Checksum, PlatformError> {
    Checksum::parse(checksum).map_err(|err| invalid(err.to_string()))
}

/// Refuses a stack the local platform does not run (the ones [`crate::stack`] knows).
pub(crate) fn check_stack_name(stack: &str) -> Result<(), PlatformError> {
    if crate::stack::known().any(|known| known == stack) {
        Ok(())
    } else {
        let known: Vec<&str> = crate::stack::known().collect();
        Err(invalid(format!(
            "stack {stack:?} is not one the local platform runs: {}",
            known.join(", ")
        )))
    }
}

/// An `invalid_params` error.
pub(crate) fn invalid(message: String) -> PlatformError {
    PlatformError::InvalidParams {
        message,
        request_id: None,
    }
}

/// A `not_found` error.
pub(crate) fn not_found(message: String) -> PlatformError {
    PlatformError::NotFound {
        message,
        request_id: None,
    }
}

/// Now, RFC 3339 in UTC to the second (the API's format).
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
