//! The desired state: what the manifest asks for, resolved and free of syntax.
//!
//! This is the first step of the one-way flow (manifest → desired → graph → diff → plan → apply).
//! It follows `promote_from` chains to the slug each app ends up running and decides, for every
//! slug, which app its archive is uploaded through (slugs are created per app on the platform,
//! then released by id to every other app that runs them). It carries each app's config vars as
//! written (`${VAR}` references unexpanded: resolving them needs the environment, and only a
//! plan does that, in [`config`]) and its formation.

pub mod config;

use std::collections::{BTreeMap, BTreeSet};

use crate::dyno;
use crate::manifest::{LoadedManifest, PlatformKind, PromoteMode, Stage};
use crate::platform::Generation;

/// What one app should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSource {
    /// The app runs slug `name` of the manifest.
    Slug(String),
    /// The app runs whatever app `name` runs (a promotion).
    PromoteFrom(String),
}

/// One app of the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredApp {
    /// The app's name.
    pub name: String,
    /// What it runs, as the manifest says it.
    pub source: AppSource,
    /// The slug it ends up running once `promote_from` chains are followed.
    pub slug: String,
    /// Who promotes it, for an app with `promote_from` (None for one that runs a slug).
    pub promote: Option<PromoteMode>,
    /// The pipeline it belongs to, if any.
    pub pipeline: Option<String>,
    /// Its pipeline stage, if any.
    pub stage: Option<Stage>,
    /// Whether slugplan may create the app when the platform lacks it.
    pub create: bool,
    /// The config vars slugplan manages on the app, as written; None when the app has no
    /// config step (it declares none, and slugplan manages none of its keys).
    pub config: Option<BTreeMap<String, DesiredVar>>,
    /// The formation of each process type the app declares.
    pub formation: BTreeMap<String, DesiredFormation>,
}

/// A config var as the manifest writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredVar {
    /// The value with its `${VAR}` references unexpanded.
    pub template: String,
    /// Whether the manifest marks it sensitive (`sensitive = true`).
    pub marked_sensitive: bool,
    /// Where the value is written in the manifest (`apps.<app>.config.<key>[.value]`).
    pub path: Vec<String>,
}

/// How many dynos of one process type an app runs, and of what size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFormation {
    /// The dyno count.
    pub quantity: u32,
    /// The size in Heroku's spelling; None leaves it as the platform has it.
    pub size: Option<String>,
}

/// One slug of the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSlug {
    /// The slug's name.
    pub name: String,
    /// The stack it is built for.
    pub stack: String,
    /// The runtimes it contains.
    pub runtimes: Vec<String>,
    /// Whether it has a Go build.
    pub go: bool,
    /// The app whose platform record the archive is uploaded through: the first app, by name,
    /// that runs the slug directly. Every other app gets the same slug id released to it.
    pub upload_via: Option<String>,
}

/// Everything the manifest asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    /// Runtimes needed by the slugs that some app runs.
    pub runtimes: BTreeSet<String>,
    /// Slugs, by name (all of the manifest's, even those no app runs).
    pub slugs: BTreeMap<String, DesiredSlug>,
    /// Apps, by name.
    pub apps: BTreeMap<String, DesiredApp>,
}

impl DesiredState {
    /// Resolves the manifest. The manifest has been validated (no unknown references, no
    /// promotion cycles), so resolution cannot fail; a chain that is somehow broken resolves to
    /// nothing and the app is left out rather than looping.
    pub fn from_manifest(loaded: &LoadedManifest) -> Self {
        let manifest = &loaded.manifest;
        let create_default = manifest.platform.kind == PlatformKind::Local;
        let mut apps = BTreeMap::new();
        for (name, spec) in &manifest.apps {
            let Some(slug) = manifest.slug_of(name).map(str::to_owned) else {
                continue;
            };
            let source = match (&spec.slug, &spec.promote_from) {
                (Some(slug), _) => AppSource::Slug(slug.clone()),
                (None, Some(from)) => AppSource::PromoteFrom(from.clone()),
                (None, None) => continue,
            };
            let config = (!spec.config.is_empty()).then(|| {
                spec.config
                    .iter()
                    .map(|(key, var)| {
                        let mut path = vec!["apps".to_owned(), name.clone(), "config".to_owned()];
                        path.push(key.clone());
                        path.extend(var.value_path().map(str::to_owned));
                        let desired = DesiredVar {
                            template: var.template().to_owned(),
                            marked_sensitive: var.marked_sensitive(),
                            path,
                        };
                        (key.clone(), desired)
                    })
                    .collect()
            });
            let formation = spec
                .formation
                .iter()
                .map(|(process, spec)| {
                    let size = spec.size().map(|size| {
                        // Validated: a Cedar size. Heroku's spelling, so plans compare alike.
                        dyno::canonical(Generation::Cedar, size)
                            .map_or(size.to_owned(), str::to_owned)
                    });
                    let desired = DesiredFormation {
                        quantity: spec.quantity(),
                        size,
                    };
                    (process.clone(), desired)
                })
                .collect();
            apps.insert(
                name.clone(),
                DesiredApp {
                    name: name.clone(),
                    promote: matches!(source, AppSource::PromoteFrom(_))
                        .then(|| spec.promote.unwrap_or_default()),
                    source,
                    slug,
                    pipeline: spec.pipeline.clone(),
                    stage: spec.stage,
                    create: spec.create.unwrap_or(create_default),
                    config,
                    formation,
                },
            );
        }
        let mut slugs = BTreeMap::new();
        let mut runtimes = BTreeSet::new();
        for (name, spec) in &manifest.slugs {
            let upload_via = apps
                .values()
                .find(|app| app.source == AppSource::Slug(name.clone()))
                .map(|app| app.name.clone());
            if apps.values().any(|app| &app.slug == name) {
                runtimes.extend(spec.runtimes.iter().cloned());
            }
            slugs.insert(
                name.clone(),
                DesiredSlug {
                    name: name.clone(),
                    stack: spec.stack.clone(),
                    runtimes: spec.runtimes.clone(),
                    go: spec.go.is_some(),
                    upload_via,
                },
            );
        }
        DesiredState {
            runtimes,
            slugs,
            apps,
        }
    }

