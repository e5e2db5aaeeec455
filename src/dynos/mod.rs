//! Dynos: the supervisor that runs each app's current release on the local platform, in
//! `slugplan server` and `slugplan up`.
//!
//! What the router stands on is here: [`WebDynos`] tells it, per request and without I/O,
//! which of an app's web dynos are up and where they listen; it appends its request lines to
//! the app's log through [`AppLogs`]. [`NoDynos`] is the answer of a platform that runs
//! nothing: every app has no web dyno.
//!
//! The supervisor ([`Supervisor`], `supervisor.rs`) runs each dyno as a process group of its
//! own through the launcher (`launcher.rs`, the `slugplan __dyno` entry point), which ends
//! the group when the supervisor dies, however it dies; `slot.rs` holds the dynos it keeps
//! (per release and per app) and their state changes, `process.rs` starts, signals and reads
//! dynos, `unpack.rs` unpacks each release's slug once, off the supervisor's loop.

pub mod launcher;
mod process;
mod slot;
mod supervisor;
pub mod unpack;

use std::net::SocketAddr;

pub use crate::platform::local::AppLogs;
pub use supervisor::{POLL, STABLE, Supervisor, SupervisorError, SupervisorOptions};

/// What the router needs to know about one app's web dynos right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebState {
    /// These web dynos accept connections (in the order round robin takes them).
    Up(Vec<WebDyno>),
    /// Web dynos are booting and none is up yet.
    Starting,
    /// The app's web dynos crashed and none is up.
    Crashed,
    /// The app has no web dynos (scaled to 0, nothing released, or nothing runs here).
    NoWebDynos,
}

/// A web dyno that is up: its name and where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDyno {
    /// `web.1`.
    pub name: String,
    /// Its `PORT` on loopback.
    pub addr: SocketAddr,
}

/// Implemented by the supervisor; the router asks per request, so it must be cheap (no I/O).
pub trait WebDynos: Send + Sync {
    /// The web dynos of `app` (its name) now; `None` for an app the supervisor does not know.
    fn web_state(&self, app: &str) -> Option<WebState>;
}

/// The web dynos of a platform that runs none: every app has no web dyno.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDynos;

impl WebDynos for NoDynos {
    fn web_state(&self, _app: &str) -> Option<WebState> {
        Some(WebState::NoWebDynos)
    }
}
