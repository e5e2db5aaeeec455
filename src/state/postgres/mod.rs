//! The PostgreSQL state: one database shared by every CI runner and laptop of a team.
//!
//! Each manifest has its own *workspace* (`[state] workspace`, by default the manifest's
//! directory name): every row is keyed by it, so one database serves many manifests, and two
//! checkouts of one manifest (runner A, runner B) share everything: B releases by id the slug A
//! uploaded, knows A's releases as the team's own (no drift), and `history` shows both.
//!
//! One connection carries all of a command's statements: tokio-postgres pipelines the queries
//! the parallel steps of an apply send at once, and every statement goes as one round trip
//! (`query_typed`: parse, bind and execute together). The apply lock has its own connection
//! ([`lock`]). Every write is one statement, or one transaction (a migration, an import), so
//! losing the database mid-apply fails the apply with nothing half-written; a rerun
//! converges, as after `kill -9`. The connection is not re-opened mid-command: an apply whose
//! state went away stops rather than carry on unrecorded.

mod copy;
mod lock;
mod schema;
mod tls;

pub use lock::AdvisoryLock;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use tokio::sync::RwLock;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient, Row};

use super::config::stored_value_key;
use super::snapshot::{PromotionRow, SlugKeyRow, Snapshot, StateCounts};
use super::{
    ApplyEvent, ApplyLock, ApplyRecord, DatabaseUrl, Location, LockHolder, MadeReleases,
    ManagedVar, RecordedRollback, RecordedUpload, SlugIdentity, StartedRelease, State, StateError,
    StateStatus, now,
};
use crate::build::key::SlugKey;
use crate::release::StartedPromotion;
use crate::sensitive::{Digest, ValueKey};

/// The `application_name` the lock's connection reports (see [`lock`]).
pub use lock::APPLICATION_NAME as LOCK_APPLICATION_NAME;

/// The state in a PostgreSQL database, this manifest's workspace of it.
pub struct PostgresState {
    /// Shared for statements (the client pipelines them); held alone for a transaction.
    client: RwLock<Client>,
    url: DatabaseUrl,
    pub(super) workspace: String,
    pub(super) location: Location,
    schema_version: usize,
}

impl std::fmt::Debug for PostgresState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresState")
            .field("url", &self.url)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

impl PostgresState {
    /// Connects to `url` and migrates its schema as needed; `workspace` is this manifest's.
    pub async fn open(url: &DatabaseUrl, workspace: &str) -> Result<Self, StateError> {
        let mut client = connect(url, None).await?;
        let schema_version = schema::migrate(&mut client, url).await?;
        Ok(PostgresState {
            client: RwLock::new(client),
            url: url.clone(),
            workspace: workspace.to_owned(),
            location: Location::Postgres {
                url: url.clone(),
                workspace: workspace.to_owned(),
            },
            schema_version,
        })
    }

