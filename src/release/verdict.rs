//! Reading a promotion's source and targets, and the verdict on each target.
//!
//! A promotion releases to a target exactly the slug its source runs. The source's slug is the
//! one of its running release (current **and** succeeded, never simply the newest), read at the
//! moment of promotion, so a promotion that waits for the source's own release in the same apply
//! gets the new slug. Three things make a promotion wrong, and the same rules decide them at plan
//! time (`plan::promotion`) and at promotion time ([`verdict`]), in case the platform moved since:
//!
//! - the target is a Fir-generation app, which runs OCI images and cannot take a slug;
//! - the target's stack differs from the slug's (the slug's binaries were built for another OS);
//! - the target's running release is newer than the source's: someone deployed to it directly,
//!   and promoting would silently downgrade it. That is drift; overwriting it needs
//!   `--allow-downgrade`, which the caller decides on.
//!
//! "Newer" compares when what each app runs was released: a rollback slugplan made is a fresh
//! release of an old slug, so it counts as of the release it went back to ([`Rollbacks`]). A
//! target rolled back is therefore older than its source (promoting it again is no downgrade),
//! and a source rolled back is older than a target that took its newer slug (promoting it rolls
//! the target back too, which needs `--allow-downgrade`).
//!
//! Apps are compared by their platform id, never by how a name is spelled, so an app named twice
//! (by name and by id) is recognised as one.

use std::collections::BTreeMap;

use crate::platform::{App, Coupling, Generation, Platform, PlatformError, Release, Slug};
use crate::state::{MadeReleases, RecordedRollback, State, StateError};

/// The rollbacks slugplan made among some releases, by release id: what each went back to.
pub type Rollbacks = BTreeMap<String, RecordedRollback>;

/// The rollbacks slugplan made among `releases`, read from its state in one lookup.
pub async fn known_rollbacks<'r>(
    state: &dyn State,
    platform_id: &str,
    releases: impl IntoIterator<Item = &'r Release>,
) -> Result<Rollbacks, StateError> {
    let ids: Vec<&str> = releases.into_iter().map(|r| r.id.as_str()).collect();
    Ok(rollbacks_among(
        state.made_releases(platform_id, &ids).await?,
    ))
}

/// The rollbacks among releases slugplan made.
pub fn rollbacks_among(made: MadeReleases) -> Rollbacks {
    made.into_iter()
        .filter_map(|(id, rollback)| Some((id, rollback?)))
        .collect()
}

/// When what `release` runs was released: its own time, or for a rollback slugplan made, the
/// time of the release it went back to.
pub fn released_at<'a>(release: &'a Release, rollbacks: &'a Rollbacks) -> &'a str {
    rollbacks
        .get(&release.id)
        .map_or(release.created_at.as_str(), |r| r.created_at.as_str())
}

/// Errors reading the source of a promotion.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    /// The source runs nothing.
    #[error("{app} has no successful current release to promote")]
    #[diagnostic(help(
        "release to {app} first; a pending or failed newest release is not what it runs"
    ))]
    NoRelease {
        /// The source.
        app: String,
    },
    /// The source's release has no slug (e.g. a config-only release of a container app).
    #[error("release v{version} of {app} has no slug to promote")]
    NoSlug {
        /// The source.
        app: String,
        /// The release's version.
        version: u64,
    },
    /// The platform failed.
    #[error("reading the promotion source {app}")]
    Platform {
        /// The source.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
}

/// The source of a promotion, as read from the platform.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name it was given by.
    pub name: String,
    /// Its app record (the id is what targets are compared with).
    pub app: App,
    /// Its running release.
    pub release: Release,
    /// That release's slug.
    pub slug: Slug,
    /// Its pipeline coupling, if any.
    pub coupling: Option<Coupling>,
}

/// A target of a promotion, as read from the platform.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name it was given by.
    pub name: String,
    /// Its app record.
    pub app: App,
    /// Its running release, if any.
    pub running: Option<Release>,
    /// Its pipeline coupling, if any.
    pub coupling: Option<Coupling>,
}

