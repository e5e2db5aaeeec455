//! Unit tests of the diff: each decision rule, without a platform.

use super::*;
use crate::desired::DesiredState;
use crate::manifest::{LoadedManifest, Manifest};
use crate::platform::{Release, ReleaseStatus, Slug};

const C1: &str = "SHA256:1111111111111111111111111111111111111111111111111111111111111111";
const C2: &str = "SHA256:2222222222222222222222222222222222222222222222222222222222222222";

struct Fixture {
    desired: DesiredState,
    graph: StepGraph,
    slugs: BTreeMap<String, SlugFacts>,
    observed: BTreeMap<String, ObservedApp>,
    uploads: BTreeMap<String, RecordedUpload>,
    ours: BTreeSet<String>,
}

impl Fixture {
    fn new(manifest: &str, checksum: Option<&str>) -> Self {
        let loaded = LoadedManifest {
            path: "slug.toml".into(),
            dir: ".".into(),
            text: manifest.to_owned(),
            manifest: toml::from_str::<Manifest>(manifest).unwrap(),
        };
        let desired = DesiredState::from_manifest(&loaded);
        let graph = StepGraph::build(&desired).unwrap();
        let slugs = desired
            .slugs
            .keys()
            .map(|name| {
                let facts = SlugFacts {
                    checksum: checksum.map(str::to_owned),
                    stack: "heroku-24".into(),
                    process_types: web("node web.js"),
                    built_now: true,
                    go_built_now: false,
                    build_reason: "first build".into(),
                };
                (name.clone(), facts)
            })
            .collect();
        Fixture {
            desired,
            graph,
            slugs,
            observed: BTreeMap::new(),
            uploads: BTreeMap::new(),
            ours: BTreeSet::new(),
        }
    }

    fn runs(&mut self, app: &str, release_id: &str, checksum: &str, process_types: &str) {
        self.observed.insert(
            app.into(),
            ObservedApp {
                exists: true,
                running: Some(Release {
                    id: release_id.into(),
                    version: 3,
                    status: ReleaseStatus::Succeeded,
                    current: true,
                    slug_id: Some(format!("slug-{release_id}")),
                    description: "Deployed by hand".into(),
                    created_at: "2026-11-25T10:00:00Z".into(),
                }),
                slug: Some(Slug {
                    id: format!("slug-{release_id}"),
                    checksum: Some(checksum.into()),
                    process_types: web(process_types),
                    size: Some(10),
                    stack: "heroku-24".into(),
                    commit: None,
                }),
            },
        );
    }

    fn plan(&self) -> Plan {
        diff(DiffInput {
            graph: &self.graph,
            desired: &self.desired,
            slugs: &self.slugs,
            fetched: &BTreeSet::new(),
            observed: &self.observed,
            pipelines: &ObservedPipelines::default(),
            uploads: &self.uploads,
            ours: &self.ours,
            platform: "local",
            manifest_sha256: "m",
        })
        .unwrap()
    }
}

fn web(command: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("web".to_owned(), command.to_owned())])
}

fn action(plan: &Plan, address: &str) -> Action {
    plan.step(&crate::graph::Address(address.into()))
        .unwrap_or_else(|| panic!("no step {address}"))
        .action
}

const STAGING_AND_PROD: &str = r#"
    [slugs.web]
    [apps.web-staging]
    slug = "web"
    [apps.web-prod]
    promote_from = "web-staging"
"#;

#[test]
fn a_fresh_platform_gets_everything() {
    let plan = Fixture::new(STAGING_AND_PROD, Some(C1)).plan();
    assert_eq!(action(&plan, "app.web-staging"), Action::Create);
    assert_eq!(action(&plan, "slug.web@heroku-24"), Action::Build);
    assert_eq!(action(&plan, "upload.web→web-staging"), Action::Upload);
    assert_eq!(action(&plan, "release.web-staging"), Action::Release);
    assert_eq!(action(&plan, "promote.web-prod"), Action::Promote);
    assert_eq!(
        plan.summary,
        Summary {
            create: 2,
            build: 1,
            upload: 1,
            release: 2,
            unchanged: 0,
            couple: 0,
        }
    );
}

