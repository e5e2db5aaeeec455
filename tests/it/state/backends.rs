//! The two backends behind one trait answer alike: a state copied from SQLite into PostgreSQL
//! reads back row for row, every question of the `State` trait gets the same answer from both
//! (before and after the same forgetting), and a second workspace in the same database sees
//! none of it.

use std::collections::{BTreeMap, BTreeSet};

use slugplan::build::key::SlugKey;
use slugplan::state::postgres::PostgresState;
use slugplan::state::sqlite::SqliteState;
use slugplan::state::{
    DatabaseUrl, MadeReleases, RecordedRollback, RecordedUpload, SlugIdentity, StartedRelease,
    State,
};

use crate::common::postgres::PgCluster;
use crate::common::server::block_on;

fn web() -> BTreeMap<String, String> {
    BTreeMap::from([("web".to_owned(), "node web.js".to_owned())])
}

fn worker() -> BTreeMap<String, String> {
    BTreeMap::from([("worker".to_owned(), "node worker.js".to_owned())])
}

fn slug<'a>(checksum: &'a str, process_types: &'a BTreeMap<String, String>) -> SlugIdentity<'a> {
    SlugIdentity {
        checksum,
        stack: "heroku-24",
        process_types,
    }
}

/// Records one of everything in `state`.
async fn fill(state: &dyn State) {
    let (web, worker) = (web(), worker());
    for (checksum, types, slug_id, app) in [
        ("SHA256:aa", &web, "s-1", "web-prod"),
        ("SHA256:bb", &worker, "s-2", "web-eu"),
    ] {
        let upload = RecordedUpload {
            slug_id: slug_id.into(),
            app: app.into(),
        };
        state
            .record_upload("p", slug(checksum, types), &upload)
            .await
            .unwrap();
    }
    let key = SlugKey {
        key: "ab".repeat(32),
        parts: BTreeMap::from([("app".to_owned(), "cd".repeat(32))]),
    };
    state.record_slug_key("web", &key).await.unwrap();
    state
        .record_release("p", "web-prod", "r1", 1, Some("SHA256:aa"))
        .await
        .unwrap();
    let back = RecordedRollback {
        version: 1,
        created_at: "2026-11-25T10:00:00Z".into(),
    };
    state
        .record_rollback("p", "web-prod", "r3", 3, Some("SHA256:aa"), &back)
        .await
        .unwrap();
    state
        .record_release("p", "web-eu", "e1", 1, None)
        .await
        .unwrap();
    for (id, targets) in [("promo-1", ["eu", "us"]), ("promo-2", ["us", "ap"])] {
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        state
            .record_promotion("p", id, "r1", &targets)
            .await
            .unwrap();
    }
    let value_key = state.value_key().await.unwrap();
    let keys = BTreeMap::from([("GREETING".to_owned(), false), ("TOKEN".to_owned(), true)]);
    state.manage_config("p", "web-prod", &keys).await.unwrap();
    let set = BTreeMap::from([(
        "TOKEN".to_owned(),
        value_key.digest("web-prod", "TOKEN", "hunter2"),
    )]);
    let unset = BTreeSet::from(["GREETING".to_owned()]);
    state
        .record_config("p", "web-prod", &set, &unset)
        .await
        .unwrap();
    let apply = state.begin_apply("slugplan apply", "p", "m").await.unwrap();
    state
        .record_event(apply, "release.web-prod", "release", "done", "v1")
        .await
        .unwrap();
    state.finish_apply(apply, "succeeded").await.unwrap();
}

/// What `state` answers about what [`fill`] recorded: every question of the trait but the
/// lock's and the copy's (tested on their own).
async fn answers(state: &dyn State) -> String {
    let (web, worker) = (web(), worker());
    let uploads = state
        .find_uploads(
            "p",
            &[
                slug("SHA256:aa", &web),
                slug("SHA256:bb", &worker),
                // Same checksum, other process types: another slug.
                slug("SHA256:aa", &worker),
                slug("SHA256:cc", &web),
            ],
        )
        .await
        .unwrap();
    let one = state
        .find_upload("p", slug("SHA256:bb", &worker))
        .await
        .unwrap();
    let elsewhere = state
        .find_upload("q", slug("SHA256:aa", &web))
        .await
        .unwrap();
    let key_hashes = state.slug_key_hashes(&["web", "api"]).await.unwrap();
    let key = state.slug_key("web").await.unwrap();
    let rollback = state.rollback("p", "r3").await.unwrap();
    // Numbers, commands and outcomes: the copy keeps the times, later applies have their own.
    let history: Vec<_> = state
        .history(10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.command, a.outcome, a.events.len()))
        .collect();
    let made: MadeReleases = state
        .made_releases("p", &["r1", "r3", "e1", "nope"])
        .await
        .unwrap();
    let promotions = state.promotions_of("p", "r1").await.unwrap();
    let deployed: BTreeSet<String> = state.deployed_apps("p").await.unwrap();
    let managed = state
        .managed_config("p", &["web-prod", "web-eu"])
        .await
        .unwrap();
    let with_config = state.apps_with_managed_config("p").await.unwrap();
    let value_key = state.value_key().await.unwrap().to_hex();
    format!(
        "{uploads:?}\n{one:?}\n{elsewhere:?}\n{key_hashes:?}\n{key:?}\n{rollback:?}\n{history:?}\n\
         {made:?}\n{promotions:?}\n{deployed:?}\n{managed:?}\n{with_config:?}\n{value_key}"
    )
}

