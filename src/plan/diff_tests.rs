//! Unit tests of the diff: each decision rule, without a platform.

use super::*;
use crate::desired::DesiredState;
use crate::graph::Address;
use crate::manifest::{LoadedManifest, Manifest};
use crate::plan::{Behind, RolledBack};
use crate::platform::{Release, ReleaseStatus, Slug};
use crate::state::RecordedRollback;

const C1: &str = "SHA256:1111111111111111111111111111111111111111111111111111111111111111";
const C2: &str = "SHA256:2222222222222222222222222222222222222222222222222222222222222222";

struct Fixture {
    desired: DesiredState,
    graph: StepGraph,
    slugs: BTreeMap<String, SlugFacts>,
    observed: BTreeMap<String, ObservedApp>,
    uploads: BTreeMap<String, RecordedUpload>,
    ours: BTreeSet<String>,
    rollbacks: Rollbacks,
    targeting: Option<Targeting>,
    undeclared: BTreeMap<String, ObservedApp>,
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
                    checksum: checksum.map(|c| Checksum::parse(c).unwrap()),
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
            rollbacks: Rollbacks::new(),
            targeting: None,
            undeclared: BTreeMap::new(),
        }
    }

    /// Release `release_id` is a rollback slugplan made, back to v1.
    fn rolled_back(&mut self, release_id: &str) {
        let to = RecordedRollback {
            version: 1,
            created_at: "2026-11-25T08:00:00Z".into(),
        };
        self.rollbacks.insert(release_id.into(), to);
    }

    /// `--target` for `targets`, as `plan` resolves it.
    fn target(&mut self, targets: &[&str]) {
        let targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
        self.targeting = Some(self.graph.targeting(&targets).unwrap());
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
        let mut plan = diff(DiffInput {
            graph: &self.graph,
            desired: &self.desired,
            slugs: &self.slugs,
            fetched: &BTreeSet::new(),
            observed: &self.observed,
            pipelines: &ObservedPipelines::default(),
            uploads: &self.uploads,
            ours: &self.ours,
            rollbacks: &self.rollbacks,
            targeting: self.targeting.as_ref(),
            undeclared: &self.undeclared,
            platform: "local",
            manifest_sha256: "m",
            apps: AppFacts::none(),
        })
        .unwrap();
        if let Some(targeting) = &self.targeting {
            plan.retain(targeting);
        }
        plan
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
    promote = "auto"
"#;

/// The same, promoted by hand (the default).
const STAGING_AND_MANUAL_PROD: &str = r#"
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
            ..Summary::default()
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
        rollbacks: &f.rollbacks,
        targeting: None,
        undeclared: &f.undeclared,
        platform: "https://api.heroku.com",
        manifest_sha256: "m",
        apps: AppFacts::none(),
    })
    .unwrap_err();
    assert!(err.to_string().contains("web-staging"), "{err}");
}

fn step<'p>(plan: &'p Plan, address: &str) -> &'p PlannedStep {
    plan.step(&Address(address.into()))
        .unwrap_or_else(|| panic!("no step {address}"))
}

#[test]
fn a_manual_promotion_is_reported_behind_and_never_planned() {
    // Staging gets C2 in this apply; prod runs C1 and waits for `slugplan promote`.
    let mut f = Fixture::new(STAGING_AND_MANUAL_PROD, Some(C2));
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C1, "node web.js");
    let plan = f.plan();
    assert_eq!(action(&plan, "release.web-staging"), Action::Release);
    let prod = step(&plan, "promote.web-prod");
    assert_eq!(prod.action, Action::NoOp);
    assert_eq!(
        prod.reason,
        "runs SHA256:1111111111111111111111111111111111111111111111111111111111111111 (v3), declared SHA256:2222222222222222222222222222222222222222222222222222222222222222; promote = \"manual\": \
         `slugplan promote web-staging` promotes it"
    );
    assert_eq!(
        plan.behind,
        [Behind {
            app: "web-prod".into(),
            source: "web-staging".into(),
            checksum: Some(C1.into()),
            source_checksum: Some(C2.into()),
            source_planned: true,
        }]
    );
    assert_eq!((plan.summary.release, plan.summary.unchanged), (1, 1));

    // Once staging runs C2, prod is behind what staging runs now; no change is pending.
    f.runs("web-staging", "r1", C2, "node web.js");
    f.slugs.get_mut("web").unwrap().built_now = false;
    let plan = f.plan();
    assert!(plan.summary.is_empty(), "{:?}", plan.summary);
    assert_eq!(plan.behind.len(), 1);
    assert!(!plan.behind[0].source_planned);

    // And when prod runs it, nothing is behind.
    f.runs("web-prod", "r2", C2, "node web.js");
    assert!(f.plan().behind.is_empty());
}

