//! Handlers for apps, slugs, blobs, releases and the endpoints clients touch around them.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, body, json, list, wire};
use crate::platform::local::SlugParams;
use crate::platform::{Generation, NoProgress};

type ApiResult = Result<Response, ApiError>;

/// Sortable fields of the app list (the first is the default).
const APP_FIELDS: &[&str] = &["id", "name", "created_at", "updated_at"];
/// Sortable fields of the release list.
const RELEASE_FIELDS: &[&str] = &["version", "id", "created_at", "updated_at"];

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
    let stack = wire::stack_name(new.stack.as_deref().unwrap_or("heroku-24"));
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
    Ok(json(StatusCode::CREATED, wire::app(&app)))
}

/// `GET /apps`.
pub(crate) async fn list_apps(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let apps = state.platform.blocking(|s| s.apps()).await?;
    Ok(list(
        &headers,
        apps.iter().map(wire::app).collect(),
        APP_FIELDS,
    ))
}

/// `GET /apps/{app}`.
pub(crate) async fn get_app(State(state): State<AppState>, Path(app): Path<String>) -> ApiResult {
    let app = state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(json(StatusCode::OK, wire::app(&app)))
}

/// `POST /filters/apps` with `{"in": {"id": [...]}}`.
pub(crate) async fn filter_apps(
    State(state): State<AppState>,
    headers: HeaderMap,
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
    Ok(list(&headers, items, APP_FIELDS))
}

/// `POST /apps/{app}/slugs`.
pub(crate) async fn create_slug(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct NewSlug {
        process_types: Option<BTreeMap<String, String>>,
        checksum: Option<String>,
        stack: Option<String>,
        commit: Option<String>,
        commit_description: Option<String>,
        buildpack_provided_description: Option<String>,
    }
    let new: NewSlug = body(&bytes)?;
    let params = SlugParams {
        process_types: new
            .process_types
            .ok_or_else(|| ApiError::invalid_params("process_types is required"))?,
        checksum: new.checksum,
        stack: new.stack.as_deref().map(wire::stack_name),
        commit: new.commit,
        commit_description: new.commit_description,
        buildpack_provided_description: new.buildpack_provided_description,
    };
    let slug = state
        .platform
        .blocking(move |s| s.create_slug(&app, &params))
        .await?;
    let blob = blob_target(&state, &headers, &slug.id, "put").await?;
    Ok(json(StatusCode::CREATED, wire::slug(&slug, blob)))
}

/// `GET /apps/{app}/slugs/{slug}`: the blob is a fresh download URL, as on Heroku.
pub(crate) async fn get_slug(
    State(state): State<AppState>,
    Path((app, slug)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let slug = state
        .platform
        .blocking(move |s| {
            s.app(&app)?;
            s.slug(&slug)
        })
        .await?;
    let blob = blob_target(&state, &headers, &slug.id, "get").await?;
    Ok(json(StatusCode::OK, wire::slug(&slug, blob)))
}

/// A blob URL for `slug_id` on this server, reached the way the client reached the API.
async fn blob_target(
    state: &AppState,
    headers: &HeaderMap,
    slug_id: &str,
    method: &str,
) -> Result<Value, ApiError> {
    let ttl = state.config.blob_url_ttl;
    let id = slug_id.to_owned();
    let token = state
        .platform
        .blocking(move |s| s.create_blob_token(&id, ttl))
        .await?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.local_addr.to_string(), str::to_owned);
    Ok(json!({ "method": method, "url": format!("http://{host}/blobs/{token}") }))
}

/// `PUT /blobs/{token}`: the slug archive, like a pre-signed object-store URL. Needs a
/// `Content-Length` (chunked uploads are refused with 501, as S3 does) and no credentials.
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "Transfer-Encoding: chunked is not supported: send a Content-Length",
        ));
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::LENGTH_REQUIRED,
                "length_required",
                "a Content-Length header is required",
            )
        })?;
    let slug_id = slug_for_token(&state, token).await?;
    let reader =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    state
        .platform
        .receive_blob(
            &slug_id,
            reader,
            "the request body",
            Some(length),
            false,
            &NoProgress,
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /blobs/{token}`: downloads a slug's archive.
pub(crate) async fn get_blob(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult {
    let slug_id = slug_for_token(&state, token).await?;
    let slug = state.platform.blocking(move |s| s.slug(&slug_id)).await?;
    let sha = slug
        .blob_sha256
        .ok_or_else(|| ApiError::not_found(format!("slug {} has no archive yet", slug.id)))?;
    let path = state.platform.store().blob_path(&sha);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::not_found(format!("slug {}'s archive is missing", slug.id)))?;
    let stream = tokio_util::io::ReaderStream::new(file);
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn slug_for_token(state: &AppState, token: String) -> Result<String, ApiError> {
    state
        .platform
        .blocking(move |s| s.blob_token_slug(&token))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this blob URL is not valid",
            )
        })
}

/// `GET /apps/{app}/releases`.
pub(crate) async fn list_releases(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let releases = state
        .platform
        .blocking(move |s| s.releases(&app, None))
        .await?;
    Ok(list(
        &headers,
        releases.iter().map(wire::release).collect(),
        RELEASE_FIELDS,
    ))
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

/// Add-ons, dynos, collaborators: the local platform has none, but the app must exist.
pub(crate) async fn empty_list(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(list(&headers, Vec::new(), &["id"]))
}

/// `GET /account/rate-limits`.
pub(crate) async fn rate_limits(State(state): State<AppState>) -> ApiResult {
    let remaining = crate::sync::lock(&state.bucket).remaining();
    Ok(json(StatusCode::OK, json!({ "remaining": remaining })))
}

/// `GET /account`: the local platform's one account (clients call it to check a token).
pub(crate) async fn account(State(state): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, wire::account(&state.started_at)))
}
