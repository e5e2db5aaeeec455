//! Integration tests: the embedded local platform, driven through the `Platform` trait on a real
//! SQLite file and blob directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use slugplan::platform::local::{self, LocalOptions, LocalPlatform};
use slugplan::platform::{
    Generation, NewSlug, NoProgress, Platform, PlatformError, ReleaseStatus, TargetStatus,
    UploadProgress,
};

use crate::common::snapshot::{STANDARD_FILTERS, apply_filters};

/// A fresh data directory and the platform on it.
fn platform() -> (tempfile::TempDir, LocalPlatform) {
    let temp = tempfile::tempdir().expect("temp dir");
    let platform = LocalPlatform::open(&temp.path().join("platform")).expect("open platform");
    (temp, platform)
}

/// A fresh data directory and the platform on it, with releases delayed by `delay_ms` and
/// every `fail_every`th release failing.
fn platform_with(delay_ms: u64, fail_every: Option<u64>) -> (tempfile::TempDir, LocalPlatform) {
    let temp = tempfile::tempdir().expect("temp dir");
    let options = LocalOptions {
        release_delay: std::time::Duration::from_millis(delay_ms),
        fail_release_every: fail_every,
    };
    let platform = LocalPlatform::open_with(&temp.path().join("platform"), options).unwrap();
    (temp, platform)
}

/// Couples each `(app, stage)` to `pipeline`.
async fn couple(platform: &LocalPlatform, pipeline: &str, apps: &[(&str, &str)]) {
    for (app, stage) in apps {
        platform
            .create_coupling(app, pipeline, stage)
            .await
            .unwrap();
    }
}

/// Writes `bytes` as a slug archive and returns its path and `SHA256:<hex>` checksum.
fn archive(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, String) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write archive");
    (
        path,
        format!("SHA256:{}", hex::encode(Sha256::digest(bytes))),
    )
}

fn new_slug(checksum: &str, stack: &str) -> NewSlug {
    NewSlug {
        process_types: BTreeMap::from([("web".to_owned(), "./web".to_owned())]),
        checksum: checksum.to_owned(),
        stack: stack.to_owned(),
        commit: Some("0123abc".to_owned()),
        commit_description: None,
    }
}

/// Creates, uploads and returns the id of a slug holding `bytes`.
async fn uploaded_slug(
    platform: &LocalPlatform,
    dir: &Path,
    app: &str,
    bytes: &[u8],
    stack: &str,
) -> String {
    let (path, checksum) = archive(dir, &format!("{}.tgz", hex::encode(&bytes[..4])), bytes);
    let created = platform
        .create_slug(app, &new_slug(&checksum, stack))
        .await
        .expect("create slug");
    platform
        .upload_blob(&created.blob, &path, &NoProgress)
        .await
        .expect("upload");
    created.slug.id
}

/// `text` as a snapshot shows it: the data directory and generated ids replaced.
fn redact(temp: &tempfile::TempDir, text: &str) -> String {
    let text = text.replace(&temp.path().display().to_string(), "[TEMP]");
    apply_filters(&text, STANDARD_FILTERS)
}

fn message(err: &PlatformError) -> String {
    match err {
        PlatformError::InvalidParams { message, .. } => message.clone(),
        other => panic!("expected invalid params, got {other:?}"),
    }
}

#[derive(Default)]
struct CountingProgress(AtomicU64);

