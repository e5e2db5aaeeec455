//! Copying the local state out and in, for `slugplan state migrate`: every table read in key
//! order, and written in one transaction.

use rusqlite::{OptionalExtension, params};

use super::SqliteState;
use crate::state::StateError;
use crate::state::snapshot::{
    ConfigKeyRow, PromotionRow, ReleaseRow, SlugKeyRow, Snapshot, UploadRow,
};

impl SqliteState {
    /// Every row, ordered by key (as the PostgreSQL export orders its rows).
    pub(super) fn export_all(&self) -> Result<Snapshot, StateError> {
        let conn = self.db.conn();
        let uploads = conn
            .prepare(
                "SELECT platform, checksum, stack, process_types, slug_id, app, created_at
                 FROM uploads ORDER BY platform, checksum, stack, process_types",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(UploadRow {
                        platform: row.get(0)?,
                        checksum: row.get(1)?,
                        stack: row.get(2)?,
                        process_types: row.get(3)?,
                        slug_id: row.get(4)?,
                        app: row.get(5)?,
                        created_at: row.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        let releases = conn
            .prepare(
                "SELECT platform, release_id, app, version, checksum, created_at,
                        restores_version, restores_created_at
                 FROM releases ORDER BY platform, release_id",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(ReleaseRow {
                        platform: row.get(0)?,
                        release_id: row.get(1)?,
                        app: row.get(2)?,
                        version: row.get(3)?,
                        checksum: row.get(4)?,
                        created_at: row.get(5)?,
                        restores_version: row.get(6)?,
                        restores_created_at: row.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        let promotions = conn
            .prepare(
                "SELECT platform, promotion_id, source_release_id, target_app_ids, created_at
                 FROM promotions ORDER BY platform, promotion_id",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(PromotionRow {
                        platform: row.get(0)?,
                        promotion_id: row.get(1)?,
                        source_release_id: row.get(2)?,
                        target_app_ids: row.get(3)?,
                        created_at: row.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        let slug_keys = conn
            .prepare("SELECT slug, key, parts, recorded_at FROM slug_keys ORDER BY slug")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(SlugKeyRow {
                        slug: row.get(0)?,
                        key: row.get(1)?,
                        parts: row.get(2)?,
                        recorded_at: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        let config_keys = conn
            .prepare(
                "SELECT platform, app, key, sensitive, digest, removed, updated_at
                 FROM config_keys ORDER BY platform, app, key",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(ConfigKeyRow {
                        platform: row.get(0)?,
                        app: row.get(1)?,
                        key: row.get(2)?,
                        sensitive: row.get(3)?,
                        digest: row.get(4)?,
                        removed: row.get(5)?,
                        updated_at: row.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        let value_key = conn
            .query_row(
                "SELECT key, created_at FROM value_key WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let applies = self.applies(&conn, false, usize::MAX)?;
        Ok(Snapshot {
            uploads,
            releases,
            promotions,
            slug_keys,
            config_keys,
            value_key,
            applies,
        })
    }

    /// Writes `snapshot` in one transaction (see `State::import`).
    pub(super) fn import_all(&self, snapshot: &Snapshot, replace: bool) -> Result<(), StateError> {
        let mut conn = self.db.conn();
        let tx = conn.transaction().map_err(self.err())?;
        let found = self.counts(&tx)?;
        if !found.is_empty() {
            if !replace {
                return Err(StateError::NotEmpty {
                    destination: self.location.to_string(),
                    counts: found,
                });
            }
            // Numbering restarts with the copy's applies.
            tx.execute_batch(
                "DELETE FROM events; DELETE FROM applies; DELETE FROM uploads;
                 DELETE FROM releases; DELETE FROM promotions; DELETE FROM slug_keys;
                 DELETE FROM config_keys; DELETE FROM value_key;
                 DELETE FROM sqlite_sequence WHERE name = 'applies';",
            )
            .map_err(self.err())?;
        }
        for u in &snapshot.uploads {
            tx.execute(
                "INSERT INTO uploads VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    u.platform,
                    u.checksum,
                    u.stack,
                    u.process_types,
                    u.slug_id,
                    u.app,
                    u.created_at
                ],
            )
            .map_err(self.err())?;
        }
        for r in &snapshot.releases {
            tx.execute(
                "INSERT INTO releases (platform, release_id, app, version, checksum, created_at,
                                       restores_version, restores_created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.platform,
                    r.release_id,
                    r.app,
                    r.version,
                    r.checksum,
                    r.created_at,
                    r.restores_version,
                    r.restores_created_at
                ],
            )
            .map_err(self.err())?;
        }
        for p in &snapshot.promotions {
            tx.execute(
                "INSERT INTO promotions VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    p.platform,
                    p.promotion_id,
                    p.source_release_id,
                    p.target_app_ids,
                    p.created_at
                ],
            )
            .map_err(self.err())?;
        }
        for k in &snapshot.slug_keys {
            tx.execute(
                "INSERT INTO slug_keys VALUES (?1, ?2, ?3, ?4)",
                params![k.slug, k.key, k.parts, k.recorded_at],
            )
            .map_err(self.err())?;
        }
        for c in &snapshot.config_keys {
            tx.execute(
                "INSERT INTO config_keys (platform, app, key, sensitive, digest, removed,
                                          updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.platform,
                    c.app,
                    c.key,
                    c.sensitive,
                    c.digest,
                    c.removed,
                    c.updated_at
                ],
            )
            .map_err(self.err())?;
        }
        if let Some((key, created_at)) = &snapshot.value_key {
            tx.execute(
                "INSERT OR REPLACE INTO value_key (id, key, created_at) VALUES (1, ?1, ?2)",
                params![key, created_at],
            )
            .map_err(self.err())?;
        }
        for a in &snapshot.applies {
            tx.execute(
                "INSERT INTO applies (id, started_at, finished_at, command, platform,
                                      manifest_sha256, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    a.id,
                    a.started_at,
                    a.finished_at,
                    a.command,
                    a.platform,
                    a.manifest_sha256,
                    a.outcome
                ],
            )
            .map_err(self.err())?;
            for (seq, e) in a.events.iter().enumerate() {
                tx.execute(
                    "INSERT INTO events (apply_id, seq, at, address, action, outcome, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        a.id,
                        seq as i64 + 1,
                        e.at,
                        e.address,
                        e.action,
                        e.outcome,
                        e.detail
                    ],
                )
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }
}
