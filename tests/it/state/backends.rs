//! The two backends behind one trait answer alike: a state copied from SQLite into PostgreSQL
//! reads back row for row, every question gets the same answer from both, and a second
//! workspace in the same database sees none of it.

use std::collections::{BTreeMap, BTreeSet};

use slugplan::state::postgres::PostgresState;
use slugplan::state::sqlite::SqliteState;
use slugplan::state::{
    DatabaseUrl, MadeReleases, RecordedRollback, RecordedUpload, SlugIdentity, State,
};

use crate::common::postgres::PgCluster;
use crate::common::server::block_on;

/// Records one of everything in `state`.
async fn fill(state: &dyn State) {
    let web = BTreeMap::from([("web".to_owned(), "node web.js".to_owned())]);
    let slug = SlugIdentity {
        checksum: "SHA256:aa",
        stack: "heroku-24",
        process_types: &web,
    };
    let upload = RecordedUpload {
        slug_id: "s-1".into(),
        app: "web-prod".into(),
    };
    state.record_upload("p", slug, &upload).await.unwrap();
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

/// What `state` answers about what [`fill`] recorded.
async fn answers(state: &dyn State) -> String {
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
    format!("{made:?}\n{promotions:?}\n{deployed:?}\n{managed:?}\n{with_config:?}\n{value_key}")
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
        assert_eq!(answers(&shared).await, answers(&local).await);
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
            state.forget_app("p", "web-prod").await.unwrap();
        }
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
