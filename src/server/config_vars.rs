//! Handlers for config vars: the app's now, a release's, and changing them (which makes a
//! release, as on Heroku; the local platform's `config` module versions them).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::error::ApiError;
use super::{AppState, body, json};
use crate::platform::ConfigChanges;

type ApiResult = Result<axum::response::Response, ApiError>;

/// `GET /apps/{app}/config-vars`.
pub(crate) async fn config_vars(
    State(state): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult {
    let vars = state
        .platform
        .blocking(move |s| s.config_vars(&app))
        .await?;
    Ok(json(StatusCode::OK, json!(vars)))
}

/// `GET /apps/{app}/releases/{id_or_version}/config-vars`: the config that release was made
/// with.
pub(crate) async fn release_config_vars(
    State(state): State<AppState>,
    Path((app, release)): Path<(String, String)>,
) -> ApiResult {
    let vars = state
        .platform
        .blocking(move |s| s.release_config_vars(&app, &release))
        .await?;
    Ok(json(StatusCode::OK, json!(vars)))
}

/// `PATCH /apps/{app}/config-vars`: a value sets, `null` unsets; a new release carries the
/// result, and the answer is the whole config.
pub(crate) async fn update_config_vars(
    State(state): State<AppState>,
    Path(app): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let changes: ConfigChanges = body(&bytes)?;
    let vars = state
        .platform
        .blocking(move |s| s.update_config_vars(&app, &changes))
        .await?;
    Ok(json(StatusCode::OK, json!(vars)))
}
