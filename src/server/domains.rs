//! Domains: `GET /apps/{app}/domains` and `GET /apps/{app}/domains/{id_or_hostname}`.
//!
//! Every app has one domain, its default one (`kind: heroku`, as `<app>.herokuapp.com` is on
//! Heroku): the address of its `web_url`, `127.0.0.1:<port>`, where the router answers for it.
//! Its id is derived from the app's id, so it stays the same across renames and restarts.
//! Custom domains are not served (their links answer 501).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::error::ApiError;
use super::list::ListQuery;
use super::{AppState, json, wire};

type ApiResult = Result<Response, ApiError>;

/// `GET /apps/{app}/domains`: the app's default domain.
pub(crate) async fn list_domains(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let app = state.platform.blocking(move |s| s.app(&app)).await?;
    Ok(query.answer(vec![wire::default_domain(&app)]))
}

/// `GET /apps/{app}/domains/{id_or_hostname}`.
pub(crate) async fn get_domain(
    State(state): State<AppState>,
    Path((app, domain)): Path<(String, String)>,
) -> ApiResult {
    let app = state.platform.blocking(move |s| s.app(&app)).await?;
    let default = wire::default_domain(&app);
    if default["id"] == domain.as_str() || default["hostname"] == domain.as_str() {
        Ok(json(StatusCode::OK, default))
    } else {
        Err(ApiError::not_found(format!(
            "Couldn't find that domain: {domain}"
        )))
    }
}
