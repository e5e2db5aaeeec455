//! Deleting an app and everything that belongs to it (`DELETE /apps/{app}`, `heroku
//! apps:destroy`).
//!
//! Guarantees:
//! - Every row that belongs to the app goes in **one** transaction, so a crash leaves the app
//!   either whole or gone: its releases, the slugs created on it that no other app's releases
//!   use, their upload URLs, its config vars, its pipeline coupling, and the promotions it was the
//!   source of (with their targets) or a target of. Pipelines stay, as on Heroku.
//! - A slug created on the app that another app still runs or ran (a promotion released it there)
//!   is kept and handed to that app, so the other app's history stays intact.
//! - Slug archives that no remaining slug uses are removed from `blobs/` after the commit, each
//!   under the write lock after checking again that no slug has taken it meanwhile (an upload of
//!   the same bytes checks that its archive is on disk under that same lock, in `record_upload`).
//!   A crash between the commit and the removal leaves an unused archive behind, never a slug
//!   without its archive.
//!
//! What a later resource adds: a table of rows keyed by the app gets a line in [`APP_ROWS`] (in
//! foreign-key order); something outside the database (a running process) is stopped by the
//! caller of [`crate::platform::local::LocalPlatform::delete_app`] once it returns, from the
//! [`AppDeletion`] it returns.

use rusqlite::{Transaction, params};

use super::apps::app_in;
use super::records::AppRecord;
use super::store::Store;
use crate::platform::PlatformError;

/// The statements that delete an app's rows, in foreign-key order (children before parents);
/// `?1` is the app's id. Each comes with the message of its error.
///
/// "Its slugs" are the slugs created on the app that no other app's release uses once the app's
/// own releases are gone; the statement that hands the others over runs first.
const APP_ROWS: &[(&str, &str)] = &[
    (
        "cannot delete the app's promotion targets",
        "DELETE FROM promotion_targets WHERE app_id = ?1 \
         OR promotion_id IN (SELECT id FROM promotions WHERE source_app_id = ?1)",
    ),
    (
        "cannot delete the app's promotions",
        "DELETE FROM promotions WHERE source_app_id = ?1 \
         OR NOT EXISTS (SELECT 1 FROM promotion_targets t WHERE t.promotion_id = promotions.id)",
    ),
    (
        "cannot delete the app's pipeline coupling",
        "DELETE FROM couplings WHERE app_id = ?1",
    ),
    (
        "cannot delete the app's config vars",
        "DELETE FROM config_vars WHERE app_id = ?1",
    ),
    (
        "cannot delete the app's formation",
        "DELETE FROM formation WHERE app_id = ?1",
    ),
    (
        "cannot delete the app's dynos",
        "DELETE FROM dynos WHERE app_id = ?1",
    ),
    (
        "cannot delete the restarts asked of the app's dynos",
        "DELETE FROM dyno_requests WHERE app_id = ?1",
    ),
    (
        "cannot delete the app's releases",
        "DELETE FROM releases WHERE app_id = ?1",
    ),
    (
        "cannot hand the app's slugs to the apps that use them",
        "UPDATE slugs SET app_id = (SELECT r.app_id FROM releases r WHERE r.slug_id = slugs.id \
         ORDER BY r.created_at, r.id LIMIT 1) \
         WHERE app_id = ?1 AND id IN (SELECT slug_id FROM releases WHERE slug_id IS NOT NULL)",
    ),
    (
        "cannot delete the upload URLs of the app's slugs",
        "DELETE FROM blob_urls WHERE slug_id IN (SELECT id FROM slugs WHERE app_id = ?1)",
    ),
    (
        "cannot delete the app's slugs",
        "DELETE FROM slugs WHERE app_id = ?1",
    ),
    ("cannot delete the app", "DELETE FROM apps WHERE id = ?1"),
];

