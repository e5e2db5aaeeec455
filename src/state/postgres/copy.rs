//! Copying a workspace out of and into the PostgreSQL state, for `slugplan state migrate`.
//!
//! The export lists rows in byte order (`COLLATE "C"`), as SQLite sorts them, so a snapshot
//! reads the same from either backend. The import is one transaction and writes each table
//! with one statement (`unnest` over column arrays), however many rows it has.

use tokio_postgres::types::{ToSql, Type};

use super::PostgresState;
use crate::state::snapshot::{
    ConfigKeyRow, PromotionRow, ReleaseRow, SlugKeyRow, Snapshot, UploadRow,
};
use crate::state::{ApplyEvent, ApplyRecord, StateError, now};

impl PostgresState {
    /// Every row of the workspace, ordered as SQLite orders them.
    pub(super) async fn export_all(&self) -> Result<Snapshot, StateError> {
        let ws = [(&self.workspace as &(dyn ToSql + Sync), Type::TEXT)];
        // `COLLATE "C"`: byte order, as SQLite sorts, so both backends list the same rows in
        // the same order.
        let uploads = self
            .query(
                "read the uploads",
                r#"SELECT platform, checksum, stack, process_types, slug_id, app, created_at
                   FROM slugplan.uploads WHERE workspace = $1
                   ORDER BY platform COLLATE "C", checksum COLLATE "C", stack COLLATE "C",
                            process_types COLLATE "C""#,
                &ws,
            )
            .await?
            .iter()
            .map(|row| UploadRow {
                platform: row.get(0),
                checksum: row.get(1),
                stack: row.get(2),
                process_types: row.get(3),
                slug_id: row.get(4),
                app: row.get(5),
                created_at: row.get(6),
            })
            .collect();
        let releases = self
            .query(
                "read the releases",
                r#"SELECT platform, release_id, app, version, checksum, created_at,
                          restores_version, restores_created_at
                   FROM slugplan.releases WHERE workspace = $1
                   ORDER BY platform COLLATE "C", release_id COLLATE "C""#,
                &ws,
            )
            .await?
            .iter()
            .map(|row| ReleaseRow {
                platform: row.get(0),
                release_id: row.get(1),
                app: row.get(2),
                version: row.get(3),
                checksum: row.get(4),
                created_at: row.get(5),
                restores_version: row.get(6),
                restores_created_at: row.get(7),
            })
            .collect();
        let promotions = self
            .query(
                "read the pipeline promotions",
                r#"SELECT platform, promotion_id, source_release_id, target_app_ids, created_at
                   FROM slugplan.promotions WHERE workspace = $1
                   ORDER BY platform COLLATE "C", promotion_id COLLATE "C""#,
                &ws,
            )
            .await?
            .iter()
            .map(|row| PromotionRow {
                platform: row.get(0),
                promotion_id: row.get(1),
                source_release_id: row.get(2),
                target_app_ids: row.get(3),
                created_at: row.get(4),
            })
            .collect();
        let slug_keys = self
            .query(
                "read the slug keys",
                r#"SELECT slug, key, parts, recorded_at FROM slugplan.slug_keys
                   WHERE workspace = $1 ORDER BY slug COLLATE "C""#,
                &ws,
            )
            .await?
            .iter()
            .map(|row| SlugKeyRow {
                slug: row.get(0),
                key: row.get(1),
                parts: row.get(2),
                recorded_at: row.get(3),
            })
            .collect();
        let config_keys = self
            .query(
                "read the managed config keys",
                r#"SELECT platform, app, key, sensitive, digest, removed, updated_at
                   FROM slugplan.config_keys WHERE workspace = $1
                   ORDER BY platform COLLATE "C", app COLLATE "C", key COLLATE "C""#,
                &ws,
            )
            .await?
            .iter()
            .map(|row| ConfigKeyRow {
                platform: row.get(0),
                app: row.get(1),
                key: row.get(2),
                sensitive: row.get(3),
                digest: row.get(4),
                removed: row.get(5),
                updated_at: row.get(6),
            })
            .collect();
        let value_key = self
            .query(
                "read the config value key",
                "SELECT key, created_at FROM slugplan.value_keys WHERE workspace = $1",
                &ws,
            )
            .await?
            .first()
            .map(|row| (row.get(0), row.get(1)));
        Ok(Snapshot {
            uploads,
            releases,
            promotions,
            slug_keys,
            config_keys,
            value_key,
            applies: self.applies(false, usize::MAX).await?,
        })
    }