impl UploadProgress for CountingProgress {
    fn advance(&self, sent: u64) {
        self.0.fetch_add(sent, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn slug_flow_makes_numbered_releases_and_tracks_the_current_one() {
    let (temp, platform) = platform();
    let app = platform.create_app("demo", "heroku-24").await.unwrap();
    assert_eq!(app.generation, Generation::Cedar);
    assert_eq!(platform.current_release("demo").await.unwrap(), None);

    let (path, checksum) = archive(temp.path(), "one.tgz", b"first archive bytes");
    let created = platform
        .create_slug("demo", &new_slug(&checksum, "heroku-24"))
        .await
        .unwrap();
    assert_eq!(created.slug.size, None, "no size before the upload");
    let progress = CountingProgress::default();
    platform
        .upload_blob(&created.blob, &path, &progress)
        .await
        .unwrap();
    assert_eq!(progress.0.load(Ordering::SeqCst), 19);
    let slug = platform.slug("demo", &created.slug.id).await.unwrap();
    assert_eq!(slug.size, Some(19));
    assert_eq!(slug.checksum.as_deref(), Some(checksum.as_str()));
    let hex = checksum.strip_prefix("SHA256:").unwrap();
    let blob = platform.dir().join("blobs/sha256").join(hex);
    assert_eq!(std::fs::read(blob).unwrap(), b"first archive bytes");

    let v1 = platform
        .create_release("demo", &created.slug.id, "Deploy one")
        .await
        .unwrap();
    assert_eq!(
        (v1.version, v1.status, v1.current),
        (1, ReleaseStatus::Succeeded, true)
    );
    let second = uploaded_slug(
        &platform,
        temp.path(),
        "demo",
        b"second archive",
        "heroku-24",
    )
    .await;
    let v2 = platform
        .create_release(&app.id, &second, "Deploy two")
        .await
        .unwrap();
    assert_eq!(v2.version, 2);

    let current = platform.current_release("demo").await.unwrap().unwrap();
    assert_eq!(current.id, v2.id);
    assert!(current.is_running());
    let listed = platform.releases("demo", 10).await.unwrap();
    let versions: Vec<(u64, bool)> = listed.iter().map(|r| (r.version, r.current)).collect();
    assert_eq!(versions, [(2, true), (1, false)]);
    assert_eq!(platform.releases("demo", 1).await.unwrap().len(), 1);
    assert_eq!(platform.release("demo", "1").await.unwrap().id, v1.id);
    assert_eq!(platform.release("demo", &v2.id).await.unwrap().version, 2);
}

#[tokio::test]
async fn rollback_releases_an_older_slug_as_a_new_version() {
    let (temp, platform) = platform();
    platform.create_app("demo", "heroku-24").await.unwrap();
    let one = uploaded_slug(&platform, temp.path(), "demo", b"version one", "heroku-24").await;
    let two = uploaded_slug(&platform, temp.path(), "demo", b"version two", "heroku-24").await;
    let v1 = platform.create_release("demo", &one, "one").await.unwrap();
    platform.create_release("demo", &two, "two").await.unwrap();

    let v3 = platform.rollback("demo", &v1.id).await.unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(v3.slug_id.as_deref(), Some(one.as_str()));
    assert_eq!(v3.description, "Rollback to v1");
    let current = platform.current_release("demo").await.unwrap().unwrap();
    assert_eq!(current.id, v3.id);
}

#[tokio::test]
async fn promotion_releases_each_target_and_reports_the_one_that_fails() {
    let (temp, platform) = platform();
    let staging = platform.create_app("staging", "heroku-24").await.unwrap();
    let eu = platform.create_app("prod-eu", "heroku-24").await.unwrap();
    let old = platform.create_app("prod-old", "heroku-22").await.unwrap();
    let fir = platform
        .create_app_with_generation("prod-fir", "heroku-24", Generation::Fir)
        .await
        .unwrap();
    let us = platform.create_app("prod-us", "heroku-24").await.unwrap();
    let slug = uploaded_slug(
        &platform,
        temp.path(),
        "staging",
        b"staged bytes",
        "heroku-24",
    )
    .await;
    let source = platform
        .create_release("staging", &slug, "Deploy")
        .await
        .unwrap();

    let pipeline = platform.create_pipeline("shop").await.unwrap();
    assert_eq!(platform.pipeline("shop").await.unwrap(), pipeline);
    assert_eq!(platform.coupling("staging").await.unwrap(), None);
    let coupling = platform
        .create_coupling("staging", &pipeline.id, "staging")
        .await
        .unwrap();
    assert_eq!(
        platform.coupling(&staging.id).await.unwrap(),
        Some(coupling)
    );
    let again = platform
        .create_coupling("staging", &pipeline.id, "production")
        .await;
    assert!(
        matches!(again, Err(PlatformError::Conflict { .. })),
        "{again:?}"
    );

    let targets = [&eu.id, &old.id, &fir.id, &us.id].map(|id| id.to_string());
    let stray = platform
        .create_promotion(&pipeline.id, &staging.id, &source.id, &targets)
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&stray)), @"app prod-eu is not coupled to pipeline shop");
    for target in &targets {
        platform
            .create_coupling(target, &pipeline.id, "production")
            .await
            .unwrap();
    }
    let promotion = platform
        .create_promotion(&pipeline.id, &staging.id, &source.id, &targets)
        .await
        .unwrap();
    assert_eq!(promotion.source_release_id, source.id);
    let results = platform.promotion_targets(&promotion.id).await.unwrap();
    let by_app: BTreeMap<&str, _> = results.iter().map(|t| (t.app_id.as_str(), t)).collect();
    for app in [&eu, &us] {
        let target = by_app[app.id.as_str()];
        assert_eq!(target.status, TargetStatus::Succeeded);
        let release_id = target.release_id.as_deref().expect("a release");
        let release = platform.release(&app.name, release_id).await.unwrap();
        assert_eq!(release.slug_id.as_deref(), Some(slug.as_str()));
        assert_eq!(release.description, "Promote staging v1");
    }
    let failed = by_app[old.id.as_str()];
    assert_eq!(failed.status, TargetStatus::Failed);
    let why = failed.error_message.as_deref().unwrap();
    insta::assert_snapshot!(redact(&temp, why), @"slug not compatible with stack: slug [UUID] was built for heroku-24, app prod-old runs heroku-22");
    let fir_target = by_app[fir.id.as_str()];
    assert_eq!(fir_target.status, TargetStatus::Failed);
    let why = fir_target.error_message.as_deref().unwrap();
    insta::assert_snapshot!(redact(&temp, why), @"app prod-fir is a Fir-generation app: it runs OCI images, not slugs");
    assert_eq!(platform.current_release("prod-old").await.unwrap(), None);
}

