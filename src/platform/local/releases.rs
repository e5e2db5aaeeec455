//! Releases of the local platform: numbering, the `current` flag, rollback, and the checks
//! made before a slug is released.
//!
//! Guarantees: a release is written in one `IMMEDIATE` transaction (version counter, `current`
//! flag, status), so a crash leaves either the whole release or none of it, and two processes
//! never hand out the same version. `current` always marks the app's highest succeeded release.
//! Every check runs before the first write: the slug's stack must be the app's (or the one
//! `build_stack` moves it to; a rollback may also go back to an earlier stack), the app must
//! run slugs (Cedar), and the slug's archive must be on disk with the declared checksum. The app's
//! stack follows the slug it runs, as on Heroku after `heroku stack:set` and a deploy.

use std::sync::atomic::Ordering;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::apps::app_in;
use super::records::{AppRecord, ReleaseRecord, SlugRecord};
use super::store::{
    RELEASE_COLUMNS, Store, invalid, not_found, now, now_millis, parse_checksum, slug_in,
};
use crate::platform::{Generation, PlatformError, ReleaseStatus};

/// Why a slug is being released: the stack check depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A slug released to the app (a deploy or a promotion).
    Slug,
    /// An earlier release's slug released again.
    Rollback,
}

impl Store {
    /// Up to `max` releases of `app`, newest first (all when `max` is None).
    pub fn releases(
        &self,
        app: &str,
        max: Option<usize>,
    ) -> Result<Vec<ReleaseRecord>, PlatformError> {
        let app = self.app(app)?;
        let limit = max.map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX));
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases r JOIN apps a ON a.id = r.app_id \
                 WHERE r.app_id = ?1 ORDER BY r.version DESC LIMIT ?2"
            ))
            .map_err(self.err("cannot list releases"))?;
        stmt.query_map(params![app.id, limit], release_from_row)
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot list releases"))
    }

    /// The release `app` runs now (current and succeeded), if any.
    pub fn current_release(&self, app: &str) -> Result<Option<ReleaseRecord>, PlatformError> {
        let app = self.app(app)?;
        let conn = self.conn();
        conn.query_row(
            &format!(
                "SELECT {RELEASE_COLUMNS} FROM releases r JOIN apps a ON a.id = r.app_id \
                 WHERE r.app_id = ?1 AND r.current = 1"
            ),
            [&app.id],
            release_from_row,
        )
        .optional()
        .map_err(self.err("cannot read the current release"))
    }

    /// Reads a release of `app` by id or version number.
    pub fn release(&self, app: &str, release: &str) -> Result<ReleaseRecord, PlatformError> {
        let app = self.app(app)?;
        let conn = self.conn();
        release_in(&conn, &app, release, self)
    }

    /// Releases `slug_id` to `app`, after checking that the app can run it.
    pub fn create_release(
        &self,
        app: &str,
        slug_id: &str,
        description: &str,
    ) -> Result<ReleaseRecord, PlatformError> {
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            self.release_slug_in(tx, &app, slug_id, description, Origin::Slug)
        })
    }

    /// Rolls `app` back to `release` (id or version): a new release of that release's slug.
    pub fn rollback(&self, app: &str, release: &str) -> Result<ReleaseRecord, PlatformError> {
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            let target = release_in(tx, &app, release, self)?;
            let slug_id = target.slug_id.ok_or_else(|| {
                invalid(format!(
                    "release v{} of {} has no slug to roll back to",
                    target.version, app.name
                ))
            })?;
            let description = crate::platform::rollback_description(target.version);
            // Heroku's rollback brings the earlier release's config back with its slug.
            super::config::restore(tx, &app.id, &target.id, self)?;
            self.release_slug_in(tx, &app, &slug_id, &description, Origin::Rollback)
        })
    }

    /// Checks and writes a release inside `tx`. Every check runs before the first write, so a
    /// refused release leaves nothing behind even when the caller keeps the transaction going.
    pub(crate) fn release_slug_in(
        &self,
        tx: &Transaction<'_>,
        app: &AppRecord,
        slug_id: &str,
        description: &str,
        origin: Origin,
    ) -> Result<ReleaseRecord, PlatformError> {
        settle(tx, &app.id, self)?;
        let slug = slug_in(tx, slug_id, self)?;
        self.check_releasable(app, &slug, origin)?;
        let version: u64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = ?1",
                [&app.id],
                |row| row.get(0),
            )
            .map_err(self.err("cannot number the release"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = now();
        let attempt = self.releases_made.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = match self.options.fail_release_every {
            Some(every) if every > 0 && attempt.is_multiple_of(every) => ReleaseStatus::Failed,
            _ => ReleaseStatus::Succeeded,
        };
        let delay = &self.options.release_delay;
        let (status, ready_at) = if delay.is_zero() {
            (outcome, None)
        } else {
            let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            (ReleaseStatus::Pending, Some(now_millis() + delay))
        };
        tx.execute(
            "INSERT INTO releases (id, app_id, version, slug_id, description, status, current, \
             ready_at, settles_to, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?9)",
            params![
                id,
                app.id,
                version,
                slug_id,
                description,
                status_name(status),
                ready_at,
                status_name(outcome),
                now
            ],
        )
        .map_err(self.err("cannot write the release"))?;
        super::config::snapshot(tx, &id, &app.id, self)?;
        if status == ReleaseStatus::Succeeded {
            mark_current(tx, &app.id, self)?;
        }
        release_in(tx, app, &id, self)
    }

    /// Refuses what Heroku would fail on (Fir apps, another stack) and what it would not check
    /// (a missing archive, bytes that do not match the declared checksum).
    fn check_releasable(
        &self,
        app: &AppRecord,
        slug: &SlugRecord,
        origin: Origin,
    ) -> Result<(), PlatformError> {
        if app.generation == Generation::Fir {
            return Err(invalid(format!(
                "app {} is a Fir-generation app: it runs OCI images, not slugs",
                app.name
            )));
        }
        let stack_ok = slug.stack == app.stack
            || slug.stack == app.build_stack
            // The app ran this slug before, so its stack was the app's then: rolling back
            // brings that stack back, as on Heroku.
            || origin == Origin::Rollback;
        if !stack_ok {
            return Err(invalid(format!(
                "slug not compatible with stack: slug {} was built for {}, app {} runs {}",
                slug.id, slug.stack, app.name, app.stack
            )));
        }
        let Some(blob) = &slug.blob_sha256 else {
            return Err(invalid(format!(
                "slug {} has no archive: upload it to the slug's blob URL before releasing",
                slug.id
            )));
        };
        if let Some(declared) = &slug.checksum
            && parse_checksum(declared)?.hex() != blob.as_str()
        {
            return Err(invalid(format!(
                "slug {}'s archive hashes to SHA256:{blob}, not its declared checksum {declared}",
                slug.id
            )));
        }
        if !self.blobs.contains(blob) {
            return Err(invalid(format!(
                "slug {}'s archive is missing from {}",
                slug.id,
                self.blobs.path(blob).display()
            )));
        }
        Ok(())
    }
}

