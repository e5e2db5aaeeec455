//! The account: `GET /account`, its `/users/{id}` aliases, `GET /users/{account}/apps` and
//! `GET /account/rate-limits`.
//!
//! The local platform has one account: whoever holds the server's token (anyone, on an open
//! loopback server) is it. It owns every app and pipeline; its e-mail is
//! [`wire::OWNER_EMAIL`] and its id is derived from that, so it is the same on every server. A
//! user identity names it when it is `~` (the caller), that e-mail or that id, as on Heroku.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::gate::RateLimitRemaining;
use super::list::ListQuery;
use super::{AppState, json, wire};

type ApiResult = Result<Response, ApiError>;

/// Refuses a user identity that is not the account.
fn the_account(identity: &str) -> Result<(), ApiError> {
    let id = wire::derived_id("account", wire::OWNER_EMAIL);
    if identity == "~" || identity == wire::OWNER_EMAIL || identity == id {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "Couldn't find that user: {identity}"
        )))
    }
}

/// `GET /account`: the local platform's one account (clients call it to check a token).
pub(crate) async fn account(State(state): State<AppState>) -> ApiResult {
    Ok(json(StatusCode::OK, wire::account(&state.started_at)))
}

/// `GET /users/{id}`: the account, named by `~`, its e-mail or its id.
pub(crate) async fn user(State(state): State<AppState>, Path(user): Path<String>) -> ApiResult {
    the_account(&user)?;
    Ok(json(StatusCode::OK, wire::account(&state.started_at)))
}

/// `GET /users/{account}/apps`: the apps the account owns, which are all of them.
pub(crate) async fn user_apps(
    State(state): State<AppState>,
    Path(user): Path<String>,
    query: ListQuery,
) -> ApiResult {
    the_account(&user)?;
    let apps = state.platform.blocking(|s| s.apps()).await?;
    Ok(query.answer(apps.iter().map(wire::app).collect()))
}

/// `GET /account/rate-limits`: the same count as this answer's `RateLimit-Remaining` header.
pub(crate) async fn rate_limits(Extension(remaining): Extension<RateLimitRemaining>) -> ApiResult {
    Ok(json(StatusCode::OK, json!({ "remaining": remaining.0 })))
}
