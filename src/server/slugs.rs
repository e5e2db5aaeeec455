//! Handlers for slugs and their archives: creating a slug hands out an upload URL on this
//! server, which takes the archive like a pre-signed object-store URL and serves it back.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, body, json, stacks, wire};
use crate::platform::NoProgress;
use crate::platform::local::SlugParams;

type ApiResult = Result<Response, ApiError>;

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
        stack: new.stack.as_deref().map(stacks::name_of),
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
    let base = super::base_url(state, headers);
    Ok(json!({ "method": method, "url": format!("{base}/blobs/{token}") }))
}

/// `PUT /blobs/{token}`: the slug archive, like a pre-signed object-store URL. Needs a
/// `Content-Length` (chunked uploads are refused with 501, as S3 does) of at most
/// [`ServerConfig::max_blob_bytes`](super::ServerConfig::max_blob_bytes) (else `413`, the body
/// read and discarded unstored; one within it cannot be longer, since the store stops at the
/// announced length) and no credentials.
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
    let limit = state.config.max_blob_bytes;
    if length > limit {
        // Read to its end and thrown away, never stored: a client still sending when the
        // answer comes sees a broken pipe instead of the answer.
        let mut discarded = body.into_data_stream();
        while let Some(Ok(_)) = discarded.next().await {}
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the slug archive has {length} bytes, more than this server takes ({limit} bytes, `slugplan server --max-blob-size`)"
            ),
        ));
    }
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