#[test]
fn naming_a_manual_promotion_with_target_promotes_what_the_source_runs_now() {
    // Staging runs C1 and declares C2; prod runs C2.
    let mut f = Fixture::new(STAGING_AND_MANUAL_PROD, Some(C2));
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C2, "node web.js");
    f.target(&["web-prod"]);
    let plan = f.plan();
    // Only the promotion (and its app) is kept; staging is not released first.
    let kept: Vec<&str> = plan.steps.iter().map(|s| s.address.0.as_str()).collect();
    assert_eq!(kept, ["app.web-prod", "promote.web-prod"]);
    let prod = step(&plan, "promote.web-prod");
    assert_eq!(
        prod.action,
        Action::Promote,
        "named: the gate is passed by hand"
    );
    assert_eq!(
        prod.reason,
        "runs SHA256:2222222222222222222222222222222222222222222222222222222222222222 (v3), web-staging runs SHA256:1111111111111111111111111111111111111111111111111111111111111111 (v3); \
         promoted from web-staging"
    );
    assert_eq!(prod.after.as_deref(), Some(C1));
    assert!(plan.behind.is_empty());
    let note = plan.targeting.as_ref().unwrap();
    assert_eq!(note.named, [Address("promote.web-prod".into())]);
    assert!(note.added.is_empty(), "{:?}", note.added);
}

#[test]
fn a_targeted_auto_promotion_compares_with_what_the_source_runs_now() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C2));
    f.runs("web-staging", "r1", C1, "node web.js");
    f.runs("web-prod", "r2", C1, "node web.js");
    f.target(&["web-prod"]);
    let plan = f.plan();
    let prod = step(&plan, "promote.web-prod");
    assert_eq!(prod.action, Action::NoOp, "prod runs what staging runs");
    assert_eq!(prod.reason, "runs what web-staging runs");
    assert!(plan.step(&Address("release.web-staging".into())).is_none());

    // Naming staging too releases it first, and the promotion follows it.
    f.target(&["web-prod", "web-staging"]);
    let plan = f.plan();
    assert_eq!(action(&plan, "release.web-staging"), Action::Release);
    assert_eq!(action(&plan, "promote.web-prod"), Action::Promote);
    assert_eq!(step(&plan, "promote.web-prod").after.as_deref(), Some(C2));
    let note = plan.targeting.as_ref().unwrap();
    assert_eq!(
        note.added,
        [
            Address("slug.web@heroku-24".into()),
            Address("upload.web→web-staging".into())
        ]
    );
}

#[test]
fn a_rollback_slugplan_made_is_an_older_release_than_declared_not_drift() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C2));
    f.slugs.get_mut("web").unwrap().built_now = false;
    f.runs("web-staging", "r1", C2, "node web.js");
    f.runs("web-prod", "r2", C1, "node web.js");
    f.ours.extend(["r1".to_owned(), "r2".to_owned()]);
    f.rolled_back("r2");
    let plan = f.plan();
    assert!(plan.drift.is_empty(), "{:?}", plan.drift);
    assert_eq!(
        plan.rolled_back,
        [RolledBack {
            app: "web-prod".into(),
            version: 3,
            rolled_back_to: 1,
            checksum: Some(C1.into()),
            declared: Some(C2.into()),
            corrected: true,
        }]
    );
    let prod = step(&plan, "promote.web-prod");
    assert_eq!(prod.action, Action::Promote, "the next apply re-promotes");
    assert_eq!(
        prod.reason,
        "runs SHA256:1111111111111111111111111111111111111111111111111111111111111111 (v3, a rollback to v1), an older release than declared \
         SHA256:2222222222222222222222222222222222222222222222222222222222222222; promoted from web-staging"
    );
}

