//! The Heroku Platform API v3 client: the [`Platform`] that talks HTTP.
//!
//! It speaks to `https://api.heroku.com` or to anything that speaks the same API, such as a
//! local `slugplan server`. Shapes follow the official schema (`shared/heroku/platform-api-schema.json`);
//! the wire types live in `wire`, the request machinery (retries, throttling, paging, error
//! mapping) in `http`, the token in [`auth`], the retry and throttle policies in [`retry`], blob
//! uploads in `blob`.
//!
//! What it guarantees: the token never appears in output; lists are read with `Range` and
//! `Next-Range`, and the current release is found from the newest page without reading the
//! whole history; `429`/`5xx`/broken connections are retried within a bounded time and number of
//! attempts, each one told to a [`RetryReporter`]. A write that must happen once (an app, a
//! release, a rollback, a pipeline, a coupling) and fails with an unknown outcome is read back and
//! sent again only if it did not take effect (see [`retry::Repeat`]); a pipeline promotion, which
//! cannot be read back without its id, is left to the caller (`release` reads its targets).

pub mod auth;
mod blob;
mod dynos;
mod http;
pub mod retry;
mod wire;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use url::Url;

pub use auth::{AuthError, Token, TokenSource};
pub use http::ClientStats;
pub use retry::{
    DEFAULT_RETRY_TIMEOUT, NextStep, Repeat, RetryEvent, RetryPolicy, RetryReporter, Silent,
    ThrottlePolicy,
};

use self::http::Api;
use self::wire::{
    AppWire, CouplingWire, FormationWire, PipelineWire, PromotionTargetWire, PromotionWire,
    ReleaseWire, SlugWire,
};
use crate::platform::{
    App, BlobTarget, ConfigChanges, Coupling, CreatedSlug, Dyno, Formation, FormationUpdate,
    LogQuery, LogStream, NewSlug, Pipeline, Platform, PlatformError, Promotion, PromotionTarget,
    Release, ReleaseStatus, Result, Slug, UploadProgress,
};

/// The API's base URL when neither the manifest nor `SLUGPLAN_API_URL` names another.
pub const DEFAULT_API_URL: &str = "https://api.heroku.com";

/// How many releases the first look for the current one reads: the current release is almost
/// always among the newest few.
const CURRENT_RELEASE_PAGE: usize = 10;

/// The largest page the API serves, and the default page size.
pub const MAX_PAGE: usize = 1000;

/// Everything about the client that can be configured.
#[derive(Debug, Clone)]
pub struct HerokuConfig {
    /// The API's base URL.
    pub base_url: Url,
    /// Retry timing.
    pub retry: RetryPolicy,
    /// Slowing down near the rate limit.
    pub throttle: ThrottlePolicy,
    /// The longest one API request may take (and no longer than the retry time, see
    /// [`Api`](http::Api)). Blob uploads may take longer, but not stand still (no byte sent, no
    /// answer) for longer than this.
    pub request_timeout: Duration,
    /// The longest one blob upload attempt may take in all.
    pub upload_timeout: Duration,
    /// The longest wait for a connection to open.
    pub connect_timeout: Duration,
    /// The most items one list request asks for (`max=` in `Range`), at most [`MAX_PAGE`];
    /// longer lists are read page by page through `Next-Range`.
    pub page_size: usize,
}

impl HerokuConfig {
    /// The defaults for the API at `api_url`.
    pub fn new(api_url: &str) -> std::result::Result<Self, ConfigError> {
        Ok(HerokuConfig {
            base_url: parse_api_url(api_url)?,
            retry: RetryPolicy::default(),
            throttle: ThrottlePolicy::default(),
            request_timeout: Duration::from_secs(60),
            // 500 MB (Heroku's largest slug) at 300 KB/s.
            upload_timeout: Duration::from_secs(30 * 60),
            connect_timeout: Duration::from_secs(10),
            page_size: MAX_PAGE,
        })
    }

    /// The host whose `~/.netrc` machine holds the token for this API.
    pub fn netrc_host(&self) -> &str {
        self.base_url.host_str().unwrap_or("api.heroku.com")
    }
}

