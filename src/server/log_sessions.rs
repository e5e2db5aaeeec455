//! Log sessions: `POST /apps/{app}/log-sessions` answers a `logplex_url` on this server that
//! streams the app's log as Logplex does for the Heroku CLI: `text/event-stream`, one event
//! per line (`data: 2026-12-01T09:00:00.123456+00:00 app[web.1]: …`), the newest `lines`
//! first, then (with `tail`) each new line as it is written; without `tail` the stream ends
//! after them, which the CLI takes as the end of `heroku logs`.
//!
//! The URL is pre-signed like a blob URL: an unguessable token (256 random bits) naming the
//! session, valid for [`SESSION_TTL`] (a tailing client that reconnects within it gets the
//! stream again), needing no credentials.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::{AppState, body, json};
use crate::platform::{LogQuery, Platform};

/// How long a log session's URL stays valid.
pub const SESSION_TTL: Duration = Duration::from_secs(300);

/// How many lines a session sends first when it does not say (Heroku's default).
pub const DEFAULT_LINES: usize = 100;

/// The sessions handed out and not expired, by token.
#[derive(Debug, Default)]
pub(crate) struct LogSessions(HashMap<String, Session>);

#[derive(Debug, Clone)]
struct Session {
    app: String,
    query: LogQuery,
    expires: Instant,
}

impl LogSessions {
    fn insert(&mut self, app: String, query: LogQuery) -> String {
        let now = Instant::now();
        self.0.retain(|_, s| s.expires > now);
        let token = hex::encode(rand::random::<[u8; 32]>());
        self.0.insert(
            token.clone(),
            Session {
                app,
                query,
                expires: now + SESSION_TTL,
            },
        );
        token
    }

    fn get(&self, token: &str) -> Option<Session> {
        self.0
            .get(token)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }
}

/// `POST /apps/{app}/log-sessions`: `dyno` (or `dyno_name`, or `type`), `lines`, `source`,
/// `tail`; `201` with the session.
pub(crate) async fn create_log_session(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct NewSession {
        dyno: Option<String>,
        dyno_name: Option<String>,
        #[serde(rename = "type")]
        process_type: Option<String>,
        lines: Option<usize>,
        source: Option<String>,
        tail: Option<bool>,
    }
    let new: NewSession = body(&bytes)?;
    let app = state.platform.app(&app).await?;
    let query = LogQuery {
        lines: new.lines.unwrap_or(DEFAULT_LINES),
        tail: new.tail.unwrap_or(false),
        dyno: new.dyno.or(new.dyno_name).or(new.process_type),
        source: new.source,
    };
    let token = crate::sync::lock(&state.log_sessions).insert(app.name, query);
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    Ok(json(
        StatusCode::CREATED,
        json!({
            "created_at": now,
            "id": uuid::Uuid::new_v4().to_string(),
            "logplex_url": format!("{}/log-sessions/{token}", super::base_url(&state, &headers)),
            "updated_at": now,
        }),
    ))
}

/// `GET /log-sessions/{token}`: the session's lines as server-sent events.
pub(crate) async fn stream_log_session(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let session = crate::sync::lock(&state.log_sessions)
        .get(&token)
        .ok_or_else(|| ApiError::not_found("This log session has expired or never existed."))?;
    let lines = state.platform.logs(&session.app, &session.query).await?;
    let mut stopping = state.stopping.clone();
    let server_stops = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    let events = lines
        .take_until(server_stops)
        .map(|line| line.map(|line| Bytes::from(format!("data: {line}\n\n"))));
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response())
}
