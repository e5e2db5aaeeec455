//! Handlers for an app's dynos: list and info in the schema's shape, restart (all, one, a
//! process type), stop, and one-off dynos (`heroku run:detached`).
//!
//! The server does not run dynos itself: it reads what the supervisor recorded and records
//! what it is asked (see `platform/local/dynos.rs`); the supervisor, in this process or in
//! `slugplan up`, acts on it within a poll. Restarts and stops answer `202 Accepted` with `{}`
//! as Heroku does. A one-off dyno must be detached (`attach: false`): nothing here serves the
//! rendezvous an attached one needs, so `attach: true` is refused naming `run:detached`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::list::ListQuery;
use super::routes::ServedLink;
use super::{AppState, body, json, wire};
use crate::platform::local::{DynoAction, DynoRecord, DynoTarget, OneOffParams};

type ApiResult = Result<axum::response::Response, ApiError>;

/// `#/definitions/dyno`.
fn dyno(record: &DynoRecord) -> Value {
    json!({
        "app": { "id": record.app_id, "name": record.app_name },
        "attach_url": null,
        "command": record.command,
        "created_at": record.created_at,
        "id": record.id,
        "name": record.name,
        "release": { "id": record.release_id, "version": record.release_version },
        "size": record.size,
        "state": record.state.as_str(),
        "type": record.process_type,
        "updated_at": record.updated_at,
    })
}

/// `GET /apps/{app}/dynos`: the current release's dynos, one-offs, then the previous
/// release's still serving.
pub(crate) async fn list_dynos(
    State(state): State<AppState>,
    Path(app): Path<String>,
    query: ListQuery,
) -> ApiResult {
    let dynos = state.platform.blocking(move |s| s.dynos(&app)).await?;
    Ok(query.answer(dynos.iter().map(dyno).collect()))
}

/// `GET /apps/{app}/dynos/{id_or_name}`.
pub(crate) async fn get_dyno(
    State(state): State<AppState>,
    Path((app, name)): Path<(String, String)>,
) -> ApiResult {
    let record = state
        .platform
        .blocking(move |s| s.dyno(&app, &name))
        .await?;
    Ok(json(StatusCode::OK, dyno(&record)))
}

/// Records `action` on `target` of `app` for the supervisor: `202 {}`.
async fn ask(state: &AppState, app: String, action: DynoAction, target: DynoTarget) -> ApiResult {
    state
        .platform
        .blocking(move |s| s.request_dynos(&app, action, &target))
        .await?;
    Ok(json(StatusCode::ACCEPTED, json!({})))
}

/// `DELETE /apps/{app}/dynos`: restart every dyno.
pub(crate) async fn restart_all(
    State(state): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult {
    ask(&state, app, DynoAction::Restart, DynoTarget::All).await
}

/// `DELETE /apps/{app}/dynos/{id_or_name}` and `DELETE /apps/{app}/formations/{type}`
/// restart one dyno or a process type's; `POST …/actions/stop` of either stops them. The link
/// says which: its method the action, its template the target.
pub(crate) async fn act_on(
    State(state): State<AppState>,
    Extension(ServedLink(link)): Extension<ServedLink>,
    Path((app, name)): Path<(String, String)>,
) -> ApiResult {
    let action = if link.method == "DELETE" {
        DynoAction::Restart
    } else {
        DynoAction::Stop
    };
    let target = if link.template.contains("/formations/") {
        DynoTarget::Type(name)
    } else {
        DynoTarget::Dyno(name)
    };
    ask(&state, app, action, target).await
}

/// `POST /apps/{app}/dynos`: a detached one-off dyno running `command` with the current
/// release, its output in the app's log; `201` with the dyno, `starting`.
pub(crate) async fn create_dyno(
    State(state): State<AppState>,
    Path(app): Path<String>,
    bytes: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct NewDyno {
        command: Option<String>,
        attach: Option<bool>,
        #[serde(default)]
        env: std::collections::BTreeMap<String, serde_json::Value>,
        size: Option<String>,
        time_to_live: Option<u64>,
    }
    let new: NewDyno = body(&bytes)?;
    let command = new
        .command
        .ok_or_else(|| ApiError::invalid_params("command is required"))?;
    if new.attach == Some(true) {
        return Err(ApiError::invalid_params(
            "slugplan server runs one-off dynos detached only (attach: false): use \
             `heroku run:detached`, and `heroku logs --dyno run.N` for its output",
        ));
    }
    let env = new
        .env
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(s) => Ok((name, s)),
            Value::Number(n) => Ok((name, n.to_string())),
            Value::Bool(b) => Ok((name, b.to_string())),
            other => Err(ApiError::invalid_params(format!(
                "env {name} must be a string, not {other}"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let params = OneOffParams {
        command,
        env,
        size: new.size.map(|s| wire::size_name(&s)),
        time_to_live: new.time_to_live,
    };
    let record = state
        .platform
        .blocking(move |s| s.create_one_off(&app, &params))
        .await?;
    Ok(json(StatusCode::CREATED, dyno(&record)))
}