/// Checks an API base URL: http or https, with a host, without credentials (a token belongs in
/// `HEROKU_API_KEY` or `~/.netrc`, where it is never printed, not in a URL that is).
pub fn parse_api_url(api_url: &str) -> std::result::Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidApiUrl {
        url: api_url.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(api_url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoing the URL: it holds a credential.
        return Err(ConfigError::InvalidApiUrl {
            url: "(not shown: it contains credentials)".to_owned(),
            reason: "credentials do not belong in the URL".to_owned(),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it has a query or fragment"));
    }
    Ok(url)
}

/// A bad client configuration.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    /// The API URL cannot be used.
    #[error("invalid API URL {url}: {reason}")]
    #[diagnostic(help(
        "set `[platform] api_url` in slug.toml or SLUGPLAN_API_URL to a URL like https://api.heroku.com"
    ))]
    InvalidApiUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why [`HerokuPlatform::connect`] could not make a client.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConnectError {
    /// The API URL is unusable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    /// No token was found.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Auth(#[from] AuthError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(#[from] PlatformError),
}

/// The Heroku API as a [`Platform`].
#[derive(Debug)]
pub struct HerokuPlatform {
    api: Api,
    page_size: usize,
}

impl HerokuPlatform {
    /// A client for the API at `base_url` with the default policies.
    pub fn new(base_url: &str, token: Token) -> Result<Self> {
        let config = HerokuConfig::new(base_url).map_err(|e| PlatformError::Transport {
            url: base_url.to_owned(),
            source: Box::new(e),
        })?;
        Self::with_config(config, token)
    }

