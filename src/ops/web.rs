//! Whether released apps came up: what `apply` on the local platform says last, for each app
//! it released, its URL and whether its web dynos of that release run and answer there.
//!
//! Guarantees:
//! - An app is "up" only when every web dyno its formation asks for runs the app's current
//!   release and is `up`, and a request to its `web_url` got an HTTP answer (whatever its
//!   status: the app's, or the router's page): so "up" means a browser gets the app.
//! - A crashed web dyno of that release is reported at once, with the platform's reason.
//! - Nothing waits without bound: the wait ends at the caller's deadline, and what was seen
//!   last is reported.
//! - Where nothing runs dynos (no `slugplan up` or `slugplan server` on the data directory),
//!   nothing is waited for: the app is "not running", and the caller says how to run it.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::platform::{DynoState, Platform, PlatformError};

/// How often the dynos are read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// How long the request to an up app's URL may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one released app's web dynos stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WebStatus {
    /// Every web dyno of the release is up, and the URL answered `status`.
    Up {
        /// The web dynos, `web.1`, ….
        dynos: Vec<String>,
        /// The HTTP status the URL answered.
        status: u16,
    },
    /// A web dyno of the release crashed.
    Crashed {
        /// Its name.
        dyno: String,
        /// Why, when the platform says.
        detail: Option<String>,
    },
    /// The formation runs no web dyno (no `web` process type, or scaled to 0).
    NoWebDynos,
    /// Nothing runs the platform's dynos.
    NotRunning,
    /// The deadline passed first: the dynos were still `state` (or not started at all).
    TimedOut {
        /// What the web dynos were doing when the wait ended.
        seen: String,
    },
    /// The platform gives the app no web URL, or its dynos could not be read.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// One released app: its URL and how its web dynos stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppWeb {
    /// The app.
    pub app: String,
    /// Its `web_url`, when the platform gives one.
    pub url: Option<String>,
    /// How it stands.
    #[serde(flatten)]
    pub status: WebStatus,
}

impl AppWeb {
    /// `shop: http://127.0.0.1:20123/ is up (web.1, answered 200)`.
    pub fn line(&self) -> String {
        let url = self.url.as_deref().unwrap_or("(no URL)");
        let how = match &self.status {
            WebStatus::Up { dynos, status } => {
                format!("is up ({}, answered {status})", dynos.join(", "))
            }
            WebStatus::Crashed { dyno, detail } => format!(
                "did not come up: {dyno} crashed{}",
                detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            WebStatus::NoWebDynos => "runs no web dyno (formation web=0)".to_owned(),
            WebStatus::NotRunning => "is not running: start `slugplan up` to run it".to_owned(),
            WebStatus::TimedOut { seen } => format!("did not come up in time ({seen})"),
            WebStatus::Unknown { reason } => format!("cannot tell whether it came up: {reason}"),
        };
        format!("{}: {url} {how}", self.app)
    }

    /// Whether it came up.
    pub fn is_up(&self) -> bool {
        matches!(self.status, WebStatus::Up { .. } | WebStatus::NoWebDynos)
    }
}

/// How each of `apps` stands, waiting until `deadline` for each to come up; `supervised` says
/// whether anything runs the platform's dynos (else none is waited for).
pub async fn came_up(
    platform: &dyn Platform,
    apps: &[String],
    supervised: bool,
    deadline: Instant,
) -> Vec<AppWeb> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .build()
        .ok();
    let each = apps.iter().map(|app| async {
        let url = platform.app(app).await.ok().and_then(|a| a.web_url);
        let status = match web_dynos(platform, app).await {
            Err(e) => WebStatus::Unknown {
                reason: crate::error_chain::one_line(&e),
            },
            Ok(None) => WebStatus::NoWebDynos,
            Ok(Some(_)) if !supervised => WebStatus::NotRunning,
            Ok(Some((version, wanted))) => match &url {
                None => unknown("the platform gives it no web URL"),
                Some(url) => {
                    let waited = wait(
                        platform,
                        app,
                        url,
                        version,
                        wanted,
                        client.as_ref(),
                        deadline,
                    );
                    waited.await.unwrap_or_else(|e| WebStatus::Unknown {
                        reason: crate::error_chain::one_line(&e),
                    })
                }
            },
        };
        AppWeb {
            app: app.clone(),
            url,
            status,
        }
    });
    futures_util::future::join_all(each).await
}

/// The version of `app`'s current release and how many web dynos its formation runs; `None`
/// when it runs none (no release, no `web` process type, or scaled to 0).
async fn web_dynos(
    platform: &dyn Platform,
    app: &str,
) -> Result<Option<(u64, usize)>, PlatformError> {
    let Some(release) = platform.current_release(app).await? else {
        return Ok(None);
    };
    let wanted = platform
        .formation(app)
        .await?
        .iter()
        .find(|f| f.process_type == "web")
        .map_or(0, |f| f.quantity as usize);
    Ok((wanted > 0).then_some((release.version, wanted)))
}

/// Waits for `app`'s `wanted` web dynos of release `version` (see the module docs).
async fn wait(
    platform: &dyn Platform,
    app: &str,
    url: &str,
    version: u64,
    wanted: usize,
    client: Option<&reqwest::Client>,
    deadline: Instant,
) -> Result<WebStatus, PlatformError> {
    loop {
        let web: Vec<_> = platform
            .dynos(app)
            .await?
            .into_iter()
            .filter(|d| {
                d.process_type == "web" && d.release_version == Some(version) && !d.previous_release
            })
            .collect();
        if let Some(crashed) = web.iter().find(|d| d.state == DynoState::Crashed) {
            return Ok(WebStatus::Crashed {
                dyno: crashed.name.clone(),
                detail: crashed.detail.clone(),
            });
        }
        let up = web.iter().filter(|d| d.state == DynoState::Up).count();
        if up >= wanted {
            let status = match client {
                Some(client) => client.get(url).send().await.map(|r| r.status().as_u16()),
                None => return Ok(unknown("no HTTP client")),
            };
            match status {
                Ok(status) => {
                    let mut dynos: Vec<String> = web.into_iter().map(|d| d.name).collect();
                    dynos.sort();
                    return Ok(WebStatus::Up { dynos, status });
                }
                Err(e) if Instant::now() >= deadline => {
                    return Ok(WebStatus::TimedOut {
                        seen: format!(
                            "its dynos are up, but {url} did not answer: {}",
                            crate::error_chain::one_line(&e)
                        ),
                    });
                }
                Err(_) => {}
            }
        }
        if Instant::now() >= deadline {
            let seen = if web.is_empty() {
                format!("no web dyno of v{version} started yet")
            } else {
                web.iter()
                    .map(|d| format!("{} {}", d.name, d.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Ok(WebStatus::TimedOut { seen });
        }
        tokio::time::sleep(POLL).await;
    }
}

fn unknown(reason: &str) -> WebStatus {
    WebStatus::Unknown {
        reason: reason.to_owned(),
    }
}
