//! slugplan's own durable state: the uploads it made (so a slug already on the platform is
//! released by id instead of uploaded again, even after a crash between upload and release),
//! the releases it made (so drift can be told apart from its own work, a rollback knows the
//! release it went back to, and the apps it deployed are known after they leave the manifest),
//! the pipeline promotions it started (so an interrupted one is polled again, never repeated),
//! the releases it asked for and has not recorded yet (so one the platform made just before
//! slugplan died is still its own, not drift),
//! the config var keys it manages on each app (so a key no longer declared is unset, and one
//! changed by hand is drift; values only as keyed hashes under the workspace's random key,
//! never in clear), each slug's last input key, an append-only audit log of every apply, promotion, rollback and
//! destroy (`slugplan history`), and the apply lock.
//!
//! [`State`] is the one interface to it, with its domain's operations (find uploads, record a
//! release, begin an apply, take the apply lock): `apply`, `ops` and `commands` call it and
//! never learn which backend runs. Two do:
//!
//! - [`sqlite`] (the default, `[state] backend = "local"`): `.slugplan/state/state.db` beside
//!   the manifest, and an OS file lock on `.slugplan/state/apply.lock`. Right for one person.
//! - [`postgres`] (`backend = "postgres"`): one PostgreSQL database shared by every CI runner
//!   and laptop of a team, each manifest in its own *workspace*; the apply lock is an advisory
//!   lock held on a connection of its own, which the server releases when the holder dies.
//!
//! Both guarantee the same: every write is one statement or one transaction, so a crash or a
//! lost connection never leaves half of one; schemas migrate forward only, in one transaction,
//! and a schema newer than this slugplan knows is refused untouched; the lock names its holder
//! (pid, host, command, start time, CI job). A database URL's password never leaves
//! [`DatabaseUrl`]: errors, `--json` and `-v` show it masked.
//!
//! Operations are async: the PostgreSQL ones are round trips on the apply's runtime; the SQLite
//! ones are quick local statements run in place. Lookups an apply makes for many apps at once
//! ([`State::find_uploads`], [`State::made_releases`], [`State::slug_key_hashes`]) take the
//! whole batch, so a plan costs one round trip per kind of question, not one per app.

mod config;
mod location;
mod lock;
pub mod postgres;
mod promotions;
mod snapshot;
pub mod sqlite;

pub use config::ManagedVar;
pub use location::{DatabaseUrl, Location, SslMode, UrlError, default_workspace};
pub use lock::{ApplyLock, LockHolder};
pub use promotions::Promotions;
pub use snapshot::{
    PromotionRow, ReleaseRow, SlugKeyRow, Snapshot, StateCounts, UploadRow, migrate,
};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::build::key::SlugKey;
use crate::release::StartedPromotion;
use crate::sensitive::{Digest, ValueKey};
use crate::sqlite::SqliteError;

