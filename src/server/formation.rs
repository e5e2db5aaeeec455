//! Handlers for an app's formation: list, one process type, and scaling (the batch update and
//! one type's), in the official schema's shape.
//!
//! Clients send a count as a number (heroku-go) or as a string (the Heroku CLI's
//! `ps:scale web=2` sends `"2"`, and `web+1` sends `"+1"`, relative to the count now): both
//! are accepted. A size comes as the schema's `dyno_size` (`{"name"}` or `{"id"}`) or as the
//! deprecated `size` string.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, body, json, wire};
use crate::platform::FormationUpdate;
use crate::platform::local::FormationRecord;

type ApiResult = Result<axum::response::Response, ApiError>;

/// One update as clients send it.
#[derive(Debug, Deserialize)]
struct UpdateWire {
    #[serde(rename = "type")]
    process_type: Option<String>,
    #[serde(default)]
    quantity: Option<Quantity>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    dyno_size: Option<SizeWire>,
}

/// A count: `2`, `"2"`, or `"+1"` / `"-1"` relative to the count now.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Quantity {
    Number(i64),
    Text(String),
}

/// `dyno_size`: an identity, by name or id (an id is a size's derived UUID or its name).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeWire {
    Object {
        id: Option<String>,
        name: Option<String>,
    },
    Name(String),
}

impl UpdateWire {
    /// The update for `process_type` (from the path, or the body's `type`), counts resolved
    /// against `current`.
    fn resolve(
        self,
        process_type: Option<String>,
        current: &[FormationRecord],
    ) -> Result<FormationUpdate, ApiError> {
        let process_type = process_type
            .or(self.process_type)
            .ok_or_else(|| ApiError::invalid_params("each update needs a type"))?;
        let now = current
            .iter()
            .find(|f| f.process_type == process_type || f.id == process_type)
            .map(|f| i64::from(f.quantity));
        let quantity = match self.quantity {
            None => None,
            Some(Quantity::Number(n)) => Some(n),
            Some(Quantity::Text(text)) => {
                let text = text.trim();
                let n: i64 = text.parse().map_err(|_| {
                    ApiError::invalid_params(format!("quantity {text:?} is not a number"))
                })?;
                // "+1" and "-1" are relative: the CLI's `web+1`.
                if text.starts_with(['+', '-']) {
                    Some(now.unwrap_or(0) + n)
                } else {
                    Some(n)
                }
            }
        };
        let quantity = quantity
            .map(|n| {
                u32::try_from(n).map_err(|_| {
                    ApiError::invalid_params(format!(
                        "quantity for {process_type} must be 0 or more, not {n}"
                    ))
                })
            })
            .transpose()?;
        let size = match self.dyno_size {
            Some(SizeWire::Object { id, name }) => name.or(id).map(|s| wire::size_name(&s)),
            Some(SizeWire::Name(name)) => Some(name),
            None => self.size,
        };
        Ok(FormationUpdate {
            process_type,
            quantity,
            size,
        })
    }
}

/// `GET /apps/{app}/formation`.
pub(crate) async fn list_formation(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let formation = state.platform.blocking(move |s| s.formation(&app)).await?;
    Ok(query.answer(formation.iter().map(wire::formation).collect()))
}

/// `GET /apps/{app}/formation/{id_or_type}`.
pub(crate) async fn get_formation(
    State(state): State<AppState>,
    Path((app, process_type)): Path<(String, String)>,
) -> ApiResult {
    let formation = state
        .platform
        .blocking(move |s| s.formation_of(&app, &process_type))
        .await?;
    Ok(json(StatusCode::OK, wire::formation(&formation)))
}

/// `PATCH /apps/{app}/formation`: `{"updates": [...]}`, all applied or none; answers the
/// whole formation, as a list.
pub(crate) async fn batch_update(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Batch {
        updates: Option<Vec<UpdateWire>>,
    }
    let batch: Batch = body(&bytes)?;
    let updates = batch
        .updates
        .ok_or_else(|| ApiError::invalid_params("updates is required"))?;
    let formation = update(&state, app, updates, None).await?;
    Ok(query.answer(formation.iter().map(wire::formation).collect()))
}

/// `PATCH /apps/{app}/formation/{id_or_type}`: one process type; answers it.
pub(crate) async fn update_one(
    State(state): State<AppState>,
    Path((app, process_type)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let one: UpdateWire = body(&bytes)?;
    let formation = update(&state, app, vec![one], Some(process_type.clone())).await?;
    let updated = formation
        .iter()
        .find(|f| f.process_type == process_type || f.id == process_type)
        .ok_or_else(|| {
            ApiError::not_found(format!("Couldn't find that process type ({process_type})."))
        })?;
    Ok(json(StatusCode::OK, wire::formation(updated)))
}

/// Resolves `updates` against the formation now and applies them.
async fn update(
    state: &AppState,
    app: String,
    updates: Vec<UpdateWire>,
    process_type: Option<String>,
) -> Result<Vec<FormationRecord>, ApiError> {
    let name = app.clone();
    let current = state.platform.blocking(move |s| s.formation(&name)).await?;
    let updates = updates
        .into_iter()
        .map(|u| u.resolve(process_type.clone(), &current))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(state
        .platform
        .blocking(move |s| s.update_formation(&app, &updates))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(quantity: u32) -> FormationRecord {
        FormationRecord {
            id: "f-1".into(),
            app_id: "a-1".into(),
            app_name: "shop".into(),
            process_type: "web".into(),
            quantity,
            size: "Basic".into(),
            command: "./web".into(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn resolve(json: &str) -> Result<FormationUpdate, ApiError> {
        serde_json::from_str::<UpdateWire>(json)
            .unwrap()
            .resolve(None, &[record(2)])
    }

    #[test]
    fn counts_come_as_numbers_or_strings_and_signs_are_relative() {
        let q = |json: &str| resolve(json).unwrap().quantity;
        assert_eq!(q(r#"{"type":"web","quantity":3}"#), Some(3));
        assert_eq!(q(r#"{"type":"web","quantity":"3"}"#), Some(3));
        assert_eq!(q(r#"{"type":"web","quantity":"+1"}"#), Some(3));
        assert_eq!(q(r#"{"type":"web","quantity":"-2"}"#), Some(0));
        assert!(resolve(r#"{"type":"web","quantity":"-3"}"#).is_err());
        assert!(resolve(r#"{"type":"web","quantity":"many"}"#).is_err());
        assert!(resolve(r#"{"quantity":1}"#).is_err(), "no type");
    }

    #[test]
    fn sizes_come_as_dyno_size_or_size() {
        let size = |json: &str| resolve(json).unwrap().size;
        assert_eq!(
            size(r#"{"type":"web","dyno_size":{"name":"standard-1x"}}"#).as_deref(),
            Some("standard-1x")
        );
        assert_eq!(
            size(r#"{"type":"web","size":"Standard-2X"}"#).as_deref(),
            Some("Standard-2X")
        );
        assert_eq!(size(r#"{"type":"web"}"#), None);
    }
}