    pub(super) fn fail<'a>(
        &'a self,
        doing: &'static str,
    ) -> impl Fn(tokio_postgres::Error) -> StateError + 'a {
        pg_err(&self.url, doing)
    }

    /// Runs one statement, returning its rows.
    pub(super) async fn query(
        &self,
        doing: &'static str,
        sql: &str,
        params: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StateError> {
        self.client
            .read()
            .await
            .query_typed(sql, params)
            .await
            .map_err(self.fail(doing))
    }

    pub(super) async fn counts(
        &self,
        client: &impl GenericClient,
    ) -> Result<StateCounts, StateError> {
        let row = client
            .query_typed_one(
                "SELECT (SELECT COUNT(*) FROM slugplan.uploads WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.releases WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.promotions WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.slug_keys WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.config_keys WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.applies WHERE workspace = $1),
                        (SELECT COUNT(*) FROM slugplan.events WHERE workspace = $1)",
                &[(&self.workspace, Type::TEXT)],
            )
            .await
            .map_err(self.fail("count the state's records"))?;
        let n = |i| usize::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        Ok(StateCounts {
            uploads: n(0),
            releases: n(1),
            promotions: n(2),
            slug_keys: n(3),
            config_keys: n(4),
            applies: n(5),
            events: n(6),
        })
    }

    /// Applies, newest first when `newest_first`, at most `limit`, with their events: two
    /// round trips however many there are.
    pub(super) async fn applies(
        &self,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<ApplyRecord>, StateError> {
        let order = if newest_first { "DESC" } else { "ASC" };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "read the audit log",
                &format!(
                    "SELECT id, started_at, finished_at, command, platform, manifest_sha256,
                            outcome
                     FROM slugplan.applies WHERE workspace = $1 ORDER BY id {order} LIMIT $2"
                ),
                &[(&self.workspace, Type::TEXT), (&limit, Type::INT8)],
            )
            .await?;
        let mut records: Vec<ApplyRecord> = rows
            .iter()
            .map(|row| ApplyRecord {
                id: row.get(0),
                started_at: row.get(1),
                finished_at: row.get(2),
                command: row.get(3),
                platform: row.get(4),
                manifest_sha256: row.get(5),
                outcome: row.get(6),
                events: Vec::new(),
            })
            .collect();
        if records.is_empty() {
            return Ok(records);
        }
        let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
        let rows = self
            .query(
                "read the audit log",
                "SELECT apply_id, at, address, action, outcome, detail FROM slugplan.events
                 WHERE workspace = $1 AND apply_id = ANY($2) ORDER BY id",
                &[(&self.workspace, Type::TEXT), (&ids, Type::INT8_ARRAY)],
            )
            .await?;
        let mut events: BTreeMap<i64, Vec<ApplyEvent>> = BTreeMap::new();
        for row in rows {
            events.entry(row.get(0)).or_default().push(ApplyEvent {
                at: row.get(1),
                address: row.get(2),
                action: row.get(3),
                outcome: row.get(4),
                detail: row.get(5),
            });
        }
        for record in &mut records {
            record.events = events.remove(&record.id).unwrap_or_default();
        }
        Ok(records)
    }
}

