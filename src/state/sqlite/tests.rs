use super::*;
use crate::sqlite::SqliteError;

fn web() -> BTreeMap<String, String> {
    BTreeMap::from([("web".to_owned(), "./server".to_owned())])
}

fn slug<'a>(stack: &'a str, process_types: &'a BTreeMap<String, String>) -> SlugIdentity<'a> {
    SlugIdentity {
        checksum: "SHA256:aa",
        stack,
        process_types,
    }
}

#[tokio::test]
async fn migrating_twice_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    let upload = RecordedUpload {
        slug_id: "s-1".into(),
        app: "web-staging".into(),
    };
    let web = web();
    state
        .record_upload("local", slug("heroku-24", &web), &upload)
        .await
        .unwrap();
    drop(state);
    let state = SqliteState::open(dir.path()).unwrap();
    let version: usize = state
        .db
        .conn()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len());
    let none = BTreeMap::new();
    let found = state
        .find_uploads(
            "local",
            &[
                slug("heroku-24", &web),
                slug("heroku-22", &web),
                slug("heroku-24", &none),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        [Some(upload), None, None],
        "another stack or other process types are another slug"
    );
}

#[tokio::test]
async fn a_state_written_by_a_newer_slugplan_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    let apply = state
        .begin_apply("slugplan apply", "local", "m1")
        .await
        .unwrap();
    drop(state);
    let path = dir.path().join("state.db");
    let newer = MIGRATIONS.len() + 1;
    // What a newer slugplan leaves: one more migration applied (closing checkpoints the WAL
    // into the file, so the bytes below are the whole database).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE from_the_future (x TEXT);")
        .unwrap();
    conn.pragma_update(None, "user_version", newer).unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();

    let err = SqliteState::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, StateError::Open(open) if matches!(**open, SqliteError::Newer { found, .. } if found == newer)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("newer than this slugplan knows"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, newer, "the version is not written back down");
    let kept: i64 = conn
        .query_row("SELECT id FROM applies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, apply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_state_is_shared_by_reference_across_tasks() {
    fn shareable<T: Send + Sync + ?Sized>() {}
    shareable::<dyn State>();
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    let apply = state
        .begin_apply("slugplan apply", "local", "m")
        .await
        .unwrap();
    let state: &dyn State = &state;
    futures_util::future::join_all((0..8).map(|n| async move {
        state
            .record_event(apply, &format!("release.a{n}"), "release", "done", "")
            .await
            .unwrap();
    }))
    .await;
    let history = state.history(1).await.unwrap();
    let mut seen: Vec<&str> = history[0]
        .events
        .iter()
        .map(|e| e.address.as_str())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen.len(), 8, "{seen:?}");
}

#[tokio::test]
async fn a_rollback_remembers_what_it_went_back_to_and_forgetting_an_app_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    state
        .record_release("local", "web-prod", "r1", 1, Some("SHA256:aa"))
        .await
        .unwrap();
    let restored = RecordedRollback {
        version: 1,
        created_at: "2026-11-25T10:00:00Z".into(),
    };
    state
        .record_rollback("local", "web-prod", "r3", 3, Some("SHA256:aa"), &restored)
        .await
        .unwrap();
    state
        .record_release("other", "web-elsewhere", "x1", 1, None)
        .await
        .unwrap();
    let made = state
        .made_releases("local", &["r1", "r3", "x1"])
        .await
        .unwrap();
    assert_eq!(
        made,
        MadeReleases::from([("r1".into(), None), ("r3".into(), Some(restored.clone()))]),
        "slugplan's own, the rollback with what it went back to"
    );
    assert_eq!(state.rollback("local", "r3").await.unwrap(), Some(restored));
    assert_eq!(
        state.deployed_apps("local").await.unwrap(),
        BTreeSet::from(["web-prod".to_owned()])
    );
    let upload = RecordedUpload {
        slug_id: "s-1".into(),
        app: "web-prod".into(),
    };
    let web = web();
    state
        .record_upload("local", slug("heroku-24", &web), &upload)
        .await
        .unwrap();

    state.forget_app("local", "web-prod").await.unwrap();
    assert!(state.deployed_apps("local").await.unwrap().is_empty());
    assert!(
        state
            .made_releases("local", &["r3"])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        state
            .find_upload("local", slug("heroku-24", &web))
            .await
            .unwrap(),
        None,
        "its slug ids may have gone with it"
    );
    assert_eq!(state.deployed_apps("other").await.unwrap().len(), 1);
}

#[tokio::test]
async fn history_lists_applies_newest_first_with_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    let first = state
        .begin_apply("slugplan apply", "local", "m1")
        .await
        .unwrap();
    state
        .record_event(first, "release.a", "release", "done", "v1")
        .await
        .unwrap();
    state.finish_apply(first, "succeeded").await.unwrap();
    let second = state
        .begin_apply("slugplan apply", "local", "m2")
        .await
        .unwrap();
    state
        .record_event(second, "upload.web→a", "upload", "done", "slug s1")
        .await
        .unwrap();
    state
        .record_event(second, "release.a", "release", "failed", "boom")
        .await
        .unwrap();
    let history = state.history(10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, second);
    assert_eq!(
        history[0].outcome, None,
        "an unfinished apply has no outcome"
    );
    assert_eq!(history[0].events.len(), 2);
    assert_eq!(history[0].events[1].outcome, "failed");
    assert_eq!(history[1].outcome.as_deref(), Some("succeeded"));
}