#[tokio::test]
async fn upload_whose_bytes_miss_the_declared_checksum_is_refused_and_not_releasable() {
    let (temp, platform) = platform();
    platform.create_app("demo", "heroku-24").await.unwrap();
    let (_, declared) = archive(temp.path(), "good.tgz", b"what was built");
    let (tampered, _) = archive(temp.path(), "bad.tgz", b"what was uploaded");
    let created = platform
        .create_slug("demo", &new_slug(&declared, "heroku-24"))
        .await
        .unwrap();
    let err = platform
        .upload_blob(&created.blob, &tampered, &NoProgress)
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&err)), @"the archive uploaded for slug [UUID] hashes to SHA256:70bb8106dba5a7bafe69f2c4f02e875e016e3722eef259cc254c457f1cd9d84e, not its declared checksum SHA256:677d60eb4358e77ac812368f7e5b85c9cfda20a4c0e28da88e90627f64648db2");
    let err = platform
        .create_release("demo", &created.slug.id, "Deploy")
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&err)), @"slug [UUID] has no archive: upload it to the slug's blob URL before releasing");
    assert!(platform.releases("demo", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn release_of_a_slug_whose_archive_vanished_is_refused() {
    let (temp, platform) = platform();
    platform.create_app("demo", "heroku-24").await.unwrap();
    let (path, checksum) = archive(temp.path(), "a.tgz", b"soon gone");
    let created = platform
        .create_slug("demo", &new_slug(&checksum, "heroku-24"))
        .await
        .unwrap();
    platform
        .upload_blob(&created.blob, &path, &NoProgress)
        .await
        .unwrap();
    let blob = platform
        .dir()
        .join("blobs/sha256")
        .join(checksum.strip_prefix("SHA256:").unwrap());
    std::fs::remove_file(&blob).unwrap();
    let err = platform
        .create_release("demo", &created.slug.id, "Deploy")
        .await
        .unwrap_err();
    // The message names the missing file (the blob's name is the fixed bytes' digest).
    insta::assert_snapshot!(redact(&temp, &message(&err)), @"slug [UUID]'s archive is missing from [TEMP]/platform/blobs/sha256/983c1a74df9ad6ac82b4306bcc978efa0496ae3b078c960516167e1c9e219542");
    assert!(platform.releases("demo", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn slug_for_another_stack_or_a_fir_app_is_refused() {
    let (temp, platform) = platform();
    platform.create_app("demo", "heroku-24").await.unwrap();
    platform
        .create_app_with_generation("firapp", "heroku-24", Generation::Fir)
        .await
        .unwrap();
    let old = uploaded_slug(&platform, temp.path(), "demo", b"built for 22", "heroku-22").await;
    let err = platform
        .create_release("demo", &old, "Deploy")
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&err)), @"slug not compatible with stack: slug [UUID] was built for heroku-22, app demo runs heroku-24");

    let new = uploaded_slug(&platform, temp.path(), "demo", b"built for 24", "heroku-24").await;
    let err = platform
        .create_release("firapp", &new, "Deploy")
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&err)), @"app firapp is a Fir-generation app: it runs OCI images, not slugs");
}

