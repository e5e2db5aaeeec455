//! Pipelines, couplings and promotions of the local platform.
//!
//! Guarantees: a promotion and all its targets are written in one transaction. Each target is
//! released with the same checks as any release (stack, generation, archive); a target that
//! fails those checks is recorded as `failed` with the reason while the others go ahead, as on
//! Heroku where one target's failure does not stop the rest.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::apps::app_in;
use super::records::{AppRecord, CouplingRecord, PipelineRecord, PromotionRecord, TargetRecord};
use super::releases::{Origin, release_in, settle, status_name};
use super::store::{Store, invalid, not_found, now};
use crate::platform::{PlatformError, PromotionStatus, ReleaseStatus, TargetStatus};

/// The stages a coupling may have (the API's enum).
pub const STAGES: &[&str] = &["test", "review", "development", "staging", "production"];

/// The columns [`coupling_from_row`] reads, in order, from `couplings c`.
const COUPLING_COLUMNS: &str = "c.id, c.pipeline_id, c.app_id, c.stage, c.created_at, \
    c.updated_at, (SELECT name FROM apps WHERE id = c.app_id), \
    (SELECT name FROM pipelines WHERE id = c.pipeline_id)";

const TARGET_COLUMNS: &str = "t.id, t.promotion_id, t.app_id, t.status, t.error_message, \
    t.release_id, r.status";

impl Store {
    /// Creates a pipeline.
    pub fn create_pipeline(&self, name: &str) -> Result<PipelineRecord, PlatformError> {
        let ok = (3..=30).contains(&name.len())
            && name.as_bytes()[0].is_ascii_lowercase()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(invalid(format!(
                "pipeline name {name:?} must match ^[a-z][a-z0-9-]{{2,29}}$"
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.write(|tx| {
            if pipeline_in(tx, name, self).is_ok() {
                return Err(PlatformError::Conflict {
                    message: format!("pipeline {name} already exists"),
                    request_id: None,
                });
            }
            tx.execute(
                "INSERT INTO pipelines (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![id, name, now()],
            )
            .map_err(self.err("cannot create the pipeline"))?;
            pipeline_in(tx, &id, self)
        })
    }

    /// Reads a pipeline by name or id.
    pub fn pipeline(&self, pipeline: &str) -> Result<PipelineRecord, PlatformError> {
        let conn = self.conn();
        pipeline_in(&conn, pipeline, self)
    }

    /// Every pipeline, by name.
    pub fn pipelines(&self) -> Result<Vec<PipelineRecord>, PlatformError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, name, created_at, updated_at FROM pipelines ORDER BY name")
            .map_err(self.err("cannot list pipelines"))?;
        stmt.query_map([], pipeline_from_row)
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot list pipelines"))
    }

    /// Couples `app` to `pipeline` (name or id) at `stage`; an app is in at most one pipeline.
    pub fn create_coupling(
        &self,
        app: &str,
        pipeline: &str,
        stage: &str,
    ) -> Result<CouplingRecord, PlatformError> {
        check_stage(stage)?;
        let id = uuid::Uuid::new_v4().to_string();
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            let pipeline = pipeline_in(tx, pipeline, self)?;
            if coupling_of(tx, &app.id, self)?.is_some() {
                return Err(PlatformError::Conflict {
                    message: format!("app {} is already in a pipeline", app.name),
                    request_id: None,
                });
            }
            tx.execute(
                "INSERT INTO couplings (id, pipeline_id, app_id, stage, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, pipeline.id, app.id, stage, now()],
            )
            .map_err(self.err("cannot create the coupling"))?;
            Ok(coupling_of(tx, &app.id, self)?.expect("the coupling was just written"))
        })
    }