/// Errors of the state, whichever backend holds it. Messages name the state by its
/// [`Location`], with any password masked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// The SQLite file could not be opened or migrated, or was written by a newer slugplan.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Open(#[from] Box<SqliteError>),
    /// A query of the SQLite state failed.
    #[error("state database {} failed", path.display())]
    #[diagnostic(help(
        "the state only speeds deploys up and records history; move it aside if it is damaged"
    ))]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A record of the state makes no sense (written by hand, or damaged).
    #[error("{location} is damaged: {what}")]
    #[diagnostic(help(
        "move the state aside (slugplan then forgets the keys it manages and its uploads)"
    ))]
    Corrupt {
        /// The state, password masked.
        location: String,
        /// What is wrong.
        what: String,
    },
    /// The state directory or the lock file could not be created or written.
    #[error("cannot create state directory {}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another apply holds the lock.
    #[error("another apply is running: {holder}")]
    #[diagnostic(help(
        "wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock"
    ))]
    Locked {
        /// Who holds it.
        holder: LockHolder,
    },
    /// `[state] backend = "postgres"` (or `state migrate`) without a database URL.
    #[error("the PostgreSQL state needs a database URL, and none is set")]
    #[diagnostic(
        code(slugplan::state::no_url),
        help(
            "set SLUGPLAN_STATE_URL=postgres://USER:PASSWORD@HOST/DB in the environment (slug.toml may say url = \"${{SLUGPLAN_STATE_URL}}\")"
        )
    )]
    NoUrl,
    /// `[state] url` refers to a variable that is not set, or is malformed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    UrlTemplate(Box<crate::manifest::SourceDiagnostic>),
    /// The database URL does not parse.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Url(#[from] UrlError),
    /// A `sslrootcert` file could not be read.
    #[error("cannot read the CA certificate {} named by the state URL's sslrootcert", path.display())]
    #[diagnostic(code(slugplan::state::sslrootcert))]
    RootCert {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The PostgreSQL state could not be reached.
    #[error("cannot connect to the PostgreSQL state {url}")]
    #[diagnostic(
        code(slugplan::state::connect),
        help(
            "check the URL (SLUGPLAN_STATE_URL or [state] url), that the database is up, and its sslmode; nothing was done"
        )
    )]
    Connect {
        /// The database, password masked.
        url: String,
        /// The cause (its text never holds the password).
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement of the PostgreSQL state failed (the connection may have gone).
    #[error("PostgreSQL state {url}: cannot {doing}")]
    #[diagnostic(
        code(slugplan::state::postgres),
        help(
            "each write is one statement or one transaction, so nothing was half-written: once the database answers, run the command again"
        )
    )]
    Postgres {
        /// The database, password masked.
        url: String,
        /// What was being done.
        doing: &'static str,
        /// The cause (its text never holds the password).
        #[source]
        source: tokio_postgres::Error,
    },
    /// The PostgreSQL schema was migrated by a newer slugplan.
    #[error(
        "the PostgreSQL state {url} has schema version {found}, newer than this slugplan knows ({known})"
    )]
    #[diagnostic(
        code(slugplan::state::newer_schema),
        help("upgrade slugplan to the version that migrated it; nothing was changed")
    )]
    NewerSchema {
        /// The database, password masked.
        url: String,
        /// The version found.
        found: usize,
        /// The newest version this slugplan knows.
        known: usize,
    },
    /// `state migrate` found state already at its destination.
    #[error("{destination} already holds state ({counts})")]
    #[diagnostic(
        code(slugplan::state::not_empty),
        help("pass --replace to overwrite it with the copy, in the same transaction")
    )]
    NotEmpty {
        /// Where the copy would go.
        destination: String,
        /// What is there.
        counts: StateCounts,
    },
    /// `state migrate` was asked to copy the state onto itself.
    #[error("the state is already in {location}")]
    #[diagnostic(code(slugplan::state::same_backend))]
    SameBackend {
        /// Where it is.
        location: String,
    },
}

/// What identifies an uploaded slug: the same archive with another stack or other process
/// types is another slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlugIdentity<'a> {
    /// `SHA256:<hex>` of the archive.
    pub checksum: &'a str,
    /// The stack it was created for.
    pub stack: &'a str,
    /// Its process types.
    pub process_types: &'a BTreeMap<String, String>,
}

impl SlugIdentity<'_> {
    /// The process types as a canonical string: part of the key of a recorded upload.
    /// serde_json writes a `BTreeMap` in key order, so equal maps give equal keys.
    pub(crate) fn process_types_key(&self) -> String {
        serde_json::to_string(self.process_types).expect("a string map serialises")
    }
}

/// A slug slugplan uploaded to a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedUpload {
    /// The slug id on the platform.
    pub slug_id: String,
    /// The app it was created through.
    pub app: String,
}

/// The release a rollback slugplan made went back to. The rollback is a new release, but what
/// it runs is as old as this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRollback {
    /// The version rolled back to.
    pub version: u64,
    /// When that release was made (RFC 3339).
    pub created_at: String,
}

impl RecordedRollback {
    /// A release row's `restores_version` and `restores_created_at`, as the rollback they
    /// record (both set) or none.
    pub(crate) fn from_columns(version: Option<i64>, created_at: Option<String>) -> Option<Self> {
        Some(RecordedRollback {
            version: u64::try_from(version?).unwrap_or_default(),
            created_at: created_at?,
        })
    }
}

/// A release slugplan asked the platform for, recorded **before** the request is sent: one the
/// platform describes itself (a pipeline promotion's `Promote staging v3`, a rollback's
/// `Rollback to v3`), so that when slugplan dies between the platform making it and slugplan
/// recording it, the rerun still knows it as its own instead of calling it drift. Cleared when
/// a release of the app is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRelease {
    /// The app it was asked for.
    pub app: String,
    /// The slug it releases.
    pub slug_id: String,
    /// The description the platform gives it.
    pub description: String,
}

impl StartedRelease {
    /// Whether `release` of `app` is the one this started: same app, slug and description.
    /// Someone else's release of the same slug says something else (`Deploy …`, their own
    /// promotion of another source release), so it stays drift.
    pub fn made(&self, app: &str, release: &crate::platform::Release) -> bool {
        self.app == app
            && release.slug_id.as_deref() == Some(self.slug_id.as_str())
            && release.description == self.description
    }
}

/// The releases slugplan made among some, by release id, each with what it went back to when
/// it is a rollback.
pub type MadeReleases = BTreeMap<String, Option<RecordedRollback>>;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyRecord {
    /// The apply's number.
    pub id: i64,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (None if it was killed).
    pub finished_at: Option<String>,
    /// The command line that ran it.
    pub command: String,
    /// The platform it applied to.
    pub platform: String,
    /// The manifest's SHA-256.
    pub manifest_sha256: String,
    /// `succeeded`, `failed: …`, or None when interrupted.
    pub outcome: Option<String>,
    /// What each step did, in order.
    pub events: Vec<ApplyEvent>,
}