#[tokio::test]
async fn unknown_names_and_bad_input_are_typed_errors() {
    let (_temp, platform) = platform();
    let err = platform.app("nope").await.unwrap_err();
    assert!(matches!(err, PlatformError::NotFound { .. }), "{err:?}");
    platform.create_app("demo", "heroku-24").await.unwrap();
    let err = platform.create_app("demo", "heroku-24").await.unwrap_err();
    assert!(matches!(err, PlatformError::Conflict { .. }), "{err:?}");
    let err = platform
        .create_app("Bad_Name", "heroku-24")
        .await
        .unwrap_err();
    insta::assert_snapshot!(message(&err), @r#"app name "Bad_Name" must match ^[a-z][a-z0-9-]{1,28}[a-z0-9]$"#);
    let err = platform
        .create_slug("demo", &new_slug("SHA256:abc", "heroku-24"))
        .await
        .unwrap_err();
    insta::assert_snapshot!(message(&err), @r#"checksum "SHA256:abc" must be SHA256: followed by 64 lowercase hex digits"#);
    let err = platform.release("demo", "7").await.unwrap_err();
    assert!(matches!(err, PlatformError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn pending_releases_succeed_after_the_delay_and_only_then_become_current() {
    let (temp, platform) = platform_with(50, None);
    platform.create_app("demo", "heroku-24").await.unwrap();
    let slug = uploaded_slug(&platform, temp.path(), "demo", b"slow release", "heroku-24").await;
    let release = platform
        .create_release("demo", &slug, "Deploy")
        .await
        .unwrap();
    assert_eq!(
        (release.status, release.current),
        (ReleaseStatus::Pending, false)
    );
    let mut polled = release;
    while polled.status == ReleaseStatus::Pending {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        polled = platform.release("demo", &polled.id).await.unwrap();
    }
    assert_eq!(
        (polled.status, polled.current),
        (ReleaseStatus::Succeeded, true)
    );
    assert_eq!(
        platform
            .current_release("demo")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(polled.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_on_one_directory_never_share_a_version() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("platform");
    let first = LocalPlatform::open(&dir).unwrap();
    let second = LocalPlatform::open(&dir).unwrap();
    first.create_app("demo", "heroku-24").await.unwrap();
    let slug = uploaded_slug(&first, temp.path(), "demo", b"shared slug", "heroku-24").await;
    let mut tasks = Vec::new();
    for platform in [first.clone(), second.clone()] {
        for _ in 0..10 {
            let (platform, slug) = (platform.clone(), slug.clone());
            tasks.push(tokio::spawn(async move {
                platform.create_release("demo", &slug, "concurrent").await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().expect("release under contention");
    }
    let releases = second.releases("demo", 100).await.unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, (1..=20).rev().collect::<Vec<_>>());
    assert_eq!(releases.iter().filter(|r| r.current).count(), 1);
    assert!(releases[0].current);
}

#[tokio::test]
async fn migrating_twice_keeps_data_and_the_schema_version() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("platform");
    LocalPlatform::open(&dir)
        .unwrap()
        .create_app("demo", "heroku-24")
        .await
        .unwrap();
    let reopened = LocalPlatform::open(&dir).unwrap();
    assert_eq!(reopened.app("demo").await.unwrap().name, "demo");
    let conn = rusqlite::Connection::open(dir.join("platform.db")).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, LocalPlatform::schema_version());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");

    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let before = std::fs::read(dir.join("platform.db")).unwrap();
    let err = LocalPlatform::open(&dir).unwrap_err();
    assert!(
        err.to_string().contains("newer than this slugplan knows"),
        "{err}"
    );
    // Refused untouched: a newer slugplan still finds its own schema (never written back down).
    assert_eq!(
        std::fs::read(dir.join("platform.db")).unwrap(),
        before,
        "the refused database is byte for byte as it was"
    );
    let version: usize = rusqlite::Connection::open(dir.join("platform.db"))
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 999);
}

#[test]
fn data_dir_follows_the_manifest() {
    let temp = tempfile::tempdir().unwrap();
    let manifest = temp.path().join("slug.toml");
    assert_eq!(
        local::data_dir_for_manifest(&manifest).unwrap(),
        temp.path().join(".slugplan/platform")
    );
    std::fs::write(&manifest, "[platform]\ndata_dir = \"state/here\"\n").unwrap();
    assert_eq!(
        local::data_dir_for_manifest(&manifest).unwrap(),
        temp.path().join("state/here")
    );
}

#[tokio::test]
async fn injected_release_failures_never_become_current() {
    let (temp, platform) = platform_with(0, Some(2));
    platform.create_app("staging", "heroku-24").await.unwrap();
    platform.create_app("prod", "heroku-24").await.unwrap();
    let slug = uploaded_slug(&platform, temp.path(), "staging", b"flaky", "heroku-24").await;
    let v1 = platform
        .create_release("staging", &slug, "one")
        .await
        .unwrap();
    let v2 = platform
        .create_release("staging", &slug, "two")
        .await
        .unwrap();
    assert_eq!(v1.status, ReleaseStatus::Succeeded);
    assert_eq!((v2.status, v2.current), (ReleaseStatus::Failed, false));
    let current = platform.current_release("staging").await.unwrap().unwrap();
    assert_eq!(current.id, v1.id);

    // The third release attempt succeeds, the fourth (the promotion's target) fails.
    platform
        .create_release("staging", &slug, "three")
        .await
        .unwrap();
    let pipeline = platform.create_pipeline("flaky").await.unwrap();
    let staging = platform.app("staging").await.unwrap();
    let prod = platform.app("prod").await.unwrap();
    couple(
        &platform,
        &pipeline.id,
        &[("staging", "staging"), ("prod", "production")],
    )
    .await;
    let failed_source = platform
        .create_promotion(
            &pipeline.id,
            &staging.id,
            &v2.id,
            std::slice::from_ref(&prod.id),
        )
        .await
        .unwrap_err();
    insta::assert_snapshot!(redact(&temp, &message(&failed_source)), @"release v2 of staging has status failed: only a succeeded release can be promoted");
    let promotion = platform
        .create_promotion(
            &pipeline.id,
            &staging.id,
            &v1.id,
            std::slice::from_ref(&prod.id),
        )
        .await
        .unwrap();
    let targets = platform.promotion_targets(&promotion.id).await.unwrap();
    assert_eq!(targets[0].status, TargetStatus::Failed);
    assert!(targets[0].error_message.is_some());
    assert_eq!(platform.current_release("prod").await.unwrap(), None);
}

#[tokio::test]
async fn a_source_release_settled_by_time_alone_can_be_promoted() {
    let (temp, platform) = platform_with(20, None);
    let staging = platform.create_app("staging", "heroku-24").await.unwrap();
    let prod = platform.create_app("prod", "heroku-24").await.unwrap();
    let slug = uploaded_slug(&platform, temp.path(), "staging", b"delayed", "heroku-24").await;
    let source = platform
        .create_release("staging", &slug, "Deploy")
        .await
        .unwrap();
    assert_eq!(source.status, ReleaseStatus::Pending);
    let pipeline = platform.create_pipeline("delayed").await.unwrap();
    couple(
        &platform,
        &pipeline.id,
        &[("staging", "staging"), ("prod", "production")],
    )
    .await;
    // Nobody reads the source release again: promoting it must still see it succeed.
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let promotion = platform
        .create_promotion(
            &pipeline.id,
            &staging.id,
            &source.id,
            std::slice::from_ref(&prod.id),
        )
        .await
        .unwrap();
    let mut targets = platform.promotion_targets(&promotion.id).await.unwrap();
    while targets[0].status == TargetStatus::Pending {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        targets = platform.promotion_targets(&promotion.id).await.unwrap();
    }
    assert_eq!(targets[0].status, TargetStatus::Succeeded);
}

#[tokio::test]
async fn a_database_from_before_app_updates_is_migrated_with_its_apps() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("platform");
    LocalPlatform::open(&dir)
        .unwrap()
        .create_app("veteran", "heroku-22")
        .await
        .unwrap();
    // What slugplan's first schema left: no maintenance flag, no build stack (nor the later
    // migrations' per-release config and formation, dynos and their requests, and web ports).
    let conn = rusqlite::Connection::open(dir.join("platform.db")).unwrap();
    conn.execute_batch(
        "ALTER TABLE apps DROP COLUMN maintenance; ALTER TABLE apps DROP COLUMN build_stack; \
         ALTER TABLE releases DROP COLUMN config; DROP TABLE formation; \
         DROP TABLE dynos; DROP TABLE dyno_requests; \
         DROP INDEX apps_web_port; ALTER TABLE apps DROP COLUMN web_port; \
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let platform = LocalPlatform::open(&dir).unwrap();
    let app = platform
        .blocking(|s| s.app("veteran"))
        .await
        .expect("the old app, migrated");
    assert_eq!(
        (
            app.stack.as_str(),
            app.build_stack.as_str(),
            app.maintenance
        ),
        ("heroku-22", "heroku-22", false)
    );
    // It was given a web port when the store opened.
    assert!(local::WEB_PORTS.contains(&app.web_port), "{}", app.web_port);
    let changes = local::AppChanges {
        maintenance: Some(true),
        ..Default::default()
    };
    let app = platform
        .blocking(move |s| s.update_app("veteran", &changes))
        .await
        .unwrap();
    assert!(app.maintenance);
}