/// A state with one of everything, for the copy tests.
pub(crate) async fn filled(state: &dyn State) {
    let web = web();
    let upload = RecordedUpload {
        slug_id: "s-1".into(),
        app: "web-staging".into(),
    };
    state
        .record_upload("local", slug("heroku-24", &web), &upload)
        .await
        .unwrap();
    state
        .record_release("local", "web-staging", "r-1", 3, Some("SHA256:aa"))
        .await
        .unwrap();
    let back = RecordedRollback {
        version: 3,
        created_at: "2026-11-25T10:00:00Z".into(),
    };
    state
        .record_rollback("local", "web-staging", "r-2", 4, Some("SHA256:aa"), &back)
        .await
        .unwrap();
    state
        .record_promotion("local", "promo-1", "r-1", &["app-1".to_owned()])
        .await
        .unwrap();
    let key = SlugKey {
        key: "k1".into(),
        parts: BTreeMap::from([("app/web.js".into(), "abc".into())]),
    };
    state.record_slug_key("web", &key).await.unwrap();
    let value_key = state.value_key().await.unwrap();
    let keys = BTreeMap::from([("TOKEN".to_owned(), true)]);
    state
        .manage_config("local", "web-staging", &keys)
        .await
        .unwrap();
    let set = BTreeMap::from([(
        "TOKEN".to_owned(),
        value_key.digest("web-staging", "TOKEN", "hunter2"),
    )]);
    state
        .record_config("local", "web-staging", &set, &BTreeSet::new())
        .await
        .unwrap();
    let apply = state
        .begin_apply("slugplan apply", "local", "m")
        .await
        .unwrap();
    for step in ["upload.web→web-staging", "release.web-staging"] {
        state
            .record_event(apply, step, "release", "done", "")
            .await
            .unwrap();
    }
    state.finish_apply(apply, "succeeded").await.unwrap();
    state
        .begin_apply("slugplan apply", "local", "m")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_copy_is_refused_onto_state_unless_replacing_and_keeps_the_numbering() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (from, to) = (
        SqliteState::open(a.path()).unwrap(),
        SqliteState::open(b.path()).unwrap(),
    );
    filled(&from).await;
    let snapshot = from.export().await.unwrap();
    assert_eq!(snapshot.counts().applies, 2);
    to.import(&snapshot, false).await.unwrap();
    assert_eq!(to.export().await.unwrap(), snapshot);
    let err = to.import(&snapshot, false).await.unwrap_err();
    assert!(matches!(err, StateError::NotEmpty { .. }), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "already holds state (1 upload, 2 releases, 1 pipeline promotion, 1 config key, \
             1 slug key, 2 applies with 2 events)"
        ),
        "{err}"
    );
    to.import(&snapshot, true).await.unwrap();
    assert_eq!(
        to.export().await.unwrap(),
        snapshot,
        "replaced, not doubled"
    );
    let next = to
        .begin_apply("slugplan apply", "local", "m")
        .await
        .unwrap();
    assert_eq!(next, 3, "numbering goes on after the copy's applies");
}

#[tokio::test]
async fn managed_config_keys_are_recorded_confirmed_and_forgotten() {
    use crate::sensitive::Digest;
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteState::open(dir.path()).unwrap();
    let key = state.value_key().await.unwrap();
    assert_eq!(state.value_key().await.unwrap(), key, "made once");
    let keys = BTreeMap::from([("GREETING".to_owned(), false), ("TOKEN".to_owned(), true)]);
    state.manage_config("local", "shop", &keys).await.unwrap();
    let found = managed_on(&state).await;
    assert_eq!(found.len(), 2);
    assert!(found["TOKEN"].sensitive && found["TOKEN"].digest.is_none());
    let digest: Digest = key.digest("shop", "TOKEN", "hunter2");
    state
        .record_config(
            "local",
            "shop",
            &BTreeMap::from([("TOKEN".to_owned(), digest.clone())]),
            &BTreeSet::from(["GREETING".to_owned()]),
        )
        .await
        .unwrap();
    let found = managed_on(&state).await;
    assert_eq!(found["TOKEN"].digest, Some(digest));
    assert!(!found["TOKEN"].removed);
    assert!(found["GREETING"].removed, "unset, and remembered as such");
    assert!(state.managed_config("other", &["shop"]).await.unwrap()["shop"].is_empty());
    assert_eq!(
        state.apps_with_managed_config("local").await.unwrap(),
        BTreeSet::from(["shop".to_owned()])
    );
    // Set again: managed again.
    let greeting = BTreeMap::from([("GREETING".to_owned(), false)]);
    state
        .manage_config("local", "shop", &greeting)
        .await
        .unwrap();
    assert!(!managed_on(&state).await["GREETING"].removed);
    let both = BTreeSet::from(["GREETING".to_owned(), "TOKEN".to_owned()]);
    state
        .record_config("local", "shop", &BTreeMap::new(), &both)
        .await
        .unwrap();
    assert!(
        state
            .apps_with_managed_config("local")
            .await
            .unwrap()
            .is_empty(),
        "every key removed: nothing left to manage"
    );
    drop(state);
    let bytes = std::fs::read(dir.path().join("state.db")).unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"hunter2"),
        "only the keyed hash is stored"
    );
}

/// The config keys `state` manages on app `shop` of platform `local`.
async fn managed_on(state: &SqliteState) -> BTreeMap<String, crate::state::ManagedVar> {
    state
        .managed_config("local", &["shop"])
        .await
        .unwrap()
        .remove("shop")
        .unwrap()
}