/// What to do with one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It runs the source's slug already.
    AlreadyRuns {
        /// Its running version.
        version: u64,
    },
    /// Promote it; `downgrade` when its running release is newer than the source's.
    Promote {
        /// Whether promoting overwrites a newer release.
        downgrade: bool,
    },
}

/// Why a target may not receive a promotion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum Refusal {
    /// The target runs OCI images.
    #[error("{app} is a Fir-generation app, which runs OCI images, not slugs")]
    #[diagnostic(help("remove {app} from the promotion, or deploy it with a container image"))]
    Fir {
        /// The target.
        app: String,
    },
    /// The target's stack is not the slug's.
    #[error("{app} runs on {app_stack}, but {source_app}'s slug was built for {slug_stack}")]
    #[diagnostic(help(
        "move {app} to {slug_stack} (`heroku stack:set {slug_stack} -a {app}`), or build a slug for {app_stack}"
    ))]
    Stack {
        /// The target.
        app: String,
        /// The target's stack.
        app_stack: String,
        /// The source.
        source_app: String,
        /// The slug's stack.
        slug_stack: String,
    },
    /// Source and target are the same app.
    #[error("{app} is the source app {source_app} itself (same app id {id})")]
    #[diagnostic(help("name a different target app"))]
    SameApp {
        /// The target as named.
        app: String,
        /// The source as named.
        source_app: String,
        /// Their common id.
        id: String,
    },
}

/// Checks one target against the source app and the stack of the slug being promoted.
pub fn refusal(source_name: &str, source: &App, slug_stack: &str, target: &App) -> Option<Refusal> {
    if target.id == source.id {
        return Some(Refusal::SameApp {
            app: target.name.clone(),
            source_app: source_name.to_owned(),
            id: target.id.clone(),
        });
    }
    if target.generation == Generation::Fir {
        return Some(Refusal::Fir {
            app: target.name.clone(),
        });
    }
    if target.stack != slug_stack {
        return Some(Refusal::Stack {
            app: target.name.clone(),
            app_stack: target.stack.clone(),
            source_app: source_name.to_owned(),
            slug_stack: slug_stack.to_owned(),
        });
    }
    None
}

/// Whether what `target` runs was released after what `source` runs (someone deployed to the
/// target directly), compared as instants, not strings, a rollback as of the release it went
/// back to.
pub fn is_newer(target: &Release, source: &Release, rollbacks: &Rollbacks) -> bool {
    match (
        released_at(target, rollbacks).parse::<jiff::Timestamp>(),
        released_at(source, rollbacks).parse::<jiff::Timestamp>(),
    ) {
        (Ok(t), Ok(s)) => t > s,
        _ => false,
    }
}

/// Reads the source: its running release, that release's slug, its app record and coupling.
pub async fn read_source(platform: &dyn Platform, name: &str) -> Result<Source, SourceError> {
    let err = |source| SourceError::Platform {
        app: name.to_owned(),
        source,
    };
    let release = platform
        .current_release(name)
        .await
        .map_err(err)?
        .filter(Release::is_running)
        .ok_or_else(|| SourceError::NoRelease {
            app: name.to_owned(),
        })?;
    let slug_id = release.slug_id.clone().ok_or_else(|| SourceError::NoSlug {
        app: name.to_owned(),
        version: release.version,
    })?;
    let (slug, app, coupling) = futures_util::try_join!(
        platform.slug(name, &slug_id),
        platform.app(name),
        platform.coupling(name)
    )
    .map_err(err)?;
    Ok(Source {
        name: name.to_owned(),
        app,
        release,
        slug,
        coupling,
    })
}

/// Reads a target: its app record, running release and coupling.
pub async fn read_target(platform: &dyn Platform, name: &str) -> Result<Target, PlatformError> {
    let (app, running, coupling) = futures_util::try_join!(
        platform.app(name),
        platform.current_release(name),
        platform.coupling(name)
    )?;
    Ok(Target {
        name: name.to_owned(),
        app,
        running: running.filter(Release::is_running),
        coupling,
    })
}

