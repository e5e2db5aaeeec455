//! Handlers for apps (create, list, read, update, delete, `POST /filters/apps`) and the app
//! sub-resources the local platform has none of yet.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, body, json, stacks, wire};
use crate::platform::Generation;
use crate::platform::local::AppChanges;

type ApiResult = Result<Response, ApiError>;

/// `POST /apps`. `generation: "fir"` is a local extension for testing Fir refusals.
pub(crate) async fn create_app(State(state): State<AppState>, bytes: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct NewApp {
        name: Option<String>,
        stack: Option<String>,
        generation: Option<String>,
    }
    let new: NewApp = body(&bytes)?;
    let name = new
        .name
        .unwrap_or_else(|| format!("app-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    let stack = new
        .stack
        .as_deref()
        .map_or_else(|| stacks::DEFAULT.to_owned(), stacks::name_of);
    let generation = match new.generation.as_deref() {
        None | Some("cedar") => Generation::Cedar,
        Some("fir") => Generation::Fir,
        Some(other) => {
            return Err(ApiError::invalid_params(format!(
                "unknown generation {other:?}: expected cedar or fir"
            )));
        }
    };
    let app = state
        .platform
        .blocking(move |s| s.create_app(&name, &stack, generation))
        .await?;
    apps_changed(&state);
    Ok(json(StatusCode::CREATED, wire::app(&app)))
}

/// `GET /apps`.
pub(crate) async fn list_apps(State(state): State<AppState>, query: ListQuery) -> ApiResult {
    let apps = state.platform.blocking(|s| s.apps()).await?;
    let items = apps.iter().map(wire::app).collect();
    Ok(query.answer(items))
}

/// `GET /apps/{app}`.
pub(crate) async fn get_app(State(state): State<AppState>, Path(app): Path<String>) -> ApiResult {
    let app = state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(json(StatusCode::OK, wire::app(&app)))
}

/// `PATCH /apps/{app}`: `name` renames, `maintenance` sets the flag, `build_stack` chooses the
/// stack of the next release (`heroku stack:set`). Every field is checked against the link's
/// schema before anything changes.
pub(crate) async fn update_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let fields: Map<String, Value> = body(&bytes)?;
    let changes = AppChanges {
        name: string_field(&fields, "name", "an app name")?,
        maintenance: match fields.get("maintenance") {
            None => None,
            Some(Value::Bool(on)) => Some(*on),
            Some(other) => {
                return Err(ApiError::invalid_params(format!(
                    "maintenance must be true or false, not {other}"
                )));
            }
        },
        build_stack: string_field(&fields, "build_stack", "a stack name or id")?
            .map(|stack| stacks::name_of(&stack)),
    };
    let app = state
        .platform
        .blocking(move |s| s.update_app(&app, &changes))
        .await?;
    apps_changed(&state);
    Ok(json(StatusCode::OK, wire::app(&app)))
}

/// `DELETE /apps/{app}`: the app and everything that belongs to it; answers the app as it was.
pub(crate) async fn delete_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult {
    let deletion = state.platform.delete_app(&app).await?;
    apps_changed(&state);
    Ok(json(StatusCode::OK, wire::app(&deletion.app)))
}

/// Tells the router (when one follows this server's apps) that they changed.
fn apps_changed(state: &AppState) {
    if let Some(changed) = &state.config.apps_changed {
        changed.notify_one();
    }
}

/// The string field `name` of a request body, if present; `what` says what it must be.
fn string_field(
    fields: &Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid_params(format!(
            "{name} must be {what} (a string), not {other}"
        ))),
    }
}

/// `POST /filters/apps` with `{"in": {"id": [...]}}`.
pub(crate) async fn filter_apps(
    State(state): State<AppState>,
    query: ListQuery,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize, Default)]
    struct In {
        #[serde(default)]
        id: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Filter {
        #[serde(default, rename = "in")]
        within: In,
    }
    let filter: Filter = body(&bytes)?;
    let apps = state.platform.blocking(|s| s.apps()).await?;
    let items = apps
        .iter()
        .filter(|a| {
            filter
                .within
                .id
                .iter()
                .any(|id| *id == a.id || *id == a.name)
        })
        .map(wire::team_app)
        .collect();
    Ok(query.answer(items))
}

/// Add-ons, collaborators: the local platform has none, but the app must exist.
pub(crate) async fn empty_list(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(query.answer(Vec::new()))
}
