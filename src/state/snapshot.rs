//! The whole state as plain rows, and copying it from one backend to another
//! (`slugplan state migrate`, like `terraform init -migrate-state`).
//!
//! A [`Snapshot`] is backend-neutral and ordered (uploads and releases by key, slug keys by
//! name, applies by number with their events in order), so two snapshots of the same content
//! compare equal whichever backend they were read from: a copy there and back is identical.
//! The destination writes it in one transaction, so a failed copy leaves it as it was.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ApplyLock, ApplyRecord, LockHolder, State, StateError};
use crate::build::key::SlugKey;
use crate::release::StartedPromotion;

/// Everything a state holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The uploads slugplan made.
    pub uploads: Vec<UploadRow>,
    /// The releases slugplan made.
    pub releases: Vec<ReleaseRow>,
    /// The pipeline promotions slugplan started.
    pub promotions: Vec<PromotionRow>,
    /// Each slug's last input key.
    pub slug_keys: Vec<SlugKeyRow>,
    /// The config var keys slugplan manages.
    pub config_keys: Vec<ConfigKeyRow>,
    /// The key of the config values' keyed hashes (hex) and when it was made, once made: a
    /// copy keeps it, so the digests recorded and saved plans still check.
    pub value_key: Option<(String, String)>,
    /// The audit log, oldest first, each apply with its events.
    pub applies: Vec<ApplyRecord>,
}

/// A recorded upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRow {
    /// The platform's identity.
    pub platform: String,
    /// The archive's checksum.
    pub checksum: String,
    /// The slug's stack.
    pub stack: String,
    /// The slug's process types, canonical JSON.
    pub process_types: String,
    /// The slug id on the platform.
    pub slug_id: String,
    /// The app it was created through.
    pub app: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// A release slugplan made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRow {
    /// The platform's identity.
    pub platform: String,
    /// The release's id.
    pub release_id: String,
    /// Its app.
    pub app: String,
    /// Its version.
    pub version: i64,
    /// The checksum of the slug it runs, when known.
    pub checksum: Option<String>,
    /// When (RFC 3339).
    pub created_at: String,
    /// For a rollback: the version it went back to.
    pub restores_version: Option<i64>,
    /// For a rollback: when the release it went back to was made.
    pub restores_created_at: Option<String>,
}

/// A pipeline promotion slugplan started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRow {
    /// The platform's identity.
    pub platform: String,
    /// The promotion's id.
    pub promotion_id: String,
    /// The source release it promoted.
    pub source_release_id: String,
    /// Its targets' app ids, as a JSON array.
    pub target_app_ids: String,
    /// When (RFC 3339).
    pub created_at: String,
}

impl PromotionRow {
    /// A promotion recorded as `promotion_id` with `target_app_ids` (a JSON array).
    pub(crate) fn started(promotion_id: String, target_app_ids: &str) -> StartedPromotion {
        StartedPromotion {
            id: promotion_id,
            // Written by `record_promotion`; a row that does not parse holds no target.
            target_app_ids: serde_json::from_str(target_app_ids).unwrap_or_default(),
        }
    }
}

/// A config var key slugplan manages on an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigKeyRow {
    /// The platform's identity.
    pub platform: String,
    /// The app.
    pub app: String,
    /// The config var's key.
    pub key: String,
    /// Whether its value is sensitive.
    pub sensitive: bool,
    /// The keyed hash of the value last set, once confirmed.
    pub digest: Option<String>,
    /// Whether slugplan unset it since.
    pub removed: bool,
    /// When (RFC 3339).
    pub updated_at: String,
}

/// A slug's last input key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlugKeyRow {
    /// The slug's name.
    pub slug: String,
    /// The key.
    pub key: String,
    /// Its parts, as JSON.
    pub parts: String,
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl SlugKeyRow {
    /// `key`'s parts as they are stored.
    pub(crate) fn encode_parts(key: &SlugKey) -> String {
        serde_json::to_string(&key.parts).expect("a string map serialises")
    }

    /// The key stored as `key` and `parts`; None when the parts do not read (the key is then
    /// treated as never recorded, which costs a "first build" reason, nothing more).
    pub(crate) fn decode(key: String, parts: &str) -> Option<SlugKey> {
        let parts: BTreeMap<String, String> = serde_json::from_str(parts).ok()?;
        Some(SlugKey { key, parts })
    }
}

/// How many records of each kind a state holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// Uploads recorded.
    pub uploads: usize,
    /// Releases recorded.
    pub releases: usize,
    /// Pipeline promotions recorded.
    pub promotions: usize,
    /// Slug keys recorded.
    pub slug_keys: usize,
    /// Config var keys managed.
    pub config_keys: usize,
    /// Applies in the audit log.
    pub applies: usize,
    /// Step events in the audit log.
    pub events: usize,
}

impl StateCounts {
    /// Whether there is nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == StateCounts::default()
    }
}

impl Snapshot {
    /// How many records of each kind it holds.
    pub fn counts(&self) -> StateCounts {
        StateCounts {
            uploads: self.uploads.len(),
            releases: self.releases.len(),
            promotions: self.promotions.len(),
            slug_keys: self.slug_keys.len(),
            config_keys: self.config_keys.len(),
            applies: self.applies.len(),
            events: self.applies.iter().map(|a| a.events.len()).sum(),
        }
    }
}

impl fmt::Display for StateCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        write!(
            f,
            "{}, {}, ",
            n(self.uploads, "upload", "uploads"),
            n(self.releases, "release", "releases"),
        )?;
        if self.promotions > 0 {
            let promotions = n(self.promotions, "pipeline promotion", "pipeline promotions");
            write!(f, "{promotions}, ")?;
        }
        if self.config_keys > 0 {
            let keys = n(self.config_keys, "config key", "config keys");
            write!(f, "{keys}, ")?;
        }
        write!(
            f,
            "{}, {} with {}",
            n(self.slug_keys, "slug key", "slug keys"),
            n(self.applies, "apply", "applies"),
            n(self.events, "event", "events"),
        )
    }
}

/// Copies everything in `from` to `to` (refused when `to` holds state, unless `replace`),
/// holding both apply locks as `holder` so that no apply writes to either meanwhile, and
/// returns what was copied. `from` is left as it was.
pub async fn migrate(
    from: &dyn State,
    to: &dyn State,
    holder: &LockHolder,
    replace: bool,
) -> Result<StateCounts, StateError> {
    if from.location().to_string() == to.location().to_string() {
        return Err(StateError::SameBackend {
            location: from.location().to_string(),
        });
    }
    let locks: [ApplyLock; 2] = [
        from.lock_applies(holder, std::time::Duration::ZERO).await?,
        to.lock_applies(holder, std::time::Duration::ZERO).await?,
    ];
    let snapshot = from.export().await?;
    let result = to.import(&snapshot, replace).await;
    for lock in locks {
        lock.release().await;
    }
    result.map(|()| snapshot.counts())
}
