//! Handlers for releases (deploy, roll back, list, read) and config vars.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, body, json, wire};

type ApiResult = Result<Response, ApiError>;

/// `GET /apps/{app}/releases`.
pub(crate) async fn list_releases(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let releases = state
        .platform
        .blocking(move |s| s.releases(&app, None))
        .await?;
    Ok(query.answer(releases.iter().map(wire::release).collect()))
}

/// `GET /apps/{app}/releases/{id_or_version}`.
pub(crate) async fn get_release(
    State(state): State<AppState>,
    Path((app, release)): Path<(String, String)>,
) -> ApiResult {
    let release = state
        .platform
        .blocking(move |s| s.release(&app, &release))
        .await?;
    Ok(json(StatusCode::OK, wire::release(&release)))
}

/// `POST /apps/{app}/releases`: `{"slug"}` releases a slug, `{"release"}` rolls back.
pub(crate) async fn create_release(
    State(state): State<AppState>,
    Path(app): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct NewRelease {
        slug: Option<String>,
        release: Option<String>,
        description: Option<String>,
    }
    let new: NewRelease = body(&bytes)?;
    let release = match (new.release, new.slug) {
        (Some(release), _) => {
            state
                .platform
                .blocking(move |s| s.rollback(&app, &release))
                .await?
        }
        (None, Some(slug)) => {
            let description = new
                .description
                .unwrap_or_else(|| format!("Deploy {}", slug.get(..8).unwrap_or(&slug)));
            state
                .platform
                .blocking(move |s| s.create_release(&app, &slug, &description))
                .await?
        }
        (None, None) => {
            return Err(ApiError::invalid_params(
                "slug is required (or release, to roll back)",
            ));
        }
    };
    Ok(json(StatusCode::CREATED, wire::release(&release)))
}

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

/// `GET /apps/{app}/releases/{release}/config-vars`: the app's config vars (the local platform
/// does not keep per-release snapshots).
pub(crate) async fn release_config_vars(
    State(state): State<AppState>,
    Path((app, release)): Path<(String, String)>,
) -> ApiResult {
    let vars = state
        .platform
        .blocking(move |s| {
            s.release(&app, &release)?;
            s.config_vars(&app)
        })
        .await?;
    Ok(json(StatusCode::OK, json!(vars)))
}

/// `PATCH /apps/{app}/config-vars`: a value sets, `null` unsets.
pub(crate) async fn update_config_vars(
    State(state): State<AppState>,
    Path(app): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    let changes: BTreeMap<String, Option<String>> = body(&bytes)?;
    if let Some(bad) = changes
        .keys()
        .find(|k| k.is_empty() || !k.chars().all(|c| c == '_' || c.is_alphanumeric()))
    {
        return Err(ApiError::invalid_params(format!(
            "config var name {bad:?} must match ^\\w+$"
        )));
    }
    let vars = state
        .platform
        .blocking(move |s| s.update_config_vars(&app, &changes))
        .await?;
    Ok(json(StatusCode::OK, json!(vars)))
}