/// Decides what to do with `target`: refused (Fir, stack, the source itself), already done, or
/// promote (saying whether that downgrades it, with `rollbacks` among both apps' releases).
pub fn verdict(
    source: &Source,
    target: &Target,
    rollbacks: &Rollbacks,
) -> Result<Verdict, Refusal> {
    if let Some(refused) = refusal(&source.name, &source.app, &source.slug.stack, &target.app) {
        return Err(refused);
    }
    match &target.running {
        Some(running) if running.slug_id.as_deref() == Some(source.slug.id.as_str()) => {
            Ok(Verdict::AlreadyRuns {
                version: running.version,
            })
        }
        Some(running) => Ok(Verdict::Promote {
            downgrade: is_newer(running, &source.release, rollbacks),
        }),
        None => Ok(Verdict::Promote { downgrade: false }),
    }
}

/// Whether `target` is promoted through the source's pipeline (both coupled to the same one).
pub fn via_pipeline(source: &Source, target: &Target) -> bool {
    matches!(
        (&source.coupling, &target.coupling),
        (Some(s), Some(t)) if s.pipeline_id == t.pipeline_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, stack: &str, generation: Generation) -> App {
        App {
            id: id.into(),
            name: format!("app-{id}"),
            stack: stack.into(),
            generation,
            web_url: None,
        }
    }

    #[test]
    fn targets_are_refused_by_generation_stack_and_identity() {
        let source = app("1", "heroku-24", Generation::Cedar);
        let ok = app("2", "heroku-24", Generation::Cedar);
        assert_eq!(refusal("src", &source, "heroku-24", &ok), None);
        let fir = app("3", "heroku-24", Generation::Fir);
        assert!(matches!(
            refusal("src", &source, "heroku-24", &fir),
            Some(Refusal::Fir { .. })
        ));
        let old = app("4", "heroku-22", Generation::Cedar);
        let refused = refusal("src", &source, "heroku-24", &old).unwrap();
        assert_eq!(
            refused.to_string(),
            "app-4 runs on heroku-22, but src's slug was built for heroku-24"
        );
        // The same app under another spelling is still the same app.
        let same = App {
            name: "SRC".into(),
            ..source.clone()
        };
        assert!(matches!(
            refusal("src", &source, "heroku-24", &same),
            Some(Refusal::SameApp { .. })
        ));
    }

    /// A running release `id`, made `at`.
    fn release(id: &str, at: &str) -> Release {
        Release {
            id: id.into(),
            version: 1,
            status: crate::platform::ReleaseStatus::Succeeded,
            current: true,
            slug_id: None,
            description: String::new(),
            created_at: at.into(),
        }
    }

    #[test]
    fn newer_compares_instants_not_strings() {
        let none = Rollbacks::new();
        assert!(is_newer(
            &release("a", "2026-11-25T10:00:01Z"),
            &release("b", "2026-11-25T11:00:00+02:00"),
            &none
        ));
        assert!(!is_newer(
            &release("a", "2026-11-25T09:00:00Z"),
            &release("b", "2026-11-25T10:00:00Z"),
            &none
        ));
    }

    #[test]
    fn a_rollback_counts_as_of_the_release_it_went_back_to() {
        let source = release("source-v2", "2026-11-25T10:00:00Z");
        // The target was promoted v2 later, then rolled back (later still) to its v1.
        let rolled_back = release("target-v3", "2026-11-25T12:00:00Z");
        let rollbacks = Rollbacks::from([(
            "target-v3".to_owned(),
            RecordedRollback {
                version: 1,
                created_at: "2026-11-25T09:00:00Z".into(),
            },
        )]);
        assert!(is_newer(&rolled_back, &source, &Rollbacks::new()));
        assert!(
            !is_newer(&rolled_back, &source, &rollbacks),
            "a rollback runs an old slug: promoting over it is no downgrade"
        );
        assert_eq!(
            released_at(&rolled_back, &rollbacks),
            "2026-11-25T09:00:00Z"
        );
        // Rolled back as a source, it is older than a target that took its newer slug.
        let target = release("target-v2", "2026-11-25T11:00:00Z");
        assert!(is_newer(&target, &rolled_back, &rollbacks));
    }
}