#[test]
fn a_copy_into_postgres_reads_back_and_answers_as_sqlite_does() {
    let cluster = PgCluster::shared();
    let database = cluster.database();
    let url = DatabaseUrl::parse(&cluster.url(&database, "sslmode=disable")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let local = SqliteState::open(dir.path()).unwrap();
        let shared = PostgresState::open(&url, "shop").await.unwrap();
        let other = PostgresState::open(&url, "another-manifest").await.unwrap();
        fill(&local).await;
        let snapshot = local.export().await.unwrap();
        shared.import(&snapshot, false).await.unwrap();
        assert_eq!(shared.export().await.unwrap(), snapshot, "row for row");
        let answered = answers(&shared).await;
        assert_eq!(answered, answers(&local).await);
        assert!(
            answered.starts_with(
                "[Some(RecordedUpload { slug_id: \"s-1\", app: \"web-prod\" }), \
                 Some(RecordedUpload { slug_id: \"s-2\", app: \"web-eu\" }), None, None]\n\
                 Some(RecordedUpload { slug_id: \"s-2\", app: \"web-eu\" })\nNone\n"
            ),
            "{answered}"
        );
        assert!(
            answers(&local)
                .await
                .contains("\"r3\": Some(RecordedRollback")
        );

        // Numbering goes on after the copy's applies, in each backend alike.
        let next = shared
            .begin_apply("slugplan apply", "p", "m")
            .await
            .unwrap();
        assert_eq!(
            next,
            local.begin_apply("slugplan apply", "p", "m").await.unwrap()
        );

        // Another workspace of the same database shares nothing.
        assert!(other.deployed_apps("p").await.unwrap().is_empty());
        assert!(
            other
                .apps_with_managed_config("p")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(other.history(10).await.unwrap().is_empty());
        assert!(
            other.export().await.unwrap().counts().is_empty(),
            "its own value key only"
        );

        for state in [&local as &dyn State, &shared] {
            state.forget_upload("p", "s-2").await.unwrap();
            state.forget_app("p", "web-prod").await.unwrap();
        }
        assert!(
            answers(&shared)
                .await
                .starts_with("[None, None, None, None]\nNone\nNone\n")
        );
        assert_eq!(answers(&shared).await, answers(&local).await);
        assert_eq!(
            shared.deployed_apps("p").await.unwrap(),
            BTreeSet::from(["web-eu".to_owned()])
        );
        assert_eq!(
            shared.export().await.unwrap().uploads,
            [],
            "the uploads made through it went with it"
        );
    });
}

/// What `state` answers about started releases through their life: recorded before the
/// request, cleared for an app once a release of it is recorded (a rollback too) or it is
/// forgotten, never for another app or workspace.
async fn started_life(state: &dyn State, other: &dyn State) -> Vec<String> {
    let started = |app: &str, slug: &str, description: &str| StartedRelease {
        app: app.into(),
        slug_id: slug.into(),
        description: description.into(),
    };
    let apps = ["web-eu", "web-us", "web-ap"];
    let mut seen = Vec::new();
    let mut look = async |state: &dyn State| {
        let found = state.started_releases("p", &apps).await.unwrap();
        // In no promised order.
        let mut found: Vec<String> = found
            .iter()
            .map(|s| format!("{} {} {}", s.app, s.slug_id, s.description))
            .collect();
        found.sort();
        seen.push(found.join(", "));
    };
    state
        .record_started_releases(
            "p",
            &[
                started("web-eu", "s-1", "Promote web v1"),
                started("web-us", "s-1", "Promote web v1"),
                started("web-ap", "s-1", "Rollback to v1"),
            ],
        )
        .await
        .unwrap();
    // Recorded twice (a promotion sent again): still once.
    state
        .record_started_releases("p", &[started("web-eu", "s-1", "Promote web v1")])
        .await
        .unwrap();
    look(state).await;
    look(other).await;
    state
        .record_release("p", "web-eu", "r-eu", 2, None)
        .await
        .unwrap();
    look(state).await;
    let back = RecordedRollback {
        version: 1,
        created_at: "2026-11-25T10:00:00Z".into(),
    };
    state
        .record_rollback("p", "web-ap", "r-ap", 3, None, &back)
        .await
        .unwrap();
    look(state).await;
    state.forget_app("p", "web-us").await.unwrap();
    look(state).await;
    seen
}

#[test]
fn started_releases_live_until_a_release_of_their_app_is_recorded_on_both_backends() {
    let cluster = PgCluster::shared();
    let database = cluster.database();
    let url = DatabaseUrl::parse(&cluster.url(&database, "sslmode=disable")).unwrap();
    let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    block_on(async {
        let local = SqliteState::open(dir.path()).unwrap();
        let local_other = SqliteState::open(elsewhere.path()).unwrap();
        let shared = PostgresState::open(&url, "shop").await.unwrap();
        let shared_other = PostgresState::open(&url, "another-manifest").await.unwrap();
        let expected = [
            "web-ap s-1 Rollback to v1, web-eu s-1 Promote web v1, web-us s-1 Promote web v1",
            "",
            "web-ap s-1 Rollback to v1, web-us s-1 Promote web v1",
            "web-us s-1 Promote web v1",
            "",
        ];
        for (state, other) in [
            (&local as &dyn State, &local_other as &dyn State),
            (&shared, &shared_other),
        ] {
            let seen = started_life(state, other).await;
            assert_eq!(seen, expected, "{:?}", state.location());
        }
    });
}