#[test]
fn apps_running_the_declared_slug_are_unchanged() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C1));
    f.slugs.get_mut("web").unwrap().built_now = false;
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C1, "node web.js");
    f.ours.extend(["r1".to_owned(), "r2".to_owned()]);
    let plan = f.plan();
    assert!(plan.summary.is_empty(), "{:?}", plan.summary);
    assert_eq!(plan.changes().count(), 0);
    assert!(plan.drift.is_empty());
    assert_eq!(plan.fingerprint["web-prod"].as_deref(), Some("r2"));
}

#[test]
fn changed_process_types_need_a_new_slug_record() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C1));
    f.runs("web-staging", "r1", C1, "node old.js");
    f.runs("web-prod", "r2", C1, "node old.js");
    let plan = f.plan();
    assert_eq!(action(&plan, "upload.web→web-staging"), Action::Upload);
    let release = plan
        .step(&crate::graph::Address("release.web-staging".into()))
        .unwrap();
    assert_eq!(release.reason, "process types differ: web changed");
}

#[test]
fn a_slug_another_app_runs_is_released_by_id_without_upload() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C2));
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C2, "node web.js");
    let plan = f.plan();
    assert_eq!(action(&plan, "upload.web→web-staging"), Action::NoOp);
    let release = plan
        .step(&crate::graph::Address("release.web-staging".into()))
        .unwrap();
    assert_eq!(release.action, Action::Release);
    assert_eq!(release.slug_id.as_deref(), Some("slug-r2"));
    assert_eq!(action(&plan, "promote.web-prod"), Action::NoOp);
    assert_eq!(plan.summary.upload, 0);
}

#[test]
fn a_recorded_upload_is_reused_after_an_interrupted_apply() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C2));
    f.uploads.insert(
        "web".into(),
        RecordedUpload {
            slug_id: "slug-uploaded".into(),
            app: "web-staging".into(),
        },
    );
    let plan = f.plan();
    assert_eq!(action(&plan, "upload.web→web-staging"), Action::NoOp);
    let release = plan
        .step(&crate::graph::Address("release.web-staging".into()))
        .unwrap();
    assert_eq!(release.slug_id.as_deref(), Some("slug-uploaded"));
}

#[test]
fn one_slug_for_three_apps_is_one_upload_and_three_releases() {
    let plan = Fixture::new(
        r#"
        [slugs.web]
        [apps.web-a]
        slug = "web"
        [apps.web-b]
        slug = "web"
        [apps.web-c]
        slug = "web"
        "#,
        Some(C1),
    )
    .plan();
    assert_eq!(plan.summary.build, 1);
    assert_eq!(plan.summary.upload, 1);
    assert_eq!(plan.summary.release, 3);
}

#[test]
fn releases_made_outside_slugplan_are_drift() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C1));
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C2, "node web.js");
    f.ours.insert("r1".into());
    let plan = f.plan();
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.drift[0].app, "web-prod");
    assert_eq!(plan.drift[0].checksum.as_deref(), Some(C2));
    assert!(plan.drift[0].corrected);
    assert_eq!(action(&plan, "promote.web-prod"), Action::Promote);
}

#[test]
fn unknown_checksums_are_planned_as_builds() {
    let mut f = Fixture::new(STAGING_AND_PROD, None);
    f.runs("web-staging", "r1", C1, "node web.js");
    let plan = f.plan();
    let slug = plan
        .step(&crate::graph::Address("slug.web@heroku-24".into()))
        .unwrap();
    assert_eq!(slug.action, Action::Build);
    assert_eq!(slug.after, None);
    assert_eq!(action(&plan, "release.web-staging"), Action::Release);
}

