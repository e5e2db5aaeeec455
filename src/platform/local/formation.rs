//! Formation on the local platform: how many dynos of each process type an app runs, and of
//! what size.
//!
//! As on Heroku, the process types are the current release's slug's: the first release that
//! brings a type gives it its first formation ([`scale_new_types`]: one `web` dyno, none of any
//! other type, by [`crate::dyno::initial_quantity`]), and a formation is kept per app across
//! releases, so a type scaled by hand stays scaled. Listing shows the types of the current
//! release, each with its command; scaling a type the current release does not have is
//! `404`, a size the app's generation does not have is `422`.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::apps::app_in;
use super::store::{Store, invalid, not_found, now};
use crate::dyno;
use crate::platform::{Formation, FormationUpdate, PlatformError};

/// One process type's formation as stored, with what the API shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationRecord {
    /// UUID.
    pub id: String,
    /// The app's UUID.
    pub app_id: String,
    /// The app's name.
    pub app_name: String,
    /// The process type.
    pub process_type: String,
    /// How many dynos run.
    pub quantity: u32,
    /// Their size, in Heroku's spelling.
    pub size: String,
    /// The command, from the current release's slug.
    pub command: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

impl From<FormationRecord> for Formation {
    fn from(r: FormationRecord) -> Formation {
        Formation {
            process_type: r.process_type,
            quantity: r.quantity,
            size: r.size,
            command: r.command,
        }
    }
}

impl Store {
    /// The formation of each process type of `app`'s current release, by type.
    pub fn formation(&self, app: &str) -> Result<Vec<FormationRecord>, PlatformError> {
        let record = self.app(app)?;
        let conn = self.conn();
        formation_in(&conn, &record.id, self)
    }

    /// One process type's formation, by type or id.
    pub fn formation_of(
        &self,
        app: &str,
        process_type: &str,
    ) -> Result<FormationRecord, PlatformError> {
        self.formation(app)?
            .into_iter()
            .find(|f| f.process_type == process_type || f.id == process_type)
            .ok_or_else(|| no_such_type(process_type))
    }

    /// Scales and resizes process types of `app` at once, all or none, and returns the whole
    /// formation after.
    pub fn update_formation(
        &self,
        app: &str,
        updates: &[FormationUpdate],
    ) -> Result<Vec<FormationRecord>, PlatformError> {
        self.write(|tx| {
            let app = app_in(tx, app, self)?;
            let current = formation_in(tx, &app.id, self)?;
            let now = now();
            for update in updates {
                let Some(found) = current
                    .iter()
                    .find(|f| f.process_type == update.process_type || f.id == update.process_type)
                else {
                    return Err(no_such_type(&update.process_type));
                };
                let size = match &update.size {
                    None => found.size.clone(),
                    Some(size) => canonical_size(app.generation, size)?,
                };
                let quantity = update.quantity.unwrap_or(found.quantity);
                tx.execute(
                    "UPDATE formation SET quantity = ?3, size = ?4, updated_at = ?5 \
                     WHERE app_id = ?1 AND type = ?2",
                    params![app.id, found.process_type, quantity, size, now],
                )
                .map_err(self.err("cannot scale the formation"))?;
            }
            formation_in(tx, &app.id, self)
        })
    }
}

/// Gives each process type of `app_id`'s current release that has no formation yet its first
/// one: Heroku's rule, one `web` dyno and none of the others, of the default size.
pub(crate) fn scale_new_types(
    tx: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<(), PlatformError> {
    let now = now();
    for process_type in current_types(tx, app_id, store)?.keys() {
        tx.execute(
            "INSERT INTO formation (id, app_id, type, quantity, size, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (app_id, type) DO NOTHING",
            params![
                uuid::Uuid::new_v4().to_string(),
                app_id,
                process_type,
                dyno::initial_quantity(process_type),
                dyno::DEFAULT_SIZE,
                now
            ],
        )
        .map_err(store.err("cannot create the formation"))?;
    }
    Ok(())
}

/// The process types (type → command) of `app_id`'s current release; none without one.
fn current_types(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<BTreeMap<String, String>, PlatformError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT s.process_types FROM releases r JOIN slugs s ON s.id = r.slug_id \
             WHERE r.app_id = ?1 AND r.current = 1",
            [app_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(store.err("cannot read the current release"))?;
    json.map_or(Ok(BTreeMap::new()), |json| {
        serde_json::from_str(&json).map_err(|e| PlatformError::Storage {
            message: format!("app {app_id}'s current slug has malformed process types"),
            source: Some(Box::new(e)),
        })
    })
}

/// The formation of each process type of `app_id`'s current release, with its command.
fn formation_in(
    conn: &Connection,
    app_id: &str,
    store: &Store,
) -> Result<Vec<FormationRecord>, PlatformError> {
    let types = current_types(conn, app_id, store)?;
    let mut stmt = conn
        .prepare(
            "SELECT f.id, f.app_id, a.name, f.type, f.quantity, f.size, f.created_at, \
             f.updated_at FROM formation f JOIN apps a ON a.id = f.app_id \
             WHERE f.app_id = ?1 ORDER BY f.type",
        )
        .map_err(store.err("cannot read the formation"))?;
    let rows = stmt
        .query_map([app_id], formation_from_row)
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(store.err("cannot read the formation"))?;
    Ok(rows
        .into_iter()
        .filter_map(|mut record| {
            record.command = types.get(&record.process_type)?.clone();
            Some(record)
        })
        .collect())
}

fn formation_from_row(row: &Row<'_>) -> rusqlite::Result<FormationRecord> {
    Ok(FormationRecord {
        id: row.get(0)?,
        app_id: row.get(1)?,
        app_name: row.get(2)?,
        process_type: row.get(3)?,
        quantity: row.get(4)?,
        size: row.get(5)?,
        command: String::new(),
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

/// Heroku's answer for a process type the app's release does not have.
fn no_such_type(process_type: &str) -> PlatformError {
    not_found(format!("Couldn't find that process type ({process_type})."))
}

/// `size` in Heroku's spelling, if the `generation` has it; else the error the API gives,
/// listing the sizes it has (for scaling and for one-off dynos alike).
pub(super) fn canonical_size(
    generation: crate::platform::Generation,
    size: &str,
) -> Result<String, PlatformError> {
    dyno::canonical(generation, size)
        .map(str::to_owned)
        .ok_or_else(|| {
            invalid(format!(
                "No such size as {size}: use one of {}",
                dyno::sizes(generation).join(", ")
            ))
        })
}