    /// Moves coupling `coupling` (its id) to `stage`.
    pub fn update_coupling(
        &self,
        coupling: &str,
        stage: &str,
    ) -> Result<CouplingRecord, PlatformError> {
        check_stage(stage)?;
        self.write(|tx| {
            let changed = tx
                .execute(
                    "UPDATE couplings SET stage = ?2, updated_at = ?3 WHERE id = ?1",
                    params![coupling, stage, now()],
                )
                .map_err(self.err("cannot update the coupling"))?;
            if changed == 0 {
                return Err(coupling_not_found(coupling));
            }
            coupling_by_id(tx, coupling, self)
        })
    }

    /// Deletes coupling `coupling` (its id) and answers it as it was.
    pub fn delete_coupling(&self, coupling: &str) -> Result<CouplingRecord, PlatformError> {
        self.write(|tx| {
            let record = coupling_by_id(tx, coupling, self)?;
            tx.execute("DELETE FROM couplings WHERE id = ?1", [coupling])
                .map_err(self.err("cannot delete the coupling"))?;
            Ok(record)
        })
    }

    /// Reads a coupling by id.
    pub fn coupling_by_id(&self, coupling: &str) -> Result<CouplingRecord, PlatformError> {
        let conn = self.conn();
        coupling_by_id(&conn, coupling, self)
    }

    /// The coupling of `app`, if it is in a pipeline.
    pub fn coupling(&self, app: &str) -> Result<Option<CouplingRecord>, PlatformError> {
        let conn = self.conn();
        let app = app_in(&conn, app, self)?;
        coupling_of(&conn, &app.id, self)
    }