#[test]
fn apps_slugplan_deployed_and_no_longer_declares_are_listed_not_changed() {
    let mut f = Fixture::new(STAGING_AND_PROD, Some(C1));
    f.runs("web-old", "r9", C2, "node web.js");
    let old = f.observed.remove("web-old").unwrap();
    f.undeclared.insert("web-old".into(), old);
    // One slugplan remembers but someone deleted since: nothing to say.
    f.undeclared
        .insert("web-gone".into(), ObservedApp::default());
    let plan = f.plan();
    assert_eq!(
        plan.undeclared,
        [Undeclared {
            app: "web-old".into(),
            version: Some(3),
            checksum: Some(C2.into()),
        }]
    );
    assert!(
        plan.steps.iter().all(|s| s.step.app() != Some("web-old")),
        "left running: no step touches it"
    );
    assert!(!plan.fingerprint.contains_key("web-old"));
}

/// The promotion checks that run on a diffed plan (`plan::promotion::check`).
mod promotion_checks {
    use super::*;
    use crate::graph::Address;
    use crate::plan::promotion::{PromotionPlanError, apps_to_date, check, downgrades};
    use crate::platform::{App, Generation};
    use crate::release::Refusal;

    fn apps(prod: Generation) -> BTreeMap<String, App> {
        let app = |id: &str, name: &str, generation| App {
            id: id.into(),
            name: name.into(),
            stack: "heroku-24".into(),
            generation,
            web_url: None,
        };
        BTreeMap::from([
            (
                "web-staging".into(),
                app("a1", "web-staging", Generation::Cedar),
            ),
            ("web-prod".into(), app("a2", "web-prod", prod)),
        ])
    }

    impl Fixture {
        /// The promotion checks on `plan`, web-prod being of `generation`.
        fn check(&self, plan: &mut Plan, generation: Generation) -> Result<(), PromotionPlanError> {
            check(
                plan,
                &self.desired,
                &self.observed,
                &apps(generation),
                &self.rollbacks,
                &BTreeMap::new(),
            )
        }
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
        f.check(&mut plan, Generation::Cedar).unwrap();
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
    fn a_target_rolled_back_by_slugplan_is_no_downgrade() {
        let mut f = fixture("2026-11-25T11:00:00Z");
        f.rolled_back("r2");
        let mut plan = f.plan();
        f.check(&mut plan, Generation::Cedar).unwrap();
        assert!(downgrades(&plan).is_empty());
        assert!(plan.drift.iter().all(|d| d.newer_than_source.is_none()));
    }

    #[test]
    fn a_target_newer_only_by_a_config_change_is_no_downgrade() {
        let f = fixture("2026-11-25T11:00:00Z");
        let mut plan = f.plan();
        let suspects: Vec<String> = apps_to_date(&plan, &f.observed, &f.rollbacks)
            .into_iter()
            .collect();
        assert_eq!(suspects, ["web-prod", "web-staging"]);
        // web-prod's newest release only changed its config: its slug went live earlier than
        // staging's.
        let mut went_live = f.observed["web-prod"].running.clone().unwrap();
        went_live.created_at = "2026-11-25T09:00:00Z".into();
        let live = BTreeMap::from([("web-prod".to_owned(), went_live)]);
        let apps = apps(Generation::Cedar);
        check(
            &mut plan,
            &f.desired,
            &f.observed,
            &apps,
            &f.rollbacks,
            &live,
        )
        .unwrap();
        assert!(downgrades(&plan).is_empty());
    }

    #[test]
    fn an_older_target_is_promoted_and_a_fir_target_refused() {
        let f = fixture("2026-11-25T09:00:00Z");
        let mut plan = f.plan();
        f.check(&mut plan, Generation::Cedar).unwrap();
        assert!(downgrades(&plan).is_empty());
        assert!(plan.drift.iter().all(|d| d.newer_than_source.is_none()));

        let mut plan = f.plan();
        let err = f.check(&mut plan, Generation::Fir).unwrap_err();
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