#[async_trait]
impl State for PostgresState {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn find_uploads(
        &self,
        platform: &str,
        slugs: &[SlugIdentity<'_>],
    ) -> Result<Vec<Option<RecordedUpload>>, StateError> {
        let mut found = vec![None; slugs.len()];
        if slugs.is_empty() {
            return Ok(found);
        }
        let checksums: Vec<&str> = slugs.iter().map(|s| s.checksum).collect();
        let stacks: Vec<&str> = slugs.iter().map(|s| s.stack).collect();
        let process_types: Vec<String> = slugs.iter().map(|s| s.process_types_key()).collect();
        let rows = self
            .query(
                "look up recorded uploads",
                "SELECT k.n, u.slug_id, u.app
                 FROM unnest($3::text[], $4::text[], $5::text[])
                      WITH ORDINALITY AS k(checksum, stack, process_types, n)
                 JOIN slugplan.uploads u
                   ON u.workspace = $1 AND u.platform = $2 AND u.checksum = k.checksum
                  AND u.stack = k.stack AND u.process_types = k.process_types",
                &[
                    (&self.workspace, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&checksums, Type::TEXT_ARRAY),
                    (&stacks, Type::TEXT_ARRAY),
                    (&process_types, Type::TEXT_ARRAY),
                ],
            )
            .await?;
        for row in rows {
            let n: i64 = row.get(0);
            if let Some(slot) = usize::try_from(n - 1).ok().and_then(|i| found.get_mut(i)) {
                *slot = Some(RecordedUpload {
                    slug_id: row.get(1),
                    app: row.get(2),
                });
            }
        }
        Ok(found)
    }

    async fn record_upload(
        &self,
        platform: &str,
        slug: SlugIdentity<'_>,
        upload: &RecordedUpload,
    ) -> Result<(), StateError> {
        self.query(
            "record an upload",
            "INSERT INTO slugplan.uploads
                 (workspace, platform, checksum, stack, process_types, slug_id, app, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (workspace, platform, checksum, stack, process_types) DO UPDATE SET
                 slug_id = EXCLUDED.slug_id, app = EXCLUDED.app, created_at = EXCLUDED.created_at",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&slug.checksum, Type::TEXT),
                (&slug.stack, Type::TEXT),
                (&slug.process_types_key(), Type::TEXT),
                (&upload.slug_id, Type::TEXT),
                (&upload.app, Type::TEXT),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn forget_upload(&self, platform: &str, slug_id: &str) -> Result<(), StateError> {
        self.query(
            "forget an upload",
            "DELETE FROM slugplan.uploads WHERE workspace = $1 AND platform = $2 AND slug_id = $3",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&slug_id, Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn record_release(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
    ) -> Result<(), StateError> {
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.query(
            "record a release",
            // The app's started releases are cleared in the same statement ($4 is the app).
            "WITH cleared AS (
                 DELETE FROM slugplan.started_releases
                 WHERE workspace = $1 AND platform = $2 AND app = $4)
             INSERT INTO slugplan.releases
                 (workspace, platform, release_id, app, version, checksum, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (workspace, platform, release_id) DO UPDATE SET
                 app = EXCLUDED.app, version = EXCLUDED.version, checksum = EXCLUDED.checksum,
                 created_at = EXCLUDED.created_at",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&release_id, Type::TEXT),
                (&app, Type::TEXT),
                (&version, Type::INT8),
                (&checksum, Type::TEXT),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
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
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        let restores_version = i64::try_from(restores.version).unwrap_or(i64::MAX);
        self.query(
            "record a rollback",
            // The app's started releases are cleared in the same statement ($4 is the app).
            "WITH cleared AS (
                 DELETE FROM slugplan.started_releases
                 WHERE workspace = $1 AND platform = $2 AND app = $4)
             INSERT INTO slugplan.releases
                 (workspace, platform, release_id, app, version, checksum, created_at,
                  restores_version, restores_created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (workspace, platform, release_id) DO UPDATE SET
                 app = EXCLUDED.app, version = EXCLUDED.version, checksum = EXCLUDED.checksum,
                 created_at = EXCLUDED.created_at, restores_version = EXCLUDED.restores_version,
                 restores_created_at = EXCLUDED.restores_created_at",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&release_id, Type::TEXT),
                (&app, Type::TEXT),
                (&version, Type::INT8),
                (&checksum, Type::TEXT),
                (&now(), Type::TEXT),
                (&restores_version, Type::INT8),
                (&restores.created_at, Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn made_releases(
        &self,
        platform: &str,
        release_ids: &[&str],
    ) -> Result<MadeReleases, StateError> {
        if release_ids.is_empty() {
            return Ok(MadeReleases::new());
        }
        let rows = self
            .query(
                "look up recorded releases",
                "SELECT release_id, restores_version, restores_created_at FROM slugplan.releases
                 WHERE workspace = $1 AND platform = $2 AND release_id = ANY($3)",
                &[
                    (&self.workspace, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&release_ids, Type::TEXT_ARRAY),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let rollback = RecordedRollback::from_columns(row.get(1), row.get(2));
                (row.get(0), rollback)
            })
            .collect())
    }

    async fn record_started_releases(
        &self,
        platform: &str,
        started: &[StartedRelease],
    ) -> Result<(), StateError> {
        let column =
            |f: fn(&StartedRelease) -> &str| -> Vec<&str> { started.iter().map(f).collect() };
        let (apps, slugs, descriptions) = (
            column(|r| &r.app),
            column(|r| &r.slug_id),
            column(|r| &r.description),
        );
        self.query(
            "record the releases started",
            "INSERT INTO slugplan.started_releases
                 (workspace, platform, app, slug_id, description, created_at)
             SELECT $1, $2, app, slug_id, description, $6
             FROM unnest($3::text[], $4::text[], $5::text[]) AS t(app, slug_id, description)
             ON CONFLICT (workspace, platform, app, slug_id, description) DO UPDATE SET
                 created_at = EXCLUDED.created_at",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&apps, Type::TEXT_ARRAY),
                (&slugs, Type::TEXT_ARRAY),
                (&descriptions, Type::TEXT_ARRAY),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn started_releases(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<Vec<StartedRelease>, StateError> {
        if apps.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(
                "read the releases started",
                "SELECT app, slug_id, description FROM slugplan.started_releases
                 WHERE workspace = $1 AND platform = $2 AND app = ANY($3)
                 ORDER BY created_at, app, slug_id, description",
                &[
                    (&self.workspace, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&apps, Type::TEXT_ARRAY),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| StartedRelease {
                app: row.get(0),
                slug_id: row.get(1),
                description: row.get(2),
            })
            .collect())
    }

    async fn deployed_apps(&self, platform: &str) -> Result<BTreeSet<String>, StateError> {
        let rows = self
            .query(
                "list the apps deployed",
                "SELECT DISTINCT app FROM slugplan.releases WHERE workspace = $1 AND platform = $2",
                &[(&self.workspace, Type::TEXT), (&platform, Type::TEXT)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn forget_app(&self, platform: &str, app: &str) -> Result<(), StateError> {
        // One statement for every table: atomic without a transaction of its own.
        self.query(
            "forget an app",
            "WITH releases AS (
                 DELETE FROM slugplan.releases
                 WHERE workspace = $1 AND platform = $2 AND app = $3),
             started AS (
                 DELETE FROM slugplan.started_releases
                 WHERE workspace = $1 AND platform = $2 AND app = $3)
             DELETE FROM slugplan.uploads WHERE workspace = $1 AND platform = $2 AND app = $3",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&app, Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn record_promotion(
        &self,
        platform: &str,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<(), StateError> {
        let targets = serde_json::to_string(target_app_ids).expect("strings serialise");
        self.query(
            "record a pipeline promotion",
            "INSERT INTO slugplan.promotions
                 (workspace, platform, promotion_id, source_release_id, target_app_ids, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workspace, platform, promotion_id) DO UPDATE SET
                 source_release_id = EXCLUDED.source_release_id,
                 target_app_ids = EXCLUDED.target_app_ids, created_at = EXCLUDED.created_at",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&promotion_id, Type::TEXT),
                (&source_release_id, Type::TEXT),
                (&targets, Type::TEXT),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn promotions_of(
        &self,
        platform: &str,
        source_release_id: &str,
    ) -> Result<Vec<StartedPromotion>, StateError> {
        let rows = self
            .query(
                "read the pipeline promotions",
                "SELECT promotion_id, target_app_ids FROM slugplan.promotions
                 WHERE workspace = $1 AND platform = $2 AND source_release_id = $3
                 ORDER BY created_at, seq",
                &[
                    (&self.workspace, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&source_release_id, Type::TEXT),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| PromotionRow::started(row.get(0), row.get(1)))
            .collect())
    }

    async fn value_key(&self) -> Result<ValueKey, StateError> {
        // Made by the first runner that needs it; a runner racing it reads the winner's (its
        // insert waits for the other's commit, then the second statement sees it).
        let made = ValueKey::generate().to_hex();
        let mut rows = Vec::new();
        for _ in 0..2 {
            rows = self
                .query(
                    "read the config value key",
                    "WITH made AS (
                         INSERT INTO slugplan.value_keys (workspace, key, created_at)
                         VALUES ($1, $2, $3) ON CONFLICT (workspace) DO NOTHING
                         RETURNING key)
                     SELECT key FROM made
                     UNION ALL SELECT key FROM slugplan.value_keys WHERE workspace = $1",
                    &[
                        (&self.workspace, Type::TEXT),
                        (&made, Type::TEXT),
                        (&now(), Type::TEXT),
                    ],
                )
                .await?;
            if !rows.is_empty() {
                break;
            }
        }
        let hex: String = rows.first().map(|row| row.get(0)).unwrap_or_default();
        stored_value_key(self, &hex)
    }

    async fn managed_config(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, ManagedVar>>, StateError> {
        let mut managed: BTreeMap<String, BTreeMap<String, ManagedVar>> = apps
            .iter()
            .map(|app| ((*app).to_owned(), BTreeMap::new()))
            .collect();
        if apps.is_empty() {
            return Ok(managed);
        }
        let rows = self
            .query(
                "read the managed config keys",
                "SELECT app, key, sensitive, digest, removed FROM slugplan.config_keys
                 WHERE workspace = $1 AND platform = $2 AND app = ANY($3)",
                &[
                    (&self.workspace, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&apps, Type::TEXT_ARRAY),
                ],
            )
            .await?;
        for row in rows {
            let app: String = row.get(0);
            let digest: Option<String> = row.get(3);
            managed.entry(app).or_default().insert(
                row.get(1),
                ManagedVar {
                    sensitive: row.get(2),
                    digest: digest.map(Digest),
                    removed: row.get(4),
                },
            );
        }
        Ok(managed)
    }

    async fn apps_with_managed_config(
        &self,
        platform: &str,
    ) -> Result<BTreeSet<String>, StateError> {
        let rows = self
            .query(
                "list the apps with managed config",
                "SELECT DISTINCT app FROM slugplan.config_keys
                 WHERE workspace = $1 AND platform = $2 AND NOT removed",
                &[(&self.workspace, Type::TEXT), (&platform, Type::TEXT)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn manage_config(
        &self,
        platform: &str,
        app: &str,
        keys: &BTreeMap<String, bool>,
    ) -> Result<(), StateError> {
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        let sensitive: Vec<bool> = keys.values().copied().collect();
        // One statement for every key: all of them or none.
        self.query(
            "record the managed config keys",
            "INSERT INTO slugplan.config_keys
                 (workspace, platform, app, key, sensitive, digest, removed, updated_at)
             SELECT $1, $2, $3, k.key, k.sensitive, NULL, false, $6
             FROM unnest($4::text[], $5::boolean[]) AS k(key, sensitive)
             ON CONFLICT (workspace, platform, app, key)
             DO UPDATE SET sensitive = EXCLUDED.sensitive, removed = false",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&app, Type::TEXT),
                (&names, Type::TEXT_ARRAY),
                (&sensitive, Type::BOOL_ARRAY),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn record_config(
        &self,
        platform: &str,
        app: &str,
        set: &BTreeMap<String, Digest>,
        unset: &BTreeSet<String>,
    ) -> Result<(), StateError> {
        let set_keys: Vec<&str> = set.keys().map(String::as_str).collect();
        let digests: Vec<&str> = set.values().map(|d| d.0.as_str()).collect();
        let unset: Vec<&str> = unset.iter().map(String::as_str).collect();
        self.query(
            "record the config set",
            "WITH unset AS (
                 UPDATE slugplan.config_keys SET removed = true, updated_at = $6
                 WHERE workspace = $1 AND platform = $2 AND app = $3 AND key = ANY($7))
             UPDATE slugplan.config_keys c SET digest = s.digest, updated_at = $6
             FROM unnest($4::text[], $5::text[]) AS s(key, digest)
             WHERE c.workspace = $1 AND c.platform = $2 AND c.app = $3 AND c.key = s.key",
            &[
                (&self.workspace, Type::TEXT),
                (&platform, Type::TEXT),
                (&app, Type::TEXT),
                (&set_keys, Type::TEXT_ARRAY),
                (&digests, Type::TEXT_ARRAY),
                (&now(), Type::TEXT),
                (&unset, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map(drop)
    }

    async fn slug_key_hashes(
        &self,
        slugs: &[&str],
    ) -> Result<BTreeMap<String, String>, StateError> {
        if slugs.is_empty() {
            return Ok(BTreeMap::new());
        }
        let rows = self
            .query(
                "read the slug keys",
                "SELECT slug, key FROM slugplan.slug_keys WHERE workspace = $1 AND slug = ANY($2)",
                &[(&self.workspace, Type::TEXT), (&slugs, Type::TEXT_ARRAY)],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    async fn slug_key(&self, slug: &str) -> Result<Option<SlugKey>, StateError> {
        let rows = self
            .query(
                "read a slug key",
                "SELECT key, parts FROM slugplan.slug_keys WHERE workspace = $1 AND slug = $2",
                &[(&self.workspace, Type::TEXT), (&slug, Type::TEXT)],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|row| SlugKeyRow::decode(row.get(0), row.get(1))))
    }

    async fn record_slug_key(&self, slug: &str, key: &SlugKey) -> Result<(), StateError> {
        self.query(
            "record a slug key",
            "INSERT INTO slugplan.slug_keys (workspace, slug, key, parts, recorded_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace, slug) DO UPDATE SET
                 key = EXCLUDED.key, parts = EXCLUDED.parts, recorded_at = EXCLUDED.recorded_at",
            &[
                (&self.workspace, Type::TEXT),
                (&slug, Type::TEXT),
                (&key.key, Type::TEXT),
                (&SlugKeyRow::encode_parts(key), Type::TEXT),
                (&now(), Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn begin_apply(
        &self,
        command: &str,
        platform: &str,
        manifest_sha256: &str,
    ) -> Result<i64, StateError> {
        // The workspace's counter row numbers its applies; its row lock orders two runners
        // beginning at once, in one statement.
        let rows = self
            .query(
                "begin an audit-log entry",
                "WITH n AS (
                     INSERT INTO slugplan.workspaces (name, created_at, last_apply)
                     VALUES ($1, $2, 1)
                     ON CONFLICT (name) DO UPDATE
                         SET last_apply = slugplan.workspaces.last_apply + 1
                     RETURNING last_apply)
                 INSERT INTO slugplan.applies
                     (workspace, id, started_at, command, platform, manifest_sha256)
                 SELECT $1, last_apply, $2, $3, $4, $5 FROM n
                 RETURNING id",
                &[
                    (&self.workspace, Type::TEXT),
                    (&now(), Type::TEXT),
                    (&command, Type::TEXT),
                    (&platform, Type::TEXT),
                    (&manifest_sha256, Type::TEXT),
                ],
            )
            .await?;
        Ok(rows.first().map_or(0, |row| row.get(0)))
    }

    async fn record_event(
        &self,
        apply_id: i64,
        address: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StateError> {
        self.query(
            "record a step in the audit log",
            "INSERT INTO slugplan.events (workspace, apply_id, at, address, action, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                (&self.workspace, Type::TEXT),
                (&apply_id, Type::INT8),
                (&now(), Type::TEXT),
                (&address, Type::TEXT),
                (&action, Type::TEXT),
                (&outcome, Type::TEXT),
                (&detail, Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn finish_apply(&self, apply_id: i64, outcome: &str) -> Result<(), StateError> {
        self.query(
            "close the audit-log entry",
            "UPDATE slugplan.applies SET finished_at = $3, outcome = $4
             WHERE workspace = $1 AND id = $2",
            &[
                (&self.workspace, Type::TEXT),
                (&apply_id, Type::INT8),
                (&now(), Type::TEXT),
                (&outcome, Type::TEXT),
            ],
        )
        .await
        .map(drop)
    }

    async fn history(&self, limit: usize) -> Result<Vec<ApplyRecord>, StateError> {
        self.applies(true, limit).await
    }

    async fn lock_applies(
        &self,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<ApplyLock, StateError> {
        Ok(
            AdvisoryLock::acquire(&self.url, &self.workspace, holder, timeout)
                .await?
                .into(),
        )
    }

    async fn status(&self) -> Result<StateStatus, StateError> {
        let client = self.client.read().await;
        Ok(StateStatus {
            schema_version: self.schema_version,
            known_version: schema::version(),
            lock: lock::holder_of(&client, &self.url, &self.workspace).await?,
            counts: self.counts(&*client).await?,
        })
    }

    async fn export(&self) -> Result<Snapshot, StateError> {
        self.export_all().await
    }

    async fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<(), StateError> {
        self.import_all(snapshot, replace).await
    }
}

/// Opens a connection to `url` (reporting `application_name` when given), its I/O driven by a
/// task on the runtime until the client is dropped.
pub(super) async fn connect(
    url: &DatabaseUrl,
    application_name: Option<&str>,
) -> Result<Client, StateError> {
    let tls = tls::connector(url)?;
    let mut config = url.config().clone();
    if let Some(name) = application_name {
        config.application_name(name);
    }
    let (client, connection) = config
        .connect(tls)
        .await
        .map_err(|source| StateError::Connect {
            url: url.to_string(),
            source,
        })?;
    let masked = url.to_string();
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!("the connection to {masked} ended: {err}");
        }
    });
    Ok(client)
}

/// The advisory lock key slugplan uses for `purpose`: 64 bits of a SHA-256, so slugplan's
/// keys stay clear of other applications' on the same database.
pub(super) fn advisory_key(purpose: &str) -> i64 {
    let digest = Sha256::digest(format!("slugplan/{purpose}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Turns a client error into [`StateError::Postgres`] on `url` while doing `doing`.
pub(super) fn pg_err<'a>(
    url: &'a DatabaseUrl,
    doing: &'static str,
) -> impl Fn(tokio_postgres::Error) -> StateError + 'a {
    move |source| StateError::Postgres {
        url: url.to_string(),
        doing,
        source,
    }
}