    /// The couplings of a pipeline (name or id).
    pub fn pipeline_couplings(&self, pipeline: &str) -> Result<Vec<CouplingRecord>, PlatformError> {
        let conn = self.conn();
        let pipeline = pipeline_in(&conn, pipeline, self)?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COUPLING_COLUMNS} FROM couplings c \
                 WHERE c.pipeline_id = ?1 ORDER BY c.created_at, c.id"
            ))
            .map_err(self.err("cannot list couplings"))?;
        stmt.query_map([&pipeline.id], coupling_from_row)
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot list couplings"))
    }

    /// Promotes `source_release` (id or version; the current release when None) of
    /// `source_app` to each target app, in one transaction.
    pub fn create_promotion(
        &self,
        pipeline: &str,
        source_app: &str,
        source_release: Option<&str>,
        targets: &[String],
    ) -> Result<PromotionRecord, PlatformError> {
        if targets.is_empty() {
            return Err(invalid("a promotion needs at least one target".to_owned()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.write(|tx| {
            let pipeline = pipeline_in(tx, pipeline, self)?;
            let source = app_in(tx, source_app, self)?;
            // A release whose delay has passed but that nobody has read since is still
            // `pending` in the table: settle first so the status checked below is the real one.
            settle(tx, &source.id, self)?;
            let release = match source_release {
                Some(release) => release_in(tx, &source, release, self)?,
                None => {
                    let current: Option<String> = tx
                        .query_row(
                            "SELECT id FROM releases WHERE app_id = ?1 AND current = 1",
                            [&source.id],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(self.err("cannot read releases"))?;
                    let current = current.ok_or_else(|| {
                        invalid(format!(
                            "app {} has no current release to promote",
                            source.name
                        ))
                    })?;
                    release_in(tx, &source, &current, self)?
                }
            };
            if release.status != ReleaseStatus::Succeeded {
                return Err(invalid(format!(
                    "release v{} of {} has status {}: only a succeeded release can be promoted",
                    release.version,
                    source.name,
                    status_name(release.status)
                )));
            }
            // As on Heroku, a promotion stays inside its pipeline: the source and every target
            // must be coupled to it. Checked up front, so a stray target refuses the whole
            // promotion before anything is released.
            let target_apps = targets_resolved(tx, targets, self)?;
            if target_apps.iter().any(|app| app.id == source.id) {
                return Err(invalid(format!(
                    "app {} cannot be promoted to itself",
                    source.name
                )));
            }
            for app in std::iter::once(&source).chain(&target_apps) {
                let coupled =
                    coupling_of(tx, &app.id, self)?.is_some_and(|c| c.pipeline_id == pipeline.id);
                if !coupled {
                    return Err(invalid(format!(
                        "app {} is not coupled to pipeline {}",
                        app.name, pipeline.name
                    )));
                }
            }
            let slug_id = release.slug_id.clone().ok_or_else(|| {
                invalid(format!(
                    "release v{} of {} has no slug to promote",
                    release.version, source.name
                ))
            })?;
            let now = now();
            tx.execute(
                "INSERT INTO promotions (id, pipeline_id, source_app_id, source_release_id, \
                 status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'completed', ?5, ?5)",
                params![id, pipeline.id, source.id, release.id, now],
            )
            .map_err(self.err("cannot create the promotion"))?;
            let description = crate::platform::promotion_description(&source.name, release.version);
            for (position, app) in target_apps.iter().enumerate() {
                let (status, error, release_id) =
                    match self.release_slug_in(tx, app, &slug_id, &description, Origin::Slug) {
                        Ok(made) => ("succeeded", None, Some(made.id)),
                        Err(PlatformError::InvalidParams { message, .. }) => {
                            ("failed", Some(message), None)
                        }
                        Err(err) => return Err(err),
                    };
                tx.execute(
                    "INSERT INTO promotion_targets (id, promotion_id, position, app_id, status, \
                     error_message, release_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        uuid::Uuid::new_v4().to_string(),
                        id,
                        position,
                        app.id,
                        status,
                        error,
                        release_id
                    ],
                )
                .map_err(self.err("cannot record a promotion target"))?;
            }
            Ok(())
        })?;
        self.promotion(&id)
    }

    /// Reads a promotion; it is `pending` while any target's release still is.
    pub fn promotion(&self, promotion: &str) -> Result<PromotionRecord, PlatformError> {
        let targets = self.promotion_targets(promotion)?;
        let conn = self.conn();
        let mut record = conn
            .query_row(
                "SELECT id, pipeline_id, source_app_id, source_release_id, status, created_at, \
                 updated_at FROM promotions WHERE id = ?1",
                [promotion],
                |row| {
                    Ok(PromotionRecord {
                        id: row.get(0)?,
                        pipeline_id: row.get(1)?,
                        source_app_id: row.get(2)?,
                        source_release_id: row.get(3)?,
                        status: PromotionStatus::Completed,
                        created_at: row.get(5)?,
                        updated_at: row.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("cannot read promotions"))?
            .ok_or_else(|| not_found(format!("Couldn't find that promotion: {promotion}")))?;
        if targets.iter().any(|t| t.status == TargetStatus::Pending) {
            record.status = PromotionStatus::Pending;
        }
        Ok(record)
    }

    /// The targets of a promotion, in the order they were given. A target's status follows
    /// its release's (a pending release is a pending target).
    pub fn promotion_targets(&self, promotion: &str) -> Result<Vec<TargetRecord>, PlatformError> {
        let app_ids: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT app_id FROM promotion_targets WHERE promotion_id = ?1")
                .map_err(self.err("cannot read promotion targets"))?;
            stmt.query_map([promotion], |row| row.get(0))
                .and_then(|rows| rows.collect())
                .map_err(self.err("cannot read promotion targets"))?
        };
        if app_ids.is_empty() {
            let conn = self.conn();
            let exists = conn
                .query_row(
                    "SELECT 1 FROM promotions WHERE id = ?1",
                    [promotion],
                    |_| Ok(()),
                )
                .optional()
                .map_err(self.err("cannot read promotions"))?;
            if exists.is_none() {
                return Err(not_found(format!(
                    "Couldn't find that promotion: {promotion}"
                )));
            }
        }
        // Reading each app settles its pending releases, so statuses below are up to date.
        for app in &app_ids {
            self.app(app)?;
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TARGET_COLUMNS} FROM promotion_targets t \
                 LEFT JOIN releases r ON r.id = t.release_id \
                 WHERE t.promotion_id = ?1 ORDER BY t.position"
            ))
            .map_err(self.err("cannot read promotion targets"))?;
        stmt.query_map([promotion], target_from_row)
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot read promotion targets"))
    }
}

fn pipeline_in(
    conn: &Connection,
    pipeline: &str,
    store: &Store,
) -> Result<PipelineRecord, PlatformError> {
    conn.query_row(
        "SELECT id, name, created_at, updated_at FROM pipelines WHERE id = ?1 OR name = ?1",
        [pipeline],
        pipeline_from_row,
    )
    .optional()
    .map_err(store.err("cannot read pipelines"))?
    .ok_or_else(|| not_found(format!("Couldn't find that pipeline: {pipeline}")))
}

/// Resolves target app names or ids to apps (an unknown one is `not_found`).
fn targets_resolved(
    conn: &Connection,
    targets: &[String],
    store: &Store,
) -> Result<Vec<AppRecord>, PlatformError> {
    targets.iter().map(|t| app_in(conn, t, store)).collect()
}

fn pipeline_from_row(row: &Row<'_>) -> rusqlite::Result<PipelineRecord> {
    Ok(PipelineRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
    })
}

fn check_stage(stage: &str) -> Result<(), PlatformError> {
    if STAGES.contains(&stage) {
        Ok(())
    } else {
        Err(invalid(format!(
            "stage {stage:?} must be one of {}",
            STAGES.join(", ")
        )))
    }
}

fn coupling_not_found(coupling: &str) -> PlatformError {
    not_found(format!("Couldn't find that pipeline coupling: {coupling}"))
}

fn coupling_by_id(
    conn: &Connection,
    coupling: &str,
    store: &Store,
) -> Result<CouplingRecord, PlatformError> {
    coupling_where(conn, "id", coupling, store)?.ok_or_else(|| coupling_not_found(coupling))
}

fn coupling_of(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<Option<CouplingRecord>, PlatformError> {
    coupling_where(conn, "app_id", app_id, store)
}

/// The coupling whose `column` (`id` or `app_id`, both unique) is `value`.
fn coupling_where(
    conn: &Connection,
    column: &str,
    value: &str,
    store: &Store,
) -> Result<Option<CouplingRecord>, PlatformError> {
    conn.query_row(
        &format!("SELECT {COUPLING_COLUMNS} FROM couplings c WHERE c.{column} = ?1"),
        [value],
        coupling_from_row,
    )
    .optional()
    .map_err(store.err("cannot read couplings"))
}

fn coupling_from_row(row: &Row<'_>) -> rusqlite::Result<CouplingRecord> {
    Ok(CouplingRecord {
        id: row.get(0)?,
        pipeline_id: row.get(1)?,
        app_id: row.get(2)?,
        stage: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        app_name: row.get(6)?,
        pipeline_name: row.get(7)?,
    })
}

fn target_from_row(row: &Row<'_>) -> rusqlite::Result<TargetRecord> {
    let recorded: String = row.get(3)?;
    let release_status: Option<String> = row.get(6)?;
    let status = match (recorded.as_str(), release_status.as_deref()) {
        ("failed", _) | (_, Some("failed" | "expired")) => TargetStatus::Failed,
        (_, Some("pending")) => TargetStatus::Pending,
        _ => TargetStatus::Succeeded,
    };
    let mut error_message: Option<String> = row.get(4)?;
    if status == TargetStatus::Failed && error_message.is_none() {
        error_message = Some("the release on the target app failed".to_owned());
    }
    Ok(TargetRecord {
        id: row.get(0)?,
        promotion_id: row.get(1)?,
        app_id: row.get(2)?,
        status,
        error_message,
        release_id: row.get(5)?,
    })
}
