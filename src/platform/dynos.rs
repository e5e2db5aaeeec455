//! What runs on a platform: an app's dynos and its log, as `slugplan ps` and `slugplan logs`
//! read them from either platform.
//!
//! The Heroku API and the local platform (whose supervisor, [`crate::dynos`], runs the dynos)
//! both answer these; the local one adds what only it knows (the port a dyno listens on, why
//! it crashed). Log lines are Heroku's: `2026-12-01T09:00:00.123456+00:00 app[web.1]: …`.

use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// The state of a dyno, as the API spells it (`crashed`, `down`, `starting`, `up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DynoState {
    /// Its process is starting; a web dyno is not listening on its port yet.
    Starting,
    /// It runs (a web dyno: it accepts connections on its port).
    Up,
    /// Its process exited, or a web dyno never bound its port; it is restarted after a while.
    Crashed,
    /// Nothing runs it.
    Down,
}

impl DynoState {
    /// The state as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DynoState::Starting => "starting",
            DynoState::Up => "up",
            DynoState::Crashed => "crashed",
            DynoState::Down => "down",
        }
    }

    /// Reads the API's spelling; `idle` (a dyno the platform put to sleep) is down here.
    pub fn parse(text: &str) -> Option<DynoState> {
        match text {
            "starting" => Some(DynoState::Starting),
            "up" => Some(DynoState::Up),
            "crashed" => Some(DynoState::Crashed),
            "down" | "idle" => Some(DynoState::Down),
            _ => None,
        }
    }
}

impl std::fmt::Display for DynoState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dyno of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dyno {
    /// Its name: `web.1`, `worker.2`, `run.1234`.
    pub name: String,
    /// Its process type (`run` for a one-off dyno).
    #[serde(rename = "type")]
    pub process_type: String,
    /// Its state.
    pub state: DynoState,
    /// The command it runs.
    pub command: String,
    /// Its size, e.g. `Basic`.
    pub size: String,
    /// The version of the release it runs.
    pub release_version: Option<u64>,
    /// Whether it runs an earlier release than the app's current one: it keeps serving until
    /// the current release's dynos are up (the local platform's preboot).
    pub previous_release: bool,
    /// When its state last changed (RFC 3339).
    pub updated_at: String,
    /// The port it listens on (the local platform's web dynos).
    pub port: Option<u16>,
    /// Why it is in its state, when the platform says (the local platform: `Process exited
    /// with status 1`, `Error R10 (Boot timeout)`, …).
    pub detail: Option<String>,
}

/// Which log lines to read (`POST /apps/{app}/log-sessions`' parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// How many of the newest lines to send first (Heroku keeps at most 1,500).
    pub lines: usize,
    /// Whether to keep streaming new lines after those.
    pub tail: bool,
    /// Only this dyno (`web.1`) or process type (`web`, `router`).
    pub dyno: Option<String>,
    /// Only this source: `app` or `heroku`.
    pub source: Option<String>,
}

/// An app's log lines as they come, each in Heroku's format without its newline. A stream
/// without `tail` ends after the backlog.
pub type LogStream = Pin<Box<dyn Stream<Item = super::Result<String>> + Send>>;