    /// A client with explicit policies (tests shrink the retry delays).
    pub fn with_config(config: HerokuConfig, token: Token) -> Result<Self> {
        let transport =
            |source: Box<dyn std::error::Error + Send + Sync>| PlatformError::Transport {
                url: config.base_url.to_string(),
                source,
            };
        let http = reqwest::Client::builder()
            .user_agent(concat!("slugplan/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| transport(Box::new(e)))?;
        let api = Api::new(
            http,
            config.base_url.clone(),
            &token,
            config.retry,
            config.throttle,
            config.request_timeout,
            config.upload_timeout,
        )
        // The header error says nothing about the token's value, only that it is not ASCII.
        .map_err(|e| transport(Box::new(e)))?;
        Ok(HerokuPlatform {
            api,
            page_size: config.page_size.clamp(1, MAX_PAGE),
        })
    }

    /// The client for the API at `api_url` (already resolved from the manifest, the environment
    /// or [`DEFAULT_API_URL`]), with `api_key` (the caller's `HEROKU_API_KEY`) or else the token
    /// for that API's host in `<home>/.netrc`; also says where the token came from, for `-v`
    /// output. Reads no environment: the caller passes what it found there.
    pub fn connect(
        api_url: &str,
        api_key: Option<&Token>,
        home: Option<&Path>,
    ) -> std::result::Result<(Self, TokenSource), ConnectError> {
        Self::connect_with(HerokuConfig::new(api_url)?, api_key, home)
    }

    /// [`connect`](Self::connect) with a configuration of the caller's (its retry policy).
    pub fn connect_with(
        config: HerokuConfig,
        api_key: Option<&Token>,
        home: Option<&Path>,
    ) -> std::result::Result<(Self, TokenSource), ConnectError> {
        let (token, source) = Token::find(api_key, home, config.netrc_host())?;
        tracing::debug!(api = %config.base_url, token_from = %source, "heroku api client");
        Ok((Self::with_config(config, token)?, source))
    }

    /// The same client, telling every failed attempt of a call to `reporter`.
    #[must_use]
    pub fn reporting_retries(mut self, reporter: std::sync::Arc<dyn RetryReporter>) -> Self {
        self.api.set_reporter(reporter);
        self
    }

    /// `app`'s releases newest first, `first_page` of them at first, then page after page
    /// until `enough` is satisfied or the history ends.
    async fn newest_releases(
        &self,
        app: &str,
        first_page: usize,
        enough: impl FnMut(&[Release]) -> bool,
    ) -> Result<Vec<Release>> {
        let range = newest_range(first_page.min(self.page_size));
        self.api
            .list::<ReleaseWire, Release>(&["apps", app, "releases"], Some(range), enough)
            .await
    }

    /// `DELETE`s the resource at `segments`. Deleting twice leaves it deleted, so the request
    /// is repeated after an unknown outcome, and a 404 (gone already, e.g. after a lost answer)
    /// is what was asked.
    async fn delete(&self, segments: &[&str]) -> Result<()> {
        match self
            .api
            .send(
                reqwest::Method::DELETE,
                segments,
                None,
                None,
                Repeat::Idempotent,
            )
            .await
        {
            Ok(_) | Err(PlatformError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What the client has done so far: requests, writes, retries, throttled waits.
    pub fn stats(&self) -> ClientStats {
        self.api.stats()
    }
}

/// A read whose `404` means "there is none".
fn found<T>(read: Result<T>) -> Result<Option<T>> {
    match read {
        Ok(found) => Ok(Some(found)),
        Err(PlatformError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a release made by a write of unknown outcome counts as that write's work: it is being
/// released or was (one that failed or expired is repeated, as a failed release would be).
fn is_live(status: ReleaseStatus) -> bool {
    matches!(status, ReleaseStatus::Pending | ReleaseStatus::Succeeded)
}

/// `Range: version ..; order=desc, max=N`: the newest releases first.
fn newest_range(max: usize) -> String {
    format!("version ..; order=desc, max={}", max.clamp(1, MAX_PAGE))
}

#[async_trait::async_trait]
impl Platform for HerokuPlatform {
    fn describe(&self) -> String {
        self.api.base().to_string()
    }

    async fn check_access(&self) -> Result<()> {
        // The rate-limit counter: the cheapest authenticated read there is (Heroku does not
        // count it against the limit), and it has nothing to do with any app.
        self.api
            .send(
                reqwest::Method::GET,
                &["account", "rate-limits"],
                None,
                None,
                Repeat::Idempotent,
            )
            .await
            .map(drop)
    }

    async fn app(&self, app: &str) -> Result<App> {
        Ok(self.api.get::<AppWire>(&["apps", app]).await?.into())
    }

    async fn create_app(&self, name: &str, stack: &str) -> Result<App> {
        let body = wire::create_app_body(name, stack);
        // A 5xx may have created it: read it back rather than fail on a conflict next time.
        self.api
            .post_once::<AppWire, App, _, _>(&["apps"], &body, || async {
                found(self.app(name).await)
            })
            .await
    }

    async fn delete_app(&self, app: &str) -> Result<()> {
        self.delete(&["apps", app]).await
    }

    async fn releases(&self, app: &str, max: usize) -> Result<Vec<Release>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut releases = self
            .newest_releases(app, max, |items| items.len() >= max)
            .await?;
        releases.truncate(max);
        Ok(releases)
    }

    async fn current_release(&self, app: &str) -> Result<Option<Release>> {
        let releases = self
            .newest_releases(app, CURRENT_RELEASE_PAGE, |items| {
                items.iter().any(Release::is_running)
            })
            .await?;
        Ok(releases.into_iter().find(Release::is_running))
    }

    async fn release(&self, app: &str, release: &str) -> Result<Release> {
        Ok(self
            .api
            .get::<ReleaseWire>(&["apps", app, "releases", release])
            .await?
            .into())
    }

    async fn slug(&self, app: &str, slug_id: &str) -> Result<Slug> {
        Ok(self
            .api
            .get::<SlugWire>(&["apps", app, "slugs", slug_id])
            .await?
            .into_parts()
            .0)
    }

    async fn create_slug(&self, app: &str, new: &NewSlug) -> Result<CreatedSlug> {
        let body = wire::create_slug_body(new);
        // A duplicate slug is an orphan nobody releases: repeating after a 5xx is harmless.
        let created: SlugWire = self
            .api
            .post(&["apps", app, "slugs"], &body, Repeat::Harmless)
            .await?;
        created.into_created().ok_or_else(|| PlatformError::Api {
            status: 201,
            id: "invalid_response".to_owned(),
            message: format!("the slug created on {app} came back without a blob URL to upload to"),
            request_id: None,
        })
    }

    async fn upload_blob(
        &self,
        target: &BlobTarget,
        path: &Path,
        progress: &dyn UploadProgress,
    ) -> Result<()> {
        blob::upload(&self.api, target, path, progress).await
    }

    async fn create_release(&self, app: &str, slug_id: &str, description: &str) -> Result<Release> {
        let body = wire::create_release_body(slug_id, description);
        // Never sent twice: after an unknown outcome, the newest release says whether it was
        // made (this slug, this description, not failed). Callers release a slug only when the
        // app's newest release is not already a live one of it, so that newest one is ours.
        self.api
            .post_once::<ReleaseWire, Release, _, _>(&["apps", app, "releases"], &body, || async {
                let newest = self.releases(app, 1).await?.into_iter().next();
                Ok(newest.filter(|r| {
                    r.slug_id.as_deref() == Some(slug_id)
                        && r.description == description
                        && is_live(r.status)
                }))
            })
            .await
    }

    async fn rollback(&self, app: &str, release_id: &str) -> Result<Release> {
        let body = wire::rollback_body(release_id);
        // A rollback is a new release of the old one's slug, described after its version.
        self.api
            .post_once::<ReleaseWire, Release, _, _>(&["apps", app, "releases"], &body, || async {
                let (old, newest) =
                    futures_util::try_join!(self.release(app, release_id), self.releases(app, 1))?;
                let description = crate::platform::rollback_description(old.version);
                Ok(newest.into_iter().next().filter(|r| {
                    r.id != old.id
                        && r.slug_id == old.slug_id
                        && r.description == description
                        && is_live(r.status)
                }))
            })
            .await
    }

    async fn config_vars(&self, app: &str) -> Result<BTreeMap<String, String>> {
        self.api.get(&["apps", app, "config-vars"]).await
    }

    async fn update_config_vars(
        &self,
        app: &str,
        changes: &ConfigChanges,
    ) -> Result<BTreeMap<String, String>> {
        let body = serde_json::to_value(changes).expect("a string map serialises");
        // Repeated after a lost answer, the config ends the same (one release more, of the
        // same slug and config): safe to repeat.
        self.api
            .send(
                reqwest::Method::PATCH,
                &["apps", app, "config-vars"],
                Some(&body),
                None,
                Repeat::Idempotent,
            )
            .await?
            .json()
    }

    async fn formation(&self, app: &str) -> Result<Vec<Formation>> {
        self.api
            .list::<FormationWire, Formation>(&["apps", app, "formation"], None, |_| false)
            .await
    }

    async fn update_formation(
        &self,
        app: &str,
        updates: &[FormationUpdate],
    ) -> Result<Vec<Formation>> {
        let body = wire::update_formation_body(updates);
        // Counts and sizes are absolute: setting them twice leaves them set.
        let formation: Vec<FormationWire> = self
            .api
            .send(
                reqwest::Method::PATCH,
                &["apps", app, "formation"],
                Some(&body),
                None,
                Repeat::Idempotent,
            )
            .await?
            .json()?;
        Ok(formation.into_iter().map(Formation::from).collect())
    }

    async fn create_pipeline(&self, name: &str) -> Result<Pipeline> {
        let body = wire::create_pipeline_body(name);
        self.api
            .post_once::<PipelineWire, Pipeline, _, _>(&["pipelines"], &body, || async {
                found(self.pipeline(name).await)
            })
            .await
    }

    async fn pipeline(&self, pipeline: &str) -> Result<Pipeline> {
        Ok(self
            .api
            .get::<PipelineWire>(&["pipelines", pipeline])
            .await?
            .into())
    }

    async fn coupling(&self, app: &str) -> Result<Option<Coupling>> {
        // "Info By App" answers the app's one coupling, or 404 when it has none.
        let coupling = self
            .api
            .get::<CouplingWire>(&["apps", app, "pipeline-couplings"])
            .await;
        Ok(found(coupling)?.map(Into::into))
    }

    async fn create_coupling(&self, app: &str, pipeline_id: &str, stage: &str) -> Result<Coupling> {
        let body = wire::create_coupling_body(app, pipeline_id, stage);
        self.api
            .post_once::<CouplingWire, Coupling, _, _>(&["pipeline-couplings"], &body, || async {
                let coupling = self.coupling(app).await?;
                Ok(coupling.filter(|c| c.pipeline_id == pipeline_id && c.stage == stage))
            })
            .await
    }

    async fn update_coupling(&self, coupling_id: &str, stage: &str) -> Result<Coupling> {
        let body = serde_json::json!({ "stage": stage });
        // Setting a stage twice leaves it set: safe to repeat.
        let coupling: CouplingWire = self
            .api
            .send(
                reqwest::Method::PATCH,
                &["pipeline-couplings", coupling_id],
                Some(&body),
                None,
                Repeat::Idempotent,
            )
            .await?
            .json()?;
        Ok(coupling.into())
    }

    async fn delete_coupling(&self, coupling_id: &str) -> Result<()> {
        self.delete(&["pipeline-couplings", coupling_id]).await
    }

    async fn create_promotion(
        &self,
        pipeline_id: &str,
        source_app_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<Promotion> {
        let body = wire::create_promotion_body(
            pipeline_id,
            source_app_id,
            source_release_id,
            target_app_ids,
        );
        // No list of promotions to look in: after an unknown outcome the error goes to the
        // caller, which reads the targets' releases (`release::promote_all`).
        let promotion: PromotionWire = self
            .api
            .post(&["pipeline-promotions"], &body, Repeat::Once)
            .await?;
        Ok(promotion.into())
    }

    async fn promotion_targets(&self, promotion_id: &str) -> Result<Vec<PromotionTarget>> {
        self.api
            .list::<PromotionTargetWire, PromotionTarget>(
                &["pipeline-promotions", promotion_id, "promotion-targets"],
                None,
                |_| false,
            )
            .await
    }

    async fn dynos(&self, app: &str) -> Result<Vec<Dyno>> {
        dynos::dynos(&self.api, app).await
    }

    async fn logs(&self, app: &str, query: &LogQuery) -> Result<LogStream> {
        dynos::logs(&self.api, app, query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_checked() {
        assert!(parse_api_url("https://api.heroku.com").is_ok());
        assert!(parse_api_url("http://127.0.0.1:5000/").is_ok());
        assert!(parse_api_url("ftp://x").is_err());
        assert!(parse_api_url("not a url").is_err());
        let with_secret = parse_api_url("https://user:hunter2@api.heroku.com").unwrap_err();
        assert!(!format!("{with_secret} {with_secret:?}").contains("hunter2"));
    }

    #[test]
    fn connect_finds_the_token_for_the_api_host_or_says_where_it_looked() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".netrc"),
            "machine 127.0.0.1 password local\n",
        )
        .unwrap();
        let (platform, _) =
            HerokuPlatform::connect("http://127.0.0.1:5000", None, Some(home.path())).unwrap();
        assert_eq!(platform.describe(), "http://127.0.0.1:5000/");
        assert!(matches!(
            HerokuPlatform::connect("ftp://x", None, Some(home.path())),
            Err(ConnectError::Config(_))
        ));
    }

    /// Set in the child process of [`connect_reads_no_environment`].
    const CHILD: &str = "SLUGPLAN_TEST_CHILD_WITH_API_KEY";

    #[test]
    fn connect_reads_no_environment() {
        if std::env::var_os(CHILD).is_none() {
            // Run this test again in a child whose environment holds a key: a test cannot set
            // one in its own process without racing the other tests' threads.
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "platform::heroku::tests::connect_reads_no_environment",
                ])
                .arg("--test-threads=1")
                .env(CHILD, "1")
                .env(crate::env_vars::HEROKU_API_KEY, "from-the-environment")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{stdout}");
            assert!(
                stdout.contains("1 passed"),
                "the child ran no test: {stdout}"
            );
            return;
        }
        // HEROKU_API_KEY is set in this process, and no netrc is there: only a key passed in
        // counts.
        let home = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:5000";
        let ignored = HerokuPlatform::connect(url, None, Some(home.path()));
        assert!(
            matches!(ignored, Err(ConnectError::Auth(AuthError::Missing { .. }))),
            "{ignored:?}"
        );
        let given = Token::new("given");
        let (_, source) = HerokuPlatform::connect(url, Some(&given), Some(home.path())).unwrap();
        assert_eq!(source, TokenSource::Env);
    }

    #[test]
    fn netrc_host_follows_the_api_url() {
        assert_eq!(
            HerokuConfig::new(DEFAULT_API_URL).unwrap().netrc_host(),
            "api.heroku.com"
        );
        assert_eq!(
            HerokuConfig::new("http://127.0.0.1:4000")
                .unwrap()
                .netrc_host(),
            "127.0.0.1"
        );
    }

    #[test]
    fn paths_are_encoded_under_the_base_path() {
        let platform = HerokuPlatform::new("http://127.0.0.1:9/prefix/", Token::new("t")).unwrap();
        assert_eq!(
            platform.api.url(&["apps", "a b/c", "releases"]).as_str(),
            "http://127.0.0.1:9/prefix/apps/a%20b%2Fc/releases"
        );
        assert_eq!(newest_range(5000), "version ..; order=desc, max=1000");
    }
}
