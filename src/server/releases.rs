//! Handlers for releases (deploy, roll back, list, read); a release's config vars are
//! `config_vars.rs`'s.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

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