#[test]
fn a_missing_app_that_may_not_be_created_is_an_error() {
    let f = Fixture::new(
        r#"
        [platform]
        kind = "heroku"
        [slugs.web]
        [apps.web-staging]
        slug = "web"
        "#,
        Some(C1),
    );
    let err = diff(DiffInput {
        graph: &f.graph,
        desired: &f.desired,
        slugs: &f.slugs,
        fetched: &BTreeSet::new(),
        observed: &f.observed,
        pipelines: &ObservedPipelines::default(),
        uploads: &f.uploads,
        ours: &f.ours,
        platform: "https://api.heroku.com",
        manifest_sha256: "m",
    })
    .unwrap_err();
    assert!(err.to_string().contains("web-staging"), "{err}");
}

/// The promotion checks that run on a diffed plan (`plan::promotion::check`).
mod promotion_checks {
    use super::*;
    use crate::graph::Address;
    use crate::plan::promotion::{PromotionPlanError, check, downgrades};
    use crate::platform::{App, Generation};
    use crate::release::Refusal;

    fn apps(prod: Generation) -> BTreeMap<String, App> {
        let app = |id: &str, name: &str, generation| App {
            id: id.into(),
            name: name.into(),
            stack: "heroku-24".into(),
            generation,
        };
        BTreeMap::from([
            (
                "web-staging".into(),
                app("a1", "web-staging", Generation::Cedar),
            ),
            ("web-prod".into(), app("a2", "web-prod", prod)),
        ])
    }

    /// Staging runs C1 (nothing to do); web-prod runs C2, released at `prod_at`.
    fn fixture(prod_at: &str) -> Fixture {
        let mut f = Fixture::new(STAGING_AND_PROD, Some(C1));
        f.slugs.get_mut("web").unwrap().built_now = false;
        f.runs("web-staging", "r1", C1, "node web.js");
        f.runs("web-prod", "r2", C2, "node web.js");
        let prod = f.observed.get_mut("web-prod").unwrap();
        prod.running.as_mut().unwrap().created_at = prod_at.into();
        f
    }

    #[test]
    fn a_target_newer_than_its_source_is_a_downgrade_reported_as_drift() {
        let f = fixture("2026-11-25T11:00:00Z");
        let mut plan = f.plan();
        check(&mut plan, &f.desired, &f.observed, &apps(Generation::Cedar)).unwrap();
        let address = Address("promote.web-prod".into());
        let detail = plan.step(&address).unwrap().promotion.clone().unwrap();
        assert_eq!(detail.source, "web-staging");
        assert_eq!(detail.source_version, Some(3));
        assert!(!detail.source_planned);
        assert_eq!(detail.source_checksum.as_deref(), Some(C1));
        assert_eq!(detail.target_checksum.as_deref(), Some(C2));
        assert!(detail.downgrade);
        assert_eq!(downgrades(&plan), [&address]);
        let drift = plan.drift.iter().find(|d| d.app == "web-prod").unwrap();
        assert_eq!(
            drift.newer_than_source.as_deref(),
            Some("newer than web-staging's v3")
        );
    }

    #[test]
    fn an_older_target_is_promoted_and_a_fir_target_refused() {
        let f = fixture("2026-11-25T09:00:00Z");
        let mut plan = f.plan();
        check(&mut plan, &f.desired, &f.observed, &apps(Generation::Cedar)).unwrap();
        assert!(downgrades(&plan).is_empty());
        assert!(plan.drift.iter().all(|d| d.newer_than_source.is_none()));

        let mut plan = f.plan();
        let err = check(&mut plan, &f.desired, &f.observed, &apps(Generation::Fir)).unwrap_err();
        let PromotionPlanError::Refused { refusals } = err else {
            panic!("expected a refusal, got {err:?}");
        };
        assert_eq!(
            refusals,
            [Refusal::Fir {
                app: "web-prod".into()
            }]
        );
    }
}