/// What deleting an app did, for the caller's clean-up after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDeletion {
    /// The app as it was just before it was deleted.
    pub app: AppRecord,
    /// Hex SHA-256 of the slug archives no remaining slug uses (removed from `blobs/`, unless a
    /// new slug took one meanwhile).
    pub unused_blobs: Vec<String>,
}

impl Store {
    /// Deletes `app` (name or id) and every row that belongs to it, in one transaction, then
    /// the slug archives nothing uses any more.
    pub fn delete_app(&self, app: &str) -> Result<AppDeletion, PlatformError> {
        let deletion = self.write(|tx| {
            let app = app_in(tx, app, self)?;
            let candidates = blobs_of_app_slugs(tx, &app.id, self)?;
            for (what, sql) in APP_ROWS {
                tx.execute(sql, [&app.id]).map_err(self.err(what))?;
            }
            let mut unused_blobs = Vec::new();
            for sha in candidates {
                if !blob_in_use(tx, &sha, self)? {
                    unused_blobs.push(sha);
                }
            }
            Ok(AppDeletion { app, unused_blobs })
        })?;
        for sha in &deletion.unused_blobs {
            // The app is gone whatever happens here: an archive left behind costs disk space,
            // not correctness, so it is reported and not an error of the deletion.
            if let Err(err) = self.remove_blob_if_unused(sha) {
                tracing::warn!(error = ?err, blob = %sha, "cannot remove an unused slug archive");
            }
        }
        Ok(deletion)
    }

    /// Removes the archive `sha256` unless a slug uses it, holding the write lock so that no
    /// upload can record it in between.
    fn remove_blob_if_unused(&self, sha256: &str) -> Result<(), PlatformError> {
        self.write(|tx| {
            if !blob_in_use(tx, sha256, self)? {
                self.blobs.remove(sha256)?;
            }
            Ok(())
        })
    }
}

/// The archives of the slugs created on `app_id` (the ones its deletion may leave unused).
fn blobs_of_app_slugs(
    tx: &Transaction<'_>,
    app_id: &str,
    store: &Store,
) -> Result<Vec<String>, PlatformError> {
    let mut stmt = tx
        .prepare(
            "SELECT DISTINCT blob_sha256 FROM slugs \
             WHERE app_id = ?1 AND blob_sha256 IS NOT NULL ORDER BY blob_sha256",
        )
        .map_err(store.err("cannot read the app's slugs"))?;
    stmt.query_map([app_id], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(store.err("cannot read the app's slugs"))
}

/// Whether any slug's archive is `sha256`.
fn blob_in_use(tx: &Transaction<'_>, sha256: &str, store: &Store) -> Result<bool, PlatformError> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM slugs WHERE blob_sha256 = ?1)",
        params![sha256],
        |row| row.get(0),
    )
    .map_err(store.err("cannot read slugs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Generation;
    use crate::platform::local::SlugParams;

    /// The race deletion guards against: an archive removed after an upload put it in place
    /// and before the upload recorded it must not leave a slug pointing at nothing.
    #[test]
    fn an_upload_whose_archive_vanished_is_refused_not_recorded() {
        let temp = tempfile::tempdir().unwrap();
        let store = Store::open(temp.path()).unwrap();
        store
            .create_app("racer", "heroku-24", Generation::Cedar)
            .unwrap();
        let slug = store.create_slug("racer", &SlugParams::default()).unwrap();
        let sha = "ab".repeat(32);
        let err = store.record_upload(&slug.id, &sha, 3).unwrap_err();
        assert!(err.to_string().contains("upload it again"), "{err}");
        assert_eq!(store.slug(&slug.id).unwrap().blob_sha256, None);

        let path = store.blob_path(&sha);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, b"abc").unwrap();
        store.record_upload(&slug.id, &sha, 3).unwrap();
        assert_eq!(store.slug(&slug.id).unwrap().blob_sha256, Some(sha.clone()));
        // Its app's deletion takes the archive too: nothing else uses it.
        let deletion = store.delete_app("racer").unwrap();
        assert_eq!(deletion.unused_blobs, [sha]);
        assert!(!path.exists());
    }
}
