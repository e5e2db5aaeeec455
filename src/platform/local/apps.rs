//! Apps of the local platform: creating, reading, listing and changing them.
//!
//! Guarantees: names are checked as the API checks them (`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`) and
//! are unique; a stack must be one the local platform runs. A rename, the maintenance flag and the
//! next release's stack (`build_stack`, what `heroku stack:set` changes) are written in one
//! transaction. The app's own `stack` is the stack of the slug it runs: a release of a slug built
//! for `build_stack` moves the app to it (see `releases.rs`). Deleting an app is `deletion.rs`;
//! the web port every app is given when it is created is `web_port.rs`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::records::AppRecord;
use super::releases::{has_due_releases, settle};
use super::store::{Store, check_stack_name, invalid, not_found, now};
use super::web_port::assign_web_port;
use crate::platform::{Generation, PlatformError};

/// The columns [`app_from_row`] reads, in order.
const APP_COLUMNS: &str = "a.id, a.name, a.stack, a.generation, a.region, a.created_at, \
    a.updated_at, a.released_at, (SELECT s.size FROM releases r JOIN slugs s ON s.id = r.slug_id \
    WHERE r.app_id = a.id AND r.current = 1), a.maintenance, COALESCE(a.build_stack, a.stack), a.web_port";

/// What `PATCH /apps/{app}` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppChanges {
    /// A new name.
    pub name: Option<String>,
    /// Whether the app is in maintenance mode.
    pub maintenance: Option<bool>,
    /// The stack the app's next release is for (the app's own stack clears a pending change).
    pub build_stack: Option<String>,
}

impl Store {
    /// Creates an app.
    pub fn create_app(
        &self,
        name: &str,
        stack: &str,
        generation: Generation,
    ) -> Result<AppRecord, PlatformError> {
        check_app_name(name)?;
        check_stack_name(stack)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = now();
        self.write(|tx| {
            check_name_free(tx, name, None, self)?;
            tx.execute(
                "INSERT INTO apps (id, name, stack, generation, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, name, stack, generation_name(generation), now],
            )
            .map_err(self.err("cannot create the app"))?;
            assign_web_port(tx, self, &id, name)?;
            app_in(tx, &id, self)
        })
    }

    /// Reads an app by name or id.
    /// Pending releases whose delay has passed are settled first, so every read sees them
    /// finished; the write lock is taken only when there is one to settle.
    pub fn app(&self, app: &str) -> Result<AppRecord, PlatformError> {
        let record = {
            let conn = self.conn();
            let record = app_in(&conn, app, self)?;
            if !has_due_releases(&conn, &record.id, self)? {
                return Ok(record);
            }
            record
        };
        self.write(|tx| {
            settle(tx, &record.id, self)?;
            app_in(tx, &record.id, self)
        })
    }

    /// Every app, by name.
    pub fn apps(&self) -> Result<Vec<AppRecord>, PlatformError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {APP_COLUMNS} FROM apps a ORDER BY a.name"))
            .map_err(self.err("cannot list apps"))?;
        stmt.query_map([], app_from_row)
            .and_then(|rows| rows.collect())
            .map_err(self.err("cannot list apps"))
    }

    /// Renames `app`, sets its maintenance flag or its next release's stack: every change is
    /// checked before any is written, and all are written together.
    pub fn update_app(&self, app: &str, changes: &AppChanges) -> Result<AppRecord, PlatformError> {
        if let Some(name) = &changes.name {
            check_app_name(name)?;
        }
        if let Some(stack) = &changes.build_stack {
            check_stack_name(stack)?;
        }
        self.write(|tx| {
            let record = app_in(tx, app, self)?;
            if let Some(name) = &changes.name {
                check_name_free(tx, name, Some(&record.id), self)?;
            }
            let build_stack = changes.build_stack.as_ref().unwrap_or(&record.build_stack);
            tx.execute(
                "UPDATE apps SET name = ?2, maintenance = ?3, \
                 build_stack = CASE WHEN ?4 = stack THEN NULL ELSE ?4 END, updated_at = ?5 \
                 WHERE id = ?1",
                params![
                    record.id,
                    changes.name.as_ref().unwrap_or(&record.name),
                    changes.maintenance.unwrap_or(record.maintenance),
                    build_stack,
                    now()
                ],
            )
            .map_err(self.err("cannot update the app"))?;
            app_in(tx, &record.id, self)
        })
    }
}

/// Refuses `name` when an app other than `except` (an app id) has it.
fn check_name_free(
    conn: &Connection,
    name: &str,
    except: Option<&str>,
    store: &Store,
) -> Result<(), PlatformError> {
    let holder: Option<String> = conn
        .query_row("SELECT id FROM apps WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()
        .map_err(store.err("cannot read apps"))?;
    match holder {
        Some(id) if Some(id.as_str()) != except => Err(PlatformError::Conflict {
            message: format!("Name {name} is already taken"),
            request_id: None,
        }),
        _ => Ok(()),
    }
}

/// Reads an app by name or id inside a transaction or connection.
pub(crate) fn app_in(
    conn: &Connection,
    app: &str,
    store: &Store,
) -> Result<AppRecord, PlatformError> {
    conn.query_row(
        &format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.id = ?1 OR a.name = ?1"),
        [app],
        app_from_row,
    )
    .optional()
    .map_err(store.err("cannot read apps"))?
    .ok_or_else(|| not_found(format!("Couldn't find that app: {app}")))
}

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<AppRecord> {
    let generation: String = row.get(3)?;
    Ok(AppRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        stack: row.get(2)?,
        generation: if generation == "fir" {
            Generation::Fir
        } else {
            Generation::Cedar
        },
        region: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        released_at: row.get(7)?,
        slug_size: row.get(8)?,
        maintenance: row.get(9)?,
        build_stack: row.get(10)?,
        web_port: row.get(11)?,
    })
}

fn check_app_name(name: &str) -> Result<(), PlatformError> {
    let bytes = name.as_bytes();
    let ok = (3..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "app name {name:?} must match ^[a-z][a-z0-9-]{{1,28}}[a-z0-9]$"
        )))
    }
}

/// The wire name of a generation.
pub(crate) fn generation_name(generation: Generation) -> &'static str {
    match generation {
        Generation::Cedar => "cedar",
        Generation::Fir => "fir",
    }
}