    /// Writes `snapshot` into the workspace in one transaction (see `State::import`).
    pub(super) async fn import_all(
        &self,
        snapshot: &Snapshot,
        replace: bool,
    ) -> Result<(), StateError> {
        let mut client = self.client.write().await;
        let tx = client
            .transaction()
            .await
            .map_err(self.fail("begin the import"))?;
        let found = self.counts(&tx).await?;
        if !found.is_empty() {
            if !replace {
                return Err(StateError::NotEmpty {
                    destination: self.location.to_string(),
                    counts: found,
                });
            }
            for table in [
                "events",
                "applies",
                "uploads",
                "releases",
                "promotions",
                "slug_keys",
                "config_keys",
                "value_keys",
            ] {
                tx.execute_typed(
                    &format!("DELETE FROM slugplan.{table} WHERE workspace = $1"),
                    &[(&self.workspace, Type::TEXT)],
                )
                .await
                .map_err(self.fail("replace the workspace's state"))?;
            }
        }
        let ws = &self.workspace;
        let fail = self.fail("import the state");
        let u = &snapshot.uploads;
        let column = |f: fn(&UploadRow) -> &str| u.iter().map(f).collect::<Vec<_>>();
        tx.execute_typed(
            "INSERT INTO slugplan.uploads
                 (workspace, platform, checksum, stack, process_types, slug_id, app, created_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::text[], $8::text[])",
            &[
                (&ws, Type::TEXT),
                (&column(|r| &r.platform), Type::TEXT_ARRAY),
                (&column(|r| &r.checksum), Type::TEXT_ARRAY),
                (&column(|r| &r.stack), Type::TEXT_ARRAY),
                (&column(|r| &r.process_types), Type::TEXT_ARRAY),
                (&column(|r| &r.slug_id), Type::TEXT_ARRAY),
                (&column(|r| &r.app), Type::TEXT_ARRAY),
                (&column(|r| &r.created_at), Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        let r = &snapshot.releases;
        let column = |f: fn(&ReleaseRow) -> &str| r.iter().map(f).collect::<Vec<_>>();
        let versions: Vec<i64> = r.iter().map(|r| r.version).collect();
        let checksums: Vec<Option<&str>> = r.iter().map(|r| r.checksum.as_deref()).collect();
        let restores_versions: Vec<Option<i64>> = r.iter().map(|r| r.restores_version).collect();
        let restores_times: Vec<Option<&str>> =
            r.iter().map(|r| r.restores_created_at.as_deref()).collect();
        tx.execute_typed(
            "INSERT INTO slugplan.releases
                 (workspace, platform, release_id, app, version, checksum, created_at,
                  restores_version, restores_created_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[],
                                      $6::text[], $7::text[], $8::bigint[], $9::text[])",
            &[
                (&ws, Type::TEXT),
                (&column(|r| &r.platform), Type::TEXT_ARRAY),
                (&column(|r| &r.release_id), Type::TEXT_ARRAY),
                (&column(|r| &r.app), Type::TEXT_ARRAY),
                (&versions, Type::INT8_ARRAY),
                (&checksums, Type::TEXT_ARRAY),
                (&column(|r| &r.created_at), Type::TEXT_ARRAY),
                (&restores_versions, Type::INT8_ARRAY),
                (&restores_times, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        let p = &snapshot.promotions;
        let column = |f: fn(&PromotionRow) -> &str| p.iter().map(f).collect::<Vec<_>>();
        // In order, so their serial numbers keep the order of promotions made at one time.
        tx.execute_typed(
            "INSERT INTO slugplan.promotions (workspace, platform, promotion_id,
                                              source_release_id, target_app_ids, created_at)
             SELECT $1, platform, promotion_id, source_release_id, target_app_ids, created_at
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                  WITH ORDINALITY AS p(platform, promotion_id, source_release_id,
                                       target_app_ids, created_at, n)
             ORDER BY n",
            &[
                (&ws, Type::TEXT),
                (&column(|r| &r.platform), Type::TEXT_ARRAY),
                (&column(|r| &r.promotion_id), Type::TEXT_ARRAY),
                (&column(|r| &r.source_release_id), Type::TEXT_ARRAY),
                (&column(|r| &r.target_app_ids), Type::TEXT_ARRAY),
                (&column(|r| &r.created_at), Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        let k = &snapshot.slug_keys;
        let column = |f: fn(&SlugKeyRow) -> &str| k.iter().map(f).collect::<Vec<_>>();
        tx.execute_typed(
            "INSERT INTO slugplan.slug_keys (workspace, slug, key, parts, recorded_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])",
            &[
                (&ws, Type::TEXT),
                (&column(|r| &r.slug), Type::TEXT_ARRAY),
                (&column(|r| &r.key), Type::TEXT_ARRAY),
                (&column(|r| &r.parts), Type::TEXT_ARRAY),
                (&column(|r| &r.recorded_at), Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        let c = &snapshot.config_keys;
        let column = |f: fn(&ConfigKeyRow) -> &str| c.iter().map(f).collect::<Vec<_>>();
        let sensitive: Vec<bool> = c.iter().map(|c| c.sensitive).collect();
        let digests: Vec<Option<&str>> = c.iter().map(|c| c.digest.as_deref()).collect();
        let removed: Vec<bool> = c.iter().map(|c| c.removed).collect();
        tx.execute_typed(
            "INSERT INTO slugplan.config_keys
                 (workspace, platform, app, key, sensitive, digest, removed, updated_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[],
                                      $6::text[], $7::boolean[], $8::text[])",
            &[
                (&ws, Type::TEXT),
                (&column(|r| &r.platform), Type::TEXT_ARRAY),
                (&column(|r| &r.app), Type::TEXT_ARRAY),
                (&column(|r| &r.key), Type::TEXT_ARRAY),
                (&sensitive, Type::BOOL_ARRAY),
                (&digests, Type::TEXT_ARRAY),
                (&removed, Type::BOOL_ARRAY),
                (&column(|r| &r.updated_at), Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        if let Some((key, created_at)) = &snapshot.value_key {
            tx.execute_typed(
                "INSERT INTO slugplan.value_keys (workspace, key, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (workspace) DO UPDATE SET
                     key = EXCLUDED.key, created_at = EXCLUDED.created_at",
                &[
                    (&ws, Type::TEXT),
                    (key, Type::TEXT),
                    (created_at, Type::TEXT),
                ],
            )
            .await
            .map_err(&fail)?;
        }
        let a = &snapshot.applies;
        let ids: Vec<i64> = a.iter().map(|a| a.id).collect();
        let column = |f: fn(&ApplyRecord) -> &str| a.iter().map(f).collect::<Vec<_>>();
        let finished: Vec<Option<&str>> = a.iter().map(|a| a.finished_at.as_deref()).collect();
        let outcomes: Vec<Option<&str>> = a.iter().map(|a| a.outcome.as_deref()).collect();
        tx.execute_typed(
            "INSERT INTO slugplan.applies
                 (workspace, id, started_at, finished_at, command, platform, manifest_sha256,
                  outcome)
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::text[], $8::text[])",
            &[
                (&ws, Type::TEXT),
                (&ids, Type::INT8_ARRAY),
                (&column(|a| &a.started_at), Type::TEXT_ARRAY),
                (&finished, Type::TEXT_ARRAY),
                (&column(|a| &a.command), Type::TEXT_ARRAY),
                (&column(|a| &a.platform), Type::TEXT_ARRAY),
                (&column(|a| &a.manifest_sha256), Type::TEXT_ARRAY),
                (&outcomes, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        let events: Vec<(i64, &ApplyEvent)> = a
            .iter()
            .flat_map(|a| a.events.iter().map(move |e| (a.id, e)))
            .collect();
        let apply_ids: Vec<i64> = events.iter().map(|(id, _)| *id).collect();
        let column =
            |f: fn(&ApplyEvent) -> &str| events.iter().map(|(_, e)| f(e)).collect::<Vec<_>>();
        // In order, so the events' serial ids keep each apply's steps in sequence.
        tx.execute_typed(
            "INSERT INTO slugplan.events (workspace, apply_id, at, address, action, outcome, detail)
             SELECT $1, apply_id, at, address, action, outcome, detail
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  WITH ORDINALITY AS e(apply_id, at, address, action, outcome, detail, n)
             ORDER BY n",
            &[
                (&ws, Type::TEXT),
                (&apply_ids, Type::INT8_ARRAY),
                (&column(|e| &e.at), Type::TEXT_ARRAY),
                (&column(|e| &e.address), Type::TEXT_ARRAY),
                (&column(|e| &e.action), Type::TEXT_ARRAY),
                (&column(|e| &e.outcome), Type::TEXT_ARRAY),
                (&column(|e| &e.detail), Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(&fail)?;
        // The next apply is numbered after the copy's last.
        let last = ids.iter().copied().max().unwrap_or(0);
        tx.execute_typed(
            "INSERT INTO slugplan.workspaces (name, created_at, last_apply) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET last_apply = EXCLUDED.last_apply",
            &[(&ws, Type::TEXT), (&now(), Type::TEXT), (&last, Type::INT8)],
        )
        .await
        .map_err(&fail)?;
        tx.commit().await.map_err(self.fail("commit the import"))
    }
}