/// Reads a release of `app` by id or version number.
pub(crate) fn release_in(
    conn: &Connection,
    app: &AppRecord,
    release: &str,
    store: &Store,
) -> Result<ReleaseRecord, PlatformError> {
    let base = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases r JOIN apps a ON a.id = r.app_id WHERE r.app_id = ?1"
    );
    let found = match release.strip_prefix('v').unwrap_or(release).parse::<u64>() {
        Ok(version) => conn.query_row(
            &format!("{base} AND r.version = ?2"),
            params![app.id, version],
            release_from_row,
        ),
        Err(_) => conn.query_row(
            &format!("{base} AND r.id = ?2"),
            params![app.id, release],
            release_from_row,
        ),
    };
    found
        .optional()
        .map_err(store.err("cannot read releases"))?
        .ok_or_else(|| {
            not_found(format!(
                "Couldn't find that release: {release} of {}",
                app.name
            ))
        })
}

/// Whether `app_id` has pending releases whose delay has passed.
pub(crate) fn has_due_releases(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<bool, PlatformError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM releases \
         WHERE app_id = ?1 AND status = 'pending' AND ready_at <= ?2)",
        params![app_id, now_millis()],
        |row| row.get(0),
    )
    .map_err(store.err("cannot read releases"))
}

/// Finishes `app_id`'s pending releases whose delay has passed, with the outcome decided when
/// they were created.
pub(crate) fn settle(tx: &Connection, app_id: &str, store: &Store) -> Result<(), PlatformError> {
    let changed = tx
        .execute(
            "UPDATE releases SET status = settles_to, ready_at = NULL, updated_at = ?3 \
             WHERE app_id = ?1 AND status = 'pending' AND ready_at <= ?2",
            params![app_id, now_millis(), now()],
        )
        .map_err(store.err("cannot settle releases"))?;
    if changed > 0 {
        mark_current(tx, app_id, store)?;
    }
    Ok(())
}

/// Makes the highest succeeded release of `app_id` its current one, and gives the process
/// types it brings their first formation.
pub(crate) fn mark_current(
    tx: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<(), PlatformError> {
    tx.execute(
        "UPDATE releases SET current = 0 WHERE app_id = ?1 AND current = 1",
        [app_id],
    )
    .map_err(store.err("cannot update the current release"))?;
    tx.execute(
        "UPDATE releases SET current = 1 WHERE id = (SELECT id FROM releases \
         WHERE app_id = ?1 AND status = 'succeeded' ORDER BY version DESC LIMIT 1)",
        [app_id],
    )
    .map_err(store.err("cannot update the current release"))?;
    // The app runs on the stack of the slug it runs; a pending `build_stack` it reached is done.
    tx.execute(
        "UPDATE apps SET stack = COALESCE((SELECT s.stack FROM releases r \
         JOIN slugs s ON s.id = r.slug_id WHERE r.app_id = ?1 AND r.current = 1), stack) \
         WHERE id = ?1",
        [app_id],
    )
    .map_err(store.err("cannot update the app's stack"))?;
    tx.execute(
        "UPDATE apps SET build_stack = NULL WHERE id = ?1 AND build_stack = stack",
        [app_id],
    )
    .map_err(store.err("cannot update the app's stack"))?;
    tx.execute(
        "UPDATE apps SET released_at = ?2, updated_at = ?2 WHERE id = ?1",
        params![app_id, now()],
    )
    .map_err(store.err("cannot update the app"))?;
    super::formation::scale_new_types(tx, app_id, store)
}

fn release_from_row(row: &Row<'_>) -> rusqlite::Result<ReleaseRecord> {
    let status: String = row.get(6)?;
    Ok(ReleaseRecord {
        id: row.get(0)?,
        app_id: row.get(1)?,
        app_name: row.get(2)?,
        version: row.get(3)?,
        slug_id: row.get(4)?,
        description: row.get(5)?,
        status: match status.as_str() {
            "pending" => ReleaseStatus::Pending,
            "failed" => ReleaseStatus::Failed,
            "expired" => ReleaseStatus::Expired,
            _ => ReleaseStatus::Succeeded,
        },
        current: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

/// The wire name of a release status.
pub(crate) fn status_name(status: ReleaseStatus) -> &'static str {
    match status {
        ReleaseStatus::Pending => "pending",
        ReleaseStatus::Succeeded => "succeeded",
        ReleaseStatus::Failed => "failed",
        ReleaseStatus::Expired => "expired",
    }
}