    /// Whether `app` is promoted by hand (`promote = "manual"`, the default for an app with
    /// `promote_from`): apply leaves it to `slugplan promote`.
    pub fn promoted_by_hand(&self, app: &str) -> bool {
        self.apps
            .get(app)
            .is_some_and(|a| a.promote == Some(PromoteMode::Manual))
    }

    /// The slugs some app runs, by name.
    pub fn deployed_slugs(&self) -> BTreeSet<&str> {
        self.apps.values().map(|app| app.slug.as_str()).collect()
    }

    /// Gives a config step to each app of `apps` (those whose keys slugplan manages, per its
    /// state) that declares no config vars any more, so the keys slugplan set earlier are
    /// unset; returns whether any app got one (the step graph must then be built again).
    pub fn manage_config_of<'a>(&mut self, apps: impl IntoIterator<Item = &'a str>) -> bool {
        let mut added = false;
        for name in apps {
            if let Some(app) = self.apps.get_mut(name)
                && app.config.is_none()
            {
                app.config = Some(BTreeMap::new());
                added = true;
            }
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn loaded(toml_text: &str) -> LoadedManifest {
        LoadedManifest {
            path: "slug.toml".into(),
            dir: ".".into(),
            text: toml_text.to_owned(),
            manifest: toml::from_str::<Manifest>(toml_text).unwrap(),
        }
    }

    #[test]
    fn promotion_chains_resolve_to_the_source_slug() {
        let desired = DesiredState::from_manifest(&loaded(
            r#"
            [slugs.web]
            [apps.web-staging]
            slug = "web"
            [apps.web-prod-eu]
            promote_from = "web-staging"
            [apps.web-prod-us]
            promote_from = "web-prod-eu"
            "#,
        ));
        assert_eq!(desired.apps["web-prod-us"].slug, "web");
        assert_eq!(
            desired.apps["web-prod-us"].source,
            AppSource::PromoteFrom("web-prod-eu".into())
        );
        assert_eq!(
            desired.slugs["web"].upload_via.as_deref(),
            Some("web-staging")
        );
        assert!(desired.promoted_by_hand("web-prod-us"), "manual by default");
        assert!(!desired.promoted_by_hand("web-staging"), "runs a slug");
    }

    #[test]
    fn auto_promotion_is_chosen_per_app() {
        let desired = DesiredState::from_manifest(&loaded(
            r#"
            [slugs.web]
            [apps.web-staging]
            slug = "web"
            [apps.web-prod]
            promote_from = "web-staging"
            promote = "auto"
            "#,
        ));
        assert_eq!(desired.apps["web-prod"].promote, Some(PromoteMode::Auto));
        assert!(!desired.promoted_by_hand("web-prod"));
    }

    #[test]
    fn runtimes_of_slugs_no_app_runs_are_not_needed() {
        let desired = DesiredState::from_manifest(&loaded(
            r#"
            [runtimes.node]
            path = "node"
            [runtimes.ruby]
            path = "ruby"
            [slugs.web]
            runtimes = ["node"]
            [slugs.worker]
            runtimes = ["ruby"]
            [apps.web-staging]
            slug = "web"
            "#,
        ));
        assert_eq!(desired.runtimes, BTreeSet::from(["node".to_owned()]));
        assert_eq!(desired.slugs["worker"].upload_via, None);
        assert!(
            desired.apps["web-staging"].create,
            "local platform creates apps"
        );
    }
}