/// One step's outcome within an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyEvent {
    /// When (RFC 3339).
    pub at: String,
    /// The step's address.
    pub address: String,
    /// The planned action.
    pub action: String,
    /// `done`, `skipped` or `failed`.
    pub outcome: String,
    /// Details: ids, checksums, errors.
    pub detail: String,
}

/// What `slugplan state show` reports besides the location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateStatus {
    /// The schema version the state has.
    pub schema_version: usize,
    /// The newest schema version this slugplan knows.
    pub known_version: usize,
    /// Who holds the apply lock now, if anyone.
    pub lock: Option<LockHolder>,
    /// How many records of each kind it holds.
    pub counts: StateCounts,
}

/// slugplan's state, in whichever backend the manifest chose. Shared as `&dyn State` between
/// the steps of an apply, which run on many tasks at once.
#[async_trait]
pub trait State: Send + Sync {
    /// Where the state is (its `Display` masks any password).
    fn location(&self) -> &Location;

    /// For each of `slugs`, the upload slugplan made of it to `platform`, if any: one lookup
    /// for the whole batch.
    async fn find_uploads(
        &self,
        platform: &str,
        slugs: &[SlugIdentity<'_>],
    ) -> Result<Vec<Option<RecordedUpload>>, StateError>;

    /// The upload of one slug to `platform`, if slugplan made one.
    async fn find_upload(
        &self,
        platform: &str,
        slug: SlugIdentity<'_>,
    ) -> Result<Option<RecordedUpload>, StateError> {
        Ok(self.find_uploads(platform, &[slug]).await?.pop().flatten())
    }

    /// Records a finished upload (after the archive is on the platform, never before).
    async fn record_upload(
        &self,
        platform: &str,
        slug: SlugIdentity<'_>,
        upload: &RecordedUpload,
    ) -> Result<(), StateError>;

    /// Forgets a recorded upload that turned out not to exist on the platform any more.
    async fn forget_upload(&self, platform: &str, slug_id: &str) -> Result<(), StateError>;

    /// Records a release slugplan made (and clears the app's [`StartedRelease`]s).
    async fn record_release(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
    ) -> Result<(), StateError>;

    /// Records a rollback slugplan made: a release of its own, which runs what `restores` ran
    /// (and clears the app's [`StartedRelease`]s).
    async fn record_rollback(
        &self,
        platform: &str,
        app: &str,
        release_id: &str,
        version: u64,
        checksum: Option<&str>,
        restores: &RecordedRollback,
    ) -> Result<(), StateError>;

    /// Which of `release_ids` on `platform` slugplan made (by any runner sharing the state),
    /// and what each rollback among them went back to: one lookup for the whole batch.
    async fn made_releases(
        &self,
        platform: &str,
        release_ids: &[&str],
    ) -> Result<MadeReleases, StateError>;

    /// What release `release_id` went back to, when it is a rollback slugplan made.
    async fn rollback(
        &self,
        platform: &str,
        release_id: &str,
    ) -> Result<Option<RecordedRollback>, StateError> {
        Ok(self
            .made_releases(platform, &[release_id])
            .await?
            .remove(release_id)
            .flatten())
    }

    /// Records releases slugplan is about to ask `platform` for (see [`StartedRelease`]),
    /// before the request is sent. Recording a release of an app clears the app's.
    async fn record_started_releases(
        &self,
        platform: &str,
        started: &[StartedRelease],
    ) -> Result<(), StateError>;

    /// The started releases on `platform` of `apps` not recorded since: one lookup for all.
    async fn started_releases(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<Vec<StartedRelease>, StateError>;

    /// The apps slugplan has released to on `platform` (recorded by name), sorted.
    async fn deployed_apps(&self, platform: &str) -> Result<BTreeSet<String>, StateError>;

    /// Forgets app `app` of `platform` once it is deleted there, in one transaction: the
    /// releases slugplan made on it and the uploads made through it (their slug ids may be
    /// gone with it).
    async fn forget_app(&self, platform: &str, app: &str) -> Result<(), StateError>;

    /// Records that pipeline promotion `promotion_id` of `source_release_id` to
    /// `target_app_ids` was made on `platform`.
    async fn record_promotion(
        &self,
        platform: &str,
        promotion_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<(), StateError>;

    /// The pipeline promotions of `source_release_id` made on `platform`, oldest first.
    async fn promotions_of(
        &self,
        platform: &str,
        source_release_id: &str,
    ) -> Result<Vec<StartedPromotion>, StateError>;

    /// The workspace's key for keyed hashes of config values, made on first use. One key per
    /// state (per workspace), so every machine sharing the state hashes alike.
    async fn value_key(&self) -> Result<ValueKey, StateError>;

    /// The config var keys slugplan manages on each of `apps` of `platform`, by app and key
    /// (every app asked for is in the answer; one lookup for all of them).
    async fn managed_config(
        &self,
        platform: &str,
        apps: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, ManagedVar>>, StateError>;

    /// The apps of `platform` on which slugplan manages config var keys (not counting keys
    /// it removed).
    async fn apps_with_managed_config(
        &self,
        platform: &str,
    ) -> Result<BTreeSet<String>, StateError>;

    /// Records that slugplan manages `keys` (key → sensitive) on `app`, before it sets them:
    /// an apply killed right after the platform took them still knows they are its own.
    async fn manage_config(
        &self,
        platform: &str,
        app: &str,
        keys: &BTreeMap<String, bool>,
    ) -> Result<(), StateError>;

    /// Records what the platform confirmed on `app`, in one transaction: the keyed hash of
    /// each value set, and the keys unset (marked removed, keeping the hash of the value
    /// slugplan last set).
    async fn record_config(
        &self,
        platform: &str,
        app: &str,
        set: &BTreeMap<String, Digest>,
        unset: &BTreeSet<String>,
    ) -> Result<(), StateError>;

    /// The recorded input key (its hash alone) of each of `slugs` that has one.
    async fn slug_key_hashes(&self, slugs: &[&str])
    -> Result<BTreeMap<String, String>, StateError>;

    /// The input key, with its parts, recorded for `slug` by the last plan that built or found it.
    async fn slug_key(&self, slug: &str) -> Result<Option<SlugKey>, StateError>;

    /// Records `slug`'s current input key.
    async fn record_slug_key(&self, slug: &str, key: &SlugKey) -> Result<(), StateError>;

    /// Starts an audit-log entry and returns its number.
    async fn begin_apply(
        &self,
        command: &str,
        platform: &str,
        manifest_sha256: &str,
    ) -> Result<i64, StateError>;

    /// Appends a step's outcome to apply `apply_id`.
    async fn record_event(
        &self,
        apply_id: i64,
        address: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StateError>;

    /// Closes apply `apply_id` with its outcome.
    async fn finish_apply(&self, apply_id: i64, outcome: &str) -> Result<(), StateError>;

    /// The audit log, newest first, at most `limit` entries.
    async fn history(&self, limit: usize) -> Result<Vec<ApplyRecord>, StateError>;

    /// Takes the apply lock as `holder`, waiting up to `timeout` for another holder to finish;
    /// it is held until the returned lock is released or dropped, or the process dies.
    async fn lock_applies(
        &self,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<ApplyLock, StateError>;

    /// The schema version, the lock's holder and the counts, for `slugplan state show`.
    async fn status(&self) -> Result<StateStatus, StateError>;

    /// Everything the state holds, for `slugplan state migrate`.
    async fn export(&self) -> Result<Snapshot, StateError>;

    /// Writes `snapshot` in one transaction. State already here is refused, or with `replace`
    /// removed in that same transaction.
    async fn import(&self, snapshot: &Snapshot, replace: bool) -> Result<(), StateError>;
}

/// Opens (creating and migrating as needed) the state at `location`.
pub async fn open(location: &Location) -> Result<Box<dyn State>, StateError> {
    Ok(match location {
        Location::Local { dir } => Box::new(sqlite::SqliteState::open(dir)?),
        Location::Postgres { url, workspace } => {
            Box::new(postgres::PostgresState::open(url, workspace).await?)
        }
    })
}

/// Now, in RFC 3339 (UTC, whole seconds): how every time in the state is written.
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Release, ReleaseStatus};

    #[test]
    fn a_started_release_is_only_the_release_of_its_app_slug_and_description() {
        let started = StartedRelease {
            app: "web-prod".into(),
            slug_id: "s-1".into(),
            description: "Promote web-staging v3".into(),
        };
        let release = |slug: Option<&str>, description: &str| Release {
            id: "r".into(),
            version: 4,
            status: ReleaseStatus::Succeeded,
            current: true,
            slug_id: slug.map(str::to_owned),
            description: description.into(),
            created_at: String::new(),
        };
        let promoted = release(Some("s-1"), "Promote web-staging v3");
        assert!(started.made("web-prod", &promoted));
        assert!(!started.made("web-eu", &promoted), "another app");
        // Someone else's releases: of the same slug, or the same promotion of another slug.
        for other in [
            release(Some("s-1"), "Deploy by hand"),
            release(Some("s-1"), "Promote web-staging v2"),
            release(Some("s-2"), "Promote web-staging v3"),
            release(None, "Promote web-staging v3"),
        ] {
            assert!(!started.made("web-prod", &other), "{other:?}");
        }
    }
}
