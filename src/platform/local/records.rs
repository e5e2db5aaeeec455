//! The local platform's rows, with every field the API v3 resources show.
//!
//! The [`crate::platform`] domain types hold what plan and apply need; these records hold more
//! (timestamps, owners, blob hashes) because `slugplan server` answers with full API objects.
//! Each converts into its domain type.

use std::collections::BTreeMap;

use crate::platform::{
    App, Coupling, Generation, Pipeline, Promotion, PromotionStatus, PromotionTarget, Release,
    ReleaseStatus, Slug, TargetStatus,
};

/// An app as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Stack name, e.g. `heroku-24`.
    pub stack: String,
    /// Cedar or Fir.
    pub generation: Generation,
    /// Region name (`us`).
    pub region: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// RFC 3339 time of the last successful release, if any.
    pub released_at: Option<String>,
    /// Size of the slug the app runs, if it runs one.
    pub slug_size: Option<u64>,
    /// Whether the app is in maintenance mode.
    pub maintenance: bool,
    /// The stack the app's next release is for: its own `stack` unless `heroku stack:set` (a
    /// `PATCH` of `build_stack`) chose another.
    pub build_stack: String,
    /// The port on 127.0.0.1 where the router answers for the app (see `web_port.rs`).
    pub web_port: u16,
}

impl From<AppRecord> for App {
    fn from(r: AppRecord) -> App {
        App {
            web_url: Some(super::web_url(r.web_port)),
            id: r.id,
            name: r.name,
            stack: r.stack,
            generation: r.generation,
        }
    }
}

/// A slug as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugRecord {
    /// UUID.
    pub id: String,
    /// The app it was created on.
    pub app_id: String,
    /// The declared `SHA256:<hex>`, if any.
    pub checksum: Option<String>,
    /// Process types.
    pub process_types: BTreeMap<String, String>,
    /// Stack name.
    pub stack: String,
    /// Commit it was built from.
    pub commit: Option<String>,
    /// Commit description.
    pub commit_description: Option<String>,
    /// Buildpack description.
    pub buildpack_provided_description: Option<String>,
    /// Hex SHA-256 of the uploaded archive, once uploaded.
    pub blob_sha256: Option<String>,
    /// Size of the uploaded archive, once uploaded.
    pub size: Option<u64>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change (the upload).
    pub updated_at: String,
}

impl From<SlugRecord> for Slug {
    fn from(r: SlugRecord) -> Slug {
        Slug {
            id: r.id,
            checksum: r.checksum,
            process_types: r.process_types,
            size: r.size,
            stack: r.stack,
            commit: r.commit,
        }
    }
}

/// A release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// UUID.
    pub id: String,
    /// The app's UUID.
    pub app_id: String,
    /// The app's name.
    pub app_name: String,
    /// Per-app version.
    pub version: u64,
    /// The slug released, if any.
    pub slug_id: Option<String>,
    /// Description.
    pub description: String,
    /// Status.
    pub status: ReleaseStatus,
    /// Whether it is the app's current release.
    pub current: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last status change.
    pub updated_at: String,
}

impl From<ReleaseRecord> for Release {
    fn from(r: ReleaseRecord) -> Release {
        Release {
            id: r.id,
            version: r.version,
            status: r.status,
            current: r.current,
            slug_id: r.slug_id,
            description: r.description,
            created_at: r.created_at,
        }
    }
}

/// A pipeline as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRecord {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

impl From<PipelineRecord> for Pipeline {
    fn from(r: PipelineRecord) -> Pipeline {
        Pipeline {
            id: r.id,
            name: r.name,
        }
    }
}

/// A pipeline coupling as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouplingRecord {
    /// UUID.
    pub id: String,
    /// The pipeline's UUID.
    pub pipeline_id: String,
    /// The app's UUID.
    pub app_id: String,
    /// The stage.
    pub stage: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// The app's name.
    pub app_name: String,
    /// The pipeline's name.
    pub pipeline_name: String,
}

impl From<CouplingRecord> for Coupling {
    fn from(r: CouplingRecord) -> Coupling {
        Coupling {
            id: r.id,
            pipeline_id: r.pipeline_id,
            app_id: r.app_id,
            stage: r.stage,
        }
    }
}

/// A promotion as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRecord {
    /// UUID.
    pub id: String,
    /// The pipeline's UUID.
    pub pipeline_id: String,
    /// The source app's UUID.
    pub source_app_id: String,
    /// The source release's UUID.
    pub source_release_id: String,
    /// Status.
    pub status: PromotionStatus,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

impl From<PromotionRecord> for Promotion {
    fn from(r: PromotionRecord) -> Promotion {
        Promotion {
            id: r.id,
            pipeline_id: r.pipeline_id,
            source_app_id: r.source_app_id,
            source_release_id: r.source_release_id,
            status: r.status,
        }
    }
}

/// A promotion target as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRecord {
    /// UUID.
    pub id: String,
    /// The promotion's UUID.
    pub promotion_id: String,
    /// The target app's UUID.
    pub app_id: String,
    /// Status.
    pub status: TargetStatus,
    /// Why it failed.
    pub error_message: Option<String>,
    /// The release made on the target.
    pub release_id: Option<String>,
}

impl From<TargetRecord> for PromotionTarget {
    fn from(r: TargetRecord) -> PromotionTarget {
        PromotionTarget {
            id: r.id,
            app_id: r.app_id,
            status: r.status,
            error_message: r.error_message,
            release_id: r.release_id,
        }
    }
}
